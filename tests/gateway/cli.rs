//! The command line: `check-config` prints the effective config or
//! `file:line: key: reason` with exit code 2.

use std::process::Command;

fn check(text: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gw.toml");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_execgate"))
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    (
        code,
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).replace(&dir.path().display().to_string(), "DIR"),
    )
}

#[test]
fn check_config_prints_the_effective_config_with_seed_tiers() {
    let (code, out, err) = check("[server]\nlisten = \"127.0.0.1:8181\"\n");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("listen = \"127.0.0.1:8181\""), "{out}");
    assert!(
        out.contains("[tiers.paid]") && out.contains("rate = \"1000/1day\""),
        "{out}"
    );
}

#[test]
fn check_config_names_file_line_and_key_and_exits_2() {
    let cases = [
        (
            "[server]\nlisten = \"nowhere\"\n",
            "DIR/gw.toml:2: server.listen: invalid address \"nowhere\"",
        ),
        (
            "[server]\nthreads = 2\nlisen = \"x\"\n",
            "DIR/gw.toml:3: server.lisen: unknown field `lisen`, expected one of `listen`",
        ),
        (
            "[server]\nheader_timeout = \"soon\"\n",
            "DIR/gw.toml:2: server.header_timeout: invalid duration \"soon\"",
        ),
        (
            "[tiers.free]\nmemory = \"12 parsecs\"\n",
            "DIR/gw.toml:2: tiers.free.memory: invalid size unit",
        ),
        (
            "[tiers.free]\nwindows = [{ name = \"burst\", rate = \"0/10s\" }]\n",
            "DIR/gw.toml:2: tiers.free.windows[0].rate: invalid rate \"0/10s\"",
        ),
        (
            "[[identity.api_keys]]\nsha256 = \"abc\"\nclient = \"a\"\ntier = \"free\"\n",
            "DIR/gw.toml:2: identity.api_keys[0].sha256: must be 64 hex digits",
        ),
        (
            &format!(
                "[[identity.api_keys]]\nsha256 = \"{}\"\nclient = \"a\"\ntier = \"gold\"\n",
                "a".repeat(64)
            ),
            "DIR/gw.toml:4: identity.api_keys[0].tier: unknown tier \"gold\"",
        ),
        (
            "[identity]\ntrusted_proxies = [\"10.0.0.0/33\"]\n",
            "DIR/gw.toml:2: identity.trusted_proxies[0]: invalid CIDR or address",
        ),
        (
            "[upstream]\naddresses = []\n",
            "DIR/gw.toml:2: upstream.addresses: list at least one executor address",
        ),
        (
            "[limits]\nresult_tokens_ttl = \"0s\"\n",
            "DIR/gw.toml:2: limits.result_tokens_ttl: must be greater than 0",
        ),
        (
            "[limits]\nmax_result_tokens = 0\n",
            "DIR/gw.toml:2: limits.max_result_tokens: must be",
        ),
        (
            "[dialect]\nkind = \"k8s\"\n",
            "DIR/gw.toml:2: dialect.kind: unknown variant `k8s`",
        ),
        (
            "[dialect.callbacks]\nattempts = 3\nallow_hosts = [\"*.*\"]\n",
            "DIR/gw.toml:3: dialect.callbacks.allow_hosts: \"*.*\" is not a host name",
        ),
        (
            "[server]\naccept_guard = false\nupgrade_socket = \"up.sock\"\n",
            "DIR/gw.toml:3: server.upgrade_socket: the upgrade hands over the accept guard's listener: it needs accept_guard = true",
        ),
        (
            "[identity.jwt]\nalgorithm = \"HS256\"\nsecret = \"short\"\n",
            "DIR/gw.toml:3: identity.jwt.secret: HS256 secrets must be at least 32 bytes",
        ),
        (
            "[identity.jwt]\nalgorithm = \"none\"\n",
            "DIR/gw.toml:2: identity.jwt.algorithm: unsupported algorithm \"none\"",
        ),
        (
            "[identity]\nipv6_prefix = 0\n",
            "DIR/gw.toml:2: identity.ipv6_prefix: must be between 1 and 128",
        ),
        (
            "[ip_policy.geoip]\ndeny_countries = [\"XX\"]\n",
            "DIR/gw.toml:2: ip_policy.geoip.deny_countries: country rules need ip_policy.geoip.country_db",
        ),
        (
            "[ip_policy.geoip]\ncountry_db = \"missing.mmdb\"\n",
            "DIR/gw.toml:2: ip_policy.geoip.country_db: cannot open MaxMind database",
        ),
        (
            "[tiers.free]\ncode_max = \"1MB\"\n",
            "DIR/gw.toml:2: tiers.free.code_max: 1MB exceeds body_max 64KB",
        ),
        (
            "[tiers.free]\nwindows = [{ name = \"a\", rate = \"1/1s\" }, { name = \"a\", rate = \"2/1s\" }]\n",
            "DIR/gw.toml:2: tiers.free.windows[1].name: window \"a\" is listed twice",
        ),
        (
            "[tiers.\"bad name\"]\nrun_time = \"1s\"\n",
            "DIR/gw.toml:1: tiers.bad name: tier names use letters",
        ),
        (
            "[server]\nmax_header_bytes = \"2MB\"\n",
            "DIR/gw.toml:2: server.max_header_bytes: must be between 1KB and 1MB",
        ),
        (
            "[upstream]\nread_timeout = \"2m\"\ntotal_timeout = \"1m\"\n",
            "DIR/gw.toml:2: upstream.read_timeout: must not exceed upstream.total_timeout",
        ),
        (
            "[limits]\npassthrough = \"lots\"\n",
            "DIR/gw.toml:2: limits.passthrough: invalid rate \"lots\"",
        ),
        (
            "[admin]\ntokens = [\"short\"]\n",
            "DIR/gw.toml:2: admin.tokens[0]: an admin token must be at least",
        ),
        (
            "[reputation]\nban_base = \"5m\"\nhalf_life = \"0s\"\n",
            "DIR/gw.toml:3: reputation.half_life: must be longer than zero",
        ),
        (
            "[tiers.gold]\nreplaces = \"platinum\"\n",
            "DIR/gw.toml:2: tiers.gold.replaces: \"platinum\" is not a built-in tier",
        ),
        (
            &format!(
                "[tiers.hobby]\nreplaces = \"free\"\n[[identity.api_keys]]\nsha256 = \"{}\"\nclient = \"a\"\ntier = \"free\"\n",
                "a".repeat(64)
            ),
            "DIR/gw.toml:6: identity.api_keys[0].tier: unknown tier \"free\"",
        ),
        (
            "[output]\nallowed_paths = [\"tmp\"]\n",
            "DIR/gw.toml:2: output.allowed_paths: \"tmp\" is not an absolute path",
        ),
        (
            "[server]\nbody_timeout = \"3000y\"\n",
            "DIR/gw.toml:2: server.body_timeout: must be at most 1d",
        ),
        (
            "[server]\nmax_connections = 9000000000000000000\n",
            "DIR/gw.toml:2: server.max_connections: must be at most 1000000",
        ),
        (
            "[upstream]\naddresses = [\"127.0.0.1:1\", \"127.0.0.1:1\"]\n",
            "DIR/gw.toml:2: upstream.addresses[1]: listed twice",
        ),
        (
            "[identity.jwt]\nalgorithm = \"HS256\"\nsecret = \"0123456789abcdef0123456789abcdef\"\nleeway = \"100y\"\n",
            "DIR/gw.toml:4: identity.jwt.leeway: must be at most 1h",
        ),
        (
            &format!(
                "[[identity.api_keys]]\nsha256 = \"{}\"\nclient = \"jwt:alice\"\ntier = \"free\"\n",
                "a".repeat(64)
            ),
            "DIR/gw.toml:3: identity.api_keys[0].client: use 1 to 128 letters, digits",
        ),
        (
            &format!(
                "[[identity.api_keys]]\nsha256 = \"{}\"\nclient = \"acme-\"\ntier = \"free\"\n",
                "a".repeat(64)
            ),
            "DIR/gw.toml:3: identity.api_keys[0].client: use 1 to 128 letters, digits, '-', '_', '.' and '@', starting and ending with a letter or digit",
        ),
        (
            "[screen]\nthreshold = 9\n",
            "DIR/gw.toml:2: screen.threshold: set per tier: tiers.NAME.inbound_threshold",
        ),
        (
            "[output]\nstdout_max_bytes = \"1MB\"\n",
            "DIR/gw.toml:2: output.stdout_max_bytes: set per tier: tiers.NAME.stdout_max",
        ),
    ];
    for (text, expected) in cases {
        let (code, _, err) = check(text);
        assert_eq!(code, 2, "{text}");
        assert!(
            err.starts_with(expected),
            "for\n{text}\nexpected {expected}\ngot      {err}"
        );
    }
}

