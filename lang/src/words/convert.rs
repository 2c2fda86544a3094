//! Conversions and JSON: `to_integer` and its ranged siblings, `to_float`,
//! `to_float32`, `to_string`, `json_encode`, `json_decode`
//! (REFERENCE-LANGUAGE §7.10).
//!
//! Invariants: a numeric conversion and `json_decode` return a Result value
//! and raise nothing but a non-string for `json_decode`; `to_string` and
//! `json_encode` raise (`json_encode` on what JSON cannot hold, both past
//! the nesting limit); a conversion's error texts are the reference's.

use super::{bytes, str_arg, weight, Cx, R};
use crate::json;
use crate::render::{display_text, float_text};
use crate::value::{Value, TWO_POW_63};
use crate::vm::Vm;
use crate::word::Word;

/// An integer conversion's target range and name.
struct IntRange {
    word: &'static str,
    min: i64,
    max: i64,
}

/// `to_integer`, `to_number`, `to_bigint` and the ranged conversions
/// (`to_int`, `to_unsigned_tinyint`, `to_bit`...).
pub(crate) fn to_integer(vm: &mut Vm, cx: Cx) -> R {
    let range = |min: i64, max: i64| Some(IntRange { word: cx.word.name(), min, max });
    let range = match cx.word {
        Word::ToInt => range(i32::MIN.into(), i32::MAX.into()),
        Word::ToSmallint => range(i16::MIN.into(), i16::MAX.into()),
        Word::ToTinyint => range(i8::MIN.into(), i8::MAX.into()),
        Word::ToMediumint => range(-8_388_608, 8_388_607),
        Word::ToUnsignedInt => range(0, u32::MAX.into()),
        Word::ToUnsignedSmallint => range(0, u16::MAX.into()),
        Word::ToUnsignedTinyint => range(0, u8::MAX.into()),
        Word::ToUnsignedMediumint => range(0, 16_777_215),
        Word::ToUnsignedBigint => range(0, i64::MAX),
        Word::ToBit => range(0, 1),
        _ => None,
    };
    let r = integer(vm.peek(0), range);
    vm.replace(1, r)
}

/// `to_float`, `to_float64`, `to_double`, `to_real` and `to_float32`.
pub(crate) fn to_float(vm: &mut Vm, cx: Cx) -> R {
    let r = float(vm.peek(0), cx.word == Word::ToFloat32);
    vm.replace(1, r)
}

pub(crate) fn to_string(vm: &mut Vm, cx: Cx) -> R {
    let s = display_text(vm.peek(0), &vm.program).map_err(|e| e.error(cx.name()))?;
    vm.charge(bytes(s.len()));
    vm.replace(1, Value::Str(s))
}

pub(crate) fn json_encode(vm: &mut Vm, cx: Cx) -> R {
    let s = json::encode(vm.peek(0), cx.name())?;
    vm.charge(bytes(s.len()));
    vm.replace(1, Value::str(&s))
}

pub(crate) fn json_decode(vm: &mut Vm, cx: Cx) -> R {
    vm.charge(weight(vm.peek(0)));
    let text = str_arg(cx.name(), vm.peek(0), "JSON string")?;
    let r = match json::decode(text) {
        Ok(v) => Value::ok(v),
        Err(m) => Value::err("JsonError", &m),
    };
    vm.replace(1, r)
}

/// The Result of converting `v` to an integer (in `range`, if given).
fn integer(v: &Value, range: Option<IntRange>) -> Value {
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

/// The Result of converting `v` to a float (through `f32` when `single`).
fn float(v: &Value, single: bool) -> Value {
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
