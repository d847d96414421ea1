//! The serial console: all of it (`vm_console_log`), or followed as it grows until a line
//! matches (`vm_wait_console`).

use std::io::{Read, Seek};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::error::{Result, VmError};
use super::Vms;
use crate::host::Host;

/// Console lines longer than this are matched by their last part only (memory stays flat
/// while following a console that never prints a newline).
const MAX_LINE: usize = 64 * 1024;

impl Vms {
    /// The console output so far.
    pub fn console_log(&self, id: &str) -> Result<String> {
        let rec = self.record(id)?;
        match std::fs::read(&rec.console_log) {
            Ok(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(VmError::io("read", &rec.console_log, e)),
        }
    }

    /// Follow the console from its start until a line matches `pattern` (a regex); returns
    /// that line. Reads only what was appended since the last look; throws `timeout`, and
    /// `bad_state` when the VM ends before the line appears.
    pub fn wait_console(
        &self,
        host: &Host,
        id: &str,
        pattern: &str,
        timeout: Duration,
    ) -> Result<String> {
        let re =
            regex::Regex::new(pattern).map_err(|e| VmError::invalid("pattern", e.to_string()))?;
        let rec = self.record(id)?;
        let deadline = crate::common::convert::deadline(timeout);
        let path = PathBuf::from(&rec.console_log);
        let mut file: Option<std::fs::File> = None;
        let mut line: Vec<u8> = Vec::new();
        let mut buf = vec![0u8; 16 * 1024];
        let mut last_check = Instant::now();
        loop {
            if file.is_none() {
                file = std::fs::File::open(&path).ok();
            }
            let mut got = 0;
            if let Some(f) = file.as_mut() {
                // A restart truncates the console: start over.
                let len = f.metadata().map(|m| m.len()).unwrap_or(0);
                let pos = f.stream_position().unwrap_or(0);
                if len < pos {
                    let _ = f.seek(std::io::SeekFrom::Start(0));
                    line.clear();
                }
                got = f
                    .read(&mut buf)
                    .map_err(|e| VmError::io("read", &path, e))?;
                for &b in &buf[..got] {
                    if b == b'\n' {
                        if let Some(m) = matched(&re, &line) {
                            return Ok(m);
                        }
                        line.clear();
                    } else {
                        line.push(b);
                        if line.len() > MAX_LINE {
                            line.drain(..MAX_LINE / 2);
                        }
                    }
                }
                // A prompt without a newline matches too.
                if got > 0 {
                    if let Some(m) = matched(&re, &line) {
                        return Ok(m);
                    }
                }
            }
            if got > 0 {
                continue;
            }
            if last_check.elapsed() >= Duration::from_millis(250) {
                last_check = Instant::now();
                // Liveness from /proc only: asking QEMU (QMP) four times a second would take
                // CPU from the guest it waits for.
                let rec = self.record(id)?;
                if !self.is_alive(&rec) && !self.starting(&rec) {
                    let status = self.status_of(&rec, self.backend(&rec.spec)?.as_ref());
                    return Err(VmError::BadState {
                        id: id.to_string(),
                        status,
                        action: "vm_wait_console",
                        needs: "running (it ended before the console matched)",
                    });
                }
            }
            if Instant::now() >= deadline {
                return Err(VmError::Host(crate::error::HostError::Timeout(format!(
                    "the console of vm {id} showed no line matching `{pattern}` within {}",
                    crate::exec::fmt_duration(timeout)
                ))));
            }
            host.sleep(Duration::from_millis(5))?;
        }
    }
}

fn matched(re: &regex::Regex, line: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end_matches('\r');
    re.is_match(text).then(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_lines_match_without_carriage_returns() {
        let re = regex::Regex::new("^READY$").unwrap();
        assert_eq!(matched(&re, b"READY\r"), Some("READY".to_string()));
        assert_eq!(matched(&re, b"NOT READY"), None);
    }
}
