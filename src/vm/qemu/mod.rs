//! The QEMU backend: the command line from the spec (`argv`), and QMP over the VM's unix
//! socket (`qmp`) for readiness, status, powerdown, quit, pause and resume.

pub mod argv;
pub mod qmp;

use std::path::Path;
use std::time::Duration;

use super::error::{Result, VmError};
use super::store::VmRecord;
use super::Backend;
use crate::exec::Cmd;
use argv::{Accel, Launch};
use qmp::Qmp;

/// How long one QMP exchange may take (QEMU answers in microseconds; TCG load can delay it).
const QMP_TIMEOUT: Duration = Duration::from_secs(5);

/// The accelerator from `HERODO_QEMU_ACCEL` (`tcg`, `kvm`, or `auto`/unset: KVM when
/// /dev/kvm opens and the CPU has vmx/svm, else tcg).
pub fn accel_from_env(value: Option<&str>) -> Result<Accel> {
    match value.map(str::trim) {
        Some("tcg") => Ok(Accel::Tcg),
        Some("kvm") => Ok(Accel::Kvm),
        None | Some("") | Some("auto") => Ok(detect_accel()),
        Some(other) => Err(VmError::invalid(
            "HERODO_QEMU_ACCEL",
            format!("`{other}` is not one of tcg, kvm, auto"),
        )),
    }
}

/// KVM only where it can run ordinary guests: /dev/kvm opens read-write and the CPU flags show
/// hardware virtualisation. A PVM-backed /dev/kvm (no vmx/svm, as on the project's machines)
/// runs only PVM guest kernels, so it counts as unusable. Reading two files; nothing is run.
fn detect_accel() -> Accel {
    let dev = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok();
    let flags = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    if dev && cpu_has_virt(&flags) {
        Accel::Kvm
    } else {
        Accel::Tcg
    }
}

/// Whether /proc/cpuinfo's flags list vmx (Intel) or svm (AMD).
pub fn cpu_has_virt(cpuinfo: &str) -> bool {
    cpuinfo
        .lines()
        .filter(|l| l.starts_with("flags"))
        .any(|l| l.split_whitespace().any(|f| f == "vmx" || f == "svm"))
}

pub struct Qemu {
    pub accel: Accel,
}

impl Qemu {
    fn qmp(&self, rec: &VmRecord) -> Result<Qmp> {
        Qmp::connect(Path::new(&rec.api_socket), QMP_TIMEOUT)
    }
}

impl Backend for Qemu {
    fn accel(&self) -> &'static str {
        self.accel.name()
    }

    fn program(&self) -> &'static str {
        argv::QEMU_BINARY
    }

    fn command(&self, rec: &VmRecord, share_sockets: &[String]) -> Cmd {
        let argv = argv::qemu_argv(&Launch {
            spec: &rec.spec,
            accel: self.accel,
            console: Path::new(&rec.console_log),
            socket: Path::new(&rec.api_socket),
            share_sockets,
        });
        Cmd::from_argv(&argv).unwrap_or_else(|| Cmd::new(argv::QEMU_BINARY))
    }

    fn ready(&self, rec: &VmRecord) -> bool {
        self.qmp(rec).is_ok()
    }

    fn status(&self, rec: &VmRecord) -> Result<&'static str> {
        let v = self.qmp(rec)?.execute("query-status")?;
        qmp::status_of(&v).map_err(|e| VmError::parse("query-status", e))
    }

    fn powerdown(&self, rec: &VmRecord) -> Result<()> {
        let mut q = self.qmp(rec)?;
        if qmp::status_of(&q.execute("query-status")?) == Ok("paused") {
            // A paused guest cannot see the power button.
            q.execute("cont")?;
        }
        q.execute("system_powerdown").map(|_| ())
    }

    fn quit(&self, rec: &VmRecord) -> Result<()> {
        self.qmp(rec)?.quit()
    }

    fn pause(&self, rec: &VmRecord) -> Result<()> {
        self.qmp(rec)?.execute("stop").map(|_| ())
    }

    fn resume(&self, rec: &VmRecord) -> Result<()> {
        self.qmp(rec)?.execute("cont").map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accel_setting() {
        assert_eq!(accel_from_env(Some("tcg")).unwrap(), Accel::Tcg);
        assert_eq!(accel_from_env(Some("kvm")).unwrap(), Accel::Kvm);
        assert!(matches!(
            accel_from_env(Some("hvf")),
            Err(VmError::InvalidArgument { field, .. }) if field == "HERODO_QEMU_ACCEL"
        ));
        assert!(cpu_has_virt("processor : 0\nflags\t\t: fpu vme vmx sse\n"));
        assert!(cpu_has_virt("flags : fpu svm\n"));
        assert!(!cpu_has_virt(
            "flags\t\t: fpu vme sse hypervisor\nvmx flags : ept\n"
        ));
    }
}
