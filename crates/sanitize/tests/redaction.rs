//! Redaction expectations on Piston and Judge0 bodies, each checked on the whole
//! body and on every chunk split through `ResponseBuffer`.

mod support;

use execgate_sanitize::OutputPolicy;
use support::*;

/// Sanitizes a Piston body with `stdout` and returns the new stdout and rule ids.
fn redact_stdout(stdout: &str) -> (String, Vec<String>) {
    let body = piston_body(stdout);
    let result = sanitize_every_split(&OutputPolicy::default(), &body, &piston_fields());
    let ids = redaction_ids(&result)
        .iter()
        .map(|s| s.to_string())
        .collect();
    (run_stdout(&result), ids)
}

#[track_caller]
fn assert_redacted(stdout: &str, secret: &str, rule: &str) {
    let (out, ids) = redact_stdout(stdout);
    assert!(!out.contains(secret), "{rule}: secret still in {out:?}");
    assert!(
        out.contains(&format!("[REDACTED:{rule}]")),
        "{rule}: no marker in {out:?}"
    );
    assert!(
        ids.contains(&rule.to_string()),
        "{rule}: not counted in {ids:?}"
    );
}

#[test]
fn cloud_and_vcs_tokens_are_redacted() {
    let cases = [
        ("aws-access-key", "AKIAZ7VRSQ5TQLYXW3KE"),
        ("github-token", "ghp_4F8a9Lq2Zx7Vb1Nc3Md5Kf6Gh8Jk0Pq2Rs4T"),
        ("github-token", "ghs_Aa1Bb2Cc3Dd4Ee5Ff6Gg7Hh8Ii9Jj0Kk1Ll2"),
        ("gitlab-token", "glpat-x7Kp2Lm9Qr4Tv6Wz8Yb1"),
        (
            "slack-token",
            "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        ),
        ("stripe-key", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
        ("google-api-key", "AIzaSyD3x7Kp2Lm9Qr4Tv6Wz8Yb1Nc3Md5Kf6Gh"),
        (
            "google-oauth-token",
            "ya29.a0AfH6SMBx7Kp2Lm9Qr4Tv6Wz8Yb1Nc3Md5",
        ),
        (
            "openai-key",
            "sk-proj-x7Kp2Lm9Qr4Tv6Wz8Yb1Nc3Md5Kf6Gh8Jk0Pq2Rs4TuV6",
        ),
        ("npm-token", "npm_x7Kp2Lm9Qr4Tv6Wz8Yb1Nc3Md5Kf6Gh8Jk0P"),
        ("huggingface-token", "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"),
    ];
    for (rule, secret) in cases {
        assert_redacted(&format!("token: {secret}\nbye\n"), secret, rule);
    }
}

/// One example per shipped redaction rule: (rule id, output text, the secret in it).
const EXAMPLES: &[(&str, &str, &str)] = &[
    (
        "aws-access-key",
        "AKIAZ7VRSQ5TQLYXW3KE",
        "AKIAZ7VRSQ5TQLYXW3KE",
    ),
    (
        "aws-secret-key",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8Zr2LxW9",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8Zr2LxW9",
    ),
    (
        "github-token",
        "ghp_4F8a9Lq2Zx7Vb1Nc3Md5Kf6Gh8Jk0Pq2Rs4T",
        "4F8a9Lq2Zx7Vb1Nc3Md5Kf6Gh8Jk0Pq2Rs4T",
    ),
    (
        "gitlab-token",
        "glrt-x7Kp2Lm9Qr4Tv6Wz8Yb1",
        "x7Kp2Lm9Qr4Tv6Wz8Yb1",
    ),
    (
        "slack-token",
        "xoxp-1234567890-x7Kp2Lm9Qr4Tv6Wz8Yb1",
        "x7Kp2Lm9Qr4Tv6Wz8Yb1",
    ),
    (
        "slack-webhook",
        "https://hooks.slack.com/services/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",
        "Wz8Yb1Nc3Md5Kf6Gh8Jk0Pq2",
    ),
    (
        "stripe-key",
        "rk_live_4eC39HqLyjWDarjtT1zdp7dc",
        "4eC39HqLyjWDarjtT1zdp7dc",
    ),
    (
        "google-api-key",
        "AIzaSyD3x7Kp2Lm9Qr4Tv6Wz8Yb1Nc3Md5Kf6Gh",
        "SyD3x7Kp2Lm9Qr4Tv6Wz8Yb1Nc3Md5Kf6Gh",
    ),
    (
        "google-oauth-token",
        "ya29.a0AfH6SMBx7Kp2Lm9Qr4Tv6Wz8Yb1Nc3Md5",
        "a0AfH6SMBx7Kp2Lm9Qr4Tv6Wz8Yb1Nc3Md5",
    ),
    (
        "openai-key",
        "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",
        "T3BlbkFJNc3Md5Kf6Gh8Jk0Pq2Rs",
    ),
    (
        "anthropic-key",
        "sk-ant-api03-x7Kp2Lm9Qr4Tv6Wz8Yb1Nc3Md5Kf6Gh8Jk0Pq2Rs4TuV6x7Kp2Lm9Qr4Tv6Wz8Yb1Nc3Md5Kf6Gh8Jk0Pq2Rs4TuV6",
        "x7Kp2Lm9Qr4Tv6Wz8Yb1Nc3Md5Kf6Gh8Jk0Pq2Rs4TuV6",
    ),
    (
        "npm-token",
        "npm_x7Kp2Lm9Qr4Tv6Wz8Yb1Nc3Md5Kf6Gh8Jk0P",
        "x7Kp2Lm9Qr4Tv6Wz8Yb1Nc3Md5Kf6Gh8Jk0P",
    ),
    (
        "huggingface-token",
        "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",
        "xKpLmQrTvWzYbNcMdKfGhJkPqRsTuVwXyZ",
    ),
    (
        "sendgrid-key",
        "SG.x7Kp2Lm9Qr4Tv6Wz8Yb1Nc.3Md5Kf6Gh8Jk0Pq2Rs4TuV6x7Kp2Lm9Qr4Tv6Wz8Yb1Nc3Md5Kf",
        "3Md5Kf6Gh8Jk0Pq2Rs4TuV6x7Kp2Lm9Qr4Tv6Wz8Yb1Nc3Md5Kf",
    ),
    (
        "private-key",
        "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBx7Kp2Lm9Qr4Tv6\n-----END EC PRIVATE KEY-----",
        "MHcCAQEEIBx7Kp2Lm9Qr4Tv6",
    ),
    (
        "jwt",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "eyJzdWIiOiIxMjM0NTY3ODkwIn0",
    ),
    (
        "url-password",
        "redis://default:Zx9Kq2Lm7@cache.example.com:6379",
        "Zx9Kq2Lm7",
    ),
    (
        "generic-secret",
        "client_secret: q8Zr2LxW9vKp4TfN7mYc",
        "q8Zr2LxW9vKp4TfN7mYc",
    ),
];

/// Every rule in `rules/output.toml` has an example here, and the example is
/// redacted by that very rule alone (a rule that stops matching, or a new rule
/// without an example, fails this test).
#[test]
fn every_shipped_redaction_rule_redacts_its_example() {
    for rule in RULES.redact_rules() {
        let Some((_, example, secret)) = EXAMPLES.iter().find(|(id, ..)| *id == rule.id) else {
            panic!("no example for the shipped rule {:?}", rule.id);
        };
        let (out, ids) = redact_stdout(&format!("found {example}\nbye\n"));
        assert!(
            !out.contains(secret),
            "{}: secret still in {out:?}",
            rule.id
        );
        assert!(
            out.contains(&format!("[REDACTED:{}]", rule.id)),
            "{}: no marker in {out:?}",
            rule.id
        );
        assert_eq!(ids, vec![rule.id.clone()], "{}: {out:?}", rule.id);
    }
    assert_eq!(
        EXAMPLES.len(),
        RULES.redact_rules().len(),
        "an example without a rule"
    );
}

#[test]
fn documented_example_keys_are_allowed() {
    let (out, ids) = redact_stdout("key AKIAIOSFODNN7EXAMPLE\n");
    assert!(out.contains("AKIAIOSFODNN7EXAMPLE"), "{out}");
    assert!(ids.is_empty(), "{ids:?}");
}

#[test]
fn private_key_blocks_are_redacted_whole_even_when_cut_short() {
    let block = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1x7Kp2Lm9Qr4\nTv6Wz8Yb1Nc3Md5\n-----END RSA PRIVATE KEY-----";
    let (out, _) = redact_stdout(&format!("before\n{block}\nafter\n"));
    assert_eq!(out, "before\n[REDACTED:private-key]\nafter\n");
    let (out, _) = redact_stdout("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n");
    assert_eq!(out, "[REDACTED:private-key]");
}

#[test]
fn jwts_and_url_passwords_are_redacted() {
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    assert_redacted(&format!("Authorization: Bearer {jwt}\n"), jwt, "jwt");
    let (out, ids) = redact_stdout("connect postgres://app:Zx9!Kq2#Lm@db.example.com/prod\n");
    assert_eq!(
        out,
        "connect postgres://app:[REDACTED:url-password]@db.example.com/prod\n"
    );
    assert_eq!(ids, vec!["url-password"]);
}

#[test]
fn generic_secrets_need_entropy() {
    let (out, ids) = redact_stdout("api_key = \"q8Zr2LxW9vKp4TfN7mYc\"\n");
    assert_eq!(out, "api_key = \"[REDACTED:generic-secret]\"\n");
    assert_eq!(ids, vec!["generic-secret"]);
    let (out, _) = redact_stdout("SECRET_TOKEN_VALUE=q8Zr2LxW9vKp4TfN7mYc\n");
    assert_eq!(out, "SECRET_TOKEN_VALUE=[REDACTED:generic-secret]\n");
    for clean in [
        "password = password123\n",
        "token_type: bearer_token_value\n",
        "key = keyboardLayoutName\n",
        "secret: aaaaaaaaaaaaaaaa\n",
    ] {
        let (out, ids) = redact_stdout(clean);
        assert_eq!(out, clean, "false positive");
        assert!(ids.is_empty(), "{clean:?}: {ids:?}");
    }
}

#[test]
fn aws_secret_keys_next_to_their_name_are_redacted() {
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY";
    let (out, ids) = redact_stdout(&format!("aws_secret_access_key = {secret}\n"));
    assert!(!out.contains(secret), "{out}");
    assert!(
        ids.iter()
            .any(|i| i == "aws-secret-key" || i == "generic-secret"),
        "{ids:?}"
    );
}

#[test]
fn host_paths_are_hidden_and_sandbox_paths_kept() {
    let traceback = "Traceback (most recent call last):\n  File \"/tmp/main.py\", line 2\n  \
                     File \"/srv/executor/app/runner.py\", line 88, in run\n  \
                     File \"/usr/lib/python3.12/os.py\", line 1\nsee file:///var/log/app.log and C:\\deploy\\cfg.ini\n";
    let (out, ids) = redact_stdout(traceback);
    assert!(out.contains("\"/tmp/main.py\""), "{out}");
    assert!(out.contains("/usr/lib/python3.12/os.py"), "{out}");
    assert!(!out.contains("/srv/executor"), "{out}");
    assert!(!out.contains("/var/log"), "{out}");
    assert!(!out.contains("deploy"), "{out}");
    assert_eq!(ids, vec!["host-path"]);
    assert_eq!(out.matches("[REDACTED:host-path]").count(), 3);
}

#[test]
fn allowed_paths_come_from_the_policy() {
    let policy = OutputPolicy {
        allowed_paths: vec!["/srv/executor".into()],
        ..Default::default()
    };
    let body = piston_body("at /srv/executor/app.py and /tmp/x\n");
    let result = sanitize_every_split(&policy, &body, &piston_fields());
    assert_eq!(
        run_stdout(&result),
        "at /srv/executor/app.py and [REDACTED:host-path]\n"
    );
}

#[test]
fn environment_dumps_lose_listed_values() {
    let policy = OutputPolicy {
        env_names: vec!["JUDGE_DB_PASSWORD".into(), "AWS_*".into()],
        ..Default::default()
    };
    let body = piston_body("LANG=C\nJUDGE_DB_PASSWORD=hunter2\n{'AWS_REGION': 'eu-west-1'}\n");
    let result = sanitize_every_split(&policy, &body, &piston_fields());
    assert_eq!(
        run_stdout(&result),
        "LANG=C\nJUDGE_DB_PASSWORD=[REDACTED:env-value]\n{'AWS_REGION': '[REDACTED:env-value]'}\n"
    );
}

#[test]
fn private_addresses_and_internal_hosts_are_redacted() {
    let (out, ids) = redact_stdout("conn to redis.prod.internal (10.0.3.7:6379) from 8.8.8.8\n");
    assert_eq!(
        out,
        "conn to [REDACTED:internal-host] ([REDACTED:private-ip]:6379) from 8.8.8.8\n"
    );
    assert_eq!(ids, vec!["internal-host", "private-ip"]);
}

#[test]
fn clean_output_is_left_byte_for_byte() {
    let clean = "Hello, world!\n1 2 3\nresult = [1, 2, 3]\nsum/count = 2.5\n";
    let (out, ids) = redact_stdout(clean);
    assert_eq!(out, clean);
    assert!(ids.is_empty());
}

#[test]
fn every_output_field_is_sanitized_and_counted() {
    let body = serde_json::to_vec(&serde_json::json!({
        "run": {"stdout": "AKIAZ7VRSQ5TQLYXW3KE", "stderr": "at /opt/app/x.js", "output": "AKIAZ7VRSQ5TQLYXW3KE", "code": 1},
        "compile": {"stderr": "/home/ci/build.c:1: error", "message": null}
    }))
    .unwrap();
    let result = sanitize_every_split(&OutputPolicy::default(), &body, &piston_fields());
    let doc: serde_json::Value = serde_json::from_slice(&result.body).unwrap();
    assert_eq!(doc["run"]["output"], "[REDACTED:aws-access-key]");
    assert_eq!(doc["run"]["stderr"], "at [REDACTED:host-path]");
    assert_eq!(doc["compile"]["stderr"], "[REDACTED:host-path]:1: error");
    assert_eq!(doc["run"]["code"], 1);
    assert!(doc["compile"]["message"].is_null());
    let counts: Vec<(&str, u32)> = result
        .redactions
        .iter()
        .map(|r| (r.rule.as_str(), r.count))
        .collect();
    assert_eq!(counts, vec![("aws-access-key", 2), ("host-path", 2)]);
}

#[test]
fn sanitizing_twice_changes_nothing_more() {
    let body =
        piston_body("AKIAZ7VRSQ5TQLYXW3KE at /srv/x.py 10.1.1.1 api_key=q8Zr2LxW9vKp4TfN7mYc\n");
    let once = sanitize_every_split(&OutputPolicy::default(), &body, &piston_fields());
    let twice = sanitize_every_split(&OutputPolicy::default(), &once.body, &piston_fields());
    assert_eq!(run_stdout(&twice), run_stdout(&once));
    assert!(twice.redactions.is_empty(), "{:?}", twice.redactions);
}

/// Word boundaries are ASCII: a key glued to a letter of another script
/// (`clé=AKIA…é`, `密钥AKIA…`) is still a key.
#[test]
fn secrets_glued_to_non_ascii_letters_are_redacted() {
    for (rule, secret) in [
        ("aws-access-key", "AKIAZ7VRSQ5TQLYXW3KE"),
        ("github-token", "ghp_4F8a9Lq2Zx7Vb1Nc3Md5Kf6Gh8Jk0Pq2Rs4T"),
        ("npm-token", "npm_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"),
    ] {
        for stdout in [format!("clé{secret}é\n"), format!("密钥{secret}密钥\n")] {
            assert_redacted(&stdout, secret, rule);
        }
    }
}

#[test]
fn a_secret_split_over_stdout_and_stderr_withholds_both() {
    let withheld = "[execgate: output withheld: stdout and stderr together hold a secret]";
    for (stdout, stderr) in [
        ("key: AKIAZ7VRSQ", "5TQLYXW3KE\n"),
        ("5TQLYXW3KE\n", "key: AKIAZ7VRSQ"),
        (
            "DATABASE_URL=",
            "postgres://app:Zq8xP2@db.internal:5432/app\n",
        ),
    ] {
        let body = serde_json::to_vec(&serde_json::json!({
            "run": {"stdout": stdout, "stderr": stderr, "output": "[REDACTED:aws-access-key]", "code": 0}
        }))
        .unwrap();
        let result = sanitize_every_split(&OutputPolicy::default(), &body, &piston_fields());
        let doc: serde_json::Value = serde_json::from_slice(&result.body).unwrap();
        assert_eq!(doc["run"]["stdout"], withheld, "{doc}");
        assert_eq!(doc["run"]["stderr"], withheld, "{doc}");
        assert!(
            redaction_ids(&result).contains(&execgate_sanitize::SPLIT_SECRET),
            "{:?}",
            result.redactions
        );
    }
}

#[test]
fn split_secrets_are_found_per_submission_and_in_base64() {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let body = serde_json::to_vec(&serde_json::json!({"submissions": [
        {"stdout": b64("AKIAZ7VRSQ"), "stderr": b64("5TQLYXW3KE"), "status": {"id": 3}},
        {"stdout": b64("AKIAZ7VRSQ"), "stderr": null, "status": {"id": 3}},
        {"stdout": b64("hello "), "stderr": b64("world"), "status": {"id": 3}},
    ]}))
    .unwrap();
    let fields = judge0_fields("/submissions/*", true);
    let result = sanitize_every_split(&OutputPolicy::default(), &body, &fields);
    let doc: serde_json::Value = serde_json::from_slice(&result.body).unwrap();
    let text = |v: &serde_json::Value| {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap();
        String::from_utf8(bytes).unwrap()
    };
    let runs = doc["submissions"].as_array().unwrap();
    assert!(text(&runs[0]["stdout"]).contains("together hold a secret"));
    assert!(text(&runs[0]["stderr"]).contains("together hold a secret"));
    assert_eq!(
        text(&runs[1]["stdout"]),
        "AKIAZ7VRSQ",
        "a half alone is no secret"
    );
    assert_eq!(text(&runs[2]["stdout"]), "hello ");
    assert_eq!(text(&runs[2]["stderr"]), "world");
}
