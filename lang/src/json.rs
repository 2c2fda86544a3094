//! JSON: `json_encode` (compact, keys sorted) and `json_decode` (a Result,
//! with serde_json-style messages: `expected value at line 1 column 1`).
//!
//! Invariants: decoding never recurses deeper than `MAX_DEPTH`; encoding
//! detects cycles and reports their path (`$.key[0]`).

use crate::map::Map;
use crate::value::Value;
use std::fmt::Write as _;
use std::sync::Arc;

const MAX_DEPTH: usize = 128;

/// Encodes a value; the error is the message after `invalid argument in json_encode: `.
pub fn encode(v: &Value) -> Result<String, String> {
    let mut out = String::new();
    let mut path = Vec::new();
    enc(v, &mut out, &mut path, &mut String::from("$"))?;
    Ok(out)
}

fn enc(v: &Value, out: &mut String, seen: &mut Vec<usize>, path: &mut String) -> Result<(), String> {
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
            let s = format!("{f:?}");
            out.push_str(&s);
        }
        Value::Str(s) => quote(s, out),
        Value::Array(s) | Value::List(s) | Value::Set(s) => {
            let key = std::rc::Rc::as_ptr(s) as usize;
            if seen.contains(&key) {
                return Err(format!("cannot encode cyclic collection as JSON at {path}"));
            }
            seen.push(key);
            out.push('[');
            for (i, item) in s.borrow().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let len = path.len();
                let _ = write!(path, "[{i}]");
                enc(item, out, seen, path)?;
                path.truncate(len);
            }
            out.push(']');
            seen.pop();
        }
        Value::Map(m) => {
            let key = std::rc::Rc::as_ptr(m) as usize;
            if seen.contains(&key) {
                return Err(format!("cannot encode cyclic collection as JSON at {path}"));
            }
            seen.push(key);
            out.push('{');
            for (i, (k, item)) in m.borrow().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                quote(k, out);
                out.push(':');
                let len = path.len();
                let _ = write!(path, ".{k}");
                enc(item, out, seen, path)?;
                path.truncate(len);
            }
            out.push('}');
            seen.pop();
        }
        Value::Result(_) => return Err("cannot encode result as JSON".into()),
        other => return Err(format!("cannot encode {} as JSON", other.kind())),
    }
    Ok(())
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
                    map.insert(Arc::<str>::from(key), v);
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
            Some(b'"') => Ok(Value::Str(Arc::from(self.string()?))),
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
