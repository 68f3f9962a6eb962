//! Every refusal the gateway sends, and the one function that turns it into HTTP.
//!
//! Stages return a typed `Refusal`; `Refusal::render` is the only place that
//! knows status codes, headers and the JSON shape
//! `{"error":{"code","message","request_id",…details}}`: the accept guard, the
//! proxy's rescue point and the response side only serialize the `Rendered`
//! response it returns. Rule internals (patterns, list contents) never appear here.

use serde_json::{Map, Value, json};
use std::time::Duration;

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

/// One screening finding as shown to the client (never the rule's pattern).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ShownFinding {
    /// Rule id.
    pub rule: String,
    /// 1-based line.
    pub line: u32,
    /// 0-based column.
    pub column: u32,
    /// Severity name.
    pub severity: String,
    /// The rule's message.
    pub message: String,
}

/// Why a client is blocked, as a category (list contents stay private).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockCategory {
    /// A static deny CIDR.
    DenyList,
    /// A country rule.
    Country,
    /// An ASN rule.
    Asn,
    /// An entry in the dynamic blocklist.
    Blocklist,
}

impl From<execgate_dialect::RequestError> for Refusal {
    /// A body or query the dialect cannot read: 400 naming the field.
    fn from(e: execgate_dialect::RequestError) -> Self {
        Refusal::InvalidRequest {
            field: Some(e.field),
            message: e.message,
        }
    }
}

impl BlockCategory {
    /// The name shown in errors and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            BlockCategory::DenyList => "deny_list",
            BlockCategory::Country => "country",
            BlockCategory::Asn => "asn",
            BlockCategory::Blocklist => "blocklist",
        }
    }
}

/// A request the gateway refuses or cannot serve.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// Malformed request body or parameters (400).
    InvalidRequest {
        field: Option<String>,
        message: String,
    },
    /// Credentials present but invalid or expired (401).
    Unauthorized { message: String },
    /// The client is blocked (403): its address by the IP policy, its
    /// country or ASN by GeoIP rules, or its address or key by the blocklist.
    /// Sent with the code `ip_blocked`, which clients already match on.
    Blocked {
        category: BlockCategory,
        reason: Option<String>,
    },
    /// Screening refused the code (403).
    CodeRejected {
        score: u32,
        findings: Vec<ShownFinding>,
    },
    /// The route is not one the dialect knows (404).
    UnknownRoute,
    /// The request body exceeds the tier's cap (413).
    BodyTooLarge { limit: u64 },
    /// A body without `Content-Length` grew past what is decided before any
    /// upstream contact (411).
    LengthRequired { limit: u64 },
    /// The source code exceeds the tier's cap (413).
    CodeTooLarge { limit: u64 },
    /// A rate window is exhausted (429); `headers` carry the `RateLimit*` fields.
    RateLimited {
        window: String,
        retry_after: Duration,
        headers: Vec<(&'static str, String)>,
    },
    /// The request head did not arrive in time (408).
    HeaderTimeout,
    /// The request body did not arrive in time, e.g. a `Content-Length` larger than what was sent (408).
    BodyTimeout,
    /// The request head is too large (431).
    HeadersTooLarge { limit: usize },
    /// The request has more header fields than allowed (431).
    TooManyHeaders { limit: usize },
    /// Too many open connections (503).
    Overloaded,
    /// A policy that fails closed cannot reach the shared state it decides on (503).
    StateUnavailable,
    /// No executor is healthy (503).
    UpstreamUnavailable,
    /// The executor failed or answered garbage (502).
    UpstreamFailed { message: String },
    /// The executor did not answer in time (504).
    UpstreamTimeout,
    /// A bug or an unexpected condition (500).
    Internal,
    /// The execution pool, its queue or a budget turned the run away
    /// (429 concurrency_limited, 503 queue_full, 504 queue_timeout, 402/429 budget_exhausted).
    Capacity(execgate_capacity::CapacityRefusal),
}

/// A rendered refusal: the whole response but its framing on the wire.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// HTTP status.
    pub status: u16,
    /// Every header: `Content-Type`, `Content-Length`, `X-Request-Id`, the
    /// security headers, and the refusal's own (`Retry-After`, `RateLimit*`).
    pub headers: Vec<(&'static str, String)>,
    /// The JSON body.
    pub body: Vec<u8>,
}

