//! The stdlib recipes (stdlib/*.rhai) on the real tools: each suite in tests/rhai/stdlib run by
//! `herodo test` with what it needs (podman and the offline image, a registry, runc, the QEMU
//! test guest, the fake API server), then a check that nothing it made is left.

use crate::support::{herodo, require, root, start_registry, test_image, TempDir, BIN};

/// Run one suite file with `env`; every test passes and none skips.
fn suite(file: &str, env: &[(&str, &str)]) -> String {
    herodo(root(), ["--engine", "podman", "test", file])
        .env("HERODO_CONTAINER_ENGINE", "podman")
        .env("HERODO_BIN", BIN)
        .envs(env)
        .suite(0)
        .stdout
}

/// Every stdlib module has a suite here, and every exported function is called in it.
#[test]
fn every_stdlib_function_has_a_test() {
    let dir = root().join("tests/rhai/stdlib");
    let re = regex::Regex::new(r"(?m)^fn ([a-z_0-9]+)\(").unwrap();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(root().join("stdlib")).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().replace(".rhai", "");
        let source = std::fs::read_to_string(entry.path()).unwrap();
        let Ok(suite) = std::fs::read_to_string(dir.join(format!("{name}_test.rhai"))) else {
            missing.push(format!("tests/rhai/stdlib/{name}_test.rhai"));
            continue;
        };
        for c in re.captures_iter(&source) {
            let f = &c[1];
            if !suite.contains(&format!("::{f}(")) {
                missing.push(format!("std/{name}::{f}"));
            }
        }
    }
    assert!(missing.is_empty(), "untested: {missing:?}");
}

#[test]
fn retry_recipes() {
    suite("tests/rhai/stdlib/retry_test.rhai", &[]);
}

#[test]
fn container_recipes_on_podman() {
    if !require(&["podman", "buildah"]) {
        return;
    }
    let _engines = crate::support::engine_lock();
    test_image(None);
    suite("tests/rhai/stdlib/containers_test.rhai", &[]);
    let ps = std::process::Command::new("podman")
        .args(["ps", "-a", "--format", "{{.Names}}"])
        .output()
        .unwrap();
    let left: Vec<String> = String::from_utf8_lossy(&ps.stdout)
        .lines()
        .filter(|n| {
            n.starts_with("stdct-") || n.starts_with("hd-run-once-") || n.starts_with("hd-env-")
        })
        .map(str::to_string)
        .collect();
    assert!(left.is_empty(), "containers left: {left:?}");
    let nets = std::process::Command::new("podman")
        .args(["network", "ls", "--format", "{{.Name}}"])
        .output()
        .unwrap();
    let nets = String::from_utf8_lossy(&nets.stdout);
    assert!(!nets.contains("hd-env-"), "networks left: {nets}");
}

#[test]
fn image_recipes_with_buildah_and_a_registry() {
    if !require(&["podman", "buildah", "docker-registry"]) {
        return;
    }
    let _engines = crate::support::engine_lock();
    test_image(None);
    let (_registry, addr) = start_registry();
    suite(
        "tests/rhai/stdlib/images_test.rhai",
        &[("HERODO_TEST_REGISTRY", &addr)],
    );
}

#[test]
fn heropods_recipes_on_runc() {
    if !require(&[
        "runc", "skopeo", "umoci", "buildah", "podman", "ip", "iptables",
    ]) {
        return;
    }
    test_image(None);
    let state = TempDir::new("std-hp");
    suite(
        "tests/rhai/stdlib/heropods_test.rhai",
        &[("HERODO_STATE_DIR", &state.path().display().to_string())],
    );
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&state.path().display().to_string()),
        "mounts left below the state directory"
    );
}

#[test]
fn vm_recipes_on_qemu() {
    if !require(&["qemu-img", "qemu-system-x86_64"]) {
        return;
    }
    let Some(guest) = crate::vm::guest() else {
        return;
    };
    let state = TempDir::new("std-vm");
    suite(
        "tests/rhai/stdlib/vm_test.rhai",
        &[
            ("HERODO_STATE_DIR", &state.path().display().to_string()),
            ("HERODO_VM_GUEST", &guest),
        ],
    );
    let ps = std::process::Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .unwrap();
    let mine = state.path().display().to_string();
    assert!(
        !String::from_utf8_lossy(&ps.stdout)
            .lines()
            .any(|l| l.contains("qemu-system") && l.contains(&mine)),
        "a QEMU of the suite still runs"
    );
}

#[cfg(feature = "kube")]
#[test]
fn kube_recipes_against_the_fake_api_server() {
    if !require(&["python3", "openssl"]) {
        return;
    }
    let fake = crate::kube::FakeKube::start();
    suite(
        "tests/rhai/stdlib/kube_test.rhai",
        &[
            ("KUBECONFIG", &fake.kubeconfig()),
            ("HERODO_KUBE_RUN", &format!("{}", std::process::id())),
        ],
    );
}
