//! The signature cache's bound (`CompiledSignature::set_cache_capacity`, `clear_cache`):
//! a program that makes signatures without end keeps a bounded cache and bounded memory,
//! and signatures it still holds keep working after the cache dropped them. One test in
//! its own binary: the bound is process-wide.

use jitcall::{ffi, Abi, CompiledSignature, Pointer, Prim, Type, Value};

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

/// Ignores its arguments: in every convention jitcall has, the caller cleans up, so any
/// arguments may be passed to it.
extern "C" fn ignores_everything() {}

/// The n-th distinct signature (n < 100,000): five parameters, the digits of `n`.
fn nth_signature(n: usize) -> (CompiledSignature, Vec<Value>) {
    let mut digits = n;
    let (params, args): (Vec<Type>, Vec<Value>) = (0..5)
        .map(|_| {
            let prim = PARAM_TYPES[digits % 10];
            digits /= 10;
            let value = match prim {
                Prim::Ptr => Value::Nil,
                _ => Value::Number(1.0),
            };
            (Type::Prim(prim), value)
        })
        .unzip();
    let sig = ffi::signature(Abi::host().unwrap(), Type::Prim(Prim::Void), params).unwrap();
    (sig, args)
}

fn call_once(sig: &CompiledSignature, args: &[Value]) {
    let target = Pointer::from_ptr(ignores_everything as *const ());
    // SAFETY: `ignores_everything` takes no arguments, so any call of it is sound.
    assert_eq!(unsafe { ffi::call(target, sig, args) }.unwrap(), Value::Nil);
}

#[cfg(target_os = "linux")]
fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    statm.split_whitespace().nth(1).unwrap().parse::<usize>().unwrap() * 4096
}

#[test]
fn a_bounded_cache_bounds_memory_and_keeps_held_signatures_working() {
    CompiledSignature::set_cache_capacity(Some(500));
    let (held, held_args) = nth_signature(0);
    for n in 1..2_000 {
        let (sig, args) = nth_signature(n);
        call_once(&sig, &args);
        assert!(CompiledSignature::cache_len() <= 500);
    }
    assert_eq!(CompiledSignature::cache_len(), 500);
    // Long evicted, still callable, and compiled anew (and cached again) when made again.
    call_once(&held, &held_args);
    let (again, _) = nth_signature(0);
    assert_eq!(again.plan(), held.plan());
    drop((held, again));

    // Memory stays bounded while signatures keep coming: 20,000 more, made, called once
    // and dropped, grow the resident set by far less than keeping them would (about
    // 1 kB each; see thunk_memory.rs).
    #[cfg(target_os = "linux")]
    {
        let before = resident_bytes();
        for n in 10_000..30_000 {
            let (sig, args) = nth_signature(n);
            call_once(&sig, &args);
        }
        let growth = resident_bytes().saturating_sub(before);
        assert!(
            growth < 4 << 20,
            "20,000 signatures past the bound grew the resident set by {growth} bytes"
        );
    }

    CompiledSignature::clear_cache();
    assert_eq!(CompiledSignature::cache_len(), 0);
    CompiledSignature::set_cache_capacity(Some(0));
    let (sig, args) = nth_signature(77);
    call_once(&sig, &args);
    assert_eq!(CompiledSignature::cache_len(), 0);
    CompiledSignature::set_cache_capacity(None);
    let (sig, args) = nth_signature(78);
    call_once(&sig, &args);
    assert_eq!(CompiledSignature::cache_len(), 1);
}
