//! Console sessions: a login with an admin token opens a session kept in a
//! `Secure; HttpOnly; SameSite=Strict` cookie; every change made through it
//! must carry the session's CSRF token in `X-CSRF-Token`.
//!
//! The cookie carries the session itself — who logged in (the token's name),
//! when it ends and a random id — signed with HMAC-SHA256 under a key only a
//! holder of that admin token could derive (the token's digest). Nothing is
//! kept per session, so a session outlives a gateway restart and is valid on
//! every gateway configured with the same token; removing the token ends its
//! sessions. The CSRF token is the same MAC over the session under another
//! label. A logout is remembered (in memory, until the session would have
//! ended) and clears the browser's cookie.

use axum::http::{HeaderMap, HeaderValue, Method, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use execgate_core::Clock;
use execgate_state::AdminTokens;
use execgate_state::admin::Caller;
use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use subtle::ConstantTimeEq;

/// The session cookie's name.
pub const COOKIE: &str = "execgate_console";

/// The header a change must carry the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How long a session lasts from login.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);

/// Logged-out sessions remembered at most; past it the one ending first is dropped.
const MAX_LOGGED_OUT: usize = 65_536;

/// The cookie format's version, first in what is signed.
const VERSION: &str = "v1";

/// A longer cookie is not even decoded.
const MAX_COOKIE_LEN: usize = 2048;

/// One open session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The token the operator logged in with, named as in the audit log.
    pub caller: Caller,
    /// The token every change must echo.
    pub csrf: String,
    /// When it ends.
    pub expires: SystemTime,
}

/// Why a request was not let through as a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No cookie, a forged or unknown one, a logged-out or expired session.
    NoSession,
    /// A change without the session's CSRF token.
    Csrf,
}

/// What a MAC is computed for: a cookie and its CSRF token never share one.
#[derive(Debug, Clone, Copy)]
enum Purpose {
    Cookie,
    Csrf,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::Cookie => b"execgate console session\0",
            Purpose::Csrf => b"execgate console csrf\0",
        }
    }
}

/// A session as signed into its cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Claims {
    /// Unix seconds when it ends.
    expires: u64,
    /// Random, so two logins in the same second differ (and logout names one).
    id: String,
    /// The admin token's name.
    caller: String,
}

impl Claims {
    fn encode(&self) -> String {
        format!("{VERSION}|{}|{}|{}", self.expires, self.id, self.caller)
    }

    fn decode(text: &str) -> Option<Claims> {
        let mut parts = text.splitn(4, '|');
        if parts.next()? != VERSION {
            return None;
        }
        Some(Claims {
            expires: parts.next()?.parse().ok()?,
            id: parts.next()?.to_string(),
            // The name may hold `|` (a token file's path): it is last.
            caller: parts.next()?.to_string(),
        })
    }
}

/// Signs and checks session cookies.
#[derive(Debug)]
pub struct Sessions {
    clock: Arc<dyn Clock>,
    tokens: AdminTokens,
    /// Logged-out session ids and when they would have ended.
    logged_out: Mutex<HashMap<String, u64>>,
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Sessions {
    /// Sessions of the holders of `tokens`, timed by `clock`.
    pub fn new(clock: Arc<dyn Clock>, tokens: AdminTokens) -> Self {
        Self {
            clock,
            tokens,
            logged_out: Mutex::default(),
        }
    }

    /// The MAC of `claims` for `purpose`; `None` when its token is gone.
    fn mac(&self, claims: &Claims, purpose: Purpose) -> Option<[u8; 32]> {
        let key = self.tokens.digest(&claims.caller)?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
        mac.update(purpose.label());
        mac.update(claims.encode().as_bytes());
        Some(mac.finalize().into_bytes().into())
    }

    fn session(&self, claims: &Claims) -> Option<Session> {
        Some(Session {
            caller: Caller(claims.caller.clone()),
            csrf: URL_SAFE_NO_PAD.encode(self.mac(claims, Purpose::Csrf)?),
            expires: UNIX_EPOCH + Duration::from_secs(claims.expires),
        })
    }

    /// Opens a session for `caller`: its cookie value and the session; `None`
    /// when `caller` names no configured token.
    pub fn open(&self, caller: Caller) -> Option<(String, Session)> {
        let claims = Claims {
            expires: unix(self.clock.now() + SESSION_TTL),
            id: uuid::Uuid::new_v4().simple().to_string(),
            caller: caller.0,
        };
        let mac = self.mac(&claims, Purpose::Cookie)?;
        let value = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(claims.encode()),
            URL_SAFE_NO_PAD.encode(mac)
        );
        Some((value, self.session(&claims)?))
    }

