//! Running a program: the main program and every task are actors on the
//! work-stealing scheduler; `sleep` timers live in the reactor, which the
//! scheduler's idle worker polls (`PollReactor`, the scheduler's idle hook)
//! unless `RCO_REACTOR=thread` gives it a thread of its own; stdin is read
//! by a thread of its own (`stdin.rs`).
//!
//! Invariants:
//! * An answer ready when an effect starts is given to the VM inside its
//!   run (`TaskHost::perform`; a finished task's result even before the
//!   effect, `TaskHost::take_results`, under one lock of the task table for
//!   a run of them); otherwise the actor parks only after
//!   registering for the answer (a task-table waiter, a reactor timer or
//!   reply, a stdin request), and that answer arrives as a message in its
//!   mailbox, whose wake runs the actor again even if it came during the
//!   run, so no wake-up is lost.
//!   Nothing blocks a worker on behalf of a script.
//! * One run of an actor spends at most `SLICE` reductions, the effects it
//!   performs on the way included, and the tasks it runs ahead in its
//!   spawns (the fairness rule, with the scheduler's FIFO queues); the word
//!   that overdraws the budget ends the run, a spawn by at most `AHEAD`.
//! * A new task runs ahead inside its `spawn` (`TaskActor::run_ahead`): at
//!   most `AHEAD` reductions, charged to the spawning program's slice,
//!   stopping before the first word that acts outside the task (`Host::
//!   ahead`). A task that finishes there never becomes an actor; any other
//!   is started where it stopped. So a trivial task costs no actor, no
//!   queue and no second run; its output, its spawns, its waits and its
//!   task queries all happen in its own runs, after the spawn returned, so
//!   the spawner can only see that it may already have ended (as it may
//!   have on another worker).
//! * A run starts by asking the memory system for the VM's innermost
//!   variables and frame, unless a run before it did (`Actor::warm`), then
//!   for the blocks those variables hold and, as it takes a socket read's
//!   reply, for the data read; and before a run, its worker asks for the
//!   header and VM of the task to run after the next (`Actor::upcoming`)
//!   (`rco_reactor::prefetch`: a hint that reads nothing into the program
//!   and cannot fault), so a woken task's cold state arrives while other
//!   work is done; nothing depends on it.
//! * A panic in a run ends that task as failed (`host operation failed in
//!   spawn: task worker thread panicked`, re-raised by `await`), or ends the
//!   program with an internal error if it was the main program; the worker
//!   goes on.
//! * When the main program ends, the output gate closes and every task is
//!   stopped before the notes of DIALECT points 3, 6 and 13 are written (so
//!   no task writes after them, and the sockets are counted once nothing
//!   can open or release one); then the process exits. Nothing the tasks
//!   do (a blocked read, a write stuck on a full pipe) can delay the exit
//!   beyond `EXIT_GRACE`.
//! * A run allowed sockets starts with its descriptor table sized for
//!   `--max-sockets` (`reserve_descriptors`, before any thread: holding no
//!   descriptor), so no `accept` waits for the table to grow under threads.

use crate::capabilities::{Capabilities, SocketCounts, TaskCounts};
use crate::output::Output;
use crate::send::SendVm;
use crate::stdin::{Line, Stdin};
use crate::task_table::{AwaitState, Ended, Ending, TaskTable};
use rco_actors::{Actor, ActorRef, Completion, Context, IdleHook, Poll, Scheduler};
use rco_lang::{
    Effect, ErrorKind, Host, Outcome, Performed, Program, Resume, Spawned, Stream, TaskState, Value, Vm, VmError,
};
use rco_reactor::{Reactor, ReactorHandle};
use std::any::Any;
use std::fmt::Write as _;
use std::io::Write;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How to run a program.
pub struct Config {
    pub args: Vec<String>,
    pub capabilities: Capabilities,
    pub max_tasks: usize,
    pub max_sockets: usize,
}

