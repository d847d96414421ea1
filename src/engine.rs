//! Builds the Rhai engine: every domain's bindings, the module resolver (relative imports and
//! the embedded stdlib), sandbox limits and the progress hook that makes Ctrl-C stop a busy
//! script. Compiling scripts is `scripts.rs`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rhai::module_resolvers::ModuleResolver;
use rhai::{Engine, EvalAltResult, Module, Position, Scope, Shared};

type SharedModule = Shared<Module>;

use crate::error::ErrorInfo;
use crate::glue::{to_rhai_error, Registrar};
use crate::host::Host;

/// Sandbox limits for untrusted scripts. `None` keeps Rhai's default.
#[derive(Clone, Debug, Default)]
pub struct Limits {
    pub max_operations: Option<u64>,
    pub max_call_depth: Option<usize>,
    pub max_string_size: Option<usize>,
    pub max_array_size: Option<usize>,
    pub max_map_size: Option<usize>,
    /// Wall-clock limit for the whole run.
    pub max_time: Option<Duration>,
}

/// Default sandbox sizes: far beyond ordinary scripts, far below what exhausts memory (a
/// doubling `s += s` loop must end in a clean `error[limit]`, not an allocation abort).
/// `0` on the command line lifts a limit.
pub const DEFAULT_MAX_STRING_SIZE: usize = 256 * 1024 * 1024;
pub const DEFAULT_MAX_ARRAY_SIZE: usize = 16 * 1024 * 1024;
pub const DEFAULT_MAX_MAP_SIZE: usize = 16 * 1024 * 1024;

use crate::outcome::{CANCELLED_TOKEN, TIME_LIMIT_TOKEN};

/// Whether an engine's functions carry their doc comments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Docs {
    /// For `herodo fns`, the REPL and anything else that shows documentation.
    Attach,
    /// For running scripts: nothing reads the comments there, and attaching them is a fifth
    /// of the engine's own set-up time. Signatures (parameter names and types) stay, since
    /// error messages show them.
    Omit,
}

/// A fully configured engine for `host`, with documentation.
pub fn build(host: &Arc<Host>, limits: &Limits) -> Engine {
    build_with(host, limits, Docs::Attach)
}

/// A fully configured engine for `host`; `docs` says whether doc comments are attached.
pub fn build_with(host: &Arc<Host>, limits: &Limits, docs: Docs) -> Engine {
    let mut engine = Engine::new();
    engine.set_module_resolver(Resolver::new(host.clone()));
    // Rhai's defaults (smaller still in debug builds) reject ordinary nested code; the script
    // thread has a large stack, so allow deep expressions.
    engine.set_max_expr_depths(256, 128);
    if let Some(n) = limits.max_operations {
        engine.set_max_operations(n);
    }
    if let Some(n) = limits.max_call_depth {
        engine.set_max_call_levels(n);
    }
    engine.set_max_string_size(limits.max_string_size.unwrap_or(DEFAULT_MAX_STRING_SIZE));
    engine.set_max_array_size(limits.max_array_size.unwrap_or(DEFAULT_MAX_ARRAY_SIZE));
    engine.set_max_map_size(limits.max_map_size.unwrap_or(DEFAULT_MAX_MAP_SIZE));
    let cancel = host.cancel.clone();
    let deadline = limits.max_time.map(crate::common::convert::deadline);
    engine.on_progress(move |ops| {
        if cancel.is_cancelled() {
            return Some(CANCELLED_TOKEN.into());
        }
        // Reading the clock on every operation would be wasteful.
        if ops % 1024 == 0 && deadline.is_some_and(|d| Instant::now() >= d) {
            return Some(TIME_LIMIT_TOKEN.into());
        }
        None
    });

    let mut r = match docs {
        Docs::Attach => Registrar::new(&mut engine),
        Docs::Omit => Registrar::without_docs(&mut engine),
    };
    // Each domain's functions are listed under its group by `herodo fns`.
    crate::process::bindings::register(r.group("process"), host);
    crate::os::bindings::register(r.group("os"), host);
    crate::text::bindings::register(r.group("text"));
    crate::net::bindings::register(r.group("net"), host);
    crate::misc::bindings::register(r.group("misc"), host);
    crate::assert::bindings::register(r.group("testing"));
    crate::containers::bindings::register(r.group("containers"), host);
    crate::buildah::bindings::register(r.group("buildah"), host);
    crate::heropods::bindings::register(r.group("heropods"), host);
    crate::vm::bindings::register(r.group("vm"), host);
    #[cfg(feature = "kube")]
    crate::kube::bindings::register(r.group("kube"), host);
    // Hands what was registered to the engine.
    drop(r);
    // The hidden helper that `catch (e)` blocks call (see `scripts::mark_catches`).
    engine.register_fn(
        crate::scripts::CATCH_HELPER,
        crate::scripts::classify_caught,
    );
    engine
}

