//! Helpers shared by the fuzz targets: the diagnostic oracle, a test `Host`
//! for the VM, a driver that runs a program within a total instruction
//! budget (`drive`, or `drive_within` for a budget of its own), and for the
//! socket targets: their reactor, waiting for its reply, the open-fd count
//! and the CPU time.

use rco_lang::diagnostic::{render_all, CompileError};
use rco_lang::{Host, Outcome, Resume, Stream, Value, Vm, VmError};
use std::sync::Arc;

/// The source text of a fuzz input: arbitrary bytes, decoded lossily (each
/// invalid sequence becomes U+FFFD), so every input reaches the lexer and
/// multi-byte characters are exercised.
pub fn source(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// Oracle for compile errors: every span lies within the source
/// (`start <= end <= len`) and rendering them all does not panic.
pub fn check_errors(source: &str, errors: &[CompileError]) {
    for e in errors {
        assert!(
            e.span.start <= e.span.end && e.span.end as usize <= source.len(),
            "diagnostic span {:?} out of bounds (source length {}): {}",
            e.span,
            source.len(),
            e.message
        );
        assert!(!e.message.is_empty(), "empty diagnostic message at {:?}", e.span);
    }
    let _ = render_all("fuzz.rco", source, errors);
}

/// A `Host` for fuzzing: no tasks, sockets disabled, output discarded
/// (only its size is kept, capped so output cannot grow memory).
#[derive(Default)]
pub struct FuzzHost {
    pub written: usize,
}

impl Host for FuzzHost {
    fn write(&mut self, _stream: Stream, text: &str) {
        self.written = self.written.saturating_add(text.len());
    }
    fn args(&self) -> Vec<String> {
        vec!["a".into(), "1".into()]
    }
    fn now_ms(&self) -> i64 {
        0
    }
}

/// How a driven program ended.
#[derive(Debug)]
pub enum End {
    Finished(usize),
    Failed(String),
    Exited(i32),
    /// The total budget ran out (an infinite loop is fine: it is bounded).
    OutOfBudget,
}

/// Total instructions one fuzz input may run.
pub const TOTAL_BUDGET: u64 = 200_000;
/// Instructions per `Vm::run` slice (the runtime uses 4096).
pub const SLICE: u64 = 4096;

/// Compiles and runs `source` to its end or until `TOTAL_BUDGET`
/// instructions have run. Effects: `sleep` is answered at once, `await` and
/// socket requests with an error (no task or socket can exist here).
/// `Failure::render` is called on every failure (oracle: no panic).
pub fn drive(source: &str) -> Option<End> {
    drive_within(source, TOTAL_BUDGET)
}

/// `drive` with a total budget of `budget` instructions.
pub fn drive_within(source: &str, budget: u64) -> Option<End> {
    let program = match rco_lang::compile("fuzz.rco", source) {
        Ok(p) => Arc::new(p),
        Err(errors) => {
            check_errors(source, &errors);
            return None;
        }
    };
    let mut vm = Vm::new(program.clone());
    let mut host = FuzzHost::default();
    let mut used = 0u64;
    let mut effects = 0u32;
    loop {
        if used >= budget {
            return Some(End::OutOfBudget);
        }
        let slice = SLICE.min(budget - used);
        let outcome = vm.run(&mut host, slice);
        used += slice;
        match outcome {
            Outcome::Finished(stack) => return Some(End::Finished(stack.len())),
            Outcome::Exited(code) => return Some(End::Exited(code)),
            Outcome::Failed(f) => {
                let text = f.render(&program);
                assert!(text.starts_with("error: "), "failure rendered without its header: {text:?}");
                return Some(End::Failed(text));
            }
            Outcome::Yielded => {}
            Outcome::Waiting => unreachable!("the fuzz host starts no effect"),
            Outcome::Blocked(effect) => {
                effects += 1;
                // Each effect costs budget too, so a loop of sleeps ends.
                used += 64;
                let answer = match effect {
                    rco_lang::Effect::Sleep(_) => Resume::Done,
                    rco_lang::Effect::ReadLine => Resume::Value(Value::Nil),
                    rco_lang::Effect::Await(id) => Resume::Error(VmError::new(
                        rco_lang::ErrorKind::UnknownTask,
                        format!("no task {id} in the fuzz host"),
                    )),
                    rco_lang::Effect::Socket(_) => {
                        Resume::Error(VmError::new(rco_lang::ErrorKind::Host, "sockets are disabled in the fuzz host"))
                    }
                };
                if let Err(f) = vm.resume(answer) {
                    let _ = f.render(&program);
                    return Some(End::Failed(f.error.message.clone()));
                }
                let _ = effects;
            }
        }
    }
}

/// Open file descriptors of this process (Linux: `/proc/self/fd`).
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

/// CPU time (user + system) this process has used, from /proc/self/stat
/// (clock ticks of 10 ms); zero if it cannot be read.
pub fn cpu_time() -> std::time::Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rfind(')').map_or("", |i| &stat[i + 1..]);
    // utime and stime: the 14th and 15th fields, the 12th and 13th after the name.
    let ticks: u64 = after_name.split_whitespace().skip(11).take(2).filter_map(|f| f.parse::<u64>().ok()).sum();
    std::time::Duration::from_millis(ticks * 10)
}

