//! The calling conventions: one module per ISA, each with its conventions' placement
//! rules (a signature to a [`CallPlan`], through the shared [`classify`]) and its emitters
//! (a plan to machine code). Nothing here executes or touches
//! memory protections; every ABI compiles and is tested on every host.

pub mod aarch64;
mod convention;
pub mod x86_64;

pub use convention::{classify, convention, descriptor, Convention, Descriptor, Isa, Placement};

use crate::error::{Error, Limit, Result};
use crate::plan::{ArgPlan, CallPlan, Location, RetPlan};
use crate::signature::{Abi, Signature};
use crate::types::{Prim, Type};

/// Emits a call thunk for `plan`, reading its arguments from `source`; with `errno`, the
/// thunk also handles the callee's `errno` as it says, and is entered with a fourth
/// argument, the address of the thread's [`errno_slot`]. The ISA's emitter reads only the
/// plan and its convention's [`Descriptor`].
///
/// # Errors
/// A plan past the thunk generator's limits (an enormous stack area).
///
/// # Panics
/// [`ArgSource::Pointers`] for a plan that [`pointers_fit`] rejects.
pub fn emit_thunk(
    plan: &CallPlan,
    source: ArgSource,
    errno: Option<&ErrnoAccess>,
    code: &mut CodeBuffer,
) -> Result<()> {
    match descriptor(plan.abi).isa {
        Isa::X86_64 => x86_64::emit_thunk_with(plan, source, errno, code),
        Isa::Aarch64 => aarch64::emit_thunk_with(plan, source, errno, code),
    }
}

/// Emits the tail thunk of `plan` (see [`tail_callable`]) for its ISA.
///
/// # Errors
/// A plan that is not tail-callable.
pub fn emit_tail_thunk(plan: &CallPlan, code: &mut CodeBuffer) -> Result<()> {
    match descriptor(plan.abi).isa {
        Isa::X86_64 => x86_64::emit_tail_thunk(plan, code),
        Isa::Aarch64 => aarch64::emit_tail_thunk(plan, code),
    }
}

/// Emits the callback handler of `abi` and `kind`: the code every trampoline stub of this
/// convention jumps to (see [`trampoline`]).
pub fn emit_callback_handler(abi: Abi, kind: HandlerKind, code: &mut CodeBuffer) {
    let descriptor = descriptor(abi);
    match descriptor.isa {
        Isa::X86_64 => x86_64::emit_callback_handler(descriptor, kind, code),
        Isa::Aarch64 => aarch64::emit_callback_handler(kind, code),
    }
}

/// What a callback handler saves and loads beyond the general registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandlerKind {
    /// Every argument register, and (x86-64) an x87 result when the frame asks for one.
    Full,
    /// No vector argument register and no x87 result: for signatures whose arguments use
    /// neither (their saves would be wasted on every call).
    Integer,
}

impl HandlerKind {
    /// Both kinds: each trampoline page has a handler of each per convention.
    pub const ALL: [HandlerKind; 2] = [HandlerKind::Full, HandlerKind::Integer];

    /// The cheapest kind that serves `plan`: [`HandlerKind::Integer`] unless an argument
    /// comes in a vector register or the result goes on the x87 stack.
    pub fn of(plan: &CallPlan) -> HandlerKind {
        let vector_arg = plan.args.iter().any(|arg| match arg {
            ArgPlan::Direct(parts) => parts.iter().any(|p| matches!(p.dest, Location::Fpr(_))),
            ArgPlan::Indirect { pointer } => matches!(pointer, Location::Fpr(_)),
        });
        if vector_arg || matches!(plan.ret, RetPlan::X87 { .. }) {
            HandlerKind::Full
        } else {
            HandlerKind::Integer
        }
    }
}

/// Emits one trampoline stub for the host's ISA (see [`trampoline`]), whose data slot is
/// `slot_from_stub` bytes from the stub's first byte.
///
/// # Panics
/// A slot out of the ISA's reach from the stub (the page layout keeps slots close).
pub fn emit_host_stub(code: &mut CodeBuffer, slot_from_stub: i64) {
    if cfg!(target_arch = "x86_64") {
        let offset =
            i32::try_from(slot_from_stub).expect("a data slot lies within 2 GiB of its stub");
        x86_64::emit_stub(code, offset);
    } else {
        aarch64::emit_stub(code, slot_from_stub);
    }
}

