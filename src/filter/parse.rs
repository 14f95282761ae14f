//! The `?filter=` grammar (go-bexpr's): a recursive-descent parser over bytes that keeps
//! the farthest point it failed at, so a bad expression gets go-bexpr's
//! `line:col (offset): no match found, expected: …` form.
//!
//! Hand-written because no crate implements this grammar; it is small (about forty PEG
//! rules) and its ordered choices map one to one onto functions here.

use std::collections::BTreeSet;

use regex::Regex;

/// A parsed expression.
#[derive(Debug, Clone)]
pub enum Expr {
    /// `a or b`.
    Or(Box<Expr>, Box<Expr>),
    /// `a and b`.
    And(Box<Expr>, Box<Expr>),
    /// `not a`.
    Not(Box<Expr>),
    /// One comparison.
    Match(Match),
}

/// What a comparison asks of the selected value (the positive form; `negate` flips it).
#[derive(Debug, Clone)]
pub enum Op {
    /// `==` / `!=`.
    Equal(String),
    /// `in`, `contains` and their `not` forms: substring, list element or map key.
    In(String),
    /// `is empty` / `is not empty`.
    IsEmpty,
    /// `matches` / `not matches`: RE2 syntax, as Go's `regexp`.
    Matches(Regex),
}

/// `Selector op Value`.
#[derive(Debug, Clone)]
pub struct Match {
    /// The path into the row: field names, map keys, or list indexes.
    pub selector: Vec<String>,
    /// The comparison.
    pub op: Op,
    /// `!=`, `not in`, `not contains`, `is not empty`, `not matches`.
    pub negate: bool,
}

/// Why an expression did not parse: go-bexpr's position and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

struct Parser<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    /// The farthest offset any rule failed at, and what would have matched there.
    far: usize,
    expected: BTreeSet<&'static str>,
    /// A rule's own error (unterminated string, unmatched parenthesis), which wins.
    fatal: Option<(usize, String)>,
}

/// Parse a whole filter expression.
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    let mut p = Parser {
        src,
        b: src.as_bytes(),
        pos: 0,
        far: 0,
        expected: BTreeSet::new(),
        fatal: None,
    };
    p.ws();
    let expr = p.or_expr();
    if let Some((at, msg)) = p.fatal.take() {
        return Err(p.error_at(at, &msg));
    }
    if let Some(e) = expr {
        p.ws();
        if p.pos == p.b.len() {
            return Ok(e);
        }
        p.expect(p.pos, "EOF");
    }
    let msg = format!(
        "no match found, expected: {}",
        p.expected.iter().cloned().collect::<Vec<_>>().join(", ")
    );
    Err(p.error_at(p.far, &msg))
}

impl<'a> Parser<'a> {
    fn error_at(&self, at: usize, msg: &str) -> ParseError {
        let at = at.min(self.b.len());
        let before = &self.src[..floor_char(self.src, at)];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        ParseError(format!("{line}:{col} ({at}): {msg}"))
    }

    fn expect(&mut self, at: usize, what: &'static str) {
        if at > self.far {
            self.far = at;
            self.expected.clear();
        }
        if at == self.far {
            self.expected.insert(what);
        }
    }

