//! buildah operations through the host's executor.
//!
//! Ownership: a working container or image tag is registered for cleanup (and a builder put
//! in the owner ledger) only when herodo created it. Re-attaching to an existing builder, or
//! committing, tagging, pulling or building over a tag that already exists, never takes it
//! over: the test runner's cleanup must not remove what was there before.

use std::path::Path;

pub use super::parse::ImageRow;
use super::{
    buildah, buildah_args, check_container_path, check_image, check_name, classify, owners, parse,
    quote_argv, rootfs, BuildOptions, BuildahError, ConfigValue, Remote,
};
use crate::exec::CommandResult;
use crate::exec::{Arg, Cmd, ExecError, Output};
use crate::host::{Host, Resource};

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

/// A failed command with every registered secret scrubbed from its output tails: a tool may
/// echo an env value back in its error message.
fn scrub(host: &Host, e: ExecError) -> ExecError {
    match e {
        ExecError::Failed {
            cmd,
            status,
            stdout,
            stderr,
        } => ExecError::Failed {
            cmd: host.redact(&cmd),
            status,
            stdout: host.redact(&stdout),
            stderr: host.redact(&stderr),
        },
        ExecError::Timeout {
            cmd,
            after,
            stdout,
            stderr,
        } => ExecError::Timeout {
            cmd: host.redact(&cmd),
            after,
            stdout: host.redact(&stdout),
            stderr: host.redact(&stderr),
        },
        other => other,
    }
}

fn run(host: &Host, cmd: Cmd, what: &'static str, subject: &str, debug: bool) -> Result<Output> {
    if debug {
        eprintln!("[buildah] {cmd}");
    }
    let out = host
        .exec_checked(cmd)
        .map_err(|e| classify(scrub(host, e), what, subject))?;
    if debug && !out.stdout.is_empty() {
        eprint!("{}", host.redact(&out.stdout));
    }
    Ok(out)
}

fn result(cmd: &Cmd, out: &Output) -> CommandResult {
    CommandResult::from_output(cmd, out)
}

fn plain(value: impl Into<String>) -> Arg {
    Arg {
        value: value.into(),
        secret: false,
    }
}

fn last_line(s: &str) -> String {
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string()
}

/// buildah's words for "there is no such image/container".
fn is_missing(stderr: &str) -> bool {
    let s = stderr.to_ascii_lowercase();
    ["image not known", "no such image", "container not known"]
        .iter()
        .any(|m| s.contains(m))
}

/// Whether `image` names an image already. When buildah cannot tell, assume it does: leaking
/// a tag is better than removing someone else's. Not asked under `--dry-run` (nothing is
/// registered for cleanup there anyway).
fn image_exists(host: &Host, remote: Option<&Remote>, image: &str) -> bool {
    if host.settings.dry_run {
        return true;
    }
    let cmd = buildah(
        remote,
        vec![
            "inspect".into(),
            "--type".into(),
            "image".into(),
            "--format".into(),
            "{{.FromImageID}}".into(),
            image.into(),
        ],
    );
    match host.exec(cmd) {
        Ok(out) => out.success() || !is_missing(&out.stderr),
        Err(_) => true,
    }
}

/// Register the image tag `image` for cleanup, unless it `existed` before herodo made it.
fn register_image(host: &Host, remote: Option<&Remote>, image: &str, existed: bool) {
    if existed {
        return;
    }
    let (r, i) = (remote.cloned(), image.to_string());
    host.resources.forget("image", image);
    // Not `rmi -f`: that would also remove containers someone else made from the image.
    host.resources
        .register(Resource::new("image", image, move |h| {
            match h.exec_checked(buildah(r.as_ref(), vec!["rmi".into(), i.clone()])) {
                Ok(_) => Ok(()),
                Err(ExecError::Failed { stderr, .. }) if is_missing(&stderr) => Ok(()),
                Err(e) => Err(h.redact(&e.to_string())),
            }
        }));
}

impl Builder {
    fn cmd(&self, argv: Vec<String>) -> Cmd {
        buildah(self.remote.as_ref(), argv)
    }

    fn exec(&self, host: &Host, argv: Vec<String>) -> Result<(Cmd, Output)> {
        let cmd = self.cmd(argv);
        let out = run(host, cmd.clone(), "container", &self.name, self.debug_mode)?;
        Ok((cmd, out))
    }

