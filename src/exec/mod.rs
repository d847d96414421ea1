//! The only place in herodo that starts processes.
//!
//! A [`Cmd`] is a program plus argv (never a shell string built from values), environment,
//! working directory, stdin bytes, a timeout and secrecy flags. An [`Executor`] runs it:
//! [`ProcessExecutor`] for real, [`DryRunExecutor`] for `--dry-run`, [`RecordingExecutor`]
//! for unit tests of argv builders.
//!
//! Why a process group per child: a shell started by `run("a | b")` forks grandchildren. Killing
//! only the direct child on timeout would leave them running and holding our pipes open, so each
//! child becomes the leader of its own group and we signal the whole group (xshell and cargo-util
//! explain the same trap). It also keeps a terminal Ctrl-C away from children: the signal reaches
//! herodo only, and herodo decides to stop the running command.

mod cancel;
mod daemon;
mod process;

use std::fmt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

pub use cancel::CancelToken;
pub use daemon::{group_alive, kill_detached};
pub use process::ProcessExecutor;

/// Default cap on captured bytes per stream; the tail is kept when output is longer.
pub const DEFAULT_MAX_OUTPUT: usize = 32 * 1024 * 1024;

/// The timeout of a command that must never time out (a script's `timeout: 0`): no deadline
/// is ever computed from it (`Instant + Duration::MAX` overflows, and an overflowing deadline
/// means none).
pub const NO_TIMEOUT: Duration = Duration::MAX;

/// Shortest secret value that is scrubbed from free text.
pub const MIN_SECRET_LEN: usize = 6;

/// Secret values at least this long are scrubbed wherever they occur; shorter ones only where
/// they stand as a whole word (a value `example` must not turn `scripts/examples` into
/// `scripts/***s`, while `user:example@host` and `PASSWORD=example` still lose it).
pub const WHOLE_WORD_BELOW: usize = 16;

/// `text` with each of `secrets` (longest first, as given) replaced by `***`: everywhere for a
/// value of [`WHOLE_WORD_BELOW`] bytes or more, else only where no letter, digit or `_` runs on
/// into it on either side.
pub fn redact_values<'a>(text: &str, secrets: impl IntoIterator<Item = &'a str>) -> String {
    fn word(c: Option<char>) -> bool {
        c.is_some_and(|c| c.is_alphanumeric() || c == '_')
    }
    let mut out = text.to_string();
    for secret in secrets {
        if secret.is_empty() || !out.contains(secret) {
            continue;
        }
        if secret.len() >= WHOLE_WORD_BELOW {
            out = out.replace(secret, "***");
            continue;
        }
        let first = secret.chars().next();
        let last = secret.chars().next_back();
        let mut kept = String::with_capacity(out.len());
        let mut rest = out.as_str();
        let mut before: Option<char> = None;
        while let Some(at) = rest.find(secret) {
            let prev = rest[..at]
                .chars()
                .next_back()
                .or(if at == 0 { before } else { None });
            let after = &rest[at + secret.len()..];
            let next = after.chars().next();
            let left_ok = !(word(first) && word(prev));
            let right_ok = !(word(last) && word(next));
            kept.push_str(&rest[..at]);
            if left_ok && right_ok {
                kept.push_str("***");
                before = last;
            } else {
                // Not a whole word: keep its first character and look again after it.
                let step = first.map_or(1, char::len_utf8);
                kept.push_str(&rest[at..at + step]);
                before = first;
                rest = &rest[at + step..];
                continue;
            }
            rest = after;
        }
        kept.push_str(rest);
        out = kept;
    }
    out
}

/// How many bytes of a stream an error message shows.
pub const ERROR_TAIL_BYTES: usize = 2048;

/// Longest command line an error or log line shows; the rest is elided (an `E2BIG` failure
/// must not print a 3 MB command line).
pub const MAX_SHOWN_CMD: usize = 1000;

/// One argument, possibly secret (shown as `***` whenever the command is displayed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arg {
    pub value: String,
    pub secret: bool,
}

