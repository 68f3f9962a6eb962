//! Request boundaries on a relayed HTTP/1.1 connection: where each request
//! head starts and ends and how long its body is, so the accept guard can
//! hold every head of a kept-alive connection to the header deadline and size
//! cap, not only the first.
//!
//! The framer hands on what the proxy is to get: body bytes as they come,
//! each head once complete and checked (`request_head`), so no head the
//! gateway refuses ever reaches the proxy in part or whole. It also follows
//! the proxy's answers, to count the complete ones. It reads requests as the
//! proxy behind does (httparse): a head ends at its first
//! empty line, lines may end in CRLF or a bare LF, blank lines before a
//! request line are skipped, `Transfer-Encoding: chunked` wins over
//! `Content-Length`, and a request with neither has no body. Framing it cannot
//! follow is an error: the connection is cut rather than left unwatched.

/// Why the watch over a connection ends.
#[derive(Debug, PartialEq)]
pub enum FrameError {
    /// A head grew past the cap.
    HeadTooLarge,
    /// The body framing cannot be followed (bad length, bad chunk size).
    Unreadable,
    /// A complete head the gateway refuses (`request_head::check`).
    Refused(crate::error::Refusal),
}

/// Longest chunk-size line accepted (the proxy's own limit).
const MAX_CHUNK_LINE: usize = 8 << 10;

/// Largest trailer section accepted (the proxy's own limit).
const MAX_TRAILERS: usize = 64 << 10;

/// Where in the request stream the next byte falls.
#[derive(Debug, PartialEq, Eq)]
enum State {
    /// Reading a head; `started` once any byte of it (or a blank line before it) came.
    Head { started: bool },
    /// `n` body bytes still to come.
    Body(u64),
    /// A chunk-size line.
    ChunkSize,
    /// `n` bytes of chunk data still to come.
    ChunkData(u64),
    /// The line end after chunk data.
    ChunkEnd,
    /// Trailer lines, up to the empty line that ends the request.
    Trailer,
}

/// Follows the requests in a client's byte stream.
#[derive(Debug)]
pub struct Framer {
    state: State,
    /// The current head (blank lines before it left out), or the current
    /// chunk-size, chunk-end or trailer line.
    line: Vec<u8>,
    max_head: usize,
    /// The largest body any request may have: a larger claim is refused by
    /// the proxy (which closes the connection), so no count runs past it.
    max_body: u64,
    /// Trailer bytes of the current request.
    trailers: usize,
    /// Heads completed so far (each gets a deadline of its own).
    heads: u64,
    /// Messages (head and body) completed so far.
    messages: u64,
    /// Whether this framer follows the proxy's answers rather than requests.
    responses: bool,
    /// Whether each request handed on was a `HEAD` (whose answer has no
    /// body whatever its length says), shared by a connection's two framers.
    heads_asked: Option<HeadsAsked>,
}

/// For each request handed on and not yet answered: whether it was a `HEAD`.
pub type HeadsAsked = std::sync::Arc<parking_lot::Mutex<std::collections::VecDeque<bool>>>;

impl Framer {
    /// A framer for a connection whose heads may be at most `max_head` bytes
    /// and bodies at most `max_body` bytes.
    pub fn new(max_head: usize, max_body: u64) -> Self {
        Self {
            state: State::Head { started: false },
            line: Vec::new(),
            max_head,
            max_body,
            trailers: 0,
            heads: 0,
            messages: 0,
            responses: false,
            heads_asked: None,
        }
    }

    /// A framer following the proxy's answers on a connection, to count
    /// the complete ones (1xx interim answers are not counted).
    pub fn responses(max_head: usize) -> Self {
        Self {
            responses: true,
            ..Self::new(max_head, u64::MAX - 1)
        }
    }

    /// Shares `asked` with the framer of the other direction: requests record
    /// their method in it, answers read it.
    pub fn with_heads_asked(mut self, asked: HeadsAsked) -> Self {
        self.heads_asked = Some(asked);
        self
    }

    /// How many messages (head and body) have been completed.
    pub fn messages_completed(&self) -> u64 {
        self.messages
    }

