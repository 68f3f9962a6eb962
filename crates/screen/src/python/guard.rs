//! A lexical pre-pass that bounds how deep a Python syntax tree can get before
//! the recursive parts of parsing, analysis and drop ever see it. Statements
//! nested or chained beyond the limits are replaced by `pass` (and reported),
//! so the rest of the file is still analysed on its tree.

/// CPython's tokenizer refuses more than 200 nested brackets (MAXLEVEL).
const MAX_BRACKETS: usize = 200;
/// CPython refuses more than 100 indentation levels (MAXINDENT).
const MAX_INDENT: usize = 100;
/// Estimated expression depth (nested operators, trailers, lambdas) per statement.
pub(crate) const MAX_DEPTH: usize = 2_000;

/// The outcome of the guard.
#[derive(Debug)]
pub(crate) struct Guarded {
    /// The text to parse: the input with over-deep statements neutralised.
    pub text: String,
    /// Byte offsets of the statements that were neutralised.
    pub neutralised: Vec<usize>,
    /// Indentation too deep to fix statement by statement: do not parse at all.
    pub hopeless: bool,
    /// Upper bound on the tree's depth: indentation levels plus the deepest
    /// statement's estimated expression depth (neutralised statements excluded).
    pub depth: usize,
}

/// Scans `text` (line ends `\n`) and neutralises statements that are too deep.
pub(crate) fn guard(text: &str) -> Guarded {
    let scan = Scanner::new(text.as_bytes()).run();
    if scan.over_deep.is_empty() || scan.hopeless {
        return Guarded {
            text: text.to_string(),
            neutralised: scan.over_deep_starts(),
            hopeless: scan.hopeless,
            depth: scan.depth + scan.elifs,
        };
    }
    let mut bytes = text.as_bytes().to_vec();
    for &(start, end) in &scan.over_deep {
        neutralise(&mut bytes, start, end);
    }
    // Only ASCII was written over whole characters' bytes, so this cannot fail;
    // fall back to a lossy copy rather than trust that silently.
    let text = String::from_utf8(bytes)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    Guarded {
        text,
        neutralised: scan.over_deep_starts(),
        hopeless: false,
        depth: scan.depth + scan.elifs,
    }
}

/// Writes `pass` over the statement and blanks the rest, keeping line ends.
fn neutralise(bytes: &mut [u8], start: usize, end: usize) {
    let end = end.min(bytes.len());
    for (i, b) in bytes[start..end].iter_mut().enumerate() {
        *b = match (i, *b) {
            (_, b'\n') => b'\n',
            (0, _) => b'p',
            (1, _) => b'a',
            (2 | 3, _) => b's',
            _ => b' ',
        };
    }
}

struct Scan {
    over_deep: Vec<(usize, usize)>,
    hopeless: bool,
    /// Deepest statement: indentation plus estimated expression depth.
    depth: usize,
    /// `elif` clauses: each nests the next `If` inside the previous one's `orelse`.
    elifs: usize,
}

impl Scan {
    fn over_deep_starts(&self) -> Vec<usize> {
        self.over_deep.iter().map(|(s, _)| *s).collect()
    }
}

/// The previous significant token, to tell a call or subscript trailer from a display.
#[derive(Clone, Copy, PartialEq)]
enum Prev {
    Operand,
    Other,
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
    /// Chain count per open bracket level; index 0 is the statement level.
    levels: Vec<usize>,
    sum: usize,
    max_in_line: usize,
    max_brackets: usize,
    line_start: Option<usize>,
    indents: Vec<usize>,
    prev: Prev,
    out: Scan,
}

impl<'a> Scanner<'a> {
    fn new(b: &'a [u8]) -> Self {
        Scanner {
            b,
            i: 0,
            levels: vec![0],
            sum: 0,
            max_in_line: 0,
            max_brackets: 0,
            line_start: None,
            indents: vec![0],
            prev: Prev::Other,
            out: Scan {
                over_deep: Vec::new(),
                hopeless: false,
                depth: 0,
                elifs: 0,
            },
        }
    }

    fn run(mut self) -> Scan {
        while self.i < self.b.len() && !self.out.hopeless {
            if self.line_start.is_none() && !self.start_line() {
                continue;
            }
            self.token();
        }
        self.end_line(self.b.len());
        self.out
    }

