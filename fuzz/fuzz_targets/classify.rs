//! Fuzzes classification: an arbitrary signature of structs, arrays and primitives goes
//! through `classify` and `emit_thunk` of every convention jitcall has an engine for, and
//! the plan must keep the invariants that `check_plan` lists. A type jitcall refuses, or a
//! signature a convention refuses, is fine; a panic or a broken invariant is a bug.

#![no_main]

use std::collections::HashSet;

use arbitrary::Arbitrary;
use jitcall::internals::arch::{self, ArgSource, BlockLayout, CodeBuffer};
use jitcall::internals::KEYWORDS;
use jitcall::{Abi, Member, Signature, Type};
use jitcall::{ArgPlan, CallPlan, Location, Part, RetPlan};
use libfuzzer_sys::fuzz_target;

/// How deep aggregates nest: a struct holding an array of structs of arrays is 4.
const MAX_NESTING: usize = 4;
const MAX_ARRAY_LEN: usize = 40;
const MAX_PARAMS: usize = 40;
/// Signatures whose parameters add up to more bytes are skipped: not because they are
/// wrong, but because System V passes a big value in 8-byte pieces, which makes every
/// run slow.
const MAX_PARAM_BYTES: usize = 256 * 1024;

/// A type description as the fuzzer makes it up.
#[derive(Debug, Arbitrary)]
enum TypeTree {
    /// A primitive, by its index in `KEYWORDS`: any keyword, `:void` included.
    Prim(u8),
    Struct(Vec<MemberTree>),
    /// An element type and a length (taken modulo `MAX_ARRAY_LEN + 1`).
    Array(Box<TypeTree>, u8),
}

#[derive(Debug, Arbitrary)]
enum MemberTree {
    Field(TypeTree),
    Pack,
    PackAll,
}

#[derive(Debug, Arbitrary)]
struct Input {
    ret: TypeTree,
    params: Vec<TypeTree>,
}

impl TypeTree {
    /// The type this tree describes, or `None` when jitcall refuses it (a void field, an
    /// empty struct) or when it nests deeper than `MAX_NESTING`.
    fn build(&self, depth: usize) -> Option<Type> {
        match self {
            TypeTree::Prim(i) => Some(Type::Prim(KEYWORDS[usize::from(*i) % KEYWORDS.len()].1)),
            _ if depth >= MAX_NESTING => None,
            TypeTree::Struct(members) => {
                let members = members
                    .iter()
                    .map(|member| match member {
                        MemberTree::Field(tree) => tree.build(depth + 1).map(Member::Field),
                        MemberTree::Pack => Some(Member::Pack),
                        MemberTree::PackAll => Some(Member::PackAll),
                    })
                    .collect::<Option<Vec<Member>>>()?;
                Type::structure(&members).ok()
            }
            TypeTree::Array(elem, len) => {
                let len = usize::from(*len) % (MAX_ARRAY_LEN + 1);
                Type::array(elem.build(depth + 1)?, len).ok()
            }
        }
    }
}

fuzz_target!(|input: Input| {
    let ret = input.ret.build(0).unwrap_or(Type::VOID);
    let params: Vec<Type> =
        input.params.iter().take(MAX_PARAMS).filter_map(|tree| tree.build(0)).collect();
    let param_bytes = params.iter().fold(0usize, |sum, ty| sum.saturating_add(ty.size()));
    if param_bytes > MAX_PARAM_BYTES {
        return;
    }
    // The base conventions, whose invariants `check_plan` states. The AAPCS64 flavours pack
    // stack arguments at their natural size (so not in 8-byte slots) and place variadic
    // arguments their own way: tests/flavour_plans.rs and the flavour suites check them.
    for abi in [Abi::SysV64, Abi::Win64, Abi::Aapcs64] {
        let sig = Signature::new(abi, ret.clone(), params.clone());
        // A signature the convention cannot express (an array or void parameter, ...).
        let Ok(plan) = arch::classify(&sig) else { continue };
        // The call path's blocks: a plan the convention made always has them.
        let block = match BlockLayout::new(&sig) {
            Ok(block) => block,
            Err(e) => fail(&format!("no argument block: {e}"), &sig, &plan),
        };
        if let Err(problem) = check_plan(&sig, &plan, &block) {
            fail(&problem, &sig, &plan);
        }
        // The thunk generator refuses exactly the plans over its stack limit.
        let mut code = CodeBuffer::new();
        let emitted = arch::emit_thunk(&plan, ArgSource::Block(&block), None, &mut code);
        if emitted.is_ok() != (plan.stack_bytes <= convention(abi).max_stack_bytes) {
            let problem = format!("emit_thunk answered {emitted:?} for a plan of this stack area");
            fail(&problem, &sig, &plan);
        }
    }
});

