//! Request text decoded and checked, with the field named on failure: the
//! transfer encodings themselves are `execgate_core::Encoding`, shared with the
//! bundled runner, so the code that is screened is the code that runs.

use crate::model::RequestError;
pub use execgate_core::Encoding;
pub use execgate_core::encoding::encode_base64;

/// Reads Piston's `encoding` value.
pub(crate) fn encoding_named(name: &str, field: String) -> Result<Encoding, RequestError> {
    Encoding::from_name(name).ok_or_else(|| {
        RequestError::new(
            field,
            format!("unknown encoding {name:?}: use utf8, base64 or hex"),
        )
    })
}

/// Decodes `text` as `encoding`, naming `field` on failure.
pub(crate) fn decode(text: &str, encoding: Encoding, field: &str) -> Result<Vec<u8>, RequestError> {
    encoding
        .decode(text)
        .map_err(|e| RequestError::new(field, e))
}

/// Base64 with line breaks and spaces ignored (Judge0's `base64_encoded`).
pub(crate) fn decode_base64(text: &str, field: &str) -> Result<Vec<u8>, RequestError> {
    decode(text, Encoding::Base64, field)
}

/// Code must be UTF-8 text without NUL bytes: screening reads it as text, and a
/// NUL is a classic way to make a checker and an interpreter see different programs.
pub(crate) fn check_code(bytes: &[u8], field: &str) -> Result<(), RequestError> {
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(RequestError::new(
            field,
            format!(
                "is not valid UTF-8 (first invalid byte at offset {})",
                e.valid_up_to()
            ),
        ));
    }
    match bytes.iter().position(|&b| b == 0) {
        Some(at) => Err(RequestError::new(
            field,
            format!("contains a NUL byte at offset {at}"),
        )),
        None => Ok(()),
    }
}

/// A file name must stay inside the executor's job directory and read as a
/// file name: the rule is `execgate_core::check_file_name`, the runner's too.
pub(crate) fn check_file_name(name: &str, field: &str) -> Result<(), RequestError> {
    execgate_core::check_file_name(name).map_err(|why| RequestError::new(field, why.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_decode_to_the_same_bytes() {
        assert_eq!(decode("hé", Encoding::Utf8, "f").unwrap(), "hé".as_bytes());
        assert_eq!(decode("aGk=", Encoding::Base64, "f").unwrap(), b"hi");
        assert_eq!(decode("aGk", Encoding::Base64, "f").unwrap(), b"hi");
        assert_eq!(decode("aG\nk=\r\n", Encoding::Base64, "f").unwrap(), b"hi");
        assert_eq!(decode("6869", Encoding::Hex, "f").unwrap(), b"hi");
        assert_eq!(decode("6A6b", Encoding::Hex, "f").unwrap(), b"jk");
    }

    #[test]
    fn bad_encodings_name_the_field() {
        let err = decode("a*b", Encoding::Base64, "files[0].content").unwrap_err();
        assert_eq!(err.field, "files[0].content");
        assert!(err.message.starts_with("invalid base64"), "{err}");
        // URL-safe alphabet is not what the executors decode the same way
        assert!(decode("_-__", Encoding::Base64, "f").is_err());
        assert!(
            decode("686", Encoding::Hex, "f")
                .unwrap_err()
                .message
                .contains("hex")
        );
        assert!(decode("zz", Encoding::Hex, "f").is_err());
        let err = encoding_named("latin1", "files[0].encoding".into()).unwrap_err();
        assert!(err.message.contains("latin1"));
    }

    #[test]
    fn code_must_be_text_without_nul() {
        assert!(check_code(b"print(1)", "c").is_ok());
        let err = check_code(b"ok\0rm", "source_code").unwrap_err();
        assert_eq!(
            err,
            RequestError::new("source_code", "contains a NUL byte at offset 2")
        );
        let err = check_code(b"x\xff", "c").unwrap_err();
        assert!(err.message.contains("UTF-8") && err.message.contains("offset 1"));
    }
}
