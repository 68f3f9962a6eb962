//! Request boundaries on a relayed HTTP/1.1 connection: where each request
//! head starts and ends and how long its body is, so the accept guard can
//! hold every head of a kept-alive connection to the header deadline and size
//! cap, not only the first.
//!
//! The framer only watches the client's bytes; it never changes them. It
//! follows the framing rules the proxy behind applies: `Transfer-Encoding:
//! chunked` wins over `Content-Length`, and a request without either has no
//! body. A head it cannot read stops the watch (the proxy answers 400 and
//! closes the connection).

/// A head that grew past the cap.
#[derive(Debug, PartialEq, Eq)]
pub struct HeadTooLarge;

/// Longest chunk-size or trailer line followed before the watch gives up.
const MAX_LINE: usize = 4096;

/// Where in the request stream the next byte falls.
#[derive(Debug, PartialEq, Eq)]
enum State {
    /// Reading a head (possibly not started).
    Head,
    /// `n` body bytes still to come.
    Body(u64),
    /// A chunk-size line.
    ChunkSize,
    /// `n` bytes of chunk data still to come.
    ChunkData(u64),
    /// The CRLF after chunk data: `n` bytes still to come.
    ChunkEnd(u8),
    /// Trailer lines, up to the empty line that ends the request.
    Trailer,
    /// Framing unknown: no more watching.
    Lost,
}

/// Follows the requests in a client's byte stream.
#[derive(Debug)]
pub struct Framer {
    state: State,
    /// The current head, or the current chunk-size or trailer line.
    line: Vec<u8>,
    max_head: usize,
}

impl Framer {
    /// A framer for a connection whose heads may be at most `max_head` bytes.
    pub fn new(max_head: usize) -> Self {
        Self {
            state: State::Head,
            line: Vec::new(),
            max_head,
        }
    }

    /// Whether a head has started and not yet ended: the header deadline runs.
    pub fn head_in_progress(&self) -> bool {
        self.state == State::Head && !self.line.is_empty()
    }

    /// Follows `bytes`, the next bytes the client sent.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), HeadTooLarge> {
        while !bytes.is_empty() {
            let used = match self.state {
                State::Head => self.head(bytes)?,
                State::Body(left) => self.body(bytes, left),
                State::ChunkSize => self.chunk_size(bytes),
                State::ChunkData(left) => {
                    let used = clamp(bytes.len(), left);
                    self.state = match left - used as u64 {
                        0 => State::ChunkEnd(2),
                        rest => State::ChunkData(rest),
                    };
                    used
                }
                State::ChunkEnd(left) => {
                    let used = clamp(bytes.len(), u64::from(left));
                    self.state = match left - used as u8 {
                        0 => State::ChunkSize,
                        rest => State::ChunkEnd(rest),
                    };
                    used
                }
                State::Trailer => self.trailer(bytes),
                State::Lost => bytes.len(),
            };
            bytes = &bytes[used..];
        }
        Ok(())
    }

    fn head(&mut self, bytes: &[u8]) -> Result<usize, HeadTooLarge> {
        let searched_from = self.line.len().saturating_sub(3);
        let take = match find_in(&self.line[searched_from..], bytes, b"\r\n\r\n") {
            Some(end) => end,
            None => bytes.len(),
        };
        self.line.extend_from_slice(&bytes[..take]);
        if self.line.len() > self.max_head {
            return Err(HeadTooLarge);
        }
        if self.line.ends_with(b"\r\n\r\n") {
            self.state = body_of(&self.line);
            self.line.clear();
        }
        Ok(take)
    }

    fn body(&mut self, bytes: &[u8], left: u64) -> usize {
        let used = clamp(bytes.len(), left);
        self.state = match left - used as u64 {
            0 => State::Head,
            rest => State::Body(rest),
        };
        used
    }

    fn chunk_size(&mut self, bytes: &[u8]) -> usize {
        let Some(used) = self.line_end(bytes) else {
            return bytes.len();
        };
        let line = std::mem::take(&mut self.line);
        let size = std::str::from_utf8(&line)
            .ok()
            .and_then(|l| l.split(';').next())
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok());
        self.state = match size {
            Some(0) => State::Trailer,
            Some(n) => State::ChunkData(n),
            None => State::Lost,
        };
        used
    }

    fn trailer(&mut self, bytes: &[u8]) -> usize {
        let Some(used) = self.line_end(bytes) else {
            return bytes.len();
        };
        let line = std::mem::take(&mut self.line);
        if line.trim_ascii().is_empty() {
            self.state = State::Head;
        }
        used
    }

    /// Collects a line; `Some(bytes used)` once its `\n` has arrived.
    fn line_end(&mut self, bytes: &[u8]) -> Option<usize> {
        let end = bytes.iter().position(|b| *b == b'\n');
        let used = end.map_or(bytes.len(), |e| e + 1);
        self.line.extend_from_slice(&bytes[..used]);
        if self.line.len() > MAX_LINE {
            self.state = State::Lost;
            self.line.clear();
            return Some(used);
        }
        end.map(|_| used)
    }
}

