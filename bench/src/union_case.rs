//! The union case: `union { int64_t i; double d; } union_mix(union, int32_t)`, a union
//! argument and result (one INTEGER eightbyte on System V, one x-register on AAPCS64: its
//! members are not all floats). libffi has no union type; its cif describes the union as
//! `struct { int64_t }`, which every convention here places the same way.

use std::ffi::c_void;
use std::hint::black_box;

use jitcall::{ffi, DirectCall, Member, Pointer, Prim, Type, Value};

use crate::cases::{arg, libffi_call, Case, Jit, TAIL};
use crate::libffi::{Cif, Desc};

/// The union, seen as its bits (`Case::Out`) by every path.
#[repr(C)]
#[derive(Clone, Copy)]
pub union IntOrDouble {
    pub i: i64,
    pub d: f64,
}

#[inline(never)]
pub extern "C" fn union_mix(u: IntOrDouble, k: i32) -> IntOrDouble {
    // SAFETY: every bit pattern is an i64.
    let bits = unsafe { u.i };
    IntOrDouble { i: (bits ^ i64::from(k)).rotate_left(7) }
}

pub type UnionFn = extern "C" fn(IntOrDouble, i32) -> IntOrDouble;

// SAFETY: accepts exactly `union { int64_t; double }`, which `IntOrDouble` is.
unsafe impl jitcall::DirectResult for IntOrDouble {
    fn accepts(ty: &Type) -> bool {
        *ty == union_type()
    }
}

fn union_type() -> Type {
    let members = [Member::Field(Type::Prim(Prim::I64)), Member::Field(Type::Prim(Prim::F64))];
    Type::union(&members).expect("a valid union")
}

/// `union_mix` called four ways.
pub struct UnionMix {
    u: IntOrDouble,
    k: i32,
    f: UnionFn,
    jit: Jit,
    tail: DirectCall<IntOrDouble>,
    cif: Cif,
}

impl UnionMix {
    pub fn new() -> UnionMix {
        let (u, k) = (IntOrDouble { d: std::f64::consts::PI }, 3);
        let bits = Value::Int(std::f64::consts::PI.to_bits() as i64);
        // The union's value: member 0 (the int64) set to the bits.
        let u_value = Value::Tuple(vec![Value::Number(0.0), bits]);
        let jit = Jit::new(
            union_type(),
            vec![union_type(), Type::Prim(Prim::I32)],
            union_mix as *const c_void,
            vec![u_value, Value::Number(k.into())],
        );
        UnionMix {
            u,
            k,
            f: union_mix,
            tail: jit.sig.direct_call().expect("one register each way"),
            jit,
            cif: Cif::new(
                &Desc::Struct(vec![Desc::I64]),
                &[Desc::Struct(vec![Desc::I64]), Desc::I32],
            ),
        }
    }
}

impl Default for UnionMix {
    fn default() -> Self {
        Self::new()
    }
}

impl Case for UnionMix {
    const NAME: &'static str = "union";
    const HAS_TAIL_PATH: bool = true;
    type Out = u64;

    #[inline(always)]
    fn direct(&self) -> u64 {
        let f = black_box(self.f);
        let r = f(black_box(self.u), black_box(self.k));
        // SAFETY: every bit pattern is a u64.
        unsafe { std::mem::transmute::<IntOrDouble, u64>(r) }
    }

    #[inline(always)]
    fn typed_as<const MODE: u8>(&self) -> u64 {
        let (u, k) = (black_box(self.u), black_box(self.k));
        let args = [arg(&u), arg(&k)];
        // SAFETY: `union_mix` takes the 8-byte union and an i32 and returns the union,
        // whose image a u64 holds.
        unsafe {
            if MODE == TAIL {
                let r = self.tail.call(self.jit.target, args.as_ptr());
                return std::mem::transmute::<IntOrDouble, u64>(r);
            }
            self.jit.typed::<u64, MODE>(&args)
        }
    }

    #[inline(always)]
    fn value(&self) -> Value {
        self.jit.value()
    }

    #[inline(always)]
    fn libffi(&self) -> u64 {
        let (mut u, mut k) = (black_box(self.u), black_box(self.k));
        let args = &mut [(&mut u as *mut IntOrDouble).cast(), (&mut k as *mut i32).cast()];
        // SAFETY: the cif places `struct { int64_t }` as the union, and `union_mix`
        // returns one of those (read as a u64).
        unsafe { libffi_call(&self.cif, self.f as *const c_void, args) }
    }

    fn as_value(out: u64) -> Value {
        let bytes = out.to_le_bytes();
        // SAFETY: 8 readable bytes, the union's image (no pointer in it).
        unsafe { ffi::read_ptr(&union_type(), Pointer::from_ptr(bytes.as_ptr()), 0) }
            .expect("a union of numbers reads")
    }
}
