//! The capacity stage: before an execution reaches the executor, the client's
//! budget is checked and a slot taken in the execution pool — waiting in the
//! priority queue while the pool is full, for as long as the client stays
//! connected; after it, the figures of the executor's verdict are charged.
//! The decisions live in `execgate_capacity`; this file connects them to a request.

use super::Gateway;
use super::context::RequestCtx;
use super::session::session_of;
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
/// they ran in. A run without figures is charged its wall time as estimated.
pub fn charge(gw: &Gateway, ctx: &RequestCtx, doc: &serde_json::Value) {
    let (Some(cap), Some(tier), Some(exec), Some(identity)) = (
        gw.capacity.as_ref(),
        ctx.capacity.tier.as_ref(),
        ctx.exec.as_ref(),
        ctx.identity.as_ref(),
    ) else {
        return;
    };
    let runs = read_costs(&format(cap, exec.dialect), doc);
    if runs.is_empty() {
        // No figures (a Judge0 token answered before the run): the request is
        // still charged, its time counted as estimated.
        charge_unread(gw, ctx);
        return;
    }
    for (i, run) in runs.into_iter().enumerate() {
        let language = exec
            .submissions
            .get(i)
            .or(exec.submissions.first())
            .map_or("other", |s| language_label(&s.language));
        charge_session(cap, ctx, &identity.key, &run);
        cap.meter().charge(&identity.key, tier, language, run);
    }
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
