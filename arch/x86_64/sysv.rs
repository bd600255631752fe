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
use crate::arch::{check_signature, stack_add, AbiImpl, ArgSource, CodeBuffer, ErrnoAccess};
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
    // Larger than two eightbytes: MEMORY (step 1; there are no SSEUP types here).
    if ty.size() > 16 {
        return None;
    }
    classify_at(ty, 0)
}

/// gcc's `classify_argument`: the classes of the eightbytes that a value of `ty` placed
/// `offset` bytes (0 to 7) into an eightbyte touches, or `None` for MEMORY.
///
/// Like gcc, an array's element is classified once, at the array's own offset, and its
/// classes repeat; so this costs time in proportion to the type's description, not to
/// its element counts. A zero-length array (`@[T]`) that starts inside an eightbyte
/// counts there with its element's class (and a misaligned element makes it MEMORY);
/// one that starts on an eightbyte boundary touches nothing.
fn classify_at(ty: &Type, offset: usize) -> Option<Vec<Class>> {
    let words = (ty.size() + offset).div_ceil(8);
    match ty {
        // A misaligned scalar makes the whole value MEMORY (only `:pack` allows one).
        Type::Prim(p) if offset % p.align() != 0 => None,
        Type::Prim(p) => Some(vec![prim_class(*p)]),
        _ if ty.size() > 64 => None,
        _ if words == 0 => Some(vec![Class::NoClass]),
        Type::Struct(s) => {
            let mut classes = vec![Class::NoClass; words];
            for field in s.fields() {
                let at = offset + field.offset;
                let sub = classify_at(&field.ty, at % 8)?;
                for (slot, class) in classes.iter_mut().skip(at / 8).zip(sub) {
                    *slot = merge(*slot, class);
                }
            }
            // Step 5 (post-merger cleanup): MEMORY anywhere makes it all MEMORY; the other
            // rules concern X87 and SSEUP classes, which no type here has.
            (!classes.contains(&Class::Memory)).then_some(classes)
        }
        Type::Array(a) => {
            let sub = classify_at(&a.elem, offset)?;
            Some((0..words).map(|i| sub[i % sub.len()]).collect())
        }
    }
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
///
/// # Errors
/// A stack area past `u32::MAX` bytes.
fn stack_parts(ty: &Type, stack: &mut u32) -> Result<Vec<Part>> {
    let size = ty.size();
    let at = *stack;
    // Checked first: every piece's offset below lies under `end`.
    let end = stack_add(at, size.next_multiple_of(8))?;
    let parts = (0..size.div_ceil(8))
        .map(|i| Part {
            offset: 8 * i as u32,
            size: (size - 8 * i).min(8) as u8,
            dest: Location::Stack(at + 8 * i as u32),
            ext: if i == 0 { extension(ty) } else { Extension::None },
            float: false,
        })
        .collect();
    *stack = end;
    Ok(parts)
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
                        stack_parts(ty, &mut stack)?
                    }
                }
                None => stack_parts(ty, &mut stack)?,
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
            ret_block_size: crate::plan::ret_block_size(sig)?,
            block,
        })
    }

    fn emit_thunk(&self, plan: &CallPlan, code: &mut CodeBuffer) -> Result<()> {
        super::emit_thunk(plan, &ARG_GPRS, ArgSource::Block, code)
    }

    fn emit_pointer_thunk(&self, plan: &CallPlan, code: &mut CodeBuffer) -> Result<()> {
        super::emit_thunk(plan, &ARG_GPRS, ArgSource::Pointers, code)
    }

    fn emit_errno_thunk(
        &self,
        plan: &CallPlan,
        source: ArgSource,
        errno: &ErrnoAccess,
        code: &mut CodeBuffer,
    ) -> Result<()> {
        super::emit_thunk_with(plan, &ARG_GPRS, source, Some(errno), code)
    }

    fn emit_callback_handler(&self, code: &mut CodeBuffer) -> Result<()> {
        let shape = super::HandlerShape {
            arg_gprs: &ARG_GPRS,
            arg_fprs: ARG_FPRS,
            stack_args_skip: 0,
            preserve_gprs: &[],
            preserve_xmms: 0..0,
        };
        super::emit_callback_handler(&shape, code);
        Ok(())
    }

    fn names(&self) -> &dyn crate::plan::RegisterNames {
        const NAMES: Names = Names { arg_gprs: &ARG_GPRS };
        &NAMES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::x86_64::test_util::*;
    use crate::types::Member;
    use Location::{Fpr, Gpr, Stack};
    use Prim::*;

    fn plan(ret: Type, params: Vec<Type>) -> CallPlan {
        SysV.classify(&Signature::new(Abi::SysV64, ret, params)).unwrap()
    }

    fn direct(plan: &CallPlan, i: usize) -> &[Part] {
        match &plan.args[i] {
            ArgPlan::Direct(parts) => parts,
            other => panic!("argument {i} is {other:?}"),
        }
    }

    /// The psABI's own example (§3.2.3, "Parameter Passing Example"), without its long
    /// double and __m256 arguments, which jitcall has no types for:
    /// `void func(int e, int f, structparm s, int g, int h, double m, double n, int i,
    /// int j, int k)` with `structparm = { int a, b; double d; }`.
    #[test]
    fn psabi_parameter_passing_example() {
        let structparm = st(&[p(I32), p(I32), p(F64)]);
        let int = || p(I32);
        let plan = plan(
            Type::VOID,
            vec![int(), int(), structparm, int(), int(), p(F64), p(F64), int(), int(), int()],
        );
        let sext = |n| ext(part(0, 4, n), Extension::Sign);
        assert_eq!(direct(&plan, 0), [sext(Gpr(0))]); // e: rdi
        assert_eq!(direct(&plan, 1), [sext(Gpr(1))]); // f: rsi
        assert_eq!(direct(&plan, 2), [part(0, 8, Gpr(2)), fpart(8, 8, Fpr(0))]); // s: rdx, xmm0
        assert_eq!(direct(&plan, 3), [sext(Gpr(3))]); // g: rcx
        assert_eq!(direct(&plan, 4), [sext(Gpr(4))]); // h: r8
        assert_eq!(direct(&plan, 5), [fpart(0, 8, Fpr(1))]); // m: xmm1
        assert_eq!(direct(&plan, 6), [fpart(0, 8, Fpr(2))]); // n: xmm2
        assert_eq!(direct(&plan, 7), [sext(Gpr(5))]); // i: r9
        assert_eq!(direct(&plan, 8), [sext(Stack(0))]); // j
        assert_eq!(direct(&plan, 9), [sext(Stack(8))]); // k
        assert_eq!((plan.stack_bytes, plan.vector_count), (16, Some(3)));
    }

    #[test]
    fn each_eightbyte_is_classified_on_its_own() {
        // struct { int a[3]; }: both eightbytes INTEGER (Janet gets this one wrong).
        let ia3 = st(&[Type::array(p(I32), 3).unwrap()]);
        assert_eq!(
            direct(&plan(Type::VOID, vec![ia3]), 0),
            [part(0, 8, Gpr(0)), part(8, 4, Gpr(1))]
        );
        // struct { float x; int y; double z; }: INTEGER (merged), then SSE.
        let mixed = st(&[p(F32), p(I32), p(F64)]);
        assert_eq!(
            direct(&plan(Type::VOID, vec![mixed]), 0),
            [part(0, 8, Gpr(0)), fpart(8, 8, Fpr(0))]
        );
        // struct { float a, b; }: one SSE eightbyte, in one register.
        let ff = st(&[p(F32), p(F32)]);
        assert_eq!(direct(&plan(Type::VOID, vec![ff]), 0), [fpart(0, 8, Fpr(0))]);
    }

    #[test]
    fn all_float_structs_come_back_in_xmm0_and_xmm1() {
        let dd = st(&[p(F64), p(F64)]);
        assert_eq!(
            plan(dd, vec![]).ret,
            RetPlan::Direct(vec![fpart(0, 8, Fpr(0)), fpart(8, 8, Fpr(1))])
        );
        let ffff = st(&[p(F32), p(F32), p(F32), p(F32)]);
        assert_eq!(
            plan(ffff, vec![]).ret,
            RetPlan::Direct(vec![fpart(0, 8, Fpr(0)), fpart(8, 8, Fpr(1))])
        );
        let df = st(&[p(F64), p(F32)]);
        assert_eq!(
            plan(df, vec![]).ret,
            RetPlan::Direct(vec![fpart(0, 8, Fpr(0)), fpart(8, 8, Fpr(1))])
        );
        let id = st(&[p(I32), p(F64)]);
        assert_eq!(
            plan(id, vec![]).ret,
            RetPlan::Direct(vec![part(0, 8, Gpr(0)), fpart(8, 8, Fpr(0))])
        );
        let di = st(&[p(F64), p(I64)]);
        assert_eq!(
            plan(di, vec![]).ret,
            RetPlan::Direct(vec![fpart(0, 8, Fpr(0)), part(8, 8, Gpr(0))])
        );
    }

    #[test]
    fn memory_results_pass_a_hidden_pointer_in_rdi() {
        let big = st(&[p(I64), p(I64), p(I64)]);
        let plan = plan(big, vec![p(I64)]);
        assert_eq!(plan.ret, RetPlan::Indirect { pointer: Gpr(0) });
        assert_eq!(direct(&plan, 0), [part(0, 8, Gpr(1))]);
    }

    #[test]
    fn memory_arguments_are_copied_onto_the_stack() {
        let big = st(&[p(I64), p(I64), p(I32)]);
        let plan = plan(Type::VOID, vec![p(I8), big, p(U16)]);
        assert_eq!(
            direct(&plan, 1),
            [part(0, 8, Stack(0)), part(8, 8, Stack(8)), part(16, 8, Stack(16))]
        );
        assert_eq!(direct(&plan, 2), [ext(part(0, 2, Gpr(1)), Extension::Zero)]);
        assert_eq!(plan.stack_bytes, 24);
    }

    #[test]
    fn a_packed_struct_with_an_unaligned_field_is_memory() {
        let packed =
            Type::structure(&[Member::Field(p(I8)), Member::Pack, Member::Field(p(I32))]).unwrap();
        assert_eq!(direct(&plan(Type::VOID, vec![packed]), 0), [part(0, 5, Stack(0))]);
        // A misaligned scalar anywhere counts, even inside a nested struct that is itself
        // packed to alignment 1 (gcc checks each scalar's absolute offset).
        let boxed = Type::structure(&[Member::Field(st(&[p(I32)])), Member::PackAll]).unwrap();
        let outer = Type::structure(&[
            Member::Pack,
            Member::Field(p(U32)),
            Member::Field(p(U8)),
            Member::Pack,
            Member::Field(boxed),
        ])
        .unwrap();
        assert_eq!(plan(outer, vec![]).ret, RetPlan::Indirect { pointer: Gpr(0) });
        // Packed but aligned all the same: registers as usual.
        let aligned =
            Type::structure(&[Member::Field(p(I32)), Member::PackAll, Member::Field(p(I32))])
                .unwrap();
        assert_eq!(direct(&plan(Type::VOID, vec![aligned]), 0), [part(0, 8, Gpr(0))]);
    }

    #[test]
    fn a_pair_that_does_not_fit_goes_wholly_to_the_stack_and_later_arguments_use_registers() {
        let pair = st(&[p(I64), p(I64)]);
        let ints: Vec<Type> = (0..5).map(|_| p(I64)).collect();
        let mut params = ints;
        params.push(pair.clone()); // needs two GPRs, one is left
        params.push(p(I64)); // takes the last one, r9
        let plan = plan(Type::VOID, params);
        assert_eq!(direct(&plan, 5), [part(0, 8, Stack(0)), part(8, 8, Stack(8))]);
        assert_eq!(direct(&plan, 6), [part(0, 8, Gpr(5))]);
    }

    #[test]
    fn vector_registers_run_out_after_eight() {
        let params: Vec<Type> = (0..10).map(|_| p(F64)).collect();
        let plan = plan(p(F64), params);
        assert_eq!(direct(&plan, 7), [fpart(0, 8, Fpr(7))]);
        // On the stack a double is just 8 bytes to copy.
        assert_eq!(direct(&plan, 8), [part(0, 8, Stack(0))]);
        assert_eq!(direct(&plan, 9), [part(0, 8, Stack(8))]);
        assert_eq!(plan.vector_count, Some(8));
    }

    #[test]
    fn narrow_integers_and_bool_are_extended() {
        let plan = plan(Type::VOID, vec![p(I8), p(U8), p(I16), p(U16), p(Bool), p(U32)]);
        let exts: Vec<Extension> = (0..6).map(|i| direct(&plan, i)[0].ext).collect();
        use Extension::*;
        assert_eq!(exts, [Sign, Zero, Sign, Zero, Zero, Zero]);
    }
}
