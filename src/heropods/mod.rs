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
pub mod error;
pub mod handover;
pub mod image_cache;
pub mod netlink;
pub mod network;
pub mod rootfs;
pub mod runtime;
pub mod spec;
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

/// Records the exit code of the foreground runtime (= the container's) in the file `$1`.
/// Fixed text: every value arrives as an argument.
const MONITOR_SCRIPT: &str = r#"f=$1; shift; "$@"; echo $? > "$f""#;

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
    /// `created`, `running` or `stopped`.
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

    /// Create a container (its writable layer and record; it runs on `start`). An existing
    /// container of that name is returned as it is, unless `reset` asks to replace it.
    pub fn create(&self, host: &Host, req: &CreateRequest) -> Result<ContainerRecord> {
        spec::name("name", &req.name)?;
        req.overrides.validate(host_cpus())?;
        let source = match &req.source {
            Some(s) => s.clone(),
            None => Source::parse(&req.image)?,
        };
        for (_, v) in &req.overrides.env {
            host.register_secret(v);
        }
        for m in &req.overrides.mounts {
            if !Path::new(&m.source).exists() {
                return Err(PodError::invalid(
                    "mounts.source",
                    format!("{} does not exist", m.source),
                ));
            }
        }
        if let Some(rec) = store::load(&self.paths, &req.name)? {
            if !req.reset {
                // Not registered for cleanup: this run did not create it.
                return Ok(rec);
            }
            self.delete(host, &req.name)?;
        }
        if dry(
            host,
            &format!("create container {} from {}", req.name, source.transport()),
        ) {
            let img = image_cache::ensure(host, &self.paths, &source, req.pull)?;
            return Ok(self.new_record(req, &img.id, store::Storage::Overlay, Vec::new()));
        }
        let img = image_cache::ensure(host, &self.paths, &source, req.pull)?;
        let lower = self.paths.image_dir(img.hex()).join("rootfs");
        // The user must exist in the image: fail now, not at every start.
        let process = bundle::process(&img.config, &req.name, &req.overrides);
        rootfs::user_in(&lower, &process.user)?;

        let _lock = FileLock::exclusive(&self.paths.containers_lock(), &host.cancel, LOCK_TIMEOUT)?;
        if let Some(rec) = store::load(&self.paths, &req.name)? {
            // Another herodo created it meanwhile: the seed's rule, it is returned as it is.
            return Ok(rec);
        }
        let cdir = self.paths.container_dir(&req.name);
        store::private_dir(&cdir)?;
        let made = (|| {
            let storage = rootfs::prepare(host, &cdir, &lower, self.storage)?;
            let rec = self.new_record(req, &img.id, storage, process.warnings.clone());
            store::save(&self.paths, &rec)?;
            Ok(rec)
        })();
        match made {
            Ok(rec) => {
                self.register_cleanup(host, &rec.name);
                Ok(rec)
            }
            Err(e) => {
                let _ = rootfs::remove(host, &cdir);
                Err(e)
            }
        }
    }

    fn new_record(
        &self,
        req: &CreateRequest,
        image_id: &str,
        storage: store::Storage,
        warnings: Vec<String>,
    ) -> ContainerRecord {
        ContainerRecord {
            name: req.name.clone(),
            image: req.image.clone(),
            image_id: image_id.to_string(),
            overrides: req.overrides.clone(),
            runtime: self.runtime.clone(),
            storage,
            attachment: None,
            created: timestamp(),
            started: None,
            pid: None,
            pid_start: None,
            monitor: None,
            keep_alive: false,
            cgroup_dirs: Vec::new(),
            owner: crate::common::owner::owner_tag().to_string(),
            warnings,
        }
    }

    /// Under `herodo test`, a container a test created is deleted after it.
    fn register_cleanup(&self, host: &Host, name: &str) {
        let pods = self.clone();
        let n = name.to_string();
        host.resources.forget("heropod", name);
        host.resources
            .register(Resource::new("heropod", name, move |h| {
                pods.delete(h, &n).map(|_| ()).map_err(|e| e.to_string())
            }));
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

    /// Start the container detached (a running one is left as it is). With `keep_alive`, the
    /// container keeps running after its entrypoint exits with 0 (seed 002).
    pub fn start(&self, host: &Host, name: &str, keep_alive: bool) -> Result<()> {
        spec::name("name", name)?;
        // In dry-run, container_new wrote no record: there is nothing to load.
        if dry(host, &format!("start container {name}")) {
            return Ok(());
        }
        self.record(name)?;
        // One start of a container at a time: two herodo processes starting it at once would
        // share its config, pid and exit files. The second one finds it running.
        let _lock = FileLock::exclusive(
            &self.paths.container_dir(name).join("start.lock"),
            &host.cancel,
            LOCK_TIMEOUT,
        )?;
        let mut rec = self.record(name)?;
        let rt = self.runtime_of(&rec);
        // The runtime keeps a directory per container under its root: without one it knows
        // nothing of this container (this saves a runtime call on the hot path).
        let maybe_known = self.paths.runtime_root().join(name).exists();
        let state = if maybe_known {
            self.runtime_state(host, &rec)?
        } else {
            None
        };
        match state {
            Some(s) if s.status == "running" || s.status == "paused" => return Ok(()),
            // A leftover of a run whose monitor died: clear it before running again.
            Some(_) => {
                host.exec_checked(rt.delete(name, true))?;
            }
            None => {}
        }
        let had_attachment = rec.attachment.is_some();
        let launched = self.launch(host, &mut rec, &rt, keep_alive);
        if launched.is_err() && !had_attachment && rec.attachment.is_some() {
            // Keep the address just leased tied to the record, so delete() releases it.
            let _ = store::save(&self.paths, &rec);
        }
        launched?;
        store::save(&self.paths, &rec)
    }

    /// Everything of `start` after the checks: runtime, rootfs, network, bundle, pid.
    ///
    /// The runtime starts first, with `config.json` a FIFO (see `handover`): while it starts
    /// up, herodo mounts the root, plugs the network and writes the config, which the runtime
    /// reads the moment it is complete.
    fn launch(
        &self,
        host: &Host,
        rec: &mut ContainerRecord,
        rt: &Runtime,
        keep_alive: bool,
    ) -> Result<()> {
        let name = rec.name.clone();
        let name = name.as_str();
        let cdir = self.paths.container_dir(name);
        let img = image_cache::load(&self.paths, &rec.image_id)?.ok_or_else(|| {
            PodError::ImageNotFound {
                image: rec.image.clone(),
                detail: " (its unpacked copy was removed from the cache)".into(),
                source: None,
            }
        })?;
        self.release_stale_runtime(host, name);
        for f in [self.exit_file(name), self.pid_file(name)] {
            crate::common::state::remove(&f)?;
        }
        rec.pid = None;
        rec.pid_start = None;
        rec.monitor = None;
        let config_path = cdir.join("config.json");
        // runc gets its config through a FIFO while it starts (see `handover`); a runtime that
        // reads config.json up to the end of file (crun) gets the file before it starts.
        let mut config = if rt.reads_config_without_eof() {
            Config::Handover(Handover::create(&config_path)?)
        } else {
            let (json, cgroups_path) = self.bundle_config(host, rec, &img, keep_alive)?;
            crate::common::state::write_atomic(&config_path, &json)?;
            Config::Written(cgroups_path)
        };
        let _warm = warm::Warmer::start(WARM_START);
        let log = self.paths.log(name);
        let launch = Cmd::new("/bin/sh")
            .args(["-c", MONITOR_SCRIPT, "herodo-monitor"])
            .arg(self.exit_file(name).display().to_string())
            .args(
                run_foreground(rt, name, &cdir, &self.pid_file(name))
                    .argv()
                    .iter()
                    .map(|s| s.to_string()),
            )
            .timeout(runtime::CALL_TIMEOUT);
        let group = host.spawn_detached(launch, &log)?;
        // The monitor ended (the runtime failed): its log says why.
        let ended = || -> Result<()> {
            match self.read_exit_code(name) {
                None => Ok(()),
                Some(code) => {
                    let text = std::fs::read_to_string(&log).unwrap_or_default();
                    let tail = crate::exec::tail(&text, crate::exec::ERROR_TAIL_BYTES);
                    Err(crate::exec::ExecError::Failed {
                        cmd: rt
                            .run_detached(name, &cdir, &self.pid_file(name))
                            .to_string(),
                        status: crate::exec::Status::Exited(code as i32),
                        stdout: String::new(),
                        stderr: host.redact(tail),
                    }
                    .into())
                }
            }
        };
        let started = (|| -> Result<(i64, String)> {
            let cgroups_path = match &mut config {
                Config::Written(cgroups_path) => cgroups_path.clone(),
                Config::Handover(h) => {
                    let (json, cgroups_path) = self.bundle_config(host, rec, &img, keep_alive)?;
                    h.deliver(&json, &host.cancel, START_TIMEOUT, ended)?;
                    cgroups_path
                }
            };
            let pid = poll_until(
                &host.cancel,
                START_TIMEOUT,
                Duration::from_micros(250),
                &format!("container {name} to start"),
                || -> Result<Option<i64>> {
                    if let Some(pid) = std::fs::read_to_string(self.pid_file(name))
                        .ok()
                        .and_then(|s| s.trim().parse::<i64>().ok())
                    {
                        return Ok(Some(pid));
                    }
                    ended()?;
                    Ok(None)
                },
            )?;
            Ok((pid, cgroups_path))
        })();
        let (pid, cgroups_path) = match started {
            Ok(v) => v,
            Err(e) => {
                // Failed, timed out or Ctrl-C: stop the half-started container and its monitor
                // (one process group) before the runtime could read an end of file from the
                // FIFO and fail on its own, drop what the runtime kept of it, and leave the
                // container as it was before the start.
                if let Some(g) = group {
                    crate::exec::kill_detached(g, &host.cancel);
                }
                drop(config);
                let _ = host.exec(rt.delete(name, true));
                for f in [self.exit_file(name), self.pid_file(name)] {
                    let _ = crate::common::state::remove(&f);
                }
                return Err(e);
            }
        };
        // The runtime has its config: herodo's end of the FIFO can go.
        drop(config);
        rec.started = Some(timestamp());
        rec.pid = Some(pid);
        rec.pid_start = runtime::proc_start_time(pid);
        // The init's parent is the foreground runtime, whose parent is the monitor.
        rec.monitor = runtime::proc_parent(pid)
            .and_then(runtime::proc_parent)
            .and_then(|m| runtime::proc_start_time(m).map(|t| (m, t)));
        rec.keep_alive = keep_alive;
        let mut dirs = runtime::cgroup_dirs_of(pid);
        if dirs.is_empty() {
            dirs = runtime::cgroup_dirs_below_self(&cgroups_path);
        }
        rec.cgroup_dirs = dirs;
        Ok(())
    }

    /// The container's root mounted, its network plugged, its /etc files written, and the
    /// runtime config that names them all (with the cgroup path it gives the container).
    fn bundle_config(
        &self,
        host: &Host,
        rec: &mut ContainerRecord,
        img: &image_cache::CachedImage,
        keep_alive: bool,
    ) -> Result<(Vec<u8>, String)> {
        let name = rec.name.clone();
        let name = name.as_str();
        let cdir = self.paths.container_dir(name);
        let lower = self.paths.image_dir(img.hex()).join("rootfs");
        rootfs::ensure_mounted(host, &cdir, &lower, rec.storage)?;
        let root = cdir.join("rootfs");

        let netns = match rec.network() {
            NetworkMode::Host => NetNs::Host,
            NetworkMode::None => NetNs::New,
            NetworkMode::Bridge => {
                let a = self.ensure_attachment(host, rec)?;
                NetNs::Path(a.netns_path())
            }
        };
        let ip = rec.attachment.as_ref().map(|a| a.ip.clone());
        let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let files = [
            (
                "resolv.conf",
                "/etc/resolv.conf",
                network::resolv_conf(&host_resolv, &self.dns, rec.network() == NetworkMode::Host),
            ),
            (
                "hosts",
                "/etc/hosts",
                network::hosts_file(name, ip.as_deref()),
            ),
            ("hostname", "/etc/hostname", format!("{name}\n")),
        ];
        let mut binds = Vec::new();
        for (file, dest, content) in files {
            let p = cdir.join(file);
            write_file(&p, content.as_bytes())?;
            binds.push(Bind {
                source: p.display().to_string(),
                destination: dest.to_string(),
                readonly: false,
            });
        }
        binds.extend(rec.overrides.mounts.iter().map(|m| Bind {
            source: m.source.clone(),
            destination: m.destination.clone(),
            readonly: m.readonly,
        }));

        let process = bundle::process(&img.config, name, &rec.overrides);
        let user = rootfs::user_in(&root, &process.user)?;
        let mut args = process.args.clone();
        let shell = rootfs::find_shell(&root);
        if keep_alive || process.keep_alive_default {
            match (&shell, keep_alive) {
                (Some(sh), true) => args = bundle::keep_alive_args(sh, &args),
                // Without ENTRYPOINT and CMD, a keep-alive that stops promptly on SIGTERM.
                (Some(sh), false) => args = bundle::keep_alive_args(sh, &["true".to_string()]),
                (None, true) => {
                    return Err(PodError::invalid(
                        "keep_alive",
                        "the image has no /bin/sh to keep the container alive with",
                    ))
                }
                (None, false) => {}
            }
        }
        let cgroups_path = format!("{}/{name}", self.paths.cgroup_parent());
        let config = bundle::config(&BundleSpec {
            hostname: name.to_string(),
            args,
            env: process.env,
            cwd: process.cwd,
            user,
            binds,
            netns,
            limits: rec.overrides.limits.clone(),
            cgroups_path: cgroups_path.clone(),
            nofile: bundle::nofile_for(nofile_hard()),
        });
        let json = serde_json::to_vec_pretty(&config).map_err(|e| PodError::parse("config", e))?;
        Ok((json, cgroups_path))
    }

    /// The container's bridge attachment, made (or re-made after a reboot) when needed.
    fn ensure_attachment(&self, host: &Host, rec: &mut ContainerRecord) -> Result<Attachment> {
        if let Some(a) = &rec.attachment {
            if !network::is_plugged(a) {
                network::ensure_bridge(host, &self.state_dir, &self.net)?;
                network::plug(host, a)?;
            }
            return Ok(a.clone());
        }
        network::ensure_bridge(host, &self.state_dir, &self.net)?;
        let owner = format!("{}#{}", self.paths.base().display(), rec.name);
        let a = network::attach(host, &self.state_dir, &self.net, &owner)?;
        rec.attachment = Some(a.clone());
        Ok(a)
    }

    /// Whether the container runs, without a runtime call when herodo can tell: a code in the
    /// monitor's exit file means it ended; else its init process (pid and start time recorded at start)
    /// is alive or not. `None` when there is nothing to tell by (never started here).
    fn known_running(&self, rec: &ContainerRecord) -> Option<bool> {
        // A code in the exit file: it ended (an empty file is the monitor still writing it).
        if self.read_exit_code(&rec.name).is_some() {
            return Some(false);
        }
        match (rec.pid, rec.pid_start) {
            // Between the init's end and the exit file, the container is still ending: count
            // it as running, so that `stopped` always comes with its exit code when known.
            (Some(pid), Some(start)) => Some(
                runtime::proc_alive(pid, start)
                    || rec.monitor.is_some_and(|(m, t)| runtime::proc_alive(m, t)),
            ),
            _ => None,
        }
    }

    /// Whether the container's process still runs (see `known_running`; else the runtime says).
    fn is_running(&self, host: &Host, rec: &ContainerRecord) -> Result<bool> {
        if let Some(known) = self.known_running(rec) {
            return Ok(known);
        }
        Ok(self
            .runtime_state(host, rec)?
            .is_some_and(|s| s.status == "running" || s.status == "paused"))
    }

    /// SIGTERM, then SIGKILL after `grace`. Stopping a stopped container is fine.
    pub fn stop(&self, host: &Host, name: &str, grace: Duration) -> Result<()> {
        spec::name("name", name)?;
        if dry(host, &format!("stop container {name}")) {
            return Ok(());
        }
        let rec = self.record(name)?;
        if !self.is_running(host, &rec)? {
            return Ok(());
        }
        let rt = self.runtime_of(&rec);
        // A container that ends between the check and the signal makes kill fail: fine.
        let _ = host.exec(rt.kill(name, "TERM", false))?;
        let gone = |limit: Duration| {
            poll_until(
                &host.cancel,
                limit,
                Duration::from_millis(2),
                &format!("container {name} to stop"),
                || -> Result<Option<()>> { Ok((!self.is_running(host, &rec)?).then_some(())) },
            )
        };
        match gone(grace) {
            Ok(()) => {}
            Err(PodError::Host(crate::error::HostError::Timeout(_))) => {
                let _ = host.exec(rt.kill(name, "KILL", true))?;
                gone(KILL_TIMEOUT)?;
            }
            Err(e) => return Err(e),
        }
        self.await_exit_code(host, name);
        Ok(())
    }

    /// The monitor records the exit code just after the runtime returns: wait for it (a
    /// moment normally; on a loaded host the monitor's shell can take seconds to be scheduled),
    /// so `status()` right after `stop()` knows it and a delete does not race its write.
    fn await_exit_code(&self, host: &Host, name: &str) {
        let _ = poll_until(
            &host.cancel,
            Duration::from_secs(10),
            Duration::from_millis(2),
            "the monitor to record the exit code",
            // The shell creates the file, then writes the code: wait for the code itself.
            || -> Result<Option<()>> { Ok(self.read_exit_code(name).map(|_| ())) },
        );
    }

    /// A runtime still waiting to open its config, left by a herodo killed in the middle of a
    /// start (see `handover`): let it read an empty config, fail and end, with its monitor.
    fn release_stale_runtime(&self, host: &Host, name: &str) {
        let config = self.paths.container_dir(name).join("config.json");
        if handover::release_stale(&config) {
            self.await_exit_code(host, name);
        }
    }

    /// Remove the container and everything it had: runtime state, writable layer, bundle,
    /// network namespace, veth, address lease, cgroups. Deleting a missing container is fine
    /// (returns false).
    pub fn delete(&self, host: &Host, name: &str) -> Result<bool> {
        spec::name("name", name)?;
        if dry(host, &format!("delete container {name}")) {
            return Ok(self.paths.record(name).exists());
        }
        let Some(rec) = store::load(&self.paths, name)? else {
            host.resources.forget("heropod", name);
            return Ok(false);
        };
        let _lock = FileLock::exclusive(&self.paths.containers_lock(), &host.cancel, LOCK_TIMEOUT)?;
        let rt = self.runtime_of(&rec);
        if self.is_running(host, &rec)? {
            let _ = host.exec(rt.kill(name, "KILL", true))?;
            poll_until(
                &host.cancel,
                KILL_TIMEOUT,
                Duration::from_millis(5),
                &format!("container {name} to end"),
                || -> Result<Option<()>> { Ok((!self.is_running(host, &rec)?).then_some(())) },
            )?;
        }
        // After the monitor recorded the exit, the foreground runtime has removed its state.
        if !self.exit_file(name).exists() && self.runtime_state(host, &rec)?.is_some() {
            host.exec_checked(rt.delete(name, true))?;
        }
        // The monitor writes the exit code after the runtime returns: let it finish before the
        // directory goes, so it does not write into a removed directory.
        if rec.started.is_some() {
            self.await_exit_code(host, name);
        }
        self.release_stale_runtime(host, name);
        if let Some(a) = &rec.attachment {
            network::detach(host, &self.state_dir, a)?;
        }
        rootfs::remove(host, &self.paths.container_dir(name))?;
        remove_cgroups(&rec.cgroup_dirs);
        host.resources.forget("heropod", name);
        Ok(true)
    }

    /// Run `argv` in the running container; the output is captured.
    pub fn exec(
        &self,
        host: &Host,
        name: &str,
        argv: &[String],
        timeout: Option<Duration>,
    ) -> Result<(Cmd, Output)> {
        let rec = self.record(name)?;
        if argv.is_empty() {
            return Err(PodError::invalid("command", "the argv is empty"));
        }
        spec::argv("command", argv)?;
        if !host.settings.dry_run && !self.is_running(host, &rec)? {
            return Err(PodError::NotRunning {
                name: name.to_string(),
                state: self.state_of(host, &rec)?.0,
            });
        }
        let mut cmd = self.runtime_of(&rec).exec(name, argv);
        cmd.timeout = timeout;
        // The runtime moves the new process into the container's cgroups first thing.
        let _warm = (!host.settings.dry_run).then(|| warm::Warmer::start(WARM_EXEC));
        let out = host.exec(cmd.clone())?;
        Ok((cmd, out))
    }

    fn state_of(&self, host: &Host, rec: &ContainerRecord) -> Result<(String, Option<i64>)> {
        match self.known_running(rec) {
            Some(true) => return Ok(("running".into(), rec.pid)),
            Some(false) => return Ok(("stopped".into(), None)),
            None => {}
        }
        Ok(match self.runtime_state(host, rec)? {
            Some(s) if s.status == "running" || s.status == "paused" => {
                ("running".into(), Some(s.pid))
            }
            Some(s) if s.status == "created" => ("created".into(), Some(s.pid)),
            _ if rec.started.is_some() => ("stopped".into(), None),
            _ => ("created".into(), None),
        })
    }

    pub fn status(&self, host: &Host, name: &str) -> Result<Status> {
        let rec = self.record(name)?;
        let (state, pid) = self.state_of(host, &rec)?;
        Ok(self.status_from(rec, state, pid))
    }

    fn status_from(&self, rec: ContainerRecord, state: String, pid: Option<i64>) -> Status {
        let exit_code = if state == "stopped" {
            self.read_exit_code(&rec.name)
        } else {
            None
        };
        Status {
            state,
            pid,
            exit_code,
            created: rec.created,
            started: rec.started,
            image_id: rec.image_id.clone(),
            ip: rec.attachment.as_ref().map(|a| a.ip.clone()),
            network: rec.network().as_str(),
            runtime: rec.runtime.clone(),
            keep_alive: rec.keep_alive,
            image: rec.image,
            name: rec.name,
        }
    }

    /// Every container of this base directory, with one runtime call for all.
    pub fn list(&self, host: &Host) -> Result<Vec<Status>> {
        let records = store::list(&self.paths)?;
        let mut states: Vec<(String, State)> = Vec::new();
        let unknown: Vec<&ContainerRecord> = records
            .iter()
            .filter(|r| self.known_running(r).is_none())
            .collect();
        if !host.settings.dry_run && !unknown.is_empty() {
            let mut programs: Vec<&str> = unknown.iter().map(|r| r.runtime.as_str()).collect();
            programs.sort_unstable();
            programs.dedup();
            for p in programs {
                let rt = Runtime::new(p, self.paths.runtime_root());
                let out = host.exec_checked(rt.list())?;
                states.extend(
                    runtime::parse_list(&out.stdout)?
                        .into_iter()
                        .map(|s| (p.to_string(), s)),
                );
            }
        }
        Ok(records
            .into_iter()
            .map(|rec| {
                match self.known_running(&rec) {
                    Some(true) => {
                        let pid = rec.pid;
                        return self.status_from(rec, "running".into(), pid);
                    }
                    Some(false) => return self.status_from(rec, "stopped".into(), None),
                    None => {}
                }
                let st = states
                    .iter()
                    .find(|(p, s)| *p == rec.runtime && s.id == rec.name)
                    .map(|(_, s)| s);
                let (state, pid) = match st {
                    Some(s) if s.status == "running" || s.status == "paused" => {
                        ("running".to_string(), Some(s.pid))
                    }
                    _ if rec.started.is_some() => ("stopped".to_string(), None),
                    _ => ("created".to_string(), None),
                };
                self.status_from(rec, state, pid)
            })
            .collect())
    }

    /// The container's output so far (stdout and stderr, interleaved as written).
    pub fn logs(&self, name: &str) -> Result<String> {
        self.record(name)?;
        let p = self.paths.log(name);
        match std::fs::read(&p) {
            Ok(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(PodError::io("read", &p, e)),
        }
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

/// Write a bundle file. No fsync and no rename: these files are made anew at every start and
/// read only by the runtime after this, so durability would only slow every start down.
fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| PodError::io("write", path, e))
}

/// The runtime in the foreground (it waits for the container and exits with its code).
fn run_foreground(rt: &Runtime, id: &str, bundle: &Path, pid_file: &Path) -> Cmd {
    Cmd::new(&rt.program)
        .arg("--root")
        .arg(rt.root.display().to_string())
        .args(["run", "--pid-file"])
        .arg(pid_file.display().to_string())
        .arg("--bundle")
        .arg(bundle.display().to_string())
        .arg(id)
}

/// How a starting runtime gets its config: through a hand-over (herodo prepares it while the
/// runtime starts), or written before the runtime starts (with the cgroup path it names).
enum Config {
    Handover(Handover),
    Written(String),
}

/// Remove the container's cgroup directories (the runtime usually did) and their parent when
/// it is empty (runtimes leave it).
fn remove_cgroups(dirs: &[String]) {
    for d in dirs {
        let p = Path::new(d);
        let _ = std::fs::remove_dir(p);
        if let Some(parent) = p.parent() {
            // Fails while another container of this base directory still uses it: fine.
            let _ = std::fs::remove_dir(parent);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreground_argv_and_monitor() {
        let rt = Runtime::new("/usr/sbin/runc", "/b/runtime");
        assert_eq!(
            run_foreground(&rt, "web", Path::new("/b/c/web"), Path::new("/b/c/web/pid")).argv(),
            vec![
                "/usr/sbin/runc",
                "--root",
                "/b/runtime",
                "run",
                "--pid-file",
                "/b/c/web/pid",
                "--bundle",
                "/b/c/web",
                "web"
            ]
        );
        // Values never enter the script text.
        assert!(!MONITOR_SCRIPT.contains("web"));
    }

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
