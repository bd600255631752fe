//! The benchmark cases. Each one calls the same callee four ways: a direct call through
//! an `extern "C"` function pointer, jitcall's typed path (`call_native`: native images in
//! and out), jitcall's `Value` path (`ffi::call`, conversions included) and libffi's
//! `ffi_call` with a prepared cif. Signatures and cifs are built once, in `new`.
//!
//! Inputs go through `black_box` before every call and results are returned to the
//! caller (who `black_box`es them), so nothing is folded away.

use std::ffi::c_void;
use std::hint::black_box;
use std::mem::MaybeUninit;
use std::rc::Rc;

use jitcall::{
    ffi, Abi, Callback, CompiledSignature, DirectCall, Member, Pointer, Prim, RawCall, Type, Value,
};

use crate::callees::{self, Big, CallItFn, Dd, IntIntFn};
use crate::libffi::{self, ffi_arg, ffi_cif, Cif, Closure, Desc};

/// One benchmark case: the same call made four ways.
pub trait Case {
    /// The name printed at the start of the case's line.
    const NAME: &'static str;
    /// False when the case has no `Value` path of its own (the typed number stands in).
    const HAS_VALUE_PATH: bool = true;
    /// The callee's result.
    type Out: Copy + PartialEq + std::fmt::Debug;

    /// False when the case has no `RawCall` path of its own (the typed number stands in).
    const HAS_RAW_PATH: bool = true;
    /// True when the case has a `DirectCall` (register arguments, a primitive result).
    const HAS_TAIL_PATH: bool = false;

    fn direct(&self) -> Self::Out;
    /// jitcall's typed path in one of its [`Mode`]s.
    fn typed_as<const MODE: u8>(&self) -> Self::Out;
    fn typed(&self) -> Self::Out {
        self.typed_as::<NATIVE>()
    }
    fn raw(&self) -> Self::Out {
        self.typed_as::<RAW>()
    }
    fn tail(&self) -> Self::Out {
        self.typed_as::<TAIL>()
    }
    fn value(&self) -> Value;
    fn libffi(&self) -> Self::Out;
    /// The `Value` the value path must return when the callee returns `out`.
    fn as_value(out: Self::Out) -> Value;
}

/// The typed path's modes: `call_native`, a `RawCall`, a `DirectCall` (the cases that
/// have none use their `RawCall`).
pub const NATIVE: u8 = 0;
pub const RAW: u8 = 1;
pub const TAIL: u8 = 2;

/// A case's `Value` path: its `Jit`'s `ffi::call` (every case but the callback's).
macro_rules! value_path_through_jit {
    () => {
        #[inline(always)]
        fn value(&self) -> Value {
            self.jit.value()
        }
    };
}

/// `Default` for cases, which are all made by `new()`.
macro_rules! default_is_new {
    ($($case:ty),*) => {
        $(impl Default for $case {
            fn default() -> Self {
                Self::new()
            }
        })*
    };
}

default_is_new!(IntInt, DoubleIntDouble, Int64x6, Mixed10, DdDdDd, BigRet, CallbackRoundTrip);

/// Checks that every path returns what the direct call returns.
///
/// # Errors
/// A message naming the case, the path and both results.
pub fn check<C: Case>(case: &C) -> Result<(), String> {
    let want = case.direct();
    let typed = case.typed();
    if typed != want {
        return Err(format!("{}: typed path returned {typed:?}, direct call {want:?}", C::NAME));
    }
    let raw = case.raw();
    if raw != want {
        return Err(format!("{}: RawCall returned {raw:?}, direct call {want:?}", C::NAME));
    }
    let tail = case.tail();
    if tail != want {
        return Err(format!("{}: DirectCall returned {tail:?}, direct call {want:?}", C::NAME));
    }
    let libffi = case.libffi();
    if libffi != want {
        return Err(format!("{}: libffi returned {libffi:?}, direct call {want:?}", C::NAME));
    }
    let value = case.value();
    let want = C::as_value(want);
    if value != want {
        return Err(format!("{}: Value path returned {value}, direct call {want}", C::NAME));
    }
    Ok(())
}

pub fn host() -> Abi {
    Abi::host().expect("jitcall supports this host's C convention")
}

