//! Output rules: secret redaction rules and outbound leak rules, loaded from TOML
//! files and compiled once. A keyword prefilter decides which regexes run at all,
//! so clean output costs a few vectorized passes, whatever the number of rules.

mod compile;
mod format;
mod matcher;
mod prefilter;

use compile::{Checker, Compiled};
use execgate_core::{FileError, Severity, file_error::parse_toml};
use format::RuleFile;
use prefilter::Prefilter;
use regex::Regex;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

pub(crate) use matcher::Matcher;
pub use matcher::Scope;

/// The rule file shipped with execgate (`rules/output.toml`), for a gateway started without one.
pub const SHIPPED_RULES: &str = include_str!("../../../../rules/output.toml");

/// A compiled redaction rule: what it matches is replaced by `[REDACTED:<id>]`.
#[derive(Debug, Clone)]
pub struct RedactRule {
    /// Unique id; also the marker's name and the metrics label.
    pub id: String,
    /// What the rule is for.
    pub description: String,
    pub(crate) matcher: Matcher,
    pub(crate) secret_group: usize,
    pub(crate) min_entropy: Option<f64>,
    pub(crate) allow: Vec<Regex>,
}

/// A compiled leak rule: a match adds its severity's points to the body's leak score.
#[derive(Debug, Clone)]
pub struct LeakRule {
    /// Unique id, reported in findings and metrics.
    pub id: String,
    /// What the rule is for.
    pub description: String,
    /// Worth `severity.default_points()` toward the leak threshold.
    pub severity: Severity,
    /// The finding's message (for logs and the audit event).
    pub message: String,
    pub(crate) matcher: Matcher,
    pub(crate) min_count: u32,
    pub(crate) allow: Vec<Regex>,
    /// The regex has a group named `tenant`: a match naming the reader's own tenant is no finding.
    pub(crate) names_tenant: bool,
}

/// The name of the leak-rule regex group that holds a marker's tenant id.
pub(crate) const TENANT_GROUP: &str = "tenant";

/// Which rule a prefilter keyword belongs to.
#[derive(Debug, Clone, Copy)]
enum RuleRef {
    Redact(usize),
    Leak(usize),
}

/// Compiled redaction and leak rules of one or more files; cheap to share (`Send + Sync`).
#[derive(Debug, Clone, Default)]
pub struct OutputRules {
    pub(crate) redact: Vec<RedactRule>,
    pub(crate) leak: Vec<LeakRule>,
    keywords: Option<Prefilter<RuleRef>>,
    unfiltered: Vec<RuleRef>,
}

/// The rules a prefilter pass left to run on one text.
#[derive(Debug)]
pub(crate) struct Active {
    pub redact: Vec<bool>,
    pub leak: Vec<bool>,
    /// The text, ASCII-lowercased (keywords compare case-insensitively).
    pub lower: String,
}

impl Active {
    /// Marks `rule` to run; `true` if it was not marked yet.
    fn mark(&mut self, rule: RuleRef) -> bool {
        let slot = match rule {
            RuleRef::Redact(i) => &mut self.redact[i],
            RuleRef::Leak(i) => &mut self.leak[i],
        };
        !std::mem::replace(slot, true)
    }
}

impl OutputRules {
    /// Loads and compiles rule files; every error of every file is returned, located.
    pub fn load(files: &[PathBuf]) -> Result<OutputRules, Vec<FileError>> {
        let mut sources = Vec::new();
        let mut errors = Vec::new();
        for path in files {
            match std::fs::read_to_string(path) {
                Ok(text) => sources.push((path.clone(), text)),
                Err(e) => errors.push(FileError::new(path, format!("cannot read: {e}"))),
            }
        }
        let borrowed: Vec<(&Path, &str)> = sources
            .iter()
            .map(|(p, t)| (p.as_path(), t.as_str()))
            .collect();
        match Self::parse(&borrowed) {
            Ok(rules) if errors.is_empty() => Ok(rules),
            Ok(_) => Err(errors),
            Err(more) => {
                errors.extend(more);
                Err(errors)
            }
        }
    }

    /// Compiles rule texts, each named by the path it came from.
    pub fn parse(sources: &[(&Path, &str)]) -> Result<OutputRules, Vec<FileError>> {
        let mut seen = HashSet::new();
        let mut errors = Vec::new();
        let mut all = Compiled::default();
        for (path, text) in sources {
            let raw: RuleFile = match parse_toml(path, text) {
                Ok(raw) => raw,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            let mut checker = Checker::new(path, text);
            let compiled = checker.file(raw, &mut seen);
            errors.extend(checker.errors);
            all.redact.extend(compiled.redact);
            all.leak.extend(compiled.leak);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Self::index(all).map_err(|reason| {
            let path = sources.first().map(|(p, _)| *p).unwrap_or(Path::new("-"));
            vec![FileError::new(path, reason)]
        })
    }

    /// The rules shipped with execgate.
    pub fn shipped() -> Result<OutputRules, Vec<FileError>> {
        Self::parse(&[(Path::new("rules/output.toml"), SHIPPED_RULES)])
    }

    /// The redaction rules, in file order.
    pub fn redact_rules(&self) -> &[RedactRule] {
        &self.redact
    }

    /// The leak rules, in file order.
    pub fn leak_rules(&self) -> &[LeakRule] {
        &self.leak
    }

    fn index(all: Compiled) -> Result<OutputRules, String> {
        let mut rules = OutputRules::default();
        let mut keywords: Vec<(String, RuleRef)> = Vec::new();
        for (i, (rule, words)) in all.redact.into_iter().enumerate() {
            rules.redact.push(rule);
            rules.register(RuleRef::Redact(i), words, &mut keywords);
        }
        for (i, (rule, words)) in all.leak.into_iter().enumerate() {
            rules.leak.push(rule);
            rules.register(RuleRef::Leak(i), words, &mut keywords);
        }
        if !keywords.is_empty() {
            rules.keywords = Some(Prefilter::new(&keywords, true)?);
        }
        Ok(rules)
    }

    fn register(
        &mut self,
        rule: RuleRef,
        words: Vec<String>,
        keywords: &mut Vec<(String, RuleRef)>,
    ) {
        if words.is_empty() {
            self.unfiltered.push(rule);
        }
        keywords.extend(words.into_iter().map(|w| (w, rule)));
    }

    /// Runs the keyword prefilter over `text`: the rules whose keywords appear, plus
    /// the rules that have none.
    pub(crate) fn active(&self, text: &str) -> Active {
        let mut active = Active {
            redact: vec![false; self.redact.len()],
            leak: vec![false; self.leak.len()],
            lower: String::new(),
        };
        let lower = text.to_ascii_lowercase();
        let mut inactive = self.redact.len() + self.leak.len();
        for &rule in &self.unfiltered {
            inactive -= usize::from(active.mark(rule));
        }
        if let Some(prefilter) = &self.keywords {
            prefilter.scan(&lower, |owners| {
                for &rule in owners {
                    inactive -= usize::from(active.mark(rule));
                }
                inactive > 0
            });
        }
        active.lower = lower;
        active
    }
}

#[cfg(test)]
mod tests;
