//! Binding variadic functions: `defbind!` with `fn name(fixed..., ...)`, and
//! `Context::bind_variadic` with the variadic part given per call.

use std::sync::Arc;

use jitcall::context::{Context, VarArg};
use jitcall::{ffi, syntax, Type, Value};

/// The C library: the running program on Unix, msvcrt.dll on Windows.
const C_LIBRARY: Option<&str> = if cfg!(windows) { Some("msvcrt.dll") } else { None };

jitcall::defbind! {
    /// A variadic function between two fixed ones.
    struct Stdio {
        fn abs(x: i32) -> i32;
        /// `int sprintf(char *, const char *, ...)`.
        fn sprintf(buffer: *mut u8, format: *const u8, ...) -> i32;
        fn atoi(text: *const u8) -> i32;
    }
}

fn context(lazy: bool) -> Arc<Context> {
    // SAFETY: the C runtime is already loaded in every test process.
    unsafe { ffi::context(C_LIBRARY, lazy, None) }.unwrap()
}

fn text(buffer: &[u8]) -> &str {
    std::ffi::CStr::from_bytes_until_nul(buffer).unwrap().to_str().unwrap()
}

#[test]
fn defbind_calls_a_variadic_function_with_each_calls_own_arguments() {
    for lazy in [false, true] {
        let ctx = context(lazy);
        // SAFETY: the C library's own signatures.
        let stdio = unsafe {
            if lazy {
                Stdio::bind_lazy(ctx)
            } else {
                Stdio::bind(&ctx).unwrap()
            }
        };
        let mut buffer = [0u8; 64];
        let n = stdio
            .sprintf(
                buffer.as_mut_ptr(),
                c"%d|%s|%.2f".as_ptr().cast(),
                &[(-7i32).into(), VarArg::from(c"ok".as_ptr()), 1.25f64.into()],
            )
            .unwrap();
        assert_eq!((n, text(&buffer)), (10, "-7|ok|1.25"));
        // Another variadic list: another signature, same binding.
        let n = stdio
            .sprintf(buffer.as_mut_ptr(), c"%lld".as_ptr().cast(), &[(-5_000_000_000i64).into()])
            .unwrap();
        assert_eq!((n, text(&buffer)), (11, "-5000000000"));
        let n = stdio.sprintf(buffer.as_mut_ptr(), c"plain".as_ptr().cast(), &[]).unwrap();
        assert_eq!((n, text(&buffer)), (5, "plain"));
        assert_eq!(stdio.abs(-3).unwrap(), 3);
        assert_eq!(stdio.atoi(c"41".as_ptr().cast()).unwrap(), 41);
    }
}

#[test]
fn a_variadic_argument_of_an_unpromoted_type_is_refused() {
    // SAFETY: the C library's own signatures.
    let stdio = unsafe { Stdio::bind(&context(false)) }.unwrap();
    let mut buffer = [0u8; 16];
    let err =
        stdio.sprintf(buffer.as_mut_ptr(), c"%f".as_ptr().cast(), &[1.5f32.into()]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "variadic argument 2 has type :float, which C promotes to :double: pass it as :double"
    );
    let err =
        stdio.sprintf(buffer.as_mut_ptr(), c"%d".as_ptr().cast(), &[7i16.into()]).unwrap_err();
    assert!(err.to_string().ends_with("pass it as :int"), "{err}");
    assert_eq!(buffer[0], 0, "nothing was called");
}

#[test]
fn bind_variadic_calls_with_values() {
    let ctx = context(false);
    let ty = |t: &str| ffi::native_type(&syntax::read(t).unwrap()).unwrap();
    // SAFETY: `int sprintf(char *, const char *, ...)`.
    let sprintf =
        unsafe { ctx.bind_variadic("sprintf", ty(":int"), vec![ty(":ptr"), ty(":string")]) }
            .unwrap();
    let buffer = jitcall::Buffer::from_vec(vec![0; 64]);
    let fixed = [Value::Pointer(buffer.data_ptr()), Value::string("%u-%g-%s")];
    let variadic = [
        (ty(":uint"), Value::Number(4e9)),
        (ty(":double"), Value::Number(0.5)),
        (ty(":string"), Value::string("z")),
    ];
    // SAFETY: a 64-byte buffer and a format that reads these three arguments.
    let n = unsafe { sprintf.call(&fixed, &variadic) }.unwrap();
    assert_eq!(n, Value::Number(16.0));
    assert_eq!(text(&buffer.to_vec()), "4000000000-0.5-z");
    // The wrong number of fixed arguments.
    let err = unsafe { sprintf.call_native(&[], &[], std::ptr::null_mut()) }.unwrap_err();
    assert_eq!(err.to_string(), "arity mismatch, expected 2, got 0");
    let err = VarArg::from_image(Type::Prim(jitcall::Prim::I32), &[1, 2]).unwrap_err();
    assert_eq!(err.to_string(), "a variadic :int32 needs 4 bytes, got 2");
}
