//! Each container's own writable layer over the read-only image, and what a container's root
//! file system tells us (its users, its shell).
//!
//! The layer is an overlayfs mount (image = lower, `upper/` = the container's writes), so two
//! containers of one image never see each other's writes and creating one copies nothing.
//! Where overlayfs cannot be mounted (a base directory on overlayfs or some FUSE file system),
//! the image is copied instead.

use std::path::Path;
use std::time::Duration;

use super::bundle::User;
use super::error::{PodError, Result};
use super::store::Storage;
use crate::error::HostError;
use crate::exec::Cmd;
use crate::host::Host;

const COPY_TIMEOUT: Duration = Duration::from_secs(1800);

/// What a factory asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StorageMode {
    /// overlayfs, or a copy where it cannot be mounted.
    #[default]
    Auto,
    Overlay,
    Copy,
}

impl StorageMode {
    pub fn parse(v: &str) -> Result<Self> {
        match v {
            "auto" => Ok(StorageMode::Auto),
            "overlay" => Ok(StorageMode::Overlay),
            "copy" => Ok(StorageMode::Copy),
            _ => Err(PodError::invalid(
                "storage",
                format!("{v:?} is not auto, overlay or copy"),
            )),
        }
    }
}

/// overlayfs options for the container at `cdir` over the image at `lower`.
pub fn overlay_options(lower: &Path, cdir: &Path) -> String {
    format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        cdir.join("upper").display(),
        cdir.join("work").display()
    )
}

fn cstr(s: &str) -> Result<std::ffi::CString> {
    std::ffi::CString::new(s).map_err(|_| PodError::invalid("path", "contains a NUL byte"))
}

