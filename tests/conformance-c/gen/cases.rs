//! The signature generator: which types, how many arguments, in what order.
//!
//! A systematic part comes first, so that every keyword, every struct class and every
//! size from 1 to 40 bytes is certain to appear, as a parameter and as a result, both in
//! registers and after the registers have run out. Random signatures fill up the rest.

use std::rc::Rc;

use crate::gen::model::{all_keywords, Prim, StructTy, Ty};
use crate::gen::rng::Rng;
use crate::gen::values::{Val, ValueGen, RESULT_INDEX};

/// Fixed: the same cases on every build and every host.
pub const SEED: u64 = 0x6a69_7463_616c_6c21;
/// Cases per calling convention (the tests require at least 1,100).
pub const CASES_PER_CONVENTION: usize = 1200;
/// The most arguments a signature gets.
pub const MAX_ARGS: usize = 40;
/// The largest struct, in bytes.
pub const MAX_STRUCT: usize = 40;

/// One generated function: its signature and the values it is called with.
pub struct CaseDef {
    /// `None` is `:void`.
    pub ret: Option<Ty>,
    pub params: Vec<Ty>,
    pub args: Vec<Val>,
    pub result: Option<Val>,
}

/// What a struct's leaves may be.
#[derive(Clone, Copy, PartialEq)]
enum Comp {
    Int,
    Float,
    /// Both integer and float leaves.
    Mixed,
    Any,
}

#[derive(Clone, Copy, PartialEq)]
enum Pack {
    None,
    /// Random `:pack` markers on fields.
    Fields,
    /// A `:pack-all` marker somewhere.
    All,
    /// Packed, with at least one field off its natural alignment.
    Misaligned,
    /// Now and then either kind.
    Maybe,
}

/// A struct class the generator is asked for.
#[derive(Clone, Copy)]
enum Recipe {
    Sized {
        min: usize,
        max: usize,
        comp: Comp,
        pack: Pack,
    },
    /// A homogeneous float aggregate: 1-4 floats or doubles, flat, as an array or nested.
    Hfa {
        prim: Prim,
        n: usize,
    },
    WithArray,
    Nested,
    /// With a zero-length array member (`T f[0]`) somewhere, packed or not.
    ZeroLength {
        pack: Pack,
    },
    Exact(usize),
}

/// Every struct class once; the systematic part walks this list.
const RECIPES: &[Recipe] = &[
    Recipe::Sized { min: 1, max: 8, comp: Comp::Int, pack: Pack::None },
    Recipe::Sized { min: 1, max: 8, comp: Comp::Float, pack: Pack::None },
    Recipe::Sized { min: 2, max: 8, comp: Comp::Mixed, pack: Pack::None },
    Recipe::Sized { min: 9, max: 16, comp: Comp::Int, pack: Pack::None },
    Recipe::Sized { min: 9, max: 16, comp: Comp::Float, pack: Pack::None },
    Recipe::Sized { min: 9, max: 16, comp: Comp::Mixed, pack: Pack::None },
    Recipe::Sized { min: 17, max: MAX_STRUCT, comp: Comp::Int, pack: Pack::None },
    Recipe::Sized { min: 17, max: MAX_STRUCT, comp: Comp::Float, pack: Pack::None },
    Recipe::Sized { min: 17, max: MAX_STRUCT, comp: Comp::Mixed, pack: Pack::None },
    Recipe::Hfa { prim: Prim::F32, n: 1 },
    Recipe::Hfa { prim: Prim::F32, n: 2 },
    Recipe::Hfa { prim: Prim::F32, n: 3 },
    Recipe::Hfa { prim: Prim::F32, n: 4 },
    Recipe::Hfa { prim: Prim::F64, n: 1 },
    Recipe::Hfa { prim: Prim::F64, n: 2 },
    Recipe::Hfa { prim: Prim::F64, n: 3 },
    Recipe::Hfa { prim: Prim::F64, n: 4 },
    Recipe::Sized { min: 1, max: 8, comp: Comp::Any, pack: Pack::Fields },
    Recipe::Sized { min: 9, max: 16, comp: Comp::Any, pack: Pack::Fields },
    Recipe::Sized { min: 1, max: MAX_STRUCT, comp: Comp::Any, pack: Pack::All },
    Recipe::Sized { min: 2, max: 8, comp: Comp::Any, pack: Pack::Misaligned },
    Recipe::Sized { min: 9, max: 16, comp: Comp::Any, pack: Pack::Misaligned },
    Recipe::Sized { min: 17, max: MAX_STRUCT, comp: Comp::Any, pack: Pack::Misaligned },
    Recipe::WithArray,
    Recipe::Nested,
    Recipe::ZeroLength { pack: Pack::None },
    Recipe::ZeroLength { pack: Pack::Fields },
];

