//! How errors look (file:line:col, source line, caret, call chain, command and stderr), what
//! scripts can read from caught errors, and bad input of every kind.

use crate::support::{herodo, TempDir};

#[test]
fn syntax_error_points_at_line_and_column() {
    let t = TempDir::new("syntax");
    t.write("s.rhai", "let a = 1;\nlet b = (a + ;\n");
    herodo(t.path(), ["s.rhai"])
        .run()
        .code(1)
        .stderr_has("error[syntax]")
        .stderr_has("--> s.rhai:2:")
        .stderr_has(" 2 | let b = (a + ;")
        .stderr_has("^");
}

#[test]
fn syntax_error_in_an_imported_module_names_the_module_file() {
    let t = TempDir::new("modsyntax");
    t.write("m.rhai", "fn ok() { 1 }\nfn broken( { }\n");
    t.write("main.rhai", "print(\"start\");\nimport \"m\" as m;\n");
    herodo(t.path(), ["main.rhai"])
        .run()
        .code(1)
        .stderr_has("--> m.rhai:2:")
        .stderr_has("fn broken( { }")
        .stderr_has("in module `m.rhai`, called at main.rhai:2:");
}

#[test]
fn runtime_error_in_a_function_shows_the_call_chain() {
    let t = TempDir::new("fnerr");
    t.write(
        "f.rhai",
        "fn inner(x) {\n    x.no_such_method()\n}\nfn outer() {\n    inner(1)\n}\nouter();\n",
    );
    herodo(t.path(), ["f.rhai"])
        .run()
        .code(1)
        .stderr_has("no function matches no_such_method (int)")
        .stderr_has("--> f.rhai:2:7")
        .stderr_has(" 2 |     x.no_such_method()")
        .stderr_has("in function `inner`, called at f.rhai:5:5")
        .stderr_has("in function `outer`, called at f.rhai:7:1");
}

#[test]
fn a_rethrown_error_points_at_the_call_that_failed() {
    let t = TempDir::new("rethrow");
    t.write("lib.rhai", "fn load(p) {\n    file_read(p)\n}\n");
    t.write(
        "r.rhai",
        concat!(
            "import \"lib\" as lib;\n",
            "fn fetch() {\n",
            "    run(\"exit 3\", #{silent: true});\n",
            "}\n",
            "try { fetch(); } catch (e) {\n",
            "    print(`${e.at.line}:${e.at.column}`);\n",
            "}\n",
            "try { lib::load(\"/no/such/file\"); } catch (e) {\n",
            "    print(`${e.kind} ${e.at.line} ${e.at.source.ends_with(\"lib.rhai\")}`);\n",
            "}\n",
            "try {\n",
            "    fetch();\n",
            "} catch (e) {\n",
            "    if e.kind != \"command_failed\" { print(\"unexpected\"); }\n",
            "    throw e;\n",
            "}\n",
        ),
    );
    herodo(t.path(), ["r.rhai"])
        .run()
        .code(1)
        .stdout_has("3:5\n")
        .stdout_has("not_found 2 true\n")
        .stderr_has("error[command_failed]")
        // The failing call, not the `throw`.
        .stderr_has("--> r.rhai:3:5")
        .stderr_has(" 3 |     run(\"exit 3\", #{silent: true});")
        .stderr_has("rethrown at r.rhai:15:5")
        .stderr_has("exit code: 3");
    // A string thrown and an error not rethrown are shown where they happen, as before.
    t.write("s.rhai", "let x = 1;\nthrow \"plain\";\n");
    herodo(t.path(), ["s.rhai"])
        .run()
        .code(1)
        .stderr_has("--> s.rhai:2:")
        .stderr_lacks("rethrown");
    t.write("u.rhai", "let x = 1;\nrun(\"exit 4\", #{silent: true});\n");
    herodo(t.path(), ["u.rhai"])
        .run()
        .code(1)
        .stderr_has("--> u.rhai:2:1")
        .stderr_lacks("rethrown");
}

