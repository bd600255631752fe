//! The dispatchers: every trampoline's handler saves the argument registers and calls
//! its slot's dispatcher (`dispatch_native` or `dispatch_values`), which reads each argument back out of registers and stack by the same
//! [`CallPlan`] that a call of that signature would use, calls the closure, and writes the
//! result registers.
//!
//! [`CallPlan`]: crate::plan::CallPlan

use std::cell::Cell;
use std::mem::MaybeUninit;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::AtomicUsize;

#[cfg(target_arch = "aarch64")]
use crate::arch::aarch64::frame;
#[cfg(not(target_arch = "aarch64"))]
use crate::arch::trampoline::frame;
use crate::arch::x86_64::x87_frame;
use crate::error::{Error, Path, Result};
use crate::plan::{ArgPlan, Location, RetPlan};
use crate::types::Type;
use crate::value::{self, Value};

use super::closure::{Closure, ClosureBody, NativeArg, NativeRet, Place};
use super::errors::raise;
use super::pool::{permanent_closure, InFlight, SlotWords};

/// Defines the dispatchers a slot can name (System V on every x86-64 OS, as the handlers
/// expect): one per kind of closure, counted or permanent, so that a call goes straight to
/// its closure's code.
macro_rules! dispatchers {
    ($abi:literal) => {
        /// Called by the handlers of native callbacks' slots (`PERMANENT`: callbacks that
        /// are never dropped, whose calls are not counted).
        pub(super) unsafe extern $abi fn dispatch_native<const PERMANENT: bool>(
            slot: *const AtomicUsize,
            frame: *mut u8,
            stack: *const u8,
        ) {
            // SAFETY: forwarded: the handler passes its slot, frame and the caller's stack.
            unsafe { dispatch_body::<PERMANENT>(slot, frame, stack, run_native) }
        }

        /// Called by the handlers of callbacks over values (`PERMANENT` as above).
        pub(super) unsafe extern $abi fn dispatch_values<const PERMANENT: bool>(
            slot: *const AtomicUsize,
            frame: *mut u8,
            stack: *const u8,
        ) {
            // SAFETY: forwarded: the handler passes its slot, frame and the caller's stack.
            unsafe { dispatch_body::<PERMANENT>(slot, frame, stack, run_values) }
        }
    };
}

#[cfg(target_arch = "x86_64")]
dispatchers!("sysv64");
#[cfg(not(target_arch = "x86_64"))]
dispatchers!("C");

/// How a dispatcher runs its kind of closure (`run_native` or `run_values`).
type Runner = unsafe fn(&Closure, &mut [u8], *const u8) -> Result<()>;

/// Finds the slot's closure and runs it with `runner`; a stale call (the callback was
/// dropped) runs nothing and raises an error. With `PERMANENT`, the slot holds a permanent
/// callback, whose closure is never freed, so the call is not counted.
///
/// # Safety
/// `slot` is a trampoline data slot, `frame` the handler's save area (`arch::trampoline::
/// frame`), `stack` the caller's first stack argument; the C caller passed arguments of
/// the callback's signature; `runner` is the one for the slot's kind of closure, and
/// `PERMANENT` holds when the slot's callback is permanent.
#[inline(always)]
unsafe fn dispatch_body<const PERMANENT: bool>(
    slot: *const AtomicUsize,
    frame: *mut u8,
    stack: *const u8,
    runner: Runner,
) {
    // SAFETY: the handler passes the address of its slot's words, which live as long as
    // the process (page pairs are never freed).
    let words = unsafe { &*slot.cast::<SlotWords>() };
    // SAFETY: the save area is `frame::SIZE` bytes of the handler's stack frame. Its
    // result area (not written by the handler) is initialized here before any read.
    unsafe { frame.add(frame::RET_GPRS).write_bytes(0, frame::SIZE - frame::RET_GPRS) };
    // SAFETY: as above. The handler wrote the argument registers the signature uses; the
    // bytes it did not write (padding, an `Integer` handler's vector slots) are stack
    // memory that foreign code (the handler's `sub`, earlier frames) left there, which
    // holds bytes like any memory outside Rust's own, and which no plan of this signature
    // reads.
    let frame = unsafe { std::slice::from_raw_parts_mut(frame, frame::SIZE) };
    if PERMANENT {
        // SAFETY: only a permanent callback's slot calls a permanent dispatcher.
        let Some(closure) = (unsafe { permanent_closure(words) }) else {
            raise(Error::Callback("a callback was called after it was dropped".into()));
            return;
        };
        // SAFETY: forwarded from the caller.
        return unsafe { run(closure, frame, stack, runner) };
    }
    let call = InFlight::enter(words);
    let Some(closure) = call.closure() else {
        raise(Error::Callback("a callback was called after it was dropped".into()));
        return;
    };
    // SAFETY: forwarded from the caller.
    unsafe { run(closure, frame, stack, runner) }
}

