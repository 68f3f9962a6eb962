//! The admin listener: metrics, health, readiness, and rule reload that keeps
//! the old rules when a file is bad.

use crate::support::*;

fn execute(gw: &TestGateway, code: &str) -> Reply {
    post(&gw.url("/api/v2/execute"), &piston(code))
}

#[test]
fn metrics_count_decisions_windows_blocks_findings_and_latency() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with("identity", "trusted_proxies = [\"127.0.0.1/32\"]")
        .with("ip_policy", "deny = [\"203.0.113.0/24\"]")
        .start();
    assert_eq!(execute(&gw, "print(1)").status, 200);
    assert_eq!(execute(&gw, "import subprocess").status, 403);
    assert_eq!(execute(&gw, "print(2)").status, 200);
    assert_eq!(execute(&gw, "print(3)").status, 429);
    let denied = post_with(
        &gw.url("/api/v2/execute"),
        b"{}".to_vec(),
        &[("x-forwarded-for", "203.0.113.5")],
    );
    assert_eq!(denied.status, 403);
    let text = gw.metrics();
    for expected in [
        "execgate_requests_total{decision=\"forwarded\"} 2",
        "execgate_requests_total{decision=\"code_rejected\"} 1",
        "execgate_requests_total{decision=\"rate_limited\"} 1",
        "execgate_requests_total{decision=\"ip_blocked\"} 1",
        "execgate_rate_limit_refusals_total{window=\"burst\"} 1",
        "execgate_blocks_total{reason=\"deny_list\"} 1",
        "execgate_findings_total{rule=\"TEST-IMPORT-PROCESS\"} 1",
        "execgate_upstream_latency_seconds_count 2",
        "execgate_in_flight_requests 0",
    ] {
        assert!(text.contains(expected), "missing {expected} in\n{text}");
    }
}

#[test]
fn health_and_readiness() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder().upstream(exec.addr).start();
    assert_eq!(get(&gw.admin_url("/healthz")).json()["status"], "ok");
    assert_eq!(get(&gw.admin_url("/readyz")).status, 200);
}

#[test]
fn a_bad_rule_file_keeps_the_old_rules_and_a_good_one_is_swapped_in() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .raw("[tiers.anonymous]\nwindows = [{ name = \"burst\", rate = \"100/10s\" }]")
        .with_admin_token()
        .start();
    let post_reload = |token: Option<&str>| {
        let req = reqwest::blocking::Client::new().post(gw.admin_url("/v1/rules/reload"));
        let req = match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        req.send().unwrap()
    };
    let reload = || post_reload(Some(ADMIN_TOKEN));
    assert_eq!(
        post_reload(None).status(),
        401,
        "reload needs an admin token"
    );
    assert_eq!(post_reload(Some("wrong-token-0123456789")).status(), 401);
    let extra = gw.dir.path().join("screen/extra.toml");
    std::fs::write(&extra, "[[rule]]\nid = \"BAD-RULE\"\nlanguage = \"python\"\nseverity = \"fatal\"\naction = \"block\"\nmessage = \"x\"\nmatch.import = [\"sys\"]\n").unwrap();
    let bad = reload();
    assert_eq!(bad.status(), 422);
    let body: serde_json::Value = bad.json().unwrap();
    let errors = body["error"]["errors"].to_string();
    assert!(
        errors.contains("extra.toml") && errors.contains("BAD-RULE"),
        "{errors}"
    );
    assert_eq!(
        execute(&gw, "import os").status,
        403,
        "old rules still active"
    );
    assert_eq!(execute(&gw, "import sys").status, 200);

    std::fs::write(&extra, "[[rule]]\nid = \"NO-SYS\"\nlanguage = \"python\"\nseverity = \"critical\"\naction = \"block\"\nmessage = \"no {name}\"\nmatch.import = [\"sys\"]\n").unwrap();
    assert_eq!(reload().status(), 200);
    let r = execute(&gw, "import sys");
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"]["findings"][0]["rule"], "NO-SYS");
    let metrics = gw.metrics();
    assert!(
        metrics.contains("execgate_rule_reloads_total{result=\"error\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("execgate_rule_reloads_total{result=\"ok\"} 1"),
        "{metrics}"
    );
}

#[test]
fn the_blocklist_api_is_served_on_the_admin_listener_behind_a_token() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with_admin_token()
        .start();
    assert_eq!(get(&gw.admin_url("/v1/openapi.json")).status, 200);
    assert_eq!(get(&gw.admin_url("/v1/blocks")).status, 401);
    gw.block("127.0.0.1", "1h");
    let r = execute(&gw, "print(1)");
    assert_eq!(
        (r.status, r.code()),
        (403, "ip_blocked".to_string()),
        "blocks take effect on the next request"
    );
}