fn prim(p: Prim) -> Type {
    Type::Prim(p)
}

fn structure(fields: &[Type]) -> Type {
    let members: Vec<Member> = fields.iter().cloned().map(Member::Field).collect();
    Type::structure(&members).expect("a valid struct")
}

fn dd_type() -> Type {
    structure(&[prim(Prim::F64), prim(Prim::F64)])
}

fn dd_desc() -> Desc {
    Desc::Struct(vec![Desc::F64, Desc::F64])
}

fn dd_value(d: Dd) -> Value {
    Value::Tuple(vec![Value::Number(d.x), Value::Number(d.y)])
}

/// The address of an argument, as `call_native` takes it.
pub(crate) fn arg<T>(x: &T) -> *const u8 {
    (x as *const T).cast()
}

/// The address of an argument, as `ffi_call` takes it (libffi only reads it).
fn ffi_arg_ptr<T>(x: &T) -> *mut c_void {
    (x as *const T).cast_mut().cast()
}

/// jitcall's side of a case: the compiled signature, the callee and the `Value` arguments.
pub(crate) struct Jit {
    pub(crate) sig: CompiledSignature,
    raw: RawCall,
    pub(crate) target: Pointer,
    values: Vec<Value>,
}

impl Jit {
    pub(crate) fn new(
        ret: Type,
        params: Vec<Type>,
        target: *const c_void,
        values: Vec<Value>,
    ) -> Jit {
        let sig = ffi::signature(host(), ret, params).expect("the signature compiles");
        let raw = sig.raw_call().expect("the code seals");
        Jit { sig, raw, target: Pointer::from_ptr(target), values }
    }

    /// jitcall's typed path: `call_native`, or (`RAW`, `TAIL`) the `RawCall`.
    ///
    /// # Safety
    /// The callee has this signature, `args` point to its arguments' native images and
    /// `R` is its result's Rust type.
    #[inline(always)]
    pub(crate) unsafe fn typed<R: Copy, const MODE: u8>(&self, args: &[*const u8]) -> R {
        // Not zeroed: the call writes every byte of the result (as a runtime would not zero
        // it either).
        let mut ret = MaybeUninit::<R>::uninit();
        if MODE != NATIVE {
            // SAFETY: forwarded from the caller; `args` has one pointer per parameter.
            unsafe { self.raw.call(self.target, args.as_ptr(), ret.as_mut_ptr().cast()) }
        } else {
            // SAFETY: forwarded from the caller; `ret` has room for an `R`.
            unsafe { self.sig.call_native(self.target, args, ret.as_mut_ptr().cast()) }
                .expect("the typed call succeeds");
        }
        // SAFETY: the call wrote the result's image, an `R`.
        unsafe { read_result(ret.as_ptr()) }
    }

    /// jitcall's `Value` path.
    #[inline(always)]
    pub(crate) fn value(&self) -> Value {
        // SAFETY: `target` is the callee this signature was built for, and the values are
        // plain numbers and structs of numbers (nothing is dereferenced).
        unsafe { ffi::call(self.target, &self.sig, black_box(&self.values)) }
            .expect("the Value call succeeds")
    }
}

/// Reads a result the callee (or the thunk) wrote into memory: a multiple of 8 bytes one
/// 8-byte word at a time, as they were stored. (A copy by wider loads, which the compiler
/// would make, cannot forward from the callee's narrower stores and stalls for a dozen
/// cycles: a cost of the bench's copy, not of the call. A runtime reads the fields.)
///
/// # Safety
/// `src` points to an initialised `R`.
#[inline(always)]
pub(crate) unsafe fn read_result<R: Copy>(src: *const R) -> R {
    let size = std::mem::size_of::<R>();
    if size <= 8 || size % 8 != 0 || std::mem::align_of::<R>() < 8 {
        // SAFETY: the caller's promise.
        return unsafe { src.read() };
    }
    let mut out = MaybeUninit::<R>::uninit();
    for i in 0..size / 8 {
        // SAFETY: word `i` lies inside both `R`s (`size` is a multiple of 8, and both are
        // 8-aligned), and the source is initialised; `R: Copy`, so copying its bytes makes an `R`. Volatile,
        // so that the words are not merged into wider loads.
        unsafe {
            let word = src.cast::<u64>().add(i).read_volatile();
            out.as_mut_ptr().cast::<u64>().add(i).write(word);
        }
    }
    // SAFETY: every byte was copied from an `R`.
    unsafe { out.assume_init() }
}

