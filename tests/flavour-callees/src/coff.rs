//! COFF (Windows on ARM64) assembly from clang-16 into ELF assembly for GNU as.
//!
//! Rules (shared/cross-testing.md): drop the `.def` / `.scl` / `.type` / `.endef`
//! statements, the `@feat.00` symbol, `.seh_*` and `.addrsig*`; `.rdata` becomes an ELF
//! read-only section; the quoted constant names (`"__real@..."`, `"??_C@..."`) become
//! plain local names; a stub `__chkstk` is added where one is called; exported functions
//! get `.type`.

use crate::asm::{self, head, map_tokens, Token};
use crate::elf::ElfAsm;
use crate::Error;

/// Rewrites clang's `--target=aarch64-pc-windows-msvc` assembly into ELF assembly.
pub fn to_elf(source: &str) -> Result<String, Error> {
    let mut out = ElfAsm::new();
    for (index, line) in source.lines().enumerate() {
        let stmts = asm::split_statements(asm::strip_comment(line, "//"), ';');
        for stmt in stmts.into_iter().map(str::trim_end).filter(|s| !s.trim().is_empty()) {
            statement(stmt, &mut out).map_err(|m| Error::at(index + 1, line, m))?;
        }
    }
    if source.contains("__chkstk") && !out.defines("__chkstk") {
        out.push(CHKSTK_STUB);
    }
    Ok(out.finish())
}

/// Windows probes each page of a large stack frame (`bl __chkstk` with the size / 16 in
/// x15) because its stack grows only through a guard page; Linux grows the stack on any
/// access, so a `ret` will do. Weak and hidden: every object may carry one.
const CHKSTK_STUB: &str = "\t.pushsection .text.__chkstk,\"ax\",%progbits\n\t.weak __chkstk\n\
                           \t.hidden __chkstk\n\t.type __chkstk, %function\n__chkstk:\n\tret\n\t.popsection";

fn statement(stmt: &str, out: &mut ElfAsm) -> Result<(), String> {
    let (directive, args) = head(stmt);
    if matches!(directive, ".def" | ".scl" | ".type" | ".endef" | ".addrsig" | ".addrsig_sym")
        || directive.starts_with(".seh_")
        || stmt.contains("@feat.00")
    {
        return Ok(());
    }
    match directive {
        ".section" => {
            let (elf, text) = section(args)?;
            out.section(elf, text);
        }
        ".text" | ".data" | ".bss" => out.section(directive, directive == ".text"),
        // A quoted name is a compiler constant, made local (see `local_name`): the same
        // constant in two objects must not clash.
        ".globl" if args.starts_with('"') => {}
        ".globl" | ".weak" => {
            out.export(args);
            out.push(stmt);
        }
        ".lcomm" => {
            let parts: Vec<&str> = args.split(',').map(str::trim).collect();
            let block = match parts.as_slice() {
                [name, size] => asm::bss_block(name, size, 1),
                [name, size, align] => asm::bss_block(name, size, align_bytes(align)?),
                _ => return Err(format!("expected `.lcomm NAME,SIZE[,ALIGN]`, got `{args}`")),
            };
            out.push(block);
        }
        ".comm" => {
            // LLVM writes COFF `.comm` alignments as powers of two, ELF wants bytes.
            let parts: Vec<&str> = args.split(',').map(str::trim).collect();
            let [name, size, log2] = parts.as_slice() else {
                return Err(format!("expected `.comm NAME,SIZE,ALIGN`, got `{args}`"));
            };
            let align = log2
                .parse::<u32>()
                .ok()
                .filter(|n| *n < 32)
                .ok_or(format!("bad alignment `{log2}`"))?;
            out.push(format!("\t.comm {name},{size},{}", 1u64 << align));
        }
        ".file" | ".ascii" | ".asciz" | ".string" => out.push(stmt),
        _ => out.push(rename_quoted(stmt)),
    }
    Ok(())
}

/// The ELF section for a COFF `.section NAME[,"FLAGS"[,discard,"COMDAT"]]`.
fn section(args: &str) -> Result<(&'static str, bool), String> {
    let mut parts = asm::split_statements(args, ',').into_iter().map(str::trim);
    let name = parts.next().unwrap_or("");
    let comdat = parts.nth(1).is_some();
    Ok(match (name, comdat) {
        (".text", false) => (".text", true),
        (".data", false) => (".data", false),
        (".bss", false) => (".bss", false),
        // Constant pools (`__real@...`, string literals): plain bytes, never addresses.
        (".rdata", true) => (".section .rodata", false),
        // `const` objects, which may hold addresses: relocated at load time.
        (".rdata", false) => (".section .data.rel.ro,\"aw\"", false),
        _ => return Err(format!("COFF section `{args}` has no ELF mapping here")),
    })
}

fn align_bytes(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(n) if n.is_power_of_two() => Ok(n),
        _ => Err(format!("alignment `{text}` is not a power of two")),
    }
}

fn rename_quoted(stmt: &str) -> String {
    let renamed = map_tokens(stmt, |token, _| {
        Ok::<_, ()>(match token {
            Token::Ident(name) => (name.to_string(), 0),
            Token::Str(quoted) => (local_name(quoted), 0),
        })
    });
    renamed.unwrap_or_else(|()| unreachable!("the closure never fails"))
}

