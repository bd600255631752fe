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
        opened.as_ref().map_err(|e| Error::library(e.clone()))
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
        // SAFETY: forwarded from the caller.
        unsafe { self.bind_signature(name, |abi| Signature::new(abi, ret, params)) }
    }
}

impl Context {
    /// Resolves `name`, a variadic function with these `fixed` parameters; the variadic
    /// part is given per call (see [`VariadicBinding`]).
    ///
    /// # Errors
    /// As [`Context::bind`].
    ///
    /// # Safety
    /// The symbol must be a variadic function with exactly these fixed parameters.
    pub unsafe fn bind_variadic(
        &self,
        name: &str,
        ret: Type,
        fixed: Vec<Type>,
    ) -> Result<VariadicBinding> {
        // SAFETY: forwarded from the caller (a variadic call with no variadic argument
        // is a call of the fixed part).
        let binding = unsafe {
            self.bind_signature(name, |abi| Signature::variadic(abi, ret, fixed, vec![]))
        }?;
        Ok(VariadicBinding { binding })
    }

    /// Resolves `name` and compiles the signature `make` gives for the host convention.
    ///
    /// # Safety
    /// As [`Context::bind`].
    unsafe fn bind_signature(
        &self,
        name: &str,
        make: impl FnOnce(Abi) -> Signature,
    ) -> Result<Binding> {
        let abi = Abi::host_default()?;
        let symbol = self.symbol_name(name);
        // The lookup and the hold on the library are one step: a close on another thread
        // cannot unload the library in between.
        let (target, library) = self
            .native()?
            .lookup_held(&symbol)?
            .ok_or_else(|| Error::library(format!("failed to find ffi symbol {symbol}")))?;
        let sig = CompiledSignature::new(make(abi))?;
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

/// One variadic argument as a native image with its type, for [`VariadicBinding`]
/// calls: `VarArg::from(42i32)`, `VarArg::from(2.5f64)`, `VarArg::from(ptr)`, or any
/// [`NativeType`]. C's promotions are not applied: an `i8`, `i16`, `bool` or `f32` is
/// refused by the call (pass `i32` or `f64`).
#[derive(Debug, Clone)]
pub struct VarArg {
    ty: Type,
    image: Vec<u8>,
}

impl VarArg {
    /// A value of a type the caller describes, from its native image.
    ///
    /// # Errors
    /// An image whose length is not the type's size.
    pub fn from_image(ty: Type, image: &[u8]) -> Result<VarArg> {
        if image.len() != ty.size() {
            return Err(Error::Memory(format!(
                "a variadic {ty} needs {} bytes, got {}",
                ty.size(),
                image.len()
            )));
        }
        Ok(VarArg { ty, image: image.to_vec() })
    }

    /// The argument's C type (its promoted type, as C passes it).
    pub fn ty(&self) -> &Type {
        &self.ty
    }
}

impl<T: NativeType> From<T> for VarArg {
    fn from(value: T) -> VarArg {
        let size = std::mem::size_of::<T>();
        // SAFETY: `value` is a live `T` of `size` bytes; `NativeType` types are plain C
        // data (their padding, if any, is read as the bytes it happens to hold, which C
        // ignores too).
        let bytes = unsafe { std::slice::from_raw_parts((&value as *const T).cast::<u8>(), size) };
        VarArg { ty: T::native_type(), image: bytes.to_vec() }
    }
}

/// A variadic function of a library: its fixed part declared once, the variadic part
/// given per call (each distinct list of variadic types is compiled once and cached).
#[derive(Debug, Clone)]
pub struct VariadicBinding {
    /// The symbol, with the signature of a call without variadic arguments.
    binding: Binding,
}

impl VariadicBinding {
    /// The function's address.
    pub fn target(&self) -> Pointer {
        self.binding.target
    }

    /// The signature of one call: the fixed part, then these variadic types.
    ///
    /// # Errors
    /// A variadic type C would promote (`:float`, `:bool`, integers narrower than `:int`).
    pub fn signature(&self, variadic: Vec<Type>) -> Result<CompiledSignature> {
        let sig = self.binding.sig.signature();
        CompiledSignature::new(
            Signature::variadic(sig.abi, sig.ret.clone(), sig.params.clone(), variadic)
                .with_errno(sig.errno),
        )
    }

    /// Calls with dynamic values: `fixed` for the fixed parameters, then each variadic
    /// argument with its type.
    ///
    /// # Errors
    /// As [`VariadicBinding::signature`] and [`CompiledSignature::call`].
    ///
    /// # Safety
    /// As [`CompiledSignature::call`]: the variadic arguments must be what the function
    /// reads (for `printf`, what the format says).
    pub unsafe fn call(
        &self,
        fixed: &[crate::Value],
        variadic: &[(Type, crate::Value)],
    ) -> Result<crate::Value> {
        let sig = self.signature(variadic.iter().map(|(ty, _)| ty.clone()).collect())?;
        let args: Vec<crate::Value> =
            fixed.iter().cloned().chain(variadic.iter().map(|(_, v)| v.clone())).collect();
        // SAFETY: forwarded from the caller.
        unsafe { sig.call(self.binding.target, &args) }
    }

    /// Calls with native images: `fixed[i]` points to fixed argument i's image; the
    /// result's image goes to `ret`.
    ///
    /// # Errors
    /// As [`VariadicBinding::signature`] and [`CompiledSignature::call_native`].
    ///
    /// # Safety
    /// As [`CompiledSignature::call_native`] and [`VariadicBinding::call`].
    pub unsafe fn call_native(
        &self,
        fixed: &[*const u8],
        variadic: &[VarArg],
        ret: *mut u8,
    ) -> Result<()> {
        let fixed_count = self.binding.sig.signature().params.len();
        if fixed.len() != fixed_count {
            return Err(Error::Arity { expected: fixed_count, got: fixed.len() });
        }
        let sig = self.signature(variadic.iter().map(|v| v.ty.clone()).collect())?;
        let args: Vec<*const u8> =
            fixed.iter().copied().chain(variadic.iter().map(|v| v.image.as_ptr())).collect();
        // SAFETY: forwarded from the caller; each variadic image is its type's size.
        unsafe { sig.call_native(self.binding.target, &args, ret) }
    }
}

/// A variadic binding resolved when first needed (what `defbind!` holds for a
/// `fn name(fixed..., ...)` declaration).
#[derive(Debug)]
pub struct LazyVariadicBinding {
    context: Arc<Context>,
    name: &'static str,
    ret: fn() -> Type,
    fixed: fn() -> Vec<Type>,
    resolved: OnceLock<VariadicBinding>,
}

impl LazyVariadicBinding {
    /// # Safety
    /// The symbol `name` must be a variadic function with these fixed parameters.
    pub unsafe fn new(
        context: Arc<Context>,
        name: &'static str,
        ret: fn() -> Type,
        fixed: fn() -> Vec<Type>,
    ) -> LazyVariadicBinding {
        LazyVariadicBinding { context, name, ret, fixed, resolved: OnceLock::new() }
    }

    /// The binding, resolved now if this is its first use.
    ///
    /// # Errors
    /// As [`Context::bind_variadic`].
    pub fn get(&self) -> Result<&VariadicBinding> {
        if let Some(found) = self.resolved.get() {
            return Ok(found);
        }
        // SAFETY: `LazyVariadicBinding::new`'s caller vouched for the signature.
        let binding =
            unsafe { self.context.bind_variadic(self.name, (self.ret)(), (self.fixed)()) }?;
        Ok(self.resolved.get_or_init(|| binding))
    }
}

/// Calls a variadic binding with typed fixed arguments and result (used by `defbind!`).
///
/// # Errors
/// As [`VariadicBinding::call_native`].
///
/// # Safety
/// As [`call_typed`], and the variadic arguments must be what the function reads.
#[doc(hidden)]
pub unsafe fn call_typed_variadic<R: NativeType>(
    binding: &VariadicBinding,
    fixed: &[*const u8],
    variadic: &[VarArg],
) -> Result<R> {
    let mut result = std::mem::MaybeUninit::<R>::zeroed();
    // SAFETY: forwarded from the caller; `result` has room for an `R`.
    unsafe { binding.call_native(fixed, variadic, result.as_mut_ptr().cast()) }?;
    // SAFETY: the call wrote an `R` (or nothing, for `()`).
    Ok(unsafe { result.assume_init() })
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

// SAFETY: Rust's `i128` and `u128` have C's `__int128` layout (16 bytes, aligned to 16 on
// the 64-bit targets jitcall runs on, since Rust 1.77).
unsafe impl NativeType for i128 {
    fn native_type() -> Type {
        Type::Wide(crate::types::Wide::I128)
    }
}

// SAFETY: as for `i128`.
unsafe impl NativeType for u128 {
    fn native_type() -> Type {
        Type::Wide(crate::types::Wide::U128)
    }
}

// Where the host's `long double` is a `double` there is no impl (bind with `f64`).
#[cfg(any(
    target_arch = "x86_64",
    all(target_arch = "aarch64", not(any(target_vendor = "apple", windows)))
))]
// SAFETY: a `LongDouble` is the 16-byte image of a host `long double` (x87 on x86-64,
// binary128 on AArch64 Linux), aligned to 16 as C aligns it.
unsafe impl NativeType for crate::ldouble::LongDouble {
    fn native_type() -> Type {
        Type::Wide(crate::types::Wide::LongDouble)
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
///         /// A variadic function: the fixed part, then `...`.
///         fn snprintf(buf: *mut u8, size: usize, format: *const u8, ...) -> i32;
///     }
/// }
/// ```
///
/// makes a struct `So` with `unsafe fn bind(&Context) -> Result<So>` (every symbol
/// resolved and compiled now: eager), `unsafe fn bind_lazy(Arc<Context>) -> So` (each
/// resolved on its first call), and one safe method per function returning
/// `jitcall::Result<R>`. Argument and result types implement
/// [`NativeType`]. A variadic function's method takes its fixed arguments and then
/// `&[VarArg]`, this call's variadic arguments (`&[42i32.into(), 2.5f64.into()]`).
/// Symbol names go through the context's `map_symbols`. The `unsafe` of `bind` is the
/// promise that each declaration is the symbol's true signature (and, for a variadic
/// one, that callers pass what the function reads).
#[macro_export]
macro_rules! defbind {
    (@ret) => { () };
    (@ret $ret:ty) => { $ret };
    (@field fixed) => { $crate::context::LazyBinding };
    (@field variadic) => { $crate::context::LazyVariadicBinding };
    (@lazy $kind:ident $context:ident $func:ident [$($argty:ty),*] [$($ret:ty)?]) => {{
        fn ret() -> $crate::Type {
            <$crate::defbind!(@ret $($ret)?) as $crate::context::NativeType>::native_type()
        }
        fn params() -> Vec<$crate::Type> {
            vec![$(<$argty as $crate::context::NativeType>::native_type()),*]
        }
        // SAFETY: forwarded from the caller of `bind_lazy`.
        unsafe { <$crate::defbind!(@field $kind)>::new($context.clone(), stringify!($func), ret, params) }
    }};
    (@method fixed $vis:vis [$(#[$fmeta:meta])*] $func:ident [$($arg:ident : $argty:ty),*] [$($ret:ty)?]) => {
        $(#[$fmeta])*
        #[allow(dead_code, clippy::too_many_arguments)]
        $vis fn $func(&self, $($arg: $argty),*) -> $crate::Result<$crate::defbind!(@ret $($ret)?)> {
            let binding = self.$func.get()?;
            let args: &[*const u8] = &[$(&$arg as *const $argty as *const u8),*];
            // SAFETY: `bind`'s caller promised this is the symbol's signature, and
            // each pointer refers to a live argument of its declared type.
            unsafe { $crate::context::call_typed(binding, args) }
        }
    };
    (@method variadic $vis:vis [$(#[$fmeta:meta])*] $func:ident [$($arg:ident : $argty:ty),*] [$($ret:ty)?]) => {
        $(#[$fmeta])*
        #[allow(dead_code, clippy::too_many_arguments)]
        $vis fn $func(
            &self,
            $($arg: $argty,)*
            variadic: &[$crate::context::VarArg],
        ) -> $crate::Result<$crate::defbind!(@ret $($ret)?)> {
            let binding = self.$func.get()?;
            let args: &[*const u8] = &[$(&$arg as *const $argty as *const u8),*];
            // SAFETY: `bind`'s caller promised this is the symbol's fixed signature and
            // that callers pass the variadic arguments the function reads; each pointer
            // refers to a live argument of its declared type.
            unsafe { $crate::context::call_typed_variadic(binding, args, variadic) }
        }
    };
    // Munching the declarations one by one: a variadic one ends its parameters in `...`.
    (@parse $meta:tt $vis:tt $name:ident [$($done:tt)*]
        $(#[$fmeta:meta])* fn $func:ident($($arg:ident : $argty:ty,)* ...) $(-> $ret:ty)?;
        $($rest:tt)*
    ) => {
        $crate::defbind!(@parse $meta $vis $name
            [$($done)* [variadic [$(#[$fmeta])*] $func [$($arg : $argty),*] [$($ret)?]]] $($rest)*);
    };
    (@parse $meta:tt $vis:tt $name:ident [$($done:tt)*]
        $(#[$fmeta:meta])* fn $func:ident($($arg:ident : $argty:ty),* $(,)?) $(-> $ret:ty)?;
        $($rest:tt)*
    ) => {
        $crate::defbind!(@parse $meta $vis $name
            [$($done)* [fixed [$(#[$fmeta])*] $func [$($arg : $argty),*] [$($ret)?]]] $($rest)*);
    };
    (@parse [$(#[$meta:meta])*] [$vis:vis] $name:ident [$(
        [$kind:ident [$(#[$fmeta:meta])*] $func:ident [$($arg:ident : $argty:ty),*] [$($ret:ty)?]]
    )*]) => {
        $(#[$meta])*
        #[allow(missing_debug_implementations)]
        $vis struct $name {
            $($func: $crate::defbind!(@field $kind),)*
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
                    $($func: $crate::defbind!(@lazy $kind context $func [$($argty),*] [$($ret)?]),)*
                }
            }

            $($crate::defbind!(@method $kind $vis [$(#[$fmeta])*] $func [$($arg : $argty),*] [$($ret)?]);)*
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident { $($body:tt)* }
    ) => {
        $crate::defbind!(@parse [$(#[$meta])*] [$vis] $name [] $($body)*);
    };
}
