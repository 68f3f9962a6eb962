//! The admin API through a real socket: auth, blocks, validation, stream, clients, events.

mod support;

use execgate_core::{ClientKey, TierName};
use execgate_state::{AdminTokens, BlockQuery, BlockStore, RateLimiter, SecurityEvent, WindowSpec};
use reqwest::Method;
use serde_json::json;
use std::num::NonZeroU32;
use std::time::Duration;
use support::{Fixture, OTHER_TOKEN, code};

#[tokio::test]
async fn requests_without_or_with_a_wrong_token_get_401_json() {
    let f = Fixture::start().await;
    for rb in [
        f.http.get(f.url("/v1/blocks")),
        f.http
            .get(f.url("/v1/blocks"))
            .bearer_auth("wrong-token-0123456789"),
        f.http
            .get(f.url("/v1/blocks"))
            .header("Authorization", "Basic abc"),
        f.http
            .post(f.url("/v1/blocks"))
            .json(&json!({"value": "1.2.3.4", "reason": "x"})),
    ] {
        let resp = rb.send().await.unwrap();
        assert_eq!(resp.status(), 401);
        assert!(resp.headers().contains_key("www-authenticate"));
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(code(&body), "unauthorized");
    }
    assert!(f.blocks.is_empty(), "nothing added without a token");
    let (status, _) = f.send(f.http.get(f.url("/v1/openapi.json"))).await;
    assert_eq!(status, 200, "the document is public");
}

#[tokio::test]
async fn without_configured_tokens_the_api_is_locked() {
    let f = Fixture::start_with_tokens(AdminTokens::default()).await;
    let (status, body) = f.get("/v1/blocks").await;
    assert_eq!((status, code(&body)), (401, "unauthorized"));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no admin token is configured")
    );
}

