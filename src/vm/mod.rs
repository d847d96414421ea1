//! Virtual machines and their disks.
//!
//! `qcow2` wraps qemu-img (create, inspect, snapshot, resize, convert, overlay, check) and
//! parses its JSON output into typed values. The VM manager ([`Vms`]) keeps one record per VM
//! in herodo's state directory (`store`), so a later herodo process sees and manages VMs
//! created earlier; a hypervisor is a [`Backend`]: QEMU (`qemu/`, the default) or Cloud
//! Hypervisor (`cloud_hypervisor/`, `hypervisor: "cloud-hypervisor"`).
//!
//! No daemon watches a VM: a small monitor (`sh` waiting on the hypervisor, in a session of its
//! own) writes the hypervisor's pid when it starts and its exit code when it ends. A VM whose
//! process is gone is `stopped` when it was asked to stop or ended cleanly (the guest powered
//! off: QEMU's exit code 0; Cloud Hypervisor also exits 0 after a vCPU error, so its log
//! decides), and `crashed` otherwise (killed from outside, an emulation error). Every operation on
//! one VM holds its lock, so two herodo processes never interleave on a record. Plain Rust;
//! `bindings.rs` is the Rhai layer.

pub mod base;
pub mod bindings;
pub mod cloud_hypervisor;
pub mod cloudhv_bindings;
mod console;
pub mod error;
pub mod qcow2;
pub mod qemu;
mod snapshot;
pub mod spec;
pub mod store;
pub mod virt;
pub mod virtiofs;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

pub use error::{Result, VmError};
pub use snapshot::SnapshotMeta;

use crate::common::flock::FileLock;
use crate::common::time::timestamp;
use crate::exec::{Cmd, ExecError};
use crate::host::{Cleaned, Host, Resource};
use spec::VmSpec;
use store::{Paths, VmRecord};

/// Runs `"$@"` in the background, writes its pid to `$2` and, when it ends, its exit code to
/// `$1` (128 + signal when killed). Fixed text: every value arrives as an argument.
const MONITOR_SCRIPT: &str =
    r#"f=$1; p=$2; shift 2; "$@" & echo $! > "$p"; wait $!; echo $? > "$f""#;
const LOCK_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a start may take until the hypervisor's API answers.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// The default time a guest gets to power off before QEMU is told to quit.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(30);
/// After `quit`, how long until the process is killed.
const QUIT_TIMEOUT: Duration = Duration::from_secs(5);

/// What a hypervisor does for the manager. The manager owns processes, records and locks; a
/// backend knows its command line and its API.
pub trait Backend {
    /// The accelerator this backend runs guests with (`tcg`, `kvm`).
    fn accel(&self) -> &'static str;
    /// The program `command` runs (checked before a start).
    fn program(&self) -> String;
    /// How to install the program (for `missing_tool`).
    fn install_hint(&self) -> &'static str;
    /// The command that runs the VM in the foreground until it ends.
    fn command(&self, rec: &VmRecord, share_sockets: &[String]) -> Cmd;
    /// Whether the VM's API answers (the start is complete).
    fn ready(&self, rec: &VmRecord) -> bool;
    /// After `ready`: what makes the guest boot (Cloud Hypervisor starts without a VM and
    /// gets its config over the API; QEMU boots from its command line).
    fn boot(&self, _rec: &VmRecord, _share_sockets: &[String]) -> Result<()> {
        Ok(())
    }
    /// How a hypervisor that ended without being asked to is reported, from its exit code
    /// and the tail of its log: `stopped` (the guest powered off) or `crashed`.
    fn ended(&self, code: i64, _log: &str) -> &'static str {
        if code == 0 {
            "stopped"
        } else {
            "crashed"
        }
    }
    /// `running`, `paused`, `stopped` or `crashed` as the hypervisor sees it.
    fn status(&self, rec: &VmRecord) -> Result<&'static str>;
    /// Ask the guest to power off (ACPI power button).
    fn powerdown(&self, rec: &VmRecord) -> Result<()>;
    /// End the hypervisor now.
    fn quit(&self, rec: &VmRecord) -> Result<()>;
    fn pause(&self, rec: &VmRecord) -> Result<()>;
    fn resume(&self, rec: &VmRecord) -> Result<()>;
    /// Save the running (or paused) VM into `dir`: its disks as internal snapshots named
    /// `disk_snapshot`, its memory and device state as files. The VM goes on as it was.
    fn snapshot(&self, host: &Host, rec: &VmRecord, dir: &Path, disk_snapshot: &str) -> Result<()>;
    /// Put the disks of a stopped VM back to the snapshot `disk_snapshot`.
    fn revert_disks(&self, host: &Host, rec: &VmRecord, disk_snapshot: &str) -> Result<()>;
    /// The command that starts the VM waiting for a saved state instead of booting.
    fn restore_command(&self, rec: &VmRecord, share_sockets: &[String]) -> Cmd;
    /// Load the saved state of `dir` into the VM `restore_command` started, and run it.
    fn finish_restore(&self, host: &Host, rec: &VmRecord, dir: &Path) -> Result<()>;
}

