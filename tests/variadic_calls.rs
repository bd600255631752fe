//! Variadic calls into the real C library (`snprintf`; msvcrt's `_snprintf` on Windows),
//! and `errno` / `GetLastError()` captured inside the thunk.
//!
//! Every capture test also proves that the value was captured before other code ran:
//! after the call, Rust allocates, converts, and makes the C library's `errno` something
//! else (a plain call that sets it), and the captured value must still be the callee's.

use std::ffi::CString;

use jitcall::{ffi, syntax, Abi, Errno, Native, Pointer, Signature, Type, Value};
use jitcall_conformance_c::{errno_getter, errno_setter};

fn ty(text: &str) -> Type {
    ffi::native_type(&syntax::read(text).unwrap()).unwrap()
}

fn types(texts: &[&str]) -> Vec<Type> {
    texts.iter().map(|t| ty(t)).collect()
}

fn host() -> Abi {
    Abi::host().expect("a supported host")
}

fn c_library() -> Native {
    let path = if cfg!(windows) { Some("msvcrt.dll") } else { None };
    // SAFETY: the C runtime is already loaded into every test process.
    unsafe { ffi::native(path) }.unwrap()
}

fn c_function(name: &str) -> Pointer {
    c_library().lookup(name).unwrap().unwrap_or_else(|| panic!("no {name} in the C library"))
}

/// `snprintf`, or `_snprintf` on Windows: `int (char *, size_t, const char *, ...)`.
fn snprintf() -> Pointer {
    c_function(if cfg!(windows) { "_snprintf" } else { "snprintf" })
}

const FORMAT: &str = "%d|%lld|%u|%s|%.3f|%p|%g|%x|%c";

/// What `FORMAT` prints for `mixed_values()`, with `%p` and `%g`'s exponent as this C
/// library prints them (msvcrt: 16 hex digits, three exponent digits).
fn expected_text(pointer: usize) -> String {
    let (p, e) = if cfg!(windows) {
        (format!("{pointer:016X}"), "2.5e-007")
    } else {
        (format!("{pointer:#x}"), "2.5e-07")
    };
    format!("-42|-1234567890123|4000000000|text|3.142|{p}|{e}|beef|Z")
}

const POINTER: usize = 0x12_3456_789a;

fn variadic_types() -> Vec<Type> {
    types(&[":int", ":int64", ":uint", ":string", ":double", ":ptr", ":double", ":int", ":int"])
}

fn mixed_values() -> Vec<Value> {
    vec![
        Value::Number(-42.0),
        Value::Int(-1_234_567_890_123),
        Value::Number(4e9),
        Value::string("text"),
        Value::Number(std::f64::consts::PI),
        Value::Pointer(Pointer::from_addr(POINTER)),
        Value::Number(2.5e-7),
        Value::Number(f64::from(0xbeef)),
        Value::Number(f64::from(b'Z')),
    ]
}

#[test]
fn snprintf_with_mixed_arguments_through_values() {
    let fixed = types(&[":ptr", ":size", ":string"]);
    let sig = ffi::variadic_signature(host(), ty(":int"), fixed, variadic_types()).unwrap();
    let mut buffer = vec![0u8; 128];
    let mut args =
        vec![Value::Pointer(Pointer::from_ptr(buffer.as_mut_ptr())), Value::Number(128.0)];
    args.push(Value::string(FORMAT));
    args.extend(mixed_values());
    // SAFETY: snprintf's own signature; a 128-byte buffer; the format reads exactly these
    // variadic arguments (%p only prints the pointer).
    let written = unsafe { ffi::call(snprintf(), &sig, &args) }.unwrap();
    let expected = expected_text(POINTER);
    assert_eq!(written, Value::Number(expected.len() as f64));
    let text = std::ffi::CStr::from_bytes_until_nul(&buffer).unwrap().to_str().unwrap();
    assert_eq!(text, expected);
}

