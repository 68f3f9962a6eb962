//! The `[capacity]` config section as written, and its validation into the
//! typed settings of the pool, the price table, the budgets and the alerts.
//! Each error names the dotted key it is about; the gateway's config loader
//! turns that into `file:line: key: reason`.

use crate::alert::EventKind;
use crate::alert::url::WebhookUrl;
use crate::alert::webhook::{AlertSettings, Webhook, WebhookFormat};
use crate::budget::{AtBudget, BudgetSettings, Caps, TierBudget};
use crate::cost::GenericCostFields;
use crate::credits::Credits;
use crate::pool::{OverClientCap, PoolSettings, TierSlots};
use crate::price::{PriceRow, PriceTable, Prices};
use crate::refusal::RefuseStatus;
use crate::session::{SessionCaps, SessionSettings};
use execgate_core::{ClientKey, HumanDuration, TierName};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

/// `[capacity]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CapacityConfig {
    /// Turns the pool, metering and budgets on (default false).
    pub enabled: bool,
    /// Executions in flight at once across every client (default 4).
    pub pool_max: u32,
    /// Each `aging` waited counts as one priority level more (default `"10s"`; `"0s"` turns aging off).
    pub aging: HumanDuration,
    /// `Retry-After` of `concurrency_limited`, `queue_full` and `queue_timeout` (default `"1s"`).
    pub retry_after: HumanDuration,
    /// Usage journal of the memory backend, relative to the config file (default `"usage.jsonl"`; `""` keeps usage in memory only).
    pub usage_file: String,
    /// Budget overrides set through the API, relative to the config file (default `"budgets.json"`; `""` keeps them in memory only).
    pub budgets_file: String,
    /// Per tier: share of the pool and budget.
    pub tiers: BTreeMap<String, RawTierCapacity>,
    /// Per-client budget caps, by client key (`client:ID` or `ip:ADDR`).
    pub clients: BTreeMap<String, RawCaps>,
    /// The platform's budget.
    pub global: RawGlobal,
    /// The price table.
    pub price: Vec<RawPrice>,
    /// Where a generic executor reports a run's figures.
    pub cost: GenericCostFields,
    /// Alert delivery.
    pub alerts: RawAlerts,
    /// The receivers of alerts.
    pub webhook: Vec<RawWebhook>,
    /// How sessions end and how many are held.
    pub sessions: RawSessions,
}

impl Default for CapacityConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            pool_max: 4,
            aging: HumanDuration(Duration::from_secs(10)),
            retry_after: HumanDuration(Duration::from_secs(1)),
            usage_file: "usage.jsonl".into(),
            budgets_file: "budgets.json".into(),
            tiers: BTreeMap::new(),
            clients: BTreeMap::new(),
            global: RawGlobal::default(),
            price: Vec::new(),
            cost: GenericCostFields::default(),
            alerts: RawAlerts::default(),
            webhook: Vec::new(),
            sessions: RawSessions::default(),
        }
    }
}

/// `[capacity.sessions]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSessions {
    /// A session unused this long ends (default `"30m"`).
    pub idle: HumanDuration,
    /// Sessions one client holds at once (default 16).
    pub per_client_max: usize,
    /// Sessions the gateway holds at once (default 100000).
    pub total_max: usize,
}

impl Default for RawSessions {
    fn default() -> Self {
        let d = SessionSettings::default();
        Self {
            idle: HumanDuration(d.idle),
            per_client_max: d.per_client_max,
            total_max: d.total_max,
        }
    }
}

/// `[capacity.tiers.NAME]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawTierCapacity {
    /// Higher runs first (default: the tier's order, anonymous 0, free 1, paid 2).
    pub priority: Option<u32>,
    /// Executions at once per client (default 1).
    pub per_client: u32,
    /// `"refuse"` (429 concurrency_limited) or `"wait"` (default `"refuse"`).
    pub over_client_cap: OverClientCap,
    /// Executions of the tier waiting at once (default 16; 0 never waits).
    pub queue_max: usize,
    /// Longest wait before 504 queue_timeout (default `"30s"`).
    pub queue_wait_max: HumanDuration,
    /// Credits per client per UTC day.
    pub budget_daily: Option<f64>,
    /// Credits per client per UTC month.
    pub budget_monthly: Option<f64>,
    /// At 100 %: `"throttle"`, `"refuse"` or `"notify"` (default `"refuse"`).
    pub at_budget: RawAtBudget,
    /// Status of a budget refusal: 402 or 429 (default 402).
    pub refuse_status: u16,
    /// The tier whose limits a throttled client gets.
    pub throttle_to: Option<String>,
    /// Executions one session may start.
    pub session_executions: Option<u64>,
    /// CPU seconds one session's runs may use.
    pub session_cpu_seconds: Option<f64>,
    /// Wall seconds one session's runs may take.
    pub session_wall_seconds: Option<f64>,
}