/// How `vm_stop` ends a VM.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StopMode {
    /// Power button, then quit after the grace period, then SIGKILL.
    Graceful(Duration),
    /// Quit at once, then SIGKILL.
    Force,
}

impl StopMode {
    /// A script's `force` flag: at once, or graceful with the default grace period.
    pub fn forced(force: bool) -> StopMode {
        if force {
            StopMode::Force
        } else {
            StopMode::Graceful(DEFAULT_GRACE)
        }
    }
}

/// `vm_info`'s `runtime` part.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Runtime {
    /// `created`, `running`, `paused`, `stopped` or `crashed`.
    pub status: String,
    pub pid: Option<i64>,
    pub console_log: String,
    pub log_file: String,
    pub api_socket: String,
    pub accel: Option<String>,
    pub created: i64,
    pub started: Option<i64>,
    pub exit_code: Option<i64>,
    /// When `crashed`: the tail of the hypervisor's log (what it said before it died).
    pub log_tail: Option<String>,
    /// The shared folders' virtiofsd daemons of the last start.
    pub shares: Vec<ShareState>,
}

/// A shared folder's daemon as `vm_info` shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ShareState {
    pub tag: String,
    pub host: String,
    pub pid: Option<i64>,
    pub running: bool,
}

/// What `vm_info` returns.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VmInfo {
    pub id: String,
    pub spec: VmSpec,
    pub runtime: Runtime,
}

/// The VM manager over herodo's state directory.
#[derive(Clone, Debug)]
pub struct Vms {
    pub paths: Paths,
}

/// Whether `pid` is the same live process as when it was recorded (not a zombie, not a reused
/// pid).
fn alive(pid: i64, start: Option<u64>) -> bool {
    match crate::common::procstat::read(pid) {
        Some(st) => st.state != 'Z' && start.is_none_or(|s| s == st.start_time),
        None => false,
    }
}

fn group_alive(group: Option<u32>) -> bool {
    let Some(g) = group.and_then(|g| libc::pid_t::try_from(g).ok()) else {
        return false;
    };
    // SAFETY: signal 0 only checks whether the process group exists.
    unsafe { libc::killpg(g, 0) == 0 }
}

/// An absolute form of a path a script gave (relative to herodo's working directory), so the
/// record means the same from any later directory.
/// `.` components and doubled slashes are dropped, so one file has one spelling.
fn absolute(p: &str) -> String {
    let path = Path::new(p);
    let full = if path.is_absolute() {
        path.to_path_buf()
    } else {
        match std::env::current_dir() {
            Ok(d) => d.join(path),
            Err(_) => return p.to_string(),
        }
    };
    full.components().collect::<PathBuf>().display().to_string()
}

fn tail_of_file(path: &Path, max: usize) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    crate::exec::tail(&text, max).to_string()
}

