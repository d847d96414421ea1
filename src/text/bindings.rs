//! Rhai glue for `text`.

use rhai::{Dynamic, Map, INT};

use super::{Replacer, ReplacerBuilder, TemplateBuilder};
use crate::error::HostError;
use crate::glue::{IntoRhai, RResult, Registrar};

fn to_json(v: &Dynamic) -> RResult<serde_json::Value> {
    rhai::serde::from_dynamic(v)
}

pub fn register(r: &mut Registrar) {
    r.pure(
        "dedent",
        &["text"],
        r#"Remove the indentation common to all lines (handy for multi-line strings). A tab
counts as 4 columns; blank lines become empty; the newline right after the opening quote and
the trailing newline are dropped (as the original herodo's `dedent`).
```rhai
let conf = dedent(`
    [server]
    port = 80
`);
```"#,
        |t: &str| super::dedent(t),
    );
    r.pure(
        "prefix",
        &["text", "prefix"],
        r#"Put `prefix` in front of every line of `text` (a trailing newline is dropped, as the
original herodo's `prefix`).
```rhai
print(prefix(run_silent("ls").stdout, "  | "));
```"#,
        |t: &str, p: &str| super::prefix(t, p),
    );
    r.pure(
        "name_fix",
        &["name"],
        r#"Make a safe lowercase name, as the original herodo does: whitespace and
`,-"'#!()[]=+<>@$%^&*` become `_` (one `_` per run), non-ASCII is dropped.
```rhai
assert_eq(name_fix("My Web-App"), "my_web_app");
assert_eq(name_fix("Test!@#$%^&*()"), "test_");
```"#,
        |t: &str| super::name_fix(t),
    );
    r.pure(
        "path_fix",
        &["path"],
        r#"Expand a leading `~` to the home directory; nothing else changes (the original
herodo's `path_fix`).
```rhai
let p = path_fix("~/.config/app.toml");
```"#,
        |t: &str| {
            let home = dirs::home_dir().map(|h| h.display().to_string());
            super::path_fix(t, home.as_deref())
        },
    );
    r.pure(
        "name_fix_kubernetes",
        &["name"],
        r#"A valid Kubernetes name: lowercase letters, digits and `-` (one `-` per run of other
characters, none at either end).
```rhai
assert_eq(name_fix_kubernetes("My_App v2"), "my-app-v2");
```"#,
        |t: &str| super::name_fix_kubernetes(t),
    );
    r.pure(
        "repeat",
        &["text", "count"],
        r#"`text` repeated `count` times (also as a method: `"=".repeat(50)`).
Throws `invalid_argument` for a negative count or a result over the string size limit.
```rhai
print("=".repeat(40));
```"#,
        |t: &str, n: INT| -> RResult<String> { super::repeat(t, n, super::MAX_REPEAT).rhai() },
    );
    r.pure(
        "pad_right",
        &["text", "width"],
        r#"`text` followed by spaces up to `width` characters (unchanged when longer).
```rhai
print(pad_right("name", 10) + "|");
```"#,
        |t: &str, n: INT| -> RResult<String> {
            let w = crate::common::convert::int_in("width", n, 0usize, 1 << 20).rhai()?;
            Ok(format!("{t:<w$}"))
        },
    );
    r.pure(
        "pad_left",
        &["text", "width"],
        r#"Spaces followed by `text`, up to `width` characters (unchanged when longer).
```rhai
print(pad_left("42", 6));
```"#,
        |t: &str, n: INT| -> RResult<String> {
            let w = crate::common::convert::int_in("width", n, 0usize, 1 << 20).rhai()?;
            Ok(format!("{t:>w$}"))
        },
    );
    register_replacer(r);
    register_template_builder(r);
    r.pure(
        "template_render",
        &["template", "vars"],
        r#"Render a Jinja-style template with the values of a map: `{{ name }}`, `{{ a.b }}`,
`{% for x in list %}...{% endfor %}`, `{% if cond %}...{% endif %}`, filters like `| upper`.
Throws `template` on a syntax error or an undefined variable.
```rhai
let s = template_render("Hello {{ who }}!", #{who: "world"});
```"#,
        |t: &str, vars: Map| -> RResult<String> {
            super::render(t, &to_json(&Dynamic::from_map(vars))?).rhai()
        },
    );
    r.func(
        "template_render_file",
        &["path", "vars"],
        r#"Render the template stored in a file (see `template_render`).
```rhai
file_write("/etc/myapp.conf", template_render_file("myapp.conf.j2", #{port: 8080}));
```"#,
        |p: &str, vars: Map| -> RResult<String> {
            let text = std::fs::read_to_string(p)
                .map_err(|e| HostError::io("read", p, e))
                .rhai()?;
            super::render(&text, &to_json(&Dynamic::from_map(vars))?).rhai()
        },
    );
}

