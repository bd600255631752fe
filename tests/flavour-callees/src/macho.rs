//! Mach-O (Apple arm64) assembly from clang-16 into ELF assembly for GNU as.
//!
//! Rules (shared/cross-testing.md): drop `.build_version`, `.subsections_via_symbols` and
//! `.loh` lines and `;` comments; map `.section __SEG,__sect` to ELF sections; drop the
//! leading `_` of symbol names; `sym@PAGE` / `@PAGEOFF` / `@GOTPAGE` / `@GOTPAGEOFF` become
//! `sym` / `:lo12:sym` / `:got:sym` / `:got_lo12:sym`; exported functions get `.type`.

use crate::asm::{self, head, map_tokens, Token};
use crate::elf::ElfAsm;
use crate::Error;

/// Rewrites clang's `--target=arm64-apple-macos*` assembly (compiled with
/// `-mllvm -aarch64-neon-syntax=generic`) into ELF assembly.
pub fn to_elf(source: &str) -> Result<String, Error> {
    let mut out = ElfAsm::new();
    for (index, line) in source.lines().enumerate() {
        let at = |message: String| Error::at(index + 1, line, message);
        let stmt = asm::strip_comment(line, ";").trim_end();
        if stmt.trim().is_empty() {
            continue;
        }
        statement(stmt, &mut out).map_err(at)?;
    }
    Ok(out.finish())
}

/// Directives with no ELF meaning that are simply left out.
const DROPPED: &[&str] = &[
    ".build_version",
    ".subsections_via_symbols",
    ".loh",
    ".alt_entry",
    ".no_dead_strip",
    ".data_region",
    ".end_data_region",
    ".linker_option",
];

fn statement(stmt: &str, out: &mut ElfAsm) -> Result<(), String> {
    let (directive, args) = head(stmt);
    if DROPPED.contains(&directive) {
        return Ok(());
    }
    match directive {
        ".section" => {
            let (elf, text) = section(args)?;
            out.section(elf, text);
        }
        ".zerofill" => out.push(zerofill(args)?),
        ".comm" => {
            let [name, size, align] = fields::<3>(args, ".comm NAME,SIZE,ALIGN")?;
            out.push(format!("\t.comm {},{size},{}", symbol(name), pow2(align)?));
        }
        ".globl" => {
            out.export(&symbol(args));
            out.push(format!("\t.globl {}", symbol(args)));
        }
        ".private_extern" => out.push(format!("\t.hidden {}", symbol(args))),
        ".weak_definition" | ".weak_reference" | ".weak_def_can_be_hidden" => {
            out.export(&symbol(args));
            out.push(format!("\t.weak {}", symbol(args)));
        }
        ".indirect_symbol" | ".tbss" | ".tdata" | ".tlv" => {
            return Err(format!(
                "`{directive}` (thread-locals, indirect symbols) has no ELF rewrite here"
            ))
        }
        _ => out.push(rewrite_names(stmt)?),
    }
    Ok(())
}

/// The ELF section for a Mach-O `__SEGMENT,__section[,...]`, and whether it holds code.
fn section(args: &str) -> Result<(&'static str, bool), String> {
    let mut parts = args.split(',').map(str::trim);
    let (segment, name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    Ok(match (segment, name) {
        ("__TEXT", "__text") => (".text", true),
        ("__TEXT", "__const" | "__cstring" | "__literal4" | "__literal8" | "__literal16") => {
            (".section .rodata", false)
        }
        ("__DATA", "__data") => (".data", false),
        // Constant data that holds addresses: relocated at load time, then read-only.
        ("__DATA", "__const") => (".section .data.rel.ro,\"aw\"", false),
        ("__DATA", "__bss" | "__common") => (".bss", false),
        _ => return Err(format!("Mach-O section `{segment},{name}` has no ELF mapping here")),
    })
}

/// `.zerofill __DATA,__bss,_name,SIZE,ALIGN_LOG2` (what clang emits for zeroed data).
fn zerofill(args: &str) -> Result<String, String> {
    let parts: Vec<&str> = args.split(',').map(str::trim).collect();
    match parts.as_slice() {
        ["__DATA", "__bss" | "__common", name, size] => Ok(asm::bss_block(&symbol(name), size, 1)),
        ["__DATA", "__bss" | "__common", name, size, align] => {
            Ok(asm::bss_block(&symbol(name), size, pow2(align)?))
        }
        _ => Err(format!("unexpected `.zerofill {args}` (want __DATA,__bss,NAME,SIZE[,ALIGN])")),
    }
}

fn fields<'a, const N: usize>(args: &'a str, form: &str) -> Result<[&'a str; N], String> {
    let parts: Vec<&str> = args.split(',').map(str::trim).collect();
    parts.try_into().map_err(|_| format!("expected `{form}`, got `{args}`"))
}

