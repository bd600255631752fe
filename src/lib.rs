//! jitcall: call native functions whose signatures are known only at run time.
//!
//! For every signature jitcall classifies the argument types by the calling convention's
//! rules and (with the call engine) emits a machine-code thunk; there is no libffi and no C
//! code. The surface follows Janet's `ffi/` module: see [`ffi`].
#![warn(
    missing_docs,
    missing_debug_implementations,
    unsafe_op_in_unsafe_fn,
    clippy::undocumented_unsafe_blocks
)]

mod callback;
mod classify;
pub mod context;
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
pub use error::{Error, Path, Result};
pub use library::Native;
pub use plan::{ArgPlan, CallPlan, Extension, Location, Part, RetPlan};
pub use signature::{Abi, Signature};
pub use thunk::CompiledSignature;
pub use types::{ArrayType, Field, Member, Prim, StructType, Type};
pub use value::{Buffer, BufferGuard, Function, Pointer, Str, Value, ValueFn};

/// The limits jitcall enforces: inputs past them are errors, never crashes.
pub mod limits {
    pub use crate::arch::MAX_BY_VALUE_BYTES;
    pub use crate::callback::REUSE_DELAY;
    pub use crate::types::{MAX_DEPTH, MAX_SIZE};
    pub use crate::value::MAX_EMPTY_VALUES;
}
