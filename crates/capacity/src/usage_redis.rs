//! Usage kept in the shared Redis, so that every gateway of a deployment
//! charges and checks one set of figures and a restart forgets nothing.
//!
//! Keys: all of a UTC month share one hash tag, so one script updates the
//! month and the day together (and a cluster keeps them on one node):
//! `<prefix>:usage:{2026-12}:m` and `…:d:2026-12-08` are hashes of
//! `<field>:<scope>` counters (`credits:c/client:alice`, `executions:t/free`,
//! `cpu_ms:g`…), `…:top:m` and `…:top:d:2026-12-08` sorted sets of clients
//! by credits. Day keys expire a day after their day, month keys 35 days after
//! their month.
//!
//! Charging never waits on Redis: a charge joins an outbox that one task
//! empties in order, keeping each charge until Redis confirms it (so an outage
//! delays charges, and loses none while the gateway runs). A budget check
//! reads the shared figures within the backend's `command_timeout`; while
//! Redis cannot answer, it uses the last figures read plus the charges still
//! in the outbox.

use crate::credits::Credits;
use crate::period::{Period, PeriodKey};
use crate::usage::{Charge, Scope, Settled, Spent, Totals, Usage, UsageStore};
use execgate_core::ClientKey;
use execgate_state::RedisBackend;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Most charges held while Redis is away; past it the oldest is dropped (and logged).
const OUTBOX_MAX: usize = 100_000;

/// Pause between attempts while Redis is away.
const RETRY_EVERY: Duration = Duration::from_millis(200);

/// How long a period's figures outlive it.
const DAY_KEPT: Duration = Duration::from_secs(86_400);
const MONTH_KEPT: Duration = Duration::from_secs(35 * 86_400);

/// The counters of a scope, in the order of [`Usage`]'s fields.
const FIELDS: [&str; 5] = ["credits", "executions", "cpu_ms", "wall_ms", "estimated"];

/// Adds one charge to the month and day hashes and the two top lists; returns
/// the client's and the platform's credits: month, then day.
const CHARGE_SCRIPT: &str = r"
local out = {}
for i = 1, 2 do
  for _, scope in ipairs({ARGV[1], 'g', ARGV[2]}) do
    local credits = redis.call('HINCRBY', KEYS[i], 'credits:' .. scope, ARGV[3])
    redis.call('HINCRBY', KEYS[i], 'executions:' .. scope, 1)
    redis.call('HINCRBY', KEYS[i], 'cpu_ms:' .. scope, ARGV[4])
    redis.call('HINCRBY', KEYS[i], 'wall_ms:' .. scope, ARGV[5])
    redis.call('HINCRBY', KEYS[i], 'estimated:' .. scope, ARGV[6])
    if scope ~= ARGV[2] then table.insert(out, credits) end
  end
  redis.call('ZINCRBY', KEYS[i + 2], ARGV[3], ARGV[7])
  redis.call('PEXPIRE', KEYS[i], ARGV[7 + i])
  redis.call('PEXPIRE', KEYS[i + 2], ARGV[7 + i])
end
return out
";

/// Usage in the shared Redis.
pub struct RedisUsage {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Arc<RedisBackend>,
    keys: Keys,
    script: Arc<redis::Script>,
    outbox: Mutex<Outbox>,
    /// Whether a task is emptying the outbox.
    flushing: AtomicBool,
    /// The last shared credits read per scope and period.
    seen: Mutex<Seen>,
}

/// The last shared credits read, of the newest day and month only: figures of
/// a past period are never read again, and keeping them would grow the map by
/// every client ever seen for the life of the process.
#[derive(Default)]
struct Seen {
    figures: HashMap<(Scope, PeriodKey), Credits>,
    day: Option<PeriodKey>,
    month: Option<PeriodKey>,
}

impl Seen {
    fn get(&self, key: &(Scope, PeriodKey)) -> Option<Credits> {
        self.figures.get(key).copied()
    }

