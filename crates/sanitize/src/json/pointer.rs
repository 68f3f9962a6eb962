//! JSON pointers (RFC 6901) with one extension: a `*` segment matches every
//! element of an array or member of an object (`/submissions/*/stdout`).

use serde_json::Value;
use std::fmt::Write as _;

/// One parsed pointer segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// A member name or array index.
    Key(String),
    /// Every element or member.
    Any,
}

/// Parses `/a/b~1c/*` into segments; `None` if it does not start with `/` (or is not empty).
pub(crate) fn parse(pointer: &str) -> Option<Vec<Segment>> {
    if pointer.is_empty() {
        return Some(Vec::new());
    }
    let rest = pointer.strip_prefix('/')?;
    Some(
        rest.split('/')
            .map(|s| match s {
                "*" => Segment::Any,
                _ => Segment::Key(unescape(s)),
            })
            .collect(),
    )
}

/// A reference token with `~1` read as `/` and `~0` as `~`. Tokens almost
/// never hold a `~`: those are copied whole, without `str::replace`'s
/// substring search (a few hundred instructions per call, on every pointer of
/// every response).
fn unescape(token: &str) -> String {
    if token.contains('~') {
        token.replace("~1", "/").replace("~0", "~")
    } else {
        token.to_string()
    }
}

/// Escapes a member name for use in a pointer.
pub(crate) fn escape(key: &str) -> String {
    let mut escaped = String::with_capacity(key.len());
    push_escaped(&mut escaped, key);
    escaped
}

/// Appends `key` escaped for a pointer to `path`.
pub(crate) fn push_escaped(path: &mut String, key: &str) {
    if !key.contains(['~', '/']) {
        path.push_str(key);
        return;
    }
    for c in key.chars() {
        match c {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            c => path.push(c),
        }
    }
}

/// Calls `f` with the concrete pointer and value of every match of `segments` in `value`.
pub(crate) fn visit(
    value: &mut Value,
    segments: &[Segment],
    path: &mut String,
    f: &mut dyn FnMut(&str, &mut Value),
) {
    let Some((first, rest)) = segments.split_first() else {
        f(path, value);
        return;
    };
    let len = path.len();
    match (first, value) {
        (Segment::Any, Value::Array(items)) => {
            for (i, item) in items.iter_mut().enumerate() {
                let _ = write!(path, "/{i}");
                visit(item, rest, path, f);
                path.truncate(len);
            }
        }
        (Segment::Any, Value::Object(members)) => {
            for (key, item) in members.iter_mut() {
                path.push('/');
                push_escaped(path, key);
                visit(item, rest, path, f);
                path.truncate(len);
            }
        }
        (Segment::Key(key), Value::Object(members)) => {
            if let Some(item) = members.get_mut(key) {
                path.push('/');
                push_escaped(path, key);
                visit(item, rest, path, f);
            }
        }
        (Segment::Key(key), Value::Array(items)) => {
            let item = key.parse::<usize>().ok().and_then(|i| items.get_mut(i));
            if let Some(item) = item {
                path.push('/');
                path.push_str(key);
                visit(item, rest, path, f);
            }
        }
        _ => {}
    }
    path.truncate(len);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn matches(doc: &mut Value, pointer: &str) -> Vec<String> {
        let segments = parse(pointer).unwrap();
        let mut found = Vec::new();
        visit(doc, &segments, &mut String::new(), &mut |p, _| {
            found.push(p.to_string())
        });
        found
    }

    #[test]
    fn wildcards_match_every_element_and_member() {
        let mut doc =
            json!({"submissions": [{"stdout": "a"}, {"stdout": "b"}, {"x": 1}], "a/b": {"c": 1}});
        assert_eq!(
            matches(&mut doc, "/submissions/*/stdout"),
            vec!["/submissions/0/stdout", "/submissions/1/stdout"]
        );
        assert_eq!(matches(&mut doc, "/a~1b/*"), vec!["/a~1b/c"]);
        assert_eq!(
            matches(&mut doc, "/submissions/1/stdout"),
            vec!["/submissions/1/stdout"]
        );
        assert!(matches(&mut doc, "/missing/stdout").is_empty());
    }

    #[test]
    fn escaped_names_round_trip_through_the_concrete_pointer() {
        let mut doc = json!({"m~n/o": {"~": 1, "/": 2, "~1": 3, "plain": 4}});
        let mut found = matches(&mut doc, "/m~0n~1o/*");
        found.sort();
        assert_eq!(
            found,
            vec![
                "/m~0n~1o/plain",
                "/m~0n~1o/~0",
                "/m~0n~1o/~01",
                "/m~0n~1o/~1"
            ]
        );
        // Each concrete pointer names its member again, as RFC 6901 reads it.
        for pointer in &found {
            assert!(doc.pointer(pointer).is_some(), "{pointer}");
            assert_eq!(matches(&mut doc, pointer), vec![pointer.clone()]);
        }
        assert_eq!(escape("a~/b"), "a~0~1b");
        assert_eq!(escape("plain"), "plain");
    }

    #[test]
    fn pointers_must_start_with_a_slash() {
        assert_eq!(parse("run/stdout"), None);
        assert_eq!(parse(""), Some(vec![]));
    }
}
