//! Where the two AArch64 flavours put arguments, checked against their platforms' documents,
//! not against what the classifier happens to do:
//! - `:aapcs64-apple`, Apple's "Writing ARM64 code for Apple platforms": stack arguments
//!   at their natural size and alignment ("an `int8_t` after eight registers' worth sits at
//!   `[sp]`, an `int16_t` next at `[sp, #2]`"); every variadic argument on the stack in
//!   8-byte slots; the caller extends integers narrower than 32 bits to 32; `long double`
//!   is `double`.
//! - `:aapcs64-win`, Microsoft's "Overview of ARM64 ABI conventions": variadic floating-point
//!   values in general registers and on the stack, never in vector registers; variadic
//!   homogeneous aggregates passed as plain composites; a variadic composite that reaches
//!   x7 split between x7 and the stack (the "imaginary stack" of rules C.12-C.15 whose
//!   first 64 bytes are x0-x7); `long double` is `double`.
//!
//! Also: no emitted AArch64 code names x18 (reserved on both platforms).
//! The plans are pure data: these tests run on every host.

use jitcall::internals::arch::{
    classify, emit_callback_handler, emit_thunk, ArgSource, BlockLayout, CodeBuffer, ErrnoAccess,
    HandlerKind,
};
use jitcall::{ffi, syntax, Abi, Signature, Type, Wide};
use jitcall::{ArgPlan, CallPlan, Extension, Location, Part, RetPlan};
use yaxpeax_arch::{Decoder, U8Reader};
use yaxpeax_arm::armv8::a64::InstDecoder;

use Location::{ArgGpr, Fpr, Stack};

const APPLE: Abi = Abi::Aapcs64Apple;
const WIN: Abi = Abi::Aapcs64Win;

fn ty(text: &str) -> Type {
    let value = syntax::read(text).unwrap_or_else(|e| panic!("reading {text}: {e}"));
    ffi::native_type(&value).unwrap_or_else(|e| panic!("type {text}: {e}"))
}

fn types(texts: &[&str]) -> Vec<Type> {
    texts.iter().map(|t| ty(t)).collect()
}

fn plan(abi: Abi, ret: &str, params: &[&str]) -> CallPlan {
    let sig = Signature::new(abi, ty(ret), types(params));
    classify(&sig).unwrap_or_else(|e| panic!("{params:?}: {e}"))
}

fn variadic(abi: Abi, fixed: &[&str], rest: &[&str]) -> CallPlan {
    let sig = Signature::variadic(abi, ty(":int"), types(fixed), types(rest));
    classify(&sig).unwrap_or_else(|e| panic!("{fixed:?} ... {rest:?}: {e}"))
}

fn parts(plan: &CallPlan, i: usize) -> &[Part] {
    match &plan.args[i] {
        ArgPlan::Direct(parts) => parts,
        other => panic!("argument {i} is {other:?}"),
    }
}

/// Where each piece of argument `i` goes.
fn dests(plan: &CallPlan, i: usize) -> Vec<Location> {
    parts(plan, i).iter().map(|p| p.dest).collect()
}

/// Eight 8-byte integers: x0-x7 taken.
fn eight_ints() -> Vec<&'static str> {
    vec![":int64"; 8]
}

fn with(mut first: Vec<&'static str>, rest: &[&'static str]) -> Vec<&'static str> {
    first.extend_from_slice(rest);
    first
}

// ---------------------------------------------------------------------------------------
// Apple

/// Apple: "Function arguments may consume slots on the stack that are not multiples of 8
/// bytes": after x0-x7, an `int8_t` at `[sp]`, an `int16_t` at `[sp, #2]`, an `int32_t` at
/// `[sp, #4]`, then each at its natural alignment; the area padded to 8 bytes.
#[test]
fn apple_packs_stack_arguments_at_their_natural_size_and_alignment() {
    let params = with(eight_ints(), &[":int8", ":int16", ":int32", ":int8", ":int64", ":int8"]);
    let apple = plan(APPLE, ":void", &params);
    let at: Vec<Vec<Location>> = (8..14).map(|i| dests(&apple, i)).collect();
    assert_eq!(
        at,
        [[Stack(0)], [Stack(2)], [Stack(4)], [Stack(8)], [Stack(16)], [Stack(24)]].map(Vec::from)
    );
    assert_eq!(apple.stack_bytes, 32);
    // The standard (Linux) gives every one an 8-byte slot.
    let linux = plan(Abi::Aapcs64, ":void", &params);
    let at: Vec<Location> = (8..14).map(|i| dests(&linux, i)[0]).collect();
    assert_eq!(at, [0, 8, 16, 24, 32, 40].map(Stack));
    assert_eq!(linux.stack_bytes, 48);
}

