//! qcow2 disks and virtual machines on the real tools: the suites in tests/rhai/vm run by
//! `herodo test` with a state directory of their own.

use crate::support::{herodo, require, root, TempDir, BIN};

/// Run one suite file; every test passes (and none skips, unless `may_skip`: a tool that
/// only some tests need is missing on a developer's machine).
fn suite(file: &str, state: &TempDir, env: &[(&str, &str)], may_skip: bool) {
    herodo(root(), ["test", file])
        .env("HERODO_STATE_DIR", &state.path().display().to_string())
        .env("HERODO_BIN", BIN)
        .envs(env)
        .suite(if may_skip { usize::MAX } else { 0 });
}

/// A small HTTP server for the download tests: files from its directory; `/norange/F` ignores
/// Range headers (200, the whole file), `/cut/F` announces the whole file and sends half; each
/// request is logged as `PATH RANGE` to `requests.log`.
const HTTP_SERVER: &str = r#"
import http.server, os, sys
root = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        rng = self.headers.get("Range") or "-"
        with open(os.path.join(root, "requests.log"), "a") as f:
            f.write(self.path + " " + rng + "\n")
        mode, name = "plain", self.path.lstrip("/")
        for m in ("norange", "cut"):
            if name.startswith(m + "/"):
                mode, name = m, name[len(m) + 1:]
        p = os.path.join(root, name)
        if "/" in name or not os.path.isfile(p):
            self.send_error(404); return
        data = open(p, "rb").read()
        start = 0
        if mode != "norange" and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
            if start >= len(data):
                self.send_response(416); self.end_headers(); return
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if mode == "cut" else body)
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"#;

/// A running [`HTTP_SERVER`]: its files' directory and its port (it stops when dropped).
pub struct HttpServer {
    _daemon: crate::support::Daemon,
    _dir: TempDir,
    pub files: std::path::PathBuf,
    pub port: u16,
}

/// Start [`HTTP_SERVER`] on a free port of 127.0.0.1 (needs python3).
pub fn http_server() -> HttpServer {
    let dir = TempDir::new("vm-http");
    let script = dir.write("server.py", HTTP_SERVER);
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    let port = crate::support::free_port();
    let child = std::process::Command::new("python3")
        .args([
            &script.display().to_string(),
            &port.to_string(),
            &files.display().to_string(),
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let daemon = crate::support::Daemon {
        child,
        _dir: TempDir::new("vm-http-daemon"),
        name: "http server",
    };
    crate::support::wait_until(
        "the HTTP server",
        std::time::Duration::from_secs(20),
        || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
    );
    HttpServer {
        _daemon: daemon,
        _dir: dir,
        files,
        port,
    }
}

#[test]
fn qcow2_suite_on_real_qemu_img() {
    if !require(&["qemu-img", "qemu-nbd", "python3", "sha256sum"]) {
        return;
    }
    let state = TempDir::new("vm-qcow2");
    let server = http_server();
    suite(
        "tests/rhai/vm/qcow2_test.rhai",
        &state,
        &[
            (
                "HERODO_TEST_HTTP",
                &format!("http://127.0.0.1:{}", server.port),
            ),
            ("HERODO_TEST_HTTP_DIR", &server.files.display().to_string()),
        ],
        false,
    );
}

/// The test guest (scripts/vm-guest.sh, cached under target/vm-guest; setup.sh builds it; the
/// script rebuilds it when the script changed, else returns at once).
pub fn guest() -> Option<String> {
    let dir = root().join("target/vm-guest");
    let out = std::process::Command::new(root().join("scripts/vm-guest.sh"))
        .arg(&dir)
        .output()
        .expect("run scripts/vm-guest.sh");
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr).to_string();
        if crate::support::tools_required() {
            panic!("scripts/vm-guest.sh failed: {why}");
        }
        eprintln!("skipping: the test guest cannot be built: {why}");
        return None;
    }
    Some(dir.display().to_string())
}

