//! Container operations: argv from the pure builders, run through the host's executor, output
//! parsed per flavor. Everything herodo creates carries the owner label and is registered with
//! the host so `herodo test` can remove it after a test.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::error::classify_failure;
use super::parse::{self, ContainerRow, ImageRow, ResourceUsage, Status};
use super::{validate, Container, ContainerError, Flavor, OWNER_LABEL};
use crate::exec::{Cmd, Output};
use crate::host::{Host, Resource};
use crate::process::CommandResult;

type Result<T> = std::result::Result<T, ContainerError>;

/// The owner label value on everything herodo creates.
pub const OWNER: &str = "herodo";

/// The engine CLI in use.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineCli {
    pub flavor: Flavor,
    pub program: String,
}

impl EngineCli {
    pub fn cmd<I, S>(&self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Cmd::new(&self.program).args(args)
    }
}

/// Pick the engine: `--engine` / HERODO_CONTAINER_ENGINE (a flavor name or a path to one), else
/// the first installed of nerdctl, podman, docker. Under --dry-run a named engine need not exist.
pub fn resolve(host: &Host) -> Result<EngineCli> {
    let wanted = host
        .settings
        .container_engine
        .clone()
        .or_else(|| std::env::var("HERODO_CONTAINER_ENGINE").ok())
        .filter(|s| !s.is_empty());
    if let Some(w) = wanted {
        let base = w.rsplit('/').next().unwrap_or(&w);
        let flavor = Flavor::from_name(base).ok_or_else(|| {
            ContainerError::invalid("engine", format!("`{w}` is not nerdctl, podman or docker"))
        })?;
        return match crate::exec::which(&w) {
            Some(p) => Ok(EngineCli {
                flavor,
                program: p.display().to_string(),
            }),
            None if host.settings.dry_run => Ok(EngineCli { flavor, program: w }),
            None => Err(ContainerError::EngineMissing(w)),
        };
    }
    for flavor in Flavor::ALL {
        if let Some(p) = crate::exec::which(flavor.name()) {
            return Ok(EngineCli {
                flavor,
                program: p.display().to_string(),
            });
        }
    }
    if host.settings.dry_run {
        return Ok(EngineCli {
            flavor: Flavor::Nerdctl,
            program: "nerdctl".into(),
        });
    }
    Err(ContainerError::EngineNotInstalled)
}

fn run(host: &Host, cmd: Cmd, subject: &str) -> Result<Output> {
    host.exec_checked(cmd)
        .map_err(|e| classify_failure(e, subject))
}

fn result(cmd: &Cmd, out: &Output) -> CommandResult {
    CommandResult::from_output(cmd, out)
}

fn run_result(host: &Host, cmd: Cmd, subject: &str) -> Result<CommandResult> {
    let out = run(host, cmd.clone(), subject)?;
    Ok(result(&cmd, &out))
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

/// Where a multi-line health check script of container `name` is kept on the host.
fn healthcheck_file(name: &str) -> PathBuf {
    dirs::state_dir()
        .or_else(dirs::data_local_dir)
        .unwrap_or_else(std::env::temp_dir)
        .join("herodo/healthchecks")
        .join(format!("{name}.sh"))
}

fn register_container(host: &Host, e: &EngineCli, name: &str) {
    let engine = e.clone();
    let n = name.to_string();
    host.resources.forget("container", name);
    host.resources
        .register(Resource::new("container", name, move |h| {
            h.exec(engine.cmd(super::rm_argv(engine.flavor, &n)))
                .map(|_| ())
                .map_err(|err| err.to_string())
        }));
}

fn register_named(
    host: &Host,
    e: &EngineCli,
    kind: &'static str,
    rm: &'static [&'static str],
    name: &str,
) {
    let engine = e.clone();
    let n = name.to_string();
    host.resources.forget(kind, name);
    host.resources.register(Resource::new(kind, name, move |h| {
        let mut args: Vec<String> = rm.iter().map(|s| s.to_string()).collect();
        args.push(n.clone());
        h.exec(engine.cmd(args))
            .map(|_| ())
            .map_err(|err| err.to_string())
    }));
}

