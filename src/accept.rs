//! Accept-side hardening Pingora lacks: connection caps (in all and per client
//! address), a rate of new connections per client address, a deadline for the
//! whole request head (slowloris) and a cap on its size, answered in the
//! gateway's JSON shape.
//!
//! The guard owns the public listener. Each admitted connection is handed to
//! the proxy at once, wrapped in a `Guarded` stream that holds every request
//! head to the deadline and the cap as the proxy reads it. A slow client only
//! ever holds a cheap task parked on its socket.

use crate::accept_rate::AcceptRate;
use crate::error::Refusal;
use crate::guarded::Guarded;
use parking_lot::Mutex;
use pingora_core::apps::ServerApp;
use pingora_core::server::ShutdownWatch;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

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
    /// New connections per client address (absent: unlimited).
    pub accept_rate_per_ip: Option<crate::config::Rate>,
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
pub(crate) fn address_group(ip: IpAddr) -> IpAddr {
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

/// The connections the guard has handed to the proxy and that are still open:
/// a graceful stop (or an upgrade) waits for them to close.
#[derive(Debug, Clone, Default)]
pub struct OpenConnections(Arc<std::sync::atomic::AtomicUsize>);

impl OpenConnections {
    /// How many are open.
    pub fn count(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::Acquire)
    }

    fn open(&self) -> OpenConnection {
        self.0.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        OpenConnection(self.clone())
    }
}

/// One of the `OpenConnections`, counted until dropped.
struct OpenConnection(OpenConnections);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        (self.0).0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Most connections being refused (answered 503) at once.
const MAX_REFUSING: usize = 256;

/// Accepts on `listener` until `shutdown` turns true, handing admitted
/// connections to `app` and counting them in `open` (connections of
/// `trusted_proxies` are not capped per address); refusals are counted in
/// `refusals` (by code) and logged. On shutdown the listener is closed (an
/// upgraded process may still accept on its copy) and the connections
/// already handed over answer their next request with `Connection: close`.
pub async fn serve<A: ServerApp + Send + Sync + 'static>(
    listener: TcpListener,
    app: Arc<A>,
    limits: GuardLimits,
    trusted_proxies: Vec<ipnet::IpNet>,
    refusals: prometheus::IntCounterVec,
    shutdown: ShutdownWatch,
    open: OpenConnections,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    // Refusing at the cap takes a moment per connection; past this many at
    // once, a flood is closed without an answer rather than piling up sockets.
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    // One address cannot take every slot (slow clients, idle keep-alives).
    let accept_rate = limits
        .accept_rate_per_ip
        .map(|rate| AcceptRate::new(rate, trusted_proxies.clone()));
    let per_address = Arc::new(PerAddress {
        exempt: trusted_proxies,
        ..PerAddress::default()
    });
    let mut stopping = shutdown.clone();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stopping.wait_for(|stop| *stop) => break,
            accepted = listener.accept() => accepted,
        };
        let (client, addr) = match accepted {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = client.set_nodelay(true);
        let paced = accept_rate.as_ref().is_none_or(|r| r.admits(addr.ip()));
        let admitted = paced
            .then(|| permits.clone().try_acquire_owned().ok())
            .flatten()
            .and_then(|permit| {
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
        let (app, refusals, shutdown) = (app.clone(), refusals.clone(), shutdown.clone());
        let counted = open.open();
        tokio::spawn(async move {
            let guarded = Guarded::new(client, addr, limits, refusals);
            let mut next = app.process_new(Box::new(guarded), &shutdown).await;
            while let Some(stream) = next {
                next = app.process_new(stream, &shutdown).await;
            }
            drop((permit, slot, counted));
        });
    }
    tracing::info!("the public listener is closed: no new connections");
}

/// Answers with `refusal` (fresh request id), logs and counts it, and closes the connection.
async fn refuse(
    mut client: TcpStream,
    addr: SocketAddr,
    refusal: Refusal,
    refusals: prometheus::IntCounterVec,
) {
    let bytes = refusal_answer(addr, &refusal, &refusals);
    let _ = tokio::time::timeout(Duration::from_secs(2), client.write_all(&bytes)).await;
    let _ = client.shutdown().await;
    linger(client).await;
}

/// Logs and counts `refusal` of a connection from `addr`; the answer to write
/// before closing it (fresh request id).
pub(crate) fn refusal_answer(
    addr: SocketAddr,
    refusal: &Refusal,
    refusals: &prometheus::IntCounterVec,
) -> Vec<u8> {
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
    refusal.render(&id).to_http1_closing()
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
}
