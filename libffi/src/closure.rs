//! Closures without writable-and-executable memory, and Go closures.
//!
//! `ffi_closure_alloc` hands out writable closure memory (from the heap, never
//! executable) and the address of a *stub*: a few instructions in jitcall's W^X code
//! memory that jump through a data cell. `ffi_prep_closure_loc` makes a jitcall callback
//! for the cif and points the stub's cell at it. The callback reads the closure's `cif`,
//! `fun` and `user_data` fields at each call, as libffi's trampolines do.
//!
//! `ffi_prep_closure` on memory the caller owns (cffi maps such pages itself, writable and
//! executable) works as libffi's does: a jump to the callback is written into the
//! closure's `tramp` bytes, which the caller then executes.
//!
//! Go closures take their context in the static chain register (r10 on x86-64, x18 on
//! AArch64). jitcall's calls cannot set it and its callbacks cannot read it, so
//! `ffi_call_go` calls through a stub that loads the register from a data cell, and a Go
//! closure's code is a callback bound to that closure (the closure is its own context).

use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use jitcall::ffi::{jitfn, JitFn};
use jitcall::Callback;

use crate::cif::{self, FfiCif};
use crate::Status;

/// libffi's `FFI_TRAMPOLINE_SIZE`.
#[cfg(target_arch = "x86_64")]
pub const TRAMPOLINE_SIZE: usize = 32;
#[cfg(target_arch = "aarch64")]
pub const TRAMPOLINE_SIZE: usize = 24;

pub type ClosureFun = unsafe extern "C" fn(*mut FfiCif, *mut c_void, *mut *mut c_void, *mut c_void);

/// `ffi_closure` as ffi.h declares it.
#[repr(C)]
pub struct FfiClosure {
    pub tramp: [u8; TRAMPOLINE_SIZE],
    pub cif: *mut FfiCif,
    pub fun: Option<ClosureFun>,
    pub user_data: *mut c_void,
}

/// `ffi_go_closure` as ffi.h declares it.
#[repr(C)]
pub struct FfiGoClosure {
    pub tramp: *mut c_void,
    pub cif: *mut FfiCif,
    pub fun: Option<ClosureFun>,
}

// ---------------------------------------------------------------------------------------
// stubs

/// Stubs per batch (one piece of code, one array of cells).
const BATCH: usize = 128;

/// What a stub does with its two cells.
#[derive(Clone, Copy, PartialEq, Eq)]
enum StubKind {
    /// Jumps to the address in cell 0.
    Jump,
    /// Loads the static chain register from cell 0 and jumps to cell 1.
    Chain,
}

struct Batch {
    _code: JitFn,
    code_base: usize,
    cells: &'static [[AtomicUsize; 2]],
}

struct StubPool {
    batches: Vec<Batch>,
    free: Vec<(usize, usize)>,
}

/// A claimed stub: its code address and its cells.
#[derive(Clone, Copy)]
struct Stub {
    batch: usize,
    index: usize,
    code: usize,
    cells: &'static [AtomicUsize; 2],
}

fn pool(kind: StubKind) -> MutexGuard<'static, StubPool> {
    static JUMP: Mutex<StubPool> = Mutex::new(StubPool { batches: Vec::new(), free: Vec::new() });
    static CHAIN: Mutex<StubPool> = Mutex::new(StubPool { batches: Vec::new(), free: Vec::new() });
    let pool = if kind == StubKind::Jump { &JUMP } else { &CHAIN };
    pool.lock().unwrap_or_else(|p| p.into_inner())
}

/// Where an unbound stub jumps: a function that returns (C gets a garbage result rather
/// than a jump to address 0).
extern "C" fn unbound() {}

fn claim(kind: StubKind) -> Option<Stub> {
    let mut pool = pool(kind);
    if pool.free.is_empty() {
        let cells: &'static [[AtomicUsize; 2]] = Box::leak(
            (0..BATCH)
                .map(|_| {
                    [
                        AtomicUsize::new(unbound as *const () as usize),
                        AtomicUsize::new(unbound as *const () as usize),
                    ]
                })
                .collect::<Box<[_]>>(),
        );
        let mut code = Vec::with_capacity(BATCH * STUB_BYTES);
        for cell in cells {
            emit_stub(kind, cell.as_ptr() as usize, &mut code);
        }
        let code = jitfn(&code).ok()?;
        let code_base = code.pointer().addr();
        let batch = pool.batches.len();
        pool.batches.push(Batch { _code: code, code_base, cells });
        pool.free.extend((0..BATCH).rev().map(|i| (batch, i)));
    }
    let (batch, index) = pool.free.pop()?;
    let b = &pool.batches[batch];
    Some(Stub { batch, index, code: b.code_base + index * STUB_BYTES, cells: &b.cells[index] })
}

