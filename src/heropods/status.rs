//! What a container is doing: told by herodo's files when they can tell, else by the runtime.

use super::*;

impl Pods {
    /// Whether the container runs, without a runtime call when herodo can tell: a code in the
    /// monitor's exit file means it ended; else its init process (pid and start time recorded at start)
    /// is alive or not. `None` when there is nothing to tell by (never started here).
    pub(super) fn known_running(&self, rec: &ContainerRecord) -> Option<bool> {
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
    pub(super) fn is_running(&self, host: &Host, rec: &ContainerRecord) -> Result<bool> {
        if let Some(known) = self.known_running(rec) {
            return Ok(known);
        }
        Ok(self
            .runtime_state(host, rec)?
            .is_some_and(|s| s.status == "running" || s.status == "paused"))
    }

    pub(super) fn state_of(
        &self,
        host: &Host,
        rec: &ContainerRecord,
    ) -> Result<(String, Option<i64>)> {
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

    pub(super) fn status_from(
        &self,
        rec: ContainerRecord,
        state: String,
        pid: Option<i64>,
    ) -> Status {
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
            ports: rec.overrides.ports.iter().map(|p| p.to_string()).collect(),
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
}
