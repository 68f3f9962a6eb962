//! `/v1/blocks…`: list, add (one or a batch), show and remove decisions
//! (the change stream is in `stream`).

use super::AdminState;
use super::auth::Caller;
use super::error::ApiError;
use crate::blocklist::{
    BlockDecision, BlockFilter, MAX_BATCH, NewBlock, Origin, Page, Scope, Target,
};
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use execgate_core::HumanDuration;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Decisions per page by default.
const DEFAULT_LIMIT: usize = 100;
/// Decisions per page at most.
const MAX_LIMIT: usize = 1000;

/// Query of `GET /v1/blocks`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    scope: Option<String>,
    origin: Option<String>,
    value: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

/// A page of decisions.
#[derive(Debug, Serialize)]
pub(super) struct DecisionPage {
    decisions: Vec<BlockDecision>,
    next_offset: Option<usize>,
}

/// One decision in `POST /v1/blocks`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BlockRequest {
    value: String,
    duration: Option<HumanDuration>,
    reason: String,
    #[serde(default = "manual")]
    origin: Origin,
}

fn manual() -> Origin {
    Origin::Manual
}

/// Query of `DELETE /v1/blocks/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RemoveQuery {
    reason: Option<String>,
}

/// The answer to an array of decisions.
#[derive(Debug, Serialize)]
struct Batch {
    decisions: Vec<BlockDecision>,
}

impl ListQuery {
    fn filter(&self) -> Result<BlockFilter, ApiError> {
        let scope = self.scope.as_deref().map(str::parse::<Scope>).transpose();
        let origin = self.origin.as_deref().map(str::parse::<Origin>).transpose();
        let value = self.value.as_deref().map(str::parse::<Target>).transpose();
        Ok(BlockFilter {
            scope: scope.map_err(|e| ApiError::invalid(format!("scope: {e}")))?,
            origin: origin.map_err(|e| ApiError::invalid(format!("origin: {e}")))?,
            value: value
                .map_err(|e| ApiError::invalid(format!("value: {e}")))?
                .map(|t| t.to_string()),
        })
    }

    fn page(&self) -> Result<Page, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(ApiError::invalid(format!(
                "limit: must be from 1 to {MAX_LIMIT}"
            )));
        }
        Ok(Page {
            offset: self.offset.unwrap_or(0),
            limit,
        })
    }
}

/// `GET /v1/blocks`.
pub(super) async fn list(
    State(state): State<AdminState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<DecisionPage>, ApiError> {
    let Query(query) = query?;
    let filter = query.filter()?;
    let page = query.page()?;
    let mut decisions = state.blocks.list(
        &filter,
        Page {
            limit: page.limit + 1,
            ..page
        },
    );
    let more = decisions.len() > page.limit;
    decisions.truncate(page.limit);
    Ok(Json(DecisionPage {
        decisions,
        next_offset: more.then_some(page.offset + page.limit),
    }))
}

/// `POST /v1/blocks` with one decision (201 + the decision) or an array (201 + `{"decisions":[…]}`).
pub(super) async fn add(
    State(state): State<AdminState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    let (requests, batch) = match body {
        Value::Array(items) if items.len() > MAX_BATCH => {
            return Err(ApiError::invalid(format!(
                "{} decisions in one request; at most {MAX_BATCH}",
                items.len()
            )));
        }
        Value::Array(items) if items.is_empty() => {
            return Err(ApiError::invalid("the array of decisions is empty"));
        }
        Value::Array(items) => (items, true),
        object @ Value::Object(_) => (vec![object], false),
        _ => {
            return Err(ApiError::invalid(
                "expected a decision object or an array of them",
            ));
        }
    };
    let blocks = requests
        .into_iter()
        .enumerate()
        .map(|(i, v)| parse_request(v, &caller, batch.then_some(i)))
        .collect::<Result<Vec<_>, _>>()?;
    let added = state.blocks.add_batch(blocks)?;
    if batch {
        return Ok((StatusCode::CREATED, Json(Batch { decisions: added })).into_response());
    }
    let one = added
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::invalid("no decision was added"))?;
    Ok((StatusCode::CREATED, Json(one)).into_response())
}

fn parse_request(value: Value, caller: &Caller, item: Option<usize>) -> Result<NewBlock, ApiError> {
    let at = item.map(|i| format!("item {i}: ")).unwrap_or_default();
    let request: BlockRequest = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            String::new()
        } else {
            format!("{path}: ")
        };
        ApiError::invalid(format!("{at}{field}{}", e.into_inner()))
    })?;
    if request.origin == Origin::Anomaly {
        return Err(ApiError::invalid(format!(
            "{at}origin: \"anomaly\" is reserved for the reputation engine; use \"manual\" or \"list\""
        )));
    }
    Ok(NewBlock {
        value: request.value,
        duration: request.duration.map(HumanDuration::get),
        reason: request.reason,
        origin: request.origin,
        created_by: caller.0.clone(),
    })
}

/// `GET /v1/blocks/{id}`.
pub(super) async fn show(
    State(state): State<AdminState>,
    id: Result<Path<u64>, PathRejection>,
) -> Result<Json<BlockDecision>, ApiError> {
    let Path(id) = id?;
    state
        .blocks
        .get(id)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no active decision {id}")))
}

/// `DELETE /v1/blocks/{id}?reason=…`: 200 with the removed decision.
pub(super) async fn remove(
    State(state): State<AdminState>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<u64>, PathRejection>,
    query: Result<Query<RemoveQuery>, QueryRejection>,
) -> Result<Json<BlockDecision>, ApiError> {
    let Path(id) = id?;
    let Query(query) = query?;
    let removed = state
        .blocks
        .remove(id)?
        .ok_or_else(|| ApiError::not_found(format!("no decision {id}")))?;
    tracing::info!(
        target: "execgate::audit",
        event = "block.removed",
        id,
        value = %removed.value,
        by = %caller.0,
        reason = query.reason.as_deref().unwrap_or("(none given)"),
    );
    Ok(Json(removed))
}
