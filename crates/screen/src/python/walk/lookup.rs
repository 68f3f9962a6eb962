//! Lookups by computed name. `getattr(self, name)` on the program's own
//! objects is ordinary dispatch; the same call on the interpreter's objects
//! (builtins, literals, functions, what another computed lookup returned), or
//! with a name computed from literals alone, walks the interpreter with names
//! the screener cannot read (often read from stdin). This part of the walk
//! decides which is which.

use super::Walker;
use crate::facts::{FactKind, Heuristic, Pos};
use crate::python::fold::{Value, fold};
use rustpython_parser::ast::{self, Expr, Ranged, Stmt};

/// Builtins that are the interpreter's objects unless the program rebinds them.
#[rustfmt::skip]
const BUILTIN_OBJECTS: [&str; 40] = [
    "print", "object", "type", "exit", "quit", "help", "license", "credits", "copyright", "int",
    "str", "bytes", "bytearray", "float", "complex", "bool", "list", "dict", "tuple", "set",
    "frozenset", "len", "open", "id", "repr", "vars", "dir", "getattr", "setattr", "globals",
    "locals", "super", "input", "iter", "next", "map", "classmethod", "staticmethod", "property",
    "Exception",
];

/// Modules of pure functions and values: looking their names up by input
/// (`getattr(math, name)(x)`, a calculator) reaches nothing of the host.
#[rustfmt::skip]
const PURE_MODULES: [&str; 22] = [
    "math", "cmath", "statistics", "random", "string", "itertools", "heapq", "bisect",
    "fractions", "decimal", "datetime", "calendar", "colorsys", "unicodedata", "textwrap", "re",
    "struct", "operator", "collections", "array", "numbers", "time",
];

/// Calls that yield frames of the running program.
const FRAME_SOURCES: [&str; 4] = ["walk_stack", "walk_tb", "get_stack", "stack"];

