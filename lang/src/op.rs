//! `Op`: the bytecode instruction set, the single source of truth for what
//! the VM executes, and its disassembler.
//!
//! Invariants: an `Op` is `Copy` and at most 24 bytes; jump targets are
//! absolute indexes into the same chunk's code; every op has exactly one
//! span in `Chunk::spans` (the token a diagnostic points at); the
//! `Global*` ops appear only in chunk 0, and `CallChunk` names a
//! function's chunk; a block's chunk ends with `EndBlock`, every other
//! chunk with `End` (a jump to either may be replaced by a copy of it).
//!
//! Superinstructions (`VarVar`, `VarInt`, `TopInt`, `DupInt`) are written by the
//! compiler over the first op of a common sequence of plain ops; the other
//! ops of the sequence stay in place after it. A superinstruction either
//! runs its whole sequence (every operand an integer, nothing fails) and
//! skips the parts, or runs only its first part, exactly as the plain op,
//! and lets the parts that follow run one by one. So it never reports an
//! error of its own: errors, their messages and spans, and jumps into the
//! middle of a sequence are the same as without fusion.
//!
//! The general superinstructions dispatch again on their word and last
//! part (`Then`). The compiler specialises the hottest shapes into ops of
//! their own, with no second dispatch: a comparison that branches
//! (`TopIntJump`, `DupIntJump`: the jump is a bit test of `Jumps`), an
//! add, subtract or multiply (`TopIntArith`, `DupIntArith`), and at the top
//! level, where no call is in progress and every name is a global, the
//! loop's tests and updates of its variables (`GlobalsJump`,
//! `GlobalIntJump`, `GlobalsSet`, `GlobalIntSet`: no scan of the calls'
//! variables). A call of a name defined once (`CallChunk`) names its chunk.
//! The stack shuffles and `+ - *` are ops of their own (`Dup`, `Swap`,
//! `Over`, `Drop`, `Arith`), not words looked up in a second dispatch, and
//! so are the words every socket loop runs: `"key" at` on a map (`MapAt`)
//! and `"text" =` on a string (`StrEq`), superinstructions whose first part
//! is the `PushStr`, and `ok?` and `value` on a Result (`IsOk`, `Unwrap`),
//! which fall back to the word on anything else. `TakeVar` is a `GetVar`
//! proved to be the last read of the frame's own binding (`last_use.rs`).

use crate::chunk::{ChunkKind, Program};
use crate::symbol::Symbol;
use crate::value::Value;
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

/// What a superinstruction does with the value its word computed: the last
/// part of the fused sequence.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Then {
    /// Nothing fused: the value is pushed (the sequence ends at the word).
    Push,
    /// A fused `SetVar`: the value is assigned to the name.
    Set(Symbol),
    /// A fused `JumpIfFalse`: continue at `.0` when the value is falsey.
    JumpIfFalse(u32),
    /// A fused `JumpIfTrue`: continue at `.0` when the value is truthy.
    JumpIfTrue(u32),
}

impl Then {
    /// How many plain ops this part stands for.
    pub fn parts(self) -> usize {
        match self {
            Then::Push => 0,
            Then::Set(_) | Then::JumpIfFalse(_) | Then::JumpIfTrue(_) => 1,
        }
    }
}

