//! Discovery and execution of test files, in-process or in parallel worker processes.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rhai::{Dynamic, Engine, EvalAltResult, Module, Scope, Shared, AST};

use super::report::{self, Format, Reporter};
use super::{Status, Summary, TestResult};
use crate::diagnostics::{self, Outcome, Style};
use crate::engine::{self, Limits};
use crate::exec::{fmt_duration, Cmd};
use crate::host::Host;
use crate::outcome::code;
use crate::scripts;

/// Default time one test (with its setup) may take.
pub const DEFAULT_TEST_TIMEOUT: Duration = Duration::from_secs(300);

/// What `herodo test` was asked to do.
#[derive(Clone, Debug, PartialEq)]
pub struct TestOptions {
    pub paths: Vec<PathBuf>,
    pub filter: Option<String>,
    pub fail_fast: bool,
    pub jobs: usize,
    pub list: bool,
    pub timeout: Duration,
    /// `-q`: report only failures and the summary.
    pub quiet: bool,
    pub format: Format,
    pub junit: Option<PathBuf>,
    pub keep: bool,
    /// Set in worker processes of a parallel run: write JSON lines here.
    pub worker_out: Option<PathBuf>,
    /// Global flags to pass on to worker processes.
    pub forward: Vec<String>,
}

fn is_test_file(p: &Path) -> bool {
    let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    name.ends_with(".rhai") && (name.ends_with("_test.rhai") || name.starts_with("test_"))
}

/// Test files: the files given, and the `*_test.rhai` / `test_*.rhai` files below the
/// directories given (default `tests/`), in sorted order without duplicates.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let defaults = [PathBuf::from("tests")];
    let roots: &[PathBuf] = if paths.is_empty() { &defaults } else { paths };
    let mut out = Vec::new();
    for root in roots {
        if root.is_file() {
            out.push(root.clone());
        } else if root.is_dir() {
            let found = crate::scripts::scripts_in(root)
                .map_err(|e| format!("cannot read {}: {e}", root.display()))?;
            out.extend(found.into_iter().filter(|p| is_test_file(p)));
        } else if paths.is_empty() {
            return Err("no tests/ directory here; give test files or directories".into());
        } else {
            return Err(format!("no such file or directory: {}", root.display()));
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|p| seen.insert(scripts::absolute(p)));
    Ok(out)
}

/// The `test_*` functions of a compiled file, in source order, with their parameter count: a
/// test takes none, or one (what `setup()` returned); others are reported, not run.
fn test_functions(ast: &AST, text: &str) -> Vec<(String, usize)> {
    let mut names: Vec<(String, usize)> = ast
        .iter_functions()
        .filter(|f| f.name.starts_with("test_"))
        .map(|f| (f.name.to_string(), f.params.len()))
        .collect();
    names.sort_by_key(|(n, _)| text.find(&format!("fn {n}(")).unwrap_or(usize::MAX));
    names.dedup_by(|a, b| a.0 == b.0);
    names
}

fn has_fn(ast: &AST, name: &str) -> bool {
    ast.iter_functions()
        .any(|f| f.name == name && f.params.is_empty())
}

/// The parameter count of `name` when the file defines it with at most one parameter.
fn fn_arity(ast: &AST, name: &str) -> Option<usize> {
    ast.iter_functions()
        .filter(|f| f.name == name && f.params.len() <= 1)
        .map(|f| f.params.len())
        .max()
}

/// The variable a test's call passes the value of `setup()` in.
const CTX_VAR: &str = "__herodo_ctx";

/// Results flow through here: counted, reported, kept for the end.
struct Collector {
    all: Vec<TestResult>,
    summary: Summary,
    reporter: Box<dyn Reporter>,
}

impl Collector {
    fn push(&mut self, r: TestResult) {
        self.summary.add(r.status);
        self.reporter.result(&r);
        self.all.push(r);
    }
}

/// The name the file under test is registered as, so that its functions run with the
/// imports and constants of its top level (Rhai's `call_fn` would drop them).
const FILE_MODULE: &str = "herodo_test_file";