    fn id(&self) -> Result<String> {
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
    fn resource_name(&self) -> String {
        match &self.remote {
            None => self.name.clone(),
            Some(r) => format!("{}@{}", self.name, r.label()),
        }
    }

    /// Attach to the working container `name` if it exists, else create it from `image`.
    pub fn open(host: &Host, name: &str, image: &str, remote: Option<Remote>) -> Result<Builder> {
        check_name(name)?;
        check_image("image", image)?;
        let remote = remote.map(Remote::checked).transpose()?;
        let mut b = Builder {
            name: name.into(),
            image: image.into(),
            remote,
            ..Builder::default()
        };
        // Create first (one command); only a name already taken means re-attaching.
        let cidfile = if b.remote.is_none() && !host.settings.dry_run {
            Some(
                crate::common::tmp::mktemp()
                    .map_err(|e| BuildahError::invalid("builder", e.to_string()))?,
            )
        } else {
            None
        };
        let mut argv = vec!["from".to_string()];
        if let Some(f) = &cidfile {
            let _ = std::fs::remove_file(f);
            argv.extend(["--cidfile".into(), f.display().to_string()]);
        }
        argv.extend(["--name".into(), name.into(), image.into()]);
        let created = host.exec(b.cmd(argv.clone()))?;
        let cid = cidfile
            .as_ref()
            .and_then(|f| std::fs::read_to_string(f).ok());
        if let Some(f) = &cidfile {
            let _ = std::fs::remove_file(f);
        }
        if !created.success() {
            if !created.stderr.contains("already in use") {
                return Err(classify(
                    scrub(host, ExecError::failed(&b.cmd(argv), &created)),
                    "image",
                    image,
                ));
            }
            return b.reattach(host);
        }
        b.container_id = match cid.filter(|c| !c.trim().is_empty()) {
            Some(c) => c.trim().to_string(),
            None if host.settings.dry_run => format!("dry-run-{name}"),
            None => b
                .lookup(host)?
                .map(|(id, _)| id)
                .unwrap_or_else(|| name.to_string()),
        };
        // herodo made it: it is ours to clean up, and a later run may reap it if we die.
        b.track(host);
        if let Err(e) = owners::record(host, name, &b.container_id, b.remote.as_ref()) {
            eprintln!("herodo: warning: {e}");
        }
        Ok(b)
    }

    /// (id, base image) of the working container with this builder's name, if there is one.
    /// `inspect` gives the name the builder was made from (`buildah containers` shows the
    /// image's first name now, which changes when someone tags the image).
    fn lookup(&self, host: &Host) -> Result<Option<(String, String)>> {
        let cmd = self.cmd(vec![
            "inspect".into(),
            "--type".into(),
            "container".into(),
            "--format".into(),
            "{{.ContainerID}} {{.FromImage}}".into(),
            self.name.clone(),
        ]);
        if self.debug_mode {
            eprintln!("[buildah] {cmd}");
        }
        let out = host.exec(cmd.clone()).map_err(|e| scrub(host, e))?;
        if !out.success() {
            if is_missing(&out.stderr) {
                return Ok(None);
            }
            let failed = scrub(host, ExecError::failed(&cmd, &out));
            return Err(classify(failed, "container", &self.name));
        }
        let line = last_line(&out.stdout);
        let (id, image) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        if id.is_empty() && !host.settings.dry_run {
            return Err(BuildahError::Parse {
                cmd: cmd.to_string(),
                reason: format!("no container id in `{line}`"),
            });
        }
        // A builder made from scratch has no base image name.
        let image = if image.trim().is_empty() {
            "scratch"
        } else {
            image.trim()
        };
        Ok(Some((id.to_string(), image.to_string())))
    }

    /// Use the existing working container of this name. It is not ours: it is not registered
    /// for cleanup. When it is in the owner ledger under a dead herodo (a builder an earlier
    /// run made and left on purpose), this run adopts it so that it is not reaped while in use.
    fn reattach(mut self, host: &Host) -> Result<Builder> {
        let (id, image) = self.lookup(host)?.ok_or_else(|| {
            BuildahError::invalid(
                "name",
                format!(
                    "`{}` is used by a container that is not a buildah working container",
                    self.name
                ),
            )
        })?;
        self.container_id = id;
        self.image = image;
        let remote = self.remote.as_ref();
        if let Some(rec) = owners::read(host, &self.name, remote) {
            if rec.container_id == self.container_id
                && !crate::common::owner::owner_alive(&rec.owner)
            {
                if let Err(e) = owners::record(host, &self.name, &self.container_id, remote) {
                    eprintln!("herodo: warning: {e}");
                }
            }
        }
        Ok(self)
    }

    /// Register the cleanup of a working container herodo created: remove it by id (a
    /// different container that took the name since is left alone) and drop its ledger record.
    fn track(&self, host: &Host) {
        let (r, id, name) = (
            self.remote.clone(),
            self.container_id.clone(),
            self.name.clone(),
        );
        let shown = self.resource_name();
        host.resources.forget("buildah-container", &shown);
        host.resources
            .register(Resource::new("buildah-container", shown, move |h| {
                let res = h.exec_checked(buildah(r.as_ref(), vec!["rm".into(), id.clone()]));
                match res {
                    Ok(_) => {}
                    Err(ExecError::Failed { stderr, .. }) if is_missing(&stderr) => {}
                    Err(e) => return Err(h.redact(&e.to_string())),
                }
                owners::forget(h, &name, &id, r.as_ref());
                Ok(())
            }));
    }

    /// `buildah run`: a shell line (`sh -c`) or an argv, optionally with an isolation.
    pub fn run(
        &self,
        host: &Host,
        what: RunWhat,
        isolation: Option<&str>,
    ) -> Result<CommandResult> {
        let mut argv = vec!["run".to_string()];
        if let Some(i) = isolation {
            super::check_isolation(i)?;
            argv.extend(["--isolation".into(), i.into()]);
        }
        argv.push(self.id()?);
        argv.push("--".into());
        match what {
            RunWhat::Shell(line) => argv.extend(["sh".into(), "-c".into(), line]),
            RunWhat::Argv(a) => {
                if a.is_empty() {
                    return Err(BuildahError::invalid("command", "the argv is empty"));
                }
                argv.extend(a);
            }
        }
        let (cmd, out) = self.exec(host, argv)?;
        Ok(result(&cmd, &out))
    }

    fn copy_like(&self, host: &Host, verb: &str, src: &str, dst: &str) -> Result<CommandResult> {
        check_container_path("destination", dst)?;
        let remote_url =
            verb == "add" && (src.starts_with("http://") || src.starts_with("https://"));
        if self.remote.is_none() && !remote_url && !std::path::Path::new(src).exists() {
            return Err(BuildahError::NotFound {
                what: "file",
                name: src.into(),
                command: None,
            });
        }
        let (cmd, out) = self.exec(host, vec![verb.into(), self.id()?, src.into(), dst.into()])?;
        Ok(result(&cmd, &out))
    }

    pub fn copy(&self, host: &Host, src: &str, dst: &str) -> Result<CommandResult> {
        self.copy_like(host, "copy", src, dst)
    }

    pub fn add(&self, host: &Host, src: &str, dst: &str) -> Result<CommandResult> {
        self.copy_like(host, "add", src, dst)
    }

    /// Write `content` to `path` inside the container (no shell needed in the image).
    /// `buildah copy` resolves the destination inside the container root itself (it copies
    /// from within a chroot), so a symlink in the image cannot redirect the write to the host.
    pub fn write_content(&self, host: &Host, content: &str, path: &str) -> Result<CommandResult> {
        check_container_path("path", path)?;
        let id = self.id()?;
        match &self.remote {
            None => {
                let tmp = crate::common::tmp::mktemp()
                    .map_err(|e| BuildahError::invalid("write_content", e.to_string()))?;
                let res = std::fs::write(&tmp, content)
                    .map_err(|e| {
                        BuildahError::invalid(
                            "write_content",
                            format!("cannot write {}: {e}", tmp.display()),
                        )
                    })
                    .and_then(|_| {
                        self.exec(
                            host,
                            vec!["copy".into(), id, tmp.display().to_string(), path.into()],
                        )
                    });
                let _ = std::fs::remove_file(&tmp);
                let (cmd, out) = res?;
                Ok(result(&cmd, &out))
            }
            Some(r) => {
                let copy = quote_argv(&[
                    "buildah".into(),
                    "copy".into(),
                    id,
                    "\"$t\"".into(),
                    path.into(),
                ])
                .replace("'\"$t\"'", "\"$t\"");
                let script =
                    format!("t=$(mktemp) && cat > \"$t\" && {copy}; rc=$?; rm -f \"$t\"; exit $rc");
                let cmd = r.ssh(script, false).stdin(content.as_bytes().to_vec());
                let out = run(host, cmd.clone(), "container", &self.name, self.debug_mode)?;
                Ok(result(&cmd, &out))
            }
        }
    }

    /// The content of the text file `path` inside the container. Symlinks are resolved inside
    /// the container's root, never on the host (see [`rootfs`]); only regular files are read.
    pub fn read_content(&self, host: &Host, path: &str) -> Result<String> {
        check_container_path("path", path)?;
        let id = self.id()?;
        let bytes = match &self.remote {
            None => {
                let root = self.mount(host)?;
                if host.settings.dry_run {
                    let _ = self.umount(host);
                    return Ok(String::new());
                }
                let read = if Path::new(&root).is_absolute() {
                    rootfs::read_in_root(Path::new(&root), path)
                } else {
                    Err(std::io::Error::other(format!(
                        "buildah mount printed `{root}`, not a mount point"
                    )))
                };
                let _ = self.umount(host);
                read.map_err(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => BuildahError::NotFound {
                        what: "file",
                        name: path.into(),
                        command: None,
                    },
                    _ => BuildahError::invalid("path", format!("cannot read {path}: {e}")),
                })?
            }
            Some(r) => {
                let script = quote_argv(&[
                    "sh".into(),
                    "-c".into(),
                    rootfs::REMOTE_READ_SCRIPT.into(),
                    "herodo-read".into(),
                    id,
                    path.into(),
                ]);
                let cmd = r.ssh(script, false);
                if self.debug_mode {
                    eprintln!("[buildah] {cmd}");
                }
                let out = host.exec(cmd.clone()).map_err(|e| scrub(host, e))?;
                // The script's own exit codes, so a remote read fails like a local one.
                match out.status.code() {
                    0 => out.stdout.into_bytes(),
                    44 => {
                        return Err(BuildahError::NotFound {
                            what: "file",
                            name: path.into(),
                            command: None,
                        })
                    }
                    45 => {
                        return Err(BuildahError::invalid(
                            "path",
                            format!("{path} is not a regular file"),
                        ))
                    }
                    _ => {
                        let failed = scrub(host, ExecError::failed(&cmd, &out));
                        return Err(classify(failed, "container", &self.name));
                    }
                }
            }
        };
        String::from_utf8(bytes)
            .map_err(|_| BuildahError::invalid("path", format!("{path} is not UTF-8 text")))
    }