/// A reactor for a socket target, set up by two bits of the input:
/// `polled` as in production (`Reactor::start_polled`, two stand-in
/// workers) instead of by a thread of its own, `allow_list` admitting only
/// 127.0.0.1 (every host the targets use) instead of no list.
pub fn reactor(polled: bool, allow_list: bool, max_sockets: usize) -> rco_reactor::Reactor {
    use rco_reactor::{policy::Policy, Reactor};
    let policy = Policy::new(allow_list.then(|| vec!["127.0.0.1".to_string()]));
    let reactor =
        if polled { Reactor::start_polled(policy, max_sockets, 2) } else { Reactor::start(policy, max_sockets) };
    reactor.expect("reactor start")
}

/// Calls a reactor request that answers now (`Some`) or later (`None`), and
/// waits for its one reply for at most `wait`; panics (a failed oracle) if
/// none comes.
pub fn call(
    what: &str,
    wait: std::time::Duration,
    f: impl FnOnce(rco_reactor::ReplyFn) -> Option<(rco_reactor::ReplyFn, rco_reactor::Reply)>,
) -> rco_reactor::Reply {
    let (tx, rx) = std::sync::mpsc::channel();
    let started = std::time::Instant::now();
    let reply: rco_reactor::ReplyFn = Box::new(move |r| {
        let _ = tx.send(r);
    });
    if let Some((reply, now)) = f(reply) {
        reply(now);
    }
    match rx.recv_timeout(wait) {
        Ok(r) => r,
        Err(e) => panic!("{what}: no reply after {:?} ({e:?})", started.elapsed()),
    }
}

/// Asserts that the process has no more open descriptors than `before`,
/// allowing 2 s for a reply still being delivered on another thread to let
/// go of the `Net`, and so of the poller.
pub fn assert_no_fd_leak(before: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let mut after = open_fds();
    while after > before && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
        after = open_fds();
    }
    assert!(after <= before, "fd leak: {before} open fds before the input, {after} after");
}

/// Runs one input of a target whose peer talks to a reactor: afterwards the
/// process has no more open descriptors than before, and an input that took
/// half a second or more used less CPU than half its wall time (waiting for
/// a silent peer costs nothing: a reactor that spins while it waits fails
/// this).
pub fn peer_input(run: impl FnOnce()) {
    let before = open_fds();
    let (started, cpu_before) = (std::time::Instant::now(), cpu_time());
    run();
    let (wall, cpu) = (started.elapsed(), cpu_time().saturating_sub(cpu_before));
    assert!(
        wall < std::time::Duration::from_millis(500) || cpu < wall / 2,
        "the reactor spun: {cpu:?} of CPU over {wall:?} of waiting"
    );
    assert_no_fd_leak(before);
}
