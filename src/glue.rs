//! Helpers shared by every domain's `bindings.rs`: the one conversion of errors into Rhai values,
//! a registrar that attaches parameter names, doc comments and volatility to each function, and a
//! strict reader for option maps.

use rhai::RhaiNativeFunc;
use rhai::{Dynamic, Engine, EvalAltResult, FuncRegistration, ImmutableString, Map, Position, INT};

use crate::error::{Classify, ErrorInfo, HostError};

/// What every fallible binding returns.
pub type RResult<T> = Result<T, Box<EvalAltResult>>;

/// THE conversion of an error into a Rhai value: an object map with `kind`, `message`, and for
/// commands `cmd`, `exit_code`, `signal`, `stdout`, `stderr`, plus any extra fields.
pub fn to_rhai_error(info: ErrorInfo) -> Box<EvalAltResult> {
    let mut map = Map::new();
    map.insert("kind".into(), info.kind.into());
    // Messages name values by `Dynamic::type_name`, which is the Rust path for herodo's objects.
    map.insert("message".into(), friendly_type_names(&info.message).into());
    if let Some(c) = info.command {
        map.insert("cmd".into(), c.cmd.into());
        map.insert(
            "exit_code".into(),
            c.exit_code.map_or(Dynamic::UNIT, |v| (v as INT).into()),
        );
        if let Some(s) = c.signal {
            map.insert("signal".into(), (s as INT).into());
        }
        map.insert("stdout".into(), c.stdout.into());
        map.insert("stderr".into(), c.stderr.into());
    }
    for (k, v) in info.fields {
        map.insert(k.into(), v.into());
    }
    EvalAltResult::ErrorRuntime(map.into(), Position::NONE).into()
}

/// `result.rhai()?` in bindings: convert any classified error.
pub trait IntoRhai<T> {
    fn rhai(self) -> RResult<T>;
}

impl<T, E: Classify> IntoRhai<T> for Result<T, E> {
    fn rhai(self) -> RResult<T> {
        self.map_err(|e| to_rhai_error(e.info()))
    }
}

/// An `invalid_argument` error naming the field.
pub fn invalid(field: &str, reason: impl Into<String>) -> Box<EvalAltResult> {
    to_rhai_error(HostError::invalid(field, reason).info())
}

/// Registers functions with their documentation into an engine.
pub struct Registrar<'a> {
    engine: &'a mut Engine,
    /// Attach doc comments (parameter names and types are always attached: error messages
    /// show signatures).
    docs: bool,
    /// The group `herodo fns` lists what is registered next under (README's groups).
    group: &'static str,
    /// What is registered, handed to the engine as one global module when the registrar is
    /// dropped (Rhai keeps its own global namespace private; see `where_it_came_from`).
    module: rhai::Module,
}

impl Drop for Registrar<'_> {
    fn drop(&mut self) {
        let module = std::mem::take(&mut self.module);
        if !module.is_empty() {
            self.engine.register_global_module(module.into());
        }
    }
}

impl<'a> Registrar<'a> {
    pub fn new(engine: &'a mut Engine) -> Self {
        Registrar {
            engine,
            docs: true,
            group: "",
            module: rhai::Module::new(),
        }
    }

    /// A registrar that leaves out doc comments: for engines that only run scripts, where
    /// nothing shows them and copying ~40 KB of text into the engine is start-up time wasted.
    pub fn without_docs(engine: &'a mut Engine) -> Self {
        Registrar {
            engine,
            docs: false,
            group: "",
            module: rhai::Module::new(),
        }
    }

    pub fn engine(&mut self) -> &mut Engine {
        self.engine
    }

    /// The group (`process`, `containers`, ...) of the functions registered from now on.
    pub fn group(&mut self, group: &'static str) -> &mut Self {
        self.group = group;
        self
    }