/// Where libffi writes a result: an `ffi_arg` at least, and any struct here.
#[repr(C, align(16))]
struct RetSlot([u8; 32]);

/// libffi's `ffi_call`.
///
/// # Safety
/// `cif` describes `f`'s signature, `args` point to its arguments and `R` is its result's
/// Rust type (at most 32 bytes).
#[inline(always)]
pub(crate) unsafe fn libffi_call<R: Copy>(
    cif: &Cif,
    f: *const c_void,
    args: &mut [*mut c_void],
) -> R {
    const { assert!(std::mem::size_of::<R>() <= 32) };
    let mut ret = MaybeUninit::<RetSlot>::zeroed();
    // SAFETY: forwarded from the caller; the slot holds any result up to 32 bytes, and an
    // integral one as a whole `ffi_arg`.
    unsafe { libffi::ffi_call(cif.as_ptr(), f, ret.as_mut_ptr().cast(), args.as_mut_ptr()) };
    // SAFETY: libffi wrote the result at the start of the slot (a narrow integer in the
    // low bytes of its `ffi_arg`: these hosts are little-endian); 16-aligned.
    unsafe { read_result(ret.as_ptr().cast::<R>()) }
}

// ---------------------------------------------------------------------------------------

/// `int(int, int)`.
pub struct IntInt {
    a: i32,
    b: i32,
    f: IntIntFn,
    jit: Jit,
    tail: DirectCall<i32>,
    cif: Cif,
}

impl IntInt {
    pub fn new() -> IntInt {
        let (a, b) = (1234, -5678);
        let i32_ = || prim(Prim::I32);
        let jit = Jit::new(
            i32_(),
            vec![i32_(), i32_()],
            callees::add_i32 as *const c_void,
            vec![Value::Number(a.into()), Value::Number(b.into())],
        );
        IntInt {
            a,
            b,
            f: callees::add_i32,
            tail: jit.sig.direct_call().expect("a register-only signature"),
            jit,
            cif: Cif::new(&Desc::I32, &[Desc::I32, Desc::I32]),
        }
    }
}

impl Case for IntInt {
    const NAME: &'static str = "int_int";
    type Out = i32;
    const HAS_TAIL_PATH: bool = true;

    #[inline(always)]
    fn direct(&self) -> i32 {
        let f = black_box(self.f);
        f(black_box(self.a), black_box(self.b))
    }

    #[inline(always)]
    fn typed_as<const MODE: u8>(&self) -> i32 {
        let (a, b) = (black_box(self.a), black_box(self.b));
        let args = [arg(&a), arg(&b)];
        // SAFETY: `add_i32` is `int(int, int)`; the pointers are to two `i32`s.
        unsafe {
            if MODE == TAIL {
                return self.tail.call(self.jit.target, args.as_ptr());
            }
            self.jit.typed::<_, MODE>(&args)
        }
    }

    value_path_through_jit!();

    #[inline(always)]
    fn libffi(&self) -> i32 {
        let (a, b) = (black_box(self.a), black_box(self.b));
        // SAFETY: the cif is `int(int, int)`, `add_i32`'s signature.
        unsafe {
            libffi_call(&self.cif, self.f as *const c_void, &mut [ffi_arg_ptr(&a), ffi_arg_ptr(&b)])
        }
    }

    fn as_value(out: i32) -> Value {
        Value::Number(out.into())
    }
}

// ---------------------------------------------------------------------------------------

/// `double(double, int, double)`.
pub struct DoubleIntDouble {
    a: f64,
    b: i32,
    c: f64,
    jit: Jit,
    tail: DirectCall<f64>,
    cif: Cif,
}

impl DoubleIntDouble {
    pub fn new() -> DoubleIntDouble {
        let (a, b, c) = (1.5, -3, 0.25);
        let jit = Jit::new(
            prim(Prim::F64),
            vec![prim(Prim::F64), prim(Prim::I32), prim(Prim::F64)],
            callees::double_int_double as *const c_void,
            vec![Value::Number(a), Value::Number(b.into()), Value::Number(c)],
        );
        DoubleIntDouble {
            a,
            b,
            c,
            tail: jit.sig.direct_call().expect("a register-only signature"),
            jit,
            cif: Cif::new(&Desc::F64, &[Desc::F64, Desc::I32, Desc::F64]),
        }
    }
}

