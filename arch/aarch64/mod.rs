//! AArch64: registers, encoders, and the thunk generator for AAPCS64 plans.

pub mod aapcs;
pub mod apple;
pub mod encode;
pub mod windows;

use crate::arch::{check_emittable, errno_slot, ArgSource, ErrnoAccess, HandlerKind};
use crate::error::Result;
use crate::plan::{ArgPlan, CallPlan, Extension, Location, Part, RetPlan};
use encode::*;

use super::CodeBuffer;

const PAGE: u64 = 4096;

// The thunk's own registers: callee-saved, so they survive the call.
const BLOCK: X = X(19);
const RESULT: X = X(20);
const TARGET: X = X(21);
const FP: X = X(29);
const LR: X = X(30);
// Scratch registers the thunk may clobber: x9-x15 and IP0 (x16) are temporaries.
const SCRATCH: X = X(9);
const ADDR: X = X(10);
/// The current argument's pointer, with [`ArgSource::Pointers`].
const ARG: X = X(11);
const IP0: X = X(16);
/// Windows on ARM64 keeps the thread's TEB in x18, the platform register. jitcall's code
/// never writes x18 on any OS; only Windows errno thunks read it, to reach the last error
/// (as `GetLastError` and `SetLastError` do).
const TEB: X = X(18);

/// Emits a call thunk for an AAPCS64 plan.
///
/// The thunk is entered as `extern "C" fn(target, block, ret)` (x0, x1, x2). Like the
/// x86-64 one it builds the whole outgoing frame: reserves the stack area (16-byte
/// aligned, touched page by page), copies stack arguments with narrow integers widened,
/// loads x- and v-registers, passes the result address in x8 when the result is in
/// memory, calls, and stores x0/x1 and v0-v3 into the return block.
///
/// # Errors
/// A plan whose stack arguments exceed [`crate::arch::MAX_STACK_BYTES`].
///
/// With [`ArgSource::Pointers`], x1 is an array of pointers to each argument's image and
/// x2 the caller's result memory, written at exact widths.
pub fn emit_thunk(plan: &CallPlan, source: ArgSource, code: &mut CodeBuffer) -> Result<()> {
    emit_thunk_with(plan, source, None, code)
}

/// The errno slot's address in a capturing thunk (callee-saved, kept in the frame
/// record's spare word).
const ERRNO_SLOT: X = X(22);

