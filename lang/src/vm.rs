//! `Vm`: the resumable virtual machine.
//!
//! All interpreter state (operand stack, call frames with their instruction
//! pointers, variable frames, the state of `each`/`transform`/... loops and
//! of `await_all`) lives in this heap object; language-level calls never
//! recurse on the Rust stack. `Vm::run(host, budget)` spends at most
//! `budget` reductions and returns an `Outcome`: finished, failed, exited,
//! out of budget (call `run` again), or waiting on an `Effect` (answer it
//! with `resume`, then call `run` again). An effect goes to
//! `Host::perform` first: an answer the host gives at once is received in
//! place and the run goes on (`Vm::perform`). Reductions are charged where
//! control can come back: a call charges the length of the code it enters
//! (a function's or block's chunk), a backward jump the length of the loop
//! body it repeats (an iteration's block run again on its next item, by
//! `EndBlock`, counts as one), and a word whose work grows with its
//! operands (`range`, `concat`, `join`...) that work (`Vm::charge`). So every instruction run
//! is paid for, by the call that entered its chunk or the jump that
//! repeated it, and straight-line code between two charges is bounded by
//! the program's size: a slice overruns its budget by at most one chunk.
//! The other instructions carry no check.
//!
//! Speed: `execute` completes the hot ops (literals, variables, jumps,
//! stack shuffles, integer fast paths of words, superinstructions and their
//! specialised forms, user calls and returns, the end of an iteration's
//! block) in one exhaustive match on the op in place; a call or a return
//! goes on in the callee or caller without leaving the loop, and an
//! iteration's block with a next item starts again in the same frame
//! (`end_block`). A built-in word runs through `run_word`, a small
//! function, not through `step`. `step`, out of line so that the hot loop
//! keeps its registers, runs everything else and the error and fallback paths of
//! the hot ops (a superinstruction off its fast path runs its first part
//! there), and the in-place forms of `ok?`, `value` and `"text" =` (`IsOk`,
//! `Unwrap`, `StrEq`: in `execute`'s match they cost the loop and fib 1-2%
//! by its layout). Each op's semantics is written in one of the two. A function
//! call creates its variable frame only when it first declares a variable.
//! `Unwrap` moves the value out of a Result nothing else holds. A parked
//! VM tells its host where what its next run reads first lies
//! (`hot_buffers`, `held_blocks`): addresses for a cache hint, which the VM
//! never reads through and nothing depends on.
//!
//! Invariants: a `CodeFrame`'s `base` never exceeds the stack length at the
//! time it was pushed; the result of every function or block call follows
//! the base rule (§6.1): the top value above `base` or nil, and the stack
//! cut back to `base`; a frame that failed leaves the VM in the `Failed`
//! state, and a failed, finished or exited VM never runs again; a word
//! that pauses (`Flow::Pause`, a run ahead) has changed nothing, and the
//! frame's `ip` is left on it.

use crate::chunk::{Chunk, ChunkKind, Program, ProgramRef, Span};
use crate::deep::TooDeep;
use crate::diagnostic;
use crate::error::{ErrorKind, VmError};
use crate::host::{Effect, Host, Performed};
use crate::map::Map;
use crate::op::{int_word, Decl, IntOutcome, Op, Then};
use crate::symbol::Symbol;
use crate::value::{new_seq, ResultValue, Value};
use crate::word::Word;
use crate::words::Spelled;
use arcstr::ArcStr;
use std::collections::HashSet;

/// How many calls may be nested before the VM reports a limit error.
pub const MAX_CALL_DEPTH: usize = 100_000;
/// How many values the operand stack may hold.
pub const MAX_STACK: usize = 50_000_000;

/// How many of the innermost variables `Vm::hot_buffers` and
/// `Vm::held_blocks` name: those of a loop in a task or a function (a
/// deep recursion's outer calls' are not read soon).
const HOT_VARS: usize = 8;

/// `Vm::scope` outside every function call.
const NO_SCOPE: u32 = u32::MAX;

/// Why `run` returned.
#[derive(Debug)]
pub enum Outcome {
    /// The program ended; the values left on the stack, bottom first (for a
    /// task, its result is the last one).
    Finished(Vec<Value>),
    /// An uncaught error ended the program.
    Failed(Box<Failure>),
    /// `N exit` ran.
    Exited(i32),
    /// The instruction budget ran out; call `run` again.
    Yielded,
    /// Waiting on an effect the host declined (`Host::perform`): perform
    /// it, `resume` with its answer, then `run` again.
    Blocked(Effect),
    /// Waiting on the effect the host started (`Host::perform`): `resume`
    /// with its answer when it comes, then `run` again.
    Waiting,
}

/// An uncaught runtime error and where it happened.
#[derive(Clone, Debug)]
pub struct Failure {
    pub error: VmError,
    /// The instruction that failed.
    pub span: Span,
    /// Where in the program: `at top level`, `in function f`, ...
    pub place: String,
    /// For an error re-raised by `await`: where the task failed.
    pub raised_in: Option<String>,
}

impl Failure {
    /// The diagnostic text for this failure (DIALECT point 10).
    pub fn render(&self, program: &Program) -> String {
        let help = match &self.raised_in {
            Some(origin) => origin.clone(),
            None => self.place.clone(),
        };
        diagnostic::render(&program.file, &program.source, &self.error.message, self.span, Some(&help))
    }
}

/// The answer to an `Effect`.
#[derive(Debug)]
pub enum Resume {
    /// The effect produced a value (`await`) or nothing (`sleep`: `Nil` is
    /// not pushed).
    Value(Value),
    Done,
    /// The effect failed with an ordinary error.
    Error(VmError),
    /// The awaited task failed: re-raise its error here.
    TaskFailed {
        task: u64,
        error: VmError,
        origin: String,
    },
    /// The awaited result is nested past `MAX_NESTING` (DIALECT 16): the
    /// word waiting for it, `await` or `await_all`, fails with the nesting
    /// error.
    TooDeep,
}

/// What receiving an effect's answer costs on top of the word that asked
/// for it (so one run chains at most `budget / EFFECT_COST` effects
/// answered at once).
pub const EFFECT_COST: u64 = 64;

impl Resume {
    /// The reductions receiving this answer costs: `EFFECT_COST`, plus
    /// about one per element or 16 bytes of its top level (copying a task's
    /// result or the data read).
    pub fn cost(&self) -> u64 {
        match self {
            Resume::Value(v) => answer_cost(v),
            _ => EFFECT_COST,
        }
    }
}

/// What receiving `v` as an effect's answer costs (`Resume::cost`).
pub(crate) fn answer_cost(v: &Value) -> u64 {
    let size = match v {
        Value::Str(s) => s.len() / 16,
        Value::Array(s) | Value::List(s) | Value::Set(s) => s.borrow().len(),
        Value::Map(m) => m.borrow().len(),
        _ => 0,
    };
    EFFECT_COST.saturating_add(size as u64)
}

/// What a frame is running, for the help line of a diagnostic.
#[derive(Clone, Copy, Debug)]
pub(crate) enum FrameKind {
    Main,
    Function(Symbol),
    Block(Word),
    Task(u64),
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct CodeFrame {
    pub chunk: u32,
    pub ip: u32,
    pub base: u32,
    /// For a function call: the caller's `Vm::scope`, restored on return
    /// (`NO_SCOPE` for other frames).
    pub caller_scope: u32,
    pub kind: FrameKind,
}

/// The elements a higher-order word walks over (a snapshot).
#[derive(Debug)]
pub(crate) enum Items {
    Seq(Vec<Value>),
    Map(Vec<(ArcStr, Value)>),
    /// `await_all`'s task handles: the sequence itself, not a copy, since
    /// no code of this VM runs while it waits (it calls no block), so
    /// nothing can change it.
    Tasks(crate::value::Seq),
}

impl Items {
    pub(crate) fn len(&self) -> usize {
        match self {
            Items::Tasks(s) => s.borrow().len(),
            Items::Seq(v) => v.len(),
            Items::Map(v) => v.len(),
        }
    }

