//! Hostile input: arbitrary bytes, arbitrary JSON and arbitrary paths never
//! panic, and whatever is accepted clamps to a body that re-parses within the
//! tier, and clamping twice changes nothing.

mod common;

use common::TIER;
use execgate_dialect::{
    Dialect, DialectConfig, DialectKind, ExecRequest, RouteKind, encode_base64,
};
use http::Method;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use std::time::Duration;

const GENERIC: &str = r#"
kind = "generic"
[generic]
execute = ["POST /run"]
code = "/code"
language = "/lang"
stdin = "/in"
limits = [{ pointer = "/l/t", role = "run_time", unit = "s" }, { pointer = "/l/m", role = "memory", unit = "kb" }]
outputs = [{ pointer = "/out/*/text", kind = "stdout" }]
verdict = { pointer = "/status", outcomes = { ok = "ok" } }
"#;

fn dialects() -> Vec<(Dialect, RouteKind, &'static str)> {
    let of = |kind: DialectKind| {
        Dialect::new(DialectConfig {
            kind: kind.into(),
            ..DialectConfig::default()
        })
        .unwrap()
    };
    let generic = Dialect::new(toml::from_str(GENERIC).unwrap()).unwrap();
    vec![
        (
            of(DialectKind::Piston),
            RouteKind::Execute,
            "/api/v2/execute",
        ),
        (
            of(DialectKind::Judge0),
            RouteKind::Execute,
            "/submissions?base64_encoded=true",
        ),
        (of(DialectKind::Judge0), RouteKind::Execute, "/submissions"),
        (
            of(DialectKind::Judge0),
            RouteKind::ExecuteBatch,
            "/submissions/batch",
        ),
        (generic, RouteKind::Execute, "/run"),
    ]
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A limit value: mostly plausible numbers, sometimes anything.
fn limit() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        2 => Just(None),
        3 => (-1.0f64..1e5).prop_map(|v| Some(json!(v))),
        3 => (0u64..100_000).prop_map(|v| Some(json!(v))),
        1 => any_json().prop_map(Some),
    ]
}

/// A random member name, or one a dialect gives meaning to.
fn noise_key() -> impl Strategy<Value = String> {
    let meaningful = [
        "submissions",
        "base64_encoded",
        "wait",
        "enable_network",
        "number_of_runs",
        "enable_per_process_and_thread_memory_limit",
        "additional_files",
        "args",
        "stdin",
    ];
    prop_oneof![
        "[a-z_]{1,10}",
        prop::sample::select(meaningful.to_vec()).prop_map(String::from),
    ]
}

/// A body shaped like one of the dialects' requests, with random values and noise.
fn request_like() -> impl Strategy<Value = Value> {
    let code = prop_oneof!["\\PC{0,40}", "[A-Za-z0-9+/=]{0,24}"];
    (
        code,
        prop::collection::vec(limit(), 12),
        prop::collection::btree_map(noise_key(), any_json(), 0..3),
        prop_oneof![Just("python"), Just(""), Just("c")],
    )
        .prop_map(|(code, limits, noise, lang)| {
            let mut body: Map<String, Value> = noise.into_iter().collect();
            let b64 = encode_base64(code.as_bytes());
            for (k, v) in [
                ("language", json!(lang)),
                ("files", json!([{"name": "main.py", "content": code}])),
                ("source_code", json!(b64)),
                ("language_id", json!(71)),
                ("code", json!(code)),
                ("lang", json!(lang)),
            ] {
                body.insert(k.into(), v);
            }
            let keys = [
                "run_timeout",
                "run_cpu_time",
                "run_memory_limit",
                "compile_timeout",
                "compile_cpu_time",
                "compile_memory_limit",
                "cpu_time_limit",
                "wall_time_limit",
                "memory_limit",
                "stack_limit",
                "cpu_extra_time",
                "l",
            ];
            for (key, value) in keys.iter().zip(limits) {
                if let Some(v) = value {
                    let v = if *key == "l" {
                        json!({"t": v, "m": v})
                    } else {
                        v
                    };
                    body.insert((*key).into(), v);
                }
            }
            Value::Object(body)
        })
}

/// Every limit of every submission is within the tier.
fn within_tier(req: &ExecRequest) -> bool {
    let time_ok = |t: Option<Duration>| t.is_none_or(|t| t <= TIER.run_time);
    let mem_ok = |m: Option<u64>| m.is_none_or(|m| m <= TIER.memory_bytes);
    req.submissions.iter().all(|s| {
        let l = s.limits;
        time_ok(l.run_time)
            && time_ok(l.cpu_time)
            && time_ok(l.compile_time)
            && mem_ok(l.memory_bytes)
            && mem_ok(l.compile_memory_bytes)
    })
}