/// Floats on the stack pack too (4 bytes each), and so does a homogeneous aggregate of
/// floats (12 bytes at 4-byte alignment); a composite that is no HFA keeps 8-byte words
/// (clang passes it as an array of 64-bit integers).
#[test]
fn apple_packs_floats_and_hfas_but_not_other_composites() {
    let params = with(vec![":double"; 8], &[":float", ":float", "[:float :float :float]"]);
    let apple = plan(APPLE, ":void", &params);
    assert_eq!(dests(&apple, 8), [Stack(0)]);
    assert_eq!(dests(&apple, 9), [Stack(4)]);
    assert_eq!(dests(&apple, 10), [Stack(8), Stack(16)]);
    assert_eq!(apple.stack_bytes, 24);

    let params = with(eight_ints(), &[":int8", "[:char :char :char]", ":int8"]);
    let apple = plan(APPLE, ":void", &params);
    assert_eq!(dests(&apple, 8), [Stack(0)]);
    assert_eq!(dests(&apple, 9), [Stack(8)]);
    assert_eq!(dests(&apple, 10), [Stack(16)]);
    assert_eq!(apple.stack_bytes, 24);
}

/// Apple: "The caller of a function is responsible for signing or zero-extending any
/// argument with fewer than 32 bits." jitcall extends to 64, which includes 32.
#[test]
fn apple_callers_extend_narrow_integers() {
    let apple = plan(APPLE, ":void", &[":int8", ":uint8", ":int16", ":uint16", ":bool", ":int32"]);
    let ext: Vec<(Location, Extension)> =
        (0..6).map(|i| (parts(&apple, i)[0].dest, parts(&apple, i)[0].ext)).collect();
    use Extension::{Sign, Zero};
    assert_eq!(
        ext,
        [
            (ArgGpr(0), Sign),
            (ArgGpr(1), Zero),
            (ArgGpr(2), Sign),
            (ArgGpr(3), Zero),
            (ArgGpr(4), Zero),
            (ArgGpr(5), Sign)
        ]
    );
}

/// Apple: "all variadic arguments are passed on the stack", each in an 8-byte slot (a
/// 16-byte HFA in two; 16-aligned values at 16), none in registers, though x1-x7 and
/// v0-v7 are free.
#[test]
fn apple_puts_every_variadic_argument_on_the_stack_in_8_byte_slots() {
    let plan = variadic(APPLE, &[":ptr"], &[":int", ":double", "[:double :double]", ":int64"]);
    assert_eq!(dests(&plan, 0), [ArgGpr(0)]);
    assert_eq!(dests(&plan, 1), [Stack(0)]);
    assert_eq!(dests(&plan, 2), [Stack(8)]);
    assert_eq!(dests(&plan, 3), [Stack(16), Stack(24)]);
    assert_eq!(dests(&plan, 4), [Stack(32)]);
    assert_eq!(plan.stack_bytes, 40);
    assert!(parts(&plan, 2).iter().all(|p| p.size == 8));

    let plan = variadic(APPLE, &[":ptr"], &[":int", ":int128", "[:int64 :int64 :int64]"]);
    assert_eq!(dests(&plan, 1), [Stack(0)]);
    assert_eq!(dests(&plan, 2), [Stack(16), Stack(24)]);
    // Over 16 bytes and no HFA: a copy, whose address takes the next slot.
    assert_eq!(plan.args[3], ArgPlan::Indirect { pointer: Stack(32) });
    // The standard (Linux) passes the same variadic arguments in registers.
    let linux = variadic(Abi::Aapcs64, &[":ptr"], &[":int", ":double"]);
    assert_eq!((dests(&linux, 1), dests(&linux, 2)), (vec![ArgGpr(1)], vec![Fpr(0)]));
}

/// Fixed register arguments are the standard's.
#[test]
fn apple_and_windows_place_fixed_register_arguments_as_the_standard() {
    let params =
        [":int8", ":double", "[:float :float]", "[:int :double]", "[:int64 :int64 :int64]"];
    let linux = plan(Abi::Aapcs64, "[:double :double :double]", &params);
    for abi in [APPLE, WIN] {
        let flavour = plan(abi, "[:double :double :double]", &params);
        assert_eq!((&flavour.args, &flavour.ret), (&linux.args, &linux.ret), "{abi}");
    }
    // Windows also uses the standard's stack slots for fixed arguments.
    let params = with(eight_ints(), &[":int8", ":int16"]);
    let win = plan(WIN, ":void", &params);
    assert_eq!((dests(&win, 8), dests(&win, 9)), (vec![Stack(0)], vec![Stack(8)]));
}

