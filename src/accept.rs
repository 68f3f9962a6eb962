//! Accept-side hardening Pingora lacks: connection caps (in all and per client
//! address), a deadline for the
//! whole request head (slowloris) and a cap on its size, answered in the
//! gateway's JSON shape.
//!
//! The guard owns the public listener. It reads the first request head of each
//! connection under a deadline, then relays the connection to Pingora on a
//! loopback port, following its requests so that every later head is held to
//! the same deadline and cap (a cut connection is closed), recording the client's real address in a `PeerTable` keyed
//! by the relay's local port, where the identity stage finds it. A slow client
//! only ever holds a cheap task here, never a proxy worker.

use crate::error::Refusal;
use crate::framing::{FrameError, Framer, head_end};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// Real client addresses of relayed connections, by the relay's local port.
/// Each entry carries the number of the relay that made it, so a relay only
/// ever removes its own entry, even when its port was quickly reused.
#[derive(Debug, Default)]
pub struct PeerTable {
    by_port: Mutex<HashMap<u16, (u64, SocketAddr)>>,
    next: std::sync::atomic::AtomicU64,
}

impl PeerTable {
    /// The client behind `relay` (a loopback connection from the guard), if any.
    pub fn original(&self, relay: SocketAddr) -> Option<SocketAddr> {
        if !relay.ip().is_loopback() {
            return None;
        }
        self.by_port
            .lock()
            .get(&relay.port())
            .map(|(_, addr)| *addr)
    }

    /// Records `client` behind `port`; the number returned removes it.
    fn insert(&self, port: u16, client: SocketAddr) -> u64 {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.by_port.lock().insert(port, (id, client));
        id
    }

    /// Removes the entry of `port` if it is still the one numbered `id`.
    fn remove(&self, port: u16, id: u64) {
        let mut table = self.by_port.lock();
        if table.get(&port).is_some_and(|(owner, _)| *owner == id) {
            table.remove(&port);
        }
    }
}

/// Limits the guard enforces.
#[derive(Debug, Clone, Copy)]
pub struct GuardLimits {
    /// The whole first request head must arrive within this time.
    pub header_timeout: Duration,
    /// Largest request head.
    pub max_header_bytes: usize,
    /// Most connections open at once.
    pub max_connections: usize,
    /// Most connections open at once from one client address.
    pub max_connections_per_ip: usize,
    /// The largest request body any tier accepts.
    pub max_body: u64,
}

/// Open connections per client address; a slot is given back when dropped.
/// Trusted proxies (a load balancer, the platform's own backend) carry many
/// clients' connections and are not capped.
#[derive(Debug, Default)]
struct PerAddress {
    open: Mutex<HashMap<IpAddr, usize>>,
    exempt: Vec<ipnet::IpNet>,
}

/// One open connection of an address.
struct AddressSlot {
    table: Arc<PerAddress>,
    ip: IpAddr,
}

impl PerAddress {
    /// A slot for `ip`, unless it already has `max` connections open.
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<AddressSlot> {
        // A trusted proxy is listed by its own address (`fd00::5/128`), not by
        // the /64 its connections are counted under.
        let own = ip.to_canonical();
        let max = if self.exempt.iter().any(|net| net.contains(&own)) {
            usize::MAX
        } else {
            max
        };
        let ip = address_group(ip);
        let mut open = self.open.lock();
        let count = open.entry(ip).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            table: self.clone(),
            ip,
        })
    }
}

