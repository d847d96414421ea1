//! `run(cmd, #{interactive: true})` gives the child the terminal: it can prompt and read what
//! the user types (driven through tmux, as a person would).

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{TempDir, BIN};

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux").args(args).output().expect("tmux");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn interactive_commands_can_prompt() {
    if Command::new("tmux").arg("-V").output().is_err() {
        assert!(
            !crate::support::tools_required(),
            "tmux is required (run scripts/setup.sh)"
        );
        eprintln!("skipping: tmux not installed");
        return;
    }
    let t = TempDir::new("interactive");
    let script = t.write(
        "ask.rhai",
        "let r = run(\"printf 'name? '; read n; echo \\\"hello $n\\\" > answer\", #{interactive: true});\nprint(`done code=${r.code}`);\n",
    );
    let session = format!("herodo-int-{}", std::process::id());
    tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "120",
        "-y",
        "20",
        "-c",
        &t.path().display().to_string(),
        &format!("{BIN} {}; sleep 30", script.display()),
    ]);
    let screen = |s: &str| tmux(&["capture-pane", "-p", "-t", s]);
    let until = Instant::now() + Duration::from_secs(15);
    while !screen(&session).contains("name?") {
        assert!(Instant::now() < until, "no prompt: {}", screen(&session));
        std::thread::sleep(Duration::from_millis(50));
    }
    tmux(&["send-keys", "-t", &session, "-l", "world\n"]);
    while !screen(&session).contains("done code=0") {
        if Instant::now() > until {
            let shown = screen(&session);
            tmux(&["kill-session", "-t", &session]);
            panic!("the command did not finish: {shown}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    tmux(&["kill-session", "-t", &session]);
    let answer = std::fs::read_to_string(t.path().join("answer")).unwrap();
    assert_eq!(answer, "hello world\n");
}
