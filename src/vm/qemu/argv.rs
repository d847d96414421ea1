//! The QEMU command line for a VM spec: a pure function, tested as a table.

use std::path::Path;

use super::super::spec::{Network, VmSpec};

pub const QEMU_BINARY: &str = "qemu-system-x86_64";

/// How QEMU runs guest code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    /// Software emulation: works everywhere, slower.
    Tcg,
    /// Hardware virtualisation through /dev/kvm.
    Kvm,
}

impl Accel {
    pub fn name(self) -> &'static str {
        match self {
            Accel::Tcg => "tcg",
            Accel::Kvm => "kvm",
        }
    }
}

/// Where a start puts things, beside the spec.
#[derive(Clone, Debug)]
pub struct Launch<'a> {
    pub spec: &'a VmSpec,
    pub accel: Accel,
    pub console: &'a Path,
    pub socket: &'a Path,
    /// One vhost-user socket per share, in the order of `spec.shares`.
    pub share_sockets: &'a [String],
}

/// The block device name of the `i`-th disk (QMP commands name disks by it).
pub fn drive_id(i: usize) -> String {
    format!("disk{i}")
}

/// A value inside a QEMU `-opt key=value,...` list: commas are doubled.
pub fn opt_value(v: &str) -> String {
    v.replace(',', ",,")
}

fn path_value(p: &Path) -> String {
    opt_value(&p.display().to_string())
}

