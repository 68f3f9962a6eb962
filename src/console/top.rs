//! The console's top clients by requests, by refusals and by reputation score,
//! each kept in a table of at most `CAPACITY` clients so that memory and the
//! per-request cost (a hash lookup and an ordered-set move, O(log CAPACITY))
//! stay bounded whatever the number of clients, and reading the top is a walk
//! of its first entries — never a sort of every client.
//!
//! Counts use Space-Saving (Metwally, Agrawal, El Abbadi 2005): a new client
//! past capacity takes the place of the smallest count and inherits it as its
//! possible overcount (`overcount`), so every client seen more than
//! 1/`CAPACITY` of the time is in the table and no true count is missed by
//! more than the smallest one kept.
//!
//! Scores decay with the reputation's half-life, at the same rate for every
//! client: ranking by `log2(score) + at / half_life` orders clients exactly as
//! their decayed scores would at any later instant, so the table is never
//! re-sorted as time passes; the current score is computed only for the
//! entries read.

use execgate_core::{ClientKey, Clock};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Clients kept per ranking.
pub const CAPACITY: usize = 1024;

/// What the clients are ranked by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ranking {
    /// Requests decided since start.
    Requests,
    /// Requests refused since start.
    Refusals,
    /// Current (decayed) reputation score.
    Score,
}

/// One client of a ranking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranked {
    /// The client.
    pub client: ClientKey,
    /// Its count, or its score now.
    pub value: f64,
    /// How much of a count may belong to clients it displaced (0 when exact).
    pub overcount: u64,
}

/// Space-Saving counts of at most `capacity` clients.
#[derive(Debug)]
struct Counts {
    capacity: usize,
    /// (client, count, overcount) by slot.
    slots: Vec<(ClientKey, u64, u64)>,
    index: HashMap<ClientKey, usize>,
    /// (count, slot), smallest first.
    order: BTreeSet<(u64, usize)>,
}

impl Counts {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            slots: Vec::new(),
            index: HashMap::new(),
            order: BTreeSet::new(),
        }
    }

    fn add(&mut self, client: &ClientKey) {
        if let Some(&slot) = self.index.get(client) {
            let count = self.slots[slot].1;
            self.order.remove(&(count, slot));
            self.slots[slot].1 = count + 1;
            self.order.insert((count + 1, slot));
            return;
        }
        if self.slots.len() < self.capacity {
            let slot = self.slots.len();
            self.slots.push((client.clone(), 1, 0));
            self.index.insert(client.clone(), slot);
            self.order.insert((1, slot));
            return;
        }
        let Some((least, slot)) = self.order.pop_first() else {
            return;
        };
        self.index.remove(&self.slots[slot].0);
        self.slots[slot] = (client.clone(), least + 1, least);
        self.index.insert(client.clone(), slot);
        self.order.insert((least + 1, slot));
    }

    fn top(&self, n: usize) -> Vec<Ranked> {
        self.order
            .iter()
            .rev()
            .take(n)
            .map(|&(count, slot)| Ranked {
                client: self.slots[slot].0.clone(),
                value: count as f64,
                overcount: self.slots[slot].2,
            })
            .collect()
    }
}

/// A rank that is a total order on `f64` (scores are finite and positive).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rank(f64);

impl Eq for Rank {}

impl PartialOrd for Rank {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Rank {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// A client's last score and when it was reached.
#[derive(Debug, Clone)]
struct Scored {
    client: ClientKey,
    score: f64,
    at: SystemTime,
    rank: Rank,
}

/// The `capacity` highest decayed scores.
#[derive(Debug)]
struct Scores {
    capacity: usize,
    half_life: f64,
    slots: Vec<Scored>,
    index: HashMap<ClientKey, usize>,
    order: BTreeSet<(Rank, usize)>,
}

impl Scores {
    fn new(capacity: usize, half_life: Duration) -> Self {
        Self {
            capacity,
            half_life: half_life.as_secs_f64().max(f64::MIN_POSITIVE),
            slots: Vec::new(),
            index: HashMap::new(),
            order: BTreeSet::new(),
        }
    }

    fn rank(&self, score: f64, at: SystemTime) -> Rank {
        let secs = at.duration_since(UNIX_EPOCH).unwrap_or_default();
        Rank(score.log2() + secs.as_secs_f64() / self.half_life)
    }

    fn set(&mut self, client: &ClientKey, score: f64, at: SystemTime) {
        if !(score.is_finite() && score > 0.0) {
            self.remove(client);
            return;
        }
        let rank = self.rank(score, at);
        let entry = Scored {
            client: client.clone(),
            score,
            at,
            rank,
        };
        if let Some(&slot) = self.index.get(client) {
            self.order.remove(&(self.slots[slot].rank, slot));
            self.slots[slot] = entry;
            self.order.insert((rank, slot));
            return;
        }
        if self.slots.len() < self.capacity {
            let slot = self.slots.len();
            self.slots.push(entry);
            self.index.insert(client.clone(), slot);
            self.order.insert((rank, slot));
            return;
        }
        match self.order.first().copied() {
            Some((least, slot)) if least < rank => {
                self.order.remove(&(least, slot));
                self.index.remove(&self.slots[slot].client);
                self.slots[slot] = entry;
                self.index.insert(client.clone(), slot);
                self.order.insert((rank, slot));
            }
            _ => {}
        }
    }

    fn remove(&mut self, client: &ClientKey) {
        let Some(slot) = self.index.remove(client) else {
            return;
        };
        self.order.remove(&(self.slots[slot].rank, slot));
        let last = self.slots.len() - 1;
        if slot != last {
            let moved = self.slots[last].rank;
            self.order.remove(&(moved, last));
            self.order.insert((moved, slot));
            self.index.insert(self.slots[last].client.clone(), slot);
        }
        self.slots.swap_remove(slot);
    }

