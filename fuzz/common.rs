//! What the dialect targets share: one request through the reader, the clamp,
//! the forwarded path and the response side, as the gateway runs them.

use execgate_dialect::{Dialect, RouteKind, TierLimits};
use http::Method;
use std::time::Duration;

const TIER: TierLimits = TierLimits {
    run_time: Duration::from_secs(5),
    memory_bytes: 128 << 20,
};

/// Splits `data` into a path (up to the first newline) and a body, then reads,
/// clamps and forwards it. A clamped body must be JSON the dialect reads again.
pub fn exercise(dialect: &Dialect, data: &[u8]) {
    let (path, body) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (&b"/"[..], data),
    };
    let Ok(path) = std::str::from_utf8(path) else {
        return;
    };
    for method in [Method::POST, Method::GET, Method::DELETE] {
        let route = dialect.route(&method, path);
        let _ = dialect.forward_path(route, path);
        let _ = dialect.response_fields(path, None);
        if !route.executes() {
            continue;
        }
        let Ok(request) = dialect.parse_request(route, path, body) else {
            continue;
        };
        let _ = dialect.response_fields(path, Some(&request));
        if let Ok(forwarded) = dialect.clamp(&request, &TIER) {
            let again = dialect.parse_request(route, path, &forwarded);
            assert!(again.is_ok(), "a clamped body no longer reads: {again:?}");
        }
    }
    let _ = dialect.verdicts(body);
    if let Ok(doc) = serde_json::from_slice(body) {
        let _ = dialect.verdicts_for(path, &doc);
    }
    let _ = RouteKind::Execute;
}
