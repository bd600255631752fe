//! C-callable closures, and Janet's fixed `(ctx, userdata)` trampoline.
//!
//! Trampolines live in page pairs: a code page, made executable once and never written
//! again, and a data page that stays writable and is never executable (the contract is in
//! `arch::trampoline`). Each code page holds one handler per convention of this ISA and
//! many 16-byte stubs; stub `i` reads data slot `i`. Creating a [`Callback`] fills a free
//! data slot (handler, dispatcher, context) and writes no code; dropping it frees the
//! slot for reuse.
//!
//! The handler saves the argument registers and calls [`dispatch`], which reads each
//! argument back out of registers and stack by the same [`CallPlan`] that a call of that
//! signature would use, calls the closure, and writes the result registers.
//!
//! Errors and panics never unwind into foreign frames: the callback returns a zero
//! result to its C caller and keeps the error; the `call` that is running on this thread
//! returns it once the foreign function returns. With no such call (a thread that C
//! started), the error is printed on stderr.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crate::arch::trampoline::{frame, DATA_SLOT_BYTES, STUBS_START, STUB_BYTES};
use crate::arch::{self, CodeBuffer};
use crate::error::{Error, Path, Result};
use crate::plan::{ArgPlan, CallPlan, Location, RetPlan};
use crate::signature::{Abi, Signature};
use crate::types::Type;
use crate::value::{self, Pointer, Value};

/// What a callback runs: dynamic values in, a dynamic value out.
pub type CallbackFn = dyn Fn(&[Value]) -> Result<Value> + Send + Sync;

/// What a native callback runs: `args[i]` points to argument i's native image (as C lays
/// it out, valid for the duration of the call), and the result's image is written to the
/// second pointer (room for the result type's size; nothing for void).
pub type NativeCallbackFn = dyn Fn(&[*const u8], *mut u8) -> Result<()> + Send + Sync;

/// A callback's closure, over values or over native images.
enum Func {
    Values(Box<CallbackFn>),
    Native(Box<NativeCallbackFn>),
}

// ---------------------------------------------------------------------------------------
// errors raised inside callbacks

thread_local! {
    /// How many jitcall calls are running on this thread (a callback's error goes to the
    /// innermost one).
    static CALL_DEPTH: Cell<usize> = const { Cell::new(0) };
    /// Whether `PENDING` holds an error: the one thing every call checks.
    static HAS_PENDING: Cell<bool> = const { Cell::new(false) };
    /// The first error a callback raised, with the call depth it was raised at.
    static PENDING: RefCell<Option<(usize, Error)>> = const { RefCell::new(None) };
}

/// Set once the process has a callback: until then no call can see a callback's error,
/// and calls skip the bookkeeping.
static CALLBACKS_EXIST: AtomicBool = AtomicBool::new(false);

/// Marks a foreign call as running on this thread, for as long as it lives.
pub(crate) struct CallGuard {
    /// 0 when no callback existed as the call began.
    depth: usize,
}

impl CallGuard {
    #[inline]
    pub(crate) fn enter() -> CallGuard {
        if !CALLBACKS_EXIST.load(Ordering::Acquire) {
            return CallGuard { depth: 0 };
        }
        let depth = CALL_DEPTH.with(|d| d.get() + 1);
        CALL_DEPTH.with(|d| d.set(depth));
        CallGuard { depth }
    }

    /// The error a callback raised during this call (or a call nested in it), if any.
    #[inline]
    pub(crate) fn finish(self) -> Result<()> {
        if self.depth == 0 || !HAS_PENDING.with(Cell::get) {
            return Ok(());
        }
        PENDING.with(|p| {
            let mut pending = p.borrow_mut();
            match pending.take() {
                Some((depth, error)) if depth >= self.depth => {
                    HAS_PENDING.with(|h| h.set(false));
                    Err(error)
                }
                other => {
                    *pending = other; // an outer call's error: it waits for that call
                    Ok(())
                }
            }
        })
    }
}

impl Drop for CallGuard {
    #[inline]
    fn drop(&mut self) {
        if self.depth > 0 {
            CALL_DEPTH.with(|d| d.set(self.depth - 1));
        }
    }
}

