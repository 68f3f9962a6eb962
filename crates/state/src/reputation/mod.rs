//! Client reputation: security events raise a score that decays with a
//! half-life; past the threshold the client is banned through the blocklist
//! for `ban_base × 2^n` (n = earlier bans, capped at `ban_max`), like
//! fail2ban's `bantime.increment`. Besides the events a request reports, each
//! client's request frequency and error rate are watched (see `activity`).
//!
//! The `[reputation]` config section is documented in the README (Anomaly
//! scoring and automatic bans); `tests/reputation.rs` checks that the
//! README's sample is exactly the defaults of [`ReputationConfig`].

mod activity;
mod shared;

pub use activity::{ActivityConfig, RequestOutcome};
pub use shared::SharedStandings;

use crate::blocklist::{BlockDecision, BlockStore, MIN_DURATION, NewBlock, Origin, Target};
use crate::events::{EventKind, EventLog};
use crate::metrics::StateMetrics;
use execgate_core::{ClientKey, Clock, HumanDuration};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The `[reputation]` config section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReputationConfig {
    /// Time for a score to halve with no new events (default `"10m"`).
    pub half_life: HumanDuration,
    /// Score at which a client is banned (default 20).
    pub ban_threshold: f64,
    /// Length of a first ban (default `"10m"`, at least `"1s"`); each later ban doubles it.
    pub ban_base: HumanDuration,
    /// Longest ban (default `"24h"`).
    pub ban_max: HumanDuration,
    /// Log "would ban" instead of banning (default false).
    pub detection_only: bool,
    /// Clients remembered at most; the lowest scores are forgotten first (default 100000).
    pub max_clients: usize,
    /// Points per event.
    pub weights: Weights,
    /// Request frequency and error rate limits (the `[reputation.activity]` table).
    pub activity: ActivityConfig,
}

/// Points each event adds to a client's score (the `[reputation.weights]` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Weights {
    /// Per screening point of refused code (a critical finding is 5 points; default 1).
    pub code_rejected_per_point: f64,
    /// Per rate-limit refusal (default 1).
    pub rate_limited: f64,
    /// Per body-cap refusal (default 2).
    pub body_too_large: f64,
    /// Per execution time-out (default 4).
    pub exec_timeout: f64,
    /// Per out-of-memory kill (default 4).
    pub memory_killed: f64,
    /// Per output-limit kill (default 2).
    pub output_limit: f64,
    /// Per outbound leak point (default 1).
    pub output_leak_per_point: f64,
    /// Per executor error (default 0.5).
    pub upstream_error: f64,
    /// Per other refusal, e.g. invalid credentials or malformed bodies (default 1).
    pub refused: f64,
    /// Per activity window with more requests than `activity.max_requests` (default 5).
    pub high_request_rate: f64,
    /// Per activity window whose failed share reached `activity.max_error_ratio` (default 5).
    pub high_error_rate: f64,
}

impl Default for ReputationConfig {
    fn default() -> Self {
        Self {
            half_life: HumanDuration(Duration::from_secs(600)),
            ban_threshold: 20.0,
            ban_base: HumanDuration(Duration::from_secs(600)),
            ban_max: HumanDuration(Duration::from_secs(86_400)),
            detection_only: false,
            max_clients: 100_000,
            weights: Weights::default(),
            activity: ActivityConfig::default(),
        }
    }
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            code_rejected_per_point: 1.0,
            rate_limited: 1.0,
            body_too_large: 2.0,
            exec_timeout: 4.0,
            memory_killed: 4.0,
            output_limit: 2.0,
            output_leak_per_point: 1.0,
            upstream_error: 0.5,
            refused: 1.0,
            high_request_rate: 5.0,
            high_error_rate: 5.0,
        }
    }
}

