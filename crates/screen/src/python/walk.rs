//! The syntax-tree walk: one exhaustive pass over every statement and
//! expression that records facts (imports, resolved names and calls,
//! attributes, folded strings, heuristics). Matches are exhaustive so that a
//! new node kind is a compile error, not a blind spot.

use super::fold::{Env, Value, fold};
use super::provenance::{Origin, Provenance, assigned_in};
use super::shadow::Shadows;
use crate::Map;
use crate::facts::{Anomaly, Fact, FactKind, Heuristic, Pos};
use crate::position::LineIndex;
use rustpython_parser::ast::{self, Constant, Expr, ExprContext, Ranged, Stmt};
use std::borrow::Cow;
use std::time::Instant;
use unicode_normalization::UnicodeNormalization;

mod calls;
mod files;
mod format;
mod lookup;
mod loops;
mod paths;
mod runtime;

use format::attribute_path;
use paths::{dotted_reference, normalise, normalise_in_place, reached_module};

/// Most candidate paths kept per expression, so alias fan-out stays small.
const MAX_PATHS: usize = 8;
/// Calls that import the module named by their first argument.
const IMPORTERS: [&str; 4] = [
    "__import__",
    "importlib.import_module",
    "importlib.__import__",
    "imp.load_module",
];
/// Calls whose second argument names an attribute.
const ATTR_FUNCS: [&str; 4] = ["getattr", "setattr", "delattr", "hasattr"];
/// Attributes that expose a namespace dictionary.
const NAMESPACE_ATTRS: [&str; 6] = [
    "__dict__",
    "__globals__",
    "f_globals",
    "f_builtins",
    "f_locals",
    "__builtins__",
];

/// Walks one module's statements and collects facts.
pub(crate) struct Walker<'a> {
    text: &'a str,
    lines: &'a LineIndex,
    /// When set, every fact is reported here (code found inside a string).
    fixed: Option<Pos>,
    aliases: Map<String, Vec<String>>,
    env: Env,
    pub facts: Vec<Fact>,
    deadline: Instant,
    ticks: u32,
    /// The name being walked is the callee of a call (not a value handed on).
    callee: bool,
    /// The deadline passed and the walk stopped early.
    pub expired: bool,
    /// The program's own module-level definitions.
    shadows: Shadows,
    /// Which local names hold literal-derived values or constant choices.
    provenance: Provenance,
    /// Classes the program defines.
    classes: crate::Set<String>,
    /// Names last bound to a literal container (`config = {...}`).
    containers: crate::Set<String>,
    /// Whether the program reads stdin, arguments or files (decided once, on demand).
    reads_input: std::cell::OnceCell<bool>,
    /// The program's functions that return `getattr(param, param)`, with the
    /// object parameter's position.
    getter_functions: Map<String, usize>,
}

impl<'a> Walker<'a> {
    pub fn new(text: &'a str, lines: &'a LineIndex, fixed: Option<Pos>, deadline: Instant) -> Self {
        Walker {
            text,
            lines,
            fixed,
            aliases: Map::default(),
            env: Env::default(),
            facts: Vec::new(),
            deadline,
            ticks: 0,
            callee: false,
            expired: false,
            shadows: Shadows::default(),
            provenance: Provenance::default(),
            classes: crate::Set::default(),
            containers: crate::Set::default(),
            reads_input: std::cell::OnceCell::new(),
            getter_functions: Map::default(),
        }
    }

    /// Walks a whole module, knowing which names it defines for itself.
    pub fn module(&mut self, body: &[Stmt]) {
        self.shadows = Shadows::of(self.text, body);
        self.body(body);
    }

    /// True once the deadline has passed; the clock is read every 256 nodes.
    fn out_of_time(&mut self) -> bool {
        self.ticks = self.ticks.wrapping_add(1);
        if !self.expired && self.ticks.is_multiple_of(256) {
            self.expired = Instant::now() >= self.deadline;
        }
        self.expired
    }

    fn pos(&self, node: &impl Ranged) -> Pos {
        self.fixed
            .unwrap_or_else(|| self.lines.pos(self.text, node.range().start().to_usize()))
    }

    fn push(&mut self, kind: FactKind, pos: Pos) {
        self.facts.push(Fact { kind, pos });
    }

