//! Printing values as Janet's `pp` does: `Display` for [`Value`] (and `Debug` for
//! [`Buffer`], which shows its contents).

use std::fmt;

use super::{Buffer, Value};

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&print(self))
    }
}

impl fmt::Debug for Buffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", print(&Value::Buffer(self.clone())))
    }
}

/// Prints a value as Janet's `pp` does, except that integer boxes print as plain integers.
fn print(value: &Value) -> String {
    let mut out = String::new();
    print_into(value, &mut out, 0);
    out
}

/// Deeper nesting prints as `...`: printing must not exhaust the stack either.
const MAX_PRINT_DEPTH: usize = 256;

fn print_into(value: &Value, out: &mut String, depth: usize) {
    if depth > MAX_PRINT_DEPTH {
        out.push_str("...");
        return;
    }
    match value {
        Value::Nil => out.push_str("nil"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&format_number(*n)),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::UInt(u) => out.push_str(&u.to_string()),
        Value::Int128(i) => out.push_str(&i.to_string()),
        Value::UInt128(u) => out.push_str(&u.to_string()),
        Value::String(s) => quote(s.as_bytes(), out),
        Value::Buffer(b) => {
            out.push('@');
            quote(&b.to_vec(), out);
        }
        Value::Keyword(k) => {
            out.push(':');
            out.push_str(&String::from_utf8_lossy(k.as_bytes()));
        }
        Value::Symbol(s) => out.push_str(&String::from_utf8_lossy(s.as_bytes())),
        Value::Tuple(items) => sequence("(", items, ")", out, depth),
        Value::Array(items) => sequence("@[", items, "]", out, depth),
        Value::Pointer(p) => out.push_str(&format!("{p:?}")),
        Value::Function(f) => out.push_str(&format!("<function {:#x}>", f.userdata().addr())),
    }
}

fn sequence(open: &str, items: &[Value], close: &str, out: &mut String, depth: usize) {
    out.push_str(open);
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        print_into(item, out, depth + 1);
    }
    out.push_str(close);
}

fn quote(bytes: &[u8], out: &mut String) {
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                '\0' => out.push_str("\\0"),
                '\x0c' => out.push_str("\\f"),
                '\x0b' => out.push_str("\\v"),
                '\x1b' => out.push_str("\\e"),
                c if (c as u32) < 0x20 || c == '\x7f' => {
                    out.push_str(&format!("\\x{:02X}", c as u32))
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out.push('"');
}

/// A double as Janet prints it: integers up to 2^53 as plain digits, zero as `0`, and
/// anything else as C's `%.Pg` with the smallest precision P that reads back exactly:
/// `60`, `0.1`, `1e+21`, `1.5e-07`.
pub fn format_number(n: f64) -> String {
    if n.is_nan() {
        return "nan".into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if n == 0.0 {
        return "0".into();
    }
    if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_992.0 {
        return format!("{}", n as i64);
    }
    // `{:e}` gives the shortest round-trip digits: "1.2345e6", "-5e-7".
    let sci = format!("{n:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let precision = digits.len() as i32;
    if exp < -4 || exp >= precision {
        exponent_form(sign, &digits, exp)
    } else if exp < 0 {
        format!("{sign}0.{}{digits}", "0".repeat((-exp - 1) as usize))
    } else {
        let (int_part, frac) = digits.split_at(exp as usize + 1);
        match frac {
            "" => format!("{sign}{int_part}"),
            _ => format!("{sign}{int_part}.{frac}"),
        }
    }
}

fn exponent_form(sign: &str, digits: &str, exp: i32) -> String {
    let (first, rest) = digits.split_at(1);
    let dot = if rest.is_empty() { String::new() } else { format!(".{rest}") };
    let exp_sign = if exp < 0 { '-' } else { '+' };
    format!("{sign}{first}{dot}e{exp_sign}{:02}", exp.abs())
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_like_janet() {
        for (n, s) in [
            (60.0, "60"),
            (0.1, "0.1"),
            (-1.5, "-1.5"),
            (1e20, "1e+20"),
            (9007199254740992.0, "9007199254740992"),
            (1e21, "1e+21"),
            (1.5e-7, "1.5e-07"),
            (0.0001, "0.0001"),
            (123456789012.0, "123456789012"),
            (9876543210.0, "9876543210"),
            (0.0, "0"),
            (-0.0, "0"),
            (f64::from(0.1f32), "0.10000000149011612"),
        ] {
            assert_eq!(format_number(n), s, "{n:e}");
        }
    }
}
