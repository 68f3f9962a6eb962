//! The screening rule loader on any file text: a rule set or `file:line`
//! errors, never a panic.
#![no_main]

use execgate_screen::RuleSet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(errors) = RuleSet::from_toml("fuzz.toml", text) {
        assert!(!errors.is_empty(), "a refused file must say why");
        for error in errors {
            assert!(!error.reason().is_empty());
        }
    }
});
