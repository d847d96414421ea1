//! Pure argv builders: every engine command herodo runs, after the program name, per flavor.
//! Nothing here runs anything; `ops.rs` executes what these return. Tested as tables over the
//! three flavors.
//!
//! Environment values never reach argv: a variable is passed as `-e KEY` and its value through
//! the engine's environment, so it never shows up in a process listing, a log or an error.

use std::time::Duration;

use super::{
    Container, CreateOptions, ExecCommand, ExecOptions, Flavor, Object, HEALTHCHECK_PATH,
    HEALTH_INTERVAL_LABEL,
};
use crate::common::owner::OWNER_LABEL;

pub type Argv = Vec<String>;

fn words<const N: usize>(w: [&str; N]) -> Argv {
    w.iter().map(|s| s.to_string()).collect()
}

/// The `--format` that makes an engine print JSON: podman prints one array, docker and nerdctl
/// one object per line (`parse.rs` reads both).
pub fn json_format(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::Podman => "json",
        Flavor::Docker | Flavor::Nerdctl => "{{json .}}",
    }
}

/// How a health check command is given to the engine: a one-liner as is; a multi-line script
/// runs from the file mounted at [`HEALTHCHECK_PATH`].
pub fn health_cmd(cmd: &str) -> String {
    if cmd.contains('\n') {
        format!("/bin/sh {HEALTHCHECK_PATH}")
    } else {
        cmd.to_string()
    }
}

/// `run`. `owner_label` is `io.herodo.owner=TAG` ([`crate::common::owner::owner_label_arg`]);
/// it comes after the script's labels, so even an engine that let a later label win could not
/// lose it. `healthcheck_file` is the host path of a multi-line health check script.
pub fn run_argv(
    flavor: Flavor,
    c: &Container,
    owner_label: &str,
    healthcheck_file: Option<&str>,
) -> Argv {
    let mut a = words(["run"]);
    if c.detach {
        a.push("-d".into());
    }
    a.extend(["--name".into(), c.name.clone()]);
    for (k, v) in &c.labels {
        a.extend(["--label".into(), format!("{k}={v}")]);
    }
    if flavor == Flavor::Podman {
        if let Some(i) = c.health_check.as_ref().and_then(|h| h.interval.as_ref()) {
            a.extend(["--label".into(), format!("{HEALTH_INTERVAL_LABEL}={i}")]);
        }
    }
    a.extend(["--label".into(), owner_label.to_string()]);
    if flavor != Flavor::Docker {
        // Docker 20.10 has no --annotation.
        for (k, v) in &c.annotations {
            a.extend(["--annotation".into(), format!("{k}={v}")]);
        }
    }
    let each = |a: &mut Argv, flag: &str, values: &[String]| {
        for v in values {
            a.extend([flag.to_string(), v.clone()]);
        }
    };
    let opt = |a: &mut Argv, flag: &str, v: &Option<String>| {
        if let Some(v) = v {
            a.extend([flag.to_string(), v.clone()]);
        }
    };
    each(&mut a, "-p", &c.ports);
    each(&mut a, "-v", &c.volumes);
    for k in c.env_vars.keys() {
        a.extend(["-e".into(), k.clone()]);
    }
    opt(&mut a, "--network", &c.network);
    each(&mut a, "--network-alias", &c.network_aliases);
    opt(&mut a, "--cpus", &c.cpu_limit);
    opt(&mut a, "--memory", &c.memory_limit);
    opt(&mut a, "--memory-swap", &c.memory_swap_limit);
    opt(&mut a, "--cpu-shares", &c.cpu_shares);
    opt(&mut a, "--restart", &c.restart_policy);
    if let Some(h) = &c.health_check {
        if let (true, Some(file)) = (h.is_script(), healthcheck_file) {
            a.extend(["-v".into(), format!("{file}:{HEALTHCHECK_PATH}:ro")]);
        }
        a.extend(["--health-cmd".into(), health_cmd(&h.cmd)]);
        match (flavor, &h.interval) {
            // podman schedules checks with systemd timers; herodo runs them itself instead.
            (Flavor::Podman, _) => a.extend(["--health-interval".into(), "disable".into()]),
            (_, Some(i)) => a.extend(["--health-interval".into(), i.clone()]),
            _ => {}
        }
        opt(&mut a, "--health-timeout", &h.timeout);
        opt(
            &mut a,
            "--health-retries",
            &h.retries.map(|r| r.to_string()),
        );
        opt(&mut a, "--health-start-period", &h.start_period);
    }
    if flavor == Flavor::Nerdctl {
        // Only containerd has snapshotters; the other engines ignore the setting.
        opt(&mut a, "--snapshotter", &c.snapshotter);
    }
    opt(&mut a, "--entrypoint", &c.entrypoint);
    opt(&mut a, "--workdir", &c.workdir);
    opt(&mut a, "--user", &c.user);
    if c.init {
        a.push("--init".into());
    }
    if c.privileged {
        a.push("--privileged".into());
    }
    each(&mut a, "--device", &c.devices);
    opt(&mut a, "--runtime", &c.runtime);
    a.push(c.image.clone());
    a.extend(c.cmd.iter().cloned());
    a
}

