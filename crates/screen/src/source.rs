//! Turning submitted bytes into the text CPython would see: BOM, PEP 263 coding
//! cookies, invalid UTF-8, NUL bytes, lone CR line ends and bidi controls are
//! handled here, each leaving an `Anomaly` that rules can score.

use crate::facts::Anomaly;

/// The decoded text (line ends normalised to `\n`) and what was odd about the bytes.
#[derive(Debug)]
pub(crate) struct Source {
    pub text: String,
    /// Each anomaly with the byte offset in `text` where it was first seen.
    pub anomalies: Vec<(Anomaly, usize)>,
}

/// Cookie encodings CPython decodes to the same characters a UTF-8 reading shows
/// (or latin-1, which we decode ourselves).
enum Cookie {
    Utf8,
    Latin1,
    Foreign,
}

/// Decodes `code`; `python` enables the coding-cookie rules of PEP 263.
pub(crate) fn decode(code: &[u8], python: bool) -> Source {
    let mut anomalies = Vec::new();
    let body = code.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(code);
    let cookie = if python { find_cookie(body) } else { None };
    let mut text = match cookie {
        Some((Cookie::Latin1, _)) => body.iter().map(|&b| b as char).collect(),
        _ => match std::str::from_utf8(body) {
            Ok(s) => s.to_string(),
            Err(e) => {
                let lossy = String::from_utf8_lossy(body).into_owned();
                let at = lossy.find('\u{FFFD}').unwrap_or(e.valid_up_to());
                anomalies.push((Anomaly::InvalidUtf8, at));
                lossy
            }
        },
    };
    if let Some(at) = text.find('\0') {
        anomalies.push((Anomaly::NulByte, at));
        text = text.replace('\0', " ");
    }
    let text = normalise_newlines(text);
    if let Some((Cookie::Foreign, line_start)) = cookie {
        anomalies.push((Anomaly::ForeignEncoding, line_start.min(text.len())));
    }
    // ASCII text (most code) holds no bidi control: skip the per-character scan.
    if let Some(at) = (!text.is_ascii())
        .then(|| text.find(is_bidi_control))
        .flatten()
    {
        anomalies.push((Anomaly::BidiControl, at));
    }
    Source { text, anomalies }
}

/// Unicode bidirectional embeddings, overrides and isolates (Trojan Source,
/// CVE-2021-42574); the plain marks (LRM, RLM) of right-to-left text are fine.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `\r\n` and lone `\r` become `\n`, as CPython's tokenizer reads them.
fn normalise_newlines(text: String) -> String {
    if !text.contains('\r') {
        return text;
    }
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// The PEP 263 cookie in the first two lines, with the byte offset of its line.
fn find_cookie(body: &[u8]) -> Option<(Cookie, usize)> {
    let mut start = 0;
    for _ in 0..2 {
        let rest = body.get(start..)?;
        let len = rest
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .unwrap_or(rest.len());
        let line = &rest[..len];
        if let Some(name) = cookie_name(line) {
            return Some((classify(&name), start));
        }
        // PEP 263: only a comment or blank line may precede the cookie line.
        let trimmed = line.iter().find(|b| !b" \t\x0c".contains(b));
        if trimmed.is_some_and(|&b| b != b'#') {
            return None;
        }
        start += len + 1;
        if rest.get(len) == Some(&b'\r') && rest.get(len + 1) == Some(&b'\n') {
            start += 1;
        }
    }
    None
}

/// The encoding named by `^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)`.
fn cookie_name(line: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(line);
    let comment = text
        .trim_start_matches([' ', '\t', '\x0c'])
        .strip_prefix('#')?;
    let at = comment.find("coding")?;
    let rest = comment[at + "coding".len()..].strip_prefix([':', '='])?;
    let name: String = rest
        .trim_start_matches([' ', '\t'])
        .chars()
        .take_while(|c| c.is_alphanumeric() || "-_.".contains(*c))
        .collect();
    (!name.is_empty()).then_some(name)
}

fn classify(name: &str) -> Cookie {
    let norm = name.to_ascii_lowercase().replace('_', "-");
    match norm.as_str() {
        "utf-8" | "utf8" | "utf-8-sig" | "ascii" | "us-ascii" | "646" => Cookie::Utf8,
        "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" | "l1" | "iso-latin-1" | "8859"
        | "cp819" => Cookie::Latin1,
        n if n.starts_with("utf-8-")
            || n.starts_with("latin-1-")
            || n.starts_with("iso-8859-1-") =>
        {
            // CPython's own normalisation accepts e.g. "utf-8-unix".
            if n.starts_with("utf") {
                Cookie::Utf8
            } else {
                Cookie::Latin1
            }
        }
        _ => Cookie::Foreign,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &Source) -> Vec<Anomaly> {
        src.anomalies.iter().map(|(a, _)| *a).collect()
    }

    #[test]
    fn bom_is_stripped_and_crlf_and_lone_cr_become_newlines() {
        let src = decode(b"\xEF\xBB\xBFa = 1\r\nb = 2\rc = 3", true);
        assert_eq!(src.text, "a = 1\nb = 2\nc = 3");
        assert!(src.anomalies.is_empty());
    }

    #[test]
    fn foreign_coding_cookie_is_an_anomaly_but_utf8_and_latin1_are_not() {
        let utf7 = decode(b"# -*- coding: utf-7 -*-\nx = 1\n", true);
        assert_eq!(kinds(&utf7), vec![Anomaly::ForeignEncoding]);
        let escape = decode(
            b"#!/usr/bin/env python\n# vim: set fileencoding=unicode_escape :\n",
            true,
        );
        assert_eq!(kinds(&escape), vec![Anomaly::ForeignEncoding]);
        assert!(
            decode(b"# coding: utf-8\nx = 1\n", true)
                .anomalies
                .is_empty()
        );
        assert!(decode(b"# coding=UTF_8\n", true).anomalies.is_empty());
        let latin = decode(b"# coding: latin-1\ns = '\xe9'\n", true);
        assert!(latin.anomalies.is_empty());
        assert!(latin.text.contains('é'));
        // A cookie on line 3 is not a cookie.
        assert!(
            decode(b"x = 1\ny = 2\n# coding: utf-7\n", true)
                .anomalies
                .is_empty()
        );
        // Only Python honours cookies.
        assert!(decode(b"// coding: utf-7\n", false).anomalies.is_empty());
    }

    #[test]
    fn invalid_utf8_nul_and_bidi_are_anomalies() {
        assert_eq!(
            kinds(&decode(b"x = '\xff'\n", true)),
            vec![Anomaly::InvalidUtf8]
        );
        let nul = decode(b"x = 1\0\n", true);
        assert_eq!(kinds(&nul), vec![Anomaly::NulByte]);
        assert_eq!(nul.text, "x = 1 \n");
        let bidi = decode("s = 'a\u{202E}b'\n".as_bytes(), true);
        assert_eq!(kinds(&bidi), vec![Anomaly::BidiControl]);
    }
}
