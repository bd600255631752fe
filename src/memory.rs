//! W^X executable memory: one path for call thunks, `jitfn` code and trampoline pages.
//!
//! Code is written into a [`WritableCode`] (pages mapped read+write, never executable)
//! and made executable by [`WritableCode::seal`], which consumes it and gives an
//! [`ExecutableCode`] (read+execute, never written again: it has no way to write). `seal`
//! is the only place that makes memory executable and flushes the instruction cache. So:
//! - no mapping is ever writable and executable at once;
//! - nothing that may be executing is ever made non-executable (executable code never
//!   changes protection again; it is unmapped only when its last owner is dropped);
//! - a [`WritableCode`] may have data pages after its code pages, which stay read+write
//!   and are never executable (the trampolines' slots).
//!
//! Call thunks are *staged* ([`Code::stage`]) into a chunk shared by many pieces of code:
//! a chunk is a `WritableCode` until the first time any piece in it is about to run, when
//! it is sealed (once), and later code goes to a new chunk. Code made together (say, the
//! bindings a program declares before it starts calling) shares pages; the worst case
//! (stage, run, stage, run, ...) would be one chunk per piece, so call thunks avoid it: a
//! signature runs through a shared thunk until its own code's chunk is sealed (see
//! `thunk.rs`). A chunk's pages are unmapped when the last piece of code in it is dropped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use crate::error::{Error, Result};

/// Bytes per chunk of staged code (rounded up to whole pages, and up to the code's size
/// if larger).
const CHUNK_BYTES: usize = 16 * 1024;

/// Code is placed at 64-byte boundaries: each piece starts a cache line, so a short
/// thunk's branches do not straddle the 32-byte fetch blocks that some x86 cores handle
/// slowly across (measured: a tail thunk staged at 16 mod 64 cost 0.3-0.4 ns more a call
/// than one at a line's start).
const CODE_ALIGN: usize = 64;

/// How many times [`WritableCode::seal`] succeeded in this process.
static SEALS: AtomicUsize = AtomicUsize::new(0);

/// How many mappings were made executable so far (each by [`WritableCode::seal`], the only
/// way): for tests that check that some code went this way.
pub fn seal_count() -> usize {
    SEALS.load(Ordering::Relaxed)
}

/// The size of a page, the unit of protection.
pub fn page_size() -> usize {
    region::page::size()
}

/// Pages mapped read+write, being written with code (and maybe followed by data pages).
#[derive(Debug)]
pub struct WritableCode {
    pages: Pages,
    /// Bytes of the code pages (whole pages); data pages, if any, follow.
    capacity: usize,
    /// Bytes written so far (the code is `[0, written)`).
    written: usize,
}

/// Pages mapped read+execute, holding finished code that is never written again (and maybe
/// followed by data pages, which stay read+write).
#[derive(Debug)]
pub struct ExecutableCode {
    pages: Pages,
    capacity: usize,
    len: usize,
}

/// A [`WritableCode`] that could not be sealed, with the reason; it is still writable and
/// may be sealed again.
#[derive(Debug)]
pub struct Unsealed {
    /// The code, unchanged.
    pub code: WritableCode,
    /// Why the system refused.
    pub error: Error,
}

impl From<Unsealed> for Error {
    fn from(unsealed: Unsealed) -> Error {
        unsealed.error
    }
}

/// A mapping owned by one `WritableCode` or `ExecutableCode`, unmapped on drop.
enum Pages {
    /// Pages whose protection changes by `mprotect` / `VirtualProtect`.
    Plain(region::Allocation),
    /// Apple silicon, in a process that may not make plain pages executable (the hardened
    /// runtime): a `MAP_JIT` mapping, whose code pages each thread sees either writable or
    /// executable, never both (see `jit`).
    #[cfg(all(target_vendor = "apple", target_arch = "aarch64"))]
    Jit(jit::Mapping),
}

impl std::fmt::Debug for Pages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pages({:#x}, {} bytes)", self.base(), self.len())
    }
}

// SAFETY: `Pages` owns an address range and nothing else; which thread maps, protects or
// unmaps it does not matter. Writes need `&mut WritableCode`, so they are exclusive.
unsafe impl Send for Pages {}
// SAFETY: through `&WritableCode` or `&ExecutableCode` the pages are only read, and writes
// need `&mut WritableCode`, which excludes every shared reference.
unsafe impl Sync for Pages {}

