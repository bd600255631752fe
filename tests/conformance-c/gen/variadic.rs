//! Variadic cases: C callees `RET f(FIXED..., ...)` that read their variadic arguments
//! with `va_arg` and check every byte, and the Rust table that calls them.
//!
//! Each signature has 1 to 6 fixed parameters (any type; the last one of a promoted type,
//! so that `va_start` is defined) and 0 to 20 variadic arguments of C's promoted scalar
//! types and of structs (small, 9 to 16 bytes, HFA-shaped, large). The model, the values
//! and the struct declarations are the fixed-signature generator's.

use std::fmt::Write as _;
use std::rc::Rc;

use crate::gen::cases::CaseDef;
use crate::gen::emit::{Convention, Named, StructNames};
use crate::gen::model::{Prim, StructTy, Ty};
use crate::gen::rng::Rng;
use crate::gen::values::{ValueGen, RESULT_INDEX};

/// Fixed, like the other generators' seeds.
pub const SEED: u64 = 0x7661_7261_7267_7321;
/// Cases per calling convention (the tests require at least 500).
pub const CASES_PER_CONVENTION: usize = 520;

/// One variadic case: the signature (fixed parameters then this call's variadic
/// arguments, in `case.params`) and the number of fixed ones.
pub struct VariadicDef {
    pub case: CaseDef,
    pub fixed: usize,
}

/// The C function's name for case `i` of convention `abi`.
pub fn name(abi: &str, i: usize) -> String {
    format!("jc_var_{abi}_{i:04}")
}

/// C's promoted scalar types, which a variadic argument may have.
const PROMOTED: [(Prim, &str); 8] = [
    (Prim::I32, "int"),
    (Prim::U32, "uint"),
    (Prim::I64, "int64"),
    (Prim::U64, "uint64"),
    (Prim::F64, "double"),
    (Prim::Ptr, "ptr"),
    (Prim::Size, "size"),
    (Prim::SSize, "ssize"),
];

/// Any scalar, for fixed parameters and struct fields.
const ANY: [(Prim, &str); 12] = [
    (Prim::Bool, "bool"),
    (Prim::I8, "char"),
    (Prim::U8, "uint8"),
    (Prim::I16, "short"),
    (Prim::U16, "ushort"),
    (Prim::I32, "int"),
    (Prim::U32, "uint"),
    (Prim::I64, "int64"),
    (Prim::U64, "uint64"),
    (Prim::F32, "float"),
    (Prim::F64, "double"),
    (Prim::Ptr, "ptr"),
];

pub fn defs(count: usize) -> Vec<VariadicDef> {
    let mut rng = Rng::new(SEED);
    (0..count).map(|i| def(&mut rng, i)).collect()
}

fn def(rng: &mut Rng, i: usize) -> VariadicDef {
    let fixed = rng.range(1, 6);
    // Every count from 0 to 20 comes up early; then random ones.
    let variadic = if i <= 20 { i } else { rng.range(0, 20) };
    let mut params: Vec<Ty> = (0..fixed - 1).map(|_| fixed_param(rng)).collect();
    params.push(scalar(rng, &PROMOTED));
    params.extend((0..variadic).map(|_| variadic_arg(rng)));
    let ret = match rng.below(6) {
        0 => None,
        1 => Some(scalar(rng, &[(Prim::F64, "double")])),
        2 => Some(structure(rng, 1, 40)),
        _ => Some(scalar(rng, &ANY)),
    };
    let args = params.iter().enumerate().map(|(i, t)| ValueGen::new(rng, i).value(t, 0)).collect();
    let result = ret.as_ref().map(|t| ValueGen::new(rng, RESULT_INDEX).value(t, 0));
    VariadicDef { case: CaseDef { ret, params, args, result }, fixed }
}

