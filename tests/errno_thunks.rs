//! The errno-capturing thunks, disassembled (pure emission: every ISA on every host).
//!
//! What capture must guarantee, checked on the instructions: right after the callee
//! returns, before anything but the result stores, a Windows thunk reads the TEB's last
//! error and the thunk calls the C library's errno accessor and stores `errno` into the
//! slot; every call is made with the stack 16-byte aligned, and a Win64 accessor gets 32
//! bytes of shadow space. Thunks of signatures that do not ask are unchanged (the golden
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

const ACCESSOR: u64 = 0x7f12_3456_7890;

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
            all.push(ErrnoAccess { accessor: ACCESSOR, windows, set_before });
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
    // Then only result stores, then the accessor and the copy into the slot.
    let after: Vec<&str> = texts[target_call + 1..].to_vec();
    let accessor = after.iter().position(|t| *t == "call rax").unwrap_or_else(|| panic!("{name}"));
    for t in &after[..accessor] {
        let result_store = t.starts_with("mov qword ptr [r12")
            || t.starts_with("mov dword ptr [r12")
            || t.starts_with("mov word ptr [r12")
            || t.starts_with("mov byte ptr [r12")
            || t.starts_with("movsd qword ptr [r12")
            || t.starts_with("movss dword ptr [r12");
        let teb = t.contains("gs:") || *t == "mov dword ptr [r13+4], ecx";
        let load_accessor = *t == format!("mov rax, 0x{ACCESSOR:x}");
        assert!(result_store || teb || load_accessor, "{name}: {t} runs before the errno copy");
    }
    assert_eq!(after[accessor - 1], format!("mov rax, 0x{ACCESSOR:x}"), "{name}");
    assert_eq!(after[accessor + 1], "mov eax, dword ptr [rax]", "{name}");
    assert_eq!(after[accessor + 2], "mov dword ptr [r13], eax", "{name}");
    // Setting errno before the call: the accessor, then the slot's value into *errno.
    let before: Vec<&str> = texts[..target_call].to_vec();
    let set = before.iter().position(|t| *t == "call rax");
    assert_eq!(set.is_some(), errno.set_before, "{name}");
    if let Some(set) = set {
        let set = if errno.windows { set + 1 } else { set }; // past `add rsp, 0x20`
        assert_eq!(
            before[set + 1..set + 3],
            ["mov ecx, dword ptr [r13]", "mov dword ptr [rax], ecx"],
            "{name}"
        );
    }

    // Every call with rsp 16-aligned (the thunk is entered with rsp = 8 mod 16), and a
    // Win64 accessor with 32 bytes of room below the thunk's own saved registers.
    let mut depth: i64 = 8; // bytes below the 16-aligned address above the return address
    let mut saved: i64 = 8;
    for (inst, text) in listing {
        match inst.mnemonic() {
            Mnemonic::Push => depth += 8,
            Mnemonic::Pop => depth -= 8,
            Mnemonic::Sub | Mnemonic::Add if inst.op0_register() == Register::RSP => {
                assert_eq!(inst.op1_kind(), OpKind::Immediate32to64, "{name}: {text}");
                let imm = inst.immediate32to64();
                depth += if inst.mnemonic() == Mnemonic::Sub { imm } else { -imm };
            }
            Mnemonic::Call => {
                assert_eq!(depth % 16, 0, "{name}: {text} with rsp misaligned");
                if text == "call rax" && errno.windows {
                    assert!(depth - saved >= 32, "{name}: {text} without shadow space");
                }
            }
            _ => {}
        }
        if text == "mov r12, rdx" {
            saved = depth; // the four pushes and the padding are done
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
                let errno = ErrnoAccess { accessor: ACCESSOR, windows: false, set_before };
                let text = a64_text(&emit(Abi::Aapcs64, ret, params, source, &errno));
                let name = format!("{ret} {params:?} {errno:?} {source:?}");
                let call = text.iter().position(|t| t == "blr x21").unwrap();
                assert!(text.contains(&"str x22, [sp, #0x28]".to_string()), "{name}: {text:#?}");
                assert!(text.contains(&"mov x22, x3".to_string()), "{name}");
                let after = &text[call + 1..];
                let accessor = after.iter().position(|t| t == "blr x9").unwrap();
                for t in &after[..accessor] {
                    let ok = t.starts_with("str") && t.contains("[x20")
                        || t.starts_with("mov x9")
                        || t.starts_with("movk x9")
                        || t.starts_with("movz x9");
                    assert!(ok, "{name}: {t} runs before the errno copy");
                }
                assert_eq!(
                    after[accessor + 1..accessor + 3],
                    ["ldr w9, [x0]", "str w9, [x22]"],
                    "{name}"
                );
                assert!(after.contains(&"ldr x22, [sp, #0x28]".to_string()), "{name}");
                let set = text[..call].iter().position(|t| t == "blr x9");
                assert_eq!(set.is_some(), set_before, "{name}");
                if let Some(set) = set {
                    assert_eq!(text[set + 1..set + 3], ["ldr w9, [x22]", "str w9, [x0]"], "{name}");
                }
            }
        }
    }
}
