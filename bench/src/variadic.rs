//! The variadic and errno cases, one line each in the same `CASE key=NS ...` format:
//!
//! - `snprintf`: `snprintf(buf, 64, "%d %g %s %p", int, double, string, pointer)` called
//!   directly (a Rust variadic call), through jitcall's typed path (`call_native` of a
//!   variadic signature) and its `Value` path; `fixed=` is the typed path of a fixed
//!   signature with the same placement (on the hosts where the variadic one places like
//!   a fixed one: System V and standard AAPCS64), which shows what being variadic costs.
//!   libffi is left out (its variadic cif is a separate `ffi_prep_cif_var`, not what the
//!   other cases measure).
//! - `errno`: `add_i32` through the typed (`call_native`, `RawCall`) and `Value` paths,
//!   with and without errno capture (`typed_capture=`, `raw_capture=`, `value_capture=`):
//!   the cost of the capture itself.
//!
//! Every path is checked against the direct call before anything is timed.

use std::ffi::{c_char, c_int};
use std::hint::black_box;
use std::mem::MaybeUninit;

use jitcall::{ffi, Errno, Pointer, Prim, Signature, Type, Value};

use crate::callees::add_i32;
use crate::cases::host;
use crate::timing::{interleaved, path, Plan};

extern "C" {
    #[cfg_attr(windows, link_name = "_snprintf")]
    fn snprintf(buf: *mut c_char, size: usize, format: *const c_char, ...) -> c_int;
}

const FORMAT: &std::ffi::CStr = c"%d %g %s %p";
const WORD: &std::ffi::CStr = c"word";
const BUF: usize = 64;

/// The `snprintf` line.
///
/// # Errors
/// A path whose text or count differs from the direct call's.
pub fn snprintf_row(plan: Plan) -> Result<String, String> {
    let t = Type::Prim;
    let fixed = vec![t(Prim::Ptr), t(Prim::U64), t(Prim::Ptr)];
    let variadic = vec![t(Prim::I32), t(Prim::F64), t(Prim::Ptr), t(Prim::Ptr)];
    let all = [fixed.clone(), variadic.clone()].concat();
    let sig = ffi::variadic_signature(host(), t(Prim::I32), fixed, variadic)
        .map_err(|e| format!("snprintf: {e}"))?;
    // The same arguments as a fixed signature, where it places them the same way (a C
    // function that is not variadic would be called so).
    let fixed_sig = ffi::signature(host(), t(Prim::I32), all).map_err(|e| format!("{e}"))?;
    let same_placement = fixed_sig.plan().args == sig.plan().args
        && fixed_sig.plan().stack_bytes == sig.plan().stack_bytes;
    let target = Pointer::from_ptr(snprintf as *const ());
    let pointer = 0x1234usize as *const u8;
    let mut buf = [0u8; BUF];
    let direct = |buf: &mut [u8; BUF]| -> i32 {
        // SAFETY: a BUF-byte buffer and a format that reads an int, a double, a C string
        // and a pointer, which follow.
        unsafe {
            snprintf(
                buf.as_mut_ptr().cast(),
                BUF,
                black_box(FORMAT.as_ptr()),
                black_box(42i32),
                black_box(2.5f64),
                WORD.as_ptr(),
                pointer,
            )
        }
    };
    let typed = |sig: &jitcall::CompiledSignature, buf: &mut [u8; BUF]| -> i32 {
        let (dest, size, format) = (buf.as_mut_ptr(), BUF, black_box(FORMAT.as_ptr()));
        let (a, b, c, d) = (black_box(42i32), black_box(2.5f64), WORD.as_ptr(), pointer);
        let args: [*const u8; 7] = [
            (&dest as *const *mut u8).cast(),
            (&size as *const usize).cast(),
            (&format as *const *const c_char).cast(),
            (&a as *const i32).cast(),
            (&b as *const f64).cast(),
            (&c as *const *const c_char).cast(),
            (&d as *const *const u8).cast(),
        ];
        let mut ret = 0i32;
        // SAFETY: as the direct call, through native images.
        unsafe { sig.call_native(target, &args, (&mut ret as *mut i32).cast()) }
            .expect("the typed call succeeds");
        ret
    };
    let value = |buf: &mut [u8; BUF]| -> Value {
        let args = [
            Value::Pointer(Pointer::from_ptr(buf.as_mut_ptr())),
            Value::Number(BUF as f64),
            Value::Pointer(Pointer::from_ptr(FORMAT.as_ptr())),
            Value::Number(black_box(42.0)),
            Value::Number(black_box(2.5)),
            Value::Pointer(Pointer::from_ptr(WORD.as_ptr())),
            Value::Pointer(Pointer::from_ptr(pointer)),
        ];
        // SAFETY: as the direct call, through values.
        unsafe { ffi::call(target, &sig, &args) }.expect("the value call succeeds")
    };

    let want = direct(&mut buf);
    let text = buf;
    let check = |what: &str, got: Value, buf: &[u8; BUF]| {
        if got != Value::Number(want.into()) || *buf != text {
            return Err(format!(
                "snprintf: the {what} path wrote something else than the direct call"
            ));
        }
        Ok(())
    };
    let mut other = [0u8; BUF];
    let got = typed(&sig, &mut other);
    check("typed", Value::Number(got.into()), &other)?;
    if same_placement {
        let mut other = [0u8; BUF];
        let got = typed(&fixed_sig, &mut other);
        check("fixed", Value::Number(got.into()), &other)?;
    }
    let mut other = [0u8; BUF];
    let got = value(&mut other);
    check("value", got, &other)?;

    let [d, ty, f, v] = interleaved(
        plan,
        [
            &mut path(|| {
                black_box(direct(&mut [0u8; BUF]));
            }),
            &mut path(|| {
                black_box(typed(&sig, &mut [0u8; BUF]));
            }),
            &mut path(|| {
                if same_placement {
                    black_box(typed(&fixed_sig, &mut [0u8; BUF]));
                }
            }),
            &mut path(|| {
                black_box(value(&mut [0u8; BUF]));
            }),
        ],
    );
    let fixed = if same_placement { format!(" fixed={f:.1}") } else { String::new() };
    Ok(format!("snprintf direct={d:.1} typed={ty:.1}{fixed} value={v:.1}"))
}