/// One instruction. `repr(u8)`: the dispatch reads a plain tag byte
/// rather than decoding one hidden in a field's spare values.
#[derive(Clone, Copy, Debug)]
#[repr(u8)]
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
    /// `( -- v )` the last read of a variable declared by the chunk itself
    /// (written by `last_use.rs`): in a function's or a task's body, whose
    /// bindings end with the frame, the value moves out and the binding is
    /// left nil; in a block run by a word, whose bindings are its caller's,
    /// it is `GetVar`.
    TakeVar(Symbol),
    /// `( v -- )` update the innermost binding of the name.
    SetVar(Symbol),
    /// `( [v] -- )` declare the name in the current scope (see `Decl`).
    Declare(Symbol, Decl),
    /// Run a fixed-table built-in word; its stack effect is the word's.
    Word(Word),
    /// `( x -- x x )` the word `dup`, run in place (`Word dup` before
    /// `specialize` in the compiler; so are the four below).
    Dup,
    /// `( x y -- y x )` the word `swap`.
    Swap,
    /// `( x y -- x y x )` the word `over`.
    Over,
    /// `( x -- )` the word `drop`.
    Drop,
    /// `( a b -- r )` the word `+`, `-` or `*`: two integers in place,
    /// anything else as the word.
    Arith(Arith),
    /// Call the user function named `.0`, else the receiver method `.1`
    /// (if the name is one), else fail with `unknown word`.
    Call(Symbol, Option<Word>),
    /// `Call` of a name defined once, in chunk `.0` by the top level's
    /// definition number `.1` (see `Program::functions`): calls it once
    /// that definition has run; before, as `Call` with method `.2`.
    CallChunk(u32, u32, Option<Word>),
    /// Continue at instruction `.0`.
    Jump(u32),
    /// `( cond -- )` continue at `.0` when `cond` is falsey; a Result fails.
    JumpIfFalse(u32),
    /// `( cond -- )` continue at `.0` when `cond` is truthy; a Result fails
    /// (the end of a `while`, after its body: back to the body's start).
    JumpIfTrue(u32),
    /// `( -- )` register the function compiled into chunk `.0`.
    DefineFunction(u32),
    /// End the current function or block call (base rule of §6.1); at top
    /// level it is the error `unsupported opcode: Return`.
    Return,
    /// End of a chunk: like `Return`, and at top level the program ends.
    End,
    /// End of a block's chunk: like `End`; when an iteration (`each`,
    /// `transform`, ...) runs the block and has a next item, the block's
    /// frame runs again from instruction 0 on it (no return and call).
    EndBlock,
    /// Superinstruction for `GetVar a; GetVar b; Word w` followed by the
    /// part `.3`: `( -- r )` with `Then::Push`, `( -- )` otherwise.
    /// First part: `GetVar a`.
    VarVar(Symbol, Symbol, Word, Then),
    /// Superinstruction for `GetVar a; PushInt k; Word w` followed by the
    /// part `.3` (`k` fits in 32 bits): `( -- r )` with `Then::Push`,
    /// `( -- )` otherwise. First part: `GetVar a`.
    VarInt(Symbol, i32, Word, Then),
    /// Superinstruction for `PushInt k; Word w` followed by the part `.2`
    /// (`k` fits in 32 bits): `( x -- r )` with `Then::Push`, `( x -- )`
    /// otherwise. First part: `PushInt k`.
    TopInt(i32, Word, Then),
    /// Superinstruction for `Word dup; PushInt k; Word w` followed by the
    /// part `.2` (`k` fits in 32 bits): `( x -- x r )` with `Then::Push`,
    /// `( x -- x )` otherwise. First part: `Word dup`.
    DupInt(i32, Word, Then),
    /// Superinstruction for `PushInt k; Word w` (`w` an `Arith`, `k` fits
    /// in 32 bits): `( x -- r )`. First part: `PushInt k`.
    TopIntArith(i32, Arith),
    /// Superinstruction for `Word dup; PushInt k; Word w` (`w` an `Arith`,
    /// `k` fits in 32 bits): `( x -- x r )`. First part: `Word dup`.
    DupIntArith(i32, Arith),
    /// Superinstruction for `PushInt k; Word cmp; JumpIfFalse t` or
    /// `...; JumpIfTrue t` (`k` fits in 32 bits): `( x -- )`, continue at
    /// `.2` when the order of `x` and `k` is one of `.1`. First part:
    /// `PushInt k`.
    TopIntJump(i32, Jumps, u32),
    /// Superinstruction for `Word dup; PushInt k; Word cmp; JumpIfFalse t`
    /// or `...; JumpIfTrue t` (`k` fits in 32 bits): `( x -- x )`,
    /// continue at `.2` when the order of `x` and `k` is one of `.1`.
    /// First part: `Word dup`.
    DupIntJump(i32, Jumps, u32),
    /// Superinstruction for `PushStr k; Word =` on a string: `( s -- bool )`,
    /// whether `s` is `strings[k]` (`step` runs it, like `IsOk`). First
    /// part: `PushStr k`.
    StrEq(u32),
    /// Superinstruction for `PushStr k; Word at` on a map: `( map -- v )`,
    /// the value at key `strings[k]` (nil if absent), without pushing the
    /// key or dispatching the word. First part: `PushStr k`.
    MapAt(u32),
    /// Top level only (chunk 0, where no call is in progress and every
    /// name is a global): superinstruction for `GetVar a; GetVar b;
    /// Word cmp; JumpIfFalse t` or `...; JumpIfTrue t`: `( -- )`, continue
    /// at `.3` when the order of `a` and `b` is one of `.2`. First part:
    /// `GetVar a`.
    GlobalsJump(Symbol, Symbol, Jumps, u32),
    /// Top level only: `GetVar a; PushInt k; Word cmp; JumpIfFalse t` or
    /// `...; JumpIfTrue t` (`k` fits in 32 bits): `( -- )`, continue at
    /// `.3` when the order of `a` and `k` is one of `.2`. First part:
    /// `GetVar a`.
    GlobalIntJump(Symbol, i32, Jumps, u32),
    /// Top level only: `GetVar a; GetVar b; Word w; SetVar d` (`w` an
    /// `Arith`): `( -- )`. First part: `GetVar a`.
    GlobalsSet(Symbol, Symbol, Arith, Symbol),
    /// Top level only: `GetVar a; PushInt k; Word w; SetVar d` (`k` fits
    /// in 32 bits, `w` an `Arith`): `( -- )`. First part: `GetVar a`.
    GlobalIntSet(Symbol, i32, Arith, Symbol),
    /// `( result -- bool )` the word `ok?` on a Result, in place (`step`
    /// runs it without the word's dispatch); anything else as the word (its
    /// error).
    IsOk,
    /// `( result -- v )` the word `value` on an ok Result, in place, like
    /// `IsOk`; anything else as the word (its error).
    Unwrap,
}

