//! What the accept guard checks in every request head before the proxy sees
//! it: heads the proxy would refuse with a bare 400 of its own are refused
//! here in the gateway's JSON shape, and absolute-form targets (RFC 9112
//! §3.2.2) are rewritten to origin-form with the target's authority as `Host`.

use crate::error::Refusal;
use std::borrow::Cow;

/// Most header fields a request may have. Executors cap around 100 (hyper's
/// default) and the gateway adds a few of its own when forwarding, so a
/// request the gateway passes never meets an executor's bare 431.
pub const MAX_REQUEST_HEADERS: usize = 64;

/// `head` (request line through its empty line) as the proxy should see it,
/// or why it is refused.
pub fn check(head: &[u8]) -> Result<Cow<'_, [u8]>, Refusal> {
    // One more slot than allowed, so that "one too many" is told apart.
    let mut slots = [httparse::EMPTY_HEADER; MAX_REQUEST_HEADERS + 1];
    let mut request = httparse::Request::new(&mut slots);
    match request.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(malformed("the request head is incomplete")),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Refusal::TooManyHeaders {
                limit: MAX_REQUEST_HEADERS,
            });
        }
        Err(e) => return Err(malformed(&format!("malformed request head: {e}"))),
    }
    if request.headers.len() > MAX_REQUEST_HEADERS {
        return Err(Refusal::TooManyHeaders {
            limit: MAX_REQUEST_HEADERS,
        });
    }
    let headers: &[httparse::Header<'_>] = request.headers;
    let named = |name: &'static str| {
        headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
    };
    if named("host").count() > 1 {
        return Err(malformed("more than one Host header"));
    }
    let codings: Vec<String> = named("transfer-encoding")
        .flat_map(|h| {
            String::from_utf8_lossy(h.value)
                .split(',')
                .map(|c| c.trim().to_ascii_lowercase())
                .collect::<Vec<_>>()
        })
        .collect();
    if !codings.is_empty() {
        // RFC 9112 §6.1: an HTTP/1.0 request with Transfer-Encoding has faulty
        // framing; §6.3: a request whose final coding is not chunked has none.
        if request.version == Some(0) {
            return Err(malformed("Transfer-Encoding is not allowed on HTTP/1.0"));
        }
        if codings.last().map(String::as_str) != Some("chunked") {
            return Err(malformed("the final Transfer-Encoding must be chunked"));
        }
    }
    let target = request.path.unwrap_or_default();
    match absolute_form(target)? {
        None => Ok(Cow::Borrowed(head)),
        Some((authority, origin)) => Ok(Cow::Owned(origin_form(&request, authority, &origin))),
    }
}

/// The authority and origin-form of an absolute-form target, if it is one.
fn absolute_form(target: &str) -> Result<Option<(&str, String)>, Refusal> {
    let Some((scheme, rest)) = target.split_once("://") else {
        return Ok(None);
    };
    if target.starts_with('/') {
        return Ok(None);
    }
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(malformed(
            "the request target's scheme must be http or https",
        ));
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if authority.is_empty() || authority.contains('@') {
        return Err(malformed(
            "the request target's authority is empty or carries userinfo",
        ));
    }
    if http::uri::Authority::try_from(authority).is_err() {
        return Err(malformed("the request target's authority cannot be read"));
    }
    let origin = match path.chars().next() {
        Some('/') => path.to_string(),
        Some(_) => format!("/{path}"),
        None => "/".to_string(),
    };
    Ok(Some((authority, origin)))
}

/// The head again, with `origin` as its target and `authority` as its only
/// `Host` (RFC 9112 §3.2.2: a received `Host` is replaced by the target's).
fn origin_form(request: &httparse::Request<'_, '_>, authority: &str, origin: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let method = request.method.unwrap_or("GET");
    let minor = request.version.unwrap_or(1);
    out.extend_from_slice(
        format!("{method} {origin} HTTP/1.{minor}\r\nHost: {authority}\r\n").as_bytes(),
    );
    for header in request.headers.iter() {
        if header.name.eq_ignore_ascii_case("host") {
            continue;
        }
        out.extend_from_slice(header.name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(header.value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn malformed(message: &str) -> Refusal {
    Refusal::InvalidRequest {
        field: None,
        message: message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(head: &str) -> String {
        match check(head.as_bytes()) {
            Err(Refusal::InvalidRequest { message, .. }) => message,
            other => panic!("{head:?}: {other:?}"),
        }
    }

    #[test]
    fn heads_the_proxy_would_answer_with_a_bare_400_are_refused_with_a_reason() {
        for (head, reason) in [
            (
                "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
                "more than one Host",
            ),
            (
                "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n",
                "malformed request head",
            ),
            (
                "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",
                "malformed request head",
            ),
            ("GET / http/1.1\r\n\r\n", "malformed request head"),
            (
                "POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n",
                "final Transfer-Encoding",
            ),
            (
                "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
                "final Transfer-Encoding",
            ),
            (
                "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                "HTTP/1.0",
            ),
            ("GET ftp://a/ HTTP/1.1\r\n\r\n", "scheme"),
            ("GET http://u:p@a/ HTTP/1.1\r\n\r\n", "userinfo"),
        ] {
            let message = refused(head);
            assert!(message.contains(reason), "{head:?}: {message}");
        }
    }

    #[test]
    fn absolute_form_becomes_origin_form_with_the_targets_host() {
        let head = b"GET http://example.test:8080/api/v2/runtimes?x=1 HTTP/1.1\r\nHost: other\r\nAccept: */*\r\n\r\n";
        let fixed = check(head).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&fixed),
            "GET /api/v2/runtimes?x=1 HTTP/1.1\r\nHost: example.test:8080\r\nAccept: */*\r\n\r\n"
        );
        let bare = check(b"GET HTTP://example.test HTTP/1.0\r\n\r\n").unwrap();
        assert!(bare.starts_with(b"GET / HTTP/1.0\r\nHost: example.test\r\n"));
        let origin = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
        assert!(matches!(check(origin), Ok(Cow::Borrowed(_))));
    }

    #[test]
    fn header_fields_are_capped_by_count() {
        let head = |n: usize| {
            let mut h = "GET / HTTP/1.1\r\n".to_string();
            for i in 0..n {
                h.push_str(&format!("X-{i}: v\r\n"));
            }
            h + "\r\n"
        };
        assert!(check(head(MAX_REQUEST_HEADERS).as_bytes()).is_ok());
        assert_eq!(
            check(head(MAX_REQUEST_HEADERS + 1).as_bytes()),
            Err(Refusal::TooManyHeaders {
                limit: MAX_REQUEST_HEADERS
            })
        );
        assert!(matches!(
            check(head(300).as_bytes()),
            Err(Refusal::TooManyHeaders { .. })
        ));
    }
}
