//! No import circles between the modules of a folder: a newcomer reads
//! `src/gateway`, `src/config` and `crates/dialect/src` from the bottom up, each
//! module using only those below it.
//!
//! The graph is read from the source text: `use` trees and inline
//! `crate::`/`super::`/`self::` paths, resolved against the folder's module
//! path. Every file of the folder is a node (a sub-folder is one node), and so
//! is the folder's own `mod.rs`/`lib.rs` (what it defines besides submodules,
//! such as `Gateway`). `mod x;` declarations are not uses.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A token of Rust source that paths are made of; everything else is `Other`.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    PathSep,
    Open,
    Close,
    Semi,
    Comma,
    Star,
    Other,
}

/// Splits `text` into tokens with their line, dropping comments, strings and
/// character literals (whose contents may look like paths).
fn tokens(text: &str) -> Vec<(Tok, usize)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            '/' if at(i + 1) == '/' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if at(i + 1) == '*' => {
                let mut depth = 0;
                while i < chars.len() {
                    if chars[i] == '/' && at(i + 1) == '*' {
                        depth += 1;
                        i += 2;
                    } else if chars[i] == '*' && at(i + 1) == '/' {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        line += usize::from(chars[i] == '\n');
                        i += 1;
                    }
                }
            }
            'r' if at(i + 1) == '#' || (at(i + 1) == '"') => {
                // A raw string: r"…", r#"…"#.
                let mut j = i + 1;
                let mut hashes = 0;
                while at(j) == '#' {
                    hashes += 1;
                    j += 1;
                }
                if at(j) != '"' {
                    out.push((Tok::Ident("r".into()), line));
                    i += 1;
                    continue;
                }
                j += 1;
                loop {
                    if j >= chars.len() {
                        break;
                    }
                    if chars[j] == '"' && (1..=hashes).all(|k| at(j + k) == '#') {
                        j += 1 + hashes;
                        break;
                    }
                    line += usize::from(chars[j] == '\n');
                    j += 1;
                }
                i = j;
            }
            '"' => {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    line += usize::from(at(i) == '\n');
                    i += 1;
                }
                i += 1;
            }
            '\'' => {
                // A character literal ('x', '\n', '\u{..}'), else a lifetime.
                if at(i + 1) == '\\' {
                    i += 2;
                    while i < chars.len() && chars[i] != '\'' {
                        i += 1;
                    }
                    i += 1;
                } else if at(i + 2) == '\'' {
                    i += 3;
                } else {
                    i += 1;
                }
            }
            c if c.is_whitespace() => i += 1,
            ':' if at(i + 1) == ':' => {
                out.push((Tok::PathSep, line));
                i += 2;
            }
            '{' => {
                out.push((Tok::Open, line));
                i += 1;
            }
            '}' => {
                out.push((Tok::Close, line));
                i += 1;
            }
            ';' => {
                out.push((Tok::Semi, line));
                i += 1;
            }
            ',' => {
                out.push((Tok::Comma, line));
                i += 1;
            }
            '*' => {
                out.push((Tok::Star, line));
                i += 1;
            }
            c if c.is_alphanumeric() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push((Tok::Ident(chars[start..i].iter().collect()), line));
            }
            _ => {
                out.push((Tok::Other, line));
                i += 1;
            }
        }
    }
    out
}

/// The paths of one `use` tree starting at `toks[*i]`, each prefixed with `prefix`.
fn use_tree(toks: &[(Tok, usize)], i: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut path = prefix;
    while let Some((tok, _)) = toks.get(*i) {
        match tok {
            Tok::PathSep => *i += 1,
            Tok::Ident(name) => {
                path.push(name.clone());
                *i += 1;
                if toks.get(*i).map(|t| &t.0) != Some(&Tok::PathSep) {
                    if let Some((Tok::Ident(kw), _)) = toks.get(*i)
                        && kw == "as"
                    {
                        *i += 2;
                    }
                    out.push(path);
                    return;
                }
            }
            Tok::Star => {
                *i += 1;
                path.push("*".into());
                out.push(path);
                return;
            }
            Tok::Open => {
                *i += 1;
                loop {
                    match toks.get(*i).map(|t| &t.0) {
                        None => return,
                        Some(Tok::Close) => {
                            *i += 1;
                            return;
                        }
                        Some(Tok::Comma) => *i += 1,
                        Some(_) => use_tree(toks, i, path.clone(), out),
                    }
                }
            }
            _ => return,
        }
    }
}