/// Reductions one run of an actor may spend before it yields to others (the
/// reduction budget: it bounds how long one task can keep a worker from the
/// rest; an instruction is one reduction, see `Vm::run`).
const SLICE: u64 = 4_096;
/// How many reductions a worker runs while other tasks wait in its queue
/// before it wakes an idle peer to take half of them (`rco_actors::Config::
/// wake_peer_after`): two slices. Waking a parked peer and moving a task to
/// it costs tens of µs, about what two slices take; a backlog of tiny tasks
/// (a spawning loop's, most socket wake-ups') is cheaper to run where it
/// is. RCO_WAKE_PEER_AFTER overrides it, for benchmarks and diagnosis.
const WAKE_PEER_AFTER: u64 = 2 * SLICE;
/// Reductions a new task may run ahead inside its `spawn` (see the module
/// doc): enough for a task that computes a little and hands back a value,
/// small against the spawning program's slice.
const AHEAD: u64 = 256;
/// How long the end of the program waits for runs and writes in progress
/// before it writes its notes and exits anyway.
const EXIT_GRACE: Duration = Duration::from_millis(250);

/// Descriptors reserved beyond `--max-sockets` (`reserve_descriptors`): the
/// standard streams, the poller's, a listener or two.
const DESCRIPTOR_HEADROOM: u64 = 64;

/// How the main program ended, rendered on the worker that ran it.
enum MainEnd {
    /// Leftover values in notation, bottom first.
    Finished(Vec<String>),
    Failed(String),
    Exited(i32),
    /// A panic (a bug in rco), with its message.
    Panicked(String),
}

/// What every actor of a run shares.
struct Runtime {
    program: Arc<Program>,
    config: Config,
    tasks: Mutex<TaskTable>,
    reactor: ReactorHandle,
    output: Output,
    stdin: Arc<Stdin>,
    end: Mutex<Option<MainEnd>>,
    done: Completion,
    /// Set when the main program has ended (see `Running::exit`): a run
    /// still in progress ends at its next effect instead of starting it.
    stopping: AtomicBool,
}

impl Runtime {
    fn tasks(&self) -> MutexGuard<'_, TaskTable> {
        // Task-table operations leave it consistent at every step.
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Answers `await id` for `cx`'s actor now if the task has ended;
    /// otherwise registers it to be told when it does.
    fn await_task(&self, cx: &Cx<'_>, id: u64) -> Option<Resume> {
        let notify = || -> crate::task_table::Waiter {
            let sender: ActorRef<TaskActor> = cx.self_ref();
            Box::new(move || {
                // The waiter may be gone (the program ended): nothing to do.
                let _ = sender.send(Msg::TaskDone(id));
            })
        };
        let mut table = self.tasks();
        Some(match table.await_task(id, notify) {
            AwaitState::Unknown => Resume::Error(VmError::new(ErrorKind::UnknownTask, format!("unknown task: {id}"))),
            AwaitState::Scalar(v) => Resume::Value(v),
            AwaitState::Finished(Ending::Value(v)) => v.to_value().map_or(Resume::TooDeep, Resume::Value),
            AwaitState::Finished(Ending::Failed(error, origin)) => {
                Resume::TaskFailed { task: id, error: error.clone(), origin: origin.clone() }
            }
            AwaitState::Pending => return None,
        })
    }

