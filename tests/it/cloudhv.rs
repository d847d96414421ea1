//! Cloud Hypervisor: the suites in tests/rhai/cloudhv run by `herodo test` against the fake
//! (tests/ch/fake_ch.py, started by herodo as the binary HERODO_CH_BIN names), then against a
//! real binary when this test process has HERODO_CH_BIN set (skipped otherwise, saying so);
//! and the original herodo's two cloudhv scripts, unchanged, from the herolib-virt 0.3.13 crate.

use std::path::Path;

use crate::support::{herodo, require, root, TempDir};

const SUITE: &str = "tests/rhai/cloudhv";

fn fake() -> String {
    root().join("tests/ch/fake_ch.py").display().to_string()
}

/// Run the suite with `env`; every test passes, and at most `max_skipped` skip.
fn suite(state: &TempDir, env: &[(&str, &str)], max_skipped: usize) {
    herodo(root(), ["test", SUITE])
        .env("HERODO_STATE_DIR", &state.path().display().to_string())
        .env("TMPDIR", &state.path().display().to_string())
        .envs(env)
        .suite(max_skipped);
}

#[test]
fn cloudhv_suite_against_the_fake() {
    if !require(&["python3"]) {
        return;
    }
    let state = TempDir::new("ch-fake");
    suite(
        &state,
        &[("HERODO_CH_BIN", &fake()), ("HERODO_CH_FAKE", "1")],
        0,
    );
    // Nothing of the suite keeps running.
    let left = std::process::Command::new("pgrep")
        .args(["-f", &state.path().display().to_string()])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    assert_eq!(left, "", "processes left behind");
}

#[test]
fn cloudhv_suite_against_a_real_binary() {
    let Ok(bin) = std::env::var("HERODO_CH_BIN") else {
        println!("skipped: HERODO_CH_BIN is not set (point it at a real cloud-hypervisor to run the suite against it)");
        return;
    };
    if bin.ends_with("fake_ch.py") {
        println!("skipped: HERODO_CH_BIN is the fake, which cloudhv_suite_against_the_fake runs");
        return;
    }
    let state = TempDir::new("ch-real");
    // The fake-only tests (faults, crash timing, hot-plug of fake devices) skip.
    suite(&state, &[("HERODO_CH_BIN", &bin)], usize::MAX);
}

#[test]
fn the_original_cloudhv_scripts_run_unchanged() {
    let dir = TempDir::new("ch-orig");
    if !crate::support::unpack_original("herolib-virt", "0.3.13", dir.path()) {
        return;
    }
    let scripts = dir.path().join("herolib-virt-0.3.13/tests/rhai/cloudhv");
    for (file, done) in [
        (
            "test_vm_builder.rhai",
            "=== All VM Builder tests passed! ===",
        ),
        (
            "test_device_builder.rhai",
            "=== All Device Configuration tests passed! ===",
        ),
    ] {
        let script = scripts.join(file).display().to_string();
        let out = herodo(dir.path(), [script.as_str()])
            .env(
                "HERODO_STATE_DIR",
                &dir.path().join("state").display().to_string(),
            )
            .run();
        print!("{}", out.stdout);
        eprint!("{}", out.stderr);
        out.ok().stdout_has(done);
    }
}

const LEAKY_TEST: &str = r#"
fn test_leaves_a_runtime_and_a_vm() {
    assert_true(init_runtime(RuntimeBuilder().api_socket(env_get("OUT") + "/rt.sock")));
    let k = env_get("OUT") + "/vmlinux";
    file_write(k, "x");
    cloudhv_vm_create(#{id: "leaky", kernel_path: k, api_socket: env_get("OUT") + "/vm.sock"});
    cloudhv_vm_start("leaky");
    file_write(env_get("OUT") + "/ready", "x");
    sleep(60000);
}
"#;

/// Whether a fake cloud-hypervisor listens on `socket`.
fn fake_on(socket: &Path) -> bool {
    let ps = std::process::Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .unwrap();
    let s = socket.display().to_string();
    String::from_utf8_lossy(&ps.stdout)
        .lines()
        .any(|l| l.contains("fake_ch.py") && l.contains(&s))
}

/// After a kill -9 of `herodo test`, its runtime and its VM keep running until `herodo
/// clean`, which ends both.
#[test]
fn runtimes_and_vms_of_a_killed_test_are_reaped() {
    if !require(&["python3"]) {
        return;
    }
    let state = TempDir::new("ch-reap");
    let t = TempDir::new("ch-reap-scripts");
    let out = TempDir::new("ch-reap-out");
    t.write("leaky_test.rhai", LEAKY_TEST);
    let state_s = state.path().display().to_string();
    let mut child = std::process::Command::new(crate::support::BIN)
        .args(["test", "leaky_test.rhai"])
        .current_dir(t.path())
        .env("NO_COLOR", "1")
        .env("HERODO_STATE_DIR", &state_s)
        .env("HERODO_CH_BIN", fake())
        .env("OUT", out.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    crate::support::wait_until(
        "the VM to start",
        std::time::Duration::from_secs(30),
        || out.path().join("ready").exists(),
    );
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    child.wait().unwrap();
    let (rt, vm) = (out.path().join("rt.sock"), out.path().join("vm.sock"));
    assert!(
        fake_on(&rt) && fake_on(&vm),
        "kill -9 should have left both running"
    );
    let done = herodo(t.path(), ["clean"])
        .env("HERODO_STATE_DIR", &state_s)
        .run()
        .ok();
    assert!(done.stdout.contains("leaky"), "{}", done.stdout);
    assert!(done.stdout.contains("rt.sock"), "{}", done.stdout);
    assert!(!fake_on(&rt), "clean left the runtime running");
    assert!(!fake_on(&vm), "clean left the VM running");
}
