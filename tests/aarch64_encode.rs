//! Golden tests for the AArch64 encoders in `jitcall::internals::arch::aarch64::encode`, in the style
//! of `tests/x86_encode.rs`: each row is an encoder call, the instruction word it must
//! produce, and the text yaxpeax-arm disassembles that word to.
//!
//! The hex column was not copied from the encoder: it is what LLVM's assembler makes of the
//! canonical text of each instruction (`llvm-mc -triple=aarch64 -show-encoding`, LLVM 14),
//! so a row checks the encoder against an independent assembler and the text column checks
//! the word against an independent disassembler. Two of yaxpeax's spellings differ from
//! LLVM's without changing the meaning: the extended-register `add`/`sub` with UXTX and no
//! SP operand prints without the `uxtx`, and `movz xd, #0, lsl #16` prints as `mov xd, #0x0`.
//!
//! [`golden_rows`] checks every row; [`range_checks`] that each operand newtype takes its
//! boundary values and refuses the first value past them and misaligned offsets; the
//! `every_*` sweeps run every register (0..=30, and SP as a base) and a set of offsets
//! through every load and store and check the decoded text names exactly those operands.

use jitcall::internals::arch::aarch64::encode::*;
use yaxpeax_arch::{Decoder, U8Reader};
use yaxpeax_arm::armv8::a64::InstDecoder;

use LoadStore::*;

const LOAD_STORES: [LoadStore; 17] = [
    LdrX, LdrW, LdrhW, LdrbW, LdrswX, LdrshX, LdrsbX, StrX, StrW, StrhW, StrbW, LdrS, LdrD, StrS,
    StrD, LdrQ, StrQ,
];

fn s(offset: u64, access_bytes: u64) -> ScaledImm12 {
    ScaledImm12::new(offset, access_bytes).expect("a valid scaled offset")
}

fn pair(offset: i64) -> PairImm7 {
    PairImm7::new(offset).expect("a valid pair offset")
}

fn i9(v: i64) -> Imm9 {
    Imm9::new(v).expect("a valid imm9")
}

fn i12(v: u64) -> Imm12 {
    Imm12::new(v).expect("a valid imm12")
}

fn branch(byte_offset: i64) -> BranchImm19 {
    BranchImm19::new(byte_offset).expect("a valid branch offset")
}

/// Decodes one little-endian instruction word and formats it as yaxpeax-arm does.
fn disassemble(word: u32) -> Result<String, String> {
    let bytes = word.to_le_bytes();
    let mut reader = U8Reader::new(&bytes[..]);
    InstDecoder::default()
        .decode(&mut reader)
        .map(|inst| inst.to_string())
        .map_err(|e| format!("{word:08X} does not decode: {e:?}"))
}