/// Source name of the one-line scripts that call a test; diagnostics leave it out.
const CALL_SOURCE: &str = diagnostics::HIDDEN_SOURCE;

/// Run `f` under `timeout`: when it expires, the cancel flag stops the script and whatever
/// command it is running. Also reports whether Ctrl-C interrupted it.
fn timed<T>(
    host: &Host,
    timeout: Duration,
    f: impl FnOnce() -> Result<T, Box<EvalAltResult>>,
) -> (Run<T>, bool) {
    let fired = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<()>();
    let (flag, cancel) = (fired.clone(), host.cancel.clone());
    std::thread::spawn(move || {
        if let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(timeout) {
            flag.store(true, Ordering::SeqCst);
            cancel.cancel();
        }
    });
    let res = f();
    drop(tx);
    if fired.load(Ordering::SeqCst) {
        host.cancel.reset();
        return (Run::TimedOut, false);
    }
    (Run::Done(res), host.cancel.is_cancelled())
}

/// Runs the files of one process.
struct Runner<'a> {
    host: &'a Arc<Host>,
    engine: Engine,
    opts: &'a TestOptions,
    filter: Option<regex::Regex>,
    style: Style,
    interrupted: bool,
    stop: bool,
    /// What `print` and `debug` gave during the current test (in one process, as a worker of
    /// `-j N` captures its file's output); `None` when output goes straight through.
    printed: Option<Arc<Mutex<String>>>,
}

enum Run<T> {
    Done(Result<T, Box<EvalAltResult>>),
    TimedOut,
}

