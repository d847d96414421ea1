//! qcow2 disks and virtual machines on the real tools: the suites in tests/rhai/vm run by
//! `herodo test` with a state directory of their own.

use crate::support::{herodo, require, root, TempDir, BIN};

/// Run one suite file; every test passes.
fn suite(file: &str, state: &TempDir, env: &[(&str, &str)]) {
    let mut h = herodo(root(), ["test", file])
        .env("HERODO_STATE_DIR", &state.path().display().to_string())
        .env("HERODO_BIN", BIN);
    for (k, v) in env {
        h = h.env(k, v);
    }
    let out = h.run();
    print!("{}", out.stdout);
    eprint!("{}", out.stderr);
    let out = out.ok();
    let last = out.stdout.lines().last().unwrap_or_default().to_string();
    assert!(last.ends_with(" passed, 0 failed, 0 skipped"), "{last}");
}

#[test]
fn qcow2_suite_on_real_qemu_img() {
    if !require(&["qemu-img", "qemu-nbd"]) {
        return;
    }
    let state = TempDir::new("vm-qcow2");
    suite("tests/rhai/vm/qcow2_test.rhai", &state, &[]);
}