pub struct Generator {
    rng: Rng,
    keywords: Vec<(&'static str, Prim)>,
    /// The most arguments a signature gets ([`MAX_ARGS`] unless changed).
    max_args: usize,
}

impl Generator {
    pub fn new(seed: u64) -> Generator {
        Generator { rng: Rng::new(seed), keywords: all_keywords(), max_args: MAX_ARGS }
    }

    /// The same generator with at most `max_args` arguments per signature (at least 19:
    /// the systematic part needs that many to run the registers out).
    pub fn with_max_args(mut self, max_args: usize) -> Generator {
        self.max_args = max_args.max(19);
        self
    }

    /// All cases of one convention: the systematic ones, then random ones.
    pub fn cases(&mut self, count: usize) -> Vec<CaseDef> {
        let mut sigs: Vec<(Option<Ty>, Vec<Ty>)> = Vec::new();
        // Nothing at all, and each keyword alone, then nine of it (past every ABI's
        // registers, so narrow types land in stack slots too).
        sigs.push((None, vec![]));
        for (k, p) in self.keywords.clone() {
            sigs.push((Some(Ty::prim(p, k)), vec![Ty::prim(p, k)]));
            sigs.push((Some(Ty::prim(p, k)), vec![Ty::prim(p, k); 9]));
            sigs.push((None, vec![Ty::prim(p, k); 3]));
        }
        // Each struct class three times: alone; after eight integers and eight doubles
        // (so it goes to the stack); and as the argument that meets the last registers.
        for &recipe in RECIPES {
            for _ in 0..3 {
                let s = self.structure(recipe);
                sigs.push((Some(s.clone()), vec![s.clone()]));
                let mut params = self.fill_registers(8, 8);
                params.extend([s.clone(), self.int(), self.double()]);
                sigs.push((Some(s.clone()), params));
                let (ints, floats) = (self.rng.range(3, 7), self.rng.range(5, 7));
                let mut params = self.fill_registers(ints, floats);
                params.extend([s.clone(), s.clone(), self.int(), self.double()]);
                let ret = self.any_result();
                sigs.push((ret, params));
            }
        }
        // Every size from 1 to 40 bytes, as argument and result, in and out of registers.
        for size in 1..=MAX_STRUCT {
            let s = self.structure(Recipe::Exact(size));
            sigs.push((Some(s.clone()), vec![s.clone(), self.int()]));
            let mut params = self.fill_registers(7, 7);
            params.extend([s.clone(), self.double(), s.clone(), self.int()]);
            sigs.push((Some(s), params));
        }
        // Every argument count once, then a few more of the longest.
        let max_args = self.max_args;
        for n in (0..=max_args).chain([max_args; 3]) {
            let params = (0..n).map(|_| self.param()).collect();
            sigs.push((self.any_result(), params));
        }
        while sigs.len() < count {
            let params = if self.rng.chance(25) {
                self.boundary_params()
            } else {
                let n = self.arg_count();
                (0..n).map(|_| self.param()).collect()
            };
            sigs.push((self.any_result(), params));
        }
        sigs.truncate(count.max(1));
        sigs.into_iter().map(|(ret, params)| self.with_values(ret, params)).collect()
    }

    fn with_values(&mut self, ret: Option<Ty>, params: Vec<Ty>) -> CaseDef {
        let args = params
            .iter()
            .enumerate()
            .map(|(i, t)| ValueGen::new(&mut self.rng, i).value(t, 0))
            .collect();
        let result = ret.as_ref().map(|t| ValueGen::new(&mut self.rng, RESULT_INDEX).value(t, 0));
        CaseDef { ret, params, args, result }
    }

    /// Mostly short lists, some long ones (0 to `max_args`).
    fn arg_count(&mut self) -> usize {
        match self.rng.below(100) {
            0..=2 => 0,
            3..=35 => self.rng.range(1, 4),
            36..=65 => self.rng.range(5, 10),
            66..=87 => self.rng.range(11, 20),
            _ => self.rng.range(21, self.max_args),
        }
    }

    /// Integers and doubles that use up some registers, then an aggregate where the last
    /// registers meet it (so it is split, or moved whole to the stack, by the ABI's rule),
    /// then a few more arguments that may still find registers.
    fn boundary_params(&mut self) -> Vec<Ty> {
        let (ints, floats) = (self.rng.range(0, 8), self.rng.range(0, 8));
        let mut params = self.fill_registers(ints, floats);
        for _ in 0..self.rng.range(1, 3) {
            let s = self.any_struct();
            params.push(s);
        }
        for _ in 0..self.rng.range(0, 6) {
            params.push(self.param());
        }
        params.truncate(self.max_args);
        params
    }

