//! `ffi::context` and `defbind!`: eager and lazy libraries, symbol mapping, typed calls.

use std::sync::Arc;

use jitcall::context::Context;
use jitcall::{ffi, Abi};

/// The C library: the running program on Unix, msvcrt.dll on Windows.
const C_LIBRARY: Option<&str> = if cfg!(windows) { Some("msvcrt.dll") } else { None };

jitcall::defbind! {
    /// Functions of the C library.
    struct Libc {
        fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8;
        fn abs(x: i32) -> i32;
        fn atof(text: *const u8) -> f64;
        fn toupper(c: i32) -> i32;
    }
}

jitcall::defbind! {
    struct Missing {
        fn abs(x: i32) -> i32;
        fn jitcall_no_such_function(x: i32) -> i32;
    }
}

jitcall::defbind! {
    struct Prefixed {
        fn my_abs(x: i32) -> i32;
    }
}

fn context(lazy: bool) -> Arc<Context> {
    // SAFETY: the C runtime is already loaded in every test process.
    unsafe { ffi::context(C_LIBRARY, lazy, None) }.unwrap()
}

/// Janet's FFI suite, item 1: `(ffi/defbind memcpy :ptr [dest :ptr src :ptr n :size])`.
#[test]
fn memcpy_through_an_eager_binding() {
    // SAFETY: the declarations above are the C library's signatures.
    let libc = unsafe { Libc::bind(&context(false)) }.unwrap();
    let mut dest = *b"aaaa";
    let src = *b"bbbb";
    let returned = libc.memcpy(dest.as_mut_ptr(), src.as_ptr(), 4).unwrap();
    assert_eq!(&dest, b"bbbb");
    assert_eq!(returned, dest.as_mut_ptr());
    assert_eq!(libc.abs(-42).unwrap(), 42);
    assert_eq!(libc.atof(c"-2.5".as_ptr().cast()).unwrap(), -2.5);
    assert_eq!(libc.toupper(i32::from(b'q')).unwrap(), i32::from(b'Q'));
}

#[test]
fn an_eager_binding_reports_the_missing_symbol() {
    // SAFETY: abs is declared with its true signature; the other one does not exist.
    let err = unsafe { Missing::bind(&context(false)) }.err().expect("a missing symbol");
    assert_eq!(err.to_string(), "failed to find ffi symbol jitcall_no_such_function");
}

#[test]
fn a_lazy_binding_resolves_on_first_use() {
    // SAFETY: as above.
    let missing = unsafe { Missing::bind_lazy(context(true)) };
    assert_eq!(missing.abs(-3).unwrap(), 3);
    let err = missing.jitcall_no_such_function(1).unwrap_err();
    assert_eq!(err.to_string(), "failed to find ffi symbol jitcall_no_such_function");
}

#[test]
fn a_lazy_context_opens_its_library_on_first_use() {
    let path = Some("/nonexistent/libjitcall-none.so");
    // SAFETY: the library does not exist, so nothing is loaded.
    let lazy = unsafe { ffi::context(path, true, None) }.unwrap();
    assert!(lazy.is_lazy());
    // SAFETY: nothing is called: the library does not open.
    let bound = unsafe { Libc::bind_lazy(lazy) };
    assert!(bound.abs(1).is_err());
    // SAFETY: as above.
    assert!(unsafe { ffi::context(path, false, None) }.is_err());
}

#[test]
fn symbol_names_are_mapped() {
    assert_eq!(context(false).symbol_name("int-fn"), "int_fn");
    let strip = Box::new(|name: &str| name.trim_start_matches("my_").to_string());
    // SAFETY: as in `context`.
    let ctx = unsafe { ffi::context(C_LIBRARY, false, Some(strip)) }.unwrap();
    // SAFETY: my_abs maps to abs, whose signature it is.
    let prefixed = unsafe { Prefixed::bind(&ctx) }.unwrap();
    assert_eq!(prefixed.my_abs(-9).unwrap(), 9);
}

#[test]
fn the_default_convention_is_the_hosts() {
    assert_eq!(ffi::calling_conventions().first().copied(), Abi::host());
}

jitcall::defbind! {
    struct Answer {
        fn jitcall_test_answer(x: i32) -> i32;
        fn jitcall_test_other(x: i32) -> i32;
    }
}