/// What a hypervisor's log says about its end: from its first `ERROR` line on (the cause,
/// not the shutdown chatter after it), else the tail; at most `max` bytes.
pub fn log_excerpt(text: &str, max: usize) -> String {
    let start = text
        .lines()
        .position(|l| l.contains("ERROR"))
        .map(|i| text.lines().skip(i).collect::<Vec<_>>().join("\n"));
    match start {
        Some(from_error) => {
            let mut end = from_error.len().min(max);
            while !from_error.is_char_boundary(end) {
                end -= 1;
            }
            from_error[..end].to_string()
        }
        None => crate::exec::tail(text, max).to_string(),
    }
}

fn log_excerpt_of(path: &Path, max: usize) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    log_excerpt(&String::from_utf8_lossy(&bytes), max)
}

impl Vms {
    pub fn open(host: &Host) -> Vms {
        Vms {
            paths: Paths::new(&host.state_dir),
        }
    }

    fn backend(&self, spec: &VmSpec) -> Result<Box<dyn Backend>> {
        Ok(match spec.hypervisor {
            spec::Hypervisor::Qemu => {
                let accel = std::env::var("HERODO_QEMU_ACCEL").ok();
                Box::new(qemu::Qemu {
                    accel: qemu::accel_from_env(accel.as_deref())?,
                })
            }
            spec::Hypervisor::CloudHypervisor => Box::new(cloud_hypervisor::CloudHypervisor),
        })
    }

    fn lock(&self, host: &Host, id: &str) -> Result<FileLock> {
        Ok(FileLock::exclusive(
            &self.paths.lock(id),
            &host.cancel,
            LOCK_TIMEOUT,
        )?)
    }

    /// Under `--dry-run`: say what an operation on `id` would do, and skip it (also for a VM
    /// that a dry-run `vm_create` did not record).
    fn dry(&self, host: &Host, id: &str, verb: &str, detail: &str) -> Result<bool> {
        spec::id(id)?;
        Ok(host.dry_run(|| format!("vm: {verb} {id}{detail}")))
    }

    /// The record of `id`, or `no_such_vm`.
    pub fn record(&self, id: &str) -> Result<VmRecord> {
        spec::id(id)?;
        store::load(&self.paths, id)?.ok_or_else(|| VmError::NoSuchVm { id: id.to_string() })
    }

