//! Request files on the host side: names are checked to stay inside the
//! sandbox's `/tmp` (the shared rule of `execgate_core::file_name`); contents are decoded from
//! the request's encoding (`execgate_core::Encoding`, the gateway's own
//! decoding). Nothing here touches the file system.

pub use execgate_core::Encoding;

/// Most files in one request.
pub const MAX_FILES: usize = 64;

/// Accepts a name by the rule the gateway applies too
/// (`execgate_core::check_file_name`): relative, plain components.
pub fn check_name(name: &str) -> Result<(), String> {
    execgate_core::check_file_name(name).map_err(|why| format!("file name {name:?} refused: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_decode_and_reject_garbage() {
        assert_eq!(Encoding::Base64.decode("AP8=").unwrap(), vec![0, 255]);
        assert_eq!(Encoding::Hex.decode("00ff").unwrap(), vec![0, 255]);
        assert_eq!(Encoding::Utf8.decode("é").unwrap(), "é".as_bytes());
        assert!(Encoding::Base64.decode("!!").is_err());
        assert!(Encoding::Hex.decode("zz").is_err());
    }
}
