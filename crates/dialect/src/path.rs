//! Request paths and query strings, read the way the executors read them, so
//! that the gateway and the executor never disagree on which route or which
//! flag a request names (a disagreement would let code run unscreened).

use crate::model::RequestError;

/// The path without its query string.
pub(crate) fn path_part(path_and_query: &str) -> &str {
    path_and_query
        .split_once('?')
        .map_or(path_and_query, |(path, _)| path)
}

/// The query string, or `""`.
fn query_part(path_and_query: &str) -> &str {
    path_and_query
        .split_once('?')
        .map_or("", |(_, query)| query)
}

/// The path's segments after percent-decoding, with empty segments (from `//`
/// or a trailing `/`) dropped, as routers in Express and Rails treat them.
pub(crate) fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(&percent_decode(s, false)).into_owned())
        .collect()
}

/// Decodes `%XX` escapes (and `+` as space in query strings); malformed escapes stay literal.
fn percent_decode(s: &str, plus_is_space: bool) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex_val(bytes[i + 1]), hex_val(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The decoded value of the last occurrence of query parameter `name` (Rails: last wins).
pub(crate) fn query_value(path_and_query: &str, name: &str) -> Option<String> {
    query_part(path_and_query).rsplit('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(key, true) == name.as_bytes())
            .then(|| String::from_utf8_lossy(&percent_decode(value, true)).into_owned())
    })
}

/// The decoded names of the query parameters, in order.
pub(crate) fn query_names(path_and_query: &str) -> Vec<String> {
    query_part(path_and_query)
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let key = pair.split_once('=').map_or(pair, |(key, _)| key);
            String::from_utf8_lossy(&percent_decode(key, true)).into_owned()
        })
        .collect()
}

/// `path_and_query` with every `name` parameter replaced by one `name=value`.
pub(crate) fn with_param(path_and_query: &str, name: &str, value: &str) -> String {
    let mut pairs: Vec<&str> = query_part(path_and_query)
        .split('&')
        .filter(|pair| {
            let key = pair.split_once('=').map_or(*pair, |(key, _)| key);
            !pair.is_empty() && percent_decode(key, true) != name.as_bytes()
        })
        .collect();
    let param = format!("{name}={value}");
    pairs.push(&param);
    format!("{}?{}", path_part(path_and_query), pairs.join("&"))
}

/// A boolean flag exactly as Judge0 reads it: only `true` is true.
pub(crate) fn flag_lenient(path_and_query: &str, name: &str) -> bool {
    query_value(path_and_query, name).as_deref() == Some("true")
}

/// A boolean flag on an executing route: `true`, `false` or absent; anything
/// else is refused rather than guessed, so gateway and executor agree.
pub(crate) fn flag_strict(path_and_query: &str, name: &str) -> Result<bool, RequestError> {
    match query_value(path_and_query, name).as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(RequestError::new(name, "must be \"true\" or \"false\"")),
    }
}

/// A route pattern: literal segments, `{name}` for any one segment, and a
/// final `*` for any rest (including none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RoutePattern {
    segments: Vec<PatternSegment>,
    rest: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PatternSegment {
    Literal(String),
    Any,
}