#[test]
fn vm_suite_boots_real_guests_under_qemu() {
    if !require(&["qemu-img", "qemu-system-x86_64"]) {
        return;
    }
    let Some(guest) = guest() else { return };
    let state = TempDir::new("vm-run");
    // The shared-folder tests need virtiofsd (setup.sh installs it; in CI it is required).
    let may_skip = !crate::support::have("virtiofsd") && !crate::support::tools_required();
    if may_skip {
        eprintln!("note: virtiofsd is not installed: the shared-folder tests skip");
    }
    suite(
        "tests/rhai/vm/vm_test.rhai",
        &state,
        &[("HERODO_VM_GUEST", &guest)],
        may_skip,
    );
    // Nothing the suite created outlives it: no record, no QEMU of its state directory.
    let vms = state.path().join("vms");
    let left: Vec<String> = std::fs::read_dir(&vms)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != ".locks")
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "VM directories left: {left:?}");
    let ps = std::process::Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .unwrap();
    let ps = String::from_utf8_lossy(&ps.stdout);
    let mine = state.path().display().to_string();
    assert!(
        !ps.lines()
            .any(|l| l.contains("qemu-system") && l.contains(&mine)),
        "a QEMU of the suite still runs"
    );
}

/// With SHARE=1 the VM has a shared folder (OUT/share: its own virtiofsd) and the test also
/// starts a standalone virtiofsd on it.
const LEAKY_TEST: &str = r#"
fn test_leaves_a_running_vm() {
    let g = env_get("HERODO_VM_GUEST");
    let out = env_get("OUT");
    let spec = #{id: env_get("VM_ID"), kernel_path: `${g}/vmlinuz`, initramfs_path: `${g}/initrd.img`,
        memory_mb: 128};
    if env_get("SHARE") == "1" {
        mkdir(`${out}/share`);
        spec.shares = [#{host: `${out}/share`, tag: "leak"}];
    }
    vm_create(spec);
    vm_start(env_get("VM_ID"));
    if env_get("SHARE") == "1" {
        share_directory(`${out}/share`, `${out}/fs.sock`);
    }
    file_write(out + "/ready", "x");
    sleep(60000);
}
"#;

/// The virtiofsd daemons serving `dir`.
fn virtiofsd_of(dir: &std::path::Path) -> usize {
    let ps = std::process::Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .unwrap();
    let mine = format!("--shared-dir={}", dir.display());
    String::from_utf8_lossy(&ps.stdout)
        .lines()
        .filter(|l| l.contains("virtiofsd") && !l.starts_with("sh ") && l.contains(&mine))
        .count()
}

fn qemu_of(state: &std::path::Path) -> bool {
    let ps = std::process::Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .unwrap();
    let mine = state.display().to_string();
    String::from_utf8_lossy(&ps.stdout)
        .lines()
        .any(|l| l.starts_with("qemu-system") && l.contains(&mine))
}

