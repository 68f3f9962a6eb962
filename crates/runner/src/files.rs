//! Request files on the host side: names are checked to stay inside the
//! sandbox's `/tmp` (no `..`, no absolute path); contents are decoded from
//! the request's encoding (`execgate_core::Encoding`, the gateway's own
//! decoding). Nothing here touches the file system.

pub use execgate_core::Encoding;

/// Longest accepted file name.
const MAX_NAME: usize = 255;
/// Most files in one request.
pub const MAX_FILES: usize = 64;

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
