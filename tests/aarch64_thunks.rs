//! Golden listings of whole AArch64 call thunks under AAPCS64.
//!
//! Each case is a signature written in Janet type syntax. It is classified by
//! `Abi::Aapcs64`, its thunk emitted, and the words disassembled with yaxpeax-arm into a
//! listing (offset, instruction word, text, one instruction a line) headed by the plan as
//! [`CallPlan::describe`] prints it. The listing is compared with
//! `tests/golden/aarch64/<case>.txt`.
//!
//! After a deliberate change to the thunk generator, rewrite the files with
//! `JITCALL_BLESS=1 cargo test --test aarch64_thunks`, then read the diff: every changed
//! listing is a changed calling sequence and must be checked against AAPCS64 by hand.
//!
//! Beside the golden comparison, [`thunk_invariants`] checks what every AAPCS64 thunk
//! must do whatever its signature: the frame record saved and restored, x19-x21 preserved,
//! the stack 16-byte aligned at the call, and no word that fails to decode.
//!
//! [`CallPlan::describe`]: jitcall::CallPlan

use std::fmt::Write as _;

mod common;

use common::golden::{self, shorten};
use jitcall::internals::arch::{
    classify, emit_thunk, ArgSource, BlockLayout, CodeBuffer, ErrnoAccess, HandlerKind,
};
use jitcall::Type;
use jitcall::{ffi, syntax, Abi, Signature};
use yaxpeax_arch::{Decoder, U8Reader};
use yaxpeax_arm::armv8::a64::InstDecoder;

/// A signature: a name for the golden file, the return type and the parameter types.
struct Case {
    name: &'static str,
    ret: &'static str,
    params: Vec<String>,
}

fn case(name: &'static str, ret: &'static str, params: &[&str]) -> Case {
    Case { name, ret, params: params.iter().map(|p| p.to_string()).collect() }
}

/// `n` copies of `ty`.
fn many(n: usize, ty: &str) -> Vec<String> {
    vec![ty.to_string(); n]
}

const FF: &str = "[:float :float]";
const FFFF: &str = "[:float :float :float :float]";
const D4: &str = "[@[:double 4]]";
const I64X3: &str = "[:int64 :int64 :int64]";

fn cases() -> Vec<Case> {
    vec![
        case("int_int_int", ":int", &[":int", ":int"]),
        // NGRN and NSRN count separately: d0, w0 (sign-extended to x0), d1.
        case("double_double_int_double", ":double", &[":double", ":int", ":double"]),
        // x0-x7, then two 8-byte stack slots (16 bytes, already 16-aligned).
        Case { name: "ten_int64", ret: ":int64", params: many(10, ":int64") },
        // An HFA of two floats: one member per register, s0 and s1, both ways.
        case("hfa_ff_ff", FF, &[FF]),
        // An HFA result of four floats comes back in s0-s3.
        case("hfa_ffff_ret", FFFF, &[":int"]),
        // Six doubles take d0-d5; the 4-double HFA needs four more, so it goes on the stack
        // by value (32 bytes at stack+0), NSRN becomes 8, and the double after it goes to
        // stack+32 although d6 and d7 are free.
        Case {
            name: "hfa_d4_spills",
            ret: ":double",
            params: [many(6, ":double"), vec![D4.into(), ":double".into()]].concat(),
        },
        // 12 bytes, not an HFA: two x-registers (8 bytes, then 4 of the second dword).
        case("struct12_two_xregs", ":int", &["[:int32 :float :int32]", ":int"]),
        // 24 bytes: the argument by reference (its address in x0), the result through x8.
        case("struct24_by_ref", I64X3, &[I64X3, ":int"]),
        // Only the result in memory (x8): the tail thunk passes the caller's memory there.
        case("struct24_ret_only", I64X3, &[":int64", ":double"]),
        // Narrow integers, widened by signedness; the narrow result is stored whole.
        case(
            "narrow_ints",
            ":int8",
            &[":int8", ":uint8", ":int16", ":uint16", ":int32", ":uint32", ":bool"],
        ),
        // Seven integers leave x7 alone: the 16-byte struct needs two, so it goes on the
        // stack and NGRN becomes 8: the int64 after it goes on the stack too (unlike SysV).
        Case {
            name: "struct16_no_room",
            ret: ":void",
            params: [many(7, ":int64"), vec!["[:int64 :int64]".into(), ":int64".into()]].concat(),
        },
        // 514 stack arguments (4112 bytes): the thunk moves sp down a page at a time and
        // touches each page. The last two arguments sit past 4095 bytes into the block,
        // beyond the reach of ldrsb/ldrb's scaled offset, so their address is computed.
        Case {
            name: "big_frame",
            ret: ":void",
            params: [many(520, ":int64"), vec![":int8".into(), ":uint8".into()]].concat(),
        },
        // A 70000-byte struct goes by reference; the int8 after it sits 70000 bytes into
        // the block, past 16 bits, so its address takes movz and movk.
        case("far_block_offset", ":int", &["[@[:uint8 70000]]", ":int8"]),
        // Past MAX_STACK_BYTES (64 KiB of stack arguments): the generator refuses.
        Case { name: "too_much_stack", ret: ":void", params: many(8 + 8193, ":int64") },
        case("void_void", ":void", &[]),
    ]
}

