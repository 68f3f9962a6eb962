//! APIs served side by side must never share a path: the gateway picks the
//! API that parses, clamps and sanitizes a request by its path alone, so a
//! shared path would be read by one API while the executor serves it as the
//! other. Overlaps are found concretely: candidate paths are built from each
//! pair of route shapes and confirmed against both APIs' real routers.

use crate::api::Api;
use crate::kind::DialectKind;

/// Refuses the first path that two of `apis` both claim.
pub(crate) fn check_disjoint(apis: &[(DialectKind, &dyn Api)]) -> Result<(), String> {
    for (i, (a_kind, a)) in apis.iter().enumerate() {
        for (b_kind, b) in &apis[i + 1..] {
            if let Some(path) = shared_path(*a, *b) {
                return Err(format!(
                    "dialect.kind: {a_kind} and {b_kind} both route {path}; \
                     each path must belong to one API"
                ));
            }
        }
    }
    Ok(())
}

/// A path (`/a/b`) both APIs claim, if any.
fn shared_path(a: &dyn Api, b: &dyn Api) -> Option<String> {
    let b_patterns = b.patterns();
    a.patterns()
        .iter()
        .flat_map(|p| b_patterns.iter().flat_map(|q| p.common_paths(q)))
        .find(|segments| a.claims(segments) && b.claims(segments))
        .map(|segments| format!("/{}", segments.join("/")))
}
