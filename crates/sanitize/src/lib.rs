//! execgate-sanitize: what comes back from a code executor. Program output is
//! scanned by outbound leak rules (host files, process environments, cloud
//! metadata, other tenants' markers, not the reader's own), redacted (secrets by rule files, host
//! paths, environment values, private addresses, internal host names) and cut to
//! the tier's caps; at the leak threshold the output is withheld altogether.
//!
//! Entry points: [`sanitize_json`] for an executor's JSON body (with the dialect's
//! [`FieldSpec`]s), [`sanitize_truncated`] / [`ResponseBuffer::sanitize`] for a body
//! cut at the buffer cap, [`sanitize_text`] for plain text. An array or object at
//! an output pointer is sanitized as structured output (every string and member
//! name inside it, one cap for the whole value); base64 fields always go out as
//! canonical padded base64.

#![forbid(unsafe_code)]

mod buffer;
mod json;
mod leak;
mod policy;
mod reader;
mod redact;
mod report;
mod rules;
mod text;
mod truncate;

pub use buffer::ResponseBuffer;
pub use json::{
    FieldSpec, INVALID_BASE64, SPLIT_SECRET, SanitizeError, SanitizedBody, sanitize_json,
    sanitize_truncated, sanitize_value,
};
pub use policy::{FieldKind, OutputPolicy};
pub use reader::{Reader, is_tenant_id};
pub use redact::builtin;
pub use report::{LeakFinding, Redaction};
pub use rules::{LeakRule, OutputRules, RedactRule, SHIPPED_RULES, Scope};
pub use text::{SanitizedText, sanitize_text};

#[cfg(test)]
mod tests {
    /// The gateway shares compiled rules across threads and swaps them on reload.
    #[test]
    fn compiled_rules_and_policy_are_shareable() {
        fn shareable<T: Send + Sync + Clone + 'static>() {}
        shareable::<super::OutputRules>();
        shareable::<super::OutputPolicy>();
        shareable::<super::ResponseBuffer>();
    }
}
