//! The per-thread `errno` slot that capturing thunks write (see [`crate::Errno`]).
//!
//! A signature made with [`crate::Errno::Capture`] compiles a thunk that, right after the
//! callee returns and before any other code runs, copies the C library's `errno` (and on
//! Windows the thread's last error, `GetLastError()`) into the calling thread's slot.
//! Rust code may then allocate, convert and print as it likes: the slot keeps what the
//! callee left until the next capturing call on this thread. [`errno`] and [`last_error`]
//! read it; [`set_errno`] and [`set_last_error`] write it, for signatures made with
//! [`crate::Errno::SetAndCapture`], whose thunks set the C library's `errno` from the slot
//! before the call (as ctypes' `use_errno` does).

use std::cell::UnsafeCell;
use std::ffi::c_int;

use crate::arch::{errno_slot, ErrnoAccess};

/// The slot's layout, as [`errno_slot`] describes it to the thunk generators.
#[repr(C)]
struct Slot {
    errno: c_int,
    last_error: u32,
    /// This thread's C `errno`, as the C library's accessor gives it (null until the
    /// first capturing call on the thread asks for the slot).
    location: *mut c_int,
}

const _: () = assert!(std::mem::size_of::<Slot>() == errno_slot::SIZE);
const _: () = assert!(std::mem::offset_of!(Slot, errno) == errno_slot::ERRNO as usize);
const _: () = assert!(std::mem::offset_of!(Slot, last_error) == errno_slot::LAST_ERROR as usize);
const _: () = assert!(std::mem::offset_of!(Slot, location) == errno_slot::LOCATION as usize);

thread_local! {
    /// This thread's slot. Only this thread touches it: its thunks (through the pointer
    /// [`slot`] gives, while the call runs on this thread) and the functions below.
    static SLOT: UnsafeCell<Slot> = const {
        UnsafeCell::new(Slot { errno: 0, last_error: 0, location: std::ptr::null_mut() })
    };
}

/// The address of this thread's slot, for a capturing thunk running on this thread, with
/// the thread's `errno` address in it.
#[inline]
pub(crate) fn slot() -> *mut u8 {
    SLOT.with(|slot| {
        let slot = slot.get();
        // SAFETY: the slot belongs to this thread. A thunk may be running on it further
        // out (this call is nested in a callback), but thunks touch the slot only right
        // before and after their own target runs, never while this code does.
        unsafe {
            if cfg!(windows) || (*slot).location.is_null() {
                (*slot).location = errno_location();
            }
        }
        slot.cast()
    })
}

/// The calling thread's C `errno` address. Off Windows it stays the same for the
/// thread's life (the C libraries keep `errno` in thread-local storage), so it is asked
/// for once per thread. Windows' C runtime keeps it in per-fiber data, which a thread that
/// switches fibers changes and which is freed with its fiber: there it is asked for at
/// every capturing call.
#[cfg_attr(not(windows), cold)]
fn errno_location() -> *mut c_int {
    // SAFETY: the accessor takes nothing and returns the calling thread's `errno`.
    unsafe { accessor()() }
}

/// `errno` as the last capturing call on this thread left it (0 before any).
pub fn errno() -> i32 {
    // SAFETY: the slot belongs to this thread, and no thunk is running on it now (a thunk
    // runs inside a call, which does not return to Rust code until it is done).
    SLOT.with(|slot| unsafe { (*slot.get()).errno })
}

/// Sets this thread's slot, which a [`crate::Errno::SetAndCapture`] call copies into the
/// C library's `errno` before calling.
pub fn set_errno(value: i32) {
    // SAFETY: as in `errno`.
    SLOT.with(|slot| unsafe { (*slot.get()).errno = value });
}

/// Windows: `GetLastError()` as the last capturing call on this thread left it. Always 0
/// on other systems.
pub fn last_error() -> u32 {
    // SAFETY: as in `errno`.
    SLOT.with(|slot| unsafe { (*slot.get()).last_error })
}

/// Windows: sets the last error that a [`crate::Errno::SetAndCapture`] call passes to the
/// callee (with `SetLastError`'s effect). Ignored by thunks on other systems.
pub fn set_last_error(value: u32) {
    // SAFETY: as in `errno`.
    SLOT.with(|slot| unsafe { (*slot.get()).last_error = value });
}

/// How this host's thunks handle `errno`.
pub(crate) fn access(set_before: bool) -> ErrnoAccess {
    ErrnoAccess { windows: cfg!(windows), set_before }
}

/// The C library's own `errno` accessor, per OS.
fn accessor() -> unsafe extern "C" fn() -> *mut c_int {
    cfg_if::cfg_if! {
        if #[cfg(windows)] {
            extern "C" {
                fn _errno() -> *mut c_int;
            }
            _errno
        } else if #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))] {
            extern "C" {
                fn __error() -> *mut c_int;
            }
            __error
        } else if #[cfg(any(target_os = "android", target_os = "netbsd", target_os = "openbsd"))] {
            extern "C" {
                fn __errno() -> *mut c_int;
            }
            __errno
        } else {
            // glibc and musl.
            extern "C" {
                fn __errno_location() -> *mut c_int;
            }
            __errno_location
        }
    }
}
