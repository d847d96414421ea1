//! Commands that leave something running behind them (`runc run -d`), whose output must go to
//! a log file instead of a pipe.
//!
//! Why not the ordinary executor: a detached container inherits the stdio of the command that
//! started it. With pipes, herodo would wait for an EOF that only comes when the container
//! ends (HOST.md's trap). Here the command's stdout and stderr are the log file itself, so the
//! container keeps writing there after the command returned, and nothing waits on it. The
//! command is still waited for with a timeout and Ctrl-C, in its own process group, like every
//! other command. What it wrote to the log is returned as its stderr (that is where a runtime
//! reports why a start failed).

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{CancelToken, Cmd, ExecError, Output, Status};

/// How long a TERM-ed process group gets before it is KILLed.
const KILL_GRACE: Duration = Duration::from_millis(1500);

fn signal_group(pgid: i32, sig: i32) {
    // SAFETY: killpg only sends a signal; a stale pgid yields ESRCH, which we ignore.
    unsafe {
        libc::killpg(pgid, sig);
    }
}

/// Run `cmd` to completion with stdin from /dev/null and stdout + stderr appended to `log`
/// (created 0600 when missing).
pub fn run_logged(cancel: &CancelToken, cmd: &Cmd, log: &Path) -> Result<Output, ExecError> {
    let spawn_err = |e: std::io::Error| ExecError::Spawn {
        cmd: cmd.to_string(),
        source: e,
    };
    if cancel.is_cancelled() {
        return Err(ExecError::Cancelled {
            cmd: cmd.to_string(),
        });
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .mode(0o600)
        .open(log)
        .map_err(spawn_err)?;
    let offset = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut command = Command::new(&cmd.program);
    command
        .args(cmd.args.iter().map(|a| &a.value))
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(file.try_clone().map_err(spawn_err)?)
        .stderr(file.try_clone().map_err(spawn_err)?)
        .process_group(0);
    if let Some(dir) = &cmd.cwd {
        command.current_dir(dir);
    }
    let start = Instant::now();
    let mut child = command.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ExecError::NotFound {
                program: cmd.program.clone(),
            }
        } else {
            spawn_err(e)
        }
    })?;
    let pgid = child.id() as i32;
    let deadline = cmd.timeout.map(crate::common::convert::deadline);
    let mut stopping: Option<(bool, Instant)> = None;
    let status = loop {
        if let Some(st) = child.try_wait().map_err(spawn_err)? {
            break st;
        }
        let now = Instant::now();
        match stopping {
            None => {
                let cancelled = cancel.is_cancelled();
                if cancelled || deadline.is_some_and(|d| now >= d) {
                    signal_group(pgid, libc::SIGTERM);
                    stopping = Some((cancelled, now + KILL_GRACE));
                }
            }
            Some((_, kill_at)) if now >= kill_at => signal_group(pgid, libc::SIGKILL),
            Some(_) => {}
        }
        // Starting a container takes tens of milliseconds: a short tick keeps the latency low.
        std::thread::sleep(Duration::from_millis(2));
    };
    let written = read_from(log, offset, cmd.max_output);
    if let Some((cancelled, _)) = stopping {
        signal_group(pgid, libc::SIGKILL);
        return Err(if cancelled {
            ExecError::Cancelled {
                cmd: cmd.to_string(),
            }
        } else {
            ExecError::Timeout {
                cmd: cmd.to_string(),
                after: cmd.timeout.unwrap_or_default(),
                stdout: String::new(),
                stderr: cmd.redact(super::tail(&written, super::ERROR_TAIL_BYTES)),
            }
        });
    }
    let status = match (status.code(), status.signal()) {
        (Some(c), _) => Status::Exited(c),
        (None, Some(s)) => Status::Signaled(s),
        (None, None) => Status::Exited(-1),
    };
    Ok(Output {
        stdout: String::new(),
        stderr: written,
        status,
        duration: start.elapsed(),
        truncated: false,
    })
}

/// What was appended to `log` after `offset`, at most `max` bytes (the tail).
fn read_from(log: &Path, offset: u64, max: usize) -> String {
    let mut buf = Vec::new();
    if let Ok(mut f) = std::fs::File::open(log) {
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let start = offset.max(len.saturating_sub(max as u64));
        if f.seek(SeekFrom::Start(start)).is_ok() {
            let _ = f.take(max as u64).read_to_end(&mut buf);
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> std::path::PathBuf {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let d = std::env::temp_dir().join(format!("herodo-daemon-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn output_goes_to_the_log_and_a_background_child_does_not_block() {
        let d = dir();
        let log = d.join("out.log");
        std::fs::write(&log, "earlier\n").unwrap();
        let started = Instant::now();
        // The background child keeps the log open for 3 s: with a pipe we would wait for it.
        let c = Cmd::new("sh").args(["-c", "echo started; echo oops >&2; (sleep 3; echo late) &"]);
        let out = run_logged(&CancelToken::new(), &c, &log).unwrap();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(out.success());
        assert_eq!(out.stderr, "started\noops\n");
        std::thread::sleep(Duration::from_millis(3500));
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "earlier\nstarted\noops\nlate\n"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn failures_timeouts_and_cancel() {
        let d = dir();
        let log = d.join("out.log");
        let out = run_logged(
            &CancelToken::new(),
            &Cmd::new("sh").args(["-c", "echo no such container >&2; exit 3"]),
            &log,
        )
        .unwrap();
        assert_eq!(out.status, Status::Exited(3));
        assert_eq!(out.stderr, "no such container\n");
        let e = run_logged(
            &CancelToken::new(),
            &Cmd::new("sleep")
                .arg("30")
                .timeout(Duration::from_millis(100)),
            &log,
        )
        .unwrap_err();
        assert!(matches!(e, ExecError::Timeout { .. }), "{e:?}");
        let token = CancelToken::new();
        let t = token.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            t.cancel();
        });
        let started = Instant::now();
        let e = run_logged(&token, &Cmd::new("sleep").arg("30"), &log).unwrap_err();
        assert!(matches!(e, ExecError::Cancelled { .. }), "{e:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let e =
            run_logged(&CancelToken::new(), &Cmd::new("no-such-program-xyz"), &log).unwrap_err();
        assert!(matches!(e, ExecError::NotFound { .. }));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
