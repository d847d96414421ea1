//! The container suite (tests/engines) on real engines: podman, and docker with a dockerd of
//! its own on a private socket; the buildah suite (tests/buildah) with podman. A docker-registry
//! on 127.0.0.1 serves push/pull and an sshd on 127.0.0.1 (throwaway keys) serves remote
//! builds. Daemons are started here and stopped when the test ends.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{herodo, tools_required, TempDir};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Skip (printing why) or, under HERODO_REQUIRE_TOOLS=1, fail.
fn require(tools: &[&str]) -> bool {
    let missing: Vec<&&str> = tools.iter().filter(|t| !have(t)).collect();
    if missing.is_empty() {
        return true;
    }
    if tools_required() {
        panic!("required tools missing: {missing:?} (run scripts/setup.sh)");
    }
    eprintln!("skipping: {missing:?} not installed (run scripts/setup.sh)");
    false
}

/// A background daemon, stopped (TERM, then KILL) when dropped.
struct Daemon {
    child: Child,
    _dir: TempDir,
    name: &'static str,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("{} did not stop on SIGTERM; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let until = Instant::now() + timeout;
    while Instant::now() < until {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not come up within {timeout:?}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// docker-registry on 127.0.0.1:<free port>; returns it and its address.
fn start_registry() -> (Daemon, String) {
    let dir = TempDir::new("registry");
    let port = free_port();
    let conf = dir.write(
        "config.yml",
        &format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}/data\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().display()
        ),
    );
    let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
    let child = Command::new("docker-registry")
        .args(["serve", &conf.display().to_string()])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start docker-registry");
    let addr = format!("127.0.0.1:{port}");
    wait_until("docker-registry", Duration::from_secs(20), || {
        std::net::TcpStream::connect(&addr).is_ok()
    });
    (
        Daemon {
            child,
            _dir: dir,
            name: "docker-registry",
        },
        addr,
    )
}

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

/// Make sure the offline test image exists (in podman's store, and in dockerd's when given).
fn test_image(docker_host: Option<&str>) {
    let mut cmd = Command::new(root().join("scripts/test-image.sh"));
    if let Some(h) = docker_host {
        cmd.env("DOCKER_HOST", h);
    }
    let out = cmd.output().expect("run scripts/test-image.sh");
    assert!(
        out.status.success(),
        "test-image.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run_suite(engine: &str, dirs: &[&str], env: &[(&str, String)]) {
    // Other tests' podman containers and builders would count as left behind.
    let _engines = (engine == "podman").then(crate::support::engine_lock);
    let mut args = vec!["--engine", engine, "test"];
    args.extend_from_slice(dirs);
    let mut h = herodo(root(), args).env("HERODO_CONTAINER_ENGINE", engine);
    for (k, v) in env {
        h = h.env(k, v);
    }
    let out = h.run();
    print!("{}", out.stdout);
    eprint!("{}", out.stderr);
    let out = out.ok();
    let last = out.stdout.lines().last().unwrap_or_default().to_string();
    assert!(
        last.ends_with(" passed, 0 failed, 0 skipped"),
        "{engine}: {last}"
    );

    // Nothing the suites created may outlive them.
    let mut ps = Command::new(engine);
    ps.args(["ps", "-a", "-q", "--filter", "label=herodo.owner=herodo"]);
    for (k, v) in env {
        ps.env(k, v);
    }
    let left = String::from_utf8_lossy(&ps.output().expect("list containers").stdout).into_owned();
    assert_eq!(left.trim(), "", "{engine}: containers left behind");
    if dirs.contains(&"tests/buildah") {
        let out = Command::new("buildah")
            .args(["containers", "-q"])
            .output()
            .expect("buildah containers");
        let left = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(left.trim(), "", "buildah working containers left behind");
    }
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
        &["tests/engines", "tests/buildah"],
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
    run_suite(
        "docker",
        &["tests/engines"],
        &[("HERODO_TEST_REGISTRY", addr), ("DOCKER_HOST", host)],
    );
}
