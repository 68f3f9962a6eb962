//! Which session of its client a request belongs to: the verified token's
//! `sid` claim, else the `X-Session-Id` header. Both are the client's own
//! words, so both are held to the session id's bounds, and a request whose
//! header contradicts its token is refused rather than counted in either.

use super::identity::{Identity, SessionClaim};
use crate::error::Refusal;
use execgate_capacity::SessionId;
use http::HeaderMap;

/// The header naming a session.
pub const SESSION_HEADER: &str = "x-session-id";

fn invalid(field: &str, message: String) -> Refusal {
    Refusal::InvalidRequest {
        field: Some(field.to_string()),
        message,
    }
}

/// The request's session, if it names one; a malformed or contradictory
/// name is a 400.
pub fn session_of(identity: &Identity, headers: &HeaderMap) -> Result<Option<SessionId>, Refusal> {
    let mut values = headers.get_all(SESSION_HEADER).iter();
    let header = match (values.next(), values.next()) {
        (None, _) => None,
        (Some(_), Some(_)) => {
            return Err(invalid(
                "X-Session-Id",
                "X-Session-Id: given more than once".into(),
            ));
        }
        (Some(v), None) => {
            let text = v
                .to_str()
                .map_err(|_| invalid("X-Session-Id", "X-Session-Id: not printable ASCII".into()))?;
            Some(
                SessionId::parse(text)
                    .map_err(|e| invalid("X-Session-Id", format!("X-Session-Id: {e}")))?,
            )
        }
    };
    let claim = match &identity.session_claim {
        None => None,
        Some(SessionClaim::NotText) => {
            return Err(invalid("sid", "token sid: not a string".into()));
        }
        Some(SessionClaim::Text(text)) => {
            Some(SessionId::parse(text).map_err(|e| invalid("sid", format!("token sid: {e}")))?)
        }
    };
    match (claim, header) {
        (Some(claim), Some(header)) if claim != header => Err(invalid(
            "X-Session-Id",
            "X-Session-Id names another session than the token's sid".into(),
        )),
        (claim, header) => Ok(claim.or(header)),
    }
}
