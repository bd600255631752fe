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
        Callback::with_body(sig, ClosureBody::Values(Box::new(func)))
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
        Callback::with_body(sig, ClosureBody::Native(Box::new(func)))
    }

    fn with_body(sig: Signature, body: ClosureBody) -> Result<Callback> {
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
        // Every page has a handler for each convention that runs on the host.
        let &(_, handler) = slot
            .page
            .handlers
            .iter()
            .find(|(abi, _)| *abi == closure.sig.abi)
            .expect("a trampoline page has a handler for every host convention");
        slot.publish(handler, dispatch::dispatch as *const () as usize, closure);
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