    /// Item `i`: an element, or a map entry's value.
    pub(crate) fn element(&self, i: usize) -> Value {
        match self {
            Items::Seq(v) => v[i].fast_clone(),
            Items::Map(v) => v[i].1.clone(),
            Items::Tasks(s) => s.borrow()[i].fast_clone(),
        }
    }
}

/// A higher-order word in progress: it runs its block once per item.
#[derive(Debug)]
pub(crate) struct IterFrame {
    pub word: Word,
    /// The instruction that started it (blamed for its own errors).
    pub site: (u32, u32),
    pub block: u32,
    pub items: Items,
    pub index: usize,
    /// The collection or Result it works on.
    pub receiver: Value,
    /// Collected results (transform, select) or the accumulator (reduce).
    pub out: Vec<Value>,
    pub acc: Value,
    pub done: bool,
}

impl IterFrame {
    /// Whether the block runs on another item (or `await_all` awaits
    /// another task).
    fn has_next(&self) -> bool {
        !self.done && self.index < self.items.len()
    }
}

#[derive(Debug)]
pub(crate) enum Frame {
    Code(CodeFrame),
    Iter(Box<IterFrame>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Ready,
    Blocked,
    Over,
}

/// A running (or resumable) program.
pub struct Vm {
    pub(crate) program: ProgramRef,
    pub(crate) stack: Vec<Value>,
    pub(crate) frames: Vec<Frame>,
    /// The variables of the function calls in progress, one flat run per
    /// call, innermost last (a call that declares nothing has an empty run:
    /// no allocation per call). Names are distinct within a run.
    pub(crate) vars: Vec<(Symbol, Value)>,
    /// Where the innermost function call's run starts in `vars` (its
    /// variables are `vars[scope..]`: a call's callees have returned).
    /// `NO_SCOPE` outside every call of the main program (then `vars` is
    /// empty); a task's top level has scope 0, its copies (see `fork`).
    scope: u32,
    pub(crate) globals: Vec<Option<Value>>,
    /// How many top-level function definitions have run: which functions
    /// exist (see `Program::function`). A task inherits its parent's count.
    pub(crate) defined: u32,
    pub(crate) rng: u64,
    state: State,
    /// The instruction an effect was started by (blamed if it fails).
    blocked_site: (u32, u32),
    /// Reductions charged by the running word beyond its instruction;
    /// `execute` takes them off the budget after the word.
    debt: u32,
    /// Reductions the last `run` spent (see `Vm::spent`).
    spent: u64,
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm").field("stack", &self.stack.len()).field("frames", &self.frames.len()).finish()
    }
}

/// Where a code frame goes on: its chunk and instruction.
type CodeAt = (u32, usize);

/// An error and the instruction it is blamed on (chunk, op).
type SiteError = ((u32, u32), VmError);

/// How `Vm::step` leaves the dispatch loop of `Vm::execute`.
enum Step {
    /// Go on at this instruction of the same frame.
    Next(usize),
    /// Frames changed: re-read the current frame.
    Frames,
    /// Return this outcome.
    Stop(Outcome),
}

/// What a word did to the control flow.
pub(crate) enum Flow {
    /// Go on with the next instruction.
    Next,
    /// Frames changed (a call started or ended): re-read the current frame.
    Jumped,
    /// Stop: an effect must be performed.
    Block(Effect),
    /// Stop: `exit` ran.
    Exit(i32),
    /// Stop before the word, which runs when the VM runs again (a run
    /// ahead met a word that acts outside the task, `Host::ahead`).
    Pause,
}

impl Vm {
    /// A VM that will run `program`'s top level.
    pub fn new(program: impl Into<ProgramRef>) -> Vm {
        let program = program.into();
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        Vm {
            program,
            stack: Vec::with_capacity(64),
            frames: vec![Frame::Code(CodeFrame {
                chunk: 0,
                ip: 0,
                base: 0,
                caller_scope: NO_SCOPE,
                kind: FrameKind::Main,
            })],
            vars: Vec::new(),
            scope: NO_SCOPE,
            globals: Vec::new(),
            defined: 0,
            rng: seed | 1,
            state: State::Ready,
            blocked_site: (0, 0),
            debt: 0,
            spent: 0,
        }
    }

    /// The program this VM runs.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// A VM for a spawned task: it runs `block` with an empty stack and a
    /// deep copy of the bindings visible now that it may look up (DIALECT
    /// point 6, `capture.rs`), one per name, copied together so that
    /// sharing between them is kept.
    ///
    /// The copies go into the task's one variable frame, whatever frame or
    /// global they came from: every name has one binding there, the one
    /// lookup would have found, so lookups, `set` and `var` in the task
    /// behave as with a copy of the whole frame stack, and a task spawned
    /// deep inside recursion costs what it reads, not the depth.
    pub(crate) fn fork(&self, block: u32, task: u64) -> Result<Vm, TooDeep> {
        let program = &self.program;
        let captures = &program.captures;
        let mut memo = crate::value::CopyMemo::default();
        let capture = captures.of(program, block);
        // Sized for the names the block uses: most tasks copy nothing more.
        let mut frame: Vec<(Symbol, Value)> = Vec::with_capacity(if capture.dynamic { 0 } else { capture.names.len() });
        if capture.dynamic {
            self.copy_visible(&mut frame, &mut memo)?;
        } else {
            // A capture's names are distinct: no check on this first pass.
            self.copy_names(capture, None, &mut frame, &mut memo)?;
        }
        // What the copied values hold extends the reach (rare: most tasks
        // copy no block and no task handle).
        if !capture.dynamic && (!memo.blocks.is_empty() || memo.saw_task) {
            self.extend_reach(block, &mut frame, &mut memo)?;
        }
        Ok(Vm {
            program: program.clone(),
            // Every task pushes at least its result: sized once, not grown.
            stack: Vec::with_capacity(4),
            frames: vec![Frame::Code(CodeFrame {
                chunk: block,
                ip: 0,
                base: 0,
                caller_scope: NO_SCOPE,
                kind: FrameKind::Task(task),
            })],
            // An empty frame is created by the task's first `var`.
            vars: frame,
            scope: 0,
            globals: Vec::new(),
            defined: self.defined,
            rng: self.rng.wrapping_mul(6364136223846793005).wrapping_add(task | 1) | 1,
            state: State::Ready,
            blocked_site: (0, 0),
            debt: 0,
            spent: 0,
        })
    }

    /// Copies into `frame` what the blocks and task handles `memo` met can
    /// look up, and what that reaches in turn, until nothing new is
    /// reached (`fork`'s second part: a block's capture, or everything
    /// visible once a capture is dynamic).
    fn extend_reach(
        &self,
        block: u32,
        frame: &mut Vec<(Symbol, Value)>,
        memo: &mut crate::value::CopyMemo,
    ) -> Result<(), TooDeep> {
        // Sets, not lists: a script controls how many blocks it stores.
        let program = &self.program;
        let captures = &program.captures;
        let mut everything = false;
        let mut reached: HashSet<u32> = HashSet::new();
        let mut copied: Option<HashSet<Symbol>> = None;
        let mut awaited_anything = false;
        while !everything {
            let mut more = Vec::new();
            for b in memo.blocks.drain(..) {
                if b.0 != block && reached.insert(b.0) {
                    more.push(captures.of(program, b.0));
                }
            }
            if memo.saw_task && !awaited_anything {
                awaited_anything = true;
                more.push(captures.anything_awaited(program));
            }
            if more.is_empty() {
                break;
            }
            let copied = copied.get_or_insert_with(|| frame.iter().map(|(k, _)| *k).collect());
            for capture in more {
                if capture.dynamic {
                    everything = true;
                    self.copy_visible(frame, memo)?;
                    break;
                }
                self.copy_names(capture, Some(&mut *copied), frame, memo)?;
            }
        }
        Ok(())
    }

    /// Copies into `frame` the binding lookup finds for each name of
    /// `capture`; with `copied`, only names not in it (adding them).
    fn copy_names(
        &self,
        capture: &crate::capture::Capture,
        mut copied: Option<&mut HashSet<Symbol>>,
        frame: &mut Vec<(Symbol, Value)>,
        memo: &mut crate::value::CopyMemo,
    ) -> Result<(), TooDeep> {
        for &name in capture.names.iter() {
            if copied.as_mut().is_some_and(|c| !c.insert(name)) {
                continue;
            }
            if let Some(v) = self.lookup(name) {
                frame.push((name, v.deep_copy_in(memo)?));
            }
        }
        Ok(())
    }

