//! Helpers of the Janet spec tests (tests/janet_*.rs): values and types in Janet syntax,
//! writes and round trips, deep values, and running one test in a child process.

use jitcall::{ffi, syntax, Buffer, Error, Type, Value};

/// A Janet literal.
pub fn v(text: &str) -> Value {
    syntax::read(text).unwrap_or_else(|e| panic!("{text:?} does not read: {e}"))
}

/// A type from Janet type syntax.
pub fn ty(text: &str) -> Type {
    ffi::native_type(&v(text)).unwrap_or_else(|e| panic!("{text:?} is not a type: {e}"))
}

/// The message of the error that decoding a type descriptor gives.
pub fn type_error(text: &str) -> String {
    match ffi::native_type(&v(text)) {
        Ok(t) => panic!("{text:?} should not be a type, got {t}"),
        Err(e) => e.to_string(),
    }
}

/// `(ffi/struct ;elements)`, from the elements in Janet syntax.
pub fn ffi_struct(elements: &[&str]) -> jitcall::Result<Type> {
    let elements: Vec<Value> = elements.iter().map(|e| v(e)).collect();
    ffi::struct_type(&elements)
}

/// `(ffi/write type value)` into a new buffer: its bytes.
pub fn write_bytes(t: &str, value: &str) -> Vec<u8> {
    ffi::write(&ty(t), &v(value), None, None)
        .unwrap_or_else(|e| panic!("writing {value} as {t}: {e}"))
        .to_vec()
}

/// The error of writing `value` as `t` into a new buffer.
pub fn write_error(t: &str, value: &Value) -> Error {
    match ffi::write(&ty(t), value, None, None) {
        Ok(b) => panic!("writing {value} as {t} should fail, wrote {b:?}"),
        Err(e) => e,
    }
}

/// Writes `value` as `t`, reads it back, and checks that the same value comes back.
pub fn assert_round_trip(t: &Type, value: &Value) {
    let buf =
        ffi::write(t, value, None, None).unwrap_or_else(|e| panic!("write {value} as {t}: {e}"));
    assert_eq!(buf.len(), t.size(), "image of {value} as {t}");
    let back = ffi::read(t, &buf.to_vec(), 0).unwrap_or_else(|e| panic!("read {t}: {e}"));
    assert_eq!(back, *value, "{value} as {t} came back as {back}");
}

/// `depth` tuples (or arrays) around `inner`, built without recursion.
pub fn nested(depth: usize, inner: Value, array: bool) -> Value {
    (0..depth).fold(inner, |v, _| {
        if array {
            Value::Array(vec![v, Value::Number(1.0)])
        } else {
            Value::Tuple(vec![v])
        }
    })
}

/// Drops a deeply nested value without recursion (the derived drop recurses per level).
pub fn drop_nested(mut value: Value) {
    while let Value::Tuple(mut items) | Value::Array(mut items) = value {
        value = items.drain(..).next().unwrap_or(Value::Nil);
    }
}

/// Set in the child process that [`run_isolated`] starts.
pub const CHILD_ENV: &str = "JITCALL_JANET_MEMORY_CHILD";

/// Runs `body` in a child process that runs only the test `name` of this file, so that a
/// stack overflow (which aborts the process) fails that test alone, not the whole file.
pub fn run_isolated(name: &str, body: impl FnOnce()) {
    if std::env::var_os(CHILD_ENV).is_some() {
        body();
        return;
    }
    let exe = std::env::current_exe().expect("the test binary");
    let out = super::runner::command(exe)
        .args([name, "--exact", "--test-threads=1", "--nocapture"])
        .env(CHILD_ENV, "1")
        .output()
        .expect("run the test binary");
    assert!(
        out.status.success(),
        "{name} failed in its child process ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A buffer holding `bytes`, as `@"..."` would be.
pub fn buffer(bytes: &[u8]) -> Buffer {
    Buffer::from_vec(bytes.to_vec())
}