    /// `buildah config`; `env` values are secrets from here on (registered before anything
    /// runs, shown as `***` in every command line).
    pub fn config(&self, host: &Host, entries: &[(String, ConfigValue)]) -> Result<CommandResult> {
        for v in super::env_secrets(entries) {
            host.register_secret(&v);
        }
        let mut args = vec![plain("config")];
        args.extend(super::config_argv(entries)?);
        args.push(plain(self.id()?));
        let cmd = buildah_args(self.remote.as_ref(), args);
        let out = run(host, cmd.clone(), "container", &self.name, self.debug_mode)?;
        Ok(result(&cmd, &out))
    }

    /// Commit to `image`; returns the image id.
    pub fn commit(&self, host: &Host, image: &str, format: Option<&str>) -> Result<String> {
        check_image("image", image)?;
        let mut argv = vec!["commit".to_string()];
        if let Some(f) = format {
            super::check_format(f)?;
            argv.extend(["--format".into(), f.into()]);
        }
        argv.extend([self.id()?, image.into()]);
        let existed = image_exists(host, self.remote.as_ref(), image);
        let (_, out) = self.exec(host, argv)?;
        register_image(host, self.remote.as_ref(), image, existed);
        Ok(if host.settings.dry_run {
            format!("dry-run-{image}")
        } else {
            last_line(&out.stdout)
        })
    }

