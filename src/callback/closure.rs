//! What a callback's slot points at: its signature's shape (the plan the dispatcher reads
//! the arguments by, decided once per signature) and the closure.

use std::cell::RefCell;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

#[cfg(target_arch = "aarch64")]
use crate::arch::aarch64::frame;
#[cfg(not(target_arch = "aarch64"))]
use crate::arch::trampoline::frame;
use crate::arch::{self, HandlerKind};
use crate::error::Result;
use crate::plan::{ArgPlan, CallPlan, Location, RetPlan};
use crate::signature::Signature;
use crate::value::ValueFn;

/// The Rust closure of a native callback ([`Callback::new_native`]), over native images:
/// `args[i]` points to argument i's native image (as C lays
/// it out, valid for the duration of the call), and the result's image is written to the
/// second pointer (room for the result type's size; nothing for void).
pub type ImageFn = dyn Fn(&[*const u8], *mut u8) -> Result<()> + Send + Sync;

#[cfg(doc)]
use super::Callback;

/// The Rust closure a callback runs, over values or over native images.
pub(super) enum ClosureBody {
    Values(Box<ValueFn>),
    Native(Box<ImageFn>),
}

/// Everything a callback's slot points at: its signature's [`Shape`] (reached through
/// `Deref`, so `closure.plan` is the shape's plan) and the Rust closure.
pub(super) struct Closure {
    pub(super) shape: Arc<Shape>,
    pub(super) body: ClosureBody,
}

impl Deref for Closure {
    type Target = Shape;

    fn deref(&self) -> &Shape {
        &self.shape
    }
}

/// What the dispatcher needs to know about a callback's signature: decided once per
/// signature (see [`Shape::of`]) and shared by all of its callbacks.
pub(super) struct Shape {
    pub(super) sig: Signature,
    /// The plan by which the dispatcher reads the arguments and writes the result.
    pub(super) plan: CallPlan,
    /// For native callbacks: where each argument's image is found.
    pub(super) native_args: Vec<NativeArg>,
    /// For native callbacks: where the closure writes the result.
    pub(super) native_ret: NativeRet,
    /// Words of local buffer the split arguments are gathered into.
    pub(super) gathered_words: usize,
    /// The handler kind the signature needs (no vector saves when no argument uses them).
    pub(super) handler: HandlerKind,
}

impl Shape {
    /// The shape of `sig` (whose convention runs on this host), from this thread's cache
    /// when it was made lately: classifying a signature costs far more than the rest of
    /// making a callback.
    ///
    /// # Errors
    /// A signature the convention cannot express.
    pub(super) fn of(sig: Signature) -> Result<Arc<Shape>> {
        let hash = {
            let mut hasher = MixHasher(0);
            sig.hash(&mut hasher);
            hasher.0
        };
        let slot = (hash as usize) % SHAPE_SLOTS;
        let cached = SHAPES.try_with(|shapes| match &shapes.borrow()[slot] {
            Some((h, shape)) if *h == hash && shape.sig == sig => Some(shape.clone()),
            _ => None,
        });
        if let Ok(Some(shape)) = cached {
            return Ok(shape);
        }
        let plan = arch::classify(&sig)?;
        let (native_args, gathered_words) = NativeArg::layout(&sig, &plan);
        let native_ret = NativeRet::of(&sig, &plan);
        let handler = HandlerKind::of(&plan);
        let shape = Arc::new(Shape { sig, plan, native_args, native_ret, gathered_words, handler });
        // Fails only on an exiting thread: the shape is then simply not kept.
        let _ = SHAPES.try_with(|shapes| shapes.borrow_mut()[slot] = Some((hash, shape.clone())));
        Ok(shape)
    }
}

/// How many shapes each thread keeps (a signature goes in the slot its hash picks).
const SHAPE_SLOTS: usize = 16;

/// A cached shape with its signature's hash.
type CachedShape = Option<(u64, Arc<Shape>)>;

thread_local! {
    static SHAPES: RefCell<[CachedShape; SHAPE_SLOTS]> =
        const { RefCell::new([const { None }; SHAPE_SLOTS]) };
}

/// A multiply-rotate hash: a signature hashes as a few words (its types carry their
/// content hashes), so SipHash's strength would only cost time.
struct MixHasher(u64);

impl Hasher for MixHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7C_C1_B7_27_22_0A_95);
    }

    fn write_u8(&mut self, v: u8) {
        self.write_u64(v.into());
    }

    fn write_u32(&mut self, v: u32) {
        self.write_u64(v.into());
    }

    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
}

/// Where the handler left a location's bytes: at an offset in its save area (a register),
/// or in the caller's stack arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Place {
    Frame(usize),
    Stack(usize),
}

