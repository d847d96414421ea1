//! Where buildah runs when it is not here: another host over SSH.
//!
//! ssh reads every `-o` option as a line of its configuration, and some options run local
//! commands (`ProxyCommand`, `LocalCommand`, `Match exec`) or pull in other files (`Include`).
//! A script-supplied option must therefore never reach ssh unchecked: only a short list of
//! options that merely tune the connection is accepted, each with its value checked, and the
//! target and port are validated as well. Everything is rejected before ssh runs.

use serde::{Deserialize, Serialize};

use super::BuildahError;
use crate::common::convert::int_in;
use crate::exec::Cmd;

type Result<T> = std::result::Result<T, BuildahError>;

/// Where buildah runs: on `target` (`user@host` or `host`) over SSH.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Remote {
    pub target: String,
    pub port: Option<u16>,
    pub identity: Option<String>,
    /// Extra `-o` options for ssh, normalised to `Key=value` by [`Remote::checked`].
    pub options: Vec<String>,
}

/// How an allowed ssh option's value is checked.
#[derive(Clone, Copy)]
enum Value {
    /// An integer in `min..=max`.
    Int(i64, i64),
    /// One of these words (case-insensitive).
    Word(&'static [&'static str]),
    /// A file path: no whitespace, quotes, backslashes or control characters.
    Path,
    /// A user name.
    User,
}

const YES_NO: &[&str] = &["yes", "no"];

/// The ssh options a script may pass: each only tunes the connection. Left out on purpose:
/// ProxyCommand, LocalCommand, PermitLocalCommand and KnownHostsCommand run local commands;
/// Include and Match read other configuration (Match exec runs a command); ProxyJump and
/// RemoteCommand start further connections or commands; forwarding options open ports.
const SSH_OPTIONS: &[(&str, Value)] = &[
    ("AddressFamily", Value::Word(&["any", "inet", "inet6"])),
    // herodo always runs ssh in batch mode (no password prompt can hang a script).
    ("BatchMode", Value::Word(&["yes"])),
    ("CheckHostIP", Value::Word(YES_NO)),
    ("Compression", Value::Word(YES_NO)),
    ("ConnectionAttempts", Value::Int(1, 100)),
    ("ConnectTimeout", Value::Int(1, 3600)),
    ("IdentitiesOnly", Value::Word(YES_NO)),
    ("IdentityFile", Value::Path),
    (
        "LogLevel",
        Value::Word(&[
            "quiet", "fatal", "error", "info", "verbose", "debug", "debug1", "debug2", "debug3",
        ]),
    ),
    ("Port", Value::Int(1, 65535)),
    ("ServerAliveCountMax", Value::Int(0, 1000)),
    ("ServerAliveInterval", Value::Int(0, 86400)),
    (
        "StrictHostKeyChecking",
        Value::Word(&["yes", "no", "accept-new", "off", "ask"]),
    ),
    ("User", Value::User),
    ("UserKnownHostsFile", Value::Path),
];

fn bad(field: &str, reason: impl Into<String>) -> BuildahError {
    BuildahError::invalid(field, reason)
}

/// One `-o` option (`Key=value` or `Key value`, key case-insensitive), checked against
/// [`SSH_OPTIONS`] and returned as `Key=value` with the key's canonical spelling.
pub fn ssh_option(option: &str) -> Result<String> {
    let field = "remote.options";
    // ssh's own syntax: `Key=value`, `Key value` or `Key = value`.
    let (key, value) = option
        .trim()
        .split_once(|c: char| c == '=' || c.is_ascii_whitespace())
        .map(|(k, v)| {
            let v = v.trim_start();
            (k, v.strip_prefix('=').unwrap_or(v).trim())
        })
        .ok_or_else(|| bad(field, format!("`{option}` is not Key=value")))?;
    let Some((canonical, check)) = SSH_OPTIONS
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
    else {
        let known: Vec<&str> = SSH_OPTIONS.iter().map(|(k, _)| *k).collect();
        return Err(bad(
            field,
            format!(
                "ssh option `{key}` is not allowed (allowed: {})",
                known.join(", ")
            ),
        ));
    };
    let ok = match check {
        Value::Int(min, max) => value
            .parse::<i64>()
            .is_ok_and(|n| (*min..=*max).contains(&n)),
        Value::Word(words) => words.iter().any(|w| w.eq_ignore_ascii_case(value)),
        Value::Path => {
            !value.is_empty()
                && !value.starts_with('-')
                && !value
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || "\"'\\".contains(c))
        }
        Value::User => valid_user(value),
    };
    if !ok {
        let expected = match check {
            Value::Int(min, max) => format!("an integer between {min} and {max}"),
            Value::Word(words) => words.join(", "),
            Value::Path => "a path without spaces or quotes".to_string(),
            Value::User => "a user name".to_string(),
        };
        return Err(bad(
            field,
            format!("`{value}` is not a valid value for {canonical} (expected {expected})"),
        ));
    }
    Ok(format!("{canonical}={value}"))
}