    /// Copies into `frame` every visible binding not there yet, the one
    /// lookup finds for each name: innermost frame first, then the globals.
    fn copy_visible(&self, frame: &mut Vec<(Symbol, Value)>, memo: &mut crate::value::CopyMemo) -> Result<(), TooDeep> {
        let mut done: HashSet<Symbol> = frame.iter().map(|(k, _)| *k).collect();
        let frames = self.vars.iter().rev().map(|(k, v)| (*k, v));
        let globals = self.globals.iter().enumerate().filter_map(|(i, g)| Some((Symbol::from_index(i), g.as_ref()?)));
        for (name, v) in frames.chain(globals) {
            if done.insert(name) {
                frame.push((name, v.deep_copy_in(memo)?));
            }
        }
        Ok(())
    }

    /// Where the memory a resumed run reads first is, as (start, bytes):
    /// its innermost variables (a lookup scans them from the innermost
    /// out) and its innermost frame. A host that asks the memory
    /// system for them before it resumes the VM overlaps their cache
    /// misses with its own work.
    pub fn hot_buffers(&self) -> [(*const u8, usize); 2] {
        let frame = self.frames.len().saturating_sub(1);
        let hot = self.hot_vars();
        [
            (hot.as_ptr().cast(), std::mem::size_of_val(hot)),
            (self.frames.as_ptr().wrapping_add(frame).cast(), std::mem::size_of::<Frame>()),
        ]
    }

    /// The innermost `HOT_VARS` variables.
    fn hot_vars(&self) -> &[(Symbol, Value)] {
        &self.vars[self.vars.len().saturating_sub(HOT_VARS)..]
    }

    /// The heap blocks the innermost variables' values live in
    /// (`Value::block`): what a resumed run reads next, once it has looked
    /// its variables up. Reads the variables: ask for them first
    /// (`hot_buffers`).
    pub fn held_blocks(&self) -> impl Iterator<Item = *const u8> + '_ {
        self.hot_vars().iter().filter_map(|(_, v)| v.block())
    }

    /// Frees spare memory while the VM waits: an empty operand stack gives
    /// its buffer back (a parked task then costs only its frames: keeping
    /// the smallest buffer, 64 bytes, saved a read loop's task an
    /// allocation per wake but took a parked task past its 512-byte
    /// target), and the frames and variables their room when at most half
    /// of it is used (a task that waits in a loop parks at the same depth
    /// each time, so this reallocates once; one that parks a level deeper
    /// each time, a recursion through tasks, would otherwise copy all its
    /// frames at every park).
    pub fn trim(&mut self) {
        if self.stack.is_empty() {
            self.stack = Vec::new();
        }
        shrink_spare(&mut self.frames);
        shrink_spare(&mut self.vars);
    }

    /// Gives up the VM's values without freeing them, for a host whose
    /// process ends now: freeing a program's data (a million-element
    /// array, every string in it) would only delay the exit. The VM is
    /// left empty.
    pub fn forget_values(&mut self) {
        std::mem::forget(std::mem::take(&mut self.stack));
        std::mem::forget(std::mem::take(&mut self.frames));
        std::mem::forget(std::mem::take(&mut self.vars));
        std::mem::forget(std::mem::take(&mut self.globals));
    }

    /// Names the task this VM runs (its diagnostics say `in task#ID`).
    pub fn set_task_id(&mut self, id: u64) {
        if let Some(Frame::Code(f)) = self.frames.first_mut() {
            if let FrameKind::Task(_) = f.kind {
                f.kind = FrameKind::Task(id);
            }
        }
    }

    /// The id given by `set_task_id`, if this VM runs a task.
    pub fn task_id(&self) -> Option<u64> {
        match self.frames.first() {
            Some(Frame::Code(CodeFrame { kind: FrameKind::Task(id), .. })) => Some(*id),
            _ => None,
        }
    }

    /// Whether the value the VM will be resumed with is dropped unseen:
    /// the instruction after the word it is blocked on is `drop`. A host
    /// may then resume with `Nil` rather than build the value (a socket
    /// word's snapshot that the script throws away, as an echo does with
    /// its write's result): nothing can tell them apart.
    pub fn answer_unused(&self) -> bool {
        match self.frames.last() {
            Some(Frame::Code(f)) => {
                let ops = &self.program.chunks[f.chunk as usize].ops;
                matches!(ops.get(f.ip as usize), Some(Op::Drop))
            }
            // An `await_all` in progress collects the value.
            _ => false,
        }
    }

    /// Answers the effect the VM is blocked on.
    pub fn resume(&mut self, answer: Resume) -> Result<(), Box<Failure>> {
        self.state = State::Ready;
        let err = match answer {
            Resume::Done => return Ok(()),
            Resume::Value(v) => return self.deliver(v),
            Resume::Error(e) => e,
            Resume::TooDeep => {
                let waiting = match self.frames.last() {
                    Some(Frame::Iter(it)) if it.word == Word::AwaitAll => Word::AwaitAll,
                    _ => Word::Await,
                };
                crate::deep::TooDeep.error(waiting.name())
            }
            Resume::TaskFailed { task: _, error, origin } => {
                let mut f = self.failure_at(self.blocked_site, error);
                f.raised_in = Some(format!("raised in {origin}"));
                self.state = State::Over;
                return Err(Box::new(f));
            }
        };
        let f = self.failure_at(self.blocked_site, err);
        self.state = State::Over;
        Err(Box::new(f))
    }

    /// Hands an effect's value to whoever waits for it: the stack, or an
    /// `await_all` in progress.
    fn deliver(&mut self, v: Value) -> Result<(), Box<Failure>> {
        if let Some(Frame::Iter(it)) = self.frames.last_mut() {
            if it.word == Word::AwaitAll {
                it.out.push(v);
                it.index += 1;
                return Ok(());
            }
        }
        if self.stack.capacity() == 0 {
            // `trim` gave the buffer back at the park: the few values a
            // woken task uses get their room at once, not by growing.
            self.stack = Vec::with_capacity(4);
        }
        self.stack.push(v);
        Ok(())
    }

    /// Runs until about `budget` reductions are spent (what calls, loops
    /// and words charge, see the module doc; the call, jump or word that
    /// overdraws the budget ends the slice).
    pub fn run(&mut self, host: &mut dyn Host, budget: u64) -> Outcome {
        match self.state {
            State::Ready => {}
            State::Blocked => {
                return Outcome::Failed(Box::new(self.failure_at(
                    self.blocked_site,
                    VmError::new(ErrorKind::Unsupported, "resumed before its effect was answered"),
                )))
            }
            State::Over => {
                return Outcome::Failed(Box::new(
                    self.failure_at((0, 0), VmError::new(ErrorKind::Unsupported, "the program already ended")),
                ))
            }
        }
        // All of it unless `execute` stops early on an effect.
        self.spent = budget;
        let outcome = self.execute(host, budget);
        match &outcome {
            Outcome::Blocked(_) | Outcome::Waiting => self.state = State::Blocked,
            Outcome::Yielded => {}
            _ => self.state = State::Over,
        }
        outcome
    }