#[test]
fn snprintf_with_mixed_arguments_through_native_images() {
    let fixed = types(&[":ptr", ":size", ":ptr"]);
    let variadic =
        types(&[":int", ":int64", ":uint", ":ptr", ":double", ":ptr", ":double", ":int", ":int"]);
    let sig = ffi::variadic_signature(host(), ty(":int"), fixed, variadic).unwrap();
    let mut buffer = vec![0u8; 128];
    let format = CString::new(FORMAT).unwrap();
    let text = c"text";
    let (dest, size, format) = (buffer.as_mut_ptr(), 128usize, format.as_ptr());
    let (a, b, c, d, e, f, g, h, i) = (
        -42i32,
        -1_234_567_890_123i64,
        4_000_000_000u32,
        text.as_ptr(),
        std::f64::consts::PI,
        POINTER,
        2.5e-7f64,
        0xbeefi32,
        i32::from(b'Z'),
    );
    let args: [*const u8; 12] = [
        (&dest as *const *mut u8).cast(),
        (&size as *const usize).cast(),
        (&format as *const *const std::ffi::c_char).cast(),
        (&a as *const i32).cast(),
        (&b as *const i64).cast(),
        (&c as *const u32).cast(),
        (&d as *const *const std::ffi::c_char).cast(),
        (&e as *const f64).cast(),
        (&f as *const usize).cast(),
        (&g as *const f64).cast(),
        (&h as *const i32).cast(),
        (&i as *const i32).cast(),
    ];
    let mut written = 0i32;
    // SAFETY: as in the values test; every pointer refers to a live value of its type.
    unsafe { sig.call_native(snprintf(), &args, (&mut written as *mut i32).cast()) }.unwrap();
    let expected = expected_text(POINTER);
    assert_eq!(written as usize, expected.len());
    let text = std::ffi::CStr::from_bytes_until_nul(&buffer).unwrap().to_str().unwrap();
    assert_eq!(text, expected);
}

/// Sets the C library's live `errno` (and last error) to `value` with a plain call, after
/// an allocation and a failing conversion: what "other code" after a call might do. The
/// live value must then differ from `kept`, the value the capture must still report. (Not
/// "equal `value`": the C library may change `errno` in any call, even one that succeeds,
/// such as the ones that compile the next signature.)
fn disturb(value: i32, kept: i32) {
    let noise: Vec<String> = (0..100).map(|i| format!("{i:>40}")).collect();
    assert!(noise.concat().trim().parse::<f64>().is_err());
    let sig = ffi::signature(host(), ty(":void"), types(&[":int"])).unwrap();
    // SAFETY: `void jc_errno_set(int)`.
    unsafe { ffi::call(Pointer::from_ptr(errno_setter()), &sig, &[Value::Number(value.into())]) }
        .unwrap();
    assert_ne!(live_errno(), kept, "the disturbance took");
}

/// The C library's `errno` now, read by a plain (non-capturing) call.
fn live_errno() -> i32 {
    let sig = ffi::signature(host(), ty(":int"), vec![]).unwrap();
    // SAFETY: `int jc_errno_get(void)`.
    match unsafe { ffi::call(Pointer::from_ptr(errno_getter()), &sig, &[]) }.unwrap() {
        Value::Number(n) => n as i32,
        other => panic!("errno read as {other}"),
    }
}

const ENOENT: i32 = 2;
const ERANGE: i32 = 34;

#[test]
fn open_of_a_missing_file_captures_enoent() {
    let (name, path) = if cfg!(windows) {
        ("_open", "C:\\no\\such\\dir\\file.txt")
    } else {
        ("open", "/no/such/dir/file.txt")
    };
    // `int open(const char *, int, ...)`, called with no variadic argument (O_RDONLY).
    let sig = Signature::variadic(host(), ty(":int"), types(&[":string", ":int"]), vec![])
        .with_errno(Errno::Capture);
    let sig = ffi::compile(sig).unwrap();
    let args = [Value::string(path), Value::Number(0.0)];
    // SAFETY: open's own signature with a C string and O_RDONLY.
    let got = unsafe { ffi::call(c_function(name), &sig, &args) }.unwrap();
    assert_eq!(got, Value::Number(-1.0));
    disturb(7, ENOENT);
    assert_eq!(ffi::errno(), ENOENT);
}

