//! Running commands for scripts, and looking at the process table.
//!
//! `run(line)` is the one documented use of a shell (`sh -c LINE`): the script author wrote the
//! line. `cmd([argv])` runs argv directly. Both go through the host's executor.

pub mod bindings;

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{kind, Classify, ErrorInfo, HostError};
use crate::exec::{Cmd, ExecError};
use crate::host::Host;

/// Options accepted by `run` and `cmd`.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Return a failed result instead of throwing on a non-zero exit.
    pub ignore_error: bool,
    /// Do not echo output to the terminal while it runs.
    pub silent: bool,
    pub timeout: Option<Duration>,
    pub cwd: Option<PathBuf>,
    pub env: Vec<(String, String)>,
    pub stdin: Option<String>,
    /// Hide the whole command line in logs and errors.
    pub secret: bool,
    /// Give the child the terminal (it can prompt); nothing is captured.
    pub interactive: bool,
}

pub use crate::exec::CommandResult;

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error(transparent)]
    Host(#[from] HostError),
    #[error("no process matches `{0}`")]
    NoMatch(String),
    #[error("{count} processes match `{pattern}`; use a more specific pattern")]
    Ambiguous { pattern: String, count: usize },
}

impl Classify for ProcessError {
    fn info(&self) -> ErrorInfo {
        match self {
            ProcessError::Exec(e) => e.info(),
            ProcessError::Host(e) => e.info(),
            ProcessError::NoMatch(p) => {
                ErrorInfo::new(kind::NOT_FOUND, self.to_string()).field("pattern", p)
            }
            ProcessError::Ambiguous { pattern, .. } => {
                ErrorInfo::new(kind::AMBIGUOUS, self.to_string()).field("pattern", pattern)
            }
        }
    }
}

fn apply(mut cmd: Cmd, opts: &RunOptions) -> Cmd {
    for (k, v) in &opts.env {
        cmd = cmd.env(k, v);
    }
    if let Some(d) = &opts.cwd {
        cmd = cmd.cwd(d);
    }
    if let Some(s) = &opts.stdin {
        cmd = cmd.stdin(s.as_bytes().to_vec());
    }
    if let Some(t) = opts.timeout {
        cmd = cmd.timeout(t);
    }
    cmd.secret(opts.secret)
        .echo(!opts.silent)
        .interactive(opts.interactive)
}

/// The `Cmd` that `run(line)` executes.
pub fn shell_cmd(line: &str, opts: &RunOptions) -> Cmd {
    apply(Cmd::new("sh").arg("-c").arg(line), opts)
}

/// The `Cmd` that `cmd([argv])` executes.
pub fn argv_cmd(argv: &[String], opts: &RunOptions) -> Result<Cmd, ProcessError> {
    let cmd = Cmd::from_argv(argv)
        .ok_or_else(|| HostError::invalid("argv", "must name a program (it is empty)"))?;
    if cmd.program.is_empty() {
        return Err(HostError::invalid("argv", "the program name is empty").into());
    }
    Ok(apply(cmd, opts))
}

/// Run a prepared command; throws on non-zero exit unless `ignore_error`.
pub fn execute(host: &Host, cmd: Cmd, opts: &RunOptions) -> Result<CommandResult, ProcessError> {
    let out = host.exec(cmd.clone())?;
    if !out.success() && !opts.ignore_error {
        return Err(ExecError::failed(&cmd, &out).into());
    }
    Ok(CommandResult::from_output(&cmd, &out))
}

/// One row of the process table.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcessInfo {
    pub pid: i64,
    pub ppid: i64,
    pub name: String,
    pub cmdline: String,
    /// Resident memory in KiB.
    pub memory_kb: i64,
    pub state: String,
    /// Average CPU use over the process's life, in percent of one core (as `ps` shows it).
    pub cpu: f64,
}