// Small ops. 16 bytes would need the fused part packed in 32 bits, whose
// unpacking cost more than the smaller op saved (docs/BENCHMARKS.md, "The
// interpreter at Lua's speed").
const _: () = assert!(std::mem::size_of::<Op>() <= 24);

/// The orderings of two integers on which a fused comparison jumps: bit 0
/// less, bit 1 equal, bit 3 greater. The jump is a bit test, whichever the
/// comparison and whether it jumps when true or when false: no second
/// dispatch on the word.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Jumps(u8);

const LESS: u8 = 0b0001;
const EQUAL: u8 = 0b0010;
const GREATER: u8 = 0b1000;

impl Jumps {
    /// The orderings for which `cmp` is `when`; `None` for a word that is
    /// not a comparison.
    pub fn of(cmp: Word, when: bool) -> Option<Jumps> {
        let truths = match cmp {
            Word::Lt => LESS,
            Word::Le => LESS | EQUAL,
            Word::Eq => EQUAL,
            Word::Ne => LESS | GREATER,
            Word::Ge => EQUAL | GREATER,
            Word::Gt => GREATER,
            _ => return None,
        };
        Some(Jumps(if when { truths } else { !truths & (LESS | EQUAL | GREATER) }))
    }

    /// Whether the order of `a` and `b` is one of these.
    #[inline(always)]
    pub fn taken(self, a: i64, b: i64) -> bool {
        // 0 less, 1 equal, 3 greater.
        let order = u8::from(a > b) * 2 + u8::from(a >= b);
        self.0 >> order & 1 != 0
    }
}

impl std::fmt::Debug for Jumps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = [(LESS, "less"), (EQUAL, "equal"), (GREATER, "greater")];
        let on: Vec<&str> = names.iter().filter(|(bit, _)| self.0 & bit != 0).map(|(_, name)| *name).collect();
        write!(f, "on {}", on.join("|"))
    }
}

