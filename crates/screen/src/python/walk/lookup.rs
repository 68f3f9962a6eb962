//! Lookups by computed name. `getattr(self, name)` on the program's own
//! objects is ordinary dispatch; the same call on the interpreter's objects
//! (builtins, literals, functions, what another computed lookup returned), or
//! with a name computed from literals alone, walks the interpreter with names
//! the screener cannot read (often read from stdin). This part of the walk
//! decides which is which.

use super::Walker;
use crate::facts::{FactKind, Heuristic, Pos};
use crate::python::fold::{Value, fold};
use rustpython_parser::ast::{self, Expr, Ranged};

/// Builtins that are the interpreter's objects unless the program rebinds them.
#[rustfmt::skip]
const BUILTIN_OBJECTS: [&str; 40] = [
    "print", "object", "type", "exit", "quit", "help", "license", "credits", "copyright", "int",
    "str", "bytes", "bytearray", "float", "complex", "bool", "list", "dict", "tuple", "set",
    "frozenset", "len", "open", "id", "repr", "vars", "dir", "getattr", "setattr", "globals",
    "locals", "super", "input", "iter", "next", "map", "classmethod", "staticmethod", "property",
    "Exception",
];

/// Methods that return text read from outside the program.
const READERS: [&str; 4] = ["readline", "readlines", "read", "getline"];

