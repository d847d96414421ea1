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
        let mut follow = Follow::new(&re);
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
                    follow.restart();
                }
                got = f
                    .read(&mut buf)
                    .map_err(|e| VmError::io("read", &path, e))?;
                if let Some(m) = follow.feed(&buf[..got], Instant::now()) {
                    return Ok(m);
                }
            }
            if got > 0 {
                continue;
            }
            if let Some(m) = follow.prompt(Instant::now()) {
                return Ok(m);
            }
            if last_check.elapsed() >= Duration::from_millis(250) {
                last_check = Instant::now();
                // Liveness from /proc only: asking QEMU (QMP) four times a second would take
                // CPU from the guest it waits for.
                let rec = self.record(id)?;
                if !self.is_alive(&rec) && !self.starting(&rec) {
                    // Nothing more comes: an unfinished last line that matches is the answer.
                    if let Some(m) = follow.unfinished() {
                        return Ok(m);
                    }
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
                if let Some(m) = follow.unfinished() {
                    return Ok(m);
                }
                return Err(VmError::Host(crate::error::HostError::Timeout(format!(
                    "the console of vm {id} showed no line matching `{pattern}` within {}",
                    crate::exec::fmt_duration(timeout)
                ))));
            }
            host.sleep(Duration::from_millis(5))?;
        }
    }
}

/// How long the console must stay quiet before an unfinished last line that matches (a prompt,
/// which has no newline) is the answer: a line the guest is still writing (a serial console
/// writes a few bytes at a time) is never returned cut short.
const PROMPT_QUIET: Duration = Duration::from_millis(500);

/// The console's lines as they arrive, matched against a pattern.
struct Follow<'a> {
    re: &'a regex::Regex,
    /// The unfinished last line.
    line: Vec<u8>,
    /// When the console last grew.
    grew: Option<Instant>,
}

impl<'a> Follow<'a> {
    fn new(re: &'a regex::Regex) -> Self {
        Follow {
            re,
            line: Vec::new(),
            grew: None,
        }
    }

    /// The console was truncated (a restart): start over.
    fn restart(&mut self) {
        self.line.clear();
        self.grew = None;
    }

    /// Take `bytes` read at `now`; the first complete line that matches.
    fn feed(&mut self, bytes: &[u8], now: Instant) -> Option<String> {
        if bytes.is_empty() {
            return None;
        }
        self.grew = Some(now);
        for &b in bytes {
            if b == b'\n' {
                if let Some(m) = matched(self.re, &self.line) {
                    return Some(m);
                }
                self.line.clear();
            } else {
                self.line.push(b);
                if self.line.len() > MAX_LINE {
                    self.line.drain(..MAX_LINE / 2);
                }
            }
        }
        None
    }

    /// The unfinished last line, when it matches and nothing came for [`PROMPT_QUIET`].
    fn prompt(&self, now: Instant) -> Option<String> {
        let quiet = now.saturating_duration_since(self.grew?) >= PROMPT_QUIET;
        quiet.then(|| self.unfinished()).flatten()
    }

    /// The unfinished last line, when it matches (nothing more will come).
    fn unfinished(&self) -> Option<String> {
        if self.line.is_empty() {
            return None;
        }
        matched(self.re, &self.line)
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
    fn a_line_being_written_is_never_returned_cut_short() {
        let re = regex::Regex::new("HERODO_DISK_BEFORE").unwrap();
        let mut f = Follow::new(&re);
        let t0 = Instant::now();
        // The serial console wrote half the line (CI caught a cut answer "...=[hero").
        assert_eq!(f.feed(b"boot\nHERODO_DISK_BEFORE=[hero", t0), None);
        assert_eq!(f.prompt(t0 + Duration::from_millis(100)), None);
        assert_eq!(
            f.feed(b"do-disk-ok]\r\nmore", t0 + Duration::from_millis(150)),
            Some("HERODO_DISK_BEFORE=[herodo-disk-ok]".to_string())
        );
        // A prompt (no newline) is the answer once the console stays quiet.
        let re = regex::Regex::new("login: $").unwrap();
        let mut f = Follow::new(&re);
        assert_eq!(f.feed(b"Debian\nhost login: ", t0), None);
        assert_eq!(f.prompt(t0 + Duration::from_millis(100)), None);
        assert_eq!(
            f.prompt(t0 + PROMPT_QUIET),
            Some("host login: ".to_string())
        );
        // ... or when nothing more can come (the VM ended, the time is up).
        assert_eq!(f.unfinished(), Some("host login: ".to_string()));
        f.restart();
        assert_eq!(f.unfinished(), None);
        assert_eq!(f.prompt(t0 + PROMPT_QUIET * 2), None);
    }

    #[test]
    fn console_lines_match_without_carriage_returns() {
        let re = regex::Regex::new("^READY$").unwrap();
        assert_eq!(matched(&re, b"READY\r"), Some("READY".to_string()));
        assert_eq!(matched(&re, b"NOT READY"), None);
    }
}
