//! The Rhai layer of the assertions: `assert`, `assert_eq`, `assert_ne`, `assert_true`,
//! `assert_false`, `assert_contains`, `assert_match`, `assert_throws`, `skip`, `require_tool`.
//!
//! A failed assertion throws a catchable error of kind `assertion` (so `assert_throws` can test
//! assertions). `skip` is not catchable: like `exit`, it ends the test where it stands.

use rhai::{Array, Dynamic, EvalAltResult, FnPtr, Map, NativeCallContext, Position};

use super::{first_difference, shorten, tools_required, with_msg};
use crate::error::ErrorInfo;
use crate::glue::{invalid, to_rhai_error, RResult, Registrar};

/// Kind of the error a failed assertion throws.
pub const ASSERTION: &str = crate::error::kind::ASSERTION;
/// Kind of the error `require_tool` throws when HERODO_REQUIRE_TOOLS=1 and the tool is missing.
pub const MISSING_TOOL: &str = crate::error::kind::MISSING_TOOL;

pub use crate::outcome::SkipRequest;

fn fail(message: String) -> Box<EvalAltResult> {
    to_rhai_error(ErrorInfo::new(ASSERTION, message))
}

/// A value as a test report shows it: strings quoted, containers in Rhai syntax.
pub fn show(v: &Dynamic) -> String {
    shorten(format!("{v:?}"))
}

/// Rhai's own `==`, so 1 == 1.0 and arrays/maps compare element-wise. Values of types that
/// cannot be compared are unequal.
fn equal(ctx: &NativeCallContext, a: &Dynamic, b: &Dynamic) -> bool {
    if a.is_unit() || b.is_unit() {
        return a.is_unit() && b.is_unit();
    }
    ctx.call_native_fn::<bool>("==", (a.clone(), b.clone()))
        .unwrap_or(false)
}

fn check_eq(ctx: &NativeCallContext, a: Dynamic, b: Dynamic, msg: &str) -> RResult<()> {
    if equal(ctx, &a, &b) {
        return Ok(());
    }
    let mut text = format!(
        "assert_eq failed\n  expected: {}\n    actual: {}",
        show(&b),
        show(&a)
    );
    if let (Some(x), Some(y)) = (
        a.read_lock::<rhai::ImmutableString>(),
        b.read_lock::<rhai::ImmutableString>(),
    ) {
        if let Some(i) = first_difference(&x, &y) {
            text.push_str(&format!("\n  first difference at character {i}"));
        }
    }
    Err(fail(with_msg(text, msg)))
}

fn check_ne(ctx: &NativeCallContext, a: Dynamic, b: Dynamic, msg: &str) -> RResult<()> {
    if !equal(ctx, &a, &b) {
        return Ok(());
    }
    Err(fail(with_msg(
        format!("assert_ne failed: both values are {}", show(&a)),
        msg,
    )))
}

fn check_contains(
    ctx: &NativeCallContext,
    hay: Dynamic,
    needle: Dynamic,
    msg: &str,
) -> RResult<()> {
    let found = if let Some(s) = hay.read_lock::<rhai::ImmutableString>() {
        if !needle.is_string() {
            return Err(invalid(
                "needle",
                format!(
                    "searching a string needs a string, got {}",
                    needle.type_name()
                ),
            ));
        }
        s.contains(needle.to_string().as_str())
    } else if let Some(arr) = hay.read_lock::<Array>() {
        arr.iter().any(|v| equal(ctx, v, &needle))
    } else if let Some(map) = hay.read_lock::<Map>() {
        map.contains_key(needle.to_string().as_str())
    } else {
        return Err(invalid(
            "haystack",
            format!(
                "assert_contains works on strings, arrays and maps, not {}",
                hay.type_name()
            ),
        ));
    };
    if found {
        return Ok(());
    }
    Err(fail(with_msg(
        format!(
            "assert_contains failed\n  looked for: {}\n          in: {}",
            show(&needle),
            show(&hay)
        ),
        msg,
    )))
}

fn check_match(text: &str, pattern: &str, msg: &str) -> RResult<()> {
    let re = regex::Regex::new(pattern).map_err(|e| invalid("regex", e.to_string()))?;
    if re.is_match(text) {
        return Ok(());
    }
    Err(fail(with_msg(
        format!(
            "assert_match failed\n  pattern: {pattern}\n     text: {}",
            show(&Dynamic::from(text.to_string()))
        ),
        msg,
    )))
}

