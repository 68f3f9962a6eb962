//! `[identity]`: API keys, JWT verification and the proxies whose
//! `X-Forwarded-For` is believed, checked.

use super::invalid::{Invalid, key};
use super::ip_policy::parse_net;
use super::raw::{RawIdentity, RawJwt};
use super::tiers::Tier;
use execgate_core::TierName;
use ipnet::IpNet;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

/// An API key's owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiClient {
    /// Client id.
    pub client: String,
    /// Tier.
    pub tier: TierName,
}

/// JWT signature algorithms accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtAlgorithm {
    /// HMAC-SHA256 with a shared secret.
    Hs256,
    /// RSA-SHA256 with a public key.
    Rs256,
}

/// `[identity.jwt]`, validated; `key` is the secret (HS256) or PEM (RS256).
#[derive(Debug, Clone)]
pub struct JwtSettings {
    /// Algorithm.
    pub algorithm: JwtAlgorithm,
    /// Secret bytes or PEM text.
    pub key: Vec<u8>,
    /// Claim naming the client.
    pub subject_claim: String,
    /// Claim naming the tier.
    pub tier_claim: String,
    /// Tier when the claim is absent; `None` → such tokens are refused.
    pub default_tier: Option<TierName>,
    /// Required `iss`.
    pub issuer: Option<String>,
    /// Required `aud`.
    pub audience: Option<String>,
    /// Tolerated clock skew.
    pub leeway: Duration,
}

/// `[identity]`, validated.
#[derive(Debug, Clone)]
pub struct IdentitySettings {
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// IPv6 prefix length anonymous clients are grouped by.
    pub ipv6_prefix: u8,
    /// SHA-256 of each key → its owner.
    pub api_keys: HashMap<[u8; 32], ApiClient>,
    /// JWT settings.
    pub jwt: Option<JwtSettings>,
    /// A verified client certificate's subject (CN or DNS SAN) → its owner.
    pub client_certs: HashMap<String, ApiClient>,
}

/// A tier named at `k`, which must be one of `tiers`.
pub fn tier_ref(
    name: &str,
    tiers: &BTreeMap<TierName, Tier>,
    k: &str,
) -> Result<TierName, Invalid> {
    let tier = TierName(name.to_string());
    if tiers.contains_key(&tier) {
        Ok(tier)
    } else {
        let known: Vec<&str> = tiers.keys().map(TierName::as_str).collect();
        Err(key(
            k,
            format!("unknown tier {name:?} (known: {})", known.join(", ")),
        ))
    }
}

/// `[identity]` checked; tiers named must exist, key files are read from `base`.
pub fn identity(
    raw: &RawIdentity,
    tiers: &BTreeMap<TierName, Tier>,
    base: &Path,
) -> Result<IdentitySettings, Invalid> {
    let trusted_proxies = raw
        .trusted_proxies
        .iter()
        .enumerate()
        .map(|(i, s)| parse_net(s).map_err(|e| key(&format!("identity.trusted_proxies[{i}]"), e)))
        .collect::<Result<Vec<_>, _>>()?;
    if raw.ipv6_prefix == 0 || raw.ipv6_prefix > 128 {
        return Err(key("identity.ipv6_prefix", "must be between 1 and 128"));
    }
    let mut api_keys = HashMap::new();
    for (i, k) in raw.api_keys.iter().enumerate() {
        let at = format!("identity.api_keys[{i}]");
        let hash = parse_sha256(&k.sha256).map_err(|e| key(&format!("{at}.sha256"), e))?;
        // A client id is a tenant id: it can be blocked (up to 200 characters)
        // and named by a tenant marker, where trailing punctuation is not part of it.
        if !execgate_sanitize::is_tenant_id(&k.client) {
            return Err(key(
                &format!("{at}.client"),
                "use 1 to 128 letters, digits, '-', '_', '.' and '@', starting and ending with a letter or digit",
            ));
        }
        let tier = tier_ref(&k.tier, tiers, &format!("{at}.tier"))?;
        if api_keys
            .insert(
                hash,
                ApiClient {
                    client: k.client.clone(),
                    tier,
                },
            )
            .is_some()
        {
            return Err(key(&format!("{at}.sha256"), "the same key is listed twice"));
        }
    }
    let jwt = raw.jwt.as_ref().map(|j| jwt(j, tiers, base)).transpose()?;
    Ok(IdentitySettings {
        trusted_proxies,
        ipv6_prefix: raw.ipv6_prefix,
        api_keys,
        jwt,
        client_certs: client_certs(raw, tiers)?,
    })
}

