//! The operator console at `/console` on the admin listener: one hand-written
//! page (HTML, JS, CSS embedded in the binary, no external requests) over the
//! same admin API the CLI uses. A login with an admin token opens a session
//! (`session`); its JSON routes live under `/console/api/` — the admin API's
//! own handlers, so every change is audited with who made it exactly as
//! through the API — plus the live overview (`pulse`) and the rules view.

pub mod pulse;
pub mod session;
pub mod top;

use crate::admin::GatewayAdmin;
use crate::console::pulse::{Pulse, Reason};
use crate::console::session::{Denied, Sessions};
use crate::console::top::Ranking;
use axum::body::Body;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use execgate_core::SystemClock;
use execgate_state::admin::{ApiError, Caller};
use flate2::Compression;
use flate2::write::GzEncoder;
use prometheus::core::Collector;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::LazyLock;

/// The page, its script and its style sheet.
pub const HTML: &str = include_str!("assets/console.html");
/// The console's script.
pub const JS: &str = include_str!("assets/console.js");
/// The console's style sheet.
pub const CSS: &str = include_str!("assets/console.css");

/// The largest login body read.
const MAX_LOGIN_BYTES: usize = 4096;

/// Only the console's own files; no inline script or style, no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// What the console's routes share.
#[derive(Clone)]
struct Console {
    admin: GatewayAdmin,
    sessions: Arc<Sessions>,
    pulse: Arc<Pulse>,
}

/// The console's routes, merged into the admin listener's router.
pub fn router(admin: GatewayAdmin) -> Router {
    let console = Console {
        pulse: Pulse::start(admin.metrics.clone()),
        sessions: Arc::new(Sessions::new(
            Arc::new(SystemClock),
            admin.state_admin.tokens.clone(),
        )),
        admin,
    };
    let api = execgate_state::admin::caller_routes()
        .with_state(console.admin.state_admin.clone())
        .merge(
            Router::new()
                .route("/overview", get(overview))
                .route("/top", get(top))
                .route("/rules", get(rules))
                .route("/rules/reload", post(reload))
                .route("/reloads", get(reloads))
                .with_state(console.clone()),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            console.clone(),
            require_session,
        ));
    Router::new()
        .route(
            "/console",
            get(|headers: HeaderMap| async move { asset(&headers, Asset::Html) }),
        )
        .route(
            "/console/console.js",
            get(|headers: HeaderMap| async move { asset(&headers, Asset::Js) }),
        )
        .route(
            "/console/console.css",
            get(|headers: HeaderMap| async move { asset(&headers, Asset::Css) }),
        )
        .route("/console/login", post(login))
        .route("/console/session", get(session))
        .route("/console/logout", post(logout))
        .with_state(console)
        .nest("/console/api", api)
}

/// The console's embedded files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asset {
    /// The page.
    Html,
    /// Its script.
    Js,
    /// Its style sheet.
    Css,
}

impl Asset {
    const ALL: [Asset; 3] = [Asset::Html, Asset::Js, Asset::Css];

    /// The file as embedded.
    pub fn body(self) -> &'static str {
        match self {
            Asset::Html => HTML,
            Asset::Js => JS,
            Asset::Css => CSS,
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Asset::Html => "text/html; charset=utf-8",
            Asset::Js => "text/javascript; charset=utf-8",
            Asset::Css => "text/css; charset=utf-8",
        }
    }

    /// The file gzipped, compressed once on first use.
    pub fn gzipped(self) -> &'static [u8] {
        static GZIPPED: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
            Asset::ALL
                .iter()
                .map(|a| {
                    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
                    // Writing to a Vec cannot fail.
                    let _ = gz.write_all(a.body().as_bytes());
                    gz.finish().unwrap_or_default()
                })
                .collect()
        });
        GZIPPED.get(self as usize).map_or(&[], Vec::as_slice)
    }
}

