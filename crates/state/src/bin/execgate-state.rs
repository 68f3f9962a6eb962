//! A thin binary over the state crate's CLI (`block`, `clients`), for its tests
//! and for use before the main `execgate` binary wires the same commands.

use clap::Parser;
use execgate_state::cli::{BlockArgs, ClientsArgs};

/// execgate admin commands.
#[derive(Debug, Parser)]
#[command(name = "execgate-state")]
enum Cli {
    /// Manage the blocklist.
    Block(BlockArgs),
    /// Inspect clients.
    Clients(ClientsArgs),
}

fn main() {
    let code = match Cli::parse() {
        Cli::Block(args) => execgate_state::cli::block(args),
        Cli::Clients(args) => execgate_state::cli::clients(args),
    };
    std::process::exit(code);
}
