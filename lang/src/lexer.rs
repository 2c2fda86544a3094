//! `Lexer`: source bytes to tokens (REFERENCE-LANGUAGE §1).
//!
//! Invariants: every token carries the byte span it came from; the lexer
//! never stops at an error: it records a `CompileError` and goes on, so a
//! file with several mistakes reports them all; the token list always ends
//! with `Eof`.

use crate::chunk::Span;
use crate::diagnostic::CompileError;

/// What a token is.
#[derive(Clone, Debug, PartialEq)]
pub enum TokenKind {
    Word(String),
    /// `$name`
    Ref(String),
    Str(String),
    Int(i64),
    Float(f64),
    /// A word starting with `.` (rejected by the compiler).
    DotWord(String),
    LBracket,
    RBracket,
    LParen,
    RParen,
    Arrow,
    Newline,
    /// `(( ... ))`; ends a statement like a newline.
    Comment,
    Eof,
}

/// A token and its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

impl TokenKind {
    /// How a parse error names this token (REFERENCE-LANGUAGE §9.1).
    pub fn label(&self) -> String {
        match self {
            TokenKind::Word(w) => format!("symbol {w:?}"),
            TokenKind::Ref(r) => format!("reference {r:?}"),
            TokenKind::Str(s) => format!("string {s:?}"),
            TokenKind::Int(n) => format!("number \"{n}\""),
            TokenKind::Float(f) => format!("number \"{f}\""),
            TokenKind::DotWord(w) => format!("leading-dot word {w:?}"),
            TokenKind::LBracket => "'['".into(),
            TokenKind::RBracket => "']'".into(),
            TokenKind::LParen => "'('".into(),
            TokenKind::RParen => "')'".into(),
            TokenKind::Arrow => "'->'".into(),
            TokenKind::Newline => "newline".into(),
            TokenKind::Comment => "doc comment".into(),
            TokenKind::Eof => "end of file".into(),
        }
    }
}

/// Splits a source into tokens.
pub struct Lexer<'s> {
    src: &'s [u8],
    text: &'s str,
    pos: usize,
    tokens: Vec<Token>,
    errors: Vec<CompileError>,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r')
}

impl<'s> Lexer<'s> {
    /// Lexes the whole source: the tokens, and every lex error met.
    pub fn tokenize(text: &'s str) -> (Vec<Token>, Vec<CompileError>) {
        let mut lx = Lexer { src: text.as_bytes(), text, pos: 0, tokens: Vec::new(), errors: Vec::new() };
        lx.run();
        (lx.tokens, lx.errors)
    }

    fn at_delimiter(&self, i: usize) -> bool {
        match self.src.get(i) {
            None => true,
            Some(&b) => {
                is_space(b)
                    || b == b'\n'
                    || matches!(b, b'(' | b')' | b'[' | b']')
                    || (b == b'-' && self.src.get(i + 1) == Some(&b'>'))
            }
        }
    }

    fn push(&mut self, kind: TokenKind, start: usize, end: usize) {
        self.tokens.push(Token { kind, span: Span::new(start, end) });
    }

    fn error(&mut self, message: String, start: usize, end: usize, help: Option<&str>) {
        self.errors.push(CompileError::new(message, Span::new(start, end), help.map(str::to_string)));
    }

    fn run(&mut self) {
        while self.pos < self.src.len() {
            let b = self.src[self.pos];
            let start = self.pos;
            match b {
                _ if is_space(b) => self.pos += 1,
                b'\n' => {
                    self.pos += 1;
                    self.push(TokenKind::Newline, start, self.pos);
                }
                b'(' if self.src.get(start + 1) == Some(&b'(') => self.comment(),
                b'(' => {
                    self.pos += 1;
                    self.push(TokenKind::LParen, start, self.pos);
                }
                b')' => {
                    self.pos += 1;
                    self.push(TokenKind::RParen, start, self.pos);
                }
                b'[' => {
                    self.pos += 1;
                    self.push(TokenKind::LBracket, start, self.pos);
                }
                b']' => {
                    self.pos += 1;
                    self.push(TokenKind::RBracket, start, self.pos);
                }
                b'-' if self.src.get(start + 1) == Some(&b'>') => {
                    self.pos += 2;
                    self.push(TokenKind::Arrow, start, self.pos);
                }
                b'"' => self.string(),
                b'0'..=b'9' => self.number(),
                b'-' if self.src.get(start + 1).is_some_and(u8::is_ascii_digit) => self.number(),
                _ => self.word(),
            }
        }
        let end = self.src.len();
        self.push(TokenKind::Eof, end, end);
    }

