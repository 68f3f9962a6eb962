//! Assembles and runs the gateway: shared state, rules, the Pingora proxy
//! (behind the accept guard) and the admin listener.
//!
//! `start` returns once every listener is bound, so tests run the real
//! gateway in-process on ephemeral ports and `stop` it when done.

use crate::accept::{self, GuardLimits, OpenConnections};
use crate::admin;
use crate::config::Settings;
use crate::console::top::TopClients;
use crate::gateway::{Gateway, Policy, Shared, upstream};
use crate::metrics::Metrics;
use crate::reload::{self, ConfigReloader};
use crate::rules::{self, Reloader};
use crate::stop::{Drain, Stop};
use crate::tls::CertStore;
use crate::upgrade::Handover;
use async_trait::async_trait;
use execgate_capacity::Capacity;
use execgate_core::{Clock, Live, SystemClock};
use execgate_state::{
    AdminState, BackendKind, BackendMetrics, BlockStore, EventLog, MemoryBlockStore,
    MemoryRateLimiter, RateLimiter, RedisBackend, RedisBlockStore, RedisRateLimiter, Reputation,
    SharedEvents, SharedStandings, StateMetrics,
};
use pingora_core::server::configuration::ServerConf;
use pingora_core::server::{RunArgs, Server, ShutdownSignal, ShutdownSignalWatch};
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio::sync::{oneshot, watch};

/// How the gateway is started.
pub struct Options {
    /// Time source for limits, blocks and reputation (tests inject a `ManualClock`).
    pub clock: Arc<dyn Clock>,
    /// Stop on SIGTERM/SIGINT (the CLI) rather than only through `Running::stop` (tests).
    pub unix_signals: bool,
    /// Reload rules on SIGHUP, and on file changes when `[rules] watch` is on.
    pub reload_triggers: bool,
    /// Take the listeners of a running gateway over `[server] upgrade_socket`
    /// instead of binding them (`execgate gateway --upgrade`).
    pub upgrade: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            unix_signals: true,
            reload_triggers: true,
            upgrade: false,
        }
    }
}

/// A running gateway.
pub struct Running {
    /// The public proxy address.
    pub proxy_addr: SocketAddr,
    /// The admin address.
    pub admin_addr: SocketAddr,
    /// The blocklist, for tests and embedding.
    pub blocks: Arc<dyn BlockStore>,
    /// Metrics.
    pub metrics: Metrics,
    stop_proxy: Option<oneshot::Sender<()>>,
    proxy_thread: Option<JoinHandle<()>>,
    stop_guard: Option<Arc<watch::Sender<bool>>>,
    /// The accept guard and the proxy sessions it hands its connections to.
    proxy_runtime: Option<tokio::runtime::Runtime>,
    side: Option<tokio::runtime::Runtime>,
    _watchers: Vec<notify::RecommendedWatcher>,
}

/// The shared state every part of a running gateway uses.
struct Parts {
    metrics: Metrics,
    reloader: Reloader,
    config: ConfigReloader,
    /// The memory limiter, whose idle keys the maintenance task evicts (Redis keys expire).
    memory_limiter: Option<Arc<MemoryRateLimiter>>,
    blocks: Arc<dyn BlockStore>,
    shared: Shared,
    state_admin: AdminState,
}

