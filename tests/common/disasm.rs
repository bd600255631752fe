//! How the x86-64 tests print instructions.

use iced_x86::{Formatter, IntelFormatter, MemorySizeOptions};

/// Intel syntax, `0x` hex, explicit operand sizes.
pub fn x86_formatter() -> IntelFormatter {
    let mut f = IntelFormatter::new();
    let o = f.options_mut();
    o.set_space_after_operand_separator(true);
    o.set_hex_prefix("0x");
    o.set_hex_suffix("");
    o.set_uppercase_hex(false);
    o.set_memory_size_options(MemorySizeOptions::Always);
    f
}
