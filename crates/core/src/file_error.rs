//! Errors in files the operator owns always say where: `file:line: key: reason`.

use serde::de::DeserializeOwned;
use std::fmt;
use std::path::{Path, PathBuf};

/// A problem in a config or rule file, located as precisely as known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// The file.
    pub path: PathBuf,
    /// The 1-based line, when known.
    pub line: Option<usize>,
    /// The dotted key or rule id the problem is about, when known.
    pub key: Option<String>,
    /// What is wrong, in words an operator can act on.
    pub reason: String,
}

impl FileError {
    /// An error about a whole file.
    pub fn new(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            line: None,
            key: None,
            reason: reason.into(),
        }
    }

    /// The same error, about `key` at `line`.
    pub fn at(mut self, line: Option<usize>, key: Option<String>) -> Self {
        self.line = line;
        self.key = key;
        self
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": {key}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for FileError {}

/// The 1-based line of byte `offset` in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Reads and deserializes a TOML file; errors carry the file, line and dotted key.
pub fn load_toml<T: DeserializeOwned>(path: &Path) -> Result<T, FileError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| FileError::new(path, format!("cannot read: {e}")))?;
    parse_toml(path, &text)
}

/// Deserializes TOML `text` that came from `path`.
pub fn parse_toml<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, FileError> {
    let de = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let key = err.path().to_string();
        let inner = err.into_inner();
        let line = inner.span().map(|s| line_of(text, s.start));
        let key = (key != "." && !key.is_empty()).then_some(key);
        // The TOML parser says nothing for some errors (a control character in a
        // comment): a file error must always say why.
        let message = match inner.message().trim() {
            "" => "not valid TOML (a syntax error or a control character)",
            message => message,
        };
        FileError::new(path, message.to_string()).at(line, key)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    /// Regression (fuzz target screen_rules): a NUL in a comment was refused
    /// with an empty reason.
    #[test]
    fn a_control_character_is_refused_with_a_reason_and_its_line() {
        let text = "[server]\n# a comment \0 with a NUL\nport = 1\n";
        let err = parse_toml::<Sample>(Path::new("f.toml"), text).unwrap_err();
        assert_eq!(err.line, Some(2), "{err}");
        assert!(!err.reason.is_empty(), "{err}");
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        server: Server,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Server {
        port: u16,
        size: crate::ByteSize,
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let text = "[server]\nport = 80\nsize = \"10 parsecs\"\n";
        let err = parse_toml::<Sample>(Path::new("x.toml"), text).unwrap_err();
        assert_eq!(err.line, Some(3));
        assert_eq!(err.key.as_deref(), Some("server.size"));
        assert!(
            err.to_string().starts_with("x.toml:3: server.size: "),
            "{err}"
        );
    }

    #[test]
    fn unknown_keys_are_errors() {
        let text = "[server]\nport = 80\nsize = 1\nprot = 1\n";
        let err = parse_toml::<Sample>(Path::new("x.toml"), text).unwrap_err();
        assert!(err.reason.contains("unknown field `prot`"), "{err}");
        assert_eq!(err.line, Some(4));
    }

    #[test]
    fn line_of_counts_newlines_before_offset() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 999), 3);
    }
}
