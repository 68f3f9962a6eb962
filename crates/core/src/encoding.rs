//! Transfer encodings of code, stdin and files (utf8, base64, hex), decoded the
//! same strict way wherever a request is read: the gateway screens exactly the
//! bytes the bundled runner will run.

use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use serde::{Deserialize, Serialize};

/// How a text field carries its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// The JSON string is the content.
    #[default]
    Utf8,
    /// Standard base64 (padding optional, whitespace ignored).
    Base64,
    /// Hexadecimal, either case.
    Hex,
}

impl Encoding {
    /// The encoding called `name` (`utf8`, `base64`, `hex`), as requests name it.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "utf8" => Some(Encoding::Utf8),
            "base64" => Some(Encoding::Base64),
            "hex" => Some(Encoding::Hex),
            _ => None,
        }
    }

    /// Decodes `text`; the error says what is wrong with it.
    pub fn decode(self, text: &str) -> Result<Vec<u8>, String> {
        match self {
            Encoding::Utf8 => Ok(text.as_bytes().to_vec()),
            Encoding::Base64 => decode_base64(text),
            Encoding::Hex => hex::decode(text.trim()).map_err(|e| format!("invalid hex: {e}")),
        }
    }
}

/// Standard alphabet, padding optional (Node and Ruby accept both).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Base64 with line breaks and spaces ignored (MIME-wrapped input is common).
pub fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    let compact: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    BASE64
        .decode(&compact)
        .map_err(|e| format!("invalid base64: {e}"))
}

/// Standard padded base64, as responses carry it.
pub fn encode_base64(bytes: &[u8]) -> String {
    general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_decode_to_the_same_bytes() {
        assert_eq!(Encoding::Utf8.decode("hé").unwrap(), "hé".as_bytes());
        for b64 in ["aGk=", "aGk", "aG\nk=\r\n"] {
            assert_eq!(Encoding::Base64.decode(b64).unwrap(), b"hi", "{b64:?}");
        }
        assert_eq!(Encoding::Hex.decode("6869").unwrap(), b"hi");
        assert_eq!(Encoding::Hex.decode("6A6b").unwrap(), b"jk");
        assert_eq!(Encoding::from_name("hex"), Some(Encoding::Hex));
        assert_eq!(Encoding::from_name("latin1"), None);
    }

    #[test]
    fn other_alphabets_and_bad_digits_are_refused() {
        assert!(
            Encoding::Base64.decode("_-__").is_err(),
            "URL-safe alphabet"
        );
        assert!(
            Encoding::Base64
                .decode("a*b")
                .unwrap_err()
                .starts_with("invalid base64")
        );
        assert!(Encoding::Hex.decode("686").unwrap_err().contains("hex"));
        assert!(Encoding::Hex.decode("zz").is_err());
    }
}
