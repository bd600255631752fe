//! Text helpers shared by both rewrites: they understand just enough assembler syntax
//! (string literals, identifiers, numbers) to edit symbol names without touching strings.

/// Characters that continue a symbol name in GNU as and in LLVM's output.
pub fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '$')
}

/// Byte index of the end of the string literal that starts at `start` (a `"`), just past
/// the closing quote (or the end of `s` when the quote is not closed).
pub fn string_end(s: &str, start: usize) -> usize {
    let mut escaped = false;
    for (i, c) in s[start + 1..].char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return start + 1 + i + 1,
            _ => {}
        }
    }
    s.len()
}

/// `line` without its comment, which starts at the first `marker` outside a string.
pub fn strip_comment<'a>(line: &'a str, marker: &str) -> &'a str {
    let mut i = 0;
    while i < line.len() {
        if line[i..].starts_with('"') {
            i = string_end(line, i);
        } else if line[i..].starts_with(marker) {
            return &line[..i];
        } else {
            i += line[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    line
}

/// Splits `line` at each `sep` outside a string (COFF output puts `.def x; .scl 2;` on
/// a line).
pub fn split_statements(line: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < line.len() {
        let c = line[i..].chars().next().unwrap_or(' ');
        if c == '"' {
            i = string_end(line, i);
            continue;
        }
        if c == sep {
            parts.push(&line[start..i]);
            start = i + 1;
        }
        i += c.len_utf8();
    }
    parts.push(&line[start..]);
    parts
}

/// A piece of a statement, as [`map_tokens`] sees it.
pub enum Token<'a> {
    /// A symbol-like name (also mnemonics, registers and directives).
    Ident(&'a str),
    /// A string literal with its quotes.
    Str(&'a str),
}

/// Rebuilds `stmt`, passing each name and each string literal through `f` (which returns
/// the replacement text); numbers and punctuation are kept as they are. `f` also sees the
/// text that follows the token, for suffixes such as `@PAGEOFF`, and returns how many of
/// its bytes it consumed.
pub fn map_tokens<E>(
    stmt: &str,
    mut f: impl FnMut(Token<'_>, &str) -> Result<(String, usize), E>,
) -> Result<String, E> {
    let mut out = String::with_capacity(stmt.len());
    let mut i = 0;
    while i < stmt.len() {
        let rest = &stmt[i..];
        let c = rest.chars().next().unwrap_or(' ');
        let end = if c == '"' {
            string_end(stmt, i)
        } else if is_ident_char(c) {
            i + rest.find(|c: char| !is_ident_char(c)).unwrap_or(rest.len())
        } else {
            out.push(c);
            i += c.len_utf8();
            continue;
        };
        let text = &stmt[i..end];
        if c.is_ascii_digit() {
            out.push_str(text); // a number such as 0x3f or 16: never a symbol
            i = end;
            continue;
        }
        let token = if c == '"' { Token::Str(text) } else { Token::Ident(text) };
        let (replacement, consumed) = f(token, &stmt[end..])?;
        out.push_str(&replacement);
        i = end + consumed;
    }
    Ok(out)
}

/// The first word of a statement (its mnemonic or directive) and the rest, trimmed.
pub fn head(stmt: &str) -> (&str, &str) {
    let stmt = stmt.trim();
    match stmt.find(char::is_whitespace) {
        Some(i) => (&stmt[..i], stmt[i..].trim()),
        None => (stmt, ""),
    }
}

/// The name a statement defines as a label (`name:` at its start), if any.
pub fn label(stmt: &str) -> Option<&str> {
    let stmt = stmt.trim();
    let name = stmt.strip_suffix(':')?;
    (!name.is_empty() && name.chars().all(is_ident_char)).then_some(name)
}

/// Zero-filled storage for `name` in `.bss`, without leaving the current section.
pub fn bss_block(name: &str, size: &str, align_bytes: u64) -> String {
    format!("\t.pushsection .bss\n\t.balign {align_bytes}\n{name}:\n\t.zero {size}\n\t.popsection")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_end_at_the_marker_outside_strings() {
        assert_eq!(strip_comment("\tret ; done", ";"), "\tret ");
        assert_eq!(strip_comment(".asciz \"a;b\" ; c", ";"), ".asciz \"a;b\" ");
        assert_eq!(strip_comment(".asciz \"q\\\";\" // c", "//"), ".asciz \"q\\\";\" ");
        assert_eq!(strip_comment("nop", ";"), "nop");
    }

    #[test]
    fn statements_split_outside_strings() {
        assert_eq!(split_statements(".def f; .scl 2;", ';'), [".def f", " .scl 2", ""]);
        assert_eq!(split_statements(".ascii \"a;b\"", ';'), [".ascii \"a;b\""]);
    }

    #[test]
    fn numbers_and_strings_are_kept_apart_from_names() {
        let mut seen = Vec::new();
        let out = map_tokens("mov x3, #0x3f ; .ascii \"_s\"", |t, _| {
            let text = match t {
                Token::Ident(s) | Token::Str(s) => s,
            };
            seen.push(text.to_string());
            Ok::<_, ()>((text.to_uppercase(), 0))
        })
        .unwrap();
        assert_eq!(seen, ["mov", "x3", ".ascii", "\"_s\""]);
        assert_eq!(out, "MOV X3, #0x3f ; .ASCII \"_S\"");
    }

    #[test]
    fn labels_heads_and_bss_blocks() {
        assert_eq!(label("_f:"), Some("_f"));
        assert_eq!(label("\tret"), None);
        assert_eq!(label("a b:"), None);
        assert_eq!(head("\t.globl\t_f "), (".globl", "_f"));
        assert_eq!(head("ret"), ("ret", ""));
        assert_eq!(
            bss_block("x", "8", 16),
            "\t.pushsection .bss\n\t.balign 16\nx:\n\t.zero 8\n\t.popsection"
        );
    }
}
