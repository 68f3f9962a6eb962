//! Config files and the preflight: one fixture per validation rule with the
//! exact message, and a host check that says precisely what is missing.

use execgate_runner::{RunnerConfig, preflight};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn error_of(name: &str) -> String {
    let path = fixture(name);
    let err = RunnerConfig::load(&path).expect_err("fixture must be refused");
    err.to_string().replace(&path.display().to_string(), name)
}

#[test]
fn unknown_key_names_file_and_line() {
    let msg = error_of("bad_unknown_key.toml");
    assert!(
        msg.starts_with("bad_unknown_key.toml:2: bogus: unknown field `bogus`"),
        "{msg}"
    );
}

#[test]
fn bad_size_names_line_and_dotted_key() {
    let msg = error_of("bad_size.toml");
    assert!(
        msg.starts_with("bad_size.toml:4: sandbox.tmp_size: "),
        "{msg}"
    );
}

#[test]
fn validation_rules_have_exact_messages() {
    let cases = [
        (
            "bad_zero_concurrency.toml",
            "max_concurrent: must be at least 1",
        ),
        (
            "bad_duplicate_alias.toml",
            "languages.b: name or alias \"x\" used twice",
        ),
        (
            "bad_warm_without_bootstrap.toml",
            "languages.a.warm: warm sandboxes need warm_run",
        ),
        (
            "bad_limits_above_bounds.toml",
            "languages.a.run_limits: exceeds [limits]",
        ),
        (
            "bad_source_file.toml",
            "languages.a.source_file: must be a plain relative file name",
        ),
    ];
    for (file, reason) in cases {
        assert_eq!(error_of(file), format!("{file}: {reason}"));
    }
}

#[test]
fn shipped_config_is_valid() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config/runner.toml");
    let config = RunnerConfig::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.listen.to_string(), "127.0.0.1:2358");
    assert!(
        config
            .languages
            .iter()
            .any(|l| l.name == "python" && l.warm > 0)
    );
}

#[test]
fn preflight_says_exactly_what_is_missing() {
    let text = r#"
[cgroup]
root = "/nonexistent/cgroup"

[[languages]]
name = "ghost"
version = "1"
source_file = "g.txt"
run = ["/no/such/interpreter", "{entry}"]
binds = ["/no/such/lib"]
"#;
    let config: RunnerConfig = toml::from_str(text).unwrap();
    let problems = preflight(&config).unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("no usable cgroup under /nonexistent/cgroup")),
        "{problems:?}"
    );
    assert!(
        problems.contains(&"no language is available on this host: ghost (missing /no/such/lib, /no/such/interpreter)".to_string()),
        "{problems:?}"
    );
}

#[test]
fn this_host_passes_preflight_with_the_shipped_config() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config/runner.toml");
    let mut config = RunnerConfig::load(&path).unwrap();
    config.cgroup.name = "execgate-test-preflight".into();
    if let Err(problems) = preflight(&config) {
        panic!("the runner cannot work here:\n{}", problems.join("\n"));
    }
}

#[test]
fn cli_refuses_a_bad_config_with_file_and_line() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_execgate-runner"))
        .args(["runner", "--config"])
        .arg(fixture("bad_unknown_key.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad_unknown_key.toml:2: bogus: unknown field `bogus`"),
        "{stderr}"
    );
}
