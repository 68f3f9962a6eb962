//! `/health` and `/metrics`: what a gateway's probe and an operator's
//! Prometheus read. Healthy means the runner offers at least one language;
//! metrics count finished runs by language and verdict and show the queue and
//! the warm pools, in the Prometheus text format.

use super::AppState;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;
use std::fmt::Write;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
}

async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let languages: Vec<&str> = state
        .runner
        .catalog
        .all()
        .iter()
        .map(|l| l.cfg.name.as_str())
        .collect();
    let status = if languages.is_empty() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let word = if languages.is_empty() {
        "no_languages"
    } else {
        "ok"
    };
    let body = json!({
        "status": word,
        "languages": languages,
        "running": state.gate.running(),
        "waiting": state.gate.waiting(),
    });
    (status, axum::Json(body))
}

/// A label value with `\`, `"` and newlines escaped, as the text format wants.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP execgate_runner_runs_total Finished runs by language and verdict (CE: compile failed)\n\
         # TYPE execgate_runner_runs_total counter"
    );
    for (language, verdict, count) in state.runner.runs.snapshot() {
        let _ = writeln!(
            out,
            "execgate_runner_runs_total{{language=\"{}\",verdict=\"{verdict}\"}} {count}",
            label(&language)
        );
    }
    let gauges = [
        (
            "execgate_runner_running",
            "Runs holding a slot",
            state.gate.running(),
        ),
        (
            "execgate_runner_waiting",
            "Requests waiting for a slot",
            state.gate.waiting(),
        ),
    ];
    for (name, help, value) in gauges {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP execgate_runner_warm_ready Warm sandboxes ready by language\n\
         # TYPE execgate_runner_warm_ready gauge"
    );
    for lang in state.runner.catalog.all() {
        let _ = writeln!(
            out,
            "execgate_runner_warm_ready{{language=\"{}\"}} {}",
            label(&lang.cfg.name),
            state.runner.warm.ready(&lang.cfg.name)
        );
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
