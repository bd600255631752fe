//! The generated conformance suites of the wide types (`long double`, 128-bit integers,
//! complex numbers; see `tests/conformance-c/gen/wide.rs`), both directions, on every
//! convention this host runs: at least 500 signatures each, every one with a wide type.
//!
//! Calls: each C callee compares every leaf of every argument with `==` (all value bits
//! of a `long double`, both parts of a complex number) and returns a literal; a case
//! passes when the callee ran, saw nothing wrong, and the result's significant bytes are
//! the expected value's. Both paths: values (argument block) and native images.
//!
//! Callbacks: a C driver calls a closure of the case's signature with literals and
//! compares the result leaf by leaf; the closure compares the significant bytes of every
//! argument it got. Both forms: a value closure and a native (image) closure.
//!
//! Values are compared by native image, over the bytes that carry the value (no struct
//! padding, no `long double` padding): 128-bit integers are decimal strings in the tables.
//!
//! Unions (`UNION_CASES`, `UNION_CALLBACK_CASES`: 300 signatures per convention and
//! direction, each with a union as an argument, in its result or inside a struct): a
//! union argument is `[I V]` or a string of its bytes, and the C callee compares every
//! byte of it (`memcmp`, zero bytes included). A union reads back as a tuple of every
//! member's view, which no writer takes back: see [`same`] for how the value path
//! compares one.
//!
//! To find a case that crashes: `JITCALL_CONF_TRACE=1 cargo test --test wide_conformance
//! -- --nocapture --test-threads=1`; `JITCALL_CONF_ONLY=prefix` and `JITCALL_CONF_SKIP`
//! as in the other suites.

use std::sync::{Arc, Mutex};

mod common;

use common::bytes::{image, meaning, same};
use common::generated::{native_type, value};
use common::suite;
use jitcall::{ffi, Abi, Pointer, Prim, Type, Value, Wide};
use jitcall_conformance_c::{
    conf_fail, conf_last, conf_reset, CallbackCase, Case, UNION_CALLBACK_CASES, UNION_CASES,
    WIDE_CALLBACK_CASES, WIDE_CASES,
};

static SERIAL: Mutex<()> = Mutex::new(());

const MIN_CASES: usize = 500;
const MIN_UNION_CASES: usize = 300;

#[derive(Clone, Copy, Debug)]
enum Path {
    Values,
    Native,
}

