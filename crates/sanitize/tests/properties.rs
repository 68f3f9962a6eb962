//! Property tests: whatever the executor sends, the sanitizer never panics, the
//! body it returns is valid JSON, base64 fields are canonical base64, caps hold
//! (for structured output too), and planted secrets never survive.

mod support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use execgate_sanitize::{
    FieldKind, OutputPolicy, Reader, ResponseBuffer, sanitize_json, sanitize_text,
    sanitize_truncated,
};
use proptest::prelude::*;
use serde_json::{Value, json};
use support::*;

fn small_caps() -> OutputPolicy {
    OutputPolicy {
        stdout_max_bytes: execgate_core::ByteSize(64),
        stderr_max_bytes: execgate_core::ByteSize(16),
        ..Default::default()
    }
}

/// Output-like text: words, paths, addresses, keys, env lines, unicode, NULs.
fn output_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-z ]{0,12}",
        Just("/home/user/x.py ".to_string()),
        Just("10.0.0.1".to_string()),
        Just("AKIAZ7VRSQ5TQLYXW3KE".to_string()),
        Just("API_KEY=".to_string()),
        Just("root:x:0:0:".to_string()),
        Just("\n".to_string()),
        Just("\0".to_string()),
        Just("é€😀".to_string()),
        Just("-----BEGIN PRIVATE KEY-----".to_string()),
        any::<String>(),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

/// A key planted in structured output; `output_text` may glue its own key to a
/// word character (no longer a key to the rule), this one stands apart.
const PLANTED: &str = "AKIAQ4MXN2B7C5D3E6F7";

/// Output-like text, or a planted key between blanks.
fn text_with_planted_key() -> impl Strategy<Value = String> {
    prop_oneof![
        output_text(),
        ("[a-z ]{0,8}", "[a-z ]{0,8}").prop_map(|(a, b)| format!("{a} {PLANTED} {b}")),
    ]
}

