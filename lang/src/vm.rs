//! `Vm`: the resumable virtual machine.
//!
//! All interpreter state (operand stack, call frames with their instruction
//! pointers, variable frames, the state of `each`/`transform`/... loops and
//! of `await_all`) lives in this heap object; language-level calls never
//! recurse on the Rust stack. `Vm::run(host, budget)` executes at most
//! `budget` instructions and returns an `Outcome`: finished, failed, exited,
//! out of budget (call `run` again), or blocked on an `Effect` (answer it
//! with `resume`, then call `run` again).
//!
//! Invariants: a `CodeFrame`'s `base` never exceeds the stack length at the
//! time it was pushed; the result of every function or block call follows
//! the base rule (§6.1): the top value above `base` or nil, and the stack
//! cut back to `base`; a frame that failed leaves the VM in the `Failed`
//! state, and a failed, finished or exited VM never runs again.

use crate::chunk::{ChunkKind, Program, Span};
use crate::diagnostic;
use crate::error::{ErrorKind, VmError};
use crate::host::{Effect, Host};
use crate::op::{Decl, Op};
use crate::symbol::Symbol;
use crate::value::{ResultValue, Value};
use crate::word::Word;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

/// How many calls may be nested before the VM reports a limit error.
pub const MAX_CALL_DEPTH: usize = 100_000;
/// How many values the operand stack may hold.
pub const MAX_STACK: usize = 50_000_000;

const NO_FUNCTION: u32 = u32::MAX;

/// Why `run` returned.
#[derive(Debug)]
pub enum Outcome {
    /// The program ended; the values left on the stack, bottom first (for a
    /// task: its one result).
    Finished(Vec<Value>),
    /// An uncaught error ended the program.
    Failed(Box<Failure>),
    /// `N exit` ran.
    Exited(i32),
    /// The instruction budget ran out; call `run` again.
    Yielded,
    /// Waiting on an effect; `resume` with its answer, then `run` again.
    Blocked(Effect),
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
    pub kind: FrameKind,
}

/// The elements a higher-order word walks over (a snapshot).
#[derive(Debug)]
pub(crate) enum Items {
    Seq(Vec<Value>),
    Map(Vec<(Arc<str>, Value)>),
}

impl Items {
    fn len(&self) -> usize {
        match self {
            Items::Seq(v) => v.len(),
            Items::Map(v) => v.len(),
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
    pub(crate) program: Arc<Program>,
    pub(crate) stack: Vec<Value>,
    pub(crate) frames: Vec<Frame>,
    /// Variable frames, one per function call, innermost last.
    pub(crate) vars: Vec<Vec<(Symbol, Value)>>,
    pub(crate) globals: Vec<Option<Value>>,
    /// Chunk of each user function, indexed by its symbol.
    pub(crate) functions: Vec<u32>,
    pub(crate) rng: u64,
    state: State,
    /// The instruction an effect was started by (blamed if it fails).
    blocked_site: (u32, u32),
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm").field("stack", &self.stack.len()).field("frames", &self.frames.len()).finish()
    }
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
}

impl Vm {
    /// A VM that will run `program`'s top level.
    pub fn new(program: Arc<Program>) -> Vm {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        Vm {
            program,
            stack: Vec::with_capacity(64),
            frames: vec![Frame::Code(CodeFrame { chunk: 0, ip: 0, base: 0, kind: FrameKind::Main })],
            vars: Vec::new(),
            globals: Vec::new(),
            functions: Vec::new(),
            rng: seed | 1,
            state: State::Ready,
            blocked_site: (0, 0),
        }
    }

    /// The program this VM runs.
    pub fn program(&self) -> &Arc<Program> {
        &self.program
    }