/// Mount the overlay with mount(2). A system call, not a `mount` process: it is on the path of
/// every container start, where a fork+exec costs more than the mount itself; it cannot hang
/// like a process, so it needs no timeout, and `-v` still shows it.
pub fn mount_overlay(host: &Host, lower: &Path, cdir: &Path) -> Result<()> {
    let target = cdir.join("rootfs");
    let opts = overlay_options(lower, cdir);
    if host.settings.verbose {
        eprintln!("+ mount(2) -t overlay -o {opts} {}", target.display());
    }
    let (src, fstype) = (cstr("overlay")?, cstr("overlay")?);
    let (t, data) = (cstr(&target.display().to_string())?, cstr(&opts)?);
    // SAFETY: valid NUL-terminated strings that outlive the call; mount only reads them.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            t.as_ptr(),
            fstype.as_ptr(),
            0,
            data.as_ptr().cast(),
        )
    };
    if rc != 0 {
        return Err(PodError::io(
            "mount overlay on",
            &target,
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// Unmount with umount2(2) (see `mount_overlay` for why not a process).
pub fn unmount(host: &Host, target: &Path) -> Result<()> {
    if host.settings.verbose {
        eprintln!("+ umount2(2) {}", target.display());
    }
    let t = cstr(&target.display().to_string())?;
    // SAFETY: a valid NUL-terminated path; umount2 only reads it.
    if unsafe { libc::umount2(t.as_ptr(), 0) } != 0 {
        return Err(PodError::io(
            "unmount",
            target,
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// A full copy of the image (ownership, modes, links and xattrs kept).
pub fn copy_image(lower: &Path, cdir: &Path) -> Cmd {
    Cmd::new("cp")
        .args(["-a", "--reflink=auto"])
        .arg(format!("{}/.", lower.display()))
        .arg(cdir.join("rootfs").display().to_string())
        .timeout(COPY_TIMEOUT)
}

/// Unescape a mountinfo path (`\040` is a space).
fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// Whether `target` is a mount point according to `/proc/self/mountinfo` text.
pub fn is_mounted_in(mountinfo: &str, target: &Path) -> bool {
    let want = target.display().to_string();
    mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|mp| unescape(mp) == want)
}

pub fn is_mounted(target: &Path) -> bool {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    is_mounted_in(&mi, target)
}

fn mkdirs(cdir: &Path, names: &[&str]) -> Result<()> {
    for n in names {
        let d = cdir.join(n);
        std::fs::create_dir_all(&d).map_err(|e| PodError::io("create", &d, e))?;
    }
    Ok(())
}

/// Make the container's root file system at `cdir/rootfs` from the image at `lower`.
pub fn prepare(host: &Host, cdir: &Path, lower: &Path, mode: StorageMode) -> Result<Storage> {
    if mode != StorageMode::Copy {
        mkdirs(cdir, &["rootfs", "upper", "work"])?;
        match mount_overlay(host, lower, cdir) {
            Ok(()) => return Ok(Storage::Overlay),
            Err(e) if mode == StorageMode::Overlay => return Err(e),
            Err(_) => {
                // overlayfs is impossible here: fall back to a private copy.
                for n in ["upper", "work"] {
                    let _ = std::fs::remove_dir_all(cdir.join(n));
                }
            }
        }
    }
    mkdirs(cdir, &["rootfs"])?;
    host.exec_checked(copy_image(lower, cdir))?;
    Ok(Storage::Copy)
}

/// Mount the overlay again when it is gone (after a reboot).
pub fn ensure_mounted(host: &Host, cdir: &Path, lower: &Path, storage: Storage) -> Result<()> {
    if storage == Storage::Overlay && !is_mounted(&cdir.join("rootfs")) {
        mkdirs(cdir, &["rootfs", "upper", "work"])?;
        mount_overlay(host, lower, cdir)?;
    }
    Ok(())
}

/// Mount points strictly below `dir`.
fn mounts_below(dir: &Path) -> Vec<String> {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let prefix = format!("{}/", dir.display());
    mi.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape)
        .filter(|mp| mp.starts_with(&prefix))
        .collect()
}

/// Unmount the container's root file system (when mounted) and remove the container's
/// directory. Refuses to remove anything while something is still mounted below it.
pub fn remove(host: &Host, cdir: &Path) -> Result<()> {
    let rootfs = cdir.join("rootfs");
    let busy = |what: String| PodError::Busy {
        what: cdir.display().to_string(),
        reason: format!(
            "{what}; unmount it (or end the process using it: `fuser -vm {}`) and delete again",
            rootfs.display()
        ),
    };
    if is_mounted(&rootfs) {
        match unmount(host, &rootfs) {
            Ok(()) => {}
            Err(PodError::Host(crate::error::HostError::Io { source, .. }))
                if source.raw_os_error() == Some(libc::EBUSY) =>
            {
                let below = mounts_below(&rootfs);
                return Err(busy(if below.is_empty() {
                    format!("{} is in use", rootfs.display())
                } else {
                    format!("{} is still mounted", below.join(", "))
                }));
            }
            Err(e) => return Err(e),
        }
    }
    if let Some(mp) = mounts_below(cdir).first() {
        return Err(busy(format!(
            "{mp} is still mounted; not removing {}",
            cdir.display()
        )));
    }
    match std::fs::remove_dir_all(cdir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(PodError::io("remove", cdir, e)),
    }
}

/// The image's POSIX shell, for the keep-alive wrapper.
pub fn find_shell(root: &Path) -> Option<String> {
    ["/bin/sh", "/usr/bin/sh"]
        .into_iter()
        .find(|p| crate::common::inroot::is_file(root, p))
        .map(str::to_string)
}

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
}

fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(PasswdEntry {
                name: f.first()?.to_string(),
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
            })
        })
        .collect()
}

/// (name, gid, members)
fn parse_group(text: &str) -> Vec<(String, u32, Vec<String>)> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some((
                f.first()?.to_string(),
                f.get(2)?.parse().ok()?,
                f.get(3)
                    .map(|m| {
                        m.split(',')
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            ))
        })
        .collect()
}

