//! The admin listener: metrics, health, readiness and rule reload, merged with
//! the state crate's blocklist/clients API. Loopback by default.

use crate::gateway::upstream::Upstreams;
use crate::metrics::Metrics;
use crate::rules::Reloader;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

/// What the gateway's own admin routes need.
#[derive(Clone)]
pub struct GatewayAdmin {
    /// Metrics to expose.
    pub metrics: Metrics,
    /// Rule reload.
    pub reloader: Reloader,
    /// Whole-config reload.
    pub config: crate::reload::ConfigReloader,
    /// Executor pool, for readiness.
    pub upstreams: Upstreams,
    /// The admin API's state: its tokens guard rule reload too.
    pub state_admin: execgate_state::admin::AdminState,
    /// Capacity and cost, for the usage and budget routes.
    pub capacity: crate::admin_usage::CapacityState,
    /// Top clients, for the console.
    pub top: std::sync::Arc<crate::console::top::TopClients>,
}

/// The gateway's admin routes, merged with the blocklist/clients API.
/// Probes and metrics are open (loopback by default); reload needs a token.
pub fn router(state: GatewayAdmin) -> Router {
    let token = axum::middleware::from_fn_with_state(
        state.state_admin.clone(),
        execgate_state::admin::require_token,
    );
    let api = execgate_state::admin::router(state.state_admin.clone());
    let usage = crate::admin_usage::router(state.capacity.clone(), state.state_admin.clone());
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(readyz))
        .route("/v1/rules/reload", post(reload).route_layer(token.clone()))
        .route("/v1/config/reload", post(reload_config).route_layer(token))
        .with_state(state.clone())
        .merge(api)
        .merge(usage)
        .merge(crate::console::router(state))
        .layer(axum::middleware::from_fn(whole_document))
}

/// The state API serves its own document; on this listener the document must
/// also describe the gateway's routes, so the request is answered here.
async fn whole_document(req: Request, next: Next) -> Response {
    if req.method() == Method::GET && req.uri().path() == "/v1/openapi.json" {
        return Json(openapi_document()).into_response();
    }
    next.run(req).await
}

/// The admin listener's OpenAPI 3.1 document: the blocklist, clients and events
/// API, plus metrics, probes and rule reload.
pub fn openapi_document() -> Value {
    let mut doc = execgate_state::admin::openapi_document();
    let error = json!({"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let status = |description: &str| {
        json!({"description": description, "content": {"application/json": {"schema": {
            "type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}
        }}}})
    };
    let ours = json!({
        "/metrics": {"get": {
            "operationId": "getMetrics", "summary": "Prometheus metrics", "security": [],
            "responses": {"200": {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}},
        }},
        "/healthz": {"get": {
            "operationId": "getHealth", "summary": "Liveness", "security": [],
            "responses": {"200": status("The gateway is up")},
        }},
        "/readyz": {"get": {
            "operationId": "getReadiness", "summary": "Readiness: an executor is healthy", "security": [],
            "responses": {"200": status("Ready"), "503": error.clone()},
        }},
        "/v1/config/reload": {"post": {
            "operationId": "reloadConfig",
            "summary": "Reload the whole config and the rules; on an error the previous config stays",
            "responses": {
                "200": {"description": "Reloaded; restart_required names the changed keys only read at start", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["status", "restart_required"],
                    "properties": {"status": {"type": "string"}, "restart_required": {"type": "array", "items": {"type": "string"}}}
                }}}},
                "401": error.clone(),
                "429": error.clone(),
                "422": error.clone(),
                "500": error.clone(),
            },
        }},
        "/v1/rules/reload": {"post": {
            "operationId": "reloadRules",
            "summary": "Reload screening and output rules; on an error the previous rules stay",
            "responses": {
                "200": status("Reloaded"),
                "401": error.clone(),
                "429": error.clone(),
                "422": error.clone(),
                "500": error,
            },
        }},
    });
    if let (Some(paths), Value::Object(ours)) = (doc["paths"].as_object_mut(), ours) {
        paths.extend(ours);
    }
    if let (Some(paths), Value::Object(usage)) = (
        doc["paths"].as_object_mut(),
        crate::admin_usage::openapi_paths(),
    ) {
        paths.extend(usage);
    }
    doc
}

async fn metrics(State(state): State<GatewayAdmin>) -> Response {
    let body = state.metrics.render();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

async fn readyz(State(state): State<GatewayAdmin>) -> Response {
    if state.upstreams.any_healthy() {
        Json(json!({"status": "ready"})).into_response()
    } else {
        let body =
            json!({"error": {"code": "upstream_unavailable", "message": "no executor is healthy"}});
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    }
}

async fn reload(State(state): State<GatewayAdmin>) -> Response {
    reload_rules(state.reloader.clone(), "admin").await
}

/// Reloads the rules off the async workers; 200, or 422 with the errors that kept the old rules.
pub(crate) async fn reload_rules(
    reloader: crate::rules::Reloader,
    trigger: &'static str,
) -> Response {
    let outcome = tokio::task::spawn_blocking(move || reloader.reload(trigger)).await;
    match outcome {
        Ok(Ok(())) => Json(json!({"status": "reloaded"})).into_response(),
        Ok(Err(errors)) => {
            let body = json!({"error": {"code": "rules_invalid", "message": "rules not reloaded; the previous rules stay active", "errors": errors}});
            (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
        }
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": {"code": "internal_error", "message": "reload failed"}})),
        )
            .into_response(),
    }
}

/// Reloads the whole config off the async workers; 200 naming what needs a
/// restart, or 422 whose message starts with the first `file:line: reason`.
async fn reload_config(State(state): State<GatewayAdmin>) -> Response {
    let config = state.config.clone();
    match tokio::task::spawn_blocking(move || config.reload("admin")).await {
        Ok(Ok(done)) => Json(json!({
            "status": "reloaded",
            "restart_required": done.restart_required,
        }))
        .into_response(),
        Ok(Err(errors)) => {
            let first = errors.first().cloned().unwrap_or_default();
            let body = json!({"error": {
                "code": "config_invalid",
                "message": format!("config not reloaded, the previous config stays active: {first}"),
                "errors": errors,
            }});
            (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
        }
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": {"code": "internal_error", "message": "reload failed"}})),
        )
            .into_response(),
    }
}
