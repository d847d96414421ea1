//! heropods' part of `herodo clean` (and of the start of a `herodo test` session after a
//! killed one): what no herodo process will ever clean up any more.
//!
//! A container is managed through its record (`BASE/containers/NAME/container.json`). What is
//! reaped:
//!
//! * a container whose record names a dead `herodo test` session as its owner (see
//!   common::owner; an ordinary script's containers are never reaped): deleted as `delete()`
//!   deletes it;
//! * a container whose record is gone (its base dir was removed with `rm -rf`, even while it
//!   ran, or a delete was cut short): nobody can manage it any more, whoever made it. Its
//!   runtime state went with the base dir, so its processes are found through their cgroups
//!   (`herodo-<hash>/NAME` in every hierarchy, below the cgroup of the herodo that started it),
//!   killed, and the cgroups removed; what is still mounted below its directory is unmounted
//!   and the directory removed;
//! * an address lease whose owner (`BASE#NAME`) has no record, with its veth and namespace;
//! * the published-port rules (iptables, tagged for this state directory: see `ports`) of a
//!   container that has no record;
//! * a veth `hp<8 hex>` or namespace `herodo-<8 hex>` (herodo's names, derived from an
//!   address) on the subnet of a bridge that THIS state directory leases from, that no lease of
//!   it holds and no process uses (another state directory may share the bridge: its running
//!   containers are protected by their processes, a start in progress by an age limit);
//! * a fetch's staging directory (`images/.incoming/<owner tag>.<n>`) whose herodo is gone.
//!
//! heropods does not otherwise know which base dirs exist: each registers itself in the state
//! directory when it is first used (`heropods/bases/<hash>.json`), with the cgroup directories
//! its containers get from each herodo process that starts one (a runtime puts a container
//! below the cgroup of its caller, so those differ between callers).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::{PodError, Result};
use super::network::{self, Leases, NetConfig};
use super::store::{self, fnv1a, Paths};
use super::{image_cache, netlink, ports, rootfs, runtime, spec, Pods, PodsOptions};
use crate::common::flock::FileLock;
use crate::common::owner;
use crate::common::poll::poll_until;
use crate::common::state;
use crate::host::{Cleaned, Host};

/// How long the reaper waits for a base dir's containers lock (a create in progress).
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the processes of an orphan's cgroup may take to be gone after SIGKILL.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);
/// A namespace younger than this is left alone even when no lease of this state directory
/// holds its address: a herodo with another state directory on the same bridge may be starting
/// a container in it (plugged, the runtime not yet inside).
const YOUNG_NETNS: Duration = Duration::from_secs(10);

/// What the state directory knows about a base dir.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseRecord {
    pub path: PathBuf,
    /// The cgroup directories (one per hierarchy) that hold this base dir's containers, as
    /// each herodo process that started one resolved them.
    #[serde(default)]
    pub cgroup_parents: Vec<String>,
}

fn bases_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("heropods").join("bases")
}

fn base_file(state_dir: &Path, base: &Path) -> PathBuf {
    bases_dir(state_dir).join(format!(
        "{:016x}.json",
        fnv1a(base.as_os_str().as_encoded_bytes())
    ))
}

/// Note in the state directory that `paths`' base dir holds containers, with the cgroup
/// directories this process's containers get there, so that `herodo clean` finds them even
/// after the base dir is removed. Once this process has seen its registration complete, a
/// later call costs a `stat` (the first one ~0.3 ms in a debug build: it reads the file and
/// this process's cgroups).
pub fn register_base(host: &Host, state_dir: &Path, paths: &Paths) -> Result<()> {
    // A process does not change cgroups: what it registered stays complete while the file is
    // there. A cache, not state: losing it costs one read.
    static DONE: std::sync::Mutex<BTreeSet<PathBuf>> = std::sync::Mutex::new(BTreeSet::new());
    let file = base_file(state_dir, paths.base());
    let done = || DONE.lock().unwrap_or_else(|e| e.into_inner());
    if file.exists() && done().contains(&file) {
        return Ok(());
    }
    register_now(host, state_dir, paths, &file)?;
    done().insert(file);
    Ok(())
}

