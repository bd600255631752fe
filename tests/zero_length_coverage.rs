//! The generated conformance suites (`cargo test --test conformance` and
//! `--test callback_conformance`) exercise zero-length array members (`T f[0]`) in every
//! convention: as parameters and as results, inside an eightbyte and on its boundary,
//! and packed, which is where gcc's classification of them differs from ignoring them.

use std::collections::BTreeSet;

use jitcall::{ffi, syntax, Type};
use jitcall_conformance_c::{CALLBACK_CASES, CASES};

fn ty(text: &str) -> Type {
    let value = syntax::read(text).unwrap_or_else(|e| panic!("reading {text}: {e}"));
    ffi::native_type(&value).unwrap_or_else(|e| panic!("type {text}: {e}"))
}

/// The kinds of zero-length member in `t` at `offset`: "mid-eightbyte" or "boundary".
fn zero_length_kinds(t: &Type, offset: usize, out: &mut BTreeSet<&'static str>) {
    match t {
        Type::Prim(_) | Type::Wide(_) => {}
        Type::Struct(s) | Type::Union(s) => {
            for f in s.fields() {
                zero_length_kinds(&f.ty, offset + f.offset, out);
            }
        }
        Type::Array(a) if a.len == 0 => {
            out.insert(if offset % 8 == 0 { "boundary" } else { "mid-eightbyte" });
        }
        Type::Array(a) => zero_length_kinds(&a.elem, offset, out),
    }
}

/// Every kind wanted, as parameter and result, for each convention in `cases`.
fn check(suite: &str, cases: &[(&str, &str, &[&str])]) {
    let abis: BTreeSet<&str> = cases.iter().map(|c| c.0).collect();
    for abi in abis {
        let mut seen = BTreeSet::new();
        for &(_, ret, params) in cases.iter().filter(|c| c.0 == abi) {
            for (slot, text) in params.iter().map(|p| ("parameter", *p)).chain([("result", ret)]) {
                let mut kinds = BTreeSet::new();
                zero_length_kinds(&ty(text), 0, &mut kinds);
                for kind in &kinds {
                    seen.insert(format!("{slot} {kind}"));
                    if text.contains(":pack") {
                        seen.insert(format!("{slot} packed"));
                    }
                }
            }
        }
        for slot in ["parameter", "result"] {
            for kind in ["mid-eightbyte", "boundary", "packed"] {
                let want = format!("{slot} {kind}");
                assert!(seen.contains(&want), "{suite} {abi}: no {want} zero-length member");
            }
        }
    }
}

#[test]
fn callee_cases_have_zero_length_members() {
    let cases: Vec<_> = CASES.iter().map(|c| (c.abi, c.ret, c.params)).collect();
    assert!(!cases.is_empty());
    check("cases", &cases);
}

#[test]
fn callback_cases_have_zero_length_members() {
    let cases: Vec<_> = CALLBACK_CASES.iter().map(|c| (c.abi, c.ret, c.params)).collect();
    assert!(!cases.is_empty());
    check("callback cases", &cases);
}
