//! `execgate block …` and `execgate clients …`: thin command-line clients of
//! the admin API, with readable tables or `--json`.
//!
//! They use a blocking HTTP client: call them from plain `main`, not from
//! inside a Tokio runtime.

mod http;
mod table;

use clap::{Args, Subcommand};
use http::{Admin, CliError};
use serde_json::{Value, json};

/// Where the admin API is and how to talk to it (flags or environment).
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// Admin API base URL.
    #[arg(
        long,
        global = true,
        env = "EXECGATE_ADMIN_URL",
        default_value = "http://127.0.0.1:9090"
    )]
    pub admin_url: String,
    /// Admin bearer token.
    #[arg(
        long,
        global = true,
        env = "EXECGATE_ADMIN_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Print the API's JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

/// `execgate block …`.
#[derive(Debug, Clone, Args)]
pub struct BlockArgs {
    /// Connection settings.
    #[command(flatten)]
    pub conn: Connection,
    /// What to do.
    #[command(subcommand)]
    pub command: BlockCommand,
}

/// The blocklist subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum BlockCommand {
    /// Block an IP, a CIDR range, client:ID, country:XX or asn:N.
    Add {
        /// The value to block.
        value: String,
        /// How long, e.g. 4h; at least 1s (default: until removed).
        #[arg(long = "for", value_name = "DURATION")]
        duration: Option<String>,
        /// Why (goes to the audit log).
        #[arg(long)]
        reason: String,
    },
    /// List active decisions.
    List {
        /// Only this scope (ip, range, client, country, asn).
        #[arg(long)]
        scope: Option<String>,
        /// Only this origin (manual, anomaly, list).
        #[arg(long)]
        origin: Option<String>,
        /// Decisions per page.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Decisions to skip.
        #[arg(long, default_value_t = 0)]
        offset: usize,
    },
    /// Remove a decision by id.
    Rm {
        /// The decision id.
        id: u64,
        /// Why (goes to the audit log).
        #[arg(long)]
        reason: Option<String>,
    },
}

/// `execgate clients …`.
#[derive(Debug, Clone, Args)]
pub struct ClientsArgs {
    /// Connection settings.
    #[command(flatten)]
    pub conn: Connection,
    /// What to do.
    #[command(subcommand)]
    pub command: ClientsCommand,
}

/// The client subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum ClientsCommand {
    /// A client's tier, windows, reputation, block and recent events.
    Show {
        /// ip:ADDRESS, ip:PREFIX/64, client:ID, or an IP address.
        key: String,
    },
    /// Reset a client's reputation.
    Forgive {
        /// ip:ADDRESS, ip:PREFIX/64, client:ID, or an IP address.
        key: String,
    },
}

/// `execgate usage …`.
#[derive(Debug, Clone, Args)]
pub struct UsageArgs {
    /// Connection settings.
    #[command(flatten)]
    pub conn: Connection,
    /// What to show.
    #[command(subcommand)]
    pub command: UsageCommand,
}

/// The usage subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum UsageCommand {
    /// A client's spending (credits, executions, CPU and wall time).
    Show {
        /// ip:ADDRESS, ip:PREFIX/64 or client:ID.
        key: String,
        /// `day` (UTC, default) or `month`.
        #[arg(long, default_value = "day")]
        period: String,
    },
    /// The clients that spent most.
    Top {
        /// `day` (UTC, default) or `month`.
        #[arg(long, default_value = "day")]
        period: String,
        /// How many.
        #[arg(long, default_value_t = 10)]
        limit: usize,
    },
}

/// `execgate reload`.
#[derive(Debug, Clone, Args)]
pub struct ReloadArgs {
    /// Connection settings.
    #[command(flatten)]
    pub conn: Connection,
}

