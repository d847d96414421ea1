//! Handing `config.json` to a runtime that is already starting.
//!
//! An OCI runtime written in Go spends its first milliseconds (4-8 ms for runc 1.1 here) on its
//! own start-up before it opens the bundle's `config.json`. herodo's share of a start (the
//! mount, the network namespace and its veth, resolv.conf/hosts/hostname, the config itself)
//! takes about as long. Instead of doing the two one after the other, `start()` makes
//! `config.json` a FIFO, starts the runtime, prepares everything else meanwhile, and writes the
//! config into the FIFO once it is complete: the runtime's read simply waits for it. Right
//! after, a regular file with the same content replaces the FIFO, so the bundle on disk is an
//! ordinary bundle again (runc reads `config.json` once, at start).
//!
//! Nothing can run early: the runtime cannot create the container before it has the whole
//! config, and the config names the network namespace and the mounted root only once both are
//! ready.
//!
//! herodo holds the FIFO open for reading and writing from before the runtime starts until the
//! container runs. So the runtime's `open()` never waits, and if herodo dies before the config
//! is written, the runtime reads an end of file, fails, and its monitor records that. runc
//! decodes one JSON value and does not wait for the end of file, so the config is complete for
//! it as soon as the last byte is written. The one leftover a `kill -9` can make: a runtime that
//! had not reached its `open()` yet waits in it for a writer; [`release_stale`] (at the next
//! start or delete of that container) gives it one.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{PodError, Result};
use crate::error::HostError;
use crate::exec::CancelToken;

/// How often the writer checks again while the runtime drains a config bigger than the pipe.
const POLL: Duration = Duration::from_micros(200);

/// A `config.json` that is, for now, a FIFO the runtime will read the config from. Dropping it
/// closes herodo's end.
#[derive(Debug)]
pub struct Handover {
    path: PathBuf,
    fifo: std::fs::File,
}

impl Handover {
    /// Make `path` a FIFO (0600) held open by herodo, replacing whatever file was there.
    pub fn create(path: &Path) -> Result<Handover> {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(PodError::io("remove", path, e)),
        }
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| PodError::invalid("path", "contains a NUL byte"))?;
        // SAFETY: mkfifo reads the NUL-terminated path we own.
        if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
            return Err(PodError::io(
                "mkfifo",
                path,
                std::io::Error::last_os_error(),
            ));
        }
        // Read and write: Linux opens a FIFO so without waiting for the other side, and the
        // runtime's open() finds a writer. Close-on-exec (std's default): no child inherits it.
        let fifo = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| PodError::io("open", path, e))?;
        Ok(Handover {
            path: path.to_path_buf(),
            fifo,
        })
    }

    /// Write `bytes` into the FIFO, then replace it with a regular file holding the same bytes.
    /// A config bigger than the pipe goes in as the runtime reads; meanwhile `gone` is asked
    /// whether the runtime still runs (an `Err` from it ends the wait with that error), and
    /// Ctrl-C and `timeout` end it too. Keep the handover until the container runs.
    pub fn deliver(
        &mut self,
        bytes: &[u8],
        cancel: &CancelToken,
        timeout: Duration,
        mut gone: impl FnMut() -> Result<()>,
    ) -> Result<()> {
        // Room for the whole config, so that normally one write does it (the kernel may refuse
        // more than its pipe-max-size; then the runtime drains it as it reads).
        if bytes.len() > 65536 {
            let want = libc::c_int::try_from(bytes.len()).unwrap_or(libc::c_int::MAX);
            // SAFETY: F_SETPIPE_SZ on a FIFO we own; a refusal only leaves the size as it was.
            unsafe {
                libc::fcntl(self.fifo.as_raw_fd(), libc::F_SETPIPE_SZ, want);
            }
        }
        let deadline = Instant::now() + timeout;
        let mut rest = bytes;
        while !rest.is_empty() {
            match self.fifo.write(rest) {
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    gone()?;
                    if Instant::now() >= deadline {
                        return Err(HostError::Timeout(format!(
                            "the runtime did not read {} within {}",
                            self.path.display(),
                            crate::exec::fmt_duration(timeout)
                        ))
                        .into());
                    }
                    if !cancel.sleep(POLL) {
                        return Err(HostError::Cancelled.into());
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(PodError::io("write", &self.path, e)),
            }
        }
        // A runtime that opens the path from now on gets the regular file.
        crate::common::state::write_atomic(&self.path, bytes)?;
        Ok(())
    }
}

