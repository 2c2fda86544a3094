//! Rendering values to text: the display form (`print`, `to_string`) and the
//! notation (`inspect`, collections, diagnostics) of DIALECT point 4.
//!
//! Invariants: floats never use an exponent and always carry a `.0` or a
//! fraction; a collection met again while it is being printed (a cycle,
//! ancestors only) prints as `[...]`, `{...}` or `#{...}`; map keys print in
//! their stored (sorted) order. Printing keeps its own stack, never the
//! Rust stack, along a value's nesting: past `MAX_NESTING` levels a word
//! fails (`TooDeep`) and a note or a message writes `...` (DIALECT 16).

use crate::chunk::Program;
use crate::deep::{self, OnPath, TooDeep, MAX_NESTING};
use crate::value::{MapRef, ResultValue, Seq, Value};
use arcstr::ArcStr;
use std::fmt::Write as _;

/// A float as `print` shows it: shortest round-trip digits, no exponent.
pub fn float_text(f: f64) -> String {
    let mut s = format!("{f}");
    if !s.contains(['.', 'e', 'E', 'N', 'i']) {
        s.push_str(".0");
    }
    s
}

/// An integer's decimal digits, written into `buf` without a formatter
/// (`to_string` and printing of numbers are hot).
pub fn int_text(n: i64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    let mut m = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    if n < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    // ASCII digits: always UTF-8.
    std::str::from_utf8(&buf[i..]).unwrap_or_default()
}

/// The display form as a string value: a string is itself (no copy), a
/// number its digits.
pub fn display_text(v: &Value, prog: &Program) -> Result<ArcStr, TooDeep> {
    Ok(match v {
        Value::Str(s) => s.clone(),
        Value::Int(n) => ArcStr::from(int_text(*n, &mut [0; 20])),
        _ => ArcStr::from(display(v, prog)?),
    })
}

/// Display form: scalars plainly, everything else in notation.
pub fn display(v: &Value, prog: &Program) -> Result<String, TooDeep> {
    match v {
        Value::Str(s) => Ok(s.to_string()),
        Value::Class(class) => Ok(class.name().to_string()),
        _ => notation(v, prog),
    }
}

/// Ricochet notation (DIALECT 4), for a word that prints: fails past
/// `MAX_NESTING` levels.
pub fn notation(v: &Value, prog: &Program) -> Result<String, TooDeep> {
    let mut out = String::new();
    write_notation(&mut out, v, prog, Past::Fail)?;
    Ok(out)
}

/// Notation for a note or a message: the part past `MAX_NESTING` levels is
/// written `...`.
pub fn notation_in_message(v: &Value, prog: &Program) -> String {
    let mut out = String::new();
    // Eliding never fails.
    let _ = write_notation(&mut out, v, prog, Past::Elide);
    out
}

/// A string quoted with the notation's escapes.
pub fn quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// What printing does with a collection past `MAX_NESTING` levels.
#[derive(Clone, Copy, PartialEq)]
enum Past {
    Fail,
    Elide,
}

/// A collection being printed: what is left of it, and how it closes.
enum Frame {
    Seq {
        seq: Seq,
        next: usize,
        close: &'static str,
    },
    /// A map resumes after the key of the last entry it entered.
    Map {
        map: MapRef,
        after: Option<ArcStr>,
    },
    /// The `)` of `n` ok Results around the value printed before it.
    CloseOks(usize),
}

