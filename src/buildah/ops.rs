//! buildah operations through the host's executor: each builds its argv ([`argv`], pure),
//! runs it, and reads the answer ([`parse`]).
//!
//! Ownership: a working container or image tag is registered for cleanup (and a builder put
//! in the owner ledger) only when herodo created it. Re-attaching to an existing builder, or
//! committing, tagging, pulling or building over a tag that already exists, never takes it
//! over: the test runner's cleanup must not remove what was there before.

use std::path::Path;

use super::argv::{self, CopyVerb};
use super::parse::{self, ImageRow};
use super::{
    check_container_path, check_image, classify, env_secrets, owners, BuildOptions, BuildahError,
    Builder, ConfigEntry, ConfigValue, Remote, RunWhat,
};
use crate::error::HostError;
use crate::exec::{Arg, Cmd, CommandResult, ExecError, Output};
use crate::host::{Host, Resource};

/// The most `read_content` returns: what a command's output may hold, so a local and a remote
/// read of one file agree. A bigger file is a `limit` error, never read into memory whole.
pub const MAX_READ_CONTENT: usize = crate::exec::DEFAULT_MAX_OUTPUT;

/// `read_content`'s error for a file over [`MAX_READ_CONTENT`].
fn too_big(path: &str, reason: &str) -> BuildahError {
    BuildahError::Host(HostError::Limit {
        path: path.to_string(),
        reason: reason.to_string(),
    })
}

type Result<T> = std::result::Result<T, BuildahError>;

/// A failed command with every registered secret scrubbed from its command line and output
/// tails: a tool may echo an env value back in its error message.
fn scrub(host: &Host, mut e: ExecError) -> ExecError {
    if let ExecError::Failed {
        cmd,
        stdout,
        stderr,
        ..
    }
    | ExecError::Timeout {
        cmd,
        stdout,
        stderr,
        ..
    } = &mut e
    {
        for text in [cmd, stdout, stderr] {
            *text = host.redact(text);
        }
    }
    e
}

/// How many of a failed build's last output lines its error shows.
const BUILD_TAIL_LINES: usize = 8;

/// Run `cmd` (printed first in debug mode); a non-zero exit is an `Ok` output.
fn attempt(host: &Host, cmd: &Cmd, debug: bool) -> Result<Output> {
    if debug {
        eprintln!("[buildah] {cmd}");
    }
    host.exec(cmd.clone())
        .map_err(|e| BuildahError::Exec(scrub(host, e)))
}

/// The error of `cmd`, which ran and failed: scrubbed, and `not_found` when buildah says the
/// `what` named `subject` does not exist.
fn failure(
    host: &Host,
    cmd: &Cmd,
    out: &Output,
    what: &'static str,
    subject: &str,
) -> BuildahError {
    classify(scrub(host, ExecError::failed(cmd, out)), what, subject)
}

/// Run `cmd`; a non-zero exit is an error (see [`failure`]). In debug mode the output is
/// printed too, scrubbed.
fn run(host: &Host, cmd: &Cmd, what: &'static str, subject: &str, debug: bool) -> Result<Output> {
    let out = attempt(host, cmd, debug)?;
    if !out.success() {
        return Err(failure(host, cmd, &out, what, subject));
    }
    if debug && !out.stdout.is_empty() {
        eprint!("{}", host.redact(&out.stdout));
    }
    Ok(out)
}

/// [`run`], and the script's view of what ran.
fn result(
    host: &Host,
    cmd: &Cmd,
    what: &'static str,
    subject: &str,
    debug: bool,
) -> Result<CommandResult> {
    let out = run(host, cmd, what, subject, debug)?;
    Ok(CommandResult::from_output(cmd, &out))
}

/// Whether `image` names an image already. When buildah cannot tell, assume it does: leaking
/// a tag is better than removing someone else's. Not asked under `--dry-run` (nothing is
/// registered for cleanup there anyway).
fn image_exists(host: &Host, remote: Option<&Remote>, image: &str) -> bool {
    if host.settings.dry_run {
        return true;
    }
    match host.exec(argv::command(remote, argv::inspect_image(image))) {
        Ok(out) => out.success() || !parse::is_missing(&out.stderr),
        Err(_) => true,
    }
}

