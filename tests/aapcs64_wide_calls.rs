//! Real calls with the wide scalars under AAPCS64 (AArch64 Linux, where `long double` is
//! binary128): hand-written C callees and drivers (`tests/conformance-c/c/wide_aapcs64.c`)
//! taking and returning `long double`, 128-bit integers, complex numbers, homogeneous
//! aggregates of `long double` and unions, at the placements the plan tests check (even
//! register pairs, 16-aligned stack slots, HFAs that spill, by-reference copies).
//!
//! Each callee copies every argument's bytes into a buffer and returns bytes it was given;
//! each driver calls a jitcall callback with given bytes and keeps the result's bytes.
//! Checked, byte for byte, for random images:
//! - `call_native` (the pointer thunk, or the block one for a by-reference argument) and
//!   `call` over values, each without and with errno capture;
//! - native callbacks (every byte both ways) and value callbacks, called from C.
//!
//! Runs on AArch64 Linux only (`scripts/test-aarch64` runs it under qemu).
#![cfg(all(target_arch = "aarch64", target_os = "linux"))]

extern crate jitcall_conformance_c;

use std::sync::{Arc, Mutex};

use jitcall::internals::{decode, encode};
use jitcall::{ffi, syntax, Abi, Buffer, Callback, Errno, Path, Pointer, Signature, Type, Value};

extern "C" {
    fn jc_w_set(args: *const u8, n: usize, ret: *const u8, ret_n: usize);
    fn jc_w_seen(out: *mut u8) -> usize;
}

macro_rules! callees {
    ($($name:ident $drive:ident),* $(,)?) => {
        extern "C" { $(fn $name(); fn $drive();)* }
        /// Each callee and its driver by name.
        fn functions(name: &str) -> (unsafe extern "C" fn(), unsafe extern "C" fn()) {
            match name {
                $(stringify!($name) => ($name, $drive),)*
                _ => panic!("no callee {name}"),
            }
        }
    };
}

callees! {
    w_ld w_ld_drive, w_hfa2 w_hfa2_drive, w_hfa4 w_hfa4_drive, w_ld_stack w_ld_stack_drive,
    w_hfa_spill w_hfa_spill_drive, w_i128 w_i128_drive, w_u128_x7 w_u128_x7_drive,
    w_i128_stack w_i128_stack_drive, w_cld w_cld_drive, w_cld_stack w_cld_stack_drive,
    w_union w_union_drive, w_si w_si_drive, w_ldi w_ldi_drive, w_uld2 w_uld2_drive,
}

const LD2: &str = "[:long-double :long-double]";
const ULD: &str = "[:union :long-double :double]";
const ULD2: &str = "[:union :long-double @[:long-double 2]]";

/// The callees: C name, result type, parameter types (as in the C file).
fn signatures() -> Vec<(&'static str, &'static str, Vec<&'static str>)> {
    let d8 = vec![":double"; 8];
    let l7 = vec![":int64"; 7];
    let cat = |a: &[&'static str], b: &[&'static str]| [a, b].concat();
    vec![
        ("w_ld", ":long-double", vec![":long-double", ":double", ":long-double"]),
        ("w_hfa2", LD2, vec![":double", LD2]),
        ("w_hfa4", "[@[:long-double 4]]", vec!["[@[:long-double 4]]"]),
        ("w_ld_stack", ":long-double", cat(&d8, &[":double", ":long-double"])),
        ("w_hfa_spill", LD2, cat(&d8[..7], &[LD2, ":double"])),
        ("w_i128", ":int128", vec![":int", ":int128", ":int"]),
        ("w_u128_x7", ":uint128", cat(&l7, &[":uint128", ":int64"])),
        ("w_i128_stack", ":int128", cat(&[":int64"; 9], &[":int128"])),
        (
            "w_cld",
            ":complex-long-double",
            vec![":complex-long-double", ":complex-double", ":complex-float"],
        ),
        ("w_cld_stack", ":complex-long-double", cat(&d8, &[":int", ":complex-long-double"])),
        ("w_union", ULD, vec![":int", ULD]),
        ("w_si", "[:int128]", vec![":int", "[:int128]"]),
        ("w_ldi", "[:long-double @[:int 4]]", vec!["[:long-double @[:int 4]]", ":int"]),
        ("w_uld2", ULD2, vec![":double", ULD2]),
    ]
}

