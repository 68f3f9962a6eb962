//! Sessions: a client names a session of its work (`X-Session-Id` or a
//! token's `sid`), and each session has caps of its own — executions, CPU
//! seconds and wall seconds — apart from the client's budget. A session ends
//! after a configured idle time. The table is bounded per client and in
//! total, because the client chooses the names.

use crate::cost::RunCost;
use execgate_core::{ClientKey, Clock, TierName};
use parking_lot::Mutex;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// The longest session id taken.
pub const SESSION_ID_MAX: usize = 64;

/// A session's name, as the client gave it: 1 to 64 of `A-Z a-z 0-9 . _ : -`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct SessionId(String);

impl SessionId {
    /// Checks `raw` against the length and character bounds.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() || raw.len() > SESSION_ID_MAX {
            return Err(format!("must be 1 to {SESSION_ID_MAX} characters"));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
        {
            return Err("may hold only letters, digits and . _ : -".into());
        }
        Ok(Self(raw.to_string()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A tier's caps on one session (`None`: no cap).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionCaps {
    /// Executions started in the session.
    pub executions: Option<u64>,
    /// CPU time the session's runs used.
    pub cpu: Option<Duration>,
    /// Wall time the session's runs took.
    pub wall: Option<Duration>,
}

/// Which bound turned a session's execution away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionLimit {
    /// The session ran its tier's cap of executions.
    Executions,
    /// The session used its tier's cap of CPU seconds.
    CpuSeconds,
    /// The session used its tier's cap of wall seconds.
    WallSeconds,
    /// The client has its most sessions open at once.
    SessionsPerClient,
    /// The gateway holds its most sessions.
    SessionsTotal,
}

impl SessionLimit {
    /// The `reason` of the refusal's JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionLimit::Executions => "executions",
            SessionLimit::CpuSeconds => "cpu_seconds",
            SessionLimit::WallSeconds => "wall_seconds",
            SessionLimit::SessionsPerClient => "sessions_per_client",
            SessionLimit::SessionsTotal => "sessions_total",
        }
    }
}

/// `[capacity.sessions]` and the tiers' session caps, validated.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// A session unused this long ends.
    pub idle: Duration,
    /// Sessions one client holds at once at most.
    pub per_client_max: usize,
    /// Sessions the gateway holds at once at most.
    pub total_max: usize,
    /// Per tier caps; a tier absent has none.
    pub tiers: BTreeMap<TierName, SessionCaps>,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(1800),
            per_client_max: 16,
            total_max: 100_000,
            tiers: BTreeMap::new(),
        }
    }
}

/// What one session used so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SessionUsage {
    /// Executions started.
    pub executions: u64,
    /// CPU milliseconds charged.
    pub cpu_ms: u64,
    /// Wall milliseconds charged.
    pub wall_ms: u64,
    /// When it began (Unix ms).
    pub started_ms: u64,
    /// When it was last used (Unix ms).
    pub last_used_ms: u64,
}

/// A session with its id, for the client view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionView {
    /// The id.
    pub id: SessionId,
    /// Its usage.
    #[serde(flatten)]
    pub usage: SessionUsage,
    /// When it ends unless used again (Unix ms).
    pub expires_ms: u64,
}

#[derive(Default)]
struct Table {
    clients: HashMap<ClientKey, HashMap<SessionId, SessionUsage>>,
    total: usize,
    last_sweep_ms: u64,
}

impl Table {
    /// Drops `client`'s sessions idle since before `cutoff_ms`.
    fn expire_client(&mut self, client: &ClientKey, cutoff_ms: u64) {
        if let Some(sessions) = self.clients.get_mut(client) {
            let before = sessions.len();
            sessions.retain(|_, s| s.last_used_ms >= cutoff_ms);
            self.total -= before - sessions.len();
            if sessions.is_empty() {
                self.clients.remove(client);
            }
        }
    }

    /// Drops every idle session.
    fn sweep(&mut self, cutoff_ms: u64) {
        let mut total = 0;
        self.clients.retain(|_, sessions| {
            sessions.retain(|_, s| s.last_used_ms >= cutoff_ms);
            total += sessions.len();
            !sessions.is_empty()
        });
        self.total = total;
    }
}

/// The sessions of every client of one gateway.
pub struct Sessions {
    settings: SessionSettings,
    clock: Arc<dyn Clock>,
    table: Mutex<Table>,
}

/// A full table is swept of idle sessions at most this often, so a flood of
/// new ids against a full table costs one pass per interval, not one per request.
const SWEEP_EVERY_MS: u64 = 1000;

impl Sessions {
    /// An empty table.
    pub fn new(settings: SessionSettings, clock: Arc<dyn Clock>) -> Self {
        Self {
            settings,
            clock,
            table: Mutex::new(Table::default()),
        }
    }

