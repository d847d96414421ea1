//! Exclusive advisory file locks (`flock(2)`) for records that several herodo processes may
//! change at once (address allocations, image indexes). The lock is released when the guard is
//! dropped, and by the kernel when a process dies, so a killed herodo never leaves it held.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

use crate::error::HostError;
use crate::exec::CancelToken;

/// Holds an exclusive lock on a file until dropped.
#[derive(Debug)]
pub struct FileLock {
    _file: File,
}

impl FileLock {
    /// Lock `path` (created with its parent directories when missing), waiting up to `timeout`
    /// for another holder; Ctrl-C ends the wait with `cancelled`.
    pub fn exclusive(
        path: &Path,
        cancel: &CancelToken,
        timeout: Duration,
    ) -> Result<FileLock, HostError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| HostError::io("create", dir, e))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| HostError::io("open", path, e))?;
        let what = format!("the lock {}", path.display());
        super::poll::poll_until(cancel, timeout, Duration::from_millis(5), &what, || {
            // SAFETY: flock on a descriptor we own; it only changes lock state.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc == 0 {
                return Ok(Some(()));
            }
            let err = std::io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EWOULDBLOCK) | Some(libc::EINTR) => Ok(None),
                _ => Err(HostError::io("lock", path, err)),
            }
        })?;
        Ok(FileLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_waits_until_the_first_drops() {
        let dir = std::env::temp_dir().join(format!("herodo-flock-{}", std::process::id()));
        let p = dir.join("sub/x.lock");
        let cancel = CancelToken::new();
        let first = FileLock::exclusive(&p, &cancel, Duration::from_secs(1)).unwrap();
        let e = FileLock::exclusive(&p, &cancel, Duration::from_millis(50)).unwrap_err();
        assert!(matches!(e, HostError::Timeout(_)), "{e}");
        drop(first);
        FileLock::exclusive(&p, &cancel, Duration::from_millis(50)).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
