//! The OCI runtime (runc or crun): choosing one that works on this host, the argv of each verb,
//! and parsing what it reports. Every call goes through the one executor, with a timeout.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::error::{PodError, Result};
use crate::exec::Cmd;

/// How long one runtime call (create, state, kill, delete) may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Runc,
    Crun,
}

impl Flavor {
    /// By the binary's name: `crun` (or `*crun`) is crun, anything else speaks runc's CLI.
    pub fn of(program: &str) -> Flavor {
        let file = Path::new(program)
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or(program);
        if file.ends_with("crun") {
            Flavor::Crun
        } else {
            Flavor::Runc
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Flavor::Runc => "runc",
            Flavor::Crun => "crun",
        }
    }
}

/// How this host mounts cgroups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CgroupMode {
    /// cgroup v2 only.
    Unified,
    /// v1 controllers plus a cgroup2 tree; `v2_controllers` when that tree has controllers
    /// enabled (crun refuses to run then: "cgroups in hybrid mode not supported").
    Hybrid { v2_controllers: bool },
    /// cgroup v1 only.
    Legacy,
}

const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

fn fs_magic(path: &str) -> Option<i64> {
    let c = std::ffi::CString::new(path).ok()?;
    // SAFETY: statfs fills the zeroed struct we pass; the path is a valid C string.
    unsafe {
        let mut s: libc::statfs = std::mem::zeroed();
        (libc::statfs(c.as_ptr(), &mut s) == 0).then_some(s.f_type as i64)
    }
}

/// Detect the cgroup layout of this host.
pub fn cgroup_mode() -> CgroupMode {
    if fs_magic("/sys/fs/cgroup") == Some(CGROUP2_SUPER_MAGIC) {
        return CgroupMode::Unified;
    }
    if fs_magic("/sys/fs/cgroup/unified") == Some(CGROUP2_SUPER_MAGIC) {
        let controllers = std::fs::read_to_string("/sys/fs/cgroup/unified/cgroup.controllers")
            .unwrap_or_default();
        return CgroupMode::Hybrid {
            v2_controllers: !controllers.trim().is_empty(),
        };
    }
    CgroupMode::Legacy
}

/// Whether a runtime of `flavor` can run containers under `mode`.
pub fn supported(flavor: Flavor, mode: CgroupMode) -> std::result::Result<(), String> {
    match (flavor, mode) {
        (
            Flavor::Crun,
            CgroupMode::Hybrid {
                v2_controllers: true,
            },
        ) => Err(
            "crun does not support this host's hybrid cgroups (cgroup v1 controllers next to a \
             cgroup2 tree with controllers); use runc"
                .into(),
        ),
        _ => Ok(()),
    }
}

/// Pick the runtime: the one asked for (`runc`, `crun` or a path), else crun when it is
/// installed and works with this host's cgroups (it starts containers faster), else runc.
pub fn choose(
    requested: Option<&str>,
    mode: CgroupMode,
    find: impl Fn(&str) -> Option<PathBuf>,
) -> Result<(Flavor, String)> {
    if let Some(r) = requested {
        if r.is_empty() || r.contains('\0') {
            return Err(PodError::invalid("runtime", "must be runc, crun or a path"));
        }
        if !r.contains('/') && !matches!(r, "runc" | "crun") {
            return Err(PodError::invalid(
                "runtime",
                format!("{r:?} is not runc, crun or a path to one of them"),
            ));
        }
        let flavor = Flavor::of(r);
        supported(flavor, mode).map_err(|why| PodError::invalid("runtime", why))?;
        let path = find(r).ok_or_else(|| PodError::MissingTool {
            tool: r.to_string(),
            hint: "install it with scripts/setup.sh or give another runtime".into(),
        })?;
        return Ok((flavor, path.display().to_string()));
    }
    for flavor in [Flavor::Crun, Flavor::Runc] {
        if supported(flavor, mode).is_err() {
            continue;
        }
        if let Some(p) = find(flavor.as_str()) {
            return Ok((flavor, p.display().to_string()));
        }
    }
    Err(PodError::MissingTool {
        tool: "runc".into(),
        hint: "no usable OCI runtime (runc or crun) found; install runc with scripts/setup.sh"
            .into(),
    })
}

/// A runtime binary with its state directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Runtime {
    pub program: String,
    pub root: PathBuf,
}