/// Runs the closure; on an error or a panic, raises it and gives the C caller a zero
/// result.
///
/// # Safety
/// As [`dispatch_body`]; `frame` is the whole save area, its results zeroed.
#[inline(always)]
unsafe fn run(closure: &Closure, frame: &mut [u8], stack: *const u8, runner: Runner) {
    // Nothing may unwind out of here into the foreign caller.
    // SAFETY: forwarded from the caller.
    match catch_unwind(AssertUnwindSafe(|| unsafe { runner(closure, frame, stack) })) {
        Ok(Ok(())) => {}
        Ok(Err(error)) => fail(closure, frame, error),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            // A payload whose own drop panics must not unwind into C either.
            let _ = catch_unwind(AssertUnwindSafe(|| drop(panic)));
            fail(closure, frame, Error::Callback(format!("callback panicked: {message}")))
        }
    }
}

/// Raises a failed callback's error and gives its C caller a zero result.
#[cold]
#[inline(never)]
fn fail(closure: &Closure, frame: &mut [u8], error: Error) {
    raise(error);
    frame[frame::RET_GPRS..].fill(0);
    zero_x87_result(closure, frame);
    if let RetPlan::Indirect { pointer } = closure.plan.ret {
        let at = location_addr(pointer, frame, std::ptr::null());
        // SAFETY: the caller passed its result memory's address in this register.
        let dest = unsafe { (at as *const *mut u8).read_unaligned() };
        // SAFETY: that memory holds a whole value of the result type.
        unsafe { std::ptr::write_bytes(dest, 0, closure.sig.ret.size()) };
        frame[frame::RET_GPRS..frame::RET_GPRS + 8].copy_from_slice(&(dest as u64).to_le_bytes());
    }
}

/// Runs a callback over values: decodes the arguments, calls the closure, encodes its
/// result.
///
/// # Safety
/// As [`dispatch_body`].
unsafe fn run_values(closure: &Closure, frame: &mut [u8], stack: *const u8) -> Result<()> {
    let ClosureBody::Values(func) = &closure.body else {
        unreachable!("a slot of a callback over values names this runner")
    };
    // The argument list is reused across calls on this thread (a nested callback finds it
    // taken and makes its own; so does one on an exiting thread, whose storage is gone).
    let mut args = ARGS.try_with(Cell::take).unwrap_or_default();
    // SAFETY: forwarded from the caller.
    unsafe { read_args(closure, frame, stack, &mut args) };
    let result = func(&args);
    args.clear();
    // Fails only on an exiting thread: the list is then dropped.
    let _ = ARGS.try_with(|a| a.set(args));
    // SAFETY: forwarded from the caller (for a memory result's address).
    unsafe { write_result(closure, frame, &result?) }
}

thread_local! {
    static ARGS: Cell<Vec<Value>> = const { Cell::new(Vec::new()) };
}