/// Loads rules and builds limiter, blocklist, reputation and metrics.
fn parts(settings: &Settings, clock: &Arc<dyn Clock>) -> Result<Parts, String> {
    let metrics = Metrics::new().map_err(|e| format!("metrics: {e}"))?;
    let rules = rules::load(&settings.rules)
        .map_err(|errs| format!("rules not loaded:\n  {}", errs.join("\n  ")))?;
    let live = Arc::new(Live::new(rules));
    let reloader = Reloader::new(live.clone(), settings.rules.clone(), metrics.clone());
    let state_metrics =
        StateMetrics::register(&metrics.registry).map_err(|e| format!("metrics: {e}"))?;
    let state = match settings.state.backend {
        BackendKind::Memory => memory_state(settings, clock, &state_metrics)?,
        BackendKind::Redis => redis_state(settings, clock, &metrics, &state_metrics)?,
    };
    let shared_backend = state.shared.clone();
    let mut events = EventLog::new(EVENT_LOG_CAPACITY, clock.clone());
    if let Some(backend) = &state.shared {
        events = events.with_shared(SharedEvents::new(backend.clone(), EVENT_LOG_CAPACITY));
    }
    let events = Arc::new(events);
    let mut engine = Reputation::new(
        settings.reputation.clone(),
        clock.clone(),
        state.blocks.clone(),
        events.clone(),
    )
    .with_metrics(state_metrics);
    let top = Arc::new(TopClients::new(
        settings.reputation.half_life.get(),
        clock.clone(),
    ));
    engine = engine.with_score_observer(score_observer(&top));
    if let Some(backend) = state.shared {
        engine = engine.with_shared(SharedStandings::new(
            backend,
            settings.state.reputation.on_error,
        ));
    }
    let reputation = Arc::new(engine);
    let policy = Arc::new(Live::new(Policy::new(settings, state.limiter.clone())?));
    let state_admin = AdminState::new(
        state.blocks.clone(),
        state.limiter.clone(),
        reputation.clone(),
        events,
        settings.admin_tokens.clone(),
    )
    .with_tier_lookup(tier_lookup(policy.clone()));
    let config = ConfigReloader::new(
        settings,
        policy.clone(),
        state.limiter.clone(),
        reloader.clone(),
    );
    let shared = Shared {
        policy,
        blocks: state.blocks.clone(),
        rules: live,
        metrics: metrics.clone(),
        reputation,
        top,
        capacity: settings
            .capacity
            .as_ref()
            .map(|c| Capacity::build(c, &metrics.registry, clock.clone(), shared_backend))
            .transpose()?,
    };
    Ok(Parts {
        metrics,
        reloader,
        config,
        memory_limiter: state.memory_limiter,
        blocks: state.blocks,
        shared,
        state_admin,
    })
}

/// The rate limiter and blocklist of the configured backend.
struct State {
    limiter: Arc<dyn RateLimiter>,
    /// The memory limiter, when it is the one (its idle keys are evicted).
    memory_limiter: Option<Arc<MemoryRateLimiter>>,
    blocks: Arc<dyn BlockStore>,
    /// The Redis every gateway shares (reputation standings, events).
    shared: Option<Arc<RedisBackend>>,
}

/// In-process limits; the blocklist in memory, persisted to its file if one is set.
fn memory_state(
    settings: &Settings,
    clock: &Arc<dyn Clock>,
    state_metrics: &StateMetrics,
) -> Result<State, String> {
    let memory = Arc::new(
        MemoryRateLimiter::new(clock.clone(), settings.limits.max_tracked_clients)
            .with_metrics(state_metrics.clone()),
    );
    if let Some(dir) = settings.blocklist.path.as_deref().and_then(|p| p.parent()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("blocklist.path: cannot create {}: {e}", dir.display()))?;
    }
    let blocks: Arc<dyn BlockStore> = Arc::new(
        MemoryBlockStore::open(settings.blocklist.path.as_deref(), clock.clone())
            .map_err(|e| format!("blocklist: {e}"))?
            .with_metrics(state_metrics.clone()),
    );
    Ok(State {
        limiter: memory.clone(),
        memory_limiter: Some(memory),
        blocks,
        shared: None,
    })
}

/// Limits, blocklist and reputation standings shared by every gateway on one Redis.
fn redis_state(
    settings: &Settings,
    clock: &Arc<dyn Clock>,
    metrics: &Metrics,
    state_metrics: &StateMetrics,
) -> Result<State, String> {
    let backend_metrics =
        BackendMetrics::register(&metrics.registry).map_err(|e| format!("metrics: {e}"))?;
    let backend = RedisBackend::connect(&settings.state, backend_metrics)?;
    let limiter: Arc<dyn RateLimiter> = Arc::new(
        RedisRateLimiter::new(
            backend.clone(),
            clock.clone(),
            settings.state.limits.on_error,
            settings.state.local_share,
        )
        .with_metrics(state_metrics.clone()),
    );
    let blocks: Arc<dyn BlockStore> = Arc::new(RedisBlockStore::open(
        backend.clone(),
        clock.clone(),
        settings.state.blocklist.on_error,
        Some(state_metrics.clone()),
    )?);
    Ok(State {
        limiter,
        memory_limiter: None,
        blocks,
        shared: Some(backend),
    })
}

