//! The Janet-named surface: `ffi/size`, `ffi/align`, `ffi/struct`, `ffi/read`,
//! `ffi/write`, `ffi/malloc`, `ffi/free`, `ffi/pointer-buffer`, and the decoding of type
//! descriptors from values (spec §1.1 and §4).

use std::ffi::c_void;
use std::sync::Arc;

use crate::callback::Callback;
use crate::error::{Error, Path, Result};
use crate::library::Native;
use crate::memory::ExecutableCode;
use crate::signature::{Abi, Signature};
use crate::thunk::CompiledSignature;
use crate::types::{Member, Prim, Type, Wide, MAX_DEPTH};
use crate::value::{self, Buffer, Pointer, Value};

/// Decodes a Janet type descriptor: a keyword (`:int`), a tuple (an anonymous struct,
/// with `:pack` / `:pack-all` markers), or an array `@[T n]` / `@[T]` (spec §1.1).
///
/// # Errors
/// Janet's messages: "unknown machine type NAME", "invalid empty struct", "bad field type
/// void", "array type must be of form @[type count], got X", "bad native type X".
pub fn native_type(desc: &Value) -> Result<Type> {
    native_type_at(desc, 0)
}

/// Decodes with the nesting depth so far, so that hostile input stops at
/// [`MAX_DEPTH`] levels instead of exhausting the stack.
fn native_type_at(desc: &Value, depth: usize) -> Result<Type> {
    if depth > MAX_DEPTH {
        return Err(Error::Type(format!("type nesting deeper than {MAX_DEPTH} levels")));
    }
    match desc {
        Value::Keyword(k) => {
            let name = String::from_utf8_lossy(k.as_bytes());
            Prim::from_keyword(&name)
                .map(Type::Prim)
                .or_else(|| Wide::from_keyword(&name).map(Type::Wide))
                .ok_or_else(|| Error::Type(format!("unknown machine type {name}")))
        }
        // `[:union M1 M2 ...]`
        Value::Tuple(elems) if matches!(elems.first(), Some(Value::Keyword(k)) if k.as_bytes() == b"union") => {
            Type::union(&members_at(&elems[1..], depth)?)
        }
        Value::Tuple(elems) => struct_type_at(elems, depth),
        Value::Array(elems) => match elems.as_slice() {
            [elem] => Type::array(native_type_at(elem, depth + 1)?, 0),
            [elem, count] => Type::array(native_type_at(elem, depth + 1)?, array_count(count)?),
            _ => Err(Error::Type(format!("array type must be of form @[type count], got {desc}"))),
        },
        _ => Err(Error::Type(format!("bad native type {desc}"))),
    }
}

fn array_count(count: &Value) -> Result<usize> {
    match *count {
        Value::Number(n) if n.fract() == 0.0 && (0.0..=i32::MAX as f64).contains(&n) => {
            Ok(n as usize)
        }
        _ => Err(Error::Type(format!(
            "bad slot #1, expected non-negative 32 bit signed integer, got {count}"
        ))),
    }
}

/// `ffi/struct`: a struct type from field descriptors and `:pack` / `:pack-all` markers.
///
/// # Errors
/// As [`native_type`]; an empty list is "invalid empty struct".
pub fn struct_type(elems: &[Value]) -> Result<Type> {
    struct_type_at(elems, 0)
}

fn struct_type_at(elems: &[Value], depth: usize) -> Result<Type> {
    Type::structure(&members_at(elems, depth)?)
}

/// The fields and packing markers of a struct or union description.
fn members_at(elems: &[Value], depth: usize) -> Result<Vec<Member>> {
    elems
        .iter()
        .map(|e| match e {
            Value::Keyword(k) if k.as_bytes() == b"pack" => Ok(Member::Pack),
            Value::Keyword(k) if k.as_bytes() == b"pack-all" => Ok(Member::PackAll),
            _ => native_type_at(e, depth + 1).map(Member::Field),
        })
        .collect()
}

/// `ffi/size`: the size of a type in bytes (a struct's padded size; 0 for void).
pub fn size(ty: &Type) -> usize {
    ty.size()
}

