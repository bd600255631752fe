//! jitcall's `long double` conversions (`src/ldouble.rs`) against the C compiler's own.
//!
//! The oracle (`tests/conformance-c/c/ldouble.c`) converts at run time in the hardware (x87
//! `fld`/`fst`) or libgcc's soft-fp (`__extenddftf2`, `__trunctfdf2`), built at -O0 and at
//! -O2. Each target checks the formats its C compiler has: x86-64 both (x87 `long double`,
//! `__float128`), AArch64 Linux binary128 (`long double`).
//!
//! - `random_*`: at least `RANDOM_PATTERNS` seeded random bit patterns per format and
//!   direction, drawn so that the edge classes come up often (NaNs, subnormals, the edges of
//!   f64's range, rounding ties at every bit position, non-canonical x87 encodings).
//! - One test per edge class, each with the expected result written out: checked against
//!   jitcall and, where the target has the format, against the C compiler (so the written
//!   expectations are the hardware's, and targets without the format still check jitcall).

use jitcall::ldouble::{
    binary128_to_f64, f64_to_binary128, f64_to_x87, x87_to_f64, Format, LongDouble,
    X87_INDEFINITE_F64,
};
#[allow(unused_imports)]
use jitcall_conformance_c::ldouble::{self as oracle, OPTS};

/// Random patterns per format and direction (each checked in both oracle builds).
const RANDOM_PATTERNS: usize = 100_000;
const SEED: u64 = 0x1d0b_1e5e_ed00_0001;

/// Whether the C compiler of this target has each format.
const HAVE_X87: bool = cfg!(target_arch = "x86_64");
const HAVE_BINARY128: bool =
    cfg!(any(target_arch = "x86_64", all(target_arch = "aarch64", target_os = "linux")));

/// splitmix64: small, seeded, good enough to spread bit patterns.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn bit(&mut self) -> bool {
        self.next() & 1 != 0
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// A random f64 bit pattern: uniform bits half of the time, else one of the edge classes.
fn random_f64_bits(rng: &mut Rng) -> u64 {
    let sign = rng.next() & (1 << 63);
    let fraction = sparse_or_uniform(rng, 52);
    let exponent = match rng.below(8) {
        0..=3 => return rng.next(),
        4 => 0,     // zeros and subnormals
        5 => 0x7FF, // infinities and NaNs, quiet and signalling
        6 => rng.pick(&[1, 2, 1022, 1023, 1024, 2045, 2046]),
        _ => rng.below(0x800),
    };
    sign | (exponent << 52) | fraction
}

/// `bits` random bits, or a sparse pattern (a few bits set, or all but a few), which makes
/// ties, NaN payloads without the top bits and the like come up.
fn sparse_or_uniform(rng: &mut Rng, bits: u32) -> u64 {
    let mask = if bits == 64 { u64::MAX } else { (1 << bits) - 1 };
    match rng.below(4) {
        0 => (1u64 << rng.below(u64::from(bits))) | (1u64 << rng.below(u64::from(bits))),
        1 => !(1u64 << rng.below(u64::from(bits))) & mask,
        _ => rng.next() & mask,
    }
}

/// A 128-bit significand pattern of `bits` bits whose low part, below a random position,
/// is a rounding tie, just below or just above one, or zero; or uniform bits.
fn tie_pattern(rng: &mut Rng, bits: u32) -> u128 {
    let mask = if bits == 128 { u128::MAX } else { (1u128 << bits) - 1 };
    let high = (u128::from(rng.next()) << 64 | u128::from(rng.next())) & mask;
    if rng.bit() {
        return high;
    }
    let k = 1 + rng.below(u64::from(bits) - 1) as u32; // the tie's position: bit k-1
    let half = 1u128 << (k - 1);
    let low = match rng.below(4) {
        0 => half,
        1 => half - 1,
        2 => half + 1,
        _ => 0,
    };
    let low_mask = (1u128 << k) - 1;
    ((high & !low_mask) | (low & low_mask)) & mask
}

