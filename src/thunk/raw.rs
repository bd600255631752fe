//! The hot path's entries: [`RawCall`] (a signature's pointer-array thunk, with no checks
//! or bookkeeping per call) and [`DirectCall`] (a tail thunk that jumps to the target, so
//! that a register result comes back to the caller as the thunk's own result).

use std::ffi::c_void;

use super::{Compiled, CompiledSignature, ErrnoThunkFn, ThunkFn};
use crate::arch;
use crate::error::{Error, Result};
use crate::plan::RetPlan;
use crate::signature::{Abi, Errno};
use crate::types::{Prim, Type};
use crate::value::Pointer;

/// A compiled signature's call entry for a runtime's hot path: the thunk of
/// [`CompiledSignature::call_native`] (or, for a void or in-memory result whose arguments
/// all go in registers, a tail thunk that jumps to the target; on x86-64 only for System V
/// signatures, the convention jitcall's thunks are entered with), entered with no checks
/// and no bookkeeping per call.
///
/// `call_native` checks the argument count, runs the shared thunk while the signature is
/// cold, and reports the error of a callback that failed during the call. A `RawCall` is
/// made once (its code is sealed then) and does none of that: its [`call`](RawCall::call)
/// is one indirect call into the thunk. A callback that fails during such a call still
/// gives C a zero result; its error goes to the innermost *reporting* call running on the
/// thread (a `call` or `call_native` further out), or is printed on stderr when there is
/// none.
///
/// Which to use: a runtime that calls a bound foreign function many times keeps its
/// `RawCall` (or, for a signature with register arguments and a primitive result, a
/// [`DirectCall`]) and converts its own values to native images; everything else uses
/// [`CompiledSignature::call`] (values) or `call_native` (images, every check).
///
/// Holds its signature, so its code lives as long as it does. Cheap to clone.
#[derive(Clone, Debug)]
pub struct RawCall {
    entry: RawEntry,
    sig: CompiledSignature,
}

/// The convention a [`ThunkFn`] is entered with: `sysv64` on every x86-64 host, the
/// host's own `extern "C"` on AArch64.
fn thunk_fn_abi() -> Option<Abi> {
    if cfg!(target_arch = "x86_64") {
        Some(Abi::SysV64)
    } else {
        Abi::host()
    }
}

#[derive(Clone, Copy, Debug)]
enum RawEntry {
    /// A tail thunk, for a plan with no result in registers (the target writes the result
    /// memory itself, or there is no result) that every argument reaches in registers.
    Tail(ThunkFn),
    /// The pointer-array thunk.
    Pointers(ThunkFn),
    /// The pointer-array thunk of a signature that handles `errno`.
    Errno(ThunkFn),
    /// The plan needs the argument block: `call_native`'s copying path.
    Block,
}

impl CompiledSignature {
    /// This signature's [`RawCall`], with its code made executable now.
    ///
    /// # Errors
    /// The system refusing to map code or to change memory protection.
    pub fn raw_call(&self) -> Result<RawCall> {
        let Compiled { sig, plan, .. } = &*self.inner;
        let entry = match (&self.inner.tail_code, &self.inner.pointer_code) {
            // A tail thunk when nothing is left to do after the call (no result in
            // registers to store) and it is entered the way a `ThunkFn` is.
            (Some(tail), _)
                if matches!(plan.ret, RetPlan::Void | RetPlan::Indirect { .. })
                    && Some(plan.abi) == thunk_fn_abi() =>
            {
                RawEntry::Tail(tail.seal()?)
            }
            (_, Some(thunk)) if sig.errno == Errno::Ignore => RawEntry::Pointers(thunk.seal()?),
            (_, Some(thunk)) => RawEntry::Errno(thunk.seal()?),
            (_, None) => {
                self.inner.code.seal()?;
                RawEntry::Block
            }
        };
        Ok(RawCall { entry, sig: self.clone() })
    }

