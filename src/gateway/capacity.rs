//! The capacity stage: before an execution reaches the executor, the client's
//! budget is checked and a slot taken in the execution pool — waiting in the
//! priority queue while the pool is full, for as long as the client stays
//! connected; after it, the figures of the executor's verdict are charged.
//! The decisions live in `execgate_capacity`; this file connects them to a request.

use super::Gateway;
use super::context::RequestCtx;
use super::session::session_of;
use super::tokens::Deferred;
use crate::error::Refusal;
use crate::guarded::ClientEnded;
use execgate_capacity::{
    Admission, BudgetDecision, Capacity, CapacityRefusal, CostFormat, Held, Permit, RunCost,
    SessionId, SessionLimit, Ticket, read_costs,
};
use execgate_core::{ClientKey, TierName};
use execgate_dialect::DialectKind;
use pingora_proxy::Session;

/// On the answer to a run that waited for its slot: its place when it joined the queue (1 = next).
pub const QUEUE_POSITION_HEADER: &str = "X-Queue-Position";

fn format(cap: &Capacity, kind: DialectKind) -> CostFormat {
    match kind {
        DialectKind::Piston => CostFormat::Piston,
        DialectKind::Judge0 => CostFormat::Judge0,
        DialectKind::Generic => CostFormat::Generic(cap.generic_fields().clone()),
    }
}

/// Admits an execution once its body is decided (a no-op before, and after
/// admission); a refusal is raised for the one refusal writer.
pub async fn on_decided(
    gw: &Gateway,
    session: &mut Session,
    ctx: &mut RequestCtx,
) -> pingora_core::Result<()> {
    match admit(gw, session, ctx).await? {
        Ok(()) => Ok(()),
        Err(refused) => Err(super::refusal::raise(
            &gw.metrics,
            ctx,
            refused,
            "refused by capacity control",
        )),
    }
}

/// Budget first, then the session's caps, then a slot in the pool; the
/// session counts the execution once the slot is held, so runs queued at
/// once never pass its cap together. A client that disconnects while queued
/// is `Err` (it leaves the queue); `Ok(Err(_))` is a refusal to send.
async fn admit(
    gw: &Gateway,
    session: &mut Session,
    ctx: &mut RequestCtx,
) -> pingora_core::Result<Result<(), Refusal>> {
    let Some(cap) = gw.capacity.as_ref() else {
        return Ok(Ok(()));
    };
    if ctx.exec.is_none() || ctx.capacity.permit.is_some() {
        return Ok(Ok(()));
    }
    let Some(identity) = ctx.identity.as_ref() else {
        return Ok(Err(Refusal::Internal));
    };
    let client = identity.key.clone();
    let tier = match cap.meter().check(&client, &identity.tier).await {
        BudgetDecision::Run => identity.tier.clone(),
        // A throttled client queues and runs with the lower tier's share.
        BudgetDecision::Throttle(lower) => lower,
        BudgetDecision::Refuse(r) => return Ok(Err(Refusal::Capacity(r))),
    };
    let sid = match session_of(identity, &session.req_header().headers) {
        Ok(sid) => sid,
        Err(refused) => return Ok(Err(refused)),
    };
    if let Some(sid) = &sid
        && let Err(limit) = cap.sessions().check(&client, &identity.tier, sid)
    {
        return Ok(Err(session_refusal(cap, limit)));
    }
    let permit = match cap.pool().admit(&client, &tier) {
        Err(r) => return Ok(Err(Refusal::Capacity(r))),
        Ok(Admission::Run(permit)) => permit,
        Ok(Admission::Queued(ticket)) => {
            // The place it entered at: the answer says the run waited, and behind how many.
            ctx.limit_headers
                .push((QUEUE_POSITION_HEADER, ticket.position().to_string()));
            match wait_while_connected(session, ticket).await? {
                Ok(permit) => permit,
                Err(r) => return Ok(Err(Refusal::Capacity(r))),
            }
        }
    };
    if let Some(sid) = &sid
        && let Err(limit) = begin_session(cap, &client, &identity.tier, sid)
    {
        return Ok(Err(limit));
    }
    ctx.capacity = Held {
        permit: Some(permit),
        tier: Some(tier),
        session: sid,
    };
    Ok(Ok(()))
}

