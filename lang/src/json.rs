//! JSON: `json_encode` (compact, keys sorted) and `json_decode` (a Result,
//! with serde_json-style messages: `expected value at line 1 column 1`).
//!
//! Invariants: decoding never recurses deeper than `MAX_DEPTH`; encoding
//! keeps its own stack (never the Rust stack) along a value's nesting,
//! fails past `MAX_NESTING` levels (DIALECT 16), and detects cycles and
//! reports their path (`$.key[0]`).

use crate::deep::{self, OnPath, MAX_NESTING};
use crate::error::VmError;
use crate::map::Map;
use crate::value::{MapRef, Seq, Value};
use arcstr::ArcStr;
use std::fmt::Write as _;

const MAX_DEPTH: usize = 128;

/// Encodes a value for `word`: `invalid argument in WORD: ...` for what
/// JSON cannot hold, the nesting error past `MAX_NESTING` levels.
pub fn encode(v: &Value, word: &str) -> Result<String, VmError> {
    let mut out = String::new();
    let mut frames: Vec<Frame> = Vec::new();
    let mut path: OnPath<usize> = OnPath::new();
    open(v, &mut out, &mut frames, &mut path).map_err(|e| e.error(word))?;
    while let Some(frame) = frames.last_mut() {
        // The first collection left in the frame, written up to it.
        let mut nested = None;
        match frame {
            Frame::Seq { seq, next } => {
                let items = seq.borrow();
                while nested.is_none() && *next < items.len() {
                    if *next > 0 {
                        out.push(',');
                    }
                    let item = &items[*next];
                    *next += 1;
                    if is_collection(item) {
                        nested = Some(item.clone());
                    } else {
                        scalar(item, &mut out).map_err(|m| VmError::invalid(word, m))?;
                    }
                }
            }
            Frame::Map { map, after } => {
                let m = map.borrow();
                let mut first = after.is_none();
                let mut stop = None;
                for (k, item) in m.iter_after(after.as_deref()) {
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    quote(k, &mut out);
                    out.push(':');
                    if is_collection(item) {
                        nested = Some(item.clone());
                        stop = Some(k.clone());
                        break;
                    }
                    scalar(item, &mut out).map_err(|m| VmError::invalid(word, m))?;
                }
                if stop.is_some() {
                    *after = stop;
                }
            }
        }
        match nested {
            Some(item) => open(&item, &mut out, &mut frames, &mut path).map_err(|e| e.error(word))?,
            None => {
                match frames.pop() {
                    Some(Frame::Seq { .. }) => out.push(']'),
                    Some(Frame::Map { .. }) => out.push('}'),
                    None => {}
                }
                path.pop();
            }
        }
    }
    Ok(out)
}

/// A collection being encoded: what is left of it.
enum Frame {
    Seq {
        seq: Seq,
        next: usize,
    },
    /// A map resumes after the key of the last entry it entered.
    Map {
        map: MapRef,
        after: Option<ArcStr>,
    },
}

/// Why a value cannot be encoded.
enum Unfit {
    /// The message after `invalid argument in json_encode: `.
    Invalid(String),
    TooDeep,
}

impl Unfit {
    fn error(self, word: &str) -> VmError {
        match self {
            Unfit::Invalid(m) => VmError::invalid(word, m),
            Unfit::TooDeep => deep::TooDeep.error(word),
        }
    }
}

fn is_collection(v: &Value) -> bool {
    matches!(v, Value::Array(_) | Value::List(_) | Value::Set(_) | Value::Map(_))
}

/// Writes a value that is not a collection.
fn scalar(v: &Value, out: &mut String) -> Result<(), String> {
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Float(f) => {
            if !f.is_finite() {
                return Err("cannot encode non-finite float as JSON".into());
            }
            let _ = write!(out, "{f:?}");
        }
        Value::Str(s) => quote(s, out),
        Value::Result(_) => return Err("cannot encode result as JSON".into()),
        other => return Err(format!("cannot encode {} as JSON", other.kind())),
    }
    Ok(())
}

/// Writes a value that may be a collection: its opening, with the frame
/// that encodes the rest (sets and lists as arrays).
fn open(v: &Value, out: &mut String, frames: &mut Vec<Frame>, path: &mut OnPath<usize>) -> Result<(), Unfit> {
    let (key, frame, opening) = match v {
        Value::Array(s) | Value::List(s) | Value::Set(s) => {
            (deep::addr(s), Frame::Seq { seq: s.clone(), next: 0 }, '[')
        }
        Value::Map(m) => (deep::addr(m), Frame::Map { map: m.clone(), after: None }, '{'),
        other => return scalar(other, out).map_err(Unfit::Invalid),
    };
    if path.contains(key) {
        return Err(Unfit::Invalid(format!("cannot encode cyclic collection as JSON at {}", json_path(frames))));
    }
    if path.depth() >= MAX_NESTING {
        return Err(Unfit::TooDeep);
    }
    path.push(key);
    frames.push(frame);
    out.push(opening);
    Ok(())
}

/// Where the encoder is, as `$.key[0]`: each open collection's current item.
fn json_path(frames: &[Frame]) -> String {
    let mut path = String::from("$");
    for frame in frames {
        match frame {
            Frame::Seq { next, .. } => {
                let _ = write!(path, "[{}]", next.saturating_sub(1));
            }
            Frame::Map { after, .. } => {
                if let Some(k) = after {
                    let _ = write!(path, ".{k}");
                }
            }
        }
    }
    path
}

