//! `Compiler`: the syntax tree to bytecode chunks (REFERENCE-LANGUAGE §2.6).
//!
//! Invariants: chunk 0 is the top level; a block or function body is a
//! chunk of its own (a new code unit, so `break`/`continue` never cross
//! one), ended by `EndBlock` for a block and `End` otherwise; a bare word right before a pairing word compiles to the name
//! (fused into `GetVar`/`SetVar`/`Declare` when the pair is complete);
//! fixed-table words are resolved here, everything else at run time;
//! superinstructions are written over finished chunks only (`fuse`), when
//! every jump target is final; last uses (`last_use.rs`) are marked last,
//! once the functions' definitions are known.

use crate::ast::{Expr, Item, Stmt};
use crate::capture::Captures;
use crate::chunk::{Chunk, ChunkKind, Program, Span};
use crate::diagnostic::CompileError;
use crate::last_use;
use crate::lexer::Lexer;
use crate::op::{fusable_word, Arith, Decl, Jumps, Op, Then};
use crate::parser::Parser;
use crate::symbol::Symbol;
use crate::word::{is_pairing_word, Word};
use arcstr::ArcStr;
use std::collections::HashMap;

/// Compiles a source file; every error found, in any phase, is returned.
pub fn compile(file: &str, source: &str) -> Result<Program, Vec<CompileError>> {
    let (tokens, mut errors) = Lexer::tokenize(source);
    let arena = bumpalo::Bump::new();
    let mut parser = Parser::new(&arena, &tokens);
    let items = parser.parse_program();
    errors.append(&mut parser.errors);
    let mut compiler = Compiler { chunks: Vec::new(), strings: Vec::new(), string_ids: HashMap::new(), errors };
    compiler.chunks.push(Chunk { kind: ChunkKind::Main, ops: Vec::new(), spans: Vec::new() });
    let mut unit = Unit { chunk: 0, loops: Vec::new() };
    for item in items {
        match item {
            Item::Stmt(stmt) => compiler.stmt(&mut unit, stmt),
            Item::Function { name, inputs, body, span } => {
                let kind = ChunkKind::Function { name: Symbol::intern(name), inputs: *inputs };
                let chunk = compiler.unit(kind, body, *span);
                compiler.emit(&unit, Op::DefineFunction(chunk), *span);
            }
        }
    }
    let end = Span::new(source.len(), source.len());
    compiler.emit(&unit, Op::End, end);
    if !compiler.errors.is_empty() {
        compiler.errors.sort_by_key(|e| e.span.start);
        return Err(compiler.errors);
    }
    for (index, chunk) in compiler.chunks.iter_mut().enumerate() {
        fuse(&mut chunk.ops);
        // Chunk 0 is the top level.
        specialize(&mut chunk.ops, index == 0);
        if index != 0 {
            thread_jumps(&mut chunk.ops);
        }
    }
    let functions = Program::function_definitions(&compiler.chunks);
    Program::resolve_calls(&mut compiler.chunks, &functions);
    last_use::mark(&mut compiler.chunks, &functions);
    Ok(Program {
        file: file.to_string(),
        source: source.to_string(),
        captures: Captures::new(compiler.chunks.len()),
        functions,
        chunks: compiler.chunks,
        strings: compiler.strings,
    })
}

struct Compiler {
    chunks: Vec<Chunk>,
    strings: Vec<ArcStr>,
    string_ids: HashMap<String, u32>,
    errors: Vec<CompileError>,
}

/// The code unit being compiled and its open loops.
struct Unit {
    chunk: u32,
    loops: Vec<Loop>,
}

struct Loop {
    /// The jumps of `break` (to the loop's end) and `continue` (to its
    /// condition), patched once the body is compiled.
    breaks: Vec<usize>,
    continues: Vec<usize>,
}

impl Compiler {
    fn emit(&mut self, unit: &Unit, op: Op, span: Span) -> usize {
        let chunk = &mut self.chunks[unit.chunk as usize];
        chunk.ops.push(op);
        chunk.spans.push(span);
        chunk.ops.len() - 1
    }