#[test]
fn failed_command_in_an_imported_module_shows_command_and_stderr() {
    let t = TempDir::new("modcmd");
    t.write(
        "lib/ops.rhai",
        "fn deploy(dir) {\n    run(`ls ${dir}`, #{silent: true});\n}\n",
    );
    t.write(
        "main.rhai",
        "import \"lib/ops\" as ops;\n\nops::deploy(\"/definitely/missing\");\n",
    );
    let out = herodo(t.path(), ["main.rhai"]).run().code(1);
    let err = &out.stderr;
    assert!(
        err.contains("error[command_failed]: command failed with exit code 2"),
        "{err}"
    );
    assert!(err.contains("--> lib/ops.rhai:2:5"), "{err}");
    assert!(err.contains("run(`ls ${dir}`, #{silent: true});"), "{err}");
    assert!(
        err.contains("in function `deploy`, called at main.rhai:3:"),
        "{err}"
    );
    assert!(
        err.contains("= command: sh -c 'ls /definitely/missing'"),
        "{err}"
    );
    assert!(err.contains("= exit code: 2"), "{err}");
    assert!(err.contains("No such file or directory"), "{err}");
    // The caret sits under `run`.
    let lines: Vec<&str> = err.lines().collect();
    let src = lines.iter().position(|l| l.contains("run(`ls")).unwrap();
    let caret = lines[src + 1];
    let col_src = lines[src].find("run(").unwrap();
    assert_eq!(caret.find('^'), Some(col_src), "{err}");
}

