//! Rhai glue for buildah: `bah_new` Builders, the fluent `bah()` form, and `bah_*` functions.
//! Each binding is one call into the domain ([`ops`], [`Builder`], [`Bah`]); the helpers here
//! only read script values (strings, arrays, option maps) into the domain's specs, and results
//! reach scripts as `CommandResult`s or through [`to_rhai`].

use std::sync::Arc;

use rhai::{Array, Dynamic, Map};

use super::fluent::Bah;
use super::{ops, BuildOptions, Builder, ConfigEntry, ConfigValue, Remote, RemoteSpec, RunWhat};
use crate::exec::CommandResult;
use crate::glue::{invalid, string_array, to_rhai, IntoRhai, Opts, RResult, Registrar};
use crate::host::Host;

/// What `run` executes: a string is a shell line, an array an argv.
fn run_what(v: &Dynamic) -> RResult<RunWhat> {
    if v.is_string() {
        return Ok(RunWhat::Shell(v.to_string()));
    }
    if let Some(a) = v.read_lock::<Array>() {
        return Ok(RunWhat::Argv(string_array(&a)));
    }
    Err(invalid(
        "command",
        format!("expected a string or an array, got {}", v.type_name()),
    ))
}

/// The entries of `config(map)`: an array value is several values, anything else one string.
fn config_entries(m: &Map) -> Vec<ConfigEntry> {
    m.iter()
        .map(|(k, v)| {
            let value = match v.read_lock::<Array>() {
                Some(a) => ConfigValue::Many(string_array(&a)),
                None => ConfigValue::One(v.to_string()),
            };
            (k.to_string(), value)
        })
        .collect()
}

/// `entrypoint`/`cmd`: an array is exec form (JSON), a string is passed as is (shell form).
fn exec_form(key: &str, v: &Dynamic) -> RResult<ConfigValue> {
    if let Some(a) = v.read_lock::<Array>() {
        return Ok(ConfigValue::Many(string_array(&a)));
    }
    if v.is_string() {
        return Ok(ConfigValue::One(v.to_string()));
    }
    Err(invalid(
        key,
        format!("expected a string or an array, got {}", v.type_name()),
    ))
}

/// A remote from `"user@host[:port]"` or `#{host, user, port, identity, options}`, checked
/// (host, user, port, every ssh option) by [`Remote::parse`] and [`RemoteSpec::remote`].
fn remote_from(v: &Dynamic) -> RResult<Remote> {
    if v.is_string() {
        return Remote::parse(&v.to_string()).rhai();
    }
    let m = v.read_lock::<Map>().ok_or_else(|| {
        invalid(
            "remote",
            format!(
                "expected \"user@host[:port]\" or a map, got {}",
                v.type_name()
            ),
        )
    })?;
    let o = Opts::new(
        "remote",
        &m,
        &["host", "user", "port", "identity", "options"],
    )?;
    let port = match m.get("port") {
        Some(p) if !p.is_unit() => Some(
            p.as_int()
                .map_err(|t| invalid("remote.port", format!("expected a port number, got {t}")))?,
        ),
        _ => None,
    };
    let options = match m.get("options") {
        None => Vec::new(),
        Some(v) => v
            .read_lock::<Array>()
            .map(|a| string_array(&a))
            .ok_or_else(|| {
                invalid(
                    "remote.options",
                    "must be an array of \"Key=value\" strings",
                )
            })?,
    };
    let spec = RemoteSpec {
        host: o.string("host")?,
        user: o.string("user")?,
        port,
        identity: o.string("identity")?,
        options,
    };
    spec.remote().rhai()
}

/// The options map of `bah_build`.
fn build_options(host: &Host, m: &Map) -> RResult<BuildOptions> {
    // Build-arg values are secrets from the moment they are handed over, even when another
    // option then turns out to be wrong (the error shows the source line).
    if let Some(args) = m.get("build_args").and_then(|v| v.read_lock::<Map>()) {
        for v in args.values() {
            host.register_secret(&v.to_string());
        }
    }
    let o = Opts::new(
        "build",
        m,
        &["file", "format", "build_args", "isolation", "silent"],
    )?;
    Ok(BuildOptions {
        file: o.string("file")?,
        format: o.string("format")?,
        build_args: o.string_map("build_args")?,
        isolation: o.string("isolation")?,
        silent: o.bool("silent")?,
    })
}

