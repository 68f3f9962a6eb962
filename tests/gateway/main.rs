//! Integration tests: the real gateway on real sockets in front of a recording mock executor.

#[path = "../support/mod.rs"]
mod support;

mod accept;
mod admin;
mod body;
mod callbacks;
mod capacity;
mod cli;
mod dialects;
mod identity;
mod ip_policy;
mod limits;
mod process;
mod proxy;
mod redis_waits;
mod regressions;
mod reload;
mod shared_state;
mod stop;
mod tls;
mod upgrade;
mod upstream;
