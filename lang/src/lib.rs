//! The Ricochet language: lexer, parser, compiler to bytecode and the
//! resumable VM.
//!
//! This crate knows nothing of threads or sockets: a running program asks
//! its `Host` for effects. Pipeline: `Lexer` -> `Parser` (AST in a bumpalo
//! arena) -> `Compiler` (`Program` of `Chunk`s of `Op`s) -> `Vm`.

#![forbid(unsafe_code)]

pub mod ast;
pub mod capture;
pub mod chunk;
pub mod compiler;
pub mod deep;
pub mod diagnostic;
pub mod error;
pub mod host;
mod json;
mod last_use;
pub mod lexer;
pub mod map;
pub mod op;
pub mod parser;
pub mod render;
pub mod symbol;
pub mod value;
pub mod vm;
pub mod word;
mod words;

pub use chunk::Program;
pub use compiler::compile;
pub use diagnostic::CompileError;
pub use error::{ErrorKind, VmError};
pub use host::{Effect, Host, Performed, Spawned, Stream, TaskState};
pub use map::Map;
pub use value::Value;
pub use vm::{Failure, Outcome, Resume, Vm};
pub use words::sockets;
