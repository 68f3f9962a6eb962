//! Program output on its way out: a held executor response is parsed once,
//! read for the runs' verdicts and the result tokens it hands out, and run
//! through the output sanitizer with the current rules and the tier's caps.

use crate::error::Refusal;
use crate::gateway::context::RequestCtx;
use crate::gateway::identity::Identity;
use crate::gateway::{Gateway, tokens};
use bytes::Bytes;
use execgate_dialect::RunOutcome;
use execgate_sanitize::{Reader, ResponseBuffer, SanitizeError, SanitizedBody};

/// Whether the response to a non-executing route carries program output
/// (Judge0 `GET /submissions/{token}` and batch polling): sanitized like a run.
pub fn returns_output(gw: &Gateway, ctx: &RequestCtx) -> bool {
    !gw.dialect
        .response_fields(&ctx.forward_path, None)
        .is_empty()
}

/// The most response bytes held for inspection: room for both capped
/// streams with JSON escaping, plus the envelope.
pub fn response_cap(ctx: &RequestCtx) -> usize {
    let tier = ctx.identity.as_ref().map(|i| ctx.policy.tier(i));
    let per_run = tier.map_or(110 << 10, |t| {
        t.stdout_max.as_usize() + t.stderr_max.as_usize()
    });
    let runs = match &ctx.exec {
        Some(exec) => exec.submissions.len().max(1),
        None => polled_runs(&ctx.forward_path),
    };
    per_run
        .saturating_mul(6)
        .saturating_mul(runs)
        .saturating_add(64 << 10)
}

/// Sanitizes a held executor response with the current output rules; a body
/// cut at the hold's cap is closed into valid JSON and marked truncated.
pub fn sanitize(
    gw: &Gateway,
    ctx: &mut RequestCtx,
    held: ResponseBuffer,
) -> Result<Bytes, Refusal> {
    let identity = ctx.identity.clone().ok_or(Refusal::Internal)?;
    let clean = clean(gw, ctx, &identity, held).map_err(|e| {
        if !matches!(e, SanitizeError::NotJson(_)) {
            tracing::error!(request_id = %ctx.request_id, "output fields unusable: {e}");
        }
        Refusal::UpstreamFailed {
            message: "the executor answered with invalid JSON".into(),
        }
    })?;
    note_cleaning(gw, ctx, &clean);
    Ok(Bytes::from(clean.body))
}

/// Runs the held body through the sanitizer. A whole body is parsed once, for
/// the run's verdicts, its result tokens and the sanitizer.
fn clean(
    gw: &Gateway,
    ctx: &mut RequestCtx,
    identity: &Identity,
    held: ResponseBuffer,
) -> Result<SanitizedBody, SanitizeError> {
    let cut = held.overflowed();
    let held = held.into_bytes();
    let snapshot = ctx.policy.clone();
    let policy = &snapshot.policies(identity).output;
    // An authenticated client's id (API key id or token subject) is its tenant:
    // its own canary markers are its data, not a leak.
    let reader = identity
        .client
        .as_deref()
        .map_or(Reader::ANYONE, Reader::tenant);
    let fields: Vec<execgate_sanitize::FieldSpec> = gw
        .dialect
        .response_fields(&ctx.forward_path, ctx.exec.as_ref())
        .into_iter()
        .map(output_field)
        .collect();
    let rules = ctx.rules.clone();
    let tokens = ctx.read_tokens.take().unwrap_or_default();
    if cut {
        // A cut body may have lost its verdict fields; that the output ran
        // past every cap the tier sets is itself the run's verdict.
        ctx.run.outcomes = vec![RunOutcome::OutputLimit];
        crate::gateway::capacity::charge_unread(gw, ctx);
        return execgate_sanitize::sanitize_truncated(
            &rules.output,
            policy,
            reader,
            &held,
            &fields,
        );
    }
    let doc = serde_json::from_slice::<serde_json::Value>(&held)
        .map_err(|e| SanitizeError::NotJson(e.to_string()))?;
    ctx.run.outcomes = gw.dialect.verdicts_for(&ctx.forward_path, &doc);
    let owed = crate::gateway::capacity::charge(gw, ctx, &doc);
    crate::gateway::capacity::charge_polled(gw, &doc, &tokens);
    bind_tokens(gw, ctx, identity, &doc, tokens, owed);
    super::callback::on_answer(gw, ctx, identity, &doc, output_field);
    execgate_sanitize::sanitize_value(&rules.output, policy, reader, doc, &fields, held.len())
}

