//! `herodo test` on fixture suites that pass, fail, skip, throw, time out, fail in setup and
//! teardown, and leak resources; in every output format.

use std::path::{Path, PathBuf};

use crate::support::{herodo, Done, TempDir};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/runner")
}

/// `herodo test ARGS` in the fixture directory, with FIXTURE_DIR pointing at `scratch`.
fn test_run(scratch: &TempDir, args: &[&str]) -> Done {
    let mut all = vec!["test"];
    all.extend_from_slice(args);
    herodo(&fixtures(), all)
        .env("FIXTURE_DIR", &scratch.path().display().to_string())
        .env("HERODO_REQUIRE_TOOLS", "0")
        .run()
}

/// Durations vary: `(12ms)` / `(1.0s)` become `(T)`.
fn normalize(text: &str) -> String {
    let re = regex::Regex::new(r"\((\d+ms|\d+\.\ds|\d+m\d+s)\)").unwrap();
    re.replace_all(text, "(T)").into_owned()
}

#[test]
fn passing_suite_runs_fixtures_in_order() {
    let s = TempDir::new("rpass");
    test_run(&s, &["pass_case.rhai"])
        .ok()
        .stdout_has("PASS pass_case.rhai::test_one")
        .stdout_has("PASS pass_case.rhai::test_two")
        .stdout_lacks("helper_not_a_test")
        .stdout_has("\n2 passed, 0 failed, 0 skipped\n");
    let log = std::fs::read_to_string(s.path().join("order.log")).unwrap();
    assert_eq!(
        log,
        "setup_file\nsetup\none\nteardown\nsetup\ntwo\nteardown\nteardown_file\n"
    );
}

#[test]
fn failures_show_expected_actual_and_location() {
    let s = TempDir::new("rfail");
    let out = test_run(&s, &["fail_case.rhai", "throw_case.rhai"]).code(1);
    let text = normalize(&out.stdout);
    assert!(
        text.contains("PASS fail_case.rhai::test_good (T)"),
        "{text}"
    );
    assert!(
        text.contains("FAIL fail_case.rhai::test_bad_equality (T)"),
        "{text}"
    );
    assert!(text.contains("---- fail_case.rhai::test_bad_equality ----\nerror[assertion]: greeting: assert_eq failed\n  expected: \"expected value\"\n    actual: \"actual value\""), "{text}");
    assert!(text.contains("--> fail_case.rhai:5:5"), "{text}");
    assert!(text.contains("error: plain failure"), "{text}");
    assert!(
        text.contains("error[command_failed]: command failed with exit code 28"),
        "{text}"
    );
    assert!(text.contains("disk full"), "{text}");
    assert!(text.ends_with("1 passed, 3 failed, 0 skipped\n"), "{text}");
}

#[test]
fn skips_are_counted_with_reasons_and_cannot_be_caught() {
    let s = TempDir::new("rskip");
    test_run(&s, &["skip_case.rhai"])
        .ok()
        .stdout_has("SKIP skip_case.rhai::test_skipped_by_reason")
        .stdout_has(": needs a GPU")
        .stdout_has("skip_case.rhai::test_missing_tool: no-such-tool-herodo-xyz is not installed")
        .stdout_has("skip_case.rhai::test_skip_cannot_be_caught: really skipped")
        .stdout_has("0 passed, 0 failed, 3 skipped");
}

#[test]
fn require_tool_fails_when_tools_are_required() {
    let s = TempDir::new("rreq");
    herodo(
        &fixtures(),
        ["test", "--filter", "missing_tool", "skip_case.rhai"],
    )
    .env("HERODO_REQUIRE_TOOLS", "1")
    .env("FIXTURE_DIR", &s.path().display().to_string())
    .run()
    .code(1)
    .stdout_has("error[missing_tool]: required tool `no-such-tool-herodo-xyz` is not installed")
    .stdout_has("0 passed, 1 failed, 0 skipped");
}

#[test]
fn timeouts_stop_commands_and_loops_and_teardown_still_runs() {
    let s = TempDir::new("rtime");
    let started = std::time::Instant::now();
    test_run(&s, &["--test-timeout", "0.5", "timeout_case.rhai"])
        .code(1)
        .stdout_has("TIME timeout_case.rhai::test_sleeps_too_long")
        .stdout_has("TIME timeout_case.rhai::test_loops_too_long")
        .stdout_has("PASS timeout_case.rhai::test_after_the_timeouts")
        .stdout_has("timed out after 500ms")
        .stdout_has("1 passed, 2 failed, 0 skipped");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(s.path().join("timeout-teardown-ran").exists());
}