#[test]
fn the_shipped_config_is_valid_and_its_rules_load() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/execgate.toml");
    let settings = execgate::config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(settings.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(settings.server.admin_listen.to_string(), "127.0.0.1:9090");
    assert_eq!(settings.tiers.len(), 3);
    if let Err(errors) = execgate::rules::load(&settings.rules) {
        panic!("shipped rules do not load:\n{}", errors.join("\n"));
    }
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `execgate gateway` as a process in `dir`, in front of `exec`, with the test
/// rules, `env` set and stdout captured; returns it and its proxy port.
fn gateway_binary(
    dir: &std::path::Path,
    exec: &crate::support::MockExecutor,
    env: &[(&str, &str)],
) -> (std::process::Child, u16) {
    use crate::support::gateway::{OUTPUT_RULES, SCREEN_RULES};
    std::fs::create_dir_all(dir.join("screen")).unwrap();
    std::fs::write(dir.join("screen/test.toml"), SCREEN_RULES).unwrap();
    std::fs::write(dir.join("output.toml"), OUTPUT_RULES).unwrap();
    let (proxy, admin) = (free_port(), free_port());
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:{proxy}\"\nadmin_listen = \"127.0.0.1:{admin}\"\n\
         [upstream]\naddresses = [\"{}\"]\n\
         [rules]\nscreen = [\"screen\"]\noutput = [\"output.toml\"]\nwatch = false\n",
        exec.addr
    );
    let path = dir.join("gw.toml");
    std::fs::write(&path, config).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_execgate"))
        .args(["gateway", "--config"])
        .arg(&path)
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The accept guard listens before Pingora behind it does: wait for an answer.
    crate::support::eventually("the gateway answers", || {
        std::net::TcpStream::connect(("127.0.0.1", proxy)).is_ok()
            && crate::support::get(&format!("http://127.0.0.1:{proxy}/api/v2/runtimes")).status
                != 500
    });
    (child, proxy)
}

