//! What a script asks for, validated before anything touches disk: container names, mount
//! specs, limits, environment, network mode. Pure functions, unit tested on hostile input.

use serde::{Deserialize, Serialize};

use super::error::{PodError, Result};
use crate::common::portspec::{PortSpec, Protocol};

/// Longest container name: a hostname (the container's) holds at most 64 bytes, and the name
/// also becomes a directory, a runtime id and a cgroup.
pub const MAX_NAME: usize = 63;

/// A container name: ASCII letters, digits, `_`, `.` and `-`, starting with a letter or digit.
/// ASCII only on purpose: look-alike and invisible Unicode characters cannot sneak in, and the
/// name is safe as a path component, a runtime id, a hostname and a cgroup directory.
pub fn name(field: &str, v: &str) -> Result<()> {
    if v.is_empty() {
        return Err(PodError::invalid(field, "must not be empty"));
    }
    if v.len() > MAX_NAME {
        return Err(PodError::invalid(
            field,
            format!("is {} bytes long (at most {MAX_NAME})", v.len()),
        ));
    }
    let mut chars = v.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_ok {
        return Err(PodError::invalid(
            field,
            format!("{v:?} must start with an ASCII letter or digit"),
        ));
    }
    if let Some(bad) = v
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(PodError::invalid(
            field,
            format!(
                "{:?} contains {:?}: only ASCII letters, digits, `_`, `.` and `-` are allowed",
                v.escape_debug().to_string(),
                bad
            ),
        ));
    }
    Ok(())
}

/// An absolute path without `..` components or NUL bytes.
pub fn abs_path(field: &str, v: &str) -> Result<()> {
    if !v.starts_with('/') {
        return Err(PodError::invalid(
            field,
            format!("{v:?} must be an absolute path"),
        ));
    }
    if v.contains('\0') || v.contains('\n') {
        return Err(PodError::invalid(
            field,
            "must not contain NUL or newline characters",
        ));
    }
    if v.split('/').any(|c| c == "..") {
        return Err(PodError::invalid(
            field,
            format!("{v:?} must not contain `..`"),
        ));
    }
    if v.len() > 4096 {
        return Err(PodError::invalid(field, "is longer than 4096 bytes"));
    }
    Ok(())
}

/// The base directory: an absolute path that can also appear in overlayfs mount options, which
/// use `,` and `:` as separators.
pub fn base_dir(v: &str) -> Result<()> {
    abs_path("base_dir", v)?;
    if let Some(c) = v
        .chars()
        .find(|c| matches!(c, ',' | ':') || c.is_whitespace())
    {
        return Err(PodError::invalid(
            "base_dir",
            format!("{v:?} contains {c:?}, which cannot be used in an overlay mount"),
        ));
    }
    Ok(())
}

/// An environment variable name, by the rule every domain uses (a letter or `_`, then
/// letters, digits or `_`).
pub fn env_key(k: &str) -> Result<()> {
    crate::common::validate::env_name("env", k)?;
    Ok(())
}

/// The longest string the kernel passes to a program (`MAX_ARG_STRLEN`, its NUL included):
/// one argument, or one `KEY=value` of the environment. A longer one makes the container's start fail with
/// "argument list too long".
pub const MAX_ENV_ENTRY: usize = 128 * 1024;

/// One environment variable as the container's process gets it: no NUL, and `KEY=value` short
/// enough for the kernel to pass.
pub fn env_entry(k: &str, v: &str) -> Result<()> {
    if v.contains('\0') {
        return Err(PodError::invalid("env", format!("{k}: value contains NUL")));
    }
    let len = k.len() + 1 + v.len();
    if len >= MAX_ENV_ENTRY {
        return Err(PodError::invalid(
            "env",
            format!(
                "{k}: `{k}=value` is {len} bytes; the kernel passes at most {} bytes per variable",
                MAX_ENV_ENTRY - 1
            ),
        ));
    }
    Ok(())
}

/// Arguments of a command: no NUL bytes (they cannot be passed to exec).
pub fn argv(field: &str, args: &[String]) -> Result<()> {
    if args.iter().any(|a| a.contains('\0')) {
        return Err(PodError::invalid(field, "arguments must not contain NUL"));
    }
    if let Some(a) = args.iter().find(|a| a.len() >= MAX_ENV_ENTRY) {
        return Err(PodError::invalid(
            field,
            format!(
                "an argument is {} bytes; the kernel passes at most {} bytes per argument",
                a.len(),
                MAX_ENV_ENTRY - 1
            ),
        ));
    }
    Ok(())
}