/// The contract between trampoline code (emitted here) and the dispatcher (in
/// `src/callback.rs`).
///
/// A trampoline page pair is a code page followed by a data page. The code page starts
/// with one handler per convention the ISA has, then holds 16-byte *stubs*; stub `i`
/// finds data slot `i` (at `DATA_SLOT_BYTES * i` into the data page), puts the slot's
/// address in a scratch register (r11 on x86-64, x16 on AArch64), and jumps to the
/// handler whose address is the slot's first word. The handler saves the argument
/// registers into a [`frame`](trampoline::frame) on its stack and calls the dispatcher whose address is the
/// slot's second word, as `dispatch(slot, frame, stack_args)` (System V on x86-64, AAPCS64
/// on AArch64); then it loads the result registers from the frame and returns.
pub mod trampoline {
    /// Bytes of one data slot: handler address, dispatcher address, callback context, spare.
    pub const DATA_SLOT_BYTES: usize = 32;
    /// Offset of the dispatcher's address in a data slot.
    pub const SLOT_DISPATCHER: i32 = 8;
    /// Bytes of one stub.
    pub const STUB_BYTES: usize = 16;
    /// Stubs start here in the code page; the handlers come first (two kinds per
    /// convention). A 4 KiB page still has a stub for each of its data page's 128 slots.
    pub const STUBS_START: usize = 2048;

    /// The register save area a handler builds (all offsets in bytes).
    pub mod frame {
        /// Argument general registers by plan index (x86-64 SysV: rdi, rsi, rdx, rcx, r8,
        /// r9; Win64: rcx, rdx, r8, r9; AAPCS64: x0-x8, x8 being the result address).
        pub const GPRS: usize = 0;
        /// Argument vector registers by index, the low 8 bytes of each.
        pub const FPRS: usize = 72;
        /// Bytes per saved vector register (AArch64 has its own frame: `aarch64::frame`).
        pub const FPR_BYTES: usize = 8;
        /// Result general registers (rax, rdx / x0, x1).
        pub const RET_GPRS: usize = 136;
        /// Result vector registers (xmm0, xmm1 / v0-v3), the low 8 bytes of each.
        pub const RET_FPRS: usize = 152;
        /// The whole area, a multiple of 16.
        pub const SIZE: usize = 192;
    }
}

/// How a thunk handles `errno`. It reaches the C library's `errno` through the address
/// that the thread's slot holds ([`errno_slot::LOCATION`]: what the library's accessor,
/// `__errno_location` on glibc and musl, `__error` on macOS and FreeBSD, `_errno` on
/// Windows, returned on that thread, which stays the same for the thread's life), so the
/// thunk calls nothing but its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrnoAccess {
    /// A Windows host: the thread's last error (`GetLastError()`) is captured too, read
    /// from the TEB.
    pub windows: bool,
    /// Also set `errno` (and the last error) from the slot before the call.
    pub set_before: bool,
}

/// The per-thread slot a capturing thunk writes (all offsets in bytes).
pub mod errno_slot {
    /// `errno` as the callee left it (a C `int`).
    pub const ERRNO: i32 = 0;
    /// Windows: `GetLastError()` as the callee left it (a `DWORD`).
    pub const LAST_ERROR: i32 = 4;
    /// The address of the thread's C `errno` (an `int *`), filled in before the thunk runs.
    pub const LOCATION: i32 = 8;
    /// The slot's size.
    pub const SIZE: usize = 16;
    /// Where Windows keeps the thread's last error: `LastErrorValue` in the TEB, which
    /// `gs` addresses on x86-64 and x18 on ARM64 (what `GetLastError` and `SetLastError`
    /// themselves read and write).
    pub const TEB_LAST_ERROR: u32 = 0x68;
}

