//! Who is asking: the client's address (believing `X-Forwarded-For` only from
//! trusted proxies), and the tier named by an API key or a JWT.
//!
//! A credential that is present but wrong is a 401, never a silent fall back to
//! `anonymous` — otherwise a typo in a paid key would quietly cost its owner.

use crate::config::{ApiClient, IdentitySettings, JwtAlgorithm, JwtSettings, Tier};
use crate::error::Refusal;
use execgate_core::{ClientKey, TierName};
use http::HeaderMap;
use ipnet::IpNet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::IpAddr;

/// How the client proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// Nothing: keyed by IP, anonymous tier.
    Anonymous,
    /// An API key from config.
    ApiKey,
    /// A signed JWT.
    Jwt,
    /// A client certificate verified in the TLS handshake (mTLS).
    ClientCert,
}

impl Credential {
    /// The name used in audit logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Credential::Anonymous => "anonymous",
            Credential::ApiKey => "api_key",
            Credential::Jwt => "jwt",
            Credential::ClientCert => "client_cert",
        }
    }
}

/// The outcome of identification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The client's address after proxy walking.
    pub ip: IpAddr,
    /// The key limits, blocks and reputation are kept under.
    pub key: ClientKey,
    /// The client id, for authenticated clients.
    pub client: Option<String>,
    /// The tier.
    pub tier: TierName,
    /// How the identity was established.
    pub credential: Credential,
    /// The token's session claim (`sid`), as the issuer wrote it; checked
    /// where sessions are kept, so a gateway without sessions takes any.
    pub session_claim: Option<SessionClaim>,
}

/// A token's `sid` claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionClaim {
    /// A string, not yet held to the session id's bounds.
    Text(String),
    /// A number, object or other non-string.
    NotText,
}

/// The JWT claim that names the client's session.
pub const SESSION_CLAIM: &str = "sid";

/// The names of the client certificate the TLS handshake verified: its
/// subject's common name and its DNS subject alternative names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerNames(pub Vec<String>);

struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
    subject_claim: String,
    tier_claim: String,
    default_tier: Option<TierName>,
}

/// Identifies requests; built once from config.
pub struct Identifier {
    trusted: Vec<IpNet>,
    ipv6_prefix: u8,
    api_keys: HashMap<[u8; 32], ApiClient>,
    jwt: Option<JwtVerifier>,
    client_certs: HashMap<String, ApiClient>,
    tiers: Vec<TierName>,
    /// The tier of clients without credentials.
    anonymous_tier: TierName,
}

impl Identifier {
    /// Builds the identifier; fails only on a key config validation already accepted.
    pub fn new(
        settings: &IdentitySettings,
        tiers: &BTreeMap<TierName, Tier>,
        anonymous_tier: TierName,
    ) -> Result<Self, String> {
        let jwt = settings.jwt.as_ref().map(jwt_verifier).transpose()?;
        Ok(Self {
            anonymous_tier,
            trusted: settings.trusted_proxies.clone(),
            ipv6_prefix: settings.ipv6_prefix,
            api_keys: settings.api_keys.clone(),
            jwt,
            client_certs: settings.client_certs.clone(),
            tiers: tiers.keys().cloned().collect(),
        })
    }

    /// The request as if it carried no credentials: keyed by its client address.
    pub fn anonymous(&self, peer: IpAddr, headers: &HeaderMap) -> Identity {
        let ip = self.client_ip(peer, headers);
        Identity {
            ip,
            key: ClientKey::from_ip(ip, self.ipv6_prefix),
            client: None,
            tier: self.anonymous_tier.clone(),
            credential: Credential::Anonymous,
            session_claim: None,
        }
    }

    /// Identifies a request from `peer` with `headers`. Every credential
    /// present must be valid, and when both headers carry one they must name
    /// the same client in the same tier: a request that could be charged to
    /// either of two clients is charged to neither.
    pub fn identify(&self, peer: IpAddr, headers: &HeaderMap) -> Result<Identity, Refusal> {
        self.identify_with(peer, headers, None)
    }

    /// `identify`, with the names of the client certificate the connection's
    /// handshake verified: a certificate listed in `identity.client_certs`
    /// is one more credential (an unlisted one names nobody).
    pub fn identify_with(
        &self,
        peer: IpAddr,
        headers: &HeaderMap,
        certificate: Option<&PeerNames>,
    ) -> Result<Identity, Refusal> {
        let anonymous = self.anonymous(peer, headers);
        let mut named: Option<(ClientKey, String, TierName, Credential)> = None;
        let mut session_claim = None;
        let by_certificate = certificate
            .and_then(|names| names.0.iter().find_map(|n| self.client_certs.get(n)))
            .map(|owner| {
                Ok((
                    owner.client.clone(),
                    owner.tier.clone(),
                    Credential::ClientCert,
                    None,
                ))
            });
        let by_headers = presented_credentials(headers)?
            .into_iter()
            .map(|presented| self.authenticate(presented));
        for authenticated in by_certificate.into_iter().chain(by_headers) {
            let (client, tier, credential, sid) = authenticated?;
            session_claim = session_claim.or(sid);
            // A token's subject and an API key's client live in separate key
            // spaces: `sub = "alice"` never shares limits or bans with key owner alice.
            let key = match credential {
                Credential::Jwt => subject_key(&client),
                _ => ClientKey::from_client_id(&client),
            };
            if let Some((first, _, first_tier, _)) = &named
                && (first != &key || first_tier != &tier)
            {
                return Err(unauthorized("the credentials name different clients"));
            }
            named.get_or_insert((key, client, tier, credential));
        }
        Ok(match named {
            None => anonymous,
            Some((key, client, tier, credential)) => Identity {
                key,
                client: Some(client),
                tier,
                credential,
                session_claim,
                ..anonymous
            },
        })
    }

