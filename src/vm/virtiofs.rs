//! Shared folders for VMs: virtiofsd (a vhost-user file system daemon) serving a host folder on
//! a unix socket that QEMU connects a `vhost-user-fs-pci` device to. The config and its argv
//! are pure; starting and stopping go through exec's detached daemons.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::error::{Result, VmError};
use crate::exec::Cmd;
use crate::host::Host;

/// Where virtiofsd is looked for besides PATH and cargo's bin directory (`cargo install` puts
/// it in $CARGO_HOME/bin, by default ~/.cargo/bin; distributions that package it use libexec).
const PLACES: [&str; 3] = [
    "/usr/libexec/virtiofsd",
    "/usr/lib/qemu/virtiofsd",
    "/usr/local/bin/virtiofsd",
];
/// How long virtiofsd may take to create its socket.
const SOCKET_TIMEOUT: Duration = Duration::from_secs(10);

/// The virtiofsd binary, if installed.
pub fn binary() -> Option<PathBuf> {
    if let Some(p) = crate::exec::which("virtiofsd") {
        return Some(p);
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".cargo")));
    cargo_home
        .map(|c| c.join("bin/virtiofsd"))
        .into_iter()
        .chain(PLACES.iter().map(PathBuf::from))
        .find(|p| p.is_file())
}

/// One virtiofsd's settings (the original herodo's `virtiofsd_config()` keys).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub socket_path: String,
    pub shared_dir: String,
    pub readonly: bool,
    /// `none` (herodo's default: it runs as root, and needs no namespaces), `namespace`,
    /// `chroot`.
    pub sandbox: String,
    pub thread_pool_size: Option<u32>,
    /// `auto`, `always`, `never`, `metadata`.
    pub cache: Option<String>,
}

impl Config {
    pub fn new(socket_path: &str, shared_dir: &str) -> Config {
        Config {
            socket_path: socket_path.to_string(),
            shared_dir: shared_dir.to_string(),
            readonly: false,
            sandbox: "none".into(),
            thread_pool_size: None,
            cache: None,
        }
    }

    pub fn validate(&self) -> Result<()> {
        super::qcow2::check_path("socket_path", &self.socket_path)?;
        super::qcow2::check_path("shared_dir", &self.shared_dir)?;
        if self.socket_path.len() > 100 {
            return Err(VmError::invalid(
                "socket_path",
                "is longer than a unix socket path may be (100 bytes here)",
            ));
        }
        if !["none", "namespace", "chroot"].contains(&self.sandbox.as_str()) {
            return Err(VmError::invalid(
                "sandbox",
                format!("`{}` is not one of none, namespace, chroot", self.sandbox),
            ));
        }
        if let Some(c) = &self.cache {
            if !["auto", "always", "never", "metadata"].contains(&c.as_str()) {
                return Err(VmError::invalid(
                    "cache",
                    format!("`{c}` is not one of auto, always, never, metadata"),
                ));
            }
        }
        if self.thread_pool_size.is_some_and(|n| n > 1024) {
            return Err(VmError::invalid("thread_pool_size", "is more than 1024"));
        }
        if !Path::new(&self.shared_dir).is_dir() {
            return Err(VmError::missing("shared folder", self.shared_dir.clone()));
        }
        Ok(())
    }
}

/// The virtiofsd command line for `c` (program first).
pub fn argv(program: &str, c: &Config) -> Vec<String> {
    let mut a = vec![
        program.to_string(),
        format!("--socket-path={}", c.socket_path),
        format!("--shared-dir={}", c.shared_dir),
        format!("--sandbox={}", c.sandbox),
    ];
    if c.readonly {
        a.push("--readonly".into());
    }
    if let Some(n) = c.thread_pool_size {
        a.push(format!("--thread-pool-size={n}"));
    }
    if let Some(cache) = &c.cache {
        a.push(format!("--cache={cache}"));
    }
    a
}

/// Writes its own pid to `$1`, then becomes the program: the pid file names the daemon
/// itself. Fixed text: every value arrives as an argument.
const PID_SCRIPT: &str = r#"echo $$ > "$1"; shift; exec "$@""#;

/// A virtiofsd started detached: its pid, process group and socket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Daemon {
    pub group: u32,
    #[serde(default)]
    pub pid: Option<i64>,
    pub socket_path: String,
    pub shared_dir: String,
    #[serde(default)]
    pub readonly: bool,
}

/// `virtiofsd --version` output (`virtiofsd backend 1.14.0`) to the version number.
pub fn parse_version(out: &str) -> Option<String> {
    out.split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()) && w.contains('.'))
        .map(str::to_string)
}