fn register_now(host: &Host, state_dir: &Path, paths: &Paths, file: &Path) -> Result<()> {
    let mine = runtime::cgroup_dirs_below_self(&paths.cgroup_parent());
    let current = || -> Option<BaseRecord> {
        state::read_json::<BaseRecord>(file)
            .ok()
            .flatten()
            .filter(|r| r.path == paths.base())
    };
    if current().is_some_and(|r| mine.iter().all(|d| r.cgroup_parents.contains(d))) {
        return Ok(());
    }
    let _lock = FileLock::exclusive(
        &bases_dir(state_dir).join(".lock"),
        &host.cancel,
        LOCK_TIMEOUT,
    )?;
    let mut rec = current().unwrap_or_else(|| BaseRecord {
        path: paths.base().to_path_buf(),
        cgroup_parents: Vec::new(),
    });
    for d in mine {
        if !rec.cgroup_parents.contains(&d) {
            rec.cgroup_parents.push(d);
        }
    }
    Ok(state::write_json(file, &rec)?)
}

/// The registered base dirs, with the file that registers each.
fn registered_bases(state_dir: &Path) -> Vec<(PathBuf, BaseRecord)> {
    let Ok(rd) = std::fs::read_dir(bases_dir(state_dir)) else {
        return Vec::new();
    };
    let mut out: Vec<(PathBuf, BaseRecord)> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| {
            let rec = state::read_json::<BaseRecord>(&p).ok()??;
            rec.path.is_absolute().then_some((p, rec))
        })
        .collect();
    out.sort_by(|a, b| a.1.path.cmp(&b.1.path));
    out
}

/// Remove what heropods left behind that no herodo process will clean up (see the module
/// comment); under `--dry-run` only say what would go.
pub fn reap_orphans(host: &Host) -> Vec<Cleaned> {
    let state_dir = host.state_dir.clone();
    let mut out = Vec::new();
    let registered = registered_bases(&state_dir);
    let bridges = network::recorded_bridges(&state_dir);
    // Base dirs: the registered ones and those that leases name (made before registering).
    let mut bases: BTreeMap<PathBuf, Vec<String>> = registered
        .iter()
        .map(|(_, r)| (r.path.clone(), r.cgroup_parents.clone()))
        .collect();
    for (_, leases) in &bridges {
        for owner in leases.leases.values() {
            if let Some((base, _)) = network::lease_owner(owner) {
                if Path::new(base).is_absolute() {
                    bases.entry(PathBuf::from(base)).or_default();
                }
            }
        }
    }
    for (base, parents) in &bases {
        delete_abandoned(host, base, parents, &mut out);
        reap_unrecorded(host, base, parents, &mut out);
        for dir in image_cache::stale_incoming(&Paths::new(base)) {
            let error = (!host.settings.dry_run)
                .then(|| std::fs::remove_dir_all(&dir).err())
                .flatten()
                .map(|e| e.to_string());
            out.push(Cleaned {
                kind: "image-download",
                name: dir.display().to_string(),
                error,
            });
        }
    }
    release_orphan_leases(host, &bridges, &mut out);
    // Containers deleted above (`Pods::delete`) removed their own published-port rules.
    reap_port_rules(
        host,
        &state_dir,
        &bases.keys().cloned().collect::<Vec<_>>(),
        &mut out,
    );
    remove_unleased_links(host, &mut out);
    if !host.settings.dry_run {
        forget_vanished(&registered);
    }
    out
}

/// The published-port rules of this state directory's containers that have no record (their
/// base dir removed, a delete cut short), by their tag (see `ports`). Without iptables there
/// are none; under `--dry-run` none are listed (listing runs `iptables-save`, and a dry run
/// runs no command).
fn reap_port_rules(host: &Host, state_dir: &Path, bases: &[PathBuf], out: &mut Vec<Cleaned>) {
    let Ok(rules) = ports::rules_of(host, &ports::state_prefix(state_dir)) else {
        return;
    };
    let has_record = |base: &Path, name: &str| Paths::new(base).record(name).exists();
    for o in ports::orphaned(rules, state_dir, bases, has_record) {
        let error = (!host.settings.dry_run)
            .then(|| ports::remove_rules(host, &o.rules).err())
            .flatten()
            .map(|e| e.to_string());
        out.push(Cleaned {
            kind: "port-rules",
            name: match &o.base {
                Some(b) => format!("{} in {}", o.name, b.display()),
                None => o.tag.clone(),
            },
            error,
        });
    }
}

