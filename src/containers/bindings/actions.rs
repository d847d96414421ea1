//! What a built `Container` does: build/run/start/stop/remove, exec, copy, export, commit, logs,
//! status, health and waits. Each is one operation in `ops` on the engine in use.

use std::sync::Arc;

use rhai::{Dynamic, Map, INT};

use super::{exec_what, on_engine, to_rhai};
use crate::common::convert;
use crate::containers::ops;
use crate::containers::{Container, ExecOptions};
use crate::exec::CommandResult;
use crate::glue::{seconds, IntoRhai, Opts, RResult, Registrar};
use crate::host::Host;

/// `exec`'s options map. Env values are registered as secrets before anything can fail.
fn exec_options(host: &Host, o: &Map) -> RResult<ExecOptions> {
    let opts = Opts::new("exec", o, &["user", "workdir", "env"])?;
    let env = opts.string_map("env")?;
    env.iter().for_each(|(_, v)| host.register_secret(v));
    Ok(ExecOptions {
        user: opts.string("user")?,
        workdir: opts.string("workdir")?,
        env: env.into_iter().collect(),
    })
}

pub(super) fn register(r: &mut Registrar, host: &Arc<Host>) {
    register_lifecycle(r, host);
    register_inside(r, host);
    register_state(r, host);
    r.pure(
        "to_string",
        &["container"],
        "Show a Container.",
        |c: &mut Container| c.to_string(),
    );
    r.pure(
        "to_debug",
        &["container"],
        "Show a Container.",
        |c: &mut Container| format!("{c:?}"),
    );
}

/// build, run, start, stop, remove.
fn register_lifecycle(r: &mut Registrar, host: &Arc<Host>) {
    let h = host.clone();
    r.func(
        "build",
        &["container"],
        r#"Create and run the container; returns the Container with `container_id` filled in.
Throws `invalid_argument` before running anything if a setting is bad, `image_not_found`,
`command_failed` with the engine's stderr.
```rhai
let c = nerdctl_container_from_image("web", "localhost/busybox:test").with_cmd("httpd -f").build();
print(c.container_id);
```"#,
        move |c: &mut Container| -> RResult<Container> {
            on_engine(&h, |e| ops::build(&h, e, c))?;
            Ok(c.clone())
        },
    );
    let h = host.clone();
    r.func(
        "run",
        &["container"],
        r#"Like `build()`, but returns the CommandResult of the engine's `run`.
```rhai
let r = c.run();
print(r.stdout);
```"#,
        move |c: &mut Container| on_engine(&h, |e| ops::build(&h, e, c)),
    );
    let h = host.clone();
    r.func(
        "start",
        &["container"],
        r#"Start the container and check that it runs; if it does not, the error (`not_running`)
carries its state and last log lines (secrets scrubbed). A container that has no id yet (never
built, or removed with `remove()`) is created first from its configuration, so `remove()` then
`start()` gives a fresh container.
```rhai
c.start();
```"#,
        move |c: &mut Container| on_engine(&h, |e| ops::start(&h, e, c)),
    );
    let h = host.clone();
    r.func(
        "stop",
        &["container"],
        r#"Stop: SIGTERM, then SIGKILL after the engine's default grace (10 s). Idempotent:
stopping a stopped container, or one already removed, is fine.
```rhai
c.stop();
```"#,
        move |c: &mut Container| on_engine(&h, |e| ops::stop(&h, e, &c.name, None, true)),
    );
    let h = host.clone();
    r.func(
        "stop",
        &["container", "grace"],
        r#"Stop: SIGTERM, then SIGKILL after `grace` seconds (whole seconds, at most ten years).
Idempotent like `stop()`. Throws `invalid_argument` for a negative or huge grace.
```rhai
c.stop(2);
```"#,
        move |c: &mut Container, g: INT| -> RResult<CommandResult> {
            let grace = convert::seconds_i64("grace", g).rhai()?;
            on_engine(&h, |e| ops::stop(&h, e, &c.name, Some(grace), true))
        },
    );
    let h = host.clone();
    r.func(
        "remove",
        &["container"],
        r#"Remove the container (also when running) and its health check script; clears
`container_id`. Idempotent: removing a missing container is fine.
```rhai
c.remove();
```"#,
        move |c: &mut Container| -> RResult<CommandResult> {
            let r = on_engine(&h, |e| ops::remove(&h, e, &c.name))?;
            c.container_id.clear();
            Ok(r)
        },
    );
}