/// The integer operations with ops of their own (`Arith`, `TopIntArith`,
/// `DupIntArith`, `GlobalsSet`, `GlobalIntSet`): the common updates of
/// counters and loop variables.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Arith {
    Add,
    Sub,
    Mul,
}

impl Arith {
    /// The operation `word` is, if it is one of these.
    pub fn of(word: Word) -> Option<Arith> {
        Some(match word {
            Word::Add => Arith::Add,
            Word::Sub => Arith::Sub,
            Word::Mul => Arith::Mul,
            _ => return None,
        })
    }

    /// The word it stands for (`int_word` computes it).
    pub fn word(self) -> Word {
        match self {
            Arith::Add => Word::Add,
            Arith::Sub => Word::Sub,
            Arith::Mul => Word::Mul,
        }
    }

    /// The result, as the word computes it; `None` on overflow.
    #[inline(always)]
    pub fn apply(self, a: i64, b: i64) -> Option<i64> {
        match self {
            Arith::Add => a.checked_add(b),
            Arith::Sub => a.checked_sub(b),
            Arith::Mul => a.checked_mul(b),
        }
    }
}

/// The words a superinstruction may fuse: integer operations. Where one
/// fails (overflow, a zero divisor) `int_word` says `None` and the plain
/// word runs and reports it.
pub fn fusable_word(word: Word) -> bool {
    int_word(word, 1, 1).is_some()
}

/// What a fusable word computes on two integers: a number or a truth
/// value. Kept apart from `Value` so that the VM's fused paths carry it in
/// registers and store only what changes (a `Value` built in a temporary
/// and then copied costs a stalled wide load on every instruction).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum IntOutcome {
    Int(i64),
    Bool(bool),
}

impl IntOutcome {
    #[inline(always)]
    pub fn value(self) -> Value {
        match self {
            IntOutcome::Int(n) => Value::Int(n),
            IntOutcome::Bool(b) => Value::Bool(b),
        }
    }

    /// Truthiness (§3.3), as `JumpIfFalse` tests it.
    #[inline(always)]
    pub fn truthy(self) -> bool {
        match self {
            IntOutcome::Int(n) => n != 0,
            IntOutcome::Bool(b) => b,
        }
    }
}

/// A fusable word on two integers, as the word itself computes it; `None`
/// on overflow or a zero divisor (the plain word then reports it) or for
/// another word.
#[inline(always)]
pub fn int_word(word: Word, a: i64, b: i64) -> Option<IntOutcome> {
    Some(match word {
        Word::Add => IntOutcome::Int(Arith::Add.apply(a, b)?),
        Word::Sub => IntOutcome::Int(Arith::Sub.apply(a, b)?),
        Word::Mul => IntOutcome::Int(Arith::Mul.apply(a, b)?),
        Word::Div => IntOutcome::Int(a.checked_div(b)?),
        Word::Mod => IntOutcome::Int(a.checked_rem(b)?),
        Word::Lt => IntOutcome::Bool(a < b),
        Word::Gt => IntOutcome::Bool(a > b),
        Word::Le => IntOutcome::Bool(a <= b),
        Word::Ge => IntOutcome::Bool(a >= b),
        Word::Eq => IntOutcome::Bool(a == b),
        Word::Ne => IntOutcome::Bool(a != b),
        _ => return None,
    })
}

impl Op {
    /// How many ops this one stands for when it runs whole: a
    /// superinstruction's first part and the parts after it; 1 for a plain
    /// op. A superinstruction that runs whole goes on after them (unless it
    /// jumps).
    pub fn covers(self) -> usize {
        match self {
            Op::VarVar(.., then) | Op::VarInt(.., then) | Op::DupInt(_, _, then) => 3 + then.parts(),
            Op::TopInt(_, _, then) => 2 + then.parts(),
            Op::TopIntArith(..) | Op::MapAt(_) | Op::StrEq(_) => 2,
            Op::DupIntArith(..) => 3,
            Op::TopIntJump(..) => 3,
            Op::DupIntJump(..) | Op::GlobalsJump(..) | Op::GlobalIntJump(..) => 4,
            Op::GlobalsSet(..) | Op::GlobalIntSet(..) => 4,
            _ => 1,
        }
    }

