//! The admin API of capacity and cost: usage per client and top spenders,
//! per-client budget overrides, and the pool's state in `/v1/status`. Every
//! route needs the admin token; without `[capacity] enabled` they answer
//! `404 capacity_disabled`.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, body::Bytes};
use execgate_capacity::Capacity;
use execgate_capacity::{Caps, Credits, Period, Scope, Usage};
use execgate_core::{ClientKey, TierName};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// The routes' state: the gateway's capacity, when enabled.
pub type CapacityState = Option<Arc<Capacity>>;

/// `/v1/status`, `/v1/usage`, `/v1/usage/top`, `/v1/budgets/{key}`, behind `token`.
pub fn router(capacity: CapacityState, state_admin: execgate_state::admin::AdminState) -> Router {
    let token =
        axum::middleware::from_fn_with_state(state_admin, execgate_state::admin::require_token);
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/usage", get(usage))
        .route("/v1/usage/top", get(top))
        .route("/v1/budgets/{key}", put(set_budget))
        .route_layer(token)
        .with_state(capacity)
}

/// A refusal of the usage API, in the admin API's error shape.
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}

fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        code,
        message: message.into(),
    }
}

fn enabled(cap: CapacityState) -> Result<Arc<Capacity>, ApiError> {
    cap.ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            "capacity_disabled",
            "capacity control is off ([capacity] enabled = false)",
        )
    })
}

fn period(p: Option<&str>) -> Result<Period, ApiError> {
    match p {
        None => Ok(Period::Day),
        Some(p) => Period::parse(p).ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "period: must be day or month",
            )
        }),
    }
}

fn client_key(key: &str) -> Result<ClientKey, ApiError> {
    ClientKey::parse(key).ok_or_else(|| {
        error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client: not a client key (client:ID or ip:ADDR)",
        )
    })
}

/// Usage kept in a shared store that did not answer in time.
fn unreadable(e: String) -> ApiError {
    tracing::warn!("usage unreadable: {e}");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "shared_state_unavailable",
        "usage is kept in the shared state backend, which did not answer; try again",
    )
}

fn usage_json(u: &Usage) -> Value {
    json!({
        "credits": u.credits.as_credits(),
        "executions": u.executions,
        "cpu_ms": u.cpu_ms,
        "wall_ms": u.wall_ms,
        "estimated": u.estimated,
    })
}

fn caps_json(c: &Caps) -> Value {
    json!({
        "budget_daily": c.daily.map(Credits::as_credits),
        "budget_monthly": c.monthly.map(Credits::as_credits),
    })
}

async fn status(State(cap): State<CapacityState>) -> Response {
    let pool = cap.as_ref().map(|c| c.pool().status());
    Json(json!({"capacity": {"enabled": cap.is_some(), "pool": pool}})).into_response()
}

#[derive(Deserialize)]
struct UsageQuery {
    client: Option<String>,
    tier: Option<String>,
    period: Option<String>,
}

async fn usage(
    State(cap): State<CapacityState>,
    Query(q): Query<UsageQuery>,
) -> Result<Response, ApiError> {
    let cap = enabled(cap)?;
    let period = period(q.period.as_deref())?;
    let scope = match (&q.client, &q.tier) {
        (Some(c), _) => Scope::Client(client_key(c)?),
        (None, Some(t)) => Scope::Tier(TierName(t.clone())),
        (None, None) => Scope::Global,
    };
    let u = cap
        .meter()
        .usage(&scope, period)
        .await
        .map_err(unreadable)?;
    let mut body = json!({"period": period.as_str(), "usage": usage_json(&u)});
    match &scope {
        Scope::Client(k) => {
            body["client"] = json!(k);
            body["sessions"] = json!(cap.sessions().of(k));
        }
        Scope::Tier(t) => body["tier"] = json!(t),
        Scope::Global => body["scope"] = json!("global"),
    }
    Ok(Json(body).into_response())
}

#[derive(Deserialize)]
struct TopQuery {
    period: Option<String>,
    limit: Option<usize>,
}