fn read_proc(pid: i64) -> Option<ProcessInfo> {
    let stat = crate::common::procstat::read(pid)?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            String::from_utf8_lossy(&b)
                .trim_end_matches('\0')
                .replace('\0', " ")
        })
        .unwrap_or_default();
    Some(ProcessInfo {
        pid,
        ppid: stat.ppid,
        name: stat.name,
        cmdline,
        memory_kb: stat.rss_pages * page_size_kb(),
        state: stat.state.to_string(),
        cpu: cpu_percent(stat.cpu_ticks, stat.start_time, uptime_ticks()),
    })
}

/// `ps`'s %CPU: CPU time over time alive, in percent, rounded to a tenth.
pub fn cpu_percent(cpu_ticks: u64, start_ticks: u64, now_ticks: u64) -> f64 {
    let alive = now_ticks.saturating_sub(start_ticks);
    if alive == 0 {
        return 0.0;
    }
    (cpu_ticks as f64 * 1000.0 / alive as f64).round() / 10.0
}

/// Clock ticks since boot (from /proc/uptime); 0 when unreadable.
fn uptime_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0, |secs| (secs * hz) as u64)
}

fn page_size_kb() -> i64 {
    // SAFETY: sysconf has no preconditions.
    let sz = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if sz > 0 {
        sz as i64 / 1024
    } else {
        4
    }
}

/// Every live process whose name or command line contains `pattern` (all when empty), sorted
/// by pid. herodo itself and the processes that started it are left out (they contain the
/// pattern in their own command line), and so are zombies (dead, waiting to be reaped).
pub fn list(pattern: &str) -> Result<Vec<ProcessInfo>, ProcessError> {
    let entries = std::fs::read_dir("/proc").map_err(|e| HostError::io("read", "/proc", e))?;
    let me = std::process::id() as i64;
    let mut all: Vec<ProcessInfo> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i64>().ok())
        .filter_map(read_proc)
        .collect();
    all.sort_by_key(|p| p.pid);
    let mut ancestors = vec![me];
    let mut cur = me;
    while let Some(p) = all.iter().find(|p| p.pid == cur) {
        if p.ppid <= 1 || ancestors.contains(&p.ppid) {
            break;
        }
        ancestors.push(p.ppid);
        cur = p.ppid;
    }
    Ok(all
        .into_iter()
        .filter(|p| !ancestors.contains(&p.pid) && p.state != "Z")
        .filter(|p| pattern.is_empty() || p.name.contains(pattern) || p.cmdline.contains(pattern))
        .collect())
}

/// Exactly one process matching `pattern`.
pub fn get(pattern: &str) -> Result<ProcessInfo, ProcessError> {
    let mut found = list(pattern)?;
    match found.len() {
        0 => Err(ProcessError::NoMatch(pattern.to_string())),
        1 => Ok(found.remove(0)),
        n => Err(ProcessError::Ambiguous {
            pattern: pattern.to_string(),
            count: n,
        }),
    }
}

/// Send SIGTERM to every process matching `pattern`; returns how many were signalled.
pub fn kill(host: &Host, pattern: &str) -> Result<usize, ProcessError> {
    if pattern.trim().is_empty() {
        return Err(
            HostError::invalid("pattern", "must not be empty (it would match everything)").into(),
        );
    }
    let found = list(pattern)?;
    if host.settings.dry_run {
        for p in &found {
            println!("[dry-run] kill -TERM {} ({})", p.pid, p.name);
        }
        return Ok(found.len());
    }
    let mut n = 0;
    for p in found {
        // SAFETY: kill only sends a signal to a pid we just read from /proc.
        if unsafe { libc::kill(p.pid as i32, libc::SIGTERM) } == 0 {
            n += 1;
        }
    }
    Ok(n)
}

/// A shell command line not run yet: the original herodo's `execute(line)` builder. `run()`
/// runs it like `run(line, options)`.
#[derive(Clone, Debug)]
pub struct Executor {
    pub line: String,
    pub opts: RunOptions,
    /// Print the command line (`+ line`) before it runs.
    pub log: bool,
}

