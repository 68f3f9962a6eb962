//! Result tokens bound to the client that submitted them: a Judge0 token read
//! from a run's response is remembered with its owner, and a request reading
//! results by token (`GET /submissions/{token}`, `…/batch?tokens=…`) passes only
//! when every token it names is the caller's. Any other token — another
//! client's, expired, never issued — is answered like a path that does not
//! exist, so a token's existence is never confirmed to anyone but its owner.
//!
//! Memory is bounded: at most `capacity` tokens, each kept for `ttl` after it
//! was issued; a full table forgets its oldest token first. A forgotten token
//! is a 404 for its owner too (fail closed), as are tokens issued before the
//! gateway restarted. The table also says which runs nobody has read yet,
//! for `unpolled` scoring, and which runs answered with only their token still
//! owe their cost (charged once, by whichever read sees the verdict first).

use execgate_capacity::SessionId;
use execgate_core::{ClientKey, TierName};
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Who submitted a run, and whether its outcome was already scored.
#[derive(Debug, Clone)]
struct Entry {
    owner: ClientKey,
    ip: IpAddr,
    allow_listed: bool,
    issued: Instant,
    scored: bool,
    /// The charge the run still owes; `None` once charged (or never metered).
    owed: Option<Deferred>,
}

/// How a run answered with only its token is charged once its verdict is
/// read: the tier it was admitted in and its language (the run's price row),
/// and the session it counts in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deferred {
    /// The tier the run was admitted in.
    pub tier: TierName,
    /// The language label of its price row.
    pub language: &'static str,
    /// Its session, if it named one.
    pub session: Option<SessionId>,
}

/// A token whose run is not settled yet: its verdict not scored, or its cost
/// not charged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unscored {
    /// The token.
    pub token: String,
    /// The client that submitted it.
    pub owner: ClientKey,
    /// Its address.
    pub ip: IpAddr,
    /// It is on the allow list (never banned).
    pub allow_listed: bool,
    /// Its verdict was scored already (only its cost is owed).
    pub scored: bool,
}

/// The client a token is issued to.
#[derive(Debug, Clone)]
pub struct Owner {
    /// Its key.
    pub key: ClientKey,
    /// Its address.
    pub ip: IpAddr,
    /// It is on the allow list.
    pub allow_listed: bool,
}

/// The token → owner table.
#[derive(Debug)]
pub struct TokenOwners {
    ttl: Duration,
    capacity: usize,
    inner: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    owners: HashMap<String, Entry>,
    /// Tokens in the order they were issued (a re-issued token appears twice;
    /// only the entry whose time matches is dropped with it).
    order: VecDeque<(Instant, String)>,
}

