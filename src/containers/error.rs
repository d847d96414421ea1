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
    #[error("cannot reach the registry {registry} for {image}: {reason}{tries}")]
    Unreachable {
        image: String,
        registry: String,
        reason: String,
        /// What the engine tried, e.g. ` (tried https://localhost/v2/ 3 times)`.
        tries: String,
        #[source]
        source: Box<ExecError>,
    },
    #[error("{what} did not happen within {secs:.1}s{detail}")]
    Timeout {
        what: String,
        secs: f64,
        detail: String,
    },
    #[error("{what} {name} already exists{origin}")]
    AlreadyExists {
        what: &'static str,
        name: String,
        /// Who made it and how to proceed, e.g. `, created by an earlier herodo run (...)`.
        origin: String,
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
            ContainerError::Unreachable {
                image,
                registry,
                source,
                ..
            } => with_source(
                ErrorInfo::new(kind::UNREACHABLE, message)
                    .field("image", image)
                    .field("registry", registry),
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

/// Network failures that mean no registry answered (as opposed to a registry that answered
/// "no such image"), with how each is described.
const UNREACHABLE: [(&str, &str); 8] = [
    ("no such host", "no such host (DNS)"),
    ("connection refused", "connection refused"),
    ("i/o timeout", "timed out"),
    ("network is unreachable", "network is unreachable"),
    ("no route to host", "no route to host"),
    ("connection reset", "connection reset"),
    (
        "server gave http response to https client",
        "it speaks plain HTTP, not HTTPS",
    ),
    ("x509:", "its TLS certificate is not trusted"),
];

/// A pull (explicit, or the one `run` does for a missing image) or push that failed because the
/// registry could not be reached: `network`, naming the registry, the cause and what the engine
/// tried. podman: `initializing source docker://localhost/nope:1: pinging container registry
/// localhost: Get "https://localhost/v2/": dial tcp 127.0.0.1:443: connect: connection refused`
/// (after `Failed, retrying in 1s ... (2/3)` warnings); docker: `Get
/// "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host`.
/// Anything else is [`classify_failure`]'s.
pub fn registry_failure(err: ExecError, image: &str) -> ContainerError {
    let ExecError::Failed { stderr, .. } = &err else {
        return classify_failure(err, image);
    };
    let lower = stderr.to_ascii_lowercase();
    let Some((_, reason)) = UNREACHABLE.iter().find(|(m, _)| lower.contains(m)) else {
        return classify_failure(err, image);
    };
    if !lower.contains("/v2/") && !lower.contains("registry") {
        return classify_failure(err, image);
    }
    let url = stderr
        .find("https://")
        .or_else(|| stderr.find("http://"))
        .map(|i| {
            stderr[i..]
                .split(['"', ' ', '\\'])
                .next()
                .unwrap_or_default()
                .to_string()
        });
    let registry = url
        .as_deref()
        .and_then(|u| u.split("://").nth(1))
        .and_then(|rest| rest.split('/').next())
        .map(str::to_string)
        .unwrap_or_else(|| registry_of(image));
    let attempts = lower
        .rfind("retrying in")
        .and_then(|i| lower[i..].split_once('('))
        .and_then(|(_, rest)| rest.split_once('/'))
        .and_then(|(_, rest)| rest.split(')').next())
        .and_then(|n| n.trim().parse::<u32>().ok());
    let tries = match (&url, attempts) {
        (Some(u), Some(n)) => format!(" (tried {u} {n} times)"),
        (Some(u), None) => format!(" (tried {u})"),
        (None, Some(n)) => format!(" (tried {n} times)"),
        (None, None) => String::new(),
    };
    ContainerError::Unreachable {
        image: image.to_string(),
        registry,
        reason: (*reason).to_string(),
        tries,
        source: Box::new(err),
    }
}

/// The registry part of an image reference (`docker.io` for a short name).
fn registry_of(image: &str) -> String {
    match image.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first.into(),
        _ => "docker.io".into(),
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

    /// Issue 18.4: an unreachable registry is `network` naming the registry and what was
    /// tried; a registry that answered "no such image" stays `image_not_found`.
    #[test]
    fn an_unreachable_registry_is_unreachable_not_image_not_found() {
        let podman_dns = "Trying to pull docker.io/library/nginx:alpine...\nError: initializing source docker://nginx:alpine: pinging container registry registry-1.docker.io: Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io on 10.255.255.53:53: no such host";
        let e = registry_failure(failed(125, podman_dns), "docker.io/library/nginx:alpine");
        let info = e.info();
        assert_eq!(info.kind, "unreachable");
        assert_eq!(
            e.to_string(),
            "cannot reach the registry registry-1.docker.io for docker.io/library/nginx:alpine: no such host (DNS) (tried https://registry-1.docker.io/v2/)"
        );
        assert!(info
            .fields
            .contains(&("registry", "registry-1.docker.io".into())));
        assert_eq!(info.command.and_then(|c| c.exit_code), Some(125));
        let podman_refused = "time=\"2026-12-06T19:55:14Z\" level=warning msg=\"Failed, retrying in 1s ... (2/3). Error: initializing source docker://localhost/nope:1: pinging container registry localhost: Get \\\"https://localhost/v2/\\\": dial tcp 127.0.0.1:443: connect: connection refused\"\ntime=\"2026-12-06T19:55:15Z\" level=warning msg=\"Failed, retrying in 1s ... (3/3). Error: initializing source docker://localhost/nope:1: pinging container registry localhost: Get \\\"https://localhost/v2/\\\": dial tcp 127.0.0.1:443: connect: connection refused\"\nError: initializing source docker://localhost/nope:1: pinging container registry localhost: Get \"https://localhost/v2/\": dial tcp 127.0.0.1:443: connect: connection refused";
        let e = registry_failure(failed(125, podman_refused), "localhost/nope:1");
        assert_eq!(
            e.to_string(),
            "cannot reach the registry localhost for localhost/nope:1: connection refused (tried https://localhost/v2/ 3 times)"
        );
        let docker = "Error response from daemon: Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io: no such host";
        assert_eq!(
            registry_failure(failed(1, docker), "nginx").info().kind,
            "unreachable"
        );
        // A registry that answered.
        for answered in [
            "Error: initializing source docker://127.0.0.1:5000/nope:1: reading manifest 1 in 127.0.0.1:5000/nope: manifest unknown: manifest unknown",
            "Error: localhost/x: image not known",
        ] {
            let e = registry_failure(failed(125, answered), "127.0.0.1:5000/nope:1");
            assert_eq!(e.info().kind, "image_not_found", "{answered}");
        }
        // A command in a container that cannot connect is not about a registry.
        let e = registry_failure(
            failed(1, "wget: can't connect to remote host: Connection refused"),
            "x",
        );
        assert_eq!(e.info().kind, "command_failed");
        assert_eq!(registry_of("nginx:alpine"), "docker.io");
        assert_eq!(registry_of("127.0.0.1:5000/a:1"), "127.0.0.1:5000");
        assert_eq!(registry_of("localhost/a:1"), "localhost");
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
            origin: String::new(),
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
