//! Rhai glue for `text`.

use rhai::{Dynamic, Map};

use crate::error::HostError;
use crate::glue::{IntoRhai, RResult, Registrar};

fn to_json(v: &Dynamic) -> RResult<serde_json::Value> {
    rhai::serde::from_dynamic(v)
}

pub fn register(r: &mut Registrar) {
    r.pure(
        "dedent",
        &["text"],
        r#"Remove the indentation common to all lines (handy for multi-line strings).
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
        r#"Put `prefix` in front of every line of `text`.
```rhai
print(prefix(run_silent("ls").stdout, "  | "));
```"#,
        |t: &str, p: &str| super::prefix(t, p),
    );
    r.pure(
        "name_fix",
        &["name"],
        r#"Make a safe lowercase name: letters, digits, `.` and `_` only.
```rhai
assert_eq(name_fix("My Web-App"), "my_web_app");
```"#,
        |t: &str| super::name_fix(t),
    );
    r.pure(
        "path_fix",
        &["path"],
        r#"Apply `name_fix` to the file name of a path, keeping its directory.
```rhai
assert_eq(path_fix("/tmp/My File.txt"), "/tmp/my_file.txt");
```"#,
        |t: &str| super::path_fix(t),
    );
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
