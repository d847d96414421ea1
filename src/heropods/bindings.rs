//! Rhai glue for heropods: `heropods_new`, the `HeroPods` factory and `PodContainer`.

use std::sync::Arc;

use rhai::{Array, Dynamic, Map, INT};

use super::image_cache::{ImageEntry, Source};
use super::spec::{self, BindMount, Limits, NetworkMode, Overrides, PullPolicy, Seccomp};
use super::{CreateRequest, Pods, PodsOptions, Status, DEFAULT_GRACE};
use crate::glue::{
    invalid, map_of, seconds, string_array, words, IntoRhai, Opts, RResult, Registrar,
};
use crate::host::Host;
// The shared result type of commands; it lives in process/ today (containers/ uses it the
// same way). Only the glue touches it.
use crate::exec::CommandResult;

/// The factory scripts hold.
#[derive(Clone)]
pub struct HeroPods(Arc<Pods>);

/// A handle on one container of a factory.
#[derive(Clone)]
pub struct PodContainer {
    pods: Arc<Pods>,
    name: String,
    image: String,
    warnings: Vec<String>,
}

fn status_map(s: Status) -> Map {
    let opt_int = |v: Option<i64>| v.map_or(Dynamic::UNIT, |x| Dynamic::from(x as INT));
    map_of([
        ("name", s.name.into()),
        ("state", s.state.clone().into()),
        ("running", (s.state == "running").into()),
        ("pid", opt_int(s.pid)),
        ("exit_code", opt_int(s.exit_code)),
        ("created", (s.created as INT).into()),
        ("started", opt_int(s.started)),
        ("image", s.image.into()),
        ("image_id", s.image_id.into()),
        ("ip", s.ip.map_or(Dynamic::UNIT, Dynamic::from)),
        ("network", s.network.into()),
        ("runtime", s.runtime.into()),
        ("keep_alive", s.keep_alive.into()),
        (
            "ports",
            Dynamic::from_array(s.ports.into_iter().map(Dynamic::from).collect()),
        ),
        ("problem", s.problem.map_or(Dynamic::UNIT, Dynamic::from)),
    ])
}

fn image_map(e: ImageEntry) -> Dynamic {
    Dynamic::from_map(map_of([
        ("id", e.image.id.clone().into()),
        (
            "refs",
            Dynamic::from_array(e.refs.into_iter().map(Dynamic::from).collect()),
        ),
        ("size", (e.image.size as INT).into()),
        ("unpacked", (e.image.unpacked as INT).into()),
    ]))
}

/// A command given as a string (`sh -c`) or an argv array.
fn command(v: &Dynamic, field: &str) -> RResult<Vec<String>> {
    if v.is_string() {
        return Ok(vec!["sh".into(), "-c".into(), v.to_string()]);
    }
    if let Some(arr) = v.read_lock::<Array>() {
        return Ok(string_array(&arr));
    }
    Err(invalid(
        field,
        format!("expected a string or an array, got {}", v.type_name()),
    ))
}

fn pods_options(m: &Map) -> RResult<PodsOptions> {
    let o = Opts::new(
        "heropods_new",
        m,
        &["base_dir", "runtime", "bridge", "subnet", "storage", "dns"],
    )?;
    let dns = match m.get("dns") {
        None => Vec::new(),
        Some(v) if v.is_unit() => Vec::new(),
        Some(v) => match v.read_lock::<Array>() {
            Some(a) => string_array(&a),
            None => return Err(invalid("dns", "expected an array of addresses")),
        },
    };
    Ok(PodsOptions {
        base_dir: o.string("base_dir")?,
        runtime: o.string("runtime")?,
        bridge: o.string("bridge")?,
        subnet: o.string("subnet")?,
        storage: o.string("storage")?,
        dns,
    })
}

const CREATE_KEYS: [&str; 17] = [
    "name",
    "image",
    "docker_url",
    "reset",
    "cmd",
    "entrypoint",
    "env",
    "workdir",
    "user",
    "mounts",
    "memory",
    "cpus",
    "pids",
    "network",
    "pull",
    "ports",
    "seccomp",
];

