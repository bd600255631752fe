//! The one error type of jitcall. Messages follow Janet's where Janet has one.

use std::fmt;
use std::io;

/// Where in a value a conversion failed: the root (an argument, or the data of a write)
/// and the field or element indices below it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Path {
    /// The argument index (from 0) when converting call arguments; `None` for data.
    pub argument: Option<usize>,
    /// Field or element indices from the outermost aggregate inwards.
    pub indices: Vec<usize>,
}

impl fmt::Display for Path {
    /// Janet counts `ffi/call` arguments from slot #2 and `ffi/write` data as slot #1; the
    /// indices say where inside an aggregate, which Janet's message leaves out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.argument {
            Some(i) => write!(f, "bad slot #{} (argument {i}", i + 2)?,
            None => write!(f, "bad slot #1 (data")?,
        }
        for i in &self.indices {
            write!(f, ", [{i}]")?;
        }
        write!(f, ")")
    }
}

/// Everything that can go wrong in jitcall, as a value.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A type description is invalid: unknown keyword, void field, empty struct, overflow.
    Type(String),
    /// A value does not convert to its native type; `path` says which argument and field.
    Value {
        /// Where in the arguments or data the value sits.
        path: Path,
        /// What is wrong with it.
        message: String,
    },
    /// A function was given the wrong number of arguments.
    Arity {
        /// The number of parameters.
        expected: usize,
        /// The number of arguments given.
        got: usize,
    },
    /// Native memory or buffer misuse: out of range, foreign buffer full, bad size.
    Memory(String),
    /// The dynamic loader refused, or a library was misused (closed twice, a symbol
    /// missing).
    Library {
        /// The loader's own message, or what was wrong.
        message: String,
        /// The loader's error, when it came from the loader (not for a cached failure).
        source: Option<libloading::Error>,
    },
    /// A calling convention name that jitcall does not know (Janet's `unknown calling
    /// convention NAME`).
    UnknownConvention(String),
    /// A convention this host cannot run, or a host without a default convention.
    UnsupportedHost {
        /// The convention asked for; `None` when asking for the host's default.
        convention: Option<&'static str>,
        /// Why, as a sentence.
        message: String,
    },
    /// A signature that the convention cannot express (a void parameter, an array by
    /// value, a type the convention has no placement for yet).
    Unsupported {
        /// The argument at fault (from 0); `None` for the result or the whole signature.
        arg: Option<usize>,
        /// What is wrong, as a sentence.
        message: String,
    },
    /// A signature past one of jitcall's [limits](crate::limits).
    Limit {
        /// Which limit.
        what: Limit,
        /// The argument at fault (from 0), if one is; `None` for the result or all of them.
        arg: Option<usize>,
        /// The limit, in bytes.
        limit: u64,
        /// The bytes needed, when they can be counted.
        got: Option<u64>,
    },
    /// A Janet literal that does not parse, at a byte offset of the input.
    Syntax {
        /// The byte offset of the problem in the input.
        offset: usize,
        /// What is wrong there.
        message: String,
    },
    /// A system call failed.
    Os {
        /// What jitcall was doing.
        op: &'static str,
        /// The system's error.
        source: io::Error,
    },
    /// A callback failed or panicked; its C caller got a zero result.
    Callback(String),
}

/// The limits an [`Error::Limit`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Limit {
    /// The bytes of one argument or result passed by value
    /// ([`MAX_BY_VALUE_BYTES`](crate::limits::MAX_BY_VALUE_BYTES)).
    ValueBytes,
    /// The outgoing stack-argument area of one call.
    StackBytes,
    /// The argument block, which thunks address with 32-bit displacements.
    BlockBytes,
}

/// `Result` with jitcall's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn value(path: &Path, message: impl Into<String>) -> Error {
        Error::Value { path: path.clone(), message: message.into() }
    }

    pub(crate) fn unsupported(arg: Option<usize>, message: impl Into<String>) -> Error {
        Error::Unsupported { arg, message: message.into() }
    }

    pub(crate) fn library(message: impl Into<String>) -> Error {
        Error::Library { message: message.into(), source: None }
    }

    /// The stack area past what a `u32` can address.
    pub(crate) fn stack_unaddressable() -> Error {
        Error::Limit { what: Limit::StackBytes, arg: None, limit: u32::MAX.into(), got: None }
    }

    /// The same error, one aggregate level further out: field or element `index`.
    pub(crate) fn within(mut self, index: usize) -> Error {
        if let Error::Value { path, .. } = &mut self {
            path.indices.insert(0, index);
        }
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Type(m)
            | Error::Memory(m)
            | Error::UnsupportedHost { message: m, .. }
            | Error::Unsupported { message: m, .. }
            | Error::Library { message: m, .. }
            | Error::Callback(m) => f.write_str(m),
            Error::UnknownConvention(name) => write!(f, "unknown calling convention {name}"),
            Error::Limit { what, arg, limit, got } => fmt_limit(f, *what, *arg, *limit, *got),
            Error::Value { path, message } => write!(f, "{path}, {message}"),
            Error::Arity { expected, got } => {
                write!(f, "arity mismatch, expected {expected}, got {got}")
            }
            Error::Syntax { offset, message } => write!(f, "{message} at byte {offset}"),
            Error::Os { op, source } => write!(f, "{op} failed: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Os { source, .. } => Some(source),
            Error::Library { source: Some(source), .. } => Some(source),
            _ => None,
        }
    }
}

/// The messages of [`Error::Limit`], as they read before the variant existed.
fn fmt_limit(
    f: &mut fmt::Formatter<'_>,
    what: Limit,
    arg: Option<usize>,
    limit: u64,
    got: Option<u64>,
) -> fmt::Result {
    match (what, got) {
        (Limit::ValueBytes, got) => {
            match arg {
                Some(i) => write!(f, "argument {i}")?,
                None => f.write_str("the return type")?,
            }
            write!(f, " is too large to pass by value: ")?;
            match got {
                Some(got) => write!(f, "{got} bytes")?,
                None => f.write_str("too many bytes to count")?,
            }
            write!(f, ", more than the {limit} a value may have (pass a pointer instead)")
        }
        (Limit::StackBytes, Some(got)) => write!(
            f,
            "the arguments need {got} bytes of stack, more than the {limit} a call may use"
        ),
        (Limit::StackBytes, None) => {
            f.write_str("the arguments need more stack than can be addressed")
        }
        (Limit::BlockBytes, _) => f.write_str("the arguments are too large to pass (over 2 GiB)"),
    }
}