    /// Starts an effect for `cx`'s actor: its answer now, or `None` when
    /// the answer will come to its mailbox. `unused`: see `Host::perform`.
    fn perform(&self, cx: &Cx<'_>, effect: Effect, unused: bool) -> Option<Resume> {
        match effect {
            Effect::Await(id) => self.await_task(cx, id),
            Effect::Sleep(_) if !self.config.capabilities.sleep => {
                Some(Resume::Error(VmError::host("sleep", "sleep capability is not enabled")))
            }
            Effect::Socket(request) => {
                crate::sockets::perform(&self.reactor, request, unused, ToTask(cx)).map(|r| socket_answer(r, unused))
            }
            Effect::Sleep(ms) => {
                #[cfg(feature = "test-hooks")]
                crate::test_hooks::on_sleep(ms);
                let sender = cx.self_ref();
                self.reactor.after(
                    Duration::from_millis(ms),
                    Box::new(move || {
                        let _ = sender.send(Msg::Slept);
                    }),
                );
                None
            }
            Effect::ReadLine => {
                let sender = cx.self_ref();
                let reply = Box::new(move |line| {
                    let _ = sender.send(Msg::Line(line));
                });
                match self.stdin.read_line(reply) {
                    Ok(Line::Now(line)) => Some(line_value(line)),
                    Ok(Line::Later) => None,
                    Err(e) => Some(Resume::Error(VmError::host("read_line", format!("cannot read stdin: {e}")))),
                }
            }
        }
    }

    /// Records the end of the program (the first end wins) and releases the
    /// main thread.
    fn end(&self, end: MainEnd) {
        let mut slot = self.end.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(end);
        }
        self.done.complete();
    }
}

/// An answer for a parked task actor. At most 24 bytes, its tag a niche of
/// `Line`'s: the mailbox then shares the first cache line of the actor's
/// header with its state (see `rco_actors`' `a_send_touches_one_line`).
enum Msg {
    Slept,
    TaskDone(u64),
    /// Boxed: a reply is large. With the record of its connection, if it
    /// carries one, to ask for a run ahead (`warm_message`).
    Socket(Box<rco_reactor::Reply>, Option<rco_reactor::RecordHint>),
    Line(Option<String>),
}

const _: () = assert!(std::mem::size_of::<Msg>() <= 24);

/// The context a `TaskActor` runs in.
type Cx<'a> = Context<'a, TaskActor>;

/// The reply of a socket request that must wait: a message to the task,
/// made only then (an answer given at once takes no reference to the task).
struct ToTask<'a, 'c>(&'a Cx<'c>);

impl rco_reactor::Replier for ToTask<'_, '_> {
    fn reply_fn(self) -> rco_reactor::ReplyFn {
        let sender = self.0.self_ref();
        Box::new(move |r| {
            let record = r.record();
            let _ = sender.send(Msg::Socket(Box::new(r), record));
        })
    }
}

/// A Ricochet task (or the main program) as an actor.
struct TaskActor {
    vm: SendVm,
    /// The task's id; `MAIN` for the main program (one word, not an
    /// `Option`: a parked task's size is the runtime's unit of memory).
    task: u64,
    rt: &'static Runtime,
    /// Parked on an effect whose answer will arrive in its mailbox.
    waiting: bool,
    /// Its end (or the program's, for the main program) is recorded.
    ended: bool,
}

/// `TaskActor::task` of the main program (no task id comes near it).
const MAIN: u64 = u64::MAX;

/// The error a task that panicked fails with (the reference's text).
fn panicked_error() -> VmError {
    VmError::host("spawn", "task worker thread panicked")
}

/// The message of a panic payload.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(text), _) => (*text).to_string(),
        (_, Some(text)) => text.clone(),
        _ => "a panic without a message".to_string(),
    }
}

/// A socket word's result: its value, unless the script drops it unseen
/// (`Vm::answer_unused`: then the snapshot is never built).
fn socket_answer(reply: rco_reactor::Reply, unused: bool) -> Resume {
    if unused {
        return Resume::Value(Value::Nil);
    }
    Resume::Value(crate::sockets::to_value(reply))
}

impl TaskActor {
    fn new(vm: Vm, task: Option<u64>, rt: &'static Runtime) -> TaskActor {
        TaskActor { vm: SendVm(vm), task: task.unwrap_or(MAIN), rt, waiting: false, ended: false }
    }

