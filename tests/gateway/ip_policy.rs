//! IP policy: static lists (inline and files), GeoIP country and ASN rules,
//! the dynamic blocklist; allow beats deny; 403 names only the category.

use crate::support::mmdb;
use crate::support::*;
use execgate_state::{NewBlock, Origin};
use std::time::Duration;

/// A gateway that believes X-Forwarded-For from the test client, so tests can speak for any address.
fn builder(exec: &MockExecutor) -> crate::support::gateway::GatewayBuilder {
    TestGateway::builder()
        .upstream(exec.addr)
        .with("identity", "trusted_proxies = [\"127.0.0.1/32\"]")
}

fn from(gw: &TestGateway, ip: &str) -> Reply {
    post_with(
        &gw.url("/api/v2/execute"),
        piston("print(1)").to_string().into_bytes(),
        &[("x-forwarded-for", ip)],
    )
}

fn blocked(r: &Reply, reason: &str) {
    assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.code(), "ip_blocked");
    assert_eq!(r.json()["error"]["reason"], reason);
}

#[test]
fn deny_lists_inline_and_from_files_refuse_and_allow_beats_deny() {
    let exec = MockExecutor::start();
    let gw = builder(&exec)
        .with("ip_policy", "deny = [\"198.51.100.0/24\"]")
        .with("ip_policy", "allow = [\"198.51.100.7\"]")
        .with("ip_policy", "deny_files = [\"deny.txt\"]")
        .file(
            "deny.txt",
            "# abusers\n203.0.113.0/28   # a /28\n\n2001:db8::/32\n",
        )
        .start();
    blocked(&from(&gw, "198.51.100.8"), "deny_list");
    blocked(&from(&gw, "203.0.113.3"), "deny_list");
    let text = String::from_utf8_lossy(&from(&gw, "203.0.113.4").body).to_string();
    assert!(
        !text.contains("203.0.113.0/28"),
        "list contents are never shown"
    );
    assert_eq!(from(&gw, "198.51.100.7").status, 200, "allow beats deny");
    assert_eq!(from(&gw, "192.0.2.1").status, 200);
    assert_eq!(exec.requests().len(), 2);
}

#[test]
fn a_bad_line_in_a_list_file_is_a_config_error_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("deny.txt"), "10.0.0.0/8\nnot-an-ip\n").unwrap();
    let cfg = dir.path().join("execgate.toml");
    std::fs::write(&cfg, "[ip_policy]\ndeny_files = [\"deny.txt\"]\n").unwrap();
    let err = execgate::config::load(&cfg).unwrap_err().to_string();
    assert!(
        err.contains("execgate.toml:2: ip_policy.deny_files[0]: "),
        "{err}"
    );
    assert!(
        err.contains("deny.txt:2: invalid CIDR or address \"not-an-ip\""),
        "{err}"
    );
}

#[test]
fn geoip_country_and_asn_rules_use_the_configured_databases() {
    let exec = MockExecutor::start();
    let countries = mmdb::write(
        "GeoLite2-Country",
        &[
            ("203.0.113.0".parse().unwrap(), 24, mmdb::country("XX")),
            ("192.0.2.0".parse().unwrap(), 24, mmdb::country("DE")),
        ],
    );
    let asns = mmdb::write(
        "GeoLite2-ASN",
        &[
            ("198.51.100.0".parse().unwrap(), 24, mmdb::asn(64500)),
            ("198.18.0.0".parse().unwrap(), 24, mmdb::asn(64501)),
        ],
    );
    let gw = builder(&exec)
        .file("country.mmdb", countries)
        .file("asn.mmdb", asns)
        .with("ip_policy.geoip", "country_db = \"country.mmdb\"")
        .with("ip_policy.geoip", "asn_db = \"asn.mmdb\"")
        .with("ip_policy.geoip", "deny_countries = [\"XX\"]")
        .with("ip_policy.geoip", "deny_asns = [64500, 64501]")
        .with("ip_policy", "allow = [\"203.0.113.200/32\"]")
        .with("ip_policy.geoip", "allow_asns = [64500]")
        .start();
    blocked(&from(&gw, "203.0.113.9"), "country");
    blocked(&from(&gw, "198.18.0.9"), "asn");
    assert_eq!(from(&gw, "192.0.2.9").status, 200);
    assert_eq!(
        from(&gw, "203.0.113.200").status,
        200,
        "an allow-listed address beats its country's deny"
    );
    assert_eq!(
        from(&gw, "198.51.100.9").status,
        200,
        "an allowed ASN beats the same ASN's deny"
    );
    gw.blocks()
        .add(NewBlock {
            value: "203.0.113.200".into(),
            duration: None,
            reason: "test".into(),
            origin: Origin::Manual,
            created_by: "test".into(),
        })
        .unwrap();
    assert_eq!(
        from(&gw, "203.0.113.200").status,
        200,
        "the allow list beats the dynamic blocklist too"
    );
    gw.blocks()
        .add(NewBlock {
            value: "198.51.100.9".into(),
            duration: None,
            reason: "test".into(),
            origin: Origin::Manual,
            created_by: "test".into(),
        })
        .unwrap();
    blocked(&from(&gw, "198.51.100.9"), "blocklist");
    assert_eq!(
        from(&gw, "198.51.100.10").status,
        200,
        "an allowed network's clients are blocked one by one, not all"
    );
}

