//! Fuzzes `ffi::write` and `ffi::read` with arbitrary types and values.
//!
//! - Reading arbitrary bytes as any type never panics (types holding `:string` are an
//!   `Err`: reading one would follow a pointer).
//! - A value that writes reads back as a value that writes the very same image (the
//!   conversions are lossy only on the way in: C casts to the width, a double rounded to a
//!   float, a buffer or string taken as its address), and reading that image again gives
//!   the same value: a fixed point after one round.
//! - Exactly: doubles keep their bits, `:int32` / `:int64` / `:uint64` their value, and
//!   booleans theirs.

#![no_main]

#[path = "../common/mod.rs"]
mod common;

use arbitrary::{Arbitrary, Unstructured};
use common::TypeTree;
use jitcall::{ffi, Buffer, Pointer, Prim, Type, Value};
use libfuzzer_sys::fuzz_target;

/// Types bigger than this are skipped (they only make runs slow).
const MAX_TYPE_BYTES: usize = 4096;

#[derive(Debug)]
struct Input {
    ty: Type,
    value: Value,
    bytes: Vec<u8>,
    offset: usize,
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Input> {
        let tree = TypeTree::arbitrary(u)?;
        let ty = tree.build(0).ok_or(arbitrary::Error::IncorrectFormat)?;
        if ty.size() > MAX_TYPE_BYTES {
            return Err(arbitrary::Error::IncorrectFormat);
        }
        let value = value_for(&ty, u, 0)?;
        let offset = usize::from(u8::arbitrary(u)?);
        let bytes = Vec::<u8>::arbitrary(u)?;
        Ok(Input { ty, value, bytes, offset })
    }
}

/// A value for `ty`, mostly of a fitting kind, sometimes not (to exercise the errors).
fn value_for(ty: &Type, u: &mut Unstructured, depth: usize) -> arbitrary::Result<Value> {
    if u.ratio(1, 16)? || depth > 8 {
        return any_value(u);
    }
    Ok(match ty {
        Type::Prim(p) => prim_value(*p, u)?,
        Type::Struct(s) => {
            let mut fields = s
                .fields()
                .iter()
                .map(|f| value_for(&f.ty, u, depth + 1))
                .collect::<arbitrary::Result<Vec<_>>>()?;
            if u.ratio(1, 32)? {
                fields.pop();
            }
            if bool::arbitrary(u)? {
                Value::Tuple(fields)
            } else {
                Value::Array(fields)
            }
        }
        // The generated types hold none of these; any value exercises their errors.
        Type::Wide(_) | Type::Union(_) => any_value(u)?,
        Type::Array(a) => {
            let elems = (0..a.len)
                .map(|_| value_for(&a.elem, u, depth + 1))
                .collect::<arbitrary::Result<Vec<_>>>()?;
            if bool::arbitrary(u)? {
                Value::Tuple(elems)
            } else {
                Value::Array(elems)
            }
        }
    })
}

fn prim_value(p: Prim, u: &mut Unstructured) -> arbitrary::Result<Value> {
    Ok(match (p, u.int_in_range(0..=3)?) {
        (Prim::Void, _) => Value::Nil,
        (Prim::Bool, _) => Value::Bool(bool::arbitrary(u)?),
        (Prim::F32 | Prim::F64, _) => Value::Number(f64::arbitrary(u)?),
        (Prim::Ptr, 0) => Value::Nil,
        (Prim::Ptr, 1) => Value::Pointer(Pointer::from_addr(usize::arbitrary(u)?)),
        (Prim::Ptr, _) => Value::Buffer(Buffer::from_vec(Vec::arbitrary(u)?)),
        (Prim::String, _) => Value::string(&String::arbitrary(u)?),
        (_, 0) => Value::Number(f64::from(i32::arbitrary(u)?)),
        (_, 1) => Value::Int(i64::arbitrary(u)?),
        (_, 2) => Value::UInt(u64::arbitrary(u)?),
        (_, _) => Value::Number(f64::arbitrary(u)?),
    })
}

fn any_value(u: &mut Unstructured) -> arbitrary::Result<Value> {
    Ok(match u.int_in_range(0..=7)? {
        0 => Value::Nil,
        1 => Value::Bool(bool::arbitrary(u)?),
        2 => Value::Number(f64::arbitrary(u)?),
        3 => Value::Int(i64::arbitrary(u)?),
        4 => Value::UInt(u64::arbitrary(u)?),
        5 => Value::string(&String::arbitrary(u)?),
        6 => Value::Keyword(String::arbitrary(u)?.as_str().into()),
        _ => Value::Tuple(Vec::new()),
    })
}

fn has_string(ty: &Type) -> bool {
    match ty {
        Type::Prim(p) => *p == Prim::String,
        Type::Struct(s) | Type::Union(s) => s.fields().iter().any(|f| has_string(&f.ty)),
        Type::Array(a) => has_string(&a.elem),
        Type::Wide(_) => false,
    }
}

fn image(ty: &Type, value: &Value) -> Option<Vec<u8>> {
    ffi::write(ty, value, None, None).ok().map(|buffer| buffer.to_vec())
}

fuzz_target!(|input: Input| {
    let Input { ty, value, bytes, offset } = input;
    let strings = has_string(&ty);

    // Arbitrary bytes: a value, "read out of range", or (with a :string) an error.
    let read = ffi::read(&ty, &bytes, offset);
    if strings {
        assert!(read.is_err(), "{ty} holds a :string but read {read:?}");
    } else if offset.saturating_add(ty.size()) <= bytes.len() {
        let got = read.unwrap_or_else(|e| panic!("{ty} at {offset} of {} bytes: {e}", bytes.len()));
        // Whatever was read writes back (the bits of a read value always convert).
        let again =
            image(&ty, &got).unwrap_or_else(|| panic!("{ty}: {got} was read but does not write"));
        assert_eq!(again.len(), ty.size());
    } else {
        assert!(read.is_err());
    }

    // Round trips.
    let Some(first) = image(&ty, &value) else { return };
    assert_eq!(first.len(), ty.size(), "{ty}: the image of {value} has the wrong size");
    if strings {
        return;
    }
    let back = ffi::read(&ty, &first, 0)
        .unwrap_or_else(|e| panic!("{ty}: reading the image of {value}: {e}"));
    let second = image(&ty, &back)
        .unwrap_or_else(|| panic!("{ty}: {back} (read from {value}) does not write"));
    assert_eq!(
        first, second,
        "{ty}: {value} and {back}, read from its image, write different images"
    );
    if let Type::Prim(p) = ty {
        check_exact(p, &value, &back);
    }
});

/// The conversions that lose nothing.
fn check_exact(p: Prim, value: &Value, back: &Value) {
    match (p, value, back) {
        (Prim::F64, Value::Number(n), Value::Number(m)) => {
            assert_eq!(n.to_bits(), m.to_bits(), "{n} read back as {m}")
        }
        (Prim::I32, Value::Number(n), Value::Number(m)) => assert_eq!(n, m),
        (Prim::I64, Value::Int(i), Value::Int(j)) => assert_eq!(i, j),
        (Prim::U64, Value::UInt(i), Value::UInt(j)) => assert_eq!(i, j),
        (Prim::Bool, Value::Bool(a), Value::Bool(b)) => assert_eq!(a, b),
        (Prim::I64 | Prim::U64 | Prim::I32 | Prim::F64 | Prim::Bool, _, _) => {
            // A value of another kind (a number as :int64, a string as an integer, ...).
        }
        _ => {}
    }
}
