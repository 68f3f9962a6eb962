//! Scores and ban counts shared by every gateway through Redis: one hash per
//! client, `<prefix>:rep:{<client key>}` (the client's hash tag), updated by
//! one script per event ([`standing.lua`](standing.lua)) that decays, adds and,
//! at the threshold, claims the ban: two gateways feeding one client's events
//! make one ban, once. Each client's activity window (request rate, error
//! ratio) is counted in `<prefix>:act:{<client key>}` by
//! [`activity.lua`](activity.lua), so requests spread over gateways add up.

use super::SecurityEvent;
use super::activity::{ActivityConfig, RequestOutcome};
use crate::backend::redis::Conn;
use crate::backend::{BackendError, OnError, RedisBackend};
use execgate_core::ClientKey;
use redis::{RedisError, Script, ScriptInvocation};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

static STANDING: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("standing.lua")));
static ACTIVITY: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("activity.lua")));

/// A client forgotten after this long without events (its score has decayed
/// to nothing and its ban count restarts).
const KEEP: Duration = Duration::from_secs(7 * 86_400);

/// The result of one event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Scored {
    /// The score the event brought the client to.
    pub(super) score: f64,
    /// Bans before this event.
    pub(super) offences: u32,
    /// Whether this event claimed the ban (the caller makes it).
    pub(super) claimed: bool,
}

/// Reputation standings in Redis.
#[derive(Debug, Clone)]
pub struct SharedStandings {
    backend: Arc<RedisBackend>,
    on_error: OnError,
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl SharedStandings {
    /// Standings on `backend`; while it is unreachable, `on_error` says whether
    /// requests go on (scored by this gateway alone) or are refused.
    pub fn new(backend: Arc<RedisBackend>, on_error: OnError) -> Self {
        Self { backend, on_error }
    }

    /// The backend's metrics (the fallback counters).
    pub(super) fn backend_metrics(&self) -> &crate::backend::BackendMetrics {
        self.backend.metrics()
    }

    /// Whether a request may go on now: always when failing open; when failing
    /// closed, only while the shared standings are reachable.
    pub(super) fn admits(&self) -> bool {
        self.on_error == OnError::Open || self.backend.is_up()
    }

    fn key(&self, client: &ClientKey) -> String {
        format!("{}:rep:{{{}}}", self.backend.prefix(), client.as_str())
    }

    /// Decays, adds `points` and claims the ban at `threshold` when `may_ban`.
    /// Awaited: Redis scores without holding the caller's thread.
    pub(super) async fn add(
        &self,
        client: &ClientKey,
        points: f64,
        now: SystemTime,
        half_life: Duration,
        threshold: f64,
        may_ban: bool,
    ) -> Result<Scored, BackendError> {
        let mut call = STANDING.key(self.key(client));
        call.arg(millis(now))
            .arg(half_life.as_millis().max(1) as u64)
            .arg(points)
            .arg(threshold)
            .arg(u8::from(may_ban))
            .arg(KEEP.as_millis() as u64);
        let (score, offences, claimed): (String, u32, u8) = self
            .backend
            .call_async(move |mut conn| async move { call.invoke_async(&mut conn).await })
            .await?;
        let score = score
            .parse()
            .map_err(|_| BackendError::Reply(format!("unexpected score {score:?}")))?;
        Ok(Scored {
            score,
            offences,
            claimed: claimed == 1,
        })
    }

    /// Counts a finished request in the client's shared activity window; the
    /// anomalies it makes the window cross (each at most once per window, on
    /// whichever gateway's request crosses it).
    pub(super) async fn count_activity(
        &self,
        client: &ClientKey,
        now: SystemTime,
        config: &ActivityConfig,
        outcome: RequestOutcome,
    ) -> Result<Vec<SecurityEvent>, BackendError> {
        let call = self.activity_call(client, now, config, outcome);
        self.backend
            .call_async(|conn| count(call, conn))
            .await
            .map(crossed)
    }

    fn activity_call(
        &self,
        client: &ClientKey,
        now: SystemTime,
        config: &ActivityConfig,
        outcome: RequestOutcome,
    ) -> ScriptInvocation<'static> {
        let window = u64::try_from(config.window.get().as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let mut call = ACTIVITY.key(format!(
            "{}:act:{{{}}}",
            self.backend.prefix(),
            client.as_str()
        ));
        call.arg(millis(now))
            .arg(window)
            .arg(u8::from(outcome == RequestOutcome::Failed))
            .arg(config.max_requests)
            .arg(format!("{:.17}", config.max_error_ratio))
            .arg(config.min_requests);
        call
    }

    /// Takes back a claimed ban that was not made (the client was already blocked).
    pub(super) async fn unclaim(&self, client: &ClientKey) -> Result<(), BackendError> {
        let key = self.key(client);
        self.backend
            .call_async(move |mut conn| async move {
                redis::cmd("HINCRBY")
                    .arg(key)
                    .arg("offences")
                    .arg(-1)
                    .query_async::<i64>(&mut conn)
                    .await
                    .map(|_| ())
            })
            .await
    }

    /// (decayed score, offences) of a client; zeros when unknown.
    pub(super) fn read(
        &self,
        client: &ClientKey,
        now: SystemTime,
        half_life: Duration,
    ) -> Result<(f64, u32), BackendError> {
        let key = self.key(client);
        let (score, at, offences): (Option<f64>, Option<u64>, Option<u32>) =
            self.backend.call(move |mut conn| async move {
                redis::cmd("HMGET")
                    .arg(key)
                    .arg("score")
                    .arg("at")
                    .arg("offences")
                    .query_async(&mut conn)
                    .await
            })?;
        let elapsed = millis(now).saturating_sub(at.unwrap_or(0)) as f64 / 1000.0;
        let decayed = score.unwrap_or(0.0) * 0.5f64.powf(elapsed / half_life.as_secs_f64());
        Ok((decayed, offences.unwrap_or(0)))
    }

    /// Forgets a client.
    pub(super) fn forget(&self, client: &ClientKey) -> Result<(), BackendError> {
        let key = self.key(client);
        self.backend.call(move |mut conn| async move {
            redis::cmd("DEL")
                .arg(key)
                .query_async::<i64>(&mut conn)
                .await
                .map(|_| ())
        })
    }
}

/// The activity script run on one connection: (request rate crossed, error rate crossed).
async fn count(call: ScriptInvocation<'static>, mut conn: Conn) -> Result<(u8, u8), RedisError> {
    call.invoke_async(&mut conn).await
}

/// The anomalies a count reported.
fn crossed((rate, errors): (u8, u8)) -> Vec<SecurityEvent> {
    [
        (rate, SecurityEvent::HighRequestRate),
        (errors, SecurityEvent::HighErrorRate),
    ]
    .into_iter()
    .filter(|(flag, _)| *flag == 1)
    .map(|(_, event)| event)
    .collect()
}
