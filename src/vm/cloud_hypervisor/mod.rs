//! The Cloud Hypervisor backend: a `cloud-hypervisor --api-socket path=SOCK` process per VM,
//! driven over its REST API (`api`, on the shared unix-socket HTTP client), with the
//! `vm.create` body built from the spec by pure functions (`config`). The binary is
//! `HERODO_CH_BIN` when set, else `cloud-hypervisor` on PATH; the tests point
//! `HERODO_CH_BIN` at a fake that answers as a real v54 does (tests/ch/fake_ch.py).
//!
//! Cloud Hypervisor exits with status 0 also when a vCPU fails (see
//! ../shared/cloud-hypervisor-notes.md), so an exit nobody asked for is judged by its log:
//! an `ERROR` line (`VCPU generated error`) means crashed, a quiet exit (the guest powered off)
//! stopped. `runtime` is the original herodo's one-VM-per-process API (`init_runtime`,
//! `create_vm`, ...).

pub mod api;
pub mod config;
pub mod runtime;

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::Result;
use super::store::VmRecord;
use super::Backend;
use crate::exec::Cmd;
use crate::host::Host;
use api::Api;

/// The program's name on PATH.
pub const BINARY: &str = "cloud-hypervisor";
/// How a missing binary is fixed.
pub const INSTALL_HINT: &str =
    "install an upstream cloud-hypervisor release binary, or point HERODO_CH_BIN at one";
/// How long a readiness probe may wait for `vmm.ping`.
const PING_TIMEOUT: Duration = Duration::from_millis(500);

/// The program to run: `HERODO_CH_BIN`, else `cloud-hypervisor`.
pub fn program() -> String {
    match std::env::var("HERODO_CH_BIN") {
        Ok(p) if !p.trim().is_empty() => p,
        _ => BINARY.to_string(),
    }
}

/// Where `program` (a path, or a name looked up on PATH) is, if it exists (for any
/// backend's program: HERODO_CH_BIN is usually a path).
pub fn locate(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = Path::new(program);
        p.is_file().then(|| p.to_path_buf())
    } else {
        crate::exec::which(program)
    }
}

/// How a process that ended without being asked to is reported: crashed when it failed
/// (non-zero, or an `ERROR` line in its log: CH exits 0 after a vCPU error), else stopped
/// (the guest powered off).
pub fn judge_exit(code: i64, log: &str) -> &'static str {
    let error_logged = log
        .lines()
        .any(|l| l.contains("ERROR:") || l.contains("VCPU generated error"));
    if code != 0 || error_logged {
        "crashed"
    } else {
        "stopped"
    }
}

/// `vm.info`'s state as a manager status.
pub fn status_of_state(state: &str) -> &'static str {
    match state {
        "Paused" => "paused",
        "Created" | "Shutdown" => "stopped",
        _ => "running",
    }
}

pub struct CloudHypervisor;

impl CloudHypervisor {
    fn api(rec: &VmRecord) -> Api {
        Api::new(Path::new(&rec.api_socket))
    }
}

impl Backend for CloudHypervisor {
    fn accel(&self) -> &'static str {
        "kvm"
    }

    fn program(&self) -> String {
        program()
    }

    fn install_hint(&self) -> &'static str {
        INSTALL_HINT
    }

    fn command(&self, rec: &VmRecord, _share_sockets: &[String]) -> Cmd {
        Cmd::new(program())
            .args([
                "--api-socket".to_string(),
                format!("path={}", rec.api_socket),
            ])
            .args(rec.spec.extra_args.iter().cloned())
    }

    fn ready(&self, rec: &VmRecord) -> bool {
        Api::with_timeout(Path::new(&rec.api_socket), PING_TIMEOUT)
            .ping()
            .is_ok()
    }

    fn boot(&self, rec: &VmRecord, share_sockets: &[String]) -> Result<()> {
        let cfg = config::from_spec(&rec.spec, &rec.console_log, share_sockets)?;
        let api = Self::api(rec);
        api.create(&cfg.to_json())?;
        api.action("vm.boot")
    }

    fn status(&self, rec: &VmRecord) -> Result<&'static str> {
        Ok(status_of_state(&Self::api(rec).info()?.state))
    }

    fn ended(&self, code: i64, log: &str) -> &'static str {
        judge_exit(code, log)
    }

    fn powerdown(&self, rec: &VmRecord) -> Result<()> {
        let api = Self::api(rec);
        if api.info()?.state == "Paused" {
            api.action("vm.resume")?;
        }
        api.action("vm.power-button")
    }

    fn quit(&self, rec: &VmRecord) -> Result<()> {
        Self::api(rec).action("vmm.shutdown")
    }

    fn pause(&self, rec: &VmRecord) -> Result<()> {
        Self::api(rec).action("vm.pause")
    }

    fn resume(&self, rec: &VmRecord) -> Result<()> {
        Self::api(rec).action("vm.resume")
    }

    /// CH snapshots only a paused VM, into files in `dir` (config.json, state.json,
    /// memory-ranges); the disks are not part of it.
    fn snapshot(&self, _host: &Host, rec: &VmRecord, dir: &Path, _disk: &str) -> Result<()> {
        let api = Self::api(rec);
        let was_running = api.info()?.state == "Running";
        if was_running {
            api.action("vm.pause")?;
        }
        let res = api.snapshot(dir);
        if was_running {
            let resumed = api.action("vm.resume");
            res?;
            return resumed;
        }
        res
    }

    fn revert_disks(&self, _host: &Host, _rec: &VmRecord, _disk: &str) -> Result<()> {
        Ok(())
    }

    fn restore_command(&self, rec: &VmRecord, share_sockets: &[String]) -> Cmd {
        self.command(rec, share_sockets)
    }

    fn finish_restore(&self, _host: &Host, rec: &VmRecord, dir: &Path) -> Result<()> {
        let api = Self::api(rec);
        api.restore(dir)?;
        // A restored VM starts paused.
        api.action("vm.resume")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exits_and_states() {
        let crash = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vm/ch_boot_crash.log"),
        )
        .unwrap();
        assert_eq!(judge_exit(0, &crash), "crashed");
        assert_eq!(
            judge_exit(
                0,
                "cloud-hypervisor: 1.2s: <vmm> INFO:vmm/src/lib.rs:1 -- VM exit\n"
            ),
            "stopped"
        );
        assert_eq!(judge_exit(137, ""), "crashed");
        assert_eq!(status_of_state("Running"), "running");
        assert_eq!(status_of_state("Paused"), "paused");
        assert_eq!(status_of_state("Created"), "stopped");
        assert_eq!(status_of_state("BreakPoint"), "running");
    }

    #[test]
    fn program_and_command_line() {
        assert!(locate("/nonexistent/cloud-hypervisor").is_none());
        assert!(locate("sh").is_some());
    }
}
