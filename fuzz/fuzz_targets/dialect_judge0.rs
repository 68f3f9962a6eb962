//! The Judge0 reader and clamp on any path and body (first line = path).
#![no_main]

#[path = "../common.rs"]
mod common;

use execgate_dialect::{Dialect, DialectConfig, DialectKind};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static DIALECT: LazyLock<Dialect> = LazyLock::new(|| {
    Dialect::new(DialectConfig {
        kind: DialectKind::Judge0.into(),
        ..DialectConfig::default()
    })
    .expect("the default judge0 dialect")
});

fuzz_target!(|data: &[u8]| common::exercise(&DIALECT, data));
