//! The few items of the system libffi (Debian's `libffi-dev`) that the benchmarks use,
//! declared by hand, and a prepared call interface that owns its type descriptions.
//!
//! Layouts are those of libffi 3.x's `ffi.h` on x86-64 and AArch64 Linux (checked against
//! the header with a C program: `sizeof(ffi_cif)` 32, `sizeof(ffi_type)` 24,
//! `sizeof(ffi_closure)` 56 on x86-64).

#![allow(non_camel_case_types, non_upper_case_globals)]

use std::ffi::{c_int, c_uint, c_ushort, c_void};
use std::rc::Rc;

/// `ffi_type`: a type's size, alignment, kind and (for a struct) NULL-terminated fields.
#[repr(C)]
#[derive(Debug)]
pub struct ffi_type {
    pub size: usize,
    pub alignment: c_ushort,
    pub type_: c_ushort,
    pub elements: *mut *mut ffi_type,
}

/// `ffi_cif`: a prepared call interface. The trailing words leave room for a target's
/// `FFI_EXTRA_CIF_FIELDS` (none on these two hosts; allocating more is harmless).
#[repr(C)]
#[derive(Debug)]
pub struct ffi_cif {
    pub abi: c_int,
    pub nargs: c_uint,
    pub arg_types: *mut *mut ffi_type,
    pub rtype: *mut ffi_type,
    pub bytes: c_uint,
    pub flags: c_uint,
    _extra: [u64; 2],
}

/// What a closure handler receives: the cif, the result slot, the argument pointers and
/// the user data.
pub type ClosureFn = unsafe extern "C" fn(
    cif: *mut ffi_cif,
    ret: *mut c_void,
    args: *mut *mut c_void,
    ud: *mut c_void,
);

/// `ffi_arg`: the register-sized slot libffi uses for integral results.
pub type ffi_arg = u64;

pub const FFI_OK: c_int = 0;
pub const FFI_TYPE_STRUCT: c_ushort = 13;

#[cfg(target_arch = "x86_64")]
pub const FFI_DEFAULT_ABI: c_int = 2; // FFI_UNIX64
#[cfg(target_arch = "aarch64")]
pub const FFI_DEFAULT_ABI: c_int = 1; // FFI_SYSV

/// At least `sizeof(ffi_closure)` (56 on x86-64, 48 on AArch64).
pub const CLOSURE_BYTES: usize = 128;

#[link(name = "ffi")]
extern "C" {
    pub static ffi_type_sint8: ffi_type;
    pub static ffi_type_uint16: ffi_type;
    pub static ffi_type_sint16: ffi_type;
    pub static ffi_type_sint32: ffi_type;
    pub static ffi_type_sint64: ffi_type;
    pub static ffi_type_uint64: ffi_type;
    pub static ffi_type_float: ffi_type;
    pub static ffi_type_double: ffi_type;

    pub fn ffi_prep_cif(
        cif: *mut ffi_cif,
        abi: c_int,
        nargs: c_uint,
        rtype: *mut ffi_type,
        atypes: *mut *mut ffi_type,
    ) -> c_int;
    pub fn ffi_call(
        cif: *mut ffi_cif,
        f: *const c_void,
        rvalue: *mut c_void,
        avalue: *mut *mut c_void,
    );
    pub fn ffi_closure_alloc(size: usize, code: *mut *mut c_void) -> *mut c_void;
    pub fn ffi_closure_free(closure: *mut c_void);
    pub fn ffi_prep_closure_loc(
        closure: *mut c_void,
        cif: *mut ffi_cif,
        fun: ClosureFn,
        user_data: *mut c_void,
        codeloc: *mut c_void,
    ) -> c_int;
}

/// A libffi type: one of its built-in scalars, or a struct of these.
#[derive(Debug, Clone)]
pub enum Desc {
    I8,
    U16,
    I16,
    I32,
    I64,
    U64,
    F32,
    F64,
    Struct(Vec<Desc>),
}

/// A prepared `ffi_cif` with every type description it points to. The descriptions are
/// boxed, so moving a `Cif` leaves the pointers inside the cif valid.
#[derive(Debug)]
#[allow(clippy::vec_box)] // boxed: the cif points to them, so they must not move as the Vec grows
pub struct Cif {
    cif: Box<ffi_cif>,
    _types: Vec<Box<ffi_type>>,
    _lists: Vec<Vec<*mut ffi_type>>,
}