fn ty(text: &str) -> Type {
    let value = syntax::read(text).unwrap_or_else(|e| panic!("reading {text}: {e}"));
    ffi::native_type(&value).unwrap_or_else(|e| panic!("type {text}: {e}"))
}

/// splitmix64: a seeded source of random bytes.
struct Rng(u64);

impl Rng {
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = self.0;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                (z ^ (z >> 31)) as u8
            })
            .collect()
    }
}

struct Case {
    name: &'static str,
    sig: Signature,
    callee: unsafe extern "C" fn(),
    driver: unsafe extern "C" fn(),
}

fn cases() -> Vec<Case> {
    signatures()
        .into_iter()
        .map(|(name, ret, params)| {
            let (callee, driver) = functions(name);
            let sig = Signature::new(Abi::Aapcs64, ty(ret), params.iter().map(|p| ty(p)).collect());
            Case { name, sig, callee, driver }
        })
        .collect()
}

/// Gives the C side the argument and result bytes, runs `f`, and returns what C saw.
fn with_c_buffers(args: &[u8], ret: &[u8], f: impl FnOnce()) -> Vec<u8> {
    // SAFETY: both buffers are valid for their lengths; the C buffers are larger.
    unsafe { jc_w_set(args.as_ptr(), args.len(), ret.as_ptr(), ret.len()) };
    f();
    let mut seen = vec![0u8; 512];
    // SAFETY: `seen` has room for the C buffer's 512 bytes.
    let n = unsafe { jc_w_seen(seen.as_mut_ptr()) };
    seen.truncate(n);
    seen
}

fn pointer(f: unsafe extern "C" fn()) -> Pointer {
    Pointer::from_addr(f as usize)
}

/// A value whose image is `image`'s (a union as a buffer of its bytes, since a union
/// reads back as every field's view), and the image it encodes to.
fn value_of(ty: &Type, image: &[u8]) -> (Value, Vec<u8>) {
    let value = match ty {
        Type::Union(_) => Value::Buffer(Buffer::from_vec(image.to_vec())),
        _ => decode(ty, image).unwrap(),
    };
    let mut bytes = vec![0u8; ty.size()];
    encode(ty, &value, &mut bytes, &Path::default()).unwrap();
    (value, bytes)
}

#[test]
fn c_callees_get_every_byte_and_return_every_byte_natively() {
    let mut rng = Rng(0x71de_a64c_a11e_0001);
    for case in cases() {
        for errno in [Errno::Ignore, Errno::Capture] {
            let compiled = ffi::compile(case.sig.clone().with_errno(errno)).unwrap();
            for round in 0..8 {
                let images: Vec<Vec<u8>> =
                    case.sig.params.iter().map(|t| rng.bytes(t.size())).collect();
                let ret = rng.bytes(case.sig.ret.size());
                let mut got = vec![0u8; ret.len()];
                let ptrs: Vec<*const u8> = images.iter().map(|i| i.as_ptr()).collect();
                let seen = with_c_buffers(&[], &ret, || {
                    // SAFETY: the callee has this signature; each pointer holds a whole
                    // image of its parameter and `got` has room for the result.
                    unsafe { compiled.call_native(pointer(case.callee), &ptrs, got.as_mut_ptr()) }
                        .unwrap();
                });
                let name = format!("{} {errno:?} round {round}", case.name);
                assert_eq!(seen, images.concat(), "{name}: the arguments C got");
                assert_eq!(got, ret, "{name}: the result");
            }
        }
    }
}

