//! Truncation to the policy's caps, on a UTF-8 boundary, with a visible marker
//! saying how much was cut.

/// Cuts `text` to at most `cap` bytes (never inside a character) and appends
/// `…[truncated N bytes]`; returns `None` when it already fits.
pub(crate) fn truncate(text: &str, cap: usize) -> Option<String> {
    if text.len() <= cap {
        return None;
    }
    let cut = floor_char_boundary(text, cap);
    let dropped = text.len() - cut;
    Some(format!("{}…[truncated {dropped} bytes]", &text[..cut]))
}

/// The largest char boundary of `text` at or below `at`.
pub(crate) fn floor_char_boundary(text: &str, at: usize) -> usize {
    if at >= text.len() {
        return text.len();
    }
    (0..=at)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_left_alone() {
        assert_eq!(truncate("abc", 3), None);
    }

    #[test]
    fn cut_lands_on_a_char_boundary_and_counts_dropped_bytes() {
        // "é" is two bytes: a cap of 2 would split it.
        assert_eq!(truncate("aéz", 2).as_deref(), Some("a…[truncated 3 bytes]"));
        assert_eq!(
            truncate("abcdef", 4).as_deref(),
            Some("abcd…[truncated 2 bytes]")
        );
    }
}