/// Counts the execution in its session; the session's caps are those of the
/// client's own tier, throttled or not.
fn begin_session(
    cap: &Capacity,
    client: &ClientKey,
    tier: &TierName,
    sid: &SessionId,
) -> Result<(), Refusal> {
    cap.sessions()
        .begin(client, tier, sid)
        .map_err(|limit| session_refusal(cap, limit))
}

fn session_refusal(cap: &Capacity, limit: SessionLimit) -> Refusal {
    Refusal::Capacity(CapacityRefusal::SessionLimit {
        limit,
        retry_after: cap.sessions().retry_after(),
    })
}

/// Waits for a slot or for the client to go away, whichever comes first; a
/// client gone drops the ticket, which leaves the queue at once.
///
/// Gone includes a client that only shut its sending side (FIN): nothing has
/// reached the executor yet, a FIN is all a client that closed sends too, and
/// a place kept for a client that is not there would hold the pool and charge
/// its budget for a run nobody reads (Pingora's own `abort_on_close` treats a
/// FIN before the answer the same way). A half-closed client that holds a
/// slot, or needs none, still gets its answer: only the queue watches this.
async fn wait_while_connected(
    session: &mut Session,
    ticket: Ticket,
) -> pingora_core::Result<Result<Permit, CapacityRefusal>> {
    let wait = ticket.wait();
    tokio::pin!(wait);
    // Behind the accept guard the proxy never reads the end of a client
    // with its request unanswered: the guard says so itself.
    let mut ended = session.as_downstream().stream().and_then(ClientEnded::of);
    {
        let gone = session.as_downstream_mut().read_body_or_idle(true);
        tokio::select! {
            granted = &mut wait => return Ok(granted),
            () = left(&mut ended) => return Err(client_left()),
            read = gone => read.map(|_| ())?,
        }
    }
    // Bytes of a pipelined next request (stashed by Pingora): the client is
    // still there, and only the guard can tell if it goes.
    tokio::select! {
        granted = wait => Ok(granted),
        () = left(&mut ended) => Err(client_left()),
    }
}

/// Resolves once the client has ended, if the guard watches it.
async fn left(ended: &mut Option<ClientEnded>) {
    match ended {
        Some(ended) => ended.wait().await,
        None => std::future::pending().await,
    }
}

fn client_left() -> Box<pingora_core::Error> {
    pingora_core::Error::create(
        pingora_core::ErrorType::ConnectionClosed,
        pingora_core::ErrorSource::Downstream,
        Some("the client left while its run was queued".into()),
        None,
    )
}

/// Charges the executions the executor's answer `doc` reports, in the tier
/// they ran in. A run without figures is charged its wall time as estimated,
/// except a run answered with only its token (Judge0 `wait=false`): that one
/// is charged when its verdict is read, and what it owes is returned, one
/// entry per issued token, for the token table.
pub fn charge(gw: &Gateway, ctx: &RequestCtx, doc: &serde_json::Value) -> Vec<Option<Deferred>> {
    let (Some(cap), Some(tier), Some(exec), Some(identity)) = (
        gw.capacity.as_ref(),
        ctx.capacity.tier.as_ref(),
        ctx.exec.as_ref(),
        ctx.identity.as_ref(),
    ) else {
        return Vec::new();
    };
    let runs = read_costs(&format(cap, exec.dialect), doc);
    let language_of = |i: usize| {
        exec.submissions
            .get(i)
            .or(exec.submissions.first())
            .map_or("other", |s| language_label(&s.language))
    };
    if runs.is_empty() {
        let issued = gw.dialect.issued_tokens(&ctx.forward_path, doc);
        if !issued.is_empty() {
            return (0..issued.len())
                .map(|i| {
                    Some(Deferred {
                        tier: tier.clone(),
                        language: language_of(i),
                        session: ctx.capacity.session.clone(),
                    })
                })
                .collect();
        }
        // No figures and no token (an answer without a run): the request is
        // still charged, its time counted as estimated.
        charge_unread(gw, ctx);
        return Vec::new();
    }
    for (i, run) in runs.into_iter().enumerate() {
        charge_session(cap, ctx, &identity.key, &run);
        cap.meter().charge(&identity.key, tier, language_of(i), run);
    }
    Vec::new()
}

