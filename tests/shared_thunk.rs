//! A signature's first calls run through its convention's shared thunk, later ones (once
//! it is hot) through its own code: both must pass every argument and result alike. Each
//! signature here is called more often than the hot threshold, through both call paths,
//! and every call is checked against the callee called directly from Rust.

use std::fmt::Debug;

use jitcall::internals::DEFAULT_HOT_CALLS;
use jitcall::{ffi, syntax, Abi, CompiledSignature, Pointer, Type, Value};

fn ty(text: &str) -> Type {
    ffi::native_type(&syntax::read(text).unwrap()).unwrap()
}

fn host() -> Abi {
    Abi::host().expect("tests run on a host jitcall supports")
}

/// Enough calls to run a signature both cold and hot.
const CALLS: u32 = 2 * DEFAULT_HOT_CALLS + 4;

/// Calls `target` `CALLS` times, alternating the native path (checked against `expected`)
/// and the value path (each result checked against the first).
///
/// # Safety
/// `target` has signature `sig`, `args` point to its arguments' native images, and `R` is
/// its result's native type.
unsafe fn check<R: Copy + PartialEq + Debug>(
    sig: &CompiledSignature,
    target: Pointer,
    args: &[*const u8],
    values: &[Value],
    expected: R,
) {
    let mut first_value = None;
    for call in 0..CALLS {
        let mut got = std::mem::MaybeUninit::<R>::zeroed();
        // SAFETY: forwarded from the caller; `got` has room for the result.
        unsafe { sig.call_native(target, args, got.as_mut_ptr().cast()) }.unwrap();
        // SAFETY: the call wrote the whole result (zeroed first, so padding is defined).
        assert_eq!(unsafe { got.assume_init() }, expected, "native call {call}");
        // SAFETY: forwarded from the caller.
        let value = unsafe { ffi::call(target, sig, values) }.unwrap();
        match &first_value {
            None => first_value = Some(value),
            Some(first) => assert_eq!(&value, first, "value call {call}"),
        }
    }
}

fn ptr<T>(value: &T) -> *const u8 {
    (value as *const T).cast()
}

fn num(n: f64) -> Value {
    Value::Number(n)
}

#[allow(clippy::too_many_arguments)]
extern "C" fn many(
    a: i8,
    b: u16,
    c: f32,
    d: f64,
    e: i32,
    f: i64,
    g: i8,
    h: u8,
    i: f32,
    j: i16,
    k: f64,
    l: i64,
    m: i8,
) -> f64 {
    let ints =
        [a as f64, b as f64, e as f64, f as f64, g as f64, h as f64, j as f64, l as f64, m as f64];
    let floats = [c as f64, d, i as f64, k];
    ints.iter().chain(&floats).enumerate().map(|(n, x)| x * (n as f64 + 1.0)).sum()
}

#[test]
fn narrow_integers_floats_and_stack_arguments() {
    let params = ":int8 :uint16 :float :double :int32 :int64 :int8 :uint8 :float :int16 :double :int64 :int8";
    let sig = ffi::signature(host(), ty(":double"), params.split(' ').map(ty).collect()).unwrap();
    let (a, b, c, d, e, f, g) = (-3i8, 65000u16, 1.5f32, -2.25f64, -70000i32, 1i64 << 40, -128i8);
    let (h, i, j, k, l, m) = (200u8, 0.125f32, -300i16, 1e10f64, -5i64, 127i8);
    let args = [ptr(&a), ptr(&b), ptr(&c), ptr(&d), ptr(&e), ptr(&f), ptr(&g)];
    let args = [&args[..], &[ptr(&h), ptr(&i), ptr(&j), ptr(&k), ptr(&l), ptr(&m)]].concat();
    let values: Vec<Value> = [a as f64, b as f64, c as f64, d, e as f64, f as f64, g as f64]
        .into_iter()
        .chain([h as f64, i as f64, j as f64, k, l as f64, m as f64])
        .map(num)
        .collect();
    let expected = many(a, b, c, d, e, f, g, h, i, j, k, l, m);
    let target = Pointer::from_ptr(many as *const ());
    // SAFETY: `many` has exactly this signature; the pointers are to its arguments.
    unsafe { check(&sig, target, &args, &values, expected) };
}

#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
struct Pair {
    x: i64,
    y: f64,
}

extern "C" fn scale_pair(p: Pair, by: f32) -> Pair {
    Pair { x: p.x * by as i64, y: p.y * by as f64 }
}

#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
struct Big {
    a: i64,
    b: i32,
    c: f64,
    d: i8,
}

extern "C" fn shift_big(x: Big, k: i32) -> Big {
    Big { a: x.a + k as i64, b: x.b - k, c: x.c * 2.0, d: x.d.wrapping_add(k as i8) }
}

#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
struct Quad {
    a: f32,
    b: f32,
    c: f32,
    d: f32,
}

extern "C" fn spread_quad(q: Quad, s: f64) -> Quad {
    let s = s as f32;
    Quad { a: q.d * s, b: q.c + s, c: q.b - s, d: q.a }
}

extern "C" fn negate_byte(x: i8) -> i8 {
    x.wrapping_neg()
}

