//! Client identity: X-Forwarded-For only from trusted proxies, API keys and JWTs
//! naming tiers, and 401 (never a silent downgrade) for bad credentials.

use crate::support::*;
use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::json;

const SECRET: &str = "0123456789abcdef0123456789abcdef-secret";

fn execute(gw: &TestGateway, headers: &[(&str, &str)]) -> Reply {
    post_with(
        &gw.url("/api/v2/execute"),
        piston("print(1)").to_string().into_bytes(),
        headers,
    )
}

fn sha256(key: &str) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(key.as_bytes()))
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn token(claims: serde_json::Value) -> String {
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

#[test]
fn a_spoofed_forwarded_for_from_an_untrusted_peer_does_not_change_the_client_key() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder().upstream(exec.addr).start();
    for i in 0..3 {
        let xff = format!("198.51.100.{i}");
        assert_eq!(execute(&gw, &[("x-forwarded-for", &xff)]).status, 200);
    }
    let r = execute(&gw, &[("x-forwarded-for", "198.51.100.99")]);
    assert_eq!(
        r.status, 429,
        "all four came from 127.0.0.1 whatever the header said"
    );
    assert_eq!(exec.requests()[0].headers["x-forwarded-for"], "127.0.0.1");
}

#[test]
fn forwarded_for_from_a_trusted_proxy_names_the_rightmost_untrusted_hop() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with(
            "identity",
            "trusted_proxies = [\"127.0.0.1/32\", \"10.0.0.0/8\"]",
        )
        .start();
    for i in 0..3 {
        // The leftmost value is attacker-controlled and changes every time.
        let xff = format!("6.6.6.{i}, 203.0.113.1, 10.0.0.5");
        assert_eq!(execute(&gw, &[("x-forwarded-for", &xff)]).status, 200);
    }
    assert_eq!(
        execute(&gw, &[("x-forwarded-for", "7.7.7.7, 203.0.113.1")]).status,
        429
    );
    assert_eq!(
        execute(&gw, &[("x-forwarded-for", "203.0.113.2")]).status,
        200,
        "another client has its own windows"
    );
    assert_eq!(exec.requests()[0].headers["x-forwarded-for"], "203.0.113.1");
}

#[test]
fn api_keys_name_a_tier_and_bad_keys_are_401() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .raw(&format!(
            "[[identity.api_keys]]\nsha256 = \"{}\"\nclient = \"alice\"\ntier = \"free\"",
            sha256("alice-key-1")
        ))
        .start();
    for _ in 0..5 {
        assert_eq!(
            execute(&gw, &[("authorization", "Bearer alice-key-1")]).status,
            200,
            "free tier: burst 5"
        );
    }
    assert_eq!(execute(&gw, &[("x-api-key", "alice-key-1")]).status, 429);
    assert_eq!(exec.requests()[0].json()["run_timeout"], 10_000);
    assert!(
        exec.requests()[0].headers.get("authorization").is_none(),
        "credentials stay at the gateway"
    );
    for bad in [
        ("x-api-key", "wrong"),
        ("authorization", "Bearer wrong"),
        ("authorization", "Basic YTpi"),
    ] {
        let r = execute(&gw, &[bad]);
        assert_eq!(
            (r.status, r.code()),
            (401, "unauthorized".to_string()),
            "{bad:?}"
        );
    }
}

