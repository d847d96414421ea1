//! herodo's temporary files and directories (scripts' `tmpdir()`/`mktemp()`, the test runner's
//! scratch space, buildah's staging files).

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::HostError;

type Result<T> = std::result::Result<T, HostError>;

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A path under the temp directory that no one has used: pid, a counter and the clock.
pub fn unique_tmp_path(prefix: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("{prefix}-{}-{n}-{nanos:08x}", std::process::id()))
}

/// Create a fresh, empty temporary directory (always: herodo's own scratch space uses it too).
pub fn tmpdir() -> Result<PathBuf> {
    for _ in 0..16 {
        let p = unique_tmp_path("herodo");
        match fs::create_dir(&p) {
            Ok(()) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(HostError::io("create directory", &p, e)),
        }
    }
    Err(HostError::invalid("tmpdir", "could not find a free name"))
}

/// Create a fresh, empty temporary file (always: herodo's own scratch space uses it too).
pub fn mktemp() -> Result<PathBuf> {
    for _ in 0..16 {
        let p = unique_tmp_path("herodo-file");
        match fs::OpenOptions::new().write(true).create_new(true).open(&p) {
            Ok(_) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(HostError::io("create file", &p, e)),
        }
    }
    Err(HostError::invalid("mktemp", "could not find a free name"))
}
