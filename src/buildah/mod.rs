//! Image builds with buildah (seed 003's Builder): working containers, content, config,
//! commits, image operations, Containerfile builds; locally or on another host over SSH.
//!
//! Plain Rust: the specs a script hands over (this file), their argv ([`argv`], pure), the
//! operations that run them ([`ops`]), the fluent form ([`fluent`]), what buildah prints
//! ([`parse`]); [`bindings`] is only the Rhai glue.

pub mod argv;
pub mod bindings;
pub mod error;
pub mod fluent;
pub mod ops;
pub mod owners;
pub mod parse;
pub mod remote;
pub mod rootfs;

use std::fmt;

pub use error::{classify, BuildahError};
pub use owners::reap_orphans;
pub use remote::{Remote, RemoteSpec};

use crate::common::validate;

type Result<T> = std::result::Result<T, BuildahError>;

/// A buildah working container (seed 003's Builder).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Builder {
    pub name: String,
    pub container_id: String,
    pub image: String,
    pub debug_mode: bool,
    pub remote: Option<Remote>,
}

impl Builder {
    /// The working container's id; an error once the builder was removed.
    pub fn id(&self) -> Result<String> {
        if self.container_id.is_empty() {
            return Err(BuildahError::invalid(
                "builder",
                format!(
                    "builder {} has no working container (it was removed)",
                    self.name
                ),
            ));
        }
        Ok(self.container_id.clone())
    }

    /// The name cleanup reports use: `NAME`, or `NAME@user@host[:port]` for a remote builder.
    pub fn resource_name(&self) -> String {
        match &self.remote {
            None => self.name.clone(),
            Some(r) => format!("{}@{}", self.name, r.label()),
        }
    }
}

impl fmt::Display for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Builder(name: {}, image: {}, container: {})",
            self.name, self.image, self.container_id
        )
    }
}

/// What `run` executes.
#[derive(Clone, Debug, PartialEq)]
pub enum RunWhat {
    /// A shell line, run with `sh -c` inside the container.
    Shell(String),
    /// An argv, run as it is.
    Argv(Vec<String>),
}

/// A working-container name (the same rules as container names).
pub fn check_name(name: &str) -> Result<()> {
    Ok(validate::name("name", name)?)
}

/// An image reference, or `scratch`.
pub fn check_image(field: &str, image: &str) -> Result<()> {
    if image == "scratch" {
        return Ok(());
    }
    Ok(validate::image(field, image)?)
}

/// A path inside the container: absolute, no `..`.
pub fn check_container_path(field: &str, p: &str) -> Result<()> {
    if !p.starts_with('/') || p.split('/').any(|c| c == "..") || p.contains('\0') {
        return Err(BuildahError::invalid(
            field,
            format!("`{p}` must be an absolute path without `..`"),
        ));
    }
    Ok(())
}

pub fn check_isolation(i: &str) -> Result<()> {
    if !matches!(i, "oci" | "chroot" | "rootless") {
        return Err(BuildahError::invalid(
            "isolation",
            format!("`{i}` is not oci, chroot or rootless"),
        ));
    }
    Ok(())
}

pub fn check_format(f: &str) -> Result<()> {
    if !matches!(f, "oci" | "docker") {
        return Err(BuildahError::invalid(
            "format",
            format!("`{f}` is not oci or docker"),
        ));
    }
    Ok(())
}

/// `buildah config` options that are switches: written `--flag=VALUE` (a separate value
/// would be taken for the container).
pub const SWITCH_KEYS: &[&str] = &["add-history"];

/// How `commit(image, options)` commits: buildah's own flags, and the author and message
/// that `podman commit --author/--message` would record (set with `buildah config` first).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CommitOptions {
    pub format: Option<String>,
    pub squash: bool,
    /// Remove the working container after the commit.
    pub rm: bool,
    pub author: Option<String>,
    pub message: Option<String>,
}

/// A value of `config(map)`: one string, or several for repeatable options.
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigValue {
    One(String),
    Many(Vec<String>),
}

/// One `config(map)` entry: the key as the script wrote it, and its value.
pub type ConfigEntry = (String, ConfigValue);

/// buildah config options scripts may set; each takes a value.
pub const CONFIG_KEYS: &[&str] = &[
    "add-history",
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
    "os-feature",
    "os-version",
    "port",
    "shell",
    "stop-signal",
    "user",
    "variant",
    "volume",
    "workingdir",
];

/// Options whose array value is one JSON array (exec form), not repeated flags.
pub const JSON_ARRAY_KEYS: &[&str] = &["entrypoint", "cmd", "shell"];

