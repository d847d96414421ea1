//! Rhai glue for running pods: `pod_logs`, `pod_logs_follow`, `pod_exec`, `port_forward` and
//! its `PortForward` handle, `pod_copy_to` / `pod_copy_from`.

use std::sync::Arc;

use rhai::{Dynamic, FnPtr, Map, NativeCallContext, INT};

use super::Kube;
use crate::exec::CommandResult;
use crate::glue::{invalid, IntoRhai, Opts, RResult, Registrar};
use crate::host::Resource;
use crate::kube::error::KubeError;
use crate::kube::resource::{check_label, check_name};
use crate::kube::stream::{ExecRequest, Forward, LogOptions};
use crate::kube::{copy, ws, Cluster};

/// A port-forward as scripts hold it.
#[derive(Clone)]
pub struct PortForward {
    fwd: Forward,
    /// `pod/NAME` (the pod that serves it).
    target: String,
    remote_port: INT,
    /// The name it has in the test runner's cleanup.
    label: String,
}

const LOG_KEYS: [&str; 8] = [
    "namespace",
    "container",
    "tail",
    "since",
    "timestamps",
    "previous",
    "limit_bytes",
    "follow",
];

fn namespace(kk: &Kube, o: &Opts) -> RResult<(Arc<Cluster>, String)> {
    let ns = o.string("namespace")?;
    if let Some(ns) = &ns {
        check_label("namespace", ns).rhai()?;
    }
    let cluster = kk.cluster()?;
    let ns = ns.unwrap_or_else(|| cluster.namespace.clone());
    Ok((cluster, ns))
}

fn count_i64(o: &Opts, key: &str) -> RResult<Option<i64>> {
    Ok(o.count(key)?.map(|n| n.min(i64::MAX as u64) as i64))
}

fn log_options(o: &Opts) -> RResult<LogOptions> {
    let since = match o.seconds("since")? {
        Some(d) if d.as_secs() == 0 => return Err(invalid("since", "must be at least 1 second")),
        Some(d) => Some(d.as_secs().min(i64::MAX as u64) as i64),
        None => None,
    };
    let limit_bytes = count_i64(o, "limit_bytes")?;
    if limit_bytes == Some(0) {
        return Err(invalid("limit_bytes", "must be at least 1"));
    }
    Ok(LogOptions {
        container: o.string("container")?,
        tail: count_i64(o, "tail")?,
        since_seconds: since,
        timestamps: o.bool("timestamps")?.unwrap_or(false),
        previous: o.bool("previous")?.unwrap_or(false),
        limit_bytes,
    })
}

pub fn register(r: &mut Registrar, k: &Arc<Kube>) {
    r.engine()
        .register_type_with_name::<PortForward>("PortForward");
    register_logs(r, k);
    register_exec(r, k);
    register_forward(r, k);
    register_copy(r, k);
    register_push(r, k);
}