#[test]
fn jwts_are_verified_for_signature_expiry_and_tier() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .raw(&format!("[identity.jwt]\nalgorithm = \"HS256\"\nsecret = \"{SECRET}\"\nsubject_claim = \"uid\"\ntier_claim = \"plan\""))
        .start();
    let good = token(json!({"uid": "u1", "plan": "paid", "exp": now() + 600}));
    let r = execute(&gw, &[("authorization", &format!("Bearer {good}"))]);
    assert_eq!(r.status, 200);
    assert_eq!(
        exec.requests()[0].json()["run_timeout"],
        30_000,
        "paid tier clamp"
    );

    let expired = token(json!({"uid": "u1", "plan": "paid", "exp": now() - 600}));
    let r = execute(&gw, &[("authorization", &format!("Bearer {expired}"))]);
    assert_eq!(
        (r.status, r.json()["error"]["message"].clone()),
        (401, "token expired".into())
    );

    let forged = encode(
        &Header::default(),
        &json!({"uid": "u1", "plan": "paid", "exp": now() + 600}),
        &EncodingKey::from_secret(b"another-secret-another-secret-xx"),
    )
    .unwrap();
    assert_eq!(
        execute(&gw, &[("authorization", &format!("Bearer {forged}"))]).status,
        401
    );

    let unknown_tier = token(json!({"uid": "u1", "plan": "platinum", "exp": now() + 600}));
    assert_eq!(
        execute(&gw, &[("authorization", &format!("Bearer {unknown_tier}"))]).status,
        401
    );
    let no_expiry = token(json!({"uid": "u1", "plan": "paid"}));
    let no_subject = token(json!({"plan": "paid", "exp": now() + 600}));
    for (what, bad) in [("no exp", no_expiry), ("no subject", no_subject)] {
        let r = execute(&gw, &[("authorization", &format!("Bearer {bad}"))]);
        assert_eq!(
            (r.status, r.code()),
            (401, "unauthorized".to_string()),
            "{what}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    assert_eq!(exec.requests().len(), 1, "only the valid token got through");
}

#[test]
fn rs256_tokens_are_verified_with_the_configured_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    let run = |args: &[&str]| {
        assert!(
            std::process::Command::new("openssl")
                .args(args)
                .output()
                .unwrap()
                .status
                .success()
        )
    };
    run(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        key.to_str().unwrap(),
    ]);
    let public = dir.path().join("pub.pem");
    run(&[
        "pkey",
        "-in",
        key.to_str().unwrap(),
        "-pubout",
        "-out",
        public.to_str().unwrap(),
    ]);
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .file("jwt.pem", std::fs::read(&public).unwrap())
        .raw("[identity.jwt]\nalgorithm = \"RS256\"\npublic_key_file = \"jwt.pem\"\ndefault_tier = \"free\"\naudience = \"execgate\"")
        .start();
    let signing = EncodingKey::from_rsa_pem(&std::fs::read(&key).unwrap()).unwrap();
    let sign = |claims: serde_json::Value| {
        encode(
            &Header::new(jsonwebtoken::Algorithm::RS256),
            &claims,
            &signing,
        )
        .unwrap()
    };
    let good = sign(json!({"sub": "svc", "aud": "execgate", "exp": now() + 600}));
    assert_eq!(
        execute(&gw, &[("authorization", &format!("Bearer {good}"))]).status,
        200
    );
    assert_eq!(
        exec.requests()[0].json()["run_timeout"],
        10_000,
        "no tier claim: the default tier (free)"
    );
    let wrong_audience = sign(json!({"sub": "svc", "aud": "other", "exp": now() + 600}));
    assert_eq!(
        execute(
            &gw,
            &[("authorization", &format!("Bearer {wrong_audience}"))]
        )
        .status,
        401
    );
    let no_audience = sign(json!({"sub": "svc", "exp": now() + 600}));
    let not_yet =
        sign(json!({"sub": "svc", "aud": "execgate", "exp": now() + 600, "nbf": now() + 300}));
    for (what, bad) in [("no aud", no_audience), ("nbf ahead", not_yet)] {
        assert_eq!(
            execute(&gw, &[("authorization", &format!("Bearer {bad}"))]).status,
            401,
            "{what}"
        );
    }
    let hs = token(json!({"sub": "svc", "aud": "execgate", "exp": now() + 600}));
    assert_eq!(
        execute(&gw, &[("authorization", &format!("Bearer {hs}"))]).status,
        401,
        "an HS256 token is not accepted by an RS256 gateway"
    );
}

