//! A reader for Janet data literals: what the `jitcall` tool takes as types and values.
//! (Values print as Janet's `pp` does through their `Display`.)
//!
//! Read: `nil`, `true`, `false`, numbers (`42`, `-1.5`, `0x10`, `1e3`, `1_000`), strings
//! `"..."` and long strings `` `...` ``, buffers `@"..."`, keywords `:name`, symbols,
//! tuples `[...]` / `(...)`, arrays `@[...]` / `@(...)`, and `#` comments.
//! Integer literals (decimal or hex) are exact: up to 2^53 in magnitude they read as
//! numbers, past that as [`Value::Int`] / [`Value::UInt`], and past 64 bits as
//! [`Value::Int128`] / [`Value::UInt128`]; one that does not fit 128 bits is an error.

use crate::error::{Error, Result};
use crate::value::{parse_int, Buffer, IntLiteral, Str, Value};

/// How deep tuples and arrays may nest in a literal: deeper input is an error, not a
/// stack overflow.
const MAX_NESTING: usize = 256;

/// Reads exactly one value from `text` (surrounding whitespace and comments allowed).
///
/// # Errors
/// Malformed input, nothing to read, or more than one value.
pub fn read(text: &str) -> Result<Value> {
    read_bytes(text.as_bytes())
}

/// As [`read`], for text that need not be UTF-8: strings may hold any bytes, while
/// symbols and numbers must be UTF-8.
///
/// # Errors
/// As [`read`].
pub fn read_bytes(text: &[u8]) -> Result<Value> {
    let mut reader = Reader { src: text, pos: 0 };
    let value = reader.value(0)?;
    reader.skip_space();
    if reader.pos < reader.src.len() {
        return Err(reader.error("unexpected text after the value"));
    }
    Ok(value)
}

struct Reader<'a> {
    src: &'a [u8],
    pos: usize,
}

fn is_symbol_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80 || b"!$%&*+-./:<=>?^_|~'".contains(&b)
}

impl<'a> Reader<'a> {
    fn error(&self, message: &str) -> Error {
        Error::Syntax { offset: self.pos, message: message.to_string() }
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b'#' => {
                    while self.peek().is_some_and(|b| b != b'\n') {
                        self.pos += 1;
                    }
                }
                b if b.is_ascii_whitespace() || b == b',' => self.pos += 1,
                _ => break,
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value> {
        self.skip_space();
        let Some(b) = self.peek() else {
            return Err(self.error("expected a value"));
        };
        match b {
            b'(' | b'[' => {
                self.pos += 1;
                Ok(Value::Tuple(self.sequence(closer(b), depth)?))
            }
            b'@' => {
                self.pos += 1;
                match self.peek() {
                    Some(b @ (b'(' | b'[')) => {
                        self.pos += 1;
                        Ok(Value::Array(self.sequence(closer(b), depth)?))
                    }
                    Some(b'"') => Ok(Value::Buffer(Buffer::from_vec(self.string()?))),
                    Some(b'`') => Ok(Value::Buffer(Buffer::from_vec(self.long_string()?))),
                    _ => Err(self.error("expected [, (, \" or ` after @")),
                }
            }
            b'"' => Ok(Value::String(Str::new(&self.string()?))),
            b'`' => Ok(Value::String(Str::new(&self.long_string()?))),
            b'{' => Err(self.error("structs and tables are not values jitcall takes")),
            b')' | b']' | b'}' => Err(self.error("unexpected closing delimiter")),
            b':' => {
                self.pos += 1;
                Ok(Value::Keyword(Str::new(self.token())))
            }
            _ if is_symbol_byte(b) => {
                let start = self.pos;
                let token = self.token();
                if token.is_empty() {
                    return Err(self.error("unexpected character"));
                }
                let text = std::str::from_utf8(token).map_err(|_| self.error("invalid UTF-8"))?;
                Ok(match text {
                    "nil" => Value::Nil,
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    _ => match parse_number(text) {
                        Ok(Some(v)) => v,
                        Ok(None) => Value::Symbol(Str::new(token)),
                        Err(message) => {
                            self.pos = start;
                            return Err(self.error(&message));
                        }
                    },
                })
            }
            _ => Err(self.error("unexpected character")),
        }
    }

    fn token(&mut self) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(is_symbol_byte) {
            self.pos += 1;
        }
        &self.src[start..self.pos]
    }

    fn sequence(&mut self, close: u8, depth: usize) -> Result<Vec<Value>> {
        if depth >= MAX_NESTING {
            return Err(self.error("nesting too deep"));
        }
        let mut items = Vec::new();
        loop {
            self.skip_space();
            match self.peek() {
                None => return Err(self.error("unterminated tuple or array")),
                Some(b) if b == close => {
                    self.pos += 1;
                    return Ok(items);
                }
                Some(_) => items.push(self.value(depth + 1)?),
            }
        }
    }

