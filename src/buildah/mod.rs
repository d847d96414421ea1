//! Image builds with buildah (seed 003's Builder): working containers, content, config,
//! commits, image operations, Containerfile builds; locally or on another host over SSH.

pub mod bindings;
pub mod ops;
pub mod owners;
pub mod parse;
pub mod remote;
pub mod rootfs;

pub use owners::reap_orphans;
pub use remote::Remote;

use crate::common::validate;
use crate::error::{kind, Classify, CommandInfo, ErrorInfo};
use crate::exec::{Arg, Cmd, ExecError};

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

impl From<crate::error::HostError> for BuildahError {
    fn from(e: crate::error::HostError) -> Self {
        match e {
            crate::error::HostError::InvalidArgument { field, reason } => {
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
                ..ErrorInfo::new(kind::BUILD_FAILED, message)
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

/// An argv as a shell-safe command line (each element single-quoted as needed).
pub fn quote_argv(argv: &[String]) -> String {
    argv.iter()
        .map(|a| shell_words::quote(a).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `buildah ARGV`, locally or over SSH.
pub fn buildah(remote: Option<&Remote>, argv: Vec<String>) -> Cmd {
    buildah_args(
        remote,
        argv.into_iter()
            .map(|value| Arg {
                value,
                secret: false,
            })
            .collect(),
    )
}

/// `buildah ARGS` where some arguments are secret (shown as `***`). Over SSH the arguments
/// become one command line, which is then secret as a whole.
pub fn buildah_args(remote: Option<&Remote>, args: Vec<Arg>) -> Cmd {
    match remote {
        None => args.into_iter().fold(Cmd::new("buildah"), |c, a| {
            if a.secret {
                c.secret_arg(a.value)
            } else {
                c.arg(a.value)
            }
        }),
        Some(r) => {
            let secret = args.iter().any(|a| a.secret);
            let mut full = vec!["buildah".to_string()];
            full.extend(args.into_iter().map(|a| a.value));
            r.ssh(quote_argv(&full), secret)
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

fn plain(value: String) -> Arg {
    Arg {
        value,
        secret: false,
    }
}

/// The canonical option name of a `config(map)` key (`ENV` -> `env`, `working_dir` ->
/// `workingdir`), or an error naming an unknown key.
fn config_key(raw: &str) -> Result<String, BuildahError> {
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
    Ok(key)
}

/// The values of `env` entries (`KEY=VALUE` -> `VALUE`): secrets from the moment a script hands
/// them over (an env value is where tokens go).
pub fn env_secrets(entries: &[(String, ConfigValue)]) -> Vec<String> {
    let value = |e: &String| e.split_once('=').map_or(e.clone(), |(_, v)| v.to_string());
    entries
        .iter()
        .filter(|(k, _)| config_key(k).is_ok_and(|k| k == "env"))
        .flat_map(|(_, v)| match v {
            ConfigValue::One(e) => vec![value(e)],
            ConfigValue::Many(es) => es.iter().map(value).collect(),
        })
        .collect()
}

/// `buildah config` options from a script map. Keys match case-insensitively, `_` may stand for
/// `-`, and `workdir` means `workingdir`; an unknown key is an error naming it. `env` values
/// are secret arguments (shown as `***`).
pub fn config_argv(entries: &[(String, ConfigValue)]) -> Result<Vec<Arg>, BuildahError> {
    let mut out = Vec::new();
    for (raw, value) in entries {
        let key = config_key(raw)?;
        let secret = key == "env";
        let flag = format!("--{key}");
        let arg = |v: &String| Arg {
            value: v.clone(),
            secret,
        };
        match value {
            ConfigValue::Many(items) if JSON_ARRAY_KEYS.contains(&key.as_str()) => {
                out.push(plain(flag));
                out.push(plain(serde_json::to_string(items).unwrap_or_default()));
            }
            ConfigValue::Many(items) => {
                for i in items {
                    out.push(plain(flag.clone()));
                    out.push(arg(i));
                }
            }
            ConfigValue::One(v) => {
                out.push(plain(flag));
                out.push(arg(v));
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
    let mut args: Vec<Arg> = argv.into_iter().map(plain).collect();
    for (k, v) in &o.build_args {
        validate::env_name("env", k).map_err(|_| {
            BuildahError::invalid("build_args", format!("`{k}` is not a valid argument name"))
        })?;
        args.push(plain("--build-arg".into()));
        args.push(Arg {
            value: format!("{k}={v}"),
            secret: true,
        });
    }
    args.push(plain(context.into()));
    Ok(buildah_args(remote, args))
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
        let shown: Vec<(&str, bool)> = a.iter().map(|a| (a.value.as_str(), a.secret)).collect();
        assert_eq!(
            shown,
            vec![
                ("--env", false),
                ("A=1", true),
                ("--label", false),
                ("a=1", false),
                ("--label", false),
                ("b=2", false),
                ("--entrypoint", false),
                ("[\"/bin/sh\",\"-c\"]", false),
                ("--workingdir", false),
                ("/app", false),
                ("--workingdir", false),
                ("/x", false),
                ("--port", false),
                ("8080", false),
            ]
        );
        let e = config_argv(&[one("colour", "red")]).unwrap_err();
        assert!(e.to_string().contains("unknown key `colour`"), "{e}");
    }

    #[test]
    fn env_values_are_secrets_locally_and_over_ssh() {
        const CANARY: &str = "S3CR3T-CANARY-9f8e7d";
        let entries = [
            one("Env", &format!("TOKEN={CANARY}")),
            (
                "env".into(),
                ConfigValue::Many(vec!["A=1".into(), "NOEQUALS".into()]),
            ),
            one("label", "a=b"),
        ];
        assert_eq!(env_secrets(&entries), vec![CANARY, "1", "NOEQUALS"]);
        let argv = config_argv(&entries).unwrap();
        let local = buildah_args(None, argv.clone());
        assert!(local.argv().contains(&format!("TOKEN={CANARY}").as_str()));
        assert_eq!(
            local.to_string(),
            "buildah --env *** --env *** --env *** --label 'a=b'"
        );
        let r = Remote::parse("root@127.0.0.1:2222").unwrap();
        let ssh = buildah_args(Some(&r), argv);
        assert!(!ssh.to_string().contains(CANARY), "{ssh}");
        assert!(ssh.argv().last().unwrap().contains(CANARY));
    }

    #[test]
    fn remote_commands_quote_every_value() {
        let r = Remote::new(
            Some("root"),
            "127.0.0.1",
            Some(2222),
            Some("/k".into()),
            vec!["StrictHostKeyChecking=no".into()],
        )
        .unwrap();
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
                "StrictHostKeyChecking=no",
                "-o",
                "ConnectTimeout=10",
                "-p",
                "2222",
                "-i",
                "/k",
                "root@127.0.0.1",
                "--",
                "buildah run ctr -- sh -c 'echo $HOME; rm -rf /x'"
            ]
        );
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
        let r = Remote::parse("root@build-host").unwrap();
        let c = bud_cmd(Some(&r), "localhost/app:1", "/ctx", &o).unwrap();
        assert!(c.to_string().ends_with("root@build-host -- ***"), "{c}");
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
