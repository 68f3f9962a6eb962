//! `X-Request-Id`: keep a sane incoming id so traces join up; otherwise mint one.

use http::HeaderMap;

/// The longest incoming id kept.
const MAX_LEN: usize = 128;

/// The incoming id if it is 1–128 chars of `[A-Za-z0-9._:-]`, else a new UUID.
pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|s| is_sane(s))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

fn is_sane(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-request-id", v.parse().unwrap());
        h
    }

    #[test]
    fn keeps_sane_ids_and_replaces_others() {
        assert_eq!(request_id(&with("abc-123")), "abc-123");
        let fresh = request_id(&with("<script>"));
        assert_eq!(fresh.len(), 36);
        assert_eq!(request_id(&with(&"a".repeat(129))).len(), 36);
    }
}
