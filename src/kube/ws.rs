//! The websocket side of exec and port-forward: RFC 6455 frames (encoded and decoded here,
//! tested as tables) and the Kubernetes channel protocols on top of them.
//!
//! Exec (`v5.channel.k8s.io`, falling back to `v4.channel.k8s.io` when the server picks it, as
//! kubectl 1.32 and kube-rs do): every binary message is one channel byte and data; 0 stdin,
//! 1 stdout, 2 stderr, 3 the final Status (JSON), 4 terminal resize, and in v5 only 255 closes a
//! stream (`[255, 0]` closes stdin). Port-forward (`v4.channel.k8s.io`): two channels per port
//! (data, error), each opened by the server with the port number as two little-endian bytes.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::error::{KubeError, Result};

pub const OP_CONT: u8 = 0x0;
pub const OP_TEXT: u8 = 0x1;
pub const OP_BINARY: u8 = 0x2;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

/// The exec subprotocols herodo offers, preferred first.
pub const EXEC_PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];
/// The port-forward subprotocol.
pub const PORTFORWARD_PROTOCOL: &str = "v4.channel.k8s.io";

/// Channels of the exec protocol.
pub const CH_STDIN: u8 = 0;
pub const CH_STDOUT: u8 = 1;
pub const CH_STDERR: u8 = 2;
pub const CH_STATUS: u8 = 3;
pub const CH_RESIZE: u8 = 4;
pub const CH_CLOSE: u8 = 255;

/// The largest message herodo accepts (a log line or an output chunk is far smaller).
const MAX_MESSAGE: usize = 64 << 20;
/// Stdin goes out in messages of at most this size.
pub const CHUNK: usize = 32 * 1024;

/// One decoded frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub opcode: u8,
    pub payload: Vec<u8>,
}

/// A client frame (clients must mask: RFC 6455 5.3).
pub fn encode(opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(0x80 | (opcode & 0x0f));
    let n = payload.len();
    if n < 126 {
        out.push(0x80 | n as u8);
    } else if n <= 0xffff {
        out.push(0x80 | 126);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(n as u64).to_be_bytes());
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// The first frame in `buf` and how many bytes it took, or None when `buf` holds only part
/// of it. Masked frames (which servers must not send) are unmasked all the same.
pub fn decode(buf: &[u8]) -> Result<Option<(Frame, usize)>> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let fin = buf[0] & 0x80 != 0;
    if buf[0] & 0x70 != 0 {
        return Err(protocol(
            "a frame with reserved bits set (no extension was negotiated)",
        ));
    }
    let opcode = buf[0] & 0x0f;
    let masked = buf[1] & 0x80 != 0;
    let (len, mut at) = match buf[1] & 0x7f {
        126 => {
            if buf.len() < 4 {
                return Ok(None);
            }
            (u16::from_be_bytes([buf[2], buf[3]]) as u64, 4)
        }
        127 => {
            if buf.len() < 10 {
                return Ok(None);
            }
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[2..10]);
            (u64::from_be_bytes(b), 10)
        }
        n => (u64::from(n), 2),
    };
    if len > MAX_MESSAGE as u64 {
        return Err(protocol(&format!("a frame of {len} bytes")));
    }
    let len = len as usize;
    let mask = if masked {
        if buf.len() < at + 4 {
            return Ok(None);
        }
        let m = [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]];
        at += 4;
        Some(m)
    } else {
        None
    };
    if buf.len() < at + len {
        return Ok(None);
    }
    let mut payload = buf[at..at + len].to_vec();
    if let Some(m) = mask {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= m[i % 4];
        }
    }
    Ok(Some((
        Frame {
            fin,
            opcode,
            payload,
        },
        at + len,
    )))
}

fn protocol(what: &str) -> KubeError {
    KubeError::Other(format!("websocket: the server sent {what}"))
}

/// Bytes that need not be secret, only different each time (websocket keys and masks: the
/// connection is TLS already).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut out = [0u8; N];
    for chunk in out.chunks_mut(8) {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        let v = h.finish().to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
    out
}

