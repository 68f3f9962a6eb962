//! Bearer-token authentication of the admin API. Tokens come from the config
//! list, a file, or `EXECGATE_ADMIN_TOKEN`; they are kept as SHA-256 digests
//! and compared in constant time, every configured token checked every time.

use super::AdminState;
use super::error::ApiError;
use super::lockout::{Admission, Failure};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use execgate_core::FileError;
use sha2::{Digest, Sha256};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::Path;
use subtle::ConstantTimeEq;

/// Shortest token accepted: anything shorter is guessable.
pub const MIN_TOKEN_LEN: usize = 16;

/// The environment variable holding an admin token.
pub const TOKEN_ENV: &str = "EXECGATE_ADMIN_TOKEN";

/// Who called: the name of the token they presented (`config#1`, `FILE:LINE`, `env`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub String);

/// The accepted admin tokens; none means every admin request is refused.
#[derive(Clone, Default)]
pub struct AdminTokens {
    tokens: Vec<(String, [u8; 32])>,
}

impl std::fmt::Debug for AdminTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.tokens.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("AdminTokens")
            .field("names", &names)
            .finish()
    }
}

impl AdminTokens {
    /// Tokens from the config list, named `config#1`, `config#2`…
    pub fn from_list<S: AsRef<str>>(tokens: &[S]) -> Result<Self, String> {
        let mut this = Self::default();
        for (i, token) in tokens.iter().enumerate() {
            this.push(format!("config#{}", i + 1), token.as_ref())
                .map_err(|e| format!("admin.tokens[{i}]: {e}"))?;
        }
        Ok(this)
    }

    /// Tokens from a file, one per line; blank lines and `#` comments are skipped.
    pub fn from_file(path: &Path) -> Result<Self, FileError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| FileError::new(path, format!("cannot read: {e}")))?;
        let mut this = Self::default();
        for (n, line) in text.lines().enumerate() {
            let token = line.trim();
            if token.is_empty() || token.starts_with('#') {
                continue;
            }
            let name = format!("{}:{}", path.display(), n + 1);
            this.push(name, token)
                .map_err(|e| FileError::new(path, e).at(Some(n + 1), None))?;
        }
        Ok(this)
    }

    /// The token in `EXECGATE_ADMIN_TOKEN`, named `env`, if set.
    pub fn from_env() -> Result<Self, String> {
        let mut this = Self::default();
        if let Ok(token) = std::env::var(TOKEN_ENV) {
            this.push("env".into(), &token)
                .map_err(|e| format!("{TOKEN_ENV}: {e}"))?;
        }
        Ok(this)
    }

    /// Every configured source together: the config list, an optional token
    /// file, and `EXECGATE_ADMIN_TOKEN`. Errors name the source.
    pub fn from_sources<S: AsRef<str>>(list: &[S], file: Option<&Path>) -> Result<Self, String> {
        let mut tokens = Self::from_list(list)?;
        if let Some(path) = file {
            tokens = tokens.merge(Self::from_file(path).map_err(|e| e.to_string())?);
        }
        Ok(tokens.merge(Self::from_env()?))
    }

    /// Both sets of tokens.
    pub fn merge(mut self, other: AdminTokens) -> Self {
        self.tokens.extend(other.tokens);
        self
    }

    /// Whether no token is configured.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    fn push(&mut self, name: String, token: &str) -> Result<(), String> {
        if token.len() < MIN_TOKEN_LEN || token.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(format!(
                "an admin token must be at least {MIN_TOKEN_LEN} characters without spaces"
            ));
        }
        self.tokens
            .push((name, Sha256::digest(token.as_bytes()).into()));
        Ok(())
    }

    /// The SHA-256 digest of the token named `name`: a secret only a holder of
    /// that token could derive (the console keys its session cookies with it,
    /// so removing a token ends its sessions).
    pub fn digest(&self, name: &str) -> Option<[u8; 32]> {
        self.tokens
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, digest)| *digest)
    }

    /// The name of the token equal to `presented`, comparing against all in constant time.
    pub fn authenticate(&self, presented: &str) -> Option<&str> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for (name, hash) in &self.tokens {
            if bool::from(hash.ct_eq(&digest)) {
                found = Some(name.as_str());
            }
        }
        found
    }
}

/// Middleware: 401 JSON without a valid `Authorization: Bearer` token; else
/// records the caller. Failed checks are limited per client address: past
/// the limit every request from it is a 429 with `Retry-After`.
pub async fn require_token(
    State(state): State<AdminState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if state.tokens.is_empty() {
        return Err(ApiError::unauthorized(format!(
            "the admin API is locked: no admin token is configured (set {TOKEN_ENV} or admin tokens in the config)"
        )));
    }
    let mut headers = request.headers().get_all(header::AUTHORIZATION).iter();
    let (presented, again) = (headers.next(), headers.next());
    if again.is_some() {
        // Which copy a proxy in front would read is anyone's guess.
        return Err(ApiError::invalid("more than one Authorization header"));
    }
    let presented = presented.cloned();
    // Without the connection's address (a router served without it) every
    // caller shares one count: locked together rather than never.
    let ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), |c| c.0.ip());
    if let Admission::LockedOut(wait) = state.auth_failures.admit(ip) {
        return Err(ApiError::locked_out(wait));
    }
    let presented =
        presented.ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer token"))?;
    let caller = match bearer(&presented) {
        Some(token) => check_token(&state, ip, token)?,
        None => return Err(failed(&state, ip, false)),
    };
    request.extensions_mut().insert(caller);
    Ok(next.run(request).await)
}