/// `ffi/align`: the alignment of a type (an array's element alignment; 0 for void).
pub fn align(ty: &Type) -> usize {
    ty.align()
}

/// `ffi/write`: the native image of `value` as `ty`, written into `buffer` at `index`
/// (default: the buffer's length, i.e. append, as in Janet 1.39+). Without a buffer, a new
/// one is made. The target bytes are zeroed first, so padding is 0; the buffer grows as
/// needed. On error the buffer is left unchanged.
///
/// # Errors
/// A value that does not convert (the path says where; checked before any memory is
/// asked for, so a huge type with a value that does not fit it is only an error), "index
/// out of bounds" past the end, "buffer cannot reallocate foreign memory" when a
/// pointer-buffer is full, or an image the allocator cannot give.
pub fn write(
    ty: &Type,
    value: &Value,
    buffer: Option<&Buffer>,
    index: Option<usize>,
) -> Result<Buffer> {
    // The value is checked before any memory is asked for: a type of any size can be
    // named, but only a value that fits it makes its image.
    value::check_encodable(ty, value, &Path::default())?;
    let mut image = Vec::new();
    image.try_reserve_exact(ty.size()).map_err(|_| {
        Error::Memory(format!("out of memory allocating {} bytes for {ty}", ty.size()))
    })?;
    image.resize(ty.size(), 0);
    value::encode(ty, value, &mut image, &Path::default())?;
    let Some(buffer) = buffer.cloned() else {
        return Ok(Buffer::from_vec(image));
    };
    {
        let mut bytes = buffer.lock();
        let len = bytes.len();
        let index = index.unwrap_or(len);
        if index > len {
            return Err(Error::Memory("index out of bounds".into()));
        }
        let end = index
            .checked_add(image.len())
            .ok_or_else(|| Error::Memory("index out of bounds".into()))?;
        if end > len {
            bytes.resize(end)?;
        }
        bytes.as_mut_slice()[index..end].copy_from_slice(&image);
    }
    Ok(buffer)
}

/// `ffi/read` on bytes: the value of type `ty` at `offset`.
///
/// # Errors
/// "read out of range" when the bytes are too short; a type holding `:string` (reading it
/// follows a pointer: use [`read_ptr`]); a type with more than
/// [`value::MAX_EMPTY_VALUES`] empty parts (arrays of zero-size elements).
pub fn read(ty: &Type, bytes: &[u8], offset: usize) -> Result<Value> {
    let end = offset.checked_add(ty.size()).filter(|&e| e <= bytes.len());
    let Some(end) = end else {
        return Err(Error::Memory("read out of range".into()));
    };
    value::decode(ty, &bytes[offset..end])
}

/// `ffi/read` on a raw pointer: the value of type `ty` at `ptr + offset`, unchecked.
/// As in Janet, a `:string` is the address of a `char *` slot, which is then followed
/// (NULL gives nil); to read a C string directly, use [`read_c_string`].
///
/// # Errors
/// A type with more than [`value::MAX_EMPTY_VALUES`] empty parts (arrays of zero-size
/// elements), whose value would not fit in memory.
///
/// # Safety
/// `ty.size()` bytes at `ptr + offset` must be readable, and every `:string` slot in them
/// must be NULL or point to a NUL-terminated string.
pub unsafe fn read_ptr(ty: &Type, ptr: Pointer, offset: isize) -> Result<Value> {
    value::check_decodable(ty)?;
    let start = ptr.addr().wrapping_add_signed(offset) as *const u8;
    // SAFETY: the caller guarantees `ty.size()` readable bytes at `start`.
    let bytes = unsafe { std::slice::from_raw_parts(start, ty.size()) };
    // SAFETY: the caller vouches for the `:string` slots.
    Ok(unsafe { value::decode_following_pointers(ty, bytes) })
}

