//! The generated conformance suite: every case of `jitcall-conformance-c` (1,200 per
//! calling convention) called through jitcall in every convention this host can run.
//!
//! Each C callee compares every byte it received (field by field, floats exactly) with
//! the values below and returns a known result, so a case passes only when the
//! arguments arrived intact (`conf_fail() == 0`), the callee ran (`conf_last() == id`)
//! and the result came back intact. The callees are generated and compiled by that
//! crate's build script, so this also runs cross-compiled under wine and qemu.
//!
//! A case that crashes takes the whole test process down before the report. To find it:
//! `JITCALL_CONF_TRACE=1 cargo test --test conformance -- --nocapture --test-threads=1`
//! prints every case before calling it; `JITCALL_CONF_SKIP=name,name` leaves cases out
//! and `JITCALL_CONF_ONLY=prefix` runs only the matching ones.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

mod common;

use common::generated::{has_nested_struct, native_type, value};
use common::suite;
use jitcall::{ffi, Abi, CompiledSignature, DirectResult, Pointer, Prim, Type, Value};
use jitcall_conformance_c::{conf_fail, conf_last, conf_reset, Case, CASES};

/// The callees report through process-wide globals; the tests here run on several
/// threads, so calls are made one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// The suite's minimum number of cases per convention.
const MIN_CASES: usize = 1100;

/// Runs one case; `Err` says what went wrong.
/// The ways in: dynamic values (through the argument block), native images
/// (`call_native`, through the pointer thunk where the plan allows one), the same images
/// through the signature's `RawCall`, and through a `DirectCall` (the tail thunk) where
/// the signature has one.
#[derive(Clone, Copy, Debug, PartialEq)]
enum CallPath {
    Values,
    Native,
    Raw,
    Direct,
}

/// Cases run through a `DirectCall` (the others have none).
static DIRECT_CALLS: AtomicUsize = AtomicUsize::new(0);

/// A `DirectCall<R>` call of `sig`, its result as a `Value`; `None` when the signature has
/// no `DirectCall` (its plan or convention refuses one).
///
/// # Safety
/// As `CompiledSignature::call_native`.
unsafe fn direct<R: DirectResult>(
    sig: &CompiledSignature,
    target: Pointer,
    pointers: &[*const u8],
) -> Option<jitcall::Result<Value>> {
    let direct = sig.direct_call::<R>().ok()?;
    DIRECT_CALLS.fetch_add(1, Ordering::Relaxed);
    // SAFETY: the caller's promise; one pointer per parameter.
    let r = unsafe { direct.call(target, pointers.as_ptr()) };
    // SAFETY: `r` is `size_of::<R>()` bytes, the result type's image.
    let image = unsafe {
        std::slice::from_raw_parts((&r as *const R).cast::<u8>(), std::mem::size_of::<R>())
    };
    // SAFETY: the generated results hold no `:string`.
    Some(unsafe { ffi::read_ptr(&sig.signature().ret, Pointer::from_ptr(image.as_ptr()), 0) })
}

/// [`direct`] with `R` the result's Rust type.
///
/// # Safety
/// As [`direct`].
unsafe fn direct_by_result(
    sig: &CompiledSignature,
    target: Pointer,
    pointers: &[*const u8],
) -> Option<jitcall::Result<Value>> {
    use std::ffi::c_void;
    let Type::Prim(p) = sig.signature().ret else { return None };
    // SAFETY: forwarded.
    unsafe {
        match p {
            Prim::Void => direct::<()>(sig, target, pointers),
            Prim::Bool | Prim::U8 => direct::<u8>(sig, target, pointers),
            Prim::I8 => direct::<i8>(sig, target, pointers),
            Prim::I16 => direct::<i16>(sig, target, pointers),
            Prim::U16 => direct::<u16>(sig, target, pointers),
            Prim::I32 => direct::<i32>(sig, target, pointers),
            Prim::U32 => direct::<u32>(sig, target, pointers),
            Prim::I64 => direct::<i64>(sig, target, pointers),
            Prim::U64 => direct::<u64>(sig, target, pointers),
            Prim::F32 => direct::<f32>(sig, target, pointers),
            Prim::F64 => direct::<f64>(sig, target, pointers),
            Prim::Ptr | Prim::String => direct::<*mut c_void>(sig, target, pointers),
        }
    }
}

