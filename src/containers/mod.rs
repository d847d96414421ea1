//! Containers on nerdctl, podman or docker: one implementation, three CLI flavors.
//!
//! The seeds' nerdctl API (`nerdctl_container_from_image(..).with_port(..).build()`) works on
//! every flavor. A [`Flavor`] decides the few places where the CLIs differ: argv details and the
//! shapes of `inspect`, `stats`, `ps` and `images` output. Argv builders are pure functions,
//! tested as tables; operations in `ops.rs` run them through the host's executor.

pub mod bindings;
pub mod error;
pub mod ops;
pub mod parse;
pub mod validate;

use std::collections::BTreeMap;

pub use error::ContainerError;
pub use ops::reap_orphans;

/// Labels under this prefix are herodo's own (the owner tag, the health interval): a script
/// cannot set them.
pub const HERODO_LABEL_PREFIX: &str = "io.herodo.";
/// On podman herodo runs health checks itself (there is no systemd to schedule them), so the
/// interval the script asked for is kept in this label and honoured by `wait_healthy`.
pub const HEALTH_INTERVAL_LABEL: &str = "io.herodo.health-interval";
/// Where a multi-line health check script is mounted inside the container.
pub const HEALTHCHECK_PATH: &str = "/.herodo-healthcheck.sh";

/// The container CLI in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Nerdctl,
    Podman,
    Docker,
}

impl Flavor {
    pub const ALL: [Flavor; 3] = [Flavor::Nerdctl, Flavor::Podman, Flavor::Docker];

    pub fn name(self) -> &'static str {
        match self {
            Flavor::Nerdctl => "nerdctl",
            Flavor::Podman => "podman",
            Flavor::Docker => "docker",
        }
    }

    pub fn from_name(name: &str) -> Option<Flavor> {
        Flavor::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// Health check settings (seed 000's HealthCheck).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HealthCheck {
    pub cmd: String,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub retries: Option<u32>,
    pub start_period: Option<String>,
}

/// A container: its configuration (the builder state) and, once built, its id.
/// `Debug` (what `debug(c)` and `print([c])` show) hides environment values: they are secrets.
#[derive(Clone, Default, PartialEq)]
pub struct Container {
    pub name: String,
    pub container_id: String,
    pub image: String,
    pub ports: Vec<String>,
    pub volumes: Vec<String>,
    pub env_vars: BTreeMap<String, String>,
    pub network: Option<String>,
    pub network_aliases: Vec<String>,
    pub cpu_limit: Option<String>,
    pub memory_limit: Option<String>,
    pub memory_swap_limit: Option<String>,
    pub cpu_shares: Option<String>,
    pub restart_policy: Option<String>,
    pub health_check: Option<HealthCheck>,
    pub snapshotter: Option<String>,
    pub detach: bool,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub entrypoint: Option<String>,
    pub cmd: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub init: bool,
    pub privileged: bool,
    pub devices: Vec<String>,
    pub runtime: Option<String>,
}

impl std::fmt::Debug for Container {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let env: BTreeMap<&str, &str> = self.env_vars.keys().map(|k| (k.as_str(), "***")).collect();
        f.debug_struct("Container")
            .field("name", &self.name)
            .field("container_id", &self.container_id)
            .field("image", &self.image)
            .field("ports", &self.ports)
            .field("volumes", &self.volumes)
            .field("env_vars", &env)
            .field("network", &self.network)
            .field("network_aliases", &self.network_aliases)
            .field("cpu_limit", &self.cpu_limit)
            .field("memory_limit", &self.memory_limit)
            .field("memory_swap_limit", &self.memory_swap_limit)
            .field("cpu_shares", &self.cpu_shares)
            .field("restart_policy", &self.restart_policy)
            .field("health_check", &self.health_check)
            .field("snapshotter", &self.snapshotter)
            .field("detach", &self.detach)
            .field("labels", &self.labels)
            .field("annotations", &self.annotations)
            .field("entrypoint", &self.entrypoint)
            .field("cmd", &self.cmd)
            .field("workdir", &self.workdir)
            .field("user", &self.user)
            .field("init", &self.init)
            .field("privileged", &self.privileged)
            .field("devices", &self.devices)
            .field("runtime", &self.runtime)
            .finish()
    }
}

