//! How the proxy stops: through `Running::stop` (tests, embedding), or by
//! signal — SIGINT at once, SIGTERM gracefully: the public listener closes,
//! open connections get up to `[server] stop_grace` to finish their requests
//! (each answered with `Connection: close`), then Pingora stops and the
//! process exits 0. SIGQUIT is the upgrade: the listeners go to the new
//! process first (`crate::upgrade`), then the same drain.

use crate::accept::OpenConnections;
use crate::upgrade::Handover;
use async_trait::async_trait;
use pingora_core::server::{ShutdownSignal, ShutdownSignalWatch};
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{Signal, SignalKind, signal};
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
    /// Connections the accept guard handed to the proxy, still open.
    pub open: OpenConnections,
    /// The longest wait for them.
    pub grace: Duration,
    /// The accept guard owns the public listener.
    pub guarded: bool,
    /// The listeners to hand to a new process on SIGQUIT (`[server] upgrade_socket`).
    pub upgrade: Option<Arc<Handover>>,
    /// The signals, taken by the first `recv`.
    pub signals: parking_lot::Mutex<Option<Signals>>,
}

/// SIGTERM, SIGINT and SIGQUIT, caught from before the listeners open: one
/// that arrives before Pingora watches for it is kept, not the default
/// action (SIGQUIT's would dump core).
pub struct Signals {
    term: Signal,
    interrupt: Signal,
    quit: Signal,
}

impl Signals {
    /// Catches the three signals; call within a runtime that lives as long as the process.
    pub fn catch() -> Result<Self, String> {
        let catch = |kind: SignalKind, name: &str| {
            signal(kind).map_err(|e| format!("cannot catch {name}: {e}"))
        };
        Ok(Self {
            term: catch(SignalKind::terminate(), "SIGTERM")?,
            interrupt: catch(SignalKind::interrupt(), "SIGINT")?,
            quit: catch(SignalKind::quit(), "SIGQUIT")?,
        })
    }
}

impl Drain {
    /// Hands the listeners over on SIGQUIT; `false` when that failed (or no
    /// upgrade socket is configured) and this process goes on serving.
    async fn hand_over(&self) -> bool {
        let Some(handover) = self.upgrade.clone() else {
            tracing::warn!("SIGQUIT: no [server] upgrade_socket configured; still serving");
            return false;
        };
        tracing::info!("SIGQUIT: handing the listeners to the new process");
        match tokio::task::spawn_blocking(move || handover.send()).await {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                tracing::error!("upgrade failed, still serving: {e}");
                false
            }
            Err(e) => {
                tracing::error!("upgrade failed, still serving: {e}");
                false
            }
        }
    }

    /// Waits (up to the grace period) for the guard's connections to close.
    async fn drained(&self) {
        let drained = tokio::time::timeout(self.grace, async {
            while self.open.count() > 0 || self.in_flight.get() > 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                connections = self.open.count(),
                in_flight = self.in_flight.get(),
                "stop grace period over: cutting the rest"
            );
        }
    }
}

#[async_trait]
impl ShutdownSignalWatch for Drain {
    async fn recv(&self) -> ShutdownSignal {
        let Some(mut signals) = self.signals.lock().take() else {
            return std::future::pending().await;
        };
        loop {
            tokio::select! {
                _ = signals.interrupt.recv() => return ShutdownSignal::FastShutdown,
                _ = signals.term.recv() => break,
                _ = signals.quit.recv() => if self.hand_over().await { break },
            }
        }
        tracing::info!(grace = ?self.grace, "no new connections; open ones finish their requests");
        let _ = self.closing.send(true);
        if self.guarded {
            self.drained().await;
        }
        ShutdownSignal::GracefulTerminate
    }
}