impl Case for DoubleIntDouble {
    const NAME: &'static str = "double_int_double";
    type Out = f64;
    const HAS_TAIL_PATH: bool = true;

    #[inline(always)]
    fn direct(&self) -> f64 {
        let f = black_box(callees::double_int_double as callees::DoubleIntDoubleFn);
        f(black_box(self.a), black_box(self.b), black_box(self.c))
    }

    #[inline(always)]
    fn typed_as<const MODE: u8>(&self) -> f64 {
        let (a, b, c) = (black_box(self.a), black_box(self.b), black_box(self.c));
        let args = [arg(&a), arg(&b), arg(&c)];
        // SAFETY: the callee is `double(double, int, double)`; the pointers match.
        unsafe {
            if MODE == TAIL {
                return self.tail.call(self.jit.target, args.as_ptr());
            }
            self.jit.typed::<_, MODE>(&args)
        }
    }

    value_path_through_jit!();

    #[inline(always)]
    fn libffi(&self) -> f64 {
        let (a, b, c) = (black_box(self.a), black_box(self.b), black_box(self.c));
        let f = callees::double_int_double as *const c_void;
        // SAFETY: the cif is the callee's signature; the pointers match it.
        unsafe {
            libffi_call(&self.cif, f, &mut [ffi_arg_ptr(&a), ffi_arg_ptr(&b), ffi_arg_ptr(&c)])
        }
    }

    fn as_value(out: f64) -> Value {
        Value::Number(out)
    }
}

// ---------------------------------------------------------------------------------------

/// `int64(int64 × 6)`: every argument register of System V's integer class.
pub struct Int64x6 {
    args: [i64; 6],
    jit: Jit,
    tail: DirectCall<i64>,
    cif: Cif,
}

impl Int64x6 {
    pub fn new() -> Int64x6 {
        let args = [1 << 40, -3, 5_000_000_000, -(1 << 33), 77, i64::from(i32::MIN) - 9];
        let jit = Jit::new(
            prim(Prim::I64),
            vec![prim(Prim::I64); 6],
            callees::int64x6 as *const c_void,
            args.iter().map(|&a| Value::Int(a)).collect(),
        );
        Int64x6 {
            args,
            tail: jit.sig.direct_call().expect("a register-only signature"),
            jit,
            cif: Cif::new(
                &Desc::I64,
                &[Desc::I64, Desc::I64, Desc::I64, Desc::I64, Desc::I64, Desc::I64],
            ),
        }
    }
}

impl Case for Int64x6 {
    const NAME: &'static str = "int64x6";
    type Out = i64;
    const HAS_TAIL_PATH: bool = true;

    #[inline(always)]
    fn direct(&self) -> i64 {
        let f = black_box(callees::int64x6 as callees::Int64x6Fn);
        let [a, b, c, d, e, g] = black_box(self.args);
        f(a, b, c, d, e, g)
    }

    #[inline(always)]
    fn typed_as<const MODE: u8>(&self) -> i64 {
        let x = black_box(self.args);
        let args = [arg(&x[0]), arg(&x[1]), arg(&x[2]), arg(&x[3]), arg(&x[4]), arg(&x[5])];
        // SAFETY: the callee is `int64(int64 × 6)`; the pointers are to six `i64`s.
        unsafe {
            if MODE == TAIL {
                return self.tail.call(self.jit.target, args.as_ptr());
            }
            self.jit.typed::<_, MODE>(&args)
        }
    }

    value_path_through_jit!();

    #[inline(always)]
    fn libffi(&self) -> i64 {
        let x = black_box(self.args);
        let mut args = x.each_ref().map(ffi_arg_ptr);
        // SAFETY: the cif is the callee's signature; the pointers are to six `i64`s.
        unsafe { libffi_call(&self.cif, callees::int64x6 as *const c_void, &mut args) }
    }

    fn as_value(out: i64) -> Value {
        Value::Int(out)
    }
}