impl Default for RawTierCapacity {
    fn default() -> Self {
        Self {
            priority: None,
            per_client: 1,
            over_client_cap: OverClientCap::Refuse,
            queue_max: 16,
            queue_wait_max: HumanDuration(Duration::from_secs(30)),
            budget_daily: None,
            budget_monthly: None,
            at_budget: RawAtBudget::Refuse,
            refuse_status: 402,
            throttle_to: None,
            session_executions: None,
            session_cpu_seconds: None,
            session_wall_seconds: None,
        }
    }
}

/// `at_budget`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawAtBudget {
    /// Drop to `throttle_to`'s limits.
    Throttle,
    /// Refuse with `refuse_status`.
    Refuse,
    /// Alert only.
    Notify,
}

/// A daily and monthly cap in credits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCaps {
    /// Per UTC day.
    pub budget_daily: Option<f64>,
    /// Per UTC month.
    pub budget_monthly: Option<f64>,
}

/// `[capacity.global]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawGlobal {
    /// Credits per UTC day across every client.
    pub budget_daily: Option<f64>,
    /// Credits per UTC month across every client.
    pub budget_monthly: Option<f64>,
    /// 402 or 429 (default 429).
    pub refuse_status: u16,
}

impl Default for RawGlobal {
    fn default() -> Self {
        Self {
            budget_daily: None,
            budget_monthly: None,
            refuse_status: 429,
        }
    }
}

/// `[[capacity.price]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RawPrice {
    /// The tier priced (absent: every tier).
    pub tier: Option<String>,
    /// The language priced (absent: every language).
    pub language: Option<String>,
    /// Credits per execution.
    pub per_request: f64,
    /// Credits per CPU-second.
    pub per_cpu_second: f64,
    /// Credits per GB of peak memory per wall second.
    pub per_gb_second: f64,
}

/// `[capacity.alerts]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAlerts {
    /// Alerts waiting for delivery at most (default 256).
    pub queue_max: usize,
    /// Attempts per delivery (default 5).
    pub attempts: u32,
    /// First retry's wait, doubled each time (default `"1s"`).
    pub backoff: HumanDuration,
    /// Longest wait between attempts (default `"1m"`).
    pub backoff_max: HumanDuration,
    /// Time one attempt may take (default `"5s"`).
    pub timeout: HumanDuration,
    /// The same alert is not sent twice within this (default `"1h"`).
    pub dedup_window: HumanDuration,
    /// Refusals within one minute that send a `refusal_spike` alert (default: none).
    pub refusal_spike_per_minute: Option<u64>,
}

impl Default for RawAlerts {
    fn default() -> Self {
        Self {
            queue_max: 256,
            attempts: 5,
            backoff: HumanDuration(Duration::from_secs(1)),
            backoff_max: HumanDuration(Duration::from_secs(60)),
            timeout: HumanDuration(Duration::from_secs(5)),
            dedup_window: HumanDuration(Duration::from_secs(3600)),
            refusal_spike_per_minute: None,
        }
    }
}

/// `[[capacity.webhook]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    /// http(s) URL.
    pub url: String,
    /// `"json"` (default) or `"slack"`.
    #[serde(default = "json_format")]
    pub format: WebhookFormat,
    /// HMAC-SHA256 key of `X-Execgate-Signature`, read from this environment variable.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// Events sent (default: all).
    #[serde(default)]
    pub events: Option<Vec<EventKind>>,
}

fn json_format() -> WebhookFormat {
    WebhookFormat::Json
}

