//! The evaluation corpus (`shared/corpus` beside the repository, else the
//! snapshot in `vendor/corpus`): every escape is refused and no benign program
//! is, under the default policy and the shipped rules. The test fails, not
//! skips, when the corpus is missing.

use execgate_screen::{Language, RuleSet, ScreenPolicy, Verdict, screen};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn corpus() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = root.join("../../../shared/corpus");
    if shared.join("escapes").is_dir() {
        shared
    } else {
        root.join("../../vendor/corpus")
    }
}

fn shipped_rules() -> RuleSet {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/screen");
    RuleSet::load(&[dir]).unwrap_or_else(|e| panic!("shipped rules invalid: {e:?}"))
}

/// The default policy; unoptimised test builds parse ~20x slower, so only the
/// analysis time budget is widened there.
fn policy() -> ScreenPolicy {
    let mut policy = ScreenPolicy::default();
    if cfg!(debug_assertions) {
        policy.analysis_timeout.0 = Duration::from_secs(60);
    }
    policy
}

fn screen_folder(rules: &RuleSet, folder: &str) -> Vec<(String, Verdict)> {
    let dir = corpus().join(folder);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus folder {} missing: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "py"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .py files in {}", dir.display());
    let policy = policy();
    files
        .into_iter()
        .map(|path| {
            let code = std::fs::read(&path).expect("readable corpus file");
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, screen(rules, Some(Language::Python), &code, &policy))
        })
        .collect()
}

fn describe(v: &Verdict) -> String {
    let rules: Vec<String> = v
        .findings
        .iter()
        .map(|f| format!("{}@{}", f.rule, f.line))
        .collect();
    format!(
        "score {} [{}] parse_error={:?}",
        v.score,
        rules.join(", "),
        v.parse_error
    )
}

#[test]
fn corpus_is_present() {
    let dir = corpus();
    assert!(
        dir.join("escapes").is_dir() && dir.join("benign").is_dir(),
        "evaluation corpus missing at {}",
        dir.display()
    );
}

/// Screens a folder and fails listing every file whose verdict is not `want_refused`.
fn expect_all(folder: &str, want_refused: bool) {
    let rules = shipped_rules();
    let results = screen_folder(&rules, folder);
    let wrong: Vec<String> = results
        .iter()
        .filter(|(_, v)| v.refused != want_refused)
        .map(|(n, v)| format!("{n}: {}", describe(v)))
        .collect();
    let outcome = if want_refused { "refused" } else { "passed" };
    println!(
        "{folder}: {} {outcome} of {}",
        results.len() - wrong.len(),
        results.len()
    );
    assert!(
        wrong.is_empty(),
        "{folder} not {outcome}:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn every_escape_is_refused() {
    expect_all("escapes", true);
}

#[test]
fn no_benign_program_is_refused() {
    expect_all("benign", false);
}

#[test]
fn runtime_programs_are_screened_without_failing() {
    let rules = shipped_rules();
    let results = screen_folder(&rules, "runtime");
    let refused = results.iter().filter(|(_, v)| v.refused).count();
    for (name, v) in &results {
        assert!(
            v.parse_error.as_deref() != Some("analysis failed"),
            "{name}: {}",
            describe(v)
        );
    }
    println!(
        "runtime: {} refused, {} scored only, of {}",
        refused,
        results.len() - refused,
        results.len()
    );
}
