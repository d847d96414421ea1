//! The shape of the house, checked from the `crate::` paths in src/: no import cycle between
//! top-level modules (a folder's `bindings.rs`, the glue the engine registers, counts as a node
//! of its own), and no domain folder imports another domain folder: domains share only the floor
//! (exec, host, error, glue, common), and scripts compose them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The domain folders: plain Rust behind their own bindings, never importing each other.
const DOMAINS: &[&str] = &[
    "process",
    "os",
    "assert",
    "text",
    "net",
    "misc",
    "containers",
    "buildah",
    "heropods",
    "vm",
    "kube",
];

type Graph = BTreeMap<String, BTreeSet<String>>;

fn node_of(rel: &Path) -> String {
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.len() == 1 {
        return parts[0].trim_end_matches(".rs").to_string();
    }
    if parts[1] == "bindings.rs" {
        return format!("{}::bindings", parts[0]);
    }
    parts[0].clone()
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let re = regex::Regex::new(r"crate::([a-z_]+)(::bindings)?").unwrap();
    let mut g = Graph::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let from = node_of(p.strip_prefix(&src).unwrap());
            let text = std::fs::read_to_string(&p).unwrap();
            let edges = g.entry(from.clone()).or_default();
            for line in text.lines() {
                if line.trim_start().starts_with("//") {
                    continue;
                }
                for c in re.captures_iter(line) {
                    let to = format!("{}{}", &c[1], c.get(2).map_or("", |m| m.as_str()));
                    if to != from && to != "lib" && to != "main" {
                        edges.insert(to);
                    }
                }
            }
        }
    }
    g
}

fn find_cycle(g: &Graph) -> Option<Vec<String>> {
    // Depth-first search with colours; returns the first cycle found.
    fn visit(
        n: &str,
        g: &Graph,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        path.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    let start = path.iter().position(|x| x == m).unwrap();
                    let mut c = path[start..].to_vec();
                    c.push(m.clone());
                    return Some(c);
                }
                0 => {
                    if let Some(c) = visit(m, g, state, path) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        path.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(n, g, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

fn domain(node: &str) -> Option<&str> {
    let top = node.split("::").next().unwrap_or(node);
    DOMAINS.iter().copied().find(|d| *d == top)
}

#[test]
fn no_import_cycles_between_modules() {
    let g = graph();
    assert!(g.len() > 10, "read only {} modules", g.len());
    if let Some(c) = find_cycle(&g) {
        panic!("import cycle: {}", c.join(" -> "));
    }
}

#[test]
fn domains_never_import_each_other() {
    let g = graph();
    let mut bad = Vec::new();
    for (from, tos) in &g {
        let Some(a) = domain(from) else { continue };
        for to in tos {
            if let Some(b) = domain(to) {
                if a != b {
                    bad.push(format!("{from} -> {to}"));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "domains importing domains:\n{}",
        bad.join("\n")
    );
}

/// The floors above the engine: what runs scripts (the test runner, the REPL, the actions and
/// the command line). The engine registers domains below it and imports none of these, so
/// assertions, which ordinary scripts use too, live in their own domain (src/assert).
const ABOVE_ENGINE: &[&str] = &["testing", "repl", "actions", "cli"];

/// What `from` imports of [`ABOVE_ENGINE`], through the modules it imports.
fn floors_above_reached_from(g: &Graph, from: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_string()];
    while let Some(n) = stack.pop() {
        for m in g.get(&n).into_iter().flatten() {
            if seen.insert(m.clone()) {
                stack.push(m.clone());
            }
        }
    }
    seen.into_iter()
        .filter(|n| ABOVE_ENGINE.contains(&n.split("::").next().unwrap_or(n)))
        .collect()
}

#[test]
fn the_engine_imports_nothing_above_it() {
    let g = graph();
    assert!(
        g.contains_key("assert::bindings"),
        "no src/assert/bindings.rs"
    );
    assert!(g["engine"].contains("assert::bindings"));
    assert_eq!(
        floors_above_reached_from(&g, "engine"),
        Vec::<String>::new()
    );
    // And the check sees such an import.
    let mut bad = g.clone();
    bad.get_mut("engine")
        .unwrap()
        .insert("testing::bindings".into());
    assert_eq!(
        floors_above_reached_from(&bad, "engine"),
        vec!["testing::bindings"]
    );
}

#[test]
fn the_checker_sees_cycles_and_domain_imports() {
    let mut g = Graph::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("a".into());
    assert_eq!(find_cycle(&g).unwrap(), vec!["a", "b", "a"]);
    g.get_mut("b").unwrap().clear();
    assert!(find_cycle(&g).is_none());
    assert_eq!(domain("containers::bindings"), Some("containers"));
    assert_eq!(domain("engine"), None);
    assert_eq!(
        node_of(Path::new("buildah/bindings.rs")),
        "buildah::bindings"
    );
    assert_eq!(node_of(Path::new("buildah/ops.rs")), "buildah");
    assert_eq!(node_of(Path::new("engine.rs")), "engine");
}

/// Every kind a script can see is in one list (src/error.rs `kind`) and in the README's table,
/// and no error is raised with a kind spelled out elsewhere.
#[test]
fn every_error_kind_is_listed_once_and_documented() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let error_rs = std::fs::read_to_string(root.join("src/error.rs")).unwrap();
    let start = error_rs.find("pub mod kind {").unwrap();
    let end = start + error_rs[start..].find("\n}").unwrap();
    let re = regex::Regex::new(r#"pub const [A-Z_]+: &str = "([a-z_]+)";"#).unwrap();
    let kinds: Vec<String> = re
        .captures_iter(&error_rs[start..end])
        .map(|c| c[1].to_string())
        .collect();
    assert!(kinds.len() > 20, "{kinds:?}");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let undocumented: Vec<&String> = kinds
        .iter()
        .filter(|k| !readme.contains(&format!("`{k}`")))
        .collect();
    assert!(
        undocumented.is_empty(),
        "kinds missing from README: {undocumented:?}"
    );
    let literal = regex::Regex::new(r#"ErrorInfo::new\(\s*""#).unwrap();
    let mut stack = vec![root.join("src")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                assert!(
                    !literal.is_match(&text),
                    "{} raises an error with a kind not from error.rs",
                    p.display()
                );
            }
        }
    }
}
