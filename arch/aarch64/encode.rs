//! Fixed-width AArch64 encoders (A64). Each returns one 32-bit instruction word. Operands
//! with a limited range are newtypes whose only constructor checks the range, so nothing is
//! silently truncated; parameter names carry the bit fields they fill.

/// A general register number 0..=31. Whether 31 means SP or XZR depends on the
/// instruction, as in the architecture.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct X(pub u8);

/// A SIMD&FP register number 0..=31.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct V(pub u8);

pub const SP: X = X(31);
pub const XZR: X = X(31);

/// An unsigned 12-bit immediate (ADD/SUB).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Imm12(u32);

impl Imm12 {
    pub fn new(v: u64) -> Option<Imm12> {
        (v < 4096).then_some(Imm12(v as u32))
    }
}

/// A load/store offset that is a multiple of the access size and, scaled, fits 12 bits.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ScaledImm12(u32);

impl ScaledImm12 {
    pub fn new(offset: u64, access_bytes: u64) -> Option<ScaledImm12> {
        (offset % access_bytes == 0 && offset / access_bytes < 4096)
            .then_some(ScaledImm12((offset / access_bytes) as u32))
    }
}

/// A signed 7-bit immediate scaled by 8 (64-bit LDP/STP).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PairImm7(u32);

impl PairImm7 {
    pub fn new(offset: i64) -> Option<PairImm7> {
        (offset % 8 == 0 && (-512..=504).contains(&offset))
            .then_some(PairImm7((offset / 8) as u32 & 0x7F))
    }
}

/// A signed 9-bit unscaled immediate (pre/post-indexed loads and stores).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Imm9(u32);

impl Imm9 {
    pub fn new(v: i64) -> Option<Imm9> {
        (-256..=255).contains(&v).then_some(Imm9(v as u32 & 0x1FF))
    }
}

/// A signed 19-bit branch offset in instructions.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct BranchImm19(u32);

impl BranchImm19 {
    pub fn new(byte_offset: i64) -> Option<BranchImm19> {
        (byte_offset % 4 == 0 && (-(1 << 20)..(1 << 20)).contains(&byte_offset))
            .then_some(BranchImm19((byte_offset / 4) as u32 & 0x7FFFF))
    }
}

fn rd_rn(bits_31_10: u32, rn: X, rd: u8) -> u32 {
    bits_31_10 | (u32::from(rn.0) << 5) | u32::from(rd)
}

/// Loads and stores of every width with a scaled unsigned offset.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LoadStore {
    /// `ldr x`
    LdrX,
    /// `ldr w` (zero-extends)
    LdrW,
    /// `ldrh w` (zero-extends)
    LdrhW,
    /// `ldrb w` (zero-extends)
    LdrbW,
    /// `ldrsw x`
    LdrswX,
    /// `ldrsh x`
    LdrshX,
    /// `ldrsb x`
    LdrsbX,
    /// `str x`
    StrX,
    /// `str w`
    StrW,
    /// `strh w`
    StrhW,
    /// `strb w`
    StrbW,
    /// `ldr s`
    LdrS,
    /// `ldr d`
    LdrD,
    /// `str s`
    StrS,
    /// `str d`
    StrD,
    /// `ldr q` (all 128 bits of a vector register)
    LdrQ,
    /// `str q`
    StrQ,
}

impl LoadStore {
    /// Bits 31..22 of the unsigned-offset form.
    fn op_31_22(self) -> u32 {
        match self {
            LoadStore::LdrX => 0x3E5,
            LoadStore::LdrW => 0x2E5,
            LoadStore::LdrhW => 0x1E5,
            LoadStore::LdrbW => 0x0E5,
            LoadStore::LdrswX => 0x2E6,
            LoadStore::LdrshX => 0x1E6,
            LoadStore::LdrsbX => 0x0E6,
            LoadStore::StrX => 0x3E4,
            LoadStore::StrW => 0x2E4,
            LoadStore::StrhW => 0x1E4,
            LoadStore::StrbW => 0x0E4,
            LoadStore::LdrS => 0x2F5,
            LoadStore::LdrD => 0x3F5,
            LoadStore::StrS => 0x2F4,
            LoadStore::StrD => 0x3F4,
            LoadStore::LdrQ => 0x0F7,
            LoadStore::StrQ => 0x0F6,
        }
    }

    /// Bytes accessed (the offset scale).
    pub fn bytes(self) -> u64 {
        match self {
            LoadStore::LdrQ | LoadStore::StrQ => 16,
            LoadStore::LdrX | LoadStore::StrX | LoadStore::LdrD | LoadStore::StrD => 8,
            LoadStore::LdrW
            | LoadStore::LdrswX
            | LoadStore::LdrS
            | LoadStore::StrS
            | LoadStore::StrW => 4,
            LoadStore::LdrhW | LoadStore::LdrshX | LoadStore::StrhW => 2,
            LoadStore::LdrbW | LoadStore::LdrsbX | LoadStore::StrbW => 1,
        }
    }
}

/// `OP rt, [rn, #offset]` with a scaled unsigned offset; `rt` is an X/W or S/D/Q register
/// number as the operation says; `rn` may be SP.
pub fn ldst_uimm(op: LoadStore, rt: u8, rn: X, offset: ScaledImm12) -> u32 {
    rd_rn((op.op_31_22() << 22) | (offset.0 << 10), rn, rt)
}

