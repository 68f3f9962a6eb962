//! Rule sets: loaded from TOML files, validated, and compiled into per-language
//! indexes so that matching a fact costs a hash lookup, not a scan of all rules.

mod format;
mod load;

pub use load::RuleError;

use crate::Map;
use crate::facts::{Anomaly, Heuristic};
use crate::language::Language;
use execgate_core::{Action, Severity};
use regex::{Regex, RegexSet, RegexSetBuilder};
use std::path::PathBuf;

/// A validated rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Unique id, reported in findings and metrics.
    pub id: String,
    /// The languages it applies to; empty means every language (and unknown ones).
    pub languages: Vec<Language>,
    /// How serious a match is.
    pub severity: Severity,
    /// What a match does.
    pub action: Action,
    /// The client-facing message template (`{name}` = what matched).
    pub message: String,
    /// Free-form labels.
    pub tags: Vec<String>,
    /// Report and count, never refuse.
    pub detection_only: bool,
    pub(crate) matcher: Matcher,
}

/// What a compiled rule looks for.
#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    Import(Vec<String>),
    Call(Vec<String>),
    Name(Vec<String>),
    Attribute(Vec<String>),
    Str(Regex),
    Regex(Regex),
    Anomaly(Vec<Anomaly>),
    Heuristic(Heuristic, u64),
}

/// Lookup tables for the rules that apply to one language.
#[derive(Debug, Default)]
pub(crate) struct LangIndex {
    pub imports: Map<String, Vec<usize>>,
    pub calls: NameIndex,
    pub names: NameIndex,
    pub attributes: Map<String, Vec<usize>>,
    pub strings: RegexIndex,
    pub regexes: RegexIndex,
    pub anomalies: Map<Anomaly, Vec<usize>>,
    pub heuristics: Vec<(Heuristic, u64, usize)>,
}

/// Dotted names: exact entries, plus `prefix*` entries checked in order.
#[derive(Debug, Default)]
pub(crate) struct NameIndex {
    pub exact: Map<String, Vec<usize>>,
    pub prefixes: Vec<(String, usize)>,
}

impl NameIndex {
    fn add(&mut self, pattern: &str, rule: usize) {
        match pattern.strip_suffix('*') {
            Some(prefix) => self.prefixes.push((prefix.to_string(), rule)),
            None => self
                .exact
                .entry(pattern.to_string())
                .or_default()
                .push(rule),
        }
    }

    /// Every rule whose pattern matches `name`.
    pub fn lookup<'a>(&'a self, name: &'a str) -> impl Iterator<Item = usize> + 'a {
        let exact = self.exact.get(name).into_iter().flatten().copied();
        let prefixed = self
            .prefixes
            .iter()
            .filter(move |(p, _)| name.starts_with(p.as_str()))
            .map(|(_, r)| *r);
        exact.chain(prefixed)
    }
}

/// Many regexes tested in one pass, then located one by one.
#[derive(Debug)]
pub(crate) struct RegexIndex {
    pub set: RegexSet,
    pub rules: Vec<(usize, Regex)>,
}

impl Default for RegexIndex {
    fn default() -> Self {
        Self {
            set: RegexSet::empty(),
            rules: Vec::new(),
        }
    }
}

impl RegexIndex {
    fn build(rules: Vec<(usize, Regex)>) -> Result<Self, regex::Error> {
        // The set must read patterns as each rule's own regex does (multi-line:
        // `^` is any line's start), or it skips rules anchored past line one.
        let set = RegexSetBuilder::new(rules.iter().map(|(_, r)| r.as_str()))
            .multi_line(true)
            .build()?;
        Ok(Self { set, rules })
    }
}

/// A compiled, immutable set of rules; cheap to share across threads.
#[derive(Debug)]
pub struct RuleSet {
    rules: Vec<Rule>,
    by_language: Map<Language, LangIndex>,
    unknown_language: LangIndex,
    /// Verdicts already given under these rules; a reload starts a new one.
    pub(crate) cache: crate::cache::VerdictCache,
}

impl RuleSet {
    /// Loads every `*.toml` file directly inside each directory (not recursively);
    /// ids must be unique across all files. All problems are returned, not just the first.
    pub fn load(dirs: &[PathBuf]) -> Result<RuleSet, Vec<RuleError>> {
        let rules = load::load_dirs(dirs)?;
        Self::from_rules(rules).map_err(|e| vec![e])
    }

