//! Calling conventions and function signatures.

use std::fmt;

use crate::error::{Error, Result};
use crate::types::Type;

/// A calling convention, named as Janet names it (`:sysv64`, `:win64`, `:aapcs64`), plus
/// AAPCS64's two platform flavours (`:aapcs64-apple`, `:aapcs64-win`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Abi {
    /// x86-64 System V (Linux, macOS, BSD).
    SysV64,
    /// x86-64 Windows (MSVC and MinGW).
    Win64,
    /// AArch64 AAPCS64 (Linux and BSD rules).
    Aapcs64,
    /// Apple arm64 (macOS, iOS): AAPCS64 with Apple's changes (stack arguments packed at
    /// their natural size, variadic arguments all on the stack, narrow integers extended to
    /// 32 bits by the caller, `long double` is `double`).
    Aapcs64Apple,
    /// Windows on ARM64: AAPCS64 with Microsoft's changes (variadic floating-point values and
    /// homogeneous aggregates in general registers, a variadic composite split between x7
    /// and the stack, `long` is 32 bits, `long double` is `double`).
    Aapcs64Win,
}

/// The default convention of a host named by `std::env::consts::{ARCH, OS}`, or why it
/// has none. A function of names (not of `cfg!`) so that every host's answer is tested
/// on any host.
fn convention_for(arch: &str, os: &str) -> std::result::Result<Abi, &'static str> {
    let apple = matches!(os, "macos" | "ios" | "tvos" | "watchos" | "visionos");
    match (arch, os) {
        ("x86_64", "windows") => Ok(Abi::Win64),
        ("x86_64", _) => Ok(Abi::SysV64),
        ("aarch64", "windows") => Ok(Abi::Aapcs64Win),
        ("aarch64", _) if apple => Ok(Abi::Aapcs64Apple),
        ("aarch64", _) => Ok(Abi::Aapcs64),
        _ => Err("calling convention not supported: this host has no default"),
    }
}

impl Abi {
    /// Every convention jitcall knows, in a fixed order.
    pub const ALL: [Abi; 5] =
        [Abi::SysV64, Abi::Win64, Abi::Aapcs64, Abi::Aapcs64Apple, Abi::Aapcs64Win];

    /// The convention of the host C compiler (Janet's `:default`), if jitcall has one:
    /// `:sysv64` on x86-64 Linux, macOS and the BSDs, `:win64` on x86-64 Windows, `:aapcs64`
    /// on AArch64 Linux and the BSDs, `:aapcs64-apple` on Apple arm64, `:aapcs64-win` on
    /// Windows on ARM64.
    pub fn host() -> Option<Abi> {
        convention_for(std::env::consts::ARCH, std::env::consts::OS).ok()
    }

    /// [`Abi::host`], or an error that says why this host has none.
    ///
    /// # Errors
    /// A host whose convention jitcall does not implement (32-bit hosts, other ISAs).
    pub fn host_default() -> Result<Abi> {
        convention_for(std::env::consts::ARCH, std::env::consts::OS)
            .map_err(|why| Error::UnsupportedHost { convention: None, message: why.into() })
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
            "aapcs64-apple" => Ok(Abi::Aapcs64Apple),
            "aapcs64-win" => Ok(Abi::Aapcs64Win),
            "default" => Abi::host_default(),
            _ => Err(Error::UnknownConvention(name.to_string())),
        }
    }

    /// The convention's name, as `--cc` takes it (`sysv64`, `win64`, `aapcs64`,
    /// `aapcs64-apple`, `aapcs64-win`).
    pub fn name(self) -> &'static str {
        match self {
            Abi::SysV64 => "sysv64",
            Abi::Win64 => "win64",
            Abi::Aapcs64 => "aapcs64",
            Abi::Aapcs64Apple => "aapcs64-apple",
            Abi::Aapcs64Win => "aapcs64-win",
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
    /// The calling convention.
    pub abi: Abi,
    /// The result type (`Type::VOID` for none).
    pub ret: Type,
    /// The parameter types, in order.
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
    /// A signature; nothing is checked until it is planned or compiled.
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

    /// True for a variadic function's signature (one with a `...`).
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
        Some(fixed) => Err(Error::unsupported(
            None,
            format!(
                "a callback cannot be variadic: C would call it with `...` after {fixed} fixed \
                 parameters; give the callback a fixed signature (or take a va_list as :ptr)"
            ),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_host_gets_its_own_convention_or_none() {
        assert_eq!(convention_for("x86_64", "linux"), Ok(Abi::SysV64));
        assert_eq!(convention_for("x86_64", "macos"), Ok(Abi::SysV64));
        assert_eq!(convention_for("x86_64", "freebsd"), Ok(Abi::SysV64));
        assert_eq!(convention_for("x86_64", "windows"), Ok(Abi::Win64));
        assert_eq!(convention_for("aarch64", "linux"), Ok(Abi::Aapcs64));
        assert_eq!(convention_for("aarch64", "freebsd"), Ok(Abi::Aapcs64));
        assert_eq!(convention_for("aarch64", "android"), Ok(Abi::Aapcs64));
        assert_eq!(convention_for("aarch64", "netbsd"), Ok(Abi::Aapcs64));
        assert_eq!(convention_for("aarch64", "openbsd"), Ok(Abi::Aapcs64));
        assert_eq!(convention_for("x86_64", "openbsd"), Ok(Abi::SysV64));
        for os in ["macos", "ios"] {
            assert_eq!(convention_for("aarch64", os), Ok(Abi::Aapcs64Apple));
        }
        assert_eq!(convention_for("aarch64", "windows"), Ok(Abi::Aapcs64Win));
        assert!(convention_for("x86", "linux").is_err());
    }

    #[test]
    fn every_convention_is_found_by_its_name() {
        for abi in Abi::ALL {
            assert_eq!(Abi::from_name(abi.name()).unwrap(), abi);
            assert_eq!(abi.to_string(), format!(":{}", abi.name()));
        }
        assert_eq!(Abi::Aapcs64Apple.to_string(), ":aapcs64-apple");
        assert_eq!(Abi::from_name("aapcs64-win").unwrap(), Abi::Aapcs64Win);
        assert!(Abi::from_name("aapcs64-linux").is_err());
    }

    #[test]
    fn this_host_agrees_with_its_compile_time_facts() {
        let expected = if cfg!(all(target_arch = "x86_64", windows)) {
            Some(Abi::Win64)
        } else if cfg!(target_arch = "x86_64") {
            Some(Abi::SysV64)
        } else if cfg!(all(target_arch = "aarch64", target_vendor = "apple")) {
            Some(Abi::Aapcs64Apple)
        } else if cfg!(all(target_arch = "aarch64", windows)) {
            Some(Abi::Aapcs64Win)
        } else if cfg!(target_arch = "aarch64") {
            Some(Abi::Aapcs64)
        } else {
            None
        };
        assert_eq!(Abi::host(), expected);
        assert_eq!(Abi::host_default().ok(), expected);
    }
}
