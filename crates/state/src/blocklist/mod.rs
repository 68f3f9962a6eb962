//! The dynamic blocklist: decisions (ban this IP, range, client, country or
//! ASN, for this long, for this reason) set by the security team, by lists, or
//! by the anomaly engine, and checked on every request.

mod index;
mod journal;
mod memory;
mod merge;
mod redis;
mod target;
pub(crate) mod time;

pub use memory::{MAX_BATCH, MemoryBlockStore};
pub use redis::RedisBlockStore;
pub use target::Target;

use execgate_core::{ClientKey, FileError};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

/// The shortest a decision may last.
pub const MIN_DURATION: Duration = Duration::from_secs(1);

/// The longest a decision may last (ten years); longer is surely a typo, use no duration for "forever".
pub const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// What a decision's value names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// One IP address.
    Ip,
    /// A CIDR range.
    Range,
    /// An authenticated client id (`client:ID`).
    Client,
    /// An ISO 3166 country code (`country:XX`).
    Country,
    /// An autonomous system number (`asn:64500`).
    Asn,
}

/// Who made a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// An operator, through the API or CLI.
    Manual,
    /// The reputation engine.
    Anomaly,
    /// An imported list.
    List,
}

macro_rules! names {
    ($ty:ident $label:literal { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// The lowercase name used in JSON and query strings.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $name),+ }
            }
        }
        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($name => Ok($ty::$variant),)+
                    other => Err(format!(
                        concat!("unknown ", $label, " {:?}: expected one of ", $($name, " "),+),
                        other
                    )),
                }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

names!(Scope "scope" { Ip => "ip", Range => "range", Client => "client", Country => "country", Asn => "asn" });
names!(Origin "origin" { Manual => "manual", Anomaly => "anomaly", List => "list" });

/// One block decision, serialized CrowdSec-style with RFC 3339 times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockDecision {
    /// Unique, never reused by the store.
    pub id: u64,
    /// What `value` names.
    pub scope: Scope,
    /// The canonical value: `203.0.113.7`, `198.51.100.0/24`, `client:abc`, `country:XX`, `asn:64500`.
    pub value: String,
    /// Always `ban` for now (CrowdSec's decision type).
    #[serde(rename = "type")]
    pub r#type: String,
    /// Who made it.
    pub origin: Origin,
    /// Why, in the maker's words.
    pub reason: String,
    /// When it was made.
    #[serde(with = "time::rfc3339")]
    pub created_at: SystemTime,
    /// When it stops applying; `null` for never.
    #[serde(with = "time::rfc3339_opt")]
    pub expires_at: Option<SystemTime>,
    /// The admin token's name, `reputation`, or a list's name.
    pub created_by: String,
}

impl BlockDecision {
    /// Whether the decision still applies at `now`.
    pub fn is_active(&self, now: SystemTime) -> bool {
        self.expires_at.is_none_or(|t| t > now)
    }
}

/// A decision to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBlock {
    /// `203.0.113.7` | `198.51.100.0/24` | `client:abc` | `country:XX` | `asn:64500` (also `ip:…`, `range:…`).
    pub value: String,
    /// How long it lasts; `None` for until removed.
    pub duration: Option<Duration>,
    /// Why.
    pub reason: String,
    /// Who decides.
    pub origin: Origin,
    /// The actor, for the audit log.
    pub created_by: String,
}

impl NewBlock {
    /// Checks every field; the parsed target on success.
    pub fn validate(&self) -> Result<Target, BlockError> {
        let target: Target = self
            .value
            .parse()
            .map_err(|m| BlockError::invalid("value", m))?;
        match self.duration {
            // Times are kept to the millisecond: anything shorter than a
            // second would be a decision expired (or nearly) when made.
            Some(d) if d < MIN_DURATION => {
                return Err(BlockError::invalid("duration", "must be at least 1s"));
            }
            Some(d) if d > MAX_DURATION => {
                return Err(BlockError::invalid(
                    "duration",
                    "is longer than 3650 days; omit it for a decision that never expires",
                ));
            }
            _ => {}
        }
        check_text("reason", &self.reason, 1024)?;
        check_text("created_by", &self.created_by, 256)?;
        Ok(target)
    }
}

