//! Conversions between values and native memory images (spec §2): [`encode`] and the
//! getters (Janet's rules for which values each type accepts), and [`decode`].

use crate::error::{Error, Path, Result};
use crate::types::{Prim, Type};

use super::exact::{parse_int, Exact, IntLiteral};
use super::{Pointer, Str, Value};

// ---------------------------------------------------------------------------------------
// Value -> native image

const TWO_53: f64 = 9_007_199_254_740_992.0;

/// Writes the native image of `value` as `ty` into `out` (exactly `ty.size()` bytes).
/// Bytes that the type does not cover (padding) are left as they are.
///
/// # Errors
/// A value of the wrong kind or range, with `path` naming where it sits.
/// `path` names the value (its argument); an error inside an aggregate adds the field and
/// element indices on its way out, so the success path allocates nothing.
pub fn encode(ty: &Type, value: &Value, out: &mut [u8], path: &Path) -> Result<()> {
    debug_assert_eq!(out.len(), ty.size(), "encode: image size differs from the type's");
    convert(ty, value, Some(out), path)
}

/// Checks that `value` converts to `ty`, as [`encode`] would, without writing anything:
/// so that memory for the image is only asked for once the value is known to fit it.
///
/// # Errors
/// The error [`encode`] would give.
pub fn check_encodable(ty: &Type, value: &Value, path: &Path) -> Result<()> {
    convert(ty, value, None, path)
}

/// [`encode`], writing only when there is an image to write to.
pub(crate) fn convert(ty: &Type, value: &Value, out: Option<&mut [u8]>, path: &Path) -> Result<()> {
    match ty {
        Type::Prim(p) => match out {
            Some(out) => encode_prim(*p, value, out, path),
            None => encode_prim_bits(*p, value, path).map(drop),
        },
        Type::Wide(w) => super::wide::convert_wide(*w, value, out, path),
        Type::Union(s) => super::wide::convert_union(ty, s, value, out, path),
        Type::Struct(s) => {
            let elems = value.as_indexed().ok_or_else(|| expected_indexed(value, path))?;
            if elems.len() != s.fields().len() {
                return Err(Error::value(
                    path,
                    format!(
                        "wrong number of fields in struct, expected {}, got {}",
                        s.fields().len(),
                        elems.len()
                    ),
                ));
            }
            let mut out = out;
            for (i, (field, elem)) in s.fields().iter().zip(elems).enumerate() {
                let range = field.offset..field.offset + field.ty.size();
                let image = out.as_deref_mut().map(|o| &mut o[range]);
                convert(&field.ty, elem, image, path).map_err(|e| e.within(i))?;
            }
            Ok(())
        }
        Type::Array(a) => {
            let elems = value.as_indexed().ok_or_else(|| expected_indexed(value, path))?;
            if elems.len() != a.len {
                return Err(Error::value(
                    path,
                    format!("bad array length, expected {}, got {}", a.len, elems.len()),
                ));
            }
            let step = a.elem.size();
            let mut out = out;
            for (i, elem) in elems.iter().enumerate() {
                let image = out.as_deref_mut().map(|o| &mut o[i * step..(i + 1) * step]);
                convert(&a.elem, elem, image, path).map_err(|e| e.within(i))?;
            }
            Ok(())
        }
    }
}

fn expected_indexed(value: &Value, path: &Path) -> Error {
    Error::value(path, format!("expected array or tuple, got {value}"))
}

/// The native image of a primitive, in the low bytes of a `u64` (little-endian order).
#[inline]
pub fn encode_prim_bits(p: Prim, value: &Value, path: &Path) -> Result<u64> {
    let bits = match p {
        Prim::Void => match value {
            Value::Nil => 0,
            _ => return Err(Error::value(path, format!("expected nil, got {value}"))),
        },
        Prim::Bool => match value {
            Value::Bool(b) => *b as u64,
            _ => return Err(Error::value(path, format!("expected boolean, got {value}"))),
        },
        Prim::F32 => (number(value, path)? as f32).to_bits().into(),
        Prim::F64 => number(value, path)?.to_bits(),
        // Janet's getters, but a value outside the width's range is an error (Janet
        // truncates it with a C cast).
        Prim::I8 => get_narrow_signed(value, 8, path)? as i64 as u64,
        Prim::I16 => get_narrow_signed(value, 16, path)? as i64 as u64,
        Prim::I32 => get_int32(value, path)? as i64 as u64,
        Prim::I64 => get_int64(value, path)? as u64,
        Prim::U8 => get_narrow_unsigned(value, 8, path)?,
        Prim::U16 => get_narrow_unsigned(value, 16, path)?,
        Prim::U32 => get_narrow_unsigned(value, 32, path)?,
        Prim::U64 => get_uint64(value, path)?,
        Prim::Ptr => pointer_of(value, path)?.addr() as u64,
        Prim::String => match value {
            Value::String(s) if s.as_bytes().contains(&0) => {
                return Err(Error::value(path, "bytes contain embedded 0s"))
            }
            Value::String(s) => s.as_ptr() as u64,
            _ => return Err(Error::value(path, format!("expected string, got {value}"))),
        },
    };
    Ok(bits)
}

