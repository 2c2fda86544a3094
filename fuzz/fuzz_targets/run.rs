//! `run`: arbitrary bytes (lossy UTF-8) compiled and run on the VM within a
//! total budget of `rco_fuzz::TOTAL_BUDGET` instructions, in slices, with a
//! host that has no tasks and no sockets. Oracle: no panic (the VM has no
//! "internal error" kind, so a panic is the bug signal; `ErrorKind::Limit`
//! and every other runtime error are fine), no hang past the budget (the
//! libFuzzer `-timeout` catches a single slow instruction), memory under the
//! libFuzzer `-rss_limit_mb=2048` cap, and `Failure::render` never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let src = rco_fuzz::source(data);
    let _ = rco_fuzz::drive(&src);
});
