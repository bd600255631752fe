//! C test callees with the calling convention of Apple arm64 or of Windows on ARM64, as
//! ELF AArch64 libraries that run under qemu-aarch64 on Linux.
//!
//! clang-16 compiles the C for the real target to assembly; the instructions are plain
//! AArch64 and only the directives are Mach-O or COFF, so rewriting those into ELF
//! ([`macho_to_elf`], [`coff_to_elf`]) keeps the other OS's convention intact.
//! aarch64-linux-gnu-gcc then assembles and links (shared/cross-testing.md). For build
//! scripts:
//!
//! ```ignore
//! let out = std::env::var("OUT_DIR").unwrap();
//! let lib = flavour_callees::Build::new(flavour_callees::Flavour::Apple, &out)
//!     .file("c/callee.c")
//!     .shared_library("apple_callee")
//!     .unwrap_or_else(|e| panic!("{e}"));
//! ```
//!
//! The C must include no system headers (declare `int32_t` and friends yourself) and must
//! not call variadic libc functions (their convention differs from Linux's); arithmetic,
//! `memcpy` and `memset` are fine.

mod asm;
mod coff;
mod elf;
mod macho;

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

pub use coff::to_elf as coff_to_elf;
pub use macho::to_elf as macho_to_elf;

/// Which OS's AArch64 calling convention the compiled C follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    /// Apple arm64 (DarwinPCS): stack arguments packed at their natural alignment, all
    /// variadic arguments on the stack.
    Apple,
    /// Windows on ARM64: AAPCS64, but variadic floating-point arguments in integer
    /// registers.
    Windows,
}

impl Flavour {
    /// A short lowercase name (for file names and messages).
    pub fn name(self) -> &'static str {
        match self {
            Flavour::Apple => "apple",
            Flavour::Windows => "windows",
        }
    }

    fn clang_args(self) -> &'static [&'static str] {
        match self {
            // GNU as rejects Apple's `movi.2d` vector syntax.
            Flavour::Apple => {
                &["--target=arm64-apple-macos11", "-mllvm", "-aarch64-neon-syntax=generic"]
            }
            Flavour::Windows => &["--target=aarch64-pc-windows-msvc"],
        }
    }

    /// The flavour's assembly rewritten into ELF assembly.
    pub fn to_elf(self, source: &str) -> Result<String, Error> {
        match self {
            Flavour::Apple => macho_to_elf(source),
            Flavour::Windows => coff_to_elf(source),
        }
    }
}

/// What went wrong, with the tool's output or the offending assembly line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(String);

