//! Stress: calls and callbacks from 8 threads while other threads create and drop
//! callbacks, signatures and `Function`s, and replace a callback that the callers call
//! through a raw pointer (so drops race calls). Every result is checked.
//!
//! Callbacks made and dropped during the run are all `int(int)` returning `3n + 1`: a
//! racing call may find its callback dropped (a reported error) or, should its slot be
//! reused (after `REUSE_DELAY` drops), another such callback, which gives the same answer.
//! The callbacks of other signatures live for the whole run.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use jitcall::{ffi, syntax, Abi, Buffer, Callback, CompiledSignature, Function, Pointer, Type};
use jitcall::{Native, Value};

const CALLERS: usize = 8;
const ROUNDS: usize = 10_000;

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

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in -range..range.
    fn int(&mut self, range: i32) -> i32 {
        (self.next() % (2 * range as u64)) as i32 - range
    }
}

/// An `int(int)` callback returning `3n + 1`, over values or native images.
fn triple_plus_one(native: bool) -> Callback {
    if native {
        ffi::callback_native(host(), ty(":int"), vec![ty(":int")], |args, ret| {
            // SAFETY: one int argument, and room for an int result.
            unsafe {
                let n = args[0].cast::<i32>().read_unaligned();
                ret.cast::<i32>().write_unaligned(3 * n + 1);
            }
            Ok(())
        })
    } else {
        ffi::callback(host(), ty(":int"), vec![ty(":int")], |args| match args[0] {
            Value::Number(n) => Ok(Value::Number(3.0 * n + 1.0)),
            ref other => panic!("an int argument arrived as {other}"),
        })
    }
    .unwrap()
}

/// An int comparator for qsort and bsearch, over values or native images.
fn int_comparator(native: bool) -> Callback {
    let (int, ptr) = (ty(":int"), ty(":ptr"));
    if native {
        ffi::callback_native(host(), int, vec![ptr.clone(), ptr], |args, ret| {
            // SAFETY: two `const int *` to array elements, and room for an int result.
            unsafe {
                let a = args[0].cast::<*const i32>().read_unaligned().read_unaligned();
                let b = args[1].cast::<*const i32>().read_unaligned().read_unaligned();
                ret.cast::<i32>().write_unaligned(a.cmp(&b) as i32);
            }
            Ok(())
        })
    } else {
        ffi::callback(host(), int.clone(), vec![ptr.clone(), ptr], move |args| {
            let read = |v: &Value| match v {
                // SAFETY: qsort and bsearch pass pointers to ints of a live array.
                Value::Pointer(p) => match unsafe { ffi::read_ptr(&int, *p, 0) } {
                    Ok(Value::Number(n)) => n,
                    other => panic!("an int read as {other:?}"),
                },
                other => panic!("expected a pointer, got {other}"),
            };
            Ok(Value::Number(read(&args[0]).total_cmp(&read(&args[1])) as i32 as f64))
        })
    }
    .unwrap()
}

fn ints_buffer(values: &[i32]) -> Buffer {
    Buffer::from_vec(values.iter().flat_map(|v| v.to_le_bytes()).collect())
}

fn buffer_ints(buffer: &Buffer) -> Vec<i32> {
    buffer.to_vec().chunks(4).map(|c| i32::from_le_bytes(c.try_into().unwrap())).collect()
}

/// What every caller thread uses: C functions, their signatures, long-lived comparators,
/// Janet's trampoline, and the pointer of the callback that is being replaced.
struct Shared {
    abs: Pointer,
    labs: Pointer,
    qsort: Pointer,
    bsearch: Pointer,
    int_int: CompiledSignature,
    long_long: CompiledSignature,
    qsort_sig: CompiledSignature,
    bsearch_sig: CompiledSignature,
    trampoline_sig: CompiledSignature,
    trampoline: Pointer,
    comparators: [Callback; 2],
    /// The code pointer of the current replaceable callback (`triple_plus_one`).
    racing: AtomicUsize,
    stop: AtomicBool,
}

