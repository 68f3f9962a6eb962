//! What analysis observes in code, independent of any rule: the vocabulary
//! rules are written against. Analysis produces facts; `matcher` turns facts
//! into findings.

use serde::Deserialize;

/// A position in the decoded source: 1-based line, 0-based column in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct Pos {
    pub line: u32,
    pub column: u32,
}

/// One observation, with where it was made.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fact {
    pub kind: FactKind,
    pub pos: Pos,
}

/// The kinds of observation the Python analysis makes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FactKind {
    /// A module imported by any means (`import`, `from`, `__import__`, `importlib`).
    Import(String),
    /// A dotted name referenced, after alias resolution (`os.system`, `eval`).
    Name(String),
    /// A dotted name called, after alias resolution.
    Call(String),
    /// An attribute read or written, by dot, `getattr` family or dunder subscript.
    Attribute(String),
    /// A string constant, after folding.
    Str(String),
    /// A heuristic fired, with its measured value (range size, repetition count …).
    Heuristic(Heuristic, u64),
    /// A fact about the source bytes.
    Anomaly(Anomaly),
}

/// Facts about the submitted bytes that no parser shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Anomaly {
    /// A PEP 263 coding cookie naming anything but utf-8, ascii or latin-1
    /// (utf-7, unicode_escape … turn comments into code in CPython).
    ForeignEncoding,
    /// Unicode bidirectional control characters (Trojan Source).
    BidiControl,
    /// NUL bytes in the source.
    NulByte,
    /// Bytes that are not valid UTF-8 (and no latin-1 cookie).
    InvalidUtf8,
    /// A statement nested or chained beyond what the analyser parses; screened as text only.
    TooComplex,
    /// An identifier that NFKC normalisation changes (fullwidth, mathematical letters …).
    ConfusableIdentifier,
    /// Python that does not parse as Python 3; screened by tokens and text only.
    Unparsable,
}

impl Anomaly {
    /// The kebab-case name used in rule files and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Anomaly::ForeignEncoding => "foreign-encoding",
            Anomaly::BidiControl => "bidi-control",
            Anomaly::NulByte => "nul-byte",
            Anomaly::InvalidUtf8 => "invalid-utf8",
            Anomaly::TooComplex => "too-complex",
            Anomaly::ConfusableIdentifier => "confusable-identifier",
            Anomaly::Unparsable => "unparsable",
        }
    }
}

/// Built-in Python heuristics that need more than a name to decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Heuristic {
    /// `while True:` (or any constant-true test) whose body has no `break`, `return` or `raise`.
    InfiniteLoop,
    /// `range(n)` with a constant bound of at least `min` (default 10 000 000).
    HugeRange,
    /// `seq * n` / `n * seq` or `x ** n` with constant `n` of at least `min` (default 1 000 000).
    HugeRepetition,
    /// `open()` of a constant absolute path or one climbing with `..`.
    OpenAbsolutePath,
    /// `open()` with a write, append, create or update mode.
    OpenWriteMode,
    /// `getattr`/`setattr`/`delattr`/`hasattr` with a name that is not a constant.
    DynamicAttribute,
    /// `vars()[…]`, `globals()[…]`, `locals()[…]` or `__dict__[…]` with a non-constant key.
    DynamicNamespace,
    /// `__import__`/`importlib.import_module` with a module name that is not a constant.
    DynamicImport,
    /// An attribute or namespace key computed only from literals in a way folding
    /// cannot follow (`str.translate`, code-point arithmetic, loops adding characters).
    ObfuscatedName,
    /// A lookup by computed name on the interpreter's own objects (builtins,
    /// literals, or what another computed lookup returned), e.g. `getattr(print, input())`.
    DynamicInterpreterAttribute,
    /// A standard-library entry point that compiles, evaluates or imports a
    /// string (`timeit.timeit`, `cProfile.run`, `unittest.mock.patch` …) handed
    /// an argument that is not a constant, or a docstring set at run time.
    DynamicCode,
    /// A standard-library function that opens the file its argument names
    /// (`tokenize.open`, `xml.etree.ElementTree.parse`, `sqlite3.connect`,
    /// `warnings.showwarning`'s line cache …) given a path read from input,
    /// or a constant absolute or parent path.
    FilePath,
    /// A loop that never exits and swallows the exceptions that stop a program
    /// (`except BaseException`, a bare `except`, `KeyboardInterrupt`,
    /// `SystemExit`, `continue` in `finally`, `contextlib.suppress` of them).
    SwallowedInterrupt,
}

impl Heuristic {
    /// The kebab-case name used in rule files.
    pub fn as_str(self) -> &'static str {
        match self {
            Heuristic::InfiniteLoop => "infinite-loop",
            Heuristic::HugeRange => "huge-range",
            Heuristic::HugeRepetition => "huge-repetition",
            Heuristic::OpenAbsolutePath => "open-absolute-path",
            Heuristic::OpenWriteMode => "open-write-mode",
            Heuristic::DynamicAttribute => "dynamic-attribute",
            Heuristic::DynamicNamespace => "dynamic-namespace",
            Heuristic::DynamicImport => "dynamic-import",
            Heuristic::ObfuscatedName => "obfuscated-name",
            Heuristic::DynamicInterpreterAttribute => "dynamic-interpreter-attribute",
            Heuristic::DynamicCode => "dynamic-code",
            Heuristic::FilePath => "file-path",
            Heuristic::SwallowedInterrupt => "swallowed-interrupt",
        }
    }

    /// The threshold used when a rule gives no `min`.
    pub fn default_min(self) -> u64 {
        match self {
            Heuristic::HugeRange => 10_000_000,
            Heuristic::HugeRepetition => 1_000_000,
            _ => 0,
        }
    }
}
