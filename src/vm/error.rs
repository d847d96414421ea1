//! Errors of the VM domain (qcow2 disks and virtual machines). Tool failures keep the
//! [`ExecError`] (command line, exit code, output tails) so scripts see `e.cmd`, `e.exit_code`
//! and `e.stderr`, also when qemu-img's stderr gave the error a kind of its own (`locked`,
//! `not_qcow2`, `not_found`).

use crate::error::{kind, Classify, ErrorInfo, HostError};
use crate::exec::ExecError;

#[derive(Debug, thiserror::Error)]
pub enum VmError {
    #[error("invalid {field}: {reason}")]
    InvalidArgument { field: String, reason: String },
    #[error("{what} not found: {path}")]
    NotFound {
        what: &'static str,
        path: String,
        #[source]
        source: Option<Box<ExecError>>,
    },
    #[error("{path} already exists")]
    AlreadyExists { path: String },
    /// A running VM (or another program) holds the image's write lock.
    #[error("{path} is locked: another process (a running VM?) uses it")]
    Locked {
        path: String,
        #[source]
        source: Box<ExecError>,
    },
    #[error("{path} is not a qcow2 image")]
    NotQcow2 {
        path: String,
        #[source]
        source: Box<ExecError>,
    },
    #[error("no such vm: {id}")]
    NoSuchVm { id: String },
    #[error("vm {id} is {status}: {action} needs it {needs}")]
    BadState {
        id: String,
        status: String,
        action: &'static str,
        needs: &'static str,
    },
    #[error("{tool} is not installed ({hint})")]
    MissingTool { tool: String, hint: String },
    #[error("{url}: the download's sha256 is {got}, not {expected}")]
    ChecksumMismatch {
        url: String,
        expected: String,
        got: String,
    },
    #[error("qmp ({socket}): {reason}")]
    Qmp { socket: String, reason: String },
    /// Cloud Hypervisor answered an API call with an error (its JSON list of strings, outermost
    /// context first, in `errors`); `kind` is what they say (see cloud_hypervisor::api).
    #[error("cloud-hypervisor {endpoint}: {message} (HTTP {status})")]
    ChApi {
        endpoint: String,
        status: u16,
        kind: &'static str,
        message: String,
        errors: Vec<String>,
    },
    /// Nothing answers on the API socket (the process is gone or died mid-call).
    #[error("cloud-hypervisor at {socket} does not answer: {reason}")]
    ChUnreachable { socket: String, reason: String },
    #[error("cannot read {what}: {reason}")]
    Parse { what: String, reason: String },
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error(transparent)]
    Host(HostError),
}

/// A shared-floor error that refused an argument is this domain's `invalid_argument`.
impl From<HostError> for VmError {
    fn from(e: HostError) -> Self {
        match e {
            HostError::InvalidArgument { field, reason } => {
                VmError::InvalidArgument { field, reason }
            }
            HostError::Exec(e) => VmError::Exec(e),
            other => VmError::Host(other),
        }
    }
}

pub type Result<T, E = VmError> = std::result::Result<T, E>;

impl VmError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        VmError::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn io(action: &'static str, path: impl AsRef<std::path::Path>, e: std::io::Error) -> Self {
        VmError::Host(HostError::io(action, path, e))
    }

    pub fn parse(what: impl Into<String>, reason: impl ToString) -> Self {
        VmError::Parse {
            what: what.into(),
            reason: reason.to_string(),
        }
    }

    pub fn missing(what: &'static str, path: impl Into<String>) -> Self {
        VmError::NotFound {
            what,
            path: path.into(),
            source: None,
        }
    }
}

/// The info of `source` (command line, output tails) under another kind and message.
fn with_command(source: &ExecError, info: ErrorInfo) -> ErrorInfo {
    ErrorInfo {
        command: source.info().command,
        ..info
    }
}

impl Classify for VmError {
    fn info(&self) -> ErrorInfo {
        let message = self.to_string();
        match self {
            VmError::InvalidArgument { field, .. } => {
                ErrorInfo::new(kind::INVALID_ARGUMENT, message).field("field", field)
            }
            VmError::NotFound { path, source, .. } => {
                let info = ErrorInfo::new(kind::NOT_FOUND, message).field("path", path);
                match source {
                    Some(s) => with_command(s, info),
                    None => info,
                }
            }
            VmError::AlreadyExists { path } => {
                ErrorInfo::new(kind::ALREADY_EXISTS, message).field("path", path)
            }
            VmError::Locked { path, source } => with_command(
                source,
                ErrorInfo::new(kind::LOCKED, message).field("path", path),
            ),
            VmError::NotQcow2 { path, source } => with_command(
                source,
                ErrorInfo::new(kind::NOT_QCOW2, message).field("path", path),
            ),
            VmError::NoSuchVm { id } => ErrorInfo::new(kind::NO_SUCH_VM, message).field("id", id),
            VmError::BadState { id, status, .. } => ErrorInfo::new(kind::BAD_STATE, message)
                .field("id", id)
                .field("status", status),
            VmError::MissingTool { tool, .. } => {
                ErrorInfo::new(kind::MISSING_TOOL, message).field("program", tool)
            }
            VmError::Qmp { .. } => ErrorInfo::new(kind::QMP, message),
            VmError::ChecksumMismatch { url, .. } => {
                ErrorInfo::new(kind::CHECKSUM_MISMATCH, message).field("url", url)
            }
            VmError::ChApi {
                kind,
                status,
                errors,
                ..
            } => ErrorInfo::new(kind, message)
                .field("status", status.to_string())
                .field("errors", errors.join("\n")),
            VmError::ChUnreachable { socket, .. } => {
                ErrorInfo::new(kind::UNREACHABLE, message).field("socket", socket)
            }
            VmError::Parse { .. } => ErrorInfo::new(kind::PARSE, message),
            VmError::Exec(e) => e.info(),
            VmError::Host(e) => e.info(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::Status;

    #[test]
    fn kinds_keep_the_command() {
        let failed = ExecError::Failed {
            cmd: "qemu-img snapshot -c s a.qcow2".into(),
            status: Status::Exited(1),
            stdout: String::new(),
            stderr: "Failed to get \"write\" lock".into(),
        };
        let e = VmError::Locked {
            path: "a.qcow2".into(),
            source: Box::new(failed),
        };
        let info = e.info();
        assert_eq!(info.kind, "locked");
        assert_eq!(info.fields, vec![("path", "a.qcow2".to_string())]);
        let c = info.command.unwrap();
        assert_eq!(c.exit_code, Some(1));
        assert!(c.stderr.contains("write\" lock"));
        assert_eq!(
            VmError::invalid("vcpus", "x").info().kind,
            "invalid_argument"
        );
        assert_eq!(VmError::missing("disk", "/x").info().kind, "not_found");
        let e: VmError = HostError::invalid("size_gb", "bad").into();
        assert!(matches!(e, VmError::InvalidArgument { .. }));
        assert_eq!(
            VmError::NoSuchVm { id: "a".into() }.info().kind,
            "no_such_vm"
        );
    }
}