/// Feeds every score the reputation computes to the console's top clients.
fn score_observer(top: &Arc<TopClients>) -> execgate_state::ScoreObserver {
    let top = top.clone();
    Arc::new(move |client, score, at| top.score(client, score, at))
}

/// Starts everything described by `settings`; returns once all listeners are bound.
pub fn start(settings: &Settings, opts: Options) -> Result<Running, String> {
    let parts = parts(settings, &opts.clock)?;
    let tls = settings
        .tls
        .clone()
        .map(|t| CertStore::open(t, &parts.metrics.registry))
        .transpose()?;
    // Before any listener: a SIGHUP that finds no handler ends the process.
    let watchers = if opts.reload_triggers {
        start_reload_triggers(settings, &parts, tls.as_ref())
    } else {
        Vec::new()
    };
    let probe = upstream::probe(&settings.upstream, settings.dialect.kind.as_slice()[0]);
    let (upstreams, health) = upstream::build(&settings.upstream, probe.as_ref(), &parts.metrics)?;
    let capacity = parts.shared.capacity.clone();
    let top = parts.shared.top.clone();
    let gateway = Gateway::new(settings, parts.shared, upstreams.clone())?;
    let scorer = gateway.unpolled_scorer(settings.upstream.addresses.clone());
    let side = side_runtime()?;
    let proxy_runtime = proxy_runtime(settings)?;
    // Caught before any listener opens: a signal that comes while the gateway
    // starts waits for it instead of ending the process.
    let signals = opts
        .unix_signals
        .then(|| {
            let _runtime = side.enter();
            crate::stop::Signals::catch()
        })
        .transpose()?;
    let inherited = opts.upgrade.then(|| inherit(settings)).transpose()?;
    let (inherited, old_process) = match inherited {
        Some(i) => (Some((i.proxy, i.admin)), Some(i.old)),
        None => (None, None),
    };
    let mut listeners = Listeners::bind(settings, &side, &proxy_runtime, inherited)?;
    let (stop_guard, guard_stopping) = watch::channel(false);
    let stop_guard = Arc::new(stop_guard);
    let open = OpenConnections::default();
    let stop = stop_policy(
        settings,
        signals,
        &parts.metrics,
        &stop_guard,
        &mut listeners,
        &open,
    );
    let hosted = host_proxy(
        settings,
        gateway,
        &mut listeners,
        &proxy_runtime,
        &parts.metrics,
        (guard_stopping.clone(), open),
    );
    let listening = hosted.as_ref().map(|(_, addr)| *addr);
    let (stop_proxy, proxy_thread) = run_proxy(settings, hosted, health, tls.clone(), stop)?;
    if let Some(addr) = listening {
        wait_until_listening(addr)?;
    }
    serve_admin(
        &side,
        listeners.admin,
        guard_stopping,
        admin::GatewayAdmin {
            metrics: parts.metrics.clone(),
            reloader: parts.reloader.clone(),
            config: parts.config.clone(),
            upstreams,
            state_admin: parts.state_admin,
            capacity,
            top,
        },
    );
    spawn_background(&side, settings, &parts.blocks, parts.memory_limiter, scorer);
    let (proxy_addr, admin_addr) = (listeners.proxy_addr, listeners.admin_addr);
    tracing::info!(%proxy_addr, %admin_addr, "execgate gateway listening");
    if let Some(old) = old_process {
        // The old process keeps serving if this fails; both then serve.
        match old.confirm() {
            Ok(()) => tracing::info!("upgrade: the old process stops accepting and drains"),
            Err(e) => tracing::warn!("upgrade: {e}"),
        }
    }
    Ok(Running {
        proxy_addr,
        admin_addr,
        blocks: parts.blocks,
        metrics: parts.metrics,
        stop_proxy: Some(stop_proxy),
        proxy_thread: Some(proxy_thread),
        stop_guard: Some(stop_guard),
        proxy_runtime: Some(proxy_runtime),
        side: Some(side),
        _watchers: watchers,
    })
}