impl ReputationConfig {
    /// Checks the values; the error names the key (`reputation.weights.exec_timeout: …`).
    pub fn validate(&self) -> Result<(), String> {
        let positive = |key: &str, d: HumanDuration| {
            if d.get().is_zero() {
                Err(format!("reputation.{key}: must be longer than zero"))
            } else {
                Ok(())
            }
        };
        positive("half_life", self.half_life)?;
        if self.ban_base.get() < MIN_DURATION {
            // The blocklist refuses shorter decisions: every ban would fail.
            return Err("reputation.ban_base: must be at least 1s".into());
        }
        if self.ban_max < self.ban_base {
            return Err("reputation.ban_max: must not be shorter than ban_base".into());
        }
        if !(self.ban_threshold.is_finite() && self.ban_threshold > 0.0) {
            return Err("reputation.ban_threshold: must be a number above zero".into());
        }
        if self.max_clients == 0 {
            return Err("reputation.max_clients: must be at least 1".into());
        }
        let w = &self.weights;
        let weights = [
            ("code_rejected_per_point", w.code_rejected_per_point),
            ("rate_limited", w.rate_limited),
            ("body_too_large", w.body_too_large),
            ("exec_timeout", w.exec_timeout),
            ("memory_killed", w.memory_killed),
            ("output_limit", w.output_limit),
            ("output_leak_per_point", w.output_leak_per_point),
            ("upstream_error", w.upstream_error),
            ("refused", w.refused),
            ("high_request_rate", w.high_request_rate),
            ("high_error_rate", w.high_error_rate),
        ];
        match weights.iter().find(|(_, v)| !(v.is_finite() && *v >= 0.0)) {
            Some((key, _)) => Err(format!(
                "reputation.weights.{key}: must be a number of zero or more"
            )),
            None => self.activity.validate(),
        }
    }
}

/// Something a client did that counts against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityEvent {
    /// Screening refused the code with this score.
    CodeRejected {
        /// The screening score.
        score: u32,
    },
    /// A rate-limit refusal.
    RateLimited,
    /// A body-cap refusal.
    BodyTooLarge,
    /// The executor timed out.
    ExecTimeout,
    /// The executor killed the program for memory.
    MemoryKilled,
    /// The program hit an output limit.
    OutputLimit,
    /// Outbound leak findings with this score.
    OutputLeak {
        /// The outbound score.
        score: u32,
    },
    /// The executor failed.
    UpstreamError,
    /// Any other refusal.
    Refused,
    /// More requests in one activity window than `activity.max_requests`.
    HighRequestRate,
    /// The failed share of an activity window reached `activity.max_error_ratio`.
    HighErrorRate,
}

impl SecurityEvent {
    /// The event-log kind of this event.
    pub fn kind(self) -> EventKind {
        match self {
            SecurityEvent::CodeRejected { .. } => EventKind::CodeRejected,
            SecurityEvent::RateLimited => EventKind::RateLimited,
            SecurityEvent::BodyTooLarge => EventKind::BodyTooLarge,
            SecurityEvent::ExecTimeout => EventKind::ExecTimeout,
            SecurityEvent::MemoryKilled => EventKind::MemoryKilled,
            SecurityEvent::OutputLimit => EventKind::OutputLimit,
            SecurityEvent::OutputLeak { .. } => EventKind::OutputLeak,
            SecurityEvent::UpstreamError => EventKind::UpstreamError,
            SecurityEvent::Refused => EventKind::Refused,
            SecurityEvent::HighRequestRate => EventKind::HighRequestRate,
            SecurityEvent::HighErrorRate => EventKind::HighErrorRate,
        }
    }

    /// The snake_case name used in logs, metrics labels and ban reasons.
    pub fn name(self) -> &'static str {
        match self.kind() {
            EventKind::CodeRejected => "code_rejected",
            EventKind::RateLimited => "rate_limited",
            EventKind::BodyTooLarge => "body_too_large",
            EventKind::ExecTimeout => "exec_timeout",
            EventKind::MemoryKilled => "memory_killed",
            EventKind::OutputLimit => "output_limit",
            EventKind::OutputLeak => "output_leak",
            EventKind::UpstreamError => "upstream_error",
            EventKind::HighRequestRate => "high_request_rate",
            EventKind::HighErrorRate => "high_error_rate",
            _ => "refused",
        }
    }

    fn points(self, w: &Weights) -> f64 {
        match self {
            SecurityEvent::CodeRejected { score } => w.code_rejected_per_point * f64::from(score),
            SecurityEvent::RateLimited => w.rate_limited,
            SecurityEvent::BodyTooLarge => w.body_too_large,
            SecurityEvent::ExecTimeout => w.exec_timeout,
            SecurityEvent::MemoryKilled => w.memory_killed,
            SecurityEvent::OutputLimit => w.output_limit,
            SecurityEvent::OutputLeak { score } => w.output_leak_per_point * f64::from(score),
            SecurityEvent::UpstreamError => w.upstream_error,
            SecurityEvent::Refused => w.refused,
            SecurityEvent::HighRequestRate => w.high_request_rate,
            SecurityEvent::HighErrorRate => w.high_error_rate,
        }
    }
}

