//! The one rule for the names a request gives its files, applied by the
//! gateway's dialects and by the bundled runner alike: a name the gateway
//! passes is one the runner writes, and the other way round.
//!
//! A name is written below the sandbox's job directory and often handed to a
//! compiler on its command line (`gcc -o a.out {files}`), so it must stay
//! inside that directory and must not read as anything but a file name:
//! relative, `/`-separated plain components (no empty, `.` or `..` one), no
//! `\` or `:` (Windows separators, drive letters, NTFS streams on executors
//! that run there), no control characters, and no leading `-` or `@` (a
//! compiler option or a response file of options).

use std::fmt;

/// Longest accepted name in bytes (the common file-system limit of one name).
pub const MAX_FILE_NAME_BYTES: usize = 255;

/// Why a file name is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileNameError {
    /// The name is empty.
    Empty,
    /// Longer than [`MAX_FILE_NAME_BYTES`].
    TooLong,
    /// Starts with `/`.
    Absolute,
    /// Contains NUL or another control character.
    ControlCharacter,
    /// Contains `\` or `:`.
    ForeignSeparator,
    /// Has an empty, `.` or `..` component (`a//b`, `./x`, `../x`, `a/`).
    NotPlainComponent,
    /// Starts with `-` or `@`, which compilers read as options.
    OptionLike,
}

impl fmt::Display for FileNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileNameError::Empty => "must not be empty",
            FileNameError::TooLong => "is longer than 255 bytes",
            FileNameError::Absolute => "must be a relative path, not an absolute one",
            FileNameError::ControlCharacter => "must not contain NUL or control characters",
            FileNameError::ForeignSeparator => "must not contain \\ or :",
            FileNameError::NotPlainComponent => {
                "every /-separated part must be a plain name (no empty part, `.` or `..`)"
            }
            FileNameError::OptionLike => "must not start with - or @ (read as compiler options)",
        })
    }
}

impl std::error::Error for FileNameError {}

/// Checks `name` against the rule above.
pub fn check_file_name(name: &str) -> Result<(), FileNameError> {
    if name.is_empty() {
        return Err(FileNameError::Empty);
    }
    if name.len() > MAX_FILE_NAME_BYTES {
        return Err(FileNameError::TooLong);
    }
    if name.starts_with('/') {
        return Err(FileNameError::Absolute);
    }
    if name.chars().any(char::is_control) {
        return Err(FileNameError::ControlCharacter);
    }
    if name.contains(['\\', ':']) {
        return Err(FileNameError::ForeignSeparator);
    }
    if name
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(FileNameError::NotPlainComponent);
    }
    if name.starts_with(['-', '@']) {
        return Err(FileNameError::OptionLike);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use FileNameError::*;

    #[test]
    fn plain_relative_names_pass() {
        for ok in [
            "main.py",
            "lib/util.py",
            "a..b",
            "..a",
            "a..",
            ".hidden",
            "a-b@c.py",
            "dir/-x.c",
            "é.py",
        ] {
            assert_eq!(check_file_name(ok), Ok(()), "{ok:?}");
        }
        assert_eq!(check_file_name(&"a".repeat(255)), Ok(()));
    }

    #[test]
    fn each_refusal_says_why() {
        for (bad, why) in [
            ("", Empty),
            ("/etc/passwd", Absolute),
            ("a\0b", ControlCharacter),
            ("a\nb", ControlCharacter),
            ("a\u{7f}", ControlCharacter),
            ("a\\b", ForeignSeparator),
            ("C:x", ForeignSeparator),
            ("a//b", NotPlainComponent),
            ("./x", NotPlainComponent),
            ("../x", NotPlainComponent),
            ("a/../../x", NotPlainComponent),
            ("a/", NotPlainComponent),
            ("..", NotPlainComponent),
            ("-fplugin=x.so", OptionLike),
            ("@opts", OptionLike),
        ] {
            assert_eq!(check_file_name(bad), Err(why), "{bad:?}");
        }
        assert_eq!(check_file_name(&"a".repeat(256)), Err(TooLong));
    }
}
