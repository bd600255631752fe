//! The type model: one description that the Janet type text, the C declaration and the
//! layout all come from. The layout follows Janet's `ffi/struct` rules (spec §1.3); the C
//! side carries `_Static_assert`s on size, alignment and offsets, so the C compiler checks
//! that the model and C agree before a single call is made.

use std::rc::Rc;

/// The primitive kinds the generator uses. `:string` is left out (a pointer that jitcall
/// follows), and so are `:long` / `:ulong`, whose width depends on the platform.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Prim {
    Bool,
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    F32,
    F64,
    Ptr,
    Size,
    SSize,
}

impl Prim {
    pub const ALL: [Prim; 14] = [
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
        Prim::Size,
        Prim::SSize,
    ];

    /// Every Janet keyword for this primitive (spec §1.2), so that aliases get used too.
    pub fn keywords(self) -> &'static [&'static str] {
        match self {
            Prim::Bool => &["bool"],
            Prim::I8 => &["int8", "s8", "char"],
            Prim::U8 => &["uint8", "u8", "byte", "uchar"],
            Prim::I16 => &["int16", "s16", "short"],
            Prim::U16 => &["uint16", "u16", "ushort"],
            Prim::I32 => &["int32", "s32", "int"],
            Prim::U32 => &["uint32", "u32", "uint"],
            Prim::I64 => &["int64", "s64"],
            Prim::U64 => &["uint64", "u64"],
            Prim::F32 => &["float", "r32"],
            Prim::F64 => &["double", "r64"],
            Prim::Ptr => &["ptr", "pointer"],
            Prim::Size => &["size"],
            Prim::SSize => &["ssize"],
        }
    }

    /// Sizes of the 64-bit targets this suite is built for.
    pub fn size(self) -> usize {
        match self {
            Prim::Bool | Prim::I8 | Prim::U8 => 1,
            Prim::I16 | Prim::U16 => 2,
            Prim::I32 | Prim::U32 | Prim::F32 => 4,
            Prim::I64 | Prim::U64 | Prim::F64 | Prim::Ptr | Prim::Size | Prim::SSize => 8,
        }
    }

    pub fn c_type(self) -> &'static str {
        match self {
            Prim::Bool => "bool",
            Prim::I8 => "int8_t",
            Prim::U8 => "uint8_t",
            Prim::I16 => "int16_t",
            Prim::U16 => "uint16_t",
            Prim::I32 => "int32_t",
            Prim::U32 => "uint32_t",
            Prim::I64 => "int64_t",
            Prim::U64 => "uint64_t",
            Prim::F32 => "float",
            Prim::F64 => "double",
            Prim::Ptr => "void *",
            Prim::Size => "size_t",
            Prim::SSize => "ptrdiff_t",
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, Prim::F32 | Prim::F64)
    }

    pub fn is_signed(self) -> bool {
        matches!(self, Prim::I8 | Prim::I16 | Prim::I32 | Prim::I64 | Prim::SSize)
    }
}

/// Every (keyword, primitive) pair the generator may write.
pub fn all_keywords() -> Vec<(&'static str, Prim)> {
    Prim::ALL.iter().flat_map(|&p| p.keywords().iter().map(move |&k| (k, p))).collect()
}

/// A type. Structs are shared (`Rc`) because the same struct can be a field, a parameter
/// and a result; C names are given out when the file is written.
#[derive(Clone)]
pub enum Ty {
    /// A primitive and the keyword it is written with.
    Prim(Prim, &'static str),
    Struct(Rc<StructTy>),
    /// `@[T n]`, only ever inside a struct (C has no array parameters).
    Array(Rc<Ty>, usize),
}

pub struct Field {
    pub ty: Ty,
    /// A `:pack` marker stands before this field.
    pub pack_marker: bool,
    pub offset: usize,
}

pub struct StructTy {
    pub fields: Vec<Field>,
    /// Where a `:pack-all` marker stands (before field k; k may equal the field count).
    pub pack_all_at: Option<usize>,
    pub size: usize,
    pub align: usize,
}

impl StructTy {
    /// Lays the fields out by Janet's rules: a packed field goes at the current size and
    /// does not raise the alignment; `:pack-all` anywhere packs every field.
    pub fn new(members: Vec<(Ty, bool)>, pack_all_at: Option<usize>) -> StructTy {
        let pack_all = pack_all_at.is_some();
        let (mut size, mut align) = (0, 1);
        let mut fields = Vec::with_capacity(members.len());
        for (ty, pack_marker) in members {
            let a = ty.align();
            let offset = if pack_all || pack_marker {
                size
            } else {
                align = align.max(a);
                round_up(size, a)
            };
            size = offset + ty.size();
            fields.push(Field { ty, pack_marker, offset });
        }
        StructTy { fields, pack_all_at, size: round_up(size, align), align }
    }

