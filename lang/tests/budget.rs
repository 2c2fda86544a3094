//! The reduction budget: words whose work grows with their operands charge
//! it, so a loop of them yields as often as a loop of plain instructions,
//! and a run that stops on an effect reports what it spent.

mod common;

use common::TestHost;
use rco_lang::{Outcome, Resume, Vm};
use std::sync::Arc;

/// Runs `source` to its end in slices of `budget`; how many slices it took.
fn slices(source: &str, budget: u64) -> usize {
    let program = Arc::new(rco_lang::compile("budget.rco", source).expect("compiles"));
    let mut vm = Vm::new(program);
    let mut host = TestHost::default();
    for n in 1..1_000_000 {
        match vm.run(&mut host, budget) {
            Outcome::Yielded => {}
            Outcome::Blocked(_) => vm.resume(Resume::Done).expect("resumes"),
            Outcome::Finished(_) => return n,
            other => panic!("{source}: {other:?}"),
        }
    }
    panic!("{source}: never finished")
}

#[test]
fn big_words_are_charged_their_work() {
    // 20 iterations of a handful of instructions: one slice if only
    // instructions counted; each `range` of 10,000 charges 10,000.
    let loop_of = |word: &str| format!("0 i var\n$i 20 < while {word} $i 1 + i set end");
    assert_eq!(slices(&loop_of("0 2 range drop"), 4_096), 1);
    assert!(slices(&loop_of("0 10000 range drop"), 4_096) >= 20);
    assert!(slices(&loop_of("\"ab\" 100000 repeat drop"), 4_096) >= 20);
    let setup = "\"x\" 100000 repeat big var ";
    assert!(slices(&format!("{setup}{}", loop_of("$big \"y\" concat drop")), 4_096) >= 20);
    assert!(slices(&format!("{setup}{}", loop_of("$big \"x\" \"y\" replace drop")), 4_096) >= 20);
    assert!(slices(&format!("{setup}{}", loop_of("$big \"\" split drop")), 4_096) >= 20);
}

#[test]
fn a_run_stopped_by_an_effect_reports_what_it_spent() {
    let program = Arc::new(rco_lang::compile("spent.rco", "1 2 + drop 5 sleep 0 10000 range drop").expect("compiles"));
    let mut vm = Vm::new(program);
    let mut host = TestHost::default();
    assert!(matches!(vm.run(&mut host, 4_096), Outcome::Blocked(_)));
    assert!(vm.spent() < 16, "spent {}", vm.spent());
    vm.resume(Resume::Done).expect("resumes");
    assert!(matches!(vm.run(&mut host, 4_096), Outcome::Yielded), "the range overdraws the budget");
    assert_eq!(vm.spent(), 4_096);
}

#[test]
fn loops_and_calls_pay_for_the_instructions_they_run() {
    // No word charges anything here: the rounds of a loop pay for their
    // bodies, calls for the code they enter.
    assert!(slices("0 i var\n$i 100000 < while $i 1 + i set end", 4_096) >= 20);
    let recursion =
        "( n -> ) down function n var $n 0 > if $n 1 - down end end\n0 j var\n$j 300 < while 300 down $j 1 + j set end";
    assert!(slices(recursion, 4_096) >= 20);
    let blocks = "0 k var\n$k 3000 < while [ 1 2 + drop 3 4 + drop ] call $k 1 + k set end";
    assert!(slices(blocks, 4_096) >= 5);
    // An iteration's block pays for its instructions on every item, also
    // when it runs again in place (EndBlock): 20,000 items of a block of 5
    // instructions cost 100,000 reductions, about 24 slices, against 5 for
    // a block of 1 (the range and the snapshot take a slice each).
    let each = |block: &str| format!("0 20000 range xs var\n[ {block} ] $xs each drop");
    let (one, five) = (slices(&each(""), 4_096), slices(&each("1 2 + drop"), 4_096));
    assert!(five >= one + 18, "{one} {five}");
    // Straight-line code runs to its end in one slice.
    assert_eq!(slices("1 2 + 3 + 4 + drop", 1), 1);
}