/// Create and run the container (`run`); fills `container_id`.
pub fn build(host: &Host, e: &EngineCli, c: &mut Container) -> Result<CommandResult> {
    c.validate()?;
    let mut script_file = None;
    if let Some(h) = &c.health_check {
        if super::health_cmd(h).1 {
            let path = healthcheck_file(&c.name);
            if !host.settings.dry_run {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|err| {
                        ContainerError::invalid(
                            "health_check",
                            format!("cannot create {}: {err}", dir.display()),
                        )
                    })?;
                }
                std::fs::write(&path, format!("set -e\n{}\n", h.cmd)).map_err(|err| {
                    ContainerError::invalid(
                        "health_check",
                        format!("cannot write {}: {err}", path.display()),
                    )
                })?;
            }
            script_file = Some(path.display().to_string());
        }
    }
    let argv = super::run_argv(e.flavor, c, OWNER, script_file.as_deref());
    let mut cmd = e.cmd(argv);
    for (k, v) in &c.env_vars {
        cmd = cmd.env(k, v);
    }
    if !c.detach {
        cmd = cmd.echo(true);
    }
    // Registered before running: a failed `run` may still have created the container.
    register_container(host, e, &c.name);
    let out = run(host, cmd.clone(), &c.image)?;
    c.container_id = if host.settings.dry_run {
        format!("dry-run-{}", c.name)
    } else if c.detach {
        first_line(&out.stdout)
    } else {
        first_line(
            &run(
                host,
                e.cmd(["inspect", "--format", "{{.Id}}", c.name.as_str()]),
                &c.name,
            )?
            .stdout,
        )
    };
    Ok(result(&cmd, &out))
}

/// Last lines of a container's logs, for error messages.
fn log_tail(host: &Host, e: &EngineCli, name: &str) -> String {
    match host.exec(e.cmd(["logs", "--tail", "10", name])) {
        Ok(o) => {
            let text = format!("{}{}", o.stdout, o.stderr);
            let text = text.trim_end();
            if text.is_empty() {
                String::new()
            } else {
                format!("; last log lines:\n{text}")
            }
        }
        Err(_) => String::new(),
    }
}

/// Start the container (building it first when it has no id yet) and check it is running.
pub fn start(host: &Host, e: &EngineCli, c: &mut Container) -> Result<CommandResult> {
    let res = if c.container_id.is_empty() {
        build(host, e, c)?
    } else {
        run_result(host, e.cmd(["start", c.name.as_str()]), &c.name)?
    };
    if host.settings.dry_run {
        return Ok(res);
    }
    // A container that dies right after starting is a failed start: look a few times.
    for i in 0..3 {
        let st = status(host, e, &c.name)?;
        if !st.running {
            return Err(ContainerError::NotRunning {
                name: c.name.clone(),
                state: st.status,
                logs: log_tail(host, e, &c.name),
            });
        }
        if i < 2 {
            sleep(host, Duration::from_millis(100))?;
        }
    }
    Ok(res)
}

/// Stop with SIGTERM, then SIGKILL after `grace` seconds. Stopping a stopped container is fine.
pub fn stop(host: &Host, e: &EngineCli, name: &str, grace: Option<u64>) -> Result<CommandResult> {
    validate::name("name", name)?;
    let mut args = vec!["stop".to_string()];
    if let Some(g) = grace {
        args.extend(["-t".into(), g.to_string()]);
    }
    args.push(name.into());
    let cmd = e.cmd(args);
    // Stopping can take the whole grace period: allow for it.
    let cmd = match grace {
        Some(g) => cmd.timeout(
            host.settings
                .default_timeout
                .max(Duration::from_secs(g + 30)),
        ),
        None => cmd,
    };
    run_result(host, cmd, name)
}

/// Remove (forcefully, also when running). Removing a container that does not exist is fine.
pub fn remove(host: &Host, e: &EngineCli, name: &str) -> Result<CommandResult> {
    validate::name("name", name)?;
    let cmd = e.cmd(super::rm_argv(e.flavor, name));
    let res = match run_result(host, cmd.clone(), name) {
        Err(ContainerError::NoSuchContainer { .. }) => {
            let mut empty = Output::empty_success();
            empty.stderr = format!("no such container: {name}");
            Ok(result(&cmd, &empty))
        }
        other => other,
    };
    host.resources.forget("container", name);
    res
}

/// What to run inside a container.
pub enum ExecCommand {
    /// A shell line, run with `sh -c`.
    Shell(String),
    /// An argv, run as is.
    Argv(Vec<String>),
}