fn raise(error: Error) {
    let depth = CALL_DEPTH.with(Cell::get);
    if depth == 0 {
        eprintln!("jitcall: error in a callback called outside any jitcall call: {error}");
        return;
    }
    PENDING.with(|p| {
        let mut pending = p.borrow_mut();
        if pending.is_none() {
            *pending = Some((depth, error));
            HAS_PENDING.with(|h| h.set(true));
        }
    });
}

// ---------------------------------------------------------------------------------------
// trampoline pages

/// One code page (executable) and one data page (writable) right after it.
struct PagePair {
    alloc: region::Allocation,
    page: usize,
    /// Handler addresses by convention.
    handlers: Vec<(Abi, usize)>,
    slots: usize,
}

// SAFETY: a `PagePair` is an address range. Its code page is written once, before it is
// made executable and before any other thread can see it; its data page is written only
// through atomic word stores in `Slot::fill` / `Slot::clear`.
unsafe impl Send for PagePair {}
// SAFETY: as above.
unsafe impl Sync for PagePair {}

impl PagePair {
    fn new() -> Result<PagePair> {
        let page = region::page::size();
        let os = |op| move |e: region::Error| Error::Os { op, source: std::io::Error::other(e) };
        let alloc = region::alloc(2 * page, region::Protection::READ_WRITE)
            .map_err(os("allocating trampoline pages"))?;
        let base = alloc.as_ptr::<u8>() as usize;

        let mut code = CodeBuffer::new();
        let mut handlers = Vec::new();
        for abi in Abi::ALL.into_iter().filter(|a| a.runs_on_host()) {
            handlers.push((abi, base + code.offset()));
            arch::for_abi(abi).emit_callback_handler(&mut code)?;
            while code.offset() % 16 != 0 {
                code.put(&[0]);
            }
        }
        if code.offset() > STUBS_START {
            return Err(Error::Abi("callback handlers do not fit before the stubs".into()));
        }
        code.put(&vec![0; STUBS_START - code.offset()]);
        let slots = ((page - STUBS_START) / STUB_BYTES).min(page / DATA_SLOT_BYTES);
        for i in 0..slots {
            let stub = STUBS_START + i * STUB_BYTES;
            let slot = page + i * DATA_SLOT_BYTES;
            emit_stub(&mut code, slot as i64 - stub as i64)?;
        }
        // SAFETY: the code fits the first page (STUBS_START + slots * STUB_BYTES <= page),
        // which is read+write and not yet visible to anyone else.
        unsafe {
            std::ptr::copy_nonoverlapping(code.bytes().as_ptr(), base as *mut u8, code.offset())
        };
        // SAFETY: the first page is this allocation's and holds finished code; nothing
        // writes it from now on.
        unsafe { region::protect(base as *const u8, page, region::Protection::READ_EXECUTE) }
            .map_err(os("making trampoline code executable"))?;
        crate::memory::flush_instruction_cache(base, page);
        Ok(PagePair { alloc, page, handlers, slots })
    }

    fn base(&self) -> usize {
        self.alloc.as_ptr::<u8>() as usize
    }

    fn stub(&self, i: usize) -> usize {
        self.base() + STUBS_START + i * STUB_BYTES
    }

    /// The three words of data slot `i`: handler, dispatcher, context.
    fn slot_words(&self, i: usize) -> &[AtomicUsize; 3] {
        let addr = self.base() + self.page + i * DATA_SLOT_BYTES;
        // SAFETY: the slot lies in the data page (i < slots <= page / DATA_SLOT_BYTES),
        // which stays mapped read+write while `self` lives; it is 8-aligned; and it is only
        // ever accessed through these atomics (the handler's loads happen after the
        // pointer to the stub was published).
        unsafe { &*(addr as *const [AtomicUsize; 3]) }
    }
}

