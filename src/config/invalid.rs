//! What a config check returns when a value is wrong, and the checks every
//! section shares (counts, durations, addresses).

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// A wrong value: the dotted key it sits at and why; `super::from_text` adds
/// the file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The dotted key (`upstream.addresses[1]`).
    pub key: String,
    /// What is wrong, in words for the operator.
    pub reason: String,
}

impl Invalid {
    /// The error of `key`.
    pub fn new(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// The error of key `k`.
pub fn key(k: &str, reason: impl Into<String>) -> Invalid {
    Invalid::new(k, reason)
}
/// A section's own error (`"reputation.half_life: reason"` or just a reason),
/// keyed by the deepest key it names.
pub fn nested(section: &str, e: String) -> Invalid {
    let names_key = |k: &str| {
        k.strip_prefix(section)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
    };
    match e.split_once(": ") {
        Some((k, reason)) if names_key(k) => key(k, reason),
        _ => key(section, e),
    }
}

/// A count that must be at least 1.
pub fn nonzero(v: usize, k: &str) -> Result<usize, Invalid> {
    if v == 0 {
        Err(key(k, "must be at least 1"))
    } else {
        Ok(v)
    }
}

/// The longest timeout or interval accepted: beyond it a value is a typo, and
/// deadlines computed from it could overflow.
const LONGEST: Duration = Duration::from_secs(86_400);

/// A timeout or interval: more than 0, at most a day.
pub fn positive(d: Duration, k: &str) -> Result<Duration, Invalid> {
    if d.is_zero() {
        Err(key(k, "must be greater than 0"))
    } else if d > LONGEST {
        Err(key(k, "must be at most 1d"))
    } else {
        Ok(d)
    }
}

/// A `host:port`, resolved.
pub fn socket_addr(s: &str, k: &str) -> Result<SocketAddr, Invalid> {
    s.to_socket_addrs()
        .map_err(|e| key(k, format!("invalid address {s:?}: {e} (write host:port)")))?
        .next()
        .ok_or_else(|| key(k, format!("address {s:?} resolves to nothing")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_error_is_keyed_by_the_deepest_key_it_names() {
        assert_eq!(
            nested("reputation", "reputation.half_life: too short".into()),
            Invalid::new("reputation.half_life", "too short")
        );
        assert_eq!(
            nested("admin.tokens", "admin.tokens[2]: too short".into()),
            Invalid::new("admin.tokens[2]", "too short")
        );
        // A key of another section is the section's own reason, whole.
        assert_eq!(
            nested("state", "statefulness: off".into()),
            Invalid::new("state", "statefulness: off")
        );
    }

    #[test]
    fn durations_are_above_zero_and_at_most_a_day() {
        assert_eq!(
            positive(Duration::ZERO, "t").unwrap_err().reason,
            "must be greater than 0"
        );
        assert_eq!(
            positive(LONGEST + Duration::from_secs(1), "t")
                .unwrap_err()
                .reason,
            "must be at most 1d"
        );
        assert_eq!(positive(LONGEST, "t"), Ok(LONGEST));
        assert_eq!(nonzero(0, "n").unwrap_err().key, "n");
        assert_eq!(nonzero(3, "n"), Ok(3));
    }

    #[test]
    fn an_address_must_be_host_and_port() {
        assert_eq!(
            socket_addr("127.0.0.1:80", "a"),
            Ok("127.0.0.1:80".parse().unwrap())
        );
        let missing_port = socket_addr("127.0.0.1", "server.listen").unwrap_err();
        assert_eq!(missing_port.key, "server.listen");
        assert!(
            missing_port.reason.contains("write host:port"),
            "{missing_port:?}"
        );
    }
}