/// [`encode_prim_bits`] for the values each primitive most often gets (numbers, exact
/// integers of its own kind, booleans, pointer values), with the same bits; `None` for
/// any other value, which [`encode_prim_bits`] then takes or refuses. Small enough to be
/// inlined into a call's argument loop.
#[inline(always)]
pub(crate) fn common_prim_bits(p: Prim, value: &Value) -> Option<u64> {
    // The same tests as the getters': a saturating cast that round-trips is an integral
    // number in the type's range (and NaN never round-trips).
    let bits = match (p, value) {
        (Prim::F64, Value::Number(n)) => n.to_bits(),
        (Prim::F32, Value::Number(n)) => (*n as f32).to_bits().into(),
        (Prim::I32, Value::Number(n)) if f64::from(*n as i32) == *n => *n as i32 as u64,
        (Prim::I16, Value::Number(n)) if f64::from(*n as i16) == *n => *n as i16 as u64,
        (Prim::I8, Value::Number(n)) if f64::from(*n as i8) == *n => *n as i8 as u64,
        (Prim::U32, Value::Number(n)) if f64::from(*n as u32) == *n => (*n as u32).into(),
        (Prim::U16, Value::Number(n)) if f64::from(*n as u16) == *n => (*n as u16).into(),
        (Prim::U8, Value::Number(n)) if f64::from(*n as u8) == *n => (*n as u8).into(),
        (Prim::I64, Value::Int(i)) => *i as u64,
        (Prim::I64, Value::Number(n)) if n.abs() <= TWO_53 && (*n as i64) as f64 == *n => {
            *n as i64 as u64
        }
        (Prim::U64, Value::UInt(u)) => *u,
        (Prim::U64, Value::Number(n)) if (0.0..=TWO_53).contains(n) && (*n as u64) as f64 == *n => {
            *n as u64
        }
        (Prim::Bool, Value::Bool(b)) => u64::from(*b),
        (Prim::Ptr, Value::Pointer(ptr)) => ptr.addr() as u64,
        (Prim::Ptr, Value::Nil) => 0,
        _ => return None,
    };
    Some(bits)
}

#[inline]
fn encode_prim(p: Prim, value: &Value, out: &mut [u8], path: &Path) -> Result<()> {
    let bits = encode_prim_bits(p, value, path)?;
    // Fixed-size stores: a variable-length copy would be a library call for 1-8 bytes.
    match out.len() {
        1 => out[0] = bits as u8,
        2 => out.copy_from_slice(&(bits as u16).to_le_bytes()),
        4 => out.copy_from_slice(&(bits as u32).to_le_bytes()),
        8 => out.copy_from_slice(&bits.to_le_bytes()),
        _ => {} // void: nothing to write
    }
    Ok(())
}

#[inline]
pub(crate) fn number(value: &Value, path: &Path) -> Result<f64> {
    match value {
        Value::Number(n) => Ok(*n),
        _ => Err(Error::value(path, format!("expected number, got {value}"))),
    }
}

/// Janet's int32 getter: an integral number in the int32 range, nothing else.
#[inline]
fn get_int32(value: &Value, path: &Path) -> Result<i32> {
    match *value {
        // The saturating cast round-trips exactly for integral values in range.
        Value::Number(n) if f64::from(n as i32) == n => Ok(n as i32),
        _ => Err(Error::value(path, format!("expected 32 bit signed integer, got {value}"))),
    }
}

/// A signed integer of `bits` (8 or 16) bits: the int32 getter, then a range check where
/// Janet would truncate (`:int8 300` would be 44).
#[inline]
fn get_narrow_signed(value: &Value, bits: u32, path: &Path) -> Result<i32> {
    let v = get_int32(value, path)?;
    let max = (1i32 << (bits - 1)) - 1;
    if !(-max - 1..=max).contains(&v) {
        return Err(Error::value(path, format!("expected {bits} bit signed integer, got {value}")));
    }
    Ok(v)
}