    fn insert(&mut self, scope: &Scope, period: PeriodKey, credits: Credits) {
        let newest = match period {
            PeriodKey::Day(_) => &mut self.day,
            PeriodKey::Month(..) => &mut self.month,
        };
        match *newest {
            Some(n) if period < n => return,
            Some(n) if period == n => {}
            _ => {
                *newest = Some(period);
                let same_kind = |p: &PeriodKey| {
                    matches!(
                        (p, &period),
                        (PeriodKey::Day(_), PeriodKey::Day(_))
                            | (PeriodKey::Month(..), PeriodKey::Month(..))
                    )
                };
                self.figures
                    .retain(|(_, p), _| !(same_kind(p) && *p < period));
            }
        }
        self.figures.insert((scope.clone(), period), credits);
    }
}

/// Charges not yet confirmed by Redis, oldest first, each with what follows
/// it once confirmed, and their sums.
#[derive(Default)]
struct Outbox {
    charges: VecDeque<(Charge, Settled)>,
    pending: HashMap<(Scope, PeriodKey), Credits>,
}

impl Outbox {
    fn push(&mut self, charge: Charge, settled: Settled) {
        if self.charges.len() >= OUTBOX_MAX
            && let Some((old, _)) = self.charges.pop_front()
        {
            tracing::error!(
                client = %old.client.as_str(),
                "usage: Redis unreachable and {OUTBOX_MAX} charges waiting; the oldest is dropped"
            );
            self.settle(&old);
        }
        for key in touched(&charge) {
            let sum = self.pending.entry(key).or_default();
            *sum += charge.credits;
        }
        self.charges.push_back((charge, settled));
    }

    /// Takes `charge` out of the sums (it reached Redis, or was dropped).
    fn settle(&mut self, charge: &Charge) {
        for key in touched(charge) {
            if let Some(sum) = self.pending.get_mut(&key) {
                sum.0 = sum.0.saturating_sub(charge.credits.0);
                if sum.0 == 0 {
                    self.pending.remove(&key);
                }
            }
        }
    }

    fn of(&self, key: &(Scope, PeriodKey)) -> Credits {
        self.pending.get(key).copied().unwrap_or_default()
    }
}

/// The client's and the platform's figures a charge moves, for its day and month.
fn touched(charge: &Charge) -> [(Scope, PeriodKey); 4] {
    let (day, month) = (Period::Day.at(charge.at), Period::Month.at(charge.at));
    let client = Scope::Client(charge.client.clone());
    [
        (client.clone(), day),
        (client, month),
        (Scope::Global, day),
        (Scope::Global, month),
    ]
}

/// Key names under the deployment's prefix.
struct Keys {
    prefix: String,
}

impl Keys {
    /// The month a period belongs to: the hash tag of its keys.
    fn month_of(period: PeriodKey) -> PeriodKey {
        match period {
            PeriodKey::Day(d) => {
                Period::Month.at(UNIX_EPOCH + Duration::from_secs(d.max(0) as u64 * 86_400))
            }
            month => month,
        }
    }

    fn figures(&self, period: PeriodKey) -> String {
        let tag = Self::month_of(period).label();
        match period {
            PeriodKey::Day(_) => format!("{}:usage:{{{tag}}}:d:{}", self.prefix, period.label()),
            PeriodKey::Month(..) => format!("{}:usage:{{{tag}}}:m", self.prefix),
        }
    }

    fn top(&self, period: PeriodKey) -> String {
        let tag = Self::month_of(period).label();
        match period {
            PeriodKey::Day(_) => {
                format!("{}:usage:{{{tag}}}:top:d:{}", self.prefix, period.label())
            }
            PeriodKey::Month(..) => format!("{}:usage:{{{tag}}}:top:m", self.prefix),
        }
    }
}

