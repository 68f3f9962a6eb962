//! A thin stand-alone front end to the screening CLI (`execgate scan` and
//! `execgate rules check` in the main binary), used by this crate's tests.

use clap::{Parser, Subcommand};
use execgate_screen::cli::{self, RulesCheckArgs, ScanArgs};

#[derive(Parser)]
#[command(
    name = "execgate-scan",
    about = "Screen code with execgate's rule files"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Screen files.
    Scan(ScanArgs),
    /// Rule-file commands.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Validate rule directories.
    Check(RulesCheckArgs),
}

fn main() {
    let code = match Cli::parse().command {
        Command::Scan(args) => cli::scan(&args),
        Command::Rules {
            command: RulesCommand::Check(args),
        } => cli::rules_check(&args),
    };
    std::process::exit(code);
}
