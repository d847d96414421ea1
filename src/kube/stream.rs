//! Talking to running pods: logs (whole or followed line by line), exec over the websocket
//! channel protocol, and port-forwards that listen on 127.0.0.1 until closed.
//!
//! Exec runs on the blocking facade's runtime like every other call. A port-forward must keep
//! serving while the script goes on, so it gets a thread with its own runtime and its own
//! client (made from the same configuration): the facade's runtime only runs inside a call.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ::kube::api::{Api, LogParams};
use futures_util::AsyncBufReadExt;
use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::error::{KubeError, Result};
use super::ws::{self, Message, WsReader, WsWriter};
use super::Cluster;

type Io = hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>;
type Reader = WsReader<tokio::io::ReadHalf<Io>>;
type Writer = WsWriter<tokio::io::WriteHalf<Io>>;

/// What `pod_logs` asks for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogOptions {
    pub container: Option<String>,
    pub tail: Option<i64>,
    pub since_seconds: Option<i64>,
    pub timestamps: bool,
    pub previous: bool,
    pub limit_bytes: Option<i64>,
}

impl LogOptions {
    fn params(&self, follow: bool) -> LogParams {
        LogParams {
            container: self.container.clone(),
            follow,
            limit_bytes: self.limit_bytes,
            previous: self.previous,
            since_seconds: self.since_seconds,
            tail_lines: self.tail,
            timestamps: self.timestamps,
            ..LogParams::default()
        }
    }
}

/// What `pod_exec` sends.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExecRequest {
    pub argv: Vec<String>,
    pub container: Option<String>,
    pub stdin: Option<Vec<u8>>,
    pub tty: bool,
}

/// What an exec produced.
#[derive(Clone, Debug, PartialEq)]
pub struct ExecOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub end: ws::ExecEnd,
    /// The subprotocol the server picked.
    pub protocol: String,
    pub duration: Duration,
}

/// Open a websocket on `path_query` offering `protocols`; the server's refusal (a Status
/// before any upgrade) becomes the usual API error.
async fn upgrade(
    client: &::kube::Client,
    path_query: &str,
    protocols: &[&str],
) -> std::result::Result<(Reader, Writer, String), ::kube::Error> {
    use http::header;
    let key = serde_json::to_value(k8s_openapi::ByteString(ws::random_bytes::<16>().to_vec()))
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "dGhlIHNhbXBsZSBub25jZQ==".into());
    let req = http::Request::get(path_query)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_VERSION, "13")
        .header(header::SEC_WEBSOCKET_KEY, key)
        .header(header::SEC_WEBSOCKET_PROTOCOL, protocols.join(", "))
        .body(::kube::client::Body::from(Vec::new()))
        .map_err(::kube::Error::HttpError)?;
    let res = client.send(req).await?;
    let status = res.status();
    if status != http::StatusCode::SWITCHING_PROTOCOLS {
        let body = res.into_body().collect_bytes().await.unwrap_or_default();
        let text = String::from_utf8_lossy(&body).trim().to_string();
        let s = match serde_json::from_str::<::kube::core::Status>(&text) {
            Ok(s) if s.code != 0 => s,
            _ => {
                let mut s = ::kube::core::Status::failure(
                    &text,
                    status.canonical_reason().unwrap_or("Failure"),
                );
                s.code = status.as_u16();
                s
            }
        };
        return Err(::kube::Error::Api(Box::new(s)));
    }
    let protocol = res
        .headers()
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let upgraded = hyper::upgrade::on(res)
        .await
        .map_err(::kube::Error::HyperError)?;
    let (r, w) = tokio::io::split(hyper_util::rt::TokioIo::new(upgraded));
    Ok((WsReader::new(r, Vec::new()), WsWriter::new(w), protocol))
}

fn pod_path(ns: &str, name: &str, sub: &str) -> String {
    format!("/api/v1/namespaces/{ns}/pods/{name}/{sub}")
}

