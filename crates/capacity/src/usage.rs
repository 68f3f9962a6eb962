//! What each client, each tier and the whole platform spent, per UTC day and
//! month. The memory store keeps the figures in a map and, when given a file,
//! appends every charge to it and replays the current month at start, so a
//! restart forgets nothing that was charged. With a shared state backend the
//! figures live in Redis instead (`usage_redis`).

use crate::cost::RunCost;
use crate::credits::Credits;
use crate::period::{Period, PeriodKey};
use execgate_core::{ClientKey, FileError, TierName};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One execution's charge.
#[derive(Debug, Clone, PartialEq)]
pub struct Charge {
    /// Who pays.
    pub client: ClientKey,
    /// The tier it ran in.
    pub tier: TierName,
    /// Its price.
    pub credits: Credits,
    /// What it used.
    pub run: RunCost,
    /// When it ended.
    pub at: SystemTime,
}

/// Whose spending a figure is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// One client.
    Client(ClientKey),
    /// Every client of a tier.
    Tier(TierName),
    /// The whole platform.
    Global,
}

/// Spending over one period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Credits charged.
    pub credits: Credits,
    /// Executions charged.
    pub executions: u64,
    /// CPU milliseconds.
    pub cpu_ms: u64,
    /// Wall milliseconds.
    pub wall_ms: u64,
    /// Executions whose CPU time was estimated from wall time.
    pub estimated: u64,
}

impl Usage {
    fn add(&mut self, c: &Charge) {
        self.credits += c.credits;
        self.executions += 1;
        self.cpu_ms = self.cpu_ms.saturating_add(c.run.cpu.as_millis() as u64);
        self.wall_ms = self.wall_ms.saturating_add(c.run.wall.as_millis() as u64);
        self.estimated += u64::from(c.run.estimated);
    }
}

/// Credits spent in the day and month of a charge, after it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Spent {
    /// This UTC day.
    pub day: Credits,
    /// This UTC month.
    pub month: Credits,
}

impl Spent {
    /// The figure of `period`.
    pub fn of(self, period: Period) -> Credits {
        match period {
            Period::Day => self.day,
            Period::Month => self.month,
        }
    }
}

/// The client's and the platform's spending after a charge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// The client's.
    pub client: Spent,
    /// The platform's.
    pub global: Spent,
}

/// What follows a charge once its store has counted it: given the client's
/// and the platform's totals right after it (budget alerts, the ratio gauge).
pub type Settled = Box<dyn FnOnce(Totals) + Send>;

/// Where usage is kept. Charging never waits (it happens while the answer is
/// being written); reads may, within the store's bound.
#[async_trait::async_trait]
pub trait UsageStore: Send + Sync {
    /// Adds `charge`; `settled` is called with the totals right after it once
    /// the store has counted it (at once in memory; once Redis confirms it for
    /// the shared store, so that each total is seen after exactly one charge).
    fn record(&self, charge: &Charge, settled: Settled);
    /// What `client` and the platform have spent in the day and month of `at`:
    /// the figures a budget is checked against.
    async fn spent(&self, client: &ClientKey, at: SystemTime) -> Totals;
    /// `scope`'s spending in `period`; an error when the store cannot be read.
    async fn usage(&self, scope: &Scope, period: PeriodKey) -> Result<Usage, String>;
    /// The `n` clients that spent most in `period`, most first.
    async fn top(&self, period: PeriodKey, n: usize) -> Result<Vec<(ClientKey, Usage)>, String>;
}

/// One journal line.
#[derive(Serialize, Deserialize)]
struct Line {
    at_ms: u64,
    client: ClientKey,
    tier: TierName,
    credits: Credits,
    cpu_ms: u64,
    wall_ms: u64,
    memory_bytes: u64,
    estimated: bool,
}

/// Usage in memory, optionally journaled to a file.
pub struct MemoryUsage {
    figures: Mutex<Figures>,
    journal: Option<Mutex<std::fs::File>>,
}

#[derive(Default)]
struct Figures {
    map: HashMap<(Scope, PeriodKey), Usage>,
    /// The newest month seen: older periods are dropped when it changes.
    month: Option<PeriodKey>,
}

impl Figures {
    fn credits(&self, scope: &Scope, period: PeriodKey) -> Credits {
        self.map
            .get(&(scope.clone(), period))
            .map_or(Credits::ZERO, |u| u.credits)
    }

    fn add(&mut self, c: &Charge) -> Totals {
        let (day, month) = (Period::Day.at(c.at), Period::Month.at(c.at));
        if self.month.is_some_and(|m| m < month) {
            // A new month: last month's figures are history, kept by the journal.
            let today = crate::period::day_number(c.at);
            self.map.retain(|(_, p), _| match p {
                PeriodKey::Day(d) => *d + 1 >= today,
                PeriodKey::Month(..) => *p == month,
            });
        }
        self.month = self.month.max(Some(month));
        let mut spent = |scope: Scope| {
            let mut s = Spent::default();
            for (key, slot) in [(day, &mut s.day), (month, &mut s.month)] {
                let u = self.map.entry((scope.clone(), key)).or_default();
                u.add(c);
                *slot = u.credits;
            }
            s
        };
        let client = spent(Scope::Client(c.client.clone()));
        spent(Scope::Tier(c.tier.clone()));
        let global = spent(Scope::Global);
        Totals { client, global }
    }
}