/// exec, copy, export_to, commit, logs: what reaches inside the container.
fn register_inside(r: &mut Registrar, host: &Arc<Host>) {
    let h = host.clone();
    r.func(
        "exec",
        &["container", "command"],
        r#"Run a shell line (`sh -c`) or an argv array inside the container.
Throws `command_failed` on a non-zero exit, `not_running` when the container does not run.
```rhai
let r = c.exec("cat /etc/hostname");
let r2 = c.exec(["ls", "-l", "/"]);
```"#,
        move |c: &mut Container, v: Dynamic| -> RResult<CommandResult> {
            let what = exec_what(&v)?;
            on_engine(&h, |e| {
                ops::exec(&h, e, &c.name, what, &ExecOptions::default())
            })
        },
    );
    let h = host.clone();
    r.func(
        "exec",
        &["container", "command", "options"],
        r#"`exec` with options, like `podman exec`: `user` (`name`, `uid`, `uid:gid`), `workdir`
(absolute), `env` (a map; values are secrets: they travel through the engine's environment,
never in argv, and are scrubbed from errors). Unknown keys are `invalid_argument`.
```rhai
let r = c.exec("id -u; echo $TOKEN | wc -c", #{user: "1000", workdir: "/tmp", env: #{TOKEN: token}});
```"#,
        move |c: &mut Container, v: Dynamic, o: Map| -> RResult<CommandResult> {
            let options = exec_options(&h, &o)?;
            let what = exec_what(&v)?;
            on_engine(&h, |e| ops::exec(&h, e, &c.name, what, &options))
        },
    );
    let h = host.clone();
    r.func(
        "copy",
        &["container", "source", "destination"],
        r#"Copy files between host and container; write the container side as `name:/path`.
```rhai
c.copy("/tmp/index.html", `${c.name}:/www/index.html`);
```"#,
        move |_c: &mut Container, s: &str, d: &str| on_engine(&h, |e| ops::copy(&h, e, s, d)),
    );
    let h = host.clone();
    r.func(
        "export_to",
        &["container", "path"],
        r#"Export the container's filesystem to a tar file. (The seeds call this `export`, but
`export` is a reserved word in Rhai: `c.export(...)` cannot be written in a script.)
```rhai
c.export_to("/tmp/web.tar");
```"#,
        move |c: &mut Container, p: &str| on_engine(&h, |e| ops::export(&h, e, &c.name, p)),
    );
    let h = host.clone();
    r.func(
        "commit",
        &["container", "image"],
        r#"Save the container as a new image.
```rhai
c.commit("localhost/web:snapshot");
```"#,
        move |c: &mut Container, i: &str| on_engine(&h, |e| ops::commit(&h, e, &c.name, i)),
    );
    let h = host.clone();
    r.func(
        "logs",
        &["container"],
        r#"The container's logs so far, as a CommandResult (`stdout`, `stderr`).
```rhai
print(c.logs().stdout);
```"#,
        move |c: &mut Container| on_engine(&h, |e| ops::logs(&h, e, &c.name, false)),
    );
    let h = host.clone();
    r.func(
        "logs",
        &["container", "follow"],
        r#"With `follow`, stream the logs to the terminal until the container stops (Ctrl-C ends it).
```rhai
c.logs(true);
```"#,
        move |c: &mut Container, f: bool| on_engine(&h, |e| ops::logs(&h, e, &c.name, f)),
    );
}

/// status, health, resources and the waits.
fn register_state(r: &mut Registrar, host: &Arc<Host>) {
    let h = host.clone();
    r.func(
        "status",
        &["container"],
        r#"State from `inspect`: a map with `state`, `status`, `phase` (starting, running, healthy,
unhealthy, stopped), `created`, `started`, `finished`, `running`, `exit_code`, `health_status`,
`health_output`. Throws `no_such_container`.
```rhai
let s = c.status();
print(`${s.state} ${s.health_status}`);
```"#,
        move |c: &mut Container| -> RResult<Map> {
            to_rhai(&on_engine(&h, |e| ops::status(&h, e, &c.name))?.view())
        },
    );
    let h = host.clone();
    r.func(
        "health_status",
        &["container"],
        r#"`healthy`, `unhealthy`, `starting`, or `none`. On podman (no systemd here) herodo runs the
check itself first, so the answer is current on every engine.
```rhai
if c.health_status() != "healthy" { print("not yet"); }
```"#,
        move |c: &mut Container| on_engine(&h, |e| ops::health_status(&h, e, &c.name)),
    );
    let h = host.clone();
    r.func(
        "resources",
        &["container"],
        r#"Resource usage from `stats`, as numbers: `cpu_usage` and `memory_percentage` are
percentages (floats; CPU in percent of one core), `memory_usage`, `memory_limit`,
`network_input`, `network_output`, `block_input`, `block_output` are bytes (ints), `pids` an
int. A value the engine does not report is 0.
```rhai
let r = c.resources();
if r.memory_usage > 100 * 1024 * 1024 { print(`${r.cpu_usage}% cpu, over 100 MiB`); }
```"#,
        move |c: &mut Container| -> RResult<Map> {
            to_rhai(&on_engine(&h, |e| ops::resources(&h, e, &c.name))?)
        },
    );
    let h = host.clone();
    r.func(
        "wait_healthy",
        &["container", "timeout"],
        r#"Wait until the health check passes; returns the status map. Throws `timeout` (with the last
check's output) or `not_running` if the container stops; `invalid_argument` for a negative or
huge timeout. On podman herodo runs the checks, one per health interval.
```rhai
c.wait_healthy(30);
```"#,
        move |c: &mut Container, t: Dynamic| -> RResult<Map> {
            let t = seconds(&t, "timeout")?;
            to_rhai(&on_engine(&h, |e| ops::wait_healthy(&h, e, &c.name, t))?.view())
        },
    );
    let h = host.clone();
    r.func(
        "wait_for_log",
        &["container", "pattern", "timeout"],
        r#"Wait until a log line matches the regular expression `pattern`; returns that line.
```rhai
c.wait_for_log("ready to accept connections", 20);
```"#,
        move |c: &mut Container, p: &str, t: Dynamic| -> RResult<String> {
            let t = seconds(&t, "timeout")?;
            on_engine(&h, |e| ops::wait_for_log(&h, e, &c.name, p, t))
        },
    );
    let h = host.clone();
    r.func(
        "wait_for_port",
        &["container", "port", "timeout"],
        r#"Wait until the host side of the published container `port` accepts connections; returns
the host address as `"ip:port"`.
```rhai
let addr = c.wait_for_port(80, 10);
print(http_status(`http://${addr}/`));
```"#,
        move |c: &mut Container, p: INT, t: Dynamic| -> RResult<String> {
            let t = seconds(&t, "timeout")?;
            let port = crate::common::tcp::port(p).rhai()?;
            let (ip, hp) = on_engine(&h, |e| ops::wait_for_port(&h, e, &c.name, port, t))?;
            Ok(format!("{ip}:{hp}"))
        },
    );
}