/// A copy of the NUL-terminated string at `ptr` (nil for NULL).
///
/// # Safety
/// `ptr` must be NULL or point to a readable NUL-terminated string.
pub unsafe fn read_c_string(ptr: Pointer) -> Value {
    // SAFETY: forwarded from the caller.
    unsafe { value::decode_prim_bits(Prim::String, ptr.addr() as u64) }
}

extern "C" {
    // The C library's allocator, so that native code may free what `malloc` returns.
    #[link_name = "malloc"]
    fn c_malloc(size: usize) -> *mut c_void;
    #[link_name = "free"]
    fn c_free(ptr: *mut c_void);
}

/// `ffi/malloc`: `size` bytes from the C allocator, or `None` for 0 bytes.
///
/// # Errors
/// The allocator has no memory to give.
pub fn malloc(size: usize) -> Result<Option<Pointer>> {
    if size == 0 {
        return Ok(None);
    }
    // SAFETY: C `malloc` may be called with any size; a NULL result is handled below.
    let ptr = unsafe { c_malloc(size) };
    if ptr.is_null() {
        return Err(Error::Memory(format!("out of memory allocating {size} bytes")));
    }
    Ok(Some(Pointer::from_ptr(ptr)))
}

/// `ffi/free`: returns memory to the C allocator; NULL is a no-op.
///
/// # Safety
/// `ptr` must be NULL or come from [`malloc`] (or C's `malloc`) and not be freed yet.
pub unsafe fn free(ptr: Pointer) {
    // SAFETY: the caller guarantees `ptr` is NULL or a live C-allocator block.
    unsafe { c_free(ptr.as_ptr()) }
}

/// `ffi/pointer-buffer`: a buffer over `capacity` bytes of foreign memory at
/// `ptr + offset`, whose first `count` bytes are its contents. It cannot grow past its
/// capacity ("buffer cannot reallocate foreign memory"), and dropping it never frees the
/// memory.
///
/// # Errors
/// "capacity < count".
///
/// # Safety
/// The `capacity` bytes must stay valid for reads and writes for as long as the buffer (or
/// a clone of it) lives.
pub unsafe fn pointer_buffer(
    ptr: Pointer,
    capacity: usize,
    count: usize,
    offset: isize,
) -> Result<Buffer> {
    if count > capacity {
        return Err(Error::Memory("capacity < count".into()));
    }
    let start = ptr.addr().wrapping_add_signed(offset) as *mut u8;
    // SAFETY: the caller's guarantee is exactly `Buffer::foreign`'s contract.
    Ok(unsafe { Buffer::foreign(start, count, capacity) })
}

/// `ffi/signature`: classifies a C function type under a convention and compiles its
/// thunk (cached: the same signature compiles once per process).
///
/// # Errors
/// A convention this host cannot call, a void or array parameter, a zero-size struct, or
/// arguments too large for the stack.
pub fn signature(abi: Abi, ret: Type, params: Vec<Type>) -> Result<CompiledSignature> {
    CompiledSignature::new(Signature::new(abi, ret, params))
}

/// [`signature`] with borrowed types: a signature this thread fetched lately is found
/// without copying the types or allocating (see [`CompiledSignature::lookup`]); others are
/// compiled or fetched as [`signature`] does.
///
/// # Errors
/// As [`signature`].
pub fn signature_by_ref(abi: Abi, ret: &Type, params: &[Type]) -> Result<CompiledSignature> {
    CompiledSignature::lookup(abi, ret, params)
}

