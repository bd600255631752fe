//! C callees for jitcall's conformance tests, compiled by `build.rs` and linked statically.
//!
//! Why a separate crate: the tests also run cross-compiled under wine and qemu, where the
//! test process cannot start a C compiler; a build script can, for the target.
//!
//! - [`CASES`]: the generated cases, for every calling convention this target can build
//!   callees in. Each callee compares every argument it gets with the expected values,
//!   records the first mismatch (see [`conf_fail`]) and returns the expected result.
//! - [`CALLBACK_CASES`]: generated callback signatures, the other way round: a C driver
//!   calls a function pointer (a jitcall callback) with known arguments and checks the
//!   result it gets back.
//! - [`ldouble`]: the C compiler's conversions between `double` and `long double` /
//!   `__float128`, the oracle for jitcall's `ldouble` module.
//! - [`HAND_WRITTEN`]: Janet's `examples/ffi/so.c` callees and the defect checks, by C
//!   name (`name_alt` on x86-64: the same function in the other x86-64 convention).
//!
//! The `extern "C"` declarations below are all `fn()`: they exist only to take the
//! functions' addresses. The real signatures are in the table and in the C source.

use std::os::raw::{c_double, c_int};

pub mod ldouble;

/// One generated callee and how to call it, all as Janet text.
#[derive(Debug)]
pub struct Case {
    /// Index in [`CASES`]; a mismatch in argument `i` is reported as `id * 100 + i + 1`.
    pub id: usize,
    /// The C function's name.
    pub name: &'static str,
    /// The calling convention: `sysv64`, `win64` or `aapcs64`.
    pub abi: &'static str,
    /// The result type, as Janet type text (`:void`, `:u16`, `[:float @[:char 5]]`).
    pub ret: &'static str,
    /// The parameter types, as Janet type text.
    pub params: &'static [&'static str],
    /// The arguments, as Janet value text. A non-NULL pointer is written `(ptr 0x...)`,
    /// which the caller turns into a pointer value; NULL is `nil`.
    pub args: &'static [&'static str],
    /// The result the callee returns, as Janet value text (`nil` for void), with
    /// pointers written as in `args`.
    pub expected: &'static str,
    /// The callee (its real signature is `ret(params)` in convention `abi`).
    pub func: unsafe extern "C" fn(),
}

include!(concat!(env!("OUT_DIR"), "/cases.rs"));

/// One generated callback signature: C calls a closure of this signature and convention.
///
/// The driver, compiled in the C compiler's default convention, is
/// `int driver(RET (*fp)(ARGS...))`: it calls `fp` (in convention `abi`) with `args` and
/// returns 0 when `fp` returned `result` exactly, or `k + 1` when leaf `k` of the result
/// (its primitives in memory order, as the result value flattens) differed.
#[derive(Debug)]
pub struct CallbackCase {
    /// Index in [`CALLBACK_CASES`].
    pub id: usize,
    /// The C driver's name (`cbcall_<abi>_<n>`).
    pub name: &'static str,
    /// The callback's calling convention: `sysv64`, `win64` or `aapcs64`.
    pub abi: &'static str,
    /// The callback's result type, as Janet type text.
    pub ret: &'static str,
    /// The callback's parameter types, as Janet type text.
    pub params: &'static [&'static str],
    /// What the closure must receive, as Janet value text (structs as `(...)` tuples,
    /// arrays as `@[...]`, non-NULL pointers as `(ptr 0x...)`, NULL as `nil`).
    pub args: &'static [&'static str],
    /// What the closure returns and the driver expects back, written as `args`
    /// (`nil` for void).
    pub result: &'static str,
    /// The driver: `int(RET (*)(ARGS...))` in the default convention.
    pub driver: unsafe extern "C" fn(),
}

include!(concat!(env!("OUT_DIR"), "/callback_cases.rs"));

/// One generated variadic callee: `ret f(params[..fixed], ...)` in convention `abi`,
/// called with `args` (the fixed ones, then the variadic ones, which the callee reads
/// with `va_arg` and checks as [`Case`]'s callees do).
#[derive(Debug)]
pub struct VariadicCase {
    /// Index in [`VARIADIC_CASES`]; a mismatch in argument `i` is `id * 100 + i + 1`.
    pub id: usize,
    pub name: &'static str,
    pub abi: &'static str,
    pub ret: &'static str,
    /// How many of `params` are fixed; the rest are this call's variadic arguments.
    pub fixed: usize,
    pub params: &'static [&'static str],
    pub args: &'static [&'static str],
    pub expected: &'static str,
    pub func: unsafe extern "C" fn(),
}

