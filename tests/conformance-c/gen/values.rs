//! Values whose every byte is distinctive, written both as Janet text (what the test hands
//! to jitcall) and as C literals (what the callee compares against).
//!
//! Why they look as they do: an integer's bytes all differ and are derived from (argument
//! index, byte offset in the argument), so a byte that lands in the wrong place, a
//! truncated value or a wrong extension cannot go unnoticed; signed types are mostly
//! negative; 64-bit values use all 64 bits (past 2^53, where a double would round them);
//! floats are exact binary fractions (`k + j/8` scaled by a power of two) that differ per
//! field, and doubles use more mantissa bits than a float has, so a double narrowed to a
//! float on the way shows.

use crate::gen::model::{Prim, Ty};
use crate::gen::rng::Rng;

/// The argument index used for a function's result, so it differs from every argument.
pub const RESULT_INDEX: usize = 99;

pub enum Val {
    Bool(bool),
    /// Any integer type, held wide enough for both `i64` and `u64`.
    Int(Prim, i128),
    Float(Prim, f64),
    /// A `:ptr` / `:pointer` address; 0 is NULL.
    Ptr(u64),
    Struct(Vec<Val>),
    Array(Vec<Val>),
}

/// A byte that encodes (argument, byte offset): never 0, and different for offsets up to
/// 254 apart within one argument because 11 is coprime to 255.
fn byte_code(arg: usize, pos: usize, salt: u32) -> u8 {
    ((arg as u32 * 0x35 + pos as u32 * 0x0b + salt) % 255 + 1) as u8
}

/// Builds the values of one argument (or the result) of type `ty`.
pub struct ValueGen<'a> {
    pub rng: &'a mut Rng,
    pub arg: usize,
    pub salt: u32,
    leaf: usize,
}

impl<'a> ValueGen<'a> {
    pub fn new(rng: &'a mut Rng, arg: usize) -> ValueGen<'a> {
        let salt = rng.below(255) as u32;
        ValueGen { rng, arg, salt, leaf: 0 }
    }

    pub fn value(&mut self, ty: &Ty, offset: usize) -> Val {
        match ty {
            Ty::Prim(p, _) => self.leaf(*p, offset),
            Ty::Struct(s) => {
                Val::Struct(s.fields.iter().map(|f| self.value(&f.ty, offset + f.offset)).collect())
            }
            Ty::Array(elem, n) => {
                Val::Array((0..*n).map(|i| self.value(elem, offset + i * elem.size())).collect())
            }
        }
    }

    fn leaf(&mut self, p: Prim, offset: usize) -> Val {
        self.leaf += 1;
        match p {
            Prim::Bool => Val::Bool(self.rng.chance(50)),
            Prim::F32 => {
                // (8m + j) / 8 scaled by 2^e: under 2^17 before scaling, exact in a float.
                let m = 1 + (self.arg * 131 + self.leaf * 17 + self.salt as usize) % 2000;
                let j = 1 + 2 * self.rng.below(4);
                let e = self.rng.range(0, 6) as i32 - 3;
                let v = (m * 8 + j) as f64 * 2f64.powi(e - 3);
                Val::Float(p, if self.rng.chance(40) { -v } else { v })
            }
            Prim::F64 => {
                // About 35 significant bits: exact in a double, not in a float.
                let m = 1 + (self.arg * 131 + self.leaf * 17 + self.salt as usize) % 2000;
                let r = (self.rng.next_u64() & 0xff_ffff) | 1;
                let e = self.rng.range(0, 8) as i32 - 4;
                let v = ((m as u64) << 24 | r) as f64 * 2f64.powi(e - 24);
                Val::Float(p, if self.rng.chance(40) { -v } else { v })
            }
            Prim::Ptr if self.rng.chance(10) => Val::Ptr(0),
            Prim::Ptr => Val::Ptr(self.bits(8, offset)),
            _ => {
                let n = p.size();
                let mut bits = self.bits(n, offset);
                let top = 1u64 << (8 * n - 1);
                // Signed types are mostly negative; unsigned ones often have the top bit
                // set too, so that a sign extension where none belongs shows.
                let negative = self.rng.chance(if p.is_signed() { 80 } else { 50 });
                bits = if negative { bits | top } else { bits & !top };
                let v = if p.is_signed() {
                    let shift = 64 - 8 * n;
                    (((bits << shift) as i64) >> shift) as i128
                } else {
                    bits as i128
                };
                Val::Int(p, v)
            }
        }
    }

    fn bits(&self, n: usize, offset: usize) -> u64 {
        (0..n).fold(0, |acc, k| {
            acc | u64::from(byte_code(self.arg, offset + k, self.salt)) << (8 * k)
        })
    }
}

/// A float as text that reads back exactly, always with a decimal point (C needs one
/// before an `f` suffix).
fn float_text(v: f64) -> String {
    let s = format!("{v}");
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

impl Val {
    /// Janet text. Struct arguments are tuples `[...]`, results `(...)` (both read as
    /// tuples); arrays are `@[...]`. A non-NULL pointer is `(ptr 0x...)`, which Janet
    /// syntax cannot express as a pointer, so the test turns it into one.
    pub fn janet(&self, result: bool) -> String {
        match self {
            Val::Bool(b) => b.to_string(),
            Val::Int(_, v) => v.to_string(),
            Val::Float(_, v) => float_text(*v),
            Val::Ptr(0) => "nil".into(),
            Val::Ptr(a) => format!("(ptr {a:#x})"),
            Val::Struct(items) => {
                let inner: Vec<_> = items.iter().map(|v| v.janet(result)).collect();
                if result {
                    format!("({})", inner.join(" "))
                } else {
                    format!("[{}]", inner.join(" "))
                }
            }
            Val::Array(items) => {
                let inner: Vec<_> = items.iter().map(|v| v.janet(result)).collect();
                format!("@[{}]", inner.join(" "))
            }
        }
    }

    /// A C expression of this value; aggregates as brace initialisers.
    pub fn c(&self) -> String {
        match self {
            Val::Bool(b) => b.to_string(),
            Val::Int(p, v) => match p {
                Prim::I64 => format!("INT64_C({v})"),
                Prim::SSize => format!("(ptrdiff_t)INT64_C({v})"),
                Prim::U32 => format!("{v}u"),
                Prim::U64 => format!("UINT64_C({v})"),
                Prim::Size => format!("(size_t)UINT64_C({v})"),
                _ => v.to_string(),
            },
            Val::Float(Prim::F32, v) => format!("{}f", float_text(*v)),
            Val::Float(_, v) => float_text(*v),
            Val::Ptr(0) => "(void *)0".into(),
            Val::Ptr(a) => format!("(void *)(uintptr_t)UINT64_C({a:#x})"),
            Val::Struct(items) | Val::Array(items) => {
                let inner: Vec<_> = items.iter().map(Val::c).collect();
                format!("{{{}}}", inner.join(", "))
            }
        }
    }

    /// One `(lvalue, literal)` pair per leaf, `lvalue` built from `path` (`a3.f1[2]`).
    pub fn leaf_checks(&self, path: &str, out: &mut Vec<(String, String)>) {
        match self {
            Val::Struct(items) => {
                for (i, v) in items.iter().enumerate() {
                    v.leaf_checks(&format!("{path}.f{i}"), out);
                }
            }
            Val::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    v.leaf_checks(&format!("{path}[{i}]"), out);
                }
            }
            leaf => out.push((path.to_string(), leaf.c())),
        }
    }
}