#[test]
fn setup_and_teardown_failures() {
    let s = TempDir::new("rsetup");
    test_run(&s, &["setup_fail_case.rhai", "teardown_fail_case.rhai"])
        .code(1)
        .stdout_has("FAIL setup_fail_case.rhai::test_never_runs")
        .stdout_has("setup failed:\nerror[setup_broke]: could not prepare")
        .stdout_has("FAIL teardown_fail_case.rhai::test_passes_but_teardown_fails")
        .stdout_has("teardown failed:\nerror: teardown exploded")
        .stdout_has("0 passed, 2 failed, 0 skipped");
    assert!(
        s.path().join("setup-fail-teardown-ran").exists(),
        "teardown must run after a failed setup"
    );
    assert!(
        !s.path().join("setup-fail-test-ran").exists(),
        "the test must not run after a failed setup"
    );
}

#[test]
fn leaked_resources_are_removed_unless_keep() {
    let s = TempDir::new("rleak");
    test_run(&s, &["leak_case.rhai"]).ok();
    let leaked = std::fs::read_to_string(s.path().join("leaked-path")).unwrap();
    assert!(!Path::new(&leaked).exists(), "{leaked} was not cleaned up");

    test_run(&s, &["--keep", "leak_case.rhai"])
        .ok()
        .stdout_has("kept tmpdir");
    let kept = std::fs::read_to_string(s.path().join("leaked-path")).unwrap();
    assert!(
        Path::new(&kept).join("data").exists(),
        "--keep removed {kept}"
    );
    std::fs::remove_dir_all(&kept).unwrap();
}

#[test]
fn plain_scripts_and_compile_errors_count_as_one_test() {
    let s = TempDir::new("rplain");
    test_run(&s, &["plain_case.rhai", "broken_case.rhai"])
        .code(1)
        .stdout_has("PASS plain_case.rhai::plain_case")
        .stdout_has("FAIL broken_case.rhai::(compile)")
        .stdout_has("--> broken_case.rhai:2:")
        .stdout_has("1 passed, 1 failed, 0 skipped");
}

#[test]
fn filter_list_and_fail_fast() {
    let s = TempDir::new("rfilter");
    test_run(&s, &["--list", "pass_case.rhai", "fail_case.rhai", "plain_case.rhai"])
        .ok()
        .stdout_is("pass_case.rhai::test_one\npass_case.rhai::test_two\nfail_case.rhai::test_good\nfail_case.rhai::test_bad_equality\nplain_case.rhai::plain_case\n");
    test_run(
        &s,
        &["--filter", "two$", "pass_case.rhai", "fail_case.rhai"],
    )
    .ok()
    .stdout_has("pass_case.rhai::test_two")
    .stdout_lacks("test_one")
    .stdout_has("1 passed, 0 failed, 0 skipped");
    test_run(&s, &["--fail-fast", "fail_case.rhai", "pass_case.rhai"])
        .code(1)
        .stdout_lacks("pass_case.rhai")
        .stdout_has("1 passed, 1 failed, 0 skipped");
    test_run(&s, &["--filter", "(", "pass_case.rhai"])
        .code(2)
        .stderr_has("invalid --filter");
}

#[test]
fn tap_output() {
    let s = TempDir::new("rtap");
    let out = test_run(&s, &["--format", "tap", "fail_case.rhai", "skip_case.rhai"]).code(1);
    let lines: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| !l.starts_with("  "))
        .collect();
    assert_eq!(
        lines,
        vec![
            "TAP version 13",
            "ok 1 - fail_case.rhai::test_good",
            "not ok 2 - fail_case.rhai::test_bad_equality",
            "ok 3 - skip_case.rhai::test_skipped_by_reason # SKIP needs a GPU",
            "ok 4 - skip_case.rhai::test_missing_tool # SKIP no-such-tool-herodo-xyz is not installed",
            "ok 5 - skip_case.rhai::test_skip_cannot_be_caught # SKIP really skipped",
            "1..5",
            "# 1 passed, 1 failed, 3 skipped",
        ]
    );
    assert!(
        out.stdout.contains("  ---\n  status: failed\n"),
        "{}",
        out.stdout
    );
    assert!(out
        .stdout
        .contains("  message: |-\n    error[assertion]: greeting: assert_eq failed\n"));
}

