//! The held-out families kept in `vendor/corpus/own/<language>/{escapes,benign}`
//! (code that arrives at run time, renamed patterns, bash, the Python red-team
//! families): every escape is refused and no look-alike is. A family is a
//! folder (`escapes/frames/…`) or, for files directly in `escapes/`, the
//! file-name prefix before `-`. Figures per family are printed, for the
//! report: `cargo test --test own_corpus -- --nocapture`.

use execgate_screen::{Language, RuleSet, ScreenPolicy, screen};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vendor/corpus/own")
}

fn shipped() -> RuleSet {
    RuleSet::load(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/screen")])
        .expect("shipped rules load")
}

/// (language, family, kind) → (refused, total).
type Figures = BTreeMap<(String, String, &'static str), (usize, usize)>;

/// The figures, and the files judged wrongly.
fn judge() -> (Figures, Vec<String>) {
    let rules = shipped();
    let policy = ScreenPolicy::default();
    let mut figures = BTreeMap::new();
    let mut wrong = Vec::new();
    let mut languages: Vec<PathBuf> = std::fs::read_dir(root())
        .expect("vendor/corpus/own exists")
        .map(|e| e.expect("entry").path())
        .collect();
    languages.sort();
    for dir in languages {
        let lang_name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let language = Language::from_name(&lang_name).expect("folder names a language");
        for kind in ["escapes", "benign"] {
            let Ok(entries) = std::fs::read_dir(dir.join(kind)) else {
                continue;
            };
            for (family, path) in programs(entries) {
                let name = path
                    .strip_prefix(dir.join(kind))
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                let code = std::fs::read(&path).expect("readable");
                let refused = screen(&rules, Some(language), &code, &policy).refused;
                let slot = figures
                    .entry((lang_name.clone(), family, kind))
                    .or_insert((0, 0));
                slot.0 += usize::from(refused);
                slot.1 += 1;
                if refused != (kind == "escapes") {
                    wrong.push(format!("{lang_name}/{kind}/{name}"));
                }
            }
        }
    }
    (figures, wrong)
}

/// Every program below a kind folder, with its family: the folder it sits
/// in, or the prefix of its name when it sits directly in the kind folder.
fn programs(entries: std::fs::ReadDir) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            let files = std::fs::read_dir(&path).expect("family folder readable");
            out.extend(files.map(|f| (name.clone(), f.expect("entry").path())));
        } else {
            out.push((name.split('-').next().unwrap_or("").to_string(), path));
        }
    }
    out.sort();
    out
}

#[test]
fn every_held_out_escape_is_refused_and_no_look_alike_is() {
    let (figures, wrong) = judge();
    for ((language, family, kind), (refused, total)) in &figures {
        println!("{language:<11} {family:<16} {kind:<8} refused {refused}/{total}");
    }
    let families = figures.keys().filter(|k| k.2 == "escapes").count();
    assert!(families >= 8, "corpus has too few families: {families}");
    assert!(wrong.is_empty(), "judged wrongly: {wrong:#?}");
}