// ---------------------------------------------------------------------------------------

/// The ten mixed arguments of [`callees::mixed10`].
#[derive(Clone, Copy)]
struct Mixed10Args {
    a: i32,
    b: f64,
    c: i64,
    d: i8,
    e: u16,
    f: f32,
    g: i64,
    h: i32,
    i: u64,
    j: i16,
}

/// `double(int, double, int64, int8, uint16, float, int64, int, uint64, int16)`: eight
/// integer arguments, so on System V the last two go on the stack.
pub struct Mixed10 {
    args: Mixed10Args,
    jit: Jit,
    cif: Cif,
}

/// The parameter types of [`callees::mixed10`] for jitcall.
pub fn mixed10_params() -> Vec<Type> {
    use Prim::*;
    [I32, F64, I64, I8, U16, F32, I64, I32, U64, I16].into_iter().map(Type::Prim).collect()
}

impl Mixed10 {
    pub fn new() -> Mixed10 {
        let args = Mixed10Args {
            a: -3,
            b: 1.5,
            c: -(1 << 40),
            d: -7,
            e: 60_000,
            f: 0.25,
            g: 123_456_789,
            h: -42,
            i: 1 << 41,
            j: -300,
        };
        let values = vec![
            Value::Number(args.a.into()),
            Value::Number(args.b),
            Value::Int(args.c),
            Value::Number(args.d.into()),
            Value::Number(args.e.into()),
            Value::Number(args.f.into()),
            Value::Int(args.g),
            Value::Number(args.h.into()),
            Value::UInt(args.i),
            Value::Number(args.j.into()),
        ];
        use Desc::*;
        Mixed10 {
            args,
            jit: Jit::new(
                prim(Prim::F64),
                mixed10_params(),
                callees::mixed10 as *const c_void,
                values,
            ),
            cif: Cif::new(&F64, &[I32, F64, I64, I8, U16, F32, I64, I32, U64, I16]),
        }
    }
}

impl Case for Mixed10 {
    const NAME: &'static str = "mixed10";
    type Out = f64;

    #[inline(always)]
    fn direct(&self) -> f64 {
        let f = black_box(callees::mixed10 as callees::Mixed10Fn);
        let x = black_box(self.args);
        f(x.a, x.b, x.c, x.d, x.e, x.f, x.g, x.h, x.i, x.j)
    }

    #[inline(always)]
    fn typed_as<const MODE: u8>(&self) -> f64 {
        let x = black_box(self.args);
        let args = [
            arg(&x.a),
            arg(&x.b),
            arg(&x.c),
            arg(&x.d),
            arg(&x.e),
            arg(&x.f),
            arg(&x.g),
            arg(&x.h),
            arg(&x.i),
            arg(&x.j),
        ];
        // SAFETY: the pointers are to the callee's ten arguments, in order.
        unsafe { self.jit.typed::<_, MODE>(&args) }
    }

    value_path_through_jit!();

    #[inline(always)]
    fn libffi(&self) -> f64 {
        let x = black_box(self.args);
        let mut args = [
            ffi_arg_ptr(&x.a),
            ffi_arg_ptr(&x.b),
            ffi_arg_ptr(&x.c),
            ffi_arg_ptr(&x.d),
            ffi_arg_ptr(&x.e),
            ffi_arg_ptr(&x.f),
            ffi_arg_ptr(&x.g),
            ffi_arg_ptr(&x.h),
            ffi_arg_ptr(&x.i),
            ffi_arg_ptr(&x.j),
        ];
        // SAFETY: the cif is the callee's signature; the pointers match it.
        unsafe { libffi_call(&self.cif, callees::mixed10 as *const c_void, &mut args) }
    }

    fn as_value(out: f64) -> Value {
        Value::Number(out)
    }
}

// ---------------------------------------------------------------------------------------

/// `struct{double,double}(struct{double,double}, struct{double,double})`: structs in
/// SSE register pairs, in and out.
pub struct DdDdDd {
    p: Dd,
    q: Dd,
    jit: Jit,
    tail: DirectCall<Dd>,
    cif: Cif,
}

