//! Generates the flavour conformance cases and compiles their C for Apple arm64 and
//! Windows on ARM64 (clang-16 through flavour-callees), as one static library per flavour.
//!
//! The generator is the main suite's (`tests/conformance-c/gen`, included by path: one
//! type model, one value scheme), plus stack-heavy signatures made here. Per flavour:
//!
//! - call cases: callees that check every argument byte and return a distinctive result
//!   (`<p>_call_<n>`), and drivers of the same signatures (`<p>_calldrv_<n>`) for the C
//!   self-check (a clang caller calling the clang callee);
//! - variadic cases: callees reading with `va_arg` (`<p>_var_<n>`) and their drivers;
//! - callback cases: drivers that call a function pointer with literal arguments and check
//!   the result (`<p>_cb_<n>`), and C callees of the same signatures (`<p>_cbself_<n>`)
//!   for the self-check;
//! - wide and union cases (`build/wide.rs`), both directions, named as above with `wide`
//!   or `union` in front: `<p>_widecall_<n>`, `<p>_widecalldrv_<n>`, `<p>_widecb_<n>`,
//!   `<p>_widecbself_<n>`.
//!
//! Output in OUT_DIR: the C files, `lib<p>_flavour_conf.a`, and `cases.rs` (the tables
//! that `src/lib.rs` includes). Nothing happens unless the target is AArch64.

#[allow(dead_code)] // the main suite's generator: only a part is used here
#[path = "../conformance-c/gen/mod.rs"]
mod gen;
#[path = "build/wide.rs"]
mod wide_cases;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use flavour_callees::{Build, Flavour};
use gen::callbacks;
use gen::cases::{CaseDef, Generator};
use gen::emit::{c_file, rust_file, Convention, Named, StructNames};
use gen::model::{Prim, StructTy, Ty};
use gen::rng::Rng;
use gen::values::{ValueGen, RESULT_INDEX};
use gen::variadic::{self, VariadicDef};
use gen::wide;
use wide_cases::Suite;

/// Fixed seeds: the same cases on every build.
const CALL_SEED: u64 = 0x666c_6176_6361_6c6c;
const CALLBACK_SEED: u64 = 0x666c_6176_6362_636b;
const STACK_SEED: u64 = 0x666c_6176_7374_6b21;
/// Generated signatures per flavour and direction: the general mix, then stack-heavy ones.
const MIXED_CASES: usize = 480;
const STACK_CASES: usize = 140;
const VARIADIC_CASES: usize = 300;
/// The most arguments a general signature gets (past every register, within reason).
const MAX_ARGS: usize = 30;

struct Target {
    flavour: Flavour,
    /// The prefix of its C names.
    prefix: &'static str,
    /// jitcall's name of its convention.
    abi: &'static str,
}

const TARGETS: [Target; 2] = [
    Target { flavour: Flavour::Apple, prefix: "apple", abi: "aapcs64-apple" },
    Target { flavour: Flavour::Windows, prefix: "win", abi: "aapcs64-win" },
];

/// One flavour's generated cases.
struct Defs {
    calls: Vec<CaseDef>,
    variadic: Vec<VariadicDef>,
    /// Names of variadic cases whose clang caller is known wrong (see `windows_x7`).
    no_self_check: Vec<usize>,
    callbacks: Vec<CaseDef>,
    wide: Suite,
    unions: Suite,
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build");
    println!("cargo:rerun-if-changed=c");
    println!("cargo:rerun-if-changed=../conformance-c/gen");
    println!("cargo:rerun-if-changed=../flavour-callees/src");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() != Ok("aarch64") {
        // The flavoured code is AArch64 only; src/lib.rs includes the tables only there.
        return;
    }
    let defs: Vec<Defs> = TARGETS.iter().map(|t| defs(t.flavour)).collect();
    let mut tables = Tables::default();
    for (target, defs) in TARGETS.iter().zip(&defs) {
        let files = tables.add(target, defs, &out);
        let dir = out.join(target.prefix);
        let mut build = Build::new(target.flavour, &dir);
        let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it");
        build
            .flag(format!("-I{manifest}/c"))
            .flag("-ffreestanding")
            .define("FN(n)", &format!("{}_##n", target.prefix))
            .define("jitcall_conf_fail", &format!("{}_conf_fail", target.prefix))
            .define("jitcall_conf_last", &format!("{}_conf_last", target.prefix))
            .file(format!("{manifest}/c/support.c"));
        files.iter().for_each(|f| {
            build.file(f);
        });
        let name = format!("{}_flavour_conf", target.prefix);
        build.static_library(&name).unwrap_or_else(|e| panic!("{e}"));
        println!("cargo:rustc-link-search=native={}", dir.display());
        println!("cargo:rustc-link-lib=static={name}");
    }
    write_if_changed(&out.join("cases.rs"), &tables.rust());
}

