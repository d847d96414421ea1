//! The shared context every binding holds (as `Arc<Host>`): the executor, run settings, the
//! cancel flag, the source texts used to render errors, and the registry of resources that
//! scripts create (which the test runner cleans up after each test).

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::HostError;
use crate::exec::{
    fmt_duration, CancelToken, Cmd, DryRunExecutor, ExecError, Executor, Output, ProcessExecutor,
};

/// Default timeout for an external command when neither the script nor `--timeout` sets one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3600);

/// Settings resolved from the command line.
#[derive(Clone, Debug)]
pub struct Settings {
    pub dry_run: bool,
    pub verbose: bool,
    /// `-vv`: with `verbose`, also the tail of each command's output.
    pub show_output: bool,
    pub default_timeout: Duration,
    /// `--engine`: the container engine to use (else HERODO_CONTAINER_ENGINE, else detected).
    pub container_engine: Option<String>,
    /// `-q`: no progress output (image pulls, downloads).
    pub quiet: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            dry_run: false,
            verbose: false,
            show_output: false,
            default_timeout: DEFAULT_TIMEOUT,
            container_engine: None,
            quiet: false,
        }
    }
}

/// How a resource is removed.
type Cleanup = Box<dyn Fn(&Host) -> Result<(), String> + Send + Sync>;

/// Something a script created that should not outlive a test.
pub struct Resource {
    /// What it is: `tmpdir`, `container`, `image`, ...
    pub kind: &'static str,
    /// Its name or path, for reports.
    pub name: String,
    cleanup: Cleanup,
}

impl Resource {
    pub fn new(
        kind: &'static str,
        name: impl Into<String>,
        cleanup: impl Fn(&Host) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        Resource {
            kind,
            name: name.into(),
            cleanup: Box::new(cleanup),
        }
    }
}

/// Resources created since the registry was last drained, in creation order.
#[derive(Default)]
pub struct ResourceRegistry {
    items: Mutex<Vec<Resource>>,
}

impl ResourceRegistry {
    pub fn register(&self, r: Resource) {
        self.items.lock().unwrap_or_else(|e| e.into_inner()).push(r);
    }

    /// Forget a resource that the script removed itself.
    pub fn forget(&self, kind: &str, name: &str) {
        self.items
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|r| !(r.kind == kind && r.name == name));
    }

    pub fn len(&self) -> usize {
        self.items.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Take every registered resource out, newest first (the order to clean them up in).
    pub fn drain(&self) -> Vec<Resource> {
        self.drain_from(0)
    }

    /// Take out the resources registered after the first `mark` ones, newest first.
    pub fn drain_from(&self, mark: usize) -> Vec<Resource> {
        let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
        let mark = mark.min(items.len());
        let mut taken: Vec<Resource> = items.drain(mark..).collect();
        taken.reverse();
        taken
    }
}

/// The result of cleaning up one resource.
pub struct Cleaned {
    pub kind: &'static str,
    pub name: String,
    pub error: Option<String>,
}

/// Shared state handed to every binding.
pub struct Host {
    executor: Arc<dyn Executor>,
    pub settings: Settings,
    pub cancel: CancelToken,
    sources: Mutex<HashMap<String, Arc<str>>>,
    /// Every secret value (env values, secret arguments) a command was given: rendered errors
    /// are scrubbed of them, source lines included.
    secrets: Mutex<Vec<String>>,
    pub resources: ResourceRegistry,
    /// The directory herodo started in; error paths are shown relative to it.
    pub start_dir: PathBuf,
    /// herodo's state directory (records of containers, pods, VMs, owners), resolved once:
    /// `$HERODO_STATE_DIR`, else `$XDG_STATE_HOME/herodo`, else `~/.local/state/herodo`.
    pub state_dir: PathBuf,
}

impl Host {
    /// A host that runs commands for real (or prints them, with `dry_run`).
    pub fn new(settings: Settings) -> Self {
        let cancel = CancelToken::new();
        let executor: Arc<dyn Executor> = if settings.dry_run {
            Arc::new(DryRunExecutor)
        } else {
            Arc::new(ProcessExecutor::new(cancel.clone()))
        };
        Self::with_executor(settings, executor, cancel)
    }

