//! The fallback for Python that does not parse (Python 2 syntax, syntax the
//! parser does not know yet, deliberate garbage around a payload): facts from
//! the token stream instead of the tree. Less precise, but a name is a name:
//! `print `__import__('os')`` still references `__import__`.

use crate::facts::{Fact, FactKind};
use crate::position::LineIndex;
use rustpython_parser::text_size::TextSize;
use rustpython_parser::{Mode, Tok, lexer};
use unicode_normalization::UnicodeNormalization;

/// Lexing restarts after an error at most this often.
const MAX_RESTARTS: usize = 256;

/// A token reduced to what the fallback needs.
enum Token {
    Name(String),
    Str(String),
    Dot,
    LParen,
    Import,
    From,
    Other,
}

/// Facts from the tokens of `text`, skipping over lexical errors.
pub(crate) fn facts(text: &str, lines: &LineIndex) -> Vec<Fact> {
    let tokens = tokens(text);
    let mut out = Vec::new();
    let pos = |offset: usize| lines.pos(text, offset);
    for (i, (tok, at)) in tokens.iter().enumerate() {
        let next = tokens.get(i + 1).map(|t| &t.0);
        let prev = i.checked_sub(1).and_then(|p| tokens.get(p)).map(|t| &t.0);
        match tok {
            Token::Name(name) => {
                let kind = match (prev, next) {
                    (Some(Token::Import | Token::From), _) => {
                        FactKind::Import(dotted(&tokens[i..]))
                    }
                    (Some(Token::Dot), _) => FactKind::Attribute(name.clone()),
                    (_, Some(Token::LParen)) => FactKind::Call(name.clone()),
                    _ => FactKind::Name(name.clone()),
                };
                if matches!(kind, FactKind::Call(_)) {
                    out.push(Fact {
                        kind: FactKind::Name(name.clone()),
                        pos: pos(*at),
                    });
                }
                out.push(Fact {
                    kind,
                    pos: pos(*at),
                });
            }
            Token::Str(s) => out.push(Fact {
                kind: FactKind::Str(s.clone()),
                pos: pos(*at),
            }),
            _ => {}
        }
    }
    out
}

/// `a . b . c` starting at the first token, joined.
fn dotted(tokens: &[(Token, usize)]) -> String {
    let mut out = String::new();
    for (i, (tok, _)) in tokens.iter().enumerate() {
        match (i % 2, tok) {
            (0, Token::Name(n)) => out.push_str(n),
            (1, Token::Dot) => out.push('.'),
            _ => break,
        }
    }
    out.trim_end_matches('.').to_string()
}

fn tokens(text: &str) -> Vec<(Token, usize)> {
    let mut out = Vec::new();
    let mut start = 0usize;
    for _ in 0..MAX_RESTARTS {
        let Some(rest) = text.get(start..) else { break };
        let offset = TextSize::try_from(start).unwrap_or_default();
        let mut failed_at = None;
        for item in lexer::lex_starts_at(rest, Mode::Module, offset) {
            match item {
                Ok((tok, range)) => out.push((reduce(tok), range.start().to_usize())),
                Err(e) => {
                    failed_at = Some(e.location.to_usize());
                    break;
                }
            }
        }
        let Some(at) = failed_at else { break };
        // Go on from the error; if that is where we started, skip one character.
        start = if at > start {
            at
        } else {
            at + text
                .get(at..)
                .and_then(|s| s.chars().next())
                .map_or(1, char::len_utf8)
        };
    }
    out
}

fn reduce(tok: Tok) -> Token {
    match tok {
        Tok::Name { name } => Token::Name(if name.is_ascii() {
            name
        } else {
            name.nfkc().collect()
        }),
        Tok::String { value, .. } => Token::Str(value),
        Tok::Dot => Token::Dot,
        Tok::Lpar => Token::LParen,
        Tok::Import => Token::Import,
        Tok::From => Token::From,
        _ => Token::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<FactKind> {
        facts(src, &LineIndex::new(src))
            .into_iter()
            .map(|f| f.kind)
            .collect()
    }

    #[test]
    fn python2_syntax_still_yields_names_calls_and_imports() {
        let k = kinds("print `__import__('os').system('id')`\n");
        assert!(k.contains(&FactKind::Call("__import__".into())), "{k:?}");
        assert!(k.contains(&FactKind::Attribute("system".into())), "{k:?}");
        let k = kinds("exec \"import os\"\nfrom os.path import join\n");
        assert!(k.contains(&FactKind::Name("exec".into())), "{k:?}");
        assert!(k.contains(&FactKind::Import("os.path".into())), "{k:?}");
        assert!(k.contains(&FactKind::Str("import os".into())), "{k:?}");
    }
}