    /// The client address: the socket peer, or — only when the peer is a trusted
    /// proxy — the first untrusted hop of `X-Forwarded-For` read right to left.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.is_trusted(peer) {
            return peer;
        }
        let mut client = peer;
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok());
        let hops: Vec<&str> = hops.flat_map(|v| v.split(',')).collect();
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else { break };
            client = ip;
            if !self.is_trusted(ip) {
                break;
            }
        }
        client
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|n| n.contains(&ip))
    }

    /// `X-Api-Key` holds only API keys; a bearer token is a JWT when one is
    /// configured and it has a JWT's shape, else an API key.
    fn authenticate(
        &self,
        presented: Presented<'_>,
    ) -> Result<(String, TierName, Credential, Option<SessionClaim>), Refusal> {
        let token = match presented {
            Presented::Bearer(token) => {
                if let Some(jwt) = &self.jwt
                    && looks_like_jwt(token)
                {
                    let (client, tier, sid) = self.verify_jwt(jwt, token)?;
                    return Ok((client, tier, Credential::Jwt, sid));
                }
                token
            }
            Presented::ApiKey(token) => token,
        };
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        match self.api_keys.get(&digest) {
            Some(owner) => Ok((
                owner.client.clone(),
                owner.tier.clone(),
                Credential::ApiKey,
                None,
            )),
            None => Err(unauthorized("invalid API key")),
        }
    }

    /// The token's subject, tier and session claim.
    fn verify_jwt(
        &self,
        jwt: &JwtVerifier,
        token: &str,
    ) -> Result<(String, TierName, Option<SessionClaim>), Refusal> {
        refuse_critical_extensions(token)?;
        let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
            token,
            &jwt.key,
            &jwt.validation,
        )
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => unauthorized("token expired"),
            _ => unauthorized("invalid token"),
        })?;
        let claims = data.claims;
        let client = claims
            .get(&jwt.subject_claim)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| unauthorized("token has no subject"))?;
        let tier = match claims.get(&jwt.tier_claim) {
            Some(v) => {
                let name = TierName(v.as_str().unwrap_or_default().to_string());
                self.tiers
                    .contains(&name)
                    .then_some(name)
                    .ok_or_else(|| unauthorized("token names an unknown tier"))?
            }
            None => jwt
                .default_tier
                .clone()
                .ok_or_else(|| unauthorized("token names no tier"))?,
        };
        let session = claims.get(SESSION_CLAIM).map(|v| match v.as_str() {
            Some(text) => SessionClaim::Text(text.to_string()),
            None => SessionClaim::NotText,
        });
        Ok((client.to_string(), tier, session))
    }
}

fn jwt_verifier(s: &JwtSettings) -> Result<JwtVerifier, String> {
    let (key, alg) = match s.algorithm {
        JwtAlgorithm::Hs256 => (DecodingKey::from_secret(&s.key), Algorithm::HS256),
        JwtAlgorithm::Rs256 => (
            DecodingKey::from_rsa_pem(&s.key).map_err(|e| e.to_string())?,
            Algorithm::RS256,
        ),
    };
    let mut validation = Validation::new(alg);
    validation.leeway = s.leeway.as_secs();
    validation.validate_exp = true;
    validation.validate_nbf = true;
    // A configured issuer or audience must be in the token, not merely not contradicted.
    let mut required = vec!["exp"];
    required.extend(s.issuer.as_ref().map(|_| "iss"));
    required.extend(s.audience.as_ref().map(|_| "aud"));
    validation.set_required_spec_claims(&required);
    validation.validate_aud = s.audience.is_some();
    if let Some(aud) = &s.audience {
        validation.set_audience(&[aud]);
    }
    if let Some(iss) = &s.issuer {
        validation.set_issuer(&[iss]);
    }
    Ok(JwtVerifier {
        key,
        validation,
        subject_claim: s.subject_claim.clone(),
        tier_claim: s.tier_claim.clone(),
        default_tier: s.default_tier.clone(),
    })
}

/// Longest subject kept readable in a key; the blocklist takes client ids of up
/// to 200 printable characters.
const SUBJECT_KEY_MAX: usize = 128;