/// A command to execute: argv only, never a shell string assembled from values.
#[derive(Clone, Debug)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<Arg>,
    /// Extra environment variables. Their values are always treated as secrets.
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
    pub stdin: Option<Vec<u8>>,
    /// `None` means "use the host's default timeout".
    pub timeout: Option<Duration>,
    /// Hide every argument when displaying the command.
    pub secret: bool,
    /// Copy output to the terminal while capturing it.
    pub echo: bool,
    pub max_output: usize,
    /// Give the child the terminal (stdin, stdout, stderr inherited, herodo's process group) so
    /// it can prompt (ssh, sudo, git). Nothing is captured.
    pub interactive: bool,
    /// How long a process group stopped by a timeout or Ctrl-C gets between TERM and KILL
    /// (`None`: the executor's default). A child that cleans up on TERM needs longer.
    pub kill_grace: Option<Duration>,
    /// SIGKILL the child when herodo dies, even by `kill -9` (see [`Cmd::die_with_parent`]).
    pub die_with_parent: bool,
}

impl Cmd {
    pub fn new(program: impl Into<String>) -> Self {
        Cmd {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
            stdin: None,
            timeout: None,
            secret: false,
            echo: false,
            max_output: DEFAULT_MAX_OUTPUT,
            interactive: false,
            kill_grace: None,
            die_with_parent: false,
        }
    }

    /// Build a command from argv (`argv[0]` is the program). `None` when argv is empty.
    pub fn from_argv<S: AsRef<str>>(argv: &[S]) -> Option<Self> {
        let (first, rest) = argv.split_first()?;
        Some(Cmd::new(first.as_ref()).args(rest.iter().map(|s| s.as_ref().to_string())))
    }

    pub fn arg(mut self, value: impl Into<String>) -> Self {
        self.args.push(Arg {
            value: value.into(),
            secret: false,
        });
        self
    }

    pub fn args<I, S>(mut self, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for v in values {
            self = self.arg(v);
        }
        self
    }

    /// An argument whose value must never be shown (a token, a password).
    pub fn secret_arg(mut self, value: impl Into<String>) -> Self {
        self.args.push(Arg {
            value: value.into(),
            secret: true,
        });
        self
    }

    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(data.into());
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    pub fn secret(mut self, secret: bool) -> Self {
        self.secret = secret;
        self
    }

    pub fn echo(mut self, echo: bool) -> Self {
        self.echo = echo;
        self
    }

    pub fn kill_grace(mut self, grace: Duration) -> Self {
        self.kill_grace = Some(grace);
        self
    }

    /// Have the kernel SIGKILL the child when herodo dies (`prctl(PR_SET_PDEATHSIG)`), so a
    /// helper whose work is useless without herodo (an image download) does not outlive a
    /// `kill -9`. The signal fires when the *thread* that spawned the child ends, not the
    /// process: only use it for commands run to completion on a thread that outlives them
    /// (the executor waits on the calling thread, so a script thread qualifies; a short-lived
    /// helper thread would kill the child early).
    pub fn die_with_parent(mut self, yes: bool) -> Self {
        self.die_with_parent = yes;
        self
    }

    pub fn interactive(mut self, interactive: bool) -> Self {
        self.interactive = interactive;
        self
    }

    /// The command line as errors and logs show it: shell-quoted, secrets as `***`, and cut
    /// after [`MAX_SHOWN_CMD`] characters.
    pub fn shown(&self) -> String {
        let full = self.to_string();
        if full.len() <= MAX_SHOWN_CMD {
            return full;
        }
        let mut cut = MAX_SHOWN_CMD;
        while !full.is_char_boundary(cut) {
            cut -= 1;
        }
        format!(
            "{} ... ({} more bytes, {} arguments in all)",
            &full[..cut],
            full.len() - cut,
            self.args.len()
        )
    }