/// A message: a whole (reassembled) data frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Binary(Vec<u8>),
    Text(Vec<u8>),
    /// The peer closed (code, reason).
    Close(Option<u16>, String),
}

/// The reading half of a websocket.
pub struct WsReader<R> {
    io: R,
    buf: Vec<u8>,
    /// A fragmented message being reassembled (kept across a ping between its frames).
    partial: Option<(u8, Vec<u8>)>,
}

impl<R: AsyncRead + Unpin> WsReader<R> {
    pub fn new(io: R, already_read: Vec<u8>) -> Self {
        WsReader {
            io,
            buf: already_read,
            partial: None,
        }
    }

    async fn frame(&mut self) -> Result<Option<Frame>> {
        loop {
            if let Some((f, used)) = decode(&self.buf)? {
                self.buf.drain(..used);
                return Ok(Some(f));
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = self
                .io
                .read(&mut chunk)
                .await
                .map_err(|e| KubeError::Other(format!("websocket: {e}")))?;
            if n == 0 {
                return Ok(None);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// The next message; pings are answered by the caller through `pong` (returned as
    /// `Ok(Err(payload))`). None when the connection ended without a close frame.
    pub async fn next(&mut self) -> Result<Option<std::result::Result<Message, Vec<u8>>>> {
        loop {
            let Some(f) = self.frame().await? else {
                return Ok(None);
            };
            match f.opcode {
                OP_PING => return Ok(Some(Err(f.payload))),
                OP_PONG => continue,
                OP_CLOSE => {
                    let code = (f.payload.len() >= 2)
                        .then(|| u16::from_be_bytes([f.payload[0], f.payload[1]]));
                    let reason = String::from_utf8_lossy(f.payload.get(2..).unwrap_or_default())
                        .into_owned();
                    return Ok(Some(Ok(Message::Close(code, reason))));
                }
                OP_TEXT | OP_BINARY => {
                    if self.partial.is_some() {
                        return Err(protocol("a new message inside a fragmented one"));
                    }
                    self.partial = Some((f.opcode, f.payload));
                }
                OP_CONT => match self.partial.as_mut() {
                    Some((_, d)) => {
                        if d.len() + f.payload.len() > MAX_MESSAGE {
                            return Err(protocol("a message larger than 64 MiB"));
                        }
                        d.extend_from_slice(&f.payload)
                    }
                    None => return Err(protocol("a continuation without a message")),
                },
                other => return Err(protocol(&format!("an unknown opcode {other}"))),
            }
            if f.fin {
                if let Some((op, d)) = self.partial.take() {
                    return Ok(Some(Ok(if op == OP_TEXT {
                        Message::Text(d)
                    } else {
                        Message::Binary(d)
                    })));
                }
            }
        }
    }
}

/// The writing half of a websocket (client side: every frame masked).
pub struct WsWriter<W> {
    io: W,
}

impl<W: AsyncWrite + Unpin> WsWriter<W> {
    pub fn new(io: W) -> Self {
        WsWriter { io }
    }

    pub async fn send(&mut self, opcode: u8, payload: &[u8]) -> Result<()> {
        let frame = encode(opcode, payload, random_bytes::<4>());
        self.io
            .write_all(&frame)
            .await
            .map_err(|e| KubeError::Other(format!("websocket: {e}")))?;
        self.io
            .flush()
            .await
            .map_err(|e| KubeError::Other(format!("websocket: {e}")))
    }

    /// One message on a channel: the channel byte, then `data`.
    pub async fn channel(&mut self, ch: u8, data: &[u8]) -> Result<()> {
        let mut m = Vec::with_capacity(data.len() + 1);
        m.push(ch);
        m.extend_from_slice(data);
        self.send(OP_BINARY, &m).await
    }

    pub async fn close(&mut self) -> Result<()> {
        self.send(OP_CLOSE, &1000u16.to_be_bytes()).await
    }
}

/// How an exec ended, from the Status on channel 3.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExecEnd {
    /// The command ran and exited with this code.
    Exited(i32),
    /// It could not run: the runtime's or the kubelet's reason (the container is not running,
    /// the command does not exist, ...).
    Error {
        code: u16,
        reason: String,
        message: String,
    },
}

/// Read the exec Status: `Success`, `NonZeroExitCode` with the code in `details.causes`, or a
/// failure of the runtime (kubelet/CRI), `InternalError` with code 500.
pub fn exec_end(status: &Value) -> ExecEnd {
    if status["status"] == "Success" {
        return ExecEnd::Exited(0);
    }
    if status["reason"] == "NonZeroExitCode" {
        let code = status["details"]["causes"]
            .as_array()
            .and_then(|cs| {
                cs.iter()
                    .find(|c| c["reason"] == "ExitCode")
                    .and_then(|c| c["message"].as_str())
                    .and_then(|m| m.trim().parse::<i32>().ok())
            })
            .unwrap_or(1);
        return ExecEnd::Exited(code);
    }
    ExecEnd::Error {
        code: status["code"].as_u64().unwrap_or(500) as u16,
        reason: status["reason"]
            .as_str()
            .unwrap_or("InternalError")
            .to_string(),
        message: status["message"]
            .as_str()
            .unwrap_or("the exec failed without a reason")
            .to_string(),
    }
}

/// What a runtime failure of an exec means for scripts: the container does not run, the
/// command is not in the image, or something else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecFailure {
    NotRunning,
    CommandNotFound,
    Other,
}

pub fn classify_exec_failure(message: &str) -> ExecFailure {
    let m = message.to_ascii_lowercase();
    if m.contains("container not found")
        || m.contains("does not have a host assigned")
        || m.contains("is not running")
        || m.contains("cannot exec in a stopped")
        || m.contains("container is in creating state")
    {
        ExecFailure::NotRunning
    } else if m.contains("executable file not found") || m.contains("no such file or directory") {
        ExecFailure::CommandNotFound
    } else {
        ExecFailure::Other
    }
}

/// A query string value, percent-encoded (RFC 3986 unreserved characters kept).
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The query of an exec request: one `command` per argument, in order.
pub fn exec_query(argv: &[String], container: Option<&str>, stdin: bool, tty: bool) -> String {
    let mut q: Vec<String> = argv
        .iter()
        .map(|a| format!("command={}", query_escape(a)))
        .collect();
    if let Some(c) = container {
        q.push(format!("container={}", query_escape(c)));
    }
    if stdin {
        q.push("stdin=true".into());
    }
    q.push("stdout=true".into());
    // With a terminal, stderr is merged into stdout and must not be asked for.
    if tty {
        q.push("tty=true".into());
    } else {
        q.push("stderr=true".into());
    }
    q.join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unmasked(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![(if fin { 0x80 } else { 0 }) | opcode];
        let n = payload.len();
        if n < 126 {
            out.push(n as u8);
        } else if n <= 0xffff {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn frames_round_trip_at_every_length_class() {
        for n in [0usize, 1, 125, 126, 127, 65535, 65536, 70000] {
            let payload: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
            let enc = encode(OP_BINARY, &payload, [1, 2, 3, 4]);
            // Masked on the wire.
            assert_eq!(enc[1] & 0x80, 0x80, "{n}");
            let (f, used) = decode(&enc).unwrap().unwrap();
            assert_eq!(used, enc.len(), "{n}");
            assert_eq!(f.payload, payload, "{n}");
            assert!(f.fin);
            assert_eq!(f.opcode, OP_BINARY);
            // Every prefix is incomplete, never an error.
            for cut in [0, 1, enc.len() / 2, enc.len() - 1] {
                assert_eq!(decode(&enc[..cut]).unwrap(), None, "{n} cut {cut}");
            }
        }
    }

    #[test]
    fn recorded_server_frames_decode() {
        // exec.json: `[ch1 "hi\n"]`, the Success status on channel 3, close 1000.
        let table: [(&str, u8, &[u8]); 3] = [
            ("82040168690a", OP_BINARY, b"\x01hi\n"),
            (
                "822303",
                OP_BINARY,
                b"\x03{\"metadata\":{},\"status\":\"Success\"}",
            ),
            ("880203e8", OP_CLOSE, b"\x03\xe8"),
        ];
        for (hex_prefix, op, payload) in table {
            let mut wire = unmasked(op, true, payload);
            let want_prefix: Vec<u8> = (0..hex_prefix.len() / 2)
                .map(|i| u8::from_str_radix(&hex_prefix[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            assert!(wire.starts_with(&want_prefix), "{hex_prefix}");
            wire.extend_from_slice(b"rest");
            let (f, used) = decode(&wire).unwrap().unwrap();
            assert_eq!((f.opcode, f.payload.as_slice()), (op, payload));
            assert_eq!(&wire[used..], b"rest");
        }
        assert!(decode(&[0xC2, 0x00]).is_err(), "reserved bit");
    }

    #[tokio::test]
    async fn reader_reassembles_fragments_and_reports_pings_and_close() {
        let mut wire = unmasked(OP_BINARY, false, b"\x01hel");
        wire.extend(unmasked(OP_PING, true, b"p"));
        wire.extend(unmasked(OP_CONT, true, b"lo"));
        wire.extend(unmasked(OP_CLOSE, true, b"\x03\xe8bye"));
        let mut r = WsReader::new(&wire[..], Vec::new());
        assert_eq!(r.next().await.unwrap(), Some(Err(b"p".to_vec())));
        assert_eq!(
            r.next().await.unwrap(),
            Some(Ok(Message::Binary(b"\x01hello".to_vec())))
        );
        assert_eq!(
            r.next().await.unwrap(),
            Some(Ok(Message::Close(Some(1000), "bye".into())))
        );
        assert_eq!(r.next().await.unwrap(), None);
    }

    #[tokio::test]
    async fn writer_sends_masked_channel_messages() {
        let mut out = Vec::new();
        WsWriter::new(&mut out)
            .channel(CH_CLOSE, &[CH_STDIN])
            .await
            .unwrap();
        let (f, _) = decode(&out).unwrap().unwrap();
        assert_eq!(f.payload, vec![255, 0]);
        assert_eq!(out[1], 0x82);
    }

    #[test]
    fn exec_status_table() {
        use serde_json::json;
        let table = [
            (json!({"metadata": {}, "status": "Success"}), ExecEnd::Exited(0)),
            (
                json!({"metadata": {}, "status": "Failure",
                   "message": "command terminated with non-zero exit code: command terminated with exit code 3",
                   "reason": "NonZeroExitCode",
                   "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}}),
                ExecEnd::Exited(3),
            ),
            (
                json!({"metadata": {}, "status": "Failure",
                   "message": "Internal error occurred: unable to upgrade connection: container not found (\"main\")",
                   "reason": "InternalError", "code": 500}),
                ExecEnd::Error {
                    code: 500,
                    reason: "InternalError".into(),
                    message: "Internal error occurred: unable to upgrade connection: container not found (\"main\")".into(),
                },
            ),
        ];
        for (status, want) in table {
            assert_eq!(exec_end(&status), want, "{status}");
        }
        let failures = [
            ("Internal error occurred: unable to upgrade connection: container not found (\"main\")", ExecFailure::NotRunning),
            ("pod web does not have a host assigned", ExecFailure::NotRunning),
            ("OCI runtime exec failed: exec failed: unable to start container process: exec: \"no-such-binary\": executable file not found in $PATH: unknown", ExecFailure::CommandNotFound),
            ("args must not be empty", ExecFailure::Other),
        ];
        for (m, want) in failures {
            assert_eq!(classify_exec_failure(m), want, "{m}");
        }
    }

    #[test]
    fn exec_queries() {
        let argv: Vec<String> = ["sh", "-c", "echo a b; exit 3"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            exec_query(&argv, Some("main"), false, false),
            "command=sh&command=-c&command=echo%20a%20b%3B%20exit%203&container=main&stdout=true&stderr=true"
        );
        assert_eq!(
            exec_query(&argv[..1], None, true, true),
            "command=sh&stdin=true&stdout=true&tty=true"
        );
    }
}