/// Where a native callback finds an argument's image, decided once per signature so that
/// a call only adds an offset to a base.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NativeArg {
    /// Whole in one place: a register's save slot or a stack slot.
    InPlace(Place),
    /// Passed by reference: the address of the caller's copy is at this place.
    Indirect(Place),
    /// Split over several places (the plan's parts): gathered into the local buffer from
    /// this word on.
    Gathered(usize),
}

/// Where a native callback's closure writes its result image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NativeRet {
    /// Straight into one result register's save slot at this frame offset (a result of at
    /// most 8 bytes in one register, the slot zeroed before); a narrow signed integer of
    /// `signed` bytes (else 0) is then sign-extended over the register.
    Register { at: usize, signed: usize },
    /// Into the caller's result memory (the plan's hidden pointer).
    Memory,
    /// Into a local image, then stored by the plan (several registers, x87, void).
    Image,
}

impl NativeArg {
    /// Each argument's placement, and the buffer words the split ones need.
    pub(super) fn layout(sig: &Signature, plan: &CallPlan) -> (Vec<NativeArg>, usize) {
        let mut words = 0;
        let args = sig
            .params
            .iter()
            .zip(&plan.args)
            .map(|(ty, arg)| match arg {
                ArgPlan::Direct(parts) => match parts.as_slice() {
                    [whole] if whole.size as usize == ty.size() => {
                        NativeArg::InPlace(place(whole.dest))
                    }
                    _ => {
                        let at = words;
                        words += ty.size().div_ceil(8);
                        NativeArg::Gathered(at)
                    }
                },
                ArgPlan::Indirect { pointer } => NativeArg::Indirect(place(*pointer)),
            })
            .collect();
        (args, words)
    }
}

impl NativeRet {
    pub(super) fn of(sig: &Signature, plan: &CallPlan) -> NativeRet {
        let size = sig.ret.size();
        match &plan.ret {
            RetPlan::Direct(parts) => match parts.as_slice() {
                [whole] if whole.offset == 0 && whole.size as usize == size && size <= 8 => {
                    let at = match whole.dest {
                        Location::RetGpr(n) => frame::RET_GPRS + 8 * n as usize,
                        Location::Fpr(n) => frame::RET_FPRS + frame::FPR_BYTES * n as usize,
                        _ => return NativeRet::Image,
                    };
                    let signed = match sig.ret.prim() {
                        Some(p) if p.is_signed() && p.size() < 8 => p.size(),
                        _ => 0,
                    };
                    NativeRet::Register { at, signed }
                }
                _ => NativeRet::Image,
            },
            RetPlan::Indirect { .. } => NativeRet::Memory,
            RetPlan::Void | RetPlan::X87 { .. } => NativeRet::Image,
        }
    }
}

/// Where the handler saved an argument location's bytes.
pub(super) fn place(loc: Location) -> Place {
    match loc {
        Location::ArgGpr(n) => Place::Frame(frame::GPRS + 8 * n as usize),
        Location::Fpr(n) => Place::Frame(frame::FPRS + frame::FPR_BYTES * n as usize),
        Location::Stack(offset) => Place::Stack(offset as usize),
        Location::RetGpr(_) => unreachable!("no argument goes to a result register"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::Abi;
    use crate::types::{Member, Prim, Type};

    /// Signatures that differ in count, type and struct size (by an array's length), more than the cache holds.
    fn signatures(abi: Abi) -> Vec<Signature> {
        let mut sigs = Vec::new();
        for n in 0..SHAPE_SLOTS {
            sigs.push(Signature::new(abi, Type::Prim(Prim::I32), vec![Type::Prim(Prim::F64); n]));
            let array = Type::array(Type::Prim(Prim::I16), n + 1).unwrap();
            let wrapped = Type::structure(&[Member::Field(array)]).unwrap();
            sigs.push(Signature::new(abi, wrapped.clone(), vec![Type::Prim(Prim::I8), wrapped]));
        }
        sigs
    }

    #[test]
    fn a_signature_gets_its_own_shape_and_is_classified_once_while_cached() {
        let Ok(abi) = Abi::host_default() else { return };
        let sigs = signatures(abi);
        for sig in &sigs {
            let shape = Shape::of(sig.clone()).unwrap();
            assert_eq!(shape.sig, *sig);
            let plan = arch::classify(sig).unwrap();
            assert_eq!(shape.plan, plan);
            assert_eq!(shape.native_args.len(), NativeArg::layout(sig, &plan).0.len());
            assert_eq!(shape.gathered_words, NativeArg::layout(sig, &plan).1);
            // Asked again at once: the cached shape, not a new classification.
            assert!(Arc::ptr_eq(&shape, &Shape::of(sig.clone()).unwrap()));
        }
        // After all the others took the cache's slots, each still gets its own.
        for sig in sigs.iter().rev() {
            assert_eq!(Shape::of(sig.clone()).unwrap().sig, *sig);
        }
    }
}
