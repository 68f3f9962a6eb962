//! The Redis backend against real redis-server processes: bad addresses and
//! credentials, other deployments' keys, poisoned keys, a paused server and a
//! killed one. Each ends in a clear error or a configured decision, never a
//! panic and never a wait past the configured bound.

use execgate_core::{ClientKey, HumanDuration, ManualClock, TierName};
use execgate_state::backend::{
    BackendKind, BackendMetrics, OnError, RedisBackend, SharedStateConfig,
};
use execgate_state::ratelimit::UNAVAILABLE_WINDOW;
use execgate_state::testing::{RecordNow, RedisServer, block_on, free_port};
use execgate_state::{RateDecision, RateLimiter, RedisRateLimiter, WindowSpec};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn config(url: String, prefix: &str, wait_ms: u64) -> SharedStateConfig {
    SharedStateConfig {
        backend: BackendKind::Redis,
        url: Some(url),
        key_prefix: prefix.into(),
        command_timeout: HumanDuration(Duration::from_millis(wait_ms)),
        pool_size: 1,
        ..SharedStateConfig::default()
    }
}

fn connect(config: &SharedStateConfig) -> Result<Arc<RedisBackend>, String> {
    RedisBackend::connect(config, BackendMetrics::unregistered().unwrap())
}

fn limiter(backend: &Arc<RedisBackend>, on_error: OnError, share: f64) -> RedisRateLimiter {
    RedisRateLimiter::new(
        backend.clone(),
        Arc::new(ManualClock::default()),
        on_error,
        share,
    )
}

fn burst(quota: u32) -> [WindowSpec; 1] {
    [WindowSpec::new(
        "burst",
        NonZeroU32::new(quota).unwrap(),
        Duration::from_secs(3600),
    )]
}

fn key(id: &str) -> ClientKey {
    ClientKey::from_client_id(id)
}

fn check(l: &RedisRateLimiter, k: &ClientKey, quota: u32) -> RateDecision {
    l.check(&TierName::anonymous(), k, &burst(quota), NonZeroU32::MIN)
}

/// Waits for `cond` (polling), failing after a generous deadline.
fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_unreachable_server_is_an_error_naming_it() {
    let url = format!("redis://127.0.0.1:{}", free_port());
    let err = connect(&config(url.clone(), "x", 50)).unwrap_err();
    assert!(
        err.starts_with(&format!("state: cannot connect to Redis at {url}")),
        "{err}"
    );
}

#[test]
fn a_wrong_password_is_refused_at_start_without_echoing_it() {
    let server = RedisServer::start_with(&["--requirepass", "right-one"]);
    let url = format!("redis://:wrong-one@127.0.0.1:{}", server.port());
    let err = connect(&config(url, "x", 50)).unwrap_err();
    assert!(err.contains("cannot connect to Redis"), "{err}");
    assert!(!err.contains("wrong-one"), "the password leaked: {err}");
    let none = connect(&config(server.url(), "x", 50)).unwrap_err();
    assert!(none.contains("cannot connect to Redis"), "{none}");
    let right = format!("redis://:right-one@127.0.0.1:{}", server.port());
    assert!(connect(&config(right, "x", 1000)).is_ok());
}

#[test]
fn deployments_with_other_prefixes_do_not_share_quotas() {
    let server = RedisServer::start();
    let a = limiter(
        &connect(&config(server.url(), "blue", 1000)).unwrap(),
        OnError::Closed,
        1.0,
    );
    let b = limiter(
        &connect(&config(server.url(), "green", 1000)).unwrap(),
        OnError::Closed,
        1.0,
    );
    let k = key("shared-name");
    assert!(check(&a, &k, 1).is_allowed());
    assert!(!check(&a, &k, 1).is_allowed());
    assert!(check(&b, &k, 1).is_allowed(), "green saw blue's window");
    assert!(server.cli(&["exists", &a.key_of(&k)]).trim() == "1");
    assert!(a.key_of(&k).starts_with("blue:rl:{"), "{}", a.key_of(&k));
}

