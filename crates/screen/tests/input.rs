//! Stdin screened as code when the program runs what it reads: the second
//! line of defence when the program's own rule is only logged (rolled out
//! in shadow) or scores below the threshold.

use execgate_screen::{Language, RuleSet, ScreenPolicy, screen, screen_input};

const RULES: &str = r#"
[[rule]]
id = "T-RUNTIME-CODE"
language = "python"
severity = "critical"
action = "block"
mode = "log"
message = "runtime code"
match.heuristic = "dynamic-code"

[[rule]]
id = "T-OS"
language = "python"
severity = "critical"
action = "block"
message = "module {name}"
match.import = ["os"]
"#;

fn judged(program: &str, stdin: &str) -> execgate_screen::Verdict {
    let rules = RuleSet::from_toml("t.toml", RULES).expect("valid");
    let policy = ScreenPolicy::default();
    let v = screen(&rules, Some(Language::Python), program.as_bytes(), &policy);
    screen_input(&rules, v, stdin.as_bytes(), &policy)
}

#[test]
fn stdin_fed_to_a_code_runner_is_screened_as_code() {
    let program = "import timeit\ntimeit.timeit(input(), number=1)";
    let v = judged(program, "x = 1\nimport os\nos.system('id')");
    assert!(v.refused, "{:?}", v.findings);
    let from_stdin = v
        .findings
        .iter()
        .find(|f| f.rule == "T-OS")
        .expect("stdin finding");
    assert_eq!(from_stdin.line, 2);
    assert!(
        from_stdin.message.starts_with("stdin line 2: "),
        "{}",
        from_stdin.message
    );
    assert!(!judged(program, "sum(range(10))").refused);
    assert!(!judged(program, "").refused);
}

#[test]
fn stdin_of_a_program_that_only_reads_data_is_data() {
    let v = judged(
        "text = input()\nprint(text.upper())",
        "import os\nos.system('id')",
    );
    assert!(!v.refused, "{:?}", v.findings);
    assert!(v.findings.is_empty());
}

#[test]
fn stdin_that_is_not_python_does_not_refuse_even_when_unparsable_code_is_refused() {
    let rules = RuleSet::from_toml("t.toml", RULES).expect("valid");
    let policy = ScreenPolicy {
        refuse_unparsable: true,
        ..ScreenPolicy::default()
    };
    let program = b"import timeit\ntimeit.timeit(input(), number=1)";
    let v = screen(&rules, Some(Language::Python), program, &policy);
    let v = screen_input(&rules, v, b"3 4\n1 2 3 ((", &policy);
    assert!(!v.refused, "{:?}", v.findings);
}
