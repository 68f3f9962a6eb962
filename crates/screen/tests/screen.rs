//! Behaviour of `screen`: the bypasses the issue names, alias resolution,
//! positions, CRS scoring and the policy switches.

use execgate_core::{Action, Severity};
use execgate_screen::{
    Language, RuleSet, ScreenPolicy, SeverityPoints, UNKNOWN_LANGUAGE_RULE, UNPARSABLE_RULE,
    Verdict, screen,
};
use std::path::Path;

fn shipped() -> RuleSet {
    RuleSet::load(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/screen")])
        .expect("shipped rules load")
}

fn py(rules: &RuleSet, code: &str) -> Verdict {
    screen(
        rules,
        Some(Language::Python),
        code.as_bytes(),
        &ScreenPolicy::default(),
    )
}

fn ids(v: &Verdict) -> Vec<&str> {
    v.findings.iter().map(|f| f.rule.as_str()).collect()
}

#[test]
fn the_one_line_bypasses_of_regex_lists_are_refused() {
    let rules = shipped();
    for code in [
        "__import__('o'+'s')",
        "getattr(__builtins__, 'ev'+'al')('1')",
        "().__class__.__bases__[0].__subclasses__()",
        "ｅｖａｌ('1')",
        "import os as o\no.listdir('.')",
        "from os import system as s\ns('id')",
        "x = 'metsys'[::-1]\ngetattr(__import__('os'), x)('id')",
        "import codecs\n__import__(codecs.decode('bf', 'rot13'))",
        "import base64\n__import__(base64.b64decode('b3M=').decode())",
        "__import__(bytes.fromhex('6f73').decode())",
        "__import__(''.join(map(chr, [111, 115])))",
        "__import__('%s%s' % ('o', 's'))",
        "__import__('{}{}'.format('o', 's'))",
        "__import__(f\"{'o'}{'s'}\")",
    ] {
        let v = py(&rules, code);
        assert!(v.refused, "{code:?} not refused: {:?}", v.findings);
    }
}

#[test]
fn calls_resolve_through_import_aliases() {
    let rules = RuleSet::from_toml(
        "t.toml",
        r#"
[[rule]]
id = "T-SYSTEM"
language = "python"
severity = "critical"
action = "block"
message = "{name} called"
match.call = ["os.system"]
"#,
    )
    .expect("valid");
    let v = py(&rules, "from os import system as s\n\n\ns('id')");
    assert_eq!(ids(&v), vec!["T-SYSTEM"]);
    assert_eq!(v.findings[0].message, "os.system called");
    assert_eq!((v.findings[0].line, v.findings[0].column), (4, 0));
    let passed = py(&rules, "from os import system as s\nprint(s)");
    assert!(
        !passed.refused,
        "a reference is not a call: {:?}",
        passed.findings
    );
}

#[test]
fn findings_carry_line_and_column() {
    let v = py(&shipped(), "x = 1\nif x:\n    y = __import__('json')\n");
    let f = v
        .findings
        .iter()
        .find(|f| f.rule == "PY-DYNAMIC-CODE")
        .expect("finding");
    assert_eq!((f.line, f.column), (3, 8));
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.action, Action::Block);
}

#[test]
fn code_in_docstrings_and_exec_strings_is_screened() {
    let rules = shipped();
    let doctest = "def f():\n    \"\"\"\n    >>> __import__('os').system('id')\n    0\n    \"\"\"\nimport doctest\ndoctest.run_docstring_examples(f, {})\n";
    assert!(py(&rules, doctest).refused);
    let plain = "def f():\n    \"\"\"\n    >>> f()\n    1\n    \"\"\"\n    return 1\n";
    assert!(!py(&rules, plain).refused);
}

const SCORING: &str = r#"
[[rule]]
id = "T-A"
language = "python"
severity = "warning"
action = "score"
message = "a"
match.name = ["alpha"]

[[rule]]
id = "T-B"
language = "python"
severity = "notice"
action = "score"
message = "b"
match.name = ["beta"]

[[rule]]
id = "T-LOG"
language = "python"
severity = "critical"
action = "log"
message = "log"
match.name = ["gamma"]

[[rule]]
id = "T-QUIET"
language = "python"
severity = "critical"
action = "block"
message = "quiet"
detection_only = true
match.name = ["delta"]
"#;

#[test]
fn score_adds_points_per_distinct_rule_and_refuses_at_the_threshold() {
    let rules = RuleSet::from_toml("t.toml", SCORING).expect("valid");
    let one = py(&rules, "alpha\nalpha\nalpha");
    assert_eq!((one.score, one.refused), (3, false), "a rule counts once");
    assert_eq!(one.findings.len(), 3, "every place is still reported");
    let both = py(&rules, "alpha\nbeta");
    assert_eq!((both.score, both.refused), (5, true));
    let strict = ScreenPolicy {
        threshold: 3,
        ..ScreenPolicy::default()
    };
    assert!(screen(&rules, Some(Language::Python), b"alpha", &strict).refused);
    let points = ScreenPolicy {
        points: SeverityPoints {
            warning: 1,
            notice: 1,
            ..SeverityPoints::default()
        },
        ..ScreenPolicy::default()
    };
    assert_eq!(
        screen(&rules, Some(Language::Python), b"alpha\nbeta", &points).score,
        2
    );
}

