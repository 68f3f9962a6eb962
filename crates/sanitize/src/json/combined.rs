//! Stdout and stderr read together: a program that prints half a secret on each
//! stream shows it whole wherever the streams meet (a terminal, an executor's
//! combined `output`), yet each field alone holds nothing a rule can match.
//! After every field is sanitized on its own, each stdout/stderr pair under the
//! same object is joined both ways round and checked again; when something a
//! redactor replaces spans the seam, both fields are withheld.
//! Leak rules that match only across the join count towards the leak score.
//!
//! Only the text near the join is read: a secret is short, and the parts were
//! sanitized already, so everything a rule finds there spans the join.

use super::{FieldSpec, Job, encode, field};
use crate::policy::FieldKind;
use crate::redact::spans_seam;
use crate::text::scan_leaks;
use crate::truncate::floor_char_boundary;
use serde_json::Value;

/// Counted in `redactions` once per pair of fields withheld together.
pub const SPLIT_SECRET: &str = "split-secret";

/// What a withheld stdout or stderr field says instead.
const SPLIT_SECRET_TEXT: &str =
    "[execgate: output withheld: stdout and stderr together hold a secret]";

/// Bytes read on each side of the join: room for the longest token a rule
/// matches and the start of a private key block.
const JOIN_WINDOW: usize = 4096;

/// A sanitized stream field found in the body.
pub(super) struct Stream {
    /// Its concrete pointer.
    pub path: String,
    /// The object holding it (the pointer without its last segment).
    pub parent: String,
    /// Stdout or stderr.
    pub kind: FieldKind,
    /// How it is carried.
    pub spec: FieldSpec,
}

impl Stream {
    /// A stream field at `path` for `spec`, if the spec names stdout or stderr.
    pub fn of(spec: &FieldSpec, path: &str) -> Option<Self> {
        if !matches!(spec.kind, FieldKind::Stdout | FieldKind::Stderr) {
            return None;
        }
        let parent = path.rsplit_once('/').map_or("", |(parent, _)| parent);
        Some(Self {
            path: path.to_string(),
            parent: parent.to_string(),
            kind: spec.kind,
            spec: spec.clone(),
        })
    }
}

impl Job<'_> {
    /// Withholds every stdout/stderr pair whose join holds a secret.
    pub(super) fn split_secrets(&mut self, doc: &mut Value, streams: &[Stream]) {
        for out in streams.iter().filter(|s| s.kind == FieldKind::Stdout) {
            for err in streams
                .iter()
                .filter(|s| s.kind == FieldKind::Stderr && s.parent == out.parent)
            {
                let (Some(a), Some(b)) = (text_at(doc, out), text_at(doc, err)) else {
                    continue;
                };
                if a.is_empty() || b.is_empty() {
                    continue;
                }
                let joined = [join(&a, &b), join(&b, &a)];
                let mut secret = false;
                for (text, seam) in &joined {
                    secret |= spans_seam(self.rules, self.policy, text, *seam);
                    for finding in scan_leaks(self.rules, self.reader, &out.parent, text) {
                        if !self.findings.iter().any(|f| f.rule == finding.rule) {
                            self.findings.push(finding);
                        }
                    }
                }
                if secret {
                    self.tally.add(SPLIT_SECRET);
                    self.split_withheld = true;
                    for stream in [out, err] {
                        if let Some(slot) = doc.pointer_mut(&stream.path) {
                            *slot = Value::String(encode(&stream.spec, SPLIT_SECRET_TEXT.into()));
                        }
                    }
                }
            }
        }
    }
}

/// The text of a sanitized stream field, decoded; `None` when it is not a string.
fn text_at(doc: &Value, stream: &Stream) -> Option<String> {
    let raw = doc.pointer(&stream.path)?.as_str()?;
    if !stream.spec.base64 {
        return Some(raw.to_string());
    }
    let bytes = field::decode_base64(raw, false)?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// The end of `first` and the start of `second` as they would meet, and the
/// offset where they meet: each cut to the window at a blank, so no token is
/// cut in half at the window's far edge.
fn join(first: &str, second: &str) -> (String, usize) {
    let from = floor_char_boundary(first, first.len().saturating_sub(JOIN_WINDOW));
    let mut tail = &first[from..];
    if from > 0 {
        tail = tail
            .char_indices()
            .find(|(_, c)| c.is_whitespace())
            .map_or("", |(i, _)| &tail[i..]);
    }
    let to = floor_char_boundary(second, JOIN_WINDOW);
    let mut head = &second[..to];
    if to < second.len() {
        head = head
            .char_indices()
            .rfind(|(_, c)| c.is_whitespace())
            .map_or("", |(i, _)| &head[..i]);
    }
    (format!("{tail}{head}"), tail.len())
}

#[cfg(test)]
mod tests {
    use super::join;

    #[test]
    fn the_join_keeps_whole_words_near_the_seam() {
        assert_eq!(join("abc", "def"), ("abcdef".into(), 3));
        let long = format!("{} tail", "x".repeat(5000));
        assert_eq!(join(&long, "head"), (" tailhead".into(), 5));
        let long = format!("head {}", "y".repeat(5000));
        assert_eq!(join("tail", &long), ("tailhead".into(), 4));
    }
}
