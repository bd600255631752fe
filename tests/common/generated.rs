//! Reading the Janet text that the generated suites' tables hold.

use jitcall::{ffi, syntax, Pointer, Type, Value};

/// Janet text that must read.
pub fn read(text: &str) -> Value {
    syntax::read(text).unwrap_or_else(|e| panic!("generated text {text:?} does not read: {e}"))
}

/// Turns every `(ptr N)` in a value into a pointer value (Janet syntax has none).
fn with_pointers(value: Value) -> Value {
    match value {
        Value::Tuple(items) => match items.as_slice() {
            [Value::Symbol(s), addr] if s.as_bytes() == b"ptr" => {
                let addr = match *addr {
                    Value::Number(n) => n as u64,
                    Value::Int(i) => i as u64,
                    Value::UInt(u) => u,
                    ref other => panic!("bad pointer literal {other}"),
                };
                Value::Pointer(Pointer::from_addr(addr as usize))
            }
            _ => Value::Tuple(items.into_iter().map(with_pointers).collect()),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(with_pointers).collect()),
        other => other,
    }
}

/// A generated value, `(ptr N)` included.
pub fn value(text: &str) -> Value {
    with_pointers(read(text))
}

/// A generated type.
pub fn native_type(text: &str) -> Type {
    ffi::native_type(&read(text))
        .unwrap_or_else(|e| panic!("generated type {text:?} is not a type: {e}"))
}

/// True for a struct with a struct inside it (as a field, or as an array element).
pub fn has_nested_struct(t: &Type) -> bool {
    fn contains_struct(t: &Type) -> bool {
        match t {
            Type::Prim(_) | Type::Wide(_) => false,
            Type::Struct(_) | Type::Union(_) => true,
            Type::Array(a) => contains_struct(&a.elem),
        }
    }
    match t {
        Type::Struct(s) => s.fields().iter().any(|f| contains_struct(&f.ty)),
        _ => false,
    }
}