/// A cleanup's removal: gone already counts as removed; any other failure is reported,
/// scrubbed.
fn remove_for_cleanup(h: &Host, cmd: Cmd) -> std::result::Result<(), String> {
    match h.exec_checked(cmd) {
        Ok(_) => Ok(()),
        Err(ExecError::Failed { stderr, .. }) if parse::is_missing(&stderr) => Ok(()),
        Err(e) => Err(h.redact(&e.to_string())),
    }
}

/// Register the image tag `image` for cleanup, unless it `existed` before herodo made it.
fn register_image(host: &Host, remote: Option<&Remote>, image: &str, existed: bool) {
    if existed {
        return;
    }
    let (r, i) = (remote.cloned(), image.to_string());
    host.resources.forget("image", image);
    host.resources
        .register(Resource::new("image", image, move |h| {
            remove_for_cleanup(h, argv::command(r.as_ref(), argv::rmi(&i)))
        }));
}

/// Run `make`, which creates the image tag `image`; the tag is herodo's to clean up only when
/// it did not exist before.
fn making_image<T>(
    host: &Host,
    remote: Option<&Remote>,
    image: &str,
    make: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let existed = image_exists(host, remote, image);
    let made = make()?;
    register_image(host, remote, image, existed);
    Ok(made)
}

impl Builder {
    fn cmd(&self, args: Vec<Arg>) -> Cmd {
        argv::command(self.remote.as_ref(), args)
    }

    /// Run a command on this builder's container: a missing container is `not_found`.
    fn exec_cmd(&self, host: &Host, cmd: &Cmd) -> Result<CommandResult> {
        result(host, cmd, "container", &self.name, self.debug_mode)
    }

    /// Run `args`, built from [`Builder::container_id`], on the working container. A removed
    /// builder is an error here, after the arguments were checked: a bad argument is reported
    /// first.
    fn exec(&self, host: &Host, args: Vec<Arg>) -> Result<CommandResult> {
        self.id()?;
        self.exec_cmd(host, &self.cmd(args))
    }

