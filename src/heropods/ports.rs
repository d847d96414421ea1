//! Published ports: a host port forwarded to a container on the bridge with iptables DNAT, as
//! podman's netavark and the CNI portmap plugin do it, without a daemon.
//!
//! For each forwarded port (ranges are expanded port by port) a container owns these rules,
//! each tagged with the comment `herodo:<state>:<base>:<name>` (hashes of herodo's state
//! directory and of the base directory, and the container's name; see [`tag`]):
//!
//! ```text
//! nat PREROUTING   [-d HOST_IP] -p P --dport HP -m addrtype --dst-type LOCAL -j DNAT --to-destination IP:CP
//! nat OUTPUT       the same: PREROUTING never sees what the host itself sends
//! nat POSTROUTING  -s 127.0.0.0/8 -d IP -p P --dport CP -j MASQUERADE   (reachable on loopback)
//! nat POSTROUTING  -s SUBNET -d IP -p P --dport CP -j MASQUERADE        (hairpin, not on loopback)
//! filter FORWARD   -d IP -o BRIDGE -p P --dport CP -m conntrack --ctstate DNAT -j ACCEPT
//! ```
//!
//! A connection to 127.0.0.1 leaves through the bridge only with `route_localnet` on the bridge,
//! and the container can only answer it once its source is rewritten (the MASQUERADE from
//! 127.0.0.0/8). `route_localnet` would also let a container send packets to the host's loopback
//! services through the bridge (CVE-2020-8558 in kube-proxy): the bridge gets the rule
//! Kubernetes added against it (INPUT from the bridge to 127.0.0.0/8 that is not a reply or a
//! DNAT is dropped), tagged `herodo-bridge:<bridge>`, before `route_localnet` is turned on.
//!
//! The rules are added at start (one `iptables-restore`, atomic) and removed on stop and delete
//! (idempotent; the file `ports.published` in the container's directory, written before the
//! rules are added and removed after they went, spares a stop or delete of a container without
//! rules any iptables call). Other tools find them by their tag: [`rules_of`] lists the rules a
//! prefix selects ([`TAG_PREFIX`], [`state_prefix`] or a whole [`tag`]), [`remove_rules`]
//! removes them, and `herodo clean` reaps those of containers without a record ([`orphaned`],
//! used by `reap`).

use std::net::{IpAddr, Ipv4Addr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};

use super::*;
use crate::common::portspec::{PortSpec, Protocol};
use store::fnv1a;

/// Every heropods port rule's comment starts with this.
pub const TAG_PREFIX: &str = "herodo:";
/// The comment of the bridge's loopback guard (not a container's: no [`TAG_PREFIX`]).
pub const BRIDGE_TAG_PREFIX: &str = "herodo-bridge:";
const IPT_TIMEOUT: Duration = Duration::from_secs(30);

fn hash8(p: &Path) -> String {
    format!("{:08x}", fnv1a(p.as_os_str().as_encoded_bytes()) as u32)
}

/// `herodo:<hash of the state dir>:`: the prefix of every rule of containers whose address
/// leases live in `state_dir`.
pub fn state_prefix(state_dir: &Path) -> String {
    format!("{TAG_PREFIX}{}:", hash8(state_dir))
}

/// The tag of the rules of container `name` of base directory `base`.
pub fn tag(state_dir: &Path, base: &Path, name: &str) -> String {
    format!("{}{}:{name}", state_prefix(state_dir), hash8(base))
}

/// One host port forwarded to one container port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Forward {
    /// `None`: every address of the host.
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: Protocol,
}

impl Forward {
    /// How an error names it: `127.0.0.1:8080/tcp`, `8080/udp`.
    pub fn host_side(&self) -> String {
        match self.host_ip {
            Some(ip) => format!("{ip}:{}/{}", self.host_port, self.protocol.as_str()),
            None => format!("{}/{}", self.host_port, self.protocol.as_str()),
        }
    }

    /// Whether a connection to 127.0.0.1 reaches it.
    fn on_loopback(&self) -> bool {
        self.host_ip.is_none_or(|ip| ip.is_loopback())
    }
}

/// The port-by-port forwards of validated specs (see `spec::port`: IPv4, a host port, ranges of
/// equal length).
pub fn forwards(specs: &[PortSpec]) -> Vec<Forward> {
    let mut out = Vec::new();
    for s in specs {
        let Some(hp) = s.host_port else { continue };
        let host_ip = match s.host_ip {
            Some(IpAddr::V4(ip)) => Some(ip),
            Some(IpAddr::V6(_)) => continue,
            None => None,
        };
        for (h, c) in hp.iter().zip(s.container_port.iter()) {
            out.push(Forward {
                host_ip,
                host_port: h,
                container_port: c,
                protocol: s.protocol,
            });
        }
    }
    out
}

/// A rule as `iptables-save` prints it: its table, chain and the words after `-A CHAIN`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub table: String,
    pub chain: String,
    pub args: Vec<String>,
}

