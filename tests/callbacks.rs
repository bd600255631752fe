//! Callbacks: C calling Rust closures through trampolines, Janet's `(ctx, userdata)`
//! trampoline, and `jitfn`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use jitcall::{ffi, syntax, Abi, Buffer, Error, Function, Native, Pointer, Type, Value};

fn ty(text: &str) -> Type {
    ffi::native_type(&syntax::read(text).unwrap()).unwrap()
}

fn host() -> Abi {
    Abi::host().expect("a supported host")
}

fn c_library() -> Native {
    let path = if cfg!(windows) { Some("msvcrt.dll") } else { None };
    // SAFETY: the C runtime is already loaded into every test process.
    unsafe { ffi::native(path) }.unwrap()
}

/// An int array as native bytes, and back.
fn ints_buffer(values: &[i32]) -> Buffer {
    Buffer::from_vec(values.iter().flat_map(|v| v.to_le_bytes()).collect())
}

fn buffer_ints(buffer: &Buffer) -> Vec<i32> {
    buffer.to_vec().chunks(4).map(|c| i32::from_le_bytes(c.try_into().unwrap())).collect()
}

/// A comparator of two `const int *`, as qsort and bsearch want.
fn int_comparator(calls: Arc<AtomicUsize>) -> jitcall::Callback {
    ffi::callback(host(), ty(":int"), vec![ty(":ptr"), ty(":ptr")], move |args| {
        calls.fetch_add(1, Ordering::Relaxed);
        let read = |v: &Value| match v {
            // SAFETY: qsort passes pointers to elements of the int array.
            Value::Pointer(p) => unsafe { ffi::read_ptr(&ty(":int"), *p, 0) }.unwrap(),
            other => panic!("expected a pointer, got {other}"),
        };
        let (Value::Number(a), Value::Number(b)) = (read(&args[0]), read(&args[1])) else {
            unreachable!("ints read as numbers")
        };
        Ok(Value::Number(a.total_cmp(&b) as i32 as f64))
    })
    .unwrap()
}

fn qsort_sig() -> jitcall::CompiledSignature {
    ffi::signature(host(), ty(":void"), vec![ty(":ptr"), ty(":size"), ty(":size"), ty(":ptr")])
        .unwrap()
}

#[test]
fn qsort_sorts_with_a_closure() {
    let lib = c_library();
    let qsort = lib.lookup("qsort").unwrap().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let compare = int_comparator(calls.clone());
    let values = ints_buffer(&[5, -3, 99, 0, 42, -100, 7, 7, 1]);
    let args = [
        Value::Buffer(values.clone()),
        Value::Number(9.0),
        Value::Number(4.0),
        Value::Pointer(compare.code_ptr()),
    ];
    // SAFETY: qsort(base, count, size, compare) over 9 ints in a live buffer.
    unsafe { ffi::call(qsort, &qsort_sig(), &args) }.unwrap();
    assert_eq!(buffer_ints(&values), [-100, -3, 0, 1, 5, 7, 7, 42, 99]);
    assert!(calls.load(Ordering::Relaxed) >= 8);
}

#[test]
fn bsearch_finds_with_a_closure() {
    let lib = c_library();
    let bsearch = lib.lookup("bsearch").unwrap().unwrap();
    let compare = int_comparator(Arc::new(AtomicUsize::new(0)));
    let sorted = ints_buffer(&[-4, 0, 3, 8, 15, 16, 23, 42]);
    let sig = ffi::signature(
        host(),
        ty(":ptr"),
        vec![ty(":ptr"), ty(":ptr"), ty(":size"), ty(":size"), ty(":ptr")],
    )
    .unwrap();
    let find = |key: i32| {
        let key = ints_buffer(&[key]);
        let args = [
            Value::Buffer(key),
            Value::Buffer(sorted.clone()),
            Value::Number(8.0),
            Value::Number(4.0),
            Value::Pointer(compare.code_ptr()),
        ];
        // SAFETY: bsearch(key, base, count, size, compare) over live buffers.
        unsafe { ffi::call(bsearch, &sig, &args) }.unwrap()
    };
    let base = sorted.data_ptr().addr();
    assert_eq!(find(23), Value::Pointer(Pointer::from_addr(base + 6 * 4)));
    assert_eq!(find(5), Value::Nil);
}

