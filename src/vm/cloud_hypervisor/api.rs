//! Cloud Hypervisor's REST API over its unix socket (`--api-socket path=...`), through the
//! shared client in `common::unix_http`. Every call has a timeout; an error answer (Cloud
//! Hypervisor sends a JSON array of strings, outermost context first) becomes
//! [`VmError::ChApi`] with those strings and a kind scripts can branch on ([`api_kind`]).

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::super::error::{Result, VmError};
use crate::common::unix_http::{UnixHttp, UnixHttpError};
use crate::error::{kind, HostError};

/// How long one ordinary API call may take (CH answers in milliseconds).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Snapshot and restore write or read the guest's whole memory.
pub const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(300);

/// The kind of an error answer: what the strings say, else what the status says.
pub fn api_kind(status: u16, errors: &[String]) -> &'static str {
    let has = |needle: &str| errors.iter().any(|e| e.contains(needle));
    if has("already created") {
        kind::ALREADY_EXISTS
    } else if has("is not created")
        || has("config is missing")
        || has("is not running")
        || has("not paused")
        || has("InvalidStateTransition")
        || has("while VM is running")
    {
        kind::BAD_STATE
    } else if has("No such file or directory") {
        kind::NOT_FOUND
    } else if status == 400
        && (has("Failed to deserialize JSON")
            || has("Failed to validate config")
            || has("not bootable"))
    {
        kind::INVALID_ARGUMENT
    } else {
        kind::CH_API
    }
}

/// An error answer as [`VmError::ChApi`]: the JSON array of strings when the body is one,
/// else the body's text (a proxy, a crashed handler: something other than CH's own errors).
pub fn api_error(endpoint: &str, status: u16, body: &[u8]) -> VmError {
    let errors: Option<Vec<String>> = serde_json::from_slice(body).ok();
    match errors {
        Some(errors) if !errors.is_empty() => VmError::ChApi {
            endpoint: endpoint.to_string(),
            status,
            kind: api_kind(status, &errors),
            message: errors.join(": "),
            errors,
        },
        _ => {
            let text = String::from_utf8_lossy(body);
            let text = crate::exec::tail(text.trim(), 300);
            let message = if text.is_empty() {
                "(empty body)".to_string()
            } else {
                format!("the body is not Cloud Hypervisor's error list: {text}")
            };
            VmError::ChApi {
                endpoint: endpoint.to_string(),
                status,
                kind: kind::CH_API,
                message,
                errors: Vec::new(),
            }
        }
    }
}

fn transport_error(e: UnixHttpError) -> VmError {
    match e {
        UnixHttpError::Timeout { .. } => {
            VmError::Host(HostError::Timeout(format!("cloud-hypervisor: {e}")))
        }
        UnixHttpError::Connect { socket, reason } => VmError::ChUnreachable { socket, reason },
        UnixHttpError::Broken { socket, reason, .. } => VmError::ChUnreachable {
            socket,
            reason: format!("the connection broke ({reason}); did cloud-hypervisor die?"),
        },
    }
}

/// The VM's state as `vm.info` reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct Info {
    /// `Created`, `Running`, `Paused`, `Shutdown`, `BreakPoint`.
    pub state: String,
    pub config: Value,
    pub memory_actual_size: Option<u64>,
}

pub fn parse_info(body: &[u8]) -> std::result::Result<Info, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let state = v
        .get("state")
        .and_then(Value::as_str)
        .ok_or_else(|| "vm.info has no state".to_string())?
        .to_string();
    Ok(Info {
        state,
        config: v.get("config").cloned().unwrap_or(Value::Null),
        memory_actual_size: v.get("memory_actual_size").and_then(Value::as_u64),
    })
}

/// A client for one Cloud Hypervisor process.
pub struct Api {
    http: UnixHttp,
    slow: UnixHttp,
}

impl Api {
    pub fn new(socket: &Path) -> Api {
        Api::with_timeout(socket, CALL_TIMEOUT)
    }

    pub fn with_timeout(socket: &Path, timeout: Duration) -> Api {
        Api {
            http: UnixHttp::new(socket, timeout),
            slow: UnixHttp::new(socket, SNAPSHOT_TIMEOUT.max(timeout)),
        }
    }

