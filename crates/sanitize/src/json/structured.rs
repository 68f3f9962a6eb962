//! Structured output: an array or object where an output field is expected (a
//! generic executor configured by JSON pointers may put `"stdout": ["…"]` or
//! `"stderr": {"x": "…"}` there). Passing it through unchecked would let any
//! output past every rule, so it is sanitized as output, as safely as a string:
//!
//! - every string inside it, at any depth, and every member name goes through the
//!   text pipeline as its own text (leak rules see the lines the program printed,
//!   not JSON escapes; secrets, host paths and the rest are redacted); findings
//!   name the inner pointer (`/run/stderr/x`). Strings in a base64 field are
//!   decoded and re-encoded as the field's own string would be;
//! - the leak rules also scan the value's compact JSON text, so the rules written
//!   for JSON documents (cloud metadata credentials, instance identity, service
//!   account keys) see the structure; a rule found there and in none of its
//!   strings is reported at the field's pointer;
//! - the cap holds for the whole value: its compact JSON text (after redaction) is
//!   measured against the field's cap; over it, the field becomes a string, that
//!   JSON text cut to the cap with the truncation marker (base64 in a base64
//!   field). Under it the value keeps its shape;
//! - at the leak threshold the whole value is replaced by the explanation, like a
//!   string field;
//! - member names that redaction makes equal keep their values apart with a
//!   suffix (`"[REDACTED:aws-access-key] (2)"`): nothing is silently dropped.
//!
//! Numbers, booleans and null carry no text and are kept.

use super::pointer::escape;
use super::{FieldSpec, Job, encode};
use crate::text::{process, redact_text, scan_leaks};
use crate::truncate::truncate;
use serde_json::{Map, Value};
use std::collections::HashMap;

impl Job<'_> {
    /// Sanitizes the array or object `value` found at the output pointer `path`.
    pub(super) fn structured(&mut self, spec: &FieldSpec, path: &str, value: &mut Value) {
        let first_finding = self.findings.len();
        let as_sent = value.to_string();
        self.strings(spec, &mut path.to_string(), value);
        let found_inside = self.findings.len();
        for finding in scan_leaks(self.rules, self.reader, path, &as_sent) {
            let known = self.findings[first_finding..found_inside]
                .iter()
                .any(|f| f.rule == finding.rule);
            if !known {
                self.findings.push(finding);
            }
        }
        // Rules that need a name beside its value (`aws_secret_access_key = …`,
        // `api_token: …`) never see both halves in separate strings; the JSON
        // text shows them together. What they find there cannot be split back
        // into members, so the value becomes that redacted text.
        let text = value.to_string();
        let (text, flattened) = match redact_text(self.rules, self.policy, &text, &mut self.tally) {
            Some(redacted) => (redacted, true),
            None => (text, false),
        };
        let cap = self.policy.cap_for(spec.kind);
        if let Some(cut) = truncate(&text, cap) {
            self.truncated = true;
            *value = Value::String(encode(spec, cut));
        } else if flattened {
            *value = Value::String(encode(spec, text));
        }
    }

    /// Sanitizes every string and member name in `value`, which sits at `path`;
    /// the whole value is capped afterwards, so no string is cut on its own.
    fn strings(&mut self, spec: &FieldSpec, path: &mut String, value: &mut Value) {
        let len = path.len();
        match value {
            Value::String(s) => {
                if let Some(new) = self.field(spec, path, s, usize::MAX) {
                    *s = new;
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    path.push('/');
                    path.push_str(&i.to_string());
                    self.strings(spec, path, item);
                    path.truncate(len);
                }
            }
            Value::Object(members) => {
                let mut next_suffix = HashMap::new();
                for (name, mut item) in std::mem::take(members) {
                    path.push('/');
                    path.push_str(&escape(&name));
                    self.strings(spec, path, &mut item);
                    let name = self.member_name(path, name);
                    if let (false, Value::String(value)) = (spec.base64, &mut item) {
                        self.redact_named(&name, value);
                    }
                    insert_apart(members, &mut next_suffix, name, item);
                    path.truncate(len);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// A value whose member name says it is a secret (`"api_token": " Zm9v…"`)
    /// is redacted as the rules read `name=value`: neither string alone shows
    /// both halves, and JSON text hides a value's leading blanks behind escapes.
    /// A replacement that reaches into the name (`"key:prod": "…"`) cannot be
    /// split back, so the value becomes the whole redacted text: every
    /// replacement counted is one applied.
    fn redact_named(&mut self, name: &str, value: &mut String) {
        let text = format!("{name}={value}");
        let Some(redacted) = redact_text(self.rules, self.policy, &text, &mut self.tally) else {
            return;
        };
        *value = match redacted.strip_prefix(&format!("{name}=")) {
            Some(rest) => rest.to_string(),
            None => redacted,
        };
    }

    /// A member name through the text pipeline (plain text, never base64).
    fn member_name(&mut self, path: &str, name: String) -> String {
        let outcome = process(
            self.rules,
            self.policy,
            self.reader,
            usize::MAX,
            path,
            &name,
            &mut self.tally,
        );
        self.findings.extend(outcome.findings);
        outcome.text.unwrap_or(name)
    }
}

/// Inserts `item` under `name`, or under `name (2)`, `name (3)`… if that is
/// taken. `next_suffix` remembers where each name's search stopped, so n members
/// redacted to one name cost n insertions, not n² probes.
fn insert_apart(
    members: &mut Map<String, Value>,
    next_suffix: &mut HashMap<String, usize>,
    name: String,
    item: Value,
) {
    if !members.contains_key(&name) {
        members.insert(name, item);
        return;
    }
    let n = next_suffix.entry(name.clone()).or_insert(2);
    loop {
        let candidate = format!("{name} ({n})");
        *n += 1;
        if !members.contains_key(&candidate) {
            members.insert(candidate, item);
            return;
        }
    }
}
