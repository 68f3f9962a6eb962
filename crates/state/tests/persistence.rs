//! The blocklist on disk: decisions survive restarts and crashes; corrupt
//! files stop start-up with an error naming the file and line.

use execgate_core::ManualClock;
use execgate_state::{
    BlockError, BlockFilter, BlockStore, MemoryBlockStore, NewBlock, Origin, Page,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

fn block(value: &str, secs: Option<u64>) -> NewBlock {
    NewBlock {
        value: value.into(),
        duration: secs.map(Duration::from_secs),
        reason: "persist".into(),
        origin: Origin::Manual,
        created_by: "test".into(),
    }
}

fn open(path: &Path, clock: &ManualClock) -> Result<MemoryBlockStore, BlockError> {
    MemoryBlockStore::open(Some(path), Arc::new(clock.clone()))
}

fn all(s: &MemoryBlockStore) -> Vec<execgate_state::BlockDecision> {
    s.list(
        &BlockFilter::default(),
        Page {
            offset: 0,
            limit: usize::MAX,
        },
    )
}

fn journal(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.journal", path.display()))
}

#[test]
fn decisions_survive_a_restart_and_ids_are_not_reused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blocks.json");
    let clock = ManualClock::default();
    let (kept, max_id) = {
        let s = open(&path, &clock).unwrap();
        let a = s.add(block("203.0.113.7", None)).unwrap();
        s.add(block("198.51.100.0/24", Some(3600))).unwrap();
        let c = s.add(block("client:abc", Some(7200))).unwrap();
        s.remove(a.id).unwrap();
        (all(&s), c.id)
        // dropped without any shutdown step, like a crash after the last acknowledged change
    };
    let s = open(&path, &clock).unwrap();
    assert_eq!(all(&s), kept);
    assert!(s.add(block("192.0.2.1", None)).unwrap().id > max_id);
}

#[test]
fn expired_decisions_are_not_resurrected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blocks.json");
    let clock = ManualClock::default();
    open(&path, &clock)
        .unwrap()
        .add(block("203.0.113.7", Some(60)))
        .unwrap();
    clock.advance(Duration::from_secs(61));
    assert!(open(&path, &clock).unwrap().is_empty());
}

#[test]
fn a_large_journal_is_compacted_into_the_snapshot_and_still_restores() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blocks.json");
    let clock = ManualClock::default();
    {
        let s = open(&path, &clock).unwrap();
        let batch = |base: u32| {
            (0..6000u32)
                .map(|i| block(&format!("10.{}.{}.{}", base, i >> 8, i & 255), None))
                .collect::<Vec<_>>()
        };
        s.add_batch(batch(1)).unwrap();
        s.add_batch(batch(2)).unwrap();
        s.add(block("client:last", None)).unwrap();
        assert!(
            std::fs::metadata(journal(&path)).unwrap().len() > 1_000_000,
            "no request pays for the snapshot"
        );
        s.compact_if_due();
        assert!(
            std::fs::metadata(journal(&path)).unwrap().len() < 1000,
            "upkeep emptied the journal into the snapshot"
        );
    }
    let s = open(&path, &clock).unwrap();
    assert_eq!(s.len(), 12_001);
}

/// Without upkeep the journal is still bounded: past ten times the upkeep
/// mark, the change that crosses it writes the snapshot.
#[test]
fn a_journal_without_upkeep_is_compacted_by_the_change_that_crosses_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blocks.json");
    let clock = ManualClock::default();
    {
        let s = open(&path, &clock).unwrap();
        for base in 0..10u32 {
            let batch: Vec<_> = (0..10_000u32)
                .map(|i| block(&format!("10.{base}.{}.{}", i >> 8, i & 255), None))
                .collect();
            s.add_batch(batch).unwrap();
        }
        assert!(
            std::fs::metadata(journal(&path)).unwrap().len() < 1000,
            "the 100 000th record wrote the snapshot"
        );
    }
    assert_eq!(open(&path, &clock).unwrap().len(), 100_000);
}

#[test]
fn a_corrupt_snapshot_stops_start_up_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blocks.json");
    let clock = ManualClock::default();
    open(&path, &clock)
        .unwrap()
        .add(block("203.0.113.7", None))
        .unwrap();
    std::fs::write(&path, "{\n  \"version\": 1,\n  \"next_id\": oops\n}").unwrap();
    let err = open(&path, &clock).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, BlockError::Corrupt(_)));
    assert!(
        text.starts_with(&format!("{}:3: corrupt blocklist snapshot", path.display())),
        "{text}"
    );
    assert!(
        text.contains("refusing to start with an empty blocklist"),
        "{text}"
    );
}

#[test]
fn a_corrupt_journal_line_names_its_line_and_a_torn_tail_is_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blocks.json");
    let clock = ManualClock::default();
    {
        let s = open(&path, &clock).unwrap();
        s.add(block("203.0.113.7", None)).unwrap();
        s.add(block("203.0.113.8", None)).unwrap();
    }
    let journal = journal(&path);
    let good = std::fs::read_to_string(&journal).unwrap();
    assert_eq!(good.lines().count(), 2);
    // A crash mid-append leaves a torn last line: it was never acknowledged.
    std::fs::write(&journal, format!("{good}{{\"op\":\"add\",\"decis")).unwrap();
    let s = open(&path, &clock).unwrap();
    assert_eq!(s.len(), 2);
    drop(s);
    // The journal was folded into the snapshot at start-up; corrupt it anew.
    let mut lines: Vec<String> = vec![
        r#"{"op":"remove","id":1}"#.into(),
        "garbage".into(),
        r#"{"op":"remove","id":2}"#.into(),
    ];
    lines.push(String::new());
    std::fs::write(&journal, lines.join("\n")).unwrap();
    let err = open(&path, &clock).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("{}:2: corrupt journal record", journal.display())),
        "{err}"
    );
}

