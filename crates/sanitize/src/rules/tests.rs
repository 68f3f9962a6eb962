//! Loading and validating rule files.

use super::*;

fn parse(text: &str) -> Result<OutputRules, Vec<FileError>> {
    OutputRules::parse(&[(Path::new("out.toml"), text)])
}

fn errors(text: &str) -> Vec<String> {
    parse(text)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn the_shipped_rules_compile() {
    let rules = OutputRules::shipped().unwrap();
    assert!(rules.redact_rules().len() >= 15);
    assert!(rules.leak_rules().len() >= 8);
}

#[test]
fn bad_regex_is_reported_at_the_rules_line() {
    let text = "[[redact]]\nid = \"ok\"\nregex = 'a'\n\n[[redact]]\nid = \"broken\"\nregex = '(unclosed'\n";
    let errs = errors(text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with("out.toml:6: broken: regex: invalid regex:"),
        "{errs:?}"
    );
}

#[test]
fn every_problem_of_a_file_is_reported() {
    let text = r#"
[[redact]]
id = "Bad Id"
regex = 'x'

[[redact]]
id = "grp"
regex = 'x'
secret_group = 2

[[leak]]
id = "grp"
severity = "error"
message = "m"
regex = 'y'

[[leak]]
id = "zero"
severity = "notice"
message = "m"
regex = 'y'
min_count = 0

[[redact]]
id = "entropy"
regex = 'x'
min_entropy = 9.0

[[redact]]
id = "kw"
regex = 'x'
keywords = [""]
"#;
    let errs = errors(text);
    assert_eq!(
        errs,
        vec![
            "out.toml:3: Bad Id: id must be 1-64 characters of a-z, 0-9 and '-'",
            "out.toml:7: grp: secret_group: the regex has no group 2 (it has 0)",
            "out.toml:25: entropy: min_entropy: must be between 0 and 8 bits per byte",
            "out.toml:30: kw: keywords: a keyword must not be empty",
            "out.toml:12: grp: duplicate rule id",
            "out.toml:18: zero: min_count: must be at least 1",
        ]
    );
}

#[test]
fn unknown_keys_and_bad_severities_are_errors() {
    let errs = errors("[[redact]]\nid = \"a\"\nregex = 'x'\nkeyword = ['a']\n");
    assert!(errs[0].starts_with("out.toml:4:"), "{errs:?}");
    assert!(errs[0].contains("unknown field `keyword`"), "{errs:?}");
    let errs = errors("[[leak]]\nid = \"a\"\nseverity = \"fatal\"\nmessage = 'm'\nregex = 'x'\n");
    assert!(errs[0].contains("unknown variant `fatal`"), "{errs:?}");
}

#[test]
fn ids_are_unique_across_files() {
    let a = "[[redact]]\nid = \"same\"\nregex = 'x'\n";
    let errs =
        OutputRules::parse(&[(Path::new("a.toml"), a), (Path::new("b.toml"), a)]).unwrap_err();
    assert_eq!(errs[0].to_string(), "b.toml:2: same: duplicate rule id");
}

#[test]
fn load_reads_files_and_reports_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(&good, "[[redact]]\nid = \"a\"\nregex = 'x'\n").unwrap();
    assert_eq!(
        OutputRules::load(std::slice::from_ref(&good))
            .unwrap()
            .redact_rules()
            .len(),
        1
    );
    let missing = dir.path().join("missing.toml");
    let errs = OutputRules::load(&[good, missing.clone()]).unwrap_err();
    assert!(
        errs[0]
            .to_string()
            .starts_with(&format!("{}: cannot read:", missing.display()))
    );
}

#[test]
fn the_prefilter_only_activates_rules_whose_keywords_appear() {
    let text = "[[redact]]\nid = \"k\"\nregex = 'x'\nkeywords = ['needle']\n\
                [[redact]]\nid = \"always\"\nregex = 'x'\n";
    let rules = parse(text).unwrap();
    assert_eq!(rules.active("hay").redact, vec![false, true]);
    assert_eq!(rules.active("a NEEDLE").redact, vec![true, true]);
}

#[test]
fn overlapping_and_contained_keywords_all_activate_their_rules() {
    let text = "[[redact]]\nid = \"a\"\nregex = 'x'\nkeywords = ['ab']\n\
                [[redact]]\nid = \"b\"\nregex = 'x'\nkeywords = ['bcd']\n\
                [[redact]]\nid = \"c\"\nregex = 'x'\nkeywords = ['access']\n\
                [[leak]]\nid = \"d\"\nseverity = 'notice'\nmessage = 'm'\nregex = 'x'\nkeywords = ['AccessKeyId']\n";
    let rules = parse(text).unwrap();
    assert_eq!(rules.active("xabcdx").redact, vec![true, true, false]);
    let active = rules.active("\"AccessKeyId\":");
    assert_eq!(active.redact, vec![false, false, true]);
    assert_eq!(active.leak, vec![true]);
}

#[test]
fn line_scope_needs_keywords_and_scopes_are_checked() {
    let errs = errors(
        "[[leak]]\nid = \"l\"\nseverity = 'error'\nmessage = 'm'\nregex = 'x'\nscope = 'line'\n",
    );
    assert_eq!(
        errs,
        vec![
            "out.toml:2: l: scope: \"line\" needs keywords (it runs on the lines that contain them)"
        ]
    );
    let errs = errors("[[redact]]\nid = \"a\"\nregex = 'x'\nscope = 'page'\n");
    assert!(errs[0].contains("unknown variant `page`"), "{errs:?}");
}
