//! JSON pointers (RFC 6901) with one extension: a `*` segment matches every
//! element of an array or member of an object (`/submissions/*/stdout`).

use serde_json::Value;

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
                _ => Segment::Key(s.replace("~1", "/").replace("~0", "~")),
            })
            .collect(),
    )
}

/// Escapes a member name for use in a pointer.
pub(crate) fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
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
                path.push_str(&format!("/{i}"));
                visit(item, rest, path, f);
                path.truncate(len);
            }
        }
        (Segment::Any, Value::Object(members)) => {
            for (key, item) in members.iter_mut() {
                path.push('/');
                path.push_str(&escape(key));
                visit(item, rest, path, f);
                path.truncate(len);
            }
        }
        (Segment::Key(key), Value::Object(members)) => {
            if let Some(item) = members.get_mut(key) {
                path.push('/');
                path.push_str(&escape(key));
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
    fn pointers_must_start_with_a_slash() {
        assert_eq!(parse("run/stdout"), None);
        assert_eq!(parse(""), Some(vec![]));
    }
}