pub fn exec(host: &Host, e: &EngineCli, name: &str, what: ExecCommand) -> Result<CommandResult> {
    validate::name("name", name)?;
    let mut args = vec!["exec".to_string(), name.to_string()];
    match what {
        ExecCommand::Shell(line) => args.extend(["sh".into(), "-c".into(), line]),
        ExecCommand::Argv(argv) => {
            if argv.is_empty() {
                return Err(ContainerError::invalid("command", "the argv is empty"));
            }
            args.extend(argv);
        }
    }
    run_result(host, e.cmd(args), name)
}

/// `cp SRC DST`; one side is `container:/path`.
pub fn copy(host: &Host, e: &EngineCli, src: &str, dst: &str) -> Result<CommandResult> {
    if src.is_empty() || dst.is_empty() || src.starts_with('-') || dst.starts_with('-') {
        return Err(ContainerError::invalid(
            "copy",
            "source and destination must be paths (one of them `container:/path`)",
        ));
    }
    let subject = [src, dst]
        .iter()
        .find_map(|p| p.split_once(':').map(|(c, _)| c.to_string()))
        .unwrap_or_default();
    run_result(host, e.cmd(["cp", src, dst]), &subject)
}

pub fn export(host: &Host, e: &EngineCli, name: &str, path: &str) -> Result<CommandResult> {
    validate::name("name", name)?;
    if path.is_empty() {
        return Err(ContainerError::invalid("path", "is empty"));
    }
    run_result(host, e.cmd(["export", "-o", path, name]), name)
}

pub fn commit(host: &Host, e: &EngineCli, name: &str, image: &str) -> Result<CommandResult> {
    validate::name("name", name)?;
    validate::image("image", image)?;
    let r = run_result(host, e.cmd(["commit", name, image]), name)?;
    register_named(host, e, "image", &["rmi", "-f"], image);
    Ok(r)
}

/// Logs so far; with `follow`, stream them to stdout until the container stops (or Ctrl-C).
pub fn logs(host: &Host, e: &EngineCli, name: &str, follow: bool) -> Result<CommandResult> {
    validate::name("name", name)?;
    let cmd = if follow {
        e.cmd(["logs", "-f", name]).echo(true)
    } else {
        e.cmd(["logs", name])
    };
    run_result(host, cmd, name)
}

pub fn status(host: &Host, e: &EngineCli, name: &str) -> Result<Status> {
    validate::name("name", name)?;
    let cmd = e.cmd(["inspect", name]);
    let out = run(host, cmd.clone(), name)?;
    if host.settings.dry_run {
        return Ok(Status::default());
    }
    parse::inspect(&out.stdout).map_err(|reason| ContainerError::Parse {
        cmd: cmd.to_string(),
        reason,
    })
}

/// Run the health check now where the engine does not schedule it itself (podman without
/// systemd); the engine records the result in the container's state.
fn drive_health_check(host: &Host, e: &EngineCli, name: &str) {
    if e.flavor == Flavor::Podman {
        let _ = host.exec(e.cmd(["healthcheck", "run", name]));
    }
}

/// `healthy`, `unhealthy`, `starting`, or `none` without a health check.
pub fn health_status(host: &Host, e: &EngineCli, name: &str) -> Result<String> {
    drive_health_check(host, e, name);
    Ok(status(host, e, name)?
        .health_status
        .unwrap_or_else(|| "none".into()))
}

pub fn resources(host: &Host, e: &EngineCli, name: &str) -> Result<ResourceUsage> {
    validate::name("name", name)?;
    let cmd = e.cmd(super::stats_argv(e.flavor, name));
    let out = run(host, cmd.clone(), name)?;
    if host.settings.dry_run {
        return Ok(ResourceUsage::default());
    }
    parse::stats(e.flavor, &out.stdout).map_err(|reason| ContainerError::Parse {
        cmd: cmd.to_string(),
        reason,
    })
}

fn sleep(host: &Host, d: Duration) -> Result<()> {
    host.sleep(d)
        .map_err(|_| ContainerError::Exec(crate::exec::ExecError::Cancelled { cmd: "wait".into() }))
}

