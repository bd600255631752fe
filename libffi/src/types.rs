//! libffi's `ffi_type`: the exported type objects, the checks and layout `ffi_prep_cif`
//! performs on user types, a structural key for the cif cache, and the translation to
//! jitcall's [`Type`].
//!
//! Types are identified by their `type` field, never by address: executables hold copy
//! relocations of the `ffi_type_*` objects, so `&ffi_type_sint32` in a program is not the
//! library's object.

use std::ffi::c_void;

use jitcall::{Member, Prim, Type, Wide};

use crate::Status;

/// `ffi_type` as ffi.h declares it (24 bytes on LP64).
#[repr(C)]
#[derive(Debug)]
pub struct FfiType {
    pub size: usize,
    pub alignment: u16,
    pub type_: u16,
    pub elements: *mut *mut FfiType,
}

// SAFETY: the exported objects are never written by this library; C may read them from
// any thread.
unsafe impl Sync for FfiType {}

pub const FFI_TYPE_VOID: u16 = 0;
pub const FFI_TYPE_INT: u16 = 1;
pub const FFI_TYPE_FLOAT: u16 = 2;
pub const FFI_TYPE_DOUBLE: u16 = 3;
pub const FFI_TYPE_LONGDOUBLE: u16 = 4;
pub const FFI_TYPE_UINT8: u16 = 5;
pub const FFI_TYPE_SINT8: u16 = 6;
pub const FFI_TYPE_UINT16: u16 = 7;
pub const FFI_TYPE_SINT16: u16 = 8;
pub const FFI_TYPE_UINT32: u16 = 9;
pub const FFI_TYPE_SINT32: u16 = 10;
pub const FFI_TYPE_UINT64: u16 = 11;
pub const FFI_TYPE_SINT64: u16 = 12;
pub const FFI_TYPE_STRUCT: u16 = 13;
pub const FFI_TYPE_POINTER: u16 = 14;
pub const FFI_TYPE_COMPLEX: u16 = 15;

/// How deep user types may nest (a cycle in `elements` stops here instead of overflowing
/// the stack).
const MAX_DEPTH: usize = jitcall::limits::MAX_DEPTH;

const fn scalar(size: usize, type_: u16) -> FfiType {
    FfiType { size, alignment: size as u16, type_, elements: std::ptr::null_mut() }
}

/// A NULL-terminated element list of a complex type.
#[repr(transparent)]
pub struct Elements([*const FfiType; 2]);

// SAFETY: the lists point to the exported, never written, type objects.
unsafe impl Sync for Elements {}

const fn complex(size: usize, alignment: u16, elements: &'static Elements) -> FfiType {
    FfiType {
        size,
        alignment,
        type_: FFI_TYPE_COMPLEX,
        elements: elements as *const Elements as *mut *mut FfiType,
    }
}

// libffi's void has size 1 and alignment 1.
#[no_mangle]
pub static ffi_type_void: FfiType = scalar(1, FFI_TYPE_VOID);
#[no_mangle]
pub static ffi_type_uint8: FfiType = scalar(1, FFI_TYPE_UINT8);
#[no_mangle]
pub static ffi_type_sint8: FfiType = scalar(1, FFI_TYPE_SINT8);
#[no_mangle]
pub static ffi_type_uint16: FfiType = scalar(2, FFI_TYPE_UINT16);
#[no_mangle]
pub static ffi_type_sint16: FfiType = scalar(2, FFI_TYPE_SINT16);
#[no_mangle]
pub static ffi_type_uint32: FfiType = scalar(4, FFI_TYPE_UINT32);
#[no_mangle]
pub static ffi_type_sint32: FfiType = scalar(4, FFI_TYPE_SINT32);
#[no_mangle]
pub static ffi_type_uint64: FfiType = scalar(8, FFI_TYPE_UINT64);
#[no_mangle]
pub static ffi_type_sint64: FfiType = scalar(8, FFI_TYPE_SINT64);
#[no_mangle]
pub static ffi_type_float: FfiType = scalar(4, FFI_TYPE_FLOAT);
#[no_mangle]
pub static ffi_type_double: FfiType = scalar(8, FFI_TYPE_DOUBLE);
#[no_mangle]
pub static ffi_type_pointer: FfiType =
    scalar(std::mem::size_of::<*const c_void>(), FFI_TYPE_POINTER);
