//! `ffi::signature_by_ref`: the lookup by borrowed types finds the signature `ffi::signature`
//! compiled (and the reverse), and never another one. In its own binary: the signature
//! cache is process-wide.

use jitcall::{ffi, Abi, CompiledSignature, Member, Prim, Type};

fn p(prim: Prim) -> Type {
    Type::Prim(prim)
}

fn same(a: &CompiledSignature, b: &CompiledSignature) -> bool {
    std::ptr::eq(a.plan(), b.plan())
}

fn pair() -> Type {
    Type::structure(&[Member::Field(p(Prim::F64)), Member::Field(p(Prim::I32))]).unwrap()
}

#[test]
fn the_borrowed_lookup_finds_what_signature_compiled_and_the_reverse() {
    let abi = Abi::host().unwrap();
    let params = vec![p(Prim::I32), pair(), p(Prim::Ptr)];
    let owned = ffi::signature(abi, p(Prim::F64), params.clone()).unwrap();
    let borrowed = ffi::signature_by_ref(abi, &p(Prim::F64), &params).unwrap();
    assert!(same(&owned, &borrowed));
    // An equal struct built again (another allocation) is the same signature.
    let rebuilt = [p(Prim::I32), pair(), p(Prim::Ptr)];
    assert!(same(&owned, &ffi::signature_by_ref(abi, &p(Prim::F64), &rebuilt).unwrap()));

    let fresh = [p(Prim::U16), pair(), p(Prim::I8), p(Prim::F32)];
    let first = ffi::signature_by_ref(abi, &pair(), &fresh).unwrap();
    assert_eq!(first.signature().params, fresh);
    assert_eq!(first.signature().ret, pair());
    assert!(same(&first, &ffi::signature(abi, pair(), fresh.to_vec()).unwrap()));
    assert!(same(&first, &ffi::signature_by_ref(abi, &pair(), &fresh).unwrap()));
}

#[test]
fn the_borrowed_lookup_never_returns_another_signature() {
    let abi = Abi::host().unwrap();
    let prims = [Prim::I8, Prim::U8, Prim::I16, Prim::U16, Prim::I32, Prim::F32, Prim::F64];
    // More signatures than a thread's cache has slots, so slots are shared, each looked
    // up twice, with results and orders that differ.
    let signatures: Vec<(Type, Vec<Type>)> = (0..300)
        .map(|n: usize| {
            let ret = p(prims[n % prims.len()]);
            let params = (0..1 + n % 4).map(|i| p(prims[(n / 7 + i) % prims.len()])).collect();
            (ret, params)
        })
        .collect();
    for _ in 0..2 {
        for (ret, params) in &signatures {
            let sig = ffi::signature_by_ref(abi, ret, params).unwrap();
            assert_eq!((&sig.signature().ret, &sig.signature().params), (ret, params));
            assert_eq!(sig.signature().abi, abi);
            assert_eq!(sig.signature().fixed, None);
        }
    }
}

#[test]
fn a_convention_the_host_cannot_run_fails_as_signature_fails() {
    let Some(foreign) = Abi::ALL.into_iter().find(|abi| !abi.runs_on_host()) else { return };
    let by_ref = ffi::signature_by_ref(foreign, &p(Prim::I32), &[p(Prim::I32)]).unwrap_err();
    let owned = ffi::signature(foreign, p(Prim::I32), vec![p(Prim::I32)]).unwrap_err();
    assert_eq!(by_ref.to_string(), owned.to_string());
}

/// Signatures with the same types but errno handling or a variadic part are other
/// signatures: the borrowed lookup (a plain, fixed one) never returns them, however many
/// of them the caches hold.
#[test]
fn the_borrowed_lookup_tells_errno_and_variadic_signatures_apart() {
    use jitcall::{Errno, Signature};
    let abi = Abi::host().unwrap();
    for n in 1..40 {
        let params: Vec<Type> =
            (0..n).map(|i| p(if i % 2 == 0 { Prim::I32 } else { Prim::F64 })).collect();
        let errno = Signature::new(abi, p(Prim::I64), params.clone()).with_errno(Errno::Capture);
        let errno = CompiledSignature::new(errno).unwrap();
        let variadic =
            Signature::variadic(abi, p(Prim::I64), params[..1].to_vec(), params[1..].to_vec());
        let variadic = CompiledSignature::new(variadic).unwrap();
        let plain = ffi::signature_by_ref(abi, &p(Prim::I64), &params).unwrap();
        assert_eq!(plain.signature().errno, Errno::Ignore, "{n} parameters");
        assert_eq!(plain.signature().fixed, None, "{n} parameters");
        assert!(!same(&plain, &errno) && !same(&plain, &variadic), "{n} parameters");
    }
}
