//! Reading and writing one output field's text: plain JSON strings, or base64
//! (Judge0's `base64_encoded=true`), decoded leniently (line breaks, missing
//! padding) and always written back as valid standard base64.

use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};

const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes a base64 field; `cut` says the string may have been cut short (its
/// incomplete last quantum is dropped). Invalid UTF-8 becomes U+FFFD. `None` if it
/// is not base64.
pub(crate) fn decode_base64(value: &str, cut: bool) -> Option<String> {
    let mut compact: String = value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if cut {
        let trimmed = compact.trim_end_matches('=').len();
        compact.truncate(trimmed - trimmed % 4);
    }
    let bytes = LENIENT.decode(compact.as_bytes()).ok()?;
    Some(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// Encodes text as standard padded base64.
pub(crate) fn encode_base64(text: &str) -> String {
    STANDARD.encode(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judge0_line_broken_and_unpadded_base64_decodes() {
        assert_eq!(decode_base64("aGVsbG8K\n", false).unwrap(), "hello\n");
        assert_eq!(decode_base64("aGVsbG8", false).unwrap(), "hello");
        assert!(decode_base64("not base64!", false).is_none());
    }

    #[test]
    fn a_cut_string_drops_its_incomplete_tail() {
        assert_eq!(decode_base64("aGVsbG8gd29y", true).unwrap(), "hello wor");
        assert_eq!(decode_base64("aGVsbG8gd2", true).unwrap(), "hello ");
    }
}
