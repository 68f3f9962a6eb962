//! `/v1/clients/{key}` (a client's tier, windows, reputation, block and recent
//! events), forgiveness, and `/v1/events`.

use super::AdminState;
use super::auth::Caller;
use super::error::ApiError;
use crate::blocklist::{BlockDecision, BlockFilter, BlockQuery};
use crate::events::EventRecord;
use crate::ratelimit::WindowState;
use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use execgate_core::{ClientKey, TierName};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Events per response by default and at most.
const DEFAULT_EVENTS: usize = 100;
const MAX_EVENTS: usize = 1000;
/// Recent events shown with a client.
const CLIENT_EVENTS: usize = 20;

/// A client's standing.
#[derive(Debug, Serialize)]
pub(super) struct ClientView {
    key: ClientKey,
    tier: Option<TierName>,
    windows: Vec<WindowState>,
    reputation: ReputationView,
    blocked: Option<BlockDecision>,
    events: Vec<EventRecord>,
}

/// A client's reputation.
#[derive(Debug, Serialize)]
pub(super) struct ReputationView {
    score: f64,
    offences: u32,
}

/// Query of `GET /v1/events`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EventsQuery {
    since: Option<String>,
    limit: Option<usize>,
}

/// Events in time order.
#[derive(Debug, Serialize)]
pub(super) struct EventsView {
    events: Vec<EventRecord>,
}

/// `ip:…`, `client:…`, or a bare IP address (keyed like an anonymous client).
fn parse_key(raw: &str) -> Result<ClientKey, ApiError> {
    if let Ok(ip) = raw.parse::<IpAddr>() {
        return Ok(ClientKey::from_ip(ip, 64));
    }
    let valid = raw.len() <= 256 && raw.chars().all(|c| c.is_ascii_graphic());
    ClientKey::parse(raw).filter(|_| valid).ok_or_else(|| {
        ApiError::invalid(format!(
            "key: {raw:?} is not a client key (ip:ADDRESS, ip:PREFIX/64, client:ID) or an IP address"
        ))
    })
}

/// The decision blocking `key`, if any: by address for `ip:` keys, by value otherwise.
fn block_of(state: &AdminState, key: &ClientKey) -> Option<BlockDecision> {
    let ip = key
        .as_str()
        .strip_prefix("ip:")
        .and_then(|a| a.split('/').next())
        .and_then(|a| a.parse::<IpAddr>().ok());
    match ip {
        Some(ip) => state.blocks.check(&BlockQuery {
            ip,
            client: key,
            country: None,
            asn: None,
        }),
        None => {
            let filter = BlockFilter {
                value: Some(key.to_string()),
                ..BlockFilter::default()
            };
            state.blocks.find(&filter)
        }
    }
}

/// `GET /v1/clients/{key}`.
pub(super) async fn show(
    State(state): State<AdminState>,
    key: Result<Path<String>, PathRejection>,
) -> Result<Json<ClientView>, ApiError> {
    let Path(raw) = key?;
    let key = parse_key(&raw)?;
    Ok(Json(ClientView {
        tier: (state.tier_of)(&key),
        windows: state.limiter.usage(&key),
        reputation: ReputationView {
            score: state.reputation.score(&key),
            offences: state.reputation.offences(&key),
        },
        blocked: block_of(&state, &key),
        events: state.events.for_key(&key, CLIENT_EVENTS),
        key,
    }))
}

/// `DELETE /v1/clients/{key}/reputation`: score and ban history back to zero.
pub(super) async fn forgive(
    State(state): State<AdminState>,
    Extension(caller): Extension<Caller>,
    key: Result<Path<String>, PathRejection>,
) -> Result<Json<ReputationView>, ApiError> {
    let Path(raw) = key?;
    let key = parse_key(&raw)?;
    let before = state.reputation.score(&key);
    state.reputation.forgive(&key);
    tracing::info!(
        target: "execgate::audit",
        event = "reputation.forgiven",
        client = %key,
        score_before = before,
        by = %caller.0,
    );
    Ok(Json(ReputationView {
        score: 0.0,
        offences: 0,
    }))
}

/// `since`: RFC 3339 (`2026-01-02T03:04:05Z`) or seconds since the Unix epoch.
fn parse_since(raw: &str) -> Result<SystemTime, ApiError> {
    if let Ok(secs) = raw.parse::<u64>() {
        return UNIX_EPOCH
            .checked_add(Duration::from_secs(secs))
            .ok_or_else(|| ApiError::invalid("since: out of range"));
    }
    humantime::parse_rfc3339_weak(raw).map_err(|e| {
        ApiError::invalid(format!(
            "since: {raw:?} is not an RFC 3339 time or Unix seconds ({e})"
        ))
    })
}

/// `GET /v1/events?since=…&limit=…`: the most recent matching events, oldest first.
pub(super) async fn events(
    State(state): State<AdminState>,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Json<EventsView>, ApiError> {
    let Query(query) = query?;
    let since = query
        .since
        .as_deref()
        .map(parse_since)
        .transpose()?
        .unwrap_or(UNIX_EPOCH);
    let limit = query.limit.unwrap_or(DEFAULT_EVENTS);
    if limit == 0 || limit > MAX_EVENTS {
        return Err(ApiError::invalid(format!(
            "limit: must be from 1 to {MAX_EVENTS}"
        )));
    }
    Ok(Json(EventsView {
        events: state.events.since(since, limit),
    }))
}
