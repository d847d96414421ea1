//! Pure argv builders: every buildah command herodo runs, as the arguments after `buildah`,
//! and [`command`], the one place that decides where it runs (here, or over ssh through
//! [`Remote::ssh`]). Values a script hands over are checked here, before anything runs; secret
//! values (env values, build args) are secret arguments, shown as `***`.

use super::{
    check_container_path, check_format, check_image, check_isolation, config_key, BuildOptions,
    BuildahError, CommitOptions, ConfigEntry, ConfigValue, Remote, RunWhat, JSON_ARRAY_KEYS,
    SWITCH_KEYS,
};
use crate::common::validate;
use crate::exec::{Arg, Cmd};

type Result<T> = std::result::Result<T, BuildahError>;

/// The format that makes `inspect` print `ID BASE-IMAGE` for a working container.
pub const CONTAINER_FORMAT: &str = "{{.ContainerID}} {{.FromImage}}";

fn plain(value: impl Into<String>) -> Arg {
    Arg {
        value: value.into(),
        secret: false,
    }
}

fn secret(value: impl Into<String>) -> Arg {
    Arg {
        value: value.into(),
        secret: true,
    }
}

fn plains<const N: usize>(values: [&str; N]) -> Vec<Arg> {
    values.into_iter().map(plain).collect()
}

