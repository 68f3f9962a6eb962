//! The Python screener (guard, parse, walk, folding) on any source with the
//! shipped rules: a verdict, never a panic, within its analysis bound
//! (libFuzzer's -timeout catches an input that runs past it).
#![no_main]

use execgate_screen::{Language, RuleSet, ScreenPolicy, screen};
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::LazyLock;

static RULES: LazyLock<RuleSet> = LazyLock::new(|| {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rules/screen");
    RuleSet::load(&[dir]).expect("the shipped screening rules")
});

fuzz_target!(|data: &[u8]| {
    let verdict = screen(&RULES, Some(Language::Python), data, &ScreenPolicy::default());
    assert!(verdict.findings.iter().all(|f| f.line >= 1), "lines are 1-based");
});
