//! Shared test helpers: the shipped rules, dialect field specs, and a runner that
//! checks an expectation on the whole body and on every chunk split of it
//! (ripgrep's SearcherTester idea: the body filter sees arbitrary fragments).

#![allow(dead_code)]

use execgate_sanitize::{
    FieldKind, FieldSpec, OutputPolicy, OutputRules, Reader, ResponseBuffer, SanitizedBody,
    sanitize_json,
};
use std::sync::LazyLock;

/// The rules shipped in `rules/output.toml`.
pub static RULES: LazyLock<OutputRules> = LazyLock::new(|| {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules/output.toml");
    OutputRules::load(&[path.into()]).expect("shipped rules load")
});

/// Piston v2's output fields.
pub fn piston_fields() -> Vec<FieldSpec> {
    let mut fields = Vec::new();
    for stage in ["run", "compile"] {
        fields.push(FieldSpec::new(
            format!("/{stage}/stdout"),
            FieldKind::Stdout,
            false,
        ));
        fields.push(FieldSpec::new(
            format!("/{stage}/stderr"),
            FieldKind::Stderr,
            false,
        ));
        fields.push(FieldSpec::new(
            format!("/{stage}/output"),
            FieldKind::Stdout,
            false,
        ));
        fields.push(FieldSpec::new(
            format!("/{stage}/message"),
            FieldKind::Other,
            false,
        ));
    }
    fields
}

/// Judge0's output fields, base64 or not, at `prefix` (`""` or `/submissions/*`).
pub fn judge0_fields(prefix: &str, base64: bool) -> Vec<FieldSpec> {
    [
        ("stdout", FieldKind::Stdout),
        ("stderr", FieldKind::Stderr),
        ("compile_output", FieldKind::Other),
        ("message", FieldKind::Other),
    ]
    .into_iter()
    .map(|(name, kind)| FieldSpec::new(format!("{prefix}/{name}"), kind, base64))
    .collect()
}

/// A Piston response whose run stdout is `stdout`.
pub fn piston_body(stdout: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "language": "python", "version": "3.12.0",
        "run": {"stdout": stdout, "stderr": "", "output": stdout, "code": 0, "signal": null}
    }))
    .unwrap()
}

/// Sanitizes `body` whole, then split into two chunks at every byte offset (and
/// into three chunks at a stride) through `ResponseBuffer`; every result must be
/// the same. Returns the whole-body result.
pub fn sanitize_every_split(
    policy: &OutputPolicy,
    body: &[u8],
    fields: &[FieldSpec],
) -> SanitizedBody {
    sanitize_every_split_for(policy, Reader::ANYONE, body, fields)
}

/// `sanitize_every_split` for an output returned to `reader`.
pub fn sanitize_every_split_for(
    policy: &OutputPolicy,
    reader: Reader<'_>,
    body: &[u8],
    fields: &[FieldSpec],
) -> SanitizedBody {
    let whole = sanitize_json(&RULES, policy, reader, body, fields).expect("sanitizes");
    let cap = body.len();
    for at in 0..=body.len() {
        let mut buf = ResponseBuffer::new(cap);
        buf.push(&body[..at]);
        buf.push(&body[at..]);
        let split = buf
            .sanitize(&RULES, policy, reader, fields)
            .expect("sanitizes split");
        assert_eq!(split, whole, "split at {at} differs");
    }
    let stride = (body.len() / 16).max(1);
    for a in (0..body.len()).step_by(stride) {
        for b in (a..body.len()).step_by(stride) {
            let mut buf = ResponseBuffer::new(cap);
            for chunk in [&body[..a], &body[a..b], &body[b..]] {
                buf.push(chunk);
            }
            let split = buf
                .sanitize(&RULES, policy, reader, fields)
                .expect("sanitizes split");
            assert_eq!(split, whole, "split at {a},{b} differs");
        }
    }
    whole
}

/// The run stdout of a sanitized Piston body.
pub fn run_stdout(body: &SanitizedBody) -> String {
    let doc: serde_json::Value = serde_json::from_slice(&body.body).expect("valid JSON");
    doc["run"]["stdout"]
        .as_str()
        .expect("stdout is a string")
        .to_string()
}

/// The redaction rule ids of a result.
pub fn redaction_ids(body: &SanitizedBody) -> Vec<&str> {
    body.redactions.iter().map(|r| r.rule.as_str()).collect()
}

/// The leak rule ids of a result (deduplicated, sorted).
pub fn finding_ids(body: &SanitizedBody) -> Vec<&str> {
    let mut ids: Vec<&str> = body.findings.iter().map(|f| f.rule.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}
