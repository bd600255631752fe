//! Compiled signatures: a plan, its thunk in executable memory, and the call path.
//!
//! A thunk is entered as `thunk(target, block, ret)`: it loads the arguments that the
//! plan places in registers and on the stack out of the argument block, calls `target`,
//! and stores the result registers into the return block (see `plan.rs`).
//!
//! # Memory
//! A signature's own thunks are staged into a chunk of code memory shared with other
//! signatures' (see `memory.rs`), and that chunk becomes executable (sealed, never written
//! again) when it is full or when one of its signatures turns *hot*: called
//! [`DEFAULT_HOT_CALLS`] times (or `JITCALL_HOT_CALLS`, read once from the environment; 0
//! seals at the first call). Until then the signature's calls run through a *shared
//! thunk* of its convention, which loads every argument register and stack slot from a
//! frame that `call` fills by the plan. So a program that makes signatures and calls each a
//! few times pays for their code and plans, not a page each; a signature made, called 32
//! times and then followed by the next one costs at most one page.
//! [`CompiledSignature::prepare`] seals a signature's code at once.
//!
//! # The cache
//! Compiled signatures are cached per signature (convention included), so each is compiled
//! once. The process-wide cache keeps every signature unless
//! [`CompiledSignature::set_cache_capacity`] bounds it (the oldest go first) or
//! [`CompiledSignature::clear_cache`] empties it; each thread also keeps its
//! [`LOCAL_SLOTS`] most recently fetched ones, for lookups without a lock. Dropping a cache
//! entry never breaks a `CompiledSignature` in use: it owns its code, whose memory is
//! unmapped only when the last signature using that chunk is dropped (a call running holds
//! its signature).

use std::borrow::Borrow;
use std::cell::RefCell;
use std::collections::{HashSet, VecDeque};
use std::ffi::c_void;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use crate::arch::{self, ArgSource, BlockLayout, CodeBuffer};
use crate::callback::CallGuard;
use crate::error::{Error, Result};
use crate::memory::{Code, ExecutableCode};
use crate::plan::{ArgPlan, CallPlan, Extension, Location, Part, RetPlan};
use crate::signature::{Abi, Errno, Signature};
use crate::types::Type;
use crate::value::{self, Pointer, Value};

mod raw;
pub use raw::{DirectCall, DirectResult, RawCall};

cfg_if::cfg_if! {
    if #[cfg(target_arch = "x86_64")] {
        // The x86-64 thunks are entered with System V's convention on every OS.
        type ThunkFn = unsafe extern "sysv64" fn(*const c_void, *mut u8, *mut u8);
        /// A thunk that handles `errno`: its fourth argument is the thread's errno slot.
        type ErrnoThunkFn = unsafe extern "sysv64" fn(*const c_void, *mut u8, *mut u8, *mut u8);
    } else {
        type ThunkFn = unsafe extern "C" fn(*const c_void, *mut u8, *mut u8);
        /// A thunk that handles `errno`: its fourth argument is the thread's errno slot.
        type ErrnoThunkFn = unsafe extern "C" fn(*const c_void, *mut u8, *mut u8, *mut u8);
    }
}

/// A signature compiled for calling: its plan and its thunk. Cheap to clone.
#[derive(Clone, Debug)]
pub struct CompiledSignature {
    inner: Arc<Compiled>,
}

#[derive(Debug)]
struct Compiled {
    sig: Signature,
    plan: CallPlan,
    /// How the call path marshals values for the block thunk: the argument and return
    /// blocks (not part of the plan, which is ABI data only).
    block: BlockLayout,
    /// How `call` converts argument values into the block and the result back.
    values: value::CallProgram,
    /// The thunk that reads the argument block.
    code: Thunk,
    /// The thunk that reads through a pointer array, when the plan allows one.
    pointer_code: Option<Thunk>,
    /// The tail thunk (`RawCall`, `DirectCall`), when the plan allows one and the
    /// signature does not handle `errno` (which needs code after the call). Unlike the
    /// others it is entered with the plan's own convention, whatever its `ThunkFn` type
    /// says: its users check that the two agree.
    tail_code: Option<Thunk>,
    /// The shared thunk that runs this plan while its own code is not sealed, if the plan
    /// fits one.
    shared: Option<&'static SharedThunk>,
    /// Calls run through the shared thunk so far.
    cold_calls: AtomicU32,
}

/// A thunk's code and, once it has been sealed, its entry address (so that a call reads
/// one word instead of following the code's chunk).
#[derive(Debug)]
struct Thunk {
    code: Code,
    entry: AtomicUsize,
}

impl Thunk {
    fn new(code: Code) -> Thunk {
        Thunk { code, entry: AtomicUsize::new(0) }
    }

    /// The entry address, if this thunk has been sealed.
    #[inline]
    fn sealed_entry(&self) -> Option<ThunkFn> {
        let entry = self.entry.load(Ordering::Acquire);
        // SAFETY: a nonzero `entry` was stored by `seal`: this thunk's sealed, executable
        // code, and thunks are entered with the `ThunkFn` convention (see `arch`).
        (entry != 0).then(|| unsafe { std::mem::transmute::<usize, ThunkFn>(entry) })
    }

