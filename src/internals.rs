//! Unstable internals, for jitcall's own tests, fuzz targets and benchmarks.
//!
//! Nothing here is part of the API: names, signatures and behaviour may change in any
//! release, and some of it (the encoders, the thunk emitters) can produce code that does
//! anything when run. Use the documented items of the crate root instead.

#[forbid(unsafe_code)]
#[path = "../arch/mod.rs"]
pub mod arch;

pub use crate::callback::trampoline_pages;
pub use crate::memory::{page_size, seal_count, Code, ExecutableCode, Unsealed, WritableCode};
pub use crate::plan::RegisterNames;
pub use crate::thunk::DEFAULT_HOT_CALLS;
pub use crate::types::{round_up, KEYWORDS, WIDE_KEYWORDS};
pub use crate::value::{
    check_decodable, check_encodable, decode, decode_following_pointers, decode_prim_bits, encode,
    encode_prim_bits, pointer_of,
};