#[test]
fn a_poisoned_key_refuses_that_client_only_and_keeps_the_backend_up() {
    let server = RedisServer::start();
    let backend = connect(&config(server.url(), "p", 1000)).unwrap();
    let closed = limiter(&backend, OnError::Closed, 1.0);
    let open = limiter(&backend, OnError::Open, 1.0);
    let victim = key("victim");
    server.cli(&["set", &closed.key_of(&victim), "not a hash"]);
    match check(&closed, &victim, 5) {
        RateDecision::Limited { window, .. } => assert_eq!(window, UNAVAILABLE_WINDOW),
        d => panic!("a poisoned key was allowed while failing closed: {d:?}"),
    }
    assert!(
        check(&open, &victim, 5).is_allowed(),
        "fail open uses the local limiter"
    );
    assert!(backend.is_up(), "one bad key is not an outage");
    assert!(check(&closed, &key("neighbour"), 5).is_allowed());
    // A hash whose fields are not the limiter's is refused the same way.
    server.cli(&["hset", &closed.key_of(&key("junk")), "burst", "garbage"]);
    assert!(!check(&closed, &key("junk"), 5).is_allowed());
    assert!(closed.usage(&key("junk")).is_empty());
}

/// A paused Redis costs a request the bound, not the pause: the server holds
/// its writes for a minute, yet each check returns its failure policy's
/// decision while the paused server has still run nothing. Had a check
/// waited for the answer, Redis would have decided: an allowed request and
/// a written key, both refuted below.
#[test]
fn a_paused_server_costs_a_request_at_most_the_bound() {
    let server = RedisServer::start();
    let backend = connect(&config(server.url(), "slow", 100)).unwrap();
    let open = limiter(&backend, OnError::Open, 1.0);
    let closed = limiter(&backend, OnError::Closed, 1.0);
    server.cli(&["client", "pause", "60000", "write"]);
    let refused = check(&closed, &key("a"), 5);
    assert!(
        matches!(&refused, RateDecision::Limited { window, .. } if window == UNAVAILABLE_WINDOW),
        "fail closed: {refused:?}"
    );
    assert!(check(&open, &key("b"), 5).is_allowed(), "fail open");
    // Reads pass a write pause: the scripts have not run, so the answers
    // came from the failure policies while Redis still held the calls.
    for k in ["a", "b"] {
        assert_eq!(server.cli(&["exists", &open.key_of(&key(k))]).trim(), "0");
    }
    server.cli(&["client", "unpause"]);
    eventually("the backend is seen up again", || backend.is_up());
}

#[test]
fn a_killed_server_fails_open_or_closed_and_recovers_on_restart() {
    let mut server = RedisServer::start();
    let backend = connect(&config(server.url(), "k", 50)).unwrap();
    let open = limiter(&backend, OnError::Open, 0.5);
    let closed = limiter(&backend, OnError::Closed, 1.0);
    let k = key("client");
    assert!(check(&open, &k, 4).is_allowed());
    server.kill();
    // The local limiter allows half the quota of 4, then refuses.
    let mut allowed = 0;
    for _ in 0..6 {
        allowed += usize::from(check(&open, &k, 4).is_allowed());
    }
    assert_eq!(
        allowed, 2,
        "the fallback limiter holds this gateway's share"
    );
    let d = check(&closed, &key("other"), 4);
    assert!(
        matches!(&d, RateDecision::Limited { window, .. } if window == UNAVAILABLE_WINDOW),
        "{d:?}"
    );
    assert!(!backend.is_up());
    server.restart();
    eventually("the backend reconnects", || backend.is_up());
    eventually("decisions come from Redis again", || {
        check(&closed, &key("after"), 4).is_allowed() && !closed.usage(&key("after")).is_empty()
    });
}

fn store(server_url: String, prefix: &str, clock: &ManualClock) -> execgate_state::RedisBlockStore {
    let backend = connect(&config(server_url, prefix, 1000)).unwrap();
    execgate_state::RedisBlockStore::open(backend, Arc::new(clock.clone()), OnError::Open, None)
        .unwrap()
}

fn ban(value: &str) -> execgate_state::NewBlock {
    execgate_state::NewBlock {
        value: value.into(),
        duration: None,
        reason: "test".into(),
        origin: execgate_state::Origin::Manual,
        created_by: "test".into(),
    }
}

fn blocked(s: &dyn execgate_state::BlockStore, ip: &str) -> bool {
    let client = key("x");
    s.check(&execgate_state::BlockQuery {
        ip: ip.parse().unwrap(),
        client: &client,
        country: None,
        asn: None,
    })
    .is_some()
}