    /// Seals the thunk's chunk (if it is not yet) and returns the entry address.
    fn seal(&self) -> Result<ThunkFn> {
        let entry = self.code.entry()? as usize;
        self.entry.store(entry, Ordering::Release);
        // SAFETY: as in `sealed_entry`: `entry` is sealed code entered as a `ThunkFn`.
        Ok(unsafe { std::mem::transmute::<usize, ThunkFn>(entry) })
    }
}

/// Calls a signature makes through the shared thunk before its own code is sealed.
pub const DEFAULT_HOT_CALLS: u32 = 32;

/// `JITCALL_HOT_CALLS` if it is set to a number, else [`DEFAULT_HOT_CALLS`].
fn hot_calls() -> u32 {
    static HOT_CALLS: OnceLock<u32> = OnceLock::new();
    *HOT_CALLS.get_or_init(|| {
        std::env::var("JITCALL_HOT_CALLS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(DEFAULT_HOT_CALLS)
    })
}

type WordHash = BuildHasherDefault<WordHasher>;

/// A cache entry: a compiled signature, looked up by its signature (which it holds, so
/// the key is not stored twice).
struct Entry(CompiledSignature);

impl Borrow<Signature> for Entry {
    fn borrow(&self) -> &Signature {
        &self.0.inner.sig
    }
}

impl Hash for Entry {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.inner.sig.hash(state);
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        self.0.inner.sig == other.0.inner.sig
    }
}

impl Eq for Entry {}

/// The process-wide cache.
struct Cache {
    entries: HashSet<Entry, WordHash>,
    /// The entries in the order they came in, oldest first: the first to go when full.
    order: VecDeque<CompiledSignature>,
    capacity: usize,
}

impl Cache {
    const fn new() -> Cache {
        Cache {
            entries: HashSet::with_hasher(BuildHasherDefault::new()),
            order: VecDeque::new(),
            capacity: usize::MAX,
        }
    }

    /// Adds `compiled` unless its signature is there already, and returns the entry kept.
    fn insert(&mut self, compiled: CompiledSignature) -> CompiledSignature {
        if let Some(found) = self.entries.get(compiled.signature()) {
            return found.0.clone(); // another thread compiled it meanwhile: keep the first
        }
        if self.capacity == 0 {
            return compiled;
        }
        self.shrink_to(self.capacity - 1);
        self.entries.insert(Entry(compiled.clone()));
        self.order.push_back(compiled.clone());
        compiled
    }

    /// Drops the oldest entries until at most `len` are left.
    fn shrink_to(&mut self, len: usize) {
        while self.entries.len() > len {
            let Some(oldest) = self.order.pop_front() else { break };
            self.entries.remove(oldest.signature());
        }
    }
}

static CACHE: RwLock<Cache> = RwLock::new(Cache::new());

/// Bumped when the process-wide cache is cleared or bounded, so that each thread's cache
/// drops what it holds at its next lookup.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Slots of each thread's cache (a signature goes in the slot its hash picks).
pub const LOCAL_SLOTS: usize = 64;

struct LocalCache {
    generation: u64,
    slots: [Option<CompiledSignature>; LOCAL_SLOTS],
}

thread_local! {
    /// Signatures this thread fetched lately: hits take no lock.
    static LOCAL_CACHE: RefCell<LocalCache> =
        const { RefCell::new(LocalCache { generation: 0, slots: [const { None }; LOCAL_SLOTS] }) };
}

/// Runs `f` on this thread's cache (emptied first if the process-wide one was cleared), or
/// returns `None` while the thread is exiting.
fn with_local_cache<R>(f: impl FnOnce(&mut LocalCache) -> R) -> Option<R> {
    LOCAL_CACHE
        .try_with(|cache| {
            let mut cache = cache.borrow_mut();
            let generation = GENERATION.load(Ordering::Acquire);
            if cache.generation != generation {
                cache.slots = [const { None }; LOCAL_SLOTS];
                cache.generation = generation;
            }
            f(&mut cache)
        })
        .ok()
}

fn local_slot(hash: u64) -> usize {
    (hash >> 32) as usize % LOCAL_SLOTS
}

/// `a == b`, with primitives compared inline (the common case) and aggregates that are
/// the same allocation without looking inside.
#[inline(always)]
fn same_type(a: &Type, b: &Type) -> bool {
    match (a, b) {
        (Type::Prim(a), Type::Prim(b)) => a == b,
        (Type::Struct(x), Type::Struct(y)) | (Type::Union(x), Type::Union(y))
            if Arc::ptr_eq(x, y) =>
        {
            true
        }
        _ => a == b,
    }
}

/// A signature by reference: what a lookup in this thread's cache hashes (to pick the
/// slot, the same for both entry points) and compares, without owning the types.
struct Key<'a> {
    abi: Abi,
    ret: &'a Type,
    params: &'a [Type],
    fixed: Option<usize>,
    errno: Errno,
}

