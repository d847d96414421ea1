//! A small fluent helper to run the built `herodo` and assert on what it did.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

    pub fn envs<K: AsRef<str>, V: AsRef<str>>(mut self, vars: &[(K, V)]) -> Self {
        for (k, v) in vars {
            self.cmd.env(k.as_ref(), v.as_ref());
        }
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

/// The summary line of a `herodo test` run: `N passed, N failed, N skipped`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Summary {
    /// Parse the last line of `herodo test`'s pretty output.
    pub fn parse(stdout: &str) -> Option<Summary> {
        let last = stdout.lines().last()?;
        let mut n = [None; 3];
        for part in last.split(", ") {
            let mut w = part.split_whitespace();
            let (Some(count), Some(word)) = (w.next(), w.next()) else {
                continue;
            };
            let i = match word {
                "passed" => 0,
                "failed" => 1,
                "skipped" => 2,
                _ => continue,
            };
            n[i] = count.parse().ok();
        }
        Some(Summary {
            passed: n[0]?,
            failed: n[1]?,
            skipped: n[2]?,
        })
    }
}

impl Herodo {
    /// Run a `herodo test` command, echo what it printed, and assert it ran at least one test,
    /// none failed and at most `max_skipped` skipped. Returns the finished run.
    pub fn suite(self, max_skipped: usize) -> Done {
        let out = self.run();
        print!("{}", out.stdout);
        eprint!("{}", out.stderr);
        let out = out.ok();
        let summary = Summary::parse(&out.stdout)
            .unwrap_or_else(|| panic!("no test summary at the end\n{}", out.dump()));
        assert!(
            summary.failed == 0 && summary.passed > 0 && summary.skipped <= max_skipped,
            "{summary:?} (at most {max_skipped} may skip)\n{}",
            out.dump()
        );
        out
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

/// The repository (the tests run herodo from here).
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Whether `tool` is on PATH (or in /usr/sbin, where ip and iptables live).
pub fn have(tool: &str) -> bool {
    let in_path = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()));
    in_path || Path::new("/usr/sbin").join(tool).is_file()
}

/// True when every tool is there; else a printed skip (false) or, under
/// HERODO_REQUIRE_TOOLS=1, a failure.
pub fn require(tools: &[&str]) -> bool {
    let missing: Vec<&&str> = tools.iter().filter(|t| !have(t)).collect();
    if missing.is_empty() {
        return true;
    }
    if tools_required() {
        panic!("required tools missing: {missing:?} (run scripts/setup.sh)");
    }
    eprintln!("skipping: {missing:?} not installed (run scripts/setup.sh)");
    false
}

/// Poll `ok` every 100 ms until it holds, or fail naming `what`.
pub fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let until = Instant::now() + timeout;
    while Instant::now() < until {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not come up within {timeout:?}");
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A background daemon a test started, stopped (TERM, then KILL) when dropped.
pub struct Daemon {
    pub child: Child,
    /// Its files (config, data, log), removed with it.
    pub _dir: TempDir,
    pub name: &'static str,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("{} did not stop on SIGTERM; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// docker-registry on 127.0.0.1:<free port>; returns it and its address.
pub fn start_registry() -> (Daemon, String) {
    let dir = TempDir::new("registry");
    let port = free_port();
    let conf = dir.write(
        "config.yml",
        &format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}/data\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().display()
        ),
    );
    let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
    let child = Command::new("docker-registry")
        .args(["serve", &conf.display().to_string()])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start docker-registry");
    let addr = format!("127.0.0.1:{port}");
    wait_until("docker-registry", Duration::from_secs(20), || {
        std::net::TcpStream::connect(&addr).is_ok()
    });
    let daemon = Daemon {
        child,
        _dir: dir,
        name: "docker-registry",
    };
    (daemon, addr)
}

/// Make sure the offline test image exists (in podman's store, and in dockerd's when given).
pub fn test_image(docker_host: Option<&str>) {
    let mut cmd = Command::new(root().join("scripts/test-image.sh"));
    if let Some(h) = docker_host {
        cmd.env("DOCKER_HOST", h);
    }
    let out = cmd.output().expect("run scripts/test-image.sh");
    assert!(
        out.status.success(),
        "test-image.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Remove a heropods test bridge and the iptables rules herodo made for it (its NAT and
/// forwarding rules, the loopback guard a published port adds): a test's own bridge must not
/// outlive it. Missing pieces are fine.
pub fn remove_test_bridge(bridge: &str, subnet: &str) {
    let quiet = |args: &[&str]| {
        let _ = Command::new(args[0])
            .args(&args[1..])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    };
    quiet(&["ip", "link", "del", bridge]);
    let guard = herodo::heropods::ports::bridge_guard(bridge);
    let mut args = vec!["iptables", "-w", "-t", &guard.table, "-D", &guard.chain];
    args.extend(guard.args.iter().map(String::as_str));
    quiet(&args);
    if let Ok(cfg) = herodo::heropods::network::NetConfig::parse(bridge, subnet) {
        for (table, chain, rule) in herodo::heropods::network::iptables_rules(&cfg) {
            let mut args = vec!["iptables", "-w", "-t", table, "-D", chain];
            args.extend(rule.iter().map(String::as_str));
            quiet(&args);
        }
    }
}

/// Where cargo keeps the original herodo's crate `name-version.crate` (`cargo info
/// name@version` puts it there; tried once when it is missing). None when it cannot be had.
pub fn original_crate(name: &str, version: &str) -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))?;
    let find = || -> Option<PathBuf> {
        std::fs::read_dir(home.join("registry/cache"))
            .ok()?
            .flatten()
            .map(|d| d.path().join(format!("{name}-{version}.crate")))
            .find(|p| p.is_file())
    };
    if let Some(p) = find() {
        return Some(p);
    }
    let _ = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["info", &format!("{name}@{version}")])
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    find()
}

/// The original's crate `name-version` unpacked into `dir` (as `dir/name-version/`); false,
/// with a printed reason, when the crate cannot be had on a developer's machine (a failure
/// under HERODO_REQUIRE_TOOLS=1).
pub fn unpack_original(name: &str, version: &str, dir: &Path) -> bool {
    let Some(krate) = original_crate(name, version) else {
        assert!(
            !tools_required(),
            "{name} {version} is not in cargo's cache (cargo info {name}@{version})"
        );
        println!(
            "skipped: {name} {version} is not in cargo's cache and cargo info could not fetch it"
        );
        return false;
    };
    let st = Command::new("tar")
        .arg("xzf")
        .arg(&krate)
        .arg("-C")
        .arg(dir)
        .status()
        .expect("run tar");
    assert!(st.success(), "cannot unpack {}", krate.display());
    true
}