/// `ldr xt, [xn], #imm` (post-index)
pub fn ldr_x_post(rt: X, rn: X, imm9: Imm9) -> u32 {
    rd_rn(0xF840_0400 | (imm9.0 << 12), rn, rt.0)
}

/// `str xt, [xn], #imm` (post-index)
pub fn str_x_post(rt: X, rn: X, imm9: Imm9) -> u32 {
    rd_rn(0xF800_0400 | (imm9.0 << 12), rn, rt.0)
}

/// `stp xt, xt2, [xn, #imm]!` (pre-index)
pub fn stp_x_pre(rt: X, rt2: X, rn: X, imm7: PairImm7) -> u32 {
    rd_rn(0xA980_0000 | (imm7.0 << 15) | (u32::from(rt2.0) << 10), rn, rt.0)
}

/// `ldp xt, xt2, [xn], #imm` (post-index)
pub fn ldp_x_post(rt: X, rt2: X, rn: X, imm7: PairImm7) -> u32 {
    rd_rn(0xA8C0_0000 | (imm7.0 << 15) | (u32::from(rt2.0) << 10), rn, rt.0)
}

/// `stp xt, xt2, [xn, #imm]`
pub fn stp_x(rt: X, rt2: X, rn: X, imm7: PairImm7) -> u32 {
    rd_rn(0xA900_0000 | (imm7.0 << 15) | (u32::from(rt2.0) << 10), rn, rt.0)
}

/// `ldp xt, xt2, [xn, #imm]`
pub fn ldp_x(rt: X, rt2: X, rn: X, imm7: PairImm7) -> u32 {
    rd_rn(0xA940_0000 | (imm7.0 << 15) | (u32::from(rt2.0) << 10), rn, rt.0)
}

/// `add xd, xn, #imm12` (xd and xn may be SP; `mov` to or from SP is `add #0`)
pub fn add_x_imm(rd: X, rn: X, imm12: Imm12) -> u32 {
    rd_rn(0x9100_0000 | (imm12.0 << 10), rn, rd.0)
}

/// `sub xd, xn, #imm12` (xd and xn may be SP)
pub fn sub_x_imm(rd: X, rn: X, imm12: Imm12) -> u32 {
    rd_rn(0xD100_0000 | (imm12.0 << 10), rn, rd.0)
}

/// `subs xd, xn, #imm12`
pub fn subs_x_imm(rd: X, rn: X, imm12: Imm12) -> u32 {
    rd_rn(0xF100_0000 | (imm12.0 << 10), rn, rd.0)
}

/// `add xd, xn, xm` (extended-register form, UXTX: xd and xn may be SP)
pub fn add_x_reg(rd: X, rn: X, rm: X) -> u32 {
    rd_rn(0x8B20_6000 | (u32::from(rm.0) << 16), rn, rd.0)
}

/// `sub xd, xn, xm` (extended-register form, UXTX: xd and xn may be SP)
pub fn sub_x_reg(rd: X, rn: X, rm: X) -> u32 {
    rd_rn(0xCB20_6000 | (u32::from(rm.0) << 16), rn, rd.0)
}

/// `mov xd, xm` (`orr xd, xzr, xm`; neither may be SP)
pub fn mov_x(rd: X, rm: X) -> u32 {
    0xAA00_03E0 | (u32::from(rm.0) << 16) | u32::from(rd.0)
}

/// `movz xd, #imm16, lsl #(16 * hw)`
pub fn movz_x(rd: X, imm16: u16, hw: u8) -> u32 {
    0xD280_0000 | (u32::from(hw & 3) << 21) | (u32::from(imm16) << 5) | u32::from(rd.0)
}

/// `movk xd, #imm16, lsl #(16 * hw)`
pub fn movk_x(rd: X, imm16: u16, hw: u8) -> u32 {
    0xF280_0000 | (u32::from(hw & 3) << 21) | (u32::from(imm16) << 5) | u32::from(rd.0)
}

/// `blr xn`
pub fn blr(rn: X) -> u32 {
    0xD63F_0000 | (u32::from(rn.0) << 5)
}

/// `br xn`
pub fn br(rn: X) -> u32 {
    0xD61F_0000 | (u32::from(rn.0) << 5)
}

/// `ret` (to x30)
pub fn ret() -> u32 {
    0xD65F_03C0
}

/// `b.ne` to a byte offset from this instruction
pub fn b_ne(offset: BranchImm19) -> u32 {
    0x5400_0001 | (offset.0 << 5)
}

/// `adr xd, #offset` (PC-relative, within ±1 MiB)
pub fn adr(rd: X, offset: AdrImm21) -> u32 {
    let (lo, hi) = (offset.0 & 3, offset.0 >> 2);
    0x1000_0000 | (lo << 29) | (hi << 5) | u32::from(rd.0)
}

/// A signed 21-bit byte offset (ADR).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct AdrImm21(u32);

impl AdrImm21 {
    pub fn new(byte_offset: i64) -> Option<AdrImm21> {
        (-(1 << 20)..(1 << 20))
            .contains(&byte_offset)
            .then_some(AdrImm21(byte_offset as u32 & 0x1F_FFFF))
    }
}

/// `brk #imm16` (padding that traps if ever executed)
pub fn brk(imm16: u16) -> u32 {
    0xD420_0000 | (u32::from(imm16) << 5)
}