/// `user`, `uid`, `user:group` or `uid:gid`.
pub fn user(v: &str) -> Result<()> {
    let ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 32
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    };
    let valid = match v.split_once(':') {
        Some((u, g)) => ok(u) && ok(g),
        None => ok(v),
    };
    if !valid {
        return Err(PodError::invalid(
            "user",
            format!("{v:?} is not `user`, `uid`, `user:group` or `uid:gid`"),
        ));
    }
    Ok(())
}

/// A bind mount from the host into the container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindMount {
    pub source: String,
    pub destination: String,
    pub readonly: bool,
}

/// Container paths a bind mount may not cover: the runtime mounts its own file systems there.
const RESERVED_DESTINATIONS: [&str; 4] = ["/", "/proc", "/sys", "/dev"];

/// `path` (absolute) cleaned lexically, as Go's `filepath.Clean` (and Docker) would: `//` and
/// `.` collapse, `..` removes the component before it (never climbing above `/`), no trailing
/// `/`. `/dev/.`, `//dev/` and `/x/../dev` all become `/dev`.
pub fn clean_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            _ => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// A mount destination: absolute, cleaned (see [`clean_path`]) before it is checked, and never
/// one of [`RESERVED_DESTINATIONS`] however it is spelled. Returns the cleaned form, which is
/// what is stored and given to the runtime.
pub fn mount_destination(v: &str) -> Result<String> {
    const FIELD: &str = "mounts.destination";
    if !v.starts_with('/') {
        return Err(PodError::invalid(
            FIELD,
            format!("{v:?} must be an absolute path"),
        ));
    }
    let dest = clean_path(v);
    abs_path(FIELD, &dest)?;
    if RESERVED_DESTINATIONS.contains(&dest.as_str()) {
        let spelled = if dest == v {
            String::new()
        } else {
            format!(" ({v:?})")
        };
        return Err(PodError::invalid(
            FIELD,
            format!("{dest}{spelled} is managed by the runtime and cannot be a bind mount"),
        ));
    }
    Ok(dest)
}

impl BindMount {
    /// A mount with its destination cleaned and both paths checked.
    pub fn new(source: &str, destination: &str, readonly: bool) -> Result<Self> {
        abs_path("mounts.source", source)?;
        Ok(BindMount {
            source: source.to_string(),
            destination: mount_destination(destination)?,
            readonly,
        })
    }

    /// Parse `SRC:DST`, `SRC:DST:ro` or `SRC:DST:rw`.
    pub fn parse(spec: &str) -> Result<Self> {
        let parts: Vec<&str> = spec.split(':').collect();
        let (source, destination, readonly) = match parts.as_slice() {
            [s, d] => (*s, *d, false),
            [s, d, "ro"] => (*s, *d, true),
            [s, d, "rw"] => (*s, *d, false),
            _ => {
                return Err(PodError::invalid(
                    "mounts",
                    format!("{spec:?} is not `SOURCE:DESTINATION[:ro|rw]`"),
                ))
            }
        };
        BindMount::new(source, destination, readonly)
    }

    /// Check a mount as stored (a record written by an older herodo may hold an uncleaned
    /// destination: it is checked the way it would be cleaned).
    pub fn validate(&self) -> Result<()> {
        abs_path("mounts.source", &self.source)?;
        mount_destination(&self.destination)?;
        Ok(())
    }
}

/// Resource limits, applied through the container's cgroup.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Bytes.
    pub memory: Option<u64>,
    /// CPUs (fractions allowed): becomes a CFS quota per 100 ms period.
    pub cpus: Option<f64>,
    pub pids: Option<i64>,
}

/// The smallest memory limit accepted (the kernel needs room for the container's init).
pub const MIN_MEMORY: u64 = 6 * 1024 * 1024;
/// CFS period used for `cpus`.
pub const CPU_PERIOD: u64 = 100_000;