/// A biased exponent of a wide format: uniform, near f64's range and its edges, or special.
fn random_wide_exponent(rng: &mut Rng) -> u16 {
    const BIAS: i64 = 16383;
    let e = match rng.below(8) {
        0 | 1 => rng.below(0x8000) as i64,
        2 => rng.pick(&[0, 0x7FFF]),
        3 => BIAS - 1022 + rng.below(5) as i64 - 2, // f64's smallest normals
        4 => BIAS - 1096 + rng.below(80) as i64,    // f64's subnormals and below
        5 => BIAS + 1023 + rng.below(4) as i64 - 1, // f64's largest, and overflow
        _ => BIAS - 1080 + rng.below(2110) as i64,  // anywhere in f64's range
    };
    e as u16
}

/// A random x87 image: canonical most of the time, with unnormals, pseudo-denormals,
/// pseudo-NaNs and pseudo-infinities among them (integer bit random in a quarter).
fn random_x87(rng: &mut Rng) -> LongDouble {
    let exponent = random_wide_exponent(rng);
    let mut significand = tie_pattern(rng, 64) as u64;
    if rng.below(4) != 0 {
        significand |= 1 << 63;
    }
    let mut image = LongDouble::x87_from_parts(rng.bit(), exponent, significand);
    if rng.below(16) == 0 {
        image.0[10..].iter_mut().for_each(|b| *b = rng.next() as u8); // padding is ignored
    }
    image
}

/// A random binary128 image.
fn random_binary128(rng: &mut Rng) -> LongDouble {
    let exponent = random_wide_exponent(rng);
    let fraction = tie_pattern(rng, 112);
    LongDouble::binary128_from_parts(rng.bit(), exponent, fraction)
}

fn hex(image: &LongDouble) -> String {
    image.0.iter().rev().map(|b| format!("{b:02x}")).collect()
}