impl Rendered {
    /// The response as HTTP/1.1 bytes on a connection closed after it.
    pub fn to_http1_closing(&self) -> Vec<u8> {
        let reason = http::StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error");
        let mut head = format!("HTTP/1.1 {} {reason}\r\n", self.status);
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("Connection: close\r\n\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

impl Refusal {
    /// The stable machine-readable code (see the README's table).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::InvalidRequest { .. } => "invalid_request",
            Refusal::Unauthorized { .. } => "unauthorized",
            Refusal::Blocked { .. } => "ip_blocked",
            Refusal::CodeRejected { .. } => "code_rejected",
            Refusal::UnknownRoute => "unknown_route",
            Refusal::BodyTooLarge { .. } => "body_too_large",
            Refusal::LengthRequired { .. } => "length_required",
            Refusal::CodeTooLarge { .. } => "code_too_large",
            Refusal::RateLimited { .. } => "rate_limited",
            Refusal::HeaderTimeout => "header_timeout",
            Refusal::BodyTimeout => "body_timeout",
            Refusal::HeadersTooLarge { .. } | Refusal::TooManyHeaders { .. } => "headers_too_large",
            Refusal::Overloaded => "overloaded",
            Refusal::StateUnavailable => "shared_state_unavailable",
            Refusal::UpstreamUnavailable => "upstream_unavailable",
            Refusal::UpstreamFailed { .. } => "upstream_error",
            Refusal::UpstreamTimeout => "upstream_timeout",
            Refusal::Internal => "internal_error",
            Refusal::Capacity(c) => c.code(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::InvalidRequest { .. } => 400,
            Refusal::Unauthorized { .. } => 401,
            Refusal::Blocked { .. } | Refusal::CodeRejected { .. } => 403,
            Refusal::UnknownRoute => 404,
            Refusal::HeaderTimeout | Refusal::BodyTimeout => 408,
            Refusal::LengthRequired { .. } => 411,
            Refusal::BodyTooLarge { .. } | Refusal::CodeTooLarge { .. } => 413,
            Refusal::RateLimited { .. } => 429,
            Refusal::HeadersTooLarge { .. } | Refusal::TooManyHeaders { .. } => 431,
            Refusal::Internal => 500,
            Refusal::UpstreamFailed { .. } => 502,
            Refusal::Overloaded | Refusal::UpstreamUnavailable | Refusal::StateUnavailable => 503,
            Refusal::UpstreamTimeout => 504,
            Refusal::Capacity(c) => c.status(),
        }
    }

    fn message(&self) -> String {
        match self {
            Refusal::InvalidRequest { message, .. } | Refusal::Unauthorized { message } => {
                message.clone()
            }
            Refusal::Blocked { .. } => "requests from this client are not accepted".into(),
            Refusal::CodeRejected { .. } => {
                "the submitted code was refused by screening rules".into()
            }
            Refusal::UnknownRoute => "this path is not served by the gateway".into(),
            Refusal::BodyTooLarge { limit } => {
                format!("request body exceeds the limit of {limit} bytes")
            }
            Refusal::CodeTooLarge { limit } => {
                format!("source code exceeds the limit of {limit} bytes")
            }
            Refusal::LengthRequired { limit } => {
                format!("a request body over {limit} bytes must declare its Content-Length")
            }
            Refusal::RateLimited { window, .. } => format!("rate limit exceeded ({window} window)"),
            Refusal::HeaderTimeout => "request headers were not received in time".into(),
            Refusal::BodyTimeout => "the request body was not received in time".into(),
            Refusal::HeadersTooLarge { limit } => format!("request headers exceed {limit} bytes"),
            Refusal::TooManyHeaders { limit } => {
                format!("the request has more than {limit} header fields")
            }
            Refusal::Overloaded => "the gateway is at its connection limit".into(),
            Refusal::StateUnavailable => {
                "the shared state this gateway's policy needs is unreachable; retry shortly".into()
            }
            Refusal::UpstreamUnavailable => "no executor is available".into(),
            Refusal::UpstreamFailed { message } => message.clone(),
            Refusal::UpstreamTimeout => "the executor did not answer in time".into(),
            Refusal::Internal => "internal error".into(),
            Refusal::Capacity(c) => c.to_string(),
        }
    }

    fn details(&self, out: &mut Map<String, Value>) {
        match self {
            Refusal::InvalidRequest { field: Some(f), .. } => {
                out.insert("field".into(), json!(f));
            }
            Refusal::Blocked { category, reason } => {
                out.insert("reason".into(), json!(category.as_str()));
                if let Some(r) = reason {
                    out.insert("detail".into(), json!(r));
                }
            }
            Refusal::CodeRejected { score, findings } => {
                out.insert("score".into(), json!(score));
                out.insert("findings".into(), json!(findings));
            }
            Refusal::BodyTooLarge { limit }
            | Refusal::CodeTooLarge { limit }
            | Refusal::LengthRequired { limit } => {
                out.insert("limit_bytes".into(), json!(limit));
            }
            Refusal::RateLimited {
                window,
                retry_after,
                ..
            } => {
                out.insert("window".into(), json!(window));
                out.insert("retry_after".into(), json!(retry_secs(*retry_after)));
            }
            Refusal::Capacity(c) => {
                out.insert("retry_after".into(), json!(c.retry_after_secs()));
                if let execgate_capacity::CapacityRefusal::SessionLimit { limit, .. } = c {
                    out.insert("reason".into(), json!(limit.as_str()));
                }
                if let execgate_capacity::CapacityRefusal::BudgetExhausted { resets_at, .. } = c {
                    let at = resets_at
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs());
                    out.insert("resets_at_unix".into(), json!(at));
                }
            }
            _ => {}
        }
    }

    /// The refusal in one sentence with its code, and the field when one is to blame.
    fn client_message(&self) -> String {
        match self {
            Refusal::InvalidRequest { field: Some(f), .. } => {
                format!("{}: {f}: {}", self.code(), self.message())
            }
            _ => format!("{}: {}", self.code(), self.message()),
        }
    }

    /// Renders the refusal for the request `request_id`.
    pub fn render(&self, request_id: &str) -> Rendered {
        let mut error = Map::new();
        error.insert("code".into(), json!(self.code()));
        error.insert("message".into(), json!(self.message()));
        error.insert("request_id".into(), json!(request_id));
        self.details(&mut error);
        // Piston clients show a top-level `message`, Judge0 clients `message` or
        // `error`: the refusal reads as a sentence in the clients people use.
        let body = json!({ "error": error, "message": self.client_message() });
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let mut headers = vec![
            ("Content-Type", "application/json".to_string()),
            ("Content-Length", body.len().to_string()),
            ("X-Request-Id", request_id.to_string()),
        ];
        headers.extend(SECURITY_HEADERS.map(|(name, value)| (name, value.to_string())));
        if let Refusal::RateLimited {
            retry_after,
            headers: extra,
            ..
        } = self
        {
            headers.push(("Retry-After", retry_secs(*retry_after).to_string()));
            headers.extend(extra.iter().cloned());
        }
        if let Refusal::StateUnavailable = self {
            headers.push(("Retry-After", "1".to_string()));
        }
        if let Refusal::Capacity(c) = self {
            headers.push(("Retry-After", c.retry_after_secs().to_string()));
        }
        Rendered {
            status: self.status(),
            headers,
            body,
        }
    }
}

/// Whole seconds to wait, rounded up so a client never retries too early.
pub fn retry_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_has_the_one_shape() {
        let r = Refusal::RateLimited {
            window: "burst".into(),
            retry_after: Duration::from_millis(6100),
            headers: vec![("RateLimit", "\"burst\";r=0;t=7".into())],
        }
        .render("req-1");
        assert_eq!(r.status, 429);
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["error"]["code"], "rate_limited");
        assert_eq!(v["error"]["request_id"], "req-1");
        assert_eq!(v["error"]["window"], "burst");
        assert_eq!(v["error"]["retry_after"], 7);
        assert_eq!(
            v["message"],
            "rate_limited: rate limit exceeded (burst window)"
        );
        assert!(r.headers.contains(&("Retry-After", "7".into())));
    }

    /// The accept guard, the rescue point and the response side all send
    /// these: every refusal carries its length, request id and the security headers.
    #[test]
    fn a_rendered_refusal_is_the_whole_response() {
        let r = Refusal::UnknownRoute.render("req-9");
        let names: Vec<&str> = r.headers.iter().map(|(n, _)| *n).collect();
        for name in ["Content-Type", "Content-Length", "X-Request-Id"]
            .into_iter()
            .chain(SECURITY_HEADERS.map(|(n, _)| n))
        {
            assert!(names.contains(&name), "{name} missing: {names:?}");
        }
        assert!(
            r.headers
                .contains(&("Content-Length", r.body.len().to_string()))
        );
        assert!(r.headers.contains(&("X-Request-Id", "req-9".to_string())));
        let wire = String::from_utf8(r.to_http1_closing()).unwrap();
        let (head, body) = wire.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 404 Not Found\r\n"), "{head}");
        for (name, value) in &r.headers {
            assert!(
                head.contains(&format!("\r\n{name}: {value}")),
                "{name}: {head}"
            );
        }
        assert!(head.ends_with("\r\nConnection: close"), "{head}");
        assert_eq!(body.as_bytes(), &r.body[..]);
    }

    #[test]
    fn clients_read_a_top_level_message_naming_the_field() {
        let r = Refusal::InvalidRequest {
            field: Some("run_timeout".into()),
            message: "must be a number, not a string".into(),
        }
        .render("r");
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            v["message"],
            "invalid_request: run_timeout: must be a number, not a string"
        );
        assert_eq!(v["error"]["field"], "run_timeout");
    }

    #[test]
    fn blocks_name_the_category_only() {
        let r = Refusal::Blocked {
            category: BlockCategory::DenyList,
            reason: None,
        }
        .render("x");
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            (r.status, v["error"]["reason"].as_str()),
            (403, Some("deny_list"))
        );
    }
}
