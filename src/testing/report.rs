//! Output formats of `herodo test`: pretty (default), TAP 13, JSON, JUnit XML, and the
//! JSON-lines stream a parallel worker sends to its parent.

use std::io::Write;
use std::time::Duration;

use super::{Status, Summary, TestResult};
use crate::exec::fmt_duration;

/// Which format results are printed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per test, failures in detail at the end, then the summary line
    Pretty,
    /// TAP version 13
    Tap,
    /// One JSON document with every result and the summary
    Json,
    /// One self-contained HTML page (suites, durations, failures with their source lines)
    /// for a browser; the summary line goes to stderr
    Html,
}

/// Receives results as tests finish.
pub trait Reporter {
    fn result(&mut self, r: &TestResult);
    /// Called once at the end; `interrupted` when Ctrl-C stopped the run.
    fn finish(
        &mut self,
        all: &[TestResult],
        summary: &Summary,
        elapsed: Duration,
        interrupted: bool,
    );
}

pub fn reporter(format: Format, color: bool, quiet: bool) -> Box<dyn Reporter> {
    match format {
        Format::Pretty => Box::new(Pretty { color, quiet }),
        Format::Tap => Box::new(Tap {
            n: 0,
            started: false,
        }),
        Format::Json => Box::new(Json),
        Format::Html => Box::new(Html),
    }
}

struct Pretty {
    color: bool,
    /// Only failures (in detail at the end) and the summary.
    quiet: bool,
}

