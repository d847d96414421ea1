//! Cancellation: Ctrl-C (SIGINT), SIGTERM and SIGHUP set a flag; the executor polls it and stops
//! the running command's process group, the engine's progress hook polls it and stops a busy
//! script, and the test runner still runs teardown and cleanup afterwards.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// After this many signals herodo gives up on a graceful stop and exits at once (cleanup that
/// hangs must not trap the user; resources left behind carry owner labels for `herodo clean`).
const SIGNALS_BEFORE_EXIT: usize = 3;

#[derive(Debug, Default)]
struct Inner {
    flag: AtomicBool,
    /// The last signal that cancelled us (0: none, or cancelled by code).
    signal: AtomicI32,
    count: AtomicUsize,
}

/// A cheap, clonable "stop now" flag shared by the executor, the engine and the signal handler.
#[derive(Clone, Debug, Default)]
pub struct CancelToken(Arc<Inner>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.0.flag.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.flag.load(Ordering::SeqCst)
    }

    /// Clear the flag (the REPL does this after each entry, the test runner before teardown
    /// and cleanup). The signal that caused it is remembered for the exit code.
    pub fn reset(&self) {
        self.0.flag.store(false, Ordering::SeqCst);
    }

    /// The last signal (SIGINT, SIGTERM, SIGHUP) that cancelled this token, if any.
    pub fn signal(&self) -> Option<i32> {
        match self.0.signal.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }

    /// The exit code for a run this token cancelled: 128 + the signal (130 for Ctrl-C).
    pub fn exit_code(&self) -> i32 {
        128 + self.signal().unwrap_or(libc::SIGINT)
    }

    /// Route SIGINT, SIGTERM and SIGHUP to this token. Only the first call in a process
    /// installs handlers; later calls are no-ops and report `false`.
    pub fn install_signal_handlers(&self) -> bool {
        static INSTALLED: AtomicBool = AtomicBool::new(false);
        if INSTALLED.swap(true, Ordering::SeqCst) {
            return false;
        }
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            let inner = self.0.clone();
            let handler = move || {
                inner.signal.store(sig, Ordering::SeqCst);
                inner.flag.store(true, Ordering::SeqCst);
                if inner.count.fetch_add(1, Ordering::SeqCst) + 1 >= SIGNALS_BEFORE_EXIT {
                    // SAFETY: _exit is async-signal-safe.
                    unsafe { libc::_exit(128 + sig) };
                }
            };
            // SAFETY: the handler only stores to atomics and may call _exit, all of which
            // are async-signal-safe.
            if unsafe { signal_hook::low_level::register(sig, handler) }.is_err() {
                return false;
            }
        }
        true
    }

    /// Sleep for `d`, waking early when cancelled. Returns `false` if cancelled.
    pub fn sleep(&self, d: Duration) -> bool {
        let now = Instant::now();
        // A huge `d` must not overflow the clock: cap it at a year of sleep.
        let end = now
            .checked_add(d)
            .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600));
        loop {
            if self.is_cancelled() {
                return false;
            }
            let now = Instant::now();
            if now >= end {
                return true;
            }
            std::thread::sleep((end - now).min(Duration::from_millis(20)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_and_reset() {
        let t = CancelToken::new();
        let t2 = t.clone();
        assert!(!t.is_cancelled());
        t2.cancel();
        assert!(t.is_cancelled());
        assert!(!t.sleep(Duration::from_secs(5)));
        t.reset();
        assert!(t.sleep(Duration::from_millis(1)));
        assert_eq!(t.signal(), None);
        assert_eq!(t.exit_code(), 130);
    }
}
