//! Tiers: the built-in defaults of seed 000, and operator overrides merged onto them.

use super::invalid::Invalid;
use super::rate::{Rate, Window};
use super::raw::{RawTier, RawWindow};
use execgate_core::{ByteSize, HumanDuration, TierName};
use std::collections::BTreeMap;
use std::time::Duration;

/// What one tier may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    /// The tier's name.
    pub name: TierName,
    /// Rate windows, all checked in one step.
    pub windows: Vec<Window>,
    /// Longest run time an execution may ask for; longer requests are clamped.
    pub run_time: Duration,
    /// Most memory an execution may ask for; larger requests are clamped.
    pub memory: ByteSize,
    /// Largest source code accepted.
    pub code_max: ByteSize,
    /// Largest request body accepted.
    pub body_max: ByteSize,
    /// Program stdout returned at most.
    pub stdout_max: ByteSize,
    /// Program stderr returned at most.
    pub stderr_max: ByteSize,
    /// Screening score at which a request is refused.
    pub inbound_threshold: u32,
}

/// One row of the built-in table: windows (burst/10 s, hourly, daily), run time, memory.
struct Builtin {
    name: &'static str,
    burst: u32,
    hourly: u32,
    daily: u32,
    run_secs: u64,
    memory_mb: u64,
}

/// Seed 000's table, exactly.
const BUILTIN: [Builtin; 3] = [
    Builtin {
        name: "anonymous",
        burst: 3,
        hourly: 10,
        daily: 50,
        run_secs: 5,
        memory_mb: 128,
    },
    Builtin {
        name: "free",
        burst: 5,
        hourly: 30,
        daily: 200,
        run_secs: 10,
        memory_mb: 256,
    },
    Builtin {
        name: "paid",
        burst: 10,
        hourly: 100,
        daily: 1000,
        run_secs: 30,
        memory_mb: 512,
    },
];

fn window(name: &str, quota: u32, period_secs: u64) -> Window {
    Window {
        name: name.to_string(),
        quota: std::num::NonZeroU32::new(quota).unwrap_or(std::num::NonZeroU32::MIN),
        period: Duration::from_secs(period_secs),
    }
}

fn builtin_tier(b: &Builtin) -> Tier {
    Tier {
        name: TierName(b.name.to_string()),
        windows: vec![
            window("burst", b.burst, 10),
            window("hourly", b.hourly, 3600),
            window("daily", b.daily, 86_400),
        ],
        run_time: Duration::from_secs(b.run_secs),
        memory: ByteSize(b.memory_mb << 20),
        code_max: ByteSize(10 << 10),
        body_max: ByteSize(64 << 10),
        stdout_max: ByteSize(100 << 10),
        stderr_max: ByteSize(10 << 10),
        inbound_threshold: 5,
    }
}

/// The built-in tiers: anonymous, free and paid.
pub fn builtin_tiers() -> BTreeMap<TierName, Tier> {
    BUILTIN
        .iter()
        .map(|b| (TierName(b.name.to_string()), builtin_tier(b)))
        .collect()
}

/// The tiers in effect, and which one anonymous clients get.
#[derive(Debug, Clone)]
pub struct MergedTiers {
    /// Every tier by name.
    pub tiers: BTreeMap<TierName, Tier>,
    /// The tier of clients without credentials (`anonymous`, unless renamed).
    pub anonymous: TierName,
}

/// Merges operator tiers onto the built-ins: renames first (`replaces`), then
/// overrides and new tiers. Errors are `(dotted key, reason)`.
pub fn merge_tiers(raw: &BTreeMap<String, RawTier>) -> Result<MergedTiers, Invalid> {
    let mut tiers = builtin_tiers();
    let mut anonymous = TierName::anonymous();
    let anonymous_values = builtin_tier(&BUILTIN[0]);
    for (name, table) in raw {
        check_name(name)?;
        let Some(old) = &table.replaces else { continue };
        let key = format!("tiers.{name}.replaces");
        if !BUILTIN.iter().any(|b| b.name == old) {
            return Err(Invalid::new(
                key,
                format!("{old:?} is not a built-in tier (anonymous, free, paid)"),
            ));
        }
        let Some(values) = tiers.remove(&TierName(old.clone())) else {
            return Err(Invalid::new(key, format!("{old:?} is already renamed")));
        };
        if old == anonymous.as_str() {
            anonymous = TierName(name.clone());
        }
        tiers.insert(
            TierName(name.clone()),
            Tier {
                name: TierName(name.clone()),
                ..values
            },
        );
    }
    for (name, overrides) in raw {
        let key = format!("tiers.{name}");
        if overrides.replaces.is_none()
            && BUILTIN.iter().any(|b| b.name == name)
            && !tiers.contains_key(&TierName(name.clone()))
        {
            return Err(Invalid::new(
                key,
                format!("{name:?} was renamed; configure the new name"),
            ));
        }
        let base = tiers
            .get(&TierName(name.clone()))
            .cloned()
            .unwrap_or_else(|| Tier {
                name: TierName(name.clone()),
                ..anonymous_values.clone()
            });
        let tier = apply(base, overrides, &key)?;
        tiers.insert(tier.name.clone(), tier);
    }
    Ok(MergedTiers { tiers, anonymous })
}