/// How the proxy is told to stop: by signal (the CLI), draining on SIGTERM, or
/// through `Running::stop` (tests, embedding).
fn stop_policy(
    settings: &Settings,
    signals: Option<crate::stop::Signals>,
    metrics: &Metrics,
    stop_guard: &Arc<watch::Sender<bool>>,
    listeners: &mut Listeners,
    open: &OpenConnections,
) -> Stop {
    let Some(signals) = signals else {
        return Stop::Channel;
    };
    Stop::Signals(Drain {
        closing: stop_guard.clone(),
        in_flight: metrics.in_flight.clone(),
        open: open.clone(),
        grace: settings.server.stop_grace,
        guarded: listeners.public.is_some(),
        upgrade: listeners.handover.take().map(Arc::new),
        signals: parking_lot::Mutex::new(Some(signals)),
    })
}

/// The listeners of the running gateway, handed over on its SIGQUIT; they
/// must be the addresses this config names (port 0 takes any).
fn inherit(settings: &Settings) -> Result<crate::upgrade::Inherited, String> {
    let socket = settings
        .server
        .upgrade_socket
        .as_deref()
        .ok_or("--upgrade needs [server] upgrade_socket (the same as the running gateway's)")?;
    let inherited = crate::upgrade::receive(socket)?;
    for (listener, wanted, key) in [
        (&inherited.proxy, settings.server.listen, "server.listen"),
        (
            &inherited.admin,
            settings.server.admin_listen,
            "server.admin_listen",
        ),
    ] {
        let got = listener.local_addr().map_err(|e| e.to_string())?;
        if wanted.port() != 0 && got != wanted {
            return Err(format!(
                "{key} {wanted}: the running gateway handed over {got}; an upgrade keeps the addresses"
            ));
        }
    }
    Ok(inherited)
}

/// With the accept guard, the proxy runs on its runtime, on the clients' own
/// sockets, and nothing is left for Pingora to host; without it, Pingora
/// listens itself: the gateway and the address it is to host are returned.
fn host_proxy(
    settings: &Settings,
    gateway: Gateway,
    listeners: &mut Listeners,
    proxy_runtime: &tokio::runtime::Runtime,
    metrics: &Metrics,
    (guard_stopping, open): (watch::Receiver<bool>, OpenConnections),
) -> Option<(Gateway, SocketAddr)> {
    let Some(public) = listeners.public.take() else {
        return Some((gateway, listeners.proxy_addr));
    };
    let app = Arc::new(pingora_proxy::http_proxy(
        &Arc::new(proxy_conf(settings)),
        gateway,
    ));
    proxy_runtime.spawn(accept::serve(
        public,
        app,
        guard_limits(settings),
        settings.identity.trusted_proxies.clone(),
        metrics.requests.clone(),
        guard_stopping,
        open,
    ));
    None
}

/// The listeners, bound before anything is served.
struct Listeners {
    /// The admin listener.
    admin: tokio::net::TcpListener,
    admin_addr: SocketAddr,
    /// The public listener the accept guard owns, when it fronts the proxy.
    public: Option<tokio::net::TcpListener>,
    /// The address clients reach (Pingora binds it itself without the guard).
    proxy_addr: SocketAddr,
    /// Copies of both listeners for a new process (`[server] upgrade_socket`).
    handover: Option<Handover>,
}

impl Listeners {
    /// Binds the configured addresses, or takes the `inherited` (proxy,
    /// admin) listeners of the process being upgraded.
    fn bind(
        settings: &Settings,
        side: &tokio::runtime::Runtime,
        proxy: &tokio::runtime::Runtime,
        inherited: Option<(std::net::TcpListener, std::net::TcpListener)>,
    ) -> Result<Self, String> {
        let (inherited_proxy, inherited_admin) = inherited.unzip();
        let bind = |runtime: &tokio::runtime::Runtime,
                    taken: Option<std::net::TcpListener>,
                    addr: SocketAddr,
                    key: &str| {
            match taken {
                Some(listener) => listener.set_nonblocking(true).and_then(|()| {
                    let _entered = runtime.enter();
                    tokio::net::TcpListener::from_std(listener)
                }),
                None => runtime.block_on(tokio::net::TcpListener::bind(addr)),
            }
            .map_err(|e| format!("{key} {addr}: {e}"))
        };
        let admin = bind(
            side,
            inherited_admin,
            settings.server.admin_listen,
            "server.admin_listen",
        )?;
        let admin_addr = admin.local_addr().map_err(|e| e.to_string())?;
        let (public, proxy_addr) = if settings.server.accept_guard {
            let public = bind(
                proxy,
                inherited_proxy,
                settings.server.listen,
                "server.listen",
            )?;
            let addr = public.local_addr().map_err(|e| e.to_string())?;
            (Some(public), addr)
        } else {
            (None, free_port(settings.server.listen)?)
        };
        let handover = match (&settings.server.upgrade_socket, &public) {
            (Some(socket), Some(public)) => Some(Handover::new(socket, public, &admin)?),
            _ => None,
        };
        Ok(Self {
            admin,
            admin_addr,
            public,
            proxy_addr,
            handover,
        })
    }
}

