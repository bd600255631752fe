//! A signature's conversion program: how each argument's value goes into the argument
//! block and how the result comes back as a value, worked out once when the signature is
//! compiled so that a call walks no types. Primitives and structs of primitives (the
//! common cases) have steps of their own; anything else runs the general [`encode`] and
//! [`decode_following_pointers`], so every value converts exactly as they convert it.

use crate::error::{Path, Result};
use crate::types::{Prim, Type};

use super::{check_decodable, convert, decode_following_pointers, decode_prim_bits};
use super::{common_prim_bits, encode_prim_bits, Value};

/// A primitive inside an aggregate, at its offset from the aggregate's start.
#[derive(Debug, Clone, Copy)]
struct Leaf {
    prim: Prim,
    offset: usize,
}

/// How one argument is written into the block: a primitive inline (the common case, so
/// the call's loop stays small), an aggregate by its index in [`CallProgram::aggregates`].
#[derive(Debug, Clone, Copy)]
#[repr(u8)]
enum ArgStep {
    /// A primitive: its bits, as 8 bytes at this offset (every image has 16 bytes of
    /// room in the block, and the thunk reads only the image's own low bytes).
    Prim {
        prim: Prim,
        offset: u32,
    },
    Aggregate(u32),
}

/// An argument of any other type.
#[derive(Debug)]
struct Aggregate {
    ty: Type,
    offset: usize,
    /// For a struct whose fields are all primitives: the fields (the value is a tuple or
    /// array of one value per field). `None`: the general encoder.
    fields: Option<Box<[Leaf]>>,
}

/// How the result's value is read from the return block.
#[derive(Debug)]
#[repr(u8)]
enum RetStep {
    Prim(Prim),
    /// A struct or union of primitives only: a tuple of one value per field.
    Flat(Box<[Leaf]>),
    General(Type),
    /// A type whose value [`check_decodable`] refuses: every call fails with its error.
    Undecodable(Type),
}

/// The steps for a signature's arguments (in order) and its result.
#[derive(Debug)]
pub(crate) struct CallProgram {
    args: Box<[ArgStep]>,
    aggregates: Box<[Aggregate]>,
    ret: RetStep,
}

impl CallProgram {
    /// The program for arguments of types `params`, whose images start at `offsets` in the
    /// argument block, and a result of type `ret`.
    pub(crate) fn new(params: &[Type], offsets: &[u32], ret: &Type) -> CallProgram {
        debug_assert_eq!(params.len(), offsets.len());
        let mut aggregates = Vec::new();
        let args = params.iter().zip(offsets).map(|(ty, &offset)| match ty {
            Type::Prim(prim) => ArgStep::Prim { prim: *prim, offset },
            _ => {
                let fields = flat_fields(ty).filter(|_| matches!(ty, Type::Struct(_)));
                let offset = offset as usize;
                aggregates.push(Aggregate { ty: ty.clone(), offset, fields });
                ArgStep::Aggregate((aggregates.len() - 1) as u32)
            }
        });
        let args = args.collect();
        CallProgram { args, aggregates: aggregates.into(), ret: ret_step(ret) }
    }

    /// How many arguments a call takes.
    #[inline]
    pub(crate) fn arity(&self) -> usize {
        self.args.len()
    }

    /// Fails when the result's value cannot be made ([`check_decodable`]'s error), so that
    /// a call can fail before anything is called.
    #[inline]
    pub(crate) fn check_result(&self) -> Result<()> {
        match &self.ret {
            RetStep::Undecodable(ty) => check_decodable(ty),
            _ => Ok(()),
        }
    }

