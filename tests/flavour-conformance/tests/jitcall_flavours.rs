//! jitcall against clang for Apple arm64 (`Abi::Aapcs64Apple`) and Windows on ARM64
//! (`Abi::Aapcs64Win`), under qemu-aarch64 (scripts/test-flavours): every generated
//! callee called through `ffi::call` (values) and `call_native` (native images), every
//! variadic callee the same way, and every callback driver given a jitcall callback of
//! both forms; the same for the wide cases (128-bit integers, complex numbers) and the
//! union cases. The C side is clang-compiled for the flavour; `c_self_check` shows it
//! right on its own.
//!
//! Values are compared by native image (see [`same`]): a union reads back as a tuple of
//! every member's view of its bytes, which is not the `[I V]` it was written from.
//!
//! A case that crashes takes the process down before the report: `FLAVOUR_TRACE=1 ...
//! -- --nocapture --test-threads=1` prints every case before it runs, and
//! `FLAVOUR_ONLY=prefix` runs only the cases whose C name starts with it.
#![cfg(target_arch = "aarch64")]

use std::sync::{Arc, Mutex};

#[path = "../../common/bytes.rs"]
mod bytes;
#[allow(dead_code)] // the main suite's reader of the tables' Janet text
#[path = "../../common/generated.rs"]
mod generated;

use bytes::{image, same};
use generated::{native_type, value};
use jitcall::{ffi, Abi, CompiledSignature, Pointer, Type, Value};
use jitcall_flavour_conformance::{
    conf_fail, conf_last, conf_reset, CallbackCase, Case, VariadicCase, CALLBACK_CASES, CASES,
    UNION_CALLBACK_CASES, UNION_CASES, VARIADIC_CASES, WIDE_CALLBACK_CASES, WIDE_CASES,
};

/// The callees report through globals: one call at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// The minimum per flavour and direction.
const MIN_CASES: usize = 500;
const MIN_VARIADIC: usize = 250;
/// Per flavour and direction, in each of the wide and the union tables (together at
/// least 200).
const MIN_WIDE: usize = 100;

/// Whether `got` (read back as `ty`) is the value `want` (the tables' text) means.
fn same_value(ty: &Type, got: &Value, want: &Value) -> Result<bool, String> {
    if ty.is_void() {
        return Ok(*got == Value::Nil);
    }
    Ok(same(ty, got, &image(ty, want)?))
}

#[derive(Clone, Copy, Debug)]
enum Path {
    Values,
    Native,
}

/// One call through `sig` with `args`, by values or by native images (each image in an
/// allocation of exactly its size, so reading past a value leaves the value).
///
/// # Safety
/// `target` is a function of exactly `sig`'s signature that only reads its arguments.
unsafe fn call(
    target: Pointer,
    sig: &CompiledSignature,
    args: &[Value],
    path: Path,
) -> Result<Value, String> {
    let got = match path {
        // SAFETY: the caller's promise.
        Path::Values => unsafe { ffi::call(target, sig, args) },
        Path::Native => {
            let params = &sig.signature().params;
            let images: Vec<Box<[u8]>> = params
                .iter()
                .zip(args)
                .map(|(ty, arg)| {
                    let image = ffi::write(ty, arg, None, None).expect("the case's values convert");
                    image.to_vec().into_boxed_slice()
                })
                .collect();
            let pointers: Vec<*const u8> = images.iter().map(|image| image.as_ptr()).collect();
            let ret_ty = &sig.signature().ret;
            let mut result = vec![0u8; ret_ty.size()].into_boxed_slice();
            // SAFETY: the caller's promise; every pointer refers to a whole image of its
            // parameter and `result` has the result's size.
            unsafe { sig.call_native(target, &pointers, result.as_mut_ptr()) }
                // SAFETY: the generated results hold no `:string`.
                .and_then(|()| unsafe {
                    ffi::read_ptr(ret_ty, Pointer::from_ptr(result.as_ptr()), 0)
                })
        }
    };
    got.map_err(|e| format!("call: {e}"))
}