/// Wait until the health check reports healthy. Throws `timeout` (with the last check's output)
/// or `not_running` when the container stops.
pub fn wait_healthy(host: &Host, e: &EngineCli, name: &str, timeout: Duration) -> Result<Status> {
    let start = Instant::now();
    loop {
        // On podman herodo runs each check itself, back to back (each costs ~120 ms), so
        // healthy is seen as soon as it is true; other engines run their own checks.
        drive_health_check(host, e, name);
        let st = status(host, e, name)?;
        if host.settings.dry_run || st.health_status.as_deref() == Some("healthy") {
            return Ok(st);
        }
        if st.health_status.is_none() && st.running {
            return Err(ContainerError::invalid(
                "health_check",
                format!("container {name} has no health check"),
            ));
        }
        if !st.running {
            return Err(ContainerError::NotRunning {
                name: name.into(),
                state: st.status,
                logs: log_tail(host, e, name),
            });
        }
        if start.elapsed() >= timeout {
            let last = st.health_output.unwrap_or_default();
            return Err(ContainerError::Timeout {
                what: format!(
                    "container {name} becoming healthy (it is {})",
                    st.health_status.unwrap_or_default()
                ),
                secs: timeout.as_secs_f64(),
                detail: if last.trim().is_empty() {
                    String::new()
                } else {
                    format!("; last check said: {}", last.trim())
                },
            });
        }
        if e.flavor != Flavor::Podman {
            sleep(
                host,
                Duration::from_millis(50).min(timeout.saturating_sub(start.elapsed())),
            )?;
        }
    }
}

/// Wait until the container's logs match the regular expression `pattern`.
pub fn wait_for_log(
    host: &Host,
    e: &EngineCli,
    name: &str,
    pattern: &str,
    timeout: Duration,
) -> Result<String> {
    let re = regex::Regex::new(pattern)
        .map_err(|err| ContainerError::invalid("pattern", err.to_string()))?;
    let start = Instant::now();
    loop {
        let out = run(host, e.cmd(["logs", name]), name)?;
        let text = format!("{}{}", out.stdout, out.stderr);
        if host.settings.dry_run {
            return Ok(String::new());
        }
        if let Some(line) = text.lines().find(|l| re.is_match(l)) {
            return Ok(line.to_string());
        }
        if start.elapsed() >= timeout {
            return Err(ContainerError::Timeout {
                what: format!("a log line of {name} matching `{pattern}`"),
                secs: timeout.as_secs_f64(),
                detail: String::new(),
            });
        }
        sleep(
            host,
            Duration::from_millis(100).min(timeout.saturating_sub(start.elapsed())),
        )?;
    }
}

/// Wait until the host side of the container's published `port` accepts connections.
pub fn wait_for_port(
    host: &Host,
    e: &EngineCli,
    name: &str,
    port: u16,
    timeout: Duration,
) -> Result<(String, u16)> {
    let start = Instant::now();
    let spec = format!("{port}/tcp");
    let out = run(host, e.cmd(["port", name, spec.as_str()]), name)?;
    if host.settings.dry_run {
        return Ok(("127.0.0.1".into(), port));
    }
    let (h, p) = parse::published(&out.stdout).ok_or_else(|| {
        ContainerError::invalid(
            "port",
            format!("port {port} of {name} is not published (use with_port)"),
        )
    })?;
    crate::net::wait_for_port(&h, p, timeout.saturating_sub(start.elapsed()), &host.cancel)
        .map_err(|err| ContainerError::Timeout {
            what: format!("port {port} of {name} ({h}:{p}) accepting connections"),
            secs: timeout.as_secs_f64(),
            detail: format!(" ({err})"),
        })?;
    Ok((h, p))
}

pub fn list_raw(host: &Host, e: &EngineCli, all: bool) -> Result<CommandResult> {
    let mut args = vec!["ps"];
    if all {
        args.push("-a");
    }
    run_result(host, e.cmd(args), "")
}

pub fn container_list(host: &Host, e: &EngineCli, all: bool) -> Result<Vec<ContainerRow>> {
    let cmd = e.cmd(super::ps_argv(e.flavor, all, None));
    let out = run(host, cmd.clone(), "")?;
    parse::ps(e.flavor, &out.stdout).map_err(|reason| ContainerError::Parse {
        cmd: cmd.to_string(),
        reason,
    })
}

pub fn images_raw(host: &Host, e: &EngineCli) -> Result<CommandResult> {
    run_result(host, e.cmd(["images"]), "")
}

pub fn image_list(host: &Host, e: &EngineCli) -> Result<Vec<ImageRow>> {
    let cmd = e.cmd(super::images_argv(e.flavor));
    let out = run(host, cmd.clone(), "")?;
    parse::images(e.flavor, &out.stdout).map_err(|reason| ContainerError::Parse {
        cmd: cmd.to_string(),
        reason,
    })
}