fn register_replacer(r: &mut Registrar) {
    r.engine()
        .register_type_with_name::<ReplacerBuilder>("ReplacerBuilder")
        .register_type_with_name::<Replacer>("Replacer");
    r.pure(
        "replacer_new",
        &[],
        r#"Start a text replacer (the original herodo's builder): `.pattern(p)`,
`.replacement(r)`, `.regex(true)` (else literal), `.case_insensitive(true)`, `.and()` for the
next replacement, `.build()`; then `.replace(text)`, `.replace_file(path)`,
`.replace_file_in_place(path)`, `.replace_file_to(src, dst)`.
```rhai
let r = replacer_new().pattern("foo").replacement("bar").and()
    .pattern("(\\d+)").replacement("<$1>").regex(true).build();
assert_eq(r.replace("foo 42"), "bar <42>");
```"#,
        ReplacerBuilder::default,
    );
    r.pure(
        "pattern",
        &["replacer", "pattern"],
        "What to look for: literal text, or a regex after `.regex(true)`.\n```rhai\nreplacer_new().pattern(\"old\").replacement(\"new\").build();\n```",
        |mut b: ReplacerBuilder, p: &str| {
            b.pattern(p);
            b
        },
    );
    r.pure(
        "replacement",
        &["replacer", "replacement"],
        "What to put instead (`$1`, `${name}` name regex groups in regex mode).\n```rhai\nreplacer_new().pattern(\"old\").replacement(\"new\").build();\n```",
        |mut b: ReplacerBuilder, p: &str| {
            b.replacement(p);
            b
        },
    );
    r.pure(
        "regex",
        &["replacer", "yes"],
        "Treat the pattern as a regex.\n```rhai\nreplacer_new().pattern(\"\\\\s+\").replacement(\" \").regex(true).build();\n```",
        |mut b: ReplacerBuilder, yes: bool| {
            b.regex(yes);
            b
        },
    );
    r.pure(
        "case_insensitive",
        &["replacer", "yes"],
        "Match regardless of case.\n```rhai\nreplacer_new().pattern(\"error\").replacement(\"E\").case_insensitive(true).build();\n```",
        |mut b: ReplacerBuilder, yes: bool| {
            b.case_insensitive(yes);
            b
        },
    );
    r.pure(
        "and",
        &["replacer"],
        "Finish this replacement and start the next (applied in order). Throws \
         `invalid_argument` for a regex that does not compile.\n```rhai\nreplacer_new().pattern(\"a\").replacement(\"b\").and().pattern(\"c\").replacement(\"d\").build();\n```",
        |mut b: ReplacerBuilder| -> RResult<ReplacerBuilder> {
            b.and().rhai()?;
            Ok(b)
        },
    );
    r.pure(
        "build",
        &["replacer"],
        "The finished replacer. Throws `invalid_argument` without a pattern or for a bad regex.\n```rhai\nlet r = replacer_new().pattern(\"a\").replacement(\"b\").build();\n```",
        |b: ReplacerBuilder| b.build().rhai(),
    );
    r.pure(
        "replace",
        &["replacer", "text"],
        "`text` with every replacement applied in order.\n```rhai\nlet r = replacer_new().pattern(\"a\").replacement(\"b\").build();\nassert_eq(r.replace(\"aa\"), \"bb\");\n```",
        |rep: &mut Replacer, t: &str| rep.replace(t),
    );
    r.func(
        "replace_file",
        &["replacer", "path"],
        "The content of a file with the replacements applied (the file is not changed).\n```rhai\nlet r = replacer_new().pattern(\"a\").replacement(\"b\").build();\nlet text = r.replace_file(\"/etc/hostname\");\n```",
        |rep: &mut Replacer, p: &str| -> RResult<String> {
            Ok(rep.replace(&read(p)?))
        },
    );
    r.func(
        "replace_file_in_place",
        &["replacer", "path"],
        "Apply the replacements to a file, rewriting it atomically.\n```rhai\nlet d = tmpdir();\nfile_write(`${d}/a.conf`, \"port=80\");\nreplacer_new().pattern(\"80\").replacement(\"8080\").build().replace_file_in_place(`${d}/a.conf`);\n```",
        |rep: &mut Replacer, p: &str| -> RResult<()> {
            let out = rep.replace(&read(p)?);
            write(p, &out)
        },
    );
    r.func(
        "replace_file_to",
        &["replacer", "source", "destination"],
        "Write `source` with the replacements applied to `destination` (atomically).\n```rhai\nlet d = tmpdir();\nfile_write(`${d}/a.tmpl`, \"port=PORT\");\nreplacer_new().pattern(\"PORT\").replacement(\"80\").build().replace_file_to(`${d}/a.tmpl`, `${d}/a.conf`);\n```",
        |rep: &mut Replacer, src: &str, dst: &str| -> RResult<()> {
            let out = rep.replace(&read(src)?);
            write(dst, &out)
        },
    );
}