    /// Why this command cannot be started at all, checked before spawning: a NUL byte in a
    /// value, or an environment name that is empty or holds `=`.
    pub fn problem(&self) -> Option<String> {
        if self.program.is_empty() {
            return Some("the program name is empty".into());
        }
        if self.program.contains('\0') {
            return Some("the program name contains a NUL byte".into());
        }
        if let Some(i) = self.args.iter().position(|a| a.value.contains('\0')) {
            return Some(format!("argument {} contains a NUL byte", i + 1));
        }
        for (k, v) in &self.env {
            if k.is_empty() || k.contains('=') || k.contains('\0') {
                return Some(format!(
                    "environment variable name {k:?} is not valid (empty, or holds `=` or NUL)"
                ));
            }
            if v.contains('\0') {
                return Some(format!(
                    "the value of environment variable {k} contains a NUL byte"
                ));
            }
        }
        None
    }

    /// The argument values, secrets included (for the executor, never for display).
    pub fn argv(&self) -> Vec<&str> {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(|a| a.value.as_str()))
            .collect()
    }

    /// Every value of this command that must not be shown: secret args and env values.
    pub fn secret_values(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .env
            .iter()
            .map(|(_, v)| v.as_str())
            .chain(
                self.args
                    .iter()
                    .filter(|a| a.secret || self.secret)
                    .map(|a| a.value.as_str()),
            )
            // Free text (stderr tails, source lines) is scrubbed of values long enough to be
            // credentials; shorter ones ("1", "prod") would mangle ordinary words. Command
            // lines never show any value: see Display.
            .filter(|v| v.len() >= MIN_SECRET_LEN)
            .collect();
        // Longest first so a secret that contains another is replaced whole.
        out.sort_by_key(|v| std::cmp::Reverse(v.len()));
        out
    }

    /// Replace every secret value of this command that occurs in `text` with `***`.
    pub fn redact(&self, text: &str) -> String {
        redact_values(text, self.secret_values())
    }
}

impl fmt::Display for Cmd {
    /// Shell-quoted, with env values and secret arguments shown as `***`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::with_capacity(self.args.len() + self.env.len() + 1);
        for (k, _) in &self.env {
            parts.push(format!("{}=***", shell_words::quote(k)));
        }
        parts.push(shell_words::quote(&self.program).into_owned());
        for a in &self.args {
            if a.secret || self.secret {
                parts.push("***".to_string());
            } else {
                parts.push(shell_words::quote(&a.value).into_owned());
            }
        }
        f.write_str(&parts.join(" "))
    }
}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Exited(i32),
    Signaled(i32),
}

impl Status {
    /// Shell convention: the exit code, or 128 + signal number.
    pub fn code(self) -> i32 {
        match self {
            Status::Exited(c) => c,
            Status::Signaled(s) => 128 + s,
        }
    }

    pub fn signal(self) -> Option<i32> {
        match self {
            Status::Signaled(s) => Some(s),
            Status::Exited(_) => None,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Exited(c) => write!(f, "exit code {c}"),
            Status::Signaled(s) => write!(f, "signal {s} ({})", signal_name(*s)),
        }
    }
}

/// The name of a common signal number (`SIGKILL`), or `SIG?`.
pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
        _ => "SIG?",
    }
}

/// What a finished command produced.
#[derive(Clone, Debug)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub status: Status,
    pub duration: Duration,
    /// True when output exceeded the cap and only the tail was kept.
    pub truncated: bool,
}

impl Output {
    /// A successful, empty result (what the dry-run and recording executors return).
    pub fn empty_success() -> Self {
        Output {
            stdout: String::new(),
            stderr: String::new(),
            status: Status::Exited(0),
            duration: Duration::ZERO,
            truncated: false,
        }
    }

    pub fn success(&self) -> bool {
        self.status == Status::Exited(0)
    }
}

/// What a script gets back from a command (every domain returns this for a command it ran).
#[derive(Clone, Debug, PartialEq)]
pub struct CommandResult {
    pub stdout: String,
    pub stderr: String,
    pub success: bool,
    /// Exit code, or 128 + signal number when killed by a signal.
    pub code: i64,
    pub signal: Option<i64>,
    /// The command line as displayed (secrets hidden).
    pub cmd: String,
    pub duration: Duration,
    /// True when a stream exceeded the capture cap ([`Cmd::max_output`]) and only its tail was
    /// kept: `stdout`/`stderr` are then not all the command wrote.
    pub truncated: bool,
}

