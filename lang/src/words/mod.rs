//! The built-in words: what each one does to the stack (REFERENCE-LANGUAGE
//! §7, amended by DIALECT), one module of handlers per domain. The table
//! in `word.rs` gives each word its arity, its handler and, for a receiver
//! method, the receivers it accepts; this module runs a word from its
//! entry (`Vm::exec_word`, `Vm::supports`) and holds what the domains
//! share: the handlers' calling convention (`Cx`, `Handler`), the operand
//! helpers and the receiver tests.
//!
//! Invariants: a word's arity is checked here, once, before its handler
//! runs (`stack underflow in WORD: needed N, available M`), after the
//! socket gate for a socket word; before both, a word that acts outside
//! its task pauses a run ahead (`Host::ahead`: `Flow::Pause`, nothing
//! changed); a handler checks its operands before it
//! changes the stack, so a failing word leaves the stack as it found it
//! (§6.4); messages name the word as the program spelled it (`Cx::name`,
//! sliced from the source only then);
//! higher-order words never call a block themselves: they push an
//! `IterFrame` and the VM's loop runs the block (`collections::feed_iter`,
//! `collections::finish_iter`); a word whose work grows with its operands
//! charges that work to the reduction budget (`Vm::charge`: one per
//! element, `bytes` per string).

pub(crate) mod arith;
pub(crate) mod collections;
pub(crate) mod control;
pub(crate) mod convert;
pub(crate) mod introspect;
pub(crate) mod io;
pub(crate) mod results;
pub mod sockets;
pub(crate) mod stack;
pub(crate) mod strings;
pub(crate) mod tasks;

use crate::chunk::Span;
use crate::error::VmError;
use crate::host::Host;
use crate::value::Value;
use crate::vm::{Flow, Vm};
use crate::word::Word;
use arcstr::ArcStr;

type R = Result<Flow, VmError>;

/// What a handler is given besides the VM.
pub(crate) struct Cx<'a> {
    /// The word running (a handler serving several words tells them apart
    /// by it).
    pub word: Word,
    /// The word as the program spelled it (`Cx::name`, sliced from the
    /// source only then).
    pub spelled: Spelled<'a>,
    pub host: &'a mut dyn Host,
    /// The instruction running the word (blamed by the iterations it
    /// starts).
    pub site: (u32, u32),
}

impl<'a> Cx<'a> {
    /// The word as the program spelled it, for messages.
    pub fn name(&self) -> &'a str {
        self.spelled.text()
    }
}

/// Where the program spells a word: the source and the word's span in
/// it, sliced only when a message (or a word told apart by its spelling)
/// needs the text. Slicing it for every word run cost about 30
/// instructions.
#[derive(Clone, Copy)]
pub(crate) struct Spelled<'a> {
    source: &'a str,
    span: Span,
}