impl Runner<'_> {
    fn selected(&self, full_name: &str) -> bool {
        self.filter.as_ref().is_none_or(|re| re.is_match(full_name))
    }

    fn timed<T>(&mut self, f: impl FnOnce(&Engine) -> Result<T, Box<EvalAltResult>>) -> Run<T> {
        let engine = &self.engine;
        let (run, interrupted) = timed(self.host, self.opts.timeout, || f(engine));
        if interrupted {
            // Ctrl-C, SIGTERM or SIGHUP: no further test starts, but teardown and cleanup
            // still run, so the flag is cleared for them (a new signal sets it again).
            self.interrupted = true;
            self.host.cancel.reset();
        }
        run
    }

    fn call(&mut self, name: &str) -> Run<()> {
        self.call_with(name, None).map_unit()
    }

    /// Call `name`, with `ctx` as its one argument when given; returns what it returns.
    fn call_with(&mut self, name: &str, ctx: Option<&Dynamic>) -> Run<Dynamic> {
        let args = if ctx.is_some() { CTX_VAR } else { "" };
        let script = format!("{FILE_MODULE}::{name}({args})");
        let mut scope = Scope::new();
        if let Some(v) = ctx {
            scope.push(CTX_VAR, v.clone());
        }
        self.timed(|engine| {
            let mut ast = engine.compile(&script)?;
            ast.set_source(CALL_SOURCE);
            engine.eval_ast_with_scope::<Dynamic>(&mut scope, &ast)
        })
    }

    /// Output `print` and `debug` gave since the last call, for a failing test's report.
    fn take_output(&self) -> String {
        self.printed
            .as_ref()
            .map(|b| std::mem::take(&mut *b.lock().unwrap_or_else(|e| e.into_inner())))
            .unwrap_or_default()
    }

    /// A finished test's result; a failure gets the output its test printed.
    fn finish(&self, mut r: TestResult) -> TestResult {
        let printed = self.take_output();
        if r.status.is_failure() && !printed.trim().is_empty() {
            r.message.push_str(&format!(
                "\n\ncaptured output:\n{}",
                crate::exec::tail(&printed, 4000)
            ));
        }
        r
    }

    /// (status, message) for how a piece of a test ended.
    fn judge(&self, run: Run<()>, file: &str) -> (Status, String) {
        match run {
            Run::TimedOut => (
                Status::TimedOut,
                format!(
                    "timed out after {} (see --test-timeout)",
                    fmt_duration(self.opts.timeout)
                ),
            ),
            Run::Done(Ok(())) => (Status::Passed, String::new()),
            Run::Done(Err(e)) => match diagnostics::outcome(&e) {
                Outcome::Skipped(reason) => (Status::Skipped, reason),
                Outcome::Exit(0) => (Status::Passed, String::new()),
                Outcome::Exit(n) => (Status::Failed, format!("the test called exit({n})")),
                Outcome::Cancelled => (Status::Failed, "cancelled by Ctrl-C".into()),
                Outcome::Error => (
                    Status::Failed,
                    diagnostics::render(self.host, &e, file, Some(&self.engine), self.style),
                ),
            },
        }
    }

    /// Clean up (or with --keep, just list) resources registered since `mark`.
    fn cleanup(&self, mark: usize) -> Vec<String> {
        if self.opts.keep {
            return self
                .host
                .resources
                .drain_from(mark)
                .into_iter()
                .map(|r| format!("kept {} {}", r.kind, r.name))
                .collect();
        }
        self.host
            .cleanup_resources_from(mark)
            .into_iter()
            .map(|c| match c.error {
                None => format!("removed {} {}", c.kind, c.name),
                Some(e) => format!("could not remove {} {}: {e}", c.kind, c.name),
            })
            .collect()
    }

    fn result(
        file: &str,
        name: &str,
        status: Status,
        started: Instant,
        message: String,
    ) -> TestResult {
        TestResult {
            file: file.to_string(),
            name: name.to_string(),
            status,
            duration: started.elapsed(),
            message,
            resources: Vec::new(),
        }
    }

    fn run_file(&mut self, path: &Path, out: &mut Collector) {
        let abs = scripts::absolute(path).display().to_string();
        let shown = self.host.display_path(&abs);
        let started = Instant::now();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                out.push(Self::result(
                    &shown,
                    "(file)",
                    Status::Failed,
                    started,
                    format!("cannot read {shown}: {e}"),
                ));
                return;
            }
        };
        let ast = match scripts::compile(&self.engine, self.host, &abs, &text) {
            Ok(a) => a,
            Err(e) => {
                let msg = diagnostics::render(self.host, &e, &abs, None, self.style);
                out.push(Self::result(
                    &shown,
                    "(compile)",
                    Status::Failed,
                    started,
                    msg,
                ));
                return;
            }
        };
        let file_mark = self.host.resources.len();
        let all_tests = test_functions(&ast, &text);

        if all_tests.is_empty() {
            // A plain script: the whole file is one test.
            let name = path
                .file_stem()
                .map_or("script".into(), |s| s.to_string_lossy().into_owned());
            if !self.selected(&format!("{shown}::{name}")) {
                return;
            }
            let run = self.timed(|engine| {
                engine.run_ast_with_scope(&mut scripts::scope_with_args(&[]), &ast)
            });
            let (status, message) = self.judge(run, &abs);
            let mut r = Self::result(&shown, &name, status, started, message);
            r.resources = self.cleanup(file_mark);
            let r = self.finish(r);
            self.note_failure(&r);
            out.push(r);
            return;
        }

        let tests: Vec<(String, usize)> = all_tests
            .into_iter()
            .filter(|(t, _)| self.selected(&format!("{shown}::{t}")))
            .collect();
        if tests.is_empty() {
            return;
        }

        // The top level runs once; its imports and constants stay with the functions.
        let module = match self.timed(|engine| Module::eval_ast_as_new(Scope::new(), &ast, engine))
        {
            Run::Done(Ok(m)) => m,
            other => {
                let other = other.map_unit();
                let exited = match &other {
                    Run::Done(Err(e)) => match diagnostics::outcome(e) {
                        Outcome::Exit(n) => Some(n),
                        _ => None,
                    },
                    _ => None,
                };
                let (status, message) = match exited {
                    // exit() at the top level stops the file before any of its tests could
                    // run: that is never a pass (use skip(reason) to skip a whole file).
                    Some(n) => (
                        Status::Failed,
                        format!(
                            "exit({n}) at the top level of the file stopped it before its {} test(s) ran; \
                             use skip(\"reason\") to skip a whole file",
                            tests.len()
                        ),
                    ),
                    None => self.judge(other, &abs),
                };
                let status = if status == Status::Passed {
                    Status::Failed
                } else {
                    status
                };
                let mut r = Self::result(&shown, "(top level)", status, started, message);
                r.resources = self.cleanup(file_mark);
                let r = self.finish(r);
                self.note_failure(&r);
                out.push(r);
                return;
            }
        };
        self.engine
            .register_static_module(FILE_MODULE, Shared::new(module));

        if has_fn(&ast, "setup_file") {
            let t0 = Instant::now();
            let run = self.call("setup_file");
            let (status, message) = self.judge(run, CALL_SOURCE);
            if status != Status::Passed {
                let mut r = Self::result(&shown, "setup_file", status, t0, message);
                if has_fn(&ast, "teardown_file") {
                    let _ = self.call("teardown_file");
                }
                r.resources = self.cleanup(file_mark);
                self.note_failure(&r);
                out.push(r);
                return;
            }
        }
        let test_mark = self.host.resources.len();
        let has_setup = has_fn(&ast, "setup");
        let teardown = fn_arity(&ast, "teardown");
        let _ = self.take_output();

        for (t, params) in &tests {
            if self.interrupted || self.stop {
                break;
            }
            let t0 = Instant::now();
            if *params > 1 {
                // Not runnable as a test: say so instead of dropping it silently.
                let r = Self::result(
                    &shown,
                    t,
                    Status::Failed,
                    t0,
                    format!(
                        "{t} takes {params} parameters: a test takes none, or one (the value setup() returns)"
                    ),
                );
                self.note_failure(&r);
                out.push(r);
                continue;
            }
            let mut setup_failed = false;
            let (mut status, mut message) = (Status::Passed, String::new());
            // What setup() returns is handed to a test (and a teardown) taking one parameter.
            let mut ctx = Dynamic::UNIT;
            if has_setup {
                let run = self.call_with("setup", None);
                let run = match run {
                    Run::Done(Ok(v)) => {
                        ctx = v;
                        Run::Done(Ok(()))
                    }
                    other => other.map_unit(),
                };
                (status, message) = self.judge(run, CALL_SOURCE);
                if status != Status::Passed {
                    setup_failed = true;
                    if status != Status::Skipped {
                        message = format!("setup failed:\n{message}");
                    }
                }
            }
            if !setup_failed && !self.interrupted {
                let run = self.call_with(t, (*params == 1).then_some(&ctx)).map_unit();
                (status, message) = self.judge(run, CALL_SOURCE);
            }
            if let Some(arity) = teardown {
                // Teardown always runs, also after a failure, a timeout or Ctrl-C.
                let run = self
                    .call_with("teardown", (arity == 1).then_some(&ctx))
                    .map_unit();
                let (ts, tm) = self.judge(run, CALL_SOURCE);
                if ts.is_failure() {
                    if status.is_failure() {
                        message = format!("{message}\n\nteardown also failed:\n{tm}");
                    } else {
                        status = Status::Failed;
                        message = format!("teardown failed:\n{tm}");
                    }
                }
            }
            let mut r = Self::result(&shown, t, status, t0, message);
            r.resources = self.cleanup(test_mark);
            let r = self.finish(r);
            self.note_failure(&r);
            out.push(r);
        }

        if has_fn(&ast, "teardown_file") {
            let t0 = Instant::now();
            let run = self.call("teardown_file");
            let (status, message) = self.judge(run, CALL_SOURCE);
            if status.is_failure() {
                let r = Self::result(&shown, "teardown_file", status, t0, message);
                self.note_failure(&r);
                out.push(r);
            }
        }
        let _ = self.cleanup(file_mark);
    }

    fn note_failure(&mut self, r: &TestResult) {
        if self.opts.fail_fast && r.status.is_failure() {
            self.stop = true;
        }
    }
}

