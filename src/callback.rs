//! Judge0 `callback_url` delivery, done by the gateway: the executor never
//! sees the URL (the dialect strips it), so it can neither send the raw result
//! past the sanitizer nor be made to open connections inside its network.
//!
//! When a submission that named a checked `callback_url` is answered with its
//! token (`gateway::outbound::callback` hands it over), the gateway reads the
//! result from the executor that took it (`GET /submissions/{token}`, base64,
//! Judge0's callback fields) until the run
//! has finished, sanitizes it with the submitter's tier and reader exactly as
//! a poll by the client would be, and `PUT`s it to the URL as Judge0 does.
//!
//! Every attempt resolves the host again and checks every address it resolves
//! to; the connection goes to those checked addresses (pinned in the client,
//! whose own resolver refuses anything else), so a name that rebinds to an
//! inside address between the check and the connect cannot be reached.
//! Redirects are not followed; the receiver's body is never read.

use crate::config::UpstreamSettings;
use crate::rules::Rules;
use bytes::Bytes;
use execgate_core::Live;
use execgate_dialect::{CallbackConfig, CallbackPolicy, CallbackUrl, Dialect};
use execgate_sanitize::{FieldSpec, OutputPolicy, Reader};
use prometheus::IntCounterVec;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The fields Judge0 puts in a callback (`SubmissionSerializer.default_fields`).
const CALLBACK_FIELDS: &[&str] = &[
    "token",
    "time",
    "memory",
    "stdout",
    "stderr",
    "compile_output",
    "message",
    "status",
];

/// The first wait between two reads of an unfinished run; it doubles up to `POLL_MAX`.
const POLL_FIRST: Duration = Duration::from_millis(100);
const POLL_MAX: Duration = Duration::from_secs(2);

/// Sent as `User-Agent` on every callback.
pub const USER_AGENT: &str = "execgate-callback/1";

/// How one delivery ended, the label of `execgate_callbacks_total`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed, the receiver refused it (3xx, 4xx), or the result
    /// could not be read.
    Failed(String),
    /// The URL's host resolved to an address callbacks may not reach.
    Refused(String),
    /// `max_concurrent` deliveries were already in progress.
    Dropped,
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Failed(_) => "failed",
            Outcome::Refused(_) => "refused",
            Outcome::Dropped => "dropped",
        }
    }
}

/// One attempt's result.
enum Attempt {
    Delivered,
    /// A connect error, a time-out or a 5xx: worth another attempt.
    Retry(String),
    /// Not worth another attempt.
    Final(String),
    Refused(String),
}

/// One finished submission to deliver.
pub struct Due {
    /// The submission's request, for the log.
    pub request_id: String,
    /// The result's token.
    pub token: String,
    /// Where to.
    pub url: CallbackUrl,
    /// The executor that issued the token (`ip:port`).
    pub executor: String,
    /// The submitter's output policy (its tier's caps) at submission.
    pub output: OutputPolicy,
    /// The output fields of `result_path`, in the sanitizer's terms.
    pub fields: Vec<FieldSpec>,
    /// The most result bytes read.
    pub result_cap: usize,
    /// The submitter's client id (its own tenant markers are its data).
    pub client: Option<String>,
}

/// The deliverer, shared by every request.
pub struct Callbacks {
    policy: CallbackPolicy,
    attempts: u32,
    backoff: Duration,
    backoff_max: Duration,
    timeout: Duration,
    result_wait: Duration,
    slots: Arc<Semaphore>,
    /// Reads results from the executors.
    executor: ExecutorReader,
    counter: IntCounterVec,
    rules: Arc<Live<Rules>>,
    dialect: Arc<Dialect>,
}

