//! The held-back body, decided in two steps around its charge (the runs of a
//! batch, awaited by the body stage): decode it with the executor's dialect
//! and enforce the tier's code cap; then clamp requested limits and screen the
//! code. Only the rewritten body that comes out of here is ever sent upstream.

use super::limits::LimitHeaders;
use crate::config::Tier;
use crate::error::{Refusal, ShownFinding};
use execgate_dialect::{Dialect, DialectKind, ExecRequest, RouteKind, TierLimits};
use execgate_screen::{Language, RuleSet, ScreenPolicy, Verdict};

/// The body to forward, and what it asks to run.
#[derive(Debug)]
pub struct Prepared {
    /// The rewritten body (limits clamped).
    pub body: Vec<u8>,
    /// The decoded request.
    pub exec: ExecRequest,
    /// Screening verdicts, one per submission (findings feed metrics and logs).
    pub verdicts: Vec<Verdict>,
    /// The client's standing after the charge made here, if one was.
    pub limit_headers: Option<LimitHeaders>,
}

/// The request to decide: its route, path and held-back body.
pub struct Held<'a> {
    /// What the route does.
    pub route: RouteKind,
    /// The path and query the client sent.
    pub path_and_query: &'a str,
    /// The whole body.
    pub body: &'a [u8],
    /// A raw-body route's language header value, when sent.
    pub language_header: Option<&'a str>,
}

/// Decodes an executing request's body and enforces the tier's code cap:
/// what its charge is decided on, before any screening time is spent.
pub fn decode(dialect: &Dialect, held: Held<'_>, tier: &Tier) -> Result<ExecRequest, Refusal> {
    let Held {
        route,
        path_and_query,
        body,
        language_header,
    } = held;
    let exec = dialect.parse_request_with(route, path_and_query, language_header, body)?;
    check_code_size(&exec, tier)?;
    Ok(exec)
}

/// Decides a decoded (and charged) request: clamps its limits and screens
/// its code; `Err` is the refusal to send. `limit_headers` are those of the
/// charge made since decoding, if one was.
pub fn finish(
    dialect: &Dialect,
    exec: ExecRequest,
    tier: &Tier,
    rules: &RuleSet,
    policy: &ScreenPolicy,
    limit_headers: Option<LimitHeaders>,
) -> Result<Prepared, (Refusal, Vec<Verdict>)> {
    let no_verdicts = |r: Refusal| (r, Vec::new());
    let limits = TierLimits {
        run_time: tier.run_time,
        memory_bytes: tier.memory.bytes(),
    };
    let rewritten = dialect
        .clamp(&exec, &limits)
        .map_err(|e| no_verdicts(e.into()))?;
    check_languages(&exec, policy).map_err(no_verdicts)?;
    check_file_names(&exec).map_err(no_verdicts)?;
    let verdicts = screen_all(&exec, rules, policy);
    if let Some(refusal) = refusal_of(&verdicts) {
        return Err((refusal, verdicts));
    }
    Ok(Prepared {
        body: rewritten,
        exec,
        verdicts,
        limit_headers,
    })
}

/// All files of all submissions together must fit the tier's code cap.
fn check_code_size(exec: &ExecRequest, tier: &Tier) -> Result<(), Refusal> {
    let total: u64 = exec
        .submissions
        .iter()
        .flat_map(|s| s.files.iter())
        .map(|f| f.content.len() as u64)
        .sum();
    if total > tier.code_max.bytes() {
        return Err(Refusal::CodeTooLarge {
            limit: tier.code_max.bytes(),
        });
    }
    Ok(())
}

/// A language no rule pack covers cannot be screened: with
/// `refuse_unknown_language` that is the client's error, named like any other field.
fn check_languages(exec: &ExecRequest, policy: &ScreenPolicy) -> Result<(), Refusal> {
    if !policy.refuse_unknown_language {
        return Ok(());
    }
    let Some(unknown) = exec
        .submissions
        .iter()
        .find(|s| Language::from_name(&s.language).is_none())
    else {
        return Ok(());
    };
    let screened: Vec<&str> = Language::ALL.iter().map(|l| l.as_str()).collect();
    Err(Refusal::InvalidRequest {
        field: Some("language".into()),
        message: format!(
            "language {:?} cannot be screened here; accepted: {}",
            unknown.language,
            screened.join(", ")
        ),
    })
}