cfg_if::cfg_if! {
    if #[cfg(target_arch = "x86_64")] {
        fn emit_stub(code: &mut CodeBuffer, slot_from_stub: i64) -> Result<()> {
            let offset = i32::try_from(slot_from_stub)
                .map_err(|_| Error::Abi("trampoline data slot out of range".into()))?;
            arch::x86_64::emit_stub(code, offset);
            Ok(())
        }
    } else {
        fn emit_stub(code: &mut CodeBuffer, slot_from_stub: i64) -> Result<()> {
            arch::aarch64::emit_stub(code, slot_from_stub)
        }
    }
}

/// All trampoline pages and the free slots among them.
struct Pool {
    pages: Vec<&'static PagePair>,
    free: Vec<(usize, usize)>,
}

static POOL: Mutex<Pool> = Mutex::new(Pool { pages: Vec::new(), free: Vec::new() });

fn pool() -> std::sync::MutexGuard<'static, Pool> {
    POOL.lock().unwrap_or_else(|p| p.into_inner())
}

/// How many trampoline page pairs exist (each holds many slots, reused after drops).
pub fn trampoline_pages() -> usize {
    pool().pages.len()
}

/// A claimed data slot and its stub.
struct Slot {
    page: &'static PagePair,
    page_index: usize,
    index: usize,
}

impl Slot {
    fn claim() -> Result<Slot> {
        let mut pool = pool();
        if pool.free.is_empty() {
            // Page pairs are kept for the life of the process: slots are reused instead.
            let page: &'static PagePair = Box::leak(Box::new(PagePair::new()?));
            let page_index = pool.pages.len();
            pool.pages.push(page);
            pool.free.extend((0..page.slots).rev().map(|i| (page_index, i)));
        }
        let (page_index, index) = pool.free.pop().expect("a page was just added");
        Ok(Slot { page: pool.pages[page_index], page_index, index })
    }

    fn fill(&self, handler: usize, context: usize) {
        let words = self.page.slot_words(self.index);
        words[0].store(handler, Ordering::Release);
        words[1].store(dispatch as *const () as usize, Ordering::Release);
        words[2].store(context, Ordering::Release);
    }

    fn clear(&self) {
        self.page.slot_words(self.index)[2].store(0, Ordering::Release);
    }

    fn code_ptr(&self) -> Pointer {
        Pointer::from_addr(self.page.stub(self.index))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.clear();
        pool().free.push((self.page_index, self.index));
    }
}

// ---------------------------------------------------------------------------------------
// callbacks

/// A C function pointer that runs a Rust closure: valid while this value lives.
pub struct Callback {
    // Dropped first: the slot is cleared before the context it points to is freed.
    slot: Slot,
    context: Arc<Context>,
}

struct Context {
    sig: Signature,
    plan: CallPlan,
    func: Func,
    /// For native callbacks: where each argument's image is found, decided once.
    native_args: Vec<NativeArg>,
    /// Words of local buffer the split arguments are gathered into.
    gathered_words: usize,
}

/// Where a native callback finds a directly passed argument's image.
#[derive(Clone, Copy)]
enum NativeArg {
    /// Whole in one place: a register's save slot or a stack slot.
    InPlace,
    /// Split over several places: gathered into the local buffer from this word on.
    Gathered(usize),
}

impl NativeArg {
    /// Each argument's placement, and the buffer words the split ones need.
    fn layout(sig: &Signature, plan: &CallPlan) -> (Vec<NativeArg>, usize) {
        let mut words = 0;
        let args = sig
            .params
            .iter()
            .zip(&plan.args)
            .map(|(ty, arg)| match arg {
                ArgPlan::Direct(parts) => match parts.as_slice() {
                    [whole] if whole.size as usize == ty.size() => NativeArg::InPlace,
                    _ => {
                        let at = words;
                        words += ty.size().div_ceil(8);
                        NativeArg::Gathered(at)
                    }
                },
                ArgPlan::Indirect { .. } => NativeArg::InPlace,
            })
            .collect();
        (args, words)
    }
}

impl Callback {
    /// A C-callable function with signature `sig` that runs `func`. No code is written:
    /// a free trampoline slot is pointed at the closure.
    ///
    /// # Errors
    /// A convention this host cannot run, a signature it cannot express, or no memory.
    pub fn new(
        sig: Signature,
        func: impl Fn(&[Value]) -> Result<Value> + Send + Sync + 'static,
    ) -> Result<Callback> {
        Callback::with_func(sig, Func::Values(Box::new(func)))
    }