fn create_request(m: &Map) -> RResult<CreateRequest> {
    let o = Opts::new("container_new", m, &CREATE_KEYS)?;
    let name = o
        .string("name")?
        .ok_or_else(|| invalid("name", "is required"))?;
    let image = o.string("image")?;
    let docker_url = o.string("docker_url")?;
    let (image, source) =
        match (image, docker_url) {
            (Some(i), None) => {
                let s = Source::parse(&i).rhai()?;
                (i, s)
            }
            (None, Some(u)) => (u.clone(), Source::registry(&u).rhai()?),
            (Some(i), Some(u)) if i == "custom" => (u.clone(), Source::registry(&u).rhai()?),
            (Some(_), Some(_)) => return Err(invalid(
                "docker_url",
                "give `image` or `docker_url`, not both (or `image: \"custom\"` as in seed 002)",
            )),
            // Seed 002's default image type.
            (None, None) => (
                "alpine_3_20".to_string(),
                Source::parse("alpine_3_20").rhai()?,
            ),
        };
    let mounts = match m.get("mounts") {
        None => Vec::new(),
        Some(v) if v.is_unit() => Vec::new(),
        Some(v) => {
            let arr = v
                .read_lock::<Array>()
                .ok_or_else(|| invalid("mounts", "expected an array"))?;
            arr.iter().map(mount).collect::<RResult<Vec<_>>>()?
        }
    };
    let memory = match m.get("memory") {
        None => None,
        Some(v) if v.is_unit() => None,
        Some(v) if v.is_string() => Some(spec::memory_str(&v.to_string()).rhai()?),
        Some(v) => match v.as_int() {
            Ok(i) => Some(spec::memory_bytes(i).rhai()?),
            Err(t) => {
                return Err(invalid(
                    "memory",
                    format!("expected bytes or a size, got {t}"),
                ))
            }
        },
    };
    let cpus = match m.get("cpus") {
        None => None,
        Some(v) if v.is_unit() => None,
        Some(v) => {
            let f = v
                .as_float()
                .or_else(|_| v.as_int().map(|i| i as f64))
                .map_err(|t| invalid("cpus", format!("expected a number, got {t}")))?;
            Some(f)
        }
    };
    let pids = match m.get("pids") {
        None => None,
        Some(v) if v.is_unit() => None,
        Some(v) => Some(
            v.as_int()
                .map_err(|t| invalid("pids", format!("expected an integer, got {t}")))?,
        ),
    };
    let opt_words = |k: &str| -> RResult<Option<Vec<String>>> {
        match m.get(k) {
            None => Ok(None),
            Some(v) if v.is_unit() => Ok(None),
            Some(v) => words(v, k).map(Some),
        }
    };
    let overrides = Overrides {
        cmd: opt_words("cmd")?,
        entrypoint: opt_words("entrypoint")?,
        env: o.string_map("env")?,
        workdir: o.string("workdir")?,
        user: o.string("user")?,
        mounts,
        limits: Limits { memory, cpus, pids },
        network: match o.string("network")? {
            Some(n) => NetworkMode::parse(&n).rhai()?,
            None => NetworkMode::Bridge,
        },
        ports: match m.get("ports") {
            None => Vec::new(),
            Some(v) if v.is_unit() => Vec::new(),
            Some(v) => {
                let arr = v
                    .read_lock::<Array>()
                    .ok_or_else(|| invalid("ports", "expected an array of strings"))?;
                string_array(&arr)
                    .iter()
                    .map(|p| spec::port(p))
                    .collect::<Result<Vec<_>, _>>()
                    .rhai()?
            }
        },
        seccomp: Seccomp::from_flag(o.bool("seccomp")?.unwrap_or(true)),
    };
    Ok(CreateRequest {
        name,
        image,
        source: Some(source),
        reset: o.bool("reset")?.unwrap_or(false),
        overrides,
        pull: match o.string("pull")? {
            Some(p) => PullPolicy::parse(&p).rhai()?,
            None => PullPolicy::Missing,
        },
    })
}

/// A mount: `"SRC:DST[:ro]"` or `#{source, destination, readonly}`.
fn mount(v: &Dynamic) -> RResult<BindMount> {
    if v.is_string() {
        return BindMount::parse(&v.to_string()).rhai();
    }
    let m = v
        .read_lock::<Map>()
        .ok_or_else(|| invalid("mounts", "each mount is a string or a map"))?;
    let o = Opts::new("mounts", &m, &["source", "destination", "readonly"])?;
    let source = o
        .string("source")?
        .ok_or_else(|| invalid("mounts.source", "is required"))?;
    let destination = o
        .string("destination")?
        .ok_or_else(|| invalid("mounts.destination", "is required"))?;
    BindMount::new(&source, &destination, o.bool("readonly")?.unwrap_or(false)).rhai()
}

