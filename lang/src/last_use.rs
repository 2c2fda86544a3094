//! Last uses: the reads of a variable after which its value is never read
//! again, compiled to `TakeVar`, so that the value moves out instead of
//! being copied, and is freed where it was last used (while it is still in
//! the cache) rather than when the name is next assigned. A connection's
//! loop `$r value chunk set ... $chunk "data" at tcp_write` frees each
//! round's result and chunk within the round.
//!
//! Names are looked up at run time, innermost binding first, so a read may
//! move only where nothing else can see the binding afterwards. Here that
//! is proved per chunk, from its bytecode:
//!
//! * the chunk is a function's or a block's (the top level's bindings are
//!   globals, seen by every function);
//! * its code runs no other code and lets no word look at its bindings:
//!   no block is pushed, no user function called, and no word that can see
//!   the bindings of its caller runs (`Word::sees_bindings`: `get`, `set`,
//!   `var`, `call`, `spawn`, the words that run blocks), not even as a
//!   receiver method (a method whose name a user function also has may
//!   call that function);
//! * the chunk itself declares the name on every path to the read (a
//!   forward analysis; a block run again by `EndBlock` keeps its bindings,
//!   but its first instruction is taken to know none), so the binding read
//!   is the frame's own, not an outer one of the same name;
//! * on no path from the read is the name read again before the chunk
//!   assigns or declares it (a backward liveness analysis; `EndBlock` may
//!   go on at instruction 0, and a fused superinstruction may skip its
//!   parts).
//!
//! The bindings a block declares belong to the frame that runs it: a
//! task's (they end with the task) or, for a block run by `call` or an
//! iteration, its caller's, which outlive the block. So `TakeVar` moves only
//! in a function's or a task's body and reads like `GetVar` elsewhere
//! (`Vm::take_var`).
//!
//! Invariants: only plain `GetVar` ops change, into `TakeVar` of the same
//! name (spans, jumps and superinstructions stay as they are); at most the
//! first 64 names a chunk declares are tracked; each analysis runs to a
//! fixed point by worklist, iteratively (an instruction's set of names only
//! shrinks, or only grows, at most 64 times, and each change queues only
//! its neighbours: a chunk costs at most 65 looks per edge).

use crate::chunk::{Chunk, ChunkKind};
use crate::op::Op;
use crate::symbol::Symbol;

/// The tracked names of a chunk: bit `i` is `names[i]`.
type Names = u64;

/// Rewrites the last uses of the chunks' own variables into `TakeVar`.
/// `functions` tells which names a user function has (`Program::functions`).
pub(crate) fn mark(chunks: &mut [Chunk], functions: &[Vec<(u32, u32)>]) {
    let has_function = |s: Symbol| functions.get(s.index()).is_some_and(|defs| !defs.is_empty());
    for chunk in chunks {
        if matches!(chunk.kind, ChunkKind::Main) || !sealed(&chunk.ops, has_function) {
            continue;
        }
        mark_chunk(&mut chunk.ops);
    }
}

/// Whether the chunk's code runs no other code and no word that can see
/// its bindings.
fn sealed(ops: &[Op], has_function: impl Fn(Symbol) -> bool) -> bool {
    ops.iter().all(|op| match *op {
        Op::PushBlock(_) | Op::CallChunk(..) | Op::Call(_, None) | Op::DefineFunction(_) => false,
        Op::Call(name, Some(method)) => !has_function(name) && !method.sees_bindings(),
        Op::Word(w) | Op::VarVar(_, _, w, _) | Op::VarInt(_, _, w, _) | Op::TopInt(_, w, _) | Op::DupInt(_, w, _) => {
            !w.sees_bindings()
        }
        _ => true,
    })
}