impl Cluster {
    /// The pod and port a forward to `target` (`NAME`, `pod/NAME`, `svc/NAME`,
    /// `service/NAME`) reaches: a service's port goes to its target port (named ports too) on
    /// a running pod it selects.
    pub fn forward_target(&self, ns: &str, target: &str, port: i64) -> Result<(String, u16)> {
        let port_u16 = |p: i64, field: &str| -> Result<u16> {
            super::manager::check_port(field, p)?;
            Ok(p as u16)
        };
        let (kind, name) = match target.split_once('/') {
            Some(("pod" | "pods" | "po", n)) => ("pod", n),
            Some(("svc" | "service" | "services", n)) => ("service", n),
            Some((other, _)) => {
                return Err(KubeError::invalid(
                    "target",
                    format!(
                        "{other:?} is not pod/ or svc/ (forward to `NAME`, `pod/NAME` or \
                         `svc/NAME`)"
                    ),
                ))
            }
            None => ("pod", target),
        };
        super::resource::check_name("target", name)?;
        if kind == "pod" {
            return Ok((name.to_string(), port_u16(port, "remote_port")?));
        }
        let pods =
            super::resource::builtin("Pod").ok_or_else(|| KubeError::invalid("kind", "Pod"))?;
        let svcs = super::resource::builtin("Service")
            .ok_or_else(|| KubeError::invalid("kind", "Service"))?;
        let svc = self.get(&svcs, ns, name)?;
        let sp = svc["spec"]["ports"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["port"].as_i64() == Some(port)))
            .cloned()
            .ok_or_else(|| {
                KubeError::invalid("remote_port", format!("service {name} has no port {port}"))
            })?;
        let selector = svc["spec"]["selector"]
            .as_object()
            .filter(|m| !m.is_empty())
            .ok_or_else(|| KubeError::invalid("target", format!("service {name} selects no pods")))?
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(",");
        let lp = ::kube::api::ListParams::default().labels(&selector);
        let candidates = self.list(&pods, Some(ns), &lp)?;
        let pod = candidates
            .iter()
            .find(|p| {
                p["status"]["phase"] == "Running" && p["metadata"]["deletionTimestamp"].is_null()
            })
            .ok_or_else(|| KubeError::Workload {
                kind: crate::error::kind::NOT_RUNNING,
                message: format!("service {ns}/{name} has no running pod to forward to"),
                logs: String::new(),
            })?;
        let target_port = match &sp["targetPort"] {
            Value::Number(n) => n.as_i64().unwrap_or(port),
            Value::String(named) => pod["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|c| c["ports"].as_array().into_iter().flatten())
                .find(|p| p["name"] == named.as_str())
                .and_then(|p| p["containerPort"].as_i64())
                .ok_or_else(|| {
                    KubeError::invalid("remote_port", format!("no container port is named {named}"))
                })?,
            _ => port,
        };
        Ok((
            pod["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            port_u16(target_port, "remote_port")?,
        ))
    }

    fn pods(&self, ns: &str) -> Api<Pod> {
        Api::namespaced(self.client.clone(), ns)
    }

    /// A pod's log as one string (the whole of it, or what `opts` picks).
    pub fn logs(&self, ns: &str, name: &str, opts: &LogOptions) -> Result<String> {
        let api = self.pods(ns);
        let lp = opts.params(false);
        self.call(&format!("logs of pod {name}"), || api.logs(name, &lp))
    }

    /// Follow a pod's log: `f` gets each line (without its newline) until it returns false or
    /// the server ends the stream (the container stopped). Returns the number of lines.
    pub fn follow_logs(
        &self,
        ns: &str,
        name: &str,
        opts: &LogOptions,
        mut f: impl FnMut(String) -> std::result::Result<bool, KubeError>,
    ) -> Result<u64> {
        let api = self.pods(ns);
        let lp = opts.params(true);
        let stream = self.call(&format!("logs of pod {name}"), || api.log_stream(name, &lp))?;
        let mut stream = Box::pin(stream);
        let mut n = 0;
        loop {
            let mut line = Vec::new();
            let read = self.rt.block(&self.cancel, async {
                stream
                    .read_until(b'\n', &mut line)
                    .await
                    .map_err(|e| KubeError::Other(format!("reading the log of pod {name}: {e}")))
            })?;
            if read == 0 {
                return Ok(n);
            }
            if line.ends_with(b"\n") {
                line.pop();
            }
            n += 1;
            if !f(String::from_utf8_lossy(&line).into_owned())? {
                return Ok(n);
            }
        }
    }

    /// Run `req.argv` in a container of the pod, within `timeout`.
    pub fn exec(
        &self,
        ns: &str,
        name: &str,
        req: &ExecRequest,
        timeout: Duration,
    ) -> Result<ExecOutput> {
        if req.argv.is_empty() {
            return Err(KubeError::invalid("argv", "is empty"));
        }
        let path = format!(
            "{}?{}",
            pod_path(ns, name, "exec"),
            ws::exec_query(
                &req.argv,
                req.container.as_deref(),
                req.stdin.is_some(),
                req.tty
            )
        );
        let what = format!("exec in pod {ns}/{name}");
        self.rt.block(&self.cancel, async {
            match tokio::time::timeout(timeout, self.exec_async(&path, req)).await {
                Ok(r) => r,
                Err(_) => Err(KubeError::Timeout {
                    what,
                    secs: timeout.as_secs(),
                }),
            }
        })
    }

    async fn exec_async(&self, path: &str, req: &ExecRequest) -> Result<ExecOutput> {
        let start = Instant::now();
        let (mut rd, mut wr, protocol) = upgrade(&self.client, path, &ws::EXEC_PROTOCOLS)
            .await
            .map_err(|e| self.convert(e))?;
        let v5 = protocol == ws::EXEC_PROTOCOLS[0];
        if req.tty {
            wr.channel(ws::CH_RESIZE, br#"{"Width":80,"Height":24}"#)
                .await?;
        }
        // Stdin is written by a task of its own so output is read meanwhile (a command
        // may answer before it has read everything).
        let stdin = req.stdin.clone();
        let mut out = ExecOutput {
            stdout: Vec::new(),
            stderr: Vec::new(),
            end: ws::ExecEnd::Exited(0),
            protocol: protocol.clone(),
            duration: Duration::ZERO,
        };
        let writer = async move {
            if let Some(data) = stdin {
                for chunk in data.chunks(ws::CHUNK) {
                    wr.channel(ws::CH_STDIN, chunk).await?;
                }
                if v5 {
                    wr.channel(ws::CH_CLOSE, &[ws::CH_STDIN]).await?;
                }
            }
            Ok::<_, KubeError>(wr)
        };
        let reader = async {
            let mut status: Option<Value> = None;
            let mut pongs = Vec::new();
            loop {
                match rd.next().await? {
                    None | Some(Ok(Message::Close(..))) => break,
                    Some(Err(ping)) => pongs.push(ping),
                    Some(Ok(Message::Binary(m) | Message::Text(m))) => {
                        let Some((&ch, data)) = m.split_first() else {
                            continue;
                        };
                        match ch {
                            ws::CH_STDOUT => out.stdout.extend_from_slice(data),
                            ws::CH_STDERR => out.stderr.extend_from_slice(data),
                            ws::CH_STATUS if !data.is_empty() => {
                                status = serde_json::from_slice(data).ok();
                            }
                            _ => {}
                        }
                    }
                }
            }
            Ok::<_, KubeError>(status)
        };
        let (w, status) = tokio::join!(writer, reader);
        let status = status?;
        if let Ok(mut wr) = w {
            let _ = wr.close().await;
        }
        out.duration = start.elapsed();
        out.end = match status {
            Some(s) => ws::exec_end(&s),
            None => ws::ExecEnd::Error {
                code: 500,
                reason: "InternalError".into(),
                message: "the connection ended without an exit status".into(),
            },
        };
        Ok(out)
    }

    /// Forward 127.0.0.1:`local_port` (0: a free one) to `remote_port` of the pod, on a thread
    /// of its own, until the handle is closed.
    pub fn port_forward(
        &self,
        ns: &str,
        pod: &str,
        remote_port: u16,
        local_port: u16,
    ) -> Result<Forward> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", local_port)).map_err(|e| {
            KubeError::Other(format!(
                "port-forward: cannot listen on 127.0.0.1:{local_port}: {e}"
            ))
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| KubeError::Other(format!("port-forward: {e}")))?
            .port();
        listener
            .set_nonblocking(true)
            .map_err(|e| KubeError::Other(format!("port-forward: {e}")))?;
        let stop = Arc::new(AtomicBool::new(false));
        let config = self.config.clone();
        let path = format!("{}?ports={remote_port}", pod_path(ns, pod, "portforward"));
        let target = format!("pod {ns}/{pod} port {remote_port}");
        let stop2 = stop.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name(format!("port-forward-{port}"))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("cannot start a runtime: {e}")));
                        return;
                    }
                };
                rt.block_on(async move {
                    let client = match ::kube::Client::try_from(config) {
                        Ok(c) => c,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.to_string()));
                            return;
                        }
                    };
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.to_string()));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    serve(listener, client, path, target, stop2).await;
                });
            })
            .map_err(|e| KubeError::Other(format!("port-forward: cannot start a thread: {e}")))?;
        match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => Ok(Forward {
                local_port: port,
                stop,
            }),
            Ok(Err(e)) => Err(KubeError::Other(format!("port-forward: {e}"))),
            Err(_) => Err(KubeError::Other(
                "port-forward: the forwarder did not start".into(),
            )),
        }
    }
}

