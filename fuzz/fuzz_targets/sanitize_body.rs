//! The response sanitizer on any executor body, whole and cut at the buffer
//! cap: never panics, always answers valid JSON, and every base64 field it
//! answers is canonical base64.
#![no_main]

use base64::Engine;
use execgate_core::units::ByteSize;
use execgate_sanitize::{
    FieldKind, FieldSpec, OutputPolicy, OutputRules, Reader, sanitize_json, sanitize_truncated,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::sync::LazyLock;

static RULES: LazyLock<OutputRules> =
    LazyLock::new(|| OutputRules::shipped().expect("the shipped output rules"));

fn fields() -> Vec<FieldSpec> {
    vec![
        FieldSpec::new("/run/stdout", FieldKind::Stdout, false),
        FieldSpec::new("/run/stderr", FieldKind::Stderr, false),
        FieldSpec::new("/run/output", FieldKind::Other, false),
        FieldSpec::new("/compile/output", FieldKind::Other, false),
        FieldSpec::new("/stdout", FieldKind::Stdout, true),
        FieldSpec::new("/stderr", FieldKind::Stderr, true),
        FieldSpec::new("/submissions/*/stdout", FieldKind::Stdout, true),
        FieldSpec::new("/result", FieldKind::Other, false),
    ]
}

fn check(body: &[u8]) {
    let doc: Value = serde_json::from_slice(body).expect("the sanitizer answered invalid JSON");
    for pointer in ["/stdout", "/stderr"] {
        if let Some(Value::String(text)) = doc.pointer(pointer) {
            let bytes = base64::engine::general_purpose::STANDARD.decode(text);
            if let Ok(bytes) = bytes {
                let again = base64::engine::general_purpose::STANDARD.encode(bytes);
                assert_eq!(&again, text, "non-canonical base64 at {pointer}");
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let policy = OutputPolicy {
        stdout_max_bytes: ByteSize(256),
        stderr_max_bytes: ByteSize(64),
        ..OutputPolicy::default()
    };
    let fields = fields();
    if let Ok(out) = sanitize_json(&RULES, &policy, Reader::ANYONE, data, &fields) {
        check(&out.body);
    }
    if let Ok(out) = sanitize_truncated(&RULES, &policy, Reader::tenant("acme"), data, &fields) {
        check(&out.body);
    }
});
