//! Rhai glue for qcow2 disks and virtual machines.

use std::sync::Arc;

use rhai::{Array, Dynamic, Map, FLOAT, INT};

use std::path::PathBuf;

use super::spec::{Disk, VmSpec};
use super::{base, qcow2, virt, virtiofs, StopMode, Vms, DEFAULT_GRACE};
use crate::glue::{invalid, seconds, to_rhai, IntoRhai, Opts, RResult, Registrar};
use crate::host::Host;
use crate::host::Resource;

pub fn register(r: &mut Registrar, host: &Arc<Host>) {
    register_qcow2(r, host);
    register_vm(r, host);
    register_virtiofs(r, host);
    super::cloudhv_bindings::register(r, host);
}

/// `virtiofsd_config()`: a virtiofsd's settings, built with chained setters.
#[derive(Clone)]
pub struct VirtiofsdConfig(virtiofs::Config);

/// A virtiofsd that `start_virtiofsd_daemon` or `share_directory` started.
#[derive(Clone)]
pub struct VirtiofsdDaemon(virtiofs::Daemon);

fn daemon_map(d: &virtiofs::Daemon) -> Map {
    crate::glue::map_of([
        ("pid", d.pid.map_or(Dynamic::UNIT, Dynamic::from)),
        ("socket_path", d.socket_path.clone().into()),
        ("shared_dir", d.shared_dir.clone().into()),
        ("readonly", d.readonly.into()),
        ("running", d.is_running().into()),
    ])
}

/// Start a virtiofsd; under `herodo test` it is stopped after the test.
fn start_daemon(host: &Arc<Host>, c: &virtiofs::Config) -> RResult<VirtiofsdDaemon> {
    let log = PathBuf::from(format!("{}.log", c.socket_path));
    let d = virtiofs::start(host, c, &log)
        .rhai()?
        .ok_or_else(|| invalid("virtiofsd", "not started (--dry-run)"))?;
    if let Err(e) = virtiofs::remember(host, &d) {
        d.stop(host);
        return Err(e).rhai();
    }
    let kept = d.clone();
    host.resources.register(Resource::new(
        "virtiofsd",
        d.socket_path.clone(),
        move |h| {
            kept.stop(h);
            virtiofs::forget(h, &kept);
            Ok(())
        },
    ));
    Ok(VirtiofsdDaemon(d))
}

