//! Whole-config reload: each live section changed on disk takes effect on the
//! next request after `POST /v1/config/reload` (or `execgate reload`); an
//! invalid change leaves the old config serving and names `file:line`; a
//! request in flight finishes under the config it started with.

use crate::support::gateway::GatewayBuilder;
use crate::support::*;
use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::{Value, json};

const KEY: &str = "reload-test-key-0123456789";

fn base(exec: &MockExecutor) -> GatewayBuilder {
    TestGateway::builder()
        .upstream(exec.addr)
        .with_admin_token()
}

fn execute(gw: &TestGateway, headers: &[(&str, &str)]) -> Reply {
    post_with(
        &gw.url("/api/v2/execute"),
        piston("print(1)").to_string().into_bytes(),
        headers,
    )
}

fn api_key(key: &str, client: &str) -> String {
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(key.as_bytes()));
    format!("[[identity.api_keys]]\nsha256 = \"{hash}\"\nclient = \"{client}\"\ntier = \"free\"")
}

/// Writes `next`'s config (and `files`) over the running gateway's.
fn rewrite(gw: &TestGateway, next: &GatewayBuilder, files: &[(&str, &[u8])]) {
    for (name, content) in files {
        std::fs::write(gw.dir.path().join(name), content).unwrap();
    }
    std::fs::write(&gw.config_path, next.config_text()).unwrap();
}

/// `POST /v1/config/reload`: the status and the JSON answer.
fn reload(gw: &TestGateway) -> (u16, Value) {
    let r = gw
        .admin(reqwest::Method::POST, "/v1/config/reload")
        .send()
        .unwrap();
    (r.status().as_u16(), r.json().unwrap())
}

fn reloaded(gw: &TestGateway) -> Value {
    let (status, body) = reload(gw);
    assert_eq!(status, 200, "{body}");
    body
}

#[test]
fn an_api_key_added_on_disk_is_accepted_after_reload_and_nothing_needs_a_restart() {
    let exec = MockExecutor::start();
    let gw = base(&exec).start();
    let auth = format!("Bearer {KEY}");
    assert_eq!(execute(&gw, &[("authorization", &auth)]).status, 401);
    rewrite(&gw, &base(&exec).raw(&api_key(KEY, "alice")), &[]);
    assert_eq!(reloaded(&gw)["restart_required"], json!([]));
    let r = execute(&gw, &[("authorization", &auth)]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        gw.client_view("client:alice")["tier"],
        "free",
        "the admin API knows the new client's tier"
    );
}

#[test]
fn a_jwt_secret_changed_on_disk_verifies_tokens_after_reload() {
    let exec = MockExecutor::start();
    let jwt = |secret: &str| {
        format!(
            "[identity.jwt]\nalgorithm = \"HS256\"\nsecret = \"{secret}\"\ndefault_tier = \"free\""
        )
    };
    let (old, new) = (
        "old-secret-0123456789abcdef0123456789",
        "new-secret-0123456789abcdef0123456789",
    );
    let gw = base(&exec).raw(&jwt(old)).start();
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let signed = encode(
        &Header::default(),
        &json!({"sub": "carol", "exp": exp}),
        &EncodingKey::from_secret(new.as_bytes()),
    )
    .unwrap();
    let auth = format!("Bearer {signed}");
    assert_eq!(execute(&gw, &[("authorization", &auth)]).status, 401);
    rewrite(&gw, &base(&exec).raw(&jwt(new)), &[]);
    reloaded(&gw);
    assert_eq!(execute(&gw, &[("authorization", &auth)]).status, 200);
}

#[test]
fn a_deny_list_file_changed_on_disk_refuses_after_reload() {
    let exec = MockExecutor::start();
    let next = || base(&exec).with("ip_policy", "deny_files = [\"deny.txt\"]");
    let gw = next().file("deny.txt", "192.0.2.0/24\n").start();
    assert_eq!(execute(&gw, &[]).status, 200);
    rewrite(
        &gw,
        &next(),
        &[("deny.txt", b"# this host\n127.0.0.1/32\n")],
    );
    reloaded(&gw);
    let r = execute(&gw, &[]);
    assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
}

#[test]
fn a_geoip_database_replaced_on_disk_is_read_after_reload() {
    let exec = MockExecutor::start();
    let db = |country: &str| {
        mmdb::write(
            "GeoLite2-Country",
            &[("127.0.0.0".parse().unwrap(), 8, mmdb::country(country))],
        )
    };
    let next = || {
        base(&exec)
            .with("ip_policy.geoip", "country_db = \"country.mmdb\"")
            .with("ip_policy.geoip", "deny_countries = [\"XX\"]")
    };
    let gw = next().file("country.mmdb", db("DE")).start();
    assert_eq!(execute(&gw, &[]).status, 200);
    rewrite(&gw, &next(), &[("country.mmdb", &db("XX"))]);
    reloaded(&gw);
    let r = execute(&gw, &[]);
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"]["reason"], "country", "{}", r.json());
}

