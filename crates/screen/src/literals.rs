//! String literals folded for pattern packs. A pattern sees text, so a name
//! split into pieces hides from it: `"/" "proc/self/status"` (C adjacent
//! literals), `"child_" + "process"`, `["child","process"].join("_")` and
//! `"ssecorp".split("").reverse().join("")` (JavaScript). This module writes a
//! second view of the source in which such constant expressions are one
//! literal (escapes decoded), so the same patterns match either spelling.
//! Comments are left out of the view; newlines are kept, so line numbers of
//! hits stay those of the submitted source.

use crate::language::Language;

/// Folding passes: a join of concatenations folds in two.
const MAX_PASSES: usize = 4;
/// Sources larger than this are matched as written only.
const MAX_BYTES: usize = 1 << 20;

/// One piece of the source.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    /// A string literal's decoded content.
    Lit(String),
    /// Anything else, verbatim (whitespace included).
    Code(String),
}

/// The folded view of `text`, or `None` when it is the same as the text
/// (nothing to fold) or the language has no literal folding.
pub(crate) fn folded(language: Option<Language>, text: &str) -> Option<String> {
    let language = language?;
    if text.len() > MAX_BYTES || matches!(language, Language::Python | Language::Bash) {
        return None;
    }
    let mut view = render(&split(text, language));
    for _ in 0..MAX_PASSES {
        let next = render(&fold_pass(split(&view, language), language));
        if next == view {
            break;
        }
        view = next;
    }
    (view != text).then_some(view)
}

/// A shell script with its comments blanked (same length, same lines): a
/// `#` that starts a word outside quotes runs to the line's end and is never
/// executed, so `# uses curl and /proc` is no command. `$#`, `${#a[@]}` and
/// `a#b` are not comments.
pub(crate) fn shell_without_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut comment = false;
    let mut prev = '\n';
    for c in text.chars() {
        if comment {
            if c == '\n' {
                comment = false;
                out.push(c);
            } else {
                out.extend(std::iter::repeat_n(' ', c.len_utf8()));
            }
            prev = c;
            continue;
        }
        match quote {
            Some(q) if c == q && !(escaped && q == '"') => quote = None,
            Some(_) => {}
            None if escaped => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '#' && (prev.is_whitespace() || matches!(prev, ';' | '&' | '|' | '(')) => {
                comment = true;
                out.push(' ');
                prev = c;
                continue;
            }
            None => {}
        }
        escaped = c == '\\' && !escaped;
        out.push(c);
        prev = c;
    }
    out
}

/// Splits `text` into literals and code; comments become a blank (their newlines kept).
fn split(text: &str, language: Language) -> Vec<Piece> {
    let quotes: &[char] = match language {
        Language::Javascript => &['"', '\'', '`'],
        _ => &['"'],
    };
    let mut out = Vec::new();
    let mut code = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        code.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                code.push(' ');
                let mut star = false;
                for n in chars.by_ref() {
                    if n == '\n' {
                        code.push('\n');
                    }
                    if star && n == '/' {
                        break;
                    }
                    star = n == '*';
                }
            }
            '\'' if !quotes.contains(&'\'') => {
                // A C or Java character literal: kept verbatim, so '"' opens nothing.
                code.push('\'');
                let mut escaped = false;
                for n in chars.by_ref() {
                    code.push(n);
                    if n == '\n' || (n == '\'' && !escaped) {
                        break;
                    }
                    escaped = n == '\\' && !escaped;
                }
            }
            q if quotes.contains(&q) => {
                let mut raw = String::new();
                let mut escaped = false;
                let mut closed = false;
                let mut template_hole = false;
                for n in chars.by_ref() {
                    if !escaped && n == q {
                        closed = true;
                        break;
                    }
                    if q == '`' && !escaped && n == '{' && raw.ends_with('$') {
                        template_hole = true;
                    }
                    if n == '\n' && q != '`' {
                        raw.push(n);
                        break;
                    }
                    escaped = n == '\\' && !escaped;
                    raw.push(n);
                }
                if closed && !template_hole {
                    if !code.is_empty() {
                        out.push(Piece::Code(std::mem::take(&mut code)));
                    }
                    out.push(Piece::Lit(unescape(&raw)));
                    // A literal spanning lines keeps them in the code that follows.
                    code.extend(raw.chars().filter(|&c| c == '\n'));
                } else {
                    code.push(q);
                    code.push_str(&raw);
                    if closed {
                        code.push(q);
                    }
                }
            }
            _ => code.push(c),
        }
    }
    if !code.is_empty() {
        out.push(Piece::Code(code));
    }
    out
}