/// One call case; `Err` says what went wrong.
fn call(case: &Case, abi: Abi, path: Path) -> Result<(), String> {
    let ret = native_type(case.ret);
    let params = case.params.iter().map(|t| native_type(t)).collect();
    let sig = ffi::signature(abi, ret.clone(), params).map_err(|e| format!("signature: {e}"))?;
    let args: Vec<Value> = case.args.iter().map(|a| value(a)).collect();
    let expected = if ret.is_void() { Vec::new() } else { image(&ret, &value(case.expected))? };

    let serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    conf_reset();
    let target = Pointer::from_ptr(case.func as *const ());
    let mut result = vec![0u8; ret.size()];
    let mut got = Value::Nil;
    let outcome = match path {
        // SAFETY: `case.func` is a C function of exactly this signature and convention
        // (the table and the C source come from one generator); it only reads its
        // arguments.
        Path::Values => unsafe { ffi::call(target, &sig, &args) }.map(|v| got = v),
        Path::Native => {
            let params = &sig.signature().params;
            let images: Vec<Box<[u8]>> = params
                .iter()
                .zip(&args)
                .map(|(ty, arg)| image(ty, arg).map(Vec::into_boxed_slice))
                .collect::<Result<_, _>>()?;
            let pointers: Vec<*const u8> = images.iter().map(|i| i.as_ptr()).collect();
            // SAFETY: as above; every pointer refers to a whole image of its parameter,
            // and `result` has exactly the result's size.
            unsafe { sig.call_native(target, &pointers, result.as_mut_ptr()) }
        }
    };
    let (fail, last) = (conf_fail(), conf_last());
    drop(serial);

    outcome.map_err(|e| format!("call: {e}"))?;
    let mut problems = Vec::new();
    if last != case.id as i32 {
        problems.push(format!("the callee did not run (last callee id {last})"));
    }
    if fail != 0 {
        problems.push(format!("argument {} arrived wrong (conf_fail {fail})", fail % 100 - 1));
    }
    let right = match path {
        Path::Values => same(&ret, &got, &expected),
        Path::Native => meaning(&ret, &result) == meaning(&ret, &expected),
    };
    if !ret.is_void() && !right {
        let result =
            if let Path::Values = path { got.to_string() } else { format!("{result:02x?}") };
        problems.push(format!("result {result} (expected bytes {expected:02x?})"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Whether argument i (of type t, with expected image e) is wrong, and then how it looks.
type Arrived<'a> = dyn Fn(usize, &Type, &[u8]) -> Option<String> + 'a;

/// One callback case; `Err` says what went wrong.
fn callback(case: &'static CallbackCase, abi: Abi, path: Path) -> Result<(), String> {
    let ret = native_type(case.ret);
    let params: Vec<Type> = case.params.iter().map(|t| native_type(t)).collect();
    let expected: Vec<Vec<u8>> = params
        .iter()
        .zip(case.args)
        .map(|(ty, a)| image(ty, &value(a)))
        .collect::<Result<_, _>>()?;
    let result = value(case.result);

    let seen: Arc<Mutex<(usize, Vec<String>)>> = Arc::default();
    let record = seen.clone();
    let types = params.clone();
    // Records the closure's run and what was wrong with each argument it got: `arrived`
    // says whether argument i (of type t, expected image e) is right, and how it looks.
    let check = move |arrived: &Arrived| {
        let mut seen = record.lock().unwrap_or_else(|p| p.into_inner());
        seen.0 += 1;
        for (i, (ty, want)) in types.iter().zip(&expected).enumerate() {
            if let Some(got) = arrived(i, ty, want) {
                seen.1.push(format!("argument {i} arrived as {got}"));
            }
        }
    };
    let callback = match path {
        Path::Values => ffi::callback(abi, ret.clone(), params.clone(), move |args| {
            check(&|i, ty, want| (!same(ty, &args[i], want)).then(|| args[i].to_string()));
            Ok(result.clone())
        }),
        Path::Native => {
            let (types, ret_type) = (params.clone(), ret.clone());
            ffi::callback_native(abi, ret.clone(), params.clone(), move |ptrs, out| {
                let images: Vec<Vec<u8>> = types
                    .iter()
                    .zip(ptrs)
                    // SAFETY: each pointer refers to a whole image of its parameter.
                    .map(|(ty, &p)| unsafe { std::slice::from_raw_parts(p, ty.size()) }.to_vec())
                    .collect();
                check(&|i, ty, want| {
                    let got = &images[i];
                    (meaning(ty, got) != meaning(ty, want)).then(|| format!("{got:02x?}"))
                });
                if !ret_type.is_void() {
                    let image = ffi::write(&ret_type, &result, None, None)?.to_vec();
                    // SAFETY: `out` has room for the result type's size, which `image` is.
                    unsafe { std::ptr::copy_nonoverlapping(image.as_ptr(), out, image.len()) };
                }
                Ok(())
            })
        }
    }
    .map_err(|e| format!("callback: {e}"))?;

    let host = Abi::host().expect("a host with a C convention");
    let driver_sig = ffi::signature(host, native_type(":int"), vec![native_type(":ptr")])
        .map_err(|e| format!("driver signature: {e}"))?;
    // SAFETY: `case.driver` is `int(RET (*)(ARGS...))` in the default convention, and the
    // callback has exactly that pointer's signature and convention; it outlives the call.
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
        Ok(other) => problems.push(format!("C got a wrong result: leaf {other} - 1 differed")),
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

fn describe(
    name: &str,
    abi: &str,
    ret: &str,
    params: &[&str],
    args: &[&str],
    problem: &str,
) -> String {
    let mut s = format!("{name} ({abi}): {problem}\n    ret      {ret}\n");
    for (i, (t, a)) in params.iter().zip(args).enumerate() {
        s += &format!("    arg {i:<4} {t}  =  {a}\n");
    }
    s
}

/// A call case, as the runner sees it.
struct CallCase(&'static Case);
/// A callback case, as the runner sees it.
struct CbCase(&'static CallbackCase);

impl suite::Case for CallCase {
    fn name(&self) -> &'static str {
        self.0.name
    }
    fn abi(&self) -> &'static str {
        self.0.abi
    }
    fn describe(&self, problem: &str) -> String {
        let c = self.0;
        describe(c.name, c.abi, c.ret, c.params, c.args, problem)
            + &format!("    expected {}\n", c.expected)
    }
}

impl suite::Case for CbCase {
    fn name(&self) -> &'static str {
        self.0.name
    }
    fn abi(&self) -> &'static str {
        self.0.abi
    }
    fn describe(&self, problem: &str) -> String {
        let c = self.0;
        describe(c.name, c.abi, c.ret, c.params, c.args, problem)
            + &format!("    result   {}\n", c.result)
    }
}

fn leak<T>(items: Vec<T>) -> &'static [T] {
    Box::leak(items.into_boxed_slice())
}

fn run_calls(abi: Abi) {
    run_call_table("wide cases", WIDE_CASES, MIN_CASES, abi);
}

fn run_call_table(what: &str, table: &'static [Case], min: usize, abi: Abi) {
    let cases = leak(table.iter().map(CallCase).collect());
    suite::run(what, abi, cases, min, |case| {
        [Path::Values, Path::Native]
            .into_iter()
            .filter_map(|p| call(case.0, abi, p).err().map(|e| format!("{p:?}: {e}")))
            .collect()
    });
}

fn run_callbacks(abi: Abi) {
    run_callback_table("wide callback cases", WIDE_CALLBACK_CASES, MIN_CASES, abi);
}

fn run_callback_table(what: &str, table: &'static [CallbackCase], min: usize, abi: Abi) {
    let cases = leak(table.iter().map(CbCase).collect());
    suite::run(what, abi, cases, min, |case| {
        [Path::Values, Path::Native]
            .into_iter()
            .filter_map(|p| callback(case.0, abi, p).err().map(|e| format!("{p:?}: {e}")))
            .collect()
    });
}

#[test]
fn sysv64_calls() {
    run_calls(Abi::SysV64);
}

#[test]
fn win64_calls() {
    run_calls(Abi::Win64);
}

#[test]
fn aapcs64_calls() {
    run_calls(Abi::Aapcs64);
}

#[test]
fn sysv64_callbacks() {
    run_callbacks(Abi::SysV64);
}

#[test]
fn win64_callbacks() {
    run_callbacks(Abi::Win64);
}

#[test]
fn aapcs64_callbacks() {
    run_callbacks(Abi::Aapcs64);
}

/// The mix has what the issue asks for: every wide type as an argument and as a result,
/// x87 results (st(0), st(0)+st(1), a struct of one long double), hidden-pointer results,
/// wide types inside structs and arrays, and cases whose wide arguments go on the stack.
#[test]
fn the_mix_covers_the_wide_rules() {
    use std::collections::BTreeSet;
    let Some(abi) = WIDE_CASES.first().map(|c| c.abi) else { return };
    let mut seen = BTreeSet::new();
    let calls = WIDE_CASES.iter().map(|c| (c.abi, c.params, c.ret));
    let callbacks = WIDE_CALLBACK_CASES.iter().map(|c| (c.abi, c.params, c.ret));
    for (_, params, ret) in calls.chain(callbacks).filter(|c| c.0 == abi) {
        for (i, p) in params.iter().enumerate() {
            if let Some(k) = p.strip_prefix(':') {
                seen.insert(format!("arg {k}"));
                if i >= 8 {
                    seen.insert(format!("late arg {k}"));
                }
            } else if p.contains(":long-double") || p.contains("128") || p.contains(":complex") {
                seen.insert("in a struct".to_string());
                if p.contains("@[:") {
                    seen.insert("in an array".to_string());
                }
            }
        }
        if let Some(k) = ret.strip_prefix(':') {
            seen.insert(format!("ret {k}"));
        }
        if ret == "[:long-double]" {
            seen.insert("ret struct of one long double".to_string());
        }
    }
    let mut wanted = vec!["in a struct".to_string(), "in an array".to_string()];
    wanted.push("ret struct of one long double".into());
    for k in [
        "long-double",
        "int128",
        "uint128",
        "complex-float",
        "complex-double",
        "complex-long-double",
    ] {
        wanted.extend([format!("arg {k}"), format!("late arg {k}"), format!("ret {k}")]);
    }
    let missing: Vec<_> = wanted.iter().filter(|w| !seen.contains(*w)).collect();
    assert!(missing.is_empty(), "{abi}: never {missing:?}");
}

/// Every convention this host runs has at least 500 cases of each direction.
#[test]
fn every_callable_convention_has_wide_cases() {
    // The AArch64 flavours have their own suite (built from tests/flavour-callees).
    let flavour = |a: &Abi| matches!(a, Abi::Aapcs64Apple | Abi::Aapcs64Win);
    for abi in Abi::ALL.into_iter().filter(|a| a.runs_on_host() && !flavour(a)) {
        let calls = WIDE_CASES.iter().filter(|c| c.abi == abi.name()).count();
        let callbacks = WIDE_CALLBACK_CASES.iter().filter(|c| c.abi == abi.name()).count();
        assert!(
            calls >= MIN_CASES && callbacks >= MIN_CASES,
            "{}: {calls}, {callbacks}",
            abi.name()
        );
    }
}

fn run_union_calls(abi: Abi) {
    run_call_table("union cases", UNION_CASES, MIN_UNION_CASES, abi);
}

fn run_union_callbacks(abi: Abi) {
    run_callback_table("union callback cases", UNION_CALLBACK_CASES, MIN_UNION_CASES, abi);
}

#[test]
fn union_sysv64_calls() {
    run_union_calls(Abi::SysV64);
}

#[test]
fn union_win64_calls() {
    run_union_calls(Abi::Win64);
}

#[test]
fn union_aapcs64_calls() {
    run_union_calls(Abi::Aapcs64);
}

#[test]
fn union_sysv64_callbacks() {
    run_union_callbacks(Abi::SysV64);
}

#[test]
fn union_win64_callbacks() {
    run_union_callbacks(Abi::Win64);
}

#[test]
fn union_aapcs64_callbacks() {
    run_union_callbacks(Abi::Aapcs64);
}

/// What a union case has, for the coverage test: where its unions are and what kind.
fn union_traits(ty: &Type, at: &str, out: &mut std::collections::BTreeSet<String>) {
    let Type::Union(s) = ty else {
        if let Type::Struct(s) = ty {
            if s.fields().iter().any(|f| matches!(f.ty, Type::Union(_))) {
                out.insert(format!("{at} struct with a union"));
            }
        }
        return;
    };
    out.insert(format!("{at} union"));
    fn scalars(ty: &Type, out: &mut Vec<Type>) {
        match ty {
            Type::Struct(s) | Type::Union(s) => s.fields().iter().for_each(|f| scalars(&f.ty, out)),
            Type::Array(a) => scalars(&a.elem, out),
            scalar => out.push(scalar.clone()),
        }
    }
    let mut leaves = Vec::new();
    scalars(ty, &mut leaves);
    let floats = |t: &Type| matches!(t.prim(), Some(Prim::F32 | Prim::F64));
    if leaves.iter().all(floats) {
        out.insert("float-only union".into());
    } else if leaves.iter().any(floats) {
        out.insert("int and float union".into());
    }
    if leaves.iter().any(|t| matches!(t, Type::Wide(Wide::LongDouble | Wide::ComplexLongDouble))) {
        out.insert("long double union".into());
    }
    if s.fields().iter().any(|f| matches!(f.ty, Type::Array(_))) {
        out.insert("union with an array".into());
    }
    if s.fields().iter().any(|f| matches!(f.ty, Type::Struct(_))) {
        out.insert("union of a struct".into());
    }
    if ty.align() == 1 && ty.size() > 1 {
        out.insert("packed union".into());
    }
}

/// The union mix has what the issue asks for on each convention built: unions as early
/// and late (stack) arguments and as results, in structs and holding structs, of floats
/// only, of ints and floats, with arrays, packed, with a `long double` (x86-64 only), and
/// both value forms (`[I V]` and bytes).
#[test]
fn the_union_mix_covers_the_union_rules() {
    use std::collections::BTreeSet;
    for abi in ["sysv64", "win64", "aapcs64"] {
        let calls = UNION_CASES.iter().map(|c| (c.abi, c.params, c.args, c.ret));
        let callbacks = UNION_CALLBACK_CASES.iter().map(|c| (c.abi, c.params, c.args, c.ret));
        let mut seen = BTreeSet::new();
        let mut built = false;
        for (_, params, args, ret) in calls.chain(callbacks).filter(|c| c.0 == abi) {
            built = true;
            for (i, (p, a)) in params.iter().zip(args.iter()).enumerate() {
                let at = if i >= 8 { "late arg" } else { "arg" };
                union_traits(&native_type(p), at, &mut seen);
                if p.starts_with("[:union") {
                    let form = if a.starts_with('"') { "bytes" } else { "[I V]" };
                    seen.insert(format!("union argument as {form}"));
                }
            }
            union_traits(&native_type(ret), "ret", &mut seen);
        }
        if !built {
            continue;
        }
        let mut wanted: Vec<&str> = vec![
            "arg union",
            "late arg union",
            "ret union",
            "arg struct with a union",
            "ret struct with a union",
            "float-only union",
            "int and float union",
            "union with an array",
            "union of a struct",
            "packed union",
            "union argument as bytes",
            "union argument as [I V]",
        ];
        if abi != "aapcs64" {
            wanted.push("long double union");
        }
        let missing: Vec<_> = wanted.iter().filter(|w| !seen.contains(**w)).collect();
        assert!(missing.is_empty(), "{abi}: never {missing:?}");
    }
}
