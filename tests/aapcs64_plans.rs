//! Where AAPCS64 puts every argument and result, checked against the "Procedure Call
//! Standard for the Arm 64-bit Architecture" (§6.8.2 "Parameter passing rules", stages A
//! to C, and §6.9 "Result return"), not against what the classifier happens to do.
//!
//! Rule numbers are those of the current document, which has the SVE rules in it:
//! - B.3: an HFA is used unmodified (even over 16 bytes); B.4: any other composite over
//!   16 bytes is copied by the caller and replaced by a pointer to the copy; B.5: a
//!   composite's size is rounded up to a multiple of 8.
//! - C.1: a float or double goes in v[NSRN] while NSRN < 8. C.2: an HFA takes one
//!   v-register per member if NSRN + members <= 8. C.3: otherwise NSRN becomes 8 and the
//!   size is rounded up to 8; C.4: NSAA is rounded up to max(8, natural alignment); C.5: a
//!   float on the stack takes 8 bytes; C.6: copied to the stack at NSAA.
//! - C.9: an integer or pointer goes in x[NGRN] while NGRN < 8. C.12: a composite takes
//!   consecutive x-registers if its size in double-words is at most 8 - NGRN; else C.13:
//!   NGRN becomes 8, C.14: NSAA is rounded up to max(8, natural alignment), C.15: it is
//!   copied to the stack. C.16/C.17: anything else smaller than 8 bytes takes an 8-byte
//!   slot.
//! - Results come back where `void f(T)` would pass `T` in registers (x0/x1, v0-v3), else
//!   in memory whose address the caller passes in x8.
//!
//! The plans are pure data: these tests run on every host.

use jitcall::internals::arch::classify;
use jitcall::Type;
use jitcall::{ffi, syntax, Abi, Signature};
use jitcall::{ArgPlan, CallPlan, Extension, Location, Part, RetPlan};

use Location::{ArgGpr, Fpr, RetGpr, Stack};

fn ty(text: &str) -> Type {
    let value = syntax::read(text).unwrap_or_else(|e| panic!("reading {text}: {e}"));
    ffi::native_type(&value).unwrap_or_else(|e| panic!("type {text}: {e}"))
}

fn plan(ret: &str, params: &[&str]) -> CallPlan {
    let sig = Signature::new(Abi::Aapcs64, ty(ret), params.iter().map(|p| ty(p)).collect());
    classify(&sig).unwrap_or_else(|e| panic!("{params:?}: {e}"))
}

fn plan_of(ret: &str, params: &[String]) -> CallPlan {
    let params: Vec<&str> = params.iter().map(String::as_str).collect();
    plan(ret, &params)
}

/// `n` copies of `ty`.
fn many(n: usize, ty: &str) -> Vec<String> {
    vec![ty.to_string(); n]
}

/// Integer bytes (or a piece of a composite) at `dest`, not extended.
fn bytes(offset: u32, size: u8, dest: Location) -> Part {
    Part { offset, size, dest, ext: Extension::None, float: false }
}

/// A float (4) or double (8) in a v-register.
fn fp(offset: u32, size: u8, n: u8) -> Part {
    Part { offset, size, dest: Fpr(n), ext: Extension::None, float: true }
}

fn int(size: u8, dest: Location, ext: Extension) -> Part {
    Part { offset: 0, size, dest, ext, float: false }
}

fn direct(parts: &[Part]) -> ArgPlan {
    ArgPlan::Direct(parts.to_vec())
}

/// A whole 8-byte scalar (int64, pointer, or a double on the stack) at `dest`.
fn word(dest: Location) -> ArgPlan {
    direct(&[bytes(0, 8, dest)])
}

/// An HFA of `count` members of `size` bytes in v[first]...
fn hfa(size: u8, count: u8, first: u8) -> Vec<Part> {
    (0..count).map(|i| fp(u32::from(i) * u32::from(size), size, first + i)).collect()
}

/// A composite of `size` bytes at consecutive stack slots from `at`, one part per dword.
fn on_stack(size: u32, at: u32) -> Vec<Part> {
    (0..size.div_ceil(8))
        .map(|i| bytes(8 * i, (size - 8 * i).min(8) as u8, Stack(at + 8 * i)))
        .collect()
}

/// A composite of `size` bytes in consecutive x-registers from x[first].
fn in_xregs(size: u32, first: u8) -> Vec<Part> {
    (0..size.div_ceil(8))
        .map(|i| bytes(8 * i, (size - 8 * i).min(8) as u8, ArgGpr(first + i as u8)))
        .collect()
}

