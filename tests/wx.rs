//! No mapping of the process is ever writable and executable, while thunks are created
//! from several threads at once, and calls keep working on every thread meanwhile.
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use jitcall::{ffi, syntax, Abi, Pointer, Type, Value};

extern "C" fn identity(x: i64) -> i64 {
    x
}

/// A family of distinct signatures that are all `int64 f(int64)` at the machine level:
/// the int64 wrapped in `depth` levels of one-field structs or one-element arrays.
fn wrapped(depth: usize, use_arrays: bool) -> (Type, Value) {
    let mut ty = ":int64".to_string();
    let mut value = Value::Int(0x0102_0304_0506_0708);
    for _ in 0..depth {
        if use_arrays {
            ty = format!("[@[{ty} 1]]");
            value = Value::Tuple(vec![Value::Array(vec![value])]);
        } else {
            ty = format!("[{ty}]");
            value = Value::Tuple(vec![value]);
        }
    }
    (ffi::native_type(&syntax::read(&ty).unwrap()).unwrap(), value)
}

/// Lines of /proc/self/maps whose permissions are both writable and executable.
fn writable_and_executable_mappings() -> Vec<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    maps.lines()
        .filter(|line| {
            let perms = line.split_whitespace().nth(1).unwrap_or("");
            perms.contains('w') && perms.contains('x')
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn no_mapping_is_ever_writable_and_executable() {
    assert!(writable_and_executable_mappings().is_empty());
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let done = done.clone();
        thread::spawn(move || {
            let mut checks = 0u32;
            while !done.load(Ordering::Relaxed) {
                let bad = writable_and_executable_mappings();
                assert!(bad.is_empty(), "W+X mappings: {bad:?}");
                checks += 1;
            }
            checks
        })
    };
    let target = Pointer::from_ptr(identity as *const ());
    let workers: Vec<_> = (0..4)
        .map(|worker| {
            thread::spawn(move || {
                let mut made = Vec::new();
                for depth in 0..31 {
                    let (ty, value) = wrapped(depth, (depth + worker) % 2 == 0);
                    let sig = ffi::signature(Abi::SysV64, ty.clone(), vec![ty]).unwrap();
                    made.push((sig, value));
                    // Call everything made so far, on this thread, while others create.
                    for (sig, value) in &made {
                        // SAFETY: `identity` is int64(int64), which every wrapped type is
                        // at the machine level.
                        let got = unsafe { ffi::call(target, sig, std::slice::from_ref(value)) };
                        assert_eq!(&got.unwrap(), value);
                    }
                }
                made.len()
            })
        })
        .collect();
    let made: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    done.store(true, Ordering::Relaxed);
    let checks = watcher.join().unwrap();
    assert_eq!(made, 4 * 31);
    assert!(checks > 0);
    assert!(writable_and_executable_mappings().is_empty());
}
