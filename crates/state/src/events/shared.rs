//! Events shared by every gateway through Redis: the recent events of all
//! gateways in one capped list, `{<prefix>:ev}:all`, and each client's history
//! in its own, `<prefix>:ev:{<client key>}` (its hash tag, as every key of a
//! client), so `GET /v1/events` and `GET /v1/clients/{key}` answer the same on
//! any gateway. An event is written without waiting (it never delays the
//! request that caused it); a gateway that cannot read Redis answers from its
//! own ring.

use super::EventRecord;
use crate::backend::{BackendError, RedisBackend};
use execgate_core::ClientKey;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Events kept per client, newest first.
pub const CLIENT_HISTORY: usize = 100;

/// A client's history is forgotten this long after its last event (as its score).
const KEEP: Duration = Duration::from_secs(7 * 86_400);

/// The shared event lists.
#[derive(Debug, Clone)]
pub struct SharedEvents {
    backend: Arc<RedisBackend>,
    capacity: usize,
}

impl SharedEvents {
    /// Lists on `backend`; the list of all events keeps the last `capacity`.
    pub fn new(backend: Arc<RedisBackend>, capacity: usize) -> Self {
        Self {
            backend,
            capacity: capacity.max(1),
        }
    }

    fn all_key(&self) -> String {
        format!("{{{}:ev}}:all", self.backend.prefix())
    }

    fn client_key(&self, client: &ClientKey) -> String {
        format!("{}:ev:{{{}}}", self.backend.prefix(), client.as_str())
    }

    /// Sends `record` to both lists in the background; lost while Redis is down
    /// (this gateway's ring still holds it).
    pub(super) fn publish(&self, record: &EventRecord) {
        if !self.backend.is_up() {
            return;
        }
        let Ok(json) = serde_json::to_string(record) else {
            return;
        };
        let backend = self.backend.clone();
        let (all, client) = (self.all_key(), self.client_key(&record.key));
        let last = isize::try_from(self.capacity).unwrap_or(isize::MAX) - 1;
        self.backend.spawn(async move {
            // Two round trips: in a Cluster the two lists live in different slots.
            let to_all = {
                let json = json.clone();
                backend
                    .call_async(move |mut conn| async move {
                        redis::pipe()
                            .lpush(&all, json)
                            .ltrim(&all, 0, last)
                            .ignore()
                            .query_async::<()>(&mut conn)
                            .await
                    })
                    .await
            };
            let to_client = backend
                .call_async(move |mut conn| async move {
                    redis::pipe()
                        .lpush(&client, json)
                        .ltrim(&client, 0, CLIENT_HISTORY as isize - 1)
                        .pexpire(&client, KEEP.as_millis() as i64)
                        .ignore()
                        .query_async::<()>(&mut conn)
                        .await
                })
                .await;
            if let Err(e) = to_all.and(to_client) {
                tracing::debug!(error = %e, "event not shared");
            }
        });
    }

    /// The newest `limit` events at or after `since`, newest first.
    pub(super) fn since(
        &self,
        since: SystemTime,
        limit: usize,
    ) -> Result<Vec<EventRecord>, BackendError> {
        // The list is newest first: the newest `limit` are the only candidates.
        let mut newest = self.read(self.all_key(), limit.min(self.capacity))?;
        newest.retain(|e| e.at >= since);
        Ok(newest)
    }

    /// The newest `limit` events about `client`, newest first.
    pub(super) fn for_key(
        &self,
        client: &ClientKey,
        limit: usize,
    ) -> Result<Vec<EventRecord>, BackendError> {
        self.read(self.client_key(client), limit.min(CLIENT_HISTORY))
    }

    /// The first `count` entries of a list; an entry that is not an event is
    /// skipped with a log line (another deployment's data, or a poisoned key).
    fn read(&self, list: String, count: usize) -> Result<Vec<EventRecord>, BackendError> {
        let last = isize::try_from(count).unwrap_or(isize::MAX) - 1;
        let name = list.clone();
        let raw: Vec<String> = self.backend.call(move |mut conn| async move {
            redis::cmd("LRANGE")
                .arg(list)
                .arg(0)
                .arg(last)
                .query_async(&mut conn)
                .await
        })?;
        Ok(raw
            .iter()
            .filter_map(|entry| match serde_json::from_str::<EventRecord>(entry) {
                Ok(record) => Some(record),
                Err(e) => {
                    tracing::warn!(list = %name, error = %e, "events: malformed entry skipped");
                    None
                }
            })
            .collect())
    }
}
