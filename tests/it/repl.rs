//! The REPL end to end, through a real pseudo-terminal (tmux): a multi-line function, calling
//! it, completing a name, an error with a caret, Ctrl-C cancelling a running command, history
//! recalled after a restart, and a pipe running as a script.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{herodo, tools_required, TempDir, BIN};

struct Tmux {
    session: String,
    _home: TempDir,
    home: String,
}

impl Tmux {
    /// Start herodo's REPL in a detached tmux session with its own history directory.
    fn start(tag: &str, home: Option<&str>) -> Option<Tmux> {
        let ok = Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            assert!(
                !tools_required(),
                "tmux is required (HERODO_REQUIRE_TOOLS=1)"
            );
            eprintln!("skipping: tmux is not installed");
            return None;
        }
        let dir = TempDir::new(tag);
        let home = home
            .map(String::from)
            .unwrap_or_else(|| dir.path().display().to_string());
        let session = format!("herodo-{tag}-{}", std::process::id());
        let cmd = format!("env XDG_DATA_HOME={home} NO_COLOR=1 TERM=xterm {BIN}; sleep 30");
        let st = Command::new("tmux")
            .args([
                "new-session",
                "-d",
                "-s",
                &session,
                "-x",
                "160",
                "-y",
                "50",
                &cmd,
            ])
            .status()
            .expect("start tmux");
        assert!(st.success());
        let t = Tmux {
            session,
            _home: dir,
            home,
        };
        t.wait_for("herodo>", Duration::from_secs(10));
        Some(t)
    }

    fn keys(&self, keys: &[&str]) {
        let st = Command::new("tmux")
            .args(["send-keys", "-t", &self.session])
            .args(keys)
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// Type text literally, then press Enter.
    fn line(&self, text: &str) {
        // tmux reads a trailing `;` as its own command separator unless escaped.
        let text = match text.strip_suffix(';') {
            Some(t) => format!("{t}\\;"),
            None => text.to_string(),
        };
        let st = Command::new("tmux")
            .args(["send-keys", "-t", &self.session, "-l", &text])
            .status()
            .unwrap();
        assert!(st.success());
        self.keys(&["Enter"]);
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-t", &self.session, "-p", "-S", "-200"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        let until = Instant::now() + timeout;
        loop {
            let s = self.screen();
            if s.contains(needle) {
                return s;
            }
            if Instant::now() > until {
                panic!("screen never showed {needle:?}:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait until the screen shows `needle` `n` times.
    fn wait_count(&self, needle: &str, n: usize, timeout: Duration) -> String {
        let until = Instant::now() + timeout;
        loop {
            let s = self.screen();
            if s.matches(needle).count() >= n {
                return s;
            }
            if Instant::now() > until {
                panic!("screen never showed {needle:?} {n} times:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .status();
    }
}

#[test]
fn interactive_session_end_to_end() {
    let Some(t) = Tmux::start("repl", None) else {
        return;
    };

    // A multi-line function continues while its brace is open, then it is callable.
    t.line("fn add(a, b) {");
    t.line("  a + b");
    t.line("}");
    t.line("add(40, 2)");
    let s = t.wait_for("\n42\n", Duration::from_secs(5));
    assert!(s.contains("herodo> fn add(a, b) {\n  a + b\n}"), "{s}");

    // Tab completes a registered function's name.
    t.keys(&["-l", "file_rea"]);
    t.keys(&["Tab"]);
    t.wait_for("herodo> file_read", Duration::from_secs(5));
    t.keys(&["C-u"]);

    // An error shows the entry with a caret, and the session goes on.
    t.line("let broken = no_such_var;");
    let s = t.wait_for("Variable not found: no_such_var", Duration::from_secs(5));
    assert!(s.contains("--> <repl>:1:14"), "{s}");
    assert!(
        s.contains("let broken = no_such_var;\n   |              ^"),
        "{s}"
    );

    // Ctrl-C stops a running command and returns to the prompt.
    t.line("run(\"sleep 30\")");
    std::thread::sleep(Duration::from_millis(700));
    let started = Instant::now();
    t.keys(&["C-c"]);
    t.wait_for("cancelled", Duration::from_secs(5));
    assert!(started.elapsed() < Duration::from_secs(4));
    t.line("add(1, 1)");
    t.wait_for("\n2\n", Duration::from_secs(5));

    // Ctrl-C at the prompt clears the line.
    t.keys(&["-l", "this is discarded"]);
    t.keys(&["C-c"]);
    t.line("\"after clear\"");
    t.wait_for("\nafter clear\n", Duration::from_secs(5));

    // Meta-commands, with a suggestion for a typo.
    t.line("/scop");
    t.wait_for("did you mean /scope?", Duration::from_secs(5));
    t.line("/quit");
    std::thread::sleep(Duration::from_millis(300));

    // History survives a restart; a multi-line entry comes back as one item.
    let again = Tmux::start("repl2", Some(&t.home)).unwrap();
    for _ in 0..9 {
        again.keys(&["Up"]);
    }
    again.wait_for("herodo> fn add(a, b) {", Duration::from_secs(5));
    again.keys(&["Enter"]);
    again.line("add(5, 5)");
    again.wait_count("10", 1, Duration::from_secs(5));
}

#[test]
fn piped_input_runs_as_a_script_without_prompt() {
    let t = TempDir::new("replpipe");
    herodo(t.path(), Vec::<&str>::new())
        .stdin("let x = 20;\nfn twice(v) { v * 2 }\nprint(twice(x) + 2);\n")
        .run()
        .ok()
        .stdout_is("42\n")
        .stderr_lacks("herodo>");
    herodo(t.path(), ["repl", "--help"])
        .run()
        .ok()
        .stdout_has("interactive shell");
}
