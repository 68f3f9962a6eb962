//! Name resolution: every dotted path an expression may stand for, through
//! aliases, imports, constant lookups (`getattr(os, "system")`,
//! `globals()["eval"]`, `sys.modules["os"]`) and the names strings spell for
//! APIs that resolve them. The walk asks this part what a name, attribute,
//! call or subscript refers to before matching rules against it.

use super::{IMPORTERS, MAX_PATHS, NAMESPACE_ATTRS, Walker, runtime};
use crate::python::fold::{Value, fold};
use rustpython_parser::ast::{self, Expr, Ranged};
use unicode_normalization::UnicodeNormalization;

impl Walker<'_> {
    /// Every dotted path `e` may stand for, through aliases, imports and constant lookups.
    pub(super) fn paths(&self, e: &Expr) -> Vec<String> {
        let mut out = match e {
            Expr::Name(n) => {
                let id: String = if n.id.is_ascii() {
                    n.id.to_string()
                } else {
                    n.id.nfkc().collect()
                };
                self.name_paths(&id, n.range().start().to_usize())
            }
            Expr::Attribute(a) => self
                .paths(&a.value)
                .into_iter()
                .map(|p| format!("{p}.{}", a.attr))
                .collect(),
            Expr::Call(c) => self.call_paths(c),
            Expr::Subscript(s) => match fold(&s.slice, &self.env) {
                Some(Value::Str(key)) => self.subscript_paths(&s.value, &key),
                _ => Vec::new(),
            },
            Expr::Lambda(l) => self.paths(&l.body),
            Expr::NamedExpr(n) => self.paths(&n.value),
            Expr::IfExp(i) => [self.paths(&i.body), self.paths(&i.orelse)].concat(),
            Expr::BoolOp(b) => b.values.iter().flat_map(|v| self.paths(v)).collect(),
            _ => Vec::new(),
        };
        out.iter_mut().for_each(normalise_in_place);
        out.truncate(MAX_PATHS);
        out
    }

    /// What the name `id` used at byte `at` may stand for.
    pub(super) fn name_paths(&self, id: &str, at: usize) -> Vec<String> {
        let mut out = Vec::new();
        if !self.shadows.hides(id, at) {
            out.push(normalise(id));
        }
        if let Some(aliases) = self.aliases.get(id) {
            out.extend(aliases.iter().filter(|a| a.as_str() != id).cloned());
        }
        out
    }

    /// `__import__("os")` is `os`; `getattr(os, "system")` is `os.system`; a lambda is its body.
    pub(super) fn call_paths(&self, c: &ast::ExprCall) -> Vec<String> {
        let callees = self.paths(&c.func);
        let folded_arg = |i: usize| c.args.get(i).and_then(|a| fold(a, &self.env));
        let mut out = Vec::new();
        for callee in &callees {
            if IMPORTERS.contains(&callee.as_str()) {
                if let Some(Value::Str(m)) = folded_arg(0) {
                    out.push(m);
                }
            } else if callee == "getattr"
                && let (Some(obj), Some(Value::Str(attr))) = (c.args.first(), folded_arg(1))
            {
                out.extend(self.paths(obj).into_iter().map(|p| format!("{p}.{attr}")));
            }
        }
        // An instance of a class with code-running methods stands for its class.
        out.extend(
            callees
                .iter()
                .filter(|c| runtime::CONSTRUCTORS.contains(&c.as_str()))
                .cloned(),
        );
        if let Expr::Lambda(l) = c.func.as_ref() {
            out.extend(self.paths(&l.body));
        }
        out
    }

    /// `globals()["eval"]` is `eval`; `sys.modules["os"]` is `os`.
    pub(super) fn subscript_paths(&self, value: &Expr, key: &str) -> Vec<String> {
        // `sys.__dict__["modules"]` and `vars(sys)["modules"]` are `sys.modules`.
        let owner = match value {
            Expr::Attribute(a) if a.attr.as_str() == "__dict__" => Some(a.value.as_ref()),
            Expr::Call(c) if self.paths(&c.func).iter().any(|p| p == "vars") => c.args.first(),
            _ => None,
        };
        if let Some(owner) = owner {
            let paths = self.paths(owner);
            if !paths.is_empty() {
                return paths
                    .iter()
                    .map(|p| normalise(&format!("{p}.{key}")))
                    .collect();
            }
        }
        if self.is_namespace(value) {
            return vec![normalise(key)];
        }
        if self.is_module_table(value) {
            return vec![key.to_string()];
        }
        Vec::new()
    }

    /// `sys.modules`, also reached through another module (`warnings.sys.modules`).
    pub(super) fn is_module_table(&self, e: &Expr) -> bool {
        self.paths(e)
            .iter()
            .any(|p| p == "sys.modules" || p.ends_with(".sys.modules"))
    }

    pub(super) fn is_namespace(&self, e: &Expr) -> bool {
        match e {
            Expr::Call(c) => self
                .paths(&c.func)
                .iter()
                .any(|p| matches!(p.as_str(), "globals" | "locals" | "vars")),
            Expr::Attribute(a) => NAMESPACE_ATTRS.contains(&a.attr.as_str()),
            Expr::Name(_) => self
                .paths(e)
                .iter()
                .any(|p| p == "__builtins__" || p == "builtins"),
            _ => false,
        }
    }
}