/// [`emit_thunk`], and with `errno` also its capture: the thunk then takes a fourth
/// argument (x3), the thread's errno slot (see [`crate::arch::errno_slot`]). Right after
/// the call returns it stores the result registers, then copies `errno` into the slot
/// through the address the slot holds; nothing else runs in between, and the thunk calls
/// nothing but the target.
///
/// # Errors
/// As [`emit_thunk`].
pub fn emit_thunk_with(
    plan: &CallPlan,
    source: ArgSource,
    errno: Option<&ErrnoAccess>,
    code: &mut CodeBuffer,
) -> Result<()> {
    check_emittable(plan, source)?;
    let mut a = Asm { code };
    let pair = |offset| PairImm7::new(offset).expect("frame offsets are small constants");

    // Prologue: frame record, then the three registers the thunk keeps its pointers in.
    a.put(stp_x_pre(FP, LR, SP, pair(-48)));
    a.put(add_x_imm(FP, SP, imm12(0)));
    a.put(stp_x(BLOCK, RESULT, SP, pair(16)));
    a.store(LoadStore::StrX, TARGET.0, SP, 32);
    a.put(mov_x(TARGET, X(0)));
    a.put(mov_x(BLOCK, X(1)));
    a.put(mov_x(RESULT, X(2)));
    if let Some(errno) = errno {
        a.store(LoadStore::StrX, ERRNO_SLOT.0, SP, 40);
        a.put(mov_x(ERRNO_SLOT, X(3)));
        if errno.set_before {
            // *slot.location = slot.errno.
            a.load(LoadStore::LdrX, ADDR.0, ERRNO_SLOT, errno_slot::LOCATION as u64);
            a.load(LoadStore::LdrW, SCRATCH.0, ERRNO_SLOT, errno_slot::ERRNO as u64);
            a.store(LoadStore::StrW, SCRATCH.0, ADDR, 0);
            if errno.windows {
                // SetLastError: the TEB's LastErrorValue.
                a.load(LoadStore::LdrW, SCRATCH.0, ERRNO_SLOT, errno_slot::LAST_ERROR as u64);
                a.store(LoadStore::StrW, SCRATCH.0, TEB, errno_slot::TEB_LAST_ERROR.into());
            }
        }
    }
    let frame = u64::from(plan.stack_bytes.next_multiple_of(16));
    let mut reserved = 0;
    while frame - reserved >= PAGE {
        a.sub_sp(PAGE);
        a.store(LoadStore::StrX, XZR.0, SP, 0); // touch each page in order
        reserved += PAGE;
    }
    if frame > reserved {
        a.sub_sp(frame - reserved);
    }

    for (i, arg) in plan.args.iter().enumerate() {
        // Where argument i's image starts: in the block, or behind its pointer.
        let (image, base) = match source {
            ArgSource::Block(block) => (BLOCK, u64::from(block.offsets[i])),
            ArgSource::Pointers => {
                a.load(LoadStore::LdrX, ARG.0, BLOCK, 8 * i as u64);
                (ARG, 0)
            }
        };
        match arg {
            ArgPlan::Direct(parts) => {
                for part in parts {
                    let src = base + u64::from(part.offset);
                    match part.dest {
                        Location::ArgGpr(n) => a.load(integer_load(part), n, image, src),
                        Location::Fpr(n) => a.load(vector_access(part.size).0, n, image, src),
                        Location::Stack(dest) => {
                            a.load(integer_load(part), SCRATCH.0, image, src);
                            a.store(stack_store(part.size, dest), SCRATCH.0, SP, dest.into());
                        }
                        Location::RetGpr(_) => {
                            unreachable!("no argument goes to a result register")
                        }
                    }
                }
            }
            ArgPlan::Indirect { pointer: Location::ArgGpr(n) } => a.add_imm(X(*n), image, base),
            ArgPlan::Indirect { pointer: Location::Stack(dest) } => {
                a.add_imm(SCRATCH, image, base);
                a.store(LoadStore::StrX, SCRATCH.0, SP, (*dest).into());
            }
            ArgPlan::Indirect { pointer: Location::Fpr(_) | Location::RetGpr(_) } => {
                unreachable!("a by-reference argument's address goes to an argument register")
            }
        }
    }
    if let RetPlan::Indirect { pointer: Location::ArgGpr(n) } = plan.ret {
        a.put(mov_x(X(n), RESULT));
    }
    a.put(blr(TARGET));
    if let Some(ErrnoAccess { windows: true, .. }) = errno {
        // GetLastError, before anything else can change it; x9 is no result register.
        a.load(LoadStore::LdrW, SCRATCH.0, TEB, errno_slot::TEB_LAST_ERROR.into());
        a.store(LoadStore::StrW, SCRATCH.0, ERRNO_SLOT, errno_slot::LAST_ERROR as u64);
    }

    if let RetPlan::Direct(parts) = &plan.ret {
        for part in parts {
            let dest = u64::from(part.offset);
            match part.dest {
                // The caller's memory takes exactly the result's bytes.
                Location::RetGpr(n) if source == ArgSource::Pointers => {
                    let op = match part.size {
                        1 => LoadStore::StrbW,
                        2 => LoadStore::StrhW,
                        4 => LoadStore::StrW,
                        _ => LoadStore::StrX,
                    };
                    a.store(op, n, RESULT, dest);
                }
                Location::RetGpr(n) => a.store(LoadStore::StrX, n, RESULT, dest),
                Location::Fpr(n) => a.store(vector_access(part.size).1, n, RESULT, dest),
                Location::Stack(_) => {}
                Location::ArgGpr(_) => unreachable!("no result comes back in an argument register"),
            }
        }
    }
    if errno.is_some() {
        // x9 and x10 are no result registers.
        a.load(LoadStore::LdrX, ADDR.0, ERRNO_SLOT, errno_slot::LOCATION as u64);
        a.load(LoadStore::LdrW, SCRATCH.0, ADDR, 0);
        a.store(LoadStore::StrW, SCRATCH.0, ERRNO_SLOT, errno_slot::ERRNO as u64);
    }

    // Epilogue: sp back to the frame record, restore, return.
    a.put(add_x_imm(SP, FP, imm12(0)));
    if errno.is_some() {
        a.load(LoadStore::LdrX, ERRNO_SLOT.0, SP, 40);
    }
    a.put(ldp_x(BLOCK, RESULT, SP, pair(16)));
    a.load(LoadStore::LdrX, TARGET.0, SP, 32);
    a.put(ldp_x_post(FP, LR, SP, pair(48)));
    a.put(ret());
    Ok(())
}

