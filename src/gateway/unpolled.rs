//! Verdicts of runs nobody reads: a client that submits Judge0 runs with
//! `wait=false` and never polls would never have its time-outs and memory
//! kills scored. The gateway reads them itself: every `INTERVAL`, the oldest
//! unscored tokens at least `GRACE` old (at most one batch of `BATCH`) are read
//! from the executor with one `GET /submissions/batch`, and every finished run
//! is scored against the client that submitted it, once. Runs answered with
//! only their token are charged here too, their figures read with the
//! verdict, when nobody has read them with their figures first.

use super::Gateway;
use super::account::outcome_event;
use super::tokens::TokenOwners;
use execgate_dialect::Dialect;
use execgate_state::Reputation;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How often unscored runs are looked for.
pub const INTERVAL: Duration = Duration::from_secs(1);
/// How long a client has to read its own result before the gateway does.
pub const GRACE: Duration = Duration::from_secs(1);
/// Most tokens read per round (Judge0's batch size).
const BATCH: usize = 20;
/// Most bytes of the executor's answer read.
const ANSWER_MAX: usize = 1 << 20;

/// What the scorer needs.
pub struct Scorer {
    /// Tokens and their owners.
    pub tokens: Arc<TokenOwners>,
    /// Where outcomes are scored.
    pub reputation: Arc<Reputation>,
    /// Reads verdicts from the answer.
    pub dialect: Arc<Dialect>,
    /// The executors, tried in order.
    pub executors: Vec<SocketAddr>,
    /// The longest one read may take.
    pub timeout: Duration,
    /// Where runs that owe their cost are charged (`[capacity] enabled`).
    pub capacity: Option<Arc<execgate_capacity::Capacity>>,
}

impl Gateway {
    /// The scorer of runs nobody reads, for a gateway that serves Judge0.
    pub fn unpolled_scorer(&self, executors: Vec<std::net::SocketAddr>) -> Option<Scorer> {
        self.dialect
            .kinds()
            .contains(&execgate_dialect::DialectKind::Judge0)
            .then(|| Scorer {
                tokens: self.tokens.clone(),
                reputation: self.reputation.clone(),
                dialect: self.dialect.clone(),
                executors,
                timeout: self.upstreams.total_timeout(),
                capacity: self.capacity.clone(),
            })
    }
}

impl Scorer {
    /// Scores unread runs forever.
    pub async fn run(self) {
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.round().await;
        }
    }

    /// One round: read the oldest due tokens and score what finished.
    async fn round(&self) {
        let due = self.tokens.unscored(Instant::now(), GRACE, BATCH);
        if due.is_empty() {
            return;
        }
        let list: Vec<&str> = due.iter().map(|u| u.token.as_str()).collect();
        let path = format!(
            "/submissions/batch?tokens={}&base64_encoded=false&fields=token,status,message,time,wall_time,memory",
            list.join(",")
        );
        let Some(doc) = self.read(&path).await else {
            return;
        };
        let verdicts = self.dialect.token_verdicts(&path, &doc);
        let records = super::capacity::judge0_records(&doc, &[]);
        let mut done = Vec::new();
        for unread in &due {
            match verdicts.iter().find(|(t, _)| *t == unread.token) {
                // Still queued or running: next round.
                Some((_, None)) => continue,
                Some((_, Some(outcome))) => {
                    if !unread.scored
                        && let Some(event) = outcome_event(*outcome)
                    {
                        self.reputation
                            .record(&unread.owner, unread.ip, event, unread.allow_listed)
                            .await;
                    }
                    let record = records.iter().find(|(t, _)| *t == unread.token);
                    self.charge(&unread.token, record.map(|(_, r)| *r));
                }
                // The executor no longer knows it: nothing left to score or
                // to read figures from.
                None => {
                    self.tokens.take_owed(&unread.token);
                }
            }
            done.push(unread.token.clone());
        }
        self.tokens.mark_scored(&done);
    }

    /// Charges what a finished run still owes, from its `record`'s figures;
    /// a run that reports none (a compile error) is charged no time, as estimated.
    fn charge(&self, token: &str, record: Option<&serde_json::Value>) {
        let Some(cap) = &self.capacity else {
            return;
        };
        let Some((owner, owed)) = self.tokens.take_owed(token) else {
            return;
        };
        let run = record
            .and_then(|r| {
                execgate_capacity::read_costs(&execgate_capacity::CostFormat::Judge0, r)
                    .into_iter()
                    .next()
            })
            .unwrap_or(execgate_capacity::RunCost {
                cpu: Duration::ZERO,
                wall: Duration::ZERO,
                memory_bytes: 0,
                estimated: true,
            });
        super::capacity::charge_owed(cap, &owner, &owed, run);
    }

    /// The executor's JSON answer to `GET path`, from the first that gives one.
    async fn read(&self, path: &str) -> Option<serde_json::Value> {
        for addr in &self.executors {
            match tokio::time::timeout(self.timeout, get(*addr, path)).await {
                Ok(Ok(doc)) => return Some(doc),
                Ok(Err(e)) => tracing::debug!(%addr, "reading unread results: {e}"),
                Err(_) => tracing::debug!(%addr, "reading unread results timed out"),
            }
        }
        None
    }
}

/// One HTTP/1.0 `GET` (the answer ends with the connection, no chunking);
/// its JSON body when the status is 200.
async fn get(addr: SocketAddr, path: &str) -> Result<serde_json::Value, String> {
    let mut conn = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let head = format!(
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: application/json\r\nAccept-Encoding: identity\r\n\r\n"
    );
    conn.write_all(head.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    (&mut conn)
        .take(ANSWER_MAX as u64 + 1)
        .read_to_end(&mut answer)
        .await
        .map_err(|e| e.to_string())?;
    if answer.len() > ANSWER_MAX {
        return Err("answer too large".into());
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let body_at = match response.parse(&answer) {
        Ok(httparse::Status::Complete(at)) => at,
        _ => return Err("not an HTTP answer".into()),
    };
    if response.code != Some(200) {
        return Err(format!("status {:?}", response.code));
    }
    serde_json::from_slice(&answer[body_at..]).map_err(|e| e.to_string())
}
