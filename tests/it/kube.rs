//! Kubernetes against the fake API server of tests/kube/fake_apiserver.py (HTTPS on 127.0.0.1
//! with a CA made by openssl, bearer tokens, the Status bodies recorded from kube-apiserver
//! v1.32), reached through a kubeconfig like a real cluster: the suites in tests/rhai/kube run by
//! `herodo test`, `--dry-run`, and Ctrl-C during a retry or a wait. With HERODO_TEST_KUBECONFIG
//! the suites that need no fake (errors_test.rhai does) also run against that cluster.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{herodo, require, root, TempDir, BIN};

/// A running fake API server; stopped when dropped.
pub struct FakeKube {
    child: Child,
    dir: TempDir,
    /// `https://127.0.0.1:PORT`
    pub url: String,
}

impl FakeKube {
    pub fn start() -> FakeKube {
        let dir = TempDir::new("kube-fake");
        let mut child = Command::new("python3")
            .arg(root().join("tests/kube/fake_apiserver.py"))
            .arg(dir.path())
            .arg(root().join("tests/fixtures/kube/discovery.json"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the fake API server");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the fake API server did not start");
        let port = line
            .trim()
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("fake API server said {line:?}"));
        FakeKube {
            child,
            url: format!("https://127.0.0.1:{port}"),
            dir,
        }
    }

    pub fn kubeconfig(&self) -> String {
        self.dir.path().join("kubeconfig").display().to_string()
    }
}

