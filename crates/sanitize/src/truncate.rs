//! Truncation to the policy's caps, on a UTF-8 boundary, with a visible marker
//! saying how much was cut.

/// Cuts `text` to at most `cap` bytes (never inside a character) and appends
/// `…[truncated N bytes]`; returns `None` when it already fits.
pub(crate) fn truncate(text: &str, cap: usize) -> Option<String> {
    if text.len() <= cap {
        return None;
    }
    let cut = floor_char_boundary(text, cap);
    let mut out = String::with_capacity(cut + MARKER_ROOM);
    out.push_str(&text[..cut]);
    mark(&mut out, text.len() - cut);
    Some(out)
}

/// `truncate` on an owned text, in place (no copy of what is kept); `true` if cut.
pub(crate) fn truncate_in_place(text: &mut String, cap: usize) -> bool {
    if text.len() <= cap {
        return false;
    }
    let cut = floor_char_boundary(text, cap);
    let dropped = text.len() - cut;
    text.truncate(cut);
    mark(text, dropped);
    true
}

/// Room for the marker with any byte count.
const MARKER_ROOM: usize = 48;

fn mark(out: &mut String, dropped: usize) {
    out.push_str("…[truncated ");
    out.push_str(&dropped.to_string());
    out.push_str(" bytes]");
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
        let mut owned = String::from("aéz");
        assert!(truncate_in_place(&mut owned, 2));
        assert_eq!(owned, "a…[truncated 3 bytes]");
        assert!(!truncate_in_place(&mut owned, 100));
    }
}