/// x87 extended in 16 bytes (x86-64) or binary128 (AArch64 Linux): 16 bytes, aligned 16.
#[no_mangle]
pub static ffi_type_longdouble: FfiType = scalar(16, FFI_TYPE_LONGDOUBLE);

static COMPLEX_FLOAT_ELEMENTS: Elements = Elements([&ffi_type_float, std::ptr::null()]);
static COMPLEX_DOUBLE_ELEMENTS: Elements = Elements([&ffi_type_double, std::ptr::null()]);
static COMPLEX_LONGDOUBLE_ELEMENTS: Elements = Elements([&ffi_type_longdouble, std::ptr::null()]);

#[no_mangle]
pub static ffi_type_complex_float: FfiType = complex(8, 4, &COMPLEX_FLOAT_ELEMENTS);
#[no_mangle]
pub static ffi_type_complex_double: FfiType = complex(16, 8, &COMPLEX_DOUBLE_ELEMENTS);
#[no_mangle]
pub static ffi_type_complex_longdouble: FfiType = complex(32, 16, &COMPLEX_LONGDOUBLE_ELEMENTS);

/// The primitive a scalar type code names, or `None` for aggregates, `long double` (a
/// jitcall [`Wide`] type) and unknown codes.
pub fn prim_of(code: u16) -> Option<Prim> {
    Some(match code {
        FFI_TYPE_INT | FFI_TYPE_SINT32 => Prim::I32,
        FFI_TYPE_FLOAT => Prim::F32,
        FFI_TYPE_DOUBLE => Prim::F64,
        FFI_TYPE_UINT8 => Prim::U8,
        FFI_TYPE_SINT8 => Prim::I8,
        FFI_TYPE_UINT16 => Prim::U16,
        FFI_TYPE_SINT16 => Prim::I16,
        FFI_TYPE_UINT32 => Prim::U32,
        FFI_TYPE_UINT64 => Prim::U64,
        FFI_TYPE_SINT64 => Prim::I64,
        FFI_TYPE_POINTER => Prim::Ptr,
        _ => return None,
    })
}

/// The elements of an aggregate, up to the NULL terminator.
///
/// # Safety
/// `t.elements` is NULL or a NULL-terminated array of valid type pointers.
unsafe fn elements(t: &FfiType) -> impl Iterator<Item = *mut FfiType> + '_ {
    let base = t.elements;
    (0..)
        // SAFETY: the caller guarantees the array is NULL-terminated: reading stops at it.
        .map(move |i| unsafe { *base.add(i) })
        .take_while(|e| !e.is_null())
}

/// libffi's `initialize_aggregate`: fills in the size and alignment of a struct whose size
/// is 0 (and of nested ones), writing element offsets if asked.
///
/// # Safety
/// `t` is a valid, writable type whose element pointers are valid.
pub unsafe fn initialize_aggregate(
    t: *mut FfiType,
    mut offsets: Option<&mut dyn FnMut(usize)>,
    depth: usize,
) -> Result<(), Status> {
    if t.is_null() || depth > MAX_DEPTH {
        return Err(Status::BadTypedef);
    }
    // SAFETY: the caller guarantees `t` is valid and writable.
    let t = unsafe { &mut *t };
    if t.elements.is_null() {
        return Err(Status::BadTypedef);
    }
    let (mut size, mut align) = (0usize, 0u16);
    // Element by element (no iterator borrowing `t`, which is written below).
    for i in 0.. {
        // SAFETY: the caller guarantees a NULL-terminated array: reading stops at NULL.
        let e = unsafe { *t.elements.add(i) };
        if e.is_null() {
            break;
        }
        // SAFETY: element pointers are valid (the caller's guarantee).
        if unsafe { (*e).size } == 0 {
            // SAFETY: as above.
            unsafe { initialize_aggregate(e, None, depth + 1)? };
        }
        // SAFETY: as above.
        let e = unsafe { &*e };
        size = align_up(size, e.alignment);
        if let Some(put) = offsets.as_mut() {
            put(size);
        }
        size = size.checked_add(e.size).ok_or(Status::BadTypedef)?;
        align = align.max(e.alignment);
    }
    t.size = align_up(size, align);
    t.alignment = align;
    if t.size == 0 {
        return Err(Status::BadTypedef);
    }
    Ok(())
}