    /// The signed, unexpired, not logged-out claims of a cookie value.
    fn verify(&self, value: &str) -> Option<Claims> {
        if value.len() > MAX_COOKIE_LEN {
            return None;
        }
        let (payload, mac) = value.split_once('.')?;
        let text = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        let claims = Claims::decode(&text)?;
        let presented = URL_SAFE_NO_PAD.decode(mac).ok()?;
        let expected = self.mac(&claims, Purpose::Cookie)?;
        if !bool::from(presented.as_slice().ct_eq(&expected)) {
            return None;
        }
        if claims.expires <= unix(self.clock.now()) {
            return None;
        }
        if self.logged_out.lock().contains_key(&claims.id) {
            return None;
        }
        Some(claims)
    }

    /// The session of a request, checking the CSRF token of anything but a read.
    pub fn admit(&self, method: &Method, headers: &HeaderMap) -> Result<Session, Denied> {
        let claims = cookie(headers)
            .and_then(|v| self.verify(v))
            .ok_or(Denied::NoSession)?;
        let session = self.session(&claims).ok_or(Denied::NoSession)?;
        let reads = matches!(*method, Method::GET | Method::HEAD);
        if !reads {
            let presented = headers
                .get(CSRF_HEADER)
                .map(HeaderValue::as_bytes)
                .unwrap_or_default();
            if !bool::from(presented.ct_eq(session.csrf.as_bytes())) {
                return Err(Denied::Csrf);
            }
        }
        Ok(session)
    }

    /// Ends the session of `headers`' cookie on this gateway.
    pub fn close(&self, headers: &HeaderMap) {
        let Some(claims) = cookie(headers).and_then(|v| self.verify(v)) else {
            return;
        };
        let now = unix(self.clock.now());
        let mut logged_out = self.logged_out.lock();
        logged_out.retain(|_, expires| *expires > now);
        if logged_out.len() >= MAX_LOGGED_OUT {
            let first = logged_out
                .iter()
                .min_by_key(|(_, expires)| **expires)
                .map(|(id, _)| id.clone());
            if let Some(first) = first {
                logged_out.remove(&first);
            }
        }
        logged_out.insert(claims.id, claims.expires);
    }
}

/// The session cookie's value among the request's cookies.
fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// `Set-Cookie` opening a session.
pub fn set_cookie(id: &str) -> String {
    format!(
        "{COOKIE}={id}; Path=/console; Max-Age={}; Secure; HttpOnly; SameSite=Strict",
        SESSION_TTL.as_secs()
    )
}

/// `Set-Cookie` ending one.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/console; Max-Age=0; Secure; HttpOnly; SameSite=Strict")
}

#[cfg(test)]
mod tests {
    use super::*;
    use execgate_core::ManualClock;

    const TOKEN: &str = "session-test-token-0123456789";

    fn sessions(clock: &ManualClock, tokens: &[&str]) -> Sessions {
        Sessions::new(
            Arc::new(clock.clone()),
            AdminTokens::from_list(tokens).unwrap(),
        )
    }

