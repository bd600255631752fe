//! C types as jitcall sees them: primitives, structs and arrays, with their layout.
//!
//! Layout follows Janet's `ffi/struct` rules (spec §1.3) with three deliberate fixes:
//! nested arrays keep their inner dimension (`@[@[:int 2] 3]` is 24 bytes), sizes that
//! overflow are an error instead of wrapping, and `:long` / `:ulong` are the host C
//! compiler's `long` (64 bits on LP64 hosts, 32 bits on Windows).

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};

/// The largest size a type may have: what a Rust allocation may hold.
pub const MAX_SIZE: usize = isize::MAX as usize;

/// The deepest nesting of structs and arrays (Janet stops values at 64 levels too). It
/// bounds every recursion over a type, so no input can exhaust the stack.
pub const MAX_DEPTH: usize = 64;

/// A primitive C type. Aliases (`:int`, `:s32`, `:int32`) map to one variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prim {
    /// `void`: only a result type.
    Void,
    /// C's `bool` (`_Bool`), one byte.
    Bool,
    /// `void *` (`:ptr`, `:pointer`).
    Ptr,
    /// `const char *` (`:string`): a pointer whose value is a NUL-terminated string.
    String,
    /// `float`.
    F32,
    /// `double`.
    F64,
    /// `int8_t`.
    I8,
    /// `uint8_t`.
    U8,
    /// `int16_t`.
    I16,
    /// `uint16_t`.
    U16,
    /// `int32_t` (`:int`).
    I32,
    /// `uint32_t`.
    U32,
    /// `int64_t`.
    I64,
    /// `uint64_t`.
    U64,
}

/// Every keyword of spec §1.2 with the primitive it names, in the spec's order.
///
/// `:long` / `:ulong` are the host's C `long`; `:size` / `:ssize` are pointer-sized.
pub const KEYWORDS: [(&str, Prim); 36] = [
    ("void", Prim::Void),
    ("bool", Prim::Bool),
    ("ptr", Prim::Ptr),
    ("pointer", Prim::Ptr),
    ("string", Prim::String),
    ("float", Prim::F32),
    ("r32", Prim::F32),
    ("double", Prim::F64),
    ("r64", Prim::F64),
    ("int8", Prim::I8),
    ("s8", Prim::I8),
    ("char", Prim::I8),
    ("uint8", Prim::U8),
    ("u8", Prim::U8),
    ("byte", Prim::U8),
    ("uchar", Prim::U8),
    ("int16", Prim::I16),
    ("s16", Prim::I16),
    ("short", Prim::I16),
    ("uint16", Prim::U16),
    ("u16", Prim::U16),
    ("ushort", Prim::U16),
    ("int32", Prim::I32),
    ("s32", Prim::I32),
    ("int", Prim::I32),
    ("uint32", Prim::U32),
    ("u32", Prim::U32),
    ("uint", Prim::U32),
    ("int64", Prim::I64),
    ("s64", Prim::I64),
    ("long", C_LONG),
    ("uint64", Prim::U64),
    ("u64", Prim::U64),
    ("ulong", C_ULONG),
    ("size", SIZE_T),
    ("ssize", SSIZE_T),
];

// C `long` is 32 bits on Windows (LLP64) and pointer-sized elsewhere (LP64).
cfg_if::cfg_if! {
    if #[cfg(windows)] {
        const C_LONG: Prim = Prim::I32;
        const C_ULONG: Prim = Prim::U32;
    } else {
        const C_LONG: Prim = Prim::I64;
        const C_ULONG: Prim = Prim::U64;
    }
}
cfg_if::cfg_if! {
    if #[cfg(target_pointer_width = "64")] {
        const SIZE_T: Prim = Prim::U64;
        const SSIZE_T: Prim = Prim::I64;
    } else {
        const SIZE_T: Prim = Prim::U32;
        const SSIZE_T: Prim = Prim::I32;
    }
}

impl Prim {
    /// The primitive a keyword names (without its colon), if any.
    pub fn from_keyword(name: &str) -> Option<Prim> {
        KEYWORDS.iter().find(|(k, _)| *k == name).map(|&(_, p)| p)
    }

