//! Names between containers: each running container on the bridge finds the others of its base
//! directory by name through its /etc/hosts, rewritten when one of them starts, stops or is
//! deleted.
//!
//! Why /etc/hosts and not a resolver: no daemon (a resolver would have to run somewhere and
//! outlive the herodo that started it), nothing to start on the critical path, and every libc
//! and busybox reads it. Why one base directory: a name is unique only there (two base
//! directories may each have a `web`), and a base directory is what one set of scripts owns;
//! containers of other base directories on the same bridge are still reachable by address.
//!
//! The file is bind-mounted into the container, so it is rewritten in place (overwritten and
//! cut to length; a rename would leave the container with the old file). Rewrites are serialised per
//! base directory by a lock, and each one writes every running container's file from the
//! records of that moment, so the last start or stop to finish leaves every file complete.

use super::*;

/// The /etc/hosts of `name` (at `ip` on the bridge) with `peers` (name, address).
pub fn hosts_file(name: &str, ip: Option<&str>, peers: &[(String, String)]) -> String {
    let mut out = network::hosts_file(name, ip);
    for (n, a) in peers {
        if n != name {
            out.push_str(&format!("{a}\t{n}\n"));
        }
    }
    out
}

impl Pods {
    /// The running containers of this base directory on a bridge: (name, address, bridge).
    fn running_on_bridges(&self) -> Vec<(String, String, String)> {
        store::list(&self.paths)
            .unwrap_or_default()
            .into_iter()
            .filter(|r| self.known_running(r) == Some(true))
            .filter_map(|r| {
                let a = r.attachment?;
                Some((r.name, a.ip, a.bridge))
            })
            .collect()
    }

    /// (name, address) of the running containers on `bridge`.
    fn peers(running: &[(String, String, String)], bridge: &str) -> Vec<(String, String)> {
        running
            .iter()
            .filter(|(_, _, b)| b == bridge)
            .map(|(n, ip, _)| (n.clone(), ip.clone()))
            .collect()
    }

    /// The /etc/hosts `rec` starts with: the other running containers of its bridge by name.
    pub(super) fn hosts_of(&self, rec: &ContainerRecord) -> String {
        match &rec.attachment {
            Some(a) if rec.network() == NetworkMode::Bridge => hosts_file(
                &rec.name,
                Some(&a.ip),
                &Self::peers(&self.running_on_bridges(), &a.bridge),
            ),
            _ => network::hosts_file(&rec.name, None),
        }
    }

    /// After a container of this base directory started, stopped or went: rewrite the
    /// /etc/hosts of every running one on a bridge. Best effort: a container being deleted
    /// meanwhile has no file to write.
    pub(super) fn refresh_hosts(&self, host: &Host) {
        let lock = self.paths.base().join("hosts.lock");
        let Ok(_lock) = FileLock::exclusive(&lock, &host.cancel, LOCK_TIMEOUT) else {
            return;
        };
        let running = self.running_on_bridges();
        for (name, ip, bridge) in &running {
            let text = hosts_file(name, Some(ip), &Self::peers(&running, bridge));
            let path = self.paths.container_dir(name).join("hosts");
            if differs(&path, &text) == Some(true) {
                let _ = write_in_place(&path, text.as_bytes());
            }
        }
    }
}

/// Whether the file at `path` holds anything but `text` (None: it cannot be read, its
/// container being deleted meanwhile). Reads at most one byte more than `text`: the file is
/// the container's, which may have grown it to any size (`truncate -s 1G /etc/hosts`).
fn differs(path: &Path, text: &str) -> Option<bool> {
    use std::io::Read;
    let f = std::fs::File::open(path).ok()?;
    let mut old = Vec::with_capacity(text.len() + 1);
    f.take(text.len() as u64 + 1).read_to_end(&mut old).ok()?;
    Some(old != text.as_bytes())
}

/// Rewrite an existing file in place (never create one, never rename over it): overwrite from
/// the start, then cut to the new length. A file of a page or less keeps its page, so this
/// works on a full file system too, where truncating first would lose the content.
fn write_in_place(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.write_all(bytes)?;
    f.set_len(bytes.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_files_list_the_peers() {
        let peers = vec![
            ("db".to_string(), "10.89.77.3".to_string()),
            ("web".to_string(), "10.89.77.2".to_string()),
        ];
        assert_eq!(
            hosts_file("web", Some("10.89.77.2"), &peers),
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
             10.89.77.2\tweb\n10.89.77.3\tdb\n"
        );
        assert_eq!(
            hosts_file("web", Some("10.89.77.2"), &[]),
            network::hosts_file("web", Some("10.89.77.2"))
        );
    }

    #[test]
    fn files_are_rewritten_in_place() {
        use std::os::unix::fs::MetadataExt;
        let dir = crate::common::tmp::tmpdir().unwrap();
        let p = dir.join("hosts");
        std::fs::write(&p, "a much longer old content\n").unwrap();
        let ino = std::fs::metadata(&p).unwrap().ino();
        write_in_place(&p, b"new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new\n");
        assert_eq!(std::fs::metadata(&p).unwrap().ino(), ino);
        // A file that is gone (its container deleted meanwhile) is not made again.
        assert!(write_in_place(&dir.join("gone"), b"x").is_err());
        assert!(!dir.join("gone").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_grown_by_its_container_is_compared_without_reading_it_all() {
        let dir = crate::common::tmp::tmpdir().unwrap();
        let p = dir.join("hosts");
        std::fs::write(&p, "a\tb\n").unwrap();
        assert_eq!(differs(&p, "a\tb\n"), Some(false));
        assert_eq!(differs(&p, "a\tb"), Some(true));
        assert_eq!(differs(&p, "a\tb\nc\n"), Some(true));
        assert_eq!(differs(&dir.join("gone"), "x"), None);
        // 1 GiB (sparse): read as far as the expected text and a byte, then rewritten.
        let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
        f.set_len(1 << 30).unwrap();
        assert_eq!(differs(&p, "a\tb\n"), Some(true));
        write_in_place(&p, b"a\tb\n").unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 4);
        assert_eq!(differs(&p, "a\tb\n"), Some(false));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
