//! Janet's `examples/ffi/test.janet` calls (spec §9.2) with its exact expected values, and
//! the defect checks of spec §9 (the table after §9.3), in every calling convention this
//! host runs: on x86-64 both, with the `_alt` builds of the callees for the convention
//! that is not the target's default.
//!
//! The callees are `tests/conformance-c/c/so.c` and `c/checks.c`, compiled by that crate's
//! build script (so this runs under wine and qemu too).

use std::sync::Mutex;

use jitcall::{ffi, syntax, Abi, Pointer, Value};
use jitcall_conformance_c::{hand_written, so_last_double, so_last_int, so_void_calls};

/// Some callees record what they got in globals; tests that read those run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// The conventions this host runs, each with the suffix of its callees.
fn conventions() -> Vec<(Abi, &'static str)> {
    if cfg!(all(target_arch = "x86_64", windows)) {
        vec![(Abi::Win64, ""), (Abi::SysV64, "_alt")]
    } else if cfg!(target_arch = "x86_64") {
        vec![(Abi::SysV64, ""), (Abi::Win64, "_alt")]
    } else if cfg!(all(target_arch = "aarch64", not(windows))) {
        vec![(Abi::Aapcs64, "")]
    } else {
        vec![]
    }
}

fn v(text: &str) -> Value {
    syntax::read(text).unwrap_or_else(|e| panic!("{text:?} does not read: {e}"))
}

fn ty(text: &str) -> jitcall::Type {
    ffi::native_type(&v(text)).unwrap_or_else(|e| panic!("{text:?} is not a type: {e}"))
}

/// Calls C function `name` (with the convention's suffix) as `ret(params)`.
fn call_values(
    abi: Abi,
    suffix: &str,
    name: &str,
    ret: &str,
    params: &[&str],
    args: &[Value],
) -> Value {
    let full = format!("{name}{suffix}");
    let f = hand_written(&full).unwrap_or_else(|| panic!("no callee {full}"));
    let params = params.iter().map(|p| ty(p)).collect();
    let sig = ffi::signature(abi, ty(ret), params)
        .unwrap_or_else(|e| panic!("{full} ({abi}): signature: {e}"));
    // SAFETY: each test gives the callee's exact C signature (see c/so.c and c/checks.c).
    unsafe { ffi::call(Pointer::from_ptr(f), &sig, args) }
        .unwrap_or_else(|e| panic!("{full} ({abi}): call: {e}"))
}

/// As [`call_values`], with the arguments as Janet text.
fn call(abi: Abi, suffix: &str, name: &str, ret: &str, params: &[&str], args: &[&str]) -> Value {
    let args: Vec<Value> = args.iter().map(|a| v(a)).collect();
    call_values(abi, suffix, name, ret, params, &args)
}

/// Runs `check` once per convention, naming the convention when it fails.
fn each(check: impl Fn(Abi, &str)) {
    let conventions = conventions();
    assert!(!conventions.is_empty() || !cfg!(any(target_arch = "x86_64", target_arch = "aarch64")));
    for (abi, suffix) in conventions {
        check(abi, suffix);
    }
}

/// `got` equals the Janet literal `expected` (numbers by value, 64-bit boxes too).
#[track_caller]
fn assert_is(abi: Abi, what: &str, got: Value, expected: &str) {
    assert_eq!(got, v(expected), "{what} under {abi}: got {got}, expected {expected}");
}

fn number(value: &Value) -> f64 {
    match value {
        Value::Number(n) => *n,
        other => panic!("expected a number, got {other}"),
    }
}

// ---------------------------------------------------------------------------------------
// spec §9.2: examples/ffi/test.janet

#[test]
fn int_fn() {
    each(|abi, s| {
        let got = call(abi, s, "int_fn", ":int", &[":int", ":int"], &["10", "20"]);
        assert_is(abi, "int_fn", got, "60");
    });
}

#[test]
fn my_fn_with_a_string() {
    each(|abi, s| {
        let got = call(
            abi,
            s,
            "my_fn",
            ":double",
            &[":s64", ":s64", ":string"],
            &["1", "2", "\"hello\""],
        );
        assert_is(abi, "my_fn", got, "8.5");
    });
}

#[test]
fn double_fn() {
    each(|abi, s| {
        let got = call(abi, s, "double_fn", ":double", &[":double"; 3], &["1.5", "2.5", "3.5"]);
        assert_is(abi, "double_fn", got, "42");
    });
}

