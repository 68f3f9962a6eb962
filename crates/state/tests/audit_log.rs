//! The audit log of admin changes, in a test binary of its own: the capture
//! is a thread-local subscriber, and tracing caches each log site's interest
//! globally, so a test hitting the same sites on another thread at the same
//! moment could leave a site disabled for the capture.

mod support;

use serde_json::json;
use support::Fixture;

/// A `MakeWriter` collecting log output for assertions.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[tokio::test]
async fn every_change_is_audited_with_who_and_why() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(captured.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let f = Fixture::start().await;
    let (_, d) = f
        .post(
            "/v1/blocks",
            json!({"value": "203.0.113.7", "reason": "port scan"}),
        )
        .await;
    f.delete(&format!("/v1/blocks/{}?reason=false%20positive", d["id"]))
        .await;
    f.delete("/v1/clients/client:abc/reputation").await;
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let find = |event: &str| {
        lines
            .iter()
            .find(|l| l["fields"]["event"] == event)
            .unwrap_or_else(|| panic!("no {event} in {log}"))
            .clone()
    };
    let added = find("block.added");
    assert_eq!(
        (
            added["fields"]["created_by"].as_str(),
            added["fields"]["reason"].as_str()
        ),
        (Some("config#1"), Some("port scan"))
    );
    assert_eq!(added["target"], "execgate::audit");
    let removed = find("block.removed");
    assert_eq!(
        (
            removed["fields"]["by"].as_str(),
            removed["fields"]["reason"].as_str()
        ),
        (Some("config#1"), Some("false positive"))
    );
    assert_eq!(find("reputation.forgiven")["fields"]["by"], "config#1");
}

/// A burst of failed admin logins is audited once when it is cut off, not
/// once per attempt: failures within the limit are lines of their own, the
/// attempts refused while the address is locked out write nothing.
#[tokio::test]
async fn a_burst_of_failed_admin_logins_is_audited_once() {
    use execgate_state::admin::AUTH_FAILURE_BURST;
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(captured.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let f = Fixture::start().await;
    for _ in 0..200 {
        f.send(
            f.http
                .get(f.url("/v1/blocks"))
                .bearer_auth("wrong-token-0123456789"),
        )
        .await;
    }
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let count = |event: &str| {
        log.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|l| l["fields"]["event"] == event && l["target"] == "execgate::audit")
            .count()
    };
    assert_eq!(
        count("admin.auth_failed"),
        AUTH_FAILURE_BURST as usize,
        "{log}"
    );
    assert_eq!(count("admin.auth_locked"), 1, "{log}");
}