    /// The canonical keyword for this primitive (the first in [`KEYWORDS`]).
    pub fn keyword(self) -> &'static str {
        match self {
            Prim::Void => "void",
            Prim::Bool => "bool",
            Prim::Ptr => "ptr",
            Prim::String => "string",
            Prim::F32 => "float",
            Prim::F64 => "double",
            Prim::I8 => "int8",
            Prim::U8 => "uint8",
            Prim::I16 => "int16",
            Prim::U16 => "uint16",
            Prim::I32 => "int32",
            Prim::U32 => "uint32",
            Prim::I64 => "int64",
            Prim::U64 => "uint64",
        }
    }

    /// Size in bytes (0 for void).
    pub fn size(self) -> usize {
        match self {
            Prim::Void => 0,
            Prim::Bool | Prim::I8 | Prim::U8 => 1,
            Prim::I16 | Prim::U16 => 2,
            Prim::I32 | Prim::U32 | Prim::F32 => 4,
            Prim::I64 | Prim::U64 | Prim::F64 => 8,
            Prim::Ptr | Prim::String => std::mem::size_of::<usize>(),
        }
    }

    /// Alignment in bytes (0 for void, which therefore cannot be a field).
    pub fn align(self) -> usize {
        self.size()
    }

    /// True for `float` and `double`.
    pub fn is_float(self) -> bool {
        matches!(self, Prim::F32 | Prim::F64)
    }

    /// True for the signed integer types, which are sign-extended when widened.
    pub fn is_signed(self) -> bool {
        matches!(self, Prim::I8 | Prim::I16 | Prim::I32 | Prim::I64)
    }
}

/// The C scalars wider than the 8-byte [`Prim`] path carries, or made of two parts:
/// `long double`, the 128-bit integers and the complex numbers.
///
/// They live apart from [`Prim`] because a `Prim` value always fits a `u64` (the fast
/// paths of calls and callbacks rely on that); these go through the general image paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Wide {
    /// C `long double` (`:long-double`, `:ldouble`) of the host's C compiler.
    LongDouble,
    /// `__int128` (`:int128`, `:s128`).
    I128,
    /// `unsigned __int128` (`:uint128`, `:u128`).
    U128,
    /// `float _Complex` (`:complex-float`).
    ComplexF32,
    /// `double _Complex` (`:complex-double`).
    ComplexF64,
    /// `long double _Complex` (`:complex-long-double`).
    ComplexLongDouble,
}

/// The keywords of the [`Wide`] scalars, canonical name first.
pub const WIDE_KEYWORDS: [(&str, Wide); 9] = [
    ("long-double", Wide::LongDouble),
    ("ldouble", Wide::LongDouble),
    ("int128", Wide::I128),
    ("s128", Wide::I128),
    ("uint128", Wide::U128),
    ("u128", Wide::U128),
    ("complex-float", Wide::ComplexF32),
    ("complex-double", Wide::ComplexF64),
    ("complex-long-double", Wide::ComplexLongDouble),
];

/// What the host C compiler's `long double` is: its format, or `None` where it is a
/// plain `double` (Apple arm64 and Windows on ARM64; MSVC on x86-64 too, but jitcall
/// follows gcc/mingw there, whose `long double` is the x87 format: use `:double` for a
/// `long double` of an MSVC-built DLL).
pub const HOST_LONG_DOUBLE: Option<crate::ldouble::Format> = host_long_double();

const fn host_long_double() -> Option<crate::ldouble::Format> {
    if cfg!(target_arch = "x86_64") {
        Some(crate::ldouble::Format::X87)
    } else if cfg!(all(target_arch = "aarch64", any(target_vendor = "apple", windows))) {
        None
    } else if cfg!(target_arch = "aarch64") {
        Some(crate::ldouble::Format::Binary128)
    } else {
        None
    }
}

/// Size (and alignment) of the host's `long double`: 16, or 8 where it is a `double`.
const LONG_DOUBLE_SIZE: usize = if HOST_LONG_DOUBLE.is_some() { 16 } else { 8 };

