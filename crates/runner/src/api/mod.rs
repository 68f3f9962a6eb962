//! The HTTP API: Piston v2 and a Judge0 CE subset on one listener, sharing
//! the runner, the concurrency gate and the Judge0 token store. Errors reach
//! clients in one place (`ApiError`), always as `{"message": …}`.

pub mod gate;
pub mod health;
pub mod judge0;
pub mod piston;
pub mod tokens;

use crate::job::Runner;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

/// Largest request body accepted.
pub const MAX_BODY: usize = 8 << 20;

/// Shared state of the API.
#[derive(Clone)]
pub struct AppState {
    /// Runs programs.
    pub runner: Arc<Runner>,
    /// Bounds concurrent runs and the queue.
    pub gate: Arc<gate::Gate>,
    /// Judge0 results.
    pub tokens: Arc<tokens::TokenStore>,
}

/// An error answer: status and message.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// What went wrong, for the client.
    pub message: String,
}

impl ApiError {
    /// 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// 404 with `message`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }
}

impl From<gate::Busy> for ApiError {
    fn from(_: gate::Busy) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message:
                "the runner is at capacity (all slots busy and the queue is full); retry later"
                    .into(),
        }
    }
}

impl From<crate::job::LimitError> for ApiError {
    fn from(e: crate::job::LimitError) -> Self {
        Self::bad_request(e.0)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(json!({ "message": self.message }))).into_response()
    }
}

/// Parses a JSON body with a 400 that says what is wrong.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    piston::routes()
        .merge(judge0::routes())
        .merge(health::routes())
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::map_response(json_errors))
        .with_state(state)
}

/// The HTTP layer answers some errors itself, in plain text or with no body (a
/// wrong method, 405; a body over `MAX_BODY`, 413): they get the `{"message"}`
/// shape of every other error.
async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => "method not allowed on this endpoint".to_string(),
        StatusCode::PAYLOAD_TOO_LARGE => format!("request body over {MAX_BODY} bytes"),
        other => other.canonical_reason().unwrap_or("error").to_string(),
    };
    let mut json = ApiError { status, message }.into_response();
    // The layer's headers stay (`Allow` on a 405), except those of its body.
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(value) = resp.headers().get(&name) {
            json.headers_mut().insert(name, value.clone());
        }
    }
    json
}
