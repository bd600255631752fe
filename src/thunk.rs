//! Compiled signatures: a plan, its thunk in executable memory, and the call path.
//!
//! A thunk is entered as `thunk(target, block, ret)`: it loads the arguments that the
//! plan places in registers and on the stack out of the argument block, calls `target`,
//! and stores the result registers into the return block (see `plan.rs`). Thunks are
//! cached per signature (convention included), so each signature is compiled once per
//! process.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::c_void;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use crate::arch::{self, CodeBuffer};
use crate::callback::CallGuard;
use crate::error::{Error, Path, Result};
use crate::memory::Code;
use crate::plan::CallPlan;
use crate::signature::{Abi, Signature};
use crate::types::Type;
use crate::value::{self, Pointer, Value};

cfg_if::cfg_if! {
    if #[cfg(target_arch = "x86_64")] {
        // The x86-64 thunks are entered with System V's convention on every OS.
        type ThunkFn = unsafe extern "sysv64" fn(*const c_void, *mut u8, *mut u8);
    } else {
        type ThunkFn = unsafe extern "C" fn(*const c_void, *mut u8, *mut u8);
    }
}

/// A signature compiled for calling: its plan and its thunk. Cheap to clone.
#[derive(Clone, Debug)]
pub struct CompiledSignature {
    inner: Arc<Compiled>,
}

#[derive(Debug)]
struct Compiled {
    sig: Signature,
    plan: CallPlan,
    /// The thunk that reads the argument block.
    code: Thunk,
    /// The thunk that reads through a pointer array, when the plan allows one.
    pointer_code: Option<Thunk>,
}

/// A thunk's code and, once it has been sealed, its entry address (so that a call reads
/// one word instead of following the code's chunk).
#[derive(Debug)]
struct Thunk {
    code: Code,
    entry: AtomicUsize,
}

impl Thunk {
    fn new(code: Code) -> Thunk {
        Thunk { code, entry: AtomicUsize::new(0) }
    }

    #[inline]
    fn entry(&self) -> Result<ThunkFn> {
        let mut entry = self.entry.load(Ordering::Acquire);
        if entry == 0 {
            entry = self.code.entry()? as usize;
            self.entry.store(entry, Ordering::Release);
        }
        // SAFETY: `entry` is this thunk's sealed, executable code, and thunks are entered
        // with the `ThunkFn` convention (see `arch`).
        Ok(unsafe { std::mem::transmute::<usize, ThunkFn>(entry) })
    }
}

type Cache = HashMap<Signature, CompiledSignature, BuildHasherDefault<WordHasher>>;

static CACHE: RwLock<Option<Cache>> = RwLock::new(None);

thread_local! {
    /// The signatures this thread has used: hits take no lock.
    static LOCAL_CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

/// Hashes the few words a signature writes (the convention and each type's precomputed
/// content hash) with one multiply-rotate step each.
#[derive(Default)]
struct WordHasher(u64);

impl Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7C_C1_B7_27_22_0A_95);
    }

    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
}

impl CompiledSignature {
    /// Classifies `sig` and compiles its thunk, or fetches it from the cache.
    ///
    /// # Errors
    /// A convention this host cannot run, a signature the convention cannot express, or
    /// no memory for code.
    pub fn new(sig: Signature) -> Result<CompiledSignature> {
        if !sig.abi.runs_on_host() {
            return Err(Error::Abi(format!(
                "calling convention {} cannot be called on this host (its plans can still be shown)",
                sig.abi
            )));
        }
        // First this thread's own cache (no lock), then the process's. (The own cache is
        // gone while the thread exits, e.g. in a callback run by a TLS destructor.)
        if let Some(found) = LOCAL_CACHE.try_with(|c| c.borrow().get(&sig).cloned()).ok().flatten()
        {
            return Ok(found);
        }
        if let Some(found) = cache_read().as_ref().and_then(|c| c.get(&sig)).cloned() {
            let _ = LOCAL_CACHE.try_with(|c| c.borrow_mut().insert(sig, found.clone()));
            return Ok(found);
        }
        let abi = arch::for_abi(sig.abi);
        let plan = abi.classify(&sig)?;
        let mut code = CodeBuffer::new();
        abi.emit_thunk(&plan, &mut code)?;
        let code = Thunk::new(Code::stage(code.bytes())?);
        let pointer_code = if arch::pointers_fit(&plan) {
            let mut code = CodeBuffer::new();
            abi.emit_pointer_thunk(&plan, &mut code)?;
            Some(Thunk::new(Code::stage(code.bytes())?))
        } else {
            None
        };
        let inner = Compiled { sig: sig.clone(), plan, code, pointer_code };
        let compiled = CompiledSignature { inner: Arc::new(inner) };
        let mut cache = CACHE.write().unwrap_or_else(|p| p.into_inner());
        // Another thread may have compiled the same signature meanwhile: keep the first.
        Ok(cache.get_or_insert_with(Cache::default).entry(sig).or_insert(compiled).clone())
    }

