//! Structured output: arrays and objects found at an output pointer (a generic
//! executor's JSON pointers) are sanitized like string output — redaction, leak
//! rules and caps — on the whole body and on every chunk split.

mod support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use execgate_core::ByteSize;
use execgate_sanitize::{OutputPolicy, Reader, sanitize_truncated};
use serde_json::{Value, json};
use support::*;

const KEY: &str = "AKIAZ7VRSQ5TQLYXW3KE";
const PASSWD_LINE: &str = "root:x:0:0:root:/root:/bin/bash";

fn sanitize(policy: &OutputPolicy, doc: &Value) -> execgate_sanitize::SanitizedBody {
    let body = serde_json::to_vec(doc).unwrap();
    sanitize_every_split(policy, &body, &piston_fields())
}

fn out(result: &execgate_sanitize::SanitizedBody) -> Value {
    serde_json::from_slice(&result.body).unwrap()
}

fn finding_fields(result: &execgate_sanitize::SanitizedBody) -> Vec<(&str, &str)> {
    result
        .findings
        .iter()
        .map(|f| (f.rule.as_str(), f.field.as_str()))
        .collect()
}

#[test]
fn strings_inside_structured_output_are_redacted_and_its_shape_kept() {
    let result = sanitize(
        &OutputPolicy::default(),
        &json!({"run": {
            "stderr": {"x": KEY},
            "stdout": [format!("key {KEY}"), 3, null, true, {"deep": ["at /etc/app/conf"]}],
            "code": 0,
        }}),
    );
    assert_eq!(
        out(&result)["run"],
        json!({
            "stderr": {"x": "[REDACTED:aws-access-key]"},
            "stdout": ["key [REDACTED:aws-access-key]", 3, null, true,
                       {"deep": ["at [REDACTED:host-path]"]}],
            "code": 0,
        })
    );
    assert_eq!(redaction_ids(&result), vec!["aws-access-key", "host-path"]);
    assert!(!result.withheld && !result.truncated);
}

/// As JSON text, `"x\nAKIA…"` reads `x\nAKIA…`: the `n` of the escape would hide
/// the key's word boundary and the variable's name. Each string is sanitized as
/// the text it holds.
#[test]
fn escapes_in_structured_output_hide_nothing() {
    let policy = OutputPolicy::default();
    let result = sanitize(
        &policy,
        &json!({"run": {"stdout": [format!("a\n{KEY}"), "x\nAWS_REGION=eu-west-1\n"]}}),
    );
    assert_eq!(
        out(&result)["run"]["stdout"],
        json!([
            "a\n[REDACTED:aws-access-key]",
            "x\nAWS_REGION=[REDACTED:env-value]\n"
        ])
    );
}

#[test]
fn member_names_are_sanitized_and_redacted_names_kept_apart() {
    let other = "AKIAQ4MXN2B7C5D3E6F7";
    let result = sanitize(
        &OutputPolicy::default(),
        &json!({"run": {"stdout": {KEY: 1, other: 2, "ok": 3}}}),
    );
    let stdout = &out(&result)["run"]["stdout"];
    let members = stdout.as_object().unwrap();
    assert_eq!(members.len(), 3, "no value is lost: {stdout}");
    let mut values: Vec<i64> = members.values().map(|v| v.as_i64().unwrap()).collect();
    values.sort_unstable();
    assert_eq!(values, vec![1, 2, 3]);
    assert_eq!(stdout["ok"], 3);
    assert!(
        members.contains_key("[REDACTED:aws-access-key]"),
        "{stdout}"
    );
    assert!(
        members.contains_key("[REDACTED:aws-access-key] (2)"),
        "{stdout}"
    );
    assert!(!stdout.to_string().contains("AKIA"));
}