    fn fail(&mut self, at: usize, msg: &str) {
        if self.fatal.is_none() {
            self.fatal = Some((at, msg.to_string()));
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    /// Optional whitespace; true when any was taken.
    fn ws(&mut self) -> bool {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.pos += 1;
        }
        if self.pos == start {
            self.expect(self.pos, "[ \\t\\r\\n]");
        }
        self.pos > start
    }

    fn lit(&mut self, s: &'static str) -> bool {
        if self.b[self.pos..].starts_with(s.as_bytes()) {
            self.pos += s.len();
            true
        } else {
            self.expect(self.pos, quoted(s));
            false
        }
    }

    /// `_ word _` (whitespace required on both sides), or nothing consumed.
    fn spaced_words(&mut self, words: &[&'static str]) -> bool {
        let start = self.pos;
        for w in words {
            if !(self.ws() && self.lit(w)) {
                self.pos = start;
                return false;
            }
        }
        if self.ws() {
            true
        } else {
            self.pos = start;
            false
        }
    }

    fn or_expr(&mut self) -> Option<Expr> {
        self.binary("or", Self::and_expr, Expr::Or)
    }

    fn and_expr(&mut self) -> Option<Expr> {
        self.binary("and", Self::not_expr, Expr::And)
    }

    /// `operand (_ word _ operand)*`, folded to the left; a trailing `word` that no
    /// operand follows is left unconsumed (the caller reports what was expected there).
    fn binary(
        &mut self,
        word: &'static str,
        operand: fn(&mut Self) -> Option<Expr>,
        join: fn(Box<Expr>, Box<Expr>) -> Expr,
    ) -> Option<Expr> {
        let mut left = operand(self)?;
        loop {
            let save = self.pos;
            if !self.spaced_words(&[word]) {
                return Some(left);
            }
            match operand(self) {
                Some(right) => left = join(Box::new(left), Box::new(right)),
                None => {
                    self.pos = save;
                    return if self.fatal.is_some() {
                        None
                    } else {
                        Some(left)
                    };
                }
            }
        }
    }

    fn not_expr(&mut self) -> Option<Expr> {
        let save = self.pos;
        if self.lit("not") && self.ws() {
            if let Some(e) = self.not_expr() {
                // `not not x` is `x`.
                return Some(match e {
                    Expr::Not(inner) => *inner,
                    e => Expr::Not(Box::new(e)),
                });
            }
            if self.fatal.is_some() {
                return None;
            }
        }
        self.pos = save;
        self.paren_expr()
    }

    fn paren_expr(&mut self) -> Option<Expr> {
        let save = self.pos;
        if self.lit("(") {
            self.ws();
            if let Some(e) = self.or_expr() {
                self.ws();
                if self.lit(")") {
                    return Some(e);
                }
                self.fail(self.pos, "Unmatched parentheses");
                return None;
            }
            if self.fatal.is_some() {
                return None;
            }
            self.pos = save;
        }
        self.match_expr()
    }

    fn match_expr(&mut self) -> Option<Expr> {
        let save = self.pos;
        // Selector op Value, and Selector is [not] empty.
        if let Some(selector) = self.selector() {
            let after_selector = self.pos;
            if let Some((negate, kind)) = self.value_op() {
                if let Some(value) = self.value() {
                    let op = match kind {
                        ValueOp::Equal => Op::Equal(value),
                        ValueOp::Contains => Op::In(value),
                        ValueOp::Matches => match Regex::new(&value) {
                            Ok(re) => Op::Matches(re),
                            Err(e) => {
                                let msg = format!(
                                    "Failed to compile regular expression {value:?}: {}",
                                    first_line(&e.to_string())
                                );
                                self.fail(after_selector, &msg);
                                return None;
                            }
                        },
                    };
                    return Some(Expr::Match(Match {
                        selector,
                        op,
                        negate,
                    }));
                }
                if self.fatal.is_some() {
                    return None;
                }
            }
            self.pos = after_selector;
            if self.spaced_words(&["is", "not"]) && self.lit("empty") {
                return Some(Expr::Match(Match {
                    selector,
                    op: Op::IsEmpty,
                    negate: true,
                }));
            }
            self.pos = after_selector;
            let start = self.pos;
            if self.ws() && self.lit("is") && self.ws() && self.lit("empty") {
                return Some(Expr::Match(Match {
                    selector,
                    op: Op::IsEmpty,
                    negate: false,
                }));
            }
            self.pos = start;
        }
        if self.fatal.is_some() {
            return None;
        }
        // Value [not] in Selector.
        self.pos = save;
        if let Some(value) = self.value() {
            let negate = if self.spaced_words(&["in"]) {
                Some(false)
            } else if self.spaced_words(&["not", "in"]) {
                Some(true)
            } else {
                None
            };
            if let Some(negate) = negate {
                let at = self.pos;
                if let Some(selector) = self.selector() {
                    return Some(Expr::Match(Match {
                        selector,
                        op: Op::In(value),
                        negate,
                    }));
                }
                if self.fatal.is_none() {
                    self.fail(at, "Invalid selector");
                }
                return None;
            }
        }
        self.pos = save;
        None
    }

    /// `==`, `!=`, `contains`, `matches` and their `not` forms, with the whitespace
    /// around them.
    fn value_op(&mut self) -> Option<(bool, ValueOp)> {
        let start = self.pos;
        for (text, negate) in [("==", false), ("!=", true)] {
            self.ws();
            if self.lit(text) {
                self.ws();
                return Some((negate, ValueOp::Equal));
            }
            self.pos = start;
        }
        for (words, negate, op) in [
            (&["contains"][..], false, ValueOp::Contains),
            (&["not", "contains"][..], true, ValueOp::Contains),
            (&["matches"][..], false, ValueOp::Matches),
            (&["not", "matches"][..], true, ValueOp::Matches),
        ] {
            if self.spaced_words(words) {
                return Some((negate, op));
            }
        }
        None
    }

    fn identifier(&mut self) -> Option<&'a str> {
        let start = self.pos;
        if !matches!(self.peek(), Some(c) if c.is_ascii_alphabetic()) {
            self.expect(self.pos, "[a-zA-Z]");
            return None;
        }
        self.pos += 1;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'_' || c == b'/')
        {
            self.pos += 1;
        }
        self.expect(self.pos, "[a-zA-Z0-9_/]");
        Some(&self.src[start..self.pos])
    }

