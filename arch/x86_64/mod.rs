//! What both x86-64 conventions share: registers, encoders, and the thunk generator.
//!
//! The thunk generator is convention-free: everything that differs between System V and
//! Win64 (argument registers, shadow space, `%al`) is data in the [`CallPlan`] and the
//! convention's [`Descriptor`].

pub mod encode;
pub mod sysv;
pub mod win64;

use crate::arch::{
    check_emittable, descriptor, errno_slot, ArgSource, Descriptor, ErrnoAccess, HandlerKind,
};
use crate::error::Result;
use crate::plan::{ArgPlan, CallPlan, Extension, Location, Part, RetPlan};
use encode::*;

use super::CodeBuffer;

/// A general-purpose register, numbered as the encoding numbers it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Reg {
    Rax = 0,
    Rcx,
    Rdx,
    Rbx,
    Rsp,
    Rbp,
    Rsi,
    Rdi,
    R8,
    R9,
    R10,
    R11,
    R12,
    R13,
    R14,
    R15,
}

impl Reg {
    pub fn num(self) -> u8 {
        self as u8
    }

    pub fn name(self) -> &'static str {
        crate::arch::Isa::X86_64.gpr_name(self.num())
    }

    /// The register the encoding numbers `n`.
    ///
    /// # Panics
    /// `n` past 15.
    pub fn from_num(n: u8) -> Reg {
        use Reg::*;
        const ALL: [Reg; 16] =
            [Rax, Rcx, Rdx, Rbx, Rsp, Rbp, Rsi, Rdi, R8, R9, R10, R11, R12, R13, R14, R15];
        ALL[n as usize]
    }
}

/// An XMM register, 0 to 15.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Xmm(pub u8);

impl Xmm {
    pub fn num(self) -> u8 {
        self.0
    }
}

/// Results come back in rax and rdx (`Location::RetGpr(0)` and `RetGpr(1)` of a result).
pub const RET_GPRS: [Reg; 2] = [Reg::Rax, Reg::Rdx];

/// Stack copies longer than this use `rep movsb` instead of one load and store per 8 bytes.
const REP_MOVSB_THRESHOLD: u32 = 64;

const PAGE: u32 = 4096;

// The thunk's own registers. The target and the arguments are needed only up to the
// call, so they live in scratch registers that are no argument register in either
// convention; the result pointer is needed after it, so it lives in a callee-saved one.
const TARGET: Reg = Reg::R11;
const BLOCK: Reg = Reg::R10;
const RESULT: Reg = Reg::R12;
const SCRATCH: Reg = Reg::Rax;

/// Emits a call thunk for `plan`, in the argument registers of its convention's
/// [`Descriptor`].
///
/// The thunk is entered with the System V convention (Rust calls it as
/// `extern "sysv64" fn(target, args, ret)` on every x86-64 host): rdi = the function to
/// call, rsi = the argument block or pointer array, rdx = the return block or the
/// caller's result memory (see [`ArgSource`]). It builds the whole outgoing frame itself:
/// aligns the stack, reserves shadow space, copies stack arguments (widening narrow
/// integers), loads registers, sets `%al`, calls, and stores the result registers.
///
/// # Errors
/// A plan whose stack arguments exceed [`crate::arch::MAX_STACK_BYTES`]; for [`ArgSource::Pointers`],
/// a plan that [`pointers_fit`](crate::arch::pointers_fit) rejects.
pub fn emit_thunk(plan: &CallPlan, source: ArgSource, code: &mut CodeBuffer) -> Result<()> {
    emit_thunk_with(plan, source, None, code)
}

/// The thunk's own callee-saved register for the errno slot's address, when it handles
/// `errno`.
const ERRNO_SLOT: Reg = Reg::R13;