/// Where a thunk reads its arguments and writes its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgSource<'a> {
    /// The argument block: each image at its block offset, zero-padded to 16 bytes, and a
    /// return block that result registers are stored into whole.
    Block(&'a BlockLayout),
    /// An array of pointers to each argument's native image, read at exact widths, and the
    /// caller's result memory, written at exact widths: no copies on the way.
    Pointers,
}

/// The blocks an [`ArgSource::Block`] thunk works on, which the call path fills: each
/// argument's image at a 16-byte-aligned offset in the argument block, and a return block
/// that result registers are stored into whole. This is how values are marshalled to the
/// thunk, not ABI data: a [`CallPlan`] does not hold it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlockLayout {
    /// Each argument's offset in the argument block.
    pub offsets: Vec<u32>,
    /// The argument block's size in bytes.
    pub size: u32,
    /// The return block's size: the result image rounded up to 16 bytes, so that whole
    /// registers can be stored into it.
    pub ret_size: u32,
}

impl BlockLayout {
    /// Images rounded up to 16 bytes, so that whole-register loads past the end of a small
    /// value stay inside the block.
    ///
    /// # Errors
    /// Arguments past what a thunk can address (signed 32-bit displacements), or a result
    /// too large for a return block (the conventions refuse any result over
    /// [`MAX_BY_VALUE_BYTES`] before this).
    pub fn new(sig: &Signature) -> Result<BlockLayout> {
        let too_large = || Error::Limit {
            what: Limit::BlockBytes,
            arg: None,
            limit: i32::MAX as u64,
            got: None,
        };
        let mut offsets = Vec::with_capacity(sig.params.len());
        let mut size: u32 = 0;
        for ty in &sig.params {
            offsets.push(size);
            let image = u32::try_from(ty.size())
                .ok()
                .and_then(|s| s.checked_add(15))
                .map(|s| (s & !15).max(16));
            size = image.and_then(|image| size.checked_add(image)).ok_or_else(too_large)?;
        }
        if size > i32::MAX as u32 {
            return Err(too_large());
        }
        let ret_size = u32::try_from(sig.ret.size())
            .ok()
            .and_then(|size| size.checked_add(15))
            .map(|size| size & !15)
            .ok_or(Error::Limit {
                what: Limit::ValueBytes,
                arg: None,
                limit: u64::from(!15u32),
                got: Some(sig.ret.size() as u64),
            })?;
        Ok(BlockLayout { offsets, size, ret_size })
    }
}

/// True when a plan can use [`ArgSource::Pointers`]: every piece is 1, 2, 4 or 8 bytes, or
/// a whole 16-byte vector register (so exact-width loads never read past a value) and no
/// argument is passed by reference (those need a copy the callee may write).
pub fn pointers_fit(plan: &CallPlan) -> bool {
    let exact = |parts: &[crate::plan::Part]| {
        parts.iter().all(|p| {
            matches!(p.size, 1 | 2 | 4 | 8)
                || (p.size == 16 && matches!(p.dest, crate::plan::Location::Fpr(_)))
        })
    };
    let args = plan.args.iter().all(|a| match a {
        crate::plan::ArgPlan::Direct(parts) => exact(parts),
        crate::plan::ArgPlan::Indirect { .. } => false,
    });
    let ret = match &plan.ret {
        crate::plan::RetPlan::Direct(parts) => exact(parts),
        _ => true,
    };
    args && ret
}

/// True when a plan's call can end in a jump to the target, from a *tail thunk* entered
/// with the plan's own convention (`emit_tail_thunk`): every argument goes whole in
/// registers (nothing on the stack, nothing by reference, pieces of 1, 2, 4 or 8 bytes),
/// and the result comes back in registers of up to 8 bytes, or through the hidden result
/// pointer (which the thunk is given), or there is none; not on the x87 stack. The target
/// then returns straight to the thunk's caller.
pub fn tail_callable(plan: &CallPlan) -> bool {
    use crate::plan::{ArgPlan, Location, RetPlan};
    let in_registers = |parts: &[crate::plan::Part]| {
        parts.iter().all(|p| {
            matches!(p.size, 1 | 2 | 4 | 8)
                && matches!(p.dest, Location::ArgGpr(_) | Location::Fpr(_))
        })
    };
    let args = plan.args.iter().all(|a| match a {
        ArgPlan::Direct(parts) => in_registers(parts),
        ArgPlan::Indirect { .. } => false,
    });
    let ret = match &plan.ret {
        RetPlan::Void | RetPlan::Indirect { pointer: Location::ArgGpr(_) } => true,
        RetPlan::Direct(parts) => parts
            .iter()
            .all(|p| matches!(p.dest, Location::RetGpr(_) | Location::Fpr(_)) && p.size <= 8),
        RetPlan::Indirect { .. } | RetPlan::X87 { .. } => false,
    };
    args && ret && plan.stack_bytes == 0
}

