//! AArch64 AAPCS64 (`:aapcs64`), the Linux and BSD rules.
//!
//! Per the "Procedure Call Standard for the Arm 64-bit Architecture", §6.8 "Parameter
//! passing" (stages A to C) and §6.9 "Result return". Rule numbers below are those of the
//! editions before SVE; current editions number the same general-register and composite
//! rules C.9 and C.12-C.15.
//! - integers and pointers in x0-x7 (NGRN), float and double in v0-v7 (NSRN), then the
//!   stack (NSAA), in 8-byte slots aligned to max(8, the type's alignment).
//! - a homogeneous floating-point aggregate (HFA: 1 to 4 members of one float type, after
//!   flattening nested structs and arrays) takes one v-register per member if all fit; if
//!   not, it goes on the stack and NSRN becomes 8 (C.3).
//! - other composites of up to 16 bytes take 1 or 2 consecutive x-registers if both fit;
//!   if not, the stack, and NGRN becomes 8 (C.11). Larger composites are copied by the
//!   caller and passed as a pointer (B.4).
//! - results: x0/x1, v0-v3 for HFAs, or memory whose address the caller passes in x8.
//! - narrow integers: the callee may not rely on the upper bits, but jitcall extends them
//!   (sign or zero) to 64 bits, as Apple's variant requires of callers.

use super::Names;
use crate::arch::{
    check_signature, stack_add, AbiImpl, ArgSource, BlockLayout, CodeBuffer, ErrnoAccess,
};
use crate::error::{Error, Result};
use crate::plan::{ArgPlan, CallPlan, Extension, Location, Part, RetPlan};
use crate::signature::{Abi, Signature};
use crate::types::{Prim, Type};

const GPRS: u8 = 8;
const FPRS: u8 = 8;
/// The indirect result location register.
pub const XR: u8 = 8;

/// The base type and member count of a homogeneous floating-point aggregate.
fn hfa(ty: &Type) -> Option<(Prim, usize)> {
    if !matches!(ty, Type::Struct(_) | Type::Union(_)) {
        return None;
    }
    let (base, count) = float_members(ty)?;
    // Members must fill the aggregate exactly: no padding (as gcc checks).
    (count * base.size() == ty.size()).then_some((base, count))
}

/// gcc's `aapcs_vfp_sub_candidate`: the one float type of every member after flattening
/// structs and arrays, and how many members there are, if that is 1 to 4.
///
/// A zero-length array (`@[T]`) anywhere makes the aggregate no HFA, as with gcc (whose
/// zero-length arrays have no upper bound). An array's element is looked at once, so this
/// costs time in proportion to the type's description, not to its element counts.
fn float_members(ty: &Type) -> Option<(Prim, usize)> {
    const MAX_MEMBERS: usize = 4;
    let (base, count) = match ty {
        Type::Prim(p) if p.is_float() => (*p, 1),
        Type::Prim(_) | Type::Wide(_) => return None,
        Type::Array(a) if a.len == 0 => return None,
        Type::Array(a) => {
            let (base, count) = float_members(&a.elem)?;
            (base, count.checked_mul(a.len)?)
        }
        Type::Struct(s) => {
            let mut members: Option<(Prim, usize)> = None;
            for field in s.fields() {
                let (base, count) = float_members(&field.ty)?;
                members = match members {
                    None => Some((base, count)),
                    Some((b, n)) if b == base => Some((b, n + count)),
                    Some(_) => return None,
                };
            }
            members?
        }
        // gcc: every field a candidate of the one float type; the union counts as its
        // largest field (the caller's size check then rules out padding).
        Type::Union(s) => {
            let mut members: Option<(Prim, usize)> = None;
            for field in s.fields() {
                let (base, count) = float_members(&field.ty)?;
                members = match members {
                    None => Some((base, count)),
                    Some((b, n)) if b == base => Some((b, n.max(count))),
                    Some(_) => return None,
                };
            }
            members?
        }
    };
    (count <= MAX_MEMBERS).then_some((base, count))
}

fn extension(p: Prim) -> Extension {
    match p {
        _ if p.size() >= 8 || p.is_float() => Extension::None,
        _ if p.is_signed() => Extension::Sign,
        _ => Extension::Zero,
    }
}

/// The value's bytes in 8-byte pieces, the n-th piece sent to `dest(n)`.
fn chunks(size: usize, mut dest: impl FnMut(u32) -> Location) -> Vec<Part> {
    let size = size as u32;
    (0..size.div_ceil(8))
        .map(|i| Part {
            offset: 8 * i,
            size: (size - 8 * i).min(8) as u8,
            dest: dest(i),
            ext: Extension::None,
            float: false,
        })
        .collect()
}

/// One member per vector register, from `first`.
fn hfa_parts(base: Prim, count: usize, first: u8) -> Vec<Part> {
    (0..count)
        .map(|i| Part {
            offset: (i * base.size()) as u32,
            size: base.size() as u8,
            dest: Location::Fpr(first + i as u8),
            ext: Extension::None,
            float: true,
        })
        .collect()
}

fn too_much_stack() -> Error {
    Error::stack_unaddressable()
}

/// The running state of stage C.
struct Allocator {
    ngrn: u8,
    nsrn: u8,
    nsaa: u32,
}

impl Allocator {
    /// C.12 / C.4: the next stack slot, aligned to max(8, `align`), of `size` rounded to 8.
    ///
    /// # Errors
    /// A stack area past `u32::MAX` bytes.
    fn stack(&mut self, size: usize, align: usize) -> Result<u32> {
        let align = u32::try_from(align.max(8)).map_err(|_| too_much_stack())?;
        let at = self.nsaa.checked_next_multiple_of(align).ok_or_else(too_much_stack)?;
        self.nsaa = stack_add(at, size.next_multiple_of(8))?;
        Ok(at)
    }

