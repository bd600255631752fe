//! The functions every path calls: plain `extern "C"` Rust functions, never inlined, so a
//! direct call, jitcall's two paths and libffi all run the same code.

/// `struct { double, double }`: returned in two SSE registers on System V.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dd {
    pub x: f64,
    pub y: f64,
}

// SAFETY: accepts exactly `struct { double, double }`, which `Dd` is.
unsafe impl jitcall::DirectResult for Dd {
    fn accepts(ty: &jitcall::Type) -> bool {
        let double = || jitcall::Member::Field(jitcall::Type::Prim(jitcall::Prim::F64));
        jitcall::Type::structure(&[double(), double()]).is_ok_and(|dd| *ty == dd)
    }
}

/// A 24-byte struct: returned through a hidden pointer on System V and AAPCS64.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Big {
    pub a: i64,
    pub b: i64,
    pub c: i64,
}

pub type IntIntFn = extern "C" fn(i32, i32) -> i32;
pub type DoubleIntDoubleFn = extern "C" fn(f64, i32, f64) -> f64;
pub type Int64x6Fn = extern "C" fn(i64, i64, i64, i64, i64, i64) -> i64;
pub type Mixed10Fn = extern "C" fn(i32, f64, i64, i8, u16, f32, i64, i32, u64, i16) -> f64;
pub type DdFn = extern "C" fn(Dd, Dd) -> Dd;
pub type BigFn = extern "C" fn(i64, i64, i64) -> Big;
pub type CallItFn = extern "C" fn(IntIntFn, i32, i32) -> i32;

#[inline(never)]
pub extern "C" fn add_i32(a: i32, b: i32) -> i32 {
    a.wrapping_add(b)
}

#[inline(never)]
pub extern "C" fn double_int_double(a: f64, b: i32, c: f64) -> f64 {
    a * f64::from(b) + c
}

#[inline(never)]
pub extern "C" fn int64x6(a: i64, b: i64, c: i64, d: i64, e: i64, f: i64) -> i64 {
    // Weighted, so that swapped arguments give another result.
    a.wrapping_add(b.wrapping_mul(2))
        .wrapping_add(c.wrapping_mul(3))
        .wrapping_add(d.wrapping_mul(4))
        .wrapping_add(e.wrapping_mul(5))
        .wrapping_add(f.wrapping_mul(6))
}

/// Ten arguments, eight of them integers: on System V the last two integers (`i`, `j`)
/// spill to the stack.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
pub extern "C" fn mixed10(
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
) -> f64 {
    f64::from(a)
        + 2.0 * b
        + 3.0 * c as f64
        + 4.0 * f64::from(d)
        + 5.0 * f64::from(e)
        + 6.0 * f64::from(f)
        + 7.0 * g as f64
        + 8.0 * f64::from(h)
        + 9.0 * i as f64
        + 10.0 * f64::from(j)
}

#[inline(never)]
pub extern "C" fn add_dd(p: Dd, q: Dd) -> Dd {
    Dd { x: p.x + q.x, y: p.y - q.y }
}

#[inline(never)]
pub extern "C" fn big_ret(a: i64, b: i64, c: i64) -> Big {
    Big { a: a.wrapping_add(b), b: b.wrapping_sub(c), c: c.wrapping_mul(a) }
}

/// The "C caller" of the callback round trip: calls the function it is given.
#[inline(never)]
pub extern "C" fn call_it(f: IntIntFn, a: i32, b: i32) -> i32 {
    f(a, b)
}
