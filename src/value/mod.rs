//! The dynamic [`Value`] that a runtime maps its own values to, and its conversion to and
//! from native memory images (spec §2).
//!
//! Deliberate differences from Janet: a NULL `:string` reads as nil, a `:bool` byte reads as
//! "nonzero is true", a conversion error names its path (argument, then field or
//! element indices), not only a slot number, and an integer outside its type's range is an
//! error: Janet truncates `:int8 300` to 44 and reinterprets the bits of a `core/s64` -1
//! given for a `:uint64`; jitcall converts an integer only when the value fits.
//! Which kinds each integer type accepts (numbers, strings, boxes) is Janet's.

//!
//! The parts: [`Pointer`] (a raw address), the storage handles [`Str`] and [`Buffer`],
//! [`Function`] (a closure as a value), the conversions to and from native images
//! ([`encode`], [`decode`] and their relatives), and printing (`Display`, as Janet's `pp`).

mod convert;
mod exact;
mod function;
mod handles;
mod pointer;
mod print;
mod program;
mod wide;

pub use convert::*;
pub(crate) use exact::{parse_int, Exact, IntLiteral};
pub use function::{Function, ValueFn};
pub use handles::{Buffer, BufferGuard, Str};
pub use pointer::Pointer;
pub(crate) use program::CallProgram;

/// A dynamically typed value, shaped after Janet's.
///
/// Values print as Janet's `pp` prints them, and compare as Janet's `deep=` does:
///
/// ```
/// use jitcall::{syntax, Value};
/// let v = syntax::read("(1 @[2.5 :kw] \"s\")")?;
/// assert_eq!(v.to_string(), "(1 @[2.5 :kw] \"s\")");
/// assert_eq!(Value::Int(3), Value::Number(3.0));
/// # Ok::<(), jitcall::Error>(())
/// ```
#[derive(Clone, Debug)]
pub enum Value {
    /// Janet's `nil`: a void result, a NULL pointer.
    Nil,
    /// A boolean.
    Bool(bool),
    /// A Janet number (a double).
    Number(f64),
    /// An exact signed 64-bit integer (Janet's `core/s64`).
    Int(i64),
    /// An exact unsigned 64-bit integer (Janet's `core/u64`).
    UInt(u64),
    /// An exact signed 128-bit integer (Janet has none): what an integer literal past the
    /// 64-bit range reads as.
    Int128(i128),
    /// An exact unsigned 128-bit integer (Janet has none): what an integer literal past
    /// `i128::MAX` reads as.
    UInt128(u128),
    /// An immutable byte string.
    String(Str),
    /// A mutable byte buffer, shared by reference like Janet's.
    Buffer(Buffer),
    /// A keyword (`:name`), stored without its colon.
    Keyword(Str),
    /// A symbol.
    Symbol(Str),
    /// An immutable sequence: what a struct reads back as.
    Tuple(Vec<Value>),
    /// A mutable sequence: what an array reads back as.
    Array(Vec<Value>),
    /// A raw native address.
    Pointer(Pointer),
    /// A callable: what Janet's `ffi/trampoline` passes as userdata (see
    /// [`Function`]).
    Function(Function),
}

impl PartialEq for Value {
    /// Structural equality, as Janet's `deep=`: numbers compare by value whatever their
    /// representation, buffers by contents.
    fn eq(&self, other: &Value) -> bool {
        use Value::*;
        match (self, other) {
            (Nil, Nil) => true,
            (Bool(a), Bool(b)) => a == b,
            (String(a), String(b)) | (Keyword(a), Keyword(b)) | (Symbol(a), Symbol(b)) => a == b,
            (Buffer(a), Buffer(b)) => a.same_as(b) || a.to_vec() == b.to_vec(),
            (Tuple(a), Tuple(b)) | (Array(a), Array(b)) => a == b,
            (Pointer(a), Pointer(b)) => a == b,
            (Function(a), Function(b)) => a.same_as(b),
            (a, b) => match (a.exact_integer(), b.exact_integer()) {
                (Some(x), Some(y)) => x == y,
                _ => matches!((a, b), (Number(x), Number(y)) if x == y),
            },
        }
    }
}

impl Value {
    /// A string value with these bytes (shorthand for `Value::String(s.into())`).
    pub fn string(s: &str) -> Value {
        Value::String(s.into())
    }

    /// A keyword value, `name` without its colon.
    pub fn keyword(s: &str) -> Value {
        Value::Keyword(s.into())
    }

    /// The integer a number or box holds exactly, if it is one.
    pub(crate) fn exact_integer(&self) -> Option<Exact> {
        match *self {
            Value::Number(n) if n.fract() == 0.0 && n.abs() < 2f64.powi(128) => {
                Some(Exact::new(n < 0.0, n.abs() as u128))
            }
            Value::Int(i) => Some(Exact::from_i128(i.into())),
            Value::UInt(u) => Some(Exact::new(false, u.into())),
            Value::Int128(i) => Some(Exact::from_i128(i)),
            Value::UInt128(u) => Some(Exact::new(false, u)),
            _ => None,
        }
    }

    /// Janet's name for the value's type, as used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::Int(_) => "core/s64",
            Value::UInt(_) => "core/u64",
            Value::Int128(_) => "int128",
            Value::UInt128(_) => "uint128",
            Value::String(_) => "string",
            Value::Buffer(_) => "buffer",
            Value::Keyword(_) => "keyword",
            Value::Symbol(_) => "symbol",
            Value::Tuple(_) => "tuple",
            Value::Array(_) => "array",
            Value::Pointer(_) => "pointer",
            Value::Function(_) => "function",
        }
    }

    /// The elements of a tuple or array.
    pub fn as_indexed(&self) -> Option<&[Value]> {
        match self {
            Value::Tuple(v) | Value::Array(v) => Some(v),
            _ => None,
        }
    }
}
