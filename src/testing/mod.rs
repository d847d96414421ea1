//! `herodo test`: discovers test files and `test_*` functions, runs them with fixtures,
//! timeouts and resource cleanup, and reports in several formats.
//!
//! A test file's top level is evaluated once, as a module: its imports and constants stay
//! available to every test function, and each test is called on its own with a fresh scope.
//! A file without `test_*` functions is one test: the whole script.

pub mod report;
pub mod runner;

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a test ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Passed,
    Failed,
    Skipped,
    TimedOut,
}

impl Status {
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Failed | Status::TimedOut)
    }
}

/// One test's result.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TestResult {
    /// The test file, relative to the directory herodo started in.
    pub file: String,
    /// The test function, or the file name for a whole-script test, or a fixture name
    /// (`setup_file`, `teardown_file`) when a file-level fixture failed.
    pub name: String,
    pub status: Status,
    #[serde(with = "secs")]
    pub duration: Duration,
    /// The rendered error of a failure, or the reason of a skip.
    pub message: String,
    /// Resources the test left behind that were cleaned up (or kept with --keep).
    pub resources: Vec<String>,
}

impl TestResult {
    pub fn full_name(&self) -> String {
        format!("{}::{}", self.file, self.name)
    }
}

mod secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        Ok(Duration::from_secs_f64(v.max(0.0)))
    }
}

/// Counts for the closing line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Summary {
    pub fn add(&mut self, status: Status) {
        match status {
            Status::Passed => self.passed += 1,
            Status::Skipped => self.skipped += 1,
            Status::Failed | Status::TimedOut => self.failed += 1,
        }
    }

    /// `12 passed, 1 failed, 3 skipped`
    pub fn line(&self) -> String {
        format!(
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        )
    }
}
