//! Errors of the container module.

use crate::error::{kind, Classify, ErrorInfo, HostError};
use crate::exec::ExecError;

/// What went wrong in a container operation. An engine failure is kept whole as the error's
/// source (its command line, exit code and output tails), never flattened into text.
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
        /// Boxed, here and below: the error stays small on the happy path.
        #[source]
        source: Box<ExecError>,
    },
    #[error("image not found: {image}")]
    ImageNotFound {
        image: String,
        #[source]
        source: Box<ExecError>,
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
        /// The engine's refusal; `None` when herodo asked first and ran nothing.
        #[source]
        source: Option<Box<ExecError>>,
    },
    #[error(
        "host port {port} is already in use: container {name} could not start (herodo removed it)"
    )]
    PortInUse {
        name: String,
        port: String,
        #[source]
        source: Box<ExecError>,
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
    #[error(transparent)]
    Host(HostError),
}

impl ContainerError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ContainerError::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// A checked conversion (`crate::common::convert`) that refused a number is this domain's
/// `invalid_argument`, with the same field.
impl From<HostError> for ContainerError {
    fn from(e: HostError) -> Self {
        match e {
            HostError::InvalidArgument { field, reason } => {
                ContainerError::InvalidArgument { field, reason }
            }
            HostError::Exec(e) => ContainerError::Exec(e),
            other => ContainerError::Host(other),
        }
    }
}

impl Classify for ContainerError {
    fn info(&self) -> ErrorInfo {
        let message = self.to_string();
        // The engine's command, exit code and output, from the kept source.
        let with_source = |info: ErrorInfo, source: Option<&ExecError>| ErrorInfo {
            command: source.and_then(|s| s.info().command),
            ..info
        };
        match self {
            ContainerError::InvalidArgument { field, .. } => {
                ErrorInfo::new(kind::INVALID_ARGUMENT, message).field("field", field)
            }
            ContainerError::EngineNotInstalled | ContainerError::EngineMissing(_) => {
                ErrorInfo::new(kind::ENGINE_NOT_INSTALLED, message)
            }
            ContainerError::NoSuchContainer { name, source } => with_source(
                ErrorInfo::new(kind::NO_SUCH_CONTAINER, message).field("name", name),
                Some(source),
            ),
            ContainerError::ImageNotFound { image, source } => with_source(
                ErrorInfo::new(kind::IMAGE_NOT_FOUND, message).field("image", image),
                Some(source),
            ),
            ContainerError::AlreadyExists { name, source, .. } => with_source(
                ErrorInfo::new(kind::ALREADY_EXISTS, message).field("name", name),
                source.as_deref(),
            ),
            ContainerError::PortInUse { name, port, source } => with_source(
                ErrorInfo::new(kind::PORT_IN_USE, message)
                    .field("name", name)
                    .field("port", port),
                Some(source),
            ),
            ContainerError::Timeout { .. } => ErrorInfo::new(kind::TIMEOUT, message),
            ContainerError::NotRunning { name, .. } => {
                ErrorInfo::new(kind::NOT_RUNNING, message).field("name", name)
            }
            ContainerError::Parse { .. } => ErrorInfo::new(kind::PARSE, message),
            ContainerError::Exec(e) => e.info(),
            ContainerError::Host(e) => e.info(),
        }
    }
}

