//! Comparing values by the bytes that carry them: what a conformance test needs when a
//! result or a callback's argument came back as a `Value` (a union reads back as every
//! member's view, which `ffi::write` does not take) or as an image with padding.

use jitcall::{ffi, Type, Value, Wide};

/// The bytes of a `long double` that hold its value (x87: 10 of 16; binary128: 16).
pub const LONG_DOUBLE_BYTES: usize = if cfg!(target_arch = "x86_64") { 10 } else { 16 };

/// The byte ranges of a value of `ty` that carry its value, from `base`: no padding (the
/// conventions need not carry it), and a union's are its members' (so its bytes past
/// every member are left out).
pub fn significant(ty: &Type, base: usize, out: &mut Vec<std::ops::Range<usize>>) {
    match ty {
        Type::Wide(Wide::LongDouble) => out.push(base..base + LONG_DOUBLE_BYTES),
        Type::Wide(Wide::ComplexLongDouble) => {
            out.push(base..base + LONG_DOUBLE_BYTES);
            out.push(base + 16..base + 16 + LONG_DOUBLE_BYTES);
        }
        Type::Struct(s) | Type::Union(s) => {
            s.fields().iter().for_each(|f| significant(&f.ty, base + f.offset, out))
        }
        Type::Array(a) => {
            (0..a.len).for_each(|i| significant(&a.elem, base + i * a.elem.size(), out))
        }
        scalar => out.push(base..base + scalar.size()),
    }
}

/// The significant bytes of an image of `ty`.
pub fn meaning(ty: &Type, image: &[u8]) -> Vec<u8> {
    let mut ranges = Vec::new();
    significant(ty, 0, &mut ranges);
    ranges.into_iter().flat_map(|r| image[r].to_vec()).collect()
}

/// `v`'s image as `ty`.
pub fn image(ty: &Type, v: &Value) -> Result<Vec<u8>, String> {
    ffi::write(ty, v, None, None).map(|b| b.to_vec()).map_err(|e| format!("write {v}: {e}"))
}

/// Whether `got`, a value jitcall read back, is the one whose image is `want`.
///
/// This walks the type: structs field by field, unions member by member (every view is
/// checked), and each scalar by its significant bytes, after the same round trip
/// (`ffi::read` then `ffi::write`) for the expected bytes. The round trip is a function of
/// the bytes alone, so equal bytes always compare equal, even through a lossy view (a
/// `long double` or a NaN float seen in another member's bytes); and the member a value
/// was written through round-trips exactly, so every byte it covers is checked.
pub fn same(ty: &Type, got: &Value, want: &[u8]) -> bool {
    match ty {
        Type::Struct(s) | Type::Union(s) => match got {
            Value::Tuple(items) if items.len() == s.fields().len() => {
                s.fields().iter().zip(items).all(|(f, v)| same(&f.ty, v, &want[f.offset..]))
            }
            _ => false,
        },
        Type::Array(a) => match got {
            Value::Array(items) if items.len() == a.len => {
                items.iter().enumerate().all(|(i, v)| same(&a.elem, v, &want[i * a.elem.size()..]))
            }
            _ => false,
        },
        scalar => {
            let expected =
                ffi::read(scalar, want, 0).and_then(|v| ffi::write(scalar, &v, None, None));
            match (expected, ffi::write(scalar, got, None, None)) {
                (Ok(e), Ok(g)) => meaning(scalar, &e.to_vec()) == meaning(scalar, &g.to_vec()),
                _ => false,
            }
        }
    }
}