    pub fn pack_all(&self) -> bool {
        self.pack_all_at.is_some()
    }

    /// Janet type text: `[:u8 :pack :int @[:float 3] :pack-all]`.
    pub fn janet(&self) -> String {
        let mut parts = Vec::new();
        for (i, f) in self.fields.iter().enumerate() {
            if self.pack_all_at == Some(i) {
                parts.push(":pack-all".to_string());
            }
            if f.pack_marker {
                parts.push(":pack".to_string());
            }
            parts.push(f.ty.janet());
        }
        if self.pack_all_at == Some(self.fields.len()) {
            parts.push(":pack-all".to_string());
        }
        format!("[{}]", parts.join(" "))
    }
}

pub fn round_up(n: usize, align: usize) -> usize {
    n.div_ceil(align) * align
}

impl Ty {
    pub fn prim(p: Prim, keyword: &'static str) -> Ty {
        Ty::Prim(p, keyword)
    }

    pub fn size(&self) -> usize {
        match self {
            Ty::Prim(p, _) => p.size(),
            Ty::Struct(s) => s.size,
            Ty::Array(elem, n) => elem.size() * n,
        }
    }

    pub fn align(&self) -> usize {
        match self {
            Ty::Prim(p, _) => p.size(),
            Ty::Struct(s) => s.align,
            Ty::Array(elem, _) => elem.align(),
        }
    }

    pub fn janet(&self) -> String {
        match self {
            Ty::Prim(_, k) => format!(":{k}"),
            Ty::Struct(s) => s.janet(),
            // Zero-length arrays in both spellings Janet accepts.
            Ty::Array(elem, 0) if elem.size() % 2 == 0 => format!("@[{}]", elem.janet()),
            Ty::Array(elem, n) => format!("@[{} {n}]", elem.janet()),
        }
    }

    /// Calls `f` with every primitive leaf and its byte offset, in memory order.
    pub fn leaves(&self, base: usize, f: &mut impl FnMut(Prim, usize)) {
        match self {
            Ty::Prim(p, _) => f(*p, base),
            Ty::Struct(s) => s.fields.iter().for_each(|fl| fl.ty.leaves(base + fl.offset, f)),
            Ty::Array(elem, n) => (0..*n).for_each(|i| elem.leaves(base + i * elem.size(), f)),
        }
    }

    pub fn leaf_prims(&self) -> Vec<Prim> {
        let mut out = Vec::new();
        self.leaves(0, &mut |p, _| out.push(p));
        out
    }

    /// True when some primitive inside is not at a multiple of its size, counting from
    /// the start of the outermost value (as the SysV classifier of GCC and clang does: a
    /// packed inner struct at an odd offset misaligns its fields even when the inner
    /// struct itself, of alignment 1, is "aligned").
    pub fn misaligned(&self) -> bool {
        let mut any = false;
        self.leaves(0, &mut |p, offset| any |= offset % p.size() != 0);
        any
    }

    /// True for a type with a zero-length array (`T f[0]`, GNU C) somewhere inside.
    pub fn has_zero_length(&self) -> bool {
        match self {
            Ty::Prim(..) => false,
            Ty::Struct(s) => s.fields.iter().any(|f| f.ty.has_zero_length()),
            Ty::Array(_, 0) => true,
            Ty::Array(elem, _) => elem.has_zero_length(),
        }
    }

    pub fn has_array(&self) -> bool {
        match self {
            Ty::Prim(..) => false,
            Ty::Struct(s) => s.fields.iter().any(|f| f.ty.has_array()),
            Ty::Array(..) => true,
        }
    }

    /// True for a struct with a struct inside it (directly or in an array).
    pub fn has_nested(&self) -> bool {
        match self {
            Ty::Struct(s) => s.fields.iter().any(|f| f.ty.contains_struct()),
            _ => false,
        }
    }

    fn contains_struct(&self) -> bool {
        match self {
            Ty::Prim(..) => false,
            Ty::Struct(_) => true,
            Ty::Array(elem, _) => elem.contains_struct(),
        }
    }

    pub fn has_packing(&self) -> bool {
        match self {
            Ty::Prim(..) => false,
            Ty::Struct(s) => {
                s.pack_all() || s.fields.iter().any(|f| f.pack_marker || f.ty.has_packing())
            }
            Ty::Array(elem, _) => elem.has_packing(),
        }
    }
}