fn defs(flavour: Flavour) -> Defs {
    let windows = flavour == Flavour::Windows;
    // MSVC gives a struct that is empty in GNU C (only zero-length arrays) 4 bytes or
    // more: those are not one type across the two, so Windows gets none.
    let keep = |d: &CaseDef| !windows || !d.params.iter().chain(&d.ret).any(Ty::has_zero_length);
    let general = |seed| {
        let mut g = Generator::new(seed).with_max_args(MAX_ARGS);
        let mut v: Vec<CaseDef> = g.cases(MIXED_CASES + 40).into_iter().filter(keep).collect();
        v.truncate(MIXED_CASES);
        v
    };
    let mut calls = general(CALL_SEED);
    calls.extend(stack_heavy(STACK_SEED, STACK_CASES));
    let mut callbacks = general(CALLBACK_SEED);
    callbacks.extend(stack_heavy(STACK_SEED ^ 1, STACK_CASES));

    let mut variadic = Vec::new();
    let mut no_self_check = Vec::new();
    for def in variadic::defs(VARIADIC_CASES + 100) {
        if variadic.len() == VARIADIC_CASES {
            break;
        }
        match if windows { windows_x7(&def) } else { X7::No } {
            X7::No => variadic.push(def),
            X7::Yes => {
                no_self_check.push(variadic.len());
                variadic.push(def);
            }
            X7::Unclear => {}
        }
    }
    let (wide, unions) = (wide_cases::wide_suite(), wide_cases::union_suite());
    Defs { calls, variadic, no_self_check, callbacks, wide, unions }
}

// ---------------------------------------------------------------------------------------
// Stack-heavy signatures: 9 to 24 arguments of small mixed sizes, so that many land on the
// stack (packed at their natural alignment on Apple, in 8-byte slots elsewhere), with
// small structs and HFAs among them.

fn stack_heavy(seed: u64, count: usize) -> Vec<CaseDef> {
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|i| {
            let mut params: Vec<Ty> = Vec::new();
            // Now and then use the registers up first, so everything after is on the stack.
            match i % 4 {
                0 => params.extend((0..8).map(|_| prim(Prim::I64))),
                1 => params.extend((0..8).map(|_| prim(Prim::F64))),
                _ => {}
            }
            let n = rng.range(9, 24);
            params.extend((0..n).map(|_| small_arg(&mut rng)));
            let ret = match rng.below(8) {
                0 => None,
                1 => Some(hfa(&mut rng)),
                2 | 3 => Some(small_struct(&mut rng)),
                _ => Some(small_prim(&mut rng)),
            };
            let args =
                params.iter().enumerate().map(|(i, t)| ValueGen::new(&mut rng, i).value(t, 0));
            let args = args.collect();
            let result = ret.as_ref().map(|t| ValueGen::new(&mut rng, RESULT_INDEX).value(t, 0));
            CaseDef { ret, params, args, result }
        })
        .collect()
}

const SMALL: [Prim; 10] = [
    Prim::Bool,
    Prim::I8,
    Prim::U8,
    Prim::I16,
    Prim::U16,
    Prim::I32,
    Prim::U32,
    Prim::F32,
    Prim::F64,
    Prim::I64,
];

fn prim(p: Prim) -> Ty {
    Ty::prim(p, p.keywords()[0])
}

fn small_prim(rng: &mut Rng) -> Ty {
    prim(rng.pick(&SMALL))
}

fn small_arg(rng: &mut Rng) -> Ty {
    match rng.below(10) {
        0 => small_struct(rng),
        1 => hfa(rng),
        _ => small_prim(rng),
    }
}

/// A naturally aligned struct of 1 to 8 bytes of the small types.
fn small_struct(rng: &mut Rng) -> Ty {
    loop {
        let n = rng.range(1, 4);
        let members = (0..n).map(|_| (prim(rng.pick(&SMALL[..8])), false)).collect();
        let s = StructTy::new(members, None);
        if s.size <= 8 {
            return Ty::Struct(Rc::new(s));
        }
    }
}