impl<'a> Key<'a> {
    fn of(sig: &'a Signature) -> Key<'a> {
        let Signature { abi, ref ret, ref params, fixed, errno } = *sig;
        Key { abi, ret, params, fixed, errno }
    }

    /// This thread's cache slot for the signature: the types' precomputed content hashes
    /// combined with a rotate and xor each (independent of one another, so they overlap),
    /// then one multiply to spread them.
    #[inline]
    fn slot(&self) -> usize {
        let fixed = self.fixed.map_or(0, |n| n as u64 + 1);
        let mut h = (self.abi as u64) ^ ((self.errno as u64) << 8) ^ (fixed << 16);
        h = h.rotate_left(5) ^ self.ret.content_hash();
        for ty in self.params {
            h = h.rotate_left(5) ^ ty.content_hash();
        }
        local_slot(h.wrapping_mul(0x51_7C_C1_B7_27_22_0A_95))
    }

    #[inline]
    fn matches(&self, sig: &Signature) -> bool {
        self.abi == sig.abi
            && self.fixed == sig.fixed
            && self.errno == sig.errno
            && same_type(self.ret, &sig.ret)
            && self.params.len() == sig.params.len()
            && self.params.iter().zip(&sig.params).all(|(a, b)| same_type(a, b))
    }

    /// The signature in this thread's cache, if it is there.
    fn find_local(&self, slot: usize) -> Option<CompiledSignature> {
        with_local_cache(|c| {
            c.slots[slot].as_ref().filter(|f| self.matches(f.signature())).cloned()
        })
        .flatten()
    }
}

/// Hashes the few words a signature writes (the convention and each type's precomputed
/// content hash) with one multiply-rotate step each.
#[derive(Default)]
struct WordHasher(u64);

impl Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7C_C1_B7_27_22_0A_95);
    }

    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
}

impl CompiledSignature {
    /// Classifies `sig` and compiles its thunk, or fetches it from the cache.
    ///
    /// # Errors
    /// A convention this host cannot run, a signature the convention cannot express, or
    /// no memory for code.
    pub fn new(sig: Signature) -> Result<CompiledSignature> {
        if !sig.abi.runs_on_host() {
            return Err(Error::UnsupportedHost {
                convention: Some(sig.abi.name()),
                message: format!(
                    "calling convention {} cannot be called on this host (its plans can still \
                     be shown)",
                    sig.abi
                ),
            });
        }
        // First this thread's own cache (no lock), then the process's. (The own cache is
        // gone while the thread exits, e.g. in a callback run by a TLS destructor.)
        let slot = Key::of(&sig).slot();
        if let Some(found) = Key::of(&sig).find_local(slot) {
            return Ok(found);
        }
        let found = cache_read().entries.get(&sig).map(|entry| entry.0.clone());
        let compiled = match found {
            Some(found) => found,
            None => {
                let compiled = CompiledSignature::compile(sig)?;
                CACHE.write().unwrap_or_else(|p| p.into_inner()).insert(compiled)
            }
        };
        with_local_cache(|c| c.slots[slot] = Some(compiled.clone()));
        Ok(compiled)
    }

    /// [`CompiledSignature::new`] of `Signature::new(abi, ret.clone(), params.to_vec())`,
    /// but a signature this thread fetched lately is found without copying the types (or
    /// allocating at all): for callers that keep their types and look the same signature
    /// up again and again.
    ///
    /// # Errors
    /// As [`CompiledSignature::new`].
    pub fn lookup(abi: Abi, ret: &Type, params: &[Type]) -> Result<CompiledSignature> {
        let key = Key { abi, ret, params, fixed: None, errno: Errno::Ignore };
        // A convention the host cannot run is never cached: `new` gives its error.
        if abi.runs_on_host() {
            if let Some(found) = key.find_local(key.slot()) {
                return Ok(found);
            }
        }
        CompiledSignature::new(Signature::new(abi, ret.clone(), params.to_vec()))
    }

    /// Classifies `sig` and emits its thunks (staged, not yet executable).
    fn compile(sig: Signature) -> Result<CompiledSignature> {
        let plan = arch::classify(&sig)?;
        let block = BlockLayout::new(&sig)?;
        let code = Thunk::new(Code::stage(&emit(&plan, ArgSource::Block(&block), sig.errno)?)?);
        let pointer_code = if arch::pointers_fit(&plan) {
            let bytes = emit(&plan, ArgSource::Pointers, sig.errno)?;
            Some(Thunk::new(Code::stage(&bytes)?))
        } else {
            None
        };
        let tail_code = if arch::tail_callable(&plan) && sig.errno == Errno::Ignore {
            let mut bytes = CodeBuffer::new();
            arch::emit_tail_thunk(&plan, &mut bytes)?;
            Some(Thunk::new(Code::stage(&bytes.into_bytes())?))
        } else {
            None
        };
        // The shared thunk does not handle errno: signatures that do run their own code.
        let shared = (sig.errno == Errno::Ignore).then(|| SharedThunk::for_plan(&plan)).flatten();
        let values = value::CallProgram::new(&sig.params, &block.offsets, &sig.ret);
        let inner = Compiled {
            sig,
            plan,
            block,
            values,
            code,
            pointer_code,
            tail_code,
            shared,
            cold_calls: AtomicU32::new(0),
        };
        Ok(CompiledSignature { inner: Arc::new(inner) })
    }

