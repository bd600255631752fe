//! `ffi_cif` preparation and calls.
//!
//! A prepared signature lives in an append-only table for the life of the process; the
//! cif's `flags` field (private to libffi) holds its index plus one. Preparing a cif looks
//! the signature up by its *structural* key (the types' codes, sizes and layouts, not
//! their addresses), built on the stack: first in a lock-free, direct-mapped cache of
//! table indices shared by all threads (a slot is only a hint: the entry's own key is
//! compared), then in this thread's map (no lock), then in the process's, so that
//! ctypes' prepare-on-every-call costs a key walk, a hash and one compare.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Mutex, OnceLock};

use jitcall::{Abi, CompiledSignature, Pointer, Prim, Signature, Type};

use crate::types::{self, FfiType, Key, FFI_TYPE_COMPLEX, FFI_TYPE_FLOAT, FFI_TYPE_STRUCT};
use crate::Status;

/// `ffi_abi` values of x86-64 (`FFI_FIRST_ABI` = 1 .. `FFI_LAST_ABI` = 5).
#[cfg(target_arch = "x86_64")]
pub mod abi {
    pub const FIRST: u32 = 1;
    pub const UNIX64: u32 = 2;
    pub const WIN64: u32 = 3;
    pub const GNUW64: u32 = 4;
    pub const LAST: u32 = 5;
}

/// `ffi_abi` values of AArch64 Linux (`FFI_SYSV` = 1, `FFI_WIN64` = 2).
#[cfg(target_arch = "aarch64")]
pub mod abi {
    pub const FIRST: u32 = 0;
    pub const SYSV: u32 = 1;
    pub const WIN64: u32 = 2;
    pub const LAST: u32 = 3;
}

/// `ffi_cif` as ffi.h declares it (no extra fields on x86-64 and AArch64 Linux).
#[repr(C)]
#[derive(Debug)]
pub struct FfiCif {
    pub abi: u32,
    pub nargs: u32,
    pub arg_types: *mut *mut FfiType,
    pub rtype: *mut FfiType,
    pub bytes: u32,
    pub flags: u32,
}

/// The jitcall convention of an `ffi_abi`, or `FFI_BAD_ABI`.
fn jitcall_abi(value: u32) -> Result<Abi, Status> {
    if !(value > abi::FIRST && value < abi::LAST) {
        return Err(Status::BadAbi);
    }
    cfg_abi(value)
}

#[cfg(target_arch = "x86_64")]
fn cfg_abi(value: u32) -> Result<Abi, Status> {
    match value {
        abi::UNIX64 => Ok(Abi::SysV64),
        abi::WIN64 | abi::GNUW64 => Ok(Abi::Win64),
        _ => Err(Status::BadAbi),
    }
}

#[cfg(target_arch = "aarch64")]
fn cfg_abi(value: u32) -> Result<Abi, Status> {
    match value {
        abi::SYSV => Ok(Abi::Aapcs64),
        _ => Err(Status::BadAbi),
    }
}

/// How a result reaches `rvalue`.
#[derive(Debug, Clone, Copy)]
enum RetShape {
    Void,
    /// An integer narrower than `ffi_arg`: widened to 8 bytes (sign-extended if signed).
    Widened {
        size: u8,
        signed: bool,
    },
    /// Exactly the type's bytes.
    Exact(usize),
}

/// A prepared signature.
#[derive(Debug)]
pub struct Prepared {
    pub sig: CompiledSignature,
    /// The structural key it was prepared for (what a cache hit is checked against).
    key: Box<[u64]>,
    /// Its index in the table.
    index: u32,
    abi: u32,
    nargs: u32,
    rtype_code: u16,
    ret: RetShape,
    bytes: u32,
}

// ---------------------------------------------------------------------------------------
// the append-only table

const FIRST_SEGMENT: usize = 64;
const SEGMENTS: usize = 24;

type Segment = [OnceLock<Prepared>];

