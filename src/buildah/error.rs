//! Errors of the buildah domain. A failed command stays an [`ExecError`] (the `#[source]` of
//! `not_found` and `build_failed` too), so its command line, exit code and output tails reach
//! the script's error map through the one conversion in [`Classify`].

use crate::error::{kind, Classify, ErrorInfo, HostError};
use crate::exec::ExecError;

#[derive(Debug, thiserror::Error)]
pub enum BuildahError {
    #[error("invalid {field}: {reason}")]
    InvalidArgument { field: String, reason: String },
    /// A missing image, container, file or build context. `source` is the buildah command that
    /// said so, when one ran.
    #[error("{what} not found: {name}")]
    NotFound {
        what: &'static str,
        name: String,
        #[source]
        source: Option<Box<ExecError>>,
    },
    /// `buildah bud` failed; `step` names the failing step (` at STEP ...`) when buildah said.
    #[error(
        "build of {tag} failed (exit code {}){step}{output}",
        exit_code(source)
    )]
    BuildFailed {
        tag: String,
        step: String,
        /// The last lines the build printed (`; last output:\n...`), or empty.
        output: String,
        #[source]
        source: Box<ExecError>,
    },
    #[error("cannot read the output of `{cmd}`: {reason}")]
    Parse { cmd: String, reason: String },
    #[error("cannot read the output of `{cmd}`: {source}")]
    Json {
        cmd: String,
        #[source]
        source: serde_json::Error,
    },
    /// A failure of herodo's own floor (a temporary file, the state directory).
    #[error(transparent)]
    Host(HostError),
    #[error(transparent)]
    Exec(#[from] ExecError),
}

/// The exit code of a failed command (-1 when it did not exit on its own).
fn exit_code(e: &ExecError) -> i32 {
    match e {
        ExecError::Failed { status, .. } => status.code(),
        _ => -1,
    }
}

impl BuildahError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        BuildahError::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// `what` (a file, a build context) is missing, found before any command ran.
    pub fn not_found(what: &'static str, name: impl Into<String>) -> Self {
        BuildahError::NotFound {
            what,
            name: name.into(),
            source: None,
        }
    }
}

impl From<HostError> for BuildahError {
    fn from(e: HostError) -> Self {
        match e {
            HostError::InvalidArgument { field, reason } => {
                BuildahError::InvalidArgument { field, reason }
            }
            HostError::Exec(e) => BuildahError::Exec(e),
            other => BuildahError::Host(other),
        }
    }
}

impl Classify for BuildahError {
    fn info(&self) -> ErrorInfo {
        let message = self.to_string();
        let command = |e: &ExecError| e.info().command;
        match self {
            BuildahError::InvalidArgument { field, .. } => {
                ErrorInfo::new(kind::INVALID_ARGUMENT, message).field("field", field)
            }
            BuildahError::NotFound { name, source, .. } => ErrorInfo {
                command: source.as_deref().and_then(command),
                ..ErrorInfo::new(kind::NOT_FOUND, message).field("name", name)
            },
            BuildahError::BuildFailed { source, .. } => ErrorInfo {
                command: command(source),
                ..ErrorInfo::new(kind::BUILD_FAILED, message)
            },
            BuildahError::Parse { .. } | BuildahError::Json { .. } => {
                ErrorInfo::new(kind::PARSE, message)
            }
            BuildahError::Host(e) => e.info(),
            BuildahError::Exec(e) => e.info(),
        }
    }
}

