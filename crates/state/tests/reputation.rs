//! Reputation on an injected clock: decay, ban escalation, detection-only, allow-list.

use execgate_core::{ClientKey, HumanDuration, ManualClock};
use execgate_state::testing::{RecordNow, block_on};
use execgate_state::{
    BanOutcome, BlockQuery, BlockStore, EventKind, EventLog, MemoryBlockStore, Origin, Reputation,
    ReputationConfig, SecurityEvent,
};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

struct Setup {
    clock: ManualClock,
    blocks: Arc<MemoryBlockStore>,
    events: Arc<EventLog>,
    rep: Reputation,
}

fn setup(config: ReputationConfig) -> Setup {
    let clock = ManualClock::default();
    let blocks = Arc::new(MemoryBlockStore::open(None, Arc::new(clock.clone())).unwrap());
    let events = Arc::new(EventLog::new(100, Arc::new(clock.clone())));
    let rep = Reputation::new(
        config,
        Arc::new(clock.clone()),
        blocks.clone(),
        events.clone(),
    );
    Setup {
        clock,
        blocks,
        events,
        rep,
    }
}

fn config() -> ReputationConfig {
    ReputationConfig {
        ban_threshold: 10.0,
        half_life: HumanDuration(Duration::from_secs(600)),
        ban_base: HumanDuration(Duration::from_secs(600)),
        ban_max: HumanDuration(Duration::from_secs(3000)),
        ..ReputationConfig::default()
    }
}

const IP: &str = "203.0.113.7";

fn ip() -> IpAddr {
    IP.parse().unwrap()
}

fn key() -> ClientKey {
    ClientKey::from_ip(ip(), 64)
}

/// Records timeouts (4 points each) until a ban; the decision.
fn offend(s: &Setup) -> BanOutcome {
    for _ in 0..10 {
        if let Some(outcome) = s
            .rep
            .record_now(&key(), ip(), SecurityEvent::ExecTimeout, false)
        {
            return outcome;
        }
    }
    panic!("never banned");
}

fn ban_length(outcome: &BanOutcome) -> Duration {
    match outcome {
        BanOutcome::Banned(d) => d.expires_at.unwrap().duration_since(d.created_at).unwrap(),
        BanOutcome::WouldBan { duration, .. } => *duration,
    }
}

#[test]
fn scores_decay_with_the_half_life() {
    let s = setup(config());
    s.rep.record_now(
        &key(),
        ip(),
        SecurityEvent::CodeRejected { score: 8 },
        false,
    );
    assert_eq!(s.rep.score(&key()), 8.0);
    s.clock.advance(Duration::from_secs(600));
    assert!((s.rep.score(&key()) - 4.0).abs() < 1e-9);
    s.clock.advance(Duration::from_secs(1200));
    assert!((s.rep.score(&key()) - 1.0).abs() < 1e-9);
    // Decayed points no longer add up to a ban.
    assert!(
        s.rep
            .record_now(
                &key(),
                ip(),
                SecurityEvent::CodeRejected { score: 8 },
                false
            )
            .is_none()
    );
}

#[test]
fn bans_grow_base_times_two_to_the_n_capped_at_max() {
    let s = setup(config());
    let mut lengths = Vec::new();
    for _ in 0..4 {
        let outcome = offend(&s);
        let BanOutcome::Banned(decision) = &outcome else {
            panic!("not banned: {outcome:?}")
        };
        assert_eq!(decision.origin, Origin::Anomaly);
        assert_eq!(decision.value, IP);
        assert!(
            decision.reason.contains("exec_timeout"),
            "{}",
            decision.reason
        );
        lengths.push(ban_length(&outcome).as_secs());
        let client = key();
        let q = BlockQuery {
            ip: ip(),
            client: &client,
            country: None,
            asn: None,
        };
        assert!(s.blocks.check(&q).is_some(), "ban applies at once");
        s.clock
            .advance(ban_length(&outcome) + Duration::from_secs(1));
        assert!(s.blocks.check(&q).is_none(), "ban expires");
    }
    assert_eq!(lengths, vec![600, 1200, 2400, 3000]);
    assert_eq!(s.rep.offences(&key()), 4);
}