/// A result's bytes in 8-byte pieces in the result registers x`first`, x`first+1`.
fn in_ret_xregs(size: u32, first: u8) -> Vec<Part> {
    (0..size.div_ceil(8))
        .map(|i| bytes(8 * i, (size - 8 * i).min(8) as u8, RetGpr(first + i as u8)))
        .collect()
}

#[test]
fn integers_take_x0_to_x7_then_8_byte_stack_slots() {
    // C.9 for the first eight, then C.17 at NSAA 0 and 8.
    let p = plan_of(":int64", &many(10, ":int64"));
    let want: Vec<ArgPlan> =
        (0..8).map(|n| word(ArgGpr(n))).chain([word(Stack(0)), word(Stack(8))]).collect();
    assert_eq!(p.args, want);
    assert_eq!(p.stack_bytes, 16);

    // 4-byte integers: C.16 gives each stacked one a whole 8-byte slot.
    let p = plan_of(":void", &many(11, ":int32"));
    let sext = |dest| direct(&[int(4, dest, Extension::Sign)]);
    let want: Vec<ArgPlan> = (0..8)
        .map(|n| sext(ArgGpr(n)))
        .chain([sext(Stack(0)), sext(Stack(8)), sext(Stack(16))])
        .collect();
    assert_eq!(p.args, want);
    assert_eq!(p.stack_bytes, 24);

    // Pointers are integers of 8 bytes.
    let p = plan(":ptr", &[":ptr", ":string", ":int64"]);
    assert_eq!(p.args, [word(ArgGpr(0)), word(ArgGpr(1)), word(ArgGpr(2))]);
    assert_eq!(p.ret, RetPlan::Direct(vec![bytes(0, 8, RetGpr(0))]));
}

#[test]
fn doubles_take_v0_to_v7_then_the_stack() {
    // C.1 for the first eight, then C.6 at NSAA 0 and 8 (copied as bytes).
    let p = plan_of(":double", &many(10, ":double"));
    let want: Vec<ArgPlan> =
        (0..8).map(|n| direct(&[fp(0, 8, n)])).chain([word(Stack(0)), word(Stack(8))]).collect();
    assert_eq!(p.args, want);
    assert_eq!(p.stack_bytes, 16);

    // Floats: C.5 makes a stacked float 8 bytes, so the slots are 0, 8, 16.
    let p = plan_of(":float", &many(11, ":float"));
    let want: Vec<ArgPlan> = (0..8)
        .map(|n| direct(&[fp(0, 4, n)]))
        .chain([0, 8, 16].map(|at| direct(&[bytes(0, 4, Stack(at))])))
        .collect();
    assert_eq!(p.args, want);
    assert_eq!(p.stack_bytes, 24);
}

#[test]
fn the_two_register_files_count_separately() {
    // int64, double, int64, double, ...: nine of each. Each kind has its own counter; the
    // ninth of each goes on the stack in argument order.
    let params: Vec<String> =
        (0..9).flat_map(|_| [":int64", ":double"]).map(String::from).collect();
    let p = plan_of(":void", &params);
    let mut want = Vec::new();
    for n in 0..8 {
        want.push(word(ArgGpr(n)));
        want.push(direct(&[fp(0, 8, n)]));
    }
    want.push(word(Stack(0)));
    want.push(word(Stack(8)));
    assert_eq!(p.args, want);
    assert_eq!(p.stack_bytes, 16);

    let p = plan(":double", &[":double", ":int", ":double"]);
    assert_eq!(
        p.args,
        [
            direct(&[fp(0, 8, 0)]),
            direct(&[int(4, ArgGpr(0), Extension::Sign)]),
            direct(&[fp(0, 8, 1)])
        ]
    );
}

