//! A container's output: written through a small pump that keeps the log files bounded, and
//! read back from the end without loading more than a cap.
//!
//! The container's stdout and stderr go into a pipe read by `herodo __log-pump LOG` (started
//! by the monitor, in the container's session, so it lives exactly as long as the container's
//! output does). The pump appends to `LOG`; when `LOG` reaches [`ROTATE_BYTES`] it becomes
//! `LOG.1` (replacing the previous one) and a new `LOG` starts: at most twice that is kept on
//! disk whatever the container writes. Readers never hold more than [`READ_CAP`] bytes.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::error::{PodError, Result};

/// Size at which the log is rotated (one older file is kept).
pub const ROTATE_BYTES: u64 = 8 * 1024 * 1024;
/// The most `logs()` returns in one call.
pub const READ_CAP: u64 = 8 * 1024 * 1024;
/// The hidden subcommand that runs the pump.
pub const PUMP_COMMAND: &str = "__log-pump";

/// The rotated-away older part of `log`.
pub fn older(log: &Path) -> PathBuf {
    let mut s = log.as_os_str().to_os_string();
    s.push(".1");
    PathBuf::from(s)
}

/// Copy `input` to `log` until its end, rotating at `rotate` bytes. Write errors (a full disk)
/// drop output rather than stop the container: a blocked pipe would freeze it.
pub fn pump(mut input: impl Read, log: &Path, rotate: u64) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let open = || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(log)
    };
    let mut out = open()?;
    let mut size = out.metadata().map(|m| m.len()).unwrap_or(0);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if out.write_all(&buf[..n]).is_ok() {
            size += n as u64;
        }
        if size >= rotate && std::fs::rename(log, older(log)).is_ok() {
            if let Ok(f) = open() {
                out = f;
                size = 0;
            }
        }
    }
}

/// `herodo __log-pump LOG`: the pump on standard input. Signals from a terminal never reach
/// it (it runs in the container's own session); it ends when the container's output does.
pub fn pump_main(args: &[std::ffi::OsString]) -> i32 {
    let [log] = args else {
        eprintln!("usage: herodo {PUMP_COMMAND} LOG");
        return 2;
    };
    match pump(std::io::stdin().lock(), Path::new(log), ROTATE_BYTES) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("herodo {PUMP_COMMAND}: {e}");
            1
        }
    }
}

/// Which part of the log to read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    /// Only the last `tail` lines.
    pub tail: Option<u64>,
    /// Skip the first `since_bytes` bytes of what is kept (the older file first).
    pub since_bytes: Option<u64>,
}