#[test]
fn blocklist_entries_take_effect_on_the_next_request_and_expire() {
    let exec = MockExecutor::start();
    let gw = builder(&exec).start();
    assert_eq!(from(&gw, "192.0.2.50").status, 200);
    let block = |value: &str| NewBlock {
        value: value.into(),
        duration: Some(Duration::from_secs(3600)),
        reason: "probing".into(),
        origin: Origin::Manual,
        created_by: "test".into(),
    };
    gw.blocks().add(block("192.0.2.50")).unwrap();
    let r = from(&gw, "192.0.2.50");
    blocked(&r, "blocklist");
    assert_eq!(r.json()["error"]["detail"], "manual");
    assert!(
        !String::from_utf8_lossy(&r.body).contains("probing"),
        "the reason text stays private"
    );
    gw.blocks().add(block("198.51.100.0/24")).unwrap();
    blocked(&from(&gw, "198.51.100.77"), "blocklist");
    gw.clock.advance(Duration::from_secs(3601));
    assert_eq!(
        from(&gw, "192.0.2.50").status,
        200,
        "expired entries no longer apply"
    );
}

/// A raw request of `ip` (through the trusted X-Forwarded-For) declaring a
/// body of `declared` bytes, of which `body` is sent.
fn raw_execution(ip: &str, declared: usize, body: &str) -> Vec<u8> {
    format!(
        "POST /api/v2/execute HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: {ip}\r\nContent-Type: application/json\r\nContent-Length: {declared}\r\n\r\n{body}"
    )
    .into_bytes()
}

fn block_address(gw: &TestGateway, ip: &str) {
    gw.blocks()
        .add(NewBlock {
            value: ip.into(),
            duration: None,
            reason: "test".into(),
            origin: Origin::Manual,
            created_by: "test".into(),
        })
        .unwrap();
}

/// A blocked client's refusals keep its connection: each costs one small
/// write, its small body is drained, and the next request on the connection
/// is read and judged on its own.
#[test]
fn a_blocked_clients_refusals_keep_its_connection_usable() {
    use std::io::Write;
    let exec = MockExecutor::start();
    let gw = builder(&exec).start();
    block_address(&gw, "198.51.100.9");
    let body = piston("print(1)").to_string();
    let mut s = std::net::TcpStream::connect(gw.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for _ in 0..3 {
        s.write_all(&raw_execution("198.51.100.9", body.len(), &body))
            .unwrap();
        let (status, text) = crate::support::http::read_response(&mut s);
        assert_eq!(status, 403, "{text}");
        assert!(text.contains("ip_blocked"), "{text}");
        assert!(
            !text.to_ascii_lowercase().contains("connection: close"),
            "{text}"
        );
    }
    s.write_all(&raw_execution("192.0.2.9", body.len(), &body))
        .unwrap();
    let (status, text) = crate::support::http::read_response(&mut s);
    assert_eq!(
        status, 200,
        "the same connection carries the next request: {text}"
    );
    assert_eq!(exec.requests().len(), 1);
}

/// A refused request that declares a large body it has not sent closes the
/// connection, saying so: the gateway does not read an unwanted megabyte to
/// keep it.
#[test]
fn a_blocked_client_with_a_large_unsent_body_is_closed_deliberately() {
    use std::io::{Read, Write};
    let exec = MockExecutor::start();
    let gw = builder(&exec)
        .with("tiers.anonymous", "body_max = \"2MB\"")
        .start();
    block_address(&gw, "198.51.100.9");
    let mut s = std::net::TcpStream::connect(gw.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(&raw_execution("198.51.100.9", 1 << 20, "{"))
        .unwrap();
    let (status, text) = crate::support::http::read_response(&mut s);
    assert_eq!(status, 403, "{text}");
    assert!(
        text.to_ascii_lowercase().contains("connection: close"),
        "{text}"
    );
    let mut rest = [0u8; 16];
    assert!(
        matches!(s.read(&mut rest), Ok(0) | Err(_)),
        "the connection is closed"
    );
}