#[test]
fn the_gateway_binary_logs_one_json_audit_line_per_request() {
    use crate::support::{self, MockExecutor};
    let exec = MockExecutor::start();
    let dir = tempfile::tempdir().unwrap();
    // Even with diagnostics turned down to warnings.
    let (mut child, proxy) = gateway_binary(dir.path(), &exec, &[("RUST_LOG", "warn")]);
    let url = format!("http://127.0.0.1:{proxy}/api/v2/execute");
    let ok = support::post(&url, &support::piston("print(1)"));
    let refused = support::post(&url, &support::piston("import os"));
    assert_eq!((ok.status, refused.status), (200, 403));
    // The audit line is written once the answer is sent: read as it comes.
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let reader = {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufRead::lines(stdout).map_while(Result::ok) {
                // (the harness's readiness GET has its own line)
                if let Ok(l) = serde_json::from_str::<serde_json::Value>(&line)
                    && l["target"] == "execgate::audit"
                    && l["fields"]["path"] == "/api/v2/execute"
                {
                    lines.lock().unwrap().push(l["fields"].clone());
                }
            }
        })
    };
    support::eventually("two audit lines", || lines.lock().unwrap().len() >= 2);
    let _ = child.kill();
    let _ = child.wait();
    reader.join().unwrap();
    let audits = lines.lock().unwrap().clone();
    assert_eq!(audits.len(), 2, "one audit line per request: {audits:?}");
    let (first, second) = (&audits[0], &audits[1]);
    assert_eq!(first["client"], "ip:127.0.0.1");
    assert_eq!(first["tier"], "anonymous");
    assert_eq!(first["route"], "Execute");
    assert_eq!(first["decision"], "forwarded");
    assert_eq!(first["status"], 200);
    assert!(first["latency_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(second["decision"], "code_rejected");
    assert_eq!(second["status"], 403);
    assert!(
        second["reason"]
            .as_str()
            .unwrap()
            .contains("TEST-IMPORT-PROCESS"),
        "{second}"
    );
    assert_eq!(second["request_id"], refused.json()["error"]["request_id"]);
}

#[test]
fn the_bundled_runner_accepts_the_largest_limits_a_shipped_tier_forwards() {
    // The gateway sets absent limits to the tier's maximum; a runner bound
    // below a tier would answer every run of that tier with 400.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let settings = execgate::config::load(&root.join("config/execgate.toml")).unwrap();
    let runner = execgate_runner::RunnerConfig::load(&root.join("config/runner.toml")).unwrap();
    for tier in settings.tiers.values() {
        assert!(
            tier.run_time <= runner.limits.max_timeout.get()
                && tier.run_time <= runner.limits.max_cpu_time.get(),
            "tier {} runs {:?}; the runner allows {:?} wall, {:?} cpu",
            tier.name,
            tier.run_time,
            runner.limits.max_timeout.get(),
            runner.limits.max_cpu_time.get()
        );
        assert!(
            tier.memory.bytes() <= runner.limits.max_memory.bytes(),
            "tier {} memory",
            tier.name
        );
    }
}

#[test]
fn every_language_the_bundled_runner_offers_is_screened_or_forwarded_by_the_gateway() {
    // A runtime the shipped gateway refuses to screen is a runtime no client
    // of `execgate up` can use: each name, alias and Judge0 id must reach a pack.
    use execgate_dialect::{Dialect, RouteKind};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let settings = execgate::config::load(&root.join("config/execgate.toml")).unwrap();
    let runner = execgate_runner::RunnerConfig::load(&root.join("config/runner.toml")).unwrap();
    let forwards_unscreened = !settings.screen.refuse_unknown_language;
    let dialect = Dialect::new(settings.dialect.clone()).unwrap();
    let mut unscreened = Vec::new();
    for lang in &runner.languages {
        let mut names: Vec<String> = std::iter::once(&lang.name)
            .chain(&lang.aliases)
            .cloned()
            .collect();
        if let Some(id) = lang.judge0_id {
            let body = format!(r#"{{"language_id":{id},"source_code":"x"}}"#);
            let read = dialect.parse_request(RouteKind::Execute, "/submissions", body.as_bytes());
            match read {
                Ok(req) => names.push(req.submissions[0].language.clone()),
                Err(e) => unscreened.push(format!("{}: judge0 id {id}: {e}", lang.name)),
            }
        }
        for name in names {
            if execgate_screen::Language::from_name(&name).is_none() && !forwards_unscreened {
                unscreened.push(format!("{}: {name:?}", lang.name));
            }
        }
    }
    assert!(
        unscreened.is_empty(),
        "the runner offers what the gateway refuses: {unscreened:?}"
    );
}

/// `execgate up` with the shipped configs on free ports, in `dir`, with `env` set.
fn up_in(dir: &std::path::Path, env: &[(&str, &str)]) -> (std::process::Child, u16, u16) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let (proxy, admin, runner) = (free_port(), free_port(), free_port());
    let gateway = std::fs::read_to_string(root.join("config/execgate.toml"))
        .unwrap()
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{proxy}"))
        .replace("127.0.0.1:9090", &format!("127.0.0.1:{admin}"))
        .replace("127.0.0.1:2358", &format!("127.0.0.1:{runner}"))
        .replace("\"../rules/", &format!("\"{}/rules/", root.display()))
        .replace("\"../state/", "\"state/");
    let runner_config = std::fs::read_to_string(root.join("config/runner.toml"))
        .unwrap()
        .replace("127.0.0.1:2358", &format!("127.0.0.1:{runner}"));
    std::fs::write(dir.join("execgate.toml"), gateway).unwrap();
    std::fs::write(dir.join("runner.toml"), runner_config).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_execgate"))
        .arg("up")
        .arg("--config")
        .arg(dir.join("execgate.toml"))
        .arg("--runner-config")
        .arg(dir.join("runner.toml"))
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    (child, proxy, runner)
}

#[test]
fn execgate_up_runs_piston_and_judge0_code_in_the_bundled_runner_and_takes_it_down_with_it() {
    use crate::support::post;
    use serde_json::json;
    let dir = tempfile::tempdir().unwrap();
    let (mut up, proxy, runner) = up_in(dir.path(), &[]);
    let base = format!("http://127.0.0.1:{proxy}");
    crate::support::eventually("the gateway listens", || {
        std::net::TcpStream::connect(("127.0.0.1", proxy)).is_ok()
    });
    let mut piston = None;
    crate::support::eventually("a Piston run through execgate up", || {
        let reply = post(
            &format!("{base}/api/v2/execute"),
            &json!({"language": "python", "version": "*", "files": [{"content": "print(6*7)"}]}),
        );
        let done = reply.status == 200;
        piston = Some(reply);
        done
    });
    assert_eq!(piston.unwrap().json()["run"]["stdout"], "42\n");
    let judge0 = post(
        &format!("{base}/submissions?wait=true"),
        &json!({"source_code": "print(6*7)", "language_id": 71}),
    );
    assert_eq!(
        judge0.status,
        201,
        "{}",
        String::from_utf8_lossy(&judge0.body)
    );
    assert_eq!(judge0.json()["stdout"], "42\n");
    let escape = post(
        &format!("{base}/api/v2/execute"),
        &json!({"language": "python", "version": "*", "files": [{"content": "__import__(\"o\"+\"s\").system(\"id\")"}]}),
    );
    assert_eq!(escape.status, 403);
    assert_eq!(escape.json()["error"]["code"], "code_rejected");

    // Killed outright, `up` cannot clean up: the kernel ends the runner with it.
    up.kill().unwrap();
    up.wait().unwrap();
    crate::support::eventually("the bundled runner exits with execgate up", || {
        std::net::TcpStream::connect(("127.0.0.1", runner)).is_err()
    });
}

#[test]
fn values_of_the_gateways_own_environment_are_redacted_from_output() {
    use crate::support::{self, Behaviour, MockExecutor};
    let exec = MockExecutor::with(Behaviour::Piston {
        stdout: "ORCHESTRA_NODE_LABEL=bluefalcon7\n".into(),
    });
    let dir = tempfile::tempdir().unwrap();
    let (mut child, proxy) = gateway_binary(
        dir.path(),
        &exec,
        &[("ORCHESTRA_NODE_LABEL", "bluefalcon7")],
    );
    let r = support::post(
        &format!("http://127.0.0.1:{proxy}/api/v2/execute"),
        &support::piston("print(1)"),
    );
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let stdout = r.json()["run"]["stdout"].as_str().unwrap().to_string();
    assert!(!stdout.contains("bluefalcon7"), "{stdout}");
    assert!(stdout.contains("[REDACTED"), "{stdout}");
}

/// `execgate block` and `execgate clients` are thin clients of the admin API: a
/// block added from the command line refuses the next request, and removing it
/// lets the client back in.
#[test]
fn the_block_and_clients_commands_drive_a_running_gateway() {
    use crate::support::{MockExecutor, TestGateway, piston, post};
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with_admin_token()
        .start();
    let admin = gw.admin_url("");
    let execgate = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_execgate"))
            .args(args)
            .env("EXECGATE_ADMIN_URL", &admin)
            .env("EXECGATE_ADMIN_TOKEN", crate::support::ADMIN_TOKEN)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let execute = || post(&gw.url("/api/v2/execute"), &piston("print(1)")).status;
    assert_eq!(execute(), 200);

    let added = execgate(&[
        "block",
        "add",
        "127.0.0.1",
        "--for",
        "4h",
        "--reason",
        "cli test",
    ]);
    assert!(added.starts_with("added decision "), "{added}");
    assert_eq!(execute(), 403, "the block applies to the next request");

    let listed: serde_json::Value =
        serde_json::from_str(&execgate(&["block", "list", "--json"])).unwrap();
    let decision = &listed["decisions"][0];
    assert_eq!(
        (&decision["value"], &decision["reason"]),
        (
            &serde_json::json!("127.0.0.1"),
            &serde_json::json!("cli test")
        )
    );
    let shown: serde_json::Value =
        serde_json::from_str(&execgate(&["clients", "show", "ip:127.0.0.1", "--json"])).unwrap();
    assert_eq!(shown["blocked"]["id"], decision["id"], "{shown}");
    let table = execgate(&["clients", "show", "ip:127.0.0.1"]);
    assert!(table.contains("ip:127.0.0.1"), "{table}");

    let id = decision["id"].to_string();
    let removed = execgate(&["block", "rm", &id, "--reason", "done"]);
    assert!(removed.starts_with("removed decision "), "{removed}");
    assert_eq!(execute(), 200, "removing the block lets the client back in");
}

/// A child process killed (and reaped) when dropped.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The processes whose parent is `pid`.
fn children_of(pid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            // `pid (comm) state ppid …`; comm may hold spaces, so read after its `)`.
            std::fs::read_to_string(format!("/proc/{child}/stat"))
                .ok()
                .and_then(|stat| {
                    let rest = stat.rsplit_once(')')?.1.to_string();
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

/// The runner `execgate up` starts gets none of the gateway's environment
/// beyond what it needs: the admin token and any other secret of the
/// gateway's are neither in `/proc/PID/environ` of the runner nor visible to
/// a program it runs (asked of the runner directly: through the gateway the
/// output sanitizer would redact them and hide a leak).
#[test]
fn the_bundled_runner_and_its_sandboxes_never_see_the_gateways_secrets() {
    use serde_json::json;
    const TOKEN: &str = "admin-token-in-the-environment-5f3a9c";
    const OTHER: &str = "cloud-credential-in-the-environment-77b1e0";
    let dir = tempfile::tempdir().unwrap();
    let (up, _proxy, runner) = up_in(
        dir.path(),
        &[
            ("EXECGATE_ADMIN_TOKEN", TOKEN),
            ("EXECGATE_TEST_CLOUD_CREDENTIAL", OTHER),
        ],
    );
    // Ended on every way out of the test, a failed assertion included: a
    // left-over runner would hold the machine's runner-test lock.
    let up = KillOnDrop(up);
    let mut runner_pid = None;
    crate::support::eventually("the runner process is started", || {
        runner_pid = children_of(up.0.id()).into_iter().find(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.split(|b| *b == 0).any(|arg| arg == b"runner"))
        });
        runner_pid.is_some()
    });
    let environ = std::fs::read(format!("/proc/{}/environ", runner_pid.unwrap())).unwrap();
    let environ = String::from_utf8_lossy(&environ).into_owned();
    // Only names go into a failure message: values may be this machine's secrets.
    let names: Vec<&str> = environ
        .split('\0')
        .filter_map(|pair| pair.split_once('=').map(|(name, _)| name))
        .collect();
    assert!(
        !environ.contains(TOKEN) && !environ.contains(OTHER),
        "the runner holds a secret of the gateway's: {names:?}"
    );
    assert!(
        !names.iter().any(|name| name.starts_with("EXECGATE_")),
        "{names:?}"
    );
    assert!(names.contains(&"PATH"), "the runner keeps PATH: {names:?}");

    let program = r#"
import os, glob
print(sorted(os.environ.items()))
for path in glob.glob('/proc/*/environ'):
    try:
        print(path, open(path, 'rb').read())
    except OSError as e:
        print(path, e)
"#;
    let mut stdout = String::new();
    crate::support::eventually("a run in the bundled runner", || {
        // Refused connections are a runner still starting (it reads each
        // language's version before it listens), not a failure.
        let sent = reqwest::blocking::Client::new()
            .post(format!("http://127.0.0.1:{runner}/api/v2/execute"))
            .header("content-type", "application/json")
            .body(
                json!({"language": "python", "version": "*", "files": [{"content": program}]})
                    .to_string(),
            )
            .send();
        let Ok(reply) = sent else {
            return false;
        };
        let ok = reply.status() == 200;
        stdout = reply.text().unwrap_or_default();
        ok
    });
    drop(up);
    assert!(
        stdout.contains("/proc/1/environ"),
        "the program ran: {stdout}"
    );
    assert!(
        !stdout.contains(TOKEN) && !stdout.contains(OTHER),
        "a sandboxed program saw a secret: {stdout}"
    );
}
