//! A drop-in `libffi.so.8`: libffi 3.4's interface and ABI, made of jitcall.
//!
//! Every exported function catches panics (nothing unwinds into C) and answers bad input
//! with libffi's status codes. `scripts/build-libffi` links this crate's staticlib with
//! `libffi.map`, which gives the symbols libffi's version nodes.
#![allow(non_upper_case_globals, clippy::missing_safety_doc)]
#![warn(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

pub mod cif;
pub mod closure;
pub mod raw;
pub mod types;

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

use cif::FfiCif;
use closure::{ClosureFun, FfiClosure, FfiGoClosure};
use raw::{FfiRawClosure, Packing, RawFun};
use types::FfiType;

/// `ffi_status`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok = 0,
    BadTypedef = 1,
    BadAbi = 2,
    BadArgtype = 3,
}

/// Runs `f`, or gives `fallback` if it panicked: no panic crosses into C.
fn guard<R>(fallback: R, f: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

#[no_mangle]
pub unsafe extern "C" fn ffi_prep_cif(
    cif: *mut FfiCif,
    abi: u32,
    nargs: u32,
    rtype: *mut FfiType,
    atypes: *mut *mut FfiType,
) -> Status {
    // SAFETY: libffi's contract, forwarded.
    guard(Status::BadTypedef, || unsafe { cif::prep(cif, abi, None, nargs, rtype, atypes) })
}

#[no_mangle]
pub unsafe extern "C" fn ffi_prep_cif_var(
    cif: *mut FfiCif,
    abi: u32,
    nfixedargs: u32,
    ntotalargs: u32,
    rtype: *mut FfiType,
    atypes: *mut *mut FfiType,
) -> Status {
    // SAFETY: libffi's contract, forwarded.
    guard(Status::BadTypedef, || unsafe {
        cif::prep(cif, abi, Some(nfixedargs), ntotalargs, rtype, atypes)
    })
}

#[no_mangle]
pub unsafe extern "C" fn ffi_call(
    cif: *mut FfiCif,
    fun: *const c_void,
    rvalue: *mut c_void,
    avalue: *const *const u8,
) {
    guard((), || {
        if cif.is_null() || fun.is_null() {
            return;
        }
        // SAFETY: libffi's contract, forwarded.
        if let Some(prepared) = unsafe { cif::prepared_of(cif) } {
            // SAFETY: as above.
            unsafe { cif::call(prepared, fun, rvalue, avalue) }
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn ffi_get_struct_offsets(
    abi: u32,
    struct_type: *mut FfiType,
    offsets: *mut usize,
) -> Status {
    guard(Status::BadTypedef, || {
        if !(abi > cif::abi::FIRST && abi < cif::abi::LAST) {
            return Status::BadAbi;
        }
        // SAFETY: libffi's contract: a valid type.
        if struct_type.is_null() || unsafe { (*struct_type).type_ } != types::FFI_TYPE_STRUCT {
            return Status::BadTypedef;
        }
        let mut i = 0;
        let mut put = |offset: usize| {
            if !offsets.is_null() {
                // SAFETY: libffi's contract: room for one offset per element.
                unsafe { *offsets.add(i) = offset };
            }
            i += 1;
        };
        // SAFETY: libffi's contract: a valid, writable type.
        match unsafe { types::initialize_aggregate(struct_type, Some(&mut put), 0) } {
            Ok(()) => Status::Ok,
            Err(status) => status,
        }
    })
}

// ---------------------------------------------------------------------------------------
// closures

#[no_mangle]
pub unsafe extern "C" fn ffi_closure_alloc(size: usize, code: *mut *mut c_void) -> *mut c_void {
    // SAFETY: libffi's contract, forwarded.
    guard(std::ptr::null_mut(), || unsafe { closure::alloc(size, code) })
}

#[no_mangle]
pub unsafe extern "C" fn ffi_closure_free(ptr: *mut c_void) {
    guard((), || closure::free(ptr))
}

#[no_mangle]
pub unsafe extern "C" fn ffi_prep_closure_loc(
    cl: *mut FfiClosure,
    cif: *mut FfiCif,
    fun: Option<ClosureFun>,
    user_data: *mut c_void,
    codeloc: *mut c_void,
) -> Status {
    // SAFETY: libffi's contract, forwarded.
    guard(Status::BadTypedef, || unsafe {
        closure::prep_closure_loc(cl, cif, fun, user_data, codeloc)
    })
}

#[no_mangle]
pub unsafe extern "C" fn ffi_prep_closure(
    cl: *mut FfiClosure,
    cif: *mut FfiCif,
    fun: Option<ClosureFun>,
    user_data: *mut c_void,
) -> Status {
    // SAFETY: libffi's contract, forwarded.
    guard(Status::BadTypedef, || unsafe {
        closure::prep_closure_loc(cl, cif, fun, user_data, cl.cast())
    })
}

#[no_mangle]
pub unsafe extern "C" fn ffi_prep_go_closure(
    cl: *mut FfiGoClosure,
    cif: *mut FfiCif,
    fun: Option<ClosureFun>,
) -> Status {
    // SAFETY: libffi's contract, forwarded.
    guard(Status::BadTypedef, || unsafe { closure::prep_go_closure(cl, cif, fun) })
}

#[no_mangle]
pub unsafe extern "C" fn ffi_call_go(
    cif: *mut FfiCif,
    fun: *const c_void,
    rvalue: *mut c_void,
    avalue: *const *const u8,
    closure: *mut c_void,
) {
    guard((), || {
        if cif.is_null() || fun.is_null() {
            return;
        }
        // SAFETY: libffi's contract, forwarded.
        if let Some(prepared) = unsafe { cif::prepared_of(cif) } {
            // SAFETY: as above.
            unsafe { closure::call_go(prepared, fun, rvalue, avalue, closure) }
        }
    })
}

// ---------------------------------------------------------------------------------------
// the raw and java-raw APIs

#[no_mangle]
pub unsafe extern "C" fn ffi_raw_size(cif: *mut FfiCif) -> usize {
    // SAFETY: libffi's contract, forwarded.
    guard(0, || unsafe { raw::size(Packing::Raw, cif) })
}

#[no_mangle]
pub unsafe extern "C" fn ffi_java_raw_size(cif: *mut FfiCif) -> usize {
    // SAFETY: libffi's contract, forwarded.
    guard(0, || unsafe { raw::size(Packing::Java, cif) })
}

#[no_mangle]
pub unsafe extern "C" fn ffi_raw_to_ptrarray(
    cif: *mut FfiCif,
    raw: *mut u8,
    args: *mut *mut c_void,
) {
    // SAFETY: libffi's contract, forwarded.
    guard((), || unsafe { raw::to_ptrarray(Packing::Raw, cif, raw, args) })
}

#[no_mangle]
pub unsafe extern "C" fn ffi_java_raw_to_ptrarray(
    cif: *mut FfiCif,
    raw: *mut u8,
    args: *mut *mut c_void,
) {
    // SAFETY: libffi's contract, forwarded.
    guard((), || unsafe { raw::to_ptrarray(Packing::Java, cif, raw, args) })
}

#[no_mangle]
pub unsafe extern "C" fn ffi_ptrarray_to_raw(
    cif: *mut FfiCif,
    args: *const *const u8,
    raw: *mut u8,
) {
    // SAFETY: libffi's contract, forwarded.
    guard((), || unsafe { raw::from_ptrarray(Packing::Raw, cif, args, raw) })
}

#[no_mangle]
pub unsafe extern "C" fn ffi_java_ptrarray_to_raw(
    cif: *mut FfiCif,
    args: *const *const u8,
    raw: *mut u8,
) {
    // SAFETY: libffi's contract, forwarded.
    guard((), || unsafe { raw::from_ptrarray(Packing::Java, cif, args, raw) })
}

#[no_mangle]
pub unsafe extern "C" fn ffi_raw_call(
    cif: *mut FfiCif,
    fun: *const c_void,
    rvalue: *mut c_void,
    raw: *mut u8,
) {
    // SAFETY: libffi's contract, forwarded.
    guard((), || unsafe { raw::call(Packing::Raw, cif, fun, rvalue, raw) })
}

#[no_mangle]
pub unsafe extern "C" fn ffi_java_raw_call(
    cif: *mut FfiCif,
    fun: *const c_void,
    rvalue: *mut c_void,
    raw: *mut u8,
) {
    // SAFETY: libffi's contract, forwarded.
    guard((), || unsafe { raw::call(Packing::Java, cif, fun, rvalue, raw) })
}

#[no_mangle]
pub unsafe extern "C" fn ffi_prep_raw_closure_loc(
    cl: *mut FfiRawClosure,
    cif: *mut FfiCif,
    fun: Option<RawFun>,
    user_data: *mut c_void,
    codeloc: *mut c_void,
) -> Status {
    // SAFETY: libffi's contract, forwarded.
    guard(Status::BadTypedef, || unsafe {
        raw::prep_closure_loc(Packing::Raw, cl, cif, fun, user_data, codeloc)
    })
}

#[no_mangle]
pub unsafe extern "C" fn ffi_prep_raw_closure(
    cl: *mut FfiRawClosure,
    cif: *mut FfiCif,
    fun: Option<RawFun>,
    user_data: *mut c_void,
) -> Status {
    // SAFETY: libffi's contract, forwarded.
    guard(Status::BadTypedef, || unsafe {
        raw::prep_closure_loc(Packing::Raw, cl, cif, fun, user_data, cl.cast())
    })
}

#[no_mangle]
pub unsafe extern "C" fn ffi_prep_java_raw_closure_loc(
    cl: *mut FfiRawClosure,
    cif: *mut FfiCif,
    fun: Option<RawFun>,
    user_data: *mut c_void,
    codeloc: *mut c_void,
) -> Status {
    // SAFETY: libffi's contract, forwarded.
    guard(Status::BadTypedef, || unsafe {
        raw::prep_closure_loc(Packing::Java, cl, cif, fun, user_data, codeloc)
    })
}

#[no_mangle]
pub unsafe extern "C" fn ffi_prep_java_raw_closure(
    cl: *mut FfiRawClosure,
    cif: *mut FfiCif,
    fun: Option<RawFun>,
    user_data: *mut c_void,
) -> Status {
    // SAFETY: libffi's contract, forwarded.
    guard(Status::BadTypedef, || unsafe {
        raw::prep_closure_loc(Packing::Java, cl, cif, fun, user_data, cl.cast())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_ffi_h() {
        assert_eq!(std::mem::size_of::<FfiType>(), 24);
        assert_eq!(std::mem::size_of::<FfiCif>(), 32);
        #[cfg(target_arch = "x86_64")]
        assert_eq!(std::mem::size_of::<FfiClosure>(), 56);
        assert_eq!(std::mem::size_of::<FfiRawClosure>(), std::mem::size_of::<FfiClosure>() + 16);
        assert_eq!(std::mem::size_of::<FfiGoClosure>(), 24);
    }

    fn fresh_pair_type(elements: &mut [*mut FfiType]) -> FfiType {
        FfiType {
            size: 0,
            alignment: 0,
            type_: types::FFI_TYPE_STRUCT,
            elements: elements.as_mut_ptr(),
        }
    }

    #[test]
    fn equal_structures_share_one_prepared_signature() {
        let double = &types::ffi_type_double as *const FfiType as *mut FfiType;
        let int = &types::ffi_type_sint32 as *const FfiType as *mut FfiType;
        let mut elements_a = [double, int, std::ptr::null_mut()];
        let mut elements_b = elements_a;
        let mut a = fresh_pair_type(&mut elements_a);
        let mut b = fresh_pair_type(&mut elements_b);
        let mut args_a = [&mut a as *mut FfiType, int];
        let mut args_b = [&mut b as *mut FfiType, int];
        let mut cif_a = std::mem::MaybeUninit::<FfiCif>::zeroed();
        let mut cif_b = std::mem::MaybeUninit::<FfiCif>::zeroed();
        // SAFETY: the cifs are writable and the types valid.
        unsafe {
            assert_eq!(
                ffi_prep_cif(cif_a.as_mut_ptr(), 2, 2, int, args_a.as_mut_ptr()),
                Status::Ok
            );
            assert_eq!(
                ffi_prep_cif(cif_b.as_mut_ptr(), 2, 2, int, args_b.as_mut_ptr()),
                Status::Ok
            );
            assert_eq!((a.size, a.alignment), (16, 8));
            assert_eq!(cif_a.assume_init_ref().flags, cif_b.assume_init_ref().flags);
            // A different structure is a different signature.
            *(*args_b[0]).elements.add(1) = double;
            (*args_b[0]).size = 0;
            assert_eq!(
                ffi_prep_cif(cif_b.as_mut_ptr(), 2, 2, int, args_b.as_mut_ptr()),
                Status::Ok
            );
            assert_ne!(cif_a.assume_init_ref().flags, cif_b.assume_init_ref().flags);
        }
    }

    #[cfg(target_arch = "x86_64")]
    const DEFAULT_ABI: u32 = cif::abi::UNIX64;
    #[cfg(target_arch = "aarch64")]
    const DEFAULT_ABI: u32 = cif::abi::SYSV;

    fn ptr(t: &FfiType) -> *mut FfiType {
        t as *const FfiType as *mut FfiType
    }

    /// Prepares a fresh cif returning int and gives its flags (the signature's index).
    fn flags_of(args: &mut [*mut FfiType]) -> u32 {
        let mut cif = std::mem::MaybeUninit::<FfiCif>::zeroed();
        let int = ptr(&types::ffi_type_sint32);
        // SAFETY: the cif is writable and the types valid.
        let status = unsafe {
            ffi_prep_cif(cif.as_mut_ptr(), DEFAULT_ABI, args.len() as u32, int, args.as_mut_ptr())
        };
        assert_eq!(status, Status::Ok);
        // SAFETY: prepared above.
        unsafe { cif.assume_init_ref() }.flags
    }

    #[test]
    fn nested_structs_of_size_zero_are_laid_out_in_one_preparation() {
        let (i8_, double) = (ptr(&types::ffi_type_sint8), ptr(&types::ffi_type_double));
        let mut inner_elements = [double, i8_, std::ptr::null_mut()];
        let mut inner = fresh_pair_type(&mut inner_elements);
        let mut outer_elements = [i8_, &mut inner as *mut FfiType, std::ptr::null_mut()];
        let mut outer = fresh_pair_type(&mut outer_elements);
        flags_of(&mut [&mut outer as *mut FfiType]);
        assert_eq!((inner.size, inner.alignment), (16, 8));
        assert_eq!((outer.size, outer.alignment), (24, 8));
        let mut offsets = [0usize; 2];
        // SAFETY: a valid struct type, room for its two offsets.
        let status =
            unsafe { ffi_get_struct_offsets(DEFAULT_ABI, &mut outer, offsets.as_mut_ptr()) };
        assert_eq!((status, offsets), (Status::Ok, [0, 8]));
    }

    #[test]
    fn nesting_is_part_of_the_signature() {
        // (S{int}, S{int, int}) and (S{int, int}, S{int}) hold the same scalars in the same
        // order: only where each struct ends tells them apart.
        let int = ptr(&types::ffi_type_sint32);
        let mut one_elements = [int, std::ptr::null_mut()];
        let mut two_elements = [int, int, std::ptr::null_mut()];
        let mut one = fresh_pair_type(&mut one_elements);
        let mut two = fresh_pair_type(&mut two_elements);
        let (one, two) = (&mut one as *mut FfiType, &mut two as *mut FfiType);
        let a = flags_of(&mut [one, two]);
        let b = flags_of(&mut [two, one]);
        assert_ne!(a, b);
        assert_eq!(flags_of(&mut [one, two]), a);
        // A struct of one int is not the int itself.
        assert_ne!(flags_of(&mut [one, int]), flags_of(&mut [int, int]));
    }

    #[test]
    fn a_cache_hint_for_another_signature_is_not_taken() {
        let (int, double) = (ptr(&types::ffi_type_sint32), ptr(&types::ffi_type_double));
        let a = flags_of(&mut [double, int, double]);
        let b = flags_of(&mut [int, double, int]);
        assert_ne!(a, b);
        // Point b's cache slot at a's signature (as a hash collision would).
        cif::poison_cache_slot(&[int, double, int], a);
        assert_eq!(flags_of(&mut [int, double, int]), b);
        assert_eq!(flags_of(&mut [double, int, double]), a);
    }

    #[test]
    fn aggregate_sizes_too_large_for_the_key_are_refused() {
        // A size whose high bits, were they kept, would read as more alignment: this
        // description must not pass for the valid {double, double} (16 bytes, aligned 8).
        let double = ptr(&types::ffi_type_double);
        let mut elements = [double, double, std::ptr::null_mut()];
        let mut valid = fresh_pair_type(&mut elements);
        flags_of(&mut [&mut valid as *mut FfiType]);
        let mut elements = [double, double, std::ptr::null_mut()];
        let mut huge = fresh_pair_type(&mut elements);
        (huge.size, huge.alignment) = ((1 << 50) + 16, 0);
        let mut args = [&mut huge as *mut FfiType];
        let mut cif = std::mem::MaybeUninit::<FfiCif>::zeroed();
        let int = ptr(&types::ffi_type_sint32);
        // SAFETY: the cif is writable and the types valid.
        let status =
            unsafe { ffi_prep_cif(cif.as_mut_ptr(), DEFAULT_ABI, 1, int, args.as_mut_ptr()) };
        assert_eq!(status, Status::BadTypedef);
    }

    #[test]
    fn segments_cover_every_index_once() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..10_000 {
            let (k, offset) = cif::segment_of(i);
            assert!(offset < 64 << k);
            assert!(seen.insert((k, offset)));
        }
    }
}
