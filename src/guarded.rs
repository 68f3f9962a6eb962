//! A client connection as the proxy reads it, watched by the accept guard in
//! place: every request head must end within the header deadline and the size
//! cap and pass `request_head::check` before the proxy sees any of it; a head
//! that breaks a limit is answered in the gateway's JSON shape once the
//! requests before it have their answers, and the connection is closed.
//!
//! The proxy (Pingora) reads and writes this stream directly: no second
//! socket, no relay task, no byte copied through the loopback stack.

use crate::accept::{self, GuardLimits};
use crate::error::Refusal;
use crate::framing::{FrameError, Framer, HeadsAsked};
use async_trait::async_trait;
use pingora_core::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, Ssl,
    TimingDigest, UniqueID, UniqueIDType,
};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::unix::io::AsRawFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker, ready};
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};

/// Largest answer head the guard follows (the proxy writes small ones).
const ANSWER_HEAD_MAX: usize = 64 << 10;

/// Longest a write to the client may wait: a client that stops reading must
/// not hold its slot (and the proxy's session) forever.
const CLIENT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes read from the client at a time.
const READ_CHUNK: usize = 16 * 1024;

/// After a refusal, what the client still sends is read and dropped for this
/// long (and at most `LINGER_BYTES`), so that closing does not reset the
/// connection before the client has read the answer.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 4 << 20;

/// Where the reading side of a guarded connection is.
enum Reading {
    /// Requests are followed and handed to the proxy.
    Open,
    /// The client ended its stream after `requests` complete requests.
    Ended { requests: u64 },
    /// A head broke a limit: the proxy gets what came before it, then, once
    /// the `requests` before it are answered, the client gets `refusal`.
    Cut { refusal: Refusal, requests: u64 },
    /// Writing the refusal's answer.
    Answering { bytes: Vec<u8>, written: usize },
    /// Closing our sending side after the answer.
    Closing,
    /// Reading and dropping what the client still sends.
    Lingering { left: usize, until: Pin<Box<Sleep>> },
    /// The proxy reads the end of the stream.
    Done,
}

/// A client connection admitted by the accept guard.
pub struct Guarded {
    tcp: TcpStream,
    addr: SocketAddr,
    limits: GuardLimits,
    refusals: prometheus::IntCounterVec,
    requests: Framer,
    /// Follows the proxy's answers, to count the complete ones; `None` once
    /// they cannot be followed (whoever waits for them is let go at once).
    answers: Option<Framer>,
    answers_scratch: Vec<u8>,
    /// Checked request bytes the proxy has not read yet, from `ready_at`.
    ready: Vec<u8>,
    ready_at: usize,
    buf: Box<[u8]>,
    /// Runs while a head is in progress (from the first byte of the
    /// connection for its first head).
    head_deadline: Pin<Box<Sleep>>,
    head_armed: bool,
    write_deadline: Option<Pin<Box<Sleep>>>,
    reading: Reading,
    /// The proxy's read waiting for earlier answers before a refusal.
    read_waker: Option<Waker>,
    digest: Arc<SocketDigest>,
    established: SystemTime,
    /// Raised when the client ends its stream or the connection fails: the
    /// proxy does not see an end held back for earlier answers, but a request
    /// still waiting in the capacity queue must.
    ended: watch::Sender<bool>,
}

/// Resolves once a guarded connection's client has ended its stream (FIN) or
/// the connection failed, even while the guard holds the end back from the
/// proxy.
#[derive(Clone, Debug)]
pub struct ClientEnded(watch::Receiver<bool>);

impl ClientEnded {
    /// The signal of the guarded connection under `stream`; `None` when the
    /// connection is not guarded (the proxy then sees the end itself).
    pub fn of(stream: &pingora_core::protocols::Stream) -> Option<Self> {
        // Through the box: the connection's own type, not the box's.
        (**stream)
            .as_any()
            .downcast_ref::<Guarded>()
            .map(|g| Self(g.ended.subscribe()))
    }

    /// Waits for the end; a connection already dropped counts as ended.
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|ended| *ended).await;
    }
}

