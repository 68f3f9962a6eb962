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

/// One entry point: the callee's dotted path (after alias resolution), the
/// position and keyword of the argument that carries code, and what it takes.
struct EntryPoint {
    callee: &'static str,
    index: usize,
    keyword: &'static str,
    takes: Takes,
}

const fn ep(callee: &'static str, index: usize, keyword: &'static str, takes: Takes) -> EntryPoint {
    EntryPoint {
        callee,
        index,
        keyword,
        takes,
    }
}

use Takes::{DottedName, Source, SourceOrObject, Structure};

#[rustfmt::skip]
const ENTRY_POINTS: &[EntryPoint] = &[
    // timeit: statements compiled into a timing function.
    ep("timeit.timeit", 0, "stmt", SourceOrObject), ep("timeit.timeit", 1, "setup", SourceOrObject),
    ep("timeit.repeat", 0, "stmt", SourceOrObject), ep("timeit.repeat", 1, "setup", SourceOrObject),
    ep("timeit.Timer", 0, "stmt", SourceOrObject), ep("timeit.Timer", 1, "setup", SourceOrObject),
    // profilers and debuggers run a statement string.
    ep("cProfile.run", 0, "statement", Source), ep("cProfile.runctx", 0, "statement", Source),
    ep("profile.run", 0, "statement", Source), ep("profile.runctx", 0, "statement", Source),
    ep("cProfile.Profile.run", 0, "cmd", Source), ep("cProfile.Profile.runctx", 0, "cmd", Source),
    ep("profile.Profile.run", 0, "cmd", Source), ep("profile.Profile.runctx", 0, "cmd", Source),
    ep("pdb.run", 0, "statement", Source), ep("pdb.runeval", 0, "expression", Source),
    ep("pdb.runctx", 0, "statement", Source), ep("pdb.Pdb.run", 0, "cmd", Source),
    ep("pdb.Pdb.runeval", 0, "expr", Source), ep("pdb.Pdb.runctx", 0, "cmd", Source),
    ep("bdb.Bdb.run", 0, "cmd", Source), ep("bdb.Bdb.runeval", 0, "expr", Source),
    ep("bdb.Bdb.runctx", 0, "cmd", Source), ep("trace.Trace.run", 0, "cmd", Source),
    ep("trace.Trace.runctx", 0, "cmd", Source),
    // doctest: examples parsed out of a string or an object's docstring.
    ep("doctest.run_docstring_examples", 0, "f", SourceOrObject),
    ep("doctest.testmod", 0, "m", SourceOrObject),
    ep("doctest.DocTestSuite", 0, "module", SourceOrObject),
    ep("doctest.DocTestFinder.find", 0, "obj", SourceOrObject),
    ep("doctest.DocTestParser.parse", 0, "string", Source),
    ep("doctest.DocTestParser.get_examples", 0, "string", Source),
    ep("doctest.DocTestParser.get_doctest", 0, "string", Source),
    ep("doctest.script_from_examples", 0, "s", Source),
    ep("doctest.debug_src", 0, "src", Source), ep("doctest.debug_script", 0, "src", Source),
    // typing evaluates forward references; a module's doc is a doctest source.
    ep("typing.ForwardRef", 0, "arg", Source), ep("typing._eval_type", 0, "t", SourceOrObject),
    ep("typing.get_type_hints", 0, "obj", SourceOrObject),
    ep("types.ModuleType", 1, "doc", Source),
    // the interactive interpreter and its compiler.
    ep("code.InteractiveInterpreter.runsource", 0, "source", Source),
    ep("code.InteractiveInterpreter.runcode", 0, "code", Source),
    ep("code.InteractiveConsole.push", 0, "line", Source),
    ep("code.InteractiveConsole.runsource", 0, "source", Source),
    ep("code.compile_command", 0, "source", Source),
    ep("codeop.compile_command", 0, "source", Source),
    ep("codeop.Compile", 0, "source", Source), ep("codeop.CommandCompiler", 0, "source", Source),
    ep("rlcompleter.Completer.complete", 0, "text", Source),
    ep("rlcompleter.Completer.attr_matches", 0, "text", Source),
    ep("rlcompleter.Completer.global_matches", 0, "text", Source),
    // compiled, not run: still a way to hand the compiler text it cannot see.
    ep("dis.dis", 0, "x", SourceOrObject), ep("dis.code_info", 0, "x", SourceOrObject),
    ep("dis.show_code", 0, "co", SourceOrObject), ep("dis.get_instructions", 0, "x", SourceOrObject),
    ep("dis.Bytecode", 0, "x", SourceOrObject), ep("symtable.symtable", 0, "code", Source),
    ep("gettext.c2py", 0, "plural", Source),
    // format strings walk attributes and items of their arguments.
    ep("string.Formatter.format", 0, "format_string", Source),
    ep("string.Formatter.vformat", 0, "format_string", Source),
    ep("string.Formatter.get_field", 0, "field_name", Source),
    ep("str.format", 0, "self", Source), ep("str.format_map", 0, "self", Source),
    // dotted names imported and resolved.
    ep("unittest.mock.patch", 0, "target", DottedName), ep("mock.patch", 0, "target", DottedName),
    ep("unittest.mock.patch.object", 1, "attribute", DottedName),
    ep("mock.patch.object", 1, "attribute", DottedName),
    ep("unittest.mock.patch.dict", 0, "in_dict", Structure),
    ep("mock.patch.dict", 0, "in_dict", Structure),
    ep("unittest.mock.patch.multiple", 0, "target", Structure),
    ep("unittest.mock._importer", 0, "target", DottedName),
    ep("unittest.mock._dot_lookup", 1, "comp", DottedName),
    ep("unittest.mock._get_target", 0, "target", DottedName),
    ep("unittest.mock._patch", 0, "getter", SourceOrObject),
    ep("unittest.TestLoader.loadTestsFromName", 0, "name", DottedName),
    ep("unittest.loader.TestLoader.loadTestsFromName", 0, "name", DottedName),
    ep("unittest.defaultTestLoader.loadTestsFromName", 0, "name", DottedName),
    ep("unittest.TestLoader.loadTestsFromNames", 0, "names", Structure),
    ep("unittest.loader.TestLoader.loadTestsFromNames", 0, "names", Structure),
    ep("unittest.defaultTestLoader.loadTestsFromNames", 0, "names", Structure),
    ep("unittest.main", 0, "module", DottedName), ep("unittest.main", 1, "defaultTest", Structure),
    ep("unittest.main", 2, "argv", Structure), ep("unittest.TestProgram", 0, "module", DottedName),
    ep("unittest.TestProgram", 1, "defaultTest", Structure),
    ep("unittest.TestProgram", 2, "argv", Structure),
    ep("pkgutil.resolve_name", 0, "name", DottedName),
    ep("runpy.run_module", 0, "mod_name", DottedName), ep("runpy.run_path", 0, "path_name", Source),
    ep("logging.config.dictConfig", 0, "config", Structure),
    ep("logging.config._resolve", 0, "name", DottedName),
    ep("logging.config.BaseConfigurator", 0, "config", Structure),
    ep("logging.config.DictConfigurator", 0, "config", Structure),
    ep("logging.config.BaseConfigurator.resolve", 0, "s", DottedName),
    ep("logging.config.BaseConfigurator.ext_convert", 0, "value", DottedName),
    ep("logging.config.BaseConfigurator.cfg_convert", 0, "value", DottedName),
    ep("logging.config.BaseConfigurator.convert", 0, "value", DottedName),
    ep("warnings._getcategory", 0, "category", DottedName),
    ep("warnings._setoption", 0, "arg", DottedName),
    ep("warnings._processoptions", 0, "args", Structure),
    ep("xml.sax.make_parser", 0, "parser_list", Structure),
    ep("xml.sax._create_parser", 0, "parser_name", DottedName),
    ep("xml.dom.domreg.getDOMImplementation", 0, "name", DottedName),
    ep("xml.dom.registerDOMImplementation", 1, "factory", SourceOrObject),
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
        for entry in ENTRY_POINTS.iter().filter(|e| e.callee == callee) {
            let arg = argument(c, entry.index, entry.keyword);
            if arg.is_some_and(|a| !self.readable(a, entry.takes)) {
                self.dynamic_code(pos);
            }
        }
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
