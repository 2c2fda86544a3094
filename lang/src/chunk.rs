//! `Chunk` and `Program`: compiled code and the source it came from.
//!
//! Invariants: a `Program` is immutable once compiled (its capture sets are
//! filled lazily, once each) and shared by every task running it, counted
//! (`Arc`) or lent for the life of the process (`ProgramRef`); chunk 0 is
//! the top level, and its `DefineFunction` ops, the only ones, run once
//! each in order (`Program::functions` numbers them); `ops` and `spans` have
//! the same length (a superinstruction keeps the span of its first part,
//! and its other parts keep theirs, see `op.rs`); spans are byte offsets
//! into `source`.

use crate::capture::Captures;
use crate::op::Op;
use crate::symbol::Symbol;
use arcstr::ArcStr;
use std::sync::Arc;

/// A byte range of the source.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start: start as u32, end: end as u32 }
    }

    /// The text of this span in `source` (empty if it is not one of its
    /// spans).
    pub fn text(self, source: &str) -> &str {
        source.get(self.start as usize..self.end as usize).unwrap_or("")
    }
}

/// What a chunk is the code of.
#[derive(Clone, Debug)]
pub enum ChunkKind {
    Main,
    Function {
        name: Symbol,
        inputs: usize,
    },
    /// A `[ ... ]` block; `span` covers the brackets (its printed text).
    Block {
        span: Span,
    },
}

/// One unit of code.
#[derive(Clone, Debug)]
pub struct Chunk {
    pub kind: ChunkKind,
    pub ops: Vec<Op>,
    pub spans: Vec<Span>,
}

/// A compiled script.
#[derive(Debug)]
pub struct Program {
    /// The file name as given on the command line (for diagnostics).
    pub file: String,
    pub source: String,
    pub chunks: Vec<Chunk>,
    pub strings: Vec<ArcStr>,
    /// What a task spawned on each block may look up (see `capture.rs`).
    pub captures: Captures,
    /// The definitions of each function name, indexed by symbol: (ordinal
    /// of the `DefineFunction` op in the top level, chunk), in order.
    pub functions: Vec<Vec<(u32, u32)>>,
}

impl Program {
    /// The definitions of each function name (see `Program::functions`).
    /// Functions are items of the top level only, so its `DefineFunction`
    /// ops run once each, in order: which functions are defined at any
    /// moment is the number of them that ran, and a VM keeps that count
    /// instead of a table (so a task shares nothing with its parent for it).
    pub fn function_definitions(chunks: &[Chunk]) -> Vec<Vec<(u32, u32)>> {
        let mut by_name: Vec<Vec<(u32, u32)>> = Vec::new();
        let defines = chunks.first().map_or(&[][..], |main| &main.ops[..]);
        let chunk_ids = defines.iter().filter_map(|op| match op {
            Op::DefineFunction(c) => Some(*c),
            _ => None,
        });
        for (ordinal, c) in chunk_ids.enumerate() {
            if let Some(ChunkKind::Function { name, .. }) = chunks.get(c as usize).map(|chunk| &chunk.kind) {
                let i = name.index();
                if by_name.len() <= i {
                    by_name.resize_with(i + 1, Vec::new);
                }
                by_name[i].push((ordinal as u32, c));
            }
        }
        by_name
    }

    /// Turns each `Call` of a name defined once into a `CallChunk`, which
    /// finds its function without looking it up.
    pub fn resolve_calls(chunks: &mut [Chunk], functions: &[Vec<(u32, u32)>]) {
        for op in chunks.iter_mut().flat_map(|c| c.ops.iter_mut()) {
            if let Op::Call(sym, method) = *op {
                if let Some(&[(ordinal, chunk)]) = functions.get(sym.index()).map(Vec::as_slice) {
                    *op = Op::CallChunk(chunk, ordinal, method);
                }
            }
        }
    }

    /// The chunk `sym` calls once `defined` top-level definitions have run.
    #[inline]
    pub fn function(&self, sym: Symbol, defined: u32) -> Option<u32> {
        // Definitions are in ordinal order: the last one that has run (a
        // binary search, so redefining a name many times costs a call little).
        let defs = self.functions.get(sym.index())?;
        if let [(ordinal, chunk)] = defs[..] {
            // Most names are defined once: no search.
            return (ordinal < defined).then_some(chunk);
        }
        let ran = defs.partition_point(|&(ordinal, _)| ordinal < defined);
        ran.checked_sub(1).map(|last| defs[last].1)
    }

    /// 1-based line and byte column of a byte offset.
    pub fn line_col(&self, offset: u32) -> (usize, usize) {
        line_col(&self.source, offset as usize)
    }

    /// The source text of a span.
    pub fn text(&self, span: Span) -> &str {
        span.text(&self.source)
    }

    /// The printed text of a block.
    pub fn block_text(&self, chunk: u32) -> &str {
        match self.chunks.get(chunk as usize).map(|c| &c.kind) {
            Some(ChunkKind::Block { span }) => self.text(*span),
            _ => "[ ]",
        }
    }
}

/// How a VM holds its program: counted, or lent for the rest of the
/// process. A runtime that runs one program until the process exits lends
/// it (`&'static`), so that forking a task, and each slice it runs, never
/// writes a reference count that every worker shares.
#[derive(Clone, Debug)]
pub enum ProgramRef {
    Counted(Arc<Program>),
    Process(&'static Program),
}

impl std::ops::Deref for ProgramRef {
    type Target = Program;

    fn deref(&self) -> &Program {
        match self {
            ProgramRef::Counted(p) => p,
            ProgramRef::Process(p) => p,
        }
    }
}

impl From<Arc<Program>> for ProgramRef {
    fn from(p: Arc<Program>) -> ProgramRef {
        ProgramRef::Counted(p)
    }
}

impl From<&'static Program> for ProgramRef {
    fn from(p: &'static Program) -> ProgramRef {
        ProgramRef::Process(p)
    }
}

/// 1-based line and byte column of `offset` in `source`.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    (line, offset - line_start + 1)
}