/// An argv as a shell-safe command line (each element single-quoted as needed).
pub fn quote_argv(argv: &[String]) -> String {
    argv.iter()
        .map(|a| shell_words::quote(a).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `buildah ARGS`, locally or over SSH. Over SSH the arguments become one quoted command line,
/// which is secret as a whole when any argument is.
pub fn command(remote: Option<&Remote>, args: Vec<Arg>) -> Cmd {
    match remote {
        None => {
            let mut c = Cmd::new("buildah");
            c.args = args;
            c
        }
        Some(r) => {
            let secret = args.iter().any(|a| a.secret);
            let mut full = vec!["buildah".to_string()];
            full.extend(args.into_iter().map(|a| a.value));
            r.ssh(quote_argv(&full), secret)
        }
    }
}

/// `from [--cidfile FILE] --name NAME IMAGE`.
pub fn from(name: &str, image: &str, cidfile: Option<&str>) -> Vec<Arg> {
    let mut a = plains(["from"]);
    if let Some(f) = cidfile {
        a.extend(plains(["--cidfile", f]));
    }
    a.extend(plains(["--name", name, image]));
    a
}

/// `inspect` of a working container: its id and base image (see [`super::parse::container_line`]).
pub fn inspect_container(name: &str) -> Vec<Arg> {
    plains([
        "inspect",
        "--type",
        "container",
        "--format",
        CONTAINER_FORMAT,
        name,
    ])
}

/// `inspect` of an image: succeeds when the image exists.
pub fn inspect_image(image: &str) -> Vec<Arg> {
    plains([
        "inspect",
        "--type",
        "image",
        "--format",
        "{{.FromImageID}}",
        image,
    ])
}

pub fn containers() -> Vec<Arg> {
    plains(["containers", "--json"])
}

pub fn images() -> Vec<Arg> {
    plains(["images", "--json"])
}

/// `run [--isolation I] ID -- COMMAND`: a shell line runs under `sh -c`.
pub fn run(id: &str, what: &RunWhat, isolation: Option<&str>) -> Result<Vec<Arg>> {
    let mut a = plains(["run"]);
    if let Some(i) = isolation {
        check_isolation(i)?;
        a.extend(plains(["--isolation", i]));
    }
    a.extend(plains([id, "--"]));
    match what {
        RunWhat::Shell(line) => a.extend(plains(["sh", "-c", line])),
        RunWhat::Argv(argv) if argv.is_empty() => {
            return Err(BuildahError::invalid("command", "the argv is empty"))
        }
        RunWhat::Argv(argv) => a.extend(argv.iter().map(plain)),
    }
    Ok(a)
}

/// How host content enters a working container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyVerb {
    /// `buildah copy`: files and directories as they are.
    Copy,
    /// `buildah add`: archives are unpacked and URLs fetched.
    Add,
}

/// `copy|add [--chmod MODE] ID SOURCE DESTINATION`; the destination must be an absolute
/// container path, the mode (permission bits, octal on the command line) at most `0o7777`.
pub fn copy(verb: CopyVerb, id: &str, src: &str, dst: &str, mode: Option<u32>) -> Result<Vec<Arg>> {
    check_container_path("destination", dst)?;
    let verb = match verb {
        CopyVerb::Copy => "copy",
        CopyVerb::Add => "add",
    };
    let mut a = plains([verb]);
    a.extend(chmod(mode)?);
    a.extend(plains([id, src, dst]));
    Ok(a)
}

/// `--chmod MODE` for a file mode, or nothing.
fn chmod(mode: Option<u32>) -> Result<Vec<Arg>> {
    match mode {
        None => Ok(Vec::new()),
        Some(m) if m <= 0o7777 => Ok(vec![plain("--chmod"), plain(format!("{m:o}"))]),
        Some(m) => Err(BuildahError::invalid(
            "mode",
            format!("{m:#o} is not a file mode (0o0 to 0o7777, e.g. 0o755)"),
        )),
    }
}

/// `config OPTIONS ID`. Keys match case-insensitively, `_` may stand for `-`, and `workdir`
/// means `workingdir`; an unknown key is an error naming it. An array repeats the flag, except
/// for `entrypoint`, `cmd` and `shell`, where it is one JSON array (exec form). `env` values
/// are secret arguments.
pub fn config(id: &str, entries: &[ConfigEntry]) -> Result<Vec<Arg>> {
    let mut out = plains(["config"]);
    for (raw, value) in entries {
        let key = config_key(raw)?;
        let flag = format!("--{key}");
        let value_arg = |v: &String| {
            if key == "env" {
                secret(v.clone())
            } else {
                plain(v.clone())
            }
        };
        match value {
            ConfigValue::Many(items) if JSON_ARRAY_KEYS.contains(&key.as_str()) => {
                out.push(plain(flag));
                out.push(plain(serde_json::to_string(items).unwrap_or_default()));
            }
            ConfigValue::Many(items) => {
                for i in items {
                    out.push(plain(flag.clone()));
                    out.push(value_arg(i));
                }
            }
            ConfigValue::One(v) if SWITCH_KEYS.contains(&key.as_str()) => {
                out.push(plain(format!("{flag}={v}")));
            }
            ConfigValue::One(v) => {
                out.push(plain(flag));
                out.push(value_arg(v));
            }
        }
    }
    out.push(plain(id));
    Ok(out)
}

/// `commit [--format F] [--squash] [--rm] ID IMAGE`; author and message are not commit flags
/// (see [`commit_metadata`]).
pub fn commit_with(id: &str, image: &str, o: &CommitOptions) -> Result<Vec<Arg>> {
    let mut a = commit(id, image, o.format.as_deref())?;
    let at = a.len() - 2;
    let mut flags = Vec::new();
    if o.squash {
        flags.push(plain("--squash"));
    }
    if o.rm {
        flags.push(plain("--rm"));
    }
    a.splice(at..at, flags);
    Ok(a)
}

/// `config --author A --comment M --history-comment M ID`, what `podman commit --author
/// --message` records (the comment is kept in docker format, the history comment in both), or
/// None when neither is set.
pub fn commit_metadata(id: &str, o: &CommitOptions) -> Option<Vec<Arg>> {
    if o.author.is_none() && o.message.is_none() {
        return None;
    }
    let mut a = plains(["config"]);
    if let Some(au) = &o.author {
        a.extend([plain("--author"), plain(au.clone())]);
    }
    if let Some(m) = &o.message {
        a.extend([
            plain("--comment"),
            plain(m.clone()),
            plain("--history-comment"),
            plain(m.clone()),
        ]);
    }
    a.push(plain(id));
    Some(a)
}

/// `commit [--format F] ID IMAGE`.
pub fn commit(id: &str, image: &str, format: Option<&str>) -> Result<Vec<Arg>> {
    check_image("image", image)?;
    let mut a = plains(["commit"]);
    if let Some(f) = format {
        check_format(f)?;
        a.extend(plains(["--format", f]));
    }
    a.extend(plains([id, image]));
    Ok(a)
}

/// `rm ID`.
pub fn rm(id: &str) -> Vec<Arg> {
    plains(["rm", id])
}

/// `mount ID`: prints the mount point.
pub fn mount(id: &str) -> Vec<Arg> {
    plains(["mount", id])
}

pub fn umount(id: &str) -> Vec<Arg> {
    plains(["umount", id])
}

/// `rmi IMAGE`. Never `-f`: that would also remove containers someone made from the image.
pub fn rmi(image: &str) -> Vec<Arg> {
    plains(["rmi", image])
}

/// `pull [--tls-verify=false] IMAGE`.
pub fn pull(image: &str, tls_verify: bool) -> Result<Vec<Arg>> {
    check_image("image", image)?;
    let mut a = plains(["pull"]);
    if !tls_verify {
        a.push(plain("--tls-verify=false"));
    }
    a.push(plain(image));
    Ok(a)
}

/// Transports `push` takes besides a registry (`docker://`, implied when none is given).
const TRANSPORTS: &[&str] = &[
    "oci",
    "docker-archive",
    "oci-archive",
    "dir",
    "containers-storage",
];

/// `push [--tls-verify=false] IMAGE DESTINATION`; a destination with no transport is a
/// registry reference and gets `docker://`.
pub fn push(image: &str, destination: &str, tls_verify: bool) -> Result<Vec<Arg>> {
    check_image("image", image)?;
    let has_transport = destination.contains("://")
        || destination
            .split_once(':')
            .is_some_and(|(t, _)| TRANSPORTS.contains(&t));
    let dest = if has_transport {
        destination.to_string()
    } else {
        check_image("destination", destination)?;
        format!("docker://{destination}")
    };
    let mut a = plains(["push"]);
    if !tls_verify {
        a.push(plain("--tls-verify=false"));
    }
    a.extend([plain(image), plain(dest)]);
    Ok(a)
}

/// `tag IMAGE NEW_NAME`.
pub fn tag(image: &str, new_name: &str) -> Result<Vec<Arg>> {
    check_image("image", image)?;
    check_image("new_name", new_name)?;
    Ok(plains(["tag", image, new_name]))
}

/// `bud -t TAG [-f FILE] [--format F] [--isolation I] [--build-arg K=V]... CONTEXT`.
/// Build-arg values go in as secret arguments (shown as `***`).
/// `bud`: a `local` build takes build arg values from its environment ([`bud_env`]); a remote
/// one has them in argv, as secret arguments.
pub fn bud(tag: &str, context: &str, o: &BuildOptions, local: bool) -> Result<Vec<Arg>> {
    check_image("tag", tag)?;
    let mut a = plains(["bud", "-t", tag]);
    if let Some(f) = &o.file {
        a.extend(plains(["-f", f]));
    }
    if let Some(f) = &o.format {
        check_format(f)?;
        a.extend(plains(["--format", f]));
    }
    if let Some(i) = &o.isolation {
        check_isolation(i)?;
        a.extend(plains(["--isolation", i]));
    }
    for (k, v) in &o.build_args {
        validate::env_name("env", k).map_err(|_| {
            BuildahError::invalid("build_args", format!("`{k}` is not a valid argument name"))
        })?;
        a.push(plain("--build-arg"));
        if local && build_arg_from_env(k) {
            // The value comes from buildah's environment (`KEY=*** buildah ... --build-arg
            // KEY`): the name shows, the value never reaches argv.
            a.push(plain(k.clone()));
        } else {
            a.push(secret(format!("{k}={v}")));
        }
    }
    a.push(plain(context));
    Ok(a)
}

/// Whether build arg `key` is passed through buildah's environment (a local build, see
/// [`bud_env`]): not for names buildah itself or the libraries it runs on read.
pub fn build_arg_from_env(key: &str) -> bool {
    const OWN: [&str; 8] = [
        "PATH", "HOME", "USER", "SHELL", "TMPDIR", "TZ", "LANG", "TERM",
    ];
    const PREFIXES: [&str; 7] = [
        "LD_",
        "LC_",
        "XDG_",
        "BUILDAH",
        "CONTAINERS",
        "STORAGE",
        "REGISTRIES",
    ];
    !OWN.contains(&key)
        && !PREFIXES.iter().any(|p| key.starts_with(p))
        && !key.contains("PROXY")
        && !key.contains("proxy")
}

/// The environment of a local `bud`: the build args [`bud`] names without a value.
pub fn bud_env(o: &BuildOptions) -> Vec<(String, String)> {
    o.build_args
        .iter()
        .filter(|(k, _)| build_arg_from_env(k))
        .cloned()
        .collect()
}

/// The build host's side of `write_content`: the content arrives on stdin, goes to a temp file
/// there, and `buildah copy` puts it at PATH. Every value is quoted; `$t` stays a variable.
pub fn remote_write_script(id: &str, path: &str, mode: Option<u32>) -> Result<String> {
    let mut words: Vec<String> = vec!["buildah".into(), "copy".into()];
    words.extend(chmod(mode)?.into_iter().map(|a| a.value));
    words.extend([id.into(), "\"$t\"".into(), path.into()]);
    let copy = quote_argv(&words).replace("'\"$t\"'", "\"$t\"");
    Ok(format!(
        "t=$(mktemp) && cat > \"$t\" && {copy}; rc=$?; rm -f \"$t\"; exit $rc"
    ))
}

/// The build host's side of `read_content`: [`super::rootfs::REMOTE_READ_SCRIPT`] with the
/// container and path as positional parameters, never inside the script text.
pub fn remote_read_script(id: &str, path: &str, max: usize) -> String {
    quote_argv(&[
        "sh".into(),
        "-c".into(),
        super::rootfs::REMOTE_READ_SCRIPT.into(),
        "herodo-read".into(),
        id.into(),
        path.into(),
        max.to_string(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_options_and_metadata() {
        let o = CommitOptions {
            format: Some("docker".into()),
            squash: true,
            rm: true,
            author: Some("Ops <ops@example.com>".into()),
            message: Some("first".into()),
        };
        assert_eq!(
            shown(&commit_with("cid", "localhost/x:1", &o).unwrap()),
            [
                "commit",
                "--format",
                "docker",
                "--squash",
                "--rm",
                "cid",
                "localhost/x:1"
            ]
        );
        assert_eq!(
            shown(&commit_metadata("cid", &o).unwrap()),
            [
                "config",
                "--author",
                "Ops <ops@example.com>",
                "--comment",
                "first",
                "--history-comment",
                "first",
                "cid"
            ]
        );
        assert!(commit_metadata("cid", &CommitOptions::default()).is_none());
        let a = config(
            "cid",
            &[("add_history".into(), ConfigValue::One("true".into()))],
        )
        .unwrap();
        assert_eq!(shown(&a), ["config", "--add-history=true", "cid"]);
        assert!(config(
            "cid",
            &[("os_version".into(), ConfigValue::One("1".into()))]
        )
        .is_ok());
    }

    fn shown(args: &[Arg]) -> Vec<&str> {
        args.iter().map(|a| a.value.as_str()).collect()
    }

    fn one(k: &str, v: &str) -> ConfigEntry {
        (k.into(), ConfigValue::One(v.into()))
    }

    #[test]
    fn commands_as_a_table() {
        let sh = RunWhat::Shell("echo hi".into());
        let argv = RunWhat::Argv(vec!["/bin/busybox".into(), "--install".into()]);
        let no_opts = BuildOptions::default();
        let cases: Vec<(Result<Vec<Arg>>, &str)> = vec![
            (Ok(from("b", "scratch", None)), "from --name b scratch"),
            (
                Ok(from("b", "localhost/x:1", Some("/tmp/cid"))),
                "from --cidfile /tmp/cid --name b localhost/x:1",
            ),
            (
                Ok(inspect_container("b")),
                "inspect --type container --format {{.ContainerID}} {{.FromImage}} b",
            ),
            (
                Ok(inspect_image("localhost/x:1")),
                "inspect --type image --format {{.FromImageID}} localhost/x:1",
            ),
            (Ok(containers()), "containers --json"),
            (Ok(images()), "images --json"),
            (run("cid", &sh, None), "run cid -- sh -c echo hi"),
            (
                run("cid", &argv, Some("chroot")),
                "run --isolation chroot cid -- /bin/busybox --install",
            ),
            (
                copy(CopyVerb::Copy, "cid", "/src", "/dst", None),
                "copy cid /src /dst",
            ),
            (
                copy(CopyVerb::Copy, "cid", "/src", "/dst", Some(0o755)),
                "copy --chmod 755 cid /src /dst",
            ),
            (
                copy(CopyVerb::Copy, "cid", "/src", "/dst", Some(0o4700)),
                "copy --chmod 4700 cid /src /dst",
            ),
            (
                copy(CopyVerb::Add, "cid", "https://x/y.tar", "/", None),
                "add cid https://x/y.tar /",
            ),
            (
                config("cid", &[one("ENV", "TOKEN=x")]),
                "config --env TOKEN=x cid",
            ),
            (
                commit("cid", "localhost/x:1", Some("docker")),
                "commit --format docker cid localhost/x:1",
            ),
            (
                commit("cid", "localhost/x:1", None),
                "commit cid localhost/x:1",
            ),
            (Ok(rm("cid")), "rm cid"),
            (Ok(mount("cid")), "mount cid"),
            (Ok(umount("cid")), "umount cid"),
            (Ok(rmi("localhost/x:1")), "rmi localhost/x:1"),
            (pull("localhost/x:1", true), "pull localhost/x:1"),
            (
                pull("127.0.0.1:5000/x:1", false),
                "pull --tls-verify=false 127.0.0.1:5000/x:1",
            ),
            (
                push("localhost/x:1", "127.0.0.1:5000/x:1", false),
                "push --tls-verify=false localhost/x:1 docker://127.0.0.1:5000/x:1",
            ),
            (
                push("localhost/x:1", "oci:/tmp/layout:x", true),
                "push localhost/x:1 oci:/tmp/layout:x",
            ),
            (
                push("localhost/x:1", "docker://reg/x:1", true),
                "push localhost/x:1 docker://reg/x:1",
            ),
            (
                tag("localhost/x:1", "localhost/y:2"),
                "tag localhost/x:1 localhost/y:2",
            ),
            (
                bud("localhost/app:1", "/ctx", &no_opts, true),
                "bud -t localhost/app:1 /ctx",
            ),
        ];
        for (got, want) in cases {
            let got = got.unwrap_or_else(|e| panic!("{want}: {e}"));
            assert_eq!(shown(&got).join(" "), want);
        }
    }

    #[test]
    fn bad_values_are_refused_before_anything_runs() {
        let cases: Vec<(Result<Vec<Arg>>, &str)> = vec![
            (
                run("cid", &RunWhat::Shell("x".into()), Some("vm")),
                "isolation",
            ),
            (run("cid", &RunWhat::Argv(vec![]), None), "command"),
            (
                copy(CopyVerb::Copy, "cid", "/src", "relative", None),
                "destination",
            ),
            (
                copy(CopyVerb::Copy, "cid", "/src", "/a/../b", None),
                "destination",
            ),
            (
                copy(CopyVerb::Copy, "cid", "/src", "/x", Some(0o10000)),
                "mode",
            ),
            (config("cid", &[one("colour", "red")]), "config"),
            (commit("cid", "Bad Tag", None), "image"),
            (commit("cid", "localhost/x:1", Some("tar")), "format"),
            (pull("UPPER", true), "image"),
            (push("localhost/x:1", "Not Valid", true), "destination"),
            (tag("localhost/x:1", "Bad Tag"), "new_name"),
            (
                bud("Bad Tag", "/ctx", &BuildOptions::default(), true),
                "tag",
            ),
            (
                bud(
                    "x",
                    "/ctx",
                    &BuildOptions {
                        format: Some("tar".into()),
                        ..BuildOptions::default()
                    },
                    true,
                ),
                "format",
            ),
            (
                bud(
                    "x",
                    "/ctx",
                    &BuildOptions {
                        build_args: vec![("A-B".into(), "1".into())],
                        ..BuildOptions::default()
                    },
                    true,
                ),
                "build_args",
            ),
        ];
        for (got, field) in cases {
            match got {
                Err(BuildahError::InvalidArgument { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn config_keys_are_case_insensitive_and_arrays_repeat() {
        let a = config(
            "cid",
            &[
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
            ],
        )
        .unwrap();
        let shown: Vec<(&str, bool)> = a.iter().map(|a| (a.value.as_str(), a.secret)).collect();
        assert_eq!(
            shown,
            vec![
                ("config", false),
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
                ("cid", false),
            ]
        );
        let e = config("cid", &[one("colour", "red")]).unwrap_err();
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
        assert_eq!(
            super::super::env_secrets(&entries),
            vec![CANARY, "1", "NOEQUALS"]
        );
        let mut args = config("c", &entries).unwrap();
        // Without the leading `config` and trailing id: the options alone.
        args.remove(0);
        args.pop();
        let local = command(None, args.clone());
        assert!(local.argv().contains(&format!("TOKEN={CANARY}").as_str()));
        assert_eq!(
            local.to_string(),
            "buildah --env *** --env *** --env *** --label 'a=b'"
        );
        let r = Remote::parse("root@127.0.0.1:2222").unwrap();
        let ssh = command(Some(&r), args);
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
        let what = RunWhat::Shell("echo $HOME; rm -rf /x".into());
        let c = command(Some(&r), run("ctr", &what, None).unwrap());
        // The ssh part is Remote::ssh's (pinned in remote.rs); the command line is all quoted.
        let line = "buildah run ctr -- sh -c 'echo $HOME; rm -rf /x'";
        assert_eq!(c.argv(), r.ssh(line.into(), false).argv());
        assert_eq!(c.argv()[..3], ["ssh", "-o", "BatchMode=yes"]);
        assert_eq!(c.argv().last(), Some(&line));
    }

    #[test]
    fn bud_argv_hides_build_arg_values() {
        let o = BuildOptions {
            file: Some("Containerfile".into()),
            format: Some("docker".into()),
            build_args: vec![("TOKEN".into(), "s3cret-value".into())],
            isolation: Some("chroot".into()),
            silent: None,
        };
        let c = command(None, bud("localhost/app:1", "/ctx", &o, false).unwrap());
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
        // Issue 18.15: locally the value goes through the environment: the name shows, the
        // value never reaches argv; a name buildah reads itself stays a secret argument.
        let mut o2 = o.clone();
        o2.build_args.push(("PATH".into(), "/evil".into()));
        let mut c = command(None, bud("localhost/app:1", "/ctx", &o2, true).unwrap());
        for (k, v) in bud_env(&o2) {
            c = c.env(k, v);
        }
        let shown = c.to_string();
        assert!(shown.starts_with("TOKEN=*** buildah bud"), "{shown}");
        assert!(
            shown.contains("--build-arg TOKEN --build-arg *** /ctx"),
            "{shown}"
        );
        assert!(!c.argv().contains(&"TOKEN=s3cret-value"));
        assert_eq!(
            bud_env(&o2),
            vec![("TOKEN".to_string(), "s3cret-value".to_string())]
        );
        let r = Remote::parse("root@build-host").unwrap();
        let c = command(Some(&r), bud("localhost/app:1", "/ctx", &o, false).unwrap());
        assert!(c.to_string().ends_with("root@build-host -- ***"), "{c}");
    }

    #[test]
    fn remote_scripts_quote_values() {
        let w = remote_write_script("cid", "/etc/it's here", None).unwrap();
        assert_eq!(
            w,
            "t=$(mktemp) && cat > \"$t\" && buildah copy cid \"$t\" '/etc/it'\\''s here'; \
             rc=$?; rm -f \"$t\"; exit $rc"
        );
        let w = remote_write_script("cid", "/bin/hi", Some(0o755)).unwrap();
        assert!(
            w.contains("buildah copy --chmod 755 cid \"$t\" /bin/hi;"),
            "{w}"
        );
        assert!(remote_write_script("cid", "/bin/hi", Some(0o10000)).is_err());
        let r = remote_read_script("cid", "/etc/x'; rm -rf /", 100);
        let words = shell_words::split(&r).unwrap();
        assert_eq!(words[..2], ["sh", "-c"]);
        assert_eq!(words[2], super::super::rootfs::REMOTE_READ_SCRIPT);
        assert_eq!(
            words[3..],
            ["herodo-read", "cid", "/etc/x'; rm -rf /", "100"]
        );
    }
}