    fn selector(&mut self) -> Option<Vec<String>> {
        let start = self.pos;
        if self.peek() == Some(b'"') {
            return self.json_pointer();
        }
        let first = self.identifier()?;
        let mut path = vec![first.to_string()];
        loop {
            let seg_start = self.pos;
            if self.lit(".") {
                if let Some(id) = self.identifier() {
                    path.push(id.to_string());
                    continue;
                }
                let digits = self.pos;
                while matches!(self.peek(), Some(c) if c.is_ascii_digit()) {
                    self.pos += 1;
                }
                if self.pos > digits {
                    path.push(self.src[digits..self.pos].to_string());
                    continue;
                }
                self.expect(self.pos, "[0-9]");
                self.pos = seg_start;
                break;
            }
            if self.lit("[") {
                self.ws();
                if !matches!(self.peek(), Some(b'"' | b'`')) {
                    self.fail(self.pos, "Invalid index");
                    return None;
                }
                let key = self.string_literal()?;
                self.ws();
                if !self.lit("]") {
                    self.fail(self.pos, "Unclosed index expression");
                    return None;
                }
                path.push(key);
                continue;
            }
            break;
        }
        debug_assert!(self.pos > start);
        Some(path)
    }

    /// `"/a/b"`: a JSON pointer (`~1` is `/`, `~0` is `~`).
    fn json_pointer(&mut self) -> Option<Vec<String>> {
        let start = self.pos;
        self.pos += 1;
        let mut path = Vec::new();
        while self.peek() == Some(b'/') {
            self.pos += 1;
            let seg = self.pos;
            while let Some(c) = self.src[self.pos..].chars().next() {
                if c.is_alphanumeric() || "-_.~:|".contains(c) {
                    self.pos += c.len_utf8();
                } else {
                    break;
                }
            }
            if self.pos == seg {
                self.expect(self.pos, "[\\pL\\pN-_.~:|]");
                self.pos = start;
                return None;
            }
            path.push(
                self.src[seg..self.pos]
                    .replace("~1", "/")
                    .replace("~0", "~"),
            );
        }
        if path.is_empty() || self.peek() != Some(b'"') {
            self.expect(self.pos, "\"/\"");
            self.pos = start;
            return None;
        }
        self.pos += 1;
        Some(path)
    }

