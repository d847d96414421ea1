//! Running a command inside a running container.

use super::*;

impl Pods {
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
        // The container ended between the check and the exec: the runtime says so with 255
        // ("container does not exist", "cannot exec in a stopped container"). That is
        // `not_running`, not the command's failure: the command never ran.
        if out.status == crate::exec::Status::Exited(255) && !self.is_running(host, &rec)? {
            return Err(PodError::NotRunning {
                name: name.to_string(),
                state: self.state_of(host, &rec)?.0,
            });
        }
        Ok((cmd, out))
    }
}