    /// The task's id, `None` for the main program.
    fn task(&self) -> Option<u64> {
        (self.task != MAIN).then_some(self.task)
    }

    /// The answer the actor waits for, if it is in the mailbox.
    fn answer(&self, cx: &Cx<'_>) -> Option<Resume> {
        match cx.recv()? {
            Msg::Socket(reply, _) => {
                // The text read, made when its event was handled: the
                // kernel's work for the tasks run since has evicted it.
                if let Some(text) = reply.text() {
                    rco_reactor::prefetch_counted(text.as_ptr(), 0);
                }
                Some(socket_answer(*reply, self.vm.0.answer_unused()))
            }
            Msg::Slept => Some(Resume::Done),
            Msg::TaskDone(id) => self.rt.await_task(cx, id),
            Msg::Line(line) => Some(line_value(line)),
        }
    }

    /// Ends this actor with `outcome` (finished, failed or exited).
    fn finish(&mut self, outcome: Outcome) -> Poll {
        let program = &self.rt.program;
        match (self.task(), outcome) {
            (_, Outcome::Exited(code)) => self.rt.end(MainEnd::Exited(code)),
            (None, Outcome::Finished(stack)) => {
                let values = stack.iter().map(|v| rco_lang::render::notation_in_message(v, program)).collect();
                self.rt.end(MainEnd::Finished(values));
            }
            (None, Outcome::Failed(f)) => self.rt.end(MainEnd::Failed(f.render(program))),
            (Some(id), Outcome::Finished(stack)) => {
                // Copied (and boxed unless a scalar) before the table is
                // locked: the other workers spawn and await through it.
                let ended = Ended::result(stack.last().unwrap_or(&Value::Nil));
                let waiters = self.rt.tasks().finish(id, ended);
                waiters.into_iter().for_each(|wake| wake());
            }
            (Some(id), Outcome::Failed(f)) => {
                let (line, col) = program.line_col(f.span.start);
                let origin = format!("task#{id} at {}:{line}:{col}", program.file);
                let waiters = self.rt.tasks().finish(id, Ended::Boxed(Box::new(Ending::Failed(f.error, origin))));
                waiters.into_iter().for_each(|wake| wake());
            }
            (_, Outcome::Yielded | Outcome::Blocked(_) | Outcome::Waiting) => return Poll::Yield,
        }
        if self.task == MAIN {
            // The process exits now (`run`): freeing the program's data
            // would only delay it (20 ms for the collections benchmark's).
            self.vm.0.forget_values();
        }
        self.ended = true;
        Poll::Done
    }

    /// Ends this actor after a panic: the task fails as the reference's
    /// does, the main program ends the run with an internal error.
    fn panicked(&mut self, message: String) -> Poll {
        if self.task().is_none() {
            self.rt.end(MainEnd::Panicked(message));
            self.ended = true;
            return Poll::Done;
        }
        let failure = self.vm.0.fail_here(panicked_error());
        self.finish(Outcome::Failed(failure))
    }

    /// One run: resumes with the answer that woke it, if any, then runs the
    /// VM until the budget is spent, it must park, or it ends.
    fn run_slice(&mut self, cx: &mut Cx<'_>, budget: &mut u64) -> Poll {
        if self.waiting {
            let Some(answer) = self.answer(cx) else { return Poll::Park };
            self.waiting = false;
            if let Err(f) = self.vm.0.resume(answer) {
                return self.finish(Outcome::Failed(f));
            }
        }
        let outcome = {
            let mut host = TaskHost { rt: self.rt, cx, ahead: false };
            self.vm.0.run(&mut host, *budget)
        };
        *budget = budget.saturating_sub(self.vm.0.spent());
        match outcome {
            Outcome::Yielded => Poll::Yield,
            // The host declines an effect only once the program stops.
            Outcome::Blocked(_) => Poll::Done,
            // Answers given at once were received inside the run; this one
            // comes to the mailbox, and its wake runs the actor again (at
            // once if it came during this run: the actor is then NOTIFIED).
            Outcome::Waiting => {
                self.waiting = true;
                self.vm.0.trim();
                Poll::Park
            }
            ended => self.finish(ended),
        }
    }
}