    /// Register a function that touches the world (volatile: never run at compile time).
    /// `params` names the parameters in order; `doc` is the doc text (first line = summary).
    pub fn func<A: 'static, const N: usize, const X: bool, R, const F: bool, FUNC>(
        &mut self,
        name: &str,
        params: &[&str],
        doc: &str,
        f: FUNC,
    ) -> &mut Self
    where
        R: rhai::Variant + Clone,
        FUNC: RhaiNativeFunc<A, N, X, R, F> + Clone + 'static,
    {
        self.add(name, params, doc, true, f)
    }

    /// Register a pure function (same input, same output; the optimizer may fold it).
    pub fn pure<A: 'static, const N: usize, const X: bool, R, const F: bool, FUNC>(
        &mut self,
        name: &str,
        params: &[&str],
        doc: &str,
        f: FUNC,
    ) -> &mut Self
    where
        R: rhai::Variant + Clone,
        FUNC: RhaiNativeFunc<A, N, X, R, F> + Clone + 'static,
    {
        self.add(name, params, doc, false, f)
    }

    /// Register a property getter `obj.name` on a custom type.
    pub fn getter<A: 'static, const X: bool, R, const F: bool, FUNC>(
        &mut self,
        name: &str,
        doc: &str,
        f: FUNC,
    ) -> &mut Self
    where
        R: rhai::Variant + Clone,
        FUNC: RhaiNativeFunc<A, 1, X, R, F> + Clone + 'static,
    {
        self.add(&format!("get${name}"), &["self"], doc, false, f)
    }

    /// Register a property setter `obj.name = value` on a custom type.
    pub fn setter<A: 'static, const X: bool, R, const F: bool, FUNC>(
        &mut self,
        name: &str,
        doc: &str,
        f: FUNC,
    ) -> &mut Self
    where
        R: rhai::Variant + Clone,
        FUNC: RhaiNativeFunc<A, 2, X, R, F> + Clone + 'static,
    {
        self.add(&format!("set${name}"), &["self", "value"], doc, true, f)
    }

    fn add<A: 'static, const N: usize, const X: bool, R, const F: bool, FUNC>(
        &mut self,
        name: &str,
        params: &[&str],
        doc: &str,
        volatile: bool,
        f: FUNC,
    ) -> &mut Self
    where
        R: rhai::Variant + Clone,
        FUNC: RhaiNativeFunc<A, N, X, R, F> + Clone + 'static,
    {
        // The original herodo's spellings of this function (src/compat.rs): same closure,
        // a doc that says which name is herodo's.
        for original in crate::compat::originals_of(name) {
            let doc = crate::compat::alias_doc(original, name, doc);
            self.register_one(original, params, &doc, volatile, f.clone());
        }
        self.register_one(name, params, doc, volatile, f)
    }

    fn register_one<A: 'static, const N: usize, const X: bool, R, const F: bool, FUNC>(
        &mut self,
        name: &str,
        params: &[&str],
        doc: &str,
        volatile: bool,
        f: FUNC,
    ) -> &mut Self
    where
        R: rhai::Variant + Clone,
        FUNC: RhaiNativeFunc<A, N, X, R, F> + 'static,
    {
        let types = FUNC::param_names();
        debug_assert_eq!(
            params.len(),
            N,
            "parameter names for {name} do not match its arity"
        );
        // Start-up cost: this runs for every function at every start, so the parameters'
        // `name: type` texts are written into one buffer (one allocation per function) and
        // handed over as slices of it.
        let mut buf = String::with_capacity(16 * N);
        let mut ends = [0usize; N];
        for (i, ty) in types.iter().enumerate() {
            buf.push_str(params.get(i).copied().unwrap_or("_"));
            buf.push_str(": ");
            buf.push_str(type_label(ty));
            ends[i] = buf.len();
        }
        let params_info = (0..N)
            .map(|i| &buf[if i == 0 { 0 } else { ends[i - 1] }..ends[i]])
            // Always one entry more than the parameters, even an empty one: with no entries at
            // all (no parameters, no result) Rhai would fill in the Rust type names itself.
            .chain(std::iter::once(type_label(FUNC::return_type_name())));
        // Volatility goes into the function itself (see below), not the registration.
        let mut reg = FuncRegistration::new(name).with_params_info(params_info);
        if self.docs {
            let mut comment = doc_comment(doc);
            if !self.group.is_empty() {
                // Read back (and left out of the doc) by `docs::function_docs`.
                comment = format!("/// @group {}\n{comment}", self.group);
            }
            reg = reg.with_comments([comment]);
        }
        // As `FuncRegistration::set_into_module` decides it: setters may not run on constants.
        let is_pure = !(N == 2 && name.starts_with("set$"));
        let func = where_it_came_from(f.into_rhai_function(is_pure, volatile));
        reg.in_global_namespace()
            .set_into_module_raw(&mut self.module, FUNC::param_types(), func);
        self
    }
}

