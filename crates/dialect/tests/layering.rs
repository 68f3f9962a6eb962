//! The dialect crate's modules import each other in layers: reading the
//! `crate::module` references of every file under `src/` must give a graph
//! without a circle, so each module can be read knowing only those below it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module name → the modules its non-test code names as `crate::module`.
fn edges(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph = BTreeMap::new();
    for entry in std::fs::read_dir(src).expect("src/") {
        let path = entry.expect("entry").path();
        let Some(module) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().is_none_or(|e| e != "rs") || module == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        graph.insert(module.to_string(), references(code, module));
    }
    graph
}

/// The modules named in `code` as `crate::name` (also inside `crate::{a, b}`).
fn references(code: &str, own: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let code: String = code
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let names: Vec<&str> = match rest.strip_prefix('{') {
            Some(group) => group
                .split('}')
                .next()
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .collect(),
            None => vec![rest],
        };
        for name in names {
            let ident: String = name
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            // `crate::Type` re-exported at the root is not a module edge.
            if !ident.is_empty() && ident.starts_with(|c: char| c.is_lowercase()) && ident != own {
                found.insert(ident);
            }
        }
    }
    found
}

/// A circle of `graph`, if any, as the modules on it.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut found = path[at..].to_vec();
            found.push(node.to_string());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn modules_import_each_other_without_a_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = edges(&src);
    assert!(graph.len() > 5, "modules found: {graph:?}");
    if let Some(found) = circle(&graph) {
        panic!("import circle: {}", found.join(" → "));
    }
}

#[test]
fn a_circle_is_found() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", "use crate::b::X;"),
        ("b", "fn f() { crate::c::g() }"),
        ("c", "use crate::{a::Y, d};"),
        ("d", ""),
    ]
    .into_iter()
    .map(|(m, code)| (m.to_string(), references(code, m)))
    .collect();
    assert_eq!(circle(&graph).unwrap(), ["a", "b", "c", "a"]);
}
