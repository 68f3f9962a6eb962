//! Code that arrives at run time. Besides `exec`, `eval` and `compile`, the
//! standard library has many entry points that compile, evaluate or import
//! what a string says (`timeit.timeit`, `cProfile.run`, doctest parsers,
//! `typing.ForwardRef`, `unittest.mock.patch`, `logging.config.dictConfig` …).
//! A constant argument is screened like any string (as code, or as the dotted
//! name it spells); an argument the screener cannot read — often text from
//! stdin or the command line — is the `dynamic-code` heuristic.
//!
//! The table below was drawn from the CPython 3.11 sources (every call of
//! `exec`, `eval`, `compile`, `__import__`, `importlib.import_module` and
//! `pkgutil.resolve_name` reachable from a public or documented-private
//! function with a caller-supplied string).

use super::Walker;
use super::calls::argument;
use crate::facts::{FactKind, Heuristic, Pos};
use crate::python::fold::{Value, fold};
use rustpython_parser::ast::{self, Expr};

/// What an entry point does with its argument, and so what may be passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Takes {
    /// Python source only: anything but a constant string is refused.
    Source,
    /// Python source, or an object it runs or reads docstrings from (a
    /// function, a class, a module): program-defined objects and module
    /// functions pass, anything that may hold text does not.
    SourceOrObject,
    /// A dotted name it imports and resolves: a constant string only.
    DottedName,
    /// A structure whose strings name code (`dictConfig`'s `"()"` and
    /// `ext://`, `make_parser`'s module list): a literal container only (its
    /// strings are screened as names).
    Structure,
}

/// Entry points sharing an owner (a module or class) and the arguments that
/// carry code: `owner.name` for each name, with each argument's position,
/// keyword and what it takes.
struct EntryPoints {
    owner: &'static str,
    names: &'static [&'static str],
    args: &'static [(usize, &'static str, Takes)],
}

const fn g(
    owner: &'static str,
    names: &'static [&'static str],
    args: &'static [(usize, &'static str, Takes)],
) -> EntryPoints {
    EntryPoints { owner, names, args }
}

use Takes::{DottedName, Source, SourceOrObject, Structure};