/// Segment k holds `FIRST_SEGMENT << k` entries; a segment, once published, never moves.
static SEGMENT_PTRS: [AtomicPtr<OnceLock<Prepared>>; SEGMENTS] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; SEGMENTS];

/// Hashes key words with one multiply-rotate step each: keys are short, and the maps need
/// spread, not secrecy.
#[derive(Default)]
struct WordHasher(u64);

impl std::hash::Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    /// A `[u64]` key arrives here as its bytes: taken a word at a time.
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7C_C1_B7_27_22_0A_95);
    }

    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
}

/// A map from structural keys. (`[u64]` hashes its length and then each word.)
type KeyMap = HashMap<Box<[u64]>, u32, std::hash::BuildHasherDefault<WordHasher>>;

struct Registry {
    by_key: KeyMap,
    len: usize,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

thread_local! {
    /// Keys this thread has prepared, with their indices: repeated preparations that miss
    /// the cache take no lock.
    static KNOWN: RefCell<KeyMap> = RefCell::new(KeyMap::default());
}

const CACHE_BITS: u32 = 10;

/// Prepared signatures by key hash (NULL: empty). Written on a miss, raced freely: a
/// reader compares the entry's key with its own, so a stale hint is only a miss.
static CACHE: [AtomicPtr<Prepared>; 1 << CACHE_BITS] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; 1 << CACHE_BITS];

fn cache_slot(key: &Key) -> &'static AtomicPtr<Prepared> {
    &CACHE[(key.hash() >> (64 - CACHE_BITS)) as usize]
}

/// The prepared signature with this key, if the cache names it.
fn cached(key: &Key) -> Option<&'static Prepared> {
    let found = cache_slot(key).load(Ordering::Acquire);
    // SAFETY: the cache holds NULL or entries of the table, which are never changed nor
    // freed once set, and were set before their address was stored (Release/Acquire).
    let prepared = unsafe { found.as_ref() }?;
    key.equals(&prepared.key).then_some(prepared)
}

/// Stores the signature at `index + 1 == flags` in the cache slot of the signature
/// `int(args)` (default ABI): what a hash collision does, for the tests.
#[cfg(test)]
pub(crate) fn poison_cache_slot(args: &[*mut FfiType], flags: u32) {
    let mut key = Key::default();
    #[cfg(target_arch = "x86_64")]
    key.push(u64::from(abi::UNIX64));
    #[cfg(target_arch = "aarch64")]
    key.push(u64::from(abi::SYSV));
    key.push(u64::MAX);
    key.push(args.len() as u64);
    key.push(u64::from(types::FFI_TYPE_SINT32));
    // SAFETY: the tests pass laid-out scalar types.
    let taken = unsafe { key.push_scalars(args.as_ptr(), args.len(), |_| ()) };
    assert_eq!(taken, args.len());
    let prepared = entry(flags as usize - 1).expect("a prepared signature");
    assert!(!key.equals(&prepared.key));
    cache_slot(&key).store((prepared as *const Prepared).cast_mut(), Ordering::Release);
}

pub(crate) fn segment_of(index: usize) -> (usize, usize) {
    let j = index + FIRST_SEGMENT;
    let k =
        (usize::BITS - 1 - j.leading_zeros()) as usize - FIRST_SEGMENT.trailing_zeros() as usize;
    (k, j - (FIRST_SEGMENT << k))
}

/// The prepared signature at `index`, if the table has one there.
pub fn entry(index: usize) -> Option<&'static Prepared> {
    let (k, offset) = segment_of(index);
    let base = SEGMENT_PTRS.get(k)?.load(Ordering::Acquire);
    if base.is_null() {
        return None;
    }
    // SAFETY: a published segment is a leaked slice of `FIRST_SEGMENT << k` cells, and
    // `offset` is below that by construction of `segment_of`.
    unsafe { &*base.add(offset) }.get()
}

