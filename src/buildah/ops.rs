//! buildah operations through the host's executor.

use super::{
    buildah, check_container_path, check_image, check_name, classify, quote_argv, BuildOptions,
    BuildahError, ConfigValue, Remote,
};
use crate::exec::{Cmd, Output};
use crate::host::{Host, Resource};
use crate::process::CommandResult;

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

/// One row of `buildah images`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImageRow {
    pub id: String,
    pub names: Vec<String>,
    pub size: String,
    pub created: String,
}

fn run(host: &Host, cmd: Cmd, what: &'static str, subject: &str, debug: bool) -> Result<Output> {
    if debug {
        eprintln!("[buildah] {cmd}");
    }
    let out = host
        .exec_checked(cmd)
        .map_err(|e| classify(e, what, subject))?;
    if debug && !out.stdout.is_empty() {
        eprint!("{}", out.stdout);
    }
    Ok(out)
}

fn result(cmd: &Cmd, out: &Output) -> CommandResult {
    CommandResult::from_output(cmd, out)
}

fn last_line(s: &str) -> String {
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string()
}

fn register_image(host: &Host, remote: Option<&Remote>, image: &str) {
    let (r, i) = (remote.cloned(), image.to_string());
    host.resources.forget("image", image);
    host.resources
        .register(Resource::new("image", image, move |h| {
            h.exec(buildah(
                r.as_ref(),
                vec!["rmi".into(), "-f".into(), i.clone()],
            ))
            .map(|_| ())
            .map_err(|e| e.to_string())
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

    /// Attach to the working container `name` if it exists, else create it from `image`.
    pub fn open(host: &Host, name: &str, image: &str, remote: Option<Remote>) -> Result<Builder> {
        check_name(name)?;
        check_image("image", image)?;
        if let Some(r) = &remote {
            r.validate()?;
        }
        let mut b = Builder {
            name: name.into(),
            image: image.into(),
            remote,
            ..Builder::default()
        };
        // Create first (one command); only a name already taken means re-attaching.
        let cidfile = if b.remote.is_none() && !host.settings.dry_run {
            Some(crate::os::mktemp().map_err(|e| BuildahError::invalid("builder", e.to_string()))?)
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
                    crate::exec::ExecError::failed(&b.cmd(argv), &created),
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
        b.track(host);
        Ok(b)
    }

    /// (id, image) of the working container with this builder's name, if there is one.
    fn lookup(&self, host: &Host) -> Result<Option<(String, String)>> {
        let (cmd, out) = self.exec(host, vec!["containers".into(), "--json".into()])?;
        // buildah prints `null`, not `[]`, when there are no containers.
        let rows: Vec<serde_json::Value> =
            serde_json::from_str::<Option<Vec<serde_json::Value>>>(out.stdout.trim())
                .map(Option::unwrap_or_default)
                .map_err(|e| BuildahError::Parse {
                    cmd: cmd.to_string(),
                    reason: e.to_string(),
                })?;
        Ok(rows
            .iter()
            .find(|r| r["containername"] == self.name.as_str())
            .map(|r| {
                (
                    r["id"].as_str().unwrap_or_default().to_string(),
                    r["imagename"].as_str().unwrap_or_default().to_string(),
                )
            }))
    }

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
        if !image.is_empty() {
            self.image = image;
        }
        self.track(host);
        Ok(self)
    }

    fn track(&self, host: &Host) {
        let (r, n) = (self.remote.clone(), self.name.clone());
        host.resources.forget("buildah-container", &self.name);
        host.resources
            .register(Resource::new("buildah-container", &self.name, move |h| {
                h.exec(buildah(r.as_ref(), vec!["rm".into(), n.clone()]))
                    .map(|_| ())
                    .map_err(|e| e.to_string())
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
    pub fn write_content(&self, host: &Host, content: &str, path: &str) -> Result<CommandResult> {
        check_container_path("path", path)?;
        let id = self.id()?;
        match &self.remote {
            None => {
                let tmp = crate::os::mktemp()
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
                let cmd = r.ssh(script).stdin(content.as_bytes().to_vec());
                let out = run(host, cmd.clone(), "container", &self.name, self.debug_mode)?;
                Ok(result(&cmd, &out))
            }
        }
    }

    /// The content of the text file `path` inside the container.
    pub fn read_content(&self, host: &Host, path: &str) -> Result<String> {
        check_container_path("path", path)?;
        let id = self.id()?;
        match &self.remote {
            None => {
                let root = self.mount(host)?;
                let full = format!("{}{}", root.trim_end_matches('/'), path);
                let text = std::fs::read_to_string(&full);
                let _ = self.umount(host);
                if host.settings.dry_run {
                    return Ok(String::new());
                }
                text.map_err(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => BuildahError::NotFound {
                        what: "file",
                        name: path.into(),
                        command: None,
                    },
                    _ => BuildahError::invalid("path", format!("cannot read {path}: {e}")),
                })
            }
            Some(r) => {
                let q = |s: &str| shell_words::quote(s).into_owned();
                let script = format!(
                    "m=$(buildah mount {id}) && cat \"$m\"{path}; rc=$?; buildah umount {id} >/dev/null; exit $rc",
                    id = q(&id),
                    path = q(path)
                );
                let out = run(host, r.ssh(script), "file", path, self.debug_mode)?;
                Ok(out.stdout)
            }
        }
    }

    pub fn config(&self, host: &Host, entries: &[(String, ConfigValue)]) -> Result<CommandResult> {
        let mut argv = vec!["config".to_string()];
        argv.extend(super::config_argv(entries)?);
        argv.push(self.id()?);
        let (cmd, out) = self.exec(host, argv)?;
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
        let (_, out) = self.exec(host, argv)?;
        register_image(host, self.remote.as_ref(), image);
        Ok(if host.settings.dry_run {
            format!("dry-run-{image}")
        } else {
            last_line(&out.stdout)
        })
    }

    /// Remove the working container.
    pub fn remove(&mut self, host: &Host) -> Result<CommandResult> {
        let (cmd, out) = self.exec(host, vec!["rm".into(), self.id()?])?;
        host.resources.forget("buildah-container", &self.name);
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
    let t = out.stdout.trim();
    if t.is_empty() || t == "null" {
        return Ok(Vec::new());
    }
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(t).map_err(|e| BuildahError::Parse {
            cmd: cmd.to_string(),
            reason: e.to_string(),
        })?;
    Ok(rows
        .iter()
        .map(|r| ImageRow {
            id: r["id"].as_str().unwrap_or_default().to_string(),
            names: r["names"]
                .as_array()
                .map(|n| {
                    n.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
            size: r["size"].as_str().unwrap_or_default().to_string(),
            created: r["createdatraw"]
                .as_str()
                .or(r["createdat"].as_str())
                .unwrap_or_default()
                .to_string(),
        })
        .collect())
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
    let r = simple(host, remote, argv, "image", image)?;
    register_image(host, remote, image);
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
    let r = simple(
        host,
        remote,
        vec!["tag".into(), image.into(), new_name.into()],
        "image",
        image,
    )?;
    register_image(host, remote, new_name);
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
    let out = host.exec(cmd.clone())?;
    if !out.success() {
        // buildah names the failing step in stderr; else the last STEP it printed.
        let step = out
            .stderr
            .lines()
            .rev()
            .find(|l| l.contains("error building at STEP"))
            .or_else(|| out.stdout.lines().rev().find(|l| l.starts_with("STEP ")))
            .map(|l| format!(" at {}", l.trim()))
            .unwrap_or_default();
        let failed = crate::exec::ExecError::failed(&cmd, &out);
        return Err(BuildahError::BuildFailed {
            tag: tag.into(),
            code: out.status.code(),
            step,
            command: crate::error::Classify::info(&failed).command.map(Box::new),
        });
    }
    register_image(host, remote, tag);
    Ok(result(&cmd, &out))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::host::recording_host as host;

    #[test]
    fn open_creates_or_reattaches() {
        // The name is taken: re-attach to the existing working container.
        let (h, rec) = host();
        let mut taken = Output::empty_success();
        taken.status = crate::exec::Status::Exited(125);
        taken.stderr = "Error: the container name \"b1\" is already in use by abc".into();
        rec.reply(taken);
        let mut list = Output::empty_success();
        list.stdout =
            r#"[{"id": "abc", "containername": "b1", "imagename": "localhost/x:1"}]"#.into();
        rec.reply(list);
        let b = Builder::open(&h, "b1", "scratch", None).unwrap();
        assert_eq!(
            (b.container_id.as_str(), b.image.as_str()),
            ("abc", "localhost/x:1")
        );
        let argvs = rec.argvs();
        assert_eq!(argvs[0][..2], ["buildah", "from"]);
        assert_eq!(argvs[0][4..], ["--name", "b1", "scratch"]);
        assert_eq!(argvs[1], vec!["buildah", "containers", "--json"]);
        assert_eq!(h.resources.len(), 1);

        // Any other failure is an error, not a re-attach.
        let (h, rec) = host();
        let mut missing = Output::empty_success();
        missing.status = crate::exec::Status::Exited(125);
        missing.stderr = "Error: localhost/nope: image not known".into();
        rec.reply(missing);
        assert!(matches!(
            Builder::open(&h, "b2", "localhost/nope:1", None),
            Err(BuildahError::NotFound { .. })
        ));
        assert_eq!(rec.calls().len(), 1);
    }

    #[test]
    fn run_config_commit_argv() {
        let (h, rec) = host();
        let b = Builder {
            name: "b".into(),
            container_id: "cid".into(),
            image: "scratch".into(),
            ..Builder::default()
        };
        b.run(&h, RunWhat::Shell("echo hi".into()), None).unwrap();
        b.run(
            &h,
            RunWhat::Argv(vec!["/bin/busybox".into(), "--install".into()]),
            Some("chroot"),
        )
        .unwrap();
        b.config(&h, &[("ENV".into(), ConfigValue::One("A=1".into()))])
            .unwrap();
        let mut out = Output::empty_success();
        out.stdout = "Getting image source signatures\nsha256abc\n".into();
        rec.reply(out);
        let id = b.commit(&h, "localhost/x:1", Some("docker")).unwrap();
        assert_eq!(id, "sha256abc");
        assert_eq!(
            rec.argvs(),
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
                vec!["buildah", "config", "--env", "A=1", "cid"],
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
        assert!(b.run(&h, RunWhat::Shell("x".into()), Some("vm")).is_err());
    }

    #[test]
    fn push_adds_docker_transport() {
        let (h, rec) = host();
        image_push(&h, None, "localhost/x:1", "127.0.0.1:5000/x:1", false).unwrap();
        image_push(&h, None, "localhost/x:1", "oci:/tmp/layout:x", true).unwrap();
        assert_eq!(
            rec.argvs(),
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
        let (h, rec) = host();
        assert!(matches!(
            build(
                &h,
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
            b.copy(&h, "/no/such/file", "/x"),
            Err(BuildahError::NotFound { .. })
        ));
        assert!(b.copy(&h, "/etc/hostname", "relative").is_err());
        assert!(rec.calls().is_empty());
    }
}
