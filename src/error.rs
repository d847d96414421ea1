//! Errors as scripts see them.
//!
//! Every domain error implements [`Classify`], which describes it as plain data: a stable `kind`
//! that scripts branch on, a message, and for failed commands the command line, exit code and
//! output tails. `bindings::to_rhai_error` is the one place that turns this into a Rhai value.

use crate::exec::{ExecError, Status};

/// Stable error kinds. Scripts compare `e.kind` against these strings.
pub mod kind {
    pub const INVALID_ARGUMENT: &str = "invalid_argument";
    pub const NOT_FOUND: &str = "not_found";
    pub const ALREADY_EXISTS: &str = "already_exists";
    pub const PERMISSION_DENIED: &str = "permission_denied";
    pub const IO: &str = "io";
    pub const COMMAND_FAILED: &str = "command_failed";
    pub const COMMAND_NOT_FOUND: &str = "command_not_found";
    pub const TIMEOUT: &str = "timeout";
    pub const CANCELLED: &str = "cancelled";
    pub const PARSE: &str = "parse";
    pub const TEMPLATE: &str = "template";
    pub const NETWORK: &str = "network";
    pub const AMBIGUOUS: &str = "ambiguous";
    /// An error raised by the Rhai language itself (unknown variable, wrong type, ...).
    pub const SCRIPT: &str = "script";
    /// A sandbox limit (operations, call depth, data size, --max-time) was reached, or a
    /// size cap on what herodo reads (a file in a container's root).
    pub const LIMIT: &str = "limit";
    /// The script does not parse.
    pub const SYNTAX: &str = "syntax";
    // Containers.
    pub const NO_SUCH_CONTAINER: &str = "no_such_container";
    pub const IMAGE_NOT_FOUND: &str = "image_not_found";
    pub const ENGINE_NOT_INSTALLED: &str = "engine_not_installed";
    pub const NOT_RUNNING: &str = "not_running";
    /// Something still uses it (a mount, a process): it cannot be removed now.
    pub const BUSY: &str = "busy";
    /// A host port a container publishes is taken by something else (a process, another
    /// container's publication).
    pub const PORT_IN_USE: &str = "port_in_use";
    /// A server (an image registry, the Kubernetes API server) could not be reached: no
    /// answer at all (DNS, refused, TLS, it kept failing), as opposed to an answer that says no.
    pub const UNREACHABLE: &str = "unreachable";
    // Images.
    pub const BUILD_FAILED: &str = "build_failed";
    pub const IMAGE_IN_USE: &str = "image_in_use";
    // Virtual machines and their disks.
    pub const NO_SUCH_VM: &str = "no_such_vm";
    /// An image whose write lock another process (a running VM) holds.
    pub const LOCKED: &str = "locked";
    pub const NOT_QCOW2: &str = "not_qcow2";
    /// An operation the VM's current status does not allow (pause a stopped VM).
    pub const BAD_STATE: &str = "bad_state";
    /// QEMU's monitor protocol failed or refused a command.
    pub const QMP: &str = "qmp";
    /// Cloud Hypervisor's REST API refused a request with an error no other kind describes
    /// (`e.status`, `e.errors`: its list of error strings), or answered with something that is
    /// not its error list.
    pub const CH_API: &str = "ch_api";
    /// A download whose SHA-256 is not the one asked for.
    pub const CHECKSUM_MISMATCH: &str = "checksum_mismatch";
    // Kubernetes (the API server's Status reasons).
    /// A write lost a race (stale resourceVersion) or a server-side apply conflict.
    pub const CONFLICT: &str = "conflict";
    /// Authenticated, but not allowed (HTTP 403).
    pub const FORBIDDEN: &str = "forbidden";
    /// The credentials were rejected (HTTP 401).
    pub const UNAUTHORIZED: &str = "unauthorized";
    /// The server rejected the object (HTTP 422 or 400), naming the fields.
    pub const INVALID: &str = "invalid";
    /// The operation does not exist on this platform (apt functions off Debian/Ubuntu).
    pub const UNSUPPORTED: &str = "unsupported";
    // Kubernetes workloads (what a node reports about a pod or job).
    /// A container keeps exiting (CrashLoopBackOff); `e.logs` holds its last log lines.
    pub const CRASH_LOOP: &str = "crash_loop";
    /// No node can take the pod (PodScheduled=False, reason Unschedulable).
    pub const UNSCHEDULABLE: &str = "unschedulable";
    /// A readiness probe kept failing until the wait's time was up.
    pub const PROBE_FAILED: &str = "probe_failed";
    /// A job's Failed condition (its pods failed, backoff limit reached).
    pub const JOB_FAILED: &str = "job_failed";
    // Tests.
    pub const ASSERTION: &str = "assertion";
    pub const MISSING_TOOL: &str = "missing_tool";
}

/// Details of a command that ran (or was attempted) as part of an error.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CommandInfo {
    /// The command line, shell-quoted, secrets shown as `***`.
    pub cmd: String,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// An error described as data.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorInfo {
    pub kind: &'static str,
    pub message: String,
    pub command: Option<CommandInfo>,
    /// Extra named fields (for example `path`, `field`).
    pub fields: Vec<(&'static str, String)>,
}

impl ErrorInfo {
    pub fn new(kind: &'static str, message: impl Into<String>) -> Self {
        ErrorInfo {
            kind,
            message: message.into(),
            command: None,
            fields: Vec::new(),
        }
    }

    pub fn field(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.fields.push((name, value.into()));
        self
    }
}

