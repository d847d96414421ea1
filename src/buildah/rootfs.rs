//! Paths inside a mounted container root, resolved the way the container would see them.
//!
//! An image is untrusted input: it may make `/leak` a symlink to `/etc/shadow`, or a link
//! `../../../../etc` that climbs out of the mount point. Joining the mount point and the path
//! and letting the host kernel follow the links would read the HOST's file, as root. Instead
//! every component is looked at in turn: a symlink is resolved relative to the container root
//! (an absolute target restarts at the root, `..` never climbs above it), as `chroot` would.
//! The final file must be a regular file (a device node in an image could otherwise expose a
//! host disk), and it is opened without following a symlink.

use std::ffi::OsString;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

/// Links followed before giving up (the kernel's own limit).
const MAX_LINKS: usize = 40;

/// `path` (absolute, as seen inside the container) resolved below `root`, never outside it.
/// Components that do not exist are kept as they are (reading them then fails `NotFound`).
pub fn resolve_in_root(root: &Path, path: &str) -> io::Result<PathBuf> {
    // Components still to walk, next one last.
    let mut pending: Vec<OsString> = components(Path::new(path));
    pending.reverse();
    let mut resolved: Vec<OsString> = Vec::new();
    let mut links = 0;
    while let Some(c) = pending.pop() {
        if c == ".." {
            resolved.pop();
            continue;
        }
        let here: PathBuf = root.join(resolved.iter().collect::<PathBuf>()).join(&c);
        match std::fs::symlink_metadata(&here) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(io::Error::other(format!(
                        "too many levels of symbolic links in {path}"
                    )));
                }
                let target = std::fs::read_link(&here)?;
                if target.is_absolute() {
                    resolved.clear();
                }
                let mut more = components(&target);
                more.reverse();
                pending.extend(more);
            }
            Ok(_) => resolved.push(c),
            Err(e) if e.kind() == io::ErrorKind::NotFound => resolved.push(c),
            Err(e) => return Err(e),
        }
    }
    Ok(root.join(resolved.iter().collect::<PathBuf>()))
}

/// The normal and `..` components of a path (`/`, `.` and empty ones dropped).
fn components(p: &Path) -> Vec<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect()
}

