//! The runnable examples in scripts/examples/, each run as a user would (`herodo FILE ARGS`)
//! with what it needs started here, then a check that it left nothing behind.

use std::process::Command;
#[cfg(feature = "kube")]
use std::process::Stdio;

#[cfg(feature = "kube")]
use crate::support::BIN;
use crate::support::{free_port, herodo, require, root, start_registry, test_image, TempDir};

/// Run an example; it succeeds and says it is done.
fn example(file: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut all = vec![format!("scripts/examples/{file}")];
    all.extend(args.iter().map(|a| a.to_string()));
    let mut h = herodo(root(), &all).env("HERODO_CONTAINER_ENGINE", "podman");
    for (k, v) in env {
        h = h.env(k, v);
    }
    let out = h.run();
    print!("{}", out.stdout);
    eprint!("{}", out.stderr);
    let out = out.ok();
    let name = file.trim_end_matches(".rhai");
    assert!(
        out.stdout.contains(&format!("{name}: done")),
        "{file} did not finish"
    );
    out.stdout
}

fn podman_lines(args: &[&str]) -> Vec<String> {
    let out = Command::new("podman").args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn no_podman_leftovers(prefix: &str) {
    let left: Vec<String> = podman_lines(&["ps", "-a", "--format", "{{.Names}}"])
        .into_iter()
        .chain(podman_lines(&["network", "ls", "--format", "{{.Name}}"]))
        .chain(podman_lines(&["images", "--format", "{{.Repository}}"]))
        .filter(|n| n.contains(prefix))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Every example is run by a test here, and every one starts with a shebang.
#[test]
fn every_example_is_run_and_executable() {
    let this = std::fs::read_to_string(root().join("tests/it/examples.rs")).unwrap();
    for e in std::fs::read_dir(root().join("scripts/examples"))
        .unwrap()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(e.path()).unwrap();
        assert!(
            text.starts_with("#!/usr/bin/env herodo\n"),
            "{name}: no shebang"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = e.metadata().unwrap().permissions().mode();
        assert!(mode & 0o111 != 0, "{name} is not executable");
        assert!(
            this.contains(&format!("\"{name}\"")),
            "{name} is run by no test"
        );
    }
    herodo(root(), ["check", "scripts/examples"]).run().ok();
}

#[test]
fn web_app_example() {
    if !require(&["podman", "buildah"]) {
        return;
    }
    let _engines = crate::support::engine_lock();
    test_image(None);
    let out = example("web_app.rhai", &[&free_port().to_string()], &[]);
    assert!(
        out.contains("Command output: Hello from container"),
        "{out}"
    );
    no_podman_leftovers("herodo-ex-");
}

#[test]
fn network_app_example() {
    if !require(&["podman", "buildah"]) {
        return;
    }
    let _engines = crate::support::engine_lock();
    test_image(None);
    let out = example("network_app.rhai", &[], &[]);
    assert!(out.contains("app -> database: rows: 3"), "{out}");
    no_podman_leftovers("herodo-ex-");
}

#[test]
fn image_push_example() {
    if !require(&["podman", "buildah", "docker-registry"]) {
        return;
    }
    let _engines = crate::support::engine_lock();
    test_image(None);
    let (_registry, addr) = start_registry();
    example("image_push.rhai", &[&addr], &[]);
    no_podman_leftovers("herodo-example-web");
}

#[test]
fn heropods_app_example() {
    if !require(&[
        "podman",
        "buildah",
        "docker-registry",
        "runc",
        "skopeo",
        "umoci",
        "iptables",
    ]) {
        return;
    }
    let _engines = crate::support::engine_lock();
    test_image(None);
    let (_registry, addr) = start_registry();
    let state = TempDir::new("ex-hp");
    let out = example(
        "heropods_app.rhai",
        &[&addr, &free_port().to_string()],
        &[("HERODO_STATE_DIR", &state.path().display().to_string())],
    );
    assert!(out.contains("-> 200: served by heropods"), "{out}");
    no_podman_leftovers("herodo-example-pod");
    let left = std::fs::read_dir(state.path().join("heropods/containers"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(left, 0, "heropods containers left");
}

#[test]
fn vm_lifecycle_example() {
    if !require(&["qemu-img", "qemu-system-x86_64"]) {
        return;
    }
    let Some(guest) = crate::vm::guest() else {
        return;
    };
    let state = TempDir::new("ex-vm");
    let out = example(
        "vm_lifecycle.rhai",
        &[&guest],
        &[("HERODO_STATE_DIR", &state.path().display().to_string())],
    );
    assert!(out.contains("console said HERODO_GUEST_READY"), "{out}");
    assert!(out.contains("overlay left: false"), "{out}");
    let vms = std::fs::read_dir(state.path().join("vms"))
        .map(|d| d.flatten().filter(|e| e.file_name() != ".locks").count())
        .unwrap_or(0);
    assert_eq!(vms, 0, "VM records left");
}

/// The fake API server runs no controller: this agent plays the deployment controller once the
/// example has applied its Deployment.
#[cfg(feature = "kube")]
const ROLLOUT_AGENT: &str = r#"
let ns = ARGS[0];
for i in 0..300 {
    try {
        let d = kube_get("deployment", "web", #{namespace: ns});
        kube_patch_status("deployment", "web", #{observedGeneration: d.metadata.generation,
            replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2}, #{namespace: ns});
        break;
    } catch {
        sleep("100ms");
    }
}
"#;

#[cfg(feature = "kube")]
#[test]
fn kube_app_example() {
    if !require(&["python3", "openssl"]) {
        return;
    }
    let fake = crate::kube::FakeKube::start();
    let t = TempDir::new("ex-kube");
    let agent = t.write("agent.rhai", ROLLOUT_AGENT);
    let ns = format!("hkex-{}", std::process::id());
    let mut child = Command::new(BIN)
        .arg(&agent)
        .arg(&ns)
        .env("KUBECONFIG", fake.kubeconfig())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = example(
        "kube_app.rhai",
        &[&ns, "30"],
        &[("KUBECONFIG", &fake.kubeconfig())],
    );
    let _ = child.kill();
    let _ = child.wait();
    assert!(out.contains("rolled out: 2/2 available"), "{out}");
    assert!(
        out.contains("deleted: [\"configmap/web-config\", \"deployment/web\", \"service/web\"]"),
        "{out}"
    );
    herodo(
        root(),
        [
            "-e",
            &format!(
                "assert_false(kubernetes_manager_new(\"default\").namespace_exists(\"{ns}\"));"
            ),
        ],
    )
    .env("KUBECONFIG", &fake.kubeconfig())
    .run()
    .ok();
}