impl Guarded {
    /// Watches `tcp`, accepted from `addr`; refusals are counted in `refusals`.
    pub fn new(
        tcp: TcpStream,
        addr: SocketAddr,
        limits: GuardLimits,
        refusals: prometheus::IntCounterVec,
    ) -> Self {
        let asked = HeadsAsked::default();
        let digest = SocketDigest::from_raw_fd(tcp.as_raw_fd());
        let _ = digest
            .peer_addr
            .set(Some(pingora_core::protocols::l4::socket::SocketAddr::Inet(
                addr,
            )));
        Self {
            tcp,
            addr,
            limits,
            refusals,
            requests: Framer::new(limits.max_header_bytes, limits.max_body)
                .with_heads_asked(asked.clone()),
            answers: Some(Framer::responses(ANSWER_HEAD_MAX).with_heads_asked(asked)),
            answers_scratch: Vec::new(),
            ready: Vec::new(),
            ready_at: 0,
            buf: vec![0u8; READ_CHUNK].into_boxed_slice(),
            head_deadline: Box::pin(tokio::time::sleep(limits.header_timeout)),
            head_armed: true,
            write_deadline: None,
            reading: Reading::Open,
            read_waker: None,
            digest: Arc::new(digest),
            established: SystemTime::now(),
            ended: watch::Sender::new(false),
        }
    }

    fn answers_completed(&self) -> u64 {
        self.answers
            .as_ref()
            .map_or(u64::MAX, Framer::messages_completed)
    }

    /// Hands the proxy checked bytes, if any are waiting.
    fn serve_ready(&mut self, out: &mut ReadBuf<'_>) -> bool {
        let waiting = &self.ready[self.ready_at..];
        if waiting.is_empty() {
            return false;
        }
        let n = waiting.len().min(out.remaining());
        out.put_slice(&waiting[..n]);
        self.ready_at += n;
        if self.ready_at == self.ready.len() {
            self.ready.clear();
            self.ready_at = 0;
        }
        true
    }

    fn cut(&mut self, refusal: Refusal) {
        self.head_armed = false;
        self.reading = Reading::Cut {
            refusal,
            requests: self.requests.messages_completed(),
        };
    }