/// Accepted requests clamp to a body that re-parses within the tier; clamping is idempotent.
fn check_clamp(
    d: &Dialect,
    route: RouteKind,
    path: &str,
    body: &[u8],
) -> Result<(), TestCaseError> {
    let Ok(req) = d.parse_request(route, path, body) else {
        return Ok(());
    };
    let once = d
        .clamp(&req, &TIER)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let again = d
        .parse_request(route, path, &once)
        .map_err(|e| TestCaseError::fail(format!("clamped body refused: {e}")))?;
    prop_assert!(
        within_tier(&again),
        "limits above tier after clamp: {:?}",
        again.submissions
    );
    prop_assert_eq!(&again.submissions[0].files, &req.submissions[0].files);
    let twice = d
        .clamp(&again, &TIER)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(once, twice);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..256)) {
        for (d, route, path) in dialects() {
            check_clamp(&d, route, path, &body)?;
            let _ = d.verdicts(&body);
        }
    }

    #[test]
    fn arbitrary_json_never_panics(value in any_json()) {
        let body = serde_json::to_vec(&value).unwrap();
        for (d, route, path) in dialects() {
            check_clamp(&d, route, path, &body)?;
            let _ = d.verdicts(&body);
        }
    }

    #[test]
    fn request_shaped_json_clamps_within_the_tier(value in request_like()) {
        let batch = serde_json::to_vec(&json!({"submissions": [value.clone(), value.clone()]})).unwrap();
        let single = serde_json::to_vec(&value).unwrap();
        for (d, route, path) in dialects() {
            let body = if route == RouteKind::ExecuteBatch { &batch } else { &single };
            check_clamp(&d, route, path, body)?;
        }
    }

    #[test]
    fn arbitrary_paths_never_panic(path in "\\PC{0,40}", method in prop_oneof![Just(Method::GET), Just(Method::POST)]) {
        for (d, _, _) in dialects() {
            let _ = d.route(&method, &path);
            let _ = d.response_fields(&path, None);
        }
    }
}

#[test]
fn deeply_nested_json_is_refused_not_overflowed() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    for (d, route, path) in dialects() {
        let err = d.parse_request(route, path, deep.as_bytes()).unwrap_err();
        assert_eq!(err.field, "body");
        assert!(d.verdicts(deep.as_bytes()).is_empty());
    }
}

#[test]
fn duplicate_keys_are_resolved_once_for_gateway_and_executor() {
    // the forwarded body is the gateway's own serialisation: a second
    // `run_timeout` the executor might prefer cannot survive
    let (d, route, path) = dialects().remove(0);
    let body = br#"{"language":"python","files":[{"content":"x"}],"run_timeout":1000,"run_timeout":9999999}"#;
    let req = d.parse_request(route, path, body).unwrap();
    let out = String::from_utf8(d.clamp(&req, &TIER).unwrap()).unwrap();
    assert_eq!(out.matches("run_timeout").count(), 1);
    assert!(out.contains("\"run_timeout\":5000"), "{out}");
}

#[test]
fn huge_lists_are_refused_by_count_before_any_decoding() {
    let (piston, route, path) = dialects().remove(0);
    let files = vec![json!({"content": "%%% not base64", "encoding": "base64"}); 100_000];
    let body = serde_json::to_vec(&json!({"language": "python", "files": files})).unwrap();
    let err = piston.parse_request(route, path, &body).unwrap_err();
    assert_eq!(err.message, "has 100000 files; at most 16 are allowed");
    let (judge0, route, path) = dialects().remove(3);
    let items = vec![json!({"source_code": 1}); 100_000];
    let body = serde_json::to_vec(&json!({"submissions": items})).unwrap();
    let err = judge0.parse_request(route, path, &body).unwrap_err();
    assert_eq!(
        err.message,
        "has 100000 submissions; at most 20 are allowed"
    );
}

#[test]
fn a_large_program_survives_decode_and_clamp_intact() {
    let (judge0, route, _) = dialects().remove(1);
    let program = "print('x' * 80)\n".repeat(512 * 1024); // 8 MiB
    let body = json!({"source_code": encode_base64(program.as_bytes()), "language_id": 71});
    let path = "/submissions?base64_encoded=true";
    let req = judge0
        .parse_request(route, path, &serde_json::to_vec(&body).unwrap())
        .unwrap();
    assert_eq!(req.submissions[0].files[0].content, program.as_bytes());
    let out: Value = serde_json::from_slice(&judge0.clamp(&req, &TIER).unwrap()).unwrap();
    assert_eq!(out["source_code"], body["source_code"]);
}