/// `read_line`'s answer: the line, or nil at end of input.
fn line_value(line: Option<String>) -> Resume {
    Resume::Value(line.map_or(Value::Nil, |l| Value::str(&l)))
}

impl TaskActor {
    /// Runs a new task ahead inside its spawn, with `spawner`'s context (see
    /// the module doc); the reductions it spent. Ends the task if it
    /// finished or failed there (`ended`); otherwise its VM stopped at
    /// the budget or before a word that acts outside it, and its actor
    /// goes on from there. Not once the program is stopping.
    fn run_ahead(&mut self, spawner: &Cx<'_>) -> u64 {
        if self.rt.stopping.load(SeqCst) {
            return 0;
        }
        let run = panic::catch_unwind(AssertUnwindSafe(|| {
            #[cfg(feature = "test-hooks")]
            crate::test_hooks::on_run_ahead(self.task);
            let mut host = TaskHost { rt: self.rt, cx: spawner, ahead: true };
            self.vm.0.run(&mut host, AHEAD)
        }));
        match run {
            Ok(Outcome::Yielded) => {}
            Ok(ended @ (Outcome::Finished(_) | Outcome::Failed(_) | Outcome::Exited(_))) => {
                self.finish(ended);
            }
            // No effect starts ahead: every effect comes from a word that
            // acts outside the task, and the run stops before those.
            Ok(Outcome::Blocked(_) | Outcome::Waiting) => {
                let error = VmError::new(ErrorKind::Unsupported, "an effect started in a run ahead");
                let failure = self.vm.0.fail_here(error);
                self.finish(Outcome::Failed(failure));
            }
            Err(payload) => {
                self.panicked(panic_message(payload.as_ref()));
            }
        }
        self.vm.0.spent()
    }
}

impl Actor for TaskActor {
    type Msg = Msg;

    fn run(&mut self, cx: &mut Cx<'_>) -> Poll {
        // Its answer is made meanwhile (a no-op for a task warmed a run
        // before: the lines are there). Its variables have arrived then:
        // the strings and collections they hold are asked for too (a read
        // loop's options map, a copy of its own in each task), read a few
        // instructions into the run.
        self.warm();
        for block in self.vm.0.held_blocks() {
            rco_reactor::prefetch_counted(block, 0);
        }
        let mut budget = SLICE;
        let poll = match panic::catch_unwind(AssertUnwindSafe(|| self.run_slice(cx, &mut budget))) {
            Ok(poll) => poll,
            Err(payload) => self.panicked(panic_message(payload.as_ref())),
        };
        cx.report_work(SLICE - budget);
        poll
    }

    /// Asks for the task's variables and frames, which its run reads first:
    /// a woken task's are cold (a thousand connections' tasks do not fit in
    /// the cache with the kernel's socket work in between). Called a run
    /// before its own, and again as its run starts.
    fn warm(&self) {
        for (start, len) in self.vm.0.hot_buffers() {
            rco_reactor::prefetch(start, len);
        }
    }

    /// Asks for a socket reply's box and its connection's record, which
    /// the run reads next: the reply first, then the record, when the
    /// task drops its last snapshot of the connection and makes its next
    /// request on it (the record was last touched by the event that woke
    /// the task, before the rest of that poll's events evicted it).
    fn warm_message(first: &Msg) {
        if let Msg::Socket(reply, record) = first {
            rco_reactor::prefetch(std::ptr::from_ref(&**reply).cast(), std::mem::size_of::<rco_reactor::Reply>());
            if let Some(record) = record {
                record.prefetch();
            }
        }
    }