    /// A C-callable function with signature `sig` that runs `func` over native images
    /// (see [`NativeCallbackFn`]): no values are made, so this is the fast form for
    /// callers that hold native data. No code is written.
    ///
    /// # Errors
    /// As [`Callback::new`].
    pub fn new_native(
        sig: Signature,
        func: impl Fn(&[*const u8], *mut u8) -> Result<()> + Send + Sync + 'static,
    ) -> Result<Callback> {
        Callback::with_func(sig, Func::Native(Box::new(func)))
    }

    fn with_func(sig: Signature, func: Func) -> Result<Callback> {
        crate::signature::check_callback(&sig)?;
        if !sig.abi.runs_on_host() {
            return Err(Error::Abi(format!(
                "calling convention {} cannot run on this host",
                sig.abi
            )));
        }
        let plan = arch::for_abi(sig.abi).classify(&sig)?;
        let (native_args, gathered_words) = match func {
            Func::Native(_) => NativeArg::layout(&sig, &plan),
            Func::Values(_) => (Vec::new(), 0),
        };
        let context = Arc::new(Context { sig, plan, func, native_args, gathered_words });
        let slot = Slot::claim()?;
        // From now on, calls keep track of errors raised in callbacks. (A call already
        // running cannot reach this callback: its pointer did not exist when it began.)
        CALLBACKS_EXIST.store(true, Ordering::Release);
        let handler = slot
            .page
            .handlers
            .iter()
            .find(|(abi, _)| *abi == context.sig.abi)
            .map(|&(_, addr)| addr)
            .ok_or_else(|| Error::Abi(format!("no callback handler for {}", context.sig.abi)))?;
        slot.fill(handler, Arc::as_ptr(&context) as usize);
        Ok(Callback { slot, context })
    }

    /// The address C code calls. It is valid while this `Callback` lives; calling it after
    /// the drop runs no closure (or, once the slot is reused, another callback).
    pub fn code_ptr(&self) -> Pointer {
        self.slot.code_ptr()
    }

    pub fn signature(&self) -> &Signature {
        &self.context.sig
    }
}

impl fmt::Debug for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Callback({:?} at {:?})", self.context.sig, self.code_ptr())
    }
}

cfg_if::cfg_if! {
    if #[cfg(target_arch = "x86_64")] {
        /// Called by every handler (System V on every x86-64 OS, as the handlers expect).
        unsafe extern "sysv64" fn dispatch(slot: *const AtomicUsize, frame: *mut u8, stack: *const u8) {
            // SAFETY: forwarded: the handler passes its slot, frame and the caller's stack.
            unsafe { dispatch_body(slot, frame, stack) }
        }
    } else {
        /// Called by every handler.
        unsafe extern "C" fn dispatch(slot: *const AtomicUsize, frame: *mut u8, stack: *const u8) {
            // SAFETY: forwarded: the handler passes its slot, frame and the caller's stack.
            unsafe { dispatch_body(slot, frame, stack) }
        }
    }
}

