//! The hot path's entries, `RawCall` and `DirectCall`: what they accept and refuse, and
//! what becomes of a callback's error during such a call. (Every generated conformance
//! case also runs through both: tests/conformance.rs.)

use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use jitcall::{ffi, syntax, Abi, Errno, Error, Pointer, Type, Value};

fn ty(text: &str) -> Type {
    ffi::native_type(&syntax::read(text).unwrap()).unwrap()
}

fn host() -> Abi {
    Abi::host().expect("a supported host")
}

fn arg<T>(x: &T) -> *const u8 {
    (x as *const T).cast()
}

extern "C" fn sub_i32(a: i32, b: i32) -> i32 {
    a.wrapping_sub(b)
}

extern "C" fn scale(x: f64, n: i32, y: f64) -> f64 {
    x * f64::from(n) - y
}

extern "C" fn nine(a: i64, b: i64, c: i64, d: i64, e: i64, f: i64, g: i64, h: i64, i: i64) -> i64 {
    a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h + 9 * i
}

fn refusal<T: std::fmt::Debug>(result: jitcall::Result<T>) -> String {
    match result {
        Err(Error::Unsupported { message, .. }) => message,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_direct_call_returns_the_targets_register_result() {
    let sig = ffi::signature(host(), ty(":int"), vec![ty(":int"), ty(":int")]).unwrap();
    let direct = sig.direct_call::<i32>().unwrap();
    let (a, b) = (1000, -234);
    let target = Pointer::from_ptr(sub_i32 as *const c_void);
    // SAFETY: `sub_i32` is `int(int, int)`; two pointers to `i32`s.
    assert_eq!(unsafe { direct.call(target, [arg(&a), arg(&b)].as_ptr()) }, 1234);

    let sig = ffi::signature(host(), ty(":double"), vec![ty(":double"), ty(":int"), ty(":double")])
        .unwrap();
    let direct = sig.direct_call::<f64>().unwrap();
    let (x, n, y) = (1.5f64, 3i32, 0.25f64);
    let target = Pointer::from_ptr(scale as *const c_void);
    // SAFETY: `scale` is `double(double, int, double)`; the pointers match.
    assert_eq!(unsafe { direct.call(target, [arg(&x), arg(&n), arg(&y)].as_ptr()) }, 4.25);
}

#[test]
fn a_raw_call_writes_the_result_and_runs_stack_arguments() {
    let int64 = || ty(":int64");
    let sig = ffi::signature(host(), int64(), (0..9).map(|_| int64()).collect()).unwrap();
    let raw = sig.raw_call().unwrap();
    let values: Vec<i64> = (1..=9).collect();
    let pointers: Vec<*const u8> = values.iter().map(arg).collect();
    let mut ret = 0i64;
    // SAFETY: `nine` takes nine `int64_t`s and returns one; nine pointers to `i64`s.
    unsafe {
        raw.call(
            Pointer::from_ptr(nine as *const c_void),
            pointers.as_ptr(),
            (&mut ret as *mut i64).cast(),
        )
    };
    assert_eq!(ret, (1..=9).map(|i| i * i).sum::<i64>());
    // Nine arguments put some on the stack: no tail thunk for it.
    assert!(refusal(sig.direct_call::<i64>()).contains("on the stack"));
}

#[test]
fn a_direct_call_must_return_the_very_result_type() {
    let sig = ffi::signature(host(), ty(":int"), vec![ty(":int")]).unwrap();
    for message in [
        refusal(sig.direct_call::<u32>()),
        refusal(sig.direct_call::<i64>()),
        refusal(sig.direct_call::<f32>()),
        refusal(sig.direct_call::<()>()),
    ] {
        assert!(message.contains("cannot return this signature's result type :int32"), "{message}");
    }
    let sig = ffi::signature(host(), ty(":bool"), vec![]).unwrap();
    assert!(sig.direct_call::<u8>().is_ok());
    let sig = ffi::signature(host(), ty(":string"), vec![]).unwrap();
    assert!(sig.direct_call::<*mut c_void>().is_ok());
    let sig = ffi::signature(host(), ty("[:int :int]"), vec![]).unwrap();
    assert!(refusal(sig.direct_call::<u64>()).contains("result type"));
}

#[test]
fn a_direct_call_refuses_errno_and_other_conventions() {
    let sig =
        jitcall::Signature::new(host(), ty(":int"), vec![ty(":int")]).with_errno(Errno::Capture);
    let sig = jitcall::CompiledSignature::new(sig).unwrap();
    assert!(refusal(sig.direct_call::<i32>()).contains("errno"));

    let other = Abi::ALL.into_iter().find(|a| a.runs_on_host() && *a != host());
    let sig = ffi::signature(other.expect("two callable conventions"), ty(":int"), vec![]).unwrap();
    assert!(refusal(sig.direct_call::<i32>()).contains("host's own convention"));
    // A RawCall takes any callable convention.
    assert!(sig.raw_call().is_ok());
}

/// A callback that fails during a `RawCall` gives C a zero result; the call itself
/// returns nothing, and the error goes to the next reporting call out.
#[test]
fn a_callbacks_error_in_a_raw_call_goes_to_the_call_around_it() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let failing = ffi::callback(host(), ty(":int"), vec![ty(":int")], move |_| {
        counted.fetch_add(1, Ordering::Relaxed);
        Err(Error::Callback("the inner callback gave up".into()))
    })
    .unwrap();
    let sig = ffi::signature(host(), ty(":int"), vec![ty(":int")]).unwrap();
    let raw = sig.raw_call().unwrap();
    let direct = sig.direct_call::<i32>().unwrap();
    let inner = failing.code_ptr();

    // Outside any reporting call: the zero result, and nothing left pending (printed).
    let x = 7i32;
    let mut ret = -1i32;
    // SAFETY: the callback is `int(int)`; one pointer to an `i32`.
    unsafe { raw.call(inner, [arg(&x)].as_ptr(), (&mut ret as *mut i32).cast()) };
    assert_eq!(ret, 0);
    // SAFETY: as above.
    assert_eq!(unsafe { direct.call(inner, [arg(&x)].as_ptr()) }, 0);
    let fine = Pointer::from_ptr(sub_i32 as *const c_void);
    let two = ffi::signature(host(), ty(":int"), vec![ty(":int"), ty(":int")]).unwrap();
    // SAFETY: `sub_i32` is `int(int, int)`.
    let got = unsafe { ffi::call(fine, &two, &[Value::Number(5.0), Value::Number(2.0)]) };
    assert_eq!(got.unwrap(), Value::Number(3.0), "no error was left for a later call");

    // Inside a reporting call (an outer callback called through `ffi::call`), which
    // returns the inner callback's error.
    let (raw, direct) = (raw.clone(), Arc::new(direct));
    let outer = ffi::callback(host(), ty(":int"), vec![ty(":int")], move |_| {
        let x = 1i32;
        let mut ret = -1i32;
        // SAFETY: as above.
        unsafe { raw.call(inner, [arg(&x)].as_ptr(), (&mut ret as *mut i32).cast()) };
        // SAFETY: as above.
        let direct_ret = unsafe { direct.call(inner, [arg(&x)].as_ptr()) };
        Ok(Value::Number(f64::from(ret + direct_ret)))
    })
    .unwrap();
    // SAFETY: the outer callback is `int(int)`.
    let got = unsafe { ffi::call(outer.code_ptr(), &sig, &[Value::Number(0.0)]) };
    match got {
        Err(e) => assert!(e.to_string().contains("the inner callback gave up"), "{e}"),
        Ok(v) => panic!("the outer call returned {v}"),
    }
    assert_eq!(calls.load(Ordering::Relaxed), 4);
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
struct Dd {
    x: f64,
    y: f64,
}

// SAFETY: accepts only `struct { double, double }`, whose Rust image `Dd` is.
unsafe impl jitcall::DirectResult for Dd {
    fn accepts(ty: &Type) -> bool {
        *ty == self::ty("[:double :double]")
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
struct Big {
    a: i64,
    b: i64,
    c: i64,
}

// SAFETY: accepts only `struct { int64_t, int64_t, int64_t }`, whose Rust image `Big` is.
unsafe impl jitcall::DirectResult for Big {
    fn accepts(ty: &Type) -> bool {
        *ty == self::ty("[:int64 :int64 :int64]")
    }
}

extern "C" fn swap_dd(p: Dd, k: i32) -> Dd {
    Dd { x: p.y * f64::from(k), y: p.x }
}

extern "C" fn make_big(a: i64, b: f64) -> Big {
    Big { a, b: b as i64, c: a * 3 }
}

/// A struct result that comes back in registers through a `DirectCall` of its own Rust
/// type; one that comes back in memory is refused there and runs through the `RawCall`'s
/// tail thunk (the callee writes the caller's memory itself).
#[test]
fn struct_results_by_registers_and_by_memory() {
    let sig =
        ffi::signature(host(), ty("[:double :double]"), vec![ty("[:double :double]"), ty(":int")])
            .unwrap();
    if host() == Abi::Win64 {
        // Win64 returns a 16-byte struct in memory (and passes one by reference).
        assert!(refusal(sig.direct_call::<Dd>()).contains("comes back in memory"));
    } else {
        let direct = sig.direct_call::<Dd>().unwrap();
        let (p, k) = (Dd { x: 1.5, y: -2.0 }, 3i32);
        let target = Pointer::from_ptr(swap_dd as *const c_void);
        // SAFETY: `swap_dd` takes a `struct {double, double}` and an int and returns it.
        let got = unsafe { direct.call(target, [arg(&p), arg(&k)].as_ptr()) };
        assert_eq!(got, Dd { x: -6.0, y: 1.5 });
    }

    let sig =
        ffi::signature(host(), ty("[:int64 :int64 :int64]"), vec![ty(":int64"), ty(":double")])
            .unwrap();
    assert!(refusal(sig.direct_call::<Big>()).contains("comes back in memory"));
    let raw = sig.raw_call().unwrap();
    let (a, b) = (7i64, 9.75f64);
    let mut ret = Big { a: 0, b: 0, c: 0 };
    let target = Pointer::from_ptr(make_big as *const c_void);
    // SAFETY: `make_big` is `struct Big (int64_t, double)`; `ret` is a `Big`.
    unsafe { raw.call(target, [arg(&a), arg(&b)].as_ptr(), (&mut ret as *mut Big).cast()) };
    assert_eq!(ret, Big { a: 7, b: 9, c: 21 });
    // Where a `ThunkFn` is entered with the host's convention, that RawCall is the tail
    // thunk (the callee writes `ret` itself).
    let tail_host = host() != Abi::Win64;
    assert_eq!(format!("{raw:?}").contains("Tail("), tail_host, "{raw:?}");
}

static VOID_CALLS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn count_by(n: i32) {
    VOID_CALLS.fetch_add(n as usize, Ordering::Relaxed);
}

/// A void result: the RawCall is a tail thunk where the host allows one, and a
/// `DirectCall<()>` returns nothing.
#[test]
fn void_results_through_raw_and_direct_calls() {
    let sig = ffi::signature(host(), ty(":void"), vec![ty(":int")]).unwrap();
    let raw = sig.raw_call().unwrap();
    assert_eq!(format!("{raw:?}").contains("Tail("), host() != Abi::Win64, "{raw:?}");
    let direct = sig.direct_call::<()>().unwrap();
    let target = Pointer::from_ptr(count_by as *const c_void);
    let (three, four) = (3i32, 4i32);
    // SAFETY: `count_by` is `void(int)`; one pointer to an `i32`, no result.
    unsafe {
        raw.call(target, [arg(&three)].as_ptr(), std::ptr::null_mut());
        direct.call(target, [arg(&four)].as_ptr());
    }
    assert_eq!(VOID_CALLS.load(Ordering::Relaxed), 7);
}