    /// Asks for the header, mailbox and VM (its stack, frame and variable
    /// buffers' handles) of the task to run after the next, while the runs
    /// before it go on: its run would otherwise start by waiting for each.
    fn upcoming(next: &ActorRef<TaskActor>) {
        let (start, len) = next.memory();
        rco_reactor::prefetch_counted(start, len);
    }
}

impl Drop for TaskActor {
    /// An actor dropped before its end while the program runs was retired
    /// by the scheduler after a panic outside `run_slice` (in `panicked`
    /// itself): its end is recorded here, so no awaiter and no main thread
    /// waits for it forever.
    fn drop(&mut self) {
        if !self.ended && !self.rt.stopping.load(SeqCst) {
            let _ = self.panicked("the actor was dropped before it ended".to_string());
        }
    }
}

/// The `Host` a task's VM sees while its actor runs, or while it runs
/// ahead inside the `spawn` of the task whose context `cx` is.
struct TaskHost<'a, 'c> {
    rt: &'static Runtime,
    cx: &'a Cx<'c>,
    /// Running ahead: the VM stops before a word that acts outside it.
    ahead: bool,
}

impl Host for TaskHost<'_, '_> {
    fn write(&mut self, stream: Stream, text: &str) {
        #[cfg(feature = "test-hooks")]
        crate::test_hooks::on_print(text);
        self.rt.output.write(stream, text);
    }

    fn args(&self) -> Vec<String> {
        self.rt.config.args.clone()
    }

    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }

    fn runtime_capabilities(&mut self) -> Value {
        let t = self.rt.tasks();
        let counts = TaskCounts { known: t.known(), running: t.running(), max_running: t.max_running() };
        drop(t);
        let (tcp_connections, tcp_listeners) = self.rt.reactor.tcp_counts();
        let (websocket_connections, websocket_listeners) = self.rt.reactor.ws_counts();
        let sockets = SocketCounts { tcp_connections, tcp_listeners, websocket_connections, websocket_listeners };
        self.rt.config.capabilities.map(counts, sockets)
    }

    fn spawn(&mut self, mut task: Vm) -> Result<Spawned, String> {
        let id = self.rt.tasks().spawn()?;
        task.set_task_id(id);
        let mut actor = TaskActor::new(task, Some(id), self.rt);
        let work = actor.run_ahead(self.cx);
        if !actor.ended {
            self.cx.start(actor);
        }
        Ok(Spawned { id, work })
    }

    fn task_state(&mut self, id: u64) -> TaskState {
        self.rt.tasks().state(id)
    }

    fn release_task(&mut self, id: u64) -> Result<bool, String> {
        self.rt.tasks().release(id)
    }

    fn take_results(&mut self, tasks: &[Value], out: &mut Vec<Value>) {
        // Once the program is stopping, `perform` declines the awaits.
        if self.rt.stopping.load(SeqCst) {
            return;
        }
        let mut table = self.rt.tasks();
        for task in tasks {
            let Value::Task(id) = *task else { return };
            let Some(result) = table.take_result(id) else { return };
            out.push(result);
        }
    }

    fn running_tasks(&mut self) -> Vec<u64> {
        self.rt.tasks().running_ids()
    }

    fn sockets_enabled(&self) -> bool {
        self.rt.config.capabilities.sockets
    }

    fn ahead(&self) -> bool {
        self.ahead
    }

    fn perform(&mut self, effect: Effect, unused: bool) -> Performed {
        // Once the program is stopping no effect starts: the run ends at it
        // (see `run_slice`).
        if self.rt.stopping.load(SeqCst) {
            return Performed::Declined(effect);
        }
        match self.rt.perform(self.cx, effect, unused) {
            Some(answer) => Performed::Now(answer),
            None => Performed::Started,
        }
    }
}

