//! The `Container` builder: constructors, property getters and the `with_*` setters. Each
//! setter is one call to the spec's own setter (which validates), registered from a table.

use std::sync::Arc;

use std::collections::BTreeMap;

use rhai::{Array, Dynamic, Map, Variant};
use serde::Serialize;

use super::{to_rhai, words};
use crate::containers::spec::Env;
use crate::containers::{Container, ContainerError, HealthCheck};
use crate::glue::{string_array, IntoRhai, RResult, Registrar};
use crate::host::Host;

type Set<'a> = Result<&'a mut Container, ContainerError>;
type StrSetter = for<'a> fn(&'a mut Container, &str) -> Set<'a>;
type PairSetter = for<'a> fn(&'a mut Container, &str, &str) -> Set<'a>;
type ListSetter = for<'a> fn(&'a mut Container, Vec<String>) -> Set<'a>;
type FlagSetter = for<'a> fn(&'a mut Container, bool) -> &'a mut Container;

/// A setter's result as the script sees it: a copy of the changed container, for chaining
/// (`c.with_x(..).with_y(..)`); statement style (`c.with_x(..);`) changes `c` itself.
fn chain(r: Set<'_>) -> RResult<Container> {
    r.map(|c| c.clone()).rhai()
}

/// `(name, parameter, doc, setter)`.
const STR_SETTERS: &[(&str, &str, &str, StrSetter)] = &[
    (
        "with_image",
        "image",
        r#"Set the image. Throws `invalid_argument` for a malformed reference.
```rhai
c.with_image("localhost/busybox:test");
```"#,
        Container::with_image,
    ),
    (
        "with_port",
        "port",
        r#"Publish a port: `[ip:][hostPort:]containerPort[/proto]`.
```rhai
c.with_port("127.0.0.1:8080:80");
```"#,
        Container::with_port,
    ),
    (
        "with_volume",
        "volume",
        r#"Mount a volume: `hostPathOrName:/container/path[:ro]`.
```rhai
c.with_volume("/srv/html:/www:ro");
```"#,
        Container::with_volume,
    ),
    (
        "with_network",
        "network",
        r#"Attach to a network.
```rhai
c.with_network("appnet");
```"#,
        Container::with_network,
    ),
    (
        "with_network_alias",
        "alias",
        r#"Add a DNS alias on the container's network.
```rhai
c.with_network("appnet").with_network_alias("db");
```"#,
        Container::with_network_alias,
    ),
    (
        "with_cpu_limit",
        "cpus",
        r#"Limit CPUs (`"0.5"`, `"2"`).
```rhai
c.with_cpu_limit("0.5");
```"#,
        Container::with_cpu_limit,
    ),
    (
        "with_memory_limit",
        "memory",
        r#"Limit memory (`"512m"`, `"1g"`).
```rhai
c.with_memory_limit("64m");
```"#,
        Container::with_memory_limit,
    ),
    (
        "with_memory_swap_limit",
        "memory_swap",
        r#"Limit memory plus swap (`"1g"`, or `"-1"` for unlimited).
```rhai
c.with_memory_swap_limit("128m");
```"#,
        Container::with_memory_swap_limit,
    ),
    (
        "with_cpu_shares",
        "shares",
        r#"Relative CPU weight (2-262144, default 1024).
```rhai
c.with_cpu_shares("512");
```"#,
        Container::with_cpu_shares,
    ),
    (
        "with_restart_policy",
        "policy",
        r#"`no`, `always`, `unless-stopped` or `on-failure[:N]`.
```rhai
c.with_restart_policy("unless-stopped");
```"#,
        Container::with_restart_policy,
    ),
    (
        "with_health_check",
        "command",
        r#"A health check command (run with `sh -c` inside the container). A multi-line
script is mounted into the container and run there.
```rhai
c.with_health_check("wget -q -O /dev/null http://127.0.0.1/");
```"#,
        Container::with_health_check,
    ),
    (
        "with_snapshotter",
        "snapshotter",
        r#"containerd snapshotter (nerdctl only; podman and docker ignore it).
```rhai
c.with_snapshotter("native");
```"#,
        Container::with_snapshotter,
    ),
    (
        "with_entrypoint",
        "entrypoint",
        r#"Override the image's entrypoint (a program path).
```rhai
c.with_entrypoint("/bin/sh");
```"#,
        Container::with_entrypoint,
    ),
    (
        "with_workdir",
        "dir",
        r#"The working directory inside the container (absolute).
```rhai
c.with_workdir("/app");
```"#,
        Container::with_workdir,
    ),
    (
        "with_user",
        "user",
        r#"Run as this user (`name`, `uid`, `uid:gid`).
```rhai
c.with_user("1000:1000");
```"#,
        Container::with_user,
    ),
    (
        "with_device",
        "device",
        r#"Give the container a host device: `/dev/HOST[:/CONTAINER[:rwm]]` (`/dev/fuse`,
`/dev/kvm:/dev/kvm`). Throws `invalid_argument` when the host side is not under /dev.
```rhai
c.with_device("/dev/fuse");
```"#,
        Container::with_device,
    ),
    (
        "with_runtime",
        "runtime",
        r#"The OCI runtime (`runc`, `crun`, or a path).
```rhai
c.with_runtime("runc");
```"#,
        Container::with_runtime,
    ),
];

