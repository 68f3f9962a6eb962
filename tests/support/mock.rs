//! A recording mock executor: answers like Piston (or as told) and remembers
//! every request it received, so tests can prove what reached it.

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// One request as the executor saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Recorded {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("recorded body is JSON")
    }
}

/// How the mock answers.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// A Piston-style result whose stdout is the given text.
    Piston { stdout: String },
    /// This status, content type and body, verbatim.
    Raw {
        status: u16,
        content_type: String,
        body: Vec<u8>,
        extra: Vec<(String, String)>,
    },
    /// Wait this long before answering like `Piston`.
    Slow(Duration),
    /// Health probes pass, every other request gets this status (an
    /// executor whose listing answers but whose runs fail).
    FailingRuns(u16),
    /// A Judge0 queue: every submission gets a token and, once read by token
    /// (one or a batch), this `status.id` with its source and stdin echoed.
    Judge0 { status: u64 },
    /// A Judge0 queue like `Judge0` whose runs print `stdout` (base64 when
    /// the read asks for it, as Judge0 answers).
    Judge0Printing { status: u64, stdout: String },
}

impl Behaviour {
    /// This status and JSON body, verbatim.
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Behaviour::Raw {
            status,
            content_type: "application/json".into(),
            body: body.into(),
            extra: vec![],
        }
    }
}

#[derive(Clone)]
struct State {
    seen: Arc<Mutex<Vec<Recorded>>>,
    behaviour: Arc<Mutex<Behaviour>>,
    /// Judge0 submissions by token.
    submissions: Arc<Mutex<Vec<(String, serde_json::Value)>>>,
}

/// A running mock executor.
pub struct MockExecutor {
    pub addr: SocketAddr,
    state: State,
    _runtime: tokio::runtime::Runtime,
}

impl MockExecutor {
    /// Starts a mock that answers like Piston with stdout "hi\n".
    pub fn start() -> Self {
        Self::with(Behaviour::Piston {
            stdout: "hi\n".into(),
        })
    }

    /// Starts a mock with `behaviour`.
    pub fn with(behaviour: Behaviour) -> Self {
        Self::at("127.0.0.1:0".parse().unwrap(), behaviour)
    }

    /// Starts a mock listening on `addr` (an executor coming back where one was down).
    pub fn at(addr: SocketAddr, behaviour: Behaviour) -> Self {
        let state = State {
            seen: Arc::default(),
            behaviour: Arc::new(Mutex::new(behaviour)),
            submissions: Arc::default(),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(addr))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().fallback(handle).with_state(state.clone());
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            addr,
            state,
            _runtime: runtime,
        }
    }

    /// An address where nothing listens (an executor that is down).
    pub fn dead_address() -> SocketAddr {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    }

    /// Changes how the mock answers from now on.
    pub fn set(&self, behaviour: Behaviour) {
        *self.state.behaviour.lock() = behaviour;
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.seen.lock().clone()
    }
}

/// A Piston v2 execute result.
pub fn piston_result(stdout: &str) -> serde_json::Value {
    serde_json::json!({
        "language": "python", "version": "3.10.0",
        "run": {"stdout": stdout, "stderr": "", "code": 0, "signal": null, "output": stdout}
    })
}

async fn handle(
    axum::extract::State(state): axum::extract::State<State>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let behaviour = state.behaviour.lock().clone();
    // Health probes are not requests a test sent: they are answered (a slow
    // executor is still a healthy one) but not recorded.
    let probe = headers
        .get("user-agent")
        .is_some_and(|ua| ua == execgate::gateway::upstream::breaker::PROBE_USER_AGENT);
    if probe {
        return match behaviour {
            Behaviour::Raw { status, .. } => StatusCode::from_u16(status).unwrap().into_response(),
            _ => (StatusCode::OK, "[]").into_response(),
        };
    }
    state.seen.lock().push(Recorded {
        method: method.to_string(),
        path: uri.to_string(),
        headers,
        body: body.to_vec(),
    });
    match behaviour {
        Behaviour::Judge0 { status } => judge0(&state, status, None, &method, &uri, &body),
        Behaviour::Judge0Printing { status, stdout } => {
            judge0(&state, status, Some(&stdout), &method, &uri, &body)
        }
        Behaviour::Piston { stdout } => piston(&stdout),
        Behaviour::Slow(wait) => {
            tokio::time::sleep(wait).await;
            piston("slow\n")
        }
        Behaviour::FailingRuns(status) => (
            StatusCode::from_u16(status).unwrap(),
            [("content-type", "application/json")],
            r#"{"message":"the sandbox cannot start"}"#,
        )
            .into_response(),
        Behaviour::Raw {
            status,
            content_type,
            body,
            extra,
        } => {
            let mut resp = (StatusCode::from_u16(status).unwrap(), body).into_response();
            resp.headers_mut()
                .insert("content-type", content_type.parse().unwrap());
            for (k, v) in extra {
                resp.headers_mut().insert(
                    axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                );
            }
            resp
        }
    }
}

