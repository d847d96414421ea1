//! Published-port specs as podman's `-p` writes them: `[ip:][hostPort:]containerPort[/proto]`,
//! ports or ranges (`8000-8010`). One parser for every domain: the containers domain passes the
//! spec on to podman or docker, heropods turns it into iptables rules.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::error::HostError;

/// `N` or `A-B` (inclusive, A <= B), within 1-65535.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

impl PortRange {
    pub fn single(p: u16) -> Self {
        PortRange { start: p, end: p }
    }

    /// How many ports it holds.
    pub fn len(&self) -> usize {
        usize::from(self.end - self.start) + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn overlaps(&self, o: &PortRange) -> bool {
        self.start <= o.end && o.start <= self.end
    }

    pub fn iter(&self) -> impl Iterator<Item = u16> {
        self.start..=self.end
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

/// A transport protocol of a published port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// A published port: `host_ip:host_port -> container_port`, parsed from podman's `-p` syntax.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PortSpec {
    /// `None`: every address of the host.
    pub host_ip: Option<IpAddr>,
    /// `None`: not given (`80`, or `127.0.0.1::80`); the engine picks one.
    pub host_port: Option<PortRange>,
    pub container_port: PortRange,
    pub protocol: Protocol,
}

fn bad(spec: &str, why: impl fmt::Display) -> HostError {
    HostError::invalid("ports", format!("`{spec}`: {why}"))
}

fn range(spec: &str, p: &str) -> Result<PortRange, HostError> {
    let number = |n: &str| -> Result<u16, HostError> {
        n.parse::<u16>()
            .ok()
            .filter(|v| *v != 0)
            .ok_or_else(|| bad(spec, format!("`{n}` is not a port number (1-65535)")))
    };
    match p.split_once('-') {
        None => number(p).map(PortRange::single),
        Some((a, b)) => {
            let (start, end) = (number(a)?, number(b)?);
            if start > end {
                return Err(bad(spec, format!("the range `{p}` runs backwards")));
            }
            Ok(PortRange { start, end })
        }
    }
}

impl PortSpec {
    /// Parse `[ip:][hostPort:]containerPort[/tcp|udp|sctp]`; an IPv6 address goes in brackets
    /// (`[::1]:8080:80`). A host range and a container range must hold as many ports.
    pub fn parse(v: &str) -> Result<Self, HostError> {
        if v.is_empty() || v.len() > 128 || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad(
                v,
                "is not [ip:][hostPort:]containerPort[/tcp|udp|sctp]",
            ));
        }
        let (body, protocol) = match v.rsplit_once('/') {
            None => (v, Protocol::Tcp),
            Some((b, "tcp")) => (b, Protocol::Tcp),
            Some((b, "udp")) => (b, Protocol::Udp),
            Some((b, "sctp")) => (b, Protocol::Sctp),
            Some((_, p)) => return Err(bad(v, format!("unknown protocol `{p}`"))),
        };
        let (ip, rest): (Option<&str>, Vec<&str>) = if let Some(r) = body.strip_prefix('[') {
            let (ip, tail) = r.split_once(']').ok_or_else(|| bad(v, "unclosed `[`"))?;
            let tail = tail
                .strip_prefix(':')
                .ok_or_else(|| bad(v, "expected `:` after `]`"))?;
            (Some(ip), tail.split(':').collect())
        } else {
            let parts: Vec<&str> = body.split(':').collect();
            match parts.as_slice() {
                [ip, h, c] => (Some(*ip), vec![*h, *c]),
                _ => (None, parts),
            }
        };
        let host_ip = match ip {
            None => None,
            Some(s) => Some(
                s.parse::<IpAddr>()
                    .map_err(|_| bad(v, format!("`{s}` is not an IP address")))?,
            ),
        };
        let (host_port, container_port) = match rest.as_slice() {
            [c] if host_ip.is_none() => (None, range(v, c)?),
            [h, c] => {
                let hp = if h.is_empty() && host_ip.is_some() {
                    None
                } else {
                    Some(range(v, h)?)
                };
                (hp, range(v, c)?)
            }
            _ => {
                return Err(bad(
                    v,
                    "is not [ip:][hostPort:]containerPort[/tcp|udp|sctp]",
                ))
            }
        };
        if let Some(h) = host_port {
            if h.len() != container_port.len() {
                return Err(bad(
                    v,
                    "the host and container port ranges must hold as many ports",
                ));
            }
        }
        Ok(PortSpec {
            host_ip,
            host_port,
            container_port,
            protocol,
        })
    }
}

