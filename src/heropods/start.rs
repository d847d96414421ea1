//! Starting a container: the runtime, the root, the network, the bundle, the pid.

use super::*;

impl Pods {
    /// Start the container detached (a running one is left as it is). With `keep_alive`, the
    /// container keeps running after its entrypoint exits with 0 (seed 002).
    pub fn start(&self, host: &Host, name: &str, keep_alive: bool) -> Result<()> {
        spec::name("name", name)?;
        // In dry-run, container_new wrote no record: there is nothing to load.
        if dry(host, &format!("start container {name}")) {
            return Ok(());
        }
        self.record(name)?;
        // The cgroups this process gives containers (below its own) are where `herodo clean`
        // looks for them should the base dir be removed.
        reap::register_base(host, &self.state_dir, &self.paths)?;
        // One start, stop or delete of a container at a time: two herodo processes starting
        // it at once would share its config, pid and exit files (the second one finds it
        // running), and a delete meanwhile would pull its directory away.
        let _lock = self.lock_container(host, name)?;
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
            Some(_) => self.runtime_delete(host, &rt, name)?,
            // Processes no runtime knows (their runtime state was removed under them) must
            // not share the new container's cgroups: they would count against its limits
            // and be taken for it.
            None => {
                let dirs = self.cgroup_dirs_here(name);
                if dirs.iter().any(|d| Path::new(d).exists()) {
                    runtime::kill_cgroup_procs(&dirs, &self.cgroup_suffix(name), KILL_TIMEOUT);
                }
            }
        }
        // A host port that is taken fails the start before anything runs.
        let ports = self.reserve_ports(host, &rec)?;
        self.launch(host, &mut rec, &rt, keep_alive)?;
        if let Err(e) = self.after_start(host, &rec, ports) {
            self.undo_launch(host, &rt, name, None);
            return Err(e);
        }
        Ok(())
    }

    /// Everything of `start` after the checks: runtime, rootfs, network, bundle, pid.
    ///
    /// The runtime starts first, with `config.json` a FIFO (see `handover`): while it starts
    /// up, herodo mounts the root, plugs the network and writes the config, which the runtime
    /// reads the moment it is complete.
    pub(super) fn launch(
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
        // The log pump is this very binary. One replaced since this process started (a
        // rebuild under a long REPL session) is gone: say so rather than start a container
        // whose output nobody reads.
        let pump = std::env::current_exe()
            .ok()
            .filter(|p| p.exists())
            .ok_or_else(|| {
                PodError::io(
                    "find",
                    "herodo's own binary (/proc/self/exe)",
                    std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "it was removed or replaced since this herodo started; start herodo again",
                    ),
                )
            })?;
        self.release_stale_runtime(host, name, None);
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
            .arg(pump.display().to_string())
            .arg(log.display().to_string())
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
                    // The runtime's last words pass through the log pump, which ends right
                    // after the monitor: let it finish writing them.
                    if let Some(g) = group {
                        let until = std::time::Instant::now() + Duration::from_secs(1);
                        while crate::exec::group_alive(g) && std::time::Instant::now() < until {
                            std::thread::sleep(Duration::from_millis(1));
                        }
                    }
                    let window = logs::Window {
                        tail: Some(20),
                        since_bytes: None,
                    };
                    let text = logs::read(name, &log, window, 64 * 1024).unwrap_or_default();
                    let mut tail =
                        crate::exec::tail(&text, crate::exec::ERROR_TAIL_BYTES).to_string();
                    if tail.trim().is_empty() {
                        tail = format!("(the runtime wrote nothing to {})", log.display());
                    }
                    Err(crate::exec::ExecError::Failed {
                        // What ran: the runtime in the foreground, under the monitor.
                        cmd: run_foreground(rt, name, &cdir, &self.pid_file(name)).to_string(),
                        status: crate::exec::Status::Exited(code as i32),
                        stdout: String::new(),
                        stderr: host.redact(&tail),
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
                self.undo_launch(host, rt, name, None);
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
        // The container runs: without its record saved (a full disk, say), no later call
        // would know it runs. Undo the start rather than leave it so.
        if let Err(e) = store::save(&self.paths, rec) {
            self.undo_launch(host, rt, name, group);
            return Err(e);
        }
        Ok(())
    }

    /// Take back a start: the runtime kills the container (if it got that far) and drops its
    /// state, then the monitor's group goes; the pid and exit files of the attempt go too.
    fn undo_launch(&self, host: &Host, rt: &Runtime, name: &str, group: Option<u32>) {
        let _ = host.exec(rt.delete(name, true));
        if let Some(g) = group {
            crate::exec::kill_detached(g, &host.cancel);
        }
        runtime::kill_cgroup_procs(
            &self.cgroup_dirs_here(name),
            &self.cgroup_suffix(name),
            KILL_TIMEOUT,
        );
        for f in [self.exit_file(name), self.pid_file(name)] {
            let _ = crate::common::state::remove(&f);
        }
    }

    /// The container's root mounted, its network plugged, its /etc files written, and the
    /// runtime config that names them all (with the cgroup path it gives the container).
    pub(super) fn bundle_config(
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
        let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let files = [
            (
                "resolv.conf",
                "/etc/resolv.conf",
                network::resolv_conf(&host_resolv, &self.dns, rec.network() == NetworkMode::Host),
            ),
            ("hosts", "/etc/hosts", self.hosts_of(rec)),
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
            seccomp: rec.overrides.seccomp == spec::Seccomp::Default,
        });
        let json = serde_json::to_vec_pretty(&config).map_err(|e| PodError::parse("config", e))?;
        Ok((json, cgroups_path))
    }

    /// The container's bridge attachment, made (or re-made after a reboot) when needed.
    pub(super) fn ensure_attachment(
        &self,
        host: &Host,
        rec: &mut ContainerRecord,
    ) -> Result<Attachment> {
        if let Some(a) = &rec.attachment {
            if !network::is_plugged(a) {
                network::ensure_bridge(host, &self.state_dir, &self.net)?;
                network::plug(host, a)?;
            }
            return Ok(a.clone());
        }
        network::ensure_bridge(host, &self.state_dir, &self.net)?;
        let a = network::lease(
            host,
            &self.state_dir,
            &self.net,
            &self.lease_owner(&rec.name),
        )?;
        // Recorded before it exists: whatever happens next, delete() knows what to remove.
        rec.attachment = Some(a.clone());
        if let Err(e) = store::save(&self.paths, rec) {
            let _ = network::detach(host, &self.state_dir, &a);
            rec.attachment = None;
            return Err(e);
        }
        network::plug(host, &a)?;
        Ok(a)
    }
}

/// Write a bundle file. No fsync and no rename: these files are made anew at every start and
/// read only by the runtime after this, so durability would only slow every start down.
pub(super) fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| PodError::io("write", path, e))
}

/// The runtime in the foreground (it waits for the container and exits with its code).
pub(super) fn run_foreground(rt: &Runtime, id: &str, bundle: &Path, pid_file: &Path) -> Cmd {
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
pub(super) enum Config {
    Handover(Handover),
    Written(String),
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
        assert!(MONITOR_SCRIPT.contains(&format!(" {} ", logs::PUMP_COMMAND)));
    }
}