/// Janet's signed 64-bit getter: a safe-integer number, a decimal or hex string, or an
/// exact integer box whose value is in range (Janet would reinterpret a box's bits).
#[inline]
fn get_int64(value: &Value, path: &Path) -> Result<i64> {
    let got = match value {
        Value::Number(n) if n.abs() <= TWO_53 && (*n as i64) as f64 == *n => Some(*n as i64),
        Value::Int(i) => Some(*i),
        _ => exact_integer_or_string(value).and_then(|v| i64::try_from(v.to_i128()?).ok()),
    };
    got.ok_or_else(|| {
        let msg = format!("can not convert {} {value} to 64 bit signed integer", value.type_name());
        Error::value(path, msg)
    })
}

/// Janet's unsigned 64-bit getter: a non-negative safe-integer number, a string, or an
/// exact integer box whose value is in range.
#[inline]
fn get_uint64(value: &Value, path: &Path) -> Result<u64> {
    let got = match value {
        Value::Number(n) if (0.0..=TWO_53).contains(n) && (*n as u64) as f64 == *n => {
            Some(*n as u64)
        }
        Value::UInt(u) => Some(*u),
        _ => exact_integer_or_string(value).and_then(|v| u64::try_from(v.to_u128()?).ok()),
    };
    got.ok_or_else(|| {
        let msg =
            format!("can not convert {} {value} to a 64 bit unsigned integer", value.type_name());
        Error::value(path, msg)
    })
}

/// An unsigned integer of `bits` (8, 16 or 32) bits: the unsigned 64-bit getter, then a
/// range check where Janet would truncate (`:uint8 256` would be 0).
#[inline]
fn get_narrow_unsigned(value: &Value, bits: u32, path: &Path) -> Result<u64> {
    let v = get_uint64(value, path)?;
    if v >> bits != 0 {
        let article = if bits == 8 { "an" } else { "a" };
        let msg = format!(
            "can not convert {} {value} to {article} {bits} bit unsigned integer",
            value.type_name()
        );
        return Err(Error::value(path, msg));
    }
    Ok(v)
}

/// The exact integer of a box, or of a string that spells one; numbers are left to the
/// getters (Janet's rules for them differ per getter).
pub(crate) fn exact_integer_or_string(value: &Value) -> Option<Exact> {
    match value {
        Value::String(s) => match parse_int(s.as_bytes())? {
            IntLiteral::Fits(v) => Some(v),
            IntLiteral::TooLarge => None,
        },
        Value::Number(_) => None,
        other => other.exact_integer(),
    }
}

/// The address a value stands for as a `:ptr` (spec §2.3).
#[inline]
pub fn pointer_of(value: &Value, path: &Path) -> Result<Pointer> {
    match value {
        Value::Nil => Ok(Pointer::NULL),
        Value::Pointer(p) => Ok(*p),
        Value::Buffer(b) => Ok(b.data_ptr()),
        Value::String(s) | Value::Keyword(s) | Value::Symbol(s) => {
            Ok(Pointer::from_ptr(s.as_ptr()))
        }
        // The function's address, valid while the function (any clone) lives; Janet's
        // trampoline receives it as userdata.
        Value::Function(f) => Ok(f.userdata()),
        Value::Int(_) | Value::UInt(_) | Value::Int128(_) | Value::UInt128(_) => Err(Error::value(
            path,
            format!("expected string, symbol, keyword or buffer, got {value}"),
        )),
        _ => Err(Error::value(path, format!("expected ffi pointer convertible type, got {value}"))),
    }
}

// ---------------------------------------------------------------------------------------
// native image -> Value

/// The most values of zero size (see [`Type::empty_values`]) that reading one value may
/// make: 2^20. They have no bytes behind them, so without a bound a type such as
/// `@[@[:int] 2147483647]` (0 bytes) would read as billions of empty arrays.
pub const MAX_EMPTY_VALUES: usize = 1 << 20;

/// Checks that a value of `ty` can be read: at most [`MAX_EMPTY_VALUES`] empty parts.
///
/// # Errors
/// A type past that limit.
pub fn check_decodable(ty: &Type) -> Result<()> {
    if ty.empty_values() > MAX_EMPTY_VALUES {
        return Err(Error::Type(format!(
            "reading {ty} would make more than {MAX_EMPTY_VALUES} empty values \
             (arrays of zero-size elements)"
        )));
    }
    Ok(())
}

