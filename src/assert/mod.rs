//! Assertions and test control, a domain of their own: ordinary scripts use `assert_eq` and
//! `require_tool` as much as test files do, so they sit below the engine with the other
//! domains, and the test runner (above the engine) only counts what they raise.
//!
//! This file is the plain part (how a failure is worded); `bindings.rs` registers `assert`,
//! `assert_eq`, `assert_ne`, `assert_true`, `assert_false`, `assert_contains`, `assert_match`,
//! `assert_throws`, `skip` and `require_tool`.

pub mod bindings;

/// How many characters of a value a failure message shows.
const SHOWN_CHARS: usize = 2000;

/// `MESSAGE: BASE`, or `BASE` alone without a message.
pub fn with_msg(base: String, msg: &str) -> String {
    if msg.is_empty() {
        base
    } else {
        format!("{msg}: {base}")
    }
}

/// A value's text cut after [`SHOWN_CHARS`] characters, saying how long it was.
pub fn shorten(s: String) -> String {
    match s.char_indices().nth(SHOWN_CHARS) {
        Some((i, _)) => format!("{}... ({} chars)", &s[..i], s.len()),
        None => s,
    }
}

/// The index (in characters) of the first difference between two strings, `None` when they
/// are equal.
pub fn first_difference(a: &str, b: &str) -> Option<usize> {
    a.chars()
        .zip(b.chars())
        .position(|(p, q)| p != q)
        .or_else(|| {
            let (x, y) = (a.chars().count(), b.chars().count());
            (x != y).then(|| x.min(y))
        })
}

/// True when missing tools must fail instead of skip (CI: `HERODO_REQUIRE_TOOLS=1`).
pub fn tools_required() -> bool {
    std::env::var("HERODO_REQUIRE_TOOLS").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_differences() {
        assert_eq!(with_msg("x failed".into(), ""), "x failed");
        assert_eq!(with_msg("x failed".into(), "size"), "size: x failed");
        assert_eq!(first_difference("abc", "abc"), None);
        assert_eq!(first_difference("abc", "abd"), Some(2));
        assert_eq!(first_difference("ab", "abc"), Some(2));
        assert_eq!(first_difference("été", "éta"), Some(2));
        assert_eq!(shorten("short".into()), "short");
        let long = shorten("x".repeat(2500));
        assert!(long.ends_with("... (2500 chars)"), "{long}");
        assert_eq!(long.len(), 2000 + "... (2500 chars)".len());
    }
}