    /// Remove the working container (and its owner record).
    pub fn remove(&mut self, host: &Host) -> Result<CommandResult> {
        let id = self.id()?;
        let (cmd, out) = self.exec(host, vec!["rm".into(), id.clone()])?;
        host.resources
            .forget("buildah-container", &self.resource_name());
        owners::forget(host, &self.name, &id, self.remote.as_ref());
        self.container_id.clear();
        Ok(result(&cmd, &out))
    }

    /// Mount the container's filesystem; returns the mount point.
    pub fn mount(&self, host: &Host) -> Result<String> {
        let (_, out) = self.exec(host, vec!["mount".into(), self.id()?])?;
        Ok(last_line(&out.stdout))
    }

    pub fn umount(&self, host: &Host) -> Result<CommandResult> {
        let (cmd, out) = self.exec(host, vec!["umount".into(), self.id()?])?;
        Ok(result(&cmd, &out))
    }
}

/// What `run` executes.
pub enum RunWhat {
    Shell(String),
    Argv(Vec<String>),
}

pub fn images(host: &Host, remote: Option<&Remote>) -> Result<Vec<ImageRow>> {
    let cmd = buildah(remote, vec!["images".into(), "--json".into()]);
    let out = run(host, cmd.clone(), "image", "", false)?;
    if host.settings.dry_run {
        return Ok(Vec::new());
    }
    parse::images(&out.stdout).map_err(|e| BuildahError::Parse {
        cmd: cmd.to_string(),
        reason: e.to_string(),
    })
}