/// Resolves `import "x"` relative to the importing file and `import "std/x"` to the stdlib.
pub struct Resolver {
    host: Arc<Host>,
    cache: Mutex<HashMap<String, SharedModule>>,
    loading: Mutex<HashSet<String>>,
}

impl Resolver {
    pub fn new(host: Arc<Host>) -> Self {
        Resolver {
            host,
            cache: Mutex::new(HashMap::new()),
            loading: Mutex::new(HashSet::new()),
        }
    }

    /// (id, text) of the module `path` imported from the module `source`.
    fn locate(&self, source: Option<&str>, path: &str) -> Result<(String, String), String> {
        let std_name = path.strip_prefix("std/").or_else(|| {
            // A stdlib module importing a sibling by a relative name.
            source
                .filter(|s| s.starts_with("std/"))
                .map(|_| path.trim_start_matches("./"))
        });
        if let Some(name) = std_name {
            let name = name.trim_end_matches(".rhai");
            return crate::stdlib::get(name)
                .map(|t| (format!("std/{name}"), t.to_string()))
                .ok_or_else(|| {
                    let known: Vec<&str> = crate::stdlib::MODULES.iter().map(|(n, _)| *n).collect();
                    format!(
                        "no stdlib module `std/{name}` (available: {})",
                        known.join(", ")
                    )
                });
        }
        let base = source
            .map(Path::new)
            .filter(|p| p.is_absolute())
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_else(|| std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")));
        let mut file = base.join(path);
        if file.extension().is_none_or(|e| e != "rhai") {
            file = PathBuf::from(format!("{}.rhai", file.display()));
        }
        let file = crate::scripts::absolute(&file);
        let text = std::fs::read_to_string(&file).map_err(|e| {
            format!(
                "cannot read {}: {e}",
                self.host.display_path(&file.display().to_string())
            )
        })?;
        Ok((file.display().to_string(), text))
    }
}

impl ModuleResolver for Resolver {
    fn resolve(
        &self,
        engine: &Engine,
        source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<SharedModule, Box<EvalAltResult>> {
        let fail = |kind: &'static str, reason: String| {
            Box::new(EvalAltResult::ErrorInModule(
                path.to_string(),
                to_rhai_error(ErrorInfo::new(kind, reason)),
                pos,
            ))
        };
        let (id, text) = self
            .locate(source, path)
            .map_err(|reason| fail(crate::error::kind::NOT_FOUND, reason))?;
        if let Some(m) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
        {
            return Ok(m.clone());
        }
        if !self
            .loading
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone())
        {
            return Err(fail(
                crate::error::kind::INVALID_ARGUMENT,
                format!(
                    "import cycle: `{}` imports itself (directly or through other modules)",
                    self.host.display_path(&id)
                ),
            ));
        }
        let result = crate::scripts::compile(engine, &self.host, &id, &text).and_then(|ast| {
            Module::eval_ast_as_new(Scope::new(), &ast, engine).map(|mut m| {
                m.build_index();
                SharedModule::new(m)
            })
        });
        self.loading
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        let module =
            result.map_err(|e| Box::new(EvalAltResult::ErrorInModule(id.clone(), e, pos)))?;
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, module.clone());
        Ok(module)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rhai::INT;

    /// Every registered (non-standard) function that takes or returns an integer other than i64.
    fn narrow_int_uses(engine: &Engine) -> Vec<String> {
        let json = engine.gen_fn_metadata_to_json(false).unwrap();
        let meta: serde_json::Value = serde_json::from_str(&json).unwrap();
        let narrow = [
            "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i128", "isize",
        ];
        let mut found = Vec::new();
        for f in meta["functions"].as_array().unwrap() {
            let mut types: Vec<&str> = f["params"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["type"].as_str())
                .collect();
            types.extend(f["returnType"].as_str());
            found.extend(
                types
                    .into_iter()
                    .filter(|ty| narrow.contains(ty))
                    .map(|ty| format!("{} uses {ty}", f["name"])),
            );
        }
        found
    }