pub fn start_argv(name: &str) -> Argv {
    words(["start", name])
}

/// `stop`, with the grace period before SIGKILL in whole seconds.
pub fn stop_argv(name: &str, grace: Option<Duration>) -> Argv {
    let mut a = words(["stop"]);
    if let Some(g) = grace {
        a.extend(["-t".into(), g.as_secs().to_string()]);
    }
    a.push(name.into());
    a
}

/// Forceful, immediate removal of something herodo created (a running container, an image in
/// use). podman would otherwise wait 10 s for a container PID 1 that ignores SIGTERM.
pub fn remove_argv(flavor: Flavor, what: Object, name: &str) -> Argv {
    match what {
        Object::Container if flavor == Flavor::Podman => words(["rm", "-f", "-t", "0", name]),
        Object::Container => words(["rm", "-f", name]),
        Object::Image => words(["rmi", "-f", name]),
        Object::Volume => words(["volume", "rm", "-f", name]),
        // `podman network rm -f` would remove the containers using it too.
        Object::Network => words(["network", "rm", name]),
    }
}

/// `exec`: the same on every flavor.
pub fn exec_argv(name: &str, o: &ExecOptions, what: &ExecCommand) -> Argv {
    let mut a = words(["exec"]);
    if let Some(u) = &o.user {
        a.extend(["--user".into(), u.clone()]);
    }
    if let Some(w) = &o.workdir {
        a.extend(["--workdir".into(), w.clone()]);
    }
    for k in o.env.keys() {
        a.extend(["-e".into(), k.clone()]);
    }
    a.push(name.to_string());
    match what {
        ExecCommand::Shell(line) => a.extend(["sh".into(), "-c".into(), line.clone()]),
        ExecCommand::Argv(argv) => a.extend(argv.iter().cloned()),
    }
    a
}

pub fn copy_argv(src: &str, dst: &str) -> Argv {
    words(["cp", src, dst])
}

pub fn export_argv(name: &str, path: &str) -> Argv {
    words(["export", "-o", path, name])
}

pub fn commit_argv(name: &str, image: &str) -> Argv {
    words(["commit", name, image])
}

/// `logs`: all of them, the last `tail` lines, or (`follow`) streamed until the container stops.
pub fn logs_argv(name: &str, follow: bool, tail: Option<u32>) -> Argv {
    let mut a = words(["logs"]);
    if follow {
        a.push("-f".into());
    }
    if let Some(n) = tail {
        a.extend(["--tail".into(), n.to_string()]);
    }
    a.push(name.into());
    a
}

/// `inspect` of a container (a JSON array on every engine).
pub fn inspect_argv(name: &str) -> Argv {
    words(["inspect", name])
}

/// The id of a container, alone on a line.
pub fn id_argv(name: &str) -> Argv {
    words(["inspect", "--format", "{{.Id}}", name])
}

/// The owner tag a container carries (empty when none) and its state (`created`, `running`,
/// `exited`, ...), space-separated; fails when there is no such container.
pub fn owner_argv(name: &str) -> Argv {
    let format = format!("{{{{index .Config.Labels \"{OWNER_LABEL}\"}}}} {{{{.State.Status}}}}");
    words(["container", "inspect", "--format", &format, name])
}

/// Run the health check now, where the engine does not schedule it itself (podman without
/// systemd); `None` where the engine runs its checks (docker, nerdctl).
pub fn healthcheck_run_argv(flavor: Flavor, name: &str) -> Option<Argv> {
    (flavor == Flavor::Podman).then(|| words(["healthcheck", "run", name]))
}