    pub fn with_executor(
        settings: Settings,
        executor: Arc<dyn Executor>,
        cancel: CancelToken,
    ) -> Self {
        Host {
            executor,
            settings,
            cancel,
            sources: Mutex::new(HashMap::new()),
            secrets: Mutex::new(Vec::new()),
            resources: ResourceRegistry::default(),
            start_dir: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            state_dir: crate::common::state::default_root(),
        }
    }

    /// Run a command; a non-zero exit is an `Ok` output.
    pub fn exec(&self, mut cmd: Cmd) -> Result<Output, ExecError> {
        if cmd.timeout.is_none() {
            cmd.timeout = Some(self.settings.default_timeout);
        }
        self.remember_secrets(&cmd);
        if self.settings.verbose && !self.settings.dry_run {
            let _ = writeln!(std::io::stderr().lock(), "+ {cmd}");
        }
        let res = self.executor.execute(&cmd);
        if self.settings.verbose && !self.settings.dry_run {
            let mut line = match &res {
                Ok(out) => format!(
                    "  ({}, {}{})",
                    out.status,
                    fmt_duration(out.duration),
                    if out.truncated {
                        format!(
                            ", output truncated: only the last {} MiB of a stream kept",
                            cmd.max_output >> 20
                        )
                    } else {
                        String::new()
                    }
                ),
                Err(e) => format!("  ({e})"),
            };
            if let (true, Ok(out)) = (self.settings.show_output, &res) {
                for (name, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
                    let text = crate::exec::tail(text.trim_end(), 2000);
                    if !text.is_empty() {
                        let text = self.redact(text);
                        line.push_str(&format!(
                            "\n  {name}:\n    {}",
                            text.replace('\n', "\n    ")
                        ));
                    }
                }
            }
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
        res
    }

    /// Start a command detached (its own session, not herodo's child; stdout and stderr
    /// appended to `log`) and return once it runs: its process group (`None` in dry-run). For
    /// monitors that outlive herodo.
    pub fn spawn_detached(
        &self,
        cmd: Cmd,
        log: &std::path::Path,
    ) -> Result<Option<u32>, ExecError> {
        self.remember_secrets(&cmd);
        if self.settings.verbose && !self.settings.dry_run {
            let _ = writeln!(
                std::io::stderr().lock(),
                "+ {cmd}  (detached, output to {})",
                log.display()
            );
        }
        self.executor.spawn_detached(&cmd, log)
    }

    /// Run a command; a non-zero exit is an error carrying the command and its output tails.
    /// Whether long work (image pulls, fetches, downloads) shows its progress: stderr is a
    /// terminal, no `-q`, no `--dry-run`. The tools' own progress output then goes to the
    /// terminal as it comes; nothing is shown when stderr is a file or a pipe (CI logs).
    pub fn progress(&self) -> bool {
        use std::io::IsTerminal;
        !self.settings.quiet && !self.settings.dry_run && std::io::stderr().is_terminal()
    }

    pub fn exec_checked(&self, cmd: Cmd) -> Result<Output, ExecError> {
        let out = self.exec(cmd.clone())?;
        if out.success() {
            Ok(out)
        } else {
            Err(ExecError::failed(&cmd, &out))
        }
    }

    fn remember_secrets(&self, cmd: &Cmd) {
        for v in cmd.secret_values() {
            self.register_secret(v);
        }
    }

    /// Remember a secret value (an env value, a token) the moment a script hands it over, so
    /// every later error, report and debug print is scrubbed of it, even before any command ran.
    /// Values shorter than [`crate::exec::MIN_SECRET_LEN`] are not scrubbed from free text
    /// (they would mangle ordinary output); command lines never show any env value at all.
    pub fn register_secret(&self, value: &str) {
        if value.len() < crate::exec::MIN_SECRET_LEN {
            return;
        }
        let mut known = self.secrets.lock().unwrap_or_else(|e| e.into_inner());
        if !known.iter().any(|k| k == value) {
            known.push(value.to_string());
            known.sort_by_key(|k| std::cmp::Reverse(k.len()));
        }
    }

    /// `text` with every secret value a command was given replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let known = self.secrets.lock().unwrap_or_else(|e| e.into_inner());
        crate::exec::redact_values(text, known.iter().map(String::as_str))
    }

