//! Environment dumps: the values of listed variables in `NAME=value` lines
//! (`env`, `export`, `/proc/self/environ`) and in `'NAME': 'value'` maps (Python's
//! `os.environ`, JSON). The name stays visible; the value becomes `[REDACTED:env-value]`.

use super::{Hit, Label, builtin};
use crate::policy::OutputPolicy;
use std::collections::HashSet;

/// Adds a hit for the value of every listed variable in `text`.
pub(super) fn find(policy: &OutputPolicy, text: &str, hits: &mut Vec<Hit>) {
    if policy.env_names.is_empty() {
        return;
    }
    let bytes = text.as_bytes();
    let mut covered = 0;
    // Built at the first candidate name: a text without one costs nothing.
    let mut listed: Option<Names> = None;
    for sep in memchr::memchr2_iter(b'=', b':', bytes) {
        // `NAME: value` counts only quoted (`'NAME': …`): most colons are
        // rejected here, before the name is looked for.
        if sep < covered || (bytes[sep] == b':' && !quote_before(bytes, sep)) {
            continue;
        }
        let Some((name, quoted)) = name_before(bytes, sep) else {
            continue;
        };
        if bytes[sep] == b':' && !quoted {
            continue;
        }
        let name = &text[name.0..name.1];
        if !listed
            .get_or_insert_with(|| Names::new(policy))
            .contains(name)
        {
            continue;
        }
        if let Some((start, end)) = value_after(bytes, sep + 1) {
            covered = end;
            hits.push(Hit {
                start,
                end,
                label: Label::Builtin(builtin::ENV_VALUE),
            });
        }
    }
}

/// The policy's `env_names` indexed for the many lookups of one text (the
/// gateway lists its whole process environment: dozens of names).
struct Names<'p> {
    exact: HashSet<&'p str>,
    prefixes: Vec<&'p str>,
}

impl<'p> Names<'p> {
    fn new(policy: &'p OutputPolicy) -> Self {
        let mut names = Names {
            exact: HashSet::with_capacity(policy.env_names.len()),
            prefixes: Vec::new(),
        };
        for entry in &policy.env_names {
            match entry.strip_suffix('*') {
                Some(prefix) => names.prefixes.push(prefix),
                None => {
                    names.exact.insert(entry);
                }
            }
        }
        names
    }

    /// `OutputPolicy::env_name_listed`, in constant time for exact names.
    fn contains(&self, name: &str) -> bool {
        self.exact.contains(name) || self.prefixes.iter().any(|p| name.starts_with(p))
    }
}

/// Whether the last byte before `sep`, blanks skipped, is a quote.
fn quote_before(bytes: &[u8], sep: usize) -> bool {
    bytes[..sep]
        .iter()
        .rev()
        .find(|b| !matches!(b, b' ' | b'\t'))
        .is_some_and(|b| matches!(b, b'\'' | b'"'))
}

/// The span of the variable name that ends before the separator at `sep`, and
/// whether it was quoted; `None` when no name stands alone there.
fn name_before(bytes: &[u8], sep: usize) -> Option<((usize, usize), bool)> {
    let mut end = sep;
    while end > 0 && matches!(bytes[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    let quote = end
        .checked_sub(1)
        .map(|i| bytes[i])
        .filter(|b| matches!(b, b'\'' | b'"'));
    if quote.is_some() {
        end -= 1;
    }
    let mut start = end;
    while start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
        start -= 1;
    }
    if start == end || bytes[start].is_ascii_digit() {
        return None;
    }
    let before = start.checked_sub(1).map(|i| bytes[i]);
    let bounded = match (quote, before) {
        (Some(q), Some(b)) => b == q,
        (Some(_), None) => false,
        (None, None) => true,
        (None, Some(b)) => b.is_ascii_whitespace() || matches!(b, 0 | b'{' | b',' | b';' | b'('),
    };
    bounded.then_some(((start, end), quote.is_some()))
}

/// The span of the value that starts at `from` (after optional blanks): up to the
/// closing quote if quoted, else to the end of the line, a NUL, `,` or `}`.
fn value_after(bytes: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut start = from;
    while start < bytes.len() && matches!(bytes[start], b' ' | b'\t') {
        start += 1;
    }
    let (start, stops): (usize, &[u8]) = match bytes.get(start) {
        Some(b'\'') => (start + 1, b"'\n\0"),
        Some(b'"') => (start + 1, b"\"\n\0"),
        _ => (start, b"\n\r\0,}"),
    };
    let len = bytes
        .get(start..)?
        .iter()
        .position(|b| stops.contains(b))
        .unwrap_or(bytes.len() - start);
    (len > 0).then_some((start, start + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<&str> {
        let mut hits = Vec::new();
        find(&OutputPolicy::default(), text, &mut hits);
        hits.iter().map(|h| &text[h.start..h.end]).collect()
    }

    #[test]
    fn env_lines_and_maps_lose_their_values() {
        let text = "HOME=/root\nAWS_SECRET_ACCESS_KEY=abc/def+1\nexport DATABASE_URL=postgres://u@db/x\n\
                    {'AWS_REGION': 'eu-west-1', 'PATH': '/bin'}\nEXECGATE_TOKEN=t1\0API_KEY=k2\0";
        assert_eq!(
            values(text),
            vec!["abc/def+1", "postgres://u@db/x", "eu-west-1", "t1", "k2"]
        );
    }

    #[test]
    fn the_index_agrees_with_the_policy() {
        let mut policy = OutputPolicy::default();
        policy.add_env_names(["SERVICE_TOKEN".to_string()]);
        let names = Names::new(&policy);
        for name in [
            "AWS_X",
            "AWS",
            "SERVICE_TOKEN",
            "SERVICE_TOKEN_2",
            "API_KEY",
            "HOME",
            "",
        ] {
            assert_eq!(names.contains(name), policy.env_name_listed(name), "{name}");
        }
    }

    #[test]
    fn unlisted_or_embedded_names_are_kept() {
        let text = "MY_AWS_KEY=1\nxAPI_KEY=2\nAPI_KEY2=3\nAPI_KEY: unquoted yaml is not env\n";
        assert!(values(text).is_empty(), "{:?}", values(text));
    }
}
