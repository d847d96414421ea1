//! A cancel-aware poll loop: call a probe every `interval` until it yields a value, the deadline
//! passes (`timeout`) or Ctrl-C is pressed (`cancelled`). Used where herodo waits on the world
//! (a process to stop, a lock to free) without a daemon to notify it.

use std::time::Duration;

use crate::error::HostError;
use crate::exec::CancelToken;

/// Call `probe` until it returns `Ok(Some(v))`; an `Err` from the probe ends the loop at once.
/// The probe always runs at least once, also with a zero timeout. `what` names the awaited
/// thing in the timeout message ("container web to stop").
pub fn poll_until<T, E>(
    cancel: &CancelToken,
    timeout: Duration,
    interval: Duration,
    what: &str,
    mut probe: impl FnMut() -> Result<Option<T>, E>,
) -> Result<T, E>
where
    E: From<HostError>,
{
    let deadline = super::convert::deadline(timeout);
    loop {
        if let Some(v) = probe()? {
            return Ok(v);
        }
        let now = std::time::Instant::now();
        if now >= deadline {
            return Err(HostError::Timeout(format!(
                "{what} did not happen within {}",
                crate::exec::fmt_duration(timeout)
            ))
            .into());
        }
        if !cancel.sleep(interval.min(deadline - now)) {
            return Err(HostError::Cancelled.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_the_first_value() {
        let mut n = 0;
        let v: Result<i32, HostError> = poll_until(
            &CancelToken::new(),
            Duration::from_secs(5),
            Duration::from_millis(1),
            "three calls",
            || {
                n += 1;
                Ok((n == 3).then_some(n))
            },
        );
        assert_eq!(v.unwrap(), 3);
    }

    #[test]
    fn times_out_and_cancels() {
        let e = poll_until::<(), HostError>(
            &CancelToken::new(),
            Duration::from_millis(30),
            Duration::from_millis(5),
            "never",
            || Ok(None),
        )
        .unwrap_err();
        assert!(
            matches!(e, HostError::Timeout(ref m) if m.contains("never")),
            "{e}"
        );
        let c = CancelToken::new();
        c.cancel();
        let e = poll_until::<(), HostError>(
            &c,
            Duration::from_secs(5),
            Duration::from_millis(5),
            "x",
            || Ok(None),
        )
        .unwrap_err();
        assert!(matches!(e, HostError::Cancelled));
    }

    #[test]
    fn probe_errors_end_the_loop() {
        let e = poll_until::<(), HostError>(
            &CancelToken::new(),
            Duration::from_secs(5),
            Duration::from_millis(5),
            "x",
            || Err(HostError::invalid("f", "bad")),
        )
        .unwrap_err();
        assert!(matches!(e, HostError::InvalidArgument { .. }));
    }
}