/// A static file, gzipped when the browser takes it, with headers that keep
/// it from being framed, sniffed or cached stale.
fn asset(request: &HeaderMap, asset: Asset) -> Response {
    let gzip = request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| coding.split(';').next().is_some_and(|c| c.trim() == "gzip"))
        && !asset.gzipped().is_empty();
    let mut response = if gzip {
        Response::new(Body::from(asset.gzipped()))
    } else {
        Response::new(Body::from(asset.body()))
    };
    let headers = response.headers_mut();
    if gzip {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type()),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn peer(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), |c| c.0.ip())
}

/// The login form's body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    token: String,
}

/// `POST /console/login {"token": …}`: checked like a bearer token, under the
/// same failed-login limit; opens a session.
async fn login(State(console): State<Console>, request: Request) -> Result<Response, ApiError> {
    let ip = peer(&request);
    let body = axum::body::to_bytes(request.into_body(), MAX_LOGIN_BYTES)
        .await
        .map_err(|_| ApiError::invalid("the login body is too large"))?;
    let Login { token } = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid(format!("expected {{\"token\": \"…\"}}: {e}")))?;
    let caller = execgate_state::admin::check_token(&console.admin.state_admin, ip, &token)?;
    let (id, session) = console
        .sessions
        .open(caller)
        .ok_or_else(|| ApiError::unauthorized("the admin token was removed"))?;
    tracing::info!(target: "execgate::audit", event = "console.login", by = %session.caller.0, %ip);
    let mut response = Json(session_view(&session)).into_response();
    if let Ok(cookie) = HeaderValue::from_str(&session::set_cookie(&id)) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

fn session_view(session: &session::Session) -> Value {
    json!({"caller": session.caller.0, "csrf": session.csrf})
}

fn denied(d: Denied) -> ApiError {
    match d {
        Denied::NoSession => ApiError::unauthorized("no console session: log in"),
        Denied::Csrf => ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf_failed",
            "a change needs the session's X-CSRF-Token header",
        ),
    }
}

/// `GET /console/session`: who is logged in and the CSRF token, for a reloaded page.
async fn session(
    State(console): State<Console>,
    request: Request,
) -> Result<Json<Value>, ApiError> {
    let session = console
        .sessions
        .admit(request.method(), request.headers())
        .map_err(denied)?;
    Ok(Json(session_view(&session)))
}

/// `POST /console/logout`.
async fn logout(State(console): State<Console>, request: Request) -> Result<Response, ApiError> {
    let session = console
        .sessions
        .admit(request.method(), request.headers())
        .map_err(denied)?;
    console.sessions.close(request.headers());
    tracing::info!(target: "execgate::audit", event = "console.logout", by = %session.caller.0);
    let mut response = Json(json!({"status": "logged_out"})).into_response();
    if let Ok(cookie) = HeaderValue::from_str(&session::clear_cookie()) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// Lets a request through as its session's caller (`console/TOKEN-NAME` in the audit log).
async fn require_session(
    State(console): State<Console>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let session = console
        .sessions
        .admit(request.method(), request.headers())
        .map_err(denied)?;
    request
        .extensions_mut()
        .insert(Caller(format!("console/{}", session.caller.0)));
    Ok(next.run(request).await)
}

/// Query of the overview: samples after this Unix second only.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OverviewQuery {
    since: Option<u64>,
}

/// An executor's circuit breaker, as `execgate_upstream_state` has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Breaker {
    Closed,
    HalfOpen,
    Open,
}

#[derive(Debug, Serialize)]
struct ExecutorView {
    upstream: String,
    breaker: Breaker,
}

/// The overview's answer but its samples, which the ring holds encoded.
#[derive(Debug, Serialize)]
struct OverviewView {
    reasons: [Reason; Reason::ALL.len()],
    in_flight: i64,
    ready: bool,
    executors: Vec<ExecutorView>,
}

