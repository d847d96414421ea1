//! The host functions through the binary: the project's own .rhai suites (tests/rhai) run
//! through `herodo test`, so `cargo test` covers them (HERODO_REQUIRE_TOOLS passes through: in
//! CI a missing tool fails); then files and network functions where only the binary can show
//! the behaviour: --dry-run, Ctrl-C, the working directory, what reaches stderr.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::{herodo, TempDir};

#[test]
fn rhai_suites_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The suites of the host-function domains; containers, buildah and heropods have suites of
    // their own under tests/rhai/, run by their harnesses with engines, registries and runtimes.
    herodo(
        root,
        [
            "test",
            "-j",
            "2",
            "tests/rhai/process",
            "tests/rhai/os",
            "tests/rhai/text",
            "tests/rhai/net",
            "tests/rhai/misc",
            "tests/rhai/testing",
        ],
    )
    // A tool some tests need may be missing on a developer's machine, not in CI.
    .suite(if crate::support::tools_required() {
        0
    } else {
        usize::MAX
    });
}

/// Every path below `dir` with its content (files) or a marker (dirs, links), sorted.
fn snapshot(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let what = if m.file_type().is_symlink() {
                format!("link -> {}", std::fs::read_link(&p).unwrap().display())
            } else if m.is_dir() {
                todo.push(p.clone());
                "dir".to_string()
            } else {
                std::fs::read_to_string(&p).unwrap()
            };
            out.push((p, what));
        }
    }
    out.sort();
    out
}

/// True when a client connected to `l` since it was made (the kernel completes the handshake
/// into the backlog, so a connection shows even though nobody accepted it).
fn was_contacted(l: &TcpListener) -> bool {
    l.set_nonblocking(true).unwrap();
    match l.accept() {
        Ok(_) => true,
        Err(e) if e.kind() == ErrorKind::WouldBlock => false,
        Err(e) => panic!("accept: {e}"),
    }
}