/// A memory size: bytes as an integer, or a string like `64m`, `512k`, `1g`, `1.5g`, `100MiB`.
pub fn memory_str(v: &str) -> Result<u64> {
    let s = v.trim().to_ascii_lowercase();
    let s = s
        .strip_suffix("ib")
        .or_else(|| s.strip_suffix('b'))
        .unwrap_or(&s);
    let (num, mult) = match s.chars().last() {
        Some('k') => (&s[..s.len() - 1], 1u64 << 10),
        Some('m') => (&s[..s.len() - 1], 1 << 20),
        Some('g') => (&s[..s.len() - 1], 1 << 30),
        Some('t') => (&s[..s.len() - 1], 1 << 40),
        _ => (s, 1),
    };
    let bad = || {
        PodError::invalid(
            "memory",
            format!("{v:?} is not a size like 67108864, \"64m\" or \"1g\""),
        )
    };
    let n: f64 = num.trim().parse().map_err(|_| bad())?;
    if !n.is_finite() || n < 0.0 {
        return Err(bad());
    }
    let bytes = n * mult as f64;
    if bytes > (1u64 << 50) as f64 {
        return Err(PodError::invalid("memory", format!("{v:?} is too large")));
    }
    memory_bytes(bytes as i64)
}

/// A memory size in bytes, at least [`MIN_MEMORY`].
pub fn memory_bytes(v: i64) -> Result<u64> {
    match u64::try_from(v) {
        Ok(b) if (MIN_MEMORY..=(1u64 << 50)).contains(&b) => Ok(b),
        _ => Err(PodError::invalid(
            "memory",
            format!("{v} bytes is out of range (at least {MIN_MEMORY}, 6 MiB)"),
        )),
    }
}

/// CPUs: more than 0.01 and at most the number of CPUs on this host.
pub fn cpus(v: f64, host_cpus: usize) -> Result<f64> {
    if !v.is_finite() || v < 0.01 || v > host_cpus as f64 {
        return Err(PodError::invalid(
            "cpus",
            format!("{v} is out of range (0.01 to {host_cpus}, the CPUs of this host)"),
        ));
    }
    Ok(v)
}

/// The most processes a container may be limited to (the kernel's pid_max ceiling).
pub fn pids(v: i64) -> Result<i64> {
    if !(1..=4_194_304).contains(&v) {
        return Err(PodError::invalid(
            "pids",
            format!("{v} is out of range (1 to 4194304)"),
        ));
    }
    Ok(v)
}

/// How a container is networked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkMode {
    /// Its own network namespace on herodo's bridge (the default).
    #[default]
    Bridge,
    /// Its own network namespace with only a loopback interface.
    None,
    /// The host's network namespace.
    Host,
}

impl NetworkMode {
    pub fn parse(v: &str) -> Result<Self> {
        match v {
            "bridge" => Ok(NetworkMode::Bridge),
            "none" => Ok(NetworkMode::None),
            "host" => Ok(NetworkMode::Host),
            _ => Err(PodError::invalid(
                "network",
                format!("{v:?} is not one of bridge, none, host"),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NetworkMode::Bridge => "bridge",
            NetworkMode::None => "none",
            NetworkMode::Host => "host",
        }
    }
}

/// When to fetch an image that is already in the cache under the same reference.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PullPolicy {
    /// Use the cached image for a reference seen before (fast: no tool runs).
    #[default]
    Missing,
    /// Fetch again and use what the source has now.
    Always,
}

impl PullPolicy {
    pub fn parse(v: &str) -> Result<Self> {
        match v {
            "missing" => Ok(PullPolicy::Missing),
            "always" => Ok(PullPolicy::Always),
            _ => Err(PodError::invalid(
                "pull",
                format!("{v:?} is not `missing` or `always`"),
            )),
        }
    }
}

/// Which syscall filter a container runs under.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Seccomp {
    /// herodo's default profile (Docker's; see `heropods::seccomp`).
    #[default]
    Default,
    /// No filter (`seccomp: false`): only the capabilities limit what the container can do.
    Unconfined,
}

impl Seccomp {
    /// `seccomp: true | false` of `container_new`.
    pub fn from_flag(on: bool) -> Self {
        if on {
            Seccomp::Default
        } else {
            Seccomp::Unconfined
        }
    }
}

/// Everything `container_new` may set, validated.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Overrides {
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub env: Vec<(String, String)>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub mounts: Vec<BindMount>,
    pub limits: Limits,
    pub network: NetworkMode,
    /// Published ports (see `port`).
    #[serde(default)]
    pub ports: Vec<PortSpec>,
    /// Records written before this option existed have none: the default profile.
    #[serde(default)]
    pub seccomp: Seccomp,
}

