//! `virt_what()`: is herodo itself running in a VM or a container, and which? Read from the
//! CPU (the hypervisor bit and CPUID's hypervisor vendor leaf) and a few files; nothing is run.

use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VirtInfo {
    pub is_virtualized: bool,
    /// `kvm`, `qemu` (TCG), `vmware`, `hyperv`, `xen`, `bhyve`, `other` or `none`.
    pub virtualization_type: String,
    /// The hypervisor's CPUID vendor signature (`KVMKVMKVM`), or ().
    pub hypervisor: Option<String>,
    /// `docker`, `podman`, `kubernetes`, `lxc`, or ().
    pub container: Option<String>,
    /// The CPU architecture (`x86_64`, `aarch64`).
    pub platform: String,
}

/// What a CPUID hypervisor signature names.
pub fn virtualization_type(signature: &str) -> &'static str {
    match signature.trim_end_matches('\0') {
        "KVMKVMKVM" | "Linux KVM Hv" => "kvm",
        "TCGTCGTCGTCG" => "qemu",
        "VMwareVMware" => "vmware",
        "Microsoft Hv" => "hyperv",
        "XenVMMXenVMM" => "xen",
        "bhyve bhyve " => "bhyve",
        _ => "other",
    }
}

/// The container runtime from the marker files and PID 1's cgroups.
pub fn container(
    dockerenv: bool,
    containerenv: bool,
    cgroup: &str,
    environ: &str,
) -> Option<String> {
    if containerenv {
        return Some("podman".into());
    }
    if dockerenv || cgroup.contains("/docker") {
        return Some("docker".into());
    }
    if cgroup.contains("kubepods") {
        return Some("kubernetes".into());
    }
    if environ.split('\0').any(|v| v == "container=lxc") || cgroup.contains("/lxc") {
        return Some("lxc".into());
    }
    None
}

/// The CPUID hypervisor vendor signature (leaf 0x40000000), when the CPU says it runs under one.
#[cfg(target_arch = "x86_64")]
fn cpuid_signature() -> Option<String> {
    use std::arch::x86_64::__cpuid;
    // CPUID exists on every x86_64 CPU (safe to call); leaf 1 ECX bit 31 says whether the
    // hypervisor leaves are meaningful before we read them.
    let hv = __cpuid(1).ecx & (1 << 31) != 0;
    if !hv {
        return None;
    }
    let r = __cpuid(0x4000_0000);
    let bytes: Vec<u8> = [r.ebx, r.ecx, r.edx]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    Some(
        String::from_utf8_lossy(&bytes)
            .trim_end_matches('\0')
            .to_string(),
    )
}

#[cfg(not(target_arch = "x86_64"))]
fn cpuid_signature() -> Option<String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    cpuinfo
        .lines()
        .any(|l| l.starts_with("flags") && l.split_whitespace().any(|f| f == "hypervisor"))
        .then(String::new)
}

pub fn virt_what() -> VirtInfo {
    let sig = cpuid_signature();
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let exists = |p: &str| std::path::Path::new(p).exists();
    VirtInfo {
        is_virtualized: sig.is_some(),
        virtualization_type: sig
            .as_deref()
            .map_or("none", virtualization_type)
            .to_string(),
        hypervisor: sig.filter(|s| !s.is_empty()),
        container: container(
            exists("/.dockerenv"),
            exists("/run/.containerenv"),
            &read("/proc/1/cgroup"),
            &read("/proc/1/environ"),
        ),
        platform: std::env::consts::ARCH.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_and_containers() {
        for (sig, want) in [
            ("KVMKVMKVM\0\0\0", "kvm"),
            ("TCGTCGTCGTCG", "qemu"),
            ("Microsoft Hv", "hyperv"),
            ("VMwareVMware", "vmware"),
            ("XenVMMXenVMM", "xen"),
            ("ACRNACRNACRN", "other"),
        ] {
            assert_eq!(virtualization_type(sig), want, "{sig}");
        }
        assert_eq!(container(false, true, "", ""), Some("podman".into()));
        assert_eq!(container(true, false, "", ""), Some("docker".into()));
        assert_eq!(
            container(false, false, "1:name=systemd:/kubepods/besteffort/pod1", ""),
            Some("kubernetes".into())
        );
        assert_eq!(
            container(false, false, "", "PATH=/bin\0container=lxc\0"),
            Some("lxc".into())
        );
        assert_eq!(container(false, false, "9:name=systemd:/", ""), None);
        let v = virt_what();
        assert_eq!(v.platform, std::env::consts::ARCH);
        assert_eq!(v.is_virtualized, v.virtualization_type != "none");
    }
}
