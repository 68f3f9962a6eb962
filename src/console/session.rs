//! Console sessions: a login with an admin token opens a session kept in a
//! `Secure; HttpOnly; SameSite=Strict` cookie; every change made through it
//! must carry the session's CSRF token in `X-CSRF-Token`. Sessions live in
//! memory, expire after `SESSION_TTL`, and end on logout or restart.

use axum::http::{HeaderMap, HeaderValue, Method, header};
use execgate_core::Clock;
use execgate_state::admin::Caller;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use subtle::ConstantTimeEq;

/// The session cookie's name.
pub const COOKIE: &str = "execgate_console";

/// The header a change must carry the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How long a session lasts from login.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);

/// Open sessions kept at most; past it the one expiring first is closed.
const MAX_SESSIONS: usize = 1024;

/// A random secret: 244 bits from two v4 UUIDs, hex.
fn secret() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

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
    /// No cookie, an unknown one, or an expired session.
    NoSession,
    /// A change without the session's CSRF token.
    Csrf,
}

/// The open sessions by their cookie value.
#[derive(Debug)]
pub struct Sessions {
    clock: Arc<dyn Clock>,
    open: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// No sessions, timed by `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            open: Mutex::default(),
        }
    }

    /// Opens a session for `caller`: its cookie value and the session.
    pub fn open(&self, caller: Caller) -> (String, Session) {
        let now = self.clock.now();
        let id = secret();
        let session = Session {
            caller,
            csrf: secret(),
            expires: now + SESSION_TTL,
        };
        let mut open = self.open.lock();
        open.retain(|_, s| s.expires > now);
        if open.len() >= MAX_SESSIONS {
            let first = open
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(id, _)| id.clone());
            if let Some(first) = first {
                open.remove(&first);
            }
        }
        open.insert(id.clone(), session.clone());
        (id, session)
    }

    /// The session of a request, checking the CSRF token of anything but a read.
    pub fn admit(&self, method: &Method, headers: &HeaderMap) -> Result<Session, Denied> {
        let id = cookie(headers).ok_or(Denied::NoSession)?;
        let now = self.clock.now();
        let session = {
            let mut open = self.open.lock();
            match open.get(id) {
                Some(s) if s.expires > now => s.clone(),
                Some(_) => {
                    open.remove(id);
                    return Err(Denied::NoSession);
                }
                None => return Err(Denied::NoSession),
            }
        };
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

    /// Ends the session of `headers`' cookie.
    pub fn close(&self, headers: &HeaderMap) {
        if let Some(id) = cookie(headers) {
            self.open.lock().remove(id);
        }
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
        let sessions = Sessions::new(Arc::new(clock.clone()));
        let (id, session) = sessions.open(Caller("config#1".into()));
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
        let (_, other) = sessions.open(Caller("config#2".into()));
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
        let sessions = Sessions::new(Arc::new(ManualClock::default()));
        let (id, _) = sessions.open(Caller("config#1".into()));
        sessions.close(&with_cookie(&id, None));
        assert_eq!(
            sessions.admit(&Method::GET, &with_cookie(&id, None)).err(),
            Some(Denied::NoSession)
        );
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