#[tokio::test]
async fn a_posted_block_takes_effect_and_can_be_shown_listed_and_removed() {
    let f = Fixture::start().await;
    let (status, d) = f
        .post(
            "/v1/blocks",
            json!({"value": "198.51.100.0/24", "duration": "4h", "reason": "scanner"}),
        )
        .await;
    assert_eq!(status, 201, "{d}");
    assert_eq!(d["scope"], "range");
    assert_eq!(d["type"], "ban");
    assert_eq!(d["origin"], "manual");
    assert_eq!(d["created_by"], "config#1");
    let id = d["id"].as_u64().unwrap();
    let key = ClientKey::from_ip("198.51.100.9".parse().unwrap(), 64);
    let q = BlockQuery {
        ip: "198.51.100.9".parse().unwrap(),
        client: &key,
        country: None,
        asn: None,
    };
    assert_eq!(
        f.blocks.check(&q).map(|d| d.id),
        Some(id),
        "effective on the next request"
    );

    assert_eq!(f.get(&format!("/v1/blocks/{id}")).await, (200, d.clone()));
    let (_, page) = f.get("/v1/blocks?scope=range").await;
    assert_eq!(page["decisions"][0]["id"], id);
    let (_, page) = f.get("/v1/blocks?origin=anomaly").await;
    assert_eq!(page["decisions"].as_array().unwrap().len(), 0);

    let (status, removed) = f
        .delete(&format!("/v1/blocks/{id}?reason=false%20positive"))
        .await;
    assert_eq!((status, removed["id"].as_u64()), (200, Some(id)));
    assert!(f.blocks.check(&q).is_none());
    let (status, body) = f.get(&format!("/v1/blocks/{id}")).await;
    assert_eq!((status, code(&body)), (404, "not_found"));
    let (status, _) = f.delete(&format!("/v1/blocks/{id}")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn listing_is_paginated_and_filtered() {
    let f = Fixture::start().await;
    let batch: Vec<_> = (0..25)
        .map(|i| json!({"value": format!("client:c{i}"), "reason": "batch"}))
        .collect();
    let (status, body) = f.post("/v1/blocks", json!(batch)).await;
    assert_eq!(status, 201);
    assert_eq!(body["decisions"].as_array().unwrap().len(), 25);
    f.post(
        "/v1/blocks",
        json!({"value": "asn:64500", "reason": "hoster"}),
    )
    .await;
    let (_, p1) = f.get("/v1/blocks?scope=client&limit=10").await;
    assert_eq!(p1["next_offset"], 10);
    let (_, p3) = f.get("/v1/blocks?scope=client&limit=10&offset=20").await;
    assert_eq!(p3["decisions"].as_array().unwrap().len(), 5);
    assert!(p3["next_offset"].is_null());
    let (_, one) = f.get("/v1/blocks?value=asn:AS64500").await;
    assert_eq!(one["decisions"][0]["value"], "asn:64500");
}

#[tokio::test]
async fn the_same_batch_twice_keeps_one_decision_per_value() {
    let f = Fixture::start().await;
    let batch = json!([
        {"value": "203.0.113.7", "duration": "1h", "reason": "scan"},
        {"value": "client:abc", "reason": "abuse"},
        {"value": "ip:203.0.113.7", "duration": "2h", "reason": "scan again"},
    ]);
    let (status, first) = f.post("/v1/blocks", batch.clone()).await;
    assert_eq!(status, 201, "{first}");
    let (status, second) = f.post("/v1/blocks", batch).await;
    assert_eq!(status, 201, "{second}");
    let ids = |b: &serde_json::Value| -> Vec<u64> {
        b["decisions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(ids(&first), ids(&second), "same ids");
    assert_eq!(
        ids(&first)[0],
        ids(&first)[2],
        "one decision per value in a batch"
    );
    assert_eq!(first["decisions"][0]["reason"], "scan again");
    let (_, listed) = f.get("/v1/blocks?value=203.0.113.7").await;
    assert_eq!(listed["decisions"].as_array().unwrap().len(), 1, "{listed}");
    let (_, one) = f
        .post(
            "/v1/blocks",
            json!({"value": "203.0.113.7", "duration": "30m", "reason": "x"}),
        )
        .await;
    assert_eq!(
        one["id"].as_u64(),
        Some(ids(&first)[0]),
        "a single add merges too"
    );
    assert_eq!(one["expires_at"], first["decisions"][0]["expires_at"]);
    let (status, _) = f.delete(&format!("/v1/blocks/{}", ids(&first)[0])).await;
    assert_eq!(status, 200);
    let (_, listed) = f.get("/v1/blocks?value=203.0.113.7").await;
    assert_eq!(listed["decisions"], json!([]), "one delete unblocks");
    assert_eq!(f.blocks.len(), 1);
}

#[tokio::test]
async fn bad_decisions_get_clear_400s() {
    let f = Fixture::start().await;
    let cases = [
        (
            json!({"value": "198.51.100.7/24", "reason": "x"}),
            "did you mean 198.51.100.0/24",
        ),
        (
            json!({"value": "10.0.0.0/40", "reason": "x"}),
            "not a valid CIDR",
        ),
        (
            json!({"value": "1.2.3.4", "duration": "-4h", "reason": "x"}),
            "must not be negative",
        ),
        (
            json!({"value": "1.2.3.4", "duration": "100000d", "reason": "x"}),
            "3650 days",
        ),
        (
            json!({"value": "1.2.3.4", "duration": "0s", "reason": "x"}),
            "duration: must be at least 1s",
        ),
        (
            json!({"value": "1.2.3.4", "duration": "1ns", "reason": "x"}),
            "duration: must be at least 1s",
        ),
        (
            json!({"value": "1.2.3.4", "duration": "500ms", "reason": "x"}),
            "duration: must be at least 1s",
        ),
        (
            json!([{"value": "1.2.3.4", "reason": "x"}, {"value": "1.2.3.5", "duration": "999ms", "reason": "x"}]),
            "item 1: duration: must be at least 1s",
        ),
        (
            json!({"value": "1.2.3.4", "duration": 5, "reason": "x"}),
            "duration",
        ),
        (
            json!({"value": "galaxy:far", "reason": "x"}),
            "unknown scope \"galaxy\"",
        ),
        (json!({"value": "1.2.3.4"}), "missing field `reason`"),
        (
            json!({"value": "1.2.3.4", "reason": "x", "scope": "ip"}),
            "unknown field `scope`",
        ),
        (
            json!({"value": "1.2.3.4", "reason": "x", "origin": "anomaly"}),
            "reserved",
        ),
        (
            json!([{"value": "1.2.3.4", "reason": "x"}, {"value": "nope", "reason": "x"}]),
            "item 1: value",
        ),
        (json!([]), "empty"),
        (json!(42), "expected a decision object"),
    ];
    for (body, needle) in cases {
        let (status, resp) = f.post("/v1/blocks", body.clone()).await;
        assert_eq!(status, 400, "{body} → {resp}");
        let message = resp["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(needle),
            "{body}: {message:?} lacks {needle:?}"
        );
    }
    assert!(f.blocks.is_empty(), "a failed batch adds nothing");
}

#[tokio::test]
async fn bad_bodies_queries_and_paths_get_clear_errors() {
    let f = Fixture::start().await;
    let raw = f
        .req(Method::POST, "/v1/blocks")
        .header("content-type", "application/json")
        .body("{not json");
    let (status, resp) = f.send(raw).await;
    assert_eq!((status, code(&resp)), (400, "invalid_json"));
    let (status, resp) = f
        .send(f.req(Method::POST, "/v1/blocks").body("value=1.2.3.4"))
        .await;
    assert_eq!((status, code(&resp)), (415, "unsupported_media_type"));
    for path in [
        "/v1/blocks?scope=galaxy",
        "/v1/blocks?limit=0",
        "/v1/blocks?limit=99999",
        "/v1/blocks?bogus=1",
        "/v1/blocks/abc",
        "/v1/blocks/stream?startup=maybe",
        "/v1/clients/nobody",
        "/v1/events?since=yesterday",
    ] {
        let (status, resp) = f.get(path).await;
        assert_eq!(
            (status, code(&resp)),
            (400, "invalid_request"),
            "{path}: {resp}"
        );
    }
    let (status, resp) = f.get("/v1/nothing").await;
    assert_eq!((status, code(&resp)), (404, "not_found"));
    let (status, resp) = f.send(f.req(Method::PUT, "/v1/blocks")).await;
    assert_eq!((status, code(&resp)), (405, "method_not_allowed"));
}

#[tokio::test]
async fn ten_thousand_blocks_at_once_are_handled_and_more_are_refused() {
    let f = Fixture::start().await;
    let batch: Vec<_> = (0..10_000u32)
        .map(|i| json!({"value": format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255), "duration": "1h", "reason": "list import", "origin": "list"}))
        .collect();
    let (status, body) = f.post("/v1/blocks", json!(batch)).await;
    assert_eq!(status, 201);
    assert_eq!(body["decisions"].as_array().unwrap().len(), 10_000);
    assert_eq!(f.blocks.len(), 10_000);
    let mut too_many = batch;
    too_many.push(json!({"value": "1.1.1.1", "reason": "x"}));
    let (status, body) = f.post("/v1/blocks", json!(too_many)).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 10000")
    );
}

#[tokio::test]
async fn the_stream_sends_everything_on_startup_then_only_changes_per_caller() {
    let f = Fixture::start().await;
    let (_, a) = f
        .post("/v1/blocks", json!({"value": "203.0.113.1", "reason": "a"}))
        .await;
    f.post(
        "/v1/blocks",
        json!({"value": "203.0.113.2", "reason": "b", "duration": "1m"}),
    )
    .await;
    let (_, first) = f.get("/v1/blocks/stream?startup=true").await;
    assert_eq!(first["new"].as_array().unwrap().len(), 2);
    assert_eq!(first["resync"], true, "startup is the complete set");
    let (_, nothing) = f.get("/v1/blocks/stream").await;
    assert_eq!(
        without_cursor(nothing),
        json!({"new": [], "deleted": [], "resync": false})
    );

    let (_, c) = f
        .post("/v1/blocks", json!({"value": "country:XX", "reason": "c"}))
        .await;
    f.delete(&format!("/v1/blocks/{}", a["id"])).await;
    f.clock.advance(Duration::from_secs(61));
    let (_, changes) = f.get("/v1/blocks/stream").await;
    assert_eq!(changes["new"].as_array().unwrap().len(), 1);
    assert_eq!(changes["new"][0]["id"], c["id"]);
    assert_eq!(changes["resync"], false, "an increment");
    let deleted: Vec<&str> = changes["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        deleted,
        vec!["203.0.113.1", "203.0.113.2"],
        "removed and expired"
    );

    // Another token, and another named caller, start from scratch.
    let other = f
        .http
        .get(f.url("/v1/blocks/stream"))
        .bearer_auth(OTHER_TOKEN);
    let (_, theirs) = f.send(other).await;
    assert_eq!(theirs["new"].as_array().unwrap().len(), 1);
    assert_eq!(
        theirs["resync"], true,
        "an unknown caller gets the complete set"
    );
    let (_, named) = f.get("/v1/blocks/stream?caller=firewall").await;
    assert_eq!(named["new"].as_array().unwrap().len(), 1);
    let (_, again) = f.get("/v1/blocks/stream?startup=true").await;
    assert_eq!(again["new"].as_array().unwrap().len(), 1);
}

/// Regression: 1024 caller names locked every new follower out for good.
#[tokio::test]
async fn stream_callers_past_the_cap_evict_the_least_recently_seen() {
    let f = Fixture::start().await;
    f.post("/v1/blocks", json!({"value": "203.0.113.1", "reason": "a"}))
        .await;
    let pull = |name: String| {
        let f = &f;
        async move {
            let (status, body) = f.get(&format!("/v1/blocks/stream?caller={name}")).await;
            assert_eq!(status, 200, "{name}: {body}");
            body["resync"].as_bool().unwrap()
        }
    };
    for i in 0..1024 {
        assert!(pull(format!("c{i}")).await, "a first pull is a resync");
    }
    assert!(
        !pull("c0".into()).await,
        "c0 is known and now the most recent"
    );
    assert!(pull("newcomer".into()).await, "a new follower gets a slot");
    assert!(
        pull("c1".into()).await,
        "c1, least recently seen, was forgotten"
    );
    assert!(!pull("c0".into()).await, "c0 kept its cursor");
    assert!(!pull("newcomer".into()).await);
}

/// Regression: after a restart a follower got every active decision with
/// `deleted: []`, read it as an increment and kept what was deleted meanwhile.
#[tokio::test]
async fn after_a_restart_a_follower_is_told_to_resync() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blocks.json");
    let f = Fixture::start_at(&path).await;
    let (_, kept) = f
        .post(
            "/v1/blocks",
            json!({"value": "203.0.113.1", "reason": "kept"}),
        )
        .await;
    let (_, gone) = f
        .post(
            "/v1/blocks",
            json!({"value": "203.0.113.2", "reason": "gone"}),
        )
        .await;
    let (_, first) = f.get("/v1/blocks/stream?caller=fw").await;
    assert_eq!(first["new"].as_array().unwrap().len(), 2);
    let (status, _) = f.delete(&format!("/v1/blocks/{}", gone["id"])).await;
    assert_eq!(status, 200);
    drop(f);
    let f = Fixture::start_at(&path).await;
    let (_, pulled) = f.get("/v1/blocks/stream?caller=fw").await;
    assert_eq!(pulled["resync"], true, "{pulled}");
    assert_eq!(
        pulled["new"],
        json!([kept]),
        "the complete set: drop the rest"
    );
    assert_eq!(pulled["deleted"], json!([]));
    let (_, next) = f.get("/v1/blocks/stream?caller=fw").await;
    assert_eq!(
        without_cursor(next),
        json!({"new": [], "deleted": [], "resync": false})
    );
}

#[tokio::test]
async fn a_client_shows_tier_windows_reputation_block_and_events_and_can_be_forgiven() {
    let f = Fixture::start().await;
    let key = ClientKey::from_client_id("abc");
    let windows = [WindowSpec::new(
        "burst",
        NonZeroU32::new(3).unwrap(),
        Duration::from_secs(10),
    )];
    f.limiter
        .check(&TierName("paid".into()), &key, &windows, NonZeroU32::MIN);
    let ip = "203.0.113.7".parse().unwrap();
    f.reputation
        .record(&key, ip, SecurityEvent::CodeRejected { score: 5 }, false)
        .await;
    f.post(
        "/v1/blocks",
        json!({"value": "client:abc", "reason": "abuse"}),
    )
    .await;

    let (status, c) = f.get("/v1/clients/client:abc").await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["tier"], "paid");
    assert_eq!(c["windows"][0]["remaining"], 2);
    assert_eq!(c["reputation"]["score"], 5.0);
    assert_eq!(c["blocked"]["reason"], "abuse");
    assert_eq!(c["events"][0]["kind"], "code_rejected");

    let (status, r) = f.delete("/v1/clients/client:abc/reputation").await;
    assert_eq!((status, r["score"].as_f64()), (200, Some(0.0)));
    assert_eq!(f.reputation.score(&key), 0.0);

    let (status, anon) = f.get("/v1/clients/2001:db8::1").await;
    assert_eq!(status, 200);
    assert_eq!(anon["key"], "ip:2001:db8::/64");
    assert!(anon["tier"].is_null() && anon["blocked"].is_null());
    let (status, _) = f.get("/v1/clients/ip:2001:db8::%2F64").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn events_are_filtered_by_time() {
    let f = Fixture::start().await;
    let key = ClientKey::from_client_id("abc");
    let ip = "203.0.113.7".parse().unwrap();
    f.reputation
        .record(&key, ip, SecurityEvent::RateLimited, false)
        .await;
    f.clock.advance(Duration::from_secs(100));
    let since = humantime::format_rfc3339(f.clock_now());
    f.reputation
        .record(&key, ip, SecurityEvent::ExecTimeout, false)
        .await;
    let (_, all) = f.get("/v1/events").await;
    assert_eq!(all["events"].as_array().unwrap().len(), 2);
    let (status, recent) = f.get(&format!("/v1/events?since={since}")).await;
    assert_eq!(status, 200);
    assert_eq!(recent["events"].as_array().unwrap().len(), 1);
    assert_eq!(recent["events"][0]["kind"], "exec_timeout");
    assert_eq!(recent["events"][0]["ip"], "203.0.113.7");
}

trait ClockNow {
    fn clock_now(&self) -> std::time::SystemTime;
}

impl ClockNow for Fixture {
    fn clock_now(&self) -> std::time::SystemTime {
        use execgate_core::Clock;
        self.clock.now()
    }
}

/// A stream answer without its `cursor` (a position that differs per store).
fn without_cursor(mut answer: serde_json::Value) -> serde_json::Value {
    let cursor = answer.as_object_mut().unwrap().remove("cursor");
    assert!(
        cursor.is_some_and(|c| c.is_u64()),
        "every answer has a cursor"
    );
    answer
}

/// A follower that sends back the `cursor` of the last answer it applied gets
/// again what an answer lost on the way carried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_that_echoes_its_cursor_gets_a_lost_answer_again() {
    let f = Fixture::start().await;
    f.post("/v1/blocks", json!({"value": "203.0.113.1", "reason": "a"}))
        .await;
    let (_, first) = f.get("/v1/blocks/stream?startup=true&caller=fw").await;
    let applied = first["cursor"].as_u64().unwrap();
    let (_, added) = f
        .post("/v1/blocks", json!({"value": "203.0.113.2", "reason": "b"}))
        .await;
    // This answer is lost: the follower never applies it.
    let (_, lost) = f.get("/v1/blocks/stream?caller=fw").await;
    assert_eq!(lost["new"], json!([added.clone()]));
    let (_, without_echo) = f.get("/v1/blocks/stream?caller=fw").await;
    assert_eq!(without_echo["new"], json!([]), "the stored cursor moved on");
    let (_, again) = f
        .get(&format!("/v1/blocks/stream?caller=fw&cursor={applied}"))
        .await;
    assert_eq!(again["new"], json!([added]), "{again}");
    assert_eq!(again["resync"], false);
    let (status, _) = f.get("/v1/blocks/stream?cursor=x").await;
    assert_eq!(status, 400);
}

