//! C-callable closures, and Janet's fixed `(ctx, userdata)` trampoline.
//!
//! A [`Callback`] is a C function pointer that runs a Rust closure. Its parts:
//! - `pool`: the trampoline page pairs and their data slots (and a callback's lifetime),
//! - `dispatch`: the dispatcher every trampoline calls, which reads the arguments by the
//!   signature's plan, runs the closure and writes the result,
//! - `closure`: what a slot points at (the signature, its plan and the closure),
//! - `errors`: how a callback's error reaches the running call (the call path uses it too),
//! - `janet`: Janet's `ffi/trampoline`, which calls a [`Function`](crate::Function) (a value).
//!
//! Errors and panics never unwind into foreign frames: the callback returns a zero
//! result to its C caller and keeps the error; the `call` that is running on this thread
//! returns it once the foreign function returns. With no such call (a thread that C
//! started), the error is printed on stderr.

mod closure;
mod dispatch;
mod errors;
mod janet;
mod pool;

use std::fmt;
use std::sync::atomic::Ordering;

use crate::error::{Error, Result};
use crate::signature::Signature;
use crate::value::{self, Pointer, Value};

use closure::{Closure, ClosureBody, Shape};
use errors::CALLBACKS_EXIST;
use pool::Slot;

pub use closure::ImageFn;
pub(crate) use errors::{raise, CallGuard};
pub use janet::trampoline;
pub use pool::{trampoline_pages, REUSE_DELAY};

/// A C function pointer that runs a Rust closure: valid while this value lives.
///
/// ```
/// # fn main() -> jitcall::Result<()> {
/// use jitcall::{ffi, syntax, Abi, Callback, Signature, Value};
///
/// let Ok(abi) = Abi::host_default() else { return Ok(()) };
/// let int = ffi::native_type(&syntax::read(":int")?)?;
/// let sig = Signature::new(abi, int.clone(), vec![int.clone()]);
/// let double = Callback::new(sig, |args| match args {
///     [Value::Number(n)] => Ok(Value::Number(2.0 * n)),
///     _ => Err(jitcall::Error::Callback("expected one number".into())),
/// })?;
/// // Called here through jitcall itself; C code would call `double.code_ptr()` the same way.
/// let call = ffi::signature(abi, int.clone(), vec![int])?;
/// // SAFETY: the pointer is a live callback of exactly this signature.
/// let got = unsafe { ffi::call(double.code_ptr(), &call, &[Value::Number(21.0)])? };
/// assert_eq!(got, Value::Number(42.0));
/// # Ok(()) }
/// ```
pub struct Callback {
    /// Live while this value exists (it owns the closure until this value retires it).
    slot: Slot,
}

impl Callback {
    /// A C-callable function with signature `sig` that runs `func`. No code is written:
    /// a free trampoline slot is pointed at the closure.
    ///
    /// # Errors
    /// A convention this host cannot run, a signature it cannot express, or no memory.
    pub fn new(
        sig: Signature,
        func: impl Fn(&[Value]) -> Result<Value> + Send + Sync + 'static,
    ) -> Result<Callback> {
        Callback::with_body(sig, ClosureBody::Values(Box::new(func)), Dispatch::Counted)
    }

    /// A C-callable function with signature `sig` that runs `func` over native images
    /// (see [`ImageFn`]): no values are made, so this is the fast form for
    /// callers that hold native data. No code is written.
    ///
    /// # Errors
    /// As [`Callback::new`].
    pub fn new_native(
        sig: Signature,
        func: impl Fn(&[*const u8], *mut u8) -> Result<()> + Send + Sync + 'static,
    ) -> Result<Callback> {
        Callback::with_body(sig, ClosureBody::Native(Box::new(func)), Dispatch::Counted)
    }

    /// As [`Callback::new`], for a callback that is kept for the rest of the process: only
    /// its address is returned, and it is never freed.
    ///
    /// Its calls skip the count of running calls that lets a `Callback` be dropped while
    /// it runs (two atomic read-modify-writes per call, most of a native callback's cost).
    /// This is the form for callbacks a runtime makes once and keeps (handlers registered
    /// with a C library for good, a language's fixed trampolines); use [`Callback::new`]
    /// for any callback that is dropped again. Each one keeps its closure and one
    /// trampoline slot (a few dozen bytes) forever: make a bounded number of them.
    ///
    /// # Errors
    /// As [`Callback::new`].
    pub fn new_permanent(
        sig: Signature,
        func: impl Fn(&[Value]) -> Result<Value> + Send + Sync + 'static,
    ) -> Result<Pointer> {
        Callback::with_body(sig, ClosureBody::Values(Box::new(func)), Dispatch::Permanent)
            .map(Callback::keep)
    }

