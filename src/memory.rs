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

/// Code is placed at 16-byte boundaries (what the CPUs fetch best).
const CODE_ALIGN: usize = 16;

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
struct Pages(region::Allocation);

impl std::fmt::Debug for Pages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pages({:#x}, {} bytes)", self.base(), self.0.len())
    }
}

// SAFETY: `Pages` owns an address range and nothing else; which thread maps, protects or
// unmaps it does not matter. Writes need `&mut WritableCode`, so they are exclusive.
unsafe impl Send for Pages {}
// SAFETY: through `&WritableCode` or `&ExecutableCode` the pages are only read, and writes
// need `&mut WritableCode`, which excludes every shared reference.
unsafe impl Sync for Pages {}

impl Pages {
    fn base(&self) -> usize {
        self.0.as_ptr::<u8>() as usize
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
        let pages = region::alloc(total, region::Protection::READ_WRITE)
            .map_err(|e| Error::Os { op: "allocating code memory", source: to_io(e) })?;
        Ok(WritableCode { pages: Pages(pages), capacity, written: 0 })
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
        // SAFETY: the code pages are `capacity` bytes, mapped read+write (only `seal`
        // changes that, and it consumes `self`) and zeroed by the system; `&mut self` makes
        // this the only reference to them.
        let pages = unsafe {
            std::slice::from_raw_parts_mut(self.pages.0.as_mut_ptr::<u8>(), self.capacity)
        };
        pages[offset..end].copy_from_slice(bytes);
        self.written = end;
        Some(offset)
    }

    /// The code written so far.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the first `written` bytes are mapped and readable, and no one writes them
        // while `&self` lives (writing needs `&mut self`).
        unsafe { std::slice::from_raw_parts(self.pages.0.as_ptr::<u8>(), self.written) }
    }

    /// Makes the code pages read+execute and flushes the instruction cache for them: the
    /// one way in this crate to make memory executable. The data pages stay read+write.
    ///
    /// # Errors
    /// The system refusing to change the protection: the code comes back unchanged.
    pub fn seal(self) -> std::result::Result<ExecutableCode, Unsealed> {
        // SAFETY: the code pages are this mapping's. Nothing has run from them (they were
        // never executable), and nothing writes them after this point: `self` is consumed
        // and `ExecutableCode` has no way to write.
        let protected = unsafe {
            region::protect(
                self.pages.0.as_ptr::<u8>(),
                self.capacity,
                region::Protection::READ_EXECUTE,
            )
        };
        if let Err(e) = protected {
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
        unsafe { std::slice::from_raw_parts(self.pages.0.as_ptr::<u8>(), self.len) }
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

/// Makes freshly written code visible to instruction fetch. x86-64 keeps its caches
/// coherent; AArch64 needs the data cache cleaned to the point of unification and the
/// instruction cache invalidated, line by line (Arm ARM, "Instruction cache maintenance").
#[cfg(target_arch = "aarch64")]
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