/// What crossing the threshold led to.
#[derive(Debug, Clone, PartialEq)]
pub enum BanOutcome {
    /// The client is on the blocklist.
    Banned(BlockDecision),
    /// Detection-only mode: this ban was logged, not made.
    WouldBan {
        /// How long the ban would have lasted.
        duration: Duration,
        /// The score that crossed the threshold.
        score: f64,
    },
}

/// Clients looked at to choose one to forget when the table is full.
const EVICTION_SAMPLE: usize = 16;

/// The client and event that crossed the threshold, and the ban it earns.
#[derive(Debug, Clone, Copy)]
struct Offence<'a> {
    key: &'a ClientKey,
    ip: IpAddr,
    event: SecurityEvent,
    score: f64,
    duration: Duration,
}

/// A client's standing.
#[derive(Debug, Clone, Copy)]
struct Standing {
    score: f64,
    at: SystemTime,
    offences: u32,
    window: activity::Window,
}

/// The reputation engine.
pub struct Reputation {
    config: ReputationConfig,
    clock: Arc<dyn Clock>,
    blocks: Arc<dyn BlockStore>,
    events: Arc<EventLog>,
    clients: Mutex<HashMap<ClientKey, Standing>>,
    metrics: Option<StateMetrics>,
    /// Scores and ban counts shared with other gateways; while unreachable,
    /// events are scored locally.
    shared: Option<SharedStandings>,
    /// Points scored locally while the shared standings were unreachable, added
    /// to them (without banning) once they answer again.
    pending: Mutex<HashMap<ClientKey, f64>>,
    /// Told every score this gateway computes (the console's top clients).
    observer: Option<ScoreObserver>,
}

/// Told a client's new score and when it was reached; 0 when a ban or
/// forgiveness cleared it. Called on the request path: it must be cheap.
pub type ScoreObserver = Arc<dyn Fn(&ClientKey, f64, SystemTime) + Send + Sync>;