pub fn image_remove(host: &Host, e: &EngineCli, image: &str) -> Result<CommandResult> {
    validate::image("image", image)?;
    let r = run_result(host, e.cmd(["rmi", image]), image)?;
    host.resources.forget("image", image);
    Ok(r)
}

pub fn image_tag(host: &Host, e: &EngineCli, image: &str, new_name: &str) -> Result<CommandResult> {
    validate::image("image", image)?;
    validate::image("new_name", new_name)?;
    let r = run_result(host, e.cmd(["tag", image, new_name]), image)?;
    register_named(host, e, "image", &["rmi", "-f"], new_name);
    Ok(r)
}

pub fn image_pull(host: &Host, e: &EngineCli, image: &str) -> Result<CommandResult> {
    validate::image("image", image)?;
    let r = run_result(
        host,
        e.cmd(super::registry_argv(e.flavor, "pull", image)),
        image,
    )?;
    register_named(host, e, "image", &["rmi", "-f"], image);
    Ok(r)
}

/// Push `image` to `destination` (tagging it first when the names differ).
pub fn image_push(
    host: &Host,
    e: &EngineCli,
    image: &str,
    destination: &str,
) -> Result<CommandResult> {
    validate::image("image", image)?;
    validate::image("destination", destination)?;
    if image != destination {
        image_tag(host, e, image, destination)?;
    }
    run_result(
        host,
        e.cmd(super::registry_argv(e.flavor, "push", destination)),
        destination,
    )
}

pub fn image_build(host: &Host, e: &EngineCli, tag: &str, context: &str) -> Result<CommandResult> {
    validate::image("tag", tag)?;
    if !std::path::Path::new(context).is_dir() {
        return Err(ContainerError::invalid(
            "context",
            format!("{context} is not a directory"),
        ));
    }
    let r = run_result(host, e.cmd(["build", "-t", tag, context]), tag)?;
    register_named(host, e, "image", &["rmi", "-f"], tag);
    Ok(r)
}

/// Options of `network_create`.
#[derive(Default)]
pub struct NetworkOptions {
    pub driver: Option<String>,
    pub subnet: Option<String>,
}

pub fn network_create(
    host: &Host,
    e: &EngineCli,
    name: &str,
    o: &NetworkOptions,
) -> Result<CommandResult> {
    validate::name("network", name)?;
    let mut args = vec![
        "network".to_string(),
        "create".into(),
        "--label".into(),
        format!("{OWNER_LABEL}={OWNER}"),
    ];
    if let Some(d) = &o.driver {
        validate::name("driver", d)?;
        args.extend(["--driver".into(), d.clone()]);
    }
    if let Some(s) = &o.subnet {
        let ok = s.split_once('/').is_some_and(|(ip, bits)| {
            ip.parse::<std::net::IpAddr>().is_ok() && bits.parse::<u8>().is_ok_and(|b| b <= 128)
        });
        if !ok {
            return Err(ContainerError::invalid(
                "subnet",
                format!("`{s}` is not a CIDR like 10.89.0.0/24"),
            ));
        }
        args.extend(["--subnet".into(), s.clone()]);
    }
    args.push(name.into());
    let r = run_result(host, e.cmd(args), name)?;
    register_named(host, e, "network", &["network", "rm"], name);
    Ok(r)
}

/// Remove a network; a missing one is fine.
pub fn network_remove(host: &Host, e: &EngineCli, name: &str) -> Result<CommandResult> {
    validate::name("network", name)?;
    host.resources.forget("network", name);
    let cmd = e.cmd(["network", "rm", name]);
    let out = host.exec(cmd.clone())?;
    if !out.success()
        && !out.stderr.to_ascii_lowercase().contains("not found")
        && !out.stderr.contains("No such network")
    {
        return Err(classify_failure(
            crate::exec::ExecError::failed(&cmd, &out),
            name,
        ));
    }
    Ok(result(&cmd, &out))
}

