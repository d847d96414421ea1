//! Carries out an [`Action`]: run a file, a directory, code from `-e` or stdin; `check`; `fns`;
//! and hands `test` and `repl` to their modules.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rhai::{Engine, EvalAltResult, Position};

use crate::cli::{Action, Config};
use crate::diagnostics::{self, Outcome, Style};
use crate::engine;
use crate::host::Host;
use crate::scripts::{self, LoadError};

pub use crate::outcome::code;

/// Run what `config` asks for and return the process exit code.
pub fn execute(config: Config) -> i32 {
    if let Some(dir) = &config.dir {
        if let Err(e) = std::env::set_current_dir(dir) {
            eprintln!("herodo: cannot change to {}: {e}", dir.display());
            return code::USAGE;
        }
    }
    let host = Arc::new(Host::new(config.settings.clone()));
    host.cancel.install_signal_handlers();
    match config.action {
        Action::Clean => clean(&host),
        // The test runner and the REPL set up engines of their own.
        Action::Test(opts) => {
            // What tests create is temporary: tag it so, before anything is created.
            crate::common::owner::mark_test_session();
            // Leftovers of a test run that was killed (kill -9, a CI timeout) go first, when a
            // marker says such a run existed; the workers of a parallel run leave that to their
            // parent.
            if opts.worker_out.is_none() && !opts.list && !opts.keep {
                let dead = crate::common::owner::dead_sessions(&host.state_dir);
                if !dead.is_empty() {
                    let removed = reap(&host);
                    let gone = removed.iter().filter(|c| c.error.is_none()).count();
                    if gone > 0 {
                        eprintln!(
                            "herodo: removed {gone} resource(s) left behind by herodo processes that are gone"
                        );
                    }
                    if removed.iter().all(|c| c.error.is_none()) {
                        forget_sessions(&dead);
                    }
                }
            }
            // What this session creates is recorded as possibly left behind until it ends well.
            let marker = (!opts.list && !host.settings.dry_run)
                .then(|| crate::common::owner::SessionMarker::leave(&host.state_dir))
                .flatten();
            let code = crate::testing::runner::run(&host, &config.limits, &opts);
            if code == 0 && !opts.keep {
                if let Some(m) = marker {
                    m.finish();
                }
            }
            code
        }
        Action::Repl => crate::repl::run_interactive(host.clone(), &config.limits),
        action => run_scripts(&host, &config.limits, action),
    }
}

/// The actions that run (or check, or list) scripts on one engine.
fn run_scripts(host: &Arc<Host>, limits: &crate::engine::Limits, action: Action) -> i32 {
    // Never freed: the process exits right after the action, and dropping ~1,500 registered
    // functions with their metadata would add a quarter of a millisecond to every run.
    let docs = match action {
        Action::Fns { .. } => engine::Docs::Attach,
        _ => engine::Docs::Omit,
    };
    let engine = std::mem::ManuallyDrop::new(engine::build_with(host, limits, docs));
    let ctx = Ctx {
        host,
        engine: &engine,
        style: Style::for_stderr(),
    };
    match action {
        Action::File { path, args } => ctx.run_file(&path, &args),
        Action::Dir { path } => ctx.run_dir(&path),
        Action::Eval { code, args } => ctx.run_text("<eval>", &code, &args),
        Action::Stdin { args } => {
            let mut text = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut text) {
                eprintln!("herodo: cannot read the script from stdin: {e}");
                return code::USAGE;
            }
            ctx.run_text("<stdin>", &text, &args)
        }
        Action::Check { paths, quiet } => ctx.check(&paths, quiet),
        Action::Fns {
            filter,
            markdown: true,
            ..
        } => reference(&engine, filter.as_deref()),
        Action::Fns { filter, json, .. } => fns(&engine, filter.as_deref(), json),
        Action::Test(_) | Action::Repl | Action::Clean => code::USAGE,
    }
}

