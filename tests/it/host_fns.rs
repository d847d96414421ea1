//! The project's own .rhai suites (tests/rhai) run through `herodo test`, so `cargo test`
//! covers them. HERODO_REQUIRE_TOOLS passes through: in CI a missing tool fails.

use std::path::Path;

use crate::support::herodo;

#[test]
fn rhai_suites_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = herodo(root, ["test", "-j", "2", "tests/rhai"]).run();
    print!("{}", out.stdout);
    eprint!("{}", out.stderr);
    let out = out.ok();
    let last = out.stdout.lines().last().unwrap_or_default().to_string();
    assert!(last.contains(" passed, 0 failed"), "{last}");
    if crate::support::tools_required() {
        assert!(
            last.ends_with(", 0 skipped"),
            "a suite skipped although HERODO_REQUIRE_TOOLS=1: {last}"
        );
    }
}