    /// `ints` integer-class and `floats` float-class primitives, interleaved at random.
    fn fill_registers(&mut self, ints: usize, floats: usize) -> Vec<Ty> {
        let (mut i, mut f) = (ints, floats);
        let mut out = Vec::new();
        while i + f > 0 {
            if f == 0 || (i > 0 && self.rng.below(i + f) < i) {
                out.push(self.int());
                i -= 1;
            } else {
                out.push(self.float());
                f -= 1;
            }
        }
        out
    }

    fn int(&mut self) -> Ty {
        let ints: Vec<_> = self.keywords.iter().filter(|(_, p)| !p.is_float()).copied().collect();
        let (k, p) = self.rng.pick(&ints);
        Ty::prim(p, k)
    }

    fn float(&mut self) -> Ty {
        let (p, ks) = if self.rng.chance(50) {
            (Prim::F32, ["float", "r32"])
        } else {
            (Prim::F64, ["double", "r64"])
        };
        Ty::prim(p, self.rng.pick(&ks))
    }

    fn double(&mut self) -> Ty {
        Ty::prim(Prim::F64, "double")
    }

    fn prim_any(&mut self) -> Ty {
        let (k, p) = self.rng.pick(&self.keywords);
        Ty::prim(p, k)
    }

    fn param(&mut self) -> Ty {
        if self.rng.chance(55) {
            self.prim_any()
        } else {
            self.any_struct()
        }
    }

    fn any_result(&mut self) -> Option<Ty> {
        match self.rng.below(100) {
            0..=11 => None,
            12..=51 => Some(self.prim_any()),
            _ => Some(self.any_struct()),
        }
    }

    fn any_struct(&mut self) -> Ty {
        let recipe = if self.rng.chance(15) {
            Recipe::Exact(self.rng.range(1, MAX_STRUCT))
        } else {
            self.rng.pick(RECIPES)
        };
        self.structure(recipe)
    }

    // -----------------------------------------------------------------------------------
    // structs

    fn structure(&mut self, recipe: Recipe) -> Ty {
        match recipe {
            Recipe::Sized { min, max, comp, pack } => self.sized(min, max, comp, pack, 0, |_| true),
            Recipe::Hfa { prim, n } => self.hfa(prim, n),
            Recipe::WithArray => {
                let max = self.rng.range(8, MAX_STRUCT);
                self.sized(1, max, Comp::Any, Pack::Maybe, 0, Ty::has_array)
            }
            Recipe::Nested => {
                let max = self.rng.range(8, MAX_STRUCT);
                self.sized(2, max, Comp::Any, Pack::Maybe, 0, Ty::has_nested)
            }
            Recipe::ZeroLength { pack } => {
                let max = self.rng.range(4, MAX_STRUCT);
                self.sized(1, max, Comp::Any, pack, 0, Ty::has_zero_length)
            }
            Recipe::Exact(n) => self.sized(n, n, Comp::Any, Pack::Maybe, 0, |_| true),
        }
    }

    /// A random struct of `min..=max` bytes whose leaves match `comp`, packed as `pack`
    /// asks, for which `extra` holds: fields are added until it fits, and a struct that
    /// grew past `max` is thrown away.
    fn sized(
        &mut self,
        min: usize,
        max: usize,
        comp: Comp,
        pack: Pack,
        depth: usize,
        extra: fn(&Ty) -> bool,
    ) -> Ty {
        let comp_ok = |t: &Ty| {
            let leaves = t.leaf_prims();
            let floats = leaves.iter().filter(|p| p.is_float()).count();
            match comp {
                Comp::Int => floats == 0,
                Comp::Float => floats == leaves.len(),
                Comp::Mixed => floats > 0 && floats < leaves.len(),
                Comp::Any => true,
            }
        };
        let pack_ok = |t: &Ty| match pack {
            Pack::None => !t.has_packing(),
            Pack::Fields | Pack::All => t.has_packing(),
            Pack::Misaligned => t.misaligned(),
            Pack::Maybe => true,
        };
        for _ in 0..5000 {
            let pack_all_wanted = match pack {
                Pack::All => true,
                Pack::Maybe => self.rng.chance(8),
                _ => false,
            };
            let marker_chance = match pack {
                Pack::Fields => 35,
                Pack::Misaligned => 45,
                Pack::Maybe => 8,
                _ => 0,
            };
            let mut members: Vec<(Ty, bool)> = Vec::new();
            while members.len() < 12 {
                let ty = self.field(comp, depth, max);
                members.push((ty, self.rng.chance(marker_chance)));
                let pack_all_at = pack_all_wanted.then(|| self.rng.below(members.len() + 1));
                let t = Ty::Struct(Rc::new(StructTy::new(members.clone(), pack_all_at)));
                let size = t.size();
                if size > max {
                    break;
                }
                if size >= min && comp_ok(&t) && pack_ok(&t) && extra(&t) {
                    return t;
                }
            }
        }
        // Not reached for the recipes above; a byte array has every size.
        let bytes = Ty::Array(Rc::new(Ty::prim(Prim::U8, "u8")), min.max(1));
        Ty::Struct(Rc::new(StructTy::new(vec![(bytes, false)], None)))
    }