/// What counts as one client address: IPv4 as it is (also when written as
/// `::ffff:a.b.c.d`), IPv6 by its /64, the least any one client holds.
fn address_group(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(std::net::Ipv6Addr::from(
            u128::from(v6) & !((1u128 << 64) - 1),
        )),
        v4 => v4,
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.table.open.lock();
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Most connections being refused (answered 503) at once.
const MAX_REFUSING: usize = 256;

/// Accepts on `listener` forever, relaying admitted connections to `inner`
/// (connections of `trusted_proxies` are not capped per address); refusals
/// are counted in `refusals` (by code) and logged.
pub async fn serve(
    listener: TcpListener,
    inner: SocketAddr,
    limits: GuardLimits,
    trusted_proxies: Vec<ipnet::IpNet>,
    peers: Arc<PeerTable>,
    refusals: prometheus::IntCounterVec,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    // Refusing at the cap takes a moment per connection; past this many at
    // once, a flood is closed without an answer rather than piling up sockets.
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    // One address cannot take every slot (slow clients, idle keep-alives).
    let per_address = Arc::new(PerAddress {
        exempt: trusted_proxies,
        ..PerAddress::default()
    });
    loop {
        let (client, addr) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = client.set_nodelay(true);
        let admitted = permits.clone().try_acquire_owned().ok().and_then(|permit| {
            per_address
                .take(addr.ip(), limits.max_connections_per_ip)
                .map(|slot| (permit, slot))
        });
        let Some((permit, slot)) = admitted else {
            if let Ok(slot) = refusing.clone().try_acquire_owned() {
                let refusals = refusals.clone();
                tokio::spawn(async move {
                    refuse(client, addr, Refusal::Overloaded, refusals).await;
                    drop(slot);
                });
            }
            continue;
        };
        let (peers, refusals) = (peers.clone(), refusals.clone());
        tokio::spawn(async move {
            match relay(client, addr, inner, limits, &peers).await {
                Relayed::Refused(client, refusal) => {
                    refuse(client, addr, refusal, refusals).await;
                }
                Relayed::CutOff(refusal) => {
                    refusals.with_label_values(&[refusal.code()]).inc();
                    tracing::info!(
                        target: "execgate::audit",
                        ip = %addr.ip(),
                        decision = refusal.code(),
                        "kept-alive connection cut: a later request head broke a limit"
                    );
                }
                Relayed::Done => {}
            }
            drop((permit, slot));
        });
    }
}

/// Why a request head was not accepted.
enum HeadError {
    TooLarge,
    Closed,
}

/// How a relayed connection ended.
enum Relayed {
    /// Its first head was refused: answer on the connection.
    Refused(TcpStream, Refusal),
    /// A later head broke a limit: the connection was closed.
    CutOff(Refusal),
    /// Served until either side closed.
    Done,
}

/// Reads the first head under the deadline, then relays the connection,
/// holding every later head of it to the same deadline and size cap.
async fn relay(
    mut client: TcpStream,
    addr: SocketAddr,
    inner: SocketAddr,
    limits: GuardLimits,
    peers: &PeerTable,
) -> Relayed {
    let read = read_head(&mut client, limits.max_header_bytes);
    let head = match tokio::time::timeout(limits.header_timeout, read).await {
        Err(_) => return Relayed::Refused(client, Refusal::HeaderTimeout),
        Ok(Err(HeadError::TooLarge)) => {
            let limit = limits.max_header_bytes;
            return Relayed::Refused(client, Refusal::HeadersTooLarge { limit });
        }
        Ok(Err(HeadError::Closed)) => return Relayed::Done,
        Ok(Ok(head)) => head,
    };
    let Ok(upstream) = TcpStream::connect(inner).await else {
        return Relayed::Refused(client, Refusal::Internal);
    };
    let _ = upstream.set_nodelay(true);
    let Ok(local) = upstream.local_addr() else {
        return Relayed::Done;
    };
    let asked = crate::framing::HeadsAsked::default();
    let mut framer =
        Framer::new(limits.max_header_bytes, limits.max_body).with_heads_asked(asked.clone());
    let mut first = Vec::with_capacity(head.len());
    let fed = framer.feed(&head, &mut first);
    let mut cut = match fed {
        Err(e) if first.is_empty() => return Relayed::Refused(client, framing_refusal(e, limits)),
        Err(e) => Some(framing_refusal(e, limits)),
        Ok(()) => None,
    };
    let entry = peers.insert(local.port(), addr);
    let (client_r, mut client_w) = client.into_split();
    let (mut upstream_r, mut upstream_w) = upstream.into_split();
    let mut outcome = None;
    if upstream_w.write_all(&first).await.is_ok() {
        let (answered, mut answered_rx) = tokio::sync::watch::channel(0u64);
        let answers = copy_to_client(&mut upstream_r, &mut client_w, answered, asked);
        tokio::pin!(answers);
        let mut answers_done = false;
        let watched = if cut.is_some() {
            Some((
                client_r,
                upstream_w,
                cut.take(),
                framer.messages_completed(),
            ))
        } else {
            let requests = watch_requests(client_r, upstream_w, framer, limits);
            tokio::select! {
                watched = requests => Some(watched),
                () = &mut answers => {
                    answers_done = true;
                    None
                }
            }
        };
        if let Some((client_r, mut upstream_w, why, asked)) = watched {
            if !answers_done {
                // Whether the client stopped sending or a head of its was
                // refused, the requests before get their answers first:
                // closing the proxy's side sooner would abort them.
                let caught_up = answered_rx.wait_for(|n| *n >= asked);
                let caught_up = tokio::time::timeout(ANSWERS_WAIT, caught_up);
                tokio::select! {
                    _ = caught_up => {}
                    () = &mut answers => answers_done = true,
                }
            }
            let _ = upstream_w.shutdown().await;
            if !answers_done {
                // The client is done (or cut off): let the last answer finish.
                (&mut answers).await;
            }
            outcome = Some((client_r, why));
        }
    }
    // While `upstream_r` still holds the port, so no other relay has it.
    peers.remove(local.port(), entry);
    drop(upstream_r);
    match outcome {
        // Every earlier request has had its answer: the refusal is the next.
        Some((client_r, Some(refusal))) => match client_r.reunite(client_w) {
            Ok(client) => Relayed::Refused(client, refusal),
            Err(_) => Relayed::CutOff(refusal),
        },
        _ => {
            let _ = client_w.shutdown().await;
            Relayed::Done
        }
    }
}

/// Longest the guard waits for the answers to requests already handed on
/// once the client has stopped sending (an execution may run this long).
const ANSWERS_WAIT: Duration = Duration::from_secs(120);

/// Largest answer head the guard follows (the proxy writes small ones).
const ANSWER_HEAD_MAX: usize = 64 << 10;

/// Longest a write to the client may wait: a client that stops reading must
/// not hold its slot (and the proxy's session) forever.
const CLIENT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Copies the proxy's answers to the client, each write under a deadline,
/// counting complete answers into `answered`.
async fn copy_to_client(
    upstream: &mut tokio::net::tcp::OwnedReadHalf,
    client: &mut tokio::net::tcp::OwnedWriteHalf,
    answered: tokio::sync::watch::Sender<u64>,
    asked: crate::framing::HeadsAsked,
) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut answers = Some(Framer::responses(ANSWER_HEAD_MAX).with_heads_asked(asked));
    let mut scratch = Vec::with_capacity(buf.len());
    loop {
        let n = match upstream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if let Some(framer) = &mut answers {
            scratch.clear();
            if framer.feed(&buf[..n], &mut scratch).is_ok() {
                answered.send_replace(framer.messages_completed());
            } else {
                // Answers that cannot be followed are not counted: whoever
                // waits for them is let go at once.
                answers = None;
                answered.send_replace(u64::MAX);
            }
        }
        match tokio::time::timeout(CLIENT_WRITE_TIMEOUT, client.write_all(&buf[..n])).await {
            Ok(Ok(())) => {}
            _ => return,
        }
    }
}

