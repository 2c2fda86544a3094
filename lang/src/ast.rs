//! The syntax tree, allocated in a `bumpalo` arena that lives only while a
//! file is compiled.
//!
//! Invariants: a statement is the expressions of one line (up to a newline,
//! a comment, `]`, `else` or `end`); a `While` holds the statement prefix
//! before `while` as its condition; every node keeps the span of the token
//! a diagnostic points at.

use crate::chunk::Span;

/// One line's worth of expressions.
pub type Stmt<'a> = &'a [Expr<'a>];

/// An expression.
#[derive(Debug)]
pub enum Expr<'a> {
    Int(i64, Span),
    Float(f64, Span),
    Str(&'a str, Span),
    Word(&'a str, Span),
    Ref(&'a str, Span),
    DotWord(&'a str, Span),
    /// `[ ... ]`; `span` covers both brackets.
    Block {
        body: &'a [Stmt<'a>],
        span: Span,
    },
    /// `if THEN [else ELSE] end`; `span` is the `if` token.
    If {
        then: &'a [Stmt<'a>],
        els: Option<&'a [Stmt<'a>]>,
        span: Span,
    },
    /// `COND while BODY end`; `span` is the `while` token.
    While {
        cond: &'a [Expr<'a>],
        body: &'a [Stmt<'a>],
        span: Span,
    },
    /// An argument declaration `( a b -> c )` that is not a function's.
    Args(Span),
}

/// A top-level item.
#[derive(Debug)]
pub enum Item<'a> {
    Function { name: &'a str, inputs: usize, body: &'a [Stmt<'a>], span: Span },
    Stmt(Stmt<'a>),
}