impl CommandResult {
    pub fn from_output(cmd: &Cmd, out: &Output) -> Self {
        CommandResult {
            stdout: out.stdout.clone(),
            stderr: out.stderr.clone(),
            success: out.success(),
            code: out.status.code() as i64,
            signal: out.status.signal().map(i64::from),
            cmd: cmd.shown(),
            duration: out.duration,
            truncated: out.truncated,
        }
    }
}

/// Why a command could not produce an [`Output`], or (for checked runs) failed.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("command not found: {program}")]
    NotFound { program: String },
    #[error("cannot start `{cmd}`: {reason}")]
    Invalid { cmd: String, reason: String },
    #[error("cannot start `{cmd}`: working directory {dir}: {source}")]
    Cwd {
        cmd: String,
        dir: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start `{cmd}`: {source}")]
    Spawn {
        cmd: String,
        #[source]
        source: std::io::Error,
    },
    #[error("command timed out after {}: {cmd}", fmt_duration(*.after))]
    Timeout {
        cmd: String,
        after: Duration,
        stdout: String,
        stderr: String,
    },
    #[error("command cancelled: {cmd}")]
    Cancelled { cmd: String },
    #[error("command failed with {status}: {cmd}")]
    Failed {
        cmd: String,
        status: Status,
        stdout: String,
        stderr: String,
    },
}

impl ExecError {
    /// A failure for a command that ran and ended unsuccessfully; output tails are redacted.
    pub fn failed(cmd: &Cmd, out: &Output) -> Self {
        ExecError::Failed {
            cmd: cmd.shown(),
            status: out.status,
            stdout: cmd.redact(tail(&out.stdout, ERROR_TAIL_BYTES)),
            stderr: cmd.redact(tail(&out.stderr, ERROR_TAIL_BYTES)),
        }
    }
}

/// Format a duration for people: `250ms`, `1.5s`, `3m05s`.
pub fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60)
    }
}