fn register_push(r: &mut Registrar, k: &Arc<Kube>) {
    for with_name in [false, true] {
        let kk = k.clone();
        let push = move |local: &str, reg: Dynamic, name: Option<String>| -> RResult<Map> {
            use crate::kube::registry;
            if local.is_empty() {
                return Err(invalid("local_ref", "is empty"));
            }
            // The registry: deploy()'s answer, or a name in the configured namespace.
            let cluster = kk.cluster()?;
            let (reg_name, reg_ns, prefix) = if let Some(m) = reg.read_lock::<Map>() {
                let get = |k: &str| m.get(k).map(|v| v.to_string());
                let n = get("name").ok_or_else(|| invalid("registry", "has no name"))?;
                let ns = get("namespace").unwrap_or_else(|| cluster.namespace.clone());
                let prefix = get("image_prefix")
                    .unwrap_or_else(|| format!("{n}.{ns}.svc.cluster.local:5000/"));
                (n, ns, prefix)
            } else if reg.is_string() {
                let n = reg.to_string();
                let ns = cluster.namespace.clone();
                let prefix = format!("{n}.{ns}.svc.cluster.local:5000/");
                (n, ns, prefix)
            } else {
                return Err(invalid(
                    "registry",
                    format!("expected deploy()'s map or a name, got {}", reg.type_name()),
                ));
            };
            check_label("registry", &reg_name).rhai()?;
            check_label("namespace", &reg_ns).rhai()?;
            let name = match name {
                Some(n) => n,
                None => registry::repo_name(local).ok_or_else(|| {
                    invalid("name", format!("{local} names no image: pass a name"))
                })?,
            };
            let bad = name.is_empty()
                || name.starts_with('/')
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-/:@".contains(c));
            if bad {
                return Err(invalid("name", format!("{name:?} is not a repository:tag")));
            }
            let (pod, port) = cluster
                .forward_target(
                    &reg_ns,
                    &format!("svc/{reg_name}"),
                    crate::kube::builders::REGISTRY_PORT,
                )
                .rhai()?;
            let image = format!("{prefix}{name}");
            if kk.host.dry_run(|| {
                format!("kube: push {local} to registry {reg_ns}/{reg_name} as {image}")
            }) {
                return Ok(crate::glue::map_of([
                    ("image", image.into()),
                    ("name", name.into()),
                ]));
            }
            let fwd = cluster.port_forward(&reg_ns, &pod, port, 0).rhai()?;
            let argv = registry::skopeo_argv(local, fwd.local_port, &name);
            let cmd = crate::exec::Cmd::from_argv(&argv)
                .ok_or_else(|| invalid("argv", "is empty"))?
                .timeout(
                    kk.host
                        .settings
                        .default_timeout
                        .max(std::time::Duration::from_secs(600)),
                );
            let res = kk.host.exec_checked(cmd);
            fwd.close();
            res.rhai()?;
            Ok(crate::glue::map_of([
                ("image", image.into()),
                ("name", name.into()),
            ]))
        };
        if with_name {
            r.func(
                "push_image",
                &["local_ref", "registry", "name"],
                r#"`push_image` under another `repository:tag` in the registry (needed for an
`oci:DIR` source, which names no image).
```rhai
push_image("oci:/tmp/app-layout:1", reg, "app:1");
```"#,
                move |local: &str, reg: Dynamic, name: &str| push(local, reg, Some(name.into())),
            );
        } else {
            r.func(
                "push_image",
                &["local_ref", "registry"],
                r#"Push a local image into an in-cluster registry (`registry`: what
`ns.registry(n).deploy()` returned, or the registry's name in the configured namespace):
skopeo copies it (from containers-storage, where podman and buildah keep images, unless the
reference names a transport such as `oci:`) to 127.0.0.1:PORT, a port-forward to the
registry's pod. The image keeps its path without the registry host (`localhost/app:1` ->
`app:1`). Returns `#{image, name}`: `image` is the reference pods use
(`NAME.NS.svc.cluster.local:5000/app:1`). Throws `command_not_found` without skopeo,
`command_failed` when the copy fails, `not_running` when the registry has no running pod.
```rhai
let reg = kubernetes("infra").registry("images").deploy();
let pushed = push_image("localhost/app:1", reg);
print(pushed.image);
```"#,
                move |local: &str, reg: Dynamic| push(local, reg, None),
            );
        }
    }
}