impl DdDdDd {
    pub fn new() -> DdDdDd {
        let (p, q) = (Dd { x: 1.5, y: -2.25 }, Dd { x: 0.125, y: 8.0 });
        let jit = Jit::new(
            dd_type(),
            vec![dd_type(), dd_type()],
            callees::add_dd as *const c_void,
            vec![dd_value(p), dd_value(q)],
        );
        DdDdDd {
            p,
            q,
            tail: jit.sig.direct_call().expect("two SSE registers each way"),
            jit,
            cif: Cif::new(&dd_desc(), &[dd_desc(), dd_desc()]),
        }
    }
}

impl Case for DdDdDd {
    const NAME: &'static str = "dd_dd_dd";
    const HAS_TAIL_PATH: bool = true;
    type Out = Dd;

    #[inline(always)]
    fn direct(&self) -> Dd {
        let f = black_box(callees::add_dd as callees::DdFn);
        f(black_box(self.p), black_box(self.q))
    }

    #[inline(always)]
    fn typed_as<const MODE: u8>(&self) -> Dd {
        let (p, q) = (black_box(self.p), black_box(self.q));
        let args = [arg(&p), arg(&q)];
        // SAFETY: the callee takes and returns `struct{double,double}`, which `Dd` is.
        unsafe {
            if MODE == TAIL {
                return self.tail.call(self.jit.target, args.as_ptr());
            }
            self.jit.typed::<_, MODE>(&args)
        }
    }

    value_path_through_jit!();

    #[inline(always)]
    fn libffi(&self) -> Dd {
        let (p, q) = (black_box(self.p), black_box(self.q));
        // SAFETY: the cif is the callee's signature; the pointers are to two `Dd`s.
        unsafe {
            libffi_call(
                &self.cif,
                callees::add_dd as *const c_void,
                &mut [ffi_arg_ptr(&p), ffi_arg_ptr(&q)],
            )
        }
    }

    fn as_value(out: Dd) -> Value {
        dd_value(out)
    }
}

// ---------------------------------------------------------------------------------------

/// `struct{int64,int64,int64}(int64, int64, int64)`: a 24-byte result, returned through
/// a hidden pointer.
pub struct BigRet {
    args: [i64; 3],
    jit: Jit,
    cif: Cif,
}

impl BigRet {
    pub fn new() -> BigRet {
        let args = [1 << 35, -17, 40_000];
        let i64_ = || prim(Prim::I64);
        BigRet {
            args,
            jit: Jit::new(
                structure(&[i64_(), i64_(), i64_()]),
                vec![i64_(), i64_(), i64_()],
                callees::big_ret as *const c_void,
                args.iter().map(|&a| Value::Int(a)).collect(),
            ),
            cif: Cif::new(&Desc::Struct(vec![Desc::I64; 3]), &[Desc::I64, Desc::I64, Desc::I64]),
        }
    }
}

impl Case for BigRet {
    const NAME: &'static str = "big_ret";
    type Out = Big;

    #[inline(always)]
    fn direct(&self) -> Big {
        let f = black_box(callees::big_ret as callees::BigFn);
        let [a, b, c] = black_box(self.args);
        f(a, b, c)
    }

    #[inline(always)]
    fn typed_as<const MODE: u8>(&self) -> Big {
        let x = black_box(self.args);
        // SAFETY: the callee is `Big(int64, int64, int64)`, and `Big` is its C layout.
        unsafe { self.jit.typed::<_, MODE>(&[arg(&x[0]), arg(&x[1]), arg(&x[2])]) }
    }

    value_path_through_jit!();

    #[inline(always)]
    fn libffi(&self) -> Big {
        let x = black_box(self.args);
        let mut args = x.each_ref().map(ffi_arg_ptr);
        // SAFETY: the cif is the callee's signature; the pointers are to three `i64`s.
        unsafe { libffi_call(&self.cif, callees::big_ret as *const c_void, &mut args) }
    }

    fn as_value(out: Big) -> Value {
        Value::Tuple(vec![Value::Int(out.a), Value::Int(out.b), Value::Int(out.c)])
    }
}

// ---------------------------------------------------------------------------------------