#[test]
fn double_many() {
    each(|abi, s| {
        let args = ["1", "2", "3", "4", "5", "6"];
        let got = call(abi, s, "double_many", ":double", &[":double"; 6], &args);
        assert_is(abi, "double_many", got, "21");
        let args = ["1", "2", "3", "4", "5", "6.01"];
        let got = call(abi, s, "double_many", ":double", &[":double"; 6], &args);
        assert_eq!(number(&got).round(), 21.0, "double_many under {abi}: {got}");
    });
}

#[test]
fn double_lots() {
    each(|abi, s| {
        let args = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"];
        let got = call(abi, s, "double_lots", ":double", &[":double"; 10], &args);
        assert_is(abi, "double_lots", got, "19");
        let args = ["1", "2", "3", "4", "5", "6", "700", "800", "9", "10"];
        let got = call(abi, s, "double_lots", ":double", &[":double"; 10], &args);
        assert_is(abi, "double_lots", got, "19");
    });
}

/// The 9th and 10th doubles in stack order (Janet issue #1009).
#[test]
fn double_lots_2() {
    each(|abi, s| {
        let args = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
        let got = call(abi, s, "double_lots_2", ":double", &[":double"; 10], &args);
        assert_is(abi, "double_lots_2", got, "9876543210");
    });
}

#[test]
fn float_fn() {
    each(|abi, s| {
        let got = call(abi, s, "float_fn", ":double", &[":float"; 3], &["8", "4", "17"]);
        assert_is(abi, "float_fn", got, "204");
    });
}

#[test]
fn intint_fn_and_intintint_fn() {
    each(|abi, s| {
        let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let got =
            call(abi, s, "intint_fn", ":int", &[":double", "[:int :int]"], &["123.456", "[10 20]"]);
        assert_is(abi, "intint_fn", got, "30");
        assert_eq!(so_last_double(), 123.456, "intint_fn's double under {abi}");
        let params = [":double", "[:int :int :int]"];
        let got = call(abi, s, "intintint_fn", ":int", &params, &["-0.5", "[10 20 30]"]);
        assert_is(abi, "intintint_fn", got, "60");
        assert_eq!(so_last_double(), -0.5, "intintint_fn's double under {abi}");
    });
}

#[test]
fn intintint_fn_2() {
    each(|abi, s| {
        let params = ["[:int :int :int]", ":int"];
        let got = call(abi, s, "intintint_fn_2", ":int", &params, &["[10 20 30]", "3"]);
        assert_is(abi, "intintint_fn_2", got, "180");
        let got = call(abi, s, "intintint_fn_2", ":int", &params, &["[10 20 31]", "3"]);
        assert_is(abi, "intintint_fn_2", got, "183");
    });
}

#[test]
fn return_struct_with_an_inline_tuple_type() {
    each(|abi, s| {
        let got = call(abi, s, "return_struct", "[:int :int]", &[":int"], &["42"]);
        assert_is(abi, "return_struct", got, "(42 1764)");
    });
}

#[test]
fn struct_big() {
    each(|abi, s| {
        let got =
            call(abi, s, "struct_big", "[:s64 :s64 :s64]", &[":int", ":double"], &["11", "99.5"]);
        assert_is(abi, "struct_big", got.clone(), "(11 99 1110)");
        // 64-bit fields come back as exact boxes, as Janet's `<s64 11>`.
        let fields = got.as_indexed().unwrap().to_vec();
        assert!(
            fields.iter().all(|f| matches!(f, Value::Int(_))),
            "struct_big under {abi}: {got:?}"
        );
    });
}

#[test]
fn void_fns() {
    each(|abi, s| {
        let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let before = so_void_calls();
        assert_is(abi, "void_fn", call(abi, s, "void_fn", ":void", &[], &[]), "nil");
        assert_eq!(so_void_calls(), before + 1, "void_fn did not run under {abi}");
        assert_is(
            abi,
            "void_fn_2",
            call(abi, s, "void_fn_2", ":void", &[":double"], &["10.3"]),
            "nil",
        );
        assert_eq!(so_last_double(), 10.3, "void_fn_2's double under {abi}");
        assert_is(
            abi,
            "void_ret_fn",
            call(abi, s, "void_ret_fn", ":void", &[":int"], &["-7"]),
            "nil",
        );
        assert_eq!(so_last_int(), -7, "void_ret_fn's int under {abi}");
    });
}

const SPLIT: &str = "[:int :int :float :float]";
const SPLIT_FLIP: &str = "[:float :float :int :int]";

