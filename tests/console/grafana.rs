//! The Grafana dashboard in deploy/grafana queries only metrics the gateway
//! exports: each name in its expressions is found in a real `/metrics`.

use crate::support::*;
use serde_json::Value;

fn expressions(node: &Value, out: &mut Vec<String>) {
    match node {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr", Value::String(e)) => out.push(e.clone()),
                    _ => expressions(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| expressions(v, out)),
        _ => {}
    }
}

#[test]
fn every_metric_the_dashboard_queries_is_in_metrics() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/grafana/execgate.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut exprs = Vec::new();
    expressions(&dashboard["panels"], &mut exprs);
    assert!(exprs.len() >= 10, "{} queries", exprs.len());
    // The breaker panels are checked like the others, before any breaker moved.
    for breaker in [
        "execgate_upstream_state",
        "execgate_upstream_transitions_total",
    ] {
        assert!(
            exprs.iter().any(|e| e.contains(breaker)),
            "no panel queries {breaker}"
        );
    }

    // Traffic that makes every counter family appear: labelled counters are
    // exported from their first increment.
    let exec = MockExecutor::with(Behaviour::Piston {
        stdout: "tok_abcdefghijklmnop\n".into(),
    });
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with_admin_token()
        .with("identity", "trusted_proxies = [\"127.0.0.1/32\"]")
        .with("ip_policy", "deny = [\"203.0.113.0/24\"]")
        .start();
    let run = |code: &str, ip: &str| {
        post_with(
            &gw.url("/api/v2/execute"),
            serde_json::to_vec(&piston(code)).unwrap(),
            &[("x-forwarded-for", ip)],
        )
        .status
    };
    assert_eq!(run("print(1)", "198.51.100.1"), 200);
    assert_eq!(run("import subprocess", "198.51.100.2"), 403);
    assert_eq!(run("print(1)", "203.0.113.5"), 403);
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(run("print(2)", "198.51.100.3"));
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    let reload = gw
        .admin(reqwest::Method::POST, "/v1/rules/reload")
        .send()
        .unwrap();
    assert_eq!(reload.status(), 200);

    let text = gw.metrics();
    let exported: std::collections::HashSet<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let name = regex::Regex::new(r"execgate_[a-z0-9_]+").unwrap();
    for expr in &exprs {
        let depth = expr.chars().fold(0i32, |d, c| match c {
            '(' | '{' | '[' => d + 1,
            ')' | '}' | ']' => d - 1,
            _ => d,
        });
        assert_eq!(depth, 0, "unbalanced: {expr}");
        for m in name.find_iter(expr) {
            assert!(
                exported.contains(m.as_str()),
                "{} (in {expr}) is not in /metrics:\n{text}",
                m.as_str()
            );
        }
    }
}
