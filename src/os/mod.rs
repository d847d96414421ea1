//! Files, directories, environment and temporary paths for scripts.
//!
//! Every function with an effect takes the [`Host`]: under `--dry-run` it validates its
//! arguments and reads what it needs (so a dry run still reports a bad path), prints what it
//! would do through [`Host::dry_run`] and changes nothing.

pub mod bindings;
pub mod download;
pub mod package;

use std::borrow::Cow;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use crate::error::HostError;
use crate::exec::CancelToken;
use crate::host::Host;

type Result<T> = std::result::Result<T, HostError>;

/// The largest file `file_read` reads: a script string of a quarter GiB is already far beyond
/// what text processing in Rhai is good for (bigger files go through commands).
pub const MAX_READ: u64 = 256 * 1024 * 1024;

/// How much `file_read` reads between two looks at the cancel flag.
const READ_CHUNK: usize = 1024 * 1024;

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> HostError + 'a {
    move |e| HostError::io(action, path, e)
}

fn non_empty(field: &str, path: &str) -> Result<()> {
    if path.trim().is_empty() {
        Err(HostError::invalid(field, "path is empty"))
    } else {
        Ok(())
    }
}

/// A value as it appears in a dry-run line: shell-quoted when it needs quoting.
fn q(s: &str) -> Cow<'_, str> {
    shell_words::quote(s)
}

pub fn exist(path: &str) -> bool {
    let path = expand_home(path);
    !path.is_empty() && fs::symlink_metadata(&*path).is_ok()
}

/// `path` with a leading `~` (alone or followed by `/`) replaced by the home directory.
pub fn expand_home(path: &str) -> Cow<'_, str> {
    match dirs::home_dir() {
        Some(h) if path == "~" => h.display().to_string().into(),
        Some(h) if path.starts_with("~/") => format!("{}{}", h.display(), &path[1..]).into(),
        _ => path.into(),
    }
}

/// What [`ensure`] insists on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    Any,
    Dir,
    File,
}

/// The original herodo's `ensure`/`ensure_dir`/`ensure_file`: the path (`~` expanded) when it
/// exists and is of the wanted type; `not_found` or `invalid_argument` otherwise.
pub fn ensure(path: &str, want: Want) -> Result<String> {
    non_empty("path", path)?;
    let p = expand_home(path).into_owned();
    let what = match want {
        Want::Any => "path",
        Want::Dir => "directory",
        Want::File => "file",
    };
    let meta = fs::metadata(&p).map_err(|_| HostError::NotFound {
        what,
        name: p.clone(),
    })?;
    match want {
        Want::Dir if !meta.is_dir() => Err(HostError::invalid(
            "path",
            format!("{p} is not a directory"),
        )),
        Want::File if !meta.is_file() => Err(HostError::invalid(
            "path",
            format!("{p} is not a regular file"),
        )),
        _ => Ok(p),
    }
}

/// Where `copy_bin` puts programs: /usr/local/bin for root, ~/hero/bin otherwise.
pub fn bin_dir(is_root: bool, home: Option<&Path>) -> Result<PathBuf> {
    if is_root {
        return Ok(PathBuf::from("/usr/local/bin"));
    }
    home.map(|h| h.join("hero/bin"))
        .ok_or_else(|| HostError::NotFound {
            what: "home directory",
            name: "$HOME".into(),
        })
}

/// Copy a program into [`bin_dir`] and make it executable; returns the new path.
pub fn copy_bin(host: &Host, src: &str) -> Result<String> {
    let src = ensure(src, Want::File)?;
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let dir = bin_dir(root, dirs::home_dir().as_deref())?;
    let name = Path::new(&src)
        .file_name()
        .ok_or_else(|| HostError::invalid("path", format!("{src} has no file name")))?;
    let dest = dir.join(name);
    let shown = dest.display().to_string();
    if host.dry_run(|| format!("install -m 755 {} {}", q(&src), q(&shown))) {
        return Ok(shown);
    }
    fs::create_dir_all(&dir).map_err(io("create", &dir))?;
    // Through a temporary name: a running copy of the program is replaced, not overwritten.
    let tmp = dir.join(format!(
        ".{}.herodo-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let res = fs::copy(&src, &tmp)
        .map_err(io("copy to", &tmp))
        .and_then(|_| set_exec(&tmp))
        .and_then(|_| fs::rename(&tmp, &dest).map_err(io("rename to", &dest)));
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res.map(|_| shown)
}

fn set_exec(p: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut perm = fs::metadata(p).map_err(io("stat", p))?.permissions();
    perm.set_mode(perm.mode() | 0o111);
    fs::set_permissions(p, perm).map_err(io("chmod", p))
}

/// `chmod +x` on a regular file.
pub fn chmod_exec(host: &Host, path: &str) -> Result<()> {
    let p = ensure(path, Want::File)?;
    if host.dry_run(|| format!("chmod +x {}", q(&p))) {
        return Ok(());
    }
    set_exec(Path::new(&p))
}

/// True when the file's content is exactly `expected`.
pub fn compare(path: &str, expected: &str, cancel: &CancelToken) -> Result<bool> {
    let p = expand_home(path);
    Ok(file_read(&p, MAX_READ, cancel)? == expected)
}

/// The names of a comma-separated list that are not programs on PATH.
pub fn missing_commands(list: &str) -> Result<Vec<String>> {
    let names: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if names.is_empty() {
        return Err(HostError::invalid("commands", "names no command"));
    }
    Ok(names
        .into_iter()
        .filter(|n| crate::exec::which(n).is_none())
        .map(String::from)
        .collect())
}

/// `ln -s source dest`; with `replace`, an existing `dest` (file or link, not a directory)
/// is replaced atomically.
pub fn symlink(host: &Host, source: &str, dest: &str, replace: bool) -> Result<()> {
    non_empty("source", source)?;
    non_empty("dest", dest)?;
    let dest = expand_home(dest).into_owned();
    let d = Path::new(&dest);
    if host.dry_run(|| {
        format!(
            "ln -s{} {} {}",
            if replace { "f" } else { "" },
            q(source),
            q(&dest)
        )
    }) {
        return Ok(());
    }
    if let Some(parent) = d.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(io("create", parent))?;
    }
    if !replace {
        return std::os::unix::fs::symlink(source, d).map_err(io("create symlink", d));
    }
    if d.is_dir() && !d.is_symlink() {
        return Err(HostError::invalid(
            "dest",
            format!("{dest} is a directory; remove it first"),
        ));
    }
    let tmp = d.with_file_name(format!(
        ".{}.herodo-{}",
        d.file_name().map_or("link".into(), |n| n.to_string_lossy()),
        std::process::id()
    ));
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(source, &tmp).map_err(io("create symlink", &tmp))?;
    fs::rename(&tmp, d).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        HostError::io("rename to", d, e)
    })
}

