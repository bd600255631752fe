//! Callback lifetime: a callback dropped while C runs it (by its own closure, or by another
//! thread) finishes that call soundly; a stale pointer is reported, never a call into
//! another closure; a `Function`'s userdata is never reused; a callback called from a
//! pthread TLS destructor does not abort the process.
//!
//! These tests live in their own binary: the stale-pointer checks rely on fewer than
//! `REUSE_DELAY` callbacks being dropped around them (the other test files drop thousands).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};

use jitcall::limits::REUSE_DELAY;
use jitcall::{ffi, syntax, Abi, Callback, Function, Pointer, Type, Value};

fn ty(text: &str) -> Type {
    ffi::native_type(&syntax::read(text).unwrap()).unwrap()
}

fn host() -> Abi {
    Abi::host().expect("a supported host")
}

/// Calls an `int(int)` function pointer through jitcall.
fn call_int(ptr: Pointer, n: i32) -> jitcall::Result<Value> {
    let sig = ffi::signature(host(), ty(":int"), vec![ty(":int")]).unwrap();
    // SAFETY: every pointer given here is the code of an `int(int)` callback in the host
    // convention (live, or dropped: then the trampoline reports the stale call).
    unsafe { ffi::call(ptr, &sig, &[Value::Number(f64::from(n))]) }
}

/// Calls an `int(int)` function pointer directly from Rust, outside any jitcall call: what
/// C code holding the pointer does. A callback error is printed and the result is 0.
fn call_int_directly(ptr: Pointer, n: i32) -> i32 {
    // SAFETY: the pointer is the code of an `int(int)` callback in the host's C convention,
    // live or dropped (a stale call returns 0).
    let f = unsafe { std::mem::transmute::<usize, extern "C" fn(i32) -> i32>(ptr.addr()) };
    f(n)
}

/// Heap data a closure owns: freed with the closure.
fn table() -> Vec<i32> {
    (1..=64).collect()
}

const TABLE_SUM: i32 = 64 * 65 / 2;

/// Allocates and fills memory of many sizes, so that freed blocks (a freed closure, its
/// context) hold garbage when something reads them afterwards.
fn scrub_freed_memory() {
    let junk: Vec<Vec<u8>> = (1..256).map(|i| vec![0xA5; i * 8]).collect();
    std::hint::black_box(&junk);
}

/// The closure form under test.
#[derive(Clone, Copy, Debug)]
enum Form {
    Values,
    Native,
}

/// An `int(int)` callback returning `n + TABLE_SUM` (summed from heap data it owns) that
/// runs `during` first.
fn adder(form: Form, during: impl Fn() + Send + Sync + 'static) -> Callback {
    let table = table();
    match form {
        Form::Values => ffi::callback(host(), ty(":int"), vec![ty(":int")], move |args| {
            during();
            let Value::Number(n) = args[0] else { unreachable!("an int is a number") };
            Ok(Value::Number(n + f64::from(table.iter().sum::<i32>())))
        }),
        Form::Native => ffi::callback_native(host(), ty(":int"), vec![ty(":int")], move |a, r| {
            during();
            // SAFETY: one int argument, and room for an int result.
            unsafe {
                let n = a[0].cast::<i32>().read_unaligned();
                r.cast::<i32>().write_unaligned(n + table.iter().sum::<i32>());
            }
            Ok(())
        }),
    }
    .unwrap()
}

fn assert_stale(result: jitcall::Result<Value>) {
    let err = result.expect_err("a stale pointer must be reported");
    assert!(err.to_string().contains("after it was dropped"), "unexpected error: {err}");
}

fn self_drop(form: Form) {
    let holder: Arc<Mutex<Option<Callback>>> = Arc::default();
    let inner = holder.clone();
    let callback = adder(form, move || {
        drop(inner.lock().unwrap().take());
        scrub_freed_memory();
    });
    let ptr = callback.code_ptr();
    *holder.lock().unwrap() = Some(callback);
    assert_eq!(call_int(ptr, 5).unwrap(), Value::Number(f64::from(5 + TABLE_SUM)));
    assert!(holder.lock().unwrap().is_none());
    assert_stale(call_int(ptr, 5));
}

#[test]
fn a_value_closure_that_drops_its_own_callback_finishes_its_call() {
    self_drop(Form::Values);
}

#[test]
fn a_native_closure_that_drops_its_own_callback_finishes_its_call() {
    self_drop(Form::Native);
}