    /// Makes this signature's own thunks executable now, so that its first calls take the
    /// fast path too. This seals the chunk of code memory they are in (code staged later
    /// goes to a new one), so calling it for every new signature costs a page each.
    ///
    /// # Errors
    /// The system refusing to change memory protection.
    pub fn prepare(&self) -> Result<()> {
        self.inner.code.seal()?;
        if let Some(pointer_code) = &self.inner.pointer_code {
            pointer_code.seal()?;
        }
        Ok(())
    }

    /// Bounds the process-wide cache to `capacity` signatures (`None`: no bound, the
    /// default); when it is full, the oldest entry goes. `Some(0)` caches nothing. Each
    /// thread still keeps up to [`LOCAL_SLOTS`](crate::limits::LOCAL_SLOTS) signatures it fetched lately.
    pub fn set_cache_capacity(capacity: Option<usize>) {
        let mut cache = CACHE.write().unwrap_or_else(|p| p.into_inner());
        cache.capacity = capacity.unwrap_or(usize::MAX);
        let capacity = cache.capacity;
        cache.shrink_to(capacity);
        GENERATION.fetch_add(1, Ordering::Release);
    }

    /// Empties the process-wide cache, and makes each thread's cache drop its entries at
    /// that thread's next lookup. Signatures still held elsewhere stay valid.
    pub fn clear_cache() {
        let mut cache = CACHE.write().unwrap_or_else(|p| p.into_inner());
        cache.shrink_to(0);
        GENERATION.fetch_add(1, Ordering::Release);
    }

    /// How many signatures the process-wide cache holds.
    pub fn cache_len() -> usize {
        cache_read().entries.len()
    }

    /// The signature this was compiled for.
    pub fn signature(&self) -> &Signature {
        &self.inner.sig
    }

    /// Where each argument and the result go (see [`CallPlan`]).
    pub fn plan(&self) -> &CallPlan {
        &self.inner.plan
    }

    /// The thunk's machine code.
    pub fn code(&self) -> Vec<u8> {
        self.inner.code.code.to_vec()
    }

    /// Calls `target` with dynamic values: every argument is converted (and any error
    /// returned) before anything is called; then the result is converted back.
    ///
    /// # Errors
    /// A wrong argument count ("arity mismatch"), a value that does not convert (the
    /// error names the argument and the field inside it), a result type whose value
    /// [`value::check_decodable`] refuses, or the error of a callback that failed while
    /// the function ran (the callback returned a zero result to C).
    ///
    /// # Safety
    /// `target` must be a function with this signature under this convention, and calling
    /// it with these arguments must be sound; pointers passed must be valid for whatever
    /// the function does with them. A `:string` result must be NULL or a valid C string.
    pub unsafe fn call(&self, target: Pointer, args: &[Value]) -> Result<Value> {
        let Compiled { block: layout, values, .. } = &*self.inner;
        if args.len() != values.arity() {
            return Err(Error::Arity { expected: values.arity(), got: args.len() });
        }
        // The result's value must be one that can be made, before anything is called.
        values.check_result()?;
        let mut block = ArgBlock::zeroed(layout.size as usize);
        values.encode_args(args, block.bytes_mut())?;
        let mut ret = RetBlock::zeroed(layout.ret_size as usize);
        // SAFETY: the block holds every argument's image where the plan says; the caller
        // vouches for the target and the arguments.
        unsafe { self.invoke(target, &mut block, &mut ret)? };
        // SAFETY: the result is decodable (checked above), and the caller vouches that
        // its `:string`s are NULL or C strings.
        Ok(unsafe { values.decode_result(ret.bytes_mut()) })
    }

    /// Calls `target` with native values: `args[i]` points to the native image of
    /// argument i (as C lays it out), and the result's image is written to `ret`.
    ///
    /// # Safety
    /// As [`CompiledSignature::call`]; besides, `args` must hold one pointer per parameter,
    /// each readable for the parameter's size, and `ret` must be writable for the result's
    /// size and aligned for its type (a result in memory is written there by the callee
    /// itself, which may use aligned stores).
    #[inline]
    pub unsafe fn call_native(
        &self,
        target: Pointer,
        args: &[*const u8],
        ret: *mut u8,
    ) -> Result<()> {
        let Compiled { sig, pointer_code, .. } = &*self.inner;
        if args.len() != sig.params.len() {
            return Err(Error::Arity { expected: sig.params.len(), got: args.len() });
        }
        let thunk = match pointer_code {
            Some(thunk) => self.inner.own_code(thunk)?,
            None => None,
        };
        match thunk {
            // The fast path: the thunk reads each argument through its pointer and writes
            // the result straight into `ret`.
            // SAFETY: the caller guarantees what this function's contract says; the thunk
            // reads exactly each parameter's bytes and writes exactly the result's.
            Some(thunk) if sig.errno == Errno::Ignore => unsafe {
                run(thunk, target, args.as_ptr().cast_mut().cast(), ret)
            },
            // SAFETY: as above.
            Some(thunk) => unsafe {
                run_capturing(thunk, target, args.as_ptr().cast_mut().cast(), ret)
            },
            // SAFETY: forwarded from the caller.
            None => unsafe { self.call_native_via_block(target, args, ret) },
        }
    }

