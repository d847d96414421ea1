//! Programs that must outlive the command that starts them (a container's monitor), with
//! their output in a log file instead of a pipe.
//!
//! Why not the ordinary executor: a detached process inherits the stdio of whoever started it.
//! With pipes, herodo would wait for an EOF that only comes when the container ends (HOST.md's
//! trap). Here stdout and stderr are the log file itself, and the program runs in a session of
//! its own, double-forked so that it is not herodo's child: herodo never has to reap it, and a
//! Ctrl-C in herodo's terminal never reaches it.

use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use super::{Cmd, ExecError};

/// Start `cmd` detached: stdin from /dev/null, stdout and stderr appended to `log` (created
/// 0600). Returns once the program is executing (an exec failure, like a missing program, is
/// still an error); nothing waits for it to end. The result is the program's process group
/// (also its session), to stop it and everything it started with `killpg` if need be.
pub fn spawn_detached(cmd: &Cmd, log: &Path) -> Result<u32, ExecError> {
    let spawn_err = |e: std::io::Error| ExecError::Spawn {
        cmd: cmd.to_string(),
        source: e,
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(log)
        .map_err(spawn_err)?;
    let mut command = Command::new(&cmd.program);
    command
        .args(cmd.args.iter().map(|a| &a.value))
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(file.try_clone().map_err(spawn_err)?)
        .stderr(file);
    if let Some(dir) = &cmd.cwd {
        command.current_dir(dir);
    }
    // SAFETY: the closure runs in the forked child before exec and only calls async-signal-safe
    // functions (setsid, fork, _exit). The double fork orphans the program at once (init adopts
    // it); std's exec-error pipe still reports a failed exec of the grandchild, which holds the
    // pipe's write end until its exec closes it.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            match libc::fork() {
                -1 => Err(std::io::Error::last_os_error()),
                0 => Ok(()),
                _ => libc::_exit(0),
            }
        });
    }
    let mut child = command.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ExecError::NotFound {
                program: cmd.program.clone(),
            }
        } else {
            spawn_err(e)
        }
    })?;
    // The intermediate process exited right after forking: reap it. It led the new session,
    // so its pid names the session and process group the program runs in.
    let group = child.id();
    child.wait().map_err(spawn_err)?;
    Ok(group)
}

/// Whether any process of a group [`spawn_detached`] started is left.
pub fn group_alive(group: u32) -> bool {
    // SAFETY: killpg with signal 0 only checks whether the group exists.
    libc::pid_t::try_from(group).is_ok_and(|g| unsafe { libc::killpg(g, 0) } == 0)
}

/// Stop what [`spawn_detached`] started: SIGKILL to its process group, then wait (at most 2 s,
/// or until Ctrl-C) until no process of the group is left.
pub fn kill_detached(group: u32, cancel: &super::CancelToken) {
    let Ok(g) = libc::pid_t::try_from(group) else {
        return;
    };
    // SAFETY: killpg only sends a signal (0: none, a check) to the group spawn_detached made.
    let alive = || unsafe { libc::killpg(g, 0) } == 0;
    // SAFETY: as above.
    unsafe {
        libc::killpg(g, libc::SIGKILL);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while alive() && std::time::Instant::now() < deadline {
        if !cancel.sleep(std::time::Duration::from_millis(1)) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn detached_programs_outlive_the_call_and_log() {
        let d = std::env::temp_dir().join(format!("herodo-daemon-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let log = d.join("out.log");
        std::fs::write(&log, "earlier\n").unwrap();
        let started = Instant::now();
        // Records its parent (init adopted it: not us) and its session (not ours).
        let c = Cmd::new("sh").args([
            "-c",
            "echo started; ps -o ppid= -o sid= -p $$ > \"$0.ids\"; sleep 1; echo late",
        ]);
        let c = c.arg(log.display().to_string());
        let group = spawn_detached(&c, &log).unwrap();
        assert!(
            started.elapsed() < Duration::from_millis(900),
            "it did not wait"
        );
        std::thread::sleep(Duration::from_millis(1500));
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "earlier\nstarted\nlate\n"
        );
        let ids = std::fs::read_to_string(format!("{}.ids", log.display())).unwrap();
        let nums: Vec<i64> = ids
            .split_whitespace()
            .filter_map(|s| s.parse().ok())
            .collect();
        // SAFETY: getsid(0) only reads our own session id.
        let our_sid = unsafe { libc::getsid(0) } as i64;
        assert_eq!(nums.len(), 2, "{ids}");
        assert_ne!(nums[0], std::process::id() as i64, "not our child");
        assert_ne!(nums[1], our_sid, "not our session");
        assert_eq!(nums[1], group as i64, "the returned group is its session");
        // A detached program that would run for a minute is gone once kill_detached returns.
        let long = spawn_detached(&Cmd::new("sleep").arg("60"), &log).unwrap();
        kill_detached(long, &super::super::CancelToken::new());
        // SAFETY: signal 0 only checks whether the group still exists.
        assert_ne!(
            unsafe { libc::killpg(long as i32, 0) },
            0,
            "group still there"
        );
        let e = spawn_detached(&Cmd::new("no-such-program-xyz"), &log).unwrap_err();
        assert!(matches!(e, ExecError::NotFound { .. }), "{e:?}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
