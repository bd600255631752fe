//! Generated conformance cases for Apple arm64 (`aapcs64-apple`) and Windows on ARM64
//! (`aapcs64-win`): C compiled by clang-16 for those OSes, rewritten to ELF by
//! flavour-callees and linked statically, so the tests run under qemu-aarch64 on Linux
//! with each OS's calling convention intact (shared/cross-testing.md).
//!
//! - [`CASES`]: callees that check every byte of every argument ([`conf_fail`]) and
//!   return a result whose every byte is distinctive; general signatures from the main
//!   suite's generator and stack-heavy ones (9 to 32 small mixed arguments).
//! - [`VARIADIC_CASES`]: callees that read the variadic part with `va_arg`.
//! - [`CALLBACK_CASES`]: drivers `int d(RET (*fp)(ARGS))` that call a function pointer
//!   with literal arguments and return 0 when the result came back exactly (else `k + 1`
//!   for the first wrong leaf `k`).
//! - [`WIDE_CASES`] and [`WIDE_CALLBACK_CASES`]: callees and drivers as above whose every
//!   signature has a 128-bit integer or a complex `float` / `double` (as a scalar or inside
//!   a struct or array); [`UNION_CASES`] and [`UNION_CALLBACK_CASES`]: the same with a
//!   union in every signature (the main suite's `gen/wide.rs` and `gen/unions.rs`, without
//!   `long double`). A 128-bit integer is a decimal string, a complex number `[re im]`, a
//!   union `[I V]` (member I set, every other byte zero) or a string of its bytes; the C
//!   side compares every byte a union's members cover.
//! - [`SELF_CHECKS`]: the same signatures with both sides clang-compiled for the flavour
//!   (a driver calling a callee), which shows the C side right before jitcall is involved.
//!
//! Everything is AArch64 only: on other targets the tables are empty. The `extern`
//! declarations are all `fn()`; they exist only for the addresses.

/// One generated callee (the fields as in the main suite's `jitcall-conformance-c`):
/// types and values as Janet text; a mismatch in argument `i` is `id * 100 + i + 1`.
#[derive(Debug)]
pub struct Case {
    pub id: usize,
    pub name: &'static str,
    /// `aapcs64-apple` or `aapcs64-win`.
    pub abi: &'static str,
    pub ret: &'static str,
    pub params: &'static [&'static str],
    pub args: &'static [&'static str],
    pub expected: &'static str,
    pub func: unsafe extern "C" fn(),
}

/// One generated variadic callee: `ret f(params[..fixed], ...)`, called with `args`.
#[derive(Debug)]
pub struct VariadicCase {
    pub id: usize,
    pub name: &'static str,
    pub abi: &'static str,
    pub ret: &'static str,
    pub fixed: usize,
    pub params: &'static [&'static str],
    pub args: &'static [&'static str],
    pub expected: &'static str,
    pub func: unsafe extern "C" fn(),
}

/// One generated callback signature: `driver(fp)` calls `fp` (of this signature, in
/// convention `abi`) with `args`, and returns 0 when `fp` returned `result` exactly.
#[derive(Debug)]
pub struct CallbackCase {
    pub id: usize,
    pub name: &'static str,
    pub abi: &'static str,
    pub ret: &'static str,
    pub params: &'static [&'static str],
    /// What the callback must receive (structs as `(...)` tuples).
    pub args: &'static [&'static str],
    pub result: &'static str,
    pub driver: unsafe extern "C" fn(),
}

/// A clang-only pair: `driver(callee)` passes when it returns 0, [`conf_fail`] is 0
/// and [`conf_last`] is `id`.
#[derive(Debug)]
pub struct SelfCheck {
    /// `call`, `variadic`, `callback`, `wide call`, `wide callback`, `union call` or
    /// `union callback` (which table `id` indexes).
    pub kind: &'static str,
    pub abi: &'static str,
    pub id: usize,
    /// The callee's C name.
    pub name: &'static str,
    pub callee: unsafe extern "C" fn(),
    /// `int driver(void *fp)`: the same convention on Linux, Apple and Windows.
    pub driver: unsafe extern "C" fn(),
}

#[cfg(target_arch = "aarch64")]
include!(concat!(env!("OUT_DIR"), "/cases.rs"));

#[cfg(not(target_arch = "aarch64"))]
mod empty {
    use super::*;
    pub static CASES: &[Case] = &[];
    pub static VARIADIC_CASES: &[VariadicCase] = &[];
    pub static CALLBACK_CASES: &[CallbackCase] = &[];
    pub static WIDE_CASES: &[Case] = &[];
    pub static WIDE_CALLBACK_CASES: &[CallbackCase] = &[];
    pub static UNION_CASES: &[Case] = &[];
    pub static UNION_CALLBACK_CASES: &[CallbackCase] = &[];
    pub static SELF_CHECKS: &[SelfCheck] = &[];
}
#[cfg(not(target_arch = "aarch64"))]
pub use empty::*;

/// The two flavours' names, as jitcall's `Abi::name` gives them.
pub const FLAVOURS: [&str; 2] = ["aapcs64-apple", "aapcs64-win"];

#[cfg(target_arch = "aarch64")]
mod report {
    use std::os::raw::c_int;

    extern "C" {
        fn apple_conf_fail_get() -> c_int;
        fn apple_conf_last_get() -> c_int;
        fn apple_conf_reset();
        fn win_conf_fail_get() -> c_int;
        fn win_conf_last_get() -> c_int;
        fn win_conf_reset();
    }

    /// The accessors of one flavour's library (each has its own globals).
    pub fn of(abi: &str) -> [unsafe extern "C" fn() -> c_int; 2] {
        match abi {
            "aapcs64-apple" => [apple_conf_fail_get, apple_conf_last_get],
            "aapcs64-win" => [win_conf_fail_get, win_conf_last_get],
            _ => panic!("no flavour {abi:?}"),
        }
    }

    pub fn reset(abi: &str) {
        let reset: unsafe extern "C" fn() = match abi {
            "aapcs64-apple" => apple_conf_reset,
            "aapcs64-win" => win_conf_reset,
            _ => panic!("no flavour {abi:?}"),
        };
        // SAFETY: a C function without arguments that writes two ints; arguments-free
        // calls are the same in every AArch64 convention.
        unsafe { reset() }
    }
}

/// The first mismatch a callee of flavour `abi` saw since [`conf_reset`]
/// (`id * 100 + argument index + 1`), or 0. The callees write process-wide globals:
/// callers on several threads must serialise the calls.
#[cfg(target_arch = "aarch64")]
pub fn conf_fail(abi: &str) -> i32 {
    // SAFETY: a C function without arguments that reads an int.
    unsafe { report::of(abi)[0]() }
}

/// The id of the last callee of flavour `abi` that ran (-1 after [`conf_reset`]).
#[cfg(target_arch = "aarch64")]
pub fn conf_last(abi: &str) -> i32 {
    // SAFETY: as in `conf_fail`.
    unsafe { report::of(abi)[1]() }
}

/// Clears [`conf_fail`] and [`conf_last`] of flavour `abi`.
#[cfg(target_arch = "aarch64")]
pub fn conf_reset(abi: &str) {
    report::reset(abi)
}
