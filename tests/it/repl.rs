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
        // The exit code is printed so tests can see that Ctrl-D or /quit ended herodo.
        let cmd = format!(
            "env XDG_DATA_HOME={home} NO_COLOR=1 TERM=xterm {BIN}; echo \"herodo exited: $?\"; sleep 30"
        );
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
        self.write(text);
        self.keys(&["Enter"]);
    }

    /// Send `text` to the terminal in one write, newlines included, as a paste without
    /// bracketed-paste mode, typeahead, tmux or expect do.
    fn write(&self, text: &str) {
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
    let s = t.wait_for("\n42\n", Duration::from_secs(15));
    assert!(
        s.contains("herodo> fn add(a, b) {\n...>   a + b\n...> }"),
        "{s}"
    );

    // Tab completes a registered function's name.
    t.keys(&["-l", "file_rea"]);
    t.keys(&["Tab"]);
    t.wait_for("herodo> file_read", Duration::from_secs(15));
    t.keys(&["C-u"]);

    // An error shows the entry with a caret, and the session goes on.
    t.line("let broken = no_such_var;");
    let s = t.wait_for("Variable not found: no_such_var", Duration::from_secs(15));
    assert!(s.contains("--> <repl>:1:14"), "{s}");
    assert!(
        s.contains("let broken = no_such_var;\n   |              ^"),
        "{s}"
    );

    // Ctrl-C stops a running command and returns to the prompt. The key goes once the command
    // runs (a busy machine may take a while to get there).
    let sleeper = format!("sleep 30.{}", std::process::id());
    t.line(&format!("run(\"{sleeper}\")"));
    let until = Instant::now() + Duration::from_secs(15);
    while !Command::new("pgrep")
        .args(["-f", &sleeper])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        assert!(Instant::now() < until, "{sleeper} never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let started = Instant::now();
    t.keys(&["C-c"]);
    t.wait_for("cancelled", Duration::from_secs(15));
    assert!(started.elapsed() < Duration::from_secs(4));
    t.line("add(1, 1)");
    t.wait_for("\n2\n", Duration::from_secs(15));

    // Ctrl-C at the prompt clears the line.
    t.keys(&["-l", "this is discarded"]);
    t.keys(&["C-c"]);
    t.line("\"after clear\"");
    t.wait_for("\nafter clear\n", Duration::from_secs(15));

    // Meta-commands, with a suggestion for a typo.
    t.line("/scop");
    t.wait_for("did you mean /scope?", Duration::from_secs(15));
    t.line("/quit");
    // The history is written by the time herodo has exited.
    t.wait_for("herodo exited: 0", Duration::from_secs(15));

    // History survives a restart; a multi-line entry comes back as one item.
    let again = Tmux::start("repl2", Some(&t.home)).unwrap();
    for _ in 0..9 {
        again.keys(&["Up"]);
    }
    again.wait_for("herodo> fn add(a, b) {", Duration::from_secs(15));
    again.keys(&["Enter"]);
    again.line("add(5, 5)");
    again.wait_count("10", 1, Duration::from_secs(15));
}

/// Issue 11: whole lines that arrive in one write used to run only when the next key came, and
/// the 2nd and later lines of a block were dropped.
#[test]
fn lines_sent_in_one_write_run_at_once_and_in_order() {
    let Some(t) = Tmux::start("replwrite", None) else {
        return;
    };
    let prompt = Duration::from_secs(15);

    // One line with its newline in a single write runs without waiting for another key.
    t.write("let q = 21;\n");
    t.write("q * 2\n");
    t.wait_for("herodo> q * 2\n42\n", prompt);

    // A block of lines in one write: every line runs, in order.
    t.write("let a1=1;\nlet a2=2;\nprint(a1+a2);\n");
    let s = t.wait_for("herodo> print(a1+a2);\n3\n", prompt);
    assert!(
        s.contains("herodo> let a1=1;\nherodo> let a2=2;\nherodo> print(a1+a2);\n3\n"),
        "{s}"
    );
    assert!(!s.contains("not found"), "{s}");

    // A multi-line entry and a call in one write.
    t.write("fn triple(x) {\n  x * 3\n}\ntriple(5)\n");
    let s = t.wait_for("herodo> triple(5)\n15\n", prompt);
    assert!(
        s.contains("herodo> fn triple(x) {\n...>   x * 3\n...> }\nherodo> triple(5)\n15\n"),
        "{s}"
    );

    // Output comes out in the order of the entries.
    t.write("print(\"one\");\nprint(\"two\");\nprint(\"three\");\n");
    let s = t.wait_for("three\n", prompt);
    let at = |w: &str| {
        s.rfind(&format!("\n{w}\n"))
            .unwrap_or_else(|| panic!("no {w}:\n{s}"))
    };
    assert!(at("one") < at("two") && at("two") < at("three"), "{s}");

    // Typed ahead while a command runs: runs when the command is done.
    t.write("sleep(1000);\n");
    std::thread::sleep(Duration::from_millis(300));
    t.write("\"typed ahead\"\n");
    t.wait_for("\ntyped ahead\n", prompt);

    // The last line of a write without its newline waits for Enter; the ones before it ran.
    t.write("\"first\"\n\"sec");
    t.wait_for("\nfirst\n", prompt);
    std::thread::sleep(Duration::from_millis(300));
    assert!(!t.screen().contains("\nsec\n"));
    t.write("ond\"\n");
    t.wait_for("\nsecond\n", prompt);
}

/// Ctrl-C stops the running entry and drops the lines typed or pasted after it, as a shell
/// does: the rest of a pasted block must not run once the user asked to stop.
#[test]
fn ctrl_c_drops_the_lines_queued_behind_the_running_entry() {
    let Some(t) = Tmux::start("replcancel", None) else {
        return;
    };
    t.write("run(\"sleep 5\")\nprint(\"queued \" + \"ran\");\n");
    std::thread::sleep(Duration::from_millis(800));
    t.keys(&["C-c"]);
    t.wait_for("cancelled", Duration::from_secs(15));
    std::thread::sleep(Duration::from_millis(500));
    t.write("\"next\"\n");
    let s = t.wait_for("\nnext\n", Duration::from_secs(15));
    assert!(!s.contains("queued ran"), "{s}");
}

/// Issue 11: Tab with several candidates lists them (as bash does) instead of cycling.
#[test]
fn tab_lists_candidates_and_ctrl_d_quits() {
    let Some(t) = Tmux::start("repltab", None) else {
        return;
    };
    // A unique prefix completes at once.
    t.write("file_rea");
    t.keys(&["Tab"]);
    t.wait_for("herodo> file_read", Duration::from_secs(15));
    t.keys(&["C-u"]);
    // Several candidates: the common part completes, a second Tab lists them all.
    t.write("file_wr");
    t.keys(&["Tab"]);
    t.wait_for("herodo> file_write", Duration::from_secs(15));
    t.keys(&["Tab"]);
    let s = t.wait_for("file_write_append", Duration::from_secs(15));
    let listing = s
        .lines()
        .find(|l| l.contains("file_write_append"))
        .unwrap_or_default();
    assert!(
        listing.split_whitespace().any(|w| w == "file_write"),
        "candidates are listed on one line:\n{s}"
    );
    // The line is still there to go on typing.
    t.write("(\"/dev/null\", \"x\")\n");
    t.wait_for(
        "herodo> file_write(\"/dev/null\", \"x\")\n",
        Duration::from_secs(15),
    );

    // Ctrl-D in the middle of a multi-line entry runs it as it is (the parser says what is
    // missing); Ctrl-D at an empty prompt leaves with exit code 0.
    t.write("let unfinished = [1,\n");
    // (tmux drops the trailing space of the prompt)
    t.wait_for("[1,\n...>", Duration::from_secs(15));
    t.keys(&["C-d"]);
    t.wait_for("error[syntax]", Duration::from_secs(15));
    t.write("\"still here\"\n");
    t.wait_for("\nstill here\n", Duration::from_secs(15));
    t.keys(&["C-d"]);
    t.wait_for("herodo exited: 0", Duration::from_secs(15));
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

/// Issue 11: `herodo fns exit` showed `-> core::result::Result<(),alloc::boxed::Box<...>>`.
#[test]
fn function_list_shows_script_types() {
    let t = TempDir::new("fnsnames");
    herodo(t.path(), ["fns", "exit"])
        .run()
        .ok()
        .stdout_has("exit()\n")
        .stdout_has("exit(code: int)\n")
        .stdout_lacks("Result")
        .stdout_lacks("::");
    herodo(t.path(), ["fns", "with_port"])
        .run()
        .ok()
        .stdout_has("with_port(container: Container, ")
        .stdout_lacks("::");
}

/// Issue 18.14: `help` and `exit` as Python and node users type them, Tab completing a
/// method of the value's type (`xs.pu` -> `push`), `/scope` listing a redefined name once, and
/// an incomplete entry run with Ctrl-D saying what it lacks.
#[test]
fn newcomer_keys_and_words() {
    let Some(t) = Tmux::start("replnew", None) else {
        return;
    };
    t.line("help");
    t.wait_for("/functions [FILTER]", Duration::from_secs(15));
    t.line("let xs = [1];");
    t.keys(&["-l", "xs.pu"]);
    t.keys(&["Tab"]);
    t.wait_for("herodo> xs.push", Duration::from_secs(15));
    t.line("(2)");
    t.line("xs.len()");
    t.wait_for("\n2\n", Duration::from_secs(15));
    t.line("let v = 1;");
    t.line("let v = 5;");
    t.line("/scope");
    let s = t.wait_for("\nlet v = 5\n", Duration::from_secs(15));
    assert!(!s.lines().any(|l| l.trim_end() == "let v = 1"), "{s}");
    t.line("print(\"open\"");
    t.wait_for("\n...>", Duration::from_secs(15));
    t.keys(&["C-d"]);
    t.wait_for(
        "incomplete entry: it still needs `)`",
        Duration::from_secs(15),
    );
    t.line("exit");
    t.wait_for("herodo exited: 0", Duration::from_secs(15));
}
