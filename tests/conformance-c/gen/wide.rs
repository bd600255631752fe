//! Cases with the types beyond the first wave: `long double`, 128-bit integers and the
//! complex numbers, as scalars and inside structs and arrays, mixed with primitives.
//!
//! Every case has at least one of them (as an argument, in its result, or inside a struct
//! that is one). Both directions come from here: callees `jc_wide_<abi>_<n>` that check
//! every argument leaf with `==` (a `long double` compares all its 80 or 128 value bits,
//! a complex number both parts) and return a literal, and drivers `wcbcall_<abi>_<n>`
//! that call a callback with literals and compare its result leaf by leaf.
//!
//! Values: a `long double` is a double with about 40 significant bits (so that the
//! double-based values of jitcall hold it exactly), written `((long double)D)` so that C
//! converts the very same double; 128-bit integers have 16 distinct bytes and written
//! through `JC_I128` / `JC_U128`, in Janet as decimal strings; complex numbers are pairs.

use std::fmt::Write as _;
use std::rc::Rc;

use crate::gen::emit::Convention;
use crate::gen::model::Prim;
use crate::gen::rng::Rng;
use crate::gen::values::{Val, ValueGen};

/// The callee cases' seed, and the callback cases' one.
pub const SEED: u64 = 0x7769_6465_5f63_6173;
pub const CALLBACK_SEED: u64 = 0x7769_6465_5f63_6262;
/// Cases per convention, each direction (the test requires at least 500).
pub const CASES_PER_CONVENTION: usize = 540;
const MAX_ARGS: usize = 14;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum W {
    LongDouble,
    I128,
    U128,
    ComplexF32,
    ComplexF64,
    ComplexLongDouble,
}

impl W {
    const ALL: [W; 6] =
        [W::LongDouble, W::I128, W::U128, W::ComplexF32, W::ComplexF64, W::ComplexLongDouble];

    fn keyword(self) -> &'static str {
        match self {
            W::LongDouble => "long-double",
            W::I128 => "int128",
            W::U128 => "uint128",
            W::ComplexF32 => "complex-float",
            W::ComplexF64 => "complex-double",
            W::ComplexLongDouble => "complex-long-double",
        }
    }

    fn c_type(self) -> &'static str {
        match self {
            W::LongDouble => "long double",
            W::I128 => "__int128",
            W::U128 => "unsigned __int128",
            W::ComplexF32 => "_Complex float",
            W::ComplexF64 => "_Complex double",
            W::ComplexLongDouble => "_Complex long double",
        }
    }

    fn size(self) -> usize {
        match self {
            W::ComplexF32 => 8,
            W::ComplexLongDouble => 32,
            _ => 16,
        }
    }

    fn align(self) -> usize {
        match self {
            W::ComplexF32 => 4,
            W::ComplexF64 => 8,
            _ => 16,
        }
    }
}

#[derive(Clone)]
pub enum Ty {
    Prim(Prim),
    Wide(W),
    Struct(Rc<StructTy>),
    /// Only inside structs.
    Array(Rc<Ty>, usize),
}

/// A struct or (with `union`) a union; `packed`: every member packed (`:pack-all`,
/// gcc's `__attribute__((packed))`): no padding, alignment 1.
pub struct StructTy {
    pub fields: Vec<(Ty, usize)>,
    pub size: usize,
    pub align: usize,
    pub union: bool,
    pub packed: bool,
}

impl StructTy {
    fn new(types: Vec<Ty>) -> StructTy {
        StructTy::with(types, false, false)
    }

    /// The layout Janet and gcc give: a union's members all at offset 0.
    pub fn with(types: Vec<Ty>, union: bool, packed: bool) -> StructTy {
        let (mut size, mut align) = (0usize, 1usize);
        let mut fields = Vec::new();
        for ty in types {
            let a = if packed { 1 } else { ty.align() };
            align = align.max(a);
            let offset = if union { 0 } else { size.next_multiple_of(a) };
            size = size.max(offset + ty.size());
            fields.push((ty, offset));
        }
        StructTy { fields, size: size.next_multiple_of(align), align, union, packed }
    }
}

impl Ty {
    fn size(&self) -> usize {
        match self {
            Ty::Prim(p) => p.size(),
            Ty::Wide(w) => w.size(),
            Ty::Struct(s) => s.size,
            Ty::Array(e, n) => e.size() * n,
        }
    }