impl Error {
    fn at(line_number: usize, line: &str, message: String) -> Error {
        Error(format!("line {line_number} (`{}`): {message}", line.trim()))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// Compiles C files for one flavour into an ELF AArch64 library.
#[derive(Clone, Debug)]
pub struct Build {
    flavour: Flavour,
    out_dir: PathBuf,
    files: Vec<PathBuf>,
    flags: Vec<String>,
    link_args: Vec<String>,
    clang: String,
    gcc: String,
    ar: String,
}

impl Build {
    /// A build that writes its intermediate files (`.s` as clang wrote it, the ELF `.s`,
    /// `.o`) and the library into `out_dir`. Tools: `clang-16`, `aarch64-linux-gnu-gcc`,
    /// `aarch64-linux-gnu-ar`, or the `FLAVOUR_CLANG` / `FLAVOUR_GCC` / `FLAVOUR_AR`
    /// environment variables.
    pub fn new(flavour: Flavour, out_dir: impl AsRef<Path>) -> Build {
        let tool =
            |var: &str, default: &str| std::env::var(var).unwrap_or_else(|_| default.to_string());
        Build {
            flavour,
            out_dir: out_dir.as_ref().to_path_buf(),
            files: Vec::new(),
            flags: vec!["-O2".into(), "-Wall".into(), "-Werror".into()],
            link_args: Vec::new(),
            clang: tool("FLAVOUR_CLANG", "clang-16"),
            gcc: tool("FLAVOUR_GCC", "aarch64-linux-gnu-gcc"),
            ar: tool("FLAVOUR_AR", "aarch64-linux-gnu-ar"),
        }
    }

    /// Adds a C file.
    pub fn file(&mut self, path: impl AsRef<Path>) -> &mut Build {
        self.files.push(path.as_ref().to_path_buf());
        self
    }

    /// Adds a clang flag (after the defaults `-O2 -Wall -Werror`, so `-O0` wins).
    pub fn flag(&mut self, flag: impl Into<String>) -> &mut Build {
        self.flags.push(flag.into());
        self
    }

    /// `-DNAME=VALUE` for clang.
    pub fn define(&mut self, name: &str, value: &str) -> &mut Build {
        self.flag(format!("-D{name}={value}"))
    }

    /// Adds an argument for the shared-library link (e.g. `-L` and `-l` for a library the
    /// callees call).
    pub fn link_arg(&mut self, arg: impl Into<String>) -> &mut Build {
        self.link_args.push(arg.into());
        self
    }

    /// Compiles every file to an ELF object; returns their paths.
    pub fn objects(&self) -> Result<Vec<PathBuf>, Error> {
        if self.files.is_empty() {
            return Err(Error("no C files given (call `Build::file`)".into()));
        }
        std::fs::create_dir_all(&self.out_dir)
            .map_err(|e| Error(format!("cannot create {}: {e}", self.out_dir.display())))?;
        self.files.iter().enumerate().map(|(i, file)| self.object(i, file)).collect()
    }

    fn object(&self, index: usize, file: &Path) -> Result<PathBuf, Error> {
        let stem = file.file_stem().map_or("src".into(), |s| s.to_string_lossy());
        // The index keeps two `callee.c` from different folders apart.
        let base = self.out_dir.join(format!("{}-{index}-{stem}", self.flavour.name()));
        let (native, elf, obj) =
            (base.with_extension("s"), base.with_extension("elf.s"), base.with_extension("o"));
        let mut clang = Command::new(&self.clang);
        clang
            .args(self.flavour.clang_args())
            .arg("-S")
            .args(&self.flags)
            .arg("-o")
            .arg(&native)
            .arg(file);
        run(&mut clang)?;
        let text = read(&native)?;
        let rewritten =
            self.flavour.to_elf(&text).map_err(|e| Error(format!("{}: {e}", native.display())))?;
        std::fs::write(&elf, rewritten)
            .map_err(|e| Error(format!("cannot write {}: {e}", elf.display())))?;
        run(Command::new(&self.gcc).arg("-c").arg("-o").arg(&obj).arg(&elf))?;
        Ok(obj)
    }

    /// Builds `lib{name}.so` in the output folder; undefined symbols fail the link.
    /// References between the library's own symbols bind inside it (`-Bsymbolic`):
    /// COFF code addresses its data PC-relatively, as if never preempted.
    pub fn shared_library(&self, name: &str) -> Result<PathBuf, Error> {
        let objects = self.objects()?;
        let lib = self.out_dir.join(format!("lib{name}.so"));
        let mut gcc = Command::new(&self.gcc);
        gcc.args(["-shared", "-Wl,--no-undefined", "-Wl,-Bsymbolic", "-o"])
            .arg(&lib)
            .args(&objects);
        run(gcc.args(&self.link_args))?;
        Ok(lib)
    }

    /// Builds `lib{name}.a` in the output folder (its undefined symbols are checked only
    /// when it is linked).
    pub fn static_library(&self, name: &str) -> Result<PathBuf, Error> {
        let objects = self.objects()?;
        let lib = self.out_dir.join(format!("lib{name}.a"));
        let _ = std::fs::remove_file(&lib); // `ar` would add to an old archive
        run(Command::new(&self.ar).arg("crs").arg(&lib).args(&objects))?;
        Ok(lib)
    }
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error(format!("cannot read {}: {e}", path.display())))
}

fn run(command: &mut Command) -> Result<(), Error> {
    let shown = format!("{command:?}");
    let output = command
        .output()
        .map_err(|e| Error(format!("cannot run {shown}: {e} (is it installed?)")))?;
    if output.status.success() {
        return Ok(());
    }
    Err(Error(format!(
        "{shown} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tools, when installed (scripts/test-flavour-callees installs them).
    fn tools_present() -> bool {
        let present = |tool: &str| Command::new(tool).arg("--version").output().is_ok();
        let all = present("clang-16") && present("aarch64-linux-gnu-gcc");
        if !all {
            eprintln!(
                "clang-16 or aarch64-linux-gnu-gcc missing: run scripts/test-flavour-callees"
            );
        }
        all
    }

    fn build_with(flavour: Flavour, name: &str, c: &str) -> (Build, PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("flavour-callees-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("{name}.c"));
        std::fs::write(&file, c).unwrap();
        let mut build = Build::new(flavour, &dir);
        build.file(&file);
        (build, dir)
    }

    #[test]
    fn an_undefined_symbol_fails_the_shared_link() {
        if !tools_present() {
            return;
        }
        for flavour in [Flavour::Apple, Flavour::Windows] {
            let c = "int missing(int); int f(int x) { return missing(x) + 1; }";
            let (build, dir) = build_with(flavour, &format!("undef-{}", flavour.name()), c);
            let err = build.shared_library("undef").unwrap_err().to_string();
            assert!(err.contains("undefined reference to `missing'"), "{flavour:?}: {err}");
            let lib = build.static_library("undef").unwrap();
            assert!(lib.ends_with("libundef.a"));
            std::fs::remove_dir_all(dir).unwrap();
        }
    }

    #[test]
    fn compiler_errors_come_back_with_clangs_message() {
        if !tools_present() {
            return;
        }
        let (build, dir) = build_with(Flavour::Apple, "bad", "int f(void) { return nope; }");
        let err = build.objects().unwrap_err().to_string();
        assert!(err.contains("clang-16") && err.contains("nope"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
        let err = Build::new(Flavour::Windows, "/nonexistent").objects().unwrap_err();
        assert!(err.to_string().contains("no C files"), "{err}");
    }
}