/// Panics with the problem, the signature in Janet syntax and the plan.
fn fail(problem: &str, sig: &Signature, plan: &CallPlan) -> ! {
    let params: Vec<String> = sig.params.iter().map(Type::to_string).collect();
    panic!(
        "{problem}\nsignature: {} [{}] -> {}\nplan:\n{}",
        sig.abi,
        params.join(" "),
        sig.ret,
        plan
    );
}

/// `return Err(message)` unless the condition holds.
macro_rules! ensure {
    ($cond:expr, $($message:tt)+) => {
        if !$cond {
            return Err(format!($($message)+));
        }
    };
}

/// What a plan may use under a convention.
struct Convention {
    /// General and vector registers for arguments.
    arg_gprs: u8,
    arg_fprs: u8,
    /// General and vector registers for results.
    ret_gprs: u8,
    ret_fprs: u8,
    /// Where the address of a result returned in memory goes.
    ret_pointer: Location,
    /// The largest stack area the thunk generator accepts.
    max_stack_bytes: u32,
}

fn convention(abi: Abi) -> Convention {
    match abi {
        Abi::SysV64 => Convention {
            arg_gprs: 6,
            arg_fprs: 8,
            ret_gprs: 2,
            ret_fprs: 2,
            ret_pointer: Location::ArgGpr(0),
            max_stack_bytes: arch::MAX_STACK_BYTES,
        },
        Abi::Win64 => Convention {
            arg_gprs: 4,
            arg_fprs: 4,
            ret_gprs: 1,
            ret_fprs: 1,
            ret_pointer: Location::ArgGpr(0),
            max_stack_bytes: arch::MAX_STACK_BYTES,
        },
        Abi::Aapcs64 | Abi::Aapcs64Apple | Abi::Aapcs64Win => Convention {
            arg_gprs: 8,
            arg_fprs: 8,
            ret_gprs: 2,
            ret_fprs: 4,
            ret_pointer: Location::ArgGpr(8),
            max_stack_bytes: arch::MAX_STACK_BYTES,
        },
    }
}

/// Whether the convention may pass a value of this type by reference to a copy.
fn may_pass_by_reference(abi: Abi, ty: &Type) -> bool {
    let aggregate = !matches!(ty, Type::Prim(_));
    match abi {
        // MEMORY arguments are copied onto the stack, never passed by address.
        Abi::SysV64 => false,
        Abi::Win64 => aggregate && !matches!(ty.size(), 1 | 2 | 4 | 8),
        // Composites over 16 bytes (HFAs of up to 32 bytes may still go in registers).
        Abi::Aapcs64 | Abi::Aapcs64Apple | Abi::Aapcs64Win => aggregate && ty.size() > 16,
    }
}