impl Runtime {
    pub fn new(program: impl Into<String>, root: impl Into<PathBuf>) -> Self {
        Runtime {
            program: program.into(),
            root: root.into(),
        }
    }

    fn cmd<I: IntoIterator<Item = S>, S: Into<String>>(&self, args: I) -> Cmd {
        Cmd::new(&self.program)
            .arg("--root")
            .arg(self.root.display().to_string())
            .args(args)
            .timeout(CALL_TIMEOUT)
    }

    /// Whether the runtime decodes `config.json` as one JSON value without waiting for the end
    /// of file, so that it may be handed over through a FIFO (`handover`): runc (checked with
    /// runc 1.1: `json.NewDecoder(f).Decode`). crun and unknown runtimes read to the end.
    pub fn reads_config_without_eof(&self) -> bool {
        Path::new(&self.program)
            .file_name()
            .and_then(|f| f.to_str())
            .is_some_and(|f| f == "runc")
    }

    pub fn state(&self, id: &str) -> Cmd {
        self.cmd(["state", id])
    }

    pub fn list(&self) -> Cmd {
        self.cmd(["list", "--format", "json"])
    }

    /// Send `signal` to the container's init, or with `all` to every process in it.
    pub fn kill(&self, id: &str, signal: &str, all: bool) -> Cmd {
        let mut args = vec!["kill"];
        if all {
            args.push("--all");
        }
        args.extend([id, signal]);
        self.cmd(args)
    }

    pub fn delete(&self, id: &str, force: bool) -> Cmd {
        let mut args = vec!["delete"];
        if force {
            args.push("--force");
        }
        args.push(id);
        self.cmd(args)
    }

    pub fn exec(&self, id: &str, argv: &[String]) -> Cmd {
        self.cmd(["exec", id]).args(argv.iter().cloned())
    }
}

/// What `state` and `list --format json` report about one container.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct State {
    pub id: String,
    #[serde(default)]
    pub pid: i64,
    /// `created`, `running`, `paused` or `stopped`.
    pub status: String,
}

pub fn parse_state(json: &str) -> Result<State> {
    serde_json::from_str(json).map_err(|e| PodError::parse("runtime state", e))
}

/// `list --format json` prints `null` when there are no containers.
pub fn parse_list(json: &str) -> Result<Vec<State>> {
    if json.trim().is_empty() {
        return Ok(Vec::new());
    }
    let v: Option<Vec<State>> =
        serde_json::from_str(json).map_err(|e| PodError::parse("runtime list", e))?;
    Ok(v.unwrap_or_default())
}

/// Whether a failed `state`/`kill`/`delete` said the container does not exist.
pub fn is_missing(stderr: &str) -> bool {
    let s = stderr.to_ascii_lowercase();
    s.contains("does not exist") || s.contains("not found") || s.contains("no such file")
}

/// The state letter, parent pid and start time (field 22, clock ticks since boot) of `pid`.
fn proc_stat(pid: i64) -> Option<(char, i64, u64)> {
    crate::common::procstat::read(pid).map(|s| (s.state, s.ppid, s.start_time))
}

/// The start time of process `pid`.
pub fn proc_start_time(pid: i64) -> Option<u64> {
    proc_stat(pid).map(|(_, _, t)| t)
}

/// The parent of process `pid`.
pub fn proc_parent(pid: i64) -> Option<i64> {
    proc_stat(pid).map(|(_, p, _)| p)
}

/// Whether process `pid`, started at `start`, still runs (a zombie or a reused pid does not).
pub fn proc_alive(pid: i64, start: u64) -> bool {
    matches!(proc_stat(pid), Some((state, _, t)) if t == start && state != 'Z' && state != 'X')
}