    /// How many heads have been completed.
    pub fn heads_completed(&self) -> u64 {
        self.heads
    }

    /// Whether a head has started and not yet ended: the header deadline runs.
    pub fn head_in_progress(&self) -> bool {
        self.state == State::Head { started: true }
    }

    /// Follows `bytes`, the next bytes the client sent, appending to `out`
    /// what the proxy is to get: body bytes as they come, each head only once
    /// it is complete and checked (rewritten to origin-form if need be). On
    /// an error `out` holds everything before the head or body part at fault.
    pub fn feed(&mut self, mut bytes: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
        while !bytes.is_empty() {
            let passed = match self.state {
                State::Head { .. } => None,
                _ => Some(out.len()),
            };
            let used = match self.state {
                State::Head { .. } => self.head(bytes, out)?,
                State::Body(left) => {
                    let used = clamp(bytes.len(), left);
                    self.state = match left - used as u64 {
                        0 => {
                            self.messages += 1;
                            State::Head { started: false }
                        }
                        rest => State::Body(rest),
                    };
                    used
                }
                State::ChunkSize => self.chunk_size(bytes)?,
                State::ChunkData(left) => {
                    let used = clamp(bytes.len(), left);
                    self.state = match left - used as u64 {
                        0 => State::ChunkEnd,
                        rest => State::ChunkData(rest),
                    };
                    used
                }
                State::ChunkEnd => self.chunk_end(bytes)?,
                State::Trailer => self.trailer(bytes)?,
            };
            if passed.is_some() {
                out.extend_from_slice(&bytes[..used]);
            }
            bytes = &bytes[used..];
        }
        Ok(())
    }

