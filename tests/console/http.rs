//! The console's HTTP rules, below the page: the session cookie's flags, CSRF
//! on every change, the shared failed-login limit, and changes audited with
//! the console's caller exactly as the API's.

use crate::support::*;
use reqwest::blocking::{Client, Response};
use serde_json::{Value, json};

/// A logged-in console session: its cookie and CSRF token.
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

pub fn login(gw: &TestGateway, token: &str) -> Response {
    Client::new()
        .post(gw.admin_url("/console/login"))
        .json(&json!({ "token": token }))
        .send()
        .unwrap()
}

pub fn session(gw: &TestGateway) -> Session {
    let reply = login(gw, ADMIN_TOKEN);
    assert_eq!(reply.status(), 200);
    let set = reply.headers()["set-cookie"].to_str().unwrap().to_string();
    let body: Value = reply.json().unwrap();
    Session {
        cookie: set.split(';').next().unwrap().to_string(),
        csrf: body["csrf"].as_str().unwrap().to_string(),
    }
}

fn call(
    gw: &TestGateway,
    method: reqwest::Method,
    path: &str,
    cookie: Option<&str>,
    csrf: Option<&str>,
) -> reqwest::blocking::RequestBuilder {
    let mut req = Client::new().request(method, gw.admin_url(path));
    if let Some(cookie) = cookie {
        req = req.header("cookie", cookie);
    }
    if let Some(csrf) = csrf {
        req = req.header("x-csrf-token", csrf);
    }
    req
}

#[test]
fn login_sets_a_secure_http_only_strict_cookie_and_logout_ends_it() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with_admin_token()
        .start();
    let reply = login(&gw, ADMIN_TOKEN);
    assert_eq!(reply.status(), 200);
    let set = reply.headers()["set-cookie"].to_str().unwrap().to_string();
    for flag in [
        "Secure",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/console",
        "Max-Age=",
    ] {
        assert!(set.contains(flag), "{flag} missing in {set}");
    }
    let s = session(&gw);
    let who = call(
        &gw,
        reqwest::Method::GET,
        "/console/session",
        Some(&s.cookie),
        None,
    )
    .send()
    .unwrap();
    assert_eq!(who.status(), 200);
    assert_eq!(who.json::<Value>().unwrap()["caller"], "config#1");
    let out = call(
        &gw,
        reqwest::Method::POST,
        "/console/logout",
        Some(&s.cookie),
        Some(&s.csrf),
    )
    .send()
    .unwrap();
    assert_eq!(out.status(), 200);
    let after = call(
        &gw,
        reqwest::Method::GET,
        "/console/api/v1/blocks",
        Some(&s.cookie),
        None,
    )
    .send()
    .unwrap();
    assert_eq!(after.status(), 401, "the session ended at logout");
}

#[test]
fn the_console_api_needs_a_session() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with_admin_token()
        .start();
    for path in [
        "/console/api/v1/events",
        "/console/api/overview",
        "/console/api/rules",
    ] {
        let reply = call(&gw, reqwest::Method::GET, path, None, None)
            .send()
            .unwrap();
        assert_eq!(reply.status(), 401, "{path}");
        let forged = call(
            &gw,
            reqwest::Method::GET,
            path,
            Some("execgate_console=guess"),
            None,
        )
        .send()
        .unwrap();
        assert_eq!(forged.status(), 401, "{path}");
        assert_eq!(
            forged.json::<Value>().unwrap()["error"]["code"],
            "unauthorized"
        );
    }
    let page = get(&gw.admin_url("/console"));
    assert_eq!(page.status, 200, "the page itself (its login form) is open");
}

