//! Fuzzes the literal reader (`syntax::read`) and printer (`Display` for `Value`).
//!
//! - Reading any text never panics (nor overflows the stack): a value or an `Err`.
//! - A value read prints as text that reads back to a value printing the same way:
//!   printing then reading round-trips. Non-finite numbers are left out (Janet prints
//!   `inf` and `nan`, which read back as symbols), as is nesting past what the printer
//!   shows in full.

#![no_main]

use jitcall::syntax;
use jitcall::Value;
use libfuzzer_sys::fuzz_target;

/// The printer shows nesting up to 256 levels in full.
const MAX_DEPTH: usize = 200;

fn printable(value: &Value, depth: usize) -> bool {
    match value {
        Value::Number(n) => n.is_finite(),
        Value::Tuple(items) | Value::Array(items) => {
            depth < MAX_DEPTH && items.iter().all(|item| printable(item, depth + 1))
        }
        _ => true,
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(value) = syntax::read(&text) else { return };
    if !printable(&value, 0) {
        return;
    }
    let printed = value.to_string();
    let again = syntax::read(&printed).unwrap_or_else(|e| {
        panic!("{text:?} read as {value:?}, printed as {printed:?}, which does not read: {e}")
    });
    let reprinted = again.to_string();
    assert_eq!(printed, reprinted, "{text:?} read as {value:?} and {again:?}");
});