fn run(case: &Case, abi: Abi, path: CallPath) -> Result<(), String> {
    let ret = native_type(case.ret);
    let params = case.params.iter().map(|t| native_type(t)).collect();
    let sig = ffi::signature(abi, ret, params).map_err(|e| format!("signature: {e}"))?;
    let args: Vec<Value> = case.args.iter().map(|a| value(a)).collect();
    let expected = value(case.expected);

    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    conf_reset();
    let target = Pointer::from_ptr(case.func as *const ());
    let got = match path {
        // SAFETY: `case.func` is a C function of exactly this signature and convention
        // (the table and the C source come from one generator); it only reads its
        // arguments.
        CallPath::Values => unsafe { ffi::call(target, &sig, &args) },
        CallPath::Native | CallPath::Raw | CallPath::Direct => {
            // Each argument's image in an allocation of exactly its size, so that a
            // thunk reading past a value would read memory that is not the value's.
            let params = &sig.signature().params;
            let images: Vec<Box<[u8]>> = params
                .iter()
                .zip(&args)
                .map(|(ty, arg)| {
                    let image = ffi::write(ty, arg, None, None).expect("the case's values convert");
                    image.to_vec().into_boxed_slice()
                })
                .collect();
            let pointers: Vec<*const u8> = images.iter().map(|image| image.as_ptr()).collect();
            let ret_ty = &sig.signature().ret;
            // Aligned for any result type (a callee writing a result in memory may use
            // aligned stores), exactly its size.
            let mut words = vec![0u128; ret_ty.size().div_ceil(16)];
            // SAFETY: `words` holds at least `ret_ty.size()` initialised bytes.
            let result = unsafe {
                std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), ret_ty.size())
            };
            // SAFETY: the generated results hold no `:string`; `result` is the result's
            // image once a call wrote it.
            let read = |result: &[u8]| unsafe {
                ffi::read_ptr(ret_ty, Pointer::from_ptr(result.as_ptr()), 0)
            };
            match path {
                // SAFETY: as above; every pointer refers to a whole image of its parameter.
                CallPath::Direct => match unsafe { direct_by_result(&sig, target, &pointers) } {
                    Some(got) => got,
                    None => return Ok(()), // no DirectCall for this signature
                },
                CallPath::Raw => sig.raw_call().and_then(|raw| {
                    // SAFETY: as above, and `result` has exactly the result's size.
                    unsafe { raw.call(target, pointers.as_ptr(), result.as_mut_ptr()) };
                    read(result)
                }),
                // SAFETY: as above.
                _ => unsafe { sig.call_native(target, &pointers, result.as_mut_ptr()) }
                    .and_then(|()| read(result)),
            }
        }
    };
    let (fail, last) = (conf_fail(), conf_last());
    drop(_serial);

    let got = got.map_err(|e| format!("call: {e}"))?;
    let mut problems = Vec::new();
    if last != case.id as i32 {
        problems.push(format!("the callee did not run (last callee id {last})"));
    }
    if fail != 0 {
        let (id, arg) = (fail / 100, fail % 100 - 1);
        let at = if id == case.id as i32 { String::new() } else { format!(" of case {id}") };
        problems.push(format!("argument {arg}{at} arrived wrong (conf_fail {fail})"));
    }
    if got != expected {
        problems.push(format!("result {} (expected {})", got, case.expected));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

fn describe(case: &Case, problem: &str) -> String {
    let mut s = format!("{} ({}): {problem}\n", case.name, case.abi);
    s += &format!("    ret      {}\n", case.ret);
    for (i, (t, a)) in case.params.iter().zip(case.args).enumerate() {
        s += &format!("    arg {i:<4} {t}  =  {a}\n");
    }
    s += &format!("    expected {}\n", case.expected);
    s
}

impl suite::Case for Case {
    fn name(&self) -> &'static str {
        self.name
    }

    fn abi(&self) -> &'static str {
        self.abi
    }

    fn describe(&self, problem: &str) -> String {
        describe(self, problem)
    }
}

fn run_convention(abi: Abi) {
    suite::run("cases", abi, CASES, MIN_CASES, |case| {
        [CallPath::Values, CallPath::Native, CallPath::Raw, CallPath::Direct]
            .into_iter()
            .filter_map(|path| {
                run(case, abi, path).err().map(|problem| format!("{path:?}: {problem}"))
            })
            .collect()
    });
    let filtered =
        ["JITCALL_CONF_ONLY", "JITCALL_CONF_SKIP"].iter().any(|v| std::env::var_os(v).is_some());
    if Some(abi) == Abi::host() && !filtered {
        // Register-only signatures with a primitive result, of the mix's 1,200.
        let direct = DIRECT_CALLS.load(Ordering::Relaxed);
        assert!(direct >= 100, "only {direct} cases went through a DirectCall");
    }
}

#[test]
fn sysv64() {
    run_convention(Abi::SysV64);
}

#[test]
fn win64() {
    run_convention(Abi::Win64);
}

