//! The IETF `RateLimit-Policy` / `RateLimit` header values
//! (draft-ietf-httpapi-ratelimit-headers, structured-field syntax).

use super::{WindowState, ceil_secs};

/// `(RateLimit-Policy, RateLimit)` for `windows`, e.g.
/// `"burst";q=3;w=10, "hourly";q=10;w=3600` and `"burst";r=0;t=7`.
///
/// `RateLimit` names the most constraining window: the fewest requests left,
/// and among those the longest wait. Both are empty when there are no windows.
pub fn ratelimit_headers(windows: &[WindowState]) -> (String, String) {
    let policy = windows
        .iter()
        .map(|w| {
            format!(
                "{};q={};w={}",
                quoted(&w.name),
                w.quota,
                ceil_secs(w.period)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let current = windows
        .iter()
        .min_by(|a, b| {
            a.remaining
                .cmp(&b.remaining)
                .then(b.reset_after.cmp(&a.reset_after))
        })
        .map(|w| {
            format!(
                "{};r={};t={}",
                quoted(&w.name),
                w.remaining,
                ceil_secs(w.reset_after)
            )
        })
        .unwrap_or_default();
    (policy, current)
}

/// A structured-field string: quotes and backslashes escaped, non-printable ASCII dropped.
fn quoted(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars().filter(|c| (' '..='~').contains(c)) {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn w(name: &str, quota: u32, period: u64, remaining: u32, reset_ms: u64) -> WindowState {
        WindowState {
            name: name.to_string(),
            quota,
            period: Duration::from_secs(period),
            remaining,
            reset_after: Duration::from_millis(reset_ms),
        }
    }

    #[test]
    fn headers_follow_the_draft_syntax_and_name_the_tightest_window() {
        let windows = [
            w("burst", 3, 10, 0, 6_200),
            w("hourly", 10, 3600, 7, 360_000),
            w("daily", 50, 86400, 47, 1_728_000),
        ];
        let (policy, current) = ratelimit_headers(&windows);
        assert_eq!(
            policy,
            r#""burst";q=3;w=10, "hourly";q=10;w=3600, "daily";q=50;w=86400"#
        );
        assert_eq!(current, r#""burst";r=0;t=7"#);
    }

    #[test]
    fn ties_on_remaining_pick_the_longest_wait() {
        let windows = [w("burst", 3, 10, 0, 1_000), w("daily", 5, 86400, 0, 9_000)];
        assert_eq!(ratelimit_headers(&windows).1, r#""daily";r=0;t=9"#);
    }

    #[test]
    fn names_are_escaped_and_no_windows_give_empty_headers() {
        let windows = [w("a\"b\\c\n", 1, 1, 1, 0)];
        assert_eq!(ratelimit_headers(&windows).0, r#""a\"b\\c";q=1;w=1"#);
        assert_eq!(ratelimit_headers(&[]), (String::new(), String::new()));
    }
}