impl Container {
    /// A container named `name` with nothing configured yet (detached by default: a script
    /// that runs a container in the foreground would block on it).
    pub fn new(name: &str) -> Result<Self, ContainerError> {
        validate::name("name", name)?;
        Ok(Container {
            name: name.to_string(),
            detach: true,
            ..Container::default()
        })
    }

    pub fn from_image(name: &str, image: &str) -> Result<Self, ContainerError> {
        let mut c = Container::new(name)?;
        validate::image("image", image)?;
        c.image = image.to_string();
        Ok(c)
    }

    /// Check every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ContainerError> {
        validate::name("name", &self.name)?;
        if self.image.is_empty() {
            return Err(ContainerError::invalid(
                "image",
                format!("container {} has no image: use with_image(...) or nerdctl_container_from_image(name, image)", self.name),
            ));
        }
        validate::image("image", &self.image)?;
        self.ports.iter().try_for_each(|p| validate::port(p))?;
        self.volumes.iter().try_for_each(|v| validate::volume(v))?;
        self.env_vars
            .keys()
            .try_for_each(|k| validate::env_key(k))?;
        if let Some(n) = &self.network {
            validate::name("network", n)?;
        }
        self.network_aliases
            .iter()
            .try_for_each(|a| validate::name("network_alias", a))?;
        if let Some(c) = &self.cpu_limit {
            validate::cpus(c)?;
        }
        if let Some(m) = &self.memory_limit {
            validate::memory("memory_limit", m)?;
        }
        if let Some(m) = &self.memory_swap_limit {
            validate::memory("memory_swap_limit", m)?;
        }
        if let Some(s) = &self.cpu_shares {
            validate::cpu_shares(s)?;
        }
        if let Some(r) = &self.restart_policy {
            validate::restart_policy(r)?;
        }
        if let Some(h) = &self.health_check {
            if h.cmd.trim().is_empty() {
                return Err(ContainerError::invalid(
                    "health_check",
                    "the command is empty",
                ));
            }
            for (field, v) in [
                ("health_check.interval", &h.interval),
                ("health_check.timeout", &h.timeout),
                ("health_check.start_period", &h.start_period),
            ] {
                if let Some(v) = v {
                    validate::duration(field, v)?;
                }
            }
        }
        self.labels
            .keys()
            .try_for_each(|k| validate::label_key("label", k))?;
        self.annotations
            .keys()
            .try_for_each(|k| validate::label_key("annotation", k))?;
        if let Some(s) = &self.snapshotter {
            validate::name("snapshotter", s)?;
        }
        if let Some(r) = &self.runtime {
            if r.is_empty() || r.starts_with('-') {
                return Err(ContainerError::invalid(
                    "runtime",
                    format!("`{r}` is not a runtime name or path"),
                ));
            }
        }
        for (field, v) in [
            ("workdir", &self.workdir),
            ("user", &self.user),
            ("entrypoint", &self.entrypoint),
        ] {
            if v.as_deref()
                .is_some_and(|s| s.is_empty() || s.contains('\0'))
            {
                return Err(ContainerError::invalid(
                    field,
                    "is empty or contains a NUL byte",
                ));
            }
        }
        if self.workdir.as_deref().is_some_and(|w| !w.starts_with('/')) {
            return Err(ContainerError::invalid(
                "workdir",
                "must be an absolute path",
            ));
        }
        self.devices.iter().try_for_each(|d| validate::device(d))?;
        Ok(())
    }
}

/// How a health check command is given to the engine: a one-liner as is; a multi-line script is
/// written to `host_script` and mounted read-only into the container (seed 001's idea, done so
/// the script really is inside the container).
pub fn health_cmd(h: &HealthCheck) -> (String, bool) {
    if h.cmd.contains('\n') {
        (format!("/bin/sh {HEALTHCHECK_PATH}"), true)
    } else {
        (h.cmd.clone(), false)
    }
}

