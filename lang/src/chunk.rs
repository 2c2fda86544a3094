//! `Chunk` and `Program`: compiled code and the source it came from.
//!
//! Invariants: a `Program` is immutable once compiled and shared (`Arc`) by
//! every task running it; chunk 0 is the top level; `ops` and `spans` have
//! the same length (a superinstruction keeps the span of its first part,
//! and its other parts keep theirs, see `op.rs`); spans are byte offsets
//! into `source`.

use crate::capture::Captures;
use crate::op::Op;
use crate::symbol::Symbol;
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
    pub strings: Vec<Arc<str>>,
    /// What a task spawned on each block may look up (see `capture.rs`).
    pub captures: Captures,
}

impl Program {
    /// 1-based line and byte column of a byte offset.
    pub fn line_col(&self, offset: u32) -> (usize, usize) {
        line_col(&self.source, offset as usize)
    }

    /// The source text of a span.
    pub fn text(&self, span: Span) -> &str {
        self.source.get(span.start as usize..span.end as usize).unwrap_or("")
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
