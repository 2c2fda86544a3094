//! Capture sets: which bindings a spawned task may look up (DIALECT
//! point 6), so that `spawn` copies those and nothing else.
//!
//! A task behaves as if it had one deep copy of every binding visible at
//! `spawn`. A binding it never looks up cannot change what it does, so only
//! the names that code the task can run may read or assign need copying.
//! The `Capture` of a block is computed from the bytecode, once per block
//! and program, and is a superset of those names:
//!
//! * every name read or assigned (`GetVar`, `TakeVar`, `SetVar` and the
//!   fused ops) by the block and every block nested in it (`PushBlock`);
//! * the same, transitively, for every function the code can call: a
//!   `Call` of a name reaches every function chunk of that name (functions
//!   are bound by name at run time);
//! * a `get` or `set` of a name computed at run time can reach any visible
//!   binding: such a capture is `dynamic` and the spawn copies everything
//!   visible (one binding per name).
//!
//! What the task can reach through values is added at spawn time by
//! `Vm::fork`: the capture of every block value met while copying, and,
//! once a task handle is met (its result, obtained by `await`, may hold any
//! block of the program), `Captures::anything_awaited`: the names of every
//! chunk but the top level.
//!
//! Invariants: a capture's names are sorted and distinct; captures are
//! computed lazily (most blocks are never spawned) and at most once per
//! block, behind a `OnceLock`, so every task of a run shares them; the walk
//! over chunks is iterative and visits each chunk once.

use crate::chunk::Program;
use crate::op::{Op, Then};
use crate::symbol::Symbol;
use crate::word::Word;
use std::sync::OnceLock;

/// The names a task running some code may look up.
#[derive(Debug, Default)]
pub struct Capture {
    /// Sorted, distinct.
    pub names: Box<[Symbol]>,
    /// The code may compute a name at run time (`get`, `set`): it can reach
    /// every visible binding.
    pub dynamic: bool,
}

/// The lazily computed captures of one program's chunks.
#[derive(Debug, Default)]
pub struct Captures {
    per_chunk: Vec<OnceLock<Capture>>,
    anything_awaited: OnceLock<Capture>,
}

impl Captures {
    /// Room for the captures of `chunks` chunks.
    pub fn new(chunks: usize) -> Captures {
        Captures { per_chunk: (0..chunks).map(|_| OnceLock::new()).collect(), ..Captures::default() }
    }

    /// What a task running chunk `block` may look up.
    pub fn of(&self, program: &Program, block: u32) -> &Capture {
        match self.per_chunk.get(block as usize) {
            Some(cell) => cell.get_or_init(|| walk(program, &[block])),
            // Not a chunk of this program: nothing it could run.
            None => empty(),
        }
    }

    /// What any block of the program may look up: the reach of a task that
    /// can await another task, whose result may hold any block.
    pub fn anything_awaited(&self, program: &Program) -> &Capture {
        self.anything_awaited.get_or_init(|| {
            let all: Vec<u32> = (1..program.chunks.len() as u32).collect();
            walk(program, &all)
        })
    }
}

/// The names looked up by the code of `roots` and everything it can run:
/// an iterative walk over the chunk graph (nested blocks, called
/// functions), each chunk visited once.
fn walk(program: &Program, roots: &[u32]) -> Capture {
    let chunks = &program.chunks;
    let mut visited = vec![false; chunks.len()];
    let mut pending: Vec<u32> = Vec::new();
    let mut names: Vec<Symbol> = Vec::new();
    let mut visit = |c: u32, pending: &mut Vec<u32>| {
        if let Some(seen) = visited.get_mut(c as usize) {
            if !*seen {
                *seen = true;
                pending.push(c);
            }
        }
    };
    for &root in roots {
        visit(root, &mut pending);
    }
    while let Some(c) = pending.pop() {
        for op in &chunks[c as usize].ops {
            match *op {
                Op::GetVar(s) | Op::TakeVar(s) | Op::SetVar(s) => names.push(s),
                Op::VarVar(a, b, _, then) => {
                    names.extend([a, b]);
                    if let Then::Set(s) = then {
                        names.push(s);
                    }
                }
                Op::VarInt(a, _, _, then) => {
                    names.push(a);
                    if let Then::Set(s) = then {
                        names.push(s);
                    }
                }
                Op::TopInt(_, _, Then::Set(s)) | Op::DupInt(_, _, Then::Set(s)) => names.push(s),
                Op::GlobalsJump(a, b, ..) => names.extend([a, b]),
                Op::GlobalIntJump(a, ..) => names.push(a),
                Op::GlobalsSet(a, b, _, d) => names.extend([a, b, d]),
                Op::GlobalIntSet(a, _, _, d) => names.extend([a, d]),
                Op::Word(Word::Get | Word::Set) => return Capture { names: Box::default(), dynamic: true },
                Op::PushBlock(b) | Op::CallChunk(b, ..) => visit(b, &mut pending),
                Op::Call(s, _) => {
                    for &(_, f) in program.functions.get(s.index()).map_or(&[][..], Vec::as_slice) {
                        visit(f, &mut pending);
                    }
                }
                _ => {}
            }
        }
    }
    names.sort_unstable();
    names.dedup();
    Capture { names: names.into_boxed_slice(), dynamic: false }
}

fn empty() -> &'static Capture {
    static EMPTY: OnceLock<Capture> = OnceLock::new();
    EMPTY.get_or_init(Capture::default)
}
