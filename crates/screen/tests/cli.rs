//! End to end through the `execgate-scan` binary: formats, exit codes, stdin.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_execgate-scan"))
}

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/screen")
}

fn scan(args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = bin();
    cmd.arg("scan").arg("--rules").arg(rules_dir()).args(args);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("wait")
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.display().to_string()
}

#[test]
fn text_format_is_linter_style_and_exit_1_on_refusal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = write(dir.path(), "bad.py", "x = 1\nimport os\n");
    let good = write(dir.path(), "good.py", "print(sum(range(10)))\n");
    let out = scan(&[&bad, &good], None);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    assert_eq!(
        stdout,
        format!(
            "{bad}:2:1 PY-IMPORT-PROCESS critical module os can run programs and is not allowed\n"
        )
    );
    let clean = scan(&[&good], None);
    assert_eq!(clean.status.code(), Some(0));
    assert!(clean.stdout.is_empty());
}

#[test]
fn json_format_has_one_object_per_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = write(dir.path(), "bad.py", "__import__('o' + 's')\n");
    let good = write(dir.path(), "good.py", "print(1)\n");
    let out = scan(&["--format", "json", &bad, &good], None);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v[0]["file"], bad);
    assert_eq!(v[0]["verdict"], "block");
    assert!(v[0]["score"].as_u64().expect("score") >= 5);
    let f = &v[0]["findings"][0];
    for key in ["rule", "line", "column", "severity", "action", "message"] {
        assert!(f.get(key).is_some(), "finding lacks {key}: {f}");
    }
    assert_eq!(
        v[1],
        serde_json::json!({"file": good, "verdict": "pass", "score": 0, "findings": []})
    );
}

#[test]
fn sarif_format_is_sarif_2_1_0() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = write(
        dir.path(),
        "bad.js",
        "const cp = require('child_process');\n",
    );
    let out = scan(&["--format", "sarif", &bad], None);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "execgate");
    assert_eq!(
        run["tool"]["driver"]["rules"][0]["id"],
        "JS-REQUIRE-DANGEROUS"
    );
    let result = &run["results"][0];
    assert_eq!(result["ruleId"], "JS-REQUIRE-DANGEROUS");
    assert_eq!(result["level"], "error");
    assert_eq!(
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        bad
    );
    assert_eq!(
        result["locations"][0]["physicalLocation"]["region"]["startLine"],
        1
    );
    assert_eq!(
        result["locations"][0]["physicalLocation"]["region"]["startColumn"],
        12
    );
}

#[test]
fn stdin_needs_a_language_or_gets_only_any_rules() {
    let out = scan(&["--language", "python3", "-"], Some("import socket\n"));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("-:1:1 PY-IMPORT-NETWORK"));
    let unknown = scan(&["-"], Some("import socket\n"));
    assert_eq!(
        unknown.status.code(),
        Some(0),
        "unknown language: only `any` rules"
    );
}

#[test]
fn usage_and_input_errors_exit_2() {
    let out = scan(&["--language", "cobol", "x.py"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown language `cobol`"));
    let missing = scan(&["/nonexistent/file.py"], None);
    assert_eq!(missing.status.code(), Some(2));
    let no_files = bin().arg("scan").output().expect("run");
    assert_eq!(no_files.status.code(), Some(2), "clap usage error");
}

#[test]
fn detection_only_reports_without_refusing() {
    let out = scan(
        &["--detection-only", "--language", "py", "-"],
        Some("import os\n"),
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("PY-IMPORT-PROCESS"));
}

#[test]
fn rules_check_validates_directories() {
    let ok = bin()
        .args(["rules", "check"])
        .arg(rules_dir())
        .output()
        .expect("run");
    assert_eq!(ok.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&ok.stdout).starts_with("ok: "));
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "bad.toml",
        "[[rule]]\nid = \"X\"\nlanguage = \"python\"\nseverity = \"critical\"\naction = \"block\"\nmessage = \"m\"\nmatch.regex = \"(\"\n",
    );
    let bad = bin()
        .args(["rules", "check"])
        .arg(dir.path())
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.starts_with(&format!(
            "{}:7: X: match.regex: invalid regex: unclosed group",
            dir.path().join("bad.toml").display()
        )),
        "{stderr}"
    );
}

#[test]
fn rules_may_come_from_several_directories() {
    let extra = tempfile::tempdir().expect("tempdir");
    write(
        extra.path(),
        "site.toml",
        "[[rule]]\nid = \"SITE-NO-PRINT\"\nlanguage = \"python\"\nseverity = \"critical\"\naction = \"block\"\nmessage = \"{name} is not allowed here\"\nmatch.call = [\"print\"]\n",
    );
    let extra_dir = extra.path().display().to_string();
    let out = scan(
        &["--rules", &extra_dir, "--language", "python", "-"],
        Some("print(1)\n"),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "-:1:1 SITE-NO-PRINT critical print is not allowed here\n"
    );
    let shipped_still_apply = scan(
        &["--rules", &extra_dir, "--language", "python", "-"],
        Some("import os\n"),
    );
    assert!(String::from_utf8_lossy(&shipped_still_apply.stdout).contains("PY-IMPORT-PROCESS"));
}
