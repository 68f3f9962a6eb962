//! Python screening on the syntax tree: bound the depth, parse on a big stack,
//! walk the tree for facts, then screen code hidden in string constants
//! (docstrings, `exec` payloads) the same way. Unparsable code falls back to
//! tokens.

mod fold;
mod guard;
mod nfkc;
mod pool;
mod provenance;
mod shadow;
mod tokens;
mod walk;

use crate::facts::{Anomaly, Fact, FactKind, Pos};
use crate::position::LineIndex;
use rustpython_parser::ast::Mod;
use rustpython_parser::{Mode, parse};
use std::time::{Duration, Instant};

/// Strings screened as code per submission, and their total size.
const MAX_NESTED_STRINGS: usize = 64;
const MAX_NESTED_BYTES: usize = 256 << 10;
/// Code inside strings inside strings is followed this deep.
const MAX_NESTING: u32 = 2;

/// What Python analysis found.
#[derive(Debug, Default)]
pub(crate) struct Analysis {
    pub facts: Vec<Fact>,
    /// Why the code did not parse, if it did not.
    pub parse_error: Option<String>,
}

/// How deep analysis goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Depth {
    /// Parse and walk the syntax tree (tokens if it does not parse).
    Tree,
    /// Tokens only: for sources too large to parse within bounds.
    Tokens,
}

/// Sources at most this deep and this large are analysed on the caller's
/// thread: their recursion needs a few hundred KiB of stack at most, and the
/// hop to an analysis thread would cost more than the analysis itself.
const INLINE_MAX_DEPTH: usize = 48;
const INLINE_MAX_BYTES: usize = 64 << 10;

/// Which stack the analysis runs on, and so what it may parse directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stack {
    /// An analysis thread with `pool::STACK_BYTES` of stack.
    Big,
    /// The caller's thread: only trees within `INLINE_MAX_DEPTH`.
    Caller,
}

/// Analyses `text`, giving up after `budget`: shallow sources on this thread,
/// the rest on an analysis thread.
pub(crate) fn analyse_bounded(text: &str, depth: Depth, budget: Duration) -> Analysis {
    let deadline = Instant::now() + budget;
    if depth == Depth::Tree && text.len() <= INLINE_MAX_BYTES {
        let guarded = guard::guard(text);
        if !guarded.hopeless && guarded.depth <= INLINE_MAX_DEPTH {
            return analyse(text, guarded, deadline, Stack::Caller);
        }
    }
    let text = text.to_string();
    // The walk stops itself at the deadline; the extra second covers the parse.
    let job = move || match depth {
        Depth::Tree => analyse(&text, guard::guard(&text), deadline, Stack::Big),
        Depth::Tokens => analyse_tokens(&text, deadline),
    };
    let outcome = pool::run(job, budget + Duration::from_secs(1));
    outcome.unwrap_or_else(|e| Analysis {
        facts: vec![Fact {
            kind: FactKind::Anomaly(Anomaly::TooComplex),
            pos: Pos { line: 1, column: 0 },
        }],
        parse_error: Some(match e {
            pool::PoolError::TimedOut => "analysis timed out".to_string(),
            pool::PoolError::Failed => "analysis failed".to_string(),
        }),
    })
}

/// Analyses `text` (already guarded) on a stack that fits `guarded.depth`.
fn analyse(text: &str, guarded: guard::Guarded, deadline: Instant, stack: Stack) -> Analysis {
    let lines = LineIndex::new(text);
    let mut out = Analysis::default();
    for at in &guarded.neutralised {
        out.facts.push(Fact {
            kind: FactKind::Anomaly(Anomaly::TooComplex),
            pos: lines.pos(text, *at),
        });
    }
    let parsed = if guarded.hopeless {
        out.facts.push(Fact {
            kind: FactKind::Anomaly(Anomaly::TooComplex),
            pos: Pos { line: 1, column: 0 },
        });
        Err("indentation nested too deeply".to_string())
    } else {
        walk_module(&guarded.text, &lines, None, deadline)
    };
    match parsed {
        Ok((facts, expired)) => {
            out.facts.extend(facts);
            if expired {
                out.facts.push(Fact {
                    kind: FactKind::Anomaly(Anomaly::TooComplex),
                    pos: Pos { line: 1, column: 0 },
                });
            }
        }
        Err(reason) => {
            out.facts.push(Fact {
                kind: FactKind::Anomaly(Anomaly::Unparsable),
                pos: error_pos(&reason),
            });
            out.facts.extend(tokens::facts(&guarded.text, &lines));
            out.parse_error = Some(reason);
        }
    }
    let nested = nested_code(&out.facts, 1, deadline, stack);
    out.facts.extend(nested);
    out
}

