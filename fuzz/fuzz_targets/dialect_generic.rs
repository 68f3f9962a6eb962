//! The generic (JSON pointer) reader and clamp on any path and body (first line = path).
#![no_main]

#[path = "../common.rs"]
mod common;

use execgate_dialect::{Dialect, DialectConfig};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

/// Every pointer kind the generic dialect has: base64 code, limits in three
/// units, an output in base64, a verdict map.
const CONFIG: &str = r#"
kind = "generic"
[generic]
execute = ["POST /run", "POST /v1/jobs/{queue}/run"]
passthrough = ["GET /languages", "GET /results/*"]
code = "/program/source"
code_encoding = "base64"
language = "/program/lang"
version = "/program/version"
stdin = "/input"
limits = [
  { pointer = "/limits/time_ms", role = "run_time", unit = "ms" },
  { pointer = "/limits/memory_mb", role = "memory", unit = "mb" },
  { pointer = "/limits/cpu_us", role = "cpu_time", unit = "us", insert = false },
]
outputs = [
  { pointer = "/result/out", kind = "stdout" },
  { pointer = "/result/err", kind = "stderr", base64 = true },
]
[generic.verdict]
pointer = "/result/status"
outcomes = { ok = "ok", tle = "timeout", "137" = "memory_killed", "false" = "runtime_error" }
"#;

static DIALECT: LazyLock<Dialect> = LazyLock::new(|| {
    let config: DialectConfig = toml::from_str(CONFIG).expect("the fuzz config parses");
    Dialect::new(config).expect("the fuzz config is valid")
});

fuzz_target!(|data: &[u8]| common::exercise(&DIALECT, data));
