//! The cases with the wide types and with unions, from the main suite's `gen/wide.rs` and
//! `gen/unions.rs`: 128-bit integers and complex `float` / `double` as scalars and inside
//! structs, arrays and unions, mixed with primitives; unions of every kind as arguments,
//! results and fields.
//!
//! Without `long double` and `_Complex long double`: on Apple arm64 and Windows on ARM64
//! `long double` is `double`, and jitcall refuses the host's 16-byte `:long-double` under
//! those conventions (a plan test covers that). The generators make them, so each one is
//! replaced by one of [`WIDES`] (which keeps the mix and "every case has a wide type" or
//! "a union"), then the values are made again for the new types.

use std::rc::Rc;

use crate::gen::rng::Rng;
use crate::gen::unions;
use crate::gen::values::RESULT_INDEX;
use crate::gen::wide::{self, Gen, StructTy, Ty, WideDef, W};

/// Cases per flavour and direction (the tests require at least 200 of each).
const WIDE_CASES: usize = 180;
const UNION_CASES: usize = 120;

/// The wide types the flavours' C has.
const WIDES: [W; 4] = [W::I128, W::U128, W::ComplexF32, W::ComplexF64];

/// Salts for the replacement types and for the values made again.
const TYPE_SALT: u64 = 0x6e6f_5f6c_645f_7479;
const VALUE_SALT: u64 = 0x6e6f_5f6c_645f_7661;

/// One suite's cases of one flavour: callees (calls) and callback signatures.
pub struct Suite {
    pub calls: Vec<WideDef>,
    pub callbacks: Vec<WideDef>,
}

/// The wide suite (every case has a 128-bit integer or a complex number).
pub fn wide_suite() -> Suite {
    let make = |seed| without_long_double(wide::defs(seed, WIDE_CASES), seed);
    Suite { calls: make(wide::SEED), callbacks: make(wide::CALLBACK_SEED) }
}

/// The union suite (every case has a union), with wide members and fields.
pub fn union_suite() -> Suite {
    let make = |seed| without_long_double(unions::defs(seed, UNION_CASES, true), seed);
    Suite { calls: make(unions::SEED), callbacks: make(unions::CALLBACK_SEED) }
}

fn without_long_double(defs: Vec<WideDef>, seed: u64) -> Vec<WideDef> {
    let mut types = Rng::new(seed ^ TYPE_SALT);
    let mut values = Gen { rng: Rng::new(seed ^ VALUE_SALT) };
    defs.into_iter()
        .map(|def| {
            let params: Vec<Ty> = def.params.iter().map(|t| replaced(t, &mut types)).collect();
            let ret = def.ret.as_ref().map(|t| replaced(t, &mut types));
            let args = params.iter().enumerate().map(|(i, t)| values.value(t, i)).collect();
            let result = ret.as_ref().map(|t| values.value(t, RESULT_INDEX));
            WideDef { ret, params, args, result }
        })
        .collect()
}

/// `ty` with each `long double` and `_Complex long double` replaced by one of [`WIDES`]
/// (structs and unions laid out again).
fn replaced(ty: &Ty, rng: &mut Rng) -> Ty {
    match ty {
        Ty::Wide(W::LongDouble | W::ComplexLongDouble) => Ty::Wide(rng.pick(&WIDES)),
        Ty::Struct(s) if ty.has_long_double() => {
            let fields = s.fields.iter().map(|(t, _)| replaced(t, rng)).collect();
            Ty::Struct(Rc::new(StructTy::with(fields, s.union, s.packed)))
        }
        Ty::Array(e, n) => Ty::Array(Rc::new(replaced(e, rng)), *n),
        other => other.clone(),
    }
}
