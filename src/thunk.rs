//! Compiled signatures: a plan, its thunk in executable memory, and the call path.
//!
//! A thunk is entered as `thunk(target, block, ret)`: it loads the arguments that the
//! plan places in registers and on the stack out of the argument block, calls `target`,
//! and stores the result registers into the return block (see `plan.rs`). Thunks are
//! cached per signature (convention included), so each signature is compiled once per
//! process.

use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::{Arc, RwLock};

use crate::arch::{self, CodeBuffer};
use crate::callback::CallGuard;
use crate::error::{Error, Path, Result};
use crate::memory::Code;
use crate::plan::CallPlan;
use crate::signature::{Abi, Signature};
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
    code: Code,
    /// The thunk that reads through a pointer array, when the plan allows one.
    pointer_code: Option<Code>,
}

static CACHE: RwLock<Option<HashMap<Signature, CompiledSignature>>> = RwLock::new(None);

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
        if let Some(found) = cache_read().as_ref().and_then(|c| c.get(&sig)) {
            return Ok(found.clone());
        }
        let abi = arch::for_abi(sig.abi)?;
        let plan = abi.classify(&sig)?;
        let mut code = CodeBuffer::new();
        abi.emit_thunk(&plan, &mut code)?;
        let code = Code::stage(code.bytes())?;
        let pointer_code = if arch::pointers_fit(&plan) {
            let mut code = CodeBuffer::new();
            abi.emit_pointer_thunk(&plan, &mut code)?;
            Some(Code::stage(code.bytes())?)
        } else {
            None
        };
        let inner = Compiled { sig: sig.clone(), plan, code, pointer_code };
        let compiled = CompiledSignature { inner: Arc::new(inner) };
        let mut cache = CACHE.write().unwrap_or_else(|p| p.into_inner());
        // Another thread may have compiled the same signature meanwhile: keep the first.
        Ok(cache.get_or_insert_with(HashMap::new).entry(sig).or_insert(compiled).clone())
    }

    pub fn signature(&self) -> &Signature {
        &self.inner.sig
    }

    pub fn plan(&self) -> &CallPlan {
        &self.inner.plan
    }

    /// The thunk's machine code.
    pub fn code(&self) -> Vec<u8> {
        self.inner.code.to_vec()
    }

    /// Calls `target` with dynamic values: every argument is converted (and any error
    /// returned) before anything is called; then the result is converted back.
    ///
    /// # Errors
    /// A wrong argument count ("arity mismatch"), a value that does not convert (the
    /// error names the argument and the field inside it), or the error of a callback that
    /// failed while the function ran (the callback returned a zero result to C).
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
        let mut block = AlignedBytes::zeroed(plan.block.size as usize);
        let mut path = Path::default();
        for (i, ((ty, arg), &offset)) in
            sig.params.iter().zip(args).zip(&plan.block.offsets).enumerate()
        {
            path.argument = Some(i);
            let start = offset as usize;
            value::encode(ty, arg, &mut block.bytes_mut()[start..start + ty.size()], &mut path)?;
        }
        let mut ret = AlignedBytes::zeroed(plan.ret_block_size as usize);
        // SAFETY: the block holds every argument's image where the plan says; the caller
        // vouches for the target and the arguments.
        unsafe { self.invoke(target, block.as_mut_ptr(), ret.as_mut_ptr())? };
        // SAFETY: the caller vouches that a `:string` result is NULL or a C string.
        Ok(unsafe {
            value::decode_following_pointers(&sig.ret, &ret.bytes_mut()[..sig.ret.size()])
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
        let Compiled { sig, plan, pointer_code, .. } = &*self.inner;
        if args.len() != sig.params.len() {
            return Err(Error::Arity { expected: sig.params.len(), got: args.len() });
        }
        if let Some(code) = pointer_code {
            // The fast path: the thunk reads each argument through its pointer and writes
            // the result straight into `ret`.
            // SAFETY: the caller guarantees what this function's contract says; the thunk
            // reads exactly each parameter's bytes and writes exactly the result's.
            return unsafe { run(code, target, args.as_ptr().cast_mut().cast(), ret) };
        }
        let mut block = AlignedBytes::zeroed(plan.block.size as usize);
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
        let mut ret_block = AlignedBytes::zeroed(plan.ret_block_size as usize);
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
unsafe fn run(code: &Code, target: Pointer, args: *mut u8, ret: *mut u8) -> Result<()> {
    let entry = code.entry()?;
    // SAFETY: `entry` is a thunk, sealed executable, and thunks are entered with the
    // `ThunkFn` convention (see `arch`).
    let thunk: ThunkFn = unsafe { std::mem::transmute::<*const u8, ThunkFn>(entry) };
    let guard = CallGuard::enter();
    // SAFETY: the thunk reads only its plan's argument bytes and writes only its result
    // bytes, and calls `target`, which the caller vouches for.
    unsafe { thunk(target.as_ptr(), args, ret) };
    guard.finish()
}

fn cache_read() -> std::sync::RwLockReadGuard<'static, Option<HashMap<Signature, CompiledSignature>>>
{
    CACHE.read().unwrap_or_else(|p| p.into_inner())
}

/// Zeroed bytes aligned to 16, on the stack when small.
#[allow(clippy::large_enum_variant)] // the inline variant is the point: no allocation per call
enum AlignedBytes {
    Inline([u128; 16]),
    Heap(Vec<u128>),
}

impl AlignedBytes {
    fn zeroed(len: usize) -> AlignedBytes {
        if len <= 256 {
            AlignedBytes::Inline([0; 16])
        } else {
            AlignedBytes::Heap(vec![0; len.div_ceil(16)])
        }
    }

    fn words(&mut self) -> &mut [u128] {
        match self {
            AlignedBytes::Inline(w) => w,
            AlignedBytes::Heap(v) => v,
        }
    }

    fn as_mut_ptr(&mut self) -> *mut u8 {
        self.words().as_mut_ptr().cast()
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        let words = self.words();
        let len = std::mem::size_of_val(words);
        // SAFETY: any bytes of a `u128` slice are valid `u8`s, and `len` is its byte length.
        unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast(), len) }
    }
}

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