/// Appends a prepared signature (or finds the one with the same key) and returns its index.
fn insert(key: &[u64], make: impl FnOnce() -> Result<Prepared, Status>) -> Result<u32, Status> {
    let mut guard = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
    let registry = guard.get_or_insert_with(|| Registry { by_key: KeyMap::default(), len: 0 });
    if let Some(&index) = registry.by_key.get(key) {
        return Ok(index);
    }
    let mut prepared = make()?;
    let index = registry.len;
    prepared.index = u32::try_from(index).map_err(|_| Status::BadTypedef)?;
    let (k, offset) = segment_of(index);
    let cell = SEGMENT_PTRS.get(k).ok_or(Status::BadTypedef)?;
    let mut base = cell.load(Ordering::Acquire);
    if base.is_null() {
        let segment: Box<Segment> = (0..FIRST_SEGMENT << k).map(|_| OnceLock::new()).collect();
        base = Box::leak(segment).as_mut_ptr();
        cell.store(base, Ordering::Release);
    }
    // SAFETY: as in `entry`; the registry lock makes this the only writer of new cells.
    let _ = unsafe { &*base.add(offset) }.set(prepared);
    let index = index as u32; // checked above
    registry.by_key.insert(key.into(), index);
    registry.len += 1;
    Ok(index)
}

// ---------------------------------------------------------------------------------------
// preparation

/// `ffi_prep_cif` / `ffi_prep_cif_var`: checks, fills in the cif, and finds or compiles
/// the signature. `nfixed` is `None` for a non-variadic cif.
///
/// # Safety
/// `cif` is writable; `rtype` and the `ntotal` pointers at `atypes` are valid types (or
/// NULL, which is refused).
pub unsafe fn prep(
    cif: *mut FfiCif,
    abi_value: u32,
    nfixed: Option<u32>,
    ntotal: u32,
    rtype: *mut FfiType,
    atypes: *mut *mut FfiType,
) -> Status {
    if cif.is_null() {
        return Status::BadTypedef;
    }
    // SAFETY: forwarded from the caller.
    match unsafe { prep_inner(abi_value, nfixed, ntotal, rtype, atypes) } {
        Ok(prepared) => {
            // SAFETY: the caller guarantees `cif` is writable.
            unsafe {
                cif.write(FfiCif {
                    abi: abi_value,
                    nargs: ntotal,
                    arg_types: atypes,
                    rtype,
                    bytes: prepared.bytes,
                    flags: prepared.index + 1,
                })
            };
            Status::Ok
        }
        Err(status) => status,
    }
}

/// # Safety
/// As [`prep`].
unsafe fn prep_inner(
    abi_value: u32,
    nfixed: Option<u32>,
    ntotal: u32,
    rtype: *mut FfiType,
    atypes: *mut *mut FfiType,
) -> Result<&'static Prepared, Status> {
    let abi = jitcall_abi(abi_value)?;
    if ntotal > 0 && atypes.is_null() {
        return Err(Status::BadTypedef);
    }
    if let Some(n) = nfixed {
        if n > ntotal {
            return Err(Status::BadArgtype);
        }
    }
    let args: &[*mut FfiType] = if ntotal == 0 {
        &[]
    } else {
        // SAFETY: the caller guarantees `ntotal` readable pointers at `atypes`.
        unsafe { std::slice::from_raw_parts(atypes, ntotal as usize) }
    };
    let mut key = Key::default();
    key.push(u64::from(abi_value));
    key.push(nfixed.map_or(u64::MAX, u64::from));
    key.push(u64::from(ntotal));
    // SAFETY: forwarded from the caller.
    unsafe { types::prepare(rtype, &mut key, 0)? };
    let mut done = 0;
    while done < args.len() {
        // SAFETY: forwarded from the caller.
        done += unsafe { key.push_scalars(args[done..].as_ptr(), args.len() - done, |_| ()) };
        if let Some(&t) = args.get(done) {
            // SAFETY: forwarded from the caller.
            unsafe { types::prepare(t, &mut key, 1)? };
            done += 1;
        }
    }
    if let Some(n) = nfixed {
        check_promoted(&args[n as usize..])?;
    }
    if let Some(found) = cached(&key) {
        return Ok(found);
    }
    // SAFETY: forwarded from the caller (the types are prepared).
    let index = known_or_insert(key.words(), || unsafe {
        compile(abi, abi_value, nfixed, rtype, args, key.words())
    })?;
    let prepared = entry(index as usize).ok_or(Status::BadTypedef)?;
    cache_slot(&key).store((prepared as *const Prepared).cast_mut(), Ordering::Release);
    Ok(prepared)
}

