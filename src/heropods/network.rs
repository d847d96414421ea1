//! Bridge networking without a daemon: one Linux bridge (`herodo0`, 10.89.77.0/24 by default)
//! with NAT for outbound traffic, and per container a network namespace of its own (`ip netns
//! add`), a veth pair whose inner end is the container's `eth0`, an address from the bridge's
//! subnet and a default route through the bridge.
//!
//! Addresses are leased in a record under herodo's state directory, changed only under a file
//! lock, so two herodo processes creating containers at once never get the same address. A
//! lease also checks the kernel (an address whose veth exists is taken, whoever took it).
//! Addresses are only ever configured inside namespaces herodo creates, and on its bridge.
//!
//! The bridge is made once with `ip` and `iptables` through the one executor; attaching a
//! container (namespace, veth, address, route) is done over netlink in-process (netlink.rs)
//! because it runs on every start.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::{PodError, Result};
use super::netlink;
use crate::common::flock::FileLock;
use crate::common::state;
use crate::exec::Cmd;
use crate::host::Host;

pub const DEFAULT_BRIDGE: &str = "herodo0";
pub const DEFAULT_SUBNET: &str = "10.89.77.0/24";
const IP_TIMEOUT: Duration = Duration::from_secs(30);
const LOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// A bridge and its subnet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetConfig {
    pub bridge: String,
    pub network: Ipv4Addr,
    pub prefix: u8,
}

impl NetConfig {
    /// `bridge`: at most 15 characters (a Linux interface name) of letters, digits, `_`, `-`;
    /// `subnet`: `a.b.c.d/N` with N from 16 to 29, the address being the network's.
    pub fn parse(bridge: &str, subnet: &str) -> Result<Self> {
        if bridge.is_empty()
            || bridge.len() > 15
            || !bridge
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
            || bridge.starts_with('-')
        {
            return Err(PodError::invalid(
                "bridge",
                format!("{bridge:?} is not an interface name (1-15 letters, digits, _ or -)"),
            ));
        }
        let bad = |why: &str| PodError::invalid("subnet", format!("{subnet:?}: {why}"));
        let (addr, prefix) = subnet
            .split_once('/')
            .ok_or_else(|| bad("expected a.b.c.d/N"))?;
        let network: Ipv4Addr = addr.parse().map_err(|_| bad("not an IPv4 address"))?;
        let prefix: u8 = prefix.parse().map_err(|_| bad("bad prefix length"))?;
        if !(16..=29).contains(&prefix) {
            return Err(bad("the prefix length must be 16 to 29"));
        }
        let mask = u32::MAX << (32 - prefix);
        if u32::from(network) & !mask != 0 {
            return Err(bad("host bits are set; give the network address"));
        }
        Ok(NetConfig {
            bridge: bridge.to_string(),
            network,
            prefix,
        })
    }

    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1)
    }

    /// Addresses containers may get: after the gateway, before the broadcast address.
    pub fn hosts(&self) -> impl Iterator<Item = Ipv4Addr> {
        let first = u32::from(self.network) + 2;
        let broadcast = u32::from(self.network) | !(u32::MAX << (32 - self.prefix));
        (first..broadcast).map(Ipv4Addr::from)
    }

    pub fn subnet(&self) -> String {
        format!("{}/{}", self.network, self.prefix)
    }
}

/// A container's place on the bridge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub bridge: String,
    pub ip: String,
    pub prefix: u8,
    pub gateway: String,
    /// The host end of the veth pair (the container's end is `eth0`).
    pub veth: String,
    /// The network namespace, under /run/netns.
    pub netns: String,
}

impl Attachment {
    pub fn netns_path(&self) -> String {
        format!("/run/netns/{}", self.netns)
    }
}

/// Interface and namespace names derived from the address, which is unique on the bridge
/// (interface names hold at most 15 characters; a container name would not fit).
pub fn attachment_for(cfg: &NetConfig, ip: Ipv4Addr) -> Attachment {
    let hex = format!("{:08x}", u32::from(ip));
    Attachment {
        bridge: cfg.bridge.clone(),
        ip: ip.to_string(),
        prefix: cfg.prefix,
        gateway: cfg.gateway().to_string(),
        veth: format!("hp{hex}"),
        netns: format!("herodo-{hex}"),
    }
}

