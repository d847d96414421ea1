//! The command line: files, directories, -e, stdin, check, fns, exit codes, shebang, ARGS,
//! imports, --dry-run, -C, --help.

use crate::support::{herodo, TempDir};

#[test]
fn runs_a_file_with_args() {
    let t = TempDir::new("file");
    t.write(
        "a.rhai",
        r#"print(`n=${ARGS.len()} first=${ARGS[0]} last=${ARGS[2]}`);"#,
    );
    herodo(t.path(), ["a.rhai", "x", "--y", "z z"])
        .run()
        .ok()
        .stdout_is("n=3 first=x last=z z\n");
}

#[test]
fn runs_a_directory_in_sorted_order_and_stops_at_first_failure() {
    let t = TempDir::new("dir");
    t.write("b.rhai", r#"print("b");"#);
    t.write("a.rhai", r#"print("a");"#);
    t.write("c/1.rhai", r#"print("c1");"#);
    t.write("c/2_fails.rhai", r#"print("c2"); throw "boom";"#);
    t.write("d.rhai", r#"print("d");"#);
    t.write("notes.txt", "not a script");
    herodo(t.path(), ["."])
        .run()
        .code(1)
        .stdout_is("a\nb\nc1\nc2\n")
        .stderr_has("c/2_fails.rhai failed")
        .stderr_has("stopped after 4 of 5 scripts")
        .stderr_has("boom");
}

#[test]
fn a_passing_directory_exits_zero() {
    let t = TempDir::new("dirok");
    t.write("x/1.rhai", r#"print(1);"#);
    t.write("x/2.rhai", r#"print(2);"#);
    herodo(t.path(), ["x"]).run().ok().stdout_is("1\n2\n");
}

#[test]
fn eval_and_stdin() {
    let t = TempDir::new("eval");
    herodo(t.path(), ["-e", "print(ARGS[0] + 1)", "41"])
        .run()
        .ok()
        .stdout_is("411\n");
    herodo(t.path(), ["-", "q"])
        .stdin("print(`from stdin ${ARGS[0]}`);")
        .run()
        .ok()
        .stdout_is("from stdin q\n");
    // No script argument and stdin is not a terminal: the script comes from stdin.
    herodo(t.path(), Vec::<&str>::new())
        .stdin("print(6 * 7);")
        .run()
        .ok()
        .stdout_is("42\n");
}

#[test]
fn exit_codes() {
    let t = TempDir::new("codes");
    herodo(t.path(), ["-e", "let x = 1;"]).run().code(0);
    herodo(t.path(), ["-e", "exit(7)"])
        .run()
        .code(7)
        .stderr_is_empty();
    herodo(t.path(), ["-e", "fn f() { exit(3); } f();"])
        .run()
        .code(3);
    herodo(
        t.path(),
        ["-e", "try { exit(4); } catch { print(\"caught\"); }"],
    )
    .run()
    .code(4)
    .stdout_lacks("caught");
    herodo(t.path(), ["-e", "throw \"x\""]).run().code(1);
    herodo(t.path(), ["--no-such-flag"]).run().code(2);
    herodo(t.path(), ["missing.rhai"])
        .run()
        .code(2)
        .stderr_has("no such script: missing.rhai");
}

trait StderrEmpty {
    fn stderr_is_empty(self) -> Self;
}

impl StderrEmpty for crate::support::Done {
    fn stderr_is_empty(self) -> Self {
        assert_eq!(self.stderr, "", "stderr not empty");
        self
    }
}

#[test]
fn shebang_scripts_run_directly() {
    use std::os::unix::fs::PermissionsExt;
    let t = TempDir::new("shebang");
    // Put herodo on PATH so `#!/usr/bin/env herodo` finds it.
    let bin = t.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(crate::support::BIN, bin.join("herodo")).unwrap();
    let script = t.write(
        "tool",
        "#!/usr/bin/env herodo\nprint(`hello ${ARGS[0]}`);\nthrow \"line three\";\n",
    );
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new(&script)
        .arg("you")
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello you\n");
    let err = String::from_utf8_lossy(&out.stderr);
    // Line numbers count the shebang line.
    assert!(err.contains("tool:3:1"), "{err}");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn non_rhai_files_are_refused_unless_they_have_a_herodo_shebang() {
    let t = TempDir::new("nonrhai");
    t.write("notes.txt", "print(1);");
    herodo(t.path(), ["notes.txt"])
        .run()
        .code(2)
        .stderr_has("is not a .rhai script");
    t.write("tool", "#!/usr/bin/env herodo\nprint(\"ok\");");
    herodo(t.path(), ["tool"]).run().ok().stdout_is("ok\n");
}

#[test]
fn imports_resolve_relative_to_the_importer_and_std() {
    let t = TempDir::new("imports");
    t.write(
        "lib/util.rhai",
        "fn twice(x) { x * 2 }\nimport \"helper\" as h;\nfn via_helper() { h::name() }",
    );
    t.write("lib/helper.rhai", "fn name() { \"helper\" }");
    t.write(
        "app/main.rhai",
        r#"
import "../lib/util" as u;
import "std/retry" as retry;
print(u::twice(21));
print(u::via_helper());
let n = 0;
let v = retry::retry(|| { n += 1; if n < 3 { throw "again" } n }, 5, 0);
print(`retry gave ${v}`);
"#,
    );
    // Run from another directory: resolution must not depend on the working directory.
    herodo(t.path().join("lib").as_path(), ["../app/main.rhai"])
        .run()
        .ok()
        .stdout_is("42\nhelper\nretry gave 3\n");
    herodo(t.path(), ["-e", "import \"std/nope\" as x;"])
        .run()
        .code(1)
        .stderr_has("no stdlib module `std/nope`")
        .stderr_has("available: retry");
}

#[test]
fn import_cycles_are_reported() {
    let t = TempDir::new("cycle");
    t.write("a.rhai", "import \"b\" as b;");
    t.write("b.rhai", "import \"a\" as a;");
    herodo(t.path(), ["a.rhai"])
        .run()
        .code(1)
        .stderr_has("import cycle");
}

#[test]
fn check_reports_every_broken_file_and_runs_nothing() {
    let t = TempDir::new("check");
    let marker = t.path().join("ran");
    t.write(
        "good.rhai",
        &format!("file_write(\"{}\", \"x\");", marker.display()),
    );
    t.write("sub/bad1.rhai", "let x = ;\n");
    t.write("sub/bad2.rhai", "print(1);\nfn f( {\n");
    herodo(t.path(), ["check", "."])
        .run()
        .code(1)
        .stdout_has("checked 3 files: 2 with errors")
        .stderr_has("sub/bad1.rhai:1:")
        .stderr_has("sub/bad2.rhai:2:")
        .stderr_has("error[syntax]");
    assert!(!marker.exists(), "check ran a script");
    herodo(t.path(), ["check", "good.rhai"])
        .run()
        .ok()
        .stdout_has("checked 1 file: no errors");
    assert!(!marker.exists(), "check ran a script");
    herodo(t.path(), ["check", "nope.rhai"]).run().code(2);
}

#[test]
fn fns_lists_functions_with_docs() {
    let t = TempDir::new("fns");
    let out = herodo(t.path(), ["fns", "--json"]).run().ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let fns = v.as_array().unwrap();
    let names: Vec<&str> = fns.iter().filter_map(|f| f["name"].as_str()).collect();
    for expected in [
        "run",
        "cmd",
        "which",
        "process_list",
        "process_get",
        "kill",
        "exist",
        "file_read",
        "file_write",
        "file_write_append",
        "file_size",
        "mkdir",
        "delete",
        "copy",
        "mv",
        "find_file",
        "find_files",
        "find_dir",
        "find_dirs",
        "chdir",
        "env_get",
        "env_set",
        "tmpdir",
        "mktemp",
        "dedent",
        "prefix",
        "name_fix",
        "path_fix",
        "template_render",
        "tcp_check",
        "wait_for_port",
        "http_status",
        "sleep",
        "timestamp",
        "exit",
        "to_json",
        "parse_json",
        "CommandResult.stdout",
    ] {
        assert!(names.contains(&expected), "fns lacks {expected}");
    }
    // Every function has a summary and an example.
    for f in fns {
        let name = f["name"].as_str().unwrap();
        assert!(
            !f["summary"].as_str().unwrap().is_empty(),
            "{name} has no doc"
        );
        if !name.contains('.') && !name.starts_with("to_") {
            assert!(
                f["doc"].as_str().unwrap().contains("```rhai"),
                "{name} has no example"
            );
        }
    }
    let run = fns
        .iter()
        .find(|f| f["signature"] == "run(command: string, options: map) -> CommandResult")
        .expect("run/2 signature");
    assert_eq!(run["params"][1]["name"], "options");
    herodo(t.path(), ["fns", "file_"])
        .run()
        .ok()
        .stdout_has("file_read(path: string) -> string")
        .stdout_lacks("tcp_check");
}

#[test]
fn dry_run_prints_commands_and_runs_nothing() {
    let t = TempDir::new("dry");
    let marker = t.path().join("made-by-run");
    let script = format!(
        "let r = run(\"touch {m}\");\nprint(`success=${{r.success}}`);\ncmd([\"touch\", \"{m}\"], #{{env: #{{TOKEN: \"hunter2-secret\"}}}});",
        m = marker.display()
    );
    herodo(t.path(), ["--dry-run", "-e", &script])
        .run()
        .ok()
        .stdout_has(&format!("[dry-run] sh -c 'touch {}'", marker.display()))
        .stdout_has(&format!("[dry-run] TOKEN=*** touch {}", marker.display()))
        .stdout_has("success=true")
        .stdout_lacks("hunter2-secret");
    assert!(!marker.exists(), "--dry-run executed a command");
}

#[test]
fn verbose_echoes_commands_with_duration_and_hides_secrets() {
    let t = TempDir::new("verbose");
    herodo(
        t.path(),
        [
            "-v",
            "-e",
            "cmd([\"true\"], #{env: #{PW: \"very-secret-pw\"}});",
        ],
    )
    .run()
    .ok()
    .stderr_has("+ PW=*** true")
    .stderr_has("(exit code 0, ")
    .stderr_lacks("very-secret-pw");
}

#[test]
fn verbose_says_when_output_was_truncated() {
    let t = TempDir::new("verbose-trunc");
    herodo(
        t.path(),
        [
            "-v",
            "-e",
            r#"let r = cmd(["head", "-c", "40000000", "/dev/zero"]); print(`t=${r.truncated}`);
let s = cmd(["echo", "small"]); print(`s=${s.truncated}`);"#,
        ],
    )
    .run()
    .ok()
    .stdout_has("t=true")
    .stdout_has("s=false")
    .stderr_has("(exit code 0, ")
    .stderr_has("output truncated: only the last 32 MiB of a stream kept");
}

#[test]
fn dash_c_changes_directory_and_timeout_flag_applies() {
    let t = TempDir::new("dashc");
    t.write("sub/s.rhai", "print(cwd());");
    let canon = t.path().join("sub").canonicalize().unwrap();
    herodo(t.path(), ["-C", "sub", "s.rhai"])
        .run()
        .ok()
        .stdout_is(&format!("{}\n", canon.display()));
    herodo(t.path(), ["--timeout", "0.3", "-e", "run(\"sleep 5\")"])
        .run()
        .code(1)
        .stderr_has("error[timeout]: command timed out after 300ms");
}

#[test]
fn help_is_complete() {
    let t = TempDir::new("help");
    let out = herodo(t.path(), ["--help"]).run().ok();
    for flag in [
        "--dry-run",
        "--verbose",
        "--timeout",
        "-C",
        "--eval",
        "--max-operations",
        "--max-call-depth",
        "--max-string-size",
        "--max-array-size",
        "--max-map-size",
        "--max-time",
        "check",
        "fns",
        "clean",
        "Exit codes",
        "143 SIGTERM",
        "reads such as file_read",
        "belongs to the script",
    ] {
        assert!(out.stdout.contains(flag), "--help lacks {flag}");
    }
    herodo(t.path(), ["check", "--help"])
        .run()
        .ok()
        .stdout_has("syntax error");
    herodo(t.path(), ["fns", "--help"])
        .run()
        .ok()
        .stdout_has("--json");
    herodo(t.path(), ["--version"])
        .run()
        .ok()
        .stdout_has("herodo ");
}

#[test]
fn the_tour_runs() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    herodo(root, ["scripts/tour.rhai", "ci"])
        .run()
        .ok()
        .stdout_has("herodo demo for ci")
        .stdout_has("listen = \"127.0.0.1:8080\"")
        .stdout_has("caught command_failed: exit code 2")
        .stdout_has("caught timeout: command timed out after 200ms")
        .stdout_has("done");
}

#[test]
fn the_readme_demo_builds_runs_calls_and_cleans_up() {
    if !crate::support::require(&["podman", "buildah"]) {
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let _engines = crate::support::engine_lock();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    herodo(root, ["--engine", "podman", "scripts/demo.rhai", &port])
        .run()
        .ok()
        .stdout_has("1. building localhost/herodo-demo:latest with buildah")
        .stdout_has("3. healthy")
        .stdout_has("-> 200: <h1>hello from herodo</h1>")
        .stdout_has("response:200")
        .stdout_has("6. removed herodo-demo")
        .stdout_has("done");
    let left = std::process::Command::new("podman")
        .args(["ps", "-a", "--format", "{{.Names}}"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&left.stdout).contains("herodo-demo"));
}

#[test]
fn container_dry_run_prints_engine_argv_without_env_values() {
    let t = TempDir::new("cdry");
    let script = r#"
let c = nerdctl_container_from_image("web", "localhost/busybox:test")
    .with_port("127.0.0.1:8080:80")
    .with_env("DB_PASSWORD", "correct-horse-battery")
    .with_snapshotter("native")
    .build();
print(c.container_id);
c.remove();
"#;
    herodo(t.path(), ["--dry-run", "--engine", "nerdctl", "-e", script])
        .run()
        .ok()
        .stdout_has("[dry-run] DB_PASSWORD=*** nerdctl run -d --name web --label 'io.herodo.owner=")
        .stdout_has(
            "' -p 127.0.0.1:8080:80 -e DB_PASSWORD --snapshotter native localhost/busybox:test",
        )
        .stdout_has("dry-run-web")
        .stdout_has("[dry-run] nerdctl rm -f web")
        .stdout_lacks("correct-horse-battery");
}

#[test]
fn missing_container_engine_has_its_own_kind() {
    let t = TempDir::new("noengine");
    herodo(
        t.path(),
        [
            "-e",
            "try { container_engine(); } catch (e) { print(e.kind); }",
        ],
    )
    .env("HERODO_CONTAINER_ENGINE", "nerdctl")
    .env("PATH", "/nonexistent")
    .run()
    .ok()
    .stdout_is("engine_not_installed\n");
    herodo(t.path(), ["--engine", "lxc", "-e", "container_engine()"])
        .run()
        .code(1)
        .stderr_has(
            "error[invalid_argument]: invalid engine: `lxc` is not nerdctl, podman or docker",
        );
}

#[test]
fn everything_after_the_script_belongs_to_it() {
    let t = TempDir::new("after-script");
    t.write("tool.rhai", "for a in ARGS { print(`arg:${a}`); }");
    for extra in [
        vec!["--help"],
        vec!["-V"],
        vec!["-e", "print(\"injected\")"],
        vec!["-C", "/tmp"],
        vec!["--dry-run", "check"],
    ] {
        let mut args = vec!["tool.rhai"];
        args.extend(extra.iter().copied());
        let out = herodo(t.path(), &args).run().ok();
        let expected: Vec<String> = extra.iter().map(|a| format!("arg:{a}")).collect();
        let got: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(got, expected, "{args:?}");
    }
    // The code of -e is the script too: options after it are its arguments.
    herodo(t.path(), ["-e", "print(ARGS)", "-v", "--help"])
        .run()
        .ok()
        .stdout_has("[\"-v\", \"--help\"]");
}

#[test]
fn exit_codes_outside_0_255_are_errors() {
    let t = TempDir::new("exit-codes");
    for (code, shown) in [
        ("-1", "got -1"),
        ("300", "got 300"),
        ("\"x\"", "got string"),
    ] {
        herodo(t.path(), ["-e", &format!("exit({code})")])
            .run()
            .code(1)
            .stderr_has("error[invalid_argument]")
            .stderr_has(shown);
    }
    herodo(t.path(), ["-e", "exit(255)"]).run().code(255);
    herodo(t.path(), ["-e", "exit(0)"]).run().code(0);
}

#[test]
fn check_reports_every_syntax_error_and_unknown_calls() {
    let t = TempDir::new("check-all");
    t.write("many.rhai", "let a = ;\nlet b = 1;\nlet c = );\n");
    t.write(
        "typo.rhai",
        "let c = nerdctl_container_new(\"web\");\nc.with_prot(\"80\");\nfn helper(f) { f(1) }\nhelper(|x| x);\n",
    );
    herodo(t.path(), ["check", "many.rhai", "typo.rhai"])
        .run()
        .code(1)
        .stderr_has("many.rhai:1:9")
        .stderr_has("many.rhai:3:9")
        .stderr_has("typo.rhai:2:3")
        .stderr_has("did you mean `with_port`?")
        .stderr_lacks("helper")
        .stdout_has("2 with errors (3 problems)");
    // The same hint at run time.
    herodo(t.path(), ["typo.rhai"])
        .run()
        .code(1)
        .stderr_has("did you mean `with_port`?");
}

/// Issue 18.2: one missing `;` is one error, at the end of the line that lacks it; the correct
/// lines after it are not blamed, and the second real mistake is found.
#[test]
fn check_reports_a_missing_semicolon_once_where_it_is_missing() {
    let t = TempDir::new("check-semi");
    t.write(
        "semi.rhai",
        "let a = 1\nlet b = [1, 2;\nprint(a);\nprint(b);\n",
    );
    let out = herodo(t.path(), ["check", "semi.rhai"])
        .run()
        .code(1)
        .stderr_has("semi.rhai:1:10")
        .stderr_has("Expecting ';' to terminate this statement")
        .stderr_has("semi.rhai:2:14")
        .stderr_lacks("semi.rhai:3:")
        .stderr_lacks("semi.rhai:4:")
        .stdout_has("1 with errors (2 problems)");
    assert_eq!(
        out.stderr.matches("error[syntax]").count(),
        2,
        "{}",
        out.stderr
    );
}

/// Issue 18.7: check reports variables used but defined nowhere, and imports of files that do
/// not exist; what is defined (let, const, parameters, loop and catch variables, ARGS,
/// imports that exist) is not flagged.
#[test]
fn check_reports_undefined_variables_and_missing_imports() {
    let t = TempDir::new("check-undef");
    t.write("lib/ok.rhai", "fn f() { 1 }\n");
    t.write(
        "tour.rhai",
        "import \"lib/ok\" as ok;\nimport \"lib/gone\" as gone;\nlet name = ARGS[0];\ncmd([\"curl\", url], #{env: #{TOKEN: token}});\nfor x in [1] { print(x); }\ntry { ok::f(); } catch (e) { print(e); }\nfn g(a) { a }\nprint(url);\n",
    );
    let out = herodo(t.path(), ["check", "tour.rhai"])
        .run()
        .code(1)
        .stderr_has("error[not_found]: import of `lib/gone`: no such module file")
        .stderr_has("tour.rhai:2:")
        .stderr_has("variable `url` is used but never defined")
        .stderr_has("tour.rhai:4:")
        .stderr_has("variable `token` is used but never defined")
        .stderr_lacks("`name`")
        .stdout_has("1 with errors (3 problems)");
    assert_eq!(out.stderr.matches("`url`").count(), 1, "{}", out.stderr);
}

/// Issue 18.8: check flags an in-place method (trim) used as a value, and `r.out` is stdout
/// trimmed.
#[test]
fn check_flags_trim_used_as_a_value_and_out_is_trimmed_stdout() {
    let t = TempDir::new("check-trim");
    t.write(
        "trim.rhai",
        "let r = run_silent(\"uname -r\");\nprint(r.stdout.trim());\nlet s = r.stdout;\ns.trim();\nprint(s);\n",
    );
    herodo(t.path(), ["check", "trim.rhai"])
        .run()
        .code(1)
        .stderr_has("trim.rhai:2:16")
        .stderr_has("`trim()` changes its value in place and returns nothing")
        .stderr_has("`r.out`")
        .stderr_lacks("trim.rhai:4:")
        .stdout_has("1 with errors (1 problems)");
    herodo(
        t.path(),
        [
            "-e",
            "let r = run_silent(\"printf '  x y \\\\n\\\\n'\"); print(`[${r.out}]`);",
        ],
    )
    .run()
    .ok()
    .stdout_is("[x y]\n");
}

/// Issue 18.12: a script finds its own directory with script_dir() (in functions too; in a
/// module, the module's), while file paths resolve against the working directory.
#[test]
fn script_dir_is_the_script_s_directory_not_the_working_directory() {
    let t = TempDir::new("script-dir");
    t.write("app/lib/m.rhai", "fn where() { script_dir() }\n");
    t.write("app/data.txt", "shipped\n");
    t.write(
        "app/main.rhai",
        "import \"lib/m\" as m;\nprint(script_dir());\nfn f() { script_dir() }\nprint(f());\nprint(m::where());\nprint(file_read(`${script_dir()}/data.txt`));\nprint(exist(\"data.txt\"));\n",
    );
    let app = t.path().join("app");
    let app = app.canonicalize().unwrap();
    let want = format!("{0}\n{0}\n{0}/lib\nshipped\n\nfalse\n", app.display());
    herodo(t.path(), ["app/main.rhai"])
        .run()
        .ok()
        .stdout_is(&want);
    let cwd = t.path().canonicalize().unwrap();
    herodo(t.path(), ["-e", "print(script_dir())"])
        .run()
        .ok()
        .stdout_is(&format!("{}\n", cwd.display()));
}

/// Issue 18.13: one meaning per flag (--timeout is each command's default, also after `test`;
/// --test-timeout limits a test), -q, --color and CLICOLOR_FORCE, -vv, `check` with no path,
/// subcommand help with only what applies, `help` = `--help`, no `-- --bogus` tip.
#[test]
fn cli_conventions() {
    let t = TempDir::new("cli-conv");
    t.write(
        "t_test.rhai",
        "fn test_slow_command() { try { run(\"sleep 3\"); assert(false); } catch (e) { assert_eq(e.kind, \"timeout\"); } }\nfn test_fast() { }\n",
    );
    // --timeout after `test` is the per-command default (the command times out, the test passes)...
    herodo(t.path(), ["test", "--timeout", "0.3", "t_test.rhai"])
        .run()
        .ok()
        .stdout_has("2 passed, 0 failed");
    // ...and --test-timeout limits the whole test.
    herodo(t.path(), ["test", "--test-timeout", "0.3", "t_test.rhai"])
        .run()
        .code(1)
        .stdout_has("TIME t_test.rhai::test_slow_command")
        .stdout_has("see --test-timeout");
    // -q: failures and the summary only.
    herodo(
        t.path(),
        ["test", "-q", "--test-timeout", "0.3", "t_test.rhai"],
    )
    .run()
    .code(1)
    .stdout_lacks("PASS")
    .stdout_has("1 passed, 1 failed");
    // check with no path checks `.`; -q prints nothing when all is well.
    t.write("ok.rhai", "let x = 1;\nprint(x);\n");
    herodo(t.path(), ["check"])
        .run()
        .ok()
        .stdout_has("checked 2 files: no errors");
    herodo(t.path(), ["check", "-q"]).run().ok().stdout_is("");
    // Colour: never by default into a pipe; forced by --color=always or CLICOLOR_FORCE;
    // --color=never wins over CLICOLOR_FORCE.
    let esc = "\u{1b}[";
    herodo(t.path(), ["-e", "nope()"])
        .run()
        .code(1)
        .stderr_lacks(esc);
    herodo(t.path(), ["--color", "always", "-e", "nope()"])
        .run()
        .code(1)
        .stderr_has(esc);
    herodo(t.path(), ["-e", "nope()"])
        .env("CLICOLOR_FORCE", "1")
        .run()
        .code(1)
        .stderr_has(esc);
    herodo(t.path(), ["--color=never", "-e", "nope()"])
        .env("CLICOLOR_FORCE", "1")
        .run()
        .code(1)
        .stderr_lacks(esc);
    // -v shows commands, -vv their output too.
    let code = "cmd([\"echo\", \"out-marker\"]);";
    herodo(t.path(), ["-v", "-e", code])
        .run()
        .ok()
        .stderr_has("+ echo out-marker")
        .stderr_lacks("stdout:");
    herodo(t.path(), ["-vv", "-e", code])
        .run()
        .ok()
        .stderr_has("  stdout:\n    out-marker");
    // Subcommand help lists what applies there; `help X` is `X --help`.
    let fns = herodo(t.path(), ["fns", "--help"])
        .run()
        .ok()
        .stdout_lacks("--dry-run")
        .stdout_lacks("--max-operations")
        .stdout_lacks("--engine");
    herodo(t.path(), ["help", "fns"])
        .run()
        .ok()
        .stdout_is(&fns.stdout);
    let top = herodo(t.path(), ["--help"]).run().ok();
    herodo(t.path(), ["help"]).run().ok().stdout_is(&top.stdout);
    herodo(t.path(), ["test", "--help"])
        .run()
        .ok()
        .stdout_has("--dry-run")
        .stdout_has("--test-timeout")
        .stdout_has("--timeout");
    herodo(t.path(), ["--bogus"])
        .run()
        .code(2)
        .stderr_has("unexpected argument '--bogus'")
        .stderr_lacks("-- --bogus");
}

/// Issue 18.10: `fns NAME` shows the whole doc with its example; `fns` lists by the README's
/// groups, Rhai's common built-ins included; summaries are whole first sentences.
#[test]
fn fns_shows_whole_docs_groups_and_builtins() {
    let t = TempDir::new("fns-groups");
    herodo(t.path(), ["fns", "run_silent"])
        .run()
        .ok()
        .stdout_has("run_silent(command: string) -> CommandResult\n    Run a shell command line")
        .stdout_has("    ```rhai\n    let name = run_silent(\"hostname\").stdout;");
    let all = herodo(t.path(), ["fns"]).run().ok();
    let mut at = 0;
    for group in [
        "## process",
        "## os",
        "## text",
        "## net",
        "## misc",
        "## testing",
        "## containers",
        "## buildah",
        "## heropods",
        "## rhai (built into the language)",
    ] {
        let i = all.stdout[at..]
            .find(group)
            .unwrap_or_else(|| panic!("{group} missing or out of order"));
        at += i;
    }
    let process =
        &all.stdout[all.stdout.find("## process").unwrap()..all.stdout.find("## os").unwrap()];
    assert!(
        process.contains("\nrun(command: string) -> CommandResult"),
        "{process}"
    );
    assert!(!process.contains("file_read("), "{process}");
    let rhai = &all.stdout[all.stdout.find("## rhai").unwrap()..];
    for builtin in ["trim(string: string)", "len(", "split(string: string"] {
        assert!(rhai.contains(builtin), "fns lacks the built-in {builtin}");
    }
    herodo(t.path(), ["fns", "trim"])
        .run()
        .ok()
        .stdout_has("Remove whitespace characters from both ends of the string.")
        .stdout_has("text.trim();");
}

/// Issue 18.15: sleep takes duration strings; uncaught Rhai errors carry their kind; a dry-run
/// build shows a build arg's name, never its value; a template names the undefined variable.
#[test]
fn consistent_durations_kinds_build_args_and_templates() {
    let t = TempDir::new("consistency");
    let started = std::time::Instant::now();
    herodo(t.path(), ["-e", "sleep(\"300ms\"); print(\"slept\");"])
        .run()
        .ok()
        .stdout_is("slept\n");
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    herodo(t.path(), ["-e", "sleep(\"2 sec\")"])
        .run()
        .code(1)
        .stderr_has("error[invalid_argument]: invalid duration: `2 sec` is not a duration");
    // Durations print rounded to the millisecond.
    let out = herodo(
        t.path(),
        ["-e", "print(run_silent(\"sleep 0.01\").duration);"],
    )
    .run()
    .ok();
    let d = out.stdout.trim();
    assert!(
        d.split_once('.').is_some_and(|(_, frac)| frac.len() <= 3)
            && d.parse::<f64>().is_ok_and(|v| v >= 0.01),
        "{d}"
    );
    herodo(t.path(), ["-e", "let x = y;"])
        .run()
        .code(1)
        .stderr_has("error[script]: Variable not found: y");
    t.write("ctx/Containerfile", "FROM scratch\n");
    herodo(
        t.path(),
        [
            "--dry-run",
            "-e",
            "bah_build(\"localhost/x:1\", \"ctx\", #{build_args: #{VERSION: \"S3CR3T-CANARY-1\"}});",
        ],
    )
    .run()
    .ok()
    .stdout_has("VERSION=*** buildah bud -t localhost/x:1 --build-arg VERSION ctx")
    .stdout_lacks("S3CR3T-CANARY");
    herodo(
        t.path(),
        ["-e", "template_render(\"{{ a }}\\n{{ port }}\", #{a: 1})"],
    )
    .run()
    .code(1)
    .stderr_has("error[template]: template error: undefined variable `port` (template line 2)");
}

#[test]
fn symlinked_directory_loops_are_followed_once() {
    let t = TempDir::new("symlink-loop");
    t.write("d/sub/one_test.rhai", "fn test_one() { assert(true); }");
    std::os::unix::fs::symlink("..", t.path().join("d/sub/up")).unwrap();
    herodo(t.path(), ["test", "d"])
        .run()
        .ok()
        .stdout_has("1 passed, 0 failed");
    t.write("e/sub/a.rhai", "print(\"ran-a\");");
    std::os::unix::fs::symlink("..", t.path().join("e/sub/up")).unwrap();
    let out = herodo(t.path(), ["e"]).run().ok();
    assert_eq!(out.stdout.matches("ran-a").count(), 1, "{}", out.stdout);
}

#[test]
fn rhai_errors_have_a_kind_when_caught() {
    let t = TempDir::new("rhai-kind");
    herodo(
        t.path(),
        [
            "-e",
            "try { let x = nope + 1; } catch (e) { print(`kind=${e.kind}`); }\ntry { let n = 1 + \"x\" * 2; } catch (err) { print(`kind2=${err.kind}`); }\nlet s = `catch (e) { ${1} }`; print(s);",
        ],
    )
    .run()
    .ok()
    .stdout_has("kind=script")
    .stdout_has("kind2=script")
    .stdout_has("catch (e) { 1 }");
}

#[test]
fn huge_numbers_are_invalid_arguments_not_panics() {
    let t = TempDir::new("huge");
    for code in [
        "sleep(1e300)",
        "run(\"true\", #{timeout: 9223372036854775807})",
        "run(\"true\", #{timeout: 1e300})",
    ] {
        herodo(t.path(), ["-e", code])
            .run()
            .code(1)
            .stderr_has("error[invalid_argument]")
            .stderr_lacks("panicked");
    }
    for args in [
        vec!["--timeout", "1e300", "-e", "1"],
        vec!["--max-time", "1e300", "-e", "1"],
        vec!["test", "--test-timeout", "1e300"],
        vec!["test", "--timeout", "1e300"],
    ] {
        herodo(t.path(), &args)
            .run()
            .code(2)
            .stderr_has("too long")
            .stderr_lacks("panicked");
    }
}

#[test]
fn runaway_strings_hit_a_clean_limit() {
    let t = TempDir::new("limit");
    herodo(t.path(), ["-e", "let s = \"x\"; loop { s += s; }"])
        .run()
        .code(1)
        .stderr_has("error[limit]")
        .stderr_lacks("memory allocation");
}

#[test]
fn run_env_names_are_validated_and_cwd_is_blamed() {
    let t = TempDir::new("run-env");
    for bad in ["A=B", "", "1X"] {
        herodo(
            t.path(),
            [
                "-e",
                &format!("run(\"echo [$A]\", #{{env: #{{\"{bad}\": \"C\"}}}})"),
            ],
        )
        .run()
        .code(1)
        .stderr_has("error[invalid_argument]");
    }
    herodo(t.path(), ["-e", "run(\"true\", #{cwd: \"/nope-dir\"})"])
        .run()
        .code(1)
        .stderr_has("error[not_found]")
        .stderr_has("working directory /nope-dir");
    herodo(t.path(), ["-e", "cmd([\"echo\", \"a\\x00b\"])"])
        .run()
        .code(1)
        .stderr_has("error[invalid_argument]")
        .stderr_has("NUL");
    // E2BIG: the message shows a bounded command line.
    let out = herodo(t.path(), ["-e", "let a = []; a.pad(30000, \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"); a.insert(0, \"echo\"); cmd(a);"])
        .run()
        .code(1);
    assert!(
        out.stderr.len() < 5000,
        "{} bytes of error",
        out.stderr.len()
    );
    assert!(out.stderr.contains("more bytes"), "{}", out.stderr);
}

/// Issue 10.6: after a `kill -9` of `herodo test`, `herodo clean` (and the next `herodo test`)
/// removes what the dead test run left; an ordinary script's container is never touched.
#[test]
fn clean_removes_what_a_killed_test_run_left() {
    if !crate::support::require(&["podman"]) {
        return;
    }
    let _engines = crate::support::engine_lock();
    let t = TempDir::new("clean");
    let ready = t.path().join("ready");
    let name = format!("clean-left-{}", std::process::id());
    let kept = format!("clean-kept-{}", std::process::id());
    t.write(
        "leak_test.rhai",
        &format!(
            "fn test_leak() {{\n  nerdctl_container_from_image(\"{name}\", \"localhost/busybox:test\").build();\n  file_write(\"{}\", \"x\");\n  sleep(60000);\n}}\n",
            ready.display()
        ),
    );
    // An ordinary script's container, whose owner is gone too.
    herodo(
        t.path(),
        [
            "--engine",
            "podman",
            "-e",
            &format!(
                "nerdctl_container_from_image(\"{kept}\", \"localhost/busybox:test\").build();"
            ),
        ],
    )
    .run()
    .ok();
    // `herodo test` leaking the container, killed with SIGKILL once the container is up.
    let leak_and_kill = || {
        let _ = std::fs::remove_file(&ready);
        let mut child = std::process::Command::new(crate::support::BIN)
            .args(["--engine", "podman", "test", "leak_test.rhai"])
            .current_dir(t.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !ready.exists() {
            assert!(
                std::time::Instant::now() < until,
                "the test never got going"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        child.kill().unwrap();
        child.wait().unwrap();
    };
    leak_and_kill();
    let exists = |n: &str| {
        std::process::Command::new("podman")
            .args(["container", "exists", n])
            .status()
            .is_ok_and(|s| s.success())
    };
    assert!(exists(&name), "kill -9 should have left the container");
    herodo(t.path(), ["clean"])
        .run()
        .ok()
        .stdout_has(&format!("removed container podman/{name}"));
    assert!(!exists(&name), "herodo clean left {name}");
    assert!(
        exists(&kept),
        "herodo clean removed an ordinary script's container"
    );
    // The next `herodo test` reaps too (the dead session left its marker in the state dir).
    leak_and_kill();
    assert!(exists(&name), "kill -9 should have left the container");
    t.write("fine_test.rhai", "fn test_fine() { assert_true(true); }\n");
    herodo(t.path(), ["--engine", "podman", "test", "fine_test.rhai"])
        .run()
        .ok()
        .stderr_has("removed 1 resource(s) left behind");
    assert!(!exists(&name), "the next herodo test left {name}");
    assert!(
        exists(&kept),
        "herodo test removed an ordinary script's container"
    );
    let _ = std::process::Command::new("podman")
        .args(["rm", "-f", "-t", "0", &kept])
        .output();
}

#[test]
fn dry_run_buildah_writes_stage_no_file() {
    let t = TempDir::new("dry-stage");
    let tmp = TempDir::new("dry-stage-tmp");
    let out = herodo(
        t.path(),
        [
            "--dry-run",
            "-e",
            "let b = bah_new(\"x\", \"localhost/busybox:test\"); b.write_content(\"hello\", \"/etc/x\");",
        ],
    )
    .env("TMPDIR", &tmp.path().display().to_string())
    .run()
    .ok();
    assert!(
        out.stdout.contains("[dry-run] buildah copy"),
        "{}",
        out.stdout
    );
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "dry run left {left:?}");
}