#[test]
fn json_output() {
    let s = TempDir::new("rjson");
    let out = test_run(
        &s,
        &[
            "--format",
            "json",
            "--test-timeout",
            "0.5",
            "pass_case.rhai",
            "skip_case.rhai",
            "timeout_case.rhai",
        ],
    )
    .code(1);
    let v: serde_json::Value =
        serde_json::from_str(&out.stdout).expect("stdout is one JSON document");
    assert_eq!(
        v["summary"],
        serde_json::json!({"passed": 3, "failed": 2, "skipped": 3})
    );
    let tests = v["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 8);
    assert_eq!(tests[0]["file"], "pass_case.rhai");
    assert_eq!(tests[0]["name"], "test_one");
    assert_eq!(tests[0]["status"], "passed");
    assert!(tests[0]["duration"].as_f64().unwrap() >= 0.0);
    assert_eq!(tests[2]["status"], "skipped");
    assert_eq!(tests[2]["message"], "needs a GPU");
    assert_eq!(tests[5]["status"], "timed_out");
    assert!(out.stderr.contains("3 passed, 2 failed, 3 skipped"));
}

#[test]
fn junit_report_has_the_required_structure() {
    let s = TempDir::new("rjunit");
    let xml_path = s.path().join("report.xml");
    test_run(
        &s,
        &[
            "--junit",
            &xml_path.display().to_string(),
            "pass_case.rhai",
            "fail_case.rhai",
            "skip_case.rhai",
        ],
    )
    .code(1);
    let xml = std::fs::read_to_string(&xml_path).unwrap();
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"herodo\" tests=\"7\" failures=\"1\" errors=\"0\" skipped=\"3\" time=\""), "{xml}");
    for suite in [
        "<testsuite name=\"pass_case.rhai\" tests=\"2\" failures=\"0\" errors=\"0\" skipped=\"0\" time=\"",
        "<testsuite name=\"fail_case.rhai\" tests=\"2\" failures=\"1\" errors=\"0\" skipped=\"0\" time=\"",
        "<testsuite name=\"skip_case.rhai\" tests=\"3\" failures=\"0\" errors=\"0\" skipped=\"3\" time=\"",
    ] {
        assert!(xml.contains(suite), "missing {suite}\n{xml}");
    }
    assert_eq!(xml.matches("<testcase ").count(), 7);
    assert!(
        xml.contains(
            "<failure message=\"error[assertion]: greeting: assert_eq failed\" type=\"failure\">"
        ),
        "{xml}"
    );
    assert!(xml.contains("<skipped message=\"needs a GPU\"/>"), "{xml}");
    assert!(
        xml.contains("expected: &quot;expected value&quot;"),
        "{xml}"
    );
    assert_eq!(
        xml.matches("<testsuite ").count(),
        xml.matches("</testsuite>").count()
    );
}

#[test]
fn parallel_jobs_report_in_file_order() {
    let s = TempDir::new("rpar");
    let serial = test_run(
        &s,
        &[
            "pass_case.rhai",
            "fail_case.rhai",
            "skip_case.rhai",
            "plain_case.rhai",
        ],
    )
    .code(1);
    let parallel = test_run(
        &s,
        &[
            "-j",
            "3",
            "pass_case.rhai",
            "fail_case.rhai",
            "skip_case.rhai",
            "plain_case.rhai",
        ],
    )
    .code(1);
    let status_lines = |d: &Done| -> Vec<String> {
        normalize(&d.stdout)
            .lines()
            .filter(|l| {
                ["PASS ", "FAIL ", "SKIP ", "TIME "]
                    .iter()
                    .any(|p| l.starts_with(p))
            })
            .map(String::from)
            .collect()
    };
    assert_eq!(status_lines(&serial), status_lines(&parallel));
    assert!(
        parallel.stdout.ends_with("4 passed, 1 failed, 3 skipped\n"),
        "{}",
        parallel.stdout
    );
    assert!(parallel.stdout.contains("expected: \"expected value\""));
}

