//! The errno-capturing thunks, disassembled (pure emission: every ISA on every host).
//!
//! What capture must guarantee, checked on the instructions: right after the callee
//! returns, before anything but the result stores, a Windows thunk reads the TEB's last
//! error, and the thunk copies `errno` into the slot through the address the slot holds
//! (calling nothing: the target is the only call); the call is made with the stack 16-byte
//! aligned and the stack is balanced at the return. Thunks of signatures that do not ask are unchanged (the golden
//! listings of `x86_thunks` and `aarch64_thunks`).

mod common;

use common::disasm::x86_formatter;
use iced_x86::{Decoder, DecoderOptions, Formatter, Mnemonic, OpKind, Register};
use jitcall::internals::arch::{
    classify, emit_thunk, ArgSource, BlockLayout, CodeBuffer, ErrnoAccess,
};
use jitcall::{ffi, syntax, Abi, Signature, Type};
use yaxpeax_arch::{Decoder as _, U8Reader};
use yaxpeax_arm::armv8::a64::InstDecoder;

fn ty(text: &str) -> Type {
    ffi::native_type(&syntax::read(text).unwrap()).unwrap()
}

/// Where the thunk reads its arguments (the test's name for [`ArgSource`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Block,
    Pointers,
}

fn emit(abi: Abi, ret: &str, params: &[&str], source: Source, errno: &ErrnoAccess) -> Vec<u8> {
    let sig = Signature::new(abi, ty(ret), params.iter().map(|p| ty(p)).collect());
    let plan = classify(&sig).unwrap();
    let block = BlockLayout::new(&sig).unwrap();
    let source = match source {
        Source::Block => ArgSource::Block(&block),
        Source::Pointers => ArgSource::Pointers,
    };
    let mut code = CodeBuffer::new();
    emit_thunk(&plan, source, Some(errno), &mut code).unwrap();
    code.into_bytes()
}

/// Signatures with results in registers and in memory, and stack arguments.
const SIGNATURES: &[(&str, &[&str])] = &[
    (":int", &[":int", ":int"]),
    (":double", &[":double", ":ptr"]),
    ("[:int64 :int64 :int64]", &[":int", ":int", ":int", ":int", ":int", ":int", ":int"]),
    (":void", &[]),
];

fn accesses() -> Vec<ErrnoAccess> {
    let mut all = Vec::new();
    for windows in [false, true] {
        for set_before in [false, true] {
            all.push(ErrnoAccess { windows, set_before });
        }
    }
    all
}

fn x86_listing(bytes: &[u8]) -> Vec<(iced_x86::Instruction, String)> {
    let mut formatter = x86_formatter();
    Decoder::with_ip(64, bytes, 0, DecoderOptions::NONE)
        .into_iter()
        .map(|inst| {
            assert!(!inst.is_invalid(), "undecodable bytes");
            let mut text = String::new();
            formatter.format(&inst, &mut text);
            (inst, text)
        })
        .collect()
}

#[test]
fn x86_64_thunks_capture_right_after_the_call_with_an_aligned_stack() {
    for abi in [Abi::SysV64, Abi::Win64] {
        for &(ret, params) in SIGNATURES {
            for errno in accesses() {
                for source in [Source::Block, Source::Pointers] {
                    if source == Source::Pointers && ret.starts_with('[') {
                        continue; // such plans need the block
                    }
                    let bytes = emit(abi, ret, params, source, &errno);
                    check_x86(
                        &x86_listing(&bytes),
                        &errno,
                        &format!("{abi} {ret} {params:?} {errno:?}"),
                    );
                }
            }
        }
    }
}