    fn head(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> Result<usize, FrameError> {
        self.state = State::Head { started: true };
        // Blank lines before a request line are skipped (as the proxy does),
        // but they count as the head having started.
        let blank = if self.line.is_empty() {
            bytes
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count()
        } else {
            0
        };
        let bytes = &bytes[blank..];
        // A head that starts and ends within these bytes is read in place:
        // copying the rest of a read for each of many small pipelined heads
        // would cost the square of the read.
        if self.line.is_empty()
            && let Some(end) = head_end(bytes)
        {
            return self.head_ended(&bytes[..end], out).map(|()| blank + end);
        }
        let before = self.line.len();
        let searched_from = before.saturating_sub(2);
        // Past `max_head` the head is refused, so no more than that is kept.
        let take = bytes.len().min((self.max_head + 1).saturating_sub(before));
        self.line.extend_from_slice(&bytes[..take]);
        let Some(end) = head_end(&self.line[searched_from..]).map(|e| searched_from + e) else {
            if self.line.len() > self.max_head {
                return Err(FrameError::HeadTooLarge);
            }
            return Ok(blank + take);
        };
        let head = std::mem::take(&mut self.line);
        self.head_ended(&head[..end], out)?;
        Ok(blank + end.saturating_sub(before))
    }

    /// A complete head: what follows it is decided by its framing headers.
    fn head_ended(&mut self, head: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
        if head.len() > self.max_head {
            return Err(FrameError::HeadTooLarge);
        }
        if self.responses {
            let interim = is_interim(head);
            let asked_head = match &self.heads_asked {
                Some(asked) if !interim => asked.lock().pop_front().unwrap_or(false),
                _ => false,
            };
            self.state = if asked_head {
                State::Head { started: false }
            } else {
                answer_body(head)?
            };
            out.extend_from_slice(head);
        } else {
            let head = crate::request_head::check(head).map_err(FrameError::Refused)?;
            self.state = body_of(&head, self.max_body)?;
            if let Some(asked) = &self.heads_asked {
                asked.lock().push_back(head.starts_with(b"HEAD "));
            }
            out.extend_from_slice(&head);
        }
        let interim = self.responses && is_interim(head);
        if self.state == (State::Head { started: false }) && !interim {
            self.messages += 1;
        }
        self.heads += 1;
        self.trailers = 0;
        Ok(())
    }

    /// A chunk-size line, read by httparse as the proxy reads it (an
    /// extension ends only at CRLF, whatever it holds).
    fn chunk_size(&mut self, bytes: &[u8]) -> Result<usize, FrameError> {
        // Read in place when the line starts here (the usual case): copying the
        // rest of the read for each of many tiny chunks would cost its square.
        let in_place = self.line.is_empty();
        let before = self.line.len();
        let take = bytes.len().min((MAX_CHUNK_LINE + 1).saturating_sub(before));
        if !in_place {
            self.line.extend_from_slice(&bytes[..take]);
        }
        let line = if in_place { bytes } else { &self.line[..] };
        match httparse::parse_chunk_size(line) {
            Ok(httparse::Status::Complete((consumed, size))) => {
                self.line.clear();
                self.state = match size {
                    0 => State::Trailer,
                    // As for lengths: past the largest body the proxy closes.
                    n => State::ChunkData(n.min(self.max_body.saturating_add(1))),
                };
                Ok(consumed.saturating_sub(before))
            }
            Ok(httparse::Status::Partial) if before + take <= MAX_CHUNK_LINE => {
                if in_place {
                    self.line.extend_from_slice(&bytes[..take]);
                }
                Ok(take)
            }
            _ => Err(FrameError::Unreadable),
        }
    }

    /// The CRLF that must follow chunk data.
    fn chunk_end(&mut self, bytes: &[u8]) -> Result<usize, FrameError> {
        let used = bytes.len().min(2 - self.line.len());
        self.line.extend_from_slice(&bytes[..used]);
        if !b"\r\n".starts_with(&self.line) {
            return Err(FrameError::Unreadable);
        }
        if self.line.len() == 2 {
            self.line.clear();
            self.state = State::ChunkSize;
        }
        Ok(used)
    }

    /// Trailer lines; only an exactly empty line (CRLF) ends them, as in the proxy.
    fn trailer(&mut self, bytes: &[u8]) -> Result<usize, FrameError> {
        let Some(used) = self.line_end(bytes) else {
            self.trailers += bytes.len();
            return self.trailers_fit().map(|()| bytes.len());
        };
        self.trailers += used;
        self.trailers_fit()?;
        let line = std::mem::take(&mut self.line);
        if line == b"\r\n" {
            self.messages += 1;
            self.state = State::Head { started: false };
        }
        Ok(used)
    }

    fn trailers_fit(&self) -> Result<(), FrameError> {
        if self.trailers > MAX_TRAILERS {
            Err(FrameError::Unreadable)
        } else {
            Ok(())
        }
    }

    /// Collects a line; `Some(bytes used)` once its `\n` has arrived.
    fn line_end(&mut self, bytes: &[u8]) -> Option<usize> {
        let end = bytes.iter().position(|b| *b == b'\n');
        let used = end.map_or(bytes.len(), |e| e + 1);
        self.line.extend_from_slice(&bytes[..used]);
        end.map(|_| used)
    }
}

/// Where a head ends: just past its first empty line (`\n\n` or `\n\r\n`).
pub fn head_end(buf: &[u8]) -> Option<usize> {
    buf.iter().enumerate().find_map(|(i, b)| {
        if *b != b'\n' {
            return None;
        }
        match buf.get(i + 1..) {
            Some([b'\n', ..]) => Some(i + 2),
            Some([b'\r', b'\n', ..]) => Some(i + 3),
            _ => None,
        }
    })
}

/// How many of `available` bytes a part with `left` bytes to go takes.
fn clamp(available: usize, left: u64) -> usize {
    usize::try_from(left).map_or(available, |l| l.min(available))
}

/// The body framing a complete head announces.
fn body_of(head: &[u8], max_body: u64) -> Result<State, FrameError> {
    let mut chunked = false;
    let mut length: Option<u64> = None;
    // The request line first, then one header per line.
    for line in head.split(|b| *b == b'\n').skip(1) {
        let Some((name, value)) = line.split_once_byte(b':') else {
            continue;
        };
        let name = name.trim_ascii();
        let value = String::from_utf8_lossy(value.trim_ascii()).to_ascii_lowercase();
        if name.eq_ignore_ascii_case(b"transfer-encoding") {
            chunked |= value.split(',').any(|coding| coding.trim() == "chunked");
        } else if name.eq_ignore_ascii_case(b"content-length") {
            let n = value
                .bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| value.parse::<u64>().ok())
                .flatten()
                .ok_or(FrameError::Unreadable)?;
            if length.is_some_and(|l| l != n) {
                return Err(FrameError::Unreadable);
            }
            length = Some(n);
        }
    }
    Ok(match (chunked, length) {
        (true, _) => State::ChunkSize,
        (false, None | Some(0)) => State::Head { started: false },
        // A longer claim is refused by the proxy, which then closes the
        // connection; counting past it would only widen any miscount.
        (false, Some(n)) => State::Body(n.min(max_body.saturating_add(1))),
    })
}

