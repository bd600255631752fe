//! `ffi/context` and `ffi/defbind` for Rust: a library opened eagerly or lazily, and typed
//! Rust functions bound to its symbols.
//!
//! ```
//! # #[cfg(not(windows))] fn main() -> jitcall::Result<()> {
//! use jitcall::context::Context;
//!
//! jitcall::defbind! {
//!     /// A few functions of the C library.
//!     pub struct Libc {
//!         fn abs(x: i32) -> i32;
//!         fn labs(x: i64) -> i64;
//!         fn strlen(s: *const u8) -> usize;
//!     }
//! }
//!
//! // SAFETY: the running program, whose C library is already loaded.
//! let ctx = std::sync::Arc::new(unsafe { Context::new(None, false, None)? });
//! // SAFETY: each declaration above is the C library's own signature.
//! let libc = unsafe { Libc::bind(&ctx)? };
//! assert_eq!(libc.abs(-7)?, 7);
//! assert_eq!(libc.strlen(c"four".as_ptr().cast())?, 4);
//! # Ok(()) }
//! # #[cfg(windows)] fn main() {}
//! ```

use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::error::{Error, Result};
use crate::library::{LibraryHold, Native};
use crate::signature::{Abi, Signature};
use crate::thunk::CompiledSignature;
use crate::types::{Prim, Type};
use crate::value::Pointer;

/// Maps a binding's name to the library's symbol name.
pub type SymbolMap = Box<dyn Fn(&str) -> String + Send + Sync>;

/// A library that bindings resolve their symbols in (Janet's `ffi/context`).
pub struct Context {
    path: Option<String>,
    lazy: bool,
    map_symbols: SymbolMap,
    native: OnceLock<std::result::Result<Native, String>>,
}

impl Context {
    /// A context for the library at `path` (`None`: the running program). Eager (`lazy`
    /// false): the library opens now. Lazy: it opens when the first binding needs it.
    /// `map_symbols` turns binding names into symbol names; by default every `-` becomes
    /// `_`, as Janet's does.
    ///
    /// # Errors
    /// An eager context whose library does not open: the loader's message.
    ///
    /// # Safety
    /// Opening the library runs its initialisers (see [`Native::open`]).
    pub unsafe fn new(
        path: Option<&str>,
        lazy: bool,
        map_symbols: Option<SymbolMap>,
    ) -> Result<Context> {
        let context = Context {
            path: path.map(str::to_string),
            lazy,
            map_symbols: map_symbols.unwrap_or_else(|| Box::new(|name| name.replace('-', "_"))),
            native: OnceLock::new(),
        };
        if !lazy {
            context.native()?;
        }
        Ok(context)
    }

    /// The library, opened now if this is its first use.
    ///
    /// # Errors
    /// The loader's message.
    pub fn native(&self) -> Result<&Native> {
        let opened = self.native.get_or_init(|| {
            // SAFETY: `Context::new`'s caller vouched for the library's initialisers.
            unsafe { Native::open(self.path.as_deref()) }.map_err(|e| e.to_string())
        });
        opened.as_ref().map_err(|e| Error::Library(e.clone()))
    }

    /// Whether symbols are looked up on first call instead of at bind time.
    pub fn is_lazy(&self) -> bool {
        self.lazy
    }

    /// The symbol a binding of this name resolves to.
    pub fn symbol_name(&self, name: &str) -> String {
        (self.map_symbols)(name)
    }

    /// Resolves `name` and compiles its signature in the host's C convention.
    ///
    /// # Errors
    /// "failed to find ffi symbol NAME", a library that does not open, or a signature
    /// the convention cannot express.
    ///
    /// # Safety
    /// The symbol must be a function of exactly this signature.
    pub unsafe fn bind(&self, name: &str, ret: Type, params: Vec<Type>) -> Result<Binding> {
        let abi = Abi::host_default()?;
        let symbol = self.symbol_name(name);
        let (target, library) = self
            .native()?
            .lookup_held(&symbol)?
            .ok_or_else(|| Error::Library(format!("failed to find ffi symbol {symbol}")))?;
        let sig = CompiledSignature::new(Signature::new(abi, ret, params))?;
        Ok(Binding { target, sig, _library: library })
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context").field("path", &self.path).field("lazy", &self.lazy).finish()
    }
}