    /// Attach to the working container `name` if it exists, else create it from `image`.
    pub fn open(host: &Host, name: &str, image: &str, remote: Option<Remote>) -> Result<Builder> {
        super::check_name(name)?;
        check_image("image", image)?;
        let remote = remote.map(Remote::checked).transpose()?;
        let mut b = Builder {
            name: name.into(),
            image: image.into(),
            remote,
            ..Builder::default()
        };
        // Create first (one command); only a name already taken means re-attaching. Locally
        // buildah writes the new id to a file (no second command to learn it).
        let cidfile = if b.remote.is_none() && !host.settings.dry_run {
            let f = crate::common::tmp::mktemp()?;
            let _ = std::fs::remove_file(&f);
            Some(f)
        } else {
            None
        };
        let shown = cidfile.as_ref().map(|f| f.display().to_string());
        let cmd = b.cmd(argv::from(name, image, shown.as_deref()));
        let created = attempt(host, &cmd, false);
        let cid = cidfile.as_ref().and_then(|f| {
            let id = std::fs::read_to_string(f).ok();
            let _ = std::fs::remove_file(f);
            id
        });
        let created = created?;
        if !created.success() {
            if !parse::name_in_use(&created.stderr) {
                return Err(failure(host, &cmd, &created, "image", image));
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
        let cmd = self.cmd(argv::inspect_container(&self.name));
        let out = attempt(host, &cmd, self.debug_mode)?;
        if !out.success() {
            if parse::is_missing(&out.stderr) {
                return Ok(None);
            }
            return Err(failure(host, &cmd, &out, "container", &self.name));
        }
        let (id, image) = parse::container_line(&out.stdout);
        if id.is_empty() && !host.settings.dry_run {
            return Err(BuildahError::Parse {
                cmd: cmd.to_string(),
                reason: format!("no container id in `{}`", parse::last_line(&out.stdout)),
            });
        }
        Ok(Some((id, image)))
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
                remove_for_cleanup(h, argv::command(r.as_ref(), argv::rm(&id)))?;
                owners::forget(h, &name, &id, r.as_ref());
                Ok(())
            }));
    }

    /// `buildah run`: a shell line (`sh -c`) or an argv, optionally with an isolation.
    pub fn run(
        &self,
        host: &Host,
        what: &RunWhat,
        isolation: Option<&str>,
    ) -> Result<CommandResult> {
        self.exec(host, argv::run(&self.container_id, what, isolation)?)
    }

    /// `copy` or `add` of a host path (or, for `add`, a URL). A local source that does not
    /// exist is `not_found` before buildah runs.
    fn put(&self, host: &Host, verb: CopyVerb, src: &str, dst: &str) -> Result<CommandResult> {
        let args = argv::copy(verb, &self.container_id, src, dst, None)?;
        let fetched =
            verb == CopyVerb::Add && (src.starts_with("http://") || src.starts_with("https://"));
        if self.remote.is_none() && !fetched && !Path::new(src).exists() {
            return Err(BuildahError::not_found("file", src));
        }
        self.exec(host, args)
    }

    pub fn copy(&self, host: &Host, src: &str, dst: &str) -> Result<CommandResult> {
        self.put(host, CopyVerb::Copy, src, dst)
    }

    pub fn add(&self, host: &Host, src: &str, dst: &str) -> Result<CommandResult> {
        self.put(host, CopyVerb::Add, src, dst)
    }

    /// Write `content` to `path` inside the container (no shell needed in the image), with
    /// file mode `mode` when given (else buildah's 0644).
    /// `buildah copy` resolves the destination inside the container root itself (it copies
    /// from within a chroot), so a symlink in the image cannot redirect the write to the host.
    pub fn write_content(
        &self,
        host: &Host,
        content: &str,
        path: &str,
        mode: Option<u32>,
    ) -> Result<CommandResult> {
        check_container_path("path", path)?;
        let id = self.id()?;
        let Some(r) = &self.remote else {
            if host.settings.dry_run {
                // A dry run stages nothing: the copy is shown with a made-up staging path.
                let staged = crate::common::tmp::unique_tmp_path("herodo-file");
                let staged = staged.display().to_string();
                return self.exec(host, argv::copy(CopyVerb::Copy, &id, &staged, path, mode)?);
            }
            let tmp = crate::common::tmp::mktemp()?;
            let res = std::fs::write(&tmp, content)
                .map_err(|e| BuildahError::from(HostError::io("write", &tmp, e)))
                .and_then(|_| {
                    let staged = tmp.display().to_string();
                    self.exec(host, argv::copy(CopyVerb::Copy, &id, &staged, path, mode)?)
                });
            let _ = std::fs::remove_file(&tmp);
            return res;
        };
        let cmd = r
            .ssh(argv::remote_write_script(&id, path, mode)?, false)
            .stdin(content.as_bytes().to_vec());
        self.exec_cmd(host, &cmd)
    }

    /// The content of the text file `path` inside the container. Symlinks are resolved inside
    /// the container's root, never on the host (see [`rootfs`]); only regular files are read,
    /// and at most [`MAX_READ_CONTENT`] bytes (a bigger file is a `limit` error).
    pub fn read_content(&self, host: &Host, path: &str) -> Result<String> {
        check_container_path("path", path)?;
        let id = self.id()?;
        let bytes = match &self.remote {
            None => self.read_mounted(host, path)?,
            Some(r) => self.read_remote(host, r, &id, path)?,
        };
        String::from_utf8(bytes)
            .map_err(|_| BuildahError::invalid("path", format!("{path} is not UTF-8 text")))
    }

    /// Read `path` through a local mount of the container's root.
    fn read_mounted(&self, host: &Host, path: &str) -> Result<Vec<u8>> {
        let root = self.mount(host)?;
        if host.settings.dry_run {
            let _ = self.umount(host);
            return Ok(Vec::new());
        }
        let read = if Path::new(&root).is_absolute() {
            crate::common::inroot::read_file(Path::new(&root), path, MAX_READ_CONTENT as u64)
        } else {
            Err(std::io::Error::other(format!(
                "buildah mount printed `{root}`, not a mount point"
            )))
        };
        let _ = self.umount(host);
        read.map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => BuildahError::not_found("file", path),
            _ if crate::common::inroot::too_large(&e) => too_big(path, &e.to_string()),
            _ => BuildahError::invalid("path", format!("cannot read {path}: {e}")),
        })
    }

    /// Read `path` on the build host with [`super::rootfs::REMOTE_READ_SCRIPT`].
    fn read_remote(&self, host: &Host, r: &Remote, id: &str, path: &str) -> Result<Vec<u8>> {
        let mut cmd = r.ssh(argv::remote_read_script(id, path, MAX_READ_CONTENT), false);
        cmd.max_output = MAX_READ_CONTENT;
        let out = attempt(host, &cmd, self.debug_mode)?;
        // The script's own exit codes, so a remote read fails like a local one.
        match out.status.code() {
            // Only the tail of a bigger file came back: refuse it as a local read would.
            0 if out.truncated => Err(too_big(
                path,
                &format!("{path} is over the {MAX_READ_CONTENT} bytes herodo reads from a container's files"),
            )),
            0 => Ok(out.stdout.into_bytes()),
            44 => Err(BuildahError::not_found("file", path)),
            45 => Err(BuildahError::invalid(
                "path",
                format!("{path} is not a regular file"),
            )),
            46 => Err(too_big(
                path,
                out.stderr.trim().trim_start_matches("herodo: "),
            )),
            _ => Err(failure(host, &cmd, &out, "container", &self.name)),
        }
    }

    /// `buildah config`; `env` values are secrets from here on (registered before anything
    /// runs, shown as `***` in every command line).
    pub fn config(&self, host: &Host, entries: &[ConfigEntry]) -> Result<CommandResult> {
        for v in env_secrets(entries) {
            host.register_secret(&v);
        }
        self.exec(host, argv::config(&self.container_id, entries)?)
    }

    /// `buildah config` of one option (`entrypoint`, `cmd`, ...).
    pub fn set(&self, host: &Host, key: &str, value: ConfigValue) -> Result<CommandResult> {
        self.config(host, &[(key.to_string(), value)])
    }

    /// Commit to `image`; returns the image id.
    pub fn commit(&self, host: &Host, image: &str, format: Option<&str>) -> Result<String> {
        let o = super::CommitOptions {
            format: format.map(String::from),
            ..Default::default()
        };
        self.commit_opts(host, image, &o)
    }

    /// Commit with options: author and message are set with `buildah config` first (where
    /// `podman commit` records them); with `rm` buildah removes the working container, and the
    /// builder forgets it.
    pub fn commit_with(
        &mut self,
        host: &Host,
        image: &str,
        o: &super::CommitOptions,
    ) -> Result<String> {
        let id = self.commit_opts(host, image, o)?;
        if o.rm && !host.settings.dry_run {
            host.resources
                .forget("buildah-container", &self.resource_name());
            owners::forget(host, &self.name, &self.container_id, self.remote.as_ref());
            self.container_id.clear();
        }
        Ok(id)
    }

    fn commit_opts(&self, host: &Host, image: &str, o: &super::CommitOptions) -> Result<String> {
        let args = argv::commit_with(&self.container_id, image, o)?;
        self.id()?;
        if let Some(meta) = argv::commit_metadata(&self.container_id, o) {
            self.exec(host, meta)?;
        }
        let remote = self.remote.as_ref();
        let done = making_image(host, remote, image, || self.exec(host, args))?;
        Ok(if host.settings.dry_run {
            format!("dry-run-{image}")
        } else {
            parse::last_line(&done.stdout)
        })
    }

    /// Remove the working container (and its owner record).
    pub fn remove(&mut self, host: &Host) -> Result<CommandResult> {
        let id = self.id()?;
        let done = self.exec(host, argv::rm(&id))?;
        host.resources
            .forget("buildah-container", &self.resource_name());
        owners::forget(host, &self.name, &id, self.remote.as_ref());
        self.container_id.clear();
        Ok(done)
    }

    /// Remove the working container (when there still is one) and start a fresh one of the
    /// same name from the same image.
    pub fn reset(&mut self, host: &Host) -> Result<Builder> {
        if !self.container_id.is_empty() {
            self.remove(host)?;
        }
        *self = Builder::open(host, &self.name, &self.image, self.remote.clone())?;
        Ok(self.clone())
    }

    /// Mount the container's filesystem; returns the mount point.
    pub fn mount(&self, host: &Host) -> Result<String> {
        let done = self.exec(host, argv::mount(&self.container_id))?;
        Ok(parse::last_line(&done.stdout))
    }

    pub fn umount(&self, host: &Host) -> Result<CommandResult> {
        self.exec(host, argv::umount(&self.container_id))
    }
}

