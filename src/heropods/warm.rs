//! Keeping the kernel's cgroup-migration lock warm while the runtime works.
//!
//! Moving a task into a cgroup, which runc does for every container it starts and every
//! process it execs into one, takes a system-wide lock (`cgroup_threadgroup_rwsem`). The first
//! writer after a quiet spell waits for a whole RCU grace period before it gets it: 7-30 ms
//! measured on these machines, a quarter of a `runc run`. For about one grace period after a
//! writer leaves, the next ones get it at once.
//!
//! So while the runtime starts, a thread re-writes its own task id into its own cgroup every
//! few milliseconds: a move to where it already is, which changes nothing but pays that wait in
//! parallel with the runtime's start-up instead of in its critical path. Measured with a bare
//! `runc run -d` (median of 15, interleaved): 42.9 ms cold, 32.2 ms with the lock kept warm.
//! Where herodo may not write its cgroup (no permission, no cgroup fs), the thread just ends.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// How often the thread re-takes the lock (well inside a grace period).
const EVERY: Duration = Duration::from_millis(3);
/// Keeps the lock warm until dropped, or until its time is up.
#[must_use = "the lock is kept warm only while the guard lives"]
pub struct Warmer {
    stop: Arc<AtomicBool>,
}

impl Warmer {
    /// Start warming in a background thread for at most `limit`; returns at once.
    pub fn start(limit: Duration) -> Warmer {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let spawned = std::thread::Builder::new()
            .name("cgroup-warm".into())
            .spawn(move || {
                // SAFETY: gettid has no preconditions.
                let tid = unsafe { libc::gettid() };
                let deadline = Instant::now() + limit;
                while !flag.load(Ordering::Relaxed) && Instant::now() < deadline {
                    if !touch(tid) {
                        return;
                    }
                    std::thread::sleep(EVERY);
                }
            });
        // Without a thread there is only no warming: nothing to report.
        drop(spawned);
        Warmer { stop }
    }
}

impl Drop for Warmer {
    fn drop(&mut self) {
        // Not joined: the thread may be inside a write that waits for a grace period.
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Write `tid` into the file that moves this one thread into the cgroup it is already in.
/// False when no such file takes the write.
fn touch(tid: i32) -> bool {
    let Some(file) = target() else {
        return false;
    };
    std::fs::write(file, tid.to_string()).is_ok()
}

/// The per-thread membership file of this process's cgroup: a cgroup v1 hierarchy's `tasks`,
/// else cgroup2's `cgroup.threads`. Resolved once per process.
fn target() -> Option<&'static PathBuf> {
    static TARGET: OnceLock<Option<PathBuf>> = OnceLock::new();
    TARGET
        .get_or_init(|| {
            let cg = std::fs::read_to_string("/proc/self/cgroup").ok()?;
            let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
            let mounts = super::runtime::cgroup_mounts(&mountinfo);
            choose(&cg, &mounts)
        })
        .as_ref()
}

fn choose(proc_cgroup: &str, mounts: &[super::runtime::CgroupMount]) -> Option<PathBuf> {
    let dirs = super::runtime::cgroup_dirs(proc_cgroup, mounts);
    let v2 = mounts.iter().find(|m| m.v2).map(|m| m.mount_point.clone());
    let is_v2 = |d: &str| v2.as_deref().is_some_and(|p| d.starts_with(p));
    dirs.iter()
        .find(|d| !is_v2(d))
        .map(|d| PathBuf::from(d).join("tasks"))
        .or_else(|| {
            dirs.first()
                .map(|d| PathBuf::from(d).join("cgroup.threads"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heropods::runtime::cgroup_mounts;

    const MOUNTINFO: &str = "\
35 25 0:30 / /sys/fs/cgroup rw,nosuid - tmpfs tmpfs ro,mode=755
36 35 0:31 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw
37 35 0:32 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids
38 35 0:33 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
";

    #[test]
    fn a_v1_tasks_file_is_preferred_then_cgroup2_threads() {
        let mounts = cgroup_mounts(MOUNTINFO);
        let hybrid = "4:pids:/job\n3:memory:/job\n0::/job\n";
        assert_eq!(
            choose(hybrid, &mounts),
            Some(PathBuf::from("/sys/fs/cgroup/pids/job/tasks"))
        );
        let v2_only = cgroup_mounts("36 25 0:31 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
        assert_eq!(
            choose("0::/user.slice\n", &v2_only),
            Some(PathBuf::from("/sys/fs/cgroup/user.slice/cgroup.threads"))
        );
        assert_eq!(choose("", &mounts), None);
    }

    #[test]
    fn a_warmer_stops_when_dropped() {
        // Wherever the test runs (with or without a writable cgroup fs), starting and dropping
        // a warmer returns at once and leaves this process where it was.
        let before = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let started = Instant::now();
        let w = Warmer::start(Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(20));
        drop(w);
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(
            std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default(),
            before
        );
    }
}
