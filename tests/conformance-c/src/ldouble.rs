//! The C compiler's own conversions between `double` and the wide floating formats
//! (`c/ldouble.c`), as safe functions on bit patterns.
//!
//! Each conversion runs at run time, in the hardware (x87 `fld`/`fst`) or in libgcc's
//! soft-fp (`__extenddftf2`, `__trunctfdf2`), never folded by the compiler. Each comes in
//! two builds of the same C: [`Opt::O0`] (as the build script compiles it in the dev
//! profile) and [`Opt::O2`] (forced by an attribute).
//!
//! - x87 80-bit (`long double` on x86-64): [`x87_from_f64`], [`x87_to_f64`].
//! - IEEE binary128 (`__float128` on x86-64, `long double` on AArch64 Linux):
//!   [`binary128_from_f64`], [`binary128_to_f64`].

/// Which build of the C conversion to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opt {
    /// The build script's optimisation level (none in the dev profile).
    O0,
    /// `-O2`, by `__attribute__((optimize("O2")))`.
    O2,
}

/// Both builds, to check each conversion in each.
pub const OPTS: [Opt; 2] = [Opt::O0, Opt::O2];

#[cfg(target_arch = "x86_64")]
extern "C" {
    fn jc_x87_from_f64(bits: u64, out: *mut [u8; 16]);
    fn jc_x87_from_f64_o2(bits: u64, out: *mut [u8; 16]);
    fn jc_x87_to_f64(image: *const [u8; 16]) -> u64;
    fn jc_x87_to_f64_o2(image: *const [u8; 16]) -> u64;
}

#[cfg(any(target_arch = "x86_64", all(target_arch = "aarch64", target_os = "linux")))]
extern "C" {
    fn jc_binary128_from_f64(bits: u64, out: *mut [u8; 16]);
    fn jc_binary128_from_f64_o2(bits: u64, out: *mut [u8; 16]);
    fn jc_binary128_to_f64(image: *const [u8; 16]) -> u64;
    fn jc_binary128_to_f64_o2(image: *const [u8; 16]) -> u64;
}

/// The x87 image (10 value bytes, 6 zero bytes) of the double with bits `bits`, as
/// `(long double)d` gives it.
#[cfg(target_arch = "x86_64")]
pub fn x87_from_f64(opt: Opt, bits: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    // SAFETY: the C function writes exactly 16 bytes to `out`, a valid local array.
    unsafe {
        match opt {
            Opt::O0 => jc_x87_from_f64(bits, &mut out),
            Opt::O2 => jc_x87_from_f64_o2(bits, &mut out),
        }
    }
    out
}

/// The bits of `(double)x` for the x87 image `image` (its first 10 bytes).
#[cfg(target_arch = "x86_64")]
pub fn x87_to_f64(opt: Opt, image: &[u8; 16]) -> u64 {
    // SAFETY: the C function reads 16 bytes from `image`, a valid array; any bit pattern
    // is a valid input (the x87 masks its exceptions by default, nothing traps).
    unsafe {
        match opt {
            Opt::O0 => jc_x87_to_f64(image),
            Opt::O2 => jc_x87_to_f64_o2(image),
        }
    }
}

/// The binary128 image of the double with bits `bits`, as the C conversion gives it.
#[cfg(any(target_arch = "x86_64", all(target_arch = "aarch64", target_os = "linux")))]
pub fn binary128_from_f64(opt: Opt, bits: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    // SAFETY: as in `x87_from_f64`.
    unsafe {
        match opt {
            Opt::O0 => jc_binary128_from_f64(bits, &mut out),
            Opt::O2 => jc_binary128_from_f64_o2(bits, &mut out),
        }
    }
    out
}

/// The bits of the double the C conversion gives for the binary128 image `image`.
#[cfg(any(target_arch = "x86_64", all(target_arch = "aarch64", target_os = "linux")))]
pub fn binary128_to_f64(opt: Opt, image: &[u8; 16]) -> u64 {
    // SAFETY: as in `x87_to_f64` (soft-fp only records exceptions, it never traps).
    unsafe {
        match opt {
            Opt::O0 => jc_binary128_to_f64(image),
            Opt::O2 => jc_binary128_to_f64_o2(image),
        }
    }
}