    /// As [`Callback::new_native`], kept for the rest of the process (see
    /// [`Callback::new_permanent`]): the fastest callback.
    ///
    /// # Errors
    /// As [`Callback::new`].
    pub fn new_native_permanent(
        sig: Signature,
        func: impl Fn(&[*const u8], *mut u8) -> Result<()> + Send + Sync + 'static,
    ) -> Result<Pointer> {
        Callback::with_body(sig, ClosureBody::Native(Box::new(func)), Dispatch::Permanent)
            .map(Callback::keep)
    }

    /// Never drops the callback (its slot is never retired): its address stays its own.
    fn keep(self) -> Pointer {
        let ptr = self.code_ptr();
        std::mem::forget(self);
        ptr
    }

    fn with_body(sig: Signature, body: ClosureBody, dispatch: Dispatch) -> Result<Callback> {
        crate::signature::check_callback(&sig)?;
        if !sig.abi.runs_on_host() {
            return Err(Error::UnsupportedHost {
                convention: Some(sig.abi.name()),
                message: format!("calling convention {} cannot run on this host", sig.abi),
            });
        }
        let shape = Shape::of(sig)?;
        if matches!(body, ClosureBody::Values(_)) {
            // The closure gets its arguments as values and gives its result as one: refuse
            // now what could not be read when C calls (arrays of countless empty parts).
            for ty in shape.sig.params.iter().chain([&shape.sig.ret]) {
                value::check_decodable(ty)?;
            }
        }
        let closure = Box::new(Closure { shape, body });
        let slot = Slot::claim()?;
        // From now on, calls keep track of errors raised in callbacks. (A call already
        // running cannot reach this callback: its pointer did not exist when it began.)
        CALLBACKS_EXIST.store(true, Ordering::Release);
        // Every page has a handler of each kind for each convention that runs on the host.
        let &(_, _, handler) = slot
            .page
            .handlers
            .iter()
            .find(|&&(abi, kind, _)| abi == closure.sig.abi && kind == closure.handler)
            .expect("a trampoline page has a handler for every host convention");
        // A permanent dispatcher only for a callback that is never dropped (`keep` forgets
        // it at once): it relies on the closure never being freed.
        let dispatcher = match (&closure.body, dispatch) {
            (ClosureBody::Native(_), Dispatch::Counted) => {
                dispatch::dispatch_native::<false> as *const ()
            }
            (ClosureBody::Native(_), Dispatch::Permanent) => {
                dispatch::dispatch_native::<true> as *const ()
            }
            (ClosureBody::Values(_), Dispatch::Counted) => {
                dispatch::dispatch_values::<false> as *const ()
            }
            (ClosureBody::Values(_), Dispatch::Permanent) => {
                dispatch::dispatch_values::<true> as *const ()
            }
        };
        slot.publish(handler, dispatcher as usize, closure);
        Ok(Callback { slot })
    }

    /// The address C code calls. It is valid while this `Callback` lives.
    ///
    /// A `Callback` dropped while calls run (by its own closure, or on another thread)
    /// stays alive until the last of them returns. Calling the address after the drop
    /// runs no closure: the C caller gets a zero result (nothing is written to memory a
    /// large result would go to) and the error "a callback was called after it was
    /// dropped" goes to the running `call`, or to stderr. This holds until the slot is
    /// reused, which is after at least [`REUSE_DELAY`] more callbacks were dropped; after
    /// that the address is another callback's and a stale call is that callback's call
    /// (undetectable: the address is all C passes, and code is never rewritten).
    pub fn code_ptr(&self) -> Pointer {
        self.slot.code_ptr()
    }

    /// The signature C calls this callback with.
    pub fn signature(&self) -> &Signature {
        // SAFETY: the slot is live while `self` exists (only `drop` retires it), and the
        // reference lives no longer than `self`.
        &unsafe { self.slot.closure() }.sig
    }
}

