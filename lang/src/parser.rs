//! `Parser`: tokens to the syntax tree (REFERENCE-LANGUAGE §2).
//!
//! Invariants: the parser never stops at the first error: it records it,
//! skips the offending token and goes on; nesting deeper than
//! `MAX_NESTING` is an error, not a stack overflow; every `if`, `while`,
//! function and block is closed or reported.

use crate::ast::{Expr, Item, Stmt};
use crate::chunk::Span;
use crate::diagnostic::CompileError;
use crate::lexer::{Token, TokenKind};
use bumpalo::collections::Vec as BVec;
use bumpalo::Bump;

/// How deeply blocks, `if`s and `while`s may nest.
pub const MAX_NESTING: usize = 200;

/// Which tokens end the statement list being parsed.
#[derive(Clone, Copy, Default)]
struct Stop {
    bracket: bool,
    els: bool,
    end: bool,
}

/// Builds the tree of one file.
pub struct Parser<'a, 't> {
    arena: &'a Bump,
    tokens: &'t [Token],
    pos: usize,
    depth: usize,
    pub errors: Vec<CompileError>,
}

impl<'a, 't> Parser<'a, 't> {
    pub fn new(arena: &'a Bump, tokens: &'t [Token]) -> Self {
        Parser { arena, tokens, pos: 0, depth: 0, errors: Vec::new() }
    }

