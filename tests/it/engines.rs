//! The container suite (tests/rhai/containers) on real engines: podman, and docker with a dockerd of
//! its own on a private socket; the buildah suite (tests/rhai/buildah) with podman. A docker-registry
//! on 127.0.0.1 serves push/pull and an sshd on 127.0.0.1 (throwaway keys) serves remote
//! builds. Daemons are started here and stopped when the test ends.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{
    free_port, herodo, require, root, start_registry, test_image, wait_until, Daemon, TempDir,
};

/// dockerd on a private unix socket; returns it and the DOCKER_HOST value.
fn start_dockerd() -> (Daemon, String) {
    let dir = TempDir::new("dockerd");
    let sock: PathBuf = dir.path().join("docker.sock");
    let log = std::fs::File::create(dir.path().join("dockerd.log")).unwrap();
    let p = |s: &str| dir.path().join(s).display().to_string();
    let child = Command::new("dockerd")
        .args([
            "--host",
            &format!("unix://{}", sock.display()),
            "--data-root",
            &p("data"),
            "--exec-root",
            &p("exec"),
            "--pidfile",
            &p("docker.pid"),
        ])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start dockerd");
    let host = format!("unix://{}", sock.display());
    let h = host.clone();
    wait_until("dockerd", Duration::from_secs(60), move || {
        Command::new("docker")
            .args(["-H", &h, "version"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    (
        Daemon {
            child,
            _dir: dir,
            name: "dockerd",
        },
        host,
    )
}

/// sshd on 127.0.0.1:<free port> accepting a throwaway key for root; returns it, the port and
/// the private key's path.
fn start_sshd() -> (Daemon, u16, PathBuf) {
    let dir = TempDir::new("sshd");
    let keygen = |name: &str| {
        let st = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(dir.path().join(name))
            .status()
            .expect("run ssh-keygen");
        assert!(st.success(), "ssh-keygen failed");
    };
    keygen("host_key");
    keygen("client_key");
    std::fs::copy(
        dir.path().join("client_key.pub"),
        dir.path().join("authorized_keys"),
    )
    .unwrap();
    // sshd insists on its privilege-separation directory.
    std::fs::create_dir_all("/run/sshd").expect("create /run/sshd");
    let port = free_port();
    let p = |s: &str| dir.path().join(s).display().to_string();
    let log = std::fs::File::create(dir.path().join("sshd.log")).unwrap();
    let child = Command::new("/usr/sbin/sshd")
        .args(["-D", "-e", "-p", &port.to_string(), "-h", &p("host_key")])
        .args([
            "-o",
            "ListenAddress=127.0.0.1",
            "-o",
            &format!("AuthorizedKeysFile={}", p("authorized_keys")),
        ])
        .args([
            "-o",
            "StrictModes=no",
            "-o",
            "UsePAM=no",
            "-o",
            &format!("PidFile={}", p("sshd.pid")),
        ])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start sshd");
    let key = dir.path().join("client_key");
    wait_until("sshd", Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    (
        Daemon {
            child,
            _dir: dir,
            name: "sshd",
        },
        port,
        key,
    )
}

fn run_suite(engine: &str, dirs: &[&str], env: &[(&str, String)]) {
    // Other tests' podman containers and builders would count as left behind.
    let _engines = (engine == "podman").then(crate::support::engine_lock);
    let mut args = vec!["--engine", engine, "test"];
    args.extend_from_slice(dirs);
    herodo(root(), args)
        .env("HERODO_CONTAINER_ENGINE", engine)
        .envs(env)
        .suite(0);

    // Nothing the suites created may outlive them. (Other herodo runs may share the engine:
    // only names the suite makes, `PREFIX-ENGINE-N`, count.)
    let ps = engine_cmd(
        engine,
        env,
        &[
            "ps",
            "-a",
            "--filter",
            "label=io.herodo.owner",
            "--format",
            "{{.Names}}",
        ],
    );
    let marker = format!("-{engine}-");
    let left: Vec<&str> = ps.stdout.lines().filter(|n| n.contains(&marker)).collect();
    assert!(
        left.is_empty(),
        "{engine}: containers left behind: {left:?}"
    );
    if dirs.contains(&"tests/rhai/buildah") {
        let out = Command::new("buildah")
            .args(["containers", "-q"])
            .output()
            .expect("buildah containers");
        let left = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(left.trim(), "", "buildah working containers left behind");
    }
}

/// Run the engine's own CLI (not herodo) with the suite's environment.
fn engine_cmd(engine: &str, env: &[(&str, String)], args: &[&str]) -> EngineOut {
    let mut c = Command::new(engine);
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("run the engine");
    EngineOut {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

struct EngineOut {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Engine commands run when dropped: removes what a test made with the engine's own CLI,
/// also when an assertion failed.
struct EngineCleanup<'a> {
    engine: &'a str,
    env: &'a [(&'a str, String)],
    commands: Vec<Vec<String>>,
}

impl Drop for EngineCleanup<'_> {
    fn drop(&mut self) {
        for c in &self.commands {
            let args: Vec<&str> = c.iter().map(String::as_str).collect();
            let _ = engine_cmd(self.engine, self.env, &args);
        }
    }
}

/// Issue 10.2: a test that builds a container under a name that is taken, and tags an image
/// with a tag that exists, must not get either removed by the runner's cleanup; what it did
/// create (a container with a multi-line health check) goes, with its script.
fn check_no_takeover(engine: &str, env: &[(&str, String)]) {
    let id = format!("{}-{}", std::process::id(), free_port());
    let pre_c = format!("pre-c-{id}");
    let pre_tag = format!("localhost/herodo-pre-tag:{id}");
    let hc_c = format!("hc-c-{id}");
    let _cleanup = EngineCleanup {
        engine,
        env,
        commands: vec![
            vec!["rm".into(), "-f".into(), pre_c.clone()],
            vec!["rm".into(), "-f".into(), hc_c.clone()],
            vec!["rmi".into(), pre_tag.clone()],
        ],
    };
    let made = engine_cmd(
        engine,
        env,
        &[
            "run",
            "-d",
            "--name",
            &pre_c,
            "localhost/busybox:test",
            "sleep",
            "300",
        ],
    );
    assert!(made.ok, "{engine} run: {}", made.stderr);
    let tagged = engine_cmd(engine, env, &["tag", "localhost/busybox:test", &pre_tag]);
    assert!(tagged.ok, "{engine} tag: {}", tagged.stderr);

    let t = TempDir::new("takeover");
    let hc_out = t.path().join("hc-path");
    let mut h = herodo(
        root(),
        [
            "--engine",
            engine,
            "test",
            "tests/fixtures/containers/takeover_case.rhai",
        ],
    )
    .env("PRE_C", &pre_c)
    .env("PRE_TAG", &pre_tag)
    .env("HC_C", &hc_c)
    .env("HC_OUT", &hc_out.display().to_string());
    for (k, v) in env {
        h = h.env(k, v);
    }
    let out = h.run();
    print!("{}", out.stdout);
    eprint!("{}", out.stderr);
    out.ok().stdout_has("1 passed, 0 failed, 0 skipped");

    assert!(
        engine_cmd(engine, env, &["container", "inspect", &pre_c]).ok,
        "{engine}: the runner removed container {pre_c}, which herodo did not create"
    );
    assert!(
        engine_cmd(engine, env, &["image", "inspect", &pre_tag]).ok,
        "{engine}: the runner removed tag {pre_tag}, which existed before the test"
    );
    assert!(
        !engine_cmd(engine, env, &["container", "inspect", &hc_c]).ok,
        "{engine}: container {hc_c} outlived its test"
    );
    let script = std::fs::read_to_string(&hc_out).expect("the test wrote the script path");
    assert!(
        !Path::new(script.trim()).exists(),
        "{engine}: health check script {script} outlived its container"
    );
}

#[test]
fn no_takeover_on_podman() {
    if !require(&["podman"]) {
        return;
    }
    test_image(None);
    check_no_takeover("podman", &[]);
}

/// Issue 10.6: after a `kill -9`, what herodo created stays behind with the dead process's
/// owner tag; `reap_orphans` removes exactly that and keeps what a live process owns.
#[test]
fn reap_orphans_removes_only_what_dead_owners_left() {
    if !require(&["podman"]) {
        return;
    }
    test_image(None);
    let live = herodo::common::owner::owner_tag().to_string();
    let boot = live.split('-').next().unwrap_or_default().to_string();
    let mut child = Command::new("true").spawn().expect("spawn true");
    let dead_pid = child.id();
    child.wait().expect("wait true");
    // A test session's tag (`-test`): its resources are temporary and abandoned once it is
    // gone. An ordinary script's resources (no suffix) are kept even when their owner is gone.
    let dead = format!("{boot}-{dead_pid}-1-test");
    let kept = format!("{boot}-{dead_pid}-1");
    let id = format!("{}-{}", std::process::id(), free_port());
    let (dead_c, live_c) = (format!("reap-dead-{id}"), format!("reap-live-{id}"));
    let kept_c = format!("reap-kept-{id}");
    let (dead_v, dead_n) = (format!("reap-dead-vol-{id}"), format!("reap-dead-net-{id}"));
    let env: &[(&str, String)] = &[];
    let _cleanup = EngineCleanup {
        engine: "podman",
        env,
        commands: vec![
            vec![
                "rm".into(),
                "-f".into(),
                "-t".into(),
                "0".into(),
                dead_c.clone(),
            ],
            vec![
                "rm".into(),
                "-f".into(),
                "-t".into(),
                "0".into(),
                live_c.clone(),
            ],
            vec![
                "rm".into(),
                "-f".into(),
                "-t".into(),
                "0".into(),
                kept_c.clone(),
            ],
            vec!["volume".into(), "rm".into(), "-f".into(), dead_v.clone()],
            vec!["network".into(), "rm".into(), dead_n.clone()],
        ],
    };
    for (name, tag) in [(&dead_c, &dead), (&live_c, &live), (&kept_c, &kept)] {
        let label = format!("io.herodo.owner={tag}");
        let out = engine_cmd(
            "podman",
            env,
            &[
                "run",
                "-d",
                "--name",
                name,
                "--label",
                &label,
                "localhost/busybox:test",
                "sleep",
                "300",
            ],
        );
        assert!(out.ok, "podman run: {}", out.stderr);
    }
    let label = format!("io.herodo.owner={dead}");
    assert!(
        engine_cmd(
            "podman",
            env,
            &["volume", "create", "--label", &label, &dead_v]
        )
        .ok
    );
    assert!(
        engine_cmd(
            "podman",
            env,
            &["network", "create", "--label", &label, &dead_n]
        )
        .ok
    );

    let host = herodo::host::Host::new(herodo::host::Settings {
        container_engine: Some("podman".into()),
        ..herodo::host::Settings::default()
    });
    let cleaned = herodo::containers::reap_orphans(&host);
    let seen: Vec<(&str, &str, Option<&str>)> = cleaned
        .iter()
        .map(|c| (c.kind, c.name.as_str(), c.error.as_deref()))
        .collect();
    for (kind, name) in [
        ("container", &dead_c),
        ("volume", &dead_v),
        ("network", &dead_n),
    ] {
        let want = format!("podman/{name}");
        assert!(
            seen.iter()
                .any(|(k, n, e)| *k == kind && *n == want && e.is_none()),
            "{kind} {name} not reaped: {seen:?}"
        );
    }
    assert!(
        !seen.iter().any(|(_, n, _)| n.contains(&live_c)),
        "a live owner's container was reaped: {seen:?}"
    );
    assert!(!engine_cmd("podman", env, &["container", "inspect", &dead_c]).ok);
    assert!(!engine_cmd("podman", env, &["volume", "inspect", &dead_v]).ok);
    assert!(!engine_cmd("podman", env, &["network", "inspect", &dead_n]).ok);
    assert!(engine_cmd("podman", env, &["container", "inspect", &live_c]).ok);
    assert!(
        engine_cmd("podman", env, &["container", "inspect", &kept_c]).ok,
        "an ordinary script's container was reaped"
    );
}

/// Issues 10.8 and 10.9: env values never show in a Container's debug forms, and a value is a
/// secret from the moment `with_env` receives it (an error raised before any command ran shows
/// the source line scrubbed).
#[test]
fn container_env_values_are_secrets_from_the_start() {
    let t = TempDir::new("canary");
    let script = t.write(
        "canary.rhai",
        r#"let c = nerdctl_container_from_image("x", "localhost/busybox:test").with_env("TOKEN", "S3CR3T-CANARY-9f8e7d");
print([c]);
print(#{c: c});
debug(c);
print(c.to_debug());
c.with_envs(#{OTHER: "S3CR3T-CANARY-2-abcdef"}).with_port("70000").build();
"#,
    );
    herodo(
        t.path(),
        [
            "--dry-run",
            "--engine",
            "nerdctl",
            script.to_str().unwrap_or_default(),
        ],
    )
    .run()
    .code(1)
    .stdout_has("\"TOKEN\": \"***\"")
    .stdout_lacks("S3CR3T-CANARY")
    .stderr_has("error[invalid_argument]")
    .stderr_lacks("S3CR3T-CANARY");
}

/// The container suite on podman, and the buildah suite (buildah shares podman's storage, so
/// built images run at once), with a registry and an sshd for remote builds.
#[test]
fn containers_and_buildah_on_podman() {
    if !require(&[
        "podman",
        "buildah",
        "docker-registry",
        "sshd",
        "ssh",
        "ssh-keygen",
    ]) {
        return;
    }
    test_image(None);
    let (_registry, addr) = start_registry();
    let (_sshd, port, key) = start_sshd();
    run_suite(
        "podman",
        &["tests/rhai/containers", "tests/rhai/buildah"],
        &[
            ("HERODO_TEST_REGISTRY", addr),
            ("HERODO_TEST_SSH_PORT", port.to_string()),
            ("HERODO_TEST_SSH_KEY", key.display().to_string()),
        ],
    );
}

#[test]
fn containers_on_docker() {
    if !require(&["dockerd", "docker", "podman", "buildah", "docker-registry"]) {
        return;
    }
    let (_dockerd, host) = start_dockerd();
    test_image(Some(&host));
    let (_registry, addr) = start_registry();
    let env = [("HERODO_TEST_REGISTRY", addr), ("DOCKER_HOST", host)];
    run_suite("docker", &["tests/rhai/containers"], &env);
    check_no_takeover("docker", &env);
}