/// The `errno` line.
///
/// # Errors
/// A path whose result differs from the direct call's, or a capture that does not see
/// the C library's `errno`.
pub fn errno_row(plan: Plan) -> Result<String, String> {
    let int = Type::Prim(Prim::I32);
    let plain = Signature::new(host(), int.clone(), vec![int.clone(), int.clone()]);
    let capturing = plain.clone().with_errno(Errno::Capture);
    let plain = ffi::compile(plain).map_err(|e| format!("errno: {e}"))?;
    let capturing = ffi::compile(capturing).map_err(|e| format!("errno: {e}"))?;
    let target = Pointer::from_ptr(add_i32 as *const ());
    let direct = || add_i32(black_box(40), black_box(2));
    let typed = |sig: &jitcall::CompiledSignature| -> i32 {
        let (a, b) = (black_box(40i32), black_box(2i32));
        let mut ret = MaybeUninit::<i32>::zeroed();
        // SAFETY: `int add_i32(int, int)`.
        unsafe {
            sig.call_native(
                target,
                &[(&a as *const i32).cast(), (&b as *const i32).cast()],
                ret.as_mut_ptr().cast(),
            )
        }
        .expect("the typed call succeeds");
        // SAFETY: the call wrote an i32.
        unsafe { ret.assume_init() }
    };
    let raw = |raw: &jitcall::RawCall| -> i32 {
        let (a, b) = (black_box(40i32), black_box(2i32));
        let mut ret = MaybeUninit::<i32>::zeroed();
        let args = [(&a as *const i32).cast::<u8>(), (&b as *const i32).cast()];
        // SAFETY: `int add_i32(int, int)`; two pointers.
        unsafe { raw.call(target, args.as_ptr(), ret.as_mut_ptr().cast()) };
        // SAFETY: the call wrote an i32.
        unsafe { ret.assume_init() }
    };
    let plain_raw = plain.raw_call().map_err(|e| format!("errno: {e}"))?;
    let capturing_raw = capturing.raw_call().map_err(|e| format!("errno: {e}"))?;
    let value = |sig: &jitcall::CompiledSignature| -> Value {
        let args = [Value::Number(black_box(40.0)), Value::Number(black_box(2.0))];
        // SAFETY: as above.
        unsafe { ffi::call(target, sig, &args) }.expect("the value call succeeds")
    };

    let want = direct();
    for (what, got) in [
        ("typed", typed(&plain)),
        ("typed capture", typed(&capturing)),
        ("raw", raw(&plain_raw)),
        ("raw capture", raw(&capturing_raw)),
    ] {
        if got != want {
            return Err(format!("errno: the {what} path returned {got}, the direct call {want}"));
        }
    }
    ffi::set_errno(-1);
    for (what, got) in [("value", value(&plain)), ("value capture", value(&capturing))] {
        if got != Value::Number(want.into()) {
            return Err(format!("errno: the {what} path returned {got}, the direct call {want}"));
        }
    }
    let live = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    if ffi::errno() != live {
        return Err(format!("errno: captured {}, the C library has {live}", ffi::errno()));
    }

    let [d, t, tc, r, rc, v, vc] = interleaved(
        plan,
        [
            &mut path(|| {
                black_box(direct());
            }),
            &mut path(|| {
                black_box(typed(&plain));
            }),
            &mut path(|| {
                black_box(typed(&capturing));
            }),
            &mut path(|| {
                black_box(raw(&plain_raw));
            }),
            &mut path(|| {
                black_box(raw(&capturing_raw));
            }),
            &mut path(|| {
                black_box(value(&plain));
            }),
            &mut path(|| {
                black_box(value(&capturing));
            }),
        ],
    );
    Ok(format!(
        "errno direct={d:.1} typed={t:.1} typed_capture={tc:.1} raw={r:.1} raw_capture={rc:.1} \
         value={v:.1} value_capture={vc:.1}"
    ))
}