fn simple(
    host: &Host,
    remote: Option<&Remote>,
    argv: Vec<String>,
    what: &'static str,
    subject: &str,
) -> Result<CommandResult> {
    let cmd = buildah(remote, argv);
    let out = run(host, cmd.clone(), what, subject, false)?;
    Ok(result(&cmd, &out))
}

pub fn image_remove(host: &Host, remote: Option<&Remote>, image: &str) -> Result<CommandResult> {
    check_image("image", image)?;
    let r = simple(
        host,
        remote,
        vec!["rmi".into(), image.into()],
        "image",
        image,
    )?;
    host.resources.forget("image", image);
    Ok(r)
}

fn tls(argv: &mut Vec<String>, tls_verify: bool) {
    if !tls_verify {
        argv.push("--tls-verify=false".into());
    }
}

pub fn image_pull(
    host: &Host,
    remote: Option<&Remote>,
    image: &str,
    tls_verify: bool,
) -> Result<CommandResult> {
    check_image("image", image)?;
    let mut argv = vec!["pull".to_string()];
    tls(&mut argv, tls_verify);
    argv.push(image.into());
    let existed = image_exists(host, remote, image);
    let r = simple(host, remote, argv, "image", image)?;
    register_image(host, remote, image, existed);
    Ok(r)
}

/// Push `image` to `destination` (a registry reference; `docker://` is added when no transport
/// is given).
pub fn image_push(
    host: &Host,
    remote: Option<&Remote>,
    image: &str,
    destination: &str,
    tls_verify: bool,
) -> Result<CommandResult> {
    check_image("image", image)?;
    let dest = if destination.contains("://")
        || destination.contains(':')
            && destination.split(':').next().is_some_and(|t| {
                matches!(
                    t,
                    "oci" | "docker-archive" | "oci-archive" | "dir" | "containers-storage"
                )
            }) {
        destination.to_string()
    } else {
        check_image("destination", destination)?;
        format!("docker://{destination}")
    };
    let mut argv = vec!["push".to_string()];
    tls(&mut argv, tls_verify);
    argv.extend([image.into(), dest]);
    simple(host, remote, argv, "image", image)
}

pub fn image_tag(
    host: &Host,
    remote: Option<&Remote>,
    image: &str,
    new_name: &str,
) -> Result<CommandResult> {
    check_image("image", image)?;
    check_image("new_name", new_name)?;
    let existed = image_exists(host, remote, new_name);
    let r = simple(
        host,
        remote,
        vec!["tag".into(), image.into(), new_name.into()],
        "image",
        image,
    )?;
    register_image(host, remote, new_name, existed);
    Ok(r)
}