fn words(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

impl Rule {
    fn new(table: &str, chain: &str, args: Vec<String>) -> Self {
        Rule {
            table: table.into(),
            chain: chain.into(),
            args,
        }
    }

    /// The value after `flag`, unless the match is negated (`! -d X`).
    fn opt(&self, flag: &str) -> Option<&str> {
        let i = self.args.iter().position(|a| a == flag)?;
        if i > 0 && self.args[i - 1] == "!" {
            return None;
        }
        self.args.get(i + 1).map(String::as_str)
    }

    /// The rule's `-m comment --comment` text.
    pub fn comment(&self) -> Option<&str> {
        self.opt("--comment")
    }

    /// The heropods tag of the rule, if it has one.
    pub fn tag(&self) -> Option<&str> {
        self.comment().filter(|c| c.starts_with(TAG_PREFIX))
    }

    /// The line `iptables-restore` takes for `op` (`-A`, `-I`, `-D`), words quoted when needed.
    pub fn line(&self, op: &str) -> String {
        let mut s = format!("{op} {}", self.chain);
        for a in &self.args {
            s.push(' ');
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '"') {
                s.push('"');
                s.push_str(&a.replace('\\', "\\\\").replace('"', "\\\""));
                s.push('"');
            } else {
                s.push_str(a);
            }
        }
        s
    }

    /// Whether this is a DNAT of host traffic to `f`'s host port (a port another rule
    /// already publishes).
    fn publishes(&self, f: &Forward) -> bool {
        if self.table != "nat" || self.opt("-j") != Some("DNAT") {
            return false;
        }
        if self.opt("-p").is_some_and(|p| p != f.protocol.as_str()) {
            return false;
        }
        let ports = match (self.opt("--dport"), self.opt("--dports")) {
            (Some(p), _) => p.to_string(),
            (None, Some(list)) => list.to_string(),
            // A DNAT of every port (or of a negated port): not a publication of this one.
            (None, None) => return false,
        };
        let hit = ports.split(',').any(|r| {
            let (a, b) = r.split_once(':').unwrap_or((r, r));
            matches!((a.parse::<u16>(), b.parse::<u16>()), (Ok(a), Ok(b)) if a <= f.host_port && f.host_port <= b)
        });
        if !hit {
            return false;
        }
        match (self.opt("-d"), f.host_ip) {
            (Some(d), Some(ip)) => match d.strip_suffix("/32").unwrap_or(d).parse::<Ipv4Addr>() {
                Ok(dst) => dst == ip,
                // A subnet or a name: count it as taking the port.
                Err(_) => true,
            },
            _ => true,
        }
    }
}

/// Split one `iptables-save` line into words (double quotes group, `\"` escapes).
fn split_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if quoted => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// The rules of `iptables-save` output, every table.
pub fn parse_save(text: &str) -> Vec<Rule> {
    let mut table = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(t) = line.strip_prefix('*') {
            table = t.trim().to_string();
            continue;
        }
        if let Some(rest) = line.strip_prefix("-A ") {
            let mut w = split_words(rest);
            if w.is_empty() {
                continue;
            }
            let chain = w.remove(0);
            out.push(Rule::new(&table, &chain, w));
        }
    }
    out
}

/// The rules that forward `f` to the container at `ip` on `bridge` (`subnet`), tagged `tag`.
pub fn rules_for(f: &Forward, ip: Ipv4Addr, subnet: &str, bridge: &str, tag: &str) -> Vec<Rule> {
    let proto = f.protocol.as_str();
    let hp = f.host_port.to_string();
    let cp = f.container_port.to_string();
    let dest = format!("{ip}:{cp}");
    let cip = format!("{ip}/32");
    let mut dnat = Vec::new();
    if let Some(h) = f.host_ip {
        dnat.extend(words(&["-d", &format!("{h}/32")]));
    }
    dnat.extend(words(&[
        "-p",
        proto,
        "-m",
        proto,
        "--dport",
        &hp,
        "-m",
        "addrtype",
        "--dst-type",
        "LOCAL",
        "-m",
        "comment",
        "--comment",
        tag,
        "-j",
        "DNAT",
        "--to-destination",
        &dest,
    ]));
    let masq = |source: &str| {
        words(&[
            "-s",
            source,
            "-d",
            &cip,
            "-p",
            proto,
            "-m",
            proto,
            "--dport",
            &cp,
            "-m",
            "comment",
            "--comment",
            tag,
            "-j",
            "MASQUERADE",
        ])
    };
    let mut rules = vec![
        Rule::new("nat", "PREROUTING", dnat.clone()),
        Rule::new("nat", "OUTPUT", dnat),
    ];
    if f.on_loopback() {
        rules.push(Rule::new("nat", "POSTROUTING", masq("127.0.0.0/8")));
    }
    if !f.host_ip.is_some_and(|h| h.is_loopback()) {
        rules.push(Rule::new("nat", "POSTROUTING", masq(subnet)));
    }
    rules.push(Rule::new(
        "filter",
        "FORWARD",
        words(&[
            "-d",
            &cip,
            "-o",
            bridge,
            "-p",
            proto,
            "-m",
            proto,
            "--dport",
            &cp,
            "-m",
            "conntrack",
            "--ctstate",
            "DNAT",
            "-m",
            "comment",
            "--comment",
            tag,
            "-j",
            "ACCEPT",
        ]),
    ));
    rules
}