#[test]
fn hfas_of_one_to_four_members_take_one_v_register_each() {
    for (base, size) in [(":float", 4u8), (":double", 8)] {
        for count in 1..=4u8 {
            let members = vec![base; count as usize].join(" ");
            let st = format!("[{members}]");
            // C.2 from v0, and from v1 after a scalar of the same kind.
            assert_eq!(plan(":void", &[&st]).args, [ArgPlan::Direct(hfa(size, count, 0))], "{st}");
            let p = plan(":void", &[base, &st, base]);
            assert_eq!(
                p.args,
                [
                    direct(&[fp(0, size, 0)]),
                    ArgPlan::Direct(hfa(size, count, 1)),
                    direct(&[fp(0, size, count + 1)]),
                ],
                "{base} {st} {base}"
            );
            // HFAs never touch the x-registers.
            let p = plan(":void", &[&st, ":int64"]);
            assert_eq!(p.args[1], word(ArgGpr(0)), "{st} :int64");
            // Exactly filling v0-v7 still fits.
            let p = plan_of(":void", &[many(8 - count as usize, base), vec![st.clone()]].concat());
            assert_eq!(
                p.args.last().unwrap(),
                &ArgPlan::Direct(hfa(size, count, 8 - count)),
                "{st} after {} scalars",
                8 - count
            );
            assert_eq!(p.stack_bytes, 0);
        }
    }
}

#[test]
fn nested_structs_and_arrays_flatten_into_hfas() {
    let cases: [(&str, u8, u8); 7] = [
        ("[[:float :float] :float]", 4, 3),
        ("[:float [:float [:float]]]", 4, 3),
        ("[@[:double 3]]", 8, 3),
        ("[@[:float 2] [:float :float]]", 4, 4),
        ("[[@[:double 2]] :double]", 8, 3),
        ("[@[[:double :double] 2]]", 8, 4),
        ("[[[:double]]]", 8, 1),
    ];
    for (st, size, count) in cases {
        assert_eq!(plan(":void", &[st]).args, [ArgPlan::Direct(hfa(size, count, 0))], "{st}");
        assert_eq!(plan(st, &[]).ret, RetPlan::Direct(hfa(size, count, 0)), "{st} result");
    }
}

#[test]
fn aggregates_that_are_not_hfas() {
    // Mixed float and double: not homogeneous. 16 bytes (4 of them padding after the
    // float), a composite of two dwords: x0, x1 (C.12).
    assert_eq!(plan(":void", &["[:float :double]"]).args, [ArgPlan::Direct(in_xregs(16, 0))]);
    assert_eq!(plan(":void", &["[:double :float]"]).args, [ArgPlan::Direct(in_xregs(16, 0))]);
    // A float beside an integer: not homogeneous, one dword.
    assert_eq!(plan(":void", &["[:float :int32]"]).args, [ArgPlan::Direct(in_xregs(8, 0))]);
    assert_eq!(plan(":void", &["[@[:float 3] :int32]"]).args, [ArgPlan::Direct(in_xregs(16, 0))]);
    // Padding: a float followed by a zero-length array of doubles is 8 bytes for 4 bytes
    // of float, so the size is not the base type's size times the members (§5.9.5) and the
    // members are not all of one type: one x-register.
    assert_eq!(plan(":void", &["[:float @[:double 0]]"]).args, [ArgPlan::Direct(in_xregs(8, 0))]);
    // Five members: more than four, and over 16 bytes, so by reference (B.4).
    for st in ["[@[:float 5]]", "[@[:float 4] :float]", "[@[:double 5]]"] {
        let p = plan(":void", &[st, ":int64"]);
        assert_eq!(p.args, [ArgPlan::Indirect { pointer: ArgGpr(0) }, word(ArgGpr(1))], "{st}");
    }
}

#[test]
fn an_hfa_that_does_not_fit_goes_on_the_stack_and_closes_the_v_registers() {
    // Six doubles leave v6 and v7; four doubles do not fit. C.3: NSRN = 8; C.4/C.6: the
    // 32 bytes at NSAA 0, by value (B.3 keeps an HFA whole even over 16 bytes). The double
    // after it goes on the stack although v6 and v7 were never used; an integer still
    // takes x0.
    let params =
        [many(6, ":double"), vec!["[@[:double 4]]".into(), ":double".into(), ":int64".into()]]
            .concat();
    let p = plan_of(":void", &params);
    let mut want: Vec<ArgPlan> = (0..6).map(|n| direct(&[fp(0, 8, n)])).collect();
    want.push(ArgPlan::Direct(on_stack(32, 0)));
    want.push(word(Stack(32)));
    want.push(word(ArgGpr(0)));
    assert_eq!(p.args, want);
    assert_eq!(p.stack_bytes, 40);

    // Seven floats leave v7; three floats do not fit. 12 bytes rounded up to 16 (C.3), at
    // NSAA 0; the float after it at 16, in an 8-byte slot (C.5).
    let params =
        [many(7, ":float"), vec!["[:float :float :float]".into(), ":float".into()]].concat();
    let p = plan_of(":void", &params);
    assert_eq!(p.args[7], ArgPlan::Direct(on_stack(12, 0)));
    assert_eq!(p.args[8], direct(&[bytes(0, 4, Stack(16))]));
    assert_eq!(p.stack_bytes, 24);

    // An HFA that fits in one dword still never goes in an x-register: with only v7 left,
    // two floats go on the stack (8 bytes at 0) and x0 stays free for the int.
    let params = [many(7, ":double"), vec!["[:float :float]".into(), ":int64".into()]].concat();
    let p = plan_of(":void", &params);
    assert_eq!(p.args[7..], [ArgPlan::Direct(on_stack(8, 0)), word(ArgGpr(0))]);
    assert_eq!(p.stack_bytes, 8);

    // With the v-registers already gone: a stacked float first (8 bytes at 0), then the
    // HFA at 8 (its natural alignment is 4, rounded up to 8 by C.4), then a double at 24.
    let params = [
        many(8, ":double"),
        vec![":float".into(), "[:float :float :float]".into(), ":double".into()],
    ]
    .concat();
    let p = plan_of(":void", &params);
    assert_eq!(
        p.args[8..],
        [direct(&[bytes(0, 4, Stack(0))]), ArgPlan::Direct(on_stack(12, 8)), word(Stack(24))]
    );
    assert_eq!(p.stack_bytes, 32);
}

