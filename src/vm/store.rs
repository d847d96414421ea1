//! Where VMs live, and the records that let a later herodo process see VMs created earlier.
//!
//! ```text
//! STATE/vms/<id>/vm.json       the record (spec, owner, the running process)
//! STATE/vms/<id>/console.log   the serial console (unless the spec names another file)
//! STATE/vms/<id>/qemu.log      QEMU's own stdout and stderr (cloud-hypervisor.log for CH)
//! STATE/vms/<id>/qemu.pid      QEMU's pid (QEMU writes it, and removes it on a clean exit)
//! STATE/vms/<id>/exit_code     QEMU's exit code, written by the monitor shell when it ends
//! STATE/vms/<id>/qmp.sock      the QMP socket (ch.sock: CH's API; unless the spec names one)
//! STATE/vms/.locks/<id>.lock   the per-VM lock (outlives a delete, so a waiter never races it)
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{Result, VmError};
use super::spec::{Hypervisor, VmSpec};
use crate::common::state;

/// Longest unix socket path the kernel takes (sun_path is 108 bytes with the NUL).
const MAX_SOCKET_PATH: usize = 107;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    root: PathBuf,
}

impl Paths {
    pub fn new(state_dir: &Path) -> Self {
        Paths {
            root: state_dir.join("vms"),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Only call with a validated id: it becomes a path component.
    pub fn vm_dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    pub fn record(&self, id: &str) -> PathBuf {
        self.vm_dir(id).join("vm.json")
    }

    pub fn lock(&self, id: &str) -> PathBuf {
        self.root.join(".locks").join(format!("{id}.lock"))
    }

    /// The hypervisor's own output.
    pub fn log_of(&self, spec: &VmSpec) -> PathBuf {
        let name = match spec.hypervisor {
            Hypervisor::Qemu => "qemu.log",
            Hypervisor::CloudHypervisor => "cloud-hypervisor.log",
        };
        self.vm_dir(&spec.id).join(name)
    }

    pub fn pid_file(&self, id: &str) -> PathBuf {
        self.vm_dir(id).join("qemu.pid")
    }

    pub fn exit_file(&self, id: &str) -> PathBuf {
        self.vm_dir(id).join("exit_code")
    }

    pub fn console(&self, spec: &VmSpec) -> PathBuf {
        match &spec.console_log {
            Some(p) => PathBuf::from(p),
            None => self.vm_dir(&spec.id).join("console.log"),
        }
    }

    /// The vhost-user socket of the `i`-th shared folder's virtiofsd.
    pub fn share_socket(&self, id: &str, i: usize) -> PathBuf {
        short_socket(self.vm_dir(id).join(format!("fs{i}.sock")))
    }

    pub fn share_log(&self, id: &str, i: usize) -> PathBuf {
        self.vm_dir(id).join(format!("virtiofsd-{i}.log"))
    }

    /// The QMP socket: the spec's, else `qmp.sock` in the VM's directory, else (a state
    /// directory too deep for a socket path) one in the temp directory named after it.
    pub fn socket(&self, spec: &VmSpec) -> PathBuf {
        if let Some(s) = &spec.api_socket {
            return PathBuf::from(s);
        }
        let name = match spec.hypervisor {
            Hypervisor::Qemu => "qmp.sock",
            Hypervisor::CloudHypervisor => "ch.sock",
        };
        short_socket(self.vm_dir(&spec.id).join(name))
    }
}

/// `p`, or (too long for a unix socket) a path in the temp directory named after it.
fn short_socket(p: PathBuf) -> PathBuf {
    if p.as_os_str().len() <= MAX_SOCKET_PATH {
        return p;
    }
    let h = fnv1a(p.as_os_str().as_encoded_bytes());
    std::env::temp_dir().join(format!("herodo-vm-{h:016x}.sock"))
}

/// FNV-1a: a short, stable tag for a path (not a security boundary).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

/// Everything herodo knows about a VM between runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VmRecord {
    pub spec: VmSpec,
    /// The herodo process that created it (see common::owner).
    pub owner: String,
    /// Unix seconds.
    pub created: i64,
    pub started: Option<i64>,
    /// QEMU's pid and its start time (clock ticks since boot: tells a reused pid apart).
    pub pid: Option<i64>,
    pub pid_start: Option<u64>,
    /// The process group of the monitor and QEMU (from exec::spawn_detached).
    pub group: Option<u32>,
    /// Set by vm_stop: the VM ended because it was asked to (also when it had to be killed).
    pub stop_requested: bool,
    /// The accelerator of the last start (`tcg` or `kvm`).
    pub accel: Option<String>,
    pub console_log: String,
    pub api_socket: String,
    pub log_file: String,
    /// The virtiofsd daemons of the last start, one per shared folder.
    #[serde(default)]
    pub share_daemons: Vec<super::virtiofs::Daemon>,
}

pub fn load(paths: &Paths, id: &str) -> Result<Option<VmRecord>> {
    Ok(state::read_json(&paths.record(id))?)
}

pub fn save(paths: &Paths, rec: &VmRecord) -> Result<()> {
    Ok(state::write_json(&paths.record(&rec.spec.id), rec)?)
}

/// Every VM record, sorted by id. Unreadable records are skipped (a half-deleted VM of a
/// killed herodo must not break `vm_list`).
pub fn list(paths: &Paths) -> Result<Vec<VmRecord>> {
    let rd = match std::fs::read_dir(paths.root()) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(VmError::io("read", paths.root(), e)),
    };
    let mut out: Vec<VmRecord> = rd
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| super::spec::id(n).is_ok())
        .filter_map(|n| load(paths, &n).ok().flatten())
        .collect();
    out.sort_by(|a, b| a.spec.id.cmp(&b.spec.id));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_socket_fallback() {
        let p = Paths::new(Path::new("/var/lib/herodo"));
        let spec = VmSpec::new("web").unwrap();
        assert_eq!(
            p.record("web"),
            Path::new("/var/lib/herodo/vms/web/vm.json")
        );
        assert_eq!(
            p.lock("web"),
            Path::new("/var/lib/herodo/vms/.locks/web.lock")
        );
        assert_eq!(
            p.socket(&spec),
            Path::new("/var/lib/herodo/vms/web/qmp.sock")
        );
        assert_eq!(
            p.console(&spec),
            Path::new("/var/lib/herodo/vms/web/console.log")
        );
        let deep = Paths::new(&Path::new("/").join("d".repeat(120)));
        let s = deep.socket(&spec);
        assert!(s.as_os_str().len() <= MAX_SOCKET_PATH, "{}", s.display());
        assert_eq!(s, deep.socket(&spec), "stable");
        let mut ch = spec.clone();
        ch.hypervisor = Hypervisor::CloudHypervisor;
        assert_eq!(p.socket(&ch), Path::new("/var/lib/herodo/vms/web/ch.sock"));
        assert_eq!(
            p.log_of(&ch),
            Path::new("/var/lib/herodo/vms/web/cloud-hypervisor.log")
        );
        assert_eq!(
            p.log_of(&spec),
            Path::new("/var/lib/herodo/vms/web/qemu.log")
        );
        let mut own = spec.clone();
        own.api_socket = Some("/run/x.sock".into());
        assert_eq!(deep.socket(&own), Path::new("/run/x.sock"));
    }
}
