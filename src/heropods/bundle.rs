//! The OCI runtime config (`config.json`) of a container, made from the image's own metadata
//! by the OCI/Docker rules, plus the container's overrides. Pure: no file is read here (what the
//! host or the image's files must tell, the caller resolves and passes in), so every rule is
//! unit tested as data.
//!
//! Defaults follow what `runc spec` generates (mounts of /proc, /dev, /sys and the cgroup tree,
//! masked and read-only paths, pid/ipc/uts/mount/network namespaces, no_new_privileges), with
//! four deliberate differences: the root file system is writable (every container has its
//! own writable layer), the capability set is the default one of Docker and containerd
//! (`runc spec`'s three capabilities cannot even `chown` in an image's `RUN` step), with
//! Docker's default seccomp profile to go with it ([`super::seccomp`]), and there is no
//! terminal (containers run detached with their output in a log file).

use serde_json::{json, Value};

use super::error::PodError;
use super::image_cache::ImageConfig;
use super::spec::{Limits, Overrides, CPU_PERIOD, MAX_ENV_ENTRY};

/// The PATH a container gets when its image sets none (Docker's default).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What runs when the image has neither ENTRYPOINT nor CMD (seed 002's keep-alive).
pub const KEEP_ALIVE: [&str; 3] = ["tail", "-f", "/dev/null"];

/// Shells that exit at once when started without a terminal: a CMD of only one of these gets
/// seed 002's warning.
const BARE_SHELLS: [&str; 8] = [
    "/bin/sh",
    "/bin/bash",
    "/bin/ash",
    "/bin/dash",
    "sh",
    "bash",
    "ash",
    "dash",
];

/// Docker's and containerd's default capability set.
pub const DEFAULT_CAPS: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// `runc spec`'s masked paths.
pub const MASKED_PATHS: [&str; 10] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
];

/// `runc spec`'s read-only paths.
pub const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Runs the entrypoint, and when it exits 0 keeps the container alive (seed 002's keep_alive).
/// The shell is PID 1, so it forwards SIGTERM/SIGINT to the entrypoint and, once idle, exits on
/// them: `stop()` stays prompt. Fixed text: the entrypoint arrives as `"$@"`, never spliced in.
pub const KEEP_ALIVE_SCRIPT: &str = r#""$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null' TERM INT
wait "$child"; rc=$?
while kill -0 "$child" 2>/dev/null; do wait "$child"; rc=$?; done
[ "$rc" -eq 0 ] || exit "$rc"
trap 'exit 0' TERM INT
if command -v sleep >/dev/null 2>&1; then
  while :; do sleep 3600 & wait $!; done
fi
exec tail -f /dev/null"#;

/// The process to run, resolved from the image and the overrides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    /// The user as the image or the override names it (`""` = root); resolved to ids by the
    /// caller against the image's /etc/passwd.
    pub user: String,
    /// Seed 002's warnings (a bare shell CMD exits at once without a terminal).
    pub warnings: Vec<String>,
    /// True when neither the image nor the overrides gave a command (the keep-alive runs).
    pub keep_alive_default: bool,
}

/// The command by the OCI/Docker rules: ENTRYPOINT + CMD, else CMD, else a keep-alive. An
/// overridden entrypoint drops the image's CMD (as `docker run --entrypoint` does); an empty
/// override clears that part.
pub fn process(image: &ImageConfig, name: &str, o: &Overrides) -> Process {
    let entrypoint: Vec<String> = match &o.entrypoint {
        Some(e) => e.clone(),
        None => image.entrypoint.clone().unwrap_or_default(),
    };
    let cmd: Vec<String> = match (&o.cmd, &o.entrypoint) {
        (Some(c), _) => c.clone(),
        (None, Some(_)) => Vec::new(),
        (None, None) => image.cmd.clone().unwrap_or_default(),
    };
    let mut warnings = Vec::new();
    if entrypoint.is_empty() && cmd.len() == 1 && BARE_SHELLS.contains(&cmd[0].as_str()) {
        warnings.push(format!(
            "CMD is a bare shell ({}) which will exit immediately when run non-interactively; \
             consider start(#{{keep_alive: true}})",
            cmd[0]
        ));
    }
    let mut args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    let keep_alive_default = args.is_empty();
    if keep_alive_default {
        args = KEEP_ALIVE.iter().map(|s| s.to_string()).collect();
    }

    let mut env: Vec<String> = Vec::new();
    let mut set = |k: &str, v: &str| {
        let prefix = format!("{k}=");
        match env.iter_mut().find(|e| e.starts_with(&prefix)) {
            Some(slot) => *slot = format!("{k}={v}"),
            None => env.push(format!("{k}={v}")),
        }
    };
    for e in image.env.iter().flatten() {
        match e.split_once('=') {
            Some((k, v)) => set(k, v),
            None => set(e, ""),
        }
    }
    for (k, v) in &o.env {
        set(k, v);
    }
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, format!("PATH={DEFAULT_PATH}"));
    }
    if !env.iter().any(|e| e.starts_with("HOSTNAME=")) {
        env.push(format!("HOSTNAME={name}"));
    }

    let cwd = o
        .workdir
        .clone()
        .or_else(|| image.working_dir.clone().filter(|w| !w.is_empty()))
        .unwrap_or_else(|| "/".to_string());
    let user = o
        .user
        .clone()
        .or_else(|| image.user.clone())
        .unwrap_or_default();
    Process {
        args,
        env,
        cwd,
        user,
        warnings,
        keep_alive_default,
    }
}

