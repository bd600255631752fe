//! x86-64 Windows (`:win64`), as MSVC and MinGW compile it.
//!
//! Per Microsoft's "x64 calling convention" document:
//! - arguments are positional: the first four use rcx/xmm0, rdx/xmm1, r8/xmm2, r9/xmm3 by
//!   position (a float or double in the XMM register, anything else in the general one);
//!   the fifth and later take one 8-byte stack slot each, above 32 bytes of shadow space
//!   that the caller reserves for the callee.
//! - aggregates of 1, 2, 4 or 8 bytes are passed by value in the general register (or slot)
//!   whatever their fields, even all-float ones; any other aggregate is passed by
//!   reference: the caller makes a 16-byte-aligned copy and passes its address.
//! - results of 1, 2, 4 or 8 bytes come back in rax (float and double in xmm0); any other
//!   result goes to memory whose address the caller passes in rcx, which shifts the
//!   arguments one position along.
//! - the types beyond the first wave, as gcc compiles them for `ms_abi` and MinGW (checked
//!   with `gcc -S`): every one of them goes by size like an aggregate. `long double` is
//!   gcc's 80-bit x87 format in 16 bytes, so it is passed by reference and returned
//!   through a hidden pointer (MSVC's `long double` is a plain `double`: declare such
//!   functions with `:double`). `__int128` is passed by reference but returned whole in
//!   xmm0; `float _Complex` (8 bytes) goes by value in a general register and comes back
//!   in rax; `double _Complex` and `long double _Complex` by reference and through a
//!   hidden pointer. Unions go by size like structs.
//! - no `%al`. A variadic float or double goes in its XMM register *and* in the general
//!   register of its position, since a variadic callee may spill either (its `va_arg`
//!   reads the general one's home slot); variadic aggregates follow the usual rules.

use super::Reg;
use crate::arch::{stack_add, Convention, Descriptor, Isa, Placement};
use crate::error::Result;
use crate::plan::{ArgPlan, Extension, Location, Part, RetPlan};
use crate::signature::{Abi, Signature};
use crate::types::{Type, Wide};

/// Win64's register facts: four argument positions, each a general or a vector register.
pub const DESCRIPTOR: Descriptor = Descriptor {
    abi: Abi::Win64,
    isa: Isa::X86_64,
    arg_gprs: &[Reg::Rcx as u8, Reg::Rdx as u8, Reg::R8 as u8, Reg::R9 as u8],
    ret_gprs: &[Reg::Rax as u8],
    arg_fprs: 4,
    shadow_space: 32,
    vector_count_in_al: false,
    // In this order, so that a handler saves rsi before rdi (as it always has).
    callee_saved_gprs: &[
        Reg::Rbx as u8,
        Reg::Rbp as u8,
        Reg::Rsi as u8,
        Reg::Rdi as u8,
        Reg::R12 as u8,
        Reg::R13 as u8,
        Reg::R14 as u8,
        Reg::R15 as u8,
    ],
    callee_saved_fprs: 6..16,
};

/// True when an aggregate of this size travels by value in a general register.
fn fits_register(size: usize) -> bool {
    matches!(size, 1 | 2 | 4 | 8)
}

/// Where the argument at `position` goes: its register if one of the first four (general
/// or vector), else its stack slot.
fn place(position: usize, vector: bool) -> Location {
    match position {
        0..=3 if vector => Location::Fpr(position as u8),
        0..=3 => Location::ArgGpr(position as u8),
        _ => Location::Stack(8 * (position as u32 - 4)),
    }
}

fn whole_value(ty: &Type, dest: Location) -> Part {
    let (ext, float) = match ty.prim() {
        Some(p) if p.is_float() => (Extension::None, true),
        Some(p) if p.size() < 8 && p.is_signed() => (Extension::Sign, false),
        Some(p) if p.size() < 8 => (Extension::Zero, false),
        _ => (Extension::None, false),
    };
    Part { offset: 0, size: ty.size() as u8, dest, ext, float }
}

/// gcc (and so MinGW) returns a scalar `__int128` whole in xmm0; a struct or union of one
/// goes by size like any aggregate (16 bytes: memory). MSVC has no 128-bit integers.
fn is_int128(w: Wide) -> bool {
    matches!(w, Wide::I128 | Wide::U128)
}