    fn align(&self) -> usize {
        match self {
            Ty::Prim(p) => p.size(),
            Ty::Wide(w) => w.align(),
            Ty::Struct(s) => s.align,
            Ty::Array(e, _) => e.align(),
        }
    }

    pub fn has_wide(&self) -> bool {
        match self {
            Ty::Prim(_) => false,
            Ty::Wide(_) => true,
            Ty::Struct(s) => s.fields.iter().any(|(t, _)| t.has_wide()),
            Ty::Array(e, _) => e.has_wide(),
        }
    }

    /// Whether a union is in it (or it is one).
    pub fn has_union(&self) -> bool {
        match self {
            Ty::Prim(_) | Ty::Wide(_) => false,
            Ty::Struct(s) => s.union || s.fields.iter().any(|(t, _)| t.has_union()),
            Ty::Array(e, _) => e.has_union(),
        }
    }

    /// Whether a `long double` (alone or as a complex part) is in it: its image differs
    /// between x87 and binary128, so the generator cannot spell it as bytes.
    pub fn has_long_double(&self) -> bool {
        match self {
            Ty::Prim(_) => false,
            Ty::Wide(w) => matches!(w, W::LongDouble | W::ComplexLongDouble),
            Ty::Struct(s) => s.fields.iter().any(|(t, _)| t.has_long_double()),
            Ty::Array(e, _) => e.has_long_double(),
        }
    }

    /// The byte ranges that carry a value (as C expressions of their length), from
    /// `base`: a `long double` has `JC_LD_BYTES` (10 on x87); a union's are its members'.
    fn significant(&self, base: usize, out: &mut Vec<(usize, String)>) {
        match self {
            Ty::Prim(p) => out.push((base, p.size().to_string())),
            Ty::Wide(W::LongDouble) => out.push((base, "JC_LD_BYTES".into())),
            Ty::Wide(W::ComplexLongDouble) => {
                out.push((base, "JC_LD_BYTES".into()));
                out.push((base + 16, "JC_LD_BYTES".into()));
            }
            Ty::Wide(w) => out.push((base, w.size().to_string())),
            Ty::Struct(s) => s.fields.iter().for_each(|(t, o)| t.significant(base + o, out)),
            Ty::Array(e, n) => (0..*n).for_each(|i| e.significant(base + i * e.size(), out)),
        }
    }

    pub fn janet(&self) -> String {
        match self {
            Ty::Prim(p) => format!(":{}", p.keywords()[0]),
            Ty::Wide(w) => format!(":{}", w.keyword()),
            Ty::Struct(s) => {
                let mut f: Vec<String> = s.fields.iter().map(|(t, _)| t.janet()).collect();
                if s.union {
                    f.insert(0, ":union".into());
                }
                if s.packed {
                    f.push(":pack-all".into());
                }
                format!("[{}]", f.join(" "))
            }
            Ty::Array(e, n) => format!("@[{} {n}]", e.janet()),
        }
    }
}

pub enum WVal {
    Prim(Val),
    LongDouble(f64),
    Int(W, i128),
    Complex(W, f64, f64),
    Struct(Vec<WVal>),
    Array(Vec<WVal>),
    /// A union's value `[I V]`: member I set, every other byte zero.
    Union(Rc<StructTy>, usize, Box<WVal>),
    /// A union's value as a string of exactly its size (its image).
    Bytes(Rc<StructTy>, Vec<u8>),
}

/// What a C function compares: a leaf with `==`, or a union's bytes with those of the
/// same union in an expected object built with [`WVal::build`].
enum Check {
    Leaf(String, String),
    Union(String, Rc<StructTy>),
}

/// A float text that reads back as the same double.
fn float_text(v: f64) -> String {
    let s = format!("{v:?}");
    if s.contains('.') || s.contains('e') {
        s
    } else {
        format!("{s}.0")
    }
}

