//! Network checks: TCP reachability and HTTP(S) GET requests.
//!
//! Every function that reaches the network takes the [`Host`]: under `--dry-run` it prints
//! what it would do and answers as if the other side were up (connections succeed, HTTP says
//! 200 with an empty body). URLs are only ever shown with their password as `***`.

pub mod bindings;

use std::io::Write;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::convert::deadline;
use crate::error::{kind, Classify, ErrorInfo, HostError};
use crate::exec::{fmt_duration, CancelToken};
use crate::host::Host;

/// How long an HTTP request may take when the script does not say.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest response body read into a script string.
const MAX_BODY: u64 = 64 * 1024 * 1024;

/// How often a waiting request looks at the cancel flag.
const CANCEL_POLL: Duration = Duration::from_millis(20);

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("{host}:{port} did not accept connections within {secs:.1}s")]
    Timeout { host: String, port: u16, secs: f64 },
    #[error("http request to {url} did not complete within {secs:.1}s")]
    HttpTimeout { url: String, secs: f64 },
    #[error("cancelled")]
    Cancelled,
    #[error("http request to {url} failed: {reason}")]
    Http { url: String, reason: String },
    #[error(transparent)]
    Host(#[from] HostError),
    #[error(transparent)]
    Exec(#[from] crate::exec::ExecError),
}

impl Classify for NetError {
    fn info(&self) -> ErrorInfo {
        let k = match self {
            NetError::Invalid { .. } => kind::INVALID_ARGUMENT,
            NetError::Timeout { .. } | NetError::HttpTimeout { .. } => kind::TIMEOUT,
            NetError::Cancelled => kind::CANCELLED,
            NetError::Http { .. } => kind::NETWORK,
            NetError::Host(e) => return e.info(),
            NetError::Exec(e) => return e.info(),
        };
        ErrorInfo::new(k, self.to_string())
    }
}

pub use crate::common::tcp::{port, tcp_check, wait_for_port};

fn check_host(host: &str) -> Result<(), NetError> {
    if host.is_empty() {
        return Err(NetError::Invalid {
            field: "host",
            reason: "is empty".into(),
        });
    }
    Ok(())
}

/// The script's `tcp_check`: [`tcp_check`], or under `--dry-run` a note and `true` (the
/// service a dry run did not start is taken to be up, as in [`wait_for_port`]).
pub fn probe(h: &Host, host: &str, port: u16, timeout: Duration) -> Result<bool, NetError> {
    check_host(host)?;
    if h.dry_run(|| format!("tcp_check {} {port}", shell_words::quote(host))) {
        return Ok(true);
    }
    Ok(tcp_check(host, port, timeout)?)
}

/// One ICMP echo to `host` with `ping -c 1 -W 5`: true when it answers.
pub fn ping(h: &Host, host: &str) -> Result<bool, NetError> {
    check_host(host)?;
    if host.starts_with('-') {
        return Err(NetError::Invalid {
            field: "host",
            reason: format!("`{host}` starts with `-`"),
        });
    }
    let cmd = crate::exec::Cmd::new("ping")
        .args(["-c", "1", "-W", "5", host])
        .timeout(Duration::from_secs(10))
        .echo(false);
    // Under --dry-run the host prints the command and answers success.
    match h.exec(cmd) {
        Ok(out) => Ok(out.success()),
        Err(e) => Err(NetError::Exec(e)),
    }
}

/// True when nothing listens on 127.0.0.1:`port` (a bind succeeds; the socket is closed at once).
pub fn port_available(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Wait until `url` answers a HEAD with a 2xx status, polling every half second; `Timeout`
/// after `timeout`, `Cancelled` on Ctrl-C. Under `--dry-run`: a note and no wait.
pub fn http_wait(h: &Host, url: &str, timeout: Duration) -> Result<(), NetError> {
    if h.dry_run(|| {
        format!(
            "http_wait {} (timeout {})",
            Url::new(url).shown,
            fmt_duration(timeout)
        )
    }) {
        return Ok(());
    }
    let end = deadline(timeout);
    loop {
        let left = end.saturating_duration_since(Instant::now());
        let opts = HttpOptions {
            timeout: left.clamp(Duration::from_millis(100), Duration::from_secs(5)),
            ..HttpOptions::default()
        };
        match http_request(h, Method::Head, url, &opts) {
            Ok(r) if (200..300).contains(&r.status) => return Ok(()),
            Err(e @ (NetError::Cancelled | NetError::Invalid { .. })) => return Err(e),
            _ => {}
        }
        if Instant::now() >= end {
            return Err(NetError::HttpTimeout {
                url: Url::new(url).shown,
                secs: timeout.as_secs_f64(),
            });
        }
        h.sleep(Duration::from_millis(500).min(end.saturating_duration_since(Instant::now())))?;
    }
}

/// The script's `wait_for_port`: [`wait_for_port`], or under `--dry-run` a note and no wait.
pub fn wait_port(h: &Host, host: &str, port: u16, timeout: Duration) -> Result<(), NetError> {
    check_host(host)?;
    if h.dry_run(|| {
        format!(
            "wait_for_port {} {port} (timeout {})",
            shell_words::quote(host),
            fmt_duration(timeout)
        )
    }) {
        return Ok(());
    }
    Ok(wait_for_port(host, port, timeout, &h.cancel)?)
}

/// A URL as given and as shown: the password of `user:password@` replaced by `***`, or the
/// whole userinfo when it is a lone name (tokens are often passed as `https://TOKEN@host/`).
#[derive(Clone, Debug, PartialEq)]
pub struct Url {
    raw: String,
    shown: String,
    /// (userinfo as given, as shown, the secret part) when the URL has one.
    userinfo: Option<(String, String, String)>,
}

impl Url {
    pub fn new(raw: &str) -> Self {
        let mut url = Url {
            raw: raw.to_string(),
            shown: raw.to_string(),
            userinfo: None,
        };
        let Some(i) = raw.find("://") else {
            return url;
        };
        let after = &raw[i + 3..];
        let auth = &after[..after.find(['/', '?', '#']).unwrap_or(after.len())];
        let Some(at) = auth.rfind('@') else {
            return url;
        };
        let given = &auth[..at];
        let (shown, secret) = match given.split_once(':') {
            Some((user, pass)) => (format!("{user}:***"), pass),
            None => ("***".to_string(), given),
        };
        url.shown = format!("{}{shown}{}", &raw[..i + 3], &raw[i + 3 + at..]);
        url.userinfo = Some((given.to_string(), shown, secret.to_string()));
        url
    }

    /// The URL with its secret part as `***`.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The secret part of the userinfo (a password, or a lone token), when there is one.
    pub fn secret(&self) -> Option<&str> {
        self.userinfo
            .as_ref()
            .map(|(_, _, s)| s.as_str())
            .filter(|s| !s.is_empty())
    }

    /// `text` (an error from the HTTP client) with the URL's secret part as `***`, also where
    /// the text repeats only the userinfo. Done here rather than by the host's secret list,
    /// which leaves short values alone.
    fn scrub(&self, text: &str) -> String {
        match &self.userinfo {
            None => text.to_string(),
            Some((given, shown, _)) => text
                .replace(&self.raw, &self.shown)
                .replace(&format!("{given}@"), &format!("{shown}@")),
        }
    }
}

/// How an HTTP request is made.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// The whole request, connection and body included.
    pub timeout: Duration,
    /// A PEM file of CA certificates trusted instead of the built-in (Mozilla) roots.
    pub ca_file: Option<String>,
    /// Accept any certificate (self-signed test servers). Never for real endpoints.
    pub insecure: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            timeout: HTTP_TIMEOUT,
            ca_file: None,
            insecure: false,
        }
    }
}