    /// `call_native` for plans that need the argument block (pieces of odd sizes,
    /// arguments by reference): out of line, so the fast path keeps a small frame.
    ///
    /// # Safety
    /// As [`CompiledSignature::call_native`], with the argument count checked.
    #[inline(never)]
    unsafe fn call_native_via_block(
        &self,
        target: Pointer,
        args: &[*const u8],
        ret: *mut u8,
    ) -> Result<()> {
        let Compiled { sig, block: layout, .. } = &*self.inner;
        let mut block = ArgBlock::zeroed(layout.size as usize);
        for ((ty, &arg), &offset) in sig.params.iter().zip(args).zip(&layout.offsets) {
            // SAFETY: the caller guarantees `ty.size()` readable bytes at `arg`; the block
            // has room for them at `offset`.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    arg,
                    block.as_mut_ptr().add(offset as usize),
                    ty.size(),
                )
            };
        }
        let mut ret_block = RetBlock::zeroed(layout.ret_size as usize);
        // SAFETY: as in `call`.
        unsafe { self.invoke(target, &mut block, &mut ret_block)? };
        // SAFETY: the caller guarantees `ret` is writable for the result's size.
        unsafe { std::ptr::copy_nonoverlapping(ret_block.as_mut_ptr(), ret, sig.ret.size()) };
        Ok(())
    }

    /// Runs the plan's own block thunk, or the shared one while the signature is cold.
    ///
    /// # Safety
    /// `block` and `ret` are this plan's blocks, filled in; the caller vouches for `target`.
    unsafe fn invoke(
        &self,
        target: Pointer,
        block: &mut ArgBlock,
        ret: &mut RetBlock,
    ) -> Result<()> {
        match (self.inner.own_code(&self.inner.code)?, self.inner.shared) {
            // SAFETY: forwarded from the caller.
            (Some(thunk), _) if self.inner.sig.errno == Errno::Ignore => unsafe {
                run(thunk, target, block.as_mut_ptr(), ret.as_mut_ptr())
            },
            // SAFETY: forwarded from the caller.
            (Some(thunk), _) => unsafe {
                run_capturing(thunk, target, block.as_mut_ptr(), ret.as_mut_ptr())
            },
            // SAFETY: forwarded from the caller.
            (None, Some(shared)) => unsafe { self.invoke_shared(shared, target, block, ret) },
            (None, None) => unreachable!("`own_code` seals the code of plans with no shared thunk"),
        }
    }

    /// Runs the shared thunk: the plan's pieces are moved from the argument block into
    /// the shared thunk's frame (with the widening the plan's own thunk would do), and the
    /// result registers back into the return block.
    ///
    /// # Safety
    /// As [`CompiledSignature::invoke`].
    #[inline(never)]
    unsafe fn invoke_shared(
        &self,
        shared: &SharedThunk,
        target: Pointer,
        block: &mut ArgBlock,
        ret: &mut RetBlock,
    ) -> Result<()> {
        let Compiled { plan, block: layout, .. } = &*self.inner;
        let mut frame = SharedFrame::zeroed(SHARED_STACK + shared.stack_bytes as usize);
        let (block_addr, ret_addr) = (block.as_mut_ptr() as u64, ret.as_mut_ptr() as u64);
        let bytes = block.bytes_mut();
        fill_shared_frame(plan, layout, bytes, block_addr, ret_addr, frame.bytes_mut());
        let mut registers = SharedResult::zeroed(SHARED_RESULT_BYTES);
        // SAFETY: the frame holds every register and stack slot the plan's own thunk would
        // load, and by-reference arguments and the result address point into `block` and
        // `ret`, which live until this returns; the shared thunk stores result registers
        // only into `registers`. The caller vouches for the target.
        unsafe { run(shared.entry, target, frame.as_mut_ptr(), registers.as_mut_ptr())? };
        store_shared_result(plan, registers.bytes_mut(), ret.bytes_mut());
        Ok(())
    }
}

impl Compiled {
    /// `thunk`'s code once it is sealed; `None` (run the shared thunk) while the signature
    /// is cold and its chunk still open.
    #[inline]
    fn own_code(&self, thunk: &Thunk) -> Result<Option<ThunkFn>> {
        match thunk.sealed_entry() {
            Some(entry) => Ok(Some(entry)),
            None => self.own_code_cold(thunk),
        }
    }

    #[cold]
    fn own_code_cold(&self, thunk: &Thunk) -> Result<Option<ThunkFn>> {
        let cold = self.shared.is_some()
            && !thunk.code.is_sealed()
            && self.cold_calls.fetch_add(1, Ordering::Relaxed) < hot_calls();
        if cold {
            Ok(None)
        } else {
            thunk.seal().map(Some)
        }
    }
}