fn mark_chunk(ops: &mut [Op]) {
    let mut names: Vec<Symbol> = Vec::new();
    for op in ops.iter() {
        if let Op::Declare(s, _) = *op {
            if !names.contains(&s) && names.len() < Names::BITS as usize {
                names.push(s);
            }
        }
    }
    if names.is_empty() {
        return;
    }
    let bit = |s: Symbol| names.iter().position(|&n| n == s).map_or(0, |i| 1 << i);
    let n = ops.len();
    // The instructions each may go on at (none: the frame ends).
    let successors: Vec<Vec<usize>> = (0..n).map(|i| successors(ops, i)).collect();
    let declared = declared_before(ops, &successors, &bit);
    let live = live_after(ops, &successors, &bit);
    for i in 0..n {
        if let Op::GetVar(s) = ops[i] {
            let b = bit(s);
            if b != 0 && declared[i] & b != 0 && live[i] & b == 0 {
                ops[i] = Op::TakeVar(s);
            }
        }
    }
}

/// Where instruction `i` may go on: after itself, after the parts it
/// covers, at its jump target; instruction 0 again after `EndBlock`.
fn successors(ops: &[Op], i: usize) -> Vec<usize> {
    let op = ops[i];
    let mut next = match op {
        Op::Jump(_) | Op::End | Op::Return => Vec::new(),
        Op::EndBlock => vec![0],
        _ => vec![i + 1, i + op.covers()],
    };
    next.extend(op.jump_target().map(|t| t as usize));
    next.retain(|&j| j < ops.len());
    next.sort_unstable();
    next.dedup();
    next
}

/// For each instruction, the tracked names the chunk has declared on
/// every path to it (a must analysis: start from "all", meet by
/// intersection; instruction 0 knows none). A worklist: an instruction is
/// looked at again only when what reaches it changed.
fn declared_before(ops: &[Op], successors: &[Vec<usize>], bit: &impl Fn(Symbol) -> Names) -> Vec<Names> {
    let n = ops.len();
    let mut before = vec![Names::MAX; n];
    let mut work = Worklist::all(n);
    if let Some(first) = before.first_mut() {
        *first = 0;
    }
    while let Some(i) = work.pop() {
        let after = match ops[i] {
            Op::Declare(s, _) => before[i] | bit(s),
            _ => before[i],
        };
        for &j in &successors[i] {
            let met = if j == 0 { 0 } else { before[j] & after };
            if met != before[j] {
                before[j] = met;
                work.push(j);
            }
        }
    }
    before
}

/// For each instruction, the tracked names read on some path after it
/// before being assigned or declared again (a may analysis, backwards, by
/// worklist). A fused op's own assignment (`Then::Set`) is not counted: its
/// plain part assigns on the other path.
fn live_after(ops: &[Op], successors: &[Vec<usize>], bit: &impl Fn(Symbol) -> Names) -> Vec<Names> {
    let n = ops.len();
    let mut predecessors = vec![Vec::new(); n];
    for (i, next) in successors.iter().enumerate() {
        for &j in next {
            predecessors[j].push(i);
        }
    }
    let mut live_in = vec![0 as Names; n];
    let mut live_out = vec![0 as Names; n];
    let mut work = Worklist::all(n);
    while let Some(i) = work.pop() {
        live_out[i] = successors[i].iter().fold(0, |acc, &j| acc | live_in[j]);
        let (read, written) = match ops[i] {
            Op::GetVar(s) | Op::TakeVar(s) => (bit(s), 0),
            Op::VarVar(a, b, ..) => (bit(a) | bit(b), 0),
            Op::VarInt(a, ..) => (bit(a), 0),
            Op::SetVar(s) | Op::Declare(s, _) => (0, bit(s)),
            _ => (0, 0),
        };
        let inn = read | (live_out[i] & !written);
        if inn != live_in[i] {
            live_in[i] = inn;
            for &p in &predecessors[i] {
                work.push(p);
            }
        }
    }
    live_out
}

/// The instructions left to look at, each at most once at a time.
struct Worklist {
    stack: Vec<usize>,
    queued: Vec<bool>,
}

impl Worklist {
    /// Every instruction of `n`, the first ones on top.
    fn all(n: usize) -> Worklist {
        Worklist { stack: (0..n).rev().collect(), queued: vec![true; n] }
    }

    fn push(&mut self, i: usize) {
        if !self.queued[i] {
            self.queued[i] = true;
            self.stack.push(i);
        }
    }

