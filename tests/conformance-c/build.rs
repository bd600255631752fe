//! Generates the conformance callees and compiles every C callee into a static library.
//!
//! Why in a build script: the tests also run cross-compiled, under wine (Windows) and
//! qemu (AArch64), where the test process cannot start a C compiler. The `cc` crate picks
//! the target's compiler here (gcc, x86_64-w64-mingw32-gcc or aarch64-linux-gnu-gcc).
//!
//! Output (in OUT_DIR): `conf_<abi>.c` per calling convention, and `cases.rs`, which
//! `src/lib.rs` includes: the `CASES` table and the table of hand-written callees. For
//! callbacks the other way round (C calling Rust closures), `cb_<abi>.c` per convention
//! (the C drivers) and `callback_cases.rs`, the `CALLBACK_CASES` table.

mod gen;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use gen::callbacks;
use gen::cases::{Generator, CASES_PER_CONVENTION, SEED};
use gen::emit::{c_file, rust_file, Convention, Named};
use gen::variadic;

/// The C functions of Janet's `examples/ffi/so.c` (spec §9.2) and the defect checks of
/// spec §9 (`c/so.c`, `c/checks.c`). On x86-64 each is also built in the other x86-64
/// convention, named with `_alt`.
const HAND_WRITTEN: &[&str] = &[
    // so.c
    "int_fn",
    "my_fn",
    "double_fn",
    "double_many",
    "double_lots",
    "double_lots_2",
    "float_fn",
    "intint_fn",
    "intintint_fn",
    "return_struct",
    "struct_big",
    "void_fn",
    "void_fn_2",
    "void_ret_fn",
    "intintint_fn_2",
    "split_fn",
    "split_flip_fn",
    "split_ret_fn",
    "split_flip_ret_fn",
    "sixints_fn",
    "sixints_fn_2",
    "sixints_fn_3",
    "stack_spill_fn",
    "stack_spill_fn_2",
    // checks.c
    "ret_dd",
    "ret_ffff",
    "ret_df",
    "take_ia3",
    "take_dd",
    "take_ff",
    "ret_ff",
    "raw",
    "raw_signed",
    "raw_stack",
    "sum100",
    "take_dd_late",
    "take_dddd_late",
    "ret_null_string",
];