    /// Under `--dry-run`: print what an operation with an effect would do, the way the dry-run
    /// executor prints commands (`[dry-run] ...` on stdout, secrets scrubbed), and return true
    /// so the caller skips the effect. Without `--dry-run`: false, nothing printed.
    pub fn dry_run(&self, what: impl FnOnce() -> String) -> bool {
        if !self.settings.dry_run {
            return false;
        }
        let line = self.redact(&what());
        let _ = writeln!(std::io::stdout().lock(), "[dry-run] {line}");
        true
    }

    /// Sleep, waking early on Ctrl-C.
    pub fn sleep(&self, d: Duration) -> Result<(), HostError> {
        if self.cancel.sleep(d) {
            Ok(())
        } else {
            Err(HostError::Cancelled)
        }
    }

    /// Remember a script's text so errors can show its lines.
    pub fn add_source(&self, name: &str, text: &str) {
        self.sources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), Arc::from(text));
    }

    pub fn source(&self, name: &str) -> Option<Arc<str>> {
        self.sources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Show a path relative to where herodo started, when it lies below it.
    pub fn display_path(&self, name: &str) -> String {
        let p = std::path::Path::new(name);
        match p.strip_prefix(&self.start_dir) {
            Ok(rel) if p.is_absolute() => rel.display().to_string(),
            _ => name.to_string(),
        }
    }

    /// Clean up every registered resource, newest first.
    pub fn cleanup_resources(&self) -> Vec<Cleaned> {
        self.cleanup_resources_from(0)
    }

    /// Clean up the resources registered after the first `mark` ones, newest first.
    pub fn cleanup_resources_from(&self, mark: usize) -> Vec<Cleaned> {
        self.resources
            .drain_from(mark)
            .into_iter()
            .map(|r| Cleaned {
                kind: r.kind,
                error: (r.cleanup)(self).err(),
                name: r.name,
            })
            .collect()
    }
}

/// A host whose commands are recorded, not run (for unit tests of argv builders).
#[cfg(test)]
pub(crate) fn recording_host() -> (Host, Arc<crate::exec::RecordingExecutor>) {
    let rec = Arc::new(crate::exec::RecordingExecutor::new());
    (
        Host::with_executor(Settings::default(), rec.clone(), CancelToken::new()),
        rec,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::RecordingExecutor;

    #[test]
    fn exec_applies_default_timeout() {
        let rec = Arc::new(RecordingExecutor::new());
        let host = Host::with_executor(Settings::default(), rec.clone(), CancelToken::new());
        host.exec(Cmd::new("true")).unwrap();
        host.exec(Cmd::new("x").timeout(Duration::from_secs(5)))
            .unwrap();
        let calls = rec.calls();
        assert_eq!(calls[0].timeout, Some(DEFAULT_TIMEOUT));
        assert_eq!(calls[1].timeout, Some(Duration::from_secs(5)));
    }

    #[test]
    fn resources_drain_newest_first() {
        let host = Host::with_executor(
            Settings::default(),
            Arc::new(RecordingExecutor::new()),
            CancelToken::new(),
        );
        host.resources
            .register(Resource::new("tmpdir", "a", |_| Ok(())));
        host.resources
            .register(Resource::new("tmpdir", "b", |_| Err("boom".into())));
        host.resources
            .register(Resource::new("tmpdir", "c", |_| Ok(())));
        host.resources.forget("tmpdir", "c");
        host.resources
            .register(Resource::new("tmpdir", "d", |_| Ok(())));
        let late = host.cleanup_resources_from(2);
        assert_eq!(late.len(), 1);
        assert_eq!(late[0].name, "d");
        let cleaned = host.cleanup_resources();
        let names: Vec<_> = cleaned.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["b", "a"]);
        assert_eq!(cleaned[0].error.as_deref(), Some("boom"));
        assert!(host.resources.is_empty());
    }
}
