//! docs/reference.md, the function reference `herodo fns --markdown` generates from the
//! registered functions' own documentation and the stdlib modules' `///` comments: it is
//! committed, a test fails when it is stale, and its examples are checked (every one) and run
//! (those of the groups that touch nothing outside a temporary directory).

use crate::support::{herodo, root, TempDir};

/// Groups whose examples run for real: they compute, read, or write below a temporary
/// directory they make themselves.
const RUN_GROUPS: &[&str] = &["text", "misc", "testing", "std/retry"];

/// Examples of those groups that do not run, by the start of their signature, and why.
const NOT_RUN: &[(&str, &str)] = &[
    (
        "template_render_file(",
        "renders a template file the example does not have into /etc",
    ),
    (
        "script_dir(",
        "reads app.conf next to a script that has none",
    ),
];

#[cfg(feature = "kube")]
#[test]
fn the_reference_is_up_to_date() {
    let out = herodo(root(), ["fns", "--markdown"]).run().ok();
    let path = root().join("docs/reference.md");
    if std::env::var("HERODO_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &out.stdout).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != out.stdout {
        let line = committed
            .lines()
            .zip(out.stdout.lines())
            .position(|(a, b)| a != b)
            .map_or(
                committed.lines().count().min(out.stdout.lines().count()),
                |i| i,
            )
            + 1;
        panic!(
            "docs/reference.md is stale (first difference at line {line}): regenerate it with \
             `cargo run -q -- fns --markdown > docs/reference.md` (or HERODO_BLESS=1 cargo test \
             --test it reference)"
        );
    }
}

/// (group, function signature, code) of every ```rhai block of the reference.
fn examples() -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(root().join("docs/reference.md")).unwrap();
    let mut out = Vec::new();
    let (mut group, mut function) = (String::new(), String::new());
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if let Some(g) = l.strip_prefix("## ") {
            group = g.to_string();
        } else if let Some(f) = l.strip_prefix("### ") {
            function = f.trim_matches('`').to_string();
        } else if l.trim() == "```rhai" {
            let code: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
            out.push((group.clone(), function.clone(), code.join("\n") + "\n"));
        }
    }
    out
}

/// `herodo check` over every example: no syntax error, no call of a function or method that
/// does not exist, no import of a missing module. The examples are fragments (`c.stop()` about
/// a container made elsewhere), so variables they do not define are allowed.
#[test]
fn every_reference_example_passes_check() {
    let all = examples();
    assert!(all.len() > 300, "only {} examples", all.len());
    let t = TempDir::new("reference-check");
    for (i, (_, _, code)) in all.iter().enumerate() {
        t.write(&format!("example_{i:04}.rhai"), code);
    }
    let out = herodo(t.path(), ["check", "-q", "."]).run();
    let mut problems = Vec::new();
    let mut block: Vec<&str> = Vec::new();
    let flush = |block: &mut Vec<&str>, problems: &mut Vec<String>| {
        let text = block.join("\n");
        if !text.is_empty() && !text.contains("is used but never defined") {
            let file = text
                .split_once("--> ")
                .and_then(|(_, r)| r.split(':').next())
                .and_then(|f| f.trim_start_matches("./").strip_prefix("example_"))
                .and_then(|n| n.trim_end_matches(".rhai").parse::<usize>().ok());
            let about = file.map(|i| format!("{} / {}", all[i].0, all[i].1));
            problems.push(format!("{}:\n{text}", about.unwrap_or_default()));
        }
        block.clear();
    };
    for l in out.stderr.lines() {
        if l.starts_with("error") || l.starts_with("warning") {
            flush(&mut block, &mut problems);
        }
        if !l.trim().is_empty() {
            block.push(l);
        }
    }
    flush(&mut block, &mut problems);
    assert!(
        problems.is_empty(),
        "{} reference example(s) fail `herodo check`:\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}

/// The examples of [`RUN_GROUPS`] run, each as a whole-script test.
#[test]
fn safe_reference_examples_run() {
    let t = TempDir::new("reference-run");
    let mut n = 0;
    for (i, (group, function, code)) in examples().iter().enumerate() {
        let excluded = NOT_RUN.iter().any(|(f, _)| function.starts_with(f));
        if RUN_GROUPS.contains(&group.as_str()) && !excluded {
            t.write(&format!("example_{i:04}_test.rhai"), code);
            n += 1;
        }
    }
    assert!(n >= 10, "only {n} examples to run");
    let out = herodo(t.path(), ["test", "."]).run();
    print!("{}", out.stdout);
    let out = out.ok();
    let last = out.stdout.lines().last().unwrap_or_default().to_string();
    // `skip(reason)`'s own example skips.
    assert_eq!(last, format!("{} passed, 0 failed, 1 skipped", n - 1));
}