/// Wrap a native function so that the error map it throws records where it was called:
/// `e.at` = `#{line, column, source}` (source: the script or module, when it has a name).
/// A script that catches the error and rethrows it
/// (`throw e`) then still shows the place of the failing call, not of the `throw`; a map that
/// already says where it came from (a callback's error passing through) keeps its place.
fn where_it_came_from(func: rhai::RhaiFunc) -> rhai::RhaiFunc {
    use rhai::{NativeCallContext, RhaiFunc, Shared};
    type Inner = Shared<
        dyn Fn(
            Option<NativeCallContext>,
            &mut [&mut Dynamic],
        ) -> Result<Dynamic, Box<EvalAltResult>>,
    >;
    fn wrap(inner: Inner, inner_has_context: bool) -> Inner {
        Shared::new(
            move |ctx: Option<NativeCallContext>, args: &mut [&mut Dynamic]| {
                let place = ctx.as_ref().map(|c| {
                    (
                        c.call_position(),
                        c.call_source().map(ImmutableString::from),
                    )
                });
                inner(if inner_has_context { ctx } else { None }, args).map_err(|mut err| {
                    if let (EvalAltResult::ErrorRuntime(v, _), Some((pos, source))) =
                        (&mut *err, place)
                    {
                        stamp_place(v, pos, source);
                    }
                    err
                })
            },
        )
    }
    match func {
        RhaiFunc::Pure {
            func,
            has_context,
            is_pure,
            is_volatile,
        } => RhaiFunc::Pure {
            func: wrap(func, has_context),
            has_context: true,
            is_pure,
            is_volatile,
        },
        RhaiFunc::Method {
            func,
            has_context,
            is_pure,
            is_volatile,
        } => RhaiFunc::Method {
            func: wrap(func, has_context),
            has_context: true,
            is_pure,
            is_volatile,
        },
        other => other,
    }
}

/// Put `at: #{line, column, source}` into an error map that has no `at` yet.
fn stamp_place(v: &mut Dynamic, pos: Position, source: Option<ImmutableString>) {
    let (Some(line), Some(col)) = (pos.line(), pos.position()) else {
        return;
    };
    if let Some(mut map) = v.write_lock::<Map>() {
        if map.contains_key("at") {
            return;
        }
        let mut at = Map::new();
        at.insert("line".into(), (line as INT).into());
        at.insert("column".into(), (col as INT).into());
        if let Some(s) = source {
            at.insert("source".into(), s.into());
        }
        map.insert("at".into(), at.into());
    }
}

/// Where a caught and rethrown error map says it came from (see [`where_it_came_from`]).
pub fn error_place(v: &Dynamic) -> Option<(Position, Option<String>)> {
    let map = v.read_lock::<Map>()?;
    let at = map.get("at")?.read_lock::<Map>()?;
    let line = u16::try_from(at.get("line")?.as_int().ok()?).ok()?;
    let col = u16::try_from(at.get("column")?.as_int().ok()?).ok()?;
    let source = at.get("source").and_then(|s| s.clone().into_string().ok());
    Some((Position::new(line, col), source))
}

/// `doc` as one block of `///` lines, the form Rhai keeps doc comments in (blank lines become
/// a bare `///`; leading and trailing newlines are dropped).
fn doc_comment(doc: &str) -> String {
    let doc = doc.trim_matches('\n');
    let mut out = String::with_capacity(doc.len() + 4 * (doc.len() / 40 + 1));
    for (i, l) in doc.lines().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str("///");
        if !l.is_empty() {
            out.push(' ');
            out.push_str(l);
        }
    }
    out
}