/// The answer to an HTTP GET.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub body: String,
}

fn tls_config(opts: &HttpOptions) -> Result<ureq::tls::TlsConfig, NetError> {
    use ureq::tls::{PemItem, RootCerts, TlsConfig};
    let mut b = TlsConfig::builder().disable_verification(opts.insecure);
    if let Some(path) = &opts.ca_file {
        let pem = std::fs::read(path).map_err(|e| HostError::io("read", path, e))?;
        let bad = |reason: String| NetError::Invalid {
            field: "ca_file",
            reason,
        };
        let mut certs = Vec::new();
        for item in ureq::tls::parse_pem(&pem) {
            match item {
                Ok(PemItem::Certificate(c)) => certs.push(c),
                Ok(_) => {}
                Err(e) => return Err(bad(format!("{path}: {e}"))),
            }
        }
        if certs.is_empty() {
            return Err(bad(format!("{path} holds no PEM certificate")));
        }
        b = b.root_certs(RootCerts::new_with_certs(&certs));
    }
    Ok(b.build())
}

fn agent(opts: &HttpOptions) -> Result<ureq::Agent, NetError> {
    Ok(ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(opts.timeout))
        .user_agent(concat!("herodo/", env!("CARGO_PKG_VERSION")))
        .tls_config(tls_config(opts)?)
        .build()
        .into())
}