/// `ip -batch` lines that create the bridge.
pub fn bridge_batch(cfg: &NetConfig) -> String {
    format!(
        "link add {b} type bridge\naddr add {gw}/{p} dev {b}\nlink set {b} up\n",
        b = cfg.bridge,
        gw = cfg.gateway(),
        p = cfg.prefix
    )
}

/// iptables rules (table, chain, rule) for NAT out of the subnet and forwarding through the
/// bridge (docker may have set the FORWARD policy to DROP).
pub fn iptables_rules(cfg: &NetConfig) -> Vec<(&'static str, &'static str, Vec<String>)> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let b = cfg.bridge.as_str();
    let subnet = cfg.subnet();
    vec![
        (
            "nat",
            "POSTROUTING",
            s(&["-s", &subnet, "!", "-o", b, "-j", "MASQUERADE"]),
        ),
        ("filter", "FORWARD", s(&["-i", b, "-j", "ACCEPT"])),
        (
            "filter",
            "FORWARD",
            s(&[
                "-o",
                b,
                "-m",
                "conntrack",
                "--ctstate",
                "RELATED,ESTABLISHED",
                "-j",
                "ACCEPT",
            ]),
        ),
    ]
}

fn ip_batch(lines: String) -> Cmd {
    Cmd::new("ip")
        .args(["-batch", "-"])
        .stdin(lines)
        .timeout(IP_TIMEOUT)
}

/// Whether /proc/net/route has the connected route of `cfg`'s subnet on its bridge (which the
/// kernel adds once the bridge has its address and is up).
pub fn has_route(proc_net_route: &str, cfg: &NetConfig) -> bool {
    let mask = u32::MAX << (32 - cfg.prefix);
    // Addresses in /proc/net/route are in host byte order hex of the network-order value.
    let want_dest = format!("{:08X}", u32::from(cfg.network).swap_bytes());
    let want_mask = format!("{:08X}", mask.swap_bytes());
    proc_net_route.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() > 7 && f[0] == cfg.bridge && f[1] == want_dest && f[7] == want_mask
    })
}

fn net_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("heropods").join("networks")
}

fn lock(host: &Host, state_dir: &Path, bridge: &str) -> Result<FileLock> {
    let p = net_dir(state_dir).join(format!("{bridge}.lock"));
    Ok(FileLock::exclusive(&p, &host.cancel, LOCK_TIMEOUT)?)
}

/// The leases of one bridge.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leases {
    pub subnet: String,
    /// address -> owner (`BASE_DIR#NAME`).
    pub leases: BTreeMap<String, String>,
}

fn leases_path(state_dir: &Path, bridge: &str) -> PathBuf {
    net_dir(state_dir).join(format!("{bridge}.json"))
}

/// The bridge exists with its address, NAT and forwarding; made now if missing.
pub fn ensure_bridge(host: &Host, state_dir: &Path, cfg: &NetConfig) -> Result<()> {
    let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    if has_route(&routes, cfg) {
        return Ok(());
    }
    let _lock = lock(host, state_dir, &cfg.bridge)?;
    if Path::new("/sys/class/net").join(&cfg.bridge).exists() {
        let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
        if has_route(&routes, cfg) {
            return Ok(());
        }
        return Err(PodError::Network(format!(
            "interface {} exists but has no route for {}; it is not herodo's bridge for this \
             subnet (pick another `bridge` or `subnet`)",
            cfg.bridge,
            cfg.subnet()
        )));
    }
    host.exec_checked(ip_batch(bridge_batch(cfg)))?;
    // Outbound NAT needs forwarding; it is a host-wide switch that docker and podman turn on too.
    let fwd = Path::new("/proc/sys/net/ipv4/ip_forward");
    if std::fs::read_to_string(fwd).is_ok_and(|v| v.trim() == "0") {
        std::fs::write(fwd, "1").map_err(|e| PodError::io("write", fwd, e))?;
    }
    for (table, chain, rule) in iptables_rules(cfg) {
        let check = Cmd::new("iptables")
            .args(["-w", "-t", table, "-C", chain])
            .args(rule.iter().cloned())
            .timeout(IP_TIMEOUT);
        if !host.exec(check)?.success() {
            let insert = Cmd::new("iptables")
                .args(["-w", "-t", table, "-I", chain])
                .args(rule)
                .timeout(IP_TIMEOUT);
            host.exec_checked(insert)?;
        }
    }
    Ok(())
}