impl fmt::Display for PortSpec {
    /// The canonical form: `[ip:]host:container/proto` (an IPv6 address in brackets).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host_ip {
            Some(IpAddr::V6(ip)) => write!(f, "[{ip}]:")?,
            Some(IpAddr::V4(ip)) => write!(f, "{ip}:")?,
            None => {}
        }
        match self.host_port {
            Some(h) => write!(f, "{h}:")?,
            None if self.host_ip.is_some() => write!(f, ":")?,
            None => {}
        }
        write!(f, "{}/{}", self.container_port, self.protocol.as_str())
    }
}

impl TryFrom<String> for PortSpec {
    type Error = HostError;
    fn try_from(s: String) -> Result<Self, HostError> {
        PortSpec::parse(&s)
    }
}

impl From<PortSpec> for String {
    fn from(p: PortSpec) -> String {
        p.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_like_podman() {
        let r = PortRange::single;
        let rr = |start, end| PortRange { start, end };
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        type Case<'a> = (
            &'a str,
            Option<IpAddr>,
            Option<PortRange>,
            PortRange,
            Protocol,
            &'a str,
        );
        let cases: Vec<Case> = vec![
            ("80", None, None, r(80), Protocol::Tcp, "80/tcp"),
            (
                "8080:80",
                None,
                Some(r(8080)),
                r(80),
                Protocol::Tcp,
                "8080:80/tcp",
            ),
            (
                "8443:443/tcp",
                None,
                Some(r(8443)),
                r(443),
                Protocol::Tcp,
                "8443:443/tcp",
            ),
            (
                "5353:53/udp",
                None,
                Some(r(5353)),
                r(53),
                Protocol::Udp,
                "5353:53/udp",
            ),
            (
                "127.0.0.1:8080:80",
                ip("127.0.0.1"),
                Some(r(8080)),
                r(80),
                Protocol::Tcp,
                "127.0.0.1:8080:80/tcp",
            ),
            (
                "127.0.0.1::80",
                ip("127.0.0.1"),
                None,
                r(80),
                Protocol::Tcp,
                "127.0.0.1::80/tcp",
            ),
            (
                "8000-8010:9000-9010",
                None,
                Some(rr(8000, 8010)),
                rr(9000, 9010),
                Protocol::Tcp,
                "8000-8010:9000-9010/tcp",
            ),
            (
                "[::1]:80:80/sctp",
                ip("::1"),
                Some(r(80)),
                r(80),
                Protocol::Sctp,
                "[::1]:80:80/sctp",
            ),
        ];
        for (spec, host_ip, host_port, container_port, protocol, canon) in cases {
            let p = PortSpec::parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert_eq!(
                p,
                PortSpec {
                    host_ip,
                    host_port,
                    container_port,
                    protocol
                },
                "{spec}"
            );
            assert_eq!(p.to_string(), canon, "{spec}");
            assert_eq!(PortSpec::parse(canon).unwrap(), p, "{canon} round trip");
        }
    }

    #[test]
    fn bad_specs_name_the_problem() {
        for (spec, why) in [
            ("", "is not"),
            ("0", "not a port number"),
            ("70000", "not a port number"),
            ("a:80", "not a port number"),
            ("80/xyz", "unknown protocol"),
            ("1.2.3:80:80", "not an IP address"),
            ("1:2:3:4", "is not"),
            ("8010-8000:80", "runs backwards"),
            ("8000-8002:80-81", "as many ports"),
            ("80:9000-9001", "as many ports"),
            ("[::1:80:80", "unclosed"),
            ("::80", "not an IP address"),
            ("8000-8001:80", "as many ports"),
            ("80 :80", "is not"),
            ("-1:80", "not a port number"),
        ] {
            match PortSpec::parse(spec) {
                Err(HostError::InvalidArgument { field, reason }) => {
                    assert_eq!(field, "ports");
                    assert!(reason.contains(why), "{spec}: {reason}");
                }
                other => panic!("{spec}: {other:?}"),
            }
        }
    }

    #[test]
    fn ranges() {
        let a = PortRange { start: 10, end: 20 };
        assert_eq!(a.len(), 11);
        assert!(a.overlaps(&PortRange::single(20)));
        assert!(!a.overlaps(&PortRange::single(21)));
        assert_eq!(a.iter().count(), 11);
    }
}