/// Delete the recorded containers of `base` that dead test sessions created. Their processes
/// are killed through their cgroups first: the runtime cannot stop a container whose state it
/// lost (its `runtime/` directory removed), and the container goes anyway.
fn delete_abandoned(host: &Host, base: &Path, registered: &[String], out: &mut Vec<Cleaned>) {
    let paths = Paths::new(base);
    let Ok(records) = store::list(&paths) else {
        return;
    };
    let parents = cgroup_parents(&paths, registered);
    for rec in records.into_iter().filter(|r| owner::abandoned(&r.owner)) {
        let error = if host.settings.dry_run {
            None
        } else {
            // A record is data on disk: end_processes touches only this container's cgroups.
            let mut cgroups = rec.cgroup_dirs.clone();
            cgroups.extend(
                parents
                    .iter()
                    .map(|p| p.join(&rec.name).display().to_string()),
            );
            let opts = PodsOptions {
                base_dir: Some(base.display().to_string()),
                runtime: Some(rec.runtime.clone()),
                ..PodsOptions::default()
            };
            end_processes(host, &paths, &rec.name, &cgroups)
                .and_then(|()| Pods::open(host, &opts))
                .and_then(|p| p.delete(host, &rec.name))
                .err()
                .map(|e| host.redact(&e.to_string()))
        };
        out.push(Cleaned {
            kind: "heropod",
            name: format!("{} in {}", rec.name, base.display()),
            error,
        });
    }
}

/// Names (in any order, with repeats) of what `base` holds per container: cgroups, mounts,
/// directories and runtime state.
#[derive(Debug, Default)]
struct Traces {
    cgroups: Vec<String>,
    mounts: Vec<PathBuf>,
    dirs: Vec<String>,
    runtime: Vec<String>,
}

/// The containers `traces` show that have no record: valid container names only (a name
/// becomes a path component).
fn unrecorded(
    containers_dir: &Path,
    traces: &Traces,
    recorded: impl Fn(&str) -> bool,
) -> BTreeSet<String> {
    let from_mounts = traces.mounts.iter().filter_map(|m| {
        m.strip_prefix(containers_dir)
            .ok()?
            .components()
            .next()?
            .as_os_str()
            .to_str()
            .map(str::to_string)
    });
    traces
        .cgroups
        .iter()
        .chain(&traces.dirs)
        .chain(&traces.runtime)
        .cloned()
        .chain(from_mounts)
        .filter(|n| spec::name("name", n).is_ok() && !recorded(n))
        .collect()
}

/// Mount points strictly below `dir` in /proc/self/mountinfo text, deepest first.
fn mounts_below(mountinfo: &str, dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|mp| PathBuf::from(runtime::unescape(mp)))
        .filter(|mp| mp != dir && mp.starts_with(dir))
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    out.dedup();
    out
}

fn subdirs(dir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect()
}

fn mountinfo() -> String {
    std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default()
}

/// Whether `dir` is named as the cgroup directory of `paths`' containers (`herodo-<hash>`):
/// what the reaper kills is only ever inside one.
fn is_cgroup_parent_of(dir: &Path, paths: &Paths) -> bool {
    dir.is_absolute() && dir.file_name() == Some(std::ffi::OsStr::new(&paths.cgroup_parent()))
}

