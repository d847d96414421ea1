//! heropods: containers without a daemon, straight on an OCI runtime (runc or crun).
//!
//! An image is fetched without a daemon and unpacked once into a read-only cache
//! (`image_cache`); each container gets its own writable layer over it (`rootfs`), a runtime
//! config made from the image's own metadata (`bundle`), a network namespace on herodo's bridge
//! (`network`), and runs under the runtime (`runtime`), detached, its output in a log file.
//! Records under the base directory (`store`) let later herodo processes see and manage it.
//!
//! No daemon watches a container: a small monitor (`sh` waiting on a foreground `runc run`,
//! in its own session) records the exit code when the container ends, and the runtime's own
//! state says whether it still runs. A start overlaps herodo's preparation of the bundle with
//! the runtime's own start-up (`handover`) and keeps the kernel's cgroup-migration lock warm
//! meanwhile (`warm`). Plain Rust; `bindings.rs` is the Rhai layer.

pub mod bindings;
pub mod bundle;
mod create;
pub mod error;
mod exec_in;
pub mod handover;
pub mod image_cache;
pub mod logs;
mod names;
pub mod netlink;
pub mod network;
pub mod ports;
pub mod reap;
pub mod rootfs;
pub mod runtime;
pub mod seccomp;
pub mod spec;
mod start;
mod status;
mod stop;
pub mod store;
pub mod warm;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use error::{PodError, Result};

use crate::common::flock::FileLock;
use crate::common::poll::poll_until;
use crate::common::time::timestamp;
use crate::exec::{Cmd, Output};
use crate::host::{Host, Resource};
use bundle::{Bind, BundleSpec, NetNs};
use handover::Handover;
use image_cache::Source;
use network::{Attachment, NetConfig};
use rootfs::StorageMode;
use runtime::{Flavor, Runtime, State};
use spec::{NetworkMode, Overrides, PullPolicy};
use store::{ContainerRecord, Paths};

/// How long starting a container may take until its process runs.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the cgroup lock is kept warm (`warm`) while a container starts, at most, and
/// while an exec starts: both are far longer than the runtime needs to reach its cgroup moves.
const WARM_START: Duration = Duration::from_secs(10);
const WARM_EXEC: Duration = Duration::from_secs(1);
/// How long a container killed with SIGKILL may take to be gone.
const KILL_TIMEOUT: Duration = Duration::from_secs(15);
const LOCK_TIMEOUT: Duration = Duration::from_secs(120);
/// The default grace between SIGTERM and SIGKILL in `stop()`.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// Runs the foreground runtime (the rest of the arguments) with its output piped through
/// herodo's log pump (`$2 __log-pump $3`, see `logs`), and records its exit code (= the
/// container's) in the file `$1`. Fixed text: every value arrives as an argument.
const MONITOR_SCRIPT: &str =
    r#"f=$1; p=$2; l=$3; shift 3; { "$@"; echo $? > "$f"; } 2>&1 | "$p" __log-pump "$l""#;

/// What `heropods_new(#{...})` may set.
#[derive(Clone, Debug, Default)]
pub struct PodsOptions {
    pub base_dir: Option<String>,
    pub runtime: Option<String>,
    pub bridge: Option<String>,
    pub subnet: Option<String>,
    pub storage: Option<String>,
    pub dns: Vec<String>,
}

/// A factory: where containers live, which runtime runs them, how they are networked.
#[derive(Clone, Debug)]
pub struct Pods {
    pub paths: Paths,
    pub runtime: String,
    pub flavor: Flavor,
    pub net: NetConfig,
    pub storage: StorageMode,
    pub dns: Vec<String>,
    /// herodo's state directory: the address leases live here, shared by every base dir.
    pub state_dir: PathBuf,
}

/// What `container_new(#{...})` asks for.
#[derive(Clone, Debug, Default)]
pub struct CreateRequest {
    pub name: String,
    /// The image as written (a reference, a built-in type, an OCI layout dir).
    pub image: String,
    pub source: Option<Source>,
    pub reset: bool,
    pub overrides: Overrides,
    pub pull: PullPolicy,
}

/// A container as `status()` reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct Status {
    pub name: String,
    /// `created`, `running`, `stopped`, or `broken` (its record cannot be read).
    pub state: String,
    pub pid: Option<i64>,
    pub exit_code: Option<i64>,
    pub created: i64,
    pub started: Option<i64>,
    pub image: String,
    pub image_id: String,
    pub ip: Option<String>,
    pub network: &'static str,
    pub runtime: String,
    pub keep_alive: bool,
    /// The published ports, canonical (`127.0.0.1:8080:80/tcp`).
    pub ports: Vec<String>,
    /// Why the container is `broken` (its record cannot be read).
    pub problem: Option<String>,
}