impl Shared {
    fn new() -> Shared {
        let lib = c_library();
        let find = |name: &str| lib.lookup(name).unwrap().unwrap();
        let sig = |ret: &str, params: &[&str]| {
            ffi::signature(host(), ty(ret), params.iter().map(|p| ty(p)).collect()).unwrap()
        };
        Shared {
            abs: find("abs"),
            labs: find("labs"),
            qsort: find("qsort"),
            bsearch: find("bsearch"),
            int_int: sig(":int", &[":int"]),
            long_long: sig(":long", &[":long"]),
            qsort_sig: sig(":void", &[":ptr", ":size", ":size", ":ptr"]),
            bsearch_sig: sig(":ptr", &[":ptr", ":ptr", ":size", ":size", ":ptr"]),
            trampoline_sig: sig(":void", &[":ptr", ":ptr"]),
            trampoline: ffi::trampoline(host()).unwrap(),
            comparators: [int_comparator(false), int_comparator(true)],
            racing: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        }
    }

    fn call_int(&self, target: Pointer, n: i32) -> jitcall::Result<Value> {
        // SAFETY: every target given here is an `int(int)` function in the host convention:
        // abs, or a `triple_plus_one` callback (live, or dropped: then the call is reported).
        unsafe { ffi::call(target, &self.int_int, &[Value::Number(f64::from(n))]) }
    }
}

fn check_abs(shared: &Shared, rng: &mut Rng) {
    let n = rng.int(1 << 30);
    assert_eq!(shared.call_int(shared.abs, n).unwrap(), Value::Number(f64::from(n.abs())));
    let n = rng.int(1 << 30);
    // SAFETY: labs(long).
    let got = unsafe { ffi::call(shared.labs, &shared.long_long, &[Value::Number(f64::from(n))]) };
    assert_eq!(got.unwrap(), Value::Number(f64::from(n.abs())));
}

