//! A minimal QMP client (QEMU's JSON monitor protocol) over a unix socket: read the greeting,
//! negotiate capabilities, run one command at a time, skip the asynchronous events that
//! arrive in between. Line parsing is pure and tested on a captured real session.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::super::error::{Result, VmError};

/// One line QEMU sent.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Greeting,
    Return(Value),
    Error { class: String, desc: String },
    Event(String),
}

/// Parse one line of QMP output.
pub fn parse_line(line: &str) -> std::result::Result<Reply, String> {
    let v: Value = serde_json::from_str(line.trim()).map_err(|e| format!("{e}: {line:?}"))?;
    if let Some(r) = v.get("return") {
        return Ok(Reply::Return(r.clone()));
    }
    if let Some(e) = v.get("error") {
        let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        return Ok(Reply::Error {
            class: s("class"),
            desc: s("desc"),
        });
    }
    if let Some(ev) = v.get("event").and_then(Value::as_str) {
        return Ok(Reply::Event(ev.to_string()));
    }
    if v.get("QMP").is_some() {
        return Ok(Reply::Greeting);
    }
    Err(format!("not a QMP message: {line:?}"))
}

/// The line that runs `command` (no arguments).
pub fn command_line(command: &str) -> String {
    command_line_with(command, None)
}

/// The line that runs `command` with `arguments`.
pub fn command_line_with(command: &str, arguments: Option<&Value>) -> String {
    let mut v = serde_json::json!({ "execute": command });
    if let Some(a) = arguments {
        v["arguments"] = a.clone();
    }
    let mut s = v.to_string();
    s.push('\n');
    s
}

/// The VM status a `query-status` return means: `running`, `paused`, `stopped` (the guest
/// shut down) or `crashed` (a guest panic, an emulation error).
pub fn status_of(ret: &Value) -> std::result::Result<&'static str, String> {
    let st = ret
        .get("status")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("no status in {ret}"))?;
    Ok(match st {
        // Not running guest code: paused by a script, or before, during or after saving or
        // loading its state.
        "paused" | "suspended" | "postmigrate" | "prelaunch" | "inmigrate" | "finish-migrate"
        | "save-vm" | "restore-vm" => "paused",
        "shutdown" => "stopped",
        "guest-panicked" | "internal-error" | "io-error" => "crashed",
        _ => "running",
    })
}

/// A negotiated QMP connection.
pub struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    socket: String,
}

impl Qmp {
    /// Connect, read the greeting and leave capabilities negotiation mode. Every read and
    /// write gives up after `timeout`.
    pub fn connect(socket: &Path, timeout: Duration) -> Result<Qmp> {
        let shown = socket.display().to_string();
        let err = |reason: String| VmError::Qmp {
            socket: shown.clone(),
            reason,
        };
        let stream = UnixStream::connect(socket).map_err(|e| err(format!("connect: {e}")))?;
        stream
            .set_read_timeout(Some(timeout))
            .and_then(|_| stream.set_write_timeout(Some(timeout)))
            .map_err(|e| err(e.to_string()))?;
        let writer = stream.try_clone().map_err(|e| err(e.to_string()))?;
        let mut q = Qmp {
            reader: BufReader::new(stream),
            writer,
            socket: shown.clone(),
        };
        match q.read()? {
            Reply::Greeting => {}
            other => return Err(err(format!("expected the greeting, got {other:?}"))),
        }
        q.execute("qmp_capabilities")?;
        Ok(q)
    }

    fn err(&self, reason: impl Into<String>) -> VmError {
        VmError::Qmp {
            socket: self.socket.clone(),
            reason: reason.into(),
        }
    }

    fn read(&mut self) -> Result<Reply> {
        let mut line = String::new();
        let n = self
            .reader
            .read_line(&mut line)
            .map_err(|e| self.err(format!("read: {e}")))?;
        if n == 0 {
            return Err(self.err("QEMU closed the connection"));
        }
        parse_line(&line).map_err(|e| self.err(e))
    }

    /// Run `command`; its `return` value, or an error with QEMU's class and description.
    pub fn execute(&mut self, command: &str) -> Result<Value> {
        self.execute_with(command, None)
    }

    /// Run `command` with `arguments`.
    pub fn execute_with(&mut self, command: &str, arguments: Option<&Value>) -> Result<Value> {
        self.writer
            .write_all(command_line_with(command, arguments).as_bytes())
            .map_err(|e| self.err(format!("write: {e}")))?;
        loop {
            match self.read()? {
                Reply::Return(v) => return Ok(v),
                Reply::Error { class, desc } => {
                    return Err(self.err(format!("{command}: {class}: {desc}")))
                }
                Reply::Event(_) | Reply::Greeting => continue,
            }
        }
    }

    /// `execute("quit")`, where QEMU closing the connection at once also counts as done.
    pub fn quit(&mut self) -> Result<()> {
        match self.execute("quit") {
            Ok(_) => Ok(()),
            Err(VmError::Qmp { reason, .. })
                if reason.contains("closed") || reason.contains("reset") =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Vec<String> {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vm/qmp_session.txt");
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("> ") && l.starts_with('{'))
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn a_real_session_parses() {
        let replies: Vec<Reply> = session().iter().map(|l| parse_line(l).unwrap()).collect();
        assert_eq!(replies[0], Reply::Greeting);
        assert_eq!(replies[1], Reply::Return(serde_json::json!({})));
        let statuses: Vec<&str> = replies
            .iter()
            .filter_map(|r| match r {
                Reply::Return(v) if v.get("status").is_some() => status_of(v).ok(),
                _ => None,
            })
            .collect();
        assert_eq!(statuses, ["running", "paused", "running"]);
        let events: Vec<&str> = replies
            .iter()
            .filter_map(|r| match r {
                Reply::Event(e) => Some(e.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(events, ["STOP", "RESUME", "SHUTDOWN"]);
        assert!(replies.iter().any(|r| matches!(r,
            Reply::Error { class, desc } if class == "CommandNotFound" && desc.contains("no-such-command"))));
        assert!(parse_line("not json").is_err());
        assert!(parse_line("{\"x\": 1}").is_err());
        assert_eq!(
            command_line("query-status"),
            "{\"execute\":\"query-status\"}\n"
        );
        assert_eq!(
            status_of(&serde_json::json!({"status": "guest-panicked", "running": false})),
            Ok("crashed")
        );
        assert_eq!(
            status_of(&serde_json::json!({"status": "postmigrate", "running": false})),
            Ok("paused")
        );
    }
}
