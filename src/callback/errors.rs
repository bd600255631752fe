//! Errors raised inside callbacks: kept for the call that is running on the thread (the
//! call path marks its calls with [`CallGuard`]), or printed when there is none.

use std::cell::{Cell, RefCell};
use std::panic::catch_unwind;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};

// Everything here may run on a thread that is exiting, from a pthread key destructor after
// Rust's thread-locals were destroyed: `CALL_DEPTH` and `HAS_PENDING` need no destructor
// (so they are always accessible), and `PENDING` is only reached through `try_with`.
thread_local! {
    /// How many jitcall calls are running on this thread (a callback's error goes to the
    /// innermost one).
    static CALL_DEPTH: Cell<usize> = const { Cell::new(0) };
    /// Whether `PENDING` holds an error: the one thing every call checks.
    static HAS_PENDING: Cell<bool> = const { Cell::new(false) };
    /// The first error a callback raised, with the call depth it was raised at.
    static PENDING: RefCell<Option<(usize, Error)>> = const { RefCell::new(None) };
}

/// Set once the process has a callback: until then no call can see a callback's error,
/// and calls skip the bookkeeping.
pub(super) static CALLBACKS_EXIST: AtomicBool = AtomicBool::new(false);

/// Marks a foreign call as running on this thread, for as long as it lives.
pub(crate) struct CallGuard {
    /// 0 when no callback existed as the call began.
    depth: usize,
}

impl CallGuard {
    #[inline]
    pub(crate) fn enter() -> CallGuard {
        if !CALLBACKS_EXIST.load(Ordering::Acquire) {
            return CallGuard { depth: 0 };
        }
        let depth = CALL_DEPTH.with(|d| d.get() + 1);
        CALL_DEPTH.with(|d| d.set(depth));
        CallGuard { depth }
    }

    /// The error a callback raised during this call (or a call nested in it), if any.
    #[inline]
    pub(crate) fn finish(self) -> Result<()> {
        if self.depth == 0 || !HAS_PENDING.with(Cell::get) {
            return Ok(());
        }
        let taken = PENDING.try_with(|p| {
            let mut pending = p.borrow_mut();
            match pending.take() {
                Some((depth, error)) if depth >= self.depth => {
                    HAS_PENDING.with(|h| h.set(false));
                    Err(error)
                }
                other => {
                    *pending = other; // an outer call's error: it waits for that call
                    Ok(())
                }
            }
        });
        // Gone only while the thread exits: `raise` printed the error then.
        taken.unwrap_or(Ok(()))
    }
}

impl Drop for CallGuard {
    #[inline]
    fn drop(&mut self) {
        if self.depth > 0 {
            CALL_DEPTH.with(|d| d.set(self.depth - 1));
        }
    }
}

/// Hands a callback's error to the innermost running call, or prints it when there is
/// none (or the thread's storage for it is already destroyed). Never panics.
pub(crate) fn raise(error: Error) {
    let depth = CALL_DEPTH.with(Cell::get);
    let mut error = Some(error);
    if depth > 0 {
        // Fails only on an exiting thread; the error is then printed below.
        let _ = PENDING.try_with(|p| {
            let mut pending = p.borrow_mut();
            let error = error.take();
            if pending.is_none() {
                *pending = error.map(|e| (depth, e));
                HAS_PENDING.with(|h| h.set(true));
            }
        });
    }
    match error {
        Some(error) if depth > 0 => report(&format!(
            "error in a callback on an exiting thread (the running call cannot return it): {error}"
        )),
        Some(error) => {
            report(&format!("error in a callback called outside any jitcall call: {error}"))
        }
        None => {}
    }
}

/// A message on stderr. `eprintln!` panics when stderr fails: that panic is dropped here,
/// since nothing may unwind into a callback's C caller.
pub(super) fn report(message: &str) {
    let _ = catch_unwind(|| eprintln!("jitcall: {message}"));
}
