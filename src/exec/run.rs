//! The real executor: spawn in a new process group, drain both pipes concurrently, enforce the
//! timeout and honour cancellation by signalling the whole group.

use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::{tail, CancelToken, Cmd, ExecError, Executor, Output, Status, ERROR_TAIL_BYTES};

/// How long a TERM-ed process group gets before it is KILLed.
const KILL_GRACE: Duration = Duration::from_millis(1500);
/// How often the wait loop looks at the cancel flag.
const TICK: Duration = Duration::from_millis(25);
/// After the child exits, how long we keep reading pipes that a background grandchild
/// (`run("daemon &")`) may hold open forever.
const PIPE_GRACE: Duration = Duration::from_millis(200);

/// Runs commands for real. Holds the cancel token that Ctrl-C sets.
#[derive(Debug, Clone)]
pub struct ProcessExecutor {
    cancel: CancelToken,
}

impl ProcessExecutor {
    pub fn new(cancel: CancelToken) -> Self {
        ProcessExecutor { cancel }
    }
}

/// A capped byte buffer that keeps the tail.
#[derive(Default)]
struct TailBuf {
    data: Vec<u8>,
    cap: usize,
    truncated: bool,
}

impl TailBuf {
    fn push(&mut self, chunk: &[u8]) {
        self.data.extend_from_slice(chunk);
        // Drain in big steps so the copy cost stays amortised.
        if self.data.len() > self.cap.saturating_mul(2).max(64 * 1024) {
            let cut = self.data.len() - self.cap;
            self.data.drain(..cut);
            self.truncated = true;
        }
    }

    fn finish(&mut self) -> (String, bool) {
        if self.data.len() > self.cap {
            let cut = self.data.len() - self.cap;
            self.data.drain(..cut);
            self.truncated = true;
        }
        (
            String::from_utf8_lossy(&self.data).into_owned(),
            self.truncated,
        )
    }
}

type Shared = Arc<Mutex<TailBuf>>;

fn lock(buf: &Shared) -> std::sync::MutexGuard<'_, TailBuf> {
    buf.lock().unwrap_or_else(|e| e.into_inner())
}

