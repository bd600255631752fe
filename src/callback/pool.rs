//! Trampoline pages and their slots.
//!
//! Trampolines live in page pairs: a code page, made executable once and never written
//! again, and a data page that stays writable and is never executable (the contract is in
//! `arch::trampoline`). Each code page holds one handler per convention of this ISA and
//! many 16-byte stubs; stub `i` reads data slot `i`. Creating a [`Callback`] fills a free
//! data slot (handler, dispatcher, closure, state) and writes no code; dropping it frees
//! the slot for reuse.
//!
//! Lifetime: each call is counted on its slot while it runs, so a `Callback` dropped during
//! a call (by its own closure, or on another thread) is freed by the last call out. A call
//! through a dropped callback's pointer finds its slot free: it returns zero and reports
//! an error. Freed slots are reused first in, first out, and only after [`REUSE_DELAY`]
//! others, so a stale pointer is caught until then; a reused slot's pointer is the new
//! callback's (the stub is the same code), which no trampoline can tell apart.
//!
//! [`Callback`]: super::Callback

use std::cell::RefCell;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::arch::trampoline::{DATA_SLOT_BYTES, STUBS_START, STUB_BYTES};
use crate::arch::{self, CodeBuffer, HandlerKind};
use crate::error::Result;
use crate::memory::{self, ExecutableCode, WritableCode};
use crate::signature::Abi;
use crate::value::Pointer;

use super::closure::Closure;
use super::errors::report;

/// One code page (executable) and one data page (writable) right after it.
pub(super) struct PagePair {
    pages: ExecutableCode,
    /// Handler addresses by convention and kind.
    pub(super) handlers: Vec<(Abi, HandlerKind, usize)>,
    slots: usize,
}

impl PagePair {
    fn new() -> Result<PagePair> {
        let page = memory::page_size();
        let mut pages = WritableCode::new(page, page)?;
        let base = pages.base();

        let mut code = CodeBuffer::new();
        let mut handlers = Vec::new();
        for abi in Abi::ALL.into_iter().filter(|a| a.runs_on_host()) {
            for kind in HandlerKind::ALL {
                handlers.push((abi, kind, base + code.offset()));
                arch::emit_callback_handler(abi, kind, &mut code);
                while code.offset() % 16 != 0 {
                    code.put(&[0]);
                }
            }
        }
        assert!(code.offset() <= STUBS_START, "callback handlers do not fit before the stubs");
        code.put(&vec![0; STUBS_START - code.offset()]);
        let data = base + pages.capacity();
        let slots = ((pages.capacity() - STUBS_START) / STUB_BYTES).min(page / DATA_SLOT_BYTES);
        for i in 0..slots {
            let stub = base + STUBS_START + i * STUB_BYTES;
            let slot = data + i * DATA_SLOT_BYTES;
            arch::emit_host_stub(&mut code, slot as i64 - stub as i64);
        }
        // The handlers and stubs were sized to the page above: an internal invariant.
        assert_eq!(pages.append(code.bytes()), Some(0), "trampoline code does not fit its page");
        Ok(PagePair { pages: pages.seal()?, handlers, slots })
    }

    fn stub(&self, i: usize) -> usize {
        self.pages.base() + STUBS_START + i * STUB_BYTES
    }

    /// The slot whose words are at `addr`, if they are in this page pair.
    fn slot_at(&'static self, addr: usize) -> Option<Slot> {
        let data = self.pages.data();
        let index = addr.checked_sub(data)? / DATA_SLOT_BYTES;
        (index < self.slots && addr == data + index * DATA_SLOT_BYTES)
            .then_some(Slot { page: self, index })
    }

    /// The words of data slot `i` (see [`SlotWords`]).
    fn slot_words(&self, i: usize) -> &SlotWords {
        let addr = self.pages.data() + i * DATA_SLOT_BYTES;
        // SAFETY: the slot lies in the data page (i < slots <= page / DATA_SLOT_BYTES, and
        // a slot has room for the words: see `SlotWords`), which stays mapped read+write
        // (sealing makes only the code page executable) while `self` lives; it is 8-aligned; and it is only ever accessed through these
        // atomics (the handler's plain loads of the first two read words that are only
        // written before the slot is made live).
        unsafe { &*(addr as *const SlotWords) }
    }
}

