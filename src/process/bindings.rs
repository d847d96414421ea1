//! Rhai glue for `process`: run, cmd, which, process_list, process_get, kill.

use std::sync::Arc;

use rhai::{Array, Dynamic, Map, INT};

use super::{CommandResult, Executor, ProcessInfo, ProcessKiller, RunOptions};
use crate::glue::{invalid, map_of, string_array, IntoRhai, Opts, RResult, Registrar};
use crate::host::Host;

const RUN_KEYS: &[&str] = &[
    "ignore_error",
    "silent",
    "timeout",
    "cwd",
    "env",
    "stdin",
    "secret",
    "interactive",
];

fn options(host: &Host, map: &Map) -> RResult<RunOptions> {
    let o = Opts::new("run", map, RUN_KEYS)?;
    let env = o.string_map("env")?;
    for (k, v) in &env {
        // Registered now, so even an error raised before the command runs is scrubbed.
        host.register_secret(v);
        crate::common::validate::env_name("run.env", k).rhai()?;
    }
    Ok(RunOptions {
        ignore_error: o.bool("ignore_error")?.unwrap_or(false),
        silent: o.bool("silent")?.unwrap_or(false),
        timeout: o.timeout("timeout")?,
        cwd: o.string("cwd")?.map(Into::into),
        env,
        stdin: o.string("stdin")?,
        secret: o.bool("secret")?.unwrap_or(false),
        interactive: o.bool("interactive")?.unwrap_or(false),
    })
}

fn run_line(host: &Host, line: &str, opts: RunOptions) -> RResult<CommandResult> {
    if line.trim().is_empty() {
        return Err(invalid("command", "is empty"));
    }
    super::execute(host, super::shell_cmd(line, &opts), &opts).rhai()
}

fn run_argv(host: &Host, argv: &Array, opts: RunOptions) -> RResult<CommandResult> {
    let argv = string_array(argv);
    let cmd = super::argv_cmd(&argv, &opts).rhai()?;
    super::execute(host, cmd, &opts).rhai()
}

fn info_map(p: ProcessInfo) -> Map {
    map_of([
        ("pid", Dynamic::from(p.pid)),
        ("ppid", Dynamic::from(p.ppid)),
        ("name", p.name.into()),
        ("cmdline", p.cmdline.into()),
        ("memory", Dynamic::from(p.memory_kb)),
        ("state", p.state.into()),
        ("cpu", Dynamic::from(p.cpu)),
    ])
}