impl WVal {
    /// Janet text: structs as tuples `[...]`, arrays `@[...]`, complex numbers `[re im]`.
    pub fn janet(&self) -> String {
        match self {
            WVal::Prim(v) => v.janet(false),
            WVal::LongDouble(v) => float_text(*v),
            WVal::Int(W::U128, v) => format!("{:?}", (*v as u128).to_string()),
            WVal::Int(_, v) => format!("{:?}", v.to_string()),
            WVal::Complex(_, re, im) => format!("[{} {}]", float_text(*re), float_text(*im)),
            WVal::Struct(items) => {
                format!("[{}]", items.iter().map(WVal::janet).collect::<Vec<_>>().join(" "))
            }
            WVal::Array(items) => {
                format!("@[{}]", items.iter().map(WVal::janet).collect::<Vec<_>>().join(" "))
            }
            WVal::Union(_, i, v) => format!("[{i} {}]", v.janet()),
            WVal::Bytes(_, bytes) => {
                let text: String = bytes.iter().map(|b| format!("\\x{b:02x}")).collect();
                format!("\"{text}\"")
            }
        }
    }

    /// C statements that set `lvalue` (already all zero bytes) to this value leaf by
    /// leaf, so that every byte no leaf covers stays zero, as jitcall writes a union.
    fn build(&self, lvalue: &str, out: &mut Vec<String>) {
        match self {
            WVal::Struct(items) => {
                items.iter().enumerate().for_each(|(i, v)| v.build(&format!("{lvalue}.f{i}"), out))
            }
            WVal::Array(items) => {
                items.iter().enumerate().for_each(|(i, v)| v.build(&format!("{lvalue}[{i}]"), out))
            }
            WVal::Union(_, i, v) => v.build(&format!("{lvalue}.f{i}"), out),
            WVal::Bytes(_, bytes) => {
                let list: Vec<String> = bytes.iter().map(|b| format!("{b:#04x}")).collect();
                out.push(format!(
                    "memcpy(&{lvalue}, (const unsigned char[]){{{}}}, {});",
                    list.join(", "),
                    bytes.len()
                ));
            }
            leaf => out.push(format!("{lvalue} = {};", leaf.c())),
        }
    }

    /// As [`WVal::leaf_checks`] of `root` + `path`, with unions compared as bytes (their
    /// path from `root` in [`Check::Union`]).
    fn checks(&self, root: &str, path: &str, out: &mut Vec<Check>) {
        match self {
            WVal::Struct(items) => items
                .iter()
                .enumerate()
                .for_each(|(i, v)| v.checks(root, &format!("{path}.f{i}"), out)),
            WVal::Array(items) => items
                .iter()
                .enumerate()
                .for_each(|(i, v)| v.checks(root, &format!("{path}[{i}]"), out)),
            WVal::Union(s, ..) | WVal::Bytes(s, _) => {
                out.push(Check::Union(path.into(), s.clone()))
            }
            leaf => {
                let mut leaves = Vec::new();
                leaf.leaf_checks(&format!("{root}{path}"), &mut leaves);
                out.extend(leaves.into_iter().map(|(l, v)| Check::Leaf(l, v)));
            }
        }
    }

    fn c(&self) -> String {
        match self {
            WVal::Prim(v) => v.c(),
            WVal::LongDouble(v) => format!("((long double){})", float_text(*v)),
            WVal::Int(w, v) => {
                let bits = *v as u128;
                let (hi, lo) = ((bits >> 64) as u64, bits as u64);
                let mac = if *w == W::I128 { "JC_I128" } else { "JC_U128" };
                format!("{mac}(UINT64_C({hi:#x}), UINT64_C({lo:#x}))")
            }
            WVal::Complex(w, re, im) => {
                let part = match w {
                    W::ComplexF32 => "float",
                    W::ComplexF64 => "double",
                    _ => "long double",
                };
                format!(
                    "__builtin_complex(({part}){}, ({part}){})",
                    float_text(*re),
                    float_text(*im)
                )
            }
            WVal::Struct(items) | WVal::Array(items) => {
                format!("{{{}}}", items.iter().map(WVal::c).collect::<Vec<_>>().join(", "))
            }
            WVal::Union(..) | WVal::Bytes(..) => unreachable!("unions are built, not literals"),
        }
    }