/// Token facts only, for sources above the parse size limit.
fn analyse_tokens(text: &str, deadline: Instant) -> Analysis {
    let lines = LineIndex::new(text);
    let mut facts = vec![Fact {
        kind: FactKind::Anomaly(Anomaly::TooComplex),
        pos: Pos { line: 1, column: 0 },
    }];
    facts.extend(tokens::facts(text, &lines));
    let nested = nested_code(&facts, 1, deadline, Stack::Big);
    facts.extend(nested);
    Analysis {
        facts,
        parse_error: Some("too large to parse: screened by tokens and patterns".to_string()),
    }
}

/// Parses and walks one module; the tree is dropped here, on this thread.
/// Identifiers are NFKC-normalised first, as CPython reads them.
fn walk_module(
    text: &str,
    lines: &LineIndex,
    fixed: Option<Pos>,
    deadline: Instant,
) -> Result<(Vec<Fact>, bool), String> {
    let Some(normalised) = nfkc::identifiers(text) else {
        return parse_and_walk(text, lines, fixed, deadline);
    };
    let text = normalised.text.as_str();
    let lines = LineIndex::new(text);
    let (mut facts, expired) = parse_and_walk(text, &lines, fixed, deadline)?;
    facts.extend(normalised.rewritten.iter().map(|&at| Fact {
        kind: FactKind::Anomaly(Anomaly::ConfusableIdentifier),
        pos: fixed.unwrap_or_else(|| lines.pos(text, at)),
    }));
    Ok((facts, expired))
}

fn parse_and_walk(
    text: &str,
    lines: &LineIndex,
    fixed: Option<Pos>,
    deadline: Instant,
) -> Result<(Vec<Fact>, bool), String> {
    let module = parse(text, Mode::Module, "<code>").map_err(|e| {
        let line = execgate_core::file_error::line_of(text, e.offset.to_usize());
        format!("line {line}: {}", e.error)
    })?;
    let Mod::Module(module) = module else {
        return Ok((Vec::new(), false));
    };
    let mut walker = walk::Walker::new(text, lines, fixed, deadline);
    walker.module(&module.body);
    Ok((walker.facts, walker.expired))
}

fn error_pos(reason: &str) -> Pos {
    let line = reason
        .strip_prefix("line ")
        .and_then(|r| r.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    Pos { line, column: 0 }
}

/// Facts from string constants that are themselves Python code (doctests,
/// docstrings handed to `exec`, payloads built by folding), reported at the string.
fn nested_code(facts: &[Fact], depth: u32, deadline: Instant, stack: Stack) -> Vec<Fact> {
    if depth > MAX_NESTING {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut budget = MAX_NESTED_BYTES;
    let candidates = facts.iter().filter_map(|f| match &f.kind {
        FactKind::Str(s) => code_in(s).map(|code| (code, f.pos)),
        _ => None,
    });
    for (code, pos) in candidates.take(MAX_NESTED_STRINGS) {
        if code.len() > budget || Instant::now() >= deadline {
            break;
        }
        budget -= code.len();
        let guarded = guard::guard(&code);
        if guarded.hopeless || !guarded.neutralised.is_empty() {
            continue;
        }
        let facts = if stack == Stack::Big || guarded.depth <= INLINE_MAX_DEPTH {
            walk_string(&guarded.text, pos, deadline)
        } else {
            // Too deep for the caller's stack: this string goes to an analysis thread.
            let text = guarded.text;
            let budget = deadline.saturating_duration_since(Instant::now());
            pool::run(move || walk_string(&text, pos, deadline), budget)
                .ok()
                .flatten()
        };
        if let Some(facts) = facts {
            let deeper = nested_code(&facts, depth + 1, deadline, stack);
            out.extend(facts);
            out.extend(deeper);
        }
    }
    out
}

/// The facts of one string's code, all reported at the string's position.
fn walk_string(code: &str, pos: Pos, deadline: Instant) -> Option<Vec<Fact>> {
    let lines = LineIndex::new(code);
    walk_module(code, &lines, Some(pos), deadline)
        .ok()
        .map(|(facts, _)| facts)
}

/// The code a string may hold: its doctest examples, or the string dedented,
/// if it looks like code at all.
fn code_in(s: &str) -> Option<String> {
    if s.len() < 6 || !(s.contains('(') || s.contains("import") || s.contains("__")) {
        return None;
    }
    let examples: Vec<&str> = s
        .lines()
        .filter_map(|l| {
            let t = l.trim_start();
            t.strip_prefix(">>>")
                .or_else(|| t.strip_prefix("..."))
                .map(|c| c.strip_prefix(' ').unwrap_or(c))
        })
        .collect();
    if !examples.is_empty() {
        return Some(examples.join("\n"));
    }
    Some(dedent(s))
}

fn dedent(s: &str) -> String {
    let indent = s
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    s.lines()
        .map(|l| l.get(indent..).unwrap_or(l.trim_start()))
        .collect::<Vec<_>>()
        .join("\n")
}