impl Callbacks {
    /// The deliverer of `[dialect.callbacks]`.
    pub fn new(
        config: &CallbackConfig,
        upstream: &UpstreamSettings,
        counter: IntCounterVec,
        rules: Arc<Live<Rules>>,
        dialect: Arc<Dialect>,
    ) -> Result<Self, String> {
        let timeout = config.timeout.get();
        let executor = ExecutorReader::new(upstream, timeout)
            .map_err(|e| format!("callback delivery cannot start: {e}"))?;
        Ok(Self {
            policy: CallbackPolicy::new(config)?,
            attempts: config.attempts,
            backoff: config.backoff.get(),
            backoff_max: config.backoff_max.get(),
            timeout,
            result_wait: config.result_wait.get(),
            slots: Arc::new(Semaphore::new(config.max_concurrent)),
            executor,
            counter,
            rules,
            dialect,
        })
    }

    /// Starts delivering `due` in the background, or counts it dropped when
    /// `max_concurrent` deliveries are in progress.
    pub fn dispatch(self: &Arc<Self>, due: Due) {
        let permit = self.slots.clone().try_acquire_owned().ok();
        match (permit, tokio::runtime::Handle::try_current()) {
            (Some(permit), Ok(runtime)) => {
                runtime.spawn(self.clone().deliver(due, permit));
            }
            _ => self.record(&due, &Outcome::Dropped),
        }
    }

    async fn deliver(self: Arc<Self>, due: Due, _slot: OwnedSemaphorePermit) {
        let outcome = match tokio::time::timeout(self.result_wait, self.finished(&due)).await {
            Err(_) => Outcome::Failed(format!(
                "the run did not finish within {:?}",
                self.result_wait
            )),
            Ok(Err(reason)) => Outcome::Failed(reason),
            Ok(Ok(doc)) => match self.sanitized(&due, doc) {
                Ok(body) => self.put(&due, body).await,
                Err(reason) => Outcome::Failed(reason),
            },
        };
        self.record(&due, &outcome);
    }

    /// Counts and logs `outcome`; a refusal is a security event in the audit log.
    fn record(&self, due: &Due, outcome: &Outcome) {
        self.counter.with_label_values(&[outcome.label()]).inc();
        let host = due.url.as_url().host_str().unwrap_or_default();
        match outcome {
            Outcome::Delivered => {
                tracing::info!(request_id = %due.request_id, token = %due.token, host, "callback delivered")
            }
            Outcome::Failed(reason) => {
                tracing::warn!(request_id = %due.request_id, token = %due.token, host, reason = %reason, "callback not delivered")
            }
            Outcome::Dropped => tracing::warn!(
                request_id = %due.request_id, token = %due.token, host,
                "callback not delivered: too many deliveries in progress"
            ),
            Outcome::Refused(reason) => tracing::warn!(
                target: "execgate::audit",
                event = "callback.refused",
                request_id = %due.request_id,
                client = due.client.as_deref().unwrap_or("-"),
                token = %due.token,
                url = %due.url,
                reason = %reason,
                "callback refused"
            ),
        }
    }

