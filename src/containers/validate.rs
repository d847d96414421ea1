//! Checks on every value before any command runs: a bad value is an `invalid_argument` error
//! naming the field, and nothing is executed.

use super::error::ContainerError;

type Result<T> = std::result::Result<T, ContainerError>;

fn bad(field: &str, reason: impl Into<String>) -> ContainerError {
    ContainerError::invalid(field, reason)
}

/// Container, network and volume names (the shared rule: see [`crate::common::validate::name`]).
pub fn name(field: &str, v: &str) -> Result<()> {
    crate::common::validate::name(field, v).map_err(shared)
}

/// An image reference (the shared rule: see [`crate::common::validate::image`]).
pub fn image(field: &str, v: &str) -> Result<()> {
    crate::common::validate::image(field, v).map_err(shared)
}

/// The shared floor's invalid-argument error as this domain's.
fn shared(e: crate::error::HostError) -> ContainerError {
    match e {
        crate::error::HostError::InvalidArgument { field, reason } => bad(&field, reason),
        other => bad("argument", other.to_string()),
    }
}

/// A port mapping: `[ip:][hostPort:]containerPort[/tcp|udp|sctp]` (the shared parser: see
/// [`crate::common::portspec::PortSpec`]).
pub fn port(v: &str) -> Result<()> {
    crate::common::portspec::PortSpec::parse(v)
        .map(|_| ())
        .map_err(|e| match e {
            crate::error::HostError::InvalidArgument { reason, .. } => bad("port", reason),
            other => shared(other),
        })
}

/// A volume: `hostPathOrName:/container/path[:options]`, or an anonymous `/container/path`.
pub fn volume(v: &str) -> Result<()> {
    let field = "volume";
    if v.is_empty() || v.contains('\0') || v.contains('\n') {
        return Err(bad(field, "is empty or contains a control character"));
    }
    let parts: Vec<&str> = v.split(':').collect();
    let (src, dst, opts) = match parts.as_slice() {
        [d] => (None, *d, None),
        [s, d] => (Some(*s), *d, None),
        [s, d, o] => (Some(*s), *d, Some(*o)),
        _ => {
            return Err(bad(
                field,
                format!("`{v}` is not source:/container/path[:options]"),
            ))
        }
    };
    if !dst.starts_with('/') {
        return Err(bad(
            field,
            format!("`{v}`: the container path `{dst}` must be absolute"),
        ));
    }
    if let Some(s) = src {
        if s.is_empty() {
            return Err(bad(field, format!("`{v}`: empty source")));
        }
        if !s.starts_with('/') && !s.starts_with('.') {
            name(field, s)?;
        }
    }
    if let Some(o) = opts {
        for opt in o.split(',') {
            if !matches!(
                opt,
                "ro" | "rw"
                    | "z"
                    | "Z"
                    | "shared"
                    | "rshared"
                    | "slave"
                    | "rslave"
                    | "private"
                    | "rprivate"
                    | "nocopy"
                    | "U"
                    | "O"
                    | "exec"
                    | "noexec"
                    | "suid"
                    | "nosuid"
                    | "dev"
                    | "nodev"
            ) {
                return Err(bad(field, format!("`{v}`: unknown option `{opt}`")));
            }
        }
    }
    Ok(())
}

/// An environment variable name.
pub fn env_key(k: &str) -> Result<()> {
    crate::common::validate::env_name("env", k).map_err(shared)
}

/// A CPU count like `0.5` or `2`.
pub fn cpus(v: &str) -> Result<()> {
    match v.parse::<f64>() {
        Ok(n) if n > 0.0 && n <= 1024.0 => Ok(()),
        _ => Err(bad(
            "cpu_limit",
            format!("`{v}` is not a positive number of CPUs"),
        )),
    }
}

/// A memory size like `512m`, `1g`, `1048576`, or `-1` (unlimited swap).
pub fn memory(field: &str, v: &str) -> Result<()> {
    if field == "memory_swap_limit" && v == "-1" {
        return Ok(());
    }
    let lower = v.to_ascii_lowercase();
    let num = lower.trim_end_matches(['b', 'k', 'm', 'g', 't']);
    let suffix = &lower[num.len()..];
    let ok = !num.is_empty()
        && num.chars().all(|c| c.is_ascii_digit() || c == '.')
        && num.parse::<f64>().is_ok_and(|n| n > 0.0)
        && matches!(
            suffix,
            "" | "b" | "k" | "m" | "g" | "t" | "kb" | "mb" | "gb" | "tb"
        );
    if !ok {
        return Err(bad(field, format!("`{v}` is not a size like 512m or 1g")));
    }
    Ok(())
}

pub fn cpu_shares(v: &str) -> Result<()> {
    match v.parse::<u64>() {
        Ok(n) if (2..=262144).contains(&n) => Ok(()),
        _ => Err(bad(
            "cpu_shares",
            format!("`{v}` is not a number from 2 to 262144"),
        )),
    }
}

