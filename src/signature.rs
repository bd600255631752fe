//! Calling conventions and function signatures.

use std::fmt;

use crate::error::{Error, Result};
use crate::types::Type;

/// A calling convention, named as Janet names it (`:sysv64`, `:win64`, `:aapcs64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Abi {
    /// x86-64 System V (Linux, macOS, BSD).
    SysV64,
    /// x86-64 Windows (MSVC and MinGW).
    Win64,
    /// AArch64 AAPCS64 (Linux and BSD rules).
    Aapcs64,
}

impl Abi {
    pub const ALL: [Abi; 3] = [Abi::SysV64, Abi::Win64, Abi::Aapcs64];

    /// The convention of the host C compiler (Janet's `:default`), if jitcall has one.
    pub fn host() -> Option<Abi> {
        cfg_if::cfg_if! {
            if #[cfg(all(target_arch = "x86_64", windows))] {
                Some(Abi::Win64)
            } else if #[cfg(target_arch = "x86_64")] {
                Some(Abi::SysV64)
            } else if #[cfg(all(target_arch = "aarch64", not(windows)))] {
                Some(Abi::Aapcs64)
            } else {
                None
            }
        }
    }

    /// The convention a Janet name stands for (without the colon); `default` is the host's.
    ///
    /// # Errors
    /// "unknown calling convention NAME", as Janet says.
    pub fn from_name(name: &str) -> Result<Abi> {
        match name {
            "sysv64" => Ok(Abi::SysV64),
            "win64" => Ok(Abi::Win64),
            "aapcs64" => Ok(Abi::Aapcs64),
            "default" => Abi::host().ok_or_else(|| {
                Error::Abi("calling convention not supported: this host has no default".into())
            }),
            _ => Err(Error::Abi(format!("unknown calling convention {name}"))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Abi::SysV64 => "sysv64",
            Abi::Win64 => "win64",
            Abi::Aapcs64 => "aapcs64",
        }
    }
}

impl fmt::Display for Abi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, ":{}", self.name())
    }
}

/// A C function type under a calling convention.
///
/// `params` holds every argument of a call: the fixed parameters first, then, for a
/// variadic function, the types of *this call's* variadic arguments, which start at
/// index `fixed` (`Some(n)`: `n` fixed parameters, then `...`). Each distinct variadic
/// list is its own signature, compiled and cached like any other. A convention places the
/// variadic part by its own rules (see [`Signature::is_variadic_arg`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Signature {
    pub abi: Abi,
    pub ret: Type,
    pub params: Vec<Type>,
    /// `Some(n)`: a variadic function with `n` fixed parameters; `None`: not variadic.
    pub fixed: Option<usize>,
    /// Whether the call's thunk captures the callee's `errno` (see [`Errno`]).
    pub errno: Errno,
}

/// What a thunk does with the C library's `errno` (and, on Windows, `GetLastError()`).
///
/// Capture happens *inside the thunk*: right after the callee returns and before any
/// other code runs, the thunk stores `errno` into the calling thread's slot, which
/// [`crate::ffi::errno`] reads. Signatures with [`Errno::Ignore`] pay nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Errno {
    /// The thunk does not touch `errno`.
    #[default]
    Ignore,
    /// After the call, `errno` (and on Windows the last error) goes to the thread's slot.
    Capture,
    /// As `Capture`, and before the call `errno` (and the last error) is set from the
    /// slot, as ctypes' `use_errno` does: see [`crate::ffi::set_errno`].
    SetAndCapture,
}

impl Signature {
    pub fn new(abi: Abi, ret: Type, params: Vec<Type>) -> Signature {
        Signature { abi, ret, params, fixed: None, errno: Errno::Ignore }
    }

    /// A call of a variadic function: `fixed` parameters, then `...` with this call's
    /// `variadic` argument types (C's promoted types: `:double`, `:int` or wider, pointers,
    /// structs; the classifier refuses the others with the type to use instead).
    pub fn variadic(abi: Abi, ret: Type, fixed: Vec<Type>, variadic: Vec<Type>) -> Signature {
        let count = fixed.len();
        let mut params = fixed;
        params.extend(variadic);
        Signature { abi, ret, params, fixed: Some(count), errno: Errno::Ignore }
    }

    /// The same signature with another `errno` mode.
    pub fn with_errno(mut self, errno: Errno) -> Signature {
        self.errno = errno;
        self
    }

    pub fn is_variadic(&self) -> bool {
        self.fixed.is_some()
    }

    /// True when argument `i` is in the variadic part.
    pub fn is_variadic_arg(&self, i: usize) -> bool {
        self.fixed.is_some_and(|n| i >= n)
    }

    /// The fixed parameters.
    pub fn fixed_params(&self) -> &[Type] {
        &self.params[..self.fixed.unwrap_or(self.params.len()).min(self.params.len())]
    }

    /// This call's variadic argument types (empty when not variadic).
    pub fn variadic_params(&self) -> &[Type] {
        &self.params[self.fixed_params().len()..]
    }
}

/// Checks what a callback (C calling jitcall) cannot have: a variadic signature (the
/// callee would have to walk C's `va_list`, which a closure of fixed types cannot).
///
/// # Errors
/// A variadic signature.
pub(crate) fn check_callback(sig: &Signature) -> Result<()> {
    match sig.fixed {
        Some(fixed) => Err(Error::Abi(format!(
            "a callback cannot be variadic: C would call it with `...` after {fixed} fixed \
             parameters; give the callback a fixed signature (or take a va_list as :ptr)"
        ))),
        None => Ok(()),
    }
}