#[test]
fn composites_of_up_to_16_bytes_take_consecutive_x_registers() {
    // [@[:uint8 n]] for n = 1..=16: ceil(n/8) x-registers (C.12), and NGRN moves on by as
    // many: the int64 after it takes the next one.
    for n in 1..=16u32 {
        let st = format!("[@[:uint8 {n}]]");
        let p = plan(":void", &[&st, ":int64"]);
        let dwords = n.div_ceil(8) as u8;
        assert_eq!(p.args, [ArgPlan::Direct(in_xregs(n, 0)), word(ArgGpr(dwords))], "{st}");
        assert_eq!(p.stack_bytes, 0);
    }
    // 12 bytes: x0 gets bytes 0..8, x1 bytes 8..12.
    let p = plan(":int", &["[:int32 :int32 :int32]", ":int"]);
    assert_eq!(
        p.args,
        [
            direct(&[bytes(0, 8, ArgGpr(0)), bytes(8, 4, ArgGpr(1))]),
            direct(&[int(4, ArgGpr(2), Extension::Sign)])
        ]
    );
    // No rounding of NGRN to an even register for an 8-aligned 16-byte composite (C.10 is
    // for alignment 16 only): x1 and x2.
    let p = plan(":void", &[":int64", "[:int64 :int64]"]);
    assert_eq!(p.args[1], ArgPlan::Direct(in_xregs(16, 1)));
    // A packed 5-byte struct: one dword.
    let p = plan(":void", &["[:int8 :pack :int32]"]);
    assert_eq!(p.args, [ArgPlan::Direct(in_xregs(5, 0))]);
}

#[test]
fn composites_over_16_bytes_go_by_reference() {
    // B.4: the caller's copy, its address an integer argument (C.9, then C.17).
    for st in ["[@[:uint8 17]]", "[:int64 :int64 :int64]", "[@[:int32 25]]"] {
        let p = plan(":void", &[st, ":int64"]);
        assert_eq!(p.args, [ArgPlan::Indirect { pointer: ArgGpr(0) }, word(ArgGpr(1))], "{st}");
    }
    let params =
        [many(8, ":int64"), vec!["[:int64 :int64 :int64]".into(), ":int64".into()]].concat();
    let p = plan_of(":void", &params);
    assert_eq!(p.args[8..], [ArgPlan::Indirect { pointer: Stack(0) }, word(Stack(8))]);
    assert_eq!(p.stack_bytes, 16);
}

