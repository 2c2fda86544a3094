//! Superinstructions never change what a program does (`op.rs`): every
//! generated program runs the same with its common sequences fused and
//! with fusion defeated, same output, same error, same site. Fusion is
//! defeated by `nil drop` between the parts of a sequence (no fused
//! pattern spans it); the fused program has eight spaces there instead, so
//! both have their tokens at the same lines and columns.

mod common;

use common::TestHost;
use proptest::prelude::*;
use rco_lang::{Outcome, Vm};
use std::sync::Arc;

/// Where fusion may happen: blanks, or `nil drop` to defeat it.
const GAP: &str = "{_}";

/// The program's output, then how it ended: its final stack, or its error
/// with the error's line and column.
fn run(source: &str) -> String {
    let program = Arc::new(rco_lang::compile("fusion.rco", source).expect("compiles"));
    let mut vm = Vm::new(program.clone());
    let mut host = TestHost::default();
    for _ in 0..1_000 {
        match vm.run(&mut host, 100_000) {
            Outcome::Yielded => continue,
            Outcome::Finished(stack) => return format!("{}end {stack:?}", host.out),
            Outcome::Failed(f) => {
                return format!("{}error {} at {:?}", host.out, f.error.message, program.line_col(f.span.start))
            }
            other => return format!("{}stopped {other:?}", host.out),
        }
    }
    panic!("never ended:\n{source}")
}

fn value() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "0",
        "1",
        "-1",
        "2",
        "7",
        "-9",
        "3000000000",
        "9223372036854775807",
        "-9223372036854775807 1 -",
        "1.5",
        "0.0",
        "\"s\"",
        "nil",
        "true",
    ])
}

/// A constant of a fused op (`VarInt`, `TopInt`, `DupInt` take those that
/// fit in 32 bits; the others stay plain).
fn constant() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["0", "1", "-1", "2", "3", "-7", "100", "3000000000"])
}

fn word() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["+", "-", "*", "/", "%", "<", ">", "<=", ">=", "=", "!="])
}

/// The last part: a `set` (also of an undeclared name), a branch, or none.
fn then() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "z set",
        "w set",
        "println",
        "if \"T\" println else \"F\" println end",
        "inspect println",
    ])
}

/// One statement: the four fused shapes, with a gap between every part.
fn statement() -> impl Strategy<Value = String> {
    let vars = || prop::sample::select(vec!["a", "b", "z"]);
    prop_oneof![
        (vars(), vars(), word(), then()).prop_map(|(x, y, w, t)| format!("${x} {GAP} ${y} {GAP} {w} {GAP} {t}")),
        (vars(), constant(), word(), then()).prop_map(|(x, k, w, t)| format!("${x} {GAP} {k} {GAP} {w} {GAP} {t}")),
        (vars(), constant(), word(), then())
            .prop_map(|(x, k, w, t)| format!("${x} dup {GAP} {k} {GAP} {w} {GAP} {t} drop")),
        (vars(), vars(), constant(), word(), then())
            .prop_map(|(x, y, k, w, t)| format!("${x} ${y} + {GAP} {k} {GAP} {w} {GAP} {t}")),
        (vars(), value()).prop_map(|(x, v)| format!("{v} {x} set")),
        // A `while`, whose condition is tested after its body, with
        // `continue` and `break` (at most six rounds).
        (constant(), word()).prop_map(|(k, w)| format!("0 n set\n$n {GAP} {k} {GAP} {w} while {LOOP_BODY} end")),
        (vars(), word()).prop_map(|(x, w)| format!("0 n set\n$n {GAP} ${x} {GAP} {w} while {LOOP_BODY} end")),
    ]
}

/// The body of a generated `while`.
const LOOP_BODY: &str = "\"L\" print $n 1 + n set $n 2 = if continue end $n 5 > if break end";

/// The statements at the top level (variables are globals there) and in
/// a function that declares its own and reads its caller's (a scan of the
/// calls' variables).
fn program(a: &str, b: &str, z: &str, top: &[String], inner: &[String]) -> String {
    let mut p = format!("{a} a var\n{b} b var\n{z} z var\n0 n var\n");
    for s in top {
        p.push_str(s);
        p.push('\n');
    }
    p.push_str("( -> ) f function\n5 a var\n");
    for s in inner {
        p.push_str(s);
        p.push('\n');
    }
    p.push_str("end\nf\n");
    p
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn fused_and_plain_programs_agree(
        (a, b, z) in (value(), value(), value()),
        top in prop::collection::vec(statement(), 1..6),
        inner in prop::collection::vec(statement(), 0..6),
    ) {
        let source = program(a, b, z, &top, &inner);
        let fused = source.replace(GAP, "        ");
        let plain = source.replace(GAP, "nil drop");
        prop_assert_eq!(run(&fused), run(&plain), "program:\n{}", fused);
    }
}

#[test]
fn the_gaps_do_defeat_fusion() {
    // At the top level the fused op is specialised (`GlobalsSet`); in a
    // function it is the general `VarVar`.
    let statement = ["$a {_} $b {_} + {_} z set".to_string()];
    let source = program("1", "2", "3", &statement, &statement);
    let listing = |s: &str| rco_lang::compile("fusion.rco", s).expect("compiles").disassemble();
    let fused = listing(&source.replace(GAP, "        "));
    assert!(fused.contains("GlobalsSet") && fused.contains("VarVar"));
    let plain = listing(&source.replace(GAP, "nil drop"));
    assert!(!plain.contains("GlobalsSet") && !plain.contains("VarVar"));
}