fn release(kind: StubKind, stub: Stub) {
    stub.cells[0].store(unbound as *const () as usize, Ordering::Release);
    stub.cells[1].store(unbound as *const () as usize, Ordering::Release);
    pool(kind).free.push((stub.batch, stub.index));
}

#[cfg(target_arch = "x86_64")]
const STUB_BYTES: usize = 32;

#[cfg(target_arch = "x86_64")]
fn emit_stub(kind: StubKind, cells: usize, code: &mut Vec<u8>) {
    let start = code.len();
    code.extend([0x49, 0xBB]); // movabs r11, cells
    code.extend((cells as u64).to_le_bytes());
    match kind {
        StubKind::Jump => code.extend([0x41, 0xFF, 0x23]), // jmp [r11]
        StubKind::Chain => {
            code.extend([0x4D, 0x8B, 0x13]); // mov r10, [r11]
            code.extend([0x41, 0xFF, 0x63, 0x08]); // jmp [r11 + 8]
        }
    }
    code.resize(start + STUB_BYTES, 0xCC); // int3
}

#[cfg(target_arch = "aarch64")]
const STUB_BYTES: usize = 32;

#[cfg(target_arch = "aarch64")]
fn emit_stub(kind: StubKind, cells: usize, code: &mut Vec<u8>) {
    let words: [u32; 6] = match kind {
        StubKind::Jump => [
            0x5800_0090, // ldr x16, #16 (the cells' address)
            0xF940_0210, // ldr x16, [x16]
            0xD61F_0200, // br x16
            0xD420_0000, // brk #0
            0xD420_0000,
            0xD420_0000,
        ],
        StubKind::Chain => [
            0x5800_0090, // ldr x16, #16
            0xF940_0212, // ldr x18, [x16]
            0xF940_0611, // ldr x17, [x16, #8]
            0xD61F_0220, // br x17
            0xD420_0000,
            0xD420_0000,
        ],
    };
    for w in &words[..4] {
        code.extend(w.to_le_bytes());
    }
    code.extend((cells as u64).to_le_bytes()); // at +16, 8-aligned
    code.extend([0; 8]);
    let _ = words;
}

/// Writes a jump to `target` at `at` (caller-owned closure memory), and makes it visible
/// to instruction fetch.
///
/// # Safety
/// `at` is writable for [`TRAMPOLINE_SIZE`] bytes.
unsafe fn write_jump(at: *mut u8, target: usize) {
    let mut bytes = Vec::with_capacity(TRAMPOLINE_SIZE);
    #[cfg(target_arch = "x86_64")]
    {
        bytes.extend([0x49, 0xBB]); // movabs r11, target
        bytes.extend((target as u64).to_le_bytes());
        bytes.extend([0x41, 0xFF, 0xE3]); // jmp r11
    }
    #[cfg(target_arch = "aarch64")]
    {
        bytes.extend(0x5800_0050u32.to_le_bytes()); // ldr x16, #8
        bytes.extend(0xD61F_0200u32.to_le_bytes()); // br x16
        bytes.extend((target as u64).to_le_bytes());
    }
    // SAFETY: the caller guarantees the room; the jump is shorter than the trampoline.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), at, bytes.len()) };
    #[cfg(target_arch = "aarch64")]
    {
        extern "C" {
            fn __clear_cache(start: *mut c_void, end: *mut c_void);
        }
        // SAFETY: the range was just written and is mapped.
        unsafe { __clear_cache(at.cast(), at.add(bytes.len()).cast()) };
    }
}

// ---------------------------------------------------------------------------------------
// closures

/// A closure from `ffi_closure_alloc`: its memory and stub, and its callback once bound.
struct Allocated {
    memory: Box<[u64]>,
    stub: Stub,
    callback: Option<Callback>,
}

// SAFETY: the memory is a plain heap block; stubs and callbacks are shareable.
unsafe impl Send for Allocated {}

