//! Small utilities every script wants: sleeping, time, JSON, exiting with a code.

pub mod bindings;

use crate::error::{kind, Classify, ErrorInfo};

#[derive(Debug, thiserror::Error)]
#[error("invalid JSON at line {line}, column {column}: {reason} (near `{snippet}`)")]
pub struct JsonError {
    pub line: usize,
    pub column: usize,
    pub reason: String,
    pub snippet: String,
}

impl Classify for JsonError {
    fn info(&self) -> ErrorInfo {
        ErrorInfo::new(kind::PARSE, self.to_string())
            .field("line", self.line.to_string())
            .field("column", self.column.to_string())
    }
}

/// Parse JSON text, keeping a snippet around the bad spot on failure.
/// The directory of the script named `source` (an absolute path when it is a file; `<eval>`,
/// `<stdin>` or nothing otherwise, and then the working directory).
pub fn script_dir(source: Option<&str>) -> String {
    let dir = source
        .map(std::path::Path::new)
        .filter(|p| p.is_absolute())
        .and_then(std::path::Path::parent)
        .map(std::path::Path::to_path_buf)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_default();
    dir.display().to_string()
}

pub fn parse_json(text: &str) -> Result<serde_json::Value, JsonError> {
    serde_json::from_str(text).map_err(|e| {
        let line_text = text.lines().nth(e.line().saturating_sub(1)).unwrap_or("");
        let col = e.column().saturating_sub(1);
        let chars: Vec<char> = line_text.chars().collect();
        let from = col.saturating_sub(20).min(chars.len());
        let to = (col + 20).min(chars.len());
        let reason = e.to_string();
        let reason = reason
            .split(" at line ")
            .next()
            .unwrap_or(&reason)
            .to_string();
        JsonError {
            line: e.line(),
            column: e.column(),
            reason,
            snippet: chars[from..to].iter().collect(),
        }
    })
}

pub use crate::common::time::{timestamp, timestamp_ms};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_point_at_the_spot() {
        let err = parse_json("{\"a\": 1,\n \"b\": tru }").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.snippet.contains("tru"), "{err}");
        assert!(parse_json("[1, 2]").unwrap().is_array());
    }

    #[test]
    fn timestamps_agree() {
        let s = timestamp();
        let ms = timestamp_ms();
        assert!((ms / 1000 - s).abs() <= 1);
    }
}