/// Validated `[capacity]`.
#[derive(Debug, Clone)]
pub struct CapacitySettings {
    /// The pool.
    pub pool: PoolSettings,
    /// The prices.
    pub prices: PriceTable,
    /// The budgets.
    pub budgets: BudgetSettings,
    /// Alert delivery (no webhooks: no alerts).
    pub alerts: AlertSettings,
    /// The usage journal, when usage is kept in a file.
    pub usage_file: Option<PathBuf>,
    /// The budget overrides' file, when they are kept in one.
    pub budgets_file: Option<PathBuf>,
    /// Where a generic executor reports figures.
    pub cost_fields: GenericCostFields,
    /// Sessions and their caps.
    pub sessions: SessionSettings,
}

/// An error about `key`.
pub type KeyError = (String, String);

/// The largest per-client cap or queue: more is a typo, not a plan.
const COUNT_MAX: u32 = 100_000;

fn credits(key: String, amount: Option<f64>) -> Result<Option<Credits>, KeyError> {
    amount
        .map(|a| {
            Credits::from_credits(a).ok_or_else(|| {
                (
                    key,
                    format!(
                        "{a} is not an amount of credits (0 to {})",
                        crate::credits::CREDITS_MAX
                    ),
                )
            })
        })
        .transpose()
}

fn caps(prefix: &str, daily: Option<f64>, monthly: Option<f64>) -> Result<Caps, KeyError> {
    Ok(Caps {
        daily: credits(format!("{prefix}.budget_daily"), daily)?,
        monthly: credits(format!("{prefix}.budget_monthly"), monthly)?,
    })
}

/// The longest idle time a session is kept.
const SESSION_IDLE_MAX: Duration = Duration::from_secs(7 * 86_400);

/// The most sessions held: each costs about a hundred bytes.
const SESSIONS_MAX: usize = 10_000_000;

/// The longest a session's CPU or wall cap may be: a year.
const SESSION_SECONDS_MAX: f64 = 365.0 * 86_400.0;

fn session_caps(prefix: &str, raw: &RawTierCapacity) -> Result<SessionCaps, KeyError> {
    let seconds = |field: &str, v: Option<f64>| -> Result<Option<Duration>, KeyError> {
        v.map(|s| {
            if s.is_finite() && s > 0.0 && s <= SESSION_SECONDS_MAX {
                Ok(Duration::from_secs_f64(s))
            } else {
                Err((
                    format!("{prefix}.{field}"),
                    format!(
                        "{s} is not a number of seconds (above 0, at most {SESSION_SECONDS_MAX})"
                    ),
                ))
            }
        })
        .transpose()
    };
    if raw.session_executions == Some(0) {
        return Err((
            format!("{prefix}.session_executions"),
            "must be at least 1".into(),
        ));
    }
    Ok(SessionCaps {
        executions: raw.session_executions,
        cpu: seconds("session_cpu_seconds", raw.session_cpu_seconds)?,
        wall: seconds("session_wall_seconds", raw.session_wall_seconds)?,
    })
}

fn status(key: String, code: u16) -> Result<RefuseStatus, KeyError> {
    match code {
        402 => Ok(RefuseStatus::PaymentRequired),
        429 => Ok(RefuseStatus::TooManyRequests),
        other => Err((key, format!("{other} is not 402 or 429"))),
    }
}

fn default_priority(tier: &str) -> u32 {
    match tier {
        "anonymous" => 0,
        "free" => 1,
        _ => 2,
    }
}