/// Counts what the sanitizer found and removed, and notes it for the audit line.
fn note_cleaning(gw: &Gateway, ctx: &mut RequestCtx, clean: &SanitizedBody) {
    ctx.run.leak_score = clean.leak_score;
    if clean.withheld
        && let Some(identity) = &ctx.identity
    {
        crate::gateway::alerts::leak_withheld(
            gw.capacity.as_ref(),
            &identity.key,
            clean.leak_score,
        );
    }
    for redaction in &clean.redactions {
        gw.metrics
            .redactions
            .with_label_values(&[&redaction.rule])
            .inc_by(u64::from(redaction.count));
    }
    for finding in &clean.findings {
        gw.metrics
            .outbound_findings
            .with_label_values(&[&finding.rule])
            .inc();
    }
    if clean.withheld || !clean.redactions.is_empty() {
        ctx.reason = Some(format!(
            "output: {} redactions, leak score {}, withheld {}",
            clean.redactions.len(),
            clean.leak_score,
            clean.withheld
        ));
    }
}

/// Binds the result tokens a run's response hands out to its client, and
/// notes which runs' verdicts were scored: those of a response that carried
/// a verdict for every run it names (`read` are the tokens a poll named).
/// A poll of runs already scored (by an earlier poll, or by the gateway's
/// own reading of unread runs) scores nothing again.
fn bind_tokens(
    gw: &Gateway,
    ctx: &mut RequestCtx,
    identity: &Identity,
    doc: &serde_json::Value,
    read: Vec<String>,
    owed: Vec<Option<crate::gateway::tokens::Deferred>>,
) {
    let issued = if ctx.route.executes() {
        let issued = gw.dialect.issued_tokens(&ctx.forward_path, doc);
        let owner = tokens::Owner {
            key: identity.key.clone(),
            ip: identity.ip,
            allow_listed: ctx.allow_listed,
        };
        gw.tokens
            .issue_owing(&owner, &issued, owed, std::time::Instant::now());
        issued
    } else {
        read
    };
    let all_final = !issued.is_empty() && ctx.run.outcomes.len() == issued.len();
    if all_final && !gw.tokens.mark_scored(&issued) && !ctx.route.executes() {
        ctx.run.outcomes.clear();
    }
}

/// How many runs a result-polling request asks for: the tokens of a Judge0
/// batch poll (`?tokens=a,b,c`, at most Judge0's batch size of 20), else one.
fn polled_runs(path_and_query: &str) -> usize {
    const JUDGE0_MAX_BATCH: usize = 20;
    let query = path_and_query.split_once('?').map_or("", |(_, q)| q);
    let tokens = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("tokens="))
        .map_or(1, |tokens| {
            tokens.split(',').filter(|t| !t.is_empty()).count()
        });
    tokens.clamp(1, JUDGE0_MAX_BATCH)
}

/// The dialect's description of an output field, in the sanitizer's terms.
fn output_field(spec: execgate_dialect::FieldSpec) -> execgate_sanitize::FieldSpec {
    use execgate_dialect::FieldKind as D;
    use execgate_sanitize::FieldKind as S;
    let kind = match spec.kind {
        D::Stdout => S::Stdout,
        D::Stderr => S::Stderr,
        D::Other => S::Other,
    };
    execgate_sanitize::FieldSpec::new(spec.pointer, kind, spec.base64)
}

#[cfg(test)]
mod tests {
    use super::polled_runs;

    #[test]
    fn batch_polls_hold_room_for_every_token_up_to_the_batch_size() {
        assert_eq!(polled_runs("/submissions/abc"), 1);
        assert_eq!(
            polled_runs("/submissions/batch?tokens=a,b,c&base64_encoded=false"),
            3
        );
        assert_eq!(polled_runs("/submissions/batch?tokens="), 1);
        let many = vec!["t"; 500].join(",");
        assert_eq!(
            polled_runs(&format!("/submissions/batch?tokens={many}")),
            20
        );
    }
}