fn register_logs(r: &mut Registrar, k: &Arc<Kube>) {
    let kk = k.clone();
    r.func(
        "pod_logs",
        &["name", "options"],
        r#"The log of a pod (stdout and stderr as the node merged them). Options: `namespace`
(default the configured one), `container` (needed when the pod has several), `tail` (the last
N lines), `since` (seconds back), `timestamps` (prefix each line with its RFC 3339 time),
`previous` (the log of the container's previous, crashed instance), `limit_bytes`, `follow`
(keep reading until the container ends; see `pod_logs_follow` for a line at a time).
"" for a pod that has not run. Throws `not_found`, `invalid` (no such container, no previous
instance).
```rhai
print(pod_logs("web-0", #{tail: 20, timestamps: true, namespace: "prod"}));
```"#,
        move |name: &str, m: Map| -> RResult<String> {
            let o = Opts::new("pod_logs", &m, &LOG_KEYS)?;
            check_name("name", name).rhai()?;
            let (cluster, ns) = namespace(&kk, &o)?;
            let opts = log_options(&o)?;
            if o.bool("follow")?.unwrap_or(false) {
                let mut all = String::new();
                cluster
                    .follow_logs(&ns, name, &opts, |line| {
                        all.push_str(&line);
                        all.push('\n');
                        Ok(true)
                    })
                    .rhai()?;
                return Ok(all);
            }
            cluster.logs(&ns, name, &opts).rhai()
        },
    );
    for with_opts in [false, true] {
        let kk = k.clone();
        let follow = move |ctx: &NativeCallContext, name: &str, m: Map, f: FnPtr| {
            let o = Opts::new("pod_logs_follow", &m, &LOG_KEYS[..7])?;
            check_name("name", name).rhai()?;
            let (cluster, ns) = namespace(&kk, &o)?;
            let opts = log_options(&o)?;
            let mut failed = None;
            let n = cluster
                .follow_logs(&ns, name, &opts, |line| {
                    match f.call_within_context::<Dynamic>(ctx, (line,)) {
                        Ok(v) => Ok(v.as_bool().unwrap_or(true)),
                        Err(e) => {
                            failed = Some(e);
                            Ok(false)
                        }
                    }
                })
                .rhai()?;
            match failed {
                Some(e) => Err(e),
                None => Ok(n.min(INT::MAX as u64) as INT),
            }
        };
        if with_opts {
            r.func(
                "pod_logs_follow",
                &["name", "options", "callback"],
                r#"`pod_logs_follow` with the options of `pod_logs` (`namespace`, `container`,
`tail`, `since`, `timestamps`, `previous`, `limit_bytes`).
```rhai
pod_logs_follow("web-0", #{tail: 0, container: "main"}, |line| !line.contains("ready"));
```"#,
                move |ctx: NativeCallContext, name: &str, m: Map, f: FnPtr| {
                    follow(&ctx, name, m, f)
                },
            );
        } else {
            r.func(
                "pod_logs_follow",
                &["name", "callback"],
                r#"Follow a pod's log: `callback` gets each line (without its newline) as it is
written, until it returns `false` or the container ends. Returns how many lines it saw.
Ctrl-C stops it.
```rhai
let seen = pod_logs_follow("web-0", |line| { print(line); !line.contains("listening") });
```"#,
                move |ctx: NativeCallContext, name: &str, f: FnPtr| {
                    follow(&ctx, name, Map::new(), f)
                },
            );
        }
    }
}

/// A failed exec's runtime error as the kind scripts branch on.
fn exec_error(pod: &str, code: u16, reason: String, message: String) -> KubeError {
    match ws::classify_exec_failure(&message) {
        ws::ExecFailure::NotRunning => KubeError::Workload {
            kind: crate::error::kind::NOT_RUNNING,
            message: format!("cannot exec in pod {pod}: its container is not running ({message})"),
            logs: String::new(),
        },
        ws::ExecFailure::CommandNotFound => KubeError::Workload {
            kind: crate::error::kind::COMMAND_NOT_FOUND,
            message: format!("exec in pod {pod}: {message}"),
            logs: String::new(),
        },
        ws::ExecFailure::Other => KubeError::Api {
            code,
            reason,
            message: format!("exec in pod {pod}: {message}"),
            fields: Vec::new(),
        },
    }
}

