//! Warm pool: per language, N sandboxes built ahead of time whose bootstrap
//! (the interpreter, already loaded) waits on fd 3 for the code. Each is used
//! once and never reused; taking one starts a replacement in the background.
//! A warm sandbox is built by the same code, with the same spec, as a cold one.

use crate::exec::{Engine, RunLimits, Started};
use crate::spec::{SandboxFile, SandboxSpec};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use parking_lot::Mutex;
use serde_json::json;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

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
    /// Cgroup caps at build time (memory is lowered to the request's on take).
    pub limits: RunLimits,
}

/// Ready warm sandboxes per language.
#[derive(Clone, Default)]
pub struct WarmPool {
    ready: Arc<Mutex<HashMap<String, VecDeque<Started>>>>,
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
        self.ready.lock().get(language).map_or(0, VecDeque::len)
    }

    /// Takes a ready sandbox (skipping dead ones) and orders a replacement.
    pub fn take(&self, language: &str) -> Option<Started> {
        let recipe = self.recipes.get(language)?;
        let mut taken = None;
        {
            let mut ready = self.ready.lock();
            let queue = ready.entry(language.to_string()).or_default();
            while let Some(mut s) = queue.pop_front() {
                self.refill(&recipe.language);
                if s.is_alive() {
                    taken = Some(s);
                    break;
                }
            }
        }
        taken
    }

    fn refill(&self, language: &str) {
        let (Some(engine), Some(recipe)) =
            (self.engine.clone(), self.recipes.get(language).cloned())
        else {
            return;
        };
        let ready = self.ready.clone();
        tokio::spawn(async move {
            loop {
                match engine.start(recipe.spec.clone(), recipe.limits).await {
                    Ok(started) => {
                        ready
                            .lock()
                            .entry(recipe.language.clone())
                            .or_default()
                            .push_back(started);
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

/// The payload a warm bootstrap reads on fd 3: files (base64) and argv (without the interpreter).
pub fn payload(files: &[SandboxFile], argv: &[String]) -> Vec<u8> {
    let files: Vec<_> = files
        .iter()
        .map(|f| json!({"name": f.name, "content": STANDARD.encode(&f.content), "executable": f.executable}))
        .collect();
    json!({"files": files, "argv": argv})
        .to_string()
        .into_bytes()
}