fn check_text(field: &'static str, text: &str, max: usize) -> Result<(), BlockError> {
    if text.trim().is_empty() {
        return Err(BlockError::invalid(field, "must not be empty"));
    }
    if text.len() > max {
        return Err(BlockError::invalid(
            field,
            format!("is longer than {max} bytes"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(BlockError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// What a request is checked against.
#[derive(Debug, Clone, Copy)]
pub struct BlockQuery<'a> {
    /// The client's IP address.
    pub ip: IpAddr,
    /// The client's key.
    pub client: &'a ClientKey,
    /// The client's country (ISO 3166 alpha-2), when GeoIP knows it.
    pub country: Option<&'a str>,
    /// The client's autonomous system, when GeoIP knows it.
    pub asn: Option<u32>,
}

/// Which decisions to list; `None` fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockFilter {
    /// Only this scope.
    pub scope: Option<Scope>,
    /// Only this origin.
    pub origin: Option<Origin>,
    /// Only this exact (canonical) value.
    pub value: Option<String>,
}

impl BlockFilter {
    /// Whether `d` passes the filter.
    pub fn matches(&self, d: &BlockDecision) -> bool {
        self.scope.is_none_or(|s| s == d.scope)
            && self.origin.is_none_or(|o| o == d.origin)
            && self.value.as_ref().is_none_or(|v| *v == d.value)
    }
}

/// A page of a listing: skip `offset` decisions, return at most `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Decisions to skip.
    pub offset: usize,
    /// Decisions to return at most.
    pub limit: usize,
}

/// Decisions added and removed since a cursor, CrowdSec stream style.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BlockChanges {
    /// Decisions added or extended (and still active); with `resync`, every active decision.
    pub new: Vec<BlockDecision>,
    /// Decisions removed or expired; empty with `resync`.
    pub deleted: Vec<BlockDecision>,
    /// `new` is the complete set of active decisions, not an increment: drop
    /// anything not in it. Set for cursor 0 and for a cursor the store no
    /// longer knows (another store instance, or older than its change log).
    pub resync: bool,
    /// Pass this to the next `changes_since`.
    pub cursor: u64,
}

/// Why a blocklist operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// A field of the request is invalid.
    #[error("{}{field}: {message}", .item.map(|i| format!("item {i}: ")).unwrap_or_default())]
    Invalid {
        /// The position in a batch, when the request had several.
        item: Option<usize>,
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The store holds as many decisions as it may.
    #[error("the blocklist is full ({max} decisions)")]
    Full {
        /// The cap.
        max: usize,
    },
    /// Writing the journal or snapshot failed; nothing was changed.
    #[error("cannot persist the blocklist: {0}")]
    Io(String),
    /// A file at start-up is corrupt.
    #[error("{0}")]
    Corrupt(FileError),
}

impl BlockError {
    /// An invalid-field error.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        BlockError::Invalid {
            item: None,
            field,
            message: message.into(),
        }
    }
}

/// A decision still being added (the shared store awaits Redis).
pub type PendingAdd<'a> =
    Pin<Box<dyn Future<Output = Result<BlockDecision, BlockError>> + Send + 'a>>;

