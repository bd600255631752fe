//! The calling conventions: one module per ABI, each a pure function from a signature to
//! a [`CallPlan`] and from a plan to machine code. Nothing here executes or touches
//! memory protections; every ABI compiles and is tested on every host.

pub mod aarch64;
pub mod x86_64;

use crate::error::{Error, Result};
use crate::plan::{BlockLayout, CallPlan, RegisterNames};
use crate::signature::{Abi, Signature};
use crate::types::Type;

/// What every convention implements.
pub trait AbiImpl: Sync {
    /// Places every argument and the result by the convention's rules.
    ///
    /// # Errors
    /// A signature the convention cannot express (a void or array parameter, ...).
    fn classify(&self, sig: &Signature) -> Result<CallPlan>;

    /// Emits the call thunk for a plan this convention made.
    ///
    /// # Errors
    /// A plan past the thunk generator's limits (an enormous stack area).
    fn emit_thunk(&self, plan: &CallPlan, code: &mut CodeBuffer) -> Result<()>;

    /// Names of the convention's registers, for printing plans.
    fn names(&self) -> &dyn RegisterNames;
}

/// The implementation of a convention.
///
/// # Errors
/// A convention whose engine jitcall does not have.
pub fn for_abi(abi: Abi) -> Result<&'static dyn AbiImpl> {
    match abi {
        Abi::SysV64 => Ok(&x86_64::sysv::SysV),
        Abi::Win64 => Ok(&x86_64::win64::Win64),
        Abi::Aapcs64 => Ok(&aarch64::aapcs::Aapcs64),
    }
}

/// Checks what no convention can pass, and lays out the argument block.
///
/// # Errors
/// A void parameter ("unexpected void parameter", as Janet says), an array passed or
/// returned directly (C has no such thing: arrays decay to pointers), a zero-size struct,
/// or arguments too large to address.
pub fn check_signature(sig: &Signature) -> Result<BlockLayout> {
    for (i, ty) in sig.params.iter().enumerate() {
        if ty.is_void() {
            return Err(Error::Abi(format!("unexpected void parameter (argument {i})")));
        }
        check_by_value(ty, &format!("argument {i}"))?;
    }
    if !sig.ret.is_void() {
        check_by_value(&sig.ret, "the return type")?;
    }
    BlockLayout::new(&sig.params)
        .ok_or_else(|| Error::Abi("the arguments are too large to pass".into()))
}

fn check_by_value(ty: &Type, what: &str) -> Result<()> {
    match ty {
        Type::Array(_) => Err(Error::Abi(format!(
            "{what} is an array type {ty}: C passes arrays as pointers (use :ptr) or inside a struct"
        ))),
        Type::Struct(_) if ty.size() == 0 => {
            Err(Error::Abi(format!("{what} is a zero-size struct {ty}, which C cannot pass by value")))
        }
        Type::Struct(_) if ty.size() > u32::MAX as usize => {
            Err(Error::Abi(format!("{what} is too large to pass by value: {} bytes", ty.size())))
        }
        _ => Ok(()),
    }
}

/// Bytes of machine code being assembled.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CodeBuffer {
    bytes: Vec<u8>,
}

impl CodeBuffer {
    pub fn new() -> CodeBuffer {
        CodeBuffer::default()
    }

    pub fn put(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
    }

    pub fn put4(&mut self, word: u32) {
        self.bytes.extend_from_slice(&word.to_le_bytes());
    }

    /// Where the next byte goes.
    pub fn offset(&self) -> usize {
        self.bytes.len()
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}