/// The status of an answer's head (`HTTP/1.1 200 OK`).
fn status_of(head: &[u8]) -> Option<u16> {
    let line = head.split(|b| *b == b'\n').next()?;
    let code = line.split(|b| *b == b' ').nth(1)?;
    std::str::from_utf8(code).ok()?.parse().ok()
}

/// A 1xx answer other than 101: another answer follows it.
fn is_interim(head: &[u8]) -> bool {
    status_of(head).is_some_and(|s| (100..200).contains(&s) && s != 101)
}

/// The body an answer's head announces. Answers without a body: 1xx, 204,
/// 304; with neither length nor chunks, the body runs until the connection
/// closes (as does everything after a 101).
fn answer_body(head: &[u8]) -> Result<State, FrameError> {
    let status = status_of(head).ok_or(FrameError::Unreadable)?;
    if (100..200).contains(&status) && status != 101 || status == 204 || status == 304 {
        return Ok(State::Head { started: false });
    }
    let framed = head.split(|b| *b == b'\n').skip(1).any(|line| {
        line.split_once_byte(b':').is_some_and(|(name, _)| {
            let name = name.trim_ascii();
            name.eq_ignore_ascii_case(b"content-length")
                || name.eq_ignore_ascii_case(b"transfer-encoding")
        })
    });
    if status == 101 || !framed {
        return Ok(State::Body(u64::MAX));
    }
    body_of(head, u64::MAX - 1)
}

/// `split_once` for byte slices.
trait SplitOnceByte {
    fn split_once_byte(&self, at: u8) -> Option<(&[u8], &[u8])>;
}

