//! Running a program: the main program and every task are actors on the
//! work-stealing scheduler; `sleep` timers live in the reactor, which the
//! scheduler's idle worker polls (`PollReactor`, the scheduler's idle hook)
//! unless `RCO_REACTOR=thread` gives it a thread of its own.
//!
//! Invariants:
//! * A task actor parks only after registering for the answer it waits for
//!   (a task-table waiter or a reactor timer), and every answer arrives as a
//!   message in its mailbox, so no wake-up is lost.
//! * Output is written as the program prints it; one `print` is one
//!   `write_all` under the stdout lock, so tasks never interleave within a
//!   print (DIALECT point 2).
//! * When the main program ends, stdout is flushed, the notes of DIALECT
//!   points 3 and 6 go to stderr, and the process exits: tasks still running
//!   are stopped.

use crate::capabilities::{Capabilities, SocketCounts, TaskCounts};
use crate::send::{SendValue, SendVm};
use crate::task_table::{AwaitState, Ending, TaskTable};
use rco_actors::{Actor, Completion, Context, IdleHook, Mailbox, MailboxSender, Poll, Scheduler};
use rco_lang::{Effect, ErrorKind, Host, Outcome, Program, Resume, Stream, TaskState, Value, Vm, VmError};
use rco_reactor::{Reactor, ReactorHandle};
use std::io::{BufRead, Write};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// How to run a program.
pub struct Config {
    pub args: Vec<String>,
    pub capabilities: Capabilities,
    pub max_tasks: usize,
    pub max_sockets: usize,
}

/// Instructions a VM runs before its actor yields to others (the reduction
/// budget: it bounds how long one task can keep a worker from the rest).
const SLICE: u64 = 4_096;
/// Effects answered at once (an `await` of a finished task) that one run of
/// an actor may chain before it yields.
const CHAINED_EFFECTS: usize = 64;

/// How the main program ended, rendered on the worker that ran it.
enum MainEnd {
    /// Leftover values in notation, bottom first.
    Finished(Vec<String>),
    Failed(String),
    Exited(i32),
}

/// What every actor of a run shares.
struct Runtime {
    program: Arc<Program>,
    config: Config,
    tasks: Mutex<TaskTable>,
    reactor: ReactorHandle,
    end: Mutex<Option<MainEnd>>,
    done: Completion,
}

impl Runtime {
    fn tasks(&self) -> MutexGuard<'_, TaskTable> {
        // Task-table operations leave it consistent at every step.
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
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

/// An answer for a parked task actor.
enum Msg {
    Slept,
    TaskDone(u64),
    Socket(rco_reactor::Reply),
}

/// A Ricochet task (or the main program) as an actor.
struct TaskActor {
    vm: SendVm,
    /// `None` for the main program.
    task: Option<u64>,
    inbox: Mailbox<Msg>,
    rt: Arc<Runtime>,
    /// Parked on an effect whose answer will arrive in `inbox`.
    waiting: bool,
}

impl TaskActor {
    fn new(vm: Vm, task: Option<u64>, inbox: Mailbox<Msg>, rt: Arc<Runtime>) -> TaskActor {
        TaskActor { vm: SendVm(vm), task, inbox, rt, waiting: false }
    }

    /// Answers `await id` now if the task has ended; otherwise registers to
    /// be told when it does.
    fn await_task(&self, id: u64) -> Option<Resume> {
        let sender: MailboxSender<Msg> = self.inbox.sender();
        let notify = Box::new(move || {
            // The waiter may be gone (the program ended): nothing to do.
            let _ = sender.send(Msg::TaskDone(id));
        });
        let mut table = self.rt.tasks();
        Some(match table.await_task(id, notify) {
            AwaitState::Unknown => Resume::Error(VmError::new(ErrorKind::UnknownTask, format!("unknown task: {id}"))),
            AwaitState::Finished(Ending::Value(v)) => v.to_value().map_or_else(Resume::Error, Resume::Value),
            AwaitState::Finished(Ending::Failed(error, origin)) => {
                Resume::TaskFailed { task: id, error: error.clone(), origin: origin.clone() }
            }
            AwaitState::Pending => return None,
        })
    }

