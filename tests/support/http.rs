//! HTTP from the client's side: a blocking reqwest client, and raw sockets for
//! requests no well-behaved client would send.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A response, read fully.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    /// The client was refused because reputation banned it.
    pub fn is_anomaly_ban(&self) -> bool {
        self.status == 403 && self.json()["error"]["detail"] == "anomaly"
    }

    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The `error.code` of a refusal.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn read(resp: reqwest::blocking::Response) -> Reply {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().unwrap().to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

/// `GET url`.
pub fn get(url: &str) -> Reply {
    read(client().get(url).send().unwrap())
}

/// `GET url` with extra headers.
pub fn get_with(url: &str, headers: &[(&str, &str)]) -> Reply {
    let mut req = client().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    read(req.send().unwrap())
}

/// `DELETE url` with extra headers.
pub fn delete_with(url: &str, headers: &[(&str, &str)]) -> Reply {
    let mut req = client().delete(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    read(req.send().unwrap())
}

/// `POST url` with a JSON body.
pub fn post(url: &str, body: &serde_json::Value) -> Reply {
    post_with(url, body.to_string().into_bytes(), &[])
}

/// `POST url` with raw bytes and extra headers.
pub fn post_with(url: &str, body: Vec<u8>, headers: &[(&str, &str)]) -> Reply {
    let mut req = client()
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    read(req.send().unwrap())
}

/// Writes `bytes` on a fresh connection and reads until the server closes or 5 s pass;
/// returns the status code and the whole response text.
pub fn raw(addr: SocketAddr, bytes: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.write_all(bytes);
    read_response(&mut s)
}

/// Reads what the server sends until it closes (or 5 s pass).
pub fn read_response(s: &mut TcpStream) -> (u16, String) {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
        if let Some(text) = complete(&out) {
            return text;
        }
    }
    let text = String::from_utf8_lossy(&out).to_string();
    (status_of(&text), text)
}

/// The response once its Content-Length body is complete.
fn complete(out: &[u8]) -> Option<(u16, String)> {
    let text = String::from_utf8_lossy(out).to_string();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let len: usize = head.lines().find_map(|l| {
        l.to_ascii_lowercase()
            .strip_prefix("content-length:")
            .map(|v| v.trim().parse().ok())
    })??;
    (body.len() >= len).then(|| (status_of(&text), text.clone()))
}

fn status_of(text: &str) -> u16 {
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}
