//! The terminal side of the REPL: rustyline with history, completion, signature hints and
//! multi-line entries; everything else is the [`Session`].
//!
//! Multi-line entries are read line by line (see [`Pending`]) rather than with rustyline's
//! validator, because rustyline draws no prompt in front of continuation lines.

use std::borrow::Cow;
use std::cell::RefCell;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{CompletionType, Config, Context, EditMode, Editor, Helper};

use super::{Pending, Reply, Session};
use crate::diagnostics::Style;
use crate::engine::Limits;
use crate::host::Host;

struct ReplHelper {
    session: Rc<RefCell<Session>>,
    color: bool,
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let trimmed = before.trim_start();
        let start = if trimmed.starts_with('/') && !trimmed.contains(' ') {
            before.len() - trimmed.len()
        } else {
            before
                .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
                .map_or(0, |i| i + 1)
        };
        let prefix = &before[start..];
        let names = self
            .session
            .borrow()
            .completions(before, prefix.trim_start_matches('/'));
        let names = if prefix.starts_with('/') {
            names
        } else {
            names.into_iter().filter(|n| !n.starts_with('/')).collect()
        };
        Ok((
            start,
            names
                .into_iter()
                .map(|n| Pair {
                    display: n.clone(),
                    replacement: n,
                })
                .collect(),
        ))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> Option<String> {
        if pos < line.len() {
            return None;
        }
        self.session
            .borrow()
            .signature_hint(line)
            .map(|sig| format!("    {sig}"))
    }
}

impl Highlighter for ReplHelper {
    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(
        &'s self,
        prompt: &'p str,
        _default: bool,
    ) -> Cow<'b, str> {
        if self.color {
            Cow::Owned(format!("\x1b[1;32m{prompt}\x1b[0m"))
        } else {
            Cow::Borrowed(prompt)
        }
    }

    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if self.color {
            Cow::Owned(format!("\x1b[2m{hint}\x1b[0m"))
        } else {
            Cow::Borrowed(hint)
        }
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        false
    }
}

// Enter always ends the line: [`Pending`] decides whether the entry goes on.
impl Validator for ReplHelper {}

impl Helper for ReplHelper {}

/// Where the history of every session is kept.
fn history_path() -> Option<PathBuf> {
    let dir = dirs::data_dir()?.join("herodo");
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir.join("history.txt"))
}

/// The line editor's settings: Emacs keys, Tab lists the candidates when there are several
/// (as bash does) instead of cycling through them, history without duplicates.
fn editor_config() -> rustyline::Result<Config> {
    Ok(Config::builder()
        .auto_add_history(false)
        .history_ignore_dups(true)?
        .max_history_size(10_000)?
        .edit_mode(EditMode::Emacs)
        .completion_type(CompletionType::List)
        .build())
}

type LineEditor = Editor<ReplHelper, DefaultHistory>;

fn new_editor(
    config: Config,
    history: DefaultHistory,
    session: &Rc<RefCell<Session>>,
    color: bool,
) -> rustyline::Result<LineEditor> {
    let mut editor = Editor::with_history(config, history)?;
    editor.set_helper(Some(ReplHelper {
        session: session.clone(),
        color,
    }));
    Ok(editor)
}

/// Run the interactive shell until /quit or Ctrl-D; returns the exit code.
pub fn run_interactive(host: Arc<Host>, limits: &Limits) -> i32 {
    let color = crate::diagnostics::use_color(std::io::stdout().is_terminal());
    let session = Rc::new(RefCell::new(Session::new(
        host,
        limits,
        Style::for_stderr(),
    )));
    let config = match editor_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("herodo: cannot configure the line editor: {e}");
            return 1;
        }
    };
    let mut editor = match new_editor(
        config.clone(),
        DefaultHistory::with_config(&config),
        &session,
        color,
    ) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("herodo: cannot start the line editor: {e}");
            return 1;
        }
    };
    let history = history_path();
    if let Some(h) = &history {
        if h.exists() {
            let _ = editor.load_history(h);
        }
    }
    println!(
        "herodo {} (Rhai). /help for help, Tab completes, Ctrl-D quits.",
        env!("CARGO_PKG_VERSION")
    );
    let mut pending = Pending::default();
    loop {
        let entry = match editor.readline(pending.prompt()) {
            Ok(line) => match pending.push(&line) {
                Some(entry) => entry,
                None => continue,
            },
            // Ctrl-C at the prompt drops the entry typed so far.
            Err(ReadlineError::Interrupted) => {
                pending.clear();
                continue;
            }
            // Ctrl-D: on a continuation line, run the entry as it is (the parser says what is
            // missing); at an empty prompt, leave.
            Err(ReadlineError::Eof) => match pending.take() {
                Some(entry) => entry,
                None => break,
            },
            Err(e) => {
                eprintln!("herodo: {e}");
                return 1;
            }
        };
        let entry = entry.trim_end();
        if !entry.is_empty() {
            let _ = editor.add_history_entry(entry);
            if let Some(h) = &history {
                let _ = editor.save_history(h);
            }
        }
        let reply = session.borrow_mut().handle(entry);
        // The next prompt redraws its line: output must end with a newline.
        let nl = |s: &str| if s.ends_with('\n') { "" } else { "\n" };
        match reply {
            Reply::Output(s) => {
                print!("{s}{}", nl(&s));
                let _ = std::io::stdout().flush();
            }
            Reply::Error(s) => eprint!("{s}{}", nl(&s)),
            Reply::Cancelled => {
                eprintln!("cancelled");
                // The terminal discarded its unread input on Ctrl-C, but rustyline may have
                // read lines of a paste ahead already: only a new editor forgets them.
                let history = std::mem::take(editor.history_mut());
                match new_editor(config.clone(), history, &session, color) {
                    Ok(e) => editor = e,
                    Err(e) => {
                        eprintln!("herodo: cannot restart the line editor: {e}");
                        return 1;
                    }
                }
            }
            Reply::Nothing => {}
            Reply::Quit => break,
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tab_lists_candidates_instead_of_cycling() {
        let config = editor_config().unwrap();
        assert_eq!(config.completion_type(), CompletionType::List);
        assert_eq!(config.edit_mode(), EditMode::Emacs);
        assert!(!config.auto_add_history());
    }
}