fn host_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The hard RLIMIT_NOFILE of this process (what a container may be given at most).
fn nofile_hard() -> u64 {
    // SAFETY: getrlimit fills the struct we pass.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 {
            r.rlim_max
        } else {
            1024
        }
    }
}

/// In dry-run, say what would happen and do nothing.
fn dry(host: &Host, what: &str) -> bool {
    if host.settings.dry_run {
        use std::io::Write;
        let _ = writeln!(std::io::stdout().lock(), "[dry-run] heropods: {what}");
    }
    host.settings.dry_run
}

impl Pods {
    /// Resolve the options into a factory. Writes nothing.
    pub fn open(host: &Host, o: &PodsOptions) -> Result<Pods> {
        let base = match &o.base_dir {
            Some(b) => PathBuf::from(b),
            None => host.state_dir.join("heropods"),
        };
        spec::base_dir(&base.display().to_string())?;
        let net = NetConfig::parse(
            o.bridge.as_deref().unwrap_or(network::DEFAULT_BRIDGE),
            o.subnet.as_deref().unwrap_or(network::DEFAULT_SUBNET),
        )?;
        let storage = match &o.storage {
            Some(s) => StorageMode::parse(s)?,
            None => StorageMode::Auto,
        };
        let dns = o
            .dns
            .iter()
            .map(|d| network::dns_server(d))
            .collect::<Result<Vec<_>>>()?;
        let (flavor, program) = runtime::choose(
            o.runtime.as_deref(),
            runtime::cgroup_mode(),
            crate::exec::which,
        )?;
        Ok(Pods {
            paths: Paths::new(base),
            runtime: program,
            flavor,
            net,
            storage,
            dns,
            state_dir: host.state_dir.clone(),
        })
    }

    fn runtime_of(&self, rec: &ContainerRecord) -> Runtime {
        Runtime::new(&rec.runtime, self.paths.runtime_root())
    }

    /// The record of `name`, or `no_such_container`.
    pub fn record(&self, name: &str) -> Result<ContainerRecord> {
        spec::name("name", name)?;
        store::load(&self.paths, name)?.ok_or_else(|| PodError::NoSuchContainer {
            name: name.to_string(),
        })
    }

    /// The image and warnings of `name` for a handle on it: a container whose record is
    /// corrupt still gets one (so that `delete()` can remove it), with the problem as warning.
    pub fn lookup(&self, name: &str) -> Result<(String, Vec<String>)> {
        spec::name("name", name)?;
        match store::load(&self.paths, name) {
            Ok(Some(rec)) => Ok((rec.image, rec.warnings)),
            Ok(None) => Err(PodError::NoSuchContainer {
                name: name.to_string(),
            }),
            Err(e @ PodError::CorruptRecord { .. }) => Ok((String::new(), vec![e.to_string()])),
            Err(e) => Err(e),
        }
    }

    /// Serialise start, stop and delete of one container across herodo processes.
    fn lock_container(&self, host: &Host, name: &str) -> Result<FileLock> {
        Ok(FileLock::exclusive(
            &self.paths.container_lock(name),
            &host.cancel,
            LOCK_TIMEOUT,
        )?)
    }

    /// This container's owner string in the address leases.
    fn lease_owner(&self, name: &str) -> String {
        format!("{}#{name}", self.paths.base().display())
    }

    /// The end of a container's cgroup paths: `herodo-<base tag>/<name>`.
    fn cgroup_suffix(&self, name: &str) -> String {
        format!("{}/{name}", self.paths.cgroup_parent())
    }

    /// The cgroup directories a container `name` of this base directory gets when this
    /// process starts it (runc resolves a relative cgroupsPath below its caller's cgroups).
    fn cgroup_dirs_here(&self, name: &str) -> Vec<String> {
        runtime::cgroup_dirs_below_self(&self.cgroup_suffix(name))
    }

    /// Whether anything of a container `name` exists without a readable record: runtime
    /// state, a container directory, or an address lease.
    fn has_leftovers(&self, name: &str) -> bool {
        self.paths.runtime_root().join(name).exists()
            || self.paths.container_dir(name).exists()
            || !network::leased_to(&self.state_dir, &self.lease_owner(name)).is_empty()
    }