/// A symbol with its compiled signature: what a `defbind!` method calls.
///
/// It keeps its library loaded: closing the context's library (`ctx.native()?.close()`)
/// ends the handle, and the library is unloaded only when the last binding made from it
/// is dropped (see [`Native::close`]).
#[derive(Debug, Clone)]
pub struct Binding {
    target: Pointer,
    sig: CompiledSignature,
    _library: LibraryHold,
}

impl Binding {
    /// The address of the bound symbol.
    pub fn target(&self) -> Pointer {
        self.target
    }

    /// The compiled signature the binding calls with.
    pub fn signature(&self) -> &CompiledSignature {
        &self.sig
    }

    /// Calls with native argument images; see [`CompiledSignature::call_native`].
    ///
    /// # Errors
    /// As [`CompiledSignature::call_native`].
    ///
    /// # Safety
    /// As [`CompiledSignature::call_native`].
    pub unsafe fn call_native(&self, args: &[*const u8], ret: *mut u8) -> Result<()> {
        // SAFETY: forwarded from the caller.
        unsafe { self.sig.call_native(self.target, args, ret) }
    }
}

/// A binding resolved when first needed (what a lazily bound `defbind!` struct holds).
#[derive(Debug)]
pub struct LazyBinding {
    context: Arc<Context>,
    name: &'static str,
    ret: fn() -> Type,
    params: fn() -> Vec<Type>,
    resolved: OnceLock<Binding>,
}

impl LazyBinding {
    /// # Safety
    /// The symbol `name` must be a function of this signature.
    pub unsafe fn new(
        context: Arc<Context>,
        name: &'static str,
        ret: fn() -> Type,
        params: fn() -> Vec<Type>,
    ) -> LazyBinding {
        LazyBinding { context, name, ret, params, resolved: OnceLock::new() }
    }

    /// The binding, resolved now if this is its first use.
    ///
    /// # Errors
    /// As [`Context::bind`].
    pub fn get(&self) -> Result<&Binding> {
        if let Some(found) = self.resolved.get() {
            return Ok(found);
        }
        // SAFETY: `LazyBinding::new`'s caller vouched for the signature.
        let binding = unsafe { self.context.bind(self.name, (self.ret)(), (self.params)()) }?;
        Ok(self.resolved.get_or_init(|| binding))
    }
}

/// A Rust type with a C counterpart that jitcall can pass and return by value.
///
/// # Safety
/// `native_type()` must describe exactly the type's C layout (size, alignment, fields).
pub unsafe trait NativeType: Copy {
    /// The jitcall type of this Rust type (`i32` is `:int32`, `*const T` is `:ptr`).
    fn native_type() -> Type;
}

macro_rules! native_types {
    ($($t:ty => $p:expr),* $(,)?) => {
        // SAFETY: each Rust primitive has the size, alignment and meaning of its C peer.
        $(unsafe impl NativeType for $t {
            fn native_type() -> Type {
                Type::Prim($p)
            }
        })*
    };
}

native_types! {
    () => Prim::Void,
    bool => Prim::Bool,
    i8 => Prim::I8, u8 => Prim::U8, i16 => Prim::I16, u16 => Prim::U16,
    i32 => Prim::I32, u32 => Prim::U32, i64 => Prim::I64, u64 => Prim::U64,
    f32 => Prim::F32, f64 => Prim::F64,
    Pointer => Prim::Ptr,
}

// SAFETY: pointer-sized integers have the size and alignment of `size_t` / `ssize_t`.
unsafe impl NativeType for usize {
    fn native_type() -> Type {
        Type::Prim(if cfg!(target_pointer_width = "64") { Prim::U64 } else { Prim::U32 })
    }
}

// SAFETY: as for `usize`.
unsafe impl NativeType for isize {
    fn native_type() -> Type {
        Type::Prim(if cfg!(target_pointer_width = "64") { Prim::I64 } else { Prim::I32 })
    }
}

// SAFETY: a raw pointer is a `void *`.
unsafe impl<T> NativeType for *const T {
    fn native_type() -> Type {
        Type::Prim(Prim::Ptr)
    }
}