/// `run` argv (after the program name). Environment values are not in argv: each variable is
/// passed as `-e KEY` and its value through the engine's environment, so it never shows up in
/// a process listing, a log or an error. `owner_label` is `io.herodo.owner=TAG`
/// ([`crate::common::owner::owner_label_arg`]); it comes after the script's labels, so even an
/// engine that let a later label win could not lose it. `healthcheck_file` is the host path of a
/// multi-line health check script.
pub fn run_argv(
    flavor: Flavor,
    c: &Container,
    owner_label: &str,
    healthcheck_file: Option<&str>,
) -> Vec<String> {
    let mut a: Vec<String> = vec!["run".into()];
    if c.detach {
        a.push("-d".into());
    }
    a.extend(["--name".into(), c.name.clone()]);
    for (k, v) in &c.labels {
        a.extend(["--label".into(), format!("{k}={v}")]);
    }
    if flavor == Flavor::Podman {
        if let Some(i) = c.health_check.as_ref().and_then(|h| h.interval.as_ref()) {
            a.extend(["--label".into(), format!("{HEALTH_INTERVAL_LABEL}={i}")]);
        }
    }
    a.extend(["--label".into(), owner_label.to_string()]);
    if flavor != Flavor::Docker {
        // Docker 20.10 has no --annotation.
        for (k, v) in &c.annotations {
            a.extend(["--annotation".into(), format!("{k}={v}")]);
        }
    }
    for p in &c.ports {
        a.extend(["-p".into(), p.clone()]);
    }
    for v in &c.volumes {
        a.extend(["-v".into(), v.clone()]);
    }
    for k in c.env_vars.keys() {
        a.extend(["-e".into(), k.clone()]);
    }
    if let Some(n) = &c.network {
        a.extend(["--network".into(), n.clone()]);
    }
    for alias in &c.network_aliases {
        a.extend(["--network-alias".into(), alias.clone()]);
    }
    let opt = |a: &mut Vec<String>, flag: &str, v: &Option<String>| {
        if let Some(v) = v {
            a.extend([flag.to_string(), v.clone()]);
        }
    };
    opt(&mut a, "--cpus", &c.cpu_limit);
    opt(&mut a, "--memory", &c.memory_limit);
    opt(&mut a, "--memory-swap", &c.memory_swap_limit);
    opt(&mut a, "--cpu-shares", &c.cpu_shares);
    opt(&mut a, "--restart", &c.restart_policy);
    if let Some(h) = &c.health_check {
        let (cmd, script) = health_cmd(h);
        if script {
            if let Some(file) = healthcheck_file {
                a.extend(["-v".into(), format!("{file}:{HEALTHCHECK_PATH}:ro")]);
            }
        }
        a.extend(["--health-cmd".into(), cmd]);
        match (flavor, &h.interval) {
            // podman schedules checks with systemd timers; herodo runs them itself instead.
            (Flavor::Podman, _) => a.extend(["--health-interval".into(), "disable".into()]),
            (_, Some(i)) => a.extend(["--health-interval".into(), i.clone()]),
            _ => {}
        }
        opt(&mut a, "--health-timeout", &h.timeout);
        if let Some(r) = h.retries {
            a.extend(["--health-retries".into(), r.to_string()]);
        }
        opt(&mut a, "--health-start-period", &h.start_period);
    }
    if flavor == Flavor::Nerdctl {
        // Only containerd has snapshotters; the other engines ignore the setting.
        opt(&mut a, "--snapshotter", &c.snapshotter);
    }
    opt(&mut a, "--entrypoint", &c.entrypoint);
    opt(&mut a, "--workdir", &c.workdir);
    opt(&mut a, "--user", &c.user);
    if c.init {
        a.push("--init".into());
    }
    if c.privileged {
        a.push("--privileged".into());
    }
    for d in &c.devices {
        a.extend(["--device".into(), d.clone()]);
    }
    opt(&mut a, "--runtime", &c.runtime);
    a.push(c.image.clone());
    a.extend(c.cmd.iter().cloned());
    a
}