/// [`emit_thunk`], and with `errno` also its capture: the thunk then takes a fourth
/// argument (rcx), the thread's errno slot (see [`crate::arch::errno_slot`]).
///
/// Right after the call returns, before anything else runs, a Windows thunk copies the
/// TEB's last error into the slot (one load, no call: `GetLastError` is that load too);
/// then the result registers are stored, and `errno` is copied into the slot through the
/// address the slot holds. The thunk calls nothing but the target.
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
    let arg_gprs = regs(descriptor(plan.abi).arg_gprs);
    let mut out = |inst: Inst| code.put(inst.bytes());

    let frame = (plan.shadow_space + plan.stack_bytes).next_multiple_of(16);
    match errno {
        // Prologue: save the one callee-saved register used. The caller (Rust, through
        // `ThunkFn`) entered with rsp = 8 mod 16, so after the push rsp is 16-aligned, and
        // stays so below a frame that is a multiple of 16.
        None => {
            out(push_r(RESULT));
            out(mov_rr(RESULT, Reg::Rdx));
            out(mov_rr(TARGET, Reg::Rdi));
            out(mov_rr(BLOCK, Reg::Rsi));
        }
        // Two callee-saved registers and 8 bytes of padding: rsp 16-aligned again.
        Some(errno) => {
            out(push_r(RESULT));
            out(push_r(ERRNO_SLOT));
            out(sub_ri(Reg::Rsp, 8));
            out(mov_rr(RESULT, Reg::Rdx));
            out(mov_rr(ERRNO_SLOT, Reg::Rcx));
            out(mov_rr(TARGET, Reg::Rdi));
            out(mov_rr(BLOCK, Reg::Rsi));
            if errno.set_before {
                set_errno_from_slot(errno, &mut out);
            }
        }
    }
    // Touch each new page in order, so that a guard-page-grown stack (Windows) grows.
    let mut reserved = 0;
    while frame - reserved >= PAGE {
        out(sub_ri(Reg::Rsp, PAGE as i32));
        out(mov_rm(SCRATCH, Mem::new(Reg::Rsp, 0)));
        reserved += PAGE;
    }
    if frame > reserved {
        out(sub_ri(Reg::Rsp, (frame - reserved) as i32));
    }

    // Where argument i's image starts: in the block, or behind its pointer (loaded into
    // `via` first).
    let image = |out: &mut dyn FnMut(Inst), i: usize, via: Reg| match source {
        ArgSource::Block(block) => Mem::new(BLOCK, block.offsets[i] as i32),
        ArgSource::Pointers => {
            out(mov_rm(via, Mem::new(BLOCK, 8 * i as i32)));
            Mem::new(via, 0)
        }
    };
    let at = |m: Mem, offset: u32| Mem::new(m.base, m.disp + offset as i32);

    // Stack arguments first: the copies may use rsi, rdi and rcx, which are argument
    // registers.
    let stack_slot = |offset: u32| Mem::new(Reg::Rsp, (plan.shadow_space + offset) as i32);
    for (i, arg) in plan.args.iter().enumerate() {
        match arg {
            ArgPlan::Direct(parts) => {
                let on_stack: Vec<(&Part, u32)> = parts
                    .iter()
                    .filter_map(|p| match p.dest {
                        Location::Stack(dest) => Some((p, dest)),
                        _ => None,
                    })
                    .collect();
                // The block pads images to whole eightbytes; a caller's value is copied at
                // its exact size.
                let bytes: u32 = match source {
                    ArgSource::Block(_) => {
                        on_stack.iter().map(|(p, _)| u32::from(p.size).next_multiple_of(8)).sum()
                    }
                    ArgSource::Pointers => on_stack.iter().map(|(p, _)| u32::from(p.size)).sum(),
                };
                if let (Some(&(first, dest)), true) =
                    (on_stack.first(), bytes > REP_MOVSB_THRESHOLD)
                {
                    // A large aggregate passed in memory: its pieces are contiguous.
                    let src = image(&mut out, i, Reg::Rsi);
                    out(lea_rm(Reg::Rsi, at(src, first.offset)));
                    out(lea_rm(Reg::Rdi, stack_slot(dest)));
                    out(mov_r32i(Reg::Rcx, bytes));
                    out(rep_movsb());
                    continue;
                }
                for (part, dest) in on_stack {
                    let src = image(&mut out, i, SCRATCH);
                    out(load_integer(SCRATCH, at(src, part.offset), part));
                    out(mov_mr(stack_slot(dest), SCRATCH));
                }
            }
            ArgPlan::Indirect { pointer: Location::Stack(dest) } => {
                let copy = image(&mut out, i, SCRATCH);
                out(lea_rm(SCRATCH, copy));
                out(mov_mr(stack_slot(*dest), SCRATCH));
            }
            ArgPlan::Indirect { .. } => {}
        }
    }

    // Then registers.
    for (i, arg) in plan.args.iter().enumerate() {
        match arg {
            ArgPlan::Direct(parts) => {
                for part in parts {
                    if matches!(part.dest, Location::Stack(_)) {
                        continue;
                    }
                    let src = at(image(&mut out, i, SCRATCH), part.offset);
                    match part.dest {
                        Location::ArgGpr(n) => out(load_integer(arg_gprs[n as usize], src, part)),
                        Location::Fpr(n) if part.size == 4 => out(movss_xm(Xmm(n), src)),
                        Location::Fpr(n) => out(movsd_xm(Xmm(n), src)),
                        Location::Stack(_) => {}
                        Location::RetGpr(_) => {
                            unreachable!("no argument goes to a result register")
                        }
                    }
                }
            }
            ArgPlan::Indirect { pointer: Location::ArgGpr(n) } => {
                let copy = image(&mut out, i, SCRATCH);
                out(lea_rm(arg_gprs[*n as usize], copy));
            }
            ArgPlan::Indirect { .. } => {}
        }
    }
    if let RetPlan::Indirect { pointer: Location::ArgGpr(n) } = plan.ret {
        out(mov_rr(arg_gprs[n as usize], RESULT));
    }
    if let Some(count) = plan.vector_count {
        out(mov_r32i(Reg::Rax, count.into()));
    }
    out(call_r(TARGET));
    if let Some(ErrnoAccess { windows: true, .. }) = errno {
        // rcx is no result register.
        out(mov_r32_gs(Reg::Rcx, errno_slot::TEB_LAST_ERROR));
        out(mov_m32r(Mem::new(ERRNO_SLOT, errno_slot::LAST_ERROR), Reg::Rcx));
    }

    if let RetPlan::Direct(parts) = &plan.ret {
        for part in parts {
            let dest = Mem::new(RESULT, part.offset as i32);
            match part.dest {
                // The caller's memory takes exactly the result's bytes.
                Location::RetGpr(n) if source == ArgSource::Pointers => {
                    let reg = RET_GPRS[n as usize];
                    out(match part.size {
                        1 => mov_m8r(dest, reg),
                        2 => mov_m16r(dest, reg),
                        4 => mov_m32r(dest, reg),
                        _ => mov_mr(dest, reg),
                    })
                }
                Location::RetGpr(n) => out(mov_mr(dest, RET_GPRS[n as usize])),
                Location::Fpr(n) if part.size == 4 => out(movss_mx(dest, Xmm(n))),
                // A Win64 `__int128` result: all of xmm0.
                Location::Fpr(n) if part.size == 16 => out(movups_mx(dest, Xmm(n))),
                Location::Fpr(n) => out(movsd_mx(dest, Xmm(n))),
                Location::Stack(_) => {}
                Location::ArgGpr(_) => unreachable!("no result comes back in an argument register"),
            }
        }
    }

    if let RetPlan::X87 { count } = plan.ret {
        store_x87_result(count, &mut out);
    }

    if errno.is_some() {
        // rcx is no result register.
        out(mov_rm(Reg::Rcx, Mem::new(ERRNO_SLOT, errno_slot::LOCATION)));
        out(mov_r32m(Reg::Rcx, Mem::new(Reg::Rcx, 0)));
        out(mov_m32r(Mem::new(ERRNO_SLOT, errno_slot::ERRNO), Reg::Rcx));
    }

    // Epilogue.
    if frame > 0 {
        out(add_ri(Reg::Rsp, frame as i32));
    }
    if errno.is_some() {
        out(add_ri(Reg::Rsp, 8));
        out(pop_r(ERRNO_SLOT));
        out(pop_r(RESULT));
    } else {
        out(pop_r(RESULT));
    }
    out(ret());
    Ok(())
}

