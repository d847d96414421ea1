//! Finding, reading and compiling scripts: which files are scripts, the `.rhai` files below a
//! directory (symlink loops followed once), shebang lines, absolute names for error rendering,
//! and the one preprocessing step (`catch` blocks learn the kind of Rhai's own errors).

use std::io::Read;
use std::path::{Path, PathBuf};

use rhai::{Engine, EvalAltResult, Scope, AST};

use crate::host::Host;

/// True for files herodo runs: `.rhai`, or anything starting with a herodo shebang.
pub fn is_script(path: &Path) -> bool {
    if path.extension().is_some_and(|e| e == "rhai") {
        return true;
    }
    let mut head = [0u8; 64];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    let head = String::from_utf8_lossy(&head[..n]);
    head.starts_with("#!") && head.lines().next().is_some_and(|l| l.contains("herodo"))
}

/// Every `.rhai` file below `dir`, sorted by path. Symlinked directories are followed once:
/// a directory already visited (by canonical path) is skipped, so a link back up the tree
/// (`ln -s .. d/sub/up`) cannot make a loop.
pub fn scripts_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        if !seen.insert(d.canonicalize()?) {
            continue;
        }
        for entry in std::fs::read_dir(&d)? {
            let p = entry?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rhai") {
                out.push(p);
            }
        }
    }
    out.sort();
    // The same file reached through two links is one script.
    let mut files = std::collections::HashSet::new();
    out.retain(|p| files.insert(p.canonicalize().unwrap_or_else(|_| p.clone())));
    Ok(out)
}

/// Blank out a `#!` first line (keeping the newline, so line numbers stay right).
pub fn strip_shebang(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with("#!") {
        let rest = text.find('\n').map_or("", |i| &text[i..]);
        std::borrow::Cow::Owned(rest.to_string())
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// Compile `text` as the script named `name` (an absolute path, `<eval>` or `<stdin>`),
/// remembering its text for error rendering.
pub fn compile(
    engine: &Engine,
    host: &Host,
    name: &str,
    text: &str,
) -> Result<AST, Box<EvalAltResult>> {
    host.add_source(name, text);
    let text = strip_shebang(text);
    let marked = mark_catches(engine, &text);
    let mut ast = engine
        .compile(marked.as_deref().unwrap_or(&text))
        .map_err(|e| Box::new(EvalAltResult::from(e)))?;
    ast.set_source(name);
    Ok(ast)
}

/// Read a script file and compile it under its absolute path.
pub fn compile_file(engine: &Engine, host: &Host, path: &Path) -> Result<AST, LoadError> {
    let abs = absolute(path);
    let text = std::fs::read_to_string(&abs).map_err(|e| LoadError::Read(path.to_path_buf(), e))?;
    compile(engine, host, &abs.display().to_string(), &text).map_err(LoadError::Compile)
}

/// A script that could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    Read(PathBuf, std::io::Error),
    Compile(Box<EvalAltResult>),
}

/// `path` made absolute against the current directory, with `.` and `..` removed.
pub fn absolute(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(path)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// A scope with the script's arguments in `ARGS`.
pub fn scope_with_args(args: &[String]) -> Scope<'static> {
    let mut scope = Scope::new();
    let arr: rhai::Array = args.iter().cloned().map(Into::into).collect();
    scope.push_constant("ARGS", arr);
    scope
}

/// Called at the start of every `catch (e)` block: Rhai hands its own errors (unknown variable,
/// wrong type, data too large) to a catch block as a map without `kind`; give them one, so
/// `e.kind` works for every error a script can catch.
pub const CATCH_HELPER: &str = "__herodo_caught";

pub fn classify_caught(e: rhai::Dynamic) -> rhai::Dynamic {
    let Some(mut map) = e.clone().try_cast::<rhai::Map>() else {
        return e;
    };
    if map.contains_key("kind") {
        return e;
    }
    let Some(variant) = map.get("error").map(|v| v.to_string()) else {
        return e;
    };
    let kind = match variant.as_str() {
        "ErrorTooManyOperations"
        | "ErrorTooManyVariables"
        | "ErrorTooManyModules"
        | "ErrorStackOverflow"
        | "ErrorDataTooLarge" => crate::error::kind::LIMIT,
        "ErrorParsing" => crate::error::kind::SYNTAX,
        _ => crate::error::kind::SCRIPT,
    };
    map.insert("kind".into(), kind.into());
    map.into()
}

/// Insert `e = __herodo_caught(e);` right after the `{` of every `catch (e) {`, found with
/// Rhai's own tokenizer (so text inside strings is never touched). Only the line of the `{`
/// shifts, by the length of the insertion.
fn mark_catches(engine: &Engine, text: &str) -> Option<String> {
    use rhai::Token;
    let inputs = [text];
    let (mut tokens, control) = engine.lex(&inputs);
    let mut recent: Vec<Token> = Vec::with_capacity(5);
    // Brace depths at which an interpolation `${ ... }` ends and string text resumes.
    let mut resume_text: Vec<usize> = Vec::new();
    let mut depth = 0usize;
    let mut in_interpolation = false;
    let mut inserts: Vec<(usize, usize, String)> = Vec::new();
    for (tok, pos) in tokens.by_ref() {
        match &tok {
            Token::EOF | Token::LexError(_) => break,
            Token::InterpolatedString(_) => in_interpolation = true,
            Token::LeftBrace => {
                depth += 1;
                if in_interpolation {
                    resume_text.push(depth);
                    in_interpolation = false;
                }
            }
            Token::RightBrace => {
                if resume_text.last() == Some(&depth) {
                    resume_text.pop();
                    control.borrow_mut().is_within_text = true;
                }
                depth = depth.saturating_sub(1);
            }
            _ => {}
        }
        if matches!(tok, Token::LeftBrace) {
            if let [Token::Catch, Token::LeftParen, Token::Identifier(var), Token::RightParen] =
                recent.as_slice()
            {
                if let (Some(line), Some(col)) = (pos.line(), pos.position()) {
                    inserts.push((line, col, format!(" {var} = {CATCH_HELPER}({var});")));
                }
            }
        }
        if recent.len() == 4 {
            recent.remove(0);
        }
        recent.push(tok);
    }
    if inserts.is_empty() {
        return None;
    }
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    // Right to left within a line, so earlier columns stay valid.
    inserts.sort_by(|a, b| b.cmp(a));
    for (line, col, code) in inserts {
        let Some(l) = lines.get_mut(line - 1) else {
            continue;
        };
        // `col` counts characters; the `{` is at character col-1.
        let Some((at, _)) = l.char_indices().nth(col - 1) else {
            continue;
        };
        if l[at..].starts_with('{') {
            l.insert_str(at + 1, &code);
        }
    }
    Some(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catches_are_marked_outside_strings_only() {
        let engine = Engine::new();
        let text = "try { x } catch (e) { print(e.kind); }\nlet s = `a ${ 1 } catch (e) { b`;\ntry {} catch (err) {}";
        let out = mark_catches(&engine, text).expect("marked");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "try { x } catch (e) { e = __herodo_caught(e); print(e.kind); }"
        );
        assert_eq!(lines[1], "let s = `a ${ 1 } catch (e) { b`;");
        assert_eq!(
            lines[2],
            "try {} catch (err) { err = __herodo_caught(err);}"
        );
        assert!(mark_catches(&engine, "let x = 1;").is_none());
    }
}
