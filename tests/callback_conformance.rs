//! The generated conformance suite the other way round: C calls Rust closures.
//!
//! For every callback case of `jitcall-conformance-c` (480 per calling convention) a
//! closure of the case's signature and convention is made with `ffi::callback`; it
//! compares every argument it receives with the expected values and returns the case's
//! result. The case's C driver (compiled in the C compiler's default convention, called
//! here through jitcall) calls the closure's code pointer with literal arguments and
//! compares the result it gets back leaf by leaf, floats exactly. A case passes when the
//! closure ran once, received every argument intact and the driver returned 0.
//!
//! A case that crashes takes the whole test process down before the report. To find it:
//! `JITCALL_CONF_TRACE=1 cargo test --test callback_conformance -- --nocapture
//! --test-threads=1` prints every case before calling it; `JITCALL_CONF_SKIP=name,name`
//! leaves cases out and `JITCALL_CONF_ONLY=prefix` runs only the matching ones.

use std::sync::{Arc, Mutex};

mod common;

use common::generated::{has_nested_struct, native_type, value};
use common::suite;
use jitcall::{ffi, Abi, Pointer, Value};
use jitcall_conformance_c::{CallbackCase, CALLBACK_CASES};

/// The suite's minimum number of callback cases per convention.
const MIN_CASES: usize = 320;

/// The most arguments a callback case has, and so the argument counts that must appear.
const MAX_ARGS: usize = 30;

/// The leaves of a value in memory order, with C-like paths (`r.f1[2]`), as the driver
/// numbers them.
fn leaves(v: &Value, path: String, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Tuple(items) => {
            for (i, item) in items.iter().enumerate() {
                leaves(item, format!("{path}.f{i}"), out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                leaves(item, format!("{path}[{i}]"), out);
            }
        }
        leaf => out.push((path, leaf.clone())),
    }
}

/// The two kinds of closure: over values, or over native images.
#[derive(Clone, Copy, Debug)]
enum Form {
    Values,
    Native,
}