const LD2: &str = "[:long-double :long-double]";

/// The wide scalars: listed in every thunk form (block, pointers, errno-capturing), since
/// 16-byte vector pieces need whole q-register loads and stores in each.
fn wide_cases() -> Vec<Case> {
    vec![
        // q0 and q1 whole, both ways.
        case("wide_long_double", ":long-double", &[":long-double", ":long-double"]),
        // A double in d0, then an HFA of two quads in q1, q2; the result in q0, q1.
        case("wide_hfa_ld2", LD2, &[":double", LD2]),
        // Eight doubles fill v0-v7; the long double goes to stack+0, 16 bytes.
        Case {
            name: "wide_long_double_on_stack",
            ret: ":void",
            params: [many(8, ":double"), vec![":double".into(), ":long-double".into()]].concat(),
        },
        // An int in w0, the int128 in the even pair x2, x3 (x1 skipped); the result x0, x1.
        case("wide_int128_even_pair", ":int128", &[":int", ":int128"]),
        // Seven int64s leave x7: the int128 goes to stack+0, and the int64 after it too.
        Case {
            name: "wide_int128_on_stack",
            ret: ":void",
            params: [many(7, ":int64"), vec![":int128".into(), ":int64".into()]].concat(),
        },
        // q0, q1 both ways.
        case("wide_complex_long_double", ":complex-long-double", &[":complex-long-double"]),
        // Not homogeneous: 16 bytes in x2, x3 (even pair: the union's alignment is 16).
        case(
            "wide_union_ld_double",
            "[:union :long-double :double]",
            &[":int", "[:union :long-double :double]"],
        ),
    ]
}

fn ty(text: &str) -> Type {
    let value = syntax::read(text).unwrap_or_else(|e| panic!("reading {text}: {e}"));
    ffi::native_type(&value).unwrap_or_else(|e| panic!("type {text}: {e}"))
}

/// The parameter list with runs of one type shortened: `:int64 x520 :int8`.
fn params_text(params: &[String]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < params.len() {
        let run = params[i..].iter().take_while(|p| **p == params[i]).count();
        out.push(if run > 2 { format!("{} x{run}", params[i]) } else { params[i].clone() });
        if run <= 2 {
            i += 1;
        } else {
            i += run;
        }
    }
    out.join(" ")
}

/// The plan and the disassembled thunk of one case, or the error the classifier or the
/// generator gave (which is golden too).
fn listing(case: &Case) -> String {
    let abi = Abi::Aapcs64;
    let sig = Signature::new(abi, ty(case.ret), case.params.iter().map(|p| ty(p)).collect());
    let mut out = String::new();
    writeln!(out, "; {} ({}) under {abi}", case.ret, params_text(&case.params)).unwrap();
    let plan = match classify(&sig) {
        Ok(plan) => plan,
        Err(e) => {
            writeln!(out, "; classify: error: {e}").unwrap();
            return out;
        }
    };
    let described = plan.to_string();
    let lines: Vec<&str> = described.lines().collect();
    // Hundreds of arguments: the first and last few lines of the plan are enough.
    let shown: Vec<String> = if lines.len() > 2 * PLAN_ENDS + 1 {
        let mut v: Vec<String> = lines[..PLAN_ENDS].iter().map(|s| s.to_string()).collect();
        v.push(format!("... ({} more lines)", lines.len() - 2 * PLAN_ENDS));
        v.extend(lines[lines.len() - PLAN_ENDS..].iter().map(|s| s.to_string()));
        v
    } else {
        lines.iter().map(|s| s.to_string()).collect()
    };
    for line in shown {
        writeln!(out, "; {}", shorten(&line)).unwrap();
    }
    let mut code = CodeBuffer::new();
    if let Err(e) =
        emit_thunk(&plan, ArgSource::Block(&BlockLayout::new(&sig).unwrap()), None, &mut code)
    {
        writeln!(out, "; emit: error: {e}").unwrap();
        return out;
    }
    out.push_str(&disassemble(code.bytes()));
    out
}

const PLAN_ENDS: usize = 12;