/// An image's config as the runtime will get it: a NUL byte in its Env, Entrypoint, Cmd,
/// WorkingDir or User, or an Env entry or argument too long for the kernel, would make every
/// start fail inside the runtime. Checked when a container is created.
pub fn check_image_config(image: &ImageConfig) -> Result<(), PodError> {
    let bad = |what: &str, why: String| {
        PodError::invalid(
            "image",
            format!("the image's config {what} {why}; no container can start from it"),
        )
    };
    for e in image.env.iter().flatten() {
        let key = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
        let key = key.escape_debug().to_string();
        if e.contains('\0') {
            return Err(bad("Env", format!("entry {key:?} contains a NUL byte")));
        }
        if e.len() >= MAX_ENV_ENTRY {
            return Err(bad(
                "Env",
                format!(
                    "entry {key:?} is {} bytes (the kernel passes at most {})",
                    e.len(),
                    MAX_ENV_ENTRY - 1
                ),
            ));
        }
    }
    let args = [("Entrypoint", &image.entrypoint), ("Cmd", &image.cmd)];
    for (what, list) in args {
        for a in list.iter().flatten() {
            if a.contains('\0') {
                return Err(bad(what, "has an argument with a NUL byte".into()));
            }
            if a.len() >= MAX_ENV_ENTRY {
                return Err(bad(
                    what,
                    format!(
                        "has an argument of {} bytes (the kernel passes at most {})",
                        a.len(),
                        MAX_ENV_ENTRY - 1
                    ),
                ));
            }
        }
    }
    for (what, v) in [("WorkingDir", &image.working_dir), ("User", &image.user)] {
        if v.as_deref().is_some_and(|v| v.contains('\0')) {
            return Err(bad(what, "contains a NUL byte".into()));
        }
    }
    Ok(())
}

/// `args` run under the keep-alive wrapper, with `shell` (the image's `/bin/sh`).
pub fn keep_alive_args(shell: &str, args: &[String]) -> Vec<String> {
    let mut out = vec![
        shell.to_string(),
        "-c".to_string(),
        KEEP_ALIVE_SCRIPT.to_string(),
        "herodo-keep-alive".to_string(),
    ];
    out.extend(args.iter().cloned());
    out
}

/// A user resolved to numeric ids.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
}

/// Where the container's network namespace comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetNs {
    /// Share the host's.
    Host,
    /// A fresh one made by the runtime (loopback only).
    New,
    /// One herodo prepared (bridge networking): its path under /run/netns.
    Path(String),
}

/// A file or directory from the host bound into the container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bind {
    pub source: String,
    pub destination: String,
    pub readonly: bool,
}

/// Everything `config.json` is made of.
#[derive(Clone, Debug)]
pub struct BundleSpec {
    pub hostname: String,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub user: User,
    pub binds: Vec<Bind>,
    pub netns: NetNs,
    pub limits: Limits,
    pub cgroups_path: String,
    /// RLIMIT_NOFILE (soft, hard), already capped at what this host allows.
    pub nofile: (u64, u64),
    /// Filter syscalls with the default profile ([`super::seccomp`]); false: no filter.
    pub seccomp: bool,
}