/// A file mode given as an int (`0o755`) or as `#{mode: 0o755}`.
fn file_mode(v: &Dynamic) -> RResult<u32> {
    let m;
    let v = match v.read_lock::<Map>() {
        Some(map) => {
            m = map.clone();
            Opts::new("write", &m, &["mode"])?;
            m.get("mode")
                .cloned()
                .ok_or_else(|| invalid("write.mode", "the options map has no `mode`"))?
        }
        None => v.clone(),
    };
    let n = v
        .as_int()
        .map_err(|t| invalid("mode", format!("expected an int like 0o755, got {t}")))?;
    u32::try_from(n)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| {
            invalid(
                "mode",
                format!("{n} is not a file mode (0o0 to 0o7777, e.g. 0o755)"),
            )
        })
}

/// The `format` of `commit(image, #{format})`.
#[cfg(test)]
fn commit_format(m: &Map) -> RResult<Option<String>> {
    Ok(commit_options(m)?.format)
}

/// `commit(image, #{format, squash, rm, author, message})`.
fn commit_options(m: &Map) -> RResult<super::CommitOptions> {
    let o = Opts::new(
        "commit",
        m,
        &["format", "squash", "rm", "author", "message"],
    )?;
    Ok(super::CommitOptions {
        format: o.string("format")?,
        squash: o.bool("squash")?.unwrap_or(false),
        rm: o.bool("rm")?.unwrap_or(false),
        author: o.string("author")?,
        message: o.string("message")?,
    })
}

/// Local (or build-host) images as script maps.
fn image_list(host: &Host, remote: Option<&Remote>) -> RResult<Array> {
    to_rhai(&ops::images(host, remote).rhai()?)
}

pub fn register(r: &mut Registrar, host: &Arc<Host>) {
    r.engine().register_type_with_name::<Builder>("Builder");
    r.engine().register_type_with_name::<Bah>("Bah");
    register_builder(r, host);
    register_fluent(r, host);
    register_functions(r, host);
}

