//! Stopping and deleting a container.

use super::*;

impl Pods {
    /// SIGTERM, then SIGKILL after `grace`. Stopping a stopped container is fine.
    pub fn stop(&self, host: &Host, name: &str, grace: Duration) -> Result<()> {
        spec::name("name", name)?;
        if dry(host, &format!("stop container {name}")) {
            return Ok(());
        }
        let _lock = self.lock_container(host, name)?;
        let rec = self.record(name)?;
        let rt = self.runtime_of(&rec);
        match self.state_of(host, &rec)?.0.as_str() {
            "running" => {}
            // The runtime holds a container created but not started: a start cut short (its
            // herodo killed) that would otherwise go on to run after this stop. It goes.
            "created" if self.paths.runtime_root().join(name).exists() => {
                self.runtime_delete(host, &rt, name)?;
                return self.after_stop(host, &rec);
            }
            _ => return self.after_stop(host, &rec),
        }
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
        self.await_exit_code(host, name, rec.monitor);
        self.after_stop(host, &rec)
    }

    /// The monitor records the exit code just after the runtime returns: wait for it (a
    /// moment normally; on a loaded host the monitor's shell can take seconds to be scheduled),
    /// so `status()` right after `stop()` knows it and a delete does not race its write. A
    /// monitor known to be dead writes nothing: no wait then. `monitor`: the one recorded at
    /// start, if known.
    pub(super) fn await_exit_code(&self, host: &Host, name: &str, monitor: Option<(i64, u64)>) {
        let _ = poll_until(
            &host.cancel,
            Duration::from_secs(10),
            Duration::from_millis(2),
            "the monitor to record the exit code",
            // The shell creates the file, then writes the code: wait for the code itself.
            || -> Result<Option<()>> {
                let done = self.read_exit_code(name).is_some()
                    || monitor.is_some_and(|(m, t)| !runtime::proc_alive(m, t));
                Ok(done.then_some(()))
            },
        );
    }

    /// A runtime still waiting to open its config, left by a herodo killed in the middle of a
    /// start (see `handover`): let it read an empty config, fail and end, with its monitor.
    pub(super) fn release_stale_runtime(
        &self,
        host: &Host,
        name: &str,
        monitor: Option<(i64, u64)>,
    ) {
        let config = self.paths.container_dir(name).join("config.json");
        if handover::release_stale(&config) {
            self.await_exit_code(host, name, monitor);
        }
    }

    /// Remove the container and everything it had: runtime state, writable layer, bundle,
    /// network namespace, veth, address lease, cgroups. Deleting a missing container is fine
    /// (returns false). What the runtime and the kernel say wins over herodo's files: whatever
    /// the runtime still knows under this id is killed, processes left in the container's
    /// cgroups too, and a container whose record is corrupt is removed all the same.
    pub fn delete(&self, host: &Host, name: &str) -> Result<bool> {
        spec::name("name", name)?;
        if dry(host, &format!("delete container {name}")) {
            return Ok(self.paths.container_dir(name).exists());
        }
        let _lock = self.lock_container(host, name)?;
        let _all = FileLock::exclusive(&self.paths.containers_lock(), &host.cancel, LOCK_TIMEOUT)?;
        let found = match store::load(&self.paths, name) {
            Ok(Some(rec)) => {
                self.delete_record(host, &rec)?;
                true
            }
            // Leftovers of a herodo that died creating or deleting it count as nothing.
            Ok(None) => {
                self.purge(host, name)?;
                false
            }
            Err(PodError::CorruptRecord { .. }) => {
                self.purge(host, name)?;
                true
            }
            Err(e) => return Err(e),
        };
        if found {
            self.refresh_hosts(host);
        }
        host.resources.forget("heropod", name);
        Ok(found)
    }

    fn delete_record(&self, host: &Host, rec: &ContainerRecord) -> Result<()> {
        let name = rec.name.as_str();
        let rt = self.runtime_of(rec);
        if self.is_running(host, rec)? {
            let _ = host.exec(rt.kill(name, "KILL", true))?;
            poll_until(
                &host.cancel,
                KILL_TIMEOUT,
                Duration::from_millis(5),
                &format!("container {name} to end"),
                || -> Result<Option<()>> { Ok((!self.is_running(host, rec)?).then_some(())) },
            )?;
        }
        // The runtime's state outlives the container when its foreground `run` was killed (or
        // a start died half-way): `delete --force` kills anything left and drops the state.
        // Normally the foreground runtime removed it already (no call then).
        if self.paths.runtime_root().join(name).exists() {
            self.runtime_delete(host, &rt, name)?;
        }
        // The monitor writes the exit code after the runtime returns: let it finish before the
        // directory goes, so it does not write into a removed directory.
        if rec.started.is_some() {
            self.await_exit_code(host, name, rec.monitor);
        }
        self.release_stale_runtime(host, name, None);
        // Processes that escaped the runtime's kill (their runtime state was lost) are still
        // in the container's cgroups.
        let mut dirs = rec.cgroup_dirs.clone();
        for d in self.cgroup_dirs_here(name) {
            if !dirs.contains(&d) {
                dirs.push(d);
            }
        }
        runtime::kill_cgroup_procs(&dirs, &self.cgroup_suffix(name), KILL_TIMEOUT);
        self.unpublish_ports(host, rec)?;
        if let Some(a) = &rec.attachment {
            network::detach(host, &self.state_dir, a)?;
        }
        // An address leased by a start that died before recording it.
        for a in network::leased_to(&self.state_dir, &self.lease_owner(name)) {
            network::detach(host, &self.state_dir, &a)?;
        }
        rootfs::remove(host, &self.paths.container_dir(name))?;
        remove_cgroups(&dirs);
        Ok(())
    }
}

/// Remove the container's cgroup directories (the runtime usually did) and their parent when
/// it is empty (runtimes leave it).
pub(super) fn remove_cgroups(dirs: &[String]) {
    for d in dirs {
        let p = Path::new(d);
        let _ = std::fs::remove_dir(p);
        if let Some(parent) = p.parent() {
            // Fails while another container of this base directory still uses it: fine.
            let _ = std::fs::remove_dir(parent);
        }
    }
}
