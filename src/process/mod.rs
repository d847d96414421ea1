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
    })
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