/// `(encoder call, expected word as hex, expected yaxpeax-arm text)`.
fn golden_rows() -> Vec<(u32, &'static str, &'static str)> {
    vec![
        // ldst_uimm: every LoadStore, SP and x0-x30 bases, xzr stores, largest scaled offsets.
        (ldst_uimm(LdrX, 0, SP, s(0, 8)), "F94003E0", "ldr x0, [sp]"),
        (ldst_uimm(LdrX, 30, X(19), s(32760, 8)), "F97FFE7E", "ldr x30, [x19, #0x7ff8]"),
        (ldst_uimm(LdrX, 15, X(16), s(8, 8)), "F940060F", "ldr x15, [x16, #0x8]"),
        (ldst_uimm(LdrX, 16, X(28), s(4088, 8)), "F947FF90", "ldr x16, [x28, #0xff8]"),
        (ldst_uimm(LdrW, 15, X(19), s(16380, 4)), "B97FFE6F", "ldr w15, [x19, #0x3ffc]"),
        (ldst_uimm(LdrW, 0, SP, s(4, 4)), "B94007E0", "ldr w0, [sp, #0x4]"),
        (ldst_uimm(LdrhW, 16, X(28), s(8190, 2)), "797FFF90", "ldrh w16, [x28, #0x1ffe]"),
        (ldst_uimm(LdrhW, 1, X(19), s(2, 2)), "79400661", "ldrh w1, [x19, #0x2]"),
        (ldst_uimm(LdrbW, 1, X(19), s(4095, 1)), "397FFE61", "ldrb w1, [x19, #0xfff]"),
        (ldst_uimm(LdrbW, 28, SP, s(0, 1)), "394003FC", "ldrb w28, [sp]"),
        (ldst_uimm(LdrswX, 2, X(19), s(4, 4)), "B9800662", "ldrsw x2, [x19, #0x4]"),
        (ldst_uimm(LdrswX, 30, X(0), s(16380, 4)), "B9BFFC1E", "ldrsw x30, [x0, #0x3ffc]"),
        (ldst_uimm(LdrshX, 3, X(19), s(2, 2)), "79800663", "ldrsh x3, [x19, #0x2]"),
        (ldst_uimm(LdrshX, 15, X(16), s(8190, 2)), "79BFFE0F", "ldrsh x15, [x16, #0x1ffe]"),
        (ldst_uimm(LdrsbX, 4, X(19), s(1, 1)), "39800664", "ldrsb x4, [x19, #0x1]"),
        (ldst_uimm(LdrsbX, 16, X(30), s(4095, 1)), "39BFFFD0", "ldrsb x16, [x30, #0xfff]"),
        (ldst_uimm(StrX, XZR.0, SP, s(0, 8)), "F90003FF", "str xzr, [sp]"),
        (ldst_uimm(StrX, 9, SP, s(8, 8)), "F90007E9", "str x9, [sp, #0x8]"),
        (ldst_uimm(StrX, 30, X(29), s(32760, 8)), "F93FFFBE", "str x30, [x29, #0x7ff8]"),
        (ldst_uimm(StrX, 0, X(20), s(0, 8)), "F9000280", "str x0, [x20]"),
        (ldst_uimm(StrW, 3, X(20), s(4, 4)), "B9000683", "str w3, [x20, #0x4]"),
        (ldst_uimm(StrW, 0, SP, s(0, 4)), "B90003E0", "str w0, [sp]"),
        (ldst_uimm(StrhW, 1, X(20), s(6, 2)), "79000E81", "strh w1, [x20, #0x6]"),
        (ldst_uimm(StrhW, 30, X(29), s(8190, 2)), "793FFFBE", "strh w30, [x29, #0x1ffe]"),
        (ldst_uimm(StrbW, 2, X(20), s(3, 1)), "39000E82", "strb w2, [x20, #0x3]"),
        (ldst_uimm(StrbW, 0, SP, s(4095, 1)), "393FFFE0", "strb w0, [sp, #0xfff]"),
        (adr(X(16), AdrImm21::new(4096).unwrap()), "10008010", "adr x16, $+0x1000"),
        (adr(X(16), AdrImm21::new(-8).unwrap()), "10FFFFD0", "adr x16, $-0x8"),
        (brk(0), "D4200000", "brk #0x0"),
        (ldst_uimm(LdrS, 0, X(19), s(4, 4)), "BD400660", "ldr s0, [x19, #0x4]"),
        (ldst_uimm(LdrS, 31, X(19), s(16380, 4)), "BD7FFE7F", "ldr s31, [x19, #0x3ffc]"),
        (ldst_uimm(LdrD, 31, X(19), s(8, 8)), "FD40067F", "ldr d31, [x19, #0x8]"),
        (ldst_uimm(LdrD, 15, SP, s(32760, 8)), "FD7FFFEF", "ldr d15, [sp, #0x7ff8]"),
        (ldst_uimm(StrS, 3, X(20), s(12, 4)), "BD000E83", "str s3, [x20, #0xc]"),
        (ldst_uimm(StrS, 0, SP, s(16380, 4)), "BD3FFFE0", "str s0, [sp, #0x3ffc]"),
        (ldst_uimm(StrD, 1, X(20), s(8, 8)), "FD000681", "str d1, [x20, #0x8]"),
        (ldst_uimm(StrD, 16, X(28), s(32760, 8)), "FD3FFF90", "str d16, [x28, #0x7ff8]"),
        // Whole q-registers (llvm-mc-14 too).
        (ldst_uimm(LdrQ, 0, X(19), s(0, 16)), "3DC00260", "ldr q0, [x19]"),
        (ldst_uimm(LdrQ, 31, X(19), s(16, 16)), "3DC0067F", "ldr q31, [x19, #0x10]"),
        (ldst_uimm(LdrQ, 7, SP, s(65520, 16)), "3DFFFFE7", "ldr q7, [sp, #0xfff0]"),
        (ldst_uimm(StrQ, 0, SP, s(80, 16)), "3D8017E0", "str q0, [sp, #0x50]"),
        (ldst_uimm(StrQ, 31, X(20), s(16, 16)), "3D80069F", "str q31, [x20, #0x10]"),
        (ldst_uimm(StrQ, 3, X(28), s(65520, 16)), "3DBFFF83", "str q3, [x28, #0xfff0]"),
        // ldr/str post-index: imm9 from -256 to 255.
        (ldr_x_post(X(0), SP, i9(-256)), "F85007E0", "ldr x0, [sp], #-0x100"),
        (ldr_x_post(X(0), SP, i9(255)), "F84FF7E0", "ldr x0, [sp], #0xff"),
        (ldr_x_post(X(30), X(1), i9(0)), "F840043E", "ldr x30, [x1], #0x0"),
        (ldr_x_post(X(16), X(28), i9(8)), "F8408790", "ldr x16, [x28], #0x8"),
        (str_x_post(XZR, SP, i9(16)), "F80107FF", "str xzr, [sp], #0x10"),
        (str_x_post(X(0), X(1), i9(-8)), "F81F8420", "str x0, [x1], #-0x8"),
        (str_x_post(X(15), X(30), i9(-256)), "F81007CF", "str x15, [x30], #-0x100"),
        (str_x_post(X(29), SP, i9(255)), "F80FF7FD", "str x29, [sp], #0xff"),
        // Pairs: imm7 scaled by 8, from -512 to 504.
        (stp_x_pre(X(29), X(30), SP, pair(-48)), "A9BD7BFD", "stp x29, x30, [sp, #-0x30]!"),
        (stp_x_pre(X(29), X(30), SP, pair(-512)), "A9A07BFD", "stp x29, x30, [sp, #-0x200]!"),
        (stp_x_pre(X(0), X(1), X(2), pair(504)), "A99F8440", "stp x0, x1, [x2, #0x1f8]!"),
        (stp_x_pre(XZR, X(15), SP, pair(-16)), "A9BF3FFF", "stp xzr, x15, [sp, #-0x10]!"),
        (ldp_x_post(X(29), X(30), SP, pair(48)), "A8C37BFD", "ldp x29, x30, [sp], #0x30"),
        (ldp_x_post(X(29), X(30), SP, pair(-512)), "A8E07BFD", "ldp x29, x30, [sp], #-0x200"),
        (ldp_x_post(X(16), X(28), X(0), pair(504)), "A8DFF010", "ldp x16, x28, [x0], #0x1f8"),
        (stp_x(X(19), X(20), SP, pair(16)), "A90153F3", "stp x19, x20, [sp, #0x10]"),
        (stp_x(XZR, XZR, SP, pair(0)), "A9007FFF", "stp xzr, xzr, [sp]"),
        (stp_x(X(0), X(30), X(16), pair(-512)), "A9207A00", "stp x0, x30, [x16, #-0x200]"),
        (stp_x(X(28), X(29), SP, pair(504)), "A91FF7FC", "stp x28, x29, [sp, #0x1f8]"),
        (ldp_x(X(19), X(20), SP, pair(504)), "A95FD3F3", "ldp x19, x20, [sp, #0x1f8]"),
        (ldp_x(X(19), X(20), SP, pair(-512)), "A96053F3", "ldp x19, x20, [sp, #-0x200]"),
        (ldp_x(X(15), X(16), X(30), pair(0)), "A94043CF", "ldp x15, x16, [x30]"),
        (ldp_x(X(0), X(1), SP, pair(16)), "A94107E0", "ldp x0, x1, [sp, #0x10]"),
        // add/sub/subs immediate: 0 and 4095; SP as destination and source (31 is SP here);
        // cmp is subs to xzr.
        (add_x_imm(X(29), SP, i12(0)), "910003FD", "mov x29, sp"),
        (add_x_imm(SP, X(29), i12(0)), "910003BF", "mov sp, x29"),
        (add_x_imm(X(0), X(1), i12(4095)), "913FFC20", "add x0, x1, #0xfff"),
        (add_x_imm(X(10), X(19), i12(16)), "9100426A", "add x10, x19, #0x10"),
        (add_x_imm(SP, SP, i12(48)), "9100C3FF", "add sp, sp, #0x30"),
        (add_x_imm(X(16), X(30), i12(1)), "910007D0", "add x16, x30, #0x1"),
        (add_x_imm(X(15), X(28), i12(0)), "9100038F", "add x15, x28, #0x0"),
        (sub_x_imm(SP, SP, i12(16)), "D10043FF", "sub sp, sp, #0x10"),
        (sub_x_imm(X(0), X(1), i12(0)), "D1000020", "sub x0, x1, #0x0"),
        (sub_x_imm(SP, SP, i12(4095)), "D13FFFFF", "sub sp, sp, #0xfff"),
        (sub_x_imm(X(28), SP, i12(1)), "D10007FC", "sub x28, sp, #0x1"),
        (subs_x_imm(X(0), X(1), i12(1)), "F1000420", "subs x0, x1, #0x1"),
        (subs_x_imm(XZR, X(1), i12(4095)), "F13FFC3F", "cmp x1, #0xfff"),
        (subs_x_imm(X(16), SP, i12(0)), "F10003F0", "subs x16, sp, #0x0"),
        (subs_x_imm(XZR, X(30), i12(0)), "F10003DF", "cmp x30, #0x0"),
        // add/sub extended register (UXTX): SP allowed as rd and rn.
        (add_x_reg(X(10), X(19), X(16)), "8B30626A", "add x10, x19, x16"),
        (add_x_reg(SP, SP, X(16)), "8B3063FF", "add sp, sp, x16"),
        (add_x_reg(X(0), SP, X(30)), "8B3E63E0", "add x0, sp, x30"),
        (add_x_reg(X(28), X(15), X(0)), "8B2061FC", "add x28, x15, x0"),
        (sub_x_reg(SP, SP, X(16)), "CB3063FF", "sub sp, sp, x16"),
        (sub_x_reg(X(0), X(1), X(2)), "CB226020", "sub x0, x1, x2"),
        (sub_x_reg(X(30), X(16), X(15)), "CB2F621E", "sub x30, x16, x15"),
        // Moves: mov is orr from xzr (31 is xzr here); movz/movk every halfword.
        (mov_x(X(21), X(0)), "AA0003F5", "mov x21, x0"),
        (mov_x(X(0), XZR), "AA1F03E0", "mov x0, xzr"),
        (mov_x(X(19), X(1)), "AA0103F3", "mov x19, x1"),
        (mov_x(X(8), X(20)), "AA1403E8", "mov x8, x20"),
        (mov_x(X(30), X(29)), "AA1D03FE", "mov x30, x29"),
        (mov_x(X(16), X(15)), "AA0F03F0", "mov x16, x15"),
        (movz_x(X(16), 0x1000, 0), "D2820010", "mov x16, #0x1000"),
        (movz_x(X(0), 0, 0), "D2800000", "mov x0, #0x0"),
        (movz_x(X(0), 0xffff, 3), "D2FFFFE0", "mov x0, #0xffff000000000000"),
        (movz_x(X(0), 1, 1), "D2A00020", "mov x0, #0x10000"),
        (movz_x(X(30), 0x1234, 2), "D2C2469E", "mov x30, #0x123400000000"),
        (movz_x(X(28), 0, 1), "D2A0001C", "mov x28, #0x0"),
        (movk_x(X(16), 1, 1), "F2A00030", "movk x16, #0x1, lsl #16"),
        (movk_x(X(16), 0xffff, 3), "F2FFFFF0", "movk x16, #0xffff, lsl #48"),
        (movk_x(X(16), 0, 0), "F2800010", "movk x16, #0x0"),
        (movk_x(X(28), 0xabcd, 2), "F2D579BC", "movk x28, #0xabcd, lsl #32"),
        // Branches and return. b.ne: imm19 words, from -1 MiB to 1 MiB - 4.
        (blr(X(21)), "D63F02A0", "blr x21"),
        (blr(X(0)), "D63F0000", "blr x0"),
        (blr(X(16)), "D63F0200", "blr x16"),
        (blr(X(30)), "D63F03C0", "blr x30"),
        (br(X(16)), "D61F0200", "br x16"),
        (br(X(0)), "D61F0000", "br x0"),
        (br(X(30)), "D61F03C0", "br x30"),
        (ret(), "D65F03C0", "ret"),
        (b_ne(branch(-8)), "54FFFFC1", "b.ne $-0x8"),
        (b_ne(branch(0)), "54000001", "b.ne $+0x0"),
        (b_ne(branch(4)), "54000021", "b.ne $+0x4"),
        (b_ne(branch((1 << 20) - 4)), "547FFFE1", "b.ne $+0xffffc"),
        (b_ne(branch(-(1 << 20))), "54800001", "b.ne $-0x100000"),
    ]
}