/// A shared library of our own, loaded by nothing else, so that closing it really
/// unloads it: built with the host's C compiler. `None` where there is none, or where it
/// builds for another machine (`JITCALL_NO_HOST_CC`: cross runs under an emulator), and
/// the test says so.
#[cfg(target_os = "linux")]
fn answer_library(name: &str) -> Option<String> {
    // Under an emulator the host's compiler builds for the host, not for this process.
    if std::env::var_os("JITCALL_NO_HOST_CC").is_some() {
        return None;
    }
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let stem = format!("jitcall_{name}_{}", std::process::id());
    let source = dir.join(format!("{stem}.c"));
    let library = dir.join(format!("lib{stem}.so"));
    let c = "int jitcall_test_answer(int x) { return x + 42; }\n\
             int jitcall_test_other(int x) { return x - 1; }\n";
    std::fs::write(&source, c).unwrap();
    let built = std::process::Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&library)
        .arg(&source)
        .status();
    std::fs::remove_file(&source).unwrap();
    match built {
        Ok(status) if status.success() => Some(library.to_str().unwrap().to_string()),
        _ => None,
    }
}

/// Whether a file is mapped into this process (`/proc/self/maps`).
#[cfg(target_os = "linux")]
fn is_mapped(path: &str) -> bool {
    std::fs::read_to_string("/proc/self/maps").unwrap().contains(path)
}

/// Closing a context's library under a live binding: the binding keeps the library
/// loaded (before, the next call jumped into unmapped memory from safe code).
#[cfg(target_os = "linux")]
#[test]
fn a_binding_keeps_its_library_loaded_after_close() {
    let Some(path) = answer_library("kept") else {
        eprintln!("no C compiler: cannot build a library of our own, test skipped");
        return;
    };
    // SAFETY: our own library, which has no initialisers.
    let ctx = Arc::new(unsafe { Context::new(Some(&path), false, None) }.unwrap());
    // SAFETY: both declarations are the functions' C signatures. Lazy: the second one
    // stays unresolved until after the close.
    let answer = unsafe { Answer::bind_lazy(ctx.clone()) };
    assert_eq!(answer.jitcall_test_answer(1).unwrap(), 43);

    ctx.native().unwrap().close().unwrap();
    assert!(is_mapped(&path), "the binding must keep {path} loaded");
    assert_eq!(answer.jitcall_test_answer(2).unwrap(), 44);
    let err = answer.jitcall_test_other(1).unwrap_err();
    assert_eq!(err.to_string(), "native object already closed");
    assert_eq!(
        ctx.native().unwrap().close().unwrap_err().to_string(),
        "native object already closed"
    );

    drop(answer);
    assert!(!is_mapped(&path), "dropping the last binding unloads {path}");
    std::fs::remove_file(&path).unwrap();
}

/// Without bindings, close unloads the library at once.
#[cfg(target_os = "linux")]
#[test]
fn closing_without_bindings_unloads_at_once() {
    let Some(path) = answer_library("unloaded") else {
        eprintln!("no C compiler: cannot build a library of our own, test skipped");
        return;
    };
    // SAFETY: as above.
    let ctx = unsafe { Context::new(Some(&path), false, None) }.unwrap();
    assert!(ctx.native().unwrap().lookup("jitcall_test_answer").unwrap().is_some());
    assert!(is_mapped(&path));
    ctx.native().unwrap().close().unwrap();
    assert!(!is_mapped(&path));
    std::fs::remove_file(&path).unwrap();
}

#[cfg(all(unix, target_arch = "x86_64"))]
jitcall::defbind! {
    /// `long double` functions of the C library, with `LongDouble` images.
    struct LibcLongDouble {
        fn strtold(text: *const u8, end: *mut *mut u8) -> jitcall::ldouble::LongDouble;
    }
}

/// `long double` through the typed layer: an `st(0)` result, with the 64-bit significand
/// intact (no rounding through a double).
#[cfg(all(unix, target_arch = "x86_64"))]
#[test]
fn typed_long_double_results() {
    // SAFETY: the C library's strtold has this signature.
    let lib = unsafe { LibcLongDouble::bind(&context(false)) }.unwrap();
    // -(1 + 2^-63): not a double.
    let text = c"-0x1.0000000000000002p+0";
    let x = lib.strtold(text.as_ptr().cast(), std::ptr::null_mut()).unwrap();
    assert_eq!(x.x87_parts(), (true, 0x3fff, 0x8000_0000_0000_0001));
}

/// The 128-bit integers' types are the C ones, with Rust's layout.
#[test]
fn int128_native_types_match_rust_layout() {
    use jitcall::context::NativeType;
    for (ty, size, align) in [
        (i128::native_type(), std::mem::size_of::<i128>(), std::mem::align_of::<i128>()),
        (u128::native_type(), std::mem::size_of::<u128>(), std::mem::align_of::<u128>()),
    ] {
        assert_eq!((ty.size(), ty.align()), (size, align), "{ty}");
    }
    #[cfg(target_arch = "x86_64")]
    {
        let ty = jitcall::ldouble::LongDouble::native_type();
        assert_eq!(
            (ty.size(), ty.align()),
            (16, std::mem::align_of::<jitcall::ldouble::LongDouble>())
        );
    }
}
