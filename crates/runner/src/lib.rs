//! execgate's bundled runner: an nsjail-grade sandbox executor that speaks the
//! Piston v2 and Judge0 CE APIs. `serve` runs the HTTP API; every execution
//! gets its own sandbox built by a fresh helper process (`sandbox-init`).

pub mod api;
pub mod cgroup;
pub mod cli;
pub mod config;
pub mod discover;
pub mod exec;
pub mod files;
pub mod job;
pub mod preflight;
pub mod sandbox;
pub mod spec;
pub mod verdict;
pub mod warm;

pub use cli::{RunnerArgs, cli_main};
pub use config::RunnerConfig;
pub use preflight::preflight;
pub use sandbox::{exit_with_parent, sandbox_init_main};

use api::{AppState, gate::Gate, tokens::TokenStore};
use cgroup::{CgroupHost, CpuPriority};
use exec::Engine;
use execgate_core::SystemClock;
use job::{Catalog, Runner};
use std::path::PathBuf;
use std::sync::Arc;
use warm::{WarmPool, WarmRecipe};

/// Why the runner could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// The host lacks something (each line says what).
    #[error("the runner cannot start:\n  - {}", .0.join("\n  - "))]
    Preflight(Vec<String>),
    /// The listener failed.
    #[error("runner listener: {0}")]
    Io(#[from] std::io::Error),
}

/// Nice value of the runner's own threads: above the programs it watches, so
/// that on a saturated host its 10 ms limit checks and its kills still run
/// on time (they take little CPU, but must get it when they ask).
pub const RUNNER_NICE: i32 = -10;

/// Gives the calling thread, and every thread it starts afterwards, the
/// runner's priority; call before building the async runtime. Sandbox
/// helpers inherit it while they build a sandbox (setup is on the run's
/// critical path); the program is put back to nice 0 just before its exec.
pub fn prioritize_runner_threads() {
    // SAFETY: setpriority with integer arguments, on the calling thread.
    let ret = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, RUNNER_NICE) };
    if ret < 0 {
        let e = std::io::Error::last_os_error();
        tracing::warn!(error = %e, "cannot raise the runner's priority; limits may overshoot on a saturated host");
    }
}

/// How to start a sandbox helper: a program and its arguments.
#[derive(Debug, Clone)]
pub struct Helper {
    /// The executable (normally this very binary).
    pub program: PathBuf,
    /// Arguments selecting the hidden helper mode.
    pub args: Vec<String>,
}

impl Helper {
    /// This executable with `sandbox-init`, as wired by the `execgate` binary.
    pub fn current_exe() -> std::io::Result<Self> {
        Ok(Self {
            program: std::env::current_exe()?,
            args: vec!["sandbox-init".into()],
        })
    }
}

/// Builds the runner (engine, catalog, warm pool) without starting anything.
pub fn build(config: RunnerConfig, helper: Helper) -> Result<Arc<Runner>, RunnerError> {
    preflight(&config).map_err(RunnerError::Preflight)?;
    let cgroups = CgroupHost::detect(&config.cgroup.root, &config.cgroup.name)
        .map_err(|e| RunnerError::Preflight(vec![e]))?;
    cgroups
        .set_concurrency(config.max_concurrent)
        .map_err(|e| RunnerError::Preflight(vec![format!("cgroup cpu weight: {e}")]))?;
    let engine = Arc::new(Engine::new(helper.program, helper.args, cgroups));
    let (catalog, skipped) = Catalog::from_config(&config);
    for lang in skipped {
        tracing::warn!(language = %lang.language, reason = %lang.reason, "optional language not offered");
    }
    for lang in catalog.all() {
        let program = lang.cfg.compile.as_ref().unwrap_or(&lang.cfg.run)[0].clone();
        tracing::info!(language = %lang.cfg.name, version = %lang.cfg.version, %program, "language offered");
    }
    let mut runner = Runner {
        engine: engine.clone(),
        catalog,
        config: Arc::new(config),
        warm: WarmPool::default(),
        runs: Default::default(),
    };
    let recipes = warm_recipes(&runner);
    runner.warm = WarmPool::new(engine, recipes);
    Ok(Arc::new(runner))
}

/// One recipe per language with `warm > 0`: the language's default memory
/// cap (a request asking for another has it set when it claims one) and the
/// largest CPU limit (its RLIMIT_CPU backstop can then only go down).
fn warm_recipes(runner: &Runner) -> Vec<WarmRecipe> {
    runner
        .catalog
        .all()
        .iter()
        .filter(|l| l.cfg.warm > 0)
        .filter_map(|lang| {
            let argv = lang.cfg.warm_run.clone()?;
            let build = job::Requested {
                cpu_time: Some(runner.config.limits.max_cpu_time.get()),
                ..job::Requested::default()
            };
            let mut limits = runner.limits("run", build, lang.cfg.run_limits).ok()?;
            limits.cgroup.priority = CpuPriority::Background;
            let mut spec = runner.spec(lang, argv, Vec::new(), limits.cpu);
            spec.warm = true;
            Some(WarmRecipe {
                language: lang.cfg.name.clone(),
                size: lang.cfg.warm,
                spec,
                limits,
            })
        })
        .collect()
}

/// The API state for a built runner.
pub fn app_state(runner: Arc<Runner>) -> AppState {
    let config = runner.config.clone();
    AppState {
        gate: Arc::new(Gate::new(config.max_concurrent, config.max_queue)),
        tokens: Arc::new(TokenStore::new(
            config.tokens.retention.get(),
            config.tokens.max,
            Arc::new(SystemClock),
        )),
        runner,
    }
}

/// Serves the Piston and Judge0 APIs on `listener` until the process ends.
pub async fn serve(
    config: RunnerConfig,
    listener: tokio::net::TcpListener,
) -> Result<(), RunnerError> {
    serve_with(config, listener, Helper::current_exe()?).await
}

/// `serve` with an explicit helper (tests and embedders).
pub async fn serve_with(
    config: RunnerConfig,
    listener: tokio::net::TcpListener,
    helper: Helper,
) -> Result<(), RunnerError> {
    let runner = build(config, helper)?;
    runner.warm.fill();
    axum::serve(listener, api::router(app_state(runner))).await?;
    Ok(())
}
