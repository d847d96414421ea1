//! Rhai glue for `os`: files, directories, environment, temporary paths.

use std::sync::Arc;

use rhai::{Array, Dynamic, Map, INT};

use crate::glue::{IntoRhai, RResult, Registrar};
use crate::host::{Host, Resource};

fn strings(v: Vec<String>) -> Array {
    v.into_iter().map(Dynamic::from).collect()
}

fn track_tmp(host: &Host, path: &std::path::Path) -> String {
    let shown = path.display().to_string();
    let p = shown.clone();
    host.resources
        .register(Resource::new("tmpdir", &shown, move |h| {
            super::remove_tmp(h, &p)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }));
    shown
}

pub fn register(r: &mut Registrar, host: &Arc<Host>) {
    r.func(
        "exist",
        &["path"],
        r#"True when a file, directory or link exists at `path` (a leading `~` is the home
directory).
```rhai
if !exist("/etc/containers/containers.conf") { print("no config"); }
```"#,
        super::exist,
    );
    let h = host.clone();
    r.func(
        "file_read",
        &["path"],
        r#"The whole content of a regular text file (at most 256 MiB; Ctrl-C stops the read).
Throws `not_found`, `permission_denied`, or `invalid_argument` for a directory, a FIFO, a
device, a non-UTF-8 file or a file over 256 MiB (stream bigger ones through a command).
```rhai
let hosts = file_read("/etc/hosts");
```"#,
        move |p: &str| super::file_read(p, super::MAX_READ, &h.cancel).rhai(),
    );
    let h = host.clone();
    r.func(
        "file_write",
        &["path", "content"],
        r#"Write `content` to `path`, replacing it; parent directories are created.
```rhai
file_write("/tmp/demo/hello.txt", "hello\n");
```"#,
        move |p: &str, c: &str| super::file_write(&h, p, c).rhai(),
    );
    let h = host.clone();
    r.func(
        "file_write_append",
        &["path", "content"],
        r#"Append `content` to `path`, creating it when missing.
```rhai
file_write_append("/tmp/demo/log.txt", "one more line\n");
```"#,
        move |p: &str, c: &str| super::file_write_append(&h, p, c).rhai(),
    );
    r.func(
        "file_size",
        &["path"],
        r#"The size of a file in bytes. Throws `not_found` when it does not exist and
`invalid_argument` for a directory. A leading `~` is the home directory.
```rhai
print(file_size("/etc/hosts"));
```"#,
        |p: &str| -> RResult<INT> { Ok(super::file_size(p).rhai()? as INT) },
    );
    let h = host.clone();
    r.func(
        "mkdir",
        &["path"],
        r#"Create a directory and its parents (`mkdir -p`); an existing directory is fine.
```rhai
mkdir("/tmp/demo/a/b/c");
```"#,
        move |p: &str| super::mkdir(&h, p).rhai(),
    );
    let h = host.clone();
    r.func(
        "delete",
        &["path"],
        r#"Remove a file or a whole directory (`rm -rf`; a symlink is removed, not its target).
Returns false when nothing was there. Throws `invalid_argument` for "", a path ending in `.`
or `..` (as rm does), and for `/`, the home directory, the directory herodo started in, a
parent of them or of the working directory (compared after resolving symlinks and `..`). A
working directory the script moved into with `chdir` may be deleted: herodo then steps back to
where it started.
```rhai
delete("/tmp/demo");
```"#,
        move |p: &str| super::delete(&h, p).rhai(),
    );
    let h = host.clone();
    r.func(
        "copy",
        &["source", "destination"],
        r#"Copy a file or directory tree (`cp -r`). Into `destination` when it is an existing
directory. `source` may be a glob (`/etc/*.conf`); then `destination` is a directory.
Throws `invalid_argument` for a directory copied into itself or a file onto itself.
```rhai
copy("/etc/hosts", "/tmp/demo/");
```"#,
        move |s: &str, d: &str| super::copy(&h, s, d).rhai(),
    );
    let h = host.clone();
    r.func(
        "mv",
        &["source", "destination"],
        r#"Move or rename a file or directory; works across filesystems.
Throws `invalid_argument` for a directory moved into itself.
```rhai
mv("/tmp/demo/hosts", "/tmp/demo/hosts.bak");
```"#,
        move |s: &str, d: &str| super::mv(&h, s, d).rhai(),
    );
    r.func(
        "find_files",
        &["dir", "pattern"],
        r#"Files anywhere below `dir` matching a glob pattern, sorted: a bare pattern (`*.rhai`)
searches the whole tree, as `dir/**/*.rhai`; one with a `/` (`conf/*.toml`) is taken as it is.
```rhai
for f in find_files("/etc", "*.conf") { print(f); }
```"#,
        {
            let h = host.clone();
            move |d: &str, p: &str| -> RResult<Array> {
                let stop = || h.cancel.is_cancelled();
                Ok(strings(super::find(d, p, false, &stop).rhai()?))
            }
        },
    );
    r.func(
        "find_file",
        &["dir", "pattern"],
        r#"The first file (in sorted order) anywhere below `dir` matching a glob. Throws
`not_found`.
```rhai
let conf = find_file("/etc", "host*.conf");
```"#,
        {
            let h = host.clone();
            move |d: &str, p: &str| super::find_one(d, p, false, &|| h.cancel.is_cancelled()).rhai()
        },
    );
    r.func(
        "find_dirs",
        &["dir", "pattern"],
        r#"Directories anywhere below `dir` matching a glob pattern, sorted (a bare pattern
searches the whole tree, as `find_files`).
```rhai
let subdirs = find_dirs("/etc", "*");
```"#,
        {
            let h = host.clone();
            move |d: &str, p: &str| -> RResult<Array> {
                let stop = || h.cancel.is_cancelled();
                Ok(strings(super::find(d, p, true, &stop).rhai()?))
            }
        },
    );
    r.func(
        "find_dir",
        &["dir", "pattern"],
        r#"The first directory below `dir` matching a glob. Throws `not_found`.
```rhai
let d = find_dir("/etc", "apt*");
```"#,
        {
            let h = host.clone();
            move |d: &str, p: &str| super::find_one(d, p, true, &|| h.cancel.is_cancelled()).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "chdir",
        &["path"],
        r#"Change the working directory of the script (and of the commands it runs).
Under `--dry-run` a directory that does not exist is skipped with a note.
```rhai
chdir("/tmp");
```"#,
        move |p: &str| super::chdir(&h, p).rhai(),
    );
    r.func(
        "cwd",
        &[],
        r#"The current working directory.
```rhai
print(cwd());
```"#,
        || -> RResult<String> {
            std::env::current_dir()
                .map(|p| p.display().to_string())
                .map_err(|e| crate::error::HostError::io("read", "current directory", e))
                .rhai()
        },
    );
    r.func(
        "env_get",
        &["name"],
        r#"The value of an environment variable, or "" when it is not set (the original herodo's
contract; `env_has` tells an unset variable from an empty one).
```rhai
let home = env_get("HOME");
if env_has("CI") { print("in CI"); }
```"#,
        |k: &str| super::env_get(k).unwrap_or_default(),
    );
    r.func(
        "env_has",
        &["name"],
        r#"True when the environment variable is set (even to "").
```rhai
if !env_has("HOME") { print("no HOME"); }
```"#,
        |k: &str| super::env_get(k).is_some(),
    );
    r.func(
        "env_get",
        &["name", "default"],
        r#"The value of an environment variable, or `default` when it is not set.
```rhai
let engine = env_get("HERODO_CONTAINER_ENGINE", "podman");
```"#,
        |k: &str, d: &str| super::env_get(k).unwrap_or_else(|| d.to_string()),
    );
    r.func(
        "env_set",
        &["name", "value"],
        r#"Set an environment variable for this script and the commands it runs.
It changes only herodo's own process, so it stays real under `--dry-run`.
```rhai
env_set("LC_ALL", "C");
```"#,
        |k: &str, v: &str| super::env_set(k, v).rhai(),
    );
    r.func(
        "env_unset",
        &["name"],
        r#"Remove an environment variable.
```rhai
env_unset("http_proxy");
```"#,
        |k: &str| super::env_unset(k).rhai(),
    );
    r.func(
        "env_list",
        &[],
        r#"Every environment variable as a map.
```rhai
for k in env_list().keys() { print(k); }
```"#,
        || -> Map {
            std::env::vars()
                .map(|(k, v)| (k.into(), Dynamic::from(v)))
                .collect()
        },
    );
    let h = host.clone();
    r.func(
        "tmpdir",
        &[],
        r#"Create a fresh empty temporary directory and return its path.
Under `herodo test` it is removed after the test (unless `--keep`). Under `--dry-run` only
the path is made up; nothing is created.
```rhai
let d = tmpdir();
file_write(`${d}/x.txt`, "x");
```"#,
        move || -> RResult<String> { Ok(track_tmp(&h, &super::script_tmpdir(&h).rhai()?)) },
    );
    let h = host.clone();
    r.func(
        "mktemp",
        &[],
        r#"Create a fresh empty temporary file and return its path.
Under `herodo test` it is removed after the test (unless `--keep`). Under `--dry-run` only
the path is made up; nothing is created.
```rhai
let f = mktemp();
file_write(f, "data");
```"#,
        move || -> RResult<String> { Ok(track_tmp(&h, &super::script_mktemp(&h).rhai()?)) },
    );
    register_original(r, host);
}

