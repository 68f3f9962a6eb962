//! Facts and source text against a language's rule index: the only place
//! where rules meet code.

use crate::facts::{Fact, FactKind, Pos};
use crate::position::LineIndex;
use crate::rules::LangIndex;

/// Regex rules report at most this many places each.
const MAX_REGEX_HITS: usize = 5;
/// `{name}` in messages is cut to this many characters.
const MAX_NAME_CHARS: usize = 60;

/// One rule matched at one place; `name` is what matched, for the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hit {
    pub rule: usize,
    pub pos: Pos,
    pub name: String,
}

/// Every hit of the index's fact-based rules.
pub(crate) fn fact_hits(ix: &LangIndex, facts: &[Fact], out: &mut Vec<Hit>) {
    for fact in facts {
        let mut hit = |rule: usize, name: &str| {
            out.push(Hit {
                rule,
                pos: fact.pos,
                name: shorten(name),
            })
        };
        match &fact.kind {
            FactKind::Import(module) => {
                for prefix in module_prefixes(module) {
                    ix.imports
                        .get(prefix)
                        .into_iter()
                        .flatten()
                        .for_each(|r| hit(*r, module));
                }
            }
            FactKind::Name(path) => ix.names.lookup(path).for_each(|r| hit(r, path)),
            FactKind::Call(path) => {
                ix.calls.lookup(path).for_each(|r| hit(r, path));
                ix.names.lookup(path).for_each(|r| hit(r, path));
            }
            FactKind::Attribute(attr) => ix
                .attributes
                .get(attr)
                .into_iter()
                .flatten()
                .for_each(|r| hit(*r, attr)),
            FactKind::Str(s) => {
                if !ix.strings.rules.is_empty() {
                    for i in ix.strings.set.matches(s).iter() {
                        hit(ix.strings.rules[i].0, s);
                    }
                }
            }
            FactKind::Heuristic(kind, value) => ix
                .heuristics
                .iter()
                .filter(|(h, min, _)| h == kind && value >= min)
                .for_each(|(_, _, r)| hit(*r, &value.to_string())),
            FactKind::Anomaly(a) => ix
                .anomalies
                .get(a)
                .into_iter()
                .flatten()
                .for_each(|r| hit(*r, a.as_str())),
        }
    }
}

/// Hits of the index's raw-text regex rules.
pub(crate) fn regex_hits(ix: &LangIndex, text: &str, lines: &LineIndex, out: &mut Vec<Hit>) {
    if ix.regexes.rules.is_empty() {
        return;
    }
    for i in ix.regexes.set.matches(text).iter() {
        let (rule, re) = &ix.regexes.rules[i];
        for m in re.find_iter(text).take(MAX_REGEX_HITS) {
            out.push(Hit {
                rule: *rule,
                pos: lines.pos(text, m.start()),
                name: shorten(m.as_str()),
            });
        }
    }
}

/// `a.b.c`, `a.b`, `a`: a rule on a module covers its submodules.
fn module_prefixes(module: &str) -> impl Iterator<Item = &str> {
    let cuts = module
        .match_indices('.')
        .map(|(i, _)| i)
        .chain([module.len()]);
    cuts.map(move |i| &module[..i])
}

fn shorten(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_NAME_CHARS)
        .collect();
    if name.chars().count() > MAX_NAME_CHARS {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_prefixes_cover_parents() {
        let p: Vec<&str> = module_prefixes("importlib.machinery.X").collect();
        assert_eq!(
            p,
            vec!["importlib", "importlib.machinery", "importlib.machinery.X"]
        );
    }

    #[test]
    fn names_are_shortened_and_cleaned() {
        assert_eq!(shorten("a\nb"), "a b");
        assert_eq!(
            shorten(&"x".repeat(100)).chars().count(),
            MAX_NAME_CHARS + 1
        );
    }
}
