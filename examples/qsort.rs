//! Sorts numbers with the C library's `qsort`, with a Rust closure as the comparator.
//!
//! `cargo run --example qsort` prints the numbers, sorted.

use jitcall::{ffi, syntax, Abi, Buffer, Type, Value};

fn ty(text: &str) -> jitcall::Result<Type> {
    ffi::native_type(&syntax::read(text)?)
}

fn main() -> jitcall::Result<()> {
    let abi = Abi::host().expect("jitcall supports this host");
    let numbers = [3.5, -1.0, 42.0, 0.25, 7.0, -273.15, 1e6, 2.0];

    // The doubles as native memory: what qsort sorts in place.
    let double = ty(":double")?;
    let array = Buffer::with_capacity(8 * numbers.len());
    for n in numbers {
        ffi::write(&double, &Value::Number(n), Some(&array), None)?;
    }

    // int compare(const void *a, const void *b), as a Rust closure.
    let compare = ffi::callback(abi, ty(":int")?, vec![ty(":ptr")?, ty(":ptr")?], move |args| {
        let read = |v: &Value| match v {
            // SAFETY: qsort passes pointers to elements of the array of doubles.
            Value::Pointer(p) => match unsafe { ffi::read_ptr(&double, *p, 0) } {
                Ok(Value::Number(n)) => n,
                _ => unreachable!("a double reads as a number"),
            },
            _ => unreachable!("qsort passes pointers"),
        };
        Ok(Value::Number(read(&args[0]).total_cmp(&read(&args[1])) as i32 as f64))
    })?;

    let libc = if cfg!(windows) { Some("msvcrt.dll") } else { None };
    // SAFETY: the C library is already loaded in this process.
    let lib = unsafe { ffi::native(libc)? };
    let qsort = lib.lookup("qsort")?.expect("the C library has qsort");
    let sig = ffi::signature(
        abi,
        ty(":void")?,
        vec![ty(":ptr")?, ty(":size")?, ty(":size")?, ty(":ptr")?],
    )?;
    let args = [
        Value::Buffer(array.clone()),
        Value::Number(numbers.len() as f64),
        Value::Number(8.0),
        Value::Pointer(compare.code_ptr()),
    ];
    // SAFETY: qsort(base, count, size, compare) over the buffer's doubles, which stay
    // alive across the call; the comparator has qsort's signature.
    unsafe { ffi::call(qsort, &sig, &args)? };

    let sorted = ffi::read(&ty(&format!("@[:double {}]", numbers.len()))?, &array.to_vec(), 0)?;
    println!("{sorted}");
    Ok(())
}