/// A Rust type name as a script writer knows it (`string`, `int`, `map`, `CommandResult`).
pub fn display_type(ty: &str) -> String {
    type_label(ty).to_string()
}

/// [`display_type`] without an allocation: every answer is a literal or a part of `ty`.
fn type_label(ty: &str) -> &str {
    // Rust's type names have no surrounding blanks; only other callers' texts may.
    let ty = match ty.as_bytes() {
        [first, .., last] if first.is_ascii_whitespace() || last.is_ascii_whitespace() => ty.trim(),
        _ => ty,
    };
    if let Some(inner) = ty.strip_prefix("core::result::Result<") {
        // Fallible functions: show the success type. The error type (a boxed EvalAltResult)
        // has no comma, so the last one ends the success type.
        if let Some(i) = inner.rfind(',') {
            return type_label(&inner[..i]);
        }
    }
    let ty = ty.strip_prefix("&mut ").unwrap_or(ty);
    let ty = ty.strip_prefix('&').unwrap_or(ty);
    // Start-up cost: this runs for every parameter of every function at every start, and a
    // substring search builds a searcher each time (it was over a quarter of start-up's
    // instructions), so only generic names are searched.
    let generic = ty.as_bytes().contains(&b'<');
    if generic && ty.contains("Vec<") && ty.contains("Dynamic") || ty.ends_with("Array") {
        return "array";
    }
    if generic && ty.contains("BTreeMap<") || ty.ends_with("::Map") || ty == "Map" {
        return "map";
    }
    // The last path segment (type names have no lone `:`).
    let base = ty.rfind(':').map_or(ty, |i| &ty[i + 1..]);
    match base {
        "()" | "" => "",
        "i64" | "INT" => "int",
        "f64" | "FLOAT" => "float",
        "bool" => "bool",
        "str" | "String" | "ImmutableString" => "string",
        "Dynamic" => "any",
        "FnPtr" => "Fn",
        other => other,
    }
}

/// `herodo::containers::Container` -> `Container`. Each custom type is registered under the last
/// segment of its Rust name (a test in repl/ checks it), so this is the name `type_of` shows.
pub fn short_type_name(name: &str) -> &str {
    if name.contains('<') {
        return name;
    }
    name.rsplit("::").next().unwrap_or(name)
}

/// `text` with every `herodo::module::Type` path shortened to `Type` (see [`short_type_name`]).
pub fn friendly_type_names(text: &str) -> String {
    const PREFIX: &str = "herodo::";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(PREFIX) {
        out.push_str(&rest[..i]);
        let path = &rest[i..];
        let end = path
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(path.len());
        out.push_str(short_type_name(&path[..end]));
        rest = &path[end..];
    }
    out.push_str(rest);
    out
}

/// A strict view of an options map: typed getters, and unknown keys are an error.
pub struct Opts<'a> {
    what: &'a str,
    map: &'a Map,
}

impl<'a> Opts<'a> {
    /// Check that `map` only has keys from `allowed`.
    pub fn new(what: &'a str, map: &'a Map, allowed: &[&str]) -> RResult<Self> {
        for k in map.keys() {
            if !allowed.contains(&k.as_str()) {
                let hint = nearest_key(k, allowed)
                    .map(|s| format!("did you mean `{s}`? "))
                    .unwrap_or_default();
                return Err(invalid(
                    &format!("{what} option"),
                    format!("unknown key `{k}` ({hint}known: {})", allowed.join(", ")),
                ));
            }
        }
        Ok(Opts { what, map })
    }

    fn field(&self, key: &str) -> String {
        format!("{}.{key}", self.what)
    }

    pub fn bool(&self, key: &str) -> RResult<Option<bool>> {
        match self.map.get(key) {
            None => Ok(None),
            Some(v) if v.is_unit() => Ok(None),
            Some(v) => v
                .as_bool()
                .map(Some)
                .map_err(|t| invalid(&self.field(key), format!("expected a bool, got {t}"))),
        }
    }