/// Resolve `user` (`""`, `name`, `uid`, `name:group`, `uid:gid`) against an image's
/// /etc/passwd and /etc/group texts, the way Docker does: a numeric uid needs no entry (its
/// group is then 0), a name must exist, supplementary groups come from /etc/group.
pub fn resolve_user(user: &str, passwd: &str, group: &str) -> Result<User> {
    let users = parse_passwd(passwd);
    let groups = parse_group(group);
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let (uid, mut gid, name) = if u.is_empty() {
        (0, 0, Some("root".to_string()))
    } else if let Ok(uid) = u.parse::<u32>() {
        match users.iter().find(|e| e.uid == uid) {
            Some(e) => (uid, e.gid, Some(e.name.clone())),
            None => (uid, 0, None),
        }
    } else {
        let e = users.iter().find(|e| e.name == u).ok_or_else(|| {
            PodError::invalid(
                "user",
                format!("user {u:?} is not in the image's /etc/passwd"),
            )
        })?;
        (e.uid, e.gid, Some(e.name.clone()))
    };
    if let Some(g) = g {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => {
                groups
                    .iter()
                    .find(|(n, _, _)| n == g)
                    .ok_or_else(|| {
                        PodError::invalid(
                            "user",
                            format!("group {g:?} is not in the image's /etc/group"),
                        )
                    })?
                    .1
            }
        };
    }
    let mut additional_gids: Vec<u32> = match (&name, g) {
        (Some(n), None) => groups
            .iter()
            .filter(|(_, id, members)| members.contains(n) && *id != gid)
            .map(|(_, id, _)| *id)
            .collect(),
        _ => Vec::new(),
    };
    additional_gids.dedup();
    Ok(User {
        uid,
        gid,
        additional_gids,
    })
}

/// The most herodo reads of an image's /etc/passwd or /etc/group (real ones are a few KiB;
/// the container can write its own, and a huge one must not take herodo's memory).
pub const MAX_ACCOUNT_FILE: u64 = 4 << 20;

