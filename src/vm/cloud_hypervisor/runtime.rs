//! The original herodo's Cloud Hypervisor API: `init_runtime` starts one `cloud-hypervisor
//! --api-socket` process (a [`Runtime`]), which then holds at most one VM (`create_vm` with a
//! `VMBuilder` spec, [`config::ChVm`]), driven call by call over the API. Snapshots taken
//! through it are indexed in `STATE/cloudhv/snapshots/<vm_id>/<name>.json` so
//! `list_snapshots(vm_id)` finds them from any later run.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::super::error::{Result, VmError};
use super::api::Api;
use super::config::{ChVm, Device};
use crate::common::convert::int_in;
use crate::exec::Cmd;
use crate::host::Host;

/// How long `init_runtime` waits for `vmm.ping` to answer.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `shutdown` waits for the process to go after `vmm.shutdown`.
const EXIT_TIMEOUT: Duration = Duration::from_secs(5);

/// `RuntimeBuilder()`'s settings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {
    pub ch_path: Option<String>,
    pub api_socket: Option<String>,
    pub log_file: Option<String>,
    pub seccomp: bool,
    pub landlock: bool,
}

impl Settings {
    pub fn new() -> Settings {
        Settings {
            seccomp: true,
            ..Settings::default()
        }
    }
}

/// The command line of a runtime's process (pure).
pub fn argv(program: &str, socket: &str, s: &Settings) -> Vec<String> {
    let mut v = vec![
        program.to_string(),
        "--api-socket".to_string(),
        format!("path={socket}"),
    ];
    if !s.seccomp {
        v.extend(["--seccomp".to_string(), "false".to_string()]);
    }
    if s.landlock {
        v.push("--landlock".to_string());
    }
    v
}

/// A started Cloud Hypervisor process (also its record in `STATE/cloudhv/runtimes/`, which
/// lets `herodo clean` end the runtimes of a test session whose herodo was killed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Runtime {
    pub program: String,
    pub socket: PathBuf,
    pub log: PathBuf,
    /// The process group (from exec::spawn_detached); None under `--dry-run`.
    pub group: Option<u32>,
    /// The process's pid and start time, as `vmm.ping` told it (a dead process lingers as a
    /// zombie in its group until init reaps it, so the group is no sign of life).
    pub pid: Option<(i64, u64)>,
    /// Where serial files of its VMs go.
    pub dir: PathBuf,
    /// The herodo process that started it (common::owner).
    pub owner: String,
    /// Its record's file name.
    pub name: String,
}

