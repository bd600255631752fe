//! What several fuzz targets share: types made up from the fuzzer's bytes.

use arbitrary::Arbitrary;
use jitcall::internals::KEYWORDS;
use jitcall::{Member, Type};

/// How deep aggregates nest: a struct holding an array of structs of arrays is 4.
pub const MAX_NESTING: usize = 4;
pub const MAX_ARRAY_LEN: usize = 40;

/// A type description as the fuzzer makes it up.
#[derive(Debug, Arbitrary)]
pub enum TypeTree {
    /// A primitive, by its index in `KEYWORDS`: any keyword, `:void` included.
    Prim(u8),
    Struct(Vec<MemberTree>),
    /// An element type and a length (taken modulo `MAX_ARRAY_LEN + 1`).
    Array(Box<TypeTree>, u8),
}

#[derive(Debug, Arbitrary)]
pub enum MemberTree {
    Field(TypeTree),
    Pack,
    PackAll,
}

impl TypeTree {
    /// The type this tree describes, or `None` when jitcall refuses it (a void field, an
    /// empty struct) or when it nests deeper than `MAX_NESTING`.
    pub fn build(&self, depth: usize) -> Option<Type> {
        match self {
            TypeTree::Prim(i) => Some(Type::Prim(KEYWORDS[usize::from(*i) % KEYWORDS.len()].1)),
            _ if depth >= MAX_NESTING => None,
            TypeTree::Struct(members) => {
                let members = members
                    .iter()
                    .map(|member| match member {
                        MemberTree::Field(tree) => tree.build(depth + 1).map(Member::Field),
                        MemberTree::Pack => Some(Member::Pack),
                        MemberTree::PackAll => Some(Member::PackAll),
                    })
                    .collect::<Option<Vec<Member>>>()?;
                Type::structure(&members).ok()
            }
            TypeTree::Array(elem, len) => {
                let len = usize::from(*len) % (MAX_ARRAY_LEN + 1);
                Type::array(elem.build(depth + 1)?, len).ok()
            }
        }
    }
}