const LIST_SETTERS: &[(&str, &str, &str, ListSetter)] = &[
    (
        "with_ports",
        "ports",
        r#"Publish several ports.
```rhai
c.with_ports(["127.0.0.1:8080:80", "127.0.0.1:8443:443"]);
```"#,
        Container::with_ports,
    ),
    (
        "with_volumes",
        "volumes",
        r#"Mount several volumes.
```rhai
c.with_volumes(["/srv/a:/a", "/srv/b:/b:ro"]);
```"#,
        Container::with_volumes,
    ),
    (
        "with_network_aliases",
        "aliases",
        r#"Add several network aliases.
```rhai
c.with_network_aliases(["db", "postgres"]);
```"#,
        Container::with_network_aliases,
    ),
];

const PAIR_SETTERS: &[(&str, &str, PairSetter)] = &[
    (
        "with_label",
        r#"Add a label. Keys under `io.herodo.` (the owner label `io.herodo.owner`) are herodo's
own: setting one throws `invalid_argument`.
```rhai
c.with_label("app", "demo");
```"#,
        Container::with_label,
    ),
    (
        "with_annotation",
        r#"Add an OCI annotation (podman, nerdctl; docker 20.10 ignores it).
```rhai
c.with_annotation("org.example.owner", "ops");
```"#,
        Container::with_annotation,
    ),
];

const FLAG_SETTERS: &[(&str, &str, &str, FlagSetter)] = &[
    (
        "with_detach",
        "detach",
        r#"Run in the background (true, the default) or wait for the container to exit.
```rhai
nerdctl_container_from_image("job", "localhost/busybox:test").with_cmd("echo hi").with_detach(false).build();
```"#,
        Container::with_detach,
    ),
    (
        "with_init",
        "init",
        r#"Run an init process as PID 1 (signals and zombies are handled; `stop` is fast).
```rhai
c.with_init(true);
```"#,
        Container::with_init,
    ),
    (
        "with_replace",
        "replace",
        r#"Let `build()` remove a container that already has this name (a leftover of an earlier
run, say) instead of failing with `already_exists`. Off by default.
```rhai
nerdctl_container_from_image("web", "localhost/busybox:test").with_replace(true).build();
```"#,
        Container::with_replace,
    ),
    (
        "with_privileged",
        "privileged",
        r#"Give the container extended privileges.
```rhai
c.with_privileged(true);
```"#,
        Container::with_privileged,
    ),
];

