//! The admin listener: metrics, health, readiness and rule reload, merged with
//! the state crate's blocklist/clients API. Loopback by default.

use crate::gateway::upstream::Upstreams;
use crate::metrics::Metrics;
use crate::rules::Reloader;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

/// What the gateway's own admin routes need.
#[derive(Clone)]
pub struct GatewayAdmin {
    /// Metrics to expose.
    pub metrics: Metrics,
    /// Rule reload.
    pub reloader: Reloader,
    /// Executor pool, for readiness.
    pub upstreams: Upstreams,
    /// The admin API's state: its tokens guard rule reload too.
    pub state_admin: execgate_state::admin::AdminState,
}

/// The gateway's admin routes, merged with the blocklist/clients API.
/// Probes and metrics are open (loopback by default); reload needs a token.
pub fn router(state: GatewayAdmin) -> Router {
    let token = axum::middleware::from_fn_with_state(
        state.state_admin.clone(),
        execgate_state::admin::require_token,
    );
    let api = execgate_state::admin::router(state.state_admin.clone());
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(readyz))
        .route("/v1/rules/reload", post(reload).route_layer(token))
        .with_state(state)
        .merge(api)
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
    let reloader = state.reloader.clone();
    let outcome = tokio::task::spawn_blocking(move || reloader.reload("admin")).await;
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