#[rustfmt::skip]
const ENTRY_POINTS: &[EntryPoints] = &[
    // timeit: statements compiled into a timing function.
    g("timeit", &["timeit", "repeat", "Timer"], &[(0, "stmt", SourceOrObject), (1, "setup", SourceOrObject)]),
    // profilers and debuggers run a statement string.
    g("cProfile", &["run", "runctx"], &[(0, "statement", Source)]),
    g("profile", &["run", "runctx"], &[(0, "statement", Source)]),
    g("cProfile.Profile", &["run", "runctx"], &[(0, "cmd", Source)]),
    g("profile.Profile", &["run", "runctx"], &[(0, "cmd", Source)]),
    g("pdb", &["run", "runctx"], &[(0, "statement", Source)]),
    g("pdb", &["runeval"], &[(0, "expression", Source)]),
    g("pdb.Pdb", &["run", "runctx"], &[(0, "cmd", Source)]),
    g("pdb.Pdb", &["runeval"], &[(0, "expr", Source)]),
    g("bdb.Bdb", &["run", "runctx"], &[(0, "cmd", Source)]),
    g("bdb.Bdb", &["runeval"], &[(0, "expr", Source)]),
    g("trace.Trace", &["run", "runctx"], &[(0, "cmd", Source)]),
    // doctest: examples parsed out of a string or an object's docstring.
    g("doctest", &["run_docstring_examples"], &[(0, "f", SourceOrObject)]),
    g("doctest", &["testmod"], &[(0, "m", SourceOrObject)]),
    g("doctest", &["DocTestSuite"], &[(0, "module", SourceOrObject)]),
    g("doctest.DocTestFinder", &["find"], &[(0, "obj", SourceOrObject)]),
    g("doctest.DocTestParser", &["parse", "get_examples", "get_doctest"], &[(0, "string", Source)]),
    g("doctest", &["script_from_examples"], &[(0, "s", Source)]),
    g("doctest", &["debug_src", "debug_script"], &[(0, "src", Source)]),
    // typing evaluates forward references; a module's doc is a doctest source.
    g("typing", &["ForwardRef"], &[(0, "arg", Source)]),
    g("typing", &["_eval_type"], &[(0, "t", SourceOrObject)]),
    g("typing", &["get_type_hints"], &[(0, "obj", SourceOrObject)]),
    g("types", &["ModuleType"], &[(1, "doc", Source)]),
    // the interactive interpreter and its compiler.
    g("code.InteractiveInterpreter", &["runsource"], &[(0, "source", Source)]),
    g("code.InteractiveInterpreter", &["runcode"], &[(0, "code", Source)]),
    g("code.InteractiveConsole", &["push"], &[(0, "line", Source)]),
    g("code.InteractiveConsole", &["runsource"], &[(0, "source", Source)]),
    g("code", &["compile_command"], &[(0, "source", Source)]),
    g("codeop", &["compile_command", "Compile", "CommandCompiler"], &[(0, "source", Source)]),
    g("rlcompleter.Completer", &["complete", "attr_matches", "global_matches"], &[(0, "text", Source)]),
    // compiled, not run: still a way to hand the compiler text it cannot see.
    g("dis", &["dis", "code_info", "get_instructions", "Bytecode"], &[(0, "x", SourceOrObject)]),
    g("dis", &["show_code"], &[(0, "co", SourceOrObject)]),
    g("symtable", &["symtable"], &[(0, "code", Source)]),
    g("gettext", &["c2py"], &[(0, "plural", Source)]),
    // format strings walk attributes and items of their arguments.
    g("string.Formatter", &["format", "vformat"], &[(0, "format_string", Source)]),
    g("string.Formatter", &["get_field"], &[(0, "field_name", Source)]),
    g("str", &["format", "format_map"], &[(0, "self", Source)]),
    // dotted names imported and resolved.
    g("unittest.mock", &["patch", "_importer", "_get_target"], &[(0, "target", DottedName)]),
    g("mock", &["patch"], &[(0, "target", DottedName)]),
    g("unittest.mock.patch", &["object"], &[(1, "attribute", DottedName)]),
    g("mock.patch", &["object"], &[(1, "attribute", DottedName)]),
    g("unittest.mock.patch", &["dict"], &[(0, "in_dict", Structure)]),
    g("mock.patch", &["dict"], &[(0, "in_dict", Structure)]),
    g("unittest.mock.patch", &["multiple"], &[(0, "target", Structure)]),
    g("unittest.mock", &["_dot_lookup"], &[(1, "comp", DottedName)]),
    g("unittest.mock", &["_patch"], &[(0, "getter", SourceOrObject)]),
    g("unittest.TestLoader", &["loadTestsFromName"], &[(0, "name", DottedName)]),
    g("unittest.loader.TestLoader", &["loadTestsFromName"], &[(0, "name", DottedName)]),
    g("unittest.defaultTestLoader", &["loadTestsFromName"], &[(0, "name", DottedName)]),
    g("unittest.TestLoader", &["loadTestsFromNames"], &[(0, "names", Structure)]),
    g("unittest.loader.TestLoader", &["loadTestsFromNames"], &[(0, "names", Structure)]),
    g("unittest.defaultTestLoader", &["loadTestsFromNames"], &[(0, "names", Structure)]),
    g("unittest", &["main", "TestProgram"], &[(0, "module", DottedName), (1, "defaultTest", Structure), (2, "argv", Structure)]),
    g("pkgutil", &["resolve_name"], &[(0, "name", DottedName)]),
    g("runpy", &["run_module"], &[(0, "mod_name", DottedName)]),
    g("runpy", &["run_path"], &[(0, "path_name", Source)]),
    g("logging.config", &["dictConfig", "BaseConfigurator", "DictConfigurator"], &[(0, "config", Structure)]),
    g("logging.config", &["_resolve"], &[(0, "name", DottedName)]),
    g("logging.config.BaseConfigurator", &["resolve"], &[(0, "s", DottedName)]),
    g("logging.config.BaseConfigurator", &["ext_convert", "cfg_convert", "convert"], &[(0, "value", DottedName)]),
    g("warnings", &["_getcategory"], &[(0, "category", DottedName)]),
    g("warnings", &["_setoption"], &[(0, "arg", DottedName)]),
    g("warnings", &["_processoptions"], &[(0, "args", Structure)]),
    g("xml.sax", &["make_parser"], &[(0, "parser_list", Structure)]),
    g("xml.sax", &["_create_parser"], &[(0, "parser_name", DottedName)]),
    g("xml.dom.domreg", &["getDOMImplementation"], &[(0, "name", DottedName)]),
    g("xml.dom", &["registerDOMImplementation"], &[(1, "factory", SourceOrObject)]),
];

/// Classes whose instances carry the entry points above (or the file openers
/// of `files.rs`) as methods:
/// `cProfile.Profile().runctx(s)` is `cProfile.Profile.runctx`.
#[rustfmt::skip]
pub(super) const CONSTRUCTORS: [&str; 20] = [
    "cProfile.Profile", "profile.Profile", "pdb.Pdb", "bdb.Bdb", "trace.Trace",
    "doctest.DocTestFinder", "doctest.DocTestParser", "code.InteractiveInterpreter",
    "code.InteractiveConsole", "rlcompleter.Completer", "string.Formatter",
    "unittest.TestLoader", "unittest.loader.TestLoader", "logging.config.BaseConfigurator",
    "logging.config.DictConfigurator", "timeit.Timer", "configparser.ConfigParser",
    "configparser.RawConfigParser", "mimetypes.MimeTypes", "modulefinder.ModuleFinder",
];

