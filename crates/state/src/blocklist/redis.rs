//! The shared blocklist: decisions live in Redis (ids from one counter, so
//! unique across gateways; one active decision per value, merged by a script
//! as the memory store merges), and every gateway keeps a local
//! [`MemoryBlockStore`] as its index, so a request's lookup never leaves the
//! process. The index follows the shared set through pub/sub: each change
//! carries a version, and a gap in versions, a reconnect or a start triggers a
//! full resync from an atomic snapshot.
//!
//! Keys (one hash tag, so a Cluster keeps them in one slot for the scripts):
//! `{<prefix>:bl}:decisions` (id → JSON), `:values` (value → id), `:expiry`
//! (ids by expiry, for the purge), `:seq`, `:version`; channel `<prefix>:bl:changes`.

use super::memory::MemoryBlockStore;
use super::time::to_millis;
use super::{
    BlockChanges, BlockDecision, BlockError, BlockFilter, BlockQuery, BlockStore, NewBlock, Origin,
    Page, PendingAdd, Scope, Target,
};
use crate::backend::redis::Conn;
use crate::backend::{BackendError, OnError, RedisBackend};
use crate::metrics::StateMetrics;
use execgate_core::Clock;
use futures_util::StreamExt;
use redis::Script;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

static ADD: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/add.lua")));
static REMOVE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/remove.lua")));
static SNAPSHOT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/snapshot.lua")));

/// Expired decisions removed from Redis per purge call.
const PURGE_BATCH: usize = 1000;
/// Least time given to subscribing and reading the snapshot.
const SETUP_WAIT: Duration = Duration::from_secs(1);
/// Longest pause between two attempts to resubscribe.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// A decision as the scripts store it (times in milliseconds since the epoch).
#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    id: u64,
    scope: Scope,
    value: String,
    origin: Origin,
    reason: String,
    created_at: u64,
    #[serde(default)]
    expires_at: Option<u64>,
    created_by: String,
}

/// What `add.lua` is asked to add.
#[derive(Debug, Serialize)]
struct Candidate<'a> {
    scope: Scope,
    value: String,
    origin: Origin,
    reason: &'a str,
    created_by: &'a str,
    expires_at: Option<u64>,
}

/// One change notification.
#[derive(Debug, Deserialize)]
struct Notice {
    v: u64,
    #[serde(default)]
    put: Option<Stored>,
    #[serde(default)]
    del: Option<u64>,
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl Stored {
    fn into_decision(self) -> BlockDecision {
        BlockDecision {
            id: self.id,
            scope: self.scope,
            value: self.value,
            r#type: "ban".into(),
            origin: self.origin,
            reason: self.reason,
            created_at: UNIX_EPOCH + Duration::from_millis(self.created_at),
            expires_at: self
                .expires_at
                .map(|ms| UNIX_EPOCH + Duration::from_millis(ms)),
            created_by: self.created_by,
        }
    }
}

fn parse(raw: &str) -> Result<BlockDecision, String> {
    serde_json::from_str::<Stored>(raw)
        .map(Stored::into_decision)
        .map_err(|e| format!("malformed decision in Redis: {e}"))
}

/// Key names of one deployment's blocklist.
#[derive(Debug, Clone)]
struct Keys {
    keys: [String; 5],
    channel: String,
}

impl Keys {
    fn new(prefix: &str) -> Self {
        let tag = format!("{{{prefix}:bl}}");
        Self {
            keys: ["decisions", "values", "expiry", "seq", "version"].map(|k| format!("{tag}:{k}")),
            channel: format!("{prefix}:bl:changes"),
        }
    }
}

/// The Redis implementation of [`BlockStore`].
#[derive(Debug)]
pub struct RedisBlockStore {
    backend: Arc<RedisBackend>,
    local: Arc<MemoryBlockStore>,
    clock: Arc<dyn Clock>,
    keys: Keys,
    max_entries: usize,
    on_error: OnError,
    /// The version of the shared set the index reflects.
    version: Arc<AtomicU64>,
}

impl RedisBlockStore {
    /// A store on `backend`, loading the shared set now (an error if Redis
    /// cannot be read) and following its changes from then on.
    pub fn open(
        backend: Arc<RedisBackend>,
        clock: Arc<dyn Clock>,
        on_error: OnError,
        metrics: Option<StateMetrics>,
    ) -> Result<Self, String> {
        let mut local = MemoryBlockStore::open(None, clock.clone())
            .map_err(|e| format!("blocklist index: {e}"))?;
        if let Some(m) = metrics {
            local = local.with_metrics(m);
        }
        let store = Self {
            keys: Keys::new(backend.prefix()),
            backend,
            local: Arc::new(local),
            clock,
            max_entries: 1_000_000,
            on_error,
            version: Arc::new(AtomicU64::new(0)),
        };
        store
            .load()
            .map_err(|e| format!("state: cannot load the shared blocklist: {e}"))?;
        store.follow();
        Ok(store)
    }

