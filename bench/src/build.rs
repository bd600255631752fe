//! Building thunks: a signature never seen before (the cache misses, a thunk is
//! classified, emitted and staged) and one already built (the cache hits).

use std::sync::atomic::{AtomicU64, Ordering};

use jitcall::{ffi, CompiledSignature, Member, Prim, Type};

use crate::cases::{host, mixed10_params};

/// The primitive types a fresh signature is spelled with, one per decimal digit.
const DIGITS: [Prim; 10] = [
    Prim::I8,
    Prim::U8,
    Prim::I16,
    Prim::U16,
    Prim::I32,
    Prim::U32,
    Prim::I64,
    Prim::U64,
    Prim::F32,
    Prim::F64,
];

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A result and parameter types that no earlier call in this process returned: the
/// decimal digits of a counter (at least six) pick the types of three scalar parameters
/// and of the fields of a struct parameter: `int(P0, P1, P2, struct{P3, P4, P5, ...})`.
/// The struct is 3 to 24 bytes, so some go in registers and some in memory.
pub fn fresh_signature() -> (Type, Vec<Type>) {
    let mut n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut digits = Vec::with_capacity(8);
    while digits.len() < 6 || n > 0 {
        digits.push(DIGITS[(n % 10) as usize]);
        n /= 10;
    }
    let fields: Vec<Member> = digits[3..].iter().map(|&p| Member::Field(Type::Prim(p))).collect();
    let mut params: Vec<Type> = digits[..3].iter().map(|&p| Type::Prim(p)).collect();
    params.push(Type::structure(&fields).expect("a valid struct"));
    (Type::Prim(Prim::I32), params)
}

/// The signature of the `mixed10` case (built once here, so later fetches hit the cache).
pub fn cached_signature() -> (Type, Vec<Type>) {
    let sig = (Type::Prim(Prim::F64), mixed10_params());
    build(sig.clone());
    sig
}

/// `ffi::signature_by_ref` in the host's C convention: the cache hit with the types
/// borrowed (the lookup copies, allocates and frees nothing).
#[inline(always)]
pub fn build_by_ref((ret, params): &(Type, Vec<Type>)) -> CompiledSignature {
    ffi::signature_by_ref(host(), ret, params).expect("the signature compiles")
}

/// `ffi::signature` in the host's C convention.
#[inline(always)]
pub fn build((ret, params): (Type, Vec<Type>)) -> CompiledSignature {
    ffi::signature(host(), ret, params).expect("the signature compiles")
}
