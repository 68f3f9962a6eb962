//! Hostile input to the screener itself: it must never panic, overflow its
//! stack or hang, whatever the bytes, and must run safely from a small stack
//! (a 2 MiB tokio worker).

use execgate_screen::{Language, RuleSet, ScreenPolicy, Verdict, screen};
use std::path::Path;
use std::time::Duration;

fn shipped() -> RuleSet {
    RuleSet::load(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/screen")])
        .expect("shipped rules load")
}

/// The default policy; unoptimised test builds lex and parse ~20x slower, so
/// only the analysis time budget is widened there.
fn policy() -> ScreenPolicy {
    let mut policy = ScreenPolicy::default();
    if cfg!(debug_assertions) {
        policy.analysis_timeout.0 = Duration::from_secs(120);
    }
    policy
}

/// Screens on a thread with a tokio-sized stack, as the gateway would.
fn screen_on_small_stack(code: Vec<u8>) -> Verdict {
    screen_with(code, policy())
}

fn screen_with(code: Vec<u8>, policy: ScreenPolicy) -> Verdict {
    let rules = shipped();
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || screen(&rules, Some(Language::Python), &code, &policy))
        .expect("thread")
        .join()
        .expect("screening must not panic")
}

/// Fails unless `rule` is among the verdict's findings.
fn assert_found(v: &Verdict, rule: &str) {
    assert!(
        v.findings.iter().any(|f| f.rule == rule),
        "{rule} not in {:?}",
        v.findings
    );
}

fn payload_after(prefix: String) -> Vec<u8> {
    format!("{prefix}\n__import__('os').system('id')\n").into_bytes()
}

#[test]
fn hundred_thousand_nested_brackets_do_not_overflow() {
    for (open, close) in [("(", ")"), ("[", "]"), ("{", "}")] {
        let code = payload_after(format!(
            "x = {}1{}",
            open.repeat(100_000),
            close.repeat(100_000)
        ));
        let v = screen_on_small_stack(code);
        assert!(v.refused, "payload after deep {open}: {:?}", v.findings);
        assert_found(&v, "PY-TOO-COMPLEX");
    }
}

#[test]
fn hundred_thousand_nested_lambdas_and_operators_do_not_overflow() {
    for deep in [
        format!("f = {}0", "lambda: ".repeat(100_000)),
        format!("x = {}1", "-".repeat(100_000)),
        format!("x = {}1", "1 + ".repeat(100_000)),
        format!("x = {}1", "not ".repeat(100_000)),
        format!("x = a{}", ".b".repeat(100_000)),
        format!("x = f{}", "()".repeat(100_000)),
        format!("x = {}1", "1 if x else ".repeat(50_000)),
        format!("x = f\"{{{}1}}\"", "-".repeat(100_000)),
        format!(
            "x = f\"{{{}1{}}}\"",
            "(lambda: ".repeat(30_000),
            ")".repeat(30_000)
        ),
    ] {
        let v = screen_on_small_stack(payload_after(deep.clone()));
        assert!(
            v.refused,
            "payload after {:?}: {:?}",
            &deep[..12],
            v.findings
        );
    }
}

#[test]
fn expressions_just_under_the_guard_are_analysed_on_their_tree() {
    // 1 500 nested unary minus is below the depth guard: parsed, walked and dropped.
    let code = format!("x = {}1\nimport os\n", "-".repeat(1_500));
    let v = screen_on_small_stack(code.into_bytes());
    assert!(v.parse_error.is_none(), "{:?}", v.parse_error);
    assert_found(&v, "PY-IMPORT-PROCESS");
    assert!(!v.findings.iter().any(|f| f.rule == "PY-TOO-COMPLEX"));
}

#[test]
fn deep_indentation_is_screened_as_text() {
    let mut code = String::new();
    for depth in 0..200 {
        code.push_str(&" ".repeat(depth));
        code.push_str("if x:\n");
    }
    code.push_str(&" ".repeat(200));
    code.push_str("__import__('os')\n");
    let v = screen_on_small_stack(code.into_bytes());
    assert!(v.refused, "{:?}", v.findings);
}

#[test]
fn a_ten_megabyte_line_is_screened_as_text_in_bounded_time() {
    let mut code = b"x = '".to_vec();
    code.extend(std::iter::repeat_n(b'a', 10 << 20));
    code.extend(b"'; __import__('os')\n");
    let v = screen_on_small_stack(code);
    assert!(v.refused, "{:?}", v.findings);
    assert!(
        v.parse_error.is_some(),
        "above max_ast_size the tree is skipped"
    );
}