/// Every rule of `forwards`, without repeats (two host ports to one container port share
/// their MASQUERADE and FORWARD rules).
pub fn all_rules(
    forwards: &[Forward],
    ip: Ipv4Addr,
    subnet: &str,
    bridge: &str,
    tag: &str,
) -> Vec<Rule> {
    let mut out: Vec<Rule> = Vec::new();
    for f in forwards {
        for r in rules_for(f, ip, subnet, bridge, tag) {
            if !out.contains(&r) {
                out.push(r);
            }
        }
    }
    out
}

/// `iptables-restore --noflush` input that deletes `delete` and inserts `insert`, one
/// transaction per table.
pub fn restore_input(delete: &[Rule], insert: &[Rule]) -> String {
    let mut tables: Vec<&str> = delete
        .iter()
        .chain(insert)
        .map(|r| r.table.as_str())
        .collect();
    tables.sort_unstable();
    tables.dedup();
    let mut s = String::new();
    for t in tables {
        s.push_str(&format!("*{t}\n"));
        for r in delete.iter().filter(|r| r.table == t) {
            s.push_str(&r.line("-D"));
            s.push('\n');
        }
        for r in insert.iter().filter(|r| r.table == t) {
            s.push_str(&r.line("-I"));
            s.push('\n');
        }
        s.push_str("COMMIT\n");
    }
    s
}

/// The first rule that already publishes `f`'s host port, other than the rules tagged `own`.
pub fn conflict<'a>(rules: &'a [Rule], f: &Forward, own: &str) -> Option<&'a Rule> {
    rules
        .iter()
        .find(|r| r.comment() != Some(own) && r.publishes(f))
}

/// Who holds a port, for the error.
fn holder(r: &Rule) -> String {
    match r.tag().and_then(|t| t.rsplit(':').next()) {
        Some(name) => format!(
            "heropods container {name} publishes it (iptables -t {} rule tagged {})",
            r.table,
            r.tag().unwrap_or_default()
        ),
        None => format!(
            "another iptables rule publishes it (-t {} {})",
            r.table,
            r.line("-A")
        ),
    }
}

/// The loopback guard of `bridge` (see the module comment), its words in the order
/// `iptables-save` prints them.
pub fn bridge_guard(bridge: &str) -> Rule {
    Rule::new(
        "filter",
        "INPUT",
        words(&[
            "-d",
            "127.0.0.0/8",
            "-i",
            bridge,
            "-m",
            "conntrack",
            "!",
            "--ctstate",
            "RELATED,ESTABLISHED,DNAT",
            "-m",
            "comment",
            "--comment",
            &format!("{BRIDGE_TAG_PREFIX}{bridge}"),
            "-j",
            "DROP",
        ]),
    )
}