/// Run a command about `image` (a missing one is `not_found`).
fn on_image(
    host: &Host,
    remote: Option<&Remote>,
    args: Vec<Arg>,
    image: &str,
) -> Result<CommandResult> {
    result(host, &argv::command(remote, args), "image", image, false)
}

pub fn images(host: &Host, remote: Option<&Remote>) -> Result<Vec<ImageRow>> {
    let cmd = argv::command(remote, argv::images());
    let out = run(host, &cmd, "image", "", false)?;
    if host.settings.dry_run {
        return Ok(Vec::new());
    }
    parse::images(&out.stdout).map_err(|source| BuildahError::Json {
        cmd: cmd.to_string(),
        source,
    })
}

pub fn image_remove(host: &Host, remote: Option<&Remote>, image: &str) -> Result<CommandResult> {
    check_image("image", image)?;
    let done = on_image(host, remote, argv::rmi(image), image)?;
    host.resources.forget("image", image);
    Ok(done)
}

pub fn image_pull(
    host: &Host,
    remote: Option<&Remote>,
    image: &str,
    tls_verify: bool,
) -> Result<CommandResult> {
    let args = argv::pull(image, tls_verify)?;
    making_image(host, remote, image, || on_image(host, remote, args, image))
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
    let args = argv::push(image, destination, tls_verify)?;
    on_image(host, remote, args, image)
}