/// The key of a token's subject. The issuer may choose any subject (`José`, `Alice
/// Smith`, 300 characters), but a key must be printable ASCII to be banned, blocked
/// and typed into `clients show`: bytes outside letters, digits and `-_.@` are
/// percent-encoded (so no two subjects share a key), and a subject still too long
/// is keyed by its SHA-256.
fn subject_key(subject: &str) -> ClientKey {
    let mut encoded = String::with_capacity(subject.len());
    for byte in subject.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.@".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    if encoded.len() > SUBJECT_KEY_MAX {
        encoded = format!("sha256:{}", hex::encode(Sha256::digest(subject.as_bytes())));
    }
    ClientKey::from_client_id(&format!("jwt:{encoded}"))
}

fn unauthorized(message: &str) -> Refusal {
    Refusal::Unauthorized {
        message: message.to_string(),
    }
}

/// A credential as the request presents it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presented<'a> {
    /// `X-Api-Key: KEY`.
    ApiKey(&'a str),
    /// `Authorization: Bearer TOKEN`: an API key or a JWT.
    Bearer(&'a str),
}

/// Every credential in `X-Api-Key` and `Authorization: Bearer`. A header given
/// twice is refused: which copy a proxy in front or the executor behind would
/// read is anyone's guess, and a gateway that picked one would be charging a
/// client the request may not be from.
fn presented_credentials(headers: &HeaderMap) -> Result<Vec<Presented<'_>>, Refusal> {
    let mut presented = Vec::with_capacity(2);
    if let Some(v) = only_one(headers, "X-Api-Key")? {
        let key = v
            .to_str()
            .map_err(|_| unauthorized("invalid API key"))?
            .trim();
        if key.is_empty() {
            return Err(unauthorized("empty API key"));
        }
        presented.push(Presented::ApiKey(key));
    }
    if let Some(v) = only_one(headers, "Authorization")? {
        let value = v
            .to_str()
            .map_err(|_| unauthorized("invalid Authorization header"))?
            .trim();
        let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(unauthorized("unsupported Authorization scheme: use Bearer"));
        }
        let token = token.trim();
        if token.is_empty() {
            return Err(unauthorized("empty bearer token"));
        }
        presented.push(Presented::Bearer(token));
    }
    Ok(presented)
}

/// The value of header `name`, refusing it when given more than once.
fn only_one<'a>(
    headers: &'a HeaderMap,
    name: &'static str,
) -> Result<Option<&'a http::HeaderValue>, Refusal> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(unauthorized(&format!("more than one {name} header")));
    }
    Ok(first)
}

/// RFC 7515 §4.1.11: a token whose `crit` header names extensions the
/// recipient does not understand must be refused. The gateway understands
/// none, so any `crit` (even an empty list, which the RFC forbids) is refused.
fn refuse_critical_extensions(token: &str) -> Result<(), Refusal> {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap_or_default();
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .ok_or_else(|| unauthorized("invalid token"))?;
    if header.get("crit").is_some() {
        return Err(unauthorized(
            "token requires critical extensions the gateway does not support",
        ));
    }
    Ok(())
}

fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3 && token.starts_with("eyJ")
}

/// An IPv4-mapped IPv6 peer is the IPv4 client it stands for.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// One `X-Forwarded-For` hop: an address, maybe with a port or in brackets.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let h = hop.trim();
    if let Ok(ip) = h.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(sa) = h.parse::<std::net::SocketAddr>() {
        return Some(canonical(sa.ip()));
    }
    h.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|r| r.parse().ok())
        .map(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tiers::builtin_tiers;

    fn identifier(trusted: &[&str]) -> Identifier {
        let settings = IdentitySettings {
            trusted_proxies: trusted.iter().map(|s| s.parse().unwrap()).collect(),
            ipv6_prefix: 64,
            api_keys: HashMap::new(),
            jwt: None,
            client_certs: HashMap::new(),
        };
        Identifier::new(&settings, &builtin_tiers(), TierName::anonymous()).unwrap()
    }

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", v.parse().unwrap());
        h
    }

    #[test]
    fn forwarded_for_is_ignored_from_untrusted_peers() {
        let id = identifier(&["10.0.0.0/8"]);
        let ip = id.client_ip("203.0.113.9".parse().unwrap(), &xff("1.2.3.4"));
        assert_eq!(ip, "203.0.113.9".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn forwarded_for_walks_right_to_left_past_trusted_hops() {
        let id = identifier(&["10.0.0.0/8"]);
        let ip = id.client_ip(
            "10.0.0.1".parse().unwrap(),
            &xff("6.6.6.6, 198.51.100.4, 10.1.1.1"),
        );
        assert_eq!(ip, "198.51.100.4".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn garbage_hops_stop_the_walk_at_the_last_good_one() {
        let id = identifier(&["10.0.0.0/8"]);
        let ip = id.client_ip(
            "10.0.0.1".parse().unwrap(),
            &xff("6.6.6.6, nonsense, 10.2.2.2"),
        );
        assert_eq!(ip, "10.2.2.2".parse::<IpAddr>().unwrap());
    }
}