/// The callback round trip: [`callees::call_it`] (the "C caller") calls a function
/// pointer that adds two ints: a plain `extern "C"` function (direct), a jitcall native
/// callback over argument images (typed), a jitcall callback over `Value`s (value), or a
/// libffi closure (libffi).
pub struct CallbackRoundTrip {
    a: i32,
    b: i32,
    native_fn: IntIntFn,
    value_fn: IntIntFn,
    ffi_fn: IntIntFn,
    // Dropped after the pointers above are last used (they are plain copies); none for
    // permanent callbacks.
    _native: Option<Callback>,
    _value: Option<Callback>,
    _closure: Closure,
}

/// [`CallbackRoundTrip`] with permanent jitcall callbacks (`Callback::new_native_permanent`
/// and `Callback::new_permanent`: never freed, their calls not counted).
pub struct PermanentCallbackRoundTrip(CallbackRoundTrip);

impl PermanentCallbackRoundTrip {
    pub fn new() -> PermanentCallbackRoundTrip {
        let i32_ = || prim(Prim::I32);
        let sig = || jitcall::Signature::new(host(), i32_(), vec![i32_(), i32_()]);
        let native = Callback::new_native_permanent(sig(), |args, ret| {
            // SAFETY: as in `new_native_callback`.
            unsafe {
                let (a, b) = (args[0].cast::<i32>().read(), args[1].cast::<i32>().read());
                ret.cast::<i32>().write_unaligned(a.wrapping_add(b));
            }
            Ok(())
        })
        .expect("the callback is created");
        let value = Callback::new_permanent(sig(), |args| match args {
            [Value::Number(a), Value::Number(b)] => {
                Ok(Value::Number((*a as i32).wrapping_add(*b as i32).into()))
            }
            _ => Err(jitcall::Error::Callback("add: expected two numbers".into())),
        })
        .expect("the callback is created");
        let mut case = CallbackRoundTrip::new();
        // SAFETY: both are permanent `int(int, int)` callbacks in the host's C convention.
        unsafe {
            case.native_fn = std::mem::transmute::<*mut c_void, IntIntFn>(native.as_ptr());
            case.value_fn = std::mem::transmute::<*mut c_void, IntIntFn>(value.as_ptr());
        }
        PermanentCallbackRoundTrip(case)
    }
}

impl Default for PermanentCallbackRoundTrip {
    fn default() -> Self {
        Self::new()
    }
}

impl Case for PermanentCallbackRoundTrip {
    const NAME: &'static str = "callback_permanent";
    const HAS_RAW_PATH: bool = false;
    type Out = i32;

    #[inline(always)]
    fn direct(&self) -> i32 {
        self.0.direct()
    }

    #[inline(always)]
    fn typed_as<const MODE: u8>(&self) -> i32 {
        self.0.typed()
    }

    #[inline(always)]
    fn value(&self) -> Value {
        self.0.value()
    }

    #[inline(always)]
    fn libffi(&self) -> i32 {
        self.0.libffi()
    }

    fn as_value(out: i32) -> Value {
        CallbackRoundTrip::as_value(out)
    }
}

/// A jitcall native callback `int(int, int)` that adds the two ints its pointers point to.
pub fn new_native_callback() -> Callback {
    let i32_ = || prim(Prim::I32);
    ffi::callback_native(host(), i32_(), vec![i32_(), i32_()], |args, ret| {
        // SAFETY: jitcall passes pointers to the two `int` arguments and room for the
        // `int` result.
        unsafe {
            let (a, b) = (args[0].cast::<i32>().read(), args[1].cast::<i32>().read());
            ret.cast::<i32>().write_unaligned(a.wrapping_add(b));
        }
        Ok(())
    })
    .expect("the callback is created")
}

/// A jitcall callback `int(int, int)` whose closure adds its two arguments.
pub fn new_jit_callback() -> Callback {
    let i32_ = || prim(Prim::I32);
    ffi::callback(host(), i32_(), vec![i32_(), i32_()], |args| match args {
        [Value::Number(a), Value::Number(b)] => {
            Ok(Value::Number((*a as i32).wrapping_add(*b as i32).into()))
        }
        _ => Err(jitcall::Error::Callback("add: expected two numbers".into())),
    })
    .expect("the callback is created")
}

/// The cif of `int(int, int)`, shared by the libffi closures.
pub fn int_int_cif() -> Rc<Cif> {
    Rc::new(Cif::new(&Desc::I32, &[Desc::I32, Desc::I32]))
}