/// `stats`: one snapshot, as JSON. podman's `json` format rounds sizes to four digits
/// (`67.11MB` for 64 MiB); its raw `ContainerStats` record has exact numbers. docker and nerdctl
/// print human sizes only.
pub fn stats_argv(flavor: Flavor, name: &str) -> Argv {
    let format = match flavor {
        Flavor::Podman => "{{json .ContainerStats}}",
        Flavor::Docker | Flavor::Nerdctl => json_format(flavor),
    };
    words(["stats", "--no-stream", "--format", format, name])
}

/// Where the container's TCP `port` is published on the host.
pub fn port_argv(name: &str, port: u16) -> Argv {
    words(["port", name, &format!("{port}/tcp")])
}

/// `ps` as JSON (all containers with `all`), only those matching `filter` (`label=k=v`).
pub fn ps_argv(flavor: Flavor, all: bool, filter: Option<&str>) -> Argv {
    let mut a = words(["ps"]);
    if all {
        a.push("-a".into());
    }
    if let Some(f) = filter {
        a.extend(["--filter".into(), f.to_string()]);
    }
    a.extend(["--format".into(), json_format(flavor).into()]);
    a
}

/// `ps` as the engine's table, for people.
pub fn ps_table_argv(all: bool) -> Argv {
    if all {
        words(["ps", "-a"])
    } else {
        words(["ps"])
    }
}

pub fn images_argv(flavor: Flavor) -> Argv {
    words(["images", "--format", json_format(flavor)])
}

/// `images` as the engine's table, for people.
pub fn images_table_argv() -> Argv {
    words(["images"])
}

/// Succeeds only when `image` exists locally.
pub fn image_exists_argv(image: &str) -> Argv {
    words(["image", "inspect", "--format", "{{.Id}}", image])
}

/// The script's own `rmi` (not forced: an image in use stays).
pub fn image_remove_argv(image: &str) -> Argv {
    words(["rmi", image])
}

pub fn tag_argv(image: &str, new_name: &str) -> Argv {
    words(["tag", image, new_name])
}

/// True for a registry `host[:port]` on this machine: `localhost`, an IPv4 literal in
/// 127.0.0.0/8 or `[::1]`, with an optional port. A name that merely starts with `127.`
/// (`127.attacker.example`) is a remote host and keeps TLS.
pub fn is_loopback_registry(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((inner, port)) if port.is_empty() || is_port(port) => inner,
            _ => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if is_port(port) => name,
            Some(_) => return false,
            None => host,
        }
    };
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn is_port(p: &str) -> bool {
    p.strip_prefix(':')
        .unwrap_or(p)
        .parse::<u16>()
        .is_ok_and(|n| n > 0)
}

/// `push` / `pull` (`verb`); registries on the loopback address are plain HTTP.
pub fn registry_argv(flavor: Flavor, verb: &str, image: &str) -> Argv {
    let mut a = words([verb]);
    let host = image.split('/').next().unwrap_or("");
    if image.contains('/') && is_loopback_registry(host) {
        match flavor {
            Flavor::Podman => a.push("--tls-verify=false".into()),
            Flavor::Nerdctl => a.push("--insecure-registry".into()),
            // dockerd treats 127.0.0.0/8 registries as insecure already.
            Flavor::Docker => {}
        }
    }
    a.push(image.to_string());
    a
}

/// Build `tag` from the Dockerfile/Containerfile in `context`.
pub fn build_argv(tag: &str, context: &str) -> Argv {
    words(["build", "-t", tag, context])
}

/// `network create` / `volume create`, labelled with `owner_label`.
pub fn create_argv(what: Object, name: &str, owner_label: &str, o: &CreateOptions) -> Argv {
    let mut a = words([what.name(), "create", "--label", owner_label]);
    if let Some(d) = &o.driver {
        a.extend(["--driver".into(), d.clone()]);
    }
    if let Some(s) = &o.subnet {
        a.extend(["--subnet".into(), s.clone()]);
    }
    a.push(name.into());
    a
}

/// Succeeds only when volume `name` exists.
pub fn volume_exists_argv(name: &str) -> Argv {
    words(["volume", "inspect", name])
}

/// `volume ls` / `network ls` as JSON; with `label` (a key, or `key=value`) only the entries
/// carrying it.
pub fn ls_argv(flavor: Flavor, what: Object, label: Option<&str>) -> Argv {
    let mut a = words([what.name(), "ls"]);
    if let Some(l) = label {
        a.extend(["--filter".into(), format!("label={l}")]);
    }
    a.extend(["--format".into(), json_format(flavor).into()]);
    a
}