impl<T> Run<T> {
    fn map_unit(self) -> Run<()> {
        match self {
            Run::Done(r) => Run::Done(r.map(|_| ())),
            Run::TimedOut => Run::TimedOut,
        }
    }
}

/// Carry out `herodo test`; returns the exit code.
pub fn run(host: &Arc<Host>, limits: &Limits, opts: &TestOptions) -> i32 {
    if opts.worker_out.is_some() {
        // A worker must not outlive the run that started it (kill -9 of the parent included).
        // A watcher notices when the parent is gone and cancels once, like Ctrl-C: teardown and
        // cleanup run, then the worker ends. (PR_SET_PDEATHSIG would also fire again for each
        // subreaper the worker is re-parented to, interrupting its teardown.)
        // SAFETY: getppid has no preconditions.
        let parent = unsafe { libc::getppid() };
        if parent == 1 {
            eprintln!("herodo: the parent of this test worker is gone");
            return code::CANCELLED;
        }
        let cancel = host.cancel.clone();
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(100));
            // SAFETY: as above.
            if unsafe { libc::getppid() } != parent {
                cancel.cancel();
                return;
            }
        });
    }
    let filter = match opts.filter.as_deref().map(regex::Regex::new).transpose() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("herodo: invalid --filter: {e}");
            return code::USAGE;
        }
    };
    let files = match discover(&opts.paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("herodo: {e}");
            return code::USAGE;
        }
    };
    if files.is_empty() {
        eprintln!("herodo: no test files found (test files are named *_test.rhai or test_*.rhai)");
        return code::USAGE;
    }
    // A report that cannot be written is a usage error now, not after a long run.
    if let Some(path) = &opts.junit {
        if let Err(e) = std::fs::File::create(path) {
            eprintln!(
                "herodo: cannot write the JUnit report {}: {e}",
                path.display()
            );
            return code::USAGE;
        }
    }
    let mut engine = engine::build(host, limits);
    let mut printed = None;
    if opts.worker_out.is_some() {
        // stdout carries the report: script output goes to stderr, which the parent captures.
        engine.on_print(|s| eprintln!("{s}"));
    } else {
        // Output is captured per test and shown with a failure, as -j N shows a file's.
        let buf = Arc::new(Mutex::new(String::new()));
        let (b1, b2) = (buf.clone(), buf.clone());
        engine.on_print(move |s| {
            let mut b = b1.lock().unwrap_or_else(|e| e.into_inner());
            b.push_str(s);
            b.push('\n');
        });
        engine.on_debug(move |s, _, _| {
            let mut b = b2.lock().unwrap_or_else(|e| e.into_inner());
            b.push_str(s);
            b.push('\n');
        });
        printed = Some(buf);
    }
    if opts.list {
        return list(host, &engine, &files, filter.as_ref());
    }

    use std::io::IsTerminal;
    let color = diagnostics::use_color(std::io::stdout().is_terminal());
    let reporter: Box<dyn Reporter> = match &opts.worker_out {
        Some(p) => match std::fs::File::create(p) {
            Ok(f) => Box::new(report::Stream {
                out: std::io::BufWriter::new(f),
            }),
            Err(e) => {
                eprintln!("herodo: cannot write {}: {e}", p.display());
                return code::USAGE;
            }
        },
        None => report::reporter(opts.format, color, opts.quiet),
    };
    let mut out = Collector {
        all: Vec::new(),
        summary: Summary::default(),
        reporter,
    };
    let started = Instant::now();
    let interrupted = if opts.jobs > 1 && files.len() > 1 && opts.worker_out.is_none() {
        run_parallel(host, opts, &files, &mut out)
    } else {
        let mut runner = Runner {
            host,
            engine,
            opts,
            filter,
            style: Style { color: false },
            interrupted: false,
            stop: false,
            printed,
        };
        for f in &files {
            runner.run_file(f, &mut out);
            if runner.interrupted || runner.stop {
                break;
            }
        }
        runner.interrupted
    };
    let elapsed = started.elapsed();
    out.reporter
        .finish(&out.all, &out.summary, elapsed, interrupted);
    if let Some(path) = &opts.junit {
        if let Err(e) = std::fs::write(path, report::junit(&out.all, elapsed)) {
            eprintln!("herodo: cannot write {}: {e}", path.display());
            return code::SCRIPT_ERROR;
        }
    }
    if interrupted {
        host.cancel.exit_code()
    } else if out.summary.failed > 0 {
        code::SCRIPT_ERROR
    } else if out.all.is_empty() && opts.worker_out.is_none() {
        // A filter that matches nothing is a mistake, not a pass.
        let what = opts
            .filter
            .as_deref()
            .map_or(String::new(), |f| format!(" (--filter {f:?} matched none)"));
        eprintln!("herodo: no test ran{what}");
        code::NO_TESTS
    } else {
        code::OK
    }
}