/// How many freed slots wait before the oldest is handed out again. A C pointer to a
/// dropped callback is its slot's stub, the same for every callback the slot ever holds
/// (stubs are code, never rewritten), so a stale call is detected exactly while the slot is
/// not reused: always until at least this many other callbacks were dropped after it.
pub const REUSE_DELAY: usize = 1024;

/// All trampoline pages and the free slots among them.
pub(super) struct Pool {
    /// Sorted by address, so that a slot's page is found by a binary search.
    pages: Vec<&'static PagePair>,
    /// Slots that may be handed out at once: never handed out (a stale pointer cannot name
    /// them), or given back by an exiting thread's [`ClaimCache`].
    fresh: Vec<Slot>,
    /// Freed slots, oldest first: reused first in, first out, after [`REUSE_DELAY`].
    pub(super) freed: VecDeque<Slot>,
}

impl Pool {
    /// A slot that may be handed out now without a new page: a freed one once more than
    /// [`REUSE_DELAY`] wait behind it, else one never used (or given back by an exiting
    /// thread's cache).
    fn take_reusable(&mut self) -> Option<Slot> {
        if self.freed.len() > REUSE_DELAY {
            if let Some(slot) = self.freed.pop_front() {
                return Some(slot);
            }
        }
        self.fresh.pop()
    }

    /// A slot of a new page pair.
    fn take_new(&mut self) -> Result<Slot> {
        // Page pairs are kept for the life of the process: slots are reused instead.
        let page: &'static PagePair = Box::leak(Box::new(PagePair::new()?));
        let at = self.pages.partition_point(|p| p.pages.data() < page.pages.data());
        self.pages.insert(at, page);
        self.fresh.extend((0..page.slots).rev().map(|index| Slot { page, index }));
        Ok(self.fresh.pop().expect("a new trampoline page has slots"))
    }
}

/// How many slots a thread's cache takes from the pool at once.
const CLAIM_BATCH: usize = 16;

/// A thread's slots for its next callbacks, taken from the pool: each is free and may be
/// handed out now (never used, or freed more than [`REUSE_DELAY`] drops ago; waiting here
/// longer only delays its reuse). An exiting thread gives them back.
struct ClaimCache(Vec<Slot>);

impl ClaimCache {
    fn give_back(&mut self, pool: &mut Pool) {
        pool.fresh.append(&mut self.0);
    }
}

impl Drop for ClaimCache {
    fn drop(&mut self) {
        self.give_back(&mut pool());
    }
}

thread_local! {
    static CLAIMS: RefCell<ClaimCache> = const { RefCell::new(ClaimCache(Vec::new())) };
}

static POOL: Mutex<Pool> =
    Mutex::new(Pool { pages: Vec::new(), fresh: Vec::new(), freed: VecDeque::new() });

pub(super) fn pool() -> std::sync::MutexGuard<'static, Pool> {
    POOL.lock().unwrap_or_else(|p| p.into_inner())
}

/// How many trampoline page pairs exist (each holds many slots, reused after drops).
pub fn trampoline_pages() -> usize {
    pool().pages.len()
}

/// A data slot's words: the handler's address (read by the stub), the dispatcher's (read
/// by the handler), the closure (a `Box<Closure>`, owned by the slot while it is live or
/// dying), and the [`state`] word.
pub(super) type SlotWords = [AtomicUsize; 4];
const HANDLER: usize = 0;
const DISPATCHER: usize = 1;
const CLOSURE: usize = 2;
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
/// `Callback` was dropped while calls ran: the last one out frees the closure). The
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
pub(super) struct Slot {
    pub(super) page: &'static PagePair,
    index: usize,
}