#[test]
fn detection_only_logs_would_ban_and_blocks_nothing() {
    let s = setup(ReputationConfig {
        detection_only: true,
        ..config()
    });
    let outcome = offend(&s);
    assert!(
        matches!(outcome, BanOutcome::WouldBan { .. }),
        "{outcome:?}"
    );
    assert!(s.blocks.is_empty());
    let kinds: Vec<EventKind> = s
        .events
        .for_key(&key(), 100)
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds.last(), Some(&EventKind::WouldBan));
}

#[test]
fn allow_listed_clients_are_never_banned() {
    let s = setup(config());
    for _ in 0..20 {
        assert!(
            s.rep
                .record_now(&key(), ip(), SecurityEvent::MemoryKilled, true)
                .is_none()
        );
    }
    assert!(s.rep.score(&key()) > 10.0);
    assert!(s.blocks.is_empty());
}

#[test]
fn forgive_resets_score_and_escalation() {
    let s = setup(config());
    offend(&s);
    s.rep
        .record_now(&key(), ip(), SecurityEvent::RateLimited, false);
    s.rep.forgive(&key());
    assert_eq!(s.rep.score(&key()), 0.0);
    assert_eq!(s.rep.offences(&key()), 0);
    s.clock.advance(Duration::from_secs(601));
    assert_eq!(
        ban_length(&offend(&s)).as_secs(),
        600,
        "back to the base length"
    );
}

#[test]
fn client_keys_are_banned_by_client_and_ipv6_by_prefix() {
    let s = setup(config());
    let client = ClientKey::from_client_id("abc");
    let v6: IpAddr = "2001:db8:1:2::9".parse().unwrap();
    let v6_key = ClientKey::from_ip(v6, 64);
    for k in [&client, &v6_key] {
        for _ in 0..3 {
            s.rep.record_now(k, v6, SecurityEvent::ExecTimeout, false);
        }
    }
    let values: Vec<String> = s
        .blocks
        .list(
            &Default::default(),
            execgate_state::Page {
                offset: 0,
                limit: 10,
            },
        )
        .into_iter()
        .map(|d| d.value)
        .collect();
    assert_eq!(values, vec!["client:abc", "2001:db8:1:2::/64"]);
    let q = BlockQuery {
        ip: "2001:db8:1:2:ffff::1".parse().unwrap(),
        client: &v6_key,
        country: None,
        asn: None,
    };
    assert!(
        s.blocks.check(&q).is_some(),
        "another host of the /64 is banned too"
    );
}

#[test]
fn memory_stays_bounded() {
    let s = setup(ReputationConfig {
        max_clients: 5,
        ..config()
    });
    for i in 0..50 {
        let k = ClientKey::from_client_id(&format!("c{i}"));
        s.rep
            .record_now(&k, ip(), SecurityEvent::RateLimited, false);
    }
    let known = (0..50)
        .filter(|i| s.rep.score(&ClientKey::from_client_id(&format!("c{i}"))) > 0.0)
        .count();
    assert_eq!(known, 5);
}

#[test]
fn config_validation_names_the_key() {
    let mut c = ReputationConfig::default();
    c.weights.exec_timeout = -1.0;
    assert_eq!(
        c.validate().unwrap_err(),
        "reputation.weights.exec_timeout: must be a number of zero or more"
    );
    let c = ReputationConfig {
        ban_max: HumanDuration(Duration::from_secs(1)),
        ..ReputationConfig::default()
    };
    assert!(c.validate().unwrap_err().starts_with("reputation.ban_max:"));
    let c: ReputationConfig =
        toml::from_str("half_life = \"1h\"\n[weights]\nrate_limited = 2.5\n").unwrap();
    assert_eq!(c.weights.rate_limited, 2.5);
    assert!(toml::from_str::<ReputationConfig>("ban_treshold = 3").is_err());
    let c: ReputationConfig =
        toml::from_str("[activity]\nwindow = \"10s\"\nmin_requests = 0\n").unwrap();
    assert_eq!(c.activity.window.get(), Duration::from_secs(10));
    assert_eq!(
        c.validate().unwrap_err(),
        "reputation.activity.min_requests: must be at least 1"
    );
    assert!(ReputationConfig::default().validate().is_ok());
}