#[test]
fn a_composite_that_does_not_fit_goes_on_the_stack_and_closes_the_x_registers() {
    // Seven integers leave x7; 16 bytes need two. C.13: NGRN = 8; C.15: the struct at NSAA
    // 0. The int64 after it goes on the stack too (x7 stays unused); a double still takes
    // v0.
    let params =
        [many(7, ":int64"), vec!["[:int64 :int64]".into(), ":int64".into(), ":double".into()]]
            .concat();
    let p = plan_of(":void", &params);
    let mut want: Vec<ArgPlan> = (0..7).map(|n| word(ArgGpr(n))).collect();
    want.push(ArgPlan::Direct(on_stack(16, 0)));
    want.push(word(Stack(16)));
    want.push(direct(&[fp(0, 8, 0)]));
    assert_eq!(p.args, want);
    assert_eq!(p.stack_bytes, 24);

    // An 8-byte struct still fits in x7.
    let params = [many(7, ":int64"), vec!["[:int32 :int32]".into(), ":int64".into()]].concat();
    let p = plan_of(":void", &params);
    assert_eq!(p.args[7..], [ArgPlan::Direct(in_xregs(8, 7)), word(Stack(0))]);

    // On the stack a composite's size is rounded up to 8 (B.5): 12 bytes take 16.
    let params =
        [many(8, ":int64"), vec!["[:int32 :int32 :int32]".into(), ":int32".into()]].concat();
    let p = plan_of(":void", &params);
    assert_eq!(
        p.args[8..],
        [ArgPlan::Direct(on_stack(12, 0)), direct(&[int(4, Stack(16), Extension::Sign)])]
    );
    assert_eq!(p.stack_bytes, 24);

    // A packed struct of alignment 1 on the stack: NSAA rounded to max(8, 1) (C.14).
    let params = [many(8, ":int64"), vec![":int8".into(), "[:int8 :pack :int32]".into()]].concat();
    let p = plan_of(":void", &params);
    assert_eq!(p.args[9], ArgPlan::Direct(on_stack(5, 8)));
    assert_eq!(p.stack_bytes, 16);
}

#[test]
fn results_in_x0_x1_v0_to_v3_or_memory_at_x8() {
    let ret = |t: &str| plan(t, &[]).ret;
    assert_eq!(ret(":void"), RetPlan::Void);
    assert_eq!(ret(":int"), RetPlan::Direct(vec![bytes(0, 4, RetGpr(0))]));
    assert_eq!(ret(":uint8"), RetPlan::Direct(vec![bytes(0, 1, RetGpr(0))]));
    assert_eq!(ret(":int64"), RetPlan::Direct(vec![bytes(0, 8, RetGpr(0))]));
    assert_eq!(ret(":double"), RetPlan::Direct(vec![fp(0, 8, 0)]));
    assert_eq!(ret(":float"), RetPlan::Direct(vec![fp(0, 4, 0)]));

    // Composites of up to 16 bytes that are not HFAs: x0 and x1.
    for (t, size) in [
        ("[@[:uint8 3]]", 3),
        ("[:int32 :int32]", 8),
        ("[:int32 :int32 :int32]", 12),
        ("[:int64 :int64]", 16),
        ("[:float :double]", 16),
    ] {
        let in_x0_x1 = in_xregs(size, 0).into_iter().map(|p| match p.dest {
            ArgGpr(n) => Part { dest: RetGpr(n), ..p },
            _ => p,
        });
        assert_eq!(ret(t), RetPlan::Direct(in_x0_x1.collect()), "{t}");
    }

    // HFAs: v0-v3, one member each, including the 32-byte one.
    for (base, size) in [(":float", 4u8), (":double", 8)] {
        for count in 1..=4u8 {
            let t = format!("[{}]", vec![base; count as usize].join(" "));
            assert_eq!(ret(&t), RetPlan::Direct(hfa(size, count, 0)), "{t}");
        }
    }

    // Everything else: memory at x8, which is not an argument register: the arguments
    // still start at x0.
    for t in ["[:int64 :int64 :int64]", "[@[:uint8 17]]", "[@[:float 5]]"] {
        let p = plan(t, &[":int64", ":int64"]);
        assert_eq!(p.ret, RetPlan::Indirect { pointer: ArgGpr(8) }, "{t}");
        assert_eq!(p.args, [word(ArgGpr(0)), word(ArgGpr(1))], "{t}");
    }
}

