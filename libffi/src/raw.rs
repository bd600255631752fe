//! The raw and java-raw APIs: arguments packed into an array of `ffi_raw` slots (8 bytes
//! each on LP64) instead of an array of pointers, converted to and from pointer arrays by
//! libffi's generic rules (x86-64 and AArch64 have no native raw API).
//!
//! Raw: each argument takes its size rounded up to slots, in place, except structs and
//! complex numbers, whose slot holds a pointer to them. Java raw: 64-bit integers and
//! doubles take two slots (the value in the first), every other argument one slot; narrow
//! integers are widened to a whole slot when packed. Java has no struct or complex
//! arguments (libffi aborts on them); here they take one slot holding a pointer.

use std::ffi::c_void;

use crate::cif::FfiCif;
use crate::closure::{self, ClosureFun, FfiClosure};
use crate::types::*;
use crate::Status;

const SLOT: usize = 8;

/// Which of the two packings.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Packing {
    Raw,
    Java,
}

/// The argument types of a cif.
///
/// # Safety
/// `cif` is valid with `nargs` valid type pointers.
unsafe fn arg_types<'a>(cif: *const FfiCif) -> impl Iterator<Item = &'a FfiType> {
    // SAFETY: the caller guarantees a valid cif.
    let cif = unsafe { &*cif };
    let types: &[*mut FfiType] = if cif.nargs == 0 || cif.arg_types.is_null() {
        &[]
    } else {
        // SAFETY: as above.
        unsafe { std::slice::from_raw_parts(cif.arg_types, cif.nargs as usize) }
    };
    // SAFETY: as above.
    types.iter().map(|&t| unsafe { &*t })
}

fn by_pointer(t: &FfiType) -> bool {
    t.type_ == FFI_TYPE_STRUCT || t.type_ == FFI_TYPE_COMPLEX
}

/// Slots one argument takes.
fn slots(packing: Packing, t: &FfiType) -> usize {
    match packing {
        _ if by_pointer(t) => 1,
        Packing::Raw => t.size.div_ceil(SLOT),
        Packing::Java if matches!(t.type_, FFI_TYPE_UINT64 | FFI_TYPE_SINT64 | FFI_TYPE_DOUBLE) => {
            2
        }
        Packing::Java => 1,
    }
}

/// `ffi_raw_size` / `ffi_java_raw_size`: the bytes of a packed argument array.
///
/// # Safety
/// As [`arg_types`].
pub unsafe fn size(packing: Packing, cif: *const FfiCif) -> usize {
    // SAFETY: forwarded from the caller.
    unsafe { arg_types(cif) }.map(|t| slots(packing, t) * SLOT).sum()
}

/// `ffi_raw_to_ptrarray` / `ffi_java_raw_to_ptrarray`: a pointer to each argument in `raw`.
///
/// # Safety
/// As [`arg_types`]; `raw` holds the packed arguments and `args` has room for `nargs`.
pub unsafe fn to_ptrarray(
    packing: Packing,
    cif: *const FfiCif,
    raw: *mut u8,
    args: *mut *mut c_void,
) {
    let mut at = raw;
    // SAFETY: forwarded from the caller.
    for (i, t) in unsafe { arg_types(cif) }.enumerate() {
        // SAFETY: `at` stays within the packed array; `args` has room for argument i.
        unsafe {
            *args.add(i) = if by_pointer(t) { *at.cast::<*mut c_void>() } else { at.cast() };
            at = at.add(slots(packing, t) * SLOT);
        }
    }
}

/// `ffi_ptrarray_to_raw` / `ffi_java_ptrarray_to_raw`: packs the arguments `args` points to.
///
/// # Safety
/// As [`arg_types`]; `args` holds `nargs` valid argument pointers and `raw` has room for
/// [`size`] bytes.
pub unsafe fn from_ptrarray(
    packing: Packing,
    cif: *const FfiCif,
    args: *const *const u8,
    raw: *mut u8,
) {
    let mut at = raw;
    // SAFETY: forwarded from the caller.
    for (i, t) in unsafe { arg_types(cif) }.enumerate() {
        // SAFETY: argument i is readable for its size; `at` has room for its slots.
        unsafe {
            let arg = *args.add(i);
            let widened = |v: i64| at.cast::<i64>().write_unaligned(v);
            match t.type_ {
                _ if by_pointer(t) => at.cast::<*const u8>().write_unaligned(arg),
                FFI_TYPE_UINT8 => widened(i64::from(*arg)),
                FFI_TYPE_SINT8 => widened(i64::from(*arg.cast::<i8>())),
                FFI_TYPE_UINT16 => widened(i64::from(arg.cast::<u16>().read_unaligned())),
                FFI_TYPE_SINT16 => widened(i64::from(arg.cast::<i16>().read_unaligned())),
                FFI_TYPE_UINT32 => widened(i64::from(arg.cast::<u32>().read_unaligned())),
                FFI_TYPE_SINT32 | FFI_TYPE_INT => {
                    widened(i64::from(arg.cast::<i32>().read_unaligned()))
                }
                _ => std::ptr::copy_nonoverlapping(arg, at, t.size.min(slots(packing, t) * SLOT)),
            }
            at = at.add(slots(packing, t) * SLOT);
        }
    }
}