/// Runs a thunk and returns any error a callback raised meanwhile (that callback gave C a
/// zero result).
///
/// # Safety
/// `args` and `ret` are what this thunk reads and writes (a block or a pointer array, a
/// return block or the caller's memory), and the caller vouches for `target`.
#[inline]
unsafe fn run(thunk: ThunkFn, target: Pointer, args: *mut u8, ret: *mut u8) -> Result<()> {
    let guard = CallGuard::enter();
    // SAFETY: the thunk reads only its plan's argument bytes and writes only its result
    // bytes, and calls `target`, which the caller vouches for.
    unsafe { thunk(target.as_ptr(), args, ret) };
    guard.finish()
}

/// [`run`] for a thunk that handles `errno`: it also gets this thread's errno slot.
///
/// # Safety
/// As [`run`], and `thunk` was emitted by `emit_errno_thunk`.
#[inline]
unsafe fn run_capturing(
    thunk: ThunkFn,
    target: Pointer,
    args: *mut u8,
    ret: *mut u8,
) -> Result<()> {
    let entry = thunk as usize;
    // SAFETY: an errno thunk's code is entered with the `ErrnoThunkFn` convention.
    let thunk = unsafe { std::mem::transmute::<usize, ErrnoThunkFn>(entry) };
    let slot = crate::errno::slot();
    let guard = CallGuard::enter();
    // SAFETY: as in `run`; besides, `slot` is this thread's errno slot, which lives as
    // long as the thread, and the thunk reads and writes only its words, on this thread.
    unsafe { thunk(target.as_ptr(), args, ret, slot) };
    guard.finish()
}

/// The machine code of one thunk for `plan`, reading from `source`, handling `errno` as
/// the signature asks.
fn emit(plan: &CallPlan, source: ArgSource, errno: Errno) -> Result<Vec<u8>> {
    let mut code = CodeBuffer::new();
    let access = match errno {
        Errno::Ignore => None,
        mode => Some(crate::errno::access(mode == Errno::SetAndCapture)),
    };
    arch::emit_thunk(plan, source, access.as_ref(), &mut code)?;
    Ok(code.into_bytes())
}

fn cache_read() -> std::sync::RwLockReadGuard<'static, Cache> {
    CACHE.read().unwrap_or_else(|p| p.into_inner())
}

/// Zeroed bytes aligned to 16: `N` 16-byte words on the stack when they suffice (zeroed
/// whole with inline stores: no library call, and later loads forward), else the heap.
enum AlignedBytes<const N: usize> {
    Inline([u128; N]),
    Heap(Vec<u128>),
}

impl<const N: usize> AlignedBytes<N> {
    #[inline(always)]
    fn zeroed(len: usize) -> AlignedBytes<N> {
        if len <= 16 * N {
            AlignedBytes::Inline([0; N])
        } else {
            AlignedBytes::Heap(vec![0; len.div_ceil(16)])
        }
    }

    #[inline(always)]
    fn as_mut_ptr(&mut self) -> *mut u8 {
        match self {
            AlignedBytes::Inline(words) => words.as_mut_ptr().cast(),
            AlignedBytes::Heap(v) => v.as_mut_ptr().cast(),
        }
    }

    #[inline(always)]
    fn bytes_mut(&mut self) -> &mut [u8] {
        let len = match self {
            AlignedBytes::Inline(_) => 16 * N,
            AlignedBytes::Heap(v) => 16 * v.len(),
        };
        // SAFETY: all `len` bytes are initialized (zeroed), and bytes are valid `u8`s.
        unsafe { std::slice::from_raw_parts_mut(self.as_mut_ptr(), len) }
    }
}

/// Argument blocks of up to 128 bytes, and result blocks of up to 32, stay on the stack.
type ArgBlock = AlignedBytes<8>;
type RetBlock = AlignedBytes<2>;
/// The shared thunk's frame, with the largest stack area, and its result registers.
type SharedFrame = AlignedBytes<{ (SHARED_STACK + MAX_SHARED_STACK as usize) / 16 }>;
type SharedResult = AlignedBytes<{ SHARED_RESULT_BYTES / 16 }>;

/// The shared thunk's frame: 8 bytes per general register (x8 included on AArch64), then
/// 8 per vector register, then the stack arguments.
const SHARED_GPRS: usize = 9;
const SHARED_FPRS: usize = 8;
const SHARED_FPR_AT: usize = 8 * SHARED_GPRS;
const SHARED_STACK: usize = SHARED_FPR_AT + 8 * SHARED_FPRS;
/// The result registers it stores: rax, rdx / x0, x1, then xmm0, xmm1 / v0-v3 (8 bytes each).
const SHARED_RET_FPR_AT: usize = 16;
const SHARED_RESULT_BYTES: usize = 48;
/// Stack areas the shared thunks copy (one thunk per size and convention); a plan with
/// more stack arguments seals its own code at its first call.
const SHARED_STACK_SIZES: [u32; 3] = [0, 64, 256];
const MAX_SHARED_STACK: u32 = 256;