    fn comment(&mut self) {
        let start = self.pos;
        match self.text[start + 2..].find("))") {
            Some(rel) => {
                self.pos = start + 2 + rel + 2;
                self.push(TokenKind::Comment, start, self.pos);
            }
            None => {
                self.pos = self.src.len();
                self.error("unterminated doc comment".into(), start, start + 2, None);
            }
        }
    }

    fn string(&mut self) {
        let start = self.pos;
        let mut out = String::new();
        let mut i = start + 1;
        while let Some(rest) = self.text.get(i..) {
            let Some(c) = rest.chars().next() else {
                self.pos = self.src.len();
                self.error("unterminated string literal".into(), start, start + 1, None);
                return;
            };
            match c {
                '"' => {
                    self.pos = i + 1;
                    self.push(TokenKind::Str(out), start, self.pos);
                    return;
                }
                '\\' => {
                    let esc = self.text[i + 1..].chars().next();
                    match esc {
                        Some('"') => out.push('"'),
                        Some('\\') => out.push('\\'),
                        Some('n') => out.push('\n'),
                        Some('r') => out.push('\r'),
                        Some('t') => out.push('\t'),
                        Some(other) => {
                            self.error(format!("invalid string escape \\{other}"), i, i + 1 + other.len_utf8(), None)
                        }
                        None => {
                            self.pos = self.src.len();
                            self.error("unterminated string literal".into(), start, start + 1, None);
                            return;
                        }
                    }
                    i += 1 + esc.map_or(0, char::len_utf8);
                }
                c => {
                    out.push(c);
                    i += c.len_utf8();
                }
            }
        }
    }

    fn number(&mut self) {
        let start = self.pos;
        let s = self.src;
        let mut i = start;
        if s[i] == b'-' {
            i += 1;
        }
        while i < s.len() && s[i].is_ascii_digit() {
            i += 1;
        }
        let mut is_float = false;
        if i + 1 < s.len() && s[i] == b'.' && s[i + 1].is_ascii_digit() {
            is_float = true;
            i += 1;
            while i < s.len() && s[i].is_ascii_digit() {
                i += 1;
            }
        }
        if i < s.len() && (s[i] == b'e' || s[i] == b'E') {
            let mut j = i + 1;
            if j < s.len() && (s[j] == b'+' || s[j] == b'-') {
                j += 1;
            }
            if j < s.len() && s[j].is_ascii_digit() {
                while j < s.len() && s[j].is_ascii_digit() {
                    j += 1;
                }
                is_float = true;
                i = j;
            }
        }
        self.pos = i;
        let lit = &self.text[start..i];
        if is_float {
            match lit.parse::<f64>() {
                Ok(f) if f.is_finite() => self.push(TokenKind::Float(f), start, i),
                _ => self.error(format!("invalid number literal {lit:?}"), start, i, None),
            }
        } else {
            match lit.parse::<i64>() {
                Ok(n) => self.push(TokenKind::Int(n), start, i),
                Err(_) => self.error(format!("invalid number literal {lit:?}"), start, i, None),
            }
        }
    }

    fn word(&mut self) {
        let start = self.pos;
        let mut i = start;
        while !self.at_delimiter(i) {
            i += 1;
        }
        // Only ASCII delimiters end a word, so `i` is on a char boundary.
        self.pos = i;
        let w = &self.text[start..i];
        if w == "-" {
            self.push(TokenKind::Word(w.into()), start, i);
        } else if w.starts_with('-') {
            self.error(format!("invalid word {w:?}"), start, i, Some("use `_` instead of `-` to start a word"));
        } else if w.starts_with('!') && w != "!=" {
            self.error(
                format!("leading ! word {w:?} is not supported"),
                start,
                i,
                Some("collection mutators are push, put, insert_at, remove, remove_at and clear_items"),
            );
        } else if let Some(name) = w.strip_prefix('$') {
            if name.is_empty() {
                self.error("empty reference".into(), start, i, None);
            } else {
                self.push(TokenKind::Ref(name.into()), start, i);
            }
        } else if w.starts_with('.') {
            self.push(TokenKind::DotWord(w.into()), start, i);
        } else {
            self.push(TokenKind::Word(w.into()), start, i);
        }
    }
}
