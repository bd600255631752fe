//! Native libraries and their symbols (`ffi/native`, `ffi/lookup`, `ffi/close`).

use std::ffi::c_void;
use std::sync::{Arc, Mutex};

use libloading::Library;

use crate::error::{Error, Result};
use crate::value::Pointer;

/// An open native library, or the running program itself.
///
/// Closing ends this handle, but a library stays loaded while a binding made from it
/// ([`crate::context::Binding`]) lives: the safe calls of a binding never reach unloaded
/// code. Raw addresses from [`Native::lookup`] are not tracked: they dangle once the
/// library is closed and unloaded, which the `unsafe` calls through them must respect.
#[derive(Debug)]
pub struct Native {
    /// `None` once closed. Bindings hold clones, keeping the library loaded.
    lib: Mutex<Option<Arc<Library>>>,
    is_self: bool,
}

/// Keeps a library loaded while it lives (what a binding holds).
#[derive(Debug, Clone)]
pub(crate) struct LibraryHold {
    _library: Arc<Library>,
}

const ALREADY_CLOSED: &str = "native object already closed";

impl Native {
    /// Opens the library at `path`, passed to the dynamic loader unchanged (`dlopen` with
    /// `RTLD_NOW`, or `LoadLibrary`); `None` is the running program.
    ///
    /// # Errors
    /// The loader's own message.
    ///
    /// # Safety
    /// Loading a library runs its initialisers, which may do anything; the library must be
    /// sound to load into this process.
    pub unsafe fn open(path: Option<&str>) -> Result<Native> {
        let lib = match path {
            // SAFETY: the caller vouches for the library's initialisers.
            Some(path) => unsafe { open_path(path) }?,
            None => this_program(),
        };
        Ok(Native { lib: Mutex::new(Some(Arc::new(lib))), is_self: path.is_none() })
    }

    /// The address of `name`, or `None` when the library has no such symbol. On Windows a
    /// lookup in the running program searches every loaded module, as Janet's does.
    ///
    /// # Errors
    /// "native object already closed".
    pub fn lookup(&self, name: &str) -> Result<Option<Pointer>> {
        Ok(self.lookup_held(name)?.map(|(found, _)| found))
    }

    /// As [`Native::lookup`], with a hold that keeps the library loaded while it lives,
    /// taken under the same lock, so that a concurrent close cannot come in between.
    pub(crate) fn lookup_held(&self, name: &str) -> Result<Option<(Pointer, LibraryHold)>> {
        let guard = self.lib.lock().unwrap_or_else(|p| p.into_inner());
        let lib = guard.as_ref().ok_or_else(|| Error::library(ALREADY_CLOSED))?;
        let found = Self::find(lib, self.is_self, name);
        Ok(found.map(|p| (p, LibraryHold { _library: lib.clone() })))
    }

    fn find(lib: &Library, is_self: bool, name: &str) -> Option<Pointer> {
        if name.contains('\0') {
            return None;
        }
        // SAFETY: the symbol is read as an address only; nothing is called or read
        // through it here.
        let found = unsafe { lib.get::<*mut c_void>(name.as_bytes()) }.ok().map(|s| *s);
        let found = found.filter(|p| !p.is_null()).map(|p| Pointer::from_ptr(p));
        if found.is_none() && is_self {
            return search_loaded_modules(name);
        }
        found
    }

    /// Closes this handle: lookups fail from now on. The library is unloaded now, or, if
    /// bindings made from it still live, when the last of them is dropped. Addresses
    /// looked up in it dangle once it is unloaded.
    ///
    /// # Errors
    /// "cannot close self" for the running program, "native object already closed" for a
    /// second close, or the loader's message (only when the library is unloaded now).
    pub fn close(&self) -> Result<()> {
        if self.is_self {
            return Err(Error::library("cannot close self"));
        }
        let lib = self.lib.lock().unwrap_or_else(|p| p.into_inner()).take();
        let lib = lib.ok_or_else(|| Error::library(ALREADY_CLOSED))?;
        match Arc::try_unwrap(lib) {
            Ok(lib) => {
                lib.close().map_err(|e| Error::Library { message: e.to_string(), source: Some(e) })
            }
            // A binding still holds it; dropping the last hold unloads it.
            Err(_held) => Ok(()),
        }
    }

    /// True for the running program's handle.
    pub fn is_self(&self) -> bool {
        self.is_self
    }
}

cfg_if::cfg_if! {
    if #[cfg(unix)] {
        /// # Safety
        /// As [`Native::open`].
        unsafe fn open_path(path: &str) -> Result<Library> {
            use libloading::os::unix::{Library as UnixLibrary, RTLD_LOCAL, RTLD_NOW};
            // SAFETY: forwarded from the caller.
            unsafe { UnixLibrary::open(Some(path), RTLD_NOW | RTLD_LOCAL) }
                .map(Library::from)
                .map_err(loader_error)
        }

        fn this_program() -> Library {
            libloading::os::unix::Library::this().into()
        }

        /// `dlsym` on the program's handle already searches the global scope.
        fn search_loaded_modules(_name: &str) -> Option<Pointer> {
            None
        }
    } else if #[cfg(windows)] {
        /// # Safety
        /// As [`Native::open`].
        unsafe fn open_path(path: &str) -> Result<Library> {
            // SAFETY: forwarded from the caller.
            unsafe { Library::new(path) }.map_err(loader_error)
        }

        fn this_program() -> Library {
            libloading::os::windows::Library::this()
                .expect("GetModuleHandleExW(NULL) names the running program")
                .into()
        }

        /// Walks up to 1,024 loaded modules with `GetProcAddress`, first hit wins.
        fn search_loaded_modules(name: &str) -> Option<Pointer> {
            windows_modules::find(name)
        }
    }
}

/// The loader's message without libloading's wrapping text.
/// The loader's own message (libloading's wrapper text left out), keeping its error.
fn loader_error(e: libloading::Error) -> Error {
    use std::error::Error as _;
    let message = e.source().map_or_else(|| e.to_string(), |s| s.to_string());
    Error::Library { message, source: Some(e) }
}

#[cfg(windows)]
mod windows_modules {
    use std::ffi::{c_void, CString};

    use crate::value::Pointer;

    type Hmodule = *mut c_void;

    #[link(name = "kernel32")]
    extern "system" {
        fn GetCurrentProcess() -> *mut c_void;
        fn K32EnumProcessModules(
            process: *mut c_void,
            modules: *mut Hmodule,
            cb: u32,
            needed: *mut u32,
        ) -> i32;
        fn GetProcAddress(module: Hmodule, name: *const i8) -> *mut c_void;
    }

    pub fn find(name: &str) -> Option<Pointer> {
        let name = CString::new(name).ok()?;
        let mut modules: Vec<Hmodule> = vec![std::ptr::null_mut(); 1024];
        let mut needed = 0u32;
        let bytes = (modules.len() * std::mem::size_of::<Hmodule>()) as u32;
        // SAFETY: the buffer holds `bytes` bytes of handles; the pseudo-handle of the
        // current process needs no closing.
        let ok = unsafe {
            K32EnumProcessModules(GetCurrentProcess(), modules.as_mut_ptr(), bytes, &mut needed)
        };
        if ok == 0 {
            return None;
        }
        let count = (needed as usize / std::mem::size_of::<Hmodule>()).min(modules.len());
        modules[..count].iter().find_map(|&module| {
            // SAFETY: `module` is a loaded module's handle and `name` a C string.
            let p = unsafe { GetProcAddress(module, name.as_ptr()) };
            (!p.is_null()).then(|| Pointer::from_ptr(p))
        })
    }
}