/// [`tail_callable`] as an error.
///
/// # Errors
/// A plan that is not tail-callable, saying why.
pub fn check_tail_callable(plan: &CallPlan) -> Result<()> {
    if tail_callable(plan) {
        return Ok(());
    }
    Err(Error::Unsupported {
        arg: None,
        message: "this signature cannot be called by a tail thunk, which only loads \
                  registers of up to 8 bytes and jumps: it passes an argument on the stack, by \
                  reference or in a 16-byte register, or returns its result in a 16-byte \
                  register (call it through RawCall::call instead)"
            .into(),
    })
}

/// The largest outgoing stack area a thunk builds. Past it, the plan is refused rather
/// than risking the thread's stack.
pub const MAX_STACK_BYTES: u32 = 64 * 1024;

/// What every thunk generator checks first.
///
/// # Errors
/// Stack arguments past [`MAX_STACK_BYTES`].
///
/// # Panics
/// [`ArgSource::Pointers`] for a plan that [`pointers_fit`] rejects (the caller checks).
pub fn check_emittable(plan: &CallPlan, source: ArgSource) -> Result<()> {
    assert!(
        source != ArgSource::Pointers || pointers_fit(plan),
        "this plan needs the argument block"
    );
    if plan.stack_bytes > MAX_STACK_BYTES {
        return Err(Error::Limit {
            what: Limit::StackBytes,
            arg: None,
            limit: MAX_STACK_BYTES.into(),
            got: Some(plan.stack_bytes.into()),
        });
    }
    Ok(())
}

/// The largest argument or result a signature may pass by value: 1 MiB. C callers copy
/// such values onto their stack (1 MiB in all on a Windows thread by default), so larger
/// ones cannot work in C either; past it a signature is refused with an error rather
/// than a call that would exhaust the stack or memory.
pub const MAX_BY_VALUE_BYTES: usize = 1 << 20;

/// Checks what no convention can pass, and that the call path can marshal the arguments.
///
/// # Errors
/// A void parameter ("unexpected void parameter", as Janet says), an array passed or
/// returned directly (C has no such thing: arrays decay to pointers), a zero-size struct,
/// a value over [`MAX_BY_VALUE_BYTES`], or arguments too large to address.
pub fn check_signature(sig: &Signature) -> Result<()> {
    check_variadic(sig)?;
    for (i, ty) in sig.params.iter().enumerate() {
        if ty.is_void() {
            return Err(Error::unsupported(
                Some(i),
                format!("unexpected void parameter (argument {i})"),
            ));
        }
        check_by_value(ty, Some(i))?;
    }
    if !sig.ret.is_void() {
        check_by_value(&sig.ret, None)?;
    }
    BlockLayout::new(sig).map(drop)
}

/// Checks the variadic part of a signature: C's default argument promotions are never
/// applied silently, so a variadic `:float`, `:bool` or integer narrower than `:int` is an
/// error that names the promoted type (as Panama and libffi 3.4 refuse them).
///
/// # Errors
/// A non-promoted variadic type, or more fixed parameters than arguments.
pub fn check_variadic(sig: &Signature) -> Result<()> {
    let Some(fixed) = sig.fixed else {
        return Ok(());
    };
    if fixed > sig.params.len() {
        return Err(Error::unsupported(
            None,
            format!(
                "the signature has {fixed} fixed parameters but only {} arguments",
                sig.params.len()
            ),
        ));
    }
    for (i, ty) in sig.params.iter().enumerate().skip(fixed) {
        if let Some(promoted) = ty.prim().and_then(promoted_type) {
            return Err(Error::unsupported(
                Some(i),
                format!(
                    "variadic argument {i} has type {ty}, which C promotes to :{promoted}: \
                     pass it as :{promoted}"
                ),
            ));
        }
    }
    Ok(())
}