impl Wide {
    /// The scalar a keyword names (without its colon), if any.
    pub fn from_keyword(name: &str) -> Option<Wide> {
        WIDE_KEYWORDS.iter().find(|(k, _)| *k == name).map(|&(_, w)| w)
    }

    /// The canonical keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            Wide::LongDouble => "long-double",
            Wide::I128 => "int128",
            Wide::U128 => "uint128",
            Wide::ComplexF32 => "complex-float",
            Wide::ComplexF64 => "complex-double",
            Wide::ComplexLongDouble => "complex-long-double",
        }
    }

    /// Size in bytes, as the host's C compiler has it.
    pub fn size(self) -> usize {
        match self {
            Wide::LongDouble => LONG_DOUBLE_SIZE,
            Wide::I128 | Wide::U128 | Wide::ComplexF64 => 16,
            Wide::ComplexF32 => 8,
            Wide::ComplexLongDouble => 2 * LONG_DOUBLE_SIZE,
        }
    }

    /// Alignment in bytes, as the host's C compiler has it.
    pub fn align(self) -> usize {
        match self {
            Wide::LongDouble | Wide::ComplexLongDouble => LONG_DOUBLE_SIZE,
            Wide::I128 | Wide::U128 => 16,
            Wide::ComplexF32 => 4,
            Wide::ComplexF64 => 8,
        }
    }

    /// For a complex number, the type of each of its two parts.
    pub fn complex_part(self) -> Option<Type> {
        match self {
            Wide::ComplexF32 => Some(Type::Prim(Prim::F32)),
            Wide::ComplexF64 => Some(Type::Prim(Prim::F64)),
            Wide::ComplexLongDouble => Some(Type::Wide(Wide::LongDouble)),
            _ => None,
        }
    }
}

/// A C type: a primitive, a wide scalar, a struct, a union or a fixed-length array.
///
/// Cloning is cheap: aggregates are shared behind an `Arc`. Hashing is cheap too: each
/// aggregate carries a hash of its content, computed when it is built.
#[derive(Clone, PartialEq, Eq)]
pub enum Type {
    /// A primitive.
    Prim(Prim),
    /// A scalar wider than a register: `long double`, 128-bit integers, complex numbers.
    Wide(Wide),
    /// A struct, with its layout.
    Struct(Arc<StructType>),
    /// A union: every field at offset 0.
    Union(Arc<StructType>),
    /// A fixed-length array.
    Array(Arc<ArrayType>),
}

/// One field of a struct: its type, its offset and whether it was `:pack`ed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Field {
    /// The field's type.
    pub ty: Type,
    /// Its offset from the start of the struct, in bytes.
    pub offset: usize,
    /// Whether `:pack` placed it with no padding.
    pub packed: bool,
}

/// A struct or union type with its layout computed once, when it is built.
#[derive(Debug, PartialEq, Eq)]
pub struct StructType {
    fields: Vec<Field>,
    size: usize,
    align: usize,
    depth: usize,
    misaligned_at: MisalignMask,
    empty_values: usize,
    content_hash: u64,
}

/// An array type `@[T n]`; `@[T]` has length 0 (a flexible array member).
#[derive(Debug, PartialEq, Eq)]
pub struct ArrayType {
    /// The element type.
    pub elem: Type,
    /// The number of elements (0 for a flexible array member).
    pub len: usize,
    size: usize,
    depth: usize,
    misaligned_at: MisalignMask,
    empty_values: usize,
    content_hash: u64,
}

impl Type {
    /// A hash of the type's content: equal types have equal hashes.
    pub fn content_hash(&self) -> u64 {
        match self {
            Type::Prim(p) => mix(0x9E37_79B9_7F4A_7C15, *p as u64),
            Type::Wide(w) => mix(0x0001_DE5C_A1A7, *w as u64),
            Type::Struct(s) | Type::Union(s) => s.content_hash,
            Type::Array(a) => a.content_hash,
        }
    }
}

impl std::hash::Hash for Type {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.content_hash());
    }
}