    /// A VM for a spawned task: it runs `block` with a deep copy of the
    /// bindings visible now (DIALECT point 6) and an empty stack.
    pub(crate) fn fork(&self, block: u32, task: u64) -> Vm {
        let mut memo = crate::value::CopyMemo::default();
        Vm {
            program: self.program.clone(),
            stack: Vec::new(),
            frames: vec![Frame::Code(CodeFrame { chunk: block, ip: 0, base: 0, kind: FrameKind::Task(task) })],
            vars: self.vars.iter().map(|f| f.iter().map(|(k, v)| (*k, v.deep_copy_in(&mut memo))).collect()).collect(),
            globals: self.globals.iter().map(|g| g.as_ref().map(|v| v.deep_copy_in(&mut memo))).collect(),
            functions: self.functions.clone(),
            rng: self.rng.wrapping_mul(6364136223846793005).wrapping_add(task | 1) | 1,
            state: State::Ready,
            blocked_site: (0, 0),
        }
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

    /// Answers the effect the VM is blocked on.
    pub fn resume(&mut self, answer: Resume) -> Result<(), Box<Failure>> {
        self.state = State::Ready;
        let err = match answer {
            Resume::Done => return Ok(()),
            Resume::Value(v) => return self.deliver(v),
            Resume::Error(e) => e,
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
        self.stack.push(v);
        Ok(())
    }

    /// Runs at most `budget` instructions.
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
        let outcome = self.execute(host, budget);
        match &outcome {
            Outcome::Blocked(_) => self.state = State::Blocked,
            Outcome::Yielded => {}
            _ => self.state = State::Over,
        }
        outcome
    }

    fn execute(&mut self, host: &mut dyn Host, budget: u64) -> Outcome {
        let prog = self.program.clone();
        let mut remaining = budget;
        'frames: loop {
            let (chunk_index, mut ip) = match self.frames.last() {
                Some(Frame::Code(f)) => (f.chunk, f.ip as usize),
                Some(Frame::Iter(_)) => {
                    match self.iter_advance() {
                        Ok(Flow::Block(effect)) => return Outcome::Blocked(effect),
                        Ok(_) => {}
                        Err((site, e)) => return Outcome::Failed(Box::new(self.failure_at(site, e))),
                    }
                    continue 'frames;
                }
                None => {
                    let result = self.stack.pop().unwrap_or(Value::Nil);
                    return Outcome::Finished(vec![result]);
                }
            };
            let chunk = &prog.chunks[chunk_index as usize];
            let ops = &chunk.ops[..];
            macro_rules! save_ip {
                () => {
                    if let Some(Frame::Code(f)) = self.frames.last_mut() {
                        f.ip = ip as u32;
                    }
                };
            }
            macro_rules! fail {
                ($e:expr) => {{
                    save_ip!();
                    return Outcome::Failed(Box::new(self.failure_at((chunk_index, ip as u32 - 1), $e)));
                }};
            }
            loop {
                if remaining == 0 {
                    save_ip!();
                    return Outcome::Yielded;
                }
                remaining -= 1;
                let op = ops[ip];
                ip += 1;
                match op {
                    Op::PushInt(n) => self.stack.push(Value::Int(n)),
                    Op::PushFloat(f) => self.stack.push(Value::Float(f)),
                    Op::PushStr(i) => self.stack.push(Value::Str(prog.strings[i as usize].clone())),
                    Op::PushNil => self.stack.push(Value::Nil),
                    Op::PushTrue => self.stack.push(Value::Bool(true)),
                    Op::PushFalse => self.stack.push(Value::Bool(false)),
                    Op::PushBlock(c) => self.stack.push(Value::Block(crate::value::BlockId(c))),
                    Op::GetVar(sym) => match self.lookup(sym) {
                        Some(v) => {
                            let v = v.clone();
                            self.stack.push(v);
                        }
                        None => fail!(VmError::unknown_variable(sym.as_str())),
                    },
                    Op::SetVar(sym) => {
                        let Some(v) = self.stack.pop() else { fail!(VmError::underflow("set", 1, 0)) };
                        if let Err(v) = self.assign(sym, v) {
                            self.stack.push(v);
                            fail!(VmError::unknown_variable(sym.as_str()));
                        }
                    }
                    Op::Declare(sym, decl) => {
                        let v = match decl {
                            Decl::Var => self.stack.pop().unwrap_or(Value::Nil),
                            Decl::Array => Value::array(Vec::new()),
                            Decl::List => Value::List(Rc::new(RefCell::new(Vec::new()))),
                            Decl::Set => Value::Set(Rc::new(RefCell::new(Vec::new()))),
                            Decl::Map => Value::map(BTreeMap::new()),
                        };
                        self.declare(sym, v);
                    }
                    Op::Jump(t) => ip = t as usize,
                    Op::JumpIfFalse(t) => {
                        let Some(v) = self.stack.pop() else {
                            let word = if matches!(prog.text(chunk.spans[ip - 1]), "while") { "while" } else { "if" };
                            fail!(VmError::underflow(word, 1, 0))
                        };
                        match v.truthy() {
                            Some(true) => {}
                            Some(false) => ip = t as usize,
                            None => {
                                self.stack.push(v);
                                fail!(VmError::result_condition())
                            }
                        }
                    }
                    Op::Word(word) => {
                        if let Some(done) = self.fast_word(word) {
                            if done {
                                continue;
                            }
                        }
                        save_ip!();
                        let name = prog.text(chunk.spans[ip - 1]);
                        match self.exec_word(word, name, host, (chunk_index, ip as u32 - 1)) {
                            Ok(Flow::Next) => {}
                            Ok(Flow::Jumped) => continue 'frames,
                            Ok(Flow::Block(effect)) => {
                                self.blocked_site = (chunk_index, ip as u32 - 1);
                                return Outcome::Blocked(effect);
                            }
                            Ok(Flow::Exit(code)) => return Outcome::Exited(code),
                            Err(e) => fail!(e),
                        }
                    }
                    Op::Call(sym, method) => {
                        save_ip!();
                        let site = (chunk_index, ip as u32 - 1);
                        let result = match self.functions.get(sym.index()) {
                            Some(&c) if c != NO_FUNCTION => self.call_function(sym, c),
                            _ => match method {
                                Some(word) if self.supports(word) => self.exec_word(word, sym.as_str(), host, site),
                                _ => Err(VmError::unknown_word(sym.as_str())),
                            },
                        };
                        match result {
                            Ok(Flow::Next) => {}
                            Ok(Flow::Jumped) => continue 'frames,
                            Ok(Flow::Block(effect)) => {
                                self.blocked_site = site;
                                return Outcome::Blocked(effect);
                            }
                            Ok(Flow::Exit(code)) => return Outcome::Exited(code),
                            Err(e) => fail!(e),
                        }
                    }
                    Op::DefineFunction(c) => {
                        if let ChunkKind::Function { name, .. } = prog.chunks[c as usize].kind {
                            let i = name.index();
                            if self.functions.len() <= i {
                                self.functions.resize(i + 1, NO_FUNCTION);
                            }
                            self.functions[i] = c;
                        }
                    }
                    Op::Return | Op::End => {
                        let top_level =
                            matches!(self.frames.last(), Some(Frame::Code(f)) if matches!(f.kind, FrameKind::Main));
                        if top_level {
                            if matches!(op, Op::Return) {
                                fail!(VmError::new(ErrorKind::Unsupported, "unsupported opcode: Return"));
                            }
                            save_ip!();
                            return Outcome::Finished(std::mem::take(&mut self.stack));
                        }
                        save_ip!();
                        if let Err((site, e)) = self.return_from_frame() {
                            return Outcome::Failed(Box::new(self.failure_at(site, e)));
                        }
                        continue 'frames;
                    }
                }
            }
        }
    }