impl Pages {
    /// Maps `total` bytes read+write; the first `code` of them will hold code.
    fn map(total: usize, code: usize) -> Result<Pages> {
        let failed = |source| Error::Os { op: "allocating code memory", source };
        #[cfg(all(target_vendor = "apple", target_arch = "aarch64"))]
        if jit::needed() {
            return jit::Mapping::new(total, code).map(Pages::Jit).map_err(failed);
        }
        let _ = code;
        let pages =
            region::alloc(total, region::Protection::READ_WRITE).map_err(|e| failed(to_io(e)))?;
        Ok(Pages::Plain(pages))
    }

    fn ptr(&self) -> *mut u8 {
        match self {
            Pages::Plain(pages) => pages.as_ptr::<u8>().cast_mut(),
            #[cfg(all(target_vendor = "apple", target_arch = "aarch64"))]
            Pages::Jit(pages) => pages.ptr(),
        }
    }

    fn base(&self) -> usize {
        self.ptr() as usize
    }

    fn len(&self) -> usize {
        match self {
            Pages::Plain(pages) => pages.len(),
            #[cfg(all(target_vendor = "apple", target_arch = "aarch64"))]
            Pages::Jit(pages) => pages.len(),
        }
    }

    /// Copies `bytes` to `offset`.
    ///
    /// # Safety
    /// `offset + bytes.len()` is within the code pages, which are not executable for any
    /// thread that might run them meanwhile (unsealed), and nothing else accesses them now.
    unsafe fn write(&mut self, offset: usize, bytes: &[u8]) {
        let copy = || {
            // SAFETY: in bounds and exclusive, by this function's contract.
            unsafe {
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.ptr().add(offset), bytes.len())
            }
        };
        match self {
            Pages::Plain(_) => copy(),
            #[cfg(all(target_vendor = "apple", target_arch = "aarch64"))]
            Pages::Jit(_) => jit::writing(copy),
        }
    }

    /// Makes the first `code` bytes read+execute.
    fn make_executable(&self, code: usize) -> std::result::Result<(), region::Error> {
        match self {
            // SAFETY: the code pages are this mapping's; the caller (`seal`) guarantees
            // nothing has run from them and nothing writes them afterwards.
            Pages::Plain(_) => unsafe {
                region::protect(self.ptr().cast_const(), code, region::Protection::READ_EXECUTE)
            },
            // Executable already for every thread in its (default) execute mode; no thread
            // turns its write mode on for these pages again (only `write` does, on
            // unsealed code).
            #[cfg(all(target_vendor = "apple", target_arch = "aarch64"))]
            Pages::Jit(_) => Ok(()),
        }
    }
}

impl WritableCode {
    /// Maps `code_bytes` (rounded up to whole pages) for code, followed by `data_bytes`
    /// (rounded up too) for data, all read+write.
    ///
    /// # Errors
    /// No code bytes asked for, or the system refusing memory.
    pub fn new(code_bytes: usize, data_bytes: usize) -> Result<WritableCode> {
        let page = page_size();
        let capacity = whole_pages(code_bytes, page)?;
        let total = capacity
            .checked_add(whole_pages(data_bytes, page)?)
            .ok_or_else(|| Error::Memory("code memory size out of range".into()))?;
        if capacity == 0 {
            return Err(Error::Memory("no machine code given".into()));
        }
        let pages = Pages::map(total, capacity)?;
        Ok(WritableCode { pages, capacity, written: 0 })
    }

    /// The address of the first code byte (where it will be executable once sealed).
    pub fn base(&self) -> usize {
        self.pages.base()
    }

    /// The bytes of the code pages.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Writes `bytes` after the code written so far, at the next 16-byte boundary, and
    /// returns their offset; `None` when they do not fit the code pages.
    pub fn append(&mut self, bytes: &[u8]) -> Option<usize> {
        let offset = self.written.next_multiple_of(CODE_ALIGN);
        let end = offset.checked_add(bytes.len()).filter(|&end| end <= self.capacity)?;
        // SAFETY: `end` is within the code pages, which are writable and executable for
        // no thread (only `seal` changes that, and it consumes `self`); `&mut self` makes
        // this the only reference to them.
        unsafe { self.pages.write(offset, bytes) };
        self.written = end;
        Some(offset)
    }