/// Decodes the escapes a name is hidden behind: `\xHH`, `\uHHHH`, `\u{H…}`, octal, and the single-character ones.
fn unescape(raw: &str) -> String {
    let mut out = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(e) = chars.next() else { break };
        let hex = |chars: &mut std::iter::Peekable<std::str::Chars>, n: usize| {
            let digits: String = (0..n)
                .filter_map(|_| chars.next_if(char::is_ascii_hexdigit))
                .collect();
            u32::from_str_radix(&digits, 16)
                .ok()
                .and_then(char::from_u32)
        };
        let decoded = match e {
            'x' => hex(&mut chars, 2),
            'u' if chars.peek() == Some(&'{') => {
                chars.next();
                let v = hex(&mut chars, 6);
                chars.next_if_eq(&'}');
                v
            }
            'u' => hex(&mut chars, 4),
            '0'..='7' => {
                let mut digits = e.to_string();
                while digits.len() < 3
                    && let Some(d) = chars.next_if(|d| ('0'..='7').contains(d))
                {
                    digits.push(d);
                }
                u32::from_str_radix(&digits, 8)
                    .ok()
                    .and_then(char::from_u32)
            }
            'n' => Some('\n'),
            't' => Some('\t'),
            '\n' => None,
            other => Some(other),
        };
        out.extend(decoded);
    }
    out
}

/// One pass over the pieces, folding every constant expression it recognises.
fn fold_pass(pieces: Vec<Piece>, language: Language) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::with_capacity(pieces.len());
    let mut i = 0;
    while i < pieces.len() {
        if let Some((folded, used)) = fold_at(&pieces[i..], language) {
            // Newlines swallowed by the fold are kept after it.
            let lines = |p: &[Piece]| -> usize {
                p.iter()
                    .map(|p| match p {
                        Piece::Code(c) => c.matches('\n').count(),
                        Piece::Lit(_) => 0,
                    })
                    .sum()
            };
            let swallowed = lines(&pieces[i..i + used]).saturating_sub(lines(&folded));
            let newlines = "\n".repeat(swallowed);
            out.extend(folded);
            if !newlines.is_empty() {
                out.push(Piece::Code(newlines));
            }
            i += used;
        } else {
            out.push(pieces[i].clone());
            i += 1;
        }
    }
    out
}

/// What the pieces at the start of `p` fold into, and how many they are.
fn fold_at(p: &[Piece], language: Language) -> Option<(Vec<Piece>, usize)> {
    let code = |i: usize| match p.get(i) {
        Some(Piece::Code(c)) => Some(c.as_str()),
        _ => None,
    };
    let lit = |i: usize| match p.get(i) {
        Some(Piece::Lit(s)) => Some(s.as_str()),
        _ => None,
    };
    // "a" "b" (C, C++) and "a" + "b" (every language).
    if let (Some(a), Some(between), Some(b)) = (lit(0), code(1), lit(2)) {
        let glue = between.trim();
        let adjacent = glue.is_empty() && matches!(language, Language::C | Language::Cpp);
        if adjacent || glue == "+" {
            return Some((vec![Piece::Lit(format!("{a}{b}"))], 3));
        }
    }
    if language != Language::Javascript {
        return None;
    }
    // ["a", "b"].join("_") and .join() — from the `[` that ends a code piece.
    if let Some(open) = code(0)
        && open.trim_end().ends_with('[')
    {
        let mut items = Vec::new();
        let mut j = 1;
        loop {
            items.push(lit(j)?.to_string());
            let sep = code(j + 1)?.trim();
            if sep == "," {
                j += 2;
                continue;
            }
            let call = sep.strip_prefix(']')?.trim_start();
            let call: String = call.chars().filter(|c| !c.is_whitespace()).collect();
            let joined = if call.starts_with(".join()") {
                Some((
                    items.join(","),
                    j + 2,
                    call.strip_prefix(".join()")?.to_string(),
                ))
            } else if call == ".join(" {
                let glue = lit(j + 2)?;
                let close = code(j + 3)?.trim_start().strip_prefix(')')?;
                Some((items.join(glue), j + 4, close.to_string()))
            } else {
                None
            }?;
            let prefix = open.trim_end().strip_suffix('[')?.to_string();
            let (text, used, rest) = joined;
            // Keep the code around the fold: `require(` before, `)` after.
            return Some((
                vec![Piece::Code(prefix), Piece::Lit(text), Piece::Code(rest)],
                used,
            ));
        }
    }
    // "ssecorp".split("").reverse().join("") and "a".concat("b").
    if let (Some(s), Some(after)) = (lit(0), code(1)) {
        let squeezed: String = after.chars().filter(|c| !c.is_whitespace()).collect();
        if squeezed == ".split(" && lit(2) == Some("") {
            let tail: String = code(3)?.chars().filter(|c| !c.is_whitespace()).collect();
            if tail.starts_with(").reverse().join(") && lit(4) == Some("") {
                let close = code(5)?.trim_start().strip_prefix(')')?;
                let reversed: String = s.chars().rev().collect();
                return Some((
                    vec![Piece::Lit(reversed), Piece::Code(close.to_string())],
                    6,
                ));
            }
        }
        if squeezed == ".concat(" {
            let b = lit(2)?;
            let close = code(3)?.trim_start().strip_prefix(')')?;
            return Some((
                vec![
                    Piece::Lit(format!("{s}{b}")),
                    Piece::Code(close.to_string()),
                ],
                4,
            ));
        }
    }
    None
}