    /// Record a new VM (nothing runs yet). Paths are checked and made absolute first.
    pub fn create(&self, host: &Host, mut spec: VmSpec) -> Result<String> {
        spec.check_complete()?;
        for p in [
            &mut spec.kernel_path,
            &mut spec.initramfs_path,
            &mut spec.firmware_path,
            &mut spec.console_log,
            &mut spec.api_socket,
        ]
        .into_iter()
        .flatten()
        {
            *p = absolute(p);
        }
        // Re-added by their absolute paths: `d.qcow2` and `./d.qcow2` are one disk twice.
        for mut d in std::mem::take(&mut spec.disks) {
            d.path = absolute(&d.path);
            spec.add_disk(d)?;
        }
        for s in &mut spec.shares {
            s.host = absolute(&s.host);
        }
        let id = spec.id.clone();
        // Not the paths: an earlier dry-run step (a qcow2_create) made none of them.
        if host.dry_run(|| format!("vm: create {id}")) {
            return Ok(id);
        }
        spec.check_paths()?;
        let _lock = self.lock(host, &id)?;
        if store::load(&self.paths, &id)?.is_some() {
            return Err(VmError::AlreadyExists {
                path: format!("vm {id}"),
            });
        }
        let dir = self.paths.vm_dir(&id);
        std::fs::create_dir_all(&dir).map_err(|e| VmError::io("create", &dir, e))?;
        let rec = VmRecord {
            console_log: self.paths.console(&spec).display().to_string(),
            api_socket: self.paths.socket(&spec).display().to_string(),
            log_file: self.paths.log_of(&spec).display().to_string(),
            spec,
            owner: crate::common::owner::owner_tag().to_string(),
            created: timestamp(),
            started: None,
            pid: None,
            pid_start: None,
            group: None,
            stop_requested: false,
            accel: None,
            share_daemons: Vec::new(),
        };
        if let Err(e) = store::save(&self.paths, &rec) {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
        self.register_cleanup(host, &id);
        Ok(id)
    }

    /// Under `herodo test`, a VM a test created is deleted after it.
    fn register_cleanup(&self, host: &Host, id: &str) {
        let vms = self.clone();
        let i = id.to_string();
        host.resources.forget("vm", id);
        host.resources.register(Resource::new("vm", id, move |h| {
            vms.delete(h, &i, false)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }));
    }

    /// QEMU's pid: the record's, else the one the monitor wrote (a start that a killed herodo
    /// never finished recording).
    fn pid_of(&self, rec: &VmRecord) -> Option<(i64, Option<u64>)> {
        if let Some(p) = rec.pid {
            return Some((p, rec.pid_start));
        }
        rec.started?;
        let text = std::fs::read_to_string(self.paths.pid_file(&rec.spec.id)).ok()?;
        text.trim().parse().ok().map(|p| (p, None))
    }

    fn exit_code(&self, id: &str) -> Option<i64> {
        std::fs::read_to_string(self.paths.exit_file(id))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    fn is_alive(&self, rec: &VmRecord) -> bool {
        self.pid_of(rec).is_some_and(|(p, s)| alive(p, s))
    }

    /// Started, but the monitor has not written QEMU's pid yet.
    fn starting(&self, rec: &VmRecord) -> bool {
        rec.started.is_some() && self.pid_of(rec).is_none() && group_alive(rec.group)
    }

    /// The status of a VM as the world shows it now.
    fn status_of(&self, rec: &VmRecord, backend: &dyn Backend) -> String {
        if rec.started.is_none() {
            return "created".into();
        }
        if self.is_alive(rec) {
            if let Ok(s) = backend.status(rec) {
                return s.to_string();
            }
            // Its API does not answer: not up yet, or dying (the socket goes before the
            // process has ended). A dying one gets a moment; one that stays runs.
            let deadline = Instant::now() + Duration::from_millis(500);
            while self.is_alive(rec) {
                if Instant::now() >= deadline {
                    return "running".into();
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        if self.starting(rec) {
            return "running".into();
        }
        if rec.stop_requested {
            return "stopped".into();
        }
        // The monitor writes the exit code a moment after the hypervisor ends.
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            if let Some(code) = self.exit_code(&rec.spec.id) {
                let log = tail_of_file(Path::new(&rec.log_file), crate::exec::ERROR_TAIL_BYTES);
                return backend.ended(code, &log).into();
            }
            if !group_alive(rec.group) || Instant::now() >= deadline {
                return "crashed".into();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn info_of(&self, rec: VmRecord, backend: &dyn Backend) -> VmInfo {
        let status = self.status_of(&rec, backend);
        let live = matches!(status.as_str(), "running" | "paused");
        let pid = if live {
            self.pid_of(&rec).map(|(p, _)| p)
        } else {
            None
        };
        let exit_code = if matches!(status.as_str(), "stopped" | "crashed") {
            self.exit_code(&rec.spec.id)
        } else {
            None
        };
        let log_tail = (status == "crashed")
            .then(|| log_excerpt_of(Path::new(&rec.log_file), crate::exec::ERROR_TAIL_BYTES));
        let shares = rec
            .spec
            .shares
            .iter()
            .zip(&rec.share_daemons)
            .map(|(s, d)| ShareState {
                tag: s.tag.clone(),
                host: s.host.clone(),
                pid: d.pid,
                running: d.is_running(),
            })
            .collect();
        VmInfo {
            id: rec.spec.id.clone(),
            runtime: Runtime {
                status,
                pid,
                console_log: rec.console_log,
                log_file: rec.log_file,
                api_socket: rec.api_socket,
                accel: rec.accel,
                created: rec.created,
                started: rec.started,
                exit_code,
                log_tail,
                shares,
            },
            spec: rec.spec,
        }
    }

    pub fn info(&self, id: &str) -> Result<VmInfo> {
        let rec = self.record(id)?;
        let backend = self.backend(&rec.spec)?;
        Ok(self.info_of(rec, backend.as_ref()))
    }

    pub fn list(&self) -> Result<Vec<VmInfo>> {
        store::list(&self.paths)?
            .into_iter()
            .map(|r| {
                let backend = self.backend(&r.spec)?;
                Ok(self.info_of(r, backend.as_ref()))
            })
            .collect()
    }

    /// Boot the VM; returns once its API answers. Starting a running VM does nothing.
    pub fn start(&self, host: &Host, id: &str) -> Result<()> {
        if self.dry(host, id, "start", "")? {
            return Ok(());
        }
        let _lock = self.lock(host, id)?;
        let mut rec = self.record(id)?;
        let backend = self.backend(&rec.spec)?;
        if self.is_alive(&rec) {
            return Ok(());
        }
        self.launch(host, &mut rec, backend.as_ref(), false)
    }

    /// Start the VM (booting, or with `restore` waiting for a saved state) under the monitor,
    /// with a virtiofsd per shared folder, and wait until it is up.
    fn launch(
        &self,
        host: &Host,
        rec: &mut VmRecord,
        backend: &dyn Backend,
        restore: bool,
    ) -> Result<()> {
        let id = rec.spec.id.clone();
        let id = id.as_str();
        rec.spec.check_paths()?;
        let sockets: Vec<String> = (0..rec.spec.shares.len())
            .map(|i| self.paths.share_socket(id, i).display().to_string())
            .collect();
        let cmd = if restore {
            backend.restore_command(rec, &sockets)
        } else {
            backend.command(rec, &sockets)
        };
        let program = backend.program();
        if cloud_hypervisor::locate(&program).is_none() {
            return Err(VmError::MissingTool {
                tool: program,
                hint: backend.install_hint().into(),
            });
        }
        let dir = self.paths.vm_dir(id);
        std::fs::create_dir_all(&dir).map_err(|e| VmError::io("create", &dir, e))?;
        for f in [self.paths.exit_file(id), self.paths.pid_file(id)] {
            let _ = std::fs::remove_file(f);
        }
        let _ = std::fs::remove_file(&rec.api_socket);
        // Recorded before the spawn: a herodo killed during the start leaves a record whose
        // pid file tells the next one what runs.
        rec.started = Some(timestamp());
        rec.pid = None;
        rec.pid_start = None;
        rec.group = None;
        rec.stop_requested = false;
        rec.accel = Some(backend.accel().to_string());
        self.stop_shares(host, rec);
        store::save(&self.paths, rec)?;
        for (i, share) in rec.spec.shares.clone().iter().enumerate() {
            let mut c = virtiofs::Config::new(&sockets[i], &share.host);
            c.readonly = share.readonly;
            let started = virtiofs::start(host, &c, &self.paths.share_log(id, i));
            match started {
                Ok(d) => rec.share_daemons.extend(d),
                Err(e) => {
                    self.stop_shares(host, rec);
                    rec.started = None;
                    let _ = store::save(&self.paths, rec);
                    return Err(e);
                }
            }
            store::save(&self.paths, rec)?;
        }
        let log = PathBuf::from(&rec.log_file);
        let _ = std::fs::write(&log, b"");
        let monitor = Cmd::new("sh")
            .args(["-c", MONITOR_SCRIPT, "herodo-vm"])
            .arg(self.paths.exit_file(id).display().to_string())
            .arg(self.paths.pid_file(id).display().to_string())
            .arg(cmd.program.clone())
            .args(cmd.args.iter().map(|a| a.value.clone()));
        rec.group = match host.spawn_detached(monitor, &log) {
            Ok(g) => g,
            Err(e) => {
                self.stop_shares(host, rec);
                return Err(e.into());
            }
        };
        store::save(&self.paths, rec)?;
        let mut res = self.await_start(host, rec, backend, &cmd);
        if res.is_ok() && !restore {
            res = backend.boot(rec, &sockets);
            if res.is_err() {
                // The hypervisor runs but refused the VM: end it; the VM never ran.
                rec.stop_requested = true;
                let _ = store::save(&self.paths, rec);
                let _ = backend.quit(rec);
                if !self.wait_gone(host, rec, QUIT_TIMEOUT).unwrap_or(false) {
                    self.kill(host, rec);
                }
                let _ = self.finish_stop(host, rec);
            }
        }
        if res.is_err() {
            self.stop_shares(host, rec);
            let _ = store::save(&self.paths, rec);
        }
        res
    }

    /// Stop the virtiofsd daemons of the last start (they end by themselves when QEMU
    /// disconnects; this covers a QEMU that never connected, or was killed).
    fn stop_shares(&self, host: &Host, rec: &mut VmRecord) {
        for d in rec.share_daemons.drain(..) {
            d.stop(host);
        }
    }

    /// Wait until the hypervisor's API answers; on an early exit, its log is the error.
    fn await_start(
        &self,
        host: &Host,
        rec: &mut VmRecord,
        backend: &dyn Backend,
        cmd: &Cmd,
    ) -> Result<()> {
        let id = rec.spec.id.clone();
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if rec.pid.is_none() {
                if let Some((pid, _)) = self.pid_of(rec) {
                    rec.pid = Some(pid);
                    rec.pid_start = crate::common::procstat::read(pid).map(|s| s.start_time);
                    store::save(&self.paths, rec)?;
                }
            }
            if let Some(code) = self.exit_code(&id) {
                return Err(ExecError::Failed {
                    cmd: cmd.shown(),
                    status: crate::exec::Status::Exited(code as i32),
                    stdout: String::new(),
                    stderr: tail_of_file(Path::new(&rec.log_file), crate::exec::ERROR_TAIL_BYTES),
                }
                .into());
            }
            if rec.pid.is_some() && backend.ready(rec) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.kill(host, rec);
                return Err(VmError::Host(crate::error::HostError::Timeout(format!(
                    "vm {id} did not come up within {}; its log: {}",
                    crate::exec::fmt_duration(START_TIMEOUT),
                    tail_of_file(Path::new(&rec.log_file), 500)
                ))));
            }
            host.sleep(Duration::from_millis(5))?;
        }
    }

    /// SIGKILL the monitor's group and QEMU, and wait until they are gone.
    fn kill(&self, host: &Host, rec: &VmRecord) {
        if let Some((pid, start)) = self.pid_of(rec) {
            if alive(pid, start) {
                if let Ok(p) = libc::pid_t::try_from(pid) {
                    // SAFETY: kill only sends a signal, to the pid we recorded and checked.
                    unsafe {
                        libc::kill(p, libc::SIGKILL);
                    }
                }
            }
        }
        if let Some(g) = rec.group {
            crate::exec::kill_detached(g, &host.cancel);
        }
    }

    fn wait_gone(&self, host: &Host, rec: &VmRecord, timeout: Duration) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        while self.is_alive(rec) {
            if Instant::now() >= deadline {
                return Ok(false);
            }
            host.sleep(Duration::from_millis(10))?;
        }
        Ok(true)
    }

    /// Stop the VM (see [`StopMode`]). Stopping a VM that does not run does nothing.
    pub fn stop(&self, host: &Host, id: &str, mode: StopMode) -> Result<()> {
        if self.dry(host, id, "stop", "")? {
            return Ok(());
        }
        let _lock = self.lock(host, id)?;
        let mut rec = self.record(id)?;
        let backend = self.backend(&rec.spec)?;
        self.stop_locked(host, &mut rec, backend.as_ref(), mode)
    }

    fn stop_locked(
        &self,
        host: &Host,
        rec: &mut VmRecord,
        backend: &dyn Backend,
        mode: StopMode,
    ) -> Result<()> {
        // Nothing runs: QEMU is gone and its monitor has recorded the end (or is gone too;
        // its zombie may linger in the group until init reaps it).
        let ended = self.exit_code(&rec.spec.id).is_some() || !group_alive(rec.group);
        if !self.is_alive(rec) && ended {
            return Ok(());
        }
        rec.stop_requested = true;
        store::save(&self.paths, rec)?;
        if let StopMode::Graceful(grace) = mode {
            if backend.powerdown(rec).is_ok() && self.wait_gone(host, rec, grace)? {
                return self.finish_stop(host, rec);
            }
        }
        if backend.quit(rec).is_ok() && self.wait_gone(host, rec, QUIT_TIMEOUT)? {
            return self.finish_stop(host, rec);
        }
        self.kill(host, rec);
        self.finish_stop(host, rec)
    }

    /// After QEMU ended: let the monitor write the exit code (it ends right after; its
    /// group is no sign, as its zombie lingers until init reaps it).
    fn finish_stop(&self, host: &Host, rec: &mut VmRecord) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.exit_code(&rec.spec.id).is_none()
            && group_alive(rec.group)
            && Instant::now() < deadline
        {
            host.sleep(Duration::from_millis(5))?;
        }
        let _ = std::fs::remove_file(&rec.api_socket);
        if !rec.share_daemons.is_empty() {
            self.stop_shares(host, rec);
            store::save(&self.paths, rec)?;
        }
        Ok(())
    }

    fn running_record(
        &self,
        id: &str,
        action: &'static str,
        needs: &'static str,
    ) -> Result<(VmRecord, Box<dyn Backend>)> {
        let rec = self.record(id)?;
        let backend = self.backend(&rec.spec)?;
        let status = self.status_of(&rec, backend.as_ref());
        let ok = match needs {
            "running" => status == "running",
            "paused" => status == "paused",
            _ => status == "running" || status == "paused",
        };
        if !ok {
            let status = if status == "crashed" {
                format!(
                    "crashed (its log: {})",
                    log_excerpt_of(Path::new(&rec.log_file), 500).trim()
                )
            } else {
                status
            };
            return Err(VmError::BadState {
                id: id.to_string(),
                status,
                action,
                needs,
            });
        }
        Ok((rec, backend))
    }

    /// Freeze the guest's vCPUs (`paused`); throws `bad_state` unless it runs.
    pub fn pause(&self, host: &Host, id: &str) -> Result<()> {
        if self.dry(host, id, "pause", "")? {
            return Ok(());
        }
        let _lock = self.lock(host, id)?;
        let (rec, backend) = self.running_record(id, "vm_pause", "running")?;
        backend.pause(&rec)
    }

    /// Let a paused guest run again; throws `bad_state` unless it is paused.
    pub fn resume(&self, host: &Host, id: &str) -> Result<()> {
        if self.dry(host, id, "resume", "")? {
            return Ok(());
        }
        let _lock = self.lock(host, id)?;
        let (rec, backend) = self.running_record(id, "vm_resume", "paused")?;
        backend.resume(&rec)
    }

    /// Remove the VM (stopping it at once if it runs) and its files; with `delete_disks`,
    /// also its writable disks. Returns false when there was no such VM.
    pub fn delete(&self, host: &Host, id: &str, delete_disks: bool) -> Result<bool> {
        if self.dry(host, id, "delete", "")? {
            return Ok(true);
        }
        let _lock = self.lock(host, id)?;
        let Some(mut rec) = store::load(&self.paths, id)? else {
            host.resources.forget("vm", id);
            return Ok(false);
        };
        let backend = self.backend(&rec.spec)?;
        self.stop_locked(host, &mut rec, backend.as_ref(), StopMode::Force)?;
        self.stop_shares(host, &mut rec);
        if delete_disks {
            for d in rec.spec.disks.iter().filter(|d| !d.readonly) {
                match std::fs::remove_file(&d.path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(VmError::io("remove", &d.path, e)),
                }
            }
        }
        let _ = std::fs::remove_file(&rec.api_socket);
        let dir = self.paths.vm_dir(id);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(VmError::io("remove", &dir, e)),
        }
        host.resources.forget("vm", id);
        Ok(true)
    }
}

/// Remove the VMs (and standalone virtiofsd daemons) of test sessions whose herodo is gone
/// (`herodo clean`, and the next `herodo test` after a killed one). An ordinary script's VMs
/// and daemons are never reaped.
pub fn reap_orphans(host: &Host) -> Vec<Cleaned> {
    let mut cleaned: Vec<Cleaned> = cloud_hypervisor::runtime::reap_orphans(host)
        .into_iter()
        .map(|socket| Cleaned {
            kind: "cloudhv",
            name: socket,
            error: None,
        })
        .collect();
    cleaned.extend(
        virtiofs::reap_orphans(host)
            .into_iter()
            .map(|socket| Cleaned {
                kind: "virtiofsd",
                name: socket,
                error: None,
            }),
    );
    let vms = Vms::open(host);
    let Ok(records) = store::list(&vms.paths) else {
        return cleaned;
    };
    cleaned.extend(
        records
            .into_iter()
            .filter(|r| crate::common::owner::abandoned(&r.owner))
            .map(|r| {
                let id = r.spec.id;
                let error = vms.delete(host, &id, false).err().map(|e| e.to_string());
                Cleaned {
                    kind: "vm",
                    name: id,
                    error,
                }
            }),
    );
    cleaned
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_creators_of_one_id_never_both_win() {
        let dir = std::env::temp_dir().join(format!("herodo-vm-race-{}", std::process::id()));
        let kernel = dir.join("vmlinuz");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&kernel, b"k").unwrap();
        let results: Vec<Result<String>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let (dir, kernel) = (&dir, &kernel);
                    s.spawn(move || {
                        let (mut host, _rec) = crate::host::recording_host();
                        host.state_dir = dir.join("state");
                        let mut spec = VmSpec::new("same").unwrap();
                        spec.set_kernel_path(&kernel.display().to_string()).unwrap();
                        Vms::open(&host).create(&host, spec)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let won = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(won, 1, "{results:?}");
        assert!(results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, VmError::AlreadyExists { .. })));
        let (mut host, _rec) = crate::host::recording_host();
        host.state_dir = dir.join("state");
        let rec = Vms::open(&host).record("same").unwrap();
        assert_eq!(rec.spec.kernel_path, Some(kernel.display().to_string()));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn log_excerpts_start_at_the_error() {
        let crash = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vm/ch_boot_crash.log"),
        )
        .unwrap();
        let e = log_excerpt(&crash, 300);
        assert!(
            e.starts_with("cloud-hypervisor:  33.104267s: <vcpu0> ERROR"),
            "{e}"
        );
        assert!(
            e.contains("Unexpected exit reason on vcpu run: InternalError"),
            "{e}"
        );
        assert!(e.len() <= 300);
        assert_eq!(log_excerpt("a\nb\nlast words", 10), "last words");
    }

    #[test]
    fn create_validates_before_anything_is_written() {
        let (mut host, rec) = crate::host::recording_host();
        let dir = std::env::temp_dir().join(format!("herodo-vm-unit-{}", std::process::id()));
        host.state_dir = dir.clone();
        let vms = Vms::open(&host);
        let mut s = VmSpec::new("a").unwrap();
        s.set_kernel_path("/nonexistent/vmlinuz").unwrap();
        match vms.create(&host, s).unwrap_err() {
            VmError::NotFound { what, .. } => assert_eq!(what, "kernel_path"),
            other => panic!("{other}"),
        }
        let e = vms.create(&host, VmSpec::new("b").unwrap()).unwrap_err();
        assert!(matches!(e, VmError::InvalidArgument { .. }), "{e}");
        assert!(!dir.exists());
        assert!(rec.calls().is_empty());
        assert!(matches!(
            vms.info("nope").unwrap_err(),
            VmError::NoSuchVm { .. }
        ));
        assert!(matches!(
            vms.info("../x").unwrap_err(),
            VmError::InvalidArgument { .. }
        ));
    }
}
