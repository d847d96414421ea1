//! TCP reachability, shared by the network functions and every domain that waits for a port
//! (a container's published port, a VM's SSH).

use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::error::HostError;
use crate::exec::CancelToken;

/// A port number from a script integer: 1-65535.
pub fn port(p: i64) -> Result<u16, HostError> {
    u16::try_from(p)
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| HostError::invalid("port", format!("{p} is not in 1..65535")))
}

fn check_host(host: &str) -> Result<(), HostError> {
    if host.is_empty() {
        return Err(HostError::invalid("host", "is empty"));
    }
    Ok(())
}

/// True when something accepts a TCP connection on `host:port` within `timeout`.
pub fn tcp_check(host: &str, port: u16, timeout: Duration) -> Result<bool, HostError> {
    check_host(host)?;
    let addrs = match (host, port).to_socket_addrs() {
        Ok(a) => a,
        // A name that does not resolve is "not reachable", not a script error.
        Err(_) => return Ok(false),
    };
    Ok(addrs
        .into_iter()
        .any(|a| TcpStream::connect_timeout(&a, timeout).is_ok()))
}

/// Wait until `host:port` accepts connections: kind `timeout` after `timeout`, `cancelled` on
/// Ctrl-C.
pub fn wait_for_port(
    host: &str,
    port: u16,
    timeout: Duration,
    cancel: &CancelToken,
) -> Result<(), HostError> {
    check_host(host)?;
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
            return Err(HostError::Timeout(format!(
                "{host}:{port} did not accept connections within {:.1}s",
                timeout.as_secs_f64()
            )));
        }
        if !cancel.sleep(Duration::from_millis(50).min(timeout.saturating_sub(start.elapsed()))) {
            return Err(HostError::Cancelled);
        }
    }
}