/// The invariants of a plan:
/// - the argument block: offsets 16-aligned, images in order without overlap, inside it;
/// - each `Direct` argument or result: its parts' byte ranges do not overlap, lie within
///   the value, and cover every byte of every primitive leaf; the thunk's whole-register
///   loads and stores stay inside the value's 16-byte-rounded image;
/// - register indices within the convention's (see `convention`; Win64: one location per
///   argument, at its position, and one result register), no register used twice, stack
///   slots 8-aligned, disjoint and inside `stack_bytes`;
/// - `Indirect` only for aggregates (never on SysV; on Win64 exactly the aggregates of
///   sizes other than 1, 2, 4 and 8; on AAPCS64 only those over 16 bytes);
/// - SysV: `vector_count` is the number of vector registers the arguments use (others:
///   none).
fn check_plan(sig: &Signature, plan: &CallPlan, block: &BlockLayout) -> Result<(), String> {
    let conv = convention(sig.abi);
    ensure!(plan.abi == sig.abi, "the plan is for {}", plan.abi);
    ensure!(plan.args.len() == sig.params.len(), "{} argument plans", plan.args.len());
    check_block(sig, block)?;
    check_ret(sig, plan, block, &conv)?;

    // Every location the arguments (and a hidden result pointer) use.
    let mut used: Vec<Location> = Vec::new();
    if let RetPlan::Indirect { pointer } = plan.ret {
        used.push(pointer);
    }
    let first_position = used.len();
    for (i, (ty, arg)) in sig.params.iter().zip(&plan.args).enumerate() {
        let what = format!("argument {i} ({ty})");
        let locations: Vec<Location> = match arg {
            ArgPlan::Direct(parts) => {
                check_parts(&what, ty, parts, round_up_16(ty.size()), arg_load_width)?;
                parts.iter().map(|part| part.dest).collect()
            }
            ArgPlan::Indirect { pointer } => {
                ensure!(
                    may_pass_by_reference(sig.abi, ty),
                    "{what} is passed by reference on {}",
                    sig.abi
                );
                vec![*pointer]
            }
        };
        if sig.abi == Abi::Win64 {
            let by_reference = may_pass_by_reference(sig.abi, ty);
            ensure!(
                by_reference == matches!(arg, ArgPlan::Indirect { .. }),
                "{what} of {} bytes is {}passed by reference",
                ty.size(),
                if by_reference { "not " } else { "" }
            );
            let position = first_position + i;
            let expected = match position {
                0..=3 => Some(position as u8),
                _ => None,
            };
            let positional = match locations[..] {
                [Location::ArgGpr(n) | Location::Fpr(n)] => Some(n) == expected,
                [Location::Stack(offset)] => {
                    expected.is_none() && offset as usize == 8 * (position - 4)
                }
                _ => false,
            };
            ensure!(positional, "{what} at position {position} goes to {locations:?}");
        }
        for &location in &locations {
            let fits = match location {
                Location::ArgGpr(n) => n < conv.arg_gprs,
                // An argument never goes to a result register.
                Location::RetGpr(_) => false,
                Location::Fpr(n) => n < conv.arg_fprs,
                Location::Stack(offset) => {
                    offset.is_multiple_of(8) && u64::from(offset) + 8 <= u64::from(plan.stack_bytes)
                }
            };
            ensure!(fits, "{what} goes to {location}, out of range");
        }
        used.extend(locations);
    }

    // No register or 8-byte stack slot is used twice (stack offsets are 8-aligned above).
    let mut seen = HashSet::new();
    for location in &used {
        ensure!(seen.insert(location), "{location} is used twice");
    }
    ensure!(
        plan.stack_bytes.is_multiple_of(8),
        "stack_bytes {} is not 8-aligned",
        plan.stack_bytes
    );

    let vectors = used.iter().filter(|location| matches!(location, Location::Fpr(_))).count();
    let expected = match sig.abi {
        Abi::SysV64 => Some(vectors as u8),
        _ => None,
    };
    ensure!(
        plan.vector_count == expected,
        "vector_count is {:?}, the arguments use {vectors} vector registers",
        plan.vector_count
    );
    Ok(())
}

/// Each argument's image at a 16-aligned offset, after the previous one, inside the block.
fn check_block(sig: &Signature, block: &BlockLayout) -> Result<(), String> {
    let offsets = &block.offsets;
    ensure!(offsets.len() == sig.params.len(), "{} block offsets", offsets.len());
    let mut end = 0;
    for (i, (ty, &offset)) in sig.params.iter().zip(offsets).enumerate() {
        let offset = offset as usize;
        ensure!(offset.is_multiple_of(16), "argument {i} is at block offset {offset}");
        ensure!(offset >= end, "argument {i} at block offset {offset} overlaps the one before");
        end = offset + ty.size();
    }
    ensure!(end <= block.size as usize, "the block of {} bytes ends early", block.size);
    Ok(())
}

