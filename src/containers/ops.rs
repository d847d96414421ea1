//! Container operations: argv from the pure builders in `argv.rs`, run through the host's
//! executor, output parsed per flavor. Everything herodo creates carries the owner label
//! (`io.herodo.owner=TAG`, see [`crate::common::owner`]) and is registered with the host so
//! `herodo test` can remove it after a test; what herodo did not create (a name or tag that
//! existed already) is never registered, so cleanup never removes it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::argv;
use super::error::{
    classify_failure, is_name_clash, is_not_running, port_in_use, registry_failure,
};
use super::parse::{self, ContainerRow, ImageRow, NamedRow, ResourceUsage, Status};
use super::{
    validate, Container, ContainerError, CreateOptions, ExecCommand, ExecOptions, Flavor, Object,
};
use crate::common::owner::{abandoned, owner_label_arg, owner_tag, OWNER_LABEL};
use crate::error::Classify;
use crate::exec::CommandResult;
use crate::exec::{Cmd, ExecError, Output};
use crate::host::{Cleaned, Host, Resource};

type Result<T> = std::result::Result<T, ContainerError>;

/// How often a health check runs when nothing says otherwise (docker's and podman's default).
pub const DEFAULT_HEALTH_INTERVAL: Duration = Duration::from_secs(30);

/// How often `wait_healthy` looks at an engine that runs its checks itself (docker, nerdctl).
const HEALTH_POLL: Duration = Duration::from_millis(100);

/// The engine CLI in use.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineCli {
    pub flavor: Flavor,
    pub program: String,
}

impl EngineCli {
    pub fn cmd(&self, argv: argv::Argv) -> Cmd {
        Cmd::new(&self.program).args(argv)
    }

    fn installed(flavor: Flavor) -> Option<EngineCli> {
        crate::exec::which(flavor.name()).map(|p| EngineCli {
            flavor,
            program: p.display().to_string(),
        })
    }
}

/// The engine asked for: `--engine`, else HERODO_CONTAINER_ENGINE (empty means unset).
fn wanted_engine(host: &Host) -> Option<String> {
    host.settings
        .container_engine
        .clone()
        .or_else(|| std::env::var("HERODO_CONTAINER_ENGINE").ok())
        .filter(|s| !s.is_empty())
}