/// # Safety
/// `slot` is a trampoline data slot, `frame` the handler's save area (`arch::trampoline::
/// frame`), `stack` the caller's first stack argument; the C caller passed arguments of
/// the callback's signature.
unsafe fn dispatch_body(slot: *const AtomicUsize, frame: *mut u8, stack: *const u8) {
    // SAFETY: the handler passes the address of its slot's words.
    let context = unsafe { &*slot.add(2) }.load(Ordering::Acquire) as *const Context;
    // SAFETY: the save area is `frame::SIZE` bytes of the handler's stack frame.
    let frame = unsafe { std::slice::from_raw_parts_mut(frame, frame::SIZE) };
    frame[frame::RET_GPRS..].fill(0);
    if context.is_null() {
        eprintln!("jitcall: a callback was called after it was dropped");
        return;
    }
    // SAFETY: a filled slot points to the context of a live `Callback` (cleared before
    // the context is freed).
    let context = unsafe { &*context };
    // Nothing may unwind out of here into the foreign caller.
    let outcome = match &context.func {
        Func::Values(func) => {
            // The argument list is reused across calls on this thread (a nested callback
            // finds it taken and makes its own).
            let mut args = ARGS.take();
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                // SAFETY: forwarded from the caller.
                unsafe { read_args(context, frame, stack, &mut args) };
                let result = func(&args)?;
                // SAFETY: forwarded from the caller (for a memory result's address).
                unsafe { write_result(context, frame, &result) }
            }));
            args.clear();
            ARGS.set(args);
            outcome
        }
        Func::Native(func) => catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: forwarded from the caller.
            unsafe { run_native(context, func, frame, stack) }
        })),
    };
    let error = match outcome {
        Ok(Ok(())) => return,
        Ok(Err(e)) => e,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            Error::Callback(format!("callback panicked: {message}"))
        }
    };
    raise(error);
    // The C caller gets a zero result.
    frame[frame::RET_GPRS..].fill(0);
    if let RetPlan::Indirect { pointer } = context.plan.ret {
        let at = location_addr(pointer, frame, std::ptr::null());
        // SAFETY: the caller passed its result memory's address in this register.
        let dest = unsafe { (at as *const *mut u8).read_unaligned() };
        // SAFETY: that memory holds a whole value of the result type.
        unsafe { std::ptr::write_bytes(dest, 0, context.sig.ret.size()) };
        frame[frame::RET_GPRS..frame::RET_GPRS + 8].copy_from_slice(&(dest as u64).to_le_bytes());
    }
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
        Location::Gpr(n) => frame[frame::GPRS + 8 * n as usize..].as_ptr(),
        Location::Fpr(n) => frame[frame::FPRS + 8 * n as usize..].as_ptr(),
        Location::Stack(offset) => stack.wrapping_add(offset as usize),
    }
}

