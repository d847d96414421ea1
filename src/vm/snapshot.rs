//! `vm_snapshot` and `vm_restore`: a VM's memory and device state in a directory, its disks as
//! internal snapshots, and a restore that runs the guest on from that moment without a boot.

use std::path::PathBuf;

use serde::Serialize;

use super::error::{Result, VmError};
use super::{absolute, qcow2, qemu, StopMode, Vms};
use crate::common::time::timestamp;
use crate::host::Host;

/// What `vm_snapshot` writes beside the memory image (`snapshot.json`).
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct SnapshotMeta {
    pub vm_id: String,
    /// The name of the internal snapshot taken of each writable qcow2 disk.
    pub disk_snapshot: String,
    pub disks: Vec<String>,
    pub created: i64,
}

const SNAPSHOT_META: &str = "snapshot.json";

impl Vms {
    /// Save the VM's state into `dir` (created; must not hold a snapshot yet): the memory and
    /// device state, and an internal snapshot of each writable qcow2 disk. A running VM
    /// pauses meanwhile and then goes on; a paused one stays paused.
    pub fn snapshot(&self, host: &Host, id: &str, dir: &str) -> Result<()> {
        qcow2::check_path("dir", dir)?;
        if self.dry(host, id, "snapshot", &format!(" into {dir}"))? {
            return Ok(());
        }
        let _lock = self.lock(host, id)?;
        let (rec, backend) = self.running_record(id, "vm_snapshot", "running or paused")?;
        let dir = PathBuf::from(absolute(dir));
        if dir.join(SNAPSHOT_META).exists() || dir.join(qemu::MEMORY_FILE).exists() {
            return Err(VmError::AlreadyExists {
                path: dir.display().to_string(),
            });
        }
        std::fs::create_dir_all(&dir).map_err(|e| VmError::io("create", &dir, e))?;
        let meta = SnapshotMeta {
            vm_id: id.to_string(),
            disk_snapshot: format!("herodo-{}", crate::common::time::timestamp_ms()),
            disks: rec.spec.disks.iter().map(|d| d.path.clone()).collect(),
            created: timestamp(),
        };
        if let Err(e) = backend.snapshot(host, &rec, &dir, &meta.disk_snapshot) {
            let _ = std::fs::remove_file(dir.join(qemu::MEMORY_FILE));
            return Err(e);
        }
        Ok(crate::common::state::write_json(
            &dir.join(SNAPSHOT_META),
            &meta,
        )?)
    }

    /// Bring a VM that does not run back to the state `vm_snapshot` saved in `dir`: its disks
    /// go back to their snapshot, and it runs on from where it was (no boot).
    pub fn restore(&self, host: &Host, id: &str, dir: &str) -> Result<()> {
        qcow2::check_path("dir", dir)?;
        if self.dry(host, id, "restore", &format!(" from {dir}"))? {
            return Ok(());
        }
        let _lock = self.lock(host, id)?;
        let mut rec = self.record(id)?;
        let backend = self.backend(&rec.spec)?;
        let backend = backend.as_ref();
        let status = self.status_of(&rec, backend);
        if matches!(status.as_str(), "running" | "paused") {
            return Err(VmError::BadState {
                id: id.to_string(),
                status,
                action: "vm_restore",
                needs: "stopped (vm_stop it first)",
            });
        }
        let dir = PathBuf::from(absolute(dir));
        let meta: SnapshotMeta = crate::common::state::read_json(&dir.join(SNAPSHOT_META))?
            .ok_or_else(|| VmError::missing("snapshot", dir.display().to_string()))?;
        let disks: Vec<String> = rec.spec.disks.iter().map(|d| d.path.clone()).collect();
        if meta.disks != disks {
            return Err(VmError::invalid(
                "dir",
                format!(
                    "the snapshot was taken of vm {} with other disks ({})",
                    meta.vm_id,
                    meta.disks.join(", ")
                ),
            ));
        }
        rec.spec.check_paths()?;
        backend.revert_disks(host, &rec, &meta.disk_snapshot)?;
        self.launch(host, &mut rec, backend, true)?;
        if let Err(e) = backend.finish_restore(host, &rec, &dir) {
            let _ = self.stop_locked(host, &mut rec, backend, StopMode::Force);
            return Err(e);
        }
        Ok(())
    }
}
