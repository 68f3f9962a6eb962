//! The languages screening knows, named the way executors and files name them.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

/// A language the shipped rule packs cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// CPython 3 source.
    Python,
    /// JavaScript / Node.js source.
    Javascript,
    /// Java source.
    Java,
    /// C source.
    C,
    /// C++ source.
    Cpp,
    /// A POSIX shell or bash script.
    Bash,
    /// C# source.
    Csharp,
}

impl Language {
    /// Every language, in a stable order.
    pub const ALL: [Language; 7] = [
        Language::Python,
        Language::Javascript,
        Language::Java,
        Language::C,
        Language::Cpp,
        Language::Bash,
        Language::Csharp,
    ];

    /// The lowercase name used in rule files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::Javascript => "javascript",
            Language::Java => "java",
            Language::C => "c",
            Language::Cpp => "cpp",
            Language::Bash => "bash",
            Language::Csharp => "csharp",
        }
    }

    /// The language a Piston runtime name or common alias stands for (case-insensitive;
    /// a version suffix such as `python3.11` or `java-17` is ignored).
    pub fn from_name(name: &str) -> Option<Language> {
        let lower = name.trim().to_ascii_lowercase();
        if let Some(lang) = Self::from_exact_name(&lower) {
            return Some(lang);
        }
        // "python3.11", "java-17", "gcc 13": strip a trailing version.
        let base = lower.trim_end_matches(|c: char| c.is_ascii_digit() || ".-_ ".contains(c));
        Self::from_exact_name(base)
    }

    fn from_exact_name(name: &str) -> Option<Language> {
        let lang = match name {
            "python" | "python3" | "py" | "py3" | "cpython" | "python-3" => Language::Python,
            "javascript" | "js" | "node" | "nodejs" | "node-js" | "node.js" | "ecmascript" => {
                Language::Javascript
            }
            "java" | "openjdk" | "jdk" => Language::Java,
            "c" | "gcc" | "clang" | "c11" | "c99" | "c17" => Language::C,
            "cpp" | "c++" | "g++" | "clang++" | "cxx" | "cc" | "cplusplus" => Language::Cpp,
            "bash" | "sh" | "shell" | "dash" | "posix-sh" => Language::Bash,
            "csharp" | "c#" | "cs" | "mono" | "dotnet" | "csharp.net" => Language::Csharp,
            _ => return None,
        };
        Some(lang)
    }

    /// The language a file's extension names (`.py`, `.js`, `.java`, `.c`, `.cpp` …).
    pub fn from_extension(path: &Path) -> Option<Language> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        let lang = match ext.as_str() {
            "py" | "pyw" | "py3" => Language::Python,
            "js" | "mjs" | "cjs" => Language::Javascript,
            "java" => Language::Java,
            "c" | "h" => Language::C,
            "cpp" | "cc" | "cxx" | "c++" | "hpp" | "hh" | "hxx" => Language::Cpp,
            "sh" | "bash" => Language::Bash,
            "cs" => Language::Csharp,
            _ => return None,
        };
        Some(lang)
    }
}

impl Language {
    /// Whether a submission in this language may carry a file of this name.
    /// C and C++ compilers take every file they are given: a second `evil.s`
    /// (assembly), `.o` or `.so` is built into the program unscreened, so only
    /// sources and headers are admitted. Other languages run their entry file
    /// and read the rest as data.
    pub fn admits_file(self, name: &str) -> bool {
        let ext = Path::new(name)
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match self {
            Language::C => matches!(ext.as_deref(), Some("c" | "h")),
            Language::Cpp => matches!(
                ext.as_deref(),
                Some(
                    "c" | "h"
                        | "cpp"
                        | "cc"
                        | "cxx"
                        | "c++"
                        | "hpp"
                        | "hh"
                        | "hxx"
                        | "ipp"
                        | "tpp"
                        | "inl"
                )
            ),
            Language::Python
            | Language::Javascript
            | Language::Java
            | Language::Bash
            | Language::Csharp => true,
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn piston_names_and_aliases_resolve_case_insensitively() {
        for (name, lang) in [
            ("python", Language::Python),
            ("Python3", Language::Python),
            ("py", Language::Python),
            ("python3.11", Language::Python),
            ("node", Language::Javascript),
            ("JS", Language::Javascript),
            ("node-js", Language::Javascript),
            ("java", Language::Java),
            ("gcc", Language::C),
            ("c", Language::C),
            ("c++", Language::Cpp),
            ("g++", Language::Cpp),
            ("cpp", Language::Cpp),
            ("bash", Language::Bash),
            ("sh", Language::Bash),
            ("bash5.2", Language::Bash),
            ("csharp", Language::Csharp),
            ("C#", Language::Csharp),
            ("mono", Language::Csharp),
        ] {
            assert_eq!(Language::from_name(name), Some(lang), "{name}");
        }
        assert_eq!(Language::from_name("brainfuck"), None);
        assert_eq!(Language::from_name(""), None);
    }

    #[test]
    fn extensions_resolve() {
        assert_eq!(
            Language::from_extension(Path::new("a/b.PY")),
            Some(Language::Python)
        );
        assert_eq!(
            Language::from_extension(Path::new("x.mjs")),
            Some(Language::Javascript)
        );
        assert_eq!(
            Language::from_extension(Path::new("x.hpp")),
            Some(Language::Cpp)
        );
        assert_eq!(Language::from_extension(Path::new("Makefile")), None);
        assert_eq!(Language::Cpp.to_string(), "cpp");
    }

    #[test]
    fn c_and_cpp_admit_only_sources_and_headers() {
        for name in ["main.c", "util.h", "LIB.C"] {
            assert!(Language::C.admits_file(name), "{name}");
        }
        for name in [
            "evil.s", "evil.S", "x.o", "libx.so", "main.cpp", "Makefile", "a.c.s",
        ] {
            assert!(!Language::C.admits_file(name), "{name}");
        }
        for name in ["main.cpp", "a.hpp", "b.cc", "c.h", "d.c"] {
            assert!(Language::Cpp.admits_file(name), "{name}");
        }
        assert!(!Language::Cpp.admits_file("boot.asm"));
        assert!(Language::Python.admits_file("input.txt"));
    }
}