/// Reads a value of `ty` from its native image (`ty.size()` bytes).
///
/// # Errors
/// A type with a `:string` in it: decoding one follows a pointer, which only
/// [`decode_following_pointers`] may do; a type that [`check_decodable`] refuses.
pub fn decode(ty: &Type, bytes: &[u8]) -> Result<Value> {
    check_decodable(ty)?;
    if ty.contains_string() {
        return Err(Error::Type(format!(
            "reading {ty} follows a char* pointer: use the unsafe pointer read instead"
        )));
    }
    // SAFETY: without a `:string` in the type, decoding dereferences nothing.
    Ok(unsafe { decode_following_pointers(ty, bytes) })
}

/// Reads a value of `ty` from its native image; a `:string` in it is a `char *` that is
/// followed and copied (NULL gives nil). Call [`check_decodable`] first: this makes every
/// empty value the type has, however many.
///
/// # Safety
/// Every `:string` slot in the image must be NULL or point to a readable NUL-terminated
/// string.
pub unsafe fn decode_following_pointers(ty: &Type, bytes: &[u8]) -> Value {
    match ty {
        Type::Prim(p) => {
            let mut word = [0u8; 8];
            word[..p.size()].copy_from_slice(&bytes[..p.size()]);
            // SAFETY: the caller vouches for `:string` slots.
            unsafe { decode_prim_bits(*p, u64::from_le_bytes(word)) }
        }
        Type::Wide(w) => super::wide::decode_wide(*w, bytes),
        // A union reads as every field's view of its bytes, as a struct does.
        Type::Struct(s) | Type::Union(s) => Value::Tuple(
            s.fields()
                .iter()
                .map(|f| {
                    let image = &bytes[f.offset..f.offset + f.ty.size()];
                    // SAFETY: forwarded from the caller.
                    unsafe { decode_following_pointers(&f.ty, image) }
                })
                .collect(),
        ),
        Type::Array(a) => {
            let step = a.elem.size();
            Value::Array(
                (0..a.len)
                    // SAFETY: forwarded from the caller.
                    .map(|i| unsafe {
                        decode_following_pointers(&a.elem, &bytes[i * step..(i + 1) * step])
                    })
                    .collect(),
            )
        }
    }
}

