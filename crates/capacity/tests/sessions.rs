//! Sessions: caps per session, independent of each other, ending after idle
//! time, with a table bounded per client and in total against hostile ids.

use execgate_capacity::{
    CapacityConfig, RunCost, SessionCaps, SessionId, SessionLimit, SessionSettings, Sessions,
};
use execgate_core::{ClientKey, ManualClock, TierName};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

fn free() -> TierName {
    TierName("free".into())
}

fn client(id: &str) -> ClientKey {
    ClientKey::from_client_id(id)
}

fn sid(s: &str) -> SessionId {
    SessionId::parse(s).unwrap()
}

fn run(cpu_ms: u64, wall_ms: u64) -> RunCost {
    RunCost {
        cpu: Duration::from_millis(cpu_ms),
        wall: Duration::from_millis(wall_ms),
        memory_bytes: 0,
        estimated: false,
    }
}

fn sessions(caps: SessionCaps, per_client: usize, total: usize) -> (Sessions, ManualClock) {
    let clock = ManualClock::default();
    let settings = SessionSettings {
        idle: Duration::from_secs(600),
        per_client_max: per_client,
        total_max: total,
        tiers: BTreeMap::from([(free(), caps)]),
    };
    (Sessions::new(settings, Arc::new(clock.clone())), clock)
}

#[test]
fn each_session_hits_its_execution_cap_on_its_own() {
    let caps = SessionCaps {
        executions: Some(2),
        ..SessionCaps::default()
    };
    let (s, _) = sessions(caps, 16, 100);
    let c = client("a");
    for _ in 0..2 {
        assert_eq!(s.begin(&c, &free(), &sid("one")), Ok(()));
    }
    assert_eq!(
        s.begin(&c, &free(), &sid("one")),
        Err(SessionLimit::Executions)
    );
    assert_eq!(
        s.check(&c, &free(), &sid("one")),
        Err(SessionLimit::Executions)
    );
    assert_eq!(s.begin(&c, &free(), &sid("two")), Ok(()));
    // Another client's session of the same name is another session.
    assert_eq!(s.begin(&client("b"), &free(), &sid("one")), Ok(()));
}

#[test]
fn cpu_and_wall_caps_count_the_charged_figures() {
    let caps = SessionCaps {
        cpu: Some(Duration::from_secs(1)),
        wall: Some(Duration::from_secs(5)),
        ..SessionCaps::default()
    };
    let (s, _) = sessions(caps, 16, 100);
    let c = client("a");
    s.begin(&c, &free(), &sid("cpu")).unwrap();
    s.charge(&c, &sid("cpu"), &run(999, 1000));
    assert_eq!(s.begin(&c, &free(), &sid("cpu")), Ok(()));
    s.charge(&c, &sid("cpu"), &run(1, 1000));
    assert_eq!(
        s.begin(&c, &free(), &sid("cpu")),
        Err(SessionLimit::CpuSeconds)
    );
    s.begin(&c, &free(), &sid("wall")).unwrap();
    s.charge(&c, &sid("wall"), &run(10, 5000));
    assert_eq!(
        s.begin(&c, &free(), &sid("wall")),
        Err(SessionLimit::WallSeconds)
    );
    let view = s.of(&c);
    let ids: Vec<&str> = view.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(ids, ["cpu", "wall"]);
    assert_eq!((view[0].usage.executions, view[0].usage.cpu_ms), (2, 1000));
}

#[test]
fn a_session_idle_past_its_expiry_ends_and_starts_afresh() {
    let caps = SessionCaps {
        executions: Some(1),
        ..SessionCaps::default()
    };
    let (s, clock) = sessions(caps, 16, 100);
    let c = client("a");
    s.begin(&c, &free(), &sid("x")).unwrap();
    clock.advance(Duration::from_secs(599));
    assert_eq!(
        s.begin(&c, &free(), &sid("x")),
        Err(SessionLimit::Executions)
    );
    clock.advance(Duration::from_secs(2));
    assert_eq!(s.of(&c), []);
    assert_eq!(s.begin(&c, &free(), &sid("x")), Ok(()));
}

