//! Rhai glue for `net`.

use std::sync::Arc;
use std::time::Duration;

use rhai::{Dynamic, Map, INT};

use super::{HttpOptions, Method};
use crate::glue::{map_of, seconds, IntoRhai, Opts, RResult, Registrar};
use crate::host::Host;

/// The connect timeout of `tcp_check`.
const TCP_CHECK_TIMEOUT: Duration = Duration::from_secs(1);

fn http_options(o: &Map) -> RResult<HttpOptions> {
    let opts = Opts::new("http", o, &["timeout", "ca_file", "insecure"])?;
    let mut out = HttpOptions::default();
    if let Some(t) = opts.seconds("timeout")? {
        out.timeout = t;
    }
    out.ca_file = opts.string("ca_file")?;
    out.insecure = opts.bool("insecure")?.unwrap_or(false);
    Ok(out)
}

fn response_map(resp: super::HttpResponse) -> Map {
    map_of([
        ("status", Dynamic::from(resp.status as INT)),
        ("body", resp.body.into()),
    ])
}

pub fn register(r: &mut Registrar, host: &Arc<Host>) {
    let h = host.clone();
    r.func(
        "tcp_check",
        &["host", "port"],
        r#"True when something accepts TCP connections on host:port (1 s connect timeout).
Under `--dry-run`: true, and no connection is made.
```rhai
if tcp_check("127.0.0.1", 5000) { print("registry is up"); }
```"#,
        move |hst: &str, p: INT| -> RResult<bool> {
            super::probe(&h, hst, super::port(p).rhai()?, TCP_CHECK_TIMEOUT).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "wait_for_port",
        &["host", "port", "timeout"],
        r#"Wait until host:port accepts TCP connections; `timeout` in seconds.
Returns true; throws `timeout` when the port stays closed, `cancelled` on Ctrl-C,
`invalid_argument` for a timeout that is negative or over ten years.
Under `--dry-run`: true at once, and no connection is made.
```rhai
wait_for_port("127.0.0.1", 8080, 10);
```"#,
        move |hst: &str, p: INT, t: Dynamic| -> RResult<bool> {
            let timeout = seconds(&t, "timeout")?;
            super::wait_port(&h, hst, super::port(p).rhai()?, timeout).rhai()?;
            Ok(true)
        },
    );
    let h = host.clone();
    r.func(
        "http_status",
        &["url"],
        r#"The HTTP status code of a GET on an http:// or https:// URL (30 s timeout).
Throws `network` when no answer comes (refused, TLS or DNS failure), `timeout` after 30 s,
`cancelled` on Ctrl-C. Under `--dry-run`: 200, and no request is made.
```rhai
assert_eq(http_status("http://127.0.0.1:5000/v2/"), 200);
```"#,
        move |u: &str| -> RResult<INT> {
            Ok(super::http_get(&h, u, &HttpOptions::default())
                .rhai()?
                .status as INT)
        },
    );
    let h = host.clone();
    r.func(
        "http_status",
        &["url", "options"],
        r#"`http_status` with options `timeout`, `ca_file` and `insecure`.
`timeout`: seconds (default 30); `ca_file`: a PEM file of CA certificates trusted instead of
the built-in roots; `insecure: true` accepts any certificate (test servers only).
```rhai
let code = http_status("https://127.0.0.1:8443/health", #{ca_file: "/etc/myca.pem", timeout: 5});
```"#,
        move |u: &str, o: Map| -> RResult<INT> {
            Ok(super::http_get(&h, u, &http_options(&o)?).rhai()?.status as INT)
        },
    );
    let h = host.clone();
    r.func(
        "http_get",
        &["url"],
        r#"A GET on an http:// or https:// URL: a map with `status` and `body` (30 s timeout).
Any status is an answer; throws `network` when none comes, `timeout`, `cancelled` on Ctrl-C.
A password in the URL is shown as `***` everywhere. Under `--dry-run`:
`#{status: 200, body: ""}`, and no request is made.
```rhai
let r = http_get("http://127.0.0.1:5000/v2/_catalog");
let repos = parse_json(r.body).repositories;
```"#,
        move |u: &str| -> RResult<Map> {
            Ok(response_map(
                super::http_get(&h, u, &HttpOptions::default()).rhai()?,
            ))
        },
    );
    let h = host.clone();
    r.func(
        "http_get",
        &["url", "options"],
        r#"`http_get` with options `timeout`, `ca_file` and `insecure`.
`timeout`: seconds (default 30); `ca_file`: a PEM file of CA certificates trusted instead of
the built-in roots; `insecure: true` accepts any certificate (test servers only).
An unknown key is `invalid_argument`.
```rhai
let r = http_get("https://127.0.0.1:8443/", #{insecure: true, timeout: 5});
```"#,
        move |u: &str, o: Map| -> RResult<Map> {
            Ok(response_map(
                super::http_get(&h, u, &http_options(&o)?).rhai()?,
            ))
        },
    );
    register_original(r, host);
}

/// The original herodo's net functions that behave differently from herodo's own: they answer
/// false or -1 instead of throwing, and check with HEAD.
fn register_original(r: &mut Registrar, host: &Arc<Host>) {
    let h = host.clone();
    r.func(
        "net_http_check",
        &["url"],
        r#"True when a HEAD on `url` answers 2xx (10 s timeout); false for any other status and
for no answer at all (the original herodo's; `http_status` throws instead).
Throws `invalid_argument` for a URL that is not http:// or https://.
```rhai
if net_http_check("http://127.0.0.1:5000/v2/") { print("registry up"); }
```"#,
        move |u: &str| -> RResult<bool> {
            Ok(matches!(head(&h, u)?, Some(s) if (200..300).contains(&s)))
        },
    );
    let h = host.clone();
    r.func(
        "net_http_status",
        &["url"],
        r#"The status of a HEAD on `url` (10 s timeout), or -1 when no answer comes (the original
herodo's; `http_status` does a GET and throws instead).
```rhai
let code = net_http_status("http://127.0.0.1:5000/v2/");
```"#,
        move |u: &str| -> RResult<INT> { Ok(head(&h, u)?.map_or(-1, INT::from)) },
    );
    let h = host.clone();
    r.func(
        "http_ping",
        &["url"],
        r#"True when `url` answers 2xx (HEAD, 10 s timeout), false otherwise (same as
`net_http_check`).
```rhai
print(http_ping("http://127.0.0.1:5000/v2/"));
```"#,
        move |u: &str| -> RResult<bool> {
            Ok(matches!(head(&h, u)?, Some(s) if (200..300).contains(&s)))
        },
    );
    let h = host.clone();
    r.func(
        "http_wait",
        &["url", "timeout"],
        r#"Wait until `url` answers 2xx (HEAD every half second); `timeout` in seconds.
Throws `timeout` when it does not, `cancelled` on Ctrl-C.
```rhai
http_wait("http://127.0.0.1:8080/health", 30);
```"#,
        move |u: &str, t: Dynamic| -> RResult<()> {
            let timeout = seconds(&t, "timeout")?;
            super::http_wait(&h, u, timeout).rhai()
        },
    );
    r.func(
        "port_check_available",
        &["port"],
        r#"True when nothing listens on 127.0.0.1:`port` (herodo can bind it).
Throws `invalid_argument` for a port outside 1..65535.
```rhai
if port_check_available(8080) { print("8080 is free"); }
```"#,
        |p: INT| -> RResult<bool> { Ok(super::port_available(super::port(p).rhai()?)) },
    );
    let h = host.clone();
    r.func(
        "net_tcp_ping",
        &["host"],
        r#"True when `host` answers one ICMP echo (`ping -c 1 -W 5`); false when it does not or
the name does not resolve. Throws `command_not_found` when `ping` is not installed.
```rhai
print(net_tcp_ping("127.0.0.1"));
```"#,
        move |hst: &str| -> RResult<bool> { super::ping(&h, hst).rhai() },
    );
    let h = host.clone();
    r.func(
        "net_ssh_ping",
        &["host", "user"],
        r#"True when something accepts TCP connections on port 22 of `host` (the original
herodo's check; `user` is not used, no login is tried).
```rhai
print(net_ssh_ping("127.0.0.1", "root"));
```"#,
        move |hst: &str, _user: &str| -> RResult<bool> {
            super::probe(&h, hst, 22, TCP_CHECK_TIMEOUT).rhai()
        },
    );
}

/// The status of a HEAD on `url`, or None when no answer came (an invalid URL or Ctrl-C
/// still throws).
fn head(h: &Host, url: &str) -> RResult<Option<u16>> {
    let opts = HttpOptions {
        timeout: Duration::from_secs(10),
        ..HttpOptions::default()
    };
    match super::http_request(h, Method::Head, url, &opts) {
        Ok(r) => Ok(Some(r.status)),
        Err(e @ (super::NetError::Invalid { .. } | super::NetError::Cancelled)) => Err(e).rhai(),
        Err(_) => Ok(None),
    }
}
