//! The C side alone, before jitcall is involved: for every generated signature of both
//! flavours, a clang-compiled driver calls a clang-compiled callee of the same flavour
//! with the case's values. The callee checks every argument byte, the driver every byte
//! of the result, so a pass shows that the generated C, its layout assertions and the
//! Mach-O / COFF to ELF rewrite are right, and that the jitcall suites' expectations are
//! what clang itself does (run under qemu-aarch64: scripts/test-flavours).
#![cfg(target_arch = "aarch64")]

use jitcall_flavour_conformance::{
    conf_fail, conf_last, conf_reset, SelfCheck, CALLBACK_CASES, CASES, FLAVOURS, SELF_CHECKS,
    VARIADIC_CASES,
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

/// One test, so that the callees' globals are never used from two threads at once.
#[test]
fn clang_callers_reach_clang_callees_intact() {
    let failures: Vec<String> = SELF_CHECKS.iter().filter_map(|c| run(c).err()).collect();
    for abi in FLAVOURS {
        for kind in ["call", "variadic", "callback"] {
            let n = SELF_CHECKS.iter().filter(|c| c.abi == abi && c.kind == kind).count();
            println!("{abi}: {n} {kind} self-checks");
        }
    }
    println!("{} self-checks, {} failed", SELF_CHECKS.len(), failures.len());
    let shown: Vec<&String> = failures.iter().take(30).collect();
    assert!(failures.is_empty(), "{} failures:\n{shown:#?}", failures.len());
}

/// The counts the issue asks for: at least 500 call and 500 callback signatures per
/// flavour, variadic ones too, and nearly all of them in the self-check.
#[test]
fn every_flavour_has_its_cases() {
    for abi in FLAVOURS {
        let calls = CASES.iter().filter(|c| c.abi == abi).count();
        let variadic = VARIADIC_CASES.iter().filter(|c| c.abi == abi).count();
        let callbacks = CALLBACK_CASES.iter().filter(|c| c.abi == abi).count();
        println!("{abi}: {calls} calls, {variadic} variadic calls, {callbacks} callbacks");
        assert!(calls >= 500 && callbacks >= 500 && variadic >= 250, "{abi}");
        // All but the Windows variadic cases that clang 16's caller gets wrong.
        let checked = SELF_CHECKS.iter().filter(|c| c.abi == abi).count();
        let total = calls + variadic + callbacks;
        assert!(checked * 50 >= total * 49, "{abi}: {checked} of {total} self-checked");
    }
}