    /// The code written so far.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the first `written` bytes are mapped and readable, and no one writes them
        // while `&self` lives (writing needs `&mut self`).
        unsafe { std::slice::from_raw_parts(self.pages.ptr(), self.written) }
    }

    /// Makes the code pages read+execute and flushes the instruction cache for them: the
    /// one way in this crate to make memory executable. The data pages stay read+write.
    ///
    /// # Errors
    /// The system refusing to change the protection: the code comes back unchanged.
    pub fn seal(self) -> std::result::Result<ExecutableCode, Unsealed> {
        // Nothing has run from the code pages (they were never executable), and nothing
        // writes them after this point: `self` is consumed and `ExecutableCode` has no way
        // to write.
        if let Err(e) = self.pages.make_executable(self.capacity) {
            let error = Error::Os { op: "making code memory executable", source: to_io(e) };
            return Err(Unsealed { code: self, error });
        }
        flush_instruction_cache(self.pages.base(), self.written);
        SEALS.fetch_add(1, Ordering::Relaxed);
        Ok(ExecutableCode { pages: self.pages, capacity: self.capacity, len: self.written })
    }
}

impl ExecutableCode {
    /// Maps `bytes` as code and seals them at once (in pages of their own).
    ///
    /// # Errors
    /// Empty code, or the system refusing memory or the protection.
    pub fn new(bytes: &[u8]) -> Result<ExecutableCode> {
        let mut code = WritableCode::new(bytes.len(), 0)?;
        code.append(bytes)
            .ok_or_else(|| Error::Memory("machine code larger than its pages".into()))?;
        Ok(code.seal()?)
    }

    /// The address of the first code byte.
    pub fn base(&self) -> usize {
        self.pages.base()
    }

    /// The code (what was written before sealing).
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the first `len` bytes are mapped read+execute (readable) and never
        // written again.
        unsafe { std::slice::from_raw_parts(self.pages.ptr(), self.len) }
    }

    /// The address of the data pages after the code pages (read+write, never executable);
    /// meaningful only if the code was made with data pages.
    pub fn data(&self) -> usize {
        self.base() + self.capacity
    }
}

fn whole_pages(bytes: usize, page: usize) -> Result<usize> {
    bytes
        .checked_next_multiple_of(page)
        .ok_or_else(|| Error::Memory("code memory size out of range".into()))
}

/// A piece of staged code in a chunk shared with other pieces. It stays valid as long as
/// this value (or a clone) lives.
#[derive(Clone, Debug)]
pub struct Code {
    chunk: Arc<Chunk>,
    offset: usize,
    len: usize,
}

/// A chunk of staged code: its pages are writable until the chunk is sealed, and then
/// executable. Exactly one of the two fields holds them (except inside `Chunk::seal`,
/// under the lock), and the move from the first to the second happens once.
#[derive(Debug)]
struct Chunk {
    /// Where the pages are (in both states).
    base: usize,
    writable: Mutex<Option<WritableCode>>,
    executable: OnceLock<ExecutableCode>,
}

/// The chunk that new code is staged into.
static OPEN: Mutex<Option<Arc<Chunk>>> = Mutex::new(None);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Code {
    /// Stages `bytes` as code; it becomes executable when [`Code::entry`] is first called
    /// on it or on any other code in its chunk.
    ///
    /// # Errors
    /// Empty code, or the system refusing memory.
    pub fn stage(bytes: &[u8]) -> Result<Code> {
        if bytes.is_empty() {
            return Err(Error::Memory("no machine code given".into()));
        }
        // Lock order: `OPEN`, then a chunk's `writable` (`Chunk::seal` takes only the latter).
        let mut open = lock(&OPEN);
        if let Some(chunk) = open.as_ref() {
            if let Some(offset) = lock(&chunk.writable).as_mut().and_then(|w| w.append(bytes)) {
                return Ok(Code { chunk: chunk.clone(), offset, len: bytes.len() });
            }
        }
        let mut pages = WritableCode::new(bytes.len().max(CHUNK_BYTES), 0)?;
        let offset = pages
            .append(bytes)
            .ok_or_else(|| Error::Memory("machine code larger than its chunk".into()))?;
        let base = pages.base();
        let writable = Mutex::new(Some(pages));
        let chunk = Arc::new(Chunk { base, writable, executable: OnceLock::new() });
        *open = Some(chunk.clone());
        Ok(Code { chunk, offset, len: bytes.len() })
    }

    /// The address to execute, sealing the chunk first if it is not yet.
    ///
    /// # Errors
    /// The system refusing to change the protection.
    #[inline]
    pub fn entry(&self) -> Result<*const u8> {
        if self.chunk.executable.get().is_none() {
            self.chunk.seal()?;
        }
        Ok(self.addr() as *const u8)
    }

    /// Where the code lies (executable only once [`Code::entry`] sealed it).
    pub fn addr(&self) -> usize {
        self.chunk.base + self.offset
    }

    /// True once the code is executable (and its chunk takes no more code).
    pub fn is_sealed(&self) -> bool {
        self.chunk.executable.get().is_some()
    }

    /// A copy of the code's bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let range = self.offset..self.offset + self.len;
        // The lock keeps the chunk in one state while it is read.
        let writable = lock(&self.chunk.writable);
        let chunk_bytes = match (writable.as_ref(), self.chunk.executable.get()) {
            (Some(code), _) => code.bytes(),
            (None, Some(code)) => code.bytes(),
            (None, None) => &[],
        };
        chunk_bytes.get(range).map(<[u8]>::to_vec).unwrap_or_default()
    }
}