/// The conventions this target's C compiler can build callees for: the default one and,
/// on x86-64, the other x86-64 convention through an attribute.
fn conventions(arch: &str, os: &str) -> Vec<Convention> {
    match (arch, os) {
        ("x86_64", "windows") => vec![
            Convention { abi: "win64", attribute: "" },
            Convention { abi: "sysv64", attribute: "__attribute__((sysv_abi))" },
        ],
        ("x86_64", _) => vec![
            Convention { abi: "sysv64", attribute: "" },
            Convention { abi: "win64", attribute: "__attribute__((ms_abi))" },
        ],
        ("aarch64", os) if os != "windows" => vec![Convention { abi: "aapcs64", attribute: "" }],
        _ => vec![],
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap();
    for path in ["build.rs", "gen", "c"] {
        println!("cargo:rerun-if-changed={path}");
    }

    // Each convention gets the same seed, so the same signatures: a case that fails in
    // one convention and passes in the other points at that convention's engine.
    let conventions = conventions(&arch, &os);
    let defs: Vec<_> =
        conventions.iter().map(|_| Generator::new(SEED).cases(CASES_PER_CONVENTION)).collect();
    let mut named = Vec::new();
    let mut c_files = Vec::new();
    for (conv, defs) in conventions.iter().zip(&defs) {
        let start = named.len();
        for (i, def) in defs.iter().enumerate() {
            let id = named.len();
            named.push(Named {
                id,
                name: format!("jc_conf_{}_{i:04}", conv.abi),
                abi: conv.abi,
                def,
            });
        }
        let path = out_dir.join(format!("conf_{}.c", conv.abi));
        write_if_changed(&path, &c_file(conv, &named[start..]));
        c_files.push(path);
    }

    // Callbacks: the drivers call a pointer in each convention, and are themselves built
    // in the default one.
    let cb_defs: Vec<_> = conventions.iter().map(|_| callbacks::defs()).collect();
    let mut cb_named = Vec::new();
    for (conv, defs) in conventions.iter().zip(&cb_defs) {
        let start = cb_named.len();
        for (i, def) in defs.iter().enumerate() {
            let id = cb_named.len();
            let name = callbacks::driver_name(conv.abi, i);
            cb_named.push(Named { id, name, abi: conv.abi, def });
        }
        let path = out_dir.join(format!("cb_{}.c", conv.abi));
        write_if_changed(&path, &callbacks::c_file(conv, &cb_named[start..]));
        c_files.push(path);
    }
    write_if_changed(&out_dir.join("callback_cases.rs"), &callbacks::rust_file(&cb_named));
    c_files.extend(variadic_cases(&conventions, &out_dir, &os));
    c_files.extend(wide_cases(&conventions, &out_dir));
    c_files.extend(union_cases(&conventions, &out_dir));

    let alt = arch == "x86_64";
    let mut rust = rust_file(&named);
    rust.push_str(&hand_written_table(alt));
    write_if_changed(&out_dir.join("cases.rs"), &rust);

    let c_dir = manifest.join("c");
    let mut build = cc::Build::new();
    build
        .include(&c_dir)
        .flag_if_supported("-std=gnu11")
        .flag_if_supported("-fno-strict-aliasing")
        // gcc's notes that its own ABI changed in gcc 4.4 (for complex float members).
        .flag_if_supported("-Wno-psabi")
        .files(&c_files)
        .file(c_dir.join("support.c"))
        .file(c_dir.join("so.c"))
        .file(c_dir.join("checks.c"))
        .file(c_dir.join("ldouble.c"))
        .file(c_dir.join("errno.c"))
        .file(c_dir.join("wide_aapcs64.c"));
    if alt {
        build.file(c_dir.join("alt.c"));
    }
    build.compile("jitcall_conformance_c");
}

/// The variadic cases: `var_<abi>.c` per convention and `variadic_cases.rs`. On Windows
/// only the default convention's (gcc's `sysv_abi` variadic support there is not one the
/// tests can trust).
fn variadic_cases(conventions: &[Convention], out_dir: &Path, os: &str) -> Vec<PathBuf> {
    let conventions: Vec<&Convention> =
        conventions.iter().filter(|c| os != "windows" || c.abi == "win64").collect();
    let defs: Vec<_> =
        conventions.iter().map(|_| variadic::defs(variadic::CASES_PER_CONVENTION)).collect();
    let (mut named, mut fixed, mut files) = (Vec::new(), Vec::new(), Vec::new());
    for (conv, defs) in conventions.iter().zip(&defs) {
        let start = named.len();
        for (i, def) in defs.iter().enumerate() {
            let id = named.len();
            named.push(Named {
                id,
                name: variadic::name(conv.abi, i),
                abi: conv.abi,
                def: &def.case,
            });
            fixed.push(def.fixed);
        }
        let path = out_dir.join(format!("var_{}.c", conv.abi));
        write_if_changed(&path, &variadic::c_file(conv, &named[start..], &fixed[start..]));
        files.push(path);
    }
    write_if_changed(&out_dir.join("variadic_cases.rs"), &variadic::rust_file(&named, &fixed));
    files
}

/// The cases with wide types (`gen/wide.rs`): `wide_<abi>.c` (callees) and `wcb_<abi>.c`
/// (callback drivers) per convention, and `wide_cases.rs`.
fn wide_cases(conventions: &[Convention], out_dir: &Path) -> Vec<PathBuf> {
    use gen::wide;
    let defs = |_: &Convention, seed| wide::defs(seed, wide::CASES_PER_CONVENTION);
    let suite = Suite {
        files: ["wide", "wcb"],
        seeds: [wide::SEED, wide::CALLBACK_SEED],
        names: [wide::callee_name, wide::driver_name],
        tables: ["WIDE_CASES", "WIDE_CALLBACK_CASES"],
    };
    suite.write(conventions, out_dir, defs)
}

/// The cases with unions (`gen/unions.rs`): `union_<abi>.c`, `ucb_<abi>.c` and
/// `union_cases.rs`. AArch64's have no wide scalars (their port is separate).
fn union_cases(conventions: &[Convention], out_dir: &Path) -> Vec<PathBuf> {
    use gen::unions;
    let defs = |conv: &Convention, seed| {
        unions::defs(seed, unions::CASES_PER_CONVENTION, conv.abi != "aapcs64")
    };
    let suite = Suite {
        files: ["union", "ucb"],
        seeds: [unions::SEED, unions::CALLBACK_SEED],
        names: [unions::callee_name, unions::driver_name],
        tables: ["UNION_CASES", "UNION_CALLBACK_CASES"],
    };
    suite.write(conventions, out_dir, defs)
}

/// A generated suite in `gen/wide.rs`'s model: callees and callback drivers, each
/// `[callees, drivers]`.
struct Suite {
    /// C file prefixes (`<prefix>_<abi>.c`); the Rust file is `<files[0]>_cases.rs`.
    files: [&'static str; 2],
    seeds: [u64; 2],
    names: [fn(&str, usize) -> String; 2],
    tables: [&'static str; 2],
}

impl Suite {
    fn write(
        &self,
        conventions: &[Convention],
        out_dir: &Path,
        defs: impl Fn(&Convention, u64) -> Vec<gen::wide::WideDef>,
    ) -> Vec<PathBuf> {
        use gen::wide;
        let callee_defs: Vec<_> = conventions.iter().map(|c| defs(c, self.seeds[0])).collect();
        let driver_defs: Vec<_> = conventions.iter().map(|c| defs(c, self.seeds[1])).collect();
        let (mut callees, mut drivers, mut files) = (Vec::new(), Vec::new(), Vec::new());
        for (conv, (callee_defs, driver_defs)) in
            conventions.iter().zip(callee_defs.iter().zip(&driver_defs))
        {
            let (start, driver_start) = (callees.len(), drivers.len());
            for (i, def) in callee_defs.iter().enumerate() {
                let (id, name) = (callees.len(), (self.names[0])(conv.abi, i));
                callees.push(wide::Named { id, name, abi: conv.abi, def });
            }
            for (i, def) in driver_defs.iter().enumerate() {
                let (id, name) = (drivers.len(), (self.names[1])(conv.abi, i));
                drivers.push(wide::Named { id, name, abi: conv.abi, def });
            }
            let path = out_dir.join(format!("{}_{}.c", self.files[0], conv.abi));
            write_if_changed(&path, &wide::callee_file(conv, &callees[start..]));
            files.push(path);
            let path = out_dir.join(format!("{}_{}.c", self.files[1], conv.abi));
            write_if_changed(&path, &wide::driver_file(conv, &drivers[driver_start..]));
            files.push(path);
        }
        let rust = wide::rust_tables(&callees, &drivers, self.tables);
        write_if_changed(&out_dir.join(format!("{}_cases.rs", self.files[0])), &rust);
        files
    }
}

/// `HAND_WRITTEN` (and the `_alt` twins) as a Rust table of names and addresses.
fn hand_written_table(alt: bool) -> String {
    let names: Vec<String> = HAND_WRITTEN
        .iter()
        .map(|n| n.to_string())
        .chain(HAND_WRITTEN.iter().filter(|_| alt).map(|n| format!("{n}_alt")))
        .collect();
    let mut out = String::from("\nextern \"C\" {\n");
    for n in &names {
        writeln!(out, "    fn {n}();").unwrap();
    }
    out.push_str("}\n\n/// The hand-written callees (`c/so.c`, `c/checks.c`) by C name.\n");
    out.push_str("pub static HAND_WRITTEN: &[(&str, unsafe extern \"C\" fn())] = &[\n");
    for n in &names {
        writeln!(out, "    ({n:?}, {n}),").unwrap();
    }
    out.push_str("];\n");
    out
}

/// Leaves the file alone when its contents are the same, so that cc and rustc do not
/// rebuild for nothing.
fn write_if_changed(path: &Path, contents: &str) {
    if std::fs::read_to_string(path).ok().as_deref() != Some(contents) {
        std::fs::write(path, contents).unwrap();
    }
}
