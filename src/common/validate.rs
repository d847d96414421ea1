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
