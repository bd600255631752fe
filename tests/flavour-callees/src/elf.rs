//! The ELF assembly both rewrites produce: its lines, plus what is needed at the end
//! (`.type NAME, %function` for the exported functions).

use std::collections::BTreeSet;

#[derive(Default)]
pub struct ElfAsm {
    lines: Vec<String>,
    in_text: bool,
    exported: BTreeSet<String>,
    text_labels: BTreeSet<String>,
}

impl ElfAsm {
    /// Starts in `.text`, the section both Mach-O and COFF code assume at the top.
    pub fn new() -> Self {
        let mut asm = ElfAsm::default();
        asm.section(".text", true);
        asm
    }

    pub fn push(&mut self, line: impl Into<String>) {
        let line = line.into();
        if let Some(name) = crate::asm::label(&line) {
            if self.in_text {
                self.text_labels.insert(name.to_string());
            }
        }
        self.lines.push(line);
    }

    /// Switches to an ELF section; `text` says whether it holds code.
    pub fn section(&mut self, directive: &str, text: bool) {
        self.in_text = text;
        self.lines.push(format!("\t{directive}"));
    }

    /// Records that `name` is global or weak: if it is a function it gets a `.type`.
    pub fn export(&mut self, name: &str) {
        self.exported.insert(name.to_string());
    }

    pub fn defines(&self, name: &str) -> bool {
        self.lines.iter().any(|l| crate::asm::label(l) == Some(name))
    }

    /// The finished text. ELF wants `.type NAME, %function` for functions that other
    /// modules call through the PLT (and for `nm`, `gdb` and dlsym users to see them).
    pub fn finish(mut self) -> String {
        let functions: Vec<String> =
            self.exported.intersection(&self.text_labels).cloned().collect();
        for name in functions {
            self.lines.push(format!("\t.type {name}, %function"));
        }
        let mut text = self.lines.join("\n");
        text.push('\n');
        text
    }
}