fn list(
    host: &Arc<Host>,
    engine: &Engine,
    files: &[PathBuf],
    filter: Option<&regex::Regex>,
) -> i32 {
    let mut rc = code::OK;
    for f in files {
        let abs = scripts::absolute(f).display().to_string();
        let shown = host.display_path(&abs);
        let text = std::fs::read_to_string(f).unwrap_or_default();
        match scripts::compile(engine, host, &abs, &text) {
            Ok(ast) => {
                let mut names: Vec<String> = test_functions(&ast, &text)
                    .into_iter()
                    .map(|t| t.0)
                    .collect();
                if names.is_empty() {
                    names.push(
                        f.file_stem()
                            .map_or("script".into(), |s| s.to_string_lossy().into_owned()),
                    );
                }
                for n in names {
                    let full = format!("{shown}::{n}");
                    if filter.is_none_or(|re| re.is_match(&full)) {
                        println!("{full}");
                    }
                }
            }
            Err(e) => {
                eprint!(
                    "{}",
                    diagnostics::render(host, &e, &abs, None, Style { color: false })
                );
                rc = code::SCRIPT_ERROR;
            }
        }
    }
    rc
}

/// Run files in `opts.jobs` worker processes; returns true when interrupted.
fn run_parallel(
    host: &Arc<Host>,
    opts: &TestOptions,
    files: &[PathBuf],
    out: &mut Collector,
) -> bool {
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("herodo: cannot find my own executable for -j: {e}");
            return false;
        }
    };
    let scratch = match crate::common::tmp::tmpdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("herodo: {e}");
            return false;
        }
    };
    let queue: Arc<Mutex<VecDeque<(usize, PathBuf)>>> =
        Arc::new(Mutex::new(files.iter().cloned().enumerate().collect()));
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<(usize, Vec<TestResult>)>();
    let mut handles = Vec::new();
    for _ in 0..opts.jobs.min(files.len()) {
        let (queue, stop, tx, host, exe, scratch) = (
            queue.clone(),
            stop.clone(),
            tx.clone(),
            host.clone(),
            exe.clone(),
            scratch.clone(),
        );
        let opts = opts.clone();
        handles.push(std::thread::spawn(move || loop {
            if stop.load(Ordering::SeqCst) || host.cancel.is_cancelled() {
                break;
            }
            let Some((i, file)) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front()
            else {
                break;
            };
            let results = run_worker(
                &host,
                &opts,
                &exe,
                &scratch.join(format!("{i}.jsonl")),
                &file,
            );
            if opts.fail_fast && results.iter().any(|r| r.status.is_failure()) {
                stop.store(true, Ordering::SeqCst);
            }
            if tx.send((i, results)).is_err() {
                break;
            }
        }));
    }
    drop(tx);
    // Report in file order whatever the order the workers finish in.
    let mut pending = std::collections::BTreeMap::new();
    let mut next = 0;
    for (i, results) in rx {
        pending.insert(i, results);
        while let Some(results) = pending.remove(&next) {
            results.into_iter().for_each(|r| out.push(r));
            next += 1;
        }
    }
    // Files after a --fail-fast stop never ran; report what did.
    for (_, results) in pending {
        results.into_iter().for_each(|r| out.push(r));
    }
    for h in handles {
        let _ = h.join();
    }
    let _ = std::fs::remove_dir_all(&scratch);
    host.cancel.is_cancelled()
}