/// One step of a multiply-rotate hash (the content hashes need spread, not secrecy).
fn mix(h: u64, v: u64) -> u64 {
    (h.rotate_left(5) ^ v).wrapping_mul(0x51_7C_C1_B7_27_22_0A_95)
}

/// Bit `b` is set when placing the type at an offset congruent to `b` modulo 8 puts some
/// primitive inside it at an offset that is not a multiple of its alignment. Only
/// `:pack` / `:pack-all` make that possible; the SysV classifier needs it for absolute
/// positions (gcc: a misaligned scalar anywhere makes the aggregate MEMORY).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
struct MisalignMask(u8);

impl MisalignMask {
    fn of(ty: &Type) -> MisalignMask {
        match ty {
            Type::Prim(p) if p.align() == 0 => MisalignMask(0),
            Type::Prim(p) => {
                MisalignMask((0..8).fold(0, |m, b| m | (u8::from(b % p.align() != 0) << b)))
            }
            Type::Wide(w) => {
                MisalignMask((0..8).fold(0, |m, b| m | (u8::from(b % w.align() != 0) << b)))
            }
            Type::Struct(s) | Type::Union(s) => s.misaligned_at,
            Type::Array(a) => a.misaligned_at,
        }
    }

    /// The mask of `inner` placed at `offset` within the type being built.
    fn shifted(inner: MisalignMask, offset: usize) -> MisalignMask {
        MisalignMask((0..8).fold(0, |m, b| m | (u8::from(inner.at((b + offset) % 8)) << b)))
    }

    fn at(self, b: usize) -> bool {
        self.0 & (1 << b) != 0
    }
}

/// One element of a struct description: a field type, or a packing marker.
#[derive(Debug, Clone, PartialEq)]
pub enum Member {
    /// A field of this type.
    Field(Type),
    /// `:pack`: the next field is placed with no padding and does not raise the alignment.
    Pack,
    /// `:pack-all`: every field of the struct is packed, wherever the marker stands.
    PackAll,
}

impl Type {
    /// The `void` type: the result type of a function that returns nothing.
    pub const VOID: Type = Type::Prim(Prim::Void);

    /// Size in bytes; for a struct, its padded size.
    pub fn size(&self) -> usize {
        match self {
            Type::Prim(p) => p.size(),
            Type::Wide(w) => w.size(),
            Type::Struct(s) | Type::Union(s) => s.size,
            Type::Array(a) => a.size,
        }
    }

    /// Alignment in bytes; for an array, its element's.
    pub fn align(&self) -> usize {
        match self {
            Type::Prim(p) => p.align(),
            Type::Wide(w) => w.align(),
            Type::Struct(s) | Type::Union(s) => s.align,
            Type::Array(a) => a.elem.align(),
        }
    }

    /// How many aggregates nest here: 0 for a primitive, 1 for a flat struct.
    pub fn depth(&self) -> usize {
        match self {
            Type::Prim(_) | Type::Wide(_) => 0,
            Type::Struct(s) | Type::Union(s) => s.depth,
            Type::Array(a) => a.depth,
        }
    }

    /// How many values of zero size a value of this type holds: empty arrays (`@[T]`),
    /// arrays of zero-size elements and their elements, structs of only such fields.
    /// Saturates at `usize::MAX`. Nothing in memory stands behind them, so their number
    /// is not bounded by the value's size: readers bound it instead.
    pub fn empty_values(&self) -> usize {
        match self {
            Type::Prim(_) | Type::Wide(_) => 0,
            Type::Struct(s) | Type::Union(s) => s.empty_values,
            Type::Array(a) => a.empty_values,
        }
    }

    /// How many values a value of this type is made of (itself included), for a type of
    /// size 0: every one of them is empty.
    fn values_of_zero_size(&self) -> usize {
        debug_assert_eq!(self.size(), 0);
        self.empty_values()
    }

    /// True when a `:string` appears anywhere in the type (its image holds a pointer
    /// that decoding must follow).
    pub fn contains_string(&self) -> bool {
        match self {
            Type::Prim(p) => *p == Prim::String,
            Type::Wide(_) => false,
            Type::Struct(s) | Type::Union(s) => s.fields.iter().any(|f| f.ty.contains_string()),
            Type::Array(a) => a.elem.contains_string(),
        }
    }