    /// Compiles one rule file's text (for tests and embedding); `origin` names it in errors.
    pub fn from_toml(origin: &str, text: &str) -> Result<RuleSet, Vec<RuleError>> {
        let rules = load::parse_file(std::path::Path::new(origin), text)?;
        Self::from_rules(rules).map_err(|e| vec![e])
    }

    fn from_rules(rules: Vec<Rule>) -> Result<RuleSet, RuleError> {
        let mut by_language = Map::default();
        for lang in Language::ALL {
            by_language.insert(lang, build_index(&rules, Some(lang))?);
        }
        let unknown_language = build_index(&rules, None)?;
        Ok(RuleSet {
            rules,
            by_language,
            unknown_language,
            cache: crate::cache::VerdictCache::default(),
        })
    }

    /// Hits and misses of [`crate::screen_cached`] under this rule set.
    pub fn cache_stats(&self) -> crate::CacheStats {
        self.cache.stats()
    }

    /// How many rules are loaded.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when no rule is loaded.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules, in load order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub(crate) fn rule(&self, index: usize) -> &Rule {
        &self.rules[index]
    }

    pub(crate) fn index(&self, language: Option<Language>) -> &LangIndex {
        language
            .and_then(|l| self.by_language.get(&l))
            .unwrap_or(&self.unknown_language)
    }
}

fn applies(rule: &Rule, language: Option<Language>) -> bool {
    rule.languages.is_empty() || language.is_some_and(|l| rule.languages.contains(&l))
}

fn build_index(rules: &[Rule], language: Option<Language>) -> Result<LangIndex, RuleError> {
    let mut ix = LangIndex::default();
    let mut strings = Vec::new();
    let mut regexes = Vec::new();
    for (i, rule) in rules
        .iter()
        .enumerate()
        .filter(|(_, r)| applies(r, language))
    {
        match &rule.matcher {
            Matcher::Import(mods) => mods
                .iter()
                .for_each(|m| ix.imports.entry(m.clone()).or_default().push(i)),
            Matcher::Call(names) => names.iter().for_each(|n| ix.calls.add(n, i)),
            Matcher::Name(names) => names.iter().for_each(|n| ix.names.add(n, i)),
            Matcher::Attribute(attrs) => attrs
                .iter()
                .for_each(|a| ix.attributes.entry(a.clone()).or_default().push(i)),
            Matcher::Str(re) => strings.push((i, re.clone())),
            Matcher::Regex(re) => regexes.push((i, re.clone())),
            Matcher::Anomaly(kinds) => kinds
                .iter()
                .for_each(|k| ix.anomalies.entry(*k).or_default().push(i)),
            Matcher::Heuristic(h, min) => ix.heuristics.push((*h, *min, i)),
        }
    }
    let set_error = |e: regex::Error| RuleError::whole_set(format!("cannot combine regexes: {e}"));
    ix.strings = RegexIndex::build(strings).map_err(set_error)?;
    ix.regexes = RegexIndex::build(regexes).map_err(set_error)?;
    Ok(ix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str, language: &str, regex: &str) -> String {
        format!(
            "[[rule]]\nid = \"{id}\"\nlanguage = {language}\nseverity = \"notice\"\naction = \"log\"\nmessage = \"m\"\nmatch.regex = \"{regex}\"\n"
        )
    }

    #[test]
    fn each_language_gets_one_regex_set_of_its_own_and_any_rules() {
        let text = [
            rule("JS", "\"javascript\"", "eval"),
            rule("JAVA", "\"java\"", "Runtime"),
            rule("NATIVE", "[\"c\", \"cpp\"]", "system"),
            rule("CPP", "\"cpp\"", "fstream"),
            rule("ALL", "\"any\"", "curl"),
        ]
        .concat();
        let set = RuleSet::from_toml("t.toml", &text).expect("valid");
        let ids = |language: Option<Language>| -> Vec<&str> {
            let ix = set.index(language);
            assert_eq!(ix.regexes.set.len(), ix.regexes.rules.len());
            ix.regexes
                .rules
                .iter()
                .map(|(r, _)| set.rule(*r).id.as_str())
                .collect()
        };
        assert_eq!(ids(Some(Language::Javascript)), ["JS", "ALL"]);
        assert_eq!(ids(Some(Language::Java)), ["JAVA", "ALL"]);
        assert_eq!(ids(Some(Language::C)), ["NATIVE", "ALL"]);
        assert_eq!(ids(Some(Language::Cpp)), ["NATIVE", "CPP", "ALL"]);
        assert_eq!(ids(Some(Language::Python)), ["ALL"]);
        assert_eq!(ids(None), ["ALL"]);
    }
}