fn handle(pods: &Arc<Pods>, name: &str, image: &str, warnings: Vec<String>) -> PodContainer {
    PodContainer {
        pods: pods.clone(),
        name: name.to_string(),
        image: image.to_string(),
        warnings,
    }
}

pub fn register(r: &mut Registrar, host: &Arc<Host>) {
    r.engine()
        .register_type_with_name::<HeroPods>("HeroPods")
        .register_type_with_name::<PodContainer>("PodContainer");
    register_factory(r, host);
    register_container(r, host);
}

fn register_factory(r: &mut Registrar, host: &Arc<Host>) {
    let h = host.clone();
    r.func(
        "heropods_new",
        &[],
        r#"A heropods factory: daemonless containers on runc or crun (whichever works on this
host), kept under herodo's state directory, on the bridge `herodo0` (10.89.77.0/24).
Throws `missing_tool` when no OCI runtime is installed.
```rhai
let pods = heropods_new();
```"#,
        move || -> RResult<HeroPods> {
            Pods::open(&h, &PodsOptions::default())
                .map(|p| HeroPods(Arc::new(p)))
                .rhai()
        },
    );
    let h = host.clone();
    r.func(
        "heropods_new",
        &["options"],
        r#"A heropods factory with options: `base_dir` (absolute), `runtime` ("runc", "crun" or a
path), `bridge` and `subnet` (bridge networking), `storage` ("auto", "overlay", "copy"),
`dns` (array of server addresses). Throws `invalid_argument` for a bad option (for example
crun on a host whose cgroups it refuses), before anything is written.
```rhai
let pods = heropods_new(#{base_dir: "/var/lib/pods", runtime: "runc"});
```"#,
        move |m: Map| -> RResult<HeroPods> {
            let o = pods_options(&m)?;
            Pods::open(&h, &o).map(|p| HeroPods(Arc::new(p))).rhai()
        },
    );
    r.getter(
        "base_dir",
        "Where the factory keeps images and containers.",
        |p: &mut HeroPods| p.0.paths.base().display().to_string(),
    );
    r.getter(
        "runtime",
        "The OCI runtime binary new containers run on.",
        |p: &mut HeroPods| p.0.runtime.clone(),
    );
    r.getter(
        "bridge",
        "The bridge of bridge networking.",
        |p: &mut HeroPods| p.0.net.bridge.clone(),
    );
    r.getter("subnet", "The bridge's subnet.", |p: &mut HeroPods| {
        p.0.net.subnet()
    });

    let h = host.clone();
    r.func(
        "container_new",
        &["pods", "options"],
        r#"Create a container (it runs on `start()`). Keys: `name` (required), `image` (a
reference such as "localhost/app:1" (podman/buildah storage), "127.0.0.1:5000/app:1" (a
registry, fetched with skopeo), "oci:/dir:tag", or seed 002's "alpine_3_20", "ubuntu_24_04",
"ubuntu_25_04"), `docker_url`, `reset` (replace an existing container of that name; without
it, an existing one is returned as it is), `cmd`, `entrypoint` (string or array), `env` (map
of strings; a `()` value or a `KEY=value` over 128 KiB is refused), `workdir`, `user`, `mounts`
(["/src:/dst:ro"] or maps; destinations are cleaned, and `/`, `/proc`, `/sys`, `/dev` refused
however spelled), `memory` (bytes or "64m"), `cpus`, `pids`, `network` ("bridge", "none",
"host"), `pull` ("missing" or "always"), `seccomp` (true: Docker's default syscall filter, the
default; false: none), `ports` (published from `start()` to `stop()`: ["127.0.0.1:8080:80",
"8443:443/tcp", "5353:53/udp"], podman's `-p` with the host port given, IPv4, tcp or udp,
ranges of equal length).
Throws `invalid_argument` (bad name, reference, mount, limit, env, port; an image whose config
no start could run, e.g. a NUL in its Env) before anything is written, `image_not_found`,
`command_failed` (a tool failed), `limit` (the image's /etc/passwd or /etc/group over 4 MiB).
```rhai
let c = pods.container_new(#{name: "web", image: "localhost/busybox:test",
    cmd: ["httpd", "-f", "-p", "80"], memory: "64m", env: #{MODE: "prod"},
    ports: ["127.0.0.1:8080:80"]});
```"#,
        move |p: &mut HeroPods, m: Map| -> RResult<PodContainer> {
            let req = create_request(&m)?;
            let rec = p.0.create(&h, &req).rhai()?;
            for w in &rec.warnings {
                eprintln!("warning: heropods {}: {w}", rec.name);
            }
            Ok(handle(&p.0, &rec.name, &rec.image, rec.warnings))
        },
    );
    r.func(
        "get",
        &["pods", "name"],
        r#"The container `name` (created by this or an earlier herodo run). A container whose
record is corrupt is returned too (its status says "broken"), so that `delete()` can remove it.
Throws `no_such_container`.
```rhai
let c = pods.get("web");
```"#,
        |p: &mut HeroPods, name: &str| -> RResult<PodContainer> {
            let (image, warnings) = p.0.lookup(name).rhai()?;
            Ok(handle(&p.0, name, &image, warnings))
        },
    );
    let h = host.clone();
    r.func(
        "list",
        &["pods"],
        r#"Every container of the factory as a status map (see `status()`), sorted by name.
```rhai
for s in pods.list() { print(`${s.name}: ${s.state}`); }
```"#,
        move |p: &mut HeroPods| -> RResult<Array> {
            Ok(p.0
                .list(&h)
                .rhai()?
                .into_iter()
                .map(|s| Dynamic::from_map(status_map(s)))
                .collect())
        },
    );
    r.func(
        "images",
        &["pods"],
        r#"The unpacked images: maps with `id`, `refs` (the references that name it), `size`
(bytes) and `unpacked` (Unix time).
```rhai
for i in pods.images() { print(`${i.id} ${i.refs}`); }
```"#,
        |p: &mut HeroPods| -> RResult<Array> {
            Ok(p.0.images().rhai()?.into_iter().map(image_map).collect())
        },
    );
    let h = host.clone();
    r.func(
        "image_remove",
        &["pods", "image"],
        r#"Forget an image reference (or an image id); the unpacked files go when no reference
is left. Returns whether the files were removed. Throws `image_not_found`, and
`image_in_use` while a container still uses it.
```rhai
pods.image_remove("localhost/busybox:test");
```"#,
        move |p: &mut HeroPods, what: &str| -> RResult<bool> { p.0.image_remove(&h, what).rhai() },
    );
}