/// A login name: letters, digits, `_`, `.` and `-`, not starting with `-` or `.`.
fn valid_user(u: &str) -> bool {
    !u.is_empty()
        && u.len() <= 64
        && u.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && u.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// A host: an IPv4 or IPv6 address, or a DNS name (labels of letters, digits and `-`).
fn valid_host(h: &str) -> bool {
    if h.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn port_number(text: &str, whole: &str) -> Result<u16> {
    let n: i64 = text.parse().map_err(|_| {
        bad(
            "remote.port",
            format!("`{text}` in `{whole}` is not a port number"),
        )
    })?;
    Ok(int_in("remote.port", n, 1u16, u16::MAX)?)
}

/// A remote as a script describes it in a map, `#{host, user, port, identity, options}`:
/// the fields as given, checked by [`RemoteSpec::remote`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RemoteSpec {
    pub host: Option<String>,
    pub user: Option<String>,
    pub port: Option<i64>,
    pub identity: Option<String>,
    pub options: Vec<String>,
}

impl RemoteSpec {
    /// The checked remote: a host is required, the port lies in 1..=65535, and the user,
    /// host and options pass [`Remote::new`].
    pub fn remote(self) -> Result<Remote> {
        let host = self.host.ok_or_else(|| bad("remote.host", "is required"))?;
        let port = self
            .port
            .map(|n| int_in("remote.port", n, 1u16, u16::MAX))
            .transpose()?;
        Remote::new(
            self.user.as_deref(),
            &host,
            port,
            self.identity,
            self.options,
        )
    }
}

impl Remote {
    /// Parse `"[user@]host[:port]"`; an IPv6 host goes in brackets when a port follows
    /// (`root@[::1]:22`).
    pub fn parse(spec: &str) -> Result<Remote> {
        let (user, hostport) = match spec.split_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, spec),
        };
        let (host, port) = if let Some(inner) = hostport.strip_prefix('[') {
            let (h, rest) = inner.split_once(']').ok_or_else(|| {
                bad(
                    "remote",
                    format!("`{spec}` has an unclosed `[` in the host"),
                )
            })?;
            if h.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(bad(
                    "remote.host",
                    format!("`{h}` in brackets is not an IPv6 address"),
                ));
            }
            let port = match rest {
                "" => None,
                p => Some(port_number(
                    p.strip_prefix(':').ok_or_else(|| {
                        bad("remote", format!("`{spec}` is not user@host[:port]"))
                    })?,
                    spec,
                )?),
            };
            (h, port)
        } else if hostport.matches(':').count() == 1 {
            let (h, p) = hostport.split_once(':').unwrap_or((hostport, ""));
            (h, Some(port_number(p, spec)?))
        } else {
            // No colon, or a bare IPv6 address (several colons, no port).
            (hostport, None)
        };
        Remote::new(user, host, port, None, Vec::new())
    }

    /// A checked remote from its parts: a valid user and host, a port in 1..=65535, an
    /// identity path, and options from the allowed list (see [`ssh_option`]).
    pub fn new(
        user: Option<&str>,
        host: &str,
        port: Option<u16>,
        identity: Option<String>,
        options: Vec<String>,
    ) -> Result<Remote> {
        if let Some(u) = user {
            if !valid_user(u) {
                return Err(bad("remote.user", format!("`{u}` is not a user name")));
            }
        }
        if !valid_host(host) {
            return Err(bad(
                "remote.host",
                format!("`{host}` is not a host name or IP address"),
            ));
        }
        let target = match user {
            Some(u) => format!("{u}@{host}"),
            None => host.to_string(),
        };
        Remote {
            target,
            port,
            identity,
            options,
        }
        .checked()
    }

    /// This remote validated, with its options normalised: every construction path and every
    /// record read back from the state directory goes through here before ssh runs.
    pub fn checked(self) -> Result<Remote> {
        let (user, host) = match self.target.split_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, self.target.as_str()),
        };
        if user.is_some_and(|u| !valid_user(u)) || !valid_host(host) {
            return Err(bad("remote", format!("`{}` is not user@host", self.target)));
        }
        if self.port == Some(0) {
            return Err(bad("remote.port", "must be between 1 and 65535, got 0"));
        }
        if let Some(i) = &self.identity {
            if i.is_empty() || i.starts_with('-') || i.chars().any(|c| c.is_control()) {
                return Err(bad(
                    "remote.identity",
                    format!("`{i}` is not a key file path"),
                ));
            }
        }
        let options = self
            .options
            .iter()
            .map(|o| ssh_option(o))
            .collect::<Result<Vec<_>>>()?;
        Ok(Remote { options, ..self })
    }

    /// `ssh ... TARGET -- SCRIPT`: the remote side needs a command line, so every value in
    /// SCRIPT must already be quoted (see [`super::quote_argv`]). With `secret`, the script is
    /// shown as `***` (it carries a value that must not be shown).
    pub fn ssh(&self, script: String, secret: bool) -> Cmd {
        // ssh keeps the first value it sees for an option: batch mode comes first so nothing
        // can turn it off, the connect timeout last so a script's own value wins.
        let mut c = Cmd::new("ssh").args(["-o", "BatchMode=yes"]);
        for o in &self.options {
            c = c.arg("-o").arg(o.clone());
        }
        c = c.args(["-o", "ConnectTimeout=10"]);
        if let Some(p) = self.port {
            c = c.arg("-p").arg(p.to_string());
        }
        if let Some(i) = &self.identity {
            c = c.arg("-i").arg(i.clone());
        }
        c = c.arg(self.target.clone()).arg("--");
        if secret {
            c.secret_arg(script)
        } else {
            c.arg(script)
        }
    }

    /// A short form for resource names and messages: `user@host[:port]`.
    pub fn label(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.target),
            None => self.target.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_strings() {
        // (given, Some((target, port)) when accepted)
        type Case<'a> = (&'a str, Option<(&'a str, Option<u16>)>);
        let cases: &[Case] = &[
            ("root@host", Some(("root@host", None))),
            ("root@10.0.0.5:2222", Some(("root@10.0.0.5", Some(2222)))),
            ("build.example.com", Some(("build.example.com", None))),
            ("root@[::1]:22", Some(("root@::1", Some(22)))),
            ("root@::1", Some(("root@::1", None))),
            ("u@h:65535", Some(("u@h", Some(65535)))),
            ("user@host:0", None),
            ("user@host:abc", None),
            ("user@host:", None),
            ("user@host:65536", None),
            ("user@host:-1", None),
            ("user@host:22:33", None),
            ("user@[::1", None),
            ("user@[::1]x", None),
            ("-oProxyCommand=evil", None),
            ("a;b", None),
            ("root@-host", None),
            ("root@host name", None),
            ("-root@host", None),
            ("a@b@c", None),
            ("", None),
            ("root@", None),
            ("root@host..x", None),
            ("root@[nothost]:22", None),
        ];
        for (spec, want) in cases {
            let got = Remote::parse(spec);
            match want {
                Some((target, port)) => {
                    let r = got.unwrap_or_else(|e| panic!("{spec}: {e}"));
                    assert_eq!((r.target.as_str(), r.port), (*target, *port), "{spec}");
                }
                None => {
                    let e = got.expect_err(spec);
                    assert!(
                        matches!(e, BuildahError::InvalidArgument { .. }),
                        "{spec}: {e}"
                    );
                }
            }
        }
    }

    #[test]
    fn ssh_options_are_an_allow_list() {
        let ok = [
            ("StrictHostKeyChecking=no", "StrictHostKeyChecking=no"),
            (
                "stricthostkeychecking=accept-new",
                "StrictHostKeyChecking=accept-new",
            ),
            (
                "UserKnownHostsFile=/dev/null",
                "UserKnownHostsFile=/dev/null",
            ),
            ("LogLevel=ERROR", "LogLevel=ERROR"),
            ("Port 2222", "Port=2222"),
            ("ConnectTimeout = 3", "ConnectTimeout=3"),
            (
                "IdentityFile=~/.ssh/id_ed25519",
                "IdentityFile=~/.ssh/id_ed25519",
            ),
            ("IdentitiesOnly=yes", "IdentitiesOnly=yes"),
            ("User=deploy", "User=deploy"),
            ("ServerAliveInterval=15", "ServerAliveInterval=15"),
            ("ServerAliveCountMax=3", "ServerAliveCountMax=3"),
            ("Compression=yes", "Compression=yes"),
            ("BatchMode=yes", "BatchMode=yes"),
        ];
        for (given, normalised) in ok {
            assert_eq!(ssh_option(given).unwrap(), normalised, "{given}");
        }
        let rejected = [
            "ProxyCommand=touch /tmp/pwned; exit 1",
            "proxycommand=sh -c x",
            "LocalCommand=id",
            "PermitLocalCommand=yes",
            "Include=/tmp/evil.conf",
            "Match=exec true",
            "ProxyJump=evil",
            "KnownHostsCommand=/bin/sh",
            "RemoteCommand=id",
            "LocalForward=8080 localhost:80",
            "BatchMode=no",
            "Port=0",
            "Port=70000",
            "Port=22 ProxyCommand=x",
            "ConnectTimeout=abc",
            "StrictHostKeyChecking=maybe",
            "UserKnownHostsFile=/dev/null ProxyCommand=x",
            "IdentityFile=",
            "IdentityFile=\"/x\"",
            "User=-oProxyCommand=x",
            "NoValue",
            "",
        ];
        for given in rejected {
            let e = ssh_option(given).expect_err(given);
            assert!(
                matches!(e, BuildahError::InvalidArgument { .. }),
                "{given}: {e}"
            );
        }
    }

    #[test]
    fn ssh_argv_keeps_batch_mode_first() {
        let r = Remote::new(
            Some("root"),
            "127.0.0.1",
            Some(2222),
            Some("/k".into()),
            vec!["connecttimeout=3".into(), "StrictHostKeyChecking=no".into()],
        )
        .unwrap();
        let c = r.ssh("buildah images".into(), false);
        assert_eq!(
            c.argv(),
            vec![
                "ssh",
                "-o",
                "BatchMode=yes",
                "-o",
                "ConnectTimeout=3",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "ConnectTimeout=10",
                "-p",
                "2222",
                "-i",
                "/k",
                "root@127.0.0.1",
                "--",
                "buildah images"
            ]
        );
        let hidden = r.ssh("buildah config --env TOKEN=abcdefgh c".into(), true);
        assert!(
            hidden.to_string().ends_with("root@127.0.0.1 -- ***"),
            "{hidden}"
        );
        assert_eq!(r.label(), "root@127.0.0.1:2222");
    }

    #[test]
    fn remote_maps() {
        let spec = |host: Option<&str>, port: Option<i64>| RemoteSpec {
            host: host.map(String::from),
            user: Some("root".into()),
            port,
            ..RemoteSpec::default()
        };
        let r = spec(Some("10.0.0.5"), Some(2222)).remote().unwrap();
        assert_eq!((r.target.as_str(), r.port), ("root@10.0.0.5", Some(2222)));
        assert_eq!(spec(Some("h"), None).remote().unwrap().port, None);
        // (host, port, field named in the error)
        let rejected = [
            (None, None, "remote.host"),
            (Some("h"), Some(0), "remote.port"),
            (Some("h"), Some(70000), "remote.port"),
            (Some("h"), Some(-1), "remote.port"),
            (Some("h"), Some(i64::MAX), "remote.port"),
            (Some("bad host"), None, "remote.host"),
        ];
        for (host, port, field) in rejected {
            match spec(host, port).remote() {
                Err(BuildahError::InvalidArgument { field: f, reason }) => {
                    assert_eq!(f, field, "{host:?} {port:?}");
                    assert!(!reason.contains("invalid"), "{reason}");
                }
                other => panic!("{host:?} {port:?}: {other:?}"),
            }
        }
        // The field is named once, whichever form the port came in.
        let e = Remote::parse("u@h:70000").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid remote.port: must be between 1 and 65535, got 70000"
        );
        let proxy = RemoteSpec {
            host: Some("h".into()),
            options: vec!["ProxyCommand=touch /tmp/x".into()],
            ..RemoteSpec::default()
        };
        assert!(proxy.remote().is_err());
    }

    #[test]
    fn records_are_checked_again() {
        let tampered = Remote {
            target: "root@host".into(),
            options: vec!["ProxyCommand=x".into()],
            ..Remote::default()
        };
        assert!(tampered.checked().is_err());
        let zero = Remote {
            target: "root@host".into(),
            port: Some(0),
            ..Remote::default()
        };
        assert!(zero.checked().is_err());
        let identity = Remote {
            target: "h".into(),
            identity: Some("-oProxyCommand=x".into()),
            ..Remote::default()
        };
        assert!(identity.checked().is_err());
    }
}
