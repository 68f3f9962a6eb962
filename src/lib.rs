//! execgate: a security gateway in front of code-execution services.
//!
//! The binary (`src/main.rs`) is a thin CLI; everything it runs lives here so
//! that integration tests start the real gateway in-process.

#![forbid(unsafe_code)]

pub mod accept;
pub mod accept_rate;
pub mod admin;
pub mod admin_usage;
pub mod callback;
pub mod config;
pub mod console;
pub mod error;
pub mod file_watch;
pub mod framing;
pub mod gateway;
pub mod guarded;
pub mod logging;
pub mod metrics;
pub mod reload;
pub mod request_head;
pub mod rules;
pub mod server;
pub mod stop;
pub mod tls;
pub mod upgrade;