/// A symlink to create: the original herodo's `symlink(source, dest)` builder.
#[derive(Clone, Debug)]
pub struct SymlinkBuilder {
    source: String,
    dest: String,
    remove_dest: bool,
}

/// The original herodo's os functions: checks that throw, program installation, symlinks,
/// downloads, packages and platform tests.
fn register_original(r: &mut Registrar, host: &Arc<Host>) {
    use super::Want;
    for (name, want, what) in [
        ("ensure", Want::Any, "exists"),
        ("ensure_dir", Want::Dir, "is a directory"),
        ("ensure_file", Want::File, "is a regular file"),
    ] {
        r.func(
            name,
            &["path"],
            &format!(
                "The path (with `~` expanded) when it {what}; throws `not_found` when it does not \
                 exist{}. Creates nothing (for that, `mkdir`).\n```rhai\n{name}(\"/etc\");\n```",
                if want == Want::Any {
                    ""
                } else {
                    " and `invalid_argument` when it is of another type"
                }
            ),
            move |p: &str| super::ensure(p, want).rhai(),
        );
    }
    let h = host.clone();
    r.func(
        "copy_bin",
        &["path"],
        r##"Install a program: copy it to /usr/local/bin (as root) or ~/hero/bin, executable,
replacing an older copy atomically. Returns the new path.
```rhai
let d = tmpdir();
file_write(`${d}/hello`, "#!/bin/sh\necho hello\n");
let installed = copy_bin(`${d}/hello`);
delete(installed);
```"##,
        move |p: &str| super::copy_bin(&h, p).rhai(),
    );
    let h = host.clone();
    r.func(
        "chmod_exec",
        &["path"],
        r#"Make a file executable (`chmod +x`). Throws `not_found`, or `invalid_argument` for a
directory.
```rhai
let f = mktemp();
chmod_exec(f);
```"#,
        move |p: &str| super::chmod_exec(&h, p).rhai(),
    );
    let h = host.clone();
    r.func(
        "compare",
        &["path", "expected"],
        r#"True when the file's content is exactly `expected`.
```rhai
let f = mktemp();
file_write(f, "x");
assert(compare(f, "x"));
```"#,
        move |p: &str, want: &str| super::compare(p, want, &h.cancel).rhai(),
    );
    r.func(
        "cmd_ensure_exists",
        &["commands"],
        r#"Check that every program of a comma-separated list is on PATH; throws
`command_not_found` naming the missing ones.
```rhai
cmd_ensure_exists("sh,ls");
```"#,
        |list: &str| -> RResult<()> {
            let missing = super::missing_commands(list).rhai()?;
            if missing.is_empty() {
                return Ok(());
            }
            Err(crate::glue::to_rhai_error(
                crate::error::ErrorInfo::new(
                    crate::error::kind::COMMAND_NOT_FOUND,
                    format!("command not found: {}", missing.join(", ")),
                )
                .field("missing", missing.join(",")),
            ))
        },
    );
    let h = host.clone();
    r.func(
        "rsync",
        &["source", "dest"],
        r#"Mirror `source` to `dest` with `rsync -a --delete` (files in `dest` that `source` does
not have are removed). Throws `command_not_found` without rsync.
```rhai
let a = tmpdir();
let b = tmpdir();
file_write(`${a}/x`, "x");
rsync(`${a}/`, `${b}/`);
```"#,
        move |s: &str, d: &str| super::rsync(&h, s, d).rhai(),
    );

    r.engine()
        .register_type_with_name::<SymlinkBuilder>("SymlinkBuilder");
    r.pure(
        "symlink",
        &["source", "dest"],
        r#"A symlink `dest` -> `source` to create (the original herodo's builder): `.source(s)`,
`.dest(d)`, `.remove_dest(true)` to replace an existing file or link, then `.create()`.
```rhai
let d = tmpdir();
symlink("/etc/hostname", `${d}/hn`).remove_dest(true).create();
assert(is_symlink(`${d}/hn`));
```"#,
        |s: &str, d: &str| SymlinkBuilder {
            source: s.to_string(),
            dest: d.to_string(),
            remove_dest: false,
        },
    );
    r.pure(
        "source",
        &["link", "source"],
        "Where the link points.\n```rhai\nlet d = tmpdir();\nsymlink(\"\", `${d}/l`).source(\"/etc\").create();\n```",
        |mut b: SymlinkBuilder, s: &str| {
            b.source = s.to_string();
            b
        },
    );
    r.pure(
        "dest",
        &["link", "dest"],
        "The path of the link itself.\n```rhai\nlet d = tmpdir();\nsymlink(\"/etc\", \"\").dest(`${d}/l`).create();\n```",
        |mut b: SymlinkBuilder, d: &str| {
            b.dest = d.to_string();
            b
        },
    );
    r.pure(
        "remove_dest",
        &["link", "yes"],
        "Replace an existing file or link at `dest` (atomically; never a directory).\n```rhai\nlet d = tmpdir();\nsymlink(\"/etc\", `${d}/l`).remove_dest(true).create();\n```",
        |mut b: SymlinkBuilder, yes: bool| {
            b.remove_dest = yes;
            b
        },
    );
    let h = host.clone();
    r.func(
        "create",
        &["link"],
        "Create the link (and the directory it is in); returns its path. Throws \
         `already_exists` when `dest` exists and `remove_dest` is not set.\n```rhai\nlet d = tmpdir();\nlet l = symlink(\"/etc\", `${d}/l`).create();\n```",
        move |b: SymlinkBuilder| -> RResult<String> {
            super::symlink(&h, &b.source, &b.dest, b.remove_dest).rhai()?;
            Ok(super::expand_home(&b.dest).into_owned())
        },
    );
    r.func(
        "is_symlink",
        &["path"],
        "True when `path` is a symbolic link (whether or not its target exists).\n```rhai\nprint(is_symlink(\"/bin\"));\n```",
        |p: &str| super::is_symlink(p),
    );
    r.func(
        "symlink_target",
        &["path"],
        "Where a symbolic link points, as written in it. Throws `invalid_argument` for a path \
         that is not a link.\n```rhai\nif is_symlink(\"/bin\") { print(symlink_target(\"/bin\")); }\n```",
        |p: &str| super::symlink_target(p).rhai(),
    );

    register_downloads(r, host);
    register_packages(r, host);

    for (name, what, doc) in [
        ("platform_is_linux", "linux", "True on Linux."),
        ("platform_is_osx", "macos", "True on macOS."),
        (
            "platform_is_arm",
            "arm",
            "True on an ARM CPU (aarch64 or arm).",
        ),
        (
            "platform_is_x86",
            "x86",
            "True on an x86 CPU (x86_64 or x86).",
        ),
    ] {
        r.pure(
            name,
            &[],
            &format!("{doc}\n```rhai\nprint({name}());\n```"),
            move || super::platform_is(what),
        );
    }
    for (name, os, arch, shown) in [
        ("platform_check_linux_x86", "linux", "x86", "Linux on x86"),
        ("platform_check_macos_arm", "macos", "arm", "macOS on ARM"),
    ] {
        r.pure(
            name,
            &[],
            &format!(
                "Throws `unsupported` unless this is {shown}.\n```rhai\ntry {{ {name}(); }} catch (e) {{ print(e.message); }}\n```"
            ),
            move || -> RResult<()> {
                if super::platform_is(os) && super::platform_is(arch) {
                    return Ok(());
                }
                Err(crate::glue::to_rhai_error(crate::error::ErrorInfo::new(
                    crate::error::kind::UNSUPPORTED,
                    format!(
                        "this needs {shown}; herodo runs on {} {}",
                        std::env::consts::OS,
                        std::env::consts::ARCH
                    ),
                )))
            },
        );
    }
}

