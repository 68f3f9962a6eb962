//! The command line: `check-config` prints the effective config or
//! `file:line: key: reason` with exit code 2.

use std::process::Command;

fn check(text: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gw.toml");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_execgate"))
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    (
        code,
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).replace(&dir.path().display().to_string(), "DIR"),
    )
}

#[test]
fn check_config_prints_the_effective_config_with_seed_tiers() {
    let (code, out, err) = check("[server]\nlisten = \"127.0.0.1:8181\"\n");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("listen = \"127.0.0.1:8181\""), "{out}");
    assert!(
        out.contains("[tiers.paid]") && out.contains("rate = \"1000/1day\""),
        "{out}"
    );
}

#[test]
fn check_config_names_file_line_and_key_and_exits_2() {
    let cases = [
        (
            "[server]\nlisten = \"nowhere\"\n",
            "DIR/gw.toml:2: server.listen: invalid address \"nowhere\"",
        ),
        (
            "[server]\nthreads = 2\nlisen = \"x\"\n",
            "DIR/gw.toml:3: server.lisen: unknown field `lisen`, expected one of `listen`",
        ),
        (
            "[server]\nheader_timeout = \"soon\"\n",
            "DIR/gw.toml:2: server.header_timeout: invalid duration \"soon\"",
        ),
        (
            "[tiers.free]\nmemory = \"12 parsecs\"\n",
            "DIR/gw.toml:2: tiers.free.memory: invalid size unit",
        ),
        (
            "[tiers.free]\nwindows = [{ name = \"burst\", rate = \"0/10s\" }]\n",
            "DIR/gw.toml:2: tiers.free.windows[0].rate: invalid rate \"0/10s\"",
        ),
        (
            "[[identity.api_keys]]\nsha256 = \"abc\"\nclient = \"a\"\ntier = \"free\"\n",
            "DIR/gw.toml:2: identity.api_keys[0].sha256: must be 64 hex digits",
        ),
        (
            &format!(
                "[[identity.api_keys]]\nsha256 = \"{}\"\nclient = \"a\"\ntier = \"gold\"\n",
                "a".repeat(64)
            ),
            "DIR/gw.toml:4: identity.api_keys[0].tier: unknown tier \"gold\"",
        ),
        (
            "[identity]\ntrusted_proxies = [\"10.0.0.0/33\"]\n",
            "DIR/gw.toml:2: identity.trusted_proxies[0]: invalid CIDR or address",
        ),
        (
            "[upstream]\naddresses = []\n",
            "DIR/gw.toml:2: upstream.addresses: list at least one executor address",
        ),
        (
            "[dialect]\nkind = \"k8s\"\n",
            "DIR/gw.toml:2: dialect.kind: unknown variant `k8s`",
        ),
    ];
    for (text, expected) in cases {
        let (code, _, err) = check(text);
        assert_eq!(code, 2, "{text}");
        assert!(
            err.starts_with(expected),
            "for\n{text}\nexpected {expected}\ngot      {err}"
        );
    }
}

#[test]
fn the_shipped_config_is_valid_and_its_rules_load() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/execgate.toml");
    let settings = execgate::config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(settings.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(settings.server.admin_listen.to_string(), "127.0.0.1:9090");
    assert_eq!(settings.tiers.len(), 3);
    if let Err(errors) = execgate::rules::load(&settings.rules) {
        panic!("shipped rules do not load:\n{}", errors.join("\n"));
    }
}