pub fn is_symlink(path: &str) -> bool {
    Path::new(&*expand_home(path)).is_symlink()
}

/// Where a symlink points (as written in the link).
pub fn symlink_target(path: &str) -> Result<String> {
    let p = expand_home(path);
    let p = Path::new(&*p);
    if !p.is_symlink() {
        return Err(HostError::invalid(
            "path",
            format!("{} is not a symlink", p.display()),
        ));
    }
    Ok(fs::read_link(p)
        .map_err(io("read link", p))?
        .display()
        .to_string())
}

/// `rsync -a --delete source dest` (the parent of `dest` is created).
pub fn rsync(host: &Host, source: &str, dest: &str) -> Result<()> {
    non_empty("source", source)?;
    non_empty("dest", dest)?;
    let (src, dst) = (
        expand_home(source).into_owned(),
        expand_home(dest).into_owned(),
    );
    if !Path::new(&src).exists() {
        return Err(HostError::NotFound {
            what: "path",
            name: src,
        });
    }
    if !host.settings.dry_run {
        if let Some(parent) = Path::new(&dst)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            fs::create_dir_all(parent).map_err(io("create", parent))?;
        }
    }
    let cmd = crate::exec::Cmd::new("rsync")
        .args(["-a", "--delete", "--", &src, &dst])
        .echo(false);
    let out = host.exec(cmd.clone())?;
    if !out.success() {
        return Err(crate::exec::ExecError::failed(&cmd, &out).into());
    }
    Ok(())
}

/// The platform checks of the original herodo.
pub fn platform_is(what: &str) -> bool {
    match what {
        "linux" => cfg!(target_os = "linux"),
        "macos" => cfg!(target_os = "macos"),
        "arm" => cfg!(target_arch = "aarch64") || cfg!(target_arch = "arm"),
        "x86" => cfg!(target_arch = "x86_64") || cfg!(target_arch = "x86"),
        _ => false,
    }
}

/// What a file that is not a regular file or directory is, for messages.
fn describe_special(t: fs::FileType) -> &'static str {
    if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "a special file"
    }
}

fn regular_file_only(path: &str, m: &fs::Metadata) -> Result<()> {
    if m.is_dir() {
        return Err(HostError::invalid("path", format!("{path} is a directory")));
    }
    if !m.is_file() {
        return Err(HostError::invalid(
            "path",
            format!(
                "{path} is {}, not a regular file",
                describe_special(m.file_type())
            ),
        ));
    }
    Ok(())
}

fn too_large(path: &str, max: u64) -> HostError {
    HostError::invalid(
        "path",
        format!("{path} is larger than {max} bytes, the most file_read reads"),
    )
}

/// The whole content of a regular text file of at most `max` bytes. FIFOs, devices and
/// sockets are refused: reading them may block forever (a FIFO without writer) or never end
/// (`/dev/zero`). Reads in chunks and stops when `cancel` is set.
pub fn file_read(path: &str, max: u64, cancel: &CancelToken) -> Result<String> {
    non_empty("path", path)?;
    let p = Path::new(path);
    // Look before opening: opening a FIFO blocks until a writer appears, and opening some
    // devices has effects of its own.
    regular_file_only(path, &fs::metadata(p).map_err(io("read", p))?)?;
    // O_NONBLOCK so that, should the path have become a FIFO since the look above, opening
    // it cannot block; it changes nothing for regular files. Then look again at what was
    // actually opened.
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(p)
        .map_err(io("read", p))?;
    let m = f.metadata().map_err(io("read", p))?;
    regular_file_only(path, &m)?;
    if m.len() > max {
        return Err(too_large(path, max));
    }
    // /proc files say 0 and a file may grow while read: the cap holds for what is read.
    let mut limited = f.take(max.saturating_add(1));
    let mut bytes = Vec::with_capacity(usize::try_from(m.len()).unwrap_or(0));
    let mut chunk = vec![0u8; READ_CHUNK];
    loop {
        if cancel.is_cancelled() {
            return Err(HostError::Cancelled);
        }
        let n = match limited.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(HostError::io("read", p, e)),
        };
        bytes.extend_from_slice(&chunk[..n]);
    }
    if bytes.len() as u64 > max {
        return Err(too_large(path, max));
    }
    String::from_utf8(bytes)
        .map_err(|_| HostError::invalid("path", format!("{path} is not UTF-8 text")))
}

