//! Rhai glue for containers: the `Container` builder of seeds 000/001 and the `nerdctl_*`
//! functions, herodo-compatible, on whichever engine is in use.

use std::sync::Arc;

use rhai::{Array, Dynamic, Map, INT};

use super::ops::{self, EngineCli, ExecCommand, NetworkOptions};
use super::parse::{ContainerRow, ImageRow, ResourceUsage, Status};
use super::{validate, Container, ContainerError, ExecOptions, HealthCheck};
use crate::common::convert;
use crate::exec::CommandResult;
use crate::glue::{invalid, map_of, seconds, string_array, IntoRhai, Opts, RResult, Registrar};
use crate::host::Host;

fn engine(host: &Host) -> RResult<EngineCli> {
    ops::resolve(host).rhai()
}

fn status_map(s: Status) -> Map {
    let opt = |v: Option<String>| v.map_or(Dynamic::UNIT, Dynamic::from);
    map_of([
        ("state", s.state.clone().into()),
        ("status", s.status.clone().into()),
        ("phase", s.phase().into()),
        ("created", s.created.into()),
        ("started", s.started.into()),
        ("finished", s.finished.into()),
        ("running", s.running.into()),
        ("exit_code", Dynamic::from(s.exit_code)),
        ("health_status", opt(s.health_status)),
        ("health_output", opt(s.health_output)),
    ])
}

fn usage_map(u: ResourceUsage) -> Map {
    map_of([
        ("cpu_usage", Dynamic::from_float(u.cpu_usage)),
        ("memory_usage", Dynamic::from_int(u.memory_usage)),
        ("memory_limit", Dynamic::from_int(u.memory_limit)),
        (
            "memory_percentage",
            Dynamic::from_float(u.memory_percentage),
        ),
        ("network_input", Dynamic::from_int(u.network_input)),
        ("network_output", Dynamic::from_int(u.network_output)),
        ("block_input", Dynamic::from_int(u.block_input)),
        ("block_output", Dynamic::from_int(u.block_output)),
        ("pids", Dynamic::from_int(u.pids)),
    ])
}

fn row_map(r: ContainerRow) -> Dynamic {
    Dynamic::from_map(map_of([
        ("id", r.id.into()),
        ("name", r.name.into()),
        ("image", r.image.into()),
        ("state", r.state.into()),
        ("status", r.status.into()),
        ("ports", r.ports.into()),
    ]))
}

fn image_map(r: ImageRow) -> Dynamic {
    Dynamic::from_map(map_of([
        ("id", r.id.into()),
        ("repository", r.repository.into()),
        ("tag", r.tag.into()),
        ("size", r.size.into()),
        ("created", r.created.into()),
    ]))
}

fn strings(v: &[String]) -> Array {
    v.iter().cloned().map(Dynamic::from).collect()
}

fn str_map(m: &std::collections::BTreeMap<String, String>) -> Map {
    m.iter()
        .map(|(k, v)| (k.as_str().into(), Dynamic::from(v.clone())))
        .collect()
}

fn opt_str(v: &Option<String>) -> Dynamic {
    v.clone().map_or(Dynamic::UNIT, Dynamic::from)
}

/// Apply a validated change to the builder and hand back a copy for chaining.
fn set(
    c: &mut Container,
    f: impl FnOnce(&mut Container) -> Result<(), ContainerError>,
) -> RResult<Container> {
    f(c).rhai()?;
    Ok(c.clone())
}

/// What `exec` runs: a string is a shell line, an array an argv.
fn exec_what(v: &Dynamic) -> RResult<ExecCommand> {
    if v.is_string() {
        Ok(ExecCommand::Shell(v.to_string()))
    } else {
        Ok(ExecCommand::Argv(words(v, "command")?))
    }
}

/// `with_cmd` / `with_entrypoint` accept a string (split like a shell would) or an array.
fn words(v: &Dynamic, field: &str) -> RResult<Vec<String>> {
    if let Some(arr) = v.read_lock::<Array>() {
        return Ok(string_array(&arr));
    }
    if v.is_string() {
        return shell_words::split(&v.to_string()).map_err(|e| invalid(field, e.to_string()));
    }
    Err(invalid(
        field,
        format!("expected a string or an array, got {}", v.type_name()),
    ))
}