#[test]
fn repeat_offenders_are_banned_by_reputation() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with("reputation", "ban_threshold = 3.0")
        .start();
    for _ in 0..3 {
        assert_eq!(execute(&gw, "print(1)").status, 200);
    }
    for _ in 0..3 {
        assert_eq!(execute(&gw, "print(1)").status, 429);
    }
    eventually("the client is banned", || {
        execute(&gw, "print(1)").is_anomaly_ban()
    });
}

#[test]
fn rule_files_are_reloaded_when_they_change_on_disk() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .watch()
        .raw("[tiers.anonymous]\nwindows = [{ name = \"burst\", rate = \"100/10s\" }]")
        .start();
    assert_eq!(execute(&gw, "import json").status, 200);
    std::fs::write(
        gw.dir.path().join("screen/json.toml"),
        "[[rule]]\nid = \"NO-JSON\"\nlanguage = \"python\"\nseverity = \"critical\"\naction = \"block\"\nmessage = \"no {name}\"\nmatch.import = [\"json\"]\n",
    )
    .unwrap();
    eventually("the watcher swapped the new rules in", || {
        execute(&gw, "import json").status == 403
    });
}

#[test]
fn sighup_reloads_the_rules() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .sighup()
        .raw("[tiers.anonymous]\nwindows = [{ name = \"burst\", rate = \"100/10s\" }]")
        .start();
    std::fs::write(
        gw.dir.path().join("screen/csv.toml"),
        "[[rule]]\nid = \"NO-CSV\"\nlanguage = \"python\"\nseverity = \"critical\"\naction = \"block\"\nmessage = \"no {name}\"\nmatch.import = [\"csv\"]\n",
    )
    .unwrap();
    // Nothing to wait for: that nothing happens takes time to see, and a
    // watcher would have swapped the rules within milliseconds.
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        execute(&gw, "import csv").status,
        200,
        "no watcher: nothing changes by itself"
    );
    signal_hook::low_level::raise(signal_hook::consts::SIGHUP).unwrap();
    eventually("SIGHUP swapped the new rules in", || {
        execute(&gw, "import csv").status == 403
    });
}

#[test]
fn a_high_request_frequency_or_error_rate_bans_the_client() {
    let exec = MockExecutor::start();
    let frequent = TestGateway::builder()
        .upstream(exec.addr)
        .with("reputation", "ban_threshold = 5.0")
        .with("reputation.activity", "max_requests = 5")
        .with("reputation.activity", "max_error_ratio = 0.0")
        .with("reputation.weights", "high_request_rate = 10.0")
        .start();
    for i in 0..6 {
        assert_eq!(
            get(&frequent.url("/api/v2/runtimes")).status,
            200,
            "request {i}"
        );
    }
    eventually("the frequent client is banned", || {
        get(&frequent.url("/api/v2/runtimes")).is_anomaly_ban()
    });

    let failing = TestGateway::builder()
        .upstream(exec.addr)
        .with("reputation", "ban_threshold = 5.0")
        .with("reputation.activity", "max_requests = 0")
        .with("reputation.activity", "min_requests = 4")
        .with("reputation.activity", "max_error_ratio = 0.5")
        .with("reputation.weights", "high_error_rate = 10.0")
        .with("reputation.weights", "refused = 0.0")
        .start();
    for _ in 0..4 {
        assert_eq!(get(&failing.url("/no/such/route")).status, 404);
    }
    eventually("the failing client is banned", || {
        get(&failing.url("/api/v2/runtimes")).is_anomaly_ban()
    });
}

#[test]
fn output_rules_are_reloaded_with_the_screening_rules() {
    let exec = MockExecutor::with(Behaviour::Piston {
        stdout: "ticket INC-2024-0042\n".into(),
    });
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with_admin_token()
        .start();
    let stdout = |gw: &TestGateway| {
        let r = execute(gw, "print(1)");
        r.json()["run"]["stdout"].as_str().unwrap().to_string()
    };
    assert_eq!(stdout(&gw), "ticket INC-2024-0042\n");
    let rules = format!(
        "{}\n[[redact]]\nid = \"ticket-id\"\nregex = \"INC-[0-9]{{4}}-[0-9]{{4}}\"\n",
        crate::support::gateway::OUTPUT_RULES
    );
    std::fs::write(gw.dir.path().join("output.toml"), rules).unwrap();
    let reloaded = gw
        .admin(reqwest::Method::POST, "/v1/rules/reload")
        .send()
        .unwrap();
    assert_eq!(reloaded.status(), 200);
    assert_eq!(stdout(&gw), "ticket [REDACTED:ticket-id]\n");
}

