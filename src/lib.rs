//! jitcall: call native functions whose signatures are known only at run time.
//!
//! For every signature jitcall classifies the argument types by the calling convention's
//! rules and (with the call engine) emits a machine-code thunk; there is no libffi and no C
//! code. The surface follows Janet's `ffi/` module: see [`ffi`].
#![warn(missing_debug_implementations, unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

#[forbid(unsafe_code)]
#[path = "../arch/mod.rs"]
pub mod arch;

pub mod callback;
pub mod context;
pub mod errno;
pub mod error;
pub mod ffi;
pub mod ldouble;
pub mod library;
pub mod memory;
pub mod plan;
pub mod signature;
pub mod syntax;
pub mod thunk;
pub mod types;
pub mod value;
mod value_ext;

/// The README's example, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub use callback::{Callback, Function};
pub use error::{Error, Path, Result};
pub use library::Native;
pub use signature::{Abi, Errno, Signature};
pub use thunk::CompiledSignature;
pub use types::{Member, Prim, Type, Wide};
pub use value::{Buffer, Pointer, Str, Value};