fn write_notation(out: &mut String, v: &Value, prog: &Program, past: Past) -> Result<(), TooDeep> {
    let mut frames: Vec<Frame> = Vec::new();
    let mut path: OnPath<usize> = OnPath::new();
    open(out, v, prog, past, &mut frames, &mut path)?;
    while let Some(frame) = frames.last_mut() {
        // The first nested item left in the frame, written up to it.
        let mut nested = None;
        match frame {
            Frame::Seq { seq, next, .. } => {
                let items = seq.borrow();
                while nested.is_none() && *next < items.len() {
                    if *next > 0 {
                        out.push_str(", ");
                    }
                    let item = &items[*next];
                    *next += 1;
                    if deep::is_nested(item) {
                        nested = Some(item.clone());
                    } else {
                        scalar(out, item, prog);
                    }
                }
            }
            Frame::Map { map, after } => {
                let m = map.borrow();
                let mut first = after.is_none();
                let mut stop = None;
                for (k, item) in m.iter_after(after.as_deref()) {
                    if !first {
                        out.push_str(", ");
                    }
                    first = false;
                    quote(k, out);
                    out.push_str(": ");
                    if deep::is_nested(item) {
                        nested = Some(item.clone());
                        stop = Some(k.clone());
                        break;
                    }
                    scalar(out, item, prog);
                }
                if stop.is_some() {
                    *after = stop;
                }
            }
            Frame::CloseOks(n) => (0..*n).for_each(|_| out.push(')')),
        }
        match nested {
            Some(item) => open(out, &item, prog, past, &mut frames, &mut path)?,
            None => match frames.pop() {
                Some(Frame::Seq { close, .. }) => {
                    out.push_str(close);
                    path.pop();
                }
                Some(Frame::Map { .. }) => {
                    out.push('}');
                    path.pop();
                }
                _ => {}
            },
        }
    }
    Ok(())
}

/// Writes a value that holds no other (see `deep::is_nested`).
fn scalar(out: &mut String, v: &Value, prog: &Program) {
    match v {
        Value::Nil => out.push_str("nil"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(n) => out.push_str(int_text(*n, &mut [0; 20])),
        Value::Float(f) => out.push_str(&float_text(*f)),
        Value::Str(s) => quote(s, out),
        Value::Block(b) => out.push_str(prog.block_text(b.0)),
        Value::Task(id) => {
            let _ = write!(out, "task#{id}");
        }
        Value::Result(r) => match &**r {
            ResultValue::Err { kind, message } => {
                let _ = write!(out, "error({kind}: {message})");
            }
            // Not reached: an ok Result is nested; `open` unwraps it.
            ResultValue::Ok(_) => out.push_str("ok(...)"),
        },
        Value::Class(class) => out.push_str(class.name()),
        Value::Array(_) | Value::List(_) | Value::Set(_) | Value::Map(_) => out.push_str("..."),
    }
}

/// Writes the start of any value: a scalar whole; `ok(` for each ok Result
/// around it; a collection's opening, with the frame that prints the rest;
/// a cycle or the part past `MAX_NESTING` levels as its marker.
fn open(
    out: &mut String,
    v: &Value,
    prog: &Program,
    past: Past,
    frames: &mut Vec<Frame>,
    path: &mut OnPath<usize>,
) -> Result<(), TooDeep> {
    let mut v = v;
    let mut oks = 0;
    while let Value::Result(r) = v {
        let ResultValue::Ok(inner) = &**r else { break };
        out.push_str("ok(");
        oks += 1;
        v = inner;
    }
    if oks > 0 {
        frames.push(Frame::CloseOks(oks));
    }
    let (key, open, close) = match v {
        Value::Array(s) | Value::List(s) => (deep::addr(s), "[", "]"),
        Value::Set(s) => (deep::addr(s), "#{", "}"),
        Value::Map(m) => (deep::addr(m), "{", "}"),
        other => {
            scalar(out, other, prog);
            return Ok(());
        }
    };
    if path.contains(key) {
        let _ = write!(out, "{open}...{close}");
        return Ok(());
    }
    if path.depth() >= MAX_NESTING {
        return match past {
            Past::Fail => Err(TooDeep),
            Past::Elide => {
                out.push_str("...");
                Ok(())
            }
        };
    }
    frames.push(match v {
        Value::Map(m) => Frame::Map { map: m.clone(), after: None },
        Value::Array(s) | Value::List(s) | Value::Set(s) => Frame::Seq { seq: s.clone(), next: 0, close },
        _ => return Ok(()),
    });
    path.push(key);
    out.push_str(open);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::int_text;

    #[test]
    fn integer_digits_match_the_formatter_at_the_edges() {
        for n in [0, 1, -1, 9, 10, -10, 99, 100, 12345, -987654321, i64::MAX, i64::MIN, i64::MIN + 1] {
            assert_eq!(int_text(n, &mut [0; 20]), n.to_string());
        }
    }
}