/// Run `req` in the pod and make a CommandResult of it: a non-zero exit is `command_failed`
/// unless `ignore`; the runtime's refusals get their kinds (`exec_error`).
pub(super) fn exec_in(
    kk: &Kube,
    ns: &str,
    name: &str,
    req: &ExecRequest,
    timeout: std::time::Duration,
    ignore: bool,
) -> RResult<CommandResult> {
    let cluster = kk.cluster()?;
    let shown = format!("{ns}/{name}");
    let cmd = kk.host.redact(&shell_words::join(&req.argv));
    if kk
        .host
        .dry_run(|| format!("kube: exec in pod {shown}: {cmd}"))
    {
        return Ok(CommandResult {
            stdout: String::new(),
            stderr: String::new(),
            success: true,
            code: 0,
            signal: None,
            cmd,
            duration: std::time::Duration::ZERO,
            truncated: false,
        });
    }
    let out = cluster.exec(ns, name, req, timeout).rhai()?;
    let code = match out.end {
        ws::ExecEnd::Exited(c) => c,
        ws::ExecEnd::Error {
            code,
            reason,
            message,
        } => return Err(exec_error(&shown, code, reason, message)).rhai(),
    };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if code != 0 && !ignore {
        return Err(KubeError::ExecFailed {
            pod: shown,
            cmd,
            code,
            stdout,
            stderr,
        })
        .rhai();
    }
    Ok(CommandResult {
        stdout,
        stderr,
        success: code == 0,
        code: i64::from(code),
        signal: None,
        cmd,
        duration: out.duration,
        truncated: false,
    })
}

fn register_exec(r: &mut Registrar, k: &Arc<Kube>) {
    for with_opts in [false, true] {
        let kk = k.clone();
        let exec = move |name: &str, argv: Dynamic, m: Map| -> RResult<CommandResult> {
            let o = Opts::new(
                "pod_exec",
                &m,
                &[
                    "namespace",
                    "container",
                    "stdin",
                    "tty",
                    "timeout",
                    "ignore_error",
                ],
            )?;
            check_name("name", name).rhai()?;
            let argv = crate::glue::words(&argv, "argv")?;
            if argv.is_empty() {
                return Err(invalid("argv", "is empty"));
            }
            let (_, ns) = namespace(&kk, &o)?;
            let req = ExecRequest {
                argv,
                container: o.string("container")?,
                stdin: o.string("stdin")?.map(String::into_bytes),
                tty: o.bool("tty")?.unwrap_or(false),
            };
            let timeout = o
                .timeout("timeout")?
                .unwrap_or(kk.host.settings.default_timeout);
            let ignore = o.bool("ignore_error")?.unwrap_or(false);
            exec_in(&kk, &ns, name, &req, timeout, ignore)
        };
        if with_opts {
            r.func(
                "pod_exec",
                &["name", "argv", "options"],
                r#"`pod_exec` with options: `namespace`, `container` (needed when the pod has
several), `stdin` (a string written to the command's standard input, then closed), `tty`
(a terminal: stderr comes merged into stdout), `timeout` (seconds; default the `run` default),
`ignore_error` (return a failed result instead of throwing).
```rhai
let r = pod_exec("web-0", ["sh", "-c", "cat > /tmp/x; wc -c < /tmp/x"], #{stdin: "hello"});
let r = pod_exec("web-0", "false", #{ignore_error: true});
print(r.code);
```"#,
                exec,
            );
        } else {
            r.func(
                "pod_exec",
                &["name", "argv"],
                r#"Run a command in a pod's container (the websocket exec protocol, as kubectl
does): `argv` is an array, or a string split like a shell would (no shell runs it). Returns a
CommandResult (`stdout`, `stderr`, `code`, `success`). Throws `command_failed` (with the code
and output) for a non-zero exit, `not_running` when the container does not run,
`command_not_found` when the image lacks the program, `not_found` for a missing pod.
```rhai
let r = pod_exec("web-0", ["cat", "/etc/hostname"]);
print(r.stdout);
```"#,
                move |name: &str, argv: Dynamic| exec(name, argv, Map::new()),
            );
        }
    }
}