/// Bytes for a value's image: on the stack when it is small.
enum Image {
    Inline([u64; 8]),
    Heap(Vec<u8>),
}

impl Image {
    fn zeroed(size: usize) -> Image {
        if size <= 64 {
            Image::Inline([0; 8])
        } else {
            Image::Heap(vec![0; size])
        }
    }

    fn bytes(&mut self, size: usize) -> &mut [u8] {
        match self {
            // SAFETY: 64 initialized bytes; `size` <= 64 for the inline form.
            Image::Inline(words) => unsafe {
                std::slice::from_raw_parts_mut(words.as_mut_ptr().cast(), size)
            },
            Image::Heap(v) => &mut v[..size],
        }
    }
}

/// The address where a location's bytes were saved.
fn location_addr(loc: Location, frame: &mut [u8], stack: *const u8) -> *const u8 {
    match loc {
        Location::ArgGpr(n) => frame[frame::GPRS + 8 * n as usize..].as_ptr(),
        Location::Fpr(n) => frame[frame::FPRS + frame::FPR_BYTES * n as usize..].as_ptr(),
        Location::Stack(offset) => stack.wrapping_add(offset as usize),
        Location::RetGpr(_) => unreachable!("no argument goes to a result register"),
    }
}

/// # Safety
/// As [`dispatch_body`].
unsafe fn read_args(closure: &Closure, frame: &mut [u8], stack: *const u8, args: &mut Vec<Value>) {
    for (ty, plan) in closure.sig.params.iter().zip(&closure.plan.args) {
        let value = match (ty, plan) {
            // A primitive in one piece: decode it where it was saved.
            (Type::Prim(p), ArgPlan::Direct(parts)) if parts.len() == 1 => {
                let src = location_addr(parts[0].dest, frame, stack);
                // SAFETY: a saved register has 8 bytes, a stack slot at least the size.
                let bytes = unsafe { std::slice::from_raw_parts(src, p.size()) };
                // SAFETY: a `:string` argument is a C string by the signature's contract.
                unsafe { value::decode_prim_bits(*p, read_le(bytes)) }
            }
            _ => {
                let mut image = Image::zeroed(ty.size());
                let image = image.bytes(ty.size());
                match plan {
                    ArgPlan::Direct(parts) => {
                        for part in parts {
                            let src = location_addr(part.dest, frame, stack);
                            let dest = &mut image[part.offset as usize..][..part.size as usize];
                            // SAFETY: registers were saved in the frame (8 bytes each,
                            // `frame::FPR_BYTES` for vector registers: a piece's size);
                            // stack pieces lie in the caller's argument area, as the plan
                            // places them.
                            unsafe {
                                std::ptr::copy_nonoverlapping(src, dest.as_mut_ptr(), dest.len())
                            };
                        }
                    }
                    ArgPlan::Indirect { pointer } => {
                        let at = location_addr(*pointer, frame, stack);
                        // SAFETY: the caller passed the address of its copy here.
                        let copy = unsafe { (at as *const *const u8).read_unaligned() };
                        // SAFETY: that copy holds a whole value of this type.
                        unsafe {
                            std::ptr::copy_nonoverlapping(copy, image.as_mut_ptr(), image.len())
                        };
                    }
                }
                // SAFETY: a `:string` argument is a C string by the signature's contract.
                unsafe { value::decode_following_pointers(ty, image) }
            }
        };
        args.push(value);
    }
}

