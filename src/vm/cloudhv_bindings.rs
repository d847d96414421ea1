//! Rhai glue for Cloud Hypervisor, with the original herodo's names: the `cloudhv_vm_*`
//! functions (VMs of the manager with `hypervisor: "cloud-hypervisor"`), and the
//! one-VM-per-process API (`RuntimeBuilder`, `init_runtime`, `VMBuilder`, `DeviceBuilder`,
//! `create_vm`, ...). The runtime started by `init_runtime` belongs to this engine (not a
//! global); under `herodo test` it is shut down after the test.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rhai::{Array, Dynamic, Map, INT};

use super::cloud_hypervisor::config::{console_mode, ChVm, Device};
use super::cloud_hypervisor::runtime::{self, Runtime, Settings};
use super::error::VmError;
use super::spec::Hypervisor;
use super::{StopMode, Vms, DEFAULT_GRACE};
use crate::glue::{invalid, to_rhai, IntoRhai, RResult, Registrar};
use crate::host::{Host, Resource};

/// `RuntimeBuilder()`: how `init_runtime` starts cloud-hypervisor.
#[derive(Clone)]
pub struct RuntimeBuilder(Settings);

/// `VMBuilder()`: a VM for `create_vm`, built with chained setters.
#[derive(Clone)]
pub struct VMBuilder(ChVm);

/// What `VMBuilder().build()` returns: a checked VM with a uuid `.id`.
#[derive(Clone)]
pub struct VMSpec(ChVm);

/// A VM of the runtime (`create_vm`, `restore`).
#[derive(Clone)]
pub struct VMHandle {
    id: String,
}

/// `DeviceBuilder(id)`: a device to hot-plug with `add_device`.
#[derive(Clone)]
pub struct DeviceBuilder {
    id: String,
    device: Option<Device>,
}

/// The runtime of this engine and its VM.
#[derive(Default)]
struct Session {
    runtime: Option<Runtime>,
    /// The VM the runtime holds (CH runs one per process).
    vm: Option<String>,
    /// `stop_vm` was called (CH then says `Created`; the original said `Shutdown`).
    stopped: bool,
}

type Shared = Arc<Mutex<Session>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Session> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

fn no_runtime() -> Box<rhai::EvalAltResult> {
    crate::glue::to_rhai_error(crate::error::Classify::info(&VmError::BadState {
        id: "cloudhv".into(),
        status: "not initialized".into(),
        action: "this call",
        needs: "a runtime (call init_runtime(RuntimeBuilder()) first)",
    }))
}

/// The runtime, after checking that `h` is its VM.
fn runtime_for(s: &Shared, h: &VMHandle) -> RResult<Runtime> {
    let g = lock(s);
    let rt = g.runtime.clone().ok_or_else(no_runtime)?;
    if g.vm.as_deref() != Some(h.id.as_str()) {
        return Err(VmError::NoSuchVm { id: h.id.clone() }).rhai();
    }
    Ok(rt)
}

pub fn register(r: &mut Registrar, host: &Arc<Host>) {
    register_manager(r, host);
    let session: Shared = Arc::new(Mutex::new(Session::default()));
    register_builders(r);
    register_runtime(r, host, &session);
    register_vm_ops(r, host, &session);
}

/// A `cloudhv_vm_create` map as a `vm_create` map of hypervisor cloud-hypervisor.
fn ch_spec_map(m: &Map) -> RResult<Map> {
    let mut m = m.clone();
    match m.get("hypervisor") {
        None => {
            m.insert("hypervisor".into(), "cloud-hypervisor".into());
        }
        Some(v) if v.to_string() == "cloud-hypervisor" => {}
        Some(v) => {
            return Err(invalid(
                "hypervisor",
                format!("cloudhv_vm_create makes cloud-hypervisor VMs, not `{v}`"),
            ))
        }
    }
    Ok(m)
}