impl CapacityConfig {
    /// Validates against the config's `tiers` and the `languages` the
    /// gateway knows (`None`: any language name is taken); paths are relative to `base`.
    pub fn validate(
        &self,
        tiers: &BTreeSet<TierName>,
        languages: Option<&BTreeSet<String>>,
        base: &std::path::Path,
        secret: &dyn Fn(&str) -> Option<String>,
    ) -> Result<CapacitySettings, KeyError> {
        let pool_max = NonZeroU32::new(self.pool_max)
            .filter(|n| n.get() <= COUNT_MAX)
            .ok_or_else(|| {
                (
                    "capacity.pool_max".to_string(),
                    format!("must be 1 to {COUNT_MAX}"),
                )
            })?;
        let known = |key: String, name: &str| -> Result<TierName, KeyError> {
            let t = TierName(name.to_string());
            if tiers.contains(&t) {
                Ok(t)
            } else {
                Err((key, format!("unknown tier {name:?}")))
            }
        };
        let mut slots = BTreeMap::new();
        let mut budgets = BudgetSettings::default();
        let mut sessions = self.sessions()?;
        for name in tiers {
            let raw = self.tiers.get(name.as_str()).cloned().unwrap_or_default();
            let (t, prefix) = (name.clone(), format!("capacity.tiers.{name}"));
            slots.insert(t.clone(), self.slots(&prefix, name.as_str(), &raw)?);
            sessions
                .tiers
                .insert(name.clone(), session_caps(&prefix, &raw)?);
            let tier_caps = caps(&prefix, raw.budget_daily, raw.budget_monthly)?;
            let action = match raw.at_budget {
                RawAtBudget::Notify => AtBudget::Notify,
                RawAtBudget::Refuse => AtBudget::Refuse(status(
                    format!("{prefix}.refuse_status"),
                    raw.refuse_status,
                )?),
                RawAtBudget::Throttle => {
                    let key = format!("{prefix}.throttle_to");
                    let to = raw
                        .throttle_to
                        .as_deref()
                        .ok_or_else(|| (key.clone(), "throttle needs throttle_to".to_string()))?;
                    AtBudget::Throttle(known(key, to)?)
                }
            };
            budgets.tiers.insert(
                t,
                TierBudget {
                    caps: tier_caps,
                    action,
                },
            );
        }
        for name in self.tiers.keys() {
            known(format!("capacity.tiers.{name}"), name)?;
        }
        for (key, raw) in &self.clients {
            let prefix = format!("capacity.clients.{key}");
            let client = ClientKey::parse(key).ok_or_else(|| {
                (
                    prefix.clone(),
                    format!("{key:?} is not a client key (client:ID or ip:ADDR)"),
                )
            })?;
            budgets
                .clients
                .insert(client, caps(&prefix, raw.budget_daily, raw.budget_monthly)?);
        }
        budgets.global = caps(
            "capacity.global",
            self.global.budget_daily,
            self.global.budget_monthly,
        )?;
        budgets.global_status = Some(status(
            "capacity.global.refuse_status".into(),
            self.global.refuse_status,
        )?);
        let prices = self.prices(&known, languages)?;
        let usage_file = (!self.usage_file.is_empty()).then(|| base.join(&self.usage_file));
        let budgets_file = (!self.budgets_file.is_empty()).then(|| base.join(&self.budgets_file));
        Ok(CapacitySettings {
            pool: PoolSettings {
                total: pool_max,
                aging: (!self.aging.get().is_zero()).then(|| self.aging.get()),
                retry_after: self.retry_after.get().max(Duration::from_secs(1)),
                tiers: slots,
            },
            prices,
            budgets,
            alerts: self.alerts(secret)?,
            usage_file,
            budgets_file,
            cost_fields: self.cost.clone(),
            sessions,
        })
    }

    fn sessions(&self) -> Result<SessionSettings, KeyError> {
        let raw = &self.sessions;
        if raw.idle.get().is_zero() || raw.idle.get() > SESSION_IDLE_MAX {
            return Err((
                "capacity.sessions.idle".into(),
                "must be above 0 and at most 7d".into(),
            ));
        }
        for (key, v) in [
            ("per_client_max", raw.per_client_max),
            ("total_max", raw.total_max),
        ] {
            if v == 0 || v > SESSIONS_MAX {
                return Err((
                    format!("capacity.sessions.{key}"),
                    format!("must be 1 to {SESSIONS_MAX}"),
                ));
            }
        }
        Ok(SessionSettings {
            idle: raw.idle.get(),
            per_client_max: raw.per_client_max,
            total_max: raw.total_max,
            tiers: BTreeMap::new(),
        })
    }

