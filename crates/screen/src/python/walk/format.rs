//! Attribute paths spelled in strings. A string that is a whole path
//! (`"0.gi_frame.f_back"` for `Formatter.get_field` or `attrgetter`) reads
//! each attribute on it. A replacement field (`{0.gi_frame.f_globals}`,
//! `{r._os.environ}`, `{0.modules[os]}`) reads attributes and items of the
//! arguments it is formatted with, names the walk never sees as attributes
//! otherwise. Every string with fields counts as reading them: a template is
//! often built far from the `.format` call that uses it.

use super::Walker;
use super::paths::reached_module;
use crate::facts::{FactKind, Pos};

/// Most fields read from one string.
const MAX_FIELDS: usize = 64;

impl Walker<'_> {
    /// Records the attributes, dunder keys and reached modules of every field in `text`.
    pub(super) fn format_fields(&mut self, text: &str, pos: Pos) {
        if !text.contains('{') || text.len() > 64 * 1024 {
            return;
        }
        for field in fields(text).take(MAX_FIELDS) {
            let mut previous: Option<&str> = None;
            for (segment, is_key) in segments(field) {
                if is_key {
                    let dunder =
                        segment.len() > 4 && segment.starts_with("__") && segment.ends_with("__");
                    if dunder {
                        self.push(FactKind::Attribute(segment.to_string()), pos);
                    }
                    if previous == Some("modules") {
                        // `{0.modules[os]}` on `sys`: the module table's item is a module.
                        self.push(FactKind::Import(segment.to_string()), pos);
                    }
                } else if segment.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    self.push(FactKind::Attribute(segment.to_string()), pos);
                    if let Some(module) = reached_module(segment) {
                        self.push(FactKind::Import(module.to_string()), pos);
                    }
                }
                previous = Some(segment);
            }
        }
    }
}

/// The field names of `text` (`0.a[b]` in `{0.a[b]!r:>10}`); `{{` is a literal brace.
fn fields(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        loop {
            let open = rest.find('{')?;
            let after = &rest[open + 1..];
            if let Some(tail) = after.strip_prefix('{') {
                rest = tail;
                continue;
            }
            let end = after.find(['}', '!', ':', '{']).unwrap_or(after.len());
            rest = &after[end..];
            return Some(&after[..end]);
        }
    })
}

/// The attribute names (`false`) and item keys (`true`) after a field's first name.
fn segments(field: &str) -> Vec<(&str, bool)> {
    let mut out = Vec::new();
    let start = field.find(['.', '[']).unwrap_or(field.len());
    let mut rest = &field[start..];
    while !rest.is_empty() {
        if let Some(tail) = rest.strip_prefix('.') {
            let end = tail.find(['.', '[']).unwrap_or(tail.len());
            if end > 0 {
                out.push((&tail[..end], false));
            }
            rest = &tail[end..];
        } else if let Some(tail) = rest.strip_prefix('[') {
            let end = tail.find(']').unwrap_or(tail.len());
            out.push((&tail[..end], true));
            rest = tail.get(end + 1..).unwrap_or("");
        } else {
            break;
        }
    }
    out
}

/// The attributes a string spelling a path (`0.gi_frame.f_back`,
/// `a.__c__[0].d`) reads, for APIs that walk such paths (`Formatter.get_field`,
/// `attrgetter`): every segment after the root, and the root too when it is a
/// dunder.
pub(super) fn attribute_path(text: &str) -> Option<Vec<String>> {
    if text.len() > 256 || !text.contains('.') {
        return None;
    }
    let allowed = |c: char| c.is_alphanumeric() || matches!(c, '_' | '.' | '[' | ']');
    if !text.chars().all(allowed) {
        return None;
    }
    let mut parts: Vec<String> = text
        .split(['.', '[', ']'])
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    let dunder = |p: &String| p.len() > 4 && p.starts_with("__") && p.ends_with("__");
    if !parts.first().is_some_and(dunder) && !parts.is_empty() {
        parts.remove(0);
    }
    Some(parts)
}