fn check_x86(listing: &[(iced_x86::Instruction, String)], errno: &ErrnoAccess, name: &str) {
    let texts: Vec<&str> = listing.iter().map(|(_, t)| t.as_str()).collect();
    let target_call =
        texts.iter().position(|t| *t == "call r11").unwrap_or_else(|| panic!("{name}: {texts:#?}"));
    // The last error first, straight after the call.
    if errno.windows {
        assert_eq!(texts[target_call + 1], "mov ecx, dword ptr gs:[0x68]", "{name}");
        assert_eq!(texts[target_call + 2], "mov dword ptr [r13+4], ecx", "{name}");
    } else {
        assert!(!texts.iter().any(|t| t.contains("gs:")), "{name}: no TEB access off Windows");
    }
    // Then only result stores, then the copy into the slot through its errno address.
    let after: Vec<&str> = texts[target_call + 1..].to_vec();
    let copy = after
        .iter()
        .position(|t| *t == "mov rcx, qword ptr [r13+8]")
        .unwrap_or_else(|| panic!("{name}: {after:#?}"));
    for t in &after[..copy] {
        let result_store = t.starts_with("mov qword ptr [r12")
            || t.starts_with("mov dword ptr [r12")
            || t.starts_with("mov word ptr [r12")
            || t.starts_with("mov byte ptr [r12")
            || t.starts_with("movsd qword ptr [r12")
            || t.starts_with("movss dword ptr [r12");
        let teb = t.contains("gs:") || *t == "mov dword ptr [r13+4], ecx";
        assert!(result_store || teb, "{name}: {t} runs before the errno copy");
    }
    assert_eq!(
        after[copy + 1..copy + 3],
        ["mov ecx, dword ptr [rcx]", "mov dword ptr [r13], ecx"],
        "{name}"
    );
    // Setting errno before the call: the slot's value into *location, before any
    // argument register is loaded (rax and rcx are argument registers of one convention
    // or the other).
    let before: Vec<&str> = texts[..target_call].to_vec();
    let set = before.iter().position(|t| *t == "mov rax, qword ptr [r13+8]");
    assert_eq!(set.is_some(), errno.set_before, "{name}");
    if let Some(set) = set {
        assert_eq!(
            before[set + 1..set + 3],
            ["mov ecx, dword ptr [r13]", "mov dword ptr [rax], ecx"],
            "{name}"
        );
        let slot_saved = before.iter().position(|t| *t == "mov r13, rcx").unwrap();
        assert!(slot_saved < set, "{name}: the slot is set before it is known");
        assert!(
            before[..set].iter().all(|t| !t.contains("ptr [r10")),
            "{name}: an argument is loaded before errno is set"
        );
    }
    // The target is the only call.
    assert_eq!(texts.iter().filter(|t| t.starts_with("call")).count(), 1, "{name}");

    // The call with rsp 16-aligned (the thunk is entered with rsp = 8 mod 16).
    let mut depth: i64 = 8; // bytes below the 16-aligned address above the return address
    for (inst, text) in listing {
        match inst.mnemonic() {
            Mnemonic::Push => depth += 8,
            Mnemonic::Pop => depth -= 8,
            Mnemonic::Sub | Mnemonic::Add if inst.op0_register() == Register::RSP => {
                assert_eq!(inst.op1_kind(), OpKind::Immediate32to64, "{name}: {text}");
                let imm = inst.immediate32to64();
                depth += if inst.mnemonic() == Mnemonic::Sub { imm } else { -imm };
            }
            Mnemonic::Call => assert_eq!(depth % 16, 0, "{name}: {text} with rsp misaligned"),
            _ => {}
        }
    }
    assert_eq!(depth, 8, "{name}: the stack is not balanced at the ret");
}

fn a64_text(bytes: &[u8]) -> Vec<String> {
    bytes
        .chunks_exact(4)
        .map(|w| {
            let mut reader = U8Reader::new(w);
            InstDecoder::default().decode(&mut reader).expect("decodes").to_string()
        })
        .collect()
}

#[test]
fn aarch64_thunks_capture_right_after_the_call() {
    for &(ret, params) in SIGNATURES {
        for set_before in [false, true] {
            for source in [Source::Block, Source::Pointers] {
                if source == Source::Pointers && ret.starts_with('[') {
                    continue;
                }
                let errno = ErrnoAccess { windows: false, set_before };
                let text = a64_text(&emit(Abi::Aapcs64, ret, params, source, &errno));
                let name = format!("{ret} {params:?} {errno:?} {source:?}");
                let call = text.iter().position(|t| t == "blr x21").unwrap();
                assert!(text.contains(&"str x22, [sp, #0x28]".to_string()), "{name}: {text:#?}");
                assert!(text.contains(&"mov x22, x3".to_string()), "{name}");
                assert_eq!(text.iter().filter(|t| t.starts_with("blr")).count(), 1, "{name}");
                let after = &text[call + 1..];
                let copy = after.iter().position(|t| t == "ldr x10, [x22, #0x8]").unwrap();
                for t in &after[..copy] {
                    let ok = t.starts_with("str") && t.contains("[x20");
                    assert!(ok, "{name}: {t} runs before the errno copy");
                }
                assert_eq!(after[copy + 1..copy + 3], ["ldr w9, [x10]", "str w9, [x22]"], "{name}");
                assert!(after.contains(&"ldr x22, [sp, #0x28]".to_string()), "{name}");
                let set = text[..call].iter().position(|t| t == "ldr x10, [x22, #0x8]");
                assert_eq!(set.is_some(), set_before, "{name}");
                if let Some(set) = set {
                    assert_eq!(
                        text[set + 1..set + 3],
                        ["ldr w9, [x22]", "str w9, [x10]"],
                        "{name}"
                    );
                    assert!(text[..set].contains(&"mov x22, x3".to_string()), "{name}");
                }
            }
        }
    }
}