/// Converts the closure's result into the result registers or the caller's memory.
///
/// # Errors
/// A result that does not convert to the result type.
///
/// # Safety
/// As [`dispatch_body`].
unsafe fn write_result(closure: &Closure, frame: &mut [u8], result: &Value) -> Result<()> {
    let ret = &closure.sig.ret;
    let mismatch =
        |e: Error| Error::Callback(format!("the callback's result does not convert: {e}"));
    let path = Path::default();
    if let (Type::Prim(p), RetPlan::Direct(parts)) = (ret, &closure.plan.ret) {
        // A primitive in one register: its bits, extended to the whole register.
        let bits = value::encode_prim_bits(*p, result, &path).map_err(mismatch)?;
        let mask = if p.size() >= 8 { u64::MAX } else { (1u64 << (8 * p.size())) - 1 };
        let bits = extend(ret, bits & mask);
        let at = match parts[0].dest {
            Location::Fpr(n) => frame::RET_FPRS + frame::FPR_BYTES * n as usize,
            Location::RetGpr(n) => frame::RET_GPRS + 8 * n as usize,
            Location::Stack(_) => return Ok(()),
            Location::ArgGpr(_) => unreachable!("no result comes back in an argument register"),
        };
        frame[at..at + 8].copy_from_slice(&bits.to_le_bytes());
        return Ok(());
    }
    if ret.is_void() {
        return value::encode(ret, result, &mut [], &Path::default()).map_err(mismatch);
    }
    let mut image = Image::zeroed(ret.size().next_multiple_of(8));
    let image = image.bytes(ret.size().next_multiple_of(8));
    value::encode(ret, result, &mut image[..ret.size()], &Path::default()).map_err(mismatch)?;
    // SAFETY: forwarded from the caller.
    unsafe { store_result_image(closure, frame, image) };
    Ok(())
}

/// Puts a result's native image (rounded up to 8 bytes) where the caller expects it: into
/// the result registers, extended, or into the caller's result memory.
///
/// # Safety
/// As [`dispatch_body`].
unsafe fn store_result_image(closure: &Closure, frame: &mut [u8], image: &[u8]) {
    let ret = &closure.sig.ret;
    match &closure.plan.ret {
        RetPlan::Void => {}
        RetPlan::Direct(parts) => {
            for part in parts {
                let piece = &image[part.offset as usize..][..part.size as usize];
                let at = match part.dest {
                    Location::RetGpr(n) => frame::RET_GPRS + 8 * n as usize,
                    Location::Fpr(n) => frame::RET_FPRS + frame::FPR_BYTES * n as usize,
                    Location::Stack(_) => continue,
                    Location::ArgGpr(_) => {
                        unreachable!("no result comes back in an argument register")
                    }
                };
                if piece.len() > 8 {
                    // A whole vector register (AArch64's `long double`, a Win64 `__int128` in
                    // xmm0): its bytes as they are.
                    frame[at..at + piece.len()].copy_from_slice(piece);
                    continue;
                }
                let bits = extend(ret, read_le(piece));
                frame[at..at + 8].copy_from_slice(&bits.to_le_bytes());
            }
        }
        RetPlan::Indirect { pointer } => {
            let at = location_addr(*pointer, frame, std::ptr::null());
            // SAFETY: the caller passed the result address in this register.
            let dest = unsafe { (at as *const *mut u8).read_unaligned() };
            // SAFETY: the caller's result memory holds a whole value of the result type.
            unsafe { std::ptr::copy_nonoverlapping(image.as_ptr(), dest, ret.size()) };
            // The x86-64 conventions also return the address in rax.
            frame[frame::RET_GPRS..frame::RET_GPRS + 8]
                .copy_from_slice(&(dest as u64).to_le_bytes());
        }
        RetPlan::X87 { count } => {
            let values = &image[..16 * usize::from(*count)];
            frame[x87_frame::VALUES..][..values.len()].copy_from_slice(values);
            frame[x87_frame::COUNT] = *count;
        }
    }
}

/// A zero result for a callback that failed: a caller of an x87 result still expects its
/// values on the x87 stack (an empty stack would be popped into garbage and unbalance it).
fn zero_x87_result(closure: &Closure, frame: &mut [u8]) {
    if let RetPlan::X87 { count } = closure.plan.ret {
        frame[x87_frame::VALUES..][..16 * usize::from(count)].fill(0);
        frame[x87_frame::COUNT] = count;
    }
}