/// Emits a *tail thunk* for `plan` (see [`crate::arch::tail_callable`]): entered with the
/// plan's own convention as `fn(target, args, ret)` (System V: rdi, rsi, rdx; Win64: rcx,
/// rdx, r8, with the caller's shadow space), it passes `ret` as the hidden result pointer
/// when the result is in memory (else `ret` is unused), loads every argument register
/// through the pointer array, and jumps to the target, which returns to the thunk's caller
/// with the result in its registers or memory. No frame, no stores.
///
/// # Errors
/// A plan that is not [`tail_callable`](crate::arch::tail_callable).
pub fn emit_tail_thunk(plan: &CallPlan, code: &mut CodeBuffer) -> Result<()> {
    crate::arch::check_tail_callable(plan)?;
    let arg_gprs = regs(descriptor(plan.abi).arg_gprs);
    let mut out = |inst: Inst| code.put(inst.bytes());
    out(mov_rr(TARGET, arg_gprs[0]));
    out(mov_rr(BLOCK, arg_gprs[1]));
    if let RetPlan::Indirect { pointer: Location::ArgGpr(n) } = plan.ret {
        // Before any argument register is loaded: `ret` arrived in the third one.
        out(mov_rr(arg_gprs[n as usize], arg_gprs[2]));
    }
    for (i, arg) in plan.args.iter().enumerate() {
        let ArgPlan::Direct(parts) = arg else {
            unreachable!("a tail-callable plan passes every argument by value")
        };
        out(mov_rm(SCRATCH, Mem::new(BLOCK, 8 * i as i32)));
        for part in parts {
            let src = Mem::new(SCRATCH, part.offset as i32);
            match part.dest {
                Location::ArgGpr(n) => out(load_integer(arg_gprs[n as usize], src, part)),
                Location::Fpr(n) if part.size == 4 => out(movss_xm(Xmm(n), src)),
                Location::Fpr(n) => out(movsd_xm(Xmm(n), src)),
                Location::Stack(_) | Location::RetGpr(_) => {
                    unreachable!("a tail-callable plan has register arguments only")
                }
            }
        }
    }
    if let Some(count) = plan.vector_count {
        out(mov_r32i(Reg::Rax, count.into()));
    }
    out(jmp_r(TARGET));
    Ok(())
}

