//! Durations written as text, as container engines take them for health check timings and
//! `sleep("2s")` takes them too.

/// Parse a Go duration (what the engines take for health check timings): one or more
/// `NUMBER UNIT` pairs, `NUMBER` being digits with an optional fraction (`1.5`, `.5`), `UNIT`
/// one of `ns`, `us` (`µs`), `ms`, `s`, `m`, `h`; or a bare `0`. No sign: a negative timing means
/// nothing here. `None` when `v` is not such a duration or exceeds ten years.
pub fn parse_go_duration(v: &str) -> Option<std::time::Duration> {
    if v == "0" {
        return Some(std::time::Duration::ZERO);
    }
    let mut rest = v;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let int_len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (int_part, after) = rest.split_at(int_len);
        let (frac_part, after) = match after.strip_prefix('.') {
            Some(a) => {
                let n = a.find(|c: char| !c.is_ascii_digit()).unwrap_or(a.len());
                (Some(&a[..n]), &a[n..])
            }
            None => (None, after),
        };
        // Go wants a digit on at least one side of the point: `1.s` and `.5s` are fine, `.s` not.
        if int_part.is_empty() && frac_part.is_none_or(str::is_empty) {
            return None;
        }
        let number: f64 = format!(
            "{}.{}",
            if int_part.is_empty() { "0" } else { int_part },
            frac_part.filter(|f| !f.is_empty()).unwrap_or("0")
        )
        .parse()
        .ok()?;
        let (unit, scale) = [
            ("ns", 1e-9),
            ("us", 1e-6),
            ("\u{b5}s", 1e-6),
            ("\u{3bc}s", 1e-6),
            ("ms", 1e-3),
            ("s", 1.0),
            ("m", 60.0),
            ("h", 3600.0),
        ]
        .into_iter()
        .find(|(u, _)| after.starts_with(u))?;
        total += number * scale;
        rest = &after[unit.len()..];
    }
    if !total.is_finite() || total > super::convert::MAX_SECONDS as f64 {
        return None;
    }
    Some(std::time::Duration::from_secs_f64(total))
}