/// Remove what dead herodo processes left behind, in every domain that creates resources.
fn reap(host: &Host) -> Vec<crate::host::Cleaned> {
    let mut all = crate::containers::reap_orphans(host);
    all.extend(crate::buildah::reap_orphans(host));
    all.extend(crate::heropods::reap::reap_orphans(host));
    all.extend(crate::vm::reap_orphans(host));
    all
}

/// Drop the markers of dead test sessions whose leftovers are gone.
fn forget_sessions(markers: &[std::path::PathBuf]) {
    for m in markers {
        let _ = std::fs::remove_file(m);
    }
}

/// `herodo clean`: report each removal (and each failure); exit 1 if anything failed.
fn clean(host: &Host) -> i32 {
    let dead = crate::common::owner::dead_sessions(&host.state_dir);
    let cleaned = reap(host);
    if !host.settings.dry_run && cleaned.iter().all(|c| c.error.is_none()) {
        forget_sessions(&dead);
    }
    let verb = if host.settings.dry_run {
        "would remove"
    } else {
        "removed"
    };
    let mut failed = 0;
    for c in &cleaned {
        match &c.error {
            None => println!("{verb} {} {}", c.kind, c.name),
            Some(e) => {
                failed += 1;
                eprintln!("herodo: could not remove {} {}: {e}", c.kind, c.name);
            }
        }
    }
    let removed = cleaned.len() - failed;
    println!("{verb} {removed} resource(s) left behind by herodo test runs that are gone");
    if failed > 0 {
        code::SCRIPT_ERROR
    } else {
        code::OK
    }
}

struct Ctx<'a> {
    host: &'a Arc<Host>,
    engine: &'a Engine,
    style: Style,
}

