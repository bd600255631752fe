//! Janet's fixed `(ctx, userdata)` trampoline.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use crate::error::Result;
use crate::signature::{Abi, Signature};
use crate::types::Type;
use crate::value::{Function, Pointer, Value};

use super::Callback;

/// the convention `abi`. When C calls it, `userdata` must be the `:ptr` of a live
/// [`Function`] (a `Value::Function` argument), which is called with `ctx` as a pointer
/// (NULL as `<pointer 0x0>`, as Janet does). NULL or stale userdata prints a message on
/// stderr and returns.
///
/// # Errors
/// A convention this host cannot run.
pub fn trampoline(abi: Abi) -> Result<Pointer> {
    static TRAMPOLINES: OnceLock<Mutex<HashMap<Abi, Callback>>> = OnceLock::new();
    let mut made =
        TRAMPOLINES.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    if let Some(found) = made.get(&abi) {
        return Ok(found.code_ptr());
    }
    let ptr = Type::Prim(crate::types::Prim::Ptr);
    let sig = Signature::new(abi, Type::VOID, vec![ptr.clone(), ptr]);
    let callback = Callback::new(sig, |args| {
        let as_pointer = |v: &Value| match v {
            Value::Pointer(p) => *p,
            _ => Pointer::NULL,
        };
        let (ctx, userdata) = (as_pointer(&args[0]), as_pointer(&args[1]));
        if userdata.is_null() {
            eprint!("no userdata found for janet callback");
            return Ok(Value::Nil);
        }
        match Function::from_userdata(userdata) {
            Some(f) => f.call(&[Value::Pointer(ctx)]).map(|_| Value::Nil),
            None => {
                eprintln!("jitcall: trampoline userdata {userdata:?} is not a live function");
                Ok(Value::Nil)
            }
        }
    })?;
    let code = callback.code_ptr();
    made.insert(abi, callback);
    Ok(code)
}