fn ensure_parent(p: &Path) -> Result<()> {
    if let Some(parent) = p.parent() {
        if !parent.as_os_str().is_empty() && !parent.exists() {
            fs::create_dir_all(parent).map_err(io("create directory", parent))?;
        }
    }
    Ok(())
}

/// Write `content` to `path`, creating parent directories.
pub fn file_write(host: &Host, path: &str, content: &str) -> Result<()> {
    non_empty("path", path)?;
    if host.dry_run(|| format!("file_write {} ({} bytes)", q(path), content.len())) {
        return Ok(());
    }
    let p = Path::new(path);
    ensure_parent(p)?;
    fs::write(p, content).map_err(io("write", p))
}

/// Append `content` to `path`, creating it (and parents) when missing.
pub fn file_write_append(host: &Host, path: &str, content: &str) -> Result<()> {
    use std::io::Write;
    non_empty("path", path)?;
    if host.dry_run(|| format!("file_write_append {} ({} bytes)", q(path), content.len())) {
        return Ok(());
    }
    let p = Path::new(path);
    ensure_parent(p)?;
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .map_err(io("open", p))?;
    f.write_all(content.as_bytes()).map_err(io("append to", p))
}

pub fn file_size(path: &str) -> Result<u64> {
    non_empty("path", path)?;
    let shown = expand_home(path);
    let p = Path::new(&*shown);
    let meta = fs::metadata(p).map_err(io("stat", p))?;
    if meta.is_dir() {
        return Err(HostError::invalid(
            "path",
            format!("{} is a directory, not a file", p.display()),
        ));
    }
    Ok(meta.len())
}

/// `mkdir -p`.
pub fn mkdir(host: &Host, path: &str) -> Result<()> {
    non_empty("path", path)?;
    let p = Path::new(path);
    if p.is_file() {
        return Err(HostError::invalid(
            "path",
            format!("{path} exists and is a file"),
        ));
    }
    if host.dry_run(|| format!("mkdir {}", q(path))) {
        return Ok(());
    }
    fs::create_dir_all(p).map_err(io("create directory", p))
}

/// True when the last component of `path` as written is `.` or `..` (`Path` drops a trailing
/// `.`, so look at the text). rm refuses these: `x/sub/..` means `x`, and `.` the directory
/// the script stands in, which is never what a cleanup meant.
fn ends_in_dot(path: &str) -> bool {
    matches!(
        path.split('/').rev().find(|s| !s.is_empty()),
        Some(".") | Some("..")
    )
}

/// The directory entry a recursive removal of `p` would really remove, with every symlink
/// and `..` resolved: the link itself for a symlink (removing it leaves its target alone),
/// else the canonical path (a trailing `/` on a link to a directory reaches the directory).
fn removal_target(p: &Path, meta: &fs::Metadata) -> Result<PathBuf> {
    if meta.file_type().is_symlink() {
        let parent = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let dir = fs::canonicalize(parent).map_err(io("resolve", parent))?;
        Ok(match p.file_name() {
            Some(name) => dir.join(name),
            None => dir,
        })
    } else {
        fs::canonicalize(p).map_err(io("resolve", p))
    }
}

/// Refuse to remove (recursively) what no script means to remove: `/`, the home directory and
/// its parents, the directory herodo started in and its parents, the parents of the working
/// directory. Compared on resolved paths, so `/tmp/..`, `~/../me` or a symlink to `/` cannot
/// slip through. The working directory itself may go when the script moved there (the
/// original herodo's scripts `chdir` into a scratch directory and delete it): true is returned
/// then, and the caller steps back to where herodo started.
fn guard_removal(host: &Host, path: &str, p: &Path, meta: &fs::Metadata) -> Result<bool> {
    let refuse = |why: &str| {
        Err(HostError::invalid(
            "path",
            format!("refusing to delete {path}: {why}"),
        ))
    };
    let target = removal_target(p, meta)?;
    if target.parent().is_none() {
        return refuse("it is the root directory");
    }
    if let Some(home) = dirs::home_dir().and_then(|h| fs::canonicalize(h).ok()) {
        if home == target {
            return refuse("it is the home directory");
        }
        if home.starts_with(&target) {
            return refuse("it contains the home directory");
        }
    }
    if let Ok(start) = fs::canonicalize(&host.start_dir) {
        if start == target {
            return refuse("it is the directory herodo started in");
        }
        if start.starts_with(&target) {
            return refuse("it contains the directory herodo started in");
        }
    }
    if let Ok(cwd) = std::env::current_dir().and_then(fs::canonicalize) {
        if cwd == target {
            return Ok(true);
        }
        if cwd.starts_with(&target) {
            return refuse("it contains the working directory");
        }
    }
    Ok(false)
}

/// `rm -rf`: true when something was removed, false when nothing was there. Refuses a path
/// ending in `.` or `..` (as rm does), `/`, the home directory, the directory herodo started
/// in, and their parents and the working directory's (see [`guard_removal`]).
pub fn delete(host: &Host, path: &str) -> Result<bool> {
    non_empty("path", path)?;
    if ends_in_dot(path) {
        return Err(HostError::invalid(
            "path",
            format!("refusing to delete {path}: a path ending in `.` or `..`"),
        ));
    }
    let p = Path::new(path);
    let meta = match fs::symlink_metadata(p) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(HostError::io("stat", p, e)),
        Ok(m) => m,
    };
    let is_cwd = guard_removal(host, path, p, &meta)?;
    if host.dry_run(|| format!("delete {}", q(path))) {
        return Ok(true);
    }
    if is_cwd {
        std::env::set_current_dir(&host.start_dir)
            .map_err(|e| HostError::io("change directory to", &host.start_dir, e))?;
    }
    if meta.is_dir() {
        fs::remove_dir_all(p).map_err(io("delete", p))?;
    } else {
        fs::remove_file(p).map_err(io("delete", p))?;
    }
    Ok(true)
}