async fn top(
    State(cap): State<CapacityState>,
    Query(q): Query<TopQuery>,
) -> Result<Response, ApiError> {
    let cap = enabled(cap)?;
    let period = period(q.period.as_deref())?;
    let limit = q.limit.unwrap_or(10).clamp(1, 1000);
    let clients: Vec<Value> = cap
        .meter()
        .top(period, limit)
        .await
        .map_err(unreadable)?
        .iter()
        .map(|(k, u)| json!({"client": k, "usage": usage_json(u)}))
        .collect();
    Ok(Json(json!({"period": period.as_str(), "clients": clients})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetBody {
    budget_daily: Option<f64>,
    budget_monthly: Option<f64>,
}

async fn set_budget(
    State(cap): State<CapacityState>,
    Path(key): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let cap = enabled(cap)?;
    let client = client_key(&key)?;
    let parsed: BudgetBody = serde_json::from_slice(&body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("body: {e}"),
        )
    })?;
    let amount = |field: &str, v: Option<f64>| -> Result<Option<Credits>, ApiError> {
        v.map(|a| {
            Credits::from_credits(a).ok_or_else(|| {
                error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    format!("{field}: {a} is not an amount of credits"),
                )
            })
        })
        .transpose()
    };
    let caps = Caps {
        daily: amount("budget_daily", parsed.budget_daily)?,
        monthly: amount("budget_monthly", parsed.budget_monthly)?,
    };
    cap.meter().set_caps(client.clone(), caps).map_err(|e| {
        tracing::error!("budget override not kept: {e}");
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the budget could not be saved; it is unchanged",
        )
    })?;
    Ok(Json(json!({"client": client, "budget": caps_json(&caps)})).into_response())
}

/// The routes' part of the admin OpenAPI document.
pub fn openapi_paths() -> Value {
    let error = json!({"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let object = |description: &str| json!({"description": description, "content": {"application/json": {"schema": {"type": "object"}}}});
    let period = json!({"name": "period", "in": "query", "required": false,
        "schema": {"type": "string", "enum": ["day", "month"]}, "description": "UTC day (default) or month"});
    json!({
        "/v1/status": {"get": {
            "operationId": "getStatus",
            "summary": "The execution pool: slots in use and executions waiting, per tier",
            "responses": {"200": object("Pool state"), "401": error.clone(), "429": error.clone()},
        }},
        "/v1/usage": {"get": {
            "operationId": "getUsage",
            "summary": "Usage (credits, executions, CPU and wall time) of a client, a tier or the platform; a client's open sessions with theirs",
            "parameters": [
                {"name": "client", "in": "query", "required": false, "schema": {"type": "string"}, "description": "client key (client:ID or ip:ADDR)"},
                {"name": "tier", "in": "query", "required": false, "schema": {"type": "string"}},
                period.clone(),
            ],
            "responses": {"200": object("Usage"), "400": error.clone(), "401": error.clone(), "404": error.clone(), "429": error.clone(), "503": error.clone()},
        }},
        "/v1/usage/top": {"get": {
            "operationId": "getTopSpenders",
            "summary": "The clients that spent most in the period",
            "parameters": [period, {"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}],
            "responses": {"200": object("Top spenders"), "400": error.clone(), "401": error.clone(), "404": error.clone(), "429": error.clone(), "503": error.clone()},
        }},
        "/v1/budgets/{key}": {"put": {
            "operationId": "setBudget",
            "summary": "Set a client's daily and monthly budget (credits), replacing its tier's",
            "parameters": [{"name": "key", "in": "path", "required": true, "schema": {"type": "string"}}],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": false,
                "properties": {"budget_daily": {"type": ["number", "null"], "minimum": 0}, "budget_monthly": {"type": ["number", "null"], "minimum": 0}},
            }}}},
            "responses": {"200": object("The budget in force"), "400": error.clone(), "401": error.clone(), "404": error.clone(), "429": error.clone(), "500": error},
        }},
    })
}