/// Charges the runs a read by token (`read`) finds finished that still owe
/// their cost; a read whose answer lacks the figures (the client chose its
/// `fields`) charges nothing, and the unpolled scorer reads them later.
pub fn charge_polled(gw: &Gateway, doc: &serde_json::Value, read: &[String]) {
    let Some(cap) = gw.capacity.as_ref() else {
        return;
    };
    if read.is_empty() {
        return;
    }
    for (token, record) in judge0_records(doc, read) {
        let finished = record
            .pointer("/status/id")
            .and_then(serde_json::Value::as_u64)
            .is_some_and(|id| id >= JUDGE0_FIRST_FINAL_STATUS);
        let Some(run) = read_costs(&CostFormat::Judge0, record).into_iter().next() else {
            continue;
        };
        if finished && let Some((owner, owed)) = gw.tokens.take_owed(&token) {
            charge_owed(cap, &owner, &owed, run);
        }
    }
}

/// Judge0's statuses 1 and 2 are "In Queue" and "Processing"; from 3 on a run is done.
pub const JUDGE0_FIRST_FINAL_STATUS: u64 = 3;

/// Each submission record of a Judge0 answer with its token: named in the
/// record, or the one token read when the answer is a single record without it.
pub fn judge0_records<'a>(
    doc: &'a serde_json::Value,
    read: &[String],
) -> Vec<(String, &'a serde_json::Value)> {
    use serde_json::Value;
    let records: Vec<&Value> = match doc {
        Value::Array(items) => items.iter().collect(),
        Value::Object(o) => match o.get("submissions") {
            Some(Value::Array(items)) => items.iter().collect(),
            _ => vec![doc],
        },
        _ => Vec::new(),
    };
    let single = records.len() == 1 && !matches!(doc, Value::Array(_)) && read.len() == 1;
    records
        .into_iter()
        .filter_map(|r| {
            let token = match r.get("token").and_then(Value::as_str) {
                Some(t) => t.to_string(),
                None if single => read[0].clone(),
                None => return None,
            };
            Some((token, r))
        })
        .collect()
}

/// Charges what a run answered with only its token owed, now that its figures are read.
pub fn charge_owed(cap: &Capacity, owner: &ClientKey, owed: &Deferred, run: RunCost) {
    if let Some(sid) = &owed.session {
        cap.sessions().charge(owner, sid, &run);
    }
    cap.meter().charge(owner, &owed.tier, owed.language, run);
}

fn charge_session(cap: &Capacity, ctx: &RequestCtx, client: &ClientKey, run: &RunCost) {
    if let Some(sid) = &ctx.capacity.session {
        cap.sessions().charge(client, sid, run);
    }
}

/// Charges a run whose answer was cut before its figures, or carries none:
/// the time the executor took, as estimated.
pub fn charge_unread(gw: &Gateway, ctx: &RequestCtx) {
    let (Some(cap), Some(tier), Some(exec), Some(identity), Some(sent)) = (
        gw.capacity.as_ref(),
        ctx.capacity.tier.as_ref(),
        ctx.exec.as_ref(),
        ctx.identity.as_ref(),
        ctx.upstream_sent,
    ) else {
        return;
    };
    let wall = sent.elapsed();
    let run = RunCost {
        cpu: wall,
        wall,
        memory_bytes: 0,
        estimated: true,
    };
    let language = exec
        .submissions
        .first()
        .map_or("other", |s| language_label(&s.language));
    charge_session(cap, ctx, &identity.key, &run);
    cap.meter().charge(&identity.key, tier, language, run);
}

/// The language a price row and a metric label name: screening's canonical
/// name (`python3.11` → `python`), `other` for the rest (labels stay bounded).
fn language_label(name: &str) -> &'static str {
    execgate_screen::Language::from_name(name).map_or("other", |l| l.as_str())
}