/// Every path a file names, with its line, resolved to an absolute module
/// path (without `crate`); `module` is the file's own module path and
/// `children` the submodules a bare path may start with.
fn paths_of(
    text: &str,
    module: &[String],
    children: &BTreeSet<String>,
) -> Vec<(Vec<String>, usize)> {
    let toks = tokens(text);
    let mut found = Vec::new();
    // Inline modules (`mod tests { … }`) change what `super` means.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        let here: Vec<String> = module
            .iter()
            .cloned()
            .chain(inline.iter().map(|(m, _)| m.clone()))
            .collect();
        let (tok, line) = &toks[i];
        match tok {
            Tok::Open => {
                depth += 1;
                i += 1;
            }
            Tok::Close => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
                i += 1;
            }
            Tok::Ident(kw) if kw == "mod" => {
                if let (Some((Tok::Ident(name), _)), Some((Tok::Open, _))) =
                    (toks.get(i + 1), toks.get(i + 2))
                {
                    inline.push((name.clone(), depth + 1));
                }
                i += 1;
            }
            Tok::Ident(kw) if kw == "use" => {
                i += 1;
                let mut trees = Vec::new();
                use_tree(&toks, &mut i, Vec::new(), &mut trees);
                for path in trees {
                    found.extend(
                        resolve(&path, &here, inline.is_empty(), children).map(|p| (p, *line)),
                    );
                }
            }
            Tok::Ident(first)
                if (["crate", "super", "self"].contains(&first.as_str())
                    || (inline.is_empty() && children.contains(first)))
                    && toks.get(i + 1).map(|t| &t.0) == Some(&Tok::PathSep)
                    && (i == 0 || toks[i - 1].0 != Tok::PathSep) =>
            {
                let mut path = vec![first.clone()];
                i += 1;
                while let (Some((Tok::PathSep, _)), Some((Tok::Ident(next), _))) =
                    (toks.get(i), toks.get(i + 1))
                {
                    path.push(next.clone());
                    i += 2;
                }
                found
                    .extend(resolve(&path, &here, inline.is_empty(), children).map(|p| (p, *line)));
            }
            _ => i += 1,
        }
    }
    found
}

/// `path` as written in module `here`, made absolute; `None` for another crate's.
fn resolve(
    path: &[String],
    here: &[String],
    at_file_level: bool,
    children: &BTreeSet<String>,
) -> Option<Vec<String>> {
    let mut abs: Vec<String> = here.to_vec();
    let mut rest = path;
    match path.first()?.as_str() {
        "crate" => {
            abs.clear();
            rest = &path[1..];
        }
        "self" => rest = &path[1..],
        "super" => {
            while rest.first().is_some_and(|s| s == "super") {
                abs.pop();
                rest = &rest[1..];
            }
        }
        first if at_file_level && children.contains(first) => {}
        _ => return None,
    }
    abs.extend(rest.iter().filter(|s| *s != "self").cloned());
    Some(abs)
}

/// The module path of `file` below `dir`, whose module path is `module`.
fn module_of(dir: &Path, file: &Path, module: &[String]) -> Vec<String> {
    let rel = file.strip_prefix(dir).expect("file below its folder");
    let mut path: Vec<String> = module.to_vec();
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    for (n, part) in parts.iter().enumerate() {
        let last = n + 1 == parts.len();
        match part.strip_suffix(".rs") {
            Some("mod" | "lib" | "main") if last => {}
            Some(stem) if last => path.push(stem.to_string()),
            _ => path.push(part.clone()),
        }
    }
    path
}