/// Apple does not round NGRN up to even for a 16-byte-aligned value (the standard's C.8,
/// which Linux and Windows keep): `__int128 f(char, __int128)` takes its `__int128` in
/// x1:x2, as does a struct or union of one (clang-16 for arm64-apple-macos11, whose
/// DarwinPCS assigns the halves of an i128 to any register pair below x7). One that does
/// not fit in x0-x7 still does not split: it goes on the stack, 16-aligned, and closes
/// the x-registers.
#[test]
fn apple_does_not_round_a_16_byte_aligned_pair_to_even_registers() {
    let pair = |first: u8| vec![ArgGpr(first), ArgGpr(first + 1)];
    for t in [":int128", ":uint128", "[:int128]", "[:union :int128 :double]"] {
        let params = [":int8", t];
        assert_eq!(dests(&plan(APPLE, t, &params), 1), pair(1), "apple {t}");
        for abi in [Abi::Aapcs64, WIN] {
            assert_eq!(dests(&plan(abi, t, &params), 1), pair(2), "{abi} {t}");
        }
        // Only x7 left: the stack, and the next integer after it.
        let params = with(vec![":int64"; 7], &[t, ":int64"]);
        let apple = plan(APPLE, ":void", &params);
        assert_eq!(
            (dests(&apple, 7), dests(&apple, 8)),
            (vec![Stack(0), Stack(8)], vec![Stack(16)])
        );
        // On the stack after a char: at [sp, #16].
        let params = with(eight_ints(), &[":int8", t]);
        assert_eq!(dests(&plan(APPLE, ":void", &params), 9), vec![Stack(16), Stack(24)], "{t}");
    }
}

// ---------------------------------------------------------------------------------------
// Windows on ARM64

/// Microsoft: in variadic functions "SIMD and Floating-point registers aren't used":
/// doubles go to the next x-registers, as their bits. That covers a variadic function's
/// fixed parameters too: clang-16 for aarch64-pc-windows-msvc compiles a call of
/// `void g(double, int, ...)` with the double in x0, and `g` reads it from x0.
#[test]
fn windows_passes_variadic_doubles_in_x_registers() {
    let plan = variadic(WIN, &[":ptr", ":double"], &[":double", ":int", ":double"]);
    // The fixed double of a variadic function takes x1, not d0.
    assert_eq!(dests(&plan, 1), [ArgGpr(1)]);
    assert_eq!(dests(&plan, 2), [ArgGpr(2)]);
    assert_eq!(dests(&plan, 3), [ArgGpr(3)]);
    assert_eq!(dests(&plan, 4), [ArgGpr(4)]);
    // A fixed HFA of a variadic function is a plain composite too.
    let hfa = variadic(WIN, &["[:float :float]"], &[":int"]);
    assert_eq!(dests(&hfa, 0), [ArgGpr(0)]);
    // The same function not variadic: d0.
    assert_eq!(dests(&plan_fixed(&[":ptr", ":double"]), 1), [Fpr(0)]);
    assert!(!parts(&plan, 2)[0].float && parts(&plan, 2)[0].size == 8);
    // Past x7, the stack.
    let fixed = [":ptr"; 7];
    let plan = variadic(WIN, &fixed, &[":double", ":double"]);
    assert_eq!((dests(&plan, 7), dests(&plan, 8)), (vec![ArgGpr(7)], vec![Stack(0)]));
}

/// Microsoft: "all composites are treated alike; no special treatment of HFAs/HVAs" in the
/// variadic part: a 16-byte HFA takes two x-registers, a 24-byte one goes by reference.
#[test]
fn windows_passes_variadic_hfas_as_plain_composites() {
    let hfa4 = "[:float :float :float :float]";
    let hfa3d = "[:double :double :double]";
    let plan = variadic(WIN, &[":ptr"], &[hfa4, hfa3d]);
    assert_eq!(dests(&plan, 1), [ArgGpr(1), ArgGpr(2)]);
    assert!(parts(&plan, 1).iter().all(|p| !p.float && p.size == 8));
    assert_eq!(plan.args[2], ArgPlan::Indirect { pointer: ArgGpr(3) });
    // As fixed arguments they are HFAs, in v-registers.
    let fixed = plan_fixed(&[":ptr", hfa4, hfa3d]);
    assert_eq!(dests(&fixed, 1), [Fpr(0), Fpr(1), Fpr(2), Fpr(3)]);
    assert_eq!(dests(&fixed, 2), [Fpr(4), Fpr(5), Fpr(6)]);
}

