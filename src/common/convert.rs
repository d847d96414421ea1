//! Checked conversions of numbers a user can pass (durations, sizes, ports, counts). A float
//! like `1e300` or an integer like `i64::MAX` must become a clear `invalid_argument` error, never
//! a panic inside `Duration::from_secs_f64` or an overflowing `Instant + Duration`.

use std::time::Duration;

use crate::error::HostError;

/// The longest duration herodo accepts anywhere: ten years, in seconds. Far beyond any real
/// timeout, far below what `Instant + Duration` or `from_secs_f64` can overflow on.
pub const MAX_SECONDS: u64 = 10 * 365 * 24 * 3600;

/// Seconds given as a float: finite, non-negative, at most [`MAX_SECONDS`].
pub fn seconds_f64(field: &str, secs: f64) -> Result<Duration, HostError> {
    // `1e300` prints as 301 digits with `{}`; show big values in exponent form.
    let shown = if secs.abs() >= 1e12 {
        format!("{secs:e}")
    } else {
        secs.to_string()
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(HostError::invalid(
            field,
            format!("must be a non-negative number of seconds, got {shown}"),
        ));
    }
    if secs > MAX_SECONDS as f64 {
        return Err(HostError::invalid(
            field,
            format!("{shown} seconds is too long (at most {MAX_SECONDS}, ten years)"),
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Milliseconds given as an integer (`sleep(5000)`): non-negative, at most [`MAX_SECONDS`].
pub fn millis_i64(field: &str, ms: i64) -> Result<Duration, HostError> {
    match u64::try_from(ms) {
        Ok(m) if m <= MAX_SECONDS * 1000 => Ok(Duration::from_millis(m)),
        Ok(_) => Err(HostError::invalid(
            field,
            format!(
                "{ms} milliseconds is too long (at most {}, ten years)",
                MAX_SECONDS * 1000
            ),
        )),
        Err(_) => Err(HostError::invalid(
            field,
            format!("must not be negative, got {ms}"),
        )),
    }
}

/// Whole seconds given as an integer: non-negative, at most [`MAX_SECONDS`].
pub fn seconds_i64(field: &str, secs: i64) -> Result<Duration, HostError> {
    match u64::try_from(secs) {
        Ok(s) if s <= MAX_SECONDS => Ok(Duration::from_secs(s)),
        Ok(_) => Err(HostError::invalid(
            field,
            format!("{secs} seconds is too long (at most {MAX_SECONDS}, ten years)"),
        )),
        Err(_) => Err(HostError::invalid(
            field,
            format!("must be a non-negative number of seconds, got {secs}"),
        )),
    }
}

/// A count or size that must fit in `T` and lie in `min..=max`.
pub fn int_in<T>(field: &str, v: i64, min: T, max: T) -> Result<T, HostError>
where
    T: TryFrom<i64> + PartialOrd + std::fmt::Display + Copy,
{
    match T::try_from(v) {
        Ok(x) if x >= min && x <= max => Ok(x),
        _ => Err(HostError::invalid(
            field,
            format!("must be between {min} and {max}, got {v}"),
        )),
    }
}

/// A deadline `d` from now, saturating instead of overflowing.
pub fn deadline(d: Duration) -> std::time::Instant {
    let now = std::time::Instant::now();
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(MAX_SECONDS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_are_checked() {
        assert_eq!(millis_i64("ms", 0).unwrap(), Duration::ZERO);
        assert_eq!(millis_i64("ms", 1500).unwrap(), Duration::from_millis(1500));
        let max = (MAX_SECONDS * 1000) as i64;
        assert_eq!(
            millis_i64("ms", max).unwrap(),
            Duration::from_secs(MAX_SECONDS)
        );
        for bad in [-1, max + 1, i64::MAX, i64::MIN] {
            assert!(
                matches!(
                    millis_i64("ms", bad),
                    Err(HostError::InvalidArgument { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn floats() {
        assert_eq!(seconds_f64("t", 0.5).unwrap(), Duration::from_millis(500));
        for bad in [1e300, f64::INFINITY, f64::NAN, -1.0, 1e10] {
            let e = seconds_f64("t", bad).unwrap_err();
            assert!(matches!(e, HostError::InvalidArgument { .. }), "{bad}");
        }
    }

    #[test]
    fn ints() {
        assert_eq!(seconds_i64("t", 3).unwrap(), Duration::from_secs(3));
        assert!(seconds_i64("t", i64::MAX).is_err());
        assert!(seconds_i64("t", -1).is_err());
        assert_eq!(int_in::<u16>("port", 80, 1, 65535).unwrap(), 80);
        assert!(int_in::<u16>("port", 70000, 1, 65535).is_err());
        assert!(int_in::<u32>("retries", 4294967297, 0, 1000).is_err());
        assert!(int_in::<u32>("retries", -5, 0, 1000).is_err());
    }

    #[test]
    fn deadlines_saturate() {
        let _ = deadline(Duration::MAX);
    }
}