/// # Safety
/// As [`dispatch_body`].
unsafe fn read_args(context: &Context, frame: &mut [u8], stack: *const u8, args: &mut Vec<Value>) {
    for (ty, plan) in context.sig.params.iter().zip(&context.plan.args) {
        let value = match (ty, plan) {
            // A primitive in one piece: decode it where it was saved.
            (Type::Prim(p), ArgPlan::Direct(parts)) if parts.len() == 1 => {
                let src = location_addr(parts[0].dest, frame, stack);
                let mut bits = [0u8; 8];
                // SAFETY: a saved register has 8 bytes, a stack slot at least the size.
                unsafe { std::ptr::copy_nonoverlapping(src, bits.as_mut_ptr(), p.size()) };
                // SAFETY: a `:string` argument is a C string by the signature's contract.
                unsafe { value::decode_prim_bits(*p, u64::from_le_bytes(bits)) }
            }
            _ => {
                let mut image = Image::zeroed(ty.size());
                let image = image.bytes(ty.size());
                match plan {
                    ArgPlan::Direct(parts) => {
                        for part in parts {
                            let src = location_addr(part.dest, frame, stack);
                            let dest = &mut image[part.offset as usize..][..part.size as usize];
                            // SAFETY: registers were saved in the frame (8 bytes each);
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
unsafe fn write_result(context: &Context, frame: &mut [u8], result: &Value) -> Result<()> {
    let ret = &context.sig.ret;
    let mismatch =
        |e: Error| Error::Callback(format!("the callback's result does not convert: {e}"));
    let path = Path::default();
    if let (Type::Prim(p), RetPlan::Direct(parts)) = (ret, &context.plan.ret) {
        // A primitive in one register: its bits, extended to the whole register.
        let bits = value::encode_prim_bits(*p, result, &path).map_err(mismatch)?;
        let mask = if p.size() >= 8 { u64::MAX } else { (1u64 << (8 * p.size())) - 1 };
        let bits = extend(ret, bits & mask);
        let at = match parts[0].dest {
            Location::Fpr(n) => frame::RET_FPRS + 8 * n as usize,
            Location::Gpr(n) => frame::RET_GPRS + 8 * n as usize,
            Location::Stack(_) => return Ok(()),
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
    unsafe { store_result_image(context, frame, image) };
    Ok(())
}

/// Puts a result's native image (rounded up to 8 bytes) where the caller expects it: into
/// the result registers, extended, or into the caller's result memory.
///
/// # Safety
/// As [`dispatch_body`].
unsafe fn store_result_image(context: &Context, frame: &mut [u8], image: &[u8]) {
    let ret = &context.sig.ret;
    match &context.plan.ret {
        RetPlan::Void => {}
        RetPlan::Direct(parts) => {
            for part in parts {
                let piece = &image[part.offset as usize..][..part.size as usize];
                let bits = extend(ret, read_le(piece));
                let at = match part.dest {
                    Location::Gpr(n) => frame::RET_GPRS + 8 * n as usize,
                    Location::Fpr(n) => frame::RET_FPRS + 8 * n as usize,
                    Location::Stack(_) => continue,
                };
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
/// of a by-reference aggregate), else assembled from its pieces in a local buffer.
///
/// # Safety
/// As [`dispatch_body`].
unsafe fn run_native(
    context: &Context,
    func: &NativeCallbackFn,
    frame: &mut [u8],
    stack: *const u8,
) -> Result<()> {
    const INLINE_ARGS: usize = 16;
    let count = context.native_args.len();
    // Pieces of split aggregates are gathered here; 8-byte slots keep every image aligned.
    let mut inline_words = [0u64; 16];
    let mut heap_words = Vec::new();
    let words: &mut [u64] = if context.gathered_words <= inline_words.len() {
        &mut inline_words[..context.gathered_words]
    } else {
        heap_words.resize(context.gathered_words, 0);
        &mut heap_words
    };
    let mut inline_ptrs = [std::ptr::null::<u8>(); INLINE_ARGS];
    let mut heap_ptrs = Vec::new();
    let ptrs: &mut [*const u8] = if count <= INLINE_ARGS {
        &mut inline_ptrs[..count]
    } else {
        heap_ptrs.resize(count, std::ptr::null());
        &mut heap_ptrs
    };
    for (i, (arg, place)) in context.plan.args.iter().zip(&context.native_args).enumerate() {
        ptrs[i] = match (arg, *place) {
            (ArgPlan::Indirect { pointer }, _) => {
                let at = location_addr(*pointer, frame, stack);
                // SAFETY: the caller passed the address of its copy in this location.
                unsafe { (at as *const *const u8).read_unaligned() }
            }
            (ArgPlan::Direct(parts), NativeArg::InPlace) => match parts.as_slice() {
                [whole] => location_addr(whole.dest, frame, stack),
                _ => std::ptr::null(),
            },
            (ArgPlan::Direct(parts), NativeArg::Gathered(word)) => {
                let base = words[word..].as_mut_ptr().cast::<u8>();
                for part in parts {
                    let src = location_addr(part.dest, frame, stack);
                    // SAFETY: the piece lies in the caller's registers or stack as the plan
                    // says, and within this image's words of the buffer.
                    unsafe {
                        std::ptr::copy_nonoverlapping(
                            src,
                            base.add(part.offset as usize),
                            part.size as usize,
                        )
                    };
                }
                base.cast_const()
            }
        };
    }
    let ret = &context.sig.ret;
    if let RetPlan::Indirect { pointer } = context.plan.ret {
        // The closure writes straight into the caller's result memory.
        let at = location_addr(pointer, frame, std::ptr::null());
        // SAFETY: the caller passed its result memory's address in this register.
        let dest = unsafe { (at as *const *mut u8).read_unaligned() };
        func(ptrs, dest)?;
        frame[frame::RET_GPRS..frame::RET_GPRS + 8].copy_from_slice(&(dest as u64).to_le_bytes());
        return Ok(());
    }
    let mut image = Image::zeroed(ret.size().next_multiple_of(8));
    let image = image.bytes(ret.size().next_multiple_of(8));
    func(ptrs, image.as_mut_ptr())?;
    // SAFETY: forwarded from the caller.
    unsafe { store_result_image(context, frame, image) };
    Ok(())
}

/// A narrow signed result sign-extended to the whole register (unsigned ones are already
/// zero-extended).
fn extend(ty: &Type, bits: u64) -> u64 {
    match ty.prim() {
        Some(p) if p.is_signed() && p.size() < 8 => {
            let shift = 64 - 8 * p.size() as u32;
            (((bits << shift) as i64) >> shift) as u64
        }
        _ => bits,
    }
}

// ---------------------------------------------------------------------------------------
// functions as values, and Janet's trampoline

/// A callable value: a closure that a runtime hands to native code as userdata (Janet's
/// `ffi/trampoline` pattern). As a `:ptr` it converts to an address that stays valid
/// while the `Function` or any clone of it lives; unlike Janet, nothing is rooted
/// forever.
#[derive(Clone)]
pub struct Function(Arc<FunctionInner>);

struct FunctionInner {
    func: Box<CallbackFn>,
}

/// Live functions by address, so that a trampoline can tell a live one from a stale one.
fn registry() -> std::sync::MutexGuard<'static, HashMap<usize, Weak<FunctionInner>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<usize, Weak<FunctionInner>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner())
}

impl Function {
    pub fn new(func: impl Fn(&[Value]) -> Result<Value> + Send + Sync + 'static) -> Function {
        let inner = Arc::new(FunctionInner { func: Box::new(func) });
        registry().insert(Arc::as_ptr(&inner) as usize, Arc::downgrade(&inner));
        Function(inner)
    }

    /// Calls the function.
    ///
    /// # Errors
    /// Whatever the function returns.
    pub fn call(&self, args: &[Value]) -> Result<Value> {
        (self.0.func)(args)
    }

    /// The address native code receives for this function as a `:ptr`.
    pub fn userdata(&self) -> Pointer {
        Pointer::from_ptr(Arc::as_ptr(&self.0))
    }

    /// The live function at a userdata address, if there is one.
    pub fn from_userdata(ptr: Pointer) -> Option<Function> {
        registry().get(&ptr.addr()).and_then(Weak::upgrade).map(Function)
    }

    pub fn same_as(&self, other: &Function) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Drop for FunctionInner {
    fn drop(&mut self) {
        registry().remove(&(self as *const FunctionInner as usize));
    }
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<function {:#x}>", self.userdata().addr())
    }
}

/// `ffi/trampoline`: the address of a C function `void f(void *ctx, void *userdata)` in
/// the convention `abi`. When C calls it, `userdata` must be the `:ptr` of a live
/// [`Function`] (a `Value::Function` argument), which is called with `ctx` as a pointer
/// (NULL as `<pointer 0x0>`, as Janet does). NULL or stale userdata prints a message on
/// stderr and returns.
///
/// # Errors
/// A convention this host cannot run.
pub fn trampoline(abi: Abi) -> Result<Pointer> {
    static TRAMPOLINES: OnceLock<Mutex<HashMap<Abi, Callback>>> = OnceLock::new();
    let mut made =
        TRAMPOLINES.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    if let Some(found) = made.get(&abi) {
        return Ok(found.code_ptr());
    }
    let ptr = Type::Prim(crate::types::Prim::Ptr);
    let sig = Signature::new(abi, Type::VOID, vec![ptr.clone(), ptr]);
    let callback = Callback::new(sig, |args| {
        let as_pointer = |v: &Value| match v {
            Value::Pointer(p) => *p,
            _ => Pointer::NULL,
        };
        let (ctx, userdata) = (as_pointer(&args[0]), as_pointer(&args[1]));
        if userdata.is_null() {
            eprint!("no userdata found for janet callback");
            return Ok(Value::Nil);
        }
        match Function::from_userdata(userdata) {
            Some(f) => f.call(&[Value::Pointer(ctx)]).map(|_| Value::Nil),
            None => {
                eprintln!("jitcall: trampoline userdata {userdata:?} is not a live function");
                Ok(Value::Nil)
            }
        }
    })?;
    let code = callback.code_ptr();
    made.insert(abi, callback);
    Ok(code)
}
