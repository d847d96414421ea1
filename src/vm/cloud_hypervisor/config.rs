//! The JSON bodies Cloud Hypervisor's API takes, built by pure functions: `vm.create` from a
//! herodo [`VmSpec`] ([`from_spec`]) or from the original herodo's `VMBuilder` ([`ChVm`],
//! [`ChVm::config`]), and the hot-plug bodies of `DeviceBuilder` ([`Device::request`]).
//! Field names are Cloud Hypervisor's (v54 `vm.create` schema).

use serde::Serialize;
use serde_json::Value;

use super::super::error::{Result, VmError};
use super::super::spec::{Network, VmSpec, MAX_MEMORY_MB, MAX_VCPUS, MIN_MEMORY_MB};
use crate::common::convert::int_in;

const MIB: u64 = 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cpus {
    pub boot_vcpus: u32,
    pub max_vcpus: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Memory {
    /// Bytes.
    pub size: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub shared: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Payload {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firmware: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initramfs: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmdline: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DiskConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub readonly: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub vhost_user: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vhost_socket: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct NetConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tap: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub vhost_user: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vhost_socket: Option<String>,
    /// `Client`: CH connects to the backend's socket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vhost_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FsConfig {
    pub tag: String,
    pub socket: String,
    pub num_queues: u32,
    pub queue_size: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rng {
    pub src: String,
}

/// A VFIO device: its sysfs path.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeviceConfig {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// `serial` and `console`: `Off`, `Null`, `Tty`, `File` (with `file`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Console {
    pub mode: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

impl Console {
    fn off() -> Console {
        Console {
            mode: "Off".into(),
            file: None,
        }
    }
}

/// The body of `vm.create`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VmConfig {
    pub cpus: Cpus,
    pub memory: Memory,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<Payload>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub disks: Vec<DiskConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub net: Vec<NetConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rng: Option<Rng>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fs: Vec<FsConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceConfig>,
    pub serial: Console,
    pub console: Console,
}

impl VmConfig {
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

fn fs_config(tag: &str, socket: &str, id: Option<String>) -> FsConfig {
    FsConfig {
        tag: tag.to_string(),
        socket: socket.to_string(),
        num_queues: 1,
        queue_size: 1024,
        id,
    }
}

/// `vm.create` for a VM of the manager (`vm_create`/`cloudhv_vm_create` with `hypervisor:
/// "cloud-hypervisor"`): the serial console goes to `console`, shared folders to the
/// virtiofsd `share_sockets` (which needs shared guest memory).
pub fn from_spec(spec: &VmSpec, console: &str, share_sockets: &[String]) -> Result<VmConfig> {
    let payload = if spec.kernel_path.is_some() || spec.firmware_path.is_some() {
        Some(Payload {
            kernel: spec.kernel_path.clone(),
            firmware: spec.firmware_path.clone(),
            initramfs: spec.initramfs_path.clone(),
            cmdline: spec.kernel_path.as_ref().map(|_| {
                spec.cmdline
                    .clone()
                    .unwrap_or_else(|| "console=ttyS0".into())
            }),
        })
    } else {
        None
    };
    let net = match &spec.network {
        Network::None => Vec::new(),
        Network::Tap { tap } => vec![NetConfig {
            tap: Some(tap.clone()),
            ..NetConfig::default()
        }],
        Network::User { .. } => {
            return Err(VmError::invalid(
                "network",
                "cloud-hypervisor has no user networking (use tap, or qemu)",
            ))
        }
    };
    Ok(VmConfig {
        cpus: Cpus {
            boot_vcpus: spec.vcpus,
            max_vcpus: spec.vcpus,
        },
        memory: Memory {
            size: u64::from(spec.memory_mb) * MIB,
            shared: !spec.shares.is_empty(),
        },
        payload,
        disks: spec
            .disks
            .iter()
            .map(|d| DiskConfig {
                path: Some(d.path.clone()),
                readonly: d.readonly,
                ..DiskConfig::default()
            })
            .collect(),
        net,
        rng: None,
        fs: spec
            .shares
            .iter()
            .zip(share_sockets)
            .map(|(s, sock)| fs_config(&s.tag, sock, None))
            .collect(),
        devices: Vec::new(),
        serial: Console {
            mode: "File".into(),
            file: Some(console.to_string()),
        },
        console: Console::off(),
    })
}

pub use super::super::spec::{path_field, short_name as tap_name};

/// A MAC address `aa:bb:cc:dd:ee:ff`.
pub fn mac(field: &str, v: &str) -> Result<()> {
    let parts: Vec<&str> = v.split(':').collect();
    let ok = parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()));
    if ok {
        Ok(())
    } else {
        Err(VmError::invalid(
            field,
            format!("`{v}` is not a MAC address (aa:bb:cc:dd:ee:ff)"),
        ))
    }
}

/// A console or serial mode of the original API: `tty`, `off`, `file`, `null`.
pub fn console_mode(field: &str, v: &str) -> Result<String> {
    match v {
        "tty" => Ok("Tty".into()),
        "off" => Ok("Off".into()),
        "file" => Ok("File".into()),
        "null" => Ok("Null".into()),
        other => Err(VmError::invalid(
            field,
            format!("`{other}` is not one of tty, off, file, null"),
        )),
    }
}

/// The sysfs path of a VFIO device given as a PCI address or a path.
pub fn vfio_path(device: &str) -> String {
    if device.starts_with('/') {
        device.to_string()
    } else {
        format!("/sys/bus/pci/devices/{device}/")
    }
}

/// A VM as the original herodo's `VMBuilder` describes it (one Cloud Hypervisor process
/// runs one such VM: `create_vm`). Setters validate their value; [`ChVm::check`] the whole.
#[derive(Clone, Debug, PartialEq)]
pub struct ChVm {
    /// A uuid, made by `VMBuilder().build()`.
    pub id: String,
    pub kernel: Option<String>,
    pub initramfs: Option<String>,
    pub cmdline: Option<String>,
    pub memory_mb: u32,
    pub memory_shared: bool,
    pub cpus: u32,
    pub max_cpus: Option<u32>,
    pub disks: Vec<DiskConfig>,
    pub net: Vec<NetConfig>,
    pub rng: bool,
    pub fs: Vec<(String, String)>,
    pub vfio: Vec<String>,
    /// CH's mode names (`Tty`, `Off`, `File`, `Null`).
    pub console: String,
    pub serial: String,
}

impl Default for ChVm {
    fn default() -> Self {
        ChVm {
            id: String::new(),
            kernel: None,
            initramfs: None,
            cmdline: None,
            memory_mb: 512,
            memory_shared: false,
            cpus: 1,
            max_cpus: None,
            disks: Vec::new(),
            net: Vec::new(),
            rng: false,
            fs: Vec::new(),
            vfio: Vec::new(),
            console: "Off".into(),
            serial: "File".into(),
        }
    }
}

impl ChVm {
    pub fn set_kernel(&mut self, p: &str) -> Result<()> {
        path_field("kernel", p)?;
        self.kernel = Some(p.into());
        Ok(())
    }

    pub fn set_initramfs(&mut self, p: &str) -> Result<()> {
        path_field("initramfs", p)?;
        self.initramfs = Some(p.into());
        Ok(())
    }

    /// The words of a command line (an array's items, or a string split on whitespace).
    pub fn set_cmdline(&mut self, words: &[String]) -> Result<()> {
        let line = words.join(" ");
        if line.contains(['\0', '\n']) {
            return Err(VmError::invalid(
                "cmdline",
                "must not contain NUL or newline characters",
            ));
        }
        self.cmdline = Some(line);
        Ok(())
    }

    pub fn set_memory(&mut self, mb: i64) -> Result<()> {
        self.memory_mb = int_in("memory", mb, MIN_MEMORY_MB as u32, MAX_MEMORY_MB as u32)?;
        Ok(())
    }

    pub fn set_cpus(&mut self, n: i64) -> Result<()> {
        self.cpus = int_in("cpus", n, 1, MAX_VCPUS as u32)?;
        Ok(())
    }

    pub fn set_max_cpus(&mut self, n: i64) -> Result<()> {
        self.max_cpus = Some(int_in("max_cpus", n, 1, MAX_VCPUS as u32)?);
        Ok(())
    }

    pub fn add_disk(&mut self, path: &str, readonly: bool) -> Result<()> {
        path_field("virtio_blk", path)?;
        self.disks.push(DiskConfig {
            path: Some(path.into()),
            readonly,
            ..DiskConfig::default()
        });
        Ok(())
    }

    pub fn add_net(&mut self, tap: &str, mac_addr: Option<&str>) -> Result<()> {
        tap_name("virtio_net", tap)?;
        if let Some(m) = mac_addr {
            mac("virtio_net_with_mac", m)?;
        }
        self.net.push(NetConfig {
            tap: Some(tap.into()),
            mac: mac_addr.map(str::to_string),
            ..NetConfig::default()
        });
        Ok(())
    }

    pub fn add_fs(&mut self, tag: &str, socket: &str) -> Result<()> {
        if tag.is_empty() || tag.len() > 36 || tag.contains(['\0', '\n']) {
            return Err(VmError::invalid(
                "virtio_fs",
                "the tag must be 1-36 characters",
            ));
        }
        path_field("virtio_fs", socket)?;
        self.fs.push((tag.into(), socket.into()));
        Ok(())
    }

    pub fn add_vhost_user_net(&mut self, socket: &str) -> Result<()> {
        path_field("vhost_user_net", socket)?;
        self.net.push(NetConfig {
            vhost_user: true,
            vhost_socket: Some(socket.into()),
            vhost_mode: Some("Client".into()),
            ..NetConfig::default()
        });
        Ok(())
    }

    pub fn add_vhost_user_blk(&mut self, socket: &str) -> Result<()> {
        path_field("vhost_user_blk", socket)?;
        self.disks.push(DiskConfig {
            vhost_user: true,
            vhost_socket: Some(socket.into()),
            ..DiskConfig::default()
        });
        Ok(())
    }

    pub fn add_vfio(&mut self, device: &str) -> Result<()> {
        path_field("vfio", device)?;
        self.vfio.push(device.into());
        Ok(())
    }

    /// What `build()` checks: a kernel, and no more boot vCPUs than the maximum.
    pub fn check(&self) -> Result<()> {
        if self.kernel.is_none() {
            return Err(VmError::invalid(
                "kernel",
                "is required (VMBuilder().kernel(path))",
            ));
        }
        if self.max_cpus.is_some_and(|m| m < self.cpus) {
            return Err(VmError::invalid("max_cpus", "is less than cpus"));
        }
        if self.serial == "Tty" && self.console == "Tty" {
            return Err(VmError::invalid(
                "serial",
                "serial and console cannot both be tty",
            ));
        }
        Ok(())
    }

    /// The `vm.create` body; `serial_file` is where a `File` serial (the default) writes.
    pub fn config(&self, serial_file: &str) -> VmConfig {
        let file_of = |mode: &str, f: String| (mode == "File").then_some(f);
        VmConfig {
            cpus: Cpus {
                boot_vcpus: self.cpus,
                max_vcpus: self.max_cpus.unwrap_or(self.cpus),
            },
            memory: Memory {
                size: u64::from(self.memory_mb) * MIB,
                // virtio-fs needs the guest memory shared with virtiofsd.
                shared: self.memory_shared || !self.fs.is_empty(),
            },
            payload: Some(Payload {
                kernel: self.kernel.clone(),
                firmware: None,
                initramfs: self.initramfs.clone(),
                cmdline: self.cmdline.clone(),
            }),
            disks: self.disks.clone(),
            net: self.net.clone(),
            rng: self.rng.then(|| Rng {
                src: "/dev/urandom".into(),
            }),
            fs: self.fs.iter().map(|(t, s)| fs_config(t, s, None)).collect(),
            devices: self
                .vfio
                .iter()
                .map(|d| DeviceConfig {
                    path: vfio_path(d),
                    id: None,
                })
                .collect(),
            serial: Console {
                mode: self.serial.clone(),
                file: file_of(&self.serial, serial_file.to_string()),
            },
            console: Console {
                mode: self.console.clone(),
                file: file_of(&self.console, format!("{serial_file}.console")),
            },
        }
    }
}

/// A hot-plug device of `DeviceBuilder(id)`.
#[derive(Clone, Debug, PartialEq)]
pub enum Device {
    Disk { path: String, readonly: bool },
    Net { tap: String, mac: Option<String> },
    Fs { tag: String, socket: String },
    VhostUserNet { socket: String },
    VhostUserBlk { socket: String, readonly: bool },
    Vfio { device: String },
}

impl Device {
    /// The endpoint and body that hot-plug it under `id`.
    pub fn request(&self, id: &str) -> (&'static str, Value) {
        let id = Some(id.to_string());
        match self {
            Device::Disk { path, readonly } => (
                "vm.add-disk",
                to(&DiskConfig {
                    path: Some(path.clone()),
                    readonly: *readonly,
                    id,
                    ..DiskConfig::default()
                }),
            ),
            Device::VhostUserBlk { socket, readonly } => (
                "vm.add-disk",
                to(&DiskConfig {
                    readonly: *readonly,
                    vhost_user: true,
                    vhost_socket: Some(socket.clone()),
                    id,
                    ..DiskConfig::default()
                }),
            ),
            Device::Net { tap, mac } => (
                "vm.add-net",
                to(&NetConfig {
                    tap: Some(tap.clone()),
                    mac: mac.clone(),
                    id,
                    ..NetConfig::default()
                }),
            ),
            Device::VhostUserNet { socket } => (
                "vm.add-net",
                to(&NetConfig {
                    vhost_user: true,
                    vhost_socket: Some(socket.clone()),
                    vhost_mode: Some("Client".into()),
                    id,
                    ..NetConfig::default()
                }),
            ),
            Device::Fs { tag, socket } => ("vm.add-fs", to(&fs_config(tag, socket, id))),
            Device::Vfio { device } => (
                "vm.add-device",
                to(&DeviceConfig {
                    path: vfio_path(device),
                    id,
                }),
            ),
        }
    }
}

/// A config part as JSON (these types always serialize).
fn to<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> VmSpec {
        let mut s = VmSpec::new("a").unwrap();
        s.set_hypervisor("cloud-hypervisor").unwrap();
        s
    }

    #[test]
    fn spec_to_vm_create_table() {
        let mut recorded = spec();
        recorded.set_kernel_path("/tmp/kernel/vmlinux").unwrap();
        recorded.set_initramfs_path("/tmp/initrd").unwrap();
        recorded
            .set_cmdline("console=ttyS0 panic=-1 rdinit=/init")
            .unwrap();
        recorded.set_memory_mb(256).unwrap();
        let mut disks = spec();
        disks.set_firmware_path("/fw/CLOUDHV.fd").unwrap();
        disks
            .add_disk(super::super::super::spec::Disk::new("/d/a.qcow2", false, None).unwrap())
            .unwrap();
        disks
            .add_disk(super::super::super::spec::Disk::new("/d/b.raw", true, Some("raw")).unwrap())
            .unwrap();
        disks.set_vcpus(4).unwrap();
        disks.set_network("tap", vec![], Some("tap0")).unwrap();
        let mut shared = spec();
        shared.set_kernel_path("/k").unwrap();
        shared.add_share("/srv", "data", false).unwrap();
        let table: Vec<(VmSpec, Vec<String>, Value)> = vec![
            (
                recorded,
                vec![],
                // The config of the recordings (cloud-hypervisor-notes.md), plus the defaults.
                json!({"cpus":{"boot_vcpus":1,"max_vcpus":1},"memory":{"size":268435456},
                  "payload":{"kernel":"/tmp/kernel/vmlinux","initramfs":"/tmp/initrd",
                    "cmdline":"console=ttyS0 panic=-1 rdinit=/init"},
                  "serial":{"mode":"File","file":"/c.log"},"console":{"mode":"Off"}}),
            ),
            (
                disks,
                vec![],
                json!({"cpus":{"boot_vcpus":4,"max_vcpus":4},"memory":{"size":536870912},
                  "payload":{"firmware":"/fw/CLOUDHV.fd"},
                  "disks":[{"path":"/d/a.qcow2","readonly":false},{"path":"/d/b.raw","readonly":true}],
                  "net":[{"tap":"tap0"}],
                  "serial":{"mode":"File","file":"/c.log"},"console":{"mode":"Off"}}),
            ),
            (
                shared,
                vec!["/s/fs0.sock".to_string()],
                json!({"cpus":{"boot_vcpus":1,"max_vcpus":1},"memory":{"size":536870912,"shared":true},
                  "payload":{"kernel":"/k","cmdline":"console=ttyS0"},
                  "fs":[{"tag":"data","socket":"/s/fs0.sock","num_queues":1,"queue_size":1024}],
                  "serial":{"mode":"File","file":"/c.log"},"console":{"mode":"Off"}}),
            ),
        ];
        for (s, socks, want) in table {
            assert_eq!(
                from_spec(&s, "/c.log", &socks).unwrap().to_json(),
                want,
                "{}",
                s.id
            );
        }
        let mut user = spec();
        user.set_kernel_path("/k").unwrap();
        user.set_network("user", vec![(2222, 22)], None).unwrap();
        assert!(matches!(
            from_spec(&user, "/c", &[]),
            Err(VmError::InvalidArgument { field, .. }) if field == "network"
        ));
    }

    #[test]
    fn builder_to_vm_create_table() {
        let mut b = ChVm {
            id: "u".into(),
            ..ChVm::default()
        };
        b.set_kernel("/tmp/test-kernel").unwrap();
        b.set_initramfs("/tmp/test-initrd").unwrap();
        b.set_cmdline(&["console=ttyS0".into(), "root=/dev/vda1".into()])
            .unwrap();
        b.set_cpus(8).unwrap();
        b.set_memory(4096).unwrap();
        b.add_disk("/tmp/disk1.img", false).unwrap();
        b.add_disk("/tmp/disk2.img", true).unwrap();
        b.add_net("tap0", None).unwrap();
        b.add_net("tap1", Some("52:54:00:12:34:56")).unwrap();
        b.serial = console_mode("serial", "tty").unwrap();
        b.console = console_mode("console", "off").unwrap();
        b.check().unwrap();
        assert_eq!(
            b.config("/s.log").to_json(),
            json!({"cpus":{"boot_vcpus":8,"max_vcpus":8},"memory":{"size":4294967296u64},
              "payload":{"kernel":"/tmp/test-kernel","initramfs":"/tmp/test-initrd",
                "cmdline":"console=ttyS0 root=/dev/vda1"},
              "disks":[{"path":"/tmp/disk1.img","readonly":false},{"path":"/tmp/disk2.img","readonly":true}],
              "net":[{"tap":"tap0"},{"tap":"tap1","mac":"52:54:00:12:34:56"}],
              "serial":{"mode":"Tty"},"console":{"mode":"Off"}})
        );
        let mut d = ChVm::default();
        d.set_kernel("/k").unwrap();
        d.set_max_cpus(4).unwrap();
        d.rng = true;
        d.add_fs("myfs", "/tmp/vhost-fs.sock").unwrap();
        d.add_vhost_user_net("/run/vu-net.sock").unwrap();
        d.add_vhost_user_blk("/run/vu-blk.sock").unwrap();
        d.add_vfio("0000:01:00.0").unwrap();
        assert_eq!(
            d.config("/s.log").to_json(),
            json!({"cpus":{"boot_vcpus":1,"max_vcpus":4},"memory":{"size":536870912,"shared":true},
              "payload":{"kernel":"/k"},
              "disks":[{"readonly":false,"vhost_user":true,"vhost_socket":"/run/vu-blk.sock"}],
              "net":[{"vhost_user":true,"vhost_socket":"/run/vu-net.sock","vhost_mode":"Client"}],
              "rng":{"src":"/dev/urandom"},
              "fs":[{"tag":"myfs","socket":"/tmp/vhost-fs.sock","num_queues":1,"queue_size":1024}],
              "devices":[{"path":"/sys/bus/pci/devices/0000:01:00.0/"}],
              "serial":{"mode":"File","file":"/s.log"},"console":{"mode":"Off"}})
        );
    }

    #[test]
    fn builder_refuses_bad_values_naming_the_field() {
        let field = |r: Result<()>| match r {
            Err(VmError::InvalidArgument { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        let mut b = ChVm::default();
        assert_eq!(field(b.check()), "kernel");
        assert_eq!(field(b.set_cpus(0)), "cpus");
        assert_eq!(field(b.set_cpus(i64::MAX)), "cpus");
        assert_eq!(field(b.set_memory(-1)), "memory");
        assert_eq!(field(b.set_memory(32)), "memory");
        assert_eq!(field(b.add_net("tap;rm", None)), "virtio_net");
        assert_eq!(
            field(b.add_net("tap0", Some("zz:00"))),
            "virtio_net_with_mac"
        );
        assert_eq!(field(b.add_disk("", false)), "virtio_blk");
        assert_eq!(field(b.set_cmdline(&["a\nb".into()])), "cmdline");
        assert!(console_mode("serial", "pty").is_err());
        b.set_kernel("/k").unwrap();
        b.set_cpus(4).unwrap();
        b.set_max_cpus(2).unwrap();
        assert_eq!(field(b.check()), "max_cpus");
    }

    #[test]
    fn hot_plug_bodies() {
        let table = [
            (
                Device::Disk {
                    path: "/d.img".into(),
                    readonly: true,
                },
                "vm.add-disk",
                json!({"path":"/d.img","readonly":true,"id":"dev0"}),
            ),
            (
                Device::Net {
                    tap: "tap0".into(),
                    mac: None,
                },
                "vm.add-net",
                json!({"tap":"tap0","id":"dev0"}),
            ),
            (
                Device::Fs {
                    tag: "t".into(),
                    socket: "/s".into(),
                },
                "vm.add-fs",
                json!({"tag":"t","socket":"/s","num_queues":1,"queue_size":1024,"id":"dev0"}),
            ),
            (
                Device::VhostUserNet {
                    socket: "/n".into(),
                },
                "vm.add-net",
                json!({"vhost_user":true,"vhost_socket":"/n","vhost_mode":"Client","id":"dev0"}),
            ),
            (
                Device::VhostUserBlk {
                    socket: "/b".into(),
                    readonly: false,
                },
                "vm.add-disk",
                json!({"readonly":false,"vhost_user":true,"vhost_socket":"/b","id":"dev0"}),
            ),
            (
                Device::Vfio {
                    device: "0000:00:1f.0".into(),
                },
                "vm.add-device",
                json!({"path":"/sys/bus/pci/devices/0000:00:1f.0/","id":"dev0"}),
            ),
        ];
        for (d, endpoint, body) in table {
            assert_eq!(d.request("dev0"), (endpoint, body), "{d:?}");
        }
    }
}
