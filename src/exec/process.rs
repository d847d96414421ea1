//! The real executor: spawn in a new process group, drain both pipes with one `poll(2)` loop
//! (no thread per command: a pidfd tells us when the child exits), enforce the timeout and
//! honour cancellation by signalling the whole group.

use std::io::Write;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{tail, CancelToken, Cmd, ExecError, Executor, Output, Status, ERROR_TAIL_BYTES};

/// How long a TERM-ed process group gets before it is KILLed.
const KILL_GRACE: Duration = Duration::from_millis(1500);
/// How often the wait loop looks at the cancel flag and the clock.
const TICK: Duration = Duration::from_millis(25);
/// After the child exits, how long we keep reading pipes a background grandchild may hold.
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

/// An open pipe from the child, drained without blocking.
struct Pipe {
    fd: Option<OwnedFd>,
    buf: TailBuf,
    /// Where to copy output as it arrives: our stdout (true) or stderr (false).
    echo: Option<bool>,
}

impl Pipe {
    fn new(fd: Option<OwnedFd>, cap: usize, echo: Option<bool>) -> Self {
        if let Some(fd) = &fd {
            set_nonblocking(fd.as_raw_fd());
        }
        Pipe {
            fd,
            buf: TailBuf {
                cap,
                ..TailBuf::default()
            },
            echo,
        }
    }

    /// Read what is available; close the pipe at EOF.
    fn drain(&mut self, chunk: &mut [MaybeUninit<u8>]) {
        let Some(fd) = &self.fd else { return };
        loop {
            // SAFETY: reading into a valid buffer from a file descriptor we own.
            let n = unsafe { libc::read(fd.as_raw_fd(), chunk.as_mut_ptr().cast(), chunk.len()) };
            if n > 0 {
                // SAFETY: read(2) initialised the first n bytes of chunk.
                let data =
                    unsafe { std::slice::from_raw_parts(chunk.as_ptr().cast::<u8>(), n as usize) };
                match self.echo {
                    Some(true) => {
                        let _ = std::io::stdout().lock().write_all(data);
                    }
                    Some(false) => {
                        let _ = std::io::stderr().lock().write_all(data);
                    }
                    None => {}
                }
                self.buf.push(data);
                continue;
            }
            let err = std::io::Error::last_os_error().raw_os_error();
            if n < 0 && err == Some(libc::EINTR) {
                continue;
            }
            if n == 0 || err != Some(libc::EAGAIN) {
                self.fd = None;
            }
            return;
        }
    }
}

/// Make the read end of a pipe non-blocking. The pipes come from std's `pipe2(O_CLOEXEC)`, so
/// their status flags are just `O_RDONLY` (which F_SETFL ignores): setting `O_NONBLOCK` alone
/// saves the F_GETFL round trip, two syscalls per command.
fn set_nonblocking(fd: i32) {
    // SAFETY: fcntl on a file descriptor we own.
    unsafe {
        libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK);
    }
}

/// A file descriptor that becomes readable when the process exits (Linux 5.3+).
fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: the syscall returns a new descriptor we then own, or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: fd is a fresh descriptor owned by nobody else.
    Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Signal a child's process group, or (for a negative value) the one interactive child.
fn signal_group(pgid: i32, sig: i32) {
    // SAFETY: killpg/kill only send a signal; a stale id yields ESRCH, which we ignore.
    unsafe {
        if pgid < 0 {
            libc::kill(-pgid, sig);
        } else {
            libc::killpg(pgid, sig);
        }
    }
}