impl Walker<'_> {
    /// An expression naming an attribute of `target` (when known): constant,
    /// one of a loop's constants, or computed.
    pub(super) fn attribute_name(&mut self, name: Option<&Expr>, target: Option<&Expr>, pos: Pos) {
        let Some(name) = name else {
            return self.push(FactKind::Heuristic(Heuristic::DynamicAttribute, 1), pos);
        };
        let constants: Option<Vec<String>> = match fold(name, &self.env) {
            Some(Value::Str(attr)) => Some(attr.split('.').map(str::to_string).collect()),
            _ => self.provenance.choices(name).map(<[String]>::to_vec),
        };
        if let Some(attrs) = constants {
            // `setattr(sys, "excepthook", f)` names `sys.excepthook`.
            let owners = target.map(|t| self.paths(t)).unwrap_or_default();
            for attr in attrs {
                for owner in &owners {
                    self.push(FactKind::Name(format!("{owner}.{attr}")), pos);
                }
                self.push(FactKind::Attribute(attr), pos);
            }
            return;
        }
        self.push(FactKind::Heuristic(Heuristic::DynamicAttribute, 1), pos);
        if self.provenance.is_literal(name, &self.env) {
            self.push(FactKind::Heuristic(Heuristic::ObfuscatedName, 1), pos);
        }
        if target.is_some_and(|t| self.interpreter_object(t)) {
            self.interpreter_lookup(pos);
        }
    }

    fn interpreter_lookup(&mut self, pos: Pos) {
        self.push(
            FactKind::Heuristic(Heuristic::DynamicInterpreterAttribute, 1),
            pos,
        );
    }

    /// Whether `e` is the interpreter's own object rather than one the program
    /// made: computed lookups on those walk the interpreter, not the program.
    fn interpreter_object(&self, e: &Expr) -> bool {
        match e {
            Expr::Constant(_)
            | Expr::List(_)
            | Expr::Tuple(_)
            | Expr::Dict(_)
            | Expr::Set(_)
            | Expr::JoinedStr(_)
            | Expr::Lambda(_) => true,
            Expr::Name(n) => {
                let id = n.id.as_str();
                self.provenance.is_looked_up(id)
                    || self.provenance.is_function(id)
                    || (BUILTIN_OBJECTS.contains(&id)
                        && !self.provenance.is_bound(id)
                        && !self.shadows.hides(id, n.range().start().to_usize()))
            }
            Expr::Attribute(a) => self.interpreter_object(&a.value),
            // `type(print)`, `type(1)`: the class of an interpreter object is one too.
            Expr::Call(c)
                if c.args.len() == 1 && self.paths(&c.func).iter().any(|p| p == "type") =>
            {
                self.interpreter_object(&c.args[0])
            }
            _ => self.lookup_result(e),
        }
    }

    /// An interpreter object that is not written as a literal: what a name bound
    /// to it stands for (`x = type(print)`); `stack = []` stays the program's own list.
    pub(super) fn interpreter_binding(&self, e: &Expr) -> bool {
        let literal = matches!(
            e,
            Expr::Constant(_)
                | Expr::List(_)
                | Expr::Tuple(_)
                | Expr::Dict(_)
                | Expr::Set(_)
                | Expr::JoinedStr(_)
                | Expr::Lambda(_)
        );
        !literal && self.interpreter_object(e)
    }

    /// `attrgetter(name)` / `methodcaller(name)` with a computed name.
    pub(super) fn computed_getter(&self, e: &Expr) -> bool {
        let Expr::Call(getter) = e else { return false };
        let is_getter = self
            .paths(&getter.func)
            .iter()
            .any(|p| matches!(p.as_str(), "operator.attrgetter" | "operator.methodcaller"));
        is_getter && getter.args.first().is_some_and(|n| self.computed(n))
    }

    /// What a computed lookup returned: `getattr(o, name)`, a name bound to it,
    /// or an item or attribute of one.
    /// Namespace dictionaries (`globals()`, `vars(o)`, `o.__dict__`) count:
    /// their items are whatever the program or the interpreter bound.
    pub(super) fn lookup_result(&self, e: &Expr) -> bool {
        match e {
            Expr::Name(n) => self.provenance.is_looked_up(n.id.as_str()),
            Expr::Subscript(s) => self.lookup_result(&s.value),
            Expr::Attribute(a) => self.is_namespace(e) || self.lookup_result(&a.value),
            Expr::Call(_) => self.is_dynamic_lookup(e) || self.is_namespace(e),
            _ => false,
        }
    }

    /// `getattr(o, name)` with a name that is neither constant nor a loop's constant.
    fn is_dynamic_lookup(&self, e: &Expr) -> bool {
        let Expr::Call(c) = e else { return false };
        let Some(name) = c.args.get(1) else {
            return false;
        };
        self.paths(&c.func).iter().any(|p| p == "getattr") && self.computed(name)
    }

    fn computed(&self, name: &Expr) -> bool {
        fold(name, &self.env).is_none() && self.provenance.choices(name).is_none()
    }

    /// `lookup[key]` with a computed key on what a computed lookup returned:
    /// `getattr(f, a)[b]` reads `f.__builtins__[…]` with names from stdin.
    /// Keys from input or literals only: `getattr(self, field)[i]` is a list index.
    pub(super) fn computed_subscript(&mut self, s: &ast::ExprSubscript, pos: Pos) {
        let hidden_key = self.external(&s.slice) || self.provenance.is_literal(&s.slice, &self.env);
        if self.computed(&s.slice) && hidden_key && self.lookup_result(&s.value) {
            self.interpreter_lookup(pos);
        }
    }

    /// Call-shaped lookups: `attrgetter(name)(o)`, `o.__getattribute__(name)`,
    /// `object.__getattribute__(o, name)`, `o.__setattr__(name, v)`, and
    /// `template.format(o)` with a template read from input.
    pub(super) fn call_lookups(&mut self, c: &ast::ExprCall, pos: Pos) {
        self.applied_getter(c, pos);
        self.dunder_lookup(c, pos);
        self.input_format(c, pos);
    }

    /// `attrgetter(name)(o)`, or `g(o)` with `g` bound to such a getter, and
    /// `partial(getattr, o)` / `reduce(getattr, names, o)`: `getattr` handed
    /// over together with an interpreter object.
    fn applied_getter(&mut self, c: &ast::ExprCall, pos: Pos) {
        let getter = match c.func.as_ref() {
            Expr::Name(n) => self.provenance.is_getter(n.id.as_str()),
            f => self.computed_getter(f),
        };
        // A getter's name may be a dotted path (`attrgetter("a.b.c")`): on a
        // module it walks as far as input says.
        let on_interpreter = |w: &Self, t: Option<&Expr>| {
            t.is_some_and(|t| w.interpreter_object(t) || w.module_root(t))
        };
        if getter && on_interpreter(self, c.args.first()) {
            return self.interpreter_lookup(pos);
        }
        let hands_over_getattr = c.args.iter().any(|a| {
            matches!(a, Expr::Name(n) if n.id.as_str() == "getattr" && !self.provenance.is_bound("getattr"))
        });
        let with_object = c.args.iter().any(|a| {
            !matches!(a, Expr::Name(n) if n.id.as_str() == "getattr") && self.interpreter_binding(a)
        });
        if hands_over_getattr && with_object {
            self.interpreter_lookup(pos);
        }
    }

    fn dunder_lookup(&mut self, c: &ast::ExprCall, pos: Pos) {
        let Expr::Attribute(a) = c.func.as_ref() else {
            return;
        };
        let from_end = match a.attr.as_str() {
            "__getattribute__" | "__getattr__" | "__delattr__" => 1,
            "__setattr__" => 2,
            _ => return,
        };
        let index = c.args.len().checked_sub(from_end);
        let name = index.and_then(|i| c.args.get(i));
        // Unbound form (`object.__getattribute__(o, name)`): the object is the first argument.
        let target = match index {
            Some(i) if i > 0 => c.args.first(),
            _ => Some(a.value.as_ref()),
        };
        self.attribute_name(name, target, pos);
    }

    /// `input().format(print)`: a format string from input reads attributes
    /// and items of its arguments (`{0.__self__}`), names the screener never sees.
    fn input_format(&mut self, c: &ast::ExprCall, pos: Pos) {
        let Expr::Attribute(a) = c.func.as_ref() else {
            return;
        };
        let has_args = !c.args.is_empty() || !c.keywords.is_empty();
        if matches!(a.attr.as_str(), "format" | "format_map") && has_args && self.external(&a.value)
        {
            self.interpreter_lookup(pos);
        }
    }

    /// Whether `e` is text read from stdin, a file or the command line.
    pub(super) fn external(&self, e: &Expr) -> bool {
        match e {
            Expr::Name(n) => self.provenance.is_external(n.id.as_str()),
            Expr::Subscript(s) => self.external(&s.value),
            Expr::Attribute(a) => {
                self.paths(e).iter().any(|p| p == "sys.argv") || self.external(&a.value)
            }
            Expr::Call(c) => match c.func.as_ref() {
                Expr::Name(_) => self.paths(&c.func).iter().any(|p| p == "input"),
                Expr::Attribute(a) => READERS.contains(&a.attr.as_str()) || self.external(&a.value),
                _ => false,
            },
            _ => false,
        }
    }
}