fn health(
    cmd: &str,
    interval: &str,
    timeout: &str,
    retries: INT,
    start_period: &str,
) -> Result<HealthCheck, ContainerError> {
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
    // 0 keeps the engine's default; anything else must be a real count (4294967297 must not
    // wrap to 1, -5 must not vanish).
    let retries = convert::int_in::<u32>("health_check.retries", retries, 0, 1_000_000).map_err(
        |e| match e {
            crate::error::HostError::InvalidArgument { field, reason } => {
                ContainerError::InvalidArgument { field, reason }
            }
            other => ContainerError::invalid("health_check.retries", other.to_string()),
        },
    )?;
    let h = HealthCheck {
        cmd: cmd.to_string(),
        interval: opt(interval),
        timeout: opt(timeout),
        retries: (retries > 0).then_some(retries),
        start_period: opt(start_period),
    };
    if h.cmd.trim().is_empty() {
        return Err(ContainerError::invalid(
            "health_check",
            "the command is empty",
        ));
    }
    for (f, v) in [
        ("health_check.interval", &h.interval),
        ("health_check.timeout", &h.timeout),
        ("health_check.start_period", &h.start_period),
    ] {
        if let Some(v) = v {
            validate::duration(f, v)?;
        }
    }
    Ok(h)
}

pub fn register(r: &mut Registrar, host: &Arc<Host>) {
    r.engine().register_type_with_name::<Container>("Container");
    register_builder(r, host);
    register_actions(r, host);
    register_functions(r, host);
}