/// Remove a temporary path the script made with `tmpdir()`/`mktemp()` (the test runner's
/// cleanup). A test may have left the script standing inside it: step back to where herodo
/// started first, so the directory goes instead of leaking behind the working-directory guard
/// (and the next test does not start in a deleted directory).
pub fn remove_tmp(host: &Host, path: &str) -> Result<bool> {
    if let (Ok(cwd), Ok(dir)) = (
        std::env::current_dir().and_then(fs::canonicalize),
        fs::canonicalize(path),
    ) {
        if cwd.starts_with(&dir) {
            std::env::set_current_dir(&host.start_dir)
                .map_err(|e| HostError::io("change directory to", &host.start_dir, e))?;
        }
    }
    delete(host, path)
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(src).map_err(io("stat", src))?;
    if meta.file_type().is_symlink() {
        let target = fs::read_link(src).map_err(io("read link", src))?;
        let _ = fs::remove_file(dst);
        return std::os::unix::fs::symlink(&target, dst).map_err(io("create link", dst));
    }
    if meta.is_dir() {
        fs::create_dir_all(dst).map_err(io("create directory", dst))?;
        for entry in fs::read_dir(src).map_err(io("read directory", src))? {
            let entry = entry.map_err(io("read directory", src))?;
            copy_tree(&entry.path(), &dst.join(entry.file_name()))?;
        }
        return Ok(());
    }
    fs::copy(src, dst).map(|_| ()).map_err(io("copy to", dst))
}

/// Where `src` lands for `cp -r src dst`: inside `dst` when `dst` is an existing directory.
fn landing(src: &Path, dst: &Path) -> PathBuf {
    match (dst.is_dir(), src.file_name()) {
        (true, Some(name)) => dst.join(name),
        _ => dst.to_path_buf(),
    }
}

/// `p` made absolute with symlinks and `..` resolved, also when its last components do not
/// exist yet: the deepest existing prefix is canonicalized and the rest applied to it.
fn resolve_lenient(p: &Path) -> Result<PathBuf> {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| HostError::io("read", "current directory", e))?
            .join(p)
    };
    let comps: Vec<Component> = abs.components().collect();
    for k in (1..=comps.len()).rev() {
        let prefix: PathBuf = comps[..k].iter().collect();
        if let Ok(mut out) = fs::canonicalize(&prefix) {
            for c in &comps[k..] {
                match c {
                    Component::ParentDir => {
                        out.pop();
                    }
                    Component::Normal(n) => out.push(n),
                    _ => {}
                }
            }
            return Ok(out);
        }
    }
    Ok(abs)
}

/// Refuse what `cp -r` and `mv` refuse: a directory into itself (copying would recurse until
/// the path is too long), and a file onto itself (copying truncates it to nothing).
fn refuse_onto_itself(verb: &str, src: &Path, target: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(src).map_err(io("stat", src))?;
    let shown = |p: &Path| p.display().to_string();
    if meta.is_dir() {
        let s = fs::canonicalize(src).map_err(io("resolve", src))?;
        if resolve_lenient(target)?.starts_with(&s) {
            return Err(HostError::invalid(
                "destination",
                format!(
                    "cannot {verb} directory {} into itself ({})",
                    shown(src),
                    shown(target)
                ),
            ));
        }
    } else if let Ok(t) = fs::metadata(target) {
        if t.dev() == meta.dev() && t.ino() == meta.ino() {
            return Err(HostError::invalid(
                "destination",
                format!("{} and {} are the same file", shown(src), shown(target)),
            ));
        }
    }
    Ok(())
}

/// Under `--dry-run` a missing source may be one the dry run did not create (a `file_write`
/// or `mkdir` it skipped): note it and go on rather than fail a plan that would work.
fn missing_under_dry_run(host: &Host, verb: &str, src: &str, dst: &str) -> bool {
    host.dry_run(|| format!("{verb} {} {} (source not there now)", q(src), q(dst)))
}

/// `cp -r`; `src` may be a glob pattern, then `dst` must be a directory.
pub fn copy(host: &Host, src: &str, dst: &str) -> Result<()> {
    non_empty("source", src)?;
    non_empty("destination", dst)?;
    let dst = Path::new(dst);
    let pairs: Vec<(PathBuf, PathBuf)> = if has_glob(src) {
        let matches = glob_paths(src)?;
        if matches.is_empty() {
            if missing_under_dry_run(host, "copy", src, &dst.to_string_lossy()) {
                return Ok(());
            }
            return Err(HostError::NotFound {
                what: "file",
                name: src.to_string(),
            });
        }
        // Every match lands inside `dst`, which is made a directory below.
        matches
            .into_iter()
            .map(|m| {
                let t = match m.file_name() {
                    Some(name) => dst.join(name),
                    None => dst.to_path_buf(),
                };
                (m, t)
            })
            .collect()
    } else {
        let src = Path::new(src);
        if fs::symlink_metadata(src).is_err() {
            if missing_under_dry_run(host, "copy", &src.to_string_lossy(), &dst.to_string_lossy()) {
                return Ok(());
            }
            return Err(HostError::NotFound {
                what: "file",
                name: src.display().to_string(),
            });
        }
        vec![(src.to_path_buf(), landing(src, dst))]
    };
    // Check every pair before copying any, so a refusal leaves nothing half done.
    for (s, t) in &pairs {
        refuse_onto_itself("copy", s, t)?;
    }
    for (s, t) in &pairs {
        if host.dry_run(|| {
            format!(
                "copy {} {}",
                q(&s.to_string_lossy()),
                q(&t.to_string_lossy())
            )
        }) {
            continue;
        }
        ensure_parent(t)?;
        copy_tree(s, t)?;
    }
    Ok(())
}