/// The token of `Bearer TOKEN`.
fn bearer(value: &HeaderValue) -> Option<&str> {
    value
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
}

/// Checks `token` presented from `ip` against the configured tokens, under
/// the same failed-login limit as the bearer header: the caller on success.
/// The console's login form goes through here too.
pub fn check_token(state: &AdminState, ip: IpAddr, token: &str) -> Result<Caller, ApiError> {
    if state.tokens.is_empty() {
        return Err(ApiError::unauthorized(format!(
            "the admin API is locked: no admin token is configured (set {TOKEN_ENV} or admin tokens in the config)"
        )));
    }
    if let Admission::LockedOut(wait) = state.auth_failures.admit(ip) {
        return Err(ApiError::locked_out(wait));
    }
    match state.tokens.authenticate(token) {
        Some(name) => Ok(Caller(name.to_string())),
        None => Err(failed(state, ip, true)),
    }
}

/// Counts a failed check from `ip` and says what to answer; a failure within
/// the limit is audited on its own, a burst past it once, when it is cut off.
fn failed(state: &AdminState, ip: IpAddr, was_bearer: bool) -> ApiError {
    match state.auth_failures.fail(ip) {
        Failure::Counted => {
            tracing::warn!(target: "execgate::audit", event = "admin.auth_failed", %ip, "admin request with an invalid token");
            if was_bearer {
                ApiError::unauthorized("invalid admin token")
            } else {
                ApiError::unauthorized("the Authorization header must be \"Bearer TOKEN\"")
            }
        }
        Failure::Locked(wait) => {
            tracing::warn!(
                target: "execgate::audit",
                event = "admin.auth_locked",
                %ip,
                failures = super::AUTH_FAILURE_BURST + 1,
                locked_for_s = wait.as_secs_f64(),
                "admin logins from this address are refused for a while: too many failed"
            );
            ApiError::locked_out(wait)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_named_and_checked() {
        let tokens = AdminTokens::from_list(&["0123456789abcdef", "fedcba9876543210"]).unwrap();
        assert_eq!(tokens.authenticate("fedcba9876543210"), Some("config#2"));
        assert_eq!(tokens.authenticate("fedcba987654321"), None);
        assert_eq!(tokens.authenticate(""), None);
        let err = AdminTokens::from_list(&["short"]).unwrap_err();
        assert!(err.starts_with("admin.tokens[0]: "), "{err}");
    }

    #[test]
    fn token_files_skip_comments_and_name_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        std::fs::write(&path, "# ops team\n\n0123456789abcdef\n").unwrap();
        let tokens = AdminTokens::from_file(&path).unwrap();
        let name = tokens.authenticate("0123456789abcdef").unwrap();
        assert!(name.ends_with("tokens:3"), "{name}");
        std::fs::write(&path, "ok-token-0123456789\nbad token\n").unwrap();
        let err = AdminTokens::from_file(&path).unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(
            format!("{tokens:?}").contains("tokens:3"),
            "debug shows names only"
        );
    }

    /// Set in the child process of the test below: what `from_env` must do there.
    const CHILD_EXPECTS: &str = "EXECGATE_STATE_TEST_ENV_TOKEN_EXPECTS";

    /// The environment is process-wide (and setting it is unsafe), so the test
    /// runs itself again in a child process with `EXECGATE_ADMIN_TOKEN` set.
    #[test]
    fn the_admin_token_environment_variable_is_a_token_source() {
        const NAME: &str =
            "admin::auth::tests::the_admin_token_environment_variable_is_a_token_source";
        match std::env::var(CHILD_EXPECTS).as_deref() {
            Ok("accepted") => {
                let tokens = AdminTokens::from_sources::<&str>(&[], None).unwrap();
                assert_eq!(tokens.authenticate("env-token-0123456789"), Some("env"));
                return;
            }
            Ok("refused") => {
                let err = AdminTokens::from_env().unwrap_err();
                assert!(err.starts_with("EXECGATE_ADMIN_TOKEN: "), "{err}");
                return;
            }
            _ => {}
        }
        let child = |expects: &str, token: &str| {
            std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", NAME, "--test-threads=1"])
                .env(CHILD_EXPECTS, expects)
                .env(TOKEN_ENV, token)
                .output()
                .unwrap()
        };
        for (expects, token) in [("accepted", "env-token-0123456789"), ("refused", "short")] {
            let out = child(expects, token);
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{expects}: {stdout}");
            assert!(
                stdout.contains("1 passed"),
                "the child ran the test: {stdout}"
            );
        }
    }

    #[test]
    fn sources_are_merged_and_file_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        std::fs::write(&path, "file-token-0123456789\n").unwrap();
        let tokens = AdminTokens::from_sources(&["list-token-0123456789"], Some(&path)).unwrap();
        assert_eq!(
            tokens.authenticate("list-token-0123456789"),
            Some("config#1")
        );
        assert!(tokens.authenticate("file-token-0123456789").is_some());
        let missing = dir.path().join("nope");
        let err =
            AdminTokens::from_sources(&["list-token-0123456789"], Some(&missing)).unwrap_err();
        assert!(err.contains("nope: cannot read"), "{err}");
    }
}