#[test]
fn an_exhausted_time_budget_still_yields_a_verdict() {
    let code = ordinary_code_then(100 << 10, "").into_bytes();
    let zero = ScreenPolicy {
        analysis_timeout: execgate_core::HumanDuration(Duration::ZERO),
        ..ScreenPolicy::default()
    };
    let v = screen_with(code, zero);
    assert_found(&v, "PY-TOO-COMPLEX");
}

#[test]
fn nul_bytes_and_invalid_utf8_are_findings_not_failures() {
    let v = screen_on_small_stack(b"x = 1\0\0\nimport os\n".to_vec());
    assert!(v.refused);
    assert_found(&v, "ANY-NUL-BYTE");
    let v = screen_on_small_stack(b"x = '\xff\xfe'\nprint(x)\n".to_vec());
    assert_found(&v, "ANY-INVALID-UTF8");
    assert!(!v.refused, "invalid UTF-8 alone only scores");
    let v = screen_on_small_stack((0u8..=255).cycle().take(100_000).collect());
    assert_found(&v, "ANY-INVALID-UTF8");
}

/// About `bytes` of ordinary statements, then `payload`.
fn ordinary_code_then(bytes: usize, payload: &str) -> String {
    let line = "total = sum(i * i for i in range(100)) + len('abcdef')\n";
    let mut code = line.repeat(bytes / line.len());
    code.push_str(payload);
    code
}

#[test]
fn code_at_the_size_cap_is_screened_on_its_tree() {
    let code = ordinary_code_then(100 << 10, "import socket\n");
    let v = screen_on_small_stack(code.into_bytes());
    assert!(v.parse_error.is_none());
    assert!(v.refused);
}

#[test]
fn folding_never_builds_huge_values() {
    let v = screen_on_small_stack(b"x = 'a' * 10 ** 12\ny = ('b' * 65536) * 65536\n".to_vec());
    assert_found(&v, "PY-HUGE-REPETITION");
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A deterministic pseudo-random byte soup mixing Python punctuation.
    let alphabet =
        b"()[]{}'\"\\#:\n\r\t =+-*/%lambda if else not import os . , ;\x00\xff\xe2\x80\xae";
    let mut state: u64 = 0x9e3779b97f4a7c15;
    for _ in 0..50 {
        let code: Vec<u8> = (0..2_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                alphabet[(state % alphabet.len() as u64) as usize]
            })
            .collect();
        let _ = screen_on_small_stack(code);
    }
}

/// Shallow sources are analysed on the caller's thread; whatever is deeper
/// than that allowance (long `elif` chains, deep code inside a docstring, a
/// source just over the inline depth) must still go to a big stack.
#[test]
fn inline_analysis_stays_within_a_small_stack() {
    let at_limit = format!("x = {}1{}\n", "(".repeat(46), ")".repeat(46));
    let elifs = format!(
        "if x == 0:\n    pass\n{}",
        "elif x:\n    pass\n".repeat(3_500)
    );
    let deep_doc = format!(
        "def f():\n    '''\n    >>> {}1{}\n    '''\n",
        "(".repeat(150),
        ")".repeat(150)
    );
    let deep_unary = format!("y = {}1\n", "-".repeat(1_500));
    for prefix in [at_limit, elifs, deep_doc, deep_unary] {
        let v = screen_on_small_stack(payload_after(prefix));
        assert!(
            v.refused,
            "payload after a deep prefix missed: {:?}",
            v.findings
        );
    }
}

#[test]
fn a_megabyte_of_code_is_analysed_on_its_tree() {
    let code = ordinary_code_then((1 << 20) - 100, "import socket\n");
    assert!(code.len() < 1 << 20, "within the default max_ast_size");
    let v = screen_on_small_stack(code.into_bytes());
    assert!(v.parse_error.is_none(), "{:?}", v.parse_error);
    assert_found(&v, "PY-IMPORT-NETWORK");
}

#[test]
fn a_megabyte_of_nesting_just_under_the_limits_is_screened() {
    // Every statement as deep as CPython allows: the worst shallow-enough input.
    let deep = format!("x = {}1{}\n", "(".repeat(190), ")".repeat(190));
    let mut code = deep.repeat((1 << 20) / deep.len() - 1);
    code.push_str("__import__('os')\n");
    let v = screen_on_small_stack(code.into_bytes());
    assert!(v.refused, "{:?}", v.findings);
}
