//! Tiny pure x86-64 encoders, named by mnemonic and operand form: `r` a 64-bit general
//! register, `m` a memory operand `[base + disp32]`, `x` an XMM register, `i` an immediate.
//! Each returns the instruction's bytes and does nothing else.

use super::{Reg, Xmm};

/// One encoded instruction (at most 15 bytes).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Inst {
    buf: [u8; 15],
    len: u8,
}

impl Inst {
    fn new(bytes: &[u8]) -> Inst {
        let mut buf = [0; 15];
        buf[..bytes.len()].copy_from_slice(bytes);
        Inst { buf, len: bytes.len() as u8 }
    }

    fn push(mut self, bytes: &[u8]) -> Inst {
        let at = self.len as usize;
        self.buf[at..at + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len() as u8;
        self
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
}

impl std::fmt::Debug for Inst {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.bytes() {
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

/// A memory operand `[base + disp]`, always encoded with a 32-bit displacement.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Mem {
    pub base: Reg,
    pub disp: i32,
}

impl Mem {
    pub fn new(base: Reg, disp: i32) -> Mem {
        Mem { base, disp }
    }
}

const REX: u8 = 0x40;
const REX_W: u8 = 0x48;

fn rex_rb(reg: u8, rm: u8) -> u8 {
    ((reg >> 3) << 2) | (rm >> 3)
}

/// ModRM (and SIB) and displacement for `reg` and `[base + disp32]`.
fn modrm_mem(reg: u8, mem: Mem) -> ([u8; 6], usize) {
    let base = mem.base.num();
    let disp = mem.disp.to_le_bytes();
    let modrm = 0b10_000_000 | ((reg & 7) << 3) | (base & 7);
    // rsp and r12 as a base need a SIB byte (rm = 100 means "SIB follows").
    if base & 7 == 4 {
        ([modrm, 0x24, disp[0], disp[1], disp[2], disp[3]], 6)
    } else {
        ([modrm, disp[0], disp[1], disp[2], disp[3], 0], 5)
    }
}

/// `[rex] opcode... modrm [sib] disp32` for a register and a memory operand.
fn reg_mem(rex: u8, opcode: &[u8], reg: u8, mem: Mem) -> Inst {
    // A REX byte with no bits set is left out (`rex` is 0x40 when only extensions matter).
    let rex = rex | rex_rb(reg, mem.base.num());
    let inst = if rex == REX { Inst::new(&[]) } else { Inst::new(&[rex]) };
    let (m, n) = modrm_mem(reg, mem);
    inst.push(opcode).push(&m[..n])
}

/// The same, with a mandatory prefix (F2 / F3) before the REX byte.
fn prefixed_reg_mem(prefix: u8, opcode: &[u8], reg: u8, mem: Mem) -> Inst {
    let rex = REX | rex_rb(reg, mem.base.num());
    let inst = Inst::new(&[prefix]);
    let inst = if rex != REX { inst.push(&[rex]) } else { inst };
    let (m, n) = modrm_mem(reg, mem);
    inst.push(opcode).push(&m[..n])
}

/// `push r64`
pub fn push_r(r: Reg) -> Inst {
    let n = r.num();
    if n >= 8 {
        Inst::new(&[REX | 1, 0x50 + (n & 7)])
    } else {
        Inst::new(&[0x50 + n])
    }
}

/// `pop r64`
pub fn pop_r(r: Reg) -> Inst {
    let n = r.num();
    if n >= 8 {
        Inst::new(&[REX | 1, 0x58 + (n & 7)])
    } else {
        Inst::new(&[0x58 + n])
    }
}

/// `mov r64, r64`
pub fn mov_rr(dst: Reg, src: Reg) -> Inst {
    let (d, s) = (dst.num(), src.num());
    Inst::new(&[REX_W | rex_rb(s, d), 0x89, 0xC0 | ((s & 7) << 3) | (d & 7)])
}

/// `mov r64, qword [m]`
pub fn mov_rm(dst: Reg, mem: Mem) -> Inst {
    reg_mem(REX_W, &[0x8B], dst.num(), mem)
}

/// `mov qword [m], r64`
pub fn mov_mr(mem: Mem, src: Reg) -> Inst {
    reg_mem(REX_W, &[0x89], src.num(), mem)
}

/// `mov r32, dword [m]` (zero-extends into the whole register)
pub fn mov_r32m(dst: Reg, mem: Mem) -> Inst {
    reg_mem(REX, &[0x8B], dst.num(), mem)
}

/// `movsx r64, byte [m]`
pub fn movsx_rm8(dst: Reg, mem: Mem) -> Inst {
    reg_mem(REX_W, &[0x0F, 0xBE], dst.num(), mem)
}

/// `movsx r64, word [m]`
pub fn movsx_rm16(dst: Reg, mem: Mem) -> Inst {
    reg_mem(REX_W, &[0x0F, 0xBF], dst.num(), mem)
}

/// `movsxd r64, dword [m]`
pub fn movsxd_rm32(dst: Reg, mem: Mem) -> Inst {
    reg_mem(REX_W, &[0x63], dst.num(), mem)
}

/// `movzx r32, byte [m]` (zero-extends into the whole register)
pub fn movzx_rm8(dst: Reg, mem: Mem) -> Inst {
    reg_mem(REX, &[0x0F, 0xB6], dst.num(), mem)
}

/// `movzx r32, word [m]` (zero-extends into the whole register)
pub fn movzx_rm16(dst: Reg, mem: Mem) -> Inst {
    reg_mem(REX, &[0x0F, 0xB7], dst.num(), mem)
}

/// `lea r64, [m]`
pub fn lea_rm(dst: Reg, mem: Mem) -> Inst {
    reg_mem(REX_W, &[0x8D], dst.num(), mem)
}

/// `sub r64, imm32`
pub fn sub_ri(r: Reg, imm: i32) -> Inst {
    let n = r.num();
    Inst::new(&[REX_W | (n >> 3), 0x81, 0xE8 | (n & 7)]).push(&imm.to_le_bytes())
}

/// `add r64, imm32`
pub fn add_ri(r: Reg, imm: i32) -> Inst {
    let n = r.num();
    Inst::new(&[REX_W | (n >> 3), 0x81, 0xC0 | (n & 7)]).push(&imm.to_le_bytes())
}

/// `and r64, imm8` (sign-extended)
pub fn and_ri8(r: Reg, imm: i8) -> Inst {
    let n = r.num();
    Inst::new(&[REX_W | (n >> 3), 0x83, 0xE0 | (n & 7), imm as u8])
}

/// `mov r32, imm32` (zero-extends into the whole register)
pub fn mov_r32i(r: Reg, imm: u32) -> Inst {
    let n = r.num();
    let inst = if n >= 8 { Inst::new(&[REX | 1]) } else { Inst::new(&[]) };
    inst.push(&[0xB8 + (n & 7)]).push(&imm.to_le_bytes())
}

/// `mov r64, imm64`
pub fn mov_ri64(r: Reg, imm: u64) -> Inst {
    let n = r.num();
    Inst::new(&[REX_W | (n >> 3), 0xB8 + (n & 7)]).push(&imm.to_le_bytes())
}

/// `call r64`
pub fn call_r(r: Reg) -> Inst {
    let n = r.num();
    let inst = if n >= 8 { Inst::new(&[REX | 1]) } else { Inst::new(&[]) };
    inst.push(&[0xFF, 0xD0 | (n & 7)])
}

/// `jmp r64`
pub fn jmp_r(r: Reg) -> Inst {
    let n = r.num();
    let inst = if n >= 8 { Inst::new(&[REX | 1]) } else { Inst::new(&[]) };
    inst.push(&[0xFF, 0xE0 | (n & 7)])
}

/// `ret`
pub fn ret() -> Inst {
    Inst::new(&[0xC3])
}

/// `rep movsb` (copies rcx bytes from \[rsi\] to \[rdi\])
pub fn rep_movsb() -> Inst {
    Inst::new(&[0xF3, 0xA4])
}

/// `movss xmm, dword [m]`
pub fn movss_xm(dst: Xmm, mem: Mem) -> Inst {
    prefixed_reg_mem(0xF3, &[0x0F, 0x10], dst.num(), mem)
}

/// `movsd xmm, qword [m]`
pub fn movsd_xm(dst: Xmm, mem: Mem) -> Inst {
    prefixed_reg_mem(0xF2, &[0x0F, 0x10], dst.num(), mem)
}

/// `movss dword [m], xmm`
pub fn movss_mx(mem: Mem, src: Xmm) -> Inst {
    prefixed_reg_mem(0xF3, &[0x0F, 0x11], src.num(), mem)
}

/// `movsd qword [m], xmm`
pub fn movsd_mx(mem: Mem, src: Xmm) -> Inst {
    prefixed_reg_mem(0xF2, &[0x0F, 0x11], src.num(), mem)
}

/// `lea r64, [rip + disp32]` (disp counts from the end of this 7-byte instruction)
pub fn lea_rip(dst: Reg, disp: i32) -> Inst {
    let d = dst.num();
    Inst::new(&[REX_W | ((d >> 3) << 2), 0x8D, ((d & 7) << 3) | 0b101]).push(&disp.to_le_bytes())
}

/// `jmp qword [m]`
pub fn jmp_m(mem: Mem) -> Inst {
    reg_mem(REX, &[0xFF], 4, mem)
}

/// `call qword [m]`
pub fn call_m(mem: Mem) -> Inst {
    reg_mem(REX, &[0xFF], 2, mem)
}

/// `movups xmmword [m], xmm` (all 128 bits, no alignment needed)
pub fn movups_mx(mem: Mem, src: Xmm) -> Inst {
    reg_mem(REX, &[0x0F, 0x11], src.num(), mem)
}

/// `movups xmm, xmmword [m]`
pub fn movups_xm(dst: Xmm, mem: Mem) -> Inst {
    reg_mem(REX, &[0x0F, 0x10], dst.num(), mem)
}

/// `int3` (padding that traps if ever executed)
pub fn int3() -> Inst {
    Inst::new(&[0xCC])
}

/// `mov dword [m], r32`
pub fn mov_m32r(mem: Mem, src: Reg) -> Inst {
    reg_mem(REX, &[0x89], src.num(), mem)
}

/// `mov word [m], r16`
pub fn mov_m16r(mem: Mem, src: Reg) -> Inst {
    let inner = reg_mem(REX, &[0x89], src.num(), mem);
    Inst::new(&[0x66]).push(inner.bytes())
}

/// `mov byte [m], r8` (for rax/rcx/rdx/rbx only: al, cl, dl, bl)
pub fn mov_m8r(mem: Mem, src: Reg) -> Inst {
    reg_mem(REX, &[0x88], src.num(), mem)
}

/// `mov r32, gs:[disp32]` (absolute, no base): reads a field of the Windows TEB. Only
/// for registers 0-7.
pub fn mov_r32_gs(dst: Reg, disp: u32) -> Inst {
    debug_assert!(dst.num() < 8);
    Inst::new(&[0x65, 0x8B, 0x04 | (dst.num() << 3), 0x25]).push(&disp.to_le_bytes())
}

/// `mov gs:[disp32], r32` (absolute, no base): writes a field of the Windows TEB. Only
/// for registers 0-7.
pub fn mov_gs_r32(disp: u32, src: Reg) -> Inst {
    debug_assert!(src.num() < 8);
    Inst::new(&[0x65, 0x89, 0x04 | (src.num() << 3), 0x25]).push(&disp.to_le_bytes())
}

/// `fld tbyte [m]`: pushes an 80-bit x87 value.
pub fn fld_m80(mem: Mem) -> Inst {
    reg_mem(REX, &[0xDB], 5, mem)
}

/// `fstp tbyte [m]`: stores `st(0)` as 80 bits and pops it.
pub fn fstp_m80(mem: Mem) -> Inst {
    reg_mem(REX, &[0xDB], 7, mem)
}

/// `cmp byte [m], imm8`
pub fn cmp_m8i(mem: Mem, imm: u8) -> Inst {
    reg_mem(REX, &[0x80], 7, mem).push(&[imm])
}

/// `je rel8`: `rel` counts from the end of this 2-byte instruction.
pub fn je_rel8(rel: i8) -> Inst {
    Inst::new(&[0x74, rel as u8])
}
