//! `VmError` and `ErrorKind`: runtime errors with stable kinds and the
//! reference's message templates (REFERENCE-LANGUAGE §9.1).

use std::fmt;

/// The stable kind of a runtime error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    StackUnderflow,
    UnknownWord,
    UnknownVariable,
    Type,
    InvalidArgument,
    Overflow,
    DivisionByZero,
    IndexOutOfBounds,
    Host,
    ResultCondition,
    ResultUnwrap,
    Assertion,
    Unsupported,
    UnknownTask,
    /// A resource limit of the VM (call depth, stack size, value nesting).
    Limit,
}

/// A runtime error: its kind and its full message.
#[derive(Clone, Debug, PartialEq)]
pub struct VmError {
    pub kind: ErrorKind,
    pub message: String,
}

impl fmt::Display for VmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for VmError {}

/// The constructors run only on error paths: `#[cold]` keeps them and
/// their formatting out of the VM's hot loop.
impl VmError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> VmError {
        VmError { kind, message: message.into() }
    }

    #[cold]
    pub fn underflow(word: &str, needed: usize, available: usize) -> VmError {
        VmError::new(
            ErrorKind::StackUnderflow,
            format!("stack underflow in {word}: needed {needed}, available {available}"),
        )
    }

    #[cold]
    pub fn unknown_word(word: &str) -> VmError {
        VmError::new(ErrorKind::UnknownWord, format!("unknown word: {word}"))
    }

    #[cold]
    pub fn unknown_variable(name: &str) -> VmError {
        VmError::new(ErrorKind::UnknownVariable, format!("unknown variable: {name}"))
    }

    #[cold]
    pub fn type_error(word: &str, expected: &str, got: &str) -> VmError {
        VmError::new(ErrorKind::Type, format!("type error in {word}: expected {expected}, got {got}"))
    }

    #[cold]
    pub fn invalid(word: &str, message: impl fmt::Display) -> VmError {
        VmError::new(ErrorKind::InvalidArgument, format!("invalid argument in {word}: {message}"))
    }

    #[cold]
    pub fn overflow(word: &str) -> VmError {
        VmError::new(ErrorKind::Overflow, format!("arithmetic overflow in {word}"))
    }

    #[cold]
    pub fn division_by_zero(word: &str) -> VmError {
        VmError::new(ErrorKind::DivisionByZero, format!("division by zero in {word}"))
    }

    #[cold]
    pub fn out_of_bounds(word: &str, index: impl fmt::Display, len: usize) -> VmError {
        VmError::new(ErrorKind::IndexOutOfBounds, format!("index {index} is out of bounds in {word}; length is {len}"))
    }

    #[cold]
    pub fn host(word: &str, message: impl fmt::Display) -> VmError {
        VmError::new(ErrorKind::Host, format!("host operation failed in {word}: {message}"))
    }

    #[cold]
    pub fn result_condition() -> VmError {
        VmError::new(ErrorKind::ResultCondition, "result values require ok? before they can be used as conditions")
    }

    /// A value nested deeper than `max` levels met by `word` (DIALECT 16).
    #[cold]
    pub fn nesting(word: &str, max: usize) -> VmError {
        VmError::new(ErrorKind::Limit, format!("nesting limit exceeded in {word}: at most {max} levels"))
    }

    #[cold]
    pub fn assertion(expected: &str, got: &str) -> VmError {
        VmError::new(ErrorKind::Assertion, format!("assert_equals failed: expected {expected}, got {got}"))
    }
}
