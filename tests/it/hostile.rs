//! The hostile-input suite: every function `herodo fns --json` lists is called with hostile
//! values in each parameter (empty, shell metacharacters, path traversal, NUL, huge and
//! negative numbers, NaN, unknown option keys, secrets in secret positions), under --dry-run in a
//! scratch directory. Generated from the registered list, so new bindings are covered
//! automatically. Asserts: no panic, no hang, the canary secret appears in no output, and no
//! injected command ran.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{herodo, TempDir, BIN};

const CANARY: &str = "S3CR3T-CANARY-9f8e7d";

/// How long one function's script may take (all its calls) before it counts as a hang.
const SCRIPT_LIMIT: Duration = Duration::from_secs(30);

fn hostile_strings(pwn: &str) -> Vec<String> {
    vec![
        "\"\"".into(),
        format!("\"a;touch {pwn}\""),
        format!("\"$(touch {pwn})\""),
        format!("\"`touch {pwn}`\""),
        "\"../../../../../../etc/passwd\"".into(),
        "\"/\"".into(),
        "\".\"".into(),
        "\"..\"".into(),
        "\"-rf\"".into(),
        "\"--help\"".into(),
        "\"x\\x00y\"".into(),
        "\"line\\nbreak\"".into(),
        "\"ünï©ødé\\u202e\\u200b\"".into(),
        "\"127.attacker.example/x:1\"".into(),
        "\"a:b:c:d:e\"".into(),
        "\"http://u:p@127.0.0.1:1/x\"".into(),
        "\"x\".pad(5000, \"y\")".into(),
    ]
}

fn hostile_ints() -> Vec<String> {
    [
        "0",
        "-1",
        "4294967297",
        "9223372036854775807",
        "-9223372036854775807",
    ]
    .map(String::from)
    .to_vec()
}

fn hostile_floats() -> Vec<String> {
    ["1e300", "-1.0", "(0.0 / 0.0)", "(1e308 * 10.0)", "0.001"]
        .map(String::from)
        .to_vec()
}

fn hostile_maps(pwn: &str) -> Vec<String> {
    vec![
        "#{}".into(),
        "#{bogus_key: 1}".into(),
        "#{timeout: 1e300}".into(),
        "#{timeout: -1}".into(),
        "#{timeout: \"x\"}".into(),
        "#{env: #{\"A=B\": \"x\"}}".into(),
        "#{env: #{\"\": \"x\"}}".into(),
        format!("#{{env: #{{TOKEN: \"{CANARY}\"}}}}"),
        format!("#{{env: [\"TOKEN={CANARY}\"]}}"),
        "#{name: \"../x\", image: \"a;b\"}".into(),
        format!("#{{options: [\"ProxyCommand=touch {pwn}\"]}}"),
        "#{cwd: \"/nope-dir\", stdin: 1}".into(),
    ]
}

fn hostile_arrays(pwn: &str) -> Vec<String> {
    vec![
        "[]".into(),
        "[\"\"]".into(),
        format!("[\"sh\", \"-c\", \"touch {pwn}\"].extract(3)"),
        "[1, #{}, ()]".into(),
        "[\"x\\x00y\"]".into(),
    ]
}

fn benign(ty: &str) -> String {
    match ty {
        "string" => "\"hx\"".into(),
        "int" => "1".into(),
        "float" => "0.5".into(),
        "bool" => "true".into(),
        "map" => "#{}".into(),
        "array" => "[]".into(),
        "Fn" => "|| 1".into(),
        "Container" => "nerdctl_container_new(\"hx-c\")".into(),
        "Builder" => "bah_new(\"hx-b\", \"localhost/hx:1\")".into(),
        "Bah" => "bah(\"hx-f\", \"localhost/hx:1\")".into(),
        "CommandResult" => "run(\"true\", #{silent: true})".into(),
        "HeroPods" => "heropods_new()".into(),
        "PodContainer" => {
            "heropods_new().container_new(#{name: \"hx-p\", image: \"localhost/busybox:test\"})"
                .into()
        }
        _ => "\"hx\"".into(),
    }
}

/// Hostile values for a parameter of type `ty` of function `name`.
fn hostile(name: &str, index: usize, ty: &str, pwn: &str) -> Vec<String> {
    // Secret positions: the value of an env setter, the password of a URL.
    let secret_slot = name.contains("env") && index >= 2 && ty == "string";
    let mut out = match ty {
        "string" => hostile_strings(pwn),
        "int" => hostile_ints(),
        "float" => hostile_floats(),
        "map" => hostile_maps(pwn),
        "array" => hostile_arrays(pwn),
        "any" => {
            let mut v = hostile_strings(pwn);
            v.extend(hostile_ints());
            v.extend(hostile_floats());
            v.push("()".into());
            v.push("#{bogus_key: 1}".into());
            v
        }
        _ => Vec::new(),
    };
    // sleep(ms): 4294967297 ms is a valid 49-day pause, what was asked and not a hang (larger
    // values are refused; Ctrl-C stops any pause: tests/it/signals.rs). Its `any` overload
    // hands integers to the same pause.
    if name == "sleep" {
        out.retain(|x| x != "4294967297");
    }
    if secret_slot {
        out.push(format!("\"{CANARY}\""));
    }
    if name.starts_with("http") && ty == "string" {
        out.push(format!("\"http://user:{CANARY}@127.0.0.1:1/\""));
    }
    out
}

struct Param {
    ty: String,
}

struct Func {
    name: String,
    params: Vec<Param>,
}

