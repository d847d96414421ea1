//! The typed specs scripts fill in: a [`Container`] (the builder of seeds 000/001), its
//! [`HealthCheck`], what and how to `exec`, and the options of `network create` /
//! `volume create`. Every setter validates its value and leaves the spec unchanged when the value
//! is bad, so a script learns about a bad value where it set it; [`Container::validate`] checks
//! the whole spec again before anything runs (fields are public, and a spec may come from
//! elsewhere than the setters).

use std::collections::BTreeMap;

use serde::Serialize;

use super::{validate, ContainerError, Object};
use crate::common::convert;

type Result<T> = std::result::Result<T, ContainerError>;

/// Environment variables. The values are secrets: `Debug` (what `debug(c)`, `print([c])` and a
/// failing test print) shows only the keys.
#[derive(Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Env(BTreeMap<String, String>);

impl std::ops::Deref for Env {
    type Target = BTreeMap<String, String>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Env {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl<'a> IntoIterator for &'a Env {
    type Item = (&'a String, &'a String);
    type IntoIter = std::collections::btree_map::Iter<'a, String, String>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl FromIterator<(String, String)> for Env {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        Env(iter.into_iter().collect())
    }
}

impl<const N: usize> From<[(String, String); N]> for Env {
    fn from(vars: [(String, String); N]) -> Self {
        vars.into_iter().collect()
    }
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, "***")))
            .finish()
    }
}

/// Health check settings (seed 000's HealthCheck). `None` keeps the engine's default.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HealthCheck {
    pub cmd: String,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub retries: Option<u32>,
    pub start_period: Option<String>,
}

impl HealthCheck {
    /// A health check as scripts give it: `""` keeps a default timing, `retries` 0 keeps the
    /// engine's default and anything else must be a real count (4294967297 must not wrap to 1,
    /// -5 must not vanish).
    pub fn new(
        cmd: &str,
        interval: &str,
        timeout: &str,
        retries: i64,
        start_period: &str,
    ) -> Result<Self> {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let retries = convert::int_in::<u32>("health_check.retries", retries, 0, 1_000_000)?;
        let h = HealthCheck {
            cmd: cmd.to_string(),
            interval: opt(interval),
            timeout: opt(timeout),
            retries: (retries > 0).then_some(retries),
            start_period: opt(start_period),
        };
        h.validate()?;
        Ok(h)
    }

    pub fn validate(&self) -> Result<()> {
        if self.cmd.trim().is_empty() {
            return Err(ContainerError::invalid(
                "health_check",
                "the command is empty",
            ));
        }
        for (field, v) in [
            ("health_check.interval", &self.interval),
            ("health_check.timeout", &self.timeout),
            ("health_check.start_period", &self.start_period),
        ] {
            if let Some(v) = v {
                validate::duration(field, v)?;
            }
        }
        Ok(())
    }

    /// Whether the check is a multi-line script: it is then written to a file and mounted into
    /// the container (seed 001's idea, done so the script really is inside the container); a
    /// one-liner is handed to the engine as is.
    pub fn is_script(&self) -> bool {
        self.cmd.contains('\n')
    }
}

/// A container: its configuration (the builder state) and, once built, its id.
/// `Debug` (what `debug(c)` and `print([c])` show) hides environment values: they are secrets.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Container {
    pub name: String,
    pub container_id: String,
    pub image: String,
    pub ports: Vec<String>,
    pub volumes: Vec<String>,
    pub env_vars: Env,
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
    /// `build()` first removes a container that has the name (see `with_replace`).
    pub replace: bool,
    pub devices: Vec<String>,
    pub runtime: Option<String>,
}

/// What `print(c)` shows: the name, the image and the id (`-` before `build()`).
impl std::fmt::Display for Container {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let id = if self.container_id.is_empty() {
            "-"
        } else {
            &self.container_id
        };
        write!(
            f,
            "Container(name: {}, image: {}, id: {id})",
            self.name, self.image
        )
    }
}