/// A scope as it is named in a hash field.
fn scope_id(scope: &Scope) -> String {
    match scope {
        Scope::Client(c) => format!("c/{}", c.as_str()),
        Scope::Tier(t) => format!("t/{}", t.as_str()),
        Scope::Global => "g".into(),
    }
}

/// How long from `at` the keys of `period` are kept: relative, so that the
/// gateway's clock (not Redis's) says when a period ends.
fn ttl_ms(period: PeriodKey, at: SystemTime) -> u64 {
    let kept = match period {
        PeriodKey::Day(_) => DAY_KEPT,
        PeriodKey::Month(..) => MONTH_KEPT,
    };
    (period.ends_at() + kept)
        .duration_since(at)
        .map_or(1, |d| d.as_millis().max(1) as u64)
}

fn usage_of(counters: &[Option<u64>]) -> Usage {
    let at = |i: usize| counters.get(i).copied().flatten().unwrap_or(0);
    Usage {
        credits: Credits(at(0)),
        executions: at(1),
        cpu_ms: at(2),
        wall_ms: at(3),
        estimated: at(4),
    }
}

impl RedisUsage {
    /// Usage on `backend`, under its key prefix.
    pub fn new(backend: Arc<RedisBackend>) -> Self {
        let keys = Keys {
            prefix: backend.prefix().to_string(),
        };
        Self {
            inner: Arc::new(Inner {
                backend,
                keys,
                script: Arc::new(redis::Script::new(CHARGE_SCRIPT)),
                outbox: Mutex::new(Outbox::default()),
                flushing: AtomicBool::new(false),
                seen: Mutex::new(Seen::default()),
            }),
        }
    }

    /// Charges still waiting for Redis.
    pub fn waiting(&self) -> usize {
        self.inner.outbox.lock().charges.len()
    }
}

impl Inner {
    fn front(&self) -> Option<Charge> {
        self.outbox.lock().charges.front().map(|(c, _)| c.clone())
    }
}

impl Inner {
    /// The last shared figure of `key` plus what waits in the outbox.
    fn known(&self, key: &(Scope, PeriodKey)) -> Credits {
        let seen = self.seen.lock().get(key).unwrap_or_default();
        seen + self.outbox.lock().of(key)
    }

    fn totals(&self, client: &ClientKey, at: SystemTime) -> Totals {
        let (day, month) = (Period::Day.at(at), Period::Month.at(at));
        let client = Scope::Client(client.clone());
        let spent = |scope: &Scope| Spent {
            day: self.known(&(scope.clone(), day)),
            month: self.known(&(scope.clone(), month)),
        };
        Totals {
            client: spent(&client),
            global: spent(&Scope::Global),
        }
    }

    fn saw(&self, scope: &Scope, period: PeriodKey, credits: Credits) {
        self.seen.lock().insert(scope, period, credits);
    }

    /// Sends the oldest waiting charge; its client's and the platform's
    /// shared credits (month, then day) after it.
    async fn send(
        &self,
        charge: &Charge,
    ) -> Result<[u64; 4], execgate_state::backend::BackendError> {
        let (day, month) = (Period::Day.at(charge.at), Period::Month.at(charge.at));
        let keys = [
            self.keys.figures(month),
            self.keys.figures(day),
            self.keys.top(month),
            self.keys.top(day),
        ];
        let args = [
            scope_id(&Scope::Client(charge.client.clone())),
            scope_id(&Scope::Tier(charge.tier.clone())),
            charge.credits.0.to_string(),
            (charge.run.cpu.as_millis() as u64).to_string(),
            (charge.run.wall.as_millis() as u64).to_string(),
            u64::from(charge.run.estimated).to_string(),
            charge.client.as_str().to_string(),
            ttl_ms(month, charge.at).to_string(),
            ttl_ms(day, charge.at).to_string(),
        ];
        let script = self.script.clone();
        let answer: Vec<u64> = self
            .backend
            .call_async(move |mut conn| async move {
                let mut invocation = script.prepare_invoke();
                for key in &keys {
                    invocation.key(key);
                }
                for arg in &args {
                    invocation.arg(arg);
                }
                invocation.invoke_async(&mut conn).await
            })
            .await?;
        answer.try_into().map_err(|_| {
            execgate_state::backend::BackendError::Reply("usage script: bad answer".into())
        })
    }