/// Modules that other modules import and expose as attributes, by the
/// attribute's name (`_os` is `os`); only these, so `numpy.trace` stays a function.
pub(super) fn reached_module(attr: &str) -> Option<&str> {
    const REACHED: [&str; 19] = [
        "os",
        "sys",
        "subprocess",
        "posix",
        "nt",
        "builtins",
        "socket",
        "shutil",
        "ctypes",
        "importlib",
        "pty",
        "pickle",
        "marshal",
        "tempfile",
        "pathlib",
        "glob",
        "signal",
        "resource",
        "faulthandler",
    ];
    let bare = attr.strip_prefix('_').unwrap_or(attr);
    REACHED.contains(&bare).then_some(bare)
}

/// File-name endings: `"data.txt"` names a file, not `data.txt` the attribute.
pub(super) const FILE_ENDINGS: [&str; 24] = [
    "txt", "py", "pyc", "json", "csv", "tsv", "in", "out", "ans", "html", "md", "log", "dat",
    "xml", "yaml", "yml", "ini", "cfg", "toml", "png", "jpg", "gz", "zip", "db",
];

/// The dotted name a string spells for APIs that resolve names
/// (`"os.system"`, `"ext://sys.modules"`, `"os:system"`), if it spells one.
pub(super) fn dotted_reference(text: &str) -> Option<String> {
    let path = text
        .strip_prefix("ext://")
        .unwrap_or(text)
        .replacen(':', ".", 1);
    if path.len() > 200 || path.starts_with("builtins.") {
        return None;
    }
    let segments: Vec<&str> = path.split('.').collect();
    let identifier = |s: &&str| {
        s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let last = segments.last()?;
    (segments.len() >= 2 && segments.iter().all(identifier) && !FILE_ENDINGS.contains(last))
        .then_some(path)
}

/// `builtins.eval`, `__builtins__.eval` and `eval` are one name.
pub(super) fn normalise(path: &str) -> String {
    path[builtins_prefix(path)..].to_string()
}

/// [`normalise`] in place: most paths have no such prefix and keep their buffer.
pub(super) fn normalise_in_place(path: &mut String) {
    let cut = builtins_prefix(path);
    if cut > 0 {
        path.drain(..cut);
    }
}

/// How many leading bytes name the builtins module (`builtins.`, `__builtins__.__dict__.` …).
pub(super) fn builtins_prefix(path: &str) -> usize {
    let mut p = path;
    for prefix in [
        "builtins.",
        "__builtins__.",
        "__builtins__.__dict__.",
        "builtins.__dict__.",
    ] {
        if let Some(rest) = p.strip_prefix(prefix) {
            p = rest;
        }
    }
    path.len() - p.len()
}