/// After the call: pops the x87 results into the result memory, `st(0)` at `[0..10]` and
/// (complex) `st(1)` at `[16..26]`: exactly their bytes, in both argument sources.
fn store_x87_result(count: u8, out: &mut impl FnMut(Inst)) {
    for n in 0..count {
        out(fstp_m80(Mem::new(RESULT, 16 * i32::from(n))));
    }
}

/// Before the call, before any argument register is loaded: `*slot.location =
/// slot.errno` (and on Windows the TEB's last error = `slot.last_error`), with rax and rcx.
fn set_errno_from_slot(errno: &ErrnoAccess, out: &mut impl FnMut(Inst)) {
    out(mov_rm(Reg::Rax, Mem::new(ERRNO_SLOT, errno_slot::LOCATION)));
    out(mov_r32m(Reg::Rcx, Mem::new(ERRNO_SLOT, errno_slot::ERRNO)));
    out(mov_m32r(Mem::new(Reg::Rax, 0), Reg::Rcx));
    if errno.windows {
        out(mov_r32m(Reg::Rcx, Mem::new(ERRNO_SLOT, errno_slot::LAST_ERROR)));
        out(mov_gs_r32(errno_slot::TEB_LAST_ERROR, Reg::Rcx));
    }
}

/// Loads a piece of an argument into a whole 64-bit register, widened as the plan says.
/// Pieces of 3, 5, 6 or 7 bytes load 8: the argument block pads every image with zeros.
fn load_integer(dst: Reg, src: Mem, part: &Part) -> Inst {
    match (part.size, part.ext) {
        (1, Extension::Sign) => movsx_rm8(dst, src),
        (2, Extension::Sign) => movsx_rm16(dst, src),
        (4, Extension::Sign) => movsxd_rm32(dst, src),
        (1, _) => movzx_rm8(dst, src),
        (2, _) => movzx_rm16(dst, src),
        (4, _) => mov_r32m(dst, src),
        _ => mov_rm(dst, src),
    }
}

/// The registers a descriptor lists by number.
fn regs(numbers: &[u8]) -> Vec<Reg> {
    numbers.iter().map(|&n| Reg::from_num(n)).collect()
}

