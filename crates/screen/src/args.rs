//! Run arguments: Piston's `args` and Judge0's `command_line_arguments`.
//! They never reach the interpreter as flags (runners place them after the
//! program), so they are the program's input, and screening them means asking
//! where that input can run:
//!
//! - Judge0 appends `command_line_arguments` to the run command in a shell
//!   script, for every language: the line is shell code (`; cat /etc/shadow`),
//!   screened with the shell pack.
//! - Piston hands `args` over as argv, without a shell: a shell script gets
//!   them as `$1 …`, which scripts run or read as paths, so each is screened
//!   with the shell pack; a Python program that hands what it reads to
//!   something that compiles strings (`exec(sys.argv[1])`) gets each
//!   screened as Python, as stdin is.
//! - Anything else is data.

use crate::{Language, RuleSet, ScreenPolicy, Verdict, screen};

/// The arguments of one run, as the executor API carries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunArgs<'a> {
    /// Separate argv elements, passed without a shell (Piston `args`).
    Argv(&'a [String]),
    /// One line a shell splits and runs (Judge0 `command_line_arguments`).
    ShellLine(&'a str),
}

/// Screens `args` of a program in `language` whose own verdict is `verdict`;
/// findings join the verdict, marked with the argument they came from.
pub fn screen_args(
    rules: &RuleSet,
    verdict: Verdict,
    language: Option<Language>,
    args: RunArgs<'_>,
    policy: &ScreenPolicy,
) -> Verdict {
    match args {
        RunArgs::ShellLine(line) if !line.trim().is_empty() => join(
            verdict,
            screen(rules, Some(Language::Bash), line.as_bytes(), policy),
            "command_line_arguments",
        ),
        RunArgs::ShellLine(_) => verdict,
        RunArgs::Argv(argv) => {
            let as_code = match language {
                Some(Language::Bash) => Some(Language::Bash),
                Some(Language::Python) if verdict.runs_input_as_code => Some(Language::Python),
                _ => None,
            };
            let Some(as_code) = as_code else {
                return verdict;
            };
            // An argument that is not Python is data to the program: no parse refusal.
            let policy = ScreenPolicy {
                refuse_unparsable: false,
                ..policy.clone()
            };
            argv.iter().enumerate().fold(verdict, |v, (i, arg)| {
                let found = screen(rules, Some(as_code), arg.as_bytes(), &policy);
                join(v, found, &format!("args[{i}]"))
            })
        }
    }
}

/// `verdict` with the findings of `found` (screened from `source`) added.
pub(crate) fn join(mut verdict: Verdict, found: Verdict, source: &str) -> Verdict {
    verdict.refused |= found.refused;
    verdict.score += found.score;
    verdict.elapsed += found.elapsed;
    verdict
        .findings
        .extend(found.findings.into_iter().map(|mut f| {
            f.message = format!("{source} line {}: {}", f.line, f.message);
            f
        }));
    verdict
}