fn check_name(name: &str) -> Result<(), Invalid> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(
            format!("tiers.{name}"),
            "tier names use letters, digits, '-' and '_'",
        ))
    }
}

fn apply(mut tier: Tier, raw: &RawTier, key: &str) -> Result<Tier, Invalid> {
    if let Some(windows) = &raw.windows {
        tier.windows = parse_windows(windows, key)?;
    }
    let positive = |v: Option<ByteSize>, field: &str| -> Result<Option<ByteSize>, Invalid> {
        match v {
            Some(ByteSize(0)) => Err(Invalid::new(
                format!("{key}.{field}"),
                "must be greater than 0",
            )),
            other => Ok(other),
        }
    };
    if let Some(run) = raw.run_time {
        if run.get().is_zero() {
            return Err(Invalid::new(
                format!("{key}.run_time"),
                "must be greater than 0",
            ));
        }
        tier.run_time = run.get();
    }
    tier.memory = positive(raw.memory, "memory")?.unwrap_or(tier.memory);
    tier.code_max = positive(raw.code_max, "code_max")?.unwrap_or(tier.code_max);
    tier.body_max = positive(raw.body_max, "body_max")?.unwrap_or(tier.body_max);
    tier.stdout_max = positive(raw.stdout_max, "stdout_max")?.unwrap_or(tier.stdout_max);
    tier.stderr_max = positive(raw.stderr_max, "stderr_max")?.unwrap_or(tier.stderr_max);
    if let Some(threshold) = raw.inbound_threshold {
        if threshold == 0 {
            return Err(Invalid::new(
                format!("{key}.inbound_threshold"),
                "must be at least 1",
            ));
        }
        tier.inbound_threshold = threshold;
    }
    if tier.code_max > tier.body_max {
        return Err(Invalid::new(
            format!("{key}.code_max"),
            format!("{} exceeds body_max {}", tier.code_max, tier.body_max),
        ));
    }
    Ok(tier)
}

fn parse_windows(raw: &[RawWindow], key: &str) -> Result<Vec<Window>, Invalid> {
    let mut windows: Vec<Window> = Vec::with_capacity(raw.len());
    for (i, w) in raw.iter().enumerate() {
        let wkey = format!("{key}.windows[{i}]");
        if w.name.is_empty()
            || !w
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(Invalid::new(
                format!("{wkey}.name"),
                "window names use letters, digits, '-' and '_'",
            ));
        }
        if windows.iter().any(|o| o.name == w.name) {
            return Err(Invalid::new(
                format!("{wkey}.name"),
                format!("window {:?} is listed twice", w.name),
            ));
        }
        let rate: Rate = w
            .rate
            .parse()
            .map_err(|e| Invalid::new(format!("{wkey}.rate"), e))?;
        windows.push(Window {
            name: w.name.clone(),
            quota: rate.quota,
            period: rate.period,
        });
    }
    Ok(windows)
}

/// A tier written back as its table of the config file (the effective config shown to operators).
impl From<&Tier> for RawTier {
    fn from(t: &Tier) -> Self {
        RawTier {
            replaces: None,
            windows: Some(
                t.windows
                    .iter()
                    .map(|w| RawWindow {
                        name: w.name.clone(),
                        rate: Rate {
                            quota: w.quota,
                            period: w.period,
                        }
                        .to_string(),
                    })
                    .collect(),
            ),
            run_time: Some(HumanDuration(t.run_time)),
            memory: Some(t.memory),
            code_max: Some(t.code_max),
            body_max: Some(t.body_max),
            stdout_max: Some(t.stdout_max),
            stderr_max: Some(t.stderr_max),
            inbound_threshold: Some(t.inbound_threshold),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_tiers_match_seed_000() {
        let tiers = builtin_tiers();
        let rates = |n: &str| -> Vec<(u32, u64)> {
            tiers[&TierName(n.into())]
                .windows
                .iter()
                .map(|w| (w.quota.get(), w.period.as_secs()))
                .collect()
        };
        assert_eq!(rates("anonymous"), vec![(3, 10), (10, 3600), (50, 86_400)]);
        assert_eq!(rates("free"), vec![(5, 10), (30, 3600), (200, 86_400)]);
        assert_eq!(rates("paid"), vec![(10, 10), (100, 3600), (1000, 86_400)]);
        let anon = &tiers[&TierName::anonymous()];
        assert_eq!(
            (anon.run_time.as_secs(), anon.memory.bytes()),
            (5, 128 << 20)
        );
        assert_eq!(anon.code_max.bytes(), 10 << 10);
        assert_eq!(
            (anon.stdout_max.bytes(), anon.stderr_max.bytes()),
            (100 << 10, 10 << 10)
        );
        let free = &tiers[&TierName("free".into())];
        assert_eq!(
            (free.run_time.as_secs(), free.memory.bytes()),
            (10, 256 << 20)
        );
        let paid = &tiers[&TierName("paid".into())];
        assert_eq!(
            (paid.run_time.as_secs(), paid.memory.bytes()),
            (30, 512 << 20)
        );
    }
}