#[test]
fn a_change_without_the_csrf_token_is_refused_and_changes_nothing() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with_admin_token()
        .start();
    let s = session(&gw);
    let block = json!({"value": "198.51.100.9", "duration": "1h", "reason": "csrf test"});
    for csrf in [None, Some("forged-token")] {
        let reply = call(
            &gw,
            reqwest::Method::POST,
            "/console/api/v1/blocks",
            Some(&s.cookie),
            csrf,
        )
        .json(&block)
        .send()
        .unwrap();
        assert_eq!(reply.status(), 403);
        assert_eq!(
            reply.json::<Value>().unwrap()["error"]["code"],
            "csrf_failed"
        );
    }
    let reload = call(
        &gw,
        reqwest::Method::POST,
        "/console/api/rules/reload",
        Some(&s.cookie),
        None,
    )
    .send()
    .unwrap();
    assert_eq!(reload.status(), 403);
    let logout = call(
        &gw,
        reqwest::Method::POST,
        "/console/logout",
        Some(&s.cookie),
        None,
    )
    .send()
    .unwrap();
    assert_eq!(logout.status(), 403, "logout is a change too");
    let list: Value = gw
        .admin(reqwest::Method::GET, "/v1/blocks")
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(list["decisions"], json!([]), "nothing was blocked");
    let ok = call(
        &gw,
        reqwest::Method::POST,
        "/console/api/v1/blocks",
        Some(&s.cookie),
        Some(&s.csrf),
    )
    .json(&block)
    .send()
    .unwrap();
    assert_eq!(ok.status(), 201);
    let added: Value = ok.json().unwrap();
    assert_eq!(
        added["created_by"], "console/config#1",
        "audited with who did it"
    );
}

#[test]
fn failed_logins_share_the_admin_api_lockout() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with_admin_token()
        .start();
    let wrong = login(&gw, "wrong-token-0123456789");
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());
    for _ in 0..execgate_state::admin::AUTH_FAILURE_BURST {
        login(&gw, "wrong-token-0123456789");
    }
    let locked = login(&gw, ADMIN_TOKEN);
    assert_eq!(locked.status(), 429, "locked out, the right token included");
    assert!(locked.headers().get("retry-after").is_some());
    let api = gw.admin(reqwest::Method::GET, "/v1/blocks").send().unwrap();
    assert_eq!(api.status(), 429, "one limit for the API and the console");
}

#[test]
fn the_page_is_small_self_contained_and_locked_down() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with_admin_token()
        .start();
    let mut weight = 0;
    for (path, kind) in [
        ("/console", "text/html"),
        ("/console/console.js", "text/javascript"),
        ("/console/console.css", "text/css"),
    ] {
        let reply = Client::new().get(gw.admin_url(path)).send().unwrap();
        assert_eq!(reply.status(), 200, "{path}");
        let headers = reply.headers().clone();
        assert!(
            headers["content-type"].to_str().unwrap().starts_with(kind),
            "{path}"
        );
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        let body = reply.text().unwrap();
        // The SVG namespace is a name, not an address.
        let body = body.replace("http://www.w3.org/2000/svg", "");
        assert!(
            !body.contains("http://") && !body.contains("https://") && !body.contains("//cdn"),
            "{path} loads nothing from elsewhere"
        );
        weight += body.len();
    }
    assert!(weight <= 150 * 1024, "page weight {weight} bytes");
}

#[test]
fn the_page_is_served_gzipped_to_browsers_that_take_it() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder().upstream(exec.addr).start();
    let mut plain = 0;
    let mut compressed = 0;
    for path in ["/console", "/console/console.js", "/console/console.css"] {
        let raw = get_with(
            &gw.admin_url(path),
            &[("accept-encoding", "br, gzip;q=0.8")],
        );
        assert_eq!(raw.status, 200);
        assert_eq!(
            raw.headers
                .get("content-encoding")
                .map(|v| v.to_str().unwrap()),
            Some("gzip"),
            "{path}"
        );
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&raw.body[..]), &mut text)
            .unwrap();
        let identity = get(&gw.admin_url(path));
        assert!(identity.headers.get("content-encoding").is_none());
        assert_eq!(text.as_bytes(), &identity.body[..], "{path}");
        plain += identity.body.len();
        compressed += raw.body.len();
    }
    assert!(compressed * 2 < plain, "{compressed} of {plain} bytes");
}