/// What to run inside a container.
#[derive(Clone, Debug, PartialEq)]
pub enum ExecCommand {
    /// A shell line, run with `sh -c`.
    Shell(String),
    /// An argv, run as is.
    Argv(Vec<String>),
}

/// Options of `exec` (like `podman exec --user --workdir --env`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExecOptions {
    pub user: Option<String>,
    pub workdir: Option<String>,
    /// Variables for the command. Only the keys reach argv (`-e KEY`); the values travel in the
    /// engine's environment, as for `run`.
    pub env: BTreeMap<String, String>,
}

impl ExecOptions {
    pub fn validate(&self) -> Result<(), ContainerError> {
        self.env.keys().try_for_each(|k| validate::env_key(k))?;
        if let Some(u) = &self.user {
            if u.is_empty() || u.starts_with('-') || u.contains(['\0', '\n']) {
                return Err(ContainerError::invalid(
                    "user",
                    format!("`{u}` is not a user (name, uid or uid:gid)"),
                ));
            }
        }
        if let Some(w) = &self.workdir {
            if !w.starts_with('/') || w.contains('\0') {
                return Err(ContainerError::invalid(
                    "workdir",
                    format!("`{w}` must be an absolute path"),
                ));
            }
        }
        Ok(())
    }
}

/// `exec` argv (after the program name). The same on every flavor.
pub fn exec_argv(name: &str, o: &ExecOptions, what: &ExecCommand) -> Vec<String> {
    let mut a = vec!["exec".to_string()];
    if let Some(u) = &o.user {
        a.extend(["--user".into(), u.clone()]);
    }
    if let Some(w) = &o.workdir {
        a.extend(["--workdir".into(), w.clone()]);
    }
    for k in o.env.keys() {
        a.extend(["-e".into(), k.clone()]);
    }
    a.push(name.to_string());
    match what {
        ExecCommand::Shell(line) => a.extend(["sh".into(), "-c".into(), line.clone()]),
        ExecCommand::Argv(argv) => a.extend(argv.iter().cloned()),
    }
    a
}

/// `rm` argv: forceful and immediate (podman would otherwise wait 10 s for a PID 1 that
/// ignores SIGTERM before killing it).
pub fn rm_argv(flavor: Flavor, name: &str) -> Vec<String> {
    let mut a = vec!["rm".to_string(), "-f".into()];
    if flavor == Flavor::Podman {
        a.extend(["-t".into(), "0".into()]);
    }
    a.push(name.into());
    a
}

/// `push` / `pull` argv; registries on the loopback address are plain HTTP.
pub fn registry_argv(flavor: Flavor, verb: &str, image: &str) -> Vec<String> {
    let mut a = vec![verb.to_string()];
    let host = image.split('/').next().unwrap_or("");
    let local = image.contains('/')
        && (host.starts_with("127.")
            || host.starts_with("localhost:")
            || host == "localhost"
            || host.starts_with("[::1]"));
    if local {
        match flavor {
            Flavor::Podman => a.push("--tls-verify=false".into()),
            Flavor::Nerdctl => a.push("--insecure-registry".into()),
            // dockerd treats 127.0.0.0/8 registries as insecure already.
            Flavor::Docker => {}
        }
    }
    a.push(image.to_string());
    a
}

/// `ps` argv for a flavor (JSON output).
pub fn ps_argv(flavor: Flavor, all: bool, filter: Option<&str>) -> Vec<String> {
    let mut a = vec!["ps".to_string()];
    if all {
        a.push("-a".into());
    }
    if let Some(f) = filter {
        a.extend(["--filter".into(), f.to_string()]);
    }
    a.push("--format".into());
    a.push(match flavor {
        Flavor::Podman => "json".into(),
        _ => "{{json .}}".into(),
    });
    a
}