    /// Empties the outbox in order; while Redis is away, tries again every
    /// [`RETRY_EVERY`]. One runs at a time.
    async fn flush(self: Arc<Self>) {
        loop {
            let Some(charge) = self.front() else {
                self.flushing.store(false, Ordering::Release);
                // A charge that came after the look and before the flag.
                if self.outbox.lock().charges.is_empty()
                    || self.flushing.swap(true, Ordering::AcqRel)
                {
                    return;
                }
                continue;
            };
            match self.send(&charge).await {
                Ok([client_month, global_month, client_day, global_day]) => {
                    let (day, month) = (Period::Day.at(charge.at), Period::Month.at(charge.at));
                    let client = Scope::Client(charge.client.clone());
                    self.saw(&client, month, Credits(client_month));
                    self.saw(&Scope::Global, month, Credits(global_month));
                    self.saw(&client, day, Credits(client_day));
                    self.saw(&Scope::Global, day, Credits(global_day));
                    let after = Totals {
                        client: Spent {
                            day: Credits(client_day),
                            month: Credits(client_month),
                        },
                        global: Spent {
                            day: Credits(global_day),
                            month: Credits(global_month),
                        },
                    };
                    if let Some(settled) = self.confirm(&charge) {
                        settled(after);
                    }
                }
                Err(e) if e.is_outage() => tokio::time::sleep(RETRY_EVERY).await,
                Err(e) => {
                    // Redis refused this charge itself (not an outage): retrying
                    // would block every later one behind it.
                    tracing::error!(client = %charge.client.as_str(), "usage: charge refused by Redis, dropped: {e}");
                    drop(self.confirm(&charge));
                }
            }
        }
    }

    /// Takes `charge` (the oldest) out of the outbox; what follows it.
    fn confirm(&self, charge: &Charge) -> Option<Settled> {
        let mut outbox = self.outbox.lock();
        if outbox.charges.front().map(|(c, _)| c) != Some(charge) {
            return None;
        }
        let (_, settled) = outbox.charges.pop_front()?;
        outbox.settle(charge);
        Some(settled)
    }

    /// The counters of `scope` in `period`, read from Redis.
    async fn read(&self, scope: &Scope, period: PeriodKey) -> Result<Usage, String> {
        let key = self.keys.figures(period);
        let id = scope_id(scope);
        let fields: Vec<String> = FIELDS.iter().map(|f| format!("{f}:{id}")).collect();
        let counters: Vec<Option<u64>> = self
            .backend
            .call_async(move |mut conn| async move {
                redis::cmd("HMGET")
                    .arg(key)
                    .arg(fields)
                    .query_async(&mut conn)
                    .await
            })
            .await
            .map_err(|e| e.to_string())?;
        let usage = usage_of(&counters);
        self.saw(scope, period, usage.credits);
        Ok(usage)
    }
}