#[test]
fn narrow_integers_are_widened_by_signedness() {
    // The standard leaves the bits above a narrow integer unspecified (the callee narrows,
    // §6.8.2); jitcall extends by signedness, as Apple's variant requires, which satisfies
    // both. 64-bit integers and pointers need nothing.
    use Extension::{None as Whole, Sign, Zero};
    let types = [
        (":int8", 1, Sign),
        (":uint8", 1, Zero),
        (":int16", 2, Sign),
        (":uint16", 2, Zero),
        (":int32", 4, Sign),
        (":uint32", 4, Zero),
        (":bool", 1, Zero),
        (":int64", 8, Whole),
        (":uint64", 8, Whole),
        (":ptr", 8, Whole),
    ];
    let params: Vec<&str> = types.iter().map(|t| t.0).collect();
    let p = plan(":void", &params);
    for (i, &(t, size, ext)) in types.iter().enumerate() {
        let dest = if i < 8 { ArgGpr(i as u8) } else { Stack(8 * (i as u32 - 8)) };
        assert_eq!(p.args[i], direct(&[int(size, dest, ext)]), "{t}");
    }
    // On the stack too, each in an 8-byte slot.
    let params = [many(8, ":int64"), types.iter().map(|t| t.0.to_string()).collect()].concat();
    let p = plan_of(":void", &params);
    for (i, &(t, size, ext)) in types.iter().enumerate() {
        assert_eq!(p.args[8 + i], direct(&[int(size, Stack(8 * i as u32), ext)]), "{t}");
    }
    assert_eq!(p.stack_bytes, 8 * types.len() as u32);
}

// ---------------------------------------------------------------------------------------
// Unions (AAPCS64 §5.9.5: a union is a homogeneous aggregate when every member is, of the
// one base type; gcc counts it as its largest member, and B.3/C.2 apply unchanged).

#[test]
fn a_union_of_same_float_members_is_an_hfa() {
    // union { float a[2]; struct { float x, y, z; } s; }: 3 floats, v0-v2.
    let p = plan(":void", &["[:union @[:float 2] [:float :float :float]]"]);
    assert_eq!(p.args[0], direct(&hfa(4, 3, 0)));
    // union { double d; double e[4]; }: 4 doubles, returned in v0-v3.
    let p = plan("[:union :double @[:double 4]]", &[]);
    assert_eq!(p.ret, RetPlan::Direct(hfa(8, 4, 0)));
}

#[test]
fn a_union_with_mixed_members_is_not_an_hfa() {
    // union { float f; double d; }: two base types: 8 bytes in x0.
    let p = plan(":void", &["[:union :float :double]"]);
    assert_eq!(p.args[0], direct(&[bytes(0, 8, ArgGpr(0))]));
    // union { double d[3]; long l; }: 24 bytes, no HFA: B.4, a pointer to a copy.
    let p = plan(":void", &["[:union @[:double 3] :long]"]);
    assert_eq!(p.args[0], ArgPlan::Indirect { pointer: ArgGpr(0) });
}

// ---------------------------------------------------------------------------------------
// The wide scalars on AArch64 Linux. §5.1: `long double` is quad precision (binary128, 16
// bytes, 16-aligned); `__int128` is an integral type of 16 bytes, 16-aligned; a complex
// type is laid out as a struct of two of its part (§5.9.5.1 counts it as a homogeneous
// aggregate of two). C.1/C.2: quads use whole q-registers; C.5: NSAA rounded up to 16 for
// a type of alignment 16; C.8: NGRN rounded up to even for an argument of alignment 16
// (integral or composite); C.9: a 16-byte integer in x[NGRN], x[NGRN+1] when NGRN < 7.
// Every case below was also checked against `aarch64-linux-gnu-gcc -O2 -S` (gcc 14).

/// A quad (long double) in q[n], from `offset` in the value.
fn quad(offset: u32, n: u8) -> Part {
    fp(offset, 16, n)
}

/// `[:int64 x n]` parameter text.
fn int64s(n: usize) -> Vec<String> {
    many(n, ":int64")
}

fn with(mut params: Vec<String>, more: &[&str]) -> Vec<String> {
    params.extend(more.iter().map(|m| m.to_string()));
    params
}

#[test]
fn long_double_takes_a_whole_q_register() {
    let p = plan(":long-double", &[":long-double", ":double", ":long-double"]);
    assert_eq!(p.args[0], direct(&[quad(0, 0)]));
    assert_eq!(p.args[1], direct(&[fp(0, 8, 1)]));
    assert_eq!(p.args[2], direct(&[quad(0, 2)]));
    assert_eq!(p.ret, RetPlan::Direct(vec![quad(0, 0)]));
    assert_eq!(p.stack_bytes, 0);
}

#[test]
fn long_double_after_eight_vector_registers_takes_a_16_aligned_stack_slot() {
    // C.5/C.6: NSRN = 8, so the stack; its natural alignment is 16. gcc: `ldr q0, [sp]`.
    let p = plan_of(":void", &with(many(8, ":double"), &[":long-double"]));
    assert_eq!(p.args[8], direct(&on_stack(16, 0)));
    assert_eq!(p.stack_bytes, 16);
    // A double first at stack+0 (8 bytes): the long double is rounded up to stack+16
    // (gcc: `ldr d0, [sp, 32]` / `ldr q1, [sp, 48]` after its 32-byte frame record).
    let p = plan_of(":void", &with(many(8, ":double"), &[":double", ":long-double"]));
    assert_eq!(p.args[8], word(Stack(0)));
    assert_eq!(p.args[9], direct(&on_stack(16, 16)));
    assert_eq!(p.stack_bytes, 32);
}

