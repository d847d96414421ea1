//! Cancellation: Ctrl-C sets a flag; the executor polls it and stops the running command's
//! process group, the engine's progress hook polls it and stops a busy script.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A cheap, clonable "stop now" flag shared by the executor, the engine and the signal handler.
#[derive(Clone, Debug, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Clear the flag (the REPL does this after each entry).
    pub fn reset(&self) {
        self.0.store(false, Ordering::SeqCst);
    }

    /// Route SIGINT (Ctrl-C) to this token. Only the first call in a process installs a handler;
    /// later calls are no-ops and report `false`.
    pub fn install_ctrlc(&self) -> bool {
        let token = self.clone();
        ctrlc::set_handler(move || token.cancel()).is_ok()
    }

    /// Sleep for `d`, waking early when cancelled. Returns `false` if cancelled.
    pub fn sleep(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
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
    }
}