impl Chunk {
    /// Seals the chunk unless another thread did meanwhile.
    #[cold]
    fn seal(&self) -> Result<()> {
        let mut writable = lock(&self.writable);
        if self.executable.get().is_some() {
            return Ok(());
        }
        let pages = writable
            .take()
            .ok_or_else(|| Error::Memory("a code chunk neither writable nor executable".into()))?;
        let sealed = pages.seal().map_err(|unsealed| {
            *writable = Some(unsealed.code);
            unsealed.error
        })?;
        // `executable` is set only here, under the lock, so it is still empty.
        self.executable.get_or_init(|| sealed);
        Ok(())
    }
}

fn to_io(e: region::Error) -> std::io::Error {
    match e {
        region::Error::SystemCall(io) => io,
        other => std::io::Error::other(other.to_string()),
    }
}

/// Apple silicon's executable memory, as Apple's "Porting just-in-time compilers to Apple
/// silicon" describes it. A process under the hardened runtime may not make plain pages
/// executable; it maps code with `MAP_JIT` (with the `com.apple.security.cs.allow-jit`
/// entitlement) instead. Such pages are, for each thread, either writable (after
/// `pthread_jit_write_protect_np(0)`) or executable (the default, and after
/// `pthread_jit_write_protect_np(1)`), never both. jitcall uses them only where the
/// process needs it (a probe finds plain pages refused), writes code only inside
/// [`writing`], which runs no generated code, and flushes with `sys_icache_invalidate`.
#[cfg(all(target_vendor = "apple", target_arch = "aarch64"))]
mod jit {
    use std::ffi::{c_int, c_void};
    use std::sync::OnceLock;

    const PROT_READ: c_int = 0x1;
    const PROT_WRITE: c_int = 0x2;
    const PROT_EXEC: c_int = 0x4;
    const MAP_PRIVATE: c_int = 0x2;
    const MAP_ANON: c_int = 0x1000;
    const MAP_JIT: c_int = 0x800;

    extern "C" {
        fn mmap(
            addr: *mut c_void,
            len: usize,
            prot: c_int,
            flags: c_int,
            fd: c_int,
            off: i64,
        ) -> *mut c_void;
        fn munmap(addr: *mut c_void, len: usize) -> c_int;
        fn pthread_jit_write_protect_np(enabled: c_int);
        pub(super) fn sys_icache_invalidate(start: *mut c_void, len: usize);
    }

    /// True when plain pages cannot be made executable in this process (tried once).
    pub(super) fn needed() -> bool {
        static NEEDED: OnceLock<bool> = OnceLock::new();
        *NEEDED.get_or_init(|| {
            let Ok(probe) = region::alloc(super::page_size(), region::Protection::READ_WRITE)
            else {
                return false;
            };
            // SAFETY: the probe page is ours, holds nothing and is never run or written.
            let made = unsafe {
                region::protect(probe.as_ptr::<u8>(), probe.len(), region::Protection::READ_EXECUTE)
            };
            made.is_err()
        })
    }

    /// A `MAP_JIT` mapping: code pages, then data pages that are plain read+write.
    pub(super) struct Mapping {
        base: *mut u8,
        len: usize,
    }