/// Which dispatcher a callback's slot calls.
enum Dispatch {
    /// Counts each call, so that the callback can be dropped while calls run.
    Counted,
    /// Counts nothing: the callback is never dropped.
    Permanent,
}

impl Drop for Callback {
    fn drop(&mut self) {
        self.slot.retire();
    }
}

impl fmt::Debug for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Callback({:?} at {:?})", self.signature(), self.code_ptr())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::signature::Abi;
    use crate::types::{Prim, Type};
    use crate::Error;

    fn int_int(abi: Abi) -> Signature {
        Signature::new(abi, Type::Prim(Prim::I32), vec![Type::Prim(Prim::I32)])
    }

    /// Calls an `int(int)` callback in the host's C convention as a jitcall call does (so
    /// that a callback's error comes back).
    fn call(ptr: Pointer, n: i32) -> Result<i32> {
        // SAFETY: every pointer given here is a permanent `int(int)` callback in the host's
        // C convention.
        let f = unsafe { std::mem::transmute::<usize, extern "C" fn(i32) -> i32>(ptr.addr()) };
        let guard = CallGuard::enter();
        let got = f(n);
        guard.finish().map(|()| got)
    }

    #[test]
    fn permanent_callbacks_run_their_closures_on_any_thread_and_keep_them() {
        let Ok(abi) = Abi::host_default() else { return };
        let kept = Arc::new(());
        let held = kept.clone();
        let native = Callback::new_native_permanent(int_int(abi), move |args, ret| {
            let _ = &held;
            // SAFETY: one int argument, room for an int result.
            unsafe {
                let n = args[0].cast::<i32>().read_unaligned();
                ret.cast::<i32>().write_unaligned(-n);
            }
            Ok(())
        })
        .unwrap();
        let held = kept.clone();
        let values = Callback::new_permanent(int_int(abi), move |args| {
            let _ = &held;
            match args {
                [Value::Number(n)] => Ok(Value::Number(n * 3.0)),
                _ => Err(Error::Callback("expected one number".into())),
            }
        })
        .unwrap();
        assert_ne!(native, values);
        let threads: Vec<_> = (0..4)
            .map(|t| {
                std::thread::spawn(move || {
                    for n in 0..200 {
                        let n = 1000 * t + n;
                        assert_eq!(call(native, n).unwrap(), -n);
                        assert_eq!(call(values, n).unwrap(), 3 * n);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // The closures are never dropped: both still hold their captures.
        assert_eq!(Arc::strong_count(&kept), 3);
    }

    #[test]
    fn a_permanent_callbacks_error_reaches_the_call_and_its_caller_gets_zero() {
        let Ok(abi) = Abi::host_default() else { return };
        let failing = Callback::new_native_permanent(int_int(abi), |_, ret| {
            // SAFETY: room for an int result: written, then the error must zero it.
            unsafe { ret.cast::<i32>().write_unaligned(77) };
            Err(Error::Callback("permanent failure".into()))
        })
        .unwrap();
        let err = call(failing, 1).unwrap_err();
        assert!(err.to_string().contains("permanent failure"), "{err}");
        let panicking =
            Callback::new_permanent(int_int(abi), |_| panic!("permanent panic")).unwrap();
        let err = call(panicking, 1).unwrap_err();
        assert!(err.to_string().contains("permanent panic"), "{err}");
        // The C caller got a zero result (the closure's 77 was cleared).
        // SAFETY: an `int(int)` callback in the host's C convention.
        let f = unsafe { std::mem::transmute::<usize, extern "C" fn(i32) -> i32>(failing.addr()) };
        let guard = CallGuard::enter();
        assert_eq!(f(5), 0);
        assert!(guard.finish().is_err());
    }

    #[test]
    fn a_permanent_callback_is_refused_what_a_callback_is_refused() {
        let Ok(abi) = Abi::host_default() else { return };
        let bad = Signature::new(abi, Type::Prim(Prim::I32), vec![Type::Prim(Prim::Void)]);
        assert!(Callback::new_native_permanent(bad.clone(), |_, _| Ok(())).is_err());
        assert!(Callback::new_permanent(bad, |_| Ok(Value::Nil)).is_err());
    }
}
