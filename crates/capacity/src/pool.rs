//! Who runs now and who waits: a pool of execution slots shared by every
//! client, a cap on each client's runs at once (by tier), and a priority queue
//! for executions that find the pool full — paid before free before anonymous,
//! first come first served within a tier, and aging so that a long wait lifts a
//! waiter over newer arrivals of a higher tier. A waiter whose request goes away
//! (its future dropped: the client disconnected) leaves the queue at once.

use crate::metrics::CapacityMetrics;
use crate::refusal::CapacityRefusal;
use execgate_core::{ClientKey, Clock, TierName};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// What happens to an execution whose client already runs its tier's cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OverClientCap {
    /// `429 concurrency_limited` at once.
    Refuse,
    /// Waits in the queue until one of the client's runs ends.
    Wait,
}

/// A tier's share of the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierSlots {
    /// Higher runs first; equal priorities are served in arrival order.
    pub priority: u32,
    /// Runs at once per client of the tier.
    pub per_client: NonZeroU32,
    /// What an execution over `per_client` does.
    pub over_client_cap: OverClientCap,
    /// Executions of the tier that may wait at once (0: never wait).
    pub queue_max: usize,
    /// The longest an execution of the tier waits before `504 queue_timeout`.
    pub queue_wait_max: Duration,
}

/// The pool's validated settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSettings {
    /// Executions in flight at once across every client.
    pub total: NonZeroU32,
    /// Every `aging` spent waiting counts as one priority level more; `None`
    /// orders by tier priority alone.
    pub aging: Option<Duration>,
    /// `Retry-After` of the pool's refusals.
    pub retry_after: Duration,
    /// Each tier's share; a tier not listed is served as the lowest-priority one listed.
    pub tiers: BTreeMap<TierName, TierSlots>,
}

/// The execution pool. Clone the `Arc` to share it.
pub struct Pool {
    total: u32,
    aging_ms: Option<u64>,
    retry_after: Duration,
    tiers: Vec<TierEntry>,
    index: HashMap<TierName, usize>,
    fallback: usize,
    clock: Arc<dyn Clock>,
    metrics: CapacityMetrics,
    state: Mutex<State>,
}

struct TierEntry {
    name: TierName,
    slots: TierSlots,
    in_flight: prometheus::IntGauge,
    queued: prometheus::IntGauge,
    wait: prometheus::Histogram,
}

#[derive(Default)]
struct State {
    running: u32,
    per_client: HashMap<ClientKey, u32>,
    running_per_tier: Vec<u32>,
    queues: Vec<VecDeque<Waiter>>,
    next_id: u64,
}

struct Waiter {
    id: u64,
    client: ClientKey,
    since_ms: u64,
    wake: oneshot::Sender<()>,
}

/// A running execution's slot; dropping it frees the slot for the next waiter.
#[must_use = "the slot is freed when the permit is dropped"]
pub struct Permit {
    pool: Arc<Pool>,
    client: ClientKey,
    tier: usize,
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit")
            .field("client", &self.client)
            .field("tier", &self.pool.tiers[self.tier].name)
            .finish()
    }
}

/// The answer of an admission that does not wait.
pub enum Admission {
    /// Runs now.
    Run(Permit),
    /// Waits at this place (1 = next) until `wait` resolves.
    Queued(Ticket),
}

/// A place in the queue; dropping it before it is granted leaves the queue.
pub struct Ticket {
    pool: Arc<Pool>,
    client: ClientKey,
    tier: usize,
    id: u64,
    position: usize,
    granted: Option<oneshot::Receiver<()>>,
    consumed: bool,
}

impl Pool {
    /// A pool with `settings`, its time read from `clock`, its figures in `metrics`.
    pub fn new(
        settings: &PoolSettings,
        clock: Arc<dyn Clock>,
        metrics: CapacityMetrics,
    ) -> Arc<Self> {
        let tiers: Vec<TierEntry> = settings
            .tiers
            .iter()
            .map(|(name, slots)| TierEntry {
                name: name.clone(),
                slots: slots.clone(),
                in_flight: metrics.in_flight.with_label_values(&[name.as_str()]),
                queued: metrics.queued.with_label_values(&[name.as_str()]),
                wait: metrics.queue_wait.with_label_values(&[name.as_str()]),
            })
            .collect();
        let index = tiers
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        let fallback = tiers
            .iter()
            .enumerate()
            .min_by_key(|(_, t)| t.slots.priority)
            .map_or(0, |(i, _)| i);
        let state = State {
            running_per_tier: vec![0; tiers.len()],
            queues: tiers.iter().map(|_| VecDeque::new()).collect(),
            ..State::default()
        };
        Arc::new(Self {
            total: settings.total.get(),
            aging_ms: settings.aging.map(|d| (d.as_millis() as u64).max(1)),
            retry_after: settings.retry_after,
            tiers,
            index,
            fallback,
            clock,
            metrics,
            state: Mutex::new(state),
        })
    }