/// Runs `program` to its end, writes the closing notes, and exits the
/// process with the program's status.
pub fn run(program: Arc<Program>, config: Config) -> ! {
    match start(program, config) {
        Ok(running) => running.exit(),
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            std::process::exit(1)
        }
    }
}

/// The scheduler's idle hook: the idle worker polls the reactor, so the
/// actors its replies wake run on that worker at once.
struct PollReactor(ReactorHandle);

impl IdleHook for PollReactor {
    fn poll(&self, timeout: Option<Duration>) {
        self.0.poll(timeout);
    }

    fn interrupt(&self) {
        self.0.interrupt();
    }
}

/// Raises the soft open-file limit to the hard limit (DIALECT point 7), so
/// one script can hold thousands of connections.
fn raise_fd_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        // Failing leaves the old limit; sockets beyond it then fail with the
        // OS error, which the socket words report as Results.
        let _ = setrlimit(Resource::Nofile, Rlimit { current: limit.maximum, maximum: limit.maximum });
    }
}

/// Sizes the descriptor table for `sockets` descriptors (at most the
/// open-file limit) while the process has one thread. The kernel doubles
/// the table as descriptors are opened, and in a process with several
/// threads each doubling waits for an RCU grace period (milliseconds) in
/// the system call that needed it: an `accept` then stalled at the 256th,
/// 512th, ... connection, the listen backlog overflowed, and a burst's
/// clients waited a second for SYN retransmits (1,000 connections opened
/// one after the other: 2 s instead of 0.03). One descriptor opened at the
/// size wanted grows the table once, now; it never shrinks.
fn reserve_descriptors(sockets: usize) {
    use rustix::process::{getrlimit, Resource};
    use std::os::fd::AsFd;
    let limit = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    let top = u64::try_from(sockets).unwrap_or(u64::MAX).saturating_add(DESCRIPTOR_HEADROOM).min(limit);
    let Ok(top) = rustix::fd::RawFd::try_from(top) else { return };
    if top <= 0 {
        return;
    }
    // Any open descriptor does to copy (a standard stream may be closed);
    // the copy is closed at once. Failing only leaves the table to grow.
    for stream in [std::io::stdin().as_fd(), std::io::stdout().as_fd(), std::io::stderr().as_fd()] {
        if rustix::io::fcntl_dupfd_cloexec(stream, top - 1).is_ok() {
            return;
        }
    }
}

/// A started program. Its scheduler and reactor are never dropped: the
/// process exits with them running (dropping the scheduler would join
/// workers that tasks may keep busy).
struct Running {
    rt: &'static Runtime,
    scheduler: Scheduler<TaskActor>,
    _reactor: Reactor,
}

fn start(program: Arc<Program>, config: Config) -> std::io::Result<Running> {
    raise_fd_limit();
    if config.capabilities.sockets {
        reserve_descriptors(config.max_sockets);
    }
    let policy = rco_reactor::Policy::new(config.capabilities.allowed_hosts.clone());
    // By default the idle worker polls the reactor (see ARCHITECTURE.md);
    // RCO_REACTOR=thread gives it a thread of its own instead, and
    // RCO_WORKERS overrides the worker count (one per core by default), for
    // benchmarks and diagnosis.
    let (reactor, idle_hook) = if std::env::var("RCO_REACTOR").is_ok_and(|mode| mode == "thread") {
        (Reactor::start(policy, config.max_sockets)?, None)
    } else {
        let reactor = Reactor::without_thread(policy, config.max_sockets)?;
        let hook: Arc<dyn IdleHook> = Arc::new(PollReactor(reactor.handle()));
        (reactor, Some(hook))
    };
    let workers = std::env::var("RCO_WORKERS").ok().and_then(|w| w.parse().ok()).unwrap_or(0);
    let wake_peer_after =
        std::env::var("RCO_WAKE_PEER_AFTER").ok().and_then(|w| w.parse().ok()).unwrap_or(WAKE_PEER_AFTER);
    let scheduler = Scheduler::new(rco_actors::Config { workers, idle_hook, wake_peer_after })?;
    // The runtime and the program live until the process exits (`run`
    // never returns): lent to every actor and VM, they cost a spawn no
    // reference count shared with the other workers.
    let rt: &'static Runtime = Box::leak(Box::new(Runtime {
        tasks: Mutex::new(TaskTable::new(config.max_tasks)),
        program: program.clone(),
        config,
        reactor: reactor.handle(),
        output: Output::default(),
        stdin: Arc::default(),
        end: Mutex::new(None),
        done: Completion::new(),
        stopping: AtomicBool::new(false),
    }));
    let lent: &'static Program = Box::leak(Box::new(program));
    // Its string constants too: made static (`ArcStr::leak`), pushing one
    // or dropping it no longer writes a reference count that every worker
    // shares (two atomic operations per string literal run).
    for constant in &lent.strings {
        constant.leak();
    }
    scheduler.spawn(TaskActor::new(Vm::new(lent), None, rt));
    Ok(Running { rt, scheduler, _reactor: reactor })
}

