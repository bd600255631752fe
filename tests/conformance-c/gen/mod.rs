//! The conformance-case generator, split by concern.

pub mod callbacks;
pub mod cases;
pub mod emit;
pub mod model;
pub mod rng;
pub mod unions;
pub mod values;
pub mod variadic;
pub mod wide;