/// 1 to 4 floats or doubles.
fn hfa(rng: &mut Rng) -> Ty {
    let p = prim(rng.pick(&[Prim::F32, Prim::F64]));
    let members = (0..rng.range(1, 4)).map(|_| (p.clone(), false)).collect();
    Ty::Struct(Rc::new(StructTy::new(members, None)))
}

// ---------------------------------------------------------------------------------------
// Windows on ARM64 variadic calls: every argument of the variadic part takes 8-byte slots
// (x0-x7, then the stack); a 9-16-byte composite that starts at x7 goes half in x7, half
// on the stack (Microsoft's rule, which clang 16's `va_arg` follows but its caller does
// not: shared/cross-testing.md). Such cases go to jitcall, not to the clang self-check.

enum X7 {
    /// No composite of the variadic part starts at x7.
    No,
    /// One does, whatever the fixed part's floats do.
    Yes,
    /// Depends on whether fixed floats use integer registers: left out.
    Unclear,
}

fn windows_x7(def: &VariadicDef) -> X7 {
    let params = &def.case.params;
    // Slots the fixed part takes: with floats and HFAs in v registers, or in x registers.
    let fixed_slots = |floats_in_x: bool| {
        params[..def.fixed].iter().fold(0usize, |used, t| {
            let all_float = t.leaf_prims().iter().all(|p| p.is_float());
            let slots = match t {
                _ if all_float && !floats_in_x && t.leaf_prims().len() <= 4 => 0,
                Ty::Struct(_) if t.size() > 16 => 1,
                _ => t.size().div_ceil(8),
            };
            if used + slots > 8 {
                8 // does not fit: to the stack, and no more integer registers
            } else {
                used + slots
            }
        })
    };
    let straddles = |mut slot: usize| {
        for t in &params[def.fixed..] {
            let slots = match t {
                Ty::Struct(_) if t.size() > 16 => 1,
                _ => t.size().div_ceil(8),
            };
            if slots == 2 && slot == 7 {
                return true;
            }
            slot += slots;
        }
        false
    };
    match (straddles(fixed_slots(false)), straddles(fixed_slots(true))) {
        (false, false) => X7::No,
        (true, true) => X7::Yes,
        _ => X7::Unclear,
    }
}

// ---------------------------------------------------------------------------------------
// Output

/// Every flavour's named cases, for the Rust tables (written once, over both flavours).
#[derive(Default)]
struct Tables<'a> {
    calls: Vec<Named<'a>>,
    variadic: Vec<Named<'a>>,
    fixed: Vec<usize>,
    callbacks: Vec<Named<'a>>,
    /// The wide and the union cases: callees and callback drivers.
    wide: WideTables<'a>,
    unions: WideTables<'a>,
    /// The self-check's rows, and `extern` lines for the C functions only it uses.
    self_checks: String,
    externs: String,
}

impl<'a> Tables<'a> {
    /// Writes one flavour's C files (returned) and adds its cases to the tables.
    fn add(&mut self, t: &Target, d: &'a Defs, out: &Path) -> Vec<PathBuf> {
        let conv = Convention { abi: t.abi, attribute: "" };
        let p = t.prefix;
        let mut files = Vec::new();
        let mut file = |name: String, text: String| {
            let path = out.join(name);
            write_if_changed(&path, &text);
            files.push(path);
        };

        // Calls: callees for jitcall, drivers for the self-check.
        let refs: Vec<&CaseDef> = d.calls.iter().collect();
        let calls = named(&refs, self.calls.len(), t.abi, |i| format!("{p}_call_{i:04}"));
        let drivers = named(&refs, self.calls.len(), t.abi, |i| format!("{p}_calldrv_{i:04}"));
        file(format!("{p}_call.c"), c_file(&conv, &calls));
        file(format!("{p}_calldrv.c"), callbacks::c_file(&conv, &drivers));
        self.self_check("call", &calls, &drivers, &drivers, |_| true);
        self.calls.extend(calls);

        // Variadic calls: `va_arg` callees for jitcall, drivers for the self-check.
        let refs: Vec<&CaseDef> = d.variadic.iter().map(|v| &v.case).collect();
        let fixed: Vec<usize> = d.variadic.iter().map(|v| v.fixed).collect();
        let calls = named(&refs, self.variadic.len(), t.abi, |i| format!("{p}_var_{i:04}"));
        let drivers = named(&refs, self.variadic.len(), t.abi, |i| format!("{p}_vardrv_{i:04}"));
        file(format!("{p}_var.c"), variadic::c_file(&conv, &calls, &fixed));
        file(format!("{p}_vardrv.c"), variadic_drivers(&drivers, &fixed));
        let checked = |i: usize| !d.no_self_check.contains(&i);
        self.self_check("variadic", &calls, &drivers, &drivers, checked);
        self.variadic.extend(calls);
        self.fixed.extend(fixed);

        // Callbacks: drivers for jitcall, C callees of the same signatures for the
        // self-check.
        let refs: Vec<&CaseDef> = d.callbacks.iter().collect();
        let drivers = named(&refs, self.callbacks.len(), t.abi, |i| format!("{p}_cb_{i:04}"));
        let callees = named(&refs, self.callbacks.len(), t.abi, |i| format!("{p}_cbself_{i:04}"));
        file(format!("{p}_cb.c"), callbacks::c_file(&conv, &drivers));
        file(format!("{p}_cbself.c"), c_file(&conv, &callees));
        self.self_check("callback", &callees, &drivers, &callees, |_| true);
        self.callbacks.extend(drivers);

        let mut wide = std::mem::take(&mut self.wide);
        files.extend(wide.add(t, "wide", &d.wide, out, self));
        self.wide = wide;
        let mut unions = std::mem::take(&mut self.unions);
        files.extend(unions.add(t, "union", &d.unions, out, self));
        self.unions = unions;
        files
    }

