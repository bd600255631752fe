//! C-callable closures, and Janet's fixed `(ctx, userdata)` trampoline.
//!
//! Trampolines live in page pairs: a code page, made executable once and never written
//! again, and a data page that stays writable and is never executable (the contract is in
//! `arch::trampoline`). Each code page holds one handler per convention of this ISA and
//! many 16-byte stubs; stub `i` reads data slot `i`. Creating a [`Callback`] fills a free
//! data slot (handler, dispatcher, context, state) and writes no code; dropping it frees
//! the slot for reuse.
//!
//! Lifetime: each call is counted on its slot while it runs, so a `Callback` dropped during
//! a call (by its own closure, or on another thread) is freed by the last call out. A call
//! through a dropped callback's pointer finds its slot free: it returns zero and reports
//! an error. Freed slots are reused first in, first out, and only after [`REUSE_DELAY`]
//! others, so a stale pointer is caught until then; a reused slot's pointer is the new
//! callback's (the stub is the same code), which no trampoline can tell apart.
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
use std::collections::{HashMap, VecDeque};
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

// Everything here may run on a thread that is exiting, from a pthread key destructor after
// Rust's thread-locals were destroyed: `CALL_DEPTH` and `HAS_PENDING` need no destructor
// (so they are always accessible), and `PENDING` is only reached through `try_with`.
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
        let taken = PENDING.try_with(|p| {
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
        });
        // Gone only while the thread exits: `raise` printed the error then.
        taken.unwrap_or(Ok(()))
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

/// Hands a callback's error to the innermost running call, or prints it when there is
/// none (or the thread's storage for it is already destroyed). Never panics.
fn raise(error: Error) {
    let depth = CALL_DEPTH.with(Cell::get);
    let mut error = Some(error);
    if depth > 0 {
        // Fails only on an exiting thread; the error is then printed below.
        let _ = PENDING.try_with(|p| {
            let mut pending = p.borrow_mut();
            let error = error.take();
            if pending.is_none() {
                *pending = error.map(|e| (depth, e));
                HAS_PENDING.with(|h| h.set(true));
            }
        });
    }
    match error {
        Some(error) if depth > 0 => report(&format!(
            "error in a callback on an exiting thread (the running call cannot return it): {error}"
        )),
        Some(error) => {
            report(&format!("error in a callback called outside any jitcall call: {error}"))
        }
        None => {}
    }
}