impl Ctx<'_> {
    fn report(&self, err: &EvalAltResult, file: &str) -> i32 {
        match diagnostics::outcome(err) {
            Outcome::Exit(c) => c,
            Outcome::Skipped(reason) => {
                eprintln!("herodo: skipped: {reason}");
                code::OK
            }
            Outcome::Cancelled => {
                match self.host.cancel.signal() {
                    Some(libc::SIGINT) | None => eprintln!("herodo: cancelled"),
                    Some(s) => eprintln!("herodo: stopped by {}", crate::exec::signal_name(s)),
                }
                self.host.cancel.exit_code()
            }
            Outcome::Error => {
                let text = diagnostics::render(self.host, err, file, Some(self.engine), self.style);
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
                code::SCRIPT_ERROR
            }
        }
    }

    fn run_ast(&self, ast: &rhai::AST, name: &str, args: &[String]) -> i32 {
        let mut scope = scripts::scope_with_args(args);
        match self.engine.run_ast_with_scope(&mut scope, ast) {
            Ok(()) => code::OK,
            Err(e) => self.report(&e, name),
        }
    }

    fn run_text(&self, name: &str, text: &str, args: &[String]) -> i32 {
        match scripts::compile(self.engine, self.host, name, text) {
            Ok(ast) => self.run_ast(&ast, name, args),
            Err(e) => self.report(&e, name),
        }
    }

    fn load(&self, path: &Path) -> Result<(rhai::AST, String), i32> {
        let name = scripts::absolute(path).display().to_string();
        match scripts::compile_file(self.engine, self.host, path) {
            Ok(ast) => Ok((ast, name)),
            Err(LoadError::Read(p, e)) => {
                eprintln!("herodo: cannot read {}: {e}", p.display());
                Err(code::USAGE)
            }
            Err(LoadError::Compile(e)) => Err(self.report(&e, &name)),
        }
    }

    fn run_file(&self, path: &Path, args: &[String]) -> i32 {
        if !path.exists() {
            eprintln!("herodo: no such script: {}", path.display());
            return code::USAGE;
        }
        if !scripts::is_script(path) {
            eprintln!(
                "herodo: {} is not a .rhai script (rename it to .rhai or start it with `#!/usr/bin/env herodo`)",
                path.display()
            );
            return code::USAGE;
        }
        match self.load(path) {
            Ok((ast, name)) => self.run_ast(&ast, &name, args),
            Err(c) => c,
        }
    }

    fn run_dir(&self, dir: &Path) -> i32 {
        let scripts = match scripts::scripts_in(dir) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("herodo: cannot read directory {}: {e}", dir.display());
                return code::USAGE;
            }
        };
        if scripts.is_empty() {
            eprintln!("herodo: no .rhai scripts found below {}", dir.display());
            return code::USAGE;
        }
        let total = scripts.len();
        for (i, script) in scripts.iter().enumerate() {
            eprintln!("==> {} ({}/{total})", script.display(), i + 1);
            let rc = match self.load(script) {
                Ok((ast, name)) => self.run_ast(&ast, &name, &[]),
                Err(c) => c,
            };
            if rc != code::OK {
                eprintln!(
                    "herodo: {} failed (exit code {rc}); stopped after {} of {total} scripts",
                    script.display(),
                    i + 1
                );
                return rc;
            }
        }
        code::OK
    }

    fn check(&self, paths: &[PathBuf], quiet: bool) -> i32 {
        let mut files = Vec::new();
        for p in paths {
            if p.is_dir() {
                match scripts::scripts_in(p) {
                    Ok(s) => files.extend(s),
                    Err(e) => {
                        eprintln!("herodo: cannot read directory {}: {e}", p.display());
                        return code::USAGE;
                    }
                }
            } else if p.exists() {
                files.push(p.clone());
            } else {
                eprintln!("herodo: no such file: {}", p.display());
                return code::USAGE;
            }
        }
        if files.is_empty() {
            eprintln!("herodo: no .rhai scripts to check");
            return code::USAGE;
        }
        let mut bad = 0;
        let mut problems = 0;
        for f in &files {
            let found = self.check_file(f);
            if found > 0 {
                bad += 1;
                problems += found;
            }
        }
        let n = files.len();
        let noun = if n == 1 { "file" } else { "files" };
        if bad == 0 {
            if !quiet {
                println!("checked {n} {noun}: no errors");
            }
            code::OK
        } else {
            println!("checked {n} {noun}: {bad} with errors ({problems} problems)");
            code::SCRIPT_ERROR
        }
    }

    /// Report every syntax error of one file, or (when it parses) every call to a function
    /// that exists nowhere; returns how many problems were found.
    fn check_file(&self, f: &Path) -> usize {
        let name = scripts::absolute(f).display().to_string();
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("herodo: cannot read {}: {e}", f.display());
                return 1;
            }
        };
        self.host.add_source(&name, &text);
        let body = scripts::strip_shebang(&text);
        let show = |err: &EvalAltResult| {
            let text = diagnostics::render(self.host, err, &name, None, self.style);
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
        };
        let syntax = crate::lint::syntax_errors(self.engine, &body);
        if !syntax.is_empty() {
            for e in &syntax {
                show(&EvalAltResult::from(e.clone()));
            }
            return syntax.len();
        }
        let Ok(ast) = self.engine.compile(&*body) else {
            return 1;
        };
        let mut problems: Vec<(Position, crate::error::ErrorInfo)> = Vec::new();
        for u in crate::lint::unknown_calls(self.engine, &ast) {
            let info = crate::error::ErrorInfo::new(crate::error::kind::NOT_FOUND, u.message())
                .field("function", u.name.clone());
            problems.push((u.pos, info));
        }
        for u in crate::lint::valueless_values(self.engine, &ast) {
            let info = crate::error::ErrorInfo::new(crate::error::kind::SCRIPT, u.message())
                .field("function", u.name.clone());
            problems.push((u.pos, info));
        }
        for u in crate::lint::undefined_variables(&ast) {
            let message = format!("variable `{}` is used but never defined", u.name);
            let info = crate::error::ErrorInfo::new(crate::error::kind::NOT_FOUND, message)
                .field("variable", u.name);
            problems.push((u.pos, info));
        }
        let dir = scripts::absolute(f)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        for (path, pos) in crate::lint::missing_imports(&ast, &dir) {
            let message = format!("import of `{path}`: no such module file");
            let info = crate::error::ErrorInfo::new(crate::error::kind::NOT_FOUND, message)
                .field("path", path);
            problems.push((pos, info));
        }
        problems.sort_by_key(|(pos, _)| (pos.line(), pos.position()));
        for (pos, info) in &problems {
            let mut err = *crate::glue::to_rhai_error(info.clone());
            err.set_position(*pos);
            show(&err);
        }
        problems.len()
    }
}