/// `[[identity.client_certs]]`: each subject once, a tenant id, a known tier.
fn client_certs(
    raw: &RawIdentity,
    tiers: &BTreeMap<TierName, Tier>,
) -> Result<HashMap<String, ApiClient>, Invalid> {
    let mut owners = HashMap::new();
    for (i, c) in raw.client_certs.iter().enumerate() {
        let at = format!("identity.client_certs[{i}]");
        if c.subject.trim().is_empty() {
            return Err(key(&format!("{at}.subject"), "must not be empty"));
        }
        if !execgate_sanitize::is_tenant_id(&c.client) {
            return Err(key(
                &format!("{at}.client"),
                "use 1 to 128 letters, digits, '-', '_', '.' and '@', starting and ending with a letter or digit",
            ));
        }
        let owner = ApiClient {
            client: c.client.clone(),
            tier: tier_ref(&c.tier, tiers, &format!("{at}.tier"))?,
        };
        if owners.insert(c.subject.clone(), owner).is_some() {
            return Err(key(
                &format!("{at}.subject"),
                "the same subject is listed twice",
            ));
        }
    }
    Ok(owners)
}

fn parse_sha256(s: &str) -> Result<[u8; 32], String> {
    let bytes = hex::decode(s.trim())
        .map_err(|_| "must be 64 hex digits (SHA-256 of the key)".to_string())?;
    bytes
        .try_into()
        .map_err(|_| "must be 64 hex digits (SHA-256 of the key)".to_string())
}

fn jwt(
    raw: &RawJwt,
    tiers: &BTreeMap<TierName, Tier>,
    base: &Path,
) -> Result<JwtSettings, Invalid> {
    let (algorithm, key_bytes) = match raw.algorithm.as_str() {
        "HS256" => (JwtAlgorithm::Hs256, hs256_secret(raw)?),
        "RS256" => (JwtAlgorithm::Rs256, rs256_key(raw, base)?),
        other => {
            return Err(key(
                "identity.jwt.algorithm",
                format!("unsupported algorithm {other:?}: use HS256 or RS256"),
            ));
        }
    };
    let default_tier = raw
        .default_tier
        .as_deref()
        .map(|t| tier_ref(t, tiers, "identity.jwt.default_tier"))
        .transpose()?;
    Ok(JwtSettings {
        algorithm,
        key: key_bytes,
        subject_claim: raw.subject_claim.clone(),
        tier_claim: raw.tier_claim.clone(),
        default_tier,
        issuer: raw.issuer.clone(),
        audience: raw.audience.clone(),
        leeway: match raw.leeway.get() {
            l if l > Duration::from_secs(3600) => {
                return Err(key("identity.jwt.leeway", "must be at most 1h"));
            }
            l => l,
        },
    })
}

fn hs256_secret(raw: &RawJwt) -> Result<Vec<u8>, Invalid> {
    let secret = match (&raw.secret, &raw.secret_env) {
        (Some(s), None) => s.clone(),
        (None, Some(var)) => std::env::var(var).map_err(|_| {
            key(
                "identity.jwt.secret_env",
                format!("environment variable {var} is not set"),
            )
        })?,
        _ => {
            return Err(key(
                "identity.jwt.secret",
                "HS256 needs exactly one of secret or secret_env",
            ));
        }
    };
    if secret.len() < 32 {
        return Err(key(
            "identity.jwt.secret",
            "HS256 secrets must be at least 32 bytes",
        ));
    }
    Ok(secret.into_bytes())
}

