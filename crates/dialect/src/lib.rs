//! Executor dialects: how Piston, Judge0 and generic JSON executors name
//! their routes, where a request keeps its code, language, stdin and limits,
//! how to clamp those limits to a tier by rewriting the body, which response
//! fields carry program output, and how a run ended.
//!
//! Pure logic on bytes: the gateway calls it from its request pipeline.
//!
//! One request through it, in the order the gateway calls it:
//!
//! ```
//! use execgate_dialect::{Dialect, DialectConfig, DialectKind, RouteKind, RunOutcome, TierLimits};
//! use http::Method;
//! use std::time::Duration;
//!
//! let dialect = Dialect::new(DialectConfig { kind: DialectKind::Judge0.into(), ..Default::default() })?;
//! let path = "/submissions?wait=true";
//! let route = dialect.route(&Method::POST, path);                // Execute
//! let forward = dialect.forward_path(route, path)?;              // "…&base64_encoded=false"
//! let request = dialect.parse_request(route, path,
//!     br#"{"source_code":"print(1)","language_id":71,"memory_limit":9000000}"#)?;
//! assert_eq!(request.submissions[0].language, "python");        // what screening reads
//! let tier = TierLimits { run_time: Duration::from_secs(5), memory_bytes: 128 << 20 };
//! let body = dialect.clamp(&request, &tier)?;                    // forward these bytes
//! assert!(String::from_utf8_lossy(&body).contains(r#""memory_limit":131072"#));
//! let fields = dialect.response_fields(&forward, Some(&request)); // for the sanitizer
//! assert_eq!(fields[0].pointer, "/stdout");
//! let outcomes = dialect.verdicts(br#"{"status":{"id":5,"description":"Time Limit Exceeded"}}"#);
//! assert_eq!(outcomes, [RunOutcome::Timeout]);                    // for reputation
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

mod api;
pub mod callback;
mod config;
mod decode;
mod dialect;
mod generic;
pub mod judge0;
mod kind;
mod limits;
mod model;
mod options;
mod overlap;
mod path;
pub mod piston;
mod read;

pub use callback::{CallbackConfig, CallbackPolicy, CallbackUrl};
pub use config::{DialectConfig, GenericConfig, Judge0Config, OutputField, VerdictConfig};
pub use decode::{Encoding, encode_base64};
pub use dialect::{Dialect, FORWARD_CONTENT_TYPE};
pub use kind::{DialectKind, DialectKinds};
pub use limits::{LimitField, LimitRole, LimitUnit, MAX_MEMORY_BYTES, MAX_TIME_SECS};
pub use model::{
    CodeFile, ExecRequest, FieldKind, FieldSpec, RequestError, RequestedLimits, RouteKind,
    RunOutcome, Submission, TierLimits,
};
pub use options::{DEFAULT_ALLOWED, OptionsConfig};
