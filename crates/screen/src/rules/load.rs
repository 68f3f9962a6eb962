//! Reading rule files from disk and validating each rule, so that every problem
//! is reported as `file:line: RULE-ID: reason` before a rule set is swapped in.

use super::format::{RawFile, RawMatch, RawRule};
use super::{Matcher, Rule};
use execgate_core::FileError;
use regex::{Regex, RegexBuilder};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Compiled regexes are capped so a rule file cannot exhaust memory.
const REGEX_SIZE_LIMIT: usize = 2 << 20;

/// A problem in a rule file; Display is `file:line: RULE-ID: reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError(FileError);

impl RuleError {
    fn new(
        path: &Path,
        line: Option<usize>,
        rule: Option<&str>,
        reason: impl Into<String>,
    ) -> Self {
        RuleError(FileError::new(path, reason).at(line, rule.map(str::to_string)))
    }

    pub(crate) fn whole_set(reason: String) -> Self {
        RuleError(FileError::new("<rules>", reason))
    }

    /// The file the problem is in.
    pub fn path(&self) -> &Path {
        &self.0.path
    }

    /// The 1-based line, when known.
    pub fn line(&self) -> Option<usize> {
        self.0.line
    }

    /// The id of the rule at fault, when known.
    pub fn rule(&self) -> Option<&str> {
        self.0.key.as_deref()
    }

    /// What is wrong.
    pub fn reason(&self) -> &str {
        &self.0.reason
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for RuleError {}

/// Loads every `*.toml` directly inside each directory, sorted by name.
pub(crate) fn load_dirs(dirs: &[PathBuf]) -> Result<Vec<Rule>, Vec<RuleError>> {
    let mut errors = Vec::new();
    let mut rules: Vec<Rule> = Vec::new();
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    for file in rule_files(dirs, &mut errors) {
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) => {
                errors.push(RuleError::new(
                    &file,
                    None,
                    None,
                    format!("cannot read: {e}"),
                ));
                continue;
            }
        };
        match parse_file(&file, &text) {
            Ok(parsed) => {
                for rule in parsed {
                    if let Some(first) = seen.get(&rule.id) {
                        let line = rule_lines(&text).into_iter().find(|(_, id)| id == &rule.id);
                        let reason = format!("duplicate id, first defined in {}", first.display());
                        errors.push(RuleError::new(
                            &file,
                            line.map(|l| l.0),
                            Some(&rule.id),
                            reason,
                        ));
                        continue;
                    }
                    seen.insert(rule.id.clone(), file.clone());
                    rules.push(rule);
                }
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(rules)
    } else {
        Err(errors)
    }
}

fn rule_files(dirs: &[PathBuf], errors: &mut Vec<RuleError>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in dirs {
        match std::fs::read_dir(dir) {
            Ok(entries) => {
                let mut found: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
                    .collect();
                found.sort();
                files.extend(found);
            }
            Err(e) => errors.push(RuleError::new(
                dir,
                None,
                None,
                format!("cannot read directory: {e}"),
            )),
        }
    }
    files
}

/// Parses and validates one file's rules; ids must be unique within it.
pub(crate) fn parse_file(path: &Path, text: &str) -> Result<Vec<Rule>, Vec<RuleError>> {
    let raw: RawFile =
        execgate_core::file_error::parse_toml(path, text).map_err(|e| vec![RuleError(e)])?;
    let headers = header_lines(text);
    let mut errors = Vec::new();
    let mut rules: Vec<Rule> = Vec::new();
    for (i, value) in raw.rule.into_iter().enumerate() {
        let start = headers.get(i).copied();
        let end = headers.get(i + 1).copied();
        let id = value.get("id").and_then(|v| v.as_str()).map(str::to_string);
        let fail = |line: Option<usize>, reason: String| {
            RuleError::new(
                path,
                line.or(start),
                Some(id.as_deref().unwrap_or("<no id>")),
                reason,
            )
        };
        let raw_rule = match deserialize_rule(value) {
            Ok(r) => r,
            Err((key, reason)) => {
                let reason = reason.lines().next().unwrap_or_default().trim().to_string();
                if key.is_empty() || key == "." {
                    errors.push(fail(None, reason));
                } else {
                    errors.push(fail(
                        key_line(text, start, end, &key),
                        format!("{key}: {reason}"),
                    ));
                }
                continue;
            }
        };
        if rules.iter().any(|r| r.id == raw_rule.id) {
            let line = key_line(text, start, end, "id");
            errors.push(fail(line, "duplicate id in this file".to_string()));
            continue;
        }
        match validate(raw_rule) {
            Ok(rule) => rules.push(rule),
            Err(Invalid { key, reason }) => {
                errors.push(fail(key_line(text, start, end, key), reason))
            }
        }
    }
    if errors.is_empty() {
        Ok(rules)
    } else {
        Err(errors)
    }
}

fn deserialize_rule(value: toml::Value) -> Result<RawRule, (String, String)> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let key = err.path().to_string();
        (key, err.into_inner().to_string())
    })
}

/// 1-based lines of each `[[rule]]` header.
fn header_lines(text: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let t: String = l.chars().filter(|c| !c.is_whitespace()).collect();
            t.starts_with("[[rule]]")
        })
        .map(|(n, _)| n + 1)
        .collect()
}

/// `(line, id)` of each `id = "…"` line, for errors found after parsing.
fn rule_lines(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .filter_map(|(n, l)| {
            let rest = l
                .trim_start()
                .strip_prefix("id")?
                .trim_start()
                .strip_prefix('=')?;
            Some((n + 1, rest.trim().trim_matches('"').to_string()))
        })
        .collect()
}

