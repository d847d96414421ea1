//! Errors of the Kubernetes client. An API answer keeps the server's Status (`reason`, `code`,
//! `message`, the fields of `details.causes`); transport failures are reduced to one clear
//! sentence (refused, TLS, timed out) instead of the stack of library errors behind them.

use crate::error::{kind, Classify, ErrorInfo, HostError};

#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    #[error("invalid {field}: {reason}")]
    InvalidArgument { field: String, reason: String },
    /// The kubeconfig cannot be used (missing, unreadable, no context, bad field).
    #[error("kubeconfig: {0}")]
    Config(String),
    /// The API server answered with a failure Status.
    #[error("{message}")]
    Api {
        code: u16,
        reason: String,
        message: String,
        /// `field` of each `details.causes` entry (for `invalid`).
        fields: Vec<String>,
    },
    #[error("cannot reach the Kubernetes API server at {server}: {reason}")]
    Unreachable { server: String, reason: String },
    #[error("kubernetes: {what} timed out after {secs} s")]
    Timeout { what: String, secs: u64 },
    #[error("cancelled")]
    Cancelled,
    /// A pod or job that will not get where it is waited for (or exec'd into): `kind` is
    /// image_not_found, crash_loop, unschedulable, not_running, probe_failed or job_failed.
    #[error("{message}")]
    Workload {
        kind: &'static str,
        message: String,
        /// The last log lines of the failing container, when there are any.
        logs: String,
    },
    /// A command run by `pod_exec` exited with a non-zero code.
    #[error("command failed with exit code {code} in pod {pod}: {cmd}")]
    ExecFailed {
        pod: String,
        cmd: String,
        code: i32,
        stdout: String,
        stderr: String,
    },
    #[error("kubernetes: {0}")]
    Other(String),
}

impl From<HostError> for KubeError {
    fn from(e: HostError) -> Self {
        match e {
            HostError::InvalidArgument { field, reason } => {
                KubeError::InvalidArgument { field, reason }
            }
            HostError::Cancelled => KubeError::Cancelled,
            other => KubeError::Other(other.to_string()),
        }
    }
}

impl KubeError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        KubeError::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The kind scripts see for an API answer with this code and reason.
    pub fn api_kind(code: u16, reason: &str) -> &'static str {
        match (code, reason) {
            (_, "AlreadyExists") => kind::ALREADY_EXISTS,
            (404, _) | (_, "NotFound") => kind::NOT_FOUND,
            (409, _) | (_, "Conflict") => kind::CONFLICT,
            (401, _) => kind::UNAUTHORIZED,
            (403, _) => kind::FORBIDDEN,
            (400 | 405 | 415 | 422, _) => kind::INVALID,
            (408 | 504, _) => kind::TIMEOUT,
            _ => kind::UNREACHABLE,
        }
    }
}

impl Classify for KubeError {
    fn info(&self) -> ErrorInfo {
        let message = self.to_string();
        match self {
            KubeError::InvalidArgument { field, .. } => {
                ErrorInfo::new(kind::INVALID_ARGUMENT, message).field("field", field)
            }
            KubeError::Config(_) => ErrorInfo::new(kind::INVALID_ARGUMENT, message),
            KubeError::Api {
                code,
                reason,
                fields,
                ..
            } => {
                let mut info = ErrorInfo::new(Self::api_kind(*code, reason), message)
                    .field("reason", reason)
                    .field("code", code.to_string());
                if !fields.is_empty() {
                    info = info.field("field", fields.join(", "));
                }
                info
            }
            KubeError::Unreachable { server, .. } => {
                ErrorInfo::new(kind::UNREACHABLE, message).field("server", server)
            }
            KubeError::Timeout { .. } => ErrorInfo::new(kind::TIMEOUT, message),
            KubeError::Cancelled => ErrorInfo::new(kind::CANCELLED, message),
            KubeError::Workload { kind, logs, .. } => {
                let info = ErrorInfo::new(kind, message);
                if logs.is_empty() {
                    info
                } else {
                    info.field("logs", logs)
                }
            }
            KubeError::ExecFailed {
                pod,
                cmd,
                code,
                stdout,
                stderr,
            } => ErrorInfo {
                command: Some(crate::error::CommandInfo {
                    cmd: cmd.clone(),
                    exit_code: Some(*code),
                    signal: None,
                    stdout: stdout.clone(),
                    stderr: stderr.clone(),
                }),
                ..ErrorInfo::new(kind::COMMAND_FAILED, message).field("pod", pod)
            },
            KubeError::Other(_) => ErrorInfo::new(kind::NETWORK, message),
        }
    }
}

pub type Result<T, E = KubeError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_map_to_kinds() {
        let table = [
            (404, "NotFound", kind::NOT_FOUND),
            (409, "AlreadyExists", kind::ALREADY_EXISTS),
            (409, "Conflict", kind::CONFLICT),
            (403, "Forbidden", kind::FORBIDDEN),
            (401, "Unauthorized", kind::UNAUTHORIZED),
            (422, "Invalid", kind::INVALID),
            (400, "BadRequest", kind::INVALID),
            (504, "Timeout", kind::TIMEOUT),
            (503, "ServiceUnavailable", kind::UNREACHABLE),
        ];
        for (code, reason, want) in table {
            assert_eq!(KubeError::api_kind(code, reason), want, "{code} {reason}");
        }
    }

    #[test]
    fn api_errors_carry_reason_code_and_fields() {
        let e = KubeError::Api {
            code: 422,
            reason: "Invalid".into(),
            message: "ConfigMap \"A\" is invalid: metadata.name: Invalid value".into(),
            fields: vec!["metadata.name".into()],
        };
        let info = e.info();
        assert_eq!(info.kind, kind::INVALID);
        assert_eq!(
            info.message,
            "ConfigMap \"A\" is invalid: metadata.name: Invalid value"
        );
        assert!(info.fields.contains(&("reason", "Invalid".to_string())));
        assert!(info.fields.contains(&("code", "422".to_string())));
        assert!(info
            .fields
            .contains(&("field", "metadata.name".to_string())));
    }
}