#[test]
fn a_closure_error_or_panic_comes_back_from_the_outer_call() {
    let lib = c_library();
    let qsort = lib.lookup("qsort").unwrap().unwrap();
    let failing = ffi::callback(host(), ty(":int"), vec![ty(":ptr"), ty(":ptr")], |_| {
        Err(Error::Callback("comparator gave up".into()))
    })
    .unwrap();
    let panicking =
        ffi::callback(host(), ty(":int"), vec![ty(":ptr"), ty(":ptr")], |_| panic!("boom in cb"))
            .unwrap();
    for (callback, message) in
        [(&failing, "comparator gave up"), (&panicking, "callback panicked: boom in cb")]
    {
        let values = ints_buffer(&[3, 2, 1]);
        let args = [
            Value::Buffer(values),
            Value::Number(3.0),
            Value::Number(4.0),
            Value::Pointer(callback.code_ptr()),
        ];
        // SAFETY: as in qsort_sorts_with_a_closure; the comparator returns 0 to C.
        let err = unsafe { ffi::call(qsort, &qsort_sig(), &args) }.unwrap_err();
        assert_eq!(err.to_string(), message);
    }
    // The error was handed over: the next call is clean.
    let abs = lib.lookup("abs").unwrap().unwrap();
    let sig = ffi::signature(host(), ty(":int"), vec![ty(":int")]).unwrap();
    // SAFETY: abs(int).
    assert_eq!(
        unsafe { ffi::call(abs, &sig, &[Value::Number(-1.0)]) }.unwrap(),
        Value::Number(1.0)
    );
}

/// C starts a thread (pthread_create / CreateThread) whose start routine is a closure.
#[test]
fn a_closure_runs_on_a_thread_that_c_started() {
    let seen = Arc::new(AtomicUsize::new(0));
    let seen_in_thread = seen.clone();
    let main_thread = std::thread::current().id();
    let ret = if cfg!(windows) { ":uint32" } else { ":ptr" };
    let routine = ffi::callback(host(), ty(ret), vec![ty(":ptr")], move |args| {
        assert_ne!(std::thread::current().id(), main_thread);
        let Value::Pointer(p) = args[0] else { panic!("expected the argument pointer") };
        seen_in_thread.store(p.addr(), Ordering::SeqCst);
        Ok(if cfg!(windows) { Value::Number(0.0) } else { Value::Nil })
    })
    .unwrap();
    let token = Value::Pointer(Pointer::from_addr(0x5eed));
    if cfg!(windows) {
        // SAFETY: kernel32 is loaded in every Windows process.
        let kernel32 = unsafe { ffi::native(Some("kernel32.dll")) }.unwrap();
        let create = kernel32.lookup("CreateThread").unwrap().unwrap();
        let wait = kernel32.lookup("WaitForSingleObject").unwrap().unwrap();
        let close = kernel32.lookup("CloseHandle").unwrap().unwrap();
        let create_sig = ffi::signature(
            host(),
            ty(":ptr"),
            vec![ty(":ptr"), ty(":size"), ty(":ptr"), ty(":ptr"), ty(":uint32"), ty(":ptr")],
        )
        .unwrap();
        let args = [
            Value::Nil,
            Value::Number(0.0),
            Value::Pointer(routine.code_ptr()),
            token,
            Value::Number(0.0),
            Value::Nil,
        ];
        // SAFETY: CreateThread with a start routine of type DWORD(LPVOID).
        let handle = unsafe { ffi::call(create, &create_sig, &args) }.unwrap();
        let wait_sig =
            ffi::signature(host(), ty(":uint32"), vec![ty(":ptr"), ty(":uint32")]).unwrap();
        // SAFETY: waiting on the thread handle just created, without timeout.
        unsafe { ffi::call(wait, &wait_sig, &[handle.clone(), Value::Number(4294967295.0)]) }
            .unwrap();
        let close_sig = ffi::signature(host(), ty(":int"), vec![ty(":ptr")]).unwrap();
        // SAFETY: closing that handle once.
        unsafe { ffi::call(close, &close_sig, &[handle]) }.unwrap();
    } else {
        let lib = c_library();
        let create = lib.lookup("pthread_create").unwrap().unwrap();
        let join = lib.lookup("pthread_join").unwrap().unwrap();
        let tid = Buffer::from_vec(vec![0; 8]);
        let create_sig = ffi::signature(
            host(),
            ty(":int"),
            vec![ty(":ptr"), ty(":ptr"), ty(":ptr"), ty(":ptr")],
        )
        .unwrap();
        let args =
            [Value::Buffer(tid.clone()), Value::Nil, Value::Pointer(routine.code_ptr()), token];
        // SAFETY: pthread_create with a start routine of type void *(void *).
        let status = unsafe { ffi::call(create, &create_sig, &args) }.unwrap();
        assert_eq!(status, Value::Number(0.0));
        let thread = ffi::read(&ty(":uint64"), &tid.to_vec(), 0).unwrap();
        let join_sig = ffi::signature(host(), ty(":int"), vec![ty(":uint64"), ty(":ptr")]).unwrap();
        // SAFETY: joining the thread just created.
        unsafe { ffi::call(join, &join_sig, &[thread, Value::Nil]) }.unwrap();
    }
    assert_eq!(seen.load(Ordering::SeqCst), 0x5eed);
}

