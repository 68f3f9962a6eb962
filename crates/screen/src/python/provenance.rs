//! Where a computed name comes from. Folding cannot compute everything
//! (`str.translate`, arithmetic on code points, loops appending characters),
//! but a name built *only* from literals and pure built-ins is an obfuscated
//! constant: an ordinary program asks for an attribute it can spell, or for
//! one that depends on its input. This module tracks which variables hold
//! such literal-derived values, and which constant choices a loop variable
//! takes, so that `getattr(x, name)` can be judged by where `name` came from.

use super::fold::{Env, Value, fold};
use crate::{Map, Set};
use rustpython_parser::ast::{self, Expr, Stmt};

/// Built-ins that compute a value from their arguments alone (no input, no state).
const PURE_BUILTINS: [&str; 27] = [
    "chr",
    "ord",
    "str",
    "bytes",
    "bytearray",
    "map",
    "filter",
    "reversed",
    "sorted",
    "list",
    "tuple",
    "int",
    "hex",
    "oct",
    "bin",
    "len",
    "range",
    "sum",
    "zip",
    "enumerate",
    "min",
    "max",
    "abs",
    "divmod",
    "pow",
    "format",
    "repr",
];

/// Where a bound value came from, as the walker judged it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Origin {
    /// A lookup by computed name (or an item of one).
    pub looked_up: bool,
    /// Text read from stdin, a file or the command line.
    pub external: bool,
    /// `attrgetter(name)` / `methodcaller(name)` with a computed name.
    pub getter: bool,
}

fn set(names: &mut Set<String>, name: &str, member: bool) {
    if member {
        names.insert(name.to_string());
    } else {
        names.remove(name);
    }
}

/// What is known about the origin of local names.
#[derive(Debug, Default)]
pub(crate) struct Provenance {
    /// Names last bound to a value built only from literals.
    literal: Set<String>,
    /// Loop variables iterating over a constant sequence of strings.
    choices: Map<String, Vec<String>>,
    /// Every name the program assigns or loops over (it no longer means a builtin).
    bound: Set<String>,
    /// Names last bound to the result of a lookup by a computed name.
    looked_up: Set<String>,
    /// Names of the program's functions (`def`, or a lambda bound to a name).
    functions: Set<String>,
    /// Names last bound to text read from stdin, a file or the command line.
    external: Set<String>,
    /// Names bound by `import` to a module.
    modules: Set<String>,
    /// Names bound to `attrgetter(name)` / `methodcaller(name)` with a computed name.
    getters: Set<String>,
}

impl Provenance {
    /// `name = value` was executed.
    pub fn bind(&mut self, name: &str, value: &Expr, env: &Env, origin: Origin) {
        self.bound.insert(name.to_string());
        self.modules.remove(name);
        set(&mut self.looked_up, name, origin.looked_up);
        set(&mut self.external, name, origin.external);
        set(&mut self.getters, name, origin.getter);
        set(&mut self.functions, name, matches!(value, Expr::Lambda(_)));
        self.choices.remove(name);
        if self.is_literal(value, env) {
            self.literal.insert(name.to_string());
        } else {
            self.literal.remove(name);
        }
    }

    /// `name op= value`: stays literal only if both sides are.
    pub fn augment(&mut self, name: &str, value: &Expr, env: &Env) {
        self.choices.remove(name);
        if !(self.literal.contains(name) && self.is_literal(value, env)) {
            self.literal.remove(name);
        }
    }

