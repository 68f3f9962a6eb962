//! Body caps: a declared `Content-Length` over the cap is refused before any
//! upstream contact; every body is held back, counted chunk by chunk, until the
//! gateway has decided about it.

use crate::error::Refusal;
use bytes::{Bytes, BytesMut};
use http::HeaderMap;

/// Refuses a request whose declared length is over `cap`, or unreadable.
pub fn check_declared(headers: &HeaderMap, cap: u64) -> Result<(), Refusal> {
    let Some(value) = headers.get(http::header::CONTENT_LENGTH) else {
        return Ok(());
    };
    let declared: u64 = value
        .to_str()
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| Refusal::InvalidRequest {
            field: Some("Content-Length".into()),
            message: "Content-Length is not a number".into(),
        })?;
    if declared > cap {
        Err(Refusal::BodyTooLarge { limit: cap })
    } else {
        Ok(())
    }
}

/// A request body being held back until it is complete.
#[derive(Debug, Default)]
pub struct BodyHold {
    buf: BytesMut,
    cap: usize,
}

impl BodyHold {
    /// Holds at most `cap` bytes.
    pub fn new(cap: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            cap,
        }
    }

    /// Adds a chunk; refuses as soon as the total passes the cap.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), Refusal> {
        if self.buf.len().saturating_add(chunk.len()) > self.cap {
            return Err(Refusal::BodyTooLarge {
                limit: self.cap as u64,
            });
        }
        self.buf.extend_from_slice(chunk);
        Ok(())
    }

    /// The bytes held so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The whole body.
    pub fn take(&mut self) -> Bytes {
        std::mem::take(&mut self.buf).freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_length_over_cap_is_refused() {
        let mut h = HeaderMap::new();
        h.insert("content-length", "11".parse().unwrap());
        assert_eq!(
            check_declared(&h, 10),
            Err(Refusal::BodyTooLarge { limit: 10 })
        );
        assert_eq!(check_declared(&h, 11), Ok(()));
        h.insert("content-length", "x".parse().unwrap());
        assert!(matches!(
            check_declared(&h, 11),
            Err(Refusal::InvalidRequest { .. })
        ));
    }

    #[test]
    fn chunks_are_counted_whatever_their_split() {
        let mut hold = BodyHold::new(10);
        for chunk in [&b"abc"[..], b"defg", b"hij"] {
            hold.push(chunk).unwrap();
        }
        assert!(hold.push(b"k").is_err());
        assert_eq!(&hold.take()[..], b"abcdefghij");
    }
}