    /// A value: a bare selector (taken as its text), a number or a string.
    fn value(&mut self) -> Option<String> {
        match self.peek() {
            Some(b'"' | b'`') => self.string_literal(),
            Some(c) if c == b'-' || c.is_ascii_digit() => self.number(),
            _ => {
                let sel = self.selector()?;
                Some(sel.join("."))
            }
        }
    }

    fn number(&mut self) -> Option<String> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                while matches!(self.peek(), Some(c) if c.is_ascii_digit()) {
                    self.pos += 1;
                }
            }
            _ => {
                self.expect(self.pos, "[0-9]");
                self.pos = start;
                return None;
            }
        }
        if self.peek() == Some(b'.') {
            let dot = self.pos;
            self.pos += 1;
            let digits = self.pos;
            while matches!(self.peek(), Some(c) if c.is_ascii_digit()) {
                self.pos += 1;
            }
            if self.pos == digits {
                self.pos = dot;
            }
        }
        if !matches!(
            self.peek(),
            None | Some(b' ' | b'\t' | b'\r' | b'\n' | b')')
        ) {
            self.fail(start, "Invalid number literal");
            return None;
        }
        Some(self.src[start..self.pos].to_string())
    }

    fn string_literal(&mut self) -> Option<String> {
        let start = self.pos;
        let quote = self.peek()?;
        let Some(len) = self.src[start + 1..].find(quote as char) else {
            self.fail(start, "Unterminated string literal");
            return None;
        };
        let body = &self.src[start + 1..start + 1 + len];
        self.pos = start + len + 2;
        if quote == b'`' {
            return Some(body.to_string());
        }
        match unquote(body) {
            Some(s) => Some(s),
            None => {
                self.fail(start, "invalid syntax");
                None
            }
        }
    }
}

#[derive(Clone, Copy)]
enum ValueOp {
    Equal,
    Contains,
    Matches,
}

fn quoted(s: &'static str) -> &'static str {
    match s {
        "(" => "\"(\"",
        ")" => "\")\"",
        "." => "\".\"",
        "[" => "\"[\"",
        "==" => "\"==\"",
        "!=" => "\"!=\"",
        "or" => "\"or\"",
        "and" => "\"and\"",
        "not" => "\"not\"",
        "in" => "\"in\"",
        "is" => "\"is\"",
        "empty" => "\"empty\"",
        "contains" => "\"contains\"",
        "matches" => "\"matches\"",
        "]" => "\"]\"",
        other => other,
    }
}

fn first_line(s: &str) -> &str {
    s.lines()
        .map(str::trim)
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| s.lines().next().unwrap_or(s))
}

fn floor_char(s: &str, mut at: usize) -> usize {
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Go's `strconv.Unquote` body rules for a double-quoted string: the usual escapes,
/// `\xNN`, `\NNN` (octal), `\uNNNN` and `\UNNNNNNNN`.
fn unquote(body: &str) -> Option<String> {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == '\n' {
            return None;
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = chars.next()?;
        match e {
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            '\\' => out.push('\\'),
            '\'' => out.push('\''),
            '"' => out.push('"'),
            'x' | 'u' | 'U' => {
                let n = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let hex: String = chars.by_ref().take(n).collect();
                if hex.len() != n {
                    return None;
                }
                let v = u32::from_str_radix(&hex, 16).ok()?;
                out.push(char::from_u32(v)?);
            }
            '0'..='7' => {
                let rest: String = chars.by_ref().take(2).collect();
                let v = u32::from_str_radix(&format!("{e}{rest}"), 8).ok()?;
                if rest.len() != 2 || v > 255 {
                    return None;
                }
                out.push(char::from_u32(v)?);
            }
            _ => return None,
        }
    }
    Some(out)
}