/// Emits a *tail thunk* for `plan` (see [`crate::arch::tail_callable`]): entered as
/// `extern "C" fn(target, args, ret)` (x0, x1, x2), it passes `ret` in x8 when the result
/// is in memory (else `ret` is unused), loads every argument register through the pointer
/// array, and branches to the target (through x16, which BTI admits at a function's `bti
/// c`), which returns to the thunk's caller with the result in its registers or memory.
/// No frame, no stores.
///
/// # Errors
/// A plan that is not [`tail_callable`](crate::arch::tail_callable).
pub fn emit_tail_thunk(plan: &CallPlan, code: &mut CodeBuffer) -> Result<()> {
    crate::arch::check_tail_callable(plan)?;
    let mut a = Asm { code };
    a.put(mov_x(IP0, X(0)));
    a.put(mov_x(ADDR, X(1)));
    if let RetPlan::Indirect { pointer: Location::ArgGpr(n) } = plan.ret {
        a.put(mov_x(X(n), X(2))); // x8, before x2 is loaded
    }
    for (i, arg) in plan.args.iter().enumerate() {
        let ArgPlan::Direct(parts) = arg else {
            unreachable!("a tail-callable plan passes every argument by value")
        };
        a.load(LoadStore::LdrX, ARG.0, ADDR, 8 * i as u64);
        for part in parts {
            let src = u64::from(part.offset);
            match part.dest {
                Location::ArgGpr(n) => a.load(integer_load(part), n, ARG, src),
                Location::Fpr(n) => a.load(vector_access(part.size).0, n, ARG, src),
                Location::Stack(_) | Location::RetGpr(_) => {
                    unreachable!("a tail-callable plan has register arguments only")
                }
            }
        }
    }
    a.put(br(IP0));
    Ok(())
}

/// The load that widens a piece of an argument into a whole x-register as the plan says.
/// Pieces of 3, 5, 6 or 7 bytes load 8: the argument block pads every image with zeros.
fn integer_load(part: &Part) -> LoadStore {
    match (part.size, part.ext) {
        (1, Extension::Sign) => LoadStore::LdrsbX,
        (2, Extension::Sign) => LoadStore::LdrshX,
        (4, Extension::Sign) => LoadStore::LdrswX,
        (1, _) => LoadStore::LdrbW,
        (2, _) => LoadStore::LdrhW,
        (4, _) => LoadStore::LdrW,
        _ => LoadStore::LdrX,
    }
}

/// The store of a piece into its stack slot. A slot at an 8-aligned offset takes a whole
/// word (the standard's slots: the extended value fills it); a slot that a flavour packs at
/// a smaller alignment (Apple's `int8_t` at `[sp, #1]`) takes exactly the piece's bytes, so
/// it never writes over an earlier argument's. An 8-byte store at an 8-aligned offset stays
/// inside the area (its size is a multiple of 8) and only reaches bytes of arguments
/// placed later, which are stored later: pieces are stored in plan order, and every
/// flavour's stack offsets grow in that order.
fn stack_store(size: u8, dest: u32) -> LoadStore {
    match (size, dest % 8) {
        (_, 0) => LoadStore::StrX,
        (1, _) => LoadStore::StrbW,
        (2, _) => LoadStore::StrhW,
        (4, _) => LoadStore::StrW,
        _ => LoadStore::StrX,
    }
}

/// The load and the store of a vector-register piece: a float (4 bytes), a double (8) or a
/// whole q-register (16: a `long double`, binary128).
fn vector_access(size: u8) -> (LoadStore, LoadStore) {
    match size {
        4 => (LoadStore::LdrS, LoadStore::StrS),
        16 => (LoadStore::LdrQ, LoadStore::StrQ),
        _ => (LoadStore::LdrD, LoadStore::StrD),
    }
}

fn imm12(v: u64) -> Imm12 {
    Imm12::new(v).expect("a constant below 4096")
}

/// Emission helpers that fall back to computing an address when an offset is out of an
/// instruction's range.
struct Asm<'a> {
    code: &'a mut CodeBuffer,
}

impl Asm<'_> {
    fn put(&mut self, word: u32) {
        self.code.put4(word);
    }

    /// `rd = value`, with movz and as many movk as needed.
    fn mov_imm(&mut self, rd: X, value: u64) {
        self.put(movz_x(rd, value as u16, 0));
        for hw in 1..4u8 {
            let half = (value >> (16 * hw)) as u16;
            if half != 0 {
                self.put(movk_x(rd, half, hw));
            }
        }
    }

    /// `rd = rn + offset` (rn may be SP).
    fn add_imm(&mut self, rd: X, rn: X, offset: u64) {
        match Imm12::new(offset) {
            Some(imm) => self.put(add_x_imm(rd, rn, imm)),
            None => {
                self.mov_imm(IP0, offset);
                self.put(add_x_reg(rd, rn, IP0));
            }
        }
    }

    fn sub_sp(&mut self, bytes: u64) {
        match Imm12::new(bytes) {
            Some(imm) => self.put(sub_x_imm(SP, SP, imm)),
            None => {
                self.mov_imm(IP0, bytes);
                self.put(sub_x_reg(SP, SP, IP0));
            }
        }
    }

    /// A load or store of `rt` at `[rn + offset]`.
    fn access(&mut self, op: LoadStore, rt: u8, rn: X, offset: u64) {
        match ScaledImm12::new(offset, op.bytes()) {
            Some(imm) => self.put(ldst_uimm(op, rt, rn, imm)),
            None => {
                self.add_imm(ADDR, rn, offset);
                self.put(ldst_uimm(op, rt, ADDR, ScaledImm12::new(0, 1).expect("zero fits")));
            }
        }
    }

    fn load(&mut self, op: LoadStore, rt: u8, rn: X, offset: u64) {
        self.access(op, rt, rn, offset);
    }

    fn store(&mut self, op: LoadStore, rt: u8, rn: X, offset: u64) {
        self.access(op, rt, rn, offset);
    }
}