/// Resolve `user` against the files of the root file system `root`. A missing or unreadable
/// /etc/passwd or /etc/group counts as empty; one over [`MAX_ACCOUNT_FILE`] is a `limit` error.
pub fn user_in(root: &Path, user: &str) -> Result<User> {
    let read = |p: &str| -> Result<String> {
        match crate::common::inroot::read_file(root, p, MAX_ACCOUNT_FILE) {
            Ok(b) => Ok(String::from_utf8(b).unwrap_or_default()),
            Err(e) if crate::common::inroot::too_large(&e) => {
                Err(PodError::Host(HostError::Limit {
                    path: p.to_string(),
                    reason: format!("the container's {e}; make it smaller to start the container"),
                }))
            }
            Err(_) => Ok(String::new()),
        }
    };
    resolve_user(user, &read("/etc/passwd")?, &read("/etc/group")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\nweb:x:33:33::/:/bin/false\n";
    const GROUP: &str = "root:x:0:\napp:x:1000:\nweb:x:33:\nlogs:x:4:app,web\nstaff:x:50:app\n";

    #[test]
    fn users_like_docker() {
        let r = |u: &str| resolve_user(u, PASSWD, GROUP);
        assert_eq!(
            r("").unwrap(),
            User {
                uid: 0,
                gid: 0,
                additional_gids: vec![]
            }
        );
        assert_eq!(
            r("app").unwrap(),
            User {
                uid: 1000,
                gid: 1000,
                additional_gids: vec![4, 50]
            }
        );
        assert_eq!(r("1000").unwrap().gid, 1000);
        assert_eq!(
            r("4242").unwrap(),
            User {
                uid: 4242,
                gid: 0,
                additional_gids: vec![]
            }
        );
        assert_eq!(
            r("app:logs").unwrap(),
            User {
                uid: 1000,
                gid: 4,
                additional_gids: vec![]
            }
        );
        assert_eq!(
            r("33:7").unwrap(),
            User {
                uid: 33,
                gid: 7,
                additional_gids: vec![]
            }
        );
        assert!(matches!(r("nobody"), Err(PodError::InvalidArgument { .. })));
        assert!(matches!(
            r("app:nogroup"),
            Err(PodError::InvalidArgument { .. })
        ));
        assert_eq!(resolve_user("", "", "").unwrap().uid, 0);
    }

    #[test]
    fn symlinks_stay_inside_the_root() {
        let root = std::env::temp_dir().join(format!("herodo-rootfs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::fs::write(root.join("bin/busybox"), "").unwrap();
        std::os::unix::fs::symlink("busybox", root.join("bin/sh")).unwrap();
        std::os::unix::fs::symlink("/bin/busybox", root.join("usr/bin/abs")).unwrap();
        // Points at the host's /etc/passwd if followed naively.
        std::os::unix::fs::symlink("/etc/passwd", root.join("bin/escape")).unwrap();
        std::os::unix::fs::symlink("../../../../../../etc/shadow", root.join("bin/up")).unwrap();
        std::os::unix::fs::symlink("loop", root.join("bin/loop")).unwrap();
        // The image's own busybox, by a relative and an absolute link; never the host's files.
        assert!(crate::common::inroot::is_file(&root, "/bin/sh"));
        assert!(crate::common::inroot::is_file(&root, "/usr/bin/abs"));
        assert!(!crate::common::inroot::is_file(&root, "/bin/escape"));
        assert!(!crate::common::inroot::is_file(&root, "/bin/up"));
        assert!(!crate::common::inroot::is_file(&root, "/bin/loop"));
        assert_eq!(find_shell(&root), Some("/bin/sh".to_string()));
        std::fs::remove_file(root.join("bin/sh")).unwrap();
        assert_eq!(find_shell(&root), None);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn huge_account_files_are_a_limit_error() {
        use crate::error::Classify;
        let root = std::env::temp_dir().join(format!("herodo-rootfs-big-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(
            root.join("etc/passwd"),
            "root:x:0:0::/:/bin/sh\napp:x:7:8::/:/bin/sh\n",
        )
        .unwrap();
        assert_eq!(user_in(&root, "app").unwrap().uid, 7);
        // No /etc/group: empty, as before.
        assert_eq!(
            user_in(&root, "app").unwrap().additional_gids,
            Vec::<u32>::new()
        );
        // A sparse 1 GiB /etc/group (the container may write one into its upper dir).
        let f = std::fs::File::create(root.join("etc/group")).unwrap();
        f.set_len(1 << 30).unwrap();
        let e = user_in(&root, "app").unwrap_err();
        let info = e.info();
        assert_eq!(info.kind, "limit", "{e}");
        assert!(info.message.contains("/etc/group"), "{}", info.message);
        assert_eq!(info.fields, vec![("path", "/etc/group".to_string())]);
        // Even a numeric user reads the files (for its name and groups).
        assert_eq!(user_in(&root, "0").unwrap_err().info().kind, "limit");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn argv_and_mountinfo() {
        assert_eq!(
            overlay_options(Path::new("/b/images/ab/rootfs"), Path::new("/b/containers/web")),
            "lowerdir=/b/images/ab/rootfs,upperdir=/b/containers/web/upper,workdir=/b/containers/web/work"
        );
        assert_eq!(
            copy_image(Path::new("/l"), Path::new("/c")).argv(),
            vec!["cp", "-a", "--reflink=auto", "/l/.", "/c/rootfs"]
        );
        let mi = "90 25 0:50 / /b/containers/web/rootfs rw,relatime shared:40 - overlay overlay rw,lowerdir=/x\n\
                  91 25 0:51 / /b/my\\040dir rw - tmpfs tmpfs rw\n";
        assert!(is_mounted_in(mi, Path::new("/b/containers/web/rootfs")));
        assert!(is_mounted_in(mi, Path::new("/b/my dir")));
        assert!(!is_mounted_in(mi, Path::new("/b/containers/web")));
        assert_eq!(StorageMode::parse("copy").unwrap(), StorageMode::Copy);
        assert!(StorageMode::parse("zfs").is_err());
    }
}