/// The argv (program first) that runs the VM in the foreground until it powers off.
pub fn qemu_argv(l: &Launch) -> Vec<String> {
    let s = l.spec;
    let mut a: Vec<String> = Vec::with_capacity(48);
    let mut push = |items: &[&str]| a.extend(items.iter().map(|x| x.to_string()));
    push(&[QEMU_BINARY, "-name", &s.id]);
    push(&[
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-no-reboot",
    ]);
    match l.accel {
        Accel::Tcg => push(&["-accel", "tcg"]),
        Accel::Kvm => push(&["-accel", "kvm", "-cpu", "host"]),
    }
    push(&["-m", &s.memory_mb.to_string(), "-smp", &s.vcpus.to_string()]);
    push(&[
        "-chardev",
        &format!(
            "socket,id=qmp,path={},server=on,wait=off",
            path_value(l.socket)
        ),
        "-mon",
        "chardev=qmp,mode=control",
    ]);
    push(&[
        "-chardev",
        &format!("file,id=console,path={}", path_value(l.console)),
        "-serial",
        "chardev:console",
    ]);
    if let Some(k) = &s.kernel_path {
        push(&["-kernel", k]);
        if let Some(i) = &s.initramfs_path {
            push(&["-initrd", i]);
        }
        push(&["-append", s.cmdline.as_deref().unwrap_or("console=ttyS0")]);
    }
    if let Some(f) = &s.firmware_path {
        push(&["-bios", f]);
    }
    for (i, d) in s.disks.iter().enumerate() {
        let mut v = format!(
            "file={},if=virtio,format={},id={}",
            opt_value(&d.path),
            d.format,
            drive_id(i)
        );
        if d.readonly {
            v.push_str(",readonly=on");
        }
        push(&["-drive", &v]);
    }
    match &s.network {
        Network::None => {}
        Network::User { port_forwards } => {
            let mut v = "user,model=virtio-net-pci".to_string();
            for f in port_forwards {
                v.push_str(&format!(",hostfwd=tcp:127.0.0.1:{}-:{}", f.host, f.guest));
            }
            push(&["-nic", &v]);
        }
        Network::Tap { tap } => push(&[
            "-nic",
            &format!("tap,ifname={tap},script=no,downscript=no,model=virtio-net-pci"),
        ]),
    }
    if !s.shares.is_empty() {
        // vhost-user needs the guest's memory shared with virtiofsd.
        push(&[
            "-object",
            &format!("memory-backend-memfd,id=mem,size={}M,share=on", s.memory_mb),
            "-numa",
            "node,memdev=mem",
        ]);
        for (i, (share, sock)) in s.shares.iter().zip(l.share_sockets).enumerate() {
            push(&[
                "-chardev",
                &format!("socket,id=fs{i},path={}", opt_value(sock)),
                "-device",
                &format!(
                    "vhost-user-fs-pci,queue-size=1024,chardev=fs{i},tag={}",
                    share.tag
                ),
            ]);
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::super::super::spec::Disk;
    use super::*;

    fn base() -> VmSpec {
        let mut s = VmSpec::new("web").unwrap();
        s.set_kernel_path("/g/vmlinuz").unwrap();
        s
    }

    fn run(s: &VmSpec, accel: Accel, socks: &[String]) -> String {
        qemu_argv(&Launch {
            spec: s,
            accel,
            console: Path::new("/st/vms/web/console.log"),
            socket: Path::new("/st/vms/web/qmp.sock"),
            share_sockets: socks,
        })
        .join(" ")
    }

    const COMMON: &str =
        "qemu-system-x86_64 -name web -nodefaults -no-user-config -display none -no-reboot";
    const MONITORS: &str = "-chardev socket,id=qmp,path=/st/vms/web/qmp.sock,server=on,wait=off -mon chardev=qmp,mode=control -chardev file,id=console,path=/st/vms/web/console.log -serial chardev:console";

    #[test]
    fn argv_table() {
        let kernel_only = base();
        let mut full = base();
        full.set_initramfs_path("/g/initrd.img").unwrap();
        full.set_cmdline("console=ttyS0 panic=-1 herodo.share=data")
            .unwrap();
        full.set_vcpus(2).unwrap();
        full.set_memory_mb(256).unwrap();
        full.add_disk(Disk::new("/d/a,b.qcow2", false, None).unwrap())
            .unwrap();
        full.add_disk(Disk::new("/d/base.raw", true, Some("raw")).unwrap())
            .unwrap();
        full.set_network("user", vec![(2222, 22), (8080, 80)], None)
            .unwrap();
        full.add_share("/srv/data", "data", false).unwrap();
        let mut tap = VmSpec::new("web").unwrap();
        tap.set_firmware_path("/fw/OVMF.fd").unwrap();
        tap.add_disk(Disk::new("/d/os.qcow2", false, None).unwrap())
            .unwrap();
        tap.set_network("tap", vec![], Some("tap0")).unwrap();
        let table: Vec<(VmSpec, Accel, Vec<String>, String)> = vec![
            (
                kernel_only,
                Accel::Tcg,
                vec![],
                format!("{COMMON} -accel tcg -m 512 -smp 1 {MONITORS} -kernel /g/vmlinuz -append console=ttyS0"),
            ),
            (
                full,
                Accel::Tcg,
                vec!["/st/vms/web/fs0.sock".into()],
                format!("{COMMON} -accel tcg -m 256 -smp 2 {MONITORS} -kernel /g/vmlinuz -initrd /g/initrd.img -append console=ttyS0 panic=-1 herodo.share=data \
-drive file=/d/a,,b.qcow2,if=virtio,format=qcow2,id=disk0 -drive file=/d/base.raw,if=virtio,format=raw,id=disk1,readonly=on \
-nic user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=tcp:127.0.0.1:8080-:80 \
-object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem \
-chardev socket,id=fs0,path=/st/vms/web/fs0.sock -device vhost-user-fs-pci,queue-size=1024,chardev=fs0,tag=data"),
            ),
            (
                tap,
                Accel::Kvm,
                vec![],
                format!("{COMMON} -accel kvm -cpu host -m 512 -smp 1 {MONITORS} -bios /fw/OVMF.fd \
-drive file=/d/os.qcow2,if=virtio,format=qcow2,id=disk0 -nic tap,ifname=tap0,script=no,downscript=no,model=virtio-net-pci"),
            ),
        ];
        for (spec, accel, socks, want) in table {
            assert_eq!(run(&spec, accel, &socks), want);
        }
    }

    #[test]
    fn kernel_arguments_stay_single_arguments() {
        let mut s = base();
        s.set_cmdline("a b; rm -rf /").unwrap();
        let argv = qemu_argv(&Launch {
            spec: &s,
            accel: Accel::Tcg,
            console: Path::new("/c"),
            socket: Path::new("/s"),
            share_sockets: &[],
        });
        let i = argv.iter().position(|x| x == "-append").unwrap();
        assert_eq!(argv[i + 1], "a b; rm -rf /");
    }
}