/// Storage of block decisions shared by every gateway worker.
pub trait BlockStore: Send + Sync {
    /// The first active decision matching the request (IP, range, client, country, ASN).
    fn check(&self, q: &BlockQuery) -> Option<BlockDecision>;
    /// Adds a decision; it applies from the next `check`. A value already
    /// actively blocked keeps its one decision (same id), which takes the
    /// later expiry, and the reason, origin and author of the add that extends it.
    fn add(&self, b: NewBlock) -> Result<BlockDecision, BlockError>;
    /// [`add`](Self::add) for the request path (a ban made by reputation): a
    /// store whose decisions live elsewhere answers without holding the
    /// caller's thread while it waits.
    fn add_async(&self, b: NewBlock) -> PendingAdd<'_> {
        Box::pin(std::future::ready(self.add(b)))
    }
    /// Adds several decisions at once, all or none, merging as `add` does
    /// (also within the batch); the resulting decision of each, in order.
    fn add_batch(&self, blocks: Vec<NewBlock>) -> Result<Vec<BlockDecision>, BlockError> {
        blocks.into_iter().map(|b| self.add(b)).collect()
    }
    /// Removes a decision; the removed decision, or `None` when there was none.
    fn remove(&self, id: u64) -> Result<Option<BlockDecision>, BlockError>;
    /// One active decision.
    fn get(&self, id: u64) -> Option<BlockDecision>;
    /// Active decisions passing `filter`, in id order.
    fn list(&self, filter: &BlockFilter, page: Page) -> Vec<BlockDecision>;
    /// The first active decision passing `filter`.
    fn find(&self, filter: &BlockFilter) -> Option<BlockDecision> {
        self.list(
            filter,
            Page {
                offset: 0,
                limit: 1,
            },
        )
        .pop()
    }
    /// The active decision on exactly `target` (one per value), if any.
    fn held(&self, target: &Target) -> Option<BlockDecision> {
        self.find(&BlockFilter {
            value: Some(target.to_string()),
            ..BlockFilter::default()
        })
    }
    /// Changes since `cursor`; every active decision, marked `resync`, for 0 or an unknown cursor.
    fn changes_since(&self, cursor: u64) -> BlockChanges;
    /// Drops expired decisions; how many.
    fn purge_expired(&self) -> usize;
    /// Background upkeep of a persisted store: rewrites the snapshot once the
    /// journal is long, so no request pays for it. Nothing to do by default.
    fn compact_if_due(&self) {}
    /// Active decisions in the store.
    fn len(&self) -> usize;
    /// Whether there is no active decision.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_block(value: &str, duration: Option<Duration>, reason: &str) -> NewBlock {
        NewBlock {
            value: value.into(),
            duration,
            reason: reason.into(),
            origin: Origin::Manual,
            created_by: "t".into(),
        }
    }

    #[test]
    fn validation_refuses_bad_durations_and_texts() {
        let zero = new_block("1.2.3.4", Some(Duration::ZERO), "x");
        assert!(
            zero.validate()
                .unwrap_err()
                .to_string()
                .starts_with("duration:")
        );
        let long = new_block("1.2.3.4", Some(MAX_DURATION * 2), "x");
        assert!(
            long.validate()
                .unwrap_err()
                .to_string()
                .contains("3650 days")
        );
        let empty = new_block("1.2.3.4", None, " ");
        assert_eq!(
            empty.validate().unwrap_err().to_string(),
            "reason: must not be empty"
        );
        let ctrl = new_block("1.2.3.4", None, "a\u{1b}[31m");
        assert!(ctrl.validate().is_err());
        assert!(new_block("1.2.3.4", None, "ok").validate().is_ok());
    }

    #[test]
    fn sub_second_durations_are_refused_naming_the_field() {
        // Regression: "1ns" or "500ms" made a decision already expired once
        // its times were cut to milliseconds.
        for d in [
            Duration::from_nanos(1),
            Duration::from_millis(500),
            Duration::from_millis(999),
        ] {
            let err = new_block("1.2.3.4", Some(d), "x").validate().unwrap_err();
            assert_eq!(err.to_string(), "duration: must be at least 1s", "{d:?}");
        }
        assert!(
            new_block("1.2.3.4", Some(Duration::from_secs(1)), "x")
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn scopes_and_origins_parse_and_refuse_unknown_names() {
        assert_eq!("range".parse::<Scope>().unwrap(), Scope::Range);
        assert_eq!("anomaly".parse::<Origin>().unwrap(), Origin::Anomaly);
        let err = "galaxy".parse::<Scope>().unwrap_err();
        assert!(err.contains("unknown scope \"galaxy\""), "{err}");
    }
}
