//! Libraries and symbols (`ffi/native`, `ffi/lookup`, `ffi/close`), and calls into the C
//! library found through them: libc on Unix, msvcrt.dll on Windows.

use jitcall::{ffi, syntax, Abi, Buffer, Native, Signature, Type, Value};

fn ty(text: &str) -> Type {
    ffi::native_type(&syntax::read(text).unwrap()).unwrap()
}

/// The C library: the running program on Unix (libc is loaded), msvcrt.dll on Windows.
fn c_library() -> Native {
    let path = if cfg!(windows) { Some("msvcrt.dll") } else { None };
    // SAFETY: the C runtime is already loaded into every test process.
    unsafe { ffi::native(path) }.unwrap()
}

fn host() -> Abi {
    Abi::host().expect("tests run on a host jitcall supports")
}

#[test]
fn strlen_through_the_c_library() {
    let lib = c_library();
    let strlen = lib.lookup("strlen").unwrap().expect("the C library has strlen");
    let sig = ffi::signature(host(), ty(":size"), vec![ty(":string")]).unwrap();
    // SAFETY: strlen(const char *) -> size_t, given a NUL-terminated string.
    let n = unsafe { ffi::call(strlen, &sig, &[Value::string("hello")]) }.unwrap();
    assert_eq!(n, Value::UInt(5));
}

/// Janet's suite, item 1: memcpy into a buffer passed as `:ptr`.
#[test]
fn memcpy_writes_into_a_buffer() {
    let lib = c_library();
    let memcpy = lib.lookup("memcpy").unwrap().expect("the C library has memcpy");
    let sig =
        ffi::signature(host(), ty(":ptr"), vec![ty(":ptr"), ty(":ptr"), ty(":size")]).unwrap();
    let dest = Buffer::from_vec(b"aaaa".to_vec());
    let src = Buffer::from_vec(b"bbbb".to_vec());
    let args = [Value::Buffer(dest.clone()), Value::Buffer(src), Value::Number(4.0)];
    // SAFETY: both buffers hold 4 bytes and stay alive across the call.
    let result = unsafe { ffi::call(memcpy, &sig, &args) }.unwrap();
    assert_eq!(dest.to_vec(), b"bbbb");
    assert_eq!(result, Value::Pointer(dest.data_ptr()));
}

#[test]
fn c_functions_of_several_shapes() {
    let lib = c_library();
    let call = |name: &str, ret: &str, params: &[&str], args: &[Value]| {
        let f = lib.lookup(name).unwrap().unwrap_or_else(|| panic!("no {name}"));
        let sig = ffi::signature(host(), ty(ret), params.iter().map(|p| ty(p)).collect()).unwrap();
        // SAFETY: each signature below is the C library's own.
        unsafe { ffi::call(f, &sig, args) }.unwrap()
    };
    assert_eq!(call("abs", ":int", &[":int"], &[Value::Number(-42.0)]), Value::Number(42.0));
    assert_eq!(call("atof", ":double", &[":string"], &[Value::string("2.5")]), Value::Number(2.5));
    let strtod =
        call("strtod", ":double", &[":string", ":ptr"], &[Value::string("-0.375"), Value::Nil]);
    assert_eq!(strtod, Value::Number(-0.375));
    assert_eq!(call("toupper", ":int", &[":int"], &[Value::Number(97.0)]), Value::Number(65.0));
    // msvcrt.dll spells strtoll `_strtoi64`.
    let strtoll = call(
        if cfg!(windows) { "_strtoi64" } else { "strtoll" },
        ":int64",
        &[":string", ":ptr", ":int"],
        &[Value::string("-9223372036854775807"), Value::Nil, Value::Number(10.0)],
    );
    assert_eq!(strtoll, Value::Int(-9223372036854775807));
    // A NULL `char *` result reads as nil.
    let getenv =
        call("getenv", ":string", &[":string"], &[Value::string("JITCALL_NEVER_SET_THIS")]);
    assert_eq!(getenv, Value::Nil);
}

#[test]
fn the_running_program_finds_c_functions() {
    // SAFETY: opening the running program runs no initialisers.
    let me = unsafe { ffi::native(None) }.unwrap();
    assert!(me.is_self());
    assert!(me.lookup("strlen").unwrap().is_some());
}

#[test]
fn a_missing_symbol_is_none() {
    let lib = c_library();
    assert_eq!(lib.lookup("jitcall_no_such_symbol_anywhere").unwrap(), None);
    assert_eq!(lib.lookup("str\0len").unwrap(), None);
}