struct Closures {
    allocated: HashMap<usize, Allocated>,
    /// Callbacks bound to caller-owned closures (`ffi_prep_closure`) and Go closures, by
    /// closure address; replaced when the closure is prepared again.
    foreign: HashMap<usize, Callback>,
}

fn closures() -> MutexGuard<'static, Closures> {
    static CLOSURES: OnceLock<Mutex<Closures>> = OnceLock::new();
    CLOSURES
        .get_or_init(|| Mutex::new(Closures { allocated: HashMap::new(), foreign: HashMap::new() }))
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// `ffi_closure_alloc`: `size` bytes of writable, zeroed closure memory, and in `*code`
/// the address to call once it is prepared. NULL when out of memory.
///
/// # Safety
/// `code` is NULL or writable.
pub unsafe fn alloc(size: usize, code: *mut *mut c_void) -> *mut c_void {
    let words = size.max(std::mem::size_of::<FfiClosure>()).div_ceil(8);
    let Some(stub) = claim(StubKind::Jump) else { return std::ptr::null_mut() };
    let mut memory = vec![0u64; words].into_boxed_slice();
    let ptr = memory.as_mut_ptr().cast::<c_void>();
    closures().allocated.insert(ptr as usize, Allocated { memory, stub, callback: None });
    if !code.is_null() {
        // SAFETY: the caller guarantees `code` is writable.
        unsafe { *code = stub.code as *mut c_void };
    }
    ptr
}

/// `ffi_closure_free`: frees what `ffi_closure_alloc` returned (anything else is ignored).
pub fn free(ptr: *mut c_void) {
    let removed = closures().allocated.remove(&(ptr as usize));
    if let Some(a) = removed {
        // The stub stops reaching the callback before the callback goes.
        release(StubKind::Jump, a.stub);
        drop(a.callback);
        drop(a.memory);
    }
}

/// A callback with `cif`'s signature that runs the closure at `closure` (reading its
/// `cif`, `fun` and `user_data` at each call).
///
/// # Safety
/// `cif` is prepared; `closure` stays valid (and its fields set) while the callback may
/// be called.
unsafe fn closure_callback(
    cif: *mut FfiCif,
    fields: usize,
    context: Option<usize>,
) -> Result<Callback, Status> {
    // SAFETY: forwarded from the caller.
    let prepared = unsafe { cif::prepared_of(cif) }.ok_or(Status::BadTypedef)?;
    let mut sig = prepared.sig.signature().clone();
    // A closure of a variadic cif (libffi allows it) reads the arguments of the call its
    // cif describes: where a caller puts variadic arguments, as fixed ones (SysV, AAPCS64
    // on Linux) or there too (Win64 duplicates doubles into the integer registers).
    sig.fixed = None;
    let ret_size = sig.ret.size();
    Callback::new_native(sig, move |args, ret| {
        // The fields `cif`, `fun`, `user_data` (or, for Go closures, `cif`, `fun` and the
        // closure itself as context), read now as libffi's trampolines read them.
        let words = fields as *const usize;
        // SAFETY: the caller of `closure_callback` keeps the closure valid.
        let (cif, fun, data) = unsafe { (*words, *words.add(1), context.unwrap_or(*words.add(2))) };
        if fun == 0 {
            return Ok(());
        }
        // SAFETY: a non-NULL `fun` field is the user's closure function.
        let fun: ClosureFun = unsafe { std::mem::transmute::<usize, ClosureFun>(fun) };
        let args = args.as_ptr().cast_mut().cast::<*mut c_void>();
        if ret_size <= 16 {
            // libffi's functions write a whole `ffi_arg` for narrow integers: give them room.
            let mut scratch = [0u64; 4];
            // SAFETY: the user's function follows libffi's closure contract.
            unsafe {
                fun(cif as *mut FfiCif, scratch.as_mut_ptr().cast(), args, data as *mut c_void)
            };
            // SAFETY: `ret` has room for the result type's size.
            unsafe { copy_result(scratch.as_ptr().cast::<u8>(), ret, ret_size) };
        } else {
            // SAFETY: as above; `ret` has room for the whole result.
            unsafe { fun(cif as *mut FfiCif, ret.cast(), args, data as *mut c_void) };
        }
        Ok(())
    })
    .map_err(|_| Status::BadTypedef)
}