/// Calls that build a container from their argument, and methods that take an item out.
const CONTAINER_BUILDERS: [&str; 8] = [
    "collections.deque",
    "deque",
    "list",
    "tuple",
    "set",
    "iter",
    "sorted",
    "reversed",
];
const TAKE_METHODS: [&str; 5] = ["pop", "popleft", "get", "copy", "__getitem__"];

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
            e if written_literal(e) => true,
            Expr::Name(n) => {
                let id = n.id.as_str();
                self.provenance.is_looked_up(id)
                    || self.provenance.is_function(id)
                    || self.host_module(id)
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
            Expr::Call(c) if self.yields_interpreter_objects(e) => true,
            // `next(it)`, `deque([print])`, `queue.popleft()` on such a container.
            Expr::Call(c) if self.takes_from_interpreter(c) => true,
            Expr::Subscript(s) => self.interpreter_object(&s.value) || self.lookup_result(e),
            Expr::BinOp(_) => self.holds_interpreter(e),
            _ => self.lookup_result(e),
        }
    }

    /// An imported module that reaches the host (not one of [`PURE_MODULES`]).
    fn host_module(&self, id: &str) -> bool {
        if !self.provenance.is_module(id) {
            return false;
        }
        let path = self
            .aliases
            .get(id)
            .and_then(|a| a.first())
            .map_or(id, String::as_str);
        let top = path.split('.').next().unwrap_or(path);
        !PURE_MODULES.contains(&top)
    }

    /// Calls that yield the running program's frames: `traceback.walk_stack`,
    /// `traceback.walk_tb`, `task.get_stack()`.
    pub(super) fn yields_interpreter_objects(&self, e: &Expr) -> bool {
        let Expr::Call(c) = e else { return false };
        let name = match c.func.as_ref() {
            Expr::Attribute(a) => a.attr.as_str(),
            Expr::Name(n) => n.id.as_str(),
            _ => return false,
        };
        FRAME_SOURCES.contains(&name)
            && (name != "stack" || self.paths(&c.func).iter().any(|p| p == "inspect.stack"))
    }

    fn takes_from_interpreter(&self, c: &ast::ExprCall) -> bool {
        if let Expr::Attribute(a) = c.func.as_ref()
            && TAKE_METHODS.contains(&a.attr.as_str())
        {
            return self.interpreter_binding(&a.value);
        }
        let builds = self
            .paths(&c.func)
            .iter()
            .any(|p| CONTAINER_BUILDERS.contains(&p.as_str()) || p == "next");
        builds
            && c.args.first().is_some_and(|a| {
                self.holds_interpreter(a)
                    || self.interpreter_binding(a)
                    || self.yields_interpreter_objects(a)
            })
    }

    /// A container literal (or a repetition of one) holding an interpreter
    /// object that is not itself a literal: `[print]`, `[sys, gc] * 2`.
    pub(super) fn holds_interpreter(&self, e: &Expr) -> bool {
        match e {
            Expr::List(l) => l.elts.iter().any(|x| self.interpreter_binding(x)),
            Expr::Tuple(t) => t.elts.iter().any(|x| self.interpreter_binding(x)),
            Expr::Set(s) => s.elts.iter().any(|x| self.interpreter_binding(x)),
            Expr::BinOp(b) => self.holds_interpreter(&b.left) || self.holds_interpreter(&b.right),
            _ => false,
        }
    }

    /// `vars(sys)` / `gc.__dict__` (`owner` is `sys` / `gc`): the whole
    /// namespace of a module that reaches the host, read or dispatched
    /// through by names the screener does not see.
    pub(super) fn host_namespace(&mut self, owner: &Expr, pos: Pos) {
        if matches!(owner, Expr::Name(n) if self.host_module(n.id.as_str())) {
            self.interpreter_lookup(pos);
        }
    }

    /// An interpreter object that is not written as a literal: what a name bound
    /// to it stands for (`x = type(print)`); `stack = []` stays the program's own list.
    pub(super) fn interpreter_binding(&self, e: &Expr) -> bool {
        (!written_literal(e) && self.interpreter_object(e)) || self.holds_interpreter(e)
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
        // `ns[a].__dict__[b]`: a namespace of what a namespace held, two levels deep.
        let nested = matches!(s.value.as_ref(), Expr::Attribute(a) if a.attr.as_str() == "__dict__" && self.lookup_result(&a.value));
        if self.computed(&s.slice) && ((hidden_key && self.lookup_result(&s.value)) || nested) {
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
        self.getter_function_call(c, pos);
        if c.args.len() == 1 && self.paths(&c.func).iter().any(|p| p == "vars") {
            self.host_namespace(&c.args[0], pos);
        }
    }

    /// Records a function that returns `getattr(param, param)`: calling it is a
    /// computed lookup on its argument at that position.
    pub(super) fn getter_function(&mut self, f: &ast::StmtFunctionDef) {
        let params: Vec<&str> = f
            .args
            .posonlyargs
            .iter()
            .chain(&f.args.args)
            .map(|a| a.def.arg.as_str())
            .collect();
        let index = f.body.iter().find_map(|s| {
            let value = match s {
                Stmt::Return(r) => r.value.as_deref()?,
                Stmt::Assign(a) => a.value.as_ref(),
                Stmt::Expr(e) => e.value.as_ref(),
                _ => return None,
            };
            let Expr::Call(c) = value else { return None };
            let is_getattr = matches!(c.func.as_ref(), Expr::Name(n) if n.id.as_str() == "getattr");
            match (is_getattr, c.args.first(), c.args.get(1)) {
                (true, Some(Expr::Name(o)), Some(Expr::Name(k)))
                    if params.contains(&k.id.as_str()) =>
                {
                    params.iter().position(|p| *p == o.id.as_str())
                }
                _ => None,
            }
        });
        match index {
            Some(i) => self.getter_functions.insert(f.name.to_string(), i),
            None => self.getter_functions.remove(f.name.as_str()),
        };
    }

    /// `resolve(print, name)` where `resolve` returns `getattr(obj, name)`.
    fn getter_function_call(&mut self, c: &ast::ExprCall, pos: Pos) {
        let Expr::Name(f) = c.func.as_ref() else {
            return;
        };
        let Some(&index) = self.getter_functions.get(f.id.as_str()) else {
            return;
        };
        let object = c.args.get(index);
        let nested = object.is_some_and(|o| matches!(o, Expr::Call(inner) if matches!(inner.func.as_ref(), Expr::Name(g) if g.id == f.id)));
        if nested || object.is_some_and(|o| self.interpreter_object(o)) {
            self.interpreter_lookup(pos);
        }
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
            return self.interpreter_lookup(pos);
        }
        // `sorted([sys, gc], key=attrgetter(name))`: a computed getter handed
        // over together with interpreter objects to apply it to.
        let getter_given = c
            .args
            .iter()
            .chain(c.keywords.iter().map(|k| &k.value))
            .any(|a| match a {
                Expr::Name(n) => self.provenance.is_getter(n.id.as_str()),
                other => self.computed_getter(other),
            });
        let objects = c.args.iter().any(|a| self.interpreter_binding(a));
        if getter_given && objects {
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

/// A value written out in the source: a constant, a display, an f-string, a lambda.
fn written_literal(e: &Expr) -> bool {
    matches!(
        e,
        Expr::Constant(_)
            | Expr::List(_)
            | Expr::Tuple(_)
            | Expr::Dict(_)
            | Expr::Set(_)
            | Expr::JoinedStr(_)
            | Expr::Lambda(_)
    )
}