#[test]
fn split_fn() {
    each(|abi, s| {
        let got = call(abi, s, "split_fn", ":float", &[SPLIT], &["[5 6 1.2 3.4]"]);
        assert_eq!((number(&got) * 10.0).round(), 264.0, "split_fn under {abi}: {got}");
    });
}

/// Bound but never called in Janet's test.
#[test]
fn split_flip_fn() {
    each(|abi, s| {
        let got = call(abi, s, "split_flip_fn", ":float", &[SPLIT_FLIP], &["[1.5 2.5 2 4]"]);
        assert_is(abi, "split_flip_fn", got, "13");
    });
}

#[test]
fn split_ret_fns() {
    each(|abi, s| {
        let got = call(abi, s, "split_ret_fn", SPLIT, &[":int", ":float"], &["10", "12"]);
        assert_is(abi, "split_ret_fn", got, "(10 10 12 12)");
        let got = call(abi, s, "split_flip_ret_fn", SPLIT_FLIP, &[":int", ":float"], &["10", "12"]);
        assert_is(abi, "split_flip_ret_fn", got, "(12 12 10 10)");
        let got = call(abi, s, "split_flip_ret_fn", SPLIT_FLIP, &[":int", ":float"], &["12", "10"]);
        assert_is(abi, "split_flip_ret_fn", got, "(10 10 12 12)");
    });
}

const SIX_INTS: &str = "[:int :int :int :int :int :int]";

#[test]
fn sixints_fns() {
    each(|abi, s| {
        let got = call(abi, s, "sixints_fn", SIX_INTS, &[], &[]);
        assert_is(abi, "sixints_fn", got, "(6666 1111 2222 3333 4444 5555)");
        let got =
            call(abi, s, "sixints_fn_2", ":int", &[":int", SIX_INTS], &["100", "[1 2 3 4 5 6]"]);
        assert_is(abi, "sixints_fn_2", got, "121");
        let got =
            call(abi, s, "sixints_fn_3", ":int", &[SIX_INTS, ":int"], &["[1 2 3 4 5 6]", "200"]);
        assert_is(abi, "sixints_fn_3", got, "221");
    });
}

#[test]
fn stack_spill_fn() {
    each(|abi, s| {
        let mut params = vec![":u8"; 8];
        params.extend([":float"; 8]);
        params.extend([":float", ":s8", ":u8", ":double", ":u8", "[:int :int]"]);
        let mut args = vec!["0"; 16];
        args.extend(["1.5", "-32", "196", "65536.5", "3", "[-15 32]"]);
        let got = call(abi, s, "stack_spill_fn", "[:int :int]", &params, &args);
        assert_is(abi, "stack_spill_fn", got, "(0 38534415)");
    });
}

#[test]
fn stack_spill_fn_2() {
    each(|abi, s| {
        let pair = "[:u64 :u64]";
        let params = [pair, pair, pair, ":s8", pair, ":s8"];
        let args = ["[2 3]", "[5 7]", "[9 11]", "-19", "[13 17]", "-23"];
        let got = call(abi, s, "stack_spill_fn_2", ":double", &params, &args);
        assert_is(abi, "stack_spill_fn_2", got, "-2806");
    });
}

// ---------------------------------------------------------------------------------------
// spec §9: the defects found by running Janet's FFI, and their neighbours

/// SSE+SSE results: Janet read rax:rdx and returned garbage.
#[test]
fn float_pair_results() {
    each(|abi, s| {
        let got = call(abi, s, "ret_dd", "[:double :double]", &[":double"], &["1.5"]);
        assert_is(abi, "ret_dd", got, "(1.5 3)");
        let got = call(abi, s, "ret_ffff", "[:float :float :float :float]", &[":float"], &["1"]);
        assert_is(abi, "ret_ffff", got, "(1 2 3 4)");
        let got = call(abi, s, "ret_df", "[:double :float]", &[":double"], &["2.5"]);
        assert_is(abi, "ret_df", got, "(2.5 3.5)");
        let got = call(abi, s, "ret_ff", "[:float :float]", &[":float"], &["1"]);
        assert_is(abi, "ret_ff", got, "(1 2)");
    });
}

/// An int array over both eightbytes (Janet classed it SSEINT).
#[test]
fn take_ia3() {
    each(|abi, s| {
        let got = call(abi, s, "take_ia3", ":int", &["[@[:int 3]]", ":int"], &["[@[1 2 3]]", "4"]);
        assert_is(abi, "take_ia3", got, "4321");
    });
}

