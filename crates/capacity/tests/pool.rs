//! The execution pool: per-client caps, tier priority, FIFO, aging, bounded
//! queues, waits that time out, and waiters that leave when their client goes.

use execgate_capacity::{
    Admission, CapacityMetrics, CapacityRefusal, OverClientCap, Permit, Pool, PoolSettings,
    TierSlots,
};
use execgate_core::{ClientKey, ManualClock, TierName};
use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;

fn tier(name: &str) -> TierName {
    TierName(name.to_string())
}

fn client(id: &str) -> ClientKey {
    ClientKey::from_client_id(id)
}

fn slots(priority: u32, per_client: u32, over: OverClientCap) -> TierSlots {
    TierSlots {
        priority,
        per_client: NonZeroU32::new(per_client).unwrap(),
        over_client_cap: over,
        queue_max: 10,
        queue_wait_max: Duration::from_secs(30),
    }
}

fn settings(total: u32) -> PoolSettings {
    let mut tiers = BTreeMap::new();
    tiers.insert(tier("anonymous"), slots(0, 1, OverClientCap::Refuse));
    tiers.insert(tier("free"), slots(1, 2, OverClientCap::Wait));
    tiers.insert(tier("paid"), slots(2, 8, OverClientCap::Wait));
    PoolSettings {
        total: NonZeroU32::new(total).unwrap(),
        aging: None,
        retry_after: Duration::from_secs(2),
        tiers,
    }
}

fn pool(settings: &PoolSettings) -> (Arc<Pool>, ManualClock, CapacityMetrics) {
    let clock = ManualClock::default();
    let metrics = CapacityMetrics::unregistered().unwrap();
    let pool = Pool::new(settings, Arc::new(clock.clone()), metrics.clone());
    (pool, clock, metrics)
}

fn run(pool: &Arc<Pool>, who: &str, t: &str) -> Permit {
    match pool.admit(&client(who), &tier(t)) {
        Ok(Admission::Run(p)) => p,
        Ok(Admission::Queued(_)) => panic!("{who} was queued"),
        Err(e) => panic!("{who} was refused: {e}"),
    }
}

fn queue(pool: &Arc<Pool>, who: &str, t: &str) -> execgate_capacity::Ticket {
    match pool.admit(&client(who), &tier(t)) {
        Ok(Admission::Queued(ticket)) => ticket,
        Ok(Admission::Run(_)) => panic!("{who} ran at once"),
        Err(e) => panic!("{who} was refused: {e}"),
    }
}

/// Spawns the ticket's wait and returns a handle telling when it ran.
fn waiting(
    ticket: execgate_capacity::Ticket,
) -> tokio::task::JoinHandle<Result<Permit, CapacityRefusal>> {
    tokio::spawn(ticket.wait())
}

async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("never happened: {what}");
}

#[test]
fn a_client_over_its_refusing_cap_is_told_to_come_back() {
    let (pool, _, metrics) = pool(&settings(10));
    let first = run(&pool, "a", "anonymous");
    let err = pool.admit(&client("a"), &tier("anonymous")).err().unwrap();
    assert_eq!(
        err,
        CapacityRefusal::ConcurrencyLimited {
            retry_after: Duration::from_secs(2)
        }
    );
    assert_eq!(
        (err.status(), err.code(), err.retry_after_secs()),
        (429, "concurrency_limited", 2)
    );
    // Another client of the tier is not held back by a's cap.
    let _other = run(&pool, "b", "anonymous");
    drop(first);
    let _again = run(&pool, "a", "anonymous");
    assert_eq!(
        metrics
            .refusals
            .with_label_values(&["concurrency_limited"])
            .get(),
        1
    );
}

#[tokio::test]
async fn a_client_over_its_waiting_cap_runs_when_its_own_run_ends() {
    let (pool, _, _) = pool(&settings(10));
    let a1 = run(&pool, "f", "free");
    let _a2 = run(&pool, "f", "free");
    let third = waiting(queue(&pool, "f", "free"));
    // Other clients still run at once: the pool has room.
    let _g = run(&pool, "g", "free");
    assert!(!third.is_finished());
    drop(a1);
    let permit = third.await.unwrap().unwrap();
    assert_eq!(pool.status().in_flight, 3);
    drop(permit);
}

#[tokio::test]
async fn with_a_pool_of_two_paid_runs_while_free_waits_then_runs() {
    let (pool, _, metrics) = pool(&settings(2));
    let p1 = run(&pool, "p1", "paid");
    let p2 = run(&pool, "p2", "paid");
    let free = waiting(queue(&pool, "f", "free"));
    assert_eq!(metrics.queued.with_label_values(&["free"]).get(), 1);
    assert_eq!(metrics.in_flight.with_label_values(&["paid"]).get(), 2);
    drop(p1);
    let permit = free.await.unwrap().unwrap();
    assert_eq!(metrics.queued.with_label_values(&["free"]).get(), 0);
    assert_eq!(metrics.in_flight.with_label_values(&["free"]).get(), 1);
    assert_eq!(
        metrics
            .queue_wait
            .with_label_values(&["free"])
            .get_sample_count(),
        1
    );
    drop((p2, permit));
    assert_eq!(pool.status().in_flight, 0);
}

#[tokio::test]
async fn paid_waiters_go_before_free_ones_that_came_first() {
    let (pool, _, _) = pool(&settings(1));
    let busy = run(&pool, "x", "paid");
    let free = queue(&pool, "f", "free");
    let paid = queue(&pool, "p", "paid");
    assert_eq!((free.position(), paid.position()), (1, 1));
    let (free, paid) = (waiting(free), waiting(paid));
    drop(busy);
    let p = paid.await.unwrap().unwrap();
    assert!(!free.is_finished());
    drop(p);
    let _ran = free.await.unwrap().unwrap();
}

