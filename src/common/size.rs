//! Sizes written as text, as container engines and buildah print them.

/// A size as the engines print it, in bytes: `651.3kB` and `1.823MB` (podman, docker's network
/// and block I/O: powers of 1000), `1.832MiB` and `23.54GiB` (docker's memory: powers of 1024),
/// `648B`, `0B`. `--` or empty -> 0.
pub fn bytes(v: &str) -> Result<i64, String> {
    let t = v.trim();
    if t.is_empty() || t == "--" {
        return Ok(0);
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("`{v}` is not a size"))?;
    let unit = unit.trim();
    let power = match unit.chars().next().map(|c| c.to_ascii_lowercase()) {
        None | Some('b') => 0,
        Some('k') => 1,
        Some('m') => 2,
        Some('g') => 3,
        Some('t') => 4,
        Some('p') => 5,
        _ => return Err(format!("`{v}` has an unknown unit `{unit}`")),
    };
    let rest = &unit[unit.len().min(1)..];
    let base: f64 = match rest.to_ascii_lowercase().as_str() {
        "ib" => 1024.0,
        "b" | "" => 1000.0,
        _ => return Err(format!("`{v}` has an unknown unit `{unit}`")),
    };
    let total = n * base.powi(power);
    if !total.is_finite() || total > i64::MAX as f64 {
        return Err(format!("`{v}` is too large"));
    }
    Ok(total.round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_with_a_space_before_the_unit() {
        assert_eq!(bytes("2.13 MB"), Ok(2_130_000));
        assert_eq!(bytes("2.0 MiB"), Ok(2 * 1024 * 1024));
    }
}