#[test]
fn float_pair_arguments() {
    each(|abi, s| {
        let params = ["[:double :double]", ":double"];
        let got = call(abi, s, "take_dd", ":double", &params, &["[1 2]", "3"]);
        assert_is(abi, "take_dd", got, "321");
        let got = call(abi, s, "take_ff", ":double", &["[:float :float]"], &["[1 2]"]);
        assert_is(abi, "take_ff", got, "21");
    });
}

/// `uint64_t raw(uint64_t)` bound with narrower parameter types: jitcall extends every
/// narrow integer to 64 bits (zero for unsigned and bool, sign for signed).
#[test]
fn narrow_arguments_are_extended() {
    each(|abi, s| {
        assert_is(abi, "raw as u8(u8)", call(abi, s, "raw", ":u8", &[":u8"], &["200"]), "200");
        for (param, arg, expected) in [
            (":u8", "200", "200"),
            (":u16", "65535", "65535"),
            (":u32", "4294967295", "4294967295"),
            (":bool", "true", "1"),
            (":char", "-56", "18446744073709551560"),
        ] {
            let got = call(abi, s, "raw", ":u64", &[param], &[arg]);
            assert_is(abi, &format!("raw as u64({param}) with {arg}"), got, expected);
        }
        for (param, arg, expected) in
            [(":s8", "-56", "-56"), (":s16", "-2", "-2"), (":s32", "-5", "-5")]
        {
            let got = call(abi, s, "raw_signed", ":s64", &[param], &[arg]);
            assert_is(abi, &format!("raw_signed as s64({param}) with {arg}"), got, expected);
        }
    });
}

/// The same in a stack slot (the tenth argument is on the stack in every convention).
#[test]
fn narrow_stack_arguments_are_extended() {
    each(|abi, s| {
        for (param, arg, expected) in [
            (":u8", "200", "200"),
            (":u16", "65534", "65534"),
            (":u32", "4294967294", "4294967294"),
            (":bool", "true", "1"),
            (":s8", "-56", "18446744073709551560"),
            (":s32", "-5", "18446744073709551611"),
        ] {
            let mut params = vec![":u64"; 9];
            params.push(param);
            let mut args = vec!["18446744073709551615"; 9];
            args.push(arg);
            let got = call(abi, s, "raw_stack", ":u64", &params, &args);
            assert_is(abi, &format!("raw_stack as u64(..., {param}) with {arg}"), got, expected);
        }
    });
}

/// Far past Janet's 32-argument limit (33 crashed it).
#[test]
fn one_hundred_arguments() {
    each(|abi, s| {
        let mut params = Vec::new();
        let mut args = Vec::new();
        let mut expected = 0.0;
        for k in 0..100 {
            let weight = (k + 1) as f64;
            if k % 3 == 2 {
                let x = k as f64 + 0.5;
                params.push(":double");
                args.push(Value::Number(x));
                expected += weight * x;
            } else {
                let x = if k % 2 == 0 { -(k as f64) - 1000.0 } else { k as f64 };
                params.push(":int");
                args.push(Value::Number(x));
                expected += weight * x;
            }
        }
        let got = call_values(abi, s, "sum100", ":double", &params, &args);
        assert_eq!(number(&got), expected, "sum100 under {abi}");
    });
}

/// AArch64: an HFA that no longer fits in the FP registers goes to the stack, and so
/// does every later FP argument (Janet put the next double in v7: 4021).
#[test]
fn hfa_spilled_then_a_double() {
    each(|abi, s| {
        let mut params = vec![":double"; 7];
        params.extend(["[:double :double]", ":double"]);
        let args = ["0", "0", "0", "0", "0", "0", "4", "[1 2]", "3"];
        let got = call(abi, s, "take_dd_late", ":double", &params, &args);
        assert_is(abi, "take_dd_late", got, "4321");
    });
}

/// AArch64: a four-double HFA after six FP registers takes 32 bytes of stack (Janet
/// reserved 8 and crashed).
#[test]
fn four_double_hfa_after_six_doubles() {
    each(|abi, s| {
        let mut params = vec![":double"; 6];
        params.extend(["[:double :double :double :double]", ":double"]);
        let args = ["0", "0", "0", "0", "0", "0", "[1 2 3 4]", "5"];
        let got = call(abi, s, "take_dddd_late", ":double", &params, &args);
        assert_is(abi, "take_dddd_late", got, "54321");
    });
}

/// A NULL `:string` result is nil (Janet crashed).
#[test]
fn null_string_result_is_nil() {
    each(|abi, s| {
        let got = call(abi, s, "ret_null_string", ":string", &[], &[]);
        assert_is(abi, "ret_null_string", got, "nil");
    });
}
