//! Whole-config reload: the config file read and validated again, then the
//! live parts swapped in at once — identity (API keys, JWT keys, proxy
//! trust), the IP policy (lists, list files, GeoIP databases), tiers and their
//! limits, screening and output policy, and the rule files.
//!
//! Triggers: `execgate reload` (through the admin API), SIGHUP and
//! `POST /v1/config/reload`. Everything is loaded before anything is swapped,
//! so an error anywhere keeps the whole old config serving and names
//! `file:line: reason`. Requests in flight keep the snapshot they started
//! with (`RequestCtx::policy`). What is only read at start (listeners,
//! threads, state backend, executors…) is named in the answer instead.

use crate::config::{self, RawConfig, Settings};
use crate::gateway::Policy;
use crate::rules::{self, Reloader};
use execgate_core::Live;
use execgate_state::RateLimiter;
use std::collections::BTreeSet;
use std::sync::Arc;

/// The sections (or `section.key`s) a reload puts in force; `[screen]` and
/// `[output]` are live too, through the tiers' policies.
const LIVE: &[&str] = &["identity", "ip_policy", "tiers", "limits.passthrough"];

/// What a successful reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reloaded {
    /// Changed keys that keep their old value until a restart (`server.listen`).
    pub restart_required: Vec<String>,
}

/// Reloads the config a gateway was started from.
#[derive(Clone)]
pub struct ConfigReloader {
    inner: Arc<Inner>,
}

struct Inner {
    /// The settings in force; held locked through a reload, one at a time.
    running: parking_lot::Mutex<Settings>,
    policy: Arc<Live<Policy>>,
    limiter: Arc<dyn RateLimiter>,
    rules: Reloader,
}

impl ConfigReloader {
    /// A reloader of `settings.source`, swapping `policy` and the rules of `rules`.
    pub fn new(
        settings: &Settings,
        policy: Arc<Live<Policy>>,
        limiter: Arc<dyn RateLimiter>,
        rules: Reloader,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                running: parking_lot::Mutex::new(settings.clone()),
                policy,
                limiter,
                rules,
            }),
        }
    }

    /// Reads the config and the rule files again and swaps them in; on any
    /// error nothing changes and the errors say `file:line: reason`.
    pub fn reload(&self, trigger: &str) -> Result<Reloaded, Vec<String>> {
        let outcome = self.swap(trigger);
        match &outcome {
            Ok(done) if done.restart_required.is_empty() => {
                tracing::info!(trigger, "config reloaded");
            }
            Ok(done) => tracing::warn!(
                trigger,
                "config reloaded; changes to {} apply after a restart",
                done.restart_required.join(", ")
            ),
            Err(errors) => {
                for e in errors {
                    tracing::error!(
                        trigger,
                        "config reload refused, keeping the old config: {e}"
                    );
                }
            }
        }
        outcome
    }

    fn swap(&self, trigger: &str) -> Result<Reloaded, Vec<String>> {
        let mut running = self.inner.running.lock();
        let settings = config::load(&running.source).map_err(|e| vec![e.to_string()])?;
        let rules = rules::load(self.inner.rules.paths())?;
        let policy = Policy::new(&settings, self.inner.limiter.clone()).map_err(|e| vec![e])?;
        let restart_required = restart_required(&running.effective, &settings.effective);
        self.inner.policy.store(policy);
        self.inner.rules.install(rules, trigger);
        *running = settings;
        Ok(Reloaded { restart_required })
    }
}

/// The keys that differ between `old` and `new` outside the live sections,
/// as `section.key` (or `section` for a value that is not a table).
fn restart_required(old: &RawConfig, new: &RawConfig) -> Vec<String> {
    let (Ok(toml::Value::Table(old)), Ok(toml::Value::Table(new))) =
        (toml::Value::try_from(old), toml::Value::try_from(new))
    else {
        return vec!["(the configs could not be compared)".into()];
    };
    let mut changed = Vec::new();
    let sections: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for section in sections.into_iter().filter(|s| !LIVE.contains(&s.as_str())) {
        match (old.get(section), new.get(section)) {
            (Some(toml::Value::Table(a)), Some(toml::Value::Table(b))) => {
                let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
                changed.extend(
                    keys.into_iter()
                        .map(|k| (k, format!("{section}.{k}")))
                        .filter(|(k, name)| {
                            !LIVE.contains(&name.as_str()) && a.get(*k) != b.get(*k)
                        })
                        .map(|(_, name)| name),
                );
            }
            (a, b) if a != b => changed.push(section.clone()),
            _ => {}
        }
    }
    changed
}

/// Reloads the whole config on SIGHUP, from a dedicated thread.
pub fn on_sighup(reloader: ConfigReloader) -> std::io::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGHUP])?;
    std::thread::Builder::new()
        .name("config-reload".into())
        .spawn(move || {
            for _ in signals.forever() {
                let _ = reloader.reload("sighup");
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn effective(text: &str) -> RawConfig {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("execgate.toml");
        std::fs::write(&path, text).unwrap();
        config::load(&path).unwrap().effective
    }

    #[test]
    fn only_changes_outside_the_live_sections_need_a_restart() {
        let base = "[upstream]\naddresses = [\"127.0.0.1:2000\"]\n";
        let old = effective(base);
        let new = effective(&format!(
            "{base}[server]\nlisten = \"127.0.0.1:8081\"\nthreads = 3\n[limits]\npassthrough = \"7/s\"\n[ip_policy]\ndeny = [\"10.0.0.0/8\"]\n"
        ));
        assert_eq!(
            restart_required(&old, &new),
            vec!["server.listen".to_string(), "server.threads".to_string()]
        );
        assert!(restart_required(&old, &old).is_empty());
    }
}
