//! Call native functions whose signatures are known only at run time.
//!
//! jitcall is for runtimes written in Rust (interpreters, scripting hosts, plugin loaders)
//! that learn a C function's signature while running: from a script, a config file, a
//! header parsed at run time. For each signature it classifies the types by the calling
//! convention's rules and emits a small machine-code thunk into W^X memory, cached per
//! signature. There is no libffi and no C code. Its surface follows Janet's `ffi/` module.
//!
//! # A first call
//!
//! ```
//! # #[cfg(not(windows))] fn main() -> jitcall::Result<()> {
//! use jitcall::{ffi, syntax, Abi, Value};
//!
//! // SAFETY: the running program, whose C library is already loaded.
//! let libc = unsafe { ffi::native(None)? };
//! let strlen = libc.lookup("strlen")?.expect("libc has strlen");
//! let size_t = ffi::native_type(&syntax::read(":size")?)?;
//! let string = ffi::native_type(&syntax::read(":string")?)?;
//! let sig = ffi::signature(Abi::host_default()?, size_t, vec![string])?;
//! // SAFETY: strlen takes a C string and returns size_t.
//! let n = unsafe { ffi::call(strlen, &sig, &[Value::string("hello")])? };
//! assert_eq!(n.to_string(), "5");
//! # Ok(()) }
//! # #[cfg(windows)] fn main() {}
//! ```
//!
//! # Three layers
//!
//! - **[`ffi`]**: Janet's `ffi/` functions under their Janet names: types from Janet
//!   syntax ([`ffi::native_type`]), [`ffi::signature`], [`ffi::call`], [`ffi::read`] /
//!   [`ffi::write`], [`ffi::callback`], [`ffi::trampoline`], [`ffi::jitfn`]. Arguments and
//!   results are dynamic [`Value`]s.
//! - **[`defbind!`]** with a [`context::Context`]: typed Rust methods bound to a library's
//!   symbols (`fn abs(x: i32) -> i32;`), calling with native images and no values at all.
//! - **The core types**, which both are made of: [`Type`] (with [`Prim`] and [`Member`]),
//!   [`Signature`] and [`Abi`], [`CompiledSignature`] (the thunk: [`call`] with values,
//!   [`call_native`] with images), [`Callback`] (a C function pointer running a closure),
//!   [`Native`] (a loaded library) and [`CallPlan`] (where every argument goes, for
//!   inspection: [`Signature::plan`]).
//!
//! [`call`]: CompiledSignature::call
//! [`call_native`]: CompiledSignature::call_native
//!
//! # The data path
//!
//! A call with values converts every argument to its native image first (any error is
//! returned before anything runs), lays the images out in an argument block, and enters
//! the thunk, which loads registers and stack slots from the block as the signature's
//! [`CallPlan`] says, calls the target, and stores the result registers into a result
//! block; the result image is then read back as a [`Value`]. [`call_native`] skips both
//! conversions: the caller's images go to the registers directly.
//!
//! ```text
//! Value --encode--> image --(block)--> thunk --> registers/stack --> C function
//! Value <--decode-- image <--(block)-- thunk <-- result registers <--'
//! ```
//!
//! A [`Callback`] runs the same path backwards: a pre-made trampoline saves the argument
//! registers and calls a dispatcher, which reads the arguments by the plan, runs the
//! closure and writes the result registers. Creating a callback writes no code.
//!
//! # Conventions by host
//!
//! | host | default ([`Abi::host`]) | callable ([`Abi::runs_on_host`]) |
//! |---|---|---|
//! | x86-64 Linux, BSD, macOS | [`Abi::SysV64`] | `SysV64`, `Win64` (as `ms_abi` code) |
//! | x86-64 Windows | [`Abi::Win64`] | `Win64`, `SysV64` |
//! | AArch64 Linux, BSD | [`Abi::Aapcs64`] | `Aapcs64`, `Aapcs64Apple`, `Aapcs64Win` |
//! | Apple arm64 | [`Abi::Aapcs64Apple`] | `Aapcs64`, `Aapcs64Apple`, `Aapcs64Win` |
//! | Windows on ARM64 | [`Abi::Aapcs64Win`] | `Aapcs64`, `Aapcs64Apple`, `Aapcs64Win` |
//!
//! Every convention can be planned on every host ([`Signature::plan`]): planning runs
//! nothing.
//!
//! # Safety model
//!
//! Describing types, building signatures, planning, compiling thunks, converting values
//! and making callbacks are safe. What can misuse a raw address is an `unsafe fn` whose
//! `# Safety` section says what must hold: calling a target ([`ffi::call`],
//! [`CompiledSignature::call`]), whose signature jitcall cannot check; opening a library
//! (its initialisers run); reading through a pointer ([`ffi::read_ptr`]); wrapping or
//! freeing foreign memory. A [`Pointer`] is only a number. Machine code lives in memory
//! that is never writable and executable at once, and callback trampolines are written
//! once, before they become executable.
//!
//! # Error model
//!
//! Every failure is an [`Error`] value, with Janet's message where Janet has one; bad
//! input never panics. A conversion error names its place: `bad slot #2 (argument 0,
//! [1]), expected 32 bit signed integer, got 1.5`. An error or panic inside a callback
//! never unwinds into C: the callback returns a zero result, and the call running on that
//! thread returns the error once the foreign function returns (with no such call, it is
//! printed on stderr). Inputs past the [`limits`] are errors too.
#![warn(
    missing_docs,
    missing_debug_implementations,
    unsafe_op_in_unsafe_fn,
    clippy::undocumented_unsafe_blocks
)]

mod callback;
mod classify;
pub mod context;
mod errno;
mod error;
pub mod ffi;
#[doc(hidden)]
pub mod internals;
pub mod ldouble;
mod library;
mod memory;
mod plan;
mod signature;
pub mod syntax;
mod thunk;
mod types;
mod value;

pub(crate) use internals::arch;

/// The README's example, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub use callback::{Callback, ImageFn};
pub use error::{Error, Limit, Path, Result};
pub use library::Native;
pub use plan::{ArgPlan, CallPlan, Extension, Location, Part, RetPlan};
pub use signature::{Abi, Errno, Signature};
pub use thunk::{CompiledSignature, DirectCall, DirectResult, RawCall};
pub use types::{ArrayType, Field, Member, Prim, StructType, Type, Wide};
pub use value::{Buffer, BufferGuard, Function, Pointer, Str, Value, ValueFn};

/// The limits jitcall enforces: inputs past them are errors, never crashes.
pub mod limits {
    pub use crate::arch::MAX_BY_VALUE_BYTES;
    pub use crate::callback::REUSE_DELAY;
    pub use crate::thunk::LOCAL_SLOTS;
    pub use crate::types::{MAX_DEPTH, MAX_SIZE};
    pub use crate::value::MAX_EMPTY_VALUES;
}
