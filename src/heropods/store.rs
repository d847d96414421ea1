//! Where heropods keeps things, and the container records that let a later herodo process see
//! containers created earlier.
//!
//! ```text
//! BASE/images/refs.json              reference -> image id (guarded by images/.lock)
//! BASE/images/<id>/rootfs            an unpacked image (read-only: only a lower layer)
//! BASE/images/<id>/image.json        its config (entrypoint, cmd, env, ...)
//! BASE/containers/<name>/            the bundle (0700: the config holds env values)
//!     container.json                 the record
//!     config.json                    the OCI runtime config
//!     rootfs/ upper/ work/           the overlay mount and the writable layer
//!     container.log                  stdout and stderr
//!     hosts resolv.conf hostname     bound into the container (hosts rewritten in place: names.rs)
//!     ports.published                while its published ports' rules may be in place (ports.rs)
//! BASE/runtime/                      the runtime's state (--root), apart from podman's
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{PodError, Result};
use super::network::Attachment;
use super::spec::{NetworkMode, Overrides};
use crate::common::state;

/// The file layout below a base directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    base: PathBuf,
}

impl Paths {
    pub fn new(base: impl Into<PathBuf>) -> Self {
        Paths { base: base.into() }
    }

    pub fn base(&self) -> &Path {
        &self.base
    }

    pub fn images_dir(&self) -> PathBuf {
        self.base.join("images")
    }

    pub fn image_dir(&self, hex: &str) -> PathBuf {
        self.images_dir().join(hex)
    }

    pub fn image_index(&self) -> PathBuf {
        self.images_dir().join("refs.json")
    }

    pub fn image_lock(&self) -> PathBuf {
        self.images_dir().join(".lock")
    }

    /// Where fetches stage their downloads (`<owner tag>.<n>` each).
    pub fn incoming_root(&self) -> PathBuf {
        self.images_dir().join(".incoming")
    }

    /// A fresh staging directory for one fetch (removed after it), named after this process's
    /// owner tag so that one left by a killed herodo is known for stale (see
    /// `image_cache::stale_incoming`).
    pub fn incoming_dir(&self) -> PathBuf {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.incoming_root()
            .join(format!("{}.{n}", crate::common::owner::owner_tag()))
    }

    pub fn containers_dir(&self) -> PathBuf {
        self.base.join("containers")
    }

    /// Only call with a validated name: it becomes a path component.
    pub fn container_dir(&self, name: &str) -> PathBuf {
        self.containers_dir().join(name)
    }

    pub fn record(&self, name: &str) -> PathBuf {
        self.container_dir(name).join("container.json")
    }

    pub fn log(&self, name: &str) -> PathBuf {
        self.container_dir(name).join("container.log")
    }

    /// Serialises starting, stopping and deleting one container. Outside the container's
    /// directory, which a delete removes: a lock file that vanished while a second process
    /// waited on it would let a third one in. The files stay (a few bytes per name used).
    pub fn container_lock(&self, name: &str) -> PathBuf {
        self.base.join("locks").join(format!("{name}.lock"))
    }

    /// Serialises creating and deleting containers of this base directory.
    pub fn containers_lock(&self) -> PathBuf {
        self.base.join("containers.lock")
    }

    pub fn runtime_root(&self) -> PathBuf {
        self.base.join("runtime")
    }

    /// The cgroup directory (below the caller's own cgroup) that holds this base directory's
    /// containers: distinct per base directory, so two of them never share a container cgroup.
    pub fn cgroup_parent(&self) -> String {
        format!(
            "herodo-{:08x}",
            fnv1a(self.base.as_os_str().as_encoded_bytes()) as u32
        )
    }
}

/// FNV-1a: a short, stable tag for a path (not a security boundary).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

/// How a container's writable layer is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Storage {
    /// An overlayfs mount: the image is the lower layer, `upper/` takes the writes.
    Overlay,
    /// A full copy of the image (where overlayfs cannot be mounted).
    Copy,
}