impl Slot {
    /// A slot for a new callback: a freed one once enough wait, else one never used. Taken
    /// from this thread's cache, which is refilled from the pool a batch at a time (so the
    /// pool's lock is taken once per [`CLAIM_BATCH`] claims).
    pub(super) fn claim() -> Result<Slot> {
        let cached = CLAIMS.try_with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.0.is_empty() {
                let mut pool = pool();
                while cache.0.len() < CLAIM_BATCH {
                    match pool.take_reusable() {
                        Some(slot) => cache.0.push(slot),
                        None if cache.0.is_empty() => cache.0.push(pool.take_new()?),
                        None => break,
                    }
                }
            }
            // A refill takes at least one slot, or fails.
            Ok(cache.0.pop().expect("a refilled cache holds a slot"))
        });
        match cached {
            Ok(Ok(slot)) => Ok(slot),
            Ok(Err(e)) => Err(e),
            // This thread's cache is gone (it is exiting): straight from the pool.
            Err(_) => {
                let mut pool = pool();
                match pool.take_reusable() {
                    Some(slot) => Ok(slot),
                    None => pool.take_new(),
                }
            }
        }
    }

    fn words(&self) -> &'static SlotWords {
        self.page.slot_words(self.index)
    }

    /// Makes the (free) slot run `closure` through `handler`, which calls `dispatcher`; the
    /// slot owns the closure until [`release`].
    pub(super) fn publish(&self, handler: usize, dispatcher: usize, closure: Box<Closure>) {
        let words = self.words();
        words[HANDLER].store(handler, Ordering::Relaxed);
        words[DISPATCHER].store(dispatcher, Ordering::Relaxed);
        words[CLOSURE].store(Box::into_raw(closure) as usize, Ordering::Relaxed);
        // The next generation, and FREE (0) becomes LIVE: one add, as the slot is free
        // (claimed from the pool, which only holds released slots). Calls may be counted
        // already (stale ones that entered while the slot was free, and will leave without
        // looking at the closure): the add keeps their count. Release: a call that sees
        // LIVE (Acquire, in `InFlight::enter`) sees the words above and the closure.
        words[STATE].fetch_add(state::GENERATION | state::LIVE, Ordering::Release);
    }

    /// The closure of this slot's callback.
    ///
    /// # Safety
    /// The slot is live: its `Callback` exists and has not retired it (so [`release`],
    /// which frees the closure, has not run, and cannot run while the reference lives).
    pub(super) unsafe fn closure(&self) -> &Closure {
        let closure = self.words()[CLOSURE].load(Ordering::Relaxed) as *const Closure;
        // SAFETY: `publish` stored it before handing the slot to the caller's `Callback`
        // (on this thread, or sent with the `Callback`, which orders it); the caller
        // guarantees it is not freed.
        unsafe { &*closure }
    }

    /// The slot's callback was dropped: the slot is freed now when no call runs, else by
    /// the last call out (see [`InFlight`]).
    pub(super) fn retire(&self) {
        let words = self.words();
        let retired = words[STATE].fetch_update(Ordering::AcqRel, Ordering::Relaxed, |word| {
            let phase = if state::calls(word) == 0 { state::FREE } else { state::DYING };
            Some(state::with_phase(word, phase))
        });
        if let Ok(word) = retired {
            if state::calls(word) == 0 {
                // AcqRel: this thread now follows every call that left (their Release
                // decrements precede this value), so none still uses the closure.
                release(words);
            }
        }
    }

    pub(super) fn code_ptr(&self) -> Pointer {
        Pointer::from_addr(self.page.stub(self.index))
    }
}

/// Frees a slot that just became FREE (the caller made that change, so it runs once per
/// callback): drops the slot's count of the closure and queues the slot for reuse.
fn release(words: &SlotWords) {
    // Nobody else reads this word now: calls that find the slot FREE leave it alone, and it
    // is written again only after the slot is queued below (so no atomic swap is needed).
    let closure = words[CLOSURE].load(Ordering::Relaxed) as *mut Closure;
    words[CLOSURE].store(0, Ordering::Relaxed);
    // SAFETY: a non-null word is what `publish` stored from `Box::into_raw`, freed once
    // here (the phase change to FREE happens once per publish); no call uses the closure
    // any more (see `retire` and `InFlight::drop` for the ordering), nor does its
    // `Callback`, which retired the slot. (Every retired slot was published; the check
    // keeps a slot that never was from freeing nothing.)
    let closure = (!closure.is_null()).then(|| unsafe { Box::from_raw(closure) });
    {
        let mut pool = pool();
        let addr = words as *const SlotWords as usize;
        // The last page that starts at or below `addr` is the only one that can hold it.
        let below = pool.pages.partition_point(|p| p.pages.data() <= addr);
        if let Some(slot) = below.checked_sub(1).and_then(|i| pool.pages[i].slot_at(addr)) {
            pool.freed.push_back(slot);
        }
    }
    drop(closure);
}