/// The little-endian number in 1 to 8 bytes, read at their exact width where one exists
/// (a wider read of a narrower store would stall the CPU's store forwarding).
fn read_le(bytes: &[u8]) -> u64 {
    match *bytes {
        [a] => a.into(),
        [a, b] => u16::from_le_bytes([a, b]).into(),
        [a, b, c, d] => u32::from_le_bytes([a, b, c, d]).into(),
        [a, b, c, d, e, f, g, h] => u64::from_le_bytes([a, b, c, d, e, f, g, h]),
        _ => {
            let mut word = [0u8; 8];
            word[..bytes.len()].copy_from_slice(bytes);
            u64::from_le_bytes(word)
        }
    }
}

/// Runs a native callback: each argument is passed as a pointer to its image, in place
/// where the caller left it whole (a register's save slot, a stack slot, the caller's copy
/// of a by-reference aggregate), else assembled from its pieces in a local buffer. The
/// places were worked out with the callback's shape: a call only adds offsets.
///
/// # Safety
/// As [`dispatch_body`].
#[inline(always)]
unsafe fn run_native(closure: &Closure, frame: &mut [u8], stack: *const u8) -> Result<()> {
    /// Arguments and gathered words that fit on this frame (more go to the heap).
    const INLINE: usize = 16;
    if closure.native_args.len() > INLINE || closure.gathered_words > INLINE {
        // SAFETY: forwarded from the caller.
        return unsafe { run_native_large(closure, frame, stack) };
    }
    // Neither list is zeroed first: each pointer is written before the list is read, and
    // only the gathered words in use are zeroed (most signatures gather nothing).
    let mut ptrs = [MaybeUninit::<*const u8>::uninit(); INLINE];
    let mut words = [MaybeUninit::<u64>::uninit(); INLINE];
    let words = &mut words[..closure.gathered_words];
    words.fill(MaybeUninit::new(0));
    // SAFETY: every word of this prefix was just initialized.
    let words = unsafe { &mut *(words as *mut [MaybeUninit<u64>] as *mut [u64]) };
    let ptrs = &mut ptrs[..closure.native_args.len()];
    // SAFETY: forwarded from the caller.
    let ptrs = unsafe { place_args(closure, frame, stack, ptrs, words) };
    // SAFETY: forwarded from the caller.
    unsafe { call_native(closure, frame, ptrs) }
}

/// [`run_native`] for a signature whose lists do not fit on the frame.
///
/// # Safety
/// As [`dispatch_body`].
#[inline(never)]
unsafe fn run_native_large(closure: &Closure, frame: &mut [u8], stack: *const u8) -> Result<()> {
    let mut ptrs = vec![MaybeUninit::uninit(); closure.native_args.len()];
    let mut words = vec![0; closure.gathered_words];
    // SAFETY: forwarded from the caller.
    let ptrs = unsafe { place_args(closure, frame, stack, &mut ptrs, &mut words) };
    // SAFETY: forwarded from the caller.
    unsafe { call_native(closure, frame, ptrs) }
}

