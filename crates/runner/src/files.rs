//! Request files on the host side: names are checked to stay inside the
//! sandbox's `/tmp` (no `..`, no absolute path), contents are decoded from
//! the request's encoding. Nothing here touches the file system.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

/// Longest accepted file name.
const MAX_NAME: usize = 255;
/// Most files in one request.
pub const MAX_FILES: usize = 64;

/// How a file's content is encoded in a request.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// Plain text (the default).
    #[default]
    Utf8,
    /// Standard base64.
    Base64,
    /// Hexadecimal.
    Hex,
}

impl Encoding {
    /// Decodes `text` into bytes.
    pub fn decode(self, text: &str) -> Result<Vec<u8>, String> {
        match self {
            Encoding::Utf8 => Ok(text.as_bytes().to_vec()),
            Encoding::Base64 => STANDARD
                .decode(text.trim())
                .map_err(|e| format!("invalid base64: {e}")),
            Encoding::Hex => hex::decode(text.trim()).map_err(|e| format!("invalid hex: {e}")),
        }
    }
}

/// Accepts a relative name whose every component is a plain name.
pub fn check_name(name: &str) -> Result<(), String> {
    let refuse = |why: &str| Err(format!("file name {name:?} refused: {why}"));
    if name.is_empty() || name.len() > MAX_NAME {
        return refuse("empty or too long");
    }
    if name.starts_with('/') {
        return refuse("absolute paths are not allowed");
    }
    if name.contains('\0') || name.contains('\\') {
        return refuse("NUL and backslash are not allowed");
    }
    for part in name.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return refuse("path components must be plain names (no '..', '.', '//')");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_escape_are_refused() {
        for bad in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a//b",
            "./a",
            "",
            "a\0b",
            "..",
            "a/..",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["main.py", "pkg/mod.py", "a.b.c", "..a", "a.."] {
            assert!(check_name(good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn encodings_decode_and_reject_garbage() {
        assert_eq!(Encoding::Base64.decode("AP8=").unwrap(), vec![0, 255]);
        assert_eq!(Encoding::Hex.decode("00ff").unwrap(), vec![0, 255]);
        assert_eq!(Encoding::Utf8.decode("é").unwrap(), "é".as_bytes());
        assert!(Encoding::Base64.decode("!!").is_err());
        assert!(Encoding::Hex.decode("zz").is_err());
    }
}