    fn with_cookie(id: &str, csrf: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("other=1; {COOKIE}={id}")).unwrap(),
        );
        if let Some(csrf) = csrf {
            h.insert(CSRF_HEADER, HeaderValue::from_str(csrf).unwrap());
        }
        h
    }

    #[test]
    fn a_session_reads_freely_changes_only_with_its_csrf_token_and_expires() {
        let clock = ManualClock::default();
        let sessions = sessions(&clock, &[TOKEN, "another-token-0123456789abc"]);
        let (id, session) = sessions.open(Caller("config#1".into())).unwrap();
        assert_eq!(
            sessions
                .admit(&Method::GET, &with_cookie(&id, None))
                .unwrap()
                .caller,
            Caller("config#1".into())
        );
        let post = |csrf| sessions.admit(&Method::POST, &with_cookie(&id, csrf)).err();
        assert_eq!(post(None), Some(Denied::Csrf));
        assert_eq!(post(Some("not-the-token")), Some(Denied::Csrf));
        let (_, other) = sessions.open(Caller("config#1".into())).unwrap();
        assert_eq!(
            post(Some(&other.csrf)),
            Some(Denied::Csrf),
            "another session's token"
        );
        assert_eq!(post(Some(&session.csrf)), None);
        assert_eq!(
            sessions
                .admit(&Method::GET, &with_cookie("guess", None))
                .err(),
            Some(Denied::NoSession)
        );
        clock.advance(SESSION_TTL);
        assert_eq!(
            sessions.admit(&Method::GET, &with_cookie(&id, None)).err(),
            Some(Denied::NoSession),
            "expired"
        );
    }

    #[test]
    fn logout_closes_the_session() {
        let clock = ManualClock::default();
        let sessions = sessions(&clock, &[TOKEN]);
        let (id, _) = sessions.open(Caller("config#1".into())).unwrap();
        let (kept, _) = sessions.open(Caller("config#1".into())).unwrap();
        sessions.close(&with_cookie(&id, None));
        assert_eq!(
            sessions.admit(&Method::GET, &with_cookie(&id, None)).err(),
            Some(Denied::NoSession)
        );
        assert!(
            sessions
                .admit(&Method::GET, &with_cookie(&kept, None))
                .is_ok(),
            "only that session ended"
        );
    }

    #[test]
    fn a_session_outlives_a_restart_but_not_its_token() {
        let clock = ManualClock::default();
        let (id, session) = sessions(&clock, &[TOKEN])
            .open(Caller("config#1".into()))
            .unwrap();
        // A new gateway with the same token: same session, same CSRF token.
        let restarted = sessions(&clock, &[TOKEN]);
        let again = restarted
            .admit(&Method::POST, &with_cookie(&id, Some(&session.csrf)))
            .unwrap();
        assert_eq!(again.caller, session.caller);
        // A gateway whose token changed: no session.
        let rotated = sessions(&clock, &["rotated-token-0123456789abcdef"]);
        assert_eq!(
            rotated.admit(&Method::GET, &with_cookie(&id, None)).err(),
            Some(Denied::NoSession)
        );
    }

    #[test]
    fn a_tampered_cookie_is_no_session() {
        let clock = ManualClock::default();
        let sessions = sessions(&clock, &[TOKEN, "another-token-0123456789abc"]);
        let (id, _) = sessions.open(Caller("config#1".into())).unwrap();
        let (payload, mac) = id.split_once('.').unwrap();
        let claims =
            Claims::decode(&String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap())
                .unwrap();
        let forge = |c: Claims| format!("{}.{mac}", URL_SAFE_NO_PAD.encode(c.encode()));
        for forged in [
            forge(Claims {
                expires: claims.expires + 1_000_000,
                ..claims.clone()
            }),
            forge(Claims {
                caller: "config#2".into(),
                ..claims.clone()
            }),
            format!("{payload}.{}", URL_SAFE_NO_PAD.encode([0u8; 32])),
            format!("{payload}."),
            payload.to_string(),
            "x".repeat(MAX_COOKIE_LEN + 1),
        ] {
            assert_eq!(
                sessions
                    .admit(&Method::GET, &with_cookie(&forged, None))
                    .err(),
                Some(Denied::NoSession),
                "{forged}"
            );
        }
    }

    #[test]
    fn the_cookie_is_secure_http_only_strict_and_scoped_to_the_console() {
        let c = set_cookie("abc");
        for part in [
            "Secure",
            "HttpOnly",
            "SameSite=Strict",
            "Path=/console",
            "Max-Age=28800",
        ] {
            assert!(c.contains(part), "{c}");
        }
        assert!(clear_cookie().contains("Max-Age=0"));
    }
}