#[test]
fn a_block_on_one_gateway_reaches_the_other_and_ids_never_collide() {
    use execgate_state::BlockStore;
    let server = RedisServer::start();
    let clock = ManualClock::default();
    let a = store(server.url(), "gw", &clock);
    let b = store(server.url(), "gw", &clock);
    let first = a.add(ban("192.0.2.1")).unwrap();
    let second = b.add(ban("192.0.2.2")).unwrap();
    assert_ne!(first.id, second.id);
    eventually("b refuses a's block", || blocked(&b, "192.0.2.1"));
    eventually("a refuses b's block", || blocked(&a, "192.0.2.2"));
    assert_eq!(b.len(), 2);
    a.remove(second.id).unwrap();
    eventually("b lifts the block a removed", || !blocked(&b, "192.0.2.2"));
}

#[test]
fn a_missed_change_is_recovered_by_a_resync() {
    use execgate_state::BlockStore;
    let server = RedisServer::start();
    let clock = ManualClock::default();
    let a = store(server.url(), "gap", &clock);
    a.add(ban("192.0.2.9")).unwrap();
    // A version far ahead: the follower knows it missed changes.
    server.cli(&["hdel", "{gap:bl}:decisions", "1"]);
    server.cli(&["publish", "gap:bl:changes", r#"{"v":50}"#]);
    eventually("the resync drops what Redis no longer holds", || {
        !blocked(&a, "192.0.2.9")
    });
}

#[test]
fn the_index_survives_an_outage_and_resyncs_after_a_restart() {
    use execgate_state::BlockStore;
    let mut server = RedisServer::start();
    let clock = ManualClock::default();
    let a = store(server.url(), "out", &clock);
    let b = store(server.url(), "out", &clock);
    a.add(ban("192.0.2.7")).unwrap();
    eventually("b has the block", || blocked(&b, "192.0.2.7"));
    server.kill();
    assert!(
        blocked(&b, "192.0.2.7"),
        "the last index holds during the outage"
    );
    assert!(
        a.add(ban("192.0.2.8")).is_err(),
        "a write without Redis is an error"
    );
    server.restart();
    // The restarted Redis is empty (no persistence here): the index follows it.
    eventually("a write goes through again", || {
        a.add(ban("198.51.100.1")).is_ok()
    });
    eventually("b resynchronised", || {
        blocked(&b, "198.51.100.1") && !blocked(&b, "192.0.2.7")
    });
}

#[test]
fn a_start_waits_out_a_busy_server_for_the_connect_timeout_not_the_command_timeout() {
    let server = RedisServer::start();
    let config = SharedStateConfig {
        connect_timeout: HumanDuration(Duration::from_secs(30)),
        ..config(server.url(), "busy", 50)
    };
    let backend = connect(&config).unwrap();
    // Far past the 50 ms command timeout, far inside the 30 s connect timeout.
    server.cli(&["client", "pause", "1500", "all"]);
    let opened = execgate_state::RedisBlockStore::open(
        backend,
        Arc::new(ManualClock::default()),
        OnError::Open,
        None,
    );
    assert!(opened.is_ok(), "{:?}", opened.err());
}

#[test]
fn a_blocklist_failing_closed_refuses_everyone_while_redis_is_down() {
    let mut server = RedisServer::start();
    let clock = ManualClock::default();
    let backend = connect(&config(server.url(), "bc", 50)).unwrap();
    let closed = execgate_state::RedisBlockStore::open(
        backend.clone(),
        Arc::new(clock.clone()),
        OnError::Closed,
        None,
    )
    .unwrap();
    assert!(!blocked(&closed, "192.0.2.200"));
    server.kill();
    eventually("the outage is noticed", || !backend.is_up());
    assert!(
        blocked(&closed, "192.0.2.200"),
        "fail closed refuses while down"
    );
    server.restart();
    eventually("lookups are answered from the index again", || {
        !blocked(&closed, "192.0.2.200")
    });
}

/// A gateway's reputation engine over a shared blocklist and shared standings.
fn engine(
    url: String,
    prefix: &str,
    clock: &ManualClock,
) -> (
    execgate_state::Reputation,
    Arc<execgate_state::RedisBlockStore>,
) {
    let config = execgate_state::ReputationConfig {
        ban_threshold: 20.0,
        ..execgate_state::ReputationConfig::default()
    };
    engine_with(url, prefix, clock, config)
}

/// [`engine`] with its own reputation config.
fn engine_with(
    url: String,
    prefix: &str,
    clock: &ManualClock,
    reputation: execgate_state::ReputationConfig,
) -> (
    execgate_state::Reputation,
    Arc<execgate_state::RedisBlockStore>,
) {
    let backend = connect(&config(url, prefix, 1000)).unwrap();
    let blocks = Arc::new(
        execgate_state::RedisBlockStore::open(
            backend.clone(),
            Arc::new(clock.clone()),
            OnError::Open,
            None,
        )
        .unwrap(),
    );
    let events = Arc::new(execgate_state::EventLog::new(100, Arc::new(clock.clone())));
    let rep = execgate_state::Reputation::new(
        reputation,
        Arc::new(clock.clone()),
        blocks.clone(),
        events,
    )
    .with_shared(execgate_state::SharedStandings::new(backend, OnError::Open));
    (rep, blocks)
}

#[test]
fn a_ban_earned_half_on_each_gateway_happens_once_and_both_see_the_count() {
    use execgate_state::{BlockStore, SecurityEvent};
    let server = RedisServer::start();
    let clock = ManualClock::default();
    let (a, blocks_a) = engine(server.url(), "rep", &clock);
    let (b, _) = engine(server.url(), "rep", &clock);
    let k = key("offender");
    let ip: std::net::IpAddr = "192.0.2.77".parse().unwrap();
    // Exec timeouts weigh 4: five on each side cross 20 once, on whichever comes tenth.
    let mut bans = 0;
    for _ in 0..5 {
        bans += usize::from(
            a.record_now(&k, ip, SecurityEvent::ExecTimeout, false)
                .is_some(),
        );
        bans += usize::from(
            b.record_now(&k, ip, SecurityEvent::ExecTimeout, false)
                .is_some(),
        );
    }
    assert_eq!(bans, 1, "one ban for one crossing");
    assert_eq!((a.offences(&k), b.offences(&k)), (1, 1));
    assert_eq!(a.score(&k), 0.0, "the score restarts after the ban");
    assert_eq!(blocks_a.len(), 1);
    // Concurrent events from both gateways: still one ban per crossing.
    let (a, b) = (Arc::new(a), Arc::new(b));
    let other = key("concurrent");
    let bans: usize = std::thread::scope(|s| {
        let runs: Vec<_> = [a.clone(), b.clone()]
            .into_iter()
            .map(|rep| {
                let other = other.clone();
                s.spawn(move || {
                    (0..5)
                        .filter(|_| {
                            rep.record_now(&other, ip, SecurityEvent::ExecTimeout, false)
                                .is_some()
                        })
                        .count()
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).sum()
    });
    assert_eq!(bans, 1);
    assert_eq!(b.offences(&other), 1);
}

#[test]
fn scores_and_ban_counts_outlive_a_gateway_restart() {
    use execgate_state::SecurityEvent;
    let server = RedisServer::start();
    let clock = ManualClock::default();
    let k = key("remembered");
    let ip: std::net::IpAddr = "192.0.2.78".parse().unwrap();
    {
        let (first, _) = engine(server.url(), "restart", &clock);
        for _ in 0..5 {
            first.record_now(&k, ip, SecurityEvent::ExecTimeout, false);
        }
        first.record_now(&k, ip, SecurityEvent::ExecTimeout, false);
    }
    let (again, _) = engine(server.url(), "restart", &clock);
    assert_eq!(again.offences(&k), 1, "the escalation count survived");
    assert_eq!(again.score(&k), 4.0, "the score survived");
}

#[test]
fn events_scored_during_an_outage_are_flushed_when_redis_returns() {
    use execgate_state::SecurityEvent;
    let mut server = RedisServer::start();
    let clock = ManualClock::default();
    let (a, _) = engine(server.url(), "flush", &clock);
    let (b, _) = engine(server.url(), "flush", &clock);
    let k = key("during-outage");
    let ip: std::net::IpAddr = "192.0.2.79".parse().unwrap();
    server.kill();
    for _ in 0..3 {
        a.record_now(&k, ip, SecurityEvent::ExecTimeout, false);
    }
    server.restart();
    // The next event, once Redis answers, carries the 12 points scored meanwhile.
    eventually("an event reaches Redis", || {
        a.record_now(&key("probe"), ip, SecurityEvent::RateLimited, false);
        b.score(&k) > 0.0
    });
    assert_eq!(
        b.score(&k),
        12.0,
        "the other gateway sees the outage's events"
    );
}

/// The request path's check leaves its thread free while Redis has not answered:
/// on a single-threaded runtime, the first poll of a check against a paused Redis
/// is still pending (a blocking check would hold the thread until the answer).
#[test]
fn an_awaited_check_leaves_the_thread_free_while_redis_is_paused() {
    use std::task::{Context, Waker};
    let server = RedisServer::start();
    let backend = connect(&config(server.url(), "async", 10_000)).unwrap();
    let limiter = limiter(&backend, OnError::Closed, 1.0);
    let tier = TierName::anonymous();
    let k = key("a");
    let windows = burst(5);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        server.cli(&["client", "pause", "60000", "write"]);
        let mut pending = limiter.check_async(&tier, &k, &windows, NonZeroU32::MIN);
        let first = pending
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()));
        assert!(first.is_pending(), "the check held the thread: {first:?}");
        server.cli(&["client", "unpause"]);
        let decision = pending.await;
        assert!(decision.is_allowed(), "{decision:?}");
    });
    let used = limiter.usage(&k);
    assert_eq!(used.first().map(|w| w.remaining), Some(4), "{used:?}");
}

/// Every other call a request makes leaves its thread free too: a scored event,
/// the ban it may bring and the limiter's read of a batch's standing are each
/// still pending after their first poll while Redis holds its commands (a
/// blocking call would hold the thread until the answer or the bound), and the
/// event and the ban are made once Redis answers.
#[test]
fn awaited_scoring_bans_and_usage_leave_the_thread_free_while_redis_is_paused() {
    use execgate_state::{BlockStore, SecurityEvent};
    use std::task::{Context, Poll, Waker};
    let server = RedisServer::start();
    let clock = ManualClock::default();
    let (rep, blocks) = engine(server.url(), "await", &clock);
    let k = key("scored");
    let ip: std::net::IpAddr = "192.0.2.80".parse().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        server.cli(&["client", "pause", "60000", "write"]);
        let mut scoring = std::pin::pin!(rep.record(&k, ip, SecurityEvent::ExecTimeout, false));
        let polled = scoring
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()));
        assert!(polled.is_pending(), "the event held the thread");
        let mut banning = blocks.add_async(ban("192.0.2.81"));
        let polled = banning
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()));
        assert!(
            matches!(polled, Poll::Pending),
            "the ban held the thread: {polled:?}"
        );
        server.cli(&["client", "unpause"]);
        assert!(scoring.await.is_none());
        banning.await.unwrap();
    });
    assert_eq!(rep.score(&k), 4.0, "the event reached Redis");
    assert!(blocked(&*blocks, "192.0.2.81"), "the ban was made");
    let backend = connect(&config(server.url(), "await", 1000)).unwrap();
    let limits = limiter(&backend, OnError::Open, 1.0);
    assert!(check(&limits, &k, 5).is_allowed());
    runtime.block_on(async {
        // Reads pass a write pause: this one holds every command, for good.
        server.cli(&["client", "pause", "60000", "all"]);
        let mut reading = limits.usage_async(&k);
        let polled = reading
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()));
        assert!(polled.is_pending(), "the read held the thread: {polled:?}");
    });
}

