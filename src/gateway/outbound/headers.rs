//! Response headers: only the executor headers a client needs pass, add security
//! headers, and say whether the body is JSON the sanitizer can read.

use crate::error::SECURITY_HEADERS;
use pingora_http::ResponseHeader;

/// The executor's headers a client may see; every other one is dropped, since
/// executors and their frameworks announce themselves in headers nobody can list
/// in advance (`Server`, `X-Powered-By`, `X-Judge0-Version`, the runner's
/// `X-Execgate-Sandbox`, cookies…).
const PASSED_THROUGH: [&str; 9] = [
    "content-type",
    "content-length",
    "content-encoding",
    "transfer-encoding",
    "location",
    "etag",
    "last-modified",
    "vary",
    "retry-after",
];

/// Keeps only the executor headers a client needs and adds the security headers.
pub fn harden(resp: &mut ResponseHeader) -> pingora_core::Result<()> {
    let dropped: Vec<http::HeaderName> = resp
        .headers
        .keys()
        .filter(|name| !PASSED_THROUGH.contains(&name.as_str()))
        .cloned()
        .collect();
    for name in dropped {
        resp.remove_header(&name);
    }
    for (name, value) in SECURITY_HEADERS {
        resp.insert_header(name, value)?;
    }
    Ok(())
}

/// Whether the response declares a JSON body.
pub fn is_json(resp: &ResponseHeader) -> bool {
    resp.headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|ct| {
            let media = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            media == "application/json" || media.ends_with("+json")
        })
        .unwrap_or(false)
}

/// Whether a body arrives encoded (compressed) despite our `Accept-Encoding:
/// identity`: any coding but `identity` in any `Content-Encoding` header, and
/// any value that is not plain text. Answers without a body (204, 304) carry none.
pub fn is_encoded(resp: &ResponseHeader) -> bool {
    if matches!(resp.status.as_u16(), 204 | 304) {
        return false;
    }
    resp.headers
        .get_all(http::header::CONTENT_ENCODING)
        .iter()
        .any(|value| match value.to_str() {
            Ok(codings) => codings.split(',').any(|coding| {
                let coding = coding.trim();
                !coding.is_empty() && !coding.eq_ignore_ascii_case("identity")
            }),
            Err(_) => true,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_coding_but_identity_in_any_header_is_encoded() {
        let with = |status: u16, values: &[&[u8]]| {
            let mut resp = ResponseHeader::build(status, None).unwrap();
            for v in values {
                resp.append_header(
                    "Content-Encoding",
                    http::HeaderValue::from_bytes(v).unwrap(),
                )
                .unwrap();
            }
            is_encoded(&resp)
        };
        assert!(!with(200, &[]));
        assert!(!with(200, &[b"identity"]));
        assert!(!with(200, &[b" Identity , "]));
        assert!(with(200, &[b"gzip"]));
        assert!(with(200, &[b"identity, gzip"]));
        assert!(with(200, &[b"identity", b"br"]), "a second header counts");
        assert!(
            with(200, &[b"gz\xffip"]),
            "a value that is not text is not trusted"
        );
        assert!(!with(204, &[b"gzip"]), "no body to decode");
        assert!(!with(304, &[b"gzip"]));
    }

    #[test]
    fn hardening_strips_fingerprints_and_adds_security_headers() {
        let mut resp = ResponseHeader::build(200, None).unwrap();
        resp.insert_header("Server", "nginx/1.2").unwrap();
        resp.insert_header("X-Powered-By", "Express").unwrap();
        resp.insert_header("X-Execgate-Sandbox", "warm").unwrap();
        resp.insert_header("Set-Cookie", "sid=1").unwrap();
        resp.insert_header("Location", "/submissions/abc").unwrap();
        harden(&mut resp).unwrap();
        for gone in ["server", "x-powered-by", "x-execgate-sandbox", "set-cookie"] {
            assert!(resp.headers.get(gone).is_none(), "{gone} passed");
        }
        assert_eq!(resp.headers.get("location").unwrap(), "/submissions/abc");
        assert_eq!(
            resp.headers.get("x-content-type-options").unwrap(),
            "nosniff"
        );
        assert_eq!(resp.headers.get("cache-control").unwrap(), "no-store");
    }
}