/// The index of `key` in this thread's map, or else in the process's table (compiled by
/// `make` if new there).
fn known_or_insert(
    key: &[u64],
    make: impl FnOnce() -> Result<Prepared, Status>,
) -> Result<u32, Status> {
    KNOWN.with(|known| {
        // Only a re-entrant preparation on this thread finds the map taken: it goes to
        // the process's table directly.
        let Ok(mut known) = known.try_borrow_mut() else { return insert(key, make) };
        if let Some(&found) = known.get(key) {
            return Ok(found);
        }
        let index = insert(key, make)?;
        known.insert(key.into(), index);
        Ok(index)
    })
}

/// libffi refuses variadic arguments that C's default promotions would have changed:
/// `float` and integers narrower than `int`.
fn check_promoted(variadic: &[*mut FfiType]) -> Result<(), Status> {
    for &t in variadic {
        // SAFETY: `prepare` checked every type pointer.
        let t = unsafe { &*t };
        let aggregate = t.type_ == FFI_TYPE_STRUCT || t.type_ == FFI_TYPE_COMPLEX;
        if t.type_ == FFI_TYPE_FLOAT || (!aggregate && t.size < 4) {
            return Err(Status::BadArgtype);
        }
    }
    Ok(())
}

/// # Safety
/// The types are prepared (see [`types::prepare`]).
unsafe fn compile(
    abi: Abi,
    abi_value: u32,
    nfixed: Option<u32>,
    rtype: *mut FfiType,
    args: &[*mut FfiType],
    key: &[u64],
) -> Result<Prepared, Status> {
    // SAFETY: forwarded from the caller.
    let ret = unsafe { types::to_jitcall(rtype)? };
    let mut params = Vec::with_capacity(args.len());
    for &t in args {
        // SAFETY: forwarded from the caller.
        let ty = unsafe { types::to_jitcall(t)? };
        if ty.is_void() {
            return Err(Status::BadTypedef);
        }
        params.push(ty);
    }
    let shape = ret_shape(&ret);
    let signature = match nfixed {
        // jitcall places the variadic part by the convention's rules (Win64: a double
        // in its integer register too).
        Some(n) => {
            let variadic = params.split_off(n as usize);
            Signature::variadic(abi, ret, params, variadic)
        }
        None => Signature::new(abi, ret, params),
    };
    let sig = CompiledSignature::new(signature).map_err(|_| Status::BadTypedef)?;
    let bytes = sig.plan().stack_bytes;
    // SAFETY: `prepare` checked `rtype`.
    let rtype_code = unsafe { (*rtype).type_ };
    Ok(Prepared {
        sig,
        key: key.into(),
        index: 0,
        abi: abi_value,
        nargs: args.len() as u32,
        rtype_code,
        ret: shape,
        bytes,
    })
}

fn ret_shape(ret: &Type) -> RetShape {
    match ret.prim() {
        Some(Prim::Void) => RetShape::Void,
        Some(p) if !p.is_float() && p.size() < 8 => {
            RetShape::Widened { size: p.size() as u8, signed: p.is_signed() }
        }
        _ => RetShape::Exact(ret.size()),
    }
}

// ---------------------------------------------------------------------------------------
// calls

