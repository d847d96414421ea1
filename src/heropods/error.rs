//! Errors of heropods. Runtime and tool failures keep the [`ExecError`] (command line, exit
//! code, output tails) so scripts see `e.cmd`, `e.exit_code` and `e.stderr`.

use crate::error::{kind, Classify, ErrorInfo, HostError};
use crate::exec::ExecError;

#[derive(Debug, thiserror::Error)]
pub enum PodError {
    #[error("invalid {field}: {reason}")]
    InvalidArgument { field: String, reason: String },
    #[error("no such container: {name}")]
    NoSuchContainer { name: String },
    #[error("image not found: {image}{detail}")]
    ImageNotFound {
        image: String,
        detail: String,
        #[source]
        source: Option<Box<ExecError>>,
    },
    #[error("image {image} is used by container(s) {users}; delete them first")]
    ImageInUse { image: String, users: String },
    #[error("container {name} is not running (state: {state})")]
    NotRunning { name: String, state: String },
    #[error("{tool} is not installed ({hint})")]
    MissingTool { tool: String, hint: String },
    #[error("port {port} is already in use: {by}")]
    PortInUse { port: String, by: String },
    #[error("network: {0}")]
    Network(String),
    #[error("cannot read {what}: {reason}")]
    Parse { what: String, reason: String },
    #[error(
        "the record of container {name} is corrupt ({reason}); delete() removes the container, \
         as does container_new with reset: true"
    )]
    CorruptRecord { name: String, reason: String },
    #[error("{what} is busy: {reason}")]
    Busy { what: String, reason: String },
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error(transparent)]
    Host(HostError),
}

/// A shared-floor error (a checked conversion, a validation) that refused an argument is this
/// domain's `invalid_argument`, with the same field, as in the other domains.
impl From<HostError> for PodError {
    fn from(e: HostError) -> Self {
        match e {
            HostError::InvalidArgument { field, reason } => {
                PodError::InvalidArgument { field, reason }
            }
            HostError::Exec(e) => PodError::Exec(e),
            other => PodError::Host(other),
        }
    }
}

pub type Result<T, E = PodError> = std::result::Result<T, E>;

impl PodError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        PodError::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn io(action: &'static str, path: impl AsRef<std::path::Path>, e: std::io::Error) -> Self {
        PodError::Host(HostError::io(action, path, e))
    }

    pub fn parse(what: impl Into<String>, reason: impl ToString) -> Self {
        PodError::Parse {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}

impl Classify for PodError {
    fn info(&self) -> ErrorInfo {
        let message = self.to_string();
        match self {
            PodError::InvalidArgument { field, .. } => {
                ErrorInfo::new(kind::INVALID_ARGUMENT, message).field("field", field)
            }
            PodError::NoSuchContainer { name } => {
                ErrorInfo::new(kind::NO_SUCH_CONTAINER, message).field("name", name)
            }
            PodError::ImageNotFound { image, source, .. } => ErrorInfo {
                command: source.as_ref().and_then(|e| e.info().command),
                ..ErrorInfo::new(kind::IMAGE_NOT_FOUND, message).field("image", image)
            },
            PodError::ImageInUse { image, .. } => {
                ErrorInfo::new(kind::IMAGE_IN_USE, message).field("image", image)
            }
            PodError::NotRunning { name, state } => ErrorInfo::new(kind::NOT_RUNNING, message)
                .field("name", name)
                .field("state", state),
            PodError::MissingTool { tool, .. } => {
                ErrorInfo::new(kind::MISSING_TOOL, message).field("program", tool)
            }
            PodError::PortInUse { port, .. } => {
                ErrorInfo::new(kind::PORT_IN_USE, message).field("port", port)
            }
            PodError::Network(_) => ErrorInfo::new(kind::NETWORK, message),
            PodError::Parse { .. } => ErrorInfo::new(kind::PARSE, message),
            PodError::CorruptRecord { name, .. } => {
                ErrorInfo::new(kind::PARSE, message).field("name", name)
            }
            PodError::Busy { what, .. } => ErrorInfo::new(kind::BUSY, message).field("path", what),
            PodError::Exec(e) => e.info(),
            PodError::Host(e) => e.info(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::Status;

    #[test]
    fn kinds_and_fields() {
        let e = PodError::invalid("name", "bad");
        assert_eq!(e.info().kind, kind::INVALID_ARGUMENT);
        assert_eq!(e.info().fields, vec![("field", "name".to_string())]);
        let e = PodError::NotRunning {
            name: "a".into(),
            state: "stopped".into(),
        };
        assert_eq!(e.info().kind, "not_running");
        let failed = ExecError::Failed {
            cmd: "skopeo copy x".into(),
            status: Status::Exited(1),
            stdout: String::new(),
            stderr: "manifest unknown".into(),
        };
        let e = PodError::ImageNotFound {
            image: "x".into(),
            detail: String::new(),
            source: Some(Box::new(failed)),
        };
        let info = e.info();
        assert_eq!(info.kind, "image_not_found");
        assert_eq!(info.command.unwrap().stderr, "manifest unknown");
        let e = PodError::PortInUse {
            port: "127.0.0.1:8080/tcp".into(),
            by: "a process on this host listens on it".into(),
        };
        assert_eq!(e.info().kind, "port_in_use");
        assert_eq!(
            e.info().fields,
            vec![("port", "127.0.0.1:8080/tcp".to_string())]
        );
        let e = PodError::Exec(ExecError::Cancelled { cmd: "runc".into() });
        assert_eq!(e.info().kind, kind::CANCELLED);
    }
}
