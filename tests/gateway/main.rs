//! Integration tests: the real gateway on real sockets in front of a recording mock executor.

#[path = "../support/mod.rs"]
mod support;

mod proxy;