/// Ctrl-C of `herodo test` deletes the test's VM at once; after a kill -9 the VM keeps running
/// until `herodo clean`, which removes it and leaves an ordinary script's VM alone. The same
/// for virtiofsd: the VM's own (a shared folder) and one the test started by itself; an
/// ordinary script's daemon is never reaped.
#[test]
fn test_vms_are_cleaned_after_ctrl_c_and_reaped_after_kill_9() {
    if !require(&["qemu-system-x86_64"]) {
        return;
    }
    let Some(guest) = guest() else { return };
    let share = crate::support::have("virtiofsd") || crate::support::tools_required();
    if !share {
        eprintln!("note: virtiofsd is not installed: its reaping is not checked");
    }
    let state = TempDir::new("vm-reap");
    let t = TempDir::new("vm-reap-scripts");
    t.write("leaky_test.rhai", LEAKY_TEST);
    let state_s = state.path().display().to_string();
    let mut outs = Vec::new();
    for (sig, id) in [(libc::SIGINT, "hd-int"), (libc::SIGKILL, "hd-kill")] {
        let out = TempDir::new("vm-reap-out");
        let mut child = std::process::Command::new(BIN)
            .args(["test", "leaky_test.rhai"])
            .current_dir(t.path())
            .env("NO_COLOR", "1")
            .env("HERODO_STATE_DIR", &state_s)
            .env("HERODO_VM_GUEST", &guest)
            .env("VM_ID", id)
            .env("OUT", out.path())
            .env("SHARE", if share { "1" } else { "0" })
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        crate::support::wait_until(
            "the VM to start",
            std::time::Duration::from_secs(60),
            || out.path().join("ready").exists(),
        );
        assert!(qemu_of(state.path()), "no QEMU for {id}");
        let shared = out.path().join("share");
        if share {
            assert_eq!(
                virtiofsd_of(&shared),
                2,
                "the VM's and the test's virtiofsd"
            );
        }
        // SAFETY: signalling our own child.
        unsafe {
            libc::kill(child.id() as i32, sig);
        }
        child.wait().unwrap();
        let record = state.path().join("vms").join(id);
        if sig == libc::SIGINT {
            assert!(!record.exists(), "Ctrl-C left {id}");
            assert!(!qemu_of(state.path()), "Ctrl-C left QEMU running");
            assert_eq!(virtiofsd_of(&shared), 0, "Ctrl-C left virtiofsd running");
        } else {
            assert!(record.exists(), "kill -9 should have left {id}");
            assert!(
                qemu_of(state.path()),
                "kill -9 should have left QEMU running"
            );
            if share {
                assert_eq!(virtiofsd_of(&shared), 2, "kill -9 should have left both");
            }
        }
        outs.push(out);
    }
    // An ordinary script's virtiofsd runs on after the script, and is never reaped.
    let keep = TempDir::new("vm-reap-keep");
    let mut kept_pid = None;
    if share {
        std::fs::create_dir_all(keep.path().join("share")).unwrap();
        let out = herodo(
            t.path(),
            [
                "-e",
                &format!(
                    r#"print(share_directory("{d}/share", "{d}/fs.sock").pid);"#,
                    d = keep.path().display()
                ),
            ],
        )
        .env("HERODO_STATE_DIR", &state_s)
        .run()
        .ok();
        kept_pid = out.stdout.trim().parse::<i32>().ok();
        assert!(kept_pid.is_some(), "{}", out.stdout);
        assert_eq!(virtiofsd_of(&keep.path().join("share")), 1);
    }
    // An ordinary script's VM (created, not started) is never reaped.
    herodo(
        t.path(),
        [
            "-e",
            &format!(r#"vm_create(#{{id: "hd-keep", kernel_path: "{guest}/vmlinuz"}});"#),
        ],
    )
    .env("HERODO_STATE_DIR", &state_s)
    .run()
    .ok();
    let out = herodo(t.path(), ["clean"])
        .env("HERODO_STATE_DIR", &state_s)
        .run()
        .ok();
    assert!(out.stdout.contains("removed vm hd-kill"), "{}", out.stdout);
    assert!(!out.stdout.contains("hd-keep"), "{}", out.stdout);
    assert!(!state.path().join("vms/hd-kill").exists());
    assert!(!qemu_of(state.path()), "clean left QEMU running");
    assert!(state.path().join("vms/hd-keep").exists());
    if share {
        let fs_sock = outs[1].path().join("fs.sock").display().to_string();
        assert!(
            out.stdout.contains(&format!("removed virtiofsd {fs_sock}")),
            "{}",
            out.stdout
        );
        assert_eq!(
            virtiofsd_of(&outs[1].path().join("share")),
            0,
            "clean left the test's virtiofsd running"
        );
        assert!(!out.stdout.contains(&keep.path().display().to_string()));
        assert_eq!(
            virtiofsd_of(&keep.path().join("share")),
            1,
            "an ordinary script's virtiofsd was reaped"
        );
    }
    if let Some(pid) = kept_pid {
        // SAFETY: the daemon the ordinary script above started.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
    herodo(t.path(), ["-e", r#"assert_true(vm_delete("hd-keep"));"#])
        .env("HERODO_STATE_DIR", &state_s)
        .run()
        .ok();
}

/// herodo killed (-9) while `vm_start` waits for QEMU: the next herodo sees the VM running
/// (from the pid the monitor wrote), and `vm_delete` removes QEMU, the record and the socket.
#[test]
fn a_vm_start_cut_short_by_kill_9_is_still_seen_and_deleted() {
    if !require(&["qemu-system-x86_64"]) {
        return;
    }
    let Some(guest) = guest() else { return };
    let state = TempDir::new("vm-cut");
    let state_s = state.path().display().to_string();
    let script = format!(
        r#"vm_create(#{{id: "hd-cut", kernel_path: "{guest}/vmlinuz", initramfs_path: "{guest}/initrd.img", memory_mb: 128}});
vm_start("hd-cut"); sleep(60000);"#
    );
    let mut child = std::process::Command::new(BIN)
        .args(["-e", &script])
        .env("HERODO_STATE_DIR", &state_s)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // As soon as the record names the monitor's process group, QEMU is on its way.
    let record = state.path().join("vms/hd-cut/vm.json");
    crate::support::wait_until(
        "the start to begin",
        std::time::Duration::from_secs(30),
        || {
            std::fs::read_to_string(&record)
                .is_ok_and(|t| t.contains("\"group\": ") && !t.contains("\"group\": null"))
        },
    );
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    child.wait().unwrap();
    let out = herodo(
        root(),
        ["-e", r#"print(vm_info("hd-cut").runtime.status);"#],
    )
    .env("HERODO_STATE_DIR", &state_s)
    .run()
    .ok();
    assert_eq!(out.stdout.trim(), "running");
    assert!(
        qemu_of(state.path()),
        "QEMU should run on after herodo died"
    );
    herodo(root(), ["-e", r#"assert_true(vm_delete("hd-cut"));"#])
        .env("HERODO_STATE_DIR", &state_s)
        .run()
        .ok();
    assert!(!qemu_of(state.path()), "vm_delete left QEMU running");
    assert!(!state.path().join("vms/hd-cut").exists());
}

/// `--dry-run`: every VM and disk operation says what it would do; nothing is created, started
/// or written.
#[test]
fn dry_run_creates_and_starts_nothing() {
    let dir = TempDir::new("vm-dry");
    let state = dir.path().join("state");
    let kernel = dir.write("vmlinuz", "not a kernel");
    let script = format!(
        r#"let disk = qcow2_create("{d}/disk.qcow2", 1);
vm_create(#{{id: "dry", kernel_path: "{k}", disks: [disk]}});
vm_start("dry"); vm_pause("dry"); vm_resume("dry");
vm_snapshot("dry", "{d}/snap"); vm_stop("dry"); vm_restore("dry", "{d}/snap");
print(vm_delete("dry", true));"#,
        d = dir.path().display(),
        k = kernel.display()
    );
    let out = herodo(dir.path(), ["--dry-run", "-e", &script])
        .env("HERODO_STATE_DIR", &state.display().to_string())
        .run()
        .ok();
    for line in [
        "[dry-run] qemu-img create",
        "[dry-run] vm: create dry",
        "[dry-run] vm: start dry",
        "[dry-run] vm: pause dry",
        "[dry-run] vm: resume dry",
        "[dry-run] vm: snapshot dry into",
        "[dry-run] vm: stop dry",
        "[dry-run] vm: restore dry from",
        "[dry-run] vm: delete dry",
    ] {
        assert!(out.stdout.contains(line), "no {line:?} in:\n{}", out.stdout);
    }
    assert!(!state.exists(), "the state directory was written");
    assert!(!dir.path().join("disk.qcow2").exists());
    assert!(!dir.path().join("snap").exists());
    assert!(kernel.exists());
}

/// The pids of the QEMU processes of a state directory.
fn qemu_pids(state: &std::path::Path) -> Vec<i64> {
    let ps = std::process::Command::new("ps")
        .args(["-eo", "pid=,args="])
        .output()
        .unwrap();
    let mine = state.display().to_string();
    String::from_utf8_lossy(&ps.stdout)
        .lines()
        .filter_map(|l| {
            let (pid, args) = l.trim_start().split_once(' ')?;
            (args.starts_with("qemu-system") && args.contains(&mine))
                .then(|| pid.parse().ok())
                .flatten()
        })
        .collect()
}

/// Two herodo processes `vm_start` one created VM at the same moment: the per-VM lock lets one
/// start it and the other find it running (starting a running VM does nothing), so both
/// succeed, exactly one QEMU runs, and the record names it.
#[test]
fn two_processes_starting_one_vm_run_one_qemu() {
    if !require(&["qemu-system-x86_64"]) {
        return;
    }
    let Some(guest) = guest() else { return };
    let state = TempDir::new("vm-two");
    let state_s = state.path().display().to_string();
    herodo(
        root(),
        [
            "-e",
            &format!(
                r#"vm_create(#{{id: "hd-two", kernel_path: "{guest}/vmlinuz", initramfs_path: "{guest}/initrd.img", memory_mb: 128}});"#
            ),
        ],
    )
    .env("HERODO_STATE_DIR", &state_s)
    .run()
    .ok();
    let start = || {
        std::process::Command::new(BIN)
            .args([
                "-e",
                r#"vm_start("hd-two"); print(vm_info("hd-two").runtime.status);"#,
            ])
            .env("HERODO_STATE_DIR", &state_s)
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (start(), start());
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(out.status.success(), "{stdout}{stderr}");
        assert_eq!(stdout.trim(), "running", "{stderr}");
    }
    let pids = qemu_pids(state.path());
    assert_eq!(pids.len(), 1, "QEMU processes: {pids:?}");
    let text = std::fs::read_to_string(state.path().join("vms/hd-two/vm.json")).unwrap();
    let rec: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(rec["pid"].as_i64(), Some(pids[0]), "{text}");
    let out = herodo(
        root(),
        [
            "-e",
            r#"print(vm_info("hd-two").runtime.pid); assert_true(vm_delete("hd-two"));"#,
        ],
    )
    .env("HERODO_STATE_DIR", &state_s)
    .run()
    .ok();
    assert_eq!(out.stdout.trim(), pids[0].to_string());
    assert!(qemu_pids(state.path()).is_empty(), "vm_delete left QEMU");
    assert!(!state.path().join("vms/hd-two").exists());
}

/// A tmpfs mount, unmounted when dropped.
struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// A really full disk (a 2 MiB tmpfs): `qcow2_convert` of 8 MiB of data fails with a typed
/// error carrying qemu-img's "No space left on device", and leaves no file there, neither
/// the target nor its staging file.
#[test]
fn a_full_disk_is_a_typed_error_and_leaves_no_file() {
    if !require(&["qemu-img", "mount", "umount"]) {
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(
            !crate::support::tools_required(),
            "mounting a tmpfs needs root"
        );
        eprintln!("skipping: mounting a tmpfs needs root");
        return;
    }
    let dir = TempDir::new("vm-full");
    let small = dir.path().join("small");
    std::fs::create_dir_all(&small).unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "herodo-it-full"])
        .arg(&small)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mount -t tmpfs failed");
    let _mount = Mount(small.clone());
    // 8 MiB that neither compress nor read as zeros.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let data: Vec<u8> = (0..8 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let src = dir.path().join("src.raw");
    std::fs::write(&src, &data).unwrap();
    let script = format!(
        r#"let e = assert_throws(|| qcow2_convert("{src}", "{dst}", "qcow2"), "command_failed");
assert_contains(e.stderr, "No space left");
assert_contains(e.cmd, "qemu-img convert");
print(e.kind);"#,
        src = src.display(),
        dst = small.join("full.qcow2").display()
    );
    let out = herodo(dir.path(), ["-e", &script])
        .env(
            "HERODO_STATE_DIR",
            &dir.path().join("state").display().to_string(),
        )
        .run()
        .ok();
    assert_eq!(out.stdout.trim(), "command_failed");
    let left: Vec<_> = std::fs::read_dir(&small)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left on the full disk: {left:?}");
}
