//! The deliveries a run's answer starts: one per Judge0 submission that named
//! a checked `callback_url` and was answered with a token (a batch answers
//! in order). What each needs of the request — the executor, the submitter's
//! output policy and tenant — is taken now; `crate::callback` delivers.

use crate::callback::{Due, is_token, result_path};
use crate::gateway::Gateway;
use crate::gateway::context::RequestCtx;
use crate::gateway::identity::Identity;
use serde_json::Value;

/// Starts the deliveries `doc`, a run's answer, calls for; `field` turns the
/// dialect's output fields into the sanitizer's.
pub fn on_answer(
    gw: &Gateway,
    ctx: &RequestCtx,
    identity: &Identity,
    doc: &Value,
    field: fn(execgate_dialect::FieldSpec) -> execgate_sanitize::FieldSpec,
) {
    let Some(exec) = ctx.exec.as_ref().filter(|_| ctx.route.executes()) else {
        return;
    };
    if exec.submissions.iter().all(|s| s.callback.is_none()) {
        return;
    }
    let Some(executor) = ctx.upstream_addr.as_ref() else {
        return;
    };
    let answers: Vec<&Value> = match doc {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let policies = ctx.policy.policies(identity);
    let tier = &policies.tier;
    // Both capped streams, base64 and escaped, plus the envelope.
    let result_cap = (tier.stdout_max.as_usize() + tier.stderr_max.as_usize())
        .saturating_mul(6)
        .saturating_add(64 << 10);
    for (submission, answer) in exec.submissions.iter().zip(answers) {
        let Some(url) = &submission.callback else {
            continue;
        };
        let Some(token) = answer
            .get("token")
            .and_then(Value::as_str)
            .filter(|t| is_token(t))
        else {
            continue;
        };
        let fields = gw
            .dialect
            .response_fields(&result_path(token), None)
            .into_iter()
            .map(field)
            .collect();
        gw.callbacks.dispatch(Due {
            request_id: ctx.request_id.clone(),
            token: token.to_string(),
            url: url.clone(),
            executor: executor.clone(),
            output: policies.output.clone(),
            fields,
            result_cap,
            client: identity.client.clone(),
        });
    }
}