/// A named file its language does not need (`evil.s` beside C sources) would
/// be built into the program without being screened: the client's error.
fn check_file_names(exec: &ExecRequest) -> Result<(), Refusal> {
    for (s, submission) in exec.submissions.iter().enumerate() {
        let Some(language) = Language::from_name(&submission.language) else {
            continue;
        };
        for (i, file) in submission.files.iter().enumerate() {
            let Some(name) = file.name.as_deref() else {
                continue;
            };
            if !language.admits_file(name) {
                let field = if exec.submissions.len() > 1 {
                    format!("submissions[{s}].files[{i}].name")
                } else {
                    format!("files[{i}].name")
                };
                return Err(Refusal::InvalidRequest {
                    field: Some(field),
                    message: format!(
                        "file {name:?} is not a {language} source or header; only those are accepted"
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Screens every file of every submission in the submission's language; a
/// program screened before under the same rules and policy is answered from
/// the rule set's verdict cache. A program that runs what it reads has its
/// stdin screened as code too.
fn screen_all(exec: &ExecRequest, rules: &RuleSet, policy: &ScreenPolicy) -> Vec<Verdict> {
    exec.submissions
        .iter()
        .enumerate()
        .flat_map(|(i, s)| {
            let language = Language::from_name(&s.language);
            let args = RawArgs::of(exec, i);
            s.files.iter().map(move |f| {
                let verdict = execgate_screen::screen_cached(rules, language, &f.content, policy);
                let verdict = execgate_screen::screen_input(rules, verdict, &s.stdin, policy);
                execgate_screen::screen_args(rules, verdict, language, args.as_run_args(), policy)
            })
        })
        .collect()
}

/// The run arguments of submission `i`, read from the parsed body: Piston's
/// `args` (argv), Judge0's `command_line_arguments` (a shell line).
enum RawArgs {
    Argv(Vec<String>),
    ShellLine(String),
}

impl RawArgs {
    fn of(exec: &ExecRequest, i: usize) -> Self {
        let doc = &exec.document;
        match exec.dialect {
            DialectKind::Piston => RawArgs::Argv(
                doc.get("args")
                    .and_then(|a| a.as_array())
                    .into_iter()
                    .flatten()
                    .filter_map(|a| a.as_str().map(str::to_string))
                    .collect(),
            ),
            DialectKind::Judge0 => {
                let item = match exec.route {
                    RouteKind::ExecuteBatch => doc.get("submissions").and_then(|l| l.get(i)),
                    _ => Some(doc),
                };
                let line = item
                    .and_then(|v| v.get("command_line_arguments"))
                    .and_then(|v| v.as_str());
                RawArgs::ShellLine(line.unwrap_or_default().to_string())
            }
            DialectKind::Generic => RawArgs::Argv(Vec::new()),
        }
    }

    fn as_run_args(&self) -> execgate_screen::RunArgs<'_> {
        match self {
            RawArgs::Argv(argv) => execgate_screen::RunArgs::Argv(argv),
            RawArgs::ShellLine(line) => execgate_screen::RunArgs::ShellLine(line),
        }
    }
}

/// The refusal for the first refusing verdict: total score and every finding shown.
fn refusal_of(verdicts: &[Verdict]) -> Option<Refusal> {
    if !verdicts.iter().any(|v| v.refused) {
        return None;
    }
    let score = verdicts.iter().map(|v| v.score).sum();
    let findings = verdicts
        .iter()
        .flat_map(|v| v.findings.iter())
        .map(|f| ShownFinding {
            rule: f.rule.clone(),
            line: f.line,
            column: f.column,
            severity: f.severity.as_str().to_string(),
            message: f.message.clone(),
        })
        .collect();
    Some(Refusal::CodeRejected { score, findings })
}