fn fetch(agent: &ureq::Agent, method: Method, url: &str) -> Result<HttpResponse, ureq::Error> {
    let mut resp = match method {
        Method::Get => agent.get(url).call()?,
        Method::Head => {
            let resp = agent.head(url).call()?;
            return Ok(HttpResponse {
                status: resp.status().as_u16(),
                body: String::new(),
            });
        }
    };
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_string()?;
    Ok(HttpResponse { status, body })
}

fn is_timeout(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Timeout(_) => true,
        ureq::Error::Io(io) => io.kind() == std::io::ErrorKind::TimedOut,
        _ => false,
    }
}

/// The HTTP methods herodo sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    /// Status only, no body (the original herodo's `net_http_check`/`net_http_status`).
    Head,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
        }
    }
}

/// GET `url`: see [`http_request`].
pub fn http_get(h: &Host, url: &str, opts: &HttpOptions) -> Result<HttpResponse, NetError> {
    http_request(h, Method::Get, url, opts)
}

/// `method` on `url` (http or https). Any status is an answer; only failing to get one is an error:
/// `HttpTimeout` after `opts.timeout`, `Cancelled` as soon as Ctrl-C is pressed, `Http` for
/// everything else (refused, TLS, DNS). The request runs on a worker thread so that waiting
/// for it can watch the cancel flag; a cancelled request is left to its own timeout.
pub fn http_request(
    h: &Host,
    method: Method,
    url: &str,
    opts: &HttpOptions,
) -> Result<HttpResponse, NetError> {
    let url = Url::new(url);
    if let Some(s) = url.secret() {
        h.register_secret(s);
    }
    let lower = url.raw.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(NetError::Invalid {
            field: "url",
            reason: format!("`{}` is not an http:// or https:// URL", url.shown),
        });
    }
    if h.dry_run(|| format!("http {} {}", method.name(), url.shown)) {
        return Ok(HttpResponse {
            status: 200,
            body: String::new(),
        });
    }
    let agent = agent(opts)?;
    if h.settings.verbose {
        let _ = writeln!(
            std::io::stderr().lock(),
            "+ http {} {}",
            method.name(),
            url.shown
        );
    }
    let started = Instant::now();
    let res = wait_for_answer(&h.cancel, opts.timeout, {
        let raw = url.raw.clone();
        move || fetch(&agent, method, &raw)
    });
    let res = match res {
        Answer::Done(Ok(r)) => Ok(r),
        Answer::Done(Err(e)) if is_timeout(&e) => Err(NetError::HttpTimeout {
            url: url.shown.clone(),
            secs: opts.timeout.as_secs_f64(),
        }),
        Answer::Done(Err(e)) => Err(NetError::Http {
            url: url.shown.clone(),
            reason: url.scrub(&e.to_string()),
        }),
        Answer::TimedOut => Err(NetError::HttpTimeout {
            url: url.shown.clone(),
            secs: opts.timeout.as_secs_f64(),
        }),
        Answer::Cancelled => Err(NetError::Cancelled),
        Answer::Lost(reason) => Err(NetError::Http {
            url: url.shown.clone(),
            reason,
        }),
    };
    if h.settings.verbose {
        let how = match &res {
            Ok(r) => format!("status {}", r.status),
            Err(e) => e.to_string(),
        };
        let line = format!("  ({how}, {})", fmt_duration(started.elapsed()));
        let _ = writeln!(std::io::stderr().lock(), "{}", h.redact(&line));
    }
    res
}

/// How waiting for a worker ended.
enum Answer<T> {
    Done(T),
    TimedOut,
    Cancelled,
    Lost(String),
}