    fn arg(&mut self, ty: &Type) -> Result<ArgPlan> {
        let size = ty.size();
        let plan = match ty {
            Type::Prim(p) if p.is_float() => {
                // C.1, else C.5/C.6: an 8-byte stack slot.
                let dest = if self.nsrn < FPRS {
                    self.nsrn += 1;
                    Location::Fpr(self.nsrn - 1)
                } else {
                    Location::Stack(self.stack(8, 8)?)
                };
                let float = matches!(dest, Location::Fpr(_));
                ArgPlan::Direct(vec![Part {
                    offset: 0,
                    size: size as u8,
                    dest,
                    ext: Extension::None,
                    float,
                }])
            }
            Type::Prim(p) => {
                // C.7, else C.14/C.15.
                let dest = self.integer_slot()?;
                ArgPlan::Direct(vec![Part {
                    offset: 0,
                    size: size as u8,
                    dest,
                    ext: extension(*p),
                    float: false,
                }])
            }
            _ => match hfa(ty) {
                Some((base, count)) if self.nsrn as usize + count <= FPRS as usize => {
                    // C.2: each member in its own register.
                    let parts = hfa_parts(base, count, self.nsrn);
                    self.nsrn += count as u8;
                    ArgPlan::Direct(parts)
                }
                Some(_) => {
                    // C.3, C.4, C.6: no more vector arguments; the stack, naturally aligned.
                    self.nsrn = FPRS;
                    let at = self.stack(size, ty.align())?;
                    ArgPlan::Direct(chunks(size, |i| Location::Stack(at + 8 * i)))
                }
                None if size > 16 => {
                    // B.4: a copy made by the caller, passed by its address.
                    ArgPlan::Indirect { pointer: self.integer_slot()? }
                }
                None => {
                    let dwords = size.div_ceil(8) as u8;
                    if self.ngrn + dwords <= GPRS {
                        // C.10: consecutive x-registers.
                        let first = self.ngrn;
                        self.ngrn += dwords;
                        ArgPlan::Direct(chunks(size, |i| Location::ArgGpr(first + i as u8)))
                    } else {
                        // C.11-C.13: no more x-registers; the stack.
                        self.ngrn = GPRS;
                        let at = self.stack(size, ty.align())?;
                        ArgPlan::Direct(chunks(size, |i| Location::Stack(at + 8 * i)))
                    }
                }
            },
        };
        Ok(plan)
    }

    /// An integral or pointer value: the next x-register, else an 8-byte stack slot.
    fn integer_slot(&mut self) -> Result<Location> {
        if self.ngrn < GPRS {
            self.ngrn += 1;
            Ok(Location::ArgGpr(self.ngrn - 1))
        } else {
            Ok(Location::Stack(self.stack(8, 8)?))
        }
    }
}

/// §6.9: where a result of this type comes back.
fn result(ty: &Type) -> RetPlan {
    let size = ty.size();
    match ty {
        _ if ty.is_void() => RetPlan::Void,
        Type::Prim(p) => RetPlan::Direct(vec![Part {
            offset: 0,
            size: size as u8,
            dest: if p.is_float() { Location::Fpr(0) } else { Location::RetGpr(0) },
            ext: Extension::None,
            float: p.is_float(),
        }]),
        _ => match hfa(ty) {
            Some((base, count)) => RetPlan::Direct(hfa_parts(base, count, 0)),
            None if size > 16 => RetPlan::Indirect { pointer: Location::ArgGpr(XR) },
            None => RetPlan::Direct(chunks(size, |i| Location::RetGpr(i as u8))),
        },
    }
}

/// The AAPCS64 convention.
#[derive(Debug)]
pub struct Aapcs64;

impl AbiImpl for Aapcs64 {
    fn classify(&self, sig: &Signature) -> Result<CallPlan> {
        check_signature(sig)?;
        crate::arch::refuse_wide(sig)?;
        let mut alloc = Allocator { ngrn: 0, nsrn: 0, nsaa: 0 };
        let args = sig.params.iter().map(|ty| alloc.arg(ty)).collect::<Result<_>>()?;
        Ok(CallPlan {
            abi: Abi::Aapcs64,
            args,
            ret: result(&sig.ret),
            stack_bytes: alloc.nsaa,
            shadow_space: 0,
            vector_count: None,
        })
    }

    fn emit_thunk(
        &self,
        plan: &CallPlan,
        block: &BlockLayout,
        code: &mut CodeBuffer,
    ) -> Result<()> {
        super::emit_thunk(plan, ArgSource::Block(block), code)
    }

    fn emit_pointer_thunk(&self, plan: &CallPlan, code: &mut CodeBuffer) -> Result<()> {
        super::emit_thunk(plan, ArgSource::Pointers, code)
    }

    fn emit_errno_thunk(
        &self,
        plan: &CallPlan,
        source: ArgSource,
        errno: &ErrnoAccess,
        code: &mut CodeBuffer,
    ) -> Result<()> {
        super::emit_thunk_with(plan, source, Some(errno), code)
    }

    fn emit_callback_handler(&self, code: &mut CodeBuffer) -> Result<()> {
        super::emit_callback_handler(code);
        Ok(())
    }

    fn names(&self) -> &dyn crate::plan::RegisterNames {
        &Names
    }
}