fn forward_target(cluster: &Cluster, ns: &str, target: &str, port: i64) -> RResult<(String, u16)> {
    cluster.forward_target(ns, target, port).rhai()
}

/// Open a forward to `target` (see `Cluster::forward_target`) and register it with the test
/// runner's cleanup.
pub(super) fn open_forward(
    kk: &Kube,
    cluster: &Cluster,
    ns: &str,
    target: &str,
    port: INT,
    local: u16,
) -> RResult<PortForward> {
    let (pod, remote) = forward_target(cluster, ns, target, port)?;
    if kk
        .host
        .dry_run(|| format!("kube: forward 127.0.0.1 to pod {ns}/{pod} port {remote}"))
    {
        return Err(invalid(
            "port_forward",
            "cannot forward under --dry-run (nothing runs)",
        ));
    }
    let fwd = cluster.port_forward(ns, &pod, remote, local).rhai()?;
    let label = format!("127.0.0.1:{} -> {ns}/{pod}:{remote}", fwd.local_port);
    let f2 = fwd.clone();
    kk.host
        .resources
        .register(Resource::new("port_forward", label.clone(), move |_| {
            f2.close();
            Ok(())
        }));
    Ok(PortForward {
        fwd,
        target: format!("pod/{pod}"),
        remote_port: INT::from(remote),
        label,
    })
}

impl PortForward {
    pub(super) fn local_port(&self) -> u16 {
        self.fwd.local_port
    }
}