/// `n` rounded up to a multiple of `align` (0 counts as 1), saturating.
fn align_up(n: usize, align: u16) -> usize {
    let a = usize::from(align.max(1));
    if a.is_power_of_two() {
        // The usual case, without a division.
        n.checked_add(a - 1).map_or(usize::MAX, |m| m & !(a - 1))
    } else {
        n.div_ceil(a).saturating_mul(a)
    }
}

/// A structural key under construction: on the stack for most signatures, spilled to the
/// heap past [`Key::INLINE`] words. Its hash is folded in word by word.
pub struct Key {
    inline: [u64; Key::INLINE],
    len: usize,
    heap: Vec<u64>,
    hash: u64,
}

impl Default for Key {
    fn default() -> Key {
        Key { inline: [0; Key::INLINE], len: 0, heap: Vec::new(), hash: 0 }
    }
}

impl Key {
    const INLINE: usize = 24;

    pub fn push(&mut self, word: u64) {
        self.hash = self.hash.rotate_left(9) ^ word;
        if self.len < Key::INLINE {
            self.inline[self.len] = word;
        } else {
            if self.len == Key::INLINE {
                self.heap.extend_from_slice(&self.inline);
            }
            self.heap.push(word);
        }
        self.len += 1;
    }

    /// Appends the keys of the laid-out scalars at `types` (what most signatures are made
    /// of), up to `max` of them, a NULL, or another kind of type, in one tight loop;
    /// `each` sees each one. Returns how many it took: the rest go to [`prepare`].
    ///
    /// # Safety
    /// `types` points to `max` type pointers, or fewer followed by a NULL; each is a
    /// valid type.
    #[inline]
    pub unsafe fn push_scalars(
        &mut self,
        types: *const *mut FfiType,
        max: usize,
        mut each: impl FnMut(&FfiType),
    ) -> usize {
        let (mut len, mut hash) = (self.len, self.hash);
        let mut taken = 0;
        while taken < max && len < Key::INLINE {
            // SAFETY: the caller guarantees `types` has an entry here (stops at NULL).
            let t = unsafe { *types.add(taken) };
            if t.is_null() {
                break;
            }
            // SAFETY: the caller guarantees a non-NULL pointer is a valid type.
            let t = unsafe { &*t };
            if t.size == 0 || prim_of(t.type_).is_none() {
                break;
            }
            each(t);
            self.inline[len] = u64::from(t.type_);
            hash = hash.rotate_left(9) ^ u64::from(t.type_);
            len += 1;
            taken += 1;
        }
        (self.len, self.hash) = (len, hash);
        taken
    }

    /// Whether `other` holds the same words (compared inline: keys are short).
    pub fn equals(&self, other: &[u64]) -> bool {
        let words = self.words();
        words.len() == other.len() && words.iter().zip(other).all(|(a, b)| a == b)
    }

    pub fn words(&self) -> &[u64] {
        if self.len <= Key::INLINE {
            &self.inline[..self.len]
        } else {
            &self.heap
        }
    }

