//! The Pingora proxy: one module per stage of a request's way through the gateway.
//!
//! `Gateway` owns what the stages share (identity, policy, limits, dialect,
//! rules, upstreams, metrics); `proxy` is the thin `ProxyHttp` impl that calls
//! `admission` (request head), `body` (request body and its decision) and
//! `outbound` (response side) in order.

pub mod account;
pub mod admission;
pub mod audit;
pub mod body;
pub mod context;
pub mod identity;
pub mod ip_policy;
pub mod limits;
pub mod outbound;
pub mod proxy;
pub mod request;
pub mod request_id;
pub mod respond;
pub mod response;
pub mod tokens;
pub mod unpolled;
pub mod upstream;

use crate::accept::PeerTable;
use crate::config::{Settings, Tier};
use crate::error::Refusal;
use crate::metrics::Metrics;
use crate::rules::Rules;
use bytes::Bytes;
use context::RequestCtx;
use execgate_core::{Live, TierName};
use execgate_dialect::{Dialect, RunOutcome};
use execgate_sanitize::{OutputPolicy, Reader, ResponseBuffer};
use execgate_screen::{ScreenPolicy, Verdict};
use execgate_state::{BlockStore, RateLimiter, Reputation};
use identity::{Identifier, Identity};
use ip_policy::IpPolicy;
use limits::Limits;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use upstream::Upstreams;

/// What the proxy needs from outside config: shared state and the rule set.
pub struct Shared {
    /// The rate limiter (memory by default).
    pub limiter: Arc<dyn RateLimiter>,
    /// The dynamic blocklist.
    pub blocks: Arc<dyn BlockStore>,
    /// Screening and output rules, swapped on reload.
    pub rules: Arc<Live<Rules>>,
    /// Metrics registry.
    pub metrics: Metrics,
    /// Real client addresses of connections relayed by the accept guard.
    pub peers: Arc<PeerTable>,
    /// Client reputation (bans repeat offenders).
    pub reputation: Arc<Reputation>,
}

/// Per-tier policies derived once from config.
pub struct TierPolicies {
    /// The tier.
    pub tier: Tier,
    /// Screening policy with the tier's threshold.
    pub screen: ScreenPolicy,
    /// Output policy with the tier's caps.
    pub output: OutputPolicy,
}

/// The gateway: everything the proxy hooks share.
pub struct Gateway {
    identifier: Identifier,
    ip_policy: IpPolicy,
    blocks: Arc<dyn BlockStore>,
    limits: Arc<Limits>,
    tiers: BTreeMap<TierName, Arc<TierPolicies>>,
    fallback: Arc<TierPolicies>,
    dialect: Arc<Dialect>,
    rules: Arc<Live<Rules>>,
    upstreams: Upstreams,
    metrics: Metrics,
    peers: Arc<PeerTable>,
    reputation: Arc<Reputation>,
    /// Judge0 result tokens and who submitted them.
    tokens: Arc<tokens::TokenOwners>,
    body_timeout: Duration,
    /// How long a kept-alive connection may wait for its next request.
    idle_timeout: Duration,
    /// Connections come through the accept guard, which knows their real peers.
    guarded: bool,
}

impl Gateway {
    /// Builds the gateway from validated settings and the shared state.
    pub fn new(settings: &Settings, shared: Shared, upstreams: Upstreams) -> Result<Self, String> {
        let tiers: BTreeMap<TierName, Arc<TierPolicies>> = settings
            .tiers
            .values()
            .map(|t| (t.name.clone(), Arc::new(policies(settings, t))))
            .collect();
        let fallback = tiers
            .get(&settings.anonymous_tier)
            .or_else(|| tiers.values().next())
            .cloned()
            .ok_or("config has no tiers")?;
        Ok(Self {
            identifier: Identifier::new(
                &settings.identity,
                &settings.tiers,
                settings.anonymous_tier.clone(),
            )?,
            ip_policy: IpPolicy::new(&settings.ip_policy)?,
            blocks: shared.blocks,
            limits: Arc::new(Limits::new(
                shared.limiter,
                settings.tiers.values(),
                settings.limits.passthrough,
            )),
            tiers,
            fallback,
            dialect: Arc::new(Dialect::new(settings.dialect.clone())?),
            rules: shared.rules,
            upstreams,
            metrics: shared.metrics,
            peers: shared.peers,
            reputation: shared.reputation,
            tokens: Arc::new(tokens::TokenOwners::new(
                settings.limits.result_tokens_ttl,
                settings.limits.max_result_tokens,
            )),
            body_timeout: settings.server.body_timeout,
            idle_timeout: settings.server.header_timeout,
            guarded: settings.server.accept_guard,
        })
    }

