//! The `[state]` section of the gateway config: where limits, blocks and
//! reputation live (this process's memory, or a Redis shared by every gateway)
//! and what a request gets when that Redis does not answer in time.

use execgate_core::HumanDuration;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Which store holds the shared state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Each process keeps its own state (the default; nothing to run beside it).
    #[default]
    Memory,
    /// One Redis (standalone, Sentinel or Cluster) shared by every gateway.
    Redis,
}

/// What a concern decides while Redis is unreachable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Keep serving from local state (the fallback limiter, the last blocklist index).
    #[default]
    Open,
    /// Refuse what cannot be decided by the shared state.
    Closed,
}

/// One concern's failure policy (`[state.limits]`, `[state.blocklist]`, `[state.reputation]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConcernPolicy {
    /// `"open"` (default) or `"closed"`.
    pub on_error: OnError,
}

/// `[state]`: the backend and, for Redis, how to reach it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SharedStateConfig {
    /// `"memory"` (default) or `"redis"`.
    pub backend: BackendKind,
    /// A standalone Redis: `redis://[user:pass@]host:port[/db]`, `rediss://` (TLS) or
    /// `unix:///path/to/redis.sock`.
    pub url: Option<String>,
    /// Redis Cluster seed nodes (`redis://` or `rediss://` URLs); exclusive with `url`.
    pub cluster: Vec<String>,
    /// Redis Sentinel addresses (`redis://host:26379`); needs `service_name`.
    pub sentinels: Vec<String>,
    /// The master's name as the sentinels know it.
    pub service_name: Option<String>,
    /// Prefix of every key, so several deployments can share one Redis (default `"execgate"`).
    pub key_prefix: String,
    /// Longest wait to establish a connection (default `"2s"`).
    pub connect_timeout: HumanDuration,
    /// Longest a request waits on Redis before its concern's `on_error` applies (default `"50ms"`).
    pub command_timeout: HumanDuration,
    /// Multiplexed connections per gateway (default 2; each pipelines concurrent requests).
    pub pool_size: usize,
    /// This gateway's share of each quota while Redis is unreachable, in (0, 1]
    /// (default 1: with N gateways behind a balancer, set 1/N).
    pub local_share: f64,
    /// Rate limits: `open` falls back to a local limiter, `closed` refuses with 503.
    pub limits: ConcernPolicy,
    /// Blocklist: `open` keeps the last known index, `closed` refuses every request.
    pub blocklist: ConcernPolicy,
    /// Reputation: `open` counts events locally and flushes them on return; `closed` refuses requests (503).
    pub reputation: ConcernPolicy,
}

impl Default for SharedStateConfig {
    fn default() -> Self {
        Self {
            backend: BackendKind::Memory,
            url: None,
            cluster: Vec::new(),
            sentinels: Vec::new(),
            service_name: None,
            key_prefix: "execgate".into(),
            connect_timeout: HumanDuration(Duration::from_secs(2)),
            command_timeout: HumanDuration(Duration::from_millis(50)),
            pool_size: 2,
            local_share: 1.0,
            limits: ConcernPolicy::default(),
            blocklist: ConcernPolicy::default(),
            reputation: ConcernPolicy::default(),
        }
    }
}

/// Where the Redis backend connects, once validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisTopology {
    /// One server (or a Unix socket).
    Standalone(String),
    /// Cluster seed nodes.
    Cluster(Vec<String>),
    /// Sentinels and the service they watch.
    Sentinel {
        /// Sentinel URLs.
        sentinels: Vec<String>,
        /// The master's name.
        service_name: String,
    },
}

const URL_SCHEMES: [&str; 3] = ["redis://", "rediss://", "unix://"];
const KEY_PREFIX_MAX: usize = 64;
const POOL_MAX: usize = 64;

impl SharedStateConfig {
    /// Checks the values; the error names the key (`state.url: …`).
    pub fn validate(&self) -> Result<(), String> {
        if !self.key_prefix.is_empty() {
            let bad = self
                .key_prefix
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || "-_.:".contains(*c)));
            if let Some(c) = bad {
                return Err(format!(
                    "state.key_prefix: {c:?} is not allowed (letters, digits, - _ . : only)"
                ));
            }
        }
        if self.key_prefix.is_empty() || self.key_prefix.len() > KEY_PREFIX_MAX {
            return Err(format!(
                "state.key_prefix: must be 1 to {KEY_PREFIX_MAX} characters"
            ));
        }
        if self.connect_timeout.get() < Duration::from_millis(10) {
            return Err("state.connect_timeout: must be at least 10ms".into());
        }
        let wait = self.command_timeout.get();
        if wait < Duration::from_millis(1) || wait > Duration::from_secs(10) {
            return Err("state.command_timeout: must be between 1ms and 10s".into());
        }
        if self.pool_size == 0 || self.pool_size > POOL_MAX {
            return Err(format!("state.pool_size: must be 1 to {POOL_MAX}"));
        }
        if !(self.local_share > 0.0 && self.local_share <= 1.0) {
            return Err("state.local_share: must be in (0, 1]".into());
        }
        if self.backend == BackendKind::Redis {
            self.topology()?;
        } else if self.url.is_some() || !self.cluster.is_empty() || !self.sentinels.is_empty() {
            return Err(
                "state.backend: is \"memory\" but a Redis address is set; add backend = \"redis\""
                    .into(),
            );
        }
        Ok(())
    }

    /// The validated connection target (for `backend = "redis"`).
    pub fn topology(&self) -> Result<RedisTopology, String> {
        let given = [
            self.url.is_some(),
            !self.cluster.is_empty(),
            !self.sentinels.is_empty(),
        ];
        match given.iter().filter(|g| **g).count() {
            0 => {
                return Err(
                    "state.url: backend \"redis\" needs `url`, `cluster` or `sentinels`".into(),
                );
            }
            1 => {}
            _ => {
                return Err("state.url: set only one of `url`, `cluster` and `sentinels`".into());
            }
        }
        if let Some(url) = &self.url {
            check_url("state.url", url, &URL_SCHEMES)?;
            return Ok(RedisTopology::Standalone(url.clone()));
        }
        if !self.cluster.is_empty() {
            for (i, url) in self.cluster.iter().enumerate() {
                check_url(&format!("state.cluster[{i}]"), url, &URL_SCHEMES[..2])?;
            }
            return Ok(RedisTopology::Cluster(self.cluster.clone()));
        }
        for (i, url) in self.sentinels.iter().enumerate() {
            check_url(&format!("state.sentinels[{i}]"), url, &URL_SCHEMES[..2])?;
        }
        match &self.service_name {
            Some(name) if !name.trim().is_empty() => Ok(RedisTopology::Sentinel {
                sentinels: self.sentinels.clone(),
                service_name: name.clone(),
            }),
            _ => Err("state.service_name: required with `sentinels`".into()),
        }
    }
}