/// The installed virtiofsd's version.
pub fn version(host: &Host) -> Result<String> {
    let program = binary().ok_or_else(missing)?;
    let cmd = Cmd::new(program.display().to_string())
        .arg("--version")
        .timeout(Duration::from_secs(10));
    let out = host.exec_checked(cmd)?;
    parse_version(&out.stdout)
        .ok_or_else(|| VmError::parse("virtiofsd --version", out.stdout.trim()))
}

fn missing() -> VmError {
    VmError::MissingTool {
        tool: "virtiofsd".into(),
        hint: "cargo install virtiofsd (scripts/setup.sh)".into(),
    }
}

/// Start virtiofsd for `c` (output appended to `log`) and return once its socket exists.
pub fn start(host: &Host, c: &Config, log: &Path) -> Result<Option<Daemon>> {
    c.validate()?;
    let program = binary().ok_or_else(missing)?;
    let argv = argv(&program.display().to_string(), c);
    let cmd = Cmd::from_argv(&argv).ok_or_else(|| VmError::invalid("virtiofsd", "no command"))?;
    let pid_file = format!("{}.pid", c.socket_path);
    let wrapped = Cmd::new("sh")
        .args(["-c", PID_SCRIPT, "virtiofsd", &pid_file])
        .args(argv.iter().cloned());
    let _ = std::fs::remove_file(&c.socket_path);
    let _ = std::fs::remove_file(&pid_file);
    let Some(group) = host.spawn_detached(wrapped, log)? else {
        return Ok(None);
    };
    let mut daemon = Daemon {
        group,
        pid: None,
        socket_path: c.socket_path.clone(),
        shared_dir: c.shared_dir.clone(),
        readonly: c.readonly,
    };
    let deadline = Instant::now() + SOCKET_TIMEOUT;
    while !Path::new(&c.socket_path).exists() {
        if !daemon.is_running() || Instant::now() >= deadline {
            daemon.stop(host);
            let text = std::fs::read_to_string(log).unwrap_or_default();
            return Err(crate::exec::ExecError::Failed {
                cmd: cmd.shown(),
                status: crate::exec::Status::Exited(1),
                stdout: String::new(),
                stderr: crate::exec::tail(&text, crate::exec::ERROR_TAIL_BYTES).to_string(),
            }
            .into());
        }
        host.sleep(Duration::from_millis(5))?;
    }
    daemon.pid = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|s| s.trim().parse().ok());
    let _ = std::fs::remove_file(&pid_file);
    Ok(Some(daemon))
}

impl Daemon {
    /// Whether virtiofsd runs: its pid is a live process (not a zombie waiting for init).
    pub fn is_running(&self) -> bool {
        if let Some(pid) = self.pid {
            return crate::common::procstat::read(pid).is_some_and(|s| s.state != 'Z');
        }
        let Ok(g) = libc::pid_t::try_from(self.group) else {
            return false;
        };
        // SAFETY: signal 0 only checks whether the process group exists.
        unsafe { libc::killpg(g, 0) == 0 }
    }

    /// Stop it (SIGKILL to its group) and remove its socket.
    pub fn stop(&self, host: &Host) {
        crate::exec::kill_detached(self.group, &host.cancel);
        let _ = std::fs::remove_file(&self.socket_path);
    }
}

/// A standalone daemon's record, `STATE/virtiofsd/<group>.json`: who started it (common::owner),
/// so `herodo clean` (and the next `herodo test`) ends the daemons of a test session whose
/// herodo was killed. A VM's own daemons live in its record instead.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Record {
    owner: String,
    daemon: Daemon,
    /// The daemon's start time (a pid the kernel reused is not it).
    pid_start: Option<u64>,
}

fn record_path(state_dir: &Path, d: &Daemon) -> PathBuf {
    state_dir
        .join("virtiofsd")
        .join(format!("{}.json", d.group))
}

/// Record a daemon a script started (see [`Record`]).
pub fn remember(host: &Host, d: &Daemon) -> Result<()> {
    let rec = Record {
        owner: crate::common::owner::owner_tag().to_string(),
        daemon: d.clone(),
        pid_start: d
            .pid
            .and_then(crate::common::procstat::read)
            .map(|s| s.start_time),
    };
    Ok(crate::common::state::write_json(
        &record_path(&host.state_dir, d),
        &rec,
    )?)
}

/// Drop a stopped daemon's record.
pub fn forget(host: &Host, d: &Daemon) {
    let _ = crate::common::state::remove(&record_path(&host.state_dir, d));
}