pub(super) fn register(r: &mut Registrar, host: &Arc<Host>) {
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
    register_getters(r);
    r.func(
        "reset",
        &["container"],
        r#"Forget the configuration (keeping name and image) and the container id.
Does not touch a running container: call `remove()` for that.
```rhai
c.reset();
```"#,
        |c: &mut Container| c.reset().clone(),
    );
    for &(name, param, doc, set) in STR_SETTERS {
        r.func(
            name,
            &["container", param],
            doc,
            move |c: &mut Container, v: &str| chain(set(c, v)),
        );
    }
    for &(name, param, doc, set) in LIST_SETTERS {
        r.func(
            name,
            &["container", param],
            doc,
            move |c: &mut Container, v: Array| chain(set(c, string_array(&v))),
        );
    }
    for &(name, doc, set) in PAIR_SETTERS {
        r.func(
            name,
            &["container", "key", "value"],
            doc,
            move |c: &mut Container, k: &str, v: &str| chain(set(c, k, v)),
        );
    }
    for &(name, param, doc, set) in FLAG_SETTERS {
        r.func(
            name,
            &["container", param],
            doc,
            move |c: &mut Container, v: bool| set(c, v).clone(),
        );
    }
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
            // Registered before anything can fail, so even the error about a bad key is scrubbed.
            h.register_secret(v);
            chain(c.with_env(k, v))
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
            vars.iter().for_each(|(_, v)| h.register_secret(v));
            chain(c.with_envs(vars))
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
        |c: &mut Container, cmd: &str, i: &str, t: &str, n: rhai::INT, s: &str| {
            chain(c.with_health_check_options(cmd, i, t, n, s))
        },
    );
    r.func(
        "with_annotations",
        &["container", "annotations"],
        r#"Add several OCI annotations from a map (as `with_annotation` each).
```rhai
c.with_annotations(#{"org.example.owner": "ops", "org.example.tier": "web"});
```"#,
        |c: &mut Container, m: Map| -> RResult<Container> {
            for (k, v) in &m {
                c.with_annotation(k, &v.to_string()).rhai()?;
            }
            Ok(c.clone())
        },
    );
    r.func(
        "with_devices",
        &["container", "devices"],
        r#"Give the container several host devices (as `with_device` each).
```rhai
c.with_devices(["/dev/fuse", "/dev/net/tun"]);
```"#,
        |c: &mut Container, v: Array| -> RResult<Container> {
            for d in string_array(&v) {
                c.with_device(&d).rhai()?;
            }
            Ok(c.clone())
        },
    );
    r.func(
        "with_disk_limit",
        &["container", "size"],
        r#"The size of the container's disk under a Kata runtime (`10G`): the annotation
`io.katacontainers.config.hypervisor.block_device_size`, as the original herodo sets it. Other
runtimes ignore it (podman and docker have no per-container disk limit on overlay).
```rhai
c.with_disk_limit("10G");
```"#,
        |c: &mut Container, size: &str| -> RResult<Container> {
            if size.trim().is_empty() {
                return Err(crate::glue::invalid("size", "is empty"));
            }
            c.with_annotation(
                "io.katacontainers.config.hypervisor.block_device_size",
                size,
            )
            .rhai()?;
            Ok(c.clone())
        },
    );
    r.pure(
        "new_run_options",
        &[],
        r#"The original herodo's default run options, as a map: `name` (), `detach` true,
`ports` [], `snapshotter` "native".
```rhai
let o = new_run_options();
o.detach = false;
```"#,
        || -> Map {
            let mut m = Map::new();
            m.insert("name".into(), Dynamic::UNIT);
            m.insert("detach".into(), true.into());
            m.insert("ports".into(), Dynamic::from_array(Array::new()));
            m.insert("snapshotter".into(), "native".into());
            m
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
            Ok(c.with_cmd(words(&v, "cmd")?).clone())
        },
    );
}

/// `(name, doc, field)` of a property getter.
type Getter<T> = (&'static str, &'static str, fn(&Container) -> &T);

/// Register property getters; each value reaches the script through [`to_rhai`], typed `R` in
/// the docs.
fn getters<T: Serialize + 'static, R: Variant + Clone>(r: &mut Registrar, table: &[Getter<T>]) {
    for &(name, doc, field) in table {
        r.getter(name, doc, move |c: &mut Container| {
            to_rhai::<T, R>(field(c))
        });
    }
}

/// The properties scripts read: `c.name`, `c.ports`, `c.health_check`, ...
fn register_getters(r: &mut Registrar) {
    getters::<String, String>(
        r,
        &[
            ("name", "The container's name.", |c| &c.name),
            (
                "container_id",
                "The id the engine gave the container (\"\" before build).",
                |c| &c.container_id,
            ),
            ("image", "The image.", |c| &c.image),
        ],
    );
    getters::<Vec<String>, Array>(
        r,
        &[
            ("ports", "Port mappings.", |c| &c.ports),
            ("volumes", "Volume mounts.", |c| &c.volumes),
            ("network_aliases", "Network aliases.", |c| {
                &c.network_aliases
            }),
            ("cmd", "The command, as an array.", |c| &c.cmd),
        ],
    );
    getters::<Env, Map>(
        r,
        &[("env_vars", "Environment variables (a map).", |c| {
            &c.env_vars
        })],
    );
    getters::<BTreeMap<String, String>, Map>(r, &[("labels", "Labels (a map).", |c| &c.labels)]);
    getters::<Option<String>, Dynamic>(
        r,
        &[
            ("network", "The network, or ().", |c| &c.network),
            ("cpu_limit", "CPU limit, or ().", |c| &c.cpu_limit),
            ("memory_limit", "Memory limit, or ().", |c| &c.memory_limit),
            ("memory_swap_limit", "Memory+swap limit, or ().", |c| {
                &c.memory_swap_limit
            }),
            ("cpu_shares", "CPU shares, or ().", |c| &c.cpu_shares),
            ("restart_policy", "Restart policy, or ().", |c| {
                &c.restart_policy
            }),
            ("snapshotter", "Snapshotter (nerdctl only), or ().", |c| {
                &c.snapshotter
            }),
        ],
    );
    getters::<bool, bool>(
        r,
        &[(
            "detach",
            "Whether build() runs the container in the background (default true).",
            |c| &c.detach,
        )],
    );
    getters::<Option<HealthCheck>, Dynamic>(
        r,
        &[("health_check", "The health check as a map, or ().", |c| {
            &c.health_check
        })],
    );
}
