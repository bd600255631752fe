//! The dynamic [`Value`] that a runtime maps its own values to, and its conversion to and
//! from native memory images (spec §2).
//!
//! Deliberate differences from Janet: a NULL `:string` reads as nil, a `:bool` byte reads as
//! "nonzero is true", a conversion error names its path (argument, then field or
//! element indices), not only a slot number, and an integer outside its type's range is an
//! error: Janet truncates `:int8 300` to 44 and reinterprets the bits of a `core/s64` -1
//! given for a `:uint64`; jitcall converts an integer only when the value fits.
//! Which kinds each integer type accepts (numbers, strings, boxes) is Janet's.

use std::ffi::c_void;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{Error, Path, Result};
use crate::types::{Prim, Type};

/// A dynamically typed value, shaped after Janet's.
#[derive(Clone, Debug)]
pub enum Value {
    Nil,
    Bool(bool),
    /// A Janet number (a double).
    Number(f64),
    /// An exact signed 64-bit integer (Janet's `core/s64`).
    Int(i64),
    /// An exact unsigned 64-bit integer (Janet's `core/u64`).
    UInt(u64),
    /// An exact signed 128-bit integer (Janet has none): what an integer literal past the
    /// 64-bit range reads as.
    Int128(i128),
    /// An exact unsigned 128-bit integer (Janet has none): what an integer literal past
    /// `i128::MAX` reads as.
    UInt128(u128),
    /// An immutable byte string.
    String(Str),
    /// A mutable byte buffer, shared by reference like Janet's.
    Buffer(Buffer),
    Keyword(Str),
    Symbol(Str),
    /// An immutable sequence: what a struct reads back as.
    Tuple(Vec<Value>),
    /// A mutable sequence: what an array reads back as.
    Array(Vec<Value>),
    /// A raw native address.
    Pointer(Pointer),
    /// A callable: what Janet's `ffi/trampoline` passes as userdata (see
    /// [`crate::callback::Function`]).
    Function(crate::callback::Function),
}

/// A raw native address. It is only a number: making or holding one is safe, and every
/// dereference goes through an `unsafe fn`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Pointer(usize);

impl Pointer {
    pub const NULL: Pointer = Pointer(0);

    pub fn from_addr(addr: usize) -> Pointer {
        Pointer(addr)
    }

    pub fn from_ptr<T>(ptr: *const T) -> Pointer {
        Pointer(ptr as usize)
    }

    pub fn addr(self) -> usize {
        self.0
    }

    pub fn as_ptr(self) -> *mut c_void {
        self.0 as *mut c_void
    }

    pub fn is_null(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Debug for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<pointer {:#x}>", self.0)
    }
}

/// Immutable bytes whose storage always ends in a hidden NUL, so that a pointer to them is
/// also a C string (as Janet's strings are). Cloning shares the storage.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Str(Arc<[u8]>);

impl Str {
    pub fn new(bytes: &[u8]) -> Str {
        let mut v = Vec::with_capacity(bytes.len() + 1);
        v.extend_from_slice(bytes);
        v.push(0);
        Str(v.into())
    }

    /// The bytes, without the hidden NUL.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0[..self.0.len() - 1]
    }

    /// The address of the first byte; it stays valid while any clone of this `Str` lives.
    pub fn as_ptr(&self) -> *const u8 {
        self.0.as_ptr()
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

impl From<&str> for Str {
    fn from(s: &str) -> Str {
        Str::new(s.as_bytes())
    }
}

/// A mutable byte buffer shared by reference (clones see the same bytes).
///
/// It either owns growable storage, or is a window over foreign memory of a fixed capacity
/// (see [`crate::ffi::pointer_buffer`]): growing that past its capacity is an error, and
/// dropping it never frees the memory.
#[derive(Clone)]
pub struct Buffer(Arc<Mutex<Storage>>);

enum Storage {
    Owned(Vec<u8>),
    /// `cap` bytes at `addr`, of which the first `len` are the buffer's contents.
    Foreign {
        addr: usize,
        len: usize,
        cap: usize,
    },
}

/// Exclusive access to a buffer's bytes, for as long as it is held.
#[allow(missing_debug_implementations)]
pub struct BufferGuard<'a>(MutexGuard<'a, Storage>);

impl Buffer {
    /// An empty owned buffer with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Buffer {
        Buffer::from_vec(Vec::with_capacity(capacity))
    }

    pub fn from_vec(bytes: Vec<u8>) -> Buffer {
        Buffer(Arc::new(Mutex::new(Storage::Owned(bytes))))
    }

    /// A buffer over `capacity` bytes of foreign memory at `ptr`, the first `len` of which
    /// are its contents.
    ///
    /// # Safety
    /// `ptr` must be valid for reads and writes of `capacity` bytes for as long as this
    /// buffer or any clone of it lives, and nothing else may write those bytes meanwhile
    /// except through pointers handed to native code by this buffer.
    pub(crate) unsafe fn foreign(ptr: *mut u8, len: usize, capacity: usize) -> Buffer {
        let storage = Storage::Foreign { addr: ptr as usize, len, cap: capacity };
        Buffer(Arc::new(Mutex::new(storage)))
    }