/// Read `src` to EOF into a shared tail buffer, optionally echoing to our stdout or stderr.
/// Sends on `done` at EOF.
fn drain<R: Read + Send + 'static>(
    mut src: R,
    buf: Shared,
    echo: Option<bool>,
    done: mpsc::Sender<()>,
) {
    thread::spawn(move || {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match src.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    match echo {
                        Some(true) => {
                            let _ = std::io::stdout().lock().write_all(&chunk[..n]);
                        }
                        Some(false) => {
                            let _ = std::io::stderr().lock().write_all(&chunk[..n]);
                        }
                        None => {}
                    }
                    lock(&buf).push(&chunk[..n]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        if echo == Some(true) {
            let _ = std::io::stdout().lock().flush();
        }
        let _ = done.send(());
    });
}

fn signal_group(pgid: i32, sig: i32) {
    // SAFETY: killpg only sends a signal; a stale pgid yields ESRCH, which we ignore.
    unsafe {
        libc::killpg(pgid, sig);
    }
}

#[derive(PartialEq)]
enum Stop {
    No,
    Timeout,
    Cancelled,
}

impl Executor for ProcessExecutor {
    fn execute(&self, cmd: &Cmd) -> Result<Output, ExecError> {
        if self.cancel.is_cancelled() {
            return Err(ExecError::Cancelled {
                cmd: cmd.to_string(),
            });
        }
        let mut command = Command::new(&cmd.program);
        command
            .args(cmd.args.iter().map(|a| &a.value))
            .envs(cmd.env.iter().map(|(k, v)| (k, v)))
            .stdin(if cmd.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        if let Some(dir) = &cmd.cwd {
            command.current_dir(dir);
        }

        let start = Instant::now();
        let mut child = command.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound
                && cmd.cwd.as_ref().is_none_or(|d| d.is_dir())
            {
                ExecError::NotFound {
                    program: cmd.program.clone(),
                }
            } else {
                ExecError::Spawn {
                    cmd: cmd.to_string(),
                    source: e,
                }
            }
        })?;
        let pgid = child.id() as i32;

        if let (Some(data), Some(mut pipe)) = (cmd.stdin.clone(), child.stdin.take()) {
            // A child that never reads stdin must not block us: write from a thread.
            thread::spawn(move || {
                let _ = pipe.write_all(&data);
            });
        }

        let (done_tx, done_rx) = mpsc::channel();
        let out_buf: Shared = Arc::new(Mutex::new(TailBuf {
            cap: cmd.max_output,
            ..TailBuf::default()
        }));
        let err_buf: Shared = Arc::new(Mutex::new(TailBuf {
            cap: cmd.max_output,
            ..TailBuf::default()
        }));
        let mut pipes = 0;
        if let Some(out) = child.stdout.take() {
            drain(
                out,
                out_buf.clone(),
                cmd.echo.then_some(true),
                done_tx.clone(),
            );
            pipes += 1;
        }
        if let Some(err) = child.stderr.take() {
            drain(
                err,
                err_buf.clone(),
                cmd.echo.then_some(false),
                done_tx.clone(),
            );
            pipes += 1;
        }
        drop(done_tx);

        let (status_tx, status_rx) = mpsc::channel();
        thread::spawn(move || {
            let _ = status_tx.send(child.wait());
        });

        let deadline = cmd.timeout.map(|t| start + t);
        let mut stop = Stop::No;
        let mut kill_at: Option<Instant> = None;
        let waited = loop {
            let mut wait_for = TICK;
            if let Some(d) = deadline {
                wait_for = wait_for.min(d.saturating_duration_since(Instant::now()));
            }
            match status_rx.recv_timeout(wait_for) {
                Ok(res) => break res,
                Err(RecvTimeoutError::Disconnected) => {
                    break Err(std::io::Error::other("wait thread vanished"))
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
            let now = Instant::now();
            if stop == Stop::No {
                if self.cancel.is_cancelled() {
                    stop = Stop::Cancelled;
                } else if deadline.is_some_and(|d| now >= d) {
                    stop = Stop::Timeout;
                }
                if stop != Stop::No {
                    signal_group(pgid, libc::SIGTERM);
                    kill_at = Some(now + KILL_GRACE);
                }
            } else if kill_at.is_some_and(|k| now >= k) {
                signal_group(pgid, libc::SIGKILL);
                kill_at = None;
            }
        };

        if stop != Stop::No {
            // The leader is gone; make sure no member of its group survives it.
            signal_group(pgid, libc::SIGKILL);
        }

        // Collect the pipes. A background grandchild may keep them open: give up after a grace.
        let pipe_deadline = Instant::now()
            + if stop == Stop::No {
                PIPE_GRACE
            } else {
                Duration::from_millis(500)
            };
        for _ in 0..pipes {
            let left = pipe_deadline.saturating_duration_since(Instant::now());
            if done_rx.recv_timeout(left).is_err() {
                break;
            }
        }
        let duration = start.elapsed();
        let (stdout, t1) = lock(&out_buf).finish();
        let (stderr, t2) = lock(&err_buf).finish();

        let status = waited.map_err(|e| ExecError::Spawn {
            cmd: cmd.to_string(),
            source: e,
        })?;
        match stop {
            Stop::Cancelled => {
                return Err(ExecError::Cancelled {
                    cmd: cmd.to_string(),
                })
            }
            Stop::Timeout => {
                return Err(ExecError::Timeout {
                    cmd: cmd.to_string(),
                    after: cmd.timeout.unwrap_or_default(),
                    stdout: cmd.redact(tail(&stdout, ERROR_TAIL_BYTES)),
                    stderr: cmd.redact(tail(&stderr, ERROR_TAIL_BYTES)),
                })
            }
            Stop::No => {}
        }
        let status = match (status.code(), status.signal()) {
            (Some(c), _) => Status::Exited(c),
            (None, Some(s)) => Status::Signaled(s),
            (None, None) => Status::Exited(-1),
        };
        Ok(Output {
            stdout,
            stderr,
            status,
            duration,
            truncated: t1 || t2,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec() -> ProcessExecutor {
        ProcessExecutor::new(CancelToken::new())
    }

    fn sh(script: &str) -> Cmd {
        Cmd::new("sh").args(["-c", script])
    }

    #[test]
    fn captures_stdout_stderr_and_code() {
        let out = exec()
            .execute(&sh("echo out; echo err >&2; exit 3"))
            .unwrap();
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.stderr, "err\n");
        assert_eq!(out.status, Status::Exited(3));
        assert!(!out.success());
    }

    #[test]
    fn passes_stdin_env_and_cwd() {
        let dir = std::env::temp_dir();
        let c = sh("cat; printf ' %s ' \"$HERODO_T\"; pwd")
            .stdin("from-stdin")
            .env("HERODO_T", "value-x")
            .cwd(&dir);
        let out = exec().execute(&c).unwrap();
        let canon = dir.canonicalize().unwrap();
        assert_eq!(
            out.stdout,
            format!("from-stdin value-x {}\n", canon.display())
        );
    }

    #[test]
    fn missing_program_is_not_found() {
        let err = exec()
            .execute(&Cmd::new("definitely-not-a-program-xyz"))
            .unwrap_err();
        assert!(matches!(err, ExecError::NotFound { .. }), "{err:?}");
    }

    #[test]
    fn large_output_does_not_deadlock() {
        // 50 MB on stdout and some on stderr at the same time.
        let c = sh("head -c 52428800 /dev/zero; head -c 1000000 /dev/zero >&2");
        let out = exec().execute(&c).unwrap();
        assert!(out.success());
        assert_eq!(out.stdout.len(), 32 * 1024 * 1024);
        assert!(out.truncated);
        assert_eq!(out.stderr.len(), 1_000_000);
    }

    #[test]
    fn signal_is_reported() {
        let out = exec().execute(&sh("kill -9 $$")).unwrap();
        assert_eq!(out.status, Status::Signaled(9));
        assert_eq!(out.status.code(), 137);
    }

    #[test]
    fn timeout_kills_grandchildren() {
        let marker = std::env::temp_dir().join(format!("herodo-gc-{}", std::process::id()));
        let _ = std::fs::remove_file(&marker);
        // The grandchild would create the marker after 2 s if it survived the timeout.
        let script = format!("(sleep 2; touch {}) & sleep 30; wait", marker.display());
        let started = Instant::now();
        let err = exec()
            .execute(&sh(&script).timeout(Duration::from_millis(300)))
            .unwrap_err();
        assert!(matches!(err, ExecError::Timeout { .. }), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        thread::sleep(Duration::from_millis(2500));
        assert!(!marker.exists(), "grandchild survived the timeout");
    }

    #[test]
    fn cancel_stops_running_command() {
        let token = CancelToken::new();
        let ex = ProcessExecutor::new(token.clone());
        let t = token.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(200));
            t.cancel();
        });
        let started = Instant::now();
        let err = ex.execute(&sh("sleep 30")).unwrap_err();
        assert!(matches!(err, ExecError::Cancelled { .. }), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn background_child_holding_pipe_does_not_block() {
        let started = Instant::now();
        let out = exec().execute(&sh("sleep 3 & echo started")).unwrap();
        assert!(out.success());
        assert_eq!(out.stdout, "started\n");
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn stdin_not_read_does_not_block() {
        let big = vec![b'x'; 4 * 1024 * 1024];
        let out = exec().execute(&sh("echo ok").stdin(big)).unwrap();
        assert_eq!(out.stdout, "ok\n");
    }
}