impl Executor {
    pub fn new(line: &str) -> Self {
        Executor {
            line: line.to_string(),
            opts: RunOptions::default(),
            log: false,
        }
    }
}

/// Run an [`Executor`].
pub fn execute_line(host: &Host, e: &Executor) -> Result<CommandResult, ProcessError> {
    if e.line.trim().is_empty() {
        return Err(HostError::invalid("command", "is empty").into());
    }
    if e.log && !e.opts.secret {
        eprintln!("{}", host.redact(&format!("+ {}", e.line.trim())));
    }
    match execute(host, shell_cmd(&e.line, &e.opts), &e.opts) {
        // The original's builder: with ignore_error a command killed by its timeout is a
        // failed result (exit 124, as timeout(1) reports it), not an error.
        Err(ProcessError::Exec(ExecError::Timeout {
            cmd,
            after,
            stdout,
            stderr,
        })) if e.opts.ignore_error => Ok(CommandResult {
            stdout,
            stderr: format!(
                "{stderr}herodo: timed out after {}\n",
                crate::exec::fmt_duration(after)
            ),
            success: false,
            code: 124,
            signal: None,
            cmd,
            duration: after,
            truncated: false,
        }),
        other => other,
    }
}

/// What `process_killer()` kills: the processes matching a pattern, or one pid; with
/// `recursive`, their descendants too (children before parents).
#[derive(Clone, Debug, Default)]
pub struct ProcessKiller {
    pub pattern: Option<String>,
    pub pid: Option<i64>,
    pub recursive: bool,
}

/// The pids `k` names, descendants first when recursive, from the process table `all`
/// (herodo and its ancestors are never in it).
pub fn kill_targets(k: &ProcessKiller, all: &[ProcessInfo]) -> Result<Vec<i64>, ProcessError> {
    let roots: Vec<i64> = match (&k.pattern, k.pid) {
        (Some(_), Some(_)) => {
            return Err(
                HostError::invalid("process_killer", "give a pattern or a pid, not both").into(),
            )
        }
        (None, None) => {
            return Err(HostError::invalid("process_killer", "give a pattern or a pid").into())
        }
        (Some(p), None) => {
            if p.trim().is_empty() {
                return Err(HostError::invalid(
                    "pattern",
                    "must not be empty (it would match everything)",
                )
                .into());
            }
            all.iter()
                .filter(|i| i.name.contains(p.as_str()) || i.cmdline.contains(p.as_str()))
                .map(|i| i.pid)
                .collect()
        }
        (None, Some(pid)) => {
            if pid <= 1 {
                return Err(
                    HostError::invalid("pid", format!("{pid} is not a process to kill")).into(),
                );
            }
            if !all.iter().any(|i| i.pid == pid) {
                return Err(ProcessError::NoMatch(format!("pid {pid}")));
            }
            vec![pid]
        }
    };
    let mut out = Vec::new();
    for root in roots {
        if k.recursive {
            descendants(root, all, &mut out);
        }
        if !out.contains(&root) {
            out.push(root);
        }
    }
    Ok(out)
}

/// Every descendant of `pid` in `all`, deepest first.
fn descendants(pid: i64, all: &[ProcessInfo], out: &mut Vec<i64>) {
    for child in all.iter().filter(|p| p.ppid == pid) {
        descendants(child.pid, all, out);
        if !out.contains(&child.pid) {
            out.push(child.pid);
        }
    }
}