/// Lease a free address and attach a new namespace to the bridge with it.
pub fn attach(host: &Host, state_dir: &Path, cfg: &NetConfig, owner: &str) -> Result<Attachment> {
    let a = lease(host, state_dir, cfg, owner)?;
    if let Err(e) = plug(host, &a) {
        let _ = detach(host, state_dir, &a);
        return Err(e);
    }
    Ok(a)
}

/// Lease a free address for `owner` (`BASE_DIR#NAME`) and return the attachment it names,
/// with its network namespace made but not yet plugged into the bridge: a caller records it
/// before plugging, so that whatever happens next (a herodo killed in the middle) the record
/// names what may exist.
pub fn lease(host: &Host, state_dir: &Path, cfg: &NetConfig, owner: &str) -> Result<Attachment> {
    let leased = {
        let _lock = lock(host, state_dir, &cfg.bridge)?;
        let path = leases_path(state_dir, &cfg.bridge);
        let mut leases: Leases = state::read_json(&path)?.unwrap_or_default();
        if leases.subnet.is_empty() {
            leases.subnet = cfg.subnet();
        } else if leases.subnet != cfg.subnet() {
            return Err(PodError::Network(format!(
                "bridge {} is recorded with subnet {}, not {}",
                cfg.bridge,
                leases.subnet,
                cfg.subnet()
            )));
        }
        let mut chosen = None;
        for ip in cfg.hosts() {
            let a = attachment_for(cfg, ip);
            if leases.leases.contains_key(&a.ip)
                || Path::new("/sys/class/net").join(&a.veth).exists()
                || netlink::netns_path(&a.netns).exists()
            {
                continue;
            }
            // Leased first, then the namespace made: a herodo killed in between leaves a
            // lease naming its owner, never a namespace nobody knows of.
            leases.leases.insert(a.ip.clone(), owner.to_string());
            state::write_json(&path, &leases)?;
            // The namespace is the claim: created exclusively, so two herodo processes whose
            // leases live in different state directories never take one address of a shared
            // bridge.
            match netlink::create_netns(&a.netns) {
                Ok(()) => {
                    chosen = Some(a);
                    break;
                }
                Err(e) => {
                    leases.leases.remove(&a.ip);
                    state::write_json(&path, &leases)?;
                    if e.kind() != std::io::ErrorKind::AlreadyExists {
                        return Err(PodError::Network(format!(
                            "creating the network namespace {}: {e}",
                            a.netns
                        )));
                    }
                }
            }
        }
        chosen
            .ok_or_else(|| PodError::Network(format!("no free address left in {}", cfg.subnet())))?
    };
    Ok(leased)
}

/// The attachments leased to `owner` on any bridge recorded in `state_dir` (a container
/// whose record is gone or corrupt still has its leases found this way).
pub fn leased_to(state_dir: &Path, owner: &str) -> Vec<Attachment> {
    let Ok(rd) = std::fs::read_dir(net_dir(state_dir)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let p = e.path();
        let (Some(bridge), Some("json")) = (
            p.file_stem().and_then(|s| s.to_str()),
            p.extension().and_then(|s| s.to_str()),
        ) else {
            continue;
        };
        let Ok(Some(l)) = state::read_json::<Leases>(&p) else {
            continue;
        };
        let Ok(cfg) = NetConfig::parse(bridge, &l.subnet) else {
            continue;
        };
        for (ip, o) in &l.leases {
            if o == owner {
                if let Ok(ip) = ip.parse::<Ipv4Addr>() {
                    out.push(attachment_for(&cfg, ip));
                }
            }
        }
    }
    out
}

