//! Where log lines go. The audit trail writes a line per request: written on
//! the proxy's worker, a slow stdout (a pipe to a busy collector) would stall
//! every request behind it. Lines go through a bounded queue to a writer
//! thread instead; a line that finds the queue full is dropped and counted
//! (`execgate_log_lines_dropped_total`), never waited for.

use std::sync::OnceLock;
use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};

/// Lines queued for the writer at most (about 30 MB of audit lines).
const QUEUED_LINES: usize = 100_000;

static DROPPED: OnceLock<ErrorCounter> = OnceLock::new();

/// Installs JSON logging on stdout; keep the guard until exit (dropping it
/// writes what is still queued).
pub fn init() -> WorkerGuard {
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // The audit trail (requests, blocklist changes, bans) is a record, not
    // diagnostics: a quieter RUST_LOG must not drop it.
    if let Ok(audit) = "execgate::audit=info".parse() {
        filter = filter.add_directive(audit);
    }
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(QUEUED_LINES)
        .thread_name("execgate-log")
        .finish(std::io::stdout());
    let _ = DROPPED.set(writer.error_counter());
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_writer(writer)
        .init();
    guard
}

/// Lines dropped so far because the writer fell behind.
pub fn dropped_lines() -> u64 {
    DROPPED.get().map_or(0, |c| c.dropped_lines() as u64)
}