/// Send SIGTERM to what `k` names; returns how many were signalled.
pub fn kill_with(host: &Host, k: &ProcessKiller) -> Result<usize, ProcessError> {
    let all = list("")?;
    let targets = kill_targets(k, &all)?;
    if host.settings.dry_run {
        for pid in &targets {
            println!("[dry-run] kill -TERM {pid}");
        }
        return Ok(targets.len());
    }
    let mut n = 0;
    for pid in targets {
        // SAFETY: kill only sends a signal to a pid we just read from /proc.
        if unsafe { libc::kill(pid as i32, libc::SIGTERM) } == 0 {
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_cmd_is_sh_c_line() {
        let c = shell_cmd("echo hi | wc -c", &RunOptions::default());
        assert_eq!(c.argv(), vec!["sh", "-c", "echo hi | wc -c"]);
        assert!(c.echo);
        let silent = shell_cmd(
            "x",
            &RunOptions {
                silent: true,
                ..RunOptions::default()
            },
        );
        assert!(!silent.echo);
    }

    #[test]
    fn argv_cmd_rejects_empty() {
        assert!(argv_cmd(&[], &RunOptions::default()).is_err());
        assert!(argv_cmd(&["".into()], &RunOptions::default()).is_err());
        let c = argv_cmd(&["ls".into(), "-l".into()], &RunOptions::default()).unwrap();
        assert_eq!(c.argv(), vec!["ls", "-l"]);
    }

    fn row(pid: i64, ppid: i64, name: &str) -> ProcessInfo {
        ProcessInfo {
            pid,
            ppid,
            name: name.into(),
            cmdline: name.into(),
            memory_kb: 0,
            state: "S".into(),
            cpu: 0.0,
        }
    }

    #[test]
    fn killer_targets() {
        let all = [
            row(10, 1, "server"),
            row(11, 10, "worker"),
            row(12, 11, "helper"),
            row(20, 1, "other"),
        ];
        let k = |pattern: Option<&str>, pid: Option<i64>, recursive: bool| ProcessKiller {
            pattern: pattern.map(Into::into),
            pid,
            recursive,
        };
        assert_eq!(
            kill_targets(&k(Some("serv"), None, false), &all).unwrap(),
            [10]
        );
        assert_eq!(
            kill_targets(&k(None, Some(10), true), &all).unwrap(),
            [12, 11, 10]
        );
        assert_eq!(kill_targets(&k(None, Some(11), false), &all).unwrap(), [11]);
        assert!(kill_targets(&k(Some("x"), Some(1), false), &all).is_err());
        assert!(kill_targets(&k(None, None, false), &all).is_err());
        assert!(kill_targets(&k(Some(" "), None, false), &all).is_err());
        assert!(kill_targets(&k(None, Some(1), false), &all).is_err());
        assert!(matches!(
            kill_targets(&k(None, Some(99), false), &all),
            Err(ProcessError::NoMatch(_))
        ));
    }

    #[test]
    fn cpu_percent_is_cpu_time_over_life() {
        assert_eq!(cpu_percent(50, 100, 200), 50.0);
        assert_eq!(cpu_percent(1, 0, 3), 33.3);
        assert_eq!(cpu_percent(5, 100, 100), 0.0);
    }

    #[test]
    fn list_get_and_kill_a_background_process() {
        let host = Host::new(crate::host::Settings::default());
        // The background sleep outlives the shell; its pid is printed.
        let out = host
            .exec(Cmd::new("sh").args(["-c", "sleep 7.12345 >/dev/null 2>&1 & echo $!"]))
            .unwrap();
        let pid: i64 = out.stdout.trim().parse().unwrap();
        let found = list("7.12345").unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].name, "sleep");
        assert_eq!(found[0].pid, pid);
        assert_eq!(get("7.12345").unwrap().pid, pid);
        let me = std::process::id() as i64;
        assert!(list("").unwrap().iter().all(|p| p.pid != me));
        assert_eq!(kill(&host, "7.12345").unwrap(), 1);
        for _ in 0..100 {
            if list("7.12345").unwrap().is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(list("7.12345").unwrap().is_empty());
        assert!(matches!(
            get("no-such-process-xyz-123"),
            Err(ProcessError::NoMatch(_))
        ));
        assert!(kill(&host, " ").is_err());
    }
}