    /// Starts an effect: its answer now, or `None` when the actor must park.
    fn perform(&self, effect: Effect) -> Option<Resume> {
        match effect {
            Effect::Await(id) => self.await_task(id),
            Effect::Sleep(_) if !self.rt.config.capabilities.sleep => {
                Some(Resume::Error(VmError::host("sleep", "sleep capability is not enabled")))
            }
            Effect::Socket(request) => {
                let sender = self.inbox.sender();
                let reply = Box::new(move |r| {
                    let _ = sender.send(Msg::Socket(r));
                });
                crate::sockets::perform(&self.rt.reactor, request, reply)
                    .map(|r| Resume::Value(crate::sockets::to_value(r)))
            }
            Effect::Sleep(ms) => {
                let sender = self.inbox.sender();
                self.rt.reactor.after(
                    Duration::from_millis(ms),
                    Box::new(move || {
                        let _ = sender.send(Msg::Slept);
                    }),
                );
                None
            }
        }
    }

    /// The answer of an effect that completed while it was being started
    /// (a socket reply delivered before `perform` returned): taking it now
    /// saves a park and a wake.
    fn answered_already(&self) -> Option<Resume> {
        match self.inbox.try_recv()? {
            Msg::Socket(reply) => Some(Resume::Value(crate::sockets::to_value(reply))),
            Msg::Slept => Some(Resume::Done),
            Msg::TaskDone(id) => self.await_task(id),
        }
    }

    /// Ends this actor with `outcome` (finished, failed or exited).
    fn finish(&mut self, outcome: Outcome) -> Poll {
        let program = &self.rt.program;
        match (self.task, outcome) {
            (_, Outcome::Exited(code)) => self.rt.end(MainEnd::Exited(code)),
            (None, Outcome::Finished(stack)) => {
                let values = stack.iter().map(|v| rco_lang::render::notation_in_message(v, program)).collect();
                self.rt.end(MainEnd::Finished(values));
            }
            (None, Outcome::Failed(f)) => self.rt.end(MainEnd::Failed(f.render(program))),
            (Some(id), Outcome::Finished(stack)) => {
                let result = stack.last().cloned().unwrap_or(Value::Nil);
                let waiters = self.rt.tasks().finish(id, Ending::Value(SendValue::copy_of(&result)));
                waiters.into_iter().for_each(|wake| wake());
            }
            (Some(id), Outcome::Failed(f)) => {
                let (line, col) = program.line_col(f.span.start);
                let origin = format!("task#{id} at {}:{line}:{col}", program.file);
                let waiters = self.rt.tasks().finish(id, Ending::Failed(f.error, origin));
                waiters.into_iter().for_each(|wake| wake());
            }
            (_, Outcome::Yielded | Outcome::Blocked(_)) => return Poll::Yield,
        }
        Poll::Done
    }
}

impl Actor for TaskActor {
    fn run(&mut self, cx: &mut Context<'_>) -> Poll {
        if self.waiting {
            if self.inbox.is_empty() {
                return Poll::Park;
            }
            let Some(answer) = self.answered_already() else { return Poll::Park };
            self.waiting = false;
            if let Err(f) = self.vm.0.resume(answer) {
                return self.finish(Outcome::Failed(f));
            }
        }
        for _ in 0..CHAINED_EFFECTS {
            let outcome = {
                let mut host = TaskHost { rt: &self.rt, cx };
                self.vm.0.run(&mut host, SLICE)
            };
            match outcome {
                Outcome::Yielded => return Poll::Yield,
                Outcome::Blocked(effect) => match self.perform(effect).or_else(|| self.answered_already()) {
                    None => {
                        self.waiting = true;
                        return Poll::Park;
                    }
                    Some(answer) => {
                        if let Err(f) = self.vm.0.resume(answer) {
                            return self.finish(Outcome::Failed(f));
                        }
                    }
                },
                ended => return self.finish(ended),
            }
        }
        Poll::Yield
    }
}

/// The `Host` a task's VM sees while its actor runs.
struct TaskHost<'a, 'c> {
    rt: &'a Arc<Runtime>,
    cx: &'a Context<'c>,
}

impl Host for TaskHost<'_, '_> {
    fn write(&mut self, stream: Stream, text: &str) {
        // A closed stdout or stderr (a closed pipe) is not the script's error.
        let _ = match stream {
            Stream::Stdout => std::io::stdout().lock().write_all(text.as_bytes()),
            Stream::Stderr => std::io::stderr().lock().write_all(text.as_bytes()),
        };
    }

