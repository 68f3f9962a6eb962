//! Judge0 `callback_url`: checked at submission, delivered by the gateway
//! (sanitized, as Judge0 sends it), re-checked after resolution, retried a
//! bounded number of times — against a real receiver on loopback.

use crate::support::{self, *};
use base64::Engine as _;
use parking_lot::Mutex;
use serde_json::json;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Got {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Got {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A callback receiver on 127.0.0.1: answers its requests with `script`'s
/// statuses in order, then 200; counts every connection, even one that
/// sends nothing.
struct Receiver {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Got>>>,
    connections: Arc<AtomicUsize>,
}

impl Receiver {
    fn start(script: &[u16]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (seen, count) = (got.clone(), connections.clone());
        let script = script.to_vec();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                let Some(request) = read_request(&mut stream) else {
                    continue;
                };
                let n = {
                    let mut seen = seen.lock();
                    seen.push(request);
                    seen.len()
                };
                let status = script.get(n - 1).copied().unwrap_or(200);
                let answer = format!(
                    "HTTP/1.1 {status} X\r\nLocation: http://{addr}/elsewhere\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                );
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        Self {
            addr,
            got,
            connections,
        }
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().clone()
    }
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<Got> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (k, v) = header.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Got {
        method,
        target,
        headers,
        body,
    })
}

const LEAK_RULES: &str = r#"
[[leak]]
id = "test-passwd"
severity = "critical"
message = "passwd lines"
regex = '''(?m)^root:x:0:0:'''
"#;

/// A Judge0 gateway in front of `exec` with these `[dialect.callbacks]` lines.
fn gateway(exec: &MockExecutor, callbacks: &[&str]) -> TestGateway {
    let mut builder = TestGateway::builder()
        .upstream(exec.addr)
        .with("dialect", "kind = \"judge0\"")
        .file(
            "output.toml",
            format!("{}\n{LEAK_RULES}", support::gateway::OUTPUT_RULES),
        )
        .raw("[tiers.anonymous]\nwindows = [{ name = \"burst\", rate = \"100/10s\" }]");
    for line in callbacks {
        builder = builder.with("dialect.callbacks", line);
    }
    builder.start()
}

fn submission(callback: &str) -> serde_json::Value {
    json!({"source_code": "print(1)", "language_id": 71, "callback_url": callback})
}

fn counted(gw: &TestGateway, outcome: &str) -> u64 {
    let metrics = gw.metrics();
    let series = format!("execgate_callbacks_total{{outcome=\"{outcome}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&series))
        .map_or(0, |n| n.trim().parse().unwrap())
}

/// Deliveries that have ended, whatever their outcome.
fn ended(gw: &TestGateway) -> u64 {
    ["delivered", "failed", "refused", "dropped"]
        .iter()
        .map(|o| counted(gw, o))
        .sum()
}

#[test]
fn a_finished_run_is_put_to_its_callback_sanitized_in_judge0s_shape() {
    let exec = MockExecutor::with(Behaviour::Judge0Printing {
        status: 3,
        stdout: "root:x:0:0:root:/root:/bin/bash\n".into(),
    });
    let receiver = Receiver::start(&[]);
    let port = receiver.addr.port();
    let gw = gateway(
        &exec,
        &[
            "allow_hosts = [\"127.0.0.1\"]",
            &format!("allow_ports = [{port}]"),
            "allow_private = true",
        ],
    );
    let url = format!("http://127.0.0.1:{port}/judged?run=7");
    let r = post(&gw.url("/submissions"), &submission(&url));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let token = r.json()["token"].as_str().unwrap().to_string();

    eventually("the delivery ends", || ended(&gw) == 1);
    assert_eq!(counted(&gw, "delivered"), 1);
    let got = receiver.got();
    assert_eq!(got.len(), 1);
    let put = &got[0];
    assert_eq!(
        (put.method.as_str(), put.target.as_str()),
        ("PUT", "/judged?run=7")
    );
    assert_eq!(put.header("content-type"), Some("application/json"));
    let doc: serde_json::Value = serde_json::from_slice(&put.body).unwrap();
    assert_eq!(doc["token"], token.as_str());
    assert_eq!(doc["status"]["id"], 3);
    // Judge0's callback fields only: the program's source stays out.
    let keys: Vec<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert!(
        keys.iter().all(|k| [
            "token",
            "time",
            "memory",
            "stdout",
            "stderr",
            "compile_output",
            "message",
            "status"
        ]
        .contains(k)),
        "{keys:?}"
    );
    let stdout = base64::engine::general_purpose::STANDARD
        .decode(doc["stdout"].as_str().unwrap())
        .unwrap();
    let stdout = String::from_utf8(stdout).unwrap();
    assert!(stdout.starts_with("[execgate: output withheld"), "{stdout}");
    assert!(!stdout.contains("/root:/bin/bash"), "{stdout}");
    // The executor never saw the URL: it could not call it itself.
    let submitted = exec.requests();
    assert!(
        submitted.iter().all(
            |r| !String::from_utf8_lossy(&r.body).contains("callback_url")
                && !r.path.contains("callback_url")
        ),
        "{:?}",
        submitted.iter().map(|r| r.json()).collect::<Vec<_>>()
    );
}

#[test]
fn callback_urls_off_the_allow_list_or_inside_the_network_are_refused_at_submission() {
    let exec = MockExecutor::with(Behaviour::Judge0 { status: 3 });
    let receiver = Receiver::start(&[]);
    let gw = gateway(
        &exec,
        &[
            "allow_hosts = [\"hooks.example.com\", \"*.example.org\", \"10.1.2.3\", \"127.0.0.1\", \"169.254.169.254\"]",
        ],
    );
    let port = receiver.addr.port();
    for (url, reason) in [
        (
            "https://elsewhere.example.com/",
            "not on the callback allow-list",
        ),
        (
            "https://example.org.evil.net/",
            "not on the callback allow-list",
        ),
        ("http://10.1.2.3/", "10.1.2.3 is a private address"),
        ("http://169.254.169.254/latest", "cloud metadata address"),
        (
            "http://[::ffff:127.0.0.1]/",
            "127.0.0.1 is a loopback address",
        ),
        (&format!("http://127.0.0.1:{port}/"), "port"),
        ("file:///etc/passwd", "only http and https"),
        ("https://user:pw@hooks.example.com/", "credentials"),
    ] {
        let r = post(&gw.url("/submissions"), &submission(url));
        assert_eq!(
            (r.status, r.code()),
            (400, "invalid_request".into()),
            "{url}"
        );
        assert_eq!(r.json()["error"]["field"], "callback_url", "{url}");
        let message = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(message.contains(reason), "{url}: {message}");
    }
    let batch = json!({"submissions": [
        {"source_code": "print(1)", "language_id": 71},
        submission("http://10.1.2.3/"),
    ]});
    let r = post(&gw.url("/submissions/batch"), &batch);
    assert_eq!(r.json()["error"]["field"], "submissions[1].callback_url");
    assert!(
        exec.requests().is_empty(),
        "a refused submission reached the executor"
    );
    assert_eq!(receiver.connections.load(Ordering::SeqCst), 0);

    // Without an allow-list the field is refused as a whole.
    let closed = gateway(&exec, &[]);
    let r = post(
        &closed.url("/submissions"),
        &submission("https://hooks.example.com/"),
    );
    assert_eq!((r.status, r.code()), (400, "invalid_request".into()));
    assert_eq!(r.json()["error"]["field"], "callback_url");
}

#[test]
fn an_allowed_name_that_resolves_inside_the_network_is_refused_at_delivery() {
    let exec = MockExecutor::with(Behaviour::Judge0 { status: 3 });
    let receiver = Receiver::start(&[]);
    let port = receiver.addr.port();
    let gw = gateway(
        &exec,
        &[
            "allow_hosts = [\"localhost\"]",
            &format!("allow_ports = [{port}]"),
        ],
    );
    // The name is on the list, so the submission passes: only its addresses
    // (127.0.0.1, ::1) say where it would go.
    let r = post(
        &gw.url("/submissions"),
        &submission(&format!("http://localhost:{port}/done")),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    eventually("the delivery ends", || ended(&gw) == 1);
    assert_eq!(counted(&gw, "refused"), 1);
    assert_eq!(
        receiver.connections.load(Ordering::SeqCst),
        0,
        "the receiver was connected to"
    );
    assert_eq!(counted(&gw, "delivered"), 0);
}

#[test]
fn deliveries_are_retried_on_5xx_a_bounded_number_of_times_and_redirects_are_not_followed() {
    let exec = MockExecutor::with(Behaviour::Judge0 { status: 3 });
    let recovering = Receiver::start(&[500, 503]);
    let dead = Receiver::start(&[500; 20]);
    let moved = Receiver::start(&[302]);
    let ports: Vec<String> = [&recovering, &dead, &moved]
        .iter()
        .map(|r| r.addr.port().to_string())
        .collect();
    let gw = gateway(
        &exec,
        &[
            "allow_hosts = [\"127.0.0.1\"]",
            &format!("allow_ports = [{}]", ports.join(", ")),
            "allow_private = true",
            "attempts = 3",
            "backoff = \"10ms\"",
        ],
    );
    for receiver in [&recovering, &dead, &moved] {
        let url = format!("http://127.0.0.1:{}/hook", receiver.addr.port());
        let r = post(&gw.url("/submissions"), &submission(&url));
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    eventually("every delivery ends", || ended(&gw) == 3);
    assert_eq!((counted(&gw, "delivered"), counted(&gw, "failed")), (1, 2));
    assert_eq!(recovering.got().len(), 3, "500, 503, then delivered");
    assert_eq!(dead.got().len(), 3, "three attempts and no more");
    // The 302 points at the receiver itself: a followed redirect would be a
    // second request there.
    assert_eq!(
        moved.got().len(),
        1,
        "a redirect is neither followed nor retried"
    );
}

#[test]
fn a_refusal_at_delivery_is_an_audit_event_of_the_gateway_binary() {
    use std::process::{Command, Stdio};
    let exec = MockExecutor::with(Behaviour::Judge0 { status: 3 });
    let receiver = Receiver::start(&[]);
    let port = receiver.addr.port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("screen")).unwrap();
    std::fs::write(
        dir.path().join("screen/test.toml"),
        support::gateway::SCREEN_RULES,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("output.toml"),
        support::gateway::OUTPUT_RULES,
    )
    .unwrap();
    let (proxy, admin) = (crate::process::free_port(), crate::process::free_port());
    let config = format!(
        "[server]\nlisten = \"{proxy}\"\nadmin_listen = \"{admin}\"\n\
         [upstream]\naddresses = [\"{}\"]\n\
         [dialect]\nkind = \"judge0\"\n\
         [dialect.callbacks]\nallow_hosts = [\"localhost\"]\nallow_ports = [{port}]\n\
         [rules]\nscreen = [\"screen\"]\noutput = [\"output.toml\"]\nwatch = false\n",
        exec.addr
    );
    let path = dir.path().join("gw.toml");
    std::fs::write(&path, config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_execgate"))
        .args(["gateway", "--config"])
        .arg(&path)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let events = events.clone();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if let Ok(l) = serde_json::from_str::<serde_json::Value>(&line)
                    && l["target"] == "execgate::audit"
                    && l["fields"]["event"] == "callback.refused"
                {
                    events.lock().push(l["fields"].clone());
                }
            }
        })
    };
    // The accept guard listens before Pingora behind it does: wait for an answer.
    eventually("the gateway answers", || {
        std::net::TcpStream::connect(proxy).is_ok()
            && get(&format!("http://{proxy}/about")).status != 500
    });
    let r = post(
        &format!("http://{proxy}/submissions"),
        &submission(&format!("http://localhost:{port}/done")),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let token = r.json()["token"].as_str().unwrap().to_string();
    eventually("the refusal is audited", || !events.lock().is_empty());
    let _ = child.kill();
    let _ = child.wait();
    reader.join().unwrap();
    let event = events.lock()[0].clone();
    assert_eq!(event["token"], token.as_str(), "{event}");
    assert_eq!(event["client"], "-", "{event}");
    let reason = event["reason"].as_str().unwrap();
    assert!(reason.contains("is a loopback address"), "{event}");
    assert_eq!(receiver.connections.load(Ordering::SeqCst), 0);
}

/// The deliverer reads results from an executor that speaks TLS as the proxy
/// does: under `[upstream] sni`, verified against `[upstream] ca`.
#[test]
fn callbacks_are_delivered_when_the_executor_speaks_tls() {
    let exec = MockExecutor::with(Behaviour::Judge0 { status: 3 });
    let rcgen::CertifiedKey { cert, key_pair } =
        rcgen::generate_simple_self_signed(vec!["executor.test".to_string()]).unwrap();
    // The executor behind TLS: a TLS-terminating gateway in front of the mock.
    let executor = TestGateway::builder()
        .upstream(exec.addr)
        .with("dialect", "kind = \"judge0\"")
        .with("server", "accept_guard = false")
        .raw("[server.tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"")
        .raw("[tiers.anonymous]\nwindows = [{ name = \"burst\", rate = \"1000/10s\" }]")
        .file("cert.pem", cert.pem())
        .file("key.pem", key_pair.serialize_pem())
        .start();
    let receiver = Receiver::start(&[]);
    let port = receiver.addr.port();
    let gw = TestGateway::builder()
        .upstream(executor.addr())
        .with("upstream", "tls = true")
        .with("upstream", "sni = \"executor.test\"")
        .with("upstream", "ca = \"executor-ca.pem\"")
        .file("executor-ca.pem", cert.pem())
        .with("dialect", "kind = \"judge0\"")
        .with("dialect.callbacks", "allow_hosts = [\"127.0.0.1\"]")
        .with("dialect.callbacks", &format!("allow_ports = [{port}]"))
        .with("dialect.callbacks", "allow_private = true")
        .raw("[tiers.anonymous]\nwindows = [{ name = \"burst\", rate = \"100/10s\" }]")
        .start();

    let url = format!("http://127.0.0.1:{port}/judged");
    let r = post(&gw.url("/submissions"), &submission(&url));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let token = r.json()["token"].as_str().unwrap().to_string();

    eventually("the delivery ends", || ended(&gw) == 1);
    assert_eq!(counted(&gw, "delivered"), 1, "{}", gw.metrics());
    let got = receiver.got();
    assert_eq!(got.len(), 1);
    let doc: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(doc["token"], token.as_str());
    assert_eq!(doc["status"]["id"], 3);
}
