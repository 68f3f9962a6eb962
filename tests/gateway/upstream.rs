//! Executor failures become 502/503/504 JSON; executor output is sanitized.

use crate::support::*;
use std::time::Duration;

#[test]
fn an_executor_that_is_down_is_503() {
    let gw = TestGateway::builder()
        .upstream(MockExecutor::dead_address())
        .start();
    let r = post(&gw.url("/api/v2/execute"), &piston("print(1)"));
    assert_eq!(
        (r.status, r.code()),
        (503, "upstream_unavailable".to_string()),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    eventually("readyz reports the executor down", || {
        get(&gw.admin_url("/readyz")).status == 503
    });
}

#[test]
fn a_slow_executor_is_504() {
    let exec = MockExecutor::with(Behaviour::Slow(Duration::from_secs(3)));
    let gw = TestGateway::builder().upstream(exec.addr).start();
    let r = post(&gw.url("/api/v2/execute"), &piston("print(1)"));
    assert_eq!(
        (r.status, r.code()),
        (504, "upstream_timeout".to_string()),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
}

#[test]
fn an_executor_answering_non_json_is_502() {
    let exec = MockExecutor::with(Behaviour::Raw {
        status: 200,
        content_type: "text/html".into(),
        body: b"<html>oops</html>".to_vec(),
        extra: vec![],
    });
    let gw = TestGateway::builder().upstream(exec.addr).start();
    let r = post(&gw.url("/api/v2/execute"), &piston("print(1)"));
    assert_eq!(
        (r.status, r.code()),
        (502, "upstream_error".to_string()),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert!(!String::from_utf8_lossy(&r.body).contains("oops"));
}

#[test]
fn json_that_does_not_parse_is_replaced_by_an_error_body() {
    let exec = MockExecutor::with(Behaviour::json(
        200,
        b"{\"run\": {\"stdout\": \"half".to_vec(),
    ));
    let gw = TestGateway::builder().upstream(exec.addr).start();
    let r = post(&gw.url("/api/v2/execute"), &piston("print(1)"));
    assert_eq!(
        r.code(),
        "upstream_error",
        "{}",
        String::from_utf8_lossy(&r.body)
    );
}

#[test]
fn secrets_in_program_output_are_redacted() {
    let exec = MockExecutor::with(Behaviour::Piston {
        stdout: "token tok_abcdefgh12345678 here\n".into(),
    });
    let gw = TestGateway::builder().upstream(exec.addr).start();
    let r = post(&gw.url("/api/v2/execute"), &piston("print(1)"));
    assert_eq!(r.status, 200);
    let stdout = r.json()["run"]["stdout"].as_str().unwrap().to_string();
    assert!(stdout.contains("[REDACTED:test-token]"), "{stdout}");
    assert!(!stdout.contains("tok_abcdefgh12345678"));
    assert!(
        r.header("content-length").is_none()
            || r.header("content-length")
                .unwrap()
                .parse::<usize>()
                .unwrap()
                == r.body.len()
    );
}

#[test]
fn output_over_the_tier_cap_is_truncated() {
    let exec = MockExecutor::with(Behaviour::Piston {
        stdout: "y".repeat(300 << 10),
    });
    let gw = TestGateway::builder().upstream(exec.addr).start();
    let r = post(&gw.url("/api/v2/execute"), &piston("print(1)"));
    assert_eq!(r.status, 200);
    let stdout = r.json()["run"]["stdout"].as_str().unwrap().len();
    assert!(
        stdout <= (100 << 10) + 200,
        "stdout cut to the 100 KB cap, got {stdout}"
    );
}

#[test]
fn a_response_trickling_past_the_total_timeout_is_cut_off() {
    let addr = chunked_executor(|w| {
        for _ in 0..20 {
            std::thread::sleep(Duration::from_millis(400));
            w.chunk(b" ")?;
        }
        w.chunk(b"{}")
    });
    // read_timeout 1s is never hit (a byte every 400 ms); total_timeout 2s is.
    let gw = TestGateway::builder().upstream(addr).start();
    let started = std::time::Instant::now();
    let body = piston("print(1)").to_string();
    let req = format!(
        "POST /api/v2/execute HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (_, text) = raw(gw.addr(), req.as_bytes());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "cut off at ~2 s, took {:?}",
        started.elapsed()
    );
    assert!(
        !text.contains("{}"),
        "the trickled body was never released: {text}"
    );
}

fn pool(addresses: &[std::net::SocketAddr]) -> TestGateway {
    let list: Vec<String> = addresses.iter().map(|a| format!("\"{a}\"")).collect();
    TestGateway::builder()
        .with("upstream", &format!("addresses = [{}]", list.join(", ")))
        .with("upstream", "health_check_interval = \"100ms\"")
        .raw("[tiers.anonymous]\nwindows = [{ name = \"burst\", rate = \"1000/10s\" }]")
        .start()
}

#[test]
fn executions_go_round_robin_over_the_executors() {
    let (a, b) = (MockExecutor::start(), MockExecutor::start());
    let gw = pool(&[a.addr, b.addr]);
    for _ in 0..6 {
        let r = post(&gw.url("/api/v2/execute"), &piston("print(1)"));
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    assert_eq!((a.requests().len(), b.requests().len()), (3, 3));
}

#[test]
fn a_dead_executor_is_skipped_and_used_again_once_it_is_back() {
    let alive = MockExecutor::start();
    let dead = MockExecutor::dead_address();
    let gw = pool(&[alive.addr, dead]);
    for _ in 0..6 {
        let r = post(&gw.url("/api/v2/execute"), &piston("print(1)"));
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    assert_eq!(
        alive.requests().len(),
        6,
        "every request reached the live executor"
    );
    let back = MockExecutor::at(
        dead,
        Behaviour::Piston {
            stdout: "back\n".into(),
        },
    );
    eventually("the executor is healthy again and gets traffic", || {
        post(&gw.url("/api/v2/execute"), &piston("print(1)"));
        !back.requests().is_empty()
    });
}

#[test]
fn an_executor_that_dies_between_health_checks_costs_no_request() {
    let (a, b) = (MockExecutor::start(), MockExecutor::start());
    let gw = TestGateway::builder()
        .with(
            "upstream",
            &format!("addresses = [\"{}\", \"{}\"]", a.addr, b.addr),
        )
        .with("upstream", "health_check_interval = \"1h\"")
        .raw("[tiers.anonymous]\nwindows = [{ name = \"burst\", rate = \"1000/10s\" }]")
        .start();
    assert_eq!(
        post(&gw.url("/api/v2/execute"), &piston("print(1)")).status,
        200
    );
    drop(b);
    for _ in 0..4 {
        let r = post(&gw.url("/api/v2/execute"), &piston("print(1)"));
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    assert!(
        a.requests().len() >= 4,
        "the live executor took the dead one's turns"
    );
}

#[test]
fn a_compressed_executor_body_is_never_passed_unchecked() {
    let exec = MockExecutor::with(Behaviour::Raw {
        status: 200,
        content_type: "application/json".into(),
        body: vec![0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef],
        extra: vec![("content-encoding".into(), "gzip".into())],
    });
    let gw = TestGateway::builder().upstream(exec.addr).start();
    // Executions, and routes whose body is passed without inspection alike.
    for r in [
        post(&gw.url("/api/v2/execute"), &piston("print(1)")),
        get(&gw.url("/api/v2/runtimes")),
    ] {
        assert_eq!(
            (r.status, r.code()),
            (502, "upstream_error".to_string()),
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(r.header("content-encoding"), None);
        assert!(!r.body.windows(2).any(|w| w == [0x1f, 0x8b]));
    }
}

#[test]
fn a_hundred_megabyte_executor_body_is_cut_to_the_tier_cap_as_valid_json() {
    let addr = chunked_executor(|w| {
        w.chunk(br#"{"run":{"stdout":""#)?;
        let block = vec![b'x'; 1 << 20];
        for _ in 0..100 {
            w.chunk(&block)?;
        }
        w.chunk(br#"","stderr":"","code":0}}"#)
    });
    let gw = TestGateway::builder()
        .upstream(addr)
        .with("upstream", "read_timeout = \"20s\"")
        .with("upstream", "total_timeout = \"30s\"")
        .with_admin_token()
        .start();
    let r = post(&gw.url("/api/v2/execute"), &piston("print(1)"));
    assert_eq!(
        r.status,
        200,
        "{}",
        String::from_utf8_lossy(&r.body[..200.min(r.body.len())])
    );
    let stdout = r.json()["run"]["stdout"]
        .as_str()
        .unwrap_or_else(|| {
            panic!(
                "{}",
                String::from_utf8_lossy(&r.body[..300.min(r.body.len())])
            )
        })
        .to_string();
    assert!(
        stdout.len() <= (100 << 10) + 200,
        "stdout capped at the tier's 100KB, got {}",
        stdout.len()
    );
    assert!(stdout.starts_with("xxxx"));
    assert!(
        r.body.len() < 1 << 20,
        "never the raw 100 MB: {}",
        r.body.len()
    );
    // The verdict fields were cut off with the body; output past every cap is
    // an output-limit event of the client all the same.
    eventually("the output limit is an event of the client", || {
        gw.client_view("ip:127.0.0.1")
            .to_string()
            .contains("output_limit")
    });
}

#[test]
fn a_response_replaced_after_its_status_line_counts_as_failed() {
    let exec = MockExecutor::with(Behaviour::json(200, b"not json".to_vec()));
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with("reputation", "ban_threshold = 5.0")
        .with("reputation.activity", "min_requests = 2")
        .with("reputation.activity", "max_error_ratio = 0.5")
        .with("reputation.weights", "high_error_rate = 10.0")
        .with("reputation.weights", "upstream_error = 0.0")
        .start();
    for _ in 0..2 {
        assert_eq!(
            post(&gw.url("/api/v2/execute"), &piston("print(1)")).code(),
            "upstream_error"
        );
    }
    eventually("two failed answers make a high error rate", || {
        post(&gw.url("/api/v2/execute"), &piston("print(1)")).status == 403
    });
}

/// An executor whose port is open but whose API fails is taken out of rotation
/// by the probe (a TCP check would call it healthy), with an audit line and a
/// metric, and comes back once its probes pass again.
#[test]
fn an_open_port_whose_api_fails_goes_out_of_rotation_and_comes_back() {
    let (good, sick) = (MockExecutor::start(), MockExecutor::start());
    let gw = TestGateway::builder()
        .with(
            "upstream",
            &format!("addresses = [\"{}\", \"{}\"]", good.addr, sick.addr),
        )
        .with("upstream", "health_check_interval = \"50ms\"")
        .with("upstream", "failure_threshold = 2")
        .with("upstream", "success_threshold = 2")
        .raw("[tiers.anonymous]\nwindows = [{ name = \"burst\", rate = \"1000/10s\" }]")
        .start();
    sick.set(Behaviour::json(
        500,
        r#"{"message":"no runtime can start"}"#,
    ));
    let state = |gw: &TestGateway| {
        let metrics = gw.metrics();
        let line = format!("execgate_upstream_state{{upstream=\"{}\"}}", sick.addr);
        metrics
            .lines()
            .find(|l| l.starts_with(&line))
            .map(|l| l.rsplit(' ').next().unwrap().to_string())
    };
    eventually("the failing executor's breaker opens", || {
        state(&gw).as_deref() == Some("2")
    });
    let before = sick.requests().len();
    for _ in 0..6 {
        let r = post(&gw.url("/api/v2/execute"), &piston("print(1)"));
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    assert_eq!(
        sick.requests().len(),
        before,
        "no run went to the open breaker"
    );
    sick.set(Behaviour::Piston {
        stdout: "back\n".into(),
    });
    eventually("the breaker closes again", || {
        state(&gw).as_deref() == Some("0")
    });
    assert!(
        gw.metrics().contains(&format!(
            "execgate_upstream_transitions_total{{to=\"half_open\",upstream=\"{}\"}} 1",
            sick.addr
        )),
        "open → half-open → closed: {}",
        gw.metrics()
    );
    eventually("the executor gets runs again", || {
        post(&gw.url("/api/v2/execute"), &piston("print(1)"));
        sick.requests().len() > before
    });
}

/// An executor whose probes pass but whose runs fail (5xx) is taken out of
/// rotation by the failed runs themselves, with no probe involved: every run
/// sent while its breaker is not closed goes to the healthy executor. It comes
/// back through the probes once its runs work again.
#[test]
fn failed_runs_open_the_breaker_of_an_executor_whose_probe_passes() {
    let (good, sick) = (MockExecutor::start(), MockExecutor::start());
    let gw = TestGateway::builder()
        .with(
            "upstream",
            &format!("addresses = [\"{}\", \"{}\"]", good.addr, sick.addr),
        )
        .with("upstream", "health_check_interval = \"100ms\"")
        .with("upstream", "failure_threshold = 2")
        .with("upstream", "success_threshold = 3")
        .raw("[tiers.anonymous]\nwindows = [{ name = \"burst\", rate = \"10000/10s\" }]")
        .start();
    sick.set(Behaviour::FailingRuns(502));
    let metric = |gw: &TestGateway, name: &str| {
        let line = format!("{name}{{upstream=\"{}\"}}", sick.addr);
        gw.metrics()
            .lines()
            .find(|l| l.starts_with(&line))
            .map(|l| l.rsplit(' ').next().unwrap().to_string())
    };
    let closes = |gw: &TestGateway| {
        let line = format!(
            "execgate_upstream_transitions_total{{to=\"closed\",upstream=\"{}\"}}",
            sick.addr
        );
        gw.metrics()
            .lines()
            .find(|l| l.starts_with(&line))
            .map(|l| l.rsplit(' ').next().unwrap().to_string())
    };
    eventually("failed runs open the breaker", || {
        post(&gw.url("/api/v2/execute"), &piston("print(1)"));
        metric(&gw, "execgate_upstream_state").as_deref() == Some("2")
    });
    // A run counts when the breaker was not closed before it and never closed
    // meanwhile (probes may half-open and close it between runs). The count of
    // closes is read before the state: read after, a close between the two
    // reads would pass unseen.
    let mut while_open = 0;
    eventually("runs are sent while the breaker is open", || {
        let closed = closes(&gw);
        let state = metric(&gw, "execgate_upstream_state");
        let before = sick.requests().len();
        let r = post(&gw.url("/api/v2/execute"), &piston("print(1)"));
        if state.as_deref() != Some("0") && closes(&gw) == closed {
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
            assert_eq!(
                sick.requests().len(),
                before,
                "a run went to an open breaker"
            );
            while_open += 1;
        }
        while_open >= 5
    });
    sick.set(Behaviour::Piston {
        stdout: "back\n".into(),
    });
    eventually("the executor gets runs again", || {
        let before = sick.requests().len();
        post(&gw.url("/api/v2/execute"), &piston("print(1)"));
        sick.requests().len() > before
    });
}

/// An executor behind TLS: a TLS-terminating gateway, with a certificate for
/// `executor.test`, in front of a mock. Returns it with its certificate (PEM).
fn tls_executor(exec: &MockExecutor) -> (TestGateway, String) {
    let rcgen::CertifiedKey { cert, key_pair } =
        rcgen::generate_simple_self_signed(vec!["executor.test".to_string()]).unwrap();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with("server", "accept_guard = false")
        .raw("[server.tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"")
        .file("cert.pem", cert.pem())
        .file("key.pem", key_pair.serialize_pem())
        .start();
    (gw, cert.pem())
}

/// A gateway speaking TLS to `executor` with the `[upstream]` lines given.
fn over_tls(executor: &TestGateway, ca: &str, lines: &[&str]) -> TestGateway {
    let mut builder = TestGateway::builder()
        .upstream(executor.addr())
        .with("upstream", "tls = true")
        .file("executor-ca.pem", ca);
    for line in lines {
        builder = builder.with("upstream", line);
    }
    builder.start()
}

fn execute_through(gw: &TestGateway) -> Reply {
    post(&gw.url("/api/v2/execute"), &piston("print(1)"))
}

#[test]
fn tls_to_the_executor_verifies_its_certificate_against_the_configured_ca_and_name() {
    let exec = MockExecutor::start();
    let (executor, cert) = tls_executor(&exec);
    let gw = over_tls(
        &executor,
        &cert,
        &["sni = \"executor.test\"", "ca = \"executor-ca.pem\""],
    );
    let r = execute_through(&gw);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["run"]["stdout"], "hi\n");
    assert_eq!(exec.requests().len(), 1, "the run reached the executor");
}

#[test]
fn an_executor_whose_certificate_does_not_verify_gets_nothing() {
    let exec = MockExecutor::start();
    let (executor, cert) = tls_executor(&exec);
    let other = rcgen::generate_simple_self_signed(vec!["executor.test".to_string()])
        .unwrap()
        .cert
        .pem();
    let wrong_name = over_tls(
        &executor,
        &cert,
        &["sni = \"other.test\"", "ca = \"executor-ca.pem\""],
    );
    let wrong_ca = over_tls(
        &executor,
        &other,
        &["sni = \"executor.test\"", "ca = \"executor-ca.pem\""],
    );
    let system_roots = over_tls(&executor, &cert, &["sni = \"executor.test\""]);
    for gw in [&wrong_name, &wrong_ca, &system_roots] {
        let r = execute_through(gw);
        assert!(
            [502, 503].contains(&r.status),
            "{} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
    }
    assert!(exec.requests().is_empty(), "no run reached the executor");
    let unverified = over_tls(
        &executor,
        &other,
        &["sni = \"other.test\"", "verify = false"],
    );
    assert_eq!(
        execute_through(&unverified).status,
        200,
        "verify = false is what lets a wrong certificate through"
    );
}

#[test]
fn upstream_tls_settings_are_checked_at_start() {
    let cases = [
        (
            "[upstream]\nsni = \"x.test\"\n",
            "upstream.sni: only with upstream.tls = true",
        ),
        (
            "[upstream]\ntls = true\nca = \"missing.pem\"\n",
            "upstream.ca: ",
        ),
        (
            "[upstream]\ntls = true\naddresses = [\"127.0.0.1:1\", \"127.0.0.1:2\"]\n",
            "upstream.tls: with several executors set upstream.sni",
        ),
    ];
    for (text, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("execgate.toml");
        std::fs::write(&path, text).unwrap();
        let err = execgate::config::load(&path).unwrap_err().to_string();
        assert!(err.contains(expected), "{err}");
        assert!(err.contains("execgate.toml:"), "{err}");
    }
}