/// Copies the client's bytes to the proxy while following its requests: a
/// head that starts must end within the header deadline and the size cap,
/// else the connection is cut (`Some(why)`). Idle time between requests is
/// the proxy's keep-alive limit to enforce.
async fn watch_requests(
    mut client: tokio::net::tcp::OwnedReadHalf,
    mut upstream: tokio::net::tcp::OwnedWriteHalf,
    mut framer: Framer,
    limits: GuardLimits,
) -> (
    tokio::net::tcp::OwnedReadHalf,
    tokio::net::tcp::OwnedWriteHalf,
    Option<Refusal>,
    u64,
) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut out = Vec::with_capacity(buf.len());
    // The first packet may already have started a second head.
    let mut deadline = framer
        .head_in_progress()
        .then(|| tokio::time::Instant::now() + limits.header_timeout);
    let cut = loop {
        let read = client.read(&mut buf);
        let n = match deadline {
            Some(at) => match tokio::time::timeout_at(at, read).await {
                Ok(n) => n,
                Err(_) => break Some(Refusal::HeaderTimeout),
            },
            None => read.await,
        };
        let n = match n {
            Ok(0) | Err(_) => break None,
            Ok(n) => n,
        };
        let heads = framer.heads_completed();
        out.clear();
        let fed = framer.feed(&buf[..n], &mut out);
        // What came before a refused head is still the proxy's to answer.
        if upstream.write_all(&out).await.is_err() {
            break None;
        }
        if let Err(e) = fed {
            break Some(framing_refusal(e, limits));
        }
        // Each head gets a deadline of its own, from its first byte.
        let new_head = framer.heads_completed() != heads;
        deadline = match (framer.head_in_progress(), deadline) {
            (false, _) => None,
            (true, Some(kept)) if !new_head => Some(kept),
            (true, _) => Some(tokio::time::Instant::now() + limits.header_timeout),
        };
    };
    let requests = framer.messages_completed();
    (client, upstream, cut, requests)
}

