//! Ctrl-C, SIGTERM, SIGHUP and kill -9: the running command's process group is stopped, the
//! test runner still runs teardown and cleanup and reports what it really removed, and `-j`
//! workers never outlive their parent.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{TempDir, BIN};

/// herodo with `args` in `dir`, stdin closed, its output captured; `env` adds variables.
fn spawn(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> Child {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .env("HERODO_REQUIRE_TOOLS", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
}

/// Wait until `path` exists (the script reached the point we want to interrupt).
fn wait_for(path: &Path) {
    let until = Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        assert!(Instant::now() < until, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_and_sighup_stop_the_command_group() {
    for (sig, code, name) in [
        (libc::SIGTERM, 143, "SIGTERM"),
        (libc::SIGHUP, 129, "SIGHUP"),
    ] {
        let t = TempDir::new("sigterm");
        let ready = t.path().join("ready");
        let after = t.path().join("after");
        let script = format!(
            "run(\"touch {} && sleep 2 && touch {}\");",
            ready.display(),
            after.display()
        );
        let child = spawn(t.path(), &["-e", &script], &[]);
        wait_for(&ready);
        signal(&child, sig);
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{name}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(name));
        std::thread::sleep(Duration::from_millis(2500));
        assert!(!after.exists(), "the command survived {name}");
    }
}

const SLOW_TEST: &str = r#"
fn teardown() { file_write(env_get("OUT") + "/teardown-ran", "yes"); }
fn test_slow() {
    let d = tmpdir();
    file_write(env_get("OUT") + "/tmpdir", d);
    file_write(env_get("OUT") + "/ready", "x");
    run("sleep 30");
}
"#;

#[test]
fn interrupted_tests_still_run_teardown_and_cleanup() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let t = TempDir::new("sigtest");
        let out_dir = TempDir::new("sigtest-out");
        t.write("slow_test.rhai", SLOW_TEST);
        let child = spawn(
            t.path(),
            &["test", "slow_test.rhai"],
            &[("OUT", out_dir.path())],
        );
        wait_for(&out_dir.path().join("ready"));
        signal(&child, sig);
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(128 + sig), "{stdout}");
        assert!(out_dir.path().join("teardown-ran").exists(), "{stdout}");
        let tmp = std::fs::read_to_string(out_dir.path().join("tmpdir")).unwrap();
        assert!(!Path::new(&tmp).exists(), "{tmp} left behind: {stdout}");
        assert!(stdout.contains("removed 1 resource(s)"), "{stdout}");
        assert!(!stdout.contains("could not remove"), "{stdout}");
    }
}

fn workers_of(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains("--worker-out") && cmdline.contains(&*dir.to_string_lossy()) {
            n += 1;
        }
    }
    n
}

#[test]
fn parallel_workers_clean_up_when_the_parent_is_stopped_or_killed() {
    for sig in [libc::SIGTERM, libc::SIGKILL] {
        let t = TempDir::new("sigjobs");
        let out_a = TempDir::new("sigjobs-a");
        let out_b = TempDir::new("sigjobs-b");
        t.write("a_test.rhai", &SLOW_TEST.replace("\"OUT\"", "\"OUT_A\""));
        t.write("b_test.rhai", &SLOW_TEST.replace("\"OUT\"", "\"OUT_B\""));
        let child = spawn(
            t.path(),
            &["test", "-j", "2", &t.path().display().to_string()],
            &[("OUT_A", out_a.path()), ("OUT_B", out_b.path())],
        );
        wait_for(&out_a.path().join("ready"));
        wait_for(&out_b.path().join("ready"));
        signal(&child, sig);
        let _ = child.wait_with_output().unwrap();
        let until = Instant::now() + Duration::from_secs(20);
        while workers_of(t.path()) > 0 {
            assert!(
                Instant::now() < until,
                "workers outlived their parent ({sig})"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        for out in [&out_a, &out_b] {
            assert!(out.path().join("teardown-ran").exists(), "signal {sig}");
            let tmp = std::fs::read_to_string(out.path().join("tmpdir")).unwrap();
            assert!(!Path::new(&tmp).exists(), "{tmp} left behind after {sig}");
        }
    }
}
