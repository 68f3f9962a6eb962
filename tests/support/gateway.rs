//! The real gateway, started in-process on ephemeral ports with a config the
//! test shapes section by section, and an injected clock.

use execgate::config;
use execgate::server::{self, Options, Running};
use execgate_core::ManualClock;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// Screening rules every test gateway loads.
pub const SCREEN_RULES: &str = r#"
[[rule]]
id = "TEST-IMPORT-PROCESS"
language = "python"
match.import = ["os", "subprocess"]
severity = "critical"
action = "block"
message = "module {name} is not allowed"

[[rule]]
id = "TEST-EVAL"
language = "python"
match.call = ["eval"]
severity = "error"
action = "score"
message = "eval is not allowed"
"#;

/// Output rules every test gateway loads.
pub const OUTPUT_RULES: &str = r#"
[[redact]]
id = "test-token"
regex = "tok_[a-z0-9]{16}"
"#;

/// Builds a test gateway.
pub struct GatewayBuilder {
    watch: bool,
    sections: BTreeMap<String, Vec<String>>,
    raw: Vec<String>,
    files: Vec<(String, Vec<u8>)>,
}

/// The admin API token of gateways built `with_admin_token()`.
pub const ADMIN_TOKEN: &str = "admin-token-0123456789abcdef";

impl GatewayBuilder {
    /// Configures `ADMIN_TOKEN` for the admin API.
    pub fn with_admin_token(self) -> Self {
        self.with("admin", &format!("tokens = [\"{ADMIN_TOKEN}\"]"))
    }

    /// Adds `line` to `[section]`.
    pub fn with(mut self, section: &str, line: &str) -> Self {
        self.sections
            .entry(section.to_string())
            .or_default()
            .push(line.to_string());
        self
    }

    /// Points the gateway at `addr` (replacing the default executor list).
    pub fn upstream(self, addr: SocketAddr) -> Self {
        self.with("upstream", &format!("addresses = [\"{addr}\"]"))
    }

    /// Reloads rules on file changes (and SIGHUP), as in production.
    pub fn watch(mut self) -> Self {
        self.watch = true;
        self.with("rules", "watch = true")
    }

    /// Reloads rules on SIGHUP only.
    pub fn sighup(mut self) -> Self {
        self.watch = true;
        self
    }

    /// Appends raw TOML after the sections (for arrays of tables and tiers).
    pub fn raw(mut self, text: &str) -> Self {
        self.raw.push(text.to_string());
        self
    }

    /// Writes a file next to the config (relative paths in config resolve there).
    pub fn file(mut self, name: &str, content: impl Into<Vec<u8>>) -> Self {
        self.files.push((name.to_string(), content.into()));
        self
    }

    /// The config text.
    pub fn config_text(&self) -> String {
        let mut text = String::new();
        for (section, lines) in &self.sections {
            text.push_str(&format!("[{section}]\n"));
            let mut seen = std::collections::HashSet::new();
            // A later line for the same key replaces the default.
            for line in lines.iter().rev() {
                let key = line.split('=').next().unwrap_or("").trim().to_string();
                if seen.insert(key) {
                    text.push_str(line);
                    text.push('\n');
                }
            }
            text.push('\n');
        }
        for r in &self.raw {
            text.push_str(r);
            text.push('\n');
        }
        text
    }

    /// Writes the config and files, and starts the gateway.
    pub fn start(self) -> TestGateway {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("screen")).unwrap();
        std::fs::write(dir.path().join("screen/test.toml"), SCREEN_RULES).unwrap();
        std::fs::write(dir.path().join("output.toml"), OUTPUT_RULES).unwrap();
        for (name, content) in &self.files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        let text = self.config_text();
        let path = dir.path().join("execgate.toml");
        std::fs::write(&path, &text).unwrap();
        let settings =
            config::load(&path).unwrap_or_else(|e| panic!("test config invalid: {e}\n{text}"));
        let clock = ManualClock::default();
        let opts = Options {
            clock: Arc::new(clock.clone()),
            unix_signals: false,
            reload_triggers: self.watch,
            upgrade: false,
        };
        let running = server::start(&settings, opts).unwrap();
        TestGateway {
            running: Some(running),
            clock,
            dir,
            config_path: path,
        }
    }
}

/// A running test gateway; stopped when dropped.
pub struct TestGateway {
    pub running: Option<Running>,
    pub clock: ManualClock,
    pub dir: tempfile::TempDir,
    pub config_path: std::path::PathBuf,
}

impl TestGateway {
    /// A builder with test defaults: ephemeral ports, short timeouts, test rules.
    pub fn builder() -> GatewayBuilder {
        GatewayBuilder {
            watch: false,
            sections: BTreeMap::new(),
            raw: Vec::new(),
            files: Vec::new(),
        }
        .with("server", "listen = \"127.0.0.1:0\"")
        .with("server", "admin_listen = \"127.0.0.1:0\"")
        .with("server", "threads = 1")
        .with("server", "header_timeout = \"1s\"")
        .with("server", "body_timeout = \"1s\"")
        .with("upstream", "connect_timeout = \"500ms\"")
        .with("upstream", "read_timeout = \"1s\"")
        .with("upstream", "total_timeout = \"2s\"")
        .with("upstream", "health_check_interval = \"1s\"")
        .with("rules", "screen = [\"screen\"]")
        .with("rules", "output = [\"output.toml\"]")
        .with("rules", "watch = false")
    }

    fn running(&self) -> &Running {
        self.running.as_ref().unwrap()
    }

    /// The proxy address.
    pub fn addr(&self) -> SocketAddr {
        self.running().proxy_addr
    }

    /// `http://proxy/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }

    /// `http://admin/path`.
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.running().admin_addr)
    }

    /// A request to the admin listener carrying `ADMIN_TOKEN`.
    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::blocking::RequestBuilder {
        reqwest::blocking::Client::new()
            .request(method, self.admin_url(path))
            .bearer_auth(ADMIN_TOKEN)
    }

    /// The Prometheus text of the admin listener's `/metrics`.
    pub fn metrics(&self) -> String {
        String::from_utf8(crate::support::get(&self.admin_url("/metrics")).body).unwrap()
    }

    /// Blocks `value` for `duration` through the admin API; panics unless it is 201.
    pub fn block(&self, value: &str, duration: &str) {
        let added = self
            .admin(reqwest::Method::POST, "/v1/blocks")
            .json(&serde_json::json!({"value": value, "duration": duration, "reason": "test"}))
            .send()
            .unwrap();
        let status = added.status();
        assert_eq!(status, 201, "{}", added.text().unwrap());
    }

    /// The admin API's view of client `key` (`GET /v1/clients/{key}`).
    pub fn client_view(&self, key: &str) -> serde_json::Value {
        self.admin(reqwest::Method::GET, &format!("/v1/clients/{key}"))
            .send()
            .unwrap()
            .json()
            .unwrap()
    }

    /// The blocklist.
    pub fn blocks(&self) -> &dyn execgate_state::BlockStore {
        &*self.running().blocks
    }
}