/// A secret named only by its member (`"aws_secret_access_key": "…"`) is in
/// neither string alone; the value's JSON text shows both halves, and what the
/// rules find there turns the field into that redacted text.
#[test]
fn secrets_named_by_their_member_are_redacted() {
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq8Lw3Tv5B";
    let token = "Zm9vYmFyYmF6cXV4MTIzNDU2";
    let result = sanitize(
        &OutputPolicy::default(),
        &json!({"run": {"stdout": {
            "aws_secret_access_key": secret,
            "db": {"api_token": token},
            "n": 1,
        }}}),
    );
    let stdout = out(&result)["run"]["stdout"].to_string();
    assert!(!stdout.contains(secret), "{stdout}");
    assert!(!stdout.contains(token), "{stdout}");
    // A secret the rules read across the name: redacted where it stands, counted once.
    let across = sanitize(
        &OutputPolicy::default(),
        &json!({"run": {"stdout": {"client:secret": "q8Zr2LxW9vKp4TfN7mYc", "n": 1}}}),
    );
    let stdout = &out(&across)["run"]["stdout"];
    assert!(
        !stdout.to_string().contains("q8Zr2LxW9vKp4TfN7mYc"),
        "{stdout}"
    );
    assert_eq!(stdout["n"], 1, "the shape is kept: {stdout}");
    assert_eq!(redaction_ids(&across), vec!["generic-secret"]);
    assert_eq!(across.redactions[0].count, 1, "one secret, one count");
    // Blanks before a value hide behind escapes in JSON text; the member is read
    // as `name=value`, and the value keeps its place in the shape.
    for blank in [" ", "\t"] {
        let result = sanitize(
            &OutputPolicy::default(),
            &json!({"run": {"stdout": {
                "api_token": format!("{blank}{token}"),
                "aws_secret_access_key": format!("{blank}{secret}"),
                "n": 1,
            }}}),
        );
        let stdout = &out(&result)["run"]["stdout"];
        let text = stdout.to_string();
        assert!(!text.contains(token) && !text.contains(secret), "{text}");
        assert_eq!(stdout["n"], 1, "the value keeps its shape: {text}");
    }
    let ids = redaction_ids(&result);
    assert!(
        ids.contains(&"aws-secret-key") && ids.contains(&"generic-secret"),
        "{ids:?}"
    );
    // Nothing to find in the JSON text: the value keeps its shape.
    let plain = sanitize(
        &OutputPolicy::default(),
        &json!({"run": {"stdout": {"aws_region": "eu-west-1", "n": 1}}}),
    );
    assert_eq!(
        out(&plain)["run"]["stdout"],
        json!({"aws_region": "eu-west-1", "n": 1})
    );
}

/// Thousands of member names that redaction makes equal are all kept, each
/// under its own suffix, beside members that already look like suffixed names.
#[test]
fn many_member_names_redacted_alike_are_all_kept_apart() {
    let mut members = serde_json::Map::new();
    members.insert("[REDACTED:aws-access-key] (3)".into(), json!(-1));
    for i in 0..3000u32 {
        const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let digits: String = (0..8)
            .map(|d| char::from(BASE32[((u64::from(i) >> (5 * d)) & 31) as usize]))
            .collect();
        members.insert(format!("AKIAQ4MXN2B7{digits}"), json!(i));
    }
    let body = serde_json::to_vec(&json!({"run": {"stdout": Value::Object(members)}})).unwrap();
    let policy = OutputPolicy {
        stdout_max_bytes: ByteSize(10 << 20),
        ..Default::default()
    };
    let result =
        execgate_sanitize::sanitize_json(&RULES, &policy, Reader::ANYONE, &body, &piston_fields())
            .unwrap();
    let stdout = out(&result)["run"]["stdout"].clone();
    let kept = stdout.as_object().unwrap();
    let distinct_keys = kept.len();
    assert!(
        !stdout.to_string().contains("AKIA"),
        "every key is redacted"
    );
    let mut values: Vec<i64> = kept.values().map(|v| v.as_i64().unwrap()).collect();
    values.sort_unstable();
    values.dedup();
    assert_eq!(values.len(), distinct_keys, "no value is doubled");
    assert_eq!(distinct_keys, 3001, "no value is lost");
    assert_eq!(values[0], -1, "the member that looked suffixed is kept too");
}

#[test]
fn a_passwd_line_inside_structured_output_withholds() {
    for stderr in [
        json!({"x": PASSWD_LINE}),
        json!(["ok", format!("{PASSWD_LINE}\n")]),
        json!({PASSWD_LINE: 1}),
    ] {
        let result = sanitize(
            &OutputPolicy::default(),
            &json!({"run": {"stdout": "fine", "stderr": stderr}}),
        );
        assert!(result.withheld, "{stderr}");
        assert_eq!(finding_ids(&result), vec!["etc-passwd"]);
        let doc = out(&result);
        for field in ["stdout", "stderr"] {
            let text = doc["run"][field].as_str().unwrap();
            assert!(text.starts_with("[execgate: output withheld"), "{text}");
        }
    }
    let result = sanitize(
        &OutputPolicy::default(),
        &json!({"run": {"stderr": {"x": PASSWD_LINE}}}),
    );
    assert_eq!(
        finding_fields(&result),
        vec![("etc-passwd", "/run/stderr/x")]
    );
}