    fn call_on(
        http: &UnixHttp,
        method: &str,
        endpoint: &str,
        body: Option<&Value>,
    ) -> Result<Option<Value>> {
        let path = format!("/api/v1/{endpoint}");
        let json = body.map(Value::to_string);
        let r = http
            .request(method, &path, json.as_deref())
            .map_err(transport_error)?;
        if !(200..300).contains(&r.status) {
            return Err(api_error(endpoint, r.status, &r.body));
        }
        if r.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        serde_json::from_slice(&r.body)
            .map(Some)
            .map_err(|e| VmError::parse(format!("cloud-hypervisor {endpoint}"), e))
    }

    /// `GET endpoint`, the JSON answer.
    pub fn get(&self, endpoint: &str) -> Result<Value> {
        Ok(Self::call_on(&self.http, "GET", endpoint, None)?.unwrap_or(Value::Null))
    }

    /// `PUT endpoint` with an optional JSON body; the JSON answer if there is one.
    pub fn put(&self, endpoint: &str, body: Option<&Value>) -> Result<Option<Value>> {
        Self::call_on(&self.http, "PUT", endpoint, body)
    }

    pub fn ping(&self) -> Result<Value> {
        self.get("vmm.ping")
    }

    pub fn info(&self) -> Result<Info> {
        let path = "/api/v1/vm.info";
        let r = self
            .http
            .request("GET", path, None)
            .map_err(transport_error)?;
        if r.status != 200 {
            return Err(api_error("vm.info", r.status, &r.body));
        }
        parse_info(&r.body).map_err(|e| VmError::parse("cloud-hypervisor vm.info", e))
    }

    pub fn create(&self, config: &Value) -> Result<()> {
        self.put("vm.create", Some(config)).map(|_| ())
    }

    /// `vm.boot`, `vm.shutdown`, `vm.pause`, `vm.resume`, `vm.reboot`, `vm.power-button`,
    /// `vm.delete`, `vmm.shutdown`: no body, no answer.
    pub fn action(&self, endpoint: &str) -> Result<()> {
        self.put(endpoint, None).map(|_| ())
    }

    pub fn counters(&self) -> Result<Value> {
        self.get("vm.counters")
    }

    pub fn resize(&self, body: &Value) -> Result<()> {
        self.put("vm.resize", Some(body)).map(|_| ())
    }

    /// Hot-plug a device (`vm.add-disk`, `vm.add-net`, `vm.add-fs`, `vm.add-device`); CH
    /// answers `{id, bdf}` for a running VM and nothing for one not booted yet.
    pub fn add(&self, endpoint: &str, body: &Value) -> Result<Option<Value>> {
        self.put(endpoint, Some(body))
    }

    pub fn remove_device(&self, id: &str) -> Result<()> {
        self.put("vm.remove-device", Some(&serde_json::json!({ "id": id })))
            .map(|_| ())
    }

    pub fn snapshot(&self, dir: &Path) -> Result<()> {
        let body = serde_json::json!({ "destination_url": format!("file://{}", dir.display()) });
        Self::call_on(&self.slow, "PUT", "vm.snapshot", Some(&body)).map(|_| ())
    }

