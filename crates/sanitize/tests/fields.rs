//! Judge0 (base64 and plain, single and batch), truncation to caps, cut bodies
//! and malformed executor responses.

mod support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use execgate_sanitize::{
    FieldKind, FieldSpec, OutputPolicy, Reader, ResponseBuffer, SanitizeError, sanitize_json,
    sanitize_truncated,
};
use serde_json::{Value, json};
use support::*;

fn b64(s: &str) -> String {
    STANDARD.encode(s)
}

fn unb64(v: &Value) -> String {
    String::from_utf8(STANDARD.decode(v.as_str().unwrap()).unwrap()).unwrap()
}

fn doc(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap()
}

/// A body cut at the buffer cap, sanitized with the default policy.
fn cut(body: &[u8], fields: &[execgate_sanitize::FieldSpec]) -> execgate_sanitize::SanitizedBody {
    sanitize_truncated(
        &RULES,
        &OutputPolicy::default(),
        Reader::ANYONE,
        body,
        fields,
    )
    .unwrap()
}

#[test]
fn judge0_base64_fields_are_decoded_redacted_and_reencoded() {
    let body = serde_json::to_vec(&json!({
        "stdout": b64("key AKIAZ7VRSQ5TQLYXW3KE\n"),
        "stderr": "L2hvbWUvanVkZ2Uvd29y\nay9tYWluLnB5\n",
        "compile_output": null,
        "status": {"id": 3, "description": "Accepted"}
    }))
    .unwrap();
    let result = sanitize_every_split(&OutputPolicy::default(), &body, &judge0_fields("", true));
    let out = doc(&result.body);
    assert_eq!(unb64(&out["stdout"]), "key [REDACTED:aws-access-key]\n");
    assert_eq!(unb64(&out["stderr"]), "[REDACTED:host-path]");
    assert!(out["compile_output"].is_null());
    assert_eq!(out["status"]["id"], 3);
}

#[test]
fn clean_canonical_base64_fields_are_left_exactly_as_sent() {
    let body = serde_json::to_vec(&json!({"stdout": "aGVsbG8K", "stderr": "//79"})).unwrap();
    let result = sanitize_every_split(&OutputPolicy::default(), &body, &judge0_fields("", true));
    assert_eq!(result.body, body);
    assert!(result.redactions.is_empty());
}

/// The executor's decoder-accepted but non-canonical base64 (no padding, line
/// breaks, blanks) is re-encoded even though the output needs no other change:
/// clients with strict decoders must be able to read every base64 field.
#[test]
fn non_canonical_base64_fields_are_reencoded() {
    for (raw, canonical) in [
        ("aGk", "aGk="),
        ("aGVsbG8", "aGVsbG8="),
        ("aGVsbG8K\n", "aGVsbG8K"),
        ("aGVs\r\nbG8K", "aGVsbG8K"),
        (" aGk= ", "aGk="),
        ("aA", "aA=="),
    ] {
        let body = serde_json::to_vec(&json!({"stdout": raw, "stderr": raw, "status": {"id": 3}}))
            .unwrap();
        let result =
            sanitize_every_split(&OutputPolicy::default(), &body, &judge0_fields("", true));
        let out = doc(&result.body);
        assert_eq!(out["stdout"], canonical, "{raw:?}");
        assert_eq!(out["stderr"], canonical, "{raw:?}");
        assert_eq!(out["status"]["id"], 3);
        assert!(
            result.redactions.is_empty(),
            "{raw:?}: re-encoding is no redaction"
        );
    }
}

#[test]
fn non_canonical_binary_base64_keeps_its_bytes() {
    // 0xff 0xfe is not UTF-8: re-encoding the decoded text would turn it into U+FFFD.
    let body = serde_json::to_vec(&json!({"stdout": "//4", "stderr": "//79\n"})).unwrap();
    let result = sanitize_every_split(&OutputPolicy::default(), &body, &judge0_fields("", true));
    let out = doc(&result.body);
    assert_eq!(out["stdout"], "//4=");
    assert_eq!(out["stderr"], "//79");
}

