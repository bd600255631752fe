//! Cases with unions (`[:union M1 M2 ...]`), as arguments (in registers and on the stack),
//! results and struct fields, with structs inside unions and unions inside structs.
//!
//! The kinds of union are the ones the conventions classify differently: only floats
//! (an HFA on AArch64 when the members share one float type, SSE on System V), ints and
//! floats mixed (System V merges the classes of *every* member overlapping an eightbyte:
//! INTEGER wins), with a `long double` member (MEMORY on System V), with arrays (odd
//! sizes: Win64 passes only sizes 1, 2, 4 and 8 in registers), packed (alignment 1, and
//! misaligned inside a struct). On AArch64 the members are plain scalars only (the wide
//! types are a separate port there).
//!
//! Types, values and C come from `gen/wide.rs`: a union value is `[I V]` (member I set,
//! every other byte zero) or a string of exactly its size; the C callees build the
//! expected object byte by byte and `memcmp` every union in full.

use std::rc::Rc;

use crate::gen::model::Prim;
use crate::gen::rng::Rng;
use crate::gen::wide::{Gen, StructTy, Ty, WideDef, PRIMS, W};

/// The callee cases' seed, and the callback cases' one.
pub const SEED: u64 = 0x756e_696f_6e5f_6361;
pub const CALLBACK_SEED: u64 = 0x756e_696f_6e5f_6362;
/// Cases per convention, each direction.
pub const CASES_PER_CONVENTION: usize = 300;
const MAX_ARGS: usize = 14;

const INTS: [Prim; 9] = [
    Prim::Bool,
    Prim::I8,
    Prim::U8,
    Prim::I16,
    Prim::U16,
    Prim::I32,
    Prim::U32,
    Prim::I64,
    Prim::Ptr,
];

struct UnionGen {
    gen: Gen,
    /// Whether wide scalars (`long double`, `__int128`, complex) may appear.
    wide: bool,
}

impl UnionGen {
    fn below(&mut self, n: usize) -> usize {
        self.gen.rng.below(n)
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.gen.rng.chance(percent)
    }

    fn union(&mut self, members: Vec<Ty>) -> Ty {
        let packed = self.chance(15);
        Ty::Struct(Rc::new(StructTy::with(members, true, packed)))
    }

    fn structure(&mut self, fields: Vec<Ty>) -> Ty {
        let packed = self.chance(10);
        Ty::Struct(Rc::new(StructTy::with(fields, false, packed)))
    }

    /// A scalar or a short array of it.
    fn maybe_array(&mut self, t: Ty) -> Ty {
        if self.chance(25) {
            Ty::Array(Rc::new(t), 1 + self.below(4))
        } else {
            t
        }
    }

    /// Floats only: mostly of one float type (an HFA on AArch64), as scalars, arrays and
    /// structs of up to four.
    fn float_union(&mut self) -> Ty {
        let base = self.gen.pick(&[Prim::F32, Prim::F64]);
        let n = 1 + self.below(3);
        let members = (0..n)
            .map(|_| {
                let p = if self.chance(85) { base } else { self.gen.pick(&[Prim::F32, Prim::F64]) };
                match self.below(4) {
                    0 => Ty::Array(Rc::new(Ty::Prim(p)), 1 + self.below(4)),
                    1 => {
                        let k = 1 + self.below(4);
                        self.structure(vec![Ty::Prim(p); k])
                    }
                    _ => Ty::Prim(p),
                }
            })
            .collect();
        self.union(members)
    }

    /// A member of a mixed union: ints and floats, sometimes a 128-bit integer or a
    /// complex number, sometimes a small struct (or, at the top, a union).
    fn mixed_member(&mut self, depth: usize) -> Ty {
        match self.below(10) {
            0 if depth == 0 => {
                let n = 1 + self.below(3);
                let fields = (0..n).map(|_| self.mixed_member(depth + 1)).collect();
                self.structure(fields)
            }
            1 if depth == 0 => self.mixed_union(depth + 1),
            2 if self.wide => Ty::Wide(self.gen.pick(&[W::I128, W::ComplexF32, W::ComplexF64])),
            3..=5 => Ty::Prim(self.gen.pick(&[Prim::F32, Prim::F64])),
            _ => {
                let p = self.gen.pick(&INTS);
                self.maybe_array(Ty::Prim(p))
            }
        }
    }