/// Read the regular file `path` of the container whose root is mounted at `root`.
pub fn read_in_root(root: &Path, path: &str) -> io::Result<Vec<u8>> {
    let full = resolve_in_root(root, path)?;
    let meta = std::fs::symlink_metadata(&full)?;
    if !meta.file_type().is_file() {
        return Err(io::Error::other(format!("{path} is not a regular file")));
    }
    // O_NOFOLLOW: should the last component have become a symlink since it was checked,
    // refuse it rather than follow it. O_NONBLOCK: never hang on a FIFO swapped in.
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&full)?;
    if !f.metadata()?.file_type().is_file() {
        return Err(io::Error::other(format!("{path} is not a regular file")));
    }
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The remote counterpart of [`read_in_root`], for `sh -c SCRIPT herodo-read CONTAINER PATH` on
/// the build host: mount the container, walk PATH with the same rules, `cat` the regular file,
/// unmount. Values arrive as positional parameters, never inside the script text. Exit 44:
/// no such file; 45: not a regular file.
pub const REMOTE_READ_SCRIPT: &str = r#"set -u
m=$(buildah mount "$1") || exit 125
rest=$2 cur= n=0 rc=0
while [ -n "$rest" ]; do
  c=${rest%%/*}
  if [ "$c" = "$rest" ]; then rest=; else rest=${rest#*/}; fi
  case $c in
    ''|.) continue ;;
    ..) cur=${cur%/*}; continue ;;
  esac
  if [ -L "$m$cur/$c" ]; then
    n=$((n + 1))
    if [ "$n" -gt 40 ]; then echo "herodo: too many levels of symbolic links in $2" >&2; rc=40; break; fi
    t=$(readlink -- "$m$cur/$c") || { rc=1; break; }
    case $t in /*) cur= ;; esac
    if [ -n "$rest" ]; then rest=$t/$rest; else rest=$t; fi
  else
    cur=$cur/$c
  fi
done
if [ "$rc" -eq 0 ]; then
  f=$m$cur
  if [ ! -e "$f" ] && [ ! -L "$f" ]; then echo "herodo: file not found: $2" >&2; rc=44
  elif [ -L "$f" ] || [ ! -f "$f" ]; then echo "herodo: $2 is not a regular file" >&2; rc=45
  else cat -- "$f"; rc=$?
  fi
fi
buildah umount "$1" >/dev/null
exit "$rc"
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    struct Tmp(PathBuf);
    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A fake container root inside a scratch dir, with a "host" file next to it.
    fn layout(tag: &str) -> (Tmp, PathBuf, PathBuf) {
        let base = std::env::temp_dir().join(format!("herodo-rootfs-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("root");
        std::fs::create_dir_all(root.join("etc/app")).unwrap();
        std::fs::create_dir_all(root.join("data")).unwrap();
        std::fs::write(root.join("etc/app/conf"), "inside\n").unwrap();
        let host_file = base.join("host-secret");
        std::fs::write(&host_file, "HOST FILE\n").unwrap();
        (Tmp(base), root, host_file)
    }

    fn read(root: &Path, p: &str) -> io::Result<String> {
        read_in_root(root, p).map(|b| String::from_utf8(b).unwrap())
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let (_t, root, host_file) = layout("links");
        // Absolute links to host paths land inside the container instead.
        symlink(&host_file, root.join("leak")).unwrap();
        symlink("/etc/app/conf", root.join("abs")).unwrap();
        symlink(
            "../../../../../../../../etc/app/conf",
            root.join("data/climb"),
        )
        .unwrap();
        symlink("/etc", root.join("etcdir")).unwrap();
        symlink("app/conf", root.join("etc/rel")).unwrap();
        symlink("loop2", root.join("loop1")).unwrap();
        symlink("loop1", root.join("loop2")).unwrap();
        symlink(root.parent().unwrap(), root.join("up")).unwrap();

        assert_eq!(read(&root, "/etc/app/conf").unwrap(), "inside\n");
        assert_eq!(read(&root, "/abs").unwrap(), "inside\n");
        assert_eq!(read(&root, "/data/climb").unwrap(), "inside\n");
        assert_eq!(read(&root, "/etcdir/app/conf").unwrap(), "inside\n");
        assert_eq!(read(&root, "/etc/rel").unwrap(), "inside\n");
        assert_eq!(read(&root, "/../../etc/app/conf").unwrap(), "inside\n");
        // The host file is never read: /leak points at a path that does not exist inside.
        let e = read(&root, "/leak").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
        let e = read(&root, "/up/host-secret").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
        assert!(read(&root, "/loop1")
            .unwrap_err()
            .to_string()
            .contains("too many"));
        assert_eq!(
            resolve_in_root(&root, "/data/climb/../x").unwrap(),
            root.join("etc/app/x")
        );
    }

    #[test]
    fn only_regular_files_are_read() {
        let (_t, root, _) = layout("kinds");
        let e = read(&root, "/etc/app").unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let fifo = root.join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read(&root, "/fifo").unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        assert_eq!(
            read(&root, "/no/such").unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        // A device node (an image can carry one) is never opened: as root it could expose a
        // host disk. Making one needs root; elsewhere this part has nothing to check.
        let dev = std::ffi::CString::new(root.join("null").to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path; 1:3 is /dev/null.
        if unsafe { libc::mknod(dev.as_ptr(), libc::S_IFCHR | 0o600, libc::makedev(1, 3)) } == 0 {
            let e = read(&root, "/null").unwrap_err();
            assert!(e.to_string().contains("not a regular file"), "{e}");
        }
    }
}