impl Running {
    /// Waits for the main program to end, stops the tasks, writes the
    /// closing notes and exits with the program's status.
    fn exit(self) -> ! {
        let rt = self.rt;
        rt.done.wait();
        let deadline = Instant::now() + EXIT_GRACE;
        // Stops every task: no run starts after this; waits until `deadline`
        // at most for the runs in progress (one run is bounded by its
        // budget, but a word can take long, and a run may be stuck in a
        // write). A run that blocks on an effect from now on ends instead.
        rt.stopping.store(true, SeqCst);
        self.scheduler.stop_runs(deadline);
        let free = rt.output.close(deadline);
        // The streams that no stuck write holds are held from here until the
        // process exits (`process::exit` runs no destructor).
        let _stdout = free.stdout.then(|| {
            let mut out = std::io::stdout().lock();
            let _ = out.flush();
            out
        });
        let end = rt.end.lock().unwrap_or_else(PoisonError::into_inner).take();
        let mut notes = String::new();
        let code = match end {
            Some(MainEnd::Finished(values)) => {
                if !values.is_empty() {
                    let noun = if values.len() == 1 { "value" } else { "values" };
                    let _ = writeln!(notes, "note: {} {noun} left on the stack: {}", values.len(), values.join(" "));
                }
                0
            }
            Some(MainEnd::Failed(text)) => {
                notes.push_str(&text);
                1
            }
            Some(MainEnd::Exited(code)) => code,
            Some(MainEnd::Panicked(message)) => {
                let _ = writeln!(notes, "error: internal error: {message} (a bug in rco; please report it)");
                1
            }
            None => 1,
        };
        let retained = rt.reactor.close_all();
        leak_note(&mut notes, "TCP listener", &retained.tcp_listeners);
        leak_note(&mut notes, "TCP connection", &retained.tcp_connections);
        leak_note(&mut notes, "WebSocket listener", &retained.ws_listeners);
        leak_note(&mut notes, "WebSocket connection", &retained.ws_connections);
        match rt.tasks().running() {
            0 => {}
            1 => notes.push_str("note: 1 task was still running and was stopped\n"),
            n => {
                let _ = writeln!(notes, "note: {n} tasks were still running and were stopped");
            }
        }
        let _stderr = free.stderr.then(|| {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(notes.as_bytes());
            let _ = err.flush();
            err
        });
        std::process::exit(code)
    }
}

/// `note: 2 TCP listeners were never released (ids 0, 1)` (DIALECT 13).
fn leak_note(out: &mut String, what: &str, ids: &[u64]) {
    let list = ids.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
    let _ = match ids.len() {
        0 => Ok(()),
        1 => writeln!(out, "note: 1 {what} was never released (id {list})"),
        n => writeln!(out, "note: {n} {what}s were never released (ids {list})"),
    };
}