fn register_builder(r: &mut Registrar, host: &Arc<Host>) {
    r.func(
        "nerdctl_container_new",
        &["name"],
        r#"A new container builder named `name` (give it an image with `with_image`).
Throws `invalid_argument` for a bad name.
```rhai
let c = nerdctl_container_new("web").with_image("localhost/busybox:test");
```"#,
        |name: &str| Container::new(name).rhai(),
    );
    r.func(
        "nerdctl_container_from_image",
        &["name", "image"],
        r#"A new container builder named `name` running `image` (use fully qualified names).
```rhai
let c = nerdctl_container_from_image("web", "localhost/busybox:test")
    .with_port("127.0.0.1:8080:80")
    .build();
```"#,
        |name: &str, image: &str| Container::from_image(name, image).rhai(),
    );

    macro_rules! getter {
        ($name:literal, $doc:literal, $f:expr) => {
            r.getter($name, $doc, $f);
        };
    }
    getter!("name", "The container's name.", |c: &mut Container| c
        .name
        .clone());
    getter!(
        "container_id",
        "The id the engine gave the container (\"\" before build).",
        |c: &mut Container| c.container_id.clone()
    );
    getter!("image", "The image.", |c: &mut Container| c.image.clone());
    getter!("ports", "Port mappings.", |c: &mut Container| strings(
        &c.ports
    ));
    getter!("volumes", "Volume mounts.", |c: &mut Container| strings(
        &c.volumes
    ));
    getter!(
        "env_vars",
        "Environment variables (a map).",
        |c: &mut Container| str_map(&c.env_vars)
    );
    getter!("network", "The network, or ().", |c: &mut Container| {
        opt_str(&c.network)
    });
    getter!(
        "network_aliases",
        "Network aliases.",
        |c: &mut Container| strings(&c.network_aliases)
    );
    getter!("cpu_limit", "CPU limit, or ().", |c: &mut Container| {
        opt_str(&c.cpu_limit)
    });
    getter!(
        "memory_limit",
        "Memory limit, or ().",
        |c: &mut Container| opt_str(&c.memory_limit)
    );
    getter!(
        "memory_swap_limit",
        "Memory+swap limit, or ().",
        |c: &mut Container| opt_str(&c.memory_swap_limit)
    );
    getter!("cpu_shares", "CPU shares, or ().", |c: &mut Container| {
        opt_str(&c.cpu_shares)
    });
    getter!(
        "restart_policy",
        "Restart policy, or ().",
        |c: &mut Container| opt_str(&c.restart_policy)
    );
    getter!(
        "snapshotter",
        "Snapshotter (nerdctl only), or ().",
        |c: &mut Container| opt_str(&c.snapshotter)
    );
    getter!(
        "detach",
        "Whether build() runs the container in the background (default true).",
        |c: &mut Container| c.detach
    );
    getter!("labels", "Labels (a map).", |c: &mut Container| str_map(
        &c.labels
    ));
    getter!("cmd", "The command, as an array.", |c: &mut Container| {
        strings(&c.cmd)
    });
    getter!(
        "health_check",
        "The health check as a map, or ().",
        |c: &mut Container| match &c.health_check {
            None => Dynamic::UNIT,
            Some(h) => Dynamic::from_map(map_of([
                ("cmd", h.cmd.clone().into()),
                ("interval", opt_str(&h.interval)),
                ("timeout", opt_str(&h.timeout)),
                (
                    "retries",
                    h.retries.map_or(Dynamic::UNIT, |v| Dynamic::from(v as INT))
                ),
                ("start_period", opt_str(&h.start_period)),
            ])),
        }
    );

    r.func(
        "reset",
        &["container"],
        r#"Forget the configuration (keeping name and image) and the container id.
Does not touch a running container: call `remove()` for that.
```rhai
c.reset();
```"#,
        |c: &mut Container| -> Container {
            let fresh = Container {
                name: c.name.clone(),
                image: c.image.clone(),
                detach: true,
                ..Container::default()
            };
            *c = fresh;
            c.clone()
        },
    );
    r.func(
        "with_image",
        &["container", "image"],
        r#"Set the image. Throws `invalid_argument` for a malformed reference.
```rhai
c.with_image("localhost/busybox:test");
```"#,
        |c: &mut Container, v: &str| {
            set(c, |c| {
                validate::image("image", v)?;
                c.image = v.into();
                Ok(())
            })
        },
    );
    r.func(
        "with_port",
        &["container", "port"],
        r#"Publish a port: `[ip:][hostPort:]containerPort[/proto]`.
```rhai
c.with_port("127.0.0.1:8080:80");
```"#,
        |c: &mut Container, v: &str| {
            set(c, |c| {
                validate::port(v)?;
                c.ports.push(v.into());
                Ok(())
            })
        },
    );
    r.func(
        "with_ports",
        &["container", "ports"],
        r#"Publish several ports.
```rhai
c.with_ports(["127.0.0.1:8080:80", "127.0.0.1:8443:443"]);
```"#,
        |c: &mut Container, v: Array| {
            set(c, |c| {
                let ps = string_array(&v);
                ps.iter().try_for_each(|p| validate::port(p))?;
                c.ports.extend(ps);
                Ok(())
            })
        },
    );
    r.func(
        "with_volume",
        &["container", "volume"],
        r#"Mount a volume: `hostPathOrName:/container/path[:ro]`.
```rhai
c.with_volume("/srv/html:/www:ro");
```"#,
        |c: &mut Container, v: &str| {
            set(c, |c| {
                validate::volume(v)?;
                c.volumes.push(v.into());
                Ok(())
            })
        },
    );
    r.func(
        "with_volumes",
        &["container", "volumes"],
        r#"Mount several volumes.
```rhai
c.with_volumes(["/srv/a:/a", "/srv/b:/b:ro"]);
```"#,
        |c: &mut Container, v: Array| {
            set(c, |c| {
                let vs = string_array(&v);
                vs.iter().try_for_each(|x| validate::volume(x))?;
                c.volumes.extend(vs);
                Ok(())
            })
        },
    );
    let h = host.clone();
    r.func(
        "with_env",
        &["container", "key", "value"],
        r#"Set an environment variable. Values are treated as secrets from the moment they are
set: they never appear in command lines, logs, errors (even one raised before anything ran),
`debug(c)` or --dry-run output.
```rhai
c.with_env("POSTGRES_PASSWORD", "example");
```"#,
        move |c: &mut Container, k: &str, v: &str| {
            h.register_secret(v);
            set(c, |c| {
                validate::env_key(k)?;
                c.env_vars.insert(k.into(), v.into());
                Ok(())
            })
        },
    );
    let h = host.clone();
    r.func(
        "with_envs",
        &["container", "vars"],
        r#"Set several environment variables from a map (values are secrets, as for `with_env`).
```rhai
c.with_envs(#{MODE: "prod", LEVEL: "3"});
```"#,
        move |c: &mut Container, m: Map| {
            let vars: Vec<(String, String)> = m
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            for (_, v) in &vars {
                h.register_secret(v);
            }
            set(c, |c| {
                for (k, v) in vars {
                    validate::env_key(&k)?;
                    c.env_vars.insert(k, v);
                }
                Ok(())
            })
        },
    );
    r.func(
        "with_network",
        &["container", "network"],
        r#"Attach to a network.
```rhai
c.with_network("appnet");
```"#,
        |c: &mut Container, v: &str| {
            set(c, |c| {
                validate::name("network", v)?;
                c.network = Some(v.into());
                Ok(())
            })
        },
    );
    r.func(
        "with_network_alias",
        &["container", "alias"],
        r#"Add a DNS alias on the container's network.
```rhai
c.with_network("appnet").with_network_alias("db");
```"#,
        |c: &mut Container, v: &str| {
            set(c, |c| {
                validate::name("network_alias", v)?;
                c.network_aliases.push(v.into());
                Ok(())
            })
        },
    );
    r.func(
        "with_network_aliases",
        &["container", "aliases"],
        r#"Add several network aliases.
```rhai
c.with_network_aliases(["db", "postgres"]);
```"#,
        |c: &mut Container, v: Array| {
            set(c, |c| {
                let a = string_array(&v);
                a.iter()
                    .try_for_each(|x| validate::name("network_alias", x))?;
                c.network_aliases.extend(a);
                Ok(())
            })
        },
    );
    r.func(
        "with_cpu_limit",
        &["container", "cpus"],
        r#"Limit CPUs (`"0.5"`, `"2"`).
```rhai
c.with_cpu_limit("0.5");
```"#,
        |c: &mut Container, v: &str| {
            set(c, |c| {
                validate::cpus(v)?;
                c.cpu_limit = Some(v.into());
                Ok(())
            })
        },
    );
    r.func(
        "with_memory_limit",
        &["container", "memory"],
        r#"Limit memory (`"512m"`, `"1g"`).
```rhai
c.with_memory_limit("64m");
```"#,
        |c: &mut Container, v: &str| {
            set(c, |c| {
                validate::memory("memory_limit", v)?;
                c.memory_limit = Some(v.into());
                Ok(())
            })
        },
    );
    r.func(
        "with_memory_swap_limit",
        &["container", "memory_swap"],
        r#"Limit memory plus swap (`"1g"`, or `"-1"` for unlimited).
```rhai
c.with_memory_swap_limit("128m");
```"#,
        |c: &mut Container, v: &str| {
            set(c, |c| {
                validate::memory("memory_swap_limit", v)?;
                c.memory_swap_limit = Some(v.into());
                Ok(())
            })
        },
    );
    r.func(
        "with_cpu_shares",
        &["container", "shares"],
        r#"Relative CPU weight (2-262144, default 1024).
```rhai
c.with_cpu_shares("512");
```"#,
        |c: &mut Container, v: &str| {
            set(c, |c| {
                validate::cpu_shares(v)?;
                c.cpu_shares = Some(v.into());
                Ok(())
            })
        },
    );
    r.func(
        "with_restart_policy",
        &["container", "policy"],
        r#"`no`, `always`, `unless-stopped` or `on-failure[:N]`.
```rhai
c.with_restart_policy("unless-stopped");
```"#,
        |c: &mut Container, v: &str| {
            set(c, |c| {
                validate::restart_policy(v)?;
                c.restart_policy = Some(v.into());
                Ok(())
            })
        },
    );
    r.func(
        "with_health_check",
        &["container", "command"],
        r#"A health check command (run with `sh -c` inside the container). A multi-line
script is mounted into the container and run there.
```rhai
c.with_health_check("wget -q -O /dev/null http://127.0.0.1/");
```"#,
        |c: &mut Container, v: &str| {
            set(c, |c| {
                c.health_check = Some(health(v, "", "", 0, "")?);
                Ok(())
            })
        },
    );
    r.func(
        "with_health_check_options",
        &[
            "container",
            "command",
            "interval",
            "timeout",
            "retries",
            "start_period",
        ],
        r#"A health check with its timing; use "" (or 0 retries) to keep a default. Durations
are Go durations (`30s`, `1m30s`, `500ms`); retries a count from 0 to 1000000. On podman,
where herodo runs the checks itself, `wait_healthy` runs one check per `interval` (default
30 s, as on docker). Throws `invalid_argument` naming the bad value.
```rhai
c.with_health_check_options("wget -q -O- http://127.0.0.1/", "1s", "2s", 3, "0s");
```"#,
        |c: &mut Container, cmd: &str, i: &str, t: &str, n: INT, s: &str| {
            set(c, |c| {
                c.health_check = Some(health(cmd, i, t, n, s)?);
                Ok(())
            })
        },
    );
    r.func(
        "with_snapshotter",
        &["container", "snapshotter"],
        r#"containerd snapshotter (nerdctl only; podman and docker ignore it).
```rhai
c.with_snapshotter("native");
```"#,
        |c: &mut Container, v: &str| {
            set(c, |c| {
                validate::name("snapshotter", v)?;
                c.snapshotter = Some(v.into());
                Ok(())
            })
        },
    );
    r.func("with_detach", &["container", "detach"], r#"Run in the background (true, the default) or wait for the container to exit.
```rhai
nerdctl_container_from_image("job", "localhost/busybox:test").with_cmd("echo hi").with_detach(false).build();
```"#, |c: &mut Container, v: bool| set(c, |c| { c.detach = v; Ok(()) }));
    r.func(
        "with_label",
        &["container", "key", "value"],
        r#"Add a label. Keys under `io.herodo.` (the owner label `io.herodo.owner`) are herodo's
own: setting one throws `invalid_argument`.
```rhai
c.with_label("app", "demo");
```"#,
        |c: &mut Container, k: &str, v: &str| {
            set(c, |c| {
                // Rejects `io.herodo.owner`: the owner label decides what `herodo clean` removes.
                validate::label_key("label", k)?;
                c.labels.insert(k.into(), v.into());
                Ok(())
            })
        },
    );
    r.func(
        "with_annotation",
        &["container", "key", "value"],
        r#"Add an OCI annotation (podman, nerdctl; docker 20.10 ignores it).
```rhai
c.with_annotation("org.example.owner", "ops");
```"#,
        |c: &mut Container, k: &str, v: &str| {
            set(c, |c| {
                validate::label_key("annotation", k)?;
                c.annotations.insert(k.into(), v.into());
                Ok(())
            })
        },
    );
    r.func(
        "with_entrypoint",
        &["container", "entrypoint"],
        r#"Override the image's entrypoint (a program path).
```rhai
c.with_entrypoint("/bin/sh");
```"#,
        |c: &mut Container, v: &str| {
            set(c, |c| {
                c.entrypoint = Some(v.into());
                Ok(())
            })
        },
    );
    r.func(
        "with_cmd",
        &["container", "command"],
        r#"The command to run: a string (split like a shell would, no shell runs it) or an array.
```rhai
c.with_cmd(["httpd", "-f", "-p", "80"]);
c.with_cmd("sleep 3600");
```"#,
        |c: &mut Container, v: Dynamic| -> RResult<Container> {
            c.cmd = words(&v, "cmd")?;
            Ok(c.clone())
        },
    );
    r.func(
        "with_workdir",
        &["container", "dir"],
        r#"The working directory inside the container (absolute).
```rhai
c.with_workdir("/app");
```"#,
        |c: &mut Container, v: &str| {
            set(c, |c| {
                c.workdir = Some(v.into());
                Ok(())
            })
        },
    );
    r.func(
        "with_user",
        &["container", "user"],
        r#"Run as this user (`name`, `uid`, `uid:gid`).
```rhai
c.with_user("1000:1000");
```"#,
        |c: &mut Container, v: &str| {
            set(c, |c| {
                c.user = Some(v.into());
                Ok(())
            })
        },
    );
    r.func(
        "with_init",
        &["container", "init"],
        r#"Run an init process as PID 1 (signals and zombies are handled; `stop` is fast).
```rhai
c.with_init(true);
```"#,
        |c: &mut Container, v: bool| {
            set(c, |c| {
                c.init = v;
                Ok(())
            })
        },
    );
    r.func(
        "with_privileged",
        &["container", "privileged"],
        r#"Give the container extended privileges.
```rhai
c.with_privileged(true);
```"#,
        |c: &mut Container, v: bool| {
            set(c, |c| {
                c.privileged = v;
                Ok(())
            })
        },
    );
    r.func(
        "with_device",
        &["container", "device"],
        r#"Give the container a host device: `/dev/HOST[:/CONTAINER[:rwm]]` (`/dev/fuse`,
`/dev/kvm:/dev/kvm`). Throws `invalid_argument` when the host side is not under /dev.
```rhai
c.with_device("/dev/fuse");
```"#,
        |c: &mut Container, v: &str| {
            set(c, |c| {
                validate::device(v)?;
                c.devices.push(v.into());
                Ok(())
            })
        },
    );
    r.func(
        "with_runtime",
        &["container", "runtime"],
        r#"The OCI runtime (`runc`, `crun`, or a path).
```rhai
c.with_runtime("runc");
```"#,
        |c: &mut Container, v: &str| {
            set(c, |c| {
                c.runtime = Some(v.into());
                Ok(())
            })
        },
    );
}

