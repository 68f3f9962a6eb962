//! Validation of raw rule tables into compiled rules. Every problem becomes a
//! `file:line: rule-id: reason` error, and all of a file's problems are reported at once.

use super::format::{RawLeak, RawRedact, RuleFile};
use super::{LeakRule, Matcher, RedactRule, Scope, TENANT_GROUP};
use execgate_core::FileError;
use execgate_core::file_error::line_of;
use regex::Regex;
use std::collections::HashSet;
use std::path::Path;
use toml::Spanned;

/// Compiled rules of one file, plus their keywords.
#[derive(Default)]
pub(crate) struct Compiled {
    pub redact: Vec<(RedactRule, Vec<String>)>,
    pub leak: Vec<(LeakRule, Vec<String>)>,
}

/// Collects errors of one file, locating them by the rule's `id` line.
pub(crate) struct Checker<'a> {
    path: &'a Path,
    text: &'a str,
    pub errors: Vec<FileError>,
}

impl<'a> Checker<'a> {
    pub fn new(path: &'a Path, text: &'a str) -> Self {
        Self {
            path,
            text,
            errors: Vec::new(),
        }
    }

    fn fail(&mut self, id: &Spanned<String>, reason: impl Into<String>) {
        let line = line_of(self.text, id.span().start);
        self.errors
            .push(FileError::new(self.path, reason).at(Some(line), Some(id.get_ref().clone())));
    }

    fn regex(&mut self, id: &Spanned<String>, key: &str, pattern: &str) -> Option<Regex> {
        match Regex::new(pattern) {
            Ok(re) => Some(re),
            Err(e) => {
                let first = e.to_string().lines().last().unwrap_or_default().to_string();
                self.fail(id, format!("{key}: invalid regex: {first}"));
                None
            }
        }
    }

    fn allow_list(&mut self, id: &Spanned<String>, patterns: &[String]) -> Option<Vec<Regex>> {
        let compiled: Vec<Option<Regex>> = patterns
            .iter()
            .map(|p| self.regex(id, "allow", p))
            .collect();
        compiled.into_iter().collect()
    }

    fn matcher(
        &mut self,
        id: &Spanned<String>,
        regex: Regex,
        scope: Scope,
        keywords: &[String],
    ) -> Option<Matcher> {
        Matcher::new(regex, scope, keywords)
            .map_err(|reason| self.fail(id, reason))
            .ok()
    }

    /// Checks the id's syntax and uniqueness (across every file loaded so far).
    fn id(&mut self, id: &Spanned<String>, seen: &mut HashSet<String>) -> bool {
        let name = id.get_ref();
        let well_formed = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !well_formed {
            self.fail(id, "id must be 1-64 characters of a-z, 0-9 and '-'");
            return false;
        }
        if !seen.insert(name.clone()) {
            self.fail(id, "duplicate rule id");
            return false;
        }
        true
    }

    fn keywords(&mut self, id: &Spanned<String>, keywords: &[String], scope: Scope) -> bool {
        if keywords.iter().any(|k| k.is_empty()) {
            self.fail(id, "keywords: a keyword must not be empty");
            return false;
        }
        if scope == Scope::Line && keywords.is_empty() {
            self.fail(
                id,
                "scope: \"line\" needs keywords (it runs on the lines that contain them)",
            );
            return false;
        }
        true
    }

    /// Compiles a whole file; rule ids are checked against `seen`.
    pub fn file(&mut self, raw: RuleFile, seen: &mut HashSet<String>) -> Compiled {
        let mut out = Compiled::default();
        for rule in raw.redact {
            if let Some(compiled) = self.redact(rule, seen) {
                out.redact.push(compiled);
            }
        }
        for rule in raw.leak {
            if let Some(compiled) = self.leak(rule, seen) {
                out.leak.push(compiled);
            }
        }
        out
    }

    fn redact(
        &mut self,
        raw: RawRedact,
        seen: &mut HashSet<String>,
    ) -> Option<(RedactRule, Vec<String>)> {
        let id_ok = self.id(&raw.id, seen);
        let keywords_ok = self.keywords(&raw.id, &raw.keywords, raw.scope);
        let regex = self.regex(&raw.id, "regex", &raw.regex);
        let allow = self.allow_list(&raw.id, &raw.allow);
        if let Some(re) = &regex
            && raw.secret_group >= re.captures_len()
        {
            let reason = format!(
                "secret_group: the regex has no group {} (it has {})",
                raw.secret_group,
                re.captures_len() - 1
            );
            self.fail(&raw.id, reason);
            return None;
        }
        if raw.min_entropy.is_some_and(|e| !(0.0..=8.0).contains(&e)) {
            self.fail(
                &raw.id,
                "min_entropy: must be between 0 and 8 bits per byte",
            );
            return None;
        }
        let (regex, allow) = (regex?, allow?);
        if !(id_ok && keywords_ok) {
            return None;
        }
        let matcher = self.matcher(&raw.id, regex, raw.scope, &raw.keywords)?;
        Some({
            let id = raw.id.into_inner();
            let rule = RedactRule {
                id,
                description: raw.description,
                matcher,
                secret_group: raw.secret_group,
                min_entropy: raw.min_entropy,
                allow,
            };
            (rule, raw.keywords)
        })
    }

    fn leak(
        &mut self,
        raw: RawLeak,
        seen: &mut HashSet<String>,
    ) -> Option<(LeakRule, Vec<String>)> {
        let id_ok = self.id(&raw.id, seen);
        let keywords_ok = self.keywords(&raw.id, &raw.keywords, raw.scope);
        let regex = self.regex(&raw.id, "regex", &raw.regex);
        let allow = self.allow_list(&raw.id, &raw.allow);
        if raw.min_count == 0 {
            self.fail(&raw.id, "min_count: must be at least 1");
            return None;
        }
        if raw.message.trim().is_empty() {
            self.fail(&raw.id, "message: must not be empty");
            return None;
        }
        let (regex, allow) = (regex?, allow?);
        if !(id_ok && keywords_ok) {
            return None;
        }
        let names_tenant = regex.capture_names().any(|name| name == Some(TENANT_GROUP));
        let matcher = self.matcher(&raw.id, regex, raw.scope, &raw.keywords)?;
        Some({
            let rule = LeakRule {
                id: raw.id.into_inner(),
                description: raw.description,
                severity: raw.severity,
                message: raw.message,
                matcher,
                min_count: raw.min_count,
                allow,
                names_tenant,
            };
            (rule, raw.keywords)
        })
    }
}