#[test]
fn invalid_base64_is_replaced_by_valid_base64() {
    let body = serde_json::to_vec(&json!({"stdout": "%%% not base64 %%%"})).unwrap();
    let result = sanitize_every_split(&OutputPolicy::default(), &body, &judge0_fields("", true));
    assert!(unb64(&doc(&result.body)["stdout"]).contains("invalid base64"));
    assert_eq!(redaction_ids(&result), vec!["invalid-base64"]);
}

#[test]
fn withheld_base64_fields_stay_base64() {
    let body =
        serde_json::to_vec(&json!({"stdout": b64("root:x:0:0:root:/root:/bin/bash\n")})).unwrap();
    let result = sanitize_every_split(&OutputPolicy::default(), &body, &judge0_fields("", true));
    assert!(result.withheld);
    assert!(unb64(&doc(&result.body)["stdout"]).starts_with("[execgate: output withheld"));
}

#[test]
fn batch_submissions_are_each_sanitized() {
    let body = serde_json::to_vec(&json!({"submissions": [
        {"token": "a", "stdout": "ok\n"},
        {"token": "b", "stdout": "at /etc/app/conf\n", "stderr": "10.0.0.9"},
    ]}))
    .unwrap();
    let result = sanitize_every_split(
        &OutputPolicy::default(),
        &body,
        &judge0_fields("/submissions/*", false),
    );
    let out = doc(&result.body);
    assert_eq!(out["submissions"][0]["stdout"], "ok\n");
    assert_eq!(out["submissions"][1]["stdout"], "at [REDACTED:host-path]\n");
    assert_eq!(out["submissions"][1]["stderr"], "[REDACTED:private-ip]");
}

#[test]
fn fields_are_cut_to_their_caps_on_a_char_boundary() {
    let policy = OutputPolicy {
        stdout_max_bytes: execgate_core::ByteSize(10),
        stderr_max_bytes: execgate_core::ByteSize(4),
        ..Default::default()
    };
    let body = serde_json::to_vec(
        &json!({"run": {"stdout": "0123456789abc", "stderr": "abcé€", "output": "short"}}),
    )
    .unwrap();
    let result = sanitize_every_split(&policy, &body, &piston_fields());
    let out = doc(&result.body);
    assert_eq!(out["run"]["stdout"], "0123456789…[truncated 3 bytes]");
    assert_eq!(
        out["run"]["stderr"], "abc…[truncated 5 bytes]",
        "é is not split"
    );
    assert_eq!(out["run"]["output"], "short");
    assert!(result.truncated);
}

#[test]
fn default_caps_are_100kb_stdout_and_10kb_stderr() {
    let big = "x".repeat(200 * 1024);
    let body = serde_json::to_vec(&json!({"run": {"stdout": big, "stderr": big}})).unwrap();
    let result = sanitize_json(
        &RULES,
        &OutputPolicy::default(),
        Reader::ANYONE,
        &body,
        &piston_fields(),
    )
    .unwrap();
    let out = doc(&result.body);
    assert!(
        out["run"]["stdout"]
            .as_str()
            .unwrap()
            .starts_with(&"x".repeat(100 * 1024))
    );
    assert!(
        out["run"]["stdout"]
            .as_str()
            .unwrap()
            .ends_with("…[truncated 102400 bytes]")
    );
    assert!(
        out["run"]["stderr"]
            .as_str()
            .unwrap()
            .ends_with("…[truncated 194560 bytes]")
    );
}