fn scalar(rng: &mut Rng, from: &[(Prim, &'static str)]) -> Ty {
    let (p, k) = rng.pick(from);
    Ty::prim(p, k)
}

fn fixed_param(rng: &mut Rng) -> Ty {
    if rng.chance(20) {
        structure(rng, 1, 24)
    } else {
        scalar(rng, &ANY)
    }
}

fn variadic_arg(rng: &mut Rng) -> Ty {
    match rng.below(10) {
        0 => structure(rng, 1, 8),
        1 => structure(rng, 9, 16),
        2 => hfa(rng),
        3 => structure(rng, 17, 40),
        _ => scalar(rng, &PROMOTED),
    }
}

/// A struct of `min` to `max` bytes with fields of any scalar type, naturally aligned.
fn structure(rng: &mut Rng, min: usize, max: usize) -> Ty {
    loop {
        let mut members = Vec::new();
        let mut s = StructTy::new(vec![], None);
        while s.size < min {
            members.push((scalar(rng, &ANY), false));
            s = StructTy::new(members.clone(), None);
        }
        if s.size <= max {
            return Ty::Struct(Rc::new(s));
        }
    }
}

/// 1 to 4 floats or doubles.
fn hfa(rng: &mut Rng) -> Ty {
    let p = scalar(rng, &[(Prim::F32, "float"), (Prim::F64, "double")]);
    let members = (0..rng.range(1, 4)).map(|_| (p.clone(), false)).collect();
    Ty::Struct(Rc::new(StructTy::new(members, None)))
}

/// How a convention's callee walks its variadic arguments in C.
fn va_words(conv: &Convention) -> (&'static str, &'static str, &'static str) {
    match conv.attribute {
        a if a.contains("ms_abi") => {
            ("__builtin_ms_va_list", "__builtin_ms_va_start", "__builtin_ms_va_end")
        }
        a if a.contains("sysv_abi") => {
            ("__builtin_sysv_va_list", "__builtin_sysv_va_start", "__builtin_sysv_va_end")
        }
        _ => ("va_list", "va_start", "va_end"),
    }
}

/// The C source of one convention's variadic callees.
pub fn c_file(conv: &Convention, cases: &[Named], fixed: &[usize]) -> String {
    let mut out = String::new();
    writeln!(
        out,
        "/* Generated by tests/conformance-c/build.rs: {} variadic callees. */",
        conv.abi
    )
    .unwrap();
    writeln!(out, "#include <stdarg.h>\n#include \"jc.h\"\n").unwrap();
    writeln!(out, "#define CONV {}\n", conv.attribute).unwrap();
    let names = StructNames::declare_all(cases, &mut out);
    for (case, &fixed) in cases.iter().zip(fixed) {
        function(conv, &names, case, fixed, &mut out);
    }
    out
}

fn function(conv: &Convention, names: &StructNames, case: &Named, fixed: usize, out: &mut String) {
    let def = case.def;
    let ret = match &def.ret {
        None => "void".to_string(),
        Some(t) => names.declare(t, "").trim_end().to_string(),
    };
    let params: Vec<String> = def.params[..fixed]
        .iter()
        .enumerate()
        .map(|(i, t)| names.declare(t, &format!("a{i}")))
        .collect();
    writeln!(out, "CONV {ret} {}({}, ...) {{", case.name, params.join(", ")).unwrap();
    writeln!(out, "    jitcall_conf_last = {};", case.id).unwrap();
    let (list, start, end) = va_words(conv);
    writeln!(out, "    {list} ap;\n    {start}(ap, a{});", fixed - 1).unwrap();
    for (i, ty) in def.params.iter().enumerate().skip(fixed) {
        let decl = names.declare(ty, "");
        let decl = decl.trim_end();
        // Win64 passes aggregates of other sizes than 1, 2, 4 and 8 bytes by reference:
        // read the pointer (gcc 12's ms_abi va_arg would read the value inline).
        let by_reference = conv.abi == "win64"
            && matches!(ty, Ty::Struct(_))
            && !matches!(ty.size(), 1 | 2 | 4 | 8);
        if by_reference {
            writeln!(out, "    {decl} a{i} = *__builtin_va_arg(ap, {decl} *);").unwrap();
        } else {
            writeln!(out, "    {decl} a{i} = __builtin_va_arg(ap, {decl});").unwrap();
        }
    }
    writeln!(out, "    {end}(ap);").unwrap();
    for (i, arg) in def.args.iter().enumerate() {
        let code = case.id * 100 + i + 1;
        let mut checks = Vec::new();
        arg.leaf_checks(&format!("a{i}"), &mut checks);
        for (lvalue, literal) in checks {
            writeln!(out, "    jc_check({lvalue} == {literal}, {code});").unwrap();
        }
    }
    match (&def.ret, &def.result) {
        (Some(Ty::Struct(s)), Some(v)) => {
            writeln!(out, "    {} r = {};\n    return r;", names.name(s), v.c()).unwrap();
        }
        (Some(_), Some(v)) => writeln!(out, "    return {};", v.c()).unwrap(),
        _ => {}
    }
    writeln!(out, "}}\n").unwrap();
}

/// The Rust table `VARIADIC_CASES`.
pub fn rust_file(cases: &[Named], fixed: &[usize]) -> String {
    let mut out = String::new();
    writeln!(out, "// Generated by tests/conformance-c/build.rs.\n\nextern \"C\" {{").unwrap();
    for case in cases {
        writeln!(out, "    fn {}();", case.name).unwrap();
    }
    writeln!(
        out,
        "}}\n\n/// Every generated variadic case, for every convention this target builds."
    )
    .unwrap();
    writeln!(out, "pub static VARIADIC_CASES: &[VariadicCase] = &[").unwrap();
    for (case, fixed) in cases.iter().zip(fixed) {
        let def = case.def;
        let ret = def.ret.as_ref().map_or(":void".to_string(), Ty::janet);
        let params: Vec<String> = def.params.iter().map(|t| format!("{:?}", t.janet())).collect();
        let args: Vec<String> = def.args.iter().map(|v| format!("{:?}", v.janet(false))).collect();
        let expected = def.result.as_ref().map_or("nil".to_string(), |v| v.janet(true));
        writeln!(
            out,
            "    VariadicCase {{ id: {}, name: {:?}, abi: {:?}, ret: {:?}, fixed: {fixed}, \
             params: &[{}], args: &[{}], expected: {:?}, func: {} }},",
            case.id,
            case.name,
            case.abi,
            ret,
            params.join(", "),
            args.join(", "),
            expected,
            case.name
        )
        .unwrap();
    }
    writeln!(out, "];").unwrap();
    out
}
