//! Golden listings of whole x86-64 call thunks, for System V and Win64.
//!
//! Each case is a signature written in Janet type syntax. It is classified by the
//! convention, its thunk emitted, and the bytes disassembled with iced-x86 into a listing
//! (offset, hex, Intel text, one instruction a line) headed by the plan as
//! [`CallPlan::describe`] prints it. The listing is compared with
//! `tests/golden/x86_64/<case>_<abi>.txt`.
//!
//! After a deliberate change to the thunk generator, rewrite the files with
//! `JITCALL_BLESS=1 cargo test --test x86_thunks`, then read the diff: every changed listing
//! is a changed calling sequence and must be checked against the ABI by hand.
//!
//! [`CallPlan::describe`]: jitcall::CallPlan

use std::fmt::Write as _;

mod common;

use common::disasm::x86_formatter as formatter;
use common::golden::{self, shorten};
use iced_x86::{Code, Decoder, DecoderOptions, Formatter};
use jitcall::internals::arch::{
    classify, emit_callback_handler, emit_thunk, ArgSource, BlockLayout, CodeBuffer, HandlerKind,
};
use jitcall::Type;
use jitcall::{ffi, syntax, Abi, Signature};

/// A signature: a name for the golden file, the return type and the parameter types.
struct Case {
    name: &'static str,
    ret: &'static str,
    params: &'static [&'static str],
}

const DD: &str = "[:double :double]";

const CASES: &[Case] = &[
    Case { name: "int_int_int", ret: ":int", params: &[":int", ":int"] },
    Case {
        name: "double_double_int_double",
        ret: ":double",
        params: &[":double", ":int", ":double"],
    },
    // Eight integer-class and two float arguments: SysV spills the last two integers (both
    // narrow, so the stack copies widen them); Win64 spills everything after the fourth.
    Case {
        name: "mixed10_stack",
        ret: ":float",
        params: &[
            ":int64", ":ptr", ":int32", ":uint32", ":double", ":int16", ":float", ":uint16",
            ":int8", ":uint8",
        ],
    },
    // Ten doubles: SysV uses xmm0-xmm7 and spills two; Win64 uses xmm0-xmm3 and spills six.
    Case {
        name: "ten_doubles",
        ret: ":double",
        params: &[
            ":double", ":double", ":double", ":double", ":double", ":double", ":double", ":double",
            ":double", ":double",
        ],
    },
    // Five arguments: one Win64 stack slot, so the 40-byte frame rounds up to 48.
    Case { name: "five_ptrs", ret: ":ptr", params: &[":ptr", ":ptr", ":ptr", ":ptr", ":ptr"] },
    Case {
        name: "narrow_ints",
        ret: ":int8",
        params: &[":int8", ":uint8", ":int16", ":uint16", ":bool"],
    },
    Case { name: "narrow_unsigned_ret", ret: ":uint16", params: &[":uint32", ":int32", ":char"] },
    Case { name: "struct_dd_dd_dd", ret: DD, params: &[DD, DD] },
    // {int32, float} is one INTEGER eightbyte, {double} one SSE eightbyte.
    Case {
        name: "struct_mixed_classes",
        ret: "[:double :int64]",
        params: &["[:int32 :float :double]"],
    },
    // 8-, 3- and 4-byte aggregates: Win64 passes the 8 and the 4 in registers, the 3 by
    // reference; SysV passes all three in registers.
    Case {
        name: "small_structs",
        ret: "[:float :float]",
        params: &["[:float :float]", "[:uint8 :uint8 :uint8]", "[:int16 :int16]"],
    },
    Case { name: "ret_struct24", ret: "[:int64 :int64 :int64]", params: &[":int", ":double"] },
    // MEMORY on SysV: 40 bytes is at most the 64-byte rep movsb threshold, so it is copied
    // one eightbyte at a time. Win64 passes it by reference.
    Case { name: "void_struct40", ret: ":void", params: &["[:int64 :int64 :int64 :int64 :int64]"] },
    // Over 64 bytes of stack copy: SysV switches to rep movsb.
    Case { name: "void_struct72_int", ret: ":void", params: &["[@[:int64 9]]", ":int"] },
    // {float, float, float}: one SSE eightbyte of 8 bytes, one of 4 (movss).
    Case { name: "struct_fff", ret: "[:float :float :float]", params: &["[:float :float :float]"] },
    // Five integers leave one GPR: the 16-byte struct needs two, so it goes wholly on the
    // stack (SysV), and the int64 after it still takes r9.
    Case {
        name: "struct_spill_partial",
        ret: ":void",
        params: &[":int64", ":int64", ":int64", ":int64", ":int64", "[:int64 :int64]", ":int64"],
    },
    // A packed struct with an unaligned field is MEMORY on SysV even at 5 bytes.
    Case { name: "packed5", ret: ":int", params: &["[:int8 :pack :int32]", ":int"] },
    // A frame over a page: the stack is touched a page at a time.
    Case { name: "void_struct5000", ret: ":void", params: &["[@[:uint8 5000]]"] },
    // Past MAX_STACK_BYTES (64 KiB): the generator refuses.
    Case { name: "void_struct70000", ret: ":void", params: &["[@[:uint8 70000]]"] },
    Case { name: "void_void", ret: ":void", params: &[] },
];