/// Whether a process on this host holds the port: bind it for a moment. An address that is
/// not the host's is refused.
fn host_check(f: &Forward) -> Result<()> {
    let ip = IpAddr::V4(f.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED));
    let bound = match f.protocol {
        Protocol::Udp => UdpSocket::bind((ip, f.host_port)).map(drop),
        _ => TcpListener::bind((ip, f.host_port)).map(drop),
    };
    match bound {
        Ok(()) => Ok(()),
        // A TCP port is also "in use" for bind() while an outgoing connection happens to have it
        // as its local (ephemeral) port; that does not stop a publication. Only a listener does.
        Err(e)
            if e.kind() == std::io::ErrorKind::AddrInUse
                && f.protocol != Protocol::Udp
                && !tcp_listener_on(f.host_port) =>
        {
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(PodError::PortInUse {
            port: f.host_side(),
            by: "a process on this host is bound to it".into(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable => Err(PodError::invalid(
            "ports",
            format!("{ip} is not an address of this host"),
        )),
        Err(e) => Err(PodError::Network(format!(
            "cannot check host port {}: {e}",
            f.host_side()
        ))),
    }
}

/// Whether a socket of this network namespace listens on TCP `port` (any address), from
/// /proc/net/tcp and tcp6 (each read capped). Unreadable tables count as a listener, so the
/// bind() answer stands.
fn tcp_listener_on(port: u16) -> bool {
    let mut readable = false;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(f) = std::fs::File::open(table) else {
            continue;
        };
        let mut text = String::new();
        if std::io::Read::read_to_string(&mut std::io::Read::take(f, 64 << 20), &mut text).is_err()
        {
            continue;
        }
        readable = true;
        if listens(&text, port) {
            return true;
        }
    }
    !readable
}

/// Whether a /proc/net/tcp{,6} table has a LISTEN (state 0A) row on local `port`.
fn listens(table: &str, port: u16) -> bool {
    table.lines().skip(1).any(|l| {
        let mut w = l.split_whitespace();
        let local = w.nth(1);
        let state = w.nth(1);
        state == Some("0A")
            && local
                .and_then(|a| a.rsplit_once(':'))
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
                == Some(port)
    })
}

fn save(host: &Host) -> Result<Vec<Rule>> {
    let out = host.exec_checked(Cmd::new("iptables-save").timeout(IPT_TIMEOUT))?;
    Ok(parse_save(&out.stdout))
}

fn restore(host: &Host, input: String) -> Result<()> {
    host.exec_checked(
        Cmd::new("iptables-restore")
            .args(["-w", "--noflush"])
            .stdin(input)
            .timeout(IPT_TIMEOUT),
    )?;
    Ok(())
}

/// Whether a rule's `tag` is selected by `prefix`: a prefix ending in `:` selects the tags that
/// start with it, anything else is a whole tag.
pub fn tag_matches(tag: &str, prefix: &str) -> bool {
    if prefix.ends_with(':') {
        tag.starts_with(prefix)
    } else {
        tag == prefix
    }
}

/// The rules whose heropods tag is selected by `prefix` ([`TAG_PREFIX`] for all,
/// [`state_prefix`] for one state directory, a whole [`tag`] for one container; see
/// [`tag_matches`]): one `iptables-save`.
pub fn rules_of(host: &Host, prefix: &str) -> Result<Vec<Rule>> {
    Ok(save(host)?
        .into_iter()
        .filter(|r| r.tag().is_some_and(|t| tag_matches(t, prefix)))
        .collect())
}

/// Remove `rules` (from [`rules_of`]) in one transaction; a rule already gone is fine.
pub fn remove_rules(host: &Host, rules: &[Rule]) -> Result<()> {
    if rules.is_empty() {
        return Ok(());
    }
    if restore(host, restore_input(rules, &[])).is_ok() {
        return Ok(());
    }
    // Someone removed one of them meanwhile (which fails the whole transaction): again, with
    // what is left.
    let now = save(host)?;
    let left: Vec<Rule> = rules.iter().filter(|r| now.contains(r)).cloned().collect();
    if left.is_empty() {
        return Ok(());
    }
    restore(host, restore_input(&left, &[]))
}

/// Remove every rule whose tag `prefix` selects (see [`rules_of`]); how many went.
pub fn remove_all_tagged(host: &Host, prefix: &str) -> Result<usize> {
    let rules = rules_of(host, prefix)?;
    remove_rules(host, &rules)?;
    Ok(rules.len())
}

/// The rules of one container that has no record any more (see [`orphaned`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Orphan {
    pub tag: String,
    pub name: String,
    /// Its base dir, when one of those asked about has the tag's hash.
    pub base: Option<PathBuf>,
    pub rules: Vec<Rule>,
}

/// For `herodo clean`: the rules among `rules` (those of `state_dir`, from [`rules_of`] with
/// [`state_prefix`]) whose container has no record: its tag names no base dir of `bases`, or
/// one where `has_record(base, name)` is false (the base dir removed, a delete cut short).
pub fn orphaned(
    rules: Vec<Rule>,
    state_dir: &Path,
    bases: &[PathBuf],
    has_record: impl Fn(&Path, &str) -> bool,
) -> Vec<Orphan> {
    let mut out: Vec<Orphan> = Vec::new();
    for r in rules {
        let Some(t) = r.tag().map(str::to_string) else {
            continue;
        };
        if let Some(o) = out.iter_mut().find(|o| o.tag == t) {
            o.rules.push(r);
            continue;
        }
        let name = t.rsplit(':').next().unwrap_or_default().to_string();
        let base = bases
            .iter()
            .find(|b| tag(state_dir, b, &name) == t)
            .cloned();
        if base.as_ref().is_some_and(|b| has_record(b, &name)) {
            continue;
        }
        out.push(Orphan {
            tag: t,
            name,
            base,
            rules: vec![r],
        });
    }
    out
}

/// Held from the check before a start until its ports are published: two starts in one state
/// directory never publish one port. Carries the container's own rules the check saw (left by
/// a run that ended without a stop), which the publication replaces.
pub struct PortLock {
    _lock: FileLock,
    own: Vec<Rule>,
}

impl Pods {
    pub(super) fn port_tag(&self, name: &str) -> String {
        tag(&self.state_dir, self.paths.base(), name)
    }

    fn ports_lock(&self, host: &Host) -> Result<FileLock> {
        let p = self
            .state_dir
            .join("heropods")
            .join("networks")
            .join("ports.lock");
        Ok(FileLock::exclusive(&p, &host.cancel, LOCK_TIMEOUT)?)
    }

    /// Present while the container's rules may be in place: written before they are added,
    /// removed after they went, so a stop or delete of a container without rules runs nothing.
    fn published_marker(&self, name: &str) -> PathBuf {
        self.paths.container_dir(name).join("ports.published")
    }

    /// The rules `rec` has when published (none without an address).
    fn rules_of_record(&self, rec: &ContainerRecord) -> Result<Vec<Rule>> {
        let Some(a) = &rec.attachment else {
            return Ok(Vec::new());
        };
        let ip: Ipv4Addr =
            a.ip.parse()
                .map_err(|_| PodError::Network(format!("bad address {:?} in the record", a.ip)))?;
        let subnet = format!("{}/{}", network_of(ip, a.prefix), a.prefix);
        Ok(all_rules(
            &forwards(&rec.overrides.ports),
            ip,
            &subnet,
            &a.bridge,
            &self.port_tag(&rec.name),
        ))
    }

    /// Before a start: `port_in_use` when another rule publishes one of the container's host
    /// ports or a process holds it. `None` for a container without ports.
    pub(super) fn reserve_ports(
        &self,
        host: &Host,
        rec: &ContainerRecord,
    ) -> Result<Option<PortLock>> {
        let fwd = forwards(&rec.overrides.ports);
        if fwd.is_empty() {
            return Ok(None);
        }
        let lock = self.ports_lock(host)?;
        let rules = save(host)?;
        let own = self.port_tag(&rec.name);
        for f in &fwd {
            if let Some(r) = conflict(&rules, f, &own) {
                return Err(PodError::PortInUse {
                    port: f.host_side(),
                    by: holder(r),
                });
            }
            host_check(f)?;
        }
        Ok(Some(PortLock {
            _lock: lock,
            own: rules
                .into_iter()
                .filter(|r| r.comment() == Some(own.as_str()))
                .collect(),
        }))
    }

    /// After a start: the container's rules, replacing any left from an earlier run, in one
    /// `iptables-restore`.
    pub(super) fn publish_ports(
        &self,
        host: &Host,
        rec: &ContainerRecord,
        lock: PortLock,
    ) -> Result<()> {
        let Some(a) = &rec.attachment else {
            return Ok(());
        };
        if forwards(&rec.overrides.ports)
            .iter()
            .any(Forward::on_loopback)
        {
            ensure_route_localnet(host, &a.bridge)?;
        }
        let new = self.rules_of_record(rec)?;
        let marker = self.published_marker(&rec.name);
        std::fs::write(&marker, b"").map_err(|e| PodError::io("write", &marker, e))?;
        if restore(host, restore_input(&lock.own, &new)).is_ok() {
            return Ok(());
        }
        // An old rule went meanwhile (which fails the whole transaction): again, from what
        // is there now.
        let own = self.port_tag(&rec.name);
        let old: Vec<Rule> = save(host)?
            .into_iter()
            .filter(|r| r.comment() == Some(own.as_str()))
            .collect();
        restore(host, restore_input(&old, &new))
    }

    /// After a start: the ports published (the caller undoes the start when this fails) and
    /// the container's name in the /etc/hosts of the others on its bridge.
    pub(super) fn after_start(
        &self,
        host: &Host,
        rec: &ContainerRecord,
        ports: Option<PortLock>,
    ) -> Result<()> {
        if let Some(lock) = ports {
            self.publish_ports(host, rec, lock)?;
        }
        if rec.attachment.is_some() {
            self.refresh_hosts(host);
        }
        Ok(())
    }

    /// After a stop (or a stop that found the container ended): its ports and its name go.
    pub(super) fn after_stop(&self, host: &Host, rec: &ContainerRecord) -> Result<()> {
        self.unpublish_ports(host, rec)?;
        if rec.attachment.is_some() {
            self.refresh_hosts(host);
        }
        Ok(())
    }

    /// Remove the rules tagged for container `name` whatever its record says (one that is
    /// corrupt or gone): nothing runs unless its directory says rules may be in place.
    pub(super) fn unpublish_tagged(&self, host: &Host, name: &str) -> Result<()> {
        let marker = self.published_marker(name);
        if !marker.exists() {
            return Ok(());
        }
        let _lock = self.ports_lock(host)?;
        remove_all_tagged(host, &self.port_tag(name))?;
        crate::common::state::remove(&marker)?;
        Ok(())
    }

    /// Remove the container's rules: nothing runs when none was published; else one
    /// `iptables-restore` of the rules the record names, or, when some of them are gone or
    /// others carry its tag, whatever `iptables-save` shows with its tag.
    pub(super) fn unpublish_ports(&self, host: &Host, rec: &ContainerRecord) -> Result<()> {
        let marker = self.published_marker(&rec.name);
        if rec.overrides.ports.is_empty() || !marker.exists() {
            return Ok(());
        }
        let _lock = self.ports_lock(host)?;
        let expected = self.rules_of_record(rec)?;
        if expected.is_empty() || restore(host, restore_input(&expected, &[])).is_err() {
            let own = self.port_tag(&rec.name);
            let rules: Vec<Rule> = save(host)?
                .into_iter()
                .filter(|r| r.comment() == Some(own.as_str()))
                .collect();
            remove_rules(host, &rules)?;
        }
        crate::common::state::remove(&marker)?;
        Ok(())
    }
}

fn network_of(ip: Ipv4Addr, prefix: u8) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(ip) & (u32::MAX << (32 - u32::from(prefix.min(32)))))
}