    /// `(lvalue, literal)` per leaf; complex numbers give two (`__real__`, `__imag__`).
    fn leaf_checks(&self, path: &str, out: &mut Vec<(String, String)>) {
        match self {
            WVal::Struct(items) => {
                for (i, v) in items.iter().enumerate() {
                    v.leaf_checks(&format!("{path}.f{i}"), out);
                }
            }
            WVal::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    v.leaf_checks(&format!("{path}[{i}]"), out);
                }
            }
            WVal::Complex(w, re, im) => {
                let part = if *w == W::ComplexF32 { "float" } else { "long double" };
                out.push((format!("__real__ {path}"), format!("({part}){}", float_text(*re))));
                out.push((format!("__imag__ {path}"), format!("({part}){}", float_text(*im))));
            }
            WVal::Prim(Val::Struct(_) | Val::Array(_)) => unreachable!("prims only"),
            WVal::Union(..) | WVal::Bytes(..) => unreachable!("unions are checked as bytes"),
            WVal::Prim(v) => out.push((path.to_string(), v.c())),
            leaf => out.push((path.to_string(), leaf.c())),
        }
    }
}

/// One case: its types and values.
pub struct WideDef {
    pub ret: Option<Ty>,
    pub params: Vec<Ty>,
    pub args: Vec<WVal>,
    pub result: Option<WVal>,
}

pub(crate) struct Gen {
    pub(crate) rng: Rng,
}

/// Primitives only, no `:ptr`-like ones whose text is special, except plain pointers.
pub(crate) const PRIMS: [Prim; 12] = [
    Prim::Bool,
    Prim::I8,
    Prim::U8,
    Prim::I16,
    Prim::U16,
    Prim::I32,
    Prim::U32,
    Prim::I64,
    Prim::U64,
    Prim::F32,
    Prim::F64,
    Prim::Ptr,
];

impl Gen {
    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.below(items.len())]
    }

    fn scalar(&mut self, wide_percent: usize) -> Ty {
        if self.rng.chance(wide_percent) {
            Ty::Wide(self.pick(&W::ALL))
        } else {
            Ty::Prim(self.pick(&PRIMS))
        }
    }

    fn field(&mut self, depth: usize) -> Ty {
        match self.rng.below(10) {
            0 if depth == 0 => Ty::Struct(Rc::new(self.structure(depth + 1))),
            1 => Ty::Array(Rc::new(self.scalar(50)), 1 + self.rng.below(3)),
            _ => self.scalar(50),
        }
    }

    fn structure(&mut self, depth: usize) -> StructTy {
        let n = 1 + self.rng.below(3);
        StructTy::new((0..n).map(|_| self.field(depth)).collect())
    }

    /// Structs of one long double (X87 X87UP: st(0)) and small mixes are made often.
    fn ty(&mut self) -> Ty {
        match self.rng.below(10) {
            0 => Ty::Struct(Rc::new(StructTy::new(vec![Ty::Wide(W::LongDouble)]))),
            1..=3 => Ty::Struct(Rc::new(self.structure(0))),
            _ => self.scalar(55),
        }
    }

    fn case(&mut self) -> WideDef {
        let count = self.rng.below(MAX_ARGS + 1);
        let mut params: Vec<Ty> = (0..count).map(|_| self.ty()).collect();
        let mut ret = (!self.rng.chance(10)).then(|| self.ty());
        if !params.iter().chain(ret.iter()).any(Ty::has_wide) {
            let w = Ty::Wide(self.pick(&W::ALL));
            match (params.len(), &ret) {
                (0, _) => ret = Some(w),
                (n, _) => {
                    let i = self.rng.below(n);
                    params[i] = w;
                }
            }
        }
        let args = params.iter().enumerate().map(|(i, t)| self.value(t, i)).collect();
        let result = ret.as_ref().map(|t| self.value(t, crate::gen::values::RESULT_INDEX));
        WideDef { ret, params, args, result }
    }

    pub(crate) fn value(&mut self, ty: &Ty, arg: usize) -> WVal {
        match ty {
            Ty::Prim(p) => {
                let model = crate::gen::model::Ty::prim(*p, p.keywords()[0]);
                WVal::Prim(ValueGen::new(&mut self.rng, arg).value(&model, 0))
            }
            Ty::Wide(W::LongDouble) => WVal::LongDouble(self.float(40)),
            Ty::Wide(w @ (W::I128 | W::U128)) => {
                let mut bits: u128 = 0;
                let salt = self.rng.below(255) as u128;
                for k in 0..16u128 {
                    bits |= ((arg as u128 * 0x35 + k * 0x0b + salt) % 255 + 1) << (8 * k);
                }
                if self.rng.chance(60) {
                    bits |= 1 << 127;
                }
                WVal::Int(*w, bits as i128)
            }
            Ty::Wide(w) => {
                let bits = if *w == W::ComplexF32 { 16 } else { 40 };
                WVal::Complex(*w, self.float(bits), self.float(bits))
            }
            Ty::Struct(s) if s.union => self.union_value(s, arg),
            Ty::Struct(s) => {
                WVal::Struct(s.fields.iter().map(|(t, _)| self.value(t, arg)).collect())
            }
            Ty::Array(e, n) => WVal::Array((0..*n).map(|_| self.value(e, arg)).collect()),
        }
    }

    /// `[I V]` with a random member, or (a third of the time, when the image does not
    /// depend on the `long double` format) a string of random bytes, none of them zero.
    fn union_value(&mut self, s: &Rc<StructTy>, arg: usize) -> WVal {
        let spelled = !s.fields.iter().any(|(t, _)| t.has_long_double());
        if spelled && self.rng.chance(33) {
            let bytes = (0..s.size).map(|_| 1 + self.rng.below(255) as u8).collect();
            return WVal::Bytes(s.clone(), bytes);
        }
        let i = self.rng.below(s.fields.len());
        let v = self.value(&s.fields[i].0, arg);
        WVal::Union(s.clone(), i, Box::new(v))
    }

    /// A number with `bits` significant bits, sometimes negative, scaled by 2^-8..2^8.
    fn float(&mut self, bits: u32) -> f64 {
        let m = (self.rng.next_u64() >> (64 - bits)) | 1 | (1 << (bits - 1));
        let e = self.rng.range(0, 16) as i32 - 8 - bits as i32 + 8;
        let v = m as f64 * 2f64.powi(e);
        if self.rng.chance(40) {
            -v
        } else {
            v
        }
    }
}

