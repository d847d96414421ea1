//! What `herodo check` finds without running anything: every syntax error of a file (Rhai's
//! parser stops at the first, so the failing line is blanked and the file parsed again), and
//! calls to functions or methods that exist nowhere, with a "did you mean" suggestion (also used
//! by the run-time "function not found" error).

use std::collections::HashSet;

use rhai::{ASTNode, Engine, Expr, ParseError, ParseErrorType, Position, Stmt, AST};

/// At most this many syntax errors are reported per file.
const MAX_SYNTAX_ERRORS: usize = 50;

/// Every syntax error in `text`, in the order found. Recovery blanks the line of each error
/// (keeping line numbers) and parses again; it stops when an error cannot be located or repeats.
/// A missing `;` is the exception: Rhai reports it at the next token (often the next line), so
/// it is moved back to the end of the code before it, and recovery inserts the `;` there instead
/// of blanking a correct line.
pub fn syntax_errors(engine: &Engine, text: &str) -> Vec<ParseError> {
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    let mut blanked: HashSet<usize> = HashSet::new();
    let mut inserted: HashSet<(usize, usize)> = HashSet::new();
    let mut out = Vec::new();
    while out.len() < MAX_SYNTAX_ERRORS {
        let Err(e) = engine.compile(lines.join("\n")) else {
            break;
        };
        if out
            .last()
            .is_some_and(|p: &ParseError| p.1 == e.1 && p.0 == e.0)
        {
            break;
        }
        if is_missing_semicolon(&e) {
            if let Some((l, col)) = e.1.line().zip(e.1.position()).and_then(|(l, c)| {
                end_of_code_before(&lines, l, c).filter(|at| inserted.insert(*at))
            }) {
                // `col` is a byte offset into the line; positions count characters.
                let chars = lines[l - 1][..col].chars().count();
                let at = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
                out.push(ParseError(e.0.clone(), Position::new(at(l), at(chars + 1))));
                lines[l - 1].insert(col, ';');
                continue;
            }
        }
        let line = e.1.line();
        out.push(e);
        match line {
            Some(l)
                if l >= 1
                    && l <= lines.len()
                    && !lines[l - 1].trim().is_empty()
                    && blanked.insert(l) =>
            {
                lines[l - 1] = String::new();
            }
            // Unlocatable, past the end (an unclosed block) or already blanked: later
            // errors would only be echoes of this one.
            _ => break,
        }
    }
    out
}

fn is_missing_semicolon(e: &ParseError) -> bool {
    matches!(&*e.0, ParseErrorType::MissingToken(t, _) if t == ";")
}

/// Where the code before line `line`, column `col` (both 1-based, the column in characters)
/// ends: the 1-based line and the byte offset just after its last character that is neither
/// blank nor in a `//` comment. `None` when nothing comes before.
fn end_of_code_before(lines: &[String], line: usize, col: usize) -> Option<(usize, usize)> {
    let current = lines.get(line.checked_sub(1)?)?;
    let cut = current
        .char_indices()
        .nth(col.saturating_sub(1))
        .map_or(current.len(), |(i, _)| i);
    let mut candidate = Some(&current[..cut]);
    let mut l = line;
    while l >= 1 {
        let text = candidate.take().unwrap_or(&lines[l - 1]);
        let code = &text[..comment_start(text)];
        let end = code.trim_end().len();
        if end > 0 {
            return Some((l, end));
        }
        l -= 1;
    }
    None
}

/// The byte offset where a `//` comment starts in `line` (its length when there is none),
/// skipping `//` inside string literals.
fn comment_start(line: &str) -> usize {
    let bytes = line.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(_) if b == b'\\' => i += 1,
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'`' || b == b'\'' => quote = Some(b),
            None if b == b'/' && bytes.get(i + 1) == Some(&b'/') => return i,
            None => {}
        }
        i += 1;
    }
    bytes.len()
}