impl Overrides {
    /// Check every field (the bindings build the struct from a script's map).
    pub fn validate(&self, host_cpus: usize) -> Result<()> {
        if let Some(c) = &self.cmd {
            argv("cmd", c)?;
        }
        if let Some(e) = &self.entrypoint {
            argv("entrypoint", e)?;
        }
        for (k, v) in &self.env {
            env_key(k)?;
            env_entry(k, v)?;
        }
        if let Some(w) = &self.workdir {
            abs_path("workdir", w)?;
        }
        if let Some(u) = &self.user {
            user(u)?;
        }
        for m in &self.mounts {
            m.validate()?;
        }
        if let Some(m) = self.limits.memory {
            memory_bytes(i64::try_from(m).unwrap_or(i64::MAX))?;
        }
        if let Some(c) = self.limits.cpus {
            cpus(c, host_cpus)?;
        }
        if let Some(p) = self.limits.pids {
            pids(p)?;
        }
        ports(&self.ports, self.network)?;
        Ok(())
    }
}

/// A published port as podman's `-p` writes it (`[ip:]hostPort:containerPort[/tcp|udp]`, ports
/// or ranges of equal length), with what the bridge can do: an IPv4 host address, a host port
/// given, TCP or UDP.
pub fn port(v: &str) -> Result<PortSpec> {
    let p = PortSpec::parse(v)?;
    let bad = |why: &str| PodError::invalid("ports", format!("`{v}`: {why}"));
    if p.host_ip.is_some_and(|ip| !ip.is_ipv4()) {
        return Err(bad("the bridge is IPv4: give an IPv4 host address"));
    }
    if p.host_ip.is_some_and(|ip| ip.is_unspecified()) {
        return Err(bad("leave the address out to publish on every address"));
    }
    if p.host_port.is_none() {
        return Err(bad("give the host port (`HOST:CONTAINER`)"));
    }
    if p.protocol == Protocol::Sctp {
        return Err(bad("only tcp and udp are published"));
    }
    Ok(p)
}