#[test]
fn hfas_of_long_doubles_take_one_q_register_per_member() {
    let ld2 = "[:long-double :long-double]";
    let p = plan(ld2, &[":double", ld2]);
    assert_eq!(p.args[1], direct(&[quad(0, 1), quad(16, 2)]));
    assert_eq!(p.ret, RetPlan::Direct(vec![quad(0, 0), quad(16, 1)]));
    // Four members (64 bytes, B.3: an HFA is not replaced by a pointer): q0-q3.
    let ld4 = "[@[:long-double 4]]";
    let p = plan(ld4, &[ld4]);
    let four: Vec<Part> = (0..4).map(|i| quad(16 * u32::from(i), i)).collect();
    assert_eq!(p.args[0], ArgPlan::Direct(four.clone()));
    assert_eq!(p.ret, RetPlan::Direct(four));
    // Five are no HFA: 80 bytes, a copy by reference, the result through x8.
    let ld5 = "[@[:long-double 5]]";
    let p = plan(ld5, &[ld5]);
    assert_eq!(p.args[0], ArgPlan::Indirect { pointer: ArgGpr(0) });
    assert_eq!(p.ret, RetPlan::Indirect { pointer: ArgGpr(8) });
}

#[test]
fn an_hfa_of_long_doubles_that_does_not_fit_goes_on_the_stack_and_closes_the_v_registers() {
    // NSRN = 7: two quads do not fit (C.3): NSRN = 8, the 32 bytes at stack+0 (16-aligned,
    // C.4), and the double after it on the stack too (gcc: `ldp q1, q2, [sp, 32]`,
    // `ldr d0, [sp, 64]` after its 32-byte frame record).
    let p =
        plan_of(":void", &with(many(7, ":double"), &["[:long-double :long-double]", ":double"]));
    assert_eq!(p.args[7], direct(&on_stack(32, 0)));
    assert_eq!(p.args[8], word(Stack(32)));
    assert_eq!(p.stack_bytes, 40);
    // After one stack double, the HFA's 16-byte alignment skips to stack+16.
    let p =
        plan_of(":void", &with(many(8, ":double"), &[":double", "[@[:long-double 2]]", ":float"]));
    assert_eq!(p.args[8], word(Stack(0)));
    assert_eq!(p.args[9], direct(&on_stack(32, 16)));
    assert_eq!(p.args[10], direct(&[bytes(0, 4, Stack(48))]));
}

#[test]
fn int128_takes_an_even_register_pair() {
    // C.8: NGRN 1 is rounded up to 2; x1 stays unused (gcc: `stp x2, x3`).
    let p = plan(":int128", &[":int", ":int128", ":int"]);
    assert_eq!(p.args[1], direct(&in_xregs(16, 2)));
    assert_eq!(p.args[2], direct(&[int(4, ArgGpr(4), Extension::Sign)]));
    assert_eq!(p.ret, RetPlan::Direct(in_ret_xregs(16, 0)));
    let p = plan(":uint128", &[":uint128", ":uint128"]);
    assert_eq!(p.args[0], direct(&in_xregs(16, 0)));
    assert_eq!(p.args[1], direct(&in_xregs(16, 2)));
    // An argument after the skipped register does not go back to it.
    let p = plan(":void", &[":int", ":int128", ":int128", ":int128", ":int"]);
    assert_eq!(p.args[3], direct(&in_xregs(16, 6)));
    assert_eq!(p.args[4], direct(&[int(4, Stack(0), Extension::Sign)]));
}

#[test]
fn int128_with_only_x7_left_goes_on_the_stack_and_closes_the_x_registers() {
    // NGRN 7 rounds up to 8 (C.8): the stack at a 16-aligned NSAA, and NGRN stays 8, so
    // the int64 after it is on the stack too (gcc: `ldp x2, x3, [sp, 32]`,
    // `ldr x0, [sp, 48]`).
    let p = plan_of(":void", &with(int64s(7), &[":int128", ":int64"]));
    assert_eq!(p.args[7], direct(&on_stack(16, 0)));
    assert_eq!(p.args[8], word(Stack(16)));
    assert_eq!(p.stack_bytes, 24);
    // One int64 on the stack first: the int128 is rounded up to stack+16.
    let p = plan_of(":void", &with(int64s(9), &[":int128"]));
    assert_eq!(p.args[8], word(Stack(0)));
    assert_eq!(p.args[9], direct(&on_stack(16, 16)));
    assert_eq!(p.stack_bytes, 32);
}