/// Time-outs, memory kills and output-limit kills are read from the executor's
/// verdict and count against the client that caused them (4 + 4 + 2 points).
#[test]
fn executor_verdicts_feed_the_clients_reputation_until_it_is_banned() {
    let verdict = |status: &str| {
        Behaviour::json(
            200,
            serde_json::json!({
                "language": "python", "version": "3.12.0",
                "run": {"stdout": "", "stderr": "", "output": "", "code": null,
                        "signal": "SIGKILL", "status": status}
            })
            .to_string(),
        )
    };
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with("reputation", "ban_threshold = 10.0")
        .with("reputation.weights", "refused = 0.0")
        .with_admin_token()
        .raw("[tiers.anonymous]\nwindows = [{ name = \"burst\", rate = \"100/10s\" }]")
        .start();
    for (status, event) in [
        ("TO", "exec_timeout"),
        ("OOM", "memory_killed"),
        ("OL", "output_limit"),
    ] {
        let client = || -> serde_json::Value { gw.client_view("ip:127.0.0.1") };
        assert!(!client().to_string().contains(event), "{event} before");
        exec.set(verdict(status));
        assert_eq!(execute(&gw, "print(1)").status, 200, "{status}");
        eventually(&format!("{event} is an event of the client"), || {
            client().to_string().contains(event)
        });
    }
    exec.set(Behaviour::Piston {
        stdout: "fine\n".into(),
    });
    eventually("the client is banned at 10 points", || {
        execute(&gw, "print(1)").is_anomaly_ban()
    });
}

/// Every path and method of the admin listener's OpenAPI document is served by
/// the gateway, with and without the token, answering only documented statuses;
/// and every route the listener serves is in the document.
#[test]
fn the_openapi_document_describes_every_route_of_the_admin_listener() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with_admin_token()
        .start();
    let doc = get(&gw.admin_url("/v1/openapi.json")).json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for served in [
        "/metrics",
        "/healthz",
        "/readyz",
        "/v1/rules/reload",
        "/v1/config/reload",
        "/v1/blocks",
        "/v1/blocks/{id}",
        "/v1/blocks/stream",
        "/v1/clients/{key}",
        "/v1/clients/{key}/reputation",
        "/v1/events",
        "/v1/openapi.json",
        "/v1/status",
        "/v1/usage",
        "/v1/usage/top",
        "/v1/budgets/{key}",
    ] {
        assert!(paths.contains_key(served), "{served} is not documented");
    }
    let http = reqwest::blocking::Client::new();
    for (path, operations) in paths {
        let url = gw.admin_url(
            &path
                .replace("{id}", "1")
                .replace("{key}", "ip:203.0.113.50"),
        );
        for (method, operation) in operations.as_object().unwrap() {
            let open = operation["security"] == serde_json::json!([]);
            let documented = operation["responses"].as_object().unwrap();
            for with_token in [true, false] {
                let mut req = http.request(method.to_uppercase().parse().unwrap(), &url);
                if with_token {
                    req = req.bearer_auth(ADMIN_TOKEN);
                }
                if path == "/v1/blocks" && method == "post" {
                    req = req.json(&serde_json::json!(
                        {"value": "203.0.113.50", "duration": "1h", "reason": "walk"}
                    ));
                }
                let status = req.send().unwrap().status().as_u16().to_string();
                assert!(
                    documented.contains_key(&status),
                    "{method} {path} (token: {with_token}) answered {status}, documented {:?}",
                    documented.keys().collect::<Vec<_>>()
                );
                if !open && !with_token {
                    assert_eq!(status, "401", "{method} {path} without a token");
                }
            }
        }
    }
}

