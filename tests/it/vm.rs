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

/// The test guest (scripts/vm-guest.sh, cached under target/vm-guest; setup.sh builds it).
fn guest() -> Option<String> {
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
    suite(
        "tests/rhai/vm/vm_test.rhai",
        &state,
        &[("HERODO_VM_GUEST", &guest)],
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