fn rs256_key(raw: &RawJwt, base: &Path) -> Result<Vec<u8>, Invalid> {
    let path = raw
        .public_key_file
        .as_ref()
        .map(|p| base.join(p))
        .ok_or_else(|| {
            key(
                "identity.jwt.public_key_file",
                "RS256 needs public_key_file",
            )
        })?;
    let pem = std::fs::read(&path).map_err(|e| {
        key(
            "identity.jwt.public_key_file",
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    jsonwebtoken::DecodingKey::from_rsa_pem(&pem).map_err(|e| {
        key(
            "identity.jwt.public_key_file",
            format!("{} is not an RSA public key PEM: {e}", path.display()),
        )
    })?;
    Ok(pem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::raw::RawApiKey;
    use crate::config::tiers::builtin_tiers;

    const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn api_key(sha256: &str, client: &str, tier: &str) -> RawApiKey {
        RawApiKey {
            sha256: sha256.into(),
            client: client.into(),
            tier: tier.into(),
        }
    }

    fn keys(list: Vec<RawApiKey>) -> Result<IdentitySettings, Invalid> {
        let raw = RawIdentity {
            api_keys: list,
            ..RawIdentity::default()
        };
        identity(&raw, &builtin_tiers(), Path::new("."))
    }

    /// `subject`, `client`, `tier` of one `[[identity.client_certs]]`.
    type CertEntry<'a> = (&'a str, &'a str, &'a str);

    fn certs(list: &[CertEntry<'_>]) -> Result<IdentitySettings, Invalid> {
        let raw = RawIdentity {
            client_certs: list
                .iter()
                .map(
                    |(subject, client, tier)| crate::config::raw::RawClientCert {
                        subject: (*subject).into(),
                        client: (*client).into(),
                        tier: (*tier).into(),
                    },
                )
                .collect(),
            ..RawIdentity::default()
        };
        identity(&raw, &builtin_tiers(), Path::new("."))
    }

    #[test]
    fn client_certs_name_a_subject_once_a_tenant_id_and_a_known_tier() {
        let ok = certs(&[("worker-1.example", "worker1", "anonymous")]).unwrap();
        assert_eq!(ok.client_certs["worker-1.example"].client, "worker1");
        let cases: [(&[CertEntry<'_>], &str); 4] = [
            (
                &[(" ", "w", "anonymous")],
                "identity.client_certs[0].subject",
            ),
            (
                &[("a", "w w", "anonymous")],
                "identity.client_certs[0].client",
            ),
            (&[("a", "w", "platinum")], "identity.client_certs[0].tier"),
            (
                &[("a", "w", "anonymous"), ("a", "v", "anonymous")],
                "identity.client_certs[1].subject",
            ),
        ];
        for (list, at) in cases {
            assert_eq!(certs(list).unwrap_err().key, at);
        }
    }

    fn jwt_of(raw: serde_json::Value) -> Result<JwtSettings, Invalid> {
        let raw: RawJwt = serde_json::from_value(raw).unwrap();
        jwt(&raw, &builtin_tiers(), Path::new("."))
    }

    #[test]
    fn api_keys_name_a_known_tier_a_tenant_id_and_a_hash_once() {
        let ok = keys(vec![api_key(HASH, "team-a", "anonymous")]).unwrap();
        assert_eq!(ok.api_keys.len(), 1);
        let cases = [
            (
                api_key("abc", "team-a", "anonymous"),
                "identity.api_keys[0].sha256",
            ),
            (
                api_key(HASH, "team a!", "anonymous"),
                "identity.api_keys[0].client",
            ),
            (
                api_key(HASH, "team-a", "platinum"),
                "identity.api_keys[0].tier",
            ),
        ];
        for (key, at) in cases {
            assert_eq!(keys(vec![key]).unwrap_err().key, at);
        }
        let twice = keys(vec![
            api_key(HASH, "team-a", "anonymous"),
            api_key(&HASH.to_uppercase(), "team-b", "anonymous"),
        ])
        .unwrap_err();
        assert_eq!(
            twice,
            Invalid::new(
                "identity.api_keys[1].sha256",
                "the same key is listed twice"
            )
        );
        let unknown = keys(vec![api_key(HASH, "team-a", "platinum")]).unwrap_err();
        assert!(
            unknown
                .reason
                .starts_with("unknown tier \"platinum\" (known: "),
            "{unknown:?}"
        );
    }

    #[test]
    fn proxies_and_the_ipv6_prefix_are_checked() {
        let raw = RawIdentity {
            trusted_proxies: vec!["10.0.0.1".into(), "fd00::/8".into(), "x".into()],
            ..RawIdentity::default()
        };
        let e = identity(&raw, &builtin_tiers(), Path::new(".")).unwrap_err();
        assert_eq!(e.key, "identity.trusted_proxies[2]");
        for prefix in [0, 129] {
            let raw = RawIdentity {
                ipv6_prefix: prefix,
                ..RawIdentity::default()
            };
            let e = identity(&raw, &builtin_tiers(), Path::new(".")).unwrap_err();
            assert_eq!(e.key, "identity.ipv6_prefix");
        }
    }

    #[test]
    fn hs256_takes_one_long_secret_and_rs256_a_readable_key() {
        let secret = "s".repeat(32);
        let ok = jwt_of(serde_json::json!({"algorithm": "HS256", "secret": secret})).unwrap();
        assert_eq!((ok.algorithm, ok.key.len()), (JwtAlgorithm::Hs256, 32));
        assert_eq!(ok.subject_claim, "sub");
        let cases = [
            (
                serde_json::json!({"algorithm": "HS256", "secret": "short"}),
                "identity.jwt.secret",
                "HS256 secrets must be at least 32 bytes",
            ),
            (
                serde_json::json!({"algorithm": "HS256", "secret": secret, "secret_env": "X"}),
                "identity.jwt.secret",
                "HS256 needs exactly one of secret or secret_env",
            ),
            (
                serde_json::json!({"algorithm": "HS256", "secret_env": "EXECGATE_TEST_UNSET_SECRET"}),
                "identity.jwt.secret_env",
                "environment variable EXECGATE_TEST_UNSET_SECRET is not set",
            ),
            (
                serde_json::json!({"algorithm": "ES256", "secret": secret}),
                "identity.jwt.algorithm",
                "unsupported algorithm \"ES256\": use HS256 or RS256",
            ),
            (
                serde_json::json!({"algorithm": "RS256"}),
                "identity.jwt.public_key_file",
                "RS256 needs public_key_file",
            ),
            (
                serde_json::json!({"algorithm": "HS256", "secret": secret, "leeway": "2h"}),
                "identity.jwt.leeway",
                "must be at most 1h",
            ),
        ];
        for (raw, at, reason) in cases {
            assert_eq!(
                jwt_of(raw.clone()).unwrap_err(),
                Invalid::new(at, reason),
                "{raw}"
            );
        }
        let unknown_tier = jwt_of(
            serde_json::json!({"algorithm": "HS256", "secret": secret, "default_tier": "gold"}),
        )
        .unwrap_err();
        assert_eq!(unknown_tier.key, "identity.jwt.default_tier");
    }

    #[test]
    fn an_rs256_key_file_must_hold_an_rsa_public_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("key.pem"), "not a key").unwrap();
        let raw: RawJwt = serde_json::from_value(
            serde_json::json!({"algorithm": "RS256", "public_key_file": "key.pem"}),
        )
        .unwrap();
        let e = jwt(&raw, &builtin_tiers(), dir.path()).unwrap_err();
        assert_eq!(e.key, "identity.jwt.public_key_file");
        assert!(e.reason.contains("is not an RSA public key PEM"), "{e:?}");
        std::fs::remove_file(dir.path().join("key.pem")).unwrap();
        let e = jwt(&raw, &builtin_tiers(), dir.path()).unwrap_err();
        assert!(e.reason.starts_with("cannot read"), "{e:?}");
    }
}