/// Rows of `network ls` / `volume ls`: each a (name, driver) pair.
fn name_driver_rows(flavor: Flavor, text: &str) -> Vec<(String, String)> {
    let t = text.trim();
    let values: Vec<serde_json::Value> = if t.starts_with('[') {
        serde_json::from_str::<Vec<serde_json::Value>>(t).unwrap_or_default()
    } else {
        t.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };
    let pick = |v: &serde_json::Value, keys: &[&str]| {
        keys.iter()
            .find_map(|k| v[*k].as_str().map(String::from))
            .unwrap_or_default()
    };
    let _ = flavor;
    values
        .iter()
        .map(|v| (pick(v, &["Name", "name"]), pick(v, &["Driver", "driver"])))
        .collect()
}

pub fn network_list(host: &Host, e: &EngineCli) -> Result<Vec<(String, String)>> {
    let fmt = if e.flavor == Flavor::Podman {
        "json"
    } else {
        "{{json .}}"
    };
    let out = run(host, e.cmd(["network", "ls", "--format", fmt]), "")?;
    Ok(name_driver_rows(e.flavor, &out.stdout))
}

pub fn volume_create(
    host: &Host,
    e: &EngineCli,
    name: &str,
    driver: Option<&str>,
) -> Result<CommandResult> {
    validate::name("volume", name)?;
    let mut args = vec![
        "volume".to_string(),
        "create".into(),
        "--label".into(),
        format!("{OWNER_LABEL}={OWNER}"),
    ];
    if let Some(d) = driver {
        validate::name("driver", d)?;
        args.extend(["--driver".into(), d.into()]);
    }
    args.push(name.into());
    let r = run_result(host, e.cmd(args), name)?;
    register_named(host, e, "volume", &["volume", "rm", "-f"], name);
    Ok(r)
}

/// Remove a volume; a missing one is fine.
pub fn volume_remove(host: &Host, e: &EngineCli, name: &str) -> Result<CommandResult> {
    validate::name("volume", name)?;
    host.resources.forget("volume", name);
    let cmd = e.cmd(["volume", "rm", "-f", name]);
    let out = host.exec(cmd.clone())?;
    let lower = out.stderr.to_ascii_lowercase();
    if !out.success() && !lower.contains("no such volume") && !lower.contains("not found") {
        return Err(classify_failure(
            crate::exec::ExecError::failed(&cmd, &out),
            name,
        ));
    }
    Ok(result(&cmd, &out))
}

pub fn volume_list(host: &Host, e: &EngineCli) -> Result<Vec<(String, String)>> {
    let fmt = if e.flavor == Flavor::Podman {
        "json"
    } else {
        "{{json .}}"
    };
    let out = run(host, e.cmd(["volume", "ls", "--format", fmt]), "")?;
    Ok(name_driver_rows(e.flavor, &out.stdout))
}

/// Remove every container carrying the label `key=value` (when `what` contains `=`) or whose
/// name starts with `what`. Returns the names removed.
pub fn cleanup(host: &Host, e: &EngineCli, what: &str) -> Result<Vec<String>> {
    if what.trim().is_empty() {
        return Err(ContainerError::invalid(
            "label_or_prefix",
            "must not be empty (it would match everything)",
        ));
    }
    let rows = if what.contains('=') {
        let cmd = e.cmd(super::ps_argv(
            e.flavor,
            true,
            Some(&format!("label={what}")),
        ));
        let out = run(host, cmd.clone(), "")?;
        parse::ps(e.flavor, &out.stdout).map_err(|reason| ContainerError::Parse {
            cmd: cmd.to_string(),
            reason,
        })?
    } else {
        container_list(host, e, true)?
            .into_iter()
            .filter(|r| r.name.starts_with(what))
            .collect()
    };
    let mut removed = Vec::new();
    for r in rows {
        remove(host, e, &r.name)?;
        removed.push(r.name);
    }
    Ok(removed)
}

