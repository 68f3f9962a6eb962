//! The gateway as its own process (`execgate gateway --config FILE`), for
//! what only a process shows: signals, exit codes, start-up errors.

use crate::support::gateway::{GatewayBuilder, OUTPUT_RULES, SCREEN_RULES};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A port nobody listens on (yet).
pub fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Writes the builder's config (with the test rules) into `dir`; returns its path.
pub fn write_config(builder: &GatewayBuilder, dir: &Path) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("screen")).unwrap();
    std::fs::write(dir.join("screen/test.toml"), SCREEN_RULES).unwrap();
    std::fs::write(dir.join("output.toml"), OUTPUT_RULES).unwrap();
    let path = dir.join("execgate.toml");
    std::fs::write(&path, builder.config_text()).unwrap();
    path
}

/// `execgate gateway --config FILE` as a child process.
pub struct GatewayProcess(pub Child);

impl GatewayProcess {
    /// Starts the binary; waits until `addr` accepts connections.
    pub fn start(config: &Path, addr: SocketAddr) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_execgate"))
            .arg("gateway")
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut process = Self(child);
        wait_for(
            "the gateway process listens",
            Duration::from_secs(60),
            || {
                if let Ok(Some(status)) = process.0.try_wait() {
                    panic!("the gateway exited at start: {status}");
                }
                TcpStream::connect(addr).is_ok()
            },
        );
        process
    }

    /// Sends `signal` (e.g. "TERM", "HUP").
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.0.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits for the process to exit (at most `limit`).
    pub fn exit_status(&mut self, limit: Duration) -> ExitStatus {
        let mut status = None;
        wait_for("the gateway process exits", limit, || {
            status = self.0.try_wait().unwrap();
            status.is_some()
        });
        status.unwrap()
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Retries `check` until it holds or `limit` passes (processes start slowly on a loaded machine).
pub fn wait_for(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("never happened within {limit:?}: {what}");
}

/// Runs `execgate gateway --config FILE`, expecting it to fail at start: (exit code, stderr).
pub fn start_failure(config: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_execgate"))
        .arg("gateway")
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