/// The replaceable callback, called through its raw pointer: its answer, or a stale call.
fn check_racing_call(shared: &Shared, rng: &mut Rng, stale_calls: &AtomicUsize) {
    let n = rng.int(1000);
    let target = Pointer::from_addr(shared.racing.load(Ordering::Acquire));
    match shared.call_int(target, n) {
        Ok(got) => assert_eq!(got, Value::Number(f64::from(3 * n + 1))),
        Err(e) => {
            assert!(e.to_string().contains("after it was dropped"), "unexpected error: {e}");
            stale_calls.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn check_sort_and_search(shared: &Shared, rng: &mut Rng, comparator: &Callback) {
    let mut values: Vec<i32> = (0..16).map(|_| rng.int(100)).collect();
    let buffer = ints_buffer(&values);
    let compare = Value::Pointer(comparator.code_ptr());
    let (count, size) = (Value::Number(16.0), Value::Number(4.0));
    let args = [Value::Buffer(buffer.clone()), count.clone(), size.clone(), compare.clone()];
    // SAFETY: qsort over 16 ints in a live buffer, with an int comparator.
    unsafe { ffi::call(shared.qsort, &shared.qsort_sig, &args) }.unwrap();
    values.sort_unstable();
    assert_eq!(buffer_ints(&buffer), values);

    let key = values[rng.next() as usize % values.len()];
    let args =
        [Value::Buffer(ints_buffer(&[key])), Value::Buffer(buffer.clone()), count, size, compare];
    // SAFETY: bsearch over the 16 sorted ints, with the same comparator.
    let found = unsafe { ffi::call(shared.bsearch, &shared.bsearch_sig, &args) }.unwrap();
    let Value::Pointer(found) = found else { panic!("bsearch found no {key}: {found}") };
    let index = (found.addr() - buffer.data_ptr().addr()) / 4;
    assert_eq!(values[index], key);
}

fn check_own_callback(shared: &Shared, rng: &mut Rng, native: bool) {
    let callback = triple_plus_one(native);
    let n = rng.int(1000);
    assert_eq!(
        shared.call_int(callback.code_ptr(), n).unwrap(),
        Value::Number(f64::from(3 * n + 1))
    );
}

fn check_function(shared: &Shared, rng: &mut Rng) {
    let ctx = (rng.next() as usize & 0xffff) | 1;
    let seen = Arc::new(AtomicUsize::new(0));
    let seen_in = seen.clone();
    let function = Function::new(move |args| {
        let Value::Pointer(p) = args[0] else { panic!("ctx is a pointer") };
        seen_in.fetch_add(p.addr(), Ordering::SeqCst);
        Ok(Value::Nil)
    });
    let args = [Value::Pointer(Pointer::from_addr(ctx)), Value::Function(function.clone())];
    // SAFETY: the trampoline is void(void *, void *) and the userdata a live function.
    unsafe { ffi::call(shared.trampoline, &shared.trampoline_sig, &args) }.unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), ctx);
    let userdata = function.userdata();
    drop((function, args));
    assert!(Function::from_userdata(userdata).is_none());
}

fn caller(shared: &Shared, seed: u64, stale_calls: &AtomicUsize) {
    let mut rng = Rng(seed);
    for round in 0..ROUNDS {
        check_abs(shared, &mut rng);
        check_racing_call(shared, &mut rng, stale_calls);
        check_own_callback(shared, &mut rng, round % 2 == 0);
        if round % 4 == 0 {
            check_sort_and_search(shared, &mut rng, &shared.comparators[round / 4 % 2]);
        }
        if round % 3 == 0 {
            check_function(shared, &mut rng);
        }
    }
}

/// Replaces the racing callback over and over: the old one is dropped while callers may
/// be calling it.
fn replacer(shared: &Shared) {
    let mut current = triple_plus_one(false);
    shared.racing.store(current.code_ptr().addr(), Ordering::Release);
    let mut native = true;
    while !shared.stop.load(Ordering::Acquire) {
        let next = triple_plus_one(native);
        shared.racing.store(next.code_ptr().addr(), Ordering::Release);
        drop(std::mem::replace(&mut current, next));
        native = !native;
    }
}

/// Makes and drops callbacks in batches, signatures (a few hundred distinct ones, then
/// cache hits), and `Function`s.
fn churner(shared: &Shared, held: &Mutex<Vec<Callback>>) {
    let mut round = 0usize;
    while !shared.stop.load(Ordering::Acquire) {
        let batch: Vec<Callback> = (0..32).map(|i| triple_plus_one(i % 2 == 0)).collect();
        let mut held = held.lock().unwrap();
        let old = std::mem::replace(&mut *held, batch);
        drop(held);
        drop(old);

        let fields = ["int8", "int16", "int", "double", "float", "int64", "ptr"];
        let field = |i: usize| ty(&format!(":{}", fields[i % fields.len()]));
        let members = (0..1 + round % 3).map(|i| field(round / (i + 1))).collect::<Vec<_>>();
        let strukt =
            Type::structure(&members.into_iter().map(jitcall::Member::Field).collect::<Vec<_>>())
                .unwrap();
        let sig = ffi::signature(host(), strukt.clone(), vec![field(round), strukt]).unwrap();
        drop(sig);

        let function = Function::new(|_| Ok(Value::Nil));
        let userdata = function.userdata();
        assert!(Function::from_userdata(userdata).unwrap().same_as(&function));
        drop(function);
        assert!(Function::from_userdata(userdata).is_none());
        round += 1;
    }
}

#[test]
fn calls_and_callbacks_from_eight_threads_while_others_make_and_drop() {
    let shared = Shared::new();
    let held = Mutex::new(Vec::new());
    let stale_calls = AtomicUsize::new(0);
    std::thread::scope(|s| {
        s.spawn(|| replacer(&shared));
        s.spawn(|| churner(&shared, &held));
        while shared.racing.load(Ordering::Acquire) == 0 {
            std::thread::yield_now();
        }
        let callers: Vec<_> = (0..CALLERS)
            .map(|i| {
                let (shared, stale_calls) = (&shared, &stale_calls);
                s.spawn(move || caller(shared, 0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1), stale_calls))
            })
            .collect();
        let outcomes: Vec<_> = callers.into_iter().map(|c| c.join()).collect();
        shared.stop.store(true, Ordering::Release);
        for outcome in outcomes {
            if let Err(panic) = outcome {
                std::panic::resume_unwind(panic);
            }
        }
    });
    // The long-lived callbacks still work after all that.
    for callback in held.into_inner().unwrap() {
        assert_eq!(shared.call_int(callback.code_ptr(), 2).unwrap(), Value::Number(7.0));
    }
    // Every dropped callback's slot came back, even those dropped during a call: the
    // pages hold the few dozen live ones and the reuse delay (a page has at least 128
    // slots), not the hundred thousand callbacks made.
    let pages = jitcall::internals::trampoline_pages();
    assert!(pages <= jitcall::limits::REUSE_DELAY.div_ceil(128) + 2, "{pages} pages");
    println!("stale racing calls: {}", stale_calls.load(Ordering::Relaxed));
}
