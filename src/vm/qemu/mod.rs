//! The QEMU backend: the command line from the spec (`argv`), and QMP over the VM's unix
//! socket (`qmp`) for readiness, status, powerdown, quit, pause and resume.

pub mod argv;
pub mod qmp;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::error::{Result, VmError};
use super::store::VmRecord;
use super::Backend;
use crate::exec::Cmd;
use crate::host::Host;
use argv::{Accel, Launch};
use qmp::Qmp;

/// How long one QMP exchange may take (QEMU answers in microseconds; TCG load can delay it).
const QMP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long saving or loading a VM's memory may take.
const MIGRATE_TIMEOUT: Duration = Duration::from_secs(600);
/// The memory image in a snapshot directory.
pub const MEMORY_FILE: &str = "memory";

/// A migration's state from `query-migrate`: `Ok(true)` completed, `Ok(false)` still going,
/// `Err` failed (with QEMU's reason).
pub fn migration_done(ret: &Value) -> std::result::Result<bool, String> {
    match ret.get("status").and_then(Value::as_str) {
        Some("completed") => Ok(true),
        Some("failed") | Some("cancelled") => Err(ret
            .get("error-desc")
            .and_then(Value::as_str)
            .unwrap_or("migration failed")
            .to_string()),
        _ => Ok(false),
    }
}

/// A migration URI for a file (the `file:` transport, QEMU 8.2 and later).
fn file_uri(p: &Path) -> String {
    format!("file:{}", p.display())
}

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

    fn program(&self) -> String {
        argv::QEMU_BINARY.to_string()
    }

    fn install_hint(&self) -> &'static str {
        "install qemu-system-x86 (scripts/setup.sh)"
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

    /// Pause, take an internal snapshot `disk_snapshot` of every writable qcow2 disk, write the
    /// memory and device state to `dir/memory`, and let a running guest go on.
    fn snapshot(&self, host: &Host, rec: &VmRecord, dir: &Path, disk_snapshot: &str) -> Result<()> {
        let mut q = self.qmp(rec)?;
        let was_running = qmp::status_of(&q.execute("query-status")?) == Ok("running");
        if was_running {
            q.execute("stop")?;
        }
        let res = (|| {
            for (i, d) in rec.spec.disks.iter().enumerate() {
                if d.readonly || d.format != "qcow2" {
                    continue;
                }
                let args = json!({"device": argv::drive_id(i), "name": disk_snapshot});
                q.execute_with("blockdev-snapshot-internal-sync", Some(&args))?;
            }
            let uri = file_uri(&dir.join(MEMORY_FILE));
            q.execute_with("migrate", Some(&json!({ "uri": uri })))?;
            await_migration(host, &mut q)
        })();
        if was_running {
            let cont = q.execute("cont");
            res?;
            return cont.map(|_| ());
        }
        res
    }

    fn revert_disks(&self, host: &Host, rec: &VmRecord, disk_snapshot: &str) -> Result<()> {
        for d in rec
            .spec
            .disks
            .iter()
            .filter(|d| !d.readonly && d.format == "qcow2")
        {
            super::qcow2::snapshot_apply(host, &d.path, disk_snapshot)?;
        }
        Ok(())
    }

    fn restore_command(&self, rec: &VmRecord, share_sockets: &[String]) -> Cmd {
        self.command(rec, share_sockets)
            .args(["-incoming", "defer"])
    }

    fn finish_restore(&self, host: &Host, rec: &VmRecord, dir: &Path) -> Result<()> {
        let mut q = self.qmp(rec)?;
        let uri = file_uri(&dir.join(MEMORY_FILE));
        q.execute_with("migrate-incoming", Some(&json!({ "uri": uri })))?;
        await_migration(host, &mut q)?;
        // The guest runs on its own once the state is in (autostart); make sure it does.
        if qmp::status_of(&q.execute("query-status")?) == Ok("paused") {
            q.execute("cont")?;
        }
        Ok(())
    }
}

fn await_migration(host: &Host, q: &mut Qmp) -> Result<()> {
    let deadline = Instant::now() + MIGRATE_TIMEOUT;
    loop {
        let v = q.execute("query-migrate")?;
        match migration_done(&v) {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(reason) => return Err(VmError::parse("the VM state (migration)", reason)),
        }
        if Instant::now() >= deadline {
            return Err(VmError::Host(crate::error::HostError::Timeout(format!(
                "saving or loading the VM state took longer than {}",
                crate::exec::fmt_duration(MIGRATE_TIMEOUT)
            ))));
        }
        host.sleep(Duration::from_millis(10))?;
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

    #[test]
    fn migration_states() {
        assert_eq!(migration_done(&json!({"status": "completed"})), Ok(true));
        assert_eq!(migration_done(&json!({"status": "active"})), Ok(false));
        assert_eq!(migration_done(&json!({})), Ok(false));
        assert_eq!(
            migration_done(&json!({"status": "failed", "error-desc": "disk full"})),
            Err("disk full".to_string())
        );
    }
}