    /// Reads from the client and follows its requests; `Ready(Ok(false))` at
    /// the end of its stream.
    fn poll_follow(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        if self.head_armed && self.head_deadline.as_mut().poll(cx).is_ready() {
            self.cut(Refusal::HeaderTimeout);
            return Poll::Ready(Ok(true));
        }
        let mut read = ReadBuf::new(&mut self.buf);
        if let Err(e) = ready!(Pin::new(&mut self.tcp).poll_read(cx, &mut read)) {
            self.ended.send_replace(true);
            return Poll::Ready(Err(e));
        }
        let n = read.filled().len();
        if n == 0 {
            self.ended.send_replace(true);
            return Poll::Ready(Ok(false));
        }
        let heads = self.requests.heads_completed();
        // On an error `ready` holds what came before the head at fault: still
        // the proxy's to answer.
        if let Err(e) = self.requests.feed(&self.buf[..n], &mut self.ready) {
            let refusal = framing_refusal(e, self.limits);
            self.cut(refusal);
            return Poll::Ready(Ok(true));
        }
        // Each head gets a deadline of its own, from its first byte.
        let new_head = self.requests.heads_completed() != heads;
        match (self.requests.head_in_progress(), self.head_armed) {
            (false, _) => self.head_armed = false,
            (true, true) if !new_head => {}
            (true, _) => {
                let at = Instant::now() + self.limits.header_timeout;
                self.head_deadline.as_mut().reset(at);
                self.head_armed = true;
            }
        }
        Poll::Ready(Ok(true))
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match &mut this.reading {
                Reading::Open => {
                    if this.serve_ready(out) {
                        return Poll::Ready(Ok(()));
                    }
                    if !ready!(this.poll_follow(cx))? {
                        this.reading = Reading::Ended {
                            requests: this.requests.messages_completed(),
                        };
                    }
                }
                Reading::Ended { requests } => {
                    let requests = *requests;
                    // The proxy reads the end only once the requests before
                    // it are answered: it would abort them on seeing it.
                    if this.answers_completed() < requests {
                        this.read_waker = Some(cx.waker().clone());
                        return Poll::Pending;
                    }
                    return Poll::Ready(Ok(()));
                }
                Reading::Cut { requests, .. } => {
                    let requests = *requests;
                    if this.serve_ready(out) {
                        return Poll::Ready(Ok(()));
                    }
                    // Every earlier request has its answer first: the refusal
                    // is the next one.
                    if this.answers_completed() < requests {
                        this.read_waker = Some(cx.waker().clone());
                        return Poll::Pending;
                    }
                    if let Reading::Cut { refusal, .. } =
                        std::mem::replace(&mut this.reading, Reading::Done)
                    {
                        let bytes = accept::refusal_answer(this.addr, &refusal, &this.refusals);
                        this.reading = Reading::Answering { bytes, written: 0 };
                    }
                }
                Reading::Answering { bytes, written } => {
                    while *written < bytes.len() {
                        match ready!(Pin::new(&mut this.tcp).poll_write(cx, &bytes[*written..])) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => *written += n,
                        }
                    }
                    this.reading = Reading::Closing;
                }
                Reading::Closing => {
                    let _ = ready!(Pin::new(&mut this.tcp).poll_shutdown(cx));
                    this.reading = Reading::Lingering {
                        left: LINGER_BYTES,
                        until: Box::pin(tokio::time::sleep(LINGER)),
                    };
                }
                Reading::Lingering { left, until } => {
                    if until.as_mut().poll(cx).is_ready() {
                        this.reading = Reading::Done;
                        continue;
                    }
                    let mut sink = ReadBuf::new(&mut this.buf);
                    match ready!(Pin::new(&mut this.tcp).poll_read(cx, &mut sink)) {
                        Ok(()) if !sink.filled().is_empty() => {
                            *left = left.saturating_sub(sink.filled().len());
                            if *left == 0 {
                                this.reading = Reading::Done;
                            }
                        }
                        _ => this.reading = Reading::Done,
                    }
                }
                Reading::Done => return Poll::Ready(Ok(())),
            }
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.tcp).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                this.write_deadline = None;
                if let Some(answers) = &mut this.answers {
                    let before = answers.messages_completed();
                    this.answers_scratch.clear();
                    if answers.feed(&buf[..n], &mut this.answers_scratch).is_err() {
                        this.answers = None;
                    }
                    if this.answers_completed() != before
                        && let Some(waker) = this.read_waker.take()
                    {
                        waker.wake();
                    }
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let deadline = this
                    .write_deadline
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(CLIENT_WRITE_TIMEOUT)));
                match deadline.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::ErrorKind::TimedOut.into())),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

/// What a connection whose requests cannot be followed is told.
fn framing_refusal(e: FrameError, limits: GuardLimits) -> Refusal {
    match e {
        FrameError::HeadTooLarge => Refusal::HeadersTooLarge {
            limit: limits.max_header_bytes,
        },
        FrameError::Unreadable => Refusal::InvalidRequest {
            field: None,
            message: "the request's body framing cannot be read".into(),
        },
        FrameError::Refused(refusal) => refusal,
    }
}

impl std::fmt::Debug for Guarded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guarded").field("addr", &self.addr).finish()
    }
}

#[async_trait]
impl Shutdown for Guarded {
    async fn shutdown(&mut self) {
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut self.tcp).await;
    }
}

impl UniqueID for Guarded {
    fn id(&self) -> UniqueIDType {
        self.tcp.as_raw_fd()
    }
}

impl Ssl for Guarded {}

impl GetTimingDigest for Guarded {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        vec![Some(TimingDigest {
            established_ts: self.established,
            ..TimingDigest::default()
        })]
    }
}

impl GetProxyDigest for Guarded {
    fn get_proxy_digest(&self) -> Option<Arc<pingora_core::protocols::raw_connect::ProxyDigest>> {
        None
    }
}

impl GetSocketDigest for Guarded {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        Some(self.digest.clone())
    }
}

#[async_trait]
impl Peek for Guarded {}