const ABIS: [Abi; 2] = [Abi::SysV64, Abi::Win64];

fn ty(text: &str) -> Type {
    let value = syntax::read(text).unwrap_or_else(|e| panic!("reading {text}: {e}"));
    ffi::native_type(&value).unwrap_or_else(|e| panic!("type {text}: {e}"))
}

/// The plan and the disassembled thunk of one case under one convention, or the error the
/// classifier or the generator gave (which is golden too).
fn listing(case: &Case, abi: Abi) -> String {
    let sig = Signature::new(abi, ty(case.ret), case.params.iter().map(|p| ty(p)).collect());
    let mut out = String::new();
    writeln!(out, "; {} ({}) under {abi}", case.ret, case.params.join(" ")).unwrap();
    let plan = match classify(&sig) {
        Ok(plan) => plan,
        Err(e) => {
            writeln!(out, "; classify: error: {e}").unwrap();
            return out;
        }
    };
    for line in plan.to_string().lines() {
        writeln!(out, "; {}", shorten(line)).unwrap();
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

/// One line per instruction: offset, hex bytes, Intel text. Panics on undecodable bytes.
fn disassemble(bytes: &[u8]) -> String {
    let mut decoder = Decoder::with_ip(64, bytes, 0, DecoderOptions::NONE);
    let mut fmt = formatter();
    let mut out = String::new();
    let mut text = String::new();
    while decoder.can_decode() {
        let inst = decoder.decode();
        assert!(
            !inst.is_invalid() && inst.code() != Code::INVALID,
            "undecodable bytes at offset {:#x}",
            inst.ip()
        );
        let start = inst.ip() as usize;
        let hex: String =
            bytes[start..start + inst.len()].iter().map(|b| format!("{b:02x}")).collect();
        text.clear();
        fmt.format(&inst, &mut text);
        writeln!(out, "{start:04x}  {hex:<24}  {text}").unwrap();
    }
    out
}

#[test]
fn thunk_listings_match_golden_files() {
    let files: Vec<(String, String)> = CASES
        .iter()
        .flat_map(|case| {
            ABIS.iter()
                .map(move |&abi| (format!("{}_{}.txt", case.name, abi.name()), listing(case, abi)))
        })
        .collect();
    golden::check(&golden::dir("x86_64"), &files);
}

/// The tail thunks (`DirectCall`'s) of every case and both conventions in one listing:
/// the thunk, or the generator's refusal for plans with stack arguments, by-reference
/// arguments or results in memory.
#[test]
fn tail_thunk_listings_match_golden_files() {
    let mut out = String::new();
    for case in CASES {
        for abi in ABIS {
            let sig =
                Signature::new(abi, ty(case.ret), case.params.iter().map(|p| ty(p)).collect());
            let header = format!("; {} ({}) under {abi}", case.ret, case.params.join(" "));
            out += &golden::tail_thunk_listing(&header, &sig, disassemble);
        }
    }
    golden::check(&golden::dir("x86_64_tail"), &[("tail_thunks.txt".to_string(), out)]);
}

/// The callback handlers of both conventions, of both kinds: the `Integer` kind saves no
/// vector argument register and loads no x87 result, and is otherwise the `Full` one.
#[test]
fn callback_handler_listings_match_golden_files() {
    let mut out = String::new();
    for abi in ABIS {
        for kind in HandlerKind::ALL {
            let mut code = CodeBuffer::new();
            emit_callback_handler(abi, kind, &mut code);
            writeln!(out, "; the {abi} callback handler, {kind:?}").unwrap();
            out.push_str(&disassemble(code.bytes()));
        }
    }
    golden::check(&golden::dir("x86_64_handlers"), &[("callback_handlers.txt".to_string(), out)]);
}
