//! W^X executable memory: one allocator for call thunks, `jitfn` code and trampolines.
//!
//! Code is *staged* into a writable chunk shared by many pieces of code, and the chunk is
//! *sealed* (made read+execute, the instruction cache flushed) the first time any piece in
//! it is about to run. After that the chunk is never written again, and later code goes to
//! a new chunk. So:
//! - no mapping is ever writable and executable at once;
//! - nothing that may be executing is ever made non-executable;
//! - code made together (say, the bindings a program declares before it starts calling)
//!   shares pages; the worst case (stage, run, stage, run, ...) would be one chunk per
//!   piece, so call thunks avoid it: a signature runs through a shared thunk until its
//!   own code's chunk is sealed (see `thunk.rs`).
//! - a chunk's pages are unmapped when the last piece of code in it is dropped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

/// Bytes per chunk (rounded up to whole pages, and up to the code's size if larger).
const CHUNK_BYTES: usize = 16 * 1024;

/// Code is placed at 16-byte boundaries (what the CPUs fetch best).
const CODE_ALIGN: usize = 16;

/// A piece of code in executable memory. It stays valid as long as this value (or a
/// clone) lives.
#[derive(Clone, Debug)]
pub struct Code {
    chunk: Arc<Chunk>,
    offset: usize,
    len: usize,
}

#[derive(Debug)]
struct Chunk {
    pages: Pages,
    sealed: AtomicBool,
}

/// The pages of a chunk.
struct Pages(region::Allocation);

impl std::fmt::Debug for Pages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pages({:#x}, {} bytes)", self.base(), self.len())
    }
}

// SAFETY: `Pages` owns an address range and nothing else. It is written only while the
// chunk is unsealed and only under the arena lock (so by one thread at a time), and every
// reader goes through `Code::entry`, which seals the chunk (under the same lock) before
// handing out an address to execute.
unsafe impl Send for Pages {}
// SAFETY: as above: shared access only reads, and writes are serialized by the arena lock.
unsafe impl Sync for Pages {}

impl Pages {
    fn base(&self) -> usize {
        self.0.as_ptr::<u8>() as usize
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

/// The chunk that new code is staged into, and how much of it is used.
struct Arena {
    open: Option<(Arc<Chunk>, usize)>,
}

static ARENA: Mutex<Arena> = Mutex::new(Arena { open: None });

fn arena() -> std::sync::MutexGuard<'static, Arena> {
    ARENA.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Code {
    /// Stages `bytes` as code; it becomes executable when [`Code::entry`] is first called.
    ///
    /// # Errors
    /// Empty code, or the system refusing memory.
    pub fn stage(bytes: &[u8]) -> Result<Code> {
        if bytes.is_empty() {
            return Err(Error::Memory("no machine code given".into()));
        }
        let mut arena = arena();
        let reusable = arena.open.as_ref().and_then(|(chunk, used)| {
            let offset = used.next_multiple_of(CODE_ALIGN);
            let fits = offset + bytes.len() <= chunk.pages.len();
            (fits && !chunk.sealed.load(Ordering::Acquire)).then(|| (chunk.clone(), offset))
        });
        let (chunk, offset) = match reusable {
            Some(found) => found,
            None => {
                let size = bytes.len().max(CHUNK_BYTES);
                let pages = region::alloc(size, region::Protection::READ_WRITE)
                    .map_err(|e| Error::Os { op: "allocating code memory", source: to_io(e) })?;
                (Arc::new(Chunk { pages: Pages(pages), sealed: AtomicBool::new(false) }), 0)
            }
        };
        // SAFETY: the chunk is unsealed, so its pages are read+write; `offset + len` lies
        // within them (checked above, or a fresh chunk at least `len` long); this range
        // has never been handed out; and the arena lock makes this the only writer.
        unsafe {
            let dest = (chunk.pages.base() + offset) as *mut u8;
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), dest, bytes.len());
        }
        arena.open = Some((chunk.clone(), offset + bytes.len()));
        Ok(Code { chunk, offset, len: bytes.len() })
    }

    /// Stages `bytes` and makes them executable at once.
    ///
    /// # Errors
    /// As [`Code::stage`] and [`Code::entry`].
    pub fn new_sealed(bytes: &[u8]) -> Result<Code> {
        let code = Code::stage(bytes)?;
        code.entry()?;
        Ok(code)
    }

    /// The address to execute, sealing the chunk first if it is not yet.
    ///
    /// # Errors
    /// The system refusing to change the protection.
    #[inline]
    pub fn entry(&self) -> Result<*const u8> {
        if !self.chunk.sealed.load(Ordering::Acquire) {
            self.chunk.seal()?;
        }
        Ok((self.chunk.pages.base() + self.offset) as *const u8)
    }

    /// True once the code is executable (and its chunk takes no more code).
    pub fn is_sealed(&self) -> bool {
        self.chunk.sealed.load(Ordering::Acquire)
    }

    /// The code's address (executable only after [`Code::entry`]).
    pub fn addr(&self) -> usize {
        self.chunk.pages.base() + self.offset
    }

    /// The length of the code in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the code is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A copy of the code's bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let _arena = arena();
        // SAFETY: the range was written in `stage` and is never written again; the pages
        // are readable in both states; the lock orders this read after that write.
        unsafe { std::slice::from_raw_parts(self.addr() as *const u8, self.len).to_vec() }
    }
}

impl Chunk {
    fn seal(self: &Arc<Chunk>) -> Result<()> {
        let mut arena = arena();
        if self.sealed.load(Ordering::Acquire) {
            return Ok(()); // another thread sealed it while we waited
        }
        // SAFETY: the pages belong to this chunk; no code in them has run yet (running
        // needs a sealed chunk), and nothing writes them after this point.
        unsafe {
            region::protect(
                self.pages.0.as_ptr::<u8>(),
                self.pages.len(),
                region::Protection::READ_EXECUTE,
            )
        }
        .map_err(|e| Error::Os { op: "making code memory executable", source: to_io(e) })?;
        flush_instruction_cache(self.pages.base(), self.pages.len());
        self.sealed.store(true, Ordering::Release);
        if arena.open.as_ref().is_some_and(|(open, _)| Arc::ptr_eq(open, self)) {
            arena.open = None;
        }
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
pub(crate) fn flush_instruction_cache(start: usize, len: usize) {
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
pub(crate) fn flush_instruction_cache(_start: usize, _len: usize) {}