/// The type C's default argument promotions turn a primitive into, when it is not
/// already promoted.
fn promoted_type(p: Prim) -> Option<&'static str> {
    match p {
        Prim::F32 => Some("double"),
        Prim::Bool | Prim::I8 | Prim::U8 | Prim::I16 | Prim::U16 => Some("int"),
        _ => None,
    }
}

/// `argument N` for an argument, `the return type` for `None`.
fn which(arg: Option<usize>) -> String {
    arg.map_or_else(|| "the return type".to_string(), |i| format!("argument {i}"))
}

fn check_by_value(ty: &Type, arg: Option<usize>) -> Result<()> {
    match ty {
        Type::Array(_) => Err(Error::unsupported(
            arg,
            format!(
                "{} is an array type {ty}: C passes arrays as pointers (use :ptr) or inside a struct",
                which(arg)
            ),
        )),
        Type::Struct(_) | Type::Union(_) if ty.size() == 0 => Err(Error::unsupported(
            arg,
            format!("{} is a zero-size struct {ty}, which C cannot pass by value", which(arg)),
        )),
        Type::Struct(_) | Type::Union(_) if ty.size() > MAX_BY_VALUE_BYTES => Err(Error::Limit {
            what: Limit::ValueBytes,
            arg,
            limit: MAX_BY_VALUE_BYTES as u64,
            got: Some(ty.size() as u64),
        }),
        _ => Ok(()),
    }
}

/// `stack + bytes`, or an error when a stack area that large cannot be addressed.
///
/// # Errors
/// A sum past `u32::MAX`.
pub(crate) fn stack_add(stack: u32, bytes: usize) -> Result<u32> {
    u32::try_from(bytes)
        .ok()
        .and_then(|b| stack.checked_add(b))
        .ok_or_else(Error::stack_unaddressable)
}

/// Bytes of machine code being assembled.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CodeBuffer {
    bytes: Vec<u8>,
}

impl CodeBuffer {
    pub fn new() -> CodeBuffer {
        CodeBuffer::default()
    }

    pub fn put(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
    }

    pub fn put4(&mut self, word: u32) {
        self.bytes.extend_from_slice(&word.to_le_bytes());
    }

    /// Where the next byte goes.
    pub fn offset(&self) -> usize {
        self.bytes.len()
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Member, Prim, Type, Wide};

    fn kind(abi: Abi, ret: Type, params: Vec<Type>) -> HandlerKind {
        HandlerKind::of(&classify(&Signature::new(abi, ret, params)).unwrap())
    }

    #[test]
    fn only_signatures_without_vector_arguments_or_x87_results_get_the_integer_handler() {
        let (int, double) = (Type::Prim(Prim::I32), Type::Prim(Prim::F64));
        let mixed = Type::structure(&[
            Member::Field(Type::Prim(Prim::F64)),
            Member::Field(Type::Prim(Prim::I32)),
        ])
        .unwrap();
        for abi in [Abi::SysV64, Abi::Win64, Abi::Aapcs64] {
            assert_eq!(
                kind(abi, int.clone(), vec![int.clone(), int.clone()]),
                HandlerKind::Integer
            );
            // A vector result is loaded by every handler: only arguments decide.
            assert_eq!(kind(abi, double.clone(), vec![int.clone()]), HandlerKind::Integer);
            assert_eq!(
                kind(abi, int.clone(), vec![int.clone(), double.clone()]),
                HandlerKind::Full
            );
        }
        // System V passes {double, int} in xmm0 and a general register.
        assert_eq!(kind(Abi::SysV64, int.clone(), vec![mixed]), HandlerKind::Full);
        // An x87 result.
        assert_eq!(kind(Abi::SysV64, Type::Wide(Wide::LongDouble), vec![]), HandlerKind::Full);
    }
}