#[test]
fn late_events_during_a_ban_make_no_second_ban() {
    let s = setup(config());
    offend(&s);
    for _ in 0..10 {
        assert!(
            s.rep
                .record_now(&key(), ip(), SecurityEvent::ExecTimeout, false)
                .is_none()
        );
    }
    assert_eq!(s.blocks.len(), 1);
    assert_eq!(
        s.rep.offences(&key()),
        1,
        "no escalation for in-flight events"
    );
}

#[test]
fn config_file_errors_name_file_line_and_key() {
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct File {
        reputation: ReputationConfig,
    }
    let text = "[reputation]\nhalf_life = \"10m\"\n\n[reputation.weights]\nexec_timout = 3.0\n";
    let err =
        execgate_core::file_error::parse_toml::<File>(std::path::Path::new("execgate.toml"), text)
            .unwrap_err()
            .to_string();
    assert!(
        err.starts_with("execgate.toml:5: reputation.weights"),
        "{err}"
    );
    assert!(err.contains("unknown field `exec_timout`"), "{err}");
    let bad = "[reputation]\nban_base = \"-1h\"\n";
    let err =
        execgate_core::file_error::parse_toml::<File>(std::path::Path::new("execgate.toml"), bad)
            .unwrap_err()
            .to_string();
    assert!(
        err.starts_with("execgate.toml:2: reputation.ban_base: "),
        "{err}"
    );
}

#[test]
fn a_sub_second_ban_base_is_refused() {
    let c = ReputationConfig {
        ban_base: HumanDuration(Duration::from_millis(500)),
        ..ReputationConfig::default()
    };
    assert_eq!(
        c.validate().unwrap_err(),
        "reputation.ban_base: must be at least 1s"
    );
}

#[test]
fn a_flood_of_fresh_keys_does_not_wipe_a_repeat_offender() {
    let s = setup(ReputationConfig {
        max_clients: 50,
        ..config()
    });
    offend(&s);
    for i in 0..5_000 {
        let k = ClientKey::from_client_id(&format!("flood{i}"));
        s.rep
            .record_now(&k, ip(), SecurityEvent::RateLimited, false);
    }
    assert_eq!(s.rep.offences(&key()), 1, "the ban history survived");
}

fn activity_config() -> ReputationConfig {
    let mut c = config();
    c.activity.max_requests = 5;
    c.activity.min_requests = 4;
    c.activity.max_error_ratio = 0.5;
    c.weights.high_request_rate = 10.0;
    c.weights.high_error_rate = 6.0;
    c
}

#[test]
fn a_client_sending_too_many_requests_in_a_window_is_banned() {
    let s = setup(activity_config());
    for _ in 0..5 {
        let served = execgate_state::RequestOutcome::Served;
        assert!(block_on(s.rep.observe_request(&key(), ip(), served, false)).is_none());
        s.clock.advance(Duration::from_secs(1));
    }
    assert_eq!(s.rep.score(&key()), 0.0, "within the limit nothing counts");
    let outcome = block_on(s.rep.observe_request(
        &key(),
        ip(),
        execgate_state::RequestOutcome::Served,
        false,
    ))
    .expect("the sixth request in the window bans");
    let BanOutcome::Banned(decision) = outcome else {
        panic!("not banned: {outcome:?}")
    };
    assert!(
        decision.reason.contains("high_request_rate"),
        "{}",
        decision.reason
    );
    let kinds: Vec<EventKind> = s
        .events
        .for_key(&key(), 10)
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, vec![EventKind::HighRequestRate, EventKind::Banned]);
}