#[test]
fn structs_in_registers_by_reference_and_returned_through_memory() {
    let p = Pair { x: -7, y: 0.5 };
    let by = 3.0f32;
    let sig =
        ffi::signature(host(), ty("[:int64 :double]"), vec![ty("[:int64 :double]"), ty(":float")])
            .unwrap();
    let values = [Value::Tuple(vec![num(-7.0), num(0.5)]), num(3.0)];
    // SAFETY: `scale_pair` has this signature.
    unsafe {
        check(
            &sig,
            Pointer::from_ptr(scale_pair as *const ()),
            &[ptr(&p), ptr(&by)],
            &values,
            scale_pair(p, by),
        )
    };

    let big = Big { a: 1 << 50, b: -9, c: 2.5, d: 100 };
    let k = 30i32;
    let big_ty = "[:int64 :int32 :double :int8]";
    let sig = ffi::signature(host(), ty(big_ty), vec![ty(big_ty), ty(":int32")]).unwrap();
    let values =
        [Value::Tuple(vec![num((1i64 << 50) as f64), num(-9.0), num(2.5), num(100.0)]), num(30.0)];
    // SAFETY: `shift_big` has this signature.
    unsafe {
        check(
            &sig,
            Pointer::from_ptr(shift_big as *const ()),
            &[ptr(&big), ptr(&k)],
            &values,
            shift_big(big, k),
        )
    };

    let q = Quad { a: 1.0, b: -2.0, c: 0.25, d: 8.0 };
    let s = 0.5f64;
    let quad_ty = "[:float :float :float :float]";
    let sig = ffi::signature(host(), ty(quad_ty), vec![ty(quad_ty), ty(":double")]).unwrap();
    let values = [Value::Tuple(vec![num(1.0), num(-2.0), num(0.25), num(8.0)]), num(0.5)];
    // SAFETY: `spread_quad` has this signature.
    unsafe {
        check(
            &sig,
            Pointer::from_ptr(spread_quad as *const ()),
            &[ptr(&q), ptr(&s)],
            &values,
            spread_quad(q, s),
        )
    };

    let x = 5i8;
    let sig = ffi::signature(host(), ty(":int8"), vec![ty(":int8")]).unwrap();
    // SAFETY: `negate_byte` has this signature.
    unsafe {
        check(&sig, Pointer::from_ptr(negate_byte as *const ()), &[ptr(&x)], &[num(5.0)], -5i8)
    };
}

#[test]
fn prepared_signatures_run_their_own_code_from_the_first_call() {
    let sig = ffi::signature(host(), ty(":int8"), vec![ty(":int8"), ty(":int16")]).unwrap();
    sig.prepare().unwrap();
    extern "C" fn first(x: i8, _y: i16) -> i8 {
        x
    }
    let (x, y) = (-1i8, 2i16);
    // SAFETY: `first` has this signature.
    unsafe {
        check(
            &sig,
            Pointer::from_ptr(first as *const ()),
            &[ptr(&x), ptr(&y)],
            &[num(-1.0), num(2.0)],
            -1i8,
        )
    };
}

extern "C" fn first_word(x: i64) -> i64 {
    x
}

#[allow(clippy::too_many_arguments)]
extern "C" fn ninth_word(
    _: i64,
    _: i64,
    _: i64,
    _: i64,
    _: i64,
    _: i64,
    _: i64,
    _: i64,
    x: i64,
) -> i64 {
    x
}

/// A narrow integer arrives widened to a whole register or stack slot as its plan says
/// (sign- or zero-extended), on both paths: seen by a callee that reads the whole word.
#[test]
fn narrow_integers_are_widened_as_the_plan_says() {
    use jitcall::{ArgPlan, Extension};
    let cases: [(&str, [u8; 4]); 4] = [
        (":int8", [0xFB, 0, 0, 0]),
        (":uint8", [0xFB, 0, 0, 0]),
        (":int16", [0x34, 0x82, 0, 0]),
        (":int32", [0x00, 0x00, 0x00, 0x90]),
    ];
    for (narrow, image) in cases {
        for position in [0, 8] {
            let mut params = vec![ty(":int64"); position];
            params.push(ty(narrow));
            let sig = ffi::signature(host(), ty(":int64"), params).unwrap();
            let ArgPlan::Direct(parts) = &sig.plan().args[position] else {
                panic!("{narrow} direct")
            };
            let size = ty(narrow).size();
            let raw = u64::from_le_bytes([image[0], image[1], image[2], image[3], 0, 0, 0, 0]);
            let expected = match parts[0].ext {
                Extension::Sign => ((raw << (64 - 8 * size)) as i64) >> (64 - 8 * size),
                _ => raw as i64,
            };
            let zero = 0i64;
            let mut args = vec![ptr(&zero); position];
            args.push(image.as_ptr());
            let value = i32::from_le_bytes(image) as f64;
            let value = if narrow == ":uint8" {
                f64::from(image[0])
            } else if size == 1 {
                f64::from(image[0] as i8)
            } else if size == 2 {
                f64::from(i16::from_le_bytes([image[0], image[1]]))
            } else {
                value
            };
            let mut values = vec![num(0.0); position];
            values.push(num(value));
            let target =
                if position == 0 { first_word as *const () } else { ninth_word as *const () };
            // SAFETY: the callees take whole words where the signature has a narrow integer,
            // which is what every convention passes (a register or an 8-byte stack slot).
            unsafe { check(&sig, Pointer::from_ptr(target), &args, &values, expected) };
        }
    }
}