/// A manual block and an anomaly ban are written to the blocklist file before
/// they are acknowledged, so a new gateway on the same file refuses both clients.
#[test]
fn decisions_survive_a_restart_of_the_gateway() {
    let exec = MockExecutor::start();
    let kept = tempfile::tempdir().unwrap();
    let store = kept.path().join("blocklist.json");
    let start = || {
        TestGateway::builder()
            .upstream(exec.addr)
            .with(
                "blocklist",
                &format!("path = {:?}", store.display().to_string()),
            )
            .with("identity", "trusted_proxies = [\"127.0.0.1/32\"]")
            .with("reputation", "ban_threshold = 3.0")
            .with_admin_token()
            .start()
    };
    let from = |gw: &TestGateway, ip: &str| {
        post_with(
            &gw.url("/api/v2/execute"),
            piston("print(1)").to_string().into_bytes(),
            &[("x-forwarded-for", ip)],
        )
    };
    let first = start();
    first.block("198.51.100.7", "4h");
    for _ in 0..3 {
        assert_eq!(from(&first, "203.0.113.8").status, 200);
    }
    eventually("the rate-limited client is banned", || {
        from(&first, "203.0.113.8").is_anomaly_ban()
    });
    drop(first);

    let second = start();
    assert_eq!(from(&second, "198.51.100.7").status, 403, "manual block");
    assert!(from(&second, "203.0.113.8").is_anomaly_ban(), "anomaly ban");
    assert_eq!(from(&second, "192.0.2.1").status, 200, "others still pass");
}

/// Past the ban threshold, detection-only mode records "would ban" and an
/// allow-listed address is left alone: neither is ever refused as an anomaly.
#[test]
fn detection_only_and_allow_listed_clients_are_never_banned() {
    let exec = MockExecutor::start();
    let detecting = TestGateway::builder()
        .upstream(exec.addr)
        .with("reputation", "ban_threshold = 3.0")
        .with("reputation", "detection_only = true")
        .with_admin_token();
    let allowing = TestGateway::builder()
        .upstream(exec.addr)
        .with("reputation", "ban_threshold = 3.0")
        .with("ip_policy", "allow = [\"127.0.0.1/32\"]")
        .with_admin_token();
    for (name, gw, would_ban) in [
        ("detection only", detecting.start(), true),
        ("allow-listed", allowing.start(), false),
    ] {
        for _ in 0..3 {
            assert_eq!(execute(&gw, "print(1)").status, 200, "{name}");
        }
        for _ in 0..10 {
            assert_eq!(execute(&gw, "print(1)").status, 429, "{name}: not banned");
        }
        let client = gw.client_view("ip:127.0.0.1");
        assert!(client["blocked"].is_null(), "{name}: {client}");
        assert_eq!(
            client.to_string().contains("would ban"),
            would_ban,
            "{name}: {client}"
        );
        gw.clock.advance(std::time::Duration::from_secs(11));
        assert_eq!(
            execute(&gw, "print(1)").status,
            200,
            "{name}: back once the window passes"
        );
    }
}

/// Expired decisions leave the store in the background, not only when a stream
/// follower pulls: the active-decisions gauge falls by itself, and only by
/// the decisions that expired.
#[test]
fn expired_decisions_are_purged_in_the_background() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with_admin_token()
        .with("blocklist", "purge_interval = \"50ms\"")
        .start();
    gw.block("198.51.100.7", "1m");
    gw.block("198.51.100.8", "1h");
    let active = || {
        let text = gw.metrics();
        text.lines()
            .find_map(|l| l.strip_prefix("execgate_active_decisions "))
            .map(str::to_string)
    };
    assert_eq!(active().as_deref(), Some("2"));
    gw.clock.advance(std::time::Duration::from_secs(61));
    eventually("the expired decision is purged", || {
        active().as_deref() == Some("1")
    });
    let left = gw.blocks().list(
        &execgate_state::BlockFilter::default(),
        execgate_state::Page {
            offset: 0,
            limit: 10,
        },
    );
    let left: Vec<&str> = left.iter().map(|d| d.value.as_str()).collect();
    assert_eq!(left, ["198.51.100.8"], "the unexpired decision stays");
}

/// The admin listener knows each caller's address: guessing tokens from one
/// address locks that address out (429), not the operator on another.
#[test]
fn guessing_admin_tokens_locks_out_the_guessing_address_only() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with_admin_token()
        .start();
    let from = |ip: &str| {
        reqwest::blocking::Client::builder()
            .local_address(ip.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap()
    };
    let guesser = from("127.0.0.1");
    let guess = || {
        guesser
            .get(gw.admin_url("/v1/blocks"))
            .bearer_auth("guess-0123456789abcdef")
            .send()
            .unwrap()
    };
    let statuses: Vec<u16> = (0..=execgate_state::admin::AUTH_FAILURE_BURST)
        .map(|_| guess().status().as_u16())
        .collect();
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert!(statuses[..statuses.len() - 1].iter().all(|s| *s == 401));
    assert!(guess().headers().contains_key("retry-after"));
    let operator = from("127.0.0.2")
        .get(gw.admin_url("/v1/blocks"))
        .bearer_auth(crate::support::ADMIN_TOKEN)
        .send()
        .unwrap();
    assert_eq!(operator.status(), 200);
}
