//! `execgate runner --config FILE`: load and validate the config, run the
//! preflight, bind, serve. Exit codes: 0 clean, 2 bad config or host.

use crate::{RunnerConfig, preflight, serve};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Command-line arguments of `execgate runner`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunnerArgs {
    /// The runner config file (TOML).
    #[arg(long)]
    pub config: PathBuf,
    /// Listen here instead of the config's `listen`.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Only validate the config and check the host, then exit.
    #[arg(long)]
    pub check: bool,
    /// Exit when the process with this pid, the parent that started the runner
    /// (`execgate up`), exits.
    #[arg(long, hide = true)]
    pub parent: Option<u32>,
}

/// Runs the runner; returns the process exit code.
pub fn cli_main(args: &RunnerArgs) -> i32 {
    if let Some(parent) = args.parent
        && !crate::exit_with_parent(parent)
    {
        return 1;
    }
    let mut config = match RunnerConfig::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Err(problems) = preflight(&config) {
        eprintln!("the runner cannot start on this host:");
        for p in problems {
            eprintln!("  - {p}");
        }
        return 2;
    }
    if args.check {
        println!("{}: ok", args.config.display());
        let (catalog, skipped) = crate::job::Catalog::from_config(&config);
        for lang in catalog.all() {
            let program = lang.cfg.compile.as_ref().unwrap_or(&lang.cfg.run)[0].as_str();
            println!("  {} {} ({program})", lang.cfg.name, lang.cfg.version);
        }
        for lang in skipped {
            println!("  {}: not offered: {}", lang.language, lang.reason);
        }
        return 0;
    }
    crate::prioritize_runner_threads();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return 1;
        }
    };
    runtime.block_on(async {
        let listener = match tokio::net::TcpListener::bind(config.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("cannot listen on {}: {e}", config.listen);
                return 2;
            }
        };
        tracing::info!(listen = %config.listen, "runner listening");
        match serve(config, listener).await {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("{e}");
                1
            }
        }
    })
}
