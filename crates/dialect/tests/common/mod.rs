//! Helpers shared by the dialect test files.
#![allow(dead_code)]

use execgate_dialect::{
    Dialect, DialectConfig, DialectKind, ExecRequest, RequestError, RouteKind, TierLimits,
};
use serde_json::Value;
use std::time::Duration;

/// The anonymous tier of seed 000: 5 s, 128 MB.
pub const TIER: TierLimits = TierLimits {
    run_time: Duration::from_secs(5),
    memory_bytes: 128 << 20,
};

/// A dialect of `kind` with default settings.
pub fn dialect(kind: DialectKind) -> Dialect {
    Dialect::new(DialectConfig {
        kind: kind.into(),
        ..DialectConfig::default()
    })
    .unwrap()
}

/// Parses `body` (serialised) on `route` and `path`.
pub fn parse(
    d: &Dialect,
    route: RouteKind,
    path: &str,
    body: &Value,
) -> Result<ExecRequest, RequestError> {
    d.parse_request(route, path, &serde_json::to_vec(body).unwrap())
}

/// The refusal of `body`, which must be refused.
pub fn refusal(d: &Dialect, route: RouteKind, path: &str, body: &Value) -> RequestError {
    parse(d, route, path, body).expect_err("request must be refused")
}

/// Parses and clamps `body`, returning the forwarded JSON.
pub fn clamped(d: &Dialect, route: RouteKind, path: &str, body: &Value) -> Value {
    let req = parse(d, route, path, body).unwrap();
    serde_json::from_slice(&d.clamp(&req, &TIER).unwrap()).unwrap()
}
