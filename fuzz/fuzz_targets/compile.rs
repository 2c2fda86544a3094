//! `compile`: arbitrary bytes (lossy UTF-8) through `rco_lang::compile`.
//! Oracle: no panic; on error, a non-empty list of diagnostics whose spans
//! lie within the source and which render without panic; on success, the
//! program has at least its main chunk.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let src = rco_fuzz::source(data);
    match rco_lang::compile("fuzz.rco", &src) {
        Ok(program) => {
            assert!(!program.chunks.is_empty(), "compiled program without a main chunk");
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "compile failed with no diagnostic");
            rco_fuzz::check_errors(&src, &errors);
        }
    }
});