/// The runtime of the proxy sessions (and of the accept guard that hands them over).
fn proxy_runtime(settings: &Settings) -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(settings.server.threads)
        .thread_name("execgate-proxy")
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))
}

/// The runtime of everything beside the proxy: admin API, background tasks.
fn side_runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("execgate-side")
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))
}

/// The tasks that run on their own: blocklist and limiter upkeep, and the
/// scorer of runs nobody reads.
fn spawn_background(
    side: &tokio::runtime::Runtime,
    settings: &Settings,
    blocks: &Arc<dyn BlockStore>,
    memory_limiter: Option<Arc<MemoryRateLimiter>>,
    scorer: Option<crate::gateway::unpolled::Scorer>,
) {
    {
        // Expired decisions leave memory (and reach stream followers as
        // deletions) without waiting for a pull; idle limiter keys go too.
        let _runtime = side.enter();
        execgate_state::spawn_maintenance(
            blocks.clone(),
            memory_limiter,
            settings.blocklist.purge_interval.get(),
        );
    }
    if let Some(scorer) = scorer {
        side.spawn(scorer.run());
    }
}

/// Serves the admin API on `listener` until `stopping` turns true (a graceful
/// stop or an upgrade: the new process serves it on the same socket).
fn serve_admin(
    side: &tokio::runtime::Runtime,
    listener: tokio::net::TcpListener,
    mut stopping: watch::Receiver<bool>,
    state: admin::GatewayAdmin,
) {
    let admin = admin::router(state);
    side.spawn(async move {
        // The caller's address keys the admin API's failed-login limit.
        let admin = admin.into_make_service_with_connect_info::<SocketAddr>();
        let stopped = async move {
            let _ = stopping.wait_for(|stop| *stop).await;
        };
        if let Err(e) = axum::serve(listener, admin)
            .with_graceful_shutdown(stopped)
            .await
        {
            tracing::error!("admin listener failed: {e}");
        }
    });
}

fn guard_limits(settings: &Settings) -> GuardLimits {
    GuardLimits {
        header_timeout: settings.server.header_timeout,
        max_header_bytes: settings.server.max_header_bytes,
        max_connections: settings.server.max_connections,
        max_connections_per_ip: settings.server.max_connections_per_ip,
        accept_rate_per_ip: settings.server.accept_rate_per_ip,
        max_body: settings
            .tiers
            .values()
            .map(|t| t.body_max.bytes())
            .max()
            .unwrap_or(0),
    }
}

/// Security events kept for `GET /v1/events`.
const EVENT_LOG_CAPACITY: usize = 10_000;

/// Names a client's tier for the admin API from the policy in force.
fn tier_lookup(policy: Arc<Live<Policy>>) -> execgate_state::admin::TierLookup {
    Arc::new(move |key: &execgate_core::ClientKey| policy.load().tier_of_key(key))
}

/// SIGHUP always reloads the whole config, rules included, and the TLS
/// certificates, which also reload when their files change; the rule file
/// watcher runs when `[rules] watch` is on.
fn start_reload_triggers(
    settings: &Settings,
    parts: &Parts,
    tls: Option<&Arc<CertStore>>,
) -> Vec<notify::RecommendedWatcher> {
    let mut watchers = Vec::new();
    if let Some(store) = tls {
        if let Err(e) = crate::tls::reload_on_sighup(store.clone()) {
            tracing::warn!("SIGHUP certificate reload unavailable: {e}");
        }
        match crate::tls::watch(store.clone()) {
            Ok(watcher) => watchers.push(watcher),
            Err(e) => tracing::warn!("certificate file watching unavailable: {e}"),
        }
    }
    if let Err(e) = reload::on_sighup(parts.config.clone()) {
        tracing::warn!("SIGHUP reload unavailable: {e}");
    }
    if settings.rules.watch {
        match rules::watch(parts.reloader.clone()) {
            Ok(watcher) => watchers.push(watcher),
            Err(e) => tracing::warn!("rule file watching unavailable: {e}"),
        }
    }
    watchers
}