/// The names of every function and method an engine knows, Rhai's own packages included.
pub fn known_names(engine: &Engine) -> HashSet<String> {
    let mut names: HashSet<String> = engine
        .gen_fn_signatures(true)
        .into_iter()
        .filter_map(|sig| sig.split('(').next().map(|n| n.trim().to_string()))
        .collect();
    // Keywords that look like calls but are not registered functions.
    for k in [
        "print",
        "debug",
        "type_of",
        "eval",
        "Fn",
        "call",
        "curry",
        "is_shared",
        "is_def_var",
        "is_def_fn",
        "exit",
    ] {
        names.insert(k.to_string());
    }
    names
}

/// The closest known name to `name`, when one is close enough to be a typo.
pub fn suggest<'a>(name: &str, known: impl IntoIterator<Item = &'a String>) -> Option<String> {
    let max = (name.chars().count() / 3).clamp(1, 3);
    known
        .into_iter()
        .filter(|k| !k.starts_with("__") && k.chars().any(char::is_alphanumeric))
        .map(|k| (distance(name, k), k))
        .filter(|(d, _)| *d <= max)
        .min_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(b.1)))
        .map(|(_, k)| k.clone())
}

/// Edit distance over characters where swapping two neighbours counts as one edit, like an
/// insertion, deletion or substitution (optimal string alignment): `rnu` is one edit from
/// `run`, the typo people make most.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// A call to a function or method that no registered function, no Rhai function and no
/// function of the script has.
#[derive(Debug, Clone, PartialEq)]
pub struct UnknownCall {
    pub name: String,
    pub method: bool,
    pub pos: Position,
    pub suggestion: Option<String>,
}

impl UnknownCall {
    pub fn message(&self) -> String {
        let what = if self.method { "method" } else { "function" };
        let mut m = format!("no {what} named `{}` exists", self.name);
        if let Some(s) = &self.suggestion {
            m.push_str(&format!("; did you mean `{s}`?"));
        }
        m
    }
}

/// Calls in `ast` to names that exist nowhere. Namespaced calls (`m::f()`) are left alone
/// (modules load at run time), and so are calls through a variable holding a function pointer.
pub fn unknown_calls(engine: &Engine, ast: &AST) -> Vec<UnknownCall> {
    let mut known = known_names(engine);
    known.extend(ast.iter_functions().map(|f| f.name.to_string()));
    let mut variables: HashSet<String> = HashSet::new();
    for f in ast.iter_functions() {
        variables.extend(f.params.iter().map(|p| p.to_string()));
    }
    let mut calls: Vec<(String, bool, Position)> = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        match path.last() {
            Some(ASTNode::Expr(Expr::FnCall(x, pos)))
            | Some(ASTNode::Stmt(Stmt::FnCall(x, pos)))
                if x.namespace.is_empty() && x.op_token.is_none() =>
            {
                calls.push((x.name.to_string(), false, *pos));
            }
            Some(ASTNode::Expr(Expr::MethodCall(x, pos))) => {
                calls.push((x.name.to_string(), true, *pos));
            }
            Some(ASTNode::Expr(Expr::Variable(x, ..))) => {
                variables.insert(x.1.to_string());
            }
            Some(ASTNode::Stmt(Stmt::Var(x, ..))) => {
                variables.insert(x.0.name.to_string());
            }
            _ => {}
        }
        true
    });
    let mut out: Vec<UnknownCall> = calls
        .into_iter()
        .filter(|(name, method, _)| !known.contains(name) && (*method || !variables.contains(name)))
        .map(|(name, method, pos)| UnknownCall {
            suggestion: suggest(&name, &known),
            name,
            method,
            pos,
        })
        .collect();
    out.sort_by_key(|u| (u.pos.line(), u.pos.position()));
    out
}

/// A call of a method that changes its object in place and returns nothing (`trim`, `push`,
/// `sort`, ...) whose result is used as a value: `print(r.stdout.trim())` prints `()`.
#[derive(Debug, Clone, PartialEq)]
pub struct ValuelessMethod {
    pub name: String,
    pub pos: Position,
}