include!(concat!(env!("OUT_DIR"), "/variadic_cases.rs"));

// `WIDE_CASES` and `WIDE_CALLBACK_CASES`: the cases with long double, 128-bit integer and
// complex types (every case has one), as [`Case`]s and [`CallbackCase`]s. Their values
// are compared by native image: 128-bit integers are written as decimal strings.
include!(concat!(env!("OUT_DIR"), "/wide_cases.rs"));

// `UNION_CASES` and `UNION_CALLBACK_CASES`: the cases with unions (every case has one),
// as [`Case`]s and [`CallbackCase`]s. A union value is `[I V]` or a string of its bytes.
include!(concat!(env!("OUT_DIR"), "/union_cases.rs"));

extern "C" {
    fn jitcall_conf_fail_get() -> c_int;
    fn jitcall_conf_last_get() -> c_int;
    fn jitcall_conf_reset();
    fn jc_so_last_double_get() -> c_double;
    fn jc_so_last_int_get() -> c_int;
    fn jc_so_void_calls_get() -> c_int;
}

/// The first mismatch a generated callee saw since [`conf_reset`]: `id * 100 + argument
/// index + 1`, or 0 when every argument arrived intact.
///
/// The callees write process-wide globals: callers that run cases on several threads must
/// serialise them.
pub fn conf_fail() -> i32 {
    // SAFETY: a C function without arguments that reads an int.
    unsafe { jitcall_conf_fail_get() }
}

/// The id of the last generated callee that ran (-1 after [`conf_reset`]).
pub fn conf_last() -> i32 {
    // SAFETY: as in `conf_fail`.
    unsafe { jitcall_conf_last_get() }
}

/// Clears [`conf_fail`] and [`conf_last`].
pub fn conf_reset() {
    // SAFETY: a C function without arguments that writes two ints.
    unsafe { jitcall_conf_reset() }
}

/// The double that `intint_fn`, `intintint_fn` or `void_fn_2` last received (Janet's
/// example printed it).
pub fn so_last_double() -> f64 {
    // SAFETY: a C function without arguments that reads a double.
    unsafe { jc_so_last_double_get() }
}

/// The int that `void_ret_fn` last received.
pub fn so_last_int() -> i32 {
    // SAFETY: as in `so_last_double`.
    unsafe { jc_so_last_int_get() }
}

/// How many times `void_fn` has run.
pub fn so_void_calls() -> i32 {
    // SAFETY: as in `so_last_double`.
    unsafe { jc_so_void_calls_get() }
}

/// The address of a hand-written callee (`"int_fn"`, `"int_fn_alt"`, ...).
pub fn hand_written(name: &str) -> Option<*const ()> {
    HAND_WRITTEN.iter().find(|(n, _)| *n == name).map(|&(_, f)| f as *const ())
}

extern "C" {
    fn jc_errno_set();
    fn jc_errno_get();
    #[cfg(windows)]
    fn jc_last_error_get();
    #[cfg(target_arch = "x86_64")]
    fn jc_errno_set_alt();
}

/// x86-64: `jc_errno_set` in the other x86-64 convention (Win64 on Linux, System V on
/// Windows).
#[cfg(target_arch = "x86_64")]
pub fn errno_setter_alt() -> *const () {
    jc_errno_set_alt as *const ()
}

/// `void jc_errno_set(int v)`: sets `errno` to `v` (on Windows also the last error, to
/// `v + 1000`), in the C compiler's default convention.
pub fn errno_setter() -> *const () {
    jc_errno_set as *const ()
}

/// `int jc_errno_get(void)`: returns `errno` as the callee finds it.
pub fn errno_getter() -> *const () {
    jc_errno_get as *const ()
}

/// Windows: `unsigned jc_last_error_get(void)`: returns `GetLastError()`.
#[cfg(windows)]
pub fn last_error_getter() -> *const () {
    jc_last_error_get as *const ()
}