/// `count` cases from `seed`.
pub fn defs(seed: u64, count: usize) -> Vec<WideDef> {
    let mut gen = Gen { rng: Rng::new(seed) };
    (0..count).map(|_| gen.case()).collect()
}

/// A case with the names it was given.
pub struct Named<'a> {
    pub id: usize,
    pub name: String,
    pub abi: &'static str,
    pub def: &'a WideDef,
}

/// Struct names, in an order C accepts.
#[derive(Default)]
struct Structs {
    order: Vec<Rc<StructTy>>,
}

impl Structs {
    fn visit(&mut self, ty: &Ty) {
        match ty {
            Ty::Struct(s) => {
                if self.order.iter().any(|o| Rc::ptr_eq(o, s)) {
                    return;
                }
                s.fields.iter().for_each(|(t, _)| self.visit(t));
                self.order.push(s.clone());
            }
            Ty::Array(e, _) => self.visit(e),
            _ => {}
        }
    }

    fn name(&self, s: &Rc<StructTy>) -> String {
        let prefix = if s.union { "wu" } else { "ws" };
        format!("{prefix}{}", self.order.iter().position(|o| Rc::ptr_eq(o, s)).expect("visited"))
    }

    fn declare(&self, ty: &Ty, name: &str) -> String {
        match ty {
            Ty::Prim(p) => format!("{} {name}", p.c_type()),
            Ty::Wide(w) => format!("{} {name}", w.c_type()),
            Ty::Struct(s) => format!("{} {name}", self.name(s)),
            Ty::Array(e, n) => self.declare(e, &format!("{name}[{n}]")),
        }
    }

    fn all(cases: &[Named], out: &mut String) -> Structs {
        let mut structs = Structs::default();
        for case in cases {
            case.def.params.iter().chain(case.def.ret.iter()).for_each(|t| structs.visit(t));
        }
        for s in &structs.order {
            let kind = if s.union { "union" } else { "struct" };
            let packed = if s.packed { " __attribute__((packed))" } else { "" };
            writeln!(out, "typedef {kind}{packed} {{").unwrap();
            for (i, (t, _)) in s.fields.iter().enumerate() {
                writeln!(out, "    {};", structs.declare(t, &format!("f{i}"))).unwrap();
            }
            let name = structs.name(s);
            writeln!(out, "}} {name};").unwrap();
            writeln!(out, "JC_LAYOUT({name}, {}, {});", s.size, s.align).unwrap();
            for (i, (_, offset)) in s.fields.iter().enumerate() {
                writeln!(out, "JC_OFFSET({name}, f{i}, {offset});").unwrap();
            }
        }
        structs
    }