/// The register holding the slot address when a stub jumps to a handler.
const SLOT: Reg = Reg::R11;

/// Emits one trampoline stub: `lea r11, [rip + slot]; jmp [r11]`, padded to
/// `STUB_BYTES`. `slot_from_stub` is the data slot's offset from the stub's first byte.
pub fn emit_stub(code: &mut CodeBuffer, slot_from_stub: i32) {
    use crate::arch::trampoline::STUB_BYTES;
    let start = code.offset();
    let lea = lea_rip(SLOT, slot_from_stub - 7);
    code.put(lea.bytes());
    code.put(jmp_m(Mem::new(SLOT, 0)).bytes());
    while code.offset() < start + STUB_BYTES {
        code.put(int3().bytes());
    }
}

/// What differs between the two conventions' callback handlers.
pub(crate) struct HandlerShape {
    /// The argument registers, in plan order.
    pub arg_gprs: Vec<Reg>,
    pub arg_fprs: u8,
    /// Bytes between the return address and the first stack argument (Win64's shadow
    /// space).
    pub stack_args_skip: i32,
    /// Registers the caller expects preserved that a System V dispatcher may clobber
    /// (Win64: rsi, rdi and xmm6-xmm15).
    pub preserve_gprs: Vec<Reg>,
    pub preserve_xmms: std::ops::Range<u8>,
}

impl HandlerShape {
    /// The handler of a convention: it saves the convention's argument registers, and
    /// preserves what the convention's callers expect preserved but the System V
    /// dispatcher may clobber (for Win64: rsi, rdi and xmm6-xmm15).
    fn of(convention: &Descriptor) -> HandlerShape {
        let dispatcher = &sysv::DESCRIPTOR;
        let clobbered = |r: &&u8| !dispatcher.callee_saved_gprs.contains(r);
        // System V preserves no vector register: every one the convention's callers
        // expect preserved must be saved.
        debug_assert!(dispatcher.callee_saved_fprs.is_empty());
        HandlerShape {
            arg_gprs: regs(convention.arg_gprs),
            arg_fprs: convention.arg_fprs,
            stack_args_skip: convention.shadow_space as i32,
            preserve_gprs: regs(
                &convention.callee_saved_gprs.iter().filter(clobbered).copied().collect::<Vec<_>>(),
            ),
            preserve_xmms: convention.callee_saved_fprs.clone(),
        }
    }
}

/// Emits the callback handler of an x86-64 convention (see `crate::arch::trampoline`).
pub(crate) fn emit_callback_handler(
    convention: &Descriptor,
    kind: HandlerKind,
    code: &mut CodeBuffer,
) {
    emit_handler(&HandlerShape::of(convention), kind, code);
}

