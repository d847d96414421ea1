//! Who created a resource: every container, volume, network and builder herodo creates carries
//! an owner tag naming the creating process, so a later run can tell leftovers of a dead herodo
//! (killed with `kill -9`, a crashed CI job) from resources that a live herodo still uses.
//!
//! The tag is `BOOTID-PID-STARTTIME`: the process id alone is reused by the kernel, the start
//! time (in clock ticks since boot, field 22 of /proc/PID/stat) tells a reused pid apart, and the
//! boot id makes every tag from before a reboot dead.
//!
//! Under `herodo test` the tag ends in `-test`: what a test creates is temporary by design (the
//! runner removes it after each test), so once its owner is gone it is *abandoned* and
//! `herodo clean` (or the next `herodo test`) removes it. What an ordinary script creates (a
//! deployed container, a builder kept to re-attach later) is the point of the script: it carries
//! the owner tag for identification but is never reaped.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

static TEST_SESSION: AtomicBool = AtomicBool::new(false);
const TEST_SUFFIX: &str = "-test";

/// Mark this process as a test session (before it creates anything): its resources are
/// temporary and may be reaped once it is gone.
pub fn mark_test_session() {
    TEST_SESSION.store(true, Ordering::SeqCst);
}

/// The label key carried by every resource herodo creates. A user label cannot override it.
pub const OWNER_LABEL: &str = "io.herodo.owner";

/// This process's owner tag.
pub fn owner_tag() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| {
        let tag =
            tag_for(std::process::id()).unwrap_or_else(|| format!("x-{}-0", std::process::id()));
        if TEST_SESSION.load(Ordering::SeqCst) {
            format!("{tag}{TEST_SUFFIX}")
        } else {
            tag
        }
    })
}

/// `OWNER_LABEL=TAG`, ready for an engine's `--label` flag.
pub fn owner_label_arg() -> String {
    format!("{OWNER_LABEL}={}", owner_tag())
}

/// Whether the process named by `tag` still runs. Tags that cannot be parsed count as alive
/// (never remove what we do not understand).
pub fn owner_alive(tag: &str) -> bool {
    let tag = tag.strip_suffix(TEST_SUFFIX).unwrap_or(tag);
    let mut parts = tag.splitn(3, '-');
    let (Some(boot), Some(pid), Some(start)) = (parts.next(), parts.next(), parts.next()) else {
        return true;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return true;
    };
    if boot != boot_id() {
        return false;
    }
    match start_time(pid) {
        Some(now) => now.to_string() == start,
        None => false,
    }
}

/// Whether a resource with owner `tag` may be removed by `herodo clean`: it was made by a test
/// session (temporary by design) whose process is gone.
pub fn abandoned(tag: &str) -> bool {
    tag.ends_with(TEST_SUFFIX) && !owner_alive(tag)
}

/// Where test sessions leave their markers, in herodo's state directory.
fn sessions_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("sessions")
}

/// A test session's marker: the file `<state dir>/sessions/<owner tag>`, there for as long as
/// the session may own resources. A session that ends cleanly removes it; one that was killed
/// (or was interrupted, failed, or kept its resources) leaves it, and the next `herodo test`
/// sees a marker whose owner is gone and knows there may be something to reap. Without such a
/// marker, nothing a test session left can be waiting, and the engines need not be asked (that
/// asking costs ~150 ms: a daemon's version and three listings per engine).
#[derive(Debug)]
pub struct SessionMarker {
    path: PathBuf,
}

impl SessionMarker {
    /// Leave this test session's marker (best effort: without a writable state directory there
    /// is no marker, and `herodo clean` is the way to reap).
    pub fn leave(state_dir: &Path) -> Option<SessionMarker> {
        let dir = sessions_dir(state_dir);
        std::fs::create_dir_all(&dir).ok()?;
        let path = dir.join(owner_tag());
        std::fs::write(&path, b"").ok()?;
        Some(SessionMarker { path })
    }

    /// The session ended with nothing left behind: remove the marker.
    pub fn finish(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Markers of test sessions whose process is gone (they may have left resources behind).
pub fn dead_sessions(state_dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(sessions_dir(state_dir)) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(abandoned))
        .map(|e| e.path())
        .collect()
}

fn tag_for(pid: u32) -> Option<String> {
    Some(format!("{}-{pid}-{}", boot_id(), start_time(pid)?))
}

fn boot_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().replace('-', "").chars().take(12).collect())
            .unwrap_or_else(|_| "noboot".to_string())
    })
}

/// The start time of `pid` (field 22 of /proc/PID/stat).
fn start_time(pid: u32) -> Option<u64> {
    super::procstat::read(i64::from(pid)).map(|s| s.start_time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_tag_is_alive_and_stable() {
        let t = owner_tag();
        assert_eq!(t, owner_tag());
        assert!(owner_alive(t), "{t}");
        assert!(owner_label_arg().starts_with("io.herodo.owner="));
    }

    #[test]
    fn session_markers_of_dead_sessions_only() {
        let d = std::env::temp_dir().join(format!("herodo-sessions-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        assert_eq!(dead_sessions(&d), Vec::<PathBuf>::new(), "no directory yet");
        let marker = SessionMarker::leave(&d).unwrap();
        let dead_test = format!("{}-{}-1-test", boot_id(), 4_194_305);
        let dead_script = format!("{}-{}-1", boot_id(), 4_194_305);
        for f in [&dead_test, &dead_script, &"garbage-test".to_string()] {
            std::fs::write(sessions_dir(&d).join(f), b"").unwrap();
        }
        // Ours is alive; an ordinary script is never reaped; garbage counts as alive.
        assert_eq!(dead_sessions(&d), vec![sessions_dir(&d).join(&dead_test)]);
        let ours = sessions_dir(&d).join(owner_tag());
        assert!(ours.exists());
        marker.finish();
        assert!(!ours.exists());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn dead_and_foreign_tags() {
        // Above Linux's largest pid_max (2^22): no process ever has this pid. (Processes are
        // started only by src/exec, so the test does not spawn one to get a dead pid.)
        let tag = format!("{}-{}-1", boot_id(), 4_194_305);
        assert!(!owner_alive(&tag), "{tag}");
        assert!(!owner_alive(&format!("otherboot-{}-1", std::process::id())));
        assert!(!owner_alive(&format!(
            "{}-{}-1",
            boot_id(),
            std::process::id()
        )));
        assert!(owner_alive("garbage"));
        // Only a dead test session's resources are abandoned.
        let dead = format!("{}-{}-1", boot_id(), std::process::id());
        assert!(!abandoned(&dead));
        assert!(abandoned(&format!("{dead}-test")));
        assert!(!abandoned(&format!(
            "{}-test",
            owner_tag().trim_end_matches("-test")
        )));
    }
}