/// Every `.rs` file below `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("folder entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The node a module path belongs to: the folder's child it lies in, or the
/// folder's own file (`PARENT`) for its items; `None` outside the folder.
fn node_of(abs: &[String], module: &[String], children: &BTreeSet<String>) -> Option<String> {
    let below = abs.strip_prefix(module)?;
    match below.first() {
        Some(child) if children.contains(child) => Some(child.clone()),
        _ => Some(PARENT.to_string()),
    }
}

/// The node of the folder's own `mod.rs`/`lib.rs`.
const PARENT: &str = "(mod.rs)";

/// One use of a module by another: where it is written.
type Edges = BTreeMap<(String, String), String>;

/// The import graph of the modules directly in `dir` (module path `module`).
fn graph(dir: &Path, module: &[String]) -> Edges {
    let children: BTreeSet<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("folder entry").path())
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy().into_owned();
            if p.is_dir() {
                Some(name)
            } else {
                let stem = name.strip_suffix(".rs")?;
                (!["mod", "lib", "main"].contains(&stem)).then(|| stem.to_string())
            }
        })
        .collect();
    let mut edges = Edges::new();
    for file in rust_files(dir) {
        let own = module_of(dir, &file, module);
        let from = node_of(&own, module, &children).expect("file inside its folder");
        let text = std::fs::read_to_string(&file).expect("readable source");
        // A bare path starts at a submodule of the file's own module.
        let own_children: BTreeSet<String> = if from == PARENT {
            children.clone()
        } else {
            let sub = file.with_extension("");
            let dir_of = if file.file_name().is_some_and(|n| n == "mod.rs") {
                file.parent().map(Path::to_path_buf)
            } else {
                Some(sub)
            };
            dir_of
                .filter(|d| d.is_dir())
                .map(|d| {
                    std::fs::read_dir(d)
                        .into_iter()
                        .flatten()
                        .filter_map(|e| {
                            let p = e.ok()?.path();
                            let name = p.file_name()?.to_string_lossy().into_owned();
                            Some(name.strip_suffix(".rs").unwrap_or(&name).to_string())
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        for (abs, line) in paths_of(&text, &own, &own_children) {
            let Some(to) = node_of(&abs, module, &children) else {
                continue;
            };
            if to != from {
                edges
                    .entry((from.clone(), to))
                    .or_insert_with(|| format!("{}:{line}: {}", file.display(), abs.join("::")));
            }
        }
    }
    edges
}

/// The circles of `edges`: each strongly connected set of two or more
/// modules, with the uses that tie it.
fn circles(edges: &Edges) -> Vec<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        next.entry(from).or_default().push(to);
        next.entry(to).or_default();
    }
    // Kosaraju: finish order on the graph, then components on its reverse.
    let mut order = Vec::new();
    let mut seen = BTreeSet::new();
    fn visit<'a>(
        n: &'a str,
        next: &BTreeMap<&'a str, Vec<&'a str>>,
        seen: &mut BTreeSet<&'a str>,
        order: &mut Vec<&'a str>,
    ) {
        if !seen.insert(n) {
            return;
        }
        for m in &next[n] {
            visit(m, next, seen, order);
        }
        order.push(n);
    }
    for n in next.keys() {
        visit(n, &next, &mut seen, &mut order);
    }
    let mut back: BTreeMap<&str, Vec<&str>> = next.keys().map(|n| (*n, Vec::new())).collect();
    for (from, tos) in &next {
        for to in tos {
            back.get_mut(to).expect("node").push(from);
        }
    }
    let mut assigned = BTreeSet::new();
    let mut found = Vec::new();
    for n in order.iter().rev() {
        if assigned.contains(n) {
            continue;
        }
        let mut component = Vec::new();
        let mut stack = vec![*n];
        assigned.insert(*n);
        while let Some(m) = stack.pop() {
            component.push(m);
            for p in &back[m] {
                if assigned.insert(p) {
                    stack.push(p);
                }
            }
        }
        if component.len() > 1 {
            component.sort();
            found.push(component.iter().map(|c| c.to_string()).collect());
        }
    }
    found
}

/// Fails naming every circle in `dir` and the lines that make it.
fn assert_no_circle(dir: &Path, module: &[&str]) {
    let module: Vec<String> = module.iter().map(|s| s.to_string()).collect();
    let edges = graph(dir, &module);
    let found = circles(&edges);
    if found.is_empty() {
        return;
    }
    let mut report = format!("import circles in {}:\n", dir.display());
    for circle in &found {
        report.push_str(&format!("- {}\n", circle.join(", ")));
        for ((from, to), at) in &edges {
            if circle.contains(from) && circle.contains(to) {
                report.push_str(&format!("    {from} → {to}  ({at})\n"));
            }
        }
    }
    panic!("{report}");
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_gateway_stages_import_no_circle() {
    assert_no_circle(&root().join("src/gateway"), &["gateway"]);
    assert_no_circle(
        &root().join("src/gateway/outbound"),
        &["gateway", "outbound"],
    );
    assert_no_circle(
        &root().join("src/gateway/outbound"),
        &["gateway", "outbound"],
    );
}

#[test]
fn the_config_modules_import_no_circle() {
    assert_no_circle(&root().join("src/config"), &["config"]);
}

/// A folder written in the test, with `files` as (path, text).
fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("folders");
        std::fs::write(path, text).expect("write");
    }
    dir
}