    fn peek(&self) -> &'t Token {
        let last = self.tokens.len() - 1;
        &self.tokens[self.pos.min(last)]
    }

    fn peek_at(&self, ahead: usize) -> &'t TokenKind {
        let last = self.tokens.len() - 1;
        &self.tokens[(self.pos + ahead).min(last)].kind
    }

    fn bump(&mut self) -> &'t Token {
        let t = self.peek();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(&self.peek().kind, TokenKind::Word(x) if x == w)
    }

    fn error(&mut self, message: String, span: Span) {
        self.errors.push(CompileError::new(message, span, None));
    }

    fn alloc_str(&self, s: &str) -> &'a str {
        self.arena.alloc_str(s)
    }

    /// Parses a whole file into items.
    pub fn parse_program(&mut self) -> &'a [Item<'a>] {
        let mut items = BVec::new_in(self.arena);
        loop {
            match &self.peek().kind {
                TokenKind::Eof => break,
                TokenKind::Newline | TokenKind::Comment => {
                    self.bump();
                }
                _ => {
                    if let Some(f) = self.try_function() {
                        items.push(f);
                        continue;
                    }
                    let before = self.pos;
                    let stmt = self.statement();
                    if !stmt.is_empty() {
                        items.push(Item::Stmt(stmt));
                    }
                    if self.pos == before || self.at_stray_terminator() {
                        let t = self.bump();
                        self.error(format!("unexpected token {}", t.kind.label()), t.span);
                    }
                }
            }
        }
        items.into_bump_slice()
    }

    fn at_stray_terminator(&self) -> bool {
        matches!(&self.peek().kind, TokenKind::RBracket) || self.is_word("else") || self.is_word("end")
    }

    /// `[ "(" inputs "->" outputs ")" ] NAME function BODY end`
    fn try_function(&mut self) -> Option<Item<'a>> {
        let mut ahead = 0;
        let mut inputs = 0;
        if matches!(self.peek_at(0), TokenKind::LParen) {
            ahead = 1;
            let mut seen_arrow = false;
            loop {
                match self.peek_at(ahead) {
                    TokenKind::Word(_) => {
                        if !seen_arrow {
                            inputs += 1;
                        }
                    }
                    TokenKind::Arrow if !seen_arrow => seen_arrow = true,
                    TokenKind::RParen => break,
                    _ => return None,
                }
                ahead += 1;
            }
            ahead += 1;
        }
        let name = match self.peek_at(ahead) {
            TokenKind::Word(w) => w.as_str(),
            TokenKind::Str(s) => s.as_str(),
            _ => return None,
        };
        if !matches!(self.peek_at(ahead + 1), TokenKind::Word(w) if w == "function") {
            return None;
        }
        for _ in 0..ahead {
            self.bump();
        }
        let name_span = self.bump().span;
        let fn_span = self.bump().span;
        let name = self.alloc_str(name);
        let body = self.body(Stop { end: true, ..Stop::default() });
        self.expect_end("end", fn_span);
        Some(Item::Function { name, inputs, body, span: name_span })
    }

    fn expect_end(&mut self, what: &str, _opener: Span) {
        if self.is_word("end") {
            self.bump();
        } else {
            let t = self.peek();
            self.error(format!("expected {what}, found {}", t.kind.label()), t.span);
        }
    }

    /// Statements up to (not including) a stop token or the end of file.
    fn body(&mut self, stop: Stop) -> &'a [Stmt<'a>] {
        let mut stmts = BVec::new_in(self.arena);
        loop {
            match &self.peek().kind {
                TokenKind::Eof => break,
                TokenKind::Newline | TokenKind::Comment => {
                    self.bump();
                }
                TokenKind::RBracket if stop.bracket => break,
                TokenKind::Word(w) if (w == "else" && stop.els) || (w == "end" && stop.end) => break,
                _ => {
                    let before = self.pos;
                    let stmt = self.statement();
                    if !stmt.is_empty() {
                        stmts.push(stmt);
                    }
                    let stray = match &self.peek().kind {
                        TokenKind::RBracket => !stop.bracket,
                        TokenKind::Word(w) if w == "else" => !stop.els,
                        TokenKind::Word(w) if w == "end" => !stop.end,
                        _ => false,
                    };
                    if self.pos == before || stray {
                        let t = self.bump();
                        self.error(format!("unexpected token {}", t.kind.label()), t.span);
                    }
                }
            }
        }
        stmts.into_bump_slice()
    }

    /// The expressions of one statement.
    fn statement(&mut self) -> Stmt<'a> {
        let mut exprs: BVec<'a, Expr<'a>> = BVec::new_in(self.arena);
        loop {
            let t = self.peek();
            let span = t.span;
            match &t.kind {
                TokenKind::Newline | TokenKind::Comment | TokenKind::Eof | TokenKind::RBracket => break,
                TokenKind::Word(w) if w == "else" || w == "end" => break,
                TokenKind::Word(w) if w == "if" => {
                    self.bump();
                    if !self.enter(span) {
                        continue;
                    }
                    let then = self.body(Stop { els: true, end: true, ..Stop::default() });
                    let els = if self.is_word("else") {
                        self.bump();
                        Some(self.body(Stop { end: true, ..Stop::default() }))
                    } else {
                        None
                    };
                    self.expect_end("if terminator", span);
                    self.depth -= 1;
                    exprs.push(Expr::If { then, els, span });
                }
                TokenKind::Word(w) if w == "while" => {
                    self.bump();
                    if exprs.is_empty() {
                        self.error("while requires a condition before it".into(), span);
                    }
                    if !self.enter(span) {
                        continue;
                    }
                    let cond = std::mem::replace(&mut exprs, BVec::new_in(self.arena)).into_bump_slice();
                    let body = self.body(Stop { end: true, ..Stop::default() });
                    self.expect_end("while terminator", span);
                    self.depth -= 1;
                    exprs.push(Expr::While { cond, body, span });
                }
                TokenKind::LBracket => {
                    self.bump();
                    if !self.enter(span) {
                        continue;
                    }
                    let body = self.body(Stop { bracket: true, ..Stop::default() });
                    let end = self.peek();
                    let full = Span { start: span.start, end: end.span.end };
                    if matches!(end.kind, TokenKind::RBracket) {
                        self.bump();
                    } else {
                        self.error(format!("expected right bracket, found {}", end.kind.label()), end.span);
                    }
                    self.depth -= 1;
                    exprs.push(Expr::Block { body, span: full });
                }
                TokenKind::LParen => {
                    self.bump();
                    let mut end = span;
                    loop {
                        let t = self.peek();
                        match &t.kind {
                            TokenKind::Word(_) | TokenKind::Arrow => {
                                self.bump();
                            }
                            TokenKind::RParen => {
                                end = self.bump().span;
                                break;
                            }
                            other => {
                                self.error(format!("expected right paren, found {}", other.label()), t.span);
                                break;
                            }
                        }
                    }
                    exprs.push(Expr::Args(Span { start: span.start, end: end.end }));
                }
                TokenKind::RParen | TokenKind::Arrow => {
                    self.bump();
                    self.error(format!("unexpected token {}", t.kind.label()), span);
                }
                TokenKind::Int(n) => {
                    self.bump();
                    exprs.push(Expr::Int(*n, span));
                }
                TokenKind::Float(f) => {
                    self.bump();
                    exprs.push(Expr::Float(*f, span));
                }
                TokenKind::Str(s) => {
                    self.bump();
                    exprs.push(Expr::Str(self.alloc_str(s), span));
                }
                TokenKind::Word(w) => {
                    self.bump();
                    exprs.push(Expr::Word(self.alloc_str(w), span));
                }
                TokenKind::Ref(r) => {
                    self.bump();
                    exprs.push(Expr::Ref(self.alloc_str(r), span));
                }
                TokenKind::DotWord(w) => {
                    self.bump();
                    exprs.push(Expr::DotWord(self.alloc_str(w), span));
                }
            }
        }
        exprs.into_bump_slice()
    }

    /// Enters one nesting level; false (with an error) when too deep.
    fn enter(&mut self, span: Span) -> bool {
        if self.depth >= MAX_NESTING {
            self.error(format!("nesting is deeper than {MAX_NESTING} levels"), span);
            // Skip to the end of the file: nothing sensible follows.
            self.pos = self.tokens.len() - 1;
            return false;
        }
        self.depth += 1;
        true
    }
}