/// Loopback connections may leave through `bridge` (see the module comment): its guard rule
/// first, then `route_localnet`.
fn ensure_route_localnet(host: &Host, bridge: &str) -> Result<()> {
    let p = Path::new("/proc/sys/net/ipv4/conf")
        .join(bridge)
        .join("route_localnet");
    if std::fs::read_to_string(&p).is_ok_and(|v| v.trim() == "1") {
        return Ok(());
    }
    let guard = bridge_guard(bridge);
    let check = Cmd::new("iptables")
        .args(["-w", "-t", "filter", "-C", "INPUT"])
        .args(guard.args.iter().cloned())
        .timeout(IPT_TIMEOUT);
    if !host.exec(check)?.success() {
        host.exec_checked(
            Cmd::new("iptables")
                .args(["-w", "-t", "filter", "-I", "INPUT"])
                .args(guard.args)
                .timeout(IPT_TIMEOUT),
        )?;
    }
    std::fs::write(&p, "1").map_err(|e| PodError::io("write", &p, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> PortSpec {
        spec::port(s).unwrap()
    }

    #[test]
    fn tags_name_state_dir_base_dir_and_container() {
        let t = tag(Path::new("/s"), Path::new("/b"), "web");
        assert!(t.starts_with(&state_prefix(Path::new("/s"))), "{t}");
        assert!(t.starts_with(TAG_PREFIX) && t.ends_with(":web"), "{t}");
        assert_eq!(t.len(), "herodo:".len() + 8 + 1 + 8 + 1 + 3);
        assert_ne!(t, tag(Path::new("/s"), Path::new("/b2"), "web"));
        assert_ne!(t, tag(Path::new("/s2"), Path::new("/b"), "web"));
        // The longest name keeps the comment within iptables' 256 bytes.
        assert!(
            tag(
                Path::new("/s"),
                Path::new("/b"),
                &"a".repeat(spec::MAX_NAME)
            )
            .len()
                < 256
        );
    }

    #[test]
    fn orphans_are_the_rules_of_containers_without_a_record() {
        let s = Path::new("/s");
        let (kept, gone) = (PathBuf::from("/b/kept"), PathBuf::from("/b/gone"));
        let rule = |base: &Path, name: &str, port: &str| {
            let mut r = bridge_guard("herodo0");
            r.args = words(&[
                "--dport",
                port,
                "-m",
                "comment",
                "--comment",
                &tag(s, base, name),
            ]);
            r
        };
        let rules = vec![
            rule(&kept, "web", "1"),
            rule(&kept, "old", "2"),
            rule(&gone, "web", "3"),
            rule(&kept, "old", "4"),
            rule(Path::new("/never/registered"), "x", "5"),
            bridge_guard("herodo0"),
        ];
        let o = orphaned(rules, s, &[kept.clone(), gone.clone()], |b, n| {
            b == kept.as_path() && n == "web"
        });
        let summary: Vec<(String, Option<PathBuf>, usize)> = o
            .iter()
            .map(|o| (o.name.clone(), o.base.clone(), o.rules.len()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("old".to_string(), Some(kept.clone()), 2),
                ("web".to_string(), Some(gone.clone()), 1),
                ("x".to_string(), None, 1),
            ]
        );
        assert_eq!(o[0].tag, tag(s, &kept, "old"));
    }

    #[test]
    fn prefixes_select_tags() {
        let t = tag(Path::new("/s"), Path::new("/b"), "web");
        let state = state_prefix(Path::new("/s"));
        assert!(tag_matches(&t, TAG_PREFIX));
        assert!(tag_matches(&t, &state));
        assert!(tag_matches(&t, &t));
        // A whole tag is not a prefix of another container's.
        let web2 = tag(Path::new("/s"), Path::new("/b"), "web2");
        assert!(!tag_matches(&web2, &t));
        assert!(!tag_matches(&t, &state_prefix(Path::new("/s2"))));
    }

    #[test]
    fn ranges_expand_port_by_port() {
        let f = forwards(&[spec("127.0.0.1:8000-8002:9000-9002/udp"), spec("8443:443")]);
        assert_eq!(
            f.iter()
                .map(|f| (f.host_side(), f.container_port))
                .collect::<Vec<_>>(),
            vec![
                ("127.0.0.1:8000/udp".to_string(), 9000),
                ("127.0.0.1:8001/udp".to_string(), 9001),
                ("127.0.0.1:8002/udp".to_string(), 9002),
                ("8443/tcp".to_string(), 443),
            ]
        );
    }

    #[test]
    fn rules_per_kind_of_host_address() {
        let ip = Ipv4Addr::new(10, 89, 77, 2);
        let lines = |s: &str| {
            rules_for(
                &forwards(&[spec(s)])[0],
                ip,
                "10.89.77.0/24",
                "herodo0",
                "T",
            )
            .iter()
            .map(|r| format!("{} {}", r.table, r.line("-I")))
            .collect::<Vec<_>>()
        };
        let dnat = "-p tcp -m tcp --dport 8080 -m addrtype --dst-type LOCAL -m comment --comment T -j DNAT --to-destination 10.89.77.2:80";
        let fwd = "filter -I FORWARD -d 10.89.77.2/32 -o herodo0 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT -m comment --comment T -j ACCEPT";
        let masq = |src: &str| {
            format!("nat -I POSTROUTING -s {src} -d 10.89.77.2/32 -p tcp -m tcp --dport 80 -m comment --comment T -j MASQUERADE")
        };
        // Every address: loopback and hairpin both masqueraded.
        assert_eq!(
            lines("8080:80"),
            vec![
                format!("nat -I PREROUTING {dnat}"),
                format!("nat -I OUTPUT {dnat}"),
                masq("127.0.0.0/8"),
                masq("10.89.77.0/24"),
                fwd.to_string(),
            ]
        );
        // Loopback only: no hairpin (a container cannot reach the host's 127.0.0.1).
        assert_eq!(
            lines("127.0.0.1:8080:80"),
            vec![
                format!("nat -I PREROUTING -d 127.0.0.1/32 {dnat}"),
                format!("nat -I OUTPUT -d 127.0.0.1/32 {dnat}"),
                masq("127.0.0.0/8"),
                fwd.to_string(),
            ]
        );
        // Another address of the host: no loopback rule.
        assert_eq!(
            lines("192.0.2.2:8080:80"),
            vec![
                format!("nat -I PREROUTING -d 192.0.2.2/32 {dnat}"),
                format!("nat -I OUTPUT -d 192.0.2.2/32 {dnat}"),
                masq("10.89.77.0/24"),
                fwd.to_string(),
            ]
        );
        let udp = lines("5353:53/udp");
        assert!(udp[0].contains("-p udp -m udp --dport 5353"), "{udp:?}");
        // Two host ports onto one container port share their MASQUERADE and FORWARD rules.
        let both = all_rules(
            &forwards(&[spec("8080:80"), spec("8081:80")]),
            ip,
            "10.89.77.0/24",
            "herodo0",
            "T",
        );
        assert_eq!(both.len(), 4 + 3);
    }

    #[test]
    fn restore_input_is_one_transaction_per_table() {
        let ip = Ipv4Addr::new(10, 89, 77, 2);
        let new = all_rules(
            &forwards(&[spec("127.0.0.1:8080:80")]),
            ip,
            "10.89.77.0/24",
            "herodo0",
            "herodo:a:b:web",
        );
        let old = vec![new[0].clone()];
        let input = restore_input(&old, &new);
        let lines: Vec<&str> = input.lines().collect();
        assert_eq!(lines[0], "*filter");
        assert!(lines[1].starts_with("-I FORWARD "));
        assert_eq!(lines[2], "COMMIT");
        assert_eq!(lines[3], "*nat");
        assert!(
            lines[4].starts_with("-D PREROUTING -d 127.0.0.1/32 "),
            "{input}"
        );
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("-I ")).count(),
            new.len()
        );
        assert_eq!(lines.last(), Some(&"COMMIT"));
        assert_eq!(restore_input(&[], &[]), "");
    }

    /// `iptables-save` of this host (nf_tables backend) with a heropods container published,
    /// podman's netavark and docker rules around it.
    const SAVED: &str = r#"# Generated by iptables-save v1.8.9 (nf_tables) on Sun Dec  6 19:53:10 2026
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
-A FORWARD -d 10.89.77.2/32 -o herodo0 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT -m comment --comment "herodo:1a2b3c4d:5e6f7a8b:web" -j ACCEPT
-A FORWARD -m comment --comment "netavark firewall plugin rules" -j NETAVARK_FORWARD
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
-A PREROUTING -d 127.0.0.1/32 -p tcp -m tcp --dport 38471 -m addrtype --dst-type LOCAL -m comment --comment "herodo:1a2b3c4d:5e6f7a8b:web" -j DNAT --to-destination 10.89.77.2:80
-A PREROUTING -m addrtype --dst-type LOCAL -j NETAVARK-HOSTPORT-DNAT
-A POSTROUTING -s 127.0.0.0/8 -d 10.89.77.2/32 -p tcp -m tcp --dport 80 -m comment --comment "herodo:1a2b3c4d:5e6f7a8b:web" -j MASQUERADE
-A NETAVARK-DN-1D8721804F16F -d 127.0.0.1/32 -p udp -m udp --dport 5353 -j DNAT --to-destination 10.88.0.2:53
-A DOCKER ! -i docker0 -p tcp -m tcp --dport 9000 -j DNAT --to-destination 172.17.0.2:80
-A DOCKER -p tcp -m multiport --dports 7000:7010,7100 -j DNAT --to-destination 172.17.0.3
-A OUTPUT ! -d 127.0.0.0/8 -j DNAT --to-destination 1.2.3.4
COMMIT
"#;

    #[test]
    fn saved_rules_parse_with_their_tags() {
        let rules = parse_save(SAVED);
        assert_eq!(rules.len(), 9);
        assert_eq!(rules[0].table, "filter");
        assert_eq!(rules[0].chain, "FORWARD");
        assert_eq!(rules[0].tag(), Some("herodo:1a2b3c4d:5e6f7a8b:web"));
        assert_eq!(rules[1].comment(), Some("netavark firewall plugin rules"));
        assert_eq!(rules[1].tag(), None);
        // A line read back is the line iptables-restore gets (quotes where needed).
        assert_eq!(
            rules[1].line("-D"),
            r#"-D FORWARD -m comment --comment "netavark firewall plugin rules" -j NETAVARK_FORWARD"#
        );
        let mine: Vec<&Rule> = rules.iter().filter(|r| r.tag().is_some()).collect();
        assert_eq!(mine.len(), 3);
        assert_eq!(
            split_words(r#"a "b \"c\" d" e"#),
            vec!["a", "b \"c\" d", "e"]
        );
    }

    #[test]
    fn conflicts_are_found_in_any_tool_rules() {
        let rules = parse_save(SAVED);
        let f = |s: &str| forwards(&[spec(s)])[0];
        let who = |s: &str, own: &str| conflict(&rules, &f(s), own).map(holder);
        // Published by a heropods container, on the same address or on every address.
        for s in ["127.0.0.1:38471:80", "38471:80"] {
            let h = who(s, "other").unwrap();
            assert!(h.starts_with("heropods container web publishes it"), "{h}");
        }
        // Not when the rule is the container's own (a restart replaces it).
        assert_eq!(
            who("127.0.0.1:38471:80", "herodo:1a2b3c4d:5e6f7a8b:web"),
            None
        );
        // Another address, another protocol, another port: free.
        assert_eq!(who("127.0.0.2:38471:80", "x"), None);
        assert_eq!(who("38471:80/udp", "x"), None);
        assert_eq!(who("38472:80", "x"), None);
        // netavark's and docker's DNATs, single ports, negated interfaces and multiport.
        assert!(who("127.0.0.1:5353:53/udp", "x")
            .unwrap()
            .contains("NETAVARK-DN-1D8721804F16F"));
        assert!(who("9000:80", "x")
            .unwrap()
            .contains("-A DOCKER ! -i docker0"));
        assert!(who("7005:80", "x").is_some());
        assert!(who("7100:80", "x").is_some());
        assert!(who("7050:80", "x").is_none());
        // A DNAT without a port publishes none.
        assert!(who("127.0.0.1:1:80", "x").is_none());
    }

    #[test]
    fn the_bridge_guard_is_not_a_container_tag() {
        let g = bridge_guard("herodo0");
        assert_eq!(g.tag(), None);
        assert_eq!(
            g.line("-I"),
            "-I INPUT -d 127.0.0.0/8 -i herodo0 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -m comment --comment herodo-bridge:herodo0 -j DROP"
        );
        assert_eq!(
            network_of(Ipv4Addr::new(10, 89, 77, 9), 24),
            Ipv4Addr::new(10, 89, 77, 0)
        );
    }

    #[test]
    fn a_bound_host_port_is_in_use() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let f = |s: String| forwards(&[spec(&s)])[0];
        for s in [format!("127.0.0.1:{port}:80"), format!("{port}:80")] {
            match host_check(&f(s.clone())) {
                Err(PodError::PortInUse { port: p, by }) => {
                    assert!(
                        p == format!("127.0.0.1:{port}/tcp") || p == format!("{port}/tcp"),
                        "{p}"
                    );
                    assert!(by.contains("bound"), "{by}");
                }
                other => panic!("{s}: {other:?}"),
            }
        }
        drop(l);
        host_check(&f(format!("127.0.0.1:{port}:80"))).unwrap();
        // UDP is its own space.
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        let uport = u.local_addr().unwrap().port();
        assert!(matches!(
            host_check(&f(format!("127.0.0.1:{uport}:53/udp"))),
            Err(PodError::PortInUse { .. })
        ));
        // An address that is not this host's.
        assert!(matches!(
            host_check(&f("203.0.113.77:8080:80".into())),
            Err(PodError::InvalidArgument { .. })
        ));
    }

    #[test]
    fn an_outgoing_connections_local_port_is_not_in_use() {
        // bind() refuses the client's ephemeral port; a publication there is still fine
        // (seen in CI: a free_port() that happened to be some test's outgoing connection).
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let local = client.local_addr().unwrap().port();
        assert!(TcpListener::bind(("0.0.0.0", local)).is_err());
        let f = |s: String| forwards(&[spec(&s)])[0];
        host_check(&f(format!("{local}:80"))).unwrap();
        host_check(&f(format!("127.0.0.1:{local}:80"))).unwrap();
    }

    #[test]
    fn listeners_are_read_from_proc_net_tcp() {
        let t = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n   1: 0100007F:A3B8 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 2 1\n";
        assert!(listens(t, 8080));
        assert!(!listens(t, 0xA3B8), "an established row is not a listener");
        assert!(!listens(t, 9090));
        assert!(!listens("", 8080));
        let t6 = "  sl  local_address                         remote_address                        st\n   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 0\n";
        assert!(listens(t6, 80));
    }
}
