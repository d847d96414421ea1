//! The interactive shell. [`Session`] holds everything that is not the terminal: the engine,
//! the scope that persists between entries, the functions and imports defined so far, and the
//! meta-commands; it is unit-tested on its own. `editor.rs` puts rustyline in front of it.

mod editor;

use std::sync::Arc;

use rhai::{Dynamic, Engine, EvalAltResult, Scope, AST};

use crate::diagnostics::{self, Outcome, Style};
use crate::docs::{function_docs, FnDoc};
use crate::engine::{self, Limits};
use crate::host::Host;
use crate::scripts;

pub use editor::run_interactive;

/// Source name of REPL entries in error messages.
pub const SOURCE: &str = "<repl>";

/// A meta-command (a line starting with `/`).
#[derive(Clone, Debug, PartialEq)]
pub enum Meta {
    Help,
    Functions(Option<String>),
    Scope,
    Load(String),
    Reset,
    History,
    Quit,
    Unknown(String),
}

pub const META_COMMANDS: &[(&str, &str)] = &[
    ("/help", "this help"),
    (
        "/functions [FILTER]",
        "functions you can call, with signatures and summaries",
    ),
    ("/scope", "variables defined so far, with their values"),
    (
        "/load FILE",
        "run a script into this session (its variables and functions stay)",
    ),
    ("/reset", "forget all variables, functions and imports"),
    ("/history", "the entries of this session"),
    ("/quit", "leave (also Ctrl-D)"),
];

/// Parse a meta-command; `None` when the line is code.
pub fn parse_meta(line: &str) -> Option<Meta> {
    let t = line.trim();
    // `//` and `/*` start comments, not commands.
    if t.starts_with("//") || t.starts_with("/*") {
        return None;
    }
    let rest = t.strip_prefix('/')?;
    let (cmd, arg) = match rest.split_once(char::is_whitespace) {
        Some((c, a)) => (c, a.trim()),
        None => (rest, ""),
    };
    let arg = (!arg.is_empty()).then(|| arg.to_string());
    Some(match cmd {
        "help" | "h" | "?" => Meta::Help,
        "functions" | "fns" | "f" => Meta::Functions(arg),
        "scope" | "vars" => Meta::Scope,
        "load" | "l" => match arg {
            Some(a) => Meta::Load(a),
            None => Meta::Unknown("load needs a file: /load FILE".into()),
        },
        "reset" => Meta::Reset,
        "history" => Meta::History,
        "quit" | "exit" | "q" => Meta::Quit,
        other => Meta::Unknown(other.to_string()),
    })
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The meta-command closest to a mistyped one.
pub fn suggest(unknown: &str) -> Option<&'static str> {
    META_COMMANDS
        .iter()
        .map(|(c, _)| c.split_whitespace().next().unwrap_or(c))
        .min_by_key(|c| edit_distance(unknown, c.trim_start_matches('/')))
        .filter(|c| edit_distance(unknown, c.trim_start_matches('/')) <= 3)
}