/// Behind Sentinel, a failover is followed: the old master, demoted to a replica,
/// refuses writes; the backend asks the sentinel again and moves to the new one.
#[test]
fn a_sentinel_failover_is_followed_to_the_new_master() {
    let master = RedisServer::start();
    let replica = RedisServer::replica_of(&master);
    eventually("the replica is in sync", || {
        replica
            .cli(&["info", "replication"])
            .contains("master_link_status:up")
    });
    let sentinel = RedisServer::sentinel(&master, "execgate-test");
    let config = SharedStateConfig {
        backend: BackendKind::Redis,
        sentinels: vec![sentinel.url()],
        service_name: Some("execgate-test".into()),
        key_prefix: "failover".into(),
        command_timeout: HumanDuration(Duration::from_millis(500)),
        pool_size: 1,
        ..SharedStateConfig::default()
    };
    let backend = connect(&config).unwrap();
    let closed = limiter(&backend, OnError::Closed, 1.0);
    let k = key("client");
    assert!(check(&closed, &k, 100).is_allowed());
    eventually("the sentinel knows the replica and fails over", || {
        sentinel
            .cli(&["sentinel", "failover", "execgate-test"])
            .trim()
            == "OK"
    });
    eventually("the old replica is the master", || {
        replica.cli(&["role"]).starts_with("master")
    });
    eventually("the old master is demoted to a replica", || {
        master.cli(&["role"]).starts_with("slave")
    });
    // Fail closed: only a write accepted by the new master allows the request.
    let newcomer = key("newcomer");
    eventually("a decision is made by the new master", || {
        check(&closed, &newcomer, 100).is_allowed()
    });
    assert_eq!(
        replica.cli(&["exists", &closed.key_of(&newcomer)]).trim(),
        "1",
        "the client's windows are on the new master"
    );
}