/// Check every value, then set them all: a bad value changes nothing.
fn push_all(
    to: &mut Vec<String>,
    values: Vec<String>,
    check: impl Fn(&str) -> Result<()>,
) -> Result<()> {
    values.iter().try_for_each(|v| check(v))?;
    to.extend(values);
    Ok(())
}

impl Container {
    /// A container named `name` with nothing configured yet (detached by default: a script
    /// that runs a container in the foreground would block on it).
    pub fn new(name: &str) -> Result<Self> {
        validate::name("name", name)?;
        Ok(Container {
            name: name.to_string(),
            detach: true,
            ..Container::default()
        })
    }

    pub fn from_image(name: &str, image: &str) -> Result<Self> {
        let mut c = Container::new(name)?;
        c.with_image(image)?;
        Ok(c)
    }

    /// Forget the configuration (keeping name and image) and the container id.
    pub fn reset(&mut self) -> &mut Self {
        *self = Container {
            name: std::mem::take(&mut self.name),
            image: std::mem::take(&mut self.image),
            detach: true,
            ..Container::default()
        };
        self
    }

    pub fn with_image(&mut self, image: &str) -> Result<&mut Self> {
        validate::image("image", image)?;
        self.image = image.into();
        Ok(self)
    }

    pub fn with_port(&mut self, port: &str) -> Result<&mut Self> {
        self.with_ports(vec![port.into()])
    }

    pub fn with_ports(&mut self, ports: Vec<String>) -> Result<&mut Self> {
        push_all(&mut self.ports, ports, validate::port)?;
        Ok(self)
    }

    pub fn with_volume(&mut self, volume: &str) -> Result<&mut Self> {
        self.with_volumes(vec![volume.into()])
    }

    pub fn with_volumes(&mut self, volumes: Vec<String>) -> Result<&mut Self> {
        push_all(&mut self.volumes, volumes, validate::volume)?;
        Ok(self)
    }

    /// Set an environment variable. The value is a secret: the caller registers it with the
    /// host before calling this, so even an error about the key is scrubbed of it.
    pub fn with_env(&mut self, key: &str, value: &str) -> Result<&mut Self> {
        self.with_envs(vec![(key.into(), value.into())])
    }

    pub fn with_envs(&mut self, vars: Vec<(String, String)>) -> Result<&mut Self> {
        vars.iter().try_for_each(|(k, _)| validate::env_key(k))?;
        self.env_vars.extend(vars);
        Ok(self)
    }

    pub fn with_network(&mut self, network: &str) -> Result<&mut Self> {
        validate::name("network", network)?;
        self.network = Some(network.into());
        Ok(self)
    }

    pub fn with_network_alias(&mut self, alias: &str) -> Result<&mut Self> {
        self.with_network_aliases(vec![alias.into()])
    }

    pub fn with_network_aliases(&mut self, aliases: Vec<String>) -> Result<&mut Self> {
        push_all(&mut self.network_aliases, aliases, |a| {
            validate::name("network_alias", a)
        })?;
        Ok(self)
    }

    pub fn with_cpu_limit(&mut self, cpus: &str) -> Result<&mut Self> {
        validate::cpus(cpus)?;
        self.cpu_limit = Some(cpus.into());
        Ok(self)
    }

    pub fn with_memory_limit(&mut self, memory: &str) -> Result<&mut Self> {
        validate::memory("memory_limit", memory)?;
        self.memory_limit = Some(memory.into());
        Ok(self)
    }

    pub fn with_memory_swap_limit(&mut self, memory: &str) -> Result<&mut Self> {
        validate::memory("memory_swap_limit", memory)?;
        self.memory_swap_limit = Some(memory.into());
        Ok(self)
    }

    pub fn with_cpu_shares(&mut self, shares: &str) -> Result<&mut Self> {
        validate::cpu_shares(shares)?;
        self.cpu_shares = Some(shares.into());
        Ok(self)
    }