    /// The tier of `identity` (anonymous when its tier vanished on reload).
    fn tier(&self, identity: &Identity) -> &Tier {
        &self.policies(identity).tier
    }

    /// The policies of `identity`'s tier.
    fn policies(&self, identity: &Identity) -> &Arc<TierPolicies> {
        self.tiers.get(&identity.tier).unwrap_or(&self.fallback)
    }

    /// Counts findings by rule and notes them for the audit line.
    fn record_findings(&self, ctx: &mut RequestCtx, verdicts: &[Verdict]) {
        let mut rules = Vec::new();
        for finding in verdicts.iter().flat_map(|v| v.findings.iter()) {
            self.metrics
                .findings
                .with_label_values(&[&finding.rule])
                .inc();
            rules.push(finding.rule.clone());
        }
        if !rules.is_empty() {
            ctx.reason = Some(format!("findings: {}", rules.join(",")));
        }
    }

    /// Whether the response to a non-executing route carries program output
    /// (Judge0 `GET /submissions/{token}` and batch polling): sanitized like a run.
    fn returns_output(&self, ctx: &RequestCtx) -> bool {
        !self
            .dialect
            .response_fields(&ctx.forward_path, None)
            .is_empty()
    }

    /// The most response bytes held for inspection: room for both capped
    /// streams with JSON escaping, plus the envelope.
    fn response_cap(&self, ctx: &RequestCtx) -> usize {
        let tier = ctx.identity.as_ref().map(|i| self.tier(i));
        let per_run = tier.map_or(110 << 10, |t| {
            t.stdout_max.as_usize() + t.stderr_max.as_usize()
        });
        let runs = match &ctx.exec {
            Some(exec) => exec.submissions.len().max(1),
            None => polled_runs(&ctx.forward_path),
        };
        per_run
            .saturating_mul(6)
            .saturating_mul(runs)
            .saturating_add(64 << 10)
    }

    /// Sanitizes a held executor response with the current output rules; a body
    /// cut at the hold's cap is closed into valid JSON and marked truncated. A
    /// whole body is parsed once, for the run's verdicts and the sanitizer.
    fn sanitize(&self, ctx: &mut RequestCtx, held: ResponseBuffer) -> Result<Bytes, Refusal> {
        let cut = held.overflowed();
        let held = held.into_bytes();
        let identity = ctx.identity.clone().ok_or(Refusal::Internal)?;
        let policy = &self.policies(&identity).output;
        // An authenticated client's id (API key id or token subject) is its tenant:
        // its own canary markers are its data, not a leak.
        let reader = identity
            .client
            .as_deref()
            .map_or(Reader::ANYONE, Reader::tenant);
        let fields: Vec<execgate_sanitize::FieldSpec> = self
            .dialect
            .response_fields(&ctx.forward_path, ctx.exec.as_ref())
            .into_iter()
            .map(output_field)
            .collect();
        let rules = self.rules.load();
        let tokens = ctx.read_tokens.take().unwrap_or_default();
        let sanitized = if cut {
            // A cut body may have lost its verdict fields; that the output ran
            // past every cap the tier sets is itself the run's verdict.
            ctx.run.outcomes = vec![RunOutcome::OutputLimit];
            execgate_sanitize::sanitize_truncated(&rules.output, policy, reader, &held, &fields)
        } else {
            serde_json::from_slice::<serde_json::Value>(&held)
                .map_err(|e| execgate_sanitize::SanitizeError::NotJson(e.to_string()))
                .and_then(|doc| {
                    ctx.run.outcomes = self.dialect.verdicts_for(&ctx.forward_path, &doc);
                    self.bind_tokens(ctx, &identity, &doc, tokens);
                    execgate_sanitize::sanitize_value(
                        &rules.output,
                        policy,
                        reader,
                        doc,
                        &fields,
                        held.len(),
                    )
                })
        };
        let clean = sanitized.map_err(|e| {
            if !matches!(e, execgate_sanitize::SanitizeError::NotJson(_)) {
                tracing::error!(request_id = %ctx.request_id, "output fields unusable: {e}");
            }
            Refusal::UpstreamFailed {
                message: "the executor answered with invalid JSON".into(),
            }
        })?;
        ctx.run.leak_score = clean.leak_score;
        for redaction in &clean.redactions {
            self.metrics
                .redactions
                .with_label_values(&[&redaction.rule])
                .inc_by(u64::from(redaction.count));
        }
        for finding in &clean.findings {
            self.metrics
                .outbound_findings
                .with_label_values(&[&finding.rule])
                .inc();
        }
        if clean.withheld || !clean.redactions.is_empty() {
            ctx.reason = Some(format!(
                "output: {} redactions, leak score {}, withheld {}",
                clean.redactions.len(),
                clean.leak_score,
                clean.withheld
            ));
        }
        Ok(Bytes::from(clean.body))
    }
}

