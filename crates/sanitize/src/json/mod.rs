//! Sanitizing an executor's JSON response: the dialect names the output fields
//! by pointer; each is decoded (base64 if so), run through the text pipeline and
//! written back encoded the same way. If the leak score reaches the threshold,
//! every output field is replaced by an explanation. The body that comes out is
//! always valid JSON, and base64 fields are always canonical standard padded
//! base64 (an executor's unpadded or line-broken base64 is re-encoded even when
//! its output needs no other change, so strict client decoders can read it).
//!
//! An output pointer normally names a string. An array or object found there is
//! structured output and is sanitized too (every string and member name inside,
//! the leak rules on its JSON text as well, one cap for the whole value: see
//! `structured`); numbers, booleans and null are kept as they are.

mod combined;
mod field;
mod pointer;
mod repair;
mod structured;

use crate::policy::{FieldKind, OutputPolicy};
use crate::reader::Reader;
use crate::report::{LeakFinding, Redaction, Tally, leak_score, withheld_explanation};
use crate::rules::OutputRules;
use crate::text::process;
use serde_json::Value;
use std::borrow::Cow;

/// Where an output field lives in the response and how it is carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    /// JSON pointer; a `*` segment matches every array element / object member.
    /// A string there is the field's text; an array or object is sanitized as
    /// structured output; numbers, booleans and null are kept.
    pub pointer: String,
    /// What the field carries (decides its cap).
    pub kind: FieldKind,
    /// The field's string is base64 (Judge0 with `base64_encoded=true`).
    pub base64: bool,
}

impl FieldSpec {
    /// A field spec.
    pub fn new(pointer: impl Into<String>, kind: FieldKind, base64: bool) -> Self {
        Self {
            pointer: pointer.into(),
            kind,
            base64,
        }
    }
}

/// A sanitized response body and what was done to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SanitizedBody {
    /// The JSON to send (always valid JSON).
    pub body: Vec<u8>,
    /// Replacements made, by rule (`invalid-base64` counts fields that could not be decoded).
    pub redactions: Vec<Redaction>,
    /// Leak rules that matched, per field.
    pub findings: Vec<LeakFinding>,
    /// Sum of the points of the distinct leak rules that matched.
    pub leak_score: u32,
    /// Output fields were replaced by an explanation: all of them at the leak
    /// threshold, or a stdout/stderr pair that together held a secret.
    pub withheld: bool,
    /// A field was cut to its cap, or the body was cut at the buffer cap.
    pub truncated: bool,
}

/// Why a response body could not be sanitized (the gateway answers 502).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SanitizeError {
    /// The body is not JSON (or a cut body has no JSON container to keep).
    #[error("the executor's response is not JSON: {0}")]
    NotJson(String),
    /// A field spec's pointer does not start with `/` (a configuration error).
    #[error("invalid JSON pointer {0:?}: it must start with '/'")]
    InvalidPointer(String),
}

pub use combined::SPLIT_SECRET;

/// Id counted in `redactions` when a base64 field did not decode and was replaced.
pub const INVALID_BASE64: &str = "invalid-base64";

/// The text that replaces a base64 field that did not decode.
const INVALID_BASE64_TEXT: &str = "[execgate: output withheld: the executor sent invalid base64]";

/// Marker appended to the field that was cut at the buffer cap.
const CUT_MARKER: &str = "…[truncated: response over the buffer cap]";

/// Sanitizes the output fields of a complete JSON body returned to `reader`.
pub fn sanitize_json(
    rules: &OutputRules,
    policy: &OutputPolicy,
    reader: Reader<'_>,
    body: &[u8],
    fields: &[FieldSpec],
) -> Result<SanitizedBody, SanitizeError> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| SanitizeError::NotJson(e.to_string()))?;
    sanitize_value(rules, policy, reader, doc, fields, body.len())
}

/// Sanitizes a body already parsed (`len` is its size in bytes), for a caller
/// that read other things from the same document and should not parse it twice.
pub fn sanitize_value(
    rules: &OutputRules,
    policy: &OutputPolicy,
    reader: Reader<'_>,
    doc: Value,
    fields: &[FieldSpec],
    len: usize,
) -> Result<SanitizedBody, SanitizeError> {
    Job::new(rules, policy, reader, None).run(doc, fields, len)
}

/// Sanitizes a body that was cut at the buffer cap: the prefix is closed into valid
/// JSON (complete members kept, the cut string closed and marked), then sanitized
/// like a whole body; the result is marked truncated.
pub fn sanitize_truncated(
    rules: &OutputRules,
    policy: &OutputPolicy,
    reader: Reader<'_>,
    prefix: &[u8],
    fields: &[FieldSpec],
) -> Result<SanitizedBody, SanitizeError> {
    let repaired = repair::repair(prefix)
        .ok_or_else(|| SanitizeError::NotJson("cut before any JSON object or array".into()))?;
    let doc: Value =
        serde_json::from_str(&repaired.json).map_err(|e| SanitizeError::NotJson(e.to_string()))?;
    let mut body = Job::new(rules, policy, reader, repaired.cut_field).run(
        doc,
        fields,
        repaired.json.len(),
    )?;
    body.truncated = true;
    Ok(body)
}

/// The state of one body's sanitization.
struct Job<'a> {
    rules: &'a OutputRules,
    policy: &'a OutputPolicy,
    reader: Reader<'a>,
    cut_field: Option<String>,
    tally: Tally,
    findings: Vec<LeakFinding>,
    truncated: bool,
    /// Stdout and stderr were withheld for a secret they hold together.
    split_withheld: bool,
}