/// Points `ptrs` (one per argument) at the arguments' images, gathering split ones into
/// `words` (`closure.gathered_words` zeroed words); returns the list, now initialized.
///
/// # Safety
/// As [`dispatch_body`].
#[inline(always)]
unsafe fn place_args<'a>(
    closure: &Closure,
    frame: &mut [u8],
    stack: *const u8,
    ptrs: &'a mut [MaybeUninit<*const u8>],
    words: &mut [u64],
) -> &'a [*const u8] {
    let base = frame.as_mut_ptr().cast_const();
    let at = |place: Place| match place {
        // In bounds: the shape's frame offsets are those of the handler's save area.
        Place::Frame(offset) => base.wrapping_add(offset),
        Place::Stack(offset) => stack.wrapping_add(offset),
    };
    for (ptr, (i, place)) in ptrs.iter_mut().zip(closure.native_args.iter().enumerate()) {
        *ptr = MaybeUninit::new(match *place {
            NativeArg::InPlace(place) => at(place),
            // SAFETY: the caller passed the address of its copy in this location.
            NativeArg::Indirect(place) => unsafe {
                (at(place) as *const *const u8).read_unaligned()
            },
            NativeArg::Gathered(word) => {
                let ArgPlan::Direct(parts) = &closure.plan.args[i] else {
                    unreachable!("only directly passed arguments are gathered")
                };
                let image = words[word..].as_mut_ptr().cast::<u8>();
                for part in parts {
                    let src = at(super::closure::place(part.dest));
                    // SAFETY: the piece lies in the caller's registers or stack as the plan
                    // says, and within this image's words of the buffer.
                    unsafe {
                        std::ptr::copy_nonoverlapping(
                            src,
                            image.add(part.offset as usize),
                            part.size as usize,
                        )
                    };
                }
                image.cast_const()
            }
        });
    }
    assert_eq!(ptrs.len(), closure.native_args.len(), "one pointer per argument");
    // SAFETY: the loop wrote each pointer (one per argument, as many as the list has).
    unsafe { &*(ptrs as *const [MaybeUninit<*const u8>] as *const [*const u8]) }
}

/// Calls a native callback's closure with its arguments' images and puts its result where
/// the C caller expects it.
///
/// # Safety
/// As [`dispatch_body`]; `ptrs` point to the arguments' images.
#[inline(always)]
unsafe fn call_native(closure: &Closure, frame: &mut [u8], ptrs: &[*const u8]) -> Result<()> {
    let ClosureBody::Native(func) = &closure.body else {
        unreachable!("a native callback's slot names this runner")
    };
    match closure.native_ret {
        NativeRet::Register { at, signed } => {
            // The slot's 8 bytes were zeroed on entry: a narrower image leaves the rest 0.
            let slot = &mut frame[at..at + 8];
            func(ptrs, slot.as_mut_ptr())?;
            if signed > 0 {
                // Read back at the width the closure wrote (see `read_le`).
                let bits = extend_signed(read_le(&slot[..signed]), signed);
                slot.copy_from_slice(&bits.to_le_bytes());
            }
        }
        NativeRet::Memory => {
            let RetPlan::Indirect { pointer } = closure.plan.ret else {
                unreachable!("a result in memory has a hidden pointer")
            };
            // The closure writes straight into the caller's result memory.
            let at = location_addr(pointer, frame, std::ptr::null());
            // SAFETY: the caller passed its result memory's address in this register.
            let dest = unsafe { (at as *const *mut u8).read_unaligned() };
            func(ptrs, dest)?;
            frame[frame::RET_GPRS..frame::RET_GPRS + 8]
                .copy_from_slice(&(dest as u64).to_le_bytes());
        }
        NativeRet::Image => {
            let size = closure.sig.ret.size().next_multiple_of(8);
            let mut image = Image::zeroed(size);
            let image = image.bytes(size);
            func(ptrs, image.as_mut_ptr())?;
            // SAFETY: forwarded from the caller.
            unsafe { store_result_image(closure, frame, image) };
        }
    }
    Ok(())
}

/// The `size`-byte signed integer in the low bits of `bits`, sign-extended to 64 bits.
fn extend_signed(bits: u64, size: usize) -> u64 {
    let shift = 64 - 8 * size as u32;
    (((bits << shift) as i64) >> shift) as u64
}

/// A narrow signed result sign-extended to the whole register (unsigned ones are already
/// zero-extended).
fn extend(ty: &Type, bits: u64) -> u64 {
    match ty.prim() {
        Some(p) if p.is_signed() && p.size() < 8 => extend_signed(bits, p.size()),
        _ => bits,
    }
}