    /// Remove everything of a container `name` that no readable record describes (its record
    /// is corrupt, or a herodo died between steps): what the runtime knows of that id, the
    /// processes still in its cgroups, its address leases with their veth and namespace, its
    /// mounts and directory. Returns whether anything was found. Call with the container lock.
    fn purge(&self, host: &Host, name: &str) -> Result<bool> {
        let mut found = false;
        if self.paths.runtime_root().join(name).exists() {
            found = true;
            let rt = Runtime::new(&self.runtime, self.paths.runtime_root());
            self.runtime_delete(host, &rt, name)?;
        }
        self.release_stale_runtime(host, name, None);
        let dirs = self.cgroup_dirs_here(name);
        found |= runtime::kill_cgroup_procs(&dirs, &self.cgroup_suffix(name), KILL_TIMEOUT);
        for a in network::leased_to(&self.state_dir, &self.lease_owner(name)) {
            found = true;
            network::detach(host, &self.state_dir, &a)?;
        }
        self.unpublish_tagged(host, name)?;
        let cdir = self.paths.container_dir(name);
        if cdir.exists() {
            found = true;
            rootfs::remove(host, &cdir)?;
        }
        stop::remove_cgroups(&dirs);
        Ok(found)
    }

    /// `runc delete --force`: kills what is left of the container and drops the runtime's
    /// state; a container the runtime no longer knows is fine. A failure shows its stderr.
    fn runtime_delete(&self, host: &Host, rt: &Runtime, name: &str) -> Result<()> {
        let cmd = rt.delete(name, true);
        let out = host.exec(cmd.clone())?;
        if out.success() || runtime::is_missing(&out.stderr) {
            return Ok(());
        }
        Err(crate::exec::ExecError::failed(&cmd, &out).into())
    }

    /// What the runtime says about `rec` (`None`: it has no such container).
    fn runtime_state(&self, host: &Host, rec: &ContainerRecord) -> Result<Option<State>> {
        if host.settings.dry_run {
            return Ok(None);
        }
        let cmd = self.runtime_of(rec).state(&rec.name);
        let out = host.exec(cmd.clone())?;
        if out.success() {
            return runtime::parse_state(&out.stdout).map(Some);
        }
        if runtime::is_missing(&out.stderr) {
            return Ok(None);
        }
        Err(crate::exec::ExecError::failed(&cmd, &out).into())
    }

    fn exit_file(&self, name: &str) -> PathBuf {
        self.paths.container_dir(name).join("exit_code")
    }

    fn pid_file(&self, name: &str) -> PathBuf {
        self.paths.container_dir(name).join("pid")
    }

    fn read_exit_code(&self, name: &str) -> Option<i64> {
        std::fs::read_to_string(self.exit_file(name))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    pub fn images(&self) -> Result<Vec<image_cache::ImageEntry>> {
        image_cache::list(&self.paths)
    }

    /// Forget an image reference (or an id); its files go when no reference is left. Refused
    /// while a container uses it.
    pub fn image_remove(&self, host: &Host, what: &str) -> Result<bool> {
        let (id, refs) = image_cache::resolve_for_removal(&self.paths, what)?;
        let users: Vec<String> = store::list(&self.paths)?
            .into_iter()
            .filter(|r| r.image_id == id)
            .map(|r| r.name)
            .collect();
        let entries = image_cache::list(&self.paths)?;
        let last_ref = entries
            .iter()
            .find(|e| e.image.id == id)
            .is_none_or(|e| e.refs.iter().all(|r| refs.contains(r)));
        if !users.is_empty() && last_ref {
            return Err(PodError::ImageInUse {
                image: what.to_string(),
                users: users.join(", "),
            });
        }
        if dry(host, &format!("remove image {what}")) {
            return Ok(last_ref);
        }
        image_cache::remove(host, &self.paths, &id, &refs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_validates_before_touching_disk() {
        let (host, rec) = crate::host::recording_host();
        let bad = |o: PodsOptions| match Pods::open(&host, &o) {
            Err(PodError::InvalidArgument { field, .. }) => field,
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("accepted {o:?}"),
        };
        assert_eq!(
            bad(PodsOptions {
                base_dir: Some("rel/dir".into()),
                ..Default::default()
            }),
            "base_dir"
        );
        assert_eq!(
            bad(PodsOptions {
                base_dir: Some("/a,b".into()),
                ..Default::default()
            }),
            "base_dir"
        );
        assert_eq!(
            bad(PodsOptions {
                subnet: Some("10.0.0.1/24".into()),
                ..Default::default()
            }),
            "subnet"
        );
        assert_eq!(
            bad(PodsOptions {
                dns: vec!["x".into()],
                ..Default::default()
            }),
            "dns"
        );
        assert!(rec.calls().is_empty());
    }
}