fn plan_fixed(params: &[&str]) -> CallPlan {
    plan(WIN, ":void", params)
}

/// Microsoft: variadic arguments follow C.12-C.15 on "an imaginary stack, where the first
/// 64 bytes of the stack are loaded into x0-x7": a 16-byte composite that starts at x7 has
/// its first half in x7 and its second at `[sp]`; what follows continues on the stack.
#[test]
fn windows_splits_a_variadic_composite_between_x7_and_the_stack() {
    let fixed = [":ptr"; 7];
    let plan = variadic(WIN, &fixed, &["[:int64 :int64]", ":int"]);
    assert_eq!(dests(&plan, 7), [ArgGpr(7), Stack(0)]);
    assert_eq!(dests(&plan, 8), [Stack(8)]);
    assert_eq!(plan.stack_bytes, 16);
    // A 12-byte one: 8 bytes in x7, the last 4 at [sp].
    let plan = variadic(WIN, &fixed, &["[:int32 :int32 :int32]"]);
    let split: Vec<(u32, u8, Location)> =
        parts(&plan, 7).iter().map(|p| (p.offset, p.size, p.dest)).collect();
    assert_eq!(split, [(0, 8, ArgGpr(7)), (8, 4, Stack(0))]);
    // The standard (and a fixed argument) never splits: all of it on the stack.
    let linux = variadic(Abi::Aapcs64, &fixed, &["[:int64 :int64]"]);
    assert_eq!(dests(&linux, 7), [Stack(0), Stack(8)]);
    let whole = plan_fixed(&[&fixed[..], &["[:int64 :int64]"]].concat());
    assert_eq!(dests(&whole, 7), [Stack(0), Stack(8)]);
}

// ---------------------------------------------------------------------------------------
// Both

/// Both platforms: `long double` is `double`. Where the host's own `long double` is a
/// double (Apple arm64, Windows on ARM64) `:long-double` is placed as one, in a
/// d-register; elsewhere `:long-double` is the host's wider type, which these conventions
/// cannot pass: an error that says to use `:double`.
#[test]
fn long_double_is_double_under_both_flavours() {
    let host_is_double = Type::Wide(Wide::LongDouble).size() == 8;
    for abi in [APPLE, WIN] {
        for (ret, params) in [
            (":long-double", vec![":long-double"]),
            (":void", vec![":int", "[:int :complex-long-double]"]),
        ] {
            let sig = Signature::new(abi, ty(ret), types(&params));
            match classify(&sig) {
                Ok(plan) => {
                    assert!(host_is_double, "{abi} took a wide long double");
                    if ret == ":long-double" {
                        let ArgPlan::Direct(arg) = &plan.args[0] else { panic!() };
                        assert_eq!((arg[0].dest, arg[0].size), (Fpr(0), 8));
                        assert!(matches!(&plan.ret, RetPlan::Direct(r) if r[0].size == 8));
                    }
                }
                Err(e) => {
                    assert!(!host_is_double, "{abi}: {e}");
                    let text = e.to_string();
                    assert!(text.contains(":double") && text.contains(&abi.to_string()), "{text}");
                }
            }
        }
        // `:double` is always fine: d0.
        assert_eq!(dests(&plan(abi, ":double", &[":double"]), 0), [Fpr(0)]);
    }
}

/// x18 is the platform register on both (Windows keeps the TEB in it): no thunk, handler
/// or stub writes it, and only Windows errno thunks read it (the TEB's last error).
#[test]
fn no_aarch64_code_names_x18() {
    let sigs = [
        Signature::new(APPLE, ty(":int8"), types(&with(eight_ints(), &[":int8", ":int16"]))),
        Signature::variadic(WIN, ty(":int"), types(&[":ptr"; 7]), types(&["[:int64 :int64]"])),
        Signature::new(Abi::Aapcs64, ty("[:int64 :int64 :int64]"), types(&[":double"; 9])),
    ];
    for sig in &sigs {
        let plan = classify(sig).unwrap();
        let block = BlockLayout::new(sig).unwrap();
        for windows in [false, true] {
            for set_before in [false, true] {
                let errno = ErrnoAccess { windows, set_before };
                for errno in [None, Some(&errno)] {
                    let mut code = CodeBuffer::new();
                    emit_thunk(&plan, ArgSource::Block(&block), errno, &mut code).unwrap();
                    let reads_teb = errno.is_some_and(|e| e.windows);
                    check_x18(code.bytes(), reads_teb);
                }
            }
        }
    }
    for abi in [Abi::Aapcs64, APPLE, WIN] {
        for kind in HandlerKind::ALL {
            let mut code = CodeBuffer::new();
            emit_callback_handler(abi, kind, &mut code);
            check_x18(code.bytes(), false);
        }
    }
}

