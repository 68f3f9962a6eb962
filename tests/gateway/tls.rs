//! TLS on the proxy listener: TLS 1.2 and 1.3 only, h2 through ALPN, HSTS on
//! every answer, a bad certificate refused at start with `file: reason`, and
//! a new certificate taken on SIGHUP by new connections while old ones go on.
//! The certificates are made here (rcgen); the client is reqwest on rustls.

use crate::process::{GatewayProcess, free_port, start_failure, write_config};
use crate::support::{MockExecutor, TestGateway, piston};
use reqwest::blocking::Client;
use reqwest::tls::Version;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A self-signed certificate for `localhost` and its key, both PEM.
fn self_signed() -> (String, String) {
    let rcgen::CertifiedKey { cert, key_pair } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    (cert.pem(), key_pair.serialize_pem())
}

/// A gateway serving TLS with `cert`/`key`, in front of `executor`.
fn tls_gateway(executor: &MockExecutor, cert: &str, key: &str) -> TestGateway {
    TestGateway::builder()
        .upstream(executor.addr)
        .with("server", "accept_guard = false")
        .raw("[server.tls]\ncert = \"tls/cert.pem\"\nkey = \"tls/key.pem\"")
        .file("tls/cert.pem", cert)
        .file("tls/key.pem", key)
        .start()
}

/// A client trusting only `cert`, reaching `localhost` at `addr`.
fn client(cert: &str, addr: SocketAddr) -> reqwest::blocking::ClientBuilder {
    Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(cert.as_bytes()).unwrap())
        .resolve("localhost", addr)
        .timeout(Duration::from_secs(30))
}

fn url(addr: SocketAddr, path: &str) -> String {
    format!("https://localhost:{}{path}", addr.port())
}

#[test]
fn tls_1_2_and_1_3_handshakes_serve_requests_with_hsts() {
    let executor = MockExecutor::start();
    let (cert, key) = self_signed();
    let gw = tls_gateway(&executor, &cert, &key);
    for version in [Version::TLS_1_2, Version::TLS_1_3] {
        let client = client(&cert, gw.addr())
            .min_tls_version(version)
            .max_tls_version(version)
            .build()
            .unwrap();
        let answer = client
            .post(url(gw.addr(), "/api/v2/execute"))
            .json(&piston("print(1)"))
            .send()
            .unwrap_or_else(|e| panic!("{version:?}: {e:?}"));
        assert_eq!(answer.status(), 200, "{version:?}");
        assert_eq!(
            answer.headers()["strict-transport-security"],
            "max-age=31536000",
            "{version:?}"
        );
    }
    // The gateway's own refusals carry it too.
    let refused = client(&cert, gw.addr())
        .build()
        .unwrap()
        .post(url(gw.addr(), "/api/v2/execute"))
        .json(&piston("import os"))
        .send()
        .unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(
        refused.headers()["strict-transport-security"],
        "max-age=31536000"
    );
}

/// A TLS 1.0/1.1-only ClientHello (no supported_versions extension), by hand:
/// no TLS library here would still send one.
fn legacy_client_hello(version: [u8; 2]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&version);
    body.extend_from_slice(&[7; 32]); // random
    body.push(0); // session id
    // Suites the gateway has (ECDHE-ECDSA/RSA-AES128-GCM-SHA256): only the version is wrong.
    body.extend_from_slice(&[0, 4, 0xc0, 0x2b, 0xc0, 0x2f]);
    body.extend_from_slice(&[1, 0]); // compression: null
    let extensions = [
        &[0x00, 0x0a, 0, 4, 0, 2, 0x00, 0x17][..], // supported_groups: secp256r1
        &[0x00, 0x0b, 0, 2, 1, 0][..],             // ec_point_formats: uncompressed
        &[0x00, 0x0d, 0, 4, 0, 2, 0x04, 0x03][..], // signature_algorithms: ecdsa_secp256r1_sha256
    ]
    .concat();
    body.extend_from_slice(&[0, u8::try_from(extensions.len()).unwrap()]);
    body.extend_from_slice(&extensions);
    let mut handshake = vec![1, 0, 0, u8::try_from(body.len()).unwrap()];
    handshake.extend_from_slice(&body);
    let mut record = vec![22, 3, 1, 0, u8::try_from(handshake.len()).unwrap()];
    record.extend_from_slice(&handshake);
    record
}