impl OverviewView {
    /// The JSON object with `"samples"` (an encoded array) as its last member.
    fn with_samples(&self, samples: &str) -> Option<String> {
        let head = serde_json::to_string(self).ok()?;
        // A struct with members encodes as `{…}`: reopen it before its `}`.
        let open = head.strip_suffix('}')?;
        Some(format!("{open},\"samples\":{samples}}}"))
    }
}

/// `GET /console/api/overview?since=T`: the seconds after `T`, executor health, in-flight.
async fn overview(
    State(console): State<Console>,
    query: Result<Query<OverviewQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    let mut executors = Vec::new();
    for family in console.admin.metrics.upstream_state.collect() {
        for m in family.get_metric() {
            let breaker = match m.get_gauge().get_value() as i64 {
                0 => Breaker::Closed,
                1 => Breaker::HalfOpen,
                _ => Breaker::Open,
            };
            executors.push(ExecutorView {
                upstream: m
                    .get_label()
                    .first()
                    .map_or("", |l| l.get_value())
                    .to_string(),
                breaker,
            });
        }
    }
    let view = OverviewView {
        reasons: Reason::ALL,
        in_flight: console.admin.metrics.in_flight.get(),
        ready: console.admin.upstreams.any_healthy(),
        executors,
    };
    let body = view
        .with_samples(&console.pulse.since_json(query.since.unwrap_or(0)))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "the overview could not be encoded",
            )
        })?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

/// Query of the top clients: the ranking and how many (default 10, at most 100).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TopQuery {
    by: Ranking,
    n: Option<usize>,
}

/// `GET /console/api/top?by=requests|refusals|score&n=N`: the first clients of a ranking.
async fn top(
    State(console): State<Console>,
    query: Result<Query<TopQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query?;
    let n = query.n.unwrap_or(10).min(100);
    let clients = console.admin.top.top(query.by, n);
    Ok(Json(json!({ "by": query.by, "clients": clients })))
}

/// `GET /console/api/rules`: rule paths, each screening rule with its hits since start, the last reload.
async fn rules(State(console): State<Console>) -> Json<Value> {
    let mut hits: HashMap<String, u64> = HashMap::new();
    for family in console.admin.metrics.findings.collect() {
        for m in family.get_metric() {
            if let Some(rule) = m.get_label().first() {
                hits.insert(
                    rule.get_value().to_string(),
                    m.get_counter().get_value() as u64,
                );
            }
        }
    }
    let reloader = &console.admin.reloader;
    let current = reloader.current();
    let rules: Vec<Value> = current
        .screen
        .rules()
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "languages": r.languages,
                "severity": r.severity,
                "action": r.action,
                "message": r.message,
                "detection_only": r.detection_only,
                "hits": hits.get(&r.id).copied().unwrap_or(0),
            })
        })
        .collect();
    let last = reloader.reloads().last().map(reload_view);
    Json(json!({
        "screen_paths": reloader.paths().screen,
        "output_paths": reloader.paths().output,
        "screen_rules": rules.len(),
        "rules": rules,
        "last_reload": last,
    }))
}

fn reload_view(r: &crate::rules::ReloadRecord) -> Value {
    json!({
        "at": humantime::format_rfc3339_millis(r.at).to_string(),
        "trigger": r.trigger,
        "result": if r.errors.is_empty() { "ok" } else { "error" },
        "errors": r.errors,
    })
}

/// `GET /console/api/reloads`: the rule reloads since start (the last 100), for the events table.
async fn reloads(State(console): State<Console>) -> Json<Value> {
    let reloads: Vec<Value> = console
        .admin
        .reloader
        .reloads()
        .iter()
        .map(reload_view)
        .collect();
    Json(json!({ "reloads": reloads }))
}

/// `POST /console/api/rules/reload`: the admin API's reload, audited with the console caller.
async fn reload(
    State(console): State<Console>,
    axum::extract::Extension(caller): axum::extract::Extension<Caller>,
) -> Response {
    tracing::info!(target: "execgate::audit", event = "rules.reload", by = %caller.0);
    crate::admin::reload_rules(console.admin.reloader.clone(), "console").await
}