fn register_container(r: &mut Registrar, host: &Arc<Host>) {
    r.getter("name", "The container's name.", |c: &mut PodContainer| {
        c.name.clone()
    });
    r.getter(
        "image",
        "The image the container was made from.",
        |c: &mut PodContainer| c.image.clone(),
    );
    r.getter(
        "warnings",
        "Warnings about the container's configuration (seed 002's bare-shell warning).",
        |c: &mut PodContainer| -> Array { c.warnings.iter().cloned().map(Dynamic::from).collect() },
    );

    let h = host.clone();
    r.func(
        "start",
        &["container"],
        r#"Start the container detached; its output goes to its log. Starting a running
container does nothing. Publishes its `ports` and writes its name into the /etc/hosts of the
running containers of its base directory on its bridge (and theirs into its own). Throws
`port_in_use` when a host port is published by another container or rule, or a process on the
host is bound to it (nothing is started then). Returns the container.
```rhai
c.start();
```"#,
        move |c: &mut PodContainer| -> RResult<PodContainer> {
            c.pods.start(&h, &c.name, false).rhai()?;
            Ok(c.clone())
        },
    );
    let h = host.clone();
    r.func(
        "start",
        &["container", "options"],
        r#"Start with options: `keep_alive: true` keeps the container running after its
entrypoint exits with 0 (seed 002; needs /bin/sh in the image).
```rhai
c.start(#{keep_alive: true});
```"#,
        move |c: &mut PodContainer, m: Map| -> RResult<PodContainer> {
            let o = Opts::new("start", &m, &["keep_alive"])?;
            let keep = o.bool("keep_alive")?.unwrap_or(false);
            c.pods.start(&h, &c.name, keep).rhai()?;
            Ok(c.clone())
        },
    );
    let h = host.clone();
    r.func(
        "stop",
        &["container"],
        r#"Stop: SIGTERM, then SIGKILL after 10 s; its published ports and its name in the other
containers' /etc/hosts go. Stopping a stopped container is fine.
```rhai
c.stop();
```"#,
        move |c: &mut PodContainer| -> RResult<()> {
            c.pods.stop(&h, &c.name, DEFAULT_GRACE).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "stop",
        &["container", "grace"],
        r#"Stop with `grace` seconds between SIGTERM and SIGKILL.
```rhai
c.stop(1);
```"#,
        move |c: &mut PodContainer, g: Dynamic| -> RResult<()> {
            let grace = seconds(&g, "grace")?;
            c.pods.stop(&h, &c.name, grace).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "delete",
        &["container"],
        r#"Remove the container (stopping it first) and all it had: runtime state, writable
layer, bundle, network namespace, address, cgroups. Returns false when it did not exist.
```rhai
c.delete();
```"#,
        move |c: &mut PodContainer| -> RResult<bool> { c.pods.delete(&h, &c.name).rhai() },
    );
    let h = host.clone();
    r.func(
        "exec",
        &["container", "command"],
        r#"Run a shell line (`sh -c`, in the container) or an argv array in the running
container; returns a CommandResult. Throws `command_failed` on a non-zero exit,
`not_running` when the container does not run.
```rhai
let r = c.exec("cat /etc/hostname");
let r2 = c.exec(["ls", "-l", "/"]);
```"#,
        move |c: &mut PodContainer, v: Dynamic| -> RResult<CommandResult> {
            exec(&h, c, &v, &Map::new())
        },
    );
    let h = host.clone();
    r.func(
        "exec",
        &["container", "command", "options"],
        r#"`exec` with options: `ignore_error` (return the result of a failing command instead
of throwing), `timeout` (seconds; 0 means none, the default is herodo's `--timeout`).
```rhai
let r = c.exec("exit 3", #{ignore_error: true});
```"#,
        move |c: &mut PodContainer, v: Dynamic, m: Map| -> RResult<CommandResult> {
            exec(&h, c, &v, &m)
        },
    );
    let h = host.clone();
    r.func(
        "status",
        &["container"],
        r#"A map: `name`, `state` ("created", "running", "stopped", or "broken" when its
record is corrupt), `running`, `pid`, `exit_code` (when stopped and known), `created`,
`started` (Unix time), `image`, `image_id`, `ip` (on the bridge), `network`, `runtime`,
`keep_alive`, `ports` (the published ports, canonical: "127.0.0.1:8080:80/tcp"), `problem`
(why it is broken, else ()).
Throws `no_such_container`.
```rhai
print(c.status().state);
```"#,
        move |c: &mut PodContainer| -> RResult<Map> {
            Ok(status_map(c.pods.status(&h, &c.name).rhai()?))
        },
    );
    r.func(
        "logs",
        &["container"],
        r#"The container's output so far (stdout and stderr as written). herodo keeps the
last 8 to 16 MiB of it (the log is rotated at 8 MiB); more than 8 MiB in one call is a `limit`
error: read the end with `logs(#{tail: N})`.
```rhai
print(c.logs());
```"#,
        |c: &mut PodContainer| -> RResult<String> {
            c.pods.logs(&c.name, Default::default()).rhai()
        },
    );
    r.func(
        "logs",
        &["container", "options"],
        r#"Part of the container's output: `tail` (the last N lines), `since_bytes` (what
comes after the first N bytes of what is kept: pass the byte length of what you read before
to read only what is new). At most 8 MiB (else a `limit` error).
```rhai
print(c.logs(#{tail: 20}));
```"#,
        |c: &mut PodContainer, m: Map| -> RResult<String> {
            let o = Opts::new("logs", &m, &["tail", "since_bytes"])?;
            let window = super::logs::Window {
                tail: o.count("tail")?,
                since_bytes: o.count("since_bytes")?,
            };
            c.pods.logs(&c.name, window).rhai()
        },
    );
}

fn exec(host: &Host, c: &PodContainer, v: &Dynamic, m: &Map) -> RResult<CommandResult> {
    let o = Opts::new("exec", m, &["ignore_error", "timeout"])?;
    let argv = command(v, "command")?;
    let timeout = o.timeout("timeout")?;
    let (cmd, out) = c.pods.exec(host, &c.name, &argv, timeout).rhai()?;
    if !out.success() && !o.bool("ignore_error")?.unwrap_or(false) {
        return Err::<_, _>(crate::exec::ExecError::failed(&cmd, &out)).rhai();
    }
    Ok(CommandResult::from_output(&cmd, &out))
}
