//! The README's examples: every ```rhai block passes `herodo check`, and the blocks marked
//! `<!-- readme: runs -->` run for real (as a `herodo test` file, so what they create is removed
//! afterwards) and must succeed. A block marked `<!-- readme: file PATH -->` is a file the
//! others import: it is written at PATH next to them.

use crate::support::{herodo, require, root, test_image, TempDir};

/// Every ```rhai block of the README: (line of the fence, marker, code).
fn rhai_blocks() -> Vec<(usize, Marker, String)> {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("read README.md");
    let lines: Vec<&str> = readme.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() == "```rhai" {
            let above = if i > 0 { lines[i - 1].trim() } else { "" };
            let runs = match above.strip_prefix("<!-- readme: ") {
                Some("runs -->") => Marker::Runs,
                Some(rest) => match rest.strip_prefix("file ") {
                    Some(path) => Marker::File(path.trim_end_matches("-->").trim().to_string()),
                    None => panic!("unknown README marker: {above}"),
                },
                None => Marker::None,
            };
            let start = i + 1;
            let end = (start..lines.len())
                .find(|j| lines[*j].trim() == "```")
                .expect("an unclosed ```rhai block in README.md");
            blocks.push((i + 1, runs, lines[start..end].join("\n") + "\n"));
            i = end;
        }
        i += 1;
    }
    blocks
}

#[derive(Debug, PartialEq)]
enum Marker {
    None,
    Runs,
    File(String),
}

/// Issue 18.7: `check` finds undefined variables and missing imports, so the examples define
/// what they use.
#[test]
fn every_readme_example_passes_check() {
    let blocks = rhai_blocks();
    assert!(blocks.len() >= 5, "{} blocks", blocks.len());
    let t = TempDir::new("readme-check");
    for (_, marker, code) in &blocks {
        if let Marker::File(path) = marker {
            t.write(path, code);
        }
    }
    for (line, _, code) in &blocks {
        let name = format!("readme_line_{line}.rhai");
        t.write(&name, code);
        herodo(t.path(), ["check", name.as_str()]).run().ok();
    }
}

/// Issue 18.3: the examples marked to run (the fluent buildah build among them) run as written.
#[test]
fn readme_examples_marked_to_run_run() {
    let runnable: Vec<_> = rhai_blocks()
        .into_iter()
        .filter(|b| b.1 == Marker::Runs)
        .collect();
    assert!(!runnable.is_empty(), "no README block is marked to run");
    if !require(&["podman", "buildah"]) {
        return;
    }
    let _engines = crate::support::engine_lock();
    test_image(None);
    let t = TempDir::new("readme-run");
    for (_, marker, code) in rhai_blocks() {
        if let Marker::File(path) = marker {
            t.write(&path, &code);
        }
    }
    for (line, _, code) in &runnable {
        let name = format!("readme_line_{line}_test.rhai");
        t.write(&name, code);
        herodo(t.path(), ["--engine", "podman", "test", name.as_str()])
            .env("HERODO_CONTAINER_ENGINE", "podman")
            .run()
            .ok()
            .stdout_has("1 passed, 0 failed, 0 skipped");
    }
}