/// Run `work` on a thread and wait for it, at most `timeout` (plus a second for the work's
/// own timeout to speak first) and no longer than until `cancel` is set.
fn wait_for_answer<T: Send + 'static>(
    cancel: &CancelToken,
    timeout: Duration,
    work: impl FnOnce() -> T + Send + 'static,
) -> Answer<T> {
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("herodo-http".into())
        .spawn(move || {
            let _ = tx.send(work());
        });
    if let Err(e) = spawned {
        return Answer::Lost(format!("cannot start the request thread: {e}"));
    }
    let end = deadline(timeout.saturating_add(Duration::from_secs(1)));
    loop {
        match rx.recv_timeout(CANCEL_POLL) {
            Ok(v) => return Answer::Done(v),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Answer::Lost("the request thread ended without an answer".into())
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if cancel.is_cancelled() {
                    return Answer::Cancelled;
                }
                if Instant::now() >= end {
                    return Answer::TimedOut;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Settings;
    use std::io::Read;
    use std::net::TcpListener;

    fn host() -> Host {
        Host::new(Settings::default())
    }

    fn opts(secs: u64) -> HttpOptions {
        HttpOptions {
            timeout: Duration::from_secs(secs),
            ..HttpOptions::default()
        }
    }

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
        assert!(matches!(err, HostError::Timeout(_)));
    }

    /// Answer one request with `reply`, return what the client sent.
    fn one_shot(reply: &'static [u8]) -> (u16, std::thread::JoinHandle<String>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port();
        let t = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let _ = s.write_all(reply);
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        (p, t)
    }

    #[test]
    fn http_get_reads_status_and_body() {
        let (p, t) = one_shot(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope",
        );
        let r = http_get(&host(), &format!("http://127.0.0.1:{p}/x"), &opts(5)).unwrap();
        assert_eq!(r.status, 404);
        assert_eq!(r.body, "nope");
        assert!(t.join().unwrap().contains("user-agent: herodo/"));
        let e = http_get(&host(), "ftp://x/", &opts(1)).unwrap_err();
        assert!(matches!(e, NetError::Invalid { field: "url", .. }), "{e}");
    }

    #[test]
    fn a_silent_server_times_out_with_kind_timeout() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port();
        let started = Instant::now();
        let e = http_get(
            &host(),
            &format!("http://127.0.0.1:{p}/"),
            &HttpOptions {
                timeout: Duration::from_millis(400),
                ..HttpOptions::default()
            },
        )
        .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(3));
        assert_eq!(e.info().kind, kind::TIMEOUT, "{e}");
        drop(l);
    }

    #[test]
    fn cancel_stops_a_waiting_request_at_once() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port();
        let h = host();
        let cancel = h.cancel.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            cancel.cancel();
        });
        let started = Instant::now();
        let e = http_get(&h, &format!("http://127.0.0.1:{p}/"), &opts(30)).unwrap_err();
        assert!(matches!(e, NetError::Cancelled), "{e}");
        assert!(started.elapsed() < Duration::from_secs(2));
        drop(l);
    }

    #[test]
    fn urls_show_no_password() {
        let cases = [
            (
                "http://u:S3cret@h:1/p?q=a@b",
                "http://u:***@h:1/p?q=a@b",
                Some("S3cret"),
            ),
            ("https://TOKEN123@h/x", "https://***@h/x", Some("TOKEN123")),
            ("http://h/a@b", "http://h/a@b", None),
            ("http://u:p:q@h/", "http://u:***@h/", Some("p:q")),
            ("http://h:80", "http://h:80", None),
            ("not a url", "not a url", None),
        ];
        for (raw, shown, secret) in cases {
            let u = Url::new(raw);
            assert_eq!(u.shown(), shown, "{raw}");
            assert_eq!(u.secret(), secret, "{raw}");
        }
        let u = Url::new("http://u:pw@127.0.0.1:1/");
        assert_eq!(
            u.scrub("connect to http://u:pw@127.0.0.1:1/ failed; userinfo u:pw@"),
            "connect to http://u:***@127.0.0.1:1/ failed; userinfo u:***@"
        );
    }

    #[test]
    fn refused_connections_are_network_errors_without_the_password() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port();
        drop(l);
        let h = host();
        let e = http_get(&h, &format!("http://me:Pa55word@127.0.0.1:{p}/"), &opts(2)).unwrap_err();
        let info = e.info();
        assert_eq!(info.kind, kind::NETWORK);
        assert!(!info.message.contains("Pa55word"), "{}", info.message);
        assert!(info.message.contains("me:***@"), "{}", info.message);
        // Registered: anything else that repeats it is scrubbed too.
        assert_eq!(h.redact("x Pa55word y"), "x *** y");
    }

    #[test]
    fn tls_options_are_checked() {
        let e = tls_config(&HttpOptions {
            ca_file: Some("/no/such/ca.pem".into()),
            ..HttpOptions::default()
        })
        .unwrap_err();
        assert_eq!(e.info().kind, kind::NOT_FOUND, "{e}");
        let e = tls_config(&HttpOptions {
            ca_file: Some("/etc/hostname".into()),
            ..HttpOptions::default()
        })
        .unwrap_err();
        assert!(
            matches!(
                e,
                NetError::Invalid {
                    field: "ca_file",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn ports_are_validated() {
        assert_eq!(port(80).unwrap(), 80);
        assert!(port(0).is_err());
        assert!(port(70000).is_err());
    }
}
