//! Code screening for execgate: decides, before an executor is paid for, whether
//! submitted code may run. Python is analysed on its syntax tree (rustpython-parser)
//! through constant folding, alias resolution and NFKC identifiers; every language
//! is also matched against regex pattern packs. Rules live in TOML files owned by
//! the security team and are scored like OWASP CRS.
//!
//! ```no_run
//! use execgate_screen::{Language, RuleSet, ScreenPolicy, screen};
//! let rules = RuleSet::load(&["rules/screen".into()]).expect("valid rules");
//! let verdict = screen(&rules, Some(Language::Python), b"import os", &ScreenPolicy::default());
//! assert!(verdict.refused);
//! ```

#![forbid(unsafe_code)]

mod args;
mod cache;
pub mod cli;
mod facts;
mod language;
mod literals;
mod matcher;
mod position;
mod python;
mod report;
mod rules;
mod source;
mod verdict;

pub use args::{RunArgs, screen_args};
pub use cache::{CacheStats, CacheUse};
pub use facts::{Anomaly, Heuristic};
pub use language::Language;
pub use rules::{Rule, RuleError, RuleSet};
pub use verdict::{
    Finding, ScreenPolicy, SeverityPoints, UNKNOWN_LANGUAGE_RULE, UNPARSABLE_RULE, Verdict,
};

use facts::{Fact, FactKind};

/// Maps and sets keyed by submitted identifiers: a fast hasher with a random
/// per-process seed, so crafted names cannot force collisions (SipHash cost
/// about 8% of screening a typical file).
pub(crate) type Map<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;
/// See [`Map`].
pub(crate) type Set<T> = std::collections::HashSet<T, ahash::RandomState>;
use position::LineIndex;
use std::time::Instant;
use verdict::PolicyRefusal;

/// [`screen`], answered from the rule set's verdict cache when the same code
/// (line ends normalised) was screened before under the same policy. A
/// reload builds a new rule set, and with it an empty cache.
pub fn screen_cached(
    rules: &RuleSet,
    language: Option<Language>,
    code: &[u8],
    policy: &ScreenPolicy,
) -> Verdict {
    rules.cache.get_or_screen(language, code, policy, || {
        screen(rules, language, code, policy)
    })
}

/// Screens what a program reads at run time as the code it may become: when
/// `verdict` (the program's) shows that it hands text it reads to something
/// that compiles, evaluates or imports it, `stdin` is screened as Python too
/// and its findings join the verdict, marked as coming from stdin. Otherwise
/// stdin is data and `verdict` is returned as it is.
pub fn screen_input(
    rules: &RuleSet,
    verdict: Verdict,
    stdin: &[u8],
    policy: &ScreenPolicy,
) -> Verdict {
    if !verdict.runs_input_as_code || stdin.is_empty() {
        return verdict;
    }
    // Input that is not Python is data to the program: no parse refusal for it.
    let as_code = ScreenPolicy {
        refuse_unparsable: false,
        ..policy.clone()
    };
    let input = screen(rules, Some(Language::Python), stdin, &as_code);
    args::join(verdict, input, "stdin")
}

/// Screens `code` written in `language` (`None` = unknown: only `any` rules run).
///
/// Total and panic-free on any bytes. Python analysis runs on dedicated threads
/// with a large stack, so this may be called from any thread (it blocks for at
/// most about `policy.analysis_timeout`; call it from `spawn_blocking` in async code).
pub fn screen(
    rules: &RuleSet,
    language: Option<Language>,
    code: &[u8],
    policy: &ScreenPolicy,
) -> Verdict {
    let started = Instant::now();
    let python = language == Some(Language::Python);
    let source = source::decode(code, python);
    let lines = LineIndex::new(&source.text);
    let mut facts: Vec<Fact> = source
        .anomalies
        .iter()
        .map(|(a, at)| Fact {
            kind: FactKind::Anomaly(*a),
            pos: lines.pos(&source.text, *at),
        })
        .collect();
    let mut parse_error = None;
    if python {
        let depth = if source.text.len() as u64 > policy.max_ast_size.bytes() {
            python::Depth::Tokens
        } else {
            python::Depth::Tree
        };
        let analysis = python::analyse_bounded(&source.text, depth, policy.analysis_timeout.get());
        facts.extend(analysis.facts);
        parse_error = analysis.parse_error;
    }
    let runs_input_as_code = facts.iter().any(|f| match &f.kind {
        FactKind::Heuristic(Heuristic::DynamicCode | Heuristic::DynamicImport, _) => true,
        FactKind::Name(n) => matches!(n.as_str(), "eval" | "exec" | "compile" | "execfile"),
        _ => false,
    });
    let ix = rules.index(language);
    let mut hits = Vec::new();
    matcher::fact_hits(ix, &facts, &mut hits);
    if language == Some(Language::Bash) {
        // Shell comments never run: patterns see the script without them.
        let code = literals::shell_without_comments(&source.text);
        matcher::regex_hits(ix, &code, &lines, &mut hits);
    } else {
        matcher::regex_hits(ix, &source.text, &lines, &mut hits);
    }
    if let Some(view) = literals::folded(language, &source.text) {
        // Same patterns on the literal-folded view; its lines are the source's
        // (a rule hit on both views is one finding: `verdict` keeps one per line).
        matcher::regex_hits(ix, &view, &LineIndex::new(&view), &mut hits);
    }
    let refusal = if language.is_none() && policy.refuse_unknown_language {
        Some(PolicyRefusal::UnknownLanguage)
    } else if parse_error.is_some() && policy.refuse_unparsable {
        Some(PolicyRefusal::Unparsable)
    } else {
        None
    };
    let (refused, score, findings) = verdict::assemble(rules, hits, policy, refusal);
    Verdict {
        refused,
        score,
        findings,
        elapsed: started.elapsed(),
        parse_error,
        cache: CacheUse::Bypassed,
        runs_input_as_code,
    }
}