/// Whether the engine answers (a daemon-backed client without its daemon fails).
pub fn version_argv() -> Argv {
    words(["version"])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::containers::HealthCheck;

    fn joined(a: &[String]) -> String {
        a.join(" ")
    }

    fn full() -> Container {
        let mut c = Container::from_image("web", "localhost/busybox:test").unwrap();
        c.with_port("127.0.0.1:8080:80")
            .and_then(|c| c.with_volume("/srv:/data:ro"))
            .and_then(|c| c.with_env("TOKEN", "s3cret"))
            .and_then(|c| c.with_network("appnet"))
            .and_then(|c| c.with_network_alias("web"))
            .and_then(|c| c.with_cpu_limit("0.5"))
            .and_then(|c| c.with_memory_limit("64m"))
            .and_then(|c| c.with_memory_swap_limit("128m"))
            .and_then(|c| c.with_cpu_shares("512"))
            .and_then(|c| c.with_restart_policy("on-failure:3"))
            .and_then(|c| {
                c.with_health_check_options(
                    "wget -q -O /dev/null http://127.0.0.1/",
                    "5s",
                    "2s",
                    3,
                    "1s",
                )
            })
            .and_then(|c| c.with_snapshotter("native"))
            .and_then(|c| c.with_label("app", "demo"))
            .and_then(|c| c.with_annotation("note", "x"))
            .and_then(|c| c.with_entrypoint("/bin/sh"))
            .and_then(|c| c.with_workdir("/data"))
            .and_then(|c| c.with_user("root"))
            .and_then(|c| c.with_device("/dev/null"))
            .and_then(|c| c.with_runtime("runc"))
            .unwrap()
            .with_cmd(vec!["-c".into(), "httpd -f".into()])
            .with_init(true)
            .with_privileged(true);
        c
    }

    #[test]
    fn run_argv_for_every_flavor() {
        let c = full();
        c.validate().unwrap();
        let common = "--label app=demo";
        let owner = "--label io.herodo.owner=me";
        let tail = "-p 127.0.0.1:8080:80 -v /srv:/data:ro -e TOKEN --network appnet --network-alias web --cpus 0.5 --memory 64m --memory-swap 128m --cpu-shares 512 --restart on-failure:3 --health-cmd wget -q -O /dev/null http://127.0.0.1/";
        let health = "--health-timeout 2s --health-retries 3 --health-start-period 1s";
        let end = "--entrypoint /bin/sh --workdir /data --user root --init --privileged --device /dev/null --runtime runc localhost/busybox:test -c httpd -f";
        assert_eq!(
            joined(&run_argv(Flavor::Podman, &c, "io.herodo.owner=me", None)),
            format!("run -d --name web {common} --label io.herodo.health-interval=5s {owner} --annotation note=x {tail} --health-interval disable {health} {end}")
        );
        assert_eq!(
            joined(&run_argv(Flavor::Docker, &c, "io.herodo.owner=me", None)),
            format!(
                "run -d --name web {common} {owner} {tail} --health-interval 5s {health} {end}"
            )
        );
        assert_eq!(
            joined(&run_argv(Flavor::Nerdctl, &c, "io.herodo.owner=me", None)),
            format!("run -d --name web {common} {owner} --annotation note=x {tail} --health-interval 5s {health} --snapshotter native {end}")
        );
        // Env values never reach argv.
        for f in Flavor::ALL {
            assert!(run_argv(f, &c, "io.herodo.owner=me", None)
                .iter()
                .all(|a| !a.contains("s3cret")));
        }
    }

    #[test]
    fn minimal_and_foreground_runs() {
        let mut c = Container::from_image("x", "localhost/busybox:test").unwrap();
        assert_eq!(
            joined(&run_argv(Flavor::Podman, &c, "io.herodo.owner=o", None)),
            "run -d --name x --label io.herodo.owner=o localhost/busybox:test"
        );
        c.with_detach(false);
        assert!(
            !run_argv(Flavor::Docker, &c, "io.herodo.owner=o", None).contains(&"-d".to_string())
        );
    }

    #[test]
    fn the_owner_label_comes_last() {
        let mut c = Container::from_image("x", "localhost/busybox:test").unwrap();
        c.with_label("zzz", "1").unwrap();
        for f in Flavor::ALL {
            let a = run_argv(f, &c, "io.herodo.owner=me", None);
            let labels: Vec<&String> = a
                .iter()
                .zip(a.iter().skip(1))
                .filter(|(flag, _)| *flag == "--label")
                .map(|(_, v)| v)
                .collect();
            assert_eq!(
                labels.last().map(|s| s.as_str()),
                Some("io.herodo.owner=me"),
                "{f:?}"
            );
        }
    }

    #[test]
    fn multi_line_health_checks_are_mounted_scripts() {
        let mut c = Container::from_image("x", "localhost/busybox:test").unwrap();
        c.health_check = Some(HealthCheck {
            cmd: "test -f /tmp/ready\nwget -q -O- http://127.0.0.1/ | grep ok".into(),
            ..HealthCheck::default()
        });
        let a = joined(&run_argv(
            Flavor::Docker,
            &c,
            "io.herodo.owner=o",
            Some("/state/x.sh"),
        ));
        assert!(a.contains("-v /state/x.sh:/.herodo-healthcheck.sh:ro --health-cmd /bin/sh /.herodo-healthcheck.sh"), "{a}");
        assert_eq!(health_cmd("true"), "true");
    }

    #[test]
    fn exec_argv_with_options() {
        let o = ExecOptions {
            user: Some("1000:1000".into()),
            workdir: Some("/tmp".into()),
            env: [("TOKEN".to_string(), "s3cret-value".to_string())].into(),
        };
        assert_eq!(
            joined(&exec_argv("web", &o, &ExecCommand::Shell("id -u".into()))),
            "exec --user 1000:1000 --workdir /tmp -e TOKEN web sh -c id -u"
        );
        assert_eq!(
            joined(&exec_argv(
                "web",
                &ExecOptions::default(),
                &ExecCommand::Argv(vec!["ls".into(), "/".into()])
            )),
            "exec web ls /"
        );
    }

    /// Every other command, on podman, docker and nerdctl (in that order).
    #[test]
    fn every_command_per_flavor() {
        type Row = (Box<dyn Fn(Flavor) -> Argv>, [&'static str; 3]);
        let same = |s: &'static str| [s, s, s];
        let json = |podman: &'static str, other: &'static str| [podman, other, other];
        let net = CreateOptions {
            driver: Some("bridge".into()),
            subnet: Some("10.89.7.0/24".into()),
        };
        let rows: Vec<Row> = vec![
            (Box::new(|_| start_argv("web")), same("start web")),
            (
                Box::new(|_| stop_argv("web", Some(Duration::from_millis(3500)))),
                same("stop -t 3 web"),
            ),
            (Box::new(|_| stop_argv("web", None)), same("stop web")),
            (
                Box::new(|f| remove_argv(f, Object::Container, "web")),
                ["rm -f -t 0 web", "rm -f web", "rm -f web"],
            ),
            (
                Box::new(|f| remove_argv(f, Object::Image, "localhost/a:1")),
                same("rmi -f localhost/a:1"),
            ),
            (
                Box::new(|f| remove_argv(f, Object::Volume, "data")),
                same("volume rm -f data"),
            ),
            (
                Box::new(|f| remove_argv(f, Object::Network, "appnet")),
                same("network rm appnet"),
            ),
            (
                Box::new(|_| copy_argv("/tmp/x", "web:/x")),
                same("cp /tmp/x web:/x"),
            ),
            (
                Box::new(|_| export_argv("web", "/tmp/web.tar")),
                same("export -o /tmp/web.tar web"),
            ),
            (
                Box::new(|_| commit_argv("web", "localhost/web:1")),
                same("commit web localhost/web:1"),
            ),
            (Box::new(|_| logs_argv("web", false, None)), same("logs web")),
            (Box::new(|_| logs_argv("web", true, None)), same("logs -f web")),
            (
                Box::new(|_| logs_argv("web", false, Some(10))),
                same("logs --tail 10 web"),
            ),
            (Box::new(|_| inspect_argv("web")), same("inspect web")),
            (
                Box::new(|_| id_argv("web")),
                same("inspect --format {{.Id}} web"),
            ),
            (
                Box::new(|_| owner_argv("web")),
                same("container inspect --format {{index .Config.Labels \"io.herodo.owner\"}} {{.State.Status}} web"),
            ),
            (
                Box::new(|f| healthcheck_run_argv(f, "web").unwrap_or_default()),
                ["healthcheck run web", "", ""],
            ),
            (
                Box::new(|f| stats_argv(f, "web")),
                json(
                    "stats --no-stream --format {{json .ContainerStats}} web",
                    "stats --no-stream --format {{json .}} web",
                ),
            ),
            (Box::new(|_| port_argv("web", 80)), same("port web 80/tcp")),
            (
                Box::new(|f| ps_argv(f, true, None)),
                json("ps -a --format json", "ps -a --format {{json .}}"),
            ),
            (
                Box::new(|f| ps_argv(f, false, Some("label=x"))),
                json(
                    "ps --filter label=x --format json",
                    "ps --filter label=x --format {{json .}}",
                ),
            ),
            (Box::new(|_| ps_table_argv(true)), same("ps -a")),
            (Box::new(|_| ps_table_argv(false)), same("ps")),
            (
                Box::new(images_argv),
                json("images --format json", "images --format {{json .}}"),
            ),
            (Box::new(|_| images_table_argv()), same("images")),
            (
                Box::new(|_| image_exists_argv("localhost/a:1")),
                same("image inspect --format {{.Id}} localhost/a:1"),
            ),
            (
                Box::new(|_| image_remove_argv("localhost/a:1")),
                same("rmi localhost/a:1"),
            ),
            (
                Box::new(|_| tag_argv("localhost/a:1", "localhost/b:2")),
                same("tag localhost/a:1 localhost/b:2"),
            ),
            (
                Box::new(|f| registry_argv(f, "push", "127.0.0.1:5000/a:1")),
                [
                    "push --tls-verify=false 127.0.0.1:5000/a:1",
                    "push 127.0.0.1:5000/a:1",
                    "push --insecure-registry 127.0.0.1:5000/a:1",
                ],
            ),
            (
                Box::new(|f| registry_argv(f, "pull", "localhost:5000/a")),
                [
                    "pull --tls-verify=false localhost:5000/a",
                    "pull localhost:5000/a",
                    "pull --insecure-registry localhost:5000/a",
                ],
            ),
            (
                Box::new(|f| registry_argv(f, "pull", "docker.io/library/redis")),
                same("pull docker.io/library/redis"),
            ),
            (
                Box::new(|_| build_argv("localhost/app:dev", "/src/app")),
                same("build -t localhost/app:dev /src/app"),
            ),
            (
                Box::new(move |_| create_argv(Object::Network, "appnet", "io.herodo.owner=o", &net)),
                same("network create --label io.herodo.owner=o --driver bridge --subnet 10.89.7.0/24 appnet"),
            ),
            (
                Box::new(|_| {
                    create_argv(
                        Object::Volume,
                        "data",
                        "io.herodo.owner=o",
                        &CreateOptions::default(),
                    )
                }),
                same("volume create --label io.herodo.owner=o data"),
            ),
            (
                Box::new(|_| volume_exists_argv("data")),
                same("volume inspect data"),
            ),
            (
                Box::new(|f| ls_argv(f, Object::Volume, Some("io.herodo.owner"))),
                json(
                    "volume ls --filter label=io.herodo.owner --format json",
                    "volume ls --filter label=io.herodo.owner --format {{json .}}",
                ),
            ),
            (
                Box::new(|f| ls_argv(f, Object::Network, None)),
                json(
                    "network ls --format json",
                    "network ls --format {{json .}}",
                ),
            ),
            (Box::new(|_| version_argv()), same("version")),
        ];
        for (build, want) in &rows {
            let got: Vec<String> = [Flavor::Podman, Flavor::Docker, Flavor::Nerdctl]
                .into_iter()
                .map(|f| joined(&build(f)))
                .collect();
            assert_eq!(got, want.to_vec());
        }
    }

    #[test]
    fn only_loopback_registries_are_local() {
        for local in [
            "127.0.0.1:5000",
            "127.1.2.3",
            "localhost",
            "localhost:5000",
            "[::1]:5000",
            "[::1]",
        ] {
            assert!(is_loopback_registry(local), "{local}");
        }
        for remote in [
            "127.attacker.example",
            "127.attacker.example:5000",
            "localhost.attacker.example",
            "[::1].evil:5000",
            "128.0.0.1:5000",
            "registry.example:5000",
            "127.0.0.1:abc",
        ] {
            assert!(!is_loopback_registry(remote), "{remote}");
        }
        let remote = registry_argv(Flavor::Podman, "push", "127.attacker.example/x:1");
        assert!(
            !remote.iter().any(|a| a.contains("tls-verify")),
            "{remote:?}"
        );
    }
}
