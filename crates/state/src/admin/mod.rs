//! The admin / blocklist HTTP API (axum): blocks, their change stream for
//! other enforcement points, client standing, recent events and the OpenAPI
//! document. The gateway merges this router with `/metrics` and health routes.

mod auth;
mod blocks;
mod clients;
mod error;
mod lockout;
mod openapi;
mod stream;

pub use auth::{AdminTokens, Caller, MIN_TOKEN_LEN, TOKEN_ENV, check_token, require_token};
pub use error::ApiError;
pub use lockout::{AUTH_FAILURE_BURST, AUTH_FAILURE_PERIOD, AuthFailures};
pub use openapi::document as openapi_document;
pub use stream::{MAX_STREAM_CALLERS, StreamCursors};

use crate::blocklist::BlockStore;
use crate::events::EventLog;
use crate::ratelimit::RateLimiter;
use crate::reputation::Reputation;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use execgate_core::{ClientKey, TierName};
use std::sync::Arc;

/// Largest admin request body (10 000 decisions fit).
pub const MAX_BODY_BYTES: usize = 4 << 20;

/// Looks up the tier of a client, for `GET /v1/clients/{key}`.
pub type TierLookup = Arc<dyn Fn(&ClientKey) -> Option<TierName> + Send + Sync>;

/// Everything the admin API reads and changes.
#[derive(Clone)]
pub struct AdminState {
    /// The blocklist.
    pub blocks: Arc<dyn BlockStore>,
    /// The rate limiter (read only).
    pub limiter: Arc<dyn RateLimiter>,
    /// The reputation engine.
    pub reputation: Arc<Reputation>,
    /// Recent security events.
    pub events: Arc<EventLog>,
    /// Accepted bearer tokens.
    pub tokens: AdminTokens,
    /// The tier a client is in, when known.
    pub tier_of: TierLookup,
    /// Stream cursors per caller (token name + `caller` query parameter).
    pub cursors: Arc<StreamCursors>,
    /// Failed token checks per client address (brute-force lockout).
    pub auth_failures: Arc<AuthFailures>,
}

impl AdminState {
    /// State with no tier lookup (tiers show as `null`) and fresh stream cursors.
    pub fn new(
        blocks: Arc<dyn BlockStore>,
        limiter: Arc<dyn RateLimiter>,
        reputation: Arc<Reputation>,
        events: Arc<EventLog>,
        tokens: AdminTokens,
    ) -> Self {
        Self {
            blocks,
            limiter,
            reputation,
            events,
            tokens,
            tier_of: Arc::new(|_| None),
            cursors: Arc::default(),
            auth_failures: Arc::default(),
        }
    }

    /// Uses `lookup` to name clients' tiers.
    pub fn with_tier_lookup(mut self, lookup: TierLookup) -> Self {
        self.tier_of = lookup;
        self
    }
}

/// The admin API's authenticated routes, without the authentication: whoever
/// serves them must insert the `Caller` (the bearer layer below, the console's
/// session layer).
pub fn caller_routes() -> Router<AdminState> {
    Router::new()
        .route("/v1/blocks", get(blocks::list).post(blocks::add))
        .route("/v1/blocks/stream", get(stream::pull))
        .route("/v1/blocks/{id}", get(blocks::show).delete(blocks::remove))
        .route("/v1/clients/{key}", get(clients::show))
        .route("/v1/clients/{key}/reputation", delete(clients::forgive))
        .route("/v1/events", get(clients::events))
}

/// The admin API router. Every route but `/v1/openapi.json` needs a bearer token.
pub fn router(state: AdminState) -> Router {
    let protected = caller_routes().route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::require_token,
    ));
    Router::new()
        .merge(protected)
        .route("/v1/openapi.json", get(openapi::serve))
        .fallback(|| async { ApiError::not_found("no such admin endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not accept that method",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