#[test]
fn a_high_error_rate_counts_once_per_window_and_decays() {
    let s = setup(activity_config());
    let failed = execgate_state::RequestOutcome::Failed;
    for _ in 0..4 {
        block_on(s.rep.observe_request(&key(), ip(), failed, false));
    }
    assert_eq!(s.rep.score(&key()), 6.0, "one high_error_rate event");
    block_on(s.rep.observe_request(&key(), ip(), failed, false));
    assert_eq!(s.rep.score(&key()), 6.0, "once per window");
    s.clock.advance(Duration::from_secs(600));
    assert!(
        (s.rep.score(&key()) - 3.0).abs() < 1e-9,
        "decays like any score"
    );
    let normal = setup(activity_config());
    for i in 0..5 {
        let outcome = if i == 0 {
            failed
        } else {
            execgate_state::RequestOutcome::Served
        };
        block_on(normal.rep.observe_request(&key(), ip(), outcome, false));
    }
    assert_eq!(normal.rep.score(&key()), 0.0, "1 of 5 failed is normal");
}

#[test]
fn allow_listed_clients_may_hammer_without_a_ban() {
    let s = setup(activity_config());
    for _ in 0..100 {
        let served = execgate_state::RequestOutcome::Served;
        assert!(block_on(s.rep.observe_request(&key(), ip(), served, true)).is_none());
    }
    assert!(s.rep.score(&key()) >= 10.0, "scored all the same");
    assert!(s.blocks.is_empty());
}

#[test]
fn an_anomaly_ban_of_a_blocked_client_extends_its_decision() {
    let s = setup(config());
    let manual = s
        .blocks
        .add(execgate_state::NewBlock {
            value: key().as_str().to_string(),
            duration: Some(Duration::from_secs(60)),
            reason: "by hand".into(),
            origin: Origin::Manual,
            created_by: "ops".into(),
        })
        .unwrap();
    let BanOutcome::Banned(ban) = offend(&s) else {
        panic!("not banned")
    };
    assert_eq!(ban.id, manual.id, "one decision for the client");
    assert_eq!(
        ban_length(&BanOutcome::Banned(ban.clone())),
        Duration::from_secs(600)
    );
    assert_eq!(ban.origin, Origin::Anomaly);
    assert_eq!(s.blocks.len(), 1);
}

/// A client already blocked by hand for longer than the ban it earns is not
/// banned again: no event, no offence, the operator's decision stands.
#[test]
fn a_block_that_outlasts_the_ban_is_left_alone() {
    let s = setup(config());
    let manual = s
        .blocks
        .add(execgate_state::NewBlock {
            value: key().as_str().to_string(),
            duration: None,
            reason: "by hand".into(),
            origin: Origin::Manual,
            created_by: "ops".into(),
        })
        .unwrap();
    for _ in 0..10 {
        assert!(
            s.rep
                .record_now(&key(), ip(), SecurityEvent::ExecTimeout, false)
                .is_none()
        );
    }
    assert_eq!(s.rep.offences(&key()), 0, "no offence counted");
    let kept = s.blocks.get(manual.id).unwrap();
    assert_eq!(
        (kept.origin, kept.reason.as_str()),
        (Origin::Manual, "by hand")
    );
    let banned = s
        .events
        .for_key(&key(), 100)
        .into_iter()
        .filter(|e| e.kind == execgate_state::EventKind::Banned)
        .count();
    assert_eq!(banned, 0, "no ban event");
}

/// The README's `[reputation]` sample shows the defaults: it parses, and to
/// exactly `ReputationConfig::default()`.
#[test]
fn readme_reputation_sample_is_the_defaults() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let start = readme
        .find("```toml\n# every key optional; the values shown are the defaults\n[reputation]")
        .expect("the README's [reputation] sample");
    let block = &readme[start + "```toml".len()..];
    let block = &block[..block.find("```").expect("closing fence")];
    #[derive(serde::Deserialize)]
    struct File {
        reputation: ReputationConfig,
    }
    let file: File = toml::from_str(block).expect("the sample parses");
    assert_eq!(file.reputation, ReputationConfig::default());
}
