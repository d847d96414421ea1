//! What a VM is made of: [`VmSpec`], built key by key through validating setters (each names
//! its field in the error), then [`VmSpec::check_paths`] before anything starts.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::{Result, VmError};
use crate::common::convert::int_in;

pub const MIN_MEMORY_MB: i64 = 64;
pub const MAX_MEMORY_MB: i64 = 1024 * 1024;
pub const MAX_VCPUS: i64 = 255;
/// Disk formats QEMU is told explicitly (never probed: a raw disk whose first bytes look like
/// a qcow2 header must not be read as one).
pub const DISK_FORMATS: [&str; 2] = ["qcow2", "raw"];

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Hypervisor {
    #[default]
    Qemu,
    CloudHypervisor,
}

impl Hypervisor {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "qemu" => Ok(Hypervisor::Qemu),
            "cloud-hypervisor" => Ok(Hypervisor::CloudHypervisor),
            other => Err(VmError::invalid(
                "hypervisor",
                format!("`{other}` is not one of qemu, cloud-hypervisor"),
            )),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Disk {
    pub path: String,
    pub readonly: bool,
    pub format: String,
}

impl Disk {
    pub fn new(path: &str, readonly: bool, format: Option<&str>) -> Result<Disk> {
        path_field("disks.path", path)?;
        let format = match format {
            None => "qcow2",
            Some(f) if DISK_FORMATS.contains(&f) => f,
            Some(f) => {
                return Err(VmError::invalid(
                    "disks.format",
                    format!("`{f}` is not one of {}", DISK_FORMATS.join(", ")),
                ))
            }
        };
        Ok(Disk {
            path: path.to_string(),
            readonly,
            format: format.to_string(),
        })
    }
}

/// A host port forwarded to a guest port (user networking), TCP, bound to 127.0.0.1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortForward {
    pub host: u16,
    pub guest: u16,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Network {
    #[default]
    None,
    User {
        port_forwards: Vec<PortForward>,
    },
    Tap {
        tap: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Share {
    pub host: String,
    pub tag: String,
    pub readonly: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VmSpec {
    pub id: String,
    pub hypervisor: Hypervisor,
    pub kernel_path: Option<String>,
    pub initramfs_path: Option<String>,
    pub cmdline: Option<String>,
    pub firmware_path: Option<String>,
    pub disks: Vec<Disk>,
    pub vcpus: u32,
    pub memory_mb: u32,
    pub network: Network,
    pub shares: Vec<Share>,
    /// Where the serial console is written (default: in the VM's state directory).
    pub console_log: Option<String>,
    /// The monitor socket (QMP for QEMU, the REST API for Cloud Hypervisor; default: in the
    /// VM's state directory).
    pub api_socket: Option<String>,
    /// More arguments for the hypervisor's command line (Cloud Hypervisor only).
    #[serde(default)]
    pub extra_args: Vec<String>,
    /// A free-form label (the original herodo's `role`).
    #[serde(default)]
    pub role: Option<String>,
    /// The intended disk size in GiB (recorded, as in the original herodo; disks are made
    /// with qcow2_create).
    #[serde(default)]
    pub disk_gb: Option<u32>,
}

/// A VM id: a path component and a QEMU `-name`, so the shared name rule, at most 64
/// characters.
pub fn id(v: &str) -> Result<()> {
    crate::common::validate::name("id", v)?;
    if v.len() > 64 {
        return Err(VmError::invalid("id", "is longer than 64 characters"));
    }
    Ok(())
}

/// A path a script gave: not empty, no NUL or newline.
pub fn path_field(field: &str, p: &str) -> Result<()> {
    if p.is_empty() {
        return Err(VmError::invalid(field, "is empty"));
    }
    if p.contains(['\0', '\n']) {
        return Err(VmError::invalid(
            field,
            "must not contain NUL or newline characters",
        ));
    }
    Ok(())
}

/// A virtiofs tag or tap name: letters, digits, `_`, `-`, `.`; 1..=15 characters (a tap name
/// is an interface name, IFNAMSIZ - 1).
pub fn short_name(field: &str, v: &str) -> Result<()> {
    let ok = !v.is_empty()
        && v.len() <= 15
        && v.starts_with(|c: char| c.is_ascii_alphanumeric())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(VmError::invalid(
            field,
            format!("`{v}` must be 1-15 letters, digits, `_`, `-` or `.`, starting with a letter or digit"),
        ))
    }
}

impl VmSpec {
    /// A spec with the defaults: 1 vCPU, 512 MiB, no network, no disks.
    pub fn new(vm_id: &str) -> Result<VmSpec> {
        id(vm_id)?;
        Ok(VmSpec {
            id: vm_id.to_string(),
            hypervisor: Hypervisor::Qemu,
            kernel_path: None,
            initramfs_path: None,
            cmdline: None,
            firmware_path: None,
            disks: Vec::new(),
            vcpus: 1,
            memory_mb: 512,
            network: Network::None,
            shares: Vec::new(),
            console_log: None,
            api_socket: None,
            extra_args: Vec::new(),
            role: None,
            disk_gb: None,
        })
    }

    pub fn set_hypervisor(&mut self, v: &str) -> Result<()> {
        self.hypervisor = Hypervisor::parse(v)?;
        Ok(())
    }

    pub fn set_vcpus(&mut self, v: i64) -> Result<()> {
        self.vcpus = int_in("vcpus", v, 1, MAX_VCPUS as u32)?;
        Ok(())
    }

    pub fn set_memory_mb(&mut self, v: i64) -> Result<()> {
        self.memory_mb = int_in("memory_mb", v, MIN_MEMORY_MB as u32, MAX_MEMORY_MB as u32)?;
        Ok(())
    }

    pub fn set_kernel_path(&mut self, v: &str) -> Result<()> {
        path_field("kernel_path", v)?;
        self.kernel_path = Some(v.to_string());
        Ok(())
    }

    pub fn set_initramfs_path(&mut self, v: &str) -> Result<()> {
        path_field("initramfs_path", v)?;
        self.initramfs_path = Some(v.to_string());
        Ok(())
    }

    pub fn set_firmware_path(&mut self, v: &str) -> Result<()> {
        path_field("firmware_path", v)?;
        self.firmware_path = Some(v.to_string());
        Ok(())
    }

    pub fn set_cmdline(&mut self, v: &str) -> Result<()> {
        if v.contains(['\0', '\n']) {
            return Err(VmError::invalid(
                "cmdline",
                "must not contain NUL or newline characters",
            ));
        }
        self.cmdline = Some(v.to_string());
        Ok(())
    }

    /// Add a disk; the same path twice is refused (QEMU would open one image twice and the
    /// record would list it twice).
    pub fn add_disk(&mut self, d: Disk) -> Result<()> {
        if self.disks.iter().any(|o| o.path == d.path) {
            return Err(VmError::invalid(
                "disks",
                format!("`{}` is given twice", d.path),
            ));
        }
        self.disks.push(d);
        Ok(())
    }

    /// `none`, `user` (with `port_forwards`) or `tap` (with a tap name).
    pub fn set_network(
        &mut self,
        mode: &str,
        forwards: Vec<(i64, i64)>,
        tap: Option<&str>,
    ) -> Result<()> {
        let port = |field: &str, p: i64| int_in(field, p, 1u16, u16::MAX);
        if mode != "user" && !forwards.is_empty() {
            return Err(VmError::invalid(
                "port_forwards",
                "only user networking forwards ports",
            ));
        }
        if mode != "tap" && tap.is_some() {
            return Err(VmError::invalid("tap", "only tap networking has a tap"));
        }
        self.network = match mode {
            "none" => Network::None,
            "user" => Network::User {
                port_forwards: forwards
                    .into_iter()
                    .map(|(h, g)| {
                        Ok(PortForward {
                            host: port("port_forwards.host", h)?,
                            guest: port("port_forwards.guest", g)?,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?,
            },
            "tap" => {
                let t = tap.ok_or_else(|| VmError::invalid("tap", "tap networking needs `tap`"))?;
                short_name("tap", t)?;
                Network::Tap { tap: t.to_string() }
            }
            other => {
                return Err(VmError::invalid(
                    "network",
                    format!("`{other}` is not one of none, user, tap"),
                ))
            }
        };
        Ok(())
    }

    pub fn add_share(&mut self, host: &str, tag: &str, readonly: bool) -> Result<()> {
        path_field("shares.host", host)?;
        short_name("shares.tag", tag)?;
        if self.shares.iter().any(|s| s.tag == tag) {
            return Err(VmError::invalid(
                "shares.tag",
                format!("`{tag}` is used twice"),
            ));
        }
        self.shares.push(Share {
            host: host.to_string(),
            tag: tag.to_string(),
            readonly,
        });
        Ok(())
    }

    pub fn set_console_log(&mut self, v: &str) -> Result<()> {
        path_field("console_log", v)?;
        self.console_log = Some(v.to_string());
        Ok(())
    }

    pub fn set_api_socket(&mut self, v: &str) -> Result<()> {
        path_field("api_socket", v)?;
        if v.len() > 100 {
            return Err(VmError::invalid(
                "api_socket",
                "is longer than a unix socket path may be (100 bytes here)",
            ));
        }
        self.api_socket = Some(v.to_string());
        Ok(())
    }

    /// Hypervisor arguments (Cloud Hypervisor only): each one a separate argv item.
    pub fn set_extra_args(&mut self, v: Vec<String>) -> Result<()> {
        if v.iter().any(|a| a.contains(['\0', '\n'])) {
            return Err(VmError::invalid(
                "extra_args",
                "must not contain NUL or newline characters",
            ));
        }
        if v.iter().any(|a| a == "--api-socket") {
            return Err(VmError::invalid(
                "extra_args",
                "herodo sets --api-socket itself (use the api_socket key)",
            ));
        }
        self.extra_args = v;
        Ok(())
    }

    pub fn set_role(&mut self, v: &str) -> Result<()> {
        if v.contains(['\0', '\n']) || v.len() > 256 {
            return Err(VmError::invalid(
                "role",
                "must be at most 256 characters without NUL or newline",
            ));
        }
        self.role = Some(v.to_string());
        Ok(())
    }

    pub fn set_disk_gb(&mut self, v: i64) -> Result<()> {
        self.disk_gb = Some(int_in("disk_gb", v, 1u32, 65536)?);
        Ok(())
    }

    /// What the spec lacks as a whole: something to boot, an initramfs only with a kernel.
    pub fn check_complete(&self) -> Result<()> {
        if self.hypervisor == Hypervisor::CloudHypervisor {
            if self.kernel_path.is_none() && self.firmware_path.is_none() {
                return Err(VmError::invalid(
                    "kernel_path",
                    "cloud-hypervisor boots a kernel_path or a firmware_path (CLOUDHV.fd)",
                ));
            }
            if matches!(self.network, Network::User { .. }) {
                return Err(VmError::invalid(
                    "network",
                    "cloud-hypervisor has no user networking (use tap)",
                ));
            }
        } else if !self.extra_args.is_empty() {
            return Err(VmError::invalid(
                "extra_args",
                "only for hypervisor cloud-hypervisor",
            ));
        }
        if self.kernel_path.is_none() && self.firmware_path.is_none() && self.disks.is_empty() {
            return Err(VmError::invalid(
                "kernel_path",
                "nothing to boot: give kernel_path, firmware_path or a disk",
            ));
        }
        if self.initramfs_path.is_some() && self.kernel_path.is_none() {
            return Err(VmError::invalid("initramfs_path", "needs kernel_path"));
        }
        if self.cmdline.is_some() && self.kernel_path.is_none() {
            return Err(VmError::invalid("cmdline", "needs kernel_path"));
        }
        Ok(())
    }

    /// Every file and folder the VM needs exists (checked at create and again at start).
    pub fn check_paths(&self) -> Result<()> {
        let file = |field: &'static str, p: &Option<String>| -> Result<()> {
            match p {
                Some(p) if !Path::new(p).is_file() => Err(VmError::missing(field, p.clone())),
                _ => Ok(()),
            }
        };
        file("kernel_path", &self.kernel_path)?;
        file("initramfs_path", &self.initramfs_path)?;
        file("firmware_path", &self.firmware_path)?;
        for d in &self.disks {
            if !Path::new(&d.path).is_file() {
                return Err(VmError::missing("disk", d.path.clone()));
            }
        }
        for s in &self.shares {
            if !Path::new(&s.host).is_dir() {
                return Err(VmError::missing("share folder", s.host.clone()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(e: VmError) -> String {
        match e {
            VmError::InvalidArgument { field, .. } => field,
            other => panic!("{other}"),
        }
    }

    #[test]
    fn setters_validate_and_name_the_field() {
        for bad in ["", "a/b", "x;rm", "../x", "-a", "a b"] {
            assert_eq!(field(VmSpec::new(bad).unwrap_err()), "id", "{bad:?}");
        }
        let mut s = VmSpec::new("web-1").unwrap();
        assert_eq!((s.vcpus, s.memory_mb), (1, 512));
        assert_eq!(field(s.set_vcpus(0).unwrap_err()), "vcpus");
        assert_eq!(field(s.set_vcpus(256).unwrap_err()), "vcpus");
        assert_eq!(field(s.set_memory_mb(63).unwrap_err()), "memory_mb");
        assert_eq!(field(s.set_memory_mb(i64::MAX).unwrap_err()), "memory_mb");
        s.set_vcpus(2).unwrap();
        s.set_memory_mb(256).unwrap();
        assert_eq!((s.vcpus, s.memory_mb), (2, 256));
        assert_eq!(field(s.set_hypervisor("xen").unwrap_err()), "hypervisor");
        assert_eq!(
            field(s.set_network("bridge", vec![], None).unwrap_err()),
            "network"
        );
        assert_eq!(
            field(s.set_network("none", vec![(8080, 80)], None).unwrap_err()),
            "port_forwards"
        );
        assert_eq!(
            field(s.set_network("user", vec![(0, 80)], None).unwrap_err()),
            "port_forwards.host"
        );
        assert_eq!(
            field(s.set_network("tap", vec![], None).unwrap_err()),
            "tap"
        );
        assert_eq!(
            field(s.set_network("tap", vec![], Some("tap;x")).unwrap_err()),
            "tap"
        );
        s.set_network("user", vec![(2222, 22)], None).unwrap();
        assert_eq!(
            s.network,
            Network::User {
                port_forwards: vec![PortForward {
                    host: 2222,
                    guest: 22
                }]
            }
        );
        assert_eq!(
            field(Disk::new("a", false, Some("vmdk")).unwrap_err()),
            "disks.format"
        );
        assert_eq!(
            field(s.add_share("/x", "a b", false).unwrap_err()),
            "shares.tag"
        );
        s.add_share("/x", "data", true).unwrap();
        assert_eq!(
            field(s.add_share("/y", "data", true).unwrap_err()),
            "shares.tag"
        );
        assert_eq!(field(s.set_cmdline("a\nb").unwrap_err()), "cmdline");
        assert_eq!(
            field(s.set_api_socket(&"x".repeat(101)).unwrap_err()),
            "api_socket"
        );
    }

    #[test]
    fn completeness_and_paths() {
        let mut s = VmSpec::new("a").unwrap();
        assert_eq!(field(s.check_complete().unwrap_err()), "kernel_path");
        s.set_initramfs_path("/i").unwrap();
        s.add_disk(Disk::new("/nonexistent/d.qcow2", false, None).unwrap())
            .unwrap();
        assert_eq!(
            field(
                s.add_disk(Disk::new("/nonexistent/d.qcow2", true, Some("raw")).unwrap())
                    .unwrap_err()
            ),
            "disks"
        );
        assert_eq!(s.disks.len(), 1);
        assert_eq!(field(s.check_complete().unwrap_err()), "initramfs_path");
        s.initramfs_path = None;
        s.check_complete().unwrap();
        match s.check_paths().unwrap_err() {
            VmError::NotFound { what, path, .. } => {
                assert_eq!((what, path.as_str()), ("disk", "/nonexistent/d.qcow2"))
            }
            other => panic!("{other}"),
        }
        s.set_hypervisor("cloud-hypervisor").unwrap();
        // A disk alone does not boot under cloud-hypervisor: it needs a kernel or firmware.
        assert_eq!(field(s.check_complete().unwrap_err()), "kernel_path");
        s.set_firmware_path("/fw").unwrap();
        s.check_complete().unwrap();
        s.set_network("user", vec![], None).unwrap();
        assert_eq!(field(s.check_complete().unwrap_err()), "network");
        let mut q = VmSpec::new("q").unwrap();
        q.set_kernel_path("/k").unwrap();
        q.set_extra_args(vec!["-v".into()]).unwrap();
        assert_eq!(field(q.check_complete().unwrap_err()), "extra_args");
        assert_eq!(
            field(q.set_extra_args(vec!["--api-socket".into()]).unwrap_err()),
            "extra_args"
        );
        assert_eq!(field(q.set_disk_gb(0).unwrap_err()), "disk_gb");
        assert_eq!(field(q.set_role("a\nb").unwrap_err()), "role");
    }
}