    /// True when a [`Wide`] scalar appears anywhere in the type.
    pub fn contains_wide(&self) -> bool {
        match self {
            Type::Prim(_) => false,
            Type::Wide(_) => true,
            Type::Struct(s) | Type::Union(s) => s.fields.iter().any(|f| f.ty.contains_wide()),
            Type::Array(a) => a.elem.contains_wide(),
        }
    }

    /// The primitive, if this is one.
    pub fn prim(&self) -> Option<Prim> {
        match self {
            Type::Prim(p) => Some(*p),
            _ => None,
        }
    }

    /// True for `:void`.
    pub fn is_void(&self) -> bool {
        matches!(self, Type::Prim(Prim::Void))
    }

    /// True when some primitive inside (at any depth) is not at a multiple of its
    /// alignment from the start of this type.
    pub fn has_unaligned_field(&self) -> bool {
        MisalignMask::of(self).at(0)
    }

    /// An array of `len` elements of `elem`.
    ///
    /// # Errors
    /// A void element, a total size over [`MAX_SIZE`], or nesting over [`MAX_DEPTH`].
    pub fn array(elem: Type, len: usize) -> Result<Type> {
        if elem.align() == 0 {
            return Err(Error::Type(format!("bad array element type {elem}")));
        }
        let depth = nested_depth(&elem)?;
        // Element offsets repeat modulo 8 after at most 8 elements.
        let elem_mask = MisalignMask::of(&elem);
        let misaligned_at = (0..len.min(8)).fold(MisalignMask(0), |m, i| {
            MisalignMask(m.0 | MisalignMask::shifted(elem_mask, i * (elem.size() % 8) % 8).0)
        });
        let size = elem
            .size()
            .checked_mul(len)
            .filter(|&s| s <= MAX_SIZE)
            .ok_or_else(|| Error::Type(format!("array type {elem} x {len} is too large")))?;
        let empty_values = if size == 0 {
            // The array itself, and every element with all its parts.
            let per_elem = if elem.size() == 0 { elem.values_of_zero_size() } else { 0 };
            per_elem.saturating_mul(len).saturating_add(1)
        } else {
            elem.empty_values().saturating_mul(len)
        };
        let content_hash = mix(mix(0x000A_11A7, elem.content_hash()), len as u64);
        Ok(Type::Array(Arc::new(ArrayType {
            elem,
            len,
            size,
            depth,
            misaligned_at,
            empty_values,
            content_hash,
        })))
    }

    /// A struct built from fields and packing markers by Janet's rules (spec §1.3).
    ///
    /// # Errors
    /// No fields ("invalid empty struct"), a field of alignment 0 ("bad field type void"),
    /// or a size over [`MAX_SIZE`].
    pub fn structure(members: &[Member]) -> Result<Type> {
        StructType::new(members, false).map(|s| Type::Struct(Arc::new(s)))
    }

    /// A union of the fields (all at offset 0), as gcc lays it out: the size of the largest
    /// field rounded up to the largest alignment. `:pack` before a field keeps it from
    /// raising the alignment; `:pack-all` anywhere makes the alignment 1.
    ///
    /// # Errors
    /// As [`Type::structure`] ("invalid empty union" for no fields).
    pub fn union(members: &[Member]) -> Result<Type> {
        StructType::new(members, true).map(|s| Type::Union(Arc::new(s)))
    }

    /// Calls `f` on every primitive leaf with its byte offset, in memory order; array
    /// elements are visited one by one. [`Wide`] scalars are not primitives: they are
    /// not visited. A union's fields are visited one after the other.
    ///
    /// This costs time in proportion to the number of leaves (up to the type's size), not
    /// to its description: fine for tests and small types, never for classifying. Parts of
    /// zero size hold no leaves and are skipped, however many elements they have.
    pub fn for_each_leaf(&self, base: usize, f: &mut impl FnMut(Prim, usize)) {
        match self {
            Type::Prim(p) => f(*p, base),
            Type::Wide(_) => {}
            Type::Struct(s) | Type::Union(s) => {
                for field in &s.fields {
                    field.ty.for_each_leaf(base + field.offset, f);
                }
            }
            Type::Array(a) if a.elem.size() == 0 => {}
            Type::Array(a) => {
                let step = a.elem.size();
                for i in 0..a.len {
                    a.elem.for_each_leaf(base + i * step, f);
                }
            }
        }
    }
}