    /// How long a refused session should wait: until an idle session ends.
    pub fn retry_after(&self) -> Duration {
        self.settings.idle
    }

    fn cutoff(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.settings.idle.as_millis() as u64)
    }

    /// Whether `id` of `client` in `tier` could start an execution now,
    /// without counting it (used before queueing for a slot).
    pub fn check(
        &self,
        client: &ClientKey,
        tier: &TierName,
        id: &SessionId,
    ) -> Result<(), SessionLimit> {
        self.admit(client, tier, id, false)
    }

    /// Starts an execution in `id` of `client` in `tier`: the session is
    /// opened when new, its caps are checked and its executions counted.
    pub fn begin(
        &self,
        client: &ClientKey,
        tier: &TierName,
        id: &SessionId,
    ) -> Result<(), SessionLimit> {
        self.admit(client, tier, id, true)
    }

    fn admit(
        &self,
        client: &ClientKey,
        tier: &TierName,
        id: &SessionId,
        count: bool,
    ) -> Result<(), SessionLimit> {
        let now_ms = self.clock.now_ms();
        let cutoff = self.cutoff(now_ms);
        let caps = self.settings.tiers.get(tier).copied().unwrap_or_default();
        let mut table = self.table.lock();
        table.expire_client(client, cutoff);
        let known = table.clients.get(client).and_then(|s| s.get(id)).copied();
        let usage = match known {
            Some(usage) => usage,
            None => {
                let held = table.clients.get(client).map_or(0, HashMap::len);
                if held >= self.settings.per_client_max {
                    return Err(SessionLimit::SessionsPerClient);
                }
                if table.total >= self.settings.total_max
                    && now_ms.saturating_sub(table.last_sweep_ms) >= SWEEP_EVERY_MS
                {
                    table.sweep(cutoff);
                    table.last_sweep_ms = now_ms;
                }
                if table.total >= self.settings.total_max {
                    return Err(SessionLimit::SessionsTotal);
                }
                SessionUsage {
                    started_ms: now_ms,
                    last_used_ms: now_ms,
                    ..SessionUsage::default()
                }
            }
        };
        over_caps(&usage, &caps)?;
        if !count {
            return Ok(());
        }
        if known.is_none() {
            table.total += 1;
        }
        let entry = table
            .clients
            .entry(client.clone())
            .or_default()
            .entry(id.clone())
            .or_insert(usage);
        entry.executions += 1;
        entry.last_used_ms = now_ms;
        Ok(())
    }

    /// Charges a finished run's figures to `id` of `client`, if the session
    /// is still open (one that ended meanwhile is not opened again).
    pub fn charge(&self, client: &ClientKey, id: &SessionId, run: &RunCost) {
        let now_ms = self.clock.now_ms();
        let mut table = self.table.lock();
        if let Some(s) = table.clients.get_mut(client).and_then(|s| s.get_mut(id)) {
            s.cpu_ms = s.cpu_ms.saturating_add(run.cpu.as_millis() as u64);
            s.wall_ms = s.wall_ms.saturating_add(run.wall.as_millis() as u64);
            s.last_used_ms = now_ms;
        }
    }

    /// `client`'s open sessions, by id.
    pub fn of(&self, client: &ClientKey) -> Vec<SessionView> {
        let now_ms = self.clock.now_ms();
        let cutoff = self.cutoff(now_ms);
        let idle_ms = self.settings.idle.as_millis() as u64;
        let mut table = self.table.lock();
        table.expire_client(client, cutoff);
        let mut views: Vec<SessionView> = table
            .clients
            .get(client)
            .map(|sessions| {
                sessions
                    .iter()
                    .map(|(id, usage)| SessionView {
                        id: id.clone(),
                        usage: *usage,
                        expires_ms: usage.last_used_ms.saturating_add(idle_ms),
                    })
                    .collect()
            })
            .unwrap_or_default();
        views.sort_by(|a, b| a.id.cmp(&b.id));
        views
    }

    /// Sessions held, across every client (expired ones until swept).
    pub fn len(&self) -> usize {
        self.table.lock().total
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn over_caps(usage: &SessionUsage, caps: &SessionCaps) -> Result<(), SessionLimit> {
    if caps.executions.is_some_and(|max| usage.executions >= max) {
        return Err(SessionLimit::Executions);
    }
    if caps
        .cpu
        .is_some_and(|max| u128::from(usage.cpu_ms) >= max.as_millis())
    {
        return Err(SessionLimit::CpuSeconds);
    }
    if caps
        .wall
        .is_some_and(|max| u128::from(usage.wall_ms) >= max.as_millis())
    {
        return Err(SessionLimit::WallSeconds);
    }
    Ok(())
}
