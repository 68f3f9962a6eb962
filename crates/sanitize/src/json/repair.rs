//! Closing a JSON document that was cut short (the executor's body went over the
//! buffer cap): keep every complete member, close an output string that was cut
//! mid-way, drop a half-written key or number, then close the open containers.
//! The result always parses, so a capped response is still valid JSON.

use super::pointer::escape;

/// A repaired document and the pointer of the string that was cut, if one was.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Repaired {
    pub json: String,
    pub cut_field: Option<String>,
}

/// One open container.
#[derive(Debug, Clone)]
struct Frame {
    closer: u8,
    /// The current member's key (objects) or element index (arrays).
    at: Slot,
    expect_key: bool,
}

#[derive(Debug, Clone)]
enum Slot {
    Key(String),
    Index(usize),
    None,
}

/// A place the document can be cut and closed.
#[derive(Debug)]
struct Cut {
    at: usize,
    in_string: bool,
    closers: Vec<u8>,
}

/// Repairs the prefix `bytes` of a JSON document; `None` if no container was opened.
pub(crate) fn repair(bytes: &[u8]) -> Option<Repaired> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).ok()?,
    };
    let mut scan = Scanner {
        text,
        stack: Vec::new(),
        safe: None,
        cut_field: None,
    };
    if let Some(end) = scan.run() {
        return Some(Repaired {
            json: text[..end].to_string(),
            cut_field: None,
        });
    }
    let cut = scan.safe?;
    let mut json = text[..cut.at].to_string();
    if cut.in_string {
        json.push('"');
    }
    json.extend(cut.closers.iter().rev().map(|&b| char::from(b)));
    Some(Repaired {
        json,
        cut_field: scan.cut_field,
    })
}

struct Scanner<'a> {
    text: &'a str,
    stack: Vec<Frame>,
    safe: Option<Cut>,
    cut_field: Option<String>,
}

impl Scanner<'_> {
    /// Scans to the end; `Some(end)` if the top-level container closed at `end`.
    fn run(&mut self) -> Option<usize> {
        let bytes = self.text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'{' | b'[' => {
                    let (closer, expect_key) = if bytes[i] == b'{' {
                        (b'}', true)
                    } else {
                        (b']', false)
                    };
                    let at = if closer == b']' {
                        Slot::Index(0)
                    } else {
                        Slot::None
                    };
                    self.stack.push(Frame {
                        closer,
                        at,
                        expect_key,
                    });
                    i += 1;
                    self.mark_safe(i, false);
                }
                b'}' | b']' => {
                    self.stack.pop();
                    i += 1;
                    if self.stack.is_empty() {
                        return Some(i);
                    }
                    self.mark_safe(i, false);
                }
                b',' => {
                    if let Some(frame) = self.stack.last_mut() {
                        frame.expect_key = frame.closer == b'}';
                        if let Slot::Index(n) = &mut frame.at {
                            *n += 1;
                        }
                    }
                    i += 1;
                }
                b'"' => i = self.string(i)?,
                b':' | b' ' | b'\t' | b'\n' | b'\r' => i += 1,
                _ => {
                    let end = bytes[i..]
                        .iter()
                        .position(|b| {
                            matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                        })
                        .map(|n| i + n)?;
                    i = end;
                    self.mark_safe(i, false);
                }
            }
        }
        None
    }

    /// Scans the string opening at `start`; returns where it ends, or `None` at the
    /// end of the input (after noting where a cut value string can be closed).
    fn string(&mut self, start: usize) -> Option<usize> {
        let bytes = self.text.as_bytes();
        let is_key = self.stack.last().is_some_and(|f| f.expect_key);
        let mut i = start + 1;
        let mut clean = i;
        loop {
            match bytes.get(i) {
                None => return self.cut_string(is_key, clean),
                Some(b'"') => break,
                Some(b'\\') => match escape_len(&bytes[i..]) {
                    Some(n) => i += n,
                    None => return self.cut_string(is_key, clean),
                },
                Some(_) => i += 1,
            }
            if self.text.is_char_boundary(i) {
                clean = i;
            }
        }
        let end = i + 1;
        if is_key {
            let key: String = serde_json::from_str(&self.text[start..end]).unwrap_or_default();
            if let Some(frame) = self.stack.last_mut() {
                frame.at = Slot::Key(key);
                frame.expect_key = false;
            }
        } else {
            self.mark_safe(end, false);
        }
        Some(end)
    }

    /// Notes where a value string cut at the end of the input can be closed.
    fn cut_string(&mut self, is_key: bool, clean: usize) -> Option<usize> {
        if !is_key && !self.stack.is_empty() {
            self.mark_safe(clean, true);
            self.cut_field = Some(self.pointer());
        }
        None
    }

    fn mark_safe(&mut self, at: usize, in_string: bool) {
        if self.stack.is_empty() {
            return;
        }
        let closers = self.stack.iter().map(|f| f.closer).collect();
        self.safe = Some(Cut {
            at,
            in_string,
            closers,
        });
    }

    /// The pointer of the value being read.
    fn pointer(&self) -> String {
        self.stack
            .iter()
            .map(|f| match &f.at {
                Slot::Key(k) => format!("/{}", escape(k)),
                Slot::Index(n) => format!("/{n}"),
                Slot::None => String::new(),
            })
            .collect()
    }
}

/// The length of the escape at the start of `rest` (which begins with `\`), or
/// `None` if it is incomplete. A high surrogate counts together with its low half.
fn escape_len(rest: &[u8]) -> Option<usize> {
    match rest.get(1)? {
        b'u' => {
            let hex = std::str::from_utf8(rest.get(2..6)?).ok()?;
            let unit = u16::from_str_radix(hex, 16).ok()?;
            if (0xD800..0xDC00).contains(&unit) {
                rest.get(6..12)?;
                Some(12)
            } else {
                Some(6)
            }
        }
        _ => Some(2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repaired(prefix: &str) -> (String, Option<String>) {
        let r = repair(prefix.as_bytes()).unwrap();
        serde_json::from_str::<serde_json::Value>(&r.json).unwrap();
        (r.json, r.cut_field)
    }

    #[test]
    fn a_cut_output_string_is_closed_and_named() {
        let (json, cut) = repaired(r#"{"language":"py","run":{"stdout":"hello wo"#);
        assert_eq!(json, r#"{"language":"py","run":{"stdout":"hello wo"}}"#);
        assert_eq!(cut.as_deref(), Some("/run/stdout"));
    }

    #[test]
    fn half_keys_numbers_and_escapes_are_dropped() {
        assert_eq!(repaired(r#"{"a":"x","std"#).0, r#"{"a":"x"}"#);
        assert_eq!(repaired(r#"{"a":"x","b":12"#).0, r#"{"a":"x"}"#);
        assert_eq!(repaired(r#"{"a":"x\u00"#).0, r#"{"a":"x"}"#);
        assert_eq!(repaired(r#"{"a":"x\ud83d\ude0"#).0, r#"{"a":"x"}"#);
        assert_eq!(
            repaired(r#"{"s":[{"o":"a"},{"o":"b"#).1.as_deref(),
            Some("/s/1/o")
        );
    }

    #[test]
    fn a_complete_document_is_kept_as_is() {
        assert_eq!(
            repair(br#"{"a":[1,2]} trailing"#).unwrap().json,
            r#"{"a":[1,2]}"#
        );
        assert!(repair(b"not json").is_none());
    }
}