#[test]
fn aapcs64() {
    run_convention(Abi::Aapcs64);
}

/// Every convention this host runs has its cases built.
#[test]
fn every_callable_convention_has_cases() {
    // The AArch64 flavours have their own suite (built from tests/flavour-callees).
    let flavour = |a: &Abi| matches!(a, Abi::Aapcs64Apple | Abi::Aapcs64Win);
    for abi in Abi::ALL.into_iter().filter(|a| a.runs_on_host() && !flavour(a)) {
        let n = CASES.iter().filter(|c| c.abi == abi.name()).count();
        assert!(n >= MIN_CASES, "{}: {n} cases", abi.name());
    }
}

/// The generated mix covers what the suite is for: every keyword, every struct class and
/// size, packed and misaligned structs, arrays and nested structs in them, and every
/// argument count from 0 to 40, each as a parameter and (types) as a result.
#[test]
fn the_mix_covers_every_class() {
    use jitcall::Prim;
    use std::collections::BTreeSet;

    let Some(abi) = CASES.first().map(|c| c.abi) else { return };
    let cases: Vec<&Case> = CASES.iter().filter(|c| c.abi == abi).collect();
    let mut counts = BTreeSet::new();
    let mut seen: [BTreeSet<String>; 2] = Default::default();
    for case in &cases {
        counts.insert(case.params.len());
        let types = case.params.iter().map(|p| (0, *p)).chain([(1, case.ret)]);
        for (slot, text) in types {
            let t = native_type(text);
            let set = &mut seen[slot];
            if let Some(keyword) = text.strip_prefix(':') {
                set.insert(format!("keyword {keyword}"));
                continue;
            }
            let mut prims = Vec::new();
            t.for_each_leaf(0, &mut |p, _| prims.push(p));
            let floats = prims.iter().filter(|p| p.is_float()).count();
            let kind = match floats {
                0 => "int",
                n if n == prims.len() => "float",
                _ => "mixed",
            };
            let class = match t.size() {
                0..=8 => "<=8",
                9..=16 => "9-16",
                _ => ">16",
            };
            set.insert(format!("struct {class} {kind}"));
            set.insert(format!("size {}", t.size()));
            if floats == prims.len() && prims.len() <= 4 && prims.windows(2).all(|w| w[0] == w[1]) {
                let p = if prims[0] == Prim::F32 { "float" } else { "double" };
                set.insert(format!("hfa {} {p}", prims.len()));
            }
            if text.contains(":pack-all") {
                set.insert("pack-all".into());
            }
            if text.contains(":pack ") {
                set.insert("pack".into());
            }
            if t.has_unaligned_field() {
                set.insert("misaligned".into());
            }
            if text.contains("@[:float 3]") {
                set.insert("float[3]".into());
            }
            if text.contains("@[:char 5]") {
                set.insert("char[5]".into());
            }
            if has_nested_struct(&t) {
                set.insert("nested".into());
            }
        }
    }
    let mut wanted: Vec<String> = Vec::new();
    for k in ["bool", "int8", "s8", "char", "uint8", "u8", "byte", "uchar", "int16", "s16"] {
        wanted.push(format!("keyword {k}"));
    }
    for k in ["short", "uint16", "u16", "ushort", "int32", "s32", "int", "uint32", "u32", "uint"] {
        wanted.push(format!("keyword {k}"));
    }
    for k in ["int64", "s64", "uint64", "u64", "float", "r32", "double", "r64", "ptr", "pointer"] {
        wanted.push(format!("keyword {k}"));
    }
    wanted.extend(["keyword size", "keyword ssize"].map(String::from));
    for class in ["<=8", "9-16", ">16"] {
        for kind in ["int", "float", "mixed"] {
            wanted.push(format!("struct {class} {kind}"));
        }
    }
    wanted.extend((1..=40).map(|n| format!("size {n}")));
    for n in 1..=4 {
        wanted.extend([format!("hfa {n} float"), format!("hfa {n} double")]);
    }
    for w in ["pack-all", "pack", "misaligned", "float[3]", "char[5]", "nested"] {
        wanted.push(w.into());
    }
    for (slot, name) in [(0, "parameters"), (1, "results")] {
        let missing: Vec<_> = wanted.iter().filter(|w| !seen[slot].contains(*w)).collect();
        assert!(missing.is_empty(), "{abi} {name} never have: {missing:?}");
    }
    assert!(seen[1].contains("keyword void"), "{abi}: no void result");
    let missing: Vec<_> = (0..=40).filter(|n| !counts.contains(n)).collect();
    assert!(missing.is_empty(), "{abi}: no case with these argument counts: {missing:?}");
}
