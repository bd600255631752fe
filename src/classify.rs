//! A signature's plan under its convention, and plans printed with that convention's
//! register names (what the `jitcall plan` tool shows).

use std::fmt;

use crate::arch;
use crate::error::Result;
use crate::plan::CallPlan;
use crate::signature::Signature;

impl Signature {
    /// Where each argument and the result go under the signature's convention. This works
    /// for every convention on every host: planning runs nothing.
    ///
    /// ```
    /// use jitcall::{Abi, Signature, Type};
    /// let int = jitcall::ffi::native_type(&jitcall::syntax::read(":int")?)?;
    /// let sig = Signature::new(Abi::SysV64, int.clone(), vec![int.clone(), int]);
    /// let plan = sig.plan()?;
    /// assert_eq!(plan.to_string().lines().next(), Some("arg0: [0..4] -> rdi (sign-extended)"));
    /// # Ok::<(), jitcall::Error>(())
    /// ```
    ///
    /// # Errors
    /// A signature the convention cannot express (a by-value argument too large, too many
    /// stack bytes, a void parameter).
    pub fn plan(&self) -> Result<CallPlan> {
        arch::classify(self)
    }
}

impl CallPlan {
    /// The plan as [`Display`](fmt::Display) shows it, for a call whose arguments from
    /// index `fixed` on are variadic (see [`Signature::fixed`]): their lines read
    /// `argN (variadic): ...`.
    pub fn describe_variadic(&self, fixed: Option<usize>) -> String {
        self.describe_call(arch::descriptor(self.abi), fixed)
    }
}

impl fmt::Display for CallPlan {
    /// One line per argument and one for the result, in the convention's register names,
    /// e.g. `arg1: [0..8] -> rdx; [8..16] -> xmm0`, then the stack bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(arch::descriptor(self.abi)))
    }
}
