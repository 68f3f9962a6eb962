//! The verdict cache: the same code under the same rules and policy is
//! screened once; line ends do not matter, the policy and the rule set do.

use execgate_screen::{CacheUse, Language, RuleSet, ScreenPolicy, screen, screen_cached};
use std::path::Path;

fn shipped() -> RuleSet {
    RuleSet::load(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/screen")])
        .expect("shipped rules load")
}

const ESCAPE: &[u8] = b"import timeit\ntimeit.timeit(input())\n";
const BENIGN: &[u8] = b"n = int(input())\nprint(sum(range(n)))\n";

#[test]
fn a_repeated_program_is_answered_from_the_cache_with_the_same_verdict() {
    let rules = shipped();
    let policy = ScreenPolicy::default();
    let py = Some(Language::Python);
    for code in [ESCAPE, BENIGN] {
        let first = screen_cached(&rules, py, code, &policy);
        let again = screen_cached(&rules, py, code, &policy);
        let fresh = screen(&rules, py, code, &policy);
        assert_eq!((first.cache, again.cache), (CacheUse::Miss, CacheUse::Hit));
        for v in [&first, &again] {
            assert_eq!(v.refused, fresh.refused);
            assert_eq!(v.score, fresh.score);
            assert_eq!(v.findings, fresh.findings);
        }
    }
    assert!(screen_cached(&rules, py, ESCAPE, &policy).refused);
    let stats = rules.cache_stats();
    assert_eq!((stats.hits, stats.misses, stats.entries), (3, 2, 2));
}

#[test]
fn line_ends_share_an_entry_but_policy_and_language_do_not() {
    let rules = shipped();
    let policy = ScreenPolicy::default();
    let py = Some(Language::Python);
    screen_cached(&rules, py, BENIGN, &policy);
    let crlf = screen_cached(
        &rules,
        py,
        b"n = int(input())\r\nprint(sum(range(n)))\r\n",
        &policy,
    );
    assert_eq!(crlf.cache, CacheUse::Hit);
    let lenient = ScreenPolicy {
        detection_only: true,
        ..ScreenPolicy::default()
    };
    let under_other_policy = screen_cached(&rules, py, ESCAPE, &lenient);
    assert_eq!(under_other_policy.cache, CacheUse::Miss);
    assert!(!under_other_policy.refused);
    let enforced = screen_cached(&rules, py, ESCAPE, &policy);
    assert_eq!(enforced.cache, CacheUse::Miss);
    assert!(enforced.refused);
    let as_js = screen_cached(&rules, Some(Language::Javascript), BENIGN, &policy);
    assert_eq!(as_js.cache, CacheUse::Miss);
}

/// A reload builds a new rule set: verdicts of the old rules are not reused.
#[test]
fn a_reloaded_rule_set_screens_again_under_its_own_rules() {
    let lenient = RuleSet::from_toml("a.toml", "").expect("empty rules");
    let policy = ScreenPolicy::default();
    let py = Some(Language::Python);
    assert!(!screen_cached(&lenient, py, b"import os", &policy).refused);
    let strict = RuleSet::from_toml(
        "b.toml",
        "[[rule]]\nid = \"OS\"\nlanguage = \"python\"\nseverity = \"critical\"\naction = \"block\"\nmessage = \"m\"\nmatch.import = [\"os\"]\n",
    )
    .expect("valid");
    let v = screen_cached(&strict, py, b"import os", &policy);
    assert_eq!(v.cache, CacheUse::Miss);
    assert!(v.refused);
}