    pub fn restore(&self, dir: &Path) -> Result<()> {
        let body = serde_json::json!({
            "source_url": format!("file://{}", dir.display()),
            "prefault": false,
        });
        Self::call_on(&self.slow, "PUT", "vm.restore", Some(&body)).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Classify;

    fn kind_of(status: u16, body: &str) -> (&'static str, String) {
        let e = api_error("vm.x", status, body.as_bytes());
        let info = e.info();
        (info.kind, info.message)
    }

    /// Every error answer of the recordings (recordings/cloud-hypervisor/lifecycle.json).
    #[test]
    fn recorded_errors_map_to_kinds() {
        let table: &[(u16, &str, &str)] = &[
            (400, r#"["Bad Request"]"#, "ch_api"),
            (
                404,
                r#"["Error from API","The VM info is not available","VM is not created"]"#,
                "bad_state",
            ),
            (
                500,
                r#"["Error from API","The VM info is not available","VM is not running"]"#,
                "bad_state",
            ),
            (
                404,
                r#"["Error from API","The VM could not boot","VM config is missing"]"#,
                "bad_state",
            ),
            (
                400,
                r#"["Failed to deserialize JSON","EOF while parsing a value at line 1 column 8"]"#,
                "invalid_argument",
            ),
            (
                400,
                r#"["Error from API","The VM could not boot","Failed to validate config","Payload configuration is not bootable","No bootitem provided: neither firmware nor kernel"]"#,
                "invalid_argument",
            ),
            (
                500,
                r#"["Error from API","The VM could not be created","VM is already created"]"#,
                "already_exists",
            ),
            (
                500,
                r#"["Error from API","The VM could not boot","Cannot open kernel file","No such file or directory (os error 2)"]"#,
                "not_found",
            ),
            (
                500,
                r#"["Error from API","The VM could not be paused","Cannot pause VM","Failed to pause migratable component","Invalid transition: InvalidStateTransition(Paused, Paused)"]"#,
                "bad_state",
            ),
            (404, r#"["Not Found"]"#, "ch_api"),
            (400, "", "ch_api"),
            (
                400,
                "{ \"error\": \"Invalid HTTP Method: Unsupported HTTP method.\" }",
                "ch_api",
            ),
            (500, "<html>oops</html>", "ch_api"),
        ];
        for (status, body, want) in table {
            assert_eq!(kind_of(*status, body).0, *want, "{status} {body}");
        }
        let (_, m) = kind_of(
            500,
            r#"["Error from API","The VM could not boot","Cannot open kernel file","No such file or directory (os error 2)"]"#,
        );
        assert_eq!(
            m,
            "cloud-hypervisor vm.x: Error from API: The VM could not boot: Cannot open kernel file: No such file or directory (os error 2) (HTTP 500)"
        );
        assert!(kind_of(500, "<html>oops</html>")
            .1
            .contains("not Cloud Hypervisor's error list: <html>oops</html>"));
        assert!(kind_of(400, "").1.contains("(empty body)"));
        match api_error("vm.boot", 404, br#"["Error from API","VM is not created"]"#) {
            VmError::ChApi { errors, status, .. } => {
                assert_eq!(status, 404);
                assert_eq!(errors, ["Error from API", "VM is not created"]);
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn transport_errors_are_typed() {
        let t = transport_error(UnixHttpError::Timeout {
            socket: "/s".into(),
            method: "GET".into(),
            path: "/api/v1/vm.info".into(),
            timeout: Duration::from_secs(5),
        });
        assert_eq!(t.info().kind, "timeout");
        let c = transport_error(UnixHttpError::Connect {
            socket: "/s".into(),
            reason: "No such file or directory".into(),
        });
        assert_eq!(c.info().kind, "unreachable");
        let b = transport_error(UnixHttpError::Broken {
            socket: "/s".into(),
            method: "PUT".into(),
            path: "/api/v1/vm.boot".into(),
            reason: "connection reset".into(),
        });
        assert_eq!(b.info().kind, "unreachable");
        assert!(b.to_string().contains("did cloud-hypervisor die"), "{b}");
    }

    #[test]
    fn info_bodies_parse() {
        let body = br#"{"config":{"cpus":{"boot_vcpus":1,"max_vcpus":1}},"state":"Running","memory_actual_size":268435456}"#;
        let i = parse_info(body).unwrap();
        assert_eq!(i.state, "Running");
        assert_eq!(i.memory_actual_size, Some(268435456));
        assert_eq!(i.config["cpus"]["boot_vcpus"], 1);
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vm");
        for (file, state) in [
            ("ch_vm_info_running.json", "Running"),
            ("ch_vm_info_created.json", "Created"),
        ] {
            let i = parse_info(&std::fs::read(dir.join(file)).unwrap()).unwrap();
            assert_eq!(i.state, state);
            assert_eq!(i.config["memory"]["size"], 268435456);
            assert_eq!(i.memory_actual_size, Some(268435456));
        }
        assert!(parse_info(b"{}").is_err());
        assert!(parse_info(b"nope").is_err());
    }
}