/// Implemented by every error a binding can raise.
pub trait Classify {
    fn info(&self) -> ErrorInfo;
}

impl Classify for ExecError {
    fn info(&self) -> ErrorInfo {
        let message = self.to_string();
        match self {
            ExecError::NotFound { program } => {
                ErrorInfo::new(kind::COMMAND_NOT_FOUND, message).field("program", program)
            }
            ExecError::Invalid { cmd, .. } => ErrorInfo {
                command: Some(CommandInfo {
                    cmd: cmd.clone(),
                    ..CommandInfo::default()
                }),
                ..ErrorInfo::new(kind::INVALID_ARGUMENT, message)
            },
            ExecError::Cwd {
                cmd, dir, source, ..
            } => ErrorInfo {
                command: Some(CommandInfo {
                    cmd: cmd.clone(),
                    ..CommandInfo::default()
                }),
                ..ErrorInfo::new(io_kind(source), message).field("path", dir.clone())
            },
            ExecError::Spawn { cmd, .. } => ErrorInfo {
                command: Some(CommandInfo {
                    cmd: cmd.clone(),
                    ..CommandInfo::default()
                }),
                ..ErrorInfo::new(kind::IO, message)
            },
            ExecError::Timeout {
                cmd,
                stdout,
                stderr,
                ..
            } => ErrorInfo {
                command: Some(CommandInfo {
                    cmd: cmd.clone(),
                    exit_code: None,
                    signal: None,
                    stdout: stdout.clone(),
                    stderr: stderr.clone(),
                }),
                ..ErrorInfo::new(kind::TIMEOUT, message)
            },
            ExecError::Cancelled { cmd } => ErrorInfo {
                command: Some(CommandInfo {
                    cmd: cmd.clone(),
                    ..CommandInfo::default()
                }),
                ..ErrorInfo::new(kind::CANCELLED, message)
            },
            ExecError::Failed {
                cmd,
                status,
                stdout,
                stderr,
            } => ErrorInfo {
                command: Some(CommandInfo {
                    cmd: cmd.clone(),
                    exit_code: Some(status.code()),
                    signal: match status {
                        Status::Signaled(s) => Some(*s),
                        Status::Exited(_) => None,
                    },
                    stdout: stdout.clone(),
                    stderr: stderr.clone(),
                }),
                ..ErrorInfo::new(kind::COMMAND_FAILED, message)
            },
        }
    }
}

/// Errors that are not specific to one domain: bad arguments, missing things, I/O.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("invalid {field}: {reason}")]
    InvalidArgument { field: String, reason: String },
    #[error("{what} not found: {name}")]
    NotFound { what: &'static str, name: String },
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Timeout(String),
    #[error("cancelled")]
    Cancelled,
    #[error("{what}: {reason}")]
    Parse { what: &'static str, reason: String },
    /// A size cap was reached (a file too big to read); `path` names what.
    #[error("{reason}")]
    Limit { path: String, reason: String },
    #[error(transparent)]
    Exec(#[from] ExecError),
}

impl HostError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        HostError::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn io(
        action: &'static str,
        path: impl AsRef<std::path::Path>,
        source: std::io::Error,
    ) -> Self {
        HostError::Io {
            action,
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

/// The kind that matches an I/O error.
pub fn io_kind(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::NotFound => kind::NOT_FOUND,
        std::io::ErrorKind::PermissionDenied => kind::PERMISSION_DENIED,
        std::io::ErrorKind::AlreadyExists => kind::ALREADY_EXISTS,
        std::io::ErrorKind::InvalidInput => kind::INVALID_ARGUMENT,
        std::io::ErrorKind::TimedOut => kind::TIMEOUT,
        _ => kind::IO,
    }
}

impl Classify for HostError {
    fn info(&self) -> ErrorInfo {
        let message = self.to_string();
        match self {
            HostError::InvalidArgument { field, .. } => {
                ErrorInfo::new(kind::INVALID_ARGUMENT, message).field("field", field)
            }
            HostError::NotFound { name, .. } => {
                ErrorInfo::new(kind::NOT_FOUND, message).field("name", name)
            }
            HostError::Io { path, source, .. } => {
                ErrorInfo::new(io_kind(source), message).field("path", path)
            }
            HostError::Timeout(_) => ErrorInfo::new(kind::TIMEOUT, message),
            HostError::Cancelled => ErrorInfo::new(kind::CANCELLED, message),
            HostError::Parse { .. } => ErrorInfo::new(kind::PARSE, message),
            HostError::Limit { path, .. } => {
                ErrorInfo::new(kind::LIMIT, message).field("path", path)
            }
            HostError::Exec(e) => e.info(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_failure_keeps_command_details() {
        let e = ExecError::Failed {
            cmd: "ls /nope".into(),
            status: Status::Exited(2),
            stdout: String::new(),
            stderr: "No such file".into(),
        };
        let info = e.info();
        assert_eq!(info.kind, kind::COMMAND_FAILED);
        let c = info.command.unwrap();
        assert_eq!(c.exit_code, Some(2));
        assert_eq!(c.stderr, "No such file");
        assert_eq!(c.cmd, "ls /nope");
    }

    #[test]
    fn io_errors_map_to_kinds() {
        let e = HostError::io(
            "read",
            "/x",
            std::io::Error::from(std::io::ErrorKind::NotFound),
        );
        let info = e.info();
        assert_eq!(info.kind, kind::NOT_FOUND);
        assert!(info.message.starts_with("read /x: "));
        assert_eq!(info.fields, vec![("path", "/x".to_string())]);
    }
}