fn words(bytes: &[u8]) -> Vec<u32> {
    assert_eq!(bytes.len() % 4, 0, "a thunk is whole instruction words");
    bytes.chunks_exact(4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]])).collect()
}

fn decode(word: u32) -> String {
    let bytes = word.to_le_bytes();
    let mut reader = U8Reader::new(&bytes[..]);
    match InstDecoder::default().decode(&mut reader) {
        Ok(inst) => inst.to_string(),
        Err(e) => panic!("{word:08x} does not decode: {e:?}"),
    }
}

/// One line per instruction: offset, word, yaxpeax-arm text. Panics on undecodable words.
fn disassemble(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, word) in words(bytes).into_iter().enumerate() {
        writeln!(out, "{:04x}  {word:08x}  {}", 4 * i, decode(word)).unwrap();
    }
    out
}

/// [`listing`], then the pointer thunk (when the plan fits it) and the errno-capturing
/// thunk over the block.
fn listing_every_form(case: &Case) -> String {
    let mut out = listing(case);
    let abi = Abi::Aapcs64;
    let sig = Signature::new(abi, ty(case.ret), case.params.iter().map(|p| ty(p)).collect());
    let plan = classify(&sig).expect("the wide cases classify");
    let block = BlockLayout::new(&sig).unwrap();
    let mut code = CodeBuffer::new();
    match emit_thunk(&plan, ArgSource::Pointers, None, &mut code) {
        Ok(()) => {
            out.push_str("; pointer thunk\n");
            out.push_str(&disassemble(code.bytes()));
        }
        Err(e) => writeln!(out, "; pointer thunk: error: {e}").unwrap(),
    }
    let errno = ErrnoAccess { windows: false, set_before: false };
    let mut code = CodeBuffer::new();
    emit_thunk(&plan, ArgSource::Block(&block), Some(&errno), &mut code).expect("emits");
    out.push_str("; errno thunk (block)\n");
    out.push_str(&disassemble(code.bytes()));
    out
}

#[test]
fn thunk_listings_match_golden_files() {
    let mut files: Vec<(String, String)> =
        cases().iter().map(|case| (format!("{}.txt", case.name), listing(case))).collect();
    files.extend(
        wide_cases().iter().map(|case| (format!("{}.txt", case.name), listing_every_form(case))),
    );
    let mut text = String::new();
    for kind in HandlerKind::ALL {
        let mut handler = CodeBuffer::new();
        jitcall::internals::arch::emit_callback_handler(Abi::Aapcs64, kind, &mut handler);
        let listing = disassemble(handler.bytes());
        writeln!(text, "; the AAPCS64 callback handler, {kind:?}\n{listing}").unwrap();
    }
    files.push(("callback_handler.txt".into(), text));
    golden::check(&golden::dir("aarch64"), &files);
}

/// Every 16-byte vector piece moves as a whole q-register in every thunk form, and a
/// d- or s-register appears only for pieces of that size.
#[test]
fn wide_vector_pieces_move_whole_q_registers() {
    let abi = Abi::Aapcs64;
    let errno = ErrnoAccess { windows: false, set_before: true };
    for (ret, params, loads, stores) in [
        (":long-double", vec![":long-double", ":long-double"], 2, 1),
        (LD2, vec![":double", LD2], 2, 2),
        (":complex-long-double", vec![":complex-long-double"], 2, 2),
        ("[@[:long-double 4]]", vec!["[@[:long-double 4]]"], 4, 4),
    ] {
        let sig = Signature::new(abi, ty(ret), params.iter().map(|p| ty(p)).collect());
        let plan = classify(&sig).unwrap();
        let block = BlockLayout::new(&sig).unwrap();
        for form in 0..4 {
            let mut code = CodeBuffer::new();
            match form {
                0 => emit_thunk(&plan, ArgSource::Block(&block), None, &mut code),
                1 => emit_thunk(&plan, ArgSource::Pointers, None, &mut code),
                2 => emit_thunk(&plan, ArgSource::Block(&block), Some(&errno), &mut code),
                _ => emit_thunk(&plan, ArgSource::Pointers, Some(&errno), &mut code),
            }
            .unwrap_or_else(|e| panic!("{ret} {params:?} form {form}: {e}"));
            let text: Vec<String> = words(code.bytes()).into_iter().map(decode).collect();
            let count = |prefix: &str| text.iter().filter(|t| t.starts_with(prefix)).count();
            let name = format!("{ret} {params:?} form {form}");
            assert_eq!(count("ldr q"), loads, "{name}: {text:#?}");
            assert_eq!(count("str q"), stores, "{name}: {text:#?}");
            let doubles = params.iter().filter(|p| **p == ":double").count();
            assert_eq!(count("ldr d"), doubles, "{name}");
            assert_eq!(count("str d") + count("ldr s") + count("str s"), 0, "{name}");
        }
    }
}