    /// At the start of a logical line: measure indentation; false if the line is blank.
    fn start_line(&mut self) -> bool {
        let mut width = 0;
        while let Some(&c) = self.b.get(self.i) {
            match c {
                b' ' => width += 1,
                b'\t' => width = (width / 8 + 1) * 8,
                b'\x0c' => width = 0,
                _ => break,
            }
            self.i += 1;
        }
        match self.b.get(self.i) {
            None => return false,
            Some(b'\n') | Some(b'#') => {
                self.skip_comment();
                self.i += 1;
                return false;
            }
            _ => {}
        }
        while self.indents.last().is_some_and(|&w| w > width) {
            self.indents.pop();
        }
        if self.indents.last().is_some_and(|&w| w < width) {
            self.indents.push(width);
        }
        self.out.hopeless = self.indents.len() > MAX_INDENT + 1;
        self.line_start = Some(self.i);
        true
    }

    fn end_line(&mut self, end: usize) {
        if let Some(start) = self.line_start.take() {
            let too_deep = self.max_in_line > MAX_DEPTH || self.max_brackets > MAX_BRACKETS;
            if too_deep {
                self.out.over_deep.push((start, end));
            } else {
                let depth = self.indents.len() + self.max_in_line.max(self.max_brackets);
                self.out.depth = self.out.depth.max(depth);
            }
        }
        self.levels.clear();
        self.levels.push(0);
        self.sum = 0;
        self.max_in_line = 0;
        self.max_brackets = 0;
        self.prev = Prev::Other;
    }

    fn bump(&mut self) {
        if let Some(top) = self.levels.last_mut() {
            *top += 1;
            self.sum += 1;
        }
        self.max_in_line = self.max_in_line.max(self.sum + self.levels.len());
    }

    fn token(&mut self) {
        let c = self.b[self.i];
        match c {
            b'\n' => {
                if self.levels.len() == 1 {
                    self.end_line(self.i);
                }
                self.i += 1;
            }
            b'\\' => self.i += 2,
            b'#' => self.skip_comment(),
            b'\'' | b'"' => self.string(false),
            b'(' | b'[' | b'{' => self.open(),
            b')' | b']' | b'}' => self.close(),
            b',' | b';' => {
                let top = self.levels.last_mut().map(std::mem::take).unwrap_or(0);
                self.sum -= top;
                self.prev = Prev::Other;
                self.i += 1;
            }
            b'.' if self.b.get(self.i + 1).is_some_and(|n| is_ident_start(*n)) => {
                self.bump();
                self.i += 1;
            }
            b'+' | b'-' | b'*' | b'/' | b'%' | b'@' | b'&' | b'|' | b'^' | b'~' | b'<' | b'>'
            | b'!' => {
                self.bump();
                self.prev = Prev::Other;
                self.i += 1;
            }
            c if c.is_ascii_digit() => self.number(),
            c if is_ident_start(c) => self.word(),
            _ => {
                self.prev = Prev::Other;
                self.i += 1;
            }
        }
    }

    fn open(&mut self) {
        if self.prev == Prev::Operand {
            self.bump();
        }
        self.levels.push(0);
        self.max_in_line = self.max_in_line.max(self.sum + self.levels.len());
        self.max_brackets = self.max_brackets.max(self.levels.len() - 1);
        self.prev = Prev::Other;
        self.i += 1;
    }

    fn close(&mut self) {
        if self.levels.len() > 1 {
            let top = self.levels.pop().unwrap_or(0);
            self.sum -= top;
        }
        self.prev = Prev::Operand;
        self.i += 1;
    }

    fn word(&mut self) {
        let start = self.i;
        while self
            .b
            .get(self.i)
            .is_some_and(|c| is_ident_start(*c) || c.is_ascii_digit())
        {
            self.i += 1;
        }
        let word = &self.b[start..self.i];
        // A string prefix such as r"…" or f'…'; f-strings hold expressions.
        if word.len() <= 3 && matches!(self.b.get(self.i), Some(b'\'' | b'"')) {
            let formatted = word.iter().any(|c| matches!(c, b'f' | b'F'));
            self.string(formatted);
            return;
        }
        if word == b"elif" {
            self.out.elifs += 1;
        }
        if matches!(word, b"lambda" | b"not" | b"if" | b"await") {
            self.bump();
            self.prev = Prev::Other;
        } else {
            self.prev = Prev::Operand;
        }
    }

    fn number(&mut self) {
        while self
            .b
            .get(self.i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'.')
        {
            self.i += 1;
        }
        self.prev = Prev::Operand;
    }

    fn skip_comment(&mut self) {
        while self.b.get(self.i).is_some_and(|c| *c != b'\n') {
            self.i += 1;
        }
    }