#[test]
fn ten_thousand_closures_reuse_their_slots() {
    let before = jitcall::internals::trampoline_pages();
    let add = |offset: f64| {
        ffi::callback(host(), ty(":int"), vec![ty(":int")], move |args| match args[0] {
            Value::Number(n) => Ok(Value::Number(n + offset)),
            _ => unreachable!(),
        })
        .unwrap()
    };
    let sig = ffi::signature(host(), ty(":int"), vec![ty(":int")]).unwrap();
    for i in 0..10_000 {
        let callback = add(f64::from(i % 100));
        if i % 1000 == 0 {
            // SAFETY: the callback is an int(int) function in the host convention.
            let got =
                unsafe { ffi::call(callback.code_ptr(), &sig, &[Value::Number(1.0)]) }.unwrap();
            assert_eq!(got, Value::Number(1.0 + f64::from(i % 100)));
        }
    }
    // Freed slots wait for `REUSE_DELAY` others before reuse (a page holds at least 128
    // slots), and tests in this file run in parallel and hold a few callbacks each: a few
    // more page pairs at most, not the 79 that ten thousand slots would take.
    let delay_pages = jitcall::limits::REUSE_DELAY.div_ceil(128);
    assert!(jitcall::internals::trampoline_pages() <= before + delay_pages + 2);
}