/// True when `src` has no open bracket, brace, string or block comment: the entry is complete.
pub fn is_complete(src: &str) -> bool {
    let mut depth: i64 = 0;
    let mut chars = src.chars().peekable();
    let mut in_str: Option<char> = None;
    let mut block_comment = 0;
    while let Some(c) = chars.next() {
        if block_comment > 0 {
            if c == '*' && chars.peek() == Some(&'/') {
                chars.next();
                block_comment -= 1;
            } else if c == '/' && chars.peek() == Some(&'*') {
                chars.next();
                block_comment += 1;
            }
            continue;
        }
        if let Some(q) = in_str {
            if c == '\\' {
                chars.next();
            } else if c == q {
                in_str = None;
            }
            continue;
        }
        match c {
            '"' | '`' => in_str = Some(c),
            '\'' => {
                // a character literal: skip to its closing quote
                for d in chars.by_ref() {
                    if d == '\'' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                block_comment += 1;
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
    }
    // A closing bracket too many is complete (and a syntax error the parser will report).
    depth <= 0 && in_str.is_none() && block_comment == 0
}

/// What an incomplete entry still needs, innermost first: "`)`, then `}`", "the end of the
/// string (`\"`)", "`*/`".
pub fn missing(src: &str) -> String {
    let mut stack: Vec<char> = Vec::new();
    let mut chars = src.chars().peekable();
    let mut in_str: Option<char> = None;
    let mut block_comment = 0;
    while let Some(c) = chars.next() {
        if block_comment > 0 {
            if c == '*' && chars.peek() == Some(&'/') {
                chars.next();
                block_comment -= 1;
            }
            continue;
        }
        if let Some(q) = in_str {
            if c == '\\' {
                chars.next();
            } else if c == q {
                in_str = None;
            }
            continue;
        }
        match c {
            '"' | '`' => in_str = Some(c),
            '/' if chars.peek() == Some(&'/') => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                block_comment += 1;
            }
            '(' => stack.push(')'),
            '[' => stack.push(']'),
            '{' => stack.push('}'),
            ')' | ']' | '}' => {
                stack.pop();
            }
            _ => {}
        }
    }
    let mut parts: Vec<String> = Vec::new();
    if block_comment > 0 {
        parts.push("`*/` to end the comment".into());
    }
    if let Some(q) = in_str {
        parts.push(format!("the end of the string (`{q}`)"));
    }
    parts.extend(stack.iter().rev().map(|c| format!("`{c}`")));
    parts.join(", then ")
}

/// The prompt of a new entry.
pub const PROMPT: &str = "herodo> ";
/// The prompt of the following lines of an entry that is not complete yet.
pub const CONTINUATION: &str = "...> ";

/// The lines of one entry, collected until it is complete: an entry goes on while a bracket,
/// brace, string or block comment is open. A meta-command is always one line.
#[derive(Debug, Default)]
pub struct Pending {
    text: String,
    lines: usize,
}

impl Pending {
    /// The prompt for the next line.
    pub fn prompt(&self) -> &'static str {
        if self.lines == 0 {
            PROMPT
        } else {
            CONTINUATION
        }
    }

    /// Add a line; returns the whole entry once it is complete.
    pub fn push(&mut self, line: &str) -> Option<String> {
        if self.lines > 0 {
            self.text.push('\n');
        }
        self.text.push_str(line);
        self.lines += 1;
        if is_complete(&self.text) || parse_meta(&self.text).is_some() {
            self.take()
        } else {
            None
        }
    }

    /// The entry as it stands (Ctrl-D on a continuation line runs it, so the parser can say
    /// what is missing); `None` when nothing was typed yet.
    pub fn take(&mut self) -> Option<String> {
        let had = self.lines > 0;
        self.lines = 0;
        let text = std::mem::take(&mut self.text);
        had.then_some(text)
    }

    /// Drop what was typed (Ctrl-C).
    pub fn clear(&mut self) {
        self.text.clear();
        self.lines = 0;
    }
}

/// What the front end should do after an entry.
#[derive(Debug, PartialEq)]
pub enum Reply {
    /// Print this on stdout.
    Output(String),
    /// Print this on stderr.
    Error(String),
    /// Ctrl-C stopped the entry: say so, and drop whatever was typed or pasted after it.
    Cancelled,
    Nothing,
    Quit,
}

pub struct Session {
    host: Arc<Host>,
    engine: Engine,
    scope: Scope<'static>,
    /// Functions defined so far (no statements).
    lib: AST,
    /// `import` statements of earlier entries, re-run (from the module cache) before each entry.
    imports: AST,
    history: Vec<String>,
    docs: Vec<FnDoc>,
    /// Method and property names per script type (`array` -> `push`, `pop`, ...), for Tab.
    methods: std::collections::HashMap<String, Vec<String>>,
    limits: Limits,
    pub style: Style,
}

/// The script type of the variable that ends `expr` (`xs` in `print(xs`), when it is one.
fn receiver_type(scope: &Scope, expr: &str) -> Option<String> {
    let name = crate::diagnostics::trailing_ident(expr);
    let value = scope.get(&name)?;
    Some(crate::docs::script_type_of(value.type_name()))
}

impl Session {
    pub fn new(host: Arc<Host>, limits: &Limits, style: Style) -> Self {
        let engine = engine::build(&host, limits);
        let docs = function_docs(&engine);
        let methods = crate::docs::methods_by_type(&engine);
        Session {
            host,
            engine,
            scope: scripts::scope_with_args(&[]),
            lib: AST::empty(),
            imports: AST::empty(),
            history: Vec::new(),
            docs,
            methods,
            limits: limits.clone(),
            style,
        }
    }

    /// Handle one entry: a meta-command or code.
    pub fn handle(&mut self, input: &str) -> Reply {
        if input.trim().is_empty() {
            return Reply::Nothing;
        }
        self.history.push(input.to_string());
        let reply = match parse_meta(input).or_else(|| self.bare_word(input)) {
            Some(m) => self.meta(m),
            None => match self.eval(SOURCE, input) {
                // Run as it stood (Ctrl-D on a continuation line): say what it lacked.
                Reply::Error(e) if !is_complete(input) => Reply::Error(format!(
                    "{e}incomplete entry: it still needs {}\n",
                    missing(input)
                )),
                other => other,
            },
        };
        // A Ctrl-C that stopped this entry must not stop the next one.
        self.host.cancel.reset();
        reply
    }

    /// `help`, `exit`, `quit` (also `exit()`, `quit()`) typed as Python and node users do: the
    /// meta-command, unless the session has a variable of that name.
    fn bare_word(&self, input: &str) -> Option<Meta> {
        let t = input.trim().trim_end_matches(';').trim();
        let word = t.strip_suffix("()").unwrap_or(t);
        if self.scope.contains(word) {
            return None;
        }
        match word {
            "help" => Some(Meta::Help),
            "exit" | "quit" => Some(Meta::Quit),
            _ => None,
        }
    }

    fn meta(&mut self, m: Meta) -> Reply {
        match m {
            Meta::Help => {
                let mut s = String::from("Type Rhai code; an entry continues while brackets are open. Results are printed.\nTab completes names (after `x.`, the methods of x's type), Ctrl-R searches history,\nCtrl-C cancels a running command. `help`, `exit` and `quit` work too.\n\n");
                for (c, d) in META_COMMANDS {
                    s.push_str(&format!("  {c:<22} {d}\n"));
                }
                Reply::Output(s)
            }
            Meta::Functions(filter) => {
                let mut s = String::new();
                for d in self
                    .docs
                    .iter()
                    .filter(|d| filter.as_deref().is_none_or(|f| d.name.contains(f)))
                {
                    s.push_str(&format!("{}\n    {}\n", d.signature, d.summary));
                }
                for f in self.lib.iter_functions() {
                    if filter.as_deref().is_none_or(|x| f.name.contains(x)) {
                        s.push_str(&format!(
                            "{}({})\n    (defined in this session)\n",
                            f.name,
                            f.params.join(", ")
                        ));
                    }
                }
                if s.is_empty() {
                    Reply::Error(format!(
                        "no function matches `{}`",
                        filter.unwrap_or_default()
                    ))
                } else {
                    Reply::Output(s)
                }
            }
            Meta::Scope => {
                let mut s = String::new();
                // A name defined again (`let x` twice) is shadowed: show its latest value once.
                let all: Vec<_> = self.scope.iter().collect();
                let latest = all
                    .iter()
                    .enumerate()
                    .filter(|(i, (name, ..))| !all[i + 1..].iter().any(|(n, ..)| n == name));
                for (_, (name, constant, value)) in latest {
                    let (name, constant) = (*name, *constant);
                    let kind = if constant { "const" } else { "let" };
                    let shown = show(&self.engine, value).unwrap_or_else(|| "()".into());
                    let shown = shown.replace('\n', "\n    ");
                    s.push_str(&format!("{kind} {name} = {shown}\n"));
                }
                Reply::Output(s)
            }
            Meta::Load(file) => match std::fs::read_to_string(&file) {
                Ok(text) => {
                    let name = scripts::absolute(std::path::Path::new(&file))
                        .display()
                        .to_string();
                    self.eval(&name, &text)
                }
                Err(e) => Reply::Error(format!("cannot read {file}: {e}")),
            },
            Meta::Reset => {
                self.engine = engine::build(&self.host, &self.limits);
                self.scope = scripts::scope_with_args(&[]);
                self.lib = AST::empty();
                self.imports = AST::empty();
                Reply::Output("session reset: no variables, functions or imports\n".into())
            }
            Meta::History => Reply::Output(
                self.history
                    .iter()
                    .enumerate()
                    .map(|(i, h)| format!("{:>4}  {}\n", i + 1, h.replace('\n', "\n      ")))
                    .collect(),
            ),
            Meta::Quit => Reply::Quit,
            Meta::Unknown(u) => {
                let hint = suggest(&u)
                    .map(|s| format!("; did you mean {s}?"))
                    .unwrap_or_default();
                Reply::Error(format!("unknown command /{u}{hint} (/help lists them)"))
            }
        }
    }

    /// Evaluate code in the session: variables, functions and imports persist.
    pub fn eval(&mut self, name: &str, code: &str) -> Reply {
        let ast = match scripts::compile(&self.engine, &self.host, name, code) {
            Ok(a) => a,
            Err(e) => return self.error(&e, name),
        };
        let new_imports: Vec<rhai::Stmt> = ast
            .statements()
            .iter()
            .filter(|s| matches!(s, rhai::Stmt::Import(..)))
            .cloned()
            .collect();
        let runnable = self.imports.merge(&self.lib).merge(&ast);
        let result = self
            .engine
            .eval_ast_with_scope::<Dynamic>(&mut self.scope, &runnable);
        // Definitions and imports stay even when a later statement of the entry failed.
        self.lib = self.lib.merge(&ast.clone_functions_only());
        if !new_imports.is_empty() {
            let mut imports = AST::new(new_imports, rhai::Module::new());
            imports.set_source(name);
            self.imports = self.imports.merge(&imports);
        }
        match result {
            Ok(v) => match show(&self.engine, &v) {
                Some(s) => Reply::Output(format!("{s}\n")),
                None => Reply::Nothing,
            },
            Err(e) => self.error(&e, name),
        }
    }

    fn error(&self, e: &EvalAltResult, name: &str) -> Reply {
        match diagnostics::outcome(e) {
            Outcome::Cancelled => Reply::Cancelled,
            Outcome::Exit(c) => {
                Reply::Error(format!("exit({c}) ends scripts, not the REPL: use /quit\n"))
            }
            Outcome::Skipped(r) => Reply::Error(format!("skipped: {r}\n")),
            Outcome::Error => Reply::Error(diagnostics::render(
                &self.host,
                e,
                name,
                Some(&self.engine),
                self.style,
            )),
        }
    }

    /// Names to complete `prefix` with: functions (or methods after a `.`), session functions,
    /// variables in scope, and meta-commands when the line starts with `/`.
    pub fn completions(&self, line_before: &str, prefix: &str) -> Vec<String> {
        if line_before.trim_start().starts_with('/') && !line_before.contains(' ') {
            return META_COMMANDS
                .iter()
                .map(|(c, _)| c.split_whitespace().next().unwrap_or(c).to_string())
                .filter(|c| c.starts_with(line_before.trim_start()))
                .collect();
        }
        let head = &line_before[..line_before.len() - prefix.len()];
        let after_dot = head.ends_with('.');
        // `xs.pu` with `xs` a variable: the methods and properties of its type only.
        if let Some(methods) = after_dot
            .then(|| receiver_type(&self.scope, &head[..head.len() - 1]))
            .flatten()
            .and_then(|ty| self.methods.get(&ty))
        {
            return methods
                .iter()
                .filter(|m| m.starts_with(prefix))
                .cloned()
                .collect();
        }
        let mut out: Vec<String> = Vec::new();
        for d in &self.docs {
            let name = d.name.trim_end_matches(" =");
            let (owner, base) = match name.split_once('.') {
                Some((o, p)) => (Some(o), p),
                None => (None, name),
            };
            // After a dot: methods (functions taking a receiver) and properties.
            let fits = if after_dot {
                owner.is_some() || !d.params.is_empty()
            } else {
                owner.is_none()
            };
            if fits && base.starts_with(prefix) {
                out.push(base.to_string());
            }
        }
        if !after_dot {
            out.extend(
                self.lib
                    .iter_functions()
                    .map(|f| f.name.to_string())
                    .filter(|n| n.starts_with(prefix)),
            );
            out.extend(
                self.scope
                    .iter()
                    .map(|(n, _, _)| n.to_string())
                    .filter(|n| n.starts_with(prefix)),
            );
        }
        out.sort();
        out.dedup();
        out
    }

    /// The signature(s) of the function being called just before the cursor (`name(`).
    pub fn signature_hint(&self, line_before: &str) -> Option<String> {
        let open = line_before.rfind('(')?;
        if line_before[open..].contains(')') {
            return None;
        }
        let head = &line_before[..open];
        let name: String = head
            .chars()
            .rev()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        if name.is_empty() {
            return None;
        }
        let sigs: Vec<&str> = self
            .docs
            .iter()
            .filter(|d| d.name == name)
            .map(|d| d.signature.as_str())
            .collect();
        if sigs.is_empty() {
            let f = self.lib.iter_functions().find(|f| f.name == name)?;
            return Some(format!("{}({})", f.name, f.params.join(", ")));
        }
        Some(sigs.join("  |  "))
    }

    pub fn history(&self) -> &[String] {
        &self.history
    }
}

/// Width up to which a map or array is shown on one line, exactly as `print` shows it.
const ONE_LINE: usize = 100;

/// How a result is printed: `()` not at all, strings plainly, maps and arrays as `print` shows
/// them (`#{"a": 1, "b": [1, 2]}`) when that fits on a line, else in the same syntax with one
/// entry per line (herodo's objects inside them as their `to_string`), other values with their
/// `to_string`.
pub fn show(engine: &Engine, v: &Dynamic) -> Option<String> {
    if v.is_unit() {
        return None;
    }
    if v.is_string() || v.is_int() || v.is_float() || v.is_bool() || v.is_char() {
        return Some(v.to_string());
    }
    if v.is_array() || v.is_map() {
        if plain_data(v) {
            let line = v.to_string();
            if line.chars().count() <= ONE_LINE && !line.contains('\n') {
                return Some(line);
            }
        }
        let mut out = String::new();
        render(engine, v, 0, &mut out);
        return Some(out);
    }
    Some(display(engine, v))
}

/// Whether `v` holds only Rhai's own values (what `print` shows as it is; herodo's objects
/// inside a map would print as their Rust debug form).
fn plain_data(v: &Dynamic) -> bool {
    if let Some(items) = v.read_lock::<rhai::Array>() {
        return items.iter().all(plain_data);
    }
    if let Some(map) = v.read_lock::<rhai::Map>() {
        return map.values().all(plain_data);
    }
    v.is_unit() || v.is_string() || v.is_int() || v.is_float() || v.is_bool() || v.is_char()
}

/// Append `v` to `out` in Rhai's syntax (`#{"key": value}`, `[a, b]`) with two-space indents,
/// nested `depth` levels deep.
fn render(engine: &Engine, v: &Dynamic, depth: usize, out: &mut String) {
    let pad = |n: usize| "  ".repeat(n);
    if let Some(items) = v.read_lock::<rhai::Array>() {
        if items.is_empty() {
            out.push_str("[]");
            return;
        }
        out.push_str("[\n");
        for (i, item) in items.iter().enumerate() {
            out.push_str(&pad(depth + 1));
            render(engine, item, depth + 1, out);
            out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
        }
        out.push_str(&pad(depth));
        out.push(']');
    } else if let Some(map) = v.read_lock::<rhai::Map>() {
        if map.is_empty() {
            out.push_str("#{}");
            return;
        }
        out.push_str("#{\n");
        for (i, (key, item)) in map.iter().enumerate() {
            out.push_str(&pad(depth + 1));
            out.push_str(&json_string(key));
            out.push_str(": ");
            render(engine, item, depth + 1, out);
            out.push_str(if i + 1 < map.len() { ",\n" } else { "\n" });
        }
        out.push_str(&pad(depth));
        out.push('}');
    } else if v.is_string() {
        out.push_str(&json_string(&v.to_string()));
    } else if v.is_unit() {
        out.push_str("()");
    } else if v.is_char() {
        out.push_str(&format!("{:?}", v.to_string()).replace('"', "'"));
    } else if v.is_int() || v.is_float() || v.is_bool() {
        out.push_str(&v.to_string());
    } else {
        out.push_str(&display(engine, v));
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

/// A value's `to_string` as the script sees it (herodo's objects register their own).
fn display(engine: &Engine, v: &Dynamic) -> String {
    let mut scope = Scope::new();
    scope.push("__v", v.clone());
    engine
        .eval_with_scope::<String>(&mut scope, "to_string(__v)")
        .unwrap_or_else(|_| crate::glue::friendly_type_names(&format!("{v:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Settings;

    fn session() -> Session {
        let host = Arc::new(Host::new(Settings::default()));
        Session::new(host, &Limits::default(), Style { color: false })
    }

    fn out(r: Reply) -> String {
        match r {
            Reply::Output(s) | Reply::Error(s) => s,
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn state_persists_without_rerunning_earlier_entries() {
        let mut s = session();
        assert_eq!(s.handle("let counter = 0;"), Reply::Nothing);
        assert_eq!(s.handle("fn bump(x) { x + 1 }"), Reply::Nothing);
        assert_eq!(s.handle("counter = bump(counter);"), Reply::Nothing);
        assert_eq!(
            s.handle("counter = bump(counter); counter"),
            Reply::Output("2\n".into())
        );
        // Functions can be redefined.
        s.handle("fn bump(x) { x + 10 }");
        assert_eq!(s.handle("bump(0)"), Reply::Output("10\n".into()));
    }

    #[test]
    fn a_cancelled_entry_says_so_and_the_next_one_runs() {
        let mut s = session();
        let cancel = s.host.cancel.clone();
        let stopper = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            cancel.cancel();
        });
        let started = std::time::Instant::now();
        assert_eq!(s.handle("run(\"sleep 5\")"), Reply::Cancelled);
        assert!(started.elapsed() < std::time::Duration::from_secs(3));
        stopper.join().unwrap();
        assert_eq!(s.handle("1 + 1"), Reply::Output("2\n".into()));
    }

    #[test]
    fn imports_persist() {
        let mut s = session();
        assert_eq!(s.handle("import \"std/retry\" as r;"), Reply::Nothing);
        assert_eq!(
            s.handle("r::retry(|| 7, 1, 0)"),
            Reply::Output("7\n".into())
        );
    }

    #[test]
    fn results_are_printed_by_type() {
        let mut s = session();
        assert_eq!(s.handle("\"plain\""), Reply::Output("plain\n".into()));
        assert_eq!(s.handle("()"), Reply::Nothing);
        // Issue 18.15: maps and arrays show as `print` shows them...
        assert_eq!(s.handle("[1, 2]"), Reply::Output("[1, 2]\n".into()));
        assert_eq!(
            s.handle("#{a: 1, b: [1, \"x\"]}"),
            Reply::Output("#{\"a\": 1, \"b\": [1, \"x\"]}\n".into())
        );
        // ...one entry per line, in the same syntax, when that would be too long for a line.
        let (x, y) = ("x".repeat(60), "y".repeat(50));
        let long = out(s.handle(&format!("#{{a: \"{x}\", b: [\"{y}\"], c: ()}}")));
        assert!(long.starts_with("#{\n  \"a\": \"xxxx"), "{long}");
        assert!(long.contains("\n  \"b\": [\n    \"yyyy"), "{long}");
        assert!(long.ends_with("  \"c\": ()\n}\n"), "{long}");
        assert!(out(s.handle("run_silent(\"echo hi\")")).starts_with("CommandResult(code: 0"));
    }

    #[test]
    fn errors_point_at_the_entry_and_the_session_goes_on() {
        let mut s = session();
        let e = out(s.handle("let y = 1;\ny.nope()"));
        assert!(e.contains("--> <repl>:2:3"), "{e}");
        assert!(e.contains(" 2 | y.nope()"), "{e}");
        assert!(e.contains('^'), "{e}");
        assert_eq!(s.handle("y + 1"), Reply::Output("2\n".into()));
        let e = out(s.handle("let z = (1 +;"));
        assert!(e.contains("error[syntax]"), "{e}");
    }

    /// Issue 18.14: help/exit/quit as Python and node users type them; Tab after `xs.` offers
    /// the methods of xs's type; /scope lists a redefined name once; an incomplete entry says
    /// what is missing.
    #[test]
    fn newcomer_conventions() {
        let mut s = session();
        assert!(out(s.handle("help")).contains("/functions"));
        assert_eq!(s.handle("exit"), Reply::Quit);
        assert_eq!(s.handle("quit()"), Reply::Quit);
        assert_eq!(s.handle("exit()"), Reply::Quit);
        // A variable of that name is the variable.
        s.handle("let help = 3;");
        assert_eq!(s.handle("help"), Reply::Output("3\n".into()));

        s.handle("let xs = [1, 2];");
        s.handle("let name = \"web\";");
        assert_eq!(s.completions("xs.pu", "pu"), vec!["push"]);
        let all = s.completions("xs.", "");
        assert!(all.contains(&"pop".to_string()) && all.contains(&"len".to_string()));
        assert!(!all.contains(&"to_upper".to_string()), "{all:?}");
        assert!(s
            .completions("name.to_up", "to_up")
            .contains(&"to_upper".to_string()));
        s.handle("let c = nerdctl_container_new(\"web\");");
        assert_eq!(
            s.completions("c.with_po", "with_po"),
            vec!["with_port", "with_ports"]
        );

        s.handle("let x = 1;");
        s.handle("let x = 2;");
        let scope = out(s.handle("/scope"));
        assert_eq!(scope.matches("let x = ").count(), 1, "{scope}");
        assert!(scope.contains("let x = 2"), "{scope}");

        assert_eq!(
            missing("fn f() { let a = [1, (2"),
            "`)`, then `]`, then `}`"
        );
        assert_eq!(missing("let s = \"abc"), "the end of the string (`\"`)");
        let e = out(s.handle("print(\"x\""));
        assert!(e.contains("incomplete entry: it still needs `)`"), "{e}");
    }

    #[test]
    fn meta_commands() {
        let mut s = session();
        s.handle("let name = \"web\";");
        assert!(out(s.handle("/scope")).contains("let name = web"));
        assert!(out(s.handle("/functions file_re")).contains("file_read(path: string) -> string"));
        assert!(out(s.handle("/help")).contains("/load FILE"));
        assert!(out(s.handle("/history")).contains("let name = \"web\";"));
        assert!(out(s.handle("/scop")).contains("did you mean /scope?"));
        assert_eq!(s.handle("/quit"), Reply::Quit);
        s.handle("/reset");
        assert!(out(s.handle("name")).contains("Variable not found"));
        let f = std::env::temp_dir().join(format!("herodo-repl-load-{}.rhai", std::process::id()));
        std::fs::write(&f, "let loaded = 41;\nfn plus_one(x) { x + 1 }\n").unwrap();
        s.handle(&format!("/load {}", f.display()));
        assert_eq!(s.handle("plus_one(loaded)"), Reply::Output("42\n".into()));
        std::fs::remove_file(&f).unwrap();
        assert!(out(s.handle("/load /no/such.rhai")).contains("cannot read"));
    }

    #[test]
    fn completion_and_hints() {
        let mut s = session();
        s.handle("let my_var = 1; fn my_fn() { 1 }");
        assert_eq!(
            s.completions("file_wr", "file_wr"),
            vec!["file_write", "file_write_append"]
        );
        assert_eq!(s.completions("my_", "my_"), vec!["my_fn", "my_var"]);
        assert!(s
            .completions("c.with_po", "with_po")
            .contains(&"with_port".to_string()));
        assert!(s
            .completions("r.std", "std")
            .contains(&"stdout".to_string()));
        assert_eq!(s.completions("/sc", "sc"), vec!["/scope"]);
        assert_eq!(
            s.signature_hint("file_read(").as_deref(),
            Some("file_read(path: string) -> string")
        );
        assert_eq!(s.signature_hint("my_fn(").as_deref(), Some("my_fn()"));
        assert_eq!(s.signature_hint("file_read(\"x\")"), None);
    }

    /// Issue 11: objects are called `Container`, never `herodo::containers::Container`, by
    /// `type_of`, in error messages, in printed results and in /functions.
    #[test]
    fn script_objects_have_friendly_type_names() {
        let mut s = session();
        s.handle("let c = nerdctl_container_new(\"web\");");
        assert_eq!(s.handle("type_of(c)"), Reply::Output("Container\n".into()));
        for (code, expected) in [
            ("c.nope()", "nope (Container)"),
            ("let m = #{}; m[c]", "Container"),
            ("[1][c]", "Container"),
            ("sleep(c)", "got Container"),
            ("throw c", "Container"),
        ] {
            let e = out(s.handle(code));
            assert!(e.contains(expected), "{code}: {e}");
            assert!(!e.contains("herodo::"), "{code}: {e}");
        }
        let e = out(s.handle("let m = (); try { sleep(c) } catch (e) { m = e.message } m"));
        assert!(
            e.contains("got Container") && !e.contains("herodo::"),
            "{e}"
        );
        // Objects inside arrays and maps print as themselves.
        let shown = out(s.handle("[c, 1]"));
        assert_eq!(
            shown,
            "[\n  Container(name: web, image: , id: -),\n  1\n]\n"
        );
        let shown = out(s.handle("#{app: c, tags: [\"a\"]}"));
        assert_eq!(
            shown,
            "#{\n  \"app\": Container(name: web, image: , id: -),\n  \"tags\": [\n    \"a\"\n  ]\n}\n"
        );
        s.handle("let list = [c];");
        let scope = out(s.handle("/scope"));
        assert!(
            scope.contains("let list = [\n      Container(name: web"),
            "{scope}"
        );
        // Functions without a result show none.
        let fns = out(s.handle("/functions exit"));
        assert!(
            fns.contains("exit()\n") && fns.contains("exit(code: int)\n"),
            "{fns}"
        );
        assert!(!fns.contains("Result") && !fns.contains("::"), "{fns}");
    }

    /// Every type the function list names is one a script sees: Rhai's own, or a custom type
    /// registered under its Rust name (so `type_of`, messages and `fns` agree).
    #[test]
    fn function_list_names_only_script_types() {
        let host = Arc::new(Host::new(Settings::default()));
        let engine = engine::build(&host, &Limits::default());
        let meta: serde_json::Value =
            serde_json::from_str(&engine.gen_fn_metadata_to_json(false).unwrap()).unwrap();
        let mut known: Vec<String> = [
            "", "string", "int", "float", "bool", "map", "array", "any", "Fn",
        ]
        .map(String::from)
        .to_vec();
        for t in meta["customTypes"].as_array().unwrap() {
            let rust = t["typeName"].as_str().unwrap();
            let shown = t["displayName"].as_str().unwrap();
            assert_eq!(
                shown,
                crate::glue::short_type_name(rust),
                "register {rust} under its own name"
            );
            known.push(shown.to_string());
        }
        assert!(known.contains(&"Container".to_string()), "{known:?}");
        for d in function_docs(&engine) {
            assert!(!d.signature.contains("::"), "{}", d.signature);
            for ty in d.params.iter().map(|p| &p.ty).chain([&d.return_type]) {
                assert!(known.contains(ty), "{}: unknown type {ty}", d.signature);
            }
        }
    }

    #[test]
    fn completeness_of_entries() {
        assert!(is_complete("let x = 1;"));
        assert!(!is_complete("fn f(a) {"));
        assert!(!is_complete("let s = `multi"));
        assert!(!is_complete("call(1,\n 2"));
        assert!(is_complete("let s = \"{ not a brace\";"));
        assert!(is_complete("// { comment\nlet x = 1;"));
        assert!(!is_complete("/* open comment"));
        assert!(is_complete("let c = '{';"));
        assert!(is_complete("}"));
    }

    #[test]
    fn entries_collect_lines_until_complete() {
        let mut p = Pending::default();
        assert_eq!(p.prompt(), PROMPT);
        assert_eq!(p.push("fn triple(x) {"), None);
        assert_eq!(p.prompt(), CONTINUATION);
        assert_eq!(p.push("  x * 3"), None);
        assert_eq!(p.push("}").as_deref(), Some("fn triple(x) {\n  x * 3\n}"));
        assert_eq!(p.prompt(), PROMPT);
        assert_eq!(p.push("1 + 1").as_deref(), Some("1 + 1"));
        // An empty line is an (empty) entry of its own, or a line of an open one.
        assert_eq!(p.push("").as_deref(), Some(""));
        assert_eq!(p.push("[1,"), None);
        assert_eq!(p.push(""), None);
        assert_eq!(p.push("2]").as_deref(), Some("[1,\n\n2]"));
        // Meta-commands are one line even with an open bracket; comments are code.
        assert_eq!(p.push("/functions (").as_deref(), Some("/functions ("));
        assert_eq!(p.push("/* a comment"), None);
        assert_eq!(p.push("*/").as_deref(), Some("/* a comment\n*/"));
        // Ctrl-D takes what is there; Ctrl-C drops it.
        assert_eq!(p.take(), None);
        p.push("let a = [");
        assert_eq!(p.take().as_deref(), Some("let a = ["));
        p.push("let b = [");
        p.clear();
        assert_eq!(p.prompt(), PROMPT);
        assert_eq!(p.take(), None);
    }

    #[test]
    fn meta_parsing_and_suggestions() {
        assert_eq!(
            parse_meta("/functions file"),
            Some(Meta::Functions(Some("file".into())))
        );
        assert_eq!(
            parse_meta("/load x.rhai"),
            Some(Meta::Load("x.rhai".into()))
        );
        assert_eq!(parse_meta("let x = 1 / 2;"), None);
        assert_eq!(parse_meta("// a comment"), None);
        assert_eq!(parse_meta("/* a comment */ 1"), None);
        assert_eq!(suggest("hepl"), Some("/help"));
        assert_eq!(suggest("zzzzzzzz"), None);
    }
}