    fn read_line(&mut self) -> Option<String> {
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line),
        }
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

    fn spawn(&mut self, mut task: Vm) -> Result<u64, String> {
        let id = self.rt.tasks().spawn()?;
        task.set_task_id(id);
        let rt = self.rt.clone();
        let task = SendVm(task);
        self.cx.spawn_with(move |me| Box::new(TaskActor::new(task.0, Some(id), Mailbox::new(me.clone()), rt)));
        Ok(id)
    }

    fn task_state(&mut self, id: u64) -> TaskState {
        self.rt.tasks().state(id)
    }

    fn release_task(&mut self, id: u64) -> Result<bool, String> {
        self.rt.tasks().release(id)
    }

    fn running_tasks(&mut self) -> Vec<u64> {
        self.rt.tasks().running_ids()
    }

    fn sockets_enabled(&self) -> bool {
        self.rt.config.capabilities.sockets
    }
}

/// Runs `program` to its end, writes the closing notes, and exits the
/// process with the program's status.
pub fn run(program: Arc<Program>, config: Config) -> ! {
    let code = match start(program, config) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            1
        }
    };
    std::process::exit(code)
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

fn start(program: Arc<Program>, config: Config) -> std::io::Result<i32> {
    raise_fd_limit();
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
    let scheduler = Scheduler::new(rco_actors::Config { workers, idle_hook })?;
    let rt = Arc::new(Runtime {
        tasks: Mutex::new(TaskTable::new(config.max_tasks)),
        program: program.clone(),
        config,
        reactor: reactor.handle(),
        end: Mutex::new(None),
        done: Completion::new(),
    });
    let main_rt = rt.clone();
    let vm = SendVm(Vm::new(program));
    scheduler.spawn_with(move |me| Box::new(TaskActor::new(vm.0, None, Mailbox::new(me.clone()), main_rt)));
    rt.done.wait();

    // Hold stdout for the rest of the process: no task writes after this.
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.flush();
    let end = rt.end.lock().unwrap_or_else(PoisonError::into_inner).take();
    let running = rt.tasks().running();
    let mut stderr = std::io::stderr().lock();
    let code = match end {
        Some(MainEnd::Finished(values)) => {
            if !values.is_empty() {
                let noun = if values.len() == 1 { "value" } else { "values" };
                let _ = writeln!(stderr, "note: {} {noun} left on the stack: {}", values.len(), values.join(" "));
            }
            0
        }
        Some(MainEnd::Failed(text)) => {
            let _ = stderr.write_all(text.as_bytes());
            1
        }
        Some(MainEnd::Exited(code)) => code,
        None => 1,
    };
    let retained = rt.reactor.close_all();
    leak_note(&mut stderr, "TCP listener", &retained.tcp_listeners);
    leak_note(&mut stderr, "TCP connection", &retained.tcp_connections);
    leak_note(&mut stderr, "WebSocket listener", &retained.ws_listeners);
    leak_note(&mut stderr, "WebSocket connection", &retained.ws_connections);
    match running {
        0 => {}
        1 => {
            let _ = writeln!(stderr, "note: 1 task was still running and was stopped");
        }
        n => {
            let _ = writeln!(stderr, "note: {n} tasks were still running and were stopped");
        }
    }
    let _ = stderr.flush();
    let _ = stdout.flush();
    Ok(code)
}

/// `note: 2 TCP listeners were never released (ids 0, 1)` (DIALECT 13).
fn leak_note(out: &mut impl Write, what: &str, ids: &[u64]) {
    let list = ids.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
    let _ = match ids.len() {
        0 => Ok(()),
        1 => writeln!(out, "note: 1 {what} was never released (id {list})"),
        n => writeln!(out, "note: {n} {what}s were never released (ids {list})"),
    };
}
