//! Function metadata for `herodo fns`, the REPL's `/functions` and completion: every registered
//! function with its signature, parameter names and doc comment.

use rhai::Engine;

/// One registered function, as `herodo fns` shows it.
#[derive(serde::Serialize, Debug, Clone)]
pub struct FnDoc {
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
    let Ok(json) = engine.gen_fn_metadata_to_json(false) else {
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
                    let doc: String = f["docComments"]
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
                        summary: doc.lines().next().unwrap_or("").to_string(),
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