/// A thunk that runs any plan of its convention whose stack arguments fit its area.
#[derive(Debug)]
struct SharedThunk {
    entry: ThunkFn,
    stack_bytes: u32,
    /// Keeps the code mapped (shared thunks live as long as the process).
    _code: ExecutableCode,
}

/// What a convention's shared thunk loads and stores.
struct SharedShape {
    gprs: u8,
    fprs: u8,
    ret_fprs: u8,
    shadow_space: u32,
    vector_count: Option<u8>,
}

fn shared_shape(abi: Abi) -> SharedShape {
    match abi {
        // al = 8 is a valid upper bound of vector registers for any variadic callee.
        Abi::SysV64 => {
            SharedShape { gprs: 6, fprs: 8, ret_fprs: 2, shadow_space: 0, vector_count: Some(8) }
        }
        Abi::Win64 => {
            SharedShape { gprs: 4, fprs: 4, ret_fprs: 2, shadow_space: 32, vector_count: None }
        }
        Abi::Aapcs64 | Abi::Aapcs64Apple | Abi::Aapcs64Win => {
            SharedShape { gprs: 9, fprs: 8, ret_fprs: 4, shadow_space: 0, vector_count: None }
        }
    }
}

impl SharedThunk {
    /// The shared thunk that can run `plan`, made on first use; `None` when the plan does
    /// not fit one (or code memory for it was refused: the plan's own code is used then).
    fn for_plan(plan: &CallPlan) -> Option<&'static SharedThunk> {
        const COUNT: usize = Abi::ALL.len() * SHARED_STACK_SIZES.len();
        static THUNKS: [OnceLock<Option<SharedThunk>>; COUNT] = [const { OnceLock::new() }; COUNT];
        let size = SHARED_STACK_SIZES.iter().position(|&size| plan.stack_bytes <= size)?;
        let stack_bytes = SHARED_STACK_SIZES[size];
        if !fits_shared(plan, &shared_shape(plan.abi), stack_bytes) {
            return None;
        }
        let abi = Abi::ALL.iter().position(|&abi| abi == plan.abi)?;
        THUNKS[abi * SHARED_STACK_SIZES.len() + size]
            .get_or_init(|| SharedThunk::emit(plan.abi, stack_bytes).ok())
            .as_ref()
    }

    fn emit(abi: Abi, stack_bytes: u32) -> Result<SharedThunk> {
        let mut code = CodeBuffer::new();
        let (plan, block) = shared_plan(abi, stack_bytes);
        arch::emit_thunk(&plan, ArgSource::Block(&block), None, &mut code)?;
        let code = ExecutableCode::new(code.bytes())?;
        // SAFETY: sealed thunk code, entered with the `ThunkFn` convention (see `arch`).
        let entry = unsafe { std::mem::transmute::<usize, ThunkFn>(code.base()) };
        Ok(SharedThunk { entry, stack_bytes, _code: code })
    }
}

/// The plan a shared thunk is emitted from: one argument whose 8-byte pieces fill every
/// argument register and stack slot, and a result of every result register; and the blocks
/// it reads (the frame) and writes (the saved result registers).
fn shared_plan(abi: Abi, stack_bytes: u32) -> (CallPlan, BlockLayout) {
    let shape = shared_shape(abi);
    let word = |offset: usize, dest: Location, float: bool| Part {
        offset: offset as u32,
        size: 8,
        dest,
        ext: Extension::None,
        float,
    };
    let mut parts: Vec<Part> =
        (0..shape.gprs).map(|n| word(8 * n as usize, Location::ArgGpr(n), false)).collect();
    parts.extend(
        (0..shape.fprs).map(|n| word(SHARED_FPR_AT + 8 * n as usize, Location::Fpr(n), true)),
    );
    parts.extend(
        (0..stack_bytes / 8)
            .map(|i| word(SHARED_STACK + 8 * i as usize, Location::Stack(8 * i), false)),
    );
    let mut ret: Vec<Part> =
        (0..2).map(|n| word(8 * n as usize, Location::RetGpr(n), false)).collect();
    ret.extend(
        (0..shape.ret_fprs)
            .map(|n| word(SHARED_RET_FPR_AT + 8 * n as usize, Location::Fpr(n), true)),
    );
    let plan = CallPlan {
        abi,
        args: vec![ArgPlan::Direct(parts)],
        ret: RetPlan::Direct(ret),
        stack_bytes,
        shadow_space: shape.shadow_space,
        vector_count: shape.vector_count,
    };
    let block = BlockLayout {
        offsets: vec![0],
        size: (SHARED_STACK as u32) + stack_bytes,
        ret_size: SHARED_RESULT_BYTES as u32,
    };
    (plan, block)
}