impl Pretty {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

fn label(status: Status) -> (&'static str, &'static str) {
    match status {
        Status::Passed => ("PASS", "32"),
        Status::Failed => ("FAIL", "1;31"),
        Status::TimedOut => ("TIME", "1;31"),
        Status::Skipped => ("SKIP", "33"),
    }
}

impl Reporter for Pretty {
    fn result(&mut self, r: &TestResult) {
        if self.quiet && !r.status.is_failure() {
            return;
        }
        let (text, code) = label(r.status);
        let mut line = format!(
            "{} {} ({})",
            self.paint(code, text),
            r.full_name(),
            fmt_duration(r.duration)
        );
        if r.status == Status::Skipped {
            line.push_str(&format!(": {}", r.message));
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }

    fn finish(
        &mut self,
        all: &[TestResult],
        summary: &Summary,
        elapsed: Duration,
        interrupted: bool,
    ) {
        let mut out = std::io::stdout().lock();
        let failures: Vec<&TestResult> = all.iter().filter(|r| r.status.is_failure()).collect();
        if !failures.is_empty() {
            let _ = writeln!(out, "\n{}", self.paint("1", "failures:"));
            for r in &failures {
                let _ = writeln!(out, "\n---- {} ----", r.full_name());
                let _ = writeln!(out, "{}", r.message.trim_end());
            }
        }
        let skipped: Vec<&TestResult> =
            all.iter().filter(|r| r.status == Status::Skipped).collect();
        if !skipped.is_empty() {
            let _ = writeln!(out, "\n{}", self.paint("1", "skipped:"));
            for r in &skipped {
                let _ = writeln!(out, "  {}: {}", r.full_name(), r.message);
            }
        }
        let handled: Vec<&String> = all.iter().flat_map(|r| r.resources.iter()).collect();
        let _ = writeln!(out);
        let kept: Vec<&&String> = handled.iter().filter(|r| r.starts_with("kept ")).collect();
        if !kept.is_empty() {
            let _ = writeln!(out, "{}", self.paint("1", "kept (--keep):"));
            for k in kept {
                let _ = writeln!(out, "  {k}");
            }
        } else {
            // Count only what was really removed; failures are listed as warnings below.
            let removed: Vec<&str> = handled
                .iter()
                .filter_map(|r| r.strip_prefix("removed "))
                .collect();
            if !removed.is_empty() {
                let _ = writeln!(
                    out,
                    "removed {} resource(s) tests left behind (--keep keeps them):",
                    removed.len()
                );
                for r in removed {
                    let _ = writeln!(out, "  {r}");
                }
            }
        }
        for failed in handled.iter().filter(|r| r.starts_with("could not remove")) {
            let _ = writeln!(out, "warning: {failed}");
        }
        if interrupted {
            let _ = writeln!(
                out,
                "interrupted (Ctrl-C or SIGTERM): teardown and cleanup ran"
            );
        }
        let _ = writeln!(out, "finished in {}", fmt_duration(elapsed));
        let _ = writeln!(out, "{}", summary.line());
    }
}

struct Tap {
    n: usize,
    started: bool,
}

/// Indent text for a TAP YAML block scalar.
fn yaml_block(text: &str) -> String {
    text.trim_end()
        .lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Reporter for Tap {
    fn result(&mut self, r: &TestResult) {
        let mut out = std::io::stdout().lock();
        if !self.started {
            let _ = writeln!(out, "TAP version 13");
            self.started = true;
        }
        self.n += 1;
        let name = r.full_name();
        match r.status {
            Status::Passed => {
                let _ = writeln!(out, "ok {} - {name}", self.n);
            }
            Status::Skipped => {
                let _ = writeln!(
                    out,
                    "ok {} - {name} # SKIP {}",
                    self.n,
                    r.message.replace('\n', " ")
                );
            }
            Status::Failed | Status::TimedOut => {
                let _ = writeln!(out, "not ok {} - {name}", self.n);
                let _ = writeln!(out, "  ---");
                let _ = writeln!(
                    out,
                    "  status: {}",
                    if r.status == Status::TimedOut {
                        "timed_out"
                    } else {
                        "failed"
                    }
                );
                let _ = writeln!(out, "  duration_ms: {}", r.duration.as_millis());
                let _ = writeln!(out, "  message: |-\n{}", yaml_block(&r.message));
                let _ = writeln!(out, "  ...");
            }
        }
        let _ = out.flush();
    }

    fn finish(
        &mut self,
        _all: &[TestResult],
        summary: &Summary,
        _elapsed: Duration,
        interrupted: bool,
    ) {
        let mut out = std::io::stdout().lock();
        if !self.started {
            let _ = writeln!(out, "TAP version 13");
        }
        if interrupted {
            let _ = writeln!(out, "Bail out! interrupted by Ctrl-C");
        }
        let _ = writeln!(out, "1..{}", self.n);
        let _ = writeln!(out, "# {}", summary.line());
    }
}

struct Json;

impl Reporter for Json {
    fn result(&mut self, _r: &TestResult) {}

    fn finish(
        &mut self,
        all: &[TestResult],
        summary: &Summary,
        elapsed: Duration,
        interrupted: bool,
    ) {
        let doc = serde_json::json!({
            "tests": all,
            "summary": summary,
            "duration": elapsed.as_secs_f64(),
            "interrupted": interrupted,
        });
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into())
        );
        // The closing line goes to stderr so stdout stays one JSON document.
        eprintln!("{}", summary.line());
    }
}

struct Html;

impl Reporter for Html {
    fn result(&mut self, _r: &TestResult) {}

    fn finish(
        &mut self,
        all: &[TestResult],
        summary: &Summary,
        elapsed: Duration,
        interrupted: bool,
    ) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(html(all, summary, elapsed, interrupted).as_bytes());
        let _ = out.flush();
        // As with JSON, stdout is the document alone.
        eprintln!("{}", summary.line());
    }
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A failure's rendered error with its parts marked: the `--> file:line:col` location, the
/// numbered source lines and the caret line under them.
fn html_message(message: &str) -> String {
    let mut out = String::new();
    for line in message.trim_end().lines() {
        let t = line.trim_start();
        let class = if t.starts_with("--> ") {
            Some("loc")
        } else if t
            .split_once(" |")
            .is_some_and(|(n, _)| !n.is_empty() && n.trim().chars().all(|c| c.is_ascii_digit()))
        {
            Some("src")
        } else if t.starts_with('|') && t.contains('^') {
            Some("caret")
        } else {
            None
        };
        match class {
            Some(c) => out.push_str(&format!(
                "<span class=\"{c}\">{}</span>\n",
                html_escape(line)
            )),
            None => {
                out.push_str(&html_escape(line));
                out.push('\n');
            }
        }
    }
    out
}

fn status_class(status: Status) -> &'static str {
    match status {
        Status::Passed => "pass",
        Status::Failed | Status::TimedOut => "fail",
        Status::Skipped => "skip",
    }
}

