//! Rhai glue for `net`.

use std::sync::Arc;
use std::time::Duration;

use rhai::{Dynamic, Map, INT};

use crate::glue::{map_of, seconds, IntoRhai, RResult, Registrar};
use crate::host::Host;

const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

pub fn register(r: &mut Registrar, host: &Arc<Host>) {
    r.func(
        "tcp_check",
        &["host", "port"],
        r#"True when something accepts TCP connections on host:port (1 s connect timeout).
```rhai
if tcp_check("127.0.0.1", 5000) { print("registry is up"); }
```"#,
        |h: &str, p: INT| -> RResult<bool> {
            super::tcp_check(h, super::port(p).rhai()?, Duration::from_secs(1)).rhai()
        },
    );
    let hst = host.clone();
    r.func(
        "wait_for_port",
        &["host", "port", "timeout"],
        r#"Wait until host:port accepts TCP connections; `timeout` in seconds.
Returns true; throws `timeout` when the port stays closed, `cancelled` on Ctrl-C.
```rhai
wait_for_port("127.0.0.1", 8080, 10);
```"#,
        move |h: &str, p: INT, t: Dynamic| -> RResult<bool> {
            let timeout = seconds(&t, "timeout")?;
            super::wait_for_port(h, super::port(p).rhai()?, timeout, &hst.cancel).rhai()?;
            Ok(true)
        },
    );
    r.func(
        "http_status",
        &["url"],
        r#"The HTTP status code of a plain-HTTP GET (30 s timeout).
Throws `network` when no answer comes (connection refused, timeout).
```rhai
assert_eq(http_status("http://127.0.0.1:5000/v2/"), 200);
```"#,
        |u: &str| -> RResult<INT> { Ok(super::http_get(u, HTTP_TIMEOUT).rhai()?.status as INT) },
    );
    r.func(
        "http_get",
        &["url"],
        r#"A plain-HTTP GET: a map with `status` and `body` (30 s timeout).
```rhai
let r = http_get("http://127.0.0.1:5000/v2/_catalog");
let repos = parse_json(r.body).repositories;
```"#,
        |u: &str| -> RResult<Map> {
            let resp = super::http_get(u, HTTP_TIMEOUT).rhai()?;
            Ok(map_of([
                ("status", Dynamic::from(resp.status as INT)),
                ("body", resp.body.into()),
            ]))
        },
    );
}