#[test]
fn a_tier_limit_lowered_on_disk_refuses_after_reload() {
    let exec = MockExecutor::start();
    let tier = |rate: &str| {
        format!("[tiers.anonymous]\nwindows = [{{ name = \"burst\", rate = \"{rate}\" }}]")
    };
    let gw = base(&exec).raw(&tier("100/1h")).start();
    assert_eq!(execute(&gw, &[]).status, 200);
    assert_eq!(execute(&gw, &[]).status, 200);
    rewrite(&gw, &base(&exec).raw(&tier("1/1h")), &[]);
    reloaded(&gw);
    let r = execute(&gw, &[]);
    assert_eq!(r.status, 429, "{}", String::from_utf8_lossy(&r.body));
}

#[test]
fn output_rules_changed_on_disk_apply_to_the_next_answer_not_the_one_in_flight() {
    let exec = MockExecutor::with(Behaviour::Slow(std::time::Duration::from_secs(2)));
    let next = || {
        base(&exec)
            .with("upstream", "read_timeout = \"20s\"")
            .with("upstream", "total_timeout = \"20s\"")
    };
    let gw = next().start();
    let url = gw.url("/api/v2/execute");
    let in_flight = std::thread::spawn(move || post(&url, &piston("print(1)")));
    eventually("the executor holds the first request", || {
        exec.requests().len() == 1
    });
    let rules = format!(
        "{}\n[[redact]]\nid = \"slow-word\"\nregex = \"slow\"\n",
        crate::support::gateway::OUTPUT_RULES
    );
    rewrite(&gw, &next(), &[("output.toml", rules.as_bytes())]);
    reloaded(&gw);
    let first = in_flight.join().unwrap();
    assert_eq!(first.status, 200);
    assert_eq!(first.json()["run"]["stdout"], "slow\n", "{}", first.json());
    let second = post(&gw.url("/api/v2/execute"), &piston("print(1)"));
    assert_eq!(second.status, 200);
    assert_ne!(
        second.json()["run"]["stdout"],
        "slow\n",
        "{}",
        second.json()
    );
}

#[test]
fn an_invalid_change_keeps_the_old_config_serving_and_names_file_and_line() {
    let exec = MockExecutor::start();
    let auth = format!("Bearer {KEY}");
    let gw = base(&exec).raw(&api_key(KEY, "alice")).start();
    let broken = base(&exec).with("server", "threads = 0");
    rewrite(&gw, &broken, &[]);
    let line = broken
        .config_text()
        .lines()
        .position(|l| l == "threads = 0")
        .unwrap()
        + 1;
    let (status, body) = reload(&gw);
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "config_invalid");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("execgate.toml:{line}: server.threads")),
        "{message}"
    );
    assert_eq!(
        execute(&gw, &[("authorization", &auth)]).status,
        200,
        "the key of the old config still works"
    );
}

#[test]
fn an_invalid_list_file_keeps_the_old_list() {
    let exec = MockExecutor::start();
    let next = || base(&exec).with("ip_policy", "deny_files = [\"deny.txt\"]");
    let gw = next().file("deny.txt", "192.0.2.0/24\n").start();
    rewrite(&gw, &next(), &[("deny.txt", b"127.0.0.1/32\nnot-an-ip\n")]);
    let (status, body) = reload(&gw);
    assert_eq!(status, 422, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("deny.txt:2: "), "{message}");
    assert_eq!(execute(&gw, &[]).status, 200, "the old list stays");
}

#[test]
fn changes_that_need_a_restart_are_named_and_the_rest_applies() {
    let exec = MockExecutor::start();
    let gw = base(&exec).start();
    let auth = format!("Bearer {KEY}");
    let next = base(&exec)
        .with("server", "threads = 2")
        .raw(&api_key(KEY, "alice"));
    rewrite(&gw, &next, &[]);
    assert_eq!(reloaded(&gw)["restart_required"], json!(["server.threads"]));
    assert_eq!(execute(&gw, &[("authorization", &auth)]).status, 200);
}

#[test]
fn execgate_reload_drives_the_admin_api_and_prints_file_line_on_error() {
    let exec = MockExecutor::start();
    let gw = base(&exec).start();
    let cli = |gw: &TestGateway| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_execgate"))
            .args(["reload", "--admin-url", &gw.admin_url(""), "--token"])
            .arg(crate::support::gateway::ADMIN_TOKEN)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let auth = format!("Bearer {KEY}");
    rewrite(&gw, &base(&exec).raw(&api_key(KEY, "alice")), &[]);
    let (code, stdout, stderr) = cli(&gw);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "config reloaded\n");
    assert_eq!(execute(&gw, &[("authorization", &auth)]).status, 200);
    rewrite(&gw, &base(&exec).with("server", "threads = 0"), &[]);
    let (code, _, stderr) = cli(&gw);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("execgate.toml:"), "{stderr}");
    assert!(stderr.contains("server.threads"), "{stderr}");
}