#[test]
fn a_body_over_the_buffer_cap_becomes_valid_truncated_json() {
    let stdout = format!("{}AKIAZ7VRSQ5TQLYXW3KE and more text", "line\n".repeat(50));
    let body = piston_body(&stdout);
    let fields = piston_fields();
    for cap in 1..body.len() {
        let mut buf = ResponseBuffer::new(cap);
        buf.push(&body);
        assert!(buf.overflowed());
        let result = buf
            .sanitize(&RULES, &OutputPolicy::default(), Reader::ANYONE, &fields)
            .unwrap();
        let text = String::from_utf8(result.body.clone()).unwrap();
        let _: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("cap {cap}: {e}: {text}"));
        assert!(result.truncated);
        assert!(
            !text.contains("AKIAZ7VRSQ5T"),
            "cap {cap}: part of a key leaked: {text}"
        );
    }
}

#[test]
fn the_field_cut_at_the_buffer_cap_is_marked() {
    let body = br#"{"run":{"stdout":"hello world and goodbye"#;
    let result = cut(body, &piston_fields());
    assert_eq!(
        doc(&result.body)["run"]["stdout"],
        "hello world and …[truncated: response over the buffer cap]"
    );
    let b = format!(
        r#"{{"stdout":"{}"#,
        &b64("a secret: AKIAZ7VRSQ5TQLYXW3KE\n")[..22]
    );
    let result = cut(b.as_bytes(), &judge0_fields("", true));
    assert_eq!(
        unb64(&doc(&result.body)["stdout"]),
        "a secret: …[truncated: response over the buffer cap]"
    );
}

#[test]
fn malformed_responses_are_errors_not_panics() {
    let fields = piston_fields();
    let policy = OutputPolicy::default();
    for bad in [
        &b"<html>502</html>"[..],
        b"",
        b"{\"run\":",
        b"\x1f\x8b\x08\x00gzip",
        b"{\"a\":1}}",
    ] {
        let err = sanitize_json(&RULES, &policy, Reader::ANYONE, bad, &fields).unwrap_err();
        assert!(matches!(err, SanitizeError::NotJson(_)), "{bad:?}: {err}");
    }
    let err =
        sanitize_truncated(&RULES, &policy, Reader::ANYONE, b"plain text", &fields).unwrap_err();
    assert!(matches!(err, SanitizeError::NotJson(_)));
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(matches!(
        sanitize_json(&RULES, &policy, Reader::ANYONE, deep.as_bytes(), &fields),
        Err(SanitizeError::NotJson(_))
    ));
}

#[test]
fn a_bad_pointer_is_a_configuration_error() {
    let fields = [FieldSpec::new("run/stdout", FieldKind::Stdout, false)];
    let err = sanitize_json(
        &RULES,
        &OutputPolicy::default(),
        Reader::ANYONE,
        b"{}",
        &fields,
    )
    .unwrap_err();
    assert_eq!(err, SanitizeError::InvalidPointer("run/stdout".into()));
}

/// Regression (found by proptest): a cut field whose last blank was a multi-byte
/// space (U+00A0) was cut inside that character.
#[test]
fn regression_cut_after_multibyte_blank() {
    let body = "{\"run\":{\"stdout\":\"a\u{a0}b".as_bytes();
    let result = cut(body, &piston_fields());
    assert_eq!(
        doc(&result.body)["run"]["stdout"],
        "a\u{a0}…[truncated: response over the buffer cap]"
    );
}

#[test]
fn a_100mb_body_is_capped_not_buffered() {
    let cap = 1 << 20;
    let mut buf = ResponseBuffer::new(cap);
    buf.push(br#"{"run":{"stderr":"","stdout":""#);
    let chunk = vec![b'a'; 64 * 1024];
    for _ in 0..1600 {
        buf.push(&chunk);
    }
    assert_eq!(buf.len(), cap);
    assert!(buf.dropped_bytes() > 100_000_000);
    let result = buf
        .sanitize(
            &RULES,
            &OutputPolicy::default(),
            Reader::ANYONE,
            &piston_fields(),
        )
        .unwrap();
    assert!(result.truncated);
    assert!(
        result.body.len() < 110 * 1024,
        "stdout cut to its 100KB cap"
    );
    let out = doc(&result.body);
    assert!(out["run"]["stdout"].as_str().unwrap().ends_with(" bytes]"));
}
