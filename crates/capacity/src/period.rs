//! Usage is kept per UTC day and per UTC month; a period knows its key and
//! when it ends (the `resets_at` of a spent budget).

use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Which period a figure covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// A UTC day.
    Day,
    /// A UTC calendar month.
    Month,
}

impl Period {
    /// Both periods.
    pub const ALL: [Period; 2] = [Period::Day, Period::Month];

    /// `day` or `month`.
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Month => "month",
        }
    }

    /// Reads `day` or `month`.
    pub fn parse(s: &str) -> Option<Period> {
        match s {
            "day" => Some(Period::Day),
            "month" => Some(Period::Month),
            _ => None,
        }
    }

    /// The period containing `at`.
    pub fn at(self, at: SystemTime) -> PeriodKey {
        let days = days_since_epoch(at);
        match self {
            Period::Day => PeriodKey::Day(days),
            Period::Month => {
                let (y, m, _) = civil_from_days(days);
                PeriodKey::Month(y, m)
            }
        }
    }
}

/// One day or one month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PeriodKey {
    /// Days since 1970-01-01.
    Day(i64),
    /// Year and month (1–12).
    Month(i64, u32),
}

impl PeriodKey {
    /// When the period ends.
    pub fn ends_at(self) -> SystemTime {
        let days = match self {
            PeriodKey::Day(d) => d + 1,
            PeriodKey::Month(y, 12) => days_from_civil(y + 1, 1, 1),
            PeriodKey::Month(y, m) => days_from_civil(y, m + 1, 1),
        };
        UNIX_EPOCH + Duration::from_secs(days.max(0) as u64 * 86_400)
    }

    /// `2026-12-07` or `2026-12`: the form in keys, files and the API.
    pub fn label(self) -> String {
        match self {
            PeriodKey::Day(d) => {
                let (y, m, day) = civil_from_days(d);
                format!("{y:04}-{m:02}-{day:02}")
            }
            PeriodKey::Month(y, m) => format!("{y:04}-{m:02}"),
        }
    }
}

/// Days since 1970-01-01 of `at`, UTC.
pub fn day_number(at: SystemTime) -> i64 {
    days_since_epoch(at)
}

fn days_since_epoch(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| (d.as_secs() / 86_400) as i64)
        .unwrap_or(0)
}

/// Howard Hinnant's `civil_from_days`: the proleptic Gregorian date of a day number.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The inverse of `civil_from_days`.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn days_and_months_are_utc_and_end_at_midnight_and_the_first() {
        // 2026-12-31T23:59:59Z
        let t = at(1_798_761_599);
        assert_eq!(Period::Day.at(t).label(), "2026-12-31");
        assert_eq!(Period::Month.at(t).label(), "2026-12");
        assert_eq!(Period::Day.at(t).ends_at(), at(1_798_761_600));
        assert_eq!(Period::Month.at(t).ends_at(), at(1_798_761_600));
        assert_eq!(Period::Month.at(at(1_798_761_600)).label(), "2027-01");
        // A leap day.
        assert_eq!(Period::Day.at(at(1_709_164_800)).label(), "2024-02-29");
        assert_eq!(
            Period::Month.at(at(1_709_164_800)).ends_at(),
            at(1_709_251_200)
        );
    }
}
