//! A blocking HTTP/1.1 client over a unix socket (Cloud Hypervisor's REST API, and any other
//! local daemon that speaks HTTP on a socket file).
//!
//! Built on ureq 3, which herodo already uses for downloads: a [`Connector`] that opens the
//! socket instead of a TCP connection and a [`Resolver`] that never looks a name up (the URL's
//! host is a placeholder). ureq parses and frames the HTTP; nothing here reads HTTP by hand.
//! Why ureq and not hyper 1 + hyper-util (also in Cargo.lock, through kube): ureq is
//! synchronous (no tokio runtime outside kube/), is not optional (the VM domain builds with
//! `--no-default-features`), and adds no crate to the tree. The cost: the connector API lives
//! in ureq's `unversioned` module, so a ureq upgrade may need this file touched; Cargo.lock
//! pins the version.
//!
//! Every request has one deadline for the whole exchange (connect, send, read). No connection
//! is kept between calls: a daemon that restarts on the same socket path is never talked to
//! over a stale connection, and a fresh unix connection costs microseconds.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, LazyBuffers, NextTimeout, Transport,
};

/// The most of a response body that is read.
const MAX_BODY: u64 = 16 * 1024 * 1024;

/// What went wrong talking to the socket.
#[derive(Debug, thiserror::Error)]
pub enum UnixHttpError {
    /// Nothing listens: the socket file is missing or refuses connections.
    #[error("cannot connect to {socket}: {reason}")]
    Connect { socket: String, reason: String },
    /// No complete answer within the deadline.
    #[error("{method} {path} on {socket}: no answer within {timeout:?}")]
    Timeout {
        socket: String,
        method: String,
        path: String,
        timeout: Duration,
    },
    /// The connection broke or the answer was not HTTP (the server died mid-call).
    #[error("{method} {path} on {socket}: {reason}")]
    Broken {
        socket: String,
        method: String,
        path: String,
        reason: String,
    },
}

/// An answer: status code and the whole body.
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// A client for one socket path.
pub struct UnixHttp {
    socket: PathBuf,
    timeout: Duration,
    agent: ureq::Agent,
}

impl UnixHttp {
    pub fn new(socket: &Path, timeout: Duration) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .max_idle_connections(0)
            .max_idle_connections_per_host(0)
            .user_agent("herodo")
            .build();
        let agent =
            ureq::Agent::with_parts(config, SocketConnector(socket.to_path_buf()), NoResolve);
        UnixHttp {
            socket: socket.to_path_buf(),
            timeout,
            agent,
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Send `method path` (with a JSON body when given) and read the answer.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        json: Option<&str>,
    ) -> Result<Response, UnixHttpError> {
        let url = format!("http://localhost{path}");
        let res = match (method, json) {
            ("GET", _) => self.agent.get(&url).call(),
            ("PUT", Some(b)) => self
                .agent
                .put(&url)
                .header("Content-Type", "application/json")
                .send(b),
            ("PUT", None) => self.agent.put(&url).send_empty(),
            (_, Some(b)) => self
                .agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(b),
            (_, None) => self.agent.post(&url).send_empty(),
        };
        let mut res = res.map_err(|e| self.error(method, path, e))?;
        let status = res.status().as_u16();
        let body = res
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| self.error(method, path, e))?;
        Ok(Response { status, body })
    }

    fn error(&self, method: &str, path: &str, e: ureq::Error) -> UnixHttpError {
        let socket = self.socket.display().to_string();
        let timed_out = match &e {
            ureq::Error::Timeout(_) => true,
            ureq::Error::Io(io) => matches!(
                io.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            ),
            _ => false,
        };
        if timed_out {
            return UnixHttpError::Timeout {
                socket,
                method: method.into(),
                path: path.into(),
                timeout: self.timeout,
            };
        }
        if let ureq::Error::Io(io) = &e {
            if io.kind() == std::io::ErrorKind::Other && io.to_string().starts_with(CONNECT_TAG) {
                return UnixHttpError::Connect {
                    socket,
                    reason: io.to_string()[CONNECT_TAG.len()..].to_string(),
                };
            }
        }
        UnixHttpError::Broken {
            socket,
            method: method.into(),
            path: path.into(),
            reason: e.to_string(),
        }
    }
}

/// Marks a connect failure inside ureq's error, so it can be told apart from a broken call.
const CONNECT_TAG: &str = "connect: ";