/// Stop the daemons of test sessions whose herodo is gone and drop their records (also the
/// records of daemons that ended by themselves); returns the stopped daemons' sockets. An
/// ordinary script's daemon is never stopped.
pub fn reap_orphans(host: &Host) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(host.state_dir.join("virtiofsd")) else {
        return Vec::new();
    };
    let mut stopped = Vec::new();
    for e in rd.flatten() {
        let Ok(Some(rec)) = crate::common::state::read_json::<Record>(&e.path()) else {
            continue;
        };
        let alive = rec.daemon.pid.is_some_and(|p| {
            crate::common::procstat::read(p).is_some_and(|st| {
                st.state != 'Z' && rec.pid_start.is_none_or(|s| s == st.start_time)
            })
        });
        let abandoned = crate::common::owner::abandoned(&rec.owner);
        if abandoned {
            stopped.push(rec.daemon.socket_path.clone());
        }
        if host.settings.dry_run || (alive && !abandoned) {
            continue;
        }
        if alive {
            rec.daemon.stop(host);
        } else if abandoned {
            let _ = std::fs::remove_file(&rec.daemon.socket_path);
        }
        let _ = crate::common::state::remove(&e.path());
    }
    stopped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_table() {
        let mut c = Config::new("/run/fs0.sock", "/srv/data");
        assert_eq!(
            argv("virtiofsd", &c),
            [
                "virtiofsd",
                "--socket-path=/run/fs0.sock",
                "--shared-dir=/srv/data",
                "--sandbox=none"
            ]
        );
        c.readonly = true;
        c.thread_pool_size = Some(4);
        c.cache = Some("never".into());
        c.sandbox = "namespace".into();
        assert_eq!(
            argv("/x/virtiofsd", &c).join(" "),
            "/x/virtiofsd --socket-path=/run/fs0.sock --shared-dir=/srv/data --sandbox=namespace \
--readonly --thread-pool-size=4 --cache=never"
        );
    }

    #[test]
    fn versions() {
        assert_eq!(
            parse_version("virtiofsd backend 1.14.0\n").as_deref(),
            Some("1.14.0")
        );
        assert_eq!(parse_version("virtiofsd 1.10.1").as_deref(), Some("1.10.1"));
        assert_eq!(parse_version("no version here"), None);
    }

    #[test]
    fn the_reaper_stops_only_abandoned_test_daemons() {
        let dir = std::env::temp_dir().join(format!("herodo-virtiofsd-{}", std::process::id()));
        let (mut host, calls) = crate::host::recording_host();
        host.state_dir = dir.clone();
        let me = std::process::id();
        let my_start = crate::common::procstat::read(i64::from(me)).map(|s| s.start_time);
        let record = |group: u32, owner: &str, pid: Option<i64>, pid_start: Option<u64>| {
            let daemon = Daemon {
                group,
                pid,
                socket_path: format!("{}/fs{group}.sock", dir.display()),
                shared_dir: "/srv".into(),
                readonly: false,
            };
            let rec = Record {
                owner: owner.into(),
                daemon: daemon.clone(),
                pid_start,
            };
            crate::common::state::write_json(&record_path(&dir, &daemon), &rec).unwrap();
        };
        // A dead test session's daemon that is gone already; an ordinary script's that is
        // gone; an ordinary script's that runs (this process stands in for it).
        record(1, "noboot-1-1-test", None, None);
        record(2, "noboot-2-2", None, None);
        record(3, "noboot-3-3", Some(i64::from(me)), my_start);
        let stopped = reap_orphans(&host);
        assert_eq!(stopped, [format!("{}/fs1.sock", dir.display())]);
        let left: Vec<String> = std::fs::read_dir(dir.join("virtiofsd"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, ["3.json"]);
        assert!(calls.calls().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn config_checks() {
        let field = |c: &Config| match c.validate() {
            Err(VmError::InvalidArgument { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        let mut c = Config::new("/run/fs0.sock", "/");
        c.validate().unwrap();
        c.sandbox = "jail".into();
        assert_eq!(field(&c), "sandbox");
        c.sandbox = "none".into();
        c.cache = Some("sometimes".into());
        assert_eq!(field(&c), "cache");
        c.cache = None;
        c.socket_path = "x".repeat(101);
        assert_eq!(field(&c), "socket_path");
        let c = Config::new("/run/fs0.sock", "/nonexistent-herodo-dir");
        assert!(matches!(c.validate(), Err(VmError::NotFound { .. })));
    }
}