/// RLIMIT_NOFILE for a container: `runc spec`'s 1024 soft, the host's hard limit (root here
/// lacks CAP_SYS_RESOURCE: asking for more than the host's hard limit fails at start).
pub fn nofile_for(host_hard: u64) -> (u64, u64) {
    let hard = host_hard.clamp(1, 1 << 20);
    (1024.min(hard), hard)
}

/// The OCI runtime config for `s`.
pub fn config(s: &BundleSpec) -> Value {
    let caps: Vec<&str> = DEFAULT_CAPS.to_vec();
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc"}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
               "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
               "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
               "options": ["nosuid", "noexec", "nodev"]}),
    ];
    // sysfs can only be mounted read-only from a network namespace the container owns; with
    // the host's network, bind the host's /sys read-only instead (as Docker does).
    if s.netns == NetNs::Host {
        mounts.push(
            json!({"destination": "/sys", "type": "bind", "source": "/sys",
                           "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}),
        );
    } else {
        mounts.push(
            json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
                           "options": ["nosuid", "noexec", "nodev", "ro"]}),
        );
    }
    mounts.push(
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                       "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}),
    );
    for b in &s.binds {
        let mut opts = vec!["rbind", "rprivate"];
        if b.readonly {
            opts.push("ro");
        }
        mounts.push(json!({"destination": b.destination, "type": "bind",
                           "source": b.source, "options": opts}));
    }

    let mut namespaces = vec![
        json!({"type": "pid"}),
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
    ];
    match &s.netns {
        NetNs::Host => {}
        NetNs::New => namespaces.push(json!({"type": "network"})),
        NetNs::Path(p) => namespaces.push(json!({"type": "network", "path": p})),
    }

    let mut resources = json!({"devices": [{"allow": false, "access": "rwm"}]});
    if let Some(m) = s.limits.memory {
        resources["memory"] = json!({"limit": m});
    }
    if let Some(c) = s.limits.cpus {
        let quota = (c * CPU_PERIOD as f64).round() as i64;
        resources["cpu"] = json!({"quota": quota, "period": CPU_PERIOD});
    }
    if let Some(p) = s.limits.pids {
        resources["pids"] = json!({"limit": p});
    }

    let mut linux = json!({
        "cgroupsPath": s.cgroups_path,
        "resources": resources,
        "namespaces": namespaces,
        "maskedPaths": MASKED_PATHS,
        "readonlyPaths": READONLY_PATHS,
    });
    if s.seccomp {
        linux["seccomp"] = super::seccomp::profile();
    }

    let mut user = json!({"uid": s.user.uid, "gid": s.user.gid});
    if !s.user.additional_gids.is_empty() {
        user["additionalGids"] = json!(s.user.additional_gids);
    }
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": user,
            "args": s.args,
            "env": s.env,
            "cwd": s.cwd,
            "capabilities": {
                "bounding": caps,
                "effective": caps,
                "permitted": caps,
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "soft": s.nofile.0, "hard": s.nofile.1}],
            "noNewPrivileges": true,
        },
        "root": {"path": "rootfs", "readonly": false},
        "hostname": s.hostname,
        "mounts": mounts,
        "linux": linux,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn image(ep: Option<&[&str]>, cmd: Option<&[&str]>) -> ImageConfig {
        ImageConfig {
            entrypoint: ep.map(strs),
            cmd: cmd.map(strs),
            env: Some(strs(&["PATH=/bin", "MODE=prod"])),
            working_dir: Some("/app".into()),
            user: Some("app".into()),
        }
    }

    #[test]
    fn command_rules() {
        let none = Overrides::default();
        // ENTRYPOINT + CMD
        let p = process(&image(Some(&["/ep", "-x"]), Some(&["a", "b"])), "n", &none);
        assert_eq!(p.args, strs(&["/ep", "-x", "a", "b"]));
        assert!(!p.keep_alive_default);
        // CMD only
        let p = process(&image(None, Some(&["sleep", "9"])), "n", &none);
        assert_eq!(p.args, strs(&["sleep", "9"]));
        // ENTRYPOINT only
        let p = process(&image(Some(&["/ep"]), None), "n", &none);
        assert_eq!(p.args, strs(&["/ep"]));
        // neither: the keep-alive
        let p = process(&image(None, None), "n", &none);
        assert_eq!(p.args, strs(&KEEP_ALIVE));
        assert!(p.keep_alive_default);
        // a bare shell CMD warns
        for sh in ["/bin/sh", "/bin/bash", "ash"] {
            let p = process(&image(None, Some(&[sh])), "n", &none);
            assert_eq!(p.warnings.len(), 1, "{sh}");
            assert!(p.warnings[0].contains(sh));
        }
        let p = process(&image(None, Some(&["/bin/sh", "-c", "x"])), "n", &none);
        assert!(p.warnings.is_empty());
        let p = process(&image(Some(&["/init"]), Some(&["/bin/sh"])), "n", &none);
        assert!(
            p.warnings.is_empty(),
            "an entrypoint decides what the shell CMD means"
        );
    }

    #[test]
    fn image_configs_that_no_start_could_run_are_refused() {
        let field = |r: Result<(), PodError>| match r {
            Err(PodError::InvalidArgument { field, reason }) => (field, reason),
            other => panic!("expected invalid_argument, got {other:?}"),
        };
        check_image_config(&image(Some(&["/ep"]), Some(&["a"]))).unwrap();
        check_image_config(&ImageConfig::default()).unwrap();
        let mut img = image(None, None);
        img.env = Some(strs(&["PATH=/bin", "BAD=a\0b"]));
        let (f, why) = field(check_image_config(&img));
        assert_eq!(f, "image");
        assert!(why.contains("Env") && why.contains("BAD"), "{why}");
        img.env = Some(vec![format!("BIG={}", "x".repeat(MAX_ENV_ENTRY))]);
        let (_, why) = field(check_image_config(&img));
        assert!(why.contains("BIG") && why.contains("bytes"), "{why}");
        img.env = Some(vec![format!("OK={}", "x".repeat(MAX_ENV_ENTRY - 4))]);
        check_image_config(&img).unwrap();
        let mut img = image(Some(&["/ep\0"]), None);
        assert!(field(check_image_config(&img)).1.contains("Entrypoint"));
        img = image(None, Some(&["a", "b\0"]));
        assert!(field(check_image_config(&img)).1.contains("Cmd"));
        img = image(None, None);
        img.working_dir = Some("/a\0".into());
        assert!(field(check_image_config(&img)).1.contains("WorkingDir"));
        img = image(None, None);
        img.user = Some("a\0".into());
        assert!(field(check_image_config(&img)).1.contains("User"));
    }

    #[test]
    fn overrides_follow_docker() {
        let img = image(Some(&["/ep"]), Some(&["a"]));
        let o = Overrides {
            cmd: Some(strs(&["b", "c"])),
            ..Overrides::default()
        };
        assert_eq!(process(&img, "n", &o).args, strs(&["/ep", "b", "c"]));
        // A new entrypoint drops the image's CMD.
        let o = Overrides {
            entrypoint: Some(strs(&["/other"])),
            ..Overrides::default()
        };
        assert_eq!(process(&img, "n", &o).args, strs(&["/other"]));
        // An empty entrypoint clears it.
        let o = Overrides {
            entrypoint: Some(vec![]),
            cmd: Some(strs(&["x"])),
            ..Overrides::default()
        };
        assert_eq!(process(&img, "n", &o).args, strs(&["x"]));
    }

    #[test]
    fn env_workdir_user() {
        let img = image(None, Some(&["x"]));
        let o = Overrides {
            env: vec![("MODE".into(), "dev".into()), ("NEW".into(), "1".into())],
            ..Overrides::default()
        };
        let p = process(&img, "web", &o);
        assert_eq!(
            p.env,
            strs(&["PATH=/bin", "MODE=dev", "NEW=1", "HOSTNAME=web"])
        );
        assert_eq!(p.cwd, "/app");
        assert_eq!(p.user, "app");
        let bare = ImageConfig::default();
        let o = Overrides {
            workdir: Some("/w".into()),
            user: Some("1:2".into()),
            ..Overrides::default()
        };
        let p = process(&bare, "web", &o);
        assert_eq!(p.env[0], format!("PATH={DEFAULT_PATH}"));
        assert_eq!(p.cwd, "/w");
        assert_eq!(p.user, "1:2");
        assert_eq!(process(&bare, "w", &Overrides::default()).cwd, "/");
    }

    #[test]
    fn keep_alive_passes_the_entrypoint_as_arguments() {
        let a = keep_alive_args("/bin/sh", &strs(&["/ep", "a b; rm -rf /"]));
        assert_eq!(a[0], "/bin/sh");
        assert_eq!(a[1], "-c");
        assert_eq!(a[2], KEEP_ALIVE_SCRIPT);
        assert_eq!(&a[4..], &strs(&["/ep", "a b; rm -rf /"]));
    }

    fn spec(netns: NetNs) -> BundleSpec {
        BundleSpec {
            hostname: "web".into(),
            args: strs(&["sleep", "1"]),
            env: strs(&["PATH=/bin"]),
            cwd: "/".into(),
            user: User {
                uid: 1000,
                gid: 1000,
                additional_gids: vec![10],
            },
            binds: vec![Bind {
                source: "/srv".into(),
                destination: "/data".into(),
                readonly: true,
            }],
            netns,
            limits: Limits {
                memory: Some(64 << 20),
                cpus: Some(0.5),
                pids: Some(20),
            },
            cgroups_path: "herodo-abc/web".into(),
            nofile: nofile_for(20000),
            seccomp: true,
        }
    }

    #[test]
    fn config_json_shape() {
        let c = config(&spec(NetNs::Path("/run/netns/hp-x".into())));
        assert_eq!(c["process"]["terminal"], false);
        assert_eq!(c["process"]["noNewPrivileges"], true);
        assert_eq!(c["process"]["user"]["uid"], 1000);
        assert_eq!(c["process"]["user"]["additionalGids"], json!([10]));
        assert_eq!(
            c["process"]["capabilities"]["bounding"]
                .as_array()
                .unwrap()
                .len(),
            14
        );
        assert!(c["process"]["capabilities"].get("ambient").is_none());
        assert_eq!(c["process"]["rlimits"][0]["hard"], 20000);
        assert_eq!(c["process"]["rlimits"][0]["soft"], 1024);
        assert_eq!(c["root"]["readonly"], false);
        assert_eq!(c["hostname"], "web");
        assert_eq!(c["linux"]["resources"]["memory"]["limit"], 64 << 20);
        assert_eq!(c["linux"]["resources"]["cpu"]["quota"], 50000);
        assert_eq!(c["linux"]["resources"]["cpu"]["period"], 100000);
        assert_eq!(c["linux"]["resources"]["pids"]["limit"], 20);
        assert_eq!(c["linux"]["cgroupsPath"], "herodo-abc/web");
        assert_eq!(c["linux"]["maskedPaths"].as_array().unwrap().len(), 10);
        assert_eq!(c["linux"]["readonlyPaths"].as_array().unwrap().len(), 5);
        let ns = c["linux"]["namespaces"].as_array().unwrap();
        assert_eq!(ns.len(), 5);
        assert_eq!(ns[4], json!({"type": "network", "path": "/run/netns/hp-x"}));
        let mounts = c["mounts"].as_array().unwrap();
        let dests: Vec<&str> = mounts
            .iter()
            .map(|m| m["destination"].as_str().unwrap())
            .collect();
        assert_eq!(
            dests,
            vec![
                "/proc",
                "/dev",
                "/dev/pts",
                "/dev/shm",
                "/dev/mqueue",
                "/sys",
                "/sys/fs/cgroup",
                "/data"
            ]
        );
        assert_eq!(mounts[5]["type"], "sysfs");
        assert_eq!(mounts[7]["options"], json!(["rbind", "rprivate", "ro"]));
        assert_eq!(c["linux"]["seccomp"], super::super::seccomp::profile());
        assert_eq!(c["linux"]["seccomp"]["defaultErrnoRet"], 1);
        // Opted out: no filter at all.
        let mut s = spec(NetNs::New);
        s.seccomp = false;
        assert!(config(&s)["linux"].get("seccomp").is_none());
    }

    #[test]
    fn host_and_none_networks() {
        let c = config(&spec(NetNs::Host));
        let ns = c["linux"]["namespaces"].as_array().unwrap();
        assert!(ns.iter().all(|n| n["type"] != "network"));
        assert_eq!(c["mounts"][5]["type"], "bind");
        let c = config(&spec(NetNs::New));
        assert_eq!(c["linux"]["namespaces"][4], json!({"type": "network"}));
        let mut s = spec(NetNs::New);
        s.limits = Limits::default();
        s.user.additional_gids.clear();
        let c = config(&s);
        assert!(c["linux"]["resources"].get("memory").is_none());
        assert!(c["process"]["user"].get("additionalGids").is_none());
    }

    #[test]
    fn nofile_respects_the_host() {
        assert_eq!(nofile_for(20000), (1024, 20000));
        assert_eq!(nofile_for(512), (512, 512));
        assert_eq!(nofile_for(u64::MAX), (1024, 1 << 20));
    }
}