#[test]
fn strtol_overflow_captures_erange_through_values_and_native_images() {
    let sig = Signature::new(host(), ty(":long"), types(&[":string", ":ptr", ":int"]))
        .with_errno(Errno::Capture);
    let sig = ffi::compile(sig).unwrap();
    let digits = "99999999999999999999999999";
    let args = [Value::string(digits), Value::Nil, Value::Number(10.0)];
    // SAFETY: strtol's own signature; a C string, no end pointer, base 10.
    let got = unsafe { ffi::call(c_function("strtol"), &sig, &args) }.unwrap();
    let long_max =
        if cfg!(windows) { Value::Number(i32::MAX.into()) } else { Value::Int(i64::MAX) };
    assert_eq!(got, long_max);
    disturb(0, ERANGE);
    assert_eq!(ffi::errno(), ERANGE);

    ffi::set_errno(0);
    let text = CString::new(digits).unwrap();
    let (s, end, base) = (text.as_ptr(), std::ptr::null::<u8>(), 10i32);
    let args: [*const u8; 3] = [
        (&s as *const *const std::ffi::c_char).cast(),
        (&end as *const *const u8).cast(),
        (&base as *const i32).cast(),
    ];
    let mut result = [0u8; 8];
    // SAFETY: as above, through native images.
    unsafe { sig.call_native(c_function("strtol"), &args, result.as_mut_ptr()) }.unwrap();
    disturb(0, ERANGE);
    assert_eq!(ffi::errno(), ERANGE);
}

#[test]
fn a_success_leaves_what_the_callee_left() {
    // strtol succeeds and does not touch errno: the capture is what was there, which
    // SetAndCapture put there from the slot.
    let sig = Signature::new(host(), ty(":long"), types(&[":string", ":ptr", ":int"]))
        .with_errno(Errno::SetAndCapture);
    let sig = ffi::compile(sig).unwrap();
    ffi::set_errno(1234);
    let args = [Value::string("12"), Value::Nil, Value::Number(10.0)];
    // SAFETY: as in the overflow test.
    let got = unsafe { ffi::call(c_function("strtol"), &sig, &args) }.unwrap();
    assert_eq!(got, Value::Number(12.0));
    disturb(5, 1234);
    assert_eq!(ffi::errno(), 1234);
}

#[test]
fn set_and_capture_hands_the_slot_to_the_callee() {
    let sig =
        ffi::compile(Signature::new(host(), ty(":int"), vec![]).with_errno(Errno::SetAndCapture))
            .unwrap();
    ffi::set_errno(99);
    disturb(3, 99);
    // SAFETY: `int jc_errno_get(void)`.
    let got = unsafe { ffi::call(Pointer::from_ptr(errno_getter()), &sig, &[]) }.unwrap();
    assert_eq!(got, Value::Number(99.0));
    assert_eq!(ffi::errno(), 99);
}

/// Calls `void f(int)` through a capturing signature of `abi`, both ways in.
fn capture_from_setter(abi: Abi, setter: *const ()) {
    let sig =
        ffi::compile(Signature::new(abi, ty(":void"), types(&[":int"])).with_errno(Errno::Capture))
            .unwrap();
    let target = Pointer::from_ptr(setter);
    // SAFETY: `void jc_errno_set(int)` in convention `abi`.
    unsafe { ffi::call(target, &sig, &[Value::Number(4242.0)]) }.unwrap();
    disturb(1, 4242);
    assert_eq!(ffi::errno(), 4242);
    if cfg!(windows) {
        assert_eq!(ffi::last_error(), 5242);
    }
    let value = 321i32;
    // SAFETY: as above, through a native image.
    unsafe { sig.call_native(target, &[(&value as *const i32).cast()], std::ptr::null_mut()) }
        .unwrap();
    disturb(1, 321);
    assert_eq!(ffi::errno(), 321);
    if cfg!(windows) {
        assert_eq!(ffi::last_error(), 1321);
    }
    let value = 77i32;
    let args = [(&value as *const i32).cast::<u8>()];
    // SAFETY: as above, through the signature's RawCall.
    unsafe { sig.raw_call().unwrap().call(target, args.as_ptr(), std::ptr::null_mut()) };
    disturb(1, 77);
    assert_eq!(ffi::errno(), 77);
    if cfg!(windows) {
        assert_eq!(ffi::last_error(), 1077);
    }
}