/// The libffi closure's handler: adds its two `int` arguments.
///
/// # Safety
/// Called by libffi for a closure prepared with [`int_int_cif`].
pub unsafe extern "C" fn libffi_add(
    _cif: *mut ffi_cif,
    ret: *mut c_void,
    args: *mut *mut c_void,
    _user_data: *mut c_void,
) {
    // SAFETY: libffi passes pointers to the two `int` arguments and an `ffi_arg`-sized
    // result slot, which takes integral results widened to a whole `ffi_arg`.
    unsafe {
        let a = (*args).cast::<i32>().read();
        let b = (*args.add(1)).cast::<i32>().read();
        ret.cast::<ffi_arg>().write(i64::from(a.wrapping_add(b)) as ffi_arg);
    }
}

/// A libffi closure `int(int, int)` that adds its two arguments.
pub fn new_libffi_closure(cif: &Rc<Cif>) -> Closure {
    Closure::new(cif.clone(), libffi_add)
}

/// Checks what the `callback_new` row times: a native callback, a callback over values
/// and a libffi closure, each made, called by the "C caller" and dropped, add their
/// arguments.
pub fn check_callback_making() -> Result<(), String> {
    let (a, b) = (31_337, -4_242);
    let want = callees::add_i32(a, b);
    let round_trip = |code: *const c_void| {
        // SAFETY: `code` is a live `int(int, int)` callback or closure in the host's C
        // convention (made just before this call and dropped after it).
        let f = unsafe { std::mem::transmute::<*const c_void, IntIntFn>(code) };
        callees::call_it(f, a, b)
    };
    let native = new_native_callback();
    let value = new_jit_callback();
    let closure = new_libffi_closure(&int_int_cif());
    let got = [
        ("native callback", round_trip(native.code_ptr().as_ptr())),
        ("value callback", round_trip(value.code_ptr().as_ptr())),
        ("libffi closure", round_trip(closure.code())),
    ];
    for (name, got) in got {
        if got != want {
            return Err(format!("callback_new: a fresh {name} returned {got}, want {want}"));
        }
    }
    Ok(())
}

impl CallbackRoundTrip {
    pub fn new() -> CallbackRoundTrip {
        let (native, value) = (new_native_callback(), new_jit_callback());
        // SAFETY: both callbacks' code is a C function `int(int, int)` in the host's C
        // convention, valid while the callbacks live, which is as long as this value.
        let (native_fn, value_fn) = unsafe {
            (
                std::mem::transmute::<*mut c_void, IntIntFn>(native.code_ptr().as_ptr()),
                std::mem::transmute::<*mut c_void, IntIntFn>(value.code_ptr().as_ptr()),
            )
        };
        let closure = new_libffi_closure(&int_int_cif());
        // SAFETY: the closure's code is a C function `int(int, int)` (its cif), valid
        // while `closure` lives, which is as long as this value.
        let ffi_fn = unsafe { std::mem::transmute::<*const c_void, IntIntFn>(closure.code()) };
        CallbackRoundTrip {
            a: 31_337,
            b: -4_242,
            native_fn,
            value_fn,
            ffi_fn,
            _native: Some(native),
            _value: Some(value),
            _closure: closure,
        }
    }

    #[inline(always)]
    fn round_trip(&self, f: IntIntFn) -> i32 {
        let call = black_box(callees::call_it as CallItFn);
        call(black_box(f), black_box(self.a), black_box(self.b))
    }
}

impl Case for CallbackRoundTrip {
    const NAME: &'static str = "callback";
    const HAS_RAW_PATH: bool = false;
    type Out = i32;

    #[inline(always)]
    fn direct(&self) -> i32 {
        self.round_trip(callees::add_i32)
    }

    #[inline(always)]
    fn typed_as<const MODE: u8>(&self) -> i32 {
        self.round_trip(self.native_fn)
    }

    #[inline(always)]
    fn value(&self) -> Value {
        Value::Number(self.round_trip(self.value_fn).into())
    }

    #[inline(always)]
    fn libffi(&self) -> i32 {
        self.round_trip(self.ffi_fn)
    }

    fn as_value(out: i32) -> Value {
        Value::Number(out.into())
    }
}
