//! C's `long double`: its byte image and the conversions from and to `f64`.
//!
//! jitcall moves a `long double` as its bytes and converts to and from a number (`f64`)
//! at the edge. Two formats exist on the supported targets:
//!
//! - [`Format::X87`]: the x87 80-bit extended format (x86-64 System V and mingw): a sign
//!   bit, a 15-bit exponent (bias 16383) and a 64-bit significand whose integer bit is
//!   explicit. It takes 10 bytes, stored little-endian in 16 (6 bytes of padding).
//! - [`Format::Binary128`]: IEEE 754 binary128 (AArch64 Linux `long double`, gcc's
//!   `__float128`): a sign bit, a 15-bit exponent (bias 16383) and a 112-bit fraction,
//!   16 bytes little-endian.
//!
//! Writing (`f64` to either format) is exact: every `f64`, subnormals included, has an
//! image. Reading rounds once to nearest, ties to even, as the C compiler's conversion does.
//! NaNs follow gcc: they keep their sign and payload (shifted up, or its top bits when
//! narrowing), and come out quiet, except in one case: libgcc's `__extenddftf2` (soft-fp)
//! widens a signalling NaN to binary128 as a signalling NaN (it only raises "invalid"),
//! where the x87 load quiets it.
//! The x87 encodings that the 387 and later no longer accept (unnormals, pseudo-NaNs,
//! pseudo-infinities) read as the x87 "real indefinite" NaN, as the hardware gives; a
//! pseudo-denormal reads as its value. `tests/ldouble.rs` checks every conversion against
//! the C compiler's own.

/// The bits of the `f64` that the x87 gives for an invalid operation ("real indefinite"):
/// the negative quiet NaN without payload.
pub const X87_INDEFINITE_F64: u64 = 0xFFF8_0000_0000_0000;

/// The two formats of C's `long double`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// x87 80-bit extended, in 16 bytes (10 of value, 6 of zero padding).
    X87,
    /// IEEE 754 binary128 (quadruple precision), 16 bytes.
    Binary128,
}

/// The byte image of a C `long double` (16 bytes, little-endian, as the target stores it).
///
/// The bytes mean nothing without their [`Format`]: the caller knows it from the target's
/// ABI. For the x87 format, only the first 10 bytes carry the value; images made here have
/// zero padding, and reading ignores the padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(C, align(16))] // C's alignment, so that it can be a typed (`defbind!`) argument
pub struct LongDouble(pub [u8; 16]);

impl LongDouble {
    /// The image of `x` in `format` (exact; NaNs as gcc converts them, see the functions).
    pub fn from_f64(format: Format, x: f64) -> LongDouble {
        LongDouble(match format {
            Format::X87 => f64_to_x87(x),
            Format::Binary128 => f64_to_binary128(x),
        })
    }

    /// The value of this image in `format`, rounded once to the nearest `f64`.
    pub fn to_f64(&self, format: Format) -> f64 {
        match format {
            Format::X87 => x87_to_f64(&self.0),
            Format::Binary128 => binary128_to_f64(&self.0),
        }
    }

    /// An x87 image from its fields: `exponent` is the biased 15-bit exponent (higher bits
    /// ignored), `significand` the 64-bit significand with its explicit integer bit (bit 63).
    /// Any combination is accepted, the non-canonical encodings too.
    pub fn x87_from_parts(negative: bool, exponent: u16, significand: u64) -> LongDouble {
        let sign_exponent = (u16::from(negative) << 15) | (exponent & 0x7FFF);
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&significand.to_le_bytes());
        bytes[8..10].copy_from_slice(&sign_exponent.to_le_bytes());
        LongDouble(bytes)
    }

    /// The x87 fields of this image: (negative, biased exponent, significand).
    pub fn x87_parts(&self) -> (bool, u16, u64) {
        x87_fields(&self.0)
    }

    /// A binary128 image from its fields: `exponent` is the biased 15-bit exponent,
    /// `fraction` the 112-bit fraction (higher bits of either ignored).
    pub fn binary128_from_parts(negative: bool, exponent: u16, fraction: u128) -> LongDouble {
        let bits = (u128::from(negative) << 127)
            | (u128::from(exponent & 0x7FFF) << 112)
            | (fraction & BINARY128_FRACTION_MASK);
        LongDouble(bits.to_le_bytes())
    }

    /// The binary128 fields of this image: (negative, biased exponent, fraction).
    pub fn binary128_parts(&self) -> (bool, u16, u128) {
        binary128_fields(&self.0)
    }
}