    fn ret_type(&self, def: &WideDef) -> String {
        def.ret.as_ref().map_or("void".into(), |t| self.declare(t, "").trim_end().to_string())
    }

    fn literal(&self, ty: &Ty, v: &WVal) -> String {
        match ty {
            Ty::Struct(s) => format!("({}){}", self.name(s), v.c()),
            _ => v.c(),
        }
    }

    /// Declares `name` of `ty`, all zero bytes, and sets it to `v` leaf by leaf.
    fn built(&self, ty: &Ty, v: &WVal, name: &str, out: &mut String) {
        writeln!(out, "    {};", self.declare(ty, name)).unwrap();
        writeln!(out, "    memset(&{name}, 0, sizeof {name});").unwrap();
        let mut statements = Vec::new();
        v.build(name, &mut statements);
        statements.iter().for_each(|s| writeln!(out, "    {s}").unwrap());
    }
}

/// C conditions: union `got` has the bytes of `want` wherever some member has a value
/// (zero bytes included). Bytes that are padding in every member are not compared: the
/// conventions do not carry them (gcc keeps only the low 4 bytes of an eightbyte whose
/// upper 4 are padding; an x87 result has no padding to give back).
fn same_bytes(got: &str, want: &str, s: &Rc<StructTy>) -> Vec<String> {
    let mut ranges = Vec::new();
    Ty::Struct(s.clone()).significant(0, &mut ranges);
    ranges.sort();
    ranges.dedup();
    ranges
        .into_iter()
        .map(|(off, len)| {
            format!(
                "memcmp((const char *)&{got} + {off}, (const char *)&{want} + {off}, {len}) == 0"
            )
        })
        .collect()
}

fn header(conv: &Convention, what: &str) -> String {
    let mut out =
        format!("/* Generated by tests/conformance-c/build.rs: {} {what}. */\n", conv.abi);
    out.push_str("#include \"jc.h\"\n\n");
    out.push_str("#define JC_U128(hi, lo) (((unsigned __int128)(hi) << 64) | (lo))\n");
    out.push_str("#define JC_I128(hi, lo) ((__int128)JC_U128(hi, lo))\n");
    out.push_str("/* The bytes of a long double that hold its value (x87: 10 of 16). */\n");
    out.push_str("#if defined(__x86_64__)\n#define JC_LD_BYTES 10\n#else\n");
    out.push_str("#define JC_LD_BYTES sizeof(long double)\n#endif\n");
    writeln!(out, "#define CONV {}\n", conv.attribute).unwrap();
    out
}

/// The callees of one convention.
pub fn callee_file(conv: &Convention, cases: &[Named]) -> String {
    let mut out = header(conv, "callees with wide types");
    let structs = Structs::all(cases, &mut out);
    for case in cases {
        let def = case.def;
        let params: Vec<String> = def
            .params
            .iter()
            .enumerate()
            .map(|(i, t)| structs.declare(t, &format!("a{i}")))
            .collect();
        let params = if params.is_empty() { "void".into() } else { params.join(", ") };
        writeln!(out, "CONV {} {}({params}) {{", structs.ret_type(def), case.name).unwrap();
        writeln!(out, "    jitcall_conf_last = {};", case.id).unwrap();
        for (i, (ty, arg)) in def.params.iter().zip(&def.args).enumerate() {
            let code = case.id * 100 + i + 1;
            if ty.has_union() {
                // Compared with an expected object: unions byte for byte.
                structs.built(ty, arg, &format!("e{i}"), &mut out);
                let mut checks = Vec::new();
                arg.checks(&format!("a{i}"), "", &mut checks);
                for check in checks {
                    match check {
                        Check::Leaf(l, v) => writeln!(out, "    jc_check({l} == {v}, {code});"),
                        Check::Union(p, s) => {
                            for same in same_bytes(&format!("a{i}{p}"), &format!("e{i}{p}"), &s) {
                                writeln!(out, "    jc_check({same}, {code});").unwrap();
                            }
                            Ok(())
                        }
                    }
                    .unwrap();
                }
                continue;
            }
            let mut checks = Vec::new();
            arg.leaf_checks(&format!("a{i}"), &mut checks);
            for (lvalue, literal) in checks {
                writeln!(out, "    jc_check({lvalue} == {literal}, {code});").unwrap();
            }
        }
        match (&def.ret, &def.result) {
            (Some(t), Some(v)) if t.has_union() => {
                structs.built(t, v, "r", &mut out);
                writeln!(out, "    return r;").unwrap();
            }
            (Some(t), Some(v)) => writeln!(out, "    return {};", structs.literal(t, v)).unwrap(),
            _ => {}
        }
        writeln!(out, "}}\n").unwrap();
    }
    out
}

