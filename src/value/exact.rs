//! Exact integers of up to 128 bits, and the integer literals that spell them.

use super::Value;

/// An exact integer of up to 128 bits, signed or not: a sign and a magnitude.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Exact {
    /// Never true for zero.
    negative: bool,
    magnitude: u128,
}

impl Exact {
    pub(crate) fn new(negative: bool, magnitude: u128) -> Exact {
        Exact { negative: negative && magnitude != 0, magnitude }
    }

    pub(crate) fn is_zero(self) -> bool {
        self.magnitude == 0
    }

    pub(super) fn from_i128(v: i128) -> Exact {
        Exact::new(v < 0, v.unsigned_abs())
    }

    pub(super) fn to_i128(self) -> Option<i128> {
        if self.negative {
            0i128.checked_sub_unsigned(self.magnitude)
        } else {
            i128::try_from(self.magnitude).ok()
        }
    }

    pub(super) fn to_u128(self) -> Option<u128> {
        (!self.negative).then_some(self.magnitude)
    }

    /// The value in the smallest representation that holds it exactly, as the reader
    /// gives integer literals: a number up to 2^53 in magnitude, then a 64-bit box, then
    /// a 128-bit one.
    pub(crate) fn to_value(self) -> Option<Value> {
        const TWO_53: u128 = 1 << 53;
        if self.magnitude <= TWO_53 {
            let n = self.magnitude as f64;
            return Some(Value::Number(if self.negative { -n } else { n }));
        }
        let signed = self.to_i128();
        Some(match signed {
            Some(v) if i64::try_from(v).is_ok() => Value::Int(v as i64),
            Some(v) if u64::try_from(v).is_ok() => Value::UInt(v as u64),
            Some(v) => Value::Int128(v),
            None => Value::UInt128(self.to_u128()?),
        })
    }
}

/// What a string of digits spells: an integer that fits 128 bits, or one that does not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IntLiteral {
    Fits(Exact),
    TooLarge,
}

/// An integer written in decimal or `0x` hex, with an optional sign and `_` separators;
/// `None` when the text is not an integer at all.
pub(crate) fn parse_int(text: &[u8]) -> Option<IntLiteral> {
    let text = std::str::from_utf8(text).ok()?;
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (radix, digits) = match digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        Some(hex) => (16, hex),
        None => (10, digits),
    };
    if digits.starts_with('_') || !digits.bytes().any(|b| b != b'_') {
        return None;
    }
    let mut magnitude: Option<u128> = Some(0);
    for c in digits.chars().filter(|&c| c != '_') {
        let digit = c.to_digit(radix)?;
        magnitude = magnitude
            .and_then(|m| m.checked_mul(radix.into()))
            .and_then(|m| m.checked_add(digit.into()));
    }
    Some(match magnitude {
        Some(m) if !negative || m <= 1 << 127 => IntLiteral::Fits(Exact::new(negative, m)),
        _ => IntLiteral::TooLarge,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_int_is_exact_past_64_bits() {
        let fits = |neg, m| Some(IntLiteral::Fits(Exact::new(neg, m)));
        assert_eq!(parse_int(b"-0x8000_0000_0000_0000"), fits(true, 1 << 63));
        assert_eq!(parse_int(b"340282366920938463463374607431768211455"), fits(false, u128::MAX));
        assert_eq!(
            parse_int(b"340282366920938463463374607431768211456"),
            Some(IntLiteral::TooLarge)
        );
        assert_eq!(parse_int(b"-0x8000_0000_0000_0000_0000_0000_0000_0000"), fits(true, 1 << 127));
        assert_eq!(
            parse_int(b"-0x8000_0000_0000_0000_0000_0000_0000_0001"),
            Some(IntLiteral::TooLarge)
        );
        for text in ["", "-", "0x", "_1", "1.5", "0x+5", "+-1", "1e3", "12ab"] {
            assert_eq!(parse_int(text.as_bytes()), None, "{text:?}");
        }
    }
}