    /// Locks the buffer. Do not hold the guard while native code that may touch the
    /// buffer through a pointer runs.
    pub fn lock(&self) -> BufferGuard<'_> {
        BufferGuard(self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// A copy of the contents.
    pub fn to_vec(&self) -> Vec<u8> {
        self.lock().as_slice().to_vec()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The address of the contents, as passed to native code for a `:ptr` argument. It
    /// changes when an owned buffer grows.
    pub fn data_ptr(&self) -> Pointer {
        self.lock().data_ptr()
    }

    /// True when both handles share the same storage.
    pub fn same_as(&self, other: &Buffer) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl BufferGuard<'_> {
    pub fn len(&self) -> usize {
        match &*self.0 {
            Storage::Owned(v) => v.len(),
            Storage::Foreign { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn data_ptr(&self) -> Pointer {
        match &*self.0 {
            Storage::Owned(v) => Pointer::from_ptr(v.as_ptr()),
            Storage::Foreign { addr, .. } => Pointer(*addr),
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        match &*self.0 {
            Storage::Owned(v) => v,
            // SAFETY: `Buffer::foreign`'s contract keeps `cap >= len` bytes at `addr`
            // valid while the buffer lives, and the lock gives us exclusive access.
            Storage::Foreign { addr, len, .. } => unsafe {
                std::slice::from_raw_parts(*addr as *const u8, *len)
            },
        }
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        match &mut *self.0 {
            Storage::Owned(v) => v,
            // SAFETY: as in `as_slice`; `&mut self` makes this the only access.
            Storage::Foreign { addr, len, .. } => unsafe {
                std::slice::from_raw_parts_mut(*addr as *mut u8, *len)
            },
        }
    }

    /// Sets the length, filling new bytes with zeros.
    ///
    /// # Errors
    /// A foreign buffer cannot grow past its capacity; an owned one past what the
    /// allocator gives.
    pub fn resize(&mut self, new_len: usize) -> Result<()> {
        match &mut *self.0 {
            Storage::Owned(v) => {
                // Asked for first, so that a size the allocator refuses is an error.
                let more = new_len.saturating_sub(v.len());
                v.try_reserve(more).map_err(|_| {
                    Error::Memory(format!("out of memory growing a buffer to {new_len} bytes"))
                })?;
                v.resize(new_len, 0);
            }
            Storage::Foreign { addr, len, cap } => {
                if new_len > *cap {
                    return Err(Error::Memory("buffer cannot reallocate foreign memory".into()));
                }
                if new_len > *len {
                    // SAFETY: `new_len <= cap`, and `Buffer::foreign`'s contract keeps
                    // `cap` bytes at `addr` writable.
                    unsafe { std::ptr::write_bytes((*addr + *len) as *mut u8, 0, new_len - *len) };
                }
                *len = new_len;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Buffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", crate::syntax::print(&Value::Buffer(self.clone())))
    }
}

impl PartialEq for Value {
    /// Structural equality, as Janet's `deep=`: numbers compare by value whatever their
    /// representation, buffers by contents.
    fn eq(&self, other: &Value) -> bool {
        use Value::*;
        match (self, other) {
            (Nil, Nil) => true,
            (Bool(a), Bool(b)) => a == b,
            (String(a), String(b)) | (Keyword(a), Keyword(b)) | (Symbol(a), Symbol(b)) => a == b,
            (Buffer(a), Buffer(b)) => a.same_as(b) || a.to_vec() == b.to_vec(),
            (Tuple(a), Tuple(b)) | (Array(a), Array(b)) => a == b,
            (Pointer(a), Pointer(b)) => a == b,
            (Function(a), Function(b)) => a.same_as(b),
            (a, b) => match (a.exact_integer(), b.exact_integer()) {
                (Some(x), Some(y)) => x == y,
                _ => matches!((a, b), (Number(x), Number(y)) if x == y),
            },
        }
    }
}

impl Value {
    pub fn string(s: &str) -> Value {
        Value::String(s.into())
    }

    pub fn keyword(s: &str) -> Value {
        Value::Keyword(s.into())
    }

    /// The integer a number or box holds exactly, if it is one.
    pub(crate) fn exact_integer(&self) -> Option<Exact> {
        match *self {
            Value::Number(n) if n.fract() == 0.0 && n.abs() < 2f64.powi(128) => {
                Some(Exact::new(n < 0.0, n.abs() as u128))
            }
            Value::Int(i) => Some(Exact::from_i128(i.into())),
            Value::UInt(u) => Some(Exact::new(false, u.into())),
            Value::Int128(i) => Some(Exact::from_i128(i)),
            Value::UInt128(u) => Some(Exact::new(false, u)),
            _ => None,
        }
    }

    /// Janet's name for the value's type, as used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::Int(_) => "core/s64",
            Value::UInt(_) => "core/u64",
            Value::Int128(_) => "int128",
            Value::UInt128(_) => "uint128",
            Value::String(_) => "string",
            Value::Buffer(_) => "buffer",
            Value::Keyword(_) => "keyword",
            Value::Symbol(_) => "symbol",
            Value::Tuple(_) => "tuple",
            Value::Array(_) => "array",
            Value::Pointer(_) => "pointer",
            Value::Function(_) => "function",
        }
    }

    /// The elements of a tuple or array.
    pub fn as_indexed(&self) -> Option<&[Value]> {
        match self {
            Value::Tuple(v) | Value::Array(v) => Some(v),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::syntax::print(self))
    }
}

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
        Type::Wide(w) => crate::value_ext::convert_wide(*w, value, out, path),
        Type::Union(s) => crate::value_ext::convert_union(ty, s, value, out, path),
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

    fn from_i128(v: i128) -> Exact {
        Exact::new(v < 0, v.unsigned_abs())
    }

    pub(crate) fn to_i128(self) -> Option<i128> {
        if self.negative {
            0i128.checked_sub_unsigned(self.magnitude)
        } else {
            i128::try_from(self.magnitude).ok()
        }
    }

    pub(crate) fn to_u128(self) -> Option<u128> {
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
        Type::Wide(w) => crate::value_ext::decode_wide(*w, bytes),
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