/// `volume ls` / `network ls` argv for a flavor (JSON output), only entries carrying `label`
/// (a key, or `key=value`).
pub fn labelled_ls_argv(flavor: Flavor, what: &str, label: &str) -> Vec<String> {
    vec![
        what.to_string(),
        "ls".into(),
        "--filter".into(),
        format!("label={label}"),
        "--format".into(),
        match flavor {
            Flavor::Podman => "json".into(),
            _ => "{{json .}}".into(),
        },
    ]
}

/// `image inspect` argv that succeeds only when `image` exists locally.
pub fn image_exists_argv(image: &str) -> Vec<String> {
    vec![
        "image".into(),
        "inspect".into(),
        "--format".into(),
        "{{.Id}}".into(),
        image.into(),
    ]
}

/// `images` argv for a flavor (JSON output).
pub fn images_argv(flavor: Flavor) -> Vec<String> {
    vec![
        "images".into(),
        "--format".into(),
        match flavor {
            Flavor::Podman => "json".into(),
            _ => "{{json .}}".into(),
        },
    ]
}

/// `stats` argv for a flavor (one snapshot, JSON output). podman's `json` format rounds sizes
/// to four digits (`67.11MB` for 64 MiB); its raw `ContainerStats` record has exact numbers.
/// docker and nerdctl print human sizes only.
pub fn stats_argv(flavor: Flavor, name: &str) -> Vec<String> {
    vec![
        "stats".into(),
        "--no-stream".into(),
        "--format".into(),
        match flavor {
            Flavor::Podman => "{{json .ContainerStats}}".into(),
            _ => "{{json .}}".into(),
        },
        name.into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> Container {
        let mut c = Container::from_image("web", "localhost/busybox:test").unwrap();
        c.ports = vec!["127.0.0.1:8080:80".into()];
        c.volumes = vec!["/srv:/data:ro".into()];
        c.env_vars.insert("TOKEN".into(), "s3cret".into());
        c.network = Some("appnet".into());
        c.network_aliases = vec!["web".into()];
        c.cpu_limit = Some("0.5".into());
        c.memory_limit = Some("64m".into());
        c.memory_swap_limit = Some("128m".into());
        c.cpu_shares = Some("512".into());
        c.restart_policy = Some("on-failure:3".into());
        c.health_check = Some(HealthCheck {
            cmd: "wget -q -O /dev/null http://127.0.0.1/".into(),
            interval: Some("5s".into()),
            timeout: Some("2s".into()),
            retries: Some(3),
            start_period: Some("1s".into()),
        });
        c.snapshotter = Some("native".into());
        c.labels.insert("app".into(), "demo".into());
        c.annotations.insert("note".into(), "x".into());
        c.entrypoint = Some("/bin/sh".into());
        c.cmd = vec!["-c".into(), "httpd -f".into()];
        c.workdir = Some("/data".into());
        c.user = Some("root".into());
        c.init = true;
        c.privileged = true;
        c.devices = vec!["/dev/null".into()];
        c.runtime = Some("runc".into());
        c
    }

    fn joined(a: &[String]) -> String {
        a.join(" ")
    }

    #[test]
    fn run_argv_for_every_flavor() {
        let c = full();
        c.validate().unwrap();
        let common = "--label app=demo";
        let owner = "--label io.herodo.owner=me";
        let tail = "-p 127.0.0.1:8080:80 -v /srv:/data:ro -e TOKEN --network appnet --network-alias web --cpus 0.5 --memory 64m --memory-swap 128m --cpu-shares 512 --restart on-failure:3 --health-cmd wget -q -O /dev/null http://127.0.0.1/";
        let health = "--health-timeout 2s --health-retries 3 --health-start-period 1s";
        let end = "--entrypoint /bin/sh --workdir /data --user root --init --privileged --device /dev/null --runtime runc localhost/busybox:test -c httpd -f";
        assert_eq!(
            joined(&run_argv(Flavor::Podman, &c, "io.herodo.owner=me", None)),
            format!("run -d --name web {common} --label io.herodo.health-interval=5s {owner} --annotation note=x {tail} --health-interval disable {health} {end}")
        );
        assert_eq!(
            joined(&run_argv(Flavor::Docker, &c, "io.herodo.owner=me", None)),
            format!(
                "run -d --name web {common} {owner} {tail} --health-interval 5s {health} {end}"
            )
        );
        assert_eq!(
            joined(&run_argv(Flavor::Nerdctl, &c, "io.herodo.owner=me", None)),
            format!("run -d --name web {common} {owner} --annotation note=x {tail} --health-interval 5s {health} --snapshotter native {end}")
        );
        // Env values never reach argv.
        assert!(run_argv(Flavor::Docker, &c, "io.herodo.owner=me", None)
            .iter()
            .all(|a| !a.contains("s3cret")));
    }

    #[test]
    fn minimal_and_foreground_runs() {
        let mut c = Container::from_image("x", "localhost/busybox:test").unwrap();
        assert_eq!(
            joined(&run_argv(Flavor::Podman, &c, "io.herodo.owner=o", None)),
            "run -d --name x --label io.herodo.owner=o localhost/busybox:test"
        );
        c.detach = false;
        assert!(
            !run_argv(Flavor::Docker, &c, "io.herodo.owner=o", None).contains(&"-d".to_string())
        );
    }

    #[test]
    fn the_owner_label_comes_last_and_cannot_be_set_by_a_script() {
        let mut c = Container::from_image("x", "localhost/busybox:test").unwrap();
        c.labels.insert("zzz".into(), "1".into());
        for f in Flavor::ALL {
            let a = run_argv(f, &c, "io.herodo.owner=me", None);
            let labels: Vec<&String> = a
                .iter()
                .zip(a.iter().skip(1))
                .filter(|(flag, _)| *flag == "--label")
                .map(|(_, v)| v)
                .collect();
            assert_eq!(
                labels.last().map(|s| s.as_str()),
                Some("io.herodo.owner=me"),
                "{f:?}"
            );
        }
        c.labels
            .insert("io.herodo.owner".into(), "someone-else".into());
        assert!(matches!(
            c.validate(),
            Err(ContainerError::InvalidArgument { field, .. }) if field == "label"
        ));
    }

    #[test]
    fn debug_hides_env_values() {
        let mut c = Container::from_image("x", "localhost/busybox:test").unwrap();
        c.env_vars
            .insert("TOKEN".into(), "S3CR3T-CANARY-9f8e7d".into());
        let shown = format!("{c:?}");
        assert!(!shown.contains("S3CR3T"), "{shown}");
        assert!(shown.contains("\"TOKEN\": \"***\""), "{shown}");
    }

    #[test]
    fn exec_argv_with_options() {
        let o = ExecOptions {
            user: Some("1000:1000".into()),
            workdir: Some("/tmp".into()),
            env: [("TOKEN".to_string(), "s3cret-value".to_string())].into(),
        };
        assert_eq!(
            joined(&exec_argv("web", &o, &ExecCommand::Shell("id -u".into()))),
            "exec --user 1000:1000 --workdir /tmp -e TOKEN web sh -c id -u"
        );
        assert_eq!(
            joined(&exec_argv(
                "web",
                &ExecOptions::default(),
                &ExecCommand::Argv(vec!["ls".into(), "/".into()])
            )),
            "exec web ls /"
        );
        assert!(o.validate().is_ok());
        for bad in [
            ExecOptions {
                user: Some("-x".into()),
                ..ExecOptions::default()
            },
            ExecOptions {
                workdir: Some("rel".into()),
                ..ExecOptions::default()
            },
            ExecOptions {
                env: [("A-B".to_string(), String::new())].into(),
                ..ExecOptions::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn health_timings_are_validated_strictly() {
        let mut c = Container::from_image("x", "localhost/busybox:test").unwrap();
        c.health_check = Some(HealthCheck {
            cmd: "true".into(),
            interval: Some("1.5.5s".into()),
            ..HealthCheck::default()
        });
        assert!(matches!(
            c.validate(),
            Err(ContainerError::InvalidArgument { field, .. }) if field == "health_check.interval"
        ));
        c.health_check = None;
        c.devices = vec!["/etc/shadow:/dev/x".into()];
        assert!(matches!(
            c.validate(),
            Err(ContainerError::InvalidArgument { field, .. }) if field == "device"
        ));
    }

    #[test]
    fn multi_line_health_checks_are_mounted_scripts() {
        let mut c = Container::from_image("x", "localhost/busybox:test").unwrap();
        c.health_check = Some(HealthCheck {
            cmd: "test -f /tmp/ready\nwget -q -O- http://127.0.0.1/ | grep ok".into(),
            ..HealthCheck::default()
        });
        let a = joined(&run_argv(
            Flavor::Docker,
            &c,
            "io.herodo.owner=o",
            Some("/state/x.sh"),
        ));
        assert!(a.contains("-v /state/x.sh:/.herodo-healthcheck.sh:ro --health-cmd /bin/sh /.herodo-healthcheck.sh"), "{a}");
    }

    #[test]
    fn validation_names_the_field() {
        let mut c = full();
        c.ports.push("99999".into());
        let e = c.validate().unwrap_err();
        assert!(
            matches!(&e, ContainerError::InvalidArgument { field, .. } if field == "port"),
            "{e}"
        );
        let mut c = full();
        c.env_vars.insert("BAD-KEY".into(), "v".into());
        assert!(
            matches!(c.validate().unwrap_err(), ContainerError::InvalidArgument { field, .. } if field == "env")
        );
        let c = Container::new("noimage").unwrap();
        assert!(
            matches!(c.validate().unwrap_err(), ContainerError::InvalidArgument { field, .. } if field == "image")
        );
        assert!(Container::new("bad name").is_err());
        assert!(Container::from_image("ok", "UPPER").is_err());
    }

    #[test]
    fn registry_and_listing_argv() {
        assert_eq!(
            registry_argv(Flavor::Podman, "push", "127.0.0.1:5000/a:1"),
            vec!["push", "--tls-verify=false", "127.0.0.1:5000/a:1"]
        );
        assert_eq!(
            registry_argv(Flavor::Nerdctl, "pull", "localhost:5000/a"),
            vec!["pull", "--insecure-registry", "localhost:5000/a"]
        );
        assert_eq!(
            registry_argv(Flavor::Docker, "push", "127.0.0.1:5000/a"),
            vec!["push", "127.0.0.1:5000/a"]
        );
        assert_eq!(
            registry_argv(Flavor::Podman, "pull", "docker.io/library/redis"),
            vec!["pull", "docker.io/library/redis"]
        );
        assert_eq!(
            joined(&ps_argv(Flavor::Podman, true, None)),
            "ps -a --format json"
        );
        assert_eq!(
            joined(&ps_argv(Flavor::Docker, false, Some("label=x"))),
            "ps --filter label=x --format {{json .}}"
        );
        assert_eq!(
            joined(&images_argv(Flavor::Nerdctl)),
            "images --format {{json .}}"
        );
        assert_eq!(
            joined(&stats_argv(Flavor::Podman, "w")),
            "stats --no-stream --format {{json .ContainerStats}} w"
        );
        assert_eq!(
            joined(&labelled_ls_argv(
                Flavor::Podman,
                "volume",
                "io.herodo.owner"
            )),
            "volume ls --filter label=io.herodo.owner --format json"
        );
        for f in [Flavor::Docker, Flavor::Nerdctl] {
            assert_eq!(
                joined(&labelled_ls_argv(f, "network", "io.herodo.owner")),
                "network ls --filter label=io.herodo.owner --format {{json .}}"
            );
        }
        assert_eq!(
            joined(&image_exists_argv("localhost/a:1")),
            "image inspect --format {{.Id}} localhost/a:1"
        );
    }
}
