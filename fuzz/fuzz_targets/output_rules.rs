//! The output rule loader on any file text: rules or `file:line` errors, never a panic.
#![no_main]

use execgate_sanitize::OutputRules;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(errors) = OutputRules::parse(&[(Path::new("fuzz.toml"), text)]) {
        assert!(!errors.is_empty(), "a refused file must say why");
    }
});