fn quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Decodes JSON text into a value, or serde_json's style of message.
pub fn decode(text: &str) -> Result<Value, String> {
    let mut p = JsonParser { s: text.as_bytes(), pos: 0 };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.pos < p.s.len() {
        return Err(p.err("trailing characters"));
    }
    Ok(v)
}

struct JsonParser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl JsonParser<'_> {
    fn err(&self, what: &str) -> String {
        let upto = &self.s[..self.pos.min(self.s.len())];
        let line = upto.iter().filter(|&&b| b == b'\n').count() + 1;
        let col = upto.len() - upto.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        format!("{what} at line {line} column {}", col.max(1))
    }

    fn ws(&mut self) {
        while self.pos < self.s.len() && matches!(self.s[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(self.err("recursion limit exceeded"));
        }
        match self.peek() {
            None => Err(self.err("EOF while parsing a value")),
            Some(b'{') => {
                self.pos += 1;
                let mut map = Map::new();
                self.ws();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    return Ok(Value::map(map));
                }
                loop {
                    self.ws();
                    match self.peek() {
                        Some(b'"') => {}
                        None => return Err(self.err("EOF while parsing an object")),
                        Some(_) => {
                            self.pos += 1;
                            return Err(self.err("key must be a string"));
                        }
                    }
                    let key = self.string()?;
                    self.ws();
                    match self.peek() {
                        Some(b':') => self.pos += 1,
                        None => return Err(self.err("EOF while parsing an object")),
                        Some(_) => {
                            self.pos += 1;
                            return Err(self.err("expected `:`"));
                        }
                    }
                    self.ws();
                    let v = self.value(depth + 1)?;
                    map.insert(ArcStr::from(key), v);
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(Value::map(map));
                        }
                        None => return Err(self.err("EOF while parsing an object")),
                        Some(_) => {
                            self.pos += 1;
                            return Err(self.err("expected `,` or `}`"));
                        }
                    }
                }
            }
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                self.ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    return Ok(Value::array(items));
                }
                loop {
                    self.ws();
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Value::array(items));
                        }
                        None => return Err(self.err("EOF while parsing a list")),
                        Some(_) => {
                            self.pos += 1;
                            return Err(self.err("expected `,` or `]`"));
                        }
                    }
                }
            }
            Some(b'"') => Ok(Value::Str(ArcStr::from(self.string()?))),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Nil),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => {
                self.pos += 1;
                Err(self.err("expected value"))
            }
        }
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value, String> {
        for &b in word.as_bytes() {
            match self.peek() {
                Some(c) if c == b => self.pos += 1,
                None => return Err(self.err("EOF while parsing a value")),
                Some(_) => {
                    self.pos += 1;
                    return Err(self.err("expected ident"));
                }
            }
        }
        Ok(v)
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let digits = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.pos == digits {
            return Err(self.err("invalid number"));
        }
        let mut float = false;
        if self.peek() == Some(b'.') {
            float = true;
            self.pos += 1;
            let frac = self.pos;
            while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                self.pos += 1;
            }
            if self.pos == frac {
                return Err(self.err("invalid number"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            float = true;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            let exp = self.pos;
            while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                self.pos += 1;
            }
            if self.pos == exp {
                return Err(self.err("invalid number"));
            }
        }
        let text = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("0");
        if !float {
            if let Ok(n) = text.parse::<i64>() {
                return Ok(Value::Int(n));
            }
        }
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::Float(f)),
            _ => Err(self.err("number out of range")),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(self.err("EOF while parsing a string"));
            };
            self.pos += 1;
            match b {
                b'"' => return String::from_utf8(out).map_err(|_| self.err("invalid unicode code point")),
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err(self.err("EOF while parsing a string"));
                    };
                    self.pos += 1;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode()?,
                        _ => return Err(self.err("invalid escape")),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                b if b < 0x20 => {
                    return Err(self.err("control character (\\u0000-\\u001F) found while parsing a string"))
                }
                b => out.push(b),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let Some(h) = self.s.get(self.pos..self.pos + 4) else {
            self.pos = self.s.len();
            return Err(self.err("EOF while parsing a string"));
        };
        let h = std::str::from_utf8(h).ok().and_then(|h| u32::from_str_radix(h, 16).ok());
        self.pos += 4;
        h.ok_or_else(|| self.err("invalid escape"))
    }

    fn unicode(&mut self) -> Result<char, String> {
        let hi = self.hex4()?;
        if (0xD800..0xDC00).contains(&hi) {
            if self.s.get(self.pos..self.pos + 2) != Some(b"\\u") {
                return Err(self.err("unexpected end of hex escape"));
            }
            self.pos += 2;
            let lo = self.hex4()?;
            if !(0xDC00..0xE000).contains(&lo) {
                return Err(self.err("lone leading surrogate in hex escape"));
            }
            let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
            return char::from_u32(c).ok_or_else(|| self.err("invalid unicode code point"));
        }
        char::from_u32(hi).ok_or_else(|| self.err("lone leading surrogate in hex escape"))
    }
}