/// Run an image quickly (the seeds' `nerdctl_run*` functions).
pub fn run_image(
    host: &Host,
    e: &EngineCli,
    image: &str,
    name: Option<&str>,
    ports: &[String],
    snapshotter: Option<&str>,
) -> Result<CommandResult> {
    let name = match name {
        Some(n) => n.to_string(),
        None => format!(
            "herodo-{}-{}",
            std::process::id(),
            crate::misc::timestamp_ms() % 1_000_000
        ),
    };
    let mut c = Container::from_image(&name, image)?;
    c.ports = ports.to_vec();
    c.snapshotter = snapshotter.map(String::from);
    build(host, e, &mut c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{CancelToken, RecordingExecutor};
    use crate::host::Settings;
    use std::sync::Arc;

    use crate::host::recording_host as host;

    fn engine(f: Flavor) -> EngineCli {
        EngineCli {
            flavor: f,
            program: f.name().into(),
        }
    }

    #[test]
    fn build_passes_env_values_through_the_environment_and_registers_cleanup() {
        let (h, rec) = host();
        let mut out = Output::empty_success();
        out.stdout = "abc123\n".into();
        rec.reply(out);
        let mut c = Container::from_image("web", "localhost/busybox:test").unwrap();
        c.env_vars.insert("PASSWORD".into(), "hunter2!".into());
        let r = build(&h, &engine(Flavor::Docker), &mut c).unwrap();
        assert_eq!(c.container_id, "abc123");
        let calls = rec.calls();
        assert_eq!(
            calls[0].env,
            vec![("PASSWORD".to_string(), "hunter2!".to_string())]
        );
        assert!(!r.cmd.contains("hunter2"), "{}", r.cmd);
        assert!(
            r.cmd.starts_with("PASSWORD=*** docker run -d --name web"),
            "{}",
            r.cmd
        );
        assert_eq!(h.resources.len(), 1);
        h.cleanup_resources();
        assert_eq!(
            rec.argvs().last().unwrap(),
            &vec!["docker", "rm", "-f", "web"]
        );
    }

    #[test]
    fn invalid_values_run_nothing() {
        let (h, rec) = host();
        let mut c = Container::from_image("web", "localhost/busybox:test").unwrap();
        c.ports.push("not-a-port".into());
        assert!(matches!(
            build(&h, &engine(Flavor::Podman), &mut c),
            Err(ContainerError::InvalidArgument { .. })
        ));
        assert!(remove(&h, &engine(Flavor::Podman), "bad name").is_err());
        assert!(image_tag(&h, &engine(Flavor::Podman), "ok", "Bad").is_err());
        assert!(cleanup(&h, &engine(Flavor::Podman), "").is_err());
        assert!(rec.calls().is_empty());
    }

    #[test]
    fn push_tags_first_when_names_differ() {
        let (h, rec) = host();
        image_push(
            &h,
            &engine(Flavor::Podman),
            "localhost/app:1",
            "127.0.0.1:5000/app:1",
        )
        .unwrap();
        assert_eq!(
            rec.argvs(),
            vec![
                vec!["podman", "tag", "localhost/app:1", "127.0.0.1:5000/app:1"],
                vec![
                    "podman",
                    "push",
                    "--tls-verify=false",
                    "127.0.0.1:5000/app:1"
                ],
            ]
        );
    }

    #[test]
    fn stop_exec_copy_argv() {
        let (h, rec) = host();
        let e = engine(Flavor::Nerdctl);
        stop(&h, &e, "web", Some(3)).unwrap();
        exec(&h, &e, "web", ExecCommand::Shell("echo hi".into())).unwrap();
        exec(
            &h,
            &e,
            "web",
            ExecCommand::Argv(vec!["ls".into(), "/".into()]),
        )
        .unwrap();
        copy(&h, &e, "/tmp/x", "web:/x").unwrap();
        export(&h, &e, "web", "/tmp/web.tar").unwrap();
        assert_eq!(
            rec.argvs(),
            vec![
                vec!["nerdctl", "stop", "-t", "3", "web"],
                vec!["nerdctl", "exec", "web", "sh", "-c", "echo hi"],
                vec!["nerdctl", "exec", "web", "ls", "/"],
                vec!["nerdctl", "cp", "/tmp/x", "web:/x"],
                vec!["nerdctl", "export", "-o", "/tmp/web.tar", "web"],
            ]
        );
    }

    #[test]
    fn engine_selection_honours_the_setting() {
        let mut settings = Settings {
            container_engine: Some("definitely-not-an-engine".into()),
            ..Settings::default()
        };
        let h = Host::with_executor(
            settings.clone(),
            Arc::new(RecordingExecutor::new()),
            CancelToken::new(),
        );
        assert!(matches!(
            resolve(&h),
            Err(ContainerError::InvalidArgument { .. })
        ));
        settings.container_engine = Some("nerdctl".into());
        settings.dry_run = true;
        let h = Host::with_executor(
            settings,
            Arc::new(RecordingExecutor::new()),
            CancelToken::new(),
        );
        assert_eq!(resolve(&h).unwrap().flavor, Flavor::Nerdctl);
    }
}
