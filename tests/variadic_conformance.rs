//! The generated variadic conformance suite: every `VARIADIC_CASES` callee of
//! `jitcall-conformance-c` (520 per convention: 1 to 6 fixed parameters, 0 to 20
//! variadic arguments of every promoted scalar type and of structs, read by the C callee
//! with `va_arg` and checked byte for byte), called through jitcall's value path and its
//! native path. The callees come from that crate's build script, so this also runs under
//! wine (win64) and qemu (aapcs64). Tracing and selection: see `common/suite.rs`.

use std::sync::Mutex;

mod common;

use common::generated::{native_type, value};
use common::suite;
use jitcall::{ffi, Abi, Pointer, Value};
use jitcall_conformance_c::{conf_fail, conf_last, conf_reset, VariadicCase, VARIADIC_CASES};

/// The callees report through process-wide globals: one call at a time.
static SERIAL: Mutex<()> = Mutex::new(());

const MIN_CASES: usize = 500;

#[derive(Clone, Copy, Debug)]
enum CallPath {
    Values,
    Native,
}

fn run(case: &VariadicCase, abi: Abi, path: CallPath) -> Result<(), String> {
    let ret = native_type(case.ret);
    let params: Vec<_> = case.params.iter().map(|t| native_type(t)).collect();
    let variadic = params[case.fixed..].to_vec();
    let fixed = params[..case.fixed].to_vec();
    let sig = ffi::variadic_signature(abi, ret, fixed, variadic)
        .map_err(|e| format!("signature: {e}"))?;
    let args: Vec<Value> = case.args.iter().map(|a| value(a)).collect();
    let expected = value(case.expected);

    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    conf_reset();
    let target = Pointer::from_ptr(case.func as *const ());
    let got = match path {
        // SAFETY: `case.func` is a C function of exactly this signature (fixed part, then
        // `...` read as these types) and convention; it only reads its arguments.
        CallPath::Values => unsafe { ffi::call(target, &sig, &args) },
        CallPath::Native => {
            // Each image in an allocation of exactly its size.
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
            let mut result = vec![0u8; ret_ty.size()].into_boxed_slice();
            // SAFETY: as above; every pointer refers to a whole image of its parameter.
            unsafe { sig.call_native(target, &pointers, result.as_mut_ptr()) }
                // SAFETY: the generated results hold no `:string`.
                .and_then(|()| unsafe {
                    ffi::read_ptr(ret_ty, Pointer::from_ptr(result.as_ptr()), 0)
                })
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
        let arg = fail % 100 - 1;
        let part = if (arg as usize) < case.fixed { "fixed" } else { "variadic" };
        problems.push(format!("{part} argument {arg} arrived wrong (conf_fail {fail})"));
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

impl suite::Case for VariadicCase {
    fn name(&self) -> &'static str {
        self.name
    }

    fn abi(&self) -> &'static str {
        self.abi
    }

    fn describe(&self, problem: &str) -> String {
        let mut s = format!("{} ({}): {problem}\n    ret      {}\n", self.name, self.abi, self.ret);
        for (i, (t, a)) in self.params.iter().zip(self.args).enumerate() {
            let dots = if i == self.fixed { "    ...\n" } else { "" };
            s += &format!("{dots}    arg {i:<4} {t}  =  {a}\n");
        }
        s += &format!("    expected {}\n", self.expected);
        s
    }
}

fn run_convention(abi: Abi) {
    suite::run("variadic cases", abi, VARIADIC_CASES, MIN_CASES, |case| {
        [CallPath::Values, CallPath::Native]
            .into_iter()
            .filter_map(|path| {
                run(case, abi, path).err().map(|problem| format!("{path:?}: {problem}"))
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

/// The host's own convention always has its variadic cases built, and the mix covers
/// what the suite is for: 0 to 20 variadic arguments, 1 to 6 fixed ones, every promoted
/// scalar type and every struct class after `...`.
#[test]
fn the_host_convention_has_the_whole_mix() {
    let Some(host) = Abi::host() else { return };
    let cases: Vec<&VariadicCase> =
        VARIADIC_CASES.iter().filter(|c| c.abi == host.name()).collect();
    assert!(cases.len() >= MIN_CASES, "{}: {} variadic cases", host.name(), cases.len());
    let counts: std::collections::BTreeSet<usize> =
        cases.iter().map(|c| c.params.len() - c.fixed).collect();
    assert_eq!(counts, (0..=20).collect());
    let fixed: std::collections::BTreeSet<usize> = cases.iter().map(|c| c.fixed).collect();
    assert_eq!(fixed, (1..=6).collect());
    let mut kinds = std::collections::BTreeSet::new();
    for case in &cases {
        for text in &case.params[case.fixed..] {
            let t = native_type(text);
            let kind = match text.strip_prefix(':') {
                Some(keyword) => keyword.to_string(),
                None => {
                    let mut prims = Vec::new();
                    t.for_each_leaf(0, &mut |p, _| prims.push(p));
                    let hfa = prims.len() <= 4 && prims.iter().all(|p| p.is_float());
                    match t.size() {
                        _ if hfa => "hfa".into(),
                        0..=8 => "small".into(),
                        9..=16 => "medium".into(),
                        _ => "large".into(),
                    }
                }
            };
            kinds.insert(kind);
        }
    }
    for wanted in ["int", "uint", "int64", "uint64", "double", "ptr", "size", "ssize"] {
        assert!(kinds.contains(wanted), "no variadic :{wanted}");
    }
    for wanted in ["small", "medium", "hfa", "large"] {
        assert!(kinds.contains(wanted), "no variadic {wanted} struct");
    }
}
