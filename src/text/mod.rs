//! Text helpers and the template renderer.

pub mod bindings;

use crate::error::{kind, Classify, ErrorInfo};

/// Remove the indentation common to every non-blank line (a tab counts as 4 spaces).
/// Blank lines become empty. A leading newline right after an opening quote is dropped.
pub fn dedent(text: &str) -> String {
    let text = text.strip_prefix('\n').unwrap_or(text);
    let expand = |l: &str| l.replace('\t', "    ");
    let lines: Vec<String> = text.lines().map(expand).collect();
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out: Vec<&str> = lines
        .iter()
        .map(|l| {
            if l.trim().is_empty() {
                ""
            } else {
                &l[indent..]
            }
        })
        .collect();
    if text.ends_with('\n') {
        out.push("");
    }
    out.join("\n")
}

/// Put `prefix` in front of every line.
pub fn prefix(text: &str, prefix: &str) -> String {
    let mut out = String::with_capacity(text.len() + prefix.len() * 4);
    for line in text.split_inclusive('\n') {
        out.push_str(prefix);
        out.push_str(line);
    }
    out
}

/// A safe name: lowercase ASCII letters, digits and `_`; every other run of characters
/// becomes one `_`; `.` is kept so file extensions survive; no leading or trailing `_`.
pub fn name_fix(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() || c == '.' {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

/// Apply [`name_fix`] to the last component of a path, keeping the directory part.
pub fn path_fix(path: &str) -> String {
    match path.rfind('/') {
        Some(i) => format!("{}{}", &path[..=i], name_fix(&path[i + 1..])),
        None => name_fix(path),
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
        assert_eq!(dedent("\n    a\n      b\n\n    c\n"), "a\n  b\n\nc\n");
        assert_eq!(dedent("\tx\n\t\ty"), "x\n    y");
        assert_eq!(dedent("no indent"), "no indent");
    }

    #[test]
    fn prefix_each_line() {
        assert_eq!(prefix("a\nb\n", "> "), "> a\n> b\n");
        assert_eq!(prefix("a", "# "), "# a");
    }

    #[test]
    fn names_and_paths_are_fixed() {
        assert_eq!(name_fix("My Cool-Container!"), "my_cool_container");
        assert_eq!(name_fix("File Name.TXT"), "file_name.txt");
        assert_eq!(name_fix("__x__"), "x");
        assert_eq!(path_fix("/Some Dir/My File.txt"), "/Some Dir/my_file.txt");
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