/// Nested arrays and objects of output-like strings (keys and values), with
/// numbers, booleans and nulls.
fn structured_output() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        text_with_planted_key().prop_map(Value::String),
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((text_with_planted_key(), inner), 0..4)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
    .prop_filter("a container", |v| v.is_array() || v.is_object())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_and_ok_means_valid_json(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let fields = piston_fields();
        if let Ok(out) = sanitize_json(&RULES, &OutputPolicy::default(), Reader::ANYONE, &bytes, &fields) {
            prop_assert!(serde_json::from_slice::<Value>(&out.body).is_ok());
        }
        if let Ok(out) = sanitize_truncated(&RULES, &OutputPolicy::default(), Reader::ANYONE, &bytes, &fields) {
            prop_assert!(serde_json::from_slice::<Value>(&out.body).is_ok());
        }
    }

    #[test]
    fn any_output_gives_valid_json_within_caps(stdout in output_text(), stderr in output_text()) {
        let body = serde_json::to_vec(&json!({"run": {"stdout": stdout, "stderr": stderr}})).unwrap();
        let out = sanitize_json(&RULES, &small_caps(), Reader::ANYONE, &body, &piston_fields()).unwrap();
        let doc: Value = serde_json::from_slice(&out.body).unwrap();
        let marker_room = "…[truncated 99999 bytes]".len();
        if !out.withheld {
            prop_assert!(doc["run"]["stdout"].as_str().unwrap().len() <= 64 + marker_room);
            prop_assert!(doc["run"]["stderr"].as_str().unwrap().len() <= 16 + marker_room);
        }
    }

    /// Every base64 field comes out canonical (padded, no blanks): a strict decoder
    /// reads it and re-encoding it gives the same text. Output that needed no change
    /// keeps its bytes.
    #[test]
    fn base64_fields_are_always_canonical_base64(raw in prop_oneof![
        output_text().prop_map(|t| STANDARD.encode(t)),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| STANDARD.encode(b)),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| STANDARD.encode(b).trim_end_matches('=').to_string()),
        (prop::collection::vec(any::<u8>(), 0..64), 0usize..100).prop_map(|(b, at)| {
            let mut text = STANDARD.encode(b);
            text.insert_str(at.min(text.len()), "\r\n");
            text
        }),
        "[A-Za-z0-9+/=%\n ]{0,40}",
    ]) {
        let body = serde_json::to_vec(&json!({"stdout": raw, "stderr": raw})).unwrap();
        let out = sanitize_json(&RULES, &small_caps(), Reader::ANYONE, &body, &judge0_fields("", true)).unwrap();
        let doc: Value = serde_json::from_slice(&out.body).unwrap();
        for field in ["stdout", "stderr"] {
            let value = doc[field].as_str().unwrap();
            let decoded = STANDARD.decode(value);
            prop_assert!(decoded.is_ok(), "{field} is not strict base64: {value:?}");
            prop_assert_eq!(STANDARD.encode(decoded.as_ref().unwrap()), value);
            if out.redactions.is_empty() && !out.truncated && !out.withheld {
                prop_assert_eq!(
                    decoded.unwrap(),
                    execgate_core::encoding::decode_base64(&raw).unwrap(),
                    "unchanged output keeps its bytes"
                );
            }
        }
    }

    /// Arrays and objects at an output pointer: valid JSON out, the cap holds for
    /// the whole value, and a planted key survives neither in a string nor in a
    /// member name.
    #[test]
    fn structured_output_stays_within_caps_and_hides_planted_keys(stdout in structured_output()) {
        let body = serde_json::to_vec(&json!({"run": {"stdout": stdout}})).unwrap();
        let out = sanitize_json(&RULES, &small_caps(), Reader::ANYONE, &body, &piston_fields()).unwrap();
        let doc: Value = serde_json::from_slice(&out.body).unwrap();
        prop_assert!(!String::from_utf8_lossy(&out.body).contains(PLANTED));
        let marker_room = "…[truncated 99999 bytes]".len();
        let sent = match &doc["run"]["stdout"] {
            Value::String(s) => s.len(),
            other => other.to_string().len(),
        };
        prop_assert!(out.withheld || sent <= 64 + marker_room, "{} bytes", sent);
    }

    #[test]
    fn every_prefix_of_a_body_closes_into_valid_json(stdout in output_text(), cut in any::<prop::sample::Index>()) {
        let body = piston_body(&stdout);
        let at = cut.index(body.len()).max(1);
        let mut buf = ResponseBuffer::new(at);
        buf.push(&body);
        let out = buf.sanitize(&RULES, &OutputPolicy::default(), Reader::ANYONE, &piston_fields()).unwrap();
        prop_assert!(serde_json::from_slice::<Value>(&out.body).is_ok());
    }

    #[test]
    fn planted_keys_never_survive(before in "[a-z ]{0,20}", after in "[a-z ]{0,20}", body in "[A-Z2-7]{16}") {
        let key = format!("AKIA{body}");
        let text = format!("{before} {key} {after}");
        let out = sanitize_text(&RULES, &OutputPolicy::default(), Reader::ANYONE, FieldKind::Stdout, &text);
        prop_assert!(!out.text.contains(&key));
    }

    #[test]
    fn unreported_changes_never_happen(text in any::<String>(), kind in prop_oneof![
        Just(FieldKind::Stdout), Just(FieldKind::Stderr), Just(FieldKind::Other)
    ]) {
        let out = sanitize_text(&RULES, &small_caps(), Reader::ANYONE, kind, &text);
        if !out.truncated && !out.withheld && out.redactions.is_empty() {
            prop_assert_eq!(out.text, text);
        }
    }
}

/// Hostile shapes that would make a quadratic scanner hang: every scanner must
/// stay linear (this test would not finish if one were not).
#[test]
fn pathological_outputs_stay_linear() {
    let n = 200_000;
    let shapes = [
        "API_KEY=1 ".repeat(n / 10),
        ":".repeat(n),
        "/a".repeat(n / 2),
        "1".repeat(n) + ".2.3.4",
        "a.".repeat(n / 2) + "lan",
        "x.lan,".repeat(n / 6),
        " ".repeat(n) + "=",
        "key=".repeat(n / 4),
        "root:x:0:0:".repeat(n / 11),
        "\\\\".repeat(n / 2),
        "C:\\".repeat(n / 3),
        "\0A=".repeat(n / 3),
        "-----BEGIN PRIVATE KEY-----".repeat(n / 27),
    ];
    for text in shapes {
        let out = sanitize_text(
            &RULES,
            &OutputPolicy::default(),
            Reader::ANYONE,
            FieldKind::Stdout,
            &text,
        );
        assert!(out.text.len() <= 100 * 1024 + 64 || out.withheld);
    }
}
