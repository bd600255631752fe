//! What a callback's slot points at: its signature, the plan the dispatcher reads the
//! arguments by, and the closure.

use crate::error::Result;
use crate::plan::{ArgPlan, CallPlan};
use crate::signature::Signature;
use crate::value::CallbackFn;

/// What a native callback runs: `args[i]` points to argument i's native image (as C lays
/// it out, valid for the duration of the call), and the result's image is written to the
/// second pointer (room for the result type's size; nothing for void).
pub type NativeCallbackFn = dyn Fn(&[*const u8], *mut u8) -> Result<()> + Send + Sync;

/// A callback's closure, over values or over native images.
pub(super) enum Func {
    Values(Box<CallbackFn>),
    Native(Box<NativeCallbackFn>),
}

pub(super) struct Context {
    pub(super) sig: Signature,
    pub(super) plan: CallPlan,
    pub(super) func: Func,
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