/// A Judge0 answer: tokens for submissions, results for tokens.
fn judge0(
    state: &State,
    status: u64,
    printed: Option<&str>,
    method: &Method,
    uri: &Uri,
    body: &[u8],
) -> Response {
    let mut store = state.submissions.lock();
    let base64 = uri
        .query()
        .is_some_and(|q| q.split('&').any(|p| p == "base64_encoded=true"));
    let stdout = match printed {
        None => "out\n".to_string(),
        Some(text) if base64 => {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(text)
        }
        Some(text) => text.to_string(),
    };
    let mut submit = |item: serde_json::Value| {
        let token = format!("tok-{:04}-{}", store.len(), uri.port_u16().unwrap_or(0));
        store.push((token.clone(), item));
        serde_json::json!({ "token": token })
    };
    let result = |token: &str, item: &serde_json::Value| {
        serde_json::json!({
            "token": token, "stdout": stdout, "stderr": null,
            "source_code": item["source_code"], "stdin": item["stdin"],
            "status": {"id": status, "description": "as told"}
        })
    };
    let doc: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let path = uri.path();
    let answer = if *method == Method::POST && path == "/submissions/batch" {
        let items = doc["submissions"].as_array().cloned().unwrap_or_default();
        serde_json::Value::Array(items.into_iter().map(&mut submit).collect())
    } else if *method == Method::POST {
        submit(doc)
    } else if path == "/submissions/batch" {
        let wanted = uri
            .query()
            .unwrap_or("")
            .split('&')
            .find_map(|p| p.strip_prefix("tokens="))
            .unwrap_or("")
            .to_string();
        let found: Vec<serde_json::Value> = wanted
            .split(',')
            .filter_map(|t| store.iter().find(|(k, _)| k == t))
            .map(|(t, item)| result(t, item))
            .collect();
        serde_json::json!({ "submissions": found })
    } else if path == "/workers" {
        serde_json::json!([{"queue": "1.13.1", "size": 0, "available": 1, "idle": 1, "working": 0, "paused": 0, "failed": 0}])
    } else if path == "/system_info" {
        serde_json::json!({"Architecture": "x86_64", "CPU(s)": "2"})
    } else {
        let token = path.trim_start_matches("/submissions/");
        let at = store.iter().position(|(k, _)| k == token);
        let found = match at {
            // Judge0 answers a deletion with the deleted submission.
            Some(i) if *method == Method::DELETE => Some(store.remove(i)),
            Some(i) => Some(store[i].clone()),
            None => None,
        };
        match found {
            Some((t, item)) => result(&t, &item),
            None => {
                return (
                    StatusCode::NOT_FOUND,
                    axum::Json(serde_json::json!({"error": "not found"})),
                )
                    .into_response();
            }
        }
    };
    axum::Json(answer).into_response()
}

fn piston(stdout: &str) -> Response {
    let mut resp = axum::Json(piston_result(stdout)).into_response();
    resp.headers_mut()
        .insert("server", "piston-mock/1.0".parse().unwrap());
    resp.headers_mut()
        .insert("x-powered-by", "Express".parse().unwrap());
    // What the bundled runner says about its sandbox: internal, never for the client.
    resp.headers_mut()
        .insert("x-execgate-sandbox", "warm".parse().unwrap());
    resp
}

/// An executor seen from the wire: counts every byte any connection sends it
/// (a health check's bare connect sends none) and answers a chunked request
/// once its last chunk has arrived. Shows whether a request head ever left the
/// gateway, which the HTTP-level mock cannot (it records whole requests only).
pub struct WireExecutor {
    pub addr: SocketAddr,
    received: Arc<std::sync::atomic::AtomicUsize>,
}

impl WireExecutor {
    /// Starts listening on an ephemeral port.
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = received.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let counter = counter.clone();
                std::thread::spawn(move || serve_wire(conn, &counter));
            }
        });
        Self { addr, received }
    }

    /// Bytes received so far, over all connections.
    pub fn bytes_received(&self) -> usize {
        self.received.load(std::sync::atomic::Ordering::SeqCst)
    }
}

fn serve_wire(mut conn: std::net::TcpStream, counter: &std::sync::atomic::AtomicUsize) {
    use std::io::{Read, Write};
    let mut seen = Vec::new();
    let mut buf = [0u8; 8192];
    let probe_agent = execgate::gateway::upstream::breaker::PROBE_USER_AGENT.as_bytes();
    let mut counted = 0;
    while let Ok(n) = conn.read(&mut buf) {
        if n == 0 {
            return;
        }
        seen.extend_from_slice(&buf[..n]);
        // A GET is held until its head is complete: the gateway's health probe
        // is answered and not counted, it is no request a test sent.
        if seen.starts_with(b"GET ") {
            if !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                continue;
            }
            if seen.windows(probe_agent.len()).any(|w| w == probe_agent) {
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n[]",
                );
                return;
            }
        }
        counter.fetch_add(seen.len() - counted, std::sync::atomic::Ordering::SeqCst);
        counted = seen.len();
        if seen.windows(5).any(|w| w == b"0\r\n\r\n") {
            let body = piston_result("wire\n").to_string();
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(reply.as_bytes());
            return;
        }
    }
}

/// An executor answering every request with a chunked JSON response whose
/// chunks `answer` writes (slowly, hugely…); the closing chunk follows unless
/// `answer` fails (the gateway hung up).
pub fn chunked_executor(
    answer: impl Fn(&mut ChunkWriter) -> std::io::Result<()> + Send + Sync + 'static,
) -> SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let answer = Arc::new(answer);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let answer = answer.clone();
            std::thread::spawn(move || {
                // The whole (chunked) request first: closing on unread bytes
                // would reset the connection and lose the response.
                let mut seen = Vec::new();
                let mut buf = [0u8; 65536];
                let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                while !seen.ends_with(b"0\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
                let mut writer = ChunkWriter(s);
                if answer(&mut writer).is_ok() {
                    let _ = writer.0.write_all(b"0\r\n\r\n");
                }
            });
        }
    });
    addr
}

/// Writes HTTP/1.1 chunks.
pub struct ChunkWriter(std::net::TcpStream);

impl ChunkWriter {
    /// Sends `data` as one chunk.
    pub fn chunk(&mut self, data: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        self.0
            .write_all(format!("{:x}\r\n", data.len()).as_bytes())?;
        self.0.write_all(data)?;
        self.0.write_all(b"\r\n")
    }
}