/// The canonical option name of a `config(map)` key (`ENV` -> `env`, `working_dir` ->
/// `workingdir`), or an error naming an unknown key.
pub fn config_key(raw: &str) -> Result<String> {
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
pub fn env_secrets(entries: &[ConfigEntry]) -> Vec<String> {
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

/// The `env` entry `KEY=VALUE` of the fluent `env(key, value)`: the key must be non-empty and
/// hold no `=` (the value may hold anything).
pub fn env_entry(key: &str, value: &str) -> Result<ConfigEntry> {
    if key.is_empty() || key.contains('=') || key.contains('\0') {
        return Err(BuildahError::invalid(
            "env",
            format!("`{key}` is not a variable name"),
        ));
    }
    Ok(("env".into(), ConfigValue::One(format!("{key}={value}"))))
}

/// The `label` entry `KEY=VALUE` of the fluent `label(key, value)`.
pub fn label_entry(key: &str, value: &str) -> ConfigEntry {
    ("label".into(), ConfigValue::One(format!("{key}={value}")))
}

/// Options of a Containerfile build.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BuildOptions {
    pub file: Option<String>,
    pub format: Option<String>,
    pub build_args: Vec<(String, String)>,
    pub isolation: Option<String>,
    /// Whether to hide the build's output while it runs. Shown by default, as `run()` does,
    /// except when there are build args: live output is not scrubbed, and a RUN step could
    /// print a value (`silent: false` shows it anyway).
    pub silent: Option<bool>,
}

impl BuildOptions {
    /// The options of `builder.build(tag, dir, file, isolation)`, where `""` means the default.
    pub fn positional(file: &str, isolation: &str) -> BuildOptions {
        let given = |s: &str| (!s.is_empty()).then(|| s.to_string());
        BuildOptions {
            file: given(file),
            isolation: given(isolation),
            ..BuildOptions::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_images() {
        assert!(check_container_path("path", "/etc/passwd").is_ok());
        assert!(check_container_path("path", "etc/passwd").is_err());
        assert!(check_container_path("path", "/etc/../x").is_err());
        assert!(check_image("image", "scratch").is_ok());
        assert!(check_image("image", "UPPER").is_err());
    }

    #[test]
    fn config_keys_and_entries() {
        // (given, canonical key or None when unknown)
        let cases = [
            ("ENV", Some("env")),
            ("Working_Dir", Some("workingdir")),
            ("workdir", Some("workingdir")),
            ("healthcheck_retries", Some("healthcheck-retries")),
            ("stop-signal", Some("stop-signal")),
            ("colour", None),
            ("", None),
        ];
        for (given, want) in cases {
            assert_eq!(config_key(given).ok().as_deref(), want, "{given}");
        }
        let e = config_key("colour").unwrap_err();
        assert!(e.to_string().contains("unknown key `colour`"), "{e}");

        assert_eq!(
            env_entry("MODE", "a=b").unwrap(),
            ("env".into(), ConfigValue::One("MODE=a=b".into()))
        );
        for bad in ["", "A=B", "A\0"] {
            let e = env_entry(bad, "v").unwrap_err();
            assert!(matches!(e, BuildahError::InvalidArgument { .. }), "{bad:?}");
        }
        assert_eq!(
            label_entry("app", "web"),
            ("label".into(), ConfigValue::One("app=web".into()))
        );
    }

    #[test]
    fn positional_build_options() {
        assert_eq!(BuildOptions::positional("", ""), BuildOptions::default());
        let o = BuildOptions::positional("Containerfile.dev", "chroot");
        assert_eq!(o.file.as_deref(), Some("Containerfile.dev"));
        assert_eq!(o.isolation.as_deref(), Some("chroot"));
    }

    #[test]
    fn builders_show_and_name_themselves() {
        let mut b = Builder {
            name: "web".into(),
            container_id: "cid".into(),
            image: "scratch".into(),
            ..Builder::default()
        };
        assert_eq!(
            b.to_string(),
            "Builder(name: web, image: scratch, container: cid)"
        );
        assert_eq!(b.id().unwrap(), "cid");
        assert_eq!(b.resource_name(), "web");
        b.remote = Some(Remote::parse("root@10.0.0.5:2222").unwrap());
        assert_eq!(b.resource_name(), "web@root@10.0.0.5:2222");
        b.container_id.clear();
        assert!(b.id().unwrap_err().to_string().contains("was removed"));
    }
}