    fn pop(&mut self) -> Option<usize> {
        let i = self.stack.pop()?;
        self.queued[i] = false;
        Some(i)
    }
}

#[cfg(test)]
mod tests {
    use crate::compiler::compile;
    use crate::op::Op;

    /// The names whose reads became `TakeVar` in chunk `chunk`, in order.
    fn taken(source: &str, chunk: usize) -> Vec<String> {
        let program = compile("t.rco", source).expect("compiles");
        program.chunks[chunk]
            .ops
            .iter()
            .filter_map(|op| match op {
                Op::TakeVar(s) => Some(s.as_str().to_string()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_connection_loop_moves_each_round_s_result_and_chunk() {
        let source = r#"[
            true open var
            nil r var
            nil chunk var
            $open while
              7 map tcp_read r set
              $r ok? if
                $r value chunk set
                $chunk "bytes" at 0 > if
                  7 $chunk "data" at tcp_write drop
                else
                  $chunk "connected" at open set
                end
              else
                false open set
              end
            end
          ] spawn drop"#;
        // `$r ok?` is followed by `$r value`; `$chunk "bytes" at` by a use
        // in either branch; `$open` is read by the next round's test.
        assert_eq!(taken(source, 1), ["r", "chunk", "chunk"]);
    }

    #[test]
    fn names_not_declared_on_every_path_are_copied() {
        // `x` is declared on one branch only: the other reads an outer `x`.
        assert_eq!(taken("[ true if 1 x var end $x println ] call", 1), Vec::<String>::new());
        // An argument-like outer binding is never moved.
        assert_eq!(taken("f function $x println end", 1), Vec::<String>::new());
        assert_eq!(taken("f function 1 x var $x println end", 1), ["x"]);
    }

    #[test]
    fn code_that_can_see_the_bindings_keeps_every_read_a_copy() {
        for body in [
            "1 x var $x [ 1 ] call drop",
            "1 x var $x \"x\" get drop",
            "1 x var $x [ 2 ] spawn drop",
            "1 x var $x g",
            "1 x var $x [ 1 ] $x each",
        ] {
            assert_eq!(taken(&format!("f function {body} end\ng function 0 end"), 1), Vec::<String>::new(), "{body}");
        }
        // A method no user function shadows is plain code.
        assert_eq!(taken("f function \"ab\" x var $x count end", 1), ["x"]);
        assert_eq!(taken("f function \"ab\" x var $x count end\ncount function 0 end", 1), Vec::<String>::new());
    }

    #[test]
    fn a_loop_or_a_block_run_again_keeps_what_its_next_round_reads() {
        // Read by every round, never assigned: each read is a copy.
        assert_eq!(taken("f function\n0 n var\ntrue while $n println end\nend", 1), Vec::<String>::new());
        // Assigned before the next round reads it: moved.
        assert_eq!(taken("f function\n0 n var\ntrue while $n println 5 n set end\nend", 1), ["n"]);
        // A block run again keeps its bindings, but its first instruction
        // is taken to know none: a read before the block's own `var` is of
        // an outer binding on the first round.
        assert_eq!(taken("[ $n drop 1 n var ] call", 1), Vec::<String>::new());
        assert_eq!(taken("[ 0 n var $n drop 5 n set ] call", 1), ["n"]);
    }

    /// The deepest nesting a script may write, around many statements:
    /// both analyses reach their fixed point (a worklist, not a sweep per
    /// level) and the innermost loop's last reads are still found.
    #[test]
    fn the_deepest_nesting_compiles() {
        let depth = crate::parser::MAX_NESTING - 1;
        let mut lines = vec!["f function".to_string(), "0 total var".to_string()];
        lines.extend((0..depth).map(|_| "true while".to_string()));
        lines.extend((0..2_000).map(|i| format!("{i} item var $item println")));
        lines.extend((0..depth).map(|_| "end".to_string()));
        lines.push("end".to_string());
        let marked = taken(&lines.join("\n"), 1);
        assert_eq!(marked.len(), 2_000);
    }
}
