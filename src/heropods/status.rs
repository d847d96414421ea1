//! What a container is doing: told by herodo's files when they can tell, else by the runtime.

use super::*;

impl Pods {
    /// Whether the container runs, without a runtime call when herodo can tell. Its init
    /// process (pid and start time recorded at start) alive: it runs, whatever else says so
    /// (the monitor's foreground runtime may have been killed, by the OOM killer say, and
    /// recorded an exit while the container goes on). Else a code in the monitor's exit file:
    /// it ended. Else a live monitor: it is ending (the exit code is about to be written).
    /// `None` when herodo's files cannot tell: never started here, or a start or a monitor
    /// that died half-way (the runtime then says).
    pub(super) fn known_running(&self, rec: &ContainerRecord) -> Option<bool> {
        let init = match (rec.pid, rec.pid_start) {
            (Some(pid), Some(start)) => Some(runtime::proc_alive(pid, start)),
            _ => None,
        };
        if init == Some(true) {
            return Some(true);
        }
        // A code in the exit file (an empty file is the monitor still writing it).
        if self.read_exit_code(&rec.name).is_some() {
            return Some(false);
        }
        if init.is_some() && rec.monitor.is_some_and(|(m, t)| runtime::proc_alive(m, t)) {
            return Some(true);
        }
        None
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
        Ok(state_by_runtime(
            rec,
            self.runtime_state(host, rec)?.as_ref(),
        ))
    }

    pub fn status(&self, host: &Host, name: &str) -> Result<Status> {
        spec::name("name", name)?;
        let rec = match store::load(&self.paths, name) {
            Ok(Some(rec)) => rec,
            Ok(None) => {
                return Err(PodError::NoSuchContainer {
                    name: name.to_string(),
                })
            }
            Err(PodError::CorruptRecord { name, reason }) => {
                return Ok(Status::broken(name, reason))
            }
            Err(e) => return Err(e),
        };
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
            problem: None,
        }
    }

    /// Every container of this base directory, with one runtime call for all; a container
    /// whose record is corrupt is listed as `broken` (`delete()` removes it).
    pub fn list(&self, host: &Host) -> Result<Vec<Status>> {
        let entries = store::entries(&self.paths)?;
        let mut states: Vec<(String, State)> = Vec::new();
        let mut programs: Vec<&str> = entries
            .iter()
            .filter_map(|e| match e {
                store::Entry::Record(r) if self.known_running(r).is_none() => {
                    Some(r.runtime.as_str())
                }
                _ => None,
            })
            .collect();
        programs.sort_unstable();
        programs.dedup();
        if !host.settings.dry_run {
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
        Ok(entries
            .into_iter()
            .map(|e| {
                let rec = match e {
                    store::Entry::Record(r) => *r,
                    store::Entry::Broken { name, reason } => return Status::broken(name, reason),
                };
                let (state, pid) = match self.known_running(&rec) {
                    Some(true) => ("running".to_string(), rec.pid),
                    Some(false) => ("stopped".to_string(), None),
                    None => {
                        let st = states
                            .iter()
                            .find(|(p, s)| *p == rec.runtime && s.id == rec.name)
                            .map(|(_, s)| s);
                        state_by_runtime(&rec, st)
                    }
                };
                self.status_from(rec, state, pid)
            })
            .collect())
    }

    /// The container's output (stdout and stderr, interleaved as written), all that is kept
    /// or the part `window` asks for; more than `logs::READ_CAP` bytes is a `limit` error.
    pub fn logs(&self, name: &str, window: logs::Window) -> Result<String> {
        self.lookup(name)?;
        logs::read(name, &self.paths.log(name), window, logs::READ_CAP)
    }
}

/// The state the runtime reports for `rec`, as heropods names it.
fn state_by_runtime(rec: &ContainerRecord, st: Option<&State>) -> (String, Option<i64>) {
    match st {
        Some(s) if s.status == "running" || s.status == "paused" => ("running".into(), Some(s.pid)),
        Some(s) if s.status == "created" => ("created".into(), Some(s.pid)),
        _ if rec.started.is_some() => ("stopped".into(), None),
        _ => ("created".into(), None),
    }
}

impl Status {
    /// A container whose record cannot be read.
    fn broken(name: String, reason: String) -> Status {
        Status {
            problem: Some(format!(
                "the record is corrupt ({reason}); delete() removes the container"
            )),
            name,
            state: "broken".into(),
            pid: None,
            exit_code: None,
            created: 0,
            started: None,
            image: String::new(),
            image_id: String::new(),
            ip: None,
            network: "unknown",
            runtime: String::new(),
            keep_alive: false,
            ports: Vec::new(),
        }
    }
}
