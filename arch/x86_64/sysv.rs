//! x86-64 System V (`:sysv64`): Linux, macOS and the BSDs.
//!
//! Per the System V AMD64 psABI, §3.2.3 "Parameter Passing":
//! - integers, pointers and bool take the next of rdi, rsi, rdx, rcx, r8, r9; float and
//!   double the next of xmm0-xmm7; once a register file is used up, the stack.
//! - an aggregate of at most 16 bytes is split into eightbytes, each classified on its
//!   own (INTEGER if any integer lies in it, else SSE); it goes in registers only if every
//!   eightbyte gets one, else wholly on the stack, and later arguments may still use the
//!   registers that are left. Larger aggregates, and any with an unaligned field, are MEMORY:
//!   copied onto the stack.
//! - stack arguments take 8-byte slots in order, from `[rsp]` at the call.
//! - results: INTEGER eightbytes in rax then rdx, SSE ones in xmm0 then xmm1; MEMORY results
//!   go to memory whose address the caller passes in rdi (the first integer register).
//! - `%al` holds the number of vector registers used (an upper bound suffices; it matters
//!   to variadic callees).
//! - narrow integers are extended to 64 bits by the caller (clang relies on 32).

use super::{Names, Reg};
use crate::arch::{check_signature, AbiImpl, CodeBuffer};
use crate::error::Result;
use crate::plan::{ArgPlan, CallPlan, Extension, Location, Part, RetPlan};
use crate::signature::{Abi, Signature};
use crate::types::{Prim, Type};

/// The integer argument registers, in order.
pub const ARG_GPRS: [Reg; 6] = [Reg::Rdi, Reg::Rsi, Reg::Rdx, Reg::Rcx, Reg::R8, Reg::R9];
const ARG_FPRS: u8 = 8;

/// The psABI classes that C types can have here (no x87, no SSEUP: no such types exist).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // NO_CLASS is the psABI's name
enum Class {
    NoClass,
    Integer,
    Sse,
    Memory,
}

/// psABI §3.2.3, step 4: merging the classes of two fields in one eightbyte.
fn merge(a: Class, b: Class) -> Class {
    use Class::*;
    match (a, b) {
        (x, y) if x == y => x,
        (NoClass, other) | (other, NoClass) => other,
        (Memory, _) | (_, Memory) => Memory,
        (Integer, _) | (_, Integer) => Integer,
        _ => Sse,
    }
}

fn prim_class(p: Prim) -> Class {
    if p.is_float() {
        Class::Sse
    } else {
        Class::Integer
    }
}

/// The class of each eightbyte of a value of type `ty`, or `None` for MEMORY.
fn classify(ty: &Type) -> Option<Vec<Class>> {
    if let Type::Prim(p) = ty {
        return Some(vec![prim_class(*p)]);
    }
    // Larger than two eightbytes, or holding an unaligned field: MEMORY (step 1 and 2).
    if ty.size() > 16 || ty.has_unaligned_field() {
        return None;
    }
    let mut classes = vec![Class::NoClass; ty.size().div_ceil(8)];
    ty.for_each_leaf(0, &mut |p, offset| {
        let slot = &mut classes[offset / 8];
        *slot = merge(*slot, prim_class(p));
    });
    // Step 5 (post-merger cleanup) changes nothing without X87 and SSEUP classes.
    Some(classes)
}

fn extension(ty: &Type) -> Extension {
    match ty.prim() {
        Some(p) if p.size() < 8 && p.is_signed() => Extension::Sign,
        Some(p) if p.size() < 8 && !p.is_float() => Extension::Zero,
        _ => Extension::None,
    }
}

/// The eightbytes of a value as parts, each sent where `place` says.
fn eightbyte_parts(
    ty: &Type,
    classes: &[Class],
    mut place: impl FnMut(Class) -> Location,
) -> Vec<Part> {
    let ext = extension(ty);
    classes
        .iter()
        .enumerate()
        // A padding-only eightbyte is passed nowhere (as gcc does).
        .filter(|(_, c)| **c != Class::NoClass)
        .map(|(i, &class)| Part {
            offset: 8 * i as u32,
            size: (ty.size() - 8 * i).min(8) as u8,
            dest: place(class),
            ext,
            float: class == Class::Sse,
        })
        .collect()
}

/// A MEMORY argument: its bytes copied onto the stack in 8-byte pieces.
fn stack_parts(ty: &Type, stack: &mut u32) -> Vec<Part> {
    let size = ty.size() as u32;
    let parts = (0..size.div_ceil(8))
        .map(|i| Part {
            offset: 8 * i,
            size: (size - 8 * i).min(8) as u8,
            dest: Location::Stack(*stack + 8 * i),
            ext: if i == 0 { extension(ty) } else { Extension::None },
            float: false,
        })
        .collect();
    *stack += size.next_multiple_of(8);
    parts
}

/// The System V convention.
#[derive(Debug)]
pub struct SysV;

impl AbiImpl for SysV {
    fn classify(&self, sig: &Signature) -> Result<CallPlan> {
        let block = check_signature(sig)?;
        let (mut ngrn, mut nsrn, mut stack) = (0u8, 0u8, 0u32);

        let ret = match classify(&sig.ret) {
            _ if sig.ret.is_void() => RetPlan::Void,
            None => {
                ngrn = 1; // the hidden result pointer takes rdi
                RetPlan::Indirect { pointer: Location::Gpr(0) }
            }
            Some(classes) => {
                let (mut int, mut sse) = (0, 0);
                RetPlan::Direct(eightbyte_parts(&sig.ret, &classes, |class| {
                    let (counter, make): (&mut u8, fn(u8) -> Location) = match class {
                        Class::Sse => (&mut sse, Location::Fpr),
                        _ => (&mut int, Location::Gpr),
                    };
                    *counter += 1;
                    make(*counter - 1)
                }))
            }
        };
        let mut args = Vec::with_capacity(sig.params.len());
        for ty in &sig.params {
            let parts = match classify(ty) {
                Some(classes) => {
                    let need_int = classes.iter().filter(|c| **c == Class::Integer).count() as u8;
                    let need_sse = classes.iter().filter(|c| **c == Class::Sse).count() as u8;
                    let fits =
                        ngrn + need_int <= ARG_GPRS.len() as u8 && nsrn + need_sse <= ARG_FPRS;
                    if fits {
                        eightbyte_parts(ty, &classes, |class| match class {
                            Class::Sse => {
                                nsrn += 1;
                                Location::Fpr(nsrn - 1)
                            }
                            _ => {
                                ngrn += 1;
                                Location::Gpr(ngrn - 1)
                            }
                        })
                    } else {
                        // No room for every eightbyte: the whole value goes on the stack.
                        stack_parts(ty, &mut stack)
                    }
                }
                None => stack_parts(ty, &mut stack),
            };
            args.push(ArgPlan::Direct(parts));
        }

        Ok(CallPlan {
            abi: Abi::SysV64,
            args,
            ret,
            stack_bytes: stack,
            shadow_space: 0,
            vector_count: Some(nsrn),
            ret_block_size: crate::plan::ret_block_size(sig).unwrap_or(0),
            block,
        })
    }

    fn emit_thunk(&self, plan: &CallPlan, code: &mut CodeBuffer) -> Result<()> {
        super::emit_thunk(plan, &ARG_GPRS, code)
    }

    fn names(&self) -> &dyn crate::plan::RegisterNames {
        const NAMES: Names = Names { arg_gprs: &ARG_GPRS };
        &NAMES
    }
}