#[test]
fn dry_run_touches_no_file_and_makes_no_connection() {
    let t = TempDir::new("dryos");
    t.write("src/a.conf", "a");
    t.write("src/sub/b.conf", "b");
    t.write("keep.txt", "keep");
    let d = t.path().display().to_string();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    // (script, what its dry-run line says, what the script prints)
    let table: Vec<(String, String, &str)> = vec![
        (
            format!(r#"file_write("{d}/new/x.txt", "hello"); print(exist("{d}/new"));"#),
            format!("[dry-run] file_write {d}/new/x.txt (5 bytes)"),
            "false",
        ),
        (
            format!(
                r#"file_write_append("{d}/keep.txt", "more"); print(file_read("{d}/keep.txt"));"#
            ),
            format!("[dry-run] file_write_append {d}/keep.txt (4 bytes)"),
            "keep",
        ),
        (
            format!(r#"mkdir("{d}/made/deep"); print(exist("{d}/made"));"#),
            format!("[dry-run] mkdir {d}/made/deep"),
            "false",
        ),
        (
            format!(r#"print(delete("{d}/keep.txt"));"#),
            format!("[dry-run] delete {d}/keep.txt"),
            "true",
        ),
        (
            format!(r#"print(delete("{d}/src"));"#),
            format!("[dry-run] delete {d}/src"),
            "true",
        ),
        (
            format!(r#"print(delete("{d}/nothing-here"));"#),
            String::new(),
            "false",
        ),
        (
            format!(r#"copy("{d}/src", "{d}/copied"); print(exist("{d}/copied"));"#),
            format!("[dry-run] copy {d}/src {d}/copied"),
            "false",
        ),
        (
            format!(r#"copy("{d}/src/*.conf", "{d}/confs"); print(exist("{d}/confs"));"#),
            format!("[dry-run] copy {d}/src/a.conf {d}/confs/a.conf"),
            "false",
        ),
        (
            format!(r#"mv("{d}/keep.txt", "{d}/moved.txt"); print(exist("{d}/keep.txt"));"#),
            format!("[dry-run] mv {d}/keep.txt {d}/moved.txt"),
            "true",
        ),
        (
            r#"let p = tmpdir(); print(exist(p));"#.to_string(),
            "[dry-run] tmpdir ".to_string(),
            "false",
        ),
        (
            r#"let p = mktemp(); print(exist(p));"#.to_string(),
            "[dry-run] mktemp ".to_string(),
            "false",
        ),
        (
            format!(r#"let here = cwd(); chdir("{d}/not-made-yet"); print(cwd() == here);"#),
            format!("[dry-run] chdir {d}/not-made-yet"),
            "true",
        ),
        (
            format!(r#"print(tcp_check("127.0.0.1", {port}));"#),
            format!("[dry-run] tcp_check 127.0.0.1 {port}"),
            "true",
        ),
        (
            format!(r#"print(wait_for_port("127.0.0.1", {port}, 5));"#),
            format!("[dry-run] wait_for_port 127.0.0.1 {port}"),
            "true",
        ),
        (
            format!(r#"print(http_status("http://127.0.0.1:{port}/health"));"#),
            format!("[dry-run] http GET http://127.0.0.1:{port}/health"),
            "200",
        ),
        (
            format!(
                r#"let r = http_get("http://127.0.0.1:{port}/x", #{{timeout: 2}}); print(`${{r.status}}:${{r.body}}`);"#
            ),
            format!("[dry-run] http GET http://127.0.0.1:{port}/x"),
            "200:",
        ),
    ];
    let before = snapshot(t.path());
    for (script, line, printed) in &table {
        let out = herodo(t.path(), ["--dry-run", "-e", script]).run().ok();
        assert!(
            out.stdout.contains(line.as_str()),
            "{script}\nexpected {line:?} in stdout:\n{}\n{}",
            out.stdout,
            out.stderr
        );
        let last = out.stdout.lines().last().unwrap_or_default();
        assert_eq!(last, *printed, "{script}\n{}", out.stdout);
        assert_eq!(snapshot(t.path()), before, "{script} changed files");
        assert!(!was_contacted(&l), "{script} made a connection");
    }
}

#[test]
fn dry_run_still_validates_and_reads_for_real() {
    let t = TempDir::new("dryval");
    t.write("r.txt", "real");
    herodo(
        t.path(),
        ["--dry-run", "-e", r#"print(file_read("r.txt"));"#],
    )
    .run()
    .ok()
    .stdout_is("real\n");
    herodo(t.path(), ["--dry-run", "-e", r#"delete("/");"#])
        .run()
        .code(1)
        .stderr_has("invalid_argument");
    herodo(t.path(), ["--dry-run", "-e", r#"copy("r.txt", "r.txt");"#])
        .run()
        .code(1)
        .stderr_has("same file");
    // A source a dry run did not create (it skipped the write) is noted, not an error.
    herodo(
        t.path(),
        [
            "--dry-run",
            "-e",
            r#"file_write("gen/app.conf", "x"); copy("gen/app.conf", "etc/"); mv("gen/*", "old");"#,
        ],
    )
    .run()
    .ok()
    .stdout_has("[dry-run] copy gen/app.conf etc/ (source not there now)")
    .stdout_has("[dry-run] mv 'gen/*' old (source not there now)");
    assert!(!t.path().join("gen").exists() && !t.path().join("etc").exists());
}

#[test]
fn delete_refuses_dot_and_dotdot_and_the_working_directory() {
    let t = TempDir::new("deldots");
    t.write("x/sub/f.txt", "f");
    t.write("x/other.txt", "o");
    let x = t.path().join("x");
    let before = snapshot(t.path());
    for script in [
        format!(r#"delete("{}/sub/..");"#, x.display()),
        format!(r#"delete("{}/sub/.");"#, x.display()),
        r#"delete("x/sub/..");"#.to_string(),
        r#"delete(".");"#.to_string(),
        r#"delete("./");"#.to_string(),
        r#"delete("..");"#.to_string(),
    ] {
        herodo(t.path(), ["-C", "x", "-e", &script])
            .run()
            .code(1)
            .stderr_has("invalid_argument")
            .stderr_has("refusing to delete");
        assert_eq!(snapshot(t.path()), before, "{script} removed something");
    }
    // Resolved paths: the working directory, its parents and the home directory.
    for script in [
        format!(r#"delete("{}/sub/../../x");"#, x.display()),
        format!(r#"delete("{}");"#, t.path().display()),
    ] {
        herodo(&x, ["-e", &script])
            .run()
            .code(1)
            .stderr_has("refusing to delete");
        assert_eq!(snapshot(t.path()), before, "{script} removed something");
    }
    let home = t.path().join("x/sub");
    herodo(
        t.path(),
        ["-e", &format!(r#"delete("{}/x/sub");"#, t.path().display())],
    )
    .env("HOME", &home.display().to_string())
    .run()
    .code(1)
    .stderr_has("home directory");
    assert_eq!(snapshot(t.path()), before);
}

#[test]
fn copy_refuses_a_directory_into_itself_and_a_file_onto_itself() {
    let t = TempDir::new("copyself");
    t.write("s/f.txt", "data");
    let before = snapshot(t.path());
    for script in [
        r#"copy("s", "s/inner");"#,
        r#"copy("s", "s");"#,
        r#"copy("s/", "s/./inner/deeper");"#,
        r#"copy("s/f.txt", "s/f.txt");"#,
        r#"copy("s/f.txt", "s/");"#,
        r#"mv("s", "s/inner");"#,
    ] {
        herodo(t.path(), ["-e", script])
            .run()
            .code(1)
            .stderr_has("invalid_argument");
        assert_eq!(snapshot(t.path()), before, "{script} changed files");
    }
}

#[test]
fn file_read_refuses_fifos_and_devices_quickly() {
    let t = TempDir::new("fifo");
    let fifo = t.path().join("pipe");
    let c = std::ffi::CString::new(fifo.display().to_string()).unwrap();
    // SAFETY: mkfifo on a path we own.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let started = Instant::now();
    herodo(t.path(), ["-e", r#"file_read("pipe");"#])
        .run()
        .code(1)
        .stderr_has("invalid_argument")
        .stderr_has("not a regular file");
    herodo(t.path(), ["-e", r#"file_read("/dev/zero");"#])
        .run()
        .code(1)
        .stderr_has("not a regular file");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn url_passwords_never_show() {
    let t = TempDir::new("urlpw");
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    for flags in [vec![], vec!["-v"]] {
        let script =
            format!(r#"http_get("http://deploy:S3cretPass@127.0.0.1:{port}/", #{{timeout: 2}});"#);
        let mut args = flags.clone();
        args.extend(["-e", &script]);
        let out = herodo(t.path(), args)
            .run()
            .code(1)
            .stderr_has("network")
            .stderr_has(&format!("http://deploy:***@127.0.0.1:{port}/"));
        assert!(
            !out.stderr.contains("S3cretPass") && !out.stdout.contains("S3cretPass"),
            "{}",
            out.stderr
        );
    }
    // A short password is masked in the URL too, and a user alone (a token) is masked.
    herodo(
        t.path(),
        [
            "-e",
            &format!(r#"http_get("http://u:pw@127.0.0.1:{port}/x");"#),
        ],
    )
    .run()
    .code(1)
    .stderr_has(&format!("http://u:***@127.0.0.1:{port}/x"));
    herodo(
        t.path(),
        [
            "--dry-run",
            "-e",
            &format!(r#"http_get("http://ghp_tokenvalue@127.0.0.1:{port}/x");"#),
        ],
    )
    .run()
    .ok()
    .stdout_has(&format!("http://***@127.0.0.1:{port}/x"))
    .stdout_lacks("ghp_tokenvalue");
}

/// A server that accepts connections and never answers.
fn silent_server() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

#[test]
fn http_get_times_out_with_kind_timeout() {
    let t = TempDir::new("httpto");
    let (_l, port) = silent_server();
    let started = Instant::now();
    herodo(
        t.path(),
        [
            "-e",
            &format!(
                r#"try {{ http_get("http://127.0.0.1:{port}/", #{{timeout: 1}}); }} catch (e) {{ print(e.kind); print(e.message); }}"#
            ),
        ],
    )
    .run()
    .ok()
    .stdout_has("timeout\n")
    .stdout_has("within 1");
    assert!(started.elapsed() < Duration::from_secs(5));
    for bad in ["1e300", "-1", "\"soon\""] {
        herodo(
            t.path(),
            [
                "-e",
                &format!(r#"http_status("http://127.0.0.1:{port}/", #{{timeout: {bad}}});"#),
            ],
        )
        .run()
        .code(1)
        .stderr_has("invalid_argument");
    }
    herodo(
        t.path(),
        [
            "-e",
            &format!(r#"http_status("http://127.0.0.1:{port}/", #{{bogus: 1}});"#),
        ],
    )
    .run()
    .code(1)
    .stderr_has("unknown key `bogus`");
}

#[test]
fn ctrl_c_stops_an_http_request() {
    let t = TempDir::new("httpcc");
    let (_l, port) = silent_server();
    let child = std::process::Command::new(crate::support::BIN)
        .args([
            "-e",
            &format!(
                r#"print("started"); http_get("http://127.0.0.1:{port}/"); print("not reached");"#
            ),
        ])
        .current_dir(t.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let started = Instant::now();
    // SAFETY: sending SIGINT to our own child process.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(out.status.code(), Some(130));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("started") && !stdout.contains("not reached"));
}

#[test]
fn huge_durations_are_invalid_arguments() {
    let t = TempDir::new("huge");
    for script in [
        r#"wait_for_port("127.0.0.1", 1, 1e300);"#,
        r#"wait_for_port("127.0.0.1", 1, 9223372036854775807);"#,
        r#"wait_for_port("127.0.0.1", 1, -1);"#,
        r#"sleep(1e300);"#,
    ] {
        herodo(t.path(), ["-e", script])
            .run()
            .code(1)
            .stderr_has("invalid_argument")
            .stderr_lacks("panicked");
    }
}

#[test]
fn a_tmpdir_the_test_stands_in_is_still_removed() {
    let t = TempDir::new("tmpcwd");
    t.write(
        "cd_test.rhai",
        r#"fn test_stays() { let d = tmpdir(); chdir(d); file_write("here.txt", "x"); print(`TMP=${d}`); }
fn test_next_starts_somewhere_real() { print(`CWD=${cwd()}`); assert_true(exist(cwd())); }"#,
    );
    let out = herodo(t.path(), ["test", "cd_test.rhai"])
        .run()
        .ok()
        .stdout_lacks("could not remove")
        .stderr_lacks("could not remove");
    // A passing test's prints are not shown: the cleanup summary names the directory.
    let tmp = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("  tmpdir "))
        .unwrap_or_else(|| panic!("no removed tmpdir line in {}", out.stdout))
        .to_string();
    assert!(!Path::new(&tmp).exists(), "{tmp} leaked");
}
