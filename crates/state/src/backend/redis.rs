//! The connection to a shared Redis: a small pool of multiplexed connections
//! (reconnecting `ConnectionManager`s, or cluster connections) driven by a
//! runtime of its own, a health probe that notices outages and returns (and,
//! behind Sentinel, follows a failover to the new master), and a call with a
//! hard bound so that no request waits on a dead Redis.
//!
//! A call is handed to the backend's runtime and its answer awaited for at
//! most `command_timeout`. The request path awaits it ([`RedisBackend::call_async`]),
//! so a worker thread serves other requests meanwhile; the synchronous
//! [`RedisBackend::call`] (admin API, maintenance, the state traits' blocking
//! methods) waits with `block_in_place` inside a multi-threaded Tokio worker.

use super::config::{RedisTopology, SharedStateConfig};
use super::metrics::BackendMetrics;
use parking_lot::RwLock;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, ErrorKind, Pipeline, RedisError, RedisFuture, ServerErrorKind, Value};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How often a down backend is probed (and an up one checked while idle).
const PROBE_EVERY: Duration = Duration::from_millis(200);

/// Why a backend call gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// No answer within `command_timeout`.
    #[error("no answer from Redis within {0:?}")]
    Timeout(Duration),
    /// The connection is down (refused, reset, not yet re-established).
    #[error("Redis unreachable: {0}")]
    Connection(String),
    /// Redis answered with an error (wrong type, script error, refused auth…).
    #[error("Redis refused the call: {0}")]
    Reply(String),
    /// The backend is known to be down; the call was not attempted.
    #[error("Redis is down; not attempted")]
    Down,
}

impl BackendError {
    fn kind(&self) -> &'static str {
        match self {
            BackendError::Timeout(_) => "timeout",
            BackendError::Connection(_) | BackendError::Down => "connection",
            BackendError::Reply(_) => "reply",
        }
    }

    /// Whether the error says the backend is unreachable (as opposed to one bad key).
    pub fn is_outage(&self) -> bool {
        !matches!(self, BackendError::Reply(_))
    }
}

impl From<RedisError> for BackendError {
    fn from(e: RedisError) -> Self {
        let outage = e.is_io_error()
            || e.is_connection_dropped()
            || e.is_connection_refusal()
            || e.is_timeout()
            || e.is_unrecoverable_error()
            // A demoted master (after a failover) refuses writes: look for the new one.
            || matches!(
                e.kind(),
                ErrorKind::Server(
                    ServerErrorKind::ClusterDown
                        | ServerErrorKind::MasterDown
                        | ServerErrorKind::ReadOnly
                ) | ErrorKind::ClusterConnectionNotFound
            );
        if outage {
            BackendError::Connection(e.to_string())
        } else {
            BackendError::Reply(e.to_string())
        }
    }
}

/// One multiplexed connection of either topology.
#[derive(Clone)]
pub enum Conn {
    /// Standalone or Sentinel-resolved master.
    Single(ConnectionManager),
    /// A cluster; commands are routed by key slot.
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// Up/down as last observed; logs and reports only transitions.
#[derive(Debug)]
struct Health {
    up: AtomicBool,
    metrics: BackendMetrics,
    target: String,
}

impl Health {
    fn report(&self, up: bool, why: Option<&BackendError>) {
        if self.up.swap(up, Ordering::AcqRel) == up {
            return;
        }
        self.metrics.set_up(up);
        match (up, why) {
            (true, _) => {
                tracing::info!(target = %self.target, "state backend: Redis reachable again")
            }
            (false, Some(e)) => {
                tracing::warn!(target = %self.target, error = %e, "state backend: Redis unreachable; local fallback in force")
            }
            (false, None) => {
                tracing::warn!(target = %self.target, "state backend: Redis unreachable; local fallback in force")
            }
        }
    }
}

/// The runtime the connections live on; shut down without blocking when dropped
/// (dropping it may happen inside another runtime).
struct OwnRuntime(Option<tokio::runtime::Runtime>);

impl Drop for OwnRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// A shared Redis, reachable through [`RedisBackend::call`].
pub struct RedisBackend {
    /// Replaced whole when Sentinel names a new master.
    pool: RwLock<Arc<[Conn]>>,
    /// Clients for change notifications (pub/sub is cluster-wide, so any node serves).
    pubsub: RwLock<Vec<redis::Client>>,
    next: AtomicUsize,
    prefix: String,
    wait: Duration,
    /// What a start-up read may take: as long as connecting may.
    start_wait: Duration,
    health: Arc<Health>,
    runtime: OwnRuntime,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("target", &self.health.target)
            .field("prefix", &self.prefix)
            .field("up", &self.is_up())
            .finish()
    }
}