const HTML_STYLE: &str = "
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1b1b1b;background:#f6f7f9}
header{padding:18px 28px;color:#fff}
header.ok{background:#2e7d32}header.bad{background:#c62828}
h1{margin:0 0 4px;font-size:24px}h2{font-size:18px;margin:24px 0 8px}
main{padding:0 28px 28px}
.bar{display:flex;height:16px;border-radius:4px;overflow:hidden;background:#ddd;margin-top:10px}
.bar span{display:block}.bar .pass{background:#66bb6a}.bar .fail{background:#ff8a80}.bar .skip{background:#ffd54f}
table{border-collapse:collapse;width:100%;background:#fff}
td,th{padding:4px 8px;border-bottom:1px solid #e3e5e8;text-align:left;vertical-align:top}
td.st{font-weight:700;width:4em}td.st.pass{color:#2e7d32}td.st.fail{color:#c62828}td.st.skip{color:#a77b00}
td.dur{width:6em;text-align:right;font-variant-numeric:tabular-nums}
td.graph{width:30%}.d{height:10px;background:#90a4ae;border-radius:2px;min-width:1px}
details{margin:8px 0;background:#fff;border:1px solid #e3e5e8;border-radius:6px}
summary{padding:8px 12px;cursor:pointer;font-weight:600}
summary .n{font-weight:400;color:#555}
.failure{background:#fff;border-left:6px solid #c62828;margin:10px 0;padding:6px 14px;border-radius:4px}
.failure h3{margin:6px 0;font-size:15px}
pre{background:#1e1e1e;color:#eee;padding:10px;overflow-x:auto;border-radius:4px;font-size:13px}
pre .loc{color:#81d4fa}pre .src{color:#fff59d}pre .caret{color:#ff8a80;font-weight:700}
.note{color:#555}
";

/// `herodo test --format html`: one page a browser shows without a server (no scripts, no
/// external files): the summary with a bar, the failures with their source lines, and every
/// suite with its tests and their durations.
pub fn html(all: &[TestResult], summary: &Summary, elapsed: Duration, interrupted: bool) -> String {
    let total = all.len().max(1) as f64;
    let pct = |n: usize| format!("{:.2}", n as f64 * 100.0 / total);
    let ok = summary.failed == 0 && !interrupted;
    let mut h = String::new();
    h.push_str(&format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>herodo test: {}</title><style>{HTML_STYLE}</style></head>\n<body>\n",
        summary.line()
    ));
    h.push_str(&format!(
        "<header class=\"{}\"><h1>herodo test</h1><div class=\"summary\">{} in {}{}</div>\
         <div class=\"bar\" title=\"{}\"><span class=\"pass\" style=\"width:{}%\"></span>\
         <span class=\"fail\" style=\"width:{}%\"></span><span class=\"skip\" style=\"width:{}%\"></span></div>\
         </header>\n<main>\n",
        if ok { "ok" } else { "bad" },
        summary.line(),
        fmt_duration(elapsed),
        if interrupted { " (interrupted: teardown and cleanup ran)" } else { "" },
        summary.line(),
        pct(summary.passed),
        pct(summary.failed),
        pct(summary.skipped),
    ));
    let failures: Vec<&TestResult> = all.iter().filter(|r| r.status.is_failure()).collect();
    if !failures.is_empty() {
        h.push_str("<h2>Failures</h2>\n");
        for (i, r) in failures.iter().enumerate() {
            h.push_str(&format!(
                "<div class=\"failure\" id=\"failure-{}\"><h3>{} <span class=\"note\">{} after {}</span></h3><pre>{}</pre></div>\n",
                i + 1,
                html_escape(&r.full_name()),
                if r.status == Status::TimedOut { "timed out" } else { "failed" },
                fmt_duration(r.duration),
                html_message(&r.message)
            ));
        }
    }
    h.push_str("<h2>Suites</h2>\n");
    let mut files: Vec<&str> = Vec::new();
    for r in all {
        if !files.contains(&r.file.as_str()) {
            files.push(&r.file);
        }
    }
    if files.is_empty() {
        h.push_str("<p class=\"note\">No test ran.</p>\n");
    }
    let longest = all
        .iter()
        .map(|r| r.duration.as_secs_f64())
        .fold(0.0, f64::max)
        .max(1e-9);
    for file in files {
        let rs: Vec<&TestResult> = all.iter().filter(|r| r.file == file).collect();
        let mut s = Summary::default();
        rs.iter().for_each(|r| s.add(r.status));
        let time: Duration = rs.iter().map(|r| r.duration).sum();
        h.push_str(&format!(
            "<details{}><summary>{} <span class=\"n\">{} · {}</span></summary>\n<table>\n",
            if s.failed > 0 { " open" } else { "" },
            html_escape(file),
            s.line(),
            fmt_duration(time)
        ));
        for r in rs {
            let (label_text, _) = label(r.status);
            let note = if r.status == Status::Skipped {
                format!(" <span class=\"note\">{}</span>", html_escape(&r.message))
            } else {
                String::new()
            };
            h.push_str(&format!(
                "<tr><td class=\"st {}\">{label_text}</td><td>{}{note}</td><td class=\"dur\">{}</td>\
                 <td class=\"graph\"><div class=\"d\" style=\"width:{:.1}%\"></div></td></tr>\n",
                status_class(r.status),
                html_escape(&r.name),
                fmt_duration(r.duration),
                r.duration.as_secs_f64() * 100.0 / longest
            ));
        }
        h.push_str("</table></details>\n");
    }
    let removed: Vec<&String> = all.iter().flat_map(|r| r.resources.iter()).collect();
    if !removed.is_empty() {
        h.push_str("<h2>Resources</h2>\n<ul>\n");
        for r in removed {
            h.push_str(&format!("<li>{}</li>\n", html_escape(r)));
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</main>\n</body></html>\n");
    h
}

/// The worker side of `-j N`: one JSON line per result on the result stream.
pub struct Stream<W: Write> {
    pub out: W,
}

impl<W: Write> Reporter for Stream<W> {
    fn result(&mut self, r: &TestResult) {
        if let Ok(line) = serde_json::to_string(r) {
            let _ = writeln!(self.out, "{line}");
            let _ = self.out.flush();
        }
    }

    fn finish(&mut self, _: &[TestResult], _: &Summary, _: Duration, _: bool) {}
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot hold at all.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML for all results, one `<testsuite>` per file.
pub fn junit(all: &[TestResult], elapsed: Duration) -> String {
    let mut files: Vec<&str> = Vec::new();
    for r in all {
        if !files.contains(&r.file.as_str()) {
            files.push(&r.file);
        }
    }
    let mut total = Summary::default();
    all.iter().for_each(|r| total.add(r.status));
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&format!(
        "<testsuites name=\"herodo\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{:.3}\">\n",
        all.len(),
        total.failed,
        total.skipped,
        elapsed.as_secs_f64()
    ));
    for file in files {
        let rs: Vec<&TestResult> = all.iter().filter(|r| r.file == file).collect();
        let mut s = Summary::default();
        rs.iter().for_each(|r| s.add(r.status));
        let time: f64 = rs.iter().map(|r| r.duration.as_secs_f64()).sum();
        xml.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{time:.3}\">\n",
            xml_escape(file),
            rs.len(),
            s.failed,
            s.skipped
        ));
        for r in rs {
            let open = format!(
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                xml_escape(&r.file),
                xml_escape(&r.name),
                r.duration.as_secs_f64()
            );
            match r.status {
                Status::Passed => xml.push_str(&format!("{open}/>\n")),
                Status::Skipped => xml.push_str(&format!(
                    "{open}>\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                    xml_escape(&r.message)
                )),
                Status::Failed | Status::TimedOut => {
                    let first = r.message.lines().next().unwrap_or("failed");
                    let kind = if r.status == Status::TimedOut {
                        "timeout"
                    } else {
                        "failure"
                    };
                    xml.push_str(&format!(
                        "{open}>\n      <failure message=\"{}\" type=\"{kind}\">{}</failure>\n    </testcase>\n",
                        xml_escape(first),
                        xml_escape(&r.message)
                    ));
                }
            }
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, status: Status, message: &str) -> TestResult {
        TestResult {
            file: "tests/a_test.rhai".into(),
            name: name.into(),
            status,
            duration: Duration::from_millis(5),
            message: message.into(),
            resources: vec![],
        }
    }

    #[test]
    fn junit_has_required_structure_and_escapes() {
        let all = vec![
            result("test_ok", Status::Passed, ""),
            result("test_bad", Status::Failed, "expected <1> & \"2\"\nmore"),
            result("test_skip", Status::Skipped, "no podman"),
            result("test_slow", Status::TimedOut, "timed out"),
        ];
        let xml = junit(&all, Duration::from_secs(1));
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
        assert!(xml.contains(
            "<testsuites name=\"herodo\" tests=\"4\" failures=\"2\" errors=\"0\" skipped=\"1\""
        ));
        assert!(xml.contains("<testsuite name=\"tests/a_test.rhai\" tests=\"4\" failures=\"2\" errors=\"0\" skipped=\"1\""));
        assert!(xml.contains(
            "<testcase classname=\"tests/a_test.rhai\" name=\"test_ok\" time=\"0.005\"/>"
        ));
        assert!(xml.contains(
            "<failure message=\"expected &lt;1&gt; &amp; &quot;2&quot;\" type=\"failure\">"
        ));
        assert!(xml.contains("<skipped message=\"no podman\"/>"));
        assert!(xml.contains("type=\"timeout\""));
        assert_eq!(xml.matches("<testcase").count(), 4);
        assert_eq!(xml.matches("</testsuite>").count(), 1);
    }

    #[test]
    fn html_report_has_suites_failures_and_source_lines() {
        let message = "error[assertion]: assert_eq failed\n  --> tests/a_test.rhai:3:5\n   |\n 3 |     assert_eq(1, <2>);\n   |     ^\n";
        let all = vec![
            result("test_ok", Status::Passed, ""),
            result("test_bad", Status::Failed, message),
            result("test_skip", Status::Skipped, "no <podman>"),
        ];
        let mut s = Summary::default();
        all.iter().for_each(|r| s.add(r.status));
        let page = html(&all, &s, Duration::from_millis(1500), false);
        assert!(page.starts_with("<!doctype html>"));
        assert!(page.ends_with("</html>\n"));
        assert!(page.contains("<title>herodo test: 1 passed, 1 failed, 1 skipped</title>"));
        assert!(page.contains("<header class=\"bad\">"));
        assert!(page.contains("<span class=\"loc\">  --&gt; tests/a_test.rhai:3:5</span>"));
        assert!(page.contains("<span class=\"src\"> 3 |     assert_eq(1, &lt;2&gt;);</span>"));
        assert!(page.contains("<span class=\"caret\">   |     ^</span>"));
        assert!(page.contains("no &lt;podman&gt;"));
        assert!(page.contains("<details open><summary>tests/a_test.rhai"));
        assert_eq!(page.matches("<tr>").count(), 3);
        assert!(
            !page.contains("<script"),
            "no scripts: it opens from a file"
        );
        let all_ok = vec![result("test_ok", Status::Passed, "")];
        let mut s = Summary::default();
        s.add(Status::Passed);
        let page = html(&all_ok, &s, Duration::from_millis(5), false);
        assert!(page.contains("<header class=\"ok\">"));
        assert!(!page.contains("Failures"));
    }

    #[test]
    fn summary_line_format() {
        let mut s = Summary::default();
        for st in [
            Status::Passed,
            Status::Passed,
            Status::Failed,
            Status::TimedOut,
            Status::Skipped,
        ] {
            s.add(st);
        }
        assert_eq!(s.line(), "2 passed, 2 failed, 1 skipped");
    }
}