/// Create the namespace and veth of `a` and configure it (a fresh attachment, or one whose
/// namespace vanished, after a reboot). Undone when a step fails.
pub fn plug(host: &Host, a: &Attachment) -> Result<()> {
    if host.settings.verbose {
        eprintln!(
            "+ netlink: netns {}, veth {} on {} <-> eth0 {}/{} via {}",
            a.netns, a.veth, a.bridge, a.ip, a.prefix, a.gateway
        );
    }
    let parse = |v: &str| {
        v.parse::<Ipv4Addr>()
            .map_err(|_| PodError::Network(format!("bad address {v:?} in the record")))
    };
    let (ip, gw) = (parse(&a.ip)?, parse(&a.gateway)?);
    let ns = netlink::netns_path(&a.netns);
    let fail = |what: &str, e: std::io::Error| {
        let _ = unplug(a);
        PodError::Network(format!("{what} for {}: {e}", a.veth))
    };
    // A namespace made by `lease` is kept; one half made (a herodo killed between creating
    // its file and mounting it) or gone (a reboot) is made anew.
    if !netlink::netns_mounted(&a.netns) {
        let _ = netlink::delete_netns(&a.netns);
        netlink::create_netns(&a.netns).map_err(|e| fail("creating the network namespace", e))?;
    }
    // A veth left by a plug cut short.
    netlink::delete_link(&a.veth).map_err(|e| fail("removing a stale veth", e))?;
    netlink::add_veth(&a.veth, &a.bridge, "eth0", &ns)
        .map_err(|e| fail("creating the veth pair", e))?;
    netlink::configure(&ns, "eth0", ip, a.prefix, gw)
        .map_err(|e| fail("configuring the container's eth0", e))?;
    Ok(())
}

/// `unplug`, its failure as this domain's network error.
fn remove_plug(a: &Attachment) -> Result<()> {
    unplug(a).map_err(|e| {
        PodError::Network(format!(
            "could not remove {} / netns {}: {e}",
            a.veth, a.netns
        ))
    })
}

fn unplug(a: &Attachment) -> std::io::Result<()> {
    // Deleting the host end removes the pair at once (a namespace's own links would only go
    // when the kernel gets round to freeing it).
    netlink::delete_link(&a.veth)?;
    netlink::delete_netns(&a.netns)
}

/// Whether `a` is plugged: its namespace mounted and its veth there (neither survives a
/// reboot; a herodo killed while plugging leaves one without the other).
pub fn is_plugged(a: &Attachment) -> bool {
    netlink::netns_mounted(&a.netns) && Path::new("/sys/class/net").join(&a.veth).exists()
}

/// Remove the veth and the namespace, and release the address.
pub fn detach(host: &Host, state_dir: &Path, a: &Attachment) -> Result<()> {
    if host.settings.verbose {
        eprintln!("+ netlink: delete veth {} and netns {}", a.veth, a.netns);
    }
    remove_plug(a)?;
    let _lock = lock(host, state_dir, &a.bridge)?;
    let path = leases_path(state_dir, &a.bridge);
    if let Some(mut leases) = state::read_json::<Leases>(&path)? {
        if leases.leases.remove(&a.ip).is_some() {
            state::write_json(&path, &leases)?;
        }
    }
    Ok(())
}

/// The leases of `bridge` (for `status()` checks and tests).
pub fn leases(state_dir: &Path, bridge: &str) -> Result<Leases> {
    Ok(state::read_json(&leases_path(state_dir, bridge))?.unwrap_or_default())
}

/// Every bridge with a leases record in this state directory, with its leases, by name.
/// Records that cannot be read are skipped (nothing is reclaimed from what is not understood).
pub fn recorded_bridges(state_dir: &Path) -> Vec<(NetConfig, Leases)> {
    let Ok(rd) = std::fs::read_dir(net_dir(state_dir)) else {
        return Vec::new();
    };
    let mut out: Vec<(NetConfig, Leases)> = rd
        .flatten()
        .filter_map(|e| {
            let file = e.file_name();
            let bridge = file.to_str()?.strip_suffix(".json")?.to_string();
            let leases: Leases = state::read_json(&e.path()).ok()??;
            let cfg = NetConfig::parse(&bridge, &leases.subnet).ok()?;
            Some((cfg, leases))
        })
        .collect();
    out.sort_by(|a, b| a.0.bridge.cmp(&b.0.bridge));
    out
}

/// The container an owner string of a lease names: `(base dir, name)`.
pub fn lease_owner(owner: &str) -> Option<(&str, &str)> {
    owner
        .rsplit_once('#')
        .filter(|(b, n)| !b.is_empty() && !n.is_empty())
}