fn register_virtiofs(r: &mut Registrar, host: &Arc<Host>) {
    r.engine()
        .register_type_with_name::<VirtiofsdConfig>("VirtiofsdConfig")
        .register_type_with_name::<VirtiofsdDaemon>("VirtiofsdDaemon");
    r.func(
        "virtiofsd_available",
        &[],
        r#"Whether virtiofsd (shared folders for VMs) is installed (on PATH, ~/.cargo/bin or
/usr/libexec).
```rhai
if !virtiofsd_available() { print("no shared folders here"); }
```"#,
        || virtiofs::binary().is_some(),
    );
    let h = host.clone();
    r.func(
        "virtiofsd_version",
        &[],
        r#"The installed virtiofsd's version ("1.14.0"). Throws `missing_tool`.
```rhai
print(virtiofsd_version());
```"#,
        move || -> RResult<String> { virtiofs::version(&h).rhai() },
    );
    r.func(
        "virtiofsd_config",
        &[],
        r#"A virtiofsd configuration to fill with `socket_path(p)`, `shared_dir(d)`,
`readonly(b)`, `sandbox("none" | "namespace" | "chroot")`, `thread_pool_size(n)`,
`cache("auto" | "always" | "never" | "metadata")`, then `build()` (which checks it).
```rhai
let cfg = virtiofsd_config().socket_path("/run/fs.sock").shared_dir("/srv/data").build();
```"#,
        || VirtiofsdConfig(virtiofs::Config::new("", "")),
    );
    r.func(
        "socket_path",
        &["config", "path"],
        "Where virtiofsd listens (a unix socket path, at most 100 bytes).\n```rhai\ncfg.socket_path(\"/run/fs.sock\");\n```",
        |c: &mut VirtiofsdConfig, p: &str| -> VirtiofsdConfig {
            c.0.socket_path = p.to_string();
            c.clone()
        },
    );
    r.func(
        "shared_dir",
        &["config", "dir"],
        "The host folder to share (must exist).\n```rhai\ncfg.shared_dir(\"/srv/data\");\n```",
        |c: &mut VirtiofsdConfig, d: &str| -> VirtiofsdConfig {
            c.0.shared_dir = d.to_string();
            c.clone()
        },
    );
    r.func(
        "readonly",
        &["config", "readonly"],
        "Share read-only.\n```rhai\ncfg.readonly(true);\n```",
        |c: &mut VirtiofsdConfig, ro: bool| -> VirtiofsdConfig {
            c.0.readonly = ro;
            c.clone()
        },
    );
    r.func(
        "sandbox",
        &["config", "mode"],
        "virtiofsd's sandbox: \"none\" (herodo's default), \"namespace\" or \"chroot\".\n```rhai\ncfg.sandbox(\"none\");\n```",
        |c: &mut VirtiofsdConfig, m: &str| -> VirtiofsdConfig {
            c.0.sandbox = m.to_string();
            c.clone()
        },
    );
    r.func(
        "thread_pool_size",
        &["config", "n"],
        "virtiofsd's worker threads (0-1024).\n```rhai\ncfg.thread_pool_size(4);\n```",
        |c: &mut VirtiofsdConfig, n: INT| -> RResult<VirtiofsdConfig> {
            let n = crate::common::convert::int_in("thread_pool_size", n, 0u32, 1024).rhai()?;
            c.0.thread_pool_size = Some(n);
            Ok(c.clone())
        },
    );
    r.func(
        "cache",
        &["config", "mode"],
        "The guest's cache policy: \"auto\", \"always\", \"never\" or \"metadata\".\n```rhai\ncfg.cache(\"never\");\n```",
        |c: &mut VirtiofsdConfig, m: &str| -> VirtiofsdConfig {
            c.0.cache = Some(m.to_string());
            c.clone()
        },
    );
    r.func(
        "build",
        &["config"],
        r#"Check the configuration and return it. Throws `invalid_argument` (a bad value,
naming it), `not_found` (no such folder).
```rhai
let cfg = virtiofsd_config().socket_path("/run/fs.sock").shared_dir("/srv/data").build();
```"#,
        |c: &mut VirtiofsdConfig| -> RResult<VirtiofsdConfig> {
            c.0.validate().rhai()?;
            Ok(c.clone())
        },
    );
    let h = host.clone();
    r.func(
        "start_virtiofsd_daemon",
        &["config"],
        r#"Start virtiofsd for a configuration, detached; returns once its socket exists.
Under `herodo test` it is stopped after the test. Throws `missing_tool`, `command_failed`
(virtiofsd exited; its output is in `e.stderr`).
```rhai
let d = start_virtiofsd_daemon(cfg);
print(d.pid);
d.stop();
```"#,
        move |c: VirtiofsdConfig| -> RResult<VirtiofsdDaemon> { start_daemon(&h, &c.0) },
    );
    let h = host.clone();
    r.func(
        "share_directory",
        &["host_dir", "socket_path"],
        r#"Share `host_dir` read-write on `socket_path` (virtiofsd with the defaults).
```rhai
let d = share_directory("/srv/data", "/run/data.sock");
```"#,
        move |dir: &str, sock: &str| -> RResult<VirtiofsdDaemon> {
            start_daemon(&h, &virtiofs::Config::new(sock, dir))
        },
    );
    let h = host.clone();
    r.func(
        "share_directory_readonly",
        &["host_dir", "socket_path"],
        r#"Share `host_dir` read-only on `socket_path`.
```rhai
let d = share_directory_readonly("/srv/data", "/run/data.sock");
```"#,
        move |dir: &str, sock: &str| -> RResult<VirtiofsdDaemon> {
            let mut c = virtiofs::Config::new(sock, dir);
            c.readonly = true;
            start_daemon(&h, &c)
        },
    );
    r.getter(
        "pid",
        "The daemon's pid (or ()).",
        |d: &mut VirtiofsdDaemon| d.0.pid.map_or(Dynamic::UNIT, Dynamic::from),
    );
    r.getter(
        "socket_path",
        "The socket the daemon listens on.",
        |d: &mut VirtiofsdDaemon| d.0.socket_path.clone(),
    );
    r.getter(
        "shared_dir",
        "The shared host folder.",
        |d: &mut VirtiofsdDaemon| d.0.shared_dir.clone(),
    );
    r.func(
        "is_running",
        &["daemon"],
        "Whether the daemon still runs (it ends when its VM disconnects).\n```rhai\nprint(d.is_running());\n```",
        |d: &mut VirtiofsdDaemon| d.0.is_running(),
    );
    let h = host.clone();
    r.func(
        "stop",
        &["daemon"],
        "Stop the daemon and remove its socket; stopping a stopped one is fine.\n```rhai\nd.stop();\n```",
        move |d: &mut VirtiofsdDaemon| {
            d.0.stop(&h);
            virtiofs::forget(&h, &d.0);
            h.resources.forget("virtiofsd", &d.0.socket_path);
        },
    );
    r.func(
        "to_map",
        &["daemon"],
        "The daemon as a map: `pid`, `socket_path`, `shared_dir`, `readonly`, `running`.\n```rhai\nprint(d.to_map());\n```",
        |d: &mut VirtiofsdDaemon| daemon_map(&d.0),
    );
    r.func(
        "virt_what",
        &[],
        r#"Where herodo itself runs: `#{is_virtualized, virtualization_type ("kvm", "qemu",
"vmware", "hyperv", "xen", "bhyve", "other", "none"), hypervisor (the CPUID vendor
signature or ()), container ("docker", "podman", "kubernetes", "lxc" or ()), platform}`.
Reads the CPU and a few files; runs nothing.
```rhai
if virt_what().is_virtualized { print("inside a VM"); }
```"#,
        || -> RResult<Map> { to_rhai(&virt::virt_what()) },
    );
}

const SPEC_KEYS: [&str; 19] = [
    "id",
    "hypervisor",
    "kernel_path",
    "initramfs_path",
    "cmdline",
    "firmware_path",
    "disk_path",
    "disks",
    "vcpus",
    "memory_mb",
    "network",
    "port_forwards",
    "tap",
    "shares",
    "console_log",
    "api_socket",
    "extra_args",
    "role",
    "disk_gb",
];

fn array(m: &Map, key: &str) -> RResult<Vec<Dynamic>> {
    match m.get(key) {
        None => Ok(Vec::new()),
        Some(v) if v.is_unit() => Ok(Vec::new()),
        Some(v) => v
            .read_lock::<Array>()
            .map(|a| a.clone())
            .ok_or_else(|| invalid(key, format!("expected an array, got {}", v.type_name()))),
    }
}

fn int(m: &Map, key: &str) -> RResult<Option<INT>> {
    match m.get(key) {
        None => Ok(None),
        Some(v) if v.is_unit() => Ok(None),
        Some(v) => v
            .as_int()
            .map(Some)
            .map_err(|t| invalid(key, format!("expected an integer, got {t}"))),
    }
}

/// A disk: a path, or `#{path, readonly, format}`.
fn disk(v: &Dynamic) -> RResult<Disk> {
    if v.is_string() {
        return Disk::new(&v.to_string(), false, None).rhai();
    }
    let m = v
        .read_lock::<Map>()
        .ok_or_else(|| invalid("disks", "each disk is a path or a map"))?;
    let o = Opts::new("disks", &m, &["path", "readonly", "format"])?;
    let path = o
        .string("path")?
        .ok_or_else(|| invalid("disks.path", "is required"))?;
    Disk::new(
        &path,
        o.bool("readonly")?.unwrap_or(false),
        o.string("format")?.as_deref(),
    )
    .rhai()
}