#[test]
fn discovery_finds_test_files_below_tests() {
    let t = TempDir::new("rdisc");
    t.write("tests/a_test.rhai", "fn test_a() { assert(true); }");
    t.write("tests/sub/test_b.rhai", "fn test_b() { assert(true); }");
    t.write("tests/helper.rhai", "throw \"helpers are not tests\";");
    t.write("other/c_test.rhai", "throw \"outside tests/\";");
    t.write("elsewhere/c.rhai", "throw \"not a test file name\";");
    herodo(t.path(), ["test"])
        .run()
        .ok()
        .stdout_has("tests/a_test.rhai::test_a")
        .stdout_has("tests/sub/test_b.rhai::test_b")
        .stdout_has("2 passed, 0 failed, 0 skipped");
    herodo(t.path(), ["test", "other"])
        .run()
        .code(1)
        .stdout_has("0 passed, 1 failed, 0 skipped");
    herodo(t.path(), ["test", "elsewhere"])
        .run()
        .code(2)
        .stderr_has("no test files found");
    herodo(t.path(), ["test", "nope"])
        .run()
        .code(2)
        .stderr_has("no such file or directory: nope");
    let empty = TempDir::new("rdisc-empty");
    herodo(empty.path(), ["test"])
        .run()
        .code(2)
        .stderr_has("no tests/ directory");
}

#[test]
fn exit_at_the_top_level_of_a_test_file_is_explained() {
    let s = TempDir::new("rtopexit");
    let t = TempDir::new("rtopexit-files");
    t.write(
        "early_test.rhai",
        "exit();\nfn test_a() { assert(true); }\nfn test_b() {}\n",
    );
    herodo(t.path(), ["test", "early_test.rhai"])
        .env("FIXTURE_DIR", &s.path().display().to_string())
        .run()
        .code(1)
        .stdout_has("exit(0) at the top level of the file stopped it before its 2 test(s) ran")
        .stdout_has("0 passed, 1 failed");
}

#[test]
fn report_paths_are_checked_before_the_suite_runs() {
    let s = TempDir::new("rjunitpath");
    let marker = s.path().join("ran");
    let t = TempDir::new("rjunitpath-files");
    t.write(
        "mark_test.rhai",
        &format!(
            "fn test_mark() {{ file_write(\"{}\", \"x\"); }}",
            marker.display()
        ),
    );
    herodo(
        t.path(),
        ["test", "--junit", "/nope/dir/j.xml", "mark_test.rhai"],
    )
    .run()
    .code(2)
    .stderr_has("cannot write the JUnit report /nope/dir/j.xml");
    assert!(
        !marker.exists(),
        "the suite ran although its report cannot be written"
    );
}

/// Issue 18.11: setup() hands its value to tests (and teardown) taking one parameter; a test
/// with more parameters is reported, not dropped; a filter matching nothing exits 5; with -j 1
/// a test's output is captured and shown with its failure, as with -j 2; the cleanup summary
/// names what it removed.
#[test]
fn setup_context_uncollected_tests_empty_filters_captured_output_and_cleanup_names() {
    let t = TempDir::new("runner-ctx");
    t.write(
        "ctx_test.rhai",
        r#"fn setup() { #{dir: tmpdir(), n: 41} }
fn teardown(ctx) { print(`teardown saw ${ctx.n}`); }
fn test_gets_setup_value(ctx) { assert_eq(ctx.n + 1, 42); assert_true(exist(ctx.dir)); }
fn test_plain() { assert_true(true); }
fn test_two(a, b) { }
fn test_prints_then_fails() { print("visible-only-on-failure"); assert_eq(1, 2); }
fn test_prints_and_passes() { print("hidden-when-passing"); }
"#,
    );
    let out = herodo(t.path(), ["test", "-j", "1", "ctx_test.rhai"])
        .run()
        .code(1)
        .stdout_has("PASS ctx_test.rhai::test_gets_setup_value")
        .stdout_has("PASS ctx_test.rhai::test_plain")
        .stdout_has("FAIL ctx_test.rhai::test_two")
        .stdout_has("test_two takes 2 parameters: a test takes none, or one")
        .stdout_has("captured output:\nvisible-only-on-failure")
        .stdout_lacks("hidden-when-passing")
        .stdout_has("removed 4 resource(s) tests left behind (--keep keeps them):\n  tmpdir ")
        .stdout_has("3 passed, 2 failed, 0 skipped");
    // Captured as -j 2 captures it: only with the failure.
    let j2 = herodo(
        t.path(),
        ["test", "-j", "2", "ctx_test.rhai", "ctx_test.rhai"],
    )
    .run();
    assert!(
        j2.stdout.contains("visible-only-on-failure"),
        "{}",
        j2.stdout
    );
    assert!(
        !out.stderr.contains("visible-only-on-failure"),
        "{}",
        out.stderr
    );
    herodo(
        t.path(),
        ["test", "ctx_test.rhai", "--filter", "no_such_test"],
    )
    .run()
    .code(5)
    .stderr_has("no test ran (--filter \"no_such_test\" matched none)");
}