    fn execute(&mut self, host: &mut dyn Host, budget: u64) -> Outcome {
        let prog = self.program.clone();
        let mut remaining = budget;
        'frames: loop {
            let (mut chunk_index, mut ip) = match self.frames.last() {
                Some(Frame::Code(f)) => (f.chunk, f.ip as usize),
                Some(Frame::Iter(_)) => {
                    self.take_awaited(host, remaining);
                    match self.iter_advance() {
                        Ok(Flow::Block(effect)) => {
                            if let Step::Stop(outcome) = self.perform(host, effect) {
                                self.spent = budget - remaining;
                                return outcome;
                            }
                        }
                        Ok(_) => {}
                        Err((site, e)) => return Outcome::Failed(Box::new(self.failure_at(site, e))),
                    }
                    remaining = remaining.saturating_sub(self.take_debt());
                    if remaining == 0 {
                        return Outcome::Yielded;
                    }
                    continue 'frames;
                }
                None => {
                    // A task's result is the top of its stack (the stack
                    // itself is handed over: no allocation for one value).
                    self.spent = budget - remaining;
                    return Outcome::Finished(std::mem::take(&mut self.stack));
                }
            };
            let mut ops = &prog.chunks[chunk_index as usize].ops[..];
            macro_rules! fail {
                ($e:expr) => {
                    return self.fail_at(chunk_index, ip, $e)
                };
            }
            // Continue at op `$t`; a jump back (the next round of a loop)
            // charges the length of what it repeats, and may end the slice.
            macro_rules! jump {
                ($t:expr) => {{
                    let t: usize = $t;
                    if t < ip {
                        remaining = remaining.saturating_sub((ip - t) as u64);
                        ip = t;
                        if remaining == 0 {
                            self.save_ip(ip);
                            return Outcome::Yielded;
                        }
                    } else {
                        ip = t;
                    }
                }};
            }
            // A fused comparison's branch: to `$t` when taken, else past
            // the `$parts` plain ops that follow the fused op.
            macro_rules! branch {
                ($taken:expr, $t:expr, $parts:expr) => {
                    if $taken {
                        jump!($t as usize);
                    } else {
                        ip += $parts;
                    }
                };
            }
            // Enters the user function compiled into chunk `$chunk`: the
            // call pays for the code it enters, and the loop goes on in it.
            macro_rules! enter {
                ($chunk:expr) => {{
                    let chunk: u32 = $chunk;
                    self.save_ip(ip);
                    let code = &prog.chunks[chunk as usize];
                    if let Err(e) = self.call_function(code, chunk) {
                        fail!(e)
                    }
                    remaining = remaining.saturating_sub(code.ops.len() as u64);
                    if remaining == 0 {
                        return Outcome::Yielded;
                    }
                    (chunk_index, ops, ip) = (chunk, &code.ops[..], 0);
                }};
            }
            // The hot ops run here; every other op, and every slow path
            // that is not an error, leaves the match for the one call of
            // `step` below it (one copy of the rare code keeps the hot arms
            // compact; measured with callgrind).
            'ops: loop {
                // Matched in place: each arm loads only its own operands.
                let op = &ops[ip];
                ip += 1;
                let step = 'slow: {
                    'fast: {
                        match *op {
                            Op::PushInt(n) => self.stack.push(Value::Int(n)),
                            Op::PushBlock(c) => self.stack.push(Value::Block(crate::value::BlockId(c))),
                            Op::GetVar(sym) => {
                                if let Err(e) = self.push_var(sym) {
                                    fail!(e)
                                }
                            }
                            Op::TakeVar(sym) => {
                                if let Err(e) = self.take_var(sym) {
                                    fail!(e)
                                }
                            }
                            Op::SetVar(sym) => {
                                let Some(v) = self.stack.pop() else { fail!(VmError::underflow("set", 1, 0)) };
                                if let Err(v) = self.assign(sym, v) {
                                    self.stack.push(v);
                                    fail!(VmError::unknown_variable(sym.as_str()));
                                }
                            }
                            Op::Jump(t) => jump!(t as usize),
                            Op::JumpIfFalse(t) => match self.stack.last().map(Value::truthy) {
                                Some(Some(truthy)) => {
                                    self.pop_discard(1);
                                    if !truthy {
                                        jump!(t as usize);
                                    }
                                }
                                _ => break 'fast,
                            },
                            // Two arms, not one testing which op it is: one arm
                            // cost 1-4% more instructions on every benchmark.
                            Op::JumpIfTrue(t) => match self.stack.last().map(Value::truthy) {
                                Some(Some(truthy)) => {
                                    self.pop_discard(1);
                                    if truthy {
                                        jump!(t as usize);
                                    }
                                }
                                _ => break 'fast,
                            },
                            Op::Word(word) => {
                                if !self.fast_word(word) {
                                    break 'slow self.run_word(&prog, chunk_index, ip, word, host);
                                }
                            }
                            Op::Dup if self.dup() => {}
                            Op::Swap => {
                                let n = self.stack.len();
                                if n < 2 {
                                    break 'fast;
                                }
                                self.stack.swap(n - 1, n - 2);
                            }
                            Op::Over => {
                                let n = self.stack.len();
                                if n < 2 {
                                    break 'fast;
                                }
                                let v = self.stack[n - 2].fast_clone();
                                self.stack.push(v);
                            }
                            Op::Drop => {
                                let Some(v) = self.stack.pop() else { break 'fast };
                                v.discard();
                            }
                            Op::Arith(arith) => {
                                let [.., Value::Int(a), Value::Int(b)] = &mut self.stack[..] else { break 'fast };
                                let Some(r) = arith.apply(*a, *b) else { break 'fast };
                                *a = r;
                                self.pop_discard(1);
                            }
                            Op::CallChunk(chunk, ordinal, _) if ordinal < self.defined => enter!(chunk),
                            Op::Call(sym, _) => match prog.function(sym, self.defined) {
                                Some(chunk) => enter!(chunk),
                                None => break 'fast,
                            },
                            // Chunk 0 runs only as the main program's frame.
                            Op::End if chunk_index != 0 => match self.return_from_frame() {
                                Ok(Some(caller)) => {
                                    (chunk_index, ops, ip) = (caller.0, &prog.chunks[caller.0 as usize].ops, caller.1)
                                }
                                Ok(None) => continue 'frames,
                                Err((site, e)) => return Outcome::Failed(Box::new(self.failure_at(site, e))),
                            },
                            Op::EndBlock => match self.end_block() {
                                // Charged like a loop's jump back: for the
                                // instructions it repeats.
                                Ok(true) => jump!(0),
                                Ok(false) => continue 'frames,
                                Err(e) => return Outcome::Failed(Box::new(self.failure_at(e.0, e.1))),
                            },
                            // Superinstructions: the whole sequence, or else only
                            // the first part, as the plain op (see `op.rs`).
                            Op::VarVar(a, b, word, then) => {
                                if let (Some(x), Some(y)) = (self.int_var(a), self.int_var(b)) {
                                    if let Some(next) =
                                        int_word(word, x, y).and_then(|r| self.finish_fused(r, then, ip + 2, 0))
                                    {
                                        jump!(next);
                                        continue 'ops;
                                    }
                                }
                                break 'fast;
                            }
                            Op::VarInt(a, k, word, then) => {
                                if let Some(x) = self.int_var(a) {
                                    if let Some(next) =
                                        int_word(word, x, k.into()).and_then(|r| self.finish_fused(r, then, ip + 2, 0))
                                    {
                                        jump!(next);
                                        continue 'ops;
                                    }
                                }
                                break 'fast;
                            }
                            Op::MapAt(k) => {
                                let Some(Value::Map(m)) = self.stack.last() else { break 'fast };
                                let v = m.borrow().get(&prog.strings[k as usize]).cloned().unwrap_or(Value::Nil);
                                if let Some(top) = self.stack.last_mut() {
                                    *top = v;
                                }
                                ip += 1;
                            }
                            Op::TopIntArith(k, arith) => {
                                let Some(Value::Int(x)) = self.stack.last_mut() else { break 'fast };
                                let Some(r) = arith.apply(*x, k.into()) else { break 'fast };
                                *x = r;
                                ip += 1;
                            }
                            Op::DupIntArith(k, arith) => {
                                let Some(&Value::Int(x)) = self.stack.last() else { break 'fast };
                                let Some(r) = arith.apply(x, k.into()) else { break 'fast };
                                self.stack.push(Value::Int(r));
                                ip += 2;
                            }
                            Op::TopIntJump(k, jumps, t) => {
                                let Some(&Value::Int(x)) = self.stack.last() else { break 'fast };
                                self.stack.pop();
                                branch!(jumps.taken(x, k.into()), t, 2);
                            }
                            Op::DupIntJump(k, jumps, t) => {
                                let Some(&Value::Int(x)) = self.stack.last() else { break 'fast };
                                branch!(jumps.taken(x, k.into()), t, 3);
                            }
                            // Top level: every name is a global (see `op.rs`).
                            Op::GlobalsJump(a, b, jumps, t) => {
                                let (Some(x), Some(y)) = (self.global_int(a), self.global_int(b)) else { break 'fast };
                                branch!(jumps.taken(x, y), t, 3);
                            }
                            Op::GlobalIntJump(a, k, jumps, t) => {
                                let Some(x) = self.global_int(a) else { break 'fast };
                                branch!(jumps.taken(x, k.into()), t, 3);
                            }
                            Op::GlobalsSet(a, b, arith, d) => {
                                let (Some(x), Some(y)) = (self.global_int(a), self.global_int(b)) else { break 'fast };
                                if !arith.apply(x, y).is_some_and(|r| self.set_global_int(d, r)) {
                                    break 'fast;
                                }
                                ip += 3;
                            }
                            Op::GlobalIntSet(a, k, arith, d) => {
                                let Some(x) = self.global_int(a) else { break 'fast };
                                if !arith.apply(x, k.into()).is_some_and(|r| self.set_global_int(d, r)) {
                                    break 'fast;
                                }
                                ip += 3;
                            }
                            Op::TopInt(k, word, then) => {
                                if let Some(&Value::Int(x)) = self.stack.last() {
                                    if let Some(next) =
                                        int_word(word, x, k.into()).and_then(|r| self.finish_fused(r, then, ip + 1, 1))
                                    {
                                        jump!(next);
                                        continue 'ops;
                                    }
                                }
                                break 'fast;
                            }
                            Op::DupInt(k, word, then) => {
                                if let Some(&Value::Int(x)) = self.stack.last() {
                                    if let Some(next) =
                                        int_word(word, x, k.into()).and_then(|r| self.finish_fused(r, then, ip + 2, 0))
                                    {
                                        jump!(next);
                                        continue 'ops;
                                    }
                                }
                                if !self.dup() {
                                    break 'fast;
                                }
                            }
                            Op::IsOk => {
                                if !self.is_ok_in_place() {
                                    break 'fast;
                                }
                            }
                            Op::Unwrap => {
                                if !self.unwrap_in_place() {
                                    break 'fast;
                                }
                            }
                            // Listed, not `_`: an exhaustive match lets the
                            // dispatch skip its range check.
                            Op::PushFloat(_)
                            | Op::PushStr(_)
                            | Op::PushNil
                            | Op::PushTrue
                            | Op::PushFalse
                            | Op::Declare(..)
                            | Op::Dup
                            | Op::StrEq(_)
                            | Op::CallChunk(..)
                            | Op::DefineFunction(_)
                            | Op::Return
                            | Op::End => break 'fast,
                        }
                        continue 'ops;
                    }
                    self.step(&prog, chunk_index, ip, host)
                };
                remaining = remaining.saturating_sub(self.take_debt());
                match step {
                    Step::Next(next) => {
                        ip = next;
                        if remaining == 0 {
                            self.save_ip(ip);
                            return Outcome::Yielded;
                        }
                    }
                    Step::Frames if remaining == 0 => return Outcome::Yielded,
                    Step::Frames => continue 'frames,
                    Step::Stop(outcome) => {
                        self.spent = budget - remaining;
                        return outcome;
                    }
                }
            }
        }
    }

    /// Runs the op before `ip` when `execute` does not: the rare ops, the
    /// general path of words, the errors of conditions, receiver methods,
    /// `Return` and the end of the program.
    #[inline(never)]
    fn step(&mut self, prog: &Program, chunk_index: u32, ip: usize, host: &mut dyn Host) -> Step {
        macro_rules! fail {
            ($e:expr) => {
                return Step::Stop(self.fail_at(chunk_index, ip, $e))
            };
        }
        let site = (chunk_index, ip as u32 - 1);
        let op = prog.chunks[chunk_index as usize].ops[ip - 1];
        let flow = match op {
            Op::PushFloat(f) => {
                self.stack.push(Value::Float(f));
                Ok(Flow::Next)
            }
            // Both parts: the `Word =` after it is skipped.
            Op::StrEq(k) if self.str_eq_in_place(&prog.strings[k as usize]) => return Step::Next(ip + 1),
            // `MapAt` and `StrEq` off their fast paths (not a map, not a
            // string): their first part.
            Op::PushStr(i) | Op::MapAt(i) | Op::StrEq(i) => {
                self.stack.push(Value::Str(prog.strings[i as usize].clone()));
                Ok(Flow::Next)
            }
            Op::PushNil => {
                self.stack.push(Value::Nil);
                Ok(Flow::Next)
            }
            Op::PushTrue => {
                self.stack.push(Value::Bool(true));
                Ok(Flow::Next)
            }
            Op::PushFalse => {
                self.stack.push(Value::Bool(false));
                Ok(Flow::Next)
            }
            Op::Declare(sym, decl) => {
                let v = match decl {
                    Decl::Var => self.stack.pop().unwrap_or(Value::Nil),
                    Decl::Array => Value::array(Vec::new()),
                    Decl::List => Value::List(new_seq(Vec::new())),
                    Decl::Set => Value::Set(new_seq(Vec::new())),
                    Decl::Map => Value::map(Map::new()),
                };
                self.declare(sym, v);
                Ok(Flow::Next)
            }
            // A condition `execute` cannot branch on: none, or a Result.
            Op::JumpIfFalse(_) | Op::JumpIfTrue(_) => {
                if self.stack.is_empty() {
                    let spans = &prog.chunks[chunk_index as usize].spans;
                    let word = if matches!(prog.text(spans[ip - 1]), "while") { "while" } else { "if" };
                    fail!(VmError::underflow(word, 1, 0))
                }
                Err(VmError::result_condition())
            }
            // The first part of a superinstruction off its fast path (a
            // value that is not an integer, an overflow, a name not bound):
            // the parts after it run as plain ops.
            Op::VarVar(a, ..)
            | Op::VarInt(a, ..)
            | Op::GlobalsJump(a, ..)
            | Op::GlobalIntJump(a, ..)
            | Op::GlobalsSet(a, ..)
            | Op::GlobalIntSet(a, ..) => self.push_var(a).map(|()| Flow::Next),
            Op::TopInt(k, ..) | Op::TopIntArith(k, _) | Op::TopIntJump(k, ..) => {
                self.stack.push(Value::Int(k.into()));
                Ok(Flow::Next)
            }
            Op::Dup
            | Op::Swap
            | Op::Over
            | Op::Drop
            | Op::Arith(_)
            | Op::IsOk
            | Op::Unwrap
            | Op::DupInt(..)
            | Op::DupIntArith(..)
            | Op::DupIntJump(..) => {
                let word = match op {
                    Op::Swap => Word::Swap,
                    Op::Over => Word::Over,
                    Op::Drop => Word::Drop,
                    Op::Arith(arith) => arith.word(),
                    Op::IsOk => Word::IsOk,
                    Op::Unwrap => Word::ValueW,
                    // `dup`, and the first part of the `DupInt` family.
                    _ => Word::Dup,
                };
                return self.run_word(prog, chunk_index, ip, word, host);
            }
            // No user function of the name (`execute` calls those): a
            // receiver method, else unknown.
            Op::Call(_, method) | Op::CallChunk(_, _, method) => {
                self.save_ip(ip);
                // The name as spelled, from the source: the interner's
                // table is behind a process-wide lock.
                let spelled = Spelled::at(&prog.source, prog.chunks[chunk_index as usize].spans[ip - 1]);
                match method {
                    Some(word) if self.supports(word) => self.exec_word(word, spelled, host, site),
                    _ => Err(VmError::unknown_word(spelled.text())),
                }
            }
            Op::DefineFunction(c) => {
                if let ChunkKind::Function { name, .. } = prog.chunks[c as usize].kind {
                    let defs = prog.functions.get(name.index()).map_or(&[][..], Vec::as_slice);
                    if let Some(&(ordinal, _)) = defs.iter().find(|&&(_, chunk)| chunk == c) {
                        self.defined = self.defined.max(ordinal + 1);
                    }
                }
                Ok(Flow::Next)
            }
            Op::Return | Op::End => {
                let top_level = matches!(self.frames.last(), Some(Frame::Code(f)) if matches!(f.kind, FrameKind::Main));
                if top_level {
                    if matches!(op, Op::Return) {
                        fail!(VmError::new(ErrorKind::Unsupported, "unsupported opcode: Return"));
                    }
                    self.save_ip(ip);
                    return Step::Stop(Outcome::Finished(std::mem::take(&mut self.stack)));
                }
                self.save_ip(ip);
                return match self.return_from_frame() {
                    Ok(_) => Step::Frames,
                    Err((site, e)) => Step::Stop(Outcome::Failed(Box::new(self.failure_at(site, e)))),
                };
            }
            // `execute` always completes these itself: each op's semantics
            // is written once.
            Op::PushInt(_)
            | Op::PushBlock(_)
            | Op::GetVar(_)
            | Op::TakeVar(_)
            | Op::SetVar(_)
            | Op::Jump(_)
            | Op::Word(_)
            | Op::EndBlock => Err(VmError::new(ErrorKind::Unsupported, format!("unsupported opcode: {op:?}"))),
        };
        self.after(flow, host, site)
    }

    /// Runs built-in word `word` for the op before `ip`: an `Op::Word` off
    /// `fast_word`'s integer path (called by `execute` directly: through
    /// `step`, whose size costs every call about 40 instructions more), or
    /// the plain word of an op `execute` did not complete.
    #[inline(never)]
    fn run_word(&mut self, prog: &Program, chunk_index: u32, ip: usize, word: Word, host: &mut dyn Host) -> Step {
        let site = (chunk_index, ip as u32 - 1);
        self.save_ip(ip);
        let spelled = Spelled::at(&prog.source, prog.chunks[chunk_index as usize].spans[ip - 1]);
        let flow = self.exec_word(word, spelled, host, site);
        self.after(flow, host, site)
    }

    /// Where the run goes after op `site` did `flow`.
    #[inline(always)]
    fn after(&mut self, flow: Result<Flow, VmError>, host: &mut dyn Host, site: (u32, u32)) -> Step {
        match flow {
            Ok(Flow::Next) => Step::Next(site.1 as usize + 1),
            Ok(Flow::Jumped) => Step::Frames,
            Ok(Flow::Block(effect)) => {
                self.blocked_site = site;
                self.perform(host, effect)
            }
            Ok(Flow::Exit(code)) => Step::Stop(Outcome::Exited(code)),
            Ok(Flow::Pause) => {
                self.save_ip(site.1 as usize);
                Step::Stop(Outcome::Yielded)
            }
            Err(e) => Step::Stop(self.fail_at(site.0, site.1 as usize + 1, e)),
        }
    }

    /// Asks the host to perform `effect` (blamed on `blocked_site` if it
    /// fails; the frame's `ip` is after the word that asked): an answer
    /// given at once is received here, charged, and the run goes on (the
    /// frames may have changed: an `await_all` collects it); otherwise the
    /// run stops.
    fn perform(&mut self, host: &mut dyn Host, effect: Effect) -> Step {
        let unused = matches!(effect, Effect::Socket(_)) && self.answer_unused();
        match host.perform(effect, unused) {
            Performed::Now(answer) => {
                self.charge(usize::try_from(answer.cost()).unwrap_or(usize::MAX));
                match self.resume(answer) {
                    Ok(()) => Step::Frames,
                    Err(f) => Step::Stop(Outcome::Failed(f)),
                }
            }
            Performed::Started => Step::Stop(Outcome::Waiting),
            Performed::Declined(effect) => Step::Stop(Outcome::Blocked(effect)),
        }
    }

    /// The reductions the last `run` spent: its whole budget if it yielded
    /// (or failed), less if it stopped on an effect (so a host that answers
    /// the effect at once can go on with what is left of its slice) or a
    /// task finished (the host tells the scheduler how much work it did).
    pub fn spent(&self) -> u64 {
        self.spent
    }

    /// Charges `reductions` units of work to the running word (about one per
    /// element made or visited, or per 16 bytes of string; a call, the
    /// length of the chunk it enters).
    #[inline]
    pub(crate) fn charge(&mut self, reductions: usize) {
        self.debt = self.debt.saturating_add(u32::try_from(reductions).unwrap_or(u32::MAX));
    }

    /// The reductions charged since the last call, taken off the budget.
    #[inline(always)]
    fn take_debt(&mut self) -> u64 {
        u64::from(std::mem::take(&mut self.debt))
    }

    /// Ends the VM with `error`, blamed on the instruction it was at, when
    /// its run was cut short from outside (a panic in the host or the VM):
    /// the VM never runs again.
    pub fn fail_here(&mut self, error: VmError) -> Box<Failure> {
        self.state = State::Over;
        let site = match self.frames.last() {
            Some(Frame::Code(c)) => (c.chunk, c.ip.saturating_sub(1)),
            Some(Frame::Iter(it)) => it.site,
            None => (0, 0),
        };
        Box::new(self.failure_at(site, error))
    }

    /// Records `ip` as the instruction pointer of the current code frame.
    fn save_ip(&mut self, ip: usize) {
        if let Some(Frame::Code(f)) = self.frames.last_mut() {
            f.ip = ip as u32;
        }
    }

    /// The outcome of an error at the op before `ip`.
    #[cold]
    #[inline(never)]
    fn fail_at(&mut self, chunk_index: u32, ip: usize, e: VmError) -> Outcome {
        self.save_ip(ip);
        Outcome::Failed(Box::new(self.failure_at((chunk_index, ip as u32 - 1), e)))
    }

    /// The last part of a superinstruction whose word computed `r`,
    /// replacing the `consumed` values on top of the stack: where to
    /// continue (`after` is the op after the word), or `None`, with nothing
    /// changed, when the part would fail.
    #[inline(always)]
    fn finish_fused(&mut self, r: IntOutcome, then: Then, after: usize, consumed: usize) -> Option<usize> {
        match then {
            Then::Push => {
                self.pop_discard(consumed);
                self.stack.push(r.value());
                Some(after)
            }
            Then::Set(sym) => {
                self.assign_int(sym, r)?;
                self.pop_discard(consumed);
                Some(after + 1)
            }
            Then::JumpIfFalse(target) => {
                self.pop_discard(consumed);
                Some(if r.truthy() { after + 1 } else { target as usize })
            }
            Then::JumpIfTrue(target) => {
                self.pop_discard(consumed);
                Some(if r.truthy() { target as usize } else { after + 1 })
            }
        }
    }

    /// The value of a variable if it is an integer (a superinstruction's
    /// operand). Outside every call, which is the whole top level, only
    /// the globals are looked at.
    #[inline(always)]
    fn int_var(&self, sym: Symbol) -> Option<i64> {
        if self.vars.is_empty() {
            return self.global_int(sym);
        }
        match self.lookup(sym) {
            Some(Value::Int(n)) => Some(*n),
            _ => None,
        }
    }

    /// The value of a global if it is an integer.
    #[inline(always)]
    fn global_int(&self, sym: Symbol) -> Option<i64> {
        // One test: an unbound global (`None`) is not an integer either.
        match self.globals.get(sym.index()) {
            Some(Some(Value::Int(n))) => Some(*n),
            _ => None,
        }
    }

    /// Stores `n` in a global that holds an integer; false, with nothing
    /// changed, for any other global (the plain ops then assign it).
    #[inline(always)]
    fn set_global_int(&mut self, sym: Symbol, n: i64) -> bool {
        match self.globals.get_mut(sym.index()) {
            Some(Some(Value::Int(slot))) => {
                *slot = n;
                true
            }
            _ => false,
        }
    }

    /// `assign` of a fused result; an integer over an integer stores only
    /// the number.
    #[inline(always)]
    fn assign_int(&mut self, sym: Symbol, r: IntOutcome) -> Option<()> {
        let slot = if self.vars.is_empty() {
            match (self.globals.get_mut(sym.index()), r) {
                // The common case in one test, as in `int_var`.
                (Some(Some(Value::Int(n))), IntOutcome::Int(m)) => {
                    *n = m;
                    return Some(());
                }
                (Some(Some(slot)), _) => slot,
                _ => return None,
            }
        } else {
            self.slot(sym)?
        };
        match (slot, r) {
            (Value::Int(n), IntOutcome::Int(m)) => *n = m,
            (slot, r) => std::mem::replace(slot, r.value()).discard(),
        }
        Some(())
    }

    /// Pops `n` values (cheaply when they are numbers or bools).
    #[inline(always)]
    fn pop_discard(&mut self, n: usize) {
        for _ in 0..n {
            if let Some(v) = self.stack.pop() {
                v.discard();
            }
        }
    }

    /// `GetVar`: pushes the value of a variable.
    #[inline(always)]
    fn push_var(&mut self, sym: Symbol) -> Result<(), VmError> {
        match self.lookup(sym) {
            Some(v) => {
                let v = v.fast_clone();
                self.stack.push(v);
                Ok(())
            }
            None => Err(VmError::unknown_variable(sym.as_str())),
        }
    }

    /// `TakeVar`: moves the value out of the frame's own binding where the
    /// bindings end with the frame (a function's or a task's body); else,
    /// in a block run by a word, whose bindings are its caller's, reads it
    /// like `GetVar` (see `last_use.rs`).
    #[inline(never)]
    fn take_var(&mut self, sym: Symbol) -> Result<(), VmError> {
        let owns = matches!(
            self.frames.last(),
            Some(Frame::Code(CodeFrame { kind: FrameKind::Function(_) | FrameKind::Task(_), .. }))
        );
        match self.local(sym) {
            Some(i) if owns => {
                let v = std::mem::take(&mut self.vars[i].1);
                self.stack.push(v);
                Ok(())
            }
            _ => self.push_var(sym),
        }
    }

    /// `dup` when there is a value; false on an empty stack (the word
    /// then reports it).
    #[inline(always)]
    fn dup(&mut self) -> bool {
        let Some(v) = self.stack.last() else { return false };
        let v = v.fast_clone();
        self.stack.push(v);
        true
    }

    /// `Op::StrEq` on a string, run by `step` like `Op::IsOk`: whether it
    /// is `text`; false (its first part runs) on anything else.
    fn str_eq_in_place(&mut self, text: &str) -> bool {
        let Some(top) = self.stack.last_mut() else { return false };
        let Value::Str(s) = top else { return false };
        *top = Value::Bool(**s == *text);
        true
    }

    /// `Op::IsOk` on a Result (a socket loop's test of every answer), in
    /// place; false (`step` runs the word) on anything else.
    fn is_ok_in_place(&mut self) -> bool {
        let Some(top) = self.stack.last_mut() else { return false };
        let Value::Result(r) = top else { return false };
        let ok = matches!(**r, ResultValue::Ok(_));
        *top = Value::Bool(ok);
        true
    }

    /// `Op::Unwrap` on an ok Result, in place; false (`step` runs the
    /// word) on anything else. The value moves out of a Result nothing
    /// else holds (a socket answer taken from its variable), not copied
    /// and then dropped with it.
    fn unwrap_in_place(&mut self) -> bool {
        let Some(top) = self.stack.last_mut() else { return false };
        let Value::Result(r) = top else { return false };
        let v = match std::rc::Rc::get_mut(r) {
            Some(ResultValue::Ok(v)) => std::mem::take(v),
            Some(ResultValue::Err { .. }) => return false,
            None => match &**r {
                ResultValue::Ok(v) => v.clone(),
                ResultValue::Err { .. } => return false,
            },
        };
        *top = v;
        true
    }

    /// The integer fast path of the words `Op::Word` runs (comparisons,
    /// `/`, `%`). True when handled; otherwise (an error to report,
    /// another kind of value) `exec_word` runs the word.
    #[inline(always)]
    fn fast_word(&mut self, word: Word) -> bool {
        let [.., Value::Int(a), Value::Int(b)] = self.stack[..] else { return false };
        let Some(r) = int_word(word, a, b) else { return false };
        self.pop_discard(1);
        // Both operands are integers: nothing to drop.
        if let Some(slot) = self.stack.last_mut() {
            std::mem::replace(slot, r.value()).discard();
        }
        true
    }

    /// Starts a call of the user function compiled into `code`, chunk
    /// `chunk` (§6.1). The caller charges for it.
    #[inline(always)]
    fn call_function(&mut self, code: &Chunk, chunk: u32) -> Result<(), VmError> {
        let ChunkKind::Function { name: sym, inputs } = code.kind else {
            return Err(VmError::new(ErrorKind::Unsupported, "call of a chunk that is not a function"));
        };
        if self.stack.len() < inputs {
            return Err(VmError::underflow(sym.as_str(), inputs, self.stack.len()));
        }
        self.check_depth()?;
        let base = (self.stack.len() - inputs) as u32;
        let caller_scope = std::mem::replace(&mut self.scope, self.vars.len() as u32);
        self.frames.push(Frame::Code(CodeFrame { chunk, ip: 0, base, caller_scope, kind: FrameKind::Function(sym) }));
        Ok(())
    }

    /// Starts a block call with `args` values already on the stack.
    pub(crate) fn call_block(&mut self, block: u32, args: usize, runner: Word) -> Result<(), VmError> {
        self.check_depth()?;
        let base = (self.stack.len() - args) as u32;
        self.charge(self.program.chunks[block as usize].ops.len());
        self.frames.push(Frame::Code(CodeFrame {
            chunk: block,
            ip: 0,
            base,
            caller_scope: NO_SCOPE,
            kind: FrameKind::Block(runner),
        }));
        Ok(())
    }

    #[inline(always)]
    fn check_depth(&self) -> Result<(), VmError> {
        if self.frames.len() >= MAX_CALL_DEPTH || self.stack.len() >= MAX_STACK {
            return Err(self.depth_error());
        }
        Ok(())
    }

    /// The limit a call went past (see `check_depth`).
    #[cold]
    #[inline(never)]
    fn depth_error(&self) -> VmError {
        if self.frames.len() >= MAX_CALL_DEPTH {
            VmError::new(ErrorKind::Limit, format!("call depth limit exceeded: at most {MAX_CALL_DEPTH} nested calls"))
        } else {
            VmError::new(ErrorKind::Limit, format!("stack limit exceeded: at most {MAX_STACK} values"))
        }
    }

    /// Ends the current code frame with the base rule and hands the result
    /// to the frame below; where that frame goes on (chunk and instruction)
    /// if it is a code frame.
    #[inline(always)]
    fn return_from_frame(&mut self) -> Result<Option<CodeAt>, SiteError> {
        let Some(Frame::Code(f)) = self.frames.pop() else {
            return Ok(None);
        };
        if let FrameKind::Function(_) = f.kind {
            if self.vars.len() > self.scope as usize {
                self.vars.truncate(self.scope as usize);
            }
            self.scope = f.caller_scope;
        }
        let base = f.base as usize;
        let caller = match self.frames.last() {
            Some(Frame::Code(c)) => Some((c.chunk, c.ip as usize)),
            Some(Frame::Iter(_)) => {
                let result = result_above(&mut self.stack, base);
                self.iter_feed(result)?;
                return Ok(None);
            }
            None => None,
        };
        // One value above the base: the result is already in place (a
        // function that consumed its inputs and left one).
        if self.stack.len() != base + 1 {
            let result = result_above(&mut self.stack, base);
            self.stack.push(result);
        }
        Ok(caller)
    }

    /// The value of a variable: innermost function frame outwards, then the
    /// globals.
    #[inline(always)]
    pub(crate) fn lookup(&self, sym: Symbol) -> Option<&Value> {
        match self.local(sym) {
            Some(i) => Some(&self.vars[i].1),
            None => self.globals.get(sym.index()).and_then(Option::as_ref),
        }
    }

    /// Where the innermost call's binding of `sym` is in `vars`, if any
    /// call binds it. Scanned from the innermost call outwards: the first
    /// binding found is the innermost (names are distinct within a call's
    /// run). An index loop: outside every call `vars` is empty and the
    /// test is one compare (an iterator's set-up cost ten instructions per
    /// lookup of a global).
    #[inline(always)]
    fn local(&self, sym: Symbol) -> Option<usize> {
        let mut i = self.vars.len();
        while i > 0 {
            i -= 1;
            if self.vars[i].0 == sym {
                return Some(i);
            }
        }
        None
    }

    /// `set`: updates the innermost binding; gives the value back if none.
    pub(crate) fn assign(&mut self, sym: Symbol, v: Value) -> Result<(), Value> {
        match self.slot(sym) {
            Some(slot) => {
                std::mem::replace(slot, v).discard();
                Ok(())
            }
            None => Err(v),
        }
    }

    /// The innermost binding of `sym`, to assign it.
    #[inline(always)]
    fn slot(&mut self, sym: Symbol) -> Option<&mut Value> {
        match self.local(sym) {
            Some(i) => Some(&mut self.vars[i].1),
            None => self.globals.get_mut(sym.index())?.as_mut(),
        }
    }

    /// `var`: (re)binds in the current scope (DIALECT point 5).
    pub(crate) fn declare(&mut self, sym: Symbol, v: Value) {
        if self.scope != NO_SCOPE {
            let run = self.vars.get_mut(self.scope as usize..).unwrap_or_default();
            match run.iter_mut().find(|(k, _)| *k == sym) {
                Some(slot) => slot.1 = v,
                None => self.vars.push((sym, v)),
            }
            return;
        }
        let i = sym.index();
        if self.globals.len() <= i {
            self.globals.resize(i + 1, None);
        }
        self.globals[i] = Some(v);
    }

    /// Builds the failure report for an error at instruction `site`.
    pub(crate) fn failure_at(&self, site: (u32, u32), error: VmError) -> Failure {
        let span = self
            .program
            .chunks
            .get(site.0 as usize)
            .and_then(|c| c.spans.get(site.1 as usize))
            .copied()
            .unwrap_or_default();
        Failure { error, span, place: self.place(), raised_in: None }
    }

    /// Where the innermost code frame is, for the help line.
    fn place(&self) -> String {
        let kind = self.frames.iter().rev().find_map(|f| match f {
            Frame::Code(c) => Some(c.kind),
            Frame::Iter(_) => None,
        });
        match kind {
            None | Some(FrameKind::Main) => "at top level".to_string(),
            Some(FrameKind::Function(sym)) => format!("in function {}", sym.as_str()),
            Some(FrameKind::Block(word)) => format!("in a block run by {}", word.name()),
            Some(FrameKind::Task(id)) => format!("in task#{id}"),
        }
    }

    /// A pseudo-random number in `0..bound` (xorshift64*).
    pub(crate) fn random_below(&mut self, bound: u64) -> u64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d) % bound
    }

    /// Starts a higher-order word over `items`.
    pub(crate) fn start_iter(&mut self, frame: IterFrame) -> Result<Flow, VmError> {
        self.check_depth()?;
        self.frames.push(Frame::Iter(Box::new(frame)));
        Ok(Flow::Jumped)
    }

    /// `await_all`'s fast path: takes the results of the tasks it waits
    /// for that have finished, from the next one on, in one call to the
    /// host (`Host::take_results`), as far as `remaining` reductions pay
    /// for them at `answer_cost` each; the first task without a result
    /// ready is awaited through `perform`, like every task of a host that
    /// takes none.
    fn take_awaited(&mut self, host: &mut dyn Host, remaining: u64) {
        let Some(Frame::Iter(it)) = self.frames.last_mut() else { return };
        let Items::Tasks(tasks) = &it.items else { return };
        let tasks = tasks.borrow();
        let affordable = usize::try_from(remaining / EFFECT_COST).unwrap_or(usize::MAX);
        let end = tasks.len().min(it.index.saturating_add(affordable));
        let Some(waiting) = tasks.get(it.index..end) else { return };
        let before = it.out.len();
        host.take_results(waiting, &mut it.out);
        drop(tasks);
        let taken = &it.out[before..];
        it.index += taken.len();
        let cost: u64 = taken.iter().map(answer_cost).sum();
        self.charge(usize::try_from(cost).unwrap_or(usize::MAX));
    }

    /// Moves the iteration on top of the frames one step: runs the block on
    /// the next item, asks for the next task (await_all), or finishes.
    fn iter_advance(&mut self) -> Result<Flow, SiteError> {
        let Some(Frame::Iter(it)) = self.frames.last_mut() else {
            return Ok(Flow::Next);
        };
        let site = it.site;
        if it.has_next() {
            let i = it.index;
            if it.word == Word::AwaitAll {
                let Items::Tasks(tasks) = &it.items else {
                    return Ok(Flow::Next);
                };
                let Some(&Value::Task(id)) = tasks.borrow().get(i) else {
                    return Ok(Flow::Next);
                };
                self.blocked_site = site;
                return Ok(Flow::Block(Effect::Await(id)));
            }
            let (block, word) = (it.block, it.word);
            let args = push_args(it, &mut self.stack);
            self.call_block(block, args, word).map_err(|e| (site, e))?;
            return Ok(Flow::Jumped);
        }
        let Some(Frame::Iter(it)) = self.frames.pop() else {
            return Ok(Flow::Next);
        };
        let result = crate::words::collections::finish_iter(*it);
        self.stack.push(result);
        Ok(Flow::Jumped)
    }

    /// `EndBlock`: ends the block on top of the frames (`return_from_frame`)
    /// and, when an iteration runs it and has a next item, pushes that
    /// item's arguments and the same block's frame back at instruction 0
    /// (true: the depth and the stack's base as they were, no call set
    /// up). False: re-read the frames. The error is boxed so that the
    /// answer comes back in registers.
    #[inline(never)]
    fn end_block(&mut self) -> Result<bool, Box<SiteError>> {
        let [.., Frame::Iter(it), Frame::Code(block)] = &mut self.frames[..] else {
            return self.return_from_frame().map(|_| false).map_err(Box::new);
        };
        block.ip = 0;
        let result = result_above(&mut self.stack, block.base as usize);
        if let Err(e) = crate::words::collections::feed_iter(it, result) {
            let site = it.site;
            self.frames.pop();
            return Err(Box::new((site, e)));
        }
        if !it.has_next() {
            self.frames.pop();
            return Ok(false);
        }
        push_args(it, &mut self.stack);
        Ok(true)
    }

    /// Gives a block's result to the iteration waiting for it.
    #[inline(never)]
    fn iter_feed(&mut self, r: Value) -> Result<(), SiteError> {
        let Some(Frame::Iter(it)) = self.frames.last_mut() else {
            return Ok(());
        };
        let site = it.site;
        crate::words::collections::feed_iter(it, r).map_err(|e| (site, e))
    }
}

/// The result of a call whose frame's base is `base` (§6.1: the top
/// value above it, or nil), with the stack cut back to `base`.
#[inline]
fn result_above(stack: &mut Vec<Value>, base: usize) -> Value {
    let len = stack.len();
    let result = if len > base { stack.pop().unwrap_or_default() } else { Value::Nil };
    if len > base + 1 {
        // (Guarded: `truncate` calls the slice's drop even when empty.)
        stack.truncate(base);
    }
    result
}

/// Pushes the arguments of `it`'s block for its next item (the
/// accumulator first for `reduce`; a map's key and value); how many.
fn push_args(it: &mut IterFrame, stack: &mut Vec<Value>) -> usize {
    let mut args = 0;
    if it.word == Word::Reduce {
        stack.push(std::mem::take(&mut it.acc));
        args += 1;
    }
    match &it.items {
        Items::Map(v) => {
            let (k, val) = v[it.index].clone();
            stack.push(Value::Str(k));
            stack.push(val);
            args + 2
        }
        items => {
            stack.push(items.element(it.index));
            args + 1
        }
    }
}

/// Gives a vector's room back when at most half of it is used (see
/// `Vm::trim`).
fn shrink_spare<T>(v: &mut Vec<T>) {
    if 2 * v.len() <= v.capacity() {
        v.shrink_to_fit();
    }
}

/// `value` on an ok Result, for embedding hosts and tests.
pub fn unwrap_ok(v: &Value) -> Option<&Value> {
    match v {
        Value::Result(r) => match &**r {
            ResultValue::Ok(v) => Some(v),
            ResultValue::Err { .. } => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::shrink_spare;

    /// Room more than half used is kept (a VM parking one level deeper
    /// each time must not reallocate its frames at every park); room at
    /// most half used is given back.
    #[test]
    fn spare_room_is_given_back_only_when_half_empty() {
        let mut v: Vec<u64> = Vec::with_capacity(8);
        v.extend([1, 2, 3, 4, 5]);
        shrink_spare(&mut v);
        assert_eq!(v.capacity(), 8);
        v.truncate(4);
        shrink_spare(&mut v);
        assert_eq!(v.capacity(), 4);
    }
}
