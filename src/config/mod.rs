//! Config file → typed, validated settings, before any listener opens.
//!
//! `raw` mirrors the file (unknown keys are errors); `validate` turns it into
//! `Settings` (`settings`, with `identity`, `ip_policy` and `tiers` checked in
//! their own modules) whose fields can no longer be wrong, and every failure
//! (`invalid`) names its `file:line: key`.

pub mod identity;
mod invalid;
pub mod ip_policy;
mod locate;
pub mod rate;
pub mod raw;
pub mod settings;
pub mod tiers;
mod validate;

pub use identity::{ApiClient, IdentitySettings, JwtAlgorithm, JwtSettings};
pub use ip_policy::IpPolicySettings;
pub use rate::{Rate, Window};
pub use raw::RawConfig;
pub use settings::{LimitSettings, ServerSettings, Settings, UpstreamSettings};
pub use tiers::Tier;

use execgate_core::FileError;
use std::path::Path;

/// Reads, parses and validates the config file at `path`.
pub fn load(path: &Path) -> Result<Settings, FileError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| FileError::new(path, format!("cannot read: {e}")))?;
    from_text(path, &text)
}

/// Parses and validates config `text` that came from `path`.
pub fn from_text(path: &Path, text: &str) -> Result<Settings, FileError> {
    let raw: RawConfig = execgate_core::file_error::parse_toml(path, text)?;
    validate::validate(raw, path).map_err(|invalid| {
        let line = locate::line_of_key(text, &invalid.key);
        FileError::new(path, invalid.reason).at(line, Some(invalid.key))
    })
}