    /// Integer fast paths of hot words; `Some(true)` when handled.
    #[inline]
    fn fast_word(&mut self, word: Word) -> Option<bool> {
        let n = self.stack.len();
        if n < 2 {
            return None;
        }
        let (Value::Int(a), Value::Int(b)) = (&self.stack[n - 2], &self.stack[n - 1]) else {
            return None;
        };
        let (a, b) = (*a, *b);
        let r = match word {
            Word::Add => Value::Int(a.checked_add(b)?),
            Word::Sub => Value::Int(a.checked_sub(b)?),
            Word::Mul => Value::Int(a.checked_mul(b)?),
            Word::Lt => Value::Bool(a < b),
            Word::Gt => Value::Bool(a > b),
            Word::Le => Value::Bool(a <= b),
            Word::Ge => Value::Bool(a >= b),
            Word::Eq => Value::Bool(a == b),
            _ => return None,
        };
        self.stack.truncate(n - 2);
        self.stack.push(r);
        Some(true)
    }

    /// Starts a user function call (§6.1).
    fn call_function(&mut self, sym: Symbol, chunk: u32) -> Result<Flow, VmError> {
        let inputs = match self.program.chunks[chunk as usize].kind {
            ChunkKind::Function { inputs, .. } => inputs,
            _ => 0,
        };
        if self.stack.len() < inputs {
            return Err(VmError::underflow(sym.as_str(), inputs, self.stack.len()));
        }
        self.check_depth()?;
        let base = (self.stack.len() - inputs) as u32;
        self.vars.push(Vec::new());
        self.frames.push(Frame::Code(CodeFrame { chunk, ip: 0, base, kind: FrameKind::Function(sym) }));
        Ok(Flow::Jumped)
    }

    /// Starts a block call with `args` values already on the stack.
    pub(crate) fn call_block(&mut self, block: u32, args: usize, runner: Word) -> Result<(), VmError> {
        self.check_depth()?;
        let base = (self.stack.len() - args) as u32;
        self.frames.push(Frame::Code(CodeFrame { chunk: block, ip: 0, base, kind: FrameKind::Block(runner) }));
        Ok(())
    }