    /// The signature this was compiled for.
    pub fn signature(&self) -> &Signature {
        &self.inner.sig
    }

    /// Where each argument and the result go (see [`CallPlan`]).
    pub fn plan(&self) -> &CallPlan {
        &self.inner.plan
    }

    /// The thunk's machine code.
    pub fn code(&self) -> Vec<u8> {
        self.inner.code.code.to_vec()
    }

    /// Calls `target` with dynamic values: every argument is converted (and any error
    /// returned) before anything is called; then the result is converted back.
    ///
    /// # Errors
    /// A wrong argument count ("arity mismatch"), a value that does not convert (the
    /// error names the argument and the field inside it), a result type whose value
    /// [`value::check_decodable`] refuses, or the error of a callback that failed while
    /// the function ran (the callback returned a zero result to C).
    ///
    /// # Safety
    /// `target` must be a function with this signature under this convention, and calling
    /// it with these arguments must be sound; pointers passed must be valid for whatever
    /// the function does with them. A `:string` result must be NULL or a valid C string.
    pub unsafe fn call(&self, target: Pointer, args: &[Value]) -> Result<Value> {
        let Compiled { sig, plan, .. } = &*self.inner;
        if args.len() != sig.params.len() {
            return Err(Error::Arity { expected: sig.params.len(), got: args.len() });
        }
        // The result's value must be one that can be made, before anything is called.
        value::check_decodable(&sig.ret)?;
        let mut block = ArgBlock::zeroed(plan.block.size as usize);
        let mut path = Path::default();
        let bytes = block.bytes_mut();
        for (i, ((ty, arg), &offset)) in
            sig.params.iter().zip(args).zip(&plan.block.offsets).enumerate()
        {
            path.argument = Some(i);
            let start = offset as usize;
            match ty {
                // A primitive's image is the low bytes of its bits; every image has 16
                // bytes of room in the block and the thunk reads only the low ones.
                Type::Prim(p) => {
                    let bits = value::encode_prim_bits(*p, arg, &path)?;
                    bytes[start..start + 8].copy_from_slice(&bits.to_le_bytes());
                }
                _ => value::encode(ty, arg, &mut bytes[start..start + ty.size()], &path)?,
            }
        }
        let mut ret = RetBlock::zeroed(plan.ret_block_size as usize);
        // SAFETY: the block holds every argument's image where the plan says; the caller
        // vouches for the target and the arguments.
        unsafe { self.invoke(target, block.as_mut_ptr(), ret.as_mut_ptr())? };
        let ret = ret.bytes_mut();
        Ok(match &sig.ret {
            // SAFETY: the caller vouches that a `:string` result is NULL or a C string.
            Type::Prim(p) => unsafe {
                value::decode_prim_bits(
                    *p,
                    u64::from_le_bytes(ret[..8].try_into().expect("8 bytes")),
                )
            },
            // SAFETY: as above.
            ty => unsafe { value::decode_following_pointers(ty, &ret[..ty.size()]) },
        })
    }

    /// Calls `target` with native values: `args[i]` points to the native image of
    /// argument i (as C lays it out), and the result's image is written to `ret`.
    ///
    /// # Safety
    /// As [`CompiledSignature::call`]; besides, `args` must hold one pointer per parameter,
    /// each readable for the parameter's size, and `ret` must be writable for the result's
    /// size.
    #[inline]
    pub unsafe fn call_native(
        &self,
        target: Pointer,
        args: &[*const u8],
        ret: *mut u8,
    ) -> Result<()> {
        let Compiled { sig, pointer_code, .. } = &*self.inner;
        if args.len() != sig.params.len() {
            return Err(Error::Arity { expected: sig.params.len(), got: args.len() });
        }
        match pointer_code {
            // The fast path: the thunk reads each argument through its pointer and writes
            // the result straight into `ret`.
            // SAFETY: the caller guarantees what this function's contract says; the thunk
            // reads exactly each parameter's bytes and writes exactly the result's.
            Some(thunk) => unsafe { run(thunk, target, args.as_ptr().cast_mut().cast(), ret) },
            // SAFETY: forwarded from the caller.
            None => unsafe { self.call_native_via_block(target, args, ret) },
        }
    }