#[test]
fn a_circle_through_any_kind_of_path_is_found() {
    let cases: [&[(&str, &str)]; 6] = [
        &[
            ("a.rs", "use super::b::B;\npub struct A;"),
            ("b.rs", "use super::{a::A, c};"),
            ("c.rs", ""),
        ],
        &[
            ("a.rs", "pub fn f() -> crate::m::b::B { todo!() }"),
            ("b.rs", "pub struct B(crate::m::a::A);"),
        ],
        // Through the folder's own file: `Gateway` in mod.rs uses a stage
        // that uses `Gateway`.
        &[
            ("mod.rs", "mod a;\nuse a::Stage;\npub struct Gateway;"),
            ("a.rs", "use super::Gateway;"),
        ],
        // A bare path from the folder's own file, written inline.
        &[
            ("mod.rs", "mod a;\npub struct Gateway { stage: a::Stage }"),
            ("a.rs", "pub struct Stage(super::Gateway);"),
        ],
        // Through a sub-folder, from a file nested in it.
        &[
            ("a/mod.rs", "mod inner;"),
            ("a/inner.rs", "use super::super::b::B;"),
            ("b.rs", "pub type B = crate::m::a::inner::X;"),
        ],
        &[
            ("a.rs", "use super::b::{self, B as Bee};"),
            ("b.rs", "use super::a::*;"),
        ],
    ];
    for files in cases {
        let dir = folder(files);
        let edges = graph(dir.path(), &["m".to_string()]);
        assert_eq!(circles(&edges).len(), 1, "{files:?}: {edges:?}");
    }
}

#[test]
fn comments_strings_and_test_modules_make_no_use() {
    let dir = folder(&[
        (
            "a.rs",
            "//! reads `super::b`\nconst S: &str = \"super::b::X\";\nconst C: char = '\"';\n\
             pub fn f() {}\n#[cfg(test)]\nmod tests {\n    use super::*;\n    use super::super::b;\n}",
        ),
        ("b.rs", "use super::a::f;\n/* super::a::g */"),
    ]);
    let edges = graph(dir.path(), &["m".to_string()]);
    // Only the test module's `super::super::b` is a use of `b` by `a`: a circle.
    assert_eq!(circles(&edges).len(), 1, "{edges:?}");
    let dir = folder(&[
        (
            "a.rs",
            "//! reads `super::b`\nconst S: &str = \"super::b::X\";\nconst C: char = '\"';\n\
             #[cfg(test)]\nmod tests {\n    use super::*;\n}",
        ),
        ("b.rs", "use super::a::f;"),
    ]);
    let edges = graph(dir.path(), &["m".to_string()]);
    assert!(circles(&edges).is_empty(), "{edges:?}");
}

#[test]
fn the_dialect_modules_import_no_circle() {
    assert_no_circle(&root().join("crates/dialect/src"), &[]);
}
