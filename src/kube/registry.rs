//! The in-cluster registry from outside: `deploy()` waits until it answers `GET /v2/` through a
//! port-forward, and `push_image` copies a local image into it with skopeo over such a forward
//! (skopeo to `127.0.0.1:PORT`, plain HTTP). The argv and names are built by the pure functions
//! at the top (tested as tables); the command runs through src/exec like every other.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use super::error::{KubeError, Result};
use super::Cluster;

/// Transports skopeo knows; a reference without one is taken from containers-storage (where
/// podman and buildah keep local images).
const TRANSPORTS: [&str; 7] = [
    "containers-storage:",
    "oci:",
    "oci-archive:",
    "docker-archive:",
    "docker-daemon:",
    "dir:",
    "docker://",
];

/// The skopeo source of a local image reference.
pub fn source_ref(local: &str) -> String {
    if TRANSPORTS.iter().any(|t| local.starts_with(t)) {
        local.to_string()
    } else {
        format!("containers-storage:{local}")
    }
}

/// The repository and tag an image gets in the registry: its reference without the registry
/// host (`localhost/app:1` -> `app:1`, `ghcr.io/acme/api` -> `acme/api:latest`). None when a
/// transport reference (an OCI directory) names no image: then a name must be given.
pub fn repo_name(local: &str) -> Option<String> {
    let mut r = local;
    if let Some(t) = TRANSPORTS.iter().find(|t| r.starts_with(*t)) {
        if *t != "containers-storage:" && *t != "docker://" && *t != "docker-daemon:" {
            return None;
        }
        r = &r[t.len()..];
    }
    let r = r.split('@').next().unwrap_or(r);
    let mut parts: Vec<&str> = r.split('/').collect();
    if parts.len() > 1 {
        let first = parts[0];
        if first.contains('.') || first.contains(':') || first == "localhost" {
            parts.remove(0);
        }
    }
    let path = parts.join("/");
    if path.is_empty() {
        return None;
    }
    let last = path.rsplit('/').next().unwrap_or(&path);
    Some(if last.contains(':') {
        path
    } else {
        format!("{path}:latest")
    })
}

/// skopeo's argv for a push to the registry behind 127.0.0.1:`port`.
pub fn skopeo_argv(local: &str, port: u16, name: &str) -> Vec<String> {
    vec![
        "skopeo".into(),
        "copy".into(),
        "--dest-tls-verify=false".into(),
        source_ref(local),
        format!("docker://127.0.0.1:{port}/{name}"),
    ]
}

/// The status code of `GET path` on 127.0.0.1:`port` (HTTP/1.0), None when nothing answers.
pub fn http_status(port: u16, path: &str) -> Option<u16> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .ok()?;
    let mut buf = [0u8; 64];
    let mut got = 0;
    while got < 12 {
        match s.read(&mut buf[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    let head = std::str::from_utf8(&buf[..got]).ok()?;
    head.strip_prefix("HTTP/")?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Wait until the registry `name` in `ns` answers `GET /v2/` (200, or 401 behind auth)
/// through a port-forward to its service, within `timeout`.
pub fn wait_answers(cluster: &Cluster, ns: &str, name: &str, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let mut last = String::from("no pod of the registry runs yet");
    while Instant::now() < deadline {
        if cluster.cancel.is_cancelled() {
            return Err(KubeError::Cancelled);
        }
        match cluster.forward_target(ns, &format!("svc/{name}"), super::builders::REGISTRY_PORT) {
            Ok((pod, port)) => {
                let fwd = cluster.port_forward(ns, &pod, port, 0)?;
                let status = http_status(fwd.local_port, "/v2/");
                fwd.close();
                match status {
                    Some(200 | 401) => return Ok(()),
                    Some(code) => last = format!("GET /v2/ answered {code}"),
                    None => last = "GET /v2/ got no answer".into(),
                }
            }
            Err(KubeError::Workload { message, .. }) => last = message,
            Err(e) => return Err(e),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(KubeError::Timeout {
        what: format!("waiting for the registry {ns}/{name} to answer ({last})"),
        secs: timeout.as_secs(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_sources_of_pushed_images() {
        let table = [
            (
                "localhost/app:1",
                "containers-storage:localhost/app:1",
                Some("app:1"),
            ),
            (
                "localhost/busybox:test",
                "containers-storage:localhost/busybox:test",
                Some("busybox:test"),
            ),
            (
                "ghcr.io/acme/api",
                "containers-storage:ghcr.io/acme/api",
                Some("acme/api:latest"),
            ),
            ("app", "containers-storage:app", Some("app:latest")),
            (
                "registry.local:5000/team/app:2",
                "containers-storage:registry.local:5000/team/app:2",
                Some("team/app:2"),
            ),
            ("oci:/tmp/layout:v1", "oci:/tmp/layout:v1", None),
            (
                "docker://quay.io/x/y:3",
                "docker://quay.io/x/y:3",
                Some("x/y:3"),
            ),
        ];
        for (local, src, name) in table {
            assert_eq!(source_ref(local), src, "{local}");
            assert_eq!(repo_name(local).as_deref(), name, "{local}");
        }
        assert_eq!(
            skopeo_argv("localhost/app:1", 41234, "app:1"),
            vec![
                "skopeo",
                "copy",
                "--dest-tls-verify=false",
                "containers-storage:localhost/app:1",
                "docker://127.0.0.1:41234/app:1"
            ]
        );
    }

    #[test]
    fn http_status_of_a_local_listener() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let t = std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            let mut b = [0u8; 256];
            let _ = c.read(&mut b);
            c.write_all(b"HTTP/1.1 401 Unauthorized\r\n\r\n").unwrap();
        });
        assert_eq!(http_status(port, "/v2/"), Some(401));
        t.join().unwrap();
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let p = closed.local_addr().unwrap().port();
        drop(closed);
        assert_eq!(http_status(p, "/v2/"), None);
    }
}