/// Release the lease of `ip` on `cfg`'s bridge if `owner` still holds it, with its veth and
/// namespace (a lease whose container record is gone: see reap.rs). False when the lease is
/// no longer `owner`'s (released or re-leased meanwhile): then nothing is touched.
pub fn release_orphan(
    host: &Host,
    state_dir: &Path,
    cfg: &NetConfig,
    ip: Ipv4Addr,
    owner: &str,
) -> Result<bool> {
    let _lock = lock(host, state_dir, &cfg.bridge)?;
    let path = leases_path(state_dir, &cfg.bridge);
    let Some(mut leases) = state::read_json::<Leases>(&path)? else {
        return Ok(false);
    };
    if leases.leases.get(&ip.to_string()).map(String::as_str) != Some(owner) {
        return Ok(false);
    }
    let a = attachment_for(cfg, ip);
    remove_plug(&a)?;
    leases.leases.remove(&ip.to_string());
    state::write_json(&path, &leases)?;
    Ok(true)
}

/// Remove the veth and namespace herodo would name after `ip` when no lease of this state
/// directory holds the address (checked under the bridge's lock: an attach leases before it
/// plugs). False when the address is leased after all.
pub fn remove_unleased(
    host: &Host,
    state_dir: &Path,
    cfg: &NetConfig,
    ip: Ipv4Addr,
) -> Result<bool> {
    let _lock = lock(host, state_dir, &cfg.bridge)?;
    let leases = leases(state_dir, &cfg.bridge)?;
    if leases.leases.contains_key(&ip.to_string()) {
        return Ok(false);
    }
    let a = attachment_for(cfg, ip);
    remove_plug(&a)?;
    Ok(true)
}

/// The address herodo names `name` after: `hp<8 hex>` (a veth, `prefix` "hp") or
/// `herodo-<8 hex>` (a namespace), as `attachment_for` makes them. Other names: `None`.
pub fn address_in_name(name: &str, prefix: &str) -> Option<Ipv4Addr> {
    let hex = name.strip_prefix(prefix)?;
    if hex.len() != 8 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    u32::from_str_radix(hex, 16).ok().map(Ipv4Addr::from)
}

/// The container's /etc/resolv.conf: `dns` servers when given, else the host's, without
/// loopback servers (unreachable from another namespace); podman's fallback when none is left.
/// With the host's network, the host's file as it is.
pub fn resolv_conf(host_resolv: &str, dns: &[String], host_network: bool) -> String {
    if host_network && dns.is_empty() {
        return host_resolv.to_string();
    }
    let mut servers: Vec<String> = dns.to_vec();
    let mut other = Vec::new();
    for line in host_resolv.lines() {
        let t = line.trim();
        if let Some(s) = t.strip_prefix("nameserver") {
            let s = s.trim();
            let loopback = s.starts_with("127.") || s == "::1";
            if dns.is_empty() && !loopback && !s.is_empty() {
                servers.push(s.to_string());
            }
        } else if t.starts_with("search") || t.starts_with("options") {
            other.push(t.to_string());
        }
    }
    if servers.is_empty() {
        servers = vec!["8.8.8.8".into(), "8.8.4.4".into()];
    }
    let mut out: String = servers
        .iter()
        .map(|s| format!("nameserver {s}\n"))
        .collect();
    for o in other {
        out.push_str(&o);
        out.push('\n');
    }
    out
}

/// The container's /etc/hosts.
pub fn hosts_file(name: &str, ip: Option<&str>) -> String {
    let mut out = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    match ip {
        Some(ip) => out.push_str(&format!("{ip}\t{name}\n")),
        None => out.push_str(&format!("127.0.1.1\t{name}\n")),
    }
    out
}

