//! Outbound leak rules: findings, scores, withholding at the threshold and
//! detection-only mode, each checked on the whole body and every chunk split.

mod support;

use execgate_core::Severity;
use execgate_sanitize::{FieldKind, OutputPolicy, Reader, sanitize_text};
use support::*;

const PASSWD: &str =
    "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n";

fn leak(stdout: &str, policy: &OutputPolicy) -> execgate_sanitize::SanitizedBody {
    sanitize_every_split(policy, &piston_body(stdout), &piston_fields())
}

#[test]
fn passwd_lines_withhold_every_output_field() {
    let result = leak(PASSWD, &OutputPolicy::default());
    assert!(result.withheld);
    assert_eq!(finding_ids(&result), vec!["etc-passwd"]);
    assert_eq!(result.leak_score, 5);
    let doc: serde_json::Value = serde_json::from_slice(&result.body).unwrap();
    for field in ["stdout", "output"] {
        let text = doc["run"][field].as_str().unwrap();
        assert!(text.starts_with("[execgate: output withheld:"), "{text}");
        assert!(
            text.contains("etc-passwd") && !text.contains("root:x"),
            "{text}"
        );
    }
    assert_eq!(
        doc["run"]["stderr"], doc["run"]["stdout"],
        "empty fields are withheld too"
    );
    assert_eq!(doc["language"], "python", "non-output fields are kept");
    let fields: Vec<&str> = result.findings.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, vec!["/run/stdout", "/run/output"]);
}

#[test]
fn detection_only_records_without_withholding() {
    let policy = OutputPolicy {
        detection_only: true,
        ..Default::default()
    };
    let result = leak(PASSWD, &policy);
    assert!(!result.withheld);
    assert_eq!(result.leak_score, 5);
    assert!(run_stdout(&result).contains("root:x:0:0"));
}

#[test]
fn below_the_threshold_output_passes_with_its_findings() {
    let result = leak(
        "curl http://169.254.169.254/latest/meta-data/ failed\n",
        &OutputPolicy::default(),
    );
    assert_eq!(finding_ids(&result), vec!["metadata-endpoint"]);
    assert_eq!(result.findings[0].severity, Severity::Notice);
    assert_eq!(
        result.leak_score, 2,
        "one rule counts once although two fields matched"
    );
    assert!(!result.withheld);
    assert!(run_stdout(&result).contains("[REDACTED:private-ip]"));
}

#[test]
fn scores_add_up_across_rules_to_the_threshold() {
    let policy = OutputPolicy {
        leak_threshold: 7,
        ..Default::default()
    };
    let stdout = "curl http://169.254.169.254/\nroot:x:0:0:root:/root:/bin/bash\n";
    let result = leak(stdout, &policy);
    assert_eq!(result.leak_score, 7);
    assert!(result.withheld);
}

