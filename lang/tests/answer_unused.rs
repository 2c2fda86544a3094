//! `Vm::answer_unused`: a host may skip building an effect's value only
//! when the very next instruction drops it.

mod common;

use common::TestHost;
use rco_lang::{Outcome, Vm};
use std::sync::Arc;

/// Whether the first effect `source` blocks on has its answer unused.
fn unused(source: &str) -> bool {
    let program = Arc::new(rco_lang::compile("unused.rco", source).expect("compiles"));
    let mut vm = Vm::new(program);
    let mut host = TestHost::default();
    match vm.run(&mut host, 4_096) {
        Outcome::Blocked(_) => vm.answer_unused(),
        other => panic!("{source}: did not block: {other:?}"),
    }
}

#[test]
fn only_a_drop_right_after_the_word_leaves_it_unused() {
    assert!(unused("5 sleep drop"));
    assert!(unused("( -> ) f function 5 sleep drop end f"));
    assert!(unused("[ 5 sleep drop ] call"));
    assert!(!unused("5 sleep println"));
    assert!(!unused("5 sleep r var"));
    assert!(!unused("5 sleep"), "the last value of the program is its result");
    assert!(!unused("5 sleep dup drop drop"));
    assert!(!unused("( -> ) f function 5 sleep end f drop"), "the function's result is its value");
}