impl ValuelessMethod {
    pub fn message(&self) -> String {
        let mut m = format!(
            "`{0}()` changes its value in place and returns nothing, so this is (): \
             call `x.{0}();` as a statement, then use `x`",
            self.name
        );
        if self.name == "trim" {
            m.push_str(" (a command's output trimmed is `r.out`)");
        }
        m
    }
}

/// The methods an engine has whose every overload returns nothing.
fn valueless_methods(engine: &Engine) -> HashSet<String> {
    let Ok(json) = engine.gen_fn_metadata_to_json(true) else {
        return HashSet::new();
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&json) else {
        return HashSet::new();
    };
    let mut returns: std::collections::HashMap<String, bool> = std::collections::HashMap::new();
    for f in v["functions"].as_array().into_iter().flatten() {
        let Some(name) = f["name"].as_str() else {
            continue;
        };
        let unit = matches!(
            f["returnType"].as_str(),
            None | Some("()") | Some("") | Some("Result<(), Box<EvalAltResult>>")
        );
        let has_params = f["params"].as_array().is_some_and(|p| !p.is_empty());
        let e = returns.entry(name.to_string()).or_insert(true);
        *e = *e && unit && has_params;
    }
    returns
        .into_iter()
        .filter(|(name, unit)| *unit && name.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .map(|(name, _)| name)
        .collect()
}

/// The last call of a method chain (`a.b.trim()` ends in `trim`), when it is one.
fn chain_end(e: &Expr) -> Option<(&str, Position)> {
    match e {
        Expr::Dot(x, ..) => chain_end(&x.rhs),
        Expr::MethodCall(x, pos) => Some((x.name.as_str(), *pos)),
        _ => None,
    }
}

/// Method chains ending in a value-less method whose value is used (assigned, passed, printed,
/// returned); as a statement of its own (`s.trim();`) it is right.
pub fn valueless_values(engine: &Engine, ast: &AST) -> Vec<ValuelessMethod> {
    let valueless = valueless_methods(engine);
    let own: HashSet<String> = ast.iter_functions().map(|f| f.name.to_string()).collect();
    let mut out = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        let [.., parent, ASTNode::Expr(e @ Expr::Dot(..))] = path else {
            return true;
        };
        let statement = matches!(parent, ASTNode::Stmt(Stmt::Expr(_)));
        let in_chain = matches!(parent, ASTNode::Expr(Expr::Dot(..)));
        if statement || in_chain {
            return true;
        }
        if let Some((name, pos)) = chain_end(e) {
            if valueless.contains(name) && !own.contains(name) {
                out.push(ValuelessMethod {
                    name: name.to_string(),
                    pos,
                });
            }
        }
        true
    });
    out.sort_by_key(|u| (u.pos.line(), u.pos.position()));
    out
}

/// Names a script can use without defining them: what herodo puts in every script's scope.
pub const PROVIDED_VARIABLES: &[&str] = &["ARGS"];

/// A variable the script reads but defines nowhere (no `let`, `const`, parameter, `for` or
/// `catch` variable, or `import` alias of that name anywhere in the file), at its first use.
/// Name-based, not scope-based: a name defined anywhere counts as defined everywhere, so
/// nothing correct is flagged.
#[derive(Debug, Clone, PartialEq)]
pub struct Undefined {
    pub name: String,
    pub pos: Position,
}