    /// Self-check rows: `driver(callee)` for each pair; `extra` are the functions that
    /// only the self-check uses (the other tables declare the rest).
    fn self_check(
        &mut self,
        kind: &str,
        callees: &[Named],
        drivers: &[Named],
        extra: &[Named],
        checked: impl Fn(usize) -> bool,
    ) {
        for (i, (callee, driver)) in callees.iter().zip(drivers).enumerate() {
            if checked(i) {
                let pair = [callee.name.as_str(), driver.name.as_str()];
                self.self_check_row(kind, callee.abi, callee.id, pair, &extra[i].name);
            }
        }
    }

    /// One self-check row: `driver(callee)` (`pair`), where `callee` reports `id`.
    fn self_check_row(&mut self, kind: &str, abi: &str, id: usize, pair: [&str; 2], extra: &str) {
        let [callee, driver] = pair;
        writeln!(self.externs, "    fn {extra}();").unwrap();
        writeln!(
            self.self_checks,
            "    SelfCheck {{ kind: {kind:?}, abi: {abi:?}, id: {id}, name: {callee:?}, \
             callee: {callee}, driver: {driver} }},"
        )
        .unwrap();
    }

    /// `cases.rs`: `CASES`, `VARIADIC_CASES`, `CALLBACK_CASES` (the main suite's
    /// writers) and `SELF_CHECKS`.
    fn rust(&self) -> String {
        let mut out = rust_file(&self.calls);
        out += &variadic::rust_file(&self.variadic, &self.fixed);
        out += &callbacks::rust_file(&self.callbacks);
        let (w, u) = (&self.wide, &self.unions);
        out += &wide::rust_tables(&w.calls, &w.callbacks, ["WIDE_CASES", "WIDE_CALLBACK_CASES"]);
        out += &wide::rust_tables(&u.calls, &u.callbacks, ["UNION_CASES", "UNION_CALLBACK_CASES"]);
        writeln!(out, "\nextern \"C\" {{\n{}}}\n", self.externs).unwrap();
        out += "/// Clang-compiled drivers calling clang-compiled callees, per flavour.\n";
        writeln!(out, "pub static SELF_CHECKS: &[SelfCheck] = &[\n{}];", self.self_checks).unwrap();
        out
    }
}

/// One suite of `gen/wide.rs`'s model (the wide or the union cases), over both flavours.
#[derive(Default)]
struct WideTables<'a> {
    /// Callees, as `Case`s.
    calls: Vec<wide::Named<'a>>,
    /// Callback drivers, as `CallbackCase`s.
    callbacks: Vec<wide::Named<'a>>,
}

impl<'a> WideTables<'a> {
    /// Writes one flavour's C files of suite `kind` (returned), adds its cases to the
    /// tables and its pairs to `tables`' self-check, as [`Tables::add`] does for the rest.
    fn add(
        &mut self,
        t: &Target,
        kind: &str,
        suite: &'a Suite,
        out: &Path,
        tables: &mut Tables,
    ) -> Vec<PathBuf> {
        let conv = Convention { abi: t.abi, attribute: "" };
        let p = t.prefix;
        let named = |defs: &'a [wide::WideDef], first: usize, what: &str| -> Vec<_> {
            let name = |i| format!("{p}_{kind}{what}_{i:04}");
            let named = defs.iter().enumerate();
            named
                .map(|(i, def)| wide::Named { id: first + i, name: name(i), abi: t.abi, def })
                .collect()
        };
        let mut files = Vec::new();
        let mut file = |name: String, text: String| {
            let path = out.join(name);
            write_if_changed(&path, &text);
            files.push(path);
        };