    pub fn string(&self, key: &str) -> RResult<Option<String>> {
        match self.map.get(key) {
            None => Ok(None),
            Some(v) if v.is_unit() => Ok(None),
            Some(v) if v.is_string() => Ok(Some(v.to_string())),
            Some(v) => Err(invalid(
                &self.field(key),
                format!("expected a string, got {}", v.type_name()),
            )),
        }
    }

    /// A non-negative integer (a count, a size in bytes).
    pub fn count(&self, key: &str) -> RResult<Option<u64>> {
        match self.map.get(key) {
            None => Ok(None),
            Some(v) if v.is_unit() => Ok(None),
            Some(v) => {
                let n = v.as_int().map_err(|t| {
                    invalid(&self.field(key), format!("expected an integer, got {t}"))
                })?;
                crate::common::convert::int_in(&self.field(key), n, 0u64, u64::MAX)
                    .map(Some)
                    .rhai()
            }
        }
    }

    /// A number of seconds (int or float) as a duration.
    pub fn seconds(&self, key: &str) -> RResult<Option<std::time::Duration>> {
        match self.map.get(key) {
            None => Ok(None),
            Some(v) if v.is_unit() => Ok(None),
            Some(v) => seconds(v, &self.field(key)).map(Some),
        }
    }

    /// A command's timeout in seconds (int or float): `0` means no timeout at all.
    pub fn timeout(&self, key: &str) -> RResult<Option<std::time::Duration>> {
        Ok(self.seconds(key)?.map(|d| {
            if d.is_zero() {
                crate::exec::NO_TIMEOUT
            } else {
                d
            }
        }))
    }

    /// A map of string to string (for example environment variables). A `()` value is refused
    /// (it would otherwise become an empty string without a word): `#{A: ()}` is an error
    /// naming `A`; `#{A: ""}` sets it empty.
    pub fn string_map(&self, key: &str) -> RResult<Vec<(String, String)>> {
        match self.map.get(key) {
            None => Ok(Vec::new()),
            Some(v) if v.is_unit() => Ok(Vec::new()),
            Some(v) => {
                let m = v.read_lock::<Map>().ok_or_else(|| {
                    invalid(
                        &self.field(key),
                        format!("expected a map, got {}", v.type_name()),
                    )
                })?;
                m.iter()
                    .map(|(k, v)| {
                        if v.is_unit() {
                            return Err(invalid(
                                &self.field(key),
                                format!("{k}: () is not a value (give \"\" for an empty one)"),
                            ));
                        }
                        Ok((k.to_string(), v.to_string()))
                    })
                    .collect()
            }
        }
    }
}

/// The known option key closest to a mistyped `key`: a typo (`tiemout`), or a known key that
/// `key` abbreviates (`mem` for `memory`) when only one does.
pub fn nearest_key<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    let owned: Vec<String> = known.iter().map(|k| k.to_string()).collect();
    if let Some(s) = crate::lint::suggest(key, &owned) {
        return known.iter().copied().find(|k| *k == s);
    }
    let mut prefixed = known
        .iter()
        .copied()
        .filter(|k| !key.is_empty() && k.starts_with(key));
    match (prefixed.next(), prefixed.next()) {
        (Some(one), None) => Some(one),
        _ => None,
    }
}

/// A number of seconds from an int or a float: non-negative and at most ten years (checked,
/// never a panic on `1e300` or `i64::MAX`).
pub fn seconds(v: &Dynamic, field: &str) -> RResult<std::time::Duration> {
    use crate::common::convert;
    let res = if let Ok(i) = v.as_int() {
        convert::seconds_i64(field, i)
    } else if let Ok(f) = v.as_float() {
        convert::seconds_f64(field, f)
    } else {
        return Err(invalid(
            field,
            format!("expected seconds as a number, got {}", v.type_name()),
        ));
    };
    res.rhai()
}

/// A command given as an array (argv), or as a string split like a shell would split it (no
/// shell runs it): `with_cmd`, heropods' `cmd` and `entrypoint`.
pub fn words(v: &Dynamic, field: &str) -> RResult<Vec<String>> {
    if let Some(arr) = v.read_lock::<rhai::Array>() {
        return Ok(string_array(&arr));
    }
    if v.is_string() {
        return shell_words::split(&v.to_string()).map_err(|e| invalid(field, e.to_string()));
    }
    Err(invalid(
        field,
        format!("expected a string or an array, got {}", v.type_name()),
    ))
}