impl Cif {
    /// Prepares a cif for the default convention.
    ///
    /// # Panics
    /// If `ffi_prep_cif` fails (these signatures are all valid).
    pub fn new(ret: &Desc, args: &[Desc]) -> Cif {
        let mut types = Vec::new();
        let mut lists = Vec::new();
        let rtype = describe(ret, &mut types, &mut lists);
        let mut arg_types: Vec<*mut ffi_type> =
            args.iter().map(|a| describe(a, &mut types, &mut lists)).collect();
        let arg_ptr = arg_types.as_mut_ptr();
        lists.push(arg_types);
        let mut cif = Box::new(ffi_cif {
            abi: 0,
            nargs: 0,
            arg_types: std::ptr::null_mut(),
            rtype: std::ptr::null_mut(),
            bytes: 0,
            flags: 0,
            _extra: [0; 2],
        });
        // SAFETY: `cif` is writable; `rtype` and the `args.len()` pointers at `arg_ptr`
        // are type descriptions that live in `types` / libffi for as long as the cif.
        let status = unsafe {
            ffi_prep_cif(&mut *cif, FFI_DEFAULT_ABI, args.len() as c_uint, rtype, arg_ptr)
        };
        assert_eq!(status, FFI_OK, "ffi_prep_cif failed");
        Cif { cif, _types: types, _lists: lists }
    }

    pub fn as_ptr(&self) -> *mut ffi_cif {
        (&*self.cif as *const ffi_cif).cast_mut()
    }
}

#[allow(clippy::vec_box)] // see `Cif`
fn describe(
    desc: &Desc,
    types: &mut Vec<Box<ffi_type>>,
    lists: &mut Vec<Vec<*mut ffi_type>>,
) -> *mut ffi_type {
    // libffi reads its built-in descriptions and never writes them.
    let builtin = |t: *const ffi_type| t.cast_mut();
    match desc {
        Desc::I8 => builtin(&raw const ffi_type_sint8),
        Desc::U16 => builtin(&raw const ffi_type_uint16),
        Desc::I16 => builtin(&raw const ffi_type_sint16),
        Desc::I32 => builtin(&raw const ffi_type_sint32),
        Desc::I64 => builtin(&raw const ffi_type_sint64),
        Desc::U64 => builtin(&raw const ffi_type_uint64),
        Desc::F32 => builtin(&raw const ffi_type_float),
        Desc::F64 => builtin(&raw const ffi_type_double),
        Desc::Struct(fields) => {
            let mut elements: Vec<*mut ffi_type> =
                fields.iter().map(|f| describe(f, types, lists)).collect();
            elements.push(std::ptr::null_mut());
            let mut ty = Box::new(ffi_type {
                size: 0,
                alignment: 0,
                type_: FFI_TYPE_STRUCT,
                elements: elements.as_mut_ptr(),
            });
            lists.push(elements);
            let ptr: *mut ffi_type = &mut *ty;
            types.push(ty);
            ptr
        }
    }
}

/// A libffi closure: executable code that runs a handler.
#[derive(Debug)]
pub struct Closure {
    writable: *mut c_void,
    code: *mut c_void,
    _cif: Rc<Cif>,
}

impl Closure {
    /// Allocates and prepares a closure that runs `fun` with `cif`'s signature.
    ///
    /// # Panics
    /// If libffi cannot allocate or prepare it.
    pub fn new(cif: Rc<Cif>, fun: ClosureFn) -> Closure {
        let mut code = std::ptr::null_mut();
        // SAFETY: `CLOSURE_BYTES` is at least `sizeof(ffi_closure)`; `code` is writable.
        let writable = unsafe { ffi_closure_alloc(CLOSURE_BYTES, &mut code) };
        assert!(!writable.is_null(), "ffi_closure_alloc failed");
        // SAFETY: `writable` is a fresh closure whose executable address is `code`; the
        // cif lives in the returned `Closure` as long as the closure does.
        let status = unsafe {
            ffi_prep_closure_loc(writable, cif.as_ptr(), fun, std::ptr::null_mut(), code)
        };
        assert_eq!(status, FFI_OK, "ffi_prep_closure_loc failed");
        Closure { writable, code, _cif: cif }
    }

    /// The address C calls.
    pub fn code(&self) -> *const c_void {
        self.code
    }
}

impl Drop for Closure {
    fn drop(&mut self) {
        // SAFETY: `writable` came from `ffi_closure_alloc` and is freed once, here.
        unsafe { ffi_closure_free(self.writable) }
    }
}