/// Opens the socket for every request (the URL's host and port are ignored).
#[derive(Debug)]
struct SocketConnector(PathBuf);

impl<In: Transport> Connector<In> for SocketConnector {
    type Out = SocketTransport;

    fn connect(
        &self,
        details: &ConnectionDetails,
        _chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let stream = UnixStream::connect(&self.0)
            .map_err(|e| ureq::Error::Io(std::io::Error::other(format!("{CONNECT_TAG}{e}"))))?;
        let config = details.config;
        Ok(Some(SocketTransport {
            stream,
            buffers: LazyBuffers::new(config.input_buffer_size(), config.output_buffer_size()),
        }))
    }
}

/// The URL's host is a placeholder: nothing to resolve.
#[derive(Debug)]
struct NoResolve;

impl Resolver for NoResolve {
    fn resolve(
        &self,
        _uri: &ureq::http::Uri,
        _config: &ureq::config::Config,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let mut addrs = self.empty();
        addrs.push(std::net::SocketAddr::from(([127, 0, 0, 1], 80)));
        Ok(addrs)
    }
}

#[derive(Debug)]
struct SocketTransport {
    stream: UnixStream,
    buffers: LazyBuffers,
}

fn io_timeout(e: std::io::Error, timeout: &NextTimeout) -> ureq::Error {
    match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
            ureq::Error::Timeout(timeout.reason)
        }
        _ => ureq::Error::Io(e),
    }
}

impl Transport for SocketTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let timeout = timeout.for_write();
        self.stream
            .set_write_timeout(timeout.not_zero().map(|t| *t))
            .map_err(ureq::Error::Io)?;
        let output = &self.buffers.output()[..amount];
        self.stream
            .write_all(output)
            .map_err(|e| io_timeout(e, &timeout))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let timeout = timeout.for_read();
        self.stream
            .set_read_timeout(timeout.not_zero().map(|t| *t))
            .map_err(ureq::Error::Io)?;
        let input = self.buffers.input_append_buf();
        let n = loop {
            match self.stream.read(input) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => break other.map_err(|e| io_timeout(e, &timeout))?,
            }
        };
        self.buffers.input_appended(n);
        Ok(n > 0)
    }

    fn is_open(&mut self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::os::unix::net::UnixListener;

    fn serve(dir: &Path, answer: &'static [u8], hold: bool) -> PathBuf {
        let sock = dir.join("s.sock");
        let l = UnixListener::bind(&sock).unwrap();
        std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let mut r = std::io::BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            while r.read_line(&mut line).unwrap() > 0 && line != "\r\n" {
                line.clear();
            }
            if hold {
                std::thread::sleep(Duration::from_secs(3));
            }
            let mut s = s;
            let _ = s.write_all(answer);
        });
        sock
    }

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("herodo-uh-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn answers_errors_and_timeouts() {
        let d = tmp("a");
        let sock = serve(
            &d,
            b"HTTP/1.1 404 \r\nServer: Cloud Hypervisor API\r\nConnection: keep-alive\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n[\"Not Found\"]",
            false,
        );
        let c = UnixHttp::new(&sock, Duration::from_secs(2));
        let r = c.request("GET", "/api/v1/nope", None).unwrap();
        assert_eq!(r.status, 404);
        assert_eq!(r.body, b"[\"Not Found\"]");

        let missing = UnixHttp::new(&d.join("none.sock"), Duration::from_secs(1));
        let e = missing.request("GET", "/x", None).unwrap_err();
        assert!(matches!(e, UnixHttpError::Connect { .. }), "{e}");

        let d2 = tmp("b");
        let sock = serve(&d2, b"HTTP/1.1 204 \r\n\r\n", true);
        let slow = UnixHttp::new(&sock, Duration::from_millis(300));
        let t = std::time::Instant::now();
        let e = slow.request("PUT", "/api/v1/vm.boot", None).unwrap_err();
        assert!(matches!(e, UnixHttpError::Timeout { .. }), "{e}");
        assert!(t.elapsed() < Duration::from_secs(2));

        let d3 = tmp("c");
        let sock = serve(&d3, b"garbage\r\n\r\n", false);
        let e = UnixHttp::new(&sock, Duration::from_secs(2))
            .request("GET", "/x", None)
            .unwrap_err();
        assert!(matches!(e, UnixHttpError::Broken { .. }), "{e}");
        for d in [d, d2, d3] {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}