/// `mv`; works across filesystems.
pub fn mv(host: &Host, src: &str, dst: &str) -> Result<()> {
    non_empty("source", src)?;
    non_empty("destination", dst)?;
    let (src, dst) = (Path::new(src), Path::new(dst));
    if fs::symlink_metadata(src).is_err() {
        if missing_under_dry_run(host, "mv", &src.to_string_lossy(), &dst.to_string_lossy()) {
            return Ok(());
        }
        return Err(HostError::NotFound {
            what: "file",
            name: src.display().to_string(),
        });
    }
    let target = landing(src, dst);
    refuse_onto_itself("move", src, &target)?;
    if host.dry_run(|| {
        format!(
            "mv {} {}",
            q(&src.to_string_lossy()),
            q(&target.to_string_lossy())
        )
    }) {
        return Ok(());
    }
    ensure_parent(&target)?;
    match fs::rename(src, &target) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            copy_tree(src, &target)?;
            delete(host, &src.display().to_string()).map(|_| ())
        }
        Err(e) => Err(HostError::io("move", src, e)),
    }
}

fn glob_paths(pattern: &str) -> Result<Vec<PathBuf>> {
    let paths = glob::glob(pattern).map_err(|e| HostError::invalid("pattern", e.to_string()))?;
    let mut out: Vec<PathBuf> = paths.filter_map(|p| p.ok()).collect();
    out.sort();
    Ok(out)
}

/// Paths below `dir` matching the glob `pattern` (`*.conf`, `**/*.rs`), sorted; only files
/// when `dirs` is false, only directories when it is true. A bare name pattern matches at
/// any depth (`dir/**/pattern`, as the original herodo searches); one with a `/` is matched
/// against the path below `dir`.
///
/// The walk never follows a symbolic link into a directory (a link to a file or directory is
/// still matched as what it points to), so a link cycle (`/proc/self/root`) cannot make it
/// run forever, and it does not descend into the kernel's pseudo file systems (proc, sysfs,
/// cgroup, devpts, debugfs, ...) below `dir` unless `dir` itself is on one. `cancelled` is
/// asked between directories: Ctrl-C stops a walk of a big tree (`cancelled` error).
pub fn find(
    dir: &str,
    pattern: &str,
    dirs: bool,
    cancelled: &dyn Fn() -> bool,
) -> Result<Vec<String>> {
    non_empty("dir", dir)?;
    let root = Path::new(dir);
    if !root.is_dir() {
        return Err(HostError::NotFound {
            what: "directory",
            name: dir.to_string(),
        });
    }
    let bare = !(pattern.contains('/') || pattern.starts_with("**"));
    let pat =
        glob::Pattern::new(pattern).map_err(|e| HostError::invalid("pattern", e.to_string()))?;
    let opts = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    let root_pseudo = pseudo_fs(root);
    let mut out: Vec<PathBuf> = Vec::new();
    let mut stack: Vec<PathBuf> = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        if cancelled() {
            return Err(HostError::Cancelled);
        }
        // An unreadable directory (permissions, gone meanwhile) is skipped, as glob does.
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(ft) = entry.file_type() else { continue };
            let real_dir = ft.is_dir();
            let is_dir = real_dir || (ft.is_symlink() && path.is_dir());
            let is_file = ft.is_file() || (ft.is_symlink() && path.is_file());
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let hit = if bare {
                pat.matches_with(&entry.file_name().to_string_lossy(), opts)
            } else {
                pat.matches_path_with(rel, opts)
            };
            if hit && (if dirs { is_dir } else { is_file }) {
                out.push(path.clone());
            }
            if real_dir && (root_pseudo || !pseudo_fs(&path)) {
                stack.push(path);
            }
        }
    }
    out.sort();
    Ok(out.into_iter().map(|p| p.display().to_string()).collect())
}

/// Whether `dir` is on one of the kernel's pseudo file systems, which a search of files
/// skips (as `updatedb`'s PRUNEFS does).
fn pseudo_fs(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    const PSEUDO: [i64; 12] = [
        0x9fa0,      // proc
        0x6265_6572, // sysfs
        0x27e0eb,    // cgroup
        0x6367_7270, // cgroup2
        0x1cd1,      // devpts
        0x6462_6720, // debugfs
        0x7472_6163, // tracefs
        0x7363_6673, // securityfs
        0xcafe_4a11, // bpf
        0x6e73_6673, // nsfs
        0x5072_6f63, // pstore ("Proc")
        0x4244_4d41, // binfmt_misc
    ];
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a NUL-terminated path and a zeroed statfs buffer the call fills in.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return false;
    }
    #[allow(clippy::unnecessary_cast)]
    PSEUDO.contains(&(st.f_type as i64))
}

/// The first match of [`find`], or a `not_found` error.
pub fn find_one(
    dir: &str,
    pattern: &str,
    dirs: bool,
    cancelled: &dyn Fn() -> bool,
) -> Result<String> {
    find(dir, pattern, dirs, cancelled)?
        .into_iter()
        .next()
        .ok_or_else(|| HostError::NotFound {
            what: if dirs { "directory" } else { "file" },
            name: format!("{dir}/{pattern}"),
        })
}

