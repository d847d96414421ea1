//! Image builds with buildah (seed 003's Builder): working containers, content, config,
//! commits, image operations, Containerfile builds; locally or on another host over SSH.

pub mod bindings;
pub mod ops;

use crate::containers::validate;
use crate::error::{kind, Classify, CommandInfo, ErrorInfo};
use crate::exec::{Cmd, ExecError};

#[derive(Debug, thiserror::Error)]
pub enum BuildahError {
    #[error("invalid {field}: {reason}")]
    InvalidArgument { field: String, reason: String },
    #[error("{what} not found: {name}")]
    NotFound {
        what: &'static str,
        name: String,
        command: Option<Box<CommandInfo>>,
    },
    #[error("build of {tag} failed (exit code {code}){step}")]
    BuildFailed {
        tag: String,
        code: i32,
        step: String,
        command: Option<Box<CommandInfo>>,
    },
    #[error("cannot read the output of `{cmd}`: {reason}")]
    Parse { cmd: String, reason: String },
    #[error(transparent)]
    Exec(#[from] ExecError),
}

impl BuildahError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        BuildahError::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl From<crate::containers::ContainerError> for BuildahError {
    fn from(e: crate::containers::ContainerError) -> Self {
        match e {
            crate::containers::ContainerError::InvalidArgument { field, reason } => {
                BuildahError::InvalidArgument { field, reason }
            }
            other => BuildahError::invalid("argument", other.to_string()),
        }
    }
}

impl Classify for BuildahError {
    fn info(&self) -> ErrorInfo {
        let message = self.to_string();
        match self {
            BuildahError::InvalidArgument { field, .. } => {
                ErrorInfo::new(kind::INVALID_ARGUMENT, message).field("field", field)
            }
            BuildahError::NotFound { name, command, .. } => ErrorInfo {
                command: command.as_deref().cloned(),
                ..ErrorInfo::new(kind::NOT_FOUND, message).field("name", name)
            },
            BuildahError::BuildFailed { command, .. } => ErrorInfo {
                command: command.as_deref().cloned(),
                ..ErrorInfo::new("build_failed", message)
            },
            BuildahError::Parse { .. } => ErrorInfo::new(kind::PARSE, message),
            BuildahError::Exec(e) => e.info(),
        }
    }
}

/// Classify a failed buildah command: missing images and containers are `not_found`.
pub fn classify(err: ExecError, what: &'static str, subject: &str) -> BuildahError {
    if let ExecError::Failed { stderr, .. } = &err {
        let s = stderr.to_ascii_lowercase();
        let missing = [
            "image not known",
            "no such image",
            "not found",
            "does not exist",
            "no such container",
            "initializing source",
            "unable to find",
            "repository name must",
            "manifest unknown",
        ];
        if missing.iter().any(|m| s.contains(m)) {
            return BuildahError::NotFound {
                what,
                name: subject.to_string(),
                command: err.info().command.map(Box::new),
            };
        }
    }
    BuildahError::Exec(err)
}

/// Where buildah runs: here, or on `target` (`user@host`) over SSH.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Remote {
    pub target: String,
    pub port: Option<u16>,
    pub identity: Option<String>,
    /// Extra `-o` options for ssh (`StrictHostKeyChecking=no`, ...).
    pub options: Vec<String>,
}

impl Remote {
    pub fn validate(&self) -> Result<(), BuildahError> {
        let ok = !self.target.is_empty()
            && !self.target.starts_with('-')
            && self.target.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '@' | '.' | '-' | '_' | ':' | '[' | ']')
            });
        if !ok {
            return Err(BuildahError::invalid(
                "remote",
                format!("`{}` is not user@host", self.target),
            ));
        }
        for o in &self.options {
            if !o.contains('=') || o.starts_with('-') {
                return Err(BuildahError::invalid(
                    "remote.options",
                    format!("`{o}` is not Key=value"),
                ));
            }
        }
        Ok(())
    }

    /// `ssh ... TARGET -- SCRIPT`: the remote side needs a command line, so every value in
    /// SCRIPT must already be quoted (see [`quote_argv`]).
    pub fn ssh(&self, script: String) -> Cmd {
        let mut c = Cmd::new("ssh").args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]);
        for o in &self.options {
            c = c.arg("-o").arg(o.clone());
        }
        if let Some(p) = self.port {
            c = c.arg("-p").arg(p.to_string());
        }
        if let Some(i) = &self.identity {
            c = c.arg("-i").arg(i.clone());
        }
        c.arg(self.target.clone()).arg("--").arg(script)
    }
}