#[async_trait::async_trait]
impl UsageStore for RedisUsage {
    fn record(&self, charge: &Charge, settled: Settled) {
        self.inner.outbox.lock().push(charge.clone(), settled);
        if !self.inner.flushing.swap(true, Ordering::AcqRel) {
            let flush = self.inner.clone().flush();
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => drop(runtime.spawn(flush)),
                // Outside a runtime (tools): a thread of its own runs it.
                Err(_) => drop(std::thread::spawn(move || {
                    match tokio::runtime::Builder::new_current_thread()
                        .enable_time()
                        .build()
                    {
                        Ok(rt) => rt.block_on(flush),
                        Err(e) => tracing::error!("usage: no runtime to send charges: {e}"),
                    }
                })),
            }
        }
    }

    async fn spent(&self, client: &ClientKey, at: SystemTime) -> Totals {
        let (day, month) = (Period::Day.at(at), Period::Month.at(at));
        let keys = (self.inner.keys.figures(month), self.inner.keys.figures(day));
        let fields = vec![
            format!("credits:{}", scope_id(&Scope::Client(client.clone()))),
            "credits:g".to_string(),
        ];
        let read: Result<(Vec<Option<u64>>, Vec<Option<u64>>), _> = self
            .inner
            .backend
            .call_async(move |mut conn| async move {
                redis::pipe()
                    .cmd("HMGET")
                    .arg(keys.0)
                    .arg(&fields)
                    .cmd("HMGET")
                    .arg(keys.1)
                    .arg(&fields)
                    .query_async(&mut conn)
                    .await
            })
            .await;
        match read {
            Ok((month_figures, day_figures)) => {
                let at =
                    |v: &[Option<u64>], i: usize| Credits(v.get(i).copied().flatten().unwrap_or(0));
                let client_scope = Scope::Client(client.clone());
                self.inner.saw(&client_scope, month, at(&month_figures, 0));
                self.inner.saw(&Scope::Global, month, at(&month_figures, 1));
                self.inner.saw(&client_scope, day, at(&day_figures, 0));
                self.inner.saw(&Scope::Global, day, at(&day_figures, 1));
            }
            Err(e) => tracing::debug!("usage: shared figures unread, using the last known: {e}"),
        }
        self.inner.totals(client, at)
    }

    async fn usage(&self, scope: &Scope, period: PeriodKey) -> Result<Usage, String> {
        self.inner.read(scope, period).await
    }

    async fn top(&self, period: PeriodKey, n: usize) -> Result<Vec<(ClientKey, Usage)>, String> {
        let key = self.inner.keys.top(period);
        let stop = n.saturating_sub(1) as isize;
        let members: Vec<String> = self
            .inner
            .backend
            .call_async(move |mut conn| async move {
                redis::cmd("ZREVRANGE")
                    .arg(key)
                    .arg(0)
                    .arg(stop)
                    .query_async(&mut conn)
                    .await
            })
            .await
            .map_err(|e| e.to_string())?;
        let mut out = Vec::with_capacity(members.len());
        for member in members {
            // Members are written from client keys; another writer's junk is skipped.
            let Some(client) = ClientKey::parse(&member) else {
                continue;
            };
            let usage = self
                .inner
                .read(&Scope::Client(client.clone()), period)
                .await?;
            out.push((client, usage));
        }
        out.sort_by(|a, b| b.1.credits.cmp(&a.1.credits).then_with(|| a.0.cmp(&b.0)));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_of_past_days_and_months_are_dropped_as_new_ones_arrive() {
        let mut seen = Seen::default();
        let client = |i: u32| Scope::Client(ClientKey::from_client_id(&format!("c{i}")));
        let (may, june) = (PeriodKey::Month(2026, 5), PeriodKey::Month(2026, 6));
        let c = Credits::from_credits(1.0).unwrap();
        for i in 0..100 {
            seen.insert(&client(i), PeriodKey::Day(10), c);
            seen.insert(&client(i), may, c);
        }
        seen.insert(&client(0), PeriodKey::Day(11), c);
        assert_eq!(
            seen.figures.len(),
            101,
            "day 10's figures are gone, May's kept"
        );
        assert_eq!(seen.get(&(client(5), PeriodKey::Day(10))), None);
        assert_eq!(seen.get(&(client(5), may)), Some(c));
        // A late answer about a past day is not kept.
        seen.insert(&client(7), PeriodKey::Day(10), c);
        assert_eq!(seen.get(&(client(7), PeriodKey::Day(10))), None);
        seen.insert(&client(0), june, c);
        assert_eq!(seen.figures.len(), 2, "only day 11 and June are left");
    }
}