/// `no`, `always`, `unless-stopped`, `on-failure[:N]`.
pub fn restart_policy(v: &str) -> Result<()> {
    let ok = match v.split_once(':') {
        Some(("on-failure", n)) => n.parse::<u32>().is_ok(),
        Some(_) => false,
        None => matches!(v, "no" | "always" | "unless-stopped" | "on-failure"),
    };
    if !ok {
        return Err(bad(
            "restart_policy",
            format!("`{v}` is not no, always, unless-stopped or on-failure[:N]"),
        ));
    }
    Ok(())
}

pub use crate::common::duration::parse_go_duration;

/// A duration in Go syntax like `10s`, `1m30s`, `500ms` (see [`parse_go_duration`]).
pub fn duration(field: &str, v: &str) -> Result<()> {
    if parse_go_duration(v).is_none() {
        return Err(bad(
            field,
            format!("`{v}` is not a duration like 10s, 1m30s or 500ms"),
        ));
    }
    Ok(())
}

/// A host device for `--device`: `HOST[:CONTAINER[:PERMISSIONS]]`, `HOST` a path under /dev
/// (never a file like /etc/shadow), `CONTAINER` absolute, `PERMISSIONS` made of `r`, `w`, `m`.
pub fn device(v: &str) -> Result<()> {
    let field = "device";
    let parts: Vec<&str> = v.split(':').collect();
    let (host, container, perms) = match parts.as_slice() {
        [h] => (*h, None, None),
        [h, c] => (*h, Some(*c), None),
        [h, c, p] => (*h, Some(*c), Some(*p)),
        _ => {
            return Err(bad(
                field,
                format!("`{v}` is not /dev/HOST[:/CONTAINER[:rwm]]"),
            ))
        }
    };
    let clean = |p: &str| !p.contains('\0') && !p.split('/').any(|c| c == "..");
    if !host.starts_with("/dev/") || host.len() == 5 || !clean(host) {
        return Err(bad(
            field,
            format!("`{v}`: the host side `{host}` must be a /dev path"),
        ));
    }
    if let Some(c) = container {
        if !c.starts_with('/') || !clean(c) {
            return Err(bad(
                field,
                format!("`{v}`: the container side `{c}` must be an absolute path"),
            ));
        }
    }
    if let Some(p) = perms {
        if p.is_empty() || !p.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
            return Err(bad(
                field,
                format!("`{v}`: permissions `{p}` must be made of r, w and m"),
            ));
        }
    }
    Ok(())
}

/// A label or annotation key. The owner label is herodo's own: a script cannot set it (it
/// decides what `herodo clean` may remove).
pub fn label_key(field: &str, k: &str) -> Result<()> {
    if k.is_empty() || k.contains(['=', '\n', '\0']) {
        return Err(bad(field, format!("`{k}` is not a valid key")));
    }
    if field == "label"
        && (k == crate::common::owner::OWNER_LABEL || k.starts_with(super::HERODO_LABEL_PREFIX))
    {
        return Err(bad(
            field,
            format!("`{k}` is reserved for herodo's own labels"),
        ));
    }
    Ok(())
}

/// A free-text value that reaches argv as one argument (an entrypoint): not empty, no NUL byte.
pub fn text(field: &str, v: &str) -> Result<()> {
    if v.is_empty() || v.contains('\0') {
        return Err(bad(field, "is empty or contains a NUL byte"));
    }
    Ok(())
}

/// A working directory inside a container: an absolute path.
pub fn workdir(v: &str) -> Result<()> {
    text("workdir", v)?;
    if !v.starts_with('/') {
        return Err(bad("workdir", format!("`{v}` must be an absolute path")));
    }
    Ok(())
}

/// A user inside a container: `name`, `uid` or `uid:gid`.
pub fn user(v: &str) -> Result<()> {
    if v.is_empty() || v.starts_with('-') || v.contains(['\0', '\n']) {
        return Err(bad(
            "user",
            format!("`{v}` is not a user (name, uid or uid:gid)"),
        ));
    }
    Ok(())
}

/// An OCI runtime: a name or a path.
pub fn runtime(v: &str) -> Result<()> {
    if v.is_empty() || v.starts_with('-') || v.contains('\0') {
        return Err(bad(
            "runtime",
            format!("`{v}` is not a runtime name or path"),
        ));
    }
    Ok(())
}

/// A subnet in CIDR notation (`10.89.0.0/24`, `fd00::/64`).
pub fn subnet(v: &str) -> Result<()> {
    let ok = v.split_once('/').is_some_and(|(ip, bits)| {
        ip.parse::<std::net::IpAddr>().is_ok() && bits.parse::<u8>().is_ok_and(|b| b <= 128)
    });
    if !ok {
        return Err(bad(
            "subnet",
            format!("`{v}` is not a CIDR like 10.89.0.0/24"),
        ));
    }
    Ok(())
}