impl RedisBackend {
    /// Connects as `config` says (`backend = "redis"`); a wrong address, a
    /// refused password or an unreachable server is an error naming the target.
    pub fn connect(
        config: &SharedStateConfig,
        metrics: BackendMetrics,
    ) -> Result<Arc<Self>, String> {
        config.validate()?;
        let topology = config.topology()?;
        let target = describe(&topology);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("execgate-redis")
            .enable_all()
            .build()
            .map_err(|e| format!("state: cannot start the Redis runtime: {e}"))?;
        let connect_timeout = config.connect_timeout.get();
        let wait = config.command_timeout.get();
        let size = config.pool_size;
        // A thread of its own: the caller may itself be inside a runtime.
        let (pool, pubsub, master) = std::thread::scope(|s| {
            s.spawn(|| {
                runtime.block_on(async {
                    tokio::time::timeout(
                        connect_timeout,
                        open_pool(&topology, size, connect_timeout),
                    )
                    .await
                    .map_err(|_| format!("no answer within {connect_timeout:?}"))?
                })
            })
            .join()
            .unwrap_or_else(|_| Err("the connecting thread panicked".into()))
        })
        .map_err(|e| format!("state: cannot connect to Redis at {target}: {e}"))?;
        metrics.set_up(true);
        let health = Arc::new(Health {
            up: AtomicBool::new(true),
            metrics,
            target,
        });
        let backend = Arc::new(Self {
            pool: RwLock::new(pool.into()),
            pubsub: RwLock::new(pubsub),
            next: AtomicUsize::new(0),
            prefix: config.key_prefix.clone(),
            wait,
            start_wait: connect_timeout,
            health,
            runtime: OwnRuntime(Some(runtime)),
        });
        backend.spawn_probe(master.map(|m| (m, size, connect_timeout)));
        Ok(backend)
    }

    /// The deployment's key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The bound on one call.
    pub fn wait(&self) -> Duration {
        self.wait
    }

    /// Whether the last call or probe reached Redis.
    pub fn is_up(&self) -> bool {
        self.health.up.load(Ordering::Acquire)
    }

    /// The backend metrics (for the fallback counters).
    pub fn metrics(&self) -> &BackendMetrics {
        &self.health.metrics
    }

    /// Clients to subscribe with, to be tried in turn.
    pub(crate) fn pubsub_clients(&self) -> Vec<redis::Client> {
        self.pubsub.read().clone()
    }