pub fn undefined_variables(ast: &AST) -> Vec<Undefined> {
    let mut defined: HashSet<String> = PROVIDED_VARIABLES.iter().map(|s| s.to_string()).collect();
    for f in ast.iter_functions() {
        defined.extend(f.params.iter().map(|p| p.to_string()));
    }
    let mut used: Vec<(String, Position)> = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        match path.last() {
            Some(ASTNode::Stmt(Stmt::Var(x, ..))) => {
                defined.insert(x.0.name.to_string());
            }
            Some(ASTNode::Stmt(Stmt::For(x, _))) => {
                defined.insert(x.0.name.to_string());
                if let Some(counter) = &x.1 {
                    defined.insert(counter.name.to_string());
                }
            }
            Some(ASTNode::Stmt(Stmt::TryCatch(x, _))) => {
                if let Expr::Variable(v, ..) = &x.expr {
                    defined.insert(v.1.to_string());
                }
            }
            Some(ASTNode::Stmt(Stmt::Import(x, _))) => {
                defined.insert(x.1.name.to_string());
            }
            Some(ASTNode::Expr(Expr::Variable(v, _, pos))) if v.2.is_empty() => {
                used.push((v.1.to_string(), *pos));
            }
            _ => {}
        }
        true
    });
    let mut seen = HashSet::new();
    let mut out: Vec<Undefined> = used
        .into_iter()
        .filter(|(name, _)| !defined.contains(name) && seen.insert(name.clone()))
        .map(|(name, pos)| Undefined { name, pos })
        .collect();
    out.sort_by_key(|u| (u.pos.line(), u.pos.position()));
    out
}

