//! Screening and output rules, loaded together and hot-swapped as one value.
//!
//! Reload comes from a file watcher on the rule paths or the admin endpoint
//! (`Reloader::reload`), or with the whole config (SIGHUP, `crate::reload`:
//! `Reloader::install`). A bad file keeps the old rules
//! and reports `file:rule-id: reason` in the log and to the caller.

use crate::config::raw::RawRules;
use crate::metrics::Metrics;
use execgate_core::Live;
use execgate_sanitize::OutputRules;
use execgate_screen::RuleSet;
use std::path::PathBuf;
use std::sync::Arc;

/// The rules every request reads a snapshot of.
pub struct Rules {
    /// Code screening rules.
    pub screen: RuleSet,
    /// Output redaction and leak rules.
    pub output: OutputRules,
}

/// Loads both rule sets; errors are `file:rule-id: reason` lines.
pub fn load(cfg: &RawRules) -> Result<Rules, Vec<String>> {
    let screen = RuleSet::load(&cfg.screen)
        .map_err(|errs| errs.iter().map(ToString::to_string).collect::<Vec<_>>());
    let output = OutputRules::load(&cfg.output)
        .map_err(|errs| errs.iter().map(ToString::to_string).collect::<Vec<_>>());
    match (screen, output) {
        (Ok(screen), Ok(output)) => Ok(Rules { screen, output }),
        (screen, output) => Err(screen
            .err()
            .into_iter()
            .chain(output.err())
            .flatten()
            .collect()),
    }
}

/// Reloads rules into the live slot and counts the outcome.
#[derive(Clone)]
pub struct Reloader {
    live: Arc<Live<Rules>>,
    cfg: RawRules,
    metrics: Metrics,
    reloads: Arc<parking_lot::Mutex<std::collections::VecDeque<ReloadRecord>>>,
}

/// Reloads remembered for the console.
const KEPT_RELOADS: usize = 100;

/// One reload's outcome, for the console's rules view and events table.
#[derive(Debug, Clone)]
pub struct ReloadRecord {
    /// When it ran.
    pub at: std::time::SystemTime,
    /// What asked for it (`admin`, `console`, `sighup`, `watch`, `config`).
    pub trigger: String,
    /// The errors that kept the old rules, none when it was swapped in.
    pub errors: Vec<String>,
}

impl Reloader {
    /// A reloader for `live`, reading the paths in `cfg`.
    pub fn new(live: Arc<Live<Rules>>, cfg: RawRules, metrics: Metrics) -> Self {
        Self {
            live,
            cfg,
            metrics,
            reloads: Arc::default(),
        }
    }

    /// The rules in force.
    pub fn current(&self) -> Arc<Rules> {
        self.live.load()
    }

    /// The configured rule paths.
    pub fn paths(&self) -> &RawRules {
        &self.cfg
    }

    /// The reloads since start (the last 100), oldest first.
    pub fn reloads(&self) -> Vec<ReloadRecord> {
        self.reloads.lock().iter().cloned().collect()
    }

    /// Loads the rule files again; on error the old rules stay in place.
    pub fn reload(&self, trigger: &str) -> Result<(), Vec<String>> {
        let outcome = self.swap(trigger);
        self.record(trigger, outcome.as_ref().err().cloned().unwrap_or_default());
        outcome
    }

    /// Puts rules already loaded (with the rest of the config) in force.
    pub fn install(&self, rules: Rules, trigger: &str) {
        self.live.store(rules);
        self.metrics.reloads.with_label_values(&["ok"]).inc();
        self.record(trigger, Vec::new());
    }

    fn record(&self, trigger: &str, errors: Vec<String>) {
        let mut reloads = self.reloads.lock();
        if reloads.len() == KEPT_RELOADS {
            reloads.pop_front();
        }
        reloads.push_back(ReloadRecord {
            at: std::time::SystemTime::now(),
            trigger: trigger.to_string(),
            errors,
        });
    }

    fn swap(&self, trigger: &str) -> Result<(), Vec<String>> {
        match load(&self.cfg) {
            Ok(rules) => {
                self.live.store(rules);
                self.metrics.reloads.with_label_values(&["ok"]).inc();
                tracing::info!(trigger, "rules reloaded");
                Ok(())
            }
            Err(errors) => {
                self.metrics.reloads.with_label_values(&["error"]).inc();
                for e in &errors {
                    tracing::error!(trigger, "rule reload refused, keeping the old rules: {e}");
                }
                Err(errors)
            }
        }
    }

    /// The directories to watch (files are watched through their directory).
    fn watched(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self
            .cfg
            .screen
            .iter()
            .chain(&self.cfg.output)
            .map(|p| {
                if p.is_dir() {
                    p.clone()
                } else {
                    p.parent().map(PathBuf::from).unwrap_or_default()
                }
            })
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        dirs.dedup();
        dirs
    }
}

/// Reloads when files change under the rule directories (see
/// [`file_watch`](crate::file_watch)). The returned watcher must be kept alive.
pub fn watch(reloader: Reloader) -> notify::Result<notify::RecommendedWatcher> {
    let dirs = reloader.watched();
    crate::file_watch::watch(
        dirs,
        crate::file_watch::Depth::Tree,
        "rule-watch",
        move || {
            let _ = reloader.reload("watch");
        },
    )
}