impl StructType {
    fn new(members: &[Member], union: bool) -> Result<StructType> {
        let pack_all = members.contains(&Member::PackAll);
        let mut fields = Vec::new();
        let mut size: usize = 0;
        let mut align: usize = 1;
        let mut misaligned_at = MisalignMask(0);
        let mut pack_next = false;
        let mut depth = 1;
        for member in members {
            let ty = match member {
                Member::Pack | Member::PackAll => {
                    pack_next = true;
                    continue;
                }
                Member::Field(ty) => ty.clone(),
            };
            depth = depth.max(nested_depth(&ty)?);
            let packed = pack_all || std::mem::take(&mut pack_next);
            let (s, a) = (ty.size(), ty.align());
            if a == 0 {
                // Janet names a primitive without its colon: "bad field type void".
                let name = ty.prim().map_or(ty.to_string(), |p| p.keyword().to_string());
                return Err(Error::Type(format!("bad field type {name}")));
            }
            // A union's fields all start at 0; it is as large as its largest field.
            let end = if union { 0 } else { size };
            let offset = if packed {
                end
            } else {
                align = align.max(a);
                round_up(end, a).ok_or_else(|| too_large(members))?
            };
            misaligned_at.0 |= MisalignMask::shifted(MisalignMask::of(&ty), offset % 8).0;
            let field_end = offset
                .checked_add(s)
                .filter(|&s| s <= MAX_SIZE)
                .ok_or_else(|| too_large(members))?;
            size = size.max(field_end);
            fields.push(Field { ty, offset, packed });
        }
        if fields.is_empty() {
            let kind = if union { "union" } else { "struct" };
            return Err(Error::Type(format!("invalid empty {kind}")));
        }
        let size = round_up(size, align).ok_or_else(|| too_large(members))?;
        let empty_values = if size == 0 {
            // The struct itself, and every field with all its parts (all of size 0).
            fields.iter().fold(1usize, |n, f| n.saturating_add(f.ty.values_of_zero_size()))
        } else {
            fields.iter().fold(0usize, |n, f| n.saturating_add(f.ty.empty_values()))
        };
        let seed = if union { 0x0000_0210_0000 } else { 0x0005_72C7 };
        let content_hash = fields.iter().fold(seed, |h, f| {
            mix(mix(mix(h, f.ty.content_hash()), f.offset as u64), u64::from(f.packed))
        });
        Ok(StructType { fields, size, align, depth, misaligned_at, empty_values, content_hash })
    }

    /// The fields, in order, with their offsets.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// The size in bytes, padding included.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The alignment in bytes.
    pub fn align(&self) -> usize {
        self.align
    }
}

/// The depth of an aggregate holding `inner`, or an error past [`MAX_DEPTH`].
fn nested_depth(inner: &Type) -> Result<usize> {
    let depth = inner.depth() + 1;
    if depth > MAX_DEPTH {
        return Err(Error::Type(format!("type nesting deeper than {MAX_DEPTH} levels")));
    }
    Ok(depth)
}

fn too_large(members: &[Member]) -> Error {
    let shown: Vec<String> = members.iter().map(|m| m.to_string()).collect();
    Error::Type(format!("struct [{}] is too large", shown.join(" ")))
}

/// `n` rounded up to a multiple of `align` (a power of two or any positive number),
/// or `None` past [`MAX_SIZE`].
pub fn round_up(n: usize, align: usize) -> Option<usize> {
    let r = n % align;
    let n = if r == 0 { n } else { n.checked_add(align - r)? };
    (n <= MAX_SIZE).then_some(n)
}

