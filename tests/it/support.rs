//! A small fluent helper to run the built `herodo` and assert on what it did.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_herodo");

pub struct Herodo {
    cmd: Command,
    stdin: Option<Vec<u8>>,
    shown: String,
}

/// `herodo ARGS...`, run in `dir` with colours off.
pub fn herodo<I, S>(dir: &Path, args: I) -> Herodo
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = Command::new(BIN);
    let args: Vec<std::ffi::OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let shown = format!(
        "herodo {}",
        args.iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    cmd.args(&args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    Herodo {
        cmd,
        stdin: None,
        shown,
    }
}

impl Herodo {
    pub fn stdin(mut self, text: &str) -> Self {
        self.stdin = Some(text.as_bytes().to_vec());
        self.cmd.stdin(Stdio::piped());
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.cmd.env(k, v);
        self
    }

    pub fn run(mut self) -> Done {
        self.cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = self.cmd.spawn().expect("spawn herodo");
        if let Some(data) = self.stdin.take() {
            let mut pipe = child.stdin.take().unwrap();
            std::thread::spawn(move || {
                let _ = pipe.write_all(&data);
            });
        }
        let out = child.wait_with_output().expect("wait herodo");
        Done {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            shown: self.shown,
        }
    }
}

pub struct Done {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    shown: String,
}

impl Done {
    fn dump(&self) -> String {
        format!(
            "{}\n--- exit code {}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.shown, self.code, self.stdout, self.stderr
        )
    }

    pub fn code(self, expected: i32) -> Self {
        assert_eq!(self.code, expected, "wrong exit code\n{}", self.dump());
        self
    }

    pub fn ok(self) -> Self {
        self.code(0)
    }

    pub fn stdout_is(self, expected: &str) -> Self {
        assert_eq!(self.stdout, expected, "wrong stdout\n{}", self.dump());
        self
    }

    pub fn stdout_has(self, needle: &str) -> Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}\n{}",
            self.dump()
        );
        self
    }

    pub fn stdout_lacks(self, needle: &str) -> Self {
        assert!(
            !self.stdout.contains(needle),
            "stdout has {needle:?}\n{}",
            self.dump()
        );
        self
    }

    pub fn stderr_has(self, needle: &str) -> Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n{}",
            self.dump()
        );
        self
    }

    pub fn stderr_lacks(self, needle: &str) -> Self {
        assert!(
            !self.stderr.contains(needle),
            "stderr has {needle:?}\n{}",
            self.dump()
        );
        self
    }
}

/// A fresh directory for one test, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("herodo-it-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Write a file (creating parents) and return its path.
    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// True when CI asks for every real-tool test to run (HERODO_REQUIRE_TOOLS=1).
pub fn tools_required() -> bool {
    std::env::var("HERODO_REQUIRE_TOOLS").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// Held by tests that create real containers or builders: the engine suites assert that nothing
/// is left behind when they end, which another test's containers would break.
pub fn engine_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