/// `herodo fns --markdown`: the function reference (docs/reference.md).
fn reference(engine: &Engine, filter: Option<&str>) -> i32 {
    let mut docs = crate::docs::function_docs(engine);
    docs.extend(crate::docs::stdlib_docs(engine));
    docs.retain(|d| filter.is_none_or(|f| d.name.contains(f)));
    if docs.is_empty() {
        eprintln!("herodo: no function matches `{}`", filter.unwrap_or(""));
        return code::SCRIPT_ERROR;
    }
    let _ = write!(
        std::io::stdout().lock(),
        "{}",
        crate::docs::markdown_reference(&docs)
    );
    code::OK
}

fn fns(engine: &Engine, filter: Option<&str>, json: bool) -> i32 {
    let matches = |d: &crate::docs::FnDoc| filter.is_none_or(|f| d.name.contains(f));
    let docs: Vec<crate::docs::FnDoc> = crate::docs::function_docs(engine)
        .into_iter()
        .filter(matches)
        .collect();
    let mut out = std::io::stdout().lock();
    if json {
        match serde_json::to_string_pretty(&docs) {
            Ok(s) => {
                let _ = writeln!(out, "{s}");
            }
            Err(e) => {
                eprintln!("herodo: {e}");
                return code::SCRIPT_ERROR;
            }
        }
        return code::OK;
    }
    // The text listing also has the stdlib modules' functions and the Rhai built-ins scripts
    // use most (trim, len, split, ...).
    let mut docs = docs;
    docs.extend(crate::docs::stdlib_docs(engine).into_iter().filter(matches));
    docs.extend(
        crate::docs::builtin_docs(engine)
            .into_iter()
            .filter(matches),
    );
    if docs.is_empty() {
        eprintln!("herodo: no function matches `{}`", filter.unwrap_or(""));
        return code::SCRIPT_ERROR;
    }
    let color = diagnostics::use_color(std::io::stdout().is_terminal());
    let bold = |s: &str| {
        if color {
            format!("\x1b[1m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    // `herodo fns NAME`: the whole documentation of NAME, example included.
    let exact: Vec<&crate::docs::FnDoc> = docs
        .iter()
        .filter(|d| filter.is_some_and(|f| d.name == f))
        .collect();
    if !exact.is_empty() {
        for d in &exact {
            let _ = writeln!(out, "{}", bold(&d.signature));
            for l in d.doc.lines() {
                let _ = writeln!(out, "    {l}");
            }
            let _ = writeln!(out);
        }
        let mut others: Vec<&str> = docs
            .iter()
            .filter(|d| filter.is_some_and(|f| d.name != f))
            .map(|d| d.name.as_str())
            .collect();
        others.dedup();
        if !others.is_empty() {
            let _ = writeln!(out, "also matching: {}", others.join(", "));
        }
        return code::OK;
    }
    // Otherwise a summary per function, under the README's groups.
    for group in crate::docs::all_groups().iter().chain(&[String::new()]) {
        let in_group: Vec<&crate::docs::FnDoc> =
            docs.iter().filter(|d| &d.group == group).collect();
        if in_group.is_empty() {
            continue;
        }
        let title = match group.as_str() {
            "" => "other".to_string(),
            "rhai" => "rhai (built into the language)".to_string(),
            g => match g.strip_prefix("std/") {
                Some(m) => format!("{g} (import \"{g}\" as {m};)"),
                None => g.to_string(),
            },
        };
        let _ = writeln!(out, "{}", bold(&format!("## {title}")));
        for d in in_group {
            let _ = writeln!(out, "{}\n    {}", bold(&d.signature), d.summary);
        }
        let _ = writeln!(out);
    }
    code::OK
}