#[test]
fn a_screening_refusal_event_carries_its_findings_but_not_the_code() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with_admin_token()
        .start();
    let code = "x = 1\nimport subprocess\n";
    assert_eq!(post(&gw.url("/api/v2/execute"), &piston(code)).status, 403);
    // The event is recorded when the request is logged, just after the answer.
    let mut events = Value::Null;
    eventually("the refusal is an event", || {
        events = gw
            .admin(reqwest::Method::GET, "/v1/events")
            .send()
            .unwrap()
            .json()
            .unwrap();
        events.to_string().contains("code_rejected")
    });
    let refusal = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "code_rejected")
        .unwrap_or_else(|| panic!("no refusal in {events}"));
    assert_eq!(
        refusal["findings"],
        json!([{"rule": "TEST-IMPORT-PROCESS", "line": 2, "message": "module subprocess is not allowed"}])
    );
    assert!(!events.to_string().contains("import subprocess"));
}

#[test]
fn the_overview_counts_each_second_s_requests_and_refusals_by_reason() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with_admin_token()
        .raw("[tiers.anonymous]\nwindows = [{ name = \"burst\", rate = \"1000/10s\" }]")
        .start();
    let s = session(&gw);
    assert_eq!(
        post(&gw.url("/api/v2/execute"), &piston("print(1)")).status,
        200
    );
    assert_eq!(
        post(&gw.url("/api/v2/execute"), &piston("import os")).status,
        403
    );
    let overview = || -> Value {
        call(
            &gw,
            reqwest::Method::GET,
            "/console/api/overview",
            Some(&s.cookie),
            None,
        )
        .send()
        .unwrap()
        .json()
        .unwrap()
    };
    let totals = |o: &Value| {
        let screening = o["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .position(|r| r == "screening")
            .unwrap();
        o["samples"]
            .as_array()
            .unwrap()
            .iter()
            .fold((0, 0), |(r, s), x| {
                (
                    r + x["requests"].as_u64().unwrap(),
                    s + x["refused"][screening].as_u64().unwrap(),
                )
            })
    };
    // The sampler's first read may already include the requests (its baseline):
    // send one more pair after it has run once.
    eventually("the sampler has run", || {
        !overview()["samples"].as_array().unwrap().is_empty()
    });
    assert_eq!(
        post(&gw.url("/api/v2/execute"), &piston("print(2)")).status,
        200
    );
    assert_eq!(
        post(&gw.url("/api/v2/execute"), &piston("import os")).status,
        403
    );
    let mut seen = (0, 0);
    eventually("the second pair is sampled", || {
        seen = totals(&overview());
        seen.0 >= 2 && seen.1 >= 1
    });
    assert!(seen.0 <= 4 && seen.1 <= 2, "{seen:?}");
    let o = overview();
    let last = o["samples"].as_array().unwrap().last().unwrap()["t"]
        .as_u64()
        .unwrap();
    let newer = call(
        &gw,
        reqwest::Method::GET,
        &format!("/console/api/overview?since={last}"),
        Some(&s.cookie),
        None,
    )
    .send()
    .unwrap()
    .json::<Value>()
    .unwrap();
    assert!(
        newer["samples"].as_array().unwrap().len() <= 2,
        "a poll returns only the seconds after `since`"
    );
    assert_eq!(o["ready"], true);
}

#[test]
fn every_executor_s_breaker_is_shown_closed_from_the_start() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with_admin_token()
        .start();
    let s = session(&gw);
    // No request and no breaker change yet: the executor is still listed.
    let overview: Value = call(
        &gw,
        reqwest::Method::GET,
        "/console/api/overview",
        Some(&s.cookie),
        None,
    )
    .send()
    .unwrap()
    .json()
    .unwrap();
    assert_eq!(
        overview["executors"],
        json!([{"upstream": exec.addr.to_string(), "breaker": "closed"}])
    );
    let text = gw.metrics();
    let gauge = format!("execgate_upstream_state{{upstream=\"{}\"}} 0", exec.addr);
    assert!(text.contains(&gauge), "{gauge} missing in:\n{text}");
    let opened = format!(
        "execgate_upstream_transitions_total{{to=\"open\",upstream=\"{}\"}} 0",
        exec.addr
    );
    assert!(text.contains(&opened), "{opened} missing in:\n{text}");
}

