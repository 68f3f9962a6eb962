//! Test harness: the real admin API on 127.0.0.1:0 over memory state on a manual clock.
#![allow(dead_code)]

use execgate_core::{ClientKey, ManualClock, TierName};
use execgate_state::admin::{AdminState, AdminTokens, router};
use execgate_state::{EventLog, MemoryBlockStore, MemoryRateLimiter, Reputation, ReputationConfig};
use std::path::Path;
use std::sync::Arc;

pub const TOKEN: &str = "test-token-0123456789";
pub const OTHER_TOKEN: &str = "other-token-0123456789";

pub struct Fixture {
    pub clock: ManualClock,
    pub blocks: Arc<MemoryBlockStore>,
    pub limiter: Arc<MemoryRateLimiter>,
    pub reputation: Arc<Reputation>,
    pub events: Arc<EventLog>,
    pub base: String,
    pub http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Fixture {
    /// Stops the server, so that a test can "restart" over the same files.
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Fixture {
    /// Starts the admin API on an ephemeral port with the two test tokens.
    pub async fn start() -> Self {
        Self::start_with_tokens(AdminTokens::from_list(&[TOKEN, OTHER_TOKEN]).unwrap()).await
    }

    /// Starts the admin API on an ephemeral port accepting `tokens`.
    pub async fn start_with_tokens(tokens: AdminTokens) -> Self {
        Self::start_with(tokens, None).await
    }

    /// Starts the admin API over a blocklist persisted at `path` (a restart when it exists).
    pub async fn start_at(path: &Path) -> Self {
        let tokens = AdminTokens::from_list(&[TOKEN, OTHER_TOKEN]).unwrap();
        Self::start_with(tokens, Some(path)).await
    }

    async fn start_with(tokens: AdminTokens, path: Option<&Path>) -> Self {
        let clock = ManualClock::default();
        let blocks = Arc::new(MemoryBlockStore::open(path, Arc::new(clock.clone())).unwrap());
        let limiter = Arc::new(MemoryRateLimiter::new(Arc::new(clock.clone()), 1000));
        let events = Arc::new(EventLog::new(1000, Arc::new(clock.clone())));
        let reputation = Arc::new(Reputation::new(
            ReputationConfig::default(),
            Arc::new(clock.clone()),
            blocks.clone(),
            events.clone(),
        ));
        let state = AdminState::new(
            blocks.clone(),
            limiter.clone(),
            reputation.clone(),
            events.clone(),
            tokens,
        )
        .with_tier_lookup(Arc::new(|key: &ClientKey| {
            key.as_str()
                .starts_with("client:")
                .then(|| TierName("paid".into()))
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
        let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            clock,
            blocks,
            limiter,
            reputation,
            events,
            base,
            http: reqwest::Client::new(),
            server,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with the test token.
    pub fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path)).bearer_auth(TOKEN)
    }

    /// Sends and returns (status, JSON body).
    pub async fn send(&self, rb: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
        let resp = rb.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"));
        (status, body)
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        self.send(self.req(reqwest::Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.send(self.req(reqwest::Method::POST, path).json(&body))
            .await
    }

    pub async fn delete(&self, path: &str) -> (u16, serde_json::Value) {
        self.send(self.req(reqwest::Method::DELETE, path)).await
    }
}

/// The error code of an error body, asserting the shape.
pub fn code(body: &serde_json::Value) -> &str {
    assert!(body["error"]["message"].is_string(), "error shape: {body}");
    body["error"]["code"].as_str().unwrap()
}