/// A message on stderr. `eprintln!` panics when stderr fails: that panic is dropped here,
/// since nothing may unwind into a callback's C caller.
fn report(message: &str) {
    let _ = catch_unwind(|| eprintln!("jitcall: {message}"));
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
// made executable and before any other thread can see it; its data page is accessed only
// through the atomic words of `SlotWords`.
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

    /// The words of data slot `i` (see [`SlotWords`]).
    fn slot_words(&self, i: usize) -> &SlotWords {
        let addr = self.base() + self.page + i * DATA_SLOT_BYTES;
        // SAFETY: the slot lies in the data page (i < slots <= page / DATA_SLOT_BYTES, and
        // a slot has room for the words: see `SlotWords`), which stays mapped read+write
        // while `self` lives; it is 8-aligned; and it is only ever accessed through these
        // atomics (the handler's plain loads of the first two read words that are only
        // written before the slot is made live).
        unsafe { &*(addr as *const SlotWords) }
    }

    /// The slot whose words are at `addr`, if they are in this page pair.
    fn slot_at(&'static self, addr: usize) -> Option<Slot> {
        let data = self.base() + self.page;
        let index = addr.checked_sub(data)? / DATA_SLOT_BYTES;
        (index < self.slots && addr == data + index * DATA_SLOT_BYTES)
            .then_some(Slot { page: self, index })
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

/// How many freed slots wait before the oldest is handed out again. A C pointer to a
/// dropped callback is its slot's stub, the same for every callback the slot ever holds
/// (stubs are code, never rewritten), so a stale call is detected exactly while the slot is
/// not reused: always until at least this many other callbacks were dropped after it.
pub const REUSE_DELAY: usize = 1024;

/// All trampoline pages and the free slots among them.
struct Pool {
    pages: Vec<&'static PagePair>,
    /// Slots of the newest page never handed out (a stale pointer cannot name them).
    fresh: Vec<Slot>,
    /// Freed slots, oldest first: reused first in, first out, after [`REUSE_DELAY`].
    freed: VecDeque<Slot>,
}

static POOL: Mutex<Pool> =
    Mutex::new(Pool { pages: Vec::new(), fresh: Vec::new(), freed: VecDeque::new() });

fn pool() -> std::sync::MutexGuard<'static, Pool> {
    POOL.lock().unwrap_or_else(|p| p.into_inner())
}

/// How many trampoline page pairs exist (each holds many slots, reused after drops).
pub fn trampoline_pages() -> usize {
    pool().pages.len()
}

/// A data slot's words: the handler's address (read by the stub), the dispatcher's (read
/// by the handler), the context (a strong count of an `Arc<Context>`, owned by the slot
/// while it is live or dying), and the [`state`] word.
type SlotWords = [AtomicUsize; 4];
const HANDLER: usize = 0;
const DISPATCHER: usize = 1;
const CONTEXT: usize = 2;
const STATE: usize = 3;
const _: () = assert!(
    DATA_SLOT_BYTES >= std::mem::size_of::<SlotWords>()
        && crate::arch::trampoline::SLOT_DISPATCHER as usize == 8 * DISPATCHER
        && usize::BITS == 64
);

/// A slot's state word: `generation << 32 | phase << 28 | calls`.
///
/// `calls` counts the calls inside the dispatcher for this slot (stale ones too); the
/// phase is FREE (no callback: a call is stale), LIVE (its `Callback` exists) or DYING (its
/// `Callback` was dropped while calls ran: the last one out frees the context). The
/// generation counts the slot's callbacks, so that a thread that saw one callback's state
/// can never mistake a later one's for it (no ABA on the word; it would take 2^32 reuses of
/// the slot while one thread sits between two instructions of `InFlight::drop`). Every
/// change is a read-modify-write, so each value continues the release sequence of every
/// earlier one. 2^28 calls at once on one slot (each a stack frame) cannot happen.
mod state {
    pub const CALL: usize = 1;
    pub const CALLS: usize = (1 << 28) - 1;
    pub const PHASE: usize = 3 << 28;
    pub const FREE: usize = 0;
    pub const LIVE: usize = 1 << 28;
    pub const DYING: usize = 2 << 28;
    pub const GENERATION: usize = 1 << 32;

    pub fn phase(word: usize) -> usize {
        word & PHASE
    }

    pub fn calls(word: usize) -> usize {
        word & CALLS
    }

    /// The same generation and calls, in another phase.
    pub fn with_phase(word: usize, phase: usize) -> usize {
        (word & !PHASE) | phase
    }
}

/// A data slot and its stub.
#[derive(Clone, Copy)]
struct Slot {
    page: &'static PagePair,
    index: usize,
}

impl Slot {
    /// A slot for a new callback: a freed one once enough wait, else one never used.
    fn claim() -> Result<Slot> {
        let mut pool = pool();
        if pool.freed.len() > REUSE_DELAY {
            if let Some(slot) = pool.freed.pop_front() {
                return Ok(slot);
            }
        }
        if pool.fresh.is_empty() {
            // Page pairs are kept for the life of the process: slots are reused instead.
            let page: &'static PagePair = Box::leak(Box::new(PagePair::new()?));
            pool.pages.push(page);
            pool.fresh.extend((0..page.slots).rev().map(|index| Slot { page, index }));
        }
        pool.fresh.pop().ok_or_else(|| Error::Abi("a trampoline page without slots".into()))
    }

    fn words(&self) -> &'static SlotWords {
        self.page.slot_words(self.index)
    }

    /// Makes the (free) slot run `context` through `handler`; the slot keeps that count
    /// of the context until [`release`].
    fn publish(&self, handler: usize, context: Arc<Context>) {
        let words = self.words();
        words[HANDLER].store(handler, Ordering::Relaxed);
        words[DISPATCHER].store(dispatch as *const () as usize, Ordering::Relaxed);
        words[CONTEXT].store(Arc::into_raw(context) as usize, Ordering::Relaxed);
        // Release: a call that sees LIVE (Acquire, in `InFlight::enter`) sees the words
        // above and the context's contents. Calls may be counted already: stale ones that
        // entered while the slot was free, and will leave without looking at the context.
        let _ = words[STATE].fetch_update(Ordering::Release, Ordering::Relaxed, |word| {
            let next = word.wrapping_add(state::GENERATION);
            Some(state::with_phase(next, state::LIVE))
        });
    }

    /// The slot's callback was dropped: the slot is freed now when no call runs, else by
    /// the last call out (see [`InFlight`]).
    fn retire(&self) {
        let words = self.words();
        let retired = words[STATE].fetch_update(Ordering::AcqRel, Ordering::Relaxed, |word| {
            let phase = if state::calls(word) == 0 { state::FREE } else { state::DYING };
            Some(state::with_phase(word, phase))
        });
        if let Ok(word) = retired {
            if state::calls(word) == 0 {
                // AcqRel: this thread now follows every call that left (their Release
                // decrements precede this value), so none still uses the context.
                release(words);
            }
        }
    }

    fn code_ptr(&self) -> Pointer {
        Pointer::from_addr(self.page.stub(self.index))
    }
}