    /// `call_native` for plans that need the argument block (pieces of odd sizes,
    /// arguments by reference): out of line, so the fast path keeps a small frame.
    ///
    /// # Safety
    /// As [`CompiledSignature::call_native`], with the argument count checked.
    #[inline(never)]
    unsafe fn call_native_via_block(
        &self,
        target: Pointer,
        args: &[*const u8],
        ret: *mut u8,
    ) -> Result<()> {
        let Compiled { sig, plan, .. } = &*self.inner;
        let mut block = ArgBlock::zeroed(plan.block.size as usize);
        for ((ty, &arg), &offset) in sig.params.iter().zip(args).zip(&plan.block.offsets) {
            // SAFETY: the caller guarantees `ty.size()` readable bytes at `arg`; the block
            // has room for them at `offset`.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    arg,
                    block.as_mut_ptr().add(offset as usize),
                    ty.size(),
                )
            };
        }
        let mut ret_block = RetBlock::zeroed(plan.ret_block_size as usize);
        // SAFETY: as in `call`.
        unsafe { self.invoke(target, block.as_mut_ptr(), ret_block.as_mut_ptr())? };
        // SAFETY: the caller guarantees `ret` is writable for the result's size.
        unsafe { std::ptr::copy_nonoverlapping(ret_block.as_mut_ptr(), ret, sig.ret.size()) };
        Ok(())
    }

    /// # Safety
    /// `block` and `ret` are this plan's blocks, filled in; the caller vouches for `target`.
    unsafe fn invoke(&self, target: Pointer, block: *mut u8, ret: *mut u8) -> Result<()> {
        // SAFETY: forwarded from the caller.
        unsafe { run(&self.inner.code, target, block, ret) }
    }
}

/// Runs a thunk and returns any error a callback raised meanwhile (that callback gave C a
/// zero result).
///
/// # Safety
/// `args` and `ret` are what this thunk reads and writes (a block or a pointer array, a
/// return block or the caller's memory), and the caller vouches for `target`.
#[inline]
unsafe fn run(thunk: &Thunk, target: Pointer, args: *mut u8, ret: *mut u8) -> Result<()> {
    let thunk = thunk.entry()?;
    let guard = CallGuard::enter();
    // SAFETY: the thunk reads only its plan's argument bytes and writes only its result
    // bytes, and calls `target`, which the caller vouches for.
    unsafe { thunk(target.as_ptr(), args, ret) };
    guard.finish()
}

fn cache_read() -> std::sync::RwLockReadGuard<'static, Option<Cache>> {
    CACHE.read().unwrap_or_else(|p| p.into_inner())
}

/// Zeroed bytes aligned to 16: `N` 16-byte words on the stack when they suffice (zeroed
/// whole with inline stores: no library call, and later loads forward), else the heap.
enum AlignedBytes<const N: usize> {
    Inline([u128; N]),
    Heap(Vec<u128>),
}

impl<const N: usize> AlignedBytes<N> {
    #[inline(always)]
    fn zeroed(len: usize) -> AlignedBytes<N> {
        if len <= 16 * N {
            AlignedBytes::Inline([0; N])
        } else {
            AlignedBytes::Heap(vec![0; len.div_ceil(16)])
        }
    }

    #[inline(always)]
    fn as_mut_ptr(&mut self) -> *mut u8 {
        match self {
            AlignedBytes::Inline(words) => words.as_mut_ptr().cast(),
            AlignedBytes::Heap(v) => v.as_mut_ptr().cast(),
        }
    }

    #[inline(always)]
    fn bytes_mut(&mut self) -> &mut [u8] {
        let len = match self {
            AlignedBytes::Inline(_) => 16 * N,
            AlignedBytes::Heap(v) => 16 * v.len(),
        };
        // SAFETY: all `len` bytes are initialized (zeroed), and bytes are valid `u8`s.
        unsafe { std::slice::from_raw_parts_mut(self.as_mut_ptr(), len) }
    }
}

/// Argument blocks of up to 128 bytes, and result blocks of up to 32, stay on the stack.
type ArgBlock = AlignedBytes<8>;
type RetBlock = AlignedBytes<2>;

impl Abi {
    /// True when this host can call functions of this convention: both x86-64 ones on an
    /// x86-64 host (Windows functions exist on Linux too, as `ms_abi` code), AAPCS64 on
    /// an AArch64 host that is not Windows.
    pub fn runs_on_host(self) -> bool {
        match self {
            Abi::SysV64 | Abi::Win64 => cfg!(target_arch = "x86_64"),
            Abi::Aapcs64 => cfg!(all(target_arch = "aarch64", not(windows))),
        }
    }
}
