//! The CLI's HTTP side: one blocking client with the bearer token, and API
//! errors turned into messages and exit codes.

use super::Connection;
use serde_json::Value;
use std::fmt;
use std::time::Duration;

/// Why a CLI command failed.
#[derive(Debug)]
pub(super) enum CliError {
    /// The API answered with an error.
    Api {
        /// HTTP status.
        status: u16,
        /// The error code.
        code: String,
        /// The error message.
        message: String,
    },
    /// The API could not be asked (no token, no connection, not JSON).
    Setup(String),
}

impl CliError {
    pub(super) fn exit_code(&self) -> i32 {
        match self {
            CliError::Api { .. } => 1,
            CliError::Setup(_) => 2,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Api {
                status,
                code,
                message,
            } => write!(f, "{code} ({status}): {message}"),
            CliError::Setup(message) => f.write_str(message),
        }
    }
}

/// A connection to the admin API.
pub(super) struct Admin {
    base: String,
    token: String,
    http: reqwest::blocking::Client,
}

impl Admin {
    pub(super) fn new(conn: &Connection) -> Result<Self, CliError> {
        let token = conn
            .token
            .clone()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                CliError::Setup("no admin token: pass --token or set EXECGATE_ADMIN_TOKEN".into())
            })?;
        let base = conn.admin_url.trim_end_matches('/').to_string();
        if !base.starts_with("http://") {
            return Err(CliError::Setup(format!(
                "admin URL {base:?} must start with http:// (the admin listener is plain HTTP on loopback)"
            )));
        }
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| CliError::Setup(format!("cannot build an HTTP client: {e}")))?;
        Ok(Self { base, token, http })
    }

    /// Sends a request and returns the JSON body of a 2xx answer.
    pub(super) fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, CliError> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().map_err(|e| {
            CliError::Setup(format!("cannot reach the admin API at {}: {e}", self.base))
        })?;
        let status = response.status().as_u16();
        let value: Value = response.json().map_err(|e| {
            CliError::Setup(format!("the admin API answered {status} without JSON: {e}"))
        })?;
        if (200..300).contains(&status) {
            return Ok(value);
        }
        let text = |key: &str| value["error"][key].as_str().unwrap_or("").to_string();
        Err(CliError::Api {
            status,
            code: text("code"),
            message: text("message"),
        })
    }
}

/// Percent-encodes a path segment or query value (everything but unreserved characters and `:`).
pub(super) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn encoding_keeps_keys_readable_and_escapes_the_rest() {
        assert_eq!(super::encode("ip:2001:db8::/64"), "ip:2001:db8::%2F64");
        assert_eq!(super::encode("false positive&x"), "false%20positive%26x");
    }
}