fn min_kb(v: INT) -> RResult<u64> {
    crate::common::convert::int_in("min_size_kb", v, 0u64, u64::MAX).rhai()
}

fn download_check(min: INT, opts: &Map) -> RResult<super::download::Check> {
    let o = crate::glue::Opts::new("download", opts, &["sha256"])?;
    Ok(super::download::Check {
        min_kb: min_kb(min)?,
        sha256: o.string("sha256")?,
    })
}

fn register_downloads(r: &mut Registrar, host: &Arc<Host>) {
    use super::download as dl;
    let h = host.clone();
    r.func(
        "download",
        &["url", "dir", "min_size_kb"],
        r#"Download `url` into the directory `dir` with curl (a progress bar on a terminal); an
archive (tar, tar.gz, zip, ...) is extracted there and removed. Fails with `network` when the
file is under `min_size_kb` KiB (0: no minimum); never leaves a half-written file. Returns the
file's path, or `dir` for an archive.
```rhai
let d = tmpdir();
let f = download("file:///etc/hostname", d, 0);
```"#,
        move |u: &str, d: &str, m: INT| -> RResult<String> {
            dl::download(
                &h,
                u,
                d,
                &dl::Check {
                    min_kb: min_kb(m)?,
                    sha256: None,
                },
            )
            .rhai()
        },
    );
    let h = host.clone();
    r.func(
        "download",
        &["url", "dir", "min_size_kb", "options"],
        r#"`download` with options: `sha256` (hex) checks the file; a mismatch throws
`checksum_mismatch` and leaves nothing behind.
```rhai
let d = tmpdir();
try { download("file:///etc/hostname", d, 0, #{sha256: "00"}); } catch (e) { print(e.kind); }
```"#,
        move |u: &str, d: &str, m: INT, o: Map| -> RResult<String> {
            dl::download(&h, u, d, &download_check(m, &o)?).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "download_file",
        &["url", "dest", "min_size_kb"],
        r#"Download `url` to the file `dest` (its directory is created) with curl, through a
temporary name so `dest` is never half-written. Fails with `network` when the file is under
`min_size_kb` KiB (0: no minimum). Returns `dest`.
```rhai
let d = tmpdir();
download_file("file:///etc/hostname", `${d}/hostname`, 0);
```"#,
        move |u: &str, d: &str, m: INT| -> RResult<String> {
            dl::download_file(
                &h,
                u,
                d,
                &dl::Check {
                    min_kb: min_kb(m)?,
                    sha256: None,
                },
            )
            .rhai()
        },
    );
    let h = host.clone();
    r.func(
        "download_file",
        &["url", "dest", "min_size_kb", "options"],
        r#"`download_file` with options: `sha256` (hex) checks the file; a mismatch throws
`checksum_mismatch` and leaves nothing behind.
```rhai
let d = tmpdir();
try { download_file("file:///etc/hostname", `${d}/h`, 0, #{sha256: "00"}); } catch (e) { print(e.kind); }
```"#,
        move |u: &str, d: &str, m: INT, o: Map| -> RResult<String> {
            dl::download_file(&h, u, d, &download_check(m, &o)?).rhai()
        },
    );
    let h = host.clone();
    r.func(
        "download_install",
        &["url", "min_size_kb"],
        r#"Download `url` into the temporary directory; a `.deb` is then installed with
`dpkg --install` (and `apt-get install -f` for its dependencies); an archive is extracted.
Returns the downloaded file (or the directory it was extracted into).
```rhai
let f = download_install("file:///etc/hostname", 0);
```"#,
        move |u: &str, m: INT| -> RResult<String> {
            let dir = std::env::temp_dir();
            dl::download_install(
                &h,
                u,
                &dir,
                &dl::Check {
                    min_kb: min_kb(m)?,
                    sha256: None,
                },
            )
            .rhai()
        },
    );
}

fn register_packages(r: &mut Registrar, host: &Arc<Host>) {
    use super::package::{self as pkg, Apt, Op};
    use std::sync::atomic::{AtomicBool, Ordering};
    // `package_set_debug` of this engine (not global: one per engine).
    let debug = Arc::new(AtomicBool::new(false));
    let apt = {
        let host = host.clone();
        let debug = debug.clone();
        move || -> (Arc<Host>, bool) { (host.clone(), debug.load(Ordering::Relaxed)) }
    };
    let d = debug.clone();
    r.func(
        "package_set_debug",
        &["debug"],
        r#"Show the apt commands the `package_*` functions run, and their output.
```rhai
package_set_debug(true);
```"#,
        move |on: bool| d.store(on, Ordering::Relaxed),
    );
    r.func(
        "package_platform",
        &[],
        r#"The platform as the `package_*` functions see it: "Debian", "Ubuntu", "MacOS" or
"Unknown". They drive apt on Debian and Ubuntu and throw `unsupported` elsewhere.
```rhai
print(package_platform());
```"#,
        || pkg::platform().name(),
    );
    for (name, doc, install) in [
        (
            "package_install",
            r#"Install packages with apt (`apt-get install -y`; several names separated by spaces
or commas). Throws `command_failed` when apt fails, `unsupported` off Debian/Ubuntu. Under
`--dry-run` the apt command is printed instead.
```rhai
package_install("cowsay");
```"#,
            true,
        ),
        (
            "package_remove",
            r#"Remove packages with apt (`apt-get remove -y`). Throws like `package_install`.
```rhai
package_remove("cowsay");
```"#,
            false,
        ),
    ] {
        let apt = apt.clone();
        r.func(name, &["packages"], doc, move |list: &str| -> RResult<()> {
            let names = pkg::package_names(list).rhai()?;
            let (h, debug) = apt();
            let op = if install {
                Op::Install(names)
            } else {
                Op::Remove(names)
            };
            Apt { host: &h, debug }.run(&op).rhai().map(|_| ())
        });
    }
    for (name, doc, op) in [
        (
            "package_update",
            "Refresh apt's package lists (`apt-get update`).
```rhai
package_update();
```",
            Op::Update,
        ),
        (
            "package_upgrade",
            "Upgrade every installed package (`apt-get upgrade -y`).
```rhai
package_upgrade();
```",
            Op::Upgrade,
        ),
    ] {
        let apt = apt.clone();
        r.func(name, &[], doc, move || -> RResult<()> {
            let (h, debug) = apt();
            Apt { host: &h, debug }.run(&op).rhai().map(|_| ())
        });
    }
    let a = apt.clone();
    r.func(
        "package_list",
        &[],
        r#"The names of the installed packages.
```rhai
print(package_list().len());
```"#,
        move || -> RResult<Array> {
            let (h, debug) = a();
            let out = Apt { host: &h, debug }.run(&Op::List).rhai()?;
            Ok(strings(pkg::parse_list(&out)))
        },
    );
    let a = apt.clone();
    r.func(
        "package_search",
        &["query"],
        r#"Names of available packages whose name matches `query` (`apt-cache search --names-only`).
```rhai
for p in package_search("cowsay") { print(p); }
```"#,
        move |q: &str| -> RResult<Array> {
            if q.trim().is_empty() {
                return Err(crate::glue::invalid("query", "is empty"));
            }
            let (h, debug) = a();
            let out = Apt { host: &h, debug }
                .run(&Op::Search(q.to_string()))
                .rhai()?;
            Ok(strings(pkg::parse_search(&out)))
        },
    );
    r.func(
        "package_is_installed",
        &["package"],
        r#"True when the package is installed.
```rhai
if !package_is_installed("curl") { package_install("curl"); }
```"#,
        move |p: &str| -> RResult<bool> {
            let (h, debug) = apt();
            Apt { host: &h, debug }.is_installed(p).rhai()
        },
    );
}