impl Gateway {
    /// Binds the result tokens a run's response hands out to its client, and
    /// notes which runs' verdicts were scored: those of a response that carried
    /// a verdict for every run it names (`read` are the tokens a poll named).
    /// A poll of runs already scored (by an earlier poll, or by the gateway's
    /// own reading of unread runs) scores nothing again.
    fn bind_tokens(
        &self,
        ctx: &mut RequestCtx,
        identity: &Identity,
        doc: &serde_json::Value,
        read: Vec<String>,
    ) {
        let issued = if ctx.route.executes() {
            let issued = self.dialect.issued_tokens(&ctx.forward_path, doc);
            let owner = tokens::Owner {
                key: identity.key.clone(),
                ip: identity.ip,
                allow_listed: ctx.allow_listed,
            };
            self.tokens
                .issue(&owner, &issued, std::time::Instant::now());
            issued
        } else {
            read
        };
        let all_final = !issued.is_empty() && ctx.run.outcomes.len() == issued.len();
        if all_final && !self.tokens.mark_scored(&issued) && !ctx.route.executes() {
            ctx.run.outcomes.clear();
        }
    }

    /// The scorer of runs nobody reads, for a gateway that serves Judge0.
    pub fn unpolled_scorer(
        &self,
        executors: Vec<std::net::SocketAddr>,
    ) -> Option<unpolled::Scorer> {
        self.dialect
            .kinds()
            .contains(&execgate_dialect::DialectKind::Judge0)
            .then(|| unpolled::Scorer {
                tokens: self.tokens.clone(),
                reputation: self.reputation.clone(),
                dialect: self.dialect.clone(),
                executors,
                timeout: self.upstreams.total_timeout(),
            })
    }
}

/// How many runs a result-polling request asks for: the tokens of a Judge0
/// batch poll (`?tokens=a,b,c`, at most Judge0's batch size of 20), else one.
fn polled_runs(path_and_query: &str) -> usize {
    const JUDGE0_MAX_BATCH: usize = 20;
    let query = path_and_query.split_once('?').map_or("", |(_, q)| q);
    let tokens = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("tokens="))
        .map_or(1, |tokens| {
            tokens.split(',').filter(|t| !t.is_empty()).count()
        });
    tokens.clamp(1, JUDGE0_MAX_BATCH)
}

/// The dialect's description of an output field, in the sanitizer's terms.
fn output_field(spec: execgate_dialect::FieldSpec) -> execgate_sanitize::FieldSpec {
    use execgate_dialect::FieldKind as D;
    use execgate_sanitize::FieldKind as S;
    let kind = match spec.kind {
        D::Stdout => S::Stdout,
        D::Stderr => S::Stderr,
        D::Other => S::Other,
    };
    execgate_sanitize::FieldSpec::new(spec.pointer, kind, spec.base64)
}

fn policies(settings: &Settings, tier: &Tier) -> TierPolicies {
    let mut screen = settings.screen.clone();
    screen.threshold = tier.inbound_threshold;
    // The gateway's own environment is a secret as much as the listed names.
    let mut output = settings.output.clone().with_process_env();
    output.stdout_max_bytes = tier.stdout_max;
    output.stderr_max_bytes = tier.stderr_max;
    TierPolicies {
        tier: tier.clone(),
        screen,
        output,
    }
}

#[cfg(test)]
mod tests {
    use super::polled_runs;

    #[test]
    fn batch_polls_hold_room_for_every_token_up_to_the_batch_size() {
        assert_eq!(polled_runs("/submissions/abc"), 1);
        assert_eq!(
            polled_runs("/submissions/batch?tokens=a,b,c&base64_encoded=false"),
            3
        );
        assert_eq!(polled_runs("/submissions/batch?tokens="), 1);
        let many = vec!["t"; 500].join(",");
        assert_eq!(
            polled_runs(&format!("/submissions/batch?tokens={many}")),
            20
        );
    }
}