fn drop_during_call(form: Form) {
    let barrier = Arc::new(Barrier::new(2));
    let in_call = barrier.clone();
    let callback = adder(form, move || {
        in_call.wait(); // the call is running
        in_call.wait(); // the callback was dropped
        scrub_freed_memory();
    });
    let ptr = callback.code_ptr();
    let caller = std::thread::spawn(move || call_int(ptr, 7));
    barrier.wait();
    drop(callback);
    scrub_freed_memory();
    barrier.wait();
    assert_eq!(caller.join().unwrap().unwrap(), Value::Number(f64::from(7 + TABLE_SUM)));
    assert_stale(call_int(ptr, 7));
}

#[test]
fn a_value_callback_dropped_while_another_thread_runs_it_finishes_that_call() {
    drop_during_call(Form::Values);
}

#[test]
fn a_native_callback_dropped_while_another_thread_runs_it_finishes_that_call() {
    drop_during_call(Form::Native);
}

fn stale_pointer(form: Form) {
    let stale = adder(form, || {}).code_ptr();
    let others_ran = Arc::new(AtomicUsize::new(0));
    let others: Vec<Callback> = (0..64)
        .map(|_| {
            let ran = others_ran.clone();
            adder(form, move || {
                ran.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    // Inside a jitcall call: the call returns the error.
    assert_stale(call_int(stale, 1));
    // Called as C would: a zero result (the message goes to stderr).
    assert_eq!(call_int_directly(stale, 1), 0);
    // Freed slots are reused first in, first out, and only after `REUSE_DELAY` others were
    // freed: many drops later the pointer is still recognized as stale. (A quarter of the
    // delay: the two tests that do this may run at once, and the others drop a few.)
    for _ in 0..REUSE_DELAY / 4 {
        drop(adder(form, || {}));
    }
    assert_stale(call_int(stale, 1));
    assert_eq!(call_int_directly(stale, 1), 0);
    assert_eq!(others_ran.load(Ordering::SeqCst), 0, "a stale pointer ran another closure");
    // The live ones still work.
    for other in &others {
        assert_eq!(call_int(other.code_ptr(), 1).unwrap(), Value::Number(f64::from(1 + TABLE_SUM)));
    }
    assert_eq!(others_ran.load(Ordering::SeqCst), others.len());
}

#[test]
fn a_stale_value_callback_pointer_is_reported_and_runs_no_other_closure() {
    stale_pointer(Form::Values);
}

#[test]
fn a_stale_native_callback_pointer_is_reported_and_runs_no_other_closure() {
    stale_pointer(Form::Native);
}

#[test]
fn a_dropped_functions_userdata_never_finds_a_later_function() {
    let tramp = ffi::trampoline(host()).unwrap();
    let sig = ffi::signature(host(), ty(":void"), vec![ty(":ptr"), ty(":ptr")]).unwrap();
    let stale = Function::new(|_| panic!("dropped: must not run")).userdata();
    assert!(Function::from_userdata(stale).is_none());
    let later_ran = Arc::new(AtomicUsize::new(0));
    // Made right after the drop: the allocator hands these the freed memory first.
    let later: Vec<Function> = (0..16)
        .map(|_| {
            let ran = later_ran.clone();
            Function::new(move |_| {
                ran.fetch_add(1, Ordering::SeqCst);
                Ok(Value::Nil)
            })
        })
        .collect();
    assert!(Function::from_userdata(stale).is_none(), "a later function answers stale userdata");
    let args = [Value::Nil, Value::Pointer(stale)];
    // SAFETY: the trampoline is void(void *, void *) and checks its userdata.
    unsafe { ffi::call(tramp, &sig, &args) }.unwrap();
    assert_eq!(later_ran.load(Ordering::SeqCst), 0, "stale userdata ran a later function");
    for f in &later {
        assert!(Function::from_userdata(f.userdata()).unwrap().same_as(f));
        let args = [Value::Nil, Value::Function(f.clone())];
        // SAFETY: as above, with live userdata.
        unsafe { ffi::call(tramp, &sig, &args) }.unwrap();
    }
    assert_eq!(later_ran.load(Ordering::SeqCst), later.len());
}

/// A callback that glibc (or the platform's libc) calls as a pthread key destructor while
/// the thread exits: Rust's own thread-locals are already destroyed by then.
#[cfg(unix)]
mod tls_destructor {
    use super::*;

    const CHILD: &str = "JITCALL_TLS_DESTRUCTOR_CHILD";
    const TEST: &str = "tls_destructor::a_callback_called_from_a_tls_destructor_does_not_abort";

    fn c_library() -> jitcall::Native {
        // SAFETY: the C runtime is already loaded into every test process.
        unsafe { ffi::native(None) }.unwrap()
    }

    /// `pthread_key_t`: unsigned int on Linux, unsigned long elsewhere.
    fn key_type() -> Type {
        if cfg!(target_os = "linux") {
            ty(":uint32")
        } else {
            ty(":uint64")
        }
    }

    /// A key whose destructor is `destructor` (a `void(void *)` function).
    fn create_key(destructor: Pointer) -> Value {
        let create = c_library().lookup("pthread_key_create").unwrap().unwrap();
        let sig = ffi::signature(host(), ty(":int"), vec![ty(":ptr"), ty(":ptr")]).unwrap();
        let key = jitcall::Buffer::from_vec(vec![0; 8]);
        let args = [Value::Buffer(key.clone()), Value::Pointer(destructor)];
        // SAFETY: pthread_key_create(pthread_key_t *, void (*)(void *)) with room for a key.
        let status = unsafe { ffi::call(create, &sig, &args) }.unwrap();
        assert_eq!(status, Value::Number(0.0));
        ffi::read(&key_type(), &key.to_vec(), 0).unwrap()
    }

    fn set_key(key: &Value, value: usize) {
        let set = c_library().lookup("pthread_setspecific").unwrap().unwrap();
        let sig = ffi::signature(host(), ty(":int"), vec![key_type(), ty(":ptr")]).unwrap();
        let args = [key.clone(), Value::Pointer(Pointer::from_addr(value))];
        // SAFETY: pthread_setspecific(key, value) with a key just created.
        let status = unsafe { ffi::call(set, &sig, &args) }.unwrap();
        assert_eq!(status, Value::Number(0.0));
    }

    /// Runs in the child: a thread that used callbacks (so their thread-locals exist) sets
    /// two keys whose destructors are a value and a native callback, then exits. The
    /// native one also makes a signature and calls a failing callback through jitcall.
    fn scenario() {
        let failing = ffi::callback(host(), ty(":int"), vec![ty(":int")], |_| {
            Err(jitcall::Error::Callback("fails on purpose".into()))
        })
        .unwrap();
        let failing_ptr = failing.code_ptr();
        let seen = Arc::new(AtomicUsize::new(0));
        let seen_values = seen.clone();
        let values = ffi::callback(host(), ty(":void"), vec![ty(":ptr")], move |args| {
            let Value::Pointer(p) = args[0] else { panic!("expected the key's value") };
            seen_values.fetch_add(p.addr(), Ordering::SeqCst);
            panic!("value destructor reports this");
        })
        .unwrap();
        let seen_native = seen.clone();
        let native = ffi::callback_native(host(), ty(":void"), vec![ty(":ptr")], move |a, _| {
            // SAFETY: the one argument is a pointer.
            let p = unsafe { a[0].cast::<usize>().read_unaligned() };
            seen_native.fetch_add(p, Ordering::SeqCst);
            // A fresh signature, and a call whose callback fails: its error is printed
            // (the thread's storage for it is gone) and the call returns the zero result.
            let sig = ffi::signature(host(), ty(":int"), vec![ty(":int"), ty(":int")]);
            assert!(sig.is_ok(), "no signature in a TLS destructor: {sig:?}");
            assert_eq!(call_int(failing_ptr, 1).unwrap(), Value::Number(0.0));
            Err(jitcall::Error::Callback("native destructor reports this".into()))
        })
        .unwrap();
        let (value_key, native_key) =
            (create_key(values.code_ptr()), create_key(native.code_ptr()));
        std::thread::spawn(move || {
            // Use the callbacks' thread-locals on this thread first: an error raised in a
            // call, and a value callback's argument list.
            assert!(call_int(failing_ptr, 1).is_err());
            set_key(&value_key, 0x100);
            set_key(&native_key, 0x20);
        })
        .join()
        .unwrap();
        assert_eq!(seen.load(Ordering::SeqCst), 0x120, "both destructors ran");
        println!("tls destructor scenario finished");
    }

    #[test]
    fn a_callback_called_from_a_tls_destructor_does_not_abort() {
        if std::env::var_os(CHILD).is_some() {
            scenario();
            return;
        }
        let out = crate::common::runner::command(std::env::current_exe().unwrap())
            .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let (stdout, stderr) =
            (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "the child failed: {}\n{stdout}\n{stderr}", out.status);
        assert!(stdout.contains("tls destructor scenario finished"), "{stdout}\n{stderr}");
        assert!(stderr.contains("value destructor reports this"), "{stderr}");
        assert!(stderr.contains("native destructor reports this"), "{stderr}");
        assert!(
            stderr.contains(
                "on an exiting thread (the running call cannot return it): fails on purpose"
            ),
            "{stderr}"
        );
    }
}