/// Every leak rule in `rules/output.toml` has an example here that fires it; the
/// rules worth the default threshold (4 points) withhold the output on their own.
#[test]
fn every_shipped_leak_rule_detects_its_example() {
    let cases: [(&str, String); 9] = [
        ("etc-passwd", PASSWD.into()),
        ("etc-shadow", "root:$6$salt$hashhashhash:19000:0:99999:7:::\n".into()),
        ("proc-environ", "PATH=/usr/bin\0HOME=/root\0SECRET=abc\0".into()),
        (
            "cloud-metadata-credentials",
            r#"{"Code":"Success","AccessKeyId":"ASIAZ7VRSQ5TQLYXW3KE","SecretAccessKey":"wJalrXUtnFEMIK7MDENGbPxRfiCY","Token":"IQoJb3JpZ2luX2VjEJr"}"#.into(),
        ),
        (
            "cloud-instance-identity",
            r#"{"accountId":"123456789012","instanceId":"i-0abc","imageId":"ami-1","region":"eu-west-1"}"#.into(),
        ),
        ("gcp-service-account", r#"{"type": "service_account", "project_id": "p"}"#.into()),
        ("kubernetes-service-account", "ls /var/run/secrets/kubernetes.io/serviceaccount\n".into()),
        ("metadata-endpoint", "curl: (7) Failed to connect to 169.254.169.254 port 80\n".into()),
        ("tenant-marker", "found EXECGATE-TENANT-7f3a9c21d0 in /tmp/cache\n".into()),
    ];
    for rule in RULES.leak_rules() {
        let Some((_, stdout)) = cases.iter().find(|(id, _)| *id == rule.id) else {
            panic!("no example for the shipped leak rule {:?}", rule.id);
        };
        let result = leak(stdout, &OutputPolicy::default());
        assert!(
            finding_ids(&result).contains(&rule.id.as_str()),
            "{}: {:?}",
            rule.id,
            finding_ids(&result)
        );
        assert_eq!(
            result.withheld,
            rule.severity.default_points() >= 4,
            "{} ({:?}) withholds at the default threshold exactly when it is worth 4 points",
            rule.id,
            rule.severity
        );
    }
    assert_eq!(
        cases.len(),
        RULES.leak_rules().len(),
        "an example without a rule"
    );
}

/// The platform plants `EXECGATE-TENANT-<tenant id>` in each tenant's data: in
/// the output of the tenant's own program the marker is its data, in anyone
/// else's it is a cross-tenant leak.
#[test]
fn a_tenants_own_marker_is_its_data_and_another_tenants_is_a_leak() {
    let policy = OutputPolicy::default();
    let read_by = |stdout: &str, reader| {
        sanitize_every_split_for(&policy, reader, &piston_body(stdout), &piston_fields())
    };
    let own_row = "invoice 17 EXECGATE-TENANT-acme0001\n";
    let own = read_by(own_row, Reader::tenant("acme0001"));
    assert!(own.findings.is_empty(), "{:?}", own.findings);
    assert!(run_stdout(&own).contains("EXECGATE-TENANT-acme0001"));

    for reader in [Reader::tenant("globex01"), Reader::ANYONE] {
        let other = read_by(own_row, reader);
        assert_eq!(finding_ids(&other), vec!["tenant-marker"], "{reader:?}");
        assert!(other.withheld, "{reader:?}");
    }
    // An id that merely starts with the reader's is another tenant, and so is a second marker
    // beside the reader's own.
    for stdout in [
        "EXECGATE-TENANT-acme00012\n",
        "EXECGATE-TENANT-acme0001-eu\n",
        "EXECGATE-TENANT-acme0001_eu.\n",
        "EXECGATE-TENANT-acme0001 EXECGATE-TENANT-globex01\n",
    ] {
        let mixed = read_by(stdout, Reader::tenant("acme0001"));
        assert_eq!(finding_ids(&mixed), vec!["tenant-marker"], "{stdout}");
    }
    // Every client id is a tenant, short or with punctuation, and the marker
    // may end a sentence.
    for (id, stdout) in [
        ("bob", "see EXECGATE-TENANT-bob.\n"),
        ("acme_eu-1.x@y", "(EXECGATE-TENANT-acme_eu-1.x@y)\n"),
    ] {
        assert!(
            read_by(stdout, Reader::tenant(id)).findings.is_empty(),
            "{id}"
        );
        let other = read_by(stdout, Reader::tenant("globex01"));
        assert_eq!(finding_ids(&other), vec!["tenant-marker"], "{id}");
    }
    // Whatever follows the prefix, glued to any text, is a marker of someone.
    for stdout in [
        "EXECGATE-TENANT-_acme\n",
        "EXECGATE-TENANT--acme\n",
        "éEXECGATE-TENANT-victim\n",
        "xEXECGATE-TENANT-victim\n",
        "EXECGATE-TENANT-\n",
    ] {
        let leaked = read_by(stdout, Reader::tenant("acme"));
        assert_eq!(finding_ids(&leaked), vec!["tenant-marker"], "{stdout}");
    }
    // A subject that cannot be a tenant id owns no marker.
    let odd = read_by("EXECGATE-TENANT-acme-\n", Reader::tenant("acme-"));
    assert_eq!(finding_ids(&odd), vec!["tenant-marker"]);
}

/// A rule names the marker's tenant with a group called `tenant`; without one
/// every match counts, whoever reads it, and line-scoped rules keep the group.
#[test]
fn only_a_rule_with_a_tenant_group_spares_the_readers_own_marker() {
    let rules = |regex: &str, scope: &str| {
        let text = format!(
            "[[leak]]\nid = \"canary\"\nseverity = \"critical\"\nmessage = \"m\"\n\
             regex = '''{regex}'''\nscope = \"{scope}\"\nkeywords = [\"canary-\"]\n"
        );
        execgate_sanitize::OutputRules::parse(&[(std::path::Path::new("t.toml"), &text)]).unwrap()
    };
    let reader = Reader::tenant("acme0001");
    let findings = |rules: &execgate_sanitize::OutputRules| {
        let text = "CANARY-acme0001\n";
        sanitize_text(
            rules,
            &OutputPolicy::default(),
            reader,
            FieldKind::Stdout,
            text,
        )
        .findings
    };
    for scope in ["text", "line"] {
        let named = rules(r"CANARY-(?P<tenant>[a-z0-9]+)", scope);
        assert!(findings(&named).is_empty(), "{scope}");
        let unnamed = rules(r"CANARY-([a-z0-9]+)", scope);
        assert_eq!(findings(&unnamed).len(), 1, "{scope}");
    }
}

/// A prefix on each line (indentation, `cat -n`, `nl`, `grep -n`) does not hide a
/// passwd or shadow file.
#[test]
fn indented_and_numbered_passwd_and_shadow_lines_are_leaks() {
    for (rule, stdout) in [
        ("etc-passwd", "  root:x:0:0:root:/root:/bin/bash\n"),
        ("etc-passwd", "\troot:x:0:0:root:/root:/bin/bash\n"),
        (
            "etc-passwd",
            "users:\n    daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n",
        ),
        ("etc-passwd", "     1\troot:x:0:0:root:/root:/bin/bash\n"),
        ("etc-passwd", "1:root:x:0:0:root:/root:/bin/bash\r\n"),
        (
            "etc-shadow",
            "  root:$6$salt$hashhashhash:19000:0:99999:7:::\n",
        ),
        ("etc-shadow", "     2\tdaemon:*:19000:0:99999:7:::\n"),
    ] {
        let result = leak(stdout, &OutputPolicy::default());
        assert_eq!(finding_ids(&result), vec![rule], "{stdout:?}");
        assert!(result.withheld, "{stdout:?}");
    }
}

#[test]
fn ordinary_output_with_colons_is_not_a_leak() {
    for clean in [
        "a:b:c\nstd::vector<int>::iterator\nkey: value\n",
        "x=1\ny=2\n",
        "time 12:30:45\n",
        "  a:b:c\n    std::map<int, int>::iterator\n\tkey: value\n",
        "  10:30:45: started\n  1:2:3:4:5:6\n",
        "    12\tstd::cout << x::y << std::endl;\n",
        "  url: http://host:8080/a::b\n  ip6 fe80::1:2:3:4\n",
        "  x::1:2::relative/path:sh\n",
    ] {
        let result = leak(clean, &OutputPolicy::default());
        assert!(
            result.findings.is_empty(),
            "{clean:?}: {:?}",
            result.findings
        );
    }
}

#[test]
fn sanitize_text_withholds_plain_text_too() {
    let result = sanitize_text(
        &RULES,
        &OutputPolicy::default(),
        Reader::ANYONE,
        FieldKind::Stdout,
        PASSWD,
    );
    assert!(result.withheld);
    assert!(result.text.contains("output withheld"));
    assert_eq!(result.findings[0].field, "");
}