#[test]
fn failed_logins_count_against_the_address_they_come_from() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with("reputation", "ban_threshold = 5.0")
        .start();
    for _ in 0..5 {
        let r = execute(&gw, &[("x-api-key", "not-a-key-of-anyone")]);
        assert_eq!(r.status, 401);
    }
    crate::support::eventually("the guessing address is banned", || {
        execute(&gw, &[]).is_anomaly_ban()
    });
}

#[test]
fn anonymous_ipv6_clients_share_limits_per_64() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with("identity", "trusted_proxies = [\"127.0.0.1/32\"]")
        .start();
    for host in ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"] {
        assert_eq!(execute(&gw, &[("x-forwarded-for", host)]).status, 200);
    }
    assert_eq!(
        execute(&gw, &[("x-forwarded-for", "2001:db8:1:2::99")]).status,
        429,
        "same /64"
    );
    assert_eq!(
        execute(&gw, &[("x-forwarded-for", "2001:db8:1:3::1")]).status,
        200,
        "another /64"
    );
}

#[test]
fn a_token_subject_and_an_api_key_client_of_the_same_name_are_different_clients() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .raw(&format!(
            "[identity.jwt]\nalgorithm = \"HS256\"\nsecret = \"{SECRET}\"\ndefault_tier = \"free\"\n\
             [[identity.api_keys]]\nsha256 = \"{}\"\nclient = \"alice\"\ntier = \"free\"",
            sha256("alice-key-1")
        ))
        .start();
    for _ in 0..5 {
        assert_eq!(execute(&gw, &[("x-api-key", "alice-key-1")]).status, 200);
    }
    assert_eq!(execute(&gw, &[("x-api-key", "alice-key-1")]).status, 429);
    let alice_token = token(json!({"sub": "alice", "exp": now() + 600}));
    assert_eq!(
        execute(&gw, &[("authorization", &format!("Bearer {alice_token}"))]).status,
        200,
        "the token's alice has limits of her own"
    );
}

/// The output of a tenant's own program may show its own canary marker; the same
/// output returned to another client or to an anonymous one is withheld.
#[test]
fn a_clients_own_tenant_marker_is_its_data_and_withheld_from_others() {
    let exec = MockExecutor::with(Behaviour::Piston {
        stdout: "row 1 EXECGATE-TENANT-acme0001\n".into(),
    });
    let tenant_rule = execgate_sanitize::SHIPPED_RULES
        .split("[[leak]]")
        .find(|rule| rule.contains("id = \"tenant-marker\""))
        .unwrap();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .file(
            "output.toml",
            format!(
                "{}\n[[leak]]{tenant_rule}",
                crate::support::gateway::OUTPUT_RULES
            ),
        )
        .raw(&format!(
            "[[identity.api_keys]]\nsha256 = \"{}\"\nclient = \"acme0001\"\ntier = \"free\"\n\
             [[identity.api_keys]]\nsha256 = \"{}\"\nclient = \"globex01\"\ntier = \"free\"",
            sha256("acme-key-1"),
            sha256("globex-key-1")
        ))
        .start();
    let stdout = |headers: &[(&str, &str)]| {
        let reply = execute(&gw, headers);
        assert_eq!(reply.status, 200);
        reply.json()["run"]["stdout"].as_str().unwrap().to_string()
    };
    let own = stdout(&[("x-api-key", "acme-key-1")]);
    assert_eq!(own, "row 1 EXECGATE-TENANT-acme0001\n");
    for other in [&[("x-api-key", "globex-key-1")][..], &[]] {
        let leaked = stdout(other);
        assert!(
            leaked.starts_with("[execgate: output withheld") && !leaked.contains("acme0001"),
            "{other:?}: {leaked}"
        );
    }
}