/// The callback drivers of one convention (built in the default convention).
pub fn driver_file(conv: &Convention, cases: &[Named]) -> String {
    let mut out = header(conv, "callback drivers with wide types");
    let structs = Structs::all(cases, &mut out);
    for case in cases {
        let def = case.def;
        let ret = structs.ret_type(def);
        let params: Vec<String> =
            def.params.iter().map(|t| structs.declare(t, "").trim_end().to_string()).collect();
        let params = if params.is_empty() { "void".into() } else { params.join(", ") };
        let name = &case.name;
        writeln!(out, "typedef {ret} (CONV *{name}_fp)({params});").unwrap();
        writeln!(out, "int {name}({name}_fp fp) {{").unwrap();
        let mut args = Vec::new();
        for (i, (t, v)) in def.params.iter().zip(&def.args).enumerate() {
            if t.has_union() {
                structs.built(t, v, &format!("x{i}"), &mut out);
                args.push(format!("x{i}"));
            } else {
                args.push(structs.literal(t, v));
            }
        }
        let call = format!("fp({})", args.join(", "));
        match (&def.ret, &def.result) {
            (_, None) => writeln!(out, "    {call};").unwrap(),
            (Some(t), Some(result)) if t.has_union() => {
                writeln!(out, "    {ret} r = {call};").unwrap();
                structs.built(t, result, "e", &mut out);
                let mut checks = Vec::new();
                result.checks("r", "", &mut checks);
                for (k, check) in checks.iter().enumerate() {
                    match check {
                        Check::Leaf(l, v) => {
                            writeln!(out, "    if (!({l} == {v})) return {};", k + 1).unwrap()
                        }
                        Check::Union(p, s) => {
                            for same in same_bytes(&format!("r{p}"), &format!("e{p}"), s) {
                                writeln!(out, "    if (!({same})) return {};", k + 1).unwrap();
                            }
                        }
                    }
                }
            }
            (_, Some(result)) => {
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

/// The Rust tables of callees (as [`Case`]s) and drivers (as `CallbackCase`s), named.
pub fn rust_tables(callees: &[Named], drivers: &[Named], names: [&str; 2]) -> String {
    let mut out = String::from("// Generated by tests/conformance-c/build.rs.\n\nextern \"C\" {\n");
    for case in callees.iter().chain(drivers) {
        writeln!(out, "    fn {}();", case.name).unwrap();
    }
    out.push_str("}\n\n");
    let table = |out: &mut String, name: &str, ty: &str, last: &str, cases: &[Named]| {
        writeln!(out, "/// Generated cases, for every convention built.").unwrap();
        writeln!(out, "pub static {name}: &[{ty}] = &[").unwrap();
        for case in cases {
            let def = case.def;
            let ret = def.ret.as_ref().map_or(":void".into(), Ty::janet);
            let params: Vec<String> =
                def.params.iter().map(|t| format!("{:?}", t.janet())).collect();
            let args: Vec<String> = def.args.iter().map(|v| format!("{:?}", v.janet())).collect();
            let result = def.result.as_ref().map_or("nil".into(), WVal::janet);
            let (result_field, func_field) = last.split_once(',').expect("two names");
            writeln!(
                out,
                "    {ty} {{ id: {}, name: {:?}, abi: {:?}, ret: {ret:?}, params: &[{}], \
                 args: &[{}], {result_field}: {result:?}, {func_field}: {} }},",
                case.id,
                case.name,
                case.abi,
                params.join(", "),
                args.join(", "),
                case.name
            )
            .unwrap();
        }
        out.push_str("];\n\n");
    };
    table(&mut out, names[0], "Case", "expected,func", callees);
    table(&mut out, names[1], "CallbackCase", "result,driver", drivers);
    out
}

/// Callee names and driver names.
pub fn callee_name(abi: &str, i: usize) -> String {
    format!("jc_wide_{abi}_{i:04}")
}

pub fn driver_name(abi: &str, i: usize) -> String {
    format!("wcbcall_{abi}_{i:04}")
}