fn read(path: &str) -> RResult<String> {
    std::fs::read_to_string(path)
        .map_err(|e| HostError::io("read", path, e))
        .rhai()
}

/// Write through a temporary file in the same directory and rename it: no half-written file.
fn write(path: &str, content: &str) -> RResult<()> {
    let p = std::path::Path::new(path);
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let tmp = dir.join(format!(
        ".{}.herodo-{}",
        p.file_name().map_or("out".into(), |n| n.to_string_lossy()),
        std::process::id()
    ));
    let res = std::fs::write(&tmp, content).and_then(|_| std::fs::rename(&tmp, p));
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res.map_err(|e| HostError::io("write", path, e)).rhai()
}

fn json_of(v: Dynamic) -> RResult<serde_json::Value> {
    rhai::serde::from_dynamic(&v)
}

fn register_template_builder(r: &mut Registrar) {
    r.engine()
        .register_type_with_name::<TemplateBuilder>("TemplateBuilder");
    r.func(
        "template_open",
        &["path"],
        r#"Open a template file for rendering with values added one by one (the original
herodo's builder; the syntax is `template_render`'s): `.add_var(name, value)` (string, int,
float, bool, array or map), `.add_vars(map)`, then `.render()` or `.render_to_file(path)`.
Throws `not_found` when the file is missing.
```rhai
let d = tmpdir();
file_write(`${d}/t.j2`, "port={{ port }}");
let out = template_open(`${d}/t.j2`).add_var("port", 8080).render();
```"#,
        |p: &str| -> RResult<TemplateBuilder> {
            Ok(TemplateBuilder {
                path: p.to_string(),
                text: read(p)?,
                vars: serde_json::Map::new(),
            })
        },
    );
    r.pure(
        "add_var",
        &["template", "name", "value"],
        "Add a value the template can use as `{{ name }}`. Changes the builder and returns it.\n```rhai\nlet d = tmpdir();\nfile_write(`${d}/t.j2`, \"{{ items | join(', ') }}\");\nprint(template_open(`${d}/t.j2`).add_var(\"items\", [\"a\", \"b\"]).render());\n```",
        |t: &mut TemplateBuilder, name: &str, v: Dynamic| -> RResult<TemplateBuilder> {
            t.vars.insert(name.to_string(), json_of(v)?);
            Ok(t.clone())
        },
    );
    r.pure(
        "add_vars",
        &["template", "vars"],
        "Add every entry of a map as a template value. Changes the builder and returns it.\n```rhai\nlet d = tmpdir();\nfile_write(`${d}/t.j2`, \"{{ a }}{{ b }}\");\nprint(template_open(`${d}/t.j2`).add_vars(#{a: 1, b: 2}).render());\n```",
        |t: &mut TemplateBuilder, vars: Map| -> RResult<TemplateBuilder> {
            for (k, v) in vars {
                t.vars.insert(k.to_string(), json_of(v)?);
            }
            Ok(t.clone())
        },
    );
    r.pure(
        "render",
        &["template"],
        "The rendered text. Throws `template` on a syntax error or an undefined variable.\n```rhai\nlet d = tmpdir();\nfile_write(`${d}/t.j2`, \"hi {{ who }}\");\nassert_eq(template_open(`${d}/t.j2`).add_var(\"who\", \"you\").render(), \"hi you\");\n```",
        |t: &mut TemplateBuilder| t.render().rhai(),
    );
    r.func(
        "render_to_file",
        &["template", "path"],
        "Render into a file (written atomically).\n```rhai\nlet d = tmpdir();\nfile_write(`${d}/t.j2`, \"port={{ port }}\");\ntemplate_open(`${d}/t.j2`).add_var(\"port\", 80).render_to_file(`${d}/app.conf`);\n```",
        |t: &mut TemplateBuilder, path: &str| -> RResult<()> {
            let out = t.render().rhai()?;
            write(path, &out)
        },
    );
}