    /// Where the op may continue other than after itself (or after the
    /// parts it covers): its jump target.
    pub fn jump_target(self) -> Option<u32> {
        match self {
            Op::Jump(t) | Op::JumpIfFalse(t) | Op::JumpIfTrue(t) => Some(t),
            Op::TopIntJump(.., t) | Op::DupIntJump(.., t) | Op::GlobalsJump(.., t) | Op::GlobalIntJump(.., t) => {
                Some(t)
            }
            Op::VarVar(.., then) | Op::VarInt(.., then) | Op::TopInt(.., then) | Op::DupInt(.., then) => match then {
                Then::JumpIfFalse(t) | Then::JumpIfTrue(t) => Some(t),
                Then::Push | Then::Set(_) => None,
            },
            _ => None,
        }
    }
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
                    Op::TakeVar(s) => format!("TakeVar {}", s.as_str()),
                    Op::SetVar(s) => format!("SetVar {}", s.as_str()),
                    Op::Declare(s, d) => format!("Declare {} {:?}", s.as_str(), d),
                    Op::Word(w) => format!("Word {}", w.name()),
                    Op::Call(s, _) => format!("Call {}", s.as_str()),
                    Op::CallChunk(c, _, _) => match self.chunks[c as usize].kind {
                        ChunkKind::Function { name, .. } => format!("CallChunk {} (chunk {c})", name.as_str()),
                        _ => format!("CallChunk ? (chunk {c})"),
                    },
                    Op::PushBlock(c) => format!("PushBlock chunk {c}"),
                    Op::DefineFunction(c) => format!("DefineFunction chunk {c}"),
                    Op::VarVar(a, b, w, then) => {
                        format!("VarVar {} {} {}{}", a.as_str(), b.as_str(), w.name(), then_text(then))
                    }
                    Op::VarInt(a, k, w, then) => format!("VarInt {} {k} {}{}", a.as_str(), w.name(), then_text(then)),
                    Op::MapAt(i) => format!("MapAt {:?}", self.strings[i as usize]),
                    Op::StrEq(i) => format!("StrEq {:?}", self.strings[i as usize]),
                    Op::TopInt(k, w, then) => format!("TopInt {k} {}{}", w.name(), then_text(then)),
                    Op::DupInt(k, w, then) => format!("DupInt {k} {}{}", w.name(), then_text(then)),
                    Op::Arith(w) => format!("Arith {}", w.word().name()),
                    Op::IsOk => "IsOk".to_string(),
                    Op::Unwrap => "Unwrap".to_string(),
                    Op::TopIntArith(k, w) => format!("TopIntArith {k} {}", w.word().name()),
                    Op::DupIntArith(k, w) => format!("DupIntArith {k} {}", w.word().name()),
                    Op::TopIntJump(k, j, t) => format!("TopIntJump {k} {j:?} {t}"),
                    Op::DupIntJump(k, j, t) => format!("DupIntJump {k} {j:?} {t}"),
                    Op::GlobalsJump(a, b, j, t) => format!("GlobalsJump {} {} {j:?} {t}", a.as_str(), b.as_str()),
                    Op::GlobalIntJump(a, k, j, t) => format!("GlobalIntJump {} {k} {j:?} {t}", a.as_str()),
                    Op::GlobalsSet(a, b, w, d) => {
                        format!("GlobalsSet {} {} {} Set {}", a.as_str(), b.as_str(), w.word().name(), d.as_str())
                    }
                    Op::GlobalIntSet(a, k, w, d) => {
                        format!("GlobalIntSet {} {k} {} Set {}", a.as_str(), w.word().name(), d.as_str())
                    }
                    other => format!("{other:?}"),
                };
                let _ = writeln!(out, "  {ip:04}  {line:>4}:{col:<3}  {text}");
            }
        }
        out
    }
}

