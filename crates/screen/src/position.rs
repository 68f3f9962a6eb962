//! Byte offsets to 1-based lines and 0-based character columns, computed once
//! per source so that locating many findings stays linear.

use crate::facts::Pos;
use std::cell::Cell;

/// Line starts of one text.
#[derive(Debug)]
pub(crate) struct LineIndex {
    starts: Vec<usize>,
    /// Whether each line is pure ASCII (column = byte distance).
    ascii: Vec<bool>,
    /// Last non-ASCII lookup `(line, byte offset, column)`: facts come mostly in
    /// source order, so counting resumes there instead of at the line start.
    last: Cell<(usize, usize, usize)>,
    /// The line of the last lookup, tried before a binary search for the same reason.
    last_line: Cell<usize>,
}

impl LineIndex {
    /// Indexes `text`, whose line ends are already `\n` only.
    pub fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(memchr_newlines(text.as_bytes()));
        let ascii = starts
            .iter()
            .enumerate()
            .map(|(i, &s)| {
                let end = starts.get(i + 1).copied().unwrap_or(text.len());
                text.as_bytes().get(s..end).is_some_and(|b| b.is_ascii())
            })
            .collect();
        Self {
            starts,
            ascii,
            last: Cell::new((usize::MAX, 0, 0)),
            last_line: Cell::new(0),
        }
    }

    /// The position of byte `offset` in `text` (the text given to `new`).
    pub fn pos(&self, text: &str, offset: usize) -> Pos {
        let offset = offset.min(text.len());
        let line = self.line_of(offset);
        let start = self.starts[line];
        let column = if self.ascii.get(line).copied().unwrap_or(true) {
            offset - start
        } else {
            self.char_column(text, line, start, offset)
        };
        Pos {
            line: saturate(line + 1),
            column: saturate(column),
        }
    }

    /// The 0-based line holding byte `offset`.
    fn line_of(&self, offset: usize) -> usize {
        let hint = self.last_line.get();
        let within = |line: usize| {
            self.starts.get(line).is_some_and(|&s| s <= offset)
                && self.starts.get(line + 1).is_none_or(|&next| offset < next)
        };
        let line = if within(hint) {
            hint
        } else if within(hint + 1) {
            hint + 1
        } else {
            match self.starts.binary_search(&offset) {
                Ok(i) => i,
                Err(i) => i - 1,
            }
        };
        self.last_line.set(line);
        line
    }

    fn char_column(&self, text: &str, line: usize, start: usize, offset: usize) -> usize {
        let (last_line, last_offset, last_column) = self.last.get();
        let (from, base) = if last_line == line && last_offset <= offset {
            (last_offset, last_column)
        } else {
            (start, 0)
        };
        let column = base + text.get(from..offset).map_or(0, |s| s.chars().count());
        self.last.set((line, offset, column));
        column
    }
}

fn memchr_newlines(bytes: &[u8]) -> impl Iterator<Item = usize> + '_ {
    bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i + 1)
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_one_based_and_columns_count_characters() {
        let text = "ab\nｅval(x)\n";
        let ix = LineIndex::new(text);
        assert_eq!(ix.pos(text, 0), Pos { line: 1, column: 0 });
        assert_eq!(ix.pos(text, 3), Pos { line: 2, column: 0 });
        let paren = text.find('(').unwrap();
        assert_eq!(ix.pos(text, paren), Pos { line: 2, column: 4 });
        assert_eq!(ix.pos(text, 10_000).line, 3);
    }

    #[test]
    fn lookups_in_any_order_agree_with_a_fresh_index() {
        let text = "a\nbb\n\nccc\nｄ = 1\n";
        let warm = LineIndex::new(text);
        let offsets: Vec<usize> = (0..=text.len())
            .filter(|&i| text.is_char_boundary(i))
            .collect();
        for &at in offsets
            .iter()
            .chain(offsets.iter().rev())
            .chain(offsets.iter().step_by(3))
        {
            assert_eq!(
                warm.pos(text, at),
                LineIndex::new(text).pos(text, at),
                "{at}"
            );
        }
    }
}