/// A URL the Redis client accepts, with one of `schemes`; the message never
/// repeats a password.
fn check_url(key: &str, url: &str, schemes: &[&str]) -> Result<(), String> {
    if !schemes.iter().any(|s| url.starts_with(s)) {
        return Err(format!("{key}: must start with {}", schemes.join(", ")));
    }
    redis::IntoConnectionInfo::into_connection_info(url)
        .map(|_| ())
        .map_err(|e| format!("{key}: not a valid Redis URL ({})", e.kind_text()))
}

/// The short description of a Redis error, without echoing what was parsed.
trait KindText {
    fn kind_text(&self) -> String;
}

impl KindText for redis::RedisError {
    fn kind_text(&self) -> String {
        format!("{:?}", self.kind())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redis(url: &str) -> SharedStateConfig {
        SharedStateConfig {
            backend: BackendKind::Redis,
            url: Some(url.into()),
            ..SharedStateConfig::default()
        }
    }

    #[test]
    fn memory_is_the_default_and_valid() {
        let c = SharedStateConfig::default();
        assert_eq!(c.backend, BackendKind::Memory);
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn each_kind_of_address_is_accepted() {
        for url in [
            "redis://127.0.0.1:6379/0",
            "rediss://user:pw@cache.example:6380",
            "unix:///run/redis.sock",
        ] {
            assert_eq!(redis(url).validate(), Ok(()), "{url}");
        }
        let cluster = SharedStateConfig {
            backend: BackendKind::Redis,
            cluster: vec![
                "redis://10.0.0.1:7000".into(),
                "redis://10.0.0.2:7000".into(),
            ],
            ..SharedStateConfig::default()
        };
        assert!(matches!(cluster.topology(), Ok(RedisTopology::Cluster(n)) if n.len() == 2));
        let sentinel = SharedStateConfig {
            backend: BackendKind::Redis,
            sentinels: vec!["redis://10.0.0.1:26379".into()],
            service_name: Some("mymaster".into()),
            ..SharedStateConfig::default()
        };
        assert_eq!(sentinel.validate(), Ok(()));
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases: Vec<(SharedStateConfig, &str)> = vec![
            (redis("http://127.0.0.1:6379"), "state.url: must start with"),
            (
                redis("redis://:99999999"),
                "state.url: not a valid Redis URL",
            ),
            (
                SharedStateConfig {
                    backend: BackendKind::Redis,
                    ..SharedStateConfig::default()
                },
                "state.url: backend \"redis\" needs",
            ),
            (
                SharedStateConfig {
                    cluster: vec!["redis://a:1".into()],
                    ..redis("redis://a:1")
                },
                "state.url: set only one",
            ),
            (
                SharedStateConfig {
                    backend: BackendKind::Redis,
                    cluster: vec!["unix:///x".into()],
                    ..SharedStateConfig::default()
                },
                "state.cluster[0]: must start with",
            ),
            (
                SharedStateConfig {
                    backend: BackendKind::Redis,
                    sentinels: vec!["redis://a:26379".into()],
                    ..SharedStateConfig::default()
                },
                "state.service_name: required",
            ),
            (
                SharedStateConfig {
                    key_prefix: "a b".into(),
                    ..redis("redis://a:1")
                },
                "state.key_prefix: ' ' is not allowed",
            ),
            (
                SharedStateConfig {
                    command_timeout: HumanDuration(Duration::ZERO),
                    ..redis("redis://a:1")
                },
                "state.command_timeout:",
            ),
            (
                SharedStateConfig {
                    pool_size: 0,
                    ..redis("redis://a:1")
                },
                "state.pool_size:",
            ),
            (
                SharedStateConfig {
                    local_share: 0.0,
                    ..redis("redis://a:1")
                },
                "state.local_share:",
            ),
            (
                SharedStateConfig {
                    url: Some("redis://a:1".into()),
                    ..SharedStateConfig::default()
                },
                "state.backend: is \"memory\"",
            ),
        ];
        for (config, expected) in cases {
            let err = config.validate().unwrap_err();
            assert!(
                err.starts_with(expected),
                "{err:?} does not start with {expected:?}"
            );
        }
    }

    #[test]
    fn a_bad_url_is_reported_without_its_password() {
        let err = redis("redis://user:s3cret@host:notaport")
            .validate()
            .unwrap_err();
        assert!(!err.contains("s3cret"), "{err}");
    }
}