/// Change the working directory. It is herodo's own state, so it changes under `--dry-run`
/// too (later relative reads look where the script means); only a directory that does not
/// exist (a dry run did not create it) is skipped there with a note.
pub fn chdir(host: &Host, path: &str) -> Result<()> {
    non_empty("path", path)?;
    if host.settings.dry_run && !Path::new(path).is_dir() {
        host.dry_run(|| format!("chdir {} (does not exist)", q(path)));
        return Ok(());
    }
    std::env::set_current_dir(path).map_err(|e| HostError::io("change directory to", path, e))
}

fn check_env_key(key: &str) -> Result<()> {
    if key.is_empty() || key.contains(['=', '\0']) {
        return Err(HostError::invalid(
            "name",
            format!("`{key}` is not a valid environment variable name"),
        ));
    }
    Ok(())
}

pub fn env_get(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

pub fn env_set(key: &str, value: &str) -> Result<()> {
    check_env_key(key)?;
    if value.contains('\0') {
        return Err(HostError::invalid("value", "contains a NUL byte"));
    }
    std::env::set_var(key, value);
    Ok(())
}

pub fn env_unset(key: &str) -> Result<()> {
    check_env_key(key)?;
    std::env::remove_var(key);
    Ok(())
}

use crate::common::tmp::unique_tmp_path;
pub use crate::common::tmp::{mktemp, tmpdir};

/// A script's `tmpdir()`: like [`tmpdir`], but under `--dry-run` only the path is made up.
pub fn script_tmpdir(host: &Host) -> Result<PathBuf> {
    let planned = unique_tmp_path("herodo");
    if host.dry_run(|| format!("tmpdir {}", q(&planned.to_string_lossy()))) {
        return Ok(planned);
    }
    tmpdir()
}

/// A script's `mktemp()`: like [`mktemp`], but under `--dry-run` only the path is made up.
pub fn script_mktemp(host: &Host) -> Result<PathBuf> {
    let planned = unique_tmp_path("herodo-file");
    if host.dry_run(|| format!("mktemp {}", q(&planned.to_string_lossy()))) {
        return Ok(planned);
    }
    mktemp()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Settings;

    fn host() -> Host {
        Host::new(Settings::default())
    }

    fn dry_host() -> Host {
        Host::new(Settings {
            dry_run: true,
            ..Settings::default()
        })
    }

    fn tmp() -> String {
        tmpdir().unwrap().display().to_string()
    }

    fn read(path: &str) -> Result<String> {
        file_read(path, MAX_READ, &CancelToken::new())
    }

    #[test]
    fn write_read_append_size() {
        let h = host();
        let d = tmp();
        let f = format!("{d}/a/b/c.txt");
        file_write(&h, &f, "hello").unwrap();
        file_write_append(&h, &f, " world").unwrap();
        assert_eq!(read(&f).unwrap(), "hello world");
        assert_eq!(file_size(&f).unwrap(), 11);
        assert!(exist(&f));
        assert!(read(&d).is_err());
        assert!(delete(&h, &d).unwrap());
        assert!(!delete(&h, &d).unwrap());
    }

    #[test]
    fn file_read_caps_size_and_refuses_special_files() {
        let d = tmp();
        let f = format!("{d}/ten.txt");
        file_write(&host(), &f, "0123456789").unwrap();
        let c = CancelToken::new();
        assert_eq!(file_read(&f, 10, &c).unwrap(), "0123456789");
        let e = file_read(&f, 9, &c).unwrap_err();
        assert!(
            matches!(&e, HostError::InvalidArgument { reason, .. } if reason.contains("the most file_read reads")),
            "{e}"
        );
        // /proc files report size 0: the cap holds for what is actually read.
        assert!(file_read("/proc/self/status", 8, &c).is_err());
        assert!(file_read("/proc/self/status", MAX_READ, &c).is_ok());
        // A small cap: should the type check ever break, /dev/zero still cannot eat memory.
        for special in ["/dev/zero", "/dev/null"] {
            let e = file_read(special, 1 << 20, &c).unwrap_err();
            assert!(e.to_string().contains("character device"), "{e}");
        }
        let fifo = format!("{d}/fifo");
        let cpath = std::ffi::CString::new(fifo.clone()).unwrap();
        // SAFETY: mkfifo on a path inside our own temporary directory.
        assert_eq!(unsafe { libc::mkfifo(cpath.as_ptr(), 0o600) }, 0);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ =
                tx.send(file_read(&fifo, MAX_READ, &CancelToken::new()).map_err(|e| e.to_string()));
        });
        let got = rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("file_read of a FIFO blocked");
        assert!(got.unwrap_err().contains("FIFO"));
        delete(&host(), &d).unwrap();
    }

    #[test]
    fn file_read_stops_when_cancelled() {
        let d = tmp();
        let f = format!("{d}/big");
        file_write(&host(), &f, &"x".repeat(3 * READ_CHUNK)).unwrap();
        let c = CancelToken::new();
        c.cancel();
        assert!(matches!(
            file_read(&f, MAX_READ, &c),
            Err(HostError::Cancelled)
        ));
        delete(&host(), &d).unwrap();
    }

    #[test]
    fn copy_and_move_trees_and_globs() {
        let h = host();
        let d = tmp();
        file_write(&h, &format!("{d}/src/x.conf"), "x").unwrap();
        file_write(&h, &format!("{d}/src/sub/y.conf"), "y").unwrap();
        file_write(&h, &format!("{d}/src/z.txt"), "z").unwrap();
        mkdir(&h, &format!("{d}/dst")).unwrap();
        copy(&h, &format!("{d}/src"), &format!("{d}/dst")).unwrap();
        assert_eq!(read(&format!("{d}/dst/src/sub/y.conf")).unwrap(), "y");
        copy(&h, &format!("{d}/src/*.conf"), &format!("{d}/confs")).unwrap();
        assert!(exist(&format!("{d}/confs/x.conf")));
        assert!(!exist(&format!("{d}/confs/z.txt")));
        mv(&h, &format!("{d}/confs"), &format!("{d}/moved")).unwrap();
        assert!(exist(&format!("{d}/moved/x.conf")));
        assert!(!exist(&format!("{d}/confs")));
        assert!(matches!(
            copy(&h, &format!("{d}/nope"), &format!("{d}/x")),
            Err(HostError::NotFound { .. })
        ));
        delete(&h, &d).unwrap();
    }

    #[test]
    fn copy_refuses_a_directory_into_itself_and_a_file_onto_itself() {
        let h = host();
        let d = tmp();
        file_write(&h, &format!("{d}/s/f.txt"), "data").unwrap();
        mkdir(&h, &format!("{d}/s/d")).unwrap();
        std::os::unix::fs::symlink(format!("{d}/s"), format!("{d}/link")).unwrap();
        std::fs::hard_link(format!("{d}/s/f.txt"), format!("{d}/hard.txt")).unwrap();
        for (src, dst) in [
            ("s", "s/inner"),
            ("s", "s"),
            ("s/", "s/./a/../inner"),
            ("s", "link/inner"),
            ("s/*", "s/d"),
            ("s/f.txt", "s/f.txt"),
            ("s/f.txt", "s"),
            ("s/f.txt", "link/f.txt"),
            ("hard.txt", "s/f.txt"),
        ] {
            let e = copy(&h, &format!("{d}/{src}"), &format!("{d}/{dst}")).unwrap_err();
            assert!(
                matches!(&e, HostError::InvalidArgument { field, .. } if field == "destination"),
                "copy {src} {dst}: {e}"
            );
        }
        assert!(mv(&h, &format!("{d}/s"), &format!("{d}/s/inner")).is_err());
        assert_eq!(read(&format!("{d}/s/f.txt")).unwrap(), "data");
        let s = format!("{d}/s");
        assert_eq!(
            find(&s, "**/*", true, &|| false).unwrap(),
            vec![format!("{s}/d")]
        );
        assert_eq!(
            find(&s, "**/*", false, &|| false).unwrap(),
            vec![format!("{s}/f.txt")]
        );
        // Next to itself is fine.
        copy(&h, &format!("{d}/s"), &format!("{d}/s2")).unwrap();
        assert_eq!(read(&format!("{d}/s2/f.txt")).unwrap(), "data");
        delete(&h, &d).unwrap();
    }

    #[test]
    fn find_files_and_dirs() {
        let h = host();
        let d = tmp();
        file_write(&h, &format!("{d}/b.rs"), "").unwrap();
        file_write(&h, &format!("{d}/a.rs"), "").unwrap();
        file_write(&h, &format!("{d}/deep/c.rs"), "").unwrap();
        // A bare pattern searches the whole tree, as the original herodo does.
        let never = || false;
        let files = find(&d, "*.rs", false, &never).unwrap();
        assert_eq!(
            files,
            vec![
                format!("{d}/a.rs"),
                format!("{d}/b.rs"),
                format!("{d}/deep/c.rs")
            ]
        );
        assert_eq!(find(&d, "**/*.rs", false, &never).unwrap().len(), 3);
        assert_eq!(
            find(&d, "deep/*.rs", false, &never).unwrap(),
            vec![format!("{d}/deep/c.rs")]
        );
        assert_eq!(
            find(&d, "*", true, &never).unwrap(),
            vec![format!("{d}/deep")]
        );
        assert_eq!(
            find_one(&d, "*.rs", false, &never).unwrap(),
            format!("{d}/a.rs")
        );
        assert!(find_one(&d, "*.py", false, &never).is_err());
        assert!(find("/no/such/dir", "*", false, &never).is_err());
        // A link cycle is matched once and never followed; a link to a file is a file.
        std::os::unix::fs::symlink(&d, format!("{d}/deep/loop")).unwrap();
        std::os::unix::fs::symlink(format!("{d}/a.rs"), format!("{d}/deep/link.rs")).unwrap();
        assert_eq!(
            find(&d, "*.rs", false, &never).unwrap(),
            vec![
                format!("{d}/a.rs"),
                format!("{d}/b.rs"),
                format!("{d}/deep/c.rs"),
                format!("{d}/deep/link.rs")
            ]
        );
        assert_eq!(
            find(&d, "loop", true, &never).unwrap(),
            vec![format!("{d}/deep/loop")]
        );
        // Ctrl-C stops a walk.
        assert!(matches!(
            find(&d, "*.rs", false, &|| true),
            Err(HostError::Cancelled)
        ));
        delete(&h, &d).unwrap();
    }

    #[test]
    fn find_skips_pseudo_file_systems_and_link_cycles() {
        // /proc/self/root is a link back to /: a walk that followed it would never end.
        assert!(pseudo_fs(Path::new("/proc")));
        assert!(pseudo_fs(Path::new("/sys")));
        assert!(!pseudo_fs(Path::new("/tmp")));
        let never = || false;
        // Below a pseudo file system given as the start, the walk goes on.
        let hits = find("/proc/self", "status", false, &never).unwrap();
        assert!(hits.contains(&"/proc/self/status".to_string()), "{hits:?}");
    }

    #[test]
    fn delete_refuses_root_and_empty() {
        assert!(delete(&host(), "/").is_err());
        assert!(delete(&host(), "").is_err());
    }

    #[test]
    fn paths_ending_in_dot_are_recognised() {
        for p in [
            ".",
            "./",
            "..",
            "../",
            "/tmp/x/.",
            "/tmp/x/..",
            "a/./",
            "/tmp/..//",
        ] {
            assert!(ends_in_dot(p), "{p}");
        }
        for p in ["/tmp/x", "./x", "../x", "a/../b", ".hidden", "..x", "x.."] {
            assert!(!ends_in_dot(p), "{p}");
        }
    }

    /// The guard alone, on resolved paths (never through `delete`, so a broken guard cannot
    /// take the machine with it).
    #[test]
    fn removal_guard_sees_through_dotdot_and_symlinks() {
        let d = tmp();
        let hst = host();
        let guard = |p: &str| {
            let m = fs::symlink_metadata(p).unwrap();
            guard_removal(&hst, p, Path::new(p), &m)
        };
        std::os::unix::fs::symlink("/", format!("{d}/to-root")).unwrap();
        for p in ["/", "/tmp/..", "/tmp/../tmp/..", &format!("{d}/to-root/")] {
            let e = guard(p).unwrap_err();
            assert!(e.to_string().contains("root directory"), "{p}: {e}");
        }
        // The link itself is only a link: removing it leaves `/` alone.
        assert!(guard(&format!("{d}/to-root")).is_ok());
        if let Some(home) = dirs::home_dir() {
            let e = guard(&home.display().to_string()).unwrap_err();
            assert!(e.to_string().contains("home directory"), "{e}");
            let shown = format!(
                "{}/../{}",
                home.display(),
                home.file_name().unwrap().to_string_lossy()
            );
            assert!(guard(&shown).is_err(), "{shown}");
        }
        let cwd = std::env::current_dir().unwrap();
        assert!(guard(&cwd.display().to_string()).is_err());
        assert!(guard(&cwd.parent().unwrap().display().to_string()).is_err());
        assert!(guard(&d).is_ok());
        delete(&host(), &d).unwrap();
    }

    #[test]
    fn delete_refuses_a_trailing_dotdot_and_leaves_the_parent_alone() {
        let h = host();
        let d = tmp();
        file_write(&h, &format!("{d}/x/sub/f"), "f").unwrap();
        file_write(&h, &format!("{d}/x/g"), "g").unwrap();
        for p in [
            format!("{d}/x/sub/.."),
            format!("{d}/x/sub/."),
            format!("{d}/x/.."),
        ] {
            assert!(
                matches!(delete(&h, &p), Err(HostError::InvalidArgument { .. })),
                "{p}"
            );
        }
        assert!(exist(&format!("{d}/x/g")) && exist(&format!("{d}/x/sub/f")));
        delete(&h, &d).unwrap();
    }

    /// Under --dry-run nothing is created, changed or removed, but arguments are still checked.
    #[test]
    fn dry_run_changes_nothing() {
        let (h, dry) = (host(), dry_host());
        let d = tmp();
        file_write(&h, &format!("{d}/keep/f.txt"), "keep").unwrap();
        let f = format!("{d}/keep/f.txt");
        file_write(&dry, &format!("{d}/new/x"), "x").unwrap();
        file_write(&dry, &f, "changed").unwrap();
        file_write_append(&dry, &f, "more").unwrap();
        mkdir(&dry, &format!("{d}/made")).unwrap();
        assert!(delete(&dry, &f).unwrap());
        assert!(!delete(&dry, &format!("{d}/nothing")).unwrap());
        copy(&dry, &format!("{d}/keep"), &format!("{d}/copy")).unwrap();
        copy(&dry, &format!("{d}/keep/*.txt"), &format!("{d}/globbed")).unwrap();
        mv(&dry, &format!("{d}/keep"), &format!("{d}/moved")).unwrap();
        let (t, m) = (script_tmpdir(&dry).unwrap(), script_mktemp(&dry).unwrap());
        assert!(!t.exists() && !m.exists());
        assert_eq!(read(&f).unwrap(), "keep");
        assert_eq!(find(&d, "**/*", false, &|| false).unwrap(), vec![f.clone()]);
        assert_eq!(
            find(&d, "**/*", true, &|| false).unwrap(),
            vec![format!("{d}/keep")]
        );
        // A source the dry run did not create is noted, not an error.
        copy(&dry, &format!("{d}/planned"), &format!("{d}/x")).unwrap();
        mv(&dry, &format!("{d}/planned/*"), &format!("{d}/x")).unwrap();
        assert!(delete(&dry, "/").is_err());
        assert!(copy(&dry, &format!("{d}/keep"), &format!("{d}/keep/in")).is_err());
        assert!(mkdir(&dry, &f).is_err());
        delete(&h, &d).unwrap();
    }

    #[test]
    fn env_roundtrip_and_validation() {
        env_set("HERODO_TEST_ENV_X", "1").unwrap();
        assert_eq!(env_get("HERODO_TEST_ENV_X").as_deref(), Some("1"));
        env_unset("HERODO_TEST_ENV_X").unwrap();
        assert_eq!(env_get("HERODO_TEST_ENV_X"), None);
        assert!(env_set("A=B", "x").is_err());
    }
}