/// A uuid (version 4) from the kernel's random source.
pub fn uuid() -> String {
    let mut b = [0u8; 16];
    let filled = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
        .is_ok();
    if !filled {
        // No /dev/urandom: time and pid are unique enough for an id.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        b = (t ^ (u128::from(std::process::id()) << 64)).to_le_bytes();
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn tail_of(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    super::super::log_excerpt(&String::from_utf8_lossy(&bytes), 1500)
}

fn group_alive(group: Option<u32>) -> bool {
    group.is_some_and(crate::exec::group_alive)
}

/// The state directory of runtimes: serial files, logs, the snapshot index.
pub fn base_dir(host: &Host) -> PathBuf {
    host.state_dir.join("cloudhv")
}

/// Start a runtime; `Ok(None)` when the binary is missing (`init_runtime` then returns
/// false) or under `--dry-run`.
pub fn start(host: &Host, s: &Settings) -> Result<Option<Runtime>> {
    let program = s.ch_path.clone().unwrap_or_else(super::program);
    let Some(found) = super::locate(&program) else {
        return Ok(None);
    };
    let dir = base_dir(host);
    static COUNT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let socket = match &s.api_socket {
        Some(p) => PathBuf::from(p),
        None => std::env::temp_dir().join(format!("herodo-ch-{}-{n}.sock", std::process::id())),
    };
    let log = match &s.log_file {
        Some(p) => PathBuf::from(p),
        None => dir.join(format!("runtime-{}-{n}.log", std::process::id())),
    };
    let shown = socket.display().to_string();
    if host.dry_run(|| {
        format!(
            "cloudhv: start {} --api-socket path={shown}",
            found.display()
        )
    }) {
        return Ok(None);
    }
    std::fs::create_dir_all(&dir).map_err(|e| VmError::io("create", &dir, e))?;
    // CH replaces a stale socket itself; removing it first means a socket that appears is
    // the new process's.
    let _ = std::fs::remove_file(&socket);
    let args = argv(&found.display().to_string(), &shown, s);
    let cmd = Cmd::from_argv(&args).unwrap_or_else(|| Cmd::new(found.display().to_string()));
    let group = host.spawn_detached(cmd, &log)?;
    let mut rt = Runtime {
        program: found.display().to_string(),
        socket,
        log,
        group,
        pid: None,
        dir,
        owner: crate::common::owner::owner_tag().to_string(),
        name: format!("{}-{n}", std::process::id()),
    };
    rt.save()?;
    let api = Api::with_timeout(&rt.socket, Duration::from_millis(500));
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(pong) = api.ping() {
            rt.pid = pong
                .get("pid")
                .and_then(serde_json::Value::as_i64)
                .and_then(|p| crate::common::procstat::read(p).map(|st| (p, st.start_time)));
            rt.save()?;
            return Ok(Some(rt));
        }
        if !group_alive(rt.group) {
            return Err(VmError::ChUnreachable {
                socket: shown,
                reason: format!(
                    "cloud-hypervisor exited before its API answered; its log: {}",
                    tail_of(&rt.log)
                ),
            });
        }
        if Instant::now() >= deadline {
            rt.kill(host);
            return Err(VmError::Host(crate::error::HostError::Timeout(format!(
                "cloud-hypervisor did not answer on {shown} within {}",
                crate::exec::fmt_duration(START_TIMEOUT)
            ))));
        }
        host.sleep(Duration::from_millis(5))?;
    }
}

fn runtimes_dir(base: &Path) -> PathBuf {
    base.join("runtimes")
}

/// End the runtimes whose herodo test session is gone (`herodo clean`, the next `herodo
/// test`); an ordinary script's runtimes are never reaped. Returns their sockets.
pub fn reap_orphans(host: &Host) -> Vec<String> {
    let dir = runtimes_dir(&base_dir(host));
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            crate::common::state::read_json::<Runtime>(&e.path())
                .ok()
                .flatten()
        })
        .filter(|rt| crate::common::owner::abandoned(&rt.owner))
        .map(|rt| {
            rt.shutdown(host);
            rt.socket.display().to_string()
        })
        .collect()
}

impl Runtime {
    fn record(&self) -> PathBuf {
        runtimes_dir(&self.dir).join(format!("{}.json", self.name))
    }

    fn save(&self) -> Result<()> {
        Ok(crate::common::state::write_json(&self.record(), self)?)
    }

    pub fn api(&self) -> Api {
        Api::new(&self.socket)
    }

    pub fn alive(&self) -> bool {
        match self.pid {
            Some((pid, start)) => crate::common::procstat::read(pid)
                .is_some_and(|st| st.state != 'Z' && st.start_time == start),
            None => group_alive(self.group),
        }
    }

