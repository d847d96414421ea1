//! Renders an uncaught error once, the same way everywhere (scripts, `check`, the test runner):
//!
//! ```text
//! error[command_failed]: command failed with exit code 2: ls /nope
//!   --> deploy.rhai:3:9
//!    |
//!  3 | let r = run("ls /nope");
//!    |         ^
//!    = in function `deploy`, called at deploy.rhai:10:1
//!    = command: sh -c 'ls /nope'
//!    = stderr:
//!      ls: cannot access '/nope': No such file or directory
//! ```

use rhai::{Dynamic, Engine, EvalAltResult, Map, Position};

use crate::host::Host;
pub use crate::outcome::{outcome, Outcome};
use crate::outcome::{CANCELLED_TOKEN, TIME_LIMIT_TOKEN};

/// Source name of generated one-line scripts (the test runner's calls of a test): the call
/// chain leaves them out, since they are not the user's code.
pub const HIDDEN_SOURCE: &str = "<herodo test>";

/// How many lines of a failed command's stderr to show.
const STDERR_LINES: usize = 12;

/// Colours, off unless stderr is a terminal and NO_COLOR is unset.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub color: bool,
}

/// `--color`: when herodo colours its own output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless NO_COLOR is set (CLICOLOR_FORCE forces it)
    #[default]
    Auto,
    /// Always, also into a pipe or file
    Always,
    /// Never
    Never,
}

static COLOR_CHOICE: std::sync::OnceLock<ColorChoice> = std::sync::OnceLock::new();

/// Set once from the command line, before anything is printed.
pub fn set_color_choice(c: ColorChoice) {
    let _ = COLOR_CHOICE.set(c);
}

/// Whether to colour output going to a stream that `is_terminal` or not: `--color always|never`,
/// else CLICOLOR_FORCE (set, not `0`) forces it on, NO_COLOR turns it off, else a terminal gets it.
pub fn use_color(is_terminal: bool) -> bool {
    match COLOR_CHOICE.get().copied().unwrap_or_default() {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            let forced =
                std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0");
            forced || (std::env::var_os("NO_COLOR").is_none() && is_terminal)
        }
    }
}

