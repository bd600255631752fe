//! A raw native address.

use std::ffi::c_void;
use std::fmt;

/// A raw native address. It is only a number: making or holding one is safe, and every
/// dereference goes through an `unsafe fn`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Pointer(usize);

impl Pointer {
    /// The NULL pointer.
    pub const NULL: Pointer = Pointer(0);

    /// The pointer to this address.
    pub fn from_addr(addr: usize) -> Pointer {
        Pointer(addr)
    }

    /// The address of a Rust pointer.
    pub fn from_ptr<T>(ptr: *const T) -> Pointer {
        Pointer(ptr as usize)
    }

    /// The address as a number.
    pub fn addr(self) -> usize {
        self.0
    }

    /// The address as a raw pointer (making it is safe; using it is not).
    pub fn as_ptr(self) -> *mut c_void {
        self.0 as *mut c_void
    }

    /// True for NULL.
    pub fn is_null(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Debug for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<pointer {:#x}>", self.0)
    }
}