/// The cgroup directories that may hold `paths`' containers: the registered ones and those
/// below this process's own cgroups.
fn cgroup_parents(paths: &Paths, registered: &[String]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = registered
        .iter()
        .map(PathBuf::from)
        .filter(|d| is_cgroup_parent_of(d, paths))
        .collect();
    for d in runtime::cgroup_dirs_below_self(&paths.cgroup_parent()) {
        let d = PathBuf::from(d);
        if !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

fn traces_of(paths: &Paths, parents: &[PathBuf]) -> Traces {
    Traces {
        cgroups: parents.iter().flat_map(|p| subdirs(p)).collect(),
        mounts: mounts_below(&mountinfo(), &paths.containers_dir()),
        dirs: subdirs(&paths.containers_dir()),
        runtime: subdirs(&paths.runtime_root()),
    }
}

/// Reap the containers of `base` that have no record.
fn reap_unrecorded(host: &Host, base: &Path, registered: &[String], out: &mut Vec<Cleaned>) {
    let paths = Paths::new(base);
    let parents = cgroup_parents(&paths, registered);
    let recorded = |n: &str| paths.record(n).exists();
    let names = unrecorded(
        &paths.containers_dir(),
        &traces_of(&paths, &parents),
        recorded,
    );
    let shown = |name: &str| format!("{name} in {}", base.display());
    if host.settings.dry_run {
        out.extend(names.iter().map(|n| Cleaned {
            kind: "heropod",
            name: shown(n),
            error: None,
        }));
        return;
    }
    if !names.is_empty() {
        // A create in progress mounts the root before it writes the record, under this lock.
        // A base dir without its lock file was removed: nobody creates there.
        let lock = paths.containers_lock();
        let _lock = match lock
            .exists()
            .then(|| FileLock::exclusive(&lock, &host.cancel, LOCK_TIMEOUT))
            .transpose()
        {
            Ok(l) => l,
            Err(e) => {
                out.push(Cleaned {
                    kind: "heropod",
                    name: shown("*"),
                    error: Some(e.to_string()),
                });
                return;
            }
        };
        for name in unrecorded(
            &paths.containers_dir(),
            &traces_of(&paths, &parents),
            recorded,
        ) {
            let error = reap_container(host, &paths, &parents, &name)
                .err()
                .map(|e| e.to_string());
            out.push(Cleaned {
                kind: "heropod",
                name: shown(&name),
                error,
            });
        }
    }
    // The parents of the cgroups (runtimes leave them) go when empty; so do the directories a
    // removed base dir kept only for mount points.
    for p in &parents {
        let _ = std::fs::remove_dir(p);
    }
    if !paths.containers_lock().exists() {
        for d in [paths.containers_dir(), paths.runtime_root(), base.into()] {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// Kill what runs in a container that has no record and remove everything it has below the
/// base dir. Its lease goes with the other leases without a record.
fn reap_container(host: &Host, paths: &Paths, parents: &[PathBuf], name: &str) -> Result<()> {
    let cgroups: Vec<String> = parents
        .iter()
        .map(|p| p.join(name).display().to_string())
        .collect();
    end_processes(host, paths, name, &cgroups)?;
    let cdir = paths.container_dir(name);
    for mp in mounts_below(&mountinfo(), &cdir) {
        unmount(&mp)?;
    }
    // The runtime's state of a container whose processes are gone (the runtime binary that
    // made it is only named in the lost record).
    let rt = paths.runtime_root().join(name);
    match std::fs::remove_dir_all(&rt) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(PodError::io("remove", &rt, e))
        }
        _ => {}
    }
    rootfs::remove(host, &cdir)
}

/// Kill every process in the cgroups `dirs` of container `name` and remove them; directories
/// that are not that container's own (`.../herodo-<hash>/NAME`) are left alone.
fn end_processes(host: &Host, paths: &Paths, name: &str, dirs: &[String]) -> Result<()> {
    let suffix = format!("{}/{name}", paths.cgroup_parent());
    let dirs: Vec<String> = dirs
        .iter()
        .filter(|d| runtime::is_container_cgroup(d, &suffix) && Path::new(d).is_dir())
        .cloned()
        .collect();
    runtime::kill_cgroup_procs(&dirs, &suffix, KILL_TIMEOUT);
    for d in &dirs {
        remove_cgroup(host, Path::new(d))?;
    }
    Ok(())
}

/// rmdir a cgroup whose processes were killed (the kernel may take a moment to let it go).
fn remove_cgroup(host: &Host, dir: &Path) -> Result<()> {
    poll_until(
        &host.cancel,
        KILL_TIMEOUT,
        Duration::from_millis(10),
        &format!("cgroup {} to be removed", dir.display()),
        || -> Result<Option<()>> {
            match std::fs::remove_dir(dir) {
                Ok(()) => Ok(Some(())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Some(())),
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => Ok(None),
                Err(e) => Err(PodError::io("remove", dir, e)),
            }
        },
    )
}

/// Unmount `target`; lazily when something still holds it busy.
fn unmount(target: &Path) -> Result<()> {
    let c = std::ffi::CString::new(target.as_os_str().as_encoded_bytes())
        .map_err(|e| PodError::invalid("mount point", e.to_string()))?;
    // SAFETY: a valid NUL-terminated path; umount2 only reads it.
    if unsafe { libc::umount2(c.as_ptr(), 0) } == 0 {
        return Ok(());
    }
    let err = std::io::Error::last_os_error();
    // SAFETY: as above.
    if err.raw_os_error() == Some(libc::EBUSY)
        && unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } == 0
    {
        return Ok(());
    }
    Err(PodError::io("unmount", target, err))
}

/// The leases of `leases` whose owner has no record: `(address, owner)`.
fn orphan_leases(leases: &Leases, recorded: impl Fn(&Path, &str) -> bool) -> Vec<(String, String)> {
    leases
        .leases
        .iter()
        .filter(|(_, owner)| match network::lease_owner(owner) {
            Some((base, name)) => {
                spec::name("name", name).is_ok()
                    && Path::new(base).is_absolute()
                    && !recorded(Path::new(base), name)
            }
            None => false,
        })
        .map(|(ip, owner)| (ip.clone(), owner.clone()))
        .collect()
}

/// Release the leases whose container has no record, with their veths and namespaces.
fn release_orphan_leases(host: &Host, bridges: &[(NetConfig, Leases)], out: &mut Vec<Cleaned>) {
    let recorded = |base: &Path, name: &str| Paths::new(base).record(name).exists();
    for (cfg, leases) in bridges {
        for (ip, owner) in orphan_leases(leases, recorded) {
            let Ok(addr) = ip.parse::<Ipv4Addr>() else {
                continue;
            };
            let error = if host.settings.dry_run {
                None
            } else {
                let netns = network::attachment_for(cfg, addr).netns;
                match netns_users(&netns).as_slice() {
                    [] => match network::release_orphan(host, &host.state_dir, cfg, addr, &owner) {
                        Ok(true) => None,
                        Ok(false) => continue,
                        Err(e) => Some(e.to_string()),
                    },
                    pids => Some(format!(
                        "its namespace {netns} is still used by process(es) {pids:?} (of {owner}, \
                         whose record is gone)"
                    )),
                }
            };
            out.push(Cleaned {
                kind: "lease",
                name: format!("{ip} on {}", cfg.bridge),
                error,
            });
        }
    }
}

/// Addresses of `cfg`'s subnet that herodo-named veths (`links`) or namespaces show, and no
/// lease of `leases` holds.
fn unleased(
    cfg: &NetConfig,
    leases: &Leases,
    links: &[String],
    namespaces: &[String],
) -> Vec<Ipv4Addr> {
    let first = u32::from(cfg.network) + 2;
    let broadcast = u32::from(cfg.network) | !(u32::MAX << (32 - cfg.prefix));
    let found = links
        .iter()
        .filter_map(|l| network::address_in_name(l, "hp"))
        .chain(
            namespaces
                .iter()
                .filter_map(|n| network::address_in_name(n, "herodo-")),
        );
    let set: BTreeSet<Ipv4Addr> = found
        .filter(|ip| (first..broadcast).contains(&u32::from(*ip)))
        .filter(|ip| !leases.leases.contains_key(&ip.to_string()))
        .collect();
    set.into_iter().collect()
}

/// Processes whose network namespace is the one pinned at /run/netns/NAME.
fn netns_users(name: &str) -> Vec<i32> {
    use std::os::unix::fs::MetadataExt;
    let Ok(ns) = std::fs::metadata(netlink::netns_path(name)) else {
        return Vec::new();
    };
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::metadata(format!("/proc/{pid}/ns/net"))
                .is_ok_and(|m| m.dev() == ns.dev() && m.ino() == ns.ino())
        })
        .collect()
}