impl Style {
    pub fn for_stderr() -> Self {
        use std::io::IsTerminal;
        Style {
            color: use_color(std::io::stderr().is_terminal()),
        }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

struct Frame {
    what: String,
    file: String,
    pos: Position,
}

/// Render `err`, raised while running (or compiling) the script named `file`.
/// `engine`, when given, is used to suggest the signatures of a function called wrongly.
pub fn render(
    host: &Host,
    err: &EvalAltResult,
    file: &str,
    engine: Option<&Engine>,
    style: Style,
) -> String {
    // Walk the wrapper chain: function calls and imports, outermost first.
    let mut frames: Vec<Frame> = Vec::new();
    let mut cur_file = file.to_string();
    let mut cur = err;
    loop {
        match cur {
            EvalAltResult::ErrorInFunctionCall(name, src, inner, pos) => {
                // The one-line script the test runner calls a test with is not the user's.
                if cur_file != HIDDEN_SOURCE {
                    frames.push(Frame {
                        what: format!("in function `{name}`"),
                        file: cur_file.clone(),
                        pos: *pos,
                    });
                }
                if !src.is_empty() {
                    cur_file = src.clone();
                }
                cur = inner;
            }
            EvalAltResult::ErrorInModule(path, inner, pos) => {
                frames.push(Frame {
                    what: format!("in module `{}`", host.display_path(path)),
                    file: cur_file.clone(),
                    pos: *pos,
                });
                if host.source(path).is_some() {
                    cur_file = path.clone();
                }
                cur = inner;
            }
            _ => break,
        }
    }

    let (kind, message, mut details) = describe(cur, engine);
    let mut pos = cur.position();
    if message.ends_with("of () (a value that is nothing)") {
        let line = pos.line().and_then(|l| {
            host.source(&cur_file)
                .and_then(|s| s.lines().nth(l - 1).map(str::to_string))
        });
        if let Some(hint) = line.and_then(|l| unit_property_hint(&l, pos.position().unwrap_or(0))) {
            details.push(hint);
        }
    }
    let mut at_file = cur_file;
    // A caught error thrown again (`throw e`): point at the call that failed, and say where it
    // was rethrown (the map records its place, see `glue::where_it_came_from`).
    if let EvalAltResult::ErrorRuntime(v, throw_pos) = cur {
        if let Some((origin, source)) = crate::glue::error_place(v) {
            let origin_file = source
                .filter(|s| host.source(s).is_some())
                .unwrap_or_else(|| at_file.clone());
            if origin != *throw_pos || origin_file != at_file {
                if !throw_pos.is_none() {
                    details.push(format!("rethrown at {}", place(host, &at_file, *throw_pos)));
                }
                pos = origin;
                at_file = origin_file;
            }
        }
    }
    if pos.is_none() {
        // e.g. a module that could not be found: point at the import or call instead.
        if let Some(f) = frames.pop() {
            pos = f.pos;
            at_file = f.file;
        }
    }

    let mut out = String::new();
    let head = match kind {
        Some(k) => format!("error[{k}]"),
        None => "error".to_string(),
    };
    out.push_str(&format!(
        "{}: {}\n",
        style.paint("1;31", &head),
        style.paint("1", &message)
    ));
    out.push_str(&location(host, &at_file, pos, style));
    // Innermost call first, like a stack trace.
    for f in frames.iter().rev() {
        let at = if f.pos.is_none() {
            String::new()
        } else {
            format!(", called at {}", place(host, &f.file, f.pos))
        };
        out.push_str(&format!("   {} {}{at}\n", style.paint("34", "="), f.what));
    }
    for d in details {
        out.push_str(&format!("   {} {d}\n", style.paint("34", "=")));
    }
    host.redact(&out)
}

fn place(host: &Host, file: &str, pos: Position) -> String {
    let shown = host.display_path(file);
    match (pos.line(), pos.position()) {
        (Some(l), Some(c)) => format!("{shown}:{l}:{c}"),
        (Some(l), None) => format!("{shown}:{l}"),
        _ => shown,
    }
}

/// `  --> file:line:col` plus the source line and a caret.
fn location(host: &Host, file: &str, pos: Position, style: Style) -> String {
    let mut out = format!(
        "  {} {}\n",
        style.paint("34", "-->"),
        place(host, file, pos)
    );
    // Gutter: "   |" lines up with the "   =" notes below.
    let Some(line_no) = pos.line() else {
        return out;
    };
    let Some(src) = host.source(file) else {
        return out;
    };
    let Some(line) = src.lines().nth(line_no - 1) else {
        return out;
    };
    let width = line_no.to_string().len().max(2);
    let bar = style.paint("34", "|");
    out.push_str(&format!("{:width$} {bar}\n", ""));
    let num = style.paint("34", &format!("{line_no:>width$}"));
    out.push_str(&format!("{num} {bar} {line}\n"));
    if let Some(col) = pos.position() {
        let pad: String = line
            .chars()
            .take(col.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        out.push_str(&format!(
            "{:width$} {bar} {pad}{}\n",
            "",
            style.paint("1;31", "^")
        ));
    }
    out
}

/// (kind, message, extra lines) for the innermost error.
fn describe(err: &EvalAltResult, engine: Option<&Engine>) -> (Option<String>, String, Vec<String>) {
    match err {
        EvalAltResult::ErrorRuntime(v, _) => describe_value(v),
        EvalAltResult::ErrorTerminated(v, _) => {
            let token = v.clone().into_string().unwrap_or_default();
            if token == CANCELLED_TOKEN {
                (
                    Some("cancelled".into()),
                    "cancelled by Ctrl-C".into(),
                    vec![],
                )
            } else if token == TIME_LIMIT_TOKEN {
                (
                    Some("limit".into()),
                    "the script ran longer than --max-time allows".into(),
                    vec![],
                )
            } else {
                (None, format!("script terminated: {token}"), vec![])
            }
        }
        EvalAltResult::ErrorParsing(p, _) => (Some("syntax".into()), p.to_string(), vec![]),
        EvalAltResult::ErrorTooManyOperations(_) => (
            Some("limit".into()),
            "too many operations (see --max-operations)".into(),
            vec![],
        ),
        EvalAltResult::ErrorStackOverflow(_) => (
            Some("limit".into()),
            "call stack too deep: runaway recursion? (see --max-call-depth)".into(),
            vec![],
        ),
        EvalAltResult::ErrorDataTooLarge(what, _) => (
            Some("limit".into()),
            format!(
                "{what} is too large (see --max-string-size, --max-array-size, --max-map-size)"
            ),
            vec![],
        ),
        EvalAltResult::ErrorFunctionNotFound(sig, _) => {
            let name = sig.split([' ', '(']).next().unwrap_or(sig).to_string();
            let mut details = Vec::new();
            if let Some(engine) = engine {
                let mut known: Vec<String> = engine
                    .gen_fn_signatures(false)
                    .into_iter()
                    .filter(|s| s.starts_with(&format!("{name}(")))
                    .collect();
                known.sort();
                known.dedup();
                if !known.is_empty() {
                    details.push(format!("available: {}", known.join(", ")));
                } else if let Some(s) =
                    crate::lint::suggest(&name, &crate::lint::known_names(engine))
                {
                    details.push(format!("did you mean `{s}`?"));
                }
            }
            (
                Some("script".into()),
                format!("no function matches {}", friendly_signature(sig)),
                details,
            )
        }
        EvalAltResult::ErrorDotExpr(text, _) if unknown_property(text).is_some() => {
            let (prop, ty) = unknown_property(text).unwrap_or_default();
            let ty = crate::glue::display_type(&ty);
            if ty.is_empty() || ty == "()" {
                return (
                    Some("script".into()),
                    format!("cannot read `.{prop}` of () (a value that is nothing)"),
                    vec![],
                );
            }
            let props = engine.map(|e| properties_of(e, &ty)).unwrap_or_default();
            let mut details = Vec::new();
            if let Some(s) = crate::lint::suggest(&prop, &props) {
                details.push(format!("did you mean `{s}`?"));
            }
            if !props.is_empty() {
                details.push(format!("properties of {ty}: {}", props.join(", ")));
            }
            (
                Some("script".into()),
                format!("{ty} has no property `{prop}`"),
                details,
            )
        }
        other => {
            // Rhai names herodo's objects by their Rust path in some messages.
            let text = crate::glue::friendly_type_names(&other.to_string());
            // Display appends " (line L, position P)"; the location is shown separately.
            let text = match text.rfind(" (line ") {
                Some(i) if text.ends_with(')') => text[..i].to_string(),
                _ => text,
            };
            // The kind a `catch` sees for the same error (`scripts::classify_caught`).
            (Some("script".into()), text, vec![])
        }
    }
}

/// The property and type of Rhai's "Unknown property 'P' - a getter is not registered for type
/// 'T'".
fn unknown_property(text: &str) -> Option<(String, String)> {
    let rest = text.strip_prefix("Unknown property '")?;
    let (prop, rest) = rest.split_once('\'')?;
    let ty = rest.split("for type '").nth(1)?.split('\'').next()?;
    Some((prop.to_string(), ty.to_string()))
}

/// The readable properties of the script type `ty`, sorted.
fn properties_of(engine: &Engine, ty: &str) -> Vec<String> {
    let prefix = format!("{ty}.");
    let mut props: Vec<String> = crate::docs::function_docs(engine)
        .into_iter()
        .filter_map(|f| f.name.strip_prefix(&prefix).map(str::to_string))
        .filter(|p| !p.ends_with(" ="))
        .collect();
    props.sort();
    props.dedup();
    props
}

/// The identifier `text` ends with (`xs` in `print(xs`), empty when it ends otherwise.
pub fn trailing_ident(text: &str) -> String {
    let mut ident: Vec<char> = text
        .chars()
        .rev()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    ident.reverse();
    ident.into_iter().collect()
}

/// For `.c` read off (): when the text before it is `.b`, the value that was () came from
/// reading `b`, which a map gives for a key it does not have.
fn unit_property_hint(line: &str, col: usize) -> Option<String> {
    let before: String = line.chars().take(col.saturating_sub(1)).collect();
    let before = before.trim_end().strip_suffix('.')?.trim_end();
    let key = trailing_ident(before);
    let rest = before[..before.len() - key.len()].trim_end();
    if key.is_empty() || !rest.ends_with('.') {
        return None;
    }
    Some(format!(
        "`.{key}` gave (): the map has no key `{key}` (a map gives () for a key it does not have)"
    ))
}

/// `f (&str | ImmutableString | String, i64)` as a script writer reads it: `f (string, int)`.
fn friendly_signature(sig: &str) -> String {
    let Some((name, rest)) = sig.split_once(" (") else {
        return sig.to_string();
    };
    let params = rest.trim_end_matches(')');
    let shown: Vec<String> = params
        .split(", ")
        .filter(|p| !p.is_empty())
        .map(|p| {
            let first = p.split(" | ").next().unwrap_or(p).trim();
            match first {
                "&str" | "ImmutableString" | "String" => "string".to_string(),
                other => crate::glue::display_type(other),
            }
        })
        .collect();
    format!("{name} ({})", shown.join(", "))
}

/// A thrown value: herodo's error maps get their kind, command and stderr shown.
fn describe_value(v: &Dynamic) -> (Option<String>, String, Vec<String>) {
    let Some(map) = v.read_lock::<Map>() else {
        // A thrown object displays as its Rust path.
        return (
            None,
            crate::glue::friendly_type_names(&v.to_string()),
            vec![],
        );
    };
    let get = |k: &str| map.get(k).filter(|v| !v.is_unit()).map(|v| v.to_string());
    let kind = get("kind");
    let message = get("message").unwrap_or_else(|| format!("{v}"));
    let mut details = Vec::new();
    if let Some(cmd) = get("cmd") {
        details.push(format!("command: {cmd}"));
        if let Some(code) = get("exit_code") {
            details.push(format!("exit code: {code}"));
        }
        if let Some(stderr) = get("stderr").filter(|s| !s.trim().is_empty()) {
            let lines: Vec<&str> = stderr.trim_end().lines().collect();
            let from = lines.len().saturating_sub(STDERR_LINES);
            details.push(format!(
                "stderr:\n{}",
                lines[from..]
                    .iter()
                    .map(|l| format!("     {l}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
    }
    (kind, message, details)
}
