//! Rate strings such as `"3/10s"`: a quota and the period it refills over.

use execgate_core::HumanDuration;
use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

/// A named window: at most `quota` requests per `period`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Shown in 429 errors and in `RateLimit` headers.
    pub name: String,
    /// Requests allowed per period.
    pub quota: NonZeroU32,
    /// The period, at least one second.
    pub period: Duration,
}

/// `COUNT/PERIOD` as written in config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests allowed per period.
    pub quota: NonZeroU32,
    /// The period.
    pub period: Duration,
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (count, period) = s
            .split_once('/')
            .ok_or_else(|| format!("invalid rate {s:?}: write COUNT/PERIOD, e.g. \"3/10s\""))?;
        let quota: NonZeroU32 = count
            .trim()
            .parse()
            .map_err(|_| format!("invalid rate {s:?}: count must be a whole number ≥ 1"))?;
        let period = period.trim();
        // "1/h" reads naturally; humantime needs a number in front.
        let period = if period.starts_with(|c: char| c.is_ascii_digit()) {
            period.to_string()
        } else {
            format!("1{period}")
        };
        let period = HumanDuration::from_str(&period)?.get();
        if period < Duration::from_secs(1) {
            return Err(format!("invalid rate {s:?}: period must be at least 1s"));
        }
        Ok(Rate { quota, period })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.quota, HumanDuration(self.period))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_count_and_period() {
        let r: Rate = "3/10s".parse().unwrap();
        assert_eq!(r.quota.get(), 3);
        assert_eq!(r.period, Duration::from_secs(10));
        let r: Rate = "50/d".parse().unwrap();
        assert_eq!(r.period, Duration::from_secs(86_400));
    }

    #[test]
    fn rejects_zero_missing_slash_and_subsecond_periods() {
        assert!("0/10s".parse::<Rate>().unwrap_err().contains("≥ 1"));
        assert!("10".parse::<Rate>().unwrap_err().contains("COUNT/PERIOD"));
        assert!(
            "1/10ms"
                .parse::<Rate>()
                .unwrap_err()
                .contains("at least 1s")
        );
        assert!("-1/1s".parse::<Rate>().is_err());
    }
}