    pub fn with_restart_policy(&mut self, policy: &str) -> Result<&mut Self> {
        validate::restart_policy(policy)?;
        self.restart_policy = Some(policy.into());
        Ok(self)
    }

    /// A health check with the engine's default timings.
    pub fn with_health_check(&mut self, cmd: &str) -> Result<&mut Self> {
        self.with_health_check_options(cmd, "", "", 0, "")
    }

    /// A health check with its timings (see [`HealthCheck::new`]).
    pub fn with_health_check_options(
        &mut self,
        cmd: &str,
        interval: &str,
        timeout: &str,
        retries: i64,
        start_period: &str,
    ) -> Result<&mut Self> {
        self.health_check = Some(HealthCheck::new(
            cmd,
            interval,
            timeout,
            retries,
            start_period,
        )?);
        Ok(self)
    }

    pub fn with_snapshotter(&mut self, snapshotter: &str) -> Result<&mut Self> {
        validate::name("snapshotter", snapshotter)?;
        self.snapshotter = Some(snapshotter.into());
        Ok(self)
    }

    pub fn with_detach(&mut self, detach: bool) -> &mut Self {
        self.detach = detach;
        self
    }

    pub fn with_label(&mut self, key: &str, value: &str) -> Result<&mut Self> {
        // Rejects `io.herodo.owner`: the owner label decides what `herodo clean` removes.
        validate::label_key("label", key)?;
        self.labels.insert(key.into(), value.into());
        Ok(self)
    }

    pub fn with_annotation(&mut self, key: &str, value: &str) -> Result<&mut Self> {
        validate::label_key("annotation", key)?;
        self.annotations.insert(key.into(), value.into());
        Ok(self)
    }

    pub fn with_entrypoint(&mut self, entrypoint: &str) -> Result<&mut Self> {
        validate::text("entrypoint", entrypoint)?;
        self.entrypoint = Some(entrypoint.into());
        Ok(self)
    }

    pub fn with_cmd(&mut self, cmd: Vec<String>) -> &mut Self {
        self.cmd = cmd;
        self
    }

    pub fn with_workdir(&mut self, dir: &str) -> Result<&mut Self> {
        validate::workdir(dir)?;
        self.workdir = Some(dir.into());
        Ok(self)
    }

    pub fn with_user(&mut self, user: &str) -> Result<&mut Self> {
        validate::user(user)?;
        self.user = Some(user.into());
        Ok(self)
    }

    pub fn with_init(&mut self, init: bool) -> &mut Self {
        self.init = init;
        self
    }

    pub fn with_replace(&mut self, replace: bool) -> &mut Self {
        self.replace = replace;
        self
    }

    pub fn with_privileged(&mut self, privileged: bool) -> &mut Self {
        self.privileged = privileged;
        self
    }

    pub fn with_device(&mut self, device: &str) -> Result<&mut Self> {
        validate::device(device)?;
        self.devices.push(device.into());
        Ok(self)
    }

    pub fn with_runtime(&mut self, runtime: &str) -> Result<&mut Self> {
        validate::runtime(runtime)?;
        self.runtime = Some(runtime.into());
        Ok(self)
    }

    /// Check every field; the error names the first bad one.
    pub fn validate(&self) -> Result<()> {
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
            h.validate()?;
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
            validate::runtime(r)?;
        }
        if let Some(w) = &self.workdir {
            validate::workdir(w)?;
        }
        if let Some(u) = &self.user {
            validate::user(u)?;
        }
        if let Some(e) = &self.entrypoint {
            validate::text("entrypoint", e)?;
        }
        self.devices.iter().try_for_each(|d| validate::device(d))?;
        Ok(())
    }
}

/// What to run inside a container.
#[derive(Clone, Debug, PartialEq)]
pub enum ExecCommand {
    /// A shell line, run with `sh -c`.
    Shell(String),
    /// An argv, run as is.
    Argv(Vec<String>),
}

