//! Rate limits: windows decided together, 429s with the draft headers, only
//! executing routes counted, time moved by the injected clock.

use crate::support::*;
use std::time::Duration;

pub(super) fn execute(gw: &TestGateway) -> Reply {
    post(&gw.url("/api/v2/execute"), &piston("print(1)"))
}

#[test]
fn the_fourth_anonymous_execution_in_ten_seconds_is_refused_with_headers() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder().upstream(exec.addr).start();
    for _ in 0..3 {
        let ok = execute(&gw);
        assert_eq!(ok.status, 200);
        assert_eq!(
            ok.header("ratelimit-policy").as_deref(),
            Some("\"burst\";q=3;w=10, \"hourly\";q=10;w=3600, \"daily\";q=50;w=86400")
        );
    }
    let refused = execute(&gw);
    assert_eq!(refused.status, 429);
    assert_eq!(refused.code(), "rate_limited");
    assert_eq!(refused.json()["error"]["window"], "burst");
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=10).contains(&retry), "retry-after {retry}");
    assert_eq!(refused.json()["error"]["retry_after"], retry);
    assert!(
        refused
            .header("ratelimit")
            .unwrap()
            .starts_with("\"burst\";r=0;t="),
        "{:?}",
        refused.header("ratelimit")
    );
    assert!(refused.header("ratelimit-policy").is_some());
    assert_eq!(
        exec.requests().len(),
        3,
        "the refused request never reached the executor"
    );

    gw.clock.advance(Duration::from_secs(retry));
    assert_eq!(execute(&gw).status, 200, "the window refills with time");
}

#[test]
fn a_request_refused_by_one_window_takes_nothing_from_the_others() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .raw("[tiers.anonymous]\nwindows = [{ name = \"burst\", rate = \"1/10s\" }, { name = \"hourly\", rate = \"3/1h\" }]")
        .start();
    assert_eq!(execute(&gw).status, 200);
    for _ in 0..5 {
        let r = execute(&gw);
        assert_eq!(
            (r.status, r.json()["error"]["window"].clone()),
            (429, "burst".into())
        );
    }
    for _ in 0..2 {
        gw.clock.advance(Duration::from_secs(10));
        assert_eq!(
            execute(&gw).status,
            200,
            "burst refusals did not eat the hourly quota"
        );
    }
    gw.clock.advance(Duration::from_secs(10));
    let r = execute(&gw);
    assert_eq!(
        (r.status, r.json()["error"]["window"].clone()),
        (429, "hourly".into())
    );
}

#[test]
fn passthrough_routes_do_not_count_against_execution_quota_but_have_a_light_limit() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with("limits", "passthrough = \"5/1m\"")
        .start();
    for _ in 0..5 {
        assert_eq!(get(&gw.url("/api/v2/runtimes")).status, 200);
    }
    let light = get(&gw.url("/api/v2/runtimes"));
    assert_eq!(
        (light.status, light.json()["error"]["window"].clone()),
        (429, "passthrough".into())
    );
    for _ in 0..3 {
        assert_eq!(
            execute(&gw).status,
            200,
            "executions still have their full burst"
        );
    }
}

#[test]
fn operators_can_add_tiers_and_keys_name_them() {
    let exec = MockExecutor::start();
    let key = "team-key-0123456789";
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(key.as_bytes()));
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .raw(&format!(
            "[[identity.api_keys]]\nsha256 = \"{hash}\"\nclient = \"team\"\ntier = \"team\"\n\n[tiers.team]\nwindows = [{{ name = \"minute\", rate = \"2/1m\" }}]\nrun_time = \"2s\""
        ))
        .start();
    let call = || {
        post_with(
            &gw.url("/api/v2/execute"),
            piston("print(1)").to_string().into_bytes(),
            &[("x-api-key", key)],
        )
    };
    assert_eq!(call().status, 200);
    assert_eq!(
        call().header("ratelimit-policy").as_deref(),
        Some("\"minute\";q=2;w=60")
    );
    let third = call();
    assert_eq!(
        (third.status, third.json()["error"]["window"].clone()),
        (429, "minute".into())
    );
    let forwarded = exec.requests()[0].json();
    assert_eq!(
        forwarded["run_timeout"], 2000,
        "the custom tier's run time is the clamp: {forwarded}"
    );
}

#[test]
fn the_seed_defaults_refuse_on_the_hourly_then_the_daily_window() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder().upstream(exec.addr).start();
    // 10 s apart the burst window never binds; the 11th in the hour does.
    for i in 0..10 {
        assert_eq!(execute(&gw).status, 200, "execution {i}");
        gw.clock.advance(Duration::from_secs(10));
    }
    let hourly = execute(&gw);
    assert_eq!(hourly.status, 429);
    assert_eq!(hourly.json()["error"]["window"], "hourly");
    let retry = hourly.header("retry-after").unwrap();
    assert_eq!(
        hourly.header("ratelimit").unwrap(),
        format!("\"hourly\";r=0;t={retry}"),
        "RateLimit names the binding window and the same wait"
    );
    // One every 6 minutes keeps the hourly window open until the daily 50 binds.
    let mut forwarded = 10;
    let refusal = loop {
        gw.clock.advance(Duration::from_secs(360));
        let r = execute(&gw);
        if r.status != 200 {
            break r;
        }
        forwarded += 1;
        assert!(forwarded < 200, "the daily window never refused");
    };
    assert_eq!(refusal.json()["error"]["window"], "daily");
    assert!((50..=70).contains(&forwarded), "{forwarded} forwarded");
    assert_eq!(exec.requests().len(), forwarded);
}

#[test]
fn operators_can_rename_tiers_including_the_anonymous_one() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .raw("[tiers.guest]\nreplaces = \"anonymous\"\nwindows = [{ name = \"burst\", rate = \"1/10s\" }]\nrun_time = \"2s\"")
        .start();
    let ok = execute(&gw);
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    assert_eq!(
        ok.header("ratelimit-policy").as_deref(),
        Some("\"burst\";q=1;w=10"),
        "anonymous clients are in the renamed tier"
    );
    assert_eq!(exec.requests()[0].json()["run_timeout"], 2000);
    assert_eq!(execute(&gw).status, 429);
}

/// A Judge0 batch of `runs` copies of `print(1)`.
pub(super) fn batch(gw: &TestGateway, runs: usize) -> Reply {
    let one = serde_json::json!({"source_code": "print(1)", "language_id": 71});
    post(
        &gw.url("/submissions/batch"),
        &serde_json::json!({ "submissions": vec![one; runs] }),
    )
}

pub(super) fn judge0_gateway(exec: &MockExecutor, windows: &str) -> TestGateway {
    TestGateway::builder()
        .upstream(exec.addr)
        .with_admin_token()
        .with("dialect", "kind = [\"piston\", \"judge0\"]")
        .raw(&format!("[tiers.anonymous]\nwindows = [{windows}]"))
        .start()
}