    /// Admits an execution of `client` in `tier`, waiting in the queue when the
    /// pool (or, where the tier says so, the client's cap) is full. Dropping the
    /// returned future while it waits leaves the queue.
    pub async fn acquire(
        self: &Arc<Self>,
        client: &ClientKey,
        tier: &TierName,
    ) -> Result<Permit, CapacityRefusal> {
        match self.admit(client, tier)? {
            Admission::Run(permit) => Ok(permit),
            Admission::Queued(ticket) => ticket.wait().await,
        }
    }

    /// Admits without waiting: runs now, takes a place in the queue, or is refused.
    pub fn admit(
        self: &Arc<Self>,
        client: &ClientKey,
        tier: &TierName,
    ) -> Result<Admission, CapacityRefusal> {
        if self.tiers.is_empty() {
            return Err(CapacityRefusal::QueueFull {
                retry_after: self.retry_after,
            });
        }
        let t = self.index.get(tier).copied().unwrap_or(self.fallback);
        let entry = &self.tiers[t];
        let mut state = self.state.lock();
        let mine = state.per_client.get(client).copied().unwrap_or(0);
        let client_full = mine >= entry.slots.per_client.get();
        if client_full && entry.slots.over_client_cap == OverClientCap::Refuse {
            drop(state);
            self.metrics.refused("concurrency_limited");
            return Err(CapacityRefusal::ConcurrencyLimited {
                retry_after: self.retry_after,
            });
        }
        // Whenever the pool has room, no waiter that could run is left waiting:
        // a newcomer under its cap with room to spare jumps nobody.
        if !client_full && state.running < self.total {
            state.start(client, t);
            entry.in_flight.inc();
            drop(state);
            return Ok(Admission::Run(self.permit(client.clone(), t)));
        }
        if state.queues[t].len() >= entry.slots.queue_max {
            drop(state);
            self.metrics.refused("queue_full");
            return Err(CapacityRefusal::QueueFull {
                retry_after: self.retry_after,
            });
        }
        let (tx, rx) = oneshot::channel();
        let id = state.next_id;
        state.next_id += 1;
        state.queues[t].push_back(Waiter {
            id,
            client: client.clone(),
            since_ms: self.clock.now_ms(),
            wake: tx,
        });
        entry.queued.inc();
        let position = self.position(&state, t, id);
        drop(state);
        Ok(Admission::Queued(Ticket {
            pool: self.clone(),
            client: client.clone(),
            tier: t,
            id,
            position,
            granted: Some(rx),
            consumed: false,
        }))
    }

    /// Executions in flight and waiting, per tier, for `/v1/status`.
    pub fn status(&self) -> PoolStatus {
        let state = self.state.lock();
        PoolStatus {
            total: self.total,
            in_flight: state.running,
            tiers: self
                .tiers
                .iter()
                .enumerate()
                .map(|(i, t)| TierStatus {
                    tier: t.name.clone(),
                    in_flight: state.running_per_tier[i],
                    queued: state.queues[i].len(),
                })
                .collect(),
        }
    }

    fn permit(self: &Arc<Self>, client: ClientKey, tier: usize) -> Permit {
        Permit {
            pool: self.clone(),
            client,
            tier,
        }
    }

    /// Where waiter `id` of tier `t` stands, counting the waiters ahead of it
    /// in its own and higher-priority tiers (aging may still change it).
    fn position(&self, state: &State, t: usize, id: u64) -> usize {
        let priority = self.tiers[t].slots.priority;
        let ahead: usize = self
            .tiers
            .iter()
            .enumerate()
            .filter(|(i, e)| *i != t && e.slots.priority > priority)
            .map(|(i, _)| state.queues[i].len())
            .sum();
        let own = state.queues[t].iter().take_while(|w| w.id != id).count();
        ahead + own + 1
    }

    /// A run of `client` in tier `t` ended: free its slot and start waiters.
    fn release(&self, client: &ClientKey, t: usize) {
        let mut state = self.state.lock();
        state.finish(client, t);
        self.tiers[t].in_flight.dec();
        self.dispatch(&mut state);
    }