/// An `import` of a file that does not exist (resolved as at run time: relative to the
/// importing file's directory `dir`, `.rhai` added; `std/NAME` from the stdlib).
pub fn missing_imports(ast: &AST, dir: &std::path::Path) -> Vec<(String, Position)> {
    let mut out = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        if let Some(ASTNode::Stmt(Stmt::Import(x, pos))) = path.last() {
            if let Expr::StringConstant(name, _) = &x.0 {
                let exists = match name.strip_prefix("std/") {
                    Some(std) => crate::stdlib::get(std.trim_end_matches(".rhai")).is_some(),
                    None => {
                        let mut file = dir.join(name.as_str());
                        if file.extension().is_none_or(|e| e != "rhai") {
                            file = std::path::PathBuf::from(format!("{}.rhai", file.display()));
                        }
                        file.is_file()
                    }
                };
                if !exists {
                    out.push((name.to_string(), *pos));
                }
            }
        }
        true
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_syntax_error_is_found() {
        let engine = Engine::new();
        let text = "let a = ;\nlet b = 1;\nlet c = );\nprint(b);";
        let errs = syntax_errors(&engine, text);
        let lines: Vec<_> = errs.iter().map(|e| e.1.line()).collect();
        assert_eq!(lines, vec![Some(1), Some(3)]);
        assert!(syntax_errors(&engine, "let x = 1;").is_empty());
        // An unclosed block is reported once, not echoed.
        assert_eq!(syntax_errors(&engine, "fn f() {\nlet x = 1;\n").len(), 1);
    }

    /// Issue 18.2: a missing `;` is one error at the end of its own line (after any comment
    /// and blank lines), correct lines after it are not blamed, and a second real mistake is
    /// still found.
    #[test]
    fn a_missing_semicolon_is_one_error_where_it_is_missing() {
        let engine = Engine::new();
        let text = "let a = 1 // one\n\nlet b = [1, 2;\nprint(a);\nprint(b);";
        let errs = syntax_errors(&engine, text);
        let at: Vec<_> = errs.iter().map(|e| (e.1.line(), e.1.position())).collect();
        assert_eq!(
            at,
            vec![(Some(1), Some(10)), (Some(3), Some(14))],
            "{errs:?}"
        );
        assert!(is_missing_semicolon(&errs[0]));
        assert!(!is_missing_semicolon(&errs[1]));
        // Two statements on one line; a `//` inside a string is no comment.
        let errs = syntax_errors(&engine, "let s = \"a//b\" let t = 2;\nprint(s);");
        let at: Vec<_> = errs.iter().map(|e| (e.1.line(), e.1.position())).collect();
        assert_eq!(at, vec![(Some(1), Some(15))]);
        assert_eq!(comment_start("let x = 1; // c"), 11);
        assert_eq!(comment_start("let u = `x//y`;"), 15);
    }

    #[test]
    fn unknown_calls_with_suggestions() {
        let mut engine = Engine::new();
        engine.register_fn("with_port", |x: i64| x);
        let ast = engine
            .compile(
                "fn mine(f) { f(1) }\nlet c = 1;\nc.with_prot(2);\nwith_port(1);\nmine(|x| x);\nprnt(1);\nm::x();\nc.len();",
            )
            .unwrap();
        let found = unknown_calls(&engine, &ast);
        let names: Vec<_> = found.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, vec!["with_prot", "prnt"]);
        assert_eq!(found[0].suggestion.as_deref(), Some("with_port"));
        assert!(found[0].method);
        assert_eq!(found[0].pos.line(), Some(3));
        assert_eq!(found[1].suggestion.as_deref(), Some("print"));
        assert!(found[0].message().contains("did you mean `with_port`?"));
    }

    /// Issue 18.7: variables used but defined nowhere, and imports of files that do not exist.
    #[test]
    fn undefined_variables_and_missing_imports() {
        let engine = Engine::new();
        let ast = engine
            .compile(
                "let name = ARGS[0];\nprint(url);\nfn f(a) { a + token }\nfor (x, i) in [1] { print(x + i); }\ntry { 1 } catch (e) { print(e); }\nlet c = |y| y + name;\nprint(url);\nimport \"std/retry\" as r;\nimport \"nope/helpers\" as h;\nimport \"here\" as k;\nprint(global::X);",
            )
            .unwrap();
        let found: Vec<_> = undefined_variables(&ast)
            .into_iter()
            .map(|u| (u.name, u.pos.line()))
            .collect();
        assert_eq!(
            found,
            vec![("url".to_string(), Some(2)), ("token".to_string(), Some(3))]
        );
        let dir = std::env::temp_dir().join(format!("herodo-lint-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("here.rhai"), "").unwrap();
        let missing: Vec<_> = missing_imports(&ast, &dir)
            .into_iter()
            .map(|(p, pos)| (p, pos.line()))
            .collect();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(missing, vec![("nope/helpers".to_string(), Some(9))]);
    }

    /// Issue 18.8: `x.trim()` used as a value is flagged; `x.trim();` as a statement is not.
    #[test]
    fn valueless_methods_used_as_values() {
        let engine = Engine::new();
        let ast = engine
            .compile(
                "let r = #{stdout: \" a \"};\nlet s = r.stdout;\ns.trim();\nprint(r.stdout.trim());\nlet x = s.trim();\nlet a = [];\na.push(1);\nlet n = a.len();\nlet t = s.to_upper();\nlet b = a.push(2);",
            )
            .unwrap();
        let found: Vec<_> = valueless_values(&engine, &ast)
            .into_iter()
            .map(|u| (u.name, u.pos.line()))
            .collect();
        assert_eq!(
            found,
            vec![
                ("trim".to_string(), Some(4)),
                ("trim".to_string(), Some(5)),
                ("push".to_string(), Some(10))
            ]
        );
        assert!(valueless_methods(&engine).contains("sort"));
        assert!(!valueless_methods(&engine).contains("len"));
    }

    #[test]
    fn distances() {
        // Issue 18.6: a swap of neighbours is one edit.
        assert_eq!(distance("with_prot", "with_port"), 1);
        assert_eq!(distance("rnu", "run"), 1);
        assert_eq!(distance("kitten", "sitting"), 3);
        let known = ["run".to_string(), "rm".to_string(), "memory".to_string()];
        assert_eq!(suggest("rnu", &known).as_deref(), Some("run"));
        assert_eq!(
            suggest("mem", &known),
            None,
            "three deletions are too many for 3 letters"
        );
        assert_eq!(distance("", "ab"), 2);
        assert_eq!(suggest("zzzzzz", &["print".to_string()]), None);
    }
}