fn functions() -> Vec<Func> {
    let t = TempDir::new("hostile-fns");
    let out = herodo(t.path(), ["fns", "--json"]).run().ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .filter_map(|f| {
            let name = f["name"].as_str()?.to_string();
            // Properties (`Container.name`) take no hostile input.
            if name.contains('.') {
                return None;
            }
            let params = f["params"]
                .as_array()?
                .iter()
                .map(|p| Param {
                    ty: p["type"].as_str().unwrap_or("any").to_string(),
                })
                .collect();
            Some(Func { name, params })
        })
        .collect()
}

/// One script per function name: each call in its own try/catch.
fn scripts(funcs: &[Func], pwn: &str) -> (BTreeMap<String, String>, usize) {
    let mut scripts: BTreeMap<String, String> = BTreeMap::new();
    let mut inputs = 0;
    for f in funcs {
        let text = scripts.entry(f.name.clone()).or_default();
        let is_method = f.params.first().is_some_and(|p| {
            matches!(
                p.ty.as_str(),
                "Container" | "Builder" | "Bah" | "CommandResult"
            )
        });
        for (i, p) in f.params.iter().enumerate() {
            for value in hostile(&f.name, i + 1, &p.ty, pwn) {
                let args: Vec<String> = f
                    .params
                    .iter()
                    .enumerate()
                    .map(|(j, q)| if j == i { value.clone() } else { benign(&q.ty) })
                    .collect();
                let call = if is_method && i > 0 {
                    format!(
                        "let o = {}; o.{}({})",
                        args[0],
                        f.name,
                        args[1..].join(", ")
                    )
                } else {
                    format!("{}({})", f.name, args.join(", "))
                };
                text.push_str(&format!("try {{ {call}; }} catch (e) {{ }}\n"));
                inputs += 1;
            }
        }
    }
    scripts.retain(|_, t| !t.is_empty());
    (scripts, inputs)
}

struct Outcome {
    code: Option<i32>,
    output: String,
    hung: bool,
}

fn run_script(dir: &Path, file: &Path) -> Outcome {
    let mut child = Command::new(BIN)
        .args(["--dry-run", "--timeout", "5"])
        .arg(file)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("HERODO_STATE_DIR", dir.join("state"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stdout.read_to_end(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s);
        s
    });
    let started = Instant::now();
    let mut hung = false;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > SCRIPT_LIMIT {
            hung = true;
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&t_out.join().unwrap()),
        String::from_utf8_lossy(&t_err.join().unwrap())
    );
    Outcome {
        code: status.code(),
        output,
        hung,
    }
}

#[test]
fn hostile_inputs_never_panic_hang_leak_or_inject() {
    // A deep scratch directory, so `../../..` values stay inside it.
    let root = TempDir::new("hostile");
    let dir = root.path().join("a/b/c/d/e/f/g/h");
    std::fs::create_dir_all(&dir).unwrap();
    let pwn = root.path().join("pwned");
    let pwn = pwn.display().to_string();
    let funcs = functions();
    assert!(funcs.len() > 150, "only {} functions listed", funcs.len());
    let (scripts, inputs) = scripts(&funcs, &pwn);
    assert!(inputs >= 300, "only {inputs} hostile inputs generated");
    let mut problems = Vec::new();
    for (name, text) in &scripts {
        let file = dir.join(format!("hx_{name}.rhai"));
        std::fs::write(&file, text).unwrap();
        let o = run_script(&dir, &file);
        let who = format!("{name} ({})", file.display());
        if o.hung {
            problems.push(format!("{who}: hung for {SCRIPT_LIMIT:?}"));
        }
        if o.code.is_none() || o.code == Some(101) {
            problems.push(format!("{who}: died ({:?})", o.code));
        }
        if o.output.contains("panicked") || o.output.contains("internal error") {
            problems.push(format!("{who}: panic: {}", tail(&o.output)));
        }
        if o.output.contains(CANARY) {
            let line = o.output.lines().find(|l| l.contains(CANARY)).unwrap_or("");
            problems.push(format!("{who}: the canary leaked: {line}"));
        }
    }
    assert!(!Path::new(&pwn).exists(), "an injected command ran");
    eprintln!(
        "hostile inputs: {inputs} calls over {} functions ({} scripts)",
        funcs.len(),
        scripts.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(8)..].join("\n")
}

#[test]
fn secrets_stay_out_of_every_report_format() {
    let t = TempDir::new("hostile-reports");
    t.write(
        "leak_test.rhai",
        &format!(
            "fn test_secret_before_any_command() {{\n    let c = nerdctl_container_new(\"hx\").with_env(\"TOKEN\", \"{CANARY}\").with_port(\"70000\");\n    c.build();\n}}\nfn test_run_env() {{\n    run(\"exit 3\", #{{env: #{{TOKEN: \"{CANARY}\"}}}});\n}}\n"
        ),
    );
    for format in ["pretty", "tap", "json"] {
        let junit = t.path().join(format!("j-{format}.xml"));
        let out = herodo(
            t.path(),
            [
                "--dry-run",
                "test",
                "--format",
                format,
                "--junit",
                &junit.display().to_string(),
                "leak_test.rhai",
            ],
        )
        .run()
        .code(1);
        assert!(!out.stdout.contains(CANARY), "{format}: {}", out.stdout);
        assert!(!out.stderr.contains(CANARY), "{format}: {}", out.stderr);
        let xml = std::fs::read_to_string(&junit).unwrap();
        assert!(!xml.contains(CANARY), "junit: {xml}");
        assert!(xml.contains("failure"), "{xml}");
    }
}