/// The anonymous tier's three windows, as the README's sample config has them.
fn three_windows() -> [WindowSpec; 3] {
    let w = |name: &str, q: u32, s: u64| {
        WindowSpec::new(name, NonZeroU32::new(q).unwrap(), Duration::from_secs(s))
    };
    [
        w("burst", 3, 10),
        w("hourly", 10, 3600),
        w("daily", 50, 86_400),
    ]
}

/// A client's three windows cost Redis at most 200 B (`MEMORY USAGE` of the
/// client's hash, key included): only integer TATs and one fingerprint, which
/// Redis keeps as a compact listpack.
#[test]
fn a_clients_three_windows_take_at_most_200_bytes_of_redis() {
    let server = RedisServer::start();
    let backend = connect(&config(server.url(), "execgate", 1000)).unwrap();
    let limiter = limiter(&backend, OnError::Closed, 1.0);
    let k = ClientKey::from_ip("10.0.12.34".parse().unwrap(), 64);
    let d = limiter.check(
        &TierName::anonymous(),
        &k,
        &three_windows(),
        NonZeroU32::MIN,
    );
    assert!(d.is_allowed(), "{d:?}");
    let hash = limiter.key_of(&k);
    assert_eq!(
        server.cli(&["object", "encoding", &hash]).trim(),
        "listpack"
    );
    let bytes: u64 = server
        .cli(&["memory", "usage", &hash])
        .trim()
        .parse()
        .unwrap();
    assert!(bytes <= 200, "{bytes} B for one client's three windows");
    let remaining: Vec<u32> = limiter.usage(&k).iter().map(|w| w.remaining).collect();
    assert_eq!(remaining, [2, 9, 49], "usage names the windows in order");
}