    /// Whether the process is gone, giving one that is dying (its socket closed, its
    /// threads still ending) a moment.
    fn gone(&self) -> bool {
        let deadline = Instant::now() + Duration::from_millis(500);
        while self.alive() {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    /// The tail of the process's log (for errors after it died).
    pub fn log_tail(&self) -> String {
        tail_of(&self.log)
    }

    /// An API error, with the log tail when the process is gone (a crash).
    pub fn explain(&self, e: VmError) -> VmError {
        match e {
            VmError::ChUnreachable { socket, reason } if self.gone() => VmError::ChUnreachable {
                socket,
                reason: format!(
                    "{reason}; cloud-hypervisor has exited, its log: {}",
                    self.log_tail()
                ),
            },
            other => other,
        }
    }

    pub fn kill(&self, host: &Host) {
        if let Some(g) = self.group {
            crate::exec::kill_detached(g, &host.cancel);
        }
        let _ = std::fs::remove_file(&self.socket);
        let _ = std::fs::remove_file(self.record());
    }

    /// `vmm.shutdown`, then wait for the process to go (killing it if it does not).
    pub fn shutdown(&self, host: &Host) {
        if self.alive() {
            let _ = self.api().action("vmm.shutdown");
            let deadline = Instant::now() + EXIT_TIMEOUT;
            while self.alive() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        self.kill(host);
    }

    pub fn serial_file(&self, vm_id: &str) -> PathBuf {
        self.dir.join(format!("{vm_id}.serial.log"))
    }

    pub fn create_vm(&self, vm: &ChVm) -> Result<()> {
        let serial = self.serial_file(&vm.id).display().to_string();
        self.api()
            .create(&vm.config(&serial).to_json())
            .map_err(|e| self.explain(e))
    }

    /// The VM's state (`Created`, `Running`, `Paused`, `Shutdown`).
    pub fn state(&self) -> Result<String> {
        self.api()
            .info()
            .map(|i| i.state)
            .map_err(|e| self.explain(e))
    }

    pub fn action(&self, endpoint: &str) -> Result<()> {
        self.api().action(endpoint).map_err(|e| self.explain(e))
    }

    pub fn counters(&self) -> Result<Value> {
        self.api().counters().map_err(|e| self.explain(e))
    }

    /// Grow the guest's memory to `mb` MiB (CH cannot shrink it below the boot size).
    pub fn resize_memory(&self, mb: i64) -> Result<()> {
        let mb: u64 = int_in(
            "size_mb",
            mb,
            super::super::spec::MIN_MEMORY_MB as u64,
            super::super::spec::MAX_MEMORY_MB as u64,
        )?;
        let info = self.api().info().map_err(|e| self.explain(e))?;
        let current = info.config["memory"]["size"].as_u64().unwrap_or(0);
        let want = mb * 1024 * 1024;
        if want < current {
            return Err(VmError::invalid(
                "size_mb",
                format!(
                    "{mb} MiB is less than the VM's {} MiB: memory can only grow",
                    current / 1024 / 1024
                ),
            ));
        }
        self.api()
            .resize(&serde_json::json!({ "desired_ram": want }))
            .map_err(|e| self.explain(e))
    }

    /// Add `n` vCPUs (up to the VM's `max_cpus`).
    pub fn add_vcpu(&self, n: i64) -> Result<()> {
        let n: u32 = int_in("count", n, 1, super::super::spec::MAX_VCPUS as u32)?;
        let info = self.api().info().map_err(|e| self.explain(e))?;
        let current = info.config["cpus"]["boot_vcpus"].as_u64().unwrap_or(1) as u32;
        let max = info.config["cpus"]["max_vcpus"].as_u64().unwrap_or(1) as u32;
        let want = current + n;
        if want > max {
            return Err(VmError::invalid(
                "count",
                format!("{current} + {n} vCPUs is more than the VM's max_cpus ({max})"),
            ));
        }
        self.api()
            .resize(&serde_json::json!({ "desired_vcpus": want }))
            .map_err(|e| self.explain(e))
    }

    /// Hot-plug `device` as `id`; returns the id CH gave it.
    pub fn add_device(&self, id: &str, device: &Device) -> Result<String> {
        crate::common::validate::name("device id", id)?;
        let (endpoint, body) = device.request(id);
        let answer = self
            .api()
            .add(endpoint, &body)
            .map_err(|e| self.explain(e))?;
        Ok(answer
            .as_ref()
            .and_then(|v| v.get("id"))
            .and_then(Value::as_str)
            .unwrap_or(id)
            .to_string())
    }

    pub fn remove_device(&self, id: &str) -> Result<()> {
        crate::common::validate::name("device id", id)?;
        self.api().remove_device(id).map_err(|e| self.explain(e))
    }

    /// Save the VM into `dir` (pausing a running VM meanwhile) and index it.
    pub fn snapshot(&self, host: &Host, vm_id: &str, dir: &Path) -> Result<SnapshotEntry> {
        std::fs::create_dir_all(dir).map_err(|e| VmError::io("create", dir, e))?;
        let api = self.api();
        let was_running = self.state()? == "Running";
        if was_running {
            self.action("vm.pause")?;
        }
        let res = api.snapshot(dir).map_err(|e| self.explain(e));
        if was_running {
            let resumed = self.action("vm.resume");
            res?;
            resumed?;
        } else {
            res?;
        }
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "snapshot".into());
        let entry = SnapshotEntry {
            vm_id: vm_id.to_string(),
            name,
            path: dir.display().to_string(),
            timestamp: crate::common::time::timestamp(),
        };
        crate::common::state::write_json(&dir.join(SNAPSHOT_META), &entry)?;
        crate::common::state::write_json(&index_file(host, vm_id, &entry.name)?, &entry)?;
        Ok(entry)
    }

    /// Restore the VM saved in `dir` into this (VM-less) runtime and let it run; returns its
    /// id (the snapshotted VM's, when herodo took the snapshot).
    pub fn restore(&self, dir: &Path) -> Result<String> {
        let meta: Option<SnapshotEntry> =
            crate::common::state::read_json(&dir.join(SNAPSHOT_META)).unwrap_or(None);
        self.api().restore(dir).map_err(|e| self.explain(e))?;
        self.action("vm.resume")?;
        Ok(meta.map(|m| m.vm_id).unwrap_or_else(uuid))
    }
}

/// What herodo writes beside a snapshot, and into the index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SnapshotEntry {
    pub vm_id: String,
    pub name: String,
    pub path: String,
    pub timestamp: i64,
}

const SNAPSHOT_META: &str = "herodo-snapshot.json";

fn index_dir(host: &Host, vm_id: &str) -> PathBuf {
    base_dir(host).join("snapshots").join(vm_id)
}

fn index_file(host: &Host, vm_id: &str, name: &str) -> Result<PathBuf> {
    crate::common::validate::name("vm_id", vm_id)?;
    crate::common::validate::name("name", name)?;
    Ok(index_dir(host, vm_id).join(format!("{name}.json")))
}

fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// A snapshot as `list_snapshots` shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SnapshotInfo {
    pub vm_id: String,
    pub name: String,
    pub path: String,
    pub timestamp: i64,
    pub size: u64,
}

