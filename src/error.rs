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
    /// The dynamic loader refused: its own message.
    Library(String),
    /// A signature that the convention cannot express, or a convention this host cannot run.
    Abi(String),
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

/// `Result` with jitcall's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn value(path: &Path, message: impl Into<String>) -> Error {
        Error::Value { path: path.clone(), message: message.into() }
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
            | Error::Library(m)
            | Error::Abi(m)
            | Error::Callback(m) => f.write_str(m),
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
            _ => None,
        }
    }
}