    /// Grants slots to the best waiters that may run, while the pool has room.
    fn dispatch(&self, state: &mut State) {
        let now = self.clock.now_ms();
        while state.running < self.total {
            let Some((t, at)) = self.best_waiter(state, now) else {
                return;
            };
            let Some(waiter) = state.queues[t].remove(at) else {
                return;
            };
            let entry = &self.tiers[t];
            entry.queued.dec();
            state.start(&waiter.client, t);
            entry.in_flight.inc();
            entry
                .wait
                .observe(now.saturating_sub(waiter.since_ms) as f64 / 1000.0);
            if waiter.wake.send(()).is_err() {
                // Its ticket was forgotten without being dropped: nobody runs.
                state.finish(&waiter.client, t);
                entry.in_flight.dec();
            }
        }
    }

    /// The waiter to run next: highest priority (raised by aging), then oldest.
    /// Only a waiter whose client is under its cap may run.
    fn best_waiter(&self, state: &State, now: u64) -> Option<(usize, usize)> {
        let mut best: Option<(u64, u64, usize, usize)> = None;
        for (t, queue) in state.queues.iter().enumerate() {
            let cap = self.tiers[t].slots.per_client.get();
            let Some((at, w)) = queue
                .iter()
                .enumerate()
                .find(|(_, w)| state.per_client.get(&w.client).copied().unwrap_or(0) < cap)
            else {
                continue;
            };
            let priority = u64::from(self.tiers[t].slots.priority);
            let rank = match self.aging_ms {
                Some(step) => priority
                    .saturating_mul(step)
                    .saturating_add(now.saturating_sub(w.since_ms)),
                None => priority,
            };
            let better = match best {
                None => true,
                Some((r, id, _, _)) => rank > r || (rank == r && w.id < id),
            };
            if better {
                best = Some((rank, w.id, t, at));
            }
        }
        best.map(|(_, _, t, at)| (t, at))
    }

    /// Takes waiter `id` out of tier `t`'s queue; `false` when it was already granted.
    fn leave(&self, t: usize, id: u64) -> bool {
        let mut state = self.state.lock();
        let Some(at) = state.queues[t].iter().position(|w| w.id == id) else {
            return false;
        };
        state.queues[t].remove(at);
        self.tiers[t].queued.dec();
        // A waiter held back by its client's cap may have blocked nobody, but
        // leaving never frees a slot: nothing else to start.
        true
    }
}

impl State {
    fn start(&mut self, client: &ClientKey, t: usize) {
        self.running += 1;
        self.running_per_tier[t] += 1;
        *self.per_client.entry(client.clone()).or_insert(0) += 1;
    }

    fn finish(&mut self, client: &ClientKey, t: usize) {
        self.running = self.running.saturating_sub(1);
        self.running_per_tier[t] = self.running_per_tier[t].saturating_sub(1);
        if let Some(n) = self.per_client.get_mut(client) {
            *n -= 1;
            if *n == 0 {
                // Idle clients cost no memory.
                self.per_client.remove(client);
            }
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.pool.release(&self.client, self.tier);
    }
}

impl Ticket {
    /// The place in the queue when it was taken (1 = next).
    pub fn position(&self) -> usize {
        self.position
    }

    /// Waits for a slot, at most the tier's `queue_wait_max`.
    pub async fn wait(mut self) -> Result<Permit, CapacityRefusal> {
        let limit = self.pool.tiers[self.tier].slots.queue_wait_max;
        let Some(rx) = self.granted.as_mut() else {
            return Err(CapacityRefusal::QueueTimeout {
                retry_after: self.pool.retry_after,
            });
        };
        let woken = tokio::time::timeout(limit, rx).await;
        if matches!(woken, Ok(Ok(()))) || !self.pool.leave(self.tier, self.id) {
            // Granted — possibly just as the wait ran out: the slot is ours.
            self.consumed = true;
            return Ok(self.pool.permit(self.client.clone(), self.tier));
        }
        self.consumed = true;
        self.pool.metrics.refused("queue_timeout");
        Err(CapacityRefusal::QueueTimeout {
            retry_after: self.pool.retry_after,
        })
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.consumed {
            return;
        }
        if !self.pool.leave(self.tier, self.id) {
            // Granted while nobody was waiting for it any more.
            self.pool.release(&self.client, self.tier);
        }
    }
}

/// The pool's state for `/v1/status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PoolStatus {
    /// Executions allowed at once.
    pub total: u32,
    /// Executions running.
    pub in_flight: u32,
    /// Per tier.
    pub tiers: Vec<TierStatus>,
}

/// One tier's share of the pool.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TierStatus {
    /// The tier.
    pub tier: TierName,
    /// Its executions running.
    pub in_flight: u32,
    /// Its executions waiting.
    pub queued: usize,
}