/// 2 to the power `log2` (Mach-O alignments are powers of two, ELF's in bytes).
fn pow2(log2: &str) -> Result<u64, String> {
    match log2.parse::<u32>() {
        Ok(n) if n < 32 => Ok(1 << n),
        _ => Err(format!("alignment `{log2}` is not a small power-of-two exponent")),
    }
}

/// A C symbol's ELF name: Mach-O prefixes every C name with `_`. Other names (`Ltmp0`,
/// `l_.str`, mnemonics, registers) have none and are kept.
fn symbol(name: &str) -> String {
    name.strip_prefix('_').unwrap_or(name).to_string()
}

/// Drops the `_` of the C names in an instruction or data directive and turns the
/// `@PAGE`-style relocation suffixes into ELF operators.
fn rewrite_names(stmt: &str) -> Result<String, String> {
    map_tokens(stmt, |token, rest| match token {
        Token::Str(s) => Ok((s.to_string(), 0)),
        Token::Ident(name) => {
            let name = symbol(name);
            let Some(after_at) = rest.strip_prefix('@') else {
                return Ok((name, 0));
            };
            let kind_len =
                after_at.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(after_at.len());
            let elf = match &after_at[..kind_len] {
                "PAGE" => name,
                "PAGEOFF" => format!(":lo12:{name}"),
                "GOTPAGE" => format!(":got:{name}"),
                "GOTPAGEOFF" => format!(":got_lo12:{name}"),
                other => {
                    return Err(format!("relocation `{name}@{other}` has no ELF rewrite here"))
                }
            };
            Ok((elf, 1 + kind_len))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(elf: &str) -> Vec<&str> {
        // The first line is always the `.text` that starts every output.
        let mut lines: Vec<&str> = elf.lines().collect();
        assert_eq!(lines.remove(0), "\t.text");
        lines
    }

    fn rewrite(src: &str) -> String {
        to_elf(src).unwrap()
    }

    #[test]
    fn text_comes_first_and_text_sections_map_to_text() {
        let elf = rewrite("\t.section\t__TEXT,__text,regular,pure_instructions\n\tret\n");
        assert_eq!(body(&elf), ["\t.text", "\tret"]);
    }

    #[test]
    fn apple_only_directives_are_dropped() {
        let src = "\t.build_version macos, 11, 0\n\t.subsections_via_symbols\n\
                   \t.loh AdrpAdd\tLloh0, Lloh1\n\t.alt_entry _x\n\t.data_region jt32\n\
                   \t.end_data_region\n\tnop\n";
        assert_eq!(body(&rewrite(src)), ["\tnop"]);
    }

    #[test]
    fn semicolon_comments_go_but_not_inside_strings() {
        let src = "; %bb.0:\n\tret ; done\n\t.asciz\t\"hi;there _x\" ; @.str\n";
        assert_eq!(body(&rewrite(src)), ["\tret", "\t.asciz\t\"hi;there _x\""]);
    }

    #[test]
    fn the_leading_underscore_of_c_names_goes() {
        let src = "\t.globl\t_f\n_f:\n\tbl\t___stack_chk_fail\n\t.quad\t_g-_h\n\t.quad\tl_.str\nLBB0_1:\n";
        let elf = rewrite(src);
        assert_eq!(
            body(&elf),
            [
                "\t.globl f",
                "f:",
                "\tbl\t__stack_chk_fail",
                "\t.quad\tg-h",
                "\t.quad\tl_.str",
                "LBB0_1:",
                "\t.type f, %function"
            ]
        );
    }

    #[test]
    fn page_relocations_become_elf_operators() {
        let src = "\tadrp\tx9, _tbl@PAGE\n\tadd\tx9, x9, _tbl@PAGEOFF\n\
                   \tldr\tq3, [x11, lCPI2_0@PAGEOFF]\n\tadd\tx0, x0, _arr@PAGEOFF+16\n\
                   \tadrp\tx8, _ext@GOTPAGE\n\tldr\tx8, [x8, _ext@GOTPAGEOFF]\n";
        assert_eq!(
            body(&rewrite(src)),
            [
                "\tadrp\tx9, tbl",
                "\tadd\tx9, x9, :lo12:tbl",
                "\tldr\tq3, [x11, :lo12:lCPI2_0]",
                "\tadd\tx0, x0, :lo12:arr+16",
                "\tadrp\tx8, :got:ext",
                "\tldr\tx8, [x8, :got_lo12:ext]",
            ]
        );
    }

    #[test]
    fn unknown_relocations_are_errors_with_the_line() {
        let err = to_elf("\tnop\n\tadrp\tx0, _t@TLVPPAGE\n").unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("t@TLVPPAGE"), "{err}");
    }

    #[test]
    fn exported_functions_get_an_elf_type_but_data_and_static_code_do_not() {
        let src = "\t.globl _f\n_f:\n\tret\n_local:\n\tret\n\t.section __DATA,__data\n\t.globl _d\n_d:\n\t.quad 1\n";
        let elf = rewrite(src);
        assert!(elf.contains("\t.type f, %function"), "{elf}");
        assert!(!elf.contains(".type d") && !elf.contains(".type local"), "{elf}");
    }

    #[test]
    fn data_sections_map_to_their_elf_kinds() {
        let src = "\t.section __TEXT,__const\n\t.section __TEXT,__cstring,cstring_literals\n\
                   \t.section __TEXT,__literal16,16byte_literals\n\t.section __DATA,__data\n\
                   \t.section __DATA,__const\n";
        assert_eq!(
            body(&rewrite(src)),
            [
                "\t.section .rodata",
                "\t.section .rodata",
                "\t.section .rodata",
                "\t.data",
                "\t.section .data.rel.ro,\"aw\"",
            ]
        );
        let err = to_elf("\t.section __DATA,__thread_vars,thread_local_variables\n").unwrap_err();
        assert!(err.to_string().contains("__DATA,__thread_vars"), "{err}");
    }

    #[test]
    fn zerofill_and_comm_become_bss_with_byte_alignment() {
        let src = ".zerofill __DATA,__bss,_zeroed,80,3 ; @zeroed\n\t.comm\t_tent,4,2\n";
        assert_eq!(
            body(&rewrite(src)),
            [
                "\t.pushsection .bss",
                "\t.balign 8",
                "zeroed:",
                "\t.zero 80",
                "\t.popsection",
                "\t.comm tent,4,4",
            ]
        );
        assert!(to_elf(".zerofill __DATA,__bss,_x,8,99\n").is_err());
    }

    #[test]
    fn visibility_and_weakness_carry_over() {
        let src = "\t.private_extern\t_h\n\t.globl\t_h\n\t.weak_definition\t_w\n_w:\n\tret\n";
        let elf = rewrite(src);
        assert_eq!(
            body(&elf),
            ["\t.hidden h", "\t.globl h", "\t.weak w", "w:", "\tret", "\t.type w, %function"]
        );
    }
}