    /// `for target in iter`: a constant sequence gives the target its choices.
    pub fn loop_target(&mut self, target: &Expr, iter: &Expr, env: &Env) {
        let Expr::Name(n) = target else { return };
        let name = n.id.as_str();
        self.bound.insert(name.to_string());
        self.looked_up.remove(name);
        self.external.remove(name);
        self.functions.remove(name);
        self.literal.remove(name);
        self.choices.remove(name);
        let strings = match fold(iter, env) {
            Some(Value::Seq(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>(),
            Some(Value::Str(s)) => Some(s.chars().map(String::from).collect()),
            _ => None,
        };
        match strings {
            Some(strings) => {
                self.choices.insert(name.to_string(), strings);
            }
            None if self.is_literal(iter, env) => {
                self.literal.insert(name.to_string());
            }
            None => {}
        }
    }

    /// `name` now holds an interpreter object found by a walk (a frame from
    /// `traceback.walk_stack`), like the result of a computed lookup.
    pub fn mark_looked_up(&mut self, name: &str) {
        self.looked_up.insert(name.to_string());
    }

    /// `import name` was executed.
    pub fn import(&mut self, name: &str) {
        self.modules.insert(name.to_string());
    }

    /// Whether `name` is a module the program imported (and did not rebind).
    pub fn is_module(&self, name: &str) -> bool {
        self.modules.contains(name)
    }

    /// `def name(…)` was executed.
    pub fn define(&mut self, name: &str) {
        self.functions.insert(name.to_string());
        self.looked_up.remove(name);
        self.external.remove(name);
    }

    /// Whether `name` is one of the program's functions.
    pub fn is_function(&self, name: &str) -> bool {
        self.functions.contains(name)
    }

    /// Whether `name` holds a getter of a computed attribute name.
    pub fn is_getter(&self, name: &str) -> bool {
        self.getters.contains(name)
    }

    /// Whether `name` holds text read from outside the program.
    pub fn is_external(&self, name: &str) -> bool {
        self.external.contains(name)
    }

    /// Whether the program rebinds `name` somewhere (so it is not the builtin).
    pub fn is_bound(&self, name: &str) -> bool {
        self.bound.contains(name)
    }

    /// Whether `name` holds what a lookup by computed name returned.
    pub fn is_looked_up(&self, name: &str) -> bool {
        self.looked_up.contains(name)
    }

    /// The constant strings `e` may be, when it is a loop variable over constants.
    pub fn choices(&self, e: &Expr) -> Option<&[String]> {
        let Expr::Name(n) = e else { return None };
        self.choices.get(n.id.as_str()).map(Vec::as_slice)
    }

    /// Whether `e` is computed only from literals, literal-derived names and pure built-ins.
    pub fn is_literal(&self, e: &Expr, env: &Env) -> bool {
        match e {
            Expr::Constant(_) => true,
            Expr::Name(n) => {
                let id = n.id.as_str();
                env.contains_key(id) || self.literal.contains(id) || PURE_BUILTINS.contains(&id)
            }
            Expr::Attribute(a) => self.is_literal(&a.value, env),
            Expr::Call(c) => {
                self.is_literal(&c.func, env)
                    && c.args.iter().all(|a| self.is_literal(a, env))
                    && c.keywords.iter().all(|k| self.is_literal(&k.value, env))
            }
            Expr::BinOp(b) => self.is_literal(&b.left, env) && self.is_literal(&b.right, env),
            Expr::UnaryOp(u) => self.is_literal(&u.operand, env),
            Expr::JoinedStr(j) => j.values.iter().all(|v| self.is_literal(v, env)),
            Expr::FormattedValue(f) => self.is_literal(&f.value, env),
            Expr::List(l) => l.elts.iter().all(|v| self.is_literal(v, env)),
            Expr::Tuple(t) => t.elts.iter().all(|v| self.is_literal(v, env)),
            Expr::Subscript(s) => self.is_literal(&s.value, env) && self.is_literal(&s.slice, env),
            Expr::Slice(s) => [&s.lower, &s.upper, &s.step]
                .into_iter()
                .flatten()
                .all(|b| self.is_literal(b, env)),
            Expr::GeneratorExp(g) => self.comprehension(&g.elt, &g.generators, env),
            Expr::ListComp(g) => self.comprehension(&g.elt, &g.generators, env),
            _ => false,
        }
    }

    /// A comprehension over literal iterables whose element uses only them and its own targets.
    fn comprehension(&self, elt: &Expr, generators: &[ast::Comprehension], env: &Env) -> bool {
        let mut inner = Provenance {
            literal: self.literal.clone(),
            ..Provenance::default()
        };
        for g in generators {
            if !inner.is_literal(&g.iter, env) {
                return false;
            }
            let mut targets = Vec::new();
            collect_names(&g.target, &mut targets);
            inner.literal.extend(targets);
        }
        inner.is_literal(elt, env)
    }
}

fn collect_names(target: &Expr, out: &mut Vec<String>) {
    match target {
        Expr::Name(n) => out.push(n.id.to_string()),
        Expr::Tuple(t) => t.elts.iter().for_each(|e| collect_names(e, out)),
        Expr::List(l) => l.elts.iter().for_each(|e| collect_names(e, out)),
        _ => {}
    }
}

/// Names a loop body may assign: their values change from one pass to the
/// next, so no single folded constant describes them inside the loop.
pub(crate) fn assigned_in(body: &[Stmt], out: &mut Vec<String>) {
    for s in body {
        match s {
            Stmt::Assign(a) => a.targets.iter().for_each(|t| collect_names(t, out)),
            Stmt::AugAssign(a) => collect_names(&a.target, out),
            Stmt::AnnAssign(a) => collect_names(&a.target, out),
            Stmt::For(f) => {
                collect_names(&f.target, out);
                assigned_in(&f.body, out);
                assigned_in(&f.orelse, out);
            }
            Stmt::While(w) => {
                assigned_in(&w.body, out);
                assigned_in(&w.orelse, out);
            }
            Stmt::If(i) => {
                assigned_in(&i.body, out);
                assigned_in(&i.orelse, out);
            }
            Stmt::With(w) => {
                w.items
                    .iter()
                    .filter_map(|i| i.optional_vars.as_deref())
                    .for_each(|t| collect_names(t, out));
                assigned_in(&w.body, out);
            }
            Stmt::Try(t) => {
                assigned_in(&t.body, out);
                for ast::ExceptHandler::ExceptHandler(h) in &t.handlers {
                    assigned_in(&h.body, out);
                }
                assigned_in(&t.orelse, out);
                assigned_in(&t.finalbody, out);
            }
            Stmt::Match(m) => m.cases.iter().for_each(|c| assigned_in(&c.body, out)),
            _ => {}
        }
    }
}