/// Structs by value both ways through a callback, called via a jitcall thunk: the thunk
/// and the trampoline classify the signature the same way from both sides.
#[test]
fn structs_cross_a_callback_in_every_class() {
    for abi in ffi::calling_conventions() {
        let cases = [
            ("[:double :double]", "[1.5 -2.25]"),
            ("[:float :float :float]", "[1.5 2.5 3.5]"),
            ("[:int8 :int64 :uint16]", "[-7 -9000000000 65535]"),
            ("[:int :float]", "[-123456 0.5]"),
            ("[:char @[:char 4]]", "[1 @[2 3 4 5]]"),
            ("[:double :double :double :double]", "[1 2 3 4]"),
        ];
        for (t, v) in cases {
            let t = ty(t);
            let value = syntax::read(v).unwrap();
            let expected =
                ffi::read(&t, &ffi::write(&t, &value, None, None).unwrap().to_vec(), 0).unwrap();
            let params = vec![ty(":int8"), t.clone(), ty(":double"), t.clone()];
            let seen = expected.clone();
            let callback = ffi::callback(abi, t.clone(), params.clone(), move |args| {
                assert_eq!(args[0], Value::Number(-5.0));
                assert_eq!(args[1], seen);
                assert_eq!(args[2], Value::Number(0.125));
                Ok(args[3].clone())
            })
            .unwrap();
            let sig = ffi::signature(abi, t.clone(), params).unwrap();
            let args = [Value::Number(-5.0), value.clone(), Value::Number(0.125), value];
            // SAFETY: the callback has exactly this signature in this convention.
            let got = unsafe { ffi::call(callback.code_ptr(), &sig, &args) }.unwrap();
            assert_eq!(got, expected, "{abi} {t}");
        }
    }
}

#[test]
fn janets_trampoline_calls_the_userdata_function_with_ctx() {
    let seen = Arc::new(AtomicUsize::new(usize::MAX));
    let seen_in_fn = seen.clone();
    let function = Function::new(move |args| {
        let Value::Pointer(ctx) = args[0] else { panic!("ctx is a pointer, even NULL") };
        seen_in_fn.store(ctx.addr(), Ordering::SeqCst);
        Ok(Value::Nil)
    });
    let tramp = ffi::trampoline(host()).unwrap();
    assert_eq!(ffi::trampoline(host()).unwrap(), tramp, "one trampoline per convention");
    let sig = ffi::signature(host(), ty(":void"), vec![ty(":ptr"), ty(":ptr")]).unwrap();
    for ctx in [0x1234usize, 0] {
        let args = [Value::Pointer(Pointer::from_addr(ctx)), Value::Function(function.clone())];
        // SAFETY: the trampoline is void(void *, void *) and userdata is a live function.
        unsafe { ffi::call(tramp, &sig, &args) }.unwrap();
        assert_eq!(seen.load(Ordering::SeqCst), ctx);
    }
    // NULL or stale userdata: a message on stderr, no call, no crash.
    let stale = Function::new(|_| panic!("must not run")).userdata();
    for userdata in [Pointer::NULL, stale] {
        let args = [Value::Nil, Value::Pointer(userdata)];
        // SAFETY: the trampoline checks its userdata before using it.
        unsafe { ffi::call(tramp, &sig, &args) }.unwrap();
    }
}

/// A few instructions that add two integers, for this ISA and host convention.
fn add_two_ints_code() -> Vec<u8> {
    if cfg!(all(target_arch = "x86_64", windows)) {
        vec![0x8D, 0x04, 0x11, 0xC3] // lea eax, [rcx+rdx]; ret
    } else if cfg!(target_arch = "x86_64") {
        vec![0x8D, 0x04, 0x37, 0xC3] // lea eax, [rdi+rsi]; ret
    } else {
        [0x0B01_0000u32, 0xD65F_03C0].iter().flat_map(|w| w.to_le_bytes()).collect()
        // add w0, w0, w1; ret
    }
}

#[test]
fn jitfn_runs_machine_code() {
    let code = add_two_ints_code();
    let f = ffi::jitfn(&code).unwrap();
    assert_eq!(f.bytes(), code);
    let sig = ffi::signature(host(), ty(":int"), vec![ty(":int"), ty(":int")]).unwrap();
    // SAFETY: the code adds its two int arguments and returns, in the host convention.
    let sum = unsafe { ffi::call(f.pointer(), &sig, &[Value::Number(40.0), Value::Number(2.0)]) };
    assert_eq!(sum.unwrap(), Value::Number(42.0));
    assert!(ffi::jitfn(&[]).is_err());
}