/// Pick the engine: `--engine` / HERODO_CONTAINER_ENGINE (a flavor name or a path to one), else
/// the first installed of nerdctl, podman, docker. Under --dry-run a named engine need not exist.
pub fn resolve(host: &Host) -> Result<EngineCli> {
    if let Some(w) = wanted_engine(host) {
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
    if let Some(e) = Flavor::ALL.into_iter().find_map(EngineCli::installed) {
        return Ok(e);
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

/// Run `cmd` and parse its stdout; under --dry-run (no output) the parse result is `dry`.
fn run_parsed<T>(
    host: &Host,
    cmd: Cmd,
    subject: &str,
    dry: impl FnOnce() -> T,
    parse: impl FnOnce(&str) -> std::result::Result<T, String>,
) -> Result<T> {
    let out = run(host, cmd.clone(), subject)?;
    if host.settings.dry_run {
        return Ok(dry());
    }
    parse(&out.stdout).map_err(|reason| ContainerError::Parse {
        cmd: cmd.to_string(),
        reason,
    })
}

/// A successful result with nothing run (an idempotent no-op), saying why on stderr.
fn noop_result(cmd: &Cmd, why: String) -> CommandResult {
    let mut empty = Output::empty_success();
    empty.stderr = why;
    result(cmd, &empty)
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

fn healthcheck_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("healthchecks")
}

/// A fresh host path for a multi-line health check script of container `name`. The name is
/// followed by `@` (which container names cannot contain) and a unique part, so a build that
/// fails on a name clash never overwrites the script of the container that holds the name, and
/// removing `name` finds exactly its own scripts.
fn new_healthcheck_file(state_dir: &Path, name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    healthcheck_dir(state_dir).join(format!("{name}@{}-{nanos}.sh", std::process::id()))
}

/// Remove the health check scripts of container `name` (a missing directory is fine).
fn remove_healthcheck_files(state_dir: &Path, name: &str) {
    let prefix = format!("{name}@");
    let Ok(entries) = std::fs::read_dir(healthcheck_dir(state_dir)) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// What is left on the host once an engine removed `what`: a container's health check scripts.
fn removed(host: &Host, what: Object, name: &str) {
    if what == Object::Container && !host.settings.dry_run {
        remove_healthcheck_files(&host.state_dir, name);
    }
}

/// Register something herodo created, so `herodo test` removes it after the test.
fn register(host: &Host, e: &EngineCli, what: Object, name: &str) {
    let engine = e.clone();
    let n = name.to_string();
    host.resources.forget(what.name(), name);
    host.resources
        .register(Resource::new(what.name(), name, move |h| {
            let res = h
                .exec(engine.cmd(argv::remove_argv(engine.flavor, what, &n)))
                .map(|_| ())
                .map_err(|err| err.to_string());
            removed(h, what, &n);
            res
        }));
}

/// Who owns container `name` and what state it is in, `None` when it does not exist: after a
/// failed `run` (a non-zero exit in the foreground, a start failure) the container may still have
/// been created, and then it is ours to clean up.
struct Ownership {
    owner: String,
    state: String,
}

fn ownership(host: &Host, e: &EngineCli, name: &str) -> Option<Ownership> {
    let out = host.exec(e.cmd(argv::owner_argv(name))).ok()?;
    if !out.success() {
        return None;
    }
    let mut words = out.stdout.split_whitespace();
    let (first, second) = (words.next().unwrap_or_default(), words.next());
    // An unlabelled container prints its state alone.
    let (owner, state) = match second {
        Some(state) => (first, state),
        None => ("", first),
    };
    Some(Ownership {
        owner: owner.to_string(),
        state: state.to_string(),
    })
}

/// Write a multi-line health check script for `c`; returns its host path.
fn write_healthcheck(host: &Host, c: &Container) -> Result<Option<PathBuf>> {
    let Some(h) = c.health_check.as_ref().filter(|h| h.is_script()) else {
        return Ok(None);
    };
    let path = new_healthcheck_file(&host.state_dir, &c.name);
    if !host.settings.dry_run {
        let content = format!("set -e\n{}\n", h.cmd);
        crate::common::state::write_atomic(&path, content.as_bytes()).map_err(|err| {
            ContainerError::invalid("health_check", format!("cannot write the script: {err}"))
        })?;
    }
    Ok(Some(path))
}

/// What `already_exists` says about a volume or network: herodo does not take it over.
const LEFT_ALONE: &str = "; herodo leaves it alone: remove it first, or pick another name";

/// A name the engine refused because it is taken: `already_exists`, keeping the refusal.
fn clash(what: Object, name: &str, origin: String, err: ExecError) -> ContainerError {
    ContainerError::AlreadyExists {
        what: what.name(),
        name: name.into(),
        origin,
        source: Some(Box::new(err)),
    }
}

/// Who made the container that holds `name`, and how to go on: truthful about a leftover of an
/// earlier herodo run (its owner tag says so) versus a container herodo did not create.
fn container_origin(host: &Host, e: &EngineCli, name: &str) -> String {
    let how = format!(
        "; remove it with nerdctl_remove(\"{name}\"), or let build() replace it: .with_replace(true)"
    );
    match ownership(host, e, name) {
        Some(o) if o.owner == owner_tag() => format!(", created earlier by this herodo run{how}"),
        Some(o) if !o.owner.is_empty() => format!(
            ", created by an earlier herodo run (owner tag {}, state {}){how}",
            o.owner, o.state
        ),
        _ => format!(", not created by herodo (herodo does not take it over){how}"),
    }
}

/// Create and run the container (`run`); fills `container_id`. A name that is taken is
/// `already_exists`, and the container holding it is left alone. A container this run created
/// but could not start (a host port that is taken: `port_in_use`) is removed again.
pub fn build(host: &Host, e: &EngineCli, c: &mut Container) -> Result<CommandResult> {
    c.validate()?;
    if c.replace {
        remove(host, e, &c.name)?;
    }
    let script = write_healthcheck(host, c)?;
    let script_arg = script.as_ref().map(|p| p.display().to_string());
    let argv = argv::run_argv(e.flavor, c, &owner_label_arg(), script_arg.as_deref());
    let mut cmd = e.cmd(argv);
    for (k, v) in &c.env_vars {
        cmd = cmd.env(k, v);
    }
    if !c.detach {
        cmd = cmd.echo(true);
    }
    let out = match host.exec_checked(cmd.clone()) {
        Ok(out) => out,
        Err(err) if is_name_clash(&err) => {
            if let Some(p) = &script {
                let _ = std::fs::remove_file(p);
            }
            let origin = container_origin(host, e, &c.name);
            return Err(clash(Object::Container, &c.name, origin, err));
        }
        Err(err) => {
            let ours = if host.settings.dry_run {
                None
            } else {
                ownership(host, e, &c.name).filter(|o| o.owner == owner_tag())
            };
            match ours {
                // Created but never started (a taken port, a bad mount, a missing binary): a
                // container nobody can use, which would only make the next run clash.
                Some(o) if o.state == "created" => {
                    let cmd = e.cmd(argv::remove_argv(e.flavor, Object::Container, &c.name));
                    let _ = host.exec(cmd);
                    if let Some(p) = &script {
                        let _ = std::fs::remove_file(p);
                    }
                }
                Some(_) => register(host, e, Object::Container, &c.name),
                None => {
                    if let Some(p) = &script {
                        let _ = std::fs::remove_file(p);
                    }
                }
            }
            if let Some(port) = port_in_use(&err) {
                return Err(ContainerError::PortInUse {
                    name: c.name.clone(),
                    port,
                    source: Box::new(err),
                });
            }
            return Err(registry_failure(err, &c.image));
        }
    };
    register(host, e, Object::Container, &c.name);
    c.container_id = if host.settings.dry_run {
        format!("dry-run-{}", c.name)
    } else if c.detach {
        first_line(&out.stdout)
    } else {
        first_line(&run(host, e.cmd(argv::id_argv(&c.name)), &c.name)?.stdout)
    };
    Ok(result(&cmd, &out))
}

/// Last lines of a container's logs, for error messages; scrubbed of every secret the script
/// handed over (a container that prints its environment must not leak it into `e.message`).
fn log_tail(host: &Host, e: &EngineCli, name: &str) -> String {
    match host.exec(e.cmd(argv::logs_argv(name, false, Some(10)))) {
        Ok(o) => {
            let text = format!("{}{}", o.stdout, o.stderr);
            let text = text.trim_end();
            if text.is_empty() {
                String::new()
            } else {
                host.redact(&format!("; last log lines:\n{text}"))
            }
        }
        Err(_) => String::new(),
    }
}

/// `not_running` for a container that stopped, with its state and (`logs`) its last log lines.
fn not_running(
    host: &Host,
    e: &EngineCli,
    name: &str,
    state: String,
    logs: bool,
) -> ContainerError {
    ContainerError::NotRunning {
        name: name.into(),
        state,
        logs: if logs {
            log_tail(host, e, name)
        } else {
            String::new()
        },
    }
}

/// Start the container and check it is running. A container without an id (never built, or
/// removed with `remove()`) is created from its configuration first.
pub fn start(host: &Host, e: &EngineCli, c: &mut Container) -> Result<CommandResult> {
    let res = if c.container_id.is_empty() {
        build(host, e, c)?
    } else {
        run_result(host, e.cmd(argv::start_argv(&c.name)), &c.name)?
    };
    if host.settings.dry_run {
        return Ok(res);
    }
    // A container that dies right after starting is a failed start: look a few times.
    for i in 0..3 {
        let st = status(host, e, &c.name)?;
        if !st.running {
            return Err(not_running(host, e, &c.name, st.status, true));
        }
        if i < 2 {
            sleep(host, Duration::from_millis(100))?;
        }
    }
    Ok(res)
}

/// Stop with SIGTERM, then SIGKILL after `grace`. Stopping a stopped container is fine; with
/// `missing_ok`, so is stopping one that does not exist (the Container method: after
/// `remove()` there is nothing left running).
pub fn stop(
    host: &Host,
    e: &EngineCli,
    name: &str,
    grace: Option<Duration>,
    missing_ok: bool,
) -> Result<CommandResult> {
    validate::name("name", name)?;
    let cmd = e.cmd(argv::stop_argv(name, grace));
    // Stopping can take the whole grace period: allow for it. (`grace` is at most ten years,
    // checked by the caller, so the sum cannot overflow.)
    let cmd = match grace {
        Some(g) => cmd.timeout(
            host.settings
                .default_timeout
                .max(g.saturating_add(Duration::from_secs(30))),
        ),
        None => cmd,
    };
    match run_result(host, cmd.clone(), name) {
        Err(ContainerError::NoSuchContainer { .. }) if missing_ok => {
            Ok(noop_result(&cmd, format!("no such container: {name}")))
        }
        other => other,
    }
}

/// Remove (forcefully, also when running) with its health check scripts. Removing a container
/// that does not exist is fine.
pub fn remove(host: &Host, e: &EngineCli, name: &str) -> Result<CommandResult> {
    validate::name("name", name)?;
    let cmd = e.cmd(argv::remove_argv(e.flavor, Object::Container, name));
    let res = match run_result(host, cmd.clone(), name) {
        Err(ContainerError::NoSuchContainer { .. }) => {
            Ok(noop_result(&cmd, format!("no such container: {name}")))
        }
        other => other,
    };
    if res.is_ok() {
        host.resources.forget(Object::Container.name(), name);
        removed(host, Object::Container, name);
    }
    res
}

/// Run a command inside a running container. Option env values travel through the engine's
/// environment (only `-e KEY` is in argv). A container that does not run is `not_running`.
pub fn exec(
    host: &Host,
    e: &EngineCli,
    name: &str,
    what: ExecCommand,
    opts: &ExecOptions,
) -> Result<CommandResult> {
    validate::name("name", name)?;
    opts.validate()?;
    what.validate()?;
    let mut cmd = e.cmd(argv::exec_argv(name, opts, &what));
    for (k, v) in &opts.env {
        cmd = cmd.env(k, v);
    }
    match host.exec_checked(cmd.clone()) {
        Ok(out) => Ok(result(&cmd, &out)),
        Err(err) if is_not_running(&err) => {
            let state = status(host, e, name)
                .map(|s| s.status)
                .unwrap_or_else(|_| "unknown".into());
            Err(not_running(host, e, name, state, false))
        }
        Err(err) => Err(classify_failure(err, name)),
    }
}

/// `cp SRC DST`; one side is `container:/path`.
pub fn copy(host: &Host, e: &EngineCli, src: &str, dst: &str) -> Result<CommandResult> {
    validate::copy_paths(src, dst)?;
    let subject = [src, dst]
        .iter()
        .find_map(|p| p.split_once(':').map(|(c, _)| c.to_string()))
        .unwrap_or_default();
    run_result(host, e.cmd(argv::copy_argv(src, dst)), &subject)
}

pub fn export(host: &Host, e: &EngineCli, name: &str, path: &str) -> Result<CommandResult> {
    validate::name("name", name)?;
    if path.is_empty() {
        return Err(ContainerError::invalid("path", "is empty"));
    }
    run_result(host, e.cmd(argv::export_argv(name, path)), name)
}

/// Whether `image` exists locally. Under --dry-run nothing is created, so nothing needs to be
/// told apart: say it exists (which keeps it out of the cleanup registry) without asking.
fn image_exists(host: &Host, e: &EngineCli, image: &str) -> bool {
    host.settings.dry_run
        || host
            .exec(e.cmd(argv::image_exists_argv(image)))
            .is_ok_and(|o| o.success())
}

/// Run `cmd`, which makes the image name `image`; the name is cleaned up after a test only
/// when herodo made it: a tag that existed before is not herodo's to remove.
fn make_image(
    host: &Host,
    e: &EngineCli,
    image: &str,
    cmd: Cmd,
    subject: &str,
) -> Result<CommandResult> {
    let existed = image_exists(host, e, image);
    let r = run_result(host, cmd, subject)?;
    if !existed {
        register(host, e, Object::Image, image);
    }
    Ok(r)
}

pub fn commit(host: &Host, e: &EngineCli, name: &str, image: &str) -> Result<CommandResult> {
    validate::name("name", name)?;
    validate::image("image", image)?;
    make_image(host, e, image, e.cmd(argv::commit_argv(name, image)), name)
}

/// Logs so far; with `follow`, stream them to stdout until the container stops (or Ctrl-C).
pub fn logs(host: &Host, e: &EngineCli, name: &str, follow: bool) -> Result<CommandResult> {
    validate::name("name", name)?;
    run_result(
        host,
        e.cmd(argv::logs_argv(name, follow, None)).echo(follow),
        name,
    )
}

pub fn status(host: &Host, e: &EngineCli, name: &str) -> Result<Status> {
    validate::name("name", name)?;
    run_parsed(
        host,
        e.cmd(argv::inspect_argv(name)),
        name,
        Status::default,
        parse::inspect,
    )
}

/// Run the health check now where the engine does not schedule it itself (podman without
/// systemd); the engine records the result in the container's state.
fn drive_health_check(host: &Host, e: &EngineCli, name: &str) {
    if let Some(a) = argv::healthcheck_run_argv(e.flavor, name) {
        let _ = host.exec(e.cmd(a));
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
    run_parsed(
        host,
        e.cmd(argv::stats_argv(e.flavor, name)),
        name,
        ResourceUsage::default,
        |text| parse::stats(e.flavor, text),
    )
}

fn sleep(host: &Host, d: Duration) -> Result<()> {
    host.sleep(d)
        .map_err(|_| ContainerError::Exec(ExecError::Cancelled { cmd: "wait".into() }))
}

/// How long to wait before the next look in `wait_healthy`. On podman herodo is the scheduler:
/// the next check runs one health interval after the previous one began (the interval the
/// script set, kept in a label; else the engine's default), as docker would run it, instead of
/// back to back (31 checks in 5 s, half a core). Other engines run their checks themselves;
/// herodo only reads the state.
fn next_health_look(flavor: Flavor, st: &Status, since_check: Duration) -> Duration {
    if flavor != Flavor::Podman {
        return HEALTH_POLL;
    }
    let interval = st
        .health_interval
        .filter(|i| !i.is_zero())
        .unwrap_or(DEFAULT_HEALTH_INTERVAL);
    interval.saturating_sub(since_check)
}

/// Wait until the health check reports healthy. Throws `timeout` (with the last check's output)
/// or `not_running` when the container stops.
pub fn wait_healthy(host: &Host, e: &EngineCli, name: &str, timeout: Duration) -> Result<Status> {
    let start = Instant::now();
    loop {
        let check_began = Instant::now();
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
            return Err(not_running(host, e, name, st.status, true));
        }
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            let last = host.redact(st.health_output.as_deref().unwrap_or_default());
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
        let pause = next_health_look(e.flavor, &st, check_began.elapsed());
        sleep(host, pause.min(timeout - elapsed))?;
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
        let out = run(host, e.cmd(argv::logs_argv(name, false, None)), name)?;
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
    let out = run(host, e.cmd(argv::port_argv(name, port)), name)?;
    if host.settings.dry_run {
        return Ok(("127.0.0.1".into(), port));
    }
    let (h, p) = parse::published(&out.stdout).ok_or_else(|| {
        ContainerError::invalid(
            "port",
            format!("port {port} of {name} is not published (use with_port)"),
        )
    })?;
    crate::common::tcp::wait_for_port(&h, p, timeout.saturating_sub(start.elapsed()), &host.cancel)
        .map_err(|err| match err {
            // Ctrl-C stays `cancelled`; only running out of time is a timeout.
            crate::error::HostError::Cancelled => ContainerError::from(err),
            _ => ContainerError::Timeout {
                what: format!("port {port} of {name} ({h}:{p}) accepting connections"),
                secs: timeout.as_secs_f64(),
                detail: format!(" ({err})"),
            },
        })?;
    Ok((h, p))
}

/// `ps` as the engine's table, for people.
pub fn list_raw(host: &Host, e: &EngineCli, all: bool) -> Result<CommandResult> {
    run_result(host, e.cmd(argv::ps_table_argv(all)), "")
}

/// Containers (all of them with `all`), only those matching `filter` (`label=k=v`).
fn ps(host: &Host, e: &EngineCli, all: bool, filter: Option<&str>) -> Result<Vec<ContainerRow>> {
    run_parsed(
        host,
        e.cmd(argv::ps_argv(e.flavor, all, filter)),
        "",
        Vec::new,
        |text| parse::ps(e.flavor, text),
    )
}

pub fn container_list(host: &Host, e: &EngineCli, all: bool) -> Result<Vec<ContainerRow>> {
    ps(host, e, all, None)
}

/// `images` as the engine's table, for people.
pub fn images_raw(host: &Host, e: &EngineCli) -> Result<CommandResult> {
    run_result(host, e.cmd(argv::images_table_argv()), "")
}

pub fn image_list(host: &Host, e: &EngineCli) -> Result<Vec<ImageRow>> {
    run_parsed(
        host,
        e.cmd(argv::images_argv(e.flavor)),
        "",
        Vec::new,
        |text| parse::images(e.flavor, text),
    )
}

pub fn image_remove(host: &Host, e: &EngineCli, image: &str) -> Result<CommandResult> {
    validate::image("image", image)?;
    let r = run_result(host, e.cmd(argv::image_remove_argv(image)), image)?;
    host.resources.forget(Object::Image.name(), image);
    Ok(r)
}

/// Tag `image` as `new_name`. The new name is cleaned up after a test only when herodo made it:
/// a tag that existed before is not herodo's to remove.
pub fn image_tag(host: &Host, e: &EngineCli, image: &str, new_name: &str) -> Result<CommandResult> {
    validate::image("image", image)?;
    validate::image("new_name", new_name)?;
    make_image(
        host,
        e,
        new_name,
        e.cmd(argv::tag_argv(image, new_name)),
        image,
    )
}

pub fn image_pull(host: &Host, e: &EngineCli, image: &str) -> Result<CommandResult> {
    validate::image("image", image)?;
    // On a terminal the engine's own per-layer progress ("Copying blob ...") shows as it comes.
    let cmd = e
        .cmd(argv::registry_argv(e.flavor, "pull", image))
        .echo(host.progress());
    let existed = image_exists(host, e, image);
    let out = host
        .exec_checked(cmd.clone())
        .map_err(|err| registry_failure(err, image))?;
    if !existed {
        register(host, e, Object::Image, image);
    }
    Ok(result(&cmd, &out))
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
    let cmd = e
        .cmd(argv::registry_argv(e.flavor, "push", destination))
        .echo(host.progress());
    let out = host
        .exec_checked(cmd.clone())
        .map_err(|err| registry_failure(err, destination))?;
    Ok(result(&cmd, &out))
}

pub fn image_build(host: &Host, e: &EngineCli, tag: &str, context: &str) -> Result<CommandResult> {
    validate::image("tag", tag)?;
    if !Path::new(context).is_dir() {
        return Err(ContainerError::invalid(
            "context",
            format!("{context} is not a directory"),
        ));
    }
    make_image(host, e, tag, e.cmd(argv::build_argv(tag, context)), tag)
}

/// Create a network or a volume labelled with the owner tag. A taken name is `already_exists`
/// on every engine: docker's `volume create` succeeds on an existing name (and would hand
/// herodo a volume it did not create), so for volumes herodo asks first.
pub fn create(
    host: &Host,
    e: &EngineCli,
    what: Object,
    name: &str,
    o: &CreateOptions,
) -> Result<CommandResult> {
    validate::name(what.name(), name)?;
    o.validate(what)?;
    if what == Object::Volume
        && !host.settings.dry_run
        && host
            .exec(e.cmd(argv::volume_exists_argv(name)))
            .is_ok_and(|o| o.success())
    {
        return Err(ContainerError::AlreadyExists {
            what: what.name(),
            name: name.into(),
            origin: LEFT_ALONE.into(),
            source: None,
        });
    }
    let cmd = e.cmd(argv::create_argv(what, name, &owner_label_arg(), o));
    let r = match host.exec_checked(cmd.clone()) {
        Ok(out) => result(&cmd, &out),
        Err(err) if is_name_clash(&err) => return Err(clash(what, name, LEFT_ALONE.into(), err)),
        Err(err) => return Err(classify_failure(err, name)),
    };
    register(host, e, what, name);
    Ok(r)
}

/// Remove a network or a volume; a missing one is fine.
pub fn remove_named(host: &Host, e: &EngineCli, what: Object, name: &str) -> Result<CommandResult> {
    validate::name(what.name(), name)?;
    host.resources.forget(what.name(), name);
    let cmd = e.cmd(argv::remove_argv(e.flavor, what, name));
    let out = host.exec(cmd.clone())?;
    let lower = out.stderr.to_ascii_lowercase();
    let missing =
        lower.contains("not found") || lower.contains(&format!("no such {}", what.name()));
    if !out.success() && !missing {
        return Err(classify_failure(ExecError::failed(&cmd, &out), name));
    }
    Ok(result(&cmd, &out))
}

/// Networks or volumes, with every label (`ls_argv`).
fn named_rows(
    host: &Host,
    e: &EngineCli,
    what: Object,
    label: Option<&str>,
) -> Result<Vec<NamedRow>> {
    run_parsed(
        host,
        e.cmd(argv::ls_argv(e.flavor, what, label)),
        "",
        Vec::new,
        parse::named_rows,
    )
}

/// Networks or volumes (name and driver).
pub fn list_named(host: &Host, e: &EngineCli, what: Object) -> Result<Vec<NamedRow>> {
    named_rows(host, e, what, None)
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
        ps(host, e, true, Some(&format!("label={what}")))?
    } else {
        ps(host, e, true, None)?
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

/// The engines `reap_orphans` looks at: the configured one, then every installed flavor, each
/// once. A daemon-backed engine (docker, nerdctl) counts only when its daemon answers: an
/// installed client without a daemon has nothing to reap and is skipped without an error.
fn reap_engines(host: &Host) -> Vec<EngineCli> {
    let mut candidates: Vec<EngineCli> = Vec::new();
    if wanted_engine(host).is_some() {
        if let Ok(e) = resolve(host) {
            candidates.push(e);
        }
    }
    candidates.extend(Flavor::ALL.into_iter().filter_map(EngineCli::installed));
    let mut engines: Vec<EngineCli> = Vec::new();
    for e in candidates {
        if engines.iter().any(|x| x.program == e.program) {
            continue;
        }
        let answers = e.flavor == Flavor::Podman
            || host
                .exec(e.cmd(argv::version_argv()).timeout(Duration::from_secs(10)))
                .is_ok_and(|o| o.success());
        if answers {
            engines.push(e);
        }
    }
    engines
}

/// What a dead herodo left behind on one engine: everything carrying the owner label with a tag
/// whose process is gone.
fn orphans(host: &Host, e: &EngineCli) -> Result<Vec<(Object, String)>> {
    let dead = |labels: &std::collections::BTreeMap<String, String>| {
        labels.get(OWNER_LABEL).is_some_and(|t| abandoned(t))
    };
    let mut found: Vec<(Object, String)> =
        ps(host, e, true, Some(&format!("label={OWNER_LABEL}")))?
            .into_iter()
            .filter(|r| dead(&r.labels))
            .map(|r| (Object::Container, r.name))
            .collect();
    for what in [Object::Volume, Object::Network] {
        found.extend(
            named_rows(host, e, what, Some(OWNER_LABEL))?
                .into_iter()
                .filter(|r| dead(&r.labels))
                .map(|r| (what, r.name)),
        );
    }
    Ok(found)
}

/// Remove the containers, volumes and networks that herodo runs which are no longer alive left
/// behind (a `kill -9`, a crashed CI job), on every engine available; resources of live herodo
/// processes, and anything without herodo's owner label, are kept. Containers go first (a
/// volume or network in use cannot be removed), with their health check scripts. Each result
/// names `ENGINE/NAME`; an engine whose listing fails is reported as kind `engine`.
pub fn reap_orphans(host: &Host) -> Vec<Cleaned> {
    let mut cleaned = Vec::new();
    for e in reap_engines(host) {
        reap_on(host, &e, &mut cleaned);
    }
    cleaned
}

/// An error for a report line: the message and, for a command, the engine's own words.
fn describe(err: &dyn Classify) -> String {
    let info = err.info();
    match info.command.map(|c| c.stderr.trim().to_string()) {
        Some(stderr) if !stderr.is_empty() => format!("{}: {stderr}", info.message),
        _ => info.message,
    }
}

/// `reap_orphans` on one engine.
fn reap_on(host: &Host, e: &EngineCli, cleaned: &mut Vec<Cleaned>) {
    let found = match orphans(host, e) {
        Ok(f) => f,
        Err(err) => {
            cleaned.push(Cleaned {
                kind: "engine",
                name: e.flavor.name().to_string(),
                error: Some(describe(&err)),
            });
            return;
        }
    };
    for (what, name) in found {
        let error = match host.exec_checked(e.cmd(argv::remove_argv(e.flavor, what, &name))) {
            Ok(_) => {
                removed(host, what, &name);
                None
            }
            Err(err) => Some(describe(&err)),
        };
        cleaned.push(Cleaned {
            kind: what.name(),
            name: format!("{}/{name}", e.flavor.name()),
            error,
        });
    }
}

/// Run an image quickly (the seeds' `nerdctl_run*` functions).
pub fn run_image(
    host: &Host,
    e: &EngineCli,
    image: &str,
    name: Option<&str>,
    ports: &[String],
) -> Result<CommandResult> {
    let name = match name {
        Some(n) => n.to_string(),
        None => format!(
            "herodo-{}-{}",
            std::process::id(),
            crate::common::time::timestamp_ms() % 1_000_000
        ),
    };
    let mut c = Container::from_image(&name, image)?;
    c.with_ports(ports.to_vec())?;
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

    /// `exec` of a shell line in container `web`, without options.
    fn exec_line(h: &Host, f: Flavor, line: &str) -> Result<CommandResult> {
        let what = ExecCommand::Shell(line.into());
        exec(h, &engine(f), "web", what, &ExecOptions::default())
    }

    /// What a test's cleanup runs for what was registered.
    fn cleaned_up(h: &Host, rec: &RecordingExecutor) -> Vec<String> {
        let before = rec.calls().len();
        h.cleanup_resources();
        rec.argvs()[before..].iter().map(|a| a.join(" ")).collect()
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
        assert_eq!(cleaned_up(&h, &rec), ["docker rm -f web"]);
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

    fn failed(code: i32, stderr: &str) -> Output {
        let mut o = Output::empty_success();
        o.status = crate::exec::Status::Exited(code);
        o.stderr = stderr.into();
        o
    }

    fn stdout(text: &str) -> Output {
        let mut o = Output::empty_success();
        o.stdout = text.into();
        o
    }

    #[test]
    fn push_tags_first_when_names_differ() {
        let (h, rec) = host();
        rec.reply(failed(125, "Error: localhost/x: image not known")); // the tag is new
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
                vec![
                    "podman",
                    "image",
                    "inspect",
                    "--format",
                    "{{.Id}}",
                    "127.0.0.1:5000/app:1"
                ],
                vec!["podman", "tag", "localhost/app:1", "127.0.0.1:5000/app:1"],
                vec![
                    "podman",
                    "push",
                    "--tls-verify=false",
                    "127.0.0.1:5000/app:1"
                ],
            ]
        );
        assert_eq!(h.resources.len(), 1, "the new tag is herodo's");
    }

    #[test]
    fn a_tag_that_existed_before_is_not_registered() {
        let (h, rec) = host();
        let e = engine(Flavor::Docker);
        rec.reply(stdout("sha256:abc\n")); // image inspect: the tag exists
        image_tag(&h, &e, "localhost/busybox:test", "localhost/kept:1").unwrap();
        assert!(h.resources.is_empty());
        rec.reply(failed(1, "Error: No such image: localhost/new:1"));
        image_tag(&h, &e, "localhost/busybox:test", "localhost/new:1").unwrap();
        assert_eq!(cleaned_up(&h, &rec), ["docker rmi -f localhost/new:1"]);
    }

    #[test]
    fn a_name_clash_is_already_exists_and_takes_nothing_over() {
        let (h, rec) = host();
        rec.reply(failed(
            125,
            "Error: creating container storage: the container name \"pre-c\" is already in use by e1a6. You have to remove that container to be able to reuse that name: that name is already in use",
        ));
        let mut c = Container::from_image("pre-c", "localhost/busybox:test").unwrap();
        let e = build(&h, &engine(Flavor::Podman), &mut c).unwrap_err();
        assert!(
            matches!(&e, ContainerError::AlreadyExists { what: "container", name, .. } if name == "pre-c"),
            "{e}"
        );
        assert_eq!(e.info().kind, "already_exists");
        assert!(h.resources.is_empty(), "the existing container is not ours");
        assert_eq!(
            rec.argvs().len(),
            2,
            "the run and the inspect of who owns the name, no removal"
        );
        assert_eq!(rec.argvs()[1][1..3], ["container", "inspect"]);
        assert!(e.to_string().contains("not created by herodo"), "{e}");
        assert!(c.container_id.is_empty());
    }

    /// Issue 18.1: a taken host port is `port_in_use` naming the port, not a name clash, and
    /// the container the engine created but could not start is removed (every engine: the
    /// same inspect and `rm -f`; podman and docker are also run for real by the suite).
    #[test]
    fn a_taken_port_is_port_in_use_and_the_created_container_goes() {
        for (flavor, stderr) in [
            (
                Flavor::Nerdctl,
                "FATA[0000] failed to create shim task: listen tcp4 127.0.0.1:18495: bind: address already in use",
            ),
            (
                Flavor::Podman,
                "Error: cannot listen on the TCP port: listen tcp4 127.0.0.1:18495: bind: address already in use",
            ),
            (
                Flavor::Docker,
                "docker: Error response from daemon: driver failed programming external connectivity on endpoint x (f8): Bind for 127.0.0.1:18495 failed: port is already allocated.",
            ),
        ] {
            let (h, rec) = host();
            let e = engine(flavor);
            rec.reply(failed(125, stderr));
            rec.reply(stdout(&format!("{} created\n", owner_tag())));
            let mut c = Container::from_image("x", "localhost/busybox:test").unwrap();
            c.ports.push("127.0.0.1:18495:80".into());
            let err = build(&h, &e, &mut c).unwrap_err();
            let info = err.info();
            assert_eq!(info.kind, "port_in_use", "{flavor:?}: {err}");
            assert!(err.to_string().contains("127.0.0.1:18495"), "{err}");
            assert!(info.fields.contains(&("port", "127.0.0.1:18495".into())));
            let argvs = rec.argvs();
            assert_eq!(argvs.len(), 3, "{flavor:?}: {argvs:?}");
            assert_eq!(argvs[1][1..3], ["container", "inspect"]);
            let rm = argv::remove_argv(flavor, Object::Container, "x");
            assert_eq!(argvs[2][1..], rm[..], "{flavor:?}");
            assert_eq!(argvs[2][1..3], ["rm", "-f"]);
            assert!(h.resources.is_empty(), "nothing left to clean up");
            assert!(c.container_id.is_empty());
        }
    }

    /// Issue 18.5: `already_exists` tells the truth about a leftover of an earlier herodo run
    /// and says how to go on; `with_replace(true)` removes the old container first.
    #[test]
    fn a_clash_names_who_made_the_container_and_replace_removes_it() {
        let e = engine(Flavor::Podman);
        let clash_err = "Error: creating container storage: the container name \"web\" is already in use by e1a6. You have to remove that container to be able to reuse that name: that name is already in use";
        let (h, rec) = host();
        rec.reply(failed(125, clash_err));
        rec.reply(stdout("0123abc-4242-99-test exited\n"));
        let mut c = Container::from_image("web", "localhost/busybox:test").unwrap();
        let err = build(&h, &e, &mut c).unwrap_err().to_string();
        assert_eq!(
            err,
            "container web already exists, created by an earlier herodo run (owner tag 0123abc-4242-99-test, state exited); remove it with nerdctl_remove(\"web\"), or let build() replace it: .with_replace(true)"
        );
        assert!(h.resources.is_empty());
        let (h, rec) = host();
        rec.reply(failed(125, clash_err));
        rec.reply(stdout(&format!("{} running\n", owner_tag())));
        let err = build(&h, &e, &mut c).unwrap_err().to_string();
        assert!(err.contains("created earlier by this herodo run"), "{err}");

        let (h, rec) = host();
        rec.reply(Output::empty_success()); // rm
        let mut out = Output::empty_success();
        out.stdout = "abc123\n".into();
        rec.reply(out);
        c.with_replace(true);
        build(&h, &e, &mut c).unwrap();
        let argvs = rec.argvs();
        assert_eq!(argvs[0], ["podman", "rm", "-f", "-t", "0", "web"]);
        assert_eq!(argvs[1][1], "run");
        assert_eq!(c.container_id, "abc123");
    }

    #[test]
    fn a_failed_run_registers_the_container_only_when_it_is_ours() {
        let e = engine(Flavor::Podman);
        let mut c = Container::from_image("job", "localhost/busybox:test").unwrap();
        c.detach = false;
        // The command exited 3: the container exists and carries our tag.
        let (h, rec) = host();
        rec.reply(failed(3, ""));
        rec.reply(stdout(&format!("{} exited\n", owner_tag())));
        assert!(build(&h, &e, &mut c).is_err());
        assert_eq!(h.resources.len(), 1);
        assert_eq!(
            rec.argvs()[1],
            vec![
                "podman",
                "container",
                "inspect",
                "--format",
                "{{index .Config.Labels \"io.herodo.owner\"}} {{.State.Status}}",
                "job"
            ]
        );
        // Someone else's container of that name (or an unlabelled one) is not registered.
        let (h, rec) = host();
        rec.reply(failed(3, ""));
        rec.reply(stdout("exited\n"));
        assert!(build(&h, &e, &mut c).is_err());
        assert!(h.resources.is_empty());
        // A missing image: nothing was created.
        let (h, rec) = host();
        rec.reply(failed(125, "Error: localhost/nope: image not known"));
        rec.reply(failed(125, "Error: no such container"));
        assert!(matches!(
            build(&h, &e, &mut c),
            Err(ContainerError::ImageNotFound { .. })
        ));
        assert!(h.resources.is_empty());
    }

    #[test]
    fn an_existing_volume_is_already_exists_on_every_engine() {
        let make = |h: &Host, f: Flavor, what: Object, name: &str| {
            create(h, &engine(f), what, name, &CreateOptions::default())
        };
        let (h, rec) = host();
        // docker would create nothing and succeed: herodo asks first.
        let err = make(&h, Flavor::Docker, Object::Volume, "data").unwrap_err();
        assert!(matches!(
            err,
            ContainerError::AlreadyExists { what: "volume", .. }
        ));
        assert_eq!(
            rec.argvs(),
            vec![vec!["docker", "volume", "inspect", "data"]]
        );
        assert!(h.resources.is_empty());
        let (h, rec) = host();
        rec.reply(failed(1, "Error: no such volume"));
        make(&h, Flavor::Podman, Object::Volume, "data").unwrap();
        let made = &rec.argvs()[1];
        assert_eq!(made[..4], ["podman", "volume", "create", "--label"]);
        assert_eq!(made[4], owner_label_arg());
        assert_eq!(h.resources.len(), 1);
        let (h, rec) = host();
        rec.reply(failed(
            125,
            "Error: network name net1 already used: network already exists",
        ));
        let err = make(&h, Flavor::Podman, Object::Network, "net1").unwrap_err();
        assert!(matches!(
            err,
            ContainerError::AlreadyExists {
                what: "network",
                ..
            }
        ));
        assert!(h.resources.is_empty());
    }

    #[test]
    fn stop_exec_copy_argv() {
        let (h, rec) = host();
        let e = engine(Flavor::Nerdctl);
        stop(&h, &e, "web", Some(Duration::from_secs(3)), false).unwrap();
        exec(
            &h,
            &e,
            "web",
            ExecCommand::Shell("echo hi".into()),
            &ExecOptions::default(),
        )
        .unwrap();
        exec(
            &h,
            &e,
            "web",
            ExecCommand::Argv(vec!["ls".into(), "/".into()]),
            &ExecOptions::default(),
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
    fn exec_env_values_travel_in_the_environment() {
        let (h, rec) = host();
        let opts = ExecOptions {
            user: Some("nobody".into()),
            workdir: None,
            env: [("TOKEN".to_string(), "S3CR3T-CANARY-9f8e7d".to_string())].into(),
        };
        let r = exec(
            &h,
            &engine(Flavor::Podman),
            "web",
            ExecCommand::Shell("echo $TOKEN".into()),
            &opts,
        )
        .unwrap();
        let call = &rec.calls()[0];
        assert_eq!(
            call.env,
            vec![("TOKEN".to_string(), "S3CR3T-CANARY-9f8e7d".to_string())]
        );
        assert!(rec.argvs()[0].iter().all(|a| !a.contains("S3CR3T")));
        assert!(!r.cmd.contains("S3CR3T"), "{}", r.cmd);
    }

    #[test]
    fn exec_on_a_stopped_container_is_not_running() {
        let (h, rec) = host();
        rec.reply(failed(
            255,
            "Error: can only create exec sessions on running containers: container state improper",
        ));
        rec.reply(stdout(
            r#"[{"State": {"Status": "exited", "Running": false, "ExitCode": 0}}]"#,
        ));
        let err = exec_line(&h, Flavor::Podman, "true").unwrap_err();
        assert_eq!(err.info().kind, "not_running", "{err}");
        assert!(err.to_string().contains("exited (code 0)"), "{err}");
        // The command's own failure stays command_failed.
        let (h, rec) = host();
        rec.reply(failed(7, ""));
        let err = exec_line(&h, Flavor::Docker, "exit 7").unwrap_err();
        assert_eq!(err.info().kind, "command_failed");
    }

    #[test]
    fn stop_of_a_missing_container_is_fine_only_when_asked() {
        let e = engine(Flavor::Podman);
        let missing = "Error: no container with name or ID \"web\" found: no such container";
        let (h, rec) = host();
        rec.reply(failed(125, missing));
        assert!(stop(&h, &e, "web", None, true).unwrap().success);
        rec.reply(failed(125, missing));
        assert!(matches!(
            stop(&h, &e, "web", None, false),
            Err(ContainerError::NoSuchContainer { .. })
        ));
    }

    #[test]
    fn podman_health_checks_follow_the_interval() {
        let st = |interval: Option<Duration>| Status {
            health_interval: interval,
            ..Status::default()
        };
        let one = Some(Duration::from_secs(1));
        assert_eq!(
            next_health_look(Flavor::Podman, &st(one), Duration::from_millis(150)),
            Duration::from_millis(850)
        );
        assert_eq!(
            next_health_look(Flavor::Podman, &st(None), Duration::ZERO),
            DEFAULT_HEALTH_INTERVAL
        );
        assert_eq!(
            next_health_look(Flavor::Podman, &st(Some(Duration::ZERO)), Duration::ZERO),
            DEFAULT_HEALTH_INTERVAL
        );
        assert_eq!(
            next_health_look(Flavor::Podman, &st(one), Duration::from_secs(2)),
            Duration::ZERO
        );
        assert_eq!(
            next_health_look(Flavor::Docker, &st(one), Duration::ZERO),
            HEALTH_POLL
        );
    }

    #[test]
    fn reaping_removes_only_what_dead_owners_left() {
        let (h, rec) = host();
        let e = engine(Flavor::Docker);
        let dead = "deadbeef0000-1-1-test";
        let live = owner_tag();
        rec.reply(stdout(&format!(
            "{{\"Names\":\"gone\",\"Labels\":\"app=x,io.herodo.owner={dead}\"}}\n{{\"Names\":\"alive\",\"Labels\":\"io.herodo.owner={live}\"}}\n"
        )));
        rec.reply(stdout(&format!(
            "{{\"Name\":\"gone-vol\",\"Driver\":\"local\",\"Labels\":\"io.herodo.owner={dead}\"}}\n"
        )));
        rec.reply(stdout(&format!(
            "{{\"Name\":\"live-net\",\"Driver\":\"bridge\",\"Labels\":\"io.herodo.owner={live}\"}}\n"
        )));
        let mut cleaned = Vec::new();
        reap_on(&h, &e, &mut cleaned);
        let names: Vec<(&str, &str)> = cleaned.iter().map(|c| (c.kind, c.name.as_str())).collect();
        assert_eq!(
            names,
            vec![("container", "docker/gone"), ("volume", "docker/gone-vol")]
        );
        let argvs: Vec<String> = rec.argvs().iter().map(|a| a.join(" ")).collect();
        assert_eq!(
            argvs,
            [
                "docker ps -a --filter label=io.herodo.owner --format {{json .}}",
                "docker volume ls --filter label=io.herodo.owner --format {{json .}}",
                "docker network ls --filter label=io.herodo.owner --format {{json .}}",
                "docker rm -f gone",
                "docker volume rm -f gone-vol",
            ]
        );
    }

    #[test]
    fn a_failing_listing_is_reported_not_fatal() {
        let (h, rec) = host();
        rec.reply(failed(125, "Error: storage is broken"));
        let mut cleaned = Vec::new();
        reap_on(&h, &engine(Flavor::Podman), &mut cleaned);
        assert_eq!(cleaned.len(), 1);
        assert_eq!(cleaned[0].kind, "engine");
        assert!(cleaned[0]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("storage is broken"));
    }

    #[test]
    fn health_check_scripts_go_with_their_container() {
        let dir = std::env::temp_dir().join(format!("herodo-hc-{}", std::process::id()));
        let mine = new_healthcheck_file(&dir, "web");
        let other = new_healthcheck_file(&dir, "web-2");
        for p in [&mine, &other] {
            crate::common::state::write_atomic(p, b"true\n").unwrap();
        }
        remove_healthcheck_files(&dir, "web");
        assert!(!mine.exists());
        assert!(other.exists(), "web-2's script is not web's");
        std::fs::remove_dir_all(&dir).unwrap();
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
