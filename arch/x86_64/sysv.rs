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

use super::Reg;
use crate::arch::{stack_add, Convention, Descriptor, Isa, Placement};
use crate::error::Result;
use crate::plan::{ArgPlan, Extension, Location, Part, RetPlan};
use crate::signature::{Abi, Signature};
use crate::types::{Prim, Type, Wide};

/// System V's register facts.
pub const DESCRIPTOR: Descriptor = Descriptor {
    abi: Abi::SysV64,
    isa: Isa::X86_64,
    arg_gprs: &[
        Reg::Rdi as u8,
        Reg::Rsi as u8,
        Reg::Rdx as u8,
        Reg::Rcx as u8,
        Reg::R8 as u8,
        Reg::R9 as u8,
    ],
    ret_gprs: &[Reg::Rax as u8, Reg::Rdx as u8],
    arg_fprs: 8,
    shadow_space: 0,
    vector_count_in_al: true,
    callee_saved_gprs: &[
        Reg::Rbx as u8,
        Reg::Rbp as u8,
        Reg::R12 as u8,
        Reg::R13 as u8,
        Reg::R14 as u8,
        Reg::R15 as u8,
    ],
    callee_saved_fprs: 0..0,
};
const ARG_GPRS: u8 = DESCRIPTOR.arg_gprs.len() as u8;
const ARG_FPRS: u8 = DESCRIPTOR.arg_fprs;

/// The psABI classes that C types can have here (no SSEUP: only vector types, which
/// jitcall has none of, have it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // NO_CLASS is the psABI's name
enum Class {
    NoClass,
    Integer,
    Sse,
    /// The low eightbyte of a `long double` (its 64-bit significand).
    X87,
    /// The high eightbyte of a `long double` (its sign and exponent, and padding).
    X87Up,
    /// A `long double _Complex`, all 32 bytes.
    ComplexX87,
    Memory,
}

impl Class {
    fn is_x87(self) -> bool {
        matches!(self, Class::X87 | Class::X87Up | Class::ComplexX87)
    }
}

