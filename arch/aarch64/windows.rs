//! Windows on ARM64 (`:aapcs64-win`): AAPCS64 with the changes of Microsoft's "Overview of
//! ARM64 ABI conventions":
//! - in a variadic function, floating-point values travel in general registers and on the
//!   stack, never in vector registers, and homogeneous aggregates are plain composites;
//!   this covers the fixed parameters of a variadic function too (clang and MSVC pass the
//!   `double` of `void g(double, int, ...)` in x0).
//!   Microsoft describes it as rules C.12-C.15 on an "imaginary stack" whose first 64 bytes
//!   are x0-x7: so a variadic composite that reaches x7 is split between x7 and the stack;
//! - `long` is 32 bits (the type keyword `:long` is the host's: under this convention on
//!   a Linux host use `:int32`);
//! - `long double` is `double` (see [`long_double_is_double`]);
//! - x18 is reserved (it points to the thread's TEB): no jitcall code writes it.
//!
//! Fixed arguments follow the standard exactly.

use super::aapcs::{
    long_double_is_double, Aapcs64, Allocator, Flavour, StackSlot, DESCRIPTOR as AAPCS,
};
use crate::arch::Descriptor;
use crate::error::Result;
use crate::plan::{ArgPlan, Extension, Location, Part};
use crate::signature::{Abi, Signature};
use crate::types::Type;

/// Windows on ARM64's register facts: AAPCS64's registers.
pub const DESCRIPTOR: Descriptor = Descriptor { abi: Abi::Aapcs64Win, ..AAPCS };

/// Microsoft's policy hooks.
#[derive(Debug)]
pub struct Windows;

/// The Windows on ARM64 convention (`:aapcs64-win`).
pub static AAPCS64_WIN: Aapcs64<Windows> = Aapcs64(Windows);

impl Flavour for Windows {
    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    /// The imaginary stack: the value's 8-byte words go to the next x-registers, and what
    /// does not fit there to the stack. Over 16 bytes, a copy passed by its address.
    fn variadic_arg(&self, alloc: &mut Allocator<'_>, ty: &Type) -> Result<ArgPlan> {
        let size = ty.size();
        if size > 16 {
            return alloc.by_reference();
        }
        if ty.align() >= 16 {
            alloc.align_gprs_to_even();
        }
        let words = size.div_ceil(8) as u32;
        let mut dests = Vec::with_capacity(words as usize);
        while let Some(n) = (dests.len() < words as usize).then(|| alloc.take_gpr()).flatten() {
            dests.push(Location::ArgGpr(n));
        }
        let in_registers = dests.len() as u32;
        if in_registers < words {
            // A split value continues at the next word; a value wholly on the stack takes
            // the slot its alignment asks for.
            let align = if in_registers == 0 { ty.align().max(8) } else { 8 };
            let rest = (words - in_registers) as usize * 8;
            let at = alloc.stack_slot(StackSlot { size: rest, align })?;
            dests.extend((0..words - in_registers).map(|i| Location::Stack(at + 8 * i)));
        }
        let parts = (0..words)
            .zip(dests)
            .map(|(i, dest)| Part {
                offset: 8 * i,
                size: (size as u32 - 8 * i).min(8) as u8,
                dest,
                ext: match ty {
                    Type::Prim(p) => self.extension(*p),
                    _ => Extension::None,
                },
                float: false,
            })
            .collect();
        Ok(ArgPlan::Direct(parts))
    }

    /// A variadic function's every argument, its fixed ones included, follows the variadic
    /// rules: clang (as MSVC) compiles `void g(double, int, ...)` to take the double in x0.
    fn variadic_rules_cover_fixed_params(&self) -> bool {
        true
    }

    fn check(&self, sig: &Signature) -> Result<()> {
        long_double_is_double(sig)
    }
}