/// How many of `available` bytes a part with `left` bytes to go takes.
fn clamp(available: usize, left: u64) -> usize {
    usize::try_from(left).map_or(available, |l| l.min(available))
}

/// Where `needle` ends in `tail ++ bytes`, counted in `bytes`.
fn find_in(tail: &[u8], bytes: &[u8], needle: &[u8]) -> Option<usize> {
    let mut joined = Vec::with_capacity(tail.len() + bytes.len().min(4096));
    joined.extend_from_slice(tail);
    joined.extend_from_slice(bytes);
    joined
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + needle.len() - tail.len())
}

/// The body framing a complete head announces.
fn body_of(head: &[u8]) -> State {
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut request = httparse::Request::new(&mut headers);
    let parsed = httparse::ParserConfig::default()
        .allow_multiple_spaces_in_request_line_delimiters(true)
        .parse_request(&mut request, head);
    if !matches!(parsed, Ok(httparse::Status::Complete(_))) {
        return State::Lost;
    }
    let value = |name: &str| {
        request
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).to_ascii_lowercase())
            .collect::<Vec<_>>()
    };
    if value("transfer-encoding")
        .iter()
        .any(|v| v.contains("chunked"))
    {
        return State::ChunkSize;
    }
    match value("content-length")
        .first()
        .map(|v| v.trim().parse::<u64>())
    {
        None => State::Head,
        Some(Ok(0)) => State::Head,
        Some(Ok(n)) => State::Body(n),
        Some(Err(_)) => State::Lost,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `stream` in pieces of `split` bytes; returns whether a head is
    /// in progress at the end.
    fn after(stream: &[u8], split: usize) -> Result<bool, HeadTooLarge> {
        let mut framer = Framer::new(1024);
        for piece in stream.chunks(split) {
            framer.feed(piece)?;
        }
        Ok(framer.head_in_progress())
    }

    const TWO_WITH_BODIES: &[u8] = b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello\
POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n";

    #[test]
    fn requests_with_and_without_bodies_end_where_they_end_whatever_the_split() {
        for split in 1..TWO_WITH_BODIES.len() {
            assert_eq!(after(TWO_WITH_BODIES, split), Ok(false), "split {split}");
            let mut next = TWO_WITH_BODIES.to_vec();
            next.extend_from_slice(b"GET /c HT");
            assert_eq!(after(&next, split), Ok(true), "split {split}");
        }
        assert_eq!(after(b"GET / HTTP/1.1\r\n\r\n", 3), Ok(false));
    }

    #[test]
    fn a_body_that_looks_like_a_head_is_not_one() {
        let stream = b"POST /a HTTP/1.1\r\nContent-Length: 21\r\n\r\nGET /x HTTP/1.1\r\n\r\n\r\n";
        assert_eq!(after(stream, 7), Ok(false));
        assert_eq!(
            after(&stream[..stream.len() - 5], 7),
            Ok(false),
            "still in the body"
        );
    }

    #[test]
    fn every_head_is_held_to_the_cap() {
        let mut stream = b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n".to_vec();
        stream.extend_from_slice(format!("X-Pad: {}\r\n", "a".repeat(2000)).as_bytes());
        assert_eq!(after(&stream, 100), Err(HeadTooLarge));
    }

    #[test]
    fn unreadable_framing_stops_the_watch() {
        for stream in [
            &b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\nGET /"[..],
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nGET /",
            b"\x00\x01 nonsense\r\n\r\nGET /",
        ] {
            assert_eq!(
                after(stream, 4),
                Ok(false),
                "{}",
                String::from_utf8_lossy(stream)
            );
        }
    }

    #[test]
    fn chunked_wins_over_content_length() {
        let stream = b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        assert_eq!(after(stream, 5), Ok(false));
    }
}