/// A variadic function's call signature: `fixed` parameters, then `...` with this call's
/// `variadic` argument types (compiled once per distinct list, like any signature). Call
/// it with [`call`] (the values of the fixed arguments, then of the variadic ones) or
/// [`CompiledSignature::call_native`].
///
/// ```
/// # #[cfg(not(windows))] fn main() -> jitcall::Result<()> {
/// use jitcall::{ffi, Abi, Prim, Type, Value};
/// // SAFETY: the running program, whose C library is already loaded.
/// let snprintf = unsafe { ffi::native(None)? }.lookup("snprintf")?.expect("the C library's");
/// let (ptr, size, int, double) =
///     (Type::Prim(Prim::Ptr), Type::Prim(Prim::U64), Type::Prim(Prim::I32), Type::Prim(Prim::F64));
/// let sig = ffi::variadic_signature(
///     Abi::host().unwrap(),
///     int.clone(),
///     vec![ptr.clone(), size, Type::Prim(Prim::String)], // char *, size_t, const char *
///     vec![int, double],                                  // ... this call's int and double
/// )?;
/// let buffer = ffi::malloc(32)?.unwrap();
/// let args = [
///     Value::Pointer(buffer),
///     Value::Number(32.0),
///     Value::string("%d %g"),
///     Value::Number(42.0),
///     Value::Number(2.5),
/// ];
/// // SAFETY: snprintf's own signature, a 32-byte buffer, and a format that reads an int
/// // and a double.
/// let written = unsafe { ffi::call(snprintf, &sig, &args)? };
/// assert_eq!(written, Value::Number(6.0));
/// // SAFETY: snprintf wrote a C string there; then the buffer is freed once.
/// unsafe {
///     assert_eq!(ffi::read_c_string(buffer), Value::string("42 2.5"));
///     ffi::free(buffer);
/// }
/// # Ok(()) }
/// # #[cfg(windows)] fn main() {}
/// ```
///
/// # Errors
/// As [`signature`]; besides, a variadic `:float`, `:bool` or integer narrower than
/// `:int` (C promotes those: the message names the type to pass instead).
pub fn variadic_signature(
    abi: Abi,
    ret: Type,
    fixed: Vec<Type>,
    variadic: Vec<Type>,
) -> Result<CompiledSignature> {
    CompiledSignature::new(Signature::variadic(abi, ret, fixed, variadic))
}

/// Compiles any [`Signature`]: a variadic one, or one whose thunk captures `errno` (see
/// [`crate::Errno`] and [`errno`]).
///
/// ```
/// # #[cfg(target_os = "linux")] fn main() -> jitcall::Result<()> {
/// use jitcall::{ffi, Abi, Errno, Prim, Signature, Type, Value};
/// // SAFETY: the running program, whose C library is already loaded.
/// let open = unsafe { ffi::native(None)? }.lookup("open")?.expect("the C library's");
/// let int = Type::Prim(Prim::I32);
/// // `int open(const char *, int, ...)`, called with no variadic argument.
/// let fixed = vec![Type::Prim(Prim::String), int.clone()];
/// let sig = Signature::variadic(Abi::host().unwrap(), int, fixed, vec![]).with_errno(Errno::Capture);
/// let sig = ffi::compile(sig)?;
/// let args = [Value::string("/no/such/file"), Value::Number(0.0)];
/// // SAFETY: open's own signature (O_RDONLY needs no mode argument).
/// assert_eq!(unsafe { ffi::call(open, &sig, &args)? }, Value::Number(-1.0));
/// assert_eq!(ffi::errno(), 2); // ENOENT, as open left it
/// # Ok(()) }
/// # #[cfg(not(target_os = "linux"))] fn main() {}
/// ```
///
/// # Errors
/// As [`signature`] and [`variadic_signature`].
pub fn compile(sig: Signature) -> Result<CompiledSignature> {
    CompiledSignature::new(sig)
}

pub use crate::errno::{errno, last_error, set_errno, set_last_error};

/// `ffi/call`: calls `target` with dynamic values. Every argument is converted before
/// anything is called; the result is converted back (structs as tuples, arrays as arrays,
/// 64-bit integers as exact boxes, NULL pointers and strings as nil).
///
/// # Errors
/// "arity mismatch, expected N, got M", or a value that does not convert (the message
/// names the argument, counted as Janet counts slots, and the field inside it).
///
/// # Safety
/// `target` must be a function of this signature in this convention, sound to call with
/// these arguments; see [`CompiledSignature::call`].
pub unsafe fn call(target: Pointer, sig: &CompiledSignature, args: &[Value]) -> Result<Value> {
    // SAFETY: forwarded from the caller.
    unsafe { sig.call(target, args) }
}

