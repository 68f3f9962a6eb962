//! `[capacity]` validation: one case per rule, with the key and reason asserted.

use execgate_capacity::{CapacityConfig, OverClientCap};
use execgate_core::TierName;
use std::collections::BTreeSet;
use std::path::Path;

fn tiers() -> BTreeSet<TierName> {
    ["anonymous", "free", "paid"]
        .into_iter()
        .map(|t| TierName(t.into()))
        .collect()
}

fn languages() -> BTreeSet<String> {
    ["python", "javascript"]
        .into_iter()
        .map(String::from)
        .collect()
}

fn parse(text: &str) -> CapacityConfig {
    #[derive(serde::Deserialize)]
    struct Wrap {
        capacity: CapacityConfig,
    }
    toml::from_str::<Wrap>(text).unwrap().capacity
}

fn error(text: &str) -> (String, String) {
    let env = |name: &str| (name == "HOOK_SECRET").then(|| "k".to_string());
    parse(text)
        .validate(
            &tiers(),
            Some(&languages()),
            Path::new("/etc/execgate"),
            &env,
        )
        .expect_err("config was accepted")
}

fn err(key: &str, reason: &str) -> (String, String) {
    (key.to_string(), reason.to_string())
}

#[test]
fn the_commented_sample_validates_with_meaningful_defaults() {
    let c = parse(
        r#"
        [capacity]
        enabled = true
        pool_max = 2
        [capacity.tiers.paid]
        per_client = 8
        over_client_cap = "wait"
        budget_daily = 50.0
        [capacity.tiers.free]
        per_client = 2
        budget_daily = 1.0
        at_budget = "throttle"
        throttle_to = "anonymous"
        [[capacity.price]]
        per_cpu_second = 0.01
        [[capacity.price]]
        tier = "paid"
        language = "python"
        per_request = 0.001
        [[capacity.webhook]]
        url = "https://hooks.example.com/execgate"
        format = "slack"
        secret_env = "HOOK_SECRET"
        "#,
    );
    let env = |name: &str| (name == "HOOK_SECRET").then(|| "k".to_string());
    let s = c
        .validate(
            &tiers(),
            Some(&languages()),
            Path::new("/etc/execgate"),
            &env,
        )
        .unwrap();
    assert_eq!(s.pool.total.get(), 2);
    let paid = &s.pool.tiers[&TierName("paid".into())];
    assert_eq!(
        (paid.priority, paid.per_client.get(), paid.over_client_cap),
        (2, 8, OverClientCap::Wait)
    );
    let anon = &s.pool.tiers[&TierName("anonymous".into())];
    assert_eq!(
        (anon.priority, anon.per_client.get(), anon.over_client_cap),
        (0, 1, OverClientCap::Refuse)
    );
    assert_eq!(
        s.usage_file.as_deref(),
        Some(Path::new("/etc/execgate/usage.jsonl"))
    );
    assert_eq!(s.alerts.webhooks[0].secret.as_deref(), Some(&b"k"[..]));
}

#[test]
fn negative_and_absurd_prices_are_refused() {
    assert_eq!(
        error("[capacity]\n[[capacity.price]]\nper_cpu_second = -1.0\n"),
        err(
            "capacity.price[0].per_cpu_second",
            "-1 is not an amount of credits (0 to 1000000000)"
        )
    );
    assert_eq!(
        error("[capacity]\n[[capacity.price]]\nper_request = 1e12\n"),
        err(
            "capacity.price[0].per_request",
            "1000000000000 is not an amount of credits (0 to 1000000000)"
        )
    );
    assert_eq!(
        error("[capacity]\n[[capacity.price]]\nper_gb_second = nan\n"),
        err(
            "capacity.price[0].per_gb_second",
            "NaN is not an amount of credits (0 to 1000000000)"
        )
    );
}

#[test]
fn negative_budgets_are_refused() {
    assert_eq!(
        error("[capacity.tiers.free]\nbudget_monthly = -5.0\n"),
        err(
            "capacity.tiers.free.budget_monthly",
            "-5 is not an amount of credits (0 to 1000000000)"
        )
    );
    assert_eq!(
        error("[capacity.global]\nbudget_daily = inf\n"),
        err(
            "capacity.global.budget_daily",
            "inf is not an amount of credits (0 to 1000000000)"
        )
    );
}

#[test]
fn unknown_tiers_and_languages_are_refused() {
    assert_eq!(
        error("[[capacity.price]]\ntier = \"gold\"\n"),
        err("capacity.price[0].tier", "unknown tier \"gold\"")
    );
    assert_eq!(
        error("[[capacity.price]]\nlanguage = \"cobol\"\n"),
        err("capacity.price[0].language", "unknown language \"cobol\"")
    );
    assert_eq!(
        error("[capacity.tiers.gold]\nper_client = 3\n"),
        err("capacity.tiers.gold", "unknown tier \"gold\"")
    );
    assert_eq!(
        error("[capacity.tiers.free]\nat_budget = \"throttle\"\nthrottle_to = \"bronze\"\n"),
        err("capacity.tiers.free.throttle_to", "unknown tier \"bronze\"")
    );
}

#[test]
fn the_same_price_row_twice_is_refused() {
    assert_eq!(
        error("[[capacity.price]]\ntier = \"free\"\n[[capacity.price]]\ntier = \"free\"\n"),
        err(
            "capacity.price[1]",
            "another price row has the same tier and language"
        )
    );
}

#[test]
fn webhook_urls_must_be_http_and_not_link_local() {
    assert_eq!(
        error("[[capacity.webhook]]\nurl = \"ftp://example.com/x\"\n"),
        err(
            "capacity.webhook[0].url",
            "scheme \"ftp\" is not http or https"
        )
    );
    assert_eq!(
        error("[[capacity.webhook]]\nurl = \"http://169.254.169.254/latest\"\n"),
        err(
            "capacity.webhook[0].url",
            "169.254.169.254 is a link-local address"
        )
    );
    assert_eq!(
        error("[[capacity.webhook]]\nurl = \"https://h.example\"\nsecret_env = \"NOPE\"\n"),
        err(
            "capacity.webhook[0].secret_env",
            "environment variable NOPE is not set"
        )
    );
}

#[test]
fn counts_and_statuses_are_checked() {
    assert_eq!(
        error("[capacity]\npool_max = 0\n"),
        err("capacity.pool_max", "must be 1 to 100000")
    );
    assert_eq!(
        error("[capacity.tiers.free]\nper_client = 0\n"),
        err("capacity.tiers.free.per_client", "must be 1 to 100000")
    );
    assert_eq!(
        error("[capacity.tiers.free]\nrefuse_status = 500\n"),
        err("capacity.tiers.free.refuse_status", "500 is not 402 or 429")
    );
    assert_eq!(
        error("[capacity.tiers.free]\nqueue_wait_max = \"0s\"\n"),
        err(
            "capacity.tiers.free.queue_wait_max",
            "a queue needs a longest wait above 0"
        )
    );
    assert_eq!(
        error("[capacity.clients.alice]\nbudget_daily = 1.0\n"),
        err(
            "capacity.clients.alice",
            "\"alice\" is not a client key (client:ID or ip:ADDR)"
        )
    );
}