    /// The run's result once it has finished, with Judge0's callback fields.
    async fn finished(&self, due: &Due) -> Result<Value, String> {
        let path = result_path(&due.token);
        let (client, url) = self.executor.at(&due.executor, &path)?;
        let cap = due.result_cap;
        let mut wait = POLL_FIRST;
        loop {
            let doc = Self::read(client, &url, cap).await?;
            let done = self
                .dialect
                .token_verdicts(&path, &doc)
                .into_iter()
                .any(|(token, outcome)| token == due.token && outcome.is_some());
            if done {
                return Ok(doc);
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(POLL_MAX);
        }
    }

    /// One read of the executor's JSON answer at `url`, at most `cap` bytes.
    async fn read(client: &reqwest::Client, url: &str, cap: usize) -> Result<Value, String> {
        let mut resp = client
            .get(url)
            .header("accept", "application/json")
            .header("accept-encoding", "identity")
            .send()
            .await
            .map_err(|e| format!("reading the result: {e}"))?;
        if resp.status() != reqwest::StatusCode::OK {
            return Err(format!(
                "reading the result: executor answered {}",
                resp.status()
            ));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| format!("reading the result: {e}"))?
        {
            if body.len() + chunk.len() > cap {
                return Err(format!("reading the result: more than {cap} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| format!("reading the result: {e}"))
    }

    /// Judge0's callback fields of `doc`, through the output sanitizer as the
    /// submitter's own poll would be.
    fn sanitized(&self, due: &Due, doc: Value) -> Result<Bytes, String> {
        let Value::Object(mut map) = doc else {
            return Err("the executor's result is not a JSON object".into());
        };
        map.retain(|key, _| CALLBACK_FIELDS.contains(&key.as_str()));
        let doc = Value::Object(map);
        let reader = due.client.as_deref().map_or(Reader::ANYONE, Reader::tenant);
        let rules = self.rules.load();
        let len = doc.to_string().len();
        execgate_sanitize::sanitize_value(&rules.output, &due.output, reader, doc, &due.fields, len)
            .map(|clean| Bytes::from(clean.body))
            .map_err(|e| format!("sanitizing the result: {e}"))
    }

    /// `PUT`s `body` to the URL, retrying connect errors, time-outs and 5xx
    /// answers with a doubling backoff.
    async fn put(&self, due: &Due, body: Bytes) -> Outcome {
        let mut wait = self.backoff;
        let mut last = String::new();
        for attempt in 1..=self.attempts {
            match self.attempt(&due.url, body.clone()).await {
                Attempt::Delivered => return Outcome::Delivered,
                Attempt::Refused(reason) => return Outcome::Refused(reason),
                Attempt::Final(reason) => return Outcome::Failed(reason),
                Attempt::Retry(reason) => last = reason,
            }
            if attempt < self.attempts {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(self.backoff_max);
            }
        }
        Outcome::Failed(format!("{} attempts: {last}", self.attempts))
    }

    /// One attempt: resolve, check every address, connect only to those.
    async fn attempt(&self, url: &CallbackUrl, body: Bytes) -> Attempt {
        let addrs = match self.addresses(url).await {
            Ok(addrs) => addrs,
            Err(attempt) => return attempt,
        };
        let mut client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.timeout)
            .connect_timeout(self.timeout)
            .pool_max_idle_per_host(0)
            .user_agent(USER_AGENT)
            // A name the pin below does not cover is never looked up.
            .dns_resolver(Arc::new(NoResolution));
        if let Some(name) = url.domain() {
            client = client.resolve_to_addrs(name, &addrs);
        }
        let client = match client.build() {
            Ok(client) => client,
            Err(e) => return Attempt::Final(format!("no HTTP client: {e}")),
        };
        let sent = client
            .put(url.as_url().clone())
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
        match sent {
            Ok(resp) if resp.status().is_success() => Attempt::Delivered,
            Ok(resp) if resp.status().is_server_error() => {
                Attempt::Retry(format!("the receiver answered {}", resp.status()))
            }
            Ok(resp) if resp.status().is_redirection() => Attempt::Final(format!(
                "the receiver answered {} (redirects are not followed)",
                resp.status()
            )),
            Ok(resp) => Attempt::Final(format!("the receiver answered {}", resp.status())),
            Err(e) => Attempt::Retry(error_chain(&e)),
        }
    }

    /// The addresses to connect to: the URL's own, or every one its host
    /// resolves to now, each allowed by the policy.
    async fn addresses(&self, url: &CallbackUrl) -> Result<Vec<SocketAddr>, Attempt> {
        let port = url.port();
        let addrs: Vec<SocketAddr> = match (url.address(), url.domain()) {
            (Some(ip), _) => vec![SocketAddr::new(ip, port)],
            (None, Some(name)) => {
                let lookup = tokio::net::lookup_host((name, port));
                match tokio::time::timeout(self.timeout, lookup).await {
                    Ok(Ok(found)) => found.collect(),
                    Ok(Err(e)) => return Err(Attempt::Retry(format!("resolving {name}: {e}"))),
                    Err(_) => return Err(Attempt::Retry(format!("resolving {name}: timed out"))),
                }
            }
            (None, None) => return Err(Attempt::Final("the URL has no host".into())),
        };
        if addrs.is_empty() {
            return Err(Attempt::Retry("the host resolved to no address".into()));
        }
        for addr in &addrs {
            self.policy
                .check_address(addr.ip())
                .map_err(Attempt::Refused)?;
        }
        Ok(addrs)
    }
}

/// A token as Judge0 issues them (a UUID); anything else is not put in a path.
pub fn is_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 128
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The executor path of a token's result, in the callback's shape.
pub fn result_path(token: &str) -> String {
    format!(
        "/submissions/{token}?base64_encoded=true&fields={}",
        CALLBACK_FIELDS.join(",")
    )
}

/// Reads results from the executors as the proxy speaks to them: plain HTTP,
/// or TLS with `[upstream]`'s name, CA and verification.
enum ExecutorReader {
    /// Plain HTTP, or TLS verified against each executor's IP address.
    ByAddress {
        client: reqwest::Client,
        scheme: &'static str,
    },
    /// TLS to the name `sni`: one client per executor, each connecting to
    /// its executor's address under that name.
    ByName {
        sni: String,
        clients: std::collections::HashMap<SocketAddr, reqwest::Client>,
    },
}

impl ExecutorReader {
    fn new(upstream: &UpstreamSettings, timeout: Duration) -> Result<Self, String> {
        let builder = || -> Result<reqwest::ClientBuilder, String> {
            let mut builder = reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(timeout);
            let Some(tls) = &upstream.tls else {
                return Ok(builder);
            };
            builder = builder.https_only(true);
            if let Some(ca) = &tls.ca {
                builder = builder.tls_built_in_root_certs(false);
                for der in ca {
                    let cert = reqwest::Certificate::from_der(der)
                        .map_err(|e| format!("upstream.ca: {e}"))?;
                    builder = builder.add_root_certificate(cert);
                }
            }
            Ok(builder.danger_accept_invalid_certs(!tls.verify))
        };
        let build = |b: reqwest::ClientBuilder| b.build().map_err(|e| e.to_string());
        match upstream.tls.as_ref().and_then(|t| t.sni.clone()) {
            Some(sni) => {
                let clients = upstream
                    .addresses
                    .iter()
                    .map(|&addr| Ok((addr, build(builder()?.resolve(&sni, addr))?)))
                    .collect::<Result<_, String>>()?;
                Ok(Self::ByName { sni, clients })
            }
            None => Ok(Self::ByAddress {
                client: build(builder()?)?,
                scheme: if upstream.tls.is_some() {
                    "https"
                } else {
                    "http"
                },
            }),
        }
    }

    /// The client and URL that read `path` from `executor`.
    fn at(&self, executor: &str, path: &str) -> Result<(&reqwest::Client, String), String> {
        match self {
            Self::ByAddress { client, scheme } => {
                Ok((client, format!("{scheme}://{executor}{path}")))
            }
            Self::ByName { sni, clients } => executor
                .parse::<SocketAddr>()
                .ok()
                .and_then(|addr| clients.get_key_value(&addr))
                .map(|(addr, client)| (client, format!("https://{sni}:{}{path}", addr.port())))
                .ok_or_else(|| format!("{executor} is not a configured executor")),
        }
    }
}

/// An error with its causes, for the log (reqwest's own message is only the outermost).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A resolver that resolves nothing: the delivery client connects only to
/// the addresses pinned for the URL's host after they were checked.
struct NoResolution;

impl reqwest::dns::Resolve for NoResolution {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let name = name.as_str().to_string();
        Box::pin(async move { Err(format!("{name} was not checked for callbacks").into()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_tokens_go_into_the_result_path() {
        assert!(is_token("2e9c8f3a-1b7e-4c1e-9f1a-0c2b3d4e5f60"));
        assert!(!is_token("../about"));
        assert!(!is_token("a?fields=*"));
        assert!(!is_token(""));
        assert_eq!(
            result_path("t-1"),
            "/submissions/t-1?base64_encoded=true&fields=token,time,memory,stdout,stderr,compile_output,message,status"
        );
    }
}