/// `ffi_raw_call` / `ffi_java_raw_call`.
///
/// # Safety
/// As `ffi_call`, with the arguments packed in `raw`.
pub unsafe fn call(
    packing: Packing,
    cif: *mut FfiCif,
    target: *const c_void,
    rvalue: *mut c_void,
    raw: *mut u8,
) {
    // SAFETY: forwarded from the caller.
    let nargs = unsafe { (*cif).nargs } as usize;
    let mut args = vec![std::ptr::null_mut::<c_void>(); nargs];
    // SAFETY: forwarded from the caller; `args` has room for every argument.
    unsafe { to_ptrarray(packing, cif, raw, args.as_mut_ptr()) };
    // SAFETY: as above.
    if let Some(prepared) = unsafe { crate::cif::prepared_of(cif) } {
        // SAFETY: forwarded from the caller.
        unsafe { crate::cif::call(prepared, target, rvalue, args.as_ptr().cast()) };
    }
}

/// `ffi_raw_closure` / `ffi_java_raw_closure` as ffi.h declares them: an `ffi_closure`
/// whose `fun` is the translator and whose `user_data` is the closure itself, followed by
/// the raw function and its user data.
#[repr(C)]
pub struct FfiRawClosure {
    pub closure: FfiClosure,
    pub fun: Option<RawFun>,
    pub user_data: *mut c_void,
}

pub type RawFun = unsafe extern "C" fn(*mut FfiCif, *mut c_void, *mut u8, *mut c_void);

/// The translator a raw closure's `fun` field holds: packs the arguments, then calls the
/// raw function.
unsafe fn translate(
    packing: Packing,
    cif: *mut FfiCif,
    ret: *mut c_void,
    args: *mut *mut c_void,
    closure: *mut c_void,
) {
    let closure = closure.cast::<FfiRawClosure>();
    // SAFETY: the closure function contract: `cif` is the closure's, `args` its arguments.
    let mut raw = vec![0u64; unsafe { size(packing, cif) }.div_ceil(8).max(1)];
    // SAFETY: as above; `raw` has room for the packed arguments.
    unsafe { from_ptrarray(packing, cif, args.cast_const().cast(), raw.as_mut_ptr().cast()) };
    // SAFETY: the raw closure was prepared with these fields.
    if let Some(fun) = unsafe { (*closure).fun } {
        // SAFETY: the user's raw function follows libffi's raw closure contract.
        unsafe { fun(cif, ret, raw.as_mut_ptr().cast(), (*closure).user_data) };
    }
}

unsafe extern "C" fn translate_raw(
    cif: *mut FfiCif,
    ret: *mut c_void,
    args: *mut *mut c_void,
    closure: *mut c_void,
) {
    // SAFETY: forwarded.
    unsafe { translate(Packing::Raw, cif, ret, args, closure) }
}

unsafe extern "C" fn translate_java(
    cif: *mut FfiCif,
    ret: *mut c_void,
    args: *mut *mut c_void,
    closure: *mut c_void,
) {
    // SAFETY: forwarded.
    unsafe { translate(Packing::Java, cif, ret, args, closure) }
}

/// `ffi_prep_raw_closure_loc` / `ffi_prep_java_raw_closure_loc`.
///
/// # Safety
/// As `ffi_prep_closure_loc`.
pub unsafe fn prep_closure_loc(
    packing: Packing,
    cl: *mut FfiRawClosure,
    cif: *mut FfiCif,
    fun: Option<RawFun>,
    user_data: *mut c_void,
    codeloc: *mut c_void,
) -> Status {
    if cl.is_null() {
        return Status::BadTypedef;
    }
    let translator: ClosureFun = match packing {
        Packing::Raw => translate_raw,
        Packing::Java => translate_java,
    };
    // SAFETY: forwarded from the caller.
    let status =
        unsafe { closure::prep_closure_loc(cl.cast(), cif, Some(translator), cl.cast(), codeloc) };
    if status == Status::Ok {
        // SAFETY: the caller guarantees writable closure memory.
        unsafe {
            (*cl).fun = fun;
            (*cl).user_data = user_data;
        }
    }
    status
}