/// The two sides of `cp`: paths, one of them `container:/path`; never an option.
pub fn copy_paths(src: &str, dst: &str) -> Result<()> {
    if [src, dst]
        .iter()
        .any(|p| p.is_empty() || p.starts_with('-'))
    {
        return Err(bad(
            "copy",
            "source and destination must be paths (one of them `container:/path`)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(name("name", "web-1.a_b").is_ok());
        for bad in ["", "-x", "a b", "a/b", "x;rm", &"a".repeat(129)] {
            assert!(name("name", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn images() {
        for ok in [
            "busybox",
            "localhost/busybox:test",
            "127.0.0.1:5000/a/b:1.0",
            "docker.io/library/redis:alpine",
            "nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert!(image("image", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Busybox",
            "a b",
            "-x",
            "x:",
            "x:bad tag",
            "a//b",
            "x@sha256:zz",
        ] {
            assert!(image("image", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ports() {
        for ok in [
            "80",
            "8080:80",
            "127.0.0.1:8080:80",
            "127.0.0.1::80",
            "53:53/udp",
            "8000-8010:8000-8010",
            "[::1]:80:80",
        ] {
            assert!(port(ok).is_ok(), "{ok}");
        }
        for bad in ["", "0", "70000", "a:80", "80/xyz", "1.2.3:80:80", "1:2:3:4"] {
            assert!(port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn volumes() {
        for ok in ["/data", "/host:/data", "./rel:/data:ro", "named:/data:ro,z"] {
            assert!(volume(ok).is_ok(), "{ok}");
        }
        for bad in ["", "/host:data", "/h:/d:bogus", "a:b:c:d", "bad name:/d"] {
            assert!(volume(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn limits_and_policies() {
        assert!(cpus("0.5").is_ok() && cpus("0").is_err() && cpus("x").is_err());
        assert!(memory("memory_limit", "512m").is_ok() && memory("memory_limit", "1G").is_ok());
        assert!(memory("memory_limit", "lots").is_err() && memory("memory_limit", "-1").is_err());
        assert!(memory("memory_swap_limit", "-1").is_ok());
        assert!(cpu_shares("512").is_ok() && cpu_shares("1").is_err());
        assert!(restart_policy("on-failure:3").is_ok() && restart_policy("sometimes").is_err());
        assert!(duration("interval", "1m30s").is_ok() && duration("interval", "500ms").is_ok());
        assert!(duration("interval", "10").is_err() && duration("interval", "s").is_err());
        assert!(env_key("MY_VAR").is_ok() && env_key("1X").is_err() && env_key("A-B").is_err());
    }

    #[test]
    fn go_durations() {
        use std::time::Duration;
        for (v, want) in [
            ("30s", Duration::from_secs(30)),
            ("1m30s", Duration::from_secs(90)),
            ("500ms", Duration::from_millis(500)),
            ("1.5s", Duration::from_millis(1500)),
            (".5s", Duration::from_millis(500)),
            ("1h2m3s4ms", Duration::from_millis(3_723_004)),
            ("0", Duration::ZERO),
            ("0s", Duration::ZERO),
            ("250us", Duration::from_micros(250)),
        ] {
            assert_eq!(parse_go_duration(v), Some(want), "{v}");
        }
        for bad in [
            "",
            "1.5.5s",
            "10",
            "s",
            ".s",
            "-1s",
            "+1s",
            "1 s",
            "1sm",
            "1d",
            "soon",
            "1e3s",
            "99999999999h",
        ] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
            assert!(duration("interval", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn devices_are_dev_paths() {
        for ok in [
            "/dev/fuse",
            "/dev/kvm:/dev/kvm",
            "/dev/null:/dev/x:rw",
            "/dev/net/tun",
        ] {
            assert!(device(ok).is_ok(), "{ok}");
        }
        for bad in [
            "/etc/shadow:/dev/x",
            "/etc/shadow",
            "/dev/",
            "/dev/../etc/shadow",
            "fuse",
            "/dev/null:rel",
            "/dev/null:/dev/x:rwx",
            "/dev/a:/b:r:extra",
        ] {
            assert!(device(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_owner_label_is_reserved() {
        assert!(label_key("label", "io.herodo.owner").is_err());
        assert!(label_key("label", "io.herodo.health-interval").is_err());
        assert!(label_key("label", "app").is_ok());
        assert!(label_key("annotation", "io.herodo.owner").is_ok());
    }

    #[test]
    fn paths_users_runtimes_subnets() {
        assert!(text("entrypoint", "/bin/sh").is_ok());
        assert!(text("entrypoint", "").is_err() && text("entrypoint", "a\0b").is_err());
        assert!(workdir("/data").is_ok());
        for bad in ["", "rel", "/a\0b"] {
            assert!(workdir(bad).is_err(), "{bad:?}");
        }
        for ok in ["root", "1000", "1000:1000"] {
            assert!(user(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-x", "a\nb"] {
            assert!(user(bad).is_err(), "{bad:?}");
        }
        assert!(runtime("runc").is_ok() && runtime("/usr/bin/crun").is_ok());
        assert!(runtime("").is_err() && runtime("--rm").is_err());
        assert!(subnet("10.89.7.0/24").is_ok() && subnet("fd00::/64").is_ok());
        for bad in ["10.89.7.0", "x/24", "10.0.0.0/999", ""] {
            assert!(subnet(bad).is_err(), "{bad}");
        }
        assert!(copy_paths("/tmp/x", "web:/x").is_ok());
        assert!(copy_paths("", "web:/x").is_err() && copy_paths("/x", "-rf").is_err());
    }
}