#[tokio::test]
async fn waiters_of_one_tier_are_served_in_arrival_order() {
    let (pool, _, _) = pool(&settings(1));
    let mut busy = run(&pool, "x", "free");
    let tickets: Vec<_> = ["c1", "c2", "c3"]
        .iter()
        .map(|c| queue(&pool, c, "free"))
        .collect();
    assert_eq!(
        tickets.iter().map(|t| t.position()).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let mut handles: Vec<_> = tickets.into_iter().map(waiting).collect();
    for _ in 0..3 {
        drop(busy);
        let first = handles.remove(0);
        busy = first.await.unwrap().unwrap();
        assert!(handles.iter().all(|h| !h.is_finished()));
        assert_eq!(pool.status().in_flight, 1);
    }
}

#[tokio::test]
async fn a_long_wait_lifts_a_free_waiter_over_newer_paid_ones() {
    let mut s = settings(1);
    s.aging = Some(Duration::from_secs(10));
    let (pool, clock, _) = pool(&s);
    let busy = run(&pool, "x", "paid");
    let free = waiting(queue(&pool, "f", "free"));
    // One priority level apart: more than one aging step of waiting outranks it.
    clock.advance(Duration::from_secs(11));
    let paid = waiting(queue(&pool, "p", "paid"));
    drop(busy);
    let f = free.await.unwrap().unwrap();
    assert!(!paid.is_finished());
    drop(f);
    let _ran = paid.await.unwrap().unwrap();
}

#[tokio::test]
async fn without_enough_waiting_priority_still_wins() {
    let mut s = settings(1);
    s.aging = Some(Duration::from_secs(10));
    let (pool, clock, _) = pool(&s);
    let busy = run(&pool, "x", "paid");
    let free = waiting(queue(&pool, "f", "free"));
    clock.advance(Duration::from_secs(9));
    let paid = waiting(queue(&pool, "p", "paid"));
    drop(busy);
    let p = paid.await.unwrap().unwrap();
    assert!(!free.is_finished());
    drop(p);
}

#[tokio::test]
async fn a_full_queue_refuses_with_503() {
    let mut s = settings(1);
    s.tiers.get_mut(&tier("free")).unwrap().queue_max = 2;
    let (pool, _, metrics) = pool(&s);
    let _busy = run(&pool, "x", "paid");
    let _q1 = queue(&pool, "a", "free");
    let _q2 = queue(&pool, "b", "free");
    let err = pool.admit(&client("c"), &tier("free")).err().unwrap();
    assert_eq!((err.status(), err.code()), (503, "queue_full"));
    // Another tier's queue is its own.
    let _paid = queue(&pool, "p", "paid");
    assert_eq!(metrics.refusals.with_label_values(&["queue_full"]).get(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_wait_past_the_tier_maximum_ends_with_504_and_leaves_the_queue() {
    let (pool, _, metrics) = pool(&settings(1));
    let busy = run(&pool, "x", "paid");
    let err = pool
        .acquire(&client("f"), &tier("free"))
        .await
        .err()
        .unwrap();
    assert_eq!((err.status(), err.code()), (504, "queue_timeout"));
    assert_eq!(metrics.queued.with_label_values(&["free"]).get(), 0);
    assert_eq!(
        pool.status().tiers.iter().map(|t| t.queued).sum::<usize>(),
        0
    );
    drop(busy);
    assert_eq!(pool.status().in_flight, 0);
}

#[tokio::test]
async fn a_dropped_waiter_leaves_and_the_next_one_runs() {
    let (pool, _, _) = pool(&settings(1));
    let busy = run(&pool, "x", "paid");
    let gone = queue(&pool, "gone", "paid");
    let next = waiting(queue(&pool, "next", "paid"));
    drop(gone);
    assert_eq!(
        pool.status().tiers.iter().map(|t| t.queued).sum::<usize>(),
        1
    );
    drop(busy);
    let _ran = next.await.unwrap().unwrap();
}

/// The way a front end waits: a slot or the client's socket closing, whichever first.
async fn serve_one(
    pool: Arc<Pool>,
    listener: tokio::net::TcpListener,
    who: &'static str,
) -> Option<Permit> {
    let (mut socket, _) = listener.accept().await.unwrap();
    let mut buf = [0u8; 1];
    let (who, free) = (client(who), tier("free"));
    tokio::select! {
        permit = pool.acquire(&who, &free) => permit.ok(),
        _ = socket.read(&mut buf) => None,
    }
}

#[tokio::test]
async fn a_client_that_disconnects_while_queued_frees_its_place_at_once() {
    let (pool, _, metrics) = pool(&settings(1));
    let busy = run(&pool, "x", "paid");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(serve_one(pool.clone(), listener, "leaver"));
    let socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let queued = || metrics.queued.with_label_values(&["free"]).get();
    eventually("the client waits in the queue", || queued() == 1).await;
    drop(socket);
    assert!(server.await.unwrap().is_none());
    assert_eq!(queued(), 0);
    // Its place is not granted to anyone: the next arrival waits behind busy alone.
    let next = queue(&pool, "next", "free");
    assert_eq!(next.position(), 1);
    let next = waiting(next);
    drop(busy);
    let _ran = next.await.unwrap().unwrap();
}

#[test]
fn a_tier_not_configured_is_served_as_the_lowest() {
    let (pool, _, _) = pool(&settings(10));
    let _first = run(&pool, "u", "mystery");
    // The lowest tier (anonymous) refuses a second run of the same client.
    let err = pool.admit(&client("u"), &tier("mystery")).err().unwrap();
    assert_eq!(err.code(), "concurrency_limited");
}