#[test]
fn log_and_detection_only_rules_never_refuse_or_score() {
    let rules = RuleSet::from_toml("t.toml", SCORING).expect("valid");
    let v = py(&rules, "gamma\ndelta");
    assert_eq!((v.score, v.refused), (0, false));
    assert_eq!(ids(&v), vec!["T-LOG", "T-QUIET"]);
    assert!(
        v.findings.iter().all(|f| f.action == Action::Log),
        "{:?}",
        v.findings
    );
}

#[test]
fn detection_only_policy_reports_but_never_refuses() {
    let policy = ScreenPolicy {
        detection_only: true,
        ..ScreenPolicy::default()
    };
    let v = screen(&shipped(), Some(Language::Python), b"import os", &policy);
    assert!(!v.refused);
    assert!(v.score >= 5);
    assert_eq!(ids(&v), vec!["PY-IMPORT-PROCESS"]);
}

#[test]
fn unparsable_code_is_forwarded_by_default_and_refused_on_request() {
    let rules = shipped();
    let v = py(&rules, "print 'hello'");
    assert!(!v.refused);
    assert!(v.parse_error.is_some());
    let strict = ScreenPolicy {
        refuse_unparsable: true,
        ..ScreenPolicy::default()
    };
    let v = screen(&rules, Some(Language::Python), b"print 'hello'", &strict);
    assert!(v.refused);
    assert_eq!(v.findings[0].rule, UNPARSABLE_RULE);
}

#[test]
fn regex_and_token_rules_still_run_on_unparsable_code() {
    let rules = shipped();
    let v = py(&rules, "exec \"import os\"\n");
    assert!(v.refused, "{:?}", v.findings);
    let v = py(
        &rules,
        "try:\n    pass\nexcept ValueError, TypeError:\n    license._Printer__lines = 1\n",
    );
    assert!(
        ids(&v).contains(&"PY-NAME-MANGLED-PRIVATE"),
        "{:?}",
        v.findings
    );
}

#[test]
fn unknown_language_runs_only_any_rules_unless_refused_by_policy() {
    let rules = shipped();
    let v = screen(
        &rules,
        None,
        b"import os\nx = '\xE2\x80\xAE'",
        &ScreenPolicy::default(),
    );
    assert_eq!(ids(&v), vec!["ANY-BIDI-CONTROL"]);
    assert!(!v.refused);
    let strict = ScreenPolicy {
        refuse_unknown_language: true,
        ..ScreenPolicy::default()
    };
    let v = screen(&rules, None, b"print(1)", &strict);
    assert!(v.refused);
    assert_eq!(ids(&v), vec![UNKNOWN_LANGUAGE_RULE]);
}

#[test]
fn other_languages_use_their_pattern_pack() {
    let rules = shipped();
    let js = screen(
        &rules,
        Some(Language::Javascript),
        b"const cp = require('child_process');",
        &ScreenPolicy::default(),
    );
    assert!(js.refused);
    let c_rules_do_not_apply_to_js = screen(
        &rules,
        Some(Language::Javascript),
        b"system(\"id\");",
        &ScreenPolicy::default(),
    );
    assert!(!c_rules_do_not_apply_to_js.refused);
    let cpp = screen(
        &rules,
        Some(Language::Cpp),
        b"int main(){ system(\"id\"); }",
        &ScreenPolicy::default(),
    );
    assert_eq!(ids(&cpp), vec!["C-PROCESS"], "c.toml rules cover C++ too");
}

#[test]
fn coding_cookies_lone_cr_and_bom_are_read_as_cpython_reads_them() {
    let rules = shipped();
    assert!(py(&rules, "# -*- coding: utf-7 -*-\n# +AAo-import os\n").refused);
    let v = screen(
        &rules,
        Some(Language::Python),
        b"# note\rimport os\ros.system('id')\r",
        &ScreenPolicy::default(),
    );
    assert!(v.refused);
    assert!(v.findings.iter().any(|f| f.line == 2), "{:?}", v.findings);
    assert!(
        screen(
            &rules,
            Some(Language::Python),
            b"\xEF\xBB\xBFimport os\n",
            &ScreenPolicy::default()
        )
        .refused
    );
    assert!(
        !screen(
            &rules,
            Some(Language::Python),
            b"\xEF\xBB\xBFprint(1)\n",
            &ScreenPolicy::default()
        )
        .refused
    );
}

#[test]
fn the_verdict_serialises_for_the_gateway() {
    let v = py(&shipped(), "import os");
    let json = serde_json::to_value(&v.findings).expect("serialisable");
    assert_eq!(json[0]["rule"], "PY-IMPORT-PROCESS");
    assert_eq!(json[0]["line"], 1);
    assert_eq!(json[0]["column"], 0);
    assert_eq!(json[0]["severity"], "critical");
    assert_eq!(json[0]["action"], "block");
    assert_eq!(
        json[0]["message"],
        "module os can run programs and is not allowed"
    );
}