/// Whether an engine refused to create something because its name is taken. podman: `the
/// container name "x" is already in use`, `volume with name x already exists`, `network name x
/// already used`; docker: `Conflict. The container name "/x" is already in use`, `network with
/// name x already exists`; nerdctl: `name "x" is already used by ID ...`.
pub fn is_name_clash(err: &ExecError) -> bool {
    if port_in_use(err).is_some() {
        return false;
    }
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

/// The host port (`ip:port`, or the engine's whole message when it names none) of a start that
/// failed because the port is taken: `Some` only for that failure. podman and nerdctl: `listen
/// tcp4 127.0.0.1:18495: bind: address already in use`; docker: the same from its userland proxy,
/// or `Bind for 127.0.0.1:18495 failed: port is already allocated` when another docker container
/// holds it.
pub fn port_in_use(err: &ExecError) -> Option<String> {
    let ExecError::Failed { stderr, .. } = err else {
        return None;
    };
    let lower = stderr.to_ascii_lowercase();
    if !lower.contains("address already in use") && !lower.contains("port is already allocated") {
        return None;
    }
    let after = |marker: &str| {
        lower.find(marker).map(|i| {
            let rest = &stderr[i + marker.len()..];
            let word = rest.split_whitespace().next().unwrap_or_default();
            word.trim_end_matches(':').to_string()
        })
    };
    let port = after("listen tcp4 ")
        .or_else(|| after("listen tcp6 "))
        .or_else(|| after("listen tcp "))
        .or_else(|| after("bind for "))
        .filter(|p| !p.is_empty());
    Some(port.unwrap_or_else(|| stderr.trim().to_string()))
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
        if s.contains("no such container")
            || s.contains("no container with name or id")
            || (s.contains("no such object") && !s.contains("image"))
            || s.contains("container not found")
        {
            return ContainerError::NoSuchContainer {
                name: subject.to_string(),
                source: Box::new(err),
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
                source: Box::new(err),
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
        // Issue 18.1: a taken host port says "already in use" too, but it is no name clash.
        for (taken, port) in [
            (
                "Error: cannot listen on the TCP port: listen tcp4 127.0.0.1:18495: bind: address already in use",
                "127.0.0.1:18495",
            ),
            (
                "docker: Error response from daemon: driver failed programming external connectivity on endpoint x (f828): Error starting userland proxy: listen tcp4 127.0.0.1:18495: bind: address already in use.",
                "127.0.0.1:18495",
            ),
            (
                "docker: Error response from daemon: driver failed programming external connectivity on endpoint x (f828): Bind for 127.0.0.1:18495 failed: port is already allocated.",
                "127.0.0.1:18495",
            ),
            ("FATA[0000] bind: address already in use", "FATA[0000] bind: address already in use"),
        ] {
            assert!(!is_name_clash(&failed(125, taken)), "{taken}");
            assert_eq!(port_in_use(&failed(125, taken)).as_deref(), Some(port), "{taken}");
        }
        assert_eq!(
            port_in_use(&failed(125, "Error: name \"x\" is already in use")),
            None
        );
        assert!(!is_name_clash(&failed(
            1,
            "Error: localhost/x: image not known"
        )));
    }

    /// The engine's failure stays the error's source: `e.cmd`, `e.exit_code` and `e.stderr`
    /// come from it, and a caller walking `source()` finds the ExecError itself (boxed).
    #[test]
    fn engine_failures_are_kept_as_the_source() {
        use std::error::Error;
        let e = classify_failure(
            failed(
                125,
                "Error: no container with name or ID \"web\" found: no such container",
            ),
            "web",
        );
        assert!(matches!(&e, ContainerError::NoSuchContainer { name, .. } if name == "web"));
        let source = e.source().expect("a source");
        assert!(
            matches!(
                source.downcast_ref::<Box<ExecError>>().map(|b| &**b),
                Some(ExecError::Failed { .. })
            ),
            "{source}"
        );
        let info = e.info();
        assert_eq!(info.kind, "no_such_container");
        let cmd = info.command.expect("command details");
        assert_eq!((cmd.cmd.as_str(), cmd.exit_code), ("engine", Some(125)));
        assert!(cmd.stderr.contains("no such container"));
        let e = classify_failure(
            failed(125, "Error: localhost/x: image not known"),
            "localhost/x",
        );
        assert_eq!(e.info().kind, "image_not_found");
        assert_eq!(e.info().command.and_then(|c| c.exit_code), Some(125));
        let asked_first = ContainerError::AlreadyExists {
            what: "volume",
            name: "v".into(),
            source: None,
        };
        assert!(asked_first.source().is_none() && asked_first.info().command.is_none());
        let other = classify_failure(failed(7, "sh: oops"), "web");
        assert!(matches!(
            other,
            ContainerError::Exec(ExecError::Failed { .. })
        ));
        let e: ContainerError = HostError::invalid("health_check.retries", "too many").into();
        assert!(
            matches!(e, ContainerError::InvalidArgument { field, .. } if field == "health_check.retries")
        );
    }
}
