//! How a run ends: process exit codes, and the requests that end a script early (`exit(n)`,
//! `skip(reason)`, Ctrl-C, `--max-time`). Imported by the bindings that raise them, the error
//! renderer, the test runner and the action dispatcher, so none of those imports another.

use rhai::{Dynamic, EvalAltResult, Map};

/// Process exit codes.
pub mod code {
    pub const OK: i32 = 0;
    pub const SCRIPT_ERROR: i32 = 1;
    pub const USAGE: i32 = 2;
    /// `herodo test` ran no test: `--filter` matched none (pytest's 5).
    pub const NO_TESTS: i32 = 5;
    pub const CANCELLED: i32 = 130;
}

/// The value `exit(code)` terminates a script with; the runner turns it into the exit code.
#[derive(Clone, Debug)]
pub struct ExitRequest(pub i32);

/// The value `skip(reason)` terminates a test with.
#[derive(Clone, Debug)]
pub struct SkipRequest(pub String);

/// The token `on_progress` stops a script with when Ctrl-C was pressed.
pub const CANCELLED_TOKEN: &str = "cancelled";
/// The token `on_progress` stops a script with when `--max-time` ran out.
pub const TIME_LIMIT_TOKEN: &str = "time limit exceeded";

/// What a run ended with, from the point of view of the process exit code.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `exit(code)` was called.
    Exit(i32),
    /// Ctrl-C stopped the script.
    Cancelled,
    /// `skip(reason)` was called.
    Skipped(String),
    /// Any other error.
    Error,
}

/// Classify an error for the exit code.
pub fn outcome(err: &EvalAltResult) -> Outcome {
    match err.unwrap_inner() {
        EvalAltResult::ErrorTerminated(v, _) => {
            if let Some(ExitRequest(code)) = v.clone().try_cast::<ExitRequest>() {
                Outcome::Exit(code)
            } else if let Some(SkipRequest(reason)) = v.clone().try_cast::<SkipRequest>() {
                Outcome::Skipped(reason)
            } else if v.clone().into_string().ok().as_deref() == Some(CANCELLED_TOKEN) {
                Outcome::Cancelled
            } else {
                Outcome::Error
            }
        }
        EvalAltResult::ErrorRuntime(v, _) if kind_of(v).as_deref() == Some("cancelled") => {
            Outcome::Cancelled
        }
        // Rhai's own `exit(value)`, should a script reach it: only an integer 0-255 is a code.
        EvalAltResult::Exit(v, _) => match v.as_int().ok().map(u8::try_from) {
            Some(Ok(code)) => Outcome::Exit(i32::from(code)),
            _ => Outcome::Error,
        },
        _ => Outcome::Error,
    }
}

fn kind_of(v: &Dynamic) -> Option<String> {
    v.read_lock::<Map>()
        .and_then(|m| m.get("kind").map(|k| k.to_string()))
}