/// Stops Pingora when told to through a channel (used instead of Unix signals).
struct ChannelSignal(parking_lot::Mutex<Option<oneshot::Receiver<()>>>);

#[async_trait]
impl ShutdownSignalWatch for ChannelSignal {
    async fn recv(&self) -> ShutdownSignal {
        let rx = self.0.lock().take();
        match rx {
            Some(rx) => {
                let _ = rx.await;
            }
            None => std::future::pending::<()>().await,
        }
        ShutdownSignal::FastShutdown
    }
}

type ProxyHandle = (oneshot::Sender<()>, JoinHandle<()>);

/// Runs Pingora on its own thread: the executors' health checks, and the
/// proxy listening on `hosted`'s address when no accept guard fronts it.
fn run_proxy(
    settings: &Settings,
    hosted: Option<(Gateway, SocketAddr)>,
    health: pingora_core::services::background::GenBackgroundService<
        pingora_load_balancing::LoadBalancer<pingora_load_balancing::selection::RoundRobin>,
    >,
    tls: Option<Arc<CertStore>>,
    stop: Stop,
) -> Result<ProxyHandle, String> {
    let mut conf = proxy_conf(settings);
    conf.grace_period_seconds = Some(stop.pingora_grace_seconds());
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    if let Some((gateway, addr)) = hosted {
        let mut proxy = pingora_proxy::http_proxy_service(&server.configuration, gateway);
        match tls {
            Some(store) => {
                let tls = crate::tls::listener_settings(store)?;
                proxy.add_tls_with_settings(&addr.to_string(), None, tls);
            }
            None => proxy.add_tcp(&addr.to_string()),
        }
        server.add_service(proxy);
    }
    server.add_service(health);
    let (tx, rx) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("execgate-proxy".into())
        .spawn(move || {
            // Built on the thread: RunArgs is not Send.
            let args = match stop {
                Stop::Signals(drain) => RunArgs {
                    shutdown_signal: Box::new(drain),
                },
                Stop::Channel => RunArgs {
                    shutdown_signal: Box::new(ChannelSignal(parking_lot::Mutex::new(Some(rx)))),
                },
            };
            server.run(args)
        })
        .map_err(|e| format!("proxy thread: {e}"))?;
    Ok((tx, thread))
}

/// Pingora's settings for the proxy.
fn proxy_conf(settings: &Settings) -> ServerConf {
    ServerConf {
        threads: settings.server.threads,
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(1),
        ..ServerConf::default()
    }
}

/// `addr` with port 0 replaced by a port nobody listens on (Pingora binds it itself).
fn free_port(addr: SocketAddr) -> Result<SocketAddr, String> {
    if addr.port() != 0 {
        return Ok(addr);
    }
    let probe =
        std::net::TcpListener::bind(addr).map_err(|e| format!("no free port on {addr}: {e}"))?;
    probe.local_addr().map_err(|e| e.to_string())
}

fn wait_until_listening(addr: SocketAddr) -> Result<(), String> {
    for _ in 0..200 {
        if std::net::TcpStream::connect(addr).is_ok() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    Err(format!("the proxy did not start listening on {addr}"))
}

impl Running {
    /// Blocks until the proxy stops (on SIGTERM/SIGINT when started with Unix signals).
    pub fn wait(mut self) {
        if let Some(t) = self.proxy_thread.take() {
            let _ = t.join();
        }
    }

    /// Stops the proxy and the admin listener.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(tx) = self.stop_proxy.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.proxy_thread.take() {
            let _ = t.join();
        }
        if let Some(tx) = self.stop_guard.take() {
            let _ = tx.send(true);
        }
        if let Some(rt) = self.proxy_runtime.take() {
            rt.shutdown_background();
        }
        if let Some(rt) = self.side.take() {
            rt.shutdown_background();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown();
    }
}