pub fn register(r: &mut Registrar, host: &Arc<Host>) {
    r.engine()
        .register_type_with_name::<CommandResult>("CommandResult");
    r.getter(
        "stdout",
        "Everything the command wrote to stdout.",
        |c: &mut CommandResult| c.stdout.clone(),
    )
    .getter(
        "out",
        r#"stdout without leading and trailing whitespace (the trailing newline, mostly): what
`$(...)` gives in a shell. `r.stdout.trim()` does not do this: Rhai's `trim` changes a string
in place and returns nothing.
```rhai
let kernel = run_silent("uname -r").out;
```"#,
        |c: &mut CommandResult| c.stdout.trim().to_string(),
    )
    .getter(
        "stderr",
        "Everything the command wrote to stderr.",
        |c: &mut CommandResult| c.stderr.clone(),
    )
    .getter(
        "success",
        "True when the command exited with code 0.",
        |c: &mut CommandResult| c.success,
    )
    .getter(
        "code",
        "The exit code (128 + signal number when killed by a signal).",
        |c: &mut CommandResult| c.code,
    )
    .getter(
        "signal",
        "The signal that killed the command, or () when it exited.",
        |c: &mut CommandResult| c.signal.map_or(Dynamic::UNIT, Dynamic::from),
    )
    .getter(
        "cmd",
        "The command line that ran, shell-quoted, secrets shown as ***.",
        |c: &mut CommandResult| c.cmd.clone(),
    )
    .getter(
        "duration",
        "How long the command ran, in seconds, rounded to the millisecond.",
        |c: &mut CommandResult| (c.duration.as_secs_f64() * 1000.0).round() / 1000.0,
    )
    .getter(
        "truncated",
        "True when the output went over the 32 MiB capture cap (per stream) and only its \
         last 32 MiB were kept in `stdout`/`stderr`.",
        |c: &mut CommandResult| c.truncated,
    );
    r.pure(
        "to_string",
        &["result"],
        "Show a CommandResult.",
        |c: &mut CommandResult| {
            format!(
                "CommandResult(code: {}, success: {}, stdout: {:?}, stderr: {:?}{})",
                c.code,
                c.success,
                c.stdout,
                c.stderr,
                if c.truncated { ", truncated: true" } else { "" }
            )
        },
    );
    r.pure(
        "to_debug",
        &["result"],
        "Show a CommandResult.",
        |c: &mut CommandResult| format!("{c:?}"),
    );

    let h = host.clone();
    r.func(
        "run",
        &["command"],
        r#"Run a shell command line with `sh -c` and return a CommandResult.
Output is shown while it runs. This is herodo's one use of a shell: the line is
yours, so quote values yourself; to pass values safely use `cmd([...])`.
Throws `command_failed` (with `cmd`, `exit_code`, `stdout`, `stderr`) on a non-zero exit,
`timeout` after the default timeout, `cancelled` on Ctrl-C.
```rhai
let r = run("uname -s");
print(r.stdout);
```"#,
        move |line: &str| run_line(&h, line, RunOptions::default()),
    );
    let h = host.clone();
    r.func(
        "run",
        &["command", "options"],
        r#"Run a shell command line with options:
`ignore_error` (return a failed result instead of throwing), `silent` (do not show output),
`timeout` (seconds, 0 = none), `cwd`, `env` (map; values are never logged), `stdin` (string),
`secret` (hide the whole command line in logs and errors), `interactive` (give the
command the terminal so it can prompt, e.g. for an ssh or sudo password; nothing is captured,
so `stdout`/`stderr` of the result are empty).
```rhai
let r = run("grep -q x /etc/hostname", #{ignore_error: true, silent: true});
if !r.success { print(`exit code ${r.code}`); }
```"#,
        move |line: &str, opts: Map| run_line(&h, line, options(&h, &opts)?),
    );
    let h = host.clone();
    r.func(
        "run_silent",
        &["command"],
        r#"Run a shell command line without showing its output (same as `run(cmd, #{silent: true})`).
```rhai
let name = run_silent("hostname").stdout;
```"#,
        move |line: &str| {
            run_line(
                &h,
                line,
                RunOptions {
                    silent: true,
                    ..RunOptions::default()
                },
            )
        },
    );
    let h = host.clone();
    r.func(
        "cmd",
        &["argv"],
        r#"Run a program directly from an argv array, with no shell: values are passed as they are.
Output is captured, not shown (use `#{silent: false}` to show it).
Throws `command_failed` on a non-zero exit, `command_not_found` if the program is missing.
```rhai
let r = cmd(["ls", "-l", "/tmp/a file with spaces"]);
```"#,
        move |argv: Array| {
            run_argv(
                &h,
                &argv,
                RunOptions {
                    silent: true,
                    ..RunOptions::default()
                },
            )
        },
    );
    let h = host.clone();
    r.func(
        "cmd",
        &["argv", "options"],
        r#"Run argv directly with the same options as `run` (output is captured unless `silent: false`).
```rhai
let r = cmd(["sh", "-c", "exit 3"], #{ignore_error: true});
assert_eq(r.code, 3);
```"#,
        move |argv: Array, opts: Map| {
            let mut o = options(&h, &opts)?;
            if !opts.contains_key("silent") {
                o.silent = true;
            }
            run_argv(&h, &argv, o)
        },
    );
    r.func(
        "which",
        &["name"],
        r#"The full path of a program on PATH, or `()` when it is not installed (the original
herodo's contract).
```rhai
if which("podman") == () { print("podman is missing"); }
```"#,
        |name: &str| {
            crate::exec::which(name).map_or(Dynamic::UNIT, |p| p.display().to_string().into())
        },
    );
    register_builders(r, host);
    r.func(
        "process_list",
        &["pattern"],
        r#"Processes whose name or command line contains `pattern` ("" for all), as maps with
`pid`, `ppid`, `name`, `cmdline`, `memory` (KiB), `state` and `cpu` (average percent of one
core over the process's life, as `ps` shows it). herodo itself is left out.
```rhai
for p in process_list("sleep") { print(`${p.pid} ${p.cmdline}`); }
```"#,
        |pattern: &str| -> RResult<Array> {
            Ok(super::list(pattern)
                .rhai()?
                .into_iter()
                .map(|p| Dynamic::from_map(info_map(p)))
                .collect())
        },
    );
    r.func(
        "process_get",
        &["pattern"],
        r#"The one process matching `pattern` (see `process_list`).
Throws `not_found` when none matches and `ambiguous` when several do.
```rhai
let p = process_get("docker-registry");
print(p.pid);
```"#,
        |pattern: &str| -> RResult<Map> { Ok(info_map(super::get(pattern).rhai()?)) },
    );
    let h = host.clone();
    r.func(
        "kill",
        &["pattern"],
        r#"Send SIGTERM to every process whose name or command line contains `pattern`;
returns how many were signalled. herodo and its parents are never matched.
```rhai
kill("my-test-server");
```"#,
        move |pattern: &str| -> RResult<INT> { Ok(super::kill(&h, pattern).rhai()? as INT) },
    );
}

/// The original herodo's builders: `execute(line)` (a command not run yet) and
/// `process_killer()`, and `.execute()` on a result.
fn register_builders(r: &mut Registrar, host: &Arc<Host>) {
    r.pure(
        "execute",
        &["result"],
        r#"The result itself: `run(line)` has already run, so the original herodo's
`run(line).execute()` idiom works unchanged.
```rhai
if run("which sh").execute().success { print("sh is there"); }
```"#,
        |c: &mut CommandResult| c.clone(),
    );
    r.engine().register_type_with_name::<Executor>("Executor");
    r.pure(
        "execute",
        &["command"],
        r#"A shell command line that is not run yet (the original herodo's builder): set
`.silent()`, `.ignore_error()`, `.log()`, `.env(k, v)`, `.timeout(secs)`, then `.run()` (or
`.execute()`) returns a CommandResult exactly as `run(line, options)` would.
```rhai
let r = execute("echo hi").silent().run();
assert_eq(r.out, "hi");
```"#,
        |line: &str| Executor::new(line),
    );
    r.pure(
        "silent",
        &["command"],
        "Do not show the command's output while it runs.\n```rhai\nexecute(\"ls /\").silent().run();\n```",
        |mut e: Executor| {
            e.opts.silent = true;
            e
        },
    );
    r.pure(
        "ignore_error",
        &["command"],
        "Return a failed result instead of throwing on a non-zero exit.\n```rhai\nlet r = execute(\"false\").ignore_error().run();\nassert_false(r.success);\n```",
        |mut e: Executor| {
            e.opts.ignore_error = true;
            e
        },
    );
    r.pure(
        "log",
        &["command"],
        "Print the command line (`+ line`, on stderr) before it runs.\n```rhai\nexecute(\"uname -r\").log().run();\n```",
        |mut e: Executor| {
            e.log = true;
            e
        },
    );
    let h = host.clone();
    r.func(
        "env",
        &["command", "name", "value"],
        "Set an environment variable for the command (the value is never logged).\n```rhai\nlet r = execute(\"echo $GREETING\").env(\"GREETING\", \"hi\").silent().run();\n```",
        move |mut e: Executor, k: &str, v: &str| -> RResult<Executor> {
            crate::common::validate::env_name("env", k).rhai()?;
            h.register_secret(v);
            e.opts.env.push((k.to_string(), v.to_string()));
            Ok(e)
        },
    );
    r.pure(
        "timeout",
        &["command", "seconds"],
        "Stop the command after `seconds` (0 = no limit) and throw `timeout`.\n```rhai\nexecute(\"sleep 1\").timeout(10).run();\n```",
        |mut e: Executor, secs: Dynamic| -> RResult<Executor> {
            let d = crate::glue::seconds(&secs, "timeout")?;
            e.opts.timeout = Some(d);
            Ok(e)
        },
    );
    for name in ["run", "execute"] {
        let h = host.clone();
        r.func(
            name,
            &["command"],
            "Run the command now and return its CommandResult (throws `command_failed` on a \
             non-zero exit unless `.ignore_error()`).\n```rhai\nlet r = execute(\"echo hi\").silent().run();\n```",
            move |e: Executor| super::execute_line(&h, &e).rhai(),
        );
    }
    let h = host.clone();
    r.pure(
        "to_string",
        &["command"],
        "Show the command line (secret values as ***).\n```rhai\nprint(execute(\"ls\").to_string());\n```",
        move |e: &mut Executor| h.redact(&format!("Executor({:?})", e.line)),
    );

    r.engine()
        .register_type_with_name::<ProcessKiller>("ProcessKiller");
    r.pure(
        "process_killer",
        &[],
        r#"A builder that kills processes (the original herodo's): `.pattern(s)` or `.pid(n)`,
`.recursive(true)` for their descendants too, then `.kill()` sends SIGTERM and returns how
many were signalled. herodo and the processes that started it are never matched.
```rhai
process_killer().pattern("my-test-server").recursive(true).kill();
```"#,
        ProcessKiller::default,
    );
    r.pure(
        "pattern",
        &["killer", "pattern"],
        "Kill the processes whose name or command line contains `pattern`.\n```rhai\nprocess_killer().pattern(\"my-server\").kill();\n```",
        |mut k: ProcessKiller, p: &str| {
            k.pattern = Some(p.to_string());
            k
        },
    );
    r.pure(
        "pid",
        &["killer", "pid"],
        "Kill the process with this pid.\n```rhai\nprocess_killer().pid(12345).kill();\n```",
        |mut k: ProcessKiller, pid: INT| {
            k.pid = Some(pid);
            k
        },
    );
    r.pure(
        "recursive",
        &["killer", "recursive"],
        "Kill the descendants too (children before parents).\n```rhai\nprocess_killer().pid(12345).recursive(true).kill();\n```",
        |mut k: ProcessKiller, yes: bool| {
            k.recursive = yes;
            k
        },
    );
    let h = host.clone();
    r.func(
        "kill",
        &["killer"],
        r#"Send SIGTERM to what the killer names; returns how many processes were signalled.
Throws `invalid_argument` without a pattern or pid (or with both), `not_found` for a pid
that does not exist.
```rhai
let n = process_killer().pattern("my-test-server").kill();
```"#,
        move |k: ProcessKiller| -> RResult<INT> { Ok(super::kill_with(&h, &k).rhai()? as INT) },
    );
    r.pure(
        "to_string",
        &["killer"],
        "Show the killer.\n```rhai\nprint(process_killer().pid(1234).to_string());\n```",
        |k: &mut ProcessKiller| format!("{k:?}"),
    );
}
