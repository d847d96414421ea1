//! Errors of the container module.

use crate::error::{kind, Classify, CommandInfo, ErrorInfo};
use crate::exec::ExecError;

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("invalid {field}: {reason}")]
    InvalidArgument { field: String, reason: String },
    #[error("no container engine found: install nerdctl, podman or docker, or set HERODO_CONTAINER_ENGINE")]
    EngineNotInstalled,
    #[error("container engine `{0}` is not installed")]
    EngineMissing(String),
    #[error("no such container: {name}")]
    NoSuchContainer {
        name: String,
        command: Option<CommandInfo>,
    },
    #[error("image not found: {image}")]
    ImageNotFound {
        image: String,
        command: Option<CommandInfo>,
    },
    #[error("{what} did not happen within {secs:.1}s{detail}")]
    Timeout {
        what: String,
        secs: f64,
        detail: String,
    },
    #[error("{what} {name} already exists (herodo does not take over what it did not create)")]
    AlreadyExists {
        what: &'static str,
        name: String,
        /// Boxed: the engine's refusal is rare, and the error stays small on the happy path.
        command: Option<Box<CommandInfo>>,
    },
    #[error("container {name} is not running (state: {state}){logs}")]
    NotRunning {
        name: String,
        state: String,
        logs: String,
    },
    #[error("cannot read the output of `{cmd}`: {reason}")]
    Parse { cmd: String, reason: String },
    #[error(transparent)]
    Exec(#[from] ExecError),
}

impl ContainerError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ContainerError::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl Classify for ContainerError {
    fn info(&self) -> ErrorInfo {
        let message = self.to_string();
        match self {
            ContainerError::InvalidArgument { field, .. } => {
                ErrorInfo::new(kind::INVALID_ARGUMENT, message).field("field", field)
            }
            ContainerError::EngineNotInstalled | ContainerError::EngineMissing(_) => {
                ErrorInfo::new(kind::ENGINE_NOT_INSTALLED, message)
            }
            ContainerError::NoSuchContainer { name, command } => ErrorInfo {
                command: command.clone(),
                ..ErrorInfo::new(kind::NO_SUCH_CONTAINER, message).field("name", name)
            },
            ContainerError::ImageNotFound { image, command } => ErrorInfo {
                command: command.clone(),
                ..ErrorInfo::new(kind::IMAGE_NOT_FOUND, message).field("image", image)
            },
            ContainerError::AlreadyExists { name, command, .. } => ErrorInfo {
                command: command.as_deref().cloned(),
                ..ErrorInfo::new(kind::ALREADY_EXISTS, message).field("name", name)
            },
            ContainerError::Timeout { .. } => ErrorInfo::new(kind::TIMEOUT, message),
            ContainerError::NotRunning { name, .. } => {
                ErrorInfo::new(kind::NOT_RUNNING, message).field("name", name)
            }
            ContainerError::Parse { .. } => ErrorInfo::new(kind::PARSE, message),
            ContainerError::Exec(e) => e.info(),
        }
    }
}

/// Whether an engine refused to create something because its name is taken. podman: `the
/// container name "x" is already in use`, `volume with name x already exists`, `network name x
/// already used`; docker: `Conflict. The container name "/x" is already in use`, `network with
/// name x already exists`; nerdctl: `name "x" is already used by ID ...`.
pub fn is_name_clash(err: &ExecError) -> bool {
    match err {
        ExecError::Failed { stderr, .. } => {
            let s = stderr.to_ascii_lowercase();
            s.contains("already in use")
                || s.contains("already exists")
                || s.contains("already used")
        }
        _ => false,
    }
}

/// Whether `exec` failed because the container does not run (rather than the command failing).
/// podman: `can only create exec sessions on running containers: container state improper`;
/// docker: `Container ID is not running`; nerdctl: `container ID is not running`.
pub fn is_not_running(err: &ExecError) -> bool {
    match err {
        ExecError::Failed { stderr, .. } => {
            let s = stderr.to_ascii_lowercase();
            s.contains("container state improper")
                || s.contains("on running containers")
                || (s.contains("is not running") && s.contains("container"))
        }
        _ => false,
    }
}

/// Turn an engine failure into the matching kind: a missing container or image gets its own.
pub fn classify_failure(err: ExecError, subject: &str) -> ContainerError {
    if let ExecError::Failed { stderr, .. } = &err {
        let s = stderr.to_ascii_lowercase();
        let info = err.info().command;
        if s.contains("no such container")
            || s.contains("no container with name or id")
            || (s.contains("no such object") && !s.contains("image"))
            || s.contains("container not found")
        {
            return ContainerError::NoSuchContainer {
                name: subject.to_string(),
                command: info,
            };
        }
        if s.contains("image not known")
            || s.contains("unable to find image")
            || s.contains("initializing source")
            || s.contains("failed to resolve reference")
            || s.contains("error pulling image")
            || s.contains("no such image")
            || s.contains("image not found")
            || s.contains("repository does not exist")
            || s.contains("manifest unknown")
            || s.contains("pull access denied")
        {
            return ContainerError::ImageNotFound {
                image: subject.to_string(),
                command: info,
            };
        }
    }
    ContainerError::Exec(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::Status;

    fn failed(code: i32, stderr: &str) -> ExecError {
        ExecError::Failed {
            cmd: "engine".into(),
            status: Status::Exited(code),
            stdout: String::new(),
            stderr: stderr.into(),
        }
    }

    /// Messages captured from podman 4.3 and docker 20.10 on this project's machines.
    #[test]
    fn clashes_and_not_running_are_recognised() {
        for clash in [
            "Error: creating container storage: the container name \"c\" is already in use by e1a6. You have to remove that container to be able to reuse that name: that name is already in use",
            "docker: Error response from daemon: Conflict. The container name \"/c\" is already in use by container \"f828\". You have to remove (or rename) that container to be able to reuse that name.",
            "Error: volume with name v already exists: volume already exists",
            "Error: network name n already used: network already exists",
            "Error response from daemon: network with name n already exists",
        ] {
            assert!(is_name_clash(&failed(125, clash)), "{clash}");
            assert!(!is_not_running(&failed(125, clash)), "{clash}");
        }
        for stopped in [
            "Error: can only create exec sessions on running containers: container state improper",
            "Error response from daemon: Container f8283b357fc4 is not running",
        ] {
            assert!(is_not_running(&failed(1, stopped)), "{stopped}");
            assert!(!is_name_clash(&failed(1, stopped)), "{stopped}");
        }
        assert!(!is_not_running(&failed(7, "sh: oops")));
        assert!(!is_name_clash(&failed(
            1,
            "Error: localhost/x: image not known"
        )));
    }
}
