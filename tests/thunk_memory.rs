//! Memory per compiled signature: many distinct signatures, each made and called once in
//! turn (the worst case for packing code), must cost about their code and plan, not a
//! page or a chunk each. Its own test binary, so that no other test's allocations are
//! counted; RSS from /proc/self/statm.
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

use jitcall::{ffi, Abi, CompiledSignature, Pointer, Prim, Type, Value};

/// Parameter types: signature `n` takes five of them, the digits of `n` in base 10.
const PARAM_TYPES: [Prim; 10] = [
    Prim::I8,
    Prim::U8,
    Prim::I16,
    Prim::U16,
    Prim::I32,
    Prim::U32,
    Prim::I64,
    Prim::F32,
    Prim::F64,
    Prim::Ptr,
];

/// Ignores its arguments: under System V a caller may pass any arguments to it.
extern "sysv64" fn ignores_everything() {}

/// The n-th distinct signature (n < 100,000), with arguments for it.
fn nth_signature(n: usize) -> (Vec<Type>, Vec<Value>) {
    let mut digits = n;
    (0..5)
        .map(|_| {
            let prim = PARAM_TYPES[digits % 10];
            digits /= 10;
            let value = match prim {
                Prim::F32 | Prim::F64 => Value::Number(0.5),
                Prim::Ptr => Value::Pointer(Pointer::NULL),
                _ => Value::Number(1.0),
            };
            (Type::Prim(prim), value)
        })
        .unzip()
}

/// Resident set size in bytes (/proc/self/statm's second field is in pages).
fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Makes signatures `from..to`, calling each once right after making it and keeping them
/// all, and returns them with the growth of the resident set meanwhile.
fn growth_making_and_calling(range: std::ops::Range<usize>) -> (Vec<CompiledSignature>, usize) {
    let target = Pointer::from_ptr(ignores_everything as *const ());
    let mut kept = Vec::with_capacity(range.len());
    let before = resident_bytes();
    for n in range {
        let (params, args) = nth_signature(n);
        let sig = ffi::signature(Abi::SysV64, Type::Prim(Prim::Void), params).unwrap();
        // SAFETY: `ignores_everything` takes no arguments and returns nothing, so any
        // System V call of it is sound.
        let got = unsafe { ffi::call(target, &sig, &args) }.unwrap();
        assert_eq!(got, Value::Nil);
        kept.push(sig);
    }
    (kept, resident_bytes().saturating_sub(before))
}

/// The target: 100,000 signatures in under 150 MB, so 1,500 bytes each.
const BYTES_PER_SIGNATURE: usize = 1_500;

#[test]
fn distinct_signatures_made_and_called_in_turn_cost_about_their_code() {
    // A first batch warms up the allocator and the caches' tables.
    let _warm_up = growth_making_and_calling(0..1_000);
    let count = 20_000;
    let (_kept, growth) = growth_making_and_calling(1_000..1_000 + count);
    assert!(
        growth < count * BYTES_PER_SIGNATURE,
        "{count} signatures grew the resident set by {growth} bytes ({} each)",
        growth / count
    );
}

/// The figure for 100,000 signatures, by hand and in release mode:
/// `cargo test --release --test thunk_memory -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, run by hand"]
fn measure_100k_signatures() {
    let before = resident_bytes();
    let (_kept, growth) = growth_making_and_calling(0..100_000);
    println!(
        "100,000 signatures made and called once: resident set {} MB -> {} MB (+{} MB, {} bytes each)",
        before >> 20,
        (before + growth) >> 20,
        growth >> 20,
        growth / 100_000
    );
}