#[test]
fn tls_1_0_and_1_1_are_refused_with_a_protocol_version_alert() {
    let executor = MockExecutor::start();
    let (cert, key) = self_signed();
    let gw = tls_gateway(&executor, &cert, &key);
    for version in [[3, 1], [3, 2]] {
        let mut stream = TcpStream::connect(gw.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream.write_all(&legacy_client_hello(version)).unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        // An alert record (21) whose last two bytes are fatal (2), protocol_version (70).
        assert!(
            answer.len() >= 7 && answer[0] == 21 && answer[5..7] == [2, 70],
            "TLS {version:?}: {answer:?}"
        );
    }
}

#[test]
fn h2_is_negotiated_through_alpn_and_http_1_1_still_served() {
    let executor = MockExecutor::start();
    let (cert, key) = self_signed();
    let gw = tls_gateway(&executor, &cert, &key);
    let h2 = client(&cert, gw.addr()).build().unwrap();
    let answer = h2
        .post(url(gw.addr(), "/api/v2/execute"))
        .json(&piston("print(1)"))
        .send()
        .unwrap();
    assert_eq!(answer.version(), reqwest::Version::HTTP_2);
    assert_eq!(answer.status(), 200);
    assert!(answer.text().unwrap().contains("\"stdout\""));
    let h1 = client(&cert, gw.addr()).http1_only().build().unwrap();
    let answer = h1
        .post(url(gw.addr(), "/api/v2/execute"))
        .json(&piston("print(1)"))
        .send()
        .unwrap();
    assert_eq!(answer.version(), reqwest::Version::HTTP_11);
    assert_eq!(answer.status(), 200);
}

/// Writes a TLS config with these files; runs the binary; returns (exit code, stderr).
fn start_with(cert: &str, key: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert).unwrap();
    std::fs::write(dir.path().join("key.pem"), key).unwrap();
    let builder = TestGateway::builder()
        .with("server", "accept_guard = false")
        .raw("[server.tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"");
    let (code, err) = start_failure(&write_config(&builder, dir.path()));
    (code, err.replace(&dir.path().display().to_string(), "DIR"))
}

#[test]
fn a_bad_certificate_stops_the_start_naming_the_file_and_reason() {
    let (cert, key) = self_signed();
    let (_, other_key) = self_signed();
    let expired = {
        let key_pair = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        (
            params.self_signed(&key_pair).unwrap().pem(),
            key_pair.serialize_pem(),
        )
    };
    let cases = [
        (
            expired.0.as_str(),
            expired.1.as_str(),
            "DIR/cert.pem: certificate expired on",
        ),
        (
            cert.as_str(),
            other_key.as_str(),
            "DIR/cert.pem: does not belong to the key in DIR/key.pem",
        ),
        (
            "not a certificate",
            key.as_str(),
            "DIR/cert.pem: no PEM certificate in the file",
        ),
        (
            cert.as_str(),
            "",
            "DIR/key.pem: no PEM private key in the file",
        ),
    ];
    for (cert, key, expected) in cases {
        let (code, err) = start_with(cert, key);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains(expected), "expected {expected:?} in {err}");
    }
}

#[test]
fn tls_with_the_accept_guard_on_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed();
    std::fs::write(dir.path().join("cert.pem"), cert).unwrap();
    std::fs::write(dir.path().join("key.pem"), key).unwrap();
    let builder =
        TestGateway::builder().raw("[server.tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"");
    let (code, err) = start_failure(&write_config(&builder, dir.path()));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("server.tls: the accept guard relays plain HTTP only"),
        "{err}"
    );
}