/// Panics with the first mismatches, if any.
fn report(what: &str, checked: usize, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{what}: {} of {checked} differ from the C compiler; first:\n{}",
        failures.len(),
        failures.iter().take(10).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// The C compiler's conversion of `bits` into `format`, in the oracle build `opt`.
#[allow(unused_variables)]
fn c_from_f64(format: Format, opt: oracle::Opt, bits: u64) -> [u8; 16] {
    match format {
        #[cfg(target_arch = "x86_64")]
        Format::X87 => oracle::x87_from_f64(opt, bits),
        #[cfg(any(target_arch = "x86_64", all(target_arch = "aarch64", target_os = "linux")))]
        Format::Binary128 => oracle::binary128_from_f64(opt, bits),
        #[allow(unreachable_patterns)]
        _ => unreachable!("no C conversion for {format:?} on this target"),
    }
}

/// The C compiler's conversion of `image` (in `format`) to f64 bits.
#[allow(unused_variables)]
fn c_to_f64(format: Format, opt: oracle::Opt, image: &LongDouble) -> u64 {
    match format {
        #[cfg(target_arch = "x86_64")]
        Format::X87 => oracle::x87_to_f64(opt, &image.0),
        #[cfg(any(target_arch = "x86_64", all(target_arch = "aarch64", target_os = "linux")))]
        Format::Binary128 => oracle::binary128_to_f64(opt, &image.0),
        #[allow(unreachable_patterns)]
        _ => unreachable!("no C conversion for {format:?} on this target"),
    }
}

fn have(format: Format) -> bool {
    match format {
        Format::X87 => HAVE_X87,
        Format::Binary128 => HAVE_BINARY128,
    }
}

/// Whether the C compiler's write of a signalling NaN into `format` is the one jitcall
/// follows. jitcall's binary128 is AArch64 Linux's `long double`, whose libgcc (like x86-64
/// Linux's) keeps a signalling NaN signalling when widening; mingw's `__float128`
/// conversion quiets it, so on Windows only the other values are compared.
fn c_writes_nans_as_jitcall(format: Format) -> bool {
    !(format == Format::Binary128 && cfg!(windows))
}

fn is_signalling_nan(bits: u64) -> bool {
    f64::from_bits(bits).is_nan() && bits & (1 << 51) == 0
}

/// Writes `RANDOM_PATTERNS` random f64s into `format`; returns how many were checked.
fn random_writes(format: Format, seed: u64) -> usize {
    let mut rng = Rng(seed);
    let mut failures = Vec::new();
    for _ in 0..RANDOM_PATTERNS {
        let bits = random_f64_bits(&mut rng);
        let ours = LongDouble::from_f64(format, f64::from_bits(bits));
        if is_signalling_nan(bits) && !c_writes_nans_as_jitcall(format) {
            continue;
        }
        for opt in OPTS {
            let c = LongDouble(c_from_f64(format, opt, bits));
            if ours != c {
                failures.push(format!(
                    "{bits:#018x}: jitcall {} C {opt:?} {}",
                    hex(&ours),
                    hex(&c)
                ));
            }
        }
    }
    report(&format!("f64 -> {format:?}"), RANDOM_PATTERNS, &failures);
    RANDOM_PATTERNS
}

/// Reads `RANDOM_PATTERNS` random images of `format`; NaNs compared by their exact bits.
fn random_reads(format: Format, seed: u64, image: fn(&mut Rng) -> LongDouble) -> usize {
    let mut rng = Rng(seed);
    let mut failures = Vec::new();
    for _ in 0..RANDOM_PATTERNS {
        let image = image(&mut rng);
        let ours = image.to_f64(format).to_bits();
        for opt in OPTS {
            let c = c_to_f64(format, opt, &image);
            if ours != c {
                failures.push(format!("{}: jitcall {ours:#018x} C {opt:?} {c:#018x}", hex(&image)));
            }
        }
    }
    report(&format!("{format:?} -> f64"), RANDOM_PATTERNS, &failures);
    RANDOM_PATTERNS
}

#[test]
#[cfg(target_arch = "x86_64")]
fn random_f64_to_x87() {
    assert_eq!(random_writes(Format::X87, SEED), RANDOM_PATTERNS);
}

#[test]
#[cfg(target_arch = "x86_64")]
fn random_x87_to_f64() {
    assert_eq!(random_reads(Format::X87, SEED + 1, random_x87), RANDOM_PATTERNS);
}

#[test]
#[cfg(any(target_arch = "x86_64", all(target_arch = "aarch64", target_os = "linux")))]
fn random_f64_to_binary128() {
    assert_eq!(random_writes(Format::Binary128, SEED + 2), RANDOM_PATTERNS);
}

#[test]
#[cfg(any(target_arch = "x86_64", all(target_arch = "aarch64", target_os = "linux")))]
fn random_binary128_to_f64() {
    assert_eq!(random_reads(Format::Binary128, SEED + 3, random_binary128), RANDOM_PATTERNS);
}

/// The random reads must really reach the classes they are meant to cover.
#[test]
fn random_patterns_reach_every_class() {
    let mut rng = Rng(SEED + 1);
    let mut seen = [0usize; 7];
    for _ in 0..RANDOM_PATTERNS {
        let (_, e, s) = random_x87(&mut rng).x87_parts();
        let integer = s >> 63 != 0;
        let class = match (e, integer) {
            (0, true) => 0,                                // pseudo-denormal
            (0x7FFF, false) => 1,                          // pseudo-NaN / pseudo-infinity
            (0x7FFF, true) if s << 1 != 0 => 2,            // NaN
            (_, false) if e != 0 => 3,                     // unnormal
            (e, true) if (15309..15361).contains(&e) => 4, // f64 subnormal range
            (e, true) if e > 16383 + 1023 => 5,            // overflow
            _ => 6,
        };
        seen[class] += 1;
    }
    assert!(seen.iter().all(|&n| n >= 500), "x87 classes seen: {seen:?}");
}

/// Checks that reading `image` as `format` gives the f64 with bits `expected`, in jitcall
/// and (when the target has the format) in both C builds.
fn check_read(format: Format, class: &str, image: LongDouble, expected: u64) {
    let ours = image.to_f64(format).to_bits();
    assert_eq!(ours, expected, "{class}: jitcall reads {format:?} {}", hex(&image));
    if have(format) {
        for opt in OPTS {
            let c = c_to_f64(format, opt, &image);
            assert_eq!(c, expected, "{class}: C {opt:?} reads {format:?} {}", hex(&image));
        }
    }
}

/// Checks that writing the f64 with bits `bits` into `format` gives `expected`, in jitcall
/// and (when the target has the format) in both C builds; and that it reads back.
fn check_write(format: Format, class: &str, bits: u64, expected: LongDouble) {
    let ours = LongDouble::from_f64(format, f64::from_bits(bits));
    assert_eq!(hex(&ours), hex(&expected), "{class}: jitcall writes {bits:#018x}");
    if have(format) && (c_writes_nans_as_jitcall(format) || !is_signalling_nan(bits)) {
        for opt in OPTS {
            let c = LongDouble(c_from_f64(format, opt, bits));
            assert_eq!(hex(&c), hex(&expected), "{class}: C {opt:?} writes {bits:#018x}");
        }
    }
    let quieted = if f64::from_bits(bits).is_nan() { bits | 1 << 51 } else { bits };
    check_read(format, class, expected, quieted);
}

fn x87(negative: bool, exponent: u16, significand: u64) -> LongDouble {
    LongDouble::x87_from_parts(negative, exponent, significand)
}

fn b128(negative: bool, exponent: u16, fraction: u128) -> LongDouble {
    LongDouble::binary128_from_parts(negative, exponent, fraction)
}

/// The x87 exponent of 2^e.
fn xe(e: i32) -> u16 {
    (16383 + e) as u16
}

const X: Format = Format::X87;
const Q: Format = Format::Binary128;
const INT: u64 = 1 << 63;
const F64_MIN_SUBNORMAL: u64 = 1;
const F64_MAX_SUBNORMAL: u64 = 0x000F_FFFF_FFFF_FFFF;
const F64_MIN_NORMAL: u64 = 0x0010_0000_0000_0000;
const F64_MAX: u64 = 0x7FEF_FFFF_FFFF_FFFF;
const F64_INF: u64 = 0x7FF0_0000_0000_0000;
const F64_NEG: u64 = 1 << 63;
const F64_QNAN: u64 = 0x7FF8_0000_0000_0000;

#[test]
fn x87_zero_signs() {
    check_write(X, "+0", 0, x87(false, 0, 0));
    check_write(X, "-0", F64_NEG, x87(true, 0, 0));
}

#[test]
fn x87_f64_subnormals() {
    check_write(X, "min subnormal", F64_MIN_SUBNORMAL, x87(false, xe(-1074), INT));
    check_write(X, "-min subnormal", F64_NEG | 1, x87(true, xe(-1074), INT));
    check_write(X, "max subnormal", F64_MAX_SUBNORMAL, x87(false, xe(-1023), !0 << 12));
    check_write(X, "min normal", F64_MIN_NORMAL, x87(false, xe(-1022), INT));
    check_write(X, "subnormal 0x5", 5, x87(false, xe(-1072), 0xA000_0000_0000_0000));
}

#[test]
fn x87_denormals_and_tiny_normals_read_as_zero() {
    check_read(X, "min x87 denormal", x87(false, 0, 1), 0);
    check_read(X, "-max x87 denormal", x87(true, 0, INT - 1), F64_NEG);
    check_read(X, "min x87 normal", x87(false, 1, INT), 0);
    check_read(X, "below half of f64's min subnormal", x87(true, xe(-1076), !0), F64_NEG);
}

#[test]
fn x87_max_finite() {
    check_write(X, "f64 max", F64_MAX, x87(false, xe(1023), !0 << 11));
    check_write(X, "-f64 max", F64_NEG | F64_MAX, x87(true, xe(1023), !0 << 11));
    check_read(X, "x87 max finite", x87(false, 0x7FFE, !0), F64_INF);
    check_read(X, "-x87 max finite", x87(true, 0x7FFE, !0), F64_NEG | F64_INF);
}

#[test]
fn x87_overflow_to_infinity() {
    let max = !0u64 << 11;
    check_read(X, "f64 max + below half ulp", x87(false, xe(1023), max | 0x3FF), F64_MAX);
    check_read(X, "f64 max + half ulp (tie, odd)", x87(false, xe(1023), max | 0x400), F64_INF);
    check_read(X, "2^1024", x87(true, xe(1024), INT), F64_NEG | F64_INF);
    check_write(X, "+inf", F64_INF, x87(false, 0x7FFF, INT));
    check_write(X, "-inf", F64_NEG | F64_INF, x87(true, 0x7FFF, INT));
}

#[test]
fn x87_round_to_even_ties() {
    let one = 0x3FF0_0000_0000_0000;
    check_read(X, "1 + half ulp -> 1", x87(false, xe(0), INT | 0x400), one);
    check_read(X, "1 + 3 half ulps -> 1 + 2 ulps", x87(false, xe(0), INT | 0xC00), one + 2);
    check_read(X, "1 + half ulp + tiny -> 1 + ulp", x87(false, xe(0), INT | 0x401), one + 1);
    check_read(X, "1 + below half ulp -> 1", x87(false, xe(0), INT | 0x3FF), one);
    check_read(X, "all ones -> 2", x87(false, xe(0), !0), 0x4000_0000_0000_0000);
}

#[test]
fn x87_underflow_into_f64_subnormals() {
    // value = significand * 2^(exponent - 16383 - 63)
    check_read(X, "2^-1075 (tie) -> 0", x87(false, xe(-1075), INT), 0);
    check_read(X, "2^-1075 + tiny -> min subnormal", x87(false, xe(-1075), INT | 1), 1);
    check_read(X, "1.5 * 2^-1074 (tie) -> 2 units", x87(false, xe(-1074), 0xC000 << 48), 2);
    check_read(X, "2.5 units (tie) -> 2 units", x87(false, xe(-1073), 0xA000 << 48), 2);
    // Rounding to 53 bits first would drop the tiny part and make a tie: round once.
    let no_double_rounding = x87(false, xe(-1073), (0xA000 << 48) | 4);
    check_read(X, "2.5 units + tiny -> 3 units", no_double_rounding, 3);
    check_read(X, "just below min normal -> min normal", x87(false, xe(-1023), !0), F64_MIN_NORMAL);
    check_read(X, "max subnormal exactly", x87(false, xe(-1023), !0 << 12), F64_MAX_SUBNORMAL);
    check_read(
        X,
        "-(max subnormal + half unit) (tie) -> -min normal",
        x87(true, xe(-1023), !0 << 11),
        F64_NEG | F64_MIN_NORMAL,
    );
}

#[test]
fn x87_quiet_and_signalling_nans() {
    // Writing: the payload goes to the top, the x87 load quiets a signalling NaN.
    check_write(X, "quiet NaN", F64_QNAN, x87(false, 0x7FFF, 0xC000 << 48));
    check_write(X, "quiet NaN payload", F64_QNAN | 1, x87(false, 0x7FFF, (0xC000 << 48) | 1 << 11));
    check_write(X, "signalling NaN", F64_INF | 1, x87(false, 0x7FFF, (0xC000 << 48) | 1 << 11));
    let s = F64_NEG | F64_INF | 0x0005_0000_0000_0000;
    check_write(X, "-signalling NaN", s, x87(true, 0x7FFF, 0xE800 << 48));
    // Reading: quiet, the top 51 fraction bits kept, the rest dropped.
    check_read(X, "x87 quiet NaN", x87(false, 0x7FFF, 0xC000 << 48), F64_QNAN);
    check_read(X, "x87 indefinite", x87(true, 0x7FFF, 0xC000 << 48), X87_INDEFINITE_F64);
    check_read(X, "x87 signalling NaN", x87(false, 0x7FFF, 0xA000 << 48), F64_QNAN | 1 << 50);
    check_read(X, "payload below f64's", x87(true, 0x7FFF, INT | 0x7FF), F64_NEG | F64_QNAN);
    check_read(X, "full payload", x87(false, 0x7FFF, !0), 0x7FFF_FFFF_FFFF_FFFF);
}

#[test]
fn x87_pseudo_denormals() {
    check_read(X, "pseudo-denormal", x87(false, 0, INT), 0);
    check_read(X, "-pseudo-denormal", x87(true, 0, !0), F64_NEG);
}

#[test]
fn x87_unnormals() {
    check_read(X, "unnormal 1", x87(false, xe(0), 0x4000 << 48), X87_INDEFINITE_F64);
    check_read(X, "-unnormal", x87(true, xe(-1030), 1), X87_INDEFINITE_F64);
    check_read(X, "pseudo-zero", x87(false, xe(5), 0), X87_INDEFINITE_F64);
    check_read(X, "unnormal, exponent 1", x87(false, 1, INT - 1), X87_INDEFINITE_F64);
    check_read(X, "unnormal, max exponent", x87(false, 0x7FFE, INT - 1), X87_INDEFINITE_F64);
}

#[test]
fn x87_pseudo_nans() {
    check_read(X, "pseudo-NaN quiet", x87(false, 0x7FFF, 0x4000 << 48), X87_INDEFINITE_F64);
    check_read(X, "pseudo-NaN signalling", x87(true, 0x7FFF, 1), X87_INDEFINITE_F64);
    check_read(X, "pseudo-NaN all ones", x87(false, 0x7FFF, INT - 1), X87_INDEFINITE_F64);
}

#[test]
fn x87_pseudo_infinities() {
    check_read(X, "pseudo-infinity", x87(false, 0x7FFF, 0), X87_INDEFINITE_F64);
    check_read(X, "-pseudo-infinity", x87(true, 0x7FFF, 0), X87_INDEFINITE_F64);
}

#[test]
fn x87_padding_is_zero_and_ignored() {
    assert_eq!(f64_to_x87(-1.5)[10..], [0; 6]);
    let mut image = x87(false, xe(0), INT);
    image.0[10..].copy_from_slice(&[0xFF; 6]);
    check_read(X, "1 with padding", image, 0x3FF0_0000_0000_0000);
}

/// The binary128 exponent of 2^e.
fn qe(e: i32) -> u16 {
    xe(e)
}

const Q_TOP: u128 = 1 << 111;

#[test]
fn binary128_zero_signs() {
    check_write(Q, "+0", 0, b128(false, 0, 0));
    check_write(Q, "-0", F64_NEG, b128(true, 0, 0));
}

#[test]
fn binary128_f64_subnormals() {
    check_write(Q, "min subnormal", F64_MIN_SUBNORMAL, b128(false, qe(-1074), 0));
    check_write(Q, "-min subnormal", F64_NEG | 1, b128(true, qe(-1074), 0));
    let max_sub_fraction = ((1u128 << 112) - 1) & !((1 << 61) - 1);
    check_write(Q, "max subnormal", F64_MAX_SUBNORMAL, b128(false, qe(-1023), max_sub_fraction));
    check_write(Q, "min normal", F64_MIN_NORMAL, b128(false, qe(-1022), 0));
    check_write(Q, "subnormal 0x5", 5, b128(false, qe(-1072), 1 << 110));
}

#[test]
fn binary128_subnormals_and_tiny_normals_read_as_zero() {
    check_read(Q, "min binary128 subnormal", b128(false, 0, 1), 0);
    check_read(Q, "-max binary128 subnormal", b128(true, 0, (1 << 112) - 1), F64_NEG);
    check_read(Q, "min binary128 normal", b128(false, 1, 0), 0);
    check_read(
        Q,
        "below half of f64's min subnormal",
        b128(true, qe(-1076), (1 << 112) - 1),
        F64_NEG,
    );
}

#[test]
fn binary128_max_finite() {
    let f64_max_fraction = ((1u128 << 112) - 1) & !((1 << 60) - 1);
    check_write(Q, "f64 max", F64_MAX, b128(false, qe(1023), f64_max_fraction));
    check_write(Q, "-f64 max", F64_NEG | F64_MAX, b128(true, qe(1023), f64_max_fraction));
    check_read(Q, "binary128 max finite", b128(false, 0x7FFE, (1 << 112) - 1), F64_INF);
    check_read(Q, "-binary128 max finite", b128(true, 0x7FFE, (1 << 112) - 1), F64_NEG | F64_INF);
}

#[test]
fn binary128_overflow_to_infinity() {
    let max = ((1u128 << 112) - 1) & !((1 << 60) - 1);
    let half = 1u128 << 59;
    check_read(Q, "f64 max + below half ulp", b128(false, qe(1023), max | (half - 1)), F64_MAX);
    check_read(Q, "f64 max + half ulp (tie, odd)", b128(false, qe(1023), max | half), F64_INF);
    check_read(Q, "2^1024", b128(true, qe(1024), 0), F64_NEG | F64_INF);
    check_write(Q, "+inf", F64_INF, b128(false, 0x7FFF, 0));
    check_write(Q, "-inf", F64_NEG | F64_INF, b128(true, 0x7FFF, 0));
}

#[test]
fn binary128_round_to_even_ties() {
    let one = 0x3FF0_0000_0000_0000;
    let half = 1u128 << 59;
    check_read(Q, "1 + half ulp -> 1", b128(false, qe(0), half), one);
    check_read(Q, "1 + 3 half ulps -> 1 + 2 ulps", b128(false, qe(0), 3 * half), one + 2);
    check_read(Q, "1 + half ulp + tiny -> 1 + ulp", b128(false, qe(0), half | 1), one + 1);
    check_read(Q, "1 + below half ulp -> 1", b128(false, qe(0), half - 1), one);
    check_read(Q, "all ones -> 2", b128(false, qe(0), (1 << 112) - 1), 0x4000_0000_0000_0000);
}

#[test]
fn binary128_underflow_into_f64_subnormals() {
    // value = (2^112 + fraction) * 2^(exponent - 16383 - 112)
    check_read(Q, "2^-1075 (tie) -> 0", b128(false, qe(-1075), 0), 0);
    check_read(Q, "2^-1075 + tiny -> min subnormal", b128(false, qe(-1075), 1), 1);
    check_read(Q, "1.5 * 2^-1074 (tie) -> 2 units", b128(false, qe(-1074), Q_TOP), 2);
    check_read(Q, "2.5 units (tie) -> 2 units", b128(false, qe(-1073), 1 << 110), 2);
    // Rounding to 53 bits first would drop the tiny part and make a tie: round once.
    check_read(Q, "2.5 units + tiny -> 3 units", b128(false, qe(-1073), (1 << 110) | 1), 3);
    let below_min_normal = b128(false, qe(-1023), (1 << 112) - 1);
    check_read(Q, "just below min normal -> min normal", below_min_normal, F64_MIN_NORMAL);
    let max_sub_fraction = ((1u128 << 112) - 1) & !((1 << 61) - 1);
    check_read(
        Q,
        "max subnormal exactly",
        b128(false, qe(-1023), max_sub_fraction),
        F64_MAX_SUBNORMAL,
    );
}

#[test]
fn binary128_quiet_and_signalling_nans() {
    check_write(Q, "quiet NaN", F64_QNAN, b128(false, 0x7FFF, Q_TOP));
    check_write(Q, "quiet NaN payload", F64_QNAN | 1, b128(false, 0x7FFF, Q_TOP | 1 << 60));
    // soft-fp's __extenddftf2 keeps a signalling NaN signalling (the x87 quiets it).
    check_write(Q, "signalling NaN", F64_INF | 1, b128(false, 0x7FFF, 1 << 60));
    let s = F64_NEG | F64_INF | 0x0005_0000_0000_0000;
    check_write(Q, "-signalling NaN", s, b128(true, 0x7FFF, 5 << 108));
    check_read(Q, "binary128 quiet NaN", b128(false, 0x7FFF, Q_TOP), F64_QNAN);
    check_read(Q, "-binary128 quiet NaN", b128(true, 0x7FFF, Q_TOP), F64_NEG | F64_QNAN);
    check_read(Q, "binary128 signalling NaN", b128(false, 0x7FFF, 1 << 110), F64_QNAN | 1 << 50);
    check_read(Q, "payload below f64's", b128(true, 0x7FFF, (1 << 60) - 1), F64_NEG | F64_QNAN);
    check_read(Q, "full payload", b128(false, 0x7FFF, (1 << 112) - 1), 0x7FFF_FFFF_FFFF_FFFF);
}

#[test]
fn free_functions_match_the_image_type() {
    for x in [0.0, -2.5, 1e300, 5e-324, f64::NEG_INFINITY] {
        assert_eq!(f64_to_x87(x), LongDouble::from_f64(X, x).0);
        assert_eq!(f64_to_binary128(x), LongDouble::from_f64(Q, x).0);
        assert_eq!(x87_to_f64(&f64_to_x87(x)).to_bits(), x.to_bits());
        assert_eq!(binary128_to_f64(&f64_to_binary128(x)).to_bits(), x.to_bits());
    }
    let image = x87(true, 0x1234, 0x8765_4321_0FED_CBA9);
    assert_eq!(image.x87_parts(), (true, 0x1234, 0x8765_4321_0FED_CBA9));
    let image = b128(true, 0x4321, 0xABCD << 96 | 7);
    assert_eq!(image.binary128_parts(), (true, 0x4321, 0xABCD << 96 | 7));
}