#[test]
fn a_callee_that_sets_errno_is_captured() {
    capture_from_setter(host(), errno_setter());
}

#[cfg(target_arch = "x86_64")]
#[test]
fn capture_works_in_the_other_x86_64_convention_too() {
    let other = if host() == Abi::SysV64 { Abi::Win64 } else { Abi::SysV64 };
    capture_from_setter(other, jitcall_conformance_c::errno_setter_alt());
}

#[test]
fn signatures_that_do_not_ask_leave_the_slot_alone() {
    ffi::set_errno(5);
    disturb(77, 5);
    assert_eq!(ffi::errno(), 5);
}

#[test]
fn each_thread_has_its_own_slot() {
    ffi::set_errno(11);
    std::thread::spawn(|| {
        assert_eq!(ffi::errno(), 0);
        capture_from_setter(host(), errno_setter());
    })
    .join()
    .unwrap();
    assert_eq!(ffi::errno(), 11);
}

#[cfg(windows)]
#[test]
fn a_failing_create_file_captures_its_last_error() {
    // SAFETY: kernel32 is loaded into every Windows process.
    let kernel32 = unsafe { ffi::native(Some("kernel32.dll")) }.unwrap();
    let create_file = kernel32.lookup("CreateFileA").unwrap().unwrap();
    let params = types(&[":string", ":uint32", ":uint32", ":ptr", ":uint32", ":uint32", ":ptr"]);
    let sig =
        ffi::compile(Signature::new(Abi::Win64, ty(":ptr"), params).with_errno(Errno::Capture))
            .unwrap();
    const GENERIC_READ: f64 = 2147483648.0;
    const OPEN_EXISTING: f64 = 3.0;
    let args = [
        Value::string("C:\\windows\\no-such-file-here.txt"),
        Value::Number(GENERIC_READ),
        Value::Number(0.0),
        Value::Nil,
        Value::Number(OPEN_EXISTING),
        Value::Number(0.0),
        Value::Nil,
    ];
    // SAFETY: CreateFileA's own signature; no security attributes, no template.
    let handle = unsafe { ffi::call(create_file, &sig, &args) }.unwrap();
    assert_eq!(handle, Value::Pointer(Pointer::from_addr(usize::MAX)));
    // Rust's own failing file access sets the last error to something else.
    assert!(std::fs::metadata("C:\\no\\such\\dir\\at\\all").is_err());
    // Only the last error matters here (errno is never -1).
    disturb(1, -1);
    const ERROR_FILE_NOT_FOUND: u32 = 2;
    assert_eq!(ffi::last_error(), ERROR_FILE_NOT_FOUND);
}

/// Each thread's capture reads and writes that thread's own `errno` (the slot caches the
/// thread's errno address): threads setting and capturing different values at once never
/// see each other's, neither through the callee's `errno` nor through the slot.
#[test]
fn threads_capture_their_own_errno() {
    let capture = ffi::compile(
        Signature::new(host(), ty(":void"), types(&[":int"])).with_errno(Errno::Capture),
    )
    .unwrap();
    let hand_over =
        ffi::compile(Signature::new(host(), ty(":int"), vec![]).with_errno(Errno::SetAndCapture))
            .unwrap();
    let threads: Vec<_> = (1..=4)
        .map(|t: i32| {
            let (capture, hand_over) = (capture.clone(), hand_over.clone());
            std::thread::spawn(move || {
                for i in 0..2000 {
                    let value = t * 100_000 + i;
                    // SAFETY: `void jc_errno_set(int)`.
                    unsafe {
                        capture
                            .call(Pointer::from_ptr(errno_setter()), &[Value::Number(value.into())])
                    }
                    .unwrap();
                    assert_eq!(ffi::errno(), value, "thread {t}");
                    ffi::set_errno(value + 1);
                    // SAFETY: `int jc_errno_get(void)`, given the slot's value first.
                    let got = unsafe { hand_over.call(Pointer::from_ptr(errno_getter()), &[]) };
                    assert_eq!(got.unwrap(), Value::Number((value + 1).into()), "thread {t}");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}