#[test]
fn golden_rows_encode_and_disassemble_as_written() {
    let mut failures = Vec::new();
    for (i, (word, hex, text)) in golden_rows().into_iter().enumerate() {
        let got_hex = format!("{word:08X}");
        if got_hex != hex {
            failures.push(format!("row {i} ({text}): encoded {got_hex}, expected {hex}"));
            continue;
        }
        match disassemble(word) {
            Ok(got) if got == text => {}
            Ok(got) => failures
                .push(format!("row {i} ({hex}): disassembles to {got:?}, expected {text:?}")),
            Err(e) => failures.push(format!("row {i}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn range_checks() {
    // Imm12: 0..=4095.
    assert!(Imm12::new(0).is_some());
    assert!(Imm12::new(4095).is_some());
    assert_eq!(Imm12::new(4096), None);
    assert_eq!(Imm12::new(u64::MAX), None);

    // ScaledImm12: a multiple of the access size, at most 4095 of them.
    for bytes in [1, 2, 4, 8, 16] {
        assert!(ScaledImm12::new(0, bytes).is_some());
        assert!(ScaledImm12::new(bytes, bytes).is_some());
        assert!(ScaledImm12::new(4095 * bytes, bytes).is_some(), "{bytes}-byte access");
        assert_eq!(ScaledImm12::new(4096 * bytes, bytes), None, "{bytes}-byte access");
        for misaligned in 1..bytes {
            assert_eq!(ScaledImm12::new(misaligned, bytes), None, "{misaligned} for {bytes}");
            assert_eq!(ScaledImm12::new(16 + misaligned, bytes), None, "{misaligned} for {bytes}");
            assert_eq!(ScaledImm12::new(4094 * bytes + misaligned, bytes), None);
        }
    }
    // Each LoadStore's scale is its access size.
    let scales: Vec<u64> = LOAD_STORES.iter().map(|op| op.bytes()).collect();
    assert_eq!(scales, [8, 4, 2, 1, 4, 2, 1, 8, 4, 2, 1, 4, 8, 4, 8, 16, 16]);

    // PairImm7: multiples of 8 from -512 to 504.
    for ok in [-512, -8, 0, 8, 504] {
        assert!(PairImm7::new(ok).is_some(), "{ok}");
    }
    for bad in [-520, 512, -513, 505, 4, -4, 1, 503, -511] {
        assert_eq!(PairImm7::new(bad), None, "{bad}");
    }

    // Imm9: -256..=255, unscaled.
    for ok in [-256, -1, 0, 1, 255] {
        assert!(Imm9::new(ok).is_some(), "{ok}");
    }
    for bad in [-257, 256, i64::MIN, i64::MAX] {
        assert_eq!(Imm9::new(bad), None, "{bad}");
    }

    // BranchImm19: multiples of 4 from -1 MiB to 1 MiB - 4.
    for ok in [-(1 << 20), -4, 0, 4, (1 << 20) - 4] {
        assert!(BranchImm19::new(ok).is_some(), "{ok}");
    }
    for bad in [-(1 << 20) - 4, 1 << 20, 2, -2, 1, (1 << 20) - 2, i64::MIN, i64::MAX] {
        assert_eq!(BranchImm19::new(bad), None, "{bad}");
    }
}

/// `x{n}` or `sp` for a base register (31 is SP as a load/store base).
fn base_name(n: u8) -> String {
    if n == 31 {
        "sp".to_string()
    } else {
        format!("x{n}")
    }
}

/// yaxpeax's spelling of an immediate: `#0x10`, `#-0x10`.
fn imm(v: i64) -> String {
    if v < 0 {
        format!("#-{:#x}", v.unsigned_abs())
    } else {
        format!("#{v:#x}")
    }
}

fn mnemonic_and_register(op: LoadStore, rt: u8) -> (&'static str, String) {
    match op {
        LdrX => ("ldr", format!("x{rt}")),
        LdrW => ("ldr", format!("w{rt}")),
        LdrhW => ("ldrh", format!("w{rt}")),
        LdrbW => ("ldrb", format!("w{rt}")),
        LdrswX => ("ldrsw", format!("x{rt}")),
        LdrshX => ("ldrsh", format!("x{rt}")),
        LdrsbX => ("ldrsb", format!("x{rt}")),
        StrX => ("str", format!("x{rt}")),
        StrW => ("str", format!("w{rt}")),
        StrhW => ("strh", format!("w{rt}")),
        StrbW => ("strb", format!("w{rt}")),
        LdrS => ("ldr", format!("s{rt}")),
        LdrD => ("ldr", format!("d{rt}")),
        StrS => ("str", format!("s{rt}")),
        StrD => ("str", format!("d{rt}")),
        LdrQ => ("ldr", format!("q{rt}")),
        StrQ => ("str", format!("q{rt}")),
    }
}

#[test]
fn every_load_store_names_its_register_base_and_offset() {
    let mut failures = Vec::new();
    for op in LOAD_STORES {
        let scale = op.bytes();
        for scaled in [0, 1, 2, 3, 100, 2048, 4095] {
            let offset = scaled * scale;
            for rt in 0..=30 {
                for rn in 0..=31 {
                    let word = ldst_uimm(op, rt, X(rn), s(offset, scale));
                    let (mnemonic, reg) = mnemonic_and_register(op, rt);
                    let addr = match offset {
                        0 => format!("[{}]", base_name(rn)),
                        _ => format!("[{}, {}]", base_name(rn), imm(offset as i64)),
                    };
                    let want = format!("{mnemonic} {reg}, {addr}");
                    match disassemble(word) {
                        Ok(got) if got == want => {}
                        Ok(got) => {
                            failures.push(format!("{op:?} {word:08X}: {got:?}, expected {want:?}"))
                        }
                        Err(e) => failures.push(e),
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures, first ones:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}

#[test]
fn every_post_indexed_load_and_store_names_its_operands() {
    let mut failures = Vec::new();
    for v in [-256, -255, -8, -1, 0, 1, 8, 16, 255] {
        for rt in 0..=30u8 {
            for rn in 0..=31u8 {
                if rn == rt {
                    continue; // writeback to the transferred register is UNPREDICTABLE
                }
                let post = format!("[{}], {}", base_name(rn), imm(v));
                for (word, want) in [
                    (ldr_x_post(X(rt), X(rn), i9(v)), format!("ldr x{rt}, {post}")),
                    (str_x_post(X(rt), X(rn), i9(v)), format!("str x{rt}, {post}")),
                ] {
                    match disassemble(word) {
                        Ok(got) if got == want => {}
                        Ok(got) => failures.push(format!("{word:08X}: {got:?}, expected {want:?}")),
                        Err(e) => failures.push(e),
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures, first ones:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}

#[test]
fn every_pair_names_its_registers_base_and_offset() {
    let mut failures = Vec::new();
    for v in [-512, -504, -48, -8, 0, 8, 16, 256, 504] {
        for rt in 0..=30u8 {
            let rt2 = (rt + 1) % 31;
            for rn in 0..=31u8 {
                let (p, b) = (pair(v), base_name(rn));
                let offset = if v == 0 { format!("[{b}]") } else { format!("[{b}, {}]", imm(v)) };
                let mut cases = vec![
                    (stp_x(X(rt), X(rt2), X(rn), p), format!("stp x{rt}, x{rt2}, {offset}")),
                    (ldp_x(X(rt), X(rt2), X(rn), p), format!("ldp x{rt}, x{rt2}, {offset}")),
                ];
                // Writeback to a transferred register is UNPREDICTABLE.
                if rn != rt && rn != rt2 {
                    cases.push((
                        stp_x_pre(X(rt), X(rt2), X(rn), p),
                        format!("stp x{rt}, x{rt2}, [{b}, {}]!", imm(v)),
                    ));
                    cases.push((
                        ldp_x_post(X(rt), X(rt2), X(rn), p),
                        format!("ldp x{rt}, x{rt2}, [{b}], {}", imm(v)),
                    ));
                }
                for (word, want) in cases {
                    match disassemble(word) {
                        Ok(got) if got == want => {}
                        Ok(got) => failures.push(format!("{word:08X}: {got:?}, expected {want:?}")),
                        Err(e) => failures.push(e),
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures, first ones:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}

#[test]
fn every_register_operand_of_the_other_encoders() {
    let mut failures = Vec::new();
    let mut check = |word: u32, want: String| match disassemble(word) {
        Ok(got) if got == want => {}
        Ok(got) => failures.push(format!("{word:08X}: {got:?}, expected {want:?}")),
        Err(e) => failures.push(e),
    };
    for r in 0..=30u8 {
        let other = 30 - r;
        check(mov_x(X(r), X(other)), format!("mov x{r}, x{other}"));
        check(blr(X(r)), format!("blr x{r}"));
        check(br(X(r)), format!("br x{r}"));
        check(add_x_imm(X(r), X(other), i12(8)), format!("add x{r}, x{other}, #0x8"));
        check(sub_x_imm(X(r), X(other), i12(8)), format!("sub x{r}, x{other}, #0x8"));
        check(subs_x_imm(X(r), X(other), i12(8)), format!("subs x{r}, x{other}, #0x8"));
        check(add_x_reg(SP, SP, X(r)), format!("add sp, sp, x{r}"));
        check(sub_x_reg(SP, SP, X(r)), format!("sub sp, sp, x{r}"));
        check(movk_x(X(r), 0x1234, 1), format!("movk x{r}, #0x1234, lsl #16"));
        check(movz_x(X(r), 0x1234, 0), format!("mov x{r}, #0x1234"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
