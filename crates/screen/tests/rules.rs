//! Every shipped rule has a sample that fires and a near miss that does not
//! (tests/fixtures/rule_cases.toml), and every rule id has at least one case.

use execgate_screen::{Language, RuleSet, ScreenPolicy, screen};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::Path;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Cases {
    case: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    rule: String,
    language: String,
    fires: String,
    near_miss: String,
    #[serde(default)]
    bytes: Option<String>,
}

fn shipped_rules() -> RuleSet {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/screen");
    RuleSet::load(&[dir]).unwrap_or_else(|e| panic!("shipped rules invalid: {e:?}"))
}

fn cases() -> Vec<Case> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rule_cases.toml");
    let text = std::fs::read_to_string(&path).expect("fixtures readable");
    toml::from_str::<Cases>(&text).expect("fixtures valid").case
}

fn encode(text: &str, bytes: Option<&str>) -> Vec<u8> {
    match bytes {
        Some("latin1") => text
            .chars()
            .map(|c| u8::try_from(u32::from(c)).expect("latin-1 character"))
            .collect(),
        Some(other) => panic!("unknown bytes mode {other}"),
        None => text.as_bytes().to_vec(),
    }
}

fn rules_hit(rules: &RuleSet, language: &str, code: &[u8]) -> Vec<String> {
    let lang = Language::from_name(language).expect("known language");
    screen(rules, Some(lang), code, &ScreenPolicy::default())
        .findings
        .into_iter()
        .map(|f| f.rule)
        .collect()
}

#[test]
fn every_rule_fires_on_its_sample_and_not_on_its_near_miss() {
    let rules = shipped_rules();
    let mut failures = Vec::new();
    for case in cases() {
        let fires = if case.rule == "PY-TOO-COMPLEX" {
            format!("x = {}1\n", "-".repeat(5_000)).into_bytes()
        } else {
            encode(&case.fires, case.bytes.as_deref())
        };
        let hit = rules_hit(&rules, &case.language, &fires);
        if !hit.contains(&case.rule) {
            failures.push(format!(
                "{} did not fire on {:?}: {hit:?}",
                case.rule, case.fires
            ));
        }
        let miss = rules_hit(
            &rules,
            &case.language,
            &encode(&case.near_miss, case.bytes.as_deref()),
        );
        if miss.contains(&case.rule) {
            failures.push(format!(
                "{} fired on near miss {:?}",
                case.rule, case.near_miss
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_shipped_rule_has_a_case() {
    let covered: BTreeSet<String> = cases().into_iter().map(|c| c.rule).collect();
    let rules = shipped_rules();
    let missing: Vec<&str> = rules
        .rules()
        .iter()
        .map(|r| r.id.as_str())
        .filter(|id| !covered.contains(*id))
        .collect();
    assert!(missing.is_empty(), "rules without a case: {missing:?}");
}
