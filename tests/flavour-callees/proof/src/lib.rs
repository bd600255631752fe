//! Nothing here: the build script links the flavoured C into this crate's tests
//! (`tests/roundtrip.rs`), which run on aarch64-unknown-linux-gnu (under qemu-aarch64).
