//! Request frequency and error rate: two anomalies no single request shows.
//! Each client's finished requests are counted in fixed windows; a window that
//! goes over the request limit, or whose share of failed requests reaches the
//! error ratio, yields one `high_request_rate` / `high_error_rate` event (at most
//! one of each per window), which the reputation engine scores like any other.

use super::SecurityEvent;
use execgate_core::HumanDuration;
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};

/// The `[reputation.activity]` config section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActivityConfig {
    /// Length of the fixed window a client's requests are counted in (default `"1m"`).
    pub window: HumanDuration,
    /// More requests than this in one window is a high request frequency (default 300; 0 = off).
    pub max_requests: u32,
    /// A window whose share of failed requests reaches this is a high error rate
    /// (default 0.5; 0 = off).
    pub max_error_ratio: f64,
    /// Requests a window needs before its error ratio is judged (default 10).
    pub min_requests: u32,
}

impl Default for ActivityConfig {
    fn default() -> Self {
        Self {
            window: HumanDuration(Duration::from_secs(60)),
            max_requests: 300,
            max_error_ratio: 0.5,
            min_requests: 10,
        }
    }
}

impl ActivityConfig {
    /// Checks the values; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.window.get().is_zero() {
            return Err("reputation.activity.window: must be longer than zero".into());
        }
        if !(self.max_error_ratio.is_finite() && (0.0..=1.0).contains(&self.max_error_ratio)) {
            return Err("reputation.activity.max_error_ratio: must be between 0 and 1".into());
        }
        if self.min_requests == 0 {
            return Err("reputation.activity.min_requests: must be at least 1".into());
        }
        Ok(())
    }
}

/// How a finished request went, as far as the error rate is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestOutcome {
    /// Answered normally (whatever the program did).
    Served,
    /// Refused by the gateway or failed at the executor (any 4xx/5xx answer).
    Failed,
}

/// One client's counts in its current window.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Window {
    started: Option<SystemTime>,
    requests: u32,
    failed: u32,
    rate_flagged: bool,
    errors_flagged: bool,
}

impl Window {
    /// Counts a request finished at `now`; returns the anomalies it makes the
    /// window cross (each at most once per window).
    pub fn count(
        &mut self,
        config: &ActivityConfig,
        now: SystemTime,
        outcome: RequestOutcome,
    ) -> Vec<SecurityEvent> {
        let expired = self.started.is_none_or(|started| {
            now.duration_since(started)
                .is_ok_and(|age| age >= config.window.get())
        });
        if expired {
            *self = Window {
                started: Some(now),
                ..Window::default()
            };
        }
        self.requests = self.requests.saturating_add(1);
        if outcome == RequestOutcome::Failed {
            self.failed = self.failed.saturating_add(1);
        }
        let mut anomalies = Vec::new();
        if config.max_requests > 0 && self.requests > config.max_requests && !self.rate_flagged {
            self.rate_flagged = true;
            anomalies.push(SecurityEvent::HighRequestRate);
        }
        let ratio = f64::from(self.failed) / f64::from(self.requests);
        let judged = self.requests >= config.min_requests;
        if config.max_error_ratio > 0.0
            && judged
            && ratio >= config.max_error_ratio
            && !self.errors_flagged
        {
            self.errors_flagged = true;
            anomalies.push(SecurityEvent::HighErrorRate);
        }
        anomalies
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The defaults (a 60 s window, ratio 0.5) with small counts.
    fn config() -> ActivityConfig {
        ActivityConfig {
            max_requests: 5,
            min_requests: 4,
            ..ActivityConfig::default()
        }
    }

    /// Counts `n` requests one second apart from `start`; the anomalies raised.
    fn run(
        w: &mut Window,
        start: SystemTime,
        n: u64,
        outcome: RequestOutcome,
    ) -> Vec<SecurityEvent> {
        let c = config();
        (0..n)
            .flat_map(|i| w.count(&c, start + Duration::from_secs(i), outcome))
            .collect()
    }

    #[test]
    fn going_over_the_request_limit_is_flagged_once_per_window() {
        let mut w = Window::default();
        let t0 = SystemTime::UNIX_EPOCH;
        assert_eq!(run(&mut w, t0, 5, RequestOutcome::Served), vec![]);
        assert_eq!(
            run(
                &mut w,
                t0 + Duration::from_secs(5),
                10,
                RequestOutcome::Served
            ),
            vec![SecurityEvent::HighRequestRate],
            "the sixth request is one too many; later ones add nothing"
        );
        let next = t0 + Duration::from_secs(60);
        assert_eq!(
            run(&mut w, next, 5, RequestOutcome::Served),
            vec![],
            "a new window starts clean"
        );
        assert_eq!(
            run(
                &mut w,
                next + Duration::from_secs(5),
                1,
                RequestOutcome::Served
            ),
            vec![SecurityEvent::HighRequestRate]
        );
    }

    #[test]
    fn the_error_ratio_is_judged_once_enough_requests_were_seen() {
        let mut w = Window::default();
        let t0 = SystemTime::UNIX_EPOCH;
        assert_eq!(
            run(&mut w, t0, 3, RequestOutcome::Failed),
            vec![],
            "too few to judge"
        );
        assert_eq!(
            run(
                &mut w,
                t0 + Duration::from_secs(3),
                1,
                RequestOutcome::Served
            ),
            vec![SecurityEvent::HighErrorRate],
            "3 of 4 failed"
        );
        assert_eq!(
            run(
                &mut w,
                t0 + Duration::from_secs(4),
                1,
                RequestOutcome::Failed
            ),
            vec![]
        );
        let mut healthy = Window::default();
        let mixed: Vec<SecurityEvent> = (0..5)
            .flat_map(|i| {
                let outcome = if i == 0 {
                    RequestOutcome::Failed
                } else {
                    RequestOutcome::Served
                };
                healthy.count(&config(), t0 + Duration::from_secs(i), outcome)
            })
            .collect();
        assert_eq!(mixed, vec![], "1 of 5 failed is below the ratio");
    }

    #[test]
    fn zero_limits_turn_the_checks_off() {
        let c = ActivityConfig {
            max_requests: 0,
            max_error_ratio: 0.0,
            min_requests: 1,
            ..config()
        };
        let mut w = Window::default();
        let raised: Vec<SecurityEvent> = (0..1000)
            .flat_map(|_| w.count(&c, SystemTime::UNIX_EPOCH, RequestOutcome::Failed))
            .collect();
        assert!(raised.is_empty(), "{raised:?}");
    }

    #[test]
    fn bad_values_name_their_key() {
        assert!(ActivityConfig::default().validate().is_ok());
        let bad = ActivityConfig {
            max_error_ratio: 1.5,
            ..ActivityConfig::default()
        };
        assert_eq!(
            bad.validate().unwrap_err(),
            "reputation.activity.max_error_ratio: must be between 0 and 1"
        );
        let bad = ActivityConfig {
            window: HumanDuration(Duration::ZERO),
            ..ActivityConfig::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .starts_with("reputation.activity.window:")
        );
    }
}