fn register_actions(r: &mut Registrar, host: &Arc<Host>) {
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
            ops::build(&h, &engine(&h)?, c).rhai()?;
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
        move |c: &mut Container| -> RResult<CommandResult> {
            ops::build(&h, &engine(&h)?, c).rhai()
        },
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
        move |c: &mut Container| -> RResult<CommandResult> {
            ops::start(&h, &engine(&h)?, c).rhai()
        },
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
        move |c: &mut Container| -> RResult<CommandResult> {
            ops::stop(&h, &engine(&h)?, &c.name, None, true).rhai()
        },
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
            ops::stop(&h, &engine(&h)?, &c.name, Some(grace), true).rhai()
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
            let r = ops::remove(&h, &engine(&h)?, &c.name).rhai()?;
            c.container_id.clear();
            Ok(r)
        },
    );
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
            ops::exec(
                &h,
                &engine(&h)?,
                &c.name,
                exec_what(&v)?,
                &ExecOptions::default(),
            )
            .rhai()
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
            let opts = Opts::new("exec", &o, &["user", "workdir", "env"])?;
            let env = opts.string_map("env")?;
            for (_, value) in &env {
                h.register_secret(value);
            }
            let options = ExecOptions {
                user: opts.string("user")?,
                workdir: opts.string("workdir")?,
                env: env.into_iter().collect(),
            };
            ops::exec(&h, &engine(&h)?, &c.name, exec_what(&v)?, &options).rhai()
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
        move |_c: &mut Container, s: &str, d: &str| -> RResult<CommandResult> {
            ops::copy(&h, &engine(&h)?, s, d).rhai()
        },
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
        move |c: &mut Container, p: &str| -> RResult<CommandResult> {
            ops::export(&h, &engine(&h)?, &c.name, p).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "commit",
        &["container", "image"],
        r#"Save the container as a new image.
```rhai
c.commit("localhost/web:snapshot");
```"#,
        move |c: &mut Container, i: &str| -> RResult<CommandResult> {
            ops::commit(&h, &engine(&h)?, &c.name, i).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "logs",
        &["container"],
        r#"The container's logs so far, as a CommandResult (`stdout`, `stderr`).
```rhai
print(c.logs().stdout);
```"#,
        move |c: &mut Container| -> RResult<CommandResult> {
            ops::logs(&h, &engine(&h)?, &c.name, false).rhai()
        },
    );
    let h = host.clone();
    r.func("logs", &["container", "follow"], r#"With `follow`, stream the logs to the terminal until the container stops (Ctrl-C ends it).
```rhai
c.logs(true);
```"#, move |c: &mut Container, f: bool| -> RResult<CommandResult> { ops::logs(&h, &engine(&h)?, &c.name, f).rhai() });
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
            Ok(status_map(ops::status(&h, &engine(&h)?, &c.name).rhai()?))
        },
    );
    let h = host.clone();
    r.func("health_status", &["container"], r#"`healthy`, `unhealthy`, `starting`, or `none`. On podman (no systemd here) herodo runs the
check itself first, so the answer is current on every engine.
```rhai
if c.health_status() != "healthy" { print("not yet"); }
```"#, move |c: &mut Container| -> RResult<String> { ops::health_status(&h, &engine(&h)?, &c.name).rhai() });
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
            Ok(usage_map(ops::resources(&h, &engine(&h)?, &c.name).rhai()?))
        },
    );
    let h = host.clone();
    r.func("wait_healthy", &["container", "timeout"], r#"Wait until the health check passes; returns the status map. Throws `timeout` (with the last
check's output) or `not_running` if the container stops; `invalid_argument` for a negative or
huge timeout. On podman herodo runs the checks, one per health interval.
```rhai
c.wait_healthy(30);
```"#, move |c: &mut Container, t: Dynamic| -> RResult<Map> {
        let t = seconds(&t, "timeout")?;
        Ok(status_map(ops::wait_healthy(&h, &engine(&h)?, &c.name, t).rhai()?))
    });
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
            ops::wait_for_log(&h, &engine(&h)?, &c.name, p, t).rhai()
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
            let (ip, hp) = ops::wait_for_port(&h, &engine(&h)?, &c.name, port, t).rhai()?;
            Ok(format!("{ip}:{hp}"))
        },
    );
    r.pure(
        "to_string",
        &["container"],
        "Show a Container.",
        |c: &mut Container| {
            format!(
                "Container(name: {}, image: {}, id: {})",
                c.name,
                c.image,
                if c.container_id.is_empty() {
                    "-"
                } else {
                    &c.container_id
                }
            )
        },
    );
    r.pure(
        "to_debug",
        &["container"],
        "Show a Container.",
        |c: &mut Container| format!("{c:?}"),
    );
}