        // Calls: callees for jitcall, drivers of the same signatures for the self-check.
        let calls: Vec<_> = named(&suite.calls, self.calls.len(), "call");
        let drivers: Vec<_> = named(&suite.calls, self.calls.len(), "calldrv");
        file(format!("{p}_{kind}call.c"), wide::callee_file(&conv, &calls));
        file(format!("{p}_{kind}calldrv.c"), wide::driver_file(&conv, &drivers));
        for (callee, driver) in calls.iter().zip(&drivers) {
            let pair = [callee.name.as_str(), driver.name.as_str()];
            tables.self_check_row(&format!("{kind} call"), t.abi, callee.id, pair, &driver.name);
        }
        self.calls.extend(calls);

        // Callbacks: drivers for jitcall, callees of the same signatures for the
        // self-check.
        let drivers: Vec<_> = named(&suite.callbacks, self.callbacks.len(), "cb");
        let callees: Vec<_> = named(&suite.callbacks, self.callbacks.len(), "cbself");
        file(format!("{p}_{kind}cb.c"), wide::driver_file(&conv, &drivers));
        file(format!("{p}_{kind}cbself.c"), wide::callee_file(&conv, &callees));
        for (callee, driver) in callees.iter().zip(&drivers) {
            let pair = [callee.name.as_str(), driver.name.as_str()];
            let kind = format!("{kind} callback");
            tables.self_check_row(&kind, t.abi, callee.id, pair, &callee.name);
        }
        self.callbacks.extend(drivers);
        files
    }
}

fn named<'a>(
    defs: &[&'a CaseDef],
    first: usize,
    abi: &'static str,
    name: impl Fn(usize) -> String,
) -> Vec<Named<'a>> {
    defs.iter()
        .enumerate()
        .map(|(i, def)| Named { id: first + i, name: name(i), abi, def })
        .collect()
}

/// Drivers for the variadic self-check: `int f(RET (*fp)(FIXED, ...))` calls `fp` with
/// the case's arguments and compares the result leaf by leaf (as `callbacks::c_file`).
fn variadic_drivers(cases: &[Named], fixed: &[usize]) -> String {
    let mut out = String::from("/* Generated by tests/flavour-conformance/build.rs. */\n");
    out.push_str("#include \"jc.h\"\n\n");
    let names = StructNames::declare_all(cases, &mut out);
    let decl = |t: &Ty| names.declare(t, "").trim_end().to_string();
    for (case, &fixed) in cases.iter().zip(fixed) {
        let def = case.def;
        let ret = def.ret.as_ref().map_or("void".to_string(), decl);
        let params: Vec<String> = def.params[..fixed].iter().map(decl).collect();
        let name = &case.name;
        writeln!(out, "typedef {ret} (*{name}_fp)({}, ...);", params.join(", ")).unwrap();
        writeln!(out, "int {name}({name}_fp fp) {{").unwrap();
        let args: Vec<String> = def
            .params
            .iter()
            .zip(&def.args)
            .map(|(t, v)| match t {
                Ty::Struct(s) => format!("({}){}", names.name(s), v.c()),
                // A variadic argument is passed as its own type: cast the literal to it.
                _ => format!("({}){}", decl(t), v.c()),
            })
            .collect();
        let call = format!("fp({})", args.join(", "));
        match &def.result {
            None => writeln!(out, "    {call};").unwrap(),
            Some(result) => {
                writeln!(out, "    {ret} r = {call};").unwrap();
                let mut checks = Vec::new();
                result.leaf_checks("r", &mut checks);
                for (k, (lvalue, literal)) in checks.iter().enumerate() {
                    writeln!(out, "    if (!({lvalue} == {literal})) return {};", k + 1).unwrap();
                }
            }
        }
        writeln!(out, "    return 0;\n}}\n").unwrap();
    }
    out
}

/// Leaves the file alone when its contents are the same (no rebuild for nothing).
fn write_if_changed(path: &Path, contents: &str) {
    if std::fs::read_to_string(path).ok().as_deref() != Some(contents) {
        std::fs::write(path, contents).unwrap();
    }
}