/// The bridge a link is a port of.
fn master_of(link: &str) -> Option<String> {
    let target = std::fs::read_link(Path::new("/sys/class/net").join(link).join("master")).ok()?;
    target.file_name()?.to_str().map(str::to_string)
}

fn names_in(dir: &str) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect()
}

/// Remove herodo-named veths and namespaces that no lease of this state directory holds, on
/// the subnets of its bridges, when no process uses them.
fn remove_unleased_links(host: &Host, out: &mut Vec<Cleaned>) {
    let links = names_in("/sys/class/net");
    let namespaces = names_in(netlink::NETNS_DIR);
    for (cfg, leases) in network::recorded_bridges(&host.state_dir) {
        for ip in unleased(&cfg, &leases, &links, &namespaces) {
            let a = network::attachment_for(&cfg, ip);
            let has_link = links.contains(&a.veth);
            let ns_path = netlink::netns_path(&a.netns);
            let has_ns = ns_path.exists();
            // A veth without its namespace file is held by a process in that namespace (the
            // kernel removes the pair with the namespace); a port of another bridge is not ours.
            if has_link && (!has_ns || master_of(&a.veth).is_some_and(|m| m != cfg.bridge)) {
                continue;
            }
            let young = std::fs::metadata(&ns_path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age < YOUNG_NETNS);
            if has_ns && (young || !netns_users(&a.netns).is_empty()) {
                continue;
            }
            let error = if host.settings.dry_run {
                None
            } else {
                match network::remove_unleased(host, &host.state_dir, &cfg, ip) {
                    Ok(true) => None,
                    Ok(false) => continue,
                    Err(e) => Some(e.to_string()),
                }
            };
            if has_link {
                out.push(Cleaned {
                    kind: "veth",
                    name: a.veth.clone(),
                    error: error.clone(),
                });
            }
            if has_ns {
                out.push(Cleaned {
                    kind: "netns",
                    name: a.netns.clone(),
                    error,
                });
            }
        }
    }
}

