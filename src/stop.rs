//! How the proxy stops: through `Running::stop` (tests, embedding), or by
//! signal — SIGINT at once, SIGTERM gracefully: the public listener closes,
//! requests in flight get up to `[server] stop_grace` to finish, then Pingora
//! stops and the process exits 0.

use async_trait::async_trait;
use pingora_core::server::{ShutdownSignal, ShutdownSignalWatch};
use std::time::Duration;
use tokio::sync::watch;

/// How the proxy is told to stop.
pub enum Stop {
    /// By `Running::stop`.
    Channel,
    /// By SIGINT (at once) or SIGTERM (draining first).
    Signals(Drain),
}

impl Stop {
    /// Pingora's grace period: a fixed wait after it closes its listeners,
    /// needed only when it owns the public one (no accept guard).
    pub fn pingora_grace_seconds(&self) -> u64 {
        match self {
            Stop::Signals(drain) if !drain.guarded => drain.grace.as_secs(),
            _ => 0,
        }
    }
}

/// SIGTERM's graceful stop. Without the accept guard Pingora's own listener
/// is public: Pingora closes it, then waits out the whole grace period (it
/// cannot see requests in flight).
pub struct Drain {
    /// Set on SIGTERM: the accept guard stops accepting.
    pub closing: std::sync::Arc<watch::Sender<bool>>,
    /// Requests being handled.
    pub in_flight: prometheus::IntGauge,
    /// The longest wait for them.
    pub grace: Duration,
    /// The accept guard owns the public listener.
    pub guarded: bool,
}

#[async_trait]
impl ShutdownSignalWatch for Drain {
    async fn recv(&self) -> ShutdownSignal {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut interrupt)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::error!("cannot listen for SIGTERM/SIGINT: stop the gateway with SIGKILL");
            return std::future::pending().await;
        };
        tokio::select! {
            _ = interrupt.recv() => return ShutdownSignal::FastShutdown,
            _ = term.recv() => {}
        }
        tracing::info!(grace = ?self.grace, "SIGTERM: no new connections; requests in flight finish");
        let _ = self.closing.send(true);
        if self.guarded {
            let drained = tokio::time::timeout(self.grace, async {
                while self.in_flight.get() > 0 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
            .await;
            if drained.is_err() {
                tracing::warn!(
                    in_flight = self.in_flight.get(),
                    "stop grace period over: cutting the rest"
                );
            }
        }
        ShutdownSignal::GracefulTerminate
    }
}