/// Attributes that standard-library runners read code or names from: storing
/// text the screener cannot read there (`f.__doc__ = input()` before
/// `doctest.run_docstring_examples(f, {})`) is code arriving at run time.
const CODE_ATTRIBUTES: [&str; 2] = ["__doc__", "__annotations__"];

impl Walker<'_> {
    /// A call of `callee`: when it is an entry point, judge its code argument.
    pub(super) fn runtime_code(&mut self, callee: &str, c: &ast::ExprCall, pos: Pos) {
        let Some((owner, name)) = callee.rsplit_once('.') else {
            return self.runtime_code_builtin(callee, c, pos);
        };
        let args = ENTRY_POINTS
            .iter()
            .filter(|e| e.owner == owner && e.names.contains(&name))
            .flat_map(|e| e.args);
        for &(index, keyword, takes) in args {
            if argument(c, index, keyword).is_some_and(|a| !self.readable(a, takes)) {
                self.dynamic_code(pos);
            }
        }
        self.runtime_code_builtin(callee, c, pos);
    }

    /// `functools.reduce(getattr, …)` and `setattr(o, "__doc__", …)`.
    fn runtime_code_builtin(&mut self, callee: &str, c: &ast::ExprCall, pos: Pos) {
        if callee == "functools.reduce" {
            self.reduce_walk(c, pos);
        }
        if callee == "setattr"
            && let (Some(name), Some(value)) = (c.args.get(1), c.args.get(2))
            && let Some(Value::Str(attr)) = fold(name, &self.env)
            && CODE_ATTRIBUTES.contains(&attr.as_str())
            && !self.readable_attribute_value(value)
        {
            self.dynamic_code(pos);
        }
    }

    /// `x.__doc__ = value` (or `__annotations__`) and `{"__doc__": value}` in a
    /// class namespace built at run time.
    pub(super) fn code_attribute_store(&mut self, target: &Expr, value: &Expr, pos: Pos) {
        let name = match target {
            Expr::Attribute(a) => a.attr.as_str(),
            _ => return,
        };
        if CODE_ATTRIBUTES.contains(&name) && !self.readable_attribute_value(value) {
            self.dynamic_code(pos);
        }
    }

    /// A dictionary literal with a `__doc__` key whose value the screener cannot read.
    pub(super) fn code_attribute_keys(&mut self, d: &ast::ExprDict, pos: Pos) {
        for (key, value) in d.keys.iter().zip(&d.values) {
            let Some(Value::Str(k)) = key.as_ref().and_then(|k| fold(k, &self.env)) else {
                continue;
            };
            if CODE_ATTRIBUTES.contains(&k.as_str()) && !self.readable_attribute_value(value) {
                self.dynamic_code(pos);
            }
        }
    }

    fn dynamic_code(&mut self, pos: Pos) {
        self.push(FactKind::Heuristic(Heuristic::DynamicCode, 1), pos);
    }

    /// A docstring or annotation value: a constant, a literal container, or a
    /// copy of another object's (`wrapper.__doc__ = f.__doc__`).
    fn readable_attribute_value(&self, value: &Expr) -> bool {
        match value {
            Expr::Attribute(a) => CODE_ATTRIBUTES.contains(&a.attr.as_str()),
            Expr::Dict(d) => d.values.iter().all(|v| self.readable(v, Source)),
            _ => self.readable(value, Source),
        }
    }

    /// Whether the screener can read what `arg` hands an entry point that takes `takes`.
    fn readable(&self, arg: &Expr, takes: Takes) -> bool {
        if matches!(fold(arg, &self.env), Some(Value::Str(_) | Value::Bytes(_))) {
            return true;
        }
        if matches!(arg, Expr::Constant(c) if matches!(c.value, ast::Constant::None)) {
            return true;
        }
        if takes != DottedName && self.template_without_input(arg) {
            return true;
        }
        match takes {
            Source | DottedName => false,
            SourceOrObject => self.program_object(arg),
            Structure => self.literal_structure(arg),
        }
    }

    /// Code written as a template with holes (`f"z.f({n})"`, `"z.f(%d)" % n`,
    /// `"z.f({})".format(n)`), the benchmark idiom: the skeleton is screened
    /// as a string, and the holes cannot carry text from outside because the
    /// program reads none (no stdin, arguments or files) and fills them with
    /// plain names or arithmetic.
    fn template_without_input(&self, e: &Expr) -> bool {
        let holes: Vec<&Expr> = match e {
            Expr::JoinedStr(j) => j
                .values
                .iter()
                .filter_map(|v| match v {
                    Expr::FormattedValue(f) => Some(f.value.as_ref()),
                    _ => None,
                })
                .collect(),
            Expr::BinOp(b)
                if b.op == ast::Operator::Mod
                    && matches!(fold(&b.left, &self.env), Some(Value::Str(_))) =>
            {
                match b.right.as_ref() {
                    Expr::Tuple(t) => t.elts.iter().collect(),
                    one => vec![one],
                }
            }
            Expr::Call(c) => match c.func.as_ref() {
                Expr::Attribute(a)
                    if a.attr.as_str() == "format"
                        && matches!(fold(&a.value, &self.env), Some(Value::Str(_)))
                        && c.keywords.is_empty() =>
                {
                    c.args.iter().collect()
                }
                _ => return false,
            },
            _ => return false,
        };
        !self.reads_input() && holes.iter().all(|h| plain_hole(h))
    }

    /// Whether the program reads anything from outside (by its text, so a read
    /// anywhere counts, before or after the call).
    fn reads_input(&self) -> bool {
        *self.reads_input.get_or_init(|| {
            static RE: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
            RE.get_or_init(|| {
                regex::Regex::new(
                    r"\binput\s*\(|\bstdin\b|\bargv\b|\bopen\s*\(|\bfileinput\b|\bread(line|lines)?\s*\(|\brecv|\burlopen|\benviron\b|\bgetenv\b",
                )
                .ok()
            })
            .as_ref()
            .is_none_or(|re| re.is_match(self.text))
        })
    }

    /// A function, class or module the program names, never a value that may be text.
    fn program_object(&self, e: &Expr) -> bool {
        match e {
            Expr::Lambda(_) => true,
            Expr::Name(n) => {
                let id = n.id.as_str();
                (self.provenance.is_function(id) && !self.provenance.is_external(id))
                    || self.provenance.is_module(id)
                    || self.classes.contains(id)
            }
            Expr::Attribute(a) => self.module_root(e) || self.program_object(&a.value),
            Expr::Call(c) => self.paths(&c.func).iter().any(|p| p == "functools.partial"),
            _ => false,
        }
    }

    /// A literal container (its strings are screened where they stand), or a
    /// name last bound to one.
    fn literal_structure(&self, e: &Expr) -> bool {
        match e {
            Expr::Dict(d) => d.values.iter().all(|v| self.literal_structure(v)),
            Expr::List(l) => l.elts.iter().all(|v| self.literal_structure(v)),
            Expr::Tuple(t) => t.elts.iter().all(|v| self.literal_structure(v)),
            Expr::Set(s) => s.elts.iter().all(|v| self.literal_structure(v)),
            Expr::Constant(_) => true,
            Expr::Name(n) => self.containers.contains(n.id.as_str()),
            _ => fold(e, &self.env).is_some(),
        }
    }

    /// `functools.reduce(getattr, names, obj)`: a walk along attribute names.
    /// Names the screener reads (`"a.b".split(".")`, a literal list) are
    /// attributes like any other; computed ones walk wherever input says.
    fn reduce_walk(&mut self, c: &ast::ExprCall, pos: Pos) {
        let Some(Expr::Name(f)) = c.args.first() else {
            return;
        };
        if f.id.as_str() != "getattr" || self.provenance.is_bound("getattr") {
            return;
        }
        let names = c.args.get(1).and_then(|n| self.constant_names(n));
        match names {
            Some(names) => names
                .into_iter()
                .for_each(|n| self.push(FactKind::Attribute(n), pos)),
            None => self.push(
                FactKind::Heuristic(Heuristic::DynamicInterpreterAttribute, 1),
                pos,
            ),
        }
    }

    /// The strings of `"a.b".split(".")` or of a literal sequence of constants.
    fn constant_names(&self, e: &Expr) -> Option<Vec<String>> {
        if let Expr::Call(c) = e
            && let Expr::Attribute(a) = c.func.as_ref()
            && a.attr.as_str() == "split"
            && let Some(Value::Str(s)) = fold(&a.value, &self.env)
        {
            let sep = match c.args.first().map(|s| fold(s, &self.env)) {
                Some(Some(Value::Str(sep))) if !sep.is_empty() => sep,
                None => return Some(s.split_whitespace().map(str::to_string).collect()),
                _ => return None,
            };
            return Some(s.split(sep.as_str()).map(str::to_string).collect());
        }
        match fold(e, &self.env) {
            Some(Value::Seq(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => None,
        }
    }
}

/// A hole of a code template that is a name, an attribute or arithmetic on them.
fn plain_hole(e: &Expr) -> bool {
    match e {
        Expr::Name(_) | Expr::Constant(_) => true,
        Expr::Attribute(a) => plain_hole(&a.value),
        Expr::BinOp(b) => plain_hole(&b.left) && plain_hole(&b.right),
        Expr::UnaryOp(u) => plain_hole(&u.operand),
        _ => false,
    }
}