/// No instruction names x18 or w18, except (when `teb` is allowed) as the base register
/// of a 32-bit load or store of the last error.
fn check_x18(bytes: &[u8], teb: bool) {
    let mut seen = false;
    for word in bytes.chunks(4) {
        let mut reader = U8Reader::new(word);
        let text = InstDecoder::default().decode(&mut reader).expect("decodes").to_string();
        if !(text.contains("x18") || text.contains("w18")) {
            continue;
        }
        let teb_access = text.ends_with(", [x18, #0x68]")
            && (text.starts_with("ldr w9,") || text.starts_with("str w9,"));
        assert!(teb && teb_access, "names x18: {text}");
        seen = true;
    }
    assert_eq!(seen, teb, "the Windows last error is read from the TEB");
}

/// On an AArch64 host, each flavour's thunk calls a callback of the same flavour: the
/// thunk stores stack arguments where the plan packs them and the callback's dispatcher
/// reads them from there, so every value arrives intact (on other hosts the flavours are
/// for plans only, and this checks that calls are refused).
#[test]
fn flavoured_calls_reach_flavoured_callbacks_intact() {
    use jitcall::Value;
    let params = with(
        eight_ints(),
        &[":int8", ":int16", ":float", ":int8", "[:float :float :float]", ":int32", ":double"],
    );
    let values = "[1 2 3 4 5 6 7 8 -5 -300 1.5 7 [0.5 -1.25 2] -70000 3.25]";
    let Value::Tuple(values) = syntax::read(values).unwrap() else { panic!() };
    for abi in [Abi::Aapcs64, APPLE, WIN] {
        let callback =
            ffi::callback(abi, ty(":double"), types(&params), |args| Ok(Value::Number(sum(args))));
        let Ok(callback) = callback else {
            assert!(!abi.runs_on_host());
            continue;
        };
        let sig = ffi::signature(abi, ty(":double"), types(&params)).unwrap();
        // SAFETY: the callback has exactly this signature and lives through the call.
        let got = unsafe { ffi::call(callback.code_ptr(), &sig, &values) }.unwrap();
        assert_eq!(got, Value::Number(sum(&values)), "{abi}");
    }
}

/// The numbers of a list of values, nested tuples included.
fn sum(values: &[jitcall::Value]) -> f64 {
    values
        .iter()
        .map(|v| match v {
            jitcall::Value::Number(n) => *n,
            // An :int64 argument reads back as an exact 64-bit integer.
            jitcall::Value::Int(n) => *n as f64,
            jitcall::Value::UInt(n) => *n as f64,
            jitcall::Value::Tuple(t) => sum(t),
            other => panic!("unexpected {other}"),
        })
        .sum()
}

/// A packed stack argument is stored at exactly its width, so that an 8-byte store never
/// runs past the stack area (into the thunk's frame record) or over an earlier argument:
/// Apple's `int16_t` at `[sp, #2]` and a last `int32_t` at `[sp, #12]` of a 16-byte area.
#[test]
fn packed_stack_arguments_are_stored_at_their_width() {
    let params = with(eight_ints(), &[":int8", ":int16", ":int32", ":int8", ":int32"]);
    let sig = Signature::new(APPLE, ty(":void"), types(&params));
    let plan = classify(&sig).unwrap();
    assert_eq!(plan.stack_bytes, 16);
    let mut code = CodeBuffer::new();
    emit_thunk(&plan, ArgSource::Block(&BlockLayout::new(&sig).unwrap()), None, &mut code).unwrap();
    let listing: Vec<String> = code
        .bytes()
        .chunks(4)
        .map(|w| InstDecoder::default().decode(&mut U8Reader::new(w)).unwrap().to_string())
        .collect();
    for store in [
        "str x9, [sp]",
        "strh w9, [sp, #0x2]",
        "str w9, [sp, #0x4]",
        "str x9, [sp, #0x8]",
        "str w9, [sp, #0xc]",
    ] {
        assert!(listing.iter().any(|l| l == store), "no `{store}` in {listing:#?}");
    }
}
