//! The `block` and `clients` commands against the real admin API.

mod support;

use execgate_core::ClientKey;
use execgate_state::SecurityEvent;
use std::process::{Command, Output};
use support::{Fixture, TOKEN};

fn cli(f: &Fixture, args: &[&str], token: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_execgate-state"));
    cmd.args(args)
        .env("EXECGATE_ADMIN_URL", &f.base)
        .env_remove("EXECGATE_ADMIN_TOKEN");
    if let Some(token) = token {
        cmd.env("EXECGATE_ADMIN_TOKEN", token);
    }
    cmd.output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_add_list_rm_round_trip() {
    let f = Fixture::start().await;
    let out = cli(
        &f,
        &[
            "block",
            "add",
            "198.51.100.0/24",
            "--for",
            "4h",
            "--reason",
            "scanner",
        ],
        Some(TOKEN),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("added decision 1: 198.51.100.0/24 (range) until "),
        "{}",
        stdout(&out)
    );

    let out = cli(&f, &["block", "list"], Some(TOKEN));
    let table = stdout(&out);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("ID  SCOPE  VALUE"), "{table}");
    assert!(
        lines[1].contains("198.51.100.0/24") && lines[1].contains("scanner"),
        "{table}"
    );

    let out = cli(&f, &["block", "list", "--json"], Some(TOKEN));
    let page: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(page["decisions"][0]["created_by"], "config#1");

    let out = cli(&f, &["rm", "1"], Some(TOKEN));
    assert_ne!(
        out.status.code(),
        Some(0),
        "rm without the block subcommand is a usage error"
    );
    let out = cli(
        &f,
        &["block", "rm", "1", "--reason", "done", "--token", TOKEN],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "removed decision 1: 198.51.100.0/24\n");
    let out = cli(&f, &["block", "list"], Some(TOKEN));
    assert_eq!(stdout(&out), "no active decisions\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_have_messages_and_exit_codes() {
    let f = Fixture::start().await;
    let out = cli(&f, &["block", "list"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no admin token"), "{}", stderr(&out));
    let out = cli(&f, &["block", "list"], Some("wrong-token-0123456789"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("unauthorized (401)"),
        "{}",
        stderr(&out)
    );
    let out = cli(
        &f,
        &["block", "add", "10.0.0.1/8", "--reason", "x"],
        Some(TOKEN),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("did you mean 10.0.0.0/8"),
        "{}",
        stderr(&out)
    );
    let out = cli(
        &f,
        &[
            "block", "add", "10.0.0.1", "--for", "500ms", "--reason", "x",
        ],
        Some(TOKEN),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("invalid_request (400): duration: must be at least 1s"),
        "{}",
        stderr(&out)
    );
    let out = cli(&f, &["block", "rm", "42"], Some(TOKEN));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not_found (404)"), "{}", stderr(&out));
    let out = Command::new(env!("CARGO_BIN_EXE_execgate-state"))
        .args([
            "block",
            "list",
            "--admin-url",
            "http://127.0.0.1:1",
            "--token",
            TOKEN,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot reach the admin API"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_show_and_forgive() {
    let f = Fixture::start().await;
    let key = ClientKey::from_ip("2001:db8::1".parse().unwrap(), 64);
    f.reputation
        .record(
            &key,
            "2001:db8::1".parse().unwrap(),
            SecurityEvent::ExecTimeout,
            false,
        )
        .await;
    let out = cli(&f, &["clients", "show", "ip:2001:db8::/64"], Some(TOKEN));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("key:         ip:2001:db8::/64"), "{text}");
    assert!(text.contains("reputation:  4.0"), "{text}");
    assert!(text.contains("exec_timeout"), "{text}");
    let out = cli(&f, &["clients", "forgive", "2001:db8::1"], Some(TOKEN));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(f.reputation.score(&key), 0.0);
    let out = cli(
        &f,
        &["clients", "show", "ip:2001:db8::/64", "--json"],
        Some(TOKEN),
    );
    let c: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(c["reputation"]["score"], 0.0);
}