/// An issuer may name its subjects in any script and at any length; each must
/// still be a client that reputation can ban and the operator can look up.
#[test]
fn a_token_subject_of_any_characters_is_a_client_that_can_be_banned() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .raw(&format!(
            "[identity.jwt]\nalgorithm = \"HS256\"\nsecret = \"{SECRET}\"\ndefault_tier = \"free\""
        ))
        .with("reputation", "ban_threshold = 3.0")
        .with_admin_token()
        .start();
    let long = "ü".repeat(150);
    for (subject, key) in [
        ("José Smith", "client:jwt:Jos%C3%A9%20Smith".to_string()),
        (
            long.as_str(),
            format!("client:jwt:sha256:{}", sha256(&long)),
        ),
    ] {
        let bearer = format!(
            "Bearer {}",
            token(json!({"sub": subject, "exp": now() + 600}))
        );
        let auth = [("authorization", bearer.as_str())];
        for _ in 0..5 {
            assert_eq!(execute(&gw, &auth).status, 200, "free tier: burst 5");
        }
        eventually(&format!("{subject:?} is banned"), || {
            execute(&gw, &auth).is_anomaly_ban()
        });
        let path = format!("/v1/clients/{}", key.replace('%', "%25"));
        let shown = gw.admin(reqwest::Method::GET, &path).send().unwrap();
        assert_eq!(shown.status(), 200, "{key}");
        assert!(shown.text().unwrap().contains(&key), "{key}");
    }
    let metrics = gw.metrics();
    for series in [
        "execgate_bans_total{reason=\"anomaly:rate_limited\"} 2",
        "execgate_active_decisions 2",
        "execgate_reputation_score_count",
    ] {
        assert!(metrics.contains(series), "missing {series} in\n{metrics}");
    }
}

/// A gateway knowing API key `alice-key-1` (client alice, free), `bob-key-1`
/// (client bob, free), `alice-key-2` (client alice, paid), and HS256 tokens.
fn two_kinds_of_credentials(exec: &MockExecutor) -> TestGateway {
    TestGateway::builder()
        .upstream(exec.addr)
        .raw(&format!(
            "[identity.jwt]\nalgorithm = \"HS256\"\nsecret = \"{SECRET}\"\ndefault_tier = \"free\"\n\
             [[identity.api_keys]]\nsha256 = \"{}\"\nclient = \"alice\"\ntier = \"free\"\n\
             [[identity.api_keys]]\nsha256 = \"{}\"\nclient = \"bob\"\ntier = \"free\"\n\
             [[identity.api_keys]]\nsha256 = \"{}\"\nclient = \"alice\"\ntier = \"paid\"",
            sha256("alice-key-1"),
            sha256("bob-key-1"),
            sha256("alice-key-2"),
        ))
        .start()
}

/// Every credential a request presents is checked: a wrong or expired one
/// beside a valid one is a 401, never ignored in favour of the valid one.
#[test]
fn a_wrong_credential_beside_a_valid_one_is_401() {
    let exec = MockExecutor::start();
    let gw = two_kinds_of_credentials(&exec);
    let expired = format!(
        "Bearer {}",
        token(json!({"sub": "alice", "exp": now() - 600}))
    );
    let valid_jwt = format!(
        "Bearer {}",
        token(json!({"sub": "alice", "exp": now() + 600}))
    );
    for (what, headers, message) in [
        (
            "wrong bearer + valid key",
            [
                ("authorization", "Bearer wrong"),
                ("x-api-key", "alice-key-1"),
            ],
            "invalid API key",
        ),
        (
            "valid bearer + wrong key",
            [
                ("authorization", "Bearer alice-key-1"),
                ("x-api-key", "wrong"),
            ],
            "invalid API key",
        ),
        (
            "expired JWT + valid key",
            [
                ("authorization", expired.as_str()),
                ("x-api-key", "alice-key-1"),
            ],
            "token expired",
        ),
        (
            "two clients' keys",
            [
                ("authorization", "Bearer bob-key-1"),
                ("x-api-key", "alice-key-1"),
            ],
            "the credentials name different clients",
        ),
        (
            "one client's keys of two tiers",
            [
                ("authorization", "Bearer alice-key-2"),
                ("x-api-key", "alice-key-1"),
            ],
            "the credentials name different clients",
        ),
        (
            "a JWT subject and an API key client",
            [
                ("authorization", valid_jwt.as_str()),
                ("x-api-key", "alice-key-1"),
            ],
            "the credentials name different clients",
        ),
    ] {
        let r = execute(&gw, &headers);
        assert_eq!(
            (r.status, r.code(), r.json()["error"]["message"].clone()),
            (401, "unauthorized".to_string(), json!(message)),
            "{what}"
        );
    }
    assert!(exec.requests().is_empty(), "none reached the executor");
    let same = execute(
        &gw,
        &[
            ("authorization", "Bearer alice-key-1"),
            ("x-api-key", "alice-key-1"),
        ],
    );
    assert_eq!(same.status, 200, "the same key twice names one client");
}