#[test]
fn composites_with_16_byte_alignment_take_an_even_register_pair() {
    // C.8 applies to any argument of alignment 16, so to a struct holding an int128 and
    // to a union of { long double; double } (not homogeneous: 16 bytes, general
    // registers). gcc: `stp x2, x3` for both.
    for t in ["[:int128]", "[:union :long-double :double]"] {
        let p = plan(t, &[":int", t]);
        assert_eq!(p.args[1], direct(&in_xregs(16, 2)), "{t}");
        assert_eq!(p.ret, RetPlan::Direct(in_ret_xregs(16, 0)), "{t}");
        // With x7 left: the stack (C.11-C.13), the int64 after it too.
        let p = plan_of(":void", &with(int64s(7), &[t, ":int64"]));
        assert_eq!(p.args[7], direct(&on_stack(16, 0)), "{t}");
        assert_eq!(p.args[8], word(Stack(16)), "{t}");
    }
    // Packed, the struct's alignment is 1: no rounding (gcc: x1, x2).
    let p = plan(":void", &[":int", "[:pack-all :int128]"]);
    assert_eq!(p.args[1], direct(&in_xregs(16, 1)));
}

#[test]
fn composites_holding_wide_scalars_over_16_bytes_go_by_reference() {
    // struct { long double a; int b; }: 32 bytes, not homogeneous: B.4 (gcc: `ldp q0, q1,
    // [x0]`) and the result in memory at x8.
    let t = "[:long-double :int]";
    let p = plan(t, &[t]);
    assert_eq!(p.args[0], ArgPlan::Indirect { pointer: ArgGpr(0) });
    assert_eq!(p.ret, RetPlan::Indirect { pointer: ArgGpr(8) });
    // struct { char c; int128 x; }: 32 bytes.
    let p = plan(":void", &["[:char :int128]"]);
    assert_eq!(p.args[0], ArgPlan::Indirect { pointer: ArgGpr(0) });
}

#[test]
fn complex_numbers_are_homogeneous_aggregates_of_two() {
    let p = plan(":complex-float", &[":float", ":complex-float"]);
    assert_eq!(p.args[1], direct(&hfa(4, 2, 1)));
    assert_eq!(p.ret, RetPlan::Direct(hfa(4, 2, 0)));
    let p = plan(":complex-double", &[":complex-double"]);
    assert_eq!(p.args[0], direct(&hfa(8, 2, 0)));
    assert_eq!(p.ret, RetPlan::Direct(hfa(8, 2, 0)));
    let p = plan(":complex-long-double", &[":complex-long-double"]);
    assert_eq!(p.args[0], direct(&[quad(0, 0), quad(16, 1)]));
    assert_eq!(p.ret, RetPlan::Direct(vec![quad(0, 0), quad(16, 1)]));
    // struct { double d; double complex c; } flattens to three doubles: d0-d2.
    let p = plan(":void", &["[:double :complex-double]"]);
    assert_eq!(p.args[0], direct(&hfa(8, 3, 0)));
    // Three complex doubles are six members: no HFA, by reference.
    let p = plan(":void", &["[@[:complex-double 3]]"]);
    assert_eq!(p.args[0], ArgPlan::Indirect { pointer: ArgGpr(0) });
    // Past v7: the stack, at the natural alignment (16 for complex long double).
    let p = plan_of(":void", &with(many(8, ":double"), &[":int", ":complex-long-double"]));
    assert_eq!(p.args[9], direct(&on_stack(32, 0)));
}

#[test]
fn a_union_of_long_double_members_is_a_homogeneous_aggregate() {
    // union { long double a; long double b[2]; }: its largest member, two quads (gcc:
    // q1, q2 after a double).
    let t = "[:union :long-double @[:long-double 2]]";
    let p = plan(t, &[":double", t]);
    assert_eq!(p.args[1], direct(&[quad(0, 1), quad(16, 2)]));
    assert_eq!(p.ret, RetPlan::Direct(vec![quad(0, 0), quad(16, 1)]));
}