pub fn image_tag(
    host: &Host,
    remote: Option<&Remote>,
    image: &str,
    new_name: &str,
) -> Result<CommandResult> {
    let args = argv::tag(image, new_name)?;
    making_image(host, remote, new_name, || {
        on_image(host, remote, args, image)
    })
}

/// A local build's context directory and Containerfile exist (checked before buildah runs).
fn check_context(context: &str, o: &BuildOptions) -> Result<()> {
    let dir = Path::new(context);
    if !dir.is_dir() {
        return Err(BuildahError::not_found("build context", context));
    }
    let found = match &o.file {
        Some(f) => dir.join(f).is_file(),
        None => dir.join("Containerfile").is_file() || dir.join("Dockerfile").is_file(),
    };
    if !found {
        let file = o
            .file
            .clone()
            .unwrap_or_else(|| format!("{context}/Containerfile"));
        return Err(BuildahError::not_found("Containerfile", file));
    }
    Ok(())
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
        check_context(context, o)?;
    }
    let mut cmd = argv::command(remote, argv::bud(tag, context, o, remote.is_none())?);
    if remote.is_none() {
        for (k, v) in argv::bud_env(o) {
            cmd = cmd.env(k, v);
        }
    }
    // The steps and their RUN output show while the build runs, as run() shows a command's
    // (not by default with build args: live output is not scrubbed of their values).
    let cmd = cmd.echo(!o.silent.unwrap_or(!o.build_args.is_empty()));
    making_image(host, remote, tag, || {
        let out = attempt(host, &cmd, false)?;
        if !out.success() {
            return Err(BuildahError::BuildFailed {
                tag: tag.into(),
                step: host.redact(&parse::failing_step(&out.stdout, &out.stderr)),
                output: host.redact(&parse::last_output(&out.stdout, BUILD_TAIL_LINES)),
                source: Box::new(scrub(host, ExecError::failed(&cmd, &out))),
            });
        }
        Ok(CommandResult::from_output(&cmd, &out))
    })
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

    /// A builder `b` whose working container is `cid`.
    fn builder() -> Builder {
        Builder {
            name: "b".into(),
            container_id: "cid".into(),
            image: "scratch".into(),
            ..Builder::default()
        }
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
        let b = builder();
        b.run(h, &RunWhat::Shell("echo hi".into()), None).unwrap();
        b.run(
            h,
            &RunWhat::Argv(vec!["/bin/busybox".into(), "--install".into()]),
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
        assert!(b.run(h, &RunWhat::Shell("x".into()), Some("vm")).is_err());
    }

    #[test]
    fn bad_arguments_are_reported_before_a_removed_builder() {
        let t = host();
        let b = Builder {
            name: "gone".into(),
            ..Builder::default()
        };
        let colour = [("colour".to_string(), ConfigValue::One("red".into()))];
        let e = b.config(&t.host, &colour).unwrap_err();
        assert!(e.to_string().contains("unknown key `colour`"), "{e}");
        let e = b.commit(&t.host, "Bad Tag", None).unwrap_err();
        assert!(e.to_string().starts_with("invalid image"), "{e}");
        let e = b.copy(&t.host, "/no/such/file", "/x").unwrap_err();
        assert!(matches!(e, BuildahError::NotFound { .. }), "{e}");
        for e in [
            b.run(&t.host, &RunWhat::Shell("true".into()), None)
                .unwrap_err(),
            b.commit(&t.host, "localhost/x:1", None).unwrap_err(),
            b.mount(&t.host).unwrap_err(),
        ] {
            assert!(e.to_string().contains("was removed"), "{e}");
        }
        assert!(t.rec.calls().is_empty());
    }

    #[test]
    fn config_errors_are_scrubbed() {
        let t = host();
        let b = builder();
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
        let b = builder();
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
    fn remote_reads_over_the_cap_are_limit_errors() {
        use crate::error::Classify;
        let t = host();
        let b = Builder {
            remote: Some(Remote::parse("root@10.0.0.5:2222").unwrap()),
            ..builder()
        };
        // The build host's script refused the file by its size.
        let mut o =
            failed("herodo: /big is 1073741824 bytes, over the 33554432 bytes herodo reads");
        o.status = Status::Exited(46);
        t.rec.reply(o);
        let info = b.read_content(&t.host, "/big").unwrap_err().info();
        assert_eq!(info.kind, "limit");
        assert!(
            info.message.starts_with("/big is 1073741824 bytes"),
            "{}",
            info.message
        );
        assert_eq!(info.fields, vec![("path", "/big".to_string())]);
        // The file grew past the cap while it was printed: only its tail came back.
        let mut o = stdout("tail");
        o.truncated = true;
        t.rec.reply(o);
        let info = b.read_content(&t.host, "/big").unwrap_err().info();
        assert_eq!(info.kind, "limit");
    }

    #[test]
    fn remote_reads_pass_values_as_parameters() {
        let t = host();
        let b = Builder {
            remote: Some(Remote::parse("root@10.0.0.5:2222").unwrap()),
            ..builder()
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
        assert_eq!(words[2], crate::buildah::rootfs::REMOTE_READ_SCRIPT);
        assert_eq!(
            words[3..],
            [
                "herodo-read",
                "cid",
                "/etc/x'; rm -rf /",
                &MAX_READ_CONTENT.to_string()
            ]
        );
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
        let b = builder();
        assert!(matches!(
            b.copy(&t.host, "/no/such/file", "/x"),
            Err(BuildahError::NotFound { .. })
        ));
        assert!(b.copy(&t.host, "/etc/hostname", "relative").is_err());
        assert!(t.rec.calls().is_empty());
    }
}
