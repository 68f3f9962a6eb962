//! Warm pool: per language, N sandboxes built ahead of time whose bootstrap
//! (the interpreter, already loaded) waits on fd 3 for the code. Each is used
//! once and never reused; taking one starts a replacement in the background.
//! A warm sandbox is built by the same code, with the same spec, as a cold one.
//! When none is ready, a request orders one more and waits for the first to
//! arrive rather than building a cold one beside the refills: under load that
//! would build two sandboxes per run. The pool never grows past its size.

use crate::exec::{Engine, RunLimits, Started};
use crate::spec::{SandboxFile, SandboxSpec};
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Pause before retrying a warm sandbox that failed to start.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// How to build one language's warm sandboxes.
#[derive(Debug, Clone)]
pub struct WarmRecipe {
    /// Language name.
    pub language: String,
    /// How many to keep ready.
    pub size: usize,
    /// The spec (argv = the bootstrap, `warm = true`).
    pub spec: SandboxSpec,
    /// Limits at build time: the language's default memory, the largest CPU
    /// time (a request's own are set when it claims the sandbox).
    pub limits: RunLimits,
}

/// One language's ready sandboxes and how many are being built.
#[derive(Default)]
struct Slot {
    ready: VecDeque<Started>,
    building: usize,
}

/// Ready warm sandboxes per language.
#[derive(Clone, Default)]
pub struct WarmPool {
    ready: Arc<Mutex<HashMap<String, Slot>>>,
    arrived: Arc<Notify>,
    recipes: Arc<HashMap<String, WarmRecipe>>,
    engine: Option<Arc<Engine>>,
}

impl WarmPool {
    /// A pool for `recipes`; call `fill` to start building.
    pub fn new(engine: Arc<Engine>, recipes: Vec<WarmRecipe>) -> Self {
        let recipes = recipes
            .into_iter()
            .filter(|r| r.size > 0)
            .map(|r| (r.language.clone(), r))
            .collect();
        Self {
            ready: Arc::default(),
            arrived: Arc::default(),
            recipes: Arc::new(recipes),
            engine: Some(engine),
        }
    }

    /// Starts building every language's sandboxes in the background.
    pub fn fill(&self) {
        for recipe in self.recipes.values() {
            for _ in 0..recipe.size {
                self.refill(&recipe.language);
            }
        }
    }

    /// How many are ready for `language`.
    pub fn ready(&self, language: &str) -> usize {
        self.ready
            .lock()
            .get(language)
            .map_or(0, |slot| slot.ready.len())
    }

    /// Takes a ready sandbox, or orders one and waits up to `max_wait` for
    /// the first to arrive; `None` when the language has no pool or in time.
    pub async fn take_or_wait(&self, language: &str, max_wait: Duration) -> Option<Started> {
        let deadline = tokio::time::Instant::now() + max_wait;
        let mut ordered = false;
        loop {
            let arrived = self.arrived.notified();
            if let Some(started) = self.take(language) {
                return Some(started);
            }
            if !ordered {
                self.recipes.get(language)?;
                self.refill(language);
                ordered = true;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return None;
            }
        }
    }

    /// Takes a ready sandbox (skipping dead ones) and orders a replacement
    /// unless the pool is already full with those being built.
    pub fn take(&self, language: &str) -> Option<Started> {
        let size = self.recipes.get(language)?.size;
        let mut ready = self.ready.lock();
        let slot = ready.entry(language.to_string()).or_default();
        while let Some(mut started) = slot.ready.pop_front() {
            if slot.ready.len() + slot.building < size {
                slot.building += 1;
                self.spawn_build(language);
            }
            if started.is_alive() {
                return Some(started);
            }
        }
        None
    }

    /// Orders one more sandbox for `language`.
    fn refill(&self, language: &str) {
        self.ready
            .lock()
            .entry(language.to_string())
            .or_default()
            .building += 1;
        self.spawn_build(language);
    }

    /// Builds one sandbox in the background (the caller counted it as building).
    fn spawn_build(&self, language: &str) {
        let (Some(engine), Some(recipe)) =
            (self.engine.clone(), self.recipes.get(language).cloned())
        else {
            return;
        };
        let (ready, arrived) = (self.ready.clone(), self.arrived.clone());
        tokio::spawn(async move {
            loop {
                match engine.start(recipe.spec.clone(), recipe.limits).await {
                    Ok(started) => {
                        let mut ready = ready.lock();
                        let slot = ready.entry(recipe.language.clone()).or_default();
                        slot.ready.push_back(started);
                        slot.building = slot.building.saturating_sub(1);
                        drop(ready);
                        arrived.notify_waiters();
                        return;
                    }
                    Err(v) => {
                        tracing::warn!(language = %recipe.language, detail = ?v.detail, "warm sandbox failed to start");
                        tokio::time::sleep(RETRY_AFTER).await;
                    }
                }
            }
        });
    }
}

/// The payload a warm bootstrap reads on fd 3 (format in `config/runner.toml`):
/// length-prefixed, so the bootstrap needs no parser module.
pub fn payload(files: &[SandboxFile], argv: &[String]) -> Vec<u8> {
    let mut out = format!("{}\n", files.len()).into_bytes();
    for f in files {
        let header = format!(
            "{} {} {}\n",
            u8::from(f.executable),
            f.name.len(),
            f.content.len()
        );
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(f.name.as_bytes());
        out.extend_from_slice(&f.content);
    }
    out.extend_from_slice(format!("{}\n", argv.len()).as_bytes());
    for arg in argv {
        out.extend_from_slice(format!("{}\n", arg.len()).as_bytes());
        out.extend_from_slice(arg.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_is_length_prefixed() {
        let file = SandboxFile {
            name: "a b.py".into(),
            content: b"x\ny".to_vec(),
            executable: false,
        };
        let bytes = payload(&[file], &["a b.py".into(), "1\n2".into()]);
        assert_eq!(bytes, b"1\n0 6 3\na b.pyx\ny2\n6\na b.py3\n1\n2".to_vec());
    }
}
