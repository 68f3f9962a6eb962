//! Executor dialects: how Piston, Judge0 and generic JSON executors name
//! their routes, where a request keeps its code, language, stdin and limits,
//! how to clamp those limits to a tier by rewriting the body, which response
//! fields carry program output, and how a run ended.
//!
//! Pure logic on bytes: the gateway calls it from its request pipeline.

mod api;
mod config;
mod decode;
mod dialect;
mod generic;
mod judge0;
mod limits;
mod model;
mod path;
mod piston;
mod read;

pub use config::{
    DialectConfig, DialectKind, GenericConfig, Judge0Config, OutputField, VerdictConfig,
};
pub use decode::{Encoding, encode_base64};
pub use dialect::{Dialect, FORWARD_CONTENT_TYPE};
pub use limits::{LimitField, LimitRole, LimitUnit, MAX_MEMORY_BYTES, MAX_TIME_SECS};
pub use model::{
    CodeFile, ExecRequest, FieldKind, FieldSpec, RequestError, RequestedLimits, RouteKind,
    RunOutcome, Submission, TierLimits,
};
