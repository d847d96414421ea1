//! Validation shared by every domain. Each check returns the one shared invalid-argument error.

use crate::error::HostError;

/// An environment variable name: a letter or `_`, then letters, digits or `_` (POSIX's portable
/// names; what a shell can export).
pub fn env_name(field: &str, k: &str) -> Result<(), HostError> {
    let ok = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(HostError::invalid(
            field,
            format!("`{k}` is not a valid environment variable name (a letter or `_`, then letters, digits, `_`)"),
        ))
    }
}

/// Container, network and volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, at most 128 characters.
pub fn name(field: &str, v: &str) -> Result<(), HostError> {
    let ok_first = v.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    let ok_rest = v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if v.is_empty() || !ok_first || !ok_rest || v.len() > 128 {
        return Err(HostError::invalid(field, format!("`{v}` must start with a letter or digit and contain only letters, digits, `_`, `.` and `-`")));
    }
    Ok(())
}

/// An image reference: `[registry[:port]/]path[:tag][@digest]`, lowercase path components.
pub fn image(field: &str, v: &str) -> Result<(), HostError> {
    if v.is_empty() || v.len() > 512 || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(HostError::invalid(
            field,
            format!("`{v}` is not an image reference"),
        ));
    }
    if v.starts_with('-') {
        return Err(HostError::invalid(
            field,
            format!("`{v}` must not start with `-`"),
        ));
    }
    let (rest, digest) = match v.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (v, None),
    };
    if let Some(d) = digest {
        let ok = d.split_once(':').is_some_and(|(alg, hex)| {
            !alg.is_empty() && hex.len() >= 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
        });
        if !ok {
            return Err(HostError::invalid(
                field,
                format!("`{v}` has a malformed digest"),
            ));
        }
    }
    let mut parts: Vec<&str> = rest.split('/').collect();
    let last = parts.pop().unwrap_or_default();
    let (repo_last, tag) = match last.rsplit_once(':') {
        Some((r, t)) => (r, Some(t)),
        None => (last, None),
    };
    if let Some(t) = tag {
        let ok = !t.is_empty()
            && t.len() <= 128
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
            && !t.starts_with(['.', '-']);
        if !ok {
            return Err(HostError::invalid(
                field,
                format!("`{v}` has an invalid tag `{t}`"),
            ));
        }
    }
    // The first part may be a registry host (with a port, dots or uppercase).
    let registry = parts
        .first()
        .filter(|p| p.contains(['.', ':']) || **p == "localhost")
        .copied();
    let start = usize::from(registry.is_some());
    for comp in parts[start..].iter().chain(std::iter::once(&repo_last)) {
        let ok = !comp.is_empty()
            && comp.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-')
            })
            && comp.starts_with(|c: char| c.is_ascii_alphanumeric());
        if !ok {
            return Err(HostError::invalid(field, format!("`{v}` has an invalid path component `{comp}` (lowercase letters, digits, `_`, `.`, `-`)")));
        }
    }
    if let Some(r) = registry {
        let ok = r
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
        if !ok {
            return Err(HostError::invalid(
                field,
                format!("`{v}` has an invalid registry `{r}`"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names() {
        for good in ["A", "_x", "PATH_2"] {
            assert!(env_name("env", good).is_ok(), "{good}");
        }
        for bad in ["", "A=B", "1A", "a b", "A\0", "é"] {
            assert!(env_name("env", bad).is_err(), "{bad:?}");
        }
    }
}
