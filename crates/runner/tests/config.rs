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
        problems.contains(&"language ghost: missing /no/such/lib, /no/such/interpreter (set `optional = true` to start without it)".to_string()),
        "{problems:?}"
    );
}

/// A config with one language whose program candidates are `candidates`,
/// bare names looked up in `search`.
fn one_language(search: &std::path::Path, candidates: &str, optional: bool) -> RunnerConfig {
    let text = format!(
        r#"
[sandbox]
search_path = "/nonexistent-dir:{}"

[[languages]]
name = "fake"
optional = {optional}
judge0_id = 9
judge0_name = "Fake ({{version}})"
source_file = "main.fake"
program = {candidates}
run = ["{{program}}", "{{entry}}"]
"#,
        search.display()
    );
    toml::from_str(&text).unwrap()
}

/// A directory holding an executable `fakelang` that prints its version.
fn fake_interpreter() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fakelang");
    std::fs::write(&path, "#!/bin/sh\necho \"fakelang v9.8.7 (built today)\"\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    // Present but not executable: never a candidate.
    std::fs::write(dir.path().join("notexec"), "").unwrap();
    dir
}

#[test]
fn a_missing_first_candidate_resolves_to_the_next_with_its_version() {
    use execgate_runner::job::Catalog;
    let dir = fake_interpreter();
    let config = one_language(
        dir.path(),
        r#"["/no/such/fakelang", "notexec", "missing-name", "fakelang"]"#,
        false,
    );
    let (catalog, skipped) = Catalog::from_config(&config);
    assert!(skipped.is_empty(), "{skipped:?}");
    let lang = &catalog.all()[0];
    let real = std::fs::canonicalize(dir.path().join("fakelang")).unwrap();
    assert_eq!(lang.cfg.run, [real.display().to_string(), "{entry}".into()]);
    assert_eq!(lang.cfg.version, "9.8.7");
    assert_eq!(lang.cfg.judge0_name.as_deref(), Some("Fake (9.8.7)"));
    assert!(lang.binds.contains(&real), "{:?}", lang.binds);
}

#[test]
fn the_shipped_languages_resolve_to_this_hosts_programs() {
    use execgate_runner::job::Catalog;
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config/runner.toml");
    let config = RunnerConfig::load(&path).unwrap();
    let (catalog, skipped) = Catalog::from_config(&config);
    assert!(skipped.iter().all(|l| l.optional), "{skipped:?}");
    let python = catalog.find("python", "3").expect("python 3 found");
    let real = std::fs::canonicalize("/usr/bin/python3").unwrap();
    assert_eq!(python.cfg.run[0], real.display().to_string());
    assert!(python.cfg.warm_run.as_ref().unwrap()[0] == python.cfg.run[0]);
    let gcc = catalog.find("c", "*").expect("gcc found");
    assert!(
        gcc.cfg.version.chars().next().unwrap().is_ascii_digit(),
        "{:?}",
        gcc.cfg.version
    );
}

#[test]
fn a_language_without_any_candidate_stops_the_start_naming_it() {
    let dir = fake_interpreter();
    let config = one_language(dir.path(), r#"["nothere", "/no/such/bin"]"#, false);
    let problems = preflight(&config).unwrap_err();
    let search = format!("/nonexistent-dir:{}", dir.path().display());
    let want = format!(
        "language fake: no program found (tried nothere, /no/such/bin; bare names in {search}) (set `optional = true` to start without it)"
    );
    assert!(problems.contains(&want), "{problems:?}");
    // Optional: left out, and the start fails only because nothing is left.
    let config = one_language(dir.path(), r#"["nothere"]"#, true);
    let problems = preflight(&config).unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("no language is available on this host: fake (no program found")),
        "{problems:?}"
    );
    assert!(!problems.iter().any(|p| p.starts_with("language fake")));
}

#[test]
fn commands_using_program_need_candidates() {
    let text = r#"
[[languages]]
name = "a"
version = "1"
source_file = "a.txt"
run = ["{program}", "{entry}"]
"#;
    let config: RunnerConfig = toml::from_str(text).unwrap();
    assert_eq!(
        config.validate().unwrap_err(),
        "languages.a.program: commands use {program} but no program candidates are given"
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

#[test]
fn check_lists_each_language_with_the_version_and_program_found() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config/runner.toml");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "name = \"execgate-runner\"",
        "name = \"execgate-test-check\"",
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("runner.toml");
    std::fs::write(&config, text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_execgate-runner"))
        .args(["runner", "--check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let python = std::fs::canonicalize("/usr/bin/python3").unwrap();
    let version = String::from_utf8_lossy(
        &std::process::Command::new(&python)
            .arg("--version")
            .output()
            .unwrap()
            .stdout,
    )
    .trim()
    .trim_start_matches("Python ")
    .to_string();
    let want = format!("  python {version} ({})", python.display());
    assert!(
        stdout.lines().any(|l| l == want),
        "{want:?} not in:\n{stdout}"
    );
}