fn register_functions(r: &mut Registrar, host: &Arc<Host>) {
    let h = host.clone();
    r.func(
        "container_engine",
        &[],
        r#"The container engine in use: `nerdctl`, `podman` or `docker` (set with --engine or
HERODO_CONTAINER_ENGINE; otherwise the first one installed). Throws `engine_not_installed`.
```rhai
print(container_engine());
```"#,
        move || -> RResult<String> { Ok(engine(&h)?.flavor.name().to_string()) },
    );

    macro_rules! with_engine {
        ($name:literal, $params:expr, $doc:literal, |$e:ident, $h:ident $(, $arg:ident : $ty:ty)*| $body:expr) => {{
            let hh = host.clone();
            r.func($name, $params, $doc, move |$($arg: $ty),*| -> RResult<CommandResult> {
                let $h = &hh;
                let $e = engine($h)?;
                $body.rhai()
            });
        }};
    }
    with_engine!(
        "nerdctl_run",
        &["image"],
        r#"Run `image` detached under a generated name; returns a CommandResult.
```rhai
nerdctl_run("localhost/busybox:test");
```"#,
        |e, h, image: &str| ops::run_image(h, &e, image, None, &[], None)
    );
    with_engine!(
        "nerdctl_run_with_name",
        &["image", "name"],
        r#"Run `image` detached as `name`.
```rhai
nerdctl_run_with_name("localhost/busybox:test", "box1");
```"#,
        |e, h, image: &str, name: &str| ops::run_image(h, &e, image, Some(name), &[], None)
    );
    with_engine!(
        "nerdctl_run_with_port",
        &["image", "name", "port"],
        r#"Run `image` detached as `name`, publishing `port`.
```rhai
nerdctl_run_with_port("localhost/busybox:test", "web", "127.0.0.1:8080:80");
```"#,
        |e, h, image: &str, name: &str, port: &str| ops::run_image(
            h,
            &e,
            image,
            Some(name),
            &[port.to_string()],
            None
        )
    );
    with_engine!(
        "nerdctl_exec",
        &["container", "command"],
        r#"Run a shell line inside a running container.
```rhai
print(nerdctl_exec("web", "cat /etc/hostname").stdout);
```"#,
        |e, h, c: &str, cmd: &str| ops::exec(
            h,
            &e,
            c,
            ExecCommand::Shell(cmd.into()),
            &ExecOptions::default()
        )
    );
    with_engine!(
        "nerdctl_copy",
        &["source", "destination"],
        r#"Copy between host and container (`name:/path` for the container side).
```rhai
nerdctl_copy("web:/etc/hostname", "/tmp/hostname");
```"#,
        |e, h, s: &str, d: &str| ops::copy(h, &e, s, d)
    );
    with_engine!(
        "nerdctl_stop",
        &["container"],
        r#"Stop a container. Throws `no_such_container` when there is none of that name (the
Container method `stop()` does not).
```rhai
nerdctl_stop("web");
```"#,
        |e, h, c: &str| ops::stop(h, &e, c, None, false)
    );
    with_engine!(
        "nerdctl_remove",
        &["container"],
        r#"Remove a container (forcefully); a missing one is fine.
```rhai
nerdctl_remove("web");
```"#,
        |e, h, c: &str| ops::remove(h, &e, c)
    );
    with_engine!(
        "nerdctl_list",
        &["all"],
        r#"`ps` output as a CommandResult (all containers when `all`).
```rhai
print(nerdctl_list(true).stdout);
```"#,
        |e, h, all: bool| ops::list_raw(h, &e, all)
    );
    with_engine!(
        "nerdctl_logs",
        &["container"],
        r#"A container's logs as a CommandResult.
```rhai
print(nerdctl_logs("web").stdout);
```"#,
        |e, h, c: &str| ops::logs(h, &e, c, false)
    );
    with_engine!(
        "nerdctl_images",
        &[],
        r#"`images` output as a CommandResult.
```rhai
print(nerdctl_images().stdout);
```"#,
        |e, h| ops::images_raw(h, &e)
    );
    with_engine!(
        "nerdctl_image_remove",
        &["image"],
        r#"Remove an image.
```rhai
nerdctl_image_remove("localhost/web:old");
```"#,
        |e, h, i: &str| ops::image_remove(h, &e, i)
    );
    with_engine!(
        "nerdctl_image_push",
        &["image", "destination"],
        r#"Push `image` to `destination` (tagged first when the names differ). Registries on
127.0.0.1/localhost are used over plain HTTP.
```rhai
nerdctl_image_push("localhost/web:1", "127.0.0.1:5000/web:1");
```"#,
        |e, h, i: &str, d: &str| ops::image_push(h, &e, i, d)
    );
    with_engine!(
        "nerdctl_image_tag",
        &["image", "new_name"],
        r#"Tag an image with another name. Under `herodo test` the new name is removed after the
test, unless it existed before (then it is not herodo's to remove).
```rhai
nerdctl_image_tag("localhost/web:1", "localhost/web:latest");
```"#,
        |e, h, i: &str, n: &str| ops::image_tag(h, &e, i, n)
    );
    with_engine!(
        "nerdctl_image_pull",
        &["image"],
        r#"Pull an image (use fully qualified names; 127.0.0.1 registries over plain HTTP).
```rhai
nerdctl_image_pull("127.0.0.1:5000/web:1");
```"#,
        |e, h, i: &str| ops::image_pull(h, &e, i)
    );
    with_engine!(
        "nerdctl_image_commit",
        &["container", "image"],
        r#"Save a container as an image.
```rhai
nerdctl_image_commit("web", "localhost/web:snapshot");
```"#,
        |e, h, c: &str, i: &str| ops::commit(h, &e, c, i)
    );
    with_engine!(
        "nerdctl_image_build",
        &["tag", "context"],
        r#"Build an image from the Dockerfile/Containerfile in `context`.
```rhai
nerdctl_image_build("localhost/app:dev", "./app");
```"#,
        |e, h, t: &str, c: &str| ops::image_build(h, &e, t, c)
    );
    with_engine!(
        "nerdctl_network_remove",
        &["name"],
        r#"Remove a network; a missing one is fine.
```rhai
nerdctl_network_remove("appnet");
```"#,
        |e, h, n: &str| ops::network_remove(h, &e, n)
    );
    with_engine!(
        "nerdctl_volume_remove",
        &["name"],
        r#"Remove a volume; a missing one is fine.
```rhai
nerdctl_volume_remove("data");
```"#,
        |e, h, n: &str| ops::volume_remove(h, &e, n)
    );
    with_engine!(
        "nerdctl_volume_create",
        &["name"],
        r#"Create a named volume (labelled with herodo's owner tag). Throws `already_exists` when
the name is taken, on every engine.
```rhai
nerdctl_volume_create("data");
```"#,
        |e, h, n: &str| ops::volume_create(h, &e, n, None)
    );
    with_engine!(
        "nerdctl_network_create",
        &["name"],
        r#"Create a network with the default driver (labelled with herodo's owner tag). Throws
`already_exists` when the name is taken.
```rhai
nerdctl_network_create("appnet");
```"#,
        |e, h, n: &str| ops::network_create(h, &e, n, &NetworkOptions::default())
    );

    let hh = host.clone();
    r.func(
        "nerdctl_network_create",
        &["name", "options"],
        r#"Create a network; options `driver` and `subnet` (CIDR).
```rhai
nerdctl_network_create("appnet", #{driver: "bridge", subnet: "10.89.7.0/24"});
```"#,
        move |n: &str, o: Map| -> RResult<CommandResult> {
            let opts = Opts::new("network", &o, &["driver", "subnet"])?;
            let no = NetworkOptions {
                driver: opts.string("driver")?,
                subnet: opts.string("subnet")?,
            };
            ops::network_create(&hh, &engine(&hh)?, n, &no).rhai()
        },
    );
    let hh = host.clone();
    r.func(
        "nerdctl_volume_create",
        &["name", "options"],
        r#"Create a named volume; option `driver`.
```rhai
nerdctl_volume_create("data", #{driver: "local"});
```"#,
        move |n: &str, o: Map| -> RResult<CommandResult> {
            let opts = Opts::new("volume", &o, &["driver"])?;
            ops::volume_create(&hh, &engine(&hh)?, n, opts.string("driver")?.as_deref()).rhai()
        },
    );
    let hh = host.clone();
    r.func(
        "nerdctl_network_list",
        &[],
        r#"Networks as maps with `name` and `driver`.
```rhai
for n in nerdctl_network_list() { print(n.name); }
```"#,
        move || -> RResult<Array> {
            Ok(ops::network_list(&hh, &engine(&hh)?)
                .rhai()?
                .into_iter()
                .map(|(n, d)| Dynamic::from_map(map_of([("name", n.into()), ("driver", d.into())])))
                .collect())
        },
    );
    let hh = host.clone();
    r.func(
        "nerdctl_volume_list",
        &[],
        r#"Volumes as maps with `name` and `driver`.
```rhai
for v in nerdctl_volume_list() { print(v.name); }
```"#,
        move || -> RResult<Array> {
            Ok(ops::volume_list(&hh, &engine(&hh)?)
                .rhai()?
                .into_iter()
                .map(|(n, d)| Dynamic::from_map(map_of([("name", n.into()), ("driver", d.into())])))
                .collect())
        },
    );
    let hh = host.clone();
    r.func(
        "nerdctl_container_list",
        &["all"],
        r#"Containers as maps: `id`, `name`, `image`, `state`, `status`, `ports`.
```rhai
for c in nerdctl_container_list(true) { print(`${c.name}: ${c.state}`); }
```"#,
        move |all: bool| -> RResult<Array> {
            Ok(ops::container_list(&hh, &engine(&hh)?, all)
                .rhai()?
                .into_iter()
                .map(row_map)
                .collect())
        },
    );
    let hh = host.clone();
    r.func(
        "nerdctl_image_list",
        &[],
        r#"Images as maps: `id`, `repository`, `tag`, `size`, `created`.
```rhai
for i in nerdctl_image_list() { print(`${i.repository}:${i.tag}`); }
```"#,
        move || -> RResult<Array> {
            Ok(ops::image_list(&hh, &engine(&hh)?)
                .rhai()?
                .into_iter()
                .map(image_map)
                .collect())
        },
    );
    let hh = host.clone();
    r.func(
        "nerdctl_cleanup",
        &["label_or_prefix"],
        r#"Remove every container with the label `key=value`, or whose name starts with the prefix;
returns the names removed. (Everything herodo creates carries `io.herodo.owner=<owner tag>`;
`herodo clean` removes what dead herodo runs left behind.)
```rhai
nerdctl_cleanup("app=demo");
nerdctl_cleanup("test-");
```"#,
        move |w: &str| -> RResult<Array> {
            Ok(ops::cleanup(&hh, &engine(&hh)?, w)
                .rhai()?
                .into_iter()
                .map(Dynamic::from)
                .collect())
        },
    );
}
