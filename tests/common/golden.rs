//! Golden files of generated text (thunk listings): compared with the checked-in files,
//! or rewritten when `JITCALL_BLESS=1` (then review the diff by hand).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The folder of one test's golden files, under `tests/golden/`.
pub fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name)
}

pub fn blessing() -> bool {
    std::env::var("JITCALL_BLESS").is_ok_and(|v| v == "1")
}

/// Checks (or, when blessing, writes) every `(file name, text)` in `dir`, and that `dir`
/// holds no file that belongs to none of them.
pub fn check(dir: &Path, files: &[(String, String)]) {
    if blessing() {
        std::fs::create_dir_all(dir).unwrap();
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        return;
    }
    let mut failures = Vec::new();
    for (name, got) in files {
        let path = dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(want) if &want == got => {}
            Ok(want) => failures.push(format!(
                "{} differs from the generated text:\n{}",
                path.display(),
                diff(&want, got)
            )),
            Err(e) => failures.push(format!("{}: {e}", path.display())),
        }
    }
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|_| panic!("{} is missing: run with JITCALL_BLESS=1", dir.display()));
    for entry in entries {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !files.iter().any(|(n, _)| *n == name) {
            failures.push(format!("{name} belongs to no case"));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(if the change is intended, rerun with JITCALL_BLESS=1 and review the new \
         files by hand)",
        failures.join("\n\n")
    );
}

/// A plan line cut after [`MAX_PLAN_LINE`] characters at a part boundary (a large struct
/// passed on the stack has one part per eightbyte), so listings stay readable.
pub fn shorten(line: &str) -> String {
    if line.len() <= MAX_PLAN_LINE {
        return line.to_string();
    }
    let cut = line[..MAX_PLAN_LINE].rfind("; ").unwrap_or(MAX_PLAN_LINE);
    let parts = line.matches("; ").count() + 1;
    format!("{}; ... ({parts} parts in all)", &line[..cut])
}

const MAX_PLAN_LINE: usize = 150;

/// Line-by-line comparison, enough to see which instructions changed.
fn diff(want: &str, got: &str) -> String {
    let (want, got): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let mut out = String::new();
    for i in 0..want.len().max(got.len()) {
        match (want.get(i), got.get(i)) {
            (Some(w), Some(g)) if w == g => {}
            (w, g) => {
                if let Some(w) = w {
                    writeln!(out, "  -{w}").unwrap();
                }
                if let Some(g) = g {
                    writeln!(out, "  +{g}").unwrap();
                }
            }
        }
    }
    out
}

/// One signature's tail thunk as a golden listing: `header`, then the disassembled thunk,
/// or the generator's refusal. Checks that `tail_callable` agrees with the generator and
/// that a refused plan emits nothing.
pub fn tail_thunk_listing(
    header: &str,
    sig: &jitcall::Signature,
    disassemble: fn(&[u8]) -> String,
) -> String {
    use jitcall::internals::arch::{classify, emit_tail_thunk, tail_callable, CodeBuffer};
    let Ok(plan) = classify(sig) else { return String::new() };
    let mut out = format!("{header}\n");
    let mut code = CodeBuffer::new();
    match emit_tail_thunk(&plan, &mut code) {
        Ok(()) => {
            assert!(tail_callable(&plan), "{header}: emitted for a plan that is not tail-callable");
            out.push_str(&disassemble(code.bytes()));
        }
        Err(e) => {
            assert!(!tail_callable(&plan), "{header}: refused a tail-callable plan");
            assert!(code.bytes().is_empty(), "{header}: a refused plan emits nothing");
            writeln!(out, "; error: {e}").unwrap();
        }
    }
    out
}