/// An argv as a shell-safe command line (each element single-quoted as needed).
pub fn quote_argv(argv: &[String]) -> String {
    argv.iter()
        .map(|a| shell_words::quote(a).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `buildah ARGV`, locally or over SSH.
pub fn buildah(remote: Option<&Remote>, argv: Vec<String>) -> Cmd {
    match remote {
        None => Cmd::new("buildah").args(argv),
        Some(r) => {
            let mut full = vec!["buildah".to_string()];
            full.extend(argv);
            r.ssh(quote_argv(&full))
        }
    }
}

/// A working-container name (the same rules as container names).
pub fn check_name(name: &str) -> Result<(), BuildahError> {
    Ok(validate::name("name", name)?)
}

/// An image reference, or `scratch`.
pub fn check_image(field: &str, image: &str) -> Result<(), BuildahError> {
    if image == "scratch" {
        return Ok(());
    }
    Ok(validate::image(field, image)?)
}

/// A path inside the container: absolute, no `..`.
pub fn check_container_path(field: &str, p: &str) -> Result<(), BuildahError> {
    if !p.starts_with('/') || p.split('/').any(|c| c == "..") || p.contains('\0') {
        return Err(BuildahError::invalid(
            field,
            format!("`{p}` must be an absolute path without `..`"),
        ));
    }
    Ok(())
}

/// A value of `config(map)`: one string, or several for repeatable options.
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigValue {
    One(String),
    Many(Vec<String>),
}

/// buildah config options scripts may set; each takes a value.
pub const CONFIG_KEYS: &[&str] = &[
    "annotation",
    "arch",
    "author",
    "cmd",
    "comment",
    "created-by",
    "domainname",
    "entrypoint",
    "env",
    "healthcheck",
    "healthcheck-interval",
    "healthcheck-retries",
    "healthcheck-start-period",
    "healthcheck-timeout",
    "history-comment",
    "hostname",
    "label",
    "onbuild",
    "os",
    "port",
    "shell",
    "stop-signal",
    "user",
    "variant",
    "volume",
    "workingdir",
];

/// Options whose array value is one JSON array (exec form), not repeated flags.
const JSON_ARRAY_KEYS: &[&str] = &["entrypoint", "cmd", "shell"];

/// `buildah config` options from a script map. Keys match case-insensitively, `_` may stand for
/// `-`, and `workdir` means `workingdir`; an unknown key is an error naming it.
pub fn config_argv(entries: &[(String, ConfigValue)]) -> Result<Vec<String>, BuildahError> {
    let mut out = Vec::new();
    for (raw, value) in entries {
        let key = raw.to_ascii_lowercase().replace('_', "-");
        let key = if key == "workdir" || key == "working-dir" {
            "workingdir".to_string()
        } else {
            key
        };
        if !CONFIG_KEYS.contains(&key.as_str()) {
            return Err(BuildahError::invalid(
                "config",
                format!("unknown key `{raw}` (known: {})", CONFIG_KEYS.join(", ")),
            ));
        }
        let flag = format!("--{key}");
        match value {
            ConfigValue::Many(items) if JSON_ARRAY_KEYS.contains(&key.as_str()) => {
                out.push(flag);
                out.push(serde_json::to_string(items).unwrap_or_default());
            }
            ConfigValue::Many(items) => {
                for i in items {
                    out.push(flag.clone());
                    out.push(i.clone());
                }
            }
            ConfigValue::One(v) => {
                out.push(flag);
                out.push(v.clone());
            }
        }
    }
    Ok(out)
}

/// Options of a Containerfile build.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BuildOptions {
    pub file: Option<String>,
    pub format: Option<String>,
    pub build_args: Vec<(String, String)>,
    pub isolation: Option<String>,
}

pub fn check_isolation(i: &str) -> Result<(), BuildahError> {
    if !matches!(i, "oci" | "chroot" | "rootless") {
        return Err(BuildahError::invalid(
            "isolation",
            format!("`{i}` is not oci, chroot or rootless"),
        ));
    }
    Ok(())
}

pub fn check_format(f: &str) -> Result<(), BuildahError> {
    if !matches!(f, "oci" | "docker") {
        return Err(BuildahError::invalid(
            "format",
            format!("`{f}` is not oci or docker"),
        ));
    }
    Ok(())
}

/// `bud` argv. Build-arg values go in as secret arguments (shown as `***`).
pub fn bud_cmd(
    remote: Option<&Remote>,
    tag: &str,
    context: &str,
    o: &BuildOptions,
) -> Result<Cmd, BuildahError> {
    check_image("tag", tag)?;
    let mut argv = vec!["bud".to_string(), "-t".into(), tag.into()];
    if let Some(f) = &o.file {
        argv.extend(["-f".into(), f.clone()]);
    }
    if let Some(f) = &o.format {
        check_format(f)?;
        argv.extend(["--format".into(), f.clone()]);
    }
    if let Some(i) = &o.isolation {
        check_isolation(i)?;
        argv.extend(["--isolation".into(), i.clone()]);
    }
    let mut secrets = Vec::new();
    for (k, v) in &o.build_args {
        validate::env_key(k).map_err(|_| {
            BuildahError::invalid("build_args", format!("`{k}` is not a valid argument name"))
        })?;
        secrets.push(format!("{k}={v}"));
    }
    match remote {
        None => {
            let mut c = Cmd::new("buildah").args(argv);
            // build args are inserted before the context directory
            for s in secrets {
                c = c.arg("--build-arg").secret_arg(s);
            }
            Ok(c.arg(context))
        }
        Some(r) => {
            let mut full = vec!["buildah".to_string()];
            full.extend(argv);
            for s in secrets {
                full.push("--build-arg".into());
                full.push(s);
            }
            full.push(context.into());
            Ok(r.ssh(quote_argv(&full)).secret(!o.build_args.is_empty()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(k: &str, v: &str) -> (String, ConfigValue) {
        (k.into(), ConfigValue::One(v.into()))
    }

    #[test]
    fn config_keys_are_case_insensitive_and_arrays_repeat() {
        let a = config_argv(&[
            one("ENV", "A=1"),
            (
                "label".into(),
                ConfigValue::Many(vec!["a=1".into(), "b=2".into()]),
            ),
            (
                "entrypoint".into(),
                ConfigValue::Many(vec!["/bin/sh".into(), "-c".into()]),
            ),
            one("Working_Dir", "/app"),
            one("workdir", "/x"),
            one("port", "8080"),
        ])
        .unwrap();
        assert_eq!(
            a,
            vec![
                "--env",
                "A=1",
                "--label",
                "a=1",
                "--label",
                "b=2",
                "--entrypoint",
                "[\"/bin/sh\",\"-c\"]",
                "--workingdir",
                "/app",
                "--workingdir",
                "/x",
                "--port",
                "8080"
            ]
        );
        let e = config_argv(&[one("colour", "red")]).unwrap_err();
        assert!(e.to_string().contains("unknown key `colour`"), "{e}");
    }

    #[test]
    fn remote_commands_quote_every_value() {
        let r = Remote {
            target: "root@127.0.0.1".into(),
            port: Some(2222),
            identity: Some("/k".into()),
            options: vec!["StrictHostKeyChecking=no".into()],
        };
        let c = buildah(
            Some(&r),
            vec![
                "run".into(),
                "ctr".into(),
                "--".into(),
                "sh".into(),
                "-c".into(),
                "echo $HOME; rm -rf /x".into(),
            ],
        );
        assert_eq!(
            c.argv(),
            vec![
                "ssh",
                "-o",
                "BatchMode=yes",
                "-o",
                "ConnectTimeout=10",
                "-o",
                "StrictHostKeyChecking=no",
                "-p",
                "2222",
                "-i",
                "/k",
                "root@127.0.0.1",
                "--",
                "buildah run ctr -- sh -c 'echo $HOME; rm -rf /x'"
            ]
        );
        assert!(Remote {
            target: "-oProxyCommand=x".into(),
            ..Remote::default()
        }
        .validate()
        .is_err());
        assert!(Remote {
            target: "a;b".into(),
            ..Remote::default()
        }
        .validate()
        .is_err());
    }

    #[test]
    fn bud_argv_hides_build_arg_values() {
        let o = BuildOptions {
            file: Some("Containerfile".into()),
            format: Some("docker".into()),
            build_args: vec![("TOKEN".into(), "s3cret-value".into())],
            isolation: Some("chroot".into()),
        };
        let c = bud_cmd(None, "localhost/app:1", "/ctx", &o).unwrap();
        assert_eq!(
            c.argv(),
            vec![
                "buildah",
                "bud",
                "-t",
                "localhost/app:1",
                "-f",
                "Containerfile",
                "--format",
                "docker",
                "--isolation",
                "chroot",
                "--build-arg",
                "TOKEN=s3cret-value",
                "/ctx"
            ]
        );
        assert!(!c.to_string().contains("s3cret"));
        assert!(bud_cmd(None, "Bad Tag", "/ctx", &BuildOptions::default()).is_err());
        assert!(bud_cmd(
            None,
            "x",
            "/ctx",
            &BuildOptions {
                format: Some("tar".into()),
                ..BuildOptions::default()
            }
        )
        .is_err());
    }

    #[test]
    fn paths_and_images() {
        assert!(check_container_path("path", "/etc/passwd").is_ok());
        assert!(check_container_path("path", "etc/passwd").is_err());
        assert!(check_container_path("path", "/etc/../x").is_err());
        assert!(check_image("image", "scratch").is_ok());
        assert!(check_image("image", "UPPER").is_err());
    }
}
