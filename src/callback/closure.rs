//! What a callback's slot points at: its signature, the plan the dispatcher reads the
//! arguments by, and the closure.

use crate::error::Result;
use crate::plan::{ArgPlan, CallPlan};
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

/// Everything a callback's slot points at: the signature, its plan (by which the
/// dispatcher reads the arguments and writes the result) and the Rust closure.
pub(super) struct Closure {
    pub(super) sig: Signature,
    pub(super) plan: CallPlan,
    pub(super) body: ClosureBody,
    /// For native callbacks: where each argument's image is found, decided once.
    pub(super) native_args: Vec<NativeArg>,
    /// Words of local buffer the split arguments are gathered into.
    pub(super) gathered_words: usize,
}

/// Where a native callback finds a directly passed argument's image.
#[derive(Clone, Copy)]
pub(super) enum NativeArg {
    /// Whole in one place: a register's save slot or a stack slot.
    InPlace,
    /// Split over several places: gathered into the local buffer from this word on.
    Gathered(usize),
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
