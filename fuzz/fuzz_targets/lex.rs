//! `lex`: arbitrary bytes (lossy UTF-8) through `Lexer::tokenize`.
//! Oracle: no panic; the token list ends with `Eof`; every token span and
//! every error span lies within the source; rendering the errors does not
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rco_lang::lexer::{Lexer, TokenKind};

fuzz_target!(|data: &[u8]| {
    let src = rco_fuzz::source(data);
    let (tokens, errors) = Lexer::tokenize(&src);
    assert!(matches!(tokens.last().map(|t| &t.kind), Some(TokenKind::Eof)), "token list does not end with Eof");
    for t in &tokens {
        assert!(
            t.span.start <= t.span.end && t.span.end as usize <= src.len(),
            "token span {:?} out of bounds (len {})",
            t.span,
            src.len()
        );
    }
    rco_fuzz::check_errors(&src, &errors);
});
