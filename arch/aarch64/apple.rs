//! Apple arm64 (`:aapcs64-apple`): AAPCS64 with the changes of Apple's "Writing ARM64 code
//! for Apple platforms" (macOS, iOS):
//! - stack arguments take their natural size and alignment, not 8-byte slots (an `int8_t`
//!   after eight registers' worth sits at `[sp]`, an `int16_t` next at `[sp, #2]`); the
//!   area is padded to 8 bytes. Composites that are not homogeneous floating-point
//!   aggregates still take 8-byte words (clang passes them as arrays of `i64`).
//! - every variadic argument goes on the stack in 8-byte slots (16-aligned for 16-byte
//!   aligned values), none in registers;
//! - a 16-byte-aligned value (`__int128`, a composite holding one) takes the next two
//!   x-registers, not the next even pair (no C.8; clang's DarwinPCS), or else the stack,
//!   16-aligned (it is not split between x7 and the stack);
//! - the caller extends integer arguments narrower than 32 bits to 32 (jitcall extends
//!   them to 64, which meets the rule);
//! - `long double` is `double` (see [`long_double_is_double`]);
//! - x18 is reserved for the platform: no jitcall code uses it.

use super::aapcs::{
    is_homogeneous, long_double_is_double, Aapcs64, Allocator, Flavour, StackSlot,
    DESCRIPTOR as AAPCS,
};
use crate::arch::Descriptor;
use crate::error::Result;
use crate::plan::ArgPlan;
use crate::signature::{Abi, Signature};
use crate::types::Type;

/// Apple arm64's register facts: AAPCS64's registers.
pub const DESCRIPTOR: Descriptor = Descriptor { abi: Abi::Aapcs64Apple, ..AAPCS };

/// Apple's policy hooks.
#[derive(Debug)]
pub struct Apple;

/// The Apple arm64 convention (`:aapcs64-apple`).
pub static AAPCS64_APPLE: Aapcs64<Apple> = Aapcs64(Apple);

impl Flavour for Apple {
    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    fn stack_slot(&self, ty: &Type) -> StackSlot {
        match ty {
            Type::Prim(_) | Type::Wide(_) => natural(ty),
            _ if is_homogeneous(ty) => natural(ty),
            _ => StackSlot { size: ty.size().next_multiple_of(8), align: ty.align().max(8) },
        }
    }

    fn pairs_start_even(&self) -> bool {
        false
    }

    fn variadic_arg(&self, alloc: &mut Allocator<'_>, ty: &Type) -> Result<ArgPlan> {
        if ty.size() > 16 && !is_homogeneous(ty) {
            // B.4 as for fixed arguments, but the address too goes on the stack.
            let at = alloc.stack_slot(StackSlot { size: 8, align: 8 })?;
            return Ok(ArgPlan::Indirect { pointer: crate::plan::Location::Stack(at) });
        }
        alloc.on_stack_in_words(ty)
    }

    fn check(&self, sig: &Signature) -> Result<()> {
        long_double_is_double(sig)
    }
}

fn natural(ty: &Type) -> StackSlot {
    StackSlot { size: ty.size(), align: ty.align() }
}
