//! The `execgate` command line: a thin shell over the library.

#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use execgate::{config, server};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A security gateway for code-execution services.
#[derive(Parser)]
#[command(name = "execgate", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (proxy + admin API) in front of the configured executors.
    Gateway {
        /// Config file.
        #[arg(long, short)]
        config: PathBuf,
        /// Zero-downtime upgrade: take the listening sockets of the running
        /// gateway over `[server] upgrade_socket` (then send it SIGQUIT).
        #[arg(long)]
        upgrade: bool,
    },
    /// Validate a config file and print the effective config (exit 2 on errors).
    CheckConfig {
        /// Config file.
        file: PathBuf,
    },
    /// Run everything on one machine: the bundled runner (a child process with its
    /// own rights), the gateway in front of it, and the admin API.
    Up {
        /// Gateway config file.
        #[arg(long, short, default_value = "config/execgate.toml")]
        config: PathBuf,
        /// Runner config file.
        #[arg(long, default_value = "config/runner.toml")]
        runner_config: PathBuf,
        /// Do not start the bundled runner (use executors already running).
        #[arg(long)]
        no_runner: bool,
    },
    /// Screen code offline with the rule files.
    Scan(execgate_screen::cli::ScanArgs),
    /// Validate rule files.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Manage the blocklist through the admin API (`block add/list/rm`).
    Block(execgate_state::cli::BlockArgs),
    /// Show a client's standing through the admin API (`clients show KEY`).
    Clients(execgate_state::cli::ClientsArgs),
    /// Show spending through the admin API (`usage show KEY`, `usage top`).
    Usage(execgate_state::cli::UsageArgs),
    /// Reload the whole config of a running gateway through the admin API
    /// (the same as SIGHUP); on an error the old config stays and the file:line is printed.
    Reload(execgate_state::cli::ReloadArgs),
    /// Run the bundled sandbox executor alone.
    Runner(execgate_runner::cli::RunnerArgs),
    /// Internal: builds one sandbox (started by the runner).
    #[command(hide = true)]
    SandboxInit,
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Validate the rule files in DIR…; on an error print `file:line: RULE-ID: reason` and exit 2.
    Check(execgate_screen::cli::RulesCheckArgs),
}

fn main() -> ExitCode {
    // The sandbox helper must stay single-threaded and fast: dispatch before anything else.
    if std::env::args().nth(1).as_deref() == Some("sandbox-init") {
        execgate_runner::sandbox_init_main();
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Gateway { config, upgrade } => run_gateway(&config, upgrade),
        Command::Up {
            config,
            runner_config,
            no_runner,
        } => {
            let _runner = if no_runner {
                None
            } else {
                RunnerChild::spawn(&runner_config)
            };
            run_gateway(&config, false)
        }
        Command::SandboxInit => execgate_runner::sandbox_init_main(),
        Command::CheckConfig { file } => check_config(&file),
        Command::Scan(args) => exit(execgate_screen::cli::scan(&args)),
        Command::Rules {
            command: RulesCommand::Check(args),
        } => exit(execgate_screen::cli::rules_check(&args)),
        Command::Block(args) => exit(execgate_state::cli::block(args)),
        Command::Clients(args) => exit(execgate_state::cli::clients(args)),
        Command::Usage(args) => exit(execgate_state::cli::usage(args)),
        Command::Reload(args) => exit(execgate_state::cli::reload(args)),
        Command::Runner(args) => {
            let _log = execgate::logging::init();
            exit(execgate_runner::cli::cli_main(&args))
        }
    }
}

/// The bundled runner, a separate process so the gateway never holds its rights;
/// killed when `up` ends.
struct RunnerChild(std::process::Child);

impl RunnerChild {
    /// Starts `execgate runner --config FILE`; `None` (with a message) when it cannot run.
    fn spawn(config: &Path) -> Option<Self> {
        let exe = std::env::current_exe().ok()?;
        let child = std::process::Command::new(exe)
            .arg("runner")
            .arg("--config")
            .arg(config)
            .arg("--parent")
            .arg(std::process::id().to_string())
            .env_clear()
            .envs(runner_environment())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                eprintln!("execgate up: cannot start the bundled runner: {e}");
                return None;
            }
        };
        std::thread::sleep(std::time::Duration::from_millis(300));
        if let Ok(Some(status)) = child.try_wait() {
            eprintln!(
                "execgate up: the bundled runner exited ({status}); the gateway starts without it"
            );
            return None;
        }
        Some(Self(child))
    }
}

/// Variables the runner is started with; the rest of the gateway's environment
/// (`EXECGATE_ADMIN_TOKEN`, JWT secrets, cloud credentials…) stays behind, so
/// a flaw in the runner or its sandboxes cannot hand it over.
const RUNNER_ENVIRONMENT: &[&str] = &["PATH", "RUST_LOG", "RUST_BACKTRACE", "LANG", "LC_ALL", "TZ"];

/// The values of `RUNNER_ENVIRONMENT` the gateway has.
fn runner_environment() -> impl Iterator<Item = (&'static str, std::ffi::OsString)> {
    RUNNER_ENVIRONMENT
        .iter()
        .filter_map(|name| std::env::var_os(name).map(|value| (*name, value)))
}

impl Drop for RunnerChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A process exit code from another crate's entry point.
fn exit(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn check_config(file: &Path) -> ExitCode {
    match config::load(file) {
        Ok(settings) => match toml::to_string_pretty(&settings.effective) {
            Ok(text) => {
                println!("# {}: valid\n{text}", file.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{}: cannot print the effective config: {e}", file.display());
                ExitCode::from(2)
            }
        },
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

fn run_gateway(file: &Path, upgrade: bool) -> ExitCode {
    let settings = match config::load(file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let _log = execgate::logging::init();
    let options = server::Options {
        upgrade,
        ..server::Options::default()
    };
    match server::start(&settings, options) {
        Ok(running) => {
            running.wait();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("execgate: {e}");
            ExitCode::from(1)
        }
    }
}