/// A port forward: `"HOST:GUEST"` or `#{host, guest}`.
fn forward(v: &Dynamic) -> RResult<(INT, INT)> {
    if v.is_string() {
        let s = v.to_string();
        let parsed = s
            .split_once(':')
            .and_then(|(h, g)| Some((h.parse().ok()?, g.parse().ok()?)));
        return parsed.ok_or_else(|| {
            invalid(
                "port_forwards",
                format!("`{s}` is not HOST_PORT:GUEST_PORT"),
            )
        });
    }
    let m = v
        .read_lock::<Map>()
        .ok_or_else(|| invalid("port_forwards", "each forward is \"HOST:GUEST\" or a map"))?;
    Opts::new("port_forwards", &m, &["host", "guest"])?;
    let h = int(&m, "host")?.ok_or_else(|| invalid("port_forwards.host", "is required"))?;
    let g = int(&m, "guest")?.ok_or_else(|| invalid("port_forwards.guest", "is required"))?;
    Ok((h, g))
}

/// The spec map of `vm_create`, through the spec's validating setters.
pub(super) fn vm_spec(m: &Map) -> RResult<VmSpec> {
    let o = Opts::new("vm_create", m, &SPEC_KEYS)?;
    let id = o
        .string("id")?
        .ok_or_else(|| invalid("id", "is required"))?;
    let mut s = VmSpec::new(&id).rhai()?;
    if let Some(v) = o.string("hypervisor")? {
        s.set_hypervisor(&v).rhai()?;
    }
    if let Some(v) = o.string("kernel_path")? {
        s.set_kernel_path(&v).rhai()?;
    }
    if let Some(v) = o.string("initramfs_path")? {
        s.set_initramfs_path(&v).rhai()?;
    }
    if let Some(v) = o.string("cmdline")? {
        s.set_cmdline(&v).rhai()?;
    }
    if let Some(v) = o.string("firmware_path")? {
        s.set_firmware_path(&v).rhai()?;
    }
    let disks = array(m, "disks")?;
    if let Some(v) = o.string("disk_path")? {
        if !disks.is_empty() {
            return Err(invalid(
                "disk_path",
                "give one disk as disk_path or several as disks, not both",
            ));
        }
        s.add_disk(Disk::new(&v, false, None).rhai()?).rhai()?;
    }
    for d in disks {
        s.add_disk(disk(&d)?).rhai()?;
    }
    if let Some(v) = int(m, "vcpus")? {
        s.set_vcpus(v).rhai()?;
    }
    if let Some(v) = int(m, "memory_mb")? {
        s.set_memory_mb(v).rhai()?;
    }
    let forwards = array(m, "port_forwards")?
        .iter()
        .map(forward)
        .collect::<RResult<Vec<_>>>()?;
    let tap = o.string("tap")?;
    let network = o.string("network")?;
    if network.is_some() || !forwards.is_empty() || tap.is_some() {
        let mode = network.unwrap_or_else(|| if tap.is_some() { "tap" } else { "user" }.into());
        s.set_network(&mode, forwards, tap.as_deref()).rhai()?;
    }
    for v in array(m, "shares")? {
        let sm = v
            .read_lock::<Map>()
            .ok_or_else(|| invalid("shares", "each share is a map #{host, tag, readonly}"))?;
        let so = Opts::new("shares", &sm, &["host", "tag", "readonly"])?;
        let host = so
            .string("host")?
            .ok_or_else(|| invalid("shares.host", "is required"))?;
        let tag = so
            .string("tag")?
            .ok_or_else(|| invalid("shares.tag", "is required"))?;
        s.add_share(&host, &tag, so.bool("readonly")?.unwrap_or(false))
            .rhai()?;
    }
    if let Some(v) = o.string("console_log")? {
        s.set_console_log(&v).rhai()?;
    }
    if let Some(v) = o.string("api_socket")? {
        s.set_api_socket(&v).rhai()?;
    }
    if m.contains_key("extra_args") {
        let args: Vec<String> = array(m, "extra_args")?
            .iter()
            .map(|v| v.to_string())
            .collect();
        s.set_extra_args(args).rhai()?;
    }
    if let Some(v) = o.string("role")? {
        s.set_role(&v).rhai()?;
    }
    if let Some(v) = int(m, "disk_gb")? {
        s.set_disk_gb(v).rhai()?;
    }
    Ok(s)
}