/// Frees a slot that just became FREE (the caller made that change, so it runs once per
/// callback): drops the slot's count of the context and queues the slot for reuse.
fn release(words: &SlotWords) {
    // Nobody else reads this word now: calls that find the slot FREE leave it alone, and it
    // is written again only after the slot is queued below.
    let context = words[CONTEXT].swap(0, Ordering::Relaxed) as *const Context;
    {
        let mut pool = pool();
        let addr = words as *const SlotWords as usize;
        if let Some(slot) = pool.pages.iter().find_map(|page| page.slot_at(addr)) {
            pool.freed.push_back(slot);
        }
    }
    if !context.is_null() {
        // SAFETY: `publish` stored a count from `Arc::into_raw`, released once here (the
        // phase change to FREE happens once per publish); no call uses the context any
        // more (see `retire` and `InFlight::drop` for the ordering).
        drop(unsafe { Arc::from_raw(context) });
    }
}

/// One call inside the dispatcher, counted on its slot from entry to exit: a live slot's
/// context is not freed while any call is inside.
struct InFlight<'a> {
    words: &'a SlotWords,
    /// The callback's context, or `None` for a stale call (the slot is free or dying).
    context: Option<&'a Context>,
}

impl<'a> InFlight<'a> {
    #[inline]
    fn enter(words: &'a SlotWords) -> InFlight<'a> {
        // Acquire: pairs with `publish`'s Release, so a LIVE word comes with its context.
        let word = words[STATE].fetch_add(state::CALL, Ordering::Acquire);
        let context = (state::phase(word) == state::LIVE).then(|| {
            // SAFETY: the slot was LIVE when this call was counted, so the context word is
            // the one `publish` wrote for this generation: it changes only after the slot
            // goes FREE, which needs this call's count gone. The slot's count of the
            // context keeps it alive until then (it is released only at FREE), and the
            // reference lives no longer than `self`.
            unsafe { &*(words[CONTEXT].load(Ordering::Relaxed) as *const Context) }
        });
        InFlight { words, context }
    }

    fn context(&self) -> Option<&Context> {
        self.context
    }
}

impl Drop for InFlight<'_> {
    #[inline]
    fn drop(&mut self) {
        // Release: this call's uses of the context happen before whoever frees it.
        let word = self.words[STATE].fetch_sub(state::CALL, Ordering::Release);
        if state::phase(word) != state::DYING || state::calls(word) != 1 {
            return;
        }
        // The last call out of a dropped callback frees it, unless a stale call entered
        // meanwhile (it does this when it leaves). The generation in the word makes sure
        // that it is this callback's DYING, not a later one's. Acquire: as in `retire`.
        let last = word - state::CALL;
        let free = state::with_phase(last, state::FREE);
        if self.words[STATE]
            .compare_exchange(last, free, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            // Freeing drops the closure: its captures' destructors may panic.
            if catch_unwind(AssertUnwindSafe(|| release(self.words))).is_err() {
                report("a callback's closure panicked while being dropped");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// callbacks

/// A C function pointer that runs a Rust closure: valid while this value lives.
pub struct Callback {
    slot: Slot,
    /// The `Callback`'s own count (the slot holds another while live or dying).
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
        if matches!(func, Func::Values(_)) {
            // The closure gets its arguments as values and gives its result as one: refuse
            // now what could not be read when C calls (arrays of countless empty parts).
            for ty in sig.params.iter().chain([&sig.ret]) {
                value::check_decodable(ty)?;
            }
        }
        let (native_args, gathered_words) = match func {
            Func::Native(_) => NativeArg::layout(&sig, &plan),
            Func::Values(_) => (Vec::new(), 0),
        };
        let context = Arc::new(Context { sig, plan, func, native_args, gathered_words });
        let slot = Slot::claim()?;
        // From now on, calls keep track of errors raised in callbacks. (A call already
        // running cannot reach this callback: its pointer did not exist when it began.)
        CALLBACKS_EXIST.store(true, Ordering::Release);
        let Some(&(_, handler)) =
            slot.page.handlers.iter().find(|(abi, _)| *abi == context.sig.abi)
        else {
            pool().freed.push_back(slot);
            return Err(Error::Abi(format!("no callback handler for {}", context.sig.abi)));
        };
        slot.publish(handler, context.clone());
        Ok(Callback { slot, context })
    }

    /// The address C code calls. It is valid while this `Callback` lives.
    ///
    /// A `Callback` dropped while calls run (by its own closure, or on another thread)
    /// stays alive until the last of them returns. Calling the address after the drop
    /// runs no closure: the C caller gets a zero result (nothing is written to memory a
    /// large result would go to) and the error "a callback was called after it was
    /// dropped" goes to the running `call`, or to stderr. This holds until the slot is
    /// reused, which is after at least [`REUSE_DELAY`] more callbacks were dropped; after
    /// that the address is another callback's and a stale call is that callback's call
    /// (undetectable: the address is all C passes, and code is never rewritten).
    pub fn code_ptr(&self) -> Pointer {
        self.slot.code_ptr()
    }

    pub fn signature(&self) -> &Signature {
        &self.context.sig
    }
}

impl Drop for Callback {
    fn drop(&mut self) {
        self.slot.retire();
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
    // SAFETY: the handler passes the address of its slot's words, which live as long as
    // the process (page pairs are never freed).
    let words = unsafe { &*slot.cast::<SlotWords>() };
    // SAFETY: the save area is `frame::SIZE` bytes of the handler's stack frame.
    let frame = unsafe { std::slice::from_raw_parts_mut(frame, frame::SIZE) };
    frame[frame::RET_GPRS..].fill(0);
    let call = InFlight::enter(words);
    let Some(context) = call.context() else {
        raise(Error::Callback("a callback was called after it was dropped".into()));
        return;
    };
    // Nothing may unwind out of here into the foreign caller.
    let outcome = catch_unwind(AssertUnwindSafe(|| match &context.func {
        // SAFETY: forwarded from the caller.
        Func::Values(func) => unsafe { run_values(context, func, frame, stack) },
        // SAFETY: forwarded from the caller.
        Func::Native(func) => unsafe { run_native(context, func, frame, stack) },
    }));
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

/// Runs a callback over values: decodes the arguments, calls the closure, encodes its
/// result.
///
/// # Safety
/// As [`dispatch_body`].
unsafe fn run_values(
    context: &Context,
    func: &CallbackFn,
    frame: &mut [u8],
    stack: *const u8,
) -> Result<()> {
    // The argument list is reused across calls on this thread (a nested callback finds it
    // taken and makes its own; so does one on an exiting thread, whose storage is gone).
    let mut args = ARGS.try_with(Cell::take).unwrap_or_default();
    // SAFETY: forwarded from the caller.
    unsafe { read_args(context, frame, stack, &mut args) };
    let result = func(&args);
    args.clear();
    // Fails only on an exiting thread: the list is then dropped.
    let _ = ARGS.try_with(|a| a.set(args));
    // SAFETY: forwarded from the caller (for a memory result's address).
    unsafe { write_result(context, frame, &result?) }
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
/// `ffi/trampoline` pattern). As a `:ptr` it converts to a handle that finds it while the
/// `Function` or any clone of it lives; unlike Janet, nothing is rooted forever.
#[derive(Clone)]
pub struct Function(Arc<FunctionInner>);

struct FunctionInner {
    /// The userdata handle: unique for the life of the process, never reused (so stale
    /// userdata never finds a later function, as a reused address would).
    handle: usize,
    func: Box<CallbackFn>,
}

/// Handles have the top bit set, so they are never addresses that user-space C code
/// could pass by mistake (that half of the address space is the kernel's), and count up
/// from 1 in the other 63 bits (which no process exhausts).
const HANDLE_TAG: usize = 1 << (usize::BITS - 1);

fn next_handle() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    HANDLE_TAG | NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Live functions by handle, so that a trampoline can tell a live one from a stale one.
fn registry() -> std::sync::MutexGuard<'static, HashMap<usize, Weak<FunctionInner>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<usize, Weak<FunctionInner>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner())
}

impl Function {
    pub fn new(func: impl Fn(&[Value]) -> Result<Value> + Send + Sync + 'static) -> Function {
        let inner = Arc::new(FunctionInner { handle: next_handle(), func: Box::new(func) });
        registry().insert(inner.handle, Arc::downgrade(&inner));
        Function(inner)
    }

    /// Calls the function.
    ///
    /// # Errors
    /// Whatever the function returns.
    pub fn call(&self, args: &[Value]) -> Result<Value> {
        (self.0.func)(args)
    }

    /// The handle native code receives for this function as a `:ptr`: opaque (not an
    /// address), unique to this function and never given to another.
    pub fn userdata(&self) -> Pointer {
        Pointer::from_addr(self.0.handle)
    }

    /// The live function with this userdata handle, if there is one.
    pub fn from_userdata(ptr: Pointer) -> Option<Function> {
        registry().get(&ptr.addr()).and_then(Weak::upgrade).map(Function)
    }

    pub fn same_as(&self, other: &Function) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Drop for FunctionInner {
    fn drop(&mut self) {
        registry().remove(&self.handle);
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