/// A DNS server address given by a script.
pub fn dns_server(v: &str) -> Result<String> {
    v.parse::<std::net::IpAddr>()
        .map(|a| a.to_string())
        .map_err(|_| PodError::invalid("dns", format!("{v:?} is not an IP address")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs() {
        let c = NetConfig::parse("herodo0", "10.89.77.0/24").unwrap();
        assert_eq!(c.gateway(), Ipv4Addr::new(10, 89, 77, 1));
        let hosts: Vec<Ipv4Addr> = c.hosts().collect();
        assert_eq!(hosts.len(), 253);
        assert_eq!(hosts[0], Ipv4Addr::new(10, 89, 77, 2));
        assert_eq!(hosts[252], Ipv4Addr::new(10, 89, 77, 254));
        for (b, s) in [
            ("", "10.0.0.0/24"),
            ("a;rm", "10.0.0.0/24"),
            ("sixteen-chars-xx", "10.0.0.0/24"),
            ("br", "10.0.0.1/24"),
            ("br", "10.0.0.0/8"),
            ("br", "10.0.0.0/30"),
            ("br", "10.0.0.0"),
            ("br", "x/24"),
        ] {
            assert!(NetConfig::parse(b, s).is_err(), "{b} {s}");
        }
    }

    #[test]
    fn batches() {
        let c = NetConfig::parse("herodo0", "10.89.77.0/24").unwrap();
        let a = attachment_for(&c, Ipv4Addr::new(10, 89, 77, 5));
        assert_eq!(a.veth, "hp0a594d05");
        assert_eq!(a.netns, "herodo-0a594d05");
        assert!(a.veth.len() <= 15);
        assert_eq!(a.netns_path(), "/run/netns/herodo-0a594d05");
        assert_eq!(
            bridge_batch(&c),
            "link add herodo0 type bridge\naddr add 10.89.77.1/24 dev herodo0\nlink set herodo0 up\n"
        );
        assert_eq!(ip_batch(String::new()).argv(), vec!["ip", "-batch", "-"]);
        let rules = iptables_rules(&c);
        assert_eq!(rules[0].0, "nat");
        assert_eq!(
            rules[0].2,
            vec![
                "-s",
                "10.89.77.0/24",
                "!",
                "-o",
                "herodo0",
                "-j",
                "MASQUERADE"
            ]
        );
    }

    #[test]
    fn names_and_owners() {
        let c = NetConfig::parse("hdreap0", "10.89.201.0/24").unwrap();
        let a = attachment_for(&c, Ipv4Addr::new(10, 89, 201, 7));
        assert_eq!(
            address_in_name(&a.veth, "hp"),
            Some(Ipv4Addr::new(10, 89, 201, 7))
        );
        assert_eq!(
            address_in_name(&a.netns, "herodo-"),
            Some(Ipv4Addr::new(10, 89, 201, 7))
        );
        for other in [
            "hp0a59c90",
            "hp0a59c9077",
            "hp0A59C907",
            "hpxxxxxxxx",
            "eth0",
            "herodo0",
            "herodo-0a59c90g",
        ] {
            assert_eq!(address_in_name(other, "hp"), None, "{other}");
            assert_eq!(address_in_name(other, "herodo-"), None, "{other}");
        }
        assert_eq!(lease_owner("/var/a#b#web"), Some(("/var/a#b", "web")));
        assert_eq!(lease_owner("/var/a#"), None);
        assert_eq!(lease_owner("nothing"), None);
    }

    #[test]
    fn route_detection() {
        // /proc/net/route captured on this host with a bridge on 10.89.99.0/24.
        let routes =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
hdtbr\t0063590A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        assert!(has_route(
            routes,
            &NetConfig::parse("hdtbr", "10.89.99.0/24").unwrap()
        ));
        assert!(!has_route(
            routes,
            &NetConfig::parse("hdtbr", "10.89.98.0/24").unwrap()
        ));
        assert!(!has_route(
            routes,
            &NetConfig::parse("other", "10.89.99.0/24").unwrap()
        ));
    }

    #[test]
    fn dns_and_hosts() {
        let host = "# generated\nnameserver 127.0.0.53\nnameserver 10.255.255.53\nsearch example.org\noptions edns0\n";
        assert_eq!(
            resolv_conf(host, &[], false),
            "nameserver 10.255.255.53\nsearch example.org\noptions edns0\n"
        );
        assert_eq!(
            resolv_conf("nameserver 127.0.0.53\n", &[], false),
            "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        assert_eq!(
            resolv_conf(host, &["1.1.1.1".to_string()], false),
            "nameserver 1.1.1.1\nsearch example.org\noptions edns0\n"
        );
        assert_eq!(resolv_conf(host, &[], true), host);
        assert!(hosts_file("web", Some("10.89.77.2")).ends_with("10.89.77.2\tweb\n"));
        assert!(hosts_file("web", None).ends_with("127.0.1.1\tweb\n"));
        assert_eq!(dns_server("1.1.1.1").unwrap(), "1.1.1.1");
        assert!(dns_server("1.1.1.1; rm").is_err());
    }
}
