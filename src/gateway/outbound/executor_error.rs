//! An executor's own error answer: its framework's shape may name its
//! internals, so the client gets the gateway's error instead, with the
//! executor's message (sanitized, cut short) when it refused the request.

use crate::error::Refusal;
use crate::gateway::context::RequestCtx;

/// Bytes of an executor's error body read for its message.
pub const EXECUTOR_ERROR_HOLD: usize = 16 << 10;

/// The longest executor message passed on, in bytes.
const EXECUTOR_MESSAGE_MAX: usize = 300;

/// What the client is told of an executor's error answer with `status`:
/// a refusal of the request (4xx) with the executor's message, sanitized,
/// or a failure of the executor (5xx), whose message stays in the logs.
pub fn executor_refusal(status: u16, message: Option<String>) -> Refusal {
    let said = |what: &str| match &message {
        Some(m) => format!("{what}: {m}"),
        None => what.to_string(),
    };
    match status {
        404 => Refusal::UnknownRoute,
        429 | 503 => Refusal::UpstreamUnavailable,
        400..=499 => Refusal::InvalidRequest {
            field: None,
            message: said("the executor refused the request"),
        },
        _ => Refusal::UpstreamFailed {
            message: "the executor failed to answer".into(),
        },
    }
}

/// The message of an executor's JSON error body (`{"message": …}`,
/// `{"error": …}`, Rails' `{"field": ["reason", …]}`), sanitized and cut short.
pub fn executor_message(ctx: &RequestCtx, body: &[u8]) -> Option<String> {
    let doc: serde_json::Value = serde_json::from_slice(body).ok()?;
    let map = doc.as_object()?;
    let text = ["message", "error"]
        .iter()
        .find_map(|k| map.get(*k).and_then(|v| v.as_str()).map(str::to_string))
        .or_else(|| {
            let reasons: Vec<String> = map
                .iter()
                .filter_map(|(field, reasons)| {
                    let list: Vec<&str> = reasons
                        .as_array()?
                        .iter()
                        .filter_map(|r| r.as_str())
                        .collect();
                    (!list.is_empty()).then(|| format!("{field} {}", list.join(", ")))
                })
                .collect();
            (!reasons.is_empty()).then(|| reasons.join("; "))
        })?;
    let identity = ctx.identity.as_ref()?;
    let policy = &ctx.policy.policies(identity).output;
    let reader = identity.client.as_deref().map_or(
        execgate_sanitize::Reader::ANYONE,
        execgate_sanitize::Reader::tenant,
    );
    let rules = ctx.rules.clone();
    let clean = execgate_sanitize::sanitize_text(
        &rules.output,
        policy,
        reader,
        execgate_sanitize::FieldKind::Other,
        &text,
    );
    if clean.withheld {
        return None;
    }
    let mut message = clean.text;
    if message.len() > EXECUTOR_MESSAGE_MAX {
        let mut cut = EXECUTOR_MESSAGE_MAX;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push('…');
    }
    Some(message)
}