#[test]
fn caught_errors_expose_kind_message_cmd_exit_code_stderr() {
    let t = TempDir::new("caught");
    let script = r#"
try {
    run("echo to-out; echo to-err >&2; exit 3", #{silent: true});
} catch (e) {
    print(e.kind);
    print(e.exit_code);
    print(e.cmd);
    let out = e.stdout;
    out.trim();
    print(out);
    print(e.stderr);
    print(e.message);
}
try { file_read("/no/such/file"); } catch (e) { print(`${e.kind} | ${e.path}`); }
try { cmd(["no-such-program-xyz"]); } catch (e) { print(e.kind); }
try { run("sleep 3", #{timeout: 0.2}); } catch (e) { print(e.kind); }
try { run("x", #{bogus: 1}); } catch (e) { print(`${e.kind}: ${e.message}`); }
try { parse_json("{bad"); } catch (e) { print(e.kind); }
try { template_render("{{ nope }}", #{}); } catch (e) { print(e.kind); }
try { process_get("no-such-process-pattern-xyz"); } catch (e) { print(e.kind); }
"#;
    let out = herodo(t.path(), ["-e", script]).run().ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "command_failed");
    assert_eq!(lines[1], "3");
    assert_eq!(lines[2], "sh -c 'echo to-out; echo to-err >&2; exit 3'");
    assert_eq!(lines[3], "to-out");
    assert_eq!(lines[4], "to-err");
    assert!(
        lines[6].starts_with("command failed with exit code 3"),
        "{}",
        out.stdout
    );
    assert_eq!(lines[7], "not_found | /no/such/file");
    assert_eq!(lines[8], "command_not_found");
    assert_eq!(lines[9], "timeout");
    assert!(
        lines[10].starts_with("invalid_argument: invalid run option: unknown key `bogus`"),
        "{}",
        out.stdout
    );
    assert_eq!(lines[11], "parse");
    assert_eq!(lines[12], "template");
    assert_eq!(lines[13], "not_found");
}

#[test]
fn secrets_never_reach_errors() {
    let t = TempDir::new("secret");
    let script = r#"cmd(["sh", "-c", "echo token=$TOKEN >&2; exit 1"], #{env: #{TOKEN: "abc-super-secret"}});"#;
    herodo(t.path(), ["-e", script])
        .run()
        .code(1)
        .stderr_has("TOKEN=*** sh -c")
        .stderr_has("token=***")
        .stderr_lacks("abc-super-secret");
    let script = r#"run("curl -u admin:hunter22 http://127.0.0.1:1/ 2>/dev/null; exit 1", #{secret: true, silent: true});"#;
    herodo(t.path(), ["-e", script])
        .run()
        .code(1)
        .stderr_has("command: sh *** ***")
        .stderr_lacks("hunter22");
}

#[test]
fn wrong_argument_types_get_clear_errors_with_the_right_signatures() {
    let t = TempDir::new("types");
    herodo(t.path(), ["-e", "file_write(1, 2)"])
        .run()
        .code(1)
        .stderr_has("no function matches file_write (int, int)")
        .stderr_has("available: file_write(path: string, content: string)");
    herodo(t.path(), ["-e", "cmd(\"ls -l\")"])
        .run()
        .code(1)
        .stderr_has("available: cmd(argv: array) -> CommandResult");
    herodo(t.path(), ["-e", "sleep(\"x\")"])
        .run()
        .code(1)
        .stderr_has("error[invalid_argument]: invalid duration: `x` is not a duration");
    herodo(t.path(), ["-e", "cmd([])"])
        .run()
        .code(1)
        .stderr_has("invalid argv");
    herodo(t.path(), ["-e", "tcp_check(\"127.0.0.1\", 99999)"])
        .run()
        .code(1)
        .stderr_has("invalid port: 99999 is not in 1..65535");
}

#[test]
fn missing_files_and_empty_directories() {
    let t = TempDir::new("missing");
    std::fs::create_dir_all(t.path().join("empty/sub")).unwrap();
    herodo(t.path(), ["empty"])
        .run()
        .code(2)
        .stderr_has("no .rhai scripts found below empty");
    herodo(t.path(), ["-e", "file_read(\"nope.txt\")"])
        .run()
        .code(1)
        .stderr_has("error[not_found]: read nope.txt");
    herodo(t.path(), ["-e", "import \"nope\" as n;"])
        .run()
        .code(1)
        .stderr_has("error[not_found]: cannot read nope.rhai");
}

#[test]
fn sandbox_limits_stop_runaway_scripts_cleanly() {
    let t = TempDir::new("limits");
    herodo(t.path(), ["--max-operations", "10000", "-e", "loop { }"])
        .run()
        .code(1)
        .stderr_has("error[limit]: too many operations");
    herodo(t.path(), ["-e", "fn r(n) { r(n + 1) } r(0);"])
        .run()
        .code(1)
        .stderr_has("error[limit]: call stack too deep");
    herodo(
        t.path(),
        [
            "--max-call-depth",
            "500",
            "-e",
            "fn r(n) { if n == 0 { 0 } else { 1 + r(n - 1) } } print(r(400));",
        ],
    )
    .run()
    .ok()
    .stdout_is("400\n");
    herodo(
        t.path(),
        [
            "--max-string-size",
            "100",
            "-e",
            "let s = \"\"; loop { s += \"xxxxxxxxxx\"; }",
        ],
    )
    .run()
    .code(1)
    .stderr_has("error[limit]");
    herodo(
        t.path(),
        [
            "--max-array-size",
            "10",
            "-e",
            "let a = []; for i in 0..20 { a.push(i); }",
        ],
    )
    .run()
    .code(1)
    .stderr_has("error[limit]");
    herodo(t.path(), ["--max-time", "0.5", "-e", "loop { }"])
        .run()
        .code(1)
        .stderr_has("ran longer than --max-time");
}

#[test]
fn ctrl_c_stops_the_running_command_and_the_script() {
    let t = TempDir::new("ctrlc");
    let child = std::process::Command::new(crate::support::BIN)
        .args([
            "-e",
            "print(\"started\"); run(\"sleep 30\"); print(\"not reached\");",
        ])
        .current_dir(t.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    let started = std::time::Instant::now();
    // SAFETY: sending SIGINT to our own child process.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(130));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("started") && !stdout.contains("not reached"),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("cancelled"));
}

/// Issue 18.6: typos at run time get a "did you mean": a swapped pair of letters in a function
/// name, a misspelt property (with the type's properties listed), a key a map does not have,
/// and an unknown option key.
#[test]
fn typos_at_run_time_name_the_nearest_real_thing() {
    let t = TempDir::new("typos");
    herodo(t.path(), ["-e", "rnu(\"echo hi\")"])
        .run()
        .code(1)
        .stderr_has("no function matches rnu (string)")
        .stderr_has("did you mean `run`?");
    herodo(
        t.path(),
        ["-e", "let r = run_silent(\"true\");\nprint(r.stdot);"],
    )
    .run()
    .code(1)
    .stderr_has("error[script]: CommandResult has no property `stdot`")
    .stderr_has("did you mean `stdout`?")
    .stderr_has("properties of CommandResult: cmd, code, duration")
    .stderr_lacks("getter is not registered");
    herodo(t.path(), ["-e", "let m = #{a: 1};\nprint(m.b.c);"])
        .run()
        .code(1)
        .stderr_has("cannot read `.c` of ()")
        .stderr_has("the map has no key `b`");
    herodo(t.path(), ["-e", "run(\"true\", #{tiemout: 1});"])
        .run()
        .code(1)
        .stderr_has("unknown key `tiemout` (did you mean `timeout`?");
}