/// The error value a caught error would have in `catch (e)`.
fn caught_value(err: &EvalAltResult) -> Dynamic {
    match err.unwrap_inner() {
        EvalAltResult::ErrorRuntime(v, _) => v.clone(),
        other => {
            let mut m = Map::new();
            m.insert("kind".into(), "script".into());
            let text = other.to_string();
            let text = match text.rfind(" (line ") {
                Some(i) if text.ends_with(')') => text[..i].to_string(),
                _ => text,
            };
            m.insert("message".into(), text.into());
            m.into()
        }
    }
}

fn check_throws(ctx: &NativeCallContext, f: FnPtr, want_kind: Option<&str>) -> RResult<Dynamic> {
    match f.call_within_context::<Dynamic>(ctx, ()) {
        Ok(v) => Err(fail(format!(
            "assert_throws failed: expected an error{}, but the function returned {}",
            want_kind
                .map(|k| format!(" of kind `{k}`"))
                .unwrap_or_default(),
            show(&v)
        ))),
        Err(e) if matches!(e.unwrap_inner(), EvalAltResult::ErrorTerminated(..)) => Err(e),
        Err(e) => {
            let value = caught_value(&e);
            if let Some(k) = want_kind {
                let got = value
                    .read_lock::<Map>()
                    .and_then(|m| m.get("kind").map(|v| v.to_string()));
                if got.as_deref() != Some(k) {
                    return Err(fail(format!(
                        "assert_throws failed: expected kind `{k}`, got {}\n  error: {}",
                        got.map_or("no kind".to_string(), |g| format!("`{g}`")),
                        show(&value)
                    )));
                }
            }
            Ok(value)
        }
    }
}

fn skip_now(reason: &str) -> Box<EvalAltResult> {
    EvalAltResult::ErrorTerminated(
        Dynamic::from(SkipRequest(reason.to_string())),
        Position::NONE,
    )
    .into()
}