/// If `path` is a FIFO some process waits on to read (a runtime started by a herodo that died
/// before handing it its config), open and close it for writing: the waiting `open()` returns,
/// its read finds the end of file, and the runtime fails and ends. True when one was waiting.
pub fn release_stale(path: &Path) -> bool {
    let is_fifo = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo());
    // A writer's non-blocking open succeeds only while a reader has the FIFO open.
    is_fifo
        && std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("herodo-handover-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// A reader that opens the path and reads up to the end of file.
    fn read_to_end(p: &Path) -> std::thread::JoinHandle<Vec<u8>> {
        let p = p.to_path_buf();
        std::thread::spawn(move || {
            let mut s = Vec::new();
            std::fs::File::open(&p)
                .unwrap()
                .read_to_end(&mut s)
                .unwrap();
            s
        })
    }

    /// What a runtime does: open the path, read until one JSON value is complete (here: until
    /// `len` bytes), without waiting for the end of file.
    fn reader(p: &Path, len: usize, delay: Duration) -> std::thread::JoinHandle<Vec<u8>> {
        let p = p.to_path_buf();
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            let mut f = std::fs::File::open(&p).unwrap();
            let mut s = vec![0; len];
            f.read_exact(&mut s).unwrap();
            s
        })
    }

    #[test]
    fn an_early_reader_waits_for_the_config_and_a_regular_file_is_left() {
        let d = dir("early");
        let p = d.join("config.json");
        std::fs::write(&p, "stale").unwrap();
        let mut h = Handover::create(&p).unwrap();
        assert!(std::fs::metadata(&p).unwrap().file_type().is_fifo());
        // Bigger than a default pipe buffer: the writer goes on as the reader reads.
        let body: Vec<u8> = (0..3_000_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let r = reader(&p, body.len(), Duration::ZERO);
        std::thread::sleep(Duration::from_millis(30));
        h.deliver(&body, &CancelToken::new(), Duration::from_secs(20), || {
            Ok(())
        })
        .unwrap();
        assert_eq!(r.join().unwrap(), body, "read before the end of file");
        drop(h);
        let meta = std::fs::metadata(&p).unwrap();
        assert!(meta.file_type().is_file(), "the FIFO was replaced");
        assert_eq!(std::fs::read(&p).unwrap(), body);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_late_reader_gets_the_regular_file() {
        let d = dir("late");
        let p = d.join("config.json");
        let mut h = Handover::create(&p).unwrap();
        h.deliver(
            b"{\"a\": 1}",
            &CancelToken::new(),
            Duration::from_secs(5),
            || Ok(()),
        )
        .unwrap();
        drop(h);
        let r = reader(&p, 8, Duration::from_millis(10));
        assert_eq!(r.join().unwrap(), b"{\"a\": 1}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_reader_whose_writer_died_gets_the_end_of_file() {
        let d = dir("died");
        let p = d.join("config.json");
        let h = Handover::create(&p).unwrap();
        let waiting = read_to_end(&p);
        std::thread::sleep(Duration::from_millis(20));
        drop(h); // herodo gone before it wrote anything
        assert_eq!(waiting.join().unwrap(), b"");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_stale_reader_is_released_and_nothing_else_is_touched() {
        let d = dir("stale");
        let p = d.join("config.json");
        // A FIFO nobody holds (herodo died) and a reader blocked in open().
        drop(Handover::create(&p).unwrap());
        assert!(!release_stale(&p), "nobody waits yet");
        let blocked = read_to_end(&p);
        let started = Instant::now();
        while !release_stale(&p) {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "reader never came"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(blocked.join().unwrap(), b"");
        // A regular file or no file: nothing to release.
        std::fs::remove_file(&p).unwrap();
        assert!(!release_stale(&p));
        std::fs::write(&p, "{}").unwrap();
        assert!(!release_stale(&p));
        assert_eq!(std::fs::read(&p).unwrap(), b"{}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_config_nobody_reads_ends_by_gone() {
        let d = dir("gone");
        let p = d.join("config.json");
        let mut h = Handover::create(&p).unwrap();
        // More than any pipe can hold, and no reader: only `gone` can end it.
        let body = vec![b' '; 64 << 20];
        let mut n = 0;
        let e = h
            .deliver(&body, &CancelToken::new(), Duration::from_secs(30), || {
                n += 1;
                if n == 3 {
                    Err(PodError::invalid("runtime", "it ended"))
                } else {
                    Ok(())
                }
            })
            .unwrap_err();
        assert!(e.to_string().contains("it ended"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