    /// This signature's [`DirectCall`] returning `R`: its tail thunk, made executable now.
    ///
    /// # Errors
    /// A signature that no tail thunk can call: a convention other than the host's own
    /// ([`Abi::host`], whose `extern "C"` the thunk is entered with), `errno` handling
    /// (which needs code after the call), an argument on the stack or by reference, a
    /// result in memory, or a result type that is not `R` (`R` must be the very primitive:
    /// `i32` for `:int32`, `u8` for `:uint8` and `:bool`, `*mut c_void` for `:ptr` and
    /// `:string`, `()` for `:void`). Also the system refusing to map code.
    pub fn direct_call<R: DirectResult>(&self) -> Result<DirectCall<R>> {
        let sig = &self.inner.sig;
        let refuse = |message: String| Err(Error::Unsupported { arg: None, message });
        if Abi::host() != Some(sig.abi) {
            return refuse(format!(
                "a DirectCall calls the host's own convention, not {} (use RawCall::call)",
                sig.abi
            ));
        }
        if sig.errno != Errno::Ignore {
            return refuse(
                "a DirectCall cannot capture errno, which needs code after the call (use \
                 RawCall::call)"
                    .into(),
            );
        }
        if !R::accepts(&sig.ret) {
            return refuse(format!(
                "a DirectCall<{}> cannot return this signature's result type {}",
                std::any::type_name::<R>(),
                sig.ret
            ));
        }
        if let RetPlan::Indirect { .. } = self.inner.plan.ret {
            return refuse(format!(
                "a DirectCall cannot return {}, which comes back in memory (use RawCall::call)",
                sig.ret
            ));
        }
        let Some(tail) = &self.inner.tail_code else {
            // Refused only for what the plan needs (errno was checked above).
            arch::check_tail_callable(&self.inner.plan)?;
            unreachable!("a tail-callable plan without errno handling has a tail thunk");
        };
        let entry = tail.seal()?;
        // SAFETY: `entry` is the sealed tail thunk, entered with the host's C convention
        // as `fn(target, args) -> R` (it ignores the third argument register when the
        // result comes back in registers): it loads the plan's argument registers and
        // jumps to the target, which returns the result (whose Rust image `R` is, by
        // `DirectResult`'s contract) in the host convention's registers to the caller.
        let entry = unsafe {
            std::mem::transmute::<ThunkFn, unsafe extern "C" fn(*const c_void, *const *const u8) -> R>(
                entry,
            )
        };
        Ok(DirectCall { entry, _sig: self.clone() })
    }
}

impl RawCall {
    /// The signature this calls by.
    pub fn signature(&self) -> &CompiledSignature {
        &self.sig
    }

    /// Calls `target`: `args` points to one pointer per parameter, each to the native
    /// image of its argument, and the result's image is written to `ret`. Callback errors
    /// are not returned (see [`RawCall`]).
    ///
    /// # Safety
    /// As [`CompiledSignature::call_native`], with `args` pointing to exactly as many
    /// pointers as the signature has parameters (nothing checks the count).
    #[inline(always)]
    pub unsafe fn call(&self, target: Pointer, args: *const *const u8, ret: *mut u8) {
        match self.entry {
            // SAFETY: the caller guarantees the contract of `call_native`, whose fast path
            // this is: the thunk reads exactly each parameter's bytes through its pointer
            // and writes exactly the result's bytes (or the target does).
            RawEntry::Tail(thunk) | RawEntry::Pointers(thunk) => unsafe {
                thunk(target.as_ptr(), args.cast_mut().cast(), ret)
            },
            // SAFETY: as above.
            RawEntry::Errno(thunk) => unsafe { self.call_capturing(thunk, target, args, ret) },
            // SAFETY: as above.
            RawEntry::Block => unsafe { self.call_via_block(target, args, ret) },
        }
    }