/// SIGKILL for the child when this thread (see [`Cmd::die_with_parent`]) or process dies.
/// A pre_exec hook makes std fork instead of posix_spawn: a few hundred microseconds more,
/// paid only by the commands that ask for it.
fn die_with_parent(command: &mut Command) {
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the closure runs in the forked child before exec and calls only prctl and
    // getppid, which are async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // herodo died between the fork and the prctl: the signal will never come.
            if libc::getppid() != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

#[derive(PartialEq)]
enum Stop {
    No,
    Timeout,
    Cancelled,
}

impl Executor for ProcessExecutor {
    fn spawn_detached(&self, cmd: &Cmd, log: &std::path::Path) -> Result<Option<u32>, ExecError> {
        if self.cancel.is_cancelled() {
            return Err(ExecError::Cancelled {
                cmd: cmd.to_string(),
            });
        }
        super::daemon::spawn_detached(cmd, log).map(Some)
    }

    fn execute(&self, cmd: &Cmd) -> Result<Output, ExecError> {
        if self.cancel.is_cancelled() {
            return Err(ExecError::Cancelled { cmd: cmd.shown() });
        }
        if let Some(reason) = cmd.problem() {
            return Err(ExecError::Invalid {
                cmd: cmd.shown(),
                reason,
            });
        }
        if let Some(dir) = &cmd.cwd {
            if let Err(source) = std::fs::read_dir(dir) {
                return Err(ExecError::Cwd {
                    cmd: cmd.shown(),
                    dir: dir.display().to_string(),
                    source,
                });
            }
        }
        let mut command = Command::new(&cmd.program);
        command
            .args(cmd.args.iter().map(|a| &a.value))
            .envs(cmd.env.iter().map(|(k, v)| (k, v)));
        let mut readers = (None, None);
        if cmd.interactive {
            // The terminal's foreground group stays ours, so the child can read the terminal
            // and a Ctrl-C reaches it as it would from a shell.
            command
                .stdin(Stdio::inherit())
                .stdout(Stdio::inherit())
                .stderr(Stdio::inherit());
        } else {
            // Our own pipes rather than `Stdio::piped()`: `command` keeps the write ends open
            // in herodo until the child has exited (see `writers` below).
            let pipe = || {
                std::io::pipe().map_err(|source| ExecError::Spawn {
                    cmd: cmd.shown(),
                    source,
                })
            };
            let (out_r, out_w) = pipe()?;
            let (err_r, err_w) = pipe()?;
            readers = (Some(OwnedFd::from(out_r)), Some(OwnedFd::from(err_r)));
            command
                .stdin(if cmd.stdin.is_some() {
                    Stdio::piped()
                } else {
                    Stdio::null()
                })
                .stdout(out_w)
                .stderr(err_w)
                .process_group(0);
        }
        if let Some(dir) = &cmd.cwd {
            command.current_dir(dir);
        }
        if cmd.die_with_parent {
            die_with_parent(&mut command);
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
                    cmd: cmd.shown(),
                    source: e,
                }
            }
        })?;
        // An interactive child shares our process group: signal it alone, not ourselves.
        let pgid = if cmd.interactive {
            -(child.id() as i32)
        } else {
            child.id() as i32
        };

        if let (Some(data), Some(mut pipe)) = (cmd.stdin.clone(), child.stdin.take()) {
            // A child that never reads stdin must not block us: write from a thread.
            std::thread::spawn(move || {
                let _ = pipe.write_all(&data);
            });
        }

        let mut out = Pipe::new(readers.0, cmd.max_output, cmd.echo.then_some(true));
        let mut err = Pipe::new(readers.1, cmd.max_output, cmd.echo.then_some(false));
        let pidfd = pidfd_open(pgid.abs());
        // `command` still holds the write ends of the output pipes, so the child's exit does
        // not also show up as a hang-up on them: the pidfd alone wakes us, once, instead of a
        // hang-up first and the exit a moment later. On a busy machine every extra wake-up
        // waits for a CPU; this made a loop of short commands up to a third slower than bash.
        // They are closed as soon as the exit is seen. Without a pidfd the hang-up is the
        // prompt signal, so they are closed now.
        let mut writers = Some(command);
        if pidfd.is_none() {
            drop(writers.take());
        }

        let deadline = cmd.timeout.and_then(|t| start.checked_add(t));
        let mut stop = Stop::No;
        let mut kill_at: Option<Instant> = None;
        let mut status = None;
        // Once the child has exited, how long we keep reading pipes that a background
        // grandchild (`run("daemon &")`) may hold open forever.
        let mut pipes_until: Option<Instant> = None;
        // On the stack and never zeroed (read(2) fills what we look at): a zeroed heap buffer
        // was allocated, cleared and freed for every command, even one with no output.
        let mut chunk = [MaybeUninit::<u8>::uninit(); 64 * 1024];
        // With a pidfd, poll says when the child has exited; until then asking (wait4) is a
        // wasted syscall. Without one, ask on every pass.
        let mut may_have_exited = pidfd.is_none();
        loop {
            if status.is_none() && may_have_exited {
                status = child.try_wait().map_err(|e| ExecError::Spawn {
                    cmd: cmd.shown(),
                    source: e,
                })?;
                if status.is_some() {
                    // From here on only a grandchild can hold the pipes (see PIPE_GRACE).
                    drop(writers.take());
                    out.drain(&mut chunk);
                    err.drain(&mut chunk);
                    pipes_until = Some(
                        Instant::now()
                            + if stop == Stop::No {
                                PIPE_GRACE
                            } else {
                                Duration::from_millis(500)
                            },
                    );
                }
            }
            let pipes_open = out.fd.is_some() || err.fd.is_some();
            if status.is_some() && (!pipes_open || pipes_until.is_some_and(|t| Instant::now() >= t))
            {
                break;
            }

            let now = Instant::now();
            if status.is_none() {
                if stop == Stop::No {
                    if self.cancel.is_cancelled() {
                        stop = Stop::Cancelled;
                    } else if deadline.is_some_and(|d| now >= d) {
                        stop = Stop::Timeout;
                    }
                    if stop != Stop::No {
                        signal_group(pgid, libc::SIGTERM);
                        kill_at = Some(now + cmd.kill_grace.unwrap_or(KILL_GRACE));
                    }
                } else if kill_at.is_some_and(|k| now >= k) {
                    signal_group(pgid, libc::SIGKILL);
                    kill_at = None;
                }
            }

            // Sleep in poll until output arrives, the child exits, or the next check is due.
            let mut wake = now + TICK;
            for t in [deadline.filter(|_| stop == Stop::No), kill_at, pipes_until]
                .into_iter()
                .flatten()
            {
                wake = wake.min(t);
            }
            let idle = libc::pollfd {
                fd: -1,
                events: 0,
                revents: 0,
            };
            let mut fds = [idle; 3];
            let mut nfds = 0;
            // Which poll slot each output pipe has, to read only the ones that are ready.
            let mut pipe_slots = [None, None];
            for (slot, fd) in pipe_slots.iter_mut().zip([&out.fd, &err.fd]) {
                if let Some(fd) = fd {
                    fds[nfds] = libc::pollfd {
                        fd: fd.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    *slot = Some(nfds);
                    nfds += 1;
                }
            }
            let mut pidfd_slot = None;
            match (&pidfd, status.is_none()) {
                (Some(p), true) => {
                    fds[nfds] = libc::pollfd {
                        fd: p.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    pidfd_slot = Some(nfds);
                    nfds += 1;
                }
                // Without a pidfd, exit is noticed on the next tick.
                (None, true) => wake = wake.min(now + Duration::from_millis(5)),
                _ => {}
            }
            let ms = wake
                .saturating_duration_since(now)
                .as_millis()
                .min(i32::MAX as u128) as i32;
            // SAFETY: fds holds at least nfds valid pollfd entries.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), nfds as libc::nfds_t, ms) };
            if n > 0 {
                let ready = |slot: Option<usize>| slot.is_some_and(|i| fds[i].revents != 0);
                if ready(pipe_slots[0]) {
                    out.drain(&mut chunk);
                }
                if ready(pipe_slots[1]) {
                    err.drain(&mut chunk);
                }
            }
            // Ask for the exit status when the pidfd fired, and also after a timeout or an
            // interrupted poll, so a missed wake-up can only ever cost one tick.
            may_have_exited = match pidfd_slot {
                Some(i) => n <= 0 || fds[i].revents != 0,
                None => true,
            };
        }
        if cmd.echo {
            let _ = std::io::stdout().lock().flush();
        }
        if stop != Stop::No {
            // The leader is gone; make sure no member of its group survives it.
            signal_group(pgid, libc::SIGKILL);
        }
        let duration = start.elapsed();
        let (stdout, t1) = out.buf.finish();
        let (stderr, t2) = err.buf.finish();
        let Some(status) = status else {
            return Err(ExecError::Spawn {
                cmd: cmd.shown(),
                source: std::io::Error::other("lost track of the child process"),
            });
        };
        match stop {
            Stop::Cancelled => return Err(ExecError::Cancelled { cmd: cmd.shown() }),
            Stop::Timeout => {
                return Err(ExecError::Timeout {
                    cmd: cmd.shown(),
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
    use std::thread;

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
    fn die_with_parent_runs_like_any_command() {
        // That the child dies with herodo is checked for real in tests/it/reap.rs (a fetch's
        // skopeo gone after `kill -9` of herodo); here: the hook changes nothing else.
        let c = sh("echo $PPID; exit 4").die_with_parent(true);
        let out = exec().execute(&c).unwrap();
        assert_eq!(out.stdout.trim(), std::process::id().to_string());
        assert_eq!(out.status, Status::Exited(4));
        let err = exec()
            .execute(&Cmd::new("definitely-not-a-program-xyz").die_with_parent(true))
            .unwrap_err();
        assert!(matches!(err, ExecError::NotFound { .. }), "{err:?}");
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
        // What a script gets says so too.
        let r = crate::exec::CommandResult::from_output(&c, &out);
        assert!(r.truncated && r.success);
        let small = exec().execute(&sh("echo hi")).unwrap();
        assert!(!crate::exec::CommandResult::from_output(&c, &small).truncated);
    }

    #[test]
    fn signal_is_reported() {
        let out = exec().execute(&sh("kill -9 $$")).unwrap();
        assert_eq!(out.status, Status::Signaled(9));
        assert_eq!(out.status.code(), 137);
    }

    #[test]
    fn no_timeout_never_times_out() {
        let out = exec()
            .execute(&sh("sleep 0.2; echo done").timeout(crate::exec::NO_TIMEOUT))
            .unwrap();
        assert_eq!(out.stdout, "done\n");
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
    fn short_commands_end_at_exit_without_pipe_grace() {
        // herodo holds the write ends of the output pipes until it sees the exit; if it kept
        // them after that, every read would wait out PIPE_GRACE (200 ms) instead of seeing EOF.
        let started = Instant::now();
        for _ in 0..20 {
            let out = exec().execute(&Cmd::new("true")).unwrap();
            assert!(out.success());
        }
        let took = started.elapsed();
        assert!(took < PIPE_GRACE * 10, "20 x true took {took:?}");
    }

    #[test]
    fn closing_output_early_still_waits_for_the_exit() {
        let started = Instant::now();
        let out = exec()
            .execute(&sh(
                "echo early; echo e >&2; exec >&- 2>&-; sleep 0.3; exit 4",
            ))
            .unwrap();
        assert_eq!(out.stdout, "early\n");
        assert_eq!(out.stderr, "e\n");
        assert_eq!(out.status, Status::Exited(4));
        assert!(started.elapsed() >= Duration::from_millis(300));
    }

    #[test]
    fn stdin_not_read_does_not_block() {
        let big = vec![b'x'; 4 * 1024 * 1024];
        let out = exec().execute(&sh("echo ok").stdin(big)).unwrap();
        assert_eq!(out.stdout, "ok\n");
    }
}
