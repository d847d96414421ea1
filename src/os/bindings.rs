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
        r#"True when a file, directory or link exists at `path`.
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
        r#"The size of a file in bytes. Throws `not_found` when it does not exist.
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
or `..` (as rm does), and for `/`, the home directory, the working directory or a parent of
them (compared after resolving symlinks and `..`).
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
        r#"Files below `dir` matching a glob pattern (`*.rhai`, `**/*.conf`), sorted.
```rhai
for f in find_files("/etc", "*.conf") { print(f); }
```"#,
        |d: &str, p: &str| -> RResult<Array> { Ok(strings(super::find(d, p, false).rhai()?)) },
    );
    r.func(
        "find_file",
        &["dir", "pattern"],
        r#"The first file (in sorted order) below `dir` matching a glob. Throws `not_found`.
```rhai
let conf = find_file("/etc", "host*.conf");
```"#,
        |d: &str, p: &str| super::find_one(d, p, false).rhai(),
    );
    r.func(
        "find_dirs",
        &["dir", "pattern"],
        r#"Directories below `dir` matching a glob pattern, sorted.
```rhai
let subdirs = find_dirs("/etc", "*");
```"#,
        |d: &str, p: &str| -> RResult<Array> { Ok(strings(super::find(d, p, true).rhai()?)) },
    );
    r.func(
        "find_dir",
        &["dir", "pattern"],
        r#"The first directory below `dir` matching a glob. Throws `not_found`.
```rhai
let d = find_dir("/etc", "apt*");
```"#,
        |d: &str, p: &str| super::find_one(d, p, true).rhai(),
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
        r#"The value of an environment variable, or () when it is not set.
```rhai
let home = env_get("HOME");
if env_get("CI") != () { print("in CI"); }
```"#,
        |k: &str| super::env_get(k).map_or(Dynamic::UNIT, Dynamic::from),
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
}