    /// A well-spread hash of the words (the folding alone is cheap but clustered).
    pub fn hash(&self) -> u64 {
        (self.hash ^ self.len as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
}

/// An aggregate's last key word: this bit (no type code has it), its alignment above
/// [`SIZE_BITS`] and its size below.
const END_OF_ELEMENTS: u64 = 1 << 63;
/// Aggregate sizes the key can hold (larger ones are refused: no C object is that big).
const SIZE_BITS: u32 = 47;

/// Checks a type as `ffi_prep_cif` does (initializing aggregates of size 0) and appends
/// its structural key to `key`: a scalar's code; an aggregate's code, its elements' keys
/// and [`END_OF_ELEMENTS`] with its size and alignment.
///
/// # Safety
/// `t` is NULL or a valid type whose element pointers are valid; aggregates of size 0
/// must be writable.
#[inline]
pub unsafe fn prepare(t: *mut FfiType, key: &mut Key, depth: usize) -> Result<(), Status> {
    // The common case inline: a laid-out scalar (the exported objects) is just its code.
    if !t.is_null() {
        // SAFETY: the caller guarantees a non-NULL `t` is valid.
        let (size, code) = unsafe { ((*t).size, (*t).type_) };
        if size != 0 && prim_of(code).is_some() {
            key.push(u64::from(code));
            return Ok(());
        }
    }
    // SAFETY: forwarded from the caller.
    unsafe { prepare_any(t, key, depth) }
}

/// [`prepare`] for any type.
///
/// # Safety
/// As [`prepare`].
#[inline(never)]
unsafe fn prepare_any(t: *mut FfiType, key: &mut Key, depth: usize) -> Result<(), Status> {
    if t.is_null() || depth > MAX_DEPTH {
        return Err(Status::BadTypedef);
    }
    // SAFETY: the caller guarantees `t` is valid.
    let (size, code) = unsafe { ((*t).size, (*t).type_) };
    let aggregate = code == FFI_TYPE_STRUCT || code == FFI_TYPE_COMPLEX;
    if !aggregate && size == 0 {
        // libffi lays out any type of size 0 as an aggregate (and fails on a scalar's
        // missing elements).
        // SAFETY: forwarded from the caller.
        unsafe { initialize_aggregate(t, None, depth)? };
    }
    match code {
        // SAFETY: forwarded from the caller.
        _ if aggregate => unsafe { prepare_aggregate(t, key, depth) },
        FFI_TYPE_VOID if depth == 0 => {
            key.push(u64::from(FFI_TYPE_VOID));
            Ok(())
        }
        code if prim_of(code).is_some() || code == FFI_TYPE_LONGDOUBLE => {
            key.push(u64::from(code));
            Ok(())
        }
        _ => Err(Status::BadTypedef),
    }
}

/// [`prepare`] for a struct or complex type, in one walk: its elements are prepared (and
/// laid out if of size 0), then, if its size is 0, it is laid out as
/// `initialize_aggregate` does.
///
/// # Safety
/// As [`prepare`], `t` not NULL.
unsafe fn prepare_aggregate(t: *mut FfiType, key: &mut Key, depth: usize) -> Result<(), Status> {
    // SAFETY: the caller guarantees `t` is valid.
    let (code, elements, size) = unsafe { ((*t).type_, (*t).elements, (*t).size) };
    if elements.is_null() {
        return Err(Status::BadTypedef);
    }
    key.push(u64::from(code));
    let (size, align) = if size != 0 {
        // Laid out already (the usual case): the elements' layout is not needed.
        // SAFETY: forwarded from the caller.
        unsafe { prepare_elements(elements, key, depth, |_| ())? };
        // SAFETY: as above.
        (size, unsafe { (*t).alignment })
    } else {
        let (mut end, mut align, mut overflow) = (0usize, 0u16, false);
        // SAFETY: forwarded from the caller.
        unsafe {
            prepare_elements(elements, key, depth, |e| {
                let (next, overflowed) = align_up(end, e.alignment).overflowing_add(e.size);
                (end, overflow) = (next, overflow || overflowed);
                align = align.max(e.alignment);
            })?
        };
        let laid_out = align_up(end, align);
        if overflow || laid_out == 0 {
            return Err(Status::BadTypedef);
        }
        // SAFETY: an aggregate of size 0 is writable (the caller's guarantee).
        unsafe { ((*t).size, (*t).alignment) = (laid_out, align) };
        (laid_out, align)
    };
    if (size as u64) >> SIZE_BITS != 0 {
        return Err(Status::BadTypedef);
    }
    key.push(END_OF_ELEMENTS | u64::from(align) << SIZE_BITS | size as u64);
    Ok(())
}

/// Prepares the elements of an aggregate, in order, showing each to `lay_out`; fails on
/// an aggregate without elements.
///
/// # Safety
/// `elements` is a NULL-terminated array of valid types (see [`prepare`]).
#[inline]
unsafe fn prepare_elements(
    elements: *const *mut FfiType,
    key: &mut Key,
    depth: usize,
    mut lay_out: impl FnMut(&FfiType),
) -> Result<(), Status> {
    let mut count = 0;
    loop {
        // SAFETY: the caller guarantees a NULL-terminated array of valid types.
        count += unsafe { key.push_scalars(elements.add(count), usize::MAX, &mut lay_out) };
        // SAFETY: as above: reading stops at NULL.
        let e = unsafe { *elements.add(count) };
        if e.is_null() {
            break;
        }
        // SAFETY: forwarded from the caller.
        unsafe { prepare(e, key, depth + 1)? };
        // SAFETY: as above; `prepare` checked `e`.
        lay_out(unsafe { &*e });
        count += 1;
    }
    if count == 0 {
        return Err(Status::BadTypedef);
    }
    Ok(())
}

/// The jitcall type of a prepared libffi type (see [`prepare`]).
///
/// `long double` is jitcall's [`Wide::LongDouble`]; complex numbers of floating-point
/// parts are its complex types (see [`complex_of`]).
///
/// # Errors
/// `FFI_BAD_TYPEDEF` for struct descriptions whose size or alignment contradicts their
/// elements' layout in a way jitcall's struct rules cannot reproduce. (What a convention
/// cannot place is refused when the signature is compiled.)
///
/// # Safety
/// As [`prepare`], which must have succeeded on `t`.
pub unsafe fn to_jitcall(t: *const FfiType) -> Result<Type, Status> {
    // SAFETY: the caller guarantees a valid, prepared type.
    let t = unsafe { &*t };
    match t.type_ {
        FFI_TYPE_VOID => Ok(Type::VOID),
        FFI_TYPE_LONGDOUBLE => Ok(Type::Wide(Wide::LongDouble)),
        FFI_TYPE_STRUCT => {
            // SAFETY: forwarded from the caller.
            let fields = unsafe { elements(t) }
                // SAFETY: forwarded from the caller.
                .map(|e| Ok((unsafe { to_jitcall(e)? }, unsafe { &*e }.alignment)))
                .collect::<Result<Vec<_>, Status>>()?;
            struct_with_layout(&fields, t.size, t.alignment)
        }
        FFI_TYPE_COMPLEX => {
            // SAFETY: a prepared complex type has at least one element, a valid type.
            let part = unsafe { &**t.elements };
            if let Some(wide) = complex_of(part.type_) {
                let ty = Type::Wide(wide);
                if ty.size() != t.size || ty.align() != usize::from(t.alignment) {
                    return Err(Status::BadTypedef);
                }
                return Ok(ty);
            }
            // Integer parts (a GNU extension): a struct of the two parts, which every
            // supported convention passes as libffi passes them (SysV: one class per
            // part; Win64: by size; AAPCS64: an HFA for floating-point parts).
            // SAFETY: as above.
            let part = unsafe { to_jitcall(part)? };
            struct_with_layout(
                &[(part.clone(), part.align() as u16), (part, 0)],
                t.size,
                t.alignment,
            )
        }
        code => prim_of(code).map(Type::Prim).ok_or(Status::BadTypedef),
    }
}

/// jitcall's complex type for a complex number whose parts have type code `part` (the
/// same on every convention: each places complex numbers as its C compiler does).
fn complex_of(part: u16) -> Option<Wide> {
    match part {
        FFI_TYPE_FLOAT => Some(Wide::ComplexF32),
        FFI_TYPE_DOUBLE => Some(Wide::ComplexF64),
        FFI_TYPE_LONGDOUBLE => Some(Wide::ComplexLongDouble),
        _ => None,
    }
}

/// A jitcall struct with libffi's layout: each field at its alignment (libffi's rule,
/// with the alignment the description gives), and the description's total size. Where
/// that differs from jitcall's natural layout, packed fields and byte padding make it so.
fn struct_with_layout(fields: &[(Type, u16)], size: usize, align: u16) -> Result<Type, Status> {
    let byte = Type::Prim(Prim::U8);
    let pad = |members: &mut Vec<Member>, n: usize| -> Result<(), Status> {
        if n > 0 {
            members.push(Member::Pack);
            members
                .push(Member::Field(Type::array(byte.clone(), n).map_err(|_| Status::BadTypedef)?));
        }
        Ok(())
    };
    let mut members = Vec::new();
    let (mut end, mut natural_align) = (0usize, 1usize);
    for (ty, ffi_align) in fields {
        let ffi_align = if *ffi_align == 0 { ty.align() as u16 } else { *ffi_align };
        let at = align_up(end, ffi_align);
        if at == align_up(end, ty.align() as u16) {
            natural_align = natural_align.max(ty.align());
        } else {
            pad(&mut members, at - end)?;
            members.push(Member::Pack);
        }
        members.push(Member::Field(ty.clone()));
        end = at + ty.size();
    }
    let natural_size = align_up(end, natural_align as u16);
    if size > natural_size {
        pad(&mut members, size - end)?;
    }
    let built = Type::structure(&members).map_err(|_| Status::BadTypedef)?;
    if built.size() != size || (align != 0 && built.align() > usize::from(align)) {
        return Err(Status::BadTypedef);
    }
    Ok(built)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jitcall_type(t: &FfiType) -> Result<Type, Status> {
        // SAFETY: the exported objects are valid, laid-out types.
        unsafe { to_jitcall(t) }
    }

    #[test]
    fn long_double_and_complex_numbers_are_jitcall_wide_types() {
        let wide = |w| Ok(Type::Wide(w));
        assert_eq!(jitcall_type(&ffi_type_longdouble), wide(Wide::LongDouble));
        assert_eq!(jitcall_type(&ffi_type_complex_float), wide(Wide::ComplexF32));
        assert_eq!(jitcall_type(&ffi_type_complex_double), wide(Wide::ComplexF64));
        assert_eq!(jitcall_type(&ffi_type_complex_longdouble), wide(Wide::ComplexLongDouble));
    }

    #[test]
    fn the_wide_types_have_the_layout_of_ffi_h() {
        // ffi.h on x86-64 and arm64 Linux: long double 16/16, complex float 8/4, complex
        // double 16/8, complex long double 32/16 (checked against the C compiler by the
        // C tests); jitcall's types must agree.
        for t in [
            &ffi_type_longdouble,
            &ffi_type_complex_float,
            &ffi_type_complex_double,
            &ffi_type_complex_longdouble,
        ] {
            let ty = jitcall_type(t).unwrap();
            assert_eq!((ty.size(), ty.align()), (t.size, usize::from(t.alignment)));
        }
    }

    #[test]
    fn a_complex_description_of_another_layout_is_refused() {
        static ELEMENTS: Elements = Elements([&ffi_type_double, std::ptr::null()]);
        let odd = complex(24, 8, &ELEMENTS);
        assert_eq!(jitcall_type(&odd), Err(Status::BadTypedef));
    }

    #[test]
    fn align_up_rounds_to_any_alignment_and_saturates() {
        assert_eq!(align_up(7, 8), 8);
        assert_eq!(align_up(8, 8), 8);
        assert_eq!(align_up(5, 0), 5);
        assert_eq!(align_up(5, 3), 6);
        assert_eq!(align_up(usize::MAX - 1, 4), usize::MAX);
        assert_eq!(align_up(usize::MAX - 1, 3), usize::MAX);
    }
}