    fn mixed_union(&mut self, depth: usize) -> Ty {
        let n = 2 + self.below(3);
        let members = (0..n).map(|_| self.mixed_member(depth)).collect();
        self.union(members)
    }

    /// A `long double` (or a struct of one, or a complex one) with other members.
    fn long_double_union(&mut self) -> Ty {
        let ld = match self.below(4) {
            0 => self.structure(vec![Ty::Wide(W::LongDouble)]),
            1 => Ty::Wide(W::ComplexLongDouble),
            _ => Ty::Wide(W::LongDouble),
        };
        let mut members = vec![ld];
        for _ in 0..self.below(3) {
            let m = self.mixed_member(1);
            members.insert(self.below(members.len() + 1), m);
        }
        self.union(members)
    }

    /// Arrays of odd lengths (sizes like 3, 5, 6, 12) next to a scalar.
    fn array_union(&mut self) -> Ty {
        let n = 1 + self.below(3);
        let mut members: Vec<Ty> = (0..n)
            .map(|_| {
                let p = self.gen.pick(&[Prim::I8, Prim::U8, Prim::I16, Prim::I32, Prim::F32]);
                Ty::Array(Rc::new(Ty::Prim(p)), 1 + self.below(7))
            })
            .collect();
        if self.chance(60) {
            let p = self.gen.pick(&PRIMS);
            members.push(Ty::Prim(p));
        }
        self.union(members)
    }

    fn any_union(&mut self) -> Ty {
        match self.below(10) {
            0..=2 => self.float_union(),
            3..=5 => self.mixed_union(0),
            6 if self.wide => self.long_double_union(),
            6 | 7 => self.array_union(),
            _ => {
                // A union of structs.
                let n = 1 + self.below(3);
                let members = (0..n)
                    .map(|_| {
                        let k = 1 + self.below(3);
                        let fields = (0..k).map(|_| self.mixed_member(1)).collect();
                        self.structure(fields)
                    })
                    .collect();
                self.union(members)
            }
        }
    }

    /// A struct with a union in it, sometimes after a `char` (a packed union there is
    /// misaligned), sometimes a union of floats next to floats.
    fn struct_with_union(&mut self) -> Ty {
        let u = self.any_union();
        let mut fields = vec![u];
        for _ in 0..self.below(3) {
            let f = self.scalar(10);
            fields.insert(self.below(fields.len() + 1), f);
        }
        self.structure(fields)
    }

    fn scalar(&mut self, wide_percent: usize) -> Ty {
        if self.wide && self.chance(wide_percent) {
            Ty::Wide(self.gen.pick(&[W::LongDouble, W::I128, W::U128, W::ComplexF64]))
        } else {
            Ty::Prim(self.gen.pick(&PRIMS))
        }
    }

    fn ty(&mut self) -> Ty {
        match self.below(20) {
            0..=6 => self.any_union(),
            7..=11 => self.struct_with_union(),
            _ => self.scalar(10),
        }
    }

    fn case(&mut self) -> WideDef {
        let count = self.below(MAX_ARGS + 1);
        let mut params: Vec<Ty> = (0..count).map(|_| self.ty()).collect();
        let mut ret = (!self.chance(10)).then(|| self.ty());
        if !params.iter().chain(ret.iter()).any(Ty::has_union) {
            let u = self.any_union();
            match params.len() {
                0 => ret = Some(u),
                n => {
                    let i = self.below(n);
                    params[i] = u;
                }
            }
        }
        let args = params.iter().enumerate().map(|(i, t)| self.gen.value(t, i)).collect();
        let result = ret.as_ref().map(|t| self.gen.value(t, crate::gen::values::RESULT_INDEX));
        WideDef { ret, params, args, result }
    }
}

/// `count` cases from `seed`; `wide`: whether wide scalars may appear.
pub fn defs(seed: u64, count: usize, wide: bool) -> Vec<WideDef> {
    let mut gen = UnionGen { gen: Gen { rng: Rng::new(seed) }, wide };
    (0..count).map(|_| gen.case()).collect()
}

/// Callee names and driver names.
pub fn callee_name(abi: &str, i: usize) -> String {
    format!("jc_union_{abi}_{i:04}")
}

pub fn driver_name(abi: &str, i: usize) -> String {
    format!("ucbcall_{abi}_{i:04}")
}