    /// Skips a string literal starting at a quote; triple quotes may span lines.
    /// In an f-string every operator or bracket counts toward the depth, as the
    /// expressions inside are parsed (and nested) like any other.
    fn string(&mut self, formatted: bool) {
        let q = self.b[self.i];
        let triple = self.b.get(self.i..self.i + 3) == Some(&[q, q, q][..]);
        self.i += if triple { 3 } else { 1 };
        while let Some(&c) = self.b.get(self.i) {
            if c == b'\\' {
                self.i += 2;
                continue;
            }
            if c == b'\n' && !triple {
                break; // unterminated: the parser will say so
            }
            if c == q && (!triple || self.b.get(self.i..self.i + 3) == Some(&[q, q, q][..])) {
                self.i += if triple { 3 } else { 1 };
                break;
            }
            if formatted && b"+-*/%@&|^~<>!([{.:".contains(&c) {
                self.bump();
            }
            self.i += 1;
        }
        self.prev = Prev::Operand;
    }
}

fn is_ident_start(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphabetic() || c >= 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_code_passes_untouched() {
        let src = "def f(a, b):\n    return [x * 2 for x in range(a) if x > b]\n\nd = {1: -1, 2: -2, 'k': [[1], [2], [3]]}\n";
        let g = guard(src);
        assert_eq!(g.text, src);
        assert!(g.neutralised.is_empty() && !g.hopeless);
    }

    #[test]
    fn depth_bounds_nesting_and_indentation() {
        assert!(guard("x = 1\n").depth <= 3);
        let nested = format!("x = {}1{}\n", "(".repeat(30), ")".repeat(30));
        assert!(guard(&nested).depth >= 30);
        let chained = format!("x = {}1\n", "-".repeat(50));
        assert!(guard(&chained).depth >= 50);
        let indented = "if a:\n    if b:\n        if c:\n            pass\n";
        assert!(guard(indented).depth >= 4);
        let elifs = format!("if a:\n    pass\n{}", "elif a:\n    pass\n".repeat(60));
        assert!(
            guard(&elifs).depth >= 60,
            "each elif nests one level deeper"
        );
    }

    #[test]
    fn long_flat_displays_are_not_deep() {
        let src = format!("data = [{}]\n", "[-1, 2], ".repeat(50_000));
        assert!(guard(&src).neutralised.is_empty());
    }

    #[test]
    fn deep_chains_are_neutralised_and_the_rest_kept() {
        for deep in [
            format!("x = {}1", "1+".repeat(100_000)),
            format!("x = {}1", "-".repeat(60_000)),
            format!("x = {}1{}", "(".repeat(300), ")".repeat(300)),
            format!("f = {}0", "lambda: ".repeat(5_000)),
            format!("y = f{}", "()".repeat(5_000)),
            format!("y = a{}", ".b".repeat(5_000)),
            format!("s = f\"{{{}1}}\"", "-".repeat(5_000)),
        ] {
            let src = format!("import math\n{deep}\n__import__('os')\n");
            let g = guard(&src);
            assert_eq!(g.neutralised, vec![12], "{}", &deep[..20]);
            let lines: Vec<&str> = g.text.lines().collect();
            assert_eq!(lines[0], "import math");
            assert_eq!(lines[1].trim_end(), "pass");
            assert_eq!(lines[2], "__import__('os')");
        }
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        let src = format!(
            "s = '{}'\n# {}\nt = \"\"\"\n{}\n\"\"\"\n",
            "(".repeat(500),
            "[".repeat(500),
            "{".repeat(500)
        );
        assert!(guard(&src).neutralised.is_empty());
    }

    #[test]
    fn indentation_beyond_cpython_limit_is_hopeless() {
        let mut src = String::new();
        for depth in 0..150 {
            src.push_str(&" ".repeat(depth));
            src.push_str("if x:\n");
        }
        assert!(guard(&src).hopeless);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever the input, the guard keeps line structure and only ever
        /// changes the statements it reports.
        #[test]
        fn guard_keeps_lines_and_touches_only_what_it_reports(
            src in "[-+*()\\[\\]{}'\"#\\\\:=.,; a-z0-9\n\t]{0,400}",
            deep in 0usize..3_000,
        ) {
            let text = format!("{src}\nx = {}1\n{src}", "-".repeat(deep));
            let g = guard(&text);
            prop_assert_eq!(g.text.matches('\n').count(), text.matches('\n').count());
            prop_assert_eq!(g.text.len(), text.len());
            if g.neutralised.is_empty() {
                prop_assert_eq!(&g.text, &text);
            }
            // Unless quotes or a continuation in `src` turn the deep line into string content.
            let plain = !src.contains(['\'', '"', '\\']);
            if plain && deep > MAX_DEPTH + 10 {
                prop_assert!(!g.neutralised.is_empty());
            }
        }
    }
}