fn int128_result() -> RetPlan {
    RetPlan::Direct(vec![Part {
        offset: 0,
        size: 16,
        dest: Location::Fpr(0),
        ext: Extension::None,
        float: false,
    }])
}

/// Every variadic float in an XMM register is also passed, as its bits, in the general
/// register of its position.
fn copy_variadic_floats_to_gprs(sig: &Signature, args: &mut [ArgPlan]) {
    for (i, arg) in args.iter_mut().enumerate() {
        if !sig.is_variadic_arg(i) {
            continue;
        }
        if let ArgPlan::Direct(parts) = arg {
            if let [part @ Part { dest: Location::Fpr(n), .. }] = parts.as_slice() {
                let bits = Part { dest: Location::ArgGpr(*n), float: false, ..*part };
                parts.push(bits);
            }
        }
    }
}

/// The Win64 convention.
#[derive(Debug)]
pub struct Win64;

impl Convention for Win64 {
    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    fn place(&self, sig: &Signature) -> Result<Placement> {
        let is_float = |ty: &Type| ty.prim().is_some_and(|p| p.is_float());

        let ret = match &sig.ret {
            ty if ty.is_void() => RetPlan::Void,
            Type::Wide(w) if is_int128(*w) => int128_result(),
            ty if fits_register(ty.size()) => {
                let dest = if is_float(ty) { Location::Fpr(0) } else { Location::RetGpr(0) };
                let mut part = whole_value(ty, dest);
                part.ext = Extension::None;
                RetPlan::Direct(vec![part])
            }
            _ => RetPlan::Indirect { pointer: Location::ArgGpr(0) },
        };
        let first = usize::from(matches!(ret, RetPlan::Indirect { .. }));
        // Checked first: every stack slot's offset below lies under it.
        let positions = first + sig.params.len();
        let stack_bytes = stack_add(0, 8 * positions.saturating_sub(4))?;

        let mut args: Vec<ArgPlan> = sig
            .params
            .iter()
            .enumerate()
            .map(|(i, ty)| {
                let position = first + i;
                match ty {
                    Type::Prim(_) => {
                        ArgPlan::Direct(vec![whole_value(ty, place(position, is_float(ty)))])
                    }
                    _ if fits_register(ty.size()) => {
                        ArgPlan::Direct(vec![whole_value(ty, place(position, false))])
                    }
                    _ => ArgPlan::Indirect { pointer: place(position, false) },
                }
            })
            .collect();

        copy_variadic_floats_to_gprs(sig, &mut args);
        Ok(Placement { args, ret, stack_bytes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::x86_64::test_util::*;
    use crate::plan::CallPlan;
    use crate::types::Prim::*;
    use Location::{ArgGpr, Fpr, RetGpr, Stack};

    fn plan(ret: Type, params: Vec<Type>) -> CallPlan {
        crate::arch::classify(&Signature::new(Abi::Win64, ret, params)).unwrap()
    }

    #[test]
    fn registers_are_chosen_by_position() {
        // f(int a, double b, int c, double d, int e): rcx, xmm1, r8, xmm3, stack.
        let plan = plan(Type::VOID, vec![p(I32), p(F64), p(I32), p(F64), p(I32)]);
        let sext = |l| ext(part(0, 4, l), Extension::Sign);
        assert_eq!(plan.args[0], ArgPlan::Direct(vec![sext(ArgGpr(0))]));
        assert_eq!(plan.args[1], ArgPlan::Direct(vec![fpart(0, 8, Fpr(1))]));
        assert_eq!(plan.args[2], ArgPlan::Direct(vec![sext(ArgGpr(2))]));
        assert_eq!(plan.args[3], ArgPlan::Direct(vec![fpart(0, 8, Fpr(3))]));
        assert_eq!(plan.args[4], ArgPlan::Direct(vec![sext(Stack(0))]));
        assert_eq!((plan.stack_bytes, plan.shadow_space, plan.vector_count), (8, 32, None));
    }

    #[test]
    fn aggregates_of_1_2_4_8_bytes_go_by_value_in_general_registers() {
        let f = st(&[p(F32)]);
        let dd8 = st(&[p(F32), p(F32)]);
        let c3 = st(&[p(I8), p(I8), p(I8)]);
        let d16 = st(&[p(F64), p(F64)]);
        let plan = plan(Type::VOID, vec![f, dd8, c3, d16]);
        assert_eq!(plan.args[0], ArgPlan::Direct(vec![part(0, 4, ArgGpr(0))]));
        assert_eq!(plan.args[1], ArgPlan::Direct(vec![part(0, 8, ArgGpr(1))]));
        assert_eq!(plan.args[2], ArgPlan::Indirect { pointer: ArgGpr(2) });
        assert_eq!(plan.args[3], ArgPlan::Indirect { pointer: ArgGpr(3) });
    }

    #[test]
    fn by_reference_arguments_past_the_fourth_pass_their_address_on_the_stack() {
        let big = st(&[p(I64), p(I64), p(I64)]);
        let plan = plan(Type::VOID, vec![p(I64), p(I64), p(I64), p(I64), big]);
        assert_eq!(plan.args[4], ArgPlan::Indirect { pointer: Stack(0) });
    }

    #[test]
    fn results() {
        // A 4-byte all-float struct comes back in rax, not xmm0.
        assert_eq!(plan(st(&[p(F32)]), vec![]).ret, RetPlan::Direct(vec![part(0, 4, RetGpr(0))]));
        assert_eq!(plan(p(F32), vec![]).ret, RetPlan::Direct(vec![fpart(0, 4, Fpr(0))]));
        // 16 bytes: a hidden pointer in rcx, and the arguments move one position along.
        let plan = plan(st(&[p(F64), p(F64)]), vec![p(F64), p(I32)]);
        assert_eq!(plan.ret, RetPlan::Indirect { pointer: ArgGpr(0) });
        assert_eq!(plan.args[0], ArgPlan::Direct(vec![fpart(0, 8, Fpr(1))]));
        assert_eq!(
            plan.args[1],
            ArgPlan::Direct(vec![ext(part(0, 4, ArgGpr(2)), Extension::Sign)])
        );
    }

    /// What gcc emits for `__attribute__((ms_abi))` functions (see the module docs).
    #[test]
    fn wide_types_go_by_size_and_int128_comes_back_in_xmm0() {
        use crate::arch::x86_64::test_util::st;
        use crate::types::{Member, Wide::*};
        let w = Type::Wide;
        let int128 = Part { offset: 0, size: 16, dest: Fpr(0), ext: Extension::None, float: false };
        assert_eq!(plan(w(I128), vec![]).ret, RetPlan::Direct(vec![int128]));
        assert_eq!(plan(w(U128), vec![]).ret, RetPlan::Direct(vec![int128]));
        // A struct or union of one: memory, by size.
        let union = Type::union(&[Member::Field(w(I128)), Member::Field(p(I64))]).unwrap();
        for ty in [st(&[w(I128)]), union, w(LongDouble), w(ComplexF64), w(ComplexLongDouble)] {
            let plan = plan(ty.clone(), vec![p(I32)]);
            assert_eq!(plan.ret, RetPlan::Indirect { pointer: ArgGpr(0) }, "{ty}");
            assert_eq!(
                plan.args[0],
                ArgPlan::Direct(vec![ext(part(0, 4, ArgGpr(1)), Extension::Sign)])
            );
        }
        assert_eq!(plan(w(ComplexF32), vec![]).ret, RetPlan::Direct(vec![part(0, 8, RetGpr(0))]));
        // Arguments: by reference, except the 8-byte complex float in its general register
        // (even in the first position, whose XMM register a double would take).
        let plan = plan(
            Type::VOID,
            vec![w(ComplexF32), w(LongDouble), w(I128), w(ComplexF64), w(ComplexLongDouble)],
        );
        assert_eq!(plan.args[0], ArgPlan::Direct(vec![part(0, 8, ArgGpr(0))]));
        assert_eq!(plan.args[1], ArgPlan::Indirect { pointer: ArgGpr(1) });
        assert_eq!(plan.args[2], ArgPlan::Indirect { pointer: ArgGpr(2) });
        assert_eq!(plan.args[3], ArgPlan::Indirect { pointer: ArgGpr(3) });
        assert_eq!(plan.args[4], ArgPlan::Indirect { pointer: Stack(0) });
    }
}