/// Everything herodo knows about a container between runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub name: String,
    /// The image as the script named it.
    pub image: String,
    pub image_id: String,
    pub overrides: Overrides,
    /// The runtime binary that runs this container (also after the defaults change).
    pub runtime: String,
    pub storage: Storage,
    pub attachment: Option<Attachment>,
    /// Unix seconds.
    pub created: i64,
    pub started: Option<i64>,
    pub pid: Option<i64>,
    /// The start time of `pid` (clock ticks since boot): tells a reused pid apart.
    #[serde(default)]
    pub pid_start: Option<u64>,
    /// The monitor (`sh` waiting on the foreground runtime) and its start time: while it
    /// lives, the container's exit is about to be recorded.
    #[serde(default)]
    pub monitor: Option<(i64, u64)>,
    pub keep_alive: bool,
    /// The cgroup directories the runtime made, removed (with their empty parent) on delete.
    pub cgroup_dirs: Vec<String>,
    /// The herodo process that created it (see common::owner).
    pub owner: String,
    pub warnings: Vec<String>,
}

impl ContainerRecord {
    pub fn network(&self) -> NetworkMode {
        self.overrides.network
    }
}

/// The record of `name`; a record that cannot be read as one is `CorruptRecord`.
pub fn load(paths: &Paths, name: &str) -> Result<Option<ContainerRecord>> {
    match state::read_json(&paths.record(name)) {
        Ok(r) => Ok(r),
        Err(crate::error::HostError::Parse { reason, .. }) => Err(PodError::CorruptRecord {
            name: name.to_string(),
            reason,
        }),
        Err(e) => Err(e.into()),
    }
}

pub fn save(paths: &Paths, rec: &ContainerRecord) -> Result<()> {
    Ok(state::write_json(&paths.record(&rec.name), rec)?)
}

/// A container directory as found: its record, or why it has none that can be read.
#[derive(Debug)]
pub enum Entry {
    Record(Box<ContainerRecord>),
    /// A corrupt record (empty, garbage, cut short by a full disk).
    Broken {
        name: String,
        reason: String,
    },
}

/// Every container directory, sorted by name, with its record or why it cannot be read. A
/// directory without a record is a create that is still going on (or a killed herodo's),
/// and is left out.
pub fn entries(paths: &Paths) -> Result<Vec<Entry>> {
    let dir = paths.containers_dir();
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(PodError::io("read", &dir, e)),
    };
    let mut names: Vec<String> = rd
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| super::spec::name("name", n).is_ok())
        .collect();
    names.sort();
    Ok(names
        .into_iter()
        .filter_map(|n| match load(paths, &n) {
            Ok(Some(r)) => Some(Entry::Record(Box::new(r))),
            Ok(None) => None,
            Err(PodError::CorruptRecord { name, reason }) => Some(Entry::Broken { name, reason }),
            Err(e) => Some(Entry::Broken {
                name: n,
                reason: e.to_string(),
            }),
        })
        .collect())
}

/// Every readable container record, sorted by name.
pub fn list(paths: &Paths) -> Result<Vec<ContainerRecord>> {
    Ok(entries(paths)?
        .into_iter()
        .filter_map(|e| match e {
            Entry::Record(r) => Some(*r),
            Entry::Broken { .. } => None,
        })
        .collect())
}

/// Create `dir` (and parents) with mode 0700.
pub fn private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| PodError::io("create", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let p = Paths::new("/var/lib/hp");
        assert_eq!(
            p.record("web"),
            Path::new("/var/lib/hp/containers/web/container.json")
        );
        assert_eq!(p.image_dir("ab"), Path::new("/var/lib/hp/images/ab"));
        assert_eq!(p.runtime_root(), Path::new("/var/lib/hp/runtime"));
        let tag = p.cgroup_parent();
        assert!(tag.starts_with("herodo-") && tag.len() == 15, "{tag}");
        assert_ne!(tag, Paths::new("/var/lib/hp2").cgroup_parent());
        assert_ne!(p.incoming_dir(), p.incoming_dir());
        let staged = p.incoming_dir();
        let file = staged.file_name().unwrap().to_str().unwrap();
        assert_eq!(staged.parent(), Some(p.incoming_root().as_path()));
        assert!(
            file.starts_with(crate::common::owner::owner_tag()),
            "{file}"
        );
    }
}
