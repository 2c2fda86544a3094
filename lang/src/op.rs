//! `Op`: the bytecode instruction set, the single source of truth for what
//! the VM executes, and its disassembler.
//!
//! Invariants: an `Op` is `Copy` and at most 16 bytes; jump targets are
//! absolute indexes into the same chunk's code; every op has exactly one
//! span in `Chunk::spans` (the token a diagnostic points at).

use crate::chunk::{ChunkKind, Program};
use crate::symbol::Symbol;
use crate::word::Word;
use std::fmt::Write as _;

/// What a compile-time `NAME var` / `NAME array` ... declares.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Decl {
    /// `NAME var`: binds the value below (or nil on an empty stack).
    Var,
    /// `NAME array`: binds a new empty array.
    Array,
    /// `NAME list`: binds a new empty list.
    List,
    /// `NAME map`: binds a new empty map.
    Map,
    /// `NAME Set`: binds a new empty set.
    Set,
}

/// One instruction.
#[derive(Clone, Copy, Debug)]
pub enum Op {
    /// `( -- n )` push an integer literal.
    PushInt(i64),
    /// `( -- f )` push a float literal.
    PushFloat(f64),
    /// `( -- s )` push string constant number `.0` of the program.
    PushStr(u32),
    /// `( -- nil )`
    PushNil,
    /// `( -- true )`
    PushTrue,
    /// `( -- false )`
    PushFalse,
    /// `( -- block )` push the block compiled into chunk `.0`.
    PushBlock(u32),
    /// `( -- v )` read a variable: innermost frame outwards, then globals.
    GetVar(Symbol),
    /// `( v -- )` update the innermost binding of the name.
    SetVar(Symbol),
    /// `( [v] -- )` declare the name in the current scope (see `Decl`).
    Declare(Symbol, Decl),
    /// Run a fixed-table built-in word; its stack effect is the word's.
    Word(Word),
    /// Call the user function named `.0`, else the receiver method `.1`
    /// (if the name is one), else fail with `unknown word`.
    Call(Symbol, Option<Word>),
    /// Continue at instruction `.0`.
    Jump(u32),
    /// `( cond -- )` continue at `.0` when `cond` is falsey; a Result fails.
    JumpIfFalse(u32),
    /// `( -- )` register the function compiled into chunk `.0`.
    DefineFunction(u32),
    /// End the current function or block call (base rule of §6.1); at top
    /// level it is the error `unsupported opcode: Return`.
    Return,
    /// End of a chunk: like `Return`, and at top level the program ends.
    End,
}

impl Program {
    /// A listing of every chunk, for `rco disasm`.
    pub fn disassemble(&self) -> String {
        let mut out = String::new();
        for (index, chunk) in self.chunks.iter().enumerate() {
            let title = match &chunk.kind {
                ChunkKind::Main => "main".to_string(),
                ChunkKind::Function { name, inputs } => {
                    format!("function {} ({} inputs)", name.as_str(), inputs)
                }
                ChunkKind::Block { .. } => "block".to_string(),
            };
            let _ = writeln!(out, "chunk {index}: {title}");
            for (ip, (op, span)) in chunk.ops.iter().zip(&chunk.spans).enumerate() {
                let (line, col) = self.line_col(span.start);
                let text = match *op {
                    Op::PushStr(i) => format!("PushStr {:?}", self.strings[i as usize]),
                    Op::GetVar(s) => format!("GetVar {}", s.as_str()),
                    Op::SetVar(s) => format!("SetVar {}", s.as_str()),
                    Op::Declare(s, d) => format!("Declare {} {:?}", s.as_str(), d),
                    Op::Word(w) => format!("Word {}", w.name()),
                    Op::Call(s, _) => format!("Call {}", s.as_str()),
                    Op::PushBlock(c) => format!("PushBlock chunk {c}"),
                    Op::DefineFunction(c) => format!("DefineFunction chunk {c}"),
                    other => format!("{other:?}"),
                };
                let _ = writeln!(out, "  {ip:04}  {line:>4}:{col:<3}  {text}");
            }
        }
        out
    }
}