impl Drop for FakeKube {
    fn drop(&mut self) {
        // Closing its stdin makes the fake stop the containers its node runs, then exit.
        drop(self.child.stdin.take());
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn kube_suites_against_the_fake_api_server() {
    if !require(&["python3", "openssl"]) {
        return;
    }
    let fake = FakeKube::start();
    herodo(root(), ["test", "tests/rhai/kube"])
        .env("KUBECONFIG", &fake.kubeconfig())
        .env("HERODO_KUBE_FAKE", &fake.url)
        .env("HERODO_KUBE_RUN", &format!("{}", std::process::id()))
        .env("HERODO_BIN", BIN)
        .suite(0);
}

#[test]
fn kube_suites_against_a_real_cluster() {
    let Ok(kubeconfig) = std::env::var("HERODO_TEST_KUBECONFIG") else {
        eprintln!("skipping: HERODO_TEST_KUBECONFIG is not set (the fake API server test covers the suites)");
        return;
    };
    herodo(
        root(),
        [
            "test",
            "tests/rhai/kube/manager_test.rhai",
            "tests/rhai/kube/wait_test.rhai",
            "tests/rhai/kube/fluent_test.rhai",
            "tests/rhai/kube/traefik_test.rhai",
            "tests/rhai/kube/pods_test.rhai",
            "tests/rhai/kube/machines_test.rhai",
        ],
    )
    .env("KUBECONFIG", &kubeconfig)
    .env("HERODO_KUBE_RUN", &format!("{}", std::process::id()))
    .env("HERODO_BIN", BIN)
    // Tests that need the fake (dropping watches) skip themselves here.
    .suite(usize::MAX);
}

#[test]
fn dry_run_applies_nothing_and_shows_no_secret() {
    if !require(&["python3", "openssl"]) {
        return;
    }
    let fake = FakeKube::start();
    let dir = TempDir::new("kube-dry");
    let kc = fake.kubeconfig();
    herodo(
        dir.path(),
        [
            "-e",
            r#"kubernetes_manager_new("default").configmap_create("keep-me", #{a: "1"});"#,
        ],
    )
    .env("KUBECONFIG", &kc)
    .run()
    .ok();
    let script = r#"let km = kubernetes_manager_new("default");
km.configmap_create("dry-cm", #{a: "1"});
km.secret_create("dry-secret", #{password: "topsecret-value-9"});
print(km.delete("^keep"));
km.configmap_delete("keep-me");
kube_wait("configmap", "dry-cm", "Ready", 600, #{namespace: "default"});
print("done");"#;
    herodo(dir.path(), ["--dry-run", "-e", script])
        .env("KUBECONFIG", &kc)
        .run()
        .ok()
        .stdout_has("[dry-run] kube: apply ConfigMap default/dry-cm (server-side dry run)")
        .stdout_has("[dry-run] kube: apply Secret default/dry-secret (server-side dry run)")
        .stdout_has("[dry-run] kube: would delete default/configmap/keep-me")
        .stdout_has("[\"configmap/keep-me\"]")
        .stdout_has("[dry-run] kube: delete ConfigMap default/keep-me (server-side dry run)")
        .stdout_has("[dry-run] kube: wait for ConfigMap default/dry-cm to be Ready")
        .stdout_has("done")
        .stdout_lacks("topsecret-value-9");
    // Nothing changed on the server.
    herodo(
        dir.path(),
        [
            "-e",
            r#"let km = kubernetes_manager_new("default");
print(km.configmaps_list().map(|c| c.name));
print(km.secrets_list().map(|c| c.name));"#,
        ],
    )
    .env("KUBECONFIG", &kc)
    .run()
    .ok()
    .stdout_is("[\"keep-me\"]\n[]\n");
}

#[test]
fn secret_values_never_reach_errors() {
    if !require(&["python3", "openssl"]) {
        return;
    }
    let fake = FakeKube::start();
    let dir = TempDir::new("kube-secret");
    // The server rejects the secret's namespace: the error must not show the value, nor may
    // a later throw that includes it.
    let script = r#"let km = kubernetes_manager_new("no-such-namespace");
try { km.secret_create("s", #{token: "hunter2-hunter2"}); } catch (e) { print(e.kind); print(e.message); }
throw "the token is hunter2-hunter2";"#;
    herodo(dir.path(), ["-e", script])
        .env("KUBECONFIG", &fake.kubeconfig())
        .run()
        .code(1)
        .stdout_has("not_found")
        .stdout_has("namespaces \"no-such-namespace\" not found")
        .stderr_has("the token is ***")
        .stderr_lacks("hunter2-hunter2");
}

#[test]
fn ctrl_c_stops_a_retry_loop_or_a_wait_at_once() {
    if !require(&["python3", "openssl"]) {
        return;
    }
    let fake = FakeKube::start();
    // Every list answers 429 with Retry-After: 10, so herodo sits in its backoff; or a wait
    // for a condition nobody will ever write.
    let retry = format!(
        r#"http_get("{}/fake/fault?path=/api/v1/namespaces/default/configmaps&status=429&count=100&retry_after=10", #{{insecure: true}});
kube_list("configmaps", #{{namespace: "default"}});"#,
        fake.url
    );
    let wait = r#"kubernetes_manager_new("default").configmap_create("waited", #{a: "1"});
kube_wait("configmap", "waited", "Ready", 60, #{namespace: "default"});"#
        .to_string();
    for (what, body) in [("retry", retry), ("wait", wait)] {
        let dir = TempDir::new("kube-cancel");
        let ready = dir.path().join("ready");
        let script = format!("file_write(\"{}\", \"x\");\n{body}", ready.display());
        let mut child = Command::new(BIN)
            .args(["-e", &script])
            .current_dir(dir.path())
            .env("KUBECONFIG", fake.kubeconfig())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let until = Instant::now() + Duration::from_secs(20);
        while !ready.exists() {
            assert!(Instant::now() < until, "{what}: the script never got ready");
            std::thread::sleep(Duration::from_millis(20));
        }
        // Let the request be answered and the backoff (or the watch) begin.
        std::thread::sleep(Duration::from_millis(700));
        assert!(child.try_wait().unwrap().is_none(), "{what}: ended early");
        let t0 = Instant::now();
        // SAFETY: signalling our own child.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGINT);
        }
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "{what}: herodo did not stop after Ctrl-C"
            );
            std::thread::sleep(Duration::from_millis(5));
        };
        let took = t0.elapsed();
        assert_eq!(status.code(), Some(130), "{what}");
        assert!(
            took < Duration::from_millis(200),
            "{what}: stopped after {took:?}"
        );
    }
}

#[test]
fn ctrl_c_stops_an_exec_or_a_log_follow_and_ends_forwards() {
    if !require(&["python3", "openssl"]) {
        return;
    }
    let fake = FakeKube::start();
    let setup = r#"kube_apply(#{apiVersion: "v1", kind: "Pod",
    metadata: #{name: "busy", namespace: "default"},
    spec: #{containers: [#{name: "main", image: "busybox", ports: [#{containerPort: 8080}],
        command: ["sh", "-c", "while :; do echo tick; sleep 0.2; done"]}]}});
kube_wait("pod", "busy", "Ready", 30, #{namespace: "default"});
let f = port_forward("busy", 8080, #{namespace: "default"});
file_write("port", `${f.local_port}`);
"#;
    let cases = [
        (
            "exec",
            r#"pod_exec("busy", "sleep 30", #{namespace: "default"});"#,
        ),
        (
            "follow",
            r#"pod_logs_follow("busy", #{namespace: "default"}, |l| true);"#,
        ),
    ];
    for (i, (what, body)) in cases.iter().enumerate() {
        let dir = TempDir::new("kube-cancel-pod");
        let ready = dir.path().join("ready");
        let name = format!("\"busy{i}\"");
        let script = format!(
            "{}\nfile_write(\"{}\", \"x\");\n{}",
            setup.replace("\"busy\"", &name),
            ready.display(),
            body.replace("\"busy\"", &name)
        );
        let mut child = Command::new(BIN)
            .args(["-e", &script])
            .current_dir(dir.path())
            .env("KUBECONFIG", fake.kubeconfig())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let until = Instant::now() + Duration::from_secs(30);
        while !ready.exists() {
            assert!(Instant::now() < until, "{what}: the script never got ready");
            std::thread::sleep(Duration::from_millis(20));
        }
        let port: u16 = std::fs::read_to_string(dir.path().join("port"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The forward answers while the script runs.
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        std::thread::sleep(Duration::from_millis(700));
        assert!(child.try_wait().unwrap().is_none(), "{what}: ended early");
        let t0 = Instant::now();
        // SAFETY: signalling our own child.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGINT);
        }
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "{what}: herodo did not stop after Ctrl-C"
            );
            std::thread::sleep(Duration::from_millis(5));
        };
        let took = t0.elapsed();
        assert_eq!(status.code(), Some(130), "{what}");
        assert!(
            took < Duration::from_millis(300),
            "{what}: stopped after {took:?}"
        );
        // The forward ended with the script.
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "{what}: the forward outlived the script"
        );
    }
}

#[test]
fn the_test_runner_removes_pods_secrets_and_forwards_a_test_left() {
    if !require(&["python3", "openssl"]) {
        return;
    }
    let fake = FakeKube::start();
    let dir = TempDir::new("kube-leftovers");
    std::fs::write(
        dir.path().join("left_test.rhai"),
        r#"fn test_leaves_things_behind() {
    kube_apply(#{apiVersion: "v1", kind: "Pod", metadata: #{name: "left", namespace: "default"},
        spec: #{containers: [#{name: "main", image: "busybox", command: ["sleep", "3600"],
            ports: [#{containerPort: 8080}]}]}});
    kubernetes_manager_new("default").secret_create("left-secret", #{token: "t0ps3cret-v4lue"});
    kube_wait("pod", "left", "Ready", 30, #{namespace: "default"});
    let f = port_forward("left", 8080, #{namespace: "default"});
    file_write("port", `${f.local_port}`);
}
"#,
    )
    .unwrap();
    let out = herodo(dir.path(), ["test", "left_test.rhai"])
        .env("KUBECONFIG", &fake.kubeconfig())
        .run();
    let out = out.ok();
    out.stdout_has("1 passed")
        .stdout_has("pod default/left")
        .stdout_has("secret default/left-secret")
        .stdout_has("port_forward 127.0.0.1:");
    let port: u16 = std::fs::read_to_string(dir.path().join("port"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    herodo(
        dir.path(),
        [
            "-e",
            r#"let km = kubernetes_manager_new("default");
print(km.pods_list().len());
print(km.secrets_list().len());"#,
        ],
    )
    .env("KUBECONFIG", &fake.kubeconfig())
    .run()
    .ok()
    .stdout_is("0\n0\n");
}

#[test]
fn ctrl_c_in_herodo_test_still_removes_what_the_test_created() {
    if !require(&["python3", "openssl"]) {
        return;
    }
    let fake = FakeKube::start();
    let dir = TempDir::new("kube-ctrl-c-cleanup");
    std::fs::write(
        dir.path().join("stuck_test.rhai"),
        r#"fn test_follows_forever() {
    kube_apply(#{apiVersion: "v1", kind: "Pod", metadata: #{name: "stuck", namespace: "default"},
        spec: #{containers: [#{name: "main", image: "busybox",
            command: ["sh", "-c", "while :; do echo tick; sleep 0.2; done"]}]}});
    kube_wait("pod", "stuck", "Ready", 30, #{namespace: "default"});
    file_write("ready", "x");
    pod_logs_follow("stuck", #{namespace: "default"}, |l| true);
}
"#,
    )
    .unwrap();
    let child = Command::new(BIN)
        .args(["test", "stuck_test.rhai"])
        .current_dir(dir.path())
        .env("KUBECONFIG", fake.kubeconfig())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    while !dir.path().join("ready").exists() {
        assert!(Instant::now() < until, "the test never got ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("pod default/stuck"), "{stdout}");
    herodo(
        dir.path(),
        [
            "-e",
            r#"print(kubernetes_manager_new("default").pods_list().len());"#,
        ],
    )
    .env("KUBECONFIG", &fake.kubeconfig())
    .run()
    .ok()
    .stdout_is("0\n");
}

#[test]
fn a_bad_namespace_name_is_reported_before_the_kubeconfig() {
    let dir = TempDir::new("kube-bad-name");
    let missing = dir.path().join("missing.yaml").display().to_string();
    let out = herodo(dir.path(), ["-e", r#"kubernetes_manager_new("Bad_Name");"#])
        .env("KUBECONFIG", &missing)
        .run()
        .code(1);
    out.stderr_has("Bad_Name").stderr_lacks("does not exist");
}

#[test]
fn kubernetes_reset_without_a_namespace_spares_the_protected_ones() {
    if !require(&["python3", "openssl"]) {
        return;
    }
    let fake = FakeKube::start();
    let dir = TempDir::new("kube-reset-all");
    let kc = fake.kubeconfig();
    let setup = r#"let k = kubernetes();
k.namespace("team-a").configmap("cm").set("a", "1").apply();
k.namespace("team-b");
kubernetes_manager_new("default").configmap_create("stays", #{a: "1"});
kubernetes_manager_new("kube-public").configmap_create("stays", #{a: "1"});"#;
    herodo(dir.path(), ["-e", setup])
        .env("KUBECONFIG", &kc)
        .run()
        .ok();
    // --dry-run names them and deletes nothing.
    herodo(
        dir.path(),
        ["--dry-run", "-e", "print(kubernetes().reset());"],
    )
    .env("KUBECONFIG", &kc)
    .run()
    .ok()
    .stdout_has("[dry-run] kube: reset every namespace but the protected ones")
    .stdout_has("[\"team-a\", \"team-b\"]");
    let check = r#"let names = kubernetes().ns_list();
names.sort();
print(names);
print(kubernetes_manager_new("team-a").configmaps_list().len());
print(kubernetes_manager_new("default").configmaps_list().map(|c| c.name));
print(kubernetes_manager_new("kube-public").configmaps_list().map(|c| c.name));"#;
    herodo(dir.path(), ["-e", check])
        .env("KUBECONFIG", &kc)
        .run()
        .ok()
        .stdout_has("1\n[\"stays\"]\n[\"stays\"]\n");
    herodo(
        dir.path(),
        ["-e", &format!("print(kubernetes().reset());\n{check}")],
    )
    .env("KUBECONFIG", &kc)
    .run()
    .ok()
    .stdout_is(
        "[\"team-a\", \"team-b\"]\n\
         [\"default\", \"kube-node-lease\", \"kube-public\", \"kube-system\", \"team-a\", \"team-b\"]\n\
         0\n[\"stays\"]\n[\"stays\"]\n",
    );
    // kubernetes(ns).reset() still resets that namespace only.
    herodo(
        dir.path(),
        [
            "-e",
            r#"kubernetes_manager_new("team-b").configmap_create("x", #{a: "1"});
kubernetes_manager_new("team-a").configmap_create("y", #{a: "1"});
print(kubernetes("team-b").reset());
print(kubernetes_manager_new("team-b").configmaps_list().len());
print(kubernetes_manager_new("team-a").configmaps_list().len());"#,
        ],
    )
    .env("KUBECONFIG", &kc)
    .run()
    .ok()
    .stdout_is("[\"team-b\"]\n0\n1\n");
}

/// The original's Kubernetes examples (herolib-virt/examples/rhai/kubernetes) that run against
/// the fake unchanged, each with a line of its output that only a full run prints.
const ORIGINAL_EXAMPLES: &[(&str, &str)] = &[
    (
        "01_namespace_operations.rhai",
        "✅ All namespace operation tests passed",
    ),
    ("1_basic_operations.rhai", "=== Summary ==="),
    (
        "2_basic_deployment.rhai",
        "✅ Kubernetes deployment example completed successfully!",
    ),
    ("4_kube_devel.rhai", "KubeDevMachine"),
    (
        "5_advanced_networking.rhai",
        "✅ Microservices mesh created",
    ),
    (
        "basic_operations.rhai",
        "=== Example completed successfully! ===",
    ),
    ("net_basic_http_route.rhai", "certResolver: letsencrypt"),
    (
        "net_tcp_routes.rhai",
        "=== TCP Route Configuration Complete ===",
    ),
    ("net_tls_options.rhai", "=== TLS Configuration Complete ==="),
    (
        "postgres.rhai",
        "✅ PostgreSQL cluster deployed successfully!",
    ),
    ("redis.rhai", "✅ Redis cluster deployed successfully!"),
    ("redis_cluster.rhai", "To connect from Mac host:"),
];

/// The ones left out, with the reason; README's compatibility section lists each.
pub const ORIGINAL_EXAMPLES_LEFT_OUT: &[(&str, &str)] = &[
    (
        "02_deployment.rhai",
        "syntax error: starts with `.template(` (its head is missing)",
    ),
    (
        "02_pod_management.rhai",
        "reads `.name` from the objects create_pod/get_pod return",
    ),
    (
        "03_registry_and_mqtt.rhai",
        "registry host/port/auth and mqtt()",
    ),
    (
        "1_basic_pod.rhai",
        "ns_delete(\"default_app\"): not a DNS label",
    ),
    ("3_registry_build_and_push.rhai", "the build machine"),
    ("basic_kubebuilder.rhai", "the build machine"),
    ("kube_mcp_install.rhai", "the build machine"),
    (
        "namespace_management.rhai",
        "takes namespaces_list() rows for strings",
    ),
];

#[test]
fn the_original_kubernetes_examples_run_against_the_fake() {
    if !require(&["python3", "openssl", "kubectl"]) {
        return;
    }
    let dir = TempDir::new("kube-orig");
    if !crate::support::unpack_original("herolib-virt", "0.3.13", dir.path()) {
        return;
    }
    let examples = dir
        .path()
        .join("herolib-virt-0.3.13/examples/rhai/kubernetes");
    // Every example is either run or left out with a reason.
    let mut all: Vec<String> = std::fs::read_dir(&examples)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".rhai"))
        .collect();
    all.sort();
    let mut listed: Vec<String> = ORIGINAL_EXAMPLES
        .iter()
        .map(|(f, _)| f.to_string())
        .chain(
            ORIGINAL_EXAMPLES_LEFT_OUT
                .iter()
                .map(|(f, _)| f.to_string()),
        )
        .collect();
    listed.sort();
    assert_eq!(
        all, listed,
        "every example is run or left out with a reason"
    );
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for (file, _) in ORIGINAL_EXAMPLES_LEFT_OUT {
        assert!(
            readme.contains(&format!("herolib-virt/examples/rhai/kubernetes/{file}")),
            "README's compatibility section does not list {file}"
        );
    }
    let fake = FakeKube::start();
    let mut failed = Vec::new();
    for (file, done) in ORIGINAL_EXAMPLES {
        let script = examples.join(file).display().to_string();
        let out = herodo(dir.path(), [script.as_str()])
            .env("KUBECONFIG", &fake.kubeconfig())
            .env(
                "HERODO_STATE_DIR",
                &dir.path().join("state").display().to_string(),
            )
            .run();
        if out.code != 0 || !out.stdout.contains(done) || out.stdout.contains("SKIPPED") {
            failed.push(format!(
                "{file}: exit {}\n{}\n{}",
                out.code, out.stdout, out.stderr
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} original examples failed:\n\n{}",
        failed.len(),
        ORIGINAL_EXAMPLES.len(),
        failed.join("\n\n")
    );
}