/// psABI §3.2.3, step 4: merging the classes of two fields in one eightbyte.
fn merge(a: Class, b: Class) -> Class {
    use Class::*;
    match (a, b) {
        (x, y) if x == y => x,
        (NoClass, other) | (other, NoClass) => other,
        (Memory, _) | (_, Memory) => Memory,
        (Integer, _) | (_, Integer) => Integer,
        (x, y) if x.is_x87() || y.is_x87() => Memory,
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

/// The classes of a wide scalar's eightbytes placed `offset` bytes into an eightbyte
/// (gcc's `classify_argument` for its machine modes), or `None` for MEMORY.
fn wide_classes(w: Wide, offset: usize) -> Option<Vec<Class>> {
    use Class::*;
    if offset % w.align() != 0 {
        return None; // misaligned by `:pack`
    }
    Some(match w {
        Wide::LongDouble => vec![X87, X87Up],
        Wide::I128 | Wide::U128 => vec![Integer, Integer],
        // Like a struct of two floats: one eightbyte, or two when it starts at byte 4.
        Wide::ComplexF32 if offset == 0 => vec![Sse],
        Wide::ComplexF32 => vec![Sse, Sse],
        Wide::ComplexF64 => vec![Sse, Sse],
        Wide::ComplexLongDouble => vec![ComplexX87],
    })
}

/// The class of each eightbyte of a value of type `ty`, or `None` for MEMORY.
fn classify(ty: &Type) -> Option<Vec<Class>> {
    if let Type::Prim(p) = ty {
        return Some(vec![prim_class(*p)]);
    }
    if let Type::Wide(w) = ty {
        return wide_classes(*w, 0);
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
        Type::Wide(w) => wide_classes(*w, offset),
        _ if ty.size() > 64 => None,
        _ if words == 0 => Some(vec![Class::NoClass]),
        // A union's fields all start at its offset: each eightbyte merges the classes of
        // every field that overlaps it (psABI step 4), not those of the largest field.
        Type::Struct(s) | Type::Union(s) => {
            let mut classes = vec![Class::NoClass; words];
            for field in s.fields() {
                let at = offset + field.offset;
                let sub = classify_at(&field.ty, at % 8)?;
                for (slot, class) in classes.iter_mut().skip(at / 8).zip(sub) {
                    *slot = merge(*slot, class);
                }
            }
            post_merger_cleanup(classes)
        }
        Type::Array(a) => {
            let sub = classify_at(&a.elem, offset)?;
            Some((0..words).map(|i| sub[i % sub.len()]).collect())
        }
    }
}

/// psABI §3.2.3 step 5: MEMORY anywhere makes it all MEMORY, and so does an X87UP not
/// preceded by X87 (a union whose `long double` shares its high eightbyte). The SSEUP
/// rules concern classes that no type here has; the size rule is [`classify`]'s.
fn post_merger_cleanup(classes: Vec<Class>) -> Option<Vec<Class>> {
    let stray_x87up = (0..classes.len())
        .any(|i| classes[i] == Class::X87Up && (i == 0 || classes[i - 1] != Class::X87));
    (!classes.contains(&Class::Memory) && !stray_x87up).then_some(classes)
}

/// A result whose classes include an x87 one (psABI §3.2.3, "Returning of Values"): X87
/// then X87UP comes back in `st(0)`; COMPLEX_X87 has its real part in `st(0)` and its
/// imaginary part in `st(1)`. (Every other mix with an x87 class was made MEMORY by the
/// merge and the cleanup.)
fn x87_result(classes: &[Class]) -> RetPlan {
    let count = if classes.contains(&Class::ComplexX87) { 2 } else { 1 };
    RetPlan::X87 { count }
}

/// True for classes that an argument cannot take to a register: the x87 ones are
/// passed in memory (psABI: "the X87, X87UP and COMPLEX_X87 classes ... memory").
fn argument_in_memory(classes: &[Class]) -> bool {
    classes.iter().any(|c| c.is_x87())
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
    // Stack slots are eightbytes; a type aligned to 16 (long double, __int128, and
    // aggregates holding one) starts at a 16-byte boundary.
    let at = if ty.align() >= 16 {
        stack_add(*stack, ((16 - *stack % 16) % 16) as usize)?
    } else {
        *stack
    };
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

impl Convention for SysV {
    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    fn place(&self, sig: &Signature) -> Result<Placement> {
        let (mut ngrn, mut nsrn, mut stack) = (0u8, 0u8, 0u32);

        let ret = match classify(&sig.ret) {
            _ if sig.ret.is_void() => RetPlan::Void,
            None => {
                ngrn = 1; // the hidden result pointer takes rdi
                RetPlan::Indirect { pointer: Location::ArgGpr(0) }
            }
            Some(classes) if classes.iter().any(|c| c.is_x87()) => x87_result(&classes),
            Some(classes) => {
                let (mut int, mut sse) = (0, 0);
                RetPlan::Direct(eightbyte_parts(&sig.ret, &classes, |class| {
                    let (counter, make): (&mut u8, fn(u8) -> Location) = match class {
                        Class::Sse => (&mut sse, Location::Fpr),
                        _ => (&mut int, Location::RetGpr),
                    };
                    *counter += 1;
                    make(*counter - 1)
                }))
            }
        };
        let mut args = Vec::with_capacity(sig.params.len());
        for ty in &sig.params {
            let parts = match classify(ty) {
                Some(classes) if argument_in_memory(&classes) => stack_parts(ty, &mut stack)?,
                Some(classes) => {
                    let need_int = classes.iter().filter(|c| **c == Class::Integer).count() as u8;
                    let need_sse = classes.iter().filter(|c| **c == Class::Sse).count() as u8;
                    let fits = ngrn + need_int <= ARG_GPRS && nsrn + need_sse <= ARG_FPRS;
                    if fits {
                        eightbyte_parts(ty, &classes, |class| match class {
                            Class::Sse => {
                                nsrn += 1;
                                Location::Fpr(nsrn - 1)
                            }
                            _ => {
                                ngrn += 1;
                                Location::ArgGpr(ngrn - 1)
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

        Ok(Placement { args, ret, stack_bytes: stack })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::x86_64::test_util::*;
    use crate::plan::CallPlan;
    use crate::types::Member;
    use Location::{ArgGpr, Fpr, RetGpr, Stack};
    use Prim::*;

    fn plan(ret: Type, params: Vec<Type>) -> CallPlan {
        crate::arch::classify(&Signature::new(Abi::SysV64, ret, params)).unwrap()
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
        assert_eq!(direct(&plan, 0), [sext(ArgGpr(0))]); // e: rdi
        assert_eq!(direct(&plan, 1), [sext(ArgGpr(1))]); // f: rsi
        assert_eq!(direct(&plan, 2), [part(0, 8, ArgGpr(2)), fpart(8, 8, Fpr(0))]); // s: rdx, xmm0
        assert_eq!(direct(&plan, 3), [sext(ArgGpr(3))]); // g: rcx
        assert_eq!(direct(&plan, 4), [sext(ArgGpr(4))]); // h: r8
        assert_eq!(direct(&plan, 5), [fpart(0, 8, Fpr(1))]); // m: xmm1
        assert_eq!(direct(&plan, 6), [fpart(0, 8, Fpr(2))]); // n: xmm2
        assert_eq!(direct(&plan, 7), [sext(ArgGpr(5))]); // i: r9
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
            [part(0, 8, ArgGpr(0)), part(8, 4, ArgGpr(1))]
        );
        // struct { float x; int y; double z; }: INTEGER (merged), then SSE.
        let mixed = st(&[p(F32), p(I32), p(F64)]);
        assert_eq!(
            direct(&plan(Type::VOID, vec![mixed]), 0),
            [part(0, 8, ArgGpr(0)), fpart(8, 8, Fpr(0))]
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
            RetPlan::Direct(vec![part(0, 8, RetGpr(0)), fpart(8, 8, Fpr(0))])
        );
        let di = st(&[p(F64), p(I64)]);
        assert_eq!(
            plan(di, vec![]).ret,
            RetPlan::Direct(vec![fpart(0, 8, Fpr(0)), part(8, 8, RetGpr(0))])
        );
    }

    #[test]
    fn memory_results_pass_a_hidden_pointer_in_rdi() {
        let big = st(&[p(I64), p(I64), p(I64)]);
        let plan = plan(big, vec![p(I64)]);
        assert_eq!(plan.ret, RetPlan::Indirect { pointer: ArgGpr(0) });
        assert_eq!(direct(&plan, 0), [part(0, 8, ArgGpr(1))]);
    }

    #[test]
    fn memory_arguments_are_copied_onto_the_stack() {
        let big = st(&[p(I64), p(I64), p(I32)]);
        let plan = plan(Type::VOID, vec![p(I8), big, p(U16)]);
        assert_eq!(
            direct(&plan, 1),
            [part(0, 8, Stack(0)), part(8, 8, Stack(8)), part(16, 8, Stack(16))]
        );
        assert_eq!(direct(&plan, 2), [ext(part(0, 2, ArgGpr(1)), Extension::Zero)]);
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
        assert_eq!(plan(outer, vec![]).ret, RetPlan::Indirect { pointer: ArgGpr(0) });
        // Packed but aligned all the same: registers as usual.
        let aligned =
            Type::structure(&[Member::Field(p(I32)), Member::PackAll, Member::Field(p(I32))])
                .unwrap();
        assert_eq!(direct(&plan(Type::VOID, vec![aligned]), 0), [part(0, 8, ArgGpr(0))]);
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
        assert_eq!(direct(&plan, 6), [part(0, 8, ArgGpr(5))]);
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

/// The psABI §3.2.3 rules for the types beyond the first wave: x87 classes, unions,
/// 128-bit integers and complex numbers.
#[cfg(test)]
mod wide_and_union_tests {
    use super::*;
    use crate::arch::x86_64::test_util::*;
    use crate::types::Member;
    use Location::{ArgGpr, Fpr, RetGpr, Stack};
    use Prim::*;

    fn w(w: Wide) -> Type {
        Type::Wide(w)
    }
    fn union(fields: &[Type]) -> Type {
        let members: Vec<Member> = fields.iter().cloned().map(Member::Field).collect();
        Type::union(&members).unwrap()
    }
    fn arg(params: Vec<Type>, i: usize) -> Vec<Part> {
        match &crate::arch::classify(&Signature::new(Abi::SysV64, Type::VOID, params)).unwrap().args
            [i]
        {
            ArgPlan::Direct(parts) => parts.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn classes_of_the_wide_scalars() {
        use Class::*;
        assert_eq!(classify(&w(Wide::LongDouble)), Some(vec![X87, X87Up]));
        assert_eq!(classify(&w(Wide::I128)), Some(vec![Integer, Integer]));
        assert_eq!(classify(&w(Wide::ComplexF32)), Some(vec![Sse]));
        assert_eq!(classify(&w(Wide::ComplexF64)), Some(vec![Sse, Sse]));
        assert_eq!(classify(&w(Wide::ComplexLongDouble)), Some(vec![ComplexX87]));
        // struct { float f; float _Complex c; }: the complex straddles both eightbytes.
        let fc = st(&[p(F32), w(Wide::ComplexF32)]);
        assert_eq!(classify(&fc), Some(vec![Sse, Sse]));
    }

    #[test]
    fn a_union_merges_the_classes_of_every_overlapping_field() {
        use Class::*;
        // union { double d; struct { float a; int b; } s; }: eightbyte 0 is SSE merged
        // with INTEGER, so INTEGER, although the largest (first) field is a double.
        let u = union(&[p(F64), st(&[p(F32), p(I32)])]);
        assert_eq!(classify(&u), Some(vec![Integer]));
        // union { double d[2]; struct { double a; long b; } s; }: SSE, then INTEGER.
        let u = union(&[Type::array(p(F64), 2).unwrap(), st(&[p(F64), p(I64)])]);
        assert_eq!(classify(&u), Some(vec![Sse, Integer]));
        assert_eq!(arg(vec![u], 0), [fpart(0, 8, Fpr(0)), part(8, 8, ArgGpr(0))]);
        // All-float fields stay SSE: union { float f; double d; } in xmm0.
        let u = union(&[p(F32), p(F64)]);
        assert_eq!(arg(vec![u], 0), [fpart(0, 8, Fpr(0))]);
    }

    #[test]
    fn x87_classes_merged_with_others_make_memory() {
        // Step 4(e): union { long double ld; int i; } and union { long double; double; }.
        assert_eq!(classify(&union(&[w(Wide::LongDouble), p(I32)])), None);
        assert_eq!(classify(&union(&[w(Wide::LongDouble), p(F64)])), None);
        // union { long double ld; long double _Complex c; } is 32 bytes: MEMORY.
        assert_eq!(classify(&union(&[w(Wide::LongDouble), w(Wide::ComplexLongDouble)])), None);
        // Two long doubles merge to themselves.
        let u = union(&[w(Wide::LongDouble), st(&[w(Wide::LongDouble)])]);
        assert_eq!(classify(&u), Some(vec![Class::X87, Class::X87Up]));
    }

    #[test]
    fn x87up_not_preceded_by_x87_is_memory() {
        use Class::*;
        assert_eq!(post_merger_cleanup(vec![Integer, X87Up]), None);
        assert_eq!(post_merger_cleanup(vec![X87Up]), None);
        assert_eq!(post_merger_cleanup(vec![X87, X87Up]), Some(vec![X87, X87Up]));
    }

    #[test]
    fn x87_arguments_go_to_the_stack_aligned_to_16() {
        // void f(int, long double, double): the long double at stack+0, 16 bytes.
        let parts = arg(vec![p(I32), w(Wide::LongDouble), p(F64)], 1);
        assert_eq!(parts, [part(0, 8, Stack(0)), part(8, 8, Stack(8))]);
        assert_eq!(arg(vec![p(I32), w(Wide::LongDouble), p(F64)], 2), [fpart(0, 8, Fpr(0))]);
        // A long double after an 8-byte stack argument skips to stack+16.
        let mut params: Vec<Type> = (0..7).map(|_| p(I64)).collect();
        params.push(w(Wide::LongDouble));
        assert_eq!(arg(params, 7), [part(0, 8, Stack(16)), part(8, 8, Stack(24))]);
        // COMPLEX_X87 arguments: memory too, 32 bytes.
        let parts = arg(vec![w(Wide::ComplexLongDouble)], 0);
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[3].dest, Stack(24));
    }

    #[test]
    fn int128_takes_two_registers_or_the_stack_whole() {
        assert_eq!(arg(vec![w(Wide::I128)], 0), [part(0, 8, ArgGpr(0)), part(8, 8, ArgGpr(1))]);
        // Five integers leave one register: the __int128 goes to the stack, 16-aligned,
        // and the next integer still takes r9.
        let mut params: Vec<Type> = (0..5).map(|_| p(I64)).collect();
        params.extend([p(I64), w(Wide::U128), p(I64)]);
        params.swap(5, 6); // i64 x5, u128, i64, i64
        let plan = crate::arch::classify(&Signature::new(Abi::SysV64, Type::VOID, params)).unwrap();
        assert_eq!(plan.args[5], ArgPlan::Direct(vec![part(0, 8, Stack(0)), part(8, 8, Stack(8))]));
        assert_eq!(plan.args[6], ArgPlan::Direct(vec![part(0, 8, ArgGpr(5))]));
        assert_eq!(plan.args[7], ArgPlan::Direct(vec![part(0, 8, Stack(16))]));
    }

    #[test]
    fn complex_results_come_back_in_sse_registers() {
        let sig = |ret| Signature::new(Abi::SysV64, ret, vec![]);
        let plan = crate::arch::classify(&sig(w(Wide::ComplexF64))).unwrap();
        assert_eq!(plan.ret, RetPlan::Direct(vec![fpart(0, 8, Fpr(0)), fpart(8, 8, Fpr(1))]));
        // complex float: one SSE eightbyte, both parts in xmm0.
        let plan = crate::arch::classify(&sig(w(Wide::ComplexF32))).unwrap();
        assert_eq!(plan.ret, RetPlan::Direct(vec![fpart(0, 8, Fpr(0))]));
        let plan = crate::arch::classify(&sig(w(Wide::I128))).unwrap();
        assert_eq!(plan.ret, RetPlan::Direct(vec![part(0, 8, RetGpr(0)), part(8, 8, RetGpr(1))]));
    }

    /// psABI "Returning of Values": "If the class is X87, the value is returned on the X87
    /// stack in %st0 together with X87UP"; "If the class is COMPLEX_X87, the real part of
    /// the value is returned in %st0 and the imaginary part in %st1".
    #[test]
    fn x87_results_come_back_on_the_x87_stack() {
        let sig = |ret| Signature::new(Abi::SysV64, ret, vec![p(I32)]);
        let ret = |ty: Type| crate::arch::classify(&sig(ty)).unwrap();
        assert_eq!(ret(w(Wide::LongDouble)).ret, RetPlan::X87 { count: 1 });
        assert_eq!(ret(w(Wide::ComplexLongDouble)).ret, RetPlan::X87 { count: 2 });
        // A struct (or union) whose eightbytes are X87, X87UP: st(0) too.
        assert_eq!(ret(st(&[w(Wide::LongDouble)])).ret, RetPlan::X87 { count: 1 });
        let u = union(&[w(Wide::LongDouble), st(&[w(Wide::LongDouble)])]);
        assert_eq!(ret(u).ret, RetPlan::X87 { count: 1 });
        // No hidden pointer: the first argument still takes rdi.
        assert_eq!(
            ret(w(Wide::LongDouble)).args[0],
            ArgPlan::Direct(vec![ext(part(0, 4, ArgGpr(0)), Extension::Sign)])
        );
        // A struct with a long double and more is MEMORY: a hidden pointer, as usual; so
        // are a struct of a complex long double (32 bytes) and two long doubles.
        for ty in [
            st(&[w(Wide::LongDouble), p(I32)]),
            st(&[w(Wide::ComplexLongDouble)]),
            st(&[w(Wide::LongDouble), w(Wide::LongDouble)]),
            union(&[w(Wide::LongDouble), p(F64)]),
        ] {
            assert_eq!(ret(ty.clone()).ret, RetPlan::Indirect { pointer: ArgGpr(0) }, "{ty}");
        }
        // The plan prints where each value comes from.
        let text = ret(w(Wide::ComplexLongDouble)).to_string();
        assert!(text.contains("ret: st(0) -> [0..10]; st(1) -> [16..26]"), "{text}");
    }
}
