//! The C side alone, before jitcall is involved: for every generated signature of both
//! flavours, a clang-compiled driver calls a clang-compiled callee of the same flavour
//! with the case's values. The callee checks every argument byte, the driver every byte
//! of the result, so a pass shows that the generated C, its layout assertions and the
//! Mach-O / COFF to ELF rewrite are right, and that the jitcall suites' expectations are
//! what clang itself does (run under qemu-aarch64: scripts/test-flavours).
#![cfg(target_arch = "aarch64")]

use std::collections::BTreeSet;

use jitcall_flavour_conformance::{
    conf_fail, conf_last, conf_reset, SelfCheck, CALLBACK_CASES, CASES, FLAVOURS, SELF_CHECKS,
    UNION_CALLBACK_CASES, UNION_CASES, VARIADIC_CASES, WIDE_CALLBACK_CASES, WIDE_CASES,
};

/// Runs one pair; `Err` says what went wrong.
fn run(check: &SelfCheck) -> Result<(), String> {
    // SAFETY: `driver` is `int driver(RET (*fp)(ARGS))` and `callee` has exactly that
    // signature, both compiled for the same flavour (one generator wrote both). A call
    // with one pointer argument and an int result is the same in the Linux, Apple and
    // Windows conventions, so Rust's "C" convention reaches the driver correctly.
    let code = unsafe {
        let driver: unsafe extern "C" fn(*const ()) -> i32 = std::mem::transmute(check.driver);
        conf_reset(check.abi);
        driver(check.callee as *const ())
    };
    let (fail, last) = (conf_fail(check.abi), conf_last(check.abi));
    let mut problems = Vec::new();
    if code != 0 {
        problems.push(format!("result leaf {} came back wrong", code - 1));
    }
    if fail != 0 {
        problems.push(format!("argument {} arrived wrong (conf_fail {fail})", fail % 100 - 1));
    }
    if last != check.id as i32 {
        problems.push(format!("the callee did not run (last id {last})"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{} {} ({}): {}", check.kind, check.name, check.abi, problems.join("; ")))
    }
}

/// The self-check's kinds of pair (`SelfCheck::kind`).
const KINDS: [&str; 7] =
    ["call", "variadic", "callback", "wide call", "wide callback", "union call", "union callback"];

/// One test, so that the callees' globals are never used from two threads at once.
#[test]
fn clang_callers_reach_clang_callees_intact() {
    let failures: Vec<String> = SELF_CHECKS.iter().filter_map(|c| run(c).err()).collect();
    for abi in FLAVOURS {
        for kind in KINDS {
            let n = SELF_CHECKS.iter().filter(|c| c.abi == abi && c.kind == kind).count();
            println!("{abi}: {n} {kind} self-checks");
        }
    }
    println!("{} self-checks, {} failed", SELF_CHECKS.len(), failures.len());
    let shown: Vec<&String> = failures.iter().take(30).collect();
    assert!(failures.is_empty(), "{} failures:\n{shown:#?}", failures.len());
}

/// The counts the issues ask for: at least 500 call and 500 callback signatures per
/// flavour, variadic ones too, at least 200 each way with a wide type or a union, and
/// nearly all of them in the self-check.
#[test]
fn every_flavour_has_its_cases() {
    for abi in FLAVOURS {
        let calls = CASES.iter().filter(|c| c.abi == abi).count();
        let variadic = VARIADIC_CASES.iter().filter(|c| c.abi == abi).count();
        let callbacks = CALLBACK_CASES.iter().filter(|c| c.abi == abi).count();
        println!("{abi}: {calls} calls, {variadic} variadic calls, {callbacks} callbacks");
        assert!(calls >= 500 && callbacks >= 500 && variadic >= 250, "{abi}");
        let wide_calls = WIDE_CASES.iter().filter(|c| c.abi == abi).count();
        let wide_callbacks = WIDE_CALLBACK_CASES.iter().filter(|c| c.abi == abi).count();
        let union_calls = UNION_CASES.iter().filter(|c| c.abi == abi).count();
        let union_callbacks = UNION_CALLBACK_CASES.iter().filter(|c| c.abi == abi).count();
        println!(
            "{abi}: {wide_calls} wide calls, {wide_callbacks} wide callbacks, \
             {union_calls} union calls, {union_callbacks} union callbacks"
        );
        // At least 200 each way with a 128-bit integer, a complex number or a union.
        assert!(wide_calls + union_calls >= 200, "{abi}");
        assert!(wide_callbacks + union_callbacks >= 200, "{abi}");
        // All but the Windows variadic cases that clang 16's caller gets wrong.
        let checked = SELF_CHECKS.iter().filter(|c| c.abi == abi).count();
        let wide = wide_calls + wide_callbacks + union_calls + union_callbacks;
        let total = calls + variadic + callbacks + wide;
        assert!(checked * 50 >= total * 49, "{abi}: {checked} of {total} self-checked");
    }
}

/// What a wide or union signature has, for the coverage test: each wide kind as an early
/// and a late (stack) argument and as a result, wide types inside structs and arrays;
/// unions as arguments (early, late), results and struct fields, with wide members, in
/// both value forms.
fn traits(params: &[&str], args: &[&str], ret: &str, out: &mut BTreeSet<String>) {
    const KINDS: [&str; 4] = ["int128", "uint128", "complex-float", "complex-double"];
    let wide = |t: &str| KINDS.iter().any(|k| t.contains(&format!(":{k}")));
    for (i, (t, a)) in params.iter().zip(args).enumerate() {
        let at = if i >= 8 { "late arg" } else { "arg" };
        if let Some(k) = t.strip_prefix(':') {
            out.insert(format!("{at} {k}"));
        } else if t.starts_with("[:union") {
            out.insert(format!("{at} union"));
            let form = if a.starts_with('"') { "bytes" } else { "[I V]" };
            out.insert(format!("union argument as {form}"));
            if wide(t) {
                out.insert("union with a wide member".into());
            }
        } else if t.contains(":union") {
            out.insert("struct with a union".into());
        } else if wide(t) {
            out.insert("wide in a struct".into());
            if t.contains("@[:int128") || t.contains("@[:uint128") || t.contains("@[:complex") {
                out.insert("wide in an array".into());
            }
        }
    }
    if let Some(k) = ret.strip_prefix(':') {
        out.insert(format!("ret {k}"));
    } else if ret.starts_with("[:union") {
        out.insert("ret union".into());
    }
}

#[test]
fn the_wide_and_union_mix_covers_every_type_and_place() {
    let mut wanted: Vec<String> = [
        "wide in a struct",
        "wide in an array",
        "arg union",
        "late arg union",
        "ret union",
        "struct with a union",
        "union with a wide member",
        "union argument as bytes",
        "union argument as [I V]",
    ]
    .map(String::from)
    .to_vec();
    for k in ["int128", "uint128", "complex-float", "complex-double"] {
        wanted.extend([format!("arg {k}"), format!("late arg {k}"), format!("ret {k}")]);
    }
    for abi in FLAVOURS {
        let mut seen = BTreeSet::new();
        for c in WIDE_CASES.iter().chain(UNION_CASES).filter(|c| c.abi == abi) {
            traits(c.params, c.args, c.ret, &mut seen);
        }
        let callbacks = WIDE_CALLBACK_CASES.iter().chain(UNION_CALLBACK_CASES);
        for c in callbacks.filter(|c| c.abi == abi) {
            traits(c.params, c.args, c.ret, &mut seen);
        }
        let missing: Vec<_> = wanted.iter().filter(|w| !seen.contains(*w)).collect();
        assert!(missing.is_empty(), "{abi}: never {missing:?}");
        // Nothing the flavours' C lacks.
        assert!(!seen.iter().any(|s| s.contains("long-double")), "{abi}");
    }
}
