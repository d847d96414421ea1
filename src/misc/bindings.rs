//! Rhai glue for `misc`: sleep, timestamps, JSON, exit.

use std::sync::Arc;

use rhai::{Dynamic, EvalAltResult, NativeCallContext, Position, INT};

use crate::glue::{IntoRhai, RResult, Registrar};
use crate::host::Host;

use crate::outcome::ExitRequest;

pub fn register(r: &mut Registrar, host: &Arc<Host>) {
    r.engine()
        .register_type_with_name::<ExitRequest>("ExitRequest");
    // Typed overloads: they replace Rhai's own sleep(int)/sleep(float), which Ctrl-C cannot stop.
    let h = host.clone();
    r.func(
        "sleep",
        &["milliseconds"],
        r#"Pause for a number of milliseconds, as the original herodo's `sleep(5000)` (five
seconds). Ctrl-C interrupts it (`cancelled`). Throws `invalid_argument` for a negative number
or more than ten years.
```rhai
sleep(250);
```"#,
        move |ms: INT| -> RResult<()> {
            let d = crate::common::convert::millis_i64("milliseconds", ms).rhai()?;
            h.sleep(d).rhai()
        },
    );
    r.func(
        "sleep",
        &["milliseconds"],
        r#"`sleep` with a fractional number: throws `invalid_argument` (an integer is
milliseconds; write `sleep(500)` or `sleep("0.5s")`).
```rhai
sleep("0.5s");
```"#,
        |v: rhai::FLOAT| -> RResult<()> {
            Err(crate::glue::invalid(
                "milliseconds",
                format!(
                    "sleep takes whole milliseconds or a duration string: sleep({}) or sleep(\"{v}s\") instead of sleep({v})",
                    (v * 1000.0).round()
                ),
            ))
        },
    );
    let h = host.clone();
    r.func(
        "sleep",
        &["duration"],
        r#"Pause for a duration written as health checks take it: `"2s"`, `"500ms"`, `"1m30s"`.
Ctrl-C interrupts it (`cancelled`). Throws `invalid_argument` for text that is no such duration.
```rhai
sleep("1.5s");
```"#,
        move |s: &str| -> RResult<()> {
            let d = crate::common::duration::parse_go_duration(s).ok_or_else(|| {
                crate::glue::invalid(
                    "duration",
                    format!("`{s}` is not a duration like 2s, 500ms or 1m30s"),
                )
            })?;
            h.sleep(d).rhai()
        },
    );
    r.func(
        "sleep",
        &["milliseconds"],
        r#"`sleep` with a value that is neither an integer nor a duration string: throws
`invalid_argument`.
```rhai
sleep(1000);
```"#,
        move |s: Dynamic| -> RResult<()> {
            Err(crate::glue::invalid(
                "milliseconds",
                format!(
                    "expected milliseconds (an integer) or a duration string like \"2s\", got {}",
                    s.type_name()
                ),
            ))
        },
    );
    r.func(
        "println",
        &["text"],
        r#"Print a line (the original herodo's name for `print`).
```rhai
println("hello");
```"#,
        |ctx: NativeCallContext, s: Dynamic| -> RResult<()> {
            let text: rhai::ImmutableString = if s.is_string() {
                s.into_immutable_string().unwrap_or_default()
            } else {
                s.to_string().into()
            };
            // Through Rhai's own `print`, so the host's print handler (test capture) sees it.
            ctx.call_native_fn::<()>("print", (text,))
        },
    );
    r.func(
        "timestamp",
        &[],
        r#"Seconds since the Unix epoch.
```rhai
let started = timestamp();
```"#,
        super::timestamp,
    );
    r.func(
        "timestamp_ms",
        &[],
        r#"Milliseconds since the Unix epoch.
```rhai
let t0 = timestamp_ms(); run("true"); print(`${timestamp_ms() - t0} ms`);
```"#,
        super::timestamp_ms,
    );
    r.func(
        "script_dir",
        &[],
        r#"The absolute directory of the script file this call is written in (of the module, in an
imported module); the working directory for `-e`, stdin and the shell. File paths a script
passes to functions resolve against the working directory, not the script: join them to this
to reach files that ship with the script.
```rhai
let conf = file_read(`${script_dir()}/app.conf`);
```"#,
        |ctx: NativeCallContext| -> String { super::script_dir(ctx.call_source()) },
    );
    r.func(
        "cd_scriptdir",
        &[],
        r#"Make the script's directory (see `script_dir`) the working directory; returns it.
```rhai
cd_scriptdir();
```"#,
        |ctx: NativeCallContext| -> RResult<String> {
            let dir = super::script_dir(ctx.call_source());
            std::env::set_current_dir(&dir)
                .map_err(|e| crate::error::HostError::io("change directory to", &dir, e))
                .rhai()?;
            Ok(dir)
        },
    );
    r.func(
        "exit",
        &["code"],
        r#"Stop the script now; herodo exits with `code` (0-255). Cannot be caught.
Throws `invalid_argument` for a code outside 0-255.
```rhai
if which("podman") == () { print("podman missing"); exit(3); }
```"#,
        |code: INT| -> RResult<()> {
            let code = u8::try_from(code).map_err(|_| {
                crate::glue::invalid(
                    "code",
                    format!("exit code must be between 0 and 255, got {code}"),
                )
            })?;
            Err(EvalAltResult::ErrorTerminated(
                Dynamic::from(ExitRequest(i32::from(code))),
                Position::NONE,
            )
            .into())
        },
    );
    r.func(
        "exit",
        &["code"],
        r#"`exit` with a code that is not an integer: throws `invalid_argument`.
```rhai
exit(0);
```"#,
        |code: Dynamic| -> RResult<()> {
            Err(crate::glue::invalid(
                "code",
                format!(
                    "exit code must be an integer between 0 and 255, got {}",
                    crate::glue::display_type(code.type_name())
                ),
            ))
        },
    );
    r.func(
        "exit",
        &[],
        r#"Stop the script now with exit code 0.
```rhai
exit();
```"#,
        || -> RResult<()> {
            Err(
                EvalAltResult::ErrorTerminated(Dynamic::from(ExitRequest(0)), Position::NONE)
                    .into(),
            )
        },
    );
    r.pure(
        "to_json",
        &["value"],
        r#"Serialize a value (map, array, string, number, bool, ()) to compact JSON.
```rhai
print(to_json(#{name: "web", ports: [80]}));
```"#,
        |v: Dynamic| -> RResult<String> {
            serde_json::to_string(&v).map_err(|e| crate::glue::invalid("value", e.to_string()))
        },
    );
    r.pure(
        "to_json_pretty",
        &["value"],
        r#"Serialize a value to indented JSON.
```rhai
file_write("/tmp/config.json", to_json_pretty(#{verbose: true}));
```"#,
        |v: Dynamic| -> RResult<String> {
            serde_json::to_string_pretty(&v)
                .map_err(|e| crate::glue::invalid("value", e.to_string()))
        },
    );
    r.pure(
        "parse_json",
        &["text"],
        r#"Parse JSON text into maps, arrays, strings, numbers, bools and ().
Throws `parse` with the line, column and a snippet of the bad spot.
```rhai
let v = parse_json(`{"a": [1, 2]}`);
print(v.a[1]);
```"#,
        |t: &str| -> RResult<Dynamic> {
            let v = super::parse_json(t).rhai()?;
            rhai::serde::to_dynamic(v)
        },
    );
}