/// Runs one case; `Err` says what went wrong.
fn run(case: &'static CallbackCase, abi: Abi, form: Form) -> Result<(), String> {
    let ret = native_type(case.ret);
    let params: Vec<jitcall::Type> = case.params.iter().map(|t| native_type(t)).collect();
    let expected_args: Vec<Value> = case.args.iter().map(|a| value(a)).collect();
    let result = value(case.result);

    // What the closure saw: how many calls, and every argument that arrived wrong.
    let seen: Arc<Mutex<(usize, Vec<String>)>> = Arc::default();
    let record = seen.clone();
    // What a closure does with the arguments it got, as values.
    let check = move |args: &[Value]| {
        let mut seen = record.lock().unwrap_or_else(|p| p.into_inner());
        seen.0 += 1;
        if args.len() != expected_args.len() {
            seen.1.push(format!(
                "{}: the closure received {} arguments (expected {})",
                case.name,
                args.len(),
                expected_args.len()
            ));
        }
        for (i, (got, want)) in args.iter().zip(&expected_args).enumerate() {
            if got != want {
                seen.1.push(format!(
                    "{}: argument {i} arrived as {} (expected {})",
                    case.name, got, case.args[i]
                ));
            }
        }
    };
    let callback = match form {
        Form::Values => ffi::callback(abi, ret, params, move |args| {
            check(args);
            Ok(result.clone())
        }),
        Form::Native => {
            let (param_types, ret_type) = (params.clone(), ret.clone());
            ffi::callback_native(abi, ret, params, move |ptrs, out| {
                let args: Vec<Value> = param_types
                    .iter()
                    .zip(ptrs)
                    // SAFETY: each pointer refers to a whole image of its parameter, and
                    // the generated types hold no `:string`.
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

    // The driver is plain C: the compiler's default convention, whatever the callback's.
    let host = Abi::host().expect("a host with a C convention");
    let driver_sig = ffi::signature(host, native_type(":int"), vec![native_type(":ptr")])
        .map_err(|e| format!("driver signature: {e}"))?;
    // SAFETY: `case.driver` is a C function `int(RET (*)(ARGS...))` in the default
    // convention, and the callback has exactly the signature and convention of that
    // pointer (the table and the C source come from one generator); it lives until after
    // the call.
    let code = unsafe {
        ffi::call(
            Pointer::from_ptr(case.driver as *const ()),
            &driver_sig,
            &[Value::Pointer(callback.code_ptr())],
        )
    };
    drop(callback);

    let mut problems = Vec::new();
    match code {
        Err(e) => problems.push(format!("the driver call failed: {e}")),
        Ok(Value::Number(0.0)) => {}
        Ok(Value::Number(n)) if n >= 1.0 => {
            let mut flat = Vec::new();
            leaves(&value(case.result), "r".into(), &mut flat);
            let k = n as usize - 1;
            let what = flat.get(k).map_or_else(
                || format!("leaf {k}"),
                |(path, v)| format!("leaf {k} ({path}, expected {})", v),
            );
            problems.push(format!("C got a wrong result: {what} differed (driver returned {n})"));
        }
        Ok(other) => problems.push(format!("the driver returned {}", other)),
    }
    let seen = seen.lock().unwrap_or_else(|p| p.into_inner());
    if seen.0 != 1 {
        problems.push(format!("the closure ran {} times (expected once)", seen.0));
    }
    problems.extend(seen.1.iter().cloned());
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

fn describe(case: &CallbackCase, problem: &str) -> String {
    let mut s = format!("{} ({}): {problem}\n", case.name, case.abi);
    s += &format!("    ret      {}\n", case.ret);
    for (i, (t, a)) in case.params.iter().zip(case.args).enumerate() {
        s += &format!("    arg {i:<4} {t}  =  {a}\n");
    }
    s += &format!("    result   {}\n", case.result);
    s
}

impl suite::Case for CallbackCase {
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
    suite::run("callback cases", abi, CALLBACK_CASES, MIN_CASES, |case| {
        [Form::Values, Form::Native]
            .into_iter()
            .filter_map(|form| {
                run(case, abi, form).err().map(|problem| format!("{form:?}: {problem}"))
            })
            .collect()
    });
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

/// Every convention this host runs has its drivers built; on x86-64 that is both.
#[test]
fn every_callable_convention_has_cases() {
    // The AArch64 flavours have their own suite (built from tests/flavour-callees).
    let flavour = |a: &Abi| matches!(a, Abi::Aapcs64Apple | Abi::Aapcs64Win);
    for abi in Abi::ALL.into_iter().filter(|a| a.runs_on_host() && !flavour(a)) {
        let n = CALLBACK_CASES.iter().filter(|c| c.abi == abi.name()).count();
        assert!(n >= MIN_CASES, "{}: {n} callback cases", abi.name());
    }
}

/// The generated mix covers what the suite is for: every keyword, every struct class and
/// size, HFAs, packed and misaligned structs, arrays and nested structs in them, every
/// argument count from 0 to 30, each as a parameter and (types) as a result, and void.
#[test]
fn the_mix_covers_every_class() {
    use jitcall::Prim;
    use std::collections::BTreeSet;

    let Some(abi) = CALLBACK_CASES.first().map(|c| c.abi) else { return };
    let cases: Vec<&CallbackCase> = CALLBACK_CASES.iter().filter(|c| c.abi == abi).collect();
    let mut counts = BTreeSet::new();
    let mut seen: [BTreeSet<String>; 2] = Default::default();
    let mut memory_results = 0;
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
            if slot == 1 && t.size() > 16 {
                memory_results += 1;
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
            if text.contains("@[") {
                set.insert("array".into());
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
    for w in ["pack-all", "pack", "misaligned", "array", "nested"] {
        wanted.push(w.into());
    }
    for (slot, name) in [(0, "parameters"), (1, "results")] {
        let missing: Vec<_> = wanted.iter().filter(|w| !seen[slot].contains(*w)).collect();
        assert!(missing.is_empty(), "{abi} callback {name} never have: {missing:?}");
    }
    assert!(seen[1].contains("keyword void"), "{abi}: no void callback result");
    assert!(memory_results >= 20, "{abi}: only {memory_results} results over 16 bytes");
    let missing: Vec<_> = (0..=MAX_ARGS).filter(|n| !counts.contains(n)).collect();
    assert!(missing.is_empty(), "{abi}: no callback with these argument counts: {missing:?}");
}
