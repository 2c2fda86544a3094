//! `parse`: arbitrary bytes (lossy UTF-8) lexed, then parsed by `Parser`
//! into a `bumpalo` arena. Oracle: no panic (in particular no stack overflow:
//! nesting is capped by `MAX_NESTING`); every lexer and parser error span
//! lies within the source; rendering them does not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rco_lang::lexer::Lexer;
use rco_lang::parser::Parser;

fuzz_target!(|data: &[u8]| {
    let src = rco_fuzz::source(data);
    let (tokens, mut errors) = Lexer::tokenize(&src);
    let arena = bumpalo::Bump::new();
    let mut parser = Parser::new(&arena, &tokens);
    let items = parser.parse_program();
    let _ = items.len();
    errors.append(&mut parser.errors);
    rco_fuzz::check_errors(&src, &errors);
});