/// The published ports of one container: each valid, on the bridge, no host port twice.
pub fn ports(list: &[PortSpec], network: NetworkMode) -> Result<()> {
    if !list.is_empty() && network != NetworkMode::Bridge {
        return Err(PodError::invalid(
            "ports",
            format!(
                "ports are published through the bridge; network \"{}\" has none",
                network.as_str()
            ),
        ));
    }
    for (i, p) in list.iter().enumerate() {
        port(&p.to_string())?;
        for q in &list[..i] {
            let clash = p.protocol == q.protocol
                && (p.host_ip.is_none() || q.host_ip.is_none() || p.host_ip == q.host_ip)
                && matches!((p.host_port, q.host_port), (Some(a), Some(b)) if a.overlaps(&b));
            if clash {
                return Err(PodError::invalid(
                    "ports",
                    format!("`{p}` and `{q}` publish the same host port"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(r: Result<impl std::fmt::Debug>) -> String {
        match r {
            Err(PodError::InvalidArgument { field, .. }) => field,
            other => panic!("expected invalid_argument, got {other:?}"),
        }
    }

    #[test]
    fn hostile_names_are_rejected() {
        for bad in [
            "",
            "a;rm -rf /",
            "../x",
            "..",
            ".",
            "-rf",
            "a/b",
            "a b",
            "a\nb",
            "a\0b",
            "$(reboot)",
            "`id`",
            "wеb",         // Cyrillic e
            "web\u{200b}", // zero-width space
            "web\u{202e}", // right-to-left override
            "ｗｅｂ",      // full-width
            "a:b",
            "a,b",
        ] {
            assert_eq!(kind(name("name", bad)), "name", "{bad:?}");
        }
        assert_eq!(kind(name("name", &"a".repeat(300))), "name");
        assert_eq!(kind(name("name", &"a".repeat(64))), "name");
        for good in ["web", "web-1", "a.b_c", "0", &"a".repeat(63)] {
            name("name", good).unwrap();
        }
    }

    #[test]
    fn paths_and_base_dirs() {
        abs_path("p", "/srv/data").unwrap();
        for bad in ["rel", "/a/../b", "/a\0", ""] {
            assert_eq!(kind(abs_path("p", bad)), "p", "{bad:?}");
        }
        base_dir("/var/lib/herodo").unwrap();
        for bad in ["/a,b", "/a:b", "/a b", "/x/../y"] {
            assert_eq!(kind(base_dir(bad)), "base_dir", "{bad:?}");
        }
    }

    #[test]
    fn mounts() {
        assert_eq!(
            BindMount::parse("/srv:/data:ro").unwrap(),
            BindMount {
                source: "/srv".into(),
                destination: "/data".into(),
                readonly: true
            }
        );
        assert!(!BindMount::parse("/srv:/data").unwrap().readonly);
        assert!(!BindMount::parse("/srv:/data:rw").unwrap().readonly);
        for bad in [
            "/srv",
            "srv:/data",
            "/srv:data",
            "/srv:/data:rx",
            "/srv:/data:ro:x",
            "/srv:/",
            "/srv:/proc",
            "/srv:/sys/",
            "/a:/b;rm",
        ] {
            if bad == "/a:/b;rm" {
                // Characters are fine in paths (argv only, never a shell).
                BindMount::parse(bad).unwrap();
                continue;
            }
            assert!(kind(BindMount::parse(bad)).starts_with("mounts"), "{bad:?}");
        }
    }

    #[test]
    fn protected_destinations_in_every_spelling() {
        for p in RESERVED_DESTINATIONS {
            let rest = p.trim_start_matches('/');
            let mut spellings = vec![
                p.to_string(),
                format!("{p}/"),
                format!("{p}/."),
                format!("{p}/./"),
                format!("{p}//"),
                format!("/{p}"),
                format!("//{rest}/"),
                format!("/./{rest}"),
                format!("/x/..{p}"),
                format!("/x/y/../..{p}"),
                format!("/..{p}"),
                format!("/../..{p}/."),
                format!("{p}/sub/.."),
                format!("{p}/sub/../."),
            ];
            if !rest.is_empty() {
                spellings.push(format!("{p}/../{rest}"));
                spellings.push(format!("/{rest}//."));
            }
            for d in spellings {
                let e = BindMount::parse(&format!("/srv:{d}")).unwrap_err();
                assert_eq!(kind(Err::<(), _>(e)), "mounts.destination", "{d:?}");
                let e = BindMount::new("/srv", &d, true).unwrap_err();
                assert!(
                    e.to_string().contains("managed by the runtime"),
                    "{d:?}: {e}"
                );
                // A record holding such a spelling is refused too.
                let stored = BindMount {
                    source: "/srv".into(),
                    destination: d.clone(),
                    readonly: false,
                };
                assert_eq!(kind(stored.validate()), "mounts.destination", "{d:?}");
            }
        }
        // Other destinations are stored cleaned.
        for (given, cleaned) in [
            ("/data/", "/data"),
            ("//data", "/data"),
            ("/data/.", "/data"),
            ("/a//b/./c/../d", "/a/b/d"),
            ("/../etc", "/etc"),
            ("/dev/shm/", "/dev/shm"),
            ("/x/../devices", "/devices"),
            ("/proc2", "/proc2"),
        ] {
            let m = BindMount::parse(&format!("/srv:{given}")).unwrap();
            assert_eq!(m.destination, cleaned, "{given:?}");
            assert_eq!(clean_path(given), cleaned);
        }
        for bad in ["data", "./data", "", "/a\0b"] {
            assert_eq!(
                kind(BindMount::new("/srv", bad, false)),
                "mounts.destination",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn env_values_fit_what_the_kernel_passes() {
        let with = |k: &str, v: String| Overrides {
            env: vec![(k.into(), v)],
            ..Overrides::default()
        };
        // KEY=value plus its NUL: at most 128 KiB (MAX_ARG_STRLEN).
        with("AB", "x".repeat(MAX_ENV_ENTRY - 4))
            .validate(2)
            .unwrap();
        let e = with("AB", "x".repeat(MAX_ENV_ENTRY - 3))
            .validate(2)
            .unwrap_err();
        assert!(e.to_string().contains("AB"), "{e}");
        assert_eq!(kind(Err::<(), _>(e)), "env");
        let e = with("BIG", "x".repeat(200 * 1024)).validate(2).unwrap_err();
        assert!(e.to_string().contains("BIG"), "{e}");
        assert_eq!(kind(with("N", "a\0b".into()).validate(2)), "env");
    }

    #[test]
    fn sizes_and_limits() {
        assert_eq!(memory_str("64m").unwrap(), 64 << 20);
        assert_eq!(memory_str("64MiB").unwrap(), 64 << 20);
        assert_eq!(memory_str("1G").unwrap(), 1 << 30);
        assert_eq!(memory_str("1.5g").unwrap(), 3 << 29);
        assert_eq!(memory_str("67108864").unwrap(), 67108864);
        for bad in [
            "",
            "m",
            "-1m",
            "1x",
            "1e300",
            "nan",
            "1k",
            "5m",
            "99999999t",
        ] {
            assert_eq!(kind(memory_str(bad)), "memory", "{bad:?}");
        }
        assert_eq!(kind(memory_bytes(-1)), "memory");
        assert_eq!(kind(memory_bytes(i64::MAX)), "memory");
        cpus(0.5, 2).unwrap();
        for bad in [0.0, -1.0, 0.001, 3.0, f64::NAN, f64::INFINITY] {
            assert_eq!(kind(cpus(bad, 2)), "cpus", "{bad}");
        }
        pids(20).unwrap();
        for bad in [0, -1, i64::MAX] {
            assert_eq!(kind(pids(bad)), "pids");
        }
    }

    #[test]
    fn overrides_validate_every_field() {
        let ok = Overrides {
            env: vec![("A".into(), "1".into())],
            workdir: Some("/app".into()),
            user: Some("1000:1000".into()),
            ..Overrides::default()
        };
        ok.validate(2).unwrap();
        let cases: Vec<(Overrides, &str)> = vec![
            (
                Overrides {
                    env: vec![("A=B".into(), "1".into())],
                    ..Overrides::default()
                },
                "env",
            ),
            (
                Overrides {
                    workdir: Some("app".into()),
                    ..Overrides::default()
                },
                "workdir",
            ),
            (
                Overrides {
                    user: Some("root;id".into()),
                    ..Overrides::default()
                },
                "user",
            ),
            (
                Overrides {
                    cmd: Some(vec!["a\0b".into()]),
                    ..Overrides::default()
                },
                "cmd",
            ),
            (
                Overrides {
                    limits: Limits {
                        cpus: Some(99.0),
                        ..Limits::default()
                    },
                    ..Overrides::default()
                },
                "cpus",
            ),
        ];
        for (o, field) in cases {
            assert_eq!(kind(o.validate(2)), field);
        }
        assert_eq!(NetworkMode::parse("host").unwrap(), NetworkMode::Host);
        assert_eq!(kind(NetworkMode::parse("bridge0")), "network");
        assert_eq!(kind(PullPolicy::parse("never")), "pull");
    }

    #[test]
    fn published_ports() {
        for ok in [
            "127.0.0.1:8080:80",
            "8443:443/tcp",
            "5353:53/udp",
            "9000-9002:7000-7002",
        ] {
            assert_eq!(
                port(ok).unwrap().to_string().trim_end_matches("/tcp"),
                ok.trim_end_matches("/tcp")
            );
        }
        for bad in [
            "80",              // no host port
            "127.0.0.1::80",   // no host port
            "[::1]:8080:80",   // IPv6
            "0.0.0.0:8080:80", // say it by leaving the address out
            "8080:80/sctp",
            "8080:80/icmp",
            "99999:80",
            "",
        ] {
            assert_eq!(kind(port(bad)), "ports", "{bad:?}");
        }
        let list = |v: &[&str]| v.iter().map(|s| port(s).unwrap()).collect::<Vec<_>>();
        ports(
            &list(&["8080:80", "8080:80/udp", "127.0.0.1:8081:80"]),
            NetworkMode::Bridge,
        )
        .unwrap();
        for clash in [
            &["8080:80", "8080:81"][..],
            &["127.0.0.1:8080:80", "8080:81"],
            &["8000-8010:8000-8010", "8005:80"],
        ] {
            assert_eq!(
                kind(ports(&list(clash), NetworkMode::Bridge)),
                "ports",
                "{clash:?}"
            );
        }
        // Two addresses of the host may publish the same port.
        ports(
            &list(&["127.0.0.1:8080:80", "127.0.0.2:8080:80"]),
            NetworkMode::Bridge,
        )
        .unwrap();
        assert_eq!(kind(ports(&list(&["8080:80"]), NetworkMode::Host)), "ports");
        assert_eq!(kind(ports(&list(&["8080:80"]), NetworkMode::None)), "ports");
        // Records keep the canonical strings.
        let o = Overrides {
            ports: list(&["127.0.0.1:8080:80"]),
            ..Overrides::default()
        };
        let json = serde_json::to_string(&o).unwrap();
        assert!(
            json.contains(r#""ports":["127.0.0.1:8080:80/tcp"]"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<Overrides>(&json).unwrap(), o);
        // A record written before ports existed still reads.
        let old = json.replace(r#","ports":["127.0.0.1:8080:80/tcp"]"#, "");
        assert!(serde_json::from_str::<Overrides>(&old)
            .unwrap()
            .ports
            .is_empty());
    }
}
