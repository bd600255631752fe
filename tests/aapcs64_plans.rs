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

#[test]
fn wide_scalars_are_refused_until_their_placement_exists() {
    let sig = Signature::new(Abi::Aapcs64, Type::VOID, vec![ty("[:int :int128]")]);
    let err = classify(&sig).unwrap_err().to_string();
    assert!(err.contains("argument 0 holds a long double, 128-bit integer or complex"), "{err}");
}