/// An array of strings (every element converted with `to_string`).
pub fn string_array(arr: &rhai::Array) -> Vec<String> {
    arr.iter().map(|v| v.to_string()).collect()
}

/// THE conversion of a domain's result (a listing, a status) into a Rhai value: serde
/// (`#[derive(Serialize)]` on the result struct), cast to the type the binding declares (`Map`,
/// `Array`, or `Dynamic` for what may be `()`), so `herodo fns` shows that type.
pub fn to_rhai<T: serde::Serialize, R: rhai::Variant + Clone>(v: &T) -> RResult<R> {
    let d = rhai::serde::to_dynamic(v)?;
    let got = d.type_name().to_string();
    d.try_cast::<R>().ok_or_else(|| {
        EvalAltResult::ErrorMismatchOutputType(
            std::any::type_name::<R>().into(),
            got,
            Position::NONE,
        )
        .into()
    })
}

/// A map of string keys and values from an iterator.
pub fn map_of<K: Into<ImmutableString>>(entries: impl IntoIterator<Item = (K, Dynamic)>) -> Map {
    entries
        .into_iter()
        .map(|(k, v)| (k.into().into(), v))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 18.6: an unknown option key suggests the nearest known one.
    #[test]
    fn unknown_option_keys_suggest_the_nearest() {
        let known = ["name", "memory", "cpus", "mounts", "timeout", "secret"];
        assert_eq!(nearest_key("mem", &known), Some("memory"));
        assert_eq!(nearest_key("tiemout", &known), Some("timeout"));
        assert_eq!(nearest_key("m", &known), None, "two keys start with m");
        assert_eq!(nearest_key("zzz", &known), None);
        let mut m = Map::new();
        m.insert("mem".into(), Dynamic::from("64m"));
        let Err(e) = Opts::new("container_new", &m, &known) else {
            panic!("an unknown key was accepted");
        };
        assert!(
            e.to_string()
                .contains("unknown key `mem` (did you mean `memory`? known: name"),
            "{e}"
        );
    }

    #[test]
    fn type_names_are_script_friendly() {
        assert_eq!(display_type("i64"), "int");
        assert_eq!(display_type("&str"), "string");
        assert_eq!(display_type("rhai::ImmutableString"), "string");
        assert_eq!(
            display_type("alloc::vec::Vec<rhai::types::dynamic::Dynamic>"),
            "array"
        );
        assert_eq!(
            display_type("&mut herodo::process::CommandResult"),
            "CommandResult"
        );
        assert_eq!(display_type("()"), "");
        assert_eq!(
            display_type("core::result::Result<alloc::vec::Vec<rhai::Dynamic>, alloc::boxed::Box<rhai::EvalAltResult>>"),
            "array"
        );
        assert_eq!(
            display_type("core::result::Result<alloc::collections::btree::map::BTreeMap<smartstring::SmartString, rhai::Dynamic>, alloc::boxed::Box<rhai::EvalAltResult>>"),
            "map"
        );
        assert_eq!(
            display_type("core::result::Result<i64, alloc::boxed::Box<rhai::EvalAltResult>>"),
            "int"
        );
        assert_eq!(display_type("  i64 "), "int");
    }

    #[test]
    fn doc_comments_become_triple_slash_lines() {
        assert_eq!(
            doc_comment("\nSummary.\n\nMore text.\n```rhai\nx();\n```\n"),
            "/// Summary.\n///\n/// More text.\n/// ```rhai\n/// x();\n/// ```"
        );
        assert_eq!(doc_comment("One line."), "/// One line.");
        assert_eq!(doc_comment(""), "");
    }

    #[test]
    fn herodo_paths_become_type_names() {
        assert_eq!(
            short_type_name("herodo::containers::Container"),
            "Container"
        );
        assert_eq!(short_type_name("i64"), "i64");
        assert_eq!(
            friendly_type_names(
                "got herodo::containers::Container, not herodo::process::CommandResult."
            ),
            "got Container, not CommandResult."
        );
        assert_eq!(
            friendly_type_names("nothing to do: a::b"),
            "nothing to do: a::b"
        );
        #[derive(Clone)]
        struct Marker;
        let raw = Dynamic::from(Marker).type_name();
        assert!(
            raw.starts_with("herodo::") && raw.ends_with("::Marker"),
            "{raw}"
        );
        let err = invalid("x", format!("got {raw}"));
        let EvalAltResult::ErrorRuntime(v, _) = *err else {
            panic!("not a runtime error");
        };
        let message = v.read_lock::<Map>().unwrap()["message"].to_string();
        assert_eq!(message, "invalid x: got Marker");
    }

    #[test]
    fn results_convert_through_serde() {
        #[derive(serde::Serialize)]
        struct Row {
            id: String,
            names: Vec<String>,
        }
        let rows = vec![Row {
            id: "a1".into(),
            names: vec!["localhost/x:1".into()],
        }];
        let arr: rhai::Array = to_rhai(&rows).unwrap();
        let m = arr[0].read_lock::<Map>().unwrap();
        assert_eq!(m["id"].to_string(), "a1");
        let names = m["names"].read_lock::<rhai::Array>().unwrap();
        assert_eq!(names[0].to_string(), "localhost/x:1");
        // Asked for the wrong shape: an error, not a panic.
        assert!(to_rhai::<_, Map>(&rows).is_err());
    }

    #[test]
    fn opts_reject_unknown_keys() {
        let mut m = Map::new();
        m.insert("silent".into(), true.into());
        m.insert("bogus".into(), 1.into());
        let err = Opts::new("run", &m, &["silent"]).err().unwrap();
        let shown = err.to_string();
        assert!(shown.contains("unknown key `bogus`"), "{shown}");
    }

    #[test]
    fn a_zero_timeout_means_none_and_unit_map_values_are_refused() {
        let mut m = Map::new();
        m.insert("timeout".into(), Dynamic::from(0_i64));
        m.insert("t2".into(), Dynamic::from(0.0_f64));
        m.insert("t3".into(), Dynamic::from(2_i64));
        let o = Opts::new("exec", &m, &["timeout", "t2", "t3"]).unwrap();
        assert_eq!(o.timeout("timeout").unwrap(), Some(crate::exec::NO_TIMEOUT));
        assert_eq!(o.timeout("t2").unwrap(), Some(crate::exec::NO_TIMEOUT));
        assert_eq!(
            o.timeout("t3").unwrap(),
            Some(std::time::Duration::from_secs(2))
        );
        assert_eq!(o.timeout("absent").unwrap(), None);

        let mut env = Map::new();
        env.insert("A".into(), Dynamic::UNIT);
        let mut m = Map::new();
        m.insert("env".into(), Dynamic::from_map(env));
        let o = Opts::new("container_new", &m, &["env"]).unwrap();
        let e = o.string_map("env").err().unwrap().to_string();
        assert!(
            e.contains("container_new.env") && e.contains("A: ()"),
            "{e}"
        );
        let mut env = Map::new();
        env.insert("A".into(), Dynamic::from(""));
        env.insert("N".into(), Dynamic::from(3_i64));
        let mut m = Map::new();
        m.insert("env".into(), Dynamic::from_map(env));
        let o = Opts::new("container_new", &m, &["env"]).unwrap();
        let mut got = o.string_map("env").unwrap();
        got.sort();
        assert_eq!(
            got,
            vec![("A".into(), String::new()), ("N".into(), "3".into())]
        );
    }

    #[test]
    fn seconds_accepts_int_and_float() {
        assert_eq!(
            seconds(&Dynamic::from(2_i64), "t").unwrap(),
            std::time::Duration::from_secs(2)
        );
        assert_eq!(
            seconds(&Dynamic::from(0.5_f64), "t").unwrap(),
            std::time::Duration::from_millis(500)
        );
        assert!(seconds(&Dynamic::from(-1_i64), "t").is_err());
        assert!(seconds(&Dynamic::from("x"), "t").is_err());
    }
}