/// Guessing tokens is limited per address: past the burst every request from
/// the address is a 429 with `Retry-After` — a right token too, or the
/// difference would tell the guesser when it hit — while other addresses
/// are served as before.
#[tokio::test]
async fn failed_logins_past_the_limit_lock_the_address_out_with_429() {
    use execgate_state::admin::AUTH_FAILURE_BURST;
    let f = Fixture::start().await;
    let wrong = || {
        f.http
            .get(f.url("/v1/blocks"))
            .bearer_auth("wrong-token-0123456789")
    };
    for i in 0..AUTH_FAILURE_BURST {
        let (status, body) = f.send(wrong()).await;
        assert_eq!((status, code(&body)), (401, "unauthorized"), "failure {i}");
    }
    let resp = wrong().send().await.unwrap();
    assert_eq!(resp.status(), 429);
    let retry_after: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(code(&body), "too_many_failures");
    let (status, body) = f.get("/v1/blocks").await;
    assert_eq!(
        (status, code(&body)),
        (429, "too_many_failures"),
        "the right token from a locked address"
    );
    let elsewhere = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let resp = elsewhere
        .get(f.url("/v1/blocks"))
        .bearer_auth(support::TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "another address is not locked");
}

/// Two `Authorization` headers are a malformed request, not a login to guess
/// which of them counts.
#[tokio::test]
async fn duplicate_authorization_headers_are_400() {
    let f = Fixture::start().await;
    let bearer = format!("Bearer {}", support::TOKEN);
    for second in [bearer.as_str(), "Bearer wrong-token-0123456789"] {
        let rb = f
            .http
            .get(f.url("/v1/blocks"))
            .header("authorization", &bearer)
            .header("authorization", second);
        let (status, body) = f.send(rb).await;
        assert_eq!((status, code(&body)), (400, "invalid_request"), "{second}");
        assert_eq!(
            body["error"]["message"],
            "more than one Authorization header"
        );
    }
}
