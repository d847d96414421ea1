//! Stopping and deleting a container.

use super::*;

impl Pods {
    /// SIGTERM, then SIGKILL after `grace`. Stopping a stopped container is fine.
    pub fn stop(&self, host: &Host, name: &str, grace: Duration) -> Result<()> {
        spec::name("name", name)?;
        if dry(host, &format!("stop container {name}")) {
            return Ok(());
        }
        let rec = self.record(name)?;
        if !self.is_running(host, &rec)? {
            return self.after_stop(host, &rec);
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
        self.after_stop(host, &rec)
    }

    /// The monitor records the exit code just after the runtime returns: wait for it (a
    /// moment normally; on a loaded host the monitor's shell can take seconds to be scheduled),
    /// so `status()` right after `stop()` knows it and a delete does not race its write.
    pub(super) fn await_exit_code(&self, host: &Host, name: &str) {
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
    pub(super) fn release_stale_runtime(&self, host: &Host, name: &str) {
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
        self.unpublish_ports(host, &rec)?;
        if let Some(a) = &rec.attachment {
            network::detach(host, &self.state_dir, a)?;
        }
        rootfs::remove(host, &self.paths.container_dir(name))?;
        self.refresh_hosts(host, &rec);
        remove_cgroups(&rec.cgroup_dirs);
        host.resources.forget("heropod", name);
        Ok(true)
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
