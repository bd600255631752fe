//! Apple arm64 and Windows on ARM64 code, rewritten to ELF by flavour-callees, run under
//! qemu-aarch64: clang-compiled callers reach clang-compiled callees of the same flavour
//! with every argument byte intact, and Linux-convention calls that spell out each
//! flavour's documented layout by hand get the right answers too (so the code really
//! follows that flavour's convention, not Linux's).
#![cfg(target_arch = "aarch64")]

// The library carries the build script's link lines for the C code.
extern crate flavour_callees_proof as _;

/// FNV-1a over the little-endian bytes of each value, as the C callees compute it.
struct Expected {
    hash: u64,
    seen: Vec<u64>,
}

impl Expected {
    fn new() -> Self {
        Expected { hash: 0xcbf2_9ce4_8422_2325, seen: Vec::new() }
    }

    fn take(&mut self, bytes: &[u8]) -> &mut Self {
        let mut bits = 0u64;
        for (i, b) in bytes.iter().enumerate() {
            self.hash = (self.hash ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
            bits |= u64::from(*b) << (8 * i);
        }
        self.seen.push(bits);
        self
    }
}

macro_rules! take {
    ($e:expr, $($v:expr),+) => { $( $e.take(&$v.to_le_bytes()); )+ };
}

fn mixed_expected() -> Expected {
    let mut e = Expected::new();
    take!(e, -0x12i8, -0x1235i16, 0x7a3b_5c1di32, -0x0123_4567_89ab_cdefi64);
    take!(e, 0xa4u8, 0xa5b6u16, 0xa6b7_c8d9u32, 0xa7b8_c9da_ebfc_0d1eu64);
    take!(
        e,
        -0x31i8,
        0x3142i16,
        0x52i8,
        -0x3344_5566i32,
        -0x3456i16,
        0x3516_2738_495a_6b7ci64,
        0xe6u8
    );
    take!(e, 1.5f32, -2.25f32, 3.125f32, -6.0625f64, -0x71i8, 0x7172i16);
    e
}

fn hfa_stack_expected() -> Expected {
    let mut e = Expected::new();
    take!(e, 0.5f64, 1.5f64, 2.5f64, 3.5f64, 4.5f64, 5.5f64, 6.5f64);
    take!(e, 10.25f64, -11.5f64, 12.75f64, -13.125f64, 14.5f32, -0x15i8);
    e
}

fn vsum_expected() -> u64 {
    let mut e = Expected::new();
    take!(e, -7i32, 0x1122_3344_5566_7788i64, 2.75f64, 0x66i32, -0x99i64, -1.125f64);
    e.hash
}

/// What `probe` returns for its stack arguments (-0x2a, 0x4b5c, -0x6d7e8f90).
const PROBE: u64 = 0xd6 | 0x4b5c << 8 | (0x9281_7070u64 << 24);

macro_rules! flavour_tests {
    ($flavour:ident, $seen:ident, $call_mixed:ident, $call_hfa_stack:ident, $call_vsum:ident,
     $call_probe:ident) => {
        mod $flavour {
            use super::*;

            // Calls without arguments and with integer results: the same convention on
            // Linux, Apple and Windows, so Rust can call these directly.
            extern "C" {
                fn $seen(which: i32, i: i32) -> u64;
                fn $call_mixed() -> u64;
                fn $call_hfa_stack() -> u64;
                fn $call_vsum() -> u64;
                fn $call_probe() -> u64;
            }

            fn check(which: i32, got: u64, expected: Expected) {
                for (i, want) in expected.seen.iter().enumerate() {
                    // SAFETY: `seen` only reads a static array, bounds-checked in C.
                    let seen = unsafe { $seen(which, i as i32) };
                    assert_eq!(seen, *want, "argument {i}: {seen:#x}, expected {want:#x}");
                }
                assert_eq!(got, expected.hash, "the callee's checksum");
            }

            #[test]
            fn many_small_integers_on_the_stack_an_hfa_and_a_small_struct() {
                // SAFETY: a C function without arguments (see the extern block).
                check(0, unsafe { $call_mixed() }, mixed_expected());
            }

            #[test]
            fn an_hfa_that_no_longer_fits_in_registers_goes_to_the_stack() {
                // SAFETY: as above.
                check(1, unsafe { $call_hfa_stack() }, hfa_stack_expected());
            }

            #[test]
            fn clang_variadic_caller_and_callee_agree() {
                // SAFETY: as above.
                assert_eq!(unsafe { $call_vsum() }, vsum_expected());
            }

            #[test]
            fn clang_caller_reaches_the_stack_arguments() {
                // SAFETY: as above.
                assert_eq!(unsafe { $call_probe() }, PROBE);
            }
        }
    };
}

flavour_tests!(
    apple,
    apple_seen,
    apple_call_mixed,
    apple_call_hfa_stack,
    apple_call_vsum,
    apple_call_probe
);
flavour_tests!(
    windows,
    windows_seen,
    windows_call_mixed,
    windows_call_hfa_stack,
    windows_call_vsum,
    windows_call_probe
);

// Linux-convention prototypes that reproduce each flavour's layout by hand. On Linux
// each stack argument takes an 8-byte slot and variadic doubles go in v registers.
// `apple_probe` is declared twice on purpose: the right layout and Linux's.
#[allow(clashing_extern_declarations)]
extern "C" {
    /// Apple packs `int8_t a, int16_t b, int32_t c` into one slot: a at [sp], b at
    /// [sp, #2], c at [sp, #4].
    #[link_name = "apple_probe"]
    fn apple_probe_packed(
        x0: i64,
        x1: i64,
        x2: i64,
        x3: i64,
        x4: i64,
        x5: i64,
        x6: i64,
        x7: i64,
        packed: u64,
    ) -> u64;
    /// The same callee through a Linux layout (one slot each).
    #[link_name = "apple_probe"]
    fn apple_probe_slots(
        x0: i64,
        x1: i64,
        x2: i64,
        x3: i64,
        x4: i64,
        x5: i64,
        x6: i64,
        x7: i64,
        a: u64,
        b: u64,
        c: u64,
    ) -> u64;
    /// Windows (like Linux) gives each its own slot.
    #[link_name = "windows_probe"]
    fn windows_probe_slots(
        x0: i64,
        x1: i64,
        x2: i64,
        x3: i64,
        x4: i64,
        x5: i64,
        x6: i64,
        x7: i64,
        a: u64,
        b: u64,
        c: u64,
    ) -> u64;
    /// Apple passes every variadic argument on the stack, one 8-byte slot each: the
    /// seven padding registers push the rest there.
    #[link_name = "apple_vsum"]
    fn apple_vsum_stack(
        n: i32,
        p1: u64,
        p2: u64,
        p3: u64,
        p4: u64,
        p5: u64,
        p6: u64,
        p7: u64,
        i0: i64,
        w0: i64,
        d0: u64,
        i1: i64,
        w1: i64,
        d1: u64,
    ) -> u64;
    /// Windows passes variadic doubles in integer registers.
    #[link_name = "windows_vsum"]
    fn windows_vsum_int_regs(n: i32, i0: i64, w0: i64, d0: u64, i1: i64, w1: i64, d1: u64) -> u64;
}

const PROBE_A: u64 = 0xd6; // -0x2a as a byte
const PROBE_B: u64 = 0x4b5c;
const PROBE_C: u64 = 0x9281_7070; // -0x6d7e8f90 as 32 bits

#[test]
fn apple_packs_small_stack_arguments_at_their_natural_alignment() {
    let packed = PROBE_A | PROBE_B << 16 | PROBE_C << 32;
    // SAFETY: apple_probe reads eight registers and the eight bytes at [sp], which this
    // prototype passes as `packed`.
    let got = unsafe { apple_probe_packed(1, 2, 3, 4, 5, 6, 7, 8, packed) };
    assert_eq!(got, PROBE);
    // The Linux layout (one slot each) is not what the Apple callee reads: it finds b and
    // c in the upper bytes of a's slot.
    // SAFETY: three slots passed; apple_probe reads only the first one.
    let linux_layout =
        unsafe { apple_probe_slots(1, 2, 3, 4, 5, 6, 7, 8, PROBE_A, PROBE_B, PROBE_C) };
    assert_eq!(linux_layout, PROBE_A, "the Apple callee read Linux's layout");
}

#[test]
fn windows_gives_each_stack_argument_its_own_slot() {
    // SAFETY: windows_probe reads eight registers and three 8-byte slots, passed here.
    let got = unsafe { windows_probe_slots(1, 2, 3, 4, 5, 6, 7, 8, PROBE_A, PROBE_B, PROBE_C) };
    assert_eq!(got, PROBE);
}

#[test]
fn apple_variadic_arguments_all_go_on_the_stack() {
    // SAFETY: apple_vsum(2, ...) reads six variadic slots from the stack, passed here.
    let got = unsafe {
        apple_vsum_stack(
            2,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            -7,
            0x1122_3344_5566_7788,
            2.75f64.to_bits(),
            0x66,
            -0x99,
            (-1.125f64).to_bits(),
        )
    };
    assert_eq!(got, vsum_expected());
}

#[test]
fn windows_variadic_doubles_go_in_integer_registers() {
    // SAFETY: windows_vsum(2, ...) reads six variadic arguments from x1..x6, passed here.
    let got = unsafe {
        windows_vsum_int_regs(
            2,
            -7,
            0x1122_3344_5566_7788,
            2.75f64.to_bits(),
            0x66,
            -0x99,
            (-1.125f64).to_bits(),
        )
    };
    assert_eq!(got, vsum_expected());
}

/// What `features(i)` computes (see c/features.c).
fn features_expected(i: i32) -> u64 {
    let table = [1.5f64, 2.25, 3.125, 4.0625];
    let len = "hi;there // \"_q\"".len() as i64;
    let op = if i & 1 == 0 { 2 * i } else { 3 * i };
    let scaled = (table[(i & 3) as usize] * 1.000001 * 1000.0) as i64;
    let big = i64::from((i * 1000) % 9000) & 0x7f;
    (len + i64::from(op) + 2 + 10 * i64::from(i) + i64::from(i) + 1 + 2 + scaled + big) as u64
}

extern "C" {
    fn apple_features(i: i32) -> u64;
    fn windows_features(i: i32) -> u64;
}

#[test]
fn data_constants_and_large_frames_survive_the_rewrite() {
    for i in [0, 1, 2, 7] {
        // SAFETY: features(int32_t) -> uint64_t, the same convention on all three OSes.
        assert_eq!(unsafe { apple_features(i) }, features_expected(i), "apple, i = {i}");
        // SAFETY: as above.
        assert_eq!(unsafe { windows_features(i) }, features_expected(i), "windows, i = {i}");
    }
}
