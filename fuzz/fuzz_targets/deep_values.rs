//! `deep_values`: scripts that build two equal values nested up to 12,000
//! levels (arrays, lists, sets, maps and ok Results in a pattern the input
//! chooses, around `nil` or a collection that contains itself), then print,
//! inspect, convert, encode, compare, push into a set and spawn with them,
//! and free them (DIALECT 16). The input decodes as: 2 bytes for the number
//! of wraps, a pattern of 1-8 kinds, the innermost value, then up to 8
//! operations. Each script runs on a thread with a 256 KiB stack (a
//! worker's is 2 MiB), within `BUDGET` instructions.
//!
//! Oracle: no panic and no stack overflow (a crash of the process); the
//! script ends exactly as the model says: every word works up to
//! `MAX_NESTING` levels and fails past them with `nesting limit exceeded in
//! WORD: at most 10000 levels`; `json_encode` fails at the first Result,
//! level past the limit or cycle it meets, in that order down the value;
//! comparing never answers wrongly (the script is ended by the first failing
//! word, so an equality that answered instead of failing, or failed instead
//! of answering, breaks the expected ending).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rco_fuzz::End;
use rco_lang::deep::MAX_NESTING;

/// Instructions one script may run: building 2 x 12,000 levels with an
/// 8-kind pattern takes about 1.5 M.
const BUDGET: u64 = 5_000_000;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Array,
    List,
    Set,
    Map,
    Ok,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Bottom {
    Nil,
    /// An array that contains itself.
    SelfArray,
    /// A map whose `self` key holds itself.
    SelfMap,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Op {
    Println,
    Inspect,
    ToString,
    JsonEncode,
    Equal,
    SetPush,
    /// Always ends the script: the fuzz host has no tasks.
    Spawn,
}

#[derive(Debug)]
struct Case {
    wraps: usize,
    pattern: Vec<Kind>,
    bottom: Bottom,
    ops: Vec<Op>,
}

fn decode(data: &[u8]) -> Option<Case> {
    let (&w0, rest) = data.split_first()?;
    let (&w1, rest) = rest.split_first()?;
    // Half of the inputs land within 8 levels of the limit.
    let wraps = if w0 & 1 == 0 {
        (MAX_NESTING - 8) + usize::from(w1 % 16)
    } else {
        usize::from(u16::from_le_bytes([w0, w1])) % 12_000
    };
    let (&n, rest) = rest.split_first()?;
    let n = usize::from(n % 8) + 1;
    let kinds = rest.get(..n)?;
    let pattern = kinds
        .iter()
        .map(|k| match k % 5 {
            0 => Kind::Array,
            1 => Kind::List,
            2 => Kind::Set,
            3 => Kind::Map,
            _ => Kind::Ok,
        })
        .collect();
    let rest = &rest[n..];
    let (&b, rest) = rest.split_first()?;
    let bottom = match b % 3 {
        0 => Bottom::Nil,
        1 => Bottom::SelfArray,
        _ => Bottom::SelfMap,
    };
    let mut ops = Vec::new();
    for &o in rest.iter().take(8) {
        let op = match o % 7 {
            0 => Op::Println,
            1 => Op::Inspect,
            2 => Op::ToString,
            3 => Op::JsonEncode,
            4 => Op::Equal,
            5 => Op::SetPush,
            _ => Op::Spawn,
        };
        ops.push(op);
        if op == Op::Spawn {
            break;
        }
    }
    Some(Case { wraps, pattern, bottom, ops })
}

/// The kind of wrap `i` (0 = innermost).
fn kind(case: &Case, i: usize) -> Kind {
    case.pattern[i % case.pattern.len()]
}

/// How many levels the built value has: its collections (ok Results add
/// none), the innermost self-containing one included.
fn levels(case: &Case) -> usize {
    let wraps = (0..case.wraps).filter(|&i| kind(case, i) != Kind::Ok).count();
    wraps + usize::from(case.bottom != Bottom::Nil)
}

fn script(case: &Case) -> String {
    let mut s = String::from("( b n -> v ) build function\n  depth var\n  x var\n  0 i var\n  $i $depth < while\n");
    s += &format!("    $i {} % r var\n", case.pattern.len());
    for (j, k) in case.pattern.iter().enumerate() {
        let wrap = match k {
            Kind::Array => "a array $a $x push drop $a x set",
            Kind::List => "l List $l $x push drop $l x set",
            Kind::Set => "t Set $t $x push drop $t x set",
            Kind::Map => "m map $m \"k\" $x put drop $m x set",
            Kind::Ok => "$x ok x set",
        };
        s += &format!("    $r {j} = if {wrap} end\n");
    }
    s += "    $i 1 + i set\n  end\n  $x\nend\n";
    for c in ["c1", "c2"] {
        s += &match case.bottom {
            Bottom::Nil => format!("nil {c} var\n"),
            Bottom::SelfArray => format!("{c} array ${c} ${c} push drop\n"),
            Bottom::SelfMap => format!("{c} map ${c} \"self\" ${c} put drop\n"),
        };
    }
    s += &format!("$c1 {w} build x var\n$c2 {w} build y var\n", w = case.wraps);
    for op in &case.ops {
        s += match op {
            Op::Println => "$x println\n",
            Op::Inspect => "$x inspect drop drop\n",
            Op::ToString => "$x to_string drop\n",
            Op::JsonEncode => "$x json_encode drop\n",
            Op::Equal => "$x $y = assert\n",
            Op::SetPush => "s Set $s $y push $x push count 1 assert_equals\n",
            Op::Spawn => "[ $x count ] spawn drop\n",
        };
    }
    if case.bottom != Bottom::Nil {
        // Break the two cycles so they are freed, not leaked.
        s += "$c1 clear_items drop\n$c2 clear_items drop\n";
    }
    s += "\"done\" println\n";
    s
}

/// How `json_encode` of the value ends, going down from the top: at the
/// first Result, level past the limit or cycle.
fn json_ending(case: &Case) -> Option<String> {
    let mut depth = 0;
    let mut path = String::from("$");
    for i in (0..case.wraps).rev() {
        match kind(case, i) {
            Kind::Ok => return Some("invalid argument in json_encode: cannot encode result as JSON".into()),
            k => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(nesting("json_encode"));
                }
                path += if k == Kind::Map { ".k" } else { "[0]" };
            }
        }
    }
    let cycle_at = match case.bottom {
        Bottom::Nil => return None,
        Bottom::SelfArray => "[0]",
        Bottom::SelfMap => ".self",
    };
    if depth + 1 > MAX_NESTING {
        return Some(nesting("json_encode"));
    }
    Some(format!("invalid argument in json_encode: cannot encode cyclic collection as JSON at {path}{cycle_at}"))
}