/// The value of a primitive from its image in the low bytes of `bits`.
///
/// # Safety
/// For `:string`, `bits` must be 0 or the address of a readable NUL-terminated string.
#[inline]
pub unsafe fn decode_prim_bits(p: Prim, bits: u64) -> Value {
    match p {
        Prim::Void => Value::Nil,
        Prim::Bool => Value::Bool(bits as u8 != 0),
        Prim::F32 => Value::Number(f32::from_bits(bits as u32).into()),
        Prim::F64 => Value::Number(f64::from_bits(bits)),
        Prim::I8 => Value::Number((bits as i8).into()),
        Prim::U8 => Value::Number((bits as u8).into()),
        Prim::I16 => Value::Number((bits as i16).into()),
        Prim::U16 => Value::Number((bits as u16).into()),
        Prim::I32 => Value::Number((bits as i32).into()),
        Prim::U32 => Value::Number((bits as u32).into()),
        Prim::I64 => Value::Int(bits as i64),
        Prim::U64 => Value::UInt(bits),
        Prim::Ptr if bits == 0 => Value::Nil,
        Prim::Ptr => Value::Pointer(Pointer::from_addr(bits as usize)),
        Prim::String if bits == 0 => Value::Nil,
        Prim::String => {
            // SAFETY: the caller guarantees a readable NUL-terminated string here.
            let c = unsafe { std::ffi::CStr::from_ptr(bits as usize as *const std::ffi::c_char) };
            Value::String(Str::new(c.to_bytes()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(p: Prim, v: Value) -> Result<u64> {
        encode_prim_bits(p, &v, &Path::default())
    }

    #[test]
    fn integers_outside_their_type_are_errors() {
        assert!(enc(Prim::I8, Value::Number(300.0)).is_err());
        assert!(enc(Prim::I16, Value::Number(40000.0)).is_err());
        assert!(enc(Prim::U16, Value::Number(70000.0)).is_err());
        assert!(enc(Prim::U32, Value::Number(4294967296.0)).is_err());
        assert!(enc(Prim::U64, Value::Int(-1)).is_err());
        assert!(enc(Prim::I64, Value::UInt(1 << 63)).is_err());
        assert!(enc(Prim::U8, Value::string("0x1ff")).is_err());
        assert_eq!(enc(Prim::I64, Value::string("-9223372036854775808")).unwrap(), 1 << 63);
        assert_eq!(enc(Prim::U64, Value::string("0xff")).unwrap(), 255);
        assert_eq!(enc(Prim::I8, Value::Number(-128.0)).unwrap() as i8, -128);
        assert_eq!(enc(Prim::U64, Value::Int128(5)).unwrap(), 5);
    }

    #[test]
    fn the_common_values_fast_path_agrees_with_the_getters() {
        use crate::types::KEYWORDS;
        let numbers = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            -0.5,
            127.0,
            128.0,
            -128.0,
            -129.0,
            255.0,
            256.0,
            32767.0,
            32768.0,
            -32768.0,
            -32769.0,
            65535.0,
            65536.0,
            2147483647.0,
            2147483648.0,
            -2147483648.0,
            -2147483649.0,
            4294967295.0,
            4294967296.0,
            TWO_53,
            -TWO_53,
            TWO_53 + 2.0,
            -TWO_53 - 2.0,
            1e300,
            -1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE,
            3.4e38,
            3.5e38,
        ];
        let mut values: Vec<Value> = numbers.into_iter().map(Value::Number).collect();
        values.extend([i64::MIN, -1, 0, 1, i64::MAX].map(Value::Int));
        values.extend([0, 1, 1 << 63, u64::MAX].map(Value::UInt));
        values.extend([
            Value::Nil,
            Value::Bool(true),
            Value::Bool(false),
            Value::Pointer(Pointer::from_addr(0x1234)),
            Value::string("12"),
            Value::Int128(3),
        ]);
        let mut fast = 0;
        for &(_, p) in &KEYWORDS {
            for v in &values {
                if let Some(bits) = common_prim_bits(p, v) {
                    fast += 1;
                    let full = encode_prim_bits(p, v, &Path::default());
                    let same = match full {
                        // NaN's bits are compared as bits.
                        Ok(b) => b == bits,
                        Err(_) => false,
                    };
                    assert!(same, "{p:?} {v}: fast path {bits:#x}, getters {full:?}");
                }
            }
        }
        assert!(fast > 100, "the fast path takes the common values ({fast} taken)");
    }

    #[test]
    fn getter_errors_use_janets_words() {
        let msg = |p, v| enc(p, v).unwrap_err().to_string();
        assert!(msg(Prim::I32, Value::Number(2147483648.0))
            .ends_with("expected 32 bit signed integer, got 2147483648"));
        assert!(msg(Prim::I32, Value::Int(1)).ends_with("expected 32 bit signed integer, got 1"));
        assert!(
            msg(Prim::I8, Value::Number(128.0)).ends_with("expected 8 bit signed integer, got 128")
        );
        assert!(msg(Prim::U8, Value::Number(256.0))
            .ends_with("can not convert number 256 to an 8 bit unsigned integer"));
        assert!(msg(Prim::U16, Value::Number(65536.0))
            .ends_with("can not convert number 65536 to a 16 bit unsigned integer"));
        assert!(msg(Prim::U32, Value::Number(-1.0))
            .ends_with("can not convert number -1 to a 64 bit unsigned integer"));
        assert!(msg(Prim::U64, Value::Number(9007199254740994.0)).contains("can not convert"));
        assert!(msg(Prim::I64, Value::Number(1.5))
            .ends_with("can not convert number 1.5 to 64 bit signed integer"));
        assert!(msg(Prim::F64, Value::Int(1)).ends_with("expected number, got 1"));
        assert!(msg(Prim::Bool, Value::Nil).ends_with("expected boolean, got nil"));
        assert!(msg(Prim::Void, Value::Number(1.0)).ends_with("expected nil, got 1"));
        assert!(msg(Prim::String, Value::keyword("a")).ends_with("expected string, got :a"));
        assert!(msg(Prim::String, Value::string("a\0b")).ends_with("bytes contain embedded 0s"));
        assert!(msg(Prim::Ptr, Value::Number(1.0))
            .ends_with("expected ffi pointer convertible type, got 1"));
        assert!(msg(Prim::Ptr, Value::UInt(1))
            .ends_with("expected string, symbol, keyword or buffer, got 1"));
    }

    #[test]
    fn bool_byte_reads_nonzero_as_true_and_null_string_as_nil() {
        // SAFETY: no string is decoded from a non-null address.
        unsafe {
            assert_eq!(decode_prim_bits(Prim::Bool, 2), Value::Bool(true));
            assert_eq!(decode_prim_bits(Prim::Bool, 0x100), Value::Bool(false));
            assert_eq!(decode_prim_bits(Prim::String, 0), Value::Nil);
            assert_eq!(decode_prim_bits(Prim::Ptr, 0), Value::Nil);
        }
    }
}
