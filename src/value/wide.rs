//! Values of the wide scalars (`long double`, 128-bit integers, complex numbers) and of
//! unions: their conversions from and to native images.
//!
//! - `long double` converts from and to a number (an `f64`), exactly where it can (see
//!   [`crate::ldouble`]); where the host's `long double` is a `double`, it is one.
//! - 128-bit integers convert from and to exact integers (numbers that are safe integers,
//!   64- and 128-bit boxes, decimal or hex strings); they read back as 128-bit boxes.
//! - A complex number is a 2-tuple `(re im)` of its parts.
//! - A union is written from `[I V]` (field I set to V, every other byte zero) or from a
//!   string or buffer of exactly its size, and reads back as a tuple of every field's
//!   view of its bytes, in field order.

use crate::error::{Error, Path, Result};
use crate::ldouble::LongDouble;
use crate::types::{StructType, Type, Wide, HOST_LONG_DOUBLE};
use crate::value::{self, Exact, Value};

/// [`value::encode`] for a wide scalar: its image into `out` when there is one.
pub(crate) fn convert_wide(
    w: Wide,
    value: &Value,
    out: Option<&mut [u8]>,
    path: &Path,
) -> Result<()> {
    if let Some(part) = w.complex_part() {
        return convert_complex(&part, value, out, path);
    }
    let image: [u8; 16] = match w {
        Wide::LongDouble => long_double_image(value::number(value, path)?),
        Wide::I128 => signed_128(value, path)?.to_le_bytes(),
        _ => unsigned_128(value, path)?.to_le_bytes(),
    };
    if let Some(out) = out {
        out.copy_from_slice(&image[..out.len()]);
    }
    Ok(())
}

/// The host `long double` image of `x` (its low 8 bytes where that is a `double`).
fn long_double_image(x: f64) -> [u8; 16] {
    match HOST_LONG_DOUBLE {
        Some(format) => LongDouble::from_f64(format, x).0,
        None => {
            let mut image = [0; 16];
            image[..8].copy_from_slice(&x.to_le_bytes());
            image
        }
    }
}

/// The number a host `long double` image holds, rounded to the nearest `f64`.
fn long_double_value(bytes: &[u8]) -> f64 {
    match HOST_LONG_DOUBLE {
        Some(format) => {
            let mut image = [0; 16];
            image.copy_from_slice(&bytes[..16]);
            LongDouble(image).to_f64(format)
        }
        None => f64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")),
    }
}

/// An exact integer: a safe-integer number, a box, or a string that spells one.
fn exact(value: &Value) -> Option<Exact> {
    match value {
        Value::Number(n) if n.abs() <= 9007199254740992.0 && n.fract() == 0.0 => {
            Some(Exact::new(*n < 0.0, n.abs() as u128))
        }
        _ => value::exact_integer_or_string(value),
    }
}

fn signed_128(value: &Value, path: &Path) -> Result<i128> {
    exact(value).and_then(Exact::to_i128).ok_or_else(|| {
        let msg =
            format!("can not convert {} {value} to 128 bit signed integer", value.type_name());
        Error::value(path, msg)
    })
}

fn unsigned_128(value: &Value, path: &Path) -> Result<u128> {
    exact(value).and_then(Exact::to_u128).ok_or_else(|| {
        let msg =
            format!("can not convert {} {value} to a 128 bit unsigned integer", value.type_name());
        Error::value(path, msg)
    })
}

fn convert_complex(part: &Type, value: &Value, out: Option<&mut [u8]>, path: &Path) -> Result<()> {
    let parts = match value.as_indexed() {
        Some(parts @ [_, _]) => parts,
        _ => {
            let msg = format!("expected a complex number (re im), got {value}");
            return Err(Error::value(path, msg));
        }
    };
    let size = part.size();
    let mut out = out;
    for (i, v) in parts.iter().enumerate() {
        let image = out.as_deref_mut().map(|o| &mut o[i * size..(i + 1) * size]);
        value::convert(part, v, image, path).map_err(|e| e.within(i))?;
    }
    Ok(())
}

/// The value of a wide scalar's image (`w.size()` bytes).
pub(crate) fn decode_wide(w: Wide, bytes: &[u8]) -> Value {
    match w {
        Wide::LongDouble => Value::Number(long_double_value(bytes)),
        Wide::I128 => Value::Int128(i128::from_le_bytes(bytes[..16].try_into().expect("16"))),
        Wide::U128 => Value::UInt128(u128::from_le_bytes(bytes[..16].try_into().expect("16"))),
        Wide::ComplexF32 | Wide::ComplexF64 | Wide::ComplexLongDouble => {
            let part = w.complex_part().expect("a complex type has parts");
            let size = part.size();
            let halves = [&bytes[..size], &bytes[size..2 * size]];
            // SAFETY: a float part holds no pointer: decoding it dereferences nothing.
            Value::Tuple(
                halves.map(|b| unsafe { value::decode_following_pointers(&part, b) }).into(),
            )
        }
    }
}

/// [`value::encode`] for a union `ty` (whose layout is `s`): `[I V]`, or its bytes.
pub(crate) fn convert_union(
    ty: &Type,
    s: &StructType,
    value: &Value,
    out: Option<&mut [u8]>,
    path: &Path,
) -> Result<()> {
    let bytes = match value {
        Value::String(text) => Some(text.as_bytes().to_vec()),
        Value::Buffer(buffer) => Some(buffer.to_vec()),
        _ => None,
    };
    if let Some(bytes) = bytes {
        if bytes.len() != ty.size() {
            let msg = format!(
                "union {ty} is {} bytes, got a {} of {} bytes",
                ty.size(),
                value.type_name(),
                bytes.len()
            );
            return Err(Error::value(path, msg));
        }
        if let Some(out) = out {
            out.copy_from_slice(&bytes);
        }
        return Ok(());
    }
    let [index, member] = match value.as_indexed() {
        Some([index, member]) => [index, member],
        _ => {
            let msg = format!(
                "expected [index value], or a string or buffer of {} bytes, for union {ty}, got {value}",
                ty.size()
            );
            return Err(Error::value(path, msg));
        }
    };
    let fields = s.fields();
    let field = match *index {
        Value::Number(n) if n.fract() == 0.0 && n >= 0.0 && (n as usize) < fields.len() => {
            &fields[n as usize]
        }
        _ => {
            let msg = format!(
                "bad union field index {index}, expected an integer from 0 to {}",
                fields.len() - 1
            );
            return Err(Error::value(path, msg));
        }
    };
    let mut out = out;
    if let Some(out) = out.as_deref_mut() {
        out.fill(0);
    }
    let image = out.map(|o| &mut o[..field.ty.size()]);
    value::convert(&field.ty, member, image, path).map_err(|e| e.within(1))
}