/// `ffi/native`: opens a library by the path given to the loader unchanged, or the running
/// program for `None`.
///
/// # Errors
/// The loader's own message.
///
/// # Safety
/// Loading runs the library's initialisers: see [`Native::open`].
pub unsafe fn native(path: Option<&str>) -> Result<Native> {
    // SAFETY: forwarded from the caller.
    unsafe { Native::open(path) }
}

/// `ffi/calling-conventions`: the conventions this host can call, the default first.
pub fn calling_conventions() -> Vec<Abi> {
    let mut abis: Vec<Abi> = Abi::ALL.into_iter().filter(|a| a.runs_on_host()).collect();
    abis.sort_by_key(|a| Some(*a) != Abi::host());
    abis
}

/// A C-callable closure of any signature: `func` receives the arguments as values and
/// returns the result. See [`Callback`] for lifetime and error rules.
///
/// # Errors
/// A convention this host cannot run, or a signature it cannot express.
pub fn callback(
    abi: Abi,
    ret: Type,
    params: Vec<Type>,
    func: impl Fn(&[Value]) -> Result<Value> + Send + Sync + 'static,
) -> Result<Callback> {
    Callback::new(Signature::new(abi, ret, params), func)
}

/// `ffi/trampoline`: the address of Janet's fixed `void f(void *ctx, void *userdata)`
/// callback in the convention `abi`. When C calls it, `userdata` must be the `:ptr` of a
/// live [`Function`](crate::Function) (a `Value::Function` argument), which is called with
/// `ctx` as a pointer. NULL or stale userdata prints a message on stderr and returns.
///
/// # Errors
/// A convention this host cannot run.
pub fn trampoline(abi: Abi) -> Result<Pointer> {
    crate::callback::trampoline(abi)
}

/// `ffi/jitfn`: machine code copied into executable memory (W^X, the instruction cache
/// flushed), to be called with [`call`] or passed as a pointer.
///
/// # Errors
/// Empty code, or no memory.
pub fn jitfn(bytes: &[u8]) -> Result<JitFn> {
    if bytes.is_empty() {
        return Err(Error::Memory("ffi/jitfn needs at least one byte of machine code".into()));
    }
    Ok(JitFn { code: Arc::new(ExecutableCode::new(bytes)?) })
}

/// Machine code in executable memory, valid while this value lives.
#[derive(Debug, Clone)]
pub struct JitFn {
    code: Arc<ExecutableCode>,
}

impl JitFn {
    /// The code's address: pass it to [`call`] or as a `:ptr` argument.
    pub fn pointer(&self) -> Pointer {
        Pointer::from_addr(self.code.base())
    }

    /// A copy of the code's bytes (Janet's byte view of a jitfn).
    pub fn bytes(&self) -> Vec<u8> {
        self.code.bytes().to_vec()
    }
}

/// `ffi/context`: a library for bindings to resolve symbols in, opened now or (lazy) on
/// first use; see [`crate::context`] and [`crate::defbind!`].
///
/// # Errors
/// An eager context whose library does not open.
///
/// # Safety
/// Opening the library runs its initialisers.
pub unsafe fn context(
    path: Option<&str>,
    lazy: bool,
    map_symbols: Option<crate::context::SymbolMap>,
) -> Result<std::sync::Arc<crate::context::Context>> {
    // SAFETY: forwarded from the caller.
    unsafe { crate::context::Context::new(path, lazy, map_symbols) }.map(std::sync::Arc::new)
}

/// A C-callable closure over native images: `func` gets a pointer to each argument's
/// image and a pointer to write the result's image to. No values are made on the way,
/// so this is the fast form; see [`Callback::new_native`].
///
/// # Errors
/// A convention this host cannot run, or a signature it cannot express.
pub fn callback_native(
    abi: Abi,
    ret: Type,
    params: Vec<Type>,
    func: impl Fn(&[*const u8], *mut u8) -> Result<()> + Send + Sync + 'static,
) -> Result<Callback> {
    Callback::new_native(Signature::new(abi, ret, params), func)
}