/// Reads until the end of the first request head (its first empty line), at most `max`
/// bytes. Empty lines before the request line are dropped, not relayed: the HTTP
/// parser behind would skip them, and a head that starts with one would
/// otherwise end the guard's watch at once.
async fn read_head(client: &mut TcpStream, max: usize) -> Result<Vec<u8>, HeadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = client
            .read(&mut chunk)
            .await
            .map_err(|_| HeadError::Closed)?;
        if n == 0 {
            return Err(HeadError::Closed);
        }
        let before = buf.len();
        buf.extend_from_slice(&chunk[..n]);
        let blank = buf
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count();
        buf.drain(..blank);
        // Only the new bytes (and the two before them) can end the head.
        let from = before.saturating_sub(blank + 2);
        if let Some(end) = head_end(&buf[from..]).map(|e| from + e) {
            if end > max {
                return Err(HeadError::TooLarge);
            }
            return Ok(buf);
        }
        if buf.len() > max {
            return Err(HeadError::TooLarge);
        }
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

/// Answers with `refusal` (fresh request id), logs and counts it, and closes the connection.
async fn refuse(
    mut client: TcpStream,
    addr: SocketAddr,
    refusal: Refusal,
    refusals: prometheus::IntCounterVec,
) {
    let id = uuid::Uuid::new_v4().to_string();
    refusals.with_label_values(&[refusal.code()]).inc();
    tracing::info!(
        target: "execgate::audit",
        request_id = %id,
        ip = %addr.ip(),
        decision = refusal.code(),
        status = refusal.status(),
        "connection refused at accept"
    );
    let bytes = refusal.render(&id).to_http1_closing();
    let _ = tokio::time::timeout(Duration::from_secs(2), client.write_all(&bytes)).await;
    let _ = client.shutdown().await;
    linger(client).await;
}

/// Reads and drops what the client still sends (briefly, boundedly) so that
/// closing does not reset the connection before it has read our answer.
async fn linger(mut client: TcpStream) {
    let mut sink = [0u8; 16 * 1024];
    let mut left: usize = 4 << 20;
    let drain = async {
        while left > 0 {
            match client.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A trusted IPv6 proxy is exempt by its own address; its /64 neighbours
    /// are still capped.
    #[test]
    fn a_trusted_ipv6_proxy_is_exempt_by_its_own_address() {
        let table = Arc::new(PerAddress {
            exempt: vec!["fd00::5/128".parse().unwrap()],
            ..PerAddress::default()
        });
        let proxy: IpAddr = "fd00::5".parse().unwrap();
        let held: Vec<_> = (0..3).map(|_| table.take(proxy, 1)).collect();
        assert!(held.iter().all(Option::is_some), "the proxy is not capped");
        let neighbour: IpAddr = "fd00::6".parse().unwrap();
        assert!(
            table.take(neighbour, 1).is_none(),
            "its /64 already holds one"
        );
    }

    #[test]
    fn one_ipv6_client_is_one_address_and_mapped_ipv4_is_ipv4() {
        let table = Arc::new(PerAddress::default());
        let a = table.take("2001:db8::1".parse().unwrap(), 1);
        assert!(a.is_some());
        assert!(
            table.take("2001:db8::2".parse().unwrap(), 1).is_none(),
            "same /64"
        );
        assert!(table.take("2001:db8:0:1::2".parse().unwrap(), 1).is_some());
        let v4 = table.take("::ffff:192.0.2.1".parse().unwrap(), 1);
        assert!(v4.is_some());
        assert!(table.take("192.0.2.1".parse().unwrap(), 1).is_none());
        drop(a);
        assert!(
            table.take("2001:db8::3".parse().unwrap(), 1).is_some(),
            "slot given back"
        );
    }

    #[test]
    fn a_relay_removes_only_its_own_entry() {
        let table = PeerTable::default();
        let relay: SocketAddr = "127.0.0.1:5555".parse().unwrap();
        let first = table.insert(5555, "203.0.113.5:4000".parse().unwrap());
        let second = table.insert(5555, "198.51.100.9:4000".parse().unwrap());
        table.remove(5555, first);
        assert_eq!(
            table.original(relay),
            Some("198.51.100.9:4000".parse().unwrap())
        );
        table.remove(5555, second);
        assert_eq!(table.original(relay), None);
    }

    #[test]
    fn only_loopback_relays_are_translated() {
        let table = PeerTable::default();
        let client: SocketAddr = "203.0.113.5:4000".parse().unwrap();
        let entry = table.insert(5555, client);
        assert_eq!(
            table.original("127.0.0.1:5555".parse().unwrap()),
            Some(client)
        );
        assert_eq!(table.original("198.51.100.1:5555".parse().unwrap()), None);
        table.remove(5555, entry);
        assert_eq!(table.original("127.0.0.1:5555".parse().unwrap()), None);
    }
}