#[test]
fn a_store_that_cannot_write_its_journal_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir").join("blocks.json");
    let err = open(&path, &ManualClock::default()).unwrap_err();
    assert!(matches!(err, BlockError::Io(_)), "{err}");
    assert!(err.to_string().contains("missing-dir"), "{err}");
}

#[test]
fn a_crash_between_snapshot_and_journal_truncation_replays_harmlessly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blocks.json");
    let clock = ManualClock::default();
    let (kept, stale_journal) = {
        let s = open(&path, &clock).unwrap();
        let a = s.add(block("203.0.113.7", None)).unwrap();
        s.add(block("203.0.113.8", None)).unwrap();
        s.remove(a.id).unwrap();
        (all(&s), std::fs::read(journal(&path)).unwrap())
    };
    // Reopening folds the journal into the snapshot; put the old journal back,
    // as if the process died after the snapshot rename but before truncating.
    drop(open(&path, &clock).unwrap());
    std::fs::write(journal(&path), stale_journal).unwrap();
    assert_eq!(all(&open(&path, &clock).unwrap()), kept);
}

#[test]
fn merged_decisions_replay_to_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blocks.json");
    let clock = ManualClock::default();
    let kept = {
        let s = open(&path, &clock).unwrap();
        let a = s.add(block("203.0.113.7", Some(60))).unwrap();
        s.add_batch(vec![
            block("203.0.113.7", Some(3600)),
            block("client:abc", Some(60)),
            block("client:abc", None),
        ])
        .unwrap();
        assert_eq!(s.add(block("203.0.113.7", Some(10))).unwrap().id, a.id);
        all(&s)
    };
    assert_eq!(kept.len(), 2);
    let s = open(&path, &clock).unwrap();
    assert_eq!(all(&s), kept, "the journal replays merges");
    drop(s);
    assert_eq!(
        all(&open(&path, &clock).unwrap()),
        kept,
        "and so does the snapshot"
    );
}

#[test]
fn duplicate_values_of_older_files_are_folded_into_one_decision() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blocks.json");
    let decision = |id: u64, expires: &str, reason: &str| {
        format!(
            r#"{{"id":{id},"scope":"ip","value":"203.0.113.7","type":"ban","origin":"manual","reason":"{reason}","created_at":"2026-01-01T00:00:00Z","expires_at":{expires},"created_by":"t"}}"#
        )
    };
    let snapshot = format!(
        r#"{{"version":1,"next_id":4,"decisions":[{},{},{}]}}"#,
        decision(1, r#""2126-01-01T00:00:00Z""#, "first"),
        decision(2, "null", "forever"),
        decision(3, r#""2100-01-01T00:00:00Z""#, "third"),
    );
    std::fs::write(&path, snapshot).unwrap();
    let s = open(&path, &ManualClock::default()).unwrap();
    let kept = all(&s);
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(
        (kept[0].id, kept[0].expires_at, kept[0].reason.as_str()),
        (1, None, "forever")
    );
    let removed = s.remove(1).unwrap();
    assert!(removed.is_some());
    assert!(s.is_empty(), "one delete unblocks");
}

#[test]
fn a_cursor_from_before_a_restart_gets_a_resync() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blocks.json");
    let clock = ManualClock::default();
    let (kept, cursor) = {
        let s = open(&path, &clock).unwrap();
        let kept = s.add(block("203.0.113.7", None)).unwrap();
        let gone = s.add(block("203.0.113.8", None)).unwrap();
        let cursor = s.changes_since(0).cursor;
        s.remove(gone.id).unwrap();
        (kept, cursor)
    };
    let s = open(&path, &clock).unwrap();
    let later = s.add(block("203.0.113.9", None)).unwrap();
    for i in 0..5 {
        s.add(block(&format!("client:c{i}"), None)).unwrap();
    }
    let pulled = s.changes_since(cursor);
    assert!(
        pulled.resync,
        "the old cursor means nothing to the new store"
    );
    assert_eq!(pulled.new.len(), 7);
    assert_eq!(pulled.new[..2], [kept, later]);
    let next = s.changes_since(pulled.cursor);
    assert!(!next.resync && next.new.is_empty() && next.deleted.is_empty());
}

#[test]
fn a_snapshot_with_a_duplicate_id_stops_start_up_naming_its_line() {
    // Regression: the second decision of an id silently replaced the first.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blocks.json");
    let decision = |value: &str| {
        format!(
            r#"{{"id":2,"scope":"ip","value":"{value}","type":"ban","origin":"manual","reason":"r","created_at":"2026-01-01T00:00:00Z","expires_at":null,"created_by":"t"}}"#
        )
    };
    let text = format!(
        "{{\n  \"version\": 1,\n  \"next_id\": 3,\n  \"decisions\": [\n    {},\n    {}\n  ]\n}}\n",
        decision("203.0.113.7"),
        decision("203.0.113.8"),
    );
    std::fs::write(&path, text).unwrap();
    let err = open(&path, &ManualClock::default()).unwrap_err();
    assert!(matches!(err, BlockError::Corrupt(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("{}:6: duplicate decision id 2", path.display())),
        "{text}"
    );
}