fn open_len(p: &Path) -> Result<Option<(File, u64)>> {
    match File::open(p) {
        Ok(f) => {
            let len = f.metadata().map_err(|e| PodError::io("read", p, e))?.len();
            Ok(Some((f, len)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(PodError::io("read", p, e)),
    }
}

fn too_big(name: &str, log: &Path, len: u64, cap: u64) -> PodError {
    PodError::Host(crate::error::HostError::Limit {
        path: log.display().to_string(),
        reason: format!(
            "the log of container {name} holds {len} bytes, more than one logs() call returns \
             ({cap}); read the end with logs(#{{tail: 1000}}) or a part with \
             logs(#{{since_bytes: N}})"
        ),
    })
}

/// Read `log` (and its older part) as `w` asks, at most `cap` bytes.
pub fn read(name: &str, log: &Path, w: Window, cap: u64) -> Result<String> {
    let mut parts: Vec<(File, u64, PathBuf)> = Vec::new();
    for p in [older(log), log.to_path_buf()] {
        if let Some((f, len)) = open_len(&p)? {
            parts.push((f, len, p));
        }
    }
    let total: u64 = parts.iter().map(|p| p.1).sum();
    let skip = w.since_bytes.unwrap_or(0).min(total);
    let bytes = match w.tail {
        Some(n) => tail_bytes(&mut parts, skip, total, n, cap, name, log)?,
        None => {
            if total - skip > cap {
                return Err(too_big(name, log, total - skip, cap));
            }
            read_range(&mut parts, skip, total)?
        }
    };
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Bytes `from..to` of the concatenated parts.
fn read_range(parts: &mut [(File, u64, PathBuf)], from: u64, to: u64) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity((to - from) as usize);
    let mut base = 0u64;
    for (f, len, p) in parts.iter_mut() {
        let (start, end) = (from.max(base), to.min(base + *len));
        if start < end {
            f.seek(SeekFrom::Start(start - base))
                .map_err(|e| PodError::io("read", &*p, e))?;
            f.take(end - start)
                .read_to_end(&mut out)
                .map_err(|e| PodError::io("read", &*p, e))?;
        }
        base += *len;
    }
    Ok(out)
}

/// The last `lines` lines after `skip`, read backwards in blocks; at most `cap` bytes.
fn tail_bytes(
    parts: &mut [(File, u64, PathBuf)],
    skip: u64,
    total: u64,
    lines: u64,
    cap: u64,
    name: &str,
    log: &Path,
) -> Result<Vec<u8>> {
    const BLOCK: u64 = 64 * 1024;
    if lines == 0 {
        return Ok(Vec::new());
    }
    let mut end = total;
    // A final newline ends the last line; it does not start another one.
    let mut start = total;
    let mut newlines = 0u64;
    let mut last_byte_checked = false;
    while start > skip {
        let from = start.saturating_sub(BLOCK).max(skip);
        let block = read_range(parts, from, start)?;
        let mut cut = None;
        for (i, b) in block.iter().enumerate().rev() {
            if !last_byte_checked {
                last_byte_checked = true;
                if *b == b'\n' {
                    continue;
                }
            }
            if *b == b'\n' {
                newlines += 1;
                if newlines == lines {
                    cut = Some(from + i as u64 + 1);
                    break;
                }
            }
        }
        if let Some(c) = cut {
            start = c;
            break;
        }
        start = from;
        if end - start > cap {
            return Err(too_big(name, log, end - start, cap));
        }
    }
    if end - start > cap {
        return Err(too_big(name, log, end - start, cap));
    }
    end = end.min(total);
    read_range(parts, start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("herodo-logs-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn pump_rotates_and_keeps_at_most_two_files() {
        let d = dir("rotate");
        let log = d.join("c.log");
        let input: Vec<u8> = (0..1000u32)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        pump(&input[..], &log, 1000).unwrap();
        let a = std::fs::metadata(&log).unwrap().len();
        let b = std::fs::metadata(older(&log)).unwrap().len();
        assert!(a < 1000 + 64 * 1024 && b >= 1000, "{a} {b}");
        // The newest lines are in the log, in order, after the older part.
        let all = read("c", &log, Window::default(), u64::MAX).unwrap();
        assert!(all.ends_with("line 999\n"), "{}", &all[all.len() - 20..]);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn windows_and_the_cap() {
        let d = dir("window");
        let log = d.join("c.log");
        std::fs::write(older(&log), "one\ntwo\n").unwrap();
        std::fs::write(&log, "three\nfour\nfive").unwrap();
        let r = |w: Window, cap: u64| read("c", &log, w, cap);
        let tail = |n: u64| Window {
            tail: Some(n),
            since_bytes: None,
        };
        assert_eq!(
            r(Window::default(), 100).unwrap(),
            "one\ntwo\nthree\nfour\nfive"
        );
        assert_eq!(r(tail(1), 100).unwrap(), "five");
        assert_eq!(r(tail(2), 100).unwrap(), "four\nfive");
        // Across the two files.
        assert_eq!(r(tail(4), 100).unwrap(), "two\nthree\nfour\nfive");
        assert_eq!(r(tail(99), 100).unwrap(), "one\ntwo\nthree\nfour\nfive");
        assert_eq!(r(tail(0), 100).unwrap(), "");
        let since = |n: u64| Window {
            tail: None,
            since_bytes: Some(n),
        };
        assert_eq!(r(since(4), 100).unwrap(), "two\nthree\nfour\nfive");
        assert_eq!(r(since(1000), 100).unwrap(), "");
        std::fs::write(&log, "three\nfour\n").unwrap();
        assert_eq!(r(tail(1), 100).unwrap(), "four\n");
        assert_eq!(r(tail(2), 100).unwrap(), "three\nfour\n");
        // More than the cap: a limit error that says how to read the end.
        let e = r(Window::default(), 10).unwrap_err();
        assert_eq!(crate::error::Classify::info(&e).kind, "limit");
        assert!(e.to_string().contains("tail"), "{e}");
        assert_eq!(r(tail(1), 10).unwrap(), "four\n");
        assert!(r(tail(3), 10).is_err());
        // No log yet: empty.
        assert_eq!(
            read("c", &d.join("none.log"), Window::default(), 10).unwrap(),
            ""
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_huge_log_is_read_from_the_end_only() {
        let d = dir("huge");
        let log = d.join("c.log");
        // Sparse: 1 GiB of zeros without writing them, then one line.
        let f = File::create(&log).unwrap();
        f.set_len(1 << 30).unwrap();
        drop(f);
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        f.write_all(b"\nlast line\n").unwrap();
        let tail = Window {
            tail: Some(1),
            since_bytes: None,
        };
        assert_eq!(read("c", &log, tail, READ_CAP).unwrap(), "last line\n");
        assert!(read("c", &log, Window::default(), READ_CAP).is_err());
        let _ = std::fs::remove_dir_all(&d);
    }
}
