//! Function metadata for `herodo fns`, the REPL's `/functions` and completion: every registered
//! function with its signature, parameter names and doc comment.

use rhai::Engine;

/// The groups `herodo fns` lists functions under, in the README's order. `rhai` holds the
/// built-in functions of the language a script uses most.
pub const GROUPS: &[&str] = &[
    "process",
    "os",
    "text",
    "net",
    "misc",
    "testing",
    "containers",
    "buildah",
    "heropods",
    "vm",
    "kube",
    "rhai",
];

/// Rhai's own functions that `herodo fns` lists (group `rhai`): what scripts use most.
const BUILTINS: &[&str] = &[
    "len",
    "is_empty",
    "trim",
    "split",
    "contains",
    "starts_with",
    "ends_with",
    "replace",
    "sub_string",
    "index_of",
    "to_upper",
    "to_lower",
    "pad",
    "push",
    "pop",
    "shift",
    "insert",
    "remove",
    "append",
    "sort",
    "reverse",
    "filter",
    "map",
    "reduce",
    "some",
    "all",
    "keys",
    "values",
    "parse_int",
    "parse_float",
    "to_string",
    "type_of",
];

/// One registered function, as `herodo fns` shows it.
#[derive(serde::Serialize, Debug, Clone)]
pub struct FnDoc {
    /// Where `herodo fns` lists it: one of [`GROUPS`] (empty when unknown), from the
    /// `@group NAME` line the registrar puts first in each doc.
    pub group: String,
    pub name: String,
    pub params: Vec<ParamDoc>,
    pub return_type: String,
    pub signature: String,
    pub summary: String,
    pub doc: String,
}

#[derive(serde::Serialize, Debug, Clone)]
pub struct ParamDoc {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
}

/// Every function registered in `engine` (standard Rhai packages excluded), sorted by name.
pub fn function_docs(engine: &Engine) -> Vec<FnDoc> {
    docs_from(engine, false)
}

/// The Rhai built-ins of [`BUILTINS`], with their own documentation, in group `rhai`.
pub fn builtin_docs(engine: &Engine) -> Vec<FnDoc> {
    let mut out: Vec<FnDoc> = docs_from(engine, true)
        .into_iter()
        .filter(|d| d.group.is_empty() && BUILTINS.contains(&d.name.as_str()))
        // BLOBs are rare in scripts: their overloads would crowd the list.
        .filter(|d| !d.params.iter().any(|p| p.ty.contains("Blob")))
        .map(|d| {
            let params: Vec<ParamDoc> = d
                .params
                .iter()
                .map(|p| ParamDoc {
                    name: p.name.clone(),
                    ty: script_type(&p.ty),
                })
                .collect();
            let ret = script_type(&d.return_type);
            let shown: Vec<String> = params
                .iter()
                .map(|p| format!("{}: {}", p.name, p.ty))
                .collect();
            let arrow = if ret.is_empty() || ret == "()" {
                String::new()
            } else {
                format!(" -> {ret}")
            };
            FnDoc {
                group: "rhai".into(),
                signature: format!("{}({}){arrow}", d.name, shown.join(", ")),
                params,
                return_type: ret,
                ..d
            }
        })
        .collect();
    out.dedup_by(|a, b| a.signature == b.signature);
    out
}

/// The script type name of a value's `type_name()` (`i64` is `int`; `array`, `map`, `string`
/// and herodo's objects keep theirs).
pub fn script_type_of(type_name: &str) -> String {
    match type_name {
        "i64" => "int".into(),
        "f64" => "float".into(),
        other => script_type(other),
    }
}

/// Every method and property name, per the script type of its receiver (the first parameter),
/// sorted: what Tab offers after `x.` once x's type is known. Operators and hidden helpers are
/// left out.
pub fn methods_by_type(engine: &Engine) -> std::collections::HashMap<String, Vec<String>> {
    let mut out: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    for d in docs_from(engine, true) {
        let name = d.name.trim_end_matches(" =");
        let (ty, method) = match name.split_once('.') {
            Some((owner, prop)) => (owner.to_string(), prop.to_string()),
            None => match d.params.first() {
                Some(p) => (script_type(&p.ty), name.to_string()),
                None => continue,
            },
        };
        if method.starts_with("__") || !method.starts_with(|c: char| c.is_alphabetic()) {
            continue;
        }
        out.entry(ty).or_default().push(method);
    }
    for v in out.values_mut() {
        v.sort();
        v.dedup();
    }
    out
}

