//! Money as the platform counts it: whole micro-credits, so that sums over a
//! month of runs never drift the way float additions do.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, AddAssign};

/// An amount in millionths of a credit.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Credits(pub u64);

/// Amounts in config are credits; more than this for one price or budget is a typo.
pub const CREDITS_MAX: f64 = 1e9;

impl Credits {
    /// Nothing.
    pub const ZERO: Credits = Credits(0);

    /// Whole credits (as written in config) to micro-credits, rounded; `None`
    /// for a negative, non-finite or absurd amount.
    pub fn from_credits(amount: f64) -> Option<Credits> {
        (amount.is_finite() && (0.0..=CREDITS_MAX).contains(&amount))
            .then(|| Credits((amount * 1e6).round() as u64))
    }

    /// The amount in credits.
    pub fn as_credits(self) -> f64 {
        self.0 as f64 / 1e6
    }

    /// `self` as a share of `of` (0 when `of` is zero).
    pub fn ratio(self, of: Credits) -> f64 {
        if of.0 == 0 {
            0.0
        } else {
            self.0 as f64 / of.0 as f64
        }
    }
}

impl Add for Credits {
    type Output = Credits;
    fn add(self, rhs: Credits) -> Credits {
        Credits(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign for Credits {
    fn add_assign(&mut self, rhs: Credits) {
        *self = *self + rhs;
    }
}

impl fmt::Display for Credits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.6}", self.as_credits())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_amounts_are_checked_and_rounded_to_micro_credits() {
        assert_eq!(Credits::from_credits(0.0000015), Some(Credits(2)));
        assert_eq!(Credits::from_credits(12.5), Some(Credits(12_500_000)));
        assert_eq!(Credits::from_credits(-0.1), None);
        assert_eq!(Credits::from_credits(f64::NAN), None);
        assert_eq!(Credits::from_credits(f64::INFINITY), None);
        assert_eq!(Credits::from_credits(2e9), None);
        assert_eq!(Credits(u64::MAX) + Credits(1), Credits(u64::MAX));
    }
}