/// A native callback: its closure reads argument images and writes the result's image.
#[test]
fn qsort_with_a_native_comparator_and_its_errors() {
    let lib = c_library();
    let qsort = lib.lookup("qsort").unwrap().unwrap();
    let compare =
        ffi::callback_native(host(), ty(":int"), vec![ty(":ptr"), ty(":ptr")], |args, ret| {
            // SAFETY: the arguments are two `const int *` (qsort's elements) and the result
            // is an `int`.
            unsafe {
                let a = args[0].cast::<*const i32>().read_unaligned().read();
                let b = args[1].cast::<*const i32>().read_unaligned().read();
                ret.cast::<i32>().write_unaligned(a.cmp(&b) as i32);
            }
            Ok(())
        })
        .unwrap();
    let values = ints_buffer(&[9, -2, 40, 0, 7]);
    let args = [
        Value::Buffer(values.clone()),
        Value::Number(5.0),
        Value::Number(4.0),
        Value::Pointer(compare.code_ptr()),
    ];
    // SAFETY: qsort over 5 ints in a live buffer, with a comparator of qsort's signature.
    unsafe { ffi::call(qsort, &qsort_sig(), &args) }.unwrap();
    assert_eq!(buffer_ints(&values), [-2, 0, 7, 9, 40]);

    let failing = ffi::callback_native(host(), ty(":int"), vec![ty(":ptr"), ty(":ptr")], |_, _| {
        Err(Error::Callback("native comparator gave up".into()))
    })
    .unwrap();
    let args = [
        Value::Buffer(values),
        Value::Number(5.0),
        Value::Number(4.0),
        Value::Pointer(failing.code_ptr()),
    ];
    // SAFETY: as above; the comparator returns 0 to C.
    let err = unsafe { ffi::call(qsort, &qsort_sig(), &args) }.unwrap_err();
    assert_eq!(err.to_string(), "native comparator gave up");
}

/// Permanent callbacks of signatures that need the full handler (vector-register
/// arguments) and a struct result, in every convention this host runs, both forms: the
/// arguments arrive and the result goes back as with a counted callback.
#[test]
fn permanent_callbacks_take_floats_and_return_structs() {
    use jitcall::{Callback, Signature};
    let dd = "[:double :double]";
    for abi in Abi::ALL.into_iter().filter(|a| a.runs_on_host()) {
        let sig = || Signature::new(abi, ty(dd), vec![ty(":double"), ty(":int"), ty(":float")]);
        let values = Callback::new_permanent(sig(), |args| match args {
            [Value::Number(x), Value::Number(n), Value::Number(y)] => {
                Ok(Value::Tuple(vec![Value::Number(x * n), Value::Number(y - 1.0)]))
            }
            other => Err(Error::Callback(format!("unexpected arguments {other:?}"))),
        })
        .unwrap();
        let native = Callback::new_native_permanent(sig(), |args, ret| {
            // SAFETY: pointers to a double, an int and a float; room for two doubles.
            unsafe {
                let (x, n, y) = (
                    args[0].cast::<f64>().read(),
                    args[1].cast::<i32>().read(),
                    args[2].cast::<f32>().read(),
                );
                ret.cast::<[f64; 2]>().write_unaligned([x * f64::from(n), f64::from(y) - 1.0]);
            }
            Ok(())
        })
        .unwrap();
        let call =
            ffi::signature(abi, ty(dd), vec![ty(":double"), ty(":int"), ty(":float")]).unwrap();
        let args = [Value::Number(1.5), Value::Number(4.0), Value::Number(0.25)];
        let want = Value::Tuple(vec![Value::Number(6.0), Value::Number(-0.75)]);
        for target in [values, native] {
            // SAFETY: each is a callback of exactly `call`'s signature and convention.
            assert_eq!(unsafe { ffi::call(target, &call, &args) }.unwrap(), want, "{abi}");
        }
    }
}
