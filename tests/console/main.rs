//! The operator console: its session, CSRF and login-limit rules over HTTP,
//! the page driven in a real headless Chromium, and the Grafana dashboard
//! checked against the gateway's own `/metrics`.

#[path = "../support/mod.rs"]
#[allow(unused_imports)]
mod support;

mod browser;
mod grafana;
mod http;