/// Classify a failed buildah command: missing images and containers are `not_found`. On a
/// working container (`what` is "container") only buildah's own words count, in its own exit
/// code 125: the output of a command run inside (`sh: x: not found`, an executable missing
/// from `$PATH`, a program saying "does not exist") is that command's failure.
pub fn classify(err: ExecError, what: &'static str, subject: &str) -> BuildahError {
    let missing = |status: &crate::exec::Status, stderr: &str| {
        if what == "container" {
            *status == crate::exec::Status::Exited(125) && super::parse::is_missing(stderr)
        } else {
            super::parse::says_not_found(stderr)
        }
    };
    match &err {
        ExecError::Failed { status, stderr, .. } if missing(status, stderr) => {
            BuildahError::NotFound {
                what,
                name: subject.to_string(),
                source: Some(Box::new(err)),
            }
        }
        _ => BuildahError::Exec(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::Status;
    use std::error::Error;

    fn failed(code: i32, stderr: &str) -> ExecError {
        ExecError::Failed {
            cmd: "buildah from --name b localhost/nope:1".into(),
            status: Status::Exited(code),
            stdout: String::new(),
            stderr: stderr.into(),
        }
    }

    #[test]
    fn failed_commands_stay_the_source() {
        let e = classify(
            failed(125, "Error: localhost/nope:1: image not known"),
            "image",
            "x",
        );
        assert!(matches!(e, BuildahError::NotFound { .. }), "{e}");
        assert_eq!(e.to_string(), "image not found: x");
        let source = e.source().expect("the command is the source");
        assert!(source.to_string().contains("buildah from"), "{source}");
        let info = e.info();
        assert_eq!(info.kind, kind::NOT_FOUND);
        let cmd = info.command.expect("command details");
        assert_eq!(cmd.exit_code, Some(125));
        assert!(cmd.stderr.contains("image not known"));

        let e = classify(failed(1, "Error: storage is locked"), "image", "x");
        assert!(matches!(e, BuildahError::Exec(_)), "{e}");
        assert_eq!(e.info().kind, kind::COMMAND_FAILED);

        let e = BuildahError::BuildFailed {
            tag: "localhost/x:1".into(),
            step: " at STEP 3/3: RUN exit 3".into(),
            output: String::new(),
            source: Box::new(failed(3, "error building at STEP")),
        };
        assert_eq!(
            e.to_string(),
            "build of localhost/x:1 failed (exit code 3) at STEP 3/3: RUN exit 3"
        );
        assert!(e.source().is_some());
        let info = e.info();
        assert_eq!(info.kind, "build_failed");
        assert_eq!(info.command.and_then(|c| c.exit_code), Some(3));
    }

    #[test]
    fn a_command_run_inside_is_not_a_missing_container() {
        let run = |code, stderr| classify(failed(code, stderr), "container", "b").info().kind;
        // The working container is gone: buildah's own words, its own exit code.
        let gone = "Error: reading build container \"b\": container not known";
        assert_eq!(run(125, gone), kind::NOT_FOUND);
        // What a command inside said (captured from buildah 1.28 runs).
        let no_exe = "error running container: from /usr/bin/runc creating container for \
                      [nosuchcmd]: exec: \"nosuchcmd\": executable file not found in $PATH\n\
                      : exit status 1\nError: while running runtime: exit status 1";
        assert_eq!(run(1, no_exe), kind::COMMAND_FAILED);
        assert_eq!(run(127, "sh: nosuchcmd: not found"), kind::COMMAND_FAILED);
        assert_eq!(
            run(
                3,
                "file does not exist\nError: while running runtime: exit status 3"
            ),
            kind::COMMAND_FAILED
        );
        // Images keep the wider rule.
        let e = classify(
            failed(125, "Error: initializing source: not found"),
            "image",
            "x",
        );
        assert_eq!(e.info().kind, kind::NOT_FOUND);
    }

    #[test]
    fn host_errors_keep_their_kind() {
        let e: BuildahError = HostError::invalid("name", "bad").into();
        assert_eq!(e.info().kind, kind::INVALID_ARGUMENT);
        let io = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let e: BuildahError = HostError::io("create file", "/tmp/x", io).into();
        assert_eq!(e.info().kind, kind::PERMISSION_DENIED);
        assert!(e.source().is_some());
    }
}