    #[test]
    fn omitting_docs_keeps_every_signature() {
        let (host, _rec) = crate::host::recording_host();
        let host = Arc::new(host);
        let with = crate::docs::function_docs(&build(&host, &Limits::default()));
        let without =
            crate::docs::function_docs(&build_with(&host, &Limits::default(), Docs::Omit));
        let sigs = |docs: &[crate::docs::FnDoc]| {
            let mut v: Vec<String> = docs.iter().map(|d| d.signature.clone()).collect();
            v.sort();
            v
        };
        assert!(with.len() > 100, "only {} functions", with.len());
        assert_eq!(sigs(&with), sigs(&without));
        assert!(
            with.iter().all(|d| !d.summary.is_empty()),
            "a function has no doc"
        );
        assert!(
            without.iter().all(|d| d.doc.is_empty()),
            "docs were attached"
        );
    }

    /// Rhai is built with `only_i64` (it halves the engine's start-up), which drops the
    /// operators for every other integer type. A binding that handed a script a `u16` or a
    /// `usize` would give it a value it cannot add or compare, so none may take or return one.
    #[test]
    fn bindings_use_only_i64_integers() {
        let (host, _rec) = crate::host::recording_host();
        let mut engine = build(&Arc::new(host), &Limits::default());
        assert_eq!(narrow_int_uses(&engine), Vec::<String>::new());
        // The check itself sees such a binding.
        Registrar::new(&mut engine).pure("port_of", &["x"], "Test.", |x: INT| x as u16);
        assert_eq!(narrow_int_uses(&engine), vec!["\"port_of\" uses u16"]);
        // And a script indeed cannot do arithmetic with it.
        let err = engine.eval::<INT>("port_of(80) + 1").unwrap_err();
        assert!(err.to_string().contains("Function not found"), "{err}");
    }

    /// Issue 18.10: every domain's functions carry their group for `herodo fns`.
    #[test]
    fn groups_and_builtins() {
        let (host, _rec) = crate::host::recording_host();
        let engine = build(&Arc::new(host), &Limits::default());
        let docs = crate::docs::function_docs(&engine);
        let group_of = |sig: &str| {
            docs.iter()
                .find(|d| d.signature.starts_with(sig))
                .map(|d| d.group.clone())
        };
        assert_eq!(group_of("run(command: string)").as_deref(), Some("process"));
        assert_eq!(
            group_of("run(container: Container)").as_deref(),
            Some("containers")
        );
        assert_eq!(group_of("file_read(").as_deref(), Some("os"));
        assert_eq!(group_of("bah_new(").as_deref(), Some("buildah"));
        assert!(docs.iter().all(|d| !d.doc.starts_with("@group")));
        let builtins = crate::docs::builtin_docs(&engine);
        assert!(builtins
            .iter()
            .any(|d| d.name == "trim" && d.group == "rhai"));
        assert!(builtins
            .iter()
            .any(|d| d.name == "split" && !d.doc.is_empty()));
    }

    /// Each module compiles, and each of its exported functions has a doc comment with a
    /// summary and a Rhai example (what `herodo fns` and docs/reference.md show).
    #[test]
    fn stdlib_modules_compile_and_every_function_is_documented() {
        let (host, _rec) = crate::host::recording_host();
        let engine = build(&std::sync::Arc::new(host), &Limits::default());
        for (name, source) in crate::stdlib::MODULES {
            if let Err(e) = engine.compile(source) {
                panic!("std/{name} does not compile: {e}");
            }
            assert!(
                !crate::docs::stdlib_overview(source).is_empty(),
                "std/{name} has no overview comment"
            );
        }
        let docs = crate::docs::stdlib_docs(&engine);
        for m in ["retry", "containers", "images", "heropods", "vm", "kube"] {
            assert!(
                docs.iter().any(|d| d.group == format!("std/{m}")),
                "no functions listed for std/{m}"
            );
        }
        for d in &docs {
            assert!(!d.summary.is_empty(), "{} {} has no doc", d.group, d.name);
            assert!(
                d.doc.contains("```rhai\nimport \"std/"),
                "{} {}: the example should import its module",
                d.group,
                d.name
            );
        }
        // Private helpers are not listed; functions come in the order of the source.
        assert!(!docs
            .iter()
            .any(|d| d.name == "jittered" || d.name == "unique"));
        let retry: Vec<&str> = docs
            .iter()
            .filter(|d| d.group == "std/retry")
            .map(|d| d.name.as_str())
            .collect();
        assert_eq!(retry, ["retry", "retry_backoff", "wait_until", "to_ms"]);
    }
}