    /// A field: mostly a primitive, sometimes an array (often `@[:float 3]` or
    /// `@[:char 5]`) or a nested struct.
    fn field(&mut self, comp: Comp, depth: usize, max: usize) -> Ty {
        let leaf = |g: &mut Generator| match comp {
            Comp::Int => g.int(),
            Comp::Float => g.float(),
            Comp::Mixed | Comp::Any => g.prim_any(),
        };
        match self.rng.below(100) {
            0..=64 => leaf(self),
            65..=69 => self.zero_length(comp, depth),
            70..=84 => {
                let float_ok = comp != Comp::Int;
                let int_ok = comp != Comp::Float;
                match self.rng.below(6) {
                    0 if float_ok => Ty::Array(Rc::new(Ty::prim(Prim::F32, "float")), 3),
                    1 if int_ok => Ty::Array(Rc::new(Ty::prim(Prim::I8, "char")), 5),
                    2 if depth < 2 => {
                        // An array of small structs, or an array of arrays.
                        let elem = if self.rng.chance(50) {
                            self.sized(1, 8, as_inner(comp), Pack::Maybe, depth + 1, |_| true)
                        } else {
                            Ty::Array(Rc::new(leaf(self)), self.rng.range(1, 3))
                        };
                        Ty::Array(Rc::new(elem), self.rng.range(1, 3))
                    }
                    _ => Ty::Array(Rc::new(leaf(self)), self.rng.range(1, 5)),
                }
            }
            _ if depth < 2 => {
                let inner_max = max.clamp(1, 24);
                self.sized(1, inner_max, as_inner(comp), Pack::Maybe, depth + 1, |_| true)
            }
            _ => leaf(self),
        }
    }

    /// A zero-length array (`T f[0]`, a GNU C extension that gcc classifies by its
    /// element and offset): of a primitive, of a small struct or of an array, or a struct
    /// that holds only one (size 0 as well).
    fn zero_length(&mut self, comp: Comp, depth: usize) -> Ty {
        let elem = match self.rng.below(10) {
            0 if depth < 2 => self.sized(1, 8, as_inner(comp), Pack::Maybe, depth + 1, |_| true),
            1 => {
                let leaf = self.zero_length_leaf(comp);
                Ty::Array(Rc::new(leaf), self.rng.range(1, 3))
            }
            _ => self.zero_length_leaf(comp),
        };
        let array = Ty::Array(Rc::new(elem), 0);
        if depth < 2 && self.rng.chance(15) {
            Ty::Struct(Rc::new(StructTy::new(vec![(array, false)], None)))
        } else {
            array
        }
    }

    fn zero_length_leaf(&mut self, comp: Comp) -> Ty {
        match comp {
            Comp::Int => self.int(),
            Comp::Float => self.float(),
            Comp::Mixed | Comp::Any => self.prim_any(),
        }
    }

    /// An HFA in one of several shapes that all flatten to `n` members of `prim`.
    fn hfa(&mut self, prim: Prim, n: usize) -> Ty {
        let keyword = if prim == Prim::F32 { "float" } else { "double" };
        let p = || Ty::prim(prim, keyword);
        let flat = |k: usize| (0..k).map(|_| (p(), false)).collect::<Vec<_>>();
        let st = |members: Vec<(Ty, bool)>| Ty::Struct(Rc::new(StructTy::new(members, None)));
        match self.rng.below(4) {
            // [:float :float :float]
            0 | 1 => st(flat(n)),
            // [@[:float 3]] or [:float @[:float 2]]
            2 if n >= 2 => {
                if self.rng.chance(50) {
                    st(vec![(Ty::Array(Rc::new(p()), n), false)])
                } else {
                    st(vec![(p(), false), (Ty::Array(Rc::new(p()), n - 1), false)])
                }
            }
            // [[:float :float] :float]
            3 if n >= 2 => {
                let k = self.rng.range(1, n - 1);
                let inner = st(flat(k));
                let mut members = vec![(inner, false)];
                members.extend(flat(n - k));
                st(members)
            }
            _ => st(flat(n)),
        }
    }
}

/// A nested struct may be anything when its parent is mixed (the parent's own check
/// then decides).
fn as_inner(comp: Comp) -> Comp {
    match comp {
        Comp::Mixed => Comp::Any,
        c => c,
    }
}