/// What every thunk does whatever the signature, checked on the decoded text of every
/// case that emits: the prologue and epilogue exactly, sp moved only by 16-byte-multiple
/// amounts between them, and x19-x21 written only by the prologue's moves.
#[test]
fn thunk_invariants() {
    const PROLOGUE: [&str; 7] = [
        "stp x29, x30, [sp, #-0x30]!",
        "mov x29, sp",
        "stp x19, x20, [sp, #0x10]",
        "str x21, [sp, #0x20]",
        "mov x21, x0",
        "mov x19, x1",
        "mov x20, x2",
    ];
    const EPILOGUE: [&str; 5] = [
        "mov sp, x29",
        "ldp x19, x20, [sp, #0x10]",
        "ldr x21, [sp, #0x20]",
        "ldp x29, x30, [sp], #0x30",
        "ret",
    ];
    for case in cases().into_iter().chain(wide_cases()) {
        let abi = Abi::Aapcs64;
        let sig = Signature::new(abi, ty(case.ret), case.params.iter().map(|p| ty(p)).collect());
        let Ok(plan) = classify(&sig) else { continue };
        let mut code = CodeBuffer::new();
        if emit_thunk(&plan, ArgSource::Block(&BlockLayout::new(&sig).unwrap()), None, &mut code)
            .is_err()
        {
            continue;
        }
        let text: Vec<String> = words(code.bytes()).into_iter().map(decode).collect();
        let name = case.name;
        assert!(text.len() > PROLOGUE.len() + EPILOGUE.len(), "{name}: too short");
        assert_eq!(text[..PROLOGUE.len()], PROLOGUE, "{name}: prologue");
        assert_eq!(text[text.len() - EPILOGUE.len()..], EPILOGUE, "{name}: epilogue");
        let body = &text[PROLOGUE.len()..text.len() - EPILOGUE.len()];
        assert_eq!(body.iter().filter(|t| *t == "blr x21").count(), 1, "{name}: one call");

        // sp only goes down, by immediates or by x16 after movz/movk, to 16-byte multiples,
        // and the total is the plan's stack area rounded up to 16.
        let mut x16: u64 = 0;
        let mut moved: u64 = 0;
        for t in body {
            if let Some(v) = t.strip_prefix("mov x16, #") {
                x16 = u64::from_str_radix(v.trim_start_matches("0x"), 16).unwrap();
            } else if let Some(v) = t.strip_prefix("movk x16, #") {
                let (v, shift) = v.split_once(", lsl #").unwrap_or((v, "0"));
                let v = u64::from_str_radix(v.trim_start_matches("0x"), 16).unwrap();
                let shift: u32 = shift.parse().unwrap();
                x16 = (x16 & !(0xffff << shift)) | (v << shift);
            } else if t == "sub sp, sp, x16" {
                moved += x16;
            } else if let Some(v) = t.strip_prefix("sub sp, sp, #") {
                moved += u64::from_str_radix(v.trim_start_matches("0x"), 16).unwrap();
            } else {
                assert!(!t.starts_with("add sp") && !t.starts_with("mov sp"), "{name}: {t}");
                assert!(!t.contains("]!") && !t.contains("], #"), "{name}: writeback {t}");
            }
            // The thunk's own registers are never overwritten in the body.
            for reg in ["x19", "x20", "x21", "x29", "x30"] {
                let written = t.split_once(' ').is_some_and(|(mnemonic, ops)| {
                    !mnemonic.starts_with("str")
                        && !mnemonic.starts_with("blr")
                        && ops.starts_with(&format!("{reg},"))
                });
                assert!(!written, "{name}: {t} writes {reg}");
            }
        }
        assert_eq!(moved, u64::from(plan.stack_bytes.next_multiple_of(16)), "{name}: sp");
        assert_eq!(moved % 16, 0, "{name}: sp is 16-byte aligned at the call");
    }
}

/// The tail thunks (`DirectCall`'s) of every case in one listing: the thunk, or the
/// generator's refusal for plans with stack arguments, by-reference arguments or results
/// in memory.
#[test]
fn tail_thunk_listings_match_golden_files() {
    let mut out = String::new();
    for case in cases().into_iter().chain(wide_cases()) {
        let abi = Abi::Aapcs64;
        let sig = Signature::new(abi, ty(case.ret), case.params.iter().map(|p| ty(p)).collect());
        let header = format!("; {} ({}) under {abi}", case.ret, params_text(&case.params));
        out += &golden::tail_thunk_listing(&header, &sig, disassemble);
    }
    golden::check(&golden::dir("aarch64_tail"), &[("tail_thunks.txt".to_string(), out)]);
}
