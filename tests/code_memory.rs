//! W^X as one path: every piece of executable memory (staged call thunks, shared thunks,
//! `jitfn` code, trampoline pages) is written into a `WritableCode` and made executable by
//! its `seal`, once; nothing else in the crate maps or protects memory.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Barrier, Mutex, MutexGuard};
use std::thread;

use jitcall::internals::{page_size, seal_count, Code, WritableCode};
use jitcall::{ffi, syntax, Abi, Callback, Signature, Type, Value};

/// The seal count is process-wide: the tests that read it run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn ty(src: &str) -> Type {
    ffi::native_type(&syntax::read(src).unwrap()).unwrap()
}

/// `return 42` in the host's C convention.
fn return_42() -> Vec<u8> {
    if cfg!(target_arch = "x86_64") {
        vec![0xB8, 42, 0, 0, 0, 0xC3] // mov eax, 42; ret
    } else {
        [0x5280_0540u32, 0xD65F_03C0].iter().flat_map(|w| w.to_le_bytes()).collect()
        // mov w0, #42; ret
    }
}

/// The permissions ("r-xp", ...) of the mapping that holds `addr`.
#[cfg(target_os = "linux")]
fn protection(addr: usize) -> String {
    let maps = fs::read_to_string("/proc/self/maps").unwrap();
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let range = fields.next().unwrap();
        let (start, end) = range.split_once('-').unwrap();
        let start = usize::from_str_radix(start, 16).unwrap();
        let end = usize::from_str_radix(end, 16).unwrap();
        if (start..end).contains(&addr) {
            return fields.next().unwrap().to_string();
        }
    }
    panic!("{addr:#x} is not mapped");
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Only `memory.rs` maps, protects or flushes memory: the trampoline pages, `jitfn` and the
/// thunks cannot go around `WritableCode::seal`.
#[test]
fn only_memory_rs_touches_page_protection() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("arch"), &mut files);
    let forbidden = [
        "region::",
        "memmap2",
        "mprotect",
        "mmap",
        "VirtualAlloc",
        "VirtualProtect",
        "flush_instruction_cache",
        "ic ivau",
    ];
    let mut offenders = Vec::new();
    for file in &files {
        if file.ends_with("src/memory.rs") {
            continue;
        }
        let text = fs::read_to_string(file).unwrap();
        for word in forbidden.iter().filter(|w| text.contains(*w)) {
            offenders.push(format!("{} names {word}", file.display()));
        }
    }
    assert!(offenders.is_empty(), "outside memory.rs: {offenders:?}");
}

#[test]
fn jitfn_is_sealed_by_the_one_path() {
    let _serial = serial();
    let before = seal_count();
    let f = ffi::jitfn(&return_42()).unwrap();
    assert_eq!(seal_count(), before + 1);
    #[cfg(target_os = "linux")]
    assert_eq!(protection(f.pointer().addr()), "r-xp");
    let sig = ffi::signature(Abi::host_default().unwrap(), ty(":int"), vec![]).unwrap();
    // SAFETY: the code returns 42 in the host convention and takes no arguments.
    let got = unsafe { ffi::call(f.pointer(), &sig, &[]) }.unwrap();
    assert_eq!(got, Value::Number(42.0));
}

#[test]
fn trampoline_pages_are_sealed_by_the_one_path() {
    let _serial = serial();
    let sig = Signature::new(Abi::host_default().unwrap(), ty(":int"), vec![ty(":int")]);
    let (seals, pages) = (seal_count(), jitcall::internals::trampoline_pages());
    let mut callbacks = Vec::new();
    while jitcall::internals::trampoline_pages() == pages {
        callbacks.push(Callback::new(sig.clone(), |args| Ok(args[0].clone())).unwrap());
        assert!(callbacks.len() <= page_size(), "a page pair holds fewer slots than that");
    }
    // Creating callbacks writes no code: only the new page pair was sealed.
    assert_eq!(seal_count(), seals + 1);
    #[cfg(target_os = "linux")]
    {
        let stub = callbacks.last().unwrap().code_ptr().addr();
        let code_page = stub & !(page_size() - 1);
        assert_eq!(protection(code_page), "r-xp", "the trampoline code page");
        assert_eq!(protection(code_page + page_size()), "rw-p", "the trampoline data page");
    }
}

#[test]
fn a_chunk_is_sealed_once_however_many_threads_enter_it() {
    let _serial = serial();
    let bytes = return_42();
    let first = Code::stage(&bytes).unwrap();
    let neighbour = Code::stage(&bytes).unwrap();
    assert!(!first.is_sealed() && !neighbour.is_sealed());
    let before = seal_count();
    let barrier = Barrier::new(8);
    let entries: Vec<usize> = thread::scope(|s| {
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let (code, barrier) = (if i % 2 == 0 { &first } else { &neighbour }, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    code.entry().unwrap() as usize
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert_eq!(seal_count(), before + 1, "one chunk, one seal");
    assert!(first.is_sealed() && neighbour.is_sealed());
    let (a, b) = (first.entry().unwrap() as usize, neighbour.entry().unwrap() as usize);
    assert!(entries.iter().all(|&e| e == a || e == b) && a != b);
    assert_eq!(seal_count(), before + 1, "entering sealed code seals nothing");
    // SAFETY: sealed code that returns 42 in the host convention.
    let f = unsafe { std::mem::transmute::<usize, extern "C" fn() -> i32>(a) };
    assert_eq!(f(), 42);

    // A sealed chunk takes no more code: the next goes to a new, writable chunk.
    let later = Code::stage(&bytes).unwrap();
    assert!(!later.is_sealed());
    assert_eq!((first.to_vec(), later.to_vec()), (bytes.clone(), bytes.clone()));
    #[cfg(target_os = "linux")]
    {
        assert_eq!(protection(a), "r-xp");
        assert_eq!(protection(later.addr()), "rw-p");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn writable_code_is_executable_only_once_sealed_and_data_pages_never() {
    let _serial = serial();
    let mut code = WritableCode::new(1, 1).unwrap();
    let base = code.base();
    assert_eq!(code.capacity(), page_size());
    assert_eq!(code.append(&return_42()), Some(0));
    assert_eq!(code.append(&vec![0; page_size()]), None, "larger than the code page");
    assert_eq!(code.bytes(), return_42());
    assert_eq!(protection(base), "rw-p");
    let before = seal_count();
    let code = code.seal().unwrap();
    assert_eq!(seal_count(), before + 1);
    assert_eq!((code.base(), code.bytes()), (base, &return_42()[..]));
    assert_eq!(protection(base), "r-xp");
    assert_eq!(code.data(), base + page_size());
    assert_eq!(protection(code.data()), "rw-p");
    // SAFETY: sealed code that returns 42 in the host convention.
    let f = unsafe { std::mem::transmute::<usize, extern "C" fn() -> i32>(code.base()) };
    assert_eq!(f(), 42);
    assert!(WritableCode::new(0, 1).is_err(), "no code pages");
}