    /// Runs a background task on the backend's runtime.
    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        if let Some(rt) = &self.runtime.0 {
            rt.spawn(task);
        }
    }

    /// Marks the backend up or down from a background task's observation.
    pub(crate) fn observed(&self, up: bool, why: Option<&BackendError>) {
        self.health.report(up, why);
    }

    /// A connection of the pool, round robin.
    pub(crate) fn conn(&self) -> Conn {
        let pool = self.pool.read();
        let i = self.next.fetch_add(1, Ordering::Relaxed) % pool.len();
        pool[i].clone()
    }

    /// Runs `op` on the backend's runtime and waits at most `command_timeout`
    /// for its answer; a known outage fails at once (the probe notices the return).
    pub fn call<T, F, Fut>(&self, op: F) -> Result<T, BackendError>
    where
        T: Send + 'static,
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = Result<T, RedisError>> + Send + 'static,
    {
        self.call_within(self.wait, op)
    }

    /// [`call`](Self::call) bounded by the connect timeout, for reads made
    /// while the gateway starts: the command timeout is sized for the request
    /// path, and a start-up snapshot that outlasts it on a busy server would
    /// stop the gateway from starting at all.
    pub fn call_at_start<T, F, Fut>(&self, op: F) -> Result<T, BackendError>
    where
        T: Send + 'static,
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = Result<T, RedisError>> + Send + 'static,
    {
        self.call_within(self.start_wait.max(self.wait), op)
    }

    fn call_within<T, F, Fut>(&self, wait: Duration, op: F) -> Result<T, BackendError>
    where
        T: Send + 'static,
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = Result<T, RedisError>> + Send + 'static,
    {
        if !self.is_up() {
            return Err(BackendError::Down);
        }
        let _waiting = self.health.metrics.waiting();
        let started = Instant::now();
        let result = self.bounded(wait, op(self.conn()));
        self.settle(started, &result);
        result
    }

    /// [`call`](Self::call) without holding the caller's thread: the answer is
    /// awaited, so the caller's runtime serves other tasks meanwhile. The
    /// caller needs no Tokio timer of its own; the bound is kept on the backend's runtime.
    pub async fn call_async<T, F, Fut>(&self, op: F) -> Result<T, BackendError>
    where
        T: Send + 'static,
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = Result<T, RedisError>> + Send + 'static,
    {
        if !self.is_up() {
            return Err(BackendError::Down);
        }
        let Some(rt) = &self.runtime.0 else {
            return Err(BackendError::Down);
        };
        let _waiting = self.health.metrics.waiting();
        let started = Instant::now();
        let wait = self.wait;
        let fut = op(self.conn());
        let (tx, rx) = tokio::sync::oneshot::channel();
        rt.spawn(async move {
            let _ = tx.send(bounded_answer(wait, fut).await);
        });
        // A dropped sender means the backend's runtime is shutting down.
        let result = rx.await.unwrap_or(Err(BackendError::Down));
        self.settle(started, &result);
        result
    }

    /// Records a call's latency and error, and marks the backend down on an outage.
    fn settle<T>(&self, started: Instant, result: &Result<T, BackendError>) {
        self.health.metrics.observe(started.elapsed());
        if let Err(e) = result {
            self.health.metrics.error(e.kind());
            if e.is_outage() {
                self.health.report(false, Some(e));
            }
        }
    }

    fn bounded<T, Fut>(&self, wait: Duration, fut: Fut) -> Result<T, BackendError>
    where
        T: Send + 'static,
        Fut: Future<Output = Result<T, RedisError>> + Send + 'static,
    {
        let Some(rt) = &self.runtime.0 else {
            return Err(BackendError::Down);
        };
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rt.spawn(async move {
            let _ = tx.send(bounded_answer(wait, fut).await);
        });
        // The task answers within `wait`; the margin covers a busy scheduler.
        let receive = || {
            rx.recv_timeout(wait + wait / 2)
                .unwrap_or(Err(BackendError::Timeout(wait)))
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(receive)
            }
            _ => receive(),
        }
    }

    /// Pings every [`PROBE_EVERY`] so that an outage ends without waiting for
    /// traffic; behind Sentinel, first asks which server is the master and moves
    /// the pool there when it changed.
    fn spawn_probe(self: &Arc<Self>, mut master: Option<(Master, usize, Duration)>) {
        let Some(rt) = &self.runtime.0 else { return };
        let weak = Arc::downgrade(self);
        let health = self.health.clone();
        let wait = self.wait;
        rt.spawn(async move {
            loop {
                tokio::time::sleep(PROBE_EVERY).await;
                if let Some((m, size, connect_timeout)) = &mut master {
                    let Some(backend) = weak.upgrade() else {
                        return;
                    };
                    m.follow(&backend, *size, *connect_timeout).await;
                }
                let Some(backend) = weak.upgrade() else {
                    return;
                };
                let mut conn = backend.conn();
                drop(backend);
                let ping = tokio::time::timeout(
                    wait.max(Duration::from_millis(100)),
                    redis::cmd("PING").query_async::<String>(&mut conn),
                )
                .await;
                match ping {
                    Ok(Ok(_)) => health.report(true, None),
                    Ok(Err(e)) => health.report(false, Some(&BackendError::from(e))),
                    Err(_) => health.report(false, Some(&BackendError::Timeout(wait))),
                }
            }
        });
    }
}

/// The master a Sentinel deployment serves from, as last resolved.
struct Master {
    sentinel: redis::sentinel::SentinelClient,
    address: String,
}

impl Master {
    /// Asks the sentinels for the master; when it moved, connects a new pool to
    /// it and swaps it in (one log line). A sentinel that does not answer leaves
    /// everything as it is until the next probe.
    async fn follow(&mut self, backend: &RedisBackend, size: usize, connect_timeout: Duration) {
        let resolved =
            tokio::time::timeout(connect_timeout, self.sentinel.async_get_client()).await;
        let client = match resolved {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "state backend: no master from the sentinels");
                return;
            }
            Err(_) => return,
        };
        let address = client.get_connection_info().addr().to_string();
        if address == self.address {
            return;
        }
        let pool =
            tokio::time::timeout(connect_timeout, single_pool(&client, size, connect_timeout))
                .await;
        match pool {
            Ok(Ok(pool)) => {
                tracing::info!(from = %self.address, to = %address, "state backend: Sentinel failover followed");
                *backend.pool.write() = pool.into();
                *backend.pubsub.write() = vec![client];
                self.address = address;
            }
            Ok(Err(e)) => {
                tracing::warn!(master = %address, error = %e, "state backend: new master not reachable yet")
            }
            Err(_) => {}
        }
    }
}

