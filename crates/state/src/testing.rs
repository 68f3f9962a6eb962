//! Real `redis-server` instances for tests: each on a free port in a temporary
//! directory, stopped when dropped. Nothing assumes a Redis is already running.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to start listening on a loaded machine.
const START_WITHIN: Duration = Duration::from_secs(30);

/// One `redis-server` process (SIGKILLed when stopped, as a crash would).
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    extra: Vec<String>,
    /// A sentinel's config file (sentinels rewrite theirs), passed first.
    sentinel_config: Option<PathBuf>,
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

impl RedisServer {
    /// A standalone server without persistence.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// A server with extra `redis-server` arguments (`["--requirepass", "x"]`).
    pub fn start_with(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut server = Self {
            child: None,
            port: free_port(),
            dir,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            sentinel_config: None,
        };
        server.spawn();
        server
    }

    /// A replica of `master`.
    pub fn replica_of(master: &RedisServer) -> Self {
        Self::start_with(&["--replicaof", "127.0.0.1", &master.port.to_string()])
    }

    /// A sentinel watching `master` as `service` (quorum 1, a master silent for
    /// 1 s is down), so that one sentinel can fail it over.
    pub fn sentinel(master: &RedisServer, service: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("sentinel.conf");
        std::fs::write(
            &config,
            format!(
                "sentinel monitor {service} 127.0.0.1 {} 1\n\
                 sentinel down-after-milliseconds {service} 1000\n\
                 sentinel failover-timeout {service} 5000\n",
                master.port
            ),
        )
        .expect("sentinel config");
        let mut server = Self {
            child: None,
            port: free_port(),
            dir,
            extra: vec!["--sentinel".into()],
            sentinel_config: Some(config),
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let _ = std::fs::remove_file(self.log());
        // A shell holds the server and kills it when its standard input closes:
        // on `kill`, on drop, and when the test process dies without dropping
        // (a server kept in a `static`), so no redis-server outlives its test.
        let child = Command::new("sh")
            .arg("-c")
            .arg(r#""$0" "$@" & pid=$!; read _; kill -9 $pid; wait $pid"#)
            .arg(redis_server())
            .args(&self.sentinel_config)
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--save")
            .arg("")
            .arg("--appendonly")
            .arg("no")
            .arg("--logfile")
            .arg(self.log())
            .args(&self.extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server could not be started (scripts/deps.sh installs it)");
        self.child = Some(child);
        self.wait_ready();
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_WITHIN;
        loop {
            let log = std::fs::read_to_string(self.log()).unwrap_or_default();
            let ready = match self.sentinel_config {
                None => "Ready to accept connections",
                Some(_) => "+monitor master",
            };
            if log.contains(ready) {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "redis-server on port {} exited ({status}): {log}",
                    self.port
                );
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not start: {log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Its working directory (cluster config, dumps).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kills the server (as a crash would); `restart` brings it back on the same port.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            drop(child.stdin.take());
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and directory.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Runs `redis-cli` against this server; its standard output.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(redis_cli())
            .arg("-p")
            .arg(self.port.to_string())
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A local Redis Cluster of three masters, no replicas.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts three `--cluster-enabled` servers and joins them with `redis-cli --cluster create`.
    pub fn start() -> Self {
        let nodes: Vec<RedisServer> = (0..3)
            .map(|_| {
                RedisServer::start_with(&[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-node-timeout",
                    "5000",
                ])
            })
            .collect();
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port()))
            .collect();
        let out = Command::new(redis_cli())
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli --cluster create");
        assert!(
            out.status.success(),
            "cluster create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let cluster = Self { nodes };
        let deadline = Instant::now() + START_WITHIN;
        while !cluster
            .nodes
            .iter()
            .all(|n| n.cli(&["cluster", "info"]).contains("cluster_state:ok"))
        {
            assert!(Instant::now() < deadline, "the cluster never became ok");
            std::thread::sleep(Duration::from_millis(50));
        }
        cluster
    }

    /// The seed URLs of its nodes.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }
}

fn redis_server() -> PathBuf {
    binary("redis-server")
}

fn redis_cli() -> PathBuf {
    binary("redis-cli")
}

fn binary(name: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    PathBuf::from(name)
}

/// Runs `f` to completion on a runtime of its own: for tests that drive the
/// awaited APIs (the reputation's record, a shared limiter) from plain threads.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime")
        .block_on(f)
}

/// The reputation's `record`, run to completion on the test's own thread.
pub trait RecordNow {
    /// [`Reputation::record`](crate::Reputation::record), awaited.
    fn record_now(
        &self,
        key: &execgate_core::ClientKey,
        ip: std::net::IpAddr,
        event: crate::SecurityEvent,
        allow_listed: bool,
    ) -> Option<crate::BanOutcome>;
}

impl RecordNow for crate::Reputation {
    fn record_now(
        &self,
        key: &execgate_core::ClientKey,
        ip: std::net::IpAddr,
        event: crate::SecurityEvent,
        allow_listed: bool,
    ) -> Option<crate::BanOutcome> {
        block_on(self.record(key, ip, event, allow_listed))
    }
}
