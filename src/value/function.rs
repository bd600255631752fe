//! Functions as values: a closure that native code receives as userdata.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use super::{Pointer, Value};
use crate::error::Result;

/// A Rust closure over values, as a [`Function`] or a [`Callback`](crate::Callback) made by
/// `Callback::new` runs it: dynamic values in, a dynamic value out.
pub type ValueFn = dyn Fn(&[Value]) -> Result<Value> + Send + Sync;

/// A callable value: a closure that a runtime hands to native code as userdata (Janet's
/// `ffi/trampoline` pattern). As a `:ptr` it converts to a handle that finds it while the
/// `Function` or any clone of it lives; unlike Janet, nothing is rooted forever.
#[derive(Clone)]
pub struct Function(Arc<FunctionInner>);

struct FunctionInner {
    /// The userdata handle: unique for the life of the process, never reused (so stale
    /// userdata never finds a later function, as a reused address would).
    handle: usize,
    func: Box<ValueFn>,
}

/// Handles have the top bit set, so they are never addresses that user-space C code
/// could pass by mistake (that half of the address space is the kernel's), and count up
/// from 1 in the other 63 bits (which no process exhausts).
const HANDLE_TAG: usize = 1 << (usize::BITS - 1);

fn next_handle() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    HANDLE_TAG | NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Live functions by handle, so that a trampoline can tell a live one from a stale one.
fn registry() -> std::sync::MutexGuard<'static, HashMap<usize, Weak<FunctionInner>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<usize, Weak<FunctionInner>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner())
}

impl Function {
    /// A function that runs `func`.
    pub fn new(func: impl Fn(&[Value]) -> Result<Value> + Send + Sync + 'static) -> Function {
        let inner = Arc::new(FunctionInner { handle: next_handle(), func: Box::new(func) });
        registry().insert(inner.handle, Arc::downgrade(&inner));
        Function(inner)
    }

    /// Calls the function.
    ///
    /// # Errors
    /// Whatever the function returns.
    pub fn call(&self, args: &[Value]) -> Result<Value> {
        (self.0.func)(args)
    }

    /// The handle native code receives for this function as a `:ptr`: opaque (not an
    /// address), unique to this function and never given to another.
    pub fn userdata(&self) -> Pointer {
        Pointer::from_addr(self.0.handle)
    }

    /// The live function with this userdata handle, if there is one.
    pub fn from_userdata(ptr: Pointer) -> Option<Function> {
        registry().get(&ptr.addr()).and_then(Weak::upgrade).map(Function)
    }

    /// True when both are the same function (clones of one `Function::new`).
    pub fn same_as(&self, other: &Function) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Drop for FunctionInner {
    fn drop(&mut self) {
        registry().remove(&self.handle);
    }
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<function {:#x}>", self.userdata().addr())
    }
}