/// A local ELF name for a quoted COFF symbol such as `"__real@3ff0000000000000"`:
/// `.L` keeps it out of the symbol table; characters that GNU as does not take in names
/// are written as `$` and two hex digits, so different names stay different.
fn local_name(quoted: &str) -> String {
    let inner = quoted.trim_start_matches('"').trim_end_matches('"');
    let mut name = String::from(".L");
    for c in inner.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            name.push(c);
        } else {
            let mut buf = [0u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                name.push_str(&format!("${byte:02x}"));
            }
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(elf: &str) -> Vec<&str> {
        let mut lines: Vec<&str> = elf.lines().collect();
        assert_eq!(lines.remove(0), "\t.text");
        lines
    }

    fn rewrite(src: &str) -> String {
        to_elf(src).unwrap()
    }

    #[test]
    fn def_scl_type_endef_go_also_on_one_line() {
        let src = "\t.def\tpick;\n\t.scl\t2;\n\t.type\t32;\n\t.endef\n\t.def f; .scl 2; .type 32; .endef\n\tret\n";
        assert_eq!(body(&rewrite(src)), ["\tret"]);
    }

    #[test]
    fn feat_00_goes() {
        let src = "\t.def\t\"@feat.00\";\n\t.scl\t3;\n\t.type\t0;\n\t.endef\n\t.globl\t\"@feat.00\"\n.set \"@feat.00\", 0\n";
        assert_eq!(body(&rewrite(src)), Vec::<&str>::new());
    }

    #[test]
    fn seh_and_addrsig_go() {
        let src =
            ".seh_proc big\n\t.seh_save_fplr_x\t16\n\t.seh_endprologue\n\tret\n\t.seh_endfunclet\n\
                   \t.seh_endproc\n\t.addrsig\n\t.addrsig_sym helper\n";
        assert_eq!(body(&rewrite(src)), ["\tret"]);
    }

    #[test]
    fn comments_go_but_not_inside_strings() {
        let src = "// %bb.0:\n\tret // done\n\t.asciz\t\"a // b; c\" // @x\n";
        assert_eq!(body(&rewrite(src)), ["\tret", "\t.asciz\t\"a // b; c\""]);
    }

    #[test]
    fn rdata_becomes_read_only_elf_data() {
        let src = "\t.section\t.rdata,\"dr\",discard,\"__real@3ff0\"\n\t.section\t.rdata,\"dr\"\n\
                   \t.data\n\t.bss\n\t.text\n";
        assert_eq!(
            body(&rewrite(src)),
            [
                "\t.section .rodata",
                "\t.section .data.rel.ro,\"aw\"",
                "\t.data",
                "\t.bss",
                "\t.text"
            ]
        );
        let err = to_elf("\t.section\t.drectve,\"yni\"\n").unwrap_err().to_string();
        assert!(err.contains("line 1") && err.contains(".drectve"), "{err}");
    }

    #[test]
    fn quoted_constants_become_local_plain_names() {
        let src = "\t.globl\t\"__real@3ff000010c6f7a0b\"\n\"__real@3ff000010c6f7a0b\":\n\
                   \tadrp\tx9, \"__real@3ff000010c6f7a0b\"\n\tldr\td1, [x9, :lo12:\"__real@3ff000010c6f7a0b\"]\n\
                   \t.xword\t\"??_C@_05A?$AA@\"\n";
        assert_eq!(
            body(&rewrite(src)),
            [
                ".L__real$403ff000010c6f7a0b:",
                "\tadrp\tx9, .L__real$403ff000010c6f7a0b",
                "\tldr\td1, [x9, :lo12:.L__real$403ff000010c6f7a0b]",
                "\t.xword\t.L$3f$3f_C$40_05A$3f$24AA$40",
            ]
        );
    }

    #[test]
    fn a_chkstk_stub_comes_with_its_first_caller_only() {
        let elf = rewrite("f:\n\tmov\tx15, #313\n\tbl\t__chkstk\n");
        assert!(elf.contains("__chkstk:\n\tret"), "{elf}");
        assert!(elf.contains(".weak __chkstk") && elf.contains(".hidden __chkstk"), "{elf}");
        assert!(!rewrite("f:\n\tret\n").contains("__chkstk"));
        let own = rewrite("__chkstk:\n\tret\nf:\n\tbl\t__chkstk\n");
        assert_eq!(own.matches("__chkstk:").count(), 1, "{own}");
    }

    #[test]
    fn exported_functions_get_an_elf_type() {
        let src = "\t.globl\tf\nf:\n\tret\n\t.weak\tw\nw:\n\tret\nlocal:\n\tret\n\t.data\n\t.globl\td\nd:\n";
        let elf = rewrite(src);
        assert!(
            elf.contains("\t.type f, %function") && elf.contains("\t.type w, %function"),
            "{elf}"
        );
        assert!(!elf.contains(".type d") && !elf.contains(".type local"), "{elf}");
    }

    #[test]
    fn lcomm_and_comm_become_bss_with_byte_alignment() {
        let src = "\t.lcomm\tzeroed,80,16\n\t.comm\ttent,4,2\n";
        assert_eq!(
            body(&rewrite(src)),
            [
                "\t.pushsection .bss",
                "\t.balign 16",
                "zeroed:",
                "\t.zero 80",
                "\t.popsection",
                "\t.comm tent,4,4"
            ]
        );
        assert!(to_elf("\t.lcomm\tx,8,3\n").is_err());
    }
}