    impl Mapping {
        pub(super) fn new(len: usize, code: usize) -> std::io::Result<Mapping> {
            let prot = PROT_READ | PROT_WRITE | PROT_EXEC;
            // SAFETY: a new anonymous mapping where the system chooses: it overlaps nothing.
            let base = unsafe {
                mmap(std::ptr::null_mut(), len, prot, MAP_PRIVATE | MAP_ANON | MAP_JIT, -1, 0)
            };
            if base as isize == -1 {
                return Err(std::io::Error::last_os_error());
            }
            let mapping = Mapping { base: base.cast(), len };
            if len > code {
                // SAFETY: the data pages are this new mapping's and hold nothing yet.
                unsafe {
                    region::protect(
                        mapping.base.add(code).cast_const(),
                        len - code,
                        region::Protection::READ_WRITE,
                    )
                }
                .map_err(super::to_io)?;
            }
            Ok(mapping)
        }

        pub(super) fn ptr(&self) -> *mut u8 {
            self.base
        }

        pub(super) fn len(&self) -> usize {
            self.len
        }
    }

    impl Drop for Mapping {
        fn drop(&mut self) {
            // SAFETY: the mapping is this value's, and its owner (`Pages`) is dropped only
            // when no code in it can run any more.
            unsafe { munmap(self.base.cast(), self.len) };
        }
    }

    /// Runs `write` with this thread's `MAP_JIT` pages writable (and not executable for
    /// it), then makes them executable again, even if `write` panics.
    pub(super) fn writing<T>(write: impl FnOnce() -> T) -> T {
        struct Protect;
        impl Drop for Protect {
            fn drop(&mut self) {
                // SAFETY: changes only this thread's view of its MAP_JIT pages.
                unsafe { pthread_jit_write_protect_np(1) };
            }
        }
        // SAFETY: as above; `write` copies bytes and runs no generated code, so nothing on
        // this thread executes MAP_JIT pages while they are writable for it.
        unsafe { pthread_jit_write_protect_np(0) };
        let _protect = Protect;
        write()
    }
}

/// Makes freshly written code visible to instruction fetch: on Apple, the system's
/// `sys_icache_invalidate`.
#[cfg(all(target_vendor = "apple", target_arch = "aarch64"))]
fn flush_instruction_cache(start: usize, len: usize) {
    // SAFETY: cache maintenance on this process's mapped code has no other effect.
    unsafe { jit::sys_icache_invalidate(start as *mut std::ffi::c_void, len) };
}

/// Makes freshly written code visible to instruction fetch: on Windows,
/// `FlushInstructionCache`.
#[cfg(all(windows, target_arch = "aarch64"))]
fn flush_instruction_cache(start: usize, len: usize) {
    use std::ffi::c_void;
    #[link(name = "kernel32")]
    extern "system" {
        fn GetCurrentProcess() -> *mut c_void;
        fn FlushInstructionCache(process: *mut c_void, base: *const c_void, size: usize) -> i32;
    }
    // SAFETY: flushing this process's mapped code has no other effect. It can fail only for
    // a bad process handle, and the current process's pseudo-handle is always valid.
    unsafe { FlushInstructionCache(GetCurrentProcess(), start as *const c_void, len) };
}

/// Makes freshly written code visible to instruction fetch. x86-64 keeps its caches
/// coherent; AArch64 needs the data cache cleaned to the point of unification and the
/// instruction cache invalidated, line by line (Arm ARM, "Instruction cache maintenance").
#[cfg(all(target_arch = "aarch64", not(target_vendor = "apple"), not(windows)))]
fn flush_instruction_cache(start: usize, len: usize) {
    use std::arch::asm;
    let ctr: u64;
    // SAFETY: CTR_EL0 is readable from user space on Linux and the BSDs.
    unsafe { asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack)) };
    let dline = 4usize << ((ctr >> 16) & 0xF);
    let iline = 4usize << (ctr & 0xF);
    let end = start + len;
    let mut addr = start & !(dline - 1);
    while addr < end {
        // SAFETY: cache maintenance by address on mapped, readable memory has no other effect.
        unsafe { asm!("dc cvau, {}", in(reg) addr, options(nostack)) };
        addr += dline;
    }
    // SAFETY: a barrier has no operands.
    unsafe { asm!("dsb ish", options(nostack)) };
    let mut addr = start & !(iline - 1);
    while addr < end {
        // SAFETY: as for `dc cvau`.
        unsafe { asm!("ic ivau, {}", in(reg) addr, options(nostack)) };
        addr += iline;
    }
    // SAFETY: barriers have no operands.
    unsafe { asm!("dsb ish", "isb", options(nostack)) };
}

#[cfg(not(target_arch = "aarch64"))]
fn flush_instruction_cache(_start: usize, _len: usize) {}
