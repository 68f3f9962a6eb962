//! The gateway's response body filter sees the executor's body in chunks; it
//! keeps them here, up to a cap, and sanitizes once at the end of the stream.
//! Nothing is streamed raw: over the cap the rest is counted and dropped, and the
//! kept prefix is closed into valid JSON by `sanitize_truncated`.

use crate::json::{FieldSpec, SanitizeError, SanitizedBody, sanitize_json, sanitize_truncated};
use crate::policy::OutputPolicy;
use crate::reader::Reader;
use crate::rules::OutputRules;

/// A cap-bounded accumulator of response body chunks.
#[derive(Debug, Clone, Default)]
pub struct ResponseBuffer {
    cap: usize,
    bytes: Vec<u8>,
    dropped: u64,
}

impl ResponseBuffer {
    /// An empty buffer that keeps at most `cap` bytes.
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            bytes: Vec::new(),
            dropped: 0,
        }
    }

    /// Appends a chunk; whatever goes over the cap is counted and dropped.
    pub fn push(&mut self, chunk: &[u8]) {
        let room = self.cap.saturating_sub(self.bytes.len());
        let kept = chunk.len().min(room);
        self.bytes.extend_from_slice(&chunk[..kept]);
        self.dropped = self.dropped.saturating_add((chunk.len() - kept) as u64);
    }

    /// Whether anything was dropped at the cap.
    pub fn overflowed(&self) -> bool {
        self.dropped > 0
    }

    /// Bytes dropped at the cap.
    pub fn dropped_bytes(&self) -> u64 {
        self.dropped
    }

    /// Bytes kept so far.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether nothing was kept yet.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The kept bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Sanitizes what was kept: as a whole body, or as a cut one if it overflowed.
    pub fn sanitize(
        self,
        rules: &OutputRules,
        policy: &OutputPolicy,
        reader: Reader<'_>,
        fields: &[FieldSpec],
    ) -> Result<SanitizedBody, SanitizeError> {
        if self.overflowed() {
            sanitize_truncated(rules, policy, reader, &self.bytes, fields)
        } else {
            sanitize_json(rules, policy, reader, &self.bytes, fields)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_kept_up_to_the_cap_and_the_rest_counted() {
        let mut buf = ResponseBuffer::new(5);
        buf.push(b"abc");
        assert!(!buf.overflowed());
        buf.push(b"defg");
        buf.push(b"h");
        assert!(buf.overflowed());
        assert_eq!(buf.dropped_bytes(), 3);
        assert_eq!(buf.into_bytes(), b"abcde");
    }
}
