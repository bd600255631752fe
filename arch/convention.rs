//! What a calling convention is apart from any ISA's code: its register facts (one
//! [`Descriptor`]) and its placement rules ([`Convention::place`]), and the one entry
//! point that classifies a signature, [`classify`], which does the checks every
//! convention shares once and asks the convention to place each value.
//!
//! Emission lives with the ISA (`x86_64`, `aarch64`) and reads only the plan and the
//! convention's descriptor.

use std::ops::Range;

use crate::arch::check_signature;
use crate::error::Result;
use crate::plan::{ArgPlan, CallPlan, Location, RegisterNames, RetPlan};
use crate::signature::{Abi, Signature};

/// An instruction set, which has its own emitters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Isa {
    /// x86-64.
    X86_64,
    /// AArch64.
    Aarch64,
}

impl Isa {
    /// The name of general register number `n` (as the ISA's encoding numbers it).
    pub fn gpr_name(self, n: u8) -> &'static str {
        const X86: [&str; 16] = [
            "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11",
            "r12", "r13", "r14", "r15",
        ];
        const A64: [&str; 9] = ["x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8"];
        let names: &[&str] = match self {
            Isa::X86_64 => &X86,
            Isa::Aarch64 => &A64,
        };
        names.get(n as usize).copied().unwrap_or("?")
    }

    /// The name of vector register `n`.
    pub fn fpr_name(self, n: u8) -> String {
        match self {
            Isa::X86_64 => format!("xmm{n}"),
            Isa::Aarch64 => format!("v{n}"),
        }
    }
}

/// A convention's register facts, in one place: what the classifier, the emitters, the
/// callback handlers and the plan printer read.
#[derive(Debug)]
pub struct Descriptor {
    /// The convention.
    pub abi: Abi,
    /// The instruction set it is a convention of.
    pub isa: Isa,
    /// The general registers that [`Location::ArgGpr`] numbers, as the ISA numbers them.
    /// AAPCS64 lists x8 too, the indirect result register, which takes no argument.
    pub arg_gprs: &'static [u8],
    /// The general registers that [`Location::RetGpr`] numbers.
    pub ret_gprs: &'static [u8],
    /// How many vector registers carry arguments (from register 0).
    pub arg_fprs: u8,
    /// Bytes the caller reserves below the stack arguments for the callee (Win64: 32).
    pub shadow_space: u32,
    /// The caller tells the callee in `%al` how many vector registers it used (SysV).
    pub vector_count_in_al: bool,
    /// General registers a callee must preserve.
    pub callee_saved_gprs: &'static [u8],
    /// Vector registers a callee must preserve (the whole register on x86-64; only the
    /// low 64 bits on AAPCS64).
    pub callee_saved_fprs: Range<u8>,
}

impl RegisterNames for Descriptor {
    fn arg_gpr(&self, n: u8) -> &'static str {
        self.arg_gprs.get(n as usize).map_or("?", |&r| self.isa.gpr_name(r))
    }

    fn ret_gpr(&self, n: u8) -> &'static str {
        self.ret_gprs.get(n as usize).map_or("?", |&r| self.isa.gpr_name(r))
    }

    fn fpr(&self, n: u8) -> String {
        self.isa.fpr_name(n)
    }
}

/// Where a convention put a signature's values: the part of a [`CallPlan`] that its rules
/// decide (the rest comes from its [`Descriptor`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// How each argument is passed, in order.
    pub args: Vec<ArgPlan>,
    /// How the result comes back.
    pub ret: RetPlan,
    /// Bytes of outgoing stack arguments (a multiple of 8), not counting shadow space.
    pub stack_bytes: u32,
}

/// A convention's placement rules.
pub trait Convention: Sync {
    /// The convention's register facts.
    fn descriptor(&self) -> &'static Descriptor;

    /// Places the result and every argument of a signature that has passed the checks
    /// that all conventions share ([`check_signature`]).
    ///
    /// # Errors
    /// A signature this convention cannot express (or cannot yet).
    fn place(&self, sig: &Signature) -> Result<Placement>;
}

/// The convention of `abi`.
pub fn convention(abi: Abi) -> &'static dyn Convention {
    match abi {
        Abi::SysV64 => &super::x86_64::sysv::SysV,
        Abi::Win64 => &super::x86_64::win64::Win64,
        Abi::Aapcs64 => &super::aarch64::aapcs::AAPCS64,
        Abi::Aapcs64Apple => &super::aarch64::apple::AAPCS64_APPLE,
        Abi::Aapcs64Win => &super::aarch64::windows::AAPCS64_WIN,
    }
}

/// The register facts of `abi`.
pub fn descriptor(abi: Abi) -> &'static Descriptor {
    convention(abi).descriptor()
}

/// Places every argument and the result of `sig` by its convention's rules.
///
/// # Errors
/// A signature the convention cannot express: the shared checks of [`check_signature`]
/// (a void parameter, an array by value, a value past the limits, ...), then the
/// convention's own.
pub fn classify(sig: &Signature) -> Result<CallPlan> {
    check_signature(sig)?;
    let conv = convention(sig.abi);
    let Placement { args, ret, stack_bytes } = conv.place(sig)?;
    let descriptor = conv.descriptor();
    let vector_count = descriptor.vector_count_in_al.then(|| vectors_used(&args));
    Ok(CallPlan {
        abi: sig.abi,
        args,
        ret,
        stack_bytes,
        shadow_space: descriptor.shadow_space,
        vector_count,
    })
}

/// How many vector registers the arguments use (they are taken in order, from 0).
fn vectors_used(args: &[ArgPlan]) -> u8 {
    let fprs = args.iter().flat_map(|arg| match arg {
        ArgPlan::Direct(parts) => parts.as_slice(),
        ArgPlan::Indirect { .. } => &[],
    });
    fprs.filter_map(|part| match part.dest {
        Location::Fpr(n) => Some(n + 1),
        _ => None,
    })
    .max()
    .unwrap_or(0)
}