/// The prepared signature of a cif: the one its `flags` names when the cif still matches
/// it, else the cif is prepared again from its fields.
///
/// # Safety
/// `cif` is a valid cif whose type pointers are valid.
#[inline]
pub unsafe fn prepared_of(cif: *mut FfiCif) -> Option<&'static Prepared> {
    // SAFETY: the caller guarantees a valid cif.
    let c = unsafe { &*cif };
    let matches = |p: &Prepared| {
        // SAFETY: as above, `rtype` is valid when not NULL.
        p.abi == c.abi
            && p.nargs == c.nargs
            && !c.rtype.is_null()
            && unsafe { (*c.rtype).type_ } == p.rtype_code
    };
    if let Some(p) = (c.flags as usize).checked_sub(1).and_then(entry) {
        if matches(p) {
            return Some(p);
        }
    }
    // Not prepared by us, or changed since: prepare it again (non-variadic).
    // SAFETY: forwarded from the caller.
    match unsafe { prep(cif, c.abi, None, c.nargs, c.rtype, c.arg_types) } {
        Status::Ok => (c.flags as usize).checked_sub(1).and_then(entry),
        _ => None,
    }
}

/// `ffi_call`: calls `target` with the arguments `avalue` points to and writes the result
/// to `rvalue` (integers narrower than `ffi_arg` widened to it; NULL discards it).
///
/// # Safety
/// libffi's contract: `cif` prepared, `target` a function of its signature, `avalue`
/// holding `nargs` valid argument pointers, `rvalue` NULL or large enough.
#[inline]
pub unsafe fn call(
    prepared: &Prepared,
    target: *const c_void,
    rvalue: *mut c_void,
    avalue: *const *const u8,
) {
    let args: &[*const u8] = if prepared.nargs == 0 {
        &[]
    } else {
        // SAFETY: the caller guarantees `nargs` pointers at `avalue`.
        unsafe { std::slice::from_raw_parts(avalue, prepared.nargs as usize) }
    };
    let target = Pointer::from_ptr(target);
    match prepared.ret {
        RetShape::Widened { size, signed } => {
            let mut word = 0u64;
            // SAFETY: forwarded from the caller; `word` has room for the narrow result.
            let _ =
                unsafe { prepared.sig.call_native(target, args, (&mut word as *mut u64).cast()) };
            // The result is read back at its own width: a wider load of a narrower store
            // that was just made would stall the store forwarding.
            let at = (&word as *const u64).cast::<u8>();
            // SAFETY: `word` holds 8 initialized bytes; `size` is 1, 2 or 4.
            let narrow = unsafe {
                match size {
                    1 => u64::from(at.read()),
                    2 => u64::from(at.cast::<u16>().read()),
                    _ => u64::from(at.cast::<u32>().read()),
                }
            };
            let shift = 64 - 8 * u32::from(size);
            let widened =
                if signed { (((narrow << shift) as i64) >> shift) as u64 } else { narrow };
            if !rvalue.is_null() {
                // SAFETY: libffi's contract: `rvalue` has room for an `ffi_arg`.
                unsafe { rvalue.cast::<u64>().write_unaligned(widened) };
            }
        }
        RetShape::Exact(size) if !rvalue.is_null() => {
            let _ = size;
            // SAFETY: forwarded from the caller.
            let _ = unsafe { prepared.sig.call_native(target, args, rvalue.cast()) };
        }
        RetShape::Exact(size) => {
            let mut scratch = vec![0u128; size.div_ceil(16).max(1)];
            // SAFETY: forwarded from the caller; the scratch has room for the result.
            let _ = unsafe { prepared.sig.call_native(target, args, scratch.as_mut_ptr().cast()) };
        }
        RetShape::Void => {
            let mut scratch = 0u128;
            // SAFETY: forwarded from the caller; nothing is written for void.
            let _ = unsafe {
                prepared.sig.call_native(target, args, (&mut scratch as *mut u128).cast())
            };
        }
    }
}