/// A window written by a gateway of the earlier layout (`order:tat:quota:period`)
/// keeps its count: a rolling upgrade gives nobody a fresh quota.
#[test]
fn a_window_in_the_earlier_layout_keeps_its_count() {
    let server = RedisServer::start();
    let backend = connect(&config(server.url(), "upgrade", 1000)).unwrap();
    let limiter = limiter(&backend, OnError::Closed, 1.0);
    let k = key("veteran");
    assert!(check(&limiter, &k, 1).is_allowed());
    let hash = limiter.key_of(&k);
    let tat = server.cli(&["hget", &hash, "burst"]).trim().to_string();
    tat.parse::<u64>().expect("the TAT is stored as an integer");
    server.cli(&["del", &hash]);
    server.cli(&["hset", &hash, "burst", &format!("1:{tat}:1:3600000000")]);
    let d = check(&limiter, &k, 1);
    assert!(!d.is_allowed(), "the earlier layout's TAT was lost: {d:?}");
    assert_eq!(limiter.usage(&k).first().map(|w| w.remaining), Some(0));
}

/// A tier whose windows change keeps the count of the windows that keep
/// their name, and `usage` shows the new set, as the memory limiter does.
#[test]
fn a_changed_window_set_keeps_the_counts_of_windows_that_keep_their_name() {
    let server = RedisServer::start();
    let backend = connect(&config(server.url(), "reload", 1000)).unwrap();
    let clock = Arc::new(ManualClock::default());
    let redis = RedisRateLimiter::new(backend, clock.clone(), OnError::Closed, 1.0);
    let memory = execgate_state::MemoryRateLimiter::new(clock, 100);
    let k = key("steady");
    let tier = TierName::anonymous();
    let windows = three_windows();
    let reloaded = [
        WindowSpec::new(
            "burst",
            NonZeroU32::new(5).unwrap(),
            Duration::from_secs(10),
        ),
        windows[2].clone(),
    ];
    let standing = |l: &dyn RateLimiter, set: &[WindowSpec]| {
        let d = l.check(&tier, &k, set, NonZeroU32::MIN);
        let windows: Vec<(String, u32)> = d
            .windows()
            .iter()
            .map(|w| (w.name.clone(), w.remaining))
            .collect();
        (d.is_allowed(), windows)
    };
    for l in [&redis as &dyn RateLimiter, &memory] {
        assert!(standing(l, &windows).0);
    }
    let after = standing(&redis, &reloaded);
    assert_eq!(after, standing(&memory, &reloaded));
    assert_eq!(
        after.1[1],
        ("daily".to_string(), 48),
        "daily kept its count"
    );
    let hash = redis.key_of(&k);
    assert_eq!(server.cli(&["hexists", &hash, "hourly"]).trim(), "0");
    // Redis counts in microseconds, memory in nanoseconds: compare the counts.
    let counts = |l: &dyn RateLimiter| -> Vec<(String, u32)> {
        l.usage(&k)
            .into_iter()
            .map(|w| (w.name, w.remaining))
            .collect()
    };
    assert_eq!(counts(&redis), counts(&memory));
}