fn register_vm(r: &mut Registrar, host: &Arc<Host>) {
    let h = host.clone();
    r.func(
        "vm_create",
        &["spec"],
        r#"Record a new VM (nothing runs until `vm_start`) and return its id. Keys: `id`
(required; letters, digits, `_`, `.`, `-`), `hypervisor` ("qemu" (default) or
"cloud-hypervisor"), `kernel_path`, `initramfs_path`, `cmdline` (default "console=ttyS0"),
`firmware_path`, `disk_path` (one disk) or `disks` (paths or maps `#{path, readonly,
format}`, format "qcow2" (default) or "raw"; not both keys, no path twice), `vcpus` (1-255,
default 1), `memory_mb` (64-1048576, default 512), `network` ("none" (default), "user" with
`port_forwards` (["8080:80"] or maps `#{host, guest}`, bound to 127.0.0.1), "tap" with
`tap`), `shares: [#{host, tag, readonly}]` (host folders served by virtiofsd; the guest
mounts `tag` with `mount -t virtiofs`), `console_log`, `api_socket`. Paths are checked before
anything is written. Throws `invalid_argument` (an unknown key, a bad value; naming it),
`not_found` (a missing kernel, disk, share folder, ...), `already_exists` (the id is taken).
```rhai
let id = vm_create(#{id: "web", kernel_path: "/srv/vmlinuz", initramfs_path: "/srv/initrd.img",
    disks: [disk], memory_mb: 512, vcpus: 2,
    shares: [#{host: "/srv/data", tag: "data", readonly: true}]});
```"#,
        move |m: Map| -> RResult<String> {
            let spec = vm_spec(&m)?;
            Vms::open(&h).create(&h, spec).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "vm_start",
        &["id"],
        r#"Boot the VM in the background and return once QEMU's monitor answers (the guest
then boots on its own: see `vm_wait_console`). Starting a running VM does nothing. The
accelerator is `HERODO_QEMU_ACCEL` ("tcg", "kvm", or "auto": KVM only where /dev/kvm opens
and the CPU shows vmx/svm). Throws `no_such_vm`, `not_found` (a disk went missing),
`missing_tool`, `command_failed` (QEMU exited; its output is in `e.stderr`), `timeout`.
```rhai
vm_start("web");
```"#,
        move |id: &str| -> RResult<()> { Vms::open(&h).start(&h, id).rhai() },
    );
    let h = host.clone();
    r.func(
        "vm_stop",
        &["id"],
        r#"Stop the VM gracefully: the ACPI power button, QEMU's `quit` if the guest has not
powered off within 30 s, SIGKILL as the last resort. Stopping a VM that does not run does
nothing. Throws `no_such_vm`.
```rhai
vm_stop("web");
```"#,
        move |id: &str| -> RResult<()> {
            Vms::open(&h)
                .stop(&h, id, StopMode::Graceful(DEFAULT_GRACE))
                .rhai()
        },
    );
    let h = host.clone();
    r.func(
        "vm_stop",
        &["id", "force"],
        r#"`vm_stop(id, true)` ends QEMU at once (no power button); `false` is a graceful stop.
```rhai
vm_stop("web", true);
```"#,
        move |id: &str, force: bool| -> RResult<()> {
            Vms::open(&h).stop(&h, id, StopMode::forced(force)).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "vm_stop",
        &["id", "grace"],
        r#"A graceful stop that gives the guest `grace` seconds to power off before QEMU quits.
```rhai
vm_stop("web", 5);
```"#,
        move |id: &str, grace: INT| -> RResult<()> {
            let g = seconds(&Dynamic::from(grace), "grace")?;
            Vms::open(&h).stop(&h, id, StopMode::Graceful(g)).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "vm_stop",
        &["id", "grace"],
        r#"A graceful stop with a grace period in (fractional) seconds.
```rhai
vm_stop("web", 2.5);
```"#,
        move |id: &str, grace: FLOAT| -> RResult<()> {
            let g = seconds(&Dynamic::from(grace), "grace")?;
            Vms::open(&h).stop(&h, id, StopMode::Graceful(g)).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "vm_delete",
        &["id"],
        r#"Remove the VM: stops it at once if it runs, removes its record, console, log and
socket; keeps its disks. Returns false when there was no such VM.
```rhai
vm_delete("web");
```"#,
        move |id: &str| -> RResult<bool> { Vms::open(&h).delete(&h, id, false).rhai() },
    );
    let h = host.clone();
    r.func(
        "vm_delete",
        &["id", "delete_disks"],
        r#"`vm_delete(id, true)` also deletes the VM's writable disks (read-only ones, such as a
shared base image, stay).
```rhai
vm_delete("web", true);
```"#,
        move |id: &str, disks: bool| -> RResult<bool> {
            Vms::open(&h).delete(&h, id, disks).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "vm_info",
        &["id"],
        r#"`#{id, spec, runtime}`: the spec as created (paths absolute) and `runtime: #{status,
pid, console_log, log_file, api_socket, accel, created, started, exit_code, shares}` (`shares`:
`#{tag, host, pid, running}` per shared folder's virtiofsd). `status` is
"created", "running", "paused", "stopped" (asked to stop, or the guest powered off) or
"crashed" (QEMU died otherwise, for example killed). Throws `no_such_vm`.
```rhai
print(vm_info("web").runtime.status);
```"#,
        move |id: &str| -> RResult<Map> { to_rhai(&Vms::open(&h).info(id).rhai()?) },
    );
    let h = host.clone();
    r.func(
        "vm_list",
        &[],
        r#"Every VM of herodo's state directory (also those earlier runs created), as `vm_info`
maps, sorted by id.
```rhai
for v in vm_list() { print(`${v.id}: ${v.runtime.status}`); }
```"#,
        move || -> RResult<Array> { to_rhai(&Vms::open(&h).list().rhai()?) },
    );
    let h = host.clone();
    r.func(
        "vm_pause",
        &["id"],
        r#"Freeze the guest (status "paused"). Throws `bad_state` unless it runs.
```rhai
vm_pause("web");
```"#,
        move |id: &str| -> RResult<()> { Vms::open(&h).pause(&h, id).rhai() },
    );
    let h = host.clone();
    r.func(
        "vm_resume",
        &["id"],
        r#"Let a paused guest run again. Throws `bad_state` unless it is paused.
```rhai
vm_resume("web");
```"#,
        move |id: &str| -> RResult<()> { Vms::open(&h).resume(&h, id).rhai() },
    );
    let h = host.clone();
    r.func(
        "vm_snapshot",
        &["id", "dir"],
        r#"Save a running or paused VM into the directory `dir` (created; it must not hold a
snapshot yet): its memory and device state (`dir/memory`), and an internal snapshot of each
writable qcow2 disk (named in `dir/snapshot.json`). A running guest pauses meanwhile and then
goes on. Throws `bad_state` (not running), `already_exists`.
```rhai
vm_snapshot("web", "/var/lib/vms/web-snap");
```"#,
        move |id: &str, dir: &str| -> RResult<()> { Vms::open(&h).snapshot(&h, id, dir).rhai() },
    );
    let h = host.clone();
    r.func(
        "vm_restore",
        &["id", "dir"],
        r#"Bring a VM that does not run back to what `vm_snapshot` saved in `dir`: its disks
go back to their snapshot and the guest runs on from that moment (no boot). Throws
`bad_state` while it runs (stop it first), `not_found` (no snapshot in `dir`),
`invalid_argument` (the snapshot is of other disks).
```rhai
vm_stop("web");
vm_restore("web", "/var/lib/vms/web-snap");
```"#,
        move |id: &str, dir: &str| -> RResult<()> { Vms::open(&h).restore(&h, id, dir).rhai() },
    );
    let h = host.clone();
    r.func(
        "vm_wait_console",
        &["id", "pattern", "timeout_secs"],
        r#"Follow the serial console until a line matches the regex `pattern`, and return that
line, whole. Only new output is read as the console grows. A prompt (a last line without a
newline) matches once the console has been quiet for 0.5 s. Throws `timeout`, and
`bad_state` when the VM stops before the line appears.
```rhai
let line = vm_wait_console("web", "login:", 60);
```"#,
        move |id: &str, pattern: &str, t: Dynamic| -> RResult<String> {
            let timeout = seconds(&t, "timeout_secs")?;
            Vms::open(&h).wait_console(&h, id, pattern, timeout).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "vm_console_log",
        &["id"],
        r#"The serial console output of the VM's current (or last) boot.
```rhai
print(vm_console_log("web"));
```"#,
        move |id: &str| -> RResult<String> { Vms::open(&h).console_log(id).rhai() },
    );
}

fn register_qcow2(r: &mut Registrar, host: &Arc<Host>) {
    let h = host.clone();
    r.func(
        "qcow2_build_base",
        &["options"],
        r#"Build a base image from the network: download `url` (a progress line on a terminal;
a partial `DEST.part` from an interrupted run is resumed where the server allows ranges,
else the download starts over), verify `sha256`, convert to qcow2 at `dest`, grow it to
`size_gb` (optional) and take the internal snapshot "base". Returns `#{base_image_path,
snapshot, url, resized_to_gb}`. Only a verified, finished image takes the name `dest`.
Throws `checksum_mismatch` (the download is deleted), `already_exists` (`dest` exists),
`invalid_argument`, `io` (the download failed; its `.part` stays for the next run).
```rhai
let b = qcow2_build_base(#{url: "http://127.0.0.1:8000/debian.qcow2",
    sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    dest: "/var/lib/vms/debian.qcow2", size_gb: 20});
```"#,
        move |m: Map| -> RResult<Map> {
            let o = Opts::new(
                "qcow2_build_base",
                &m,
                &["url", "sha256", "dest", "size_gb"],
            )?;
            let need = |k: &str| -> RResult<String> {
                o.string(k)?.ok_or_else(|| invalid(k, "is required"))
            };
            let req = base::BaseRequest {
                url: need("url")?,
                sha256: need("sha256")?,
                dest: need("dest")?,
                size_gb: int(&m, "size_gb")?,
            };
            to_rhai(&base::build(&h, &req).rhai()?)
        },
    );
    let h = host.clone();
    r.func(
        "qcow2_build_ubuntu_24_04_base",
        &["dest_dir", "size_gb"],
        r#"Ubuntu 24.04's cloud image as a base image `DEST_DIR/ubuntu-24.04-base.qcow2` (see
`qcow2_build_base`; the checksum comes from Ubuntu's SHA256SUMS). Needs access to
cloud-images.ubuntu.com, or a mirror named by `HERODO_UBUNTU_24_04_URL` (the image) and
`HERODO_UBUNTU_24_04_SUMS_URL` (its SHA256SUMS). Throws `invalid_argument` (`size_gb` outside
1..=65536, an empty `dest_dir`, a bad mirror URL), `parse` (no checksum for the image), and
what `qcow2_build_base` throws.
```rhai
let b = qcow2_build_ubuntu_24_04_base("/var/lib/vms", 20);
print(b.base_image_path);
```"#,
        move |dir: &str, size_gb: INT| -> RResult<Map> {
            to_rhai(&base::build_ubuntu_24_04(&h, dir, size_gb).rhai()?)
        },
    );
    let h = host.clone();
    r.func(
        "qcow2_create",
        &["path", "size_gb"],
        r#"Create a sparse qcow2 disk of `size_gb` GiB (parent directories are created) and
return its path. Never overwrites: throws `already_exists` when `path` exists,
`invalid_argument` for a size outside 1..=65536, `command_failed` when qemu-img fails (no
file is left then).
```rhai
let disk = qcow2_create("/var/lib/vms/web.qcow2", 10);
```"#,
        move |path: &str, size_gb: INT| -> RResult<String> {
            qcow2::create(&h, path, size_gb).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "qcow2_info",
        &["path"],
        r#"An image's metadata: `format`, `virtual_size` and `actual_size` (bytes), `filename`,
`cluster_size` (or `()`), `backing_file` and `backing_format` (or `()`), `dirty`, `corrupt`,
`snapshots` (see `qcow2_snapshot_list`). Works on any format qemu-img reads, and also while a
running VM holds the image. Throws `not_found`.
```rhai
let i = qcow2_info(disk);
print(`${i.format}: ${i.virtual_size / 1024 / 1024 / 1024} GiB`);
```"#,
        move |path: &str| -> RResult<Map> { to_rhai(&qcow2::info(&h, path).rhai()?) },
    );
    let h = host.clone();
    r.func(
        "qcow2_snapshot_create",
        &["path", "name"],
        r#"Take an internal snapshot `name` of a qcow2 image (not while a VM runs on it).
Throws `already_exists` for a name in use, `locked` while a VM holds the image,
`not_qcow2`, `not_found`, `invalid_argument` for a bad name.
```rhai
qcow2_snapshot_create(disk, "before-upgrade");
```"#,
        move |path: &str, name: &str| -> RResult<()> {
            qcow2::snapshot_create(&h, path, name).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "qcow2_snapshot_delete",
        &["path", "name"],
        r#"Delete the internal snapshot `name`. Throws `not_found` when there is none,
`locked`, `not_qcow2`.
```rhai
qcow2_snapshot_delete(disk, "before-upgrade");
```"#,
        move |path: &str, name: &str| -> RResult<()> {
            qcow2::snapshot_delete(&h, path, name).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "qcow2_snapshot_list",
        &["path"],
        r#"The internal snapshots, oldest first: maps with `id`, `name`, `vm_state_size`,
`date_sec`, `date_nsec`, `vm_clock_sec`, `vm_clock_nsec` and `date` ("YYYY-MM-DD HH:MM:SS",
UTC). Throws `not_found`.
```rhai
for s in qcow2_snapshot_list(disk) { print(`${s.name} ${s.date}`); }
```"#,
        move |path: &str| -> RResult<Array> { to_rhai(&qcow2::snapshot_list(&h, path).rhai()?) },
    );
    let h = host.clone();
    r.func(
        "qcow2_resize",
        &["path", "size_gb"],
        r#"Grow a qcow2 image to `size_gb` GiB. Shrinking is refused (`invalid_argument`: it
would lose data). Throws `locked`, `not_qcow2`, `not_found`.
```rhai
qcow2_resize(disk, 20);
```"#,
        move |path: &str, size_gb: INT| -> RResult<()> { qcow2::resize(&h, path, size_gb).rhai() },
    );
    let h = host.clone();
    r.func(
        "qcow2_convert",
        &["src", "dst", "format"],
        r#"Convert `src` (any format) into a new file `dst` of `format` ("qcow2", "raw",
"vmdk", "vdi", "vhdx", "vpc"); returns `dst`. Never overwrites (`already_exists`); a failed
conversion leaves no `dst`. Throws `not_found`, `locked` (a running VM writes `src`).
```rhai
qcow2_convert(disk, "/tmp/web.raw", "raw");
```"#,
        move |src: &str, dst: &str, format: &str| -> RResult<String> {
            qcow2::convert(&h, src, dst, format).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "qcow2_overlay",
        &["base", "path"],
        r#"Create a qcow2 overlay `path` backed by `base` (copy on write: `base` stays as it
is, writes go to `path`); returns `path`. The overlay names `base` by its absolute path.
Throws `not_found` (no base), `already_exists`.
```rhai
let vm_disk = qcow2_overlay("/var/lib/vms/base.qcow2", "/var/lib/vms/web.qcow2");
```"#,
        move |base: &str, path: &str| -> RResult<String> { qcow2::overlay(&h, base, path).rhai() },
    );
    let h = host.clone();
    r.func(
        "qcow2_check",
        &["path"],
        r#"Check a qcow2 image's consistency: a map with `ok`, `check_errors`, `corruptions`,
`leaks`, `corruptions_fixed`, `leaks_fixed`, `allocated_clusters`, `total_clusters`,
`image_end_offset`, `filename`. Problems found are in the map, not thrown; throws `locked`,
`not_qcow2`, `not_found`.
```rhai
if !qcow2_check(disk).ok { print("disk needs repair"); }
```"#,
        move |path: &str| -> RResult<Map> { to_rhai(&qcow2::check(&h, path).rhai()?) },
    );
}
