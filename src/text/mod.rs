//! Text helpers and the template renderer.

pub mod bindings;

use crate::error::{kind, Classify, ErrorInfo};

/// Columns of leading whitespace (a tab counts as 4) and the byte length of that whitespace.
fn indent_of(line: &str) -> (usize, usize) {
    let mut cols = 0;
    for (i, c) in line.char_indices() {
        match c {
            ' ' => cols += 1,
            '\t' => cols += 4,
            _ => return (cols, i),
        }
    }
    (cols, line.len())
}

/// Remove the indentation common to every non-blank line (a tab counts as 4 columns), as the
/// original herodo does: blank lines become empty and a trailing newline is dropped. A leading
/// newline right after an opening quote is dropped too.
pub fn dedent(text: &str) -> String {
    let text = text.strip_prefix('\n').unwrap_or(text);
    let lines: Vec<&str> = text.lines().collect();
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| indent_of(l).0)
        .min()
        .unwrap_or(0);
    lines
        .iter()
        .map(|l| {
            if l.trim().is_empty() {
                return String::new();
            }
            // Drop whitespace up to `indent` columns; a tab that straddles it is dropped whole.
            let mut cols = 0;
            let mut cut = 0;
            for (i, c) in l.char_indices() {
                if cols >= indent {
                    break;
                }
                match c {
                    ' ' => cols += 1,
                    '\t' => cols += 4,
                    _ => break,
                }
                cut = i + 1;
            }
            l[cut..].to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Put `prefix` in front of every line (the trailing newline is dropped, as the original
/// herodo does).
pub fn prefix(text: &str, prefix: &str) -> String {
    text.lines()
        .map(|l| format!("{prefix}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The original herodo's safe name: lowercase; whitespace and the punctuation
/// `,-"'#!()[]=+<>@$%^&*` become `_` (a run of them one `_`); other ASCII is kept; non-ASCII
/// is dropped. `name_fix("Test!@#$%^&*()") == "test_"`.
pub fn name_fix(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars().filter(char::is_ascii) {
        if c.is_ascii_whitespace() || ",-\"'#!()[]=+<>@$%^&*".contains(c) {
            if !out.ends_with('_') {
                out.push('_');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// A Kubernetes resource name (RFC 1123 label): lowercase letters, digits and `-`; every run
/// of other characters is one `-`; no leading or trailing `-`.
pub fn name_fix_kubernetes(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// Expand a leading `~` to `home` (the original herodo's `path_fix`: nothing else changes).
pub fn path_fix(path: &str, home: Option<&str>) -> String {
    match home {
        Some(h) if path == "~" => h.to_string(),
        Some(h) if path.starts_with("~/") => format!("{h}{}", &path[1..]),
        _ => path.to_string(),
    }
}

/// The largest string `repeat` builds (the engine's default string limit).
pub const MAX_REPEAT: usize = 256 * 1024 * 1024;

/// `s` repeated `n` times, refused when the result would be over `max` bytes.
pub fn repeat(s: &str, n: i64, max: usize) -> Result<String, crate::error::HostError> {
    let n = crate::common::convert::int_in("count", n, 0usize, usize::MAX)?;
    if s.len().saturating_mul(n) > max {
        return Err(crate::error::HostError::invalid(
            "count",
            format!(
                "{n} copies of {} bytes is over the {max}-byte string limit",
                s.len()
            ),
        ));
    }
    Ok(s.repeat(n))
}

/// One replacement of a [`Replacer`].
#[derive(Clone, Debug)]
struct Replacement {
    re: regex::Regex,
    with: String,
    literal: bool,
}

/// The original herodo's `replacer_new()` builder: a pattern, its replacement, regex or
/// literal, case-insensitive or not; `.and()` starts the next replacement.
#[derive(Clone, Debug, Default)]
pub struct ReplacerBuilder {
    done: Vec<Replacement>,
    pattern: Option<String>,
    replacement: String,
    regex: bool,
    case_insensitive: bool,
}

/// A built replacer: its replacements applied in order.
#[derive(Clone, Debug)]
pub struct Replacer {
    steps: Vec<Replacement>,
}

impl ReplacerBuilder {
    pub fn pattern(&mut self, p: &str) {
        self.pattern = Some(p.to_string());
    }
    pub fn replacement(&mut self, r: &str) {
        self.replacement = r.to_string();
    }
    pub fn regex(&mut self, yes: bool) {
        self.regex = yes;
    }
    pub fn case_insensitive(&mut self, yes: bool) {
        self.case_insensitive = yes;
    }

    /// Close the current replacement (if it has a pattern) and start the next one.
    pub fn and(&mut self) -> Result<(), crate::error::HostError> {
        let Some(p) = self.pattern.take() else {
            return Ok(());
        };
        let source = if self.regex {
            p.clone()
        } else {
            regex::escape(&p)
        };
        let source = if self.case_insensitive {
            format!("(?i){source}")
        } else {
            source
        };
        let re = regex::Regex::new(&source).map_err(|e| {
            crate::error::HostError::invalid("pattern", format!("`{p}` is not a valid regex: {e}"))
        })?;
        self.done.push(Replacement {
            re,
            with: std::mem::take(&mut self.replacement),
            literal: !self.regex,
        });
        self.regex = false;
        self.case_insensitive = false;
        Ok(())
    }

    pub fn build(mut self) -> Result<Replacer, crate::error::HostError> {
        self.and()?;
        if self.done.is_empty() {
            return Err(crate::error::HostError::invalid(
                "replacer",
                "has no pattern: call .pattern(p) before .build()",
            ));
        }
        Ok(Replacer { steps: self.done })
    }
}

impl Replacer {
    /// Apply every replacement in order. In regex mode `$1`/`${name}` refer to groups.
    pub fn replace(&self, input: &str) -> String {
        let mut out = input.to_string();
        for s in &self.steps {
            out = if s.literal {
                s.re.replace_all(&out, regex::NoExpand(&s.with))
                    .into_owned()
            } else {
                s.re.replace_all(&out, s.with.as_str()).into_owned()
            };
        }
        out
    }
}

/// The original herodo's template builder: a template file and the values it is rendered with.
#[derive(Clone, Debug)]
pub struct TemplateBuilder {
    pub path: String,
    pub text: String,
    pub vars: serde_json::Map<String, serde_json::Value>,
}

impl TemplateBuilder {
    pub fn render(&self) -> Result<String, TemplateError> {
        render(&self.text, &serde_json::Value::Object(self.vars.clone()))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("template error: {0}")]
pub struct TemplateError(String);

impl Classify for TemplateError {
    fn info(&self) -> ErrorInfo {
        ErrorInfo::new(kind::TEMPLATE, self.to_string())
    }
}

/// Render a Jinja-style template (`{{ name }}`, `{% for x in items %}`, `{% if %}`, filters)
/// with `vars`. An undefined variable is an error, not an empty string.
pub fn render(template: &str, vars: &serde_json::Value) -> Result<String, TemplateError> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    // Booleans as config files and the original herodo's templates (Tera) write them.
    env.set_formatter(|out, state, value| {
        if value.kind() == minijinja::value::ValueKind::Bool {
            out.write_str(if value.is_true() { "true" } else { "false" })?;
            return Ok(());
        }
        minijinja::escape_formatter(out, state, value)
    });
    let describe = |e: minijinja::Error| {
        let mut msg = e.to_string();
        if let Some(line) = e.line() {
            if !msg.contains("line") {
                msg.push_str(&format!(" (template line {line})"));
            }
        }
        TemplateError(msg)
    };
    env.add_template("template", template).map_err(describe)?;
    let tmpl = env.get_template("template").map_err(describe)?;
    tmpl.render(minijinja::Value::from_serialize(vars))
        .map_err(|e| {
            if e.kind() != minijinja::ErrorKind::UndefinedError {
                return describe(e);
            }
            // Name the variables the template uses that `vars` does not have, once.
            let mut missing: Vec<String> = tmpl
                .undeclared_variables(false)
                .into_iter()
                .filter(|v| vars.get(v).is_none() && env.globals().all(|(g, _)| g != v.as_str()))
                .collect();
            missing.sort();
            let line = e
                .line()
                .map_or(String::new(), |l| format!(" (template line {l})"));
            match missing.as_slice() {
                [] => describe(e),
                [one] => TemplateError(format!("undefined variable `{one}`{line}")),
                many => TemplateError(format!(
                    "undefined variables {}{line}",
                    many.iter()
                        .map(|m| format!("`{m}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedent_removes_common_indent() {
        assert_eq!(dedent("\n    a\n      b\n\n    c\n"), "a\n  b\n\nc");
        assert_eq!(dedent("\tx\n\t\ty"), "x\n\ty");
        assert_eq!(dedent("\tx\n        y"), "x\n    y");
        assert_eq!(dedent("no indent"), "no indent");
        // The original's own text tests.
        assert_eq!(
            dedent("    line 1\n    line 2\n        line 3"),
            "line 1\nline 2\n    line 3"
        );
        assert_eq!(
            dedent("  line 1\n    line 2\n  line 3"),
            "line 1\n  line 2\nline 3"
        );
        assert_eq!(dedent("    line 1\n\n    line 3"), "line 1\n\nline 3");
    }

    #[test]
    fn prefix_each_line() {
        assert_eq!(prefix("a\nb\n", "> "), "> a\n> b");
        assert_eq!(prefix("a", "# "), "# a");
        assert_eq!(
            prefix("line 1\n\nline 3", "    "),
            "    line 1\n    \n    line 3"
        );
        assert_eq!(prefix("x\ny", ""), "x\ny");
    }

    #[test]
    fn names_and_paths_are_fixed_as_the_original_does() {
        for (given, want) in [
            ("Hello World", "hello_world"),
            ("File-Name.txt", "file_name.txt"),
            ("Test!@#$%^&*()", "test_"),
            ("Space, Tab\t, Comma,", "space_tab_comma_"),
            ("Quotes\"'", "quotes_"),
            ("Brackets[]<>", "brackets_"),
            ("Operators=+-", "operators_"),
            ("Café", "caf"),
            ("Résumé", "rsum"),
            ("UPPERCASE", "uppercase"),
        ] {
            assert_eq!(name_fix(given), want, "{given}");
        }
        let home = Some("/home/u");
        assert_eq!(path_fix("/path/to/directory/", home), "/path/to/directory/");
        assert_eq!(
            path_fix("/path/to/File Name.txt", home),
            "/path/to/File Name.txt"
        );
        assert_eq!(path_fix("~/docs", home), "/home/u/docs");
        assert_eq!(path_fix("~", home), "/home/u");
        assert_eq!(path_fix("/path/~/file", home), "/path/~/file");
        assert_eq!(path_fix("~/docs", None), "~/docs");
        assert_eq!(name_fix_kubernetes("My_App v2!"), "my-app-v2");
        assert_eq!(name_fix_kubernetes("--a--b--"), "a-b");
    }

    #[test]
    fn repeat_is_bounded() {
        assert_eq!(repeat("=", 3, 100).unwrap(), "===");
        assert_eq!(repeat("ab", 0, 100).unwrap(), "");
        assert!(repeat("=", -1, 100).is_err());
        assert!(repeat("ab", 51, 100).is_err());
    }

    #[test]
    fn replacers_chain_literal_and_regex() {
        let mut b = ReplacerBuilder::default();
        b.pattern("a.b");
        b.replacement("$x");
        b.and().unwrap();
        b.pattern(r"(\d+)");
        b.replacement("<$1>");
        b.regex(true);
        b.and().unwrap();
        b.pattern("HELLO");
        b.replacement("bye");
        b.case_insensitive(true);
        let r = b.build().unwrap();
        assert_eq!(r.replace("a.b axb 42 hello"), "$x axb <42> bye");
        let mut bad = ReplacerBuilder::default();
        bad.pattern("(");
        bad.regex(true);
        assert!(bad.build().is_err());
        assert!(ReplacerBuilder::default().build().is_err());
    }

    #[test]
    fn templates_render_and_fail_clearly() {
        let vars = serde_json::json!({"name": "web", "ports": [80, 443], "tls": true});
        let out = render(
            "svc {{ name }}:{% for p in ports %} {{ p }}{% endfor %}{% if tls %} tls{% endif %}\n",
            &vars,
        )
        .unwrap();
        assert_eq!(out, "svc web: 80 443 tls\n");
        assert_eq!(
            render(
                "{{ a }} {{ b }}",
                &serde_json::json!({"a": true, "b": false})
            )
            .unwrap(),
            "true false"
        );
        let err = render("{{ missing }}", &vars).unwrap_err();
        assert!(err.to_string().contains("undefined"), "{err}");
        // Issue 18.15: the undefined variable is named, once, with the line.
        let err = render(
            "{{ name }}\n{{ b }} {% for p in ports %}{{ p }}{% endfor %}",
            &vars,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "template error: undefined variable `b` (template line 2)"
        );
        assert!(render("{% for %}", &vars).is_err());
    }
}