impl<'a> Job<'a> {
    fn new(
        rules: &'a OutputRules,
        policy: &'a OutputPolicy,
        reader: Reader<'a>,
        cut_field: Option<String>,
    ) -> Self {
        Self {
            rules,
            policy,
            reader,
            cut_field,
            tally: Tally::default(),
            findings: Vec::new(),
            truncated: false,
            split_withheld: false,
        }
    }

    /// Sanitizes `doc`; `size` is the length of the body it was parsed from.
    fn run(
        mut self,
        mut doc: Value,
        fields: &[FieldSpec],
        size: usize,
    ) -> Result<SanitizedBody, SanitizeError> {
        let parsed = fields
            .iter()
            .map(|f| {
                pointer::parse(&f.pointer)
                    .ok_or_else(|| SanitizeError::InvalidPointer(f.pointer.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut streams = Vec::new();
        for (spec, segments) in fields.iter().zip(&parsed) {
            pointer::visit(
                &mut doc,
                segments,
                &mut String::new(),
                &mut |path, value| {
                    self.output(spec, path, value);
                    if value.is_string() {
                        streams.extend(combined::Stream::of(spec, path));
                    }
                },
            );
        }
        self.split_secrets(&mut doc, &streams);
        let score = leak_score(&self.findings);
        let withheld = self.policy.withholds(score);
        if withheld {
            let text = withheld_explanation(&self.findings, score, self.policy.leak_threshold);
            for (spec, segments) in fields.iter().zip(&parsed) {
                pointer::visit(&mut doc, segments, &mut String::new(), &mut |_, value| {
                    if is_output(value) {
                        *value = Value::String(encode(spec, text.clone()));
                    }
                });
            }
        }
        // Room for the markers up front: a large body is not copied as it grows.
        let mut body = Vec::with_capacity(size + size / 4);
        serde_json::to_writer(&mut body, &doc)
            .map_err(|e| SanitizeError::NotJson(e.to_string()))?;
        Ok(SanitizedBody {
            body,
            redactions: self.tally.into_redactions(),
            findings: self.findings,
            leak_score: score,
            withheld: withheld || self.split_withheld,
            truncated: self.truncated,
        })
    }

    /// Sanitizes the value at an output pointer: a string as the field's text,
    /// an array or object as structured output; numbers, booleans and null are kept.
    fn output(&mut self, spec: &FieldSpec, path: &str, value: &mut Value) {
        match value {
            Value::String(s) => {
                let cap = self.policy.cap_for(spec.kind);
                if let Some(new) = self.field(spec, path, s, cap) {
                    *s = new;
                }
            }
            Value::Array(_) | Value::Object(_) => self.structured(spec, path, value),
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// Processes one string (a field, or a string inside structured output) cut to
    /// `cap` bytes; `Some(new)` replaces it.
    fn field(&mut self, spec: &FieldSpec, path: &str, raw: &str, cap: usize) -> Option<String> {
        let was_cut = self.cut_field.as_deref() == Some(path);
        let bytes = if spec.base64 {
            match field::decode_base64(raw, was_cut) {
                Some(bytes) => Some(bytes),
                None => {
                    self.tally.add(INVALID_BASE64);
                    return Some(encode(spec, INVALID_BASE64_TEXT.to_string()));
                }
            }
        } else {
            None
        };
        // Invalid UTF-8 in base64 output becomes U+FFFD in the text the rules see.
        let decoded: Cow<str> = match &bytes {
            Some(bytes) => String::from_utf8_lossy(bytes),
            None => Cow::Borrowed(raw),
        };
        let decoded = if was_cut {
            Cow::Owned(drop_partial_token(decoded.into_owned()))
        } else {
            decoded
        };
        let outcome = process(
            self.rules,
            self.policy,
            self.reader,
            cap,
            path,
            &decoded,
            &mut self.tally,
        );
        self.findings.extend(outcome.findings);
        self.truncated |= outcome.truncated;
        if outcome.text.is_none() && !was_cut {
            // Unchanged output is still sent as canonical base64.
            return bytes
                .as_deref()
                .and_then(|bytes| field::canonical_if_not(raw, bytes));
        }
        let mut text = outcome.text.unwrap_or_else(|| decoded.into_owned());
        if was_cut && !outcome.truncated {
            text.push_str(CUT_MARKER);
        }
        Some(encode(spec, text))
    }
}

/// How far back from a cut a partial token is looked for.
const PARTIAL_TOKEN_WINDOW: usize = 512;

/// Drops the tail of a string cut at the buffer cap back to the last blank: a token
/// cut in half no longer matches its rule, so its first half must not be shown.
fn drop_partial_token(mut text: String) -> String {
    let window_start = crate::truncate::floor_char_boundary(
        &text,
        text.len().saturating_sub(PARTIAL_TOKEN_WINDOW),
    );
    let keep = text[window_start..]
        .char_indices()
        .rfind(|(_, c)| c.is_whitespace())
        .map_or(window_start, |(i, c)| window_start + i + c.len_utf8());
    text.truncate(keep);
    text
}

/// Whether a value at an output pointer carries output (and is withheld with it):
/// numbers, booleans and null carry none.
fn is_output(value: &Value) -> bool {
    matches!(value, Value::String(_) | Value::Array(_) | Value::Object(_))
}

/// Writes `text` the way the field carries it (a plain field takes it as it is).
fn encode(spec: &FieldSpec, text: String) -> String {
    if spec.base64 {
        field::encode_base64(&text)
    } else {
        text
    }
}