/// The exponent bias of both wide formats.
const WIDE_BIAS: i32 = 16383;
/// The biased exponent of infinities and NaNs in both wide formats.
const WIDE_EXPONENT_MAX: u16 = 0x7FFF;
/// The x87 significand's explicit integer bit.
const X87_INTEGER_BIT: u64 = 1 << 63;
/// The x87 quiet-NaN bit (the significand's top fraction bit).
const X87_QUIET_BIT: u64 = 1 << 62;
/// binary128's fraction field.
const BINARY128_FRACTION_MASK: u128 = (1 << 112) - 1;

/// f64's fields.
const F64_FRACTION_BITS: u32 = 52;
const F64_FRACTION_MASK: u64 = (1 << F64_FRACTION_BITS) - 1;
const F64_QUIET_BIT: u64 = 1 << 51;
const F64_EXPONENT_MAX: u64 = 0x7FF;
const F64_BIAS: i32 = 1023;
/// The exponent of an f64 subnormal's unit in the last place: 2^-1074.
const F64_MIN_EXPONENT_ULP: i32 = -1074;
const F64_INFINITY: u64 = F64_EXPONENT_MAX << F64_FRACTION_BITS;

/// An f64 taken apart, the value being `(-1)^negative * significand * 2^exponent`.
enum F64Class {
    Zero,
    Finite {
        significand: u64,
        exponent: i32,
    },
    Infinity,
    /// The 52-bit fraction (nonzero) of a NaN.
    NaN {
        fraction: u64,
    },
}

/// Splits `x` into its sign and class.
fn classify_f64(x: f64) -> (bool, F64Class) {
    let bits = x.to_bits();
    let negative = bits >> 63 != 0;
    let biased = (bits >> F64_FRACTION_BITS) & F64_EXPONENT_MAX;
    let fraction = bits & F64_FRACTION_MASK;
    let class = match (biased, fraction) {
        (0, 0) => F64Class::Zero,
        // Subnormal: no implicit bit, the exponent of the smallest normal.
        (0, f) => F64Class::Finite { significand: f, exponent: F64_MIN_EXPONENT_ULP },
        (F64_EXPONENT_MAX, 0) => F64Class::Infinity,
        (F64_EXPONENT_MAX, f) => F64Class::NaN { fraction: f },
        (e, f) => F64Class::Finite {
            significand: f | (1 << F64_FRACTION_BITS),
            exponent: e as i32 - F64_BIAS - F64_FRACTION_BITS as i32,
        },
    };
    (negative, class)
}

/// The x87 fields of an image: (negative, biased exponent, significand).
fn x87_fields(image: &[u8; 16]) -> (bool, u16, u64) {
    let mut significand = [0u8; 8];
    significand.copy_from_slice(&image[..8]);
    let sign_exponent = u16::from_le_bytes([image[8], image[9]]);
    (sign_exponent >> 15 != 0, sign_exponent & 0x7FFF, u64::from_le_bytes(significand))
}

/// The binary128 fields of an image: (negative, biased exponent, fraction).
fn binary128_fields(image: &[u8; 16]) -> (bool, u16, u128) {
    let bits = u128::from_le_bytes(*image);
    (bits >> 127 != 0, ((bits >> 112) & 0x7FFF) as u16, bits & BINARY128_FRACTION_MASK)
}

