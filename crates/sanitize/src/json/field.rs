//! Reading and writing one output field's text: plain JSON strings, or base64
//! (Judge0's `base64_encoded=true`), decoded leniently (line breaks, missing
//! padding, as `execgate_core::encoding` reads requests) and always sent on as
//! canonical standard padded base64: a client with a strict decoder must be able
//! to read every base64 field, including one the executor sent non-canonically.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use execgate_core::encoding::decode_base64 as decode_lenient;

/// Decodes a base64 field; `cut` says the string may have been cut short (its
/// incomplete last quantum is dropped). `None` if it is not base64.
pub(crate) fn decode_base64(value: &str, cut: bool) -> Option<Vec<u8>> {
    if !cut {
        return decode_lenient(value).ok();
    }
    let mut compact: String = value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    // Base64 is ASCII; cutting other text at a quantum could split a character.
    if !compact.is_ascii() {
        return None;
    }
    let trimmed = compact.trim_end_matches('=').len();
    compact.truncate(trimmed - trimmed % 4);
    decode_lenient(&compact).ok()
}

/// Encodes text as standard padded base64.
pub(crate) fn encode_base64(text: &str) -> String {
    STANDARD.encode(text.as_bytes())
}

/// The canonical encoding of `bytes` if `raw` (which decoded to them) is not it
/// already: unpadded, or with line breaks or blanks. The original bytes are
/// encoded, so binary output that is not UTF-8 survives.
pub(crate) fn canonical_if_not(raw: &str, bytes: &[u8]) -> Option<String> {
    // `raw` decoded to `bytes` with the trailing bits checked (the decoder refuses
    // non-zero ones), so only blanks and missing padding can make it differ from
    // the canonical text; both change its length or show up as a blank. This is
    // checked without encoding, since it runs on every unchanged base64 field.
    let canonical_len = bytes.len().div_ceil(3) * 4;
    if raw.len() == canonical_len && !raw.bytes().any(|b| b.is_ascii_whitespace()) {
        None
    } else {
        Some(STANDARD.encode(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judge0_line_broken_and_unpadded_base64_decodes() {
        assert_eq!(decode_base64("aGVsbG8K\n", false).unwrap(), b"hello\n");
        assert_eq!(decode_base64("aGVsbG8", false).unwrap(), b"hello");
        assert!(decode_base64("not base64!", false).is_none());
    }

    /// Regression (fuzz target sanitize_body): a cut field holding a multi-byte
    /// character was truncated inside it, a panic on the response path.
    #[test]
    fn a_cut_string_that_is_not_ascii_is_not_base64() {
        assert_eq!(decode_base64("aGVsbG8gd2é", true), None);
        assert_eq!(decode_base64("aGVé", true), None);
    }

    #[test]
    fn a_cut_string_drops_its_incomplete_tail() {
        assert_eq!(decode_base64("aGVsbG8gd29y", true).unwrap(), b"hello wor");
        assert_eq!(decode_base64("aGVsbG8gd2", true).unwrap(), b"hello ");
    }

    #[test]
    fn only_non_canonical_base64_is_reencoded() {
        let variants = [
            "",
            "aGk=",
            "aGk",
            "aG\nk=",
            "aGk=\n",
            " aGk=",
            "aGVsbG8=",
            "aGVsbG8",
            "aGVs\r\nbG8=",
            "//79",
            "//4",
            "aA==",
            "aA",
            "aGVsbG8K",
        ];
        for raw in variants {
            let bytes = decode_base64(raw, false).unwrap_or_else(|| panic!("{raw:?}"));
            let canonical = STANDARD.encode(&bytes);
            let expected = (raw != canonical).then_some(canonical);
            assert_eq!(canonical_if_not(raw, &bytes), expected, "{raw:?}");
        }
        assert!(
            decode_base64("aGl=", false).is_none(),
            "non-zero trailing bits are refused, so a decoded text of canonical length is canonical"
        );
    }
}
