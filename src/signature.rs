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
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Signature {
    pub abi: Abi,
    pub ret: Type,
    pub params: Vec<Type>,
}

impl Signature {
    pub fn new(abi: Abi, ret: Type, params: Vec<Type>) -> Signature {
        Signature { abi, ret, params }
    }
}