#[test]
fn sighup_rotates_the_certificate_for_new_connections_while_old_ones_go_on() {
    let executor = MockExecutor::start();
    let (old_cert, old_key) = self_signed();
    let (new_cert, new_key) = self_signed();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cert.pem"), &old_cert).unwrap();
    std::fs::write(dir.path().join("key.pem"), &old_key).unwrap();
    let listen = free_port();
    let builder = TestGateway::builder()
        .upstream(executor.addr)
        .with("server", &format!("listen = \"{listen}\""))
        .with("server", "accept_guard = false")
        // The old connection stays open across the rotation.
        .with("server", "header_timeout = \"60s\"")
        .raw("[server.tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"");
    let gateway = GatewayProcess::start(&write_config(&builder, dir.path()), listen);
    let execute = |client: &Client| {
        client
            .post(url(listen, "/api/v2/execute"))
            .json(&piston("print(1)"))
            .send()
            .map(|r| r.status().as_u16())
    };
    // Keeps its connection (h2): it trusts the old certificate only.
    let old_client = client(&old_cert, listen).build().unwrap();
    assert_eq!(execute(&old_client).unwrap(), 200);

    std::fs::write(dir.path().join("key.pem"), &new_key).unwrap();
    std::fs::write(dir.path().join("cert.pem"), &new_cert).unwrap();
    gateway.signal("HUP");
    let new_client = || client(&new_cert, listen).build().unwrap();
    crate::process::wait_for(
        "new connections get the new certificate",
        Duration::from_secs(30),
        || execute(&new_client()).is_ok_and(|s| s == 200),
    );
    // A new connection trusting the old certificate only is refused now...
    assert!(execute(&client(&old_cert, listen).build().unwrap()).is_err());
    // ...while the connection opened before the rotation still serves.
    assert_eq!(execute(&old_client).unwrap(), 200);
}

/// A CA, and a client certificate it issued for `name` (PEM chain + key).
fn client_ca_and_cert(name: &str) -> (String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "test clients CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![format!("{name}.clients.test")]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    (ca.pem(), format!("{}{}", cert.pem(), key.serialize_pem()))
}

#[test]
fn a_verified_client_certificate_names_its_client_and_tier_and_others_are_refused() {
    let executor = MockExecutor::start();
    let (cert, key) = self_signed();
    let (ca, worker) = client_ca_and_cert("worker-1");
    let (_, stranger) = client_ca_and_cert("worker-1");
    let gw = TestGateway::builder()
        .upstream(executor.addr)
        .with("server", "accept_guard = false")
        .raw(
            "[server.tls]\ncert = \"tls/cert.pem\"\nkey = \"tls/key.pem\"\nclient_ca = \"tls/ca.pem\"\n\
             [[identity.client_certs]]\nsubject = \"worker-1.clients.test\"\nclient = \"worker1\"\ntier = \"workers\"\n\
             [tiers.workers]\nwindows = [{ name = \"workers-hour\", rate = \"1/1h\" }]",
        )
        .file("tls/cert.pem", cert.clone())
        .file("tls/key.pem", key)
        .file("tls/ca.pem", ca)
        .start();
    let execute = |client: &Client| {
        client
            .post(url(gw.addr(), "/api/v2/execute"))
            .json(&piston("print(1)"))
            .send()
    };
    let with_cert = |pem: &str| {
        client(&cert, gw.addr())
            .identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap())
            .build()
            .unwrap()
    };
    let worker = with_cert(&worker);
    assert_eq!(execute(&worker).unwrap().status(), 200);
    let second = execute(&worker).unwrap();
    assert_eq!(second.status(), 429, "the workers tier allows one an hour");
    let body: serde_json::Value = second.json().unwrap();
    assert_eq!(body["error"]["window"], "workers-hour", "{body}");
    let anonymous = client(&cert, gw.addr()).build().unwrap();
    assert_eq!(
        execute(&anonymous).unwrap().status(),
        200,
        "no certificate: an anonymous client with its own limits"
    );
    assert!(
        execute(&with_cert(&stranger)).is_err(),
        "a certificate from another CA fails the handshake"
    );
}

#[test]
fn an_unreadable_client_ca_stops_the_start_naming_the_file() {
    let (cert, key) = self_signed();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cert.pem"), &cert).unwrap();
    std::fs::write(dir.path().join("key.pem"), &key).unwrap();
    std::fs::write(dir.path().join("ca.pem"), "not a certificate\n").unwrap();
    let builder = TestGateway::builder()
        .with("server", "accept_guard = false")
        .raw("[server.tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\nclient_ca = \"ca.pem\"");
    let (code, err) = start_failure(&write_config(&builder, dir.path()));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("ca.pem: no PEM certificate in the file"),
        "{err}"
    );
}

#[test]
fn a_certificate_rewritten_on_disk_reaches_new_connections_and_a_bad_one_keeps_the_old() {
    let executor = MockExecutor::start();
    let (old_cert, old_key) = self_signed();
    let (new_cert, new_key) = self_signed();
    let gw = TestGateway::builder()
        .upstream(executor.addr)
        .with("server", "accept_guard = false")
        .raw("[server.tls]\ncert = \"tls/cert.pem\"\nkey = \"tls/key.pem\"")
        .file("tls/cert.pem", old_cert.clone())
        .file("tls/key.pem", old_key)
        .sighup()
        .start();
    let execute = |trusted: &str| {
        client(trusted, gw.addr())
            .build()
            .unwrap()
            .post(url(gw.addr(), "/api/v2/execute"))
            .json(&piston("print(1)"))
            .send()
            .map(|r| r.status().as_u16())
    };
    assert_eq!(execute(&old_cert).unwrap(), 200);
    let tls_dir = gw.dir.path().join("tls");
    std::fs::write(tls_dir.join("cert.pem"), "not a certificate\n").unwrap();
    crate::support::eventually("the bad certificate is read and refused", || {
        gw.metrics()
            .contains("execgate_tls_reloads_total{result=\"error\"}")
    });
    assert_eq!(
        execute(&old_cert).unwrap(),
        200,
        "new connections still get the old certificate"
    );
    std::fs::write(tls_dir.join("key.pem"), &new_key).unwrap();
    std::fs::write(tls_dir.join("cert.pem"), &new_cert).unwrap();
    crate::support::eventually("new connections get the new certificate", || {
        execute(&new_cert).is_ok_and(|s| s == 200)
    });
    assert!(
        execute(&old_cert).is_err(),
        "the old one is no longer served"
    );
}