/// The snapshots of `vm_id` whose directories still exist, oldest first.
pub fn list_snapshots(host: &Host, vm_id: &str) -> Result<Vec<SnapshotInfo>> {
    crate::common::validate::name("vm_id", vm_id)?;
    let dir = index_dir(host, vm_id);
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(VmError::io("read", &dir, e)),
    };
    let mut out: Vec<SnapshotInfo> = rd
        .flatten()
        .filter_map(|e| {
            crate::common::state::read_json::<SnapshotEntry>(&e.path())
                .ok()
                .flatten()
        })
        .filter(|s| Path::new(&s.path).is_dir())
        .map(|s| SnapshotInfo {
            size: dir_size(Path::new(&s.path)),
            vm_id: s.vm_id,
            name: s.name,
            path: s.path,
            timestamp: s.timestamp,
        })
        .collect();
    out.sort_by(|a, b| (a.timestamp, &a.name).cmp(&(b.timestamp, &b.name)));
    Ok(out)
}

/// Delete the snapshot `name` of `vm_id` (its directory and index entry); false when there
/// was none.
pub fn delete_snapshot(host: &Host, vm_id: &str, name: &str) -> Result<bool> {
    let file = index_file(host, vm_id, name)?;
    let Some(entry) = crate::common::state::read_json::<SnapshotEntry>(&file)? else {
        return Ok(false);
    };
    if host.dry_run(|| format!("cloudhv: delete snapshot {}", entry.path)) {
        return Ok(true);
    }
    match std::fs::remove_dir_all(&entry.path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(VmError::io("remove", &entry.path, e)),
    }
    std::fs::remove_file(&file).map_err(|e| VmError::io("remove", &file, e))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_command_lines() {
        let mut s = Settings::new();
        assert_eq!(
            argv("/bin/ch", "/tmp/a.sock", &s),
            ["/bin/ch", "--api-socket", "path=/tmp/a.sock"]
        );
        s.seccomp = false;
        s.landlock = true;
        assert_eq!(
            argv("ch", "/s", &s),
            [
                "ch",
                "--api-socket",
                "path=/s",
                "--seccomp",
                "false",
                "--landlock"
            ]
        );
    }

    #[test]
    fn uuids_are_v4() {
        let a = uuid();
        let b = uuid();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
        assert_eq!(a.matches('-').count(), 4);
    }
}