/// The last `max` bytes of `text`, cut at a character boundary.
pub fn tail(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// Runs commands. Implementations must be usable from several threads.
pub trait Executor: Send + Sync {
    /// Run `cmd` to completion. A non-zero exit is an `Ok` output; only failure to run,
    /// a timeout or a cancellation is an `Err`.
    fn execute(&self, cmd: &Cmd) -> Result<Output, ExecError>;

    /// Start `cmd` detached (its own session, not herodo's child, output appended to `log`)
    /// and return without waiting for it (see `daemon.rs`): its process group, or `None` from
    /// executors that run nothing (they treat it like [`Executor::execute`]).
    fn spawn_detached(&self, cmd: &Cmd, log: &std::path::Path) -> Result<Option<u32>, ExecError> {
        let _ = log;
        self.execute(cmd).map(|_| None)
    }
}

/// `--dry-run`: prints each command and runs nothing.
#[derive(Debug, Default)]
pub struct DryRunExecutor;

impl Executor for DryRunExecutor {
    fn execute(&self, cmd: &Cmd) -> Result<Output, ExecError> {
        use std::io::Write;
        let mut line = format!("[dry-run] {cmd}");
        if let Some(dir) = &cmd.cwd {
            line.push_str(&format!("  (in {})", dir.display()));
        }
        let _ = writeln!(std::io::stdout().lock(), "{line}");
        Ok(Output::empty_success())
    }
}

/// Records every command and answers with queued outputs (default: empty success).
/// For unit tests of argv builders; it never stands in for a real-tool test.
#[derive(Debug, Default)]
pub struct RecordingExecutor {
    calls: Mutex<Vec<Cmd>>,
    replies: Mutex<std::collections::VecDeque<Output>>,
}

impl RecordingExecutor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Queue the output the next command will get.
    pub fn reply(&self, out: Output) {
        self.replies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(out);
    }

    /// Argv of every command run so far (secrets included: this is for assertions).
    pub fn argvs(&self) -> Vec<Vec<String>> {
        self.calls()
            .iter()
            .map(|c| c.argv().iter().map(|s| s.to_string()).collect())
            .collect()
    }

    pub fn calls(&self) -> Vec<Cmd> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Executor for RecordingExecutor {
    fn execute(&self, cmd: &Cmd) -> Result<Output, ExecError> {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(cmd.clone());
        Ok(self
            .replies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front()
            .unwrap_or_else(Output::empty_success))
    }
}

/// Find `name` on PATH (or check it directly when it contains a `/`).
pub fn which(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let is_exec = |p: &std::path::Path| {
        p.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if name.is_empty() {
        return None;
    }
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_exec(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_exec(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_and_hides_secrets() {
        let c = Cmd::new("podman")
            .args(["run", "--name", "my box"])
            .secret_arg("hunter22")
            .env("TOKEN", "s3cr3t-value");
        let shown = c.to_string();
        assert_eq!(shown, "TOKEN=*** podman run --name 'my box' ***");
        assert!(!shown.contains("hunter22"));
        assert!(!shown.contains("s3cr3t"));
    }

    #[test]
    fn whole_command_secret() {
        let c = Cmd::new("sh").args(["-c", "echo $PW"]).secret(true);
        assert_eq!(c.to_string(), "sh *** ***");
    }

    #[test]
    fn redact_replaces_secret_values() {
        let c = Cmd::new("x").env("K", "topsecret").secret_arg("pass123");
        assert_eq!(
            c.redact("auth topsecret failed for pass123"),
            "auth *** failed for ***"
        );
    }

    #[test]
    fn short_secrets_are_scrubbed_as_whole_words_only() {
        let r = |t: &str| redact_values(t, ["example"]);
        assert_eq!(r("scripts/examples/a.rhai"), "scripts/examples/a.rhai");
        assert_eq!(r("counterexample"), "counterexample");
        assert_eq!(r("user:example@host"), "user:***@host");
        assert_eq!(r("PASSWORD=example"), "PASSWORD=***");
        assert_eq!(r("example"), "***");
        assert_eq!(
            r("\"example\", examples, example."),
            "\"***\", examples, ***."
        );
        assert_eq!(r("exampleexample example"), "exampleexample ***");
        // A value whose edges are not word characters matches inside words too.
        assert_eq!(redact_values("a-p@ss!-b", ["-p@ss!-"]), "a***b");
        // Long values (tokens) are scrubbed wherever they occur.
        let token = "abcdefghijklmnopqrstuvwxyz";
        assert_eq!(
            redact_values(&format!("Bearer{token}x"), [token]),
            "Bearer***x"
        );
        // Non-ASCII neighbours and values.
        assert_eq!(redact_values("é:sécret1:é", ["sécret1"]), "é:***:é");
        assert_eq!(redact_values("ésécret1", ["sécret1"]), "ésécret1");
    }

    #[test]
    fn tail_respects_char_boundaries() {
        assert_eq!(tail("hello", 10), "hello");
        assert_eq!(tail("hello", 3), "llo");
        assert_eq!(tail("aé", 1), "");
        assert_eq!(tail("aéb", 2), "b");
    }

    #[test]
    fn recording_executor_records_argv() {
        let rec = RecordingExecutor::new();
        let mut out = Output::empty_success();
        out.stdout = "x".into();
        rec.reply(out);
        let got = rec
            .execute(&Cmd::new("a").arg("b").secret_arg("c"))
            .unwrap();
        assert_eq!(got.stdout, "x");
        let second = rec.execute(&Cmd::new("z")).unwrap();
        assert!(second.success());
        assert_eq!(rec.argvs(), vec![vec!["a", "b", "c"], vec!["z"]]);
    }

    #[test]
    fn status_codes_and_names() {
        assert_eq!(Status::Exited(3).code(), 3);
        assert_eq!(Status::Signaled(9).code(), 137);
        assert_eq!(Status::Signaled(9).to_string(), "signal 9 (SIGKILL)");
        assert_eq!(fmt_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(fmt_duration(Duration::from_secs(185)), "3m05s");
    }

    #[test]
    fn from_argv_splits_program() {
        let c = Cmd::from_argv(&["ls", "-l"]).unwrap();
        assert_eq!(c.argv(), vec!["ls", "-l"]);
        assert!(Cmd::from_argv::<&str>(&[]).is_none());
    }
}
