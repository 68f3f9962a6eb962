//! CPython reads identifiers NFKC-normalised (`ｅｖａｌ` is `eval`, `𝐨𝐬` is
//! `os`); rustpython-parser keeps them as written. Rewriting such identifiers
//! before parsing makes every later comparison (aliases, attributes, folding
//! callees) see the name CPython sees, instead of normalising at each site.

use rustpython_parser::{Mode, Tok, lexer};
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

/// The source with identifiers normalised, and where each rewritten one now starts.
#[derive(Debug)]
pub(crate) struct Normalised {
    pub text: String,
    pub rewritten: Vec<usize>,
}

/// Rewrites the identifiers of `text` that NFKC changes; `None` when there are none.
/// A name that would normalise to a keyword is left alone: CPython matches
/// keywords before normalising, so `ｉｍｐｏｒｔ` is a name there, not `import`.
pub(crate) fn identifiers(text: &str) -> Option<Normalised> {
    if text.is_ascii() || is_nfkc_quick(text.chars()) == IsNormalized::Yes {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut rewritten = Vec::new();
    let mut copied = 0;
    // Lexical errors end the rewrite there; such code falls back to tokens,
    // which normalise names themselves.
    for (tok, range) in lexer::lex(text, Mode::Module).map_while(Result::ok) {
        let Tok::Name { name } = tok else { continue };
        if name.is_ascii() {
            continue;
        }
        let norm: String = name.nfkc().collect();
        if norm == name || lexer::KEYWORDS.contains_key(norm.as_str()) {
            continue;
        }
        let (start, end) = (range.start().to_usize(), range.end().to_usize());
        out.push_str(text.get(copied..start)?);
        rewritten.push(out.len());
        out.push_str(&norm);
        copied = end;
    }
    if rewritten.is_empty() {
        return None;
    }
    out.push_str(text.get(copied..)?);
    Some(Normalised {
        text: out,
        rewritten,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_rewritten_and_strings_comments_and_keywords_kept() {
        let src = "ｘ = 'ｅｖａｌ'  # ｅｖａｌ\nｐｒｉｎｔ(ｏｓ.ｓｙｓｔｅｍ, ｉｍｐｏｒｔ)\n";
        let n = identifiers(src).expect("rewritten");
        assert_eq!(
            n.text,
            "x = 'ｅｖａｌ'  # ｅｖａｌ\nprint(os.system, ｉｍｐｏｒｔ)\n"
        );
        assert_eq!(n.rewritten.len(), 4);
        assert_eq!(&n.text[n.rewritten[2]..n.rewritten[2] + 2], "os");
    }

    #[test]
    fn ascii_and_already_normal_text_is_left_alone() {
        assert!(identifiers("import os\n").is_none());
        assert!(identifiers("café = 'ｅ'\n").is_none());
    }
}