/// A gateway shows the windows of a client decided by another gateway as soon
/// as it knows the tier's window set, before deciding on it itself.
#[test]
fn a_gateway_shows_windows_another_gateway_decided_once_it_expects_the_set() {
    let server = RedisServer::start();
    let a = limiter(
        &connect(&config(server.url(), "two", 1000)).unwrap(),
        OnError::Closed,
        1.0,
    );
    let b = limiter(
        &connect(&config(server.url(), "two", 1000)).unwrap(),
        OnError::Closed,
        1.0,
    );
    let k = key("seen-on-a");
    let windows = three_windows();
    assert!(
        a.check(&TierName::anonymous(), &k, &windows, NonZeroU32::MIN)
            .is_allowed()
    );
    assert!(b.usage(&k).is_empty(), "b has never heard of the set");
    b.expect(&windows);
    let remaining: Vec<u32> = b.usage(&k).iter().map(|w| w.remaining).collect();
    assert_eq!(remaining, [2, 9, 49]);
}

/// The activity window is counted in Redis: requests spread over two gateways
/// add up to one high request rate; while Redis is down each gateway counts alone.
#[test]
fn activity_windows_add_up_across_gateways_and_fall_back_to_local_counts() {
    use execgate_state::{ActivityConfig, ReputationConfig, RequestOutcome};
    let mut server = RedisServer::start();
    let clock = ManualClock::default();
    let config = ReputationConfig {
        activity: ActivityConfig {
            max_requests: 4,
            max_error_ratio: 0.0,
            ..ActivityConfig::default()
        },
        ..ReputationConfig::default()
    };
    let (a, _) = engine_with(server.url(), "act", &clock, config.clone());
    let (b, _) = engine_with(server.url(), "act", &clock, config);
    let k = key("busy");
    let ip = "192.0.2.1".parse().unwrap();
    let served = RequestOutcome::Served;
    for rep in [&a, &b, &a, &b] {
        block_on(rep.observe_request(&k, ip, served, false));
    }
    assert_eq!(a.score(&k), 0.0, "four requests are within the limit");
    block_on(b.observe_request(&k, ip, served, false));
    assert!(
        a.score(&k) > 0.0,
        "the fifth, on either gateway, is one too many"
    );
    server.kill();
    let other = key("offline");
    for _ in 0..4 {
        block_on(a.observe_request(&other, ip, served, false));
    }
    assert_eq!(a.score(&other), 0.0);
    block_on(a.observe_request(&other, ip, served, false));
    assert!(a.score(&other) > 0.0, "counted locally while Redis is down");
}