fn register_builder(r: &mut Registrar, host: &Arc<Host>) {
    let h = host.clone();
    r.func("bah_new", &["name", "image"], r#"A buildah Builder: the working container `name` from `image` (`scratch` for an empty one).
Re-attaches when a working container of that name exists. Throws `invalid_argument` for a bad
name or image reference, `not_found` for an image that is neither local nor pullable.
```rhai
let b = bah_new("web-build", "localhost/busybox:test");
```"#, move |name: &str, image: &str| Builder::open(&h, name, image, None).rhai());
    let h = host.clone();
    r.func("bah_remote", &["name", "image", "remote"], r#"A Builder whose buildah commands run on another host over SSH: `remote` is
`"user@host[:port]"` or `#{host, user, port, identity, options: ["StrictHostKeyChecking=no"]}`.
`options` accepts only ssh options that tune the connection (Port, User, IdentityFile,
IdentitiesOnly, StrictHostKeyChecking, UserKnownHostsFile, ConnectTimeout, ServerAliveInterval,
ServerAliveCountMax, ConnectionAttempts, AddressFamily, CheckHostIP, Compression, LogLevel,
BatchMode=yes), keys case-insensitive. Throws `invalid_argument` for any other option (such as
ProxyCommand), a bad value, host or user, or a port outside 1..=65535, before ssh runs.
```rhai
let b = bah_remote("web-build", "scratch", #{host: "10.0.0.5", user: "root", identity: "/root/.ssh/id_ed25519"});
```"#, move |name: &str, image: &str, remote: Dynamic| {
        Builder::open(&h, name, image, Some(remote_from(&remote)?)).rhai()
    });

    r.getter(
        "container_id",
        "The working container's id.",
        |b: &mut Builder| b.container_id.clone(),
    );
    r.getter(
        "name",
        "The working container's name.",
        |b: &mut Builder| b.name.clone(),
    );
    r.getter("image", "The base image.", |b: &mut Builder| {
        b.image.clone()
    });
    r.getter(
        "debug_mode",
        "When true, each buildah command and its output is printed to stderr.",
        |b: &mut Builder| b.debug_mode,
    );
    r.setter(
        "debug_mode",
        "Turn printing of each buildah command and its output on or off.\n```rhai\nb.debug_mode = true;\n```",
        |b: &mut Builder, v: bool| b.debug_mode = v,
    );

    let h = host.clone();
    r.func(
        "run",
        &["builder", "command"],
        r#"Run a shell line (`sh -c`) or an argv array in the working container.
Throws `command_failed` with buildah's exit code and stderr.
```rhai
b.run("apk add curl");
b.run(["/bin/busybox", "--install", "-s", "/bin"]);
```"#,
        move |b: &mut Builder, c: Dynamic| -> RResult<CommandResult> {
            b.run(&h, &run_what(&c)?, None).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "run_with_isolation",
        &["builder", "command", "isolation"],
        r#"Run with an isolation: `oci`, `chroot` or `rootless`.
```rhai
b.run_with_isolation("make install", "chroot");
```"#,
        move |b: &mut Builder, c: Dynamic, i: &str| -> RResult<CommandResult> {
            b.run(&h, &run_what(&c)?, Some(i)).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "copy",
        &["builder", "source", "destination"],
        r#"Copy a host file or directory into the working container. Throws `not_found` for a missing
source, `invalid_argument` for a destination that is not an absolute path.
```rhai
b.copy("./site", "/www");
```"#,
        move |b: &mut Builder, s: &str, d: &str| -> RResult<CommandResult> {
            b.copy(&h, s, d).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "add",
        &["builder", "source", "destination"],
        r#"Like `copy`, but archives are unpacked and URLs fetched. Throws like `copy`.
```rhai
b.add("./rootfs.tar", "/");
```"#,
        move |b: &mut Builder, s: &str, d: &str| -> RResult<CommandResult> {
            b.add(&h, s, d).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "write_content",
        &["builder", "content", "path"],
        r#"Write `content` to the file `path` in the working container (no shell needed in the image).
The file gets mode 0644; `write_content(content, path, mode)` sets another.
Throws `invalid_argument` for a path that is not absolute or holds `..`.
```rhai
b.write_content("root:x:0:0:root:/root:/bin/sh\n", "/etc/passwd");
```"#,
        move |b: &mut Builder, c: &str, p: &str| -> RResult<CommandResult> {
            b.write_content(&h, c, p, None).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "write_content",
        &["builder", "content", "path", "mode"],
        r##"Write `content` to the file `path` with file mode `mode`: an int (`0o755`) or
`#{mode: 0o755}`. Throws `invalid_argument` for a mode outside 0o0..0o7777, an unknown option
key, or a bad path.
```rhai
b.write_content("#!/bin/sh\necho hi\n", "/usr/local/bin/hi", 0o755);
```"##,
        move |b: &mut Builder, c: &str, p: &str, mode: Dynamic| -> RResult<CommandResult> {
            b.write_content(&h, c, p, Some(file_mode(&mode)?)).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "read_content",
        &["builder", "path"],
        r#"The content of the text file `path` in the working container. Symlinks resolve inside the
container (an image's link to a host path never reads the host's file); only regular files are
read. Throws `not_found`, `invalid_argument` for a relative path or a non-regular file.
```rhai
print(b.read_content("/etc/os-release"));
```"#,
        move |b: &mut Builder, p: &str| -> RResult<String> { b.read_content(&h, p).rhai() },
    );
    let h = host.clone();
    r.func(
        "config",
        &["builder", "options"],
        r#"Set image configuration with `buildah config` option names, matched case-insensitively:
`env`, `label`, `entrypoint`, `cmd`, `workingdir`, `user`, `port`, `author`, `annotation`, ...
A value is a string, or an array for repeatable options (several `env` or `label` values; for
`entrypoint`/`cmd` an array is the exec form). `env` values are secrets: shown as `***` in
dry-run, `-v` and debug output, scrubbed from errors. Throws `invalid_argument` naming an
unknown key.
```rhai
b.config(#{env: ["A=1", "B=2"], LABEL: "app=web", entrypoint: ["/bin/httpd", "-f"], port: "80"});
```"#,
        move |b: &mut Builder, m: Map| -> RResult<CommandResult> {
            b.config(&h, &config_entries(&m)).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "set_entrypoint",
        &["builder", "entrypoint"],
        r#"Set the entrypoint: an array (exec form) or a string (shell form).
```rhai
b.set_entrypoint(["/bin/httpd", "-f"]);
```"#,
        move |b: &mut Builder, v: Dynamic| -> RResult<CommandResult> {
            b.set(&h, "entrypoint", exec_form("entrypoint", &v)?).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "set_cmd",
        &["builder", "cmd"],
        r#"Set the default command: an array (exec form) or a string (shell form).
```rhai
b.set_cmd(["-p", "8080"]);
```"#,
        move |b: &mut Builder, v: Dynamic| -> RResult<CommandResult> {
            b.set(&h, "cmd", exec_form("cmd", &v)?).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "commit",
        &["builder", "image"],
        r#"Commit the working container to `image` (OCI format); returns the image id.
Throws `invalid_argument` for a bad image reference or a removed builder.
```rhai
let id = b.commit("localhost/web:1");
```"#,
        move |b: &mut Builder, i: &str| -> RResult<String> { b.commit(&h, i, None).rhai() },
    );
    let h = host.clone();
    r.func(
        "commit",
        &["builder", "image", "options"],
        r#"Commit with options: `format` (`oci` or `docker`; docker keeps HEALTHCHECK), `squash`
(one layer), `rm` (remove the working container after), `author` and `message` (recorded in
the image as `podman commit --author/--message` records them). Throws `invalid_argument` for
an unknown option or format.
```rhai
b.commit("localhost/web:1", #{format: "docker", author: "ops", message: "first build"});
```"#,
        move |b: &mut Builder, i: &str, m: Map| -> RResult<String> {
            b.commit_with(&h, i, &commit_options(&m)?).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "remove",
        &["builder"],
        r#"Remove the working container. Throws `invalid_argument` when it was removed already.
```rhai
b.remove();
```"#,
        move |b: &mut Builder| -> RResult<CommandResult> { b.remove(&h).rhai() },
    );
    let h = host.clone();
    r.func(
        "reset",
        &["builder"],
        r#"Remove the working container and start a fresh one from the same image.
```rhai
b.reset();
```"#,
        move |b: &mut Builder| -> RResult<Builder> { b.reset(&h).rhai() },
    );
    let h = host.clone();
    r.func(
        "mount",
        &["builder"],
        r#"Mount the working container's filesystem on the host; returns the path.
```rhai
let root = b.mount();
file_write(`${root}/etc/motd`, "hi\n");
b.umount();
```"#,
        move |b: &mut Builder| -> RResult<String> { b.mount(&h).rhai() },
    );
    let h = host.clone();
    r.func(
        "umount",
        &["builder"],
        r#"Unmount the working container's filesystem.
```rhai
b.umount();
```"#,
        move |b: &mut Builder| -> RResult<CommandResult> { b.umount(&h).rhai() },
    );

    let h = host.clone();
    r.func(
        "images",
        &["builder"],
        r#"Local images as maps with `id`, `names`, `size`, `created`.
```rhai
for i in b.images() { print(i.names); }
```"#,
        move |b: &mut Builder| -> RResult<Array> { image_list(&h, b.remote.as_ref()) },
    );
    let h = host.clone();
    r.func(
        "image_remove",
        &["builder", "image"],
        r#"Remove an image.
Throws `not_found` for an image that does not exist.
```rhai
b.image_remove("localhost/web:old");
```"#,
        move |b: &mut Builder, i: &str| -> RResult<CommandResult> {
            ops::image_remove(&h, b.remote.as_ref(), i).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "image_pull",
        &["builder", "image", "tls_verify"],
        r#"Pull an image; `tls_verify` false for a plain-HTTP registry.
Throws `not_found` for an image the registry does not have.
```rhai
b.image_pull("127.0.0.1:5000/web:1", false);
```"#,
        move |b: &mut Builder, i: &str, t: bool| -> RResult<CommandResult> {
            ops::image_pull(&h, b.remote.as_ref(), i, t).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "image_push",
        &["builder", "image", "destination", "tls_verify"],
        r#"Push an image to a registry reference (`docker://` is implied).
Throws `invalid_argument` for a bad reference, `not_found` for a missing image.
```rhai
b.image_push("localhost/web:1", "127.0.0.1:5000/web:1", false);
```"#,
        move |b: &mut Builder, i: &str, d: &str, t: bool| -> RResult<CommandResult> {
            ops::image_push(&h, b.remote.as_ref(), i, d, t).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "image_tag",
        &["builder", "image", "new_name"],
        r#"Give an image another name.
Throws `invalid_argument` for a bad reference, `not_found` for a missing image.
```rhai
b.image_tag("localhost/web:1", "localhost/web:latest");
```"#,
        move |b: &mut Builder, i: &str, n: &str| -> RResult<CommandResult> {
            ops::image_tag(&h, b.remote.as_ref(), i, n).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "build",
        &["builder", "tag", "context_dir", "file", "isolation"],
        r#"Build a Containerfile (`file` "" for the default) with an isolation ("" for the default).
Throws `build_failed` naming the failing step, `not_found` for a missing context.
```rhai
b.build("localhost/app:1", "./app", "Containerfile", "chroot");
```"#,
        move |b: &mut Builder, t: &str, c: &str, f: &str, i: &str| -> RResult<CommandResult> {
            ops::build(&h, b.remote.as_ref(), t, c, &BuildOptions::positional(f, i)).rhai()
        },
    );
    r.pure(
        "to_string",
        &["builder"],
        "Show a Builder.",
        |b: &mut Builder| b.to_string(),
    );
}

fn register_fluent(r: &mut Registrar, host: &Arc<Host>) {
    let h = host.clone();
    r.func(
        "bah",
        &["name", "image"],
        r#"A fluent buildah builder: every step returns the builder, and `.stdout`, `.stderr`,
`.success`, `.code` read the last step's result.
```rhai
let id = bah("web", "localhost/busybox:test")
    .run("mkdir -p /www")
    .write("<h1>hi</h1>\n", "/www/index.html")
    .cmd(["httpd", "-f", "-h", "/www"])
    .commit("localhost/web:1")
    .image_id;
```"#,
        move |name: &str, image: &str| -> RResult<Bah> { Bah::open(&h, name, image).rhai() },
    );
    let h = host.clone();
    r.func("run", &["bah", "command"], "Run a shell line or argv; returns the builder.\n```rhai\nbah(\"x\", \"localhost/busybox:test\").run(\"echo hi\").stdout\n```",
        move |b: &mut Bah, c: Dynamic| -> RResult<Bah> { b.run(&h, &run_what(&c)?).rhai() });
    let h = host.clone();
    r.func(
        "write",
        &["bah", "content", "path"],
        "Write a file (mode 0644); returns the builder.\n```rhai\nb.write(\"x\", \"/x\")\n```",
        move |b: &mut Bah, c: &str, p: &str| -> RResult<Bah> { b.write(&h, c, p, None).rhai() },
    );
    let h = host.clone();
    r.func(
        "write",
        &["bah", "content", "path", "mode"],
        r##"Write a file with file mode `mode` (an int like `0o755`, or `#{mode: 0o755}`); returns the
builder. Throws `invalid_argument` for a mode outside 0o0..0o7777 or an unknown option key.
```rhai
b.write("#!/bin/sh\necho hi\n", "/opt/tools/hi", 0o755)
```"##,
        move |b: &mut Bah, c: &str, p: &str, mode: Dynamic| -> RResult<Bah> {
            b.write(&h, c, p, Some(file_mode(&mode)?)).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "copy",
        &["bah", "source", "destination"],
        "Copy host files in; returns the builder.\n```rhai\nb.copy(\"./app\", \"/app\")\n```",
        move |b: &mut Bah, s: &str, d: &str| -> RResult<Bah> { b.copy(&h, s, d).rhai() },
    );
    let h = host.clone();
    r.func("add", &["bah", "source", "destination"], "Add host files (archives unpacked); returns the builder.\n```rhai\nb.add(\"./rootfs.tar\", \"/\")\n```",
        move |b: &mut Bah, s: &str, d: &str| -> RResult<Bah> { b.add(&h, s, d).rhai() });
    let h = host.clone();
    r.func("cmd", &["bah", "cmd"], "Set the default command (array: exec form); returns the builder.\n```rhai\nb.cmd([\"httpd\", \"-f\"])\n```",
        move |b: &mut Bah, v: Dynamic| -> RResult<Bah> { b.set(&h, "cmd", exec_form("cmd", &v)?).rhai() });
    let h = host.clone();
    r.func("entrypoint", &["bah", "entrypoint"], "Set the entrypoint (array: exec form); returns the builder.\n```rhai\nb.entrypoint([\"/bin/sh\", \"-c\"])\n```",
        move |b: &mut Bah, v: Dynamic| -> RResult<Bah> { b.set(&h, "entrypoint", exec_form("entrypoint", &v)?).rhai() });
    let h = host.clone();
    r.func(
        "env",
        &["bah", "key", "value"],
        "Set an environment variable in the image; returns the builder. The value is a secret: \
it is shown as `***` in dry-run, `-v` and debug output and scrubbed from errors.\n\
Throws `invalid_argument` for an empty key or one with `=`.\n\
```rhai\nb.env(\"MODE\", \"prod\")\n```",
        move |b: &mut Bah, k: &str, v: &str| -> RResult<Bah> { b.env(&h, k, v).rhai() },
    );
    let h = host.clone();
    r.func(
        "label",
        &["bah", "key", "value"],
        "Set a label on the image; returns the builder.\n```rhai\nb.label(\"app\", \"web\")\n```",
        move |b: &mut Bah, k: &str, v: &str| -> RResult<Bah> { b.label(&h, k, v).rhai() },
    );
    let h = host.clone();
    r.func("config", &["bah", "options"], "`buildah config` options (see Builder.config); returns the builder.\n```rhai\nb.config(#{port: \"80\"})\n```",
        move |b: &mut Bah, m: Map| -> RResult<Bah> { b.config(&h, &config_entries(&m)).rhai() });
    let h = host.clone();
    r.func("commit", &["bah", "image"], "Commit to `image`; `.image_id` then holds its id. Returns the builder.\n```rhai\nb.commit(\"localhost/web:1\").image_id\n```",
        move |b: &mut Bah, i: &str| -> RResult<Bah> { b.commit(&h, i).rhai() });
    let h = host.clone();
    r.func(
        "remove",
        &["bah"],
        "Remove the working container; returns the builder.\n```rhai\nb.remove()\n```",
        move |b: &mut Bah| -> RResult<Bah> { b.remove(&h).rhai() },
    );
    // The original herodo's names on the fluent builder.
    let h = host.clone();
    r.func("sh", &["bah", "command"], "Run a shell line (same as `run`); returns the builder.\n```rhai\nbah(\"x\", \"localhost/busybox:test\").sh(\"echo hi\").stdout\n```",
        move |b: &mut Bah, c: Dynamic| -> RResult<Bah> { b.run(&h, &run_what(&c)?).rhai() });
    let h = host.clone();
    r.func(
        "run_with_isolation",
        &["bah", "command", "isolation"],
        "Run with an isolation (`oci`, `chroot`, `rootless`); returns the builder.\n```rhai\nb.run_with_isolation(\"make\", \"chroot\")\n```",
        move |b: &mut Bah, c: Dynamic, i: &str| -> RResult<Bah> {
            b.run_isolated(&h, &run_what(&c)?, i).rhai()
        },
    );
    let h = host.clone();
    r.func("set_cmd", &["bah", "cmd"], "Set the default command (same as `cmd`); returns the builder.\n```rhai\nb.set_cmd([\"httpd\", \"-f\"])\n```",
        move |b: &mut Bah, v: Dynamic| -> RResult<Bah> { b.set(&h, "cmd", exec_form("cmd", &v)?).rhai() });
    let h = host.clone();
    r.func("set_entrypoint", &["bah", "entrypoint"], "Set the entrypoint (same as `entrypoint`); returns the builder.\n```rhai\nb.set_entrypoint([\"/bin/sh\", \"-c\"])\n```",
        move |b: &mut Bah, v: Dynamic| -> RResult<Bah> { b.set(&h, "entrypoint", exec_form("entrypoint", &v)?).rhai() });
    let h = host.clone();
    r.func(
        "write_content",
        &["bah", "content", "path"],
        "Write a file (mode 0644; same as `write`); returns the builder.\n```rhai\nb.write_content(\"x\", \"/x\")\n```",
        move |b: &mut Bah, c: &str, p: &str| -> RResult<Bah> { b.write(&h, c, p, None).rhai() },
    );
    for name in ["read_content", "read"] {
        let h = host.clone();
        r.func(
            name,
            &["bah", "path"],
            "The content of a text file in the working container (see Builder.read_content).\n```rhai\nprint(b.read_content(\"/etc/os-release\"))\n```",
            move |b: &mut Bah, p: &str| -> RResult<String> { b.builder.read_content(&h, p).rhai() },
        );
    }
    let h = host.clone();
    r.func(
        "reset",
        &["bah"],
        "Remove the working container and start a fresh one from the same image; returns the builder.\n```rhai\nb.reset()\n```",
        move |b: &mut Bah| -> RResult<Bah> { b.reset(&h).rhai() },
    );
    r.getter("image", "The base image.", |b: &mut Bah| {
        b.builder.image.clone()
    });
    r.getter(
        "debug_mode",
        "When true, each buildah command and its output is printed to stderr.",
        |b: &mut Bah| b.builder.debug_mode,
    );
    r.setter(
        "debug_mode",
        "Turn printing of each buildah command and its output on or off.\n```rhai\nb.debug_mode = true;\n```",
        |b: &mut Bah, v: bool| b.builder.debug_mode = v,
    );
    r.getter("stdout", "stdout of the last step.", |b: &mut Bah| {
        b.last().stdout
    });
    r.getter("stderr", "stderr of the last step.", |b: &mut Bah| {
        b.last().stderr
    });
    r.getter(
        "success",
        "Whether the last step succeeded.",
        |b: &mut Bah| b.last().success,
    );
    r.getter("code", "Exit code of the last step.", |b: &mut Bah| {
        b.last().code
    });
    r.getter("result", "The last step's CommandResult.", |b: &mut Bah| {
        b.last()
    });
    r.getter(
        "image_id",
        "The id of the image the last commit made (\"\" before).",
        |b: &mut Bah| b.image_id.clone(),
    );
    r.getter(
        "container_id",
        "The working container's id.",
        |b: &mut Bah| b.builder.container_id.clone(),
    );
    r.getter("name", "The working container's name.", |b: &mut Bah| {
        b.builder.name.clone()
    });
    r.getter("builder", "The underlying Builder.", |b: &mut Bah| {
        b.builder.clone()
    });
}

fn register_functions(r: &mut Registrar, host: &Arc<Host>) {
    let h = host.clone();
    r.func(
        "bah_images",
        &[],
        r#"Local images as maps with `id`, `names`, `size`, `created`.
```rhai
for i in bah_images() { print(i.names); }
```"#,
        move || -> RResult<Array> { image_list(&h, None) },
    );
    let h = host.clone();
    r.func(
        "bah_image_remove",
        &["image"],
        r#"Remove an image.
Throws `not_found` for an image that does not exist.
```rhai
bah_image_remove("localhost/web:old");
```"#,
        move |i: &str| -> RResult<CommandResult> { ops::image_remove(&h, None, i).rhai() },
    );
    let h = host.clone();
    r.func(
        "bah_image_pull",
        &["image", "tls_verify"],
        r#"Pull an image; `tls_verify` false for a plain-HTTP registry.
Throws `not_found` for an image the registry does not have.
```rhai
bah_image_pull("127.0.0.1:5000/web:1", false);
```"#,
        move |i: &str, t: bool| -> RResult<CommandResult> {
            ops::image_pull(&h, None, i, t).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "bah_image_push",
        &["image", "destination", "tls_verify"],
        r#"Push an image to a registry reference (`docker://` is implied).
Throws `invalid_argument` for a bad reference, `not_found` for a missing image.
```rhai
bah_image_push("localhost/web:1", "127.0.0.1:5000/web:1", false);
```"#,
        move |i: &str, d: &str, t: bool| -> RResult<CommandResult> {
            ops::image_push(&h, None, i, d, t).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "bah_image_tag",
        &["image", "new_name"],
        r#"Give an image another name.
Throws `invalid_argument` for a bad reference, `not_found` for a missing image.
```rhai
bah_image_tag("localhost/web:1", "localhost/web:stable");
```"#,
        move |i: &str, n: &str| -> RResult<CommandResult> { ops::image_tag(&h, None, i, n).rhai() },
    );
    let h = host.clone();
    r.func(
        "bah_build",
        &["tag", "context_dir", "options"],
        r#"Build a Containerfile in `context_dir`. Options: `file`, `format` (`docker` keeps
HEALTHCHECK), `build_args` (map; values are never shown), `isolation`.
Throws `build_failed` naming the failing step, `not_found` for a missing context or file.
```rhai
bah_build("localhost/app:1", "./app", #{format: "docker", build_args: #{VERSION: "1.2"}});
```"#,
        move |t: &str, c: &str, m: Map| -> RResult<CommandResult> {
            ops::build(&h, None, t, c, &build_options(&h, &m)?).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "bah_build",
        &["tag", "context_dir"],
        r#"Build the Containerfile (or Dockerfile) in `context_dir`.
```rhai
bah_build("localhost/app:1", "./app");
```"#,
        move |t: &str, c: &str| -> RResult<CommandResult> {
            ops::build(&h, None, t, c, &BuildOptions::default()).rhai()
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::Output;
    use crate::host::recording_host;
    use rhai::Engine;

    fn value(script: &str) -> Dynamic {
        Engine::new().eval::<Dynamic>(script).unwrap()
    }

    fn map(script: &str) -> Map {
        value(script).cast::<Map>()
    }

    /// The `kind` and `field` of a script error.
    fn kind_and_field(e: Box<rhai::EvalAltResult>) -> (String, String) {
        let rhai::EvalAltResult::ErrorRuntime(v, _) = *e else {
            panic!("not a runtime error: {e}");
        };
        let m = v.cast::<Map>();
        let get = |k: &str| m.get(k).map(|v| v.to_string()).unwrap_or_default();
        (get("kind"), get("field"))
    }

    #[test]
    fn script_values_become_specs() {
        assert_eq!(
            run_what(&value(r#""echo hi""#)).unwrap(),
            RunWhat::Shell("echo hi".into())
        );
        assert_eq!(
            run_what(&value(r#"["sleep", 1]"#)).unwrap(),
            RunWhat::Argv(vec!["sleep".into(), "1".into()])
        );
        assert_eq!(
            kind_and_field(run_what(&value("42")).unwrap_err()),
            ("invalid_argument".into(), "command".into())
        );
        assert_eq!(
            exec_form("cmd", &value(r#"["cat", "/x"]"#)).unwrap(),
            ConfigValue::Many(vec!["cat".into(), "/x".into()])
        );
        assert_eq!(
            kind_and_field(exec_form("cmd", &value("#{}")).unwrap_err()),
            ("invalid_argument".into(), "cmd".into())
        );
        let mut entries = config_entries(&map(r#"#{env: ["A=1", "B=2"], port: 80}"#));
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            entries,
            vec![
                (
                    "env".into(),
                    ConfigValue::Many(vec!["A=1".into(), "B=2".into()])
                ),
                ("port".into(), ConfigValue::One("80".into())),
            ]
        );
        assert_eq!(
            commit_format(&map(r#"#{format: "docker"}"#))
                .unwrap()
                .as_deref(),
            Some("docker")
        );
        assert!(commit_format(&map("#{fmt: 1}")).is_err());
    }

    #[test]
    fn remotes_from_strings_and_maps() {
        let r = remote_from(&value(r#""root@10.0.0.5:2222""#)).unwrap();
        assert_eq!((r.target.as_str(), r.port), ("root@10.0.0.5", Some(2222)));
        let r = remote_from(&value(
            r#"#{host: "h", user: "u", port: 22, identity: "/k", options: ["LogLevel=ERROR"]}"#,
        ))
        .unwrap();
        assert_eq!(
            (r.target.as_str(), r.port, r.identity.as_deref()),
            ("u@h", Some(22), Some("/k"))
        );
        assert_eq!(r.options, vec!["LogLevel=ERROR"]);
        // (remote, field named in the error)
        let rejected = [
            ("42", "remote"),
            (r#"#{user: "u"}"#, "remote.host"),
            (r#"#{host: "h", port: 22.5}"#, "remote.port"),
            (r#"#{host: "h", port: 0}"#, "remote.port"),
            (
                r#"#{host: "h", options: "LogLevel=ERROR"}"#,
                "remote.options",
            ),
            (
                r#"#{host: "h", options: ["ProxyCommand=x"]}"#,
                "remote.options",
            ),
            (r#"#{host: "h", colour: 1}"#, "remote option"),
        ];
        for (given, field) in rejected {
            let e = remote_from(&value(given)).unwrap_err();
            assert_eq!(
                kind_and_field(e),
                ("invalid_argument".into(), field.into()),
                "{given}"
            );
        }
    }

    #[test]
    fn build_arg_values_are_secrets_even_when_an_option_is_bad() {
        let (h, _) = recording_host();
        let o = build_options(
            &h,
            &map(r#"#{file: "C", build_args: #{TOKEN: "s3cret-value"}, isolation: "chroot"}"#),
        )
        .unwrap();
        assert_eq!(o.build_args, vec![("TOKEN".into(), "s3cret-value".into())]);
        assert_eq!(o.file.as_deref(), Some("C"));
        let (h, _) = recording_host();
        assert!(
            build_options(&h, &map(r#"#{build_args: #{T: "other-secret"}, bogus: 1}"#)).is_err()
        );
        assert_eq!(h.redact("other-secret"), "***");
    }

    #[test]
    fn image_listings_become_maps() {
        let (h, rec) = recording_host();
        let mut out = Output::empty_success();
        out.stdout = r#"[{"id": "a96f", "names": ["localhost/busybox:test"], "size": "2.13 MB", "createdatraw": "2026-11-25T16:15:28Z"}]"#.into();
        rec.reply(out);
        let list = image_list(&h, None).unwrap();
        let row = list[0].read_lock::<Map>().unwrap();
        let text = |k: &str| row[k].to_string();
        assert_eq!(
            (text("id"), text("size"), text("created")),
            (
                "a96f".into(),
                "2130000".into(),
                "2026-11-25T16:15:28Z".into()
            )
        );
        let names = row["names"].read_lock::<Array>().unwrap();
        assert_eq!(names[0].to_string(), "localhost/busybox:test");
        assert_eq!(rec.argvs(), vec![vec!["buildah", "images", "--json"]]);
    }
}