/// The x87 image of `x`, as gcc's `(long double)x` stores it on x86-64 (`fldl`, `fstpt`).
///
/// Exact for every number. A NaN keeps its sign and payload (shifted to the top of the
/// significand) and comes out quiet: the x87 load of a signalling NaN quiets it.
pub fn f64_to_x87(x: f64) -> [u8; 16] {
    let (negative, class) = classify_f64(x);
    let (exponent, significand) = match class {
        F64Class::Zero => (0, 0),
        F64Class::Finite { significand, exponent } => {
            // Normalise: the leading one goes to the explicit integer bit.
            let shift = significand.leading_zeros();
            let value_exponent = exponent + 63 - shift as i32;
            ((value_exponent + WIDE_BIAS) as u16, significand << shift)
        }
        F64Class::Infinity => (WIDE_EXPONENT_MAX, X87_INTEGER_BIT),
        F64Class::NaN { fraction } => {
            (WIDE_EXPONENT_MAX, X87_INTEGER_BIT | X87_QUIET_BIT | (fraction << 11))
        }
    };
    LongDouble::x87_from_parts(negative, exponent, significand).0
}

/// The binary128 image of `x`, as libgcc's `__extenddftf2` gives it.
///
/// Exact for every number. A NaN keeps its sign and payload (shifted to the top of the
/// fraction), and its quiet bit: soft-fp does not quiet a signalling NaN here.
pub fn f64_to_binary128(x: f64) -> [u8; 16] {
    let (negative, class) = classify_f64(x);
    let (exponent, fraction) = match class {
        F64Class::Zero => (0, 0),
        F64Class::Finite { significand, exponent } => {
            // Normalise: the leading one becomes binary128's implicit bit (bit 112).
            let significand = u128::from(significand);
            let shift = significand.leading_zeros() - 15;
            let value_exponent = exponent + 112 - shift as i32;
            ((value_exponent + WIDE_BIAS) as u16, significand << shift)
        }
        F64Class::Infinity => (WIDE_EXPONENT_MAX, 0),
        F64Class::NaN { fraction } => (WIDE_EXPONENT_MAX, u128::from(fraction) << 60),
    };
    LongDouble::binary128_from_parts(negative, exponent, fraction).0
}

/// The `f64` nearest to an x87 image, as gcc's `(double)x` gives it on x86-64 (`fldt`,
/// `fstpl`, round to nearest even). The padding bytes (10 to 15) are ignored.
///
/// - Too large numbers become infinities; too small ones become subnormals or zeros,
///   rounded once.
/// - A NaN keeps its sign and the top 51 bits of its fraction and comes out quiet.
/// - Denormals and pseudo-denormals (exponent 0; integer bit 0 or 1) are read as their
///   value, `significand * 2^-16445`: far below the smallest f64, so zeros of their sign.
/// - Unnormals (exponent neither 0 nor all ones, integer bit 0; pseudo-zeros among them),
///   pseudo-infinities and pseudo-NaNs (exponent all ones, integer bit 0) are invalid
///   operands since the 387: the result is [`X87_INDEFINITE_F64`].
pub fn x87_to_f64(image: &[u8; 16]) -> f64 {
    let (negative, exponent, significand) = x87_fields(image);
    let integer_bit = significand & X87_INTEGER_BIT != 0;
    let bits = match exponent {
        0 if significand == 0 => 0,
        // Denormal or pseudo-denormal: the exponent of the smallest normal, 1.
        0 => round_to_f64(u128::from(significand), 1 - WIDE_BIAS - 63),
        _ if !integer_bit => return f64::from_bits(X87_INDEFINITE_F64),
        WIDE_EXPONENT_MAX if significand == X87_INTEGER_BIT => F64_INFINITY,
        WIDE_EXPONENT_MAX => {
            let payload = (significand >> 11) & F64_FRACTION_MASK;
            F64_INFINITY | F64_QUIET_BIT | payload
        }
        _ => round_to_f64(u128::from(significand), i32::from(exponent) - WIDE_BIAS - 63),
    };
    f64::from_bits(bits | (u64::from(negative) << 63))
}