    fn here(&self, unit: &Unit) -> u32 {
        self.chunks[unit.chunk as usize].ops.len() as u32
    }

    fn patch(&mut self, unit: &Unit, at: usize, target: u32) {
        match &mut self.chunks[unit.chunk as usize].ops[at] {
            Op::Jump(t) | Op::JumpIfFalse(t) | Op::JumpIfTrue(t) => *t = target,
            _ => unreachable!("only jumps are patched"),
        }
    }

    fn error(&mut self, message: String, span: Span, help: Option<&str>) {
        self.errors.push(CompileError::new(message, span, help.map(str::to_string)));
    }

    fn string(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.string_ids.get(s) {
            return id;
        }
        let id = self.strings.len() as u32;
        self.strings.push(ArcStr::from(s));
        self.string_ids.insert(s.to_string(), id);
        id
    }

    /// Compiles a body into a new chunk and returns its index.
    fn unit(&mut self, kind: ChunkKind, body: &[Stmt<'_>], end_span: Span) -> u32 {
        let chunk = self.chunks.len() as u32;
        let end = if matches!(kind, ChunkKind::Block { .. }) { Op::EndBlock } else { Op::End };
        self.chunks.push(Chunk { kind, ops: Vec::new(), spans: Vec::new() });
        let mut unit = Unit { chunk, loops: Vec::new() };
        for stmt in body {
            self.stmt(&mut unit, stmt);
        }
        self.emit(&unit, end, end_span);
        chunk
    }

    fn stmts(&mut self, unit: &mut Unit, stmts: &[Stmt<'_>]) {
        for stmt in stmts {
            self.stmt(unit, stmt);
        }
    }

    fn stmt(&mut self, unit: &mut Unit, exprs: &[Expr<'_>]) {
        let pair_at = |i: usize| matches!(exprs.get(i), Some(Expr::Word(w, _)) if is_pairing_word(w));
        let is_name = |i: usize| matches!(exprs.get(i), Some(Expr::Word(..))) && pair_at(i + 1);
        let mut i = 0;
        while i < exprs.len() {
            if is_name(i) {
                let (Expr::Word(name, name_span), Some(Expr::Word(pair, pair_span))) = (&exprs[i], exprs.get(i + 1))
                else {
                    unreachable!("is_name checked both words")
                };
                if is_name(i + 1) {
                    // `x map var`: `x` is a name, and so is `map`.
                    let id = self.string(name);
                    self.emit(unit, Op::PushStr(id), *name_span);
                    i += 1;
                    continue;
                }
                let sym = Symbol::intern(name);
                let op = match *pair {
                    "get" => Op::GetVar(sym),
                    "set" => Op::SetVar(sym),
                    "var" => Op::Declare(sym, Decl::Var),
                    "array" | "Array" => Op::Declare(sym, Decl::Array),
                    "list" | "List" => Op::Declare(sym, Decl::List),
                    "map" | "Map" => Op::Declare(sym, Decl::Map),
                    _ => Op::Declare(sym, Decl::Set),
                };
                self.emit(unit, op, *pair_span);
                i += 2;
                continue;
            }
            self.expr(unit, &exprs[i]);
            i += 1;
        }
    }

    fn expr(&mut self, unit: &mut Unit, expr: &Expr<'_>) {
        match expr {
            Expr::Int(n, span) => {
                self.emit(unit, Op::PushInt(*n), *span);
            }
            Expr::Float(f, span) => {
                self.emit(unit, Op::PushFloat(*f), *span);
            }
            Expr::Str(s, span) => {
                let id = self.string(s);
                self.emit(unit, Op::PushStr(id), *span);
            }
            Expr::Ref(name, span) => {
                self.emit(unit, Op::GetVar(Symbol::intern(name)), *span);
            }
            Expr::Word(w, span) => self.word(unit, w, *span),
            Expr::DotWord(w, span) => self.error(
                format!("unsupported compiler feature: leading-dot method syntax {w:?}"),
                *span,
                Some("use postfix selectors"),
            ),
            Expr::Args(span) => self.error("unsupported compiler feature: argument declarations".into(), *span, None),
            Expr::Block { body, span } => {
                let chunk = self.unit(
                    ChunkKind::Block { span: *span },
                    body,
                    Span::new(span.end as usize - 1, span.end as usize),
                );
                self.emit(unit, Op::PushBlock(chunk), *span);
            }
            Expr::If { then, els, span } => {
                let jump_else = self.emit(unit, Op::JumpIfFalse(0), *span);
                self.stmts(unit, then);
                match els {
                    Some(els) => {
                        let jump_end = self.emit(unit, Op::Jump(0), *span);
                        let else_start = self.here(unit);
                        self.patch(unit, jump_else, else_start);
                        self.stmts(unit, els);
                        let end = self.here(unit);
                        self.patch(unit, jump_end, end);
                    }
                    None => {
                        let end = self.here(unit);
                        self.patch(unit, jump_else, end);
                    }
                }
            }
            Expr::While { cond, body, span } => {
                // Inverted: the condition comes after the body, so a round
                // ends in one jump back taken while it holds, where a test
                // at the top would need a second jump (one dispatch per
                // round). The first test is reached by a jump over the body.
                let enter = self.emit(unit, Op::Jump(0), *span);
                let top = self.here(unit);
                unit.loops.push(Loop { breaks: Vec::new(), continues: Vec::new() });
                self.stmts(unit, body);
                let test = self.here(unit);
                self.patch(unit, enter, test);
                self.stmt(unit, cond);
                self.emit(unit, Op::JumpIfTrue(top), *span);
                let end = self.here(unit);
                if let Some(l) = unit.loops.pop() {
                    for b in l.breaks {
                        self.patch(unit, b, end);
                    }
                    for c in l.continues {
                        self.patch(unit, c, test);
                    }
                }
            }
        }
    }

    fn word(&mut self, unit: &mut Unit, w: &str, span: Span) {
        let op = match w {
            "nil" => Op::PushNil,
            "true" => Op::PushTrue,
            "false" => Op::PushFalse,
            "return" => Op::Return,
            "break" | "continue" => {
                if unit.loops.is_empty() {
                    self.error(format!("{w} can only be used inside a loop"), span, None);
                    return;
                }
                let at = self.emit(unit, Op::Jump(0), span);
                if let Some(l) = unit.loops.last_mut() {
                    if w == "continue" {
                        l.continues.push(at);
                    } else {
                        l.breaks.push(at);
                    }
                }
                return;
            }
            _ => match Word::from_name(w) {
                Some(word) if !word.is_method() => Op::Word(word),
                method => Op::Call(Symbol::intern(w), method),
            },
        };
        self.emit(unit, op, span);
    }
}

/// Specialises the superinstructions that branch on a comparison or
/// compute an add, subtract or multiply, the heart of loops and recursive
/// functions, and the hottest words (the stack shuffles, `+ - *`): the
/// specialised op needs no second dispatch on its word and last part. At
/// the top level (`top_level`) no call is in progress, so every name is a
/// global: its ops that read and update variables need no scan of the
/// calls' variables either.
fn specialize(ops: &mut [Op], top_level: bool) {
    let jump = |w: Word, then: Then| match then {
        Then::JumpIfFalse(t) => Some((Jumps::of(w, false)?, t)),
        Then::JumpIfTrue(t) => Some((Jumps::of(w, true)?, t)),
        Then::Push | Then::Set(_) => None,
    };
    for op in ops {
        let special = match *op {
            Op::VarVar(a, b, w, Then::Set(d)) if top_level => Arith::of(w).map(|w| Op::GlobalsSet(a, b, w, d)),
            Op::VarVar(a, b, w, then) if top_level => jump(w, then).map(|(j, t)| Op::GlobalsJump(a, b, j, t)),
            Op::VarInt(a, k, w, Then::Set(d)) if top_level => Arith::of(w).map(|w| Op::GlobalIntSet(a, k, w, d)),
            Op::VarInt(a, k, w, then) if top_level => jump(w, then).map(|(j, t)| Op::GlobalIntJump(a, k, j, t)),
            Op::TopInt(k, w, Then::Push) => Arith::of(w).map(|w| Op::TopIntArith(k, w)),
            Op::TopInt(k, w, then) => jump(w, then).map(|(j, t)| Op::TopIntJump(k, j, t)),
            Op::DupInt(k, w, Then::Push) => Arith::of(w).map(|w| Op::DupIntArith(k, w)),
            Op::DupInt(k, w, then) => jump(w, then).map(|(j, t)| Op::DupIntJump(k, j, t)),
            Op::Word(Word::Dup) => Some(Op::Dup),
            Op::Word(Word::Swap) => Some(Op::Swap),
            Op::Word(Word::Over) => Some(Op::Over),
            Op::Word(Word::Drop) => Some(Op::Drop),
            Op::Word(Word::IsOk) => Some(Op::IsOk),
            Op::Word(Word::ValueW) => Some(Op::Unwrap),
            Op::Word(w) => Arith::of(w).map(Op::Arith),
            _ => None,
        };
        if let Some(special) = special {
            *op = special;
        }
    }
}

/// A jump to the end of a function's or block's chunk (or to a `return`)
/// ends it there: the first branch of an `if` that closes a function
/// returns without the extra jump. Nothing else changes: there an `End`
/// or `Return` does the same wherever it is and never fails (at the top
/// level a `Return` is an error blamed on its own span, so the top level
/// is left alone), and a forward jump charges nothing.
fn thread_jumps(ops: &mut [Op]) {
    for i in 0..ops.len() {
        if let Op::Jump(t) = ops[i] {
            if let Some(&end @ (Op::End | Op::EndBlock | Op::Return)) = ops.get(t as usize) {
                ops[i] = end;
            }
        }
    }
}

/// Writes a superinstruction over the first op of each common sequence
/// (`op.rs` explains why the other ops of the sequence stay in place).
fn fuse(ops: &mut [Op]) {
    let then_of = |rest: &[Op]| match rest.first() {
        Some(Op::SetVar(s)) => Then::Set(*s),
        Some(Op::JumpIfFalse(t)) => Then::JumpIfFalse(*t),
        Some(Op::JumpIfTrue(t)) => Then::JumpIfTrue(*t),
        _ => Then::Push,
    };
    let small = |k: i64| i32::try_from(k).is_ok();
    let mut i = 0;
    while i < ops.len() {
        let fused = match ops[i..] {
            [Op::GetVar(a), Op::GetVar(b), Op::Word(w), ref rest @ ..] if fusable_word(w) => {
                Op::VarVar(a, b, w, then_of(rest))
            }
            [Op::GetVar(a), Op::PushInt(k), Op::Word(w), ref rest @ ..] if fusable_word(w) && small(k) => {
                Op::VarInt(a, k as i32, w, then_of(rest))
            }
            [Op::Word(Word::Dup), Op::PushInt(k), Op::Word(w), ref rest @ ..] if fusable_word(w) && small(k) => {
                Op::DupInt(k as i32, w, then_of(rest))
            }
            [Op::PushInt(k), Op::Word(w), ref rest @ ..] if fusable_word(w) && small(k) => {
                Op::TopInt(k as i32, w, then_of(rest))
            }
            [Op::PushStr(k), Op::Word(Word::At), ..] => Op::MapAt(k),
            [Op::PushStr(k), Op::Word(Word::Eq), ..] => Op::StrEq(k),
            _ => {
                i += 1;
                continue;
            }
        };
        ops[i] = fused;
        i += fused.covers();
    }
}