impl RoutePattern {
    /// Parses `/submissions/{token}` or `/files/*`.
    pub(crate) fn parse(pattern: &str) -> Result<Self, String> {
        if !pattern.starts_with('/') {
            return Err(format!("route path {pattern:?} must start with /"));
        }
        let raw: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
        let rest = raw.last() == Some(&"*");
        let fixed = &raw[..raw.len() - usize::from(rest)];
        let segments = fixed
            .iter()
            .map(|s| match *s {
                "*" => Err(format!(
                    "route path {pattern:?}: `*` is allowed only at the end"
                )),
                s if s.starts_with('{') && s.ends_with('}') => Ok(PatternSegment::Any),
                s => Ok(PatternSegment::Literal(s.to_string())),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { segments, rest })
    }

    /// A pattern from fixed segments, `{}` standing for any one segment.
    pub(crate) fn of(segments: &[&str]) -> Self {
        let segments = segments
            .iter()
            .map(|s| match *s {
                "{}" => PatternSegment::Any,
                s => PatternSegment::Literal(s.to_string()),
            })
            .collect();
        Self {
            segments,
            rest: false,
        }
    }

    /// Concrete paths (as segments) that both `self` and `other` may match:
    /// one spelled as `self` spells literals, one as `other` does, since
    /// either side may match case-insensitively. Callers confirm each
    /// candidate against the real routers.
    pub(crate) fn common_paths(&self, other: &RoutePattern) -> Vec<Vec<String>> {
        [self.unify(other), other.unify(self)]
            .into_iter()
            .flatten()
            .collect()
    }

    /// The path both patterns match, preferring `self`'s spelling; `None`
    /// when their lengths or literals cannot agree. Wildcards become `x`.
    fn unify(&self, other: &RoutePattern) -> Option<Vec<String>> {
        let len = self.segments.len().max(other.segments.len());
        let reaches = |p: &RoutePattern| p.rest || p.segments.len() == len;
        if !reaches(self) || !reaches(other) {
            return None;
        }
        (0..len)
            .map(|i| match (self.segments.get(i), other.segments.get(i)) {
                (Some(PatternSegment::Literal(a)), Some(PatternSegment::Literal(b))) => {
                    a.eq_ignore_ascii_case(b).then(|| a.clone())
                }
                (Some(PatternSegment::Literal(a)), _) | (_, Some(PatternSegment::Literal(a))) => {
                    Some(a.clone())
                }
                _ => Some("x".to_string()),
            })
            .collect()
    }

    /// Whether the decoded `segments` match; literals compare ASCII-case-insensitively
    /// when `ignore_case` (Express routes do).
    pub(crate) fn matches(&self, segments: &[String], ignore_case: bool) -> bool {
        let length_ok = if self.rest {
            segments.len() >= self.segments.len()
        } else {
            segments.len() == self.segments.len()
        };
        length_ok
            && self.segments.iter().zip(segments).all(|(p, s)| match p {
                PatternSegment::Any => true,
                PatternSegment::Literal(l) if ignore_case => l.eq_ignore_ascii_case(s),
                PatternSegment::Literal(l) => l == s,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(path: &str) -> Vec<String> {
        segments(path_part(path))
    }

    #[test]
    fn segments_drop_empty_parts_and_decode_escapes() {
        assert_eq!(segs("//api/v2//execute/?x=1"), ["api", "v2", "execute"]);
        assert_eq!(segs("/api/v2/%65xecute"), ["api", "v2", "execute"]);
        assert_eq!(segs("/a%zz/b%4"), ["a%zz", "b%4"]);
        assert!(segs("/").is_empty());
    }

    #[test]
    fn query_values_decode_and_last_one_wins() {
        let q = "/submissions?base64_encoded=false&wait=tru%65&base64_encoded=true";
        assert_eq!(query_value(q, "base64_encoded").as_deref(), Some("true"));
        assert_eq!(query_value(q, "wait").as_deref(), Some("true"));
        assert_eq!(query_value(q, "fields"), None);
        assert_eq!(query_value("/x?a+b=c+d", "a b").as_deref(), Some("c d"));
        assert_eq!(query_value("/x?flag", "flag").as_deref(), Some(""));
    }

    #[test]
    fn query_names_are_decoded_in_order() {
        assert_eq!(query_names("/s?a=1&b%5Fc=2&&d"), ["a", "b_c", "d"]);
        assert!(query_names("/s").is_empty());
    }

    #[test]
    fn a_param_is_replaced_once_and_the_rest_kept() {
        assert_eq!(
            with_param(
                "/s/t?base64_encoded=1&fields=a,b&base64%5Fencoded=x",
                "base64_encoded",
                "false"
            ),
            "/s/t?fields=a,b&base64_encoded=false"
        );
        assert_eq!(with_param("/s", "wait", "true"), "/s?wait=true");
    }

    #[test]
    fn lenient_flags_are_true_only_for_true() {
        assert!(flag_lenient("/s?base64_encoded=true", "base64_encoded"));
        assert!(!flag_lenient("/s?base64_encoded=1", "base64_encoded"));
        assert!(!flag_lenient("/s?base64_encoded=TRUE", "base64_encoded"));
        assert!(!flag_lenient("/s", "base64_encoded"));
    }

    #[test]
    fn strict_flags_refuse_ambiguous_values() {
        assert_eq!(flag_strict("/s?wait=true", "wait"), Ok(true));
        assert_eq!(flag_strict("/s?wait=false", "wait"), Ok(false));
        assert_eq!(flag_strict("/s", "wait"), Ok(false));
        let err = flag_strict("/s?wait=1", "wait").unwrap_err();
        assert_eq!(err.field, "wait");
    }

    #[test]
    fn patterns_match_literals_params_and_rest() {
        let p = RoutePattern::parse("/submissions/{token}").unwrap();
        assert!(p.matches(&segs("/submissions/abc"), false));
        assert!(!p.matches(&segs("/submissions"), false));
        assert!(!p.matches(&segs("/submissions/a/b"), false));
        assert!(!p.matches(&segs("/Submissions/abc"), false));
        assert!(p.matches(&segs("/Submissions/abc"), true));
        let rest = RoutePattern::parse("/files/*").unwrap();
        assert!(rest.matches(&segs("/files"), false));
        assert!(rest.matches(&segs("/files/a/b"), false));
        assert!(RoutePattern::parse("files").is_err());
        let token = RoutePattern::of(&["submissions", "{}"]);
        assert!(token.matches(&segs("/submissions/abc"), false));
        assert!(!token.matches(&segs("/submissions"), false));
        assert!(RoutePattern::parse("/a/*/b").is_err());
    }

    #[test]
    fn common_paths_unify_literals_wildcards_and_rests() {
        let p = |s: &str| RoutePattern::parse(s).unwrap();
        let joined = |a: &str, b: &str| -> Vec<String> {
            p(a).common_paths(&p(b))
                .iter()
                .map(|s| format!("/{}", s.join("/")))
                .collect()
        };
        assert_eq!(joined("/{a}/b", "/a/{b}"), ["/a/b", "/a/b"]);
        assert_eq!(
            joined("/API/v2/{x}", "/api/v2/execute"),
            ["/API/v2/execute", "/api/v2/execute"]
        );
        assert_eq!(
            joined("/*", "/languages/{id}"),
            ["/languages/x", "/languages/x"]
        );
        assert_eq!(joined("/files/*", "/files"), ["/files", "/files"]);
        assert!(joined("/a/b", "/a/c").is_empty());
        assert!(joined("/a", "/a/b").is_empty());
        assert!(joined("/a/b/*", "/a").is_empty());
    }
}
