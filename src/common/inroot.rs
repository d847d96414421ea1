//! Files inside a mounted container root, opened the way the container would see them.
//!
//! An image is untrusted input: it may make `/leak` a symlink to `/etc/shadow`, or a link
//! `../../../../etc` that climbs out of the mount point. Joining the mount point and the path
//! and letting the host kernel follow the links would read the HOST's file, as root. So a path
//! is resolved as if the root were `/` (as `chroot` would): an absolute link target restarts at
//! the root, and `..` never climbs above it.
//!
//! Where the kernel has `openat2` (Linux 5.6+), the kernel itself resolves the path with
//! `RESOLVE_IN_ROOT` relative to a directory descriptor of the root, in one call: nothing can
//! be swapped between looking at a component and opening it. Elsewhere each component is looked
//! at in turn and the file is opened without following a last symlink. Either way, only a
//! regular file is read (a device node in an image could otherwise expose a host disk), and a
//! FIFO swapped in never hangs the reader. Used by buildah (`read_content`) and heropods (the
//! image's users and shell).
//!
//! Every read has a size cap chosen by the caller: a 1 GiB /etc/passwd in an image (or written
//! into a container's upper dir by the container itself) must not take herodo's memory with
//! it. Beyond the cap the read fails with [`io::ErrorKind::FileTooLarge`] before any of the
//! file is read ([`too_large`] says whether an error is that one).

use std::ffi::{CString, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

/// Links followed before giving up (the kernel's own limit).
const MAX_LINKS: usize = 40;

/// `path` (absolute, as seen inside the container) resolved below `root`, never outside it, by
/// walking it component by component. Components that do not exist are kept as they are
/// (opening them then fails `NotFound`).
pub fn resolve(root: &Path, path: &str) -> io::Result<PathBuf> {
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
                    return Err(too_many_links(path));
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

fn too_many_links(path: &str) -> io::Error {
    io::Error::other(format!("too many levels of symbolic links in {path}"))
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

/// Open the regular file `path` of the container whose root is mounted at `root`, for reading.
/// Anything but a regular file is an error ("not a regular file").
pub fn open_file(root: &Path, path: &str) -> io::Result<File> {
    let f = match openat2_in_root(root, path) {
        Some(opened) => opened?,
        None => open_walked(root, path)?,
    };
    if !f.metadata()?.file_type().is_file() {
        return Err(io::Error::other(format!("{path} is not a regular file")));
    }
    Ok(f)
}

/// Read the regular file `path` of the container whose root is mounted at `root`, at most
/// `max` bytes of it: a bigger file (or one that grows past `max` while it is read) is an
/// [`io::ErrorKind::FileTooLarge`] error, and nothing beyond `max + 1` bytes is ever held.
pub fn read_file(root: &Path, path: &str, max: u64) -> io::Result<Vec<u8>> {
    let f = open_file(root, path)?;
    let size = f.metadata()?.len();
    if size > max {
        return Err(file_too_large(path, size, max));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    f.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(file_too_large(path, bytes.len() as u64, max));
    }
    Ok(bytes)
}

fn file_too_large(path: &str, size: u64, max: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!("{path} is {size} bytes or more, over the {max} bytes herodo reads from a container's files"),
    )
}

/// Whether `e` is [`read_file`]'s "over the cap" error.
pub fn too_large(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::FileTooLarge
}

/// Whether `path` is a regular file in the container whose root is mounted at `root`.
pub fn is_file(root: &Path, path: &str) -> bool {
    open_file(root, path).is_ok()
}

/// The kernel's resolution: `openat2(rootfd, path, O_RDONLY|O_NONBLOCK, RESOLVE_IN_ROOT |
/// RESOLVE_NO_MAGICLINKS)`. `None` when the kernel (or a seccomp filter) has no openat2.
fn openat2_in_root(root: &Path, path: &str) -> Option<io::Result<File>> {
    let dir = match File::open(root) {
        Ok(d) => d,
        Err(e) => return Some(Err(e)),
    };
    let rel = path.trim_start_matches('/');
    let rel = if rel.is_empty() { "." } else { rel };
    let Ok(c) = CString::new(rel) else {
        return Some(Err(io::Error::other("the path contains a NUL byte")));
    };
    // SAFETY: open_how is plain data; all-zero is its documented default.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK) as u64;
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: openat2 reads the NUL-terminated path and the open_how we own, with its size.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            c.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENOSYS) | Some(libc::EPERM) => None,
            Some(libc::ELOOP) => Some(Err(too_many_links(path))),
            _ => Some(Err(e)),
        };
    }
    let Ok(fd) = i32::try_from(fd) else {
        return Some(Err(io::Error::other("openat2 returned no descriptor")));
    };
    // SAFETY: openat2 just returned this descriptor; the File owns it from now on.
    Some(Ok(unsafe { File::from_raw_fd(fd) }))
}