// SAFETY: a raw pointer is a `void *`.
unsafe impl<T> NativeType for *mut T {
    fn native_type() -> Type {
        Type::Prim(Prim::Ptr)
    }
}

/// Calls a binding with typed arguments and result (used by `defbind!`).
///
/// # Errors
/// As [`CompiledSignature::call_native`].
///
/// # Safety
/// The binding's signature must be `R(args...)` with these Rust types' C counterparts.
#[doc(hidden)]
pub unsafe fn call_typed<R: NativeType>(binding: &Binding, args: &[*const u8]) -> Result<R> {
    let mut result = std::mem::MaybeUninit::<R>::zeroed();
    // SAFETY: forwarded from the caller; `result` has room for an `R`.
    unsafe { binding.call_native(args, result.as_mut_ptr().cast()) }?;
    // SAFETY: the call wrote an `R` (or nothing, for `()`, which needs no bytes).
    Ok(unsafe { result.assume_init() })
}

/// Declares typed Rust bindings to C functions (Janet's `ffi/defbind`).
///
/// ```text
/// jitcall::defbind! {
///     /// Docs for the struct.
///     pub struct So {
///         /// Docs for the method.
///         fn int_fn(a: i32, b: i32) -> i32;
///         fn void_fn();
///     }
/// }
/// ```
///
/// makes a struct `So` with `unsafe fn bind(&Context) -> Result<So>` (every symbol
/// resolved and compiled now: eager), `unsafe fn bind_lazy(Arc<Context>) -> So` (each
/// resolved on its first call), and one safe method per function returning
/// `jitcall::Result<R>`. Argument and result types implement
/// [`NativeType`]. Symbol names go through the context's `map_symbols`. The `unsafe` of
/// `bind` is the promise that each declaration is the symbol's true signature.
#[macro_export]
macro_rules! defbind {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                fn $func:ident($($arg:ident : $argty:ty),* $(,)?) $(-> $ret:ty)?;
            )*
        }
    ) => {
        $(#[$meta])*
        #[allow(missing_debug_implementations)]
        $vis struct $name {
            $($func: $crate::context::LazyBinding,)*
        }

        impl $name {
            /// Resolves every symbol and compiles every signature now.
            ///
            /// # Errors
            /// The first symbol that is missing ("failed to find ffi symbol NAME").
            ///
            /// # Safety
            /// Each declared signature must be its symbol's true C signature.
            #[allow(dead_code)]
            $vis unsafe fn bind(context: &::std::sync::Arc<$crate::context::Context>) -> $crate::Result<$name> {
                // SAFETY: forwarded from the caller.
                let bound = unsafe { $name::bind_lazy(context.clone()) };
                $(bound.$func.get()?;)*
                Ok(bound)
            }

            /// Resolves each symbol when its method is first called.
            ///
            /// # Safety
            /// Each declared signature must be its symbol's true C signature.
            #[allow(dead_code)]
            $vis unsafe fn bind_lazy(context: ::std::sync::Arc<$crate::context::Context>) -> $name {
                $name {
                    $($func: {
                        fn ret() -> $crate::Type {
                            <$crate::defbind!(@ret $($ret)?) as $crate::context::NativeType>::native_type()
                        }
                        fn params() -> Vec<$crate::Type> {
                            vec![$(<$argty as $crate::context::NativeType>::native_type()),*]
                        }
                        // SAFETY: forwarded from the caller.
                        unsafe { $crate::context::LazyBinding::new(context.clone(), stringify!($func), ret, params) }
                    },)*
                }
            }

            $(
                $(#[$fmeta])*
                #[allow(dead_code, clippy::too_many_arguments)]
                $vis fn $func(&self, $($arg: $argty),*) -> $crate::Result<$crate::defbind!(@ret $($ret)?)> {
                    let binding = self.$func.get()?;
                    let args: &[*const u8] = &[$(&$arg as *const $argty as *const u8),*];
                    // SAFETY: `bind`'s caller promised this is the symbol's signature, and
                    // each pointer refers to a live argument of its declared type.
                    unsafe { $crate::context::call_typed(binding, args) }
                }
            )*
        }
    };
    (@ret) => { () };
    (@ret $ret:ty) => { $ret };
}