    fn slots(
        &self,
        prefix: &str,
        name: &str,
        raw: &RawTierCapacity,
    ) -> Result<TierSlots, KeyError> {
        let per_client = NonZeroU32::new(raw.per_client)
            .filter(|n| n.get() <= COUNT_MAX)
            .ok_or_else(|| {
                (
                    format!("{prefix}.per_client"),
                    format!("must be 1 to {COUNT_MAX}"),
                )
            })?;
        if raw.queue_max > COUNT_MAX as usize {
            return Err((
                format!("{prefix}.queue_max"),
                format!("must be at most {COUNT_MAX}"),
            ));
        }
        if raw.queue_max > 0 && raw.queue_wait_max.get().is_zero() {
            return Err((
                format!("{prefix}.queue_wait_max"),
                "a queue needs a longest wait above 0".into(),
            ));
        }
        Ok(TierSlots {
            priority: raw.priority.unwrap_or_else(|| default_priority(name)),
            per_client,
            over_client_cap: raw.over_client_cap,
            queue_max: raw.queue_max,
            queue_wait_max: raw.queue_wait_max.get(),
        })
    }

    fn prices(
        &self,
        known: &dyn Fn(String, &str) -> Result<TierName, KeyError>,
        languages: Option<&BTreeSet<String>>,
    ) -> Result<PriceTable, KeyError> {
        let mut rows = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, raw) in self.price.iter().enumerate() {
            let prefix = format!("capacity.price[{i}]");
            let tier = raw
                .tier
                .as_deref()
                .map(|t| known(format!("{prefix}.tier"), t))
                .transpose()?;
            if let (Some(lang), Some(langs)) = (&raw.language, languages)
                && !langs.contains(lang)
            {
                return Err((
                    format!("{prefix}.language"),
                    format!("unknown language {lang:?}"),
                ));
            }
            for (field, v) in [
                ("per_request", raw.per_request),
                ("per_cpu_second", raw.per_cpu_second),
                ("per_gb_second", raw.per_gb_second),
            ] {
                credits(format!("{prefix}.{field}"), Some(v))?;
            }
            if !seen.insert((tier.clone(), raw.language.clone())) {
                return Err((
                    prefix,
                    "another price row has the same tier and language".into(),
                ));
            }
            rows.push(PriceRow {
                tier,
                language: raw.language.clone(),
                prices: Prices {
                    per_request: raw.per_request,
                    per_cpu_second: raw.per_cpu_second,
                    per_gb_second: raw.per_gb_second,
                },
            });
        }
        Ok(PriceTable::new(rows))
    }

    fn alerts(&self, secret: &dyn Fn(&str) -> Option<String>) -> Result<AlertSettings, KeyError> {
        let a = &self.alerts;
        if a.attempts == 0 || a.attempts > 20 {
            return Err(("capacity.alerts.attempts".into(), "must be 1 to 20".into()));
        }
        if a.queue_max == 0 || a.queue_max > COUNT_MAX as usize {
            return Err((
                "capacity.alerts.queue_max".into(),
                format!("must be 1 to {COUNT_MAX}"),
            ));
        }
        if a.refusal_spike_per_minute == Some(0)
            || a.refusal_spike_per_minute
                .is_some_and(|n| n > u64::from(COUNT_MAX) * 100)
        {
            return Err((
                "capacity.alerts.refusal_spike_per_minute".into(),
                format!("must be 1 to {}", u64::from(COUNT_MAX) * 100),
            ));
        }
        let mut webhooks = Vec::new();
        for (i, raw) in self.webhook.iter().enumerate() {
            let prefix = format!("capacity.webhook[{i}]");
            let url = WebhookUrl::parse(&raw.url).map_err(|e| (format!("{prefix}.url"), e))?;
            let secret = match &raw.secret_env {
                None => None,
                Some(var) => Some(
                    secret(var)
                        .filter(|s| !s.is_empty())
                        .ok_or_else(|| {
                            (
                                format!("{prefix}.secret_env"),
                                format!("environment variable {var} is not set"),
                            )
                        })?
                        .into_bytes(),
                ),
            };
            let events = raw.events.clone().map_or_else(
                || BTreeSet::from(EventKind::ALL),
                |e| e.into_iter().collect(),
            );
            webhooks.push(Webhook {
                url,
                format: raw.format,
                secret,
                events,
            });
        }
        Ok(AlertSettings {
            webhooks,
            queue_max: a.queue_max,
            attempts: a.attempts,
            backoff: a.backoff.get(),
            backoff_max: a.backoff_max.get().max(a.backoff.get()),
            timeout: a.timeout.get().max(Duration::from_millis(100)),
            dedup_window: a.dedup_window.get(),
            refusal_spike: a.refusal_spike_per_minute,
        })
    }
}
