//! Files, directories, environment and temporary paths for scripts.

pub mod bindings;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::HostError;

type Result<T> = std::result::Result<T, HostError>;

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

pub fn exist(path: &str) -> bool {
    !path.is_empty() && fs::symlink_metadata(path).is_ok()
}

pub fn file_read(path: &str) -> Result<String> {
    non_empty("path", path)?;
    let p = Path::new(path);
    if p.is_dir() {
        return Err(HostError::invalid("path", format!("{path} is a directory")));
    }
    let bytes = fs::read(p).map_err(io("read", p))?;
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
pub fn file_write(path: &str, content: &str) -> Result<()> {
    non_empty("path", path)?;
    let p = Path::new(path);
    ensure_parent(p)?;
    fs::write(p, content).map_err(io("write", p))
}

/// Append `content` to `path`, creating it (and parents) when missing.
pub fn file_write_append(path: &str, content: &str) -> Result<()> {
    use std::io::Write;
    non_empty("path", path)?;
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
    let p = Path::new(path);
    Ok(fs::metadata(p).map_err(io("stat", p))?.len())
}

/// `mkdir -p`.
pub fn mkdir(path: &str) -> Result<()> {
    non_empty("path", path)?;
    let p = Path::new(path);
    if p.is_file() {
        return Err(HostError::invalid(
            "path",
            format!("{path} exists and is a file"),
        ));
    }
    fs::create_dir_all(p).map_err(io("create directory", p))
}

/// `rm -rf`: true when something was removed, false when nothing was there.
pub fn delete(path: &str) -> Result<bool> {
    non_empty("path", path)?;
    let p = Path::new(path);
    if p.parent().is_none() {
        return Err(HostError::invalid(
            "path",
            format!("refusing to delete {path}"),
        ));
    }
    match fs::symlink_metadata(p) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(HostError::io("stat", p, e)),
        Ok(m) if m.is_dir() => fs::remove_dir_all(p).map(|_| true).map_err(io("delete", p)),
        Ok(_) => fs::remove_file(p).map(|_| true).map_err(io("delete", p)),
    }
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

/// `cp -r`; `src` may be a glob pattern, then `dst` must be a directory.
pub fn copy(src: &str, dst: &str) -> Result<()> {
    non_empty("source", src)?;
    non_empty("destination", dst)?;
    let dst = Path::new(dst);
    if has_glob(src) {
        let matches = glob_paths(src)?;
        if matches.is_empty() {
            return Err(HostError::NotFound {
                what: "file",
                name: src.to_string(),
            });
        }
        fs::create_dir_all(dst).map_err(io("create directory", dst))?;
        for m in matches {
            copy_tree(&m, &landing(&m, dst))?;
        }
        return Ok(());
    }
    let src = Path::new(src);
    if !src.exists() {
        return Err(HostError::NotFound {
            what: "file",
            name: src.display().to_string(),
        });
    }
    let target = landing(src, dst);
    ensure_parent(&target)?;
    copy_tree(src, &target)
}

/// `mv`; works across filesystems.
pub fn mv(src: &str, dst: &str) -> Result<()> {
    non_empty("source", src)?;
    non_empty("destination", dst)?;
    let (src, dst) = (Path::new(src), Path::new(dst));
    if fs::symlink_metadata(src).is_err() {
        return Err(HostError::NotFound {
            what: "file",
            name: src.display().to_string(),
        });
    }
    let target = landing(src, dst);
    ensure_parent(&target)?;
    match fs::rename(src, &target) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            copy_tree(src, &target)?;
            delete(&src.display().to_string()).map(|_| ())
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
/// when `dirs` is false, only directories when it is true.
pub fn find(dir: &str, pattern: &str, dirs: bool) -> Result<Vec<String>> {
    non_empty("dir", dir)?;
    if !Path::new(dir).is_dir() {
        return Err(HostError::NotFound {
            what: "directory",
            name: dir.to_string(),
        });
    }
    let escaped = glob::Pattern::escape(dir.trim_end_matches('/'));
    let full = format!("{escaped}/{pattern}");
    Ok(glob_paths(&full)?
        .into_iter()
        .filter(|p| if dirs { p.is_dir() } else { p.is_file() })
        .map(|p| p.display().to_string())
        .collect())
}

/// The first match of [`find`], or a `not_found` error.
pub fn find_one(dir: &str, pattern: &str, dirs: bool) -> Result<String> {
    find(dir, pattern, dirs)?
        .into_iter()
        .next()
        .ok_or_else(|| HostError::NotFound {
            what: if dirs { "directory" } else { "file" },
            name: format!("{dir}/{pattern}"),
        })
}

pub fn chdir(path: &str) -> Result<()> {
    non_empty("path", path)?;
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

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique_tmp_path(prefix: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("{prefix}-{}-{n}-{nanos:08x}", std::process::id()))
}

/// Create a fresh, empty temporary directory.
pub fn tmpdir() -> Result<PathBuf> {
    for _ in 0..16 {
        let p = unique_tmp_path("herodo");
        match fs::create_dir(&p) {
            Ok(()) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(HostError::io("create directory", &p, e)),
        }
    }
    Err(HostError::invalid("tmpdir", "could not find a free name"))
}

/// Create a fresh, empty temporary file.
pub fn mktemp() -> Result<PathBuf> {
    for _ in 0..16 {
        let p = unique_tmp_path("herodo-file");
        match fs::OpenOptions::new().write(true).create_new(true).open(&p) {
            Ok(_) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(HostError::io("create file", &p, e)),
        }
    }
    Err(HostError::invalid("mktemp", "could not find a free name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> String {
        tmpdir().unwrap().display().to_string()
    }

    #[test]
    fn write_read_append_size() {
        let d = tmp();
        let f = format!("{d}/a/b/c.txt");
        file_write(&f, "hello").unwrap();
        file_write_append(&f, " world").unwrap();
        assert_eq!(file_read(&f).unwrap(), "hello world");
        assert_eq!(file_size(&f).unwrap(), 11);
        assert!(exist(&f));
        assert!(file_read(&d).is_err());
        assert!(delete(&d).unwrap());
        assert!(!delete(&d).unwrap());
    }

    #[test]
    fn copy_and_move_trees_and_globs() {
        let d = tmp();
        file_write(&format!("{d}/src/x.conf"), "x").unwrap();
        file_write(&format!("{d}/src/sub/y.conf"), "y").unwrap();
        file_write(&format!("{d}/src/z.txt"), "z").unwrap();
        mkdir(&format!("{d}/dst")).unwrap();
        copy(&format!("{d}/src"), &format!("{d}/dst")).unwrap();
        assert_eq!(file_read(&format!("{d}/dst/src/sub/y.conf")).unwrap(), "y");
        copy(&format!("{d}/src/*.conf"), &format!("{d}/confs")).unwrap();
        assert!(exist(&format!("{d}/confs/x.conf")));
        assert!(!exist(&format!("{d}/confs/z.txt")));
        mv(&format!("{d}/confs"), &format!("{d}/moved")).unwrap();
        assert!(exist(&format!("{d}/moved/x.conf")));
        assert!(!exist(&format!("{d}/confs")));
        assert!(matches!(
            copy(&format!("{d}/nope"), &format!("{d}/x")),
            Err(HostError::NotFound { .. })
        ));
        delete(&d).unwrap();
    }

    #[test]
    fn find_files_and_dirs() {
        let d = tmp();
        file_write(&format!("{d}/b.rs"), "").unwrap();
        file_write(&format!("{d}/a.rs"), "").unwrap();
        file_write(&format!("{d}/deep/c.rs"), "").unwrap();
        let files = find(&d, "*.rs", false).unwrap();
        assert_eq!(files, vec![format!("{d}/a.rs"), format!("{d}/b.rs")]);
        assert_eq!(find(&d, "**/*.rs", false).unwrap().len(), 3);
        assert_eq!(find(&d, "*", true).unwrap(), vec![format!("{d}/deep")]);
        assert_eq!(find_one(&d, "*.rs", false).unwrap(), format!("{d}/a.rs"));
        assert!(find_one(&d, "*.py", false).is_err());
        assert!(find("/no/such/dir", "*", false).is_err());
        delete(&d).unwrap();
    }

    #[test]
    fn delete_refuses_root_and_empty() {
        assert!(delete("/").is_err());
        assert!(delete("").is_err());
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
