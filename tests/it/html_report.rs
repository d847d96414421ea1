//! `herodo test --format html` in a real browser: Debian's chromium renders the page headless
//! (from a file: no server), its DOM holds the failure with its source line, and a screenshot
//! shows what a user sees first: a red header for a failed run, a green one for a passing run.

use std::path::Path;
use std::process::Command;

use crate::support::{herodo, require, TempDir};

const SUITE: &str = r#"
fn test_passes() { assert_eq(1 + 1, 2); }
fn test_fails() {
    let got = "actual";
    assert_eq(got, "expected");
}
fn test_skips() { skip("not today"); }
"#;

/// A PNG's size and pixel colour counts, decoded with Python's zlib (8-bit RGB or RGBA,
/// not interlaced: what chromium writes).
const PNG_STATS: &str = r#"
import json, struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, w, h, ctype = 8, b"", 0, 0, 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype, _, _, lace = struct.unpack(">IIBBBBB", body)
        assert depth == 8 and lace == 0 and ctype in (2, 6), (depth, ctype, lace)
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
bpp = 4 if ctype == 6 else 3
raw, stride = zlib.decompress(idat), w * bpp
rows, prev, i = [], bytearray(stride), 0
for y in range(h):
    f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride]); i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b = prev[x]; c = prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(line); prev = line
def px(x, y): return tuple(rows[y][x * bpp:x * bpp + 3])
def near(p, q): return all(abs(a - b) <= 12 for a, b in zip(p, q))
red, green, total = (0xc6, 0x28, 0x28), (0x2e, 0x7d, 0x32), w * h
counts = {"red": 0, "green": 0, "white": 0}
for y in range(0, h, 2):
    for x in range(0, w, 2):
        p = px(x, y)
        if near(p, red): counts["red"] += 1
        elif near(p, green): counts["green"] += 1
        elif near(p, (255, 255, 255)): counts["white"] += 1
print(json.dumps({"width": w, "height": h, "header": px(w // 2, 8), "counts": counts,
                  "sampled": (w // 2) * (h // 2)}))
"#;

fn chromium() -> Command {
    let mut c = Command::new("chromium");
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--window-size=1000,700",
    ]);
    c
}

/// Render `page` and screenshot it; returns the DOM chromium built and the PNG's stats.
fn render(page: &Path, dir: &Path) -> (String, serde_json::Value) {
    let url = format!("file://{}", page.display());
    let home = dir.join("home");
    let dom = chromium()
        .env("HOME", &home)
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("run chromium");
    assert!(
        dom.status.success(),
        "chromium --dump-dom failed: {}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let png = dir.join("shot.png");
    let shot = chromium()
        .env("HOME", &home)
        .arg(format!("--screenshot={}", png.display()))
        .arg(&url)
        .output()
        .expect("run chromium");
    assert!(
        shot.status.success(),
        "chromium --screenshot failed: {}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let stats = Command::new("python3")
        .args(["-c", PNG_STATS])
        .arg(&png)
        .output()
        .expect("run python3");
    assert!(
        stats.status.success(),
        "{}",
        String::from_utf8_lossy(&stats.stderr)
    );
    (
        String::from_utf8_lossy(&dom.stdout).into_owned(),
        serde_json::from_slice(&stats.stdout).unwrap(),
    )
}

#[test]
fn html_report_renders_in_a_headless_browser() {
    let t = TempDir::new("html-report");
    t.write("tests/report_test.rhai", SUITE);
    t.write("tests/fine_test.rhai", "fn test_one() { assert(true); }\n");
    let out = herodo(t.path(), ["test", "--format", "html", "tests"])
        .run()
        .code(1);
    assert!(out.stdout.starts_with("<!doctype html>"), "{}", out.stdout);
    assert!(
        out.stderr.contains("2 passed, 1 failed, 1 skipped"),
        "{}",
        out.stderr
    );
    let failed = t.write("failed.html", &out.stdout);
    let out = herodo(
        t.path(),
        ["test", "--format", "html", "tests/fine_test.rhai"],
    )
    .run()
    .ok();
    let passed = t.write("passed.html", &out.stdout);
    if !require(&["chromium", "python3"]) {
        return;
    }
    let (dom, png) = render(&failed, t.path());
    assert!(dom.contains("<h2>Failures</h2>"), "{dom}");
    assert!(dom.contains("tests/report_test.rhai::test_fails"), "{dom}");
    // The failing line of the script, as it appears in the source.
    assert!(
        dom.contains("assert_eq(got, \"expected\");")
            || dom.contains("assert_eq(got, &quot;expected&quot;);"),
        "{dom}"
    );
    assert!(dom.contains("not today"), "{dom}");
    assert_eq!(png["width"], 1000, "{png}");
    assert_eq!(png["height"], 700, "{png}");
    // A red header across the top, and the page is not blank.
    assert_eq!(
        png["header"],
        serde_json::json!([0xc6, 0x28, 0x28]),
        "{png}"
    );
    let sampled = png["sampled"].as_f64().unwrap();
    let red = png["counts"]["red"].as_f64().unwrap();
    assert!(red / sampled > 0.03, "too little red: {png}");
    assert!(
        png["counts"]["white"].as_f64().unwrap() / sampled > 0.05,
        "{png}"
    );

    let (dom, png) = render(&passed, t.path());
    assert!(!dom.contains("Failures"), "{dom}");
    assert_eq!(
        png["header"],
        serde_json::json!([0x2e, 0x7d, 0x32]),
        "{png}"
    );
    assert_eq!(png["counts"]["red"], 0, "{png}");
}