/// Forget base dirs that are gone with nothing of them left.
fn forget_vanished(registered: &[(PathBuf, BaseRecord)]) {
    for (file, rec) in registered {
        let paths = Paths::new(&rec.path);
        let left = rec.path.exists()
            || cgroup_parents(&paths, &rec.cgroup_parents)
                .iter()
                .any(|p| p.exists());
        if !left {
            let _ = state::remove(file);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_without_a_record() {
        let cdir = Path::new("/b/containers");
        let traces = Traces {
            cgroups: vec!["web".into(), "db".into(), "..".into()],
            mounts: vec![
                "/b/containers/gone/rootfs".into(),
                "/b/containers/web/rootfs".into(),
            ],
            dirs: vec!["half".into(), "db".into()],
            runtime: vec!["ran".into(), "bad name".into()],
        };
        let names = unrecorded(cdir, &traces, |n| n == "db");
        assert_eq!(
            names.into_iter().collect::<Vec<_>>(),
            vec!["gone", "half", "ran", "web"]
        );
        assert!(unrecorded(cdir, &Traces::default(), |_| false).is_empty());
    }

    #[test]
    fn mounts_below_a_directory_deepest_first() {
        // Lines in the form of /proc/self/mountinfo on this host.
        let mi = "\
22 1 8:1 / / rw - ext4 /dev/vda rw
90 22 0:50 / /tmp/b/containers/web/rootfs rw - overlay overlay rw,lowerdir=/x
91 90 0:51 / /tmp/b/containers/web/rootfs/proc rw - proc proc rw
92 22 0:52 / /tmp/b/containers/my\\040box/rootfs rw - overlay overlay rw
93 22 0:53 / /tmp/b/containers2/x rw - tmpfs tmpfs rw
94 22 0:54 / /tmp/b/containers rw - tmpfs tmpfs rw
";
        assert_eq!(
            mounts_below(mi, Path::new("/tmp/b/containers")),
            vec![
                PathBuf::from("/tmp/b/containers/web/rootfs/proc"),
                PathBuf::from("/tmp/b/containers/web/rootfs"),
                PathBuf::from("/tmp/b/containers/my box/rootfs"),
            ]
        );
        assert!(mounts_below(mi, Path::new("/elsewhere")).is_empty());
    }

    #[test]
    fn leases_whose_container_has_no_record() {
        let mut leases = Leases {
            subnet: "10.89.201.0/24".into(),
            ..Leases::default()
        };
        for (ip, owner) in [
            ("10.89.201.2", "/b#web"),
            ("10.89.201.3", "/gone#db"),
            ("10.89.201.4", "relative#x"),
            ("10.89.201.5", "no-owner"),
            ("10.89.201.6", "/b#../x"),
        ] {
            leases.leases.insert(ip.into(), owner.into());
        }
        let recorded = |base: &Path, name: &str| base == Path::new("/b") && name == "web";
        assert_eq!(
            orphan_leases(&leases, recorded),
            vec![("10.89.201.3".to_string(), "/gone#db".to_string())]
        );
    }

    #[test]
    fn veths_and_namespaces_without_a_lease() {
        let cfg = NetConfig::parse("hdreap0", "10.89.201.0/24").unwrap();
        let mut leases = Leases {
            subnet: cfg.subnet(),
            ..Leases::default()
        };
        leases.leases.insert("10.89.201.2".into(), "/b#web".into());
        let name = |ip: [u8; 4]| network::attachment_for(&cfg, Ipv4Addr::from(ip));
        let links = vec![
            name([10, 89, 201, 2]).veth, // leased
            name([10, 89, 201, 3]).veth, // stray, with its namespace below
            name([10, 89, 202, 3]).veth, // another subnet
            "eth0".to_string(),
            "hdreap0".to_string(),
            "hp0a59c9".to_string(),
        ];
        let namespaces = vec![
            name([10, 89, 201, 2]).netns,
            name([10, 89, 201, 3]).netns,
            name([10, 89, 201, 254]).netns, // a stray namespace alone
            name([10, 89, 201, 255]).netns, // the broadcast address: never herodo's
            name([10, 89, 201, 1]).netns,   // the gateway: never herodo's
            "herodo-other".to_string(),
            "cni-1234".to_string(),
        ];
        assert_eq!(
            unleased(&cfg, &leases, &links, &namespaces),
            vec![
                Ipv4Addr::new(10, 89, 201, 3),
                Ipv4Addr::new(10, 89, 201, 254)
            ]
        );
    }

    #[test]
    fn only_the_base_dirs_own_cgroup_directories() {
        let paths = Paths::new("/srv/pods");
        let mine = format!("/sys/fs/cgroup/pids/user/{}", paths.cgroup_parent());
        let parents = cgroup_parents(
            &paths,
            &[
                mine.clone(),
                "/sys/fs/cgroup/pids".to_string(),
                "/sys/fs/cgroup/pids/herodo-00000000".to_string(),
                paths.cgroup_parent(),
            ],
        );
        assert_eq!(parents[0], PathBuf::from(&mine));
        assert!(parents.iter().all(|p| is_cgroup_parent_of(p, &paths)));
        assert!(!is_cgroup_parent_of(
            Path::new("/sys/fs/cgroup/pids"),
            &paths
        ));
    }

    #[test]
    fn base_dirs_register_once_per_cgroup() {
        let (host, _) = crate::host::recording_host();
        let dir = std::env::temp_dir().join(format!("herodo-bases-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let paths = Paths::new(dir.join("pods"));
        register_base(&host, &dir, &paths).unwrap();
        register_base(&host, &dir, &paths).unwrap();
        let all = registered_bases(&dir);
        // A registration removed meanwhile is made again.
        std::fs::remove_file(&all[0].0).unwrap();
        register_base(&host, &dir, &paths).unwrap();
        assert_eq!(registered_bases(&dir), all);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].1.path, dir.join("pods"));
        assert_eq!(
            all[0].1.cgroup_parents,
            runtime::cgroup_dirs_below_self(&paths.cgroup_parent())
        );
        // Gone, with no cgroup of it left: forgotten.
        forget_vanished(&all);
        assert!(registered_bases(&dir).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
