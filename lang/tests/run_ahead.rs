//! A run ahead (`Host::ahead`): the VM stops before the first word that
//! acts outside the task, leaving the stack and the word as they were, and
//! the word runs when the VM runs again under an ordinary host; and the
//! spawning program pays for what its tasks ran ahead (`Spawned::work`).

mod common;

use common::TestHost;
use rco_lang::{Host, Outcome, Spawned, Stream, Vm};
use std::sync::Arc;

/// A host running a task ahead: it records every call that would act
/// outside the task, so a test can tell that none was made.
#[derive(Default)]
struct AheadHost {
    acted: Vec<&'static str>,
}

impl Host for AheadHost {
    fn write(&mut self, _stream: Stream, _text: &str) {
        self.acted.push("write");
    }
    fn args(&self) -> Vec<String> {
        Vec::new()
    }
    fn now_ms(&self) -> i64 {
        0
    }
    fn sockets_enabled(&self) -> bool {
        true
    }
    fn ahead(&self) -> bool {
        true
    }
}

fn vm(source: &str) -> Vm {
    Vm::new(Arc::new(rco_lang::compile("ahead.rco", source).expect("compiles")))
}

/// Runs `source` ahead: it stops before its word that acts outside, at
/// once (not at the budget), without acting outside; a second run ahead
/// does nothing.
fn stopped_ahead(source: &str) -> Vm {
    let mut vm = vm(source);
    let mut ahead = AheadHost::default();
    assert!(matches!(vm.run(&mut ahead, 256), Outcome::Yielded), "{source}: stops ahead");
    assert!(vm.spent() < 256, "{source}: stopped at the word, not at the budget ({})", vm.spent());
    assert!(matches!(vm.run(&mut ahead, 256), Outcome::Yielded), "{source}: stops again");
    assert_eq!(vm.spent(), 0, "{source}: a second run ahead does nothing");
    assert!(ahead.acted.is_empty(), "{source}: acted outside ahead: {:?}", ahead.acted);
    vm
}

/// Runs `vm` on under an ordinary host: what it printed, and how it ended.
fn finish(mut vm: Vm) -> (String, Outcome) {
    let mut host = TestHost::default();
    loop {
        match vm.run(&mut host, 4_096) {
            Outcome::Yielded => continue,
            ended => return (host.out, ended),
        }
    }
}

#[test]
fn a_run_ahead_stops_before_output_and_the_word_runs_later() {
    // The operands computed ahead stay in place for the word.
    let (out, ended) = finish(stopped_ahead("1 2 + \"x\" println println"));
    assert_eq!(out, "x\n3\n");
    assert!(matches!(ended, Outcome::Finished(_)));
}

#[test]
fn a_run_ahead_stops_before_each_kind_of_outside_word() {
    // Time, arguments, randomness, tasks, sockets, exit.
    assert_eq!(finish(stopped_ahead("5 now drop println")).0, "5\n");
    assert_eq!(finish(stopped_ahead("args count println")).0, "2\n");
    stopped_ahead("10 random drop");
    stopped_ahead("[ 1 ] spawn drop");
    stopped_ahead("tasks count println");
    stopped_ahead("\"127.0.0.1\" 1 map tcp_connect drop");
    assert!(matches!(finish(stopped_ahead("4 exit")).1, Outcome::Exited(4)));
}

#[test]
fn a_run_ahead_stops_inside_blocks_and_functions() {
    // Deep in a function called from a block run by an iteration: the stop
    // keeps the frames, and the run goes on from the word.
    let source = "( n -> ) show function n var $n println end\n[ 10 * show ] 1 3 range each drop";
    assert_eq!(finish(stopped_ahead(source)).0, "10\n20\n");
}

#[test]
fn pure_work_runs_ahead_to_its_end() {
    let mut vm = vm("0 i var\n$i 20 < while $i 1 + i set end\n$i 2 *");
    let mut ahead = AheadHost::default();
    match vm.run(&mut ahead, 4_096) {
        Outcome::Finished(stack) => assert_eq!(format!("{stack:?}"), "[Int(40)]"),
        other => panic!("{other:?}"),
    }
    assert!(ahead.acted.is_empty());
}

/// A host that ran each task it spawns ahead for `work` reductions.
struct WorkHost {
    work: u64,
    spawned: u64,
}

impl Host for WorkHost {
    fn write(&mut self, _stream: Stream, _text: &str) {}
    fn args(&self) -> Vec<String> {
        Vec::new()
    }
    fn now_ms(&self) -> i64 {
        0
    }
    fn spawn(&mut self, _task: Vm) -> Result<Spawned, String> {
        self.spawned += 1;
        Ok(Spawned { id: self.spawned - 1, work: self.work })
    }
}

#[test]
fn the_spawner_pays_for_what_its_tasks_ran_ahead() {
    // 100 spawns in a loop: with nothing run ahead they fit in one slice;
    // with 256 reductions each (the runtime's bound), the slice ends after
    // about 16 of them.
    let source = "0 i var\n$i 100 < while [ 1 ] spawn drop $i 1 + i set end";
    let slices = |work| {
        let mut vm = vm(source);
        let mut host = WorkHost { work, spawned: 0 };
        let mut n = 1;
        while matches!(vm.run(&mut host, 4_096), Outcome::Yielded) {
            n += 1;
        }
        assert_eq!(host.spawned, 100);
        n
    };
    assert_eq!(slices(0), 1);
    assert!(slices(256) >= 6, "{}", slices(256));
}