impl TokenOwners {
    /// A table keeping at most `capacity` tokens for `ttl` each.
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity: capacity.max(1),
            inner: Mutex::new(Table::default()),
        }
    }

    /// Binds `tokens` to `owner`, issued at `now`. A token already bound to
    /// someone else keeps its owner: executors issue fresh tokens, and one
    /// seen twice must not change hands.
    pub fn issue(&self, owner: &Owner, tokens: &[String], now: Instant) {
        self.issue_owing(owner, tokens, Vec::new(), now);
    }

    /// [`issue`](Self::issue), each token owing the charge at its place in
    /// `owed` (none past its end).
    pub fn issue_owing(
        &self,
        owner: &Owner,
        tokens: &[String],
        owed: Vec<Option<Deferred>>,
        now: Instant,
    ) {
        let mut table = self.inner.lock();
        table.expire(now, self.ttl);
        let mut owed = owed.into_iter();
        for token in tokens {
            let owes = owed.next().flatten();
            if table.owners.contains_key(token) {
                continue;
            }
            while table.owners.len() >= self.capacity {
                table.drop_oldest();
            }
            table.owners.insert(
                token.clone(),
                Entry {
                    owner: owner.key.clone(),
                    ip: owner.ip,
                    allow_listed: owner.allow_listed,
                    issued: now,
                    scored: false,
                    owed: owes,
                },
            );
            table.order.push_back((now, token.clone()));
        }
    }

    /// Whether every one of `tokens` (at least one) is `owner`'s and alive at `now`.
    pub fn all_owned_by(&self, owner: &ClientKey, tokens: &[String], now: Instant) -> bool {
        let mut table = self.inner.lock();
        table.expire(now, self.ttl);
        !tokens.is_empty()
            && tokens
                .iter()
                .all(|t| table.owners.get(t).is_some_and(|e| e.owner == *owner))
    }

    /// Marks `tokens` as scored: their verdicts reached the reputation engine.
    /// Returns whether any of them was not scored before.
    pub fn mark_scored(&self, tokens: &[String]) -> bool {
        let mut table = self.inner.lock();
        let mut fresh = false;
        for token in tokens {
            if let Some(entry) = table.owners.get_mut(token) {
                fresh |= !entry.scored;
                entry.scored = true;
            }
        }
        fresh
    }

    /// The charge `token`'s run owes, taken: the caller charges it, and no
    /// later read of the token finds it again. With the token's owner.
    pub fn take_owed(&self, token: &str) -> Option<(ClientKey, Deferred)> {
        let mut table = self.inner.lock();
        let entry = table.owners.get_mut(token)?;
        let owed = entry.owed.take()?;
        Some((entry.owner.clone(), owed))
    }

    /// Up to `max` tokens issued at least `after` before `now` whose verdicts
    /// nobody has scored or whose cost is still owed, oldest first.
    pub fn unscored(&self, now: Instant, after: Duration, max: usize) -> Vec<Unscored> {
        let mut table = self.inner.lock();
        table.expire(now, self.ttl);
        let Table { owners, order } = &*table;
        order
            .iter()
            .take_while(|(issued, _)| now.saturating_duration_since(*issued) >= after)
            .filter_map(|(issued, token)| {
                let entry = owners.get(token)?;
                let unsettled = !entry.scored || entry.owed.is_some();
                (entry.issued == *issued && unsettled).then(|| Unscored {
                    token: token.clone(),
                    owner: entry.owner.clone(),
                    ip: entry.ip,
                    allow_listed: entry.allow_listed,
                    scored: entry.scored,
                })
            })
            .take(max)
            .collect()
    }

    /// Tokens remembered now.
    pub fn len(&self) -> usize {
        self.inner.lock().owners.len()
    }

    /// Whether no token is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Table {
    /// Forgets every token issued `ttl` or longer before `now`.
    fn expire(&mut self, now: Instant, ttl: Duration) {
        while self
            .order
            .front()
            .is_some_and(|(issued, _)| now.saturating_duration_since(*issued) >= ttl)
        {
            self.drop_oldest();
        }
    }

    fn drop_oldest(&mut self) {
        let Some((issued, token)) = self.order.pop_front() else {
            return;
        };
        if self.owners.get(&token).is_some_and(|e| e.issued == issued) {
            self.owners.remove(&token);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip() -> IpAddr {
        "192.0.2.1".parse().unwrap()
    }

    fn owner(key: &ClientKey) -> Owner {
        Owner {
            key: key.clone(),
            ip: ip(),
            allow_listed: false,
        }
    }

    fn tokens(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn tokens_belong_to_their_submitter_only() {
        let table = TokenOwners::new(Duration::from_secs(60), 10);
        let (alice, bob) = (
            ClientKey::from_client_id("alice"),
            ClientKey::from_client_id("bob"),
        );
        let now = Instant::now();
        table.issue(&owner(&alice), &tokens(&["a1", "a2"]), now);
        table.issue(&owner(&bob), &tokens(&["b1", "a1"]), now);
        assert!(table.all_owned_by(&alice, &tokens(&["a1", "a2"]), now));
        assert!(
            !table.all_owned_by(&bob, &tokens(&["a1"]), now),
            "a1 kept its owner"
        );
        assert!(!table.all_owned_by(&alice, &tokens(&["a1", "b1"]), now));
        assert!(!table.all_owned_by(&alice, &tokens(&["zz"]), now));
        assert!(
            !table.all_owned_by(&alice, &[], now),
            "no token is no proof"
        );
    }

    #[test]
    fn memory_is_bounded_by_capacity_and_age() {
        let table = TokenOwners::new(Duration::from_secs(60), 3);
        let alice = ClientKey::from_client_id("alice");
        let start = Instant::now();
        for i in 0..10u64 {
            let at = start + Duration::from_secs(i);
            table.issue(&owner(&alice), &tokens(&[&format!("t{i}")]), at);
            assert!(table.len() <= 3);
        }
        let now = start + Duration::from_secs(10);
        assert!(
            !table.all_owned_by(&alice, &tokens(&["t6"]), now),
            "the oldest go first"
        );
        assert!(table.all_owned_by(&alice, &tokens(&["t7", "t8", "t9"]), now));
        assert!(!table.all_owned_by(&alice, &tokens(&["t9"]), start + Duration::from_secs(69)));
        assert!(table.is_empty(), "expired tokens are forgotten");
    }

    #[test]
    fn an_owed_charge_is_taken_once_and_keeps_the_run_listed_until_then() {
        let table = TokenOwners::new(Duration::from_secs(600), 100);
        let alice = ClientKey::from_client_id("alice");
        let start = Instant::now();
        let owed = Deferred {
            tier: TierName("free".into()),
            language: "python",
            session: None,
        };
        table.issue_owing(
            &owner(&alice),
            &tokens(&["a", "b"]),
            vec![Some(owed.clone())],
            start,
        );
        table.mark_scored(&tokens(&["a", "b"]));
        let later = start + Duration::from_secs(5);
        let due = table.unscored(later, Duration::from_secs(1), 10);
        let names: Vec<(&str, bool)> = due.iter().map(|u| (u.token.as_str(), u.scored)).collect();
        assert_eq!(
            names,
            [("a", true)],
            "a still owes its cost; b owes nothing"
        );
        assert_eq!(table.take_owed("a"), Some((alice, owed)));
        assert_eq!(table.take_owed("a"), None, "charged once");
        assert_eq!(table.take_owed("b"), None);
        assert!(table.unscored(later, Duration::from_secs(1), 10).is_empty());
    }

    #[test]
    fn unscored_runs_are_listed_oldest_first_once_old_enough() {
        let table = TokenOwners::new(Duration::from_secs(600), 100);
        let alice = ClientKey::from_client_id("alice");
        let start = Instant::now();
        table.issue(&owner(&alice), &tokens(&["a", "b"]), start);
        table.issue(
            &owner(&alice),
            &tokens(&["c"]),
            start + Duration::from_secs(5),
        );
        assert!(table.mark_scored(&tokens(&["a"])));
        assert!(!table.mark_scored(&tokens(&["a"])), "scored once");
        let due = table.unscored(start + Duration::from_secs(6), Duration::from_secs(3), 10);
        let names: Vec<&str> = due.iter().map(|u| u.token.as_str()).collect();
        assert_eq!(names, ["b"], "a is scored, c too young");
        let due = table.unscored(start + Duration::from_secs(9), Duration::from_secs(3), 1);
        assert_eq!(due.len(), 1, "bounded");
    }
}