/// The `f64` nearest to a binary128 image, as libgcc's `__trunctfdf2` gives it (round to
/// nearest even, once).
///
/// Too large numbers become infinities; too small ones subnormals or zeros. A NaN keeps its
/// sign and the top 51 bits of its fraction and comes out quiet.
pub fn binary128_to_f64(image: &[u8; 16]) -> f64 {
    let (negative, exponent, fraction) = binary128_fields(image);
    let bits = match exponent {
        0 if fraction == 0 => 0,
        // Subnormal: no implicit bit, the exponent of the smallest normal.
        0 => round_to_f64(fraction, 1 - WIDE_BIAS - 112),
        WIDE_EXPONENT_MAX if fraction == 0 => F64_INFINITY,
        WIDE_EXPONENT_MAX => {
            let payload = (fraction >> 60) as u64 & F64_FRACTION_MASK;
            F64_INFINITY | F64_QUIET_BIT | payload
        }
        _ => round_to_f64(fraction | (1 << 112), i32::from(exponent) - WIDE_BIAS - 112),
    };
    f64::from_bits(bits | (u64::from(negative) << 63))
}

/// The bits (sign clear) of the f64 nearest to `significand * 2^exponent`, ties to even;
/// `significand` is nonzero. Rounds once, to 53 bits for normal results and to the fixed
/// unit 2^-1074 for subnormal ones.
fn round_to_f64(significand: u128, exponent: i32) -> u64 {
    let width = 128 - significand.leading_zeros() as i32;
    let leading_exponent = exponent + width - 1;
    // The exponent of the result's last place.
    let ulp_exponent = (leading_exponent - F64_FRACTION_BITS as i32).max(F64_MIN_EXPONENT_ULP);
    let shift = ulp_exponent - exponent;
    let units = if shift <= 0 {
        // Exact: at most 53 significant bits, shifted up into place.
        (significand << -shift) as u64
    } else {
        shift_right_round_even(significand, shift as u32)
    };
    // `units * 2^ulp_exponent` with `units` below 2^53. For a normal result the leading
    // unit lands in the exponent field as its +1, for a subnormal one (ulp 2^-1074) the
    // exponent field is 0; a carry out of rounding moves up the exponent by itself.
    // Past the largest exponent the result is infinite (and the shift would lose bits);
    // at the largest, the `min` turns a carry to 2^1024 (or beyond) into infinity.
    let biased_ulp = ulp_exponent - F64_MIN_EXPONENT_ULP;
    if biased_ulp >= F64_EXPONENT_MAX as i32 {
        return F64_INFINITY;
    }
    (((biased_ulp as u64) << F64_FRACTION_BITS) + units).min(F64_INFINITY)
}

/// `value >> shift` rounded to nearest, ties to even (`shift` at least 1).
fn shift_right_round_even(value: u128, shift: u32) -> u64 {
    if shift > 128 {
        return 0; // below half a unit
    }
    let kept = if shift == 128 { 0 } else { value >> shift };
    let dropped = value & (u128::MAX >> (128 - shift));
    let half = 1u128 << (shift - 1);
    let round_up = dropped > half || (dropped == half && kept & 1 == 1);
    (kept + u128::from(round_up)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_ties_go_to_even() {
        assert_eq!(shift_right_round_even(0b101, 1), 0b10);
        assert_eq!(shift_right_round_even(0b111, 1), 0b100);
        assert_eq!(shift_right_round_even(0b1011, 2), 0b11);
        assert_eq!(shift_right_round_even(0b1001, 2), 0b10);
        assert_eq!(shift_right_round_even(1 << 127, 128), 0);
        assert_eq!(shift_right_round_even((1 << 127) + 1, 128), 1);
        assert_eq!(shift_right_round_even(u128::MAX, 129), 0);
    }

    #[test]
    fn every_f64_round_trips_through_both_formats() {
        for x in [0.0, -0.0, 1.0, -1.5, f64::MAX, f64::MIN_POSITIVE, 5e-324, -4.9e-310] {
            for format in [Format::X87, Format::Binary128] {
                let back = LongDouble::from_f64(format, x).to_f64(format);
                assert_eq!(back.to_bits(), x.to_bits(), "{x:e} in {format:?}");
            }
        }
    }
}