fn register_manager(r: &mut Registrar, host: &Arc<Host>) {
    let h = host.clone();
    r.func(
        "cloudhv_vm_create",
        &["spec"],
        r#"Record a new Cloud Hypervisor VM (nothing runs until `cloudhv_vm_start`) and return its
id: `vm_create` with `hypervisor: "cloud-hypervisor"`. Keys as for `vm_create` (`id`,
`kernel_path` or `firmware_path`, `initramfs_path`, `cmdline`, `disk_path`/`disks`, `vcpus`,
`memory_mb`, `network` "none" or "tap" with `tap`, `shares`, `console_log`, `api_socket`) plus
`extra_args` (more cloud-hypervisor arguments), `role` (a label) and `disk_gb` (recorded).
Throws `invalid_argument` (naming the key), `not_found` (a missing kernel or disk),
`already_exists`.
```rhai
let id = cloudhv_vm_create(#{id: "ch1", kernel_path: "/srv/vmlinux", memory_mb: 512, vcpus: 2});
```"#,
        move |m: Map| -> RResult<String> {
            let spec = super::bindings::vm_spec(&ch_spec_map(&m)?)?;
            Vms::open(&h).create(&h, spec).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "cloudhv_vm_start",
        &["id"],
        r#"Start the VM: runs `cloud-hypervisor --api-socket` (`HERODO_CH_BIN`, else PATH), sends
the config (`vm.create`) and boots it (`vm.boot`); returns once the boot is accepted.
Starting a running VM does nothing. Throws `no_such_vm`, `missing_tool`, `not_found` (CH
cannot open the kernel), `timeout`, `unreachable`, `ch_api`.
```rhai
cloudhv_vm_start("ch1");
```"#,
        move |id: &str| -> RResult<()> { Vms::open(&h).start(&h, id).rhai() },
    );
    let h = host.clone();
    r.func(
        "cloudhv_vm_stop",
        &["id", "force"],
        r#"Stop the VM: `force` ends cloud-hypervisor at once (`vmm.shutdown`, then SIGKILL);
otherwise the ACPI power button first, with 30 s for the guest to power off. Stopping a VM
that does not run does nothing. Throws `no_such_vm`.
```rhai
cloudhv_vm_stop("ch1", false);
```"#,
        move |id: &str, force: bool| -> RResult<()> {
            Vms::open(&h).stop(&h, id, StopMode::forced(force)).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "cloudhv_vm_stop",
        &["id"],
        r#"A graceful stop (`cloudhv_vm_stop(id, false)`).
```rhai
cloudhv_vm_stop("ch1");
```"#,
        move |id: &str| -> RResult<()> {
            Vms::open(&h)
                .stop(&h, id, StopMode::Graceful(DEFAULT_GRACE))
                .rhai()
        },
    );
    let h = host.clone();
    r.func(
        "cloudhv_vm_delete",
        &["id", "delete_disks"],
        r#"Remove the VM (stopping it at once if it runs) and its files; with `delete_disks`
also its writable disks. Returns false when there was no such VM.
```rhai
cloudhv_vm_delete("ch1", false);
```"#,
        move |id: &str, disks: bool| -> RResult<bool> {
            Vms::open(&h).delete(&h, id, disks).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "cloudhv_vm_delete",
        &["id"],
        r#"`cloudhv_vm_delete(id, false)`: the disks stay.
```rhai
cloudhv_vm_delete("ch1");
```"#,
        move |id: &str| -> RResult<bool> { Vms::open(&h).delete(&h, id, false).rhai() },
    );
    let h = host.clone();
    r.func(
        "cloudhv_vm_list",
        &[],
        r#"The Cloud Hypervisor VMs of herodo's state directory as `cloudhv_vm_info` maps,
sorted by id.
```rhai
for v in cloudhv_vm_list() { print(`${v.spec.id}: ${v.runtime.status}`); }
```"#,
        move || -> RResult<Array> {
            let all = Vms::open(&h).list().rhai()?;
            let ch: Vec<_> = all
                .into_iter()
                .filter(|v| v.spec.hypervisor == Hypervisor::CloudHypervisor)
                .collect();
            to_rhai(&ch)
        },
    );
    let h = host.clone();
    r.func(
        "cloudhv_vm_info",
        &["id"],
        r#"`#{id, spec, runtime}` as `vm_info`: `spec.{id, vcpus, memory_mb, ...}` and
`runtime.{status, pid, log_file, api_socket, exit_code, log_tail}`. `status` is "created",
"running", "paused", "stopped" or "crashed" (cloud-hypervisor ended by itself with an
error in its log, such as a vCPU failure: it exits 0 then; `log_tail` has its last words).
Throws `no_such_vm`.
```rhai
let i = cloudhv_vm_info("ch1");
print(`${i.spec.vcpus} vCPUs, ${i.runtime.status}, log ${i.runtime.log_file}`);
```"#,
        move |id: &str| -> RResult<Map> { to_rhai(&Vms::open(&h).info(id).rhai()?) },
    );
}

fn register_builders(r: &mut Registrar) {
    r.engine()
        .register_type_with_name::<RuntimeBuilder>("RuntimeBuilder")
        .register_type_with_name::<VMBuilder>("VMBuilder")
        .register_type_with_name::<VMSpec>("VMSpec")
        .register_type_with_name::<VMHandle>("VMHandle")
        .register_type_with_name::<DeviceBuilder>("DeviceBuilder");
    r.func(
        "RuntimeBuilder",
        &[],
        r#"How `init_runtime` starts cloud-hypervisor: `ch_path(p)` (default `HERODO_CH_BIN`,
else PATH), `api_socket(p)` (default a fresh socket in the temp directory), `log_file(p)`
(its output; default in herodo's state directory), `seccomp(b)` (default true),
`landlock(b)` (default false), `start()`.
```rhai
let rb = RuntimeBuilder().api_socket("/tmp/ch.sock").seccomp(false).start();
```"#,
        || RuntimeBuilder(Settings::new()),
    );
    r.func(
        "ch_path",
        &["builder", "path"],
        "The cloud-hypervisor binary to run.\n```rhai\nlet rb = RuntimeBuilder().ch_path(\"/usr/local/bin/cloud-hypervisor\");\n```",
        |b: &mut RuntimeBuilder, p: &str| -> RResult<RuntimeBuilder> {
            super::cloud_hypervisor::config::path_field("ch_path", p).rhai()?;
            b.0.ch_path = Some(p.to_string());
            Ok(b.clone())
        },
    );
    r.func(
        "api_socket",
        &["builder", "path"],
        "The API socket path (at most 100 bytes).\n```rhai\nlet rb = RuntimeBuilder().api_socket(\"/tmp/ch.sock\");\n```",
        |b: &mut RuntimeBuilder, p: &str| -> RResult<RuntimeBuilder> {
            super::cloud_hypervisor::config::path_field("api_socket", p).rhai()?;
            if p.len() > 100 {
                return Err(invalid("api_socket", "is longer than a unix socket path may be"));
            }
            b.0.api_socket = Some(p.to_string());
            Ok(b.clone())
        },
    );
    r.func(
        "log_file",
        &["builder", "path"],
        "Where cloud-hypervisor's output goes.\n```rhai\nlet rb = RuntimeBuilder().log_file(\"/tmp/ch.log\");\n```",
        |b: &mut RuntimeBuilder, p: &str| -> RResult<RuntimeBuilder> {
            super::cloud_hypervisor::config::path_field("log_file", p).rhai()?;
            b.0.log_file = Some(p.to_string());
            Ok(b.clone())
        },
    );
    r.func(
        "seccomp",
        &["builder", "enabled"],
        "Cloud Hypervisor's seccomp filter (`--seccomp false` when off).\n```rhai\nlet rb = RuntimeBuilder().seccomp(false);\n```",
        |b: &mut RuntimeBuilder, on: bool| -> RuntimeBuilder {
            b.0.seccomp = on;
            b.clone()
        },
    );
    r.func(
        "landlock",
        &["builder", "enabled"],
        "Cloud Hypervisor's Landlock sandbox (`--landlock` when on).\n```rhai\nlet rb = RuntimeBuilder().landlock(true);\n```",
        |b: &mut RuntimeBuilder, on: bool| -> RuntimeBuilder {
            b.0.landlock = on;
            b.clone()
        },
    );
    r.func(
        "start",
        &["builder"],
        "Ends the chain (the process starts in `init_runtime`).\n```rhai\nlet rb = RuntimeBuilder().start();\n```",
        |b: &mut RuntimeBuilder| -> RuntimeBuilder { b.clone() },
    );

    r.func(
        "VMBuilder",
        &[],
        r#"A VM for `create_vm`: `kernel(p)` (required), `initramfs(p)`, `cmdline(s or array)`,
`memory(mb)` (default 512), `memory_shared(b)`, `cpus(n)` (default 1), `max_cpus(n)` (room for
`add_vcpu`), `virtio_blk(path, readonly)`, `virtio_net(tap)`, `virtio_net_with_mac(tap, mac)`,
`virtio_rng()`, `virtio_fs(tag, socket)`, `vhost_user_net(socket)`, `vhost_user_blk(socket)`,
`vfio(device)`, `console(mode)` and `serial(mode)` ("tty", "off", "file", "null"; the
defaults are console "off" and serial "file", in herodo's state directory), then `build()`.
Setters throw `invalid_argument` naming the setter for a bad value.
```rhai
let spec = VMBuilder().kernel("/srv/vmlinux").cmdline("console=ttyS0").cpus(2).memory(1024).build();
```"#,
        || VMBuilder(ChVm::default()),
    );
    /// A setter that takes one string.
    fn set<F>(r: &mut Registrar, name: &str, doc: &str, f: F)
    where
        F: Fn(&mut ChVm, &str) -> super::error::Result<()> + Clone + Send + Sync + 'static,
    {
        r.func(
            name,
            &["builder", "value"],
            doc,
            move |b: &mut VMBuilder, v: &str| -> RResult<VMBuilder> {
                f(&mut b.0, v).rhai()?;
                Ok(b.clone())
            },
        );
    }
    set(
        r,
        "kernel",
        "The kernel to boot (vmlinux, or a bzImage).\n```rhai\nlet b = VMBuilder().kernel(\"/srv/vmlinux\");\n```",
        |c, v| c.set_kernel(v),
    );
    set(
        r,
        "initramfs",
        "An initramfs for the kernel.\n```rhai\nlet b = VMBuilder().initramfs(\"/srv/initrd.img\");\n```",
        |c, v| c.set_initramfs(v),
    );
    set(
        r,
        "cmdline",
        "The kernel command line (split on whitespace).\n```rhai\nlet b = VMBuilder().cmdline(\"console=ttyS0 root=/dev/vda1\");\n```",
        |c, v| {
            let words: Vec<String> = v.split_whitespace().map(str::to_string).collect();
            c.set_cmdline(&words)
        },
    );
    r.func(
        "cmdline",
        &["builder", "words"],
        "The kernel command line from an array of words.\n```rhai\nlet b = VMBuilder().cmdline([\"console=ttyS0\", \"quiet\"]);\n```",
        |b: &mut VMBuilder, words: Array| -> RResult<VMBuilder> {
            b.0.set_cmdline(&crate::glue::string_array(&words)).rhai()?;
            Ok(b.clone())
        },
    );
    r.func(
        "memory",
        &["builder", "mb"],
        "Guest memory in MiB (64-1048576).\n```rhai\nlet b = VMBuilder().memory(1024);\n```",
        |b: &mut VMBuilder, mb: INT| -> RResult<VMBuilder> {
            b.0.set_memory(mb).rhai()?;
            Ok(b.clone())
        },
    );
    r.func(
        "memory_shared",
        &["builder", "shared"],
        "Share guest memory (needed by vhost-user devices; virtio_fs turns it on).\n```rhai\nlet b = VMBuilder().memory_shared(true);\n```",
        |b: &mut VMBuilder, on: bool| -> VMBuilder {
            b.0.memory_shared = on;
            b.clone()
        },
    );
    r.func(
        "cpus",
        &["builder", "n"],
        "Boot vCPUs (1-255).\n```rhai\nlet b = VMBuilder().cpus(2);\n```",
        |b: &mut VMBuilder, n: INT| -> RResult<VMBuilder> {
            b.0.set_cpus(n).rhai()?;
            Ok(b.clone())
        },
    );
    r.func(
        "max_cpus",
        &["builder", "n"],
        "The most vCPUs `add_vcpu` may reach (default: `cpus`).\n```rhai\nlet b = VMBuilder().cpus(1).max_cpus(4);\n```",
        |b: &mut VMBuilder, n: INT| -> RResult<VMBuilder> {
            b.0.set_max_cpus(n).rhai()?;
            Ok(b.clone())
        },
    );
    r.func(
        "virtio_blk",
        &["builder", "path", "readonly"],
        "A disk image.\n```rhai\nlet b = VMBuilder().virtio_blk(\"/var/lib/vms/a.img\", false);\n```",
        |b: &mut VMBuilder, p: &str, ro: bool| -> RResult<VMBuilder> {
            b.0.add_disk(p, ro).rhai()?;
            Ok(b.clone())
        },
    );
    set(
        r,
        "virtio_net",
        "A network card on a tap interface.\n```rhai\nlet b = VMBuilder().virtio_net(\"tap0\");\n```",
        |c, v| c.add_net(v, None),
    );
    r.func(
        "virtio_net_with_mac",
        &["builder", "tap", "mac"],
        "A network card on a tap interface with a MAC address.\n```rhai\nlet b = VMBuilder().virtio_net_with_mac(\"tap0\", \"52:54:00:12:34:56\");\n```",
        |b: &mut VMBuilder, tap: &str, mac: &str| -> RResult<VMBuilder> {
            b.0.add_net(tap, Some(mac)).rhai()?;
            Ok(b.clone())
        },
    );
    r.func(
        "virtio_rng",
        &["builder"],
        "A random number device fed from /dev/urandom.\n```rhai\nlet b = VMBuilder().virtio_rng();\n```",
        |b: &mut VMBuilder| -> VMBuilder {
            b.0.rng = true;
            b.clone()
        },
    );
    r.func(
        "virtio_fs",
        &["builder", "tag", "socket"],
        "A virtio-fs share served by a virtiofsd on `socket` (turns on shared memory).\n```rhai\nlet b = VMBuilder().virtio_fs(\"data\", \"/run/fs.sock\");\n```",
        |b: &mut VMBuilder, tag: &str, sock: &str| -> RResult<VMBuilder> {
            b.0.add_fs(tag, sock).rhai()?;
            Ok(b.clone())
        },
    );
    set(
        r,
        "vhost_user_net",
        "A vhost-user network backend's socket.\n```rhai\nlet b = VMBuilder().vhost_user_net(\"/run/vu-net.sock\");\n```",
        |c, v| c.add_vhost_user_net(v),
    );
    set(
        r,
        "vhost_user_blk",
        "A vhost-user block backend's socket.\n```rhai\nlet b = VMBuilder().vhost_user_blk(\"/run/vu-blk.sock\");\n```",
        |c, v| c.add_vhost_user_blk(v),
    );
    set(
        r,
        "vfio",
        "A host PCI device passed through (a PCI address or its sysfs path).\n```rhai\nlet b = VMBuilder().vfio(\"0000:01:00.0\");\n```",
        |c, v| c.add_vfio(v),
    );
    set(
        r,
        "console",
        "The virtio console: \"tty\", \"off\" (default), \"file\" or \"null\".\n```rhai\nlet b = VMBuilder().console(\"off\");\n```",
        |c, v| {
            c.console = console_mode("console", v)?;
            Ok(())
        },
    );
    set(
        r,
        "serial",
        "The serial port: \"tty\", \"off\", \"file\" (default: a file in herodo's state directory) or \"null\".\n```rhai\nlet b = VMBuilder().serial(\"null\");\n```",
        |c, v| {
            c.serial = console_mode("serial", v)?;
            Ok(())
        },
    );
    r.func(
        "build",
        &["builder"],
        r#"Check the VM and return its spec, whose `.id` is a new uuid. Throws
`invalid_argument` naming the field (`kernel` when none was given).
```rhai
let spec = VMBuilder().kernel("/srv/vmlinux").build();
print(spec.id);
```"#,
        |b: &mut VMBuilder| -> RResult<VMSpec> {
            b.0.check().rhai()?;
            let mut vm = b.0.clone();
            vm.id = runtime::uuid();
            Ok(VMSpec(vm))
        },
    );
    r.getter("id", "The VM's uuid.", |s: &mut VMSpec| s.0.id.clone());
    r.getter("id", "The VM's id.", |h: &mut VMHandle| h.id.clone());

    r.func(
        "DeviceBuilder",
        &["id"],
        r#"A device to hot-plug with `add_device`, named `id`: then one of `disk(path,
readonly)`, `net(tap)`, `net_with_mac(tap, mac)`, `fs(tag, socket)`, `vhost_user_net(socket)`,
`vhost_user_blk(socket, readonly)`, `vfio(device)`.
```rhai
let d = DeviceBuilder("data1").disk("/var/lib/vms/data.img", false);
```"#,
        |id: &str| DeviceBuilder {
            id: id.to_string(),
            device: None,
        },
    );
    r.func(
        "disk",
        &["device", "path", "readonly"],
        "A disk image (`vm.add-disk`).\n```rhai\nlet d = DeviceBuilder(\"d1\").disk(\"/var/lib/vms/d.img\", true);\n```",
        |d: &mut DeviceBuilder, p: &str, ro: bool| -> RResult<DeviceBuilder> {
            super::cloud_hypervisor::config::path_field("disk", p).rhai()?;
            d.device = Some(Device::Disk {
                path: p.into(),
                readonly: ro,
            });
            Ok(d.clone())
        },
    );
    r.func(
        "net",
        &["device", "tap"],
        "A network card on a tap interface (`vm.add-net`).\n```rhai\nlet d = DeviceBuilder(\"n1\").net(\"tap1\");\n```",
        |d: &mut DeviceBuilder, tap: &str| -> RResult<DeviceBuilder> {
            super::cloud_hypervisor::config::tap_name("net", tap).rhai()?;
            d.device = Some(Device::Net {
                tap: tap.into(),
                mac: None,
            });
            Ok(d.clone())
        },
    );
    r.func(
        "net_with_mac",
        &["device", "tap", "mac"],
        "A network card with a MAC address.\n```rhai\nlet d = DeviceBuilder(\"n1\").net_with_mac(\"tap1\", \"52:54:00:00:00:01\");\n```",
        |d: &mut DeviceBuilder, tap: &str, mac: &str| -> RResult<DeviceBuilder> {
            super::cloud_hypervisor::config::tap_name("net_with_mac", tap).rhai()?;
            super::cloud_hypervisor::config::mac("net_with_mac", mac).rhai()?;
            d.device = Some(Device::Net {
                tap: tap.into(),
                mac: Some(mac.into()),
            });
            Ok(d.clone())
        },
    );
    r.func(
        "fs",
        &["device", "tag", "socket"],
        "A virtio-fs share (`vm.add-fs`).\n```rhai\nlet d = DeviceBuilder(\"f1\").fs(\"data\", \"/run/fs.sock\");\n```",
        |d: &mut DeviceBuilder, tag: &str, sock: &str| -> RResult<DeviceBuilder> {
            let mut probe = ChVm::default();
            probe.add_fs(tag, sock).rhai()?;
            d.device = Some(Device::Fs {
                tag: tag.into(),
                socket: sock.into(),
            });
            Ok(d.clone())
        },
    );
    r.func(
        "vhost_user_net",
        &["device", "socket"],
        "A vhost-user network backend (`vm.add-net`).\n```rhai\nlet d = DeviceBuilder(\"v1\").vhost_user_net(\"/run/vu-net.sock\");\n```",
        |d: &mut DeviceBuilder, sock: &str| -> RResult<DeviceBuilder> {
            super::cloud_hypervisor::config::path_field("vhost_user_net", sock).rhai()?;
            d.device = Some(Device::VhostUserNet {
                socket: sock.into(),
            });
            Ok(d.clone())
        },
    );
    r.func(
        "vhost_user_blk",
        &["device", "socket", "readonly"],
        "A vhost-user block backend (`vm.add-disk`).\n```rhai\nlet d = DeviceBuilder(\"b1\").vhost_user_blk(\"/run/vu-blk.sock\", false);\n```",
        |d: &mut DeviceBuilder, sock: &str, ro: bool| -> RResult<DeviceBuilder> {
            super::cloud_hypervisor::config::path_field("vhost_user_blk", sock).rhai()?;
            d.device = Some(Device::VhostUserBlk {
                socket: sock.into(),
                readonly: ro,
            });
            Ok(d.clone())
        },
    );
    r.func(
        "vfio",
        &["device", "pci_device"],
        "A host PCI device (`vm.add-device`).\n```rhai\nlet d = DeviceBuilder(\"p1\").vfio(\"0000:01:00.0\");\n```",
        |d: &mut DeviceBuilder, pci: &str| -> RResult<DeviceBuilder> {
            super::cloud_hypervisor::config::path_field("vfio", pci).rhai()?;
            d.device = Some(Device::Vfio { device: pci.into() });
            Ok(d.clone())
        },
    );
}

fn register_runtime(r: &mut Registrar, host: &Arc<Host>, session: &Shared) {
    let (h, s) = (host.clone(), session.clone());
    r.func(
        "init_runtime",
        &["builder"],
        r#"Start cloud-hypervisor with an API socket and make it this script's runtime (an
earlier one is shut down). Returns false, printing why, when cloud-hypervisor is not
installed (and under `--dry-run`, which starts nothing); throws `unreachable` (it exited at once: its log is in the message) or `timeout`.
Under `herodo test` it is shut down after the test.
```rhai
if !init_runtime(RuntimeBuilder().start()) { print("no cloud-hypervisor here"); }
```"#,
        move |b: RuntimeBuilder| -> RResult<bool> {
            let old = lock(&s).runtime.take();
            if let Some(rt) = old {
                rt.shutdown(&h);
                h.resources
                    .forget("cloudhv", &rt.socket.display().to_string());
            }
            *lock(&s) = Session::default();
            let Some(rt) = runtime::start(&h, &b.0).rhai()? else {
                if !h.settings.dry_run {
                    let program =
                        b.0.ch_path
                            .clone()
                            .unwrap_or_else(super::cloud_hypervisor::program);
                    eprintln!(
                        "init_runtime: {program} is not installed ({})",
                        super::cloud_hypervisor::INSTALL_HINT
                    );
                }
                return Ok(false);
            };
            let kept = rt.clone();
            h.resources.register(Resource::new(
                "cloudhv",
                rt.socket.display().to_string(),
                move |h| {
                    kept.shutdown(h);
                    Ok(())
                },
            ));
            lock(&s).runtime = Some(rt);
            Ok(true)
        },
    );
    let (h, s) = (host.clone(), session.clone());
    r.func(
        "shutdown_runtime",
        &[],
        r#"End this script's cloud-hypervisor (`vmm.shutdown`, then SIGKILL if it lingers) and
its VM. Without a runtime it does nothing.
```rhai
shutdown_runtime();
```"#,
        move || {
            let old = std::mem::take(&mut *lock(&s));
            if let Some(rt) = old.runtime {
                rt.shutdown(&h);
                h.resources
                    .forget("cloudhv", &rt.socket.display().to_string());
            }
        },
    );
    let s = session.clone();
    r.func(
        "create_vm",
        &["spec"],
        r#"Send a `VMBuilder` spec to the runtime (`vm.create`); returns a handle whose `.id` is the
spec's. One VM per runtime: a second throws `already_exists`. Throws `bad_state` before
`init_runtime`.
```rhai
let vm = create_vm(VMBuilder().kernel("/srv/vmlinux").build());
```"#,
        move |spec: VMSpec| -> RResult<VMHandle> {
            let rt = lock(&s).runtime.clone().ok_or_else(no_runtime)?;
            rt.create_vm(&spec.0).rhai()?;
            let mut g = lock(&s);
            g.vm = Some(spec.0.id.clone());
            g.stopped = false;
            Ok(VMHandle { id: spec.0.id })
        },
    );
    let (h, s) = (host.clone(), session.clone());
    r.func(
        "restore",
        &["dir"],
        r#"Restore a VM that `snapshot` saved in `dir` into the runtime (which must hold no VM)
and let it run; returns its handle (the snapshotted VM's id). Throws `already_exists` (the
runtime has a VM), `not_found`, `bad_state` before `init_runtime`.
```rhai
let vm = restore("/var/lib/vms/snap1");
```"#,
        move |dir: &str| -> RResult<VMHandle> {
            super::cloud_hypervisor::config::path_field("dir", dir).rhai()?;
            let rt = lock(&s).runtime.clone().ok_or_else(no_runtime)?;
            let dir = PathBuf::from(super::absolute(dir));
            if !dir.is_dir() {
                return Err(VmError::missing("snapshot", dir.display().to_string())).rhai();
            }
            if h.dry_run(|| format!("cloudhv: restore {}", dir.display())) {
                return Ok(VMHandle {
                    id: runtime::uuid(),
                });
            }
            let id = rt.restore(&dir).rhai()?;
            let mut g = lock(&s);
            g.vm = Some(id.clone());
            g.stopped = false;
            Ok(VMHandle { id })
        },
    );
    let s = session.clone();
    r.func(
        "get_vm_status",
        &["vm"],
        r#"The VM's state: "Created", "Running", "Paused", "Shutdown" (after `stop_vm`),
"Unknown" (not this runtime's VM, or cloud-hypervisor does not answer), "NotInitialized"
(no `init_runtime` yet). Never throws.
```rhai
print(get_vm_status(vm));
```"#,
        move |vm: VMHandle| -> String { status(&s, Some(&vm.id)) },
    );
    let s = session.clone();
    r.func(
        "get_vm_status",
        &[],
        r#"The state of the runtime's VM (see `get_vm_status(vm)`).
```rhai
print(get_vm_status());
```"#,
        move || -> String { status(&s, None) },
    );
    let h = host.clone();
    r.func(
        "list_snapshots",
        &["vm_id"],
        r#"The snapshots `snapshot` took of `vm_id` (also in earlier runs) whose directories
still exist, oldest first: maps `#{vm_id, name, path, timestamp, size}`.
```rhai
for s in list_snapshots(vm.id) { print(`${s.name} ${s.size}`); }
```"#,
        move |vm_id: &str| -> RResult<Array> {
            to_rhai(&runtime::list_snapshots(&h, vm_id).rhai()?)
        },
    );
    let h = host.clone();
    r.func(
        "delete_snapshot",
        &["vm_id", "name"],
        r#"Delete the snapshot `name` of `vm_id` (its directory too). Returns false when there
is none.
```rhai
delete_snapshot(vm.id, "snap1");
```"#,
        move |vm_id: &str, name: &str| -> RResult<bool> {
            runtime::delete_snapshot(&h, vm_id, name).rhai()
        },
    );
}

fn status(s: &Shared, id: Option<&str>) -> String {
    let g = lock(s);
    let Some(rt) = g.runtime.clone() else {
        return "NotInitialized".into();
    };
    let Some(vm) = g.vm.clone() else {
        return "Unknown".into();
    };
    if id.is_some_and(|i| i != vm) {
        return "Unknown".into();
    }
    let stopped = g.stopped;
    drop(g);
    match rt.state() {
        Ok(st) if st == "Created" && stopped => "Shutdown".into(),
        Ok(st) if matches!(st.as_str(), "Created" | "Running" | "Paused" | "Shutdown") => st,
        _ => "Unknown".into(),
    }
}

fn register_vm_ops(r: &mut Registrar, host: &Arc<Host>, session: &Shared) {
    /// A call on the runtime's VM that has no result.
    fn op(
        r: &mut Registrar,
        host: &Arc<Host>,
        session: &Shared,
        name: &'static str,
        endpoint: &'static str,
        doc: &str,
    ) {
        let (h, s) = (host.clone(), session.clone());
        r.func(name, &["vm"], doc, move |vm: VMHandle| -> RResult<()> {
            let rt = runtime_for(&s, &vm)?;
            if h.dry_run(|| format!("cloudhv: {endpoint} {}", vm.id)) {
                return Ok(());
            }
            rt.action(endpoint).rhai()?;
            match endpoint {
                "vm.shutdown" => lock(&s).stopped = true,
                "vm.boot" => lock(&s).stopped = false,
                "vm.delete" => {
                    let mut g = lock(&s);
                    g.vm = None;
                    g.stopped = false;
                }
                _ => {}
            }
            Ok(())
        });
    }
    op(
        r,
        host,
        session,
        "start_vm",
        "vm.boot",
        r#"Boot the VM (`vm.boot`); a VM shut down with `stop_vm` boots again. Throws `not_found`
(CH cannot open the kernel), `already_exists` (it runs), `no_such_vm`, `unreachable`.
```rhai
start_vm(vm);
```"#,
    );
    op(
        r,
        host,
        session,
        "stop_vm",
        "vm.shutdown",
        r#"Shut the VM down (`vm.shutdown`: the VMM stays, the VM can boot again). Throws
`bad_state` when it does not run.
```rhai
stop_vm(vm);
```"#,
    );
    op(
        r,
        host,
        session,
        "pause_vm",
        "vm.pause",
        r#"Freeze the VM's vCPUs (`vm.pause`). Throws `bad_state` unless it runs.
```rhai
pause_vm(vm);
```"#,
    );
    op(
        r,
        host,
        session,
        "resume_vm",
        "vm.resume",
        r#"Let a paused VM run (`vm.resume`). Throws `bad_state` unless it is paused.
```rhai
resume_vm(vm);
```"#,
    );
    op(
        r,
        host,
        session,
        "reset_vm",
        "vm.reboot",
        r#"Reboot the VM (`vm.reboot`; the original herodo pressed the power button, see
`power_button_vm`). Throws `bad_state` unless it runs.
```rhai
reset_vm(vm);
```"#,
    );
    op(
        r,
        host,
        session,
        "power_button_vm",
        "vm.power-button",
        r#"Press the VM's ACPI power button (`vm.power-button`): the guest shuts down if it listens.
```rhai
power_button_vm(vm);
```"#,
    );
    op(
        r,
        host,
        session,
        "delete_vm",
        "vm.delete",
        r#"Remove the VM from the runtime (`vm.delete`; a running VM ends). The runtime can
then `create_vm` or `restore` another.
```rhai
delete_vm(vm);
```"#,
    );
    let s = session.clone();
    r.func(
        "get_vm_counters",
        &["vm"],
        r#"The VM's device counters (`vm.counters`: a map per device). Throws `bad_state` unless
it runs.
```rhai
print(get_vm_counters(vm));
```"#,
        move |vm: VMHandle| -> RResult<Dynamic> {
            let rt = runtime_for(&s, &vm)?;
            let v = rt.counters().rhai()?;
            rhai::serde::to_dynamic(v)
        },
    );
    let (h, s) = (host.clone(), session.clone());
    r.func(
        "snapshot",
        &["vm", "dir"],
        r#"Save the VM into the directory `dir` (created): its memory and device state
(`vm.snapshot`; a running VM pauses meanwhile and goes on; disks are not included). It is
listed by `list_snapshots(vm.id)` under the directory's name. Throws `bad_state`.
```rhai
snapshot(vm, "/var/lib/vms/snap1");
```"#,
        move |vm: VMHandle, dir: &str| -> RResult<()> {
            super::cloud_hypervisor::config::path_field("dir", dir).rhai()?;
            let rt = runtime_for(&s, &vm)?;
            let dir = PathBuf::from(super::absolute(dir));
            if h.dry_run(|| format!("cloudhv: snapshot {} into {}", vm.id, dir.display())) {
                return Ok(());
            }
            rt.snapshot(&h, &vm.id, &dir).rhai().map(|_| ())
        },
    );
    let (h, s) = (host.clone(), session.clone());
    r.func(
        "resize_memory",
        &["vm", "size_mb"],
        r#"Grow the VM's memory to `size_mb` MiB (`vm.resize`; it cannot shrink: `invalid_argument`).
```rhai
resize_memory(vm, 2048);
```"#,
        move |vm: VMHandle, mb: INT| -> RResult<()> {
            let rt = runtime_for(&s, &vm)?;
            if h.dry_run(|| format!("cloudhv: resize {} memory to {mb} MiB", vm.id)) {
                return Ok(());
            }
            rt.resize_memory(mb).rhai()
        },
    );
    let (h, s) = (host.clone(), session.clone());
    r.func(
        "add_vcpu",
        &["vm", "count"],
        r#"Add `count` vCPUs (`vm.resize`), up to the VM's `max_cpus` (`invalid_argument` beyond).
```rhai
add_vcpu(vm, 1);
```"#,
        move |vm: VMHandle, n: INT| -> RResult<()> {
            let rt = runtime_for(&s, &vm)?;
            if h.dry_run(|| format!("cloudhv: add {n} vCPUs to {}", vm.id)) {
                return Ok(());
            }
            rt.add_vcpu(n).rhai()
        },
    );
    let (h, s) = (host.clone(), session.clone());
    r.func(
        "add_device",
        &["vm", "device"],
        r#"Hot-plug a `DeviceBuilder` device; returns its id. Throws `invalid_argument` (a
builder with no device), `bad_state` (no VM), `ch_api` (CH refused it).
```rhai
let id = add_device(vm, DeviceBuilder("data1").disk("/var/lib/vms/data.img", false));
```"#,
        move |vm: VMHandle, d: DeviceBuilder| -> RResult<String> {
            let rt = runtime_for(&s, &vm)?;
            let device = d.device.clone().ok_or_else(|| {
                invalid(
                    "device",
                    "the DeviceBuilder names no device (call disk, net, fs, ... on it)",
                )
            })?;
            if h.dry_run(|| format!("cloudhv: add device {} to {}", d.id, vm.id)) {
                return Ok(d.id.clone());
            }
            rt.add_device(&d.id, &device).rhai()
        },
    );
    let (h, s) = (host.clone(), session.clone());
    r.func(
        "remove_device",
        &["vm", "device_id"],
        r#"Hot-unplug the device `device_id` (`vm.remove-device`).
```rhai
remove_device(vm, "data1");
```"#,
        move |vm: VMHandle, id: &str| -> RResult<()> {
            let rt = runtime_for(&s, &vm)?;
            if h.dry_run(|| format!("cloudhv: remove device {id} from {}", vm.id)) {
                return Ok(());
            }
            rt.remove_device(id).rhai()
        },
    );
}