#[test]
fn top_clients_rank_by_requests_refusals_and_score() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with_admin_token()
        .with("identity", "trusted_proxies = [\"127.0.0.1/32\"]")
        .raw("[tiers.anonymous]\nwindows = [{ name = \"burst\", rate = \"1000/10s\" }]")
        .start();
    let s = session(&gw);
    let run = |ip: &str, code: &str| {
        post_with(
            &gw.url("/api/v2/execute"),
            serde_json::to_vec(&piston(code)).unwrap(),
            &[("x-forwarded-for", ip)],
        )
        .status
    };
    for _ in 0..3 {
        assert_eq!(run("198.51.100.1", "print(1)"), 200);
    }
    assert_eq!(run("198.51.100.2", "import subprocess"), 403);
    let top = |by: &str| -> Value {
        let reply = call(
            &gw,
            reqwest::Method::GET,
            &format!("/console/api/top?by={by}"),
            Some(&s.cookie),
            None,
        )
        .send()
        .unwrap();
        assert_eq!(reply.status(), 200, "{by}");
        reply.json().unwrap()
    };
    let ranked = |v: &Value| -> Vec<(String, f64)> {
        v["clients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["client"].as_str().unwrap().to_string(),
                    c["value"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    // Requests are counted as they are logged, just after the answer.
    eventually("both clients' requests are counted", || {
        ranked(&top("requests"))
            == [
                ("ip:198.51.100.1".to_string(), 3.0),
                ("ip:198.51.100.2".to_string(), 1.0),
            ]
    });
    assert_eq!(
        ranked(&top("refusals")),
        [("ip:198.51.100.2".to_string(), 1.0)]
    );
    let scores = ranked(&top("score"));
    assert_eq!(scores.len(), 1, "{scores:?}");
    assert_eq!(scores[0].0, "ip:198.51.100.2");
    assert!(scores[0].1 > 0.0, "{scores:?}");

    // Forgiveness clears the score: the client leaves that ranking.
    let forgive = call(
        &gw,
        reqwest::Method::DELETE,
        "/console/api/v1/clients/ip:198.51.100.2/reputation",
        Some(&s.cookie),
        Some(&s.csrf),
    )
    .send()
    .unwrap();
    assert!(forgive.status().is_success(), "{}", forgive.status());
    assert!(ranked(&top("score")).is_empty());

    let bad = call(
        &gw,
        reqwest::Method::GET,
        "/console/api/top?by=everything",
        Some(&s.cookie),
        None,
    )
    .send()
    .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.json::<Value>().unwrap()["error"]["code"].is_string());
}

#[test]
fn a_session_outlives_a_gateway_restart() {
    let exec = MockExecutor::start();
    let start = || {
        TestGateway::builder()
            .upstream(exec.addr)
            .with_admin_token()
            .start()
    };
    let first = start();
    let s = session(&first);
    drop(first);
    // A new gateway process state, same admin token: the cookie still opens the console.
    let restarted = start();
    let who = call(
        &restarted,
        reqwest::Method::GET,
        "/console/session",
        Some(&s.cookie),
        None,
    )
    .send()
    .unwrap();
    assert_eq!(who.status(), 200);
    let who: Value = who.json().unwrap();
    assert_eq!(who["caller"], "config#1");
    assert_eq!(who["csrf"], s.csrf.as_str(), "the same CSRF token");
    let out = call(
        &restarted,
        reqwest::Method::POST,
        "/console/logout",
        Some(&s.cookie),
        Some(&s.csrf),
    )
    .send()
    .unwrap();
    assert_eq!(out.status(), 200);
    let after = call(
        &restarted,
        reqwest::Method::GET,
        "/console/session",
        Some(&s.cookie),
        None,
    )
    .send()
    .unwrap();
    assert_eq!(after.status(), 401, "logged out");

    // A gateway with another admin token does not take the cookie.
    let other = TestGateway::builder()
        .upstream(exec.addr)
        .with("admin", "tokens = [\"another-admin-token-0123456789\"]")
        .start();
    let refused = call(
        &other,
        reqwest::Method::GET,
        "/console/session",
        Some(&s.cookie),
        None,
    )
    .send()
    .unwrap();
    assert_eq!(refused.status(), 401);
}