/// Without openat2: walk the path, then open the result without following a last symlink
/// (should it have become one since it was looked at) and without blocking on a FIFO.
fn open_walked(root: &Path, path: &str) -> io::Result<File> {
    let full = resolve(root, path)?;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&full)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::symlink;

    struct Tmp(PathBuf);
    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A fake container root inside a scratch dir, with a "host" file next to it.
    fn layout(tag: &str) -> (Tmp, PathBuf, PathBuf) {
        let base = std::env::temp_dir().join(format!("herodo-inroot-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("root");
        std::fs::create_dir_all(root.join("etc/app")).unwrap();
        std::fs::create_dir_all(root.join("data")).unwrap();
        std::fs::write(root.join("etc/app/conf"), "inside\n").unwrap();
        let host_file = base.join("host-secret");
        std::fs::write(&host_file, "HOST FILE\n").unwrap();
        (Tmp(base), root, host_file)
    }

    fn read_all(f: io::Result<File>) -> io::Result<String> {
        let mut b = String::new();
        f?.read_to_string(&mut b).map(|_| b)
    }

    /// `p` read every way there is: the public call, the kernel's resolution (this kernel has
    /// openat2: asserted) and the walk. All three must agree.
    fn read(root: &Path, p: &str) -> io::Result<String> {
        let public = read_file(root, p, 1 << 20).map(|b| String::from_utf8(b).unwrap());
        let kernel = read_all(
            openat2_in_root(root, p)
                .expect("openat2 (Linux 5.6+)")
                .and_then(|f| regular(f, p)),
        );
        let walked = read_all(open_walked(root, p).and_then(|f| regular(f, p)));
        let show = |r: &io::Result<String>| format!("{r:?}");
        assert_eq!(show(&public), show(&kernel), "{p}: openat2");
        assert_eq!(show(&public), show(&walked), "{p}: walk");
        public
    }

    fn regular(f: File, p: &str) -> io::Result<File> {
        if f.metadata()?.file_type().is_file() {
            Ok(f)
        } else {
            Err(io::Error::other(format!("{p} is not a regular file")))
        }
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
        assert_eq!(read(&root, "etc/app/conf").unwrap(), "inside\n");
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
            resolve(&root, "/data/climb/../x").unwrap(),
            root.join("etc/app/x")
        );
        assert!(is_file(&root, "/abs"));
        assert!(!is_file(&root, "/leak"));
    }

    #[test]
    fn reads_are_capped() {
        let (_t, root, _) = layout("cap");
        // A sparse 1 GiB file: its size says so at once; nothing of it is read.
        let big = std::fs::File::create(root.join("etc/passwd")).unwrap();
        big.set_len(1 << 30).unwrap();
        let before = std::time::Instant::now();
        let e = read_file(&root, "/etc/passwd", 4 << 20).unwrap_err();
        assert!(too_large(&e), "{e}");
        assert!(
            e.to_string().contains("/etc/passwd is 1073741824 bytes"),
            "{e}"
        );
        assert!(before.elapsed() < std::time::Duration::from_secs(1));
        // Through a symlink too.
        symlink("/etc/passwd", root.join("link")).unwrap();
        assert!(too_large(&read_file(&root, "/link", 4 << 20).unwrap_err()));
        // At the cap is fine, one byte over is not.
        std::fs::write(root.join("etc/ten"), "0123456789").unwrap();
        assert_eq!(read_file(&root, "/etc/ten", 10).unwrap(), b"0123456789");
        assert!(too_large(&read_file(&root, "/etc/ten", 9).unwrap_err()));
        // Other failures are not "too large".
        assert!(!too_large(&read_file(&root, "/nope", 10).unwrap_err()));
    }

    #[test]
    fn only_regular_files_are_read() {
        let (_t, root, _) = layout("kinds");
        let e = read(&root, "/etc/app").unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        assert!(!is_file(&root, "/etc/app"));
        let fifo = root.join("fifo");
        let c = CString::new(fifo.as_os_str().as_bytes()).unwrap();
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
        let dev = CString::new(root.join("null").as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path; 1:3 is /dev/null.
        if unsafe { libc::mknod(dev.as_ptr(), libc::S_IFCHR | 0o600, libc::makedev(1, 3)) } == 0 {
            let e = read(&root, "/null").unwrap_err();
            assert!(e.to_string().contains("not a regular file"), "{e}");
        }
    }
}
