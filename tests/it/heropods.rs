//! heropods on a real OCI runtime: the suite in tests/rhai/heropods run by `herodo test` with a
//! state directory of its own and a docker-registry on 127.0.0.1, then a check that nothing
//! it created is left; and `--dry-run` changing nothing.

use crate::support::{herodo, require, root, start_registry, test_image, TempDir, BIN};

#[test]
fn heropods_suite_on_a_real_runtime() {
    if !require(&[
        "runc",
        "skopeo",
        "umoci",
        "buildah",
        "podman",
        "docker-registry",
        "ip",
        "iptables",
        "iptables-save",
        "iptables-restore",
    ]) {
        return;
    }
    test_image(None);
    let (_registry, addr) = start_registry();
    let state = TempDir::new("hp-state");
    herodo(root(), ["test", "tests/rhai/heropods"])
        .env("HERODO_STATE_DIR", &state.path().display().to_string())
        .env("HERODO_TEST_REGISTRY", &addr)
        .env("HERODO_BIN", BIN)
        .suite(0);

    // Nothing the suite created outlives it: no address lease, no mount, no namespace.
    let leases = std::fs::read_to_string(state.path().join("heropods/networks/herodo0.json"))
        .expect("the suite used the bridge");
    let leases: serde_json::Value = serde_json::from_str(&leases).unwrap();
    assert_eq!(
        leases["leases"],
        serde_json::json!({}),
        "address leases left"
    );
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let state_dir = state.path().display().to_string();
    assert!(
        !mounts.contains(&state_dir),
        "mounts left below {state_dir}"
    );
    assert!(
        !state.path().join("heropods/containers").exists()
            || std::fs::read_dir(state.path().join("heropods/containers"))
                .unwrap()
                .next()
                .is_none(),
        "container directories left"
    );
    // No published port's iptables rule of this state directory is left.
    let prefix = herodo::heropods::ports::state_prefix(state.path());
    let saved = std::process::Command::new("iptables-save")
        .output()
        .unwrap();
    assert!(saved.status.success(), "iptables-save failed");
    let saved = String::from_utf8_lossy(&saved.stdout);
    let left: Vec<&str> = saved
        .lines()
        .filter(|l| l.contains(&format!("--comment \"{prefix}")))
        .collect();
    assert!(left.is_empty(), "iptables rules left: {left:#?}");
}

#[test]
fn dry_run_creates_starts_and_deletes_nothing() {
    if !require(&["runc"]) {
        return;
    }
    let dir = TempDir::new("hp-dry");
    let base = dir.path().join("pods");
    let script = format!(
        r#"let p = heropods_new(#{{base_dir: "{}"}});
let c = p.container_new(#{{name: "dry", image: "localhost/busybox:test", env: #{{TOKEN: "s3cret-value"}}}});
c.start();
c.stop();
c.delete();
print("done");"#,
        base.display()
    );
    let out = herodo(dir.path(), ["--dry-run", "-e", &script])
        .env(
            "HERODO_STATE_DIR",
            &dir.path().join("state").display().to_string(),
        )
        .run()
        .ok()
        .stdout_has("[dry-run] heropods: create container dry")
        .stdout_has("[dry-run] heropods: start container dry")
        .stdout_has("done")
        .stdout_lacks("s3cret-value");
    drop(out);
    assert!(!base.exists(), "dry-run wrote {}", base.display());
    assert!(
        !dir.path().join("state").exists(),
        "dry-run wrote the state dir"
    );
}

#[test]
fn cleanup_leaves_containers_the_test_did_not_create() {
    if !require(&["runc", "skopeo", "umoci", "podman"]) {
        return;
    }
    test_image(None);
    let dir = TempDir::new("hp-keep");
    let base = dir.path().join("pods").display().to_string();
    let state = dir.path().join("state").display().to_string();
    let open = format!(r#"let p = heropods_new(#{{base_dir: "{base}"}});"#);
    herodo(
        dir.path(),
        [
            "-e",
            &format!(
                r#"{open} p.container_new(#{{name: "keep", image: "localhost/busybox:test"}});"#
            ),
        ],
    )
    .env("HERODO_STATE_DIR", &state)
    .run()
    .ok();
    // A test that gets the existing container back, and one that makes its own.
    dir.write(
        "reuse_test.rhai",
        &format!(
            r#"fn test_reuse() {{ {open}
    p.container_new(#{{name: "keep", image: "localhost/busybox:test"}});
    p.container_new(#{{name: "mine", image: "localhost/busybox:test"}});
}}"#
        ),
    );
    herodo(dir.path(), ["test", "reuse_test.rhai"])
        .env("HERODO_STATE_DIR", &state)
        .run()
        .ok()
        .stdout_has("1 passed, 0 failed");
    herodo(
        dir.path(),
        [
            "-e",
            &format!(r#"{open} print(p.list().map(|s| s.name)); p.get("keep").delete();"#),
        ],
    )
    .env("HERODO_STATE_DIR", &state)
    .run()
    .ok()
    .stdout_is("[\"keep\"]\n");
}