fn register_forward(r: &mut Registrar, k: &Arc<Kube>) {
    for with_opts in [false, true] {
        let kk = k.clone();
        let forward = move |target: &str, port: INT, m: Map| -> RResult<PortForward> {
            let o = Opts::new("port_forward", &m, &["namespace", "local_port"])?;
            let (cluster, ns) = namespace(&kk, &o)?;
            let local = match o.count("local_port")? {
                None => 0,
                Some(p) if p <= 65535 => p as u16,
                Some(p) => return Err(invalid("local_port", format!("{p} is not a port"))),
            };
            open_forward(&kk, &cluster, &ns, target, port, local)
        };
        if with_opts {
            r.func(
                "port_forward",
                &["target", "remote_port", "options"],
                r#"`port_forward` with options `namespace` and `local_port` (default: a free one).
```rhai
let f = port_forward("svc/registry", 5000, #{namespace: "infra", local_port: 15000});
```"#,
                forward,
            );
        } else {
            r.func(
                "port_forward",
                &["target", "remote_port"],
                r#"Forward a local port on 127.0.0.1 to `remote_port` of a pod (`NAME` or
`pod/NAME`) or of a service (`svc/NAME`: its target port on one of its running pods). Returns a
handle: `.local_port`, `.close()`. Each local connection opens its own stream to the pod. The
forward ends with `close()`, with the script, or with the test that opened it.
```rhai
let f = port_forward("web-0", 8080);
print(http_get(`http://127.0.0.1:${f.local_port}/`));
f.close();
```"#,
                move |target: &str, port: INT| forward(target, port, Map::new()),
            );
        }
    }
    r.getter(
        "local_port",
        r#"The port on 127.0.0.1 that reaches the pod.
```rhai
print(port_forward("web-0", 80).local_port);
```"#,
        |f: &mut PortForward| -> INT { INT::from(f.fwd.local_port) },
    );
    r.getter(
        "remote_port",
        r#"The pod's port the forward reaches.
```rhai
print(port_forward("svc/web", 80).remote_port);
```"#,
        |f: &mut PortForward| -> INT { f.remote_port },
    );
    r.getter(
        "target",
        r#"The pod the forward reaches, as `pod/NAME` (a service's is resolved to one pod).
```rhai
print(port_forward("svc/web", 80).target);
```"#,
        |f: &mut PortForward| -> String { f.target.clone() },
    );
    let kk = k.clone();
    r.func(
        "close",
        &["forward"],
        r#"Stop the forward: the local port closes and open connections end. Closing twice
is harmless.
```rhai
let f = port_forward("web-0", 8080);
f.close();
```"#,
        move |f: &mut PortForward| {
            f.fwd.close();
            kk.host.resources.forget("port_forward", &f.label);
        },
    );
    r.pure(
        "to_string",
        &["forward"],
        r#"`port_forward(127.0.0.1:PORT -> NS/POD:PORT)`.
```rhai
print(port_forward("web-0", 8080).to_string());
```"#,
        |f: &mut PortForward| -> String {
            let state = if f.fwd.is_closed() { ", closed" } else { "" };
            format!("port_forward({}{state})", f.label)
        },
    );
}

fn register_copy(r: &mut Registrar, k: &Arc<Kube>) {
    for (fname, to_pod) in [("pod_copy_to", true), ("pod_copy_from", false)] {
        for with_opts in [false, true] {
            let kk = k.clone();
            let copy_fn = move |name: &str, a: &str, b: &str, m: Map| -> RResult<INT> {
                let o = Opts::new(fname, &m, &["namespace", "container", "timeout"])?;
                check_name("name", name).rhai()?;
                let (cluster, ns) = namespace(&kk, &o)?;
                let container = o.string("container")?;
                let timeout = o
                    .timeout("timeout")?
                    .unwrap_or(kk.host.settings.default_timeout);
                let (local, remote) = if to_pod { (a, b) } else { (b, a) };
                if local.is_empty() || remote.is_empty() {
                    return Err(invalid("path", "is empty"));
                }
                let shown = format!("{ns}/{name}");
                let arrow = if to_pod {
                    format!("{local} -> pod {shown}:{remote}")
                } else {
                    format!("pod {shown}:{remote} -> {local}")
                };
                if kk.host.dry_run(|| format!("kube: copy {arrow}")) {
                    return Ok(0);
                }
                let n = if to_pod {
                    copy::copy_to(&cluster, &ns, name, container, local, remote, timeout)
                } else {
                    copy::copy_from(&cluster, &ns, name, container, remote, local, timeout)
                };
                n.map(|n| n.min(INT::MAX as u64) as INT).rhai()
            };
            let (params, doc): (&[&str], &str) = match (to_pod, with_opts) {
                (true, false) => (
                    &["name", "local", "remote"],
                    r#"Copy a local file or directory into a pod (a tar stream into `tar x` run
in the container, as `kubectl cp` does; the image needs `tar`). `remote` is the path it gets
in the container. Returns the number of bytes of file content copied. Throws `not_found` for a
missing local path, `not_running`, `command_failed` when tar fails in the container.
```rhai
pod_copy_to("web-0", "site/index.html", "/var/www/index.html");
```"#,
                ),
                (true, true) => (
                    &["name", "local", "remote", "options"],
                    r#"`pod_copy_to` with options `namespace`, `container`, `timeout`.
```rhai
pod_copy_to("web-0", "conf", "/etc/app", #{container: "main", namespace: "prod"});
```"#,
                ),
                (false, false) => (
                    &["name", "remote", "local"],
                    r#"Copy a file or directory out of a pod (`tar c` run in the container,
unpacked here; nothing lands outside `local`). Returns the number of bytes of file content
copied. Throws `command_failed` when the path does not exist in the container.
```rhai
pod_copy_from("web-0", "/var/log/app.log", "app.log");
```"#,
                ),
                (false, true) => (
                    &["name", "remote", "local", "options"],
                    r#"`pod_copy_from` with options `namespace`, `container`, `timeout`.
```rhai
pod_copy_from("web-0", "/etc/app", "conf-copy", #{container: "main"});
```"#,
                ),
            };
            if with_opts {
                r.func(fname, params, doc, copy_fn);
            } else {
                r.func(fname, params, doc, move |n: &str, a: &str, b: &str| {
                    copy_fn(n, a, b, Map::new())
                });
            }
        }
    }
}
