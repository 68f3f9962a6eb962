//! Files opened through modules other than `open` and `os`. Many standard
//! library functions open the file their argument names (`tokenize.open`,
//! `xml.etree.ElementTree.parse`, `sqlite3.connect`, `gzip.open`, the line
//! cache behind `warnings.showwarning` and `traceback.print_list` …). A
//! relative constant path stays in the working directory; a path read from
//! input, or a constant absolute or climbing one, reaches the host's files:
//! the `file-path` heuristic.

use super::Walker;
use super::calls::argument;
use crate::facts::{FactKind, Heuristic, Pos};
use crate::python::fold::{Value, fold};
use rustpython_parser::ast::{self, Expr};

/// A keyword-only argument.
const KEYWORD_ONLY: usize = usize::MAX;

/// Functions that open the file named by one argument: (callee, position, keyword).
#[rustfmt::skip]
const OPENERS: &[(&str, usize, &str)] = &[
    ("mimetypes.read_mime_types", 0, "file"), ("mimetypes.init", 0, "files"),
    ("mimetypes.MimeTypes.read", 0, "filename"), ("tokenize.open", 0, "filename"),
    ("io.open_code", 0, "path"), ("io.FileIO", 0, "file"), ("_io.FileIO", 0, "file"),
    ("_io.open", 0, "file"), ("_io.open_code", 0, "path"), ("codecs.open", 0, "filename"),
    ("configparser.ConfigParser.read", 0, "filenames"),
    ("configparser.RawConfigParser.read", 0, "filenames"),
    ("xml.etree.ElementTree.parse", 0, "source"), ("xml.etree.ElementTree.iterparse", 0, "source"),
    ("xml.etree.cElementTree.parse", 0, "source"), ("xml.dom.minidom.parse", 0, "file"),
    ("xml.dom.pulldom.parse", 0, "stream_or_string"), ("xml.sax.parse", 0, "source"),
    ("sqlite3.connect", 0, "database"), ("gzip.open", 0, "filename"), ("gzip.GzipFile", 0, "filename"),
    ("bz2.open", 0, "filename"), ("bz2.BZ2File", 0, "filename"), ("lzma.open", 0, "filename"),
    ("lzma.LZMAFile", 0, "filename"), ("zipfile.ZipFile", 0, "file"), ("tarfile.open", 0, "name"),
    ("tarfile.TarFile", 0, "name"), ("dbm.open", 0, "file"), ("wave.open", 0, "f"),
    ("warnings.showwarning", 2, "filename"), ("warnings.formatwarning", 2, "filename"),
    ("warnings.warn_explicit", 2, "filename"), ("traceback.print_list", 0, "extracted_list"),
    ("traceback.format_list", 0, "extracted_list"), ("traceback.FrameSummary", 0, "filename"),
    ("traceback.StackSummary.from_list", 0, "a_list"),
    ("logging.basicConfig", KEYWORD_ONLY, "filename"), ("logging.FileHandler", 0, "filename"),
    ("logging.handlers.RotatingFileHandler", 0, "filename"),
    ("logging.handlers.TimedRotatingFileHandler", 0, "filename"),
    ("logging.handlers.WatchedFileHandler", 0, "filename"), ("py_compile.compile", 0, "file"),
    ("compileall.compile_file", 0, "fullname"), ("compileall.compile_dir", 0, "dir"),
    ("pstats.Stats", 0, "arg"), ("modulefinder.ModuleFinder.run_script", 0, "pathname"),
    ("imghdr.what", 0, "file"), ("sndhdr.what", 0, "filename"), ("tabnanny.check", 0, "file"),
    ("uu.decode", 0, "in_file"), ("zipapp.create_archive", 0, "source"),
];

/// Archive methods that write where their argument says, whatever the receiver:
/// (method, position, keyword).
const EXTRACTORS: [(&str, usize, &str); 2] = [("extractall", 0, "path"), ("extract", 1, "path")];

impl Walker<'_> {
    /// A call of `callee`: when it opens a file, judge the path it is given.
    pub(super) fn file_call(&mut self, callee: &str, c: &ast::ExprCall, pos: Pos) {
        for &(_, index, keyword) in OPENERS.iter().filter(|o| o.0 == callee) {
            self.judge_path(argument(c, index, keyword), pos);
        }
    }

    /// `archive.extractall(path)` / `archive.extract(member, path)`.
    pub(super) fn extract_call(&mut self, c: &ast::ExprCall, pos: Pos) {
        let Expr::Attribute(a) = c.func.as_ref() else {
            return;
        };
        for &(_, index, keyword) in EXTRACTORS.iter().filter(|e| e.0 == a.attr.as_str()) {
            self.judge_path(argument(c, index, keyword), pos);
        }
    }

    fn judge_path(&mut self, path: Option<&Expr>, pos: Pos) {
        let Some(path) = path else { return };
        let outside = match fold(path, &self.env) {
            Some(Value::Str(p)) => leaves_working_directory(&p),
            Some(Value::Seq(items)) => items
                .iter()
                .filter_map(|v| v.as_str())
                .any(leaves_working_directory),
            _ => self.carries_external(path),
        };
        if outside {
            self.push(FactKind::Heuristic(Heuristic::FilePath, 1), pos);
        }
    }

    /// Whether text read from outside flows into `e`: `input()`, `"file:" +
    /// input()`, `f"{sys.argv[1]}"`, `[(input(), 1)]`, `input().strip()`.
    pub(super) fn carries_external(&self, e: &Expr) -> bool {
        if self.external(e) {
            return true;
        }
        match e {
            Expr::BinOp(b) => self.carries_external(&b.left) || self.carries_external(&b.right),
            Expr::JoinedStr(j) => j.values.iter().any(|v| self.carries_external(v)),
            Expr::FormattedValue(f) => self.carries_external(&f.value),
            Expr::List(l) => l.elts.iter().any(|v| self.carries_external(v)),
            Expr::Tuple(t) => t.elts.iter().any(|v| self.carries_external(v)),
            Expr::Call(c) => {
                let method_of_external = matches!(c.func.as_ref(), Expr::Attribute(a) if self.carries_external(&a.value));
                method_of_external || c.args.iter().any(|a| self.carries_external(a))
            }
            _ => false,
        }
    }
}

/// An absolute path, a home path, one climbing with `..`, or a `file:` URI.
fn leaves_working_directory(path: &str) -> bool {
    path.starts_with('/')
        || path.starts_with('~')
        || path.starts_with("file:")
        || path.split(['/', '\\']).any(|p| p == "..")
}