    fn check_depth(&self) -> Result<(), VmError> {
        if self.frames.len() >= MAX_CALL_DEPTH {
            return Err(VmError::new(
                ErrorKind::Limit,
                format!("call depth limit exceeded: at most {MAX_CALL_DEPTH} nested calls"),
            ));
        }
        if self.stack.len() >= MAX_STACK {
            return Err(VmError::new(ErrorKind::Limit, format!("stack limit exceeded: at most {MAX_STACK} values")));
        }
        Ok(())
    }

    /// Ends the current code frame with the base rule and hands the result
    /// to the frame below.
    fn return_from_frame(&mut self) -> Result<(), ((u32, u32), VmError)> {
        let Some(Frame::Code(f)) = self.frames.pop() else {
            return Ok(());
        };
        let base = f.base as usize;
        let result = if self.stack.len() > base { self.stack.pop().unwrap_or(Value::Nil) } else { Value::Nil };
        self.stack.truncate(base);
        if let FrameKind::Function(_) = f.kind {
            self.vars.pop();
        }
        match self.frames.last_mut() {
            None => self.stack.push(result),
            Some(Frame::Code(_)) => self.stack.push(result),
            Some(Frame::Iter(_)) => self.iter_feed(result)?,
        }
        Ok(())
    }

    /// The value of a variable: innermost function frame outwards, then the
    /// globals.
    pub(crate) fn lookup(&self, sym: Symbol) -> Option<&Value> {
        for frame in self.vars.iter().rev() {
            if let Some((_, v)) = frame.iter().find(|(k, _)| *k == sym) {
                return Some(v);
            }
        }
        self.globals.get(sym.index()).and_then(Option::as_ref)
    }

    /// `set`: updates the innermost binding; gives the value back if none.
    pub(crate) fn assign(&mut self, sym: Symbol, v: Value) -> Result<(), Value> {
        for frame in self.vars.iter_mut().rev() {
            if let Some(slot) = frame.iter_mut().find(|(k, _)| *k == sym) {
                slot.1 = v;
                return Ok(());
            }
        }
        match self.globals.get_mut(sym.index()) {
            Some(Some(slot)) => {
                *slot = v;
                Ok(())
            }
            _ => Err(v),
        }
    }

    /// `var`: (re)binds in the current scope (DIALECT point 5).
    pub(crate) fn declare(&mut self, sym: Symbol, v: Value) {
        if let Some(frame) = self.vars.last_mut() {
            match frame.iter_mut().find(|(k, _)| *k == sym) {
                Some(slot) => slot.1 = v,
                None => frame.push((sym, v)),
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

    /// Moves the iteration on top of the frames one step: runs the block on
    /// the next item, asks for the next task (await_all), or finishes.
    fn iter_advance(&mut self) -> Result<Flow, ((u32, u32), VmError)> {
        let Some(Frame::Iter(it)) = self.frames.last_mut() else {
            return Ok(Flow::Next);
        };
        let site = it.site;
        if !it.done && it.index < it.items.len() {
            let i = it.index;
            if it.word == Word::AwaitAll {
                let Items::Seq(tasks) = &it.items else {
                    return Ok(Flow::Next);
                };
                let Value::Task(id) = tasks[i] else {
                    return Ok(Flow::Next);
                };
                self.blocked_site = site;
                return Ok(Flow::Block(Effect::Await(id)));
            }
            let block = it.block;
            let word = it.word;
            let mut args = 0;
            if word == Word::Reduce {
                let acc = std::mem::take(&mut it.acc);
                self.stack.push(acc);
                args += 1;
            }
            let Some(Frame::Iter(it)) = self.frames.last_mut() else {
                return Ok(Flow::Next);
            };
            match &it.items {
                Items::Seq(v) => {
                    let item = v[i].clone();
                    self.stack.push(item);
                    args += 1;
                }
                Items::Map(v) => {
                    let (k, val) = v[i].clone();
                    self.stack.push(Value::Str(k));
                    self.stack.push(val);
                    args += 2;
                }
            }
            self.call_block(block, args, word).map_err(|e| (site, e))?;
            return Ok(Flow::Jumped);
        }
        let Some(Frame::Iter(it)) = self.frames.pop() else {
            return Ok(Flow::Next);
        };
        let result = crate::builtins::finish_iter(*it);
        self.stack.push(result);
        Ok(Flow::Jumped)
    }

    /// Gives a block's result to the iteration waiting for it.
    fn iter_feed(&mut self, r: Value) -> Result<(), ((u32, u32), VmError)> {
        let Some(Frame::Iter(it)) = self.frames.last_mut() else {
            return Ok(());
        };
        let site = it.site;
        crate::builtins::feed_iter(it, r).map_err(|e| (site, e))
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