    fn string(&mut self) -> Result<Vec<u8>> {
        self.pos += 1; // the opening quote
        let mut out = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(self.error("unterminated string"));
            };
            self.pos += 1;
            match b {
                b'"' => return Ok(out),
                b'\\' => self.escape(&mut out)?,
                _ => out.push(b),
            }
        }
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Result<()> {
        let Some(b) = self.peek() else {
            return Err(self.error("unterminated string"));
        };
        self.pos += 1;
        let simple = match b {
            b'n' => b'\n',
            b't' => b'\t',
            b'r' => b'\r',
            b'0' => 0,
            b'z' => 0,
            b'f' => 0x0c,
            b'v' => 0x0b,
            b'e' => 0x1b,
            b'"' => b'"',
            b'\\' => b'\\',
            b'\'' => b'\'',
            b'x' => {
                let v = self.hex_digits(2)?;
                out.push(v as u8);
                return Ok(());
            }
            b'u' | b'U' => {
                let v = self.hex_digits(if b == b'u' { 4 } else { 6 })?;
                let c = char::from_u32(v).ok_or_else(|| self.error("bad unicode escape"))?;
                out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                return Ok(());
            }
            _ => return Err(self.error("unknown string escape")),
        };
        out.push(simple);
        Ok(())
    }

    fn hex_digits(&mut self, n: usize) -> Result<u32> {
        let digits =
            self.src.get(self.pos..self.pos + n).ok_or_else(|| self.error("short escape"))?;
        let text = std::str::from_utf8(digits).map_err(|_| self.error("bad hex escape"))?;
        let v = u32::from_str_radix(text, 16).map_err(|_| self.error("bad hex escape"))?;
        self.pos += n;
        Ok(v)
    }

    /// A Janet long string: n backticks, raw bytes, n backticks.
    fn long_string(&mut self) -> Result<Vec<u8>> {
        let start = self.pos;
        while self.peek() == Some(b'`') {
            self.pos += 1;
        }
        let fence = &self.src[start..self.pos];
        let body_start = self.pos;
        let rest = &self.src[body_start..];
        let end = rest
            .windows(fence.len())
            .position(|w| w == fence)
            .ok_or_else(|| self.error("unterminated long string"))?;
        self.pos = body_start + end + fence.len();
        Ok(rest[..end].to_vec())
    }
}

fn closer(open: u8) -> u8 {
    if open == b'(' {
        b')'
    } else {
        b']'
    }
}

fn starts_like_number(text: &str) -> bool {
    let t = text.strip_prefix(['-', '+']).unwrap_or(text);
    t.starts_with(|c: char| c.is_ascii_digit()) || (t.starts_with('.') && t.len() > 1)
}

/// A Janet number literal: an exact integer (decimal or `0x` hex), or a decimal with a
/// fraction or exponent. `Ok(None)`: the text is no number (a symbol).
fn parse_number(text: &str) -> std::result::Result<Option<Value>, String> {
    if !starts_like_number(text) {
        return Ok(None);
    }
    match parse_int(text.as_bytes()) {
        // `-0` is the double -0.0, as in Janet.
        Some(IntLiteral::Fits(v)) if v.is_zero() && text.starts_with('-') => {
            return Ok(Some(Value::Number(-0.0)))
        }
        Some(IntLiteral::Fits(v)) => return Ok(v.to_value()),
        Some(IntLiteral::TooLarge) => {
            return Err(format!("integer {text} is too large: literals hold at most 128 bits"))
        }
        None => {}
    }
    let bad = || format!("bad number {text}");
    let clean = text.replace('_', "");
    let (negative, body) = match clean.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, clean.strip_prefix('+').unwrap_or(&clean)),
    };
    let digits_and_exponent = body.bytes().all(|b| b.is_ascii_digit() || b"eE.+-".contains(&b));
    if !digits_and_exponent || body.starts_with(['+', '-']) {
        return Err(bad());
    }
    let v: f64 = body.parse().map_err(|_| bad())?;
    Ok(Some(Value::Number(if negative { -v } else { v })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_prints_round_trip() {
        for text in [
            "nil",
            "true",
            "(1 2.5 :kw sym \"a\\nb\")",
            "@[1 @[2] ()]",
            "@\"xy\\0z\"",
            "18446744073709551615",
            "-9223372036854775808",
        ] {
            assert_eq!(read(text).unwrap().to_string(), text);
        }
        assert_eq!(read("0x10").unwrap(), Value::Number(16.0));
        assert_eq!(read("1e3").unwrap(), Value::Number(1000.0));
        assert_eq!(read("[1 # c\n 2]").unwrap(), read("(1 2)").unwrap());
        assert_eq!(read("`a\"b`").unwrap(), Value::string("a\"b"));
    }

    #[test]
    fn bad_literals_are_errors() {
        for text in ["", "(1 2", "\"abc", "1 2", "{:a 1}", "12abc", ")", "@x", "\"\\q\""] {
            assert!(read(text).is_err(), "{text:?} should not read");
        }
        let deep = "[".repeat(100_000);
        assert!(read(&deep).is_err());
    }
}