fn nesting(word: &str) -> String {
    format!("nesting limit exceeded in {word}: at most {MAX_NESTING} levels")
}

/// The message of the first failing operation, or `None` if all work.
fn expected(case: &Case) -> Option<String> {
    let deep = levels(case) > MAX_NESTING;
    for op in &case.ops {
        let failure = match op {
            Op::Println if deep => Some(nesting("println")),
            Op::Inspect if deep => Some(nesting("inspect")),
            Op::ToString if deep => Some(nesting("to_string")),
            Op::Equal if deep => Some(nesting("=")),
            Op::SetPush if deep => Some(nesting("push")),
            Op::JsonEncode => json_ending(case),
            Op::Spawn if deep => Some(nesting("spawn")),
            Op::Spawn => Some("host operation failed in spawn: this host runs no tasks".into()),
            _ => None,
        };
        if failure.is_some() {
            return failure;
        }
    }
    None
}

fn check(case: Case) {
    let source = script(&case);
    let end = rco_fuzz::drive_within(&source, BUDGET);
    match (expected(&case), end) {
        (None, Some(End::Finished(_))) => {}
        (Some(want), Some(End::Failed(text))) => {
            let first = text.lines().next().unwrap_or("");
            assert_eq!(first, format!("error: {want}"), "case {case:?}\nscript:\n{source}");
        }
        (want, end) => panic!("expected {want:?}, got {end:?}\ncase {case:?}\nscript:\n{source}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(case) = decode(data) else { return };
    let worker = std::thread::Builder::new().stack_size(256 * 1024).spawn(move || check(case));
    match worker.map(std::thread::JoinHandle::join) {
        Ok(Ok(())) => {}
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(e) => panic!("cannot start the script's thread: {e}"),
    }
});
