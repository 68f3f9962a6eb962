//! Response hygiene: strip headers that fingerprint the executor, add security
//! headers, and hold the body (capped) so it can be inspected before it leaves.

use bytes::{Bytes, BytesMut};
use pingora_http::ResponseHeader;

/// Headers that tell an attacker what runs behind the gateway.
const FINGERPRINTS: [&str; 8] = [
    "server",
    "x-powered-by",
    "via",
    "x-aspnet-version",
    "x-aspnetmvc-version",
    "x-runtime",
    "x-version",
    "x-generator",
];

/// Security headers on every response the gateway sends.
pub const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("X-Content-Type-Options", "nosniff"),
    ("Cache-Control", "no-store"),
    ("Referrer-Policy", "no-referrer"),
    (
        "Content-Security-Policy",
        "default-src 'none'; frame-ancestors 'none'; sandbox",
    ),
];

/// Removes fingerprinting headers and adds the security headers.
pub fn harden(resp: &mut ResponseHeader) -> pingora_core::Result<()> {
    for name in FINGERPRINTS {
        resp.remove_header(name);
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

/// Whether the body arrives encoded (compressed) despite our `Accept-Encoding: identity`.
pub fn is_encoded(resp: &ResponseHeader) -> bool {
    resp.headers
        .get(http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|e| !e.trim().eq_ignore_ascii_case("identity") && !e.trim().is_empty())
}

/// A response body held until complete; past the cap it is cut, never streamed raw.
#[derive(Debug, Default)]
pub struct ResponseHold {
    buf: BytesMut,
    cap: usize,
    overflowed: bool,
}

impl ResponseHold {
    /// Holds at most `cap` bytes.
    pub fn new(cap: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            cap,
            overflowed: false,
        }
    }

    /// Adds a chunk, dropping whatever passes the cap.
    pub fn push(&mut self, chunk: &[u8]) {
        let room = self.cap.saturating_sub(self.buf.len());
        if chunk.len() > room {
            self.overflowed = true;
        }
        self.buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }

    /// Whether bytes were dropped.
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// The held bytes.
    pub fn take(&mut self) -> Bytes {
        std::mem::take(&mut self.buf).freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hardening_strips_fingerprints_and_adds_security_headers() {
        let mut resp = ResponseHeader::build(200, None).unwrap();
        resp.insert_header("Server", "nginx/1.2").unwrap();
        resp.insert_header("X-Powered-By", "Express").unwrap();
        harden(&mut resp).unwrap();
        assert!(resp.headers.get("server").is_none());
        assert!(resp.headers.get("x-powered-by").is_none());
        assert_eq!(
            resp.headers.get("x-content-type-options").unwrap(),
            "nosniff"
        );
        assert_eq!(resp.headers.get("cache-control").unwrap(), "no-store");
    }

    #[test]
    fn held_responses_are_cut_at_the_cap() {
        let mut hold = ResponseHold::new(4);
        hold.push(b"abc");
        hold.push(b"def");
        assert!(hold.overflowed());
        assert_eq!(&hold.take()[..], b"abcd");
    }
}