/// A Rust type of Rhai's standard library as scripts name it (`&mut ImmutableString` is a
/// `string`).
fn script_type(ty: &str) -> String {
    let t = ty.trim_start_matches("&mut ").trim_start_matches('&');
    let t = t
        .strip_prefix("Result<")
        .and_then(|r| r.split_once(", Box<EvalAltResult>>"))
        .map_or(t, |(ok, _)| ok);
    match t {
        "ImmutableString" | "str" | "String" => "string",
        "Array" => "array",
        "Map" => "map",
        "INT" | "i64" => "int",
        "FLOAT" | "f64" => "float",
        "FnPtr" => "Fn",
        "Blob" => "blob",
        "Dynamic" => "any",
        "bool" => "bool",
        "char" => "char",
        other => other,
    }
    .to_string()
}

/// The first sentence of a doc's first paragraph (lines joined), without the example.
fn summary(doc: &str) -> String {
    let para: Vec<&str> = doc
        .lines()
        .map(str::trim)
        .take_while(|l| !l.is_empty() && !l.starts_with("```") && !l.starts_with('#'))
        .collect();
    let text = para.join(" ");
    // The end of the first sentence: a period followed by a space (not inside `code`).
    let mut in_code = false;
    for (i, c) in text.char_indices() {
        match c {
            '`' => in_code = !in_code,
            '.' if !in_code && text[i + 1..].starts_with(' ') => return text[..=i].to_string(),
            _ => {}
        }
    }
    text
}

fn docs_from(engine: &Engine, with_std: bool) -> Vec<FnDoc> {
    let Ok(json) = engine.gen_fn_metadata_to_json(with_std) else {
        return Vec::new();
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&json) else {
        return Vec::new();
    };
    let mut out: Vec<FnDoc> = v["functions"]
        .as_array()
        .map(|fs| {
            fs.iter()
                .filter_map(|f| {
                    let raw_name = f["name"].as_str()?;
                    // Hidden helpers (the catch-block classifier) are not for scripts.
                    if raw_name.starts_with("__") {
                        return None;
                    }
                    let params: Vec<ParamDoc> = f["params"]
                        .as_array()
                        .map(|ps| {
                            ps.iter()
                                .map(|p| ParamDoc {
                                    name: p["name"].as_str().unwrap_or("_").to_string(),
                                    ty: p["type"].as_str().unwrap_or("?").to_string(),
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    let return_type = f["returnType"].as_str().unwrap_or("").to_string();
                    let mut doc: String = f["docComments"]
                        .as_array()
                        .map(|c| {
                            c.iter()
                                .filter_map(|l| l.as_str())
                                .flat_map(|block| block.lines())
                                .map(|l| {
                                    let l = l.trim_start().trim_start_matches("///");
                                    l.strip_prefix(' ').unwrap_or(l).to_string()
                                })
                                .collect::<Vec<_>>()
                                .join("\n")
                        })
                        .unwrap_or_default();
                    let mut group = String::new();
                    if let Some(rest) = doc.strip_prefix("@group ") {
                        let (g, rest) = rest.split_once('\n').unwrap_or((rest, ""));
                        group = g.trim().to_string();
                        doc = rest.to_string();
                    }
                    let (name, signature) = if let Some(prop) = raw_name.strip_prefix("set$") {
                        let owner = params.first().map(|p| p.ty.clone()).unwrap_or_default();
                        let ty = params.get(1).map(|p| p.ty.clone()).unwrap_or_default();
                        (
                            format!("{owner}.{prop} ="),
                            format!("{owner}.{prop} = {ty}"),
                        )
                    } else if let Some(prop) = raw_name.strip_prefix("get$") {
                        let owner = params.first().map(|p| p.ty.clone()).unwrap_or_default();
                        (
                            format!("{owner}.{prop}"),
                            format!("{owner}.{prop} -> {return_type}"),
                        )
                    } else {
                        let ps: Vec<String> = params
                            .iter()
                            .map(|p| format!("{}: {}", p.name, p.ty))
                            .collect();
                        let ret = if return_type.is_empty() || return_type == "()" {
                            String::new()
                        } else {
                            format!(" -> {return_type}")
                        };
                        (
                            raw_name.to_string(),
                            format!("{raw_name}({}){ret}", ps.join(", ")),
                        )
                    };
                    Some(FnDoc {
                        summary: summary(&doc),
                        group,
                        name,
                        params,
                        return_type,
                        signature,
                        doc,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort_by(|a, b| {
        a.name
            .cmp(&b.name)
            .then(a.params.len().cmp(&b.params.len()))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 18.10: a summary is the whole first sentence, not the first (wrapped) line.
    #[test]
    fn summaries_are_first_sentences() {
        assert_eq!(
            summary(
                "Run a shell line and return\nits result. Output shows.\n```rhai\nrun(\"x\")\n```"
            ),
            "Run a shell line and return its result."
        );
        assert_eq!(summary("No period here\n\nMore."), "No period here");
        assert_eq!(summary("Keeps `a. b` whole. Then."), "Keeps `a. b` whole.");
    }
}
