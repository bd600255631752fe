//! The storage handles of string and buffer values: [`Str`] (immutable, NUL-terminated)
//! and [`Buffer`] (mutable, shared, owned or over foreign memory).

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{Error, Result};

use super::Pointer;

/// Immutable bytes whose storage always ends in a hidden NUL, so that a pointer to them is
/// also a C string (as Janet's strings are). Cloning shares the storage.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Str(Arc<[u8]>);

impl Str {
    /// A string holding a copy of `bytes`.
    pub fn new(bytes: &[u8]) -> Str {
        let mut v = Vec::with_capacity(bytes.len() + 1);
        v.extend_from_slice(bytes);
        v.push(0);
        Str(v.into())
    }

    /// The bytes, without the hidden NUL.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0[..self.0.len() - 1]
    }

    /// The address of the first byte; it stays valid while any clone of this `Str` lives.
    pub fn as_ptr(&self) -> *const u8 {
        self.0.as_ptr()
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

impl From<&str> for Str {
    fn from(s: &str) -> Str {
        Str::new(s.as_bytes())
    }
}

/// A mutable byte buffer shared by reference (clones see the same bytes).
///
/// It either owns growable storage, or is a window over foreign memory of a fixed capacity
/// (see [`crate::ffi::pointer_buffer`]): growing that past its capacity is an error, and
/// dropping it never frees the memory.
#[derive(Clone)]
pub struct Buffer(Arc<Mutex<Storage>>);

enum Storage {
    Owned(Vec<u8>),
    /// `cap` bytes at `addr`, of which the first `len` are the buffer's contents.
    Foreign {
        addr: usize,
        len: usize,
        cap: usize,
    },
}

/// Exclusive access to a buffer's bytes, for as long as it is held.
#[allow(missing_debug_implementations)]
pub struct BufferGuard<'a>(MutexGuard<'a, Storage>);

impl Buffer {
    /// An empty owned buffer with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Buffer {
        Buffer::from_vec(Vec::with_capacity(capacity))
    }

    /// An owned buffer holding `bytes`.
    pub fn from_vec(bytes: Vec<u8>) -> Buffer {
        Buffer(Arc::new(Mutex::new(Storage::Owned(bytes))))
    }

    /// A buffer over `capacity` bytes of foreign memory at `ptr`, the first `len` of which
    /// are its contents.
    ///
    /// # Safety
    /// `ptr` must be valid for reads and writes of `capacity` bytes for as long as this
    /// buffer or any clone of it lives, and nothing else may write those bytes meanwhile
    /// except through pointers handed to native code by this buffer.
    pub(crate) unsafe fn foreign(ptr: *mut u8, len: usize, capacity: usize) -> Buffer {
        let storage = Storage::Foreign { addr: ptr as usize, len, cap: capacity };
        Buffer(Arc::new(Mutex::new(storage)))
    }

    /// Locks the buffer. Do not hold the guard while native code that may touch the
    /// buffer through a pointer runs.
    pub fn lock(&self) -> BufferGuard<'_> {
        BufferGuard(self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// A copy of the contents.
    pub fn to_vec(&self) -> Vec<u8> {
        self.lock().as_slice().to_vec()
    }

    /// The length of the contents.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when the buffer has no contents.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The address of the contents, as passed to native code for a `:ptr` argument. It
    /// changes when an owned buffer grows.
    pub fn data_ptr(&self) -> Pointer {
        self.lock().data_ptr()
    }

    /// True when both handles share the same storage.
    pub fn same_as(&self, other: &Buffer) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl BufferGuard<'_> {
    /// The length of the contents.
    pub fn len(&self) -> usize {
        match &*self.0 {
            Storage::Owned(v) => v.len(),
            Storage::Foreign { len, .. } => *len,
        }
    }

    /// True when there are no contents.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn data_ptr(&self) -> Pointer {
        match &*self.0 {
            Storage::Owned(v) => Pointer::from_ptr(v.as_ptr()),
            Storage::Foreign { addr, .. } => Pointer::from_addr(*addr),
        }
    }

    /// The contents.
    pub fn as_slice(&self) -> &[u8] {
        match &*self.0 {
            Storage::Owned(v) => v,
            // SAFETY: `Buffer::foreign`'s contract keeps `cap >= len` bytes at `addr`
            // valid while the buffer lives, and the lock gives us exclusive access.
            Storage::Foreign { addr, len, .. } => unsafe {
                std::slice::from_raw_parts(*addr as *const u8, *len)
            },
        }
    }

    /// The contents, to change in place (the length stays; see [`BufferGuard::resize`]).
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        match &mut *self.0 {
            Storage::Owned(v) => v,
            // SAFETY: as in `as_slice`; `&mut self` makes this the only access.
            Storage::Foreign { addr, len, .. } => unsafe {
                std::slice::from_raw_parts_mut(*addr as *mut u8, *len)
            },
        }
    }

    /// Sets the length, filling new bytes with zeros.
    ///
    /// # Errors
    /// A foreign buffer cannot grow past its capacity; an owned one past what the
    /// allocator gives.
    pub fn resize(&mut self, new_len: usize) -> Result<()> {
        match &mut *self.0 {
            Storage::Owned(v) => {
                // Asked for first, so that a size the allocator refuses is an error.
                let more = new_len.saturating_sub(v.len());
                v.try_reserve(more).map_err(|_| {
                    Error::Memory(format!("out of memory growing a buffer to {new_len} bytes"))
                })?;
                v.resize(new_len, 0);
            }
            Storage::Foreign { addr, len, cap } => {
                if new_len > *cap {
                    return Err(Error::Memory("buffer cannot reallocate foreign memory".into()));
                }
                if new_len > *len {
                    // SAFETY: `new_len <= cap`, and `Buffer::foreign`'s contract keeps
                    // `cap` bytes at `addr` writable.
                    unsafe { std::ptr::write_bytes((*addr + *len) as *mut u8, 0, new_len - *len) };
                }
                *len = new_len;
            }
        }
        Ok(())
    }
}