#[test]
fn c_callees_get_every_byte_of_values() {
    let mut rng = Rng(0x71de_a64c_a11e_0002);
    for case in cases() {
        for errno in [Errno::Ignore, Errno::Capture] {
            let compiled = ffi::compile(case.sig.clone().with_errno(errno)).unwrap();
            for round in 0..4 {
                let (values, images): (Vec<Value>, Vec<Vec<u8>>) =
                    case.sig.params.iter().map(|t| value_of(t, &rng.bytes(t.size()))).unzip();
                let ret = rng.bytes(case.sig.ret.size());
                let mut result = None;
                let seen = with_c_buffers(&[], &ret, || {
                    // SAFETY: the callee has this signature and takes no pointers.
                    result = Some(unsafe { compiled.call(pointer(case.callee), &values) }.unwrap());
                });
                let name = format!("{} {errno:?} round {round}", case.name);
                assert_eq!(seen, images.concat(), "{name}: the arguments C got");
                let expected = decode(&case.sig.ret, &ret).unwrap();
                assert_eq!(format!("{:?}", result.unwrap()), format!("{expected:?}"), "{name}");
            }
        }
    }
}

#[test]
fn native_callbacks_called_from_c_get_and_return_every_byte() {
    let mut rng = Rng(0x71de_a64c_a11e_0003);
    for case in cases() {
        let params = case.sig.params.clone();
        let ret_size = case.sig.ret.size();
        let received: Arc<Mutex<Vec<u8>>> = Arc::default();
        let result: Arc<Mutex<Vec<u8>>> = Arc::default();
        let (rx, rs) = (received.clone(), result.clone());
        let callback = Callback::new_native(case.sig.clone(), move |args, out| {
            let mut got = rx.lock().unwrap();
            got.clear();
            for (arg, t) in args.iter().zip(&params) {
                // SAFETY: the dispatcher passes a whole image of each parameter.
                got.extend_from_slice(unsafe { std::slice::from_raw_parts(*arg, t.size()) });
            }
            let bytes = rs.lock().unwrap();
            // SAFETY: `out` has room for the result's image.
            unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), out, ret_size) };
            Ok(())
        })
        .unwrap();
        for round in 0..8 {
            let args: Vec<u8> = case.sig.params.iter().flat_map(|t| rng.bytes(t.size())).collect();
            let ret = rng.bytes(ret_size);
            *result.lock().unwrap() = ret.clone();
            let seen = with_c_buffers(&args, &[], || drive(&case, &callback));
            let name = format!("{} round {round}", case.name);
            assert_eq!(*received.lock().unwrap(), args, "{name}: the arguments the callback got");
            assert_eq!(seen, ret, "{name}: the result C got");
        }
    }
}

#[test]
fn value_callbacks_called_from_c_get_and_return_values() {
    let mut rng = Rng(0x71de_a64c_a11e_0004);
    for case in cases() {
        let received: Arc<Mutex<Vec<Value>>> = Arc::default();
        let result: Arc<Mutex<Value>> = Arc::new(Mutex::new(Value::Nil));
        let (rx, rs) = (received.clone(), result.clone());
        let callback = Callback::new(case.sig.clone(), move |args| {
            *rx.lock().unwrap() = args.to_vec();
            Ok(rs.lock().unwrap().clone())
        })
        .unwrap();
        for round in 0..4 {
            let images: Vec<Vec<u8>> =
                case.sig.params.iter().map(|t| rng.bytes(t.size())).collect();
            let (value, ret) = value_of(&case.sig.ret, &rng.bytes(case.sig.ret.size()));
            *result.lock().unwrap() = value;
            let seen = with_c_buffers(&images.concat(), &[], || drive(&case, &callback));
            let name = format!("{} round {round}", case.name);
            let expected: Vec<String> = case
                .sig
                .params
                .iter()
                .zip(&images)
                .map(|(t, i)| format!("{:?}", decode(t, i).unwrap()))
                .collect();
            let got: Vec<String> =
                received.lock().unwrap().iter().map(|v| format!("{v:?}")).collect();
            assert_eq!(got, expected, "{name}: the arguments the callback got");
            assert_eq!(seen, ret, "{name}: the result C got");
        }
    }
}

/// Runs the case's C driver on the callback.
fn drive(case: &Case, callback: &Callback) {
    // SAFETY: every driver is `void(fp)` with `fp` of the case's signature, which the
    // callback has.
    unsafe {
        let driver: unsafe extern "C" fn(*const u8) = std::mem::transmute(case.driver);
        driver(callback.code_ptr().as_ptr().cast());
    }
}