/// Emits a callback handler (see `crate::arch::trampoline`). It is entered from a stub
/// with r11 = the data slot, and the caller's arguments untouched.
fn emit_handler(shape: &HandlerShape, kind: HandlerKind, code: &mut CodeBuffer) {
    use crate::arch::trampoline::{frame, SLOT_DISPATCHER};
    let mut out = |inst: Inst| code.put(inst.bytes());
    let preserved_gprs = 8 * shape.preserve_gprs.len();
    let xmm_area = frame::SIZE + preserved_gprs.next_multiple_of(16);
    let frame_bytes = xmm_area + 16 * shape.preserve_xmms.len();
    let at = |offset: usize| Mem::new(Reg::Rsp, offset as i32);

    out(push_r(Reg::Rbp));
    out(mov_rr(Reg::Rbp, Reg::Rsp));
    out(sub_ri(Reg::Rsp, frame_bytes as i32)); // rsp stays 16-aligned: frame_bytes % 16 == 0
    for (i, &r) in shape.arg_gprs.iter().enumerate() {
        out(mov_mr(at(frame::GPRS + 8 * i), r));
    }
    let full = kind == HandlerKind::Full;
    for n in (0..shape.arg_fprs).filter(|_| full) {
        out(movsd_mx(at(frame::FPRS + 8 * n as usize), Xmm(n)));
    }
    for (i, &r) in shape.preserve_gprs.iter().enumerate() {
        out(mov_mr(at(frame::SIZE + 8 * i), r));
    }
    for (i, n) in shape.preserve_xmms.clone().enumerate() {
        out(movups_mx(at(xmm_area + 16 * i), Xmm(n)));
    }
    out(mov_rr(Reg::Rdi, SLOT));
    out(mov_rr(Reg::Rsi, Reg::Rsp));
    out(lea_rm(Reg::Rdx, Mem::new(Reg::Rbp, 16 + shape.stack_args_skip)));
    out(call_m(Mem::new(SLOT, SLOT_DISPATCHER)));
    for (i, &r) in shape.preserve_gprs.iter().enumerate() {
        out(mov_rm(r, at(frame::SIZE + 8 * i)));
    }
    for (i, n) in shape.preserve_xmms.clone().enumerate() {
        out(movups_xm(Xmm(n), at(xmm_area + 16 * i)));
    }
    if full {
        load_x87_result(&at, &mut out);
    }
    out(mov_rm(Reg::Rax, at(frame::RET_GPRS)));
    out(mov_rm(Reg::Rdx, at(frame::RET_GPRS + 8)));
    // All of xmm0: a Win64 `__int128` result fills it (its high half is xmm1's slot,
    // loaded on its own just after).
    out(movups_xm(Xmm(0), at(frame::RET_FPRS)));
    out(movsd_xm(Xmm(1), at(frame::RET_FPRS + 8)));
    out(mov_rr(Reg::Rsp, Reg::Rbp));
    out(pop_r(Reg::Rbp));
    out(ret());
}

/// Where a callback's x87 results wait in the handler's frame (see
/// [`crate::arch::trampoline::frame`]): the dispatcher writes the number of values to push
/// (0, 1 or 2) at `COUNT`, and the values at `VALUES` (`st(0)`) and `VALUES + 16`
/// (`st(1)`). Both lie in the result area, whose registers carry nothing for such results.
pub mod x87_frame {
    use crate::arch::trampoline::frame;
    /// The first value, 16 bytes per value (the result image as it is).
    pub const VALUES: usize = frame::RET_GPRS;
    /// One byte: how many values to push.
    pub const COUNT: usize = frame::SIZE - 8;
    const _: () = assert!(VALUES + 32 <= COUNT);
}

/// The handler's x87 results: pushes as many values as the frame's count says, the
/// imaginary part first so that the real part ends in `st(0)`.
///
/// ```text
///     cmp byte [rsp+COUNT], 0 ; je done
///     cmp byte [rsp+COUNT], 1 ; je one
///     fld tbyte [rsp+VALUES+16]
/// one: fld tbyte [rsp+VALUES]
/// done:
/// ```
fn load_x87_result(at: &dyn Fn(usize) -> Mem, out: &mut impl FnMut(Inst)) {
    let count = at(x87_frame::COUNT);
    let second = fld_m80(at(x87_frame::VALUES + 16));
    let first = fld_m80(at(x87_frame::VALUES));
    let second_len = second.bytes().len();
    let one_check = cmp_m8i(count, 1).bytes().len() + 2;
    out(cmp_m8i(count, 0));
    out(je_rel8((one_check + second_len + first.bytes().len()) as i8));
    out(cmp_m8i(count, 1));
    out(je_rel8(second_len as i8));
    out(second);
    out(first);
}

/// Helpers shared by the two conventions' plan tests.
#[cfg(test)]
pub(crate) mod test_util {
    use crate::plan::{Extension, Location, Part};
    use crate::types::{Member, Prim, Type};

    pub fn st(fields: &[Type]) -> Type {
        let members: Vec<Member> = fields.iter().cloned().map(Member::Field).collect();
        Type::structure(&members).unwrap()
    }

    pub fn p(prim: Prim) -> Type {
        Type::Prim(prim)
    }

    pub fn part(offset: u32, size: u8, dest: Location) -> Part {
        Part { offset, size, dest, ext: Extension::None, float: false }
    }

    pub fn fpart(offset: u32, size: u8, dest: Location) -> Part {
        Part { float: true, ..part(offset, size, dest) }
    }

    pub fn ext(mut part: Part, ext: Extension) -> Part {
        part.ext = ext;
        part
    }
}