/// The line within a rule's table where `key` (dotted) is written, if it can be found.
fn key_line(text: &str, start: Option<usize>, end: Option<usize>, key: &str) -> Option<usize> {
    let start = start?;
    // `match.anomaly[0]` is written as `match.anomaly = [...]` (or `anomaly = ` in a table).
    let dotted = key.split('[').next()?;
    let last = dotted.rsplit('.').next().filter(|l| !l.is_empty())?;
    text.lines()
        .enumerate()
        .skip(start)
        .take_while(|(n, _)| end.is_none_or(|e| n + 1 < e))
        .find(|(_, l)| {
            let l = l.trim_start();
            l.starts_with(dotted) || l.starts_with(last)
        })
        .map(|(n, _)| n + 1)
}

/// A rule that parsed but is not valid: the key at fault (to find its line) and why.
struct Invalid {
    key: &'static str,
    reason: String,
}

impl Invalid {
    fn new(key: &'static str, reason: impl Into<String>) -> Self {
        Invalid {
            key,
            reason: reason.into(),
        }
    }
}

fn validate(raw: RawRule) -> Result<Rule, Invalid> {
    if raw.id.is_empty()
        || !raw
            .id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(Invalid::new(
            "id",
            "id must be non-empty ASCII letters, digits, '-', '_' or '.'",
        ));
    }
    if raw.message.trim().is_empty() {
        return Err(Invalid::new("message", "message must not be empty"));
    }
    let languages = raw.language.languages();
    let matcher = compile_match(raw.matcher)?;
    let python_only = !matches!(matcher, Matcher::Regex(_) | Matcher::Anomaly(_));
    if python_only && languages != [crate::Language::Python] {
        return Err(Invalid::new(
            "language",
            "this match kind analyses Python: it needs language = \"python\"",
        ));
    }
    Ok(Rule {
        id: raw.id,
        languages,
        severity: raw.severity,
        action: raw.action,
        message: raw.message,
        tags: raw.tags,
        detection_only: raw.detection_only || raw.mode == super::format::RuleMode::Log,
        matcher,
    })
}

fn compile_match(m: RawMatch) -> Result<Matcher, Invalid> {
    let kinds = [
        m.import.is_some(),
        m.call.is_some(),
        m.name.is_some(),
        m.attribute.is_some(),
        m.string.is_some(),
        m.regex.is_some(),
        m.anomaly.is_some(),
        m.heuristic.is_some(),
    ];
    match kinds.iter().filter(|k| **k).count() {
        1 => {}
        0 => {
            return Err(Invalid::new(
                "match",
                "match needs one of import, call, name, attribute, string, regex, anomaly, heuristic",
            ));
        }
        _ => {
            return Err(Invalid::new(
                "match",
                "match must have exactly one kind; split it into several rules",
            ));
        }
    }
    if m.min.is_some() && m.heuristic.is_none() {
        return Err(Invalid::new(
            "match.min",
            "match.min is only allowed with match.heuristic",
        ));
    }
    if let Some(list) = m.import {
        return names(list, "match.import", false).map(Matcher::Import);
    }
    if let Some(list) = m.call {
        return names(list, "match.call", true).map(Matcher::Call);
    }
    if let Some(list) = m.name {
        return names(list, "match.name", true).map(Matcher::Name);
    }
    if let Some(list) = m.attribute {
        return names(list, "match.attribute", false).map(Matcher::Attribute);
    }
    if let Some(re) = m.string {
        return regex(&re, "match.string").map(Matcher::Str);
    }
    if let Some(re) = m.regex {
        return regex(&re, "match.regex").map(Matcher::Regex);
    }
    if let Some(kinds) = m.anomaly {
        if kinds.is_empty() {
            return Err(Invalid::new(
                "match.anomaly",
                "match.anomaly must not be empty",
            ));
        }
        return Ok(Matcher::Anomaly(kinds));
    }
    match m.heuristic {
        Some(h) => Ok(Matcher::Heuristic(h, m.min.unwrap_or(h.default_min()))),
        None => Err(Invalid::new("match", "match has no kind")),
    }
}

/// Validates a list of dotted identifiers (`*` allowed at the end when `glob`).
fn names(list: Vec<String>, key: &'static str, glob: bool) -> Result<Vec<String>, Invalid> {
    if list.is_empty() {
        return Err(Invalid::new(key, format!("{key} must not be empty")));
    }
    for name in &list {
        let body = if glob {
            name.strip_suffix('*').unwrap_or(name)
        } else {
            name
        };
        let ok = !body.is_empty()
            && body.split('.').enumerate().all(|(i, part)| {
                let last_open = glob && name.ends_with('*') && i == body.split('.').count() - 1;
                (last_open || !part.is_empty())
                    && part.chars().all(|c| c == '_' || c.is_alphanumeric())
            });
        if !ok {
            return Err(Invalid::new(
                key,
                format!("{key}: `{name}` is not a dotted Python name"),
            ));
        }
    }
    Ok(list)
}

/// Compiles a rule's regex; one that matches the empty string would fire on every input.
fn regex(pattern: &str, key: &'static str) -> Result<Regex, Invalid> {
    let re = RegexBuilder::new(pattern)
        .multi_line(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| Invalid::new(key, format!("{key}: invalid regex: {}", one_line(&e))))?;
    if re.is_match("") {
        return Err(Invalid::new(
            key,
            format!("{key}: the pattern matches the empty string, so it would fire on every input"),
        ));
    }
    Ok(re)
}

/// regex's parse errors span several lines (pattern, caret, cause); a rule
/// error is one line, so only the cause is kept.
fn one_line(e: &regex::Error) -> String {
    let text = e.to_string();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let cause = lines.next_back().unwrap_or_default();
    cause.strip_prefix("error: ").unwrap_or(cause).to_string()
}