/// The fused last part of a superinstruction, for the disassembler (the
/// parts are also listed as the plain ops after it).
fn then_text(then: Then) -> String {
    match then {
        Then::Push => String::new(),
        Then::Set(s) => format!(" Set {}", s.as_str()),
        Then::JumpIfFalse(t) => format!(" JumpIfFalse {t}"),
        Then::JumpIfTrue(t) => format!(" JumpIfTrue {t}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLES: [i64; 9] = [i64::MIN, i64::MIN + 1, -7, -1, 0, 1, 2, 7, i64::MAX];

    /// The specialised ops compute what the general fast path
    /// (`int_word`) computes: `Arith` the same numbers and overflows,
    /// `Jumps` the comparison's truth, or its negation.
    #[test]
    fn specialised_ops_agree_with_the_general_fast_path() {
        let comparisons = [Word::Lt, Word::Le, Word::Eq, Word::Ne, Word::Ge, Word::Gt];
        for a in SAMPLES {
            for b in SAMPLES {
                for arith in [Arith::Add, Arith::Sub, Arith::Mul] {
                    assert_eq!(arith.apply(a, b).map(IntOutcome::Int), int_word(arith.word(), a, b));
                }
                for cmp in comparisons {
                    let truth = int_word(cmp, a, b).map(IntOutcome::truthy);
                    assert_eq!(Jumps::of(cmp, true).map(|j| j.taken(a, b)), truth, "{cmp:?} {a} {b}");
                    assert_eq!(Jumps::of(cmp, false).map(|j| !j.taken(a, b)), truth, "not {cmp:?} {a} {b}");
                }
            }
        }
        assert_eq!(Jumps::of(Word::Add, true), None);
        assert_eq!(Arith::of(Word::Div), None);
    }

    /// `Op::covers` is the sequence a superinstruction was written over:
    /// its parts, the plain ops after it, end where it says (what
    /// `last_use.rs` takes as the place a whole run goes on, and `execute`
    /// skips to); a fused branch or assignment is its last part.
    #[test]
    fn a_superinstruction_covers_the_ops_it_was_written_over() {
        let source = [
            "f function",
            "1 a var 2 b var",
            "$a $b + c var",
            "$a 3 < if 1 end",
            "$a 3 + a set",
            "dup 1 - drop dup 1 < if 1 end dup 2 + drop 4 * drop",
            "\"k\" at \"k\" = drop",
            "end",
        ]
        .join("\n");
        let program = crate::compiler::compile("t.rco", &source).expect("compiles");
        let ops = &program.chunks[1].ops;
        // Parts stay plain ops, specialised (`Arith`) or marked last reads
        // (`TakeVar`) at most.
        let plain = |o: &Op| {
            matches!(o, Op::GetVar(_) | Op::TakeVar(_) | Op::PushInt(_) | Op::Word(_) | Op::Arith(_) | Op::SetVar(_))
        };
        let mut seen = 0;
        for (i, op) in ops.iter().enumerate().filter(|(_, op)| op.covers() > 1) {
            seen += 1;
            let parts = &ops[i + 1..i + op.covers()];
            let (last, rest) = parts.split_last().expect("a superinstruction has parts");
            assert!(rest.iter().all(plain), "{op:?}: {parts:?}");
            match (op.jump_target(), *op) {
                (Some(t), _) => {
                    assert!(matches!(*last, Op::JumpIfFalse(u) | Op::JumpIfTrue(u) if u == t), "{op:?}: {parts:?}")
                }
                (None, Op::VarVar(.., Then::Set(d)) | Op::VarInt(.., Then::Set(d))) => {
                    assert!(matches!(*last, Op::SetVar(e) if e == d), "{op:?}: {parts:?}")
                }
                _ => assert!(plain(last), "{op:?}: {parts:?}"),
            }
        }
        assert!(seen >= 9, "superinstructions compiled: {seen}");
    }
}