/// A running port-forward; it stops when closed (or with the process).
#[derive(Clone, Debug)]
pub struct Forward {
    pub local_port: u16,
    stop: Arc<AtomicBool>,
}

impl Forward {
    pub fn close(&self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop at once.
        let _ = std::net::TcpStream::connect_timeout(
            &std::net::SocketAddr::from(([127, 0, 0, 1], self.local_port)),
            Duration::from_millis(200),
        );
    }

    pub fn is_closed(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

async fn serve(
    listener: tokio::net::TcpListener,
    client: ::kube::Client,
    path: String,
    target: String,
    stop: Arc<AtomicBool>,
) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = async { while !stop.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            } } => break,
        };
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok((tcp, _)) = accepted else { continue };
        let _ = tcp.set_nodelay(true);
        let client = client.clone();
        let path = path.clone();
        let target = target.clone();
        let stop = stop.clone();
        conns.spawn(async move {
            if let Err(e) = forward_one(tcp, &client, &path, &stop).await {
                eprintln!("port-forward to {target}: {e}");
            }
        });
    }
    conns.abort_all();
}

/// One local connection: its own websocket, data both ways until either side ends.
async fn forward_one(
    tcp: tokio::net::TcpStream,
    client: &::kube::Client,
    path: &str,
    stop: &AtomicBool,
) -> std::result::Result<(), String> {
    let (mut rd, mut wr, _) = upgrade(client, path, &[ws::PORTFORWARD_PROTOCOL])
        .await
        .map_err(|e| match e {
            ::kube::Error::Api(s) => s.message,
            other => other.to_string(),
        })?;
    let (mut tr, mut tw) = tcp.into_split();
    let to_pod = async {
        let mut buf = vec![0u8; ws::CHUNK];
        loop {
            let n = tr.read(&mut buf).await.map_err(|e| e.to_string())?;
            if n == 0 || stop.load(Ordering::SeqCst) {
                let _ = wr.close().await;
                return Ok::<(), String>(());
            }
            wr.channel(0, &buf[..n]).await.map_err(|e| e.to_string())?;
        }
    };
    let from_pod = async {
        // The first message on each channel is the port number (2 bytes, little-endian).
        let mut opened = [false, false];
        loop {
            match rd.next().await.map_err(|e| e.to_string())? {
                None | Some(Ok(Message::Close(..))) => {
                    let _ = tw.shutdown().await;
                    return Ok::<(), String>(());
                }
                Some(Err(_ping)) => {}
                Some(Ok(Message::Binary(m) | Message::Text(m))) => {
                    let Some((&ch, data)) = m.split_first() else {
                        continue;
                    };
                    let ch = usize::from(ch);
                    if ch > 1 {
                        continue;
                    }
                    if !opened[ch] {
                        opened[ch] = true;
                        continue;
                    }
                    if ch == 0 {
                        tw.write_all(data).await.map_err(|e| e.to_string())?;
                    } else if !data.is_empty() {
                        let _ = tw.shutdown().await;
                        return Err(String::from_utf8_lossy(data).trim().to_string());
                    }
                }
            }
        }
    };
    // Ends when the pod side ends (the local side ending closes the websocket, which the
    // server answers with a close).
    tokio::pin!(to_pod);
    tokio::pin!(from_pod);
    tokio::select! {
        r = &mut from_pod => r,
        r = &mut to_pod => match r {
            Ok(()) => tokio::time::timeout(Duration::from_secs(5), from_pod)
                .await
                .unwrap_or(Ok(())),
            Err(e) => Err(e),
        },
    }
}