/// Runs `execgate reload` (`POST /v1/config/reload`); the process exit code
/// (0 reloaded, 1 refused — the old config stays —, 2 cannot ask).
pub fn reload(args: ReloadArgs) -> i32 {
    run(&args.conn, |admin| {
        let done = admin.send(reqwest::Method::POST, "/v1/config/reload", None)?;
        let restart: Vec<&str> = done["restart_required"]
            .as_array()
            .map(|keys| keys.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let text = if restart.is_empty() {
            "config reloaded\n".to_string()
        } else {
            format!(
                "config reloaded; these changes apply after a restart: {}\n",
                restart.join(", ")
            )
        };
        Ok((text, done))
    })
}

/// Runs `execgate usage …`; the process exit code (0 ok, 1 refused by the API, 2 cannot ask).
pub fn usage(args: UsageArgs) -> i32 {
    run(&args.conn, |admin| match &args.command {
        UsageCommand::Show { key, period } => {
            let path = format!(
                "/v1/usage?client={}&period={}",
                http::encode(key),
                http::encode(period)
            );
            let u = admin.send(reqwest::Method::GET, &path, None)?;
            Ok((table::usage_row(key, &u["usage"]), u))
        }
        UsageCommand::Top { period, limit } => {
            let path = format!(
                "/v1/usage/top?period={}&limit={limit}",
                http::encode(period)
            );
            let t = admin.send(reqwest::Method::GET, &path, None)?;
            let text = t["clients"]
                .as_array()
                .map(|clients| {
                    clients
                        .iter()
                        .map(|c| table::usage_row(c["client"].as_str().unwrap_or("?"), &c["usage"]))
                        .collect::<String>()
                })
                .unwrap_or_default();
            Ok((text, t))
        }
    })
}

/// Runs `execgate block …`; the process exit code (0 ok, 1 refused by the API, 2 cannot ask).
pub fn block(args: BlockArgs) -> i32 {
    run(&args.conn, |admin| match &args.command {
        BlockCommand::Add {
            value,
            duration,
            reason,
        } => {
            let mut body = json!({"value": value, "reason": reason});
            if let Some(d) = duration {
                body["duration"] = json!(d);
            }
            let d = admin.send(reqwest::Method::POST, "/v1/blocks", Some(&body))?;
            Ok((table::added(&d), d))
        }
        BlockCommand::List {
            scope,
            origin,
            limit,
            offset,
        } => {
            let mut query = vec![format!("limit={limit}"), format!("offset={offset}")];
            query.extend(scope.iter().map(|s| format!("scope={}", http::encode(s))));
            query.extend(origin.iter().map(|o| format!("origin={}", http::encode(o))));
            let page = admin.send(
                reqwest::Method::GET,
                &format!("/v1/blocks?{}", query.join("&")),
                None,
            )?;
            Ok((table::decisions(&page), page))
        }
        BlockCommand::Rm { id, reason } => {
            let query = reason
                .as_ref()
                .map(|r| format!("?reason={}", http::encode(r)))
                .unwrap_or_default();
            let d = admin.send(
                reqwest::Method::DELETE,
                &format!("/v1/blocks/{id}{query}"),
                None,
            )?;
            Ok((table::removed(&d), d))
        }
    })
}

/// Runs `execgate clients …`; the process exit code (0 ok, 1 refused by the API, 2 cannot ask).
pub fn clients(args: ClientsArgs) -> i32 {
    run(&args.conn, |admin| match &args.command {
        ClientsCommand::Show { key } => {
            let c = admin.send(
                reqwest::Method::GET,
                &format!("/v1/clients/{}", http::encode(key)),
                None,
            )?;
            Ok((table::client(&c), c))
        }
        ClientsCommand::Forgive { key } => {
            let path = format!("/v1/clients/{}/reputation", http::encode(key));
            let r = admin.send(reqwest::Method::DELETE, &path, None)?;
            Ok((format!("reputation of {key} reset\n"), r))
        }
    })
}

/// Connects, runs `action`, prints its text (or JSON) and maps errors to exit codes.
fn run(conn: &Connection, action: impl FnOnce(&Admin) -> Result<(String, Value), CliError>) -> i32 {
    let result = Admin::new(conn).and_then(|admin| action(&admin));
    match result {
        Ok((text, value)) => {
            if conn.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&value).unwrap_or_default()
                );
            } else {
                print!("{text}");
            }
            0
        }
        Err(e) => {
            eprintln!("execgate: {e}");
            e.exit_code()
        }
    }
}