fn describe(topology: &RedisTopology) -> String {
    let hide = |u: &String| match (u.find("://"), u.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}***{}", &u[..s + 3], &u[at..]),
        _ => u.clone(),
    };
    match topology {
        RedisTopology::Standalone(u) => hide(u),
        RedisTopology::Cluster(nodes) => {
            format!(
                "cluster {}",
                nodes.iter().map(hide).collect::<Vec<_>>().join(",")
            )
        }
        RedisTopology::Sentinel {
            sentinels,
            service_name,
        } => format!(
            "sentinel {} ({service_name})",
            sentinels.iter().map(hide).collect::<Vec<_>>().join(",")
        ),
    }
}

type Pool = (Vec<Conn>, Vec<redis::Client>, Option<Master>);

async fn open_pool(
    topology: &RedisTopology,
    size: usize,
    connect_timeout: Duration,
) -> Result<Pool, String> {
    match topology {
        RedisTopology::Standalone(url) => {
            let client = redis::Client::open(url.as_str()).map_err(|e| e.to_string())?;
            let pool = single_pool(&client, size, connect_timeout).await?;
            Ok((pool, vec![client], None))
        }
        RedisTopology::Cluster(nodes) => {
            let pubsub = nodes
                .iter()
                .map(|node| redis::Client::open(node.as_str()).map_err(|e| e.to_string()))
                .collect::<Result<Vec<_>, _>>()?;
            let client = redis::cluster::ClusterClientBuilder::new(nodes.clone())
                .connection_timeout(connect_timeout)
                .build()
                .map_err(|e| e.to_string())?;
            let mut pool = Vec::with_capacity(size);
            for _ in 0..size {
                let c = client
                    .get_async_connection()
                    .await
                    .map_err(|e| e.to_string())?;
                pool.push(Conn::Cluster(c));
            }
            ping_all(&mut pool).await?;
            Ok((pool, pubsub, None))
        }
        RedisTopology::Sentinel {
            sentinels,
            service_name,
        } => {
            let mut sentinel = redis::sentinel::SentinelClient::build(
                sentinels.clone(),
                service_name.clone(),
                None,
                redis::sentinel::SentinelServerType::Master,
            )
            .map_err(|e| e.to_string())?;
            let client = sentinel
                .async_get_client()
                .await
                .map_err(|e| e.to_string())?;
            let pool = single_pool(&client, size, connect_timeout).await?;
            let address = client.get_connection_info().addr().to_string();
            Ok((pool, vec![client], Some(Master { sentinel, address })))
        }
    }
}

/// `size` reconnecting connections to one server, each checked with a PING.
async fn single_pool(
    client: &redis::Client,
    size: usize,
    connect_timeout: Duration,
) -> Result<Vec<Conn>, String> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(connect_timeout))
        .set_response_timeout(Some(connect_timeout))
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_secs(2));
    let mut pool = Vec::with_capacity(size);
    for _ in 0..size {
        let c = ConnectionManager::new_with_config(client.clone(), config.clone())
            .await
            .map_err(|e| e.to_string())?;
        pool.push(Conn::Single(c));
    }
    ping_all(&mut pool).await?;
    Ok(pool)
}

/// A server that accepts connections but refuses commands (auth, wrong
/// protocol) is found now, not on the first request.
async fn ping_all(pool: &mut [Conn]) -> Result<(), String> {
    for conn in pool {
        redis::cmd("PING")
            .query_async::<String>(conn)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// `fut`'s answer, or a timeout after `wait`.
async fn bounded_answer<T>(
    wait: Duration,
    fut: impl Future<Output = Result<T, RedisError>>,
) -> Result<T, BackendError> {
    match tokio::time::timeout(wait, fut).await {
        Ok(r) => r.map_err(BackendError::from),
        Err(_) => Err(BackendError::Timeout(wait)),
    }
}