impl std::fmt::Debug for Reputation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reputation")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Reputation {
    /// An engine banning through `blocks` and recording into `events`; `config` should be validated.
    pub fn new(
        config: ReputationConfig,
        clock: Arc<dyn Clock>,
        blocks: Arc<dyn BlockStore>,
        events: Arc<EventLog>,
    ) -> Self {
        Self {
            config,
            clock,
            blocks,
            events,
            clients: Mutex::new(HashMap::new()),
            metrics: None,
            shared: None,
            pending: Mutex::new(HashMap::new()),
            observer: None,
        }
    }

    /// Tells `observer` every score computed here.
    pub fn with_score_observer(mut self, observer: ScoreObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    fn observe(&self, key: &ClientKey, score: f64, at: SystemTime) {
        if let Some(observer) = &self.observer {
            observer(key, score, at);
        }
    }

    /// Keeps scores and ban counts in Redis, shared by every gateway.
    pub fn with_shared(mut self, shared: SharedStandings) -> Self {
        self.shared = Some(shared);
        self
    }

    /// Whether scores live in Redis, shared with other gateways: recording an
    /// event then waits on a round trip.
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// Whether requests may be served now: `false` only while the shared
    /// standings are unreachable and reputation fails closed
    /// (`[state.reputation] on_error = "closed"`): a ban earned across gateways
    /// could not be seen.
    pub fn admits(&self) -> bool {
        let admits = self.shared.as_ref().is_none_or(SharedStandings::admits);
        if let (false, Some(shared)) = (admits, &self.shared) {
            shared.backend_metrics().fallback("reputation", "refused");
        }
        admits
    }

    /// Reports scores and anomaly bans to `metrics`.
    pub fn with_metrics(mut self, metrics: StateMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Adds `event` to the client's score; bans (or logs "would ban") past the threshold.
    /// Allow-listed clients are scored but never banned.
    ///
    /// Awaited: shared standings and a shared blocklist answer without holding
    /// the caller's thread.
    pub async fn record(
        &self,
        key: &ClientKey,
        ip: IpAddr,
        event: SecurityEvent,
        allow_listed: bool,
    ) -> Option<BanOutcome> {
        self.record_with(key, ip, event, allow_listed, Vec::new())
            .await
    }

    /// `record`, keeping the screening findings behind the event in the event log.
    pub async fn record_with(
        &self,
        key: &ClientKey,
        ip: IpAddr,
        event: SecurityEvent,
        allow_listed: bool,
        findings: Vec<crate::events::EventFinding>,
    ) -> Option<BanOutcome> {
        let now = self.clock.now();
        let points = event.points(&self.config.weights);
        let may_ban = !allow_listed;
        let shared = match &self.shared {
            Some(s) => {
                self.flush_pending(s, now).await;
                s.add(
                    key,
                    points,
                    now,
                    self.config.half_life.get(),
                    self.config.ban_threshold,
                    may_ban,
                )
                .await
                .map_err(
                    |e| tracing::debug!(client = %key, error = %e, "reputation scored locally"),
                )
                .ok()
            }
            None => None,
        };
        let (score, offences) = match shared {
            Some(scored) => (scored.score, scored.offences),
            None => {
                if self.shared.is_some() {
                    let mut pending = self.pending.lock();
                    if pending.len() < self.config.max_clients || pending.contains_key(key) {
                        *pending.entry(key.clone()).or_default() += points;
                    }
                }
                self.add_points(key, points, now)
            }
        };
        self.events.push_with(
            event.kind(),
            key,
            Some(ip),
            format!("{} (score {score:.1})", event.name()),
            findings,
        );
        if let Some(m) = &self.metrics {
            m.observe_score(score);
        }
        self.observe(key, score, now);
        if score < self.config.ban_threshold || allow_listed {
            return None;
        }
        // Another gateway's event claimed this ban first.
        if shared.is_some_and(|s| !s.claimed) {
            return None;
        }
        let duration = self.ban_length(offences);
        if !self.config.detection_only && self.already_banned(key, now + duration) {
            // Late events of requests in flight when the ban started, or a block
            // that outlasts this ban anyway: no second ban.
            match (&self.shared, shared) {
                (Some(s), Some(_)) => {
                    if let Err(e) = s.unclaim(key).await {
                        tracing::warn!(client = %key, error = %e, "reputation: ban count not restored");
                    }
                }
                _ => self.settle(key, false),
            }
            return None;
        }
        let offence = Offence {
            key,
            ip,
            event,
            score,
            duration,
        };
        let outcome = if self.config.detection_only {
            self.would_ban(&offence)
        } else {
            self.ban(&offence).await?
        };
        if shared.is_none() {
            self.settle(key, true);
        }
        self.observe(key, 0.0, now);
        Some(outcome)
    }

    /// Adds the points scored locally during an outage to the shared standings;
    /// what cannot be written yet stays pending. The points are not decayed for
    /// the time they waited, and they never ban by themselves: the client's next
    /// event does.
    async fn flush_pending(&self, shared: &SharedStandings, now: SystemTime) {
        let waiting: Vec<(ClientKey, f64)> = {
            let mut pending = self.pending.lock();
            if pending.is_empty() {
                return;
            }
            pending.drain().collect()
        };
        let mut left = waiting.into_iter();
        for (key, points) in left.by_ref() {
            let added = shared
                .add(
                    &key,
                    points,
                    now,
                    self.config.half_life.get(),
                    self.config.ban_threshold,
                    false,
                )
                .await;
            if added.is_err() {
                let mut pending = self.pending.lock();
                *pending.entry(key).or_default() += points;
                break;
            }
        }
        let mut pending = self.pending.lock();
        for (key, points) in left {
            *pending.entry(key).or_default() += points;
        }
    }

    /// Counts a finished request toward the client's request frequency and error
    /// rate (call it once per request of a known client). A window that crosses a
    /// limit is recorded as `HighRequestRate` / `HighErrorRate`, like `record`.
    /// With shared standings the window is counted in Redis, so a client's
    /// requests to every gateway add up; while Redis does not answer, this
    /// gateway counts alone.
    ///
    /// Awaited: Redis counts without holding the caller's thread.
    pub async fn observe_request(
        &self,
        key: &ClientKey,
        ip: IpAddr,
        outcome: RequestOutcome,
        allow_listed: bool,
    ) -> Option<BanOutcome> {
        if self.activity_off() {
            return None;
        }
        let now = self.clock.now();
        let shared = match &self.shared {
            Some(s) => Some(
                s.count_activity(key, now, &self.config.activity, outcome)
                    .await,
            ),
            None => None,
        };
        self.raise_anomalies(key, ip, now, outcome, allow_listed, shared)
            .await
    }

    fn activity_off(&self) -> bool {
        let activity = &self.config.activity;
        activity.max_requests == 0 && activity.max_error_ratio == 0.0
    }

    /// Records the anomalies the shared count reported, or, without a shared
    /// count, those of this gateway's own window.
    async fn raise_anomalies(
        &self,
        key: &ClientKey,
        ip: IpAddr,
        now: SystemTime,
        outcome: RequestOutcome,
        allow_listed: bool,
        shared: Option<Result<Vec<SecurityEvent>, crate::backend::BackendError>>,
    ) -> Option<BanOutcome> {
        let shared = shared.and_then(|counted| {
            counted
                .map_err(|e| tracing::debug!(client = %key, error = %e, "reputation: activity counted locally"))
                .ok()
        });
        let activity = &self.config.activity;
        let anomalies = shared.unwrap_or_else(|| {
            let mut clients = self.clients.lock();
            let standing = self.standing(&mut clients, key, now);
            standing.window.count(activity, now, outcome)
        });
        let mut ban = None;
        for event in anomalies {
            let outcome = self.record(key, ip, event, allow_listed).await;
            ban = ban.or(outcome);
        }
        ban
    }

    /// Clears the score after a ban; counts the offence when one was made.
    fn settle(&self, key: &ClientKey, offence: bool) {
        if let Some(standing) = self.clients.lock().get_mut(key) {
            standing.score = 0.0;
            standing.offences = standing.offences.saturating_add(u32::from(offence));
        }
        self.observe(key, 0.0, self.clock.now());
    }

    /// Whether an anomaly ban on `key` is still active.
    /// Whether the client's own key is already banned by reputation, or blocked
    /// (by hand or by a list) at least `until`: a ban would change nothing.
    fn already_banned(&self, key: &ClientKey, until: SystemTime) -> bool {
        let Ok(target) = key.as_str().parse::<Target>() else {
            return false;
        };
        self.blocks.held(&target).is_some_and(|d| {
            d.origin == Origin::Anomaly || d.expires_at.is_none_or(|expires| expires >= until)
        })
    }

    /// The client's current (decayed) score; 0 for unknown clients.
    pub fn score(&self, key: &ClientKey) -> f64 {
        let now = self.clock.now();
        if let Some(Ok((score, _))) = self.shared_read(key, now) {
            return score;
        }
        self.clients
            .lock()
            .get(key)
            .map_or(0.0, |s| self.decayed(s, now))
    }

    /// How many times the client was banned (or would have been).
    pub fn offences(&self, key: &ClientKey) -> u32 {
        if let Some(Ok((_, offences))) = self.shared_read(key, self.clock.now()) {
            return offences;
        }
        self.clients.lock().get(key).map_or(0, |s| s.offences)
    }

    fn shared_read(
        &self,
        key: &ClientKey,
        now: SystemTime,
    ) -> Option<Result<(f64, u32), crate::backend::BackendError>> {
        let shared = self.shared.as_ref()?;
        Some(shared.read(key, now, self.config.half_life.get()))
    }

    /// Resets the client's score and ban history.
    pub fn forgive(&self, key: &ClientKey) {
        if let Some(Err(e)) = self.shared.as_ref().map(|s| s.forget(key)) {
            tracing::warn!(client = %key, error = %e, "reputation: shared standing not reset");
        }
        self.clients.lock().remove(key);
        self.observe(key, 0.0, self.clock.now());
        self.events
            .push(EventKind::Forgiven, key, None, "reputation reset".into());
    }

    /// `ban_base × 2^offences`, capped at `ban_max`.
    fn ban_length(&self, offences: u32) -> Duration {
        let factor = 2u32.checked_pow(offences).unwrap_or(u32::MAX);
        self.config
            .ban_base
            .get()
            .checked_mul(factor)
            .unwrap_or(Duration::MAX)
            .min(self.config.ban_max.get())
    }

    fn decayed(&self, s: &Standing, now: SystemTime) -> f64 {
        let elapsed = now.duration_since(s.at).unwrap_or_default().as_secs_f64();
        s.score * 0.5f64.powf(elapsed / self.config.half_life.get().as_secs_f64())
    }

    /// Decays, adds `points` and returns (score, earlier offences).
    fn add_points(&self, key: &ClientKey, points: f64, now: SystemTime) -> (f64, u32) {
        let mut clients = self.clients.lock();
        let standing = self.standing(&mut clients, key, now);
        standing.score = self.decayed(standing, now) + points;
        standing.at = now;
        (standing.score, standing.offences)
    }

    /// The client's standing, made (room permitting) if it is new.
    fn standing<'m>(
        &self,
        clients: &'m mut HashMap<ClientKey, Standing>,
        key: &ClientKey,
        now: SystemTime,
    ) -> &'m mut Standing {
        if !clients.contains_key(key) && clients.len() >= self.config.max_clients {
            self.forget_lowest(clients, now);
        }
        clients.entry(key.clone()).or_insert(Standing {
            score: 0.0,
            at: now,
            offences: 0,
            window: activity::Window::default(),
        })
    }

    /// Makes room in constant time: among a sample of clients, the one with
    /// the lowest standing (fewest bans, then lowest score) goes. A flood of
    /// fresh keys mostly evicts its own kind, never a scan of every client.
    fn forget_lowest(&self, clients: &mut HashMap<ClientKey, Standing>, now: SystemTime) {
        let lowest = clients
            .iter()
            .take(EVICTION_SAMPLE)
            .map(|(k, s)| (k, self.decayed(s, now), s.offences))
            .min_by(|a, b| a.2.cmp(&b.2).then(a.1.total_cmp(&b.1)))
            .map(|(k, _, _)| k.clone());
        if let Some(key) = lowest {
            clients.remove(&key);
        }
    }

    async fn ban(&self, offence: &Offence<'_>) -> Option<BanOutcome> {
        let Offence { key, event, .. } = *offence;
        let reason = format!(
            "reputation score {:.1} reached {} after {}",
            offence.score,
            self.config.ban_threshold,
            event.name()
        );
        let block = NewBlock {
            value: key.as_str().to_string(),
            duration: Some(offence.duration),
            reason,
            origin: Origin::Anomaly,
            created_by: "reputation".to_string(),
        };
        match self.blocks.add_async(block).await {
            Ok(decision) => {
                let detail = format!(
                    "banned for {} (decision {})",
                    HumanDuration(offence.duration),
                    decision.id
                );
                self.events
                    .push(EventKind::Banned, key, Some(offence.ip), detail);
                if let Some(m) = &self.metrics {
                    m.banned(&format!("anomaly:{}", event.name()));
                }
                Some(BanOutcome::Banned(decision))
            }
            Err(e) => {
                tracing::error!(client = %key, error = %e, "reputation ban failed");
                None
            }
        }
    }

    fn would_ban(&self, offence: &Offence) -> BanOutcome {
        let Offence {
            key,
            score,
            duration,
            ..
        } = *offence;
        tracing::warn!(
            target: "execgate::audit",
            event = "reputation.would_ban",
            client = %key,
            score,
            trigger = offence.event.name(),
            duration = %HumanDuration(duration),
            "would ban (detection only)"
        );
        let detail = format!("would ban for {} (detection only)", HumanDuration(duration));
        self.events
            .push(EventKind::WouldBan, key, Some(offence.ip), detail);
        BanOutcome::WouldBan { duration, score }
    }
}