#[test]
fn sessions_are_bounded_per_client_and_in_total() {
    let (s, clock) = sessions(SessionCaps::default(), 2, 3);
    let (a, b) = (client("a"), client("b"));
    s.begin(&a, &free(), &sid("1")).unwrap();
    s.begin(&a, &free(), &sid("2")).unwrap();
    assert_eq!(
        s.begin(&a, &free(), &sid("3")),
        Err(SessionLimit::SessionsPerClient)
    );
    // A session already open still runs.
    assert_eq!(s.begin(&a, &free(), &sid("1")), Ok(()));
    s.begin(&b, &free(), &sid("1")).unwrap();
    assert_eq!(
        s.begin(&b, &free(), &sid("2")),
        Err(SessionLimit::SessionsTotal)
    );
    assert_eq!(s.len(), 3);
    // Idle sessions are swept once the table is full.
    clock.advance(Duration::from_secs(601));
    assert_eq!(s.begin(&client("c"), &free(), &sid("1")), Ok(()));
    assert_eq!(s.len(), 1);
}

#[test]
fn a_refused_check_opens_no_session() {
    let (s, _) = sessions(SessionCaps::default(), 1, 10);
    let a = client("a");
    assert_eq!(s.check(&a, &free(), &sid("1")), Ok(()));
    assert!(s.is_empty(), "a check only looks");
    s.begin(&a, &free(), &sid("1")).unwrap();
    assert_eq!(
        s.check(&a, &free(), &sid("2")),
        Err(SessionLimit::SessionsPerClient)
    );
}

#[test]
fn hostile_session_ids_are_refused() {
    for bad in [
        "",
        &"a".repeat(65),
        "has space",
        "new\nline",
        "ünï",
        "semi;colon",
        "slash/",
    ] {
        assert!(SessionId::parse(bad).is_err(), "{bad:?} was taken");
    }
    for good in ["a", "exam-2026.12:07_x", &"z".repeat(64)] {
        assert_eq!(SessionId::parse(good).unwrap().as_str(), good);
    }
}

fn validate(text: &str) -> Result<execgate_capacity::CapacitySettings, (String, String)> {
    let cfg: CapacityConfig = toml::from_str(text).unwrap();
    let tiers: BTreeSet<TierName> = ["anonymous", "free", "paid"]
        .into_iter()
        .map(|t| TierName(t.into()))
        .collect();
    cfg.validate(&tiers, None, std::path::Path::new("."), &|_| None)
}

#[test]
fn session_settings_are_validated_by_key() {
    let ok = validate(
        "[sessions]\nidle = \"5m\"\nper_client_max = 4\n[tiers.free]\nsession_executions = 3\nsession_cpu_seconds = 1.5\n",
    )
    .unwrap();
    assert_eq!(ok.sessions.idle, Duration::from_secs(300));
    assert_eq!(ok.sessions.per_client_max, 4);
    assert_eq!(
        ok.sessions.tiers[&free()],
        SessionCaps {
            executions: Some(3),
            cpu: Some(Duration::from_millis(1500)),
            wall: None
        }
    );
    for (text, key) in [
        ("[sessions]\nidle = \"0s\"\n", "capacity.sessions.idle"),
        ("[sessions]\ntotal_max = 0\n", "capacity.sessions.total_max"),
        (
            "[tiers.free]\nsession_cpu_seconds = -1.0\n",
            "capacity.tiers.free.session_cpu_seconds",
        ),
        (
            "[tiers.paid]\nsession_wall_seconds = 1e300\n",
            "capacity.tiers.paid.session_wall_seconds",
        ),
        (
            "[tiers.free]\nsession_executions = 0\n",
            "capacity.tiers.free.session_executions",
        ),
    ] {
        assert_eq!(validate(text).unwrap_err().0, key, "{text}");
    }
}