pub fn register(r: &mut Registrar) {
    r.engine()
        .register_type_with_name::<SkipRequest>("SkipRequest");
    r.func(
        "assert",
        &["condition", "message"],
        r#"Fail with `message` unless `condition` is true (kind `assertion`).
```rhai
assert(exist("/etc/hosts"), "hosts file must exist");
```"#,
        |c: bool, msg: &str| -> RResult<()> {
            if c {
                Ok(())
            } else {
                Err(fail(format!("assertion failed: {msg}")))
            }
        },
    );
    r.func(
        "assert",
        &["condition"],
        r#"Fail unless `condition` is true.
```rhai
assert(1 + 1 == 2);
```"#,
        |c: bool| -> RResult<()> {
            if c {
                Ok(())
            } else {
                Err(fail("assertion failed".into()))
            }
        },
    );
    r.func(
        "assert_true",
        &["condition"],
        r#"Fail unless `condition` is true (herodo-compatible name for `assert`).
```rhai
assert_true(which("sh") != ());
```"#,
        |c: bool| -> RResult<()> {
            if c {
                Ok(())
            } else {
                Err(fail("assert_true failed: the value is false".into()))
            }
        },
    );
    r.func(
        "assert_true",
        &["condition", "message"],
        r#"Fail with `message` unless `condition` is true.
```rhai
assert_true(exist("/tmp"), "/tmp must exist");
```"#,
        |c: bool, msg: &str| -> RResult<()> {
            if c {
                Ok(())
            } else {
                Err(fail(format!("assert_true failed: {msg}")))
            }
        },
    );
    r.func(
        "assert_false",
        &["condition"],
        r#"Fail unless `condition` is false.
```rhai
assert_false(exist("/no/such/path"));
```"#,
        |c: bool| -> RResult<()> {
            if !c {
                Ok(())
            } else {
                Err(fail("assert_false failed: the value is true".into()))
            }
        },
    );
    r.func(
        "assert_false",
        &["condition", "message"],
        r#"Fail with `message` unless `condition` is false.
```rhai
assert_false(tcp_check("127.0.0.1", 1), "nothing listens on port 1");
```"#,
        |c: bool, msg: &str| -> RResult<()> {
            if !c {
                Ok(())
            } else {
                Err(fail(format!("assert_false failed: {msg}")))
            }
        },
    );
    r.func(
        "assert_eq",
        &["actual", "expected"],
        r#"Fail unless `actual == expected`; the failure shows both values.
```rhai
assert_eq(run_silent("echo hi").stdout, "hi\n");
```"#,
        |ctx: NativeCallContext, a: Dynamic, b: Dynamic| check_eq(&ctx, a, b, ""),
    );
    r.func(
        "assert_eq",
        &["actual", "expected", "message"],
        r#"Fail with `message` unless `actual == expected`.
```rhai
assert_eq(1 + 2, 3, "the sum");
```"#,
        |ctx: NativeCallContext, a: Dynamic, b: Dynamic, m: &str| check_eq(&ctx, a, b, m),
    );
    r.func(
        "assert_ne",
        &["actual", "unexpected"],
        r#"Fail when `actual == unexpected`.
```rhai
assert_ne(which("sh"), "");
```"#,
        |ctx: NativeCallContext, a: Dynamic, b: Dynamic| check_ne(&ctx, a, b, ""),
    );
    r.func(
        "assert_ne",
        &["actual", "unexpected", "message"],
        r#"Fail with `message` when `actual == unexpected`.
```rhai
assert_ne(env_get("HOME", ""), "", "HOME must be set");
```"#,
        |ctx: NativeCallContext, a: Dynamic, b: Dynamic, m: &str| check_ne(&ctx, a, b, m),
    );
    r.func(
        "assert_contains",
        &["haystack", "needle"],
        r#"Fail unless a string contains a substring, an array contains an element,
or a map contains a key.
```rhai
assert_contains(run_silent("uname -a").stdout, "Linux");
assert_contains([1, 2, 3], 2);
```"#,
        |ctx: NativeCallContext, h: Dynamic, n: Dynamic| check_contains(&ctx, h, n, ""),
    );
    r.func(
        "assert_contains",
        &["haystack", "needle", "message"],
        r#"Like `assert_contains(haystack, needle)`, with a message.
```rhai
assert_contains(file_read("/etc/hosts"), "localhost", "hosts file");
```"#,
        |ctx: NativeCallContext, h: Dynamic, n: Dynamic, m: &str| check_contains(&ctx, h, n, m),
    );
    r.func(
        "assert_match",
        &["text", "regex"],
        r#"Fail unless `text` matches the regular expression `regex` (anywhere in the text).
```rhai
assert_match(run_silent("date +%Y").stdout, "^[0-9]{4}");
```"#,
        |t: &str, re: &str| check_match(t, re, ""),
    );
    r.func(
        "assert_match",
        &["text", "regex", "message"],
        r#"Like `assert_match(text, regex)`, with a message.
```rhai
assert_match(cmd(["podman", "--version"]).stdout, "podman version 4", "podman 4 expected");
```"#,
        |t: &str, re: &str, m: &str| check_match(t, re, m),
    );
    r.func(
        "assert_throws",
        &["f"],
        r#"Call `f` and fail unless it throws; returns the error (a map with `kind`, `message`).
```rhai
let e = assert_throws(|| file_read("/nope"));
assert_eq(e.kind, "not_found");
```"#,
        |ctx: NativeCallContext, f: FnPtr| check_throws(&ctx, f, None),
    );
    r.func(
        "assert_throws",
        &["f", "kind"],
        r#"Call `f` and fail unless it throws an error whose `kind` is `kind`; returns the error.
```rhai
assert_throws(|| cmd(["false"]), "command_failed");
```"#,
        |ctx: NativeCallContext, f: FnPtr, k: &str| check_throws(&ctx, f, Some(k)),
    );
    r.func(
        "skip",
        &["reason"],
        r#"Stop the current test and count it as skipped, with `reason`. Cannot be caught.
Outside `herodo test` the script ends successfully after printing the reason.
```rhai
if !env_has("SLOW_TESTS") { skip("set SLOW_TESTS=1 to run"); }
```"#,
        |reason: &str| -> RResult<()> { Err(skip_now(reason)) },
    );
    r.func(
        "require_tool",
        &["name"],
        r#"The path of program `name`; when it is missing the test is skipped, or fails with kind
`missing_tool` when HERODO_REQUIRE_TOOLS=1 (as in CI).
```rhai
let podman = require_tool("podman");
```"#,
        |name: &str| -> RResult<String> {
            if let Some(p) = crate::exec::which(name) {
                return Ok(p.display().to_string());
            }
            if tools_required() {
                return Err(to_rhai_error(
                    ErrorInfo::new(
                        MISSING_TOOL,
                        format!("required tool `{name}` is not installed (HERODO_REQUIRE_TOOLS=1 makes this a failure)"),
                    )
                    .field("tool", name),
                ));
            }
            Err(skip_now(&format!("{name} is not installed")))
        },
    );
}
