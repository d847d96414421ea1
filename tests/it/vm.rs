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

#[test]
fn qcow2_suite_on_real_qemu_img() {
    if !require(&["qemu-img", "qemu-nbd", "python3", "sha256sum"]) {
        return;
    }
    let state = TempDir::new("vm-qcow2");
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
    let _server = crate::support::Daemon {
        child,
        _dir: TempDir::new("vm-http-daemon"),
        name: "http server",
    };
    crate::support::wait_until(
        "the HTTP server",
        std::time::Duration::from_secs(20),
        || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
    );
    suite(
        "tests/rhai/vm/qcow2_test.rhai",
        &state,
        &[
            ("HERODO_TEST_HTTP", &format!("http://127.0.0.1:{port}")),
            ("HERODO_TEST_HTTP_DIR", &files.display().to_string()),
        ],
        false,
    );
}

/// The test guest (scripts/vm-guest.sh, cached under target/vm-guest; setup.sh builds it).
pub fn guest() -> Option<String> {
    let dir = root().join("target/vm-guest");
    if !dir.join("vmlinuz").is_file() || !dir.join("initrd.img").is_file() {
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

const LEAKY_TEST: &str = r#"
fn test_leaves_a_running_vm() {
    let g = env_get("HERODO_VM_GUEST");
    vm_create(#{id: env_get("VM_ID"), kernel_path: `${g}/vmlinuz`, initramfs_path: `${g}/initrd.img`,
        memory_mb: 128});
    vm_start(env_get("VM_ID"));
    file_write(env_get("OUT") + "/ready", "x");
    sleep(60000);
}
"#;

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
/// until `herodo clean`, which removes it and leaves an ordinary script's VM alone.
#[test]
fn test_vms_are_cleaned_after_ctrl_c_and_reaped_after_kill_9() {
    if !require(&["qemu-system-x86_64"]) {
        return;
    }
    let Some(guest) = guest() else { return };
    let state = TempDir::new("vm-reap");
    let t = TempDir::new("vm-reap-scripts");
    t.write("leaky_test.rhai", LEAKY_TEST);
    let state_s = state.path().display().to_string();
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
        // SAFETY: signalling our own child.
        unsafe {
            libc::kill(child.id() as i32, sig);
        }
        child.wait().unwrap();
        let record = state.path().join("vms").join(id);
        if sig == libc::SIGINT {
            assert!(!record.exists(), "Ctrl-C left {id}");
            assert!(!qemu_of(state.path()), "Ctrl-C left QEMU running");
        } else {
            assert!(record.exists(), "kill -9 should have left {id}");
            assert!(
                qemu_of(state.path()),
                "kill -9 should have left QEMU running"
            );
        }
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