    fn top(&self, n: usize, now: SystemTime) -> Vec<Ranked> {
        self.order
            .iter()
            .rev()
            .take(n)
            .map(|&(_, slot)| {
                let s = &self.slots[slot];
                let elapsed = now.duration_since(s.at).unwrap_or_default().as_secs_f64();
                Ranked {
                    client: s.client.clone(),
                    value: s.score * 0.5f64.powf(elapsed / self.half_life),
                    overcount: 0,
                }
            })
            .collect()
    }
}

/// The three rankings, fed by every finished request and every score change.
#[derive(Debug)]
pub struct TopClients {
    /// The reputation's clock, which dates the scores.
    clock: Arc<dyn Clock>,
    requests: Mutex<Counts>,
    refusals: Mutex<Counts>,
    scores: Mutex<Scores>,
}

impl TopClients {
    /// Empty rankings; scores decay with `half_life` on `clock` (the reputation's).
    pub fn new(half_life: Duration, clock: Arc<dyn Clock>) -> Self {
        Self::with_capacity(CAPACITY, half_life, clock)
    }

    fn with_capacity(capacity: usize, half_life: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            requests: Mutex::new(Counts::new(capacity)),
            refusals: Mutex::new(Counts::new(capacity)),
            scores: Mutex::new(Scores::new(capacity, half_life)),
        }
    }

    /// Counts one finished request of `client`, and its refusal if it was refused.
    pub fn request(&self, client: &ClientKey, refused: bool) {
        self.requests.lock().add(client);
        if refused {
            self.refusals.lock().add(client);
        }
    }

    /// `client`'s score became `score` at `at` (0 once a ban or forgiveness cleared it).
    pub fn score(&self, client: &ClientKey, score: f64, at: SystemTime) {
        self.scores.lock().set(client, score, at);
    }

    /// The first `n` clients by `ranking`, highest first; scores as of now.
    pub fn top(&self, ranking: Ranking, n: usize) -> Vec<Ranked> {
        match ranking {
            Ranking::Requests => self.requests.lock().top(n),
            Ranking::Refusals => self.refusals.lock().top(n),
            Ranking::Score => self.scores.lock().top(n, self.clock.now()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use execgate_core::ManualClock;

    fn key(i: usize) -> ClientKey {
        ClientKey::from_client_id(&i.to_string())
    }

    fn names(r: &[Ranked]) -> Vec<String> {
        r.iter().map(|r| r.client.as_str().to_string()).collect()
    }

    #[test]
    fn heavy_clients_stay_on_top_of_a_stream_of_many_small_ones() {
        let top = TopClients::with_capacity(
            64,
            Duration::from_secs(600),
            Arc::new(ManualClock::default()),
        );
        // 10 000 one-off clients interleaved with three heavy ones, each above
        // the 1/64 of the stream Space-Saving guarantees to keep.
        for i in 0..10_000 {
            top.request(&key(100 + i), false);
            if i % 10 == 0 {
                top.request(&key(1), true);
            }
            if i % 20 == 0 {
                top.request(&key(2), false);
            }
            if i % 40 == 0 {
                top.request(&key(3), true);
            }
        }
        let requests = top.top(Ranking::Requests, 3);
        assert_eq!(
            names(&requests),
            ["client:1", "client:2", "client:3"],
            "{requests:?}"
        );
        // The counts are upper bounds, off by at most the overcount.
        for (r, truth) in requests.iter().zip([1000.0, 500.0, 250.0]) {
            assert!(
                r.value >= truth && r.value - r.overcount as f64 <= truth,
                "{r:?}"
            );
        }
        let refusals = top.top(Ranking::Refusals, 5);
        assert_eq!(names(&refusals), ["client:1", "client:3"]);
        assert_eq!(refusals[0].value, 1000.0);
        assert_eq!(refusals[0].overcount, 0);
        assert!(top.requests.lock().slots.len() <= 64, "bounded");
    }

    #[test]
    fn scores_rank_by_their_decayed_value_and_cleared_ones_leave() {
        let half_life = Duration::from_secs(100);
        let clock = ManualClock::default();
        let top = TopClients::with_capacity(3, half_life, Arc::new(clock.clone()));
        let t0 = clock.now();
        // 16 long ago is 4 now (two half-lives); 6 recent is still 6.
        top.score(&key(1), 16.0, t0);
        top.score(&key(2), 6.0, t0 + 2 * half_life);
        top.score(&key(3), 5.0, t0 + 2 * half_life);
        clock.advance(2 * half_life);
        let now = clock.now();
        let ranked = top.top(Ranking::Score, 3);
        assert_eq!(names(&ranked), ["client:2", "client:3", "client:1"]);
        assert!((ranked[2].value - 4.0).abs() < 1e-9, "{ranked:?}");
        // Full: a higher score takes the lowest one's place, a lower one is ignored.
        top.score(&key(4), 4.5, now);
        top.score(&key(5), 1.0, now);
        assert_eq!(
            names(&top.top(Ranking::Score, 5)),
            ["client:2", "client:3", "client:4"]
        );
        // A ban or forgiveness clears the score: the client leaves the ranking.
        top.score(&key(2), 0.0, now);
        assert_eq!(names(&top.top(Ranking::Score, 5)), ["client:3", "client:4"]);
        top.score(&key(3), 7.0, now);
        assert_eq!(
            names(&top.top(Ranking::Score, 1)),
            ["client:3"],
            "a new score replaces the client's old one"
        );
    }
}
