//! herodo's state directory and atomic JSON records in it.
//!
//! The root is `$HERODO_STATE_DIR`, else `$XDG_STATE_HOME/herodo`, else `~/.local/state/herodo`,
//! resolved once when the [`crate::host::Host`] is made (tests point it at a temp dir). Records are
//! written to a temp file in the same directory and renamed over the target, so a reader never
//! sees half a record and a crash never leaves one.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::HostError;

/// The state root from the environment (see the module docs).
pub fn default_root() -> PathBuf {
    if let Some(d) = std::env::var_os("HERODO_STATE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("herodo");
    }
    dirs::home_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join(".local/state/herodo")
}

/// Write `bytes` to `path` atomically (temp file + fsync + rename), creating parent dirs.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), HostError> {
    let dir = path
        .parent()
        .ok_or_else(|| HostError::invalid("path", format!("{} has no parent", path.display())))?;
    std::fs::create_dir_all(dir).map_err(|e| HostError::io("create", dir, e))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("record");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let res = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(HostError::io("write", path, e));
    }
    Ok(())
}

/// Write a JSON record atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), HostError> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| HostError::Parse {
        what: "state record",
        reason: e.to_string(),
    })?;
    write_atomic(path, &bytes)
}

/// Read a JSON record; `Ok(None)` when it does not exist.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, HostError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| HostError::Parse {
                what: "state record",
                reason: format!("{}: {e}", path.display()),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(HostError::io("read", path, e)),
    }
}

/// Remove a record; a missing one is fine.
pub fn remove(path: &Path) -> Result<(), HostError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(HostError::io("remove", path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let dir = std::env::temp_dir().join(format!("herodo-state-{}", std::process::id()));
        let p = dir.join("a/b.json");
        assert_eq!(read_json::<Vec<u32>>(&p).unwrap(), None);
        write_json(&p, &vec![1u32, 2]).unwrap();
        write_json(&p, &vec![3u32]).unwrap();
        assert_eq!(read_json::<Vec<u32>>(&p).unwrap(), Some(vec![3]));
        let leftovers: Vec<_> = std::fs::read_dir(p.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp files left");
        remove(&p).unwrap();
        remove(&p).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