/// The register holding the slot address when a stub jumps to a handler (IP0).
const SLOT: X = X(16);

/// Emits one trampoline stub: `adr x16, slot; ldr x17, [x16]; br x17`, padded to
/// `STUB_BYTES`. `slot_from_stub` is the data slot's offset from the stub's first byte.
///
/// # Panics
/// A slot more than 1 MiB away (ADR's range): the page layout keeps slots closer.
pub fn emit_stub(code: &mut CodeBuffer, slot_from_stub: i64) {
    use crate::arch::trampoline::STUB_BYTES;
    let offset = AdrImm21::new(slot_from_stub).expect("a data slot lies within ADR's 1 MiB");
    let start = code.offset();
    code.put4(adr(SLOT, offset));
    code.put4(ldst_uimm(LoadStore::LdrX, 17, SLOT, ScaledImm12::new(0, 8).expect("zero fits")));
    code.put4(br(X(17)));
    while code.offset() < start + STUB_BYTES {
        code.put4(brk(0));
    }
}

/// The register save area the AAPCS64 handler builds (all offsets in bytes): the layout of
/// [`crate::arch::trampoline::frame`], with whole 16-byte vector registers (a `long
/// double` fills one).
pub mod frame {
    /// Argument general registers x0-x8 by plan index, x8 being the result address.
    pub const GPRS: usize = 0;
    /// Argument vector registers q0-q7 by index, 16 bytes each.
    pub const FPRS: usize = 80;
    /// Bytes per saved vector register.
    pub const FPR_BYTES: usize = 16;
    /// Result general registers x0, x1.
    pub const RET_GPRS: usize = FPRS + 8 * FPR_BYTES;
    /// Result vector registers q0-q3.
    pub const RET_FPRS: usize = RET_GPRS + 16;
    /// The whole area, a multiple of 16.
    pub const SIZE: usize = RET_FPRS + 4 * FPR_BYTES;
}

/// Emits the AAPCS64 callback handler (see `crate::arch::trampoline`): entered from a
/// stub with x16 = the data slot and the caller's arguments untouched. The dispatcher is
/// an AAPCS64 function, so it preserves x19-x28 and d8-d15 itself. It saves and loads
/// whole q-registers ([`frame`]).
pub fn emit_callback_handler(kind: HandlerKind, code: &mut CodeBuffer) {
    use crate::arch::trampoline::SLOT_DISPATCHER;
    let mut a = Asm { code };
    let pair = |offset| PairImm7::new(offset).expect("frame offsets are small constants");
    a.put(stp_x_pre(FP, LR, SP, pair(-16)));
    a.put(add_x_imm(FP, SP, imm12(0)));
    a.sub_sp(frame::SIZE as u64);
    for n in (0..8u8).step_by(2) {
        a.put(stp_x(X(n), X(n + 1), SP, pair((frame::GPRS + 8 * n as usize) as i64)));
    }
    a.store(LoadStore::StrX, 8, SP, (frame::GPRS + 64) as u64); // x8: the result address
    for n in (0..8u8).filter(|_| kind == HandlerKind::Full) {
        a.store(LoadStore::StrQ, n, SP, (frame::FPRS + frame::FPR_BYTES * n as usize) as u64);
    }
    a.put(mov_x(X(0), SLOT));
    a.put(add_x_imm(X(1), SP, imm12(0)));
    a.put(add_x_imm(X(2), FP, imm12(16))); // the caller's stack arguments: sp at entry
    a.load(LoadStore::LdrX, SCRATCH.0, SLOT, SLOT_DISPATCHER as u64);
    a.put(blr(SCRATCH));
    a.put(ldp_x(X(0), X(1), SP, pair(frame::RET_GPRS as i64)));
    for n in 0..4u8 {
        a.load(LoadStore::LdrQ, n, SP, (frame::RET_FPRS + frame::FPR_BYTES * n as usize) as u64);
    }
    a.put(add_x_imm(SP, FP, imm12(0)));
    a.put(ldp_x_post(FP, LR, SP, pair(16)));
    a.put(ret());
}