impl<'a> Spelled<'a> {
    /// The word at `span` of `source`.
    pub(crate) fn at(source: &'a str, span: Span) -> Spelled<'a> {
        Spelled { source, span }
    }

    /// A word spelled `name`, outside any source.
    #[cfg(test)]
    pub(crate) fn name(name: &'a str) -> Spelled<'a> {
        Spelled { source: name, span: Span::new(0, name.len()) }
    }

    pub(crate) fn text(self) -> &'a str {
        self.span.text(self.source)
    }
}

/// What a word does, its arity already checked.
pub(crate) type Handler = fn(&mut Vm, Cx<'_>) -> R;

/// Whether the stack (top last) holds a receiver a method accepts.
pub(crate) type Receiver = fn(&[Value]) -> bool;

impl Vm {
    /// Runs one built-in word from its entry in the table, spelled as
    /// `spelled`; `site` is the instruction.
    #[inline]
    pub(crate) fn exec_word(&mut self, word: Word, spelled: Spelled<'_>, host: &mut dyn Host, site: (u32, u32)) -> R {
        if word.acts_outside() {
            if host.ahead() {
                return Ok(Flow::Pause);
            }
            if word.is_socket() {
                sockets::gate(host, spelled)?;
            }
        }
        let entry = word.entry();
        if self.stack.len() < entry.arity {
            return Err(VmError::underflow(spelled.text(), entry.arity, self.stack.len()));
        }
        (entry.handler)(self, Cx { word, spelled, host, site })
    }

    /// Whether the value on top of the stack supports receiver method
    /// `word` (a fixed word takes anything).
    pub(crate) fn supports(&self, word: Word) -> bool {
        word.entry().receiver.is_none_or(|accepts| accepts(&self.stack))
    }

    /// The value `i` places below the top (0 = top). The arity covers it.
    fn peek(&self, i: usize) -> &Value {
        &self.stack[self.stack.len() - 1 - i]
    }

    fn pop(&mut self) -> Value {
        self.stack.pop().unwrap_or(Value::Nil)
    }

    /// Pops `n` values and pushes `v`. (Most words take one or two values:
    /// `v` then goes in place of the last one taken, with no truncation
    /// loop and no capacity check.)
    fn replace(&mut self, n: usize, v: Value) -> R {
        if n == 2 {
            self.stack.pop();
        }
        match self.stack.last_mut() {
            Some(top) if n == 1 || n == 2 => *top = v,
            _ => {
                let len = self.stack.len();
                self.stack.truncate(len - n);
                self.stack.push(v);
            }
        }
        Ok(Flow::Next)
    }
}

/// The receivers of the methods (REFERENCE-LANGUAGE §6.3): a method runs
/// only on them; on anything else the call is an unknown word.
pub(crate) mod receiver {
    use super::is_coll;
    use crate::value::Value;

    fn is_seq(v: &Value) -> bool {
        matches!(v, Value::Array(_) | Value::List(_) | Value::Set(_))
    }

    /// A block on top and, under it, a value that passes `f` (a
    /// higher-order method with its block after its receiver, DIALECT 11).
    fn block_over(stack: &[Value], f: fn(&Value) -> bool) -> bool {
        matches!(stack, [.., under, Value::Block(_)] if f(under))
    }

    pub(crate) fn string(stack: &[Value]) -> bool {
        matches!(stack.last(), Some(Value::Str(_)))
    }

    pub(crate) fn string_or_collection(stack: &[Value]) -> bool {
        stack.last().is_some_and(|v| matches!(v, Value::Str(_)) || is_coll(v))
    }

    pub(crate) fn string_or_sequence(stack: &[Value]) -> bool {
        stack.last().is_some_and(|v| matches!(v, Value::Str(_)) || is_seq(v))
    }

    pub(crate) fn map(stack: &[Value]) -> bool {
        matches!(stack.last(), Some(Value::Map(_)))
    }

    pub(crate) fn collection(stack: &[Value]) -> bool {
        stack.last().is_some_and(is_coll)
    }

    pub(crate) fn collection_or_block(stack: &[Value]) -> bool {
        collection(stack) || block_over(stack, is_coll)
    }

    pub(crate) fn sequence_or_block(stack: &[Value]) -> bool {
        stack.last().is_some_and(is_seq) || block_over(stack, is_seq)
    }

    pub(crate) fn result(stack: &[Value]) -> bool {
        matches!(stack.last(), Some(Value::Result(_)))
    }

    pub(crate) fn result_or_block(stack: &[Value]) -> bool {
        result(stack) || block_over(stack, |v| matches!(v, Value::Result(_)))
    }

    pub(crate) fn task(stack: &[Value]) -> bool {
        matches!(stack.last(), Some(Value::Task(_)))
    }
}

fn is_coll(v: &Value) -> bool {
    matches!(v, Value::Array(_) | Value::List(_) | Value::Set(_) | Value::Map(_))
}

/// An integer operand, or `expected number`.
fn int_arg(word: &str, v: &Value) -> Result<i64, VmError> {
    match v {
        Value::Int(n) => Ok(*n),
        other => Err(VmError::type_error(word, "number", other.kind())),
    }
}

/// A non-negative index operand, or the reference's error for it.
fn index_arg(word: &str, v: &Value) -> Result<usize, VmError> {
    match v {
        Value::Int(n) if *n < 0 => Err(VmError::invalid(word, format!("index cannot be negative: {n}"))),
        Value::Int(n) => Ok(usize::try_from(*n).unwrap_or(usize::MAX)),
        other => Err(VmError::type_error(word, "non-negative index", other.kind())),
    }
}

fn count_arg(word: &str, v: &Value) -> Result<usize, VmError> {
    match v {
        Value::Int(n) if *n < 0 => Err(VmError::invalid(word, format!("count cannot be negative: {n}"))),
        Value::Int(n) => Ok(usize::try_from(*n).unwrap_or(usize::MAX)),
        other => Err(VmError::type_error(word, "number", other.kind())),
    }
}

fn str_arg<'v>(word: &str, v: &'v Value, expected: &str) -> Result<&'v ArcStr, VmError> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(VmError::type_error(word, expected, other.kind())),
    }
}

/// The reductions for scanning or building `len` bytes of string (a
/// reduction, one plain instruction, costs about as much as copying 16
/// bytes).
fn bytes(len: usize) -> usize {
    len / 16
}

/// The reductions for a word whose work is proportional to the size of `v`
/// (shallow: the length of a string or collection; rendering and comparing
/// words use it for the value they walk).
fn weight(v: &Value) -> usize {
    match v {
        Value::Str(s) => bytes(s.len()),
        Value::Array(s) | Value::List(s) | Value::Set(s) => s.borrow().len(),
        Value::Map(m) => m.borrow().len(),
        _ => 0,
    }
}