impl ExecCommand {
    pub fn validate(&self) -> Result<()> {
        match self {
            ExecCommand::Argv(a) if a.is_empty() => {
                Err(ContainerError::invalid("command", "the argv is empty"))
            }
            _ => Ok(()),
        }
    }
}

/// Options of `exec` (like `podman exec --user --workdir --env`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExecOptions {
    pub user: Option<String>,
    pub workdir: Option<String>,
    /// Variables for the command. Only the keys reach argv (`-e KEY`); the values travel in the
    /// engine's environment, as for `run`.
    pub env: Env,
}

impl ExecOptions {
    pub fn validate(&self) -> Result<()> {
        self.env.keys().try_for_each(|k| validate::env_key(k))?;
        if let Some(u) = &self.user {
            validate::user(u)?;
        }
        if let Some(w) = &self.workdir {
            validate::workdir(w)?;
        }
        Ok(())
    }
}

/// Options of `network create` and `volume create` (a volume takes only a driver).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CreateOptions {
    pub driver: Option<String>,
    /// A CIDR like `10.89.0.0/24` (networks only).
    pub subnet: Option<String>,
}

impl CreateOptions {
    pub fn validate(&self, what: Object) -> Result<()> {
        if let Some(d) = &self.driver {
            validate::name("driver", d)?;
        }
        if let Some(s) = &self.subnet {
            if what != Object::Network {
                return Err(ContainerError::invalid(
                    "subnet",
                    format!("a {} has no subnet", what.name()),
                ));
            }
            validate::subnet(s)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(e: ContainerError) -> String {
        match e {
            ContainerError::InvalidArgument { field, .. } => field,
            other => panic!("not invalid_argument: {other}"),
        }
    }

    #[test]
    fn debug_hides_env_values() {
        let mut c = Container::from_image("x", "localhost/busybox:test").unwrap();
        c.with_env("TOKEN", "S3CR3T-CANARY-9f8e7d").unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("S3CR3T"), "{shown}");
        assert!(shown.contains("env_vars: {\"TOKEN\": \"***\"}"), "{shown}");
        let o = ExecOptions {
            env: [("TOKEN".to_string(), "S3CR3T-CANARY-9f8e7d".to_string())].into(),
            ..ExecOptions::default()
        };
        let shown = format!("{o:?}");
        assert!(
            !shown.contains("S3CR3T") && shown.contains("TOKEN"),
            "{shown}"
        );
        assert_eq!(
            c.env_vars.get("TOKEN").map(String::as_str),
            Some("S3CR3T-CANARY-9f8e7d")
        );
    }

    #[test]
    fn display_names_the_container() {
        let mut c = Container::from_image("web", "localhost/busybox:test").unwrap();
        assert_eq!(
            c.to_string(),
            "Container(name: web, image: localhost/busybox:test, id: -)"
        );
        c.container_id = "abc".into();
        assert_eq!(
            c.to_string(),
            "Container(name: web, image: localhost/busybox:test, id: abc)"
        );
    }

    /// Each setter with a good value sets it; with a bad one it names the field and changes
    /// nothing.
    #[test]
    fn setters_validate_and_change_nothing_on_a_bad_value() {
        type Setter = for<'a> fn(&'a mut Container, &str) -> Result<&'a mut Container>;
        let table: &[(&str, &str, &str, Setter)] = &[
            ("image", "localhost/a:1", "UPPER", Container::with_image),
            ("port", "127.0.0.1:8080:80", "99999", Container::with_port),
            (
                "volume",
                "/srv:/data:ro",
                "/host:relative",
                Container::with_volume,
            ),
            ("env", "TOKEN", "BAD-KEY", |c, v| c.with_env(v, "x")),
            ("network", "appnet", "bad net", Container::with_network),
            ("network_alias", "db", "-db", Container::with_network_alias),
            ("cpu_limit", "0.5", "0", Container::with_cpu_limit),
            ("memory_limit", "64m", "lots", Container::with_memory_limit),
            (
                "memory_swap_limit",
                "-1",
                "-2",
                Container::with_memory_swap_limit,
            ),
            ("cpu_shares", "512", "1", Container::with_cpu_shares),
            (
                "restart_policy",
                "on-failure:3",
                "sometimes",
                Container::with_restart_policy,
            ),
            ("health_check", "true", " ", Container::with_health_check),
            ("snapshotter", "native", "a/b", Container::with_snapshotter),
            ("label", "app", "io.herodo.owner", |c, v| {
                c.with_label(v, "x")
            }),
            ("annotation", "note", "a=b", |c, v| {
                c.with_annotation(v, "x")
            }),
            ("entrypoint", "/bin/sh", "", Container::with_entrypoint),
            ("workdir", "/data", "rel", Container::with_workdir),
            ("user", "1000:1000", "-x", Container::with_user),
            (
                "device",
                "/dev/fuse",
                "/etc/shadow:/dev/x",
                Container::with_device,
            ),
            ("runtime", "runc", "--x", Container::with_runtime),
        ];
        for (name, good, bad, set) in table {
            let mut c = Container::from_image("web", "localhost/busybox:test").unwrap();
            let before = c.clone();
            assert_eq!(field(set(&mut c, bad).unwrap_err()), *name, "{name} {bad}");
            assert_eq!(c, before, "{name}: a bad value changed the spec");
            set(&mut c, good).unwrap_or_else(|e| panic!("{name} {good}: {e}"));
            assert_ne!(c, before, "{name}: a good value changed nothing");
            c.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn list_setters_take_all_or_nothing() {
        let mut c = Container::from_image("web", "localhost/busybox:test").unwrap();
        let err = c
            .with_ports(vec!["8080:80".into(), "70000".into()])
            .unwrap_err();
        assert_eq!(field(err), "port");
        assert!(c.ports.is_empty());
        let err = c
            .with_envs(vec![
                ("GOOD".into(), "1".into()),
                ("BAD-KEY".into(), "2".into()),
            ])
            .unwrap_err();
        assert_eq!(field(err), "env");
        assert!(c.env_vars.is_empty());
        c.with_volumes(vec!["/a:/a".into(), "/b:/b:ro".into()])
            .unwrap()
            .with_network_aliases(vec!["db".into(), "pg".into()])
            .unwrap();
        assert_eq!(c.volumes, ["/a:/a", "/b:/b:ro"]);
        assert_eq!(c.network_aliases, ["db", "pg"]);
    }

    #[test]
    fn flags_command_and_reset() {
        let mut c = Container::from_image("job", "localhost/busybox:test").unwrap();
        assert!(c.detach, "detached by default");
        c.with_detach(false)
            .with_init(true)
            .with_privileged(true)
            .with_cmd(vec!["echo".into(), "hi".into()])
            .with_port("80")
            .unwrap();
        c.container_id = "abc".into();
        assert!(!c.detach && c.init && c.privileged);
        assert_eq!(c.cmd, ["echo", "hi"]);
        c.reset();
        assert_eq!(
            c,
            Container::from_image("job", "localhost/busybox:test").unwrap()
        );
    }

    #[test]
    fn health_checks_are_validated_strictly() {
        let h = HealthCheck::new("true", "1m30s", "500ms", 3, "0").unwrap();
        assert_eq!(h.retries, Some(3));
        assert_eq!(h.interval.as_deref(), Some("1m30s"));
        let h = HealthCheck::new("true", "", "", 0, "").unwrap();
        assert_eq!(
            h,
            HealthCheck {
                cmd: "true".into(),
                ..HealthCheck::default()
            }
        );
        for (args, want) in [
            (("true", "1.5.5s", "1s", 3, "0s"), "health_check.interval"),
            (("true", "1s", "soon", 3, "0s"), "health_check.timeout"),
            (("true", "1s", "1s", 3, "-1s"), "health_check.start_period"),
            (
                ("true", "1s", "1s", 4_294_967_297, ""),
                "health_check.retries",
            ),
            (("true", "1s", "1s", -5, ""), "health_check.retries"),
            (("", "", "", 0, ""), "health_check"),
        ] {
            let (cmd, i, t, n, s) = args;
            assert_eq!(field(HealthCheck::new(cmd, i, t, n, s).unwrap_err()), want);
        }
        assert!(HealthCheck::new("a\nb", "", "", 0, "").unwrap().is_script());
        assert!(!HealthCheck::new("a b", "", "", 0, "").unwrap().is_script());
    }

    #[test]
    fn validation_names_the_field() {
        let mut c = Container::from_image("web", "localhost/busybox:test").unwrap();
        c.ports.push("99999".into());
        assert_eq!(field(c.validate().unwrap_err()), "port");
        let mut c = Container::from_image("web", "localhost/busybox:test").unwrap();
        c.env_vars.insert("BAD-KEY".into(), "v".into());
        assert_eq!(field(c.validate().unwrap_err()), "env");
        let mut c = Container::from_image("x", "localhost/busybox:test").unwrap();
        c.health_check = Some(HealthCheck {
            cmd: "true".into(),
            interval: Some("1.5.5s".into()),
            ..HealthCheck::default()
        });
        assert_eq!(field(c.validate().unwrap_err()), "health_check.interval");
        c.health_check = None;
        c.devices = vec!["/etc/shadow:/dev/x".into()];
        assert_eq!(field(c.validate().unwrap_err()), "device");
        c.devices.clear();
        c.labels.insert("io.herodo.owner".into(), "someone".into());
        assert_eq!(field(c.validate().unwrap_err()), "label");
        let c = Container::new("noimage").unwrap();
        assert_eq!(field(c.validate().unwrap_err()), "image");
        assert!(Container::new("bad name").is_err());
        assert!(Container::from_image("ok", "UPPER").is_err());
    }

    #[test]
    fn exec_and_create_options_are_checked() {
        let o = ExecOptions {
            user: Some("1000:1000".into()),
            workdir: Some("/tmp".into()),
            env: [("TOKEN".to_string(), "s3cret-value".to_string())].into(),
        };
        assert!(o.validate().is_ok());
        for (bad, want) in [
            (
                ExecOptions {
                    user: Some("-x".into()),
                    ..ExecOptions::default()
                },
                "user",
            ),
            (
                ExecOptions {
                    workdir: Some("rel".into()),
                    ..ExecOptions::default()
                },
                "workdir",
            ),
            (
                ExecOptions {
                    env: [("A-B".to_string(), String::new())].into(),
                    ..ExecOptions::default()
                },
                "env",
            ),
        ] {
            assert_eq!(field(bad.validate().unwrap_err()), want, "{bad:?}");
        }
        assert_eq!(
            field(ExecCommand::Argv(vec![]).validate().unwrap_err()),
            "command"
        );
        assert!(ExecCommand::Shell(String::new()).validate().is_ok());
        let net = CreateOptions {
            driver: Some("bridge".into()),
            subnet: Some("10.89.7.0/24".into()),
        };
        assert!(net.validate(Object::Network).is_ok());
        assert_eq!(field(net.validate(Object::Volume).unwrap_err()), "subnet");
        for (bad, want) in [
            (
                CreateOptions {
                    subnet: Some("10.89.7.0".into()),
                    ..CreateOptions::default()
                },
                "subnet",
            ),
            (
                CreateOptions {
                    driver: Some("-x".into()),
                    ..CreateOptions::default()
                },
                "driver",
            ),
        ] {
            assert_eq!(field(bad.validate(Object::Network).unwrap_err()), want);
        }
    }
}