/// The view's text: literals in double quotes with `"` and `\` escaped.
fn render(pieces: &[Piece]) -> String {
    let mut out = String::new();
    for p in pieces {
        match p {
            Piece::Code(c) => out.push_str(c),
            Piece::Lit(s) => {
                out.push('"');
                for c in s.chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        '\n' => out.push_str("\\n"),
                        c => out.push(c),
                    }
                }
                out.push('"');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn js(s: &str) -> String {
        folded(Some(Language::Javascript), s).unwrap_or_else(|| s.to_string())
    }

    fn c(s: &str) -> String {
        folded(Some(Language::C), s).unwrap_or_else(|| s.to_string())
    }

    #[test]
    fn c_adjacent_literals_join() {
        assert_eq!(
            c("fopen(\"/\" \"proc/self/status\", \"r\");"),
            "fopen(\"/proc/self/status\", \"r\");"
        );
        assert_eq!(c("x = \"a\"\n  \"b\";\ny;"), "x = \"ab\"\n;\ny;");
    }

    #[test]
    fn c_escapes_are_decoded() {
        assert_eq!(
            c("fopen(\"\\x2fproc/\\163elf\", \"r\")"),
            "fopen(\"/proc/self\", \"r\")"
        );
    }

    #[test]
    fn c_character_literals_and_comments_open_no_string() {
        assert_eq!(
            c("char q = '\"'; /* \" */ s = \"a\" \"b\";"),
            "char q = '\"';   s = \"ab\";"
        );
    }

    #[test]
    fn js_joins_and_concatenations_fold() {
        assert_eq!(
            js("const cp = require([\"child\",\"process\"].join(\"_\"));"),
            "const cp = require(\"child_process\");"
        );
        assert_eq!(
            js("require('child_' + 'process')"),
            "require(\"child_process\")"
        );
        assert_eq!(js("require(['fs'].join())"), "require(\"fs\")");
        assert_eq!(
            js("require('ssecorp_dlihc'.split('').reverse().join(''))"),
            "require(\"child_process\")"
        );
        assert_eq!(
            js("require('child_'.concat('process'))"),
            "require(\"child_process\")"
        );
        assert_eq!(
            js("require(['child', 'pro' + 'cess'].join('_'))"),
            "require(\"child_process\")"
        );
    }

    #[test]
    fn template_literals_with_holes_stay_code() {
        assert_eq!(js("let a = `x${y}` + 'z';"), "let a = `x${y}` + \"z\";");
    }

    #[test]
    fn shell_comments_are_blanked_but_not_counts_or_quoted_hashes() {
        assert_eq!(
            shell_without_comments("# uses /proc\necho \"#x\" ${#a[@]} $# a#b # curl\n"),
            "            \necho \"#x\" ${#a[@]} $# a#b       \n"
        );
        assert_eq!(
            shell_without_comments("echo 'it''s' # c"),
            "echo 'it''s'    "
        );
    }

    #[test]
    fn plain_sources_have_no_view() {
        assert_eq!(folded(Some(Language::C), "int main() { return 0; }"), None);
        assert_eq!(folded(Some(Language::Python), "'a' 'b'"), None);
    }
}