/// Janet type syntax: `:int`, `[:int :double]`, `@[:int 4]`.
impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Prim(p) => write!(f, ":{}", p.keyword()),
            Type::Wide(w) => write!(f, ":{}", w.keyword()),
            Type::Struct(s) | Type::Union(s) => {
                write!(f, "[")?;
                if matches!(self, Type::Union(_)) {
                    write!(f, ":union")?;
                    if !s.fields.is_empty() {
                        write!(f, " ")?;
                    }
                }
                for (i, field) in s.fields.iter().enumerate() {
                    if i > 0 {
                        write!(f, " ")?;
                    }
                    if field.packed {
                        write!(f, ":pack ")?;
                    }
                    write!(f, "{}", field.ty)?;
                }
                write!(f, "]")
            }
            Type::Array(a) if a.len == 0 => write!(f, "@[{}]", a.elem),
            Type::Array(a) => write!(f, "@[{} {}]", a.elem, a.len),
        }
    }
}

impl fmt::Debug for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Member::Field(t) => write!(f, "{t}"),
            Member::Pack => write!(f, ":pack"),
            Member::PackAll => write!(f, ":pack-all"),
        }
    }
}

impl From<Prim> for Type {
    fn from(p: Prim) -> Type {
        Type::Prim(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(members: &[Member]) -> Type {
        Type::structure(members).unwrap()
    }
    fn f(p: Prim) -> Member {
        Member::Field(Type::Prim(p))
    }

    #[test]
    fn keyword_table_has_every_name_once() {
        let mut names: Vec<_> = KEYWORDS.iter().map(|(k, _)| *k).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 36);
        assert_eq!(Prim::from_keyword("char"), Some(Prim::I8));
        assert_eq!(Prim::from_keyword("Int"), None);
    }

    #[test]
    fn packed_field_does_not_raise_alignment() {
        let t = st(&[Member::Pack, f(Prim::I32), f(Prim::I8)]);
        assert_eq!((t.size(), t.align()), (5, 1));
        assert!(!t.has_unaligned_field());
        let t = st(&[f(Prim::I8), Member::Pack, f(Prim::F64), f(Prim::I8)]);
        assert_eq!((t.size(), t.align()), (10, 1));
        assert!(t.has_unaligned_field());
    }

    #[test]
    fn unaligned_nested_field_makes_outer_unaligned() {
        let inner = st(&[f(Prim::I8), Member::Pack, f(Prim::I32)]);
        let outer = st(&[f(Prim::I32), Member::Field(inner)]);
        assert!(outer.has_unaligned_field());
    }

    #[test]
    fn a_packed_struct_inside_a_packed_struct_can_misalign_its_fields() {
        // [:pack :uint32 :uchar [:pack [:int32] :pack-all]]: the int32 lands at offset 5.
        let int_box = st(&[f(Prim::I32)]);
        let inner = st(&[Member::Field(int_box), Member::PackAll]);
        assert!(!inner.has_unaligned_field());
        let outer =
            st(&[Member::Pack, f(Prim::U32), f(Prim::U8), Member::Pack, Member::Field(inner)]);
        assert_eq!((outer.size(), outer.align()), (9, 1));
        assert!(outer.has_unaligned_field());
        // Arrays: the second element of @[[:pack :u8 :pack :u16] 2]... is at offset 3.
        let pair = st(&[f(Prim::U16), Member::PackAll, f(Prim::U8)]);
        assert!(!pair.has_unaligned_field());
        assert!(Type::array(pair, 2).unwrap().has_unaligned_field());
    }

    #[test]
    fn nesting_is_bounded() {
        let mut t: Type = Prim::I32.into();
        for _ in 0..MAX_DEPTH {
            t = Type::array(t, 1).unwrap();
        }
        assert!(Type::array(t.clone(), 1).is_err());
        assert!(Type::structure(&[Member::Field(t)]).is_err());
    }

    #[test]
    fn overflow_is_an_error() {
        let big = Type::array(Prim::U8.into(), MAX_SIZE).unwrap();
        assert!(Type::array(big.clone(), 2).is_err());
        assert!(Type::structure(&[f(Prim::U8), Member::Field(big)]).is_err());
    }
}