/// True when every piece of `plan` has a place in the shared thunk's frame and results.
fn fits_shared(plan: &CallPlan, shape: &SharedShape, stack_bytes: u32) -> bool {
    let arg_place = |dest: Location| match dest {
        Location::ArgGpr(n) => n < shape.gprs,
        Location::Fpr(n) => n < shape.fprs,
        Location::Stack(offset) => offset.checked_add(8).is_some_and(|end| end <= stack_bytes),
        Location::RetGpr(_) => false,
    };
    let args = plan.args.iter().all(|arg| match arg {
        ArgPlan::Direct(parts) => parts.iter().all(|p| p.size <= 8 && arg_place(p.dest)),
        ArgPlan::Indirect { pointer } => {
            !matches!(pointer, Location::Fpr(_)) && arg_place(*pointer)
        }
    });
    let ret = match &plan.ret {
        RetPlan::Void => true,
        RetPlan::Direct(parts) => parts.iter().all(|p| {
            p.size <= 8
                && match p.dest {
                    Location::RetGpr(n) => n < 2,
                    Location::Fpr(n) => n < shape.ret_fprs,
                    Location::Stack(_) | Location::ArgGpr(_) => false,
                }
        }),
        RetPlan::Indirect { pointer } => {
            !matches!(pointer, Location::Fpr(_)) && arg_place(*pointer)
        }
        // The shared thunk stores no x87 registers.
        RetPlan::X87 { .. } => false,
    };
    args && ret && plan.shadow_space == shape.shadow_space
}

/// Where a piece going to `dest` sits in the shared frame.
fn frame_slot(dest: Location) -> usize {
    match dest {
        Location::ArgGpr(n) => 8 * n as usize,
        Location::Fpr(n) => SHARED_FPR_AT + 8 * n as usize,
        Location::Stack(offset) => SHARED_STACK + offset as usize,
        Location::RetGpr(_) => unreachable!("`fits_shared` admits argument places only"),
    }
}

/// Fills the shared frame with the words the plan's own thunk would load from `block`
/// (whose address is `block_addr`; the return block's is `ret_addr`).
fn fill_shared_frame(
    plan: &CallPlan,
    layout: &BlockLayout,
    block: &[u8],
    block_addr: u64,
    ret_addr: u64,
    frame: &mut [u8],
) {
    let mut put = |dest: Location, word: u64| {
        let at = frame_slot(dest);
        frame[at..at + 8].copy_from_slice(&word.to_le_bytes());
    };
    for (arg, &offset) in plan.args.iter().zip(&layout.offsets) {
        match arg {
            ArgPlan::Direct(parts) => {
                for part in parts {
                    let start = (offset + part.offset) as usize;
                    put(part.dest, load_word(block.get(start..).unwrap_or_default(), part));
                }
            }
            ArgPlan::Indirect { pointer } => put(*pointer, block_addr + u64::from(offset)),
        }
    }
    if let RetPlan::Indirect { pointer } = plan.ret {
        put(pointer, ret_addr);
    }
}

/// The register word a thunk loads for `part` from `bytes` (see `load_integer` in the
/// emitters): 1, 2 and 4-byte integers widened as the plan says (zero by default), vector
/// pieces of 4 or 8 bytes zero-extended, other sizes as 8 bytes (images are zero-padded).
fn load_word(bytes: &[u8], part: &Part) -> u64 {
    let width = match (part.dest, part.size) {
        (_, 1 | 2 | 4) => usize::from(part.size),
        _ => 8,
    };
    let mut word = [0u8; 8];
    let available = width.min(bytes.len());
    word[..available].copy_from_slice(&bytes[..available]);
    let word = u64::from_le_bytes(word);
    let float = matches!(part.dest, Location::Fpr(_));
    match (width, part.ext) {
        (1, Extension::Sign) if !float => word as u8 as i8 as u64,
        (2, Extension::Sign) if !float => word as u16 as i16 as u64,
        (4, Extension::Sign) if !float => word as u32 as i32 as u64,
        _ => word,
    }
}

/// Stores the result registers the shared thunk saved into the return block, as the plan's
/// own thunk would: whole general registers, vector pieces at their width.
fn store_shared_result(plan: &CallPlan, registers: &[u8], ret: &mut [u8]) {
    let RetPlan::Direct(parts) = &plan.ret else { return };
    for part in parts {
        let (from, width) = match part.dest {
            Location::RetGpr(n) => (8 * n as usize, 8),
            Location::Fpr(n) => {
                (SHARED_RET_FPR_AT + 8 * n as usize, if part.size == 4 { 4 } else { 8 })
            }
            Location::Stack(_) => continue,
            Location::ArgGpr(_) => unreachable!("`fits_shared` admits result registers only"),
        };
        let to = part.offset as usize;
        let width = width.min(ret.len().saturating_sub(to));
        ret[to..to + width].copy_from_slice(&registers[from..from + width]);
    }
}

impl Abi {
    /// True when this host can call functions of this convention: both x86-64 ones on an
    /// x86-64 host (Windows functions exist on Linux too, as `ms_abi` code), all three
    /// AArch64 ones on any AArch64 host (a function compiled for another OS's convention
    /// can exist in any process).
    pub fn runs_on_host(self) -> bool {
        match self {
            Abi::SysV64 | Abi::Win64 => cfg!(target_arch = "x86_64"),
            Abi::Aapcs64 | Abi::Aapcs64Apple | Abi::Aapcs64Win => cfg!(target_arch = "aarch64"),
        }
    }
}
