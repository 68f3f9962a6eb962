//! Integration-test harness: the real gateway in-process on ephemeral ports, a
//! recording mock executor, an HTTP client and an `eventually` helper.
#![allow(dead_code)]

pub mod gateway;
pub mod http;
pub mod mmdb;
pub mod mock;

pub use gateway::{ADMIN_TOKEN, TestGateway};
pub use http::{Reply, delete_with, get, get_with, post, post_with, raw};
pub use mock::{Behaviour, MockExecutor, WireExecutor, chunked_executor};

use std::time::{Duration, Instant};

/// The one way a test waits: retries `check` until it holds, for at most a
/// minute. It returns as soon as the condition holds, so the bound is only
/// how long a broken test takes to fail; it is wide enough for a loaded
/// machine (and for the bundled runner building its warm sandboxes).
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("never happened: {what}");
}

/// A Piston execute body running `code` in Python.
pub fn piston(code: &str) -> serde_json::Value {
    serde_json::json!({"language": "python", "version": "3.10", "files": [{"name": "main.py", "content": code}]})
}