    /// Writes every argument's image into `block` (zeroed, as large as the block layout
    /// says), as [`encode`](super::encode) would; an error names the argument and the
    /// field inside it.
    #[inline]
    pub(crate) fn encode_args(&self, args: &[Value], block: &mut [u8]) -> Result<()> {
        debug_assert_eq!(args.len(), self.args.len());
        for (i, (step, arg)) in self.args.iter().zip(args).enumerate() {
            match *step {
                ArgStep::Prim { prim, offset } => {
                    let bits = match common_prim_bits(prim, arg) {
                        Some(bits) => bits,
                        None => prim_bits(prim, arg, &argument(i))?,
                    };
                    let start = offset as usize;
                    block[start..start + 8].copy_from_slice(&bits.to_le_bytes());
                }
                ArgStep::Aggregate(a) => {
                    let aggregate = &self.aggregates[a as usize];
                    if !aggregate.encode_common(arg, block) {
                        aggregate.encode(arg, block, &argument(i))?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The result's value from the return block (at least 8 bytes, and at least the
    /// result's size), as [`decode_following_pointers`] reads it.
    ///
    /// # Safety
    /// [`CallProgram::check_result`] passed, and every `:string` in the result's image is
    /// NULL or points to a readable NUL-terminated string.
    #[inline]
    pub(crate) unsafe fn decode_result(&self, ret: &[u8]) -> Value {
        match &self.ret {
            // SAFETY: the caller vouches for a `:string` result.
            RetStep::Prim(p) => unsafe { decode_prim_bits(*p, read_word(ret, 0, 8)) },
            // SAFETY: as above.
            RetStep::Flat(fields) => unsafe { decode_flat(fields, ret) },
            // SAFETY: as above, and the type is decodable.
            RetStep::General(ty) | RetStep::Undecodable(ty) => unsafe {
                decode_following_pointers(ty, &ret[..ty.size()])
            },
        }
    }
}

impl Aggregate {
    /// Writes the image of `value` when it is a flat struct's tuple or array of common
    /// values ([`common_prim_bits`]); false for anything else (some fields may have been
    /// written then), which [`Aggregate::encode`] takes or refuses.
    #[inline]
    fn encode_common(&self, value: &Value, block: &mut [u8]) -> bool {
        let (Some(fields), Some(elems)) = (&self.fields, value.as_indexed()) else {
            return false;
        };
        if elems.len() != fields.len() {
            return false;
        }
        let image = &mut block[self.offset..self.offset + self.ty.size()];
        for (field, elem) in fields.iter().zip(elems) {
            let Some(bits) = common_prim_bits(field.prim, elem) else { return false };
            write_word(image, field.offset, field.prim.size(), bits);
        }
        true
    }

    /// Writes the image of `value` at the aggregate's place in `block`, as the general
    /// encoder does (every leaf of the image is written).
    #[inline(never)]
    fn encode(&self, value: &Value, block: &mut [u8], path: &Path) -> Result<()> {
        let image = &mut block[self.offset..self.offset + self.ty.size()];
        convert(&self.ty, value, Some(image), path)
    }
}

/// The path of argument `i` itself (no allocation: it has no indices).
#[inline(always)]
fn argument(i: usize) -> Path {
    Path { argument: Some(i), indices: Vec::new() }
}

fn ret_step(ty: &Type) -> RetStep {
    if check_decodable(ty).is_err() {
        return RetStep::Undecodable(ty.clone());
    }
    match (ty, flat_fields(ty)) {
        (Type::Prim(p), _) => RetStep::Prim(*p),
        // A union reads as every field's view of its bytes, as a struct does.
        (Type::Struct(_) | Type::Union(_), Some(fields)) => RetStep::Flat(fields),
        _ => RetStep::General(ty.clone()),
    }
}

/// The fields of a struct or union whose fields are all primitives.
fn flat_fields(ty: &Type) -> Option<Box<[Leaf]>> {
    let (Type::Struct(s) | Type::Union(s)) = ty else { return None };
    s.fields()
        .iter()
        .map(|f| match f.ty {
            Type::Prim(prim) => Some(Leaf { prim, offset: f.offset }),
            _ => None,
        })
        .collect()
}

/// [`encode_prim_bits`] out of line: the values [`common_prim_bits`] leaves to it.
#[inline(never)]
fn prim_bits(p: Prim, value: &Value, path: &Path) -> Result<u64> {
    encode_prim_bits(p, value, path)
}

/// A tuple of a flat struct's (or union's) fields read from its image.
///
/// # Safety
/// Every `:string` field is NULL or points to a readable NUL-terminated string.
#[inline]
unsafe fn decode_flat(fields: &[Leaf], image: &[u8]) -> Value {
    let mut elems = Vec::with_capacity(fields.len());
    for field in fields {
        let bits = read_word(image, field.offset, field.prim.size());
        // SAFETY: the caller vouches for `:string` fields.
        elems.push(unsafe { decode_prim_bits(field.prim, bits) });
    }
    Value::Tuple(elems)
}

/// Stores the low `size` bytes of `bits` at `at` (fixed-size stores: a variable-length
/// copy would be a library call for 1-8 bytes).
#[inline(always)]
fn write_word(out: &mut [u8], at: usize, size: usize, bits: u64) {
    match size {
        1 => out[at] = bits as u8,
        2 => out[at..at + 2].copy_from_slice(&(bits as u16).to_le_bytes()),
        4 => out[at..at + 4].copy_from_slice(&(bits as u32).to_le_bytes()),
        8 => out[at..at + 8].copy_from_slice(&bits.to_le_bytes()),
        _ => {} // void: nothing to write
    }
}

/// The `size` bytes at `at`, in the low bytes of a word.
#[inline(always)]
fn read_word(bytes: &[u8], at: usize, size: usize) -> u64 {
    match size {
        1 => bytes[at].into(),
        2 => u16::from_le_bytes([bytes[at], bytes[at + 1]]).into(),
        4 => u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")).into(),
        8 => u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes")),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Member;
    use crate::value::{decode, encode, Pointer};

    fn structure(fields: &[Type]) -> Type {
        let members: Vec<Member> = fields.iter().cloned().map(Member::Field).collect();
        Type::structure(&members).unwrap()
    }

    fn union(fields: &[Type]) -> Type {
        let members: Vec<Member> = fields.iter().cloned().map(Member::Field).collect();
        Type::union(&members).unwrap()
    }

    fn p(prim: Prim) -> Type {
        Type::Prim(prim)
    }

    /// What the call path wrote before the program: each argument by the general
    /// encoder (a primitive as its 8-byte word), the first error as it is.
    fn reference(params: &[Type], offsets: &[u32], args: &[Value]) -> Result<Vec<u8>> {
        let mut block = vec![0u8; 256];
        for (i, ((ty, &at), arg)) in params.iter().zip(offsets).zip(args).enumerate() {
            let path = argument(i);
            let at = at as usize;
            match ty {
                Type::Prim(p) => {
                    let bits = encode_prim_bits(*p, arg, &path)?;
                    block[at..at + 8].copy_from_slice(&bits.to_le_bytes());
                }
                _ => encode(ty, arg, &mut block[at..at + ty.size()], &path)?,
            }
        }
        Ok(block)
    }

    fn programmed(params: &[Type], offsets: &[u32], args: &[Value]) -> Result<Vec<u8>> {
        let mut block = vec![0u8; 256];
        CallProgram::new(params, offsets, &Type::VOID).encode_args(args, &mut block)?;
        Ok(block)
    }

    #[test]
    fn arguments_convert_as_the_general_encoder_converts_them() {
        let flat = structure(&[p(Prim::I8), p(Prim::F64), p(Prim::U16)]);
        let nested = structure(&[structure(&[p(Prim::I32)]), p(Prim::I64)]);
        let params = [p(Prim::I8), flat, p(Prim::F32), nested, p(Prim::Ptr)];
        let offsets = [0, 16, 48, 64, 96];
        let n = Value::Number;
        let good = vec![
            n(-5.0),
            Value::Tuple(vec![n(1.0), n(2.5), n(3.0)]),
            n(0.25),
            Value::Tuple(vec![Value::Tuple(vec![n(7.0)]), Value::Int(-9)]),
            Value::Pointer(Pointer::from_addr(0x1000)),
        ];
        // For each argument, values that take the slow path or fail.
        let others: [Vec<Value>; 5] = [
            vec![n(128.0), n(0.5), Value::string("3"), Value::Nil],
            vec![
                Value::Array(vec![n(1.0), n(2.5), n(3.0)]),
                Value::Tuple(vec![n(1.0), n(2.5)]),
                Value::Tuple(vec![n(1.0), Value::Int(2), n(3.0)]),
                Value::Tuple(vec![n(-1.0), n(2.5), n(65536.0)]),
                Value::Tuple(vec![Value::string("-1"), n(2.5), Value::UInt(3)]),
                n(1.0),
            ],
            vec![Value::Int(1), n(f64::NAN)],
            vec![
                Value::Tuple(vec![Value::Tuple(vec![n(0.5)]), Value::Int(-9)]),
                Value::Tuple(vec![n(7.0), Value::Int(-9)]),
            ],
            vec![Value::Nil, Value::string("s"), n(1.0), Value::Int(1)],
        ];
        let mut cases = vec![good.clone()];
        for (i, values) in others.iter().enumerate() {
            for v in values {
                let mut args = good.clone();
                args[i] = v.clone();
                cases.push(args);
            }
        }
        for args in &cases {
            let want = reference(&params, &offsets, args);
            let got = programmed(&params, &offsets, args);
            match (&want, &got) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{args:?}"),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{args:?}"),
                _ => panic!("{args:?}: general {want:?}, program {got:?}"),
            }
        }
    }

    #[test]
    fn results_read_as_the_general_decoder_reads_them() {
        let image: Vec<u8> = (0..64u8).map(|b| b.wrapping_mul(37)).collect();
        let types = [
            p(Prim::I16),
            p(Prim::F64),
            p(Prim::Bool),
            p(Prim::U64),
            p(Prim::Ptr),
            structure(&[p(Prim::I8), p(Prim::F64), p(Prim::U16)]),
            structure(&[p(Prim::F32), p(Prim::F32), p(Prim::I64), p(Prim::I64)]),
            union(&[p(Prim::I32), p(Prim::F32), p(Prim::U8)]),
            structure(&[structure(&[p(Prim::I32)]), p(Prim::I64)]),
            Type::array(p(Prim::U8), 3).unwrap(),
        ];
        for ty in &types {
            let program = CallProgram::new(&[], &[], ty);
            program.check_result().unwrap();
            // SAFETY: no type here holds a `:string`.
            let got = unsafe { program.decode_result(&image) };
            let want = decode(ty, &image[..ty.size()]).unwrap();
            assert_eq!(format!("{got:?}"), format!("{want:?}"), "{ty}");
        }
    }

    #[test]
    fn an_undecodable_result_fails_at_every_call() {
        let empty = Type::array(Type::array(p(Prim::I32), 0).unwrap(), 1 << 21).unwrap();
        let program = CallProgram::new(&[], &[], &empty);
        let err = program.check_result().unwrap_err().to_string();
        assert_eq!(err, check_decodable(&empty).unwrap_err().to_string());
    }
}