/// Two `X-Api-Key` (or `Authorization`) headers are refused with 401 rather
/// than one of them picked: which copy counts differs between HTTP stacks.
#[test]
fn a_credential_header_given_twice_is_401() {
    let exec = MockExecutor::start();
    let gw = two_kinds_of_credentials(&exec);
    for (name, first, second) in [
        ("x-api-key", "alice-key-1", "bob-key-1"),
        ("x-api-key", "alice-key-1", "alice-key-1"),
        ("authorization", "Bearer alice-key-1", "Bearer bob-key-1"),
    ] {
        let r = execute(&gw, &[(name, first), (name, second)]);
        assert_eq!(
            (r.status, r.code()),
            (401, "unauthorized".to_string()),
            "{name}: {first} / {second}"
        );
        let message = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(message.starts_with("more than one "), "{message}");
    }
    assert!(exec.requests().is_empty());
}

/// `X-Api-Key` holds API keys only; a valid JWT there is an unknown key.
#[test]
fn a_jwt_in_x_api_key_is_not_accepted() {
    let exec = MockExecutor::start();
    let gw = two_kinds_of_credentials(&exec);
    let jwt = token(json!({"sub": "carol", "exp": now() + 600}));
    let r = execute(&gw, &[("x-api-key", &jwt)]);
    assert_eq!(
        (r.status, r.json()["error"]["message"].clone()),
        (401, json!("invalid API key"))
    );
    let r = execute(&gw, &[("authorization", &format!("Bearer {jwt}"))]);
    assert_eq!(r.status, 200, "the same token as a bearer token is fine");
}

/// RFC 7515 §4.1.11: a token that marks an extension critical must be refused
/// by a recipient that does not understand it.
#[test]
fn a_jwt_with_critical_extensions_is_refused() {
    let exec = MockExecutor::start();
    let gw = two_kinds_of_credentials(&exec);
    use base64::Engine as _;
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let claims = b64(json!({"sub": "carol", "exp": now() + 600}));
    let sign = |header: serde_json::Value| {
        let input = format!("{}.{claims}", b64(header));
        let key = EncodingKey::from_secret(SECRET.as_bytes());
        let sig =
            jsonwebtoken::crypto::sign(input.as_bytes(), &key, jsonwebtoken::Algorithm::HS256)
                .unwrap();
        format!("Bearer {input}.{sig}")
    };
    let plain = sign(json!({"alg": "HS256", "typ": "JWT"}));
    assert_eq!(execute(&gw, &[("authorization", &plain)]).status, 200);
    for header in [
        json!({"alg": "HS256", "typ": "JWT", "crit": ["exp-policy"], "exp-policy": "strict"}),
        json!({"alg": "HS256", "crit": []}),
    ] {
        let r = execute(&gw, &[("authorization", &sign(header.clone()))]);
        assert_eq!(
            (r.status, r.json()["error"]["message"].clone()),
            (
                401,
                json!("token requires critical extensions the gateway does not support")
            ),
            "{header}"
        );
    }
}