impl SplitOnceByte for [u8] {
    fn split_once_byte(&self, at: u8) -> Option<(&[u8], &[u8])> {
        let i = self.iter().position(|b| *b == at)?;
        Some((&self[..i], &self[i + 1..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `stream` in pieces of `split` bytes; whether a head is in progress at the end.
    fn after(stream: &[u8], split: usize) -> Result<bool, FrameError> {
        let mut framer = Framer::new(1024, 1 << 20);
        let mut out = Vec::new();
        for piece in stream.chunks(split) {
            framer.feed(piece, &mut out)?;
        }
        Ok(framer.head_in_progress())
    }

    const TWO_WITH_BODIES: &[u8] = b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello\
POST /b HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n5;ext=1 \r\nhello\r\n0\r\nX-T: 1\r\n\r\n";

    /// Many tiny chunks, or many pipelined heads, in one read are followed in
    /// place: nothing of the read is copied for each (which cost its square).
    #[test]
    fn a_read_of_many_small_chunks_or_heads_is_not_copied_per_item() {
        let mut stream = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for _ in 0..2000 {
            stream.extend_from_slice(b"1\r\nx\r\n");
        }
        stream.extend_from_slice(b"0\r\n\r\n");
        for _ in 0..500 {
            stream.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        }
        let mut framer = Framer::new(32 << 10, 1 << 20);
        framer.feed(&stream, &mut Vec::new()).unwrap();
        assert_eq!(framer.heads_completed(), 501);
        assert!(!framer.head_in_progress());
        assert!(framer.line.capacity() <= 2, "{}", framer.line.capacity());
    }

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
    fn bare_lf_line_ends_frame_like_crlf() {
        // Heads may use bare LF; chunk lines follow httparse, which wants CRLF.
        let stream = b"POST /a HTTP/1.1\nContent-Length: 2\n\nhiPOST /b HTTP/1.1\nTransfer-Encoding: chunked\n\n2\r\nhi\r\n0\r\n\r\n";
        for split in 1..stream.len() {
            assert_eq!(after(stream, split), Ok(false), "split {split}");
        }
        assert_eq!(head_end(b"GET / HTTP/1.1\n\r\nrest"), Some(17));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), Some(27));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n"), None);
        let lf_chunks = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\nhi\n0\n\n";
        assert_eq!(after(lf_chunks, 3), Err(FrameError::Unreadable));
    }

    #[test]
    fn blank_lines_before_a_request_start_the_deadline_but_not_the_head() {
        assert_eq!(after(b"GET / HTTP/1.1\r\n\r\n\r\n", 1), Ok(true));
        assert_eq!(
            after(b"GET / HTTP/1.1\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n", 5),
            Ok(false)
        );
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
        assert_eq!(after(&stream, 100), Err(FrameError::HeadTooLarge));
    }

    #[test]
    fn framing_that_cannot_be_followed_ends_the_watch_as_an_error() {
        for stream in [
            &b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n"[..],
            b"POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc\r\n",
        ] {
            assert_eq!(
                after(stream, 4),
                Err(FrameError::Unreadable),
                "{}",
                String::from_utf8_lossy(stream)
            );
        }
        let long_line = format!(
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;{}",
            "x".repeat(9000)
        );
        assert_eq!(after(long_line.as_bytes(), 64), Err(FrameError::Unreadable));
    }

    #[test]
    fn only_an_empty_line_ends_the_trailers_and_extensions_end_at_crlf() {
        let blank_trailer = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n \r\nX\r\nContent-Length: 999\r\n\r\nGET / HT";
        assert_eq!(
            after(blank_trailer, 3),
            Ok(true),
            "still in the trailers, or a head"
        );
        let mut lf_extension =
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n20;a\nbbbbbbbbbbbb\r\n".to_vec();
        lf_extension.extend_from_slice(b"xxxxxxxxxxxxxxxxxx\r\nffffffffffff");
        lf_extension.extend_from_slice(b"\r\n0\r\n\r\nGET / HT");
        assert_eq!(after(&lf_extension, 5), Ok(true), "framed like httparse");
        // A huge claimed length is counted only to just past the largest body.
        let mut huge = b"POST / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n".to_vec();
        huge.extend(std::iter::repeat_n(b'x', (1 << 20) + 1));
        huge.extend_from_slice(b"GET / HT");
        assert_eq!(after(&huge, 4096), Ok(true));
    }

    #[test]
    fn chunked_wins_over_content_length_and_repeated_equal_lengths_are_one() {
        let stream = b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        assert_eq!(after(stream, 5), Ok(false));
        let twice = b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nhi";
        assert_eq!(after(twice, 3), Ok(false));
    }

    /// The proxy's answers are counted whole: an interim 100 is not one,
    /// a 204 has no body, chunked and sized bodies end where they end.
    #[test]
    fn answers_are_counted_when_complete_whatever_the_split() {
        let stream = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi\
HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n";
        for split in 1..stream.len() {
            let mut framer = Framer::responses(1024);
            for piece in stream.chunks(split) {
                framer.feed(piece, &mut Vec::new()).unwrap();
            }
            assert_eq!(framer.messages_completed(), 3, "split {split}");
            let mut partial = Framer::responses(1024);
            partial
                .feed(&stream[..stream.len() - 3], &mut Vec::new())
                .unwrap();
            assert_eq!(partial.messages_completed(), 2, "split {split}");
        }
    }

    /// The answer to a `HEAD` has no body, whatever length it announces.
    #[test]
    fn the_answer_to_a_head_request_has_no_body() {
        let asked = HeadsAsked::default();
        let mut requests = Framer::new(1024, 1 << 20).with_heads_asked(asked.clone());
        let mut answers = Framer::responses(1024).with_heads_asked(asked);
        requests
            .feed(
                b"HEAD / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n",
                &mut Vec::new(),
            )
            .unwrap();
        let stream = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
        answers.feed(stream, &mut Vec::new()).unwrap();
        assert_eq!(answers.messages_completed(), 2);
    }
}