    /// Caps the number of decisions in the shared set (default one million).
    pub fn with_max_entries(mut self, max: usize) -> Self {
        self.max_entries = max;
        self
    }

    /// The local index (what lookups read).
    pub fn index(&self) -> &Arc<MemoryBlockStore> {
        &self.local
    }

    /// The first snapshot, read while the gateway starts.
    fn load(&self) -> Result<(), BackendError> {
        let keys = self.keys.keys.clone();
        let snapshot: Vec<String> = self.backend.call_at_start(move |mut conn| async move {
            let mut call = SNAPSHOT.prepare_invoke();
            for k in &keys {
                call.key(k);
            }
            call.invoke_async(&mut conn).await
        })?;
        apply_snapshot(&self.local, &self.version, snapshot);
        Ok(())
    }

    /// Subscribes to changes on the backend's runtime, resubscribing (and
    /// resynchronising) with backoff after any loss.
    fn follow(&self) {
        let backend = Arc::downgrade(&self.backend);
        let local = Arc::downgrade(&self.local);
        let version = self.version.clone();
        let keys = self.keys.clone();
        self.backend.spawn(async move {
            let mut backoff = Duration::from_millis(50);
            let mut turn = 0usize;
            loop {
                let (Some(b), Some(l)) = (backend.upgrade(), local.upgrade()) else {
                    return;
                };
                let clients = b.pubsub_clients();
                let client = clients[turn % clients.len()].clone();
                turn += 1;
                let followed = follow_once(&b, &l, &version, &keys, client).await;
                drop((b, l));
                match followed {
                    Ok(()) => backoff = Duration::from_millis(50),
                    Err(e) => {
                        tracing::debug!(error = %e, "shared blocklist: subscription lost");
                    }
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        });
    }

    /// The script call adding `blocks` (checked first): what both of the
    /// store's add paths send.
    fn add_call(
        &self,
        blocks: &[NewBlock],
    ) -> Result<impl FnOnce(Conn) -> AddReply + use<>, BlockError> {
        let now = to_millis(self.clock.now());
        let candidates = self.candidates(blocks, now)?;
        let keys = self.keys.clone();
        let (now_ms, max) = (millis(now), self.max_entries);
        Ok(move |mut conn: Conn| -> AddReply {
            Box::pin(async move {
                let mut call = ADD.prepare_invoke();
                for k in &keys.keys {
                    call.key(k);
                }
                call.arg(now_ms).arg(max).arg(&keys.channel);
                for c in &candidates {
                    call.arg(c);
                }
                call.invoke_async(&mut conn).await
            })
        })
    }

    /// The decisions the add script answered, seen here at once (the notice
    /// that follows changes nothing more).
    fn added(&self, replies: Vec<String>) -> Result<Vec<BlockDecision>, BlockError> {
        let decisions: Vec<BlockDecision> = replies
            .iter()
            .map(|raw| parse(raw).map_err(BlockError::Io))
            .collect::<Result<_, _>>()?;
        for d in &decisions {
            self.local.mirror_put(d.clone()).map_err(BlockError::Io)?;
        }
        Ok(decisions)
    }

    fn candidates(&self, blocks: &[NewBlock], now: SystemTime) -> Result<Vec<String>, BlockError> {
        let targets = self.local.validate_new(blocks)?;
        blocks
            .iter()
            .zip(targets)
            .map(|(b, target): (&NewBlock, Target)| {
                let c = Candidate {
                    scope: target.scope(),
                    value: target.to_string(),
                    origin: b.origin,
                    reason: b.reason.trim(),
                    created_by: &b.created_by,
                    expires_at: b.duration.map(|d| millis(to_millis(now + d))),
                };
                serde_json::to_string(&c).map_err(|e| BlockError::Io(e.to_string()))
            })
            .collect()
    }
}

/// The add script's answer: one decision per candidate, as JSON.
type AddReply = Pin<Box<dyn Future<Output = Result<Vec<String>, redis::RedisError>> + Send>>;

fn apply_snapshot(local: &MemoryBlockStore, version: &AtomicU64, snapshot: Vec<String>) {
    let mut rows = snapshot.into_iter();
    let v = rows.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    let last_id = rows.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    let all: Vec<BlockDecision> = rows
        .filter_map(|raw| {
            parse(&raw)
                .map_err(|e| tracing::warn!(error = %e, "shared blocklist: skipped"))
                .ok()
        })
        .collect();
    // Decisions this gateway added after the snapshot was read stay: their
    // notices may reach this subscription later (a Cluster relays them).
    local.mirror_resync(all, last_id);
    version.store(v, Ordering::Release);
}

/// One subscription: resync once subscribed, then apply notices in version
/// order; a gap resyncs. Returns when the connection is lost.
async fn follow_once(
    backend: &Arc<RedisBackend>,
    local: &Arc<MemoryBlockStore>,
    version: &AtomicU64,
    keys: &Keys,
    client: redis::Client,
) -> Result<(), String> {
    // Every step is bounded: a half-open connection must not stall the follower.
    let bound = backend.wait().max(SETUP_WAIT);
    let subscribed = async {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(&keys.channel).await?;
        let mut conn = backend.conn();
        let mut call = SNAPSHOT.prepare_invoke();
        for k in &keys.keys {
            call.key(k);
        }
        let snapshot = call.invoke_async::<Vec<String>>(&mut conn).await?;
        Ok::<_, redis::RedisError>((pubsub, snapshot))
    };
    let (pubsub, snapshot) = tokio::time::timeout(bound, subscribed)
        .await
        .map_err(|_| format!("no answer within {bound:?}"))?
        .map_err(|e| e.to_string())?;
    apply_snapshot(local, version, snapshot);
    backend.observed(true, None);
    let mut messages = pubsub.into_on_message();
    while let Some(msg) = messages.next().await {
        let Ok(payload) = msg.get_payload::<String>() else {
            continue;
        };
        let Ok(notice) = serde_json::from_str::<Notice>(&payload) else {
            tracing::warn!("shared blocklist: unreadable change notice");
            continue;
        };
        let seen = version.load(Ordering::Acquire);
        if notice.v <= seen {
            continue;
        }
        if notice.v != seen + 1 {
            let mut conn = backend.conn();
            let mut call = SNAPSHOT.prepare_invoke();
            for k in &keys.keys {
                call.key(k);
            }
            let snap: Vec<String> = tokio::time::timeout(bound, call.invoke_async(&mut conn))
                .await
                .map_err(|_| format!("no answer within {bound:?}"))?
                .map_err(|e| e.to_string())?;
            apply_snapshot(local, version, snap);
            continue;
        }
        if let Some(stored) = notice.put
            && let Err(e) = local.mirror_put(stored.into_decision())
        {
            tracing::warn!(error = %e, "shared blocklist: skipped");
        }
        if let Some(id) = notice.del {
            local.mirror_remove(id);
        }
        version.store(notice.v, Ordering::Release);
    }
    Err("subscription closed".into())
}

fn unavailable(e: BackendError) -> BlockError {
    match e {
        BackendError::Reply(m) if m.contains("FULL") => {
            let max = m
                .split_whitespace()
                .filter_map(|w| w.parse().ok())
                .next()
                .unwrap_or(0);
            BlockError::Full { max }
        }
        e => BlockError::Io(format!("shared blocklist: {e}")),
    }
}

impl BlockStore for RedisBlockStore {
    fn check(&self, q: &BlockQuery) -> Option<BlockDecision> {
        let hit = self.local.check(q);
        if hit.is_some() || self.on_error == OnError::Open || self.backend.is_up() {
            return hit;
        }
        self.backend.metrics().fallback("blocklist", "refused");
        Some(BlockDecision {
            id: 0,
            scope: Scope::Ip,
            value: q.ip.to_string(),
            r#type: "ban".into(),
            origin: Origin::Manual,
            reason: "shared blocklist unreachable (on_error = closed)".into(),
            created_at: self.clock.now(),
            expires_at: None,
            created_by: "state".into(),
        })
    }

    fn add(&self, b: NewBlock) -> Result<BlockDecision, BlockError> {
        let mut added = self.add_batch(vec![b])?;
        added
            .pop()
            .ok_or_else(|| BlockError::Io("empty batch".into()))
    }

    fn add_async(&self, b: NewBlock) -> PendingAdd<'_> {
        Box::pin(async move {
            let call = self.add_call(&[b])?;
            let replies = self.backend.call_async(call).await.map_err(unavailable)?;
            self.added(replies)?
                .pop()
                .ok_or_else(|| BlockError::Io("empty batch".into()))
        })
    }

    fn add_batch(&self, blocks: Vec<NewBlock>) -> Result<Vec<BlockDecision>, BlockError> {
        let call = self.add_call(&blocks)?;
        let replies = self.backend.call(call).map_err(unavailable)?;
        self.added(replies)
    }

    fn remove(&self, id: u64) -> Result<Option<BlockDecision>, BlockError> {
        let keys = self.keys.clone();
        let removed: Vec<String> = self
            .backend
            .call(move |mut conn| async move {
                let mut call = REMOVE.prepare_invoke();
                for k in &keys.keys {
                    call.key(k);
                }
                call.arg(&keys.channel).arg("").arg(id);
                call.invoke_async(&mut conn).await
            })
            .map_err(unavailable)?;
        self.local.mirror_remove(id);
        removed
            .first()
            .map(|raw| parse(raw).map_err(BlockError::Io))
            .transpose()
    }

    fn get(&self, id: u64) -> Option<BlockDecision> {
        self.local.get(id)
    }

    fn list(&self, filter: &BlockFilter, page: Page) -> Vec<BlockDecision> {
        self.local.list(filter, page)
    }

    fn held(&self, target: &Target) -> Option<BlockDecision> {
        self.local.held(target)
    }

    fn changes_since(&self, cursor: u64) -> BlockChanges {
        self.local.changes_since(cursor)
    }

    /// Expired decisions leave Redis (every gateway may run this; the script
    /// re-checks each expiry) and the local index.
    fn purge_expired(&self) -> usize {
        // Locally first: the notices of the shared purge then find nothing
        // left, and the count is this gateway's, whoever purged Redis.
        let purged_here = self.local.purge_expired();
        let keys = self.keys.clone();
        let now_ms = millis(self.clock.now());
        let purged = self.backend.call(move |mut conn| async move {
            let ids: Vec<String> = redis::cmd("ZRANGEBYSCORE")
                .arg(&keys.keys[2])
                .arg("-inf")
                .arg(now_ms)
                .arg("LIMIT")
                .arg(0)
                .arg(PURGE_BATCH)
                .query_async(&mut conn)
                .await?;
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let mut call = REMOVE.prepare_invoke();
            for k in &keys.keys {
                call.key(k);
            }
            call.arg(&keys.channel).arg(now_ms);
            for id in &ids {
                call.arg(id);
            }
            call.invoke_async::<Vec<String>>(&mut conn).await
        });
        if let Err(e) = purged {
            tracing::debug!(error = %e, "shared blocklist: purge skipped");
        }
        purged_here
    }

    fn len(&self) -> usize {
        self.local.len()
    }
}