    /// # Safety
    /// As [`RawCall::call`], with `thunk` this signature's errno thunk.
    #[inline]
    unsafe fn call_capturing(
        &self,
        thunk: ThunkFn,
        target: Pointer,
        args: *const *const u8,
        ret: *mut u8,
    ) {
        // SAFETY: an errno thunk's code is entered with the `ErrnoThunkFn` convention;
        // the slot is this thread's errno slot, which outlives the call, and the thunk
        // reads and writes only its words, on this thread. The rest as in `call`.
        unsafe {
            let thunk = std::mem::transmute::<ThunkFn, ErrnoThunkFn>(thunk);
            thunk(target.as_ptr(), args.cast_mut().cast(), ret, crate::errno::slot())
        }
    }

    /// # Safety
    /// As [`RawCall::call`].
    #[inline(never)]
    unsafe fn call_via_block(&self, target: Pointer, args: *const *const u8, ret: *mut u8) {
        let count = self.sig.inner.sig.params.len();
        // SAFETY: the caller guarantees `count` pointers at `args`.
        let args = unsafe { std::slice::from_raw_parts(args, count) };
        // SAFETY: forwarded from the caller.
        if let Err(error) = unsafe { self.sig.call_native_via_block(target, args, ret) } {
            // A callback's error, which this path's own guard caught (the code is sealed,
            // so nothing else fails): on to the next reporting call out, as for the
            // other entries.
            crate::callback::raise(error);
        }
    }
}

/// A Rust type that a [`DirectCall`] returns: the Rust image of the signature's result
/// type, which the host's C convention returns in the same registers.
///
/// jitcall implements it for the primitives, each standing for exactly its C type (`i32`
/// for `:int32`, `u8` for `:uint8` and `:bool`, `*mut c_void` for `:ptr` and `:string`,
/// `()` for `:void`; `:long`, `:size` and the like are these primitives already).
///
/// # Safety
/// An implementation for another type must accept only result types whose C type is
/// that Rust type: a `#[repr(C)]` struct or union with the same members in the same
/// order (so the same size, alignment and classification). The host's convention then
/// returns both alike; a type that accepts something else makes a `DirectCall` read
/// registers the callee never set.
pub unsafe trait DirectResult: Copy {
    /// Whether `ty` is this type's C type.
    fn accepts(ty: &Type) -> bool;
}

macro_rules! direct_results {
    ($($t:ty => $($prim:ident)|+;)*) => {
        $(
            // SAFETY: each primitive stands for exactly the C types listed.
            unsafe impl DirectResult for $t {
                fn accepts(ty: &Type) -> bool {
                    matches!(ty, $(Type::Prim(Prim::$prim))|+)
                }
            }
        )*
    };
}

direct_results! {
    () => Void;
    i8 => I8;
    u8 => U8 | Bool;
    i16 => I16;
    u16 => U16;
    i32 => I32;
    u32 => U32;
    i64 => I64;
    u64 => U64;
    f32 => F32;
    f64 => F64;
    *mut c_void => Ptr | String;
}

/// A tail thunk for one signature of the host's convention whose arguments all go in
/// registers and whose result `R` comes back in registers: a call is the caller's indirect call
/// into the thunk, a load per argument, and a jump to the target, which returns `R`
/// straight to the caller. The fastest entry jitcall has; the same contract as
/// [`RawCall`] otherwise (no count check, callback errors not returned). Made by
/// [`CompiledSignature::direct_call`].
#[derive(Debug)]
pub struct DirectCall<R> {
    entry: unsafe extern "C" fn(*const c_void, *const *const u8) -> R,
    /// Keeps the thunk mapped (the signature owns it).
    _sig: CompiledSignature,
}

impl<R: DirectResult> DirectCall<R> {
    /// Calls `target` with the arguments whose images `args` points to (one pointer per
    /// parameter) and returns its result.
    ///
    /// # Safety
    /// As [`RawCall::call`] (there is no result memory: the result is returned).
    #[inline(always)]
    pub unsafe fn call(&self, target: Pointer, args: *const *const u8) -> R {
        // SAFETY: the caller guarantees the contract of `call_native`; the thunk reads
        // exactly each parameter's bytes through its pointer, and the target returns an
        // `R` (checked when this was made).
        unsafe { (self.entry)(target.as_ptr(), args) }
    }
}
