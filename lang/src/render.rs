//! Rendering values to text: the display form (`print`, `to_string`) and the
//! notation (`inspect`, collections, diagnostics) of DIALECT point 4.
//!
//! Invariants: floats never use an exponent and always carry a `.0` or a
//! fraction; a collection met again while it is being printed (a cycle,
//! ancestors only) prints as `[...]`, `{...}` or `#{...}`; map keys print in
//! their stored (sorted) order.

use crate::chunk::Program;
use crate::value::{ResultValue, Value};
use std::fmt::Write as _;

/// A float as `print` shows it: shortest round-trip digits, no exponent.
pub fn float_text(f: f64) -> String {
    let mut s = format!("{f}");
    if !s.contains(['.', 'e', 'E', 'N', 'i']) {
        s.push_str(".0");
    }
    s
}

/// Display form: scalars plainly, everything else in notation.
pub fn display(v: &Value, prog: &Program) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        Value::Class(name) => (*name).to_string(),
        _ => notation(v, prog),
    }
}

/// Ricochet notation (DIALECT 4).
pub fn notation(v: &Value, prog: &Program) -> String {
    let mut out = String::new();
    write_notation(&mut out, v, prog, &mut Vec::new());
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

fn write_notation(out: &mut String, v: &Value, prog: &Program, path: &mut Vec<usize>) {
    match v {
        Value::Nil => out.push_str("nil"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Float(f) => out.push_str(&float_text(*f)),
        Value::Str(s) => quote(s, out),
        Value::Array(s) | Value::List(s) | Value::Set(s) => {
            let (open, close) = if matches!(v, Value::Set(_)) { ("#{", "}") } else { ("[", "]") };
            let key = std::rc::Rc::as_ptr(s) as usize;
            if path.contains(&key) {
                let _ = write!(out, "{open}...{close}");
                return;
            }
            path.push(key);
            out.push_str(open);
            for (i, item) in s.borrow().iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_notation(out, item, prog, path);
            }
            out.push_str(close);
            path.pop();
        }
        Value::Map(m) => {
            let key = std::rc::Rc::as_ptr(m) as usize;
            if path.contains(&key) {
                out.push_str("{...}");
                return;
            }
            path.push(key);
            out.push('{');
            for (i, (k, item)) in m.borrow().iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                quote(k, out);
                out.push_str(": ");
                write_notation(out, item, prog, path);
            }
            out.push('}');
            path.pop();
        }
        Value::Block(b) => out.push_str(prog.block_text(b.0)),
        Value::Task(id) => {
            let _ = write!(out, "task#{id}");
        }
        Value::Result(r) => match &**r {
            ResultValue::Ok(inner) => {
                out.push_str("ok(");
                write_notation(out, inner, prog, path);
                out.push(')');
            }
            ResultValue::Err { kind, message } => {
                let _ = write!(out, "error({kind}: {message})");
            }
        },
        Value::Class(name) => out.push_str(name),
    }
}