/// The closure of a permanent callback's slot (see [`Callback::new_permanent`]), or
/// `None` for a call that does not see it live: a stale call from the slot's previous
/// callback racing the permanent one's `publish`.
///
/// # Safety
/// The slot's dispatcher is a permanent one: the callback published there is permanent,
/// so once live the slot is never retired.
///
/// [`Callback::new_permanent`]: super::Callback::new_permanent
pub(super) unsafe fn permanent_closure(words: &SlotWords) -> Option<&'static Closure> {
    // Acquire: pairs with `publish`'s Release, so a call that sees LIVE sees the closure
    // word and the closure. (A plain load: no read-modify-write, which is what permanent
    // slots save.)
    if state::phase(words[STATE].load(Ordering::Acquire)) != state::LIVE {
        return None;
    }
    let closure = words[CLOSURE].load(Ordering::Relaxed) as *const Closure;
    // SAFETY: the slot is live, so `closure` is what `publish` stored from
    // `Box::into_raw`; the slot is never retired, so `release` never frees this closure or
    // rewrites the word: it lives for the rest of the process.
    Some(unsafe { &*closure })
}

/// One call inside the dispatcher, counted on its slot from entry to exit: a live slot's
/// closure is not freed while any call is inside.
///
/// The count costs two atomic read-modify-writes per call (most of a native callback's
/// overhead over libffi's closures, which do not keep their closures alive). Both must be
/// RMWs on the state word: entering reads the phase and counts the call in one step (a
/// `retire` between a separate load and add could free the closure under the call), and
/// leaving must both uncount and see whether it was the last call of a DYING slot.
pub(super) struct InFlight<'a> {
    words: &'a SlotWords,
    /// The callback's closure, or `None` for a stale call (the slot is free or dying).
    closure: Option<&'a Closure>,
}

impl<'a> InFlight<'a> {
    #[inline]
    pub(super) fn enter(words: &'a SlotWords) -> InFlight<'a> {
        // Acquire: pairs with `publish`'s Release, so a LIVE word comes with its closure.
        let word = words[STATE].fetch_add(state::CALL, Ordering::Acquire);
        let closure = (state::phase(word) == state::LIVE).then(|| {
            // SAFETY: the slot was LIVE when this call was counted, so the closure word is
            // the one `publish` wrote for this generation: it changes only after the slot
            // goes FREE, which needs this call's count gone. The slot owns the closure
            // until then (it is freed only at FREE), and the reference lives no longer than
            // `self`.
            unsafe { &*(words[CLOSURE].load(Ordering::Relaxed) as *const Closure) }
        });
        InFlight { words, closure }
    }

    pub(super) fn closure(&self) -> Option<&Closure> {
        self.closure
    }
}

impl Drop for InFlight<'_> {
    #[inline]
    fn drop(&mut self) {
        // Release: this call's uses of the closure happen before whoever frees it.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_threads_cache_takes_ripe_slots_only_and_gives_them_back() {
        let page: &'static PagePair = Box::leak(Box::new(PagePair::new().unwrap()));
        let slot = |index| Slot { page, index };
        let mut pool = Pool { pages: vec![page], fresh: Vec::new(), freed: VecDeque::new() };
        // Exactly REUSE_DELAY freed slots: none may be handed out yet.
        pool.freed.extend((0..REUSE_DELAY).map(|i| slot(i % page.slots)));
        assert!(pool.take_reusable().is_none());
        // One more: the oldest is.
        pool.freed.push_back(slot(0));
        assert_eq!(pool.take_reusable().map(|s| s.index), Some(0));
        assert!(pool.take_reusable().is_none());
        let mut cache = ClaimCache(vec![slot(3), slot(5)]);
        cache.give_back(&mut pool);
        assert!(cache.0.is_empty());
        let mut back: Vec<usize> =
            std::iter::from_fn(|| pool.take_reusable().map(|s| s.index)).collect();
        back.sort();
        assert_eq!(back, [3, 5]);
    }
}