/// One worker process for one file; its JSON-lines results, or a failure describing the crash.
fn run_worker(
    host: &Host,
    opts: &TestOptions,
    exe: &Path,
    result_file: &Path,
    file: &Path,
) -> Vec<TestResult> {
    let mut cmd = Cmd::new(exe.display().to_string())
        .args(opts.forward.iter().cloned())
        .arg("test")
        .arg("--worker-out")
        .arg(result_file.display().to_string())
        .arg("--test-timeout")
        .arg(format!("{}", opts.timeout.as_secs_f64()))
        .env("NO_COLOR", "1");
    if opts.keep {
        cmd = cmd.arg("--keep");
    }
    if let Some(f) = &opts.filter {
        cmd = cmd.arg("--filter").arg(f.clone());
    }
    // A file's tests may take as long as each test's timeout allows; the worker enforces it.
    cmd = cmd
        .arg(file.display().to_string())
        .timeout(Duration::from_secs(7 * 24 * 3600))
        // Stopped (Ctrl-C, SIGTERM), a worker runs teardown and removes what its tests made.
        .kill_grace(Duration::from_secs(120));
    let shown = host.display_path(&scripts::absolute(file).display().to_string());
    let output = host.exec(cmd);
    let mut results: Vec<TestResult> = std::fs::read_to_string(result_file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    match output {
        Ok(o) => {
            let captured = format!("{}{}", o.stdout, o.stderr);
            let crashed =
                results.is_empty() && o.status.code() != code::OK && o.status.code() != code::USAGE;
            if crashed {
                results.push(TestResult {
                    file: shown,
                    name: "(worker)".into(),
                    status: Status::Failed,
                    duration: o.duration,
                    message: format!(
                        "the worker process failed with {}\n{}",
                        o.status,
                        crate::exec::tail(&captured, 4000)
                    ),
                    resources: vec![],
                });
            } else if !captured.trim().is_empty() {
                for r in results.iter_mut().filter(|r| r.status.is_failure()) {
                    r.message.push_str(&format!(
                        "\n\ncaptured output of {shown}:\n{}",
                        crate::exec::tail(&captured, 4000)
                    ));
                }
            }
        }
        Err(e) => results.push(TestResult {
            file: shown,
            name: "(worker)".into(),
            status: Status::Failed,
            duration: Duration::ZERO,
            message: e.to_string(),
            resources: vec![],
        }),
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_file_names() {
        assert!(is_test_file(Path::new("tests/os_test.rhai")));
        assert!(is_test_file(Path::new("tests/test_os.rhai")));
        assert!(!is_test_file(Path::new("tests/helper.rhai")));
        assert!(!is_test_file(Path::new("tests/os_test.rhai.bak")));
    }

    #[test]
    fn test_functions_in_source_order() {
        let engine = Engine::new();
        let text = "fn test_b() {}\nfn helper() {}\nfn test_a() {}\nfn test_with_arg(x) {}\nfn test_two(x, y) {}\n";
        let ast = engine.compile(text).unwrap();
        let all = test_functions(&ast, text);
        let found: Vec<(&str, usize)> = all.iter().map(|(n, p)| (n.as_str(), *p)).collect();
        assert_eq!(
            found,
            vec![
                ("test_b", 0),
                ("test_a", 0),
                ("test_with_arg", 1),
                ("test_two", 2)
            ]
        );
        assert!(has_fn(&ast, "helper"));
        assert!(!has_fn(&ast, "setup"));
    }
}
