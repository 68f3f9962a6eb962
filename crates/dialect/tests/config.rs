//! The `[dialect] kind` key: one API or a list, refused when empty, repeated
//! or when two listed APIs would claim the same path; errors say where.

use execgate_core::file_error::parse_toml;
use execgate_dialect::{Dialect, DialectConfig, DialectKind, DialectKinds};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A config file with a `[dialect]` section, as the gateway reads it.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct File {
    dialect: DialectConfig,
}

fn load(text: &str) -> Result<DialectConfig, String> {
    parse_toml::<File>(Path::new("gw.toml"), text)
        .map(|f| f.dialect)
        .map_err(|e| e.to_string())
}

fn refused(text: &str) -> String {
    load(text).expect_err("config must be refused")
}

/// `Dialect::new`'s refusal of a config that parses.
fn unbuildable(text: &str) -> String {
    Dialect::new(load(text).unwrap()).expect_err("dialect must be refused")
}

#[test]
fn kind_is_one_api_or_a_list() {
    use DialectKind::*;
    let one = load("[dialect]\nkind = \"judge0\"\n").unwrap();
    assert_eq!(one.kind.as_slice(), [Judge0]);
    let both = load("[dialect]\nkind = [\"piston\", \"judge0\"]\n").unwrap();
    assert_eq!(both.kind.as_slice(), [Piston, Judge0]);
    assert!(both.kind.contains(Judge0) && !both.kind.contains(Generic));
    assert_eq!(load("").unwrap_or_default().kind.as_slice(), [Piston]);
    assert_eq!(load("[dialect]\n").unwrap().kind.as_slice(), [Piston]);
    let d = Dialect::new(both).unwrap();
    assert_eq!(d.kinds(), [Piston, Judge0]);
}

#[test]
fn kind_is_written_back_as_it_is_read() {
    for text in [
        "kind = \"judge0\"",
        "kind = [\"judge0\", \"piston\"]",
        "kind = [\"piston\"]",
    ] {
        let file = File {
            dialect: load(&format!("[dialect]\n{text}\n")).unwrap(),
        };
        let written = toml::to_string(&file).unwrap();
        let again = load(&written).unwrap();
        assert_eq!(again.kind, file.dialect.kind, "{written}");
    }
    let one = File {
        dialect: load("[dialect]\nkind = [\"judge0\"]\n").unwrap(),
    };
    assert!(
        toml::to_string(&one)
            .unwrap()
            .contains("kind = \"judge0\"\n")
    );
}

#[test]
fn bad_kinds_are_refused_with_their_line_and_key() {
    let cases = [
        (
            "[dialect]\nkind = []\n",
            "gw.toml:2: dialect.kind: list at least one executor API (piston, judge0 or generic)",
        ),
        (
            "[dialect]\nkind = [\"piston\", \"judge0\", \"piston\"]\n",
            "gw.toml:2: dialect.kind: piston is listed twice",
        ),
        (
            "[dialect]\nkind = \"k8s\"\n",
            "gw.toml:2: dialect.kind: unknown variant `k8s`, expected one of `piston`, `judge0`, `generic`",
        ),
        (
            "[dialect]\nmax_files = 3\nkind = [\"piston\", \"k8s\"]\n",
            "gw.toml:3: dialect.kind[1]: unknown variant `k8s`, expected one of `piston`, `judge0`, `generic`",
        ),
        (
            "[dialect]\nkind = 3\n",
            "gw.toml:2: dialect.kind: invalid type: integer `3`, expected an executor API \
             (\"piston\", \"judge0\", \"generic\") or a list of them",
        ),
        (
            "[dialect]\nkind = [[\"piston\"]]\n",
            "gw.toml:2: dialect.kind[0]: wanted string or table",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(refused(text), expected, "{text}");
    }
}

#[test]
fn kind_lists_are_checked_when_built_in_code() {
    use DialectKind::*;
    assert_eq!(
        DialectKinds::new(vec![]).unwrap_err(),
        "list at least one executor API (piston, judge0 or generic)"
    );
    assert_eq!(
        DialectKinds::new(vec![Judge0, Piston, Judge0]).unwrap_err(),
        "judge0 is listed twice"
    );
    assert_eq!(DialectKinds::from(Generic).as_slice(), [Generic]);
    assert_eq!(DialectKinds::default().as_slice(), [Piston]);
}

/// `[dialect]` with `kind` and a generic executor on `routes`.
fn with_generic(kind: &str, routes: &str) -> String {
    format!(
        "[dialect]\nkind = {kind}\n[dialect.generic]\n{routes}\ncode = \"/code\"\n\
         default_language = \"python\"\n"
    )
}

#[test]
fn apis_that_would_share_a_path_are_refused() {
    let all = "[\"piston\", \"judge0\", \"generic\"]";
    let cases = [
        (
            with_generic(
                all,
                "execute = [\"POST /run\"]\npassthrough = [\"GET /languages\"]",
            ),
            "dialect.kind: judge0 and generic both route /languages; each path must belong to one API",
        ),
        (
            with_generic(
                "[\"generic\", \"piston\"]",
                "execute = [\"POST /api/v2/execute\"]",
            ),
            "dialect.kind: generic and piston both route /api/v2/execute; each path must belong to one API",
        ),
        (
            // A path is owned whole: another method on it still collides.
            with_generic(
                all,
                "execute = [\"POST /run\"]\npassthrough = [\"GET /submissions/{t}\"]",
            ),
            "dialect.kind: judge0 and generic both route /submissions/batch; each path must belong to one API",
        ),
        (
            with_generic(all, "execute = [\"POST /{v}/v2/runtimes\"]"),
            "dialect.kind: piston and generic both route /api/v2/runtimes; each path must belong to one API",
        ),
        (
            // Piston matches case-insensitively; the generic spelling is what collides.
            with_generic(all, "execute = [\"POST /API/V2/Execute\"]"),
            "dialect.kind: piston and generic both route /API/V2/Execute; each path must belong to one API",
        ),
        (
            // Judge0 (Rails) also answers with a `.json` format suffix.
            with_generic(
                "[\"judge0\", \"generic\"]",
                "execute = [\"POST /about.json\"]",
            ),
            "dialect.kind: judge0 and generic both route /about.json; each path must belong to one API",
        ),
        (
            with_generic("[\"judge0\", \"generic\"]", "execute = [\"POST /*\"]"),
            "dialect.kind: judge0 and generic both route /submissions; each path must belong to one API",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(unbuildable(&text), expected, "{text}");
    }
}

#[test]
fn apis_on_disjoint_paths_are_accepted() {
    let routes = "execute = [\"POST /run\", \"POST /api/v3/execute\", \"POST /submissions/{t}/rerun\"]\n\
                  passthrough = [\"GET /languages2\", \"GET /api/v2\", \"GET /api/v2/execute/{x}\"]";
    let d = Dialect::new(
        load(&with_generic(
            "[\"piston\", \"judge0\", \"generic\"]",
            routes,
        ))
        .unwrap(),
    );
    assert_eq!(d.unwrap().kinds().len(), 3);
    let text = "[dialect]\nkind = [\"judge0\", \"generic\"]\n";
    assert_eq!(
        unbuildable(text),
        "dialect.generic: required when kind = \"generic\""
    );
}