/// Build a Containerfile; returns the result of `buildah bud`. A failing step is `build_failed`.
pub fn build(
    host: &Host,
    remote: Option<&Remote>,
    tag: &str,
    context: &str,
    o: &BuildOptions,
) -> Result<CommandResult> {
    // Build-arg values are where tokens go: secrets from the moment they are handed over.
    for (_, v) in &o.build_args {
        host.register_secret(v);
    }
    let remote = remote.cloned().map(Remote::checked).transpose()?;
    let remote = remote.as_ref();
    if remote.is_none() {
        let dir = std::path::Path::new(context);
        if !dir.is_dir() {
            return Err(BuildahError::NotFound {
                what: "build context",
                name: context.into(),
                command: None,
            });
        }
        let file = o.file.as_deref().map(|f| {
            if std::path::Path::new(f).is_absolute() {
                f.into()
            } else {
                dir.join(f)
            }
        });
        let found = match file {
            Some(f) => f.is_file(),
            None => dir.join("Containerfile").is_file() || dir.join("Dockerfile").is_file(),
        };
        if !found {
            return Err(BuildahError::NotFound {
                what: "Containerfile",
                name: o
                    .file
                    .clone()
                    .unwrap_or_else(|| format!("{context}/Containerfile")),
                command: None,
            });
        }
    }
    let cmd = super::bud_cmd(remote, tag, context, o)?;
    let existed = image_exists(host, remote, tag);
    let out = host.exec(cmd.clone()).map_err(|e| scrub(host, e))?;
    if !out.success() {
        // buildah names the failing step in stderr; else the last STEP it printed.
        let step = out
            .stderr
            .lines()
            .rev()
            .find(|l| l.contains("error building at STEP"))
            .or_else(|| out.stdout.lines().rev().find(|l| l.starts_with("STEP ")))
            .map(|l| format!(" at {}", host.redact(l.trim())))
            .unwrap_or_default();
        let failed = scrub(host, ExecError::failed(&cmd, &out));
        return Err(BuildahError::BuildFailed {
            tag: tag.into(),
            code: out.status.code(),
            step,
            command: crate::error::Classify::info(&failed).command.map(Box::new),
        });
    }
    register_image(host, remote, tag, existed);
    Ok(result(&cmd, &out))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::exec::Status;
    use crate::host::recording_host;

    /// A recording host whose state directory is a fresh temp dir (removed on drop).
    struct TestHost {
        host: Host,
        rec: std::sync::Arc<crate::exec::RecordingExecutor>,
        dir: std::path::PathBuf,
    }

    impl Drop for TestHost {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn host() -> TestHost {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("herodo-bah-ops-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (mut host, rec) = recording_host();
        host.state_dir = dir.clone();
        TestHost { host, rec, dir }
    }

    fn failed(stderr: &str) -> Output {
        let mut o = Output::empty_success();
        o.status = Status::Exited(125);
        o.stderr = stderr.into();
        o
    }

    fn stdout(text: &str) -> Output {
        let mut o = Output::empty_success();
        o.stdout = text.into();
        o
    }

    #[test]
    fn reattaching_takes_nothing_over() {
        // The name is taken: re-attach to the existing working container, but do not register
        // it for cleanup nor record it as ours.
        let t = host();
        t.rec.reply(failed(
            "Error: the container name \"b1\" is already in use by abc",
        ));
        t.rec.reply(stdout("abc localhost/x:1\n"));
        let b = Builder::open(&t.host, "b1", "scratch", None).unwrap();
        assert_eq!(
            (b.container_id.as_str(), b.image.as_str()),
            ("abc", "localhost/x:1")
        );
        let argvs = t.rec.argvs();
        assert_eq!(argvs[0][..2], ["buildah", "from"]);
        assert_eq!(argvs[0][4..], ["--name", "b1", "scratch"]);
        assert_eq!(
            argvs[1],
            vec![
                "buildah",
                "inspect",
                "--type",
                "container",
                "--format",
                "{{.ContainerID}} {{.FromImage}}",
                "b1"
            ]
        );
        assert!(t.host.resources.is_empty());
        assert!(owners::read(&t.host, "b1", None).is_none());

        // Any other failure is an error, not a re-attach.
        let t = host();
        t.rec
            .reply(failed("Error: localhost/nope: image not known"));
        assert!(matches!(
            Builder::open(&t.host, "b2", "localhost/nope:1", None),
            Err(BuildahError::NotFound { .. })
        ));
        assert_eq!(t.rec.calls().len(), 1);
    }

    #[test]
    fn reattaching_adopts_a_dead_owners_builder() {
        let t = host();
        let rec = owners::OwnerRecord {
            owner: "otherboot-1-1".into(),
            name: "kept".into(),
            container_id: "abc".into(),
            remote: None,
        };
        crate::common::state::write_json(&owners::record_path(&t.dir, "kept", None), &rec).unwrap();
        t.rec
            .reply(failed("Error: name \"kept\" is already in use by abc"));
        t.rec.reply(stdout("abc \n"));
        let b = Builder::open(&t.host, "kept", "localhost/x:1", None).unwrap();
        assert_eq!(b.image, "scratch");
        let now = owners::read(&t.host, "kept", None).unwrap();
        assert_eq!(now.owner, crate::common::owner::owner_tag());
        assert!(t.host.resources.is_empty());
    }

    #[test]
    fn created_builders_are_owned_tracked_and_forgotten() {
        let t = host();
        t.rec.reply(Output::empty_success());
        t.rec.reply(stdout("cid1 localhost/x:1\n"));
        let mut b = Builder::open(&t.host, "mine", "localhost/x:1", None).unwrap();
        assert_eq!(b.container_id, "cid1");
        let rec = owners::read(&t.host, "mine", None).unwrap();
        assert_eq!(rec.owner, crate::common::owner::owner_tag());
        assert_eq!(rec.container_id, "cid1");
        assert_eq!(t.host.resources.len(), 1);

        // The runner's cleanup removes it by id and drops the record.
        let cleaned = t.host.cleanup_resources();
        assert_eq!(cleaned.len(), 1);
        assert!(cleaned[0].error.is_none());
        assert_eq!(
            t.rec.argvs().last().unwrap(),
            &vec!["buildah", "rm", "cid1"]
        );
        assert!(owners::read(&t.host, "mine", None).is_none());

        // remove() does the same.
        owners::record(&t.host, "mine", "cid1", None).unwrap();
        b.remove(&t.host).unwrap();
        assert!(owners::read(&t.host, "mine", None).is_none());
        assert!(b.container_id.is_empty());
    }

    #[test]
    fn run_config_commit_argv() {
        let t = host();
        let h = &t.host;
        let b = Builder {
            name: "b".into(),
            container_id: "cid".into(),
            image: "scratch".into(),
            ..Builder::default()
        };
        b.run(h, RunWhat::Shell("echo hi".into()), None).unwrap();
        b.run(
            h,
            RunWhat::Argv(vec!["/bin/busybox".into(), "--install".into()]),
            Some("chroot"),
        )
        .unwrap();
        b.config(
            h,
            &[(
                "ENV".into(),
                ConfigValue::One("TOKEN=S3CR3T-CANARY-9f8e7d".into()),
            )],
        )
        .unwrap();
        // inspect (the tag exists), then commit
        t.rec.reply(Output::empty_success());
        t.rec
            .reply(stdout("Getting image source signatures\nsha256abc\n"));
        let id = b.commit(h, "localhost/x:1", Some("docker")).unwrap();
        assert_eq!(id, "sha256abc");
        assert_eq!(
            t.rec.argvs(),
            vec![
                vec!["buildah", "run", "cid", "--", "sh", "-c", "echo hi"],
                vec![
                    "buildah",
                    "run",
                    "--isolation",
                    "chroot",
                    "cid",
                    "--",
                    "/bin/busybox",
                    "--install"
                ],
                vec![
                    "buildah",
                    "config",
                    "--env",
                    "TOKEN=S3CR3T-CANARY-9f8e7d",
                    "cid"
                ],
                vec![
                    "buildah",
                    "inspect",
                    "--type",
                    "image",
                    "--format",
                    "{{.FromImageID}}",
                    "localhost/x:1"
                ],
                vec![
                    "buildah",
                    "commit",
                    "--format",
                    "docker",
                    "cid",
                    "localhost/x:1"
                ],
            ]
        );
        // The env value never shows, and is scrubbed from free text from now on.
        assert_eq!(t.rec.calls()[2].to_string(), "buildah config --env *** cid");
        assert_eq!(h.redact("echo S3CR3T-CANARY-9f8e7d"), "echo ***");
        assert!(b.run(h, RunWhat::Shell("x".into()), Some("vm")).is_err());
    }

    #[test]
    fn config_errors_are_scrubbed() {
        let t = host();
        let b = Builder {
            name: "b".into(),
            container_id: "cid".into(),
            ..Builder::default()
        };
        t.rec.reply(failed(
            "Error: bad value TOKEN=S3CR3T-CANARY-9f8e7d and S3CR3T-CANARY-9f8e7d",
        ));
        let e = b
            .config(
                &t.host,
                &[(
                    "env".into(),
                    ConfigValue::Many(vec!["TOKEN=S3CR3T-CANARY-9f8e7d".into()]),
                )],
            )
            .unwrap_err();
        let info = crate::error::Classify::info(&e);
        let shown = format!("{e} {info:?}");
        assert!(!shown.contains("S3CR3T"), "{shown}");
        assert!(shown.contains("bad value"), "{shown}");
    }

    #[test]
    fn existing_tags_are_not_taken_over() {
        let missing = || failed("Error: localhost/new:1: image not known");
        // The tag exists: tagging over it registers nothing.
        let t = host();
        t.rec.reply(Output::empty_success());
        image_tag(&t.host, None, "localhost/x:1", "localhost/old:1").unwrap();
        assert!(t.host.resources.is_empty());
        // The tag is new: it is ours.
        t.rec.reply(missing());
        image_tag(&t.host, None, "localhost/x:1", "localhost/new:1").unwrap();
        assert_eq!(t.host.resources.len(), 1);
        // Pull and commit follow the same rule.
        let t = host();
        t.rec.reply(Output::empty_success());
        image_pull(&t.host, None, "127.0.0.1:5000/x:1", false).unwrap();
        assert!(t.host.resources.is_empty());
        t.rec.reply(missing());
        image_pull(&t.host, None, "127.0.0.1:5000/y:1", false).unwrap();
        assert_eq!(t.host.resources.len(), 1);
        let b = Builder {
            name: "b".into(),
            container_id: "cid".into(),
            ..Builder::default()
        };
        t.rec.reply(Output::empty_success());
        b.commit(&t.host, "localhost/old:1", None).unwrap();
        assert_eq!(t.host.resources.len(), 1);
        // When buildah cannot tell, nothing is taken over either.
        t.rec.reply(failed("Error: storage is locked"));
        b.commit(&t.host, "localhost/unsure:1", None).unwrap();
        assert_eq!(t.host.resources.len(), 1);
        t.rec.reply(missing());
        b.commit(&t.host, "localhost/new:2", None).unwrap();
        assert_eq!(t.host.resources.len(), 2);
        // The cleanup is a plain rmi (no -f: containers made from it stay).
        t.host.cleanup_resources();
        let argvs = t.rec.argvs();
        assert!(argvs.contains(&vec![
            "buildah".to_string(),
            "rmi".into(),
            "localhost/new:2".into()
        ]));
    }

    #[test]
    fn remote_reads_pass_values_as_parameters() {
        let t = host();
        let b = Builder {
            name: "b".into(),
            container_id: "cid".into(),
            remote: Some(Remote::parse("root@10.0.0.5:2222").unwrap()),
            ..Builder::default()
        };
        t.rec.reply(stdout("text\n"));
        assert_eq!(
            b.read_content(&t.host, "/etc/x'; rm -rf /").unwrap(),
            "text\n"
        );
        let argv = t.rec.argvs().remove(0);
        let line = argv.last().unwrap();
        let words = shell_words::split(line).unwrap();
        assert_eq!(words[..2], ["sh", "-c"]);
        assert_eq!(words[2], rootfs::REMOTE_READ_SCRIPT);
        assert_eq!(words[3..], ["herodo-read", "cid", "/etc/x'; rm -rf /"]);
    }

    #[test]
    fn push_adds_docker_transport() {
        let t = host();
        image_push(&t.host, None, "localhost/x:1", "127.0.0.1:5000/x:1", false).unwrap();
        image_push(&t.host, None, "localhost/x:1", "oci:/tmp/layout:x", true).unwrap();
        assert_eq!(
            t.rec.argvs(),
            vec![
                vec![
                    "buildah",
                    "push",
                    "--tls-verify=false",
                    "localhost/x:1",
                    "docker://127.0.0.1:5000/x:1"
                ],
                vec!["buildah", "push", "localhost/x:1", "oci:/tmp/layout:x"],
            ]
        );
    }

    #[test]
    fn missing_context_and_sources_run_nothing() {
        let t = host();
        assert!(matches!(
            build(
                &t.host,
                None,
                "localhost/x:1",
                "/no/such/dir",
                &BuildOptions::default()
            ),
            Err(BuildahError::NotFound { .. })
        ));
        let b = Builder {
            name: "b".into(),
            container_id: "cid".into(),
            ..Builder::default()
        };
        assert!(matches!(
            b.copy(&t.host, "/no/such/file", "/x"),
            Err(BuildahError::NotFound { .. })
        ));
        assert!(b.copy(&t.host, "/etc/hostname", "relative").is_err());
        assert!(t.rec.calls().is_empty());
    }
}
