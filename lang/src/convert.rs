//! Conversions (`to_integer`, `to_float`, ...): every one returns a Result
//! value and never raises (REFERENCE-LANGUAGE §7.10).

use crate::render::float_text;
use crate::value::{Value, TWO_POW_63};

/// An integer conversion's target range and name.
pub struct IntRange {
    pub word: &'static str,
    pub min: i64,
    pub max: i64,
}

/// `to_integer` and its ranged siblings.
pub fn to_integer(v: &Value, range: Option<IntRange>) -> Value {
    let n = match v {
        Value::Int(n) => *n,
        Value::Float(f) => {
            if !f.is_finite() {
                return Value::err("RangeError", &format!("{} is not finite", float_text(*f)));
            }
            if f.fract() != 0.0 {
                return Value::err("RangeError", &format!("{} is not an integer", float_text(*f)));
            }
            if !(-TWO_POW_63..TWO_POW_63).contains(f) {
                return Value::err("RangeError", &format!("{} is outside integer range", float_text(*f)));
            }
            *f as i64
        }
        Value::Str(s) => match s.parse::<i64>() {
            Ok(n) => n,
            Err(e) => return Value::err("ParseError", &int_parse_message(&e)),
        },
        Value::Bool(_) if range.as_ref().is_some_and(|r| r.word == "to_bit") => {
            return Value::ok(Value::Int(i64::from(matches!(v, Value::Bool(true)))));
        }
        other => return Value::err("TypeError", &format!("cannot convert {} to integer", other.kind())),
    };
    if let Some(r) = range {
        if n < r.min || n > r.max {
            return Value::err("RangeError", &format!("{n} is outside {} range {}..{}", r.word, r.min, r.max));
        }
    }
    Value::ok(Value::Int(n))
}

fn int_parse_message(e: &std::num::ParseIntError) -> String {
    use std::num::IntErrorKind;
    match e.kind() {
        IntErrorKind::Empty => "cannot parse integer from empty string".into(),
        IntErrorKind::PosOverflow => "number too large to fit in target type".into(),
        IntErrorKind::NegOverflow => "number too small to fit in target type".into(),
        _ => "invalid digit found in string".into(),
    }
}

/// `to_float`; `to_float32` when `single` is set.
pub fn to_float(v: &Value, single: bool) -> Value {
    let f = match v {
        Value::Int(n) => *n as f64,
        Value::Float(f) => *f,
        Value::Str(s) => match s.parse::<f64>() {
            Ok(f) => f,
            Err(_) => return Value::err("ParseError", "invalid float literal"),
        },
        other => return Value::err("TypeError", &format!("cannot convert {} to float", other.kind())),
    };
    if !f.is_finite() {
        return Value::err("RangeError", &format!("{} is not finite", float_text(f)));
    }
    if single {
        let g = f as f32;
        if !g.is_finite() {
            return Value::err("RangeError", &format!("{} is outside float32 range", float_text(f)));
        }
        return Value::ok(Value::Float(f64::from(g)));
    }
    Value::ok(Value::Float(f))
}