/// Copies a result of at most 16 bytes: the usual sizes with fixed-size copies (inline
/// moves instead of a call to `memcpy`).
///
/// # Safety
/// `src` and `dst` are valid for `size` bytes and do not overlap.
#[inline]
unsafe fn copy_result(src: *const u8, dst: *mut u8, size: usize) {
    // SAFETY: forwarded from the caller, for each size.
    unsafe {
        match size {
            1 => std::ptr::copy_nonoverlapping(src, dst, 1),
            2 => std::ptr::copy_nonoverlapping(src, dst, 2),
            4 => std::ptr::copy_nonoverlapping(src, dst, 4),
            8 => std::ptr::copy_nonoverlapping(src, dst, 8),
            16 => std::ptr::copy_nonoverlapping(src, dst, 16),
            _ => std::ptr::copy_nonoverlapping(src, dst, size),
        }
    }
}

/// `ffi_prep_closure_loc`.
///
/// # Safety
/// libffi's contract: `closure` is valid closure memory, `cif` prepared and alive while
/// the closure is, `codeloc` the code address `ffi_closure_alloc` gave for `closure` or,
/// for caller-owned memory, `closure` itself (which must then be executable).
pub unsafe fn prep_closure_loc(
    closure: *mut FfiClosure,
    cif: *mut FfiCif,
    fun: Option<ClosureFun>,
    user_data: *mut c_void,
    codeloc: *mut c_void,
) -> Status {
    if closure.is_null() || cif.is_null() {
        return Status::BadTypedef;
    }
    // SAFETY: the caller guarantees writable closure memory.
    unsafe {
        (*closure).cif = cif;
        (*closure).fun = fun;
        (*closure).user_data = user_data;
    }
    // SAFETY: the fields are at `cif`, `fun`, `user_data`; the caller keeps them valid.
    let callback =
        match unsafe { closure_callback(cif, std::ptr::addr_of!((*closure).cif) as usize, None) } {
            Ok(c) => c,
            Err(status) => return status,
        };
    let mut closures = closures();
    if let Some(allocated) = closures.allocated.get_mut(&(closure as usize)) {
        if allocated.stub.code != codeloc as usize {
            return Status::BadArgtype;
        }
        allocated.stub.cells[0].store(callback.code_ptr().addr(), Ordering::Release);
        allocated.callback = Some(callback);
        return Status::Ok;
    }
    if codeloc != closure.cast() {
        return Status::BadArgtype;
    }
    // SAFETY: caller-owned closure memory is writable (and executable: the caller's side).
    unsafe { write_jump(closure.cast(), callback.code_ptr().addr()) };
    closures.foreign.insert(closure as usize, callback);
    Status::Ok
}

/// `ffi_prep_go_closure`.
///
/// # Safety
/// `closure` is writable and stays valid while its code may be called; `cif` prepared.
pub unsafe fn prep_go_closure(
    closure: *mut FfiGoClosure,
    cif: *mut FfiCif,
    fun: Option<ClosureFun>,
) -> Status {
    if closure.is_null() || cif.is_null() {
        return Status::BadTypedef;
    }
    // SAFETY: the caller guarantees writable closure memory.
    unsafe {
        (*closure).cif = cif;
        (*closure).fun = fun;
    }
    // SAFETY: `cif` and `fun` follow each other; the closure is the function's context.
    let fields = unsafe { std::ptr::addr_of!((*closure).cif) } as usize;
    // SAFETY: the caller keeps the closure valid while its code may be called.
    let callback = match unsafe { closure_callback(cif, fields, Some(closure as usize)) } {
        Ok(c) => c,
        Err(status) => return status,
    };
    // SAFETY: as above.
    unsafe { (*closure).tramp = callback.code_ptr().as_ptr() };
    closures().foreign.insert(closure as usize, callback);
    Status::Ok
}

/// `ffi_call_go`: `ffi_call` with `closure` in the static chain register.
///
/// # Safety
/// As `ffi_call`.
pub unsafe fn call_go(
    prepared: &cif::Prepared,
    target: *const c_void,
    rvalue: *mut c_void,
    avalue: *const *const u8,
    closure: *mut c_void,
) {
    let Some(stub) = claim(StubKind::Chain) else { return };
    stub.cells[0].store(closure as usize, Ordering::Release);
    stub.cells[1].store(target as usize, Ordering::Release);
    // SAFETY: the stub jumps to `target` with the chain set and every argument register
    // untouched; the rest is the caller's contract.
    unsafe { cif::call(prepared, stub.code as *const c_void, rvalue, avalue) };
    release(StubKind::Chain, stub);
}