fn check_ret(
    sig: &Signature,
    plan: &CallPlan,
    blocks: &BlockLayout,
    conv: &Convention,
) -> Result<(), String> {
    let ty = &sig.ret;
    let block = blocks.ret_size as usize;
    ensure!(block >= ty.size(), "the return block of {block} bytes is too small for {ty}");
    match &plan.ret {
        RetPlan::Void => ensure!(ty.is_void(), "the result {ty} is void"),
        RetPlan::X87 { count } => {
            ensure!(sig.abi == Abi::SysV64, "an x87 result under {}", sig.abi.name());
            ensure!(block >= 16 * usize::from(*count), "{count} x87 values in {block} bytes");
        }
        RetPlan::Indirect { pointer } => {
            ensure!(!matches!(ty, Type::Prim(_)), "the result {ty} is returned in memory");
            ensure!(*pointer == conv.ret_pointer, "the result pointer is in {pointer}");
        }
        RetPlan::Direct(parts) => {
            check_parts("the result", ty, parts, block, ret_store_width)?;
            if sig.abi == Abi::Win64 {
                ensure!(parts.len() == 1, "the result comes back in {} registers", parts.len());
            }
            for part in parts {
                let fits = match part.dest {
                    Location::RetGpr(n) => n < conv.ret_gprs,
                    Location::Fpr(n) => n < conv.ret_fprs,
                    Location::ArgGpr(_) | Location::Stack(_) => false,
                };
                ensure!(fits, "the result comes back in {}, out of range", part.dest);
            }
        }
    }
    Ok(())
}

/// The parts of one value of type `ty`: within it, disjoint, covering every byte of every
/// primitive leaf, and with the bytes the thunk moves (`width` of a part) within `image`.
fn check_parts(
    what: &str,
    ty: &Type,
    parts: &[Part],
    image: usize,
    width: fn(&Part) -> usize,
) -> Result<(), String> {
    let size = ty.size();
    let mut covered = vec![false; size];
    for part in parts {
        let start = part.offset as usize;
        let end = start + usize::from(part.size);
        ensure!((1..=8).contains(&part.size), "{what}: part [{start}..{end}] is not 1 to 8 bytes");
        ensure!(end <= size, "{what}: part [{start}..{end}] is past the value's {size} bytes");
        ensure!(
            start + width(part) <= image,
            "{what}: the thunk moves {} bytes at {start}, past the {image}-byte image",
            width(part)
        );
        for (byte, seen) in covered[start..end].iter_mut().enumerate() {
            ensure!(!*seen, "{what}: byte {} is in two parts", start + byte);
            *seen = true;
        }
    }
    let mut missing = None;
    ty.for_each_leaf(0, &mut |prim, offset| {
        let uncovered = (offset..offset + prim.size()).find(|&b| covered.get(b) != Some(&true));
        if let (None, Some(byte)) = (missing, uncovered) {
            missing = Some((prim, offset, byte));
        }
    });
    if let Some((prim, offset, byte)) = missing {
        return Err(format!(
            "{what}: byte {byte} (of the :{} at offset {offset}) is in no part",
            prim.keyword()
        ));
    }
    Ok(())
}

/// Bytes the thunk reads from the argument block for an argument part: narrow integers
/// exactly, floats as `movss` / `movsd`, anything else as a whole 8-byte register.
fn arg_load_width(part: &Part) -> usize {
    match (part.dest, part.size) {
        (Location::Fpr(_), 4) => 4,
        (Location::Fpr(_), _) => 8,
        (_, size @ (1 | 2 | 4)) => usize::from(size),
        _ => 8,
    }
}

/// Bytes the thunk writes into the return block for a result part: whole registers.
fn ret_store_width(part: &Part) -> usize {
    match (part.dest, part.size) {
        (Location::Fpr(_), 4) => 4,
        _ => 8,
    }
}

fn round_up_16(size: usize) -> usize {
    size.div_ceil(16).max(1) * 16
}
