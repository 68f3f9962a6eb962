//! What the red-team style tests share: the shipped rule set, loaded once,
//! and one test per case through `escape!` (refused) and `benign!` (passed).
//! Python is the default language; `escape!(name, Language::C, "…")` names another.

#![allow(dead_code)]

use execgate_screen::{Language, RuleSet, ScreenPolicy, Verdict, screen};
use std::path::Path;
use std::sync::OnceLock;

/// The shipped rules (`rules/screen`), loaded once per test binary.
pub fn shipped() -> &'static RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES.get_or_init(|| {
        RuleSet::load(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/screen")])
            .expect("shipped rules load")
    })
}

/// The shipped rules' verdict on `code` in `language` under the default policy.
pub fn verdict_in(language: Language, code: &str) -> Verdict {
    screen(
        shipped(),
        Some(language),
        code.as_bytes(),
        &ScreenPolicy::default(),
    )
}

/// The shipped rules' verdict on Python `code`.
pub fn verdict(code: &str) -> Verdict {
    verdict_in(Language::Python, code)
}

pub fn assert_refused(language: Language, name: &str, code: &str) {
    let v = verdict_in(language, code);
    assert!(
        v.refused,
        "escape {name} not refused: score {} {:?}",
        v.score, v.findings
    );
}

pub fn assert_passed(language: Language, name: &str, code: &str) {
    let v = verdict_in(language, code);
    assert!(
        !v.refused,
        "benign {name} refused: score {} {:?}",
        v.score, v.findings
    );
}

/// One test per escape attempt, named after it: refused.
#[allow(unused_macros)]
macro_rules! escape {
    ($name:ident, $code:expr) => {
        escape!($name, execgate_screen::Language::Python, $code);
    };
    ($name:ident, $lang:expr, $code:expr) => {
        #[test]
        fn $name() {
            $crate::support::assert_refused($lang, stringify!($name), $code);
        }
    };
}

/// One test per ordinary program, named after it: passed.
#[allow(unused_macros)]
macro_rules! benign {
    ($name:ident, $code:expr) => {
        benign!($name, execgate_screen::Language::Python, $code);
    };
    ($name:ident, $lang:expr, $code:expr) => {
        #[test]
        fn $name() {
            $crate::support::assert_passed($lang, stringify!($name), $code);
        }
    };
}