/// Leak rules written for JSON documents see the structure: cloud metadata
/// credentials returned as an object are found at the field itself.
#[test]
fn json_document_leak_rules_see_structured_output() {
    let metadata = json!({
        "Code": "Success",
        "AccessKeyId": "ASIAZ7VRSQ5TQLYXW3KE",
        "SecretAccessKey": "wJalrXUtnFEMIK7MDENGbPxRfiCY",
        "Token": "IQoJb3JpZ2luX2VjEJr",
    });
    let result = sanitize(
        &OutputPolicy::default(),
        &json!({"run": {"stdout": metadata}}),
    );
    assert!(result.withheld);
    assert_eq!(
        finding_fields(&result),
        vec![("cloud-metadata-credentials", "/run/stdout")]
    );
}

#[test]
fn structured_output_is_capped_as_a_whole() {
    let policy = OutputPolicy {
        stdout_max_bytes: ByteSize(64),
        ..Default::default()
    };
    let many = vec!["xxxxxxxx"; 100];
    let result = sanitize(&policy, &json!({"run": {"stdout": many}}));
    let whole = serde_json::to_string(&many).unwrap();
    let expected = format!("{}…[truncated {} bytes]", &whole[..64], whole.len() - 64);
    assert_eq!(out(&result)["run"]["stdout"], expected.as_str());
    assert!(result.truncated);

    let one_long = json!({"run": {"stdout": {"s": "y".repeat(100)}}});
    let result = sanitize(&policy, &one_long);
    let text = out(&result)["run"]["stdout"].as_str().unwrap().to_string();
    assert!(
        text.starts_with(r#"{"s":"yyy"#) && text.ends_with("…[truncated 44 bytes]"),
        "the whole value is cut once, not its string on its own: {text}"
    );

    let small = json!({"run": {"stdout": ["a", {"b": "c"}]}});
    let result = sanitize(&policy, &small);
    assert_eq!(out(&result), small, "under the cap the shape is kept");
    assert!(!result.truncated);
}

#[test]
fn numbers_booleans_and_null_at_output_pointers_are_kept() {
    let doc = json!({"run": {"stdout": 42, "stderr": true, "output": null, "message": 1.5}});
    let result = sanitize(&OutputPolicy::default(), &doc);
    assert_eq!(out(&result), doc);
    assert!(result.redactions.is_empty() && result.findings.is_empty());
}

#[test]
fn strings_in_structured_base64_output_are_decoded_and_reencoded() {
    let body = serde_json::to_vec(&json!({
        "stdout": [STANDARD.encode(format!("key {KEY}")), "aGk"],
        "stderr": {"x": "%% not base64"},
    }))
    .unwrap();
    let result = sanitize_every_split(&OutputPolicy::default(), &body, &judge0_fields("", true));
    let doc = out(&result);
    assert_eq!(
        doc["stdout"],
        json!([STANDARD.encode("key [REDACTED:aws-access-key]"), "aGk="])
    );
    let stderr = STANDARD
        .decode(doc["stderr"]["x"].as_str().unwrap())
        .unwrap();
    assert!(
        String::from_utf8(stderr)
            .unwrap()
            .contains("invalid base64")
    );
}

#[test]
fn structured_output_cut_at_the_buffer_cap_is_marked() {
    let body = format!(r#"{{"run":{{"stdout":["ok", "{KEY} hello world and goodbye"#);
    let result = sanitize_truncated(
        &RULES,
        &OutputPolicy::default(),
        Reader::ANYONE,
        body.as_bytes(),
        &piston_fields(),
    )
    .unwrap();
    assert_eq!(
        out(&result)["run"]["stdout"],
        json!([
            "ok",
            "[REDACTED:aws-access-key] hello world and …[truncated: response over the buffer cap]"
        ])
    );
    assert!(result.truncated);
}