    /// An identifier as CPython sees it: NFKC-normalised.
    fn ident<'s>(&mut self, raw: &'s str, pos: Pos) -> Cow<'s, str> {
        if raw.is_ascii() {
            return Cow::Borrowed(raw);
        }
        let norm: String = raw.nfkc().collect();
        if norm != raw {
            self.push(FactKind::Anomaly(Anomaly::ConfusableIdentifier), pos);
            return Cow::Owned(norm);
        }
        Cow::Borrowed(raw)
    }

    pub fn body(&mut self, stmts: &[Stmt]) {
        stmts.iter().for_each(|s| self.stmt(s));
    }

    fn exprs(&mut self, exprs: &[Expr]) {
        exprs.iter().for_each(|e| self.expr(e));
    }

    fn opt(&mut self, e: &Option<Box<Expr>>) {
        if let Some(e) = e {
            self.expr(e);
        }
    }

    fn stmt(&mut self, s: &Stmt) {
        if self.out_of_time() {
            return;
        }
        match s {
            Stmt::FunctionDef(f) => {
                self.provenance.define(f.name.as_str());
                self.getter_function(f);
                self.signature(&f.decorator_list, &f.args, &f.returns, &f.type_params);
                self.body(&f.body);
            }
            Stmt::AsyncFunctionDef(f) => {
                self.provenance.define(f.name.as_str());
                self.signature(&f.decorator_list, &f.args, &f.returns, &f.type_params);
                self.body(&f.body);
            }
            Stmt::ClassDef(c) => self.class(c),
            Stmt::Return(r) => self.opt(&r.value),
            Stmt::Delete(d) => self.exprs(&d.targets),
            Stmt::Assign(a) => self.assign(&a.targets, Some(&a.value)),
            Stmt::TypeAlias(t) => {
                self.type_params(&t.type_params);
                self.each(&[&t.name, &t.value]);
            }
            Stmt::AugAssign(a) => {
                self.each(&[&a.target, &a.value]);
                let pos = self.pos(a);
                self.code_attribute_store(&a.target, &a.value, pos);
                if let Expr::Name(n) = a.target.as_ref() {
                    // Loops run it many times: the name no longer holds one constant.
                    self.provenance.augment(n.id.as_str(), &a.value, &self.env);
                    self.env.remove(n.id.as_str());
                }
            }
            Stmt::AnnAssign(a) => {
                self.expr(&a.annotation);
                self.assign(std::slice::from_ref(a.target.as_ref()), a.value.as_deref());
            }
            Stmt::For(f) => self.for_loop(&f.target, &f.iter, &f.body, &f.orelse),
            Stmt::AsyncFor(f) => self.for_loop(&f.target, &f.iter, &f.body, &f.orelse),
            Stmt::While(w) => {
                self.infinite_loop(w);
                self.forget_loop_assignments(&w.body);
                self.block(&w.test, &w.body, &w.orelse);
            }
            Stmt::If(i) => self.block(&i.test, &i.body, &i.orelse),
            Stmt::With(w) => self.with(&w.items, &w.body),
            Stmt::AsyncWith(w) => self.with(&w.items, &w.body),
            Stmt::Match(m) => self.match_stmt(m),
            Stmt::Raise(r) => {
                self.opt(&r.exc);
                self.opt(&r.cause);
            }
            Stmt::Try(t) => self.try_stmt(&t.body, &t.handlers, &t.orelse, &t.finalbody),
            Stmt::TryStar(t) => self.try_stmt(&t.body, &t.handlers, &t.orelse, &t.finalbody),
            Stmt::Assert(a) => {
                self.expr(&a.test);
                self.opt(&a.msg);
            }
            Stmt::Import(i) => self.import(i),
            Stmt::ImportFrom(i) => self.import_from(i),
            Stmt::Expr(e) => self.expr(&e.value),
            Stmt::Global(_)
            | Stmt::Nonlocal(_)
            | Stmt::Pass(_)
            | Stmt::Break(_)
            | Stmt::Continue(_) => {}
        }
    }

    fn signature(
        &mut self,
        decorators: &[Expr],
        args: &ast::Arguments,
        returns: &Option<Box<Expr>>,
        type_params: &[ast::TypeParam],
    ) {
        self.exprs(decorators);
        self.arguments(args);
        self.opt(returns);
        self.type_params(type_params);
    }

    fn class(&mut self, c: &ast::StmtClassDef) {
        self.classes.insert(c.name.to_string());
        self.exprs(&c.decorator_list);
        self.exprs(&c.bases);
        self.keywords(&c.keywords);
        self.type_params(&c.type_params);
        self.body(&c.body);
    }

    /// `targets = value`: walk both, then record what the names now stand for.
    fn assign(&mut self, targets: &[Expr], value: Option<&Expr>) {
        if let Some(v) = value {
            self.expr(v);
        }
        self.exprs(targets);
        if let Some(v) = value {
            targets.iter().for_each(|t| {
                let pos = self.pos(t);
                self.code_attribute_store(t, v, pos);
                self.bind(t, v);
            });
        }
    }

    fn block(&mut self, test: &Expr, body: &[Stmt], orelse: &[Stmt]) {
        self.expr(test);
        self.body(body);
        self.body(orelse);
    }

    fn match_stmt(&mut self, m: &ast::StmtMatch) {
        self.expr(&m.subject);
        for case in &m.cases {
            self.pattern(&case.pattern);
            self.opt(&case.guard);
            self.body(&case.body);
        }
    }

    fn each(&mut self, exprs: &[&Expr]) {
        exprs.iter().for_each(|e| self.expr(e));
    }

    fn arguments(&mut self, args: &ast::Arguments) {
        let with_defaults = args
            .posonlyargs
            .iter()
            .chain(&args.args)
            .chain(&args.kwonlyargs);
        for a in with_defaults {
            self.opt(&a.def.annotation);
            self.opt(&a.default);
        }
        for a in args.vararg.iter().chain(&args.kwarg) {
            self.opt(&a.annotation);
        }
    }

    fn type_params(&mut self, tps: &[ast::TypeParam]) {
        for tp in tps {
            if let ast::TypeParam::TypeVar(t) = tp {
                self.opt(&t.bound);
            }
        }
    }

    fn keywords(&mut self, kws: &[ast::Keyword]) {
        kws.iter().for_each(|k| self.expr(&k.value));
    }

    fn for_loop(&mut self, target: &Expr, iter: &Expr, body: &[Stmt], orelse: &[Stmt]) {
        self.expr(target);
        self.expr(iter);
        self.provenance.loop_target(target, iter, &self.env);
        if let Expr::Name(n) = target {
            self.env.remove(n.id.as_str());
        }
        if self.yields_interpreter_objects(iter) {
            // `for frame, _ in traceback.walk_stack(None)`: the first name is a frame.
            let first = match target {
                Expr::Tuple(t) => t.elts.first(),
                other => Some(other),
            };
            if let Some(Expr::Name(n)) = first {
                self.provenance.mark_looked_up(n.id.as_str());
            }
        }
        self.forget_loop_assignments(body);
        self.body(body);
        self.body(orelse);
    }

    /// Names assigned in a loop hold no single constant there (`n = n + chr(c)`).
    fn forget_loop_assignments(&mut self, body: &[Stmt]) {
        let mut names = Vec::new();
        assigned_in(body, &mut names);
        names.iter().for_each(|n| {
            self.env.remove(n);
        });
    }

    fn with(&mut self, items: &[ast::WithItem], body: &[Stmt]) {
        for item in items {
            self.expr(&item.context_expr);
            self.opt(&item.optional_vars);
        }
        self.body(body);
    }

    fn try_stmt(
        &mut self,
        body: &[Stmt],
        handlers: &[ast::ExceptHandler],
        orelse: &[Stmt],
        finalbody: &[Stmt],
    ) {
        self.body(body);
        for ast::ExceptHandler::ExceptHandler(h) in handlers {
            self.opt(&h.type_);
            self.body(&h.body);
        }
        self.body(orelse);
        self.body(finalbody);
    }

    fn pattern(&mut self, p: &ast::Pattern) {
        match p {
            ast::Pattern::MatchValue(v) => self.expr(&v.value),
            ast::Pattern::MatchSingleton(_) | ast::Pattern::MatchStar(_) => {}
            ast::Pattern::MatchSequence(s) => s.patterns.iter().for_each(|p| self.pattern(p)),
            ast::Pattern::MatchMapping(m) => {
                self.exprs(&m.keys);
                m.patterns.iter().for_each(|p| self.pattern(p));
            }
            ast::Pattern::MatchClass(c) => {
                // `case FrameType(f_globals=g)` reads the attribute `f_globals`.
                let pos = self.pos(c);
                for attr in &c.kwd_attrs {
                    self.push(FactKind::Attribute(attr.to_string()), pos);
                }
                self.expr(&c.cls);
                c.patterns
                    .iter()
                    .chain(&c.kwd_patterns)
                    .for_each(|p| self.pattern(p));
            }
            ast::Pattern::MatchAs(a) => {
                if let Some(p) = &a.pattern {
                    self.pattern(p);
                }
            }
            ast::Pattern::MatchOr(o) => o.patterns.iter().for_each(|p| self.pattern(p)),
        }
    }

    fn import(&mut self, i: &ast::StmtImport) {
        let pos = self.pos(i);
        for alias in &i.names {
            let module = self.ident(alias.name.as_str(), pos).into_owned();
            self.push(FactKind::Import(module.clone()), pos);
            match &alias.asname {
                Some(as_name) => {
                    let as_name = self.ident(as_name.as_str(), pos).into_owned();
                    self.provenance.import(&as_name);
                    self.alias(as_name, module);
                }
                None => {
                    let top = module.split('.').next().unwrap_or(&module).to_string();
                    self.provenance.import(&top);
                    self.alias(top.clone(), top);
                }
            }
        }
    }

    fn import_from(&mut self, i: &ast::StmtImportFrom) {
        let pos = self.pos(i);
        let Some(module) = &i.module else { return };
        let module = self.ident(module.as_str(), pos).into_owned();
        self.push(FactKind::Import(module.clone()), pos);
        for alias in &i.names {
            let name = self.ident(alias.name.as_str(), pos).into_owned();
            if name == "*" {
                continue;
            }
            let full = format!("{module}.{name}");
            // `from m import n` reads the attribute `n` of `m` (`from random import _os`).
            self.push(FactKind::Attribute(name.clone()), pos);
            if let Some(reached) = reached_module(&name) {
                // `from asyncio.unix_events import signal` imports `signal`.
                self.push(FactKind::Import(reached.to_string()), pos);
            }
            self.push(FactKind::Import(full.clone()), pos);
            self.push(FactKind::Name(full.clone()), pos);
            let bound = match &alias.asname {
                Some(a) => self.ident(a.as_str(), pos).into_owned(),
                None => name,
            };
            self.alias(bound, full);
        }
    }

    fn alias(&mut self, name: String, path: String) {
        let entry = self.aliases.entry(name).or_default();
        if !entry.contains(&path) && entry.len() < MAX_PATHS {
            entry.push(path);
        }
    }

    /// Records what `target = value` binds: an alias for a resolvable name, a constant for folding.
    fn bind(&mut self, target: &Expr, value: &Expr) {
        let Expr::Name(n) = target else { return };
        let name = n.id.to_string();
        self.classes.remove(&name);
        if matches!(
            value,
            Expr::Dict(_) | Expr::List(_) | Expr::Tuple(_) | Expr::Set(_)
        ) {
            self.containers.insert(name.clone());
        } else {
            self.containers.remove(&name);
        }
        for path in self.paths(value) {
            self.alias(name.clone(), path);
        }
        match fold(value, &self.env) {
            Some(v) => self.env.insert(name.clone(), v),
            None => self.env.remove(&name),
        };
        let origin = Origin {
            looked_up: self.lookup_result(value) || self.interpreter_binding(value),
            external: self.external(value),
            getter: self.computed_getter(value),
        };
        self.provenance.bind(&name, value, &self.env, origin);
    }

    fn expr(&mut self, e: &Expr) {
        if self.out_of_time() {
            return;
        }
        match e {
            Expr::Constant(c) => self.constant(&c.value, self.pos(c)),
            Expr::Name(n) => self.name(n),
            Expr::Attribute(a) => self.attribute(a),
            Expr::Call(c) => self.call(e, c),
            Expr::Subscript(s) => self.subscript(e, s),
            Expr::BinOp(b) => self.bin_op(e, b),
            Expr::JoinedStr(j) => {
                self.folded(e);
                self.exprs(&j.values);
            }
            Expr::BoolOp(b) => self.exprs(&b.values),
            Expr::NamedExpr(n) => {
                self.assign(std::slice::from_ref(n.target.as_ref()), Some(&n.value))
            }
            Expr::UnaryOp(u) => self.expr(&u.operand),
            Expr::Lambda(l) => {
                self.arguments(&l.args);
                self.expr(&l.body);
            }
            Expr::IfExp(i) => self.each(&[&i.test, &i.body, &i.orelse]),
            Expr::Dict(d) => {
                let pos = self.pos(d);
                self.code_attribute_keys(d, pos);
                d.keys.iter().flatten().for_each(|k| self.expr(k));
                self.exprs(&d.values);
            }
            Expr::Set(s) => self.exprs(&s.elts),
            Expr::List(l) => self.exprs(&l.elts),
            Expr::Tuple(t) => self.exprs(&t.elts),
            Expr::ListComp(c) => self.comprehension(&[&c.elt], &c.generators),
            Expr::SetComp(c) => self.comprehension(&[&c.elt], &c.generators),
            Expr::GeneratorExp(c) => self.comprehension(&[&c.elt], &c.generators),
            Expr::DictComp(c) => self.comprehension(&[&c.key, &c.value], &c.generators),
            Expr::Await(a) => self.expr(&a.value),
            Expr::Yield(y) => self.opt(&y.value),
            Expr::YieldFrom(y) => self.expr(&y.value),
            Expr::Compare(c) => {
                self.expr(&c.left);
                self.exprs(&c.comparators);
            }
            Expr::FormattedValue(f) => {
                if self.bare_module(&f.value) {
                    let pos = self.pos(f);
                    self.push(FactKind::Attribute(MODULE_PATH.to_string()), pos);
                }
                self.expr(&f.value);
                self.opt(&f.format_spec);
            }
            Expr::Starred(s) => self.expr(&s.value),
            Expr::Slice(s) => [&s.lower, &s.upper, &s.step]
                .into_iter()
                .for_each(|b| self.opt(b)),
        }
    }

    fn comprehension(&mut self, elts: &[&Expr], generators: &[ast::Comprehension]) {
        for g in generators {
            self.expr(&g.iter);
            self.expr(&g.target);
            self.exprs(&g.ifs);
        }
        elts.iter().for_each(|e| self.expr(e));
    }

    fn constant(&mut self, c: &Constant, pos: Pos) {
        match c {
            Constant::Str(s) => self.string(s.clone(), pos),
            Constant::Bytes(b) => {
                self.push(FactKind::Str(String::from_utf8_lossy(b).into_owned()), pos)
            }
            Constant::Tuple(items) => items.iter().for_each(|i| self.constant(i, pos)),
            _ => {}
        }
    }

    /// A string that only folding reveals is a fact of its own.
    fn folded(&mut self, e: &Expr) {
        let text = match fold(e, &self.env) {
            Some(Value::Str(s)) => s,
            Some(Value::Bytes(b)) => String::from_utf8_lossy(&b).into_owned(),
            _ => return,
        };
        let pos = self.pos(e);
        self.string(text, pos);
    }

    /// A string constant; one spelling an attribute path through a dunder
    /// (`"0.__init__.__self__"` for `Formatter.get_field`, `attrgetter`, format
    /// fields) also counts as reading each attribute on the path.
    fn string(&mut self, text: String, pos: Pos) {
        if let Some(parts) = attribute_path(&text) {
            parts
                .into_iter()
                .for_each(|p| self.push(FactKind::Attribute(p), pos));
        }
        self.format_fields(&text, pos);
        if let Some(path) = dotted_reference(&text) {
            // `"os.system"` handed to `logging.config`, `mock.patch`,
            // `pkgutil.resolve_name`: APIs that import and resolve it.
            self.push(FactKind::Import(path.clone()), pos);
            self.push(FactKind::Name(normalise(&path)), pos);
        }
        self.push(FactKind::Str(text), pos);
    }

    fn name(&mut self, n: &ast::ExprName) {
        let pos = self.pos(n);
        let id = self.ident(n.id.as_str(), pos).into_owned();
        if matches!(n.ctx, ExprContext::Load) && !self.callee && ATTR_FUNCS.contains(&id.as_str()) {
            // getattr & co. handed around as values (reduce(getattr, …)) hide their argument.
            self.push(FactKind::Heuristic(Heuristic::DynamicAttribute, 1), pos);
        }
        // Binding a name is not using it; loads and deletes are.
        if !matches!(n.ctx, ExprContext::Store) {
            // A builtin handed over (`map(help, …)`, `[breakpoint]`) is called
            // by whoever receives it; the program's own names are its data.
            let handed_over = matches!(n.ctx, ExprContext::Load)
                && !self.callee
                && !self.provenance.is_bound(&id);
            for path in self.name_paths(&id, n.range().start().to_usize()) {
                if handed_over && !path.contains('.') {
                    self.push(FactKind::Call(path.clone()), pos);
                }
                self.push(FactKind::Name(path), pos);
            }
        }
    }

    fn attribute(&mut self, a: &ast::ExprAttribute) {
        let pos = self.pos(a);
        let attr = self.ident(a.attr.as_str(), pos).into_owned();
        self.push(FactKind::Attribute(attr.clone()), pos);
        // Storing into a module rebinds its hook (`threading.excepthook = f`);
        // storing into the program's own objects names nothing.
        let paths = if matches!(a.ctx, ExprContext::Store) && !self.module_root(&a.value) {
            Vec::new()
        } else {
            self.paths(&a.value)
        };
        for path in paths {
            let mut name = format!("{path}.{attr}");
            normalise_in_place(&mut name);
            self.push(FactKind::Name(name), pos);
        }
        if attr == "__dict__" {
            self.host_namespace(&a.value, pos);
        }
        if let Some(module) = reached_module(&attr)
            && self.module_root(&a.value)
        {
            // `random._os`, `logging.os`: a module reached through another is imported.
            self.push(FactKind::Import(module.to_string()), pos);
        }
        self.expr(&a.value);
    }

    /// An imported module itself (`json`, `import xml.dom as d`), not a value inside one.
    fn bare_module(&self, e: &Expr) -> bool {
        matches!(e, Expr::Name(n) if self.provenance.is_module(n.id.as_str()))
    }

    /// `vars(o)` or `o.__dict__`: a table whose keys are `o`'s attributes.
    fn attribute_table(&self, e: &Expr) -> bool {
        match e {
            Expr::Attribute(a) => a.attr.as_str() == "__dict__",
            Expr::Call(c) => c.args.len() == 1 && self.paths(&c.func).iter().any(|p| p == "vars"),
            _ => false,
        }
    }

    /// Whether `e` is an imported module or an attribute path inside one.
    fn module_root(&self, e: &Expr) -> bool {
        match e {
            Expr::Name(n) => self.provenance.is_module(n.id.as_str()),
            Expr::Attribute(a) => self.module_root(&a.value),
            _ => false,
        }
    }

    fn bin_op(&mut self, e: &Expr, b: &ast::ExprBinOp) {
        self.folded(e);
        self.repetition(b);
        self.expr(&b.left);
        self.expr(&b.right);
    }

    fn subscript(&mut self, e: &Expr, s: &ast::ExprSubscript) {
        self.folded(e);
        let pos = self.pos(s);
        match fold(&s.slice, &self.env) {
            Some(Value::Str(key)) => {
                // `vars(type(frame))["f_globals"]` reads the attribute through its descriptor.
                let dunder = key.starts_with("__") && key.ends_with("__") && key.len() > 4;
                if dunder || self.attribute_table(&s.value) {
                    self.push(FactKind::Attribute(key.clone()), pos);
                }
                if self.is_module_table(&s.value) {
                    self.push(FactKind::Import(key.clone()), pos);
                }
                for path in self.subscript_paths(&s.value, &key) {
                    self.push(FactKind::Name(path), pos);
                }
            }
            Some(_) => {}
            None if self.is_namespace(&s.value) => {
                self.push(FactKind::Heuristic(Heuristic::DynamicNamespace, 1), pos);
                if self.provenance.is_literal(&s.slice, &self.env) {
                    self.push(FactKind::Heuristic(Heuristic::ObfuscatedName, 1), pos);
                }
                self.computed_subscript(s, pos);
            }
            None => self.computed_subscript(s, pos),
        }
        self.expr(&s.value);
        self.expr(&s.slice);
    }

    fn call(&mut self, e: &Expr, c: &ast::ExprCall) {
        self.folded(e);
        let pos = self.pos(c);
        let mut callees = self.paths(&c.func);
        if let Expr::Subscript(s) = c.func.as_ref() {
            // `table["eval"](…)`: the key names what is called.
            if let Some(Value::Str(key)) = fold(&s.slice, &self.env) {
                callees.push(normalise(&key));
            }
        }
        for callee in &callees {
            self.push(FactKind::Call(callee.clone()), pos);
            self.special_call(callee, c, pos);
            self.runtime_code(callee, c, pos);
            self.file_call(callee, c, pos);
            self.module_shown(callee, c, pos);
        }
        self.extract_call(c, pos);
        self.call_lookups(c, pos);
        self.callee = matches!(c.func.as_ref(), Expr::Name(_));
        self.expr(&c.func);
        self.callee = false;
        self.exprs(&c.args);
        self.keywords(&c.keywords);
    }
}

/// The attribute a module's `repr` reveals: the host path it was loaded from.
const MODULE_PATH: &str = "__file__";

/// Calls that render their arguments as text.
const RENDERERS: [&str; 5] = ["print", "str", "repr", "ascii", "format"];