/// Whether `dir` is a container's own cgroup directory `.../<suffix>` (`PARENT/NAME`, both
/// non-empty), never a hierarchy's root or a parent.
pub fn is_container_cgroup(dir: &str, suffix: &str) -> bool {
    let mut parts = suffix.split('/');
    let (Some(parent), Some(name), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !parent.is_empty()
        && !name.is_empty()
        && !matches!(name, "." | "..")
        && dir.ends_with(&format!("/{suffix}"))
        && dir.starts_with("/sys/fs/cgroup/")
}

/// The processes in the cgroup directory `dir` (none when it does not exist).
pub fn cgroup_procs(dir: &str) -> Vec<i64> {
    std::fs::read_to_string(Path::new(dir).join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// SIGKILL every process in the container cgroup directories `dirs` until they are empty (at
/// most `limit`). Returns whether any process was found. For processes no runtime knows any
/// more (a runtime state removed under a running container): only their cgroup names them.
///
/// Only directories whose path ends in `/<suffix>` (the container's own `PARENT/NAME`) are
/// touched: a process's cgroup in a hierarchy the runtime does not manage is the root one,
/// which holds every process of the host.
pub fn kill_cgroup_procs(dirs: &[String], suffix: &str, limit: Duration) -> bool {
    let dirs: Vec<&String> = dirs
        .iter()
        .filter(|d| is_container_cgroup(d, suffix))
        .collect();
    let deadline = std::time::Instant::now() + limit;
    let mut found = false;
    loop {
        // A zombie stays listed until its parent reaps it; it needs no signal.
        let pids: Vec<i64> = dirs
            .iter()
            .flat_map(|d| cgroup_procs(d))
            .filter(|p| proc_stat(*p).is_some_and(|(state, _, _)| state != 'Z' && state != 'X'))
            .collect();
        if pids.is_empty() || std::time::Instant::now() >= deadline {
            return found;
        }
        found = true;
        for p in pids {
            if let Ok(p) = libc::pid_t::try_from(p) {
                // SAFETY: kill only sends a signal to a pid listed in the container's cgroup.
                unsafe {
                    libc::kill(p, libc::SIGKILL);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The cgroup directories of process `pid`, one per mounted hierarchy.
pub fn cgroup_dirs_of(pid: i64) -> Vec<String> {
    let Ok(cg) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
        return Vec::new();
    };
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    cgroup_dirs(&cg, &cgroup_mounts(&mountinfo))
}

/// The cgroup directories `relative` (a runtime's relative cgroupsPath) resolves to below the
/// cgroups of this process, as runc resolves it.
pub fn cgroup_dirs_below_self(relative: &str) -> Vec<String> {
    let Ok(cg) = std::fs::read_to_string("/proc/self/cgroup") else {
        return Vec::new();
    };
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    cgroup_dirs(&cg, &cgroup_mounts(&mountinfo))
        .into_iter()
        .map(|d| format!("{}/{relative}", d.trim_end_matches('/')))
        .collect()
}

/// A mounted cgroup hierarchy: its mount point and what it holds (controllers, `name=...`,
/// or empty for cgroup2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgroupMount {
    pub mount_point: String,
    pub keys: Vec<String>,
    pub v2: bool,
}

/// Unescape mountinfo's octal escapes (`\040` for a space).
pub(super) fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = |x: u8| (b'0'..=b'7').contains(&x);
        if b[i] == b'\\' && i + 4 <= b.len() && b[i + 1..i + 4].iter().all(|x| octal(*x)) {
            let d = |x: u8| u16::from(x - b'0');
            // mountinfo escapes single bytes, so the value fits; `\777` would be malformed.
            out.push((d(b[i + 1]) * 64 + d(b[i + 2]) * 8 + d(b[i + 3])) as u8);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The cgroup hierarchies in /proc/self/mountinfo.
pub fn cgroup_mounts(mountinfo: &str) -> Vec<CgroupMount> {
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let fields: Vec<&str> = left.split(' ').collect();
        let rfields: Vec<&str> = right.split(' ').collect();
        if fields.len() < 5 || rfields.len() < 3 {
            continue;
        }
        let fstype = rfields[0];
        let mount_point = unescape(fields[4]);
        match fstype {
            "cgroup2" => out.push(CgroupMount {
                mount_point,
                keys: Vec::new(),
                v2: true,
            }),
            "cgroup" => {
                let keys = rfields[2]
                    .split(',')
                    .filter(|o| !matches!(*o, "rw" | "ro") && !o.starts_with("release_agent"))
                    .map(str::to_string)
                    .collect();
                out.push(CgroupMount {
                    mount_point,
                    keys,
                    v2: false,
                })
            }
            _ => {}
        }
    }
    out
}

/// Directories of a process's cgroups (`/proc/PID/cgroup`) in the mounted hierarchies.
pub fn cgroup_dirs(proc_cgroup: &str, mounts: &[CgroupMount]) -> Vec<String> {
    let mut out = Vec::new();
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let mount = if ctrls.is_empty() {
            mounts.iter().find(|m| m.v2)
        } else {
            let wanted: Vec<&str> = ctrls.split(',').collect();
            mounts
                .iter()
                .find(|m| !m.v2 && wanted.iter().all(|w| m.keys.iter().any(|k| k == w)))
        };
        if let Some(m) = mount {
            let dir = format!("{}{}", m.mount_point.trim_end_matches('/'), path);
            if !out.contains(&dir) {
                out.push(dir);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: CgroupMode = CgroupMode::Hybrid {
        v2_controllers: true,
    };

    fn finder(have: &'static [&'static str]) -> impl Fn(&str) -> Option<PathBuf> {
        move |name: &str| {
            let base = name.rsplit('/').next().unwrap_or(name);
            have.contains(&base).then(|| {
                PathBuf::from(if name.contains('/') {
                    name.to_string()
                } else {
                    format!("/usr/bin/{name}")
                })
            })
        }
    }

    #[test]
    fn only_a_containers_own_cgroup_is_ever_emptied() {
        let s = "herodo-0a1b2c3d/web";
        assert!(is_container_cgroup(
            "/sys/fs/cgroup/pids/herodo-0a1b2c3d/web",
            s
        ));
        assert!(is_container_cgroup(
            "/sys/fs/cgroup/memory/user/herodo-0a1b2c3d/web",
            s
        ));
        for d in [
            "/sys/fs/cgroup/rdma/",
            "/sys/fs/cgroup/rdma",
            "/sys/fs/cgroup/pids/herodo-0a1b2c3d",
            "/sys/fs/cgroup/pids/herodo-0a1b2c3d/web2",
            "/sys/fs/cgroup/pids/x/herodo-0a1b2c3d/web/child",
            "/tmp/herodo-0a1b2c3d/web",
        ] {
            assert!(!is_container_cgroup(d, s), "{d}");
        }
        for bad in [
            "",
            "web",
            "/web",
            "herodo-0a1b2c3d/",
            "a/b/c",
            "herodo-x/..",
        ] {
            assert!(
                !is_container_cgroup("/sys/fs/cgroup/pids/herodo-x/..", bad),
                "{bad}"
            );
            assert!(
                !is_container_cgroup(&format!("/sys/fs/cgroup/pids/{bad}"), bad),
                "{bad}"
            );
        }
        // Nothing is signalled for directories that are not the container's own.
        assert!(!kill_cgroup_procs(
            &[
                "/sys/fs/cgroup/pids/".to_string(),
                "/sys/fs/cgroup/memory".to_string()
            ],
            s,
            Duration::from_millis(1)
        ));
    }

    #[test]
    fn choosing_a_runtime() {
        // crun is preferred where it works, skipped where the cgroups stop it.
        let both = finder(&["runc", "crun"]);
        assert_eq!(
            choose(None, CgroupMode::Unified, &both).unwrap().0,
            Flavor::Crun
        );
        assert_eq!(
            choose(None, CgroupMode::Legacy, &both).unwrap().0,
            Flavor::Crun
        );
        assert_eq!(
            choose(
                None,
                CgroupMode::Hybrid {
                    v2_controllers: false
                },
                &both
            )
            .unwrap()
            .0,
            Flavor::Crun
        );
        assert_eq!(
            choose(None, HYBRID, &both).unwrap(),
            (Flavor::Runc, "/usr/bin/runc".into())
        );
        assert_eq!(
            choose(None, CgroupMode::Unified, finder(&["runc"]))
                .unwrap()
                .0,
            Flavor::Runc
        );
        assert!(matches!(
            choose(None, HYBRID, finder(&["crun"])),
            Err(PodError::MissingTool { .. })
        ));
        // Asked for.
        assert_eq!(
            choose(Some("runc"), CgroupMode::Unified, &both).unwrap().0,
            Flavor::Runc
        );
        assert!(matches!(
            choose(Some("crun"), HYBRID, &both),
            Err(PodError::InvalidArgument { .. })
        ));
        assert_eq!(
            choose(
                Some("/opt/bin/crun"),
                CgroupMode::Unified,
                finder(&["crun"])
            )
            .unwrap(),
            (Flavor::Crun, "/opt/bin/crun".into())
        );
        assert!(matches!(
            choose(Some("docker"), CgroupMode::Unified, &both),
            Err(PodError::InvalidArgument { .. })
        ));
        assert!(matches!(
            choose(Some("runc"), CgroupMode::Unified, finder(&[])),
            Err(PodError::MissingTool { .. })
        ));
    }

    #[test]
    fn argv() {
        let r = Runtime::new("/usr/sbin/runc", "/b/runtime");
        assert_eq!(
            r.kill("web", "TERM", false).argv()[3..],
            ["kill", "web", "TERM"]
        );
        assert_eq!(
            r.kill("web", "KILL", true).argv()[3..],
            ["kill", "--all", "web", "KILL"]
        );
        assert_eq!(
            r.delete("web", true).argv()[3..],
            ["delete", "--force", "web"]
        );
        assert_eq!(
            r.exec("web", &["sh".into(), "-c".into(), "a; b".into()])
                .argv()[3..],
            ["exec", "web", "sh", "-c", "a; b"]
        );
        assert_eq!(r.state("web").timeout, Some(CALL_TIMEOUT));
    }

    #[test]
    fn state_and_list_output() {
        // Captured from runc 1.1.5 on this host.
        let s = parse_state(
            r#"{"ociVersion":"1.0.2-dev","id":"t1","pid":11472,"status":"running",
            "bundle":"/tmp/hp","rootfs":"/tmp/hp/rootfs","created":"2026-11-25T16:21:35Z","owner":""}"#,
        )
        .unwrap();
        assert_eq!(
            (s.id.as_str(), s.pid, s.status.as_str()),
            ("t1", 11472, "running")
        );
        assert_eq!(parse_list("null").unwrap(), vec![]);
        assert_eq!(parse_list("").unwrap(), vec![]);
        let l = parse_list(r#"[{"ociVersion":"1.0.2-dev","id":"a","pid":0,"status":"stopped","bundle":"/b","rootfs":"/b/rootfs","created":"x","owner":"root"}]"#).unwrap();
        assert_eq!(l[0].status, "stopped");
        assert!(parse_state("garbage").is_err());
        assert!(is_missing("container \"x\" does not exist"));
    }

    #[test]
    fn cgroup_paths_on_a_hybrid_host() {
        // Lines captured from /proc/self/mountinfo and /proc/PID/cgroup on this host.
        let mountinfo = "\
35 25 0:30 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
36 35 0:31 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
37 35 0:32 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
38 35 0:33 / /sys/fs/cgroup/cpu rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,cpu
39 35 0:34 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,memory
40 35 0:35 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,pids
41 35 0:36 / /sys/fs/cgroup/net\\040cls rw shared:15 - cgroup cgroup rw,net_cls,net_prio
";
        let mounts = cgroup_mounts(mountinfo);
        assert_eq!(mounts.len(), 6);
        assert_eq!(mounts[5].mount_point, "/sys/fs/cgroup/net cls");
        let proc_cg = "\
9:name=systemd:/herodo-x/t1
4:memory:/process_api/e865/herodo-x/t1
1:cpu:/herodo-x/t1
8:pids:/herodo-x/t1
7:net_cls,net_prio:/herodo-x/t1
6:blkio:/herodo-x/t1
0::/herodo-x/t1
";
        assert_eq!(
            cgroup_dirs(proc_cg, &mounts),
            vec![
                "/sys/fs/cgroup/systemd/herodo-x/t1",
                "/sys/fs/cgroup/memory/process_api/e865/herodo-x/t1",
                "/sys/fs/cgroup/cpu/herodo-x/t1",
                "/sys/fs/cgroup/pids/herodo-x/t1",
                "/sys/fs/cgroup/net cls/herodo-x/t1",
                "/sys/fs/cgroup/unified/herodo-x/t1",
            ]
        );
    }

    #[test]
    fn process_liveness() {
        let me = std::process::id() as i64;
        let start = proc_start_time(me).unwrap();
        assert!(proc_alive(me, start));
        // SAFETY: getppid has no preconditions.
        assert_eq!(proc_parent(me), Some(unsafe { libc::getppid() } as i64));
        assert!(
            !proc_alive(me, start + 1),
            "a reused pid has another start time"
        );
        // Above Linux's largest pid_max (2^22): no such process.
        assert!(!proc_alive(4_194_305, start));
        assert_eq!(proc_start_time(4_194_305), None);
    }

    #[test]
    fn flavors() {
        assert_eq!(Flavor::of("/usr/bin/crun"), Flavor::Crun);
        assert_eq!(Flavor::of("runc"), Flavor::Runc);
        assert_eq!(Flavor::of("/opt/my-runc"), Flavor::Runc);
    }
}
