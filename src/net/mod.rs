//! Network checks: TCP reachability and plain HTTP requests.

pub mod bindings;

use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::error::{kind, Classify, ErrorInfo};
use crate::exec::CancelToken;

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("{host}:{port} did not accept connections within {secs:.1}s")]
    Timeout { host: String, port: u16, secs: f64 },
    #[error("cancelled")]
    Cancelled,
    #[error("http request to {url} failed: {reason}")]
    Http { url: String, reason: String },
}

impl Classify for NetError {
    fn info(&self) -> ErrorInfo {
        let k = match self {
            NetError::Invalid { .. } => kind::INVALID_ARGUMENT,
            NetError::Timeout { .. } => kind::TIMEOUT,
            NetError::Cancelled => kind::CANCELLED,
            NetError::Http { .. } => kind::NETWORK,
        };
        ErrorInfo::new(k, self.to_string())
    }
}

/// A port number from a script integer.
pub fn port(p: i64) -> Result<u16, NetError> {
    u16::try_from(p)
        .ok()
        .filter(|p| *p != 0)
        .ok_or(NetError::Invalid {
            field: "port",
            reason: format!("{p} is not in 1..65535"),
        })
}

/// True when something accepts a TCP connection on `host:port` within `timeout`.
pub fn tcp_check(host: &str, port: u16, timeout: Duration) -> Result<bool, NetError> {
    if host.is_empty() {
        return Err(NetError::Invalid {
            field: "host",
            reason: "is empty".into(),
        });
    }
    let addrs = match (host, port).to_socket_addrs() {
        Ok(a) => a,
        // A name that does not resolve is "not reachable", not a script error.
        Err(_) => return Ok(false),
    };
    Ok(addrs
        .into_iter()
        .any(|a| TcpStream::connect_timeout(&a, timeout).is_ok()))
}

/// Wait until `host:port` accepts connections; `Timeout` after `timeout`.
pub fn wait_for_port(
    host: &str,
    port: u16,
    timeout: Duration,
    cancel: &CancelToken,
) -> Result<(), NetError> {
    let start = Instant::now();
    loop {
        let left = timeout.saturating_sub(start.elapsed());
        if tcp_check(
            host,
            port,
            left.clamp(Duration::from_millis(10), Duration::from_millis(500)),
        )? {
            return Ok(());
        }
        if start.elapsed() >= timeout {
            return Err(NetError::Timeout {
                host: host.into(),
                port,
                secs: timeout.as_secs_f64(),
            });
        }
        if !cancel.sleep(Duration::from_millis(50).min(timeout.saturating_sub(start.elapsed()))) {
            return Err(NetError::Cancelled);
        }
    }
}

/// The answer to a plain HTTP GET.
pub struct HttpResponse {
    pub status: u16,
    pub body: String,
}

/// GET `url` over plain HTTP. Any status is an answer; only failing to get one is an error.
pub fn http_get(url: &str, timeout: Duration) -> Result<HttpResponse, NetError> {
    if !url.starts_with("http://") {
        return Err(NetError::Invalid {
            field: "url",
            reason: format!("`{url}` is not a plain http:// URL (https is not supported)"),
        });
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .into();
    let fail = |e: ureq::Error| NetError::Http {
        url: url.to_string(),
        reason: e.to_string(),
    };
    let mut resp = agent.get(url).call().map_err(fail)?;
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_string()
        .map_err(fail)?;
    Ok(HttpResponse { status, body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    #[test]
    fn tcp_check_sees_a_listener() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port();
        assert!(tcp_check("127.0.0.1", p, Duration::from_secs(1)).unwrap());
        drop(l);
        assert!(!tcp_check("127.0.0.1", p, Duration::from_millis(200)).unwrap());
        assert!(!tcp_check("no-such-host.invalid", 80, Duration::from_millis(200)).unwrap());
    }

    #[test]
    fn wait_for_port_times_out() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port();
        drop(l);
        let err = wait_for_port(
            "127.0.0.1",
            p,
            Duration::from_millis(200),
            &CancelToken::new(),
        )
        .unwrap_err();
        assert!(matches!(err, NetError::Timeout { .. }));
    }

    #[test]
    fn http_get_reads_status_and_body() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope",
            );
        });
        let r = http_get(&format!("http://127.0.0.1:{p}/x"), Duration::from_secs(5)).unwrap();
        assert_eq!(r.status, 404);
        assert_eq!(r.body, "nope");
        assert!(http_get("https://x", Duration::from_secs(1)).is_err());
    }

    #[test]
    fn ports_are_validated() {
        assert_eq!(port(80).unwrap(), 80);
        assert!(port(0).is_err());
        assert!(port(70000).is_err());
    }
}