impl MemoryUsage {
    /// Usage kept in memory only (lost at restart).
    pub fn in_memory() -> Self {
        Self {
            figures: Mutex::new(Figures::default()),
            journal: None,
        }
    }

    /// Usage journaled to `path`: the current month's charges are replayed
    /// (older ones are dropped from the file) and every new charge appended.
    /// A torn last line (a crash mid-write) is skipped; any other bad line is an error.
    pub fn open(path: &Path, now: SystemTime) -> Result<Self, FileError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(FileError::new(path, format!("cannot read: {e}"))),
        };
        let month = Period::Month.at(now);
        let mut figures = Figures::default();
        let mut kept = String::new();
        let lines: Vec<&str> = text.lines().collect();
        for (n, raw) in lines.iter().enumerate() {
            if raw.trim().is_empty() {
                continue;
            }
            let line: Line = match serde_json::from_str(raw) {
                Ok(l) => l,
                Err(_) if n + 1 == lines.len() && !text.ends_with('\n') => break,
                Err(e) => {
                    return Err(FileError::new(path, format!("not a usage record: {e}"))
                        .at(Some(n + 1), None));
                }
            };
            let charge = line.charge();
            if Period::Month.at(charge.at) == month {
                figures.add(&charge);
                kept.push_str(raw);
                kept.push('\n');
            }
        }
        let tmp = tmp_path(path);
        let write = || -> std::io::Result<std::fs::File> {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&tmp, &kept)?;
            std::fs::rename(&tmp, path)?;
            std::fs::OpenOptions::new().append(true).open(path)
        };
        let file = write().map_err(|e| FileError::new(path, format!("cannot write: {e}")))?;
        Ok(Self {
            figures: Mutex::new(figures),
            journal: Some(Mutex::new(file)),
        })
    }
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

impl Line {
    fn charge(&self) -> Charge {
        Charge {
            client: self.client.clone(),
            tier: self.tier.clone(),
            credits: self.credits,
            run: RunCost {
                cpu: Duration::from_millis(self.cpu_ms),
                wall: Duration::from_millis(self.wall_ms),
                memory_bytes: self.memory_bytes,
                estimated: self.estimated,
            },
            at: UNIX_EPOCH + Duration::from_millis(self.at_ms),
        }
    }

    fn of(c: &Charge) -> Self {
        Line {
            at_ms: c
                .at
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
            client: c.client.clone(),
            tier: c.tier.clone(),
            credits: c.credits,
            cpu_ms: c.run.cpu.as_millis() as u64,
            wall_ms: c.run.wall.as_millis() as u64,
            memory_bytes: c.run.memory_bytes,
            estimated: c.run.estimated,
        }
    }
}

#[async_trait::async_trait]
impl UsageStore for MemoryUsage {
    fn record(&self, charge: &Charge, settled: Settled) {
        if let Some(journal) = &self.journal {
            let mut line = serde_json::to_vec(&Line::of(charge)).unwrap_or_default();
            line.push(b'\n');
            // One write per line: a crash tears at most the last one.
            if let Err(e) = journal.lock().write_all(&line) {
                tracing::error!("usage journal write failed: {e}");
            }
        }
        let totals = self.figures.lock().add(charge);
        settled(totals);
    }

    async fn spent(&self, client: &ClientKey, at: SystemTime) -> Totals {
        let figures = self.figures.lock();
        let spent = |scope: Scope| Spent {
            day: figures.credits(&scope, Period::Day.at(at)),
            month: figures.credits(&scope, Period::Month.at(at)),
        };
        Totals {
            client: spent(Scope::Client(client.clone())),
            global: spent(Scope::Global),
        }
    }

    async fn usage(&self, scope: &Scope, period: PeriodKey) -> Result<Usage, String> {
        Ok(self
            .figures
            .lock()
            .map
            .get(&(scope.clone(), period))
            .copied()
            .unwrap_or_default())
    }

    async fn top(&self, period: PeriodKey, n: usize) -> Result<Vec<(ClientKey, Usage)>, String> {
        let figures = self.figures.lock();
        let mut all: Vec<(ClientKey, Usage)> = figures
            .map
            .iter()
            .filter_map(|((scope, p), u)| match scope {
                Scope::Client(c) if *p == period => Some((c.clone(), *u)),
                _ => None,
            })
            .collect();
        all.sort_by(|a, b| b.1.credits.cmp(&a.1.credits).then_with(|| a.0.cmp(&b.0)));
        all.truncate(n);
        Ok(all)
    }
}