/// What the callee reported and returned (as `ret`), against what it should have.
fn verdict(id: usize, abi: &str, ret: &Type, got: Value, expected: &str) -> Result<(), String> {
    let (fail, last) = (conf_fail(abi), conf_last(abi));
    let mut problems = Vec::new();
    if last != id as i32 {
        problems.push(format!("the callee did not run (last callee id {last})"));
    }
    if fail != 0 {
        problems.push(format!("argument {} arrived wrong (conf_fail {fail})", fail % 100 - 1));
    }
    if !same_value(ret, &got, &value(expected))? {
        problems.push(format!("result {got} (expected {expected})"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

fn run_call(case: &Case, abi: Abi, path: Path) -> Result<(), String> {
    let params = case.params.iter().map(|t| native_type(t)).collect();
    let sig = ffi::signature(abi, native_type(case.ret), params)
        .map_err(|e| format!("signature: {e}"))?;
    let args: Vec<Value> = case.args.iter().map(|a| value(a)).collect();
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    conf_reset(case.abi);
    // SAFETY: `case.func` has exactly this signature in this flavour's convention (one
    // generator wrote both) and only reads its arguments.
    let got = unsafe { call(Pointer::from_ptr(case.func as *const ()), &sig, &args, path) }?;
    verdict(case.id, case.abi, &sig.signature().ret, got, case.expected)
}

fn run_variadic(case: &VariadicCase, abi: Abi, path: Path) -> Result<(), String> {
    let params: Vec<Type> = case.params.iter().map(|t| native_type(t)).collect();
    let (fixed, variadic) = (params[..case.fixed].to_vec(), params[case.fixed..].to_vec());
    let sig = ffi::variadic_signature(abi, native_type(case.ret), fixed, variadic)
        .map_err(|e| format!("signature: {e}"))?;
    let args: Vec<Value> = case.args.iter().map(|a| value(a)).collect();
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    conf_reset(case.abi);
    // SAFETY: `case.func` is `ret f(fixed..., ...)` in this flavour's convention and reads
    // exactly these variadic types with `va_arg`.
    let got = unsafe { call(Pointer::from_ptr(case.func as *const ()), &sig, &args, path) }?;
    verdict(case.id, case.abi, &sig.signature().ret, got, case.expected)
}

fn run_callback(case: &'static CallbackCase, abi: Abi, path: Path) -> Result<(), String> {
    let ret = native_type(case.ret);
    let params: Vec<Type> = case.params.iter().map(|t| native_type(t)).collect();
    let expected: Vec<Vec<u8>> = params
        .iter()
        .zip(case.args)
        .map(|(ty, a)| image(ty, &value(a)))
        .collect::<Result<_, _>>()?;
    let types = params.clone();
    let result = value(case.result);
    // How many calls the closure saw, and every argument that arrived wrong.
    let seen: Arc<Mutex<(usize, Vec<String>)>> = Arc::default();
    let record = seen.clone();
    let check = move |args: &[Value]| {
        let mut seen = record.lock().unwrap_or_else(|p| p.into_inner());
        seen.0 += 1;
        if args.len() != expected.len() {
            seen.1.push(format!("{} arguments (expected {})", args.len(), expected.len()));
        }
        for (i, ((got, want), ty)) in args.iter().zip(&expected).zip(&types).enumerate() {
            if !same(ty, got, want) {
                seen.1.push(format!("argument {i} arrived as {got} (expected {})", case.args[i]));
            }
        }
    };
    let callback = match path {
        Path::Values => ffi::callback(abi, ret, params, move |args| {
            check(args);
            Ok(result.clone())
        }),
        Path::Native => {
            let (param_types, ret_type) = (params.clone(), ret.clone());
            ffi::callback_native(abi, ret, params, move |ptrs, out| {
                let args = param_types
                    .iter()
                    .zip(ptrs)
                    // SAFETY: each pointer refers to a whole image of its parameter; the
                    // generated types hold no `:string`.
                    .map(|(ty, &p)| unsafe { ffi::read_ptr(ty, Pointer::from_ptr(p), 0) })
                    .collect::<Result<Vec<_>, _>>()?;
                check(&args);
                let image = ffi::write(&ret_type, &result, None, None)?.to_vec();
                // SAFETY: `out` has room for the result type's size, which `image` is.
                unsafe { std::ptr::copy_nonoverlapping(image.as_ptr(), out, image.len()) };
                Ok(())
            })
        }
    }
    .map_err(|e| format!("callback: {e}"))?;
    // SAFETY: the driver is `int driver(RET (*fp)(ARGS))` compiled for the flavour; a call
    // with one pointer and an int result is the same in Rust's "C" convention on Linux.
    // The callback has the pointer's exact signature and convention, and lives past the
    // call.
    let code = unsafe {
        let driver: unsafe extern "C" fn(*const ()) -> i32 = std::mem::transmute(case.driver);
        driver(callback.code_ptr().as_ptr() as *const ())
    };
    drop(callback);
    let (calls, wrong) = std::mem::take(&mut *seen.lock().unwrap_or_else(|p| p.into_inner()));
    let mut problems = wrong;
    if calls != 1 {
        problems.push(format!("the closure ran {calls} times"));
    }
    if code != 0 {
        problems.push(format!(
            "result leaf {} came back wrong (expected {})",
            code - 1,
            case.result
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Runs `check` on each case of `abi` (by C name and text for the report) and fails with
/// the first failures in full.
fn run_all<C>(
    what: &str,
    abi: Abi,
    cases: &[&'static C],
    min: usize,
    describe: impl Fn(&C) -> String,
    check: impl Fn(&'static C, Path) -> Result<(), String>,
) {
    let only = std::env::var("FLAVOUR_ONLY").ok();
    let trace = std::env::var_os("FLAVOUR_TRACE").is_some();
    assert!(only.is_some() || cases.len() >= min, "{}: only {} {what}", abi.name(), cases.len());
    let mut failures = Vec::new();
    for &case in cases {
        let text = describe(case);
        if only.as_deref().is_some_and(|p| !text.starts_with(p)) {
            continue;
        }
        if trace {
            eprintln!("calling {text}");
        }
        for path in [Path::Values, Path::Native] {
            if let Err(problem) = check(case, path) {
                failures.push(format!("{path:?}: {problem}\n{text}"));
            }
        }
    }
    println!("{}: {} {what} checked, {} failures", abi.name(), cases.len(), failures.len());
    let shown: Vec<&String> = failures.iter().take(20).collect();
    assert!(
        failures.is_empty(),
        "{} failures; the first:\n\n{}",
        failures.len(),
        shown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n")
    );
}

fn describe(
    name: &str,
    ret: &str,
    params: &[&str],
    args: &[&str],
    fixed: Option<usize>,
    expected: &str,
) -> String {
    let mut s = format!("{name}\n    ret      {ret}\n");
    for (i, (t, a)) in params.iter().zip(args).enumerate() {
        let dots = if Some(i) == fixed { "    ...\n" } else { "" };
        s += &format!("{dots}    arg {i:<4} {t}  =  {a}\n");
    }
    s + &format!("    expected {expected}\n")
}

/// The call cases of `table` in convention `abi` (at least `min` of them).
fn calls(abi: Abi, what: &str, table: &'static [Case], min: usize) {
    let cases: Vec<&Case> = table.iter().filter(|c| c.abi == abi.name()).collect();
    let text = |c: &Case| describe(c.name, c.ret, c.params, c.args, None, c.expected);
    run_all(what, abi, &cases, min, text, |c, path| run_call(c, abi, path));
}

fn variadic_calls(abi: Abi) {
    let cases: Vec<&VariadicCase> = VARIADIC_CASES.iter().filter(|c| c.abi == abi.name()).collect();
    let text =
        |c: &VariadicCase| describe(c.name, c.ret, c.params, c.args, Some(c.fixed), c.expected);
    run_all("variadic calls", abi, &cases, MIN_VARIADIC, text, |c, path| {
        run_variadic(c, abi, path)
    });
}

/// The callback cases of `table` in convention `abi` (at least `min` of them).
fn callbacks(abi: Abi, what: &str, table: &'static [CallbackCase], min: usize) {
    let cases: Vec<&CallbackCase> = table.iter().filter(|c| c.abi == abi.name()).collect();
    let text = |c: &CallbackCase| describe(c.name, c.ret, c.params, c.args, None, c.result);
    run_all(what, abi, &cases, min, text, |c, path| run_callback(c, abi, path));
}

#[test]
fn apple_calls() {
    calls(Abi::Aapcs64Apple, "calls", CASES, MIN_CASES);
}

#[test]
fn apple_variadic_calls() {
    variadic_calls(Abi::Aapcs64Apple);
}

#[test]
fn apple_callbacks() {
    callbacks(Abi::Aapcs64Apple, "callbacks", CALLBACK_CASES, MIN_CASES);
}

#[test]
fn windows_calls() {
    calls(Abi::Aapcs64Win, "calls", CASES, MIN_CASES);
}

#[test]
fn windows_variadic_calls() {
    variadic_calls(Abi::Aapcs64Win);
}

#[test]
fn windows_callbacks() {
    callbacks(Abi::Aapcs64Win, "callbacks", CALLBACK_CASES, MIN_CASES);
}

/// The tables name the flavours as jitcall does (the tests above pick their cases by it).
#[test]
fn the_tables_name_the_flavours_as_jitcall_does() {
    assert_eq!(Abi::Aapcs64Apple.name(), "aapcs64-apple");
    assert_eq!(Abi::Aapcs64Win.name(), "aapcs64-win");
    assert_eq!(Abi::from_name("aapcs64-apple").ok(), Some(Abi::Aapcs64Apple));
    assert_eq!(Abi::from_name("aapcs64-win").ok(), Some(Abi::Aapcs64Win));
}

#[test]
fn apple_wide_calls() {
    calls(Abi::Aapcs64Apple, "wide calls", WIDE_CASES, MIN_WIDE);
}

#[test]
fn apple_wide_callbacks() {
    callbacks(Abi::Aapcs64Apple, "wide callbacks", WIDE_CALLBACK_CASES, MIN_WIDE);
}

#[test]
fn apple_union_calls() {
    calls(Abi::Aapcs64Apple, "union calls", UNION_CASES, MIN_WIDE);
}

#[test]
fn apple_union_callbacks() {
    callbacks(Abi::Aapcs64Apple, "union callbacks", UNION_CALLBACK_CASES, MIN_WIDE);
}

#[test]
fn windows_wide_calls() {
    calls(Abi::Aapcs64Win, "wide calls", WIDE_CASES, MIN_WIDE);
}

#[test]
fn windows_wide_callbacks() {
    callbacks(Abi::Aapcs64Win, "wide callbacks", WIDE_CALLBACK_CASES, MIN_WIDE);
}

#[test]
fn windows_union_calls() {
    calls(Abi::Aapcs64Win, "union calls", UNION_CASES, MIN_WIDE);
}

#[test]
fn windows_union_callbacks() {
    callbacks(Abi::Aapcs64Win, "union callbacks", UNION_CALLBACK_CASES, MIN_WIDE);
}
