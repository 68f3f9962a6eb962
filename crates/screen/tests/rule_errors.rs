//! One fixture per validation rule (tests/fixtures/bad_rules/*.toml), each
//! opening with `# expect: MESSAGE`: loading it must fail with an error whose
//! Display starts with MESSAGE (`{file}` stands for the fixture's path) and
//! is a single line; the line named is the one holding the key at fault.

use execgate_screen::RuleSet;
use std::path::{Path, PathBuf};

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad_rules");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
}

#[test]
fn every_bad_rule_file_is_reported_as_file_line_rule_reason() {
    let files = fixtures();
    assert!(files.len() >= 30, "fixtures missing");
    let mut failures = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("readable");
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .expect("first line is # expect: …");
        let origin = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let expect = expect.replace("{file}", &origin);
        match RuleSet::from_toml(&origin, &text) {
            Ok(_) => failures.push(format!("{origin}: loaded, expected {expect:?}")),
            Err(errors) => {
                let got = errors[0].to_string();
                if !got.starts_with(&expect) || got.contains('\n') {
                    failures.push(format!(
                        "{origin}:\n  expected {expect:?}\n  got      {got:?}"
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn ids_must_be_unique_across_files_and_all_errors_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rule = |id: &str| {
        format!(
            "[[rule]]\nid = \"{id}\"\nlanguage = \"python\"\nseverity = \"notice\"\naction = \"log\"\nmessage = \"m\"\nmatch.import = [\"os\"]\n"
        )
    };
    std::fs::write(dir.path().join("a.toml"), rule("SAME")).expect("write");
    std::fs::write(
        dir.path().join("b.toml"),
        format!("{}\n{}", rule("OTHER"), rule("SAME")),
    )
    .expect("write");
    std::fs::write(dir.path().join("c.toml"), "[[rule]]\nid = \"BROKEN\"\n").expect("write");
    std::fs::write(dir.path().join("notes.txt"), "not a rule file").expect("write");
    let errors = RuleSet::load(&[dir.path().to_path_buf()]).expect_err("invalid set");
    let messages: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    let b = dir.path().join("b.toml");
    let a = dir.path().join("a.toml");
    assert!(
        messages.contains(&format!(
            "{}:10: SAME: duplicate id, first defined in {}",
            b.display(),
            a.display()
        )),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("c.toml:1: BROKEN: missing field")),
        "{messages:?}"
    );
    assert_eq!(errors[0].rule(), Some("SAME"));
}

#[test]
fn a_missing_directory_is_an_error_and_an_empty_one_is_an_empty_set() {
    let errors =
        RuleSet::load(&[PathBuf::from("/nonexistent/execgate/rules")]).expect_err("missing dir");
    assert!(
        errors[0]
            .to_string()
            .starts_with("/nonexistent/execgate/rules: cannot read directory"),
        "{}",
        errors[0]
    );
    let empty = tempfile::tempdir().expect("tempdir");
    let set = RuleSet::load(&[empty.path().to_path_buf()]).expect("empty set loads");
    assert!(set.is_empty());
}
