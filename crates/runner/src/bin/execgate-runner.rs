//! Standalone runner binary (the same entry points `execgate runner` and the
//! hidden `execgate sandbox-init` use), so tests and benches can start it.

use clap::{Parser, Subcommand};
use execgate_runner::{RunnerArgs, cli_main, sandbox_init_main};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the Piston/Judge0 API.
    Runner(RunnerArgs),
    /// Internal: build one sandbox (started by the runner).
    #[command(hide = true)]
    SandboxInit,
}

fn main() {
    // The helper must stay single-threaded and fast: dispatch before anything else.
    if std::env::args().nth(1).as_deref() == Some("sandbox-init") {
        sandbox_init_main();
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let code = match Cli::parse().command {
        Command::Runner(args) => cli_main(&args),
        Command::SandboxInit => sandbox_init_main(),
    };
    std::process::exit(code);
}