#[test]
fn closing() {
    // SAFETY: opening the running program runs no initialisers.
    let me = unsafe { ffi::native(None) }.unwrap();
    assert_eq!(me.close().unwrap_err().to_string(), "cannot close self");

    let path = if cfg!(windows) { "msvcrt.dll" } else { "libm.so.6" };
    // SAFETY: the C math library (msvcrt on Windows) is sound to load.
    let lib = unsafe { ffi::native(Some(path)) }.unwrap();
    assert!(lib.lookup("cos").unwrap().is_some());
    lib.close().unwrap();
    assert_eq!(lib.close().unwrap_err().to_string(), "native object already closed");
    assert_eq!(lib.lookup("cos").unwrap_err().to_string(), "native object already closed");
}

#[test]
fn a_missing_library_gives_the_loaders_message() {
    // SAFETY: the library does not exist, so nothing is loaded.
    let err = unsafe { ffi::native(Some("/nonexistent/libjitcall-nothing.so")) }.unwrap_err();
    let message = err.to_string();
    assert!(!message.is_empty());
    if cfg!(target_os = "linux") {
        assert!(message.contains("No such file or directory"), "{message}");
    }
}

#[test]
fn call_checks_arity_and_converts_every_argument_first() {
    let lib = c_library();
    let abs = lib.lookup("abs").unwrap().unwrap();
    let sig = ffi::signature(host(), ty(":int"), vec![ty(":int")]).unwrap();
    // SAFETY: nothing is called: the arity check fails first.
    let err = unsafe { ffi::call(abs, &sig, &[]) }.unwrap_err();
    assert_eq!(err.to_string(), "arity mismatch, expected 1, got 0");
    // SAFETY: nothing is called: the conversion fails first.
    let err = unsafe { ffi::call(abs, &sig, &[Value::Number(1.5)]) }.unwrap_err();
    assert_eq!(
        err.to_string(),
        "bad slot #2 (argument 0), expected 32 bit signed integer, got 1.5"
    );
}

#[test]
fn signatures_that_no_convention_can_pass_are_errors() {
    for abi in Abi::ALL {
        let classify = |ret: &str, params: &[&str]| {
            let sig = Signature::new(abi, ty(ret), params.iter().map(|p| ty(p)).collect());
            jitcall::internals::arch::classify(&sig).unwrap_err().to_string()
        };
        let err = classify(":int", &[":int", ":void"]);
        assert_eq!(err, "unexpected void parameter (argument 1)");
        assert!(classify(":int", &["@[:int 4]"]).contains("array type"));
        assert!(classify("@[:int 4]", &[]).contains("array type"));
        assert!(classify("[@[:int]]", &[]).contains("zero-size struct"));
    }
}

#[test]
fn conventions_this_host_cannot_run_are_errors_for_calls() {
    let foreign = if cfg!(target_arch = "x86_64") { Abi::Aapcs64 } else { Abi::SysV64 };
    let err = ffi::signature(foreign, ty(":int"), vec![]).unwrap_err();
    assert!(err.to_string().contains("cannot be called on this host"), "{err}");
    let usable = ffi::calling_conventions();
    assert_eq!(usable.first().copied(), Abi::host());
    assert!(!usable.contains(&foreign));
}

#[test]
fn signatures_are_cached() {
    let a = ffi::signature(host(), ty("[:int :double]"), vec![ty(":u8")]).unwrap();
    let b = ffi::signature(host(), ty("[:int :double]"), vec![ty(":u8")]).unwrap();
    assert_eq!(a.code(), b.code());
    assert_eq!(a.plan(), b.plan());
}

#[repr(C)]
#[derive(Debug, PartialEq, Clone, Copy)]
struct Mixed {
    a: i8,
    b: f64,
    c: u16,
}

extern "C" fn combine(x: Mixed, scale: f32, y: Mixed) -> Mixed {
    Mixed { a: x.a.wrapping_add(y.a), b: (x.b + y.b) * f64::from(scale), c: x.c ^ y.c }
}

/// The typed path: native images in, a native image out, no `Value`s.
#[test]
fn call_native_passes_images_as_they_are() {
    let mixed = ty("[:int8 :double :uint16]");
    let sig =
        ffi::signature(host(), mixed.clone(), vec![mixed.clone(), ty(":float"), mixed]).unwrap();
    let x = Mixed { a: -100, b: 1.25, c: 0xBEEF };
    let y = Mixed { a: 27, b: 2.5, c: 0x0F0F };
    let scale = 2.0f32;
    let mut out = Mixed { a: 0, b: 0.0, c: 0 };
    let args = [
        (&x as *const Mixed).cast::<u8>(),
        (&scale as *const f32).cast::<u8>(),
        (&y as *const Mixed).cast::<u8>(),
    ];
    let target = jitcall::Pointer::from_ptr(combine as *const ());
    // SAFETY: `combine` has exactly this signature in the host's C convention, and each
    // pointer refers to a live value of its parameter's C type.
    unsafe { sig.call_native(target, &args, (&mut out as *mut Mixed).cast()) }.unwrap();
    assert_eq!(out, combine(x, scale, y));
}
