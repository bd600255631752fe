//! Types and memory, as Janet's FFI suite and examples check them (spec §9.1 items 2-11 and
//! the round trips of §9.2), plus the `ffi/write` / `ffi/read` examples of §4 and every error
//! path of the type decoder, the value conversions and the memory functions.
//!
//! Types and values are written in Janet syntax and read with `jitcall::syntax::read`.

mod common;

use jitcall::limits::MAX_SIZE;
use jitcall::{ffi, syntax, Buffer, Error, Pointer, Str, Type, Value};

// ---------------------------------------------------------------------------------------
// helpers

/// A Janet literal.
fn v(text: &str) -> Value {
    syntax::read(text).unwrap_or_else(|e| panic!("{text:?} does not read: {e}"))
}

/// A type from Janet type syntax.
fn ty(text: &str) -> Type {
    ffi::native_type(&v(text)).unwrap_or_else(|e| panic!("{text:?} is not a type: {e}"))
}

/// The message of the error that decoding a type descriptor gives.
fn type_error(text: &str) -> String {
    match ffi::native_type(&v(text)) {
        Ok(t) => panic!("{text:?} should not be a type, got {t}"),
        Err(e) => e.to_string(),
    }
}

/// `(ffi/struct ;elements)`, from the elements in Janet syntax.
fn ffi_struct(elements: &[&str]) -> jitcall::Result<Type> {
    let elements: Vec<Value> = elements.iter().map(|e| v(e)).collect();
    ffi::struct_type(&elements)
}

/// `(ffi/write type value)` into a new buffer: its bytes.
fn write_bytes(t: &str, value: &str) -> Vec<u8> {
    ffi::write(&ty(t), &v(value), None, None)
        .unwrap_or_else(|e| panic!("writing {value} as {t}: {e}"))
        .to_vec()
}

/// The error of writing `value` as `t` into a new buffer.
fn write_error(t: &str, value: &Value) -> Error {
    match ffi::write(&ty(t), value, None, None) {
        Ok(b) => panic!("writing {value} as {t} should fail, wrote {b:?}"),
        Err(e) => e,
    }
}

/// Writes `value` as `t`, reads it back, and checks that the same value comes back.
fn assert_round_trip(t: &Type, value: &Value) {
    let buf =
        ffi::write(t, value, None, None).unwrap_or_else(|e| panic!("write {value} as {t}: {e}"));
    assert_eq!(buf.len(), t.size(), "image of {value} as {t}");
    let back = ffi::read(t, &buf.to_vec(), 0).unwrap_or_else(|e| panic!("read {t}: {e}"));
    assert_eq!(back, *value, "{value} as {t} came back as {back}");
}

/// `depth` tuples (or arrays) around `inner`, built without recursion.
fn nested(depth: usize, inner: Value, array: bool) -> Value {
    (0..depth).fold(inner, |v, _| {
        if array {
            Value::Array(vec![v, Value::Number(1.0)])
        } else {
            Value::Tuple(vec![v])
        }
    })
}

/// Drops a deeply nested value without recursion (the derived drop recurses per level).
fn drop_nested(mut value: Value) {
    while let Value::Tuple(mut items) | Value::Array(mut items) = value {
        value = items.drain(..).next().unwrap_or(Value::Nil);
    }
}

/// Set in the child process that [`run_isolated`] starts.
const CHILD_ENV: &str = "JITCALL_JANET_MEMORY_CHILD";

/// Runs `body` in a child process that runs only the test `name` of this file, so that a
/// stack overflow (which aborts the process) fails that test alone, not the whole file.
fn run_isolated(name: &str, body: impl FnOnce()) {
    if std::env::var_os(CHILD_ENV).is_some() {
        body();
        return;
    }
    let exe = std::env::current_exe().expect("the test binary");
    let out = common::runner::command(exe)
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
fn buffer(bytes: &[u8]) -> Buffer {
    Buffer::from_vec(bytes.to_vec())
}

// ---------------------------------------------------------------------------------------
// spec §9.1 (test/suite-ffi.janet), items 2-11

#[test]
fn suite_ffi_sizes_and_alignments() {
    assert_eq!(ffi::size(&ty("[:int :char]")), 8);
    assert_eq!(ffi::size(&ty("[:pack :int :char]")), 5);
    assert_eq!(ffi::size(&ty("[:int :pack-all :char]")), 5);
    assert_eq!(ffi::align(&ty("[:int :char]")), 4);
    assert_eq!(ffi::align(&ty("[:pack :int :char]")), 1);
    assert_eq!(ffi::align(&ty("[:int :char :pack-all]")), 1);
    assert_eq!(ffi::size(&ty("[:char :pack :int @[:char 21]]")), 26);
}

#[test]
fn suite_ffi_struct_of_void_is_an_error() {
    let err = ffi_struct(&[":void"]).unwrap_err();
    assert!(err.to_string().contains("bad field type"), "{err}");
    let err = ffi_struct(&[":int", ":void"]).unwrap_err();
    assert!(err.to_string().contains("bad field type"), "{err}");
}

#[test]
fn suite_ffi_write_appends_by_default() {
    let buf = buffer(b"");
    ffi::write(&ty(":u8"), &v("10"), Some(&buf), None).unwrap();
    assert_eq!(buf.len(), 1);
    ffi::write(&ty(":u8"), &v("10"), Some(&buf), None).unwrap();
    assert_eq!(buf.len(), 2);
    assert_eq!(buf.to_vec(), [10, 10]);
}

// ---------------------------------------------------------------------------------------
// layout (spec §1.3 - §1.5)

#[test]
fn layout_table_of_spec_1_3() {
    for (text, size, align) in [
        ("[:int :char]", 8, 4),
        ("[:pack :int :char]", 5, 1),
        ("[:int :pack-all :char]", 5, 1),
        ("[:int :char :pack-all]", 5, 1),
        ("[:char :pack :int @[:char 21]]", 26, 1),
        ("[:int :pack :char :double]", 16, 8),
        ("[:int :pack-all :char :double]", 13, 1),
        ("[:char :pack :double :char]", 10, 1),
        ("[:char [:char :double]]", 24, 8),
        ("[:char @[:int]]", 4, 4),
        ("[:char @[:double]]", 8, 8),
        ("@[[:int :char] 3]", 24, 4),
        ("@[:int]", 0, 4),
        (":void", 0, 0),
    ] {
        let t = ty(text);
        assert_eq!((ffi::size(&t), ffi::align(&t)), (size, align), "{text}");
    }
}

#[test]
fn packed_field_offsets() {
    let Type::Struct(s) = ty("[:char :pack :int @[:char 21]]") else {
        panic!("a tuple type is a struct");
    };
    let offsets: Vec<(usize, bool)> = s.fields().iter().map(|f| (f.offset, f.packed)).collect();
    assert_eq!(offsets, [(0, false), (1, true), (5, false)]);
    assert_eq!(s.fields()[2].ty, ty("@[:s8 21]"));
}

#[test]
fn ffi_struct_equals_the_tuple_type() {
    let t = ffi_struct(&[":s8", ":s8", ":s8", ":float"]).unwrap();
    assert_eq!(t, ty("[:s8 :s8 :s8 :float]"));
    assert_eq!((t.size(), t.align()), (8, 4));
}

#[test]
fn nested_arrays_keep_their_inner_dimension() {
    let t = ty("@[@[:int 2] 3]");
    assert_eq!((t.size(), t.align()), (24, 4));
    let value = v("@[@[1 2] @[3 4] @[5 6]]");
    let bytes = write_bytes("@[@[:int 2] 3]", "@[@[1 2] @[3 4] @[5 6]]");
    let ints: Vec<i32> =
        bytes.chunks(4).map(|c| i32::from_le_bytes(c.try_into().unwrap())).collect();
    assert_eq!(ints, [1, 2, 3, 4, 5, 6]);
    assert_eq!(ffi::read(&t, &bytes, 0).unwrap(), value);
}

#[test]
fn largest_size_is_accepted_and_one_more_byte_is_not() {
    // (2^31 - 1)^2 * 2 + (2^31 - 1) * 4 + 1 = 2^63 - 1 = MAX_SIZE, all with alignment 1.
    let big = "@[@[:u8 2147483647] 2147483647]";
    let mid = "@[:u8 2147483647]";
    let fields = format!("{big} {big} {mid} {mid} {mid} {mid} :u8");
    let t = ty(&format!("[{fields}]"));
    assert_eq!(t.size(), MAX_SIZE);
    // One more byte, or a field whose alignment would need padding past MAX_SIZE.
    for extra in [":u8", ":u16", "[:u8]"] {
        let msg = type_error(&format!("[{fields} {extra}]"));
        assert!(msg.contains("too large"), "{extra}: {msg}");
    }
}

// ---------------------------------------------------------------------------------------
// round trips (spec §9.2) and ffi/write examples (spec §4)

#[test]
fn test_janet_round_trips() {
    for (t, values) in [
        (":bool", &["true", "false"][..]),
        (":void", &["nil", "nil"]),
        (":s8", &["10", "0", "-10"]),
        (":u8", &["10", "0"]),
        (":s16", &["10", "0", "-12312"]),
        (":u16", &["10", "0"]),
        (":u32", &["0", "10", "0xFFFF7777"]),
        (":s32", &["0x7FFF7777", "0", "-1234567"]),
    ] {
        for value in values {
            assert_round_trip(&ty(t), &v(value));
        }
    }
    let s = ffi_struct(&[":s8", ":s8", ":s8", ":float"]).unwrap();
    assert_round_trip(&s, &v("[1 3 5 123.5]"));
    assert_round_trip(&s, &v("[-1 -3 -5 -123.5]"));
}

#[test]
fn void_writes_nothing() {
    assert_eq!(write_bytes(":void", "nil"), b"");
    assert_eq!(ffi::read(&ty(":void"), b"", 0).unwrap(), Value::Nil);
}

#[test]
fn write_examples_of_spec_4() {
    // (ffi/write :u16 258)
    assert_eq!(write_bytes(":u16", "258"), [0x02, 0x01]);

    // (def b @"xyz") (ffi/write :u16 258 b)
    let b = buffer(b"xyz");
    let out = ffi::write(&ty(":u16"), &v("258"), Some(&b), None).unwrap();
    assert!(out.same_as(&b), "ffi/write returns the buffer it was given");
    assert_eq!(b.to_vec(), b"xyz\x02\x01");

    // (ffi/write :u8 65 b 1)
    ffi::write(&ty(":u8"), &v("65"), Some(&b), Some(1)).unwrap();
    assert_eq!(b.to_vec(), b"xAz\x02\x01");

    // (ffi/write [:u8 :u16] [1 2])
    assert_eq!(write_bytes("[:u8 :u16]", "[1 2]"), [1, 0, 2, 0]);
}

#[test]
fn write_zeroes_padding_it_overwrites() {
    let b = buffer(&[0xff; 6]);
    ffi::write(&ty("[:u8 :u16]"), &v("[1 2]"), Some(&b), Some(0)).unwrap();
    assert_eq!(b.to_vec(), [1, 0, 2, 0, 0xff, 0xff]);
    // Writing at the end grows the buffer to index + size.
    ffi::write(&ty("[:u8 :u16]"), &v("[3 4]"), Some(&b), Some(6)).unwrap();
    assert_eq!(b.to_vec(), [1, 0, 2, 0, 0xff, 0xff, 3, 0, 4, 0]);
    // Overlapping the end: the length becomes index + size.
    ffi::write(&ty(":u32"), &v("0x04030201"), Some(&b), Some(8)).unwrap();
    assert_eq!(b.to_vec(), [1, 0, 2, 0, 0xff, 0xff, 3, 0, 1, 2, 3, 4]);
}

#[test]
fn structs_read_as_tuples_and_arrays_as_arrays() {
    let bytes = write_bytes("[:int @[:u8 3]]", "[7 @[1 2 3]]");
    let back = ffi::read(&ty("[:int @[:u8 3]]"), &bytes, 0).unwrap();
    let Value::Tuple(fields) = &back else { panic!("a struct reads as a tuple, got {back}") };
    assert_eq!(fields[0], Value::Number(7.0));
    assert!(matches!(&fields[1], Value::Array(a) if a.len() == 3), "got {}", fields[1]);
    assert_eq!(back.to_string(), "(7 @[1 2 3])");
    // A struct may be written from an array and an array from a tuple.
    assert_eq!(write_bytes("[:int @[:u8 3]]", "@[7 (1 2 3)]"), bytes);
}

#[test]
fn zero_length_arrays_take_an_empty_tuple() {
    assert_eq!(write_bytes("@[:int]", "[]"), b"");
    assert_eq!(write_bytes("@[:int]", "@[]"), b"");
    assert_eq!(ffi::read(&ty("@[:int]"), b"", 0).unwrap(), v("@[]"));
    let t = ty("[:char @[:int]]");
    let bytes = write_bytes("[:char @[:int]]", "[-1 []]");
    assert_eq!(bytes, [0xff, 0, 0, 0]);
    assert_eq!(ffi::read(&t, &bytes, 0).unwrap(), v("(-1 @[])"));
}

#[test]
fn read_at_an_offset() {
    let bytes = [9, 1, 0, 2, 0];
    assert_eq!(ffi::read(&ty("[:u8 :u16]"), &bytes, 1).unwrap(), v("(1 2)"));
    assert_eq!(ffi::read(&ty(":u16"), &bytes, 3).unwrap(), v("2"));
    assert_eq!(ffi::read(&ty("@[:u8]"), &bytes, 5).unwrap(), v("@[]"));
}

/// Janet truncates these with a C cast (`:s8 300` gives 44); jitcall refuses a value
/// outside the type's range (a deliberate difference, see `value.rs`).
#[test]
fn narrow_integers_out_of_range_are_errors() {
    for (t, value, message) in [
        (":s8", "300", "expected 8 bit signed integer, got 300"),
        (":s16", "40000", "expected 16 bit signed integer, got 40000"),
        (":u16", "70000", "can not convert number 70000 to a 16 bit unsigned integer"),
        (":u32", "4294967296", "can not convert number 4294967296 to a 32 bit unsigned integer"),
        (":u8", "\"0x1ff\"", "can not convert string \"0x1ff\" to an 8 bit unsigned integer"),
    ] {
        let msg = write_error(t, &v(value)).to_string();
        assert!(msg.ends_with(message), "{value} as {t}: {msg:?}");
    }
    assert_eq!(write_bytes(":u8", "0xff"), [255]);
}

#[test]
fn sixty_four_bit_integers_read_as_boxes() {
    let t = ty(":s64");
    let bytes = write_bytes(":s64", "\"-9223372036854775808\"");
    assert!(matches!(ffi::read(&t, &bytes, 0).unwrap(), Value::Int(i64::MIN)));
    let bytes = write_bytes(":u64", "18446744073709551615");
    assert!(matches!(ffi::read(&ty(":u64"), &bytes, 0).unwrap(), Value::UInt(u64::MAX)));
    assert_round_trip(&ty(":u64"), &v("18446744073709551615"));
    assert_round_trip(&ty(":s64"), &v("-9007199254740993"));
}

#[test]
fn bool_and_pointer_images() {
    assert_eq!(write_bytes(":bool", "true"), [1]);
    assert_eq!(write_bytes(":bool", "false"), [0]);
    assert_eq!(ffi::read(&ty(":bool"), &[2], 0).unwrap(), Value::Bool(true));
    let null = write_bytes(":ptr", "nil");
    assert_eq!(null, vec![0; std::mem::size_of::<usize>()]);
    assert_eq!(ffi::read(&ty(":ptr"), &null, 0).unwrap(), Value::Nil);
    let b = buffer(b"data");
    let image = ffi::write(&ty(":ptr"), &Value::Buffer(b.clone()), None, None).unwrap();
    let back = ffi::read(&ty(":ptr"), &image.to_vec(), 0).unwrap();
    assert_eq!(back, Value::Pointer(b.data_ptr()));
}

// ---------------------------------------------------------------------------------------
// type descriptor errors (spec §1.1)

#[test]
fn unknown_keyword_is_an_error() {
    assert_eq!(type_error(":nope"), "unknown machine type nope");
    assert_eq!(type_error(":Int"), "unknown machine type Int");
    assert_eq!(type_error("[:int :nope]"), "unknown machine type nope");
    assert_eq!(type_error(":pack"), "unknown machine type pack");
}

#[test]
fn empty_struct_is_an_error() {
    assert_eq!(type_error("[]"), "invalid empty struct");
    assert_eq!(type_error("()"), "invalid empty struct");
    assert_eq!(ffi_struct(&[]).unwrap_err().to_string(), "invalid empty struct");
    // DESIGN.md: a struct without fields is an error (Janet's `(ffi/struct :pack)` is not).
    assert_eq!(type_error("[:pack]"), "invalid empty struct");
    assert_eq!(type_error("[[]]"), "invalid empty struct");
}

#[test]
fn void_field_is_an_error() {
    for text in ["[:void]", "[:int :void]", "[:int :pack :void]", "[:char [:void]]"] {
        let msg = type_error(text);
        assert!(msg.starts_with("bad field type"), "{text}: {msg}");
    }
    let msg = type_error("@[:void 2]");
    assert!(msg.contains("void"), "{msg}");
}

#[test]
fn array_descriptor_of_wrong_length_is_an_error() {
    for text in ["@[]", "@[:int 2 3]"] {
        let msg = type_error(text);
        assert!(msg.starts_with("array type must be of form @[type count], got"), "{text}: {msg}");
    }
    assert_eq!(type_error("@[]"), "array type must be of form @[type count], got @[]");
}

#[test]
fn array_count_must_be_a_non_negative_int32() {
    for (text, got) in [
        ("@[:int -1]", "-1"),
        ("@[:int 1.5]", "1.5"),
        ("@[:int 2147483648]", "2147483648"),
        ("@[:int :x]", ":x"),
        ("@[:int \"3\"]", "\"3\""),
    ] {
        let msg = type_error(text);
        assert!(msg.contains("expected non-negative 32 bit signed integer"), "{text}: {msg}");
        assert!(msg.ends_with(&format!("got {got}")), "{text}: {msg}");
    }
    assert_eq!(ty("@[:u8 2147483647]").size(), 2_147_483_647);
}

#[test]
fn non_type_values_are_bad_native_types() {
    for (text, shown) in [("1", "1"), ("\"int\"", "\"int\""), ("nil", "nil"), ("int", "int")] {
        assert_eq!(type_error(text), format!("bad native type {shown}"), "{text}");
    }
    // Inside a struct or an array too.
    assert_eq!(type_error("[:int 4]"), "bad native type 4");
    assert_eq!(type_error("@[4 4]"), "bad native type 4");
}

#[test]
fn size_overflow_is_an_error() {
    let msg = type_error("@[@[@[:u8 2147483647] 2147483647] 2147483647]");
    assert!(msg.contains("too large"), "{msg}");
    let msg = type_error("@[@[@[@[:double 2147483647] 2147483647] 2147483647] 2]");
    assert!(msg.contains("too large"), "{msg}");
    let big = "@[@[:u8 2147483647] 2147483647]";
    let msg = type_error(&format!("[{big} {big} {big}]"));
    assert!(msg.contains("too large"), "{msg}");
}

#[test]
fn type_nesting_is_limited_to_64_levels() {
    let tuples = |n: usize| format!("{}:int{}", "[".repeat(n), "]".repeat(n));
    let arrays = |n: usize| format!("{}:int{}", "@[".repeat(n), " 1]".repeat(n));
    assert_eq!(ty(&tuples(64)).size(), 4);
    assert_eq!(ty(&arrays(64)).size(), 4);
    for text in [tuples(65), arrays(65), tuples(200)] {
        let msg = type_error(&text);
        assert!(msg.contains("deeper than 64"), "{msg}");
    }
    // Mixed: 32 struct levels around 33 array levels.
    let mixed = format!("{}{}{}", "[".repeat(32), arrays(33), "]".repeat(32));
    assert!(type_error(&mixed).contains("deeper than 64"));
}

#[test]
fn deep_descriptor_values_stop_at_the_nesting_limit() {
    // The reader stops at 256 levels, but a runtime may build a descriptor of any depth.
    // Checking it must take bounded stack: stop at 65 levels, not recurse to the bottom.
    run_isolated("deep_descriptor_values_stop_at_the_nesting_limit", || {
        let check = || {
            for array in [false, true] {
                let desc = nested(100_000, Value::keyword("int"), array);
                let result = ffi::native_type(&desc).map_err(|e| e.to_string());
                drop_nested(desc);
                match result {
                    Err(msg) => assert!(msg.contains("deeper than 64"), "{msg}"),
                    Ok(t) => panic!("a type 100000 levels deep: {t}"),
                }
            }
        };
        // A fixed, ordinary stack size, whatever RUST_MIN_STACK says.
        let worker = std::thread::Builder::new().stack_size(8 << 20).spawn(check);
        worker.expect("spawn a thread").join().expect("the check panicked");
    });
}

// ---------------------------------------------------------------------------------------
// value conversion errors (spec §2.2 - §2.4)

#[test]
fn a_data_error_names_slot_1() {
    let err = write_error(":int", &v("1.5"));
    assert_eq!(err.to_string(), "bad slot #1 (data), expected 32 bit signed integer, got 1.5");
    let Error::Value { path, .. } = &err else { panic!("a value error, got {err:?}") };
    assert_eq!(path.argument, None);
    assert!(path.indices.is_empty());
}

#[test]
fn getter_errors() {
    let two_53_plus_2 = Value::Number(9_007_199_254_740_994.0);
    let cases: Vec<(&str, Value, &str)> = vec![
        // int32 getter (:int8 :int16 :int32)
        (":int", v("1.5"), "expected 32 bit signed integer, got 1.5"),
        (":int", v("3e9"), "expected 32 bit signed integer, got 3000000000"),
        (":s32", v("2147483648"), "expected 32 bit signed integer, got 2147483648"),
        (":s32", v("-2147483649"), "expected 32 bit signed integer, got -2147483649"),
        (":s8", Value::Int(1), "expected 32 bit signed integer, got 1"),
        (":s16", v("\"1\""), "expected 32 bit signed integer, got \"1\""),
        (":short", v("nil"), "expected 32 bit signed integer, got nil"),
        // signed 64-bit getter
        (":s64", v("1.5"), "can not convert number 1.5 to 64 bit signed integer"),
        (
            ":s64",
            two_53_plus_2.clone(),
            "can not convert number 9007199254740994 to 64 bit signed integer",
        ),
        (":ssize", v("\"abc\""), "can not convert string \"abc\" to 64 bit signed integer"),
        (":s64", v("true"), "can not convert boolean true to 64 bit signed integer"),
        // unsigned 64-bit getter (:uint8 :uint16 :uint32 :uint64 :size)
        (":u32", v("-1"), "can not convert number -1 to a 64 bit unsigned integer"),
        (":u8", v("1.5"), "can not convert number 1.5 to a 64 bit unsigned integer"),
        (
            ":u64",
            two_53_plus_2,
            "can not convert number 9007199254740994 to a 64 bit unsigned integer",
        ),
        (":u16", v("\"-1\""), "can not convert string \"-1\" to a 64 bit unsigned integer"),
        (":size", v(":k"), "can not convert keyword :k to a 64 bit unsigned integer"),
        // floats take only numbers
        (":double", Value::Int(1), "expected number, got 1"),
        (":float", v("\"1\""), "expected number, got \"1\""),
        (":r64", v("nil"), "expected number, got nil"),
        // :ptr
        (":ptr", Value::UInt(1), "expected string, symbol, keyword or buffer, got 1"),
        (":ptr", Value::Int(1), "expected string, symbol, keyword or buffer, got 1"),
        (":ptr", v("1"), "expected ffi pointer convertible type, got 1"),
        (":pointer", v("true"), "expected ffi pointer convertible type, got true"),
        (":ptr", v("[1]"), "expected ffi pointer convertible type, got (1)"),
        (":ptr", v("@[]"), "expected ffi pointer convertible type, got @[]"),
        // :string takes only strings
        (":string", v("@\"a\""), "expected string, got @\"a\""),
        (":string", v(":a"), "expected string, got :a"),
        (":string", v("sym"), "expected string, got sym"),
        (":string", v("nil"), "expected string, got nil"),
        (":string", v("\"a\\0b\""), "bytes contain embedded 0s"),
        // :bool and :void
        (":bool", v("nil"), "expected boolean, got nil"),
        (":bool", v("1"), "expected boolean, got 1"),
        (":void", v("1"), "expected nil, got 1"),
        (":void", v("false"), "expected nil, got false"),
    ];
    for (t, value, expected) in cases {
        let msg = write_error(t, &value).to_string();
        assert!(msg.starts_with("bad slot #1"), "{value} as {t}: {msg}");
        assert!(msg.ends_with(expected), "{value} as {t}: {msg:?} should end with {expected:?}");
    }
}

#[test]
fn getters_accept_what_janet_accepts() {
    for (t, value) in [
        (":s8", v("-128")),
        (":int", v("-2147483648")),
        (":int", v("2147483647")),
        (":s64", v("\"0x7fff_ffff_ffff_ffff\"")),
        (":s64", Value::UInt(i64::MAX as u64)),
        (":u64", v("\"18446744073709551615\"")),
        (":u64", v("9007199254740992")),
        (":u8", Value::Int(255)),
        (":double", v("1e300")),
        (":float", v("0.1")),
        (":ptr", v("nil")),
        (":ptr", v("\"text\"")),
        (":ptr", v(":kw")),
        (":ptr", v("sym")),
        (":ptr", v("@\"buf\"")),
        (":ptr", Value::Pointer(Pointer::from_addr(0x1234))),
        (":string", v("\"\"")),
    ] {
        let buf = ffi::write(&ty(t), &value, None, None)
            .unwrap_or_else(|e| panic!("{value} as {t} should convert: {e}"));
        assert_eq!(buf.len(), ty(t).size());
    }
}

#[test]
fn wrong_number_of_struct_fields() {
    let msg = write_error("[:int :int]", &v("[1]")).to_string();
    assert!(msg.ends_with("wrong number of fields in struct, expected 2, got 1"), "{msg}");
    let msg = write_error("[:int :int]", &v("@[1 2 3]")).to_string();
    assert!(msg.ends_with("wrong number of fields in struct, expected 2, got 3"), "{msg}");
    let msg = write_error("[:int]", &v("[]")).to_string();
    assert!(msg.ends_with("wrong number of fields in struct, expected 1, got 0"), "{msg}");
}

#[test]
fn wrong_array_length() {
    let msg = write_error("@[:int 3]", &v("[1 2]")).to_string();
    assert!(msg.ends_with("bad array length, expected 3, got 2"), "{msg}");
    let msg = write_error("@[:int]", &v("[1]")).to_string();
    assert!(msg.ends_with("bad array length, expected 0, got 1"), "{msg}");
}

#[test]
fn aggregates_need_indexed_values() {
    for (t, value, shown) in [
        ("[:int]", "1", "1"),
        ("[:int]", "nil", "nil"),
        ("[:int]", "\"ab\"", "\"ab\""),
        ("[:u8 :u8]", "@\"ab\"", "@\"ab\""),
        ("@[:int 1]", ":k", ":k"),
    ] {
        let msg = write_error(t, &v(value)).to_string();
        assert!(msg.ends_with(&format!("expected array or tuple, got {shown}")), "{t}: {msg}");
    }
}

#[test]
fn nested_errors_name_their_path() {
    let err = write_error("[:int [:int :int]]", &v("[1 [2 1.5]]"));
    let msg = err.to_string();
    assert!(msg.contains("[1], [1]"), "{msg}");
    assert!(msg.ends_with("expected 32 bit signed integer, got 1.5"), "{msg}");
    let Error::Value { path, .. } = &err else { panic!("a value error, got {err:?}") };
    assert_eq!(path.indices, [1, 1]);

    let err = write_error("@[[:u8 @[:s8 2]] 2]", &v("[[1 [2 3]] [4 [5 6.5]]]"));
    let Error::Value { path, .. } = &err else { panic!("a value error, got {err:?}") };
    assert_eq!(path.indices, [1, 1, 1], "{err}");
    assert!(err.to_string().ends_with("got 6.5"), "{err}");

    let err = write_error("[:int [:int :int]]", &v("[1 [2]]"));
    let Error::Value { path, .. } = &err else { panic!("a value error, got {err:?}") };
    assert_eq!(path.indices, [1], "{err}");
    assert!(err.to_string().ends_with("expected 2, got 1"), "{err}");
}

#[test]
fn a_failed_write_leaves_the_buffer_unchanged() {
    let b = buffer(b"abc");
    let err = ffi::write(&ty("[:u8 :int]"), &v("[1 1.5]"), Some(&b), None).unwrap_err();
    assert!(err.to_string().contains("expected 32 bit signed integer"), "{err}");
    assert_eq!(b.to_vec(), b"abc");
    let err = ffi::write(&ty("[:u8 :int]"), &v("[1 1.5]"), Some(&b), Some(0)).unwrap_err();
    assert!(err.to_string().contains("expected 32 bit signed integer"), "{err}");
    assert_eq!(b.to_vec(), b"abc");
}

// ---------------------------------------------------------------------------------------
// memory errors (spec §4)

#[test]
fn write_past_the_end_is_out_of_bounds() {
    let b = buffer(b"abc");
    for index in [4, 100, usize::MAX] {
        let err = ffi::write(&ty(":u8"), &v("1"), Some(&b), Some(index)).unwrap_err();
        assert_eq!(err.to_string(), "index out of bounds", "index {index}");
    }
    assert_eq!(b.to_vec(), b"abc");
    // index == length appends.
    ffi::write(&ty(":u8"), &v("100"), Some(&b), Some(3)).unwrap();
    assert_eq!(b.to_vec(), b"abcd");
}

#[test]
fn read_past_the_end_is_out_of_range() {
    for (t, bytes, offset) in [
        (":int", &b"abc"[..], 0),
        (":u8", b"", 0),
        (":u16", b"abc", 2),
        (":u8", b"abc", 4),
        (":u8", b"abc", usize::MAX),
        ("@[:u8]", b"abc", 4),
        ("@[@[:u8 2147483647] 2147483647]", b"abc", 0),
    ] {
        let err = ffi::read(&ty(t), bytes, offset).unwrap_err();
        assert_eq!(err.to_string(), "read out of range", "{t} at {offset}");
    }
}

#[test]
fn reading_a_string_from_bytes_is_an_error() {
    let ptr_size = std::mem::size_of::<usize>();
    let bytes = vec![0u8; 4 * ptr_size];
    for t in [":string", "[:int :string]", "@[:string 2]", "[:u8 [@[:string 1]]]"] {
        let err = ffi::read(&ty(t), &bytes, 0).unwrap_err();
        assert!(err.to_string().contains("char*"), "{t}: {err}");
    }
}

// ---------------------------------------------------------------------------------------
// malloc, free, pointer-buffer, raw reads (spec §4)

#[test]
fn malloc_of_zero_is_none_and_free_of_null_is_a_no_op() {
    assert!(ffi::malloc(0).unwrap().is_none());
    // SAFETY: freeing NULL is allowed and does nothing.
    unsafe { ffi::free(Pointer::NULL) };
}

#[test]
fn malloc_write_read_free_round_trip() {
    let t = ty("[:u8 :double @[:s16 3]]");
    assert_eq!(t.size(), 24);
    let p = ffi::malloc(t.size()).unwrap().expect("a non-empty allocation");
    // SAFETY: `p` holds 24 bytes from malloc that stay allocated until the `free` at the
    // end, and `buf` is dropped before that; nothing else touches them meanwhile.
    let buf = unsafe { ffi::pointer_buffer(p, t.size(), 0, 0) }.unwrap();
    assert!(buf.is_empty());
    assert_eq!(buf.data_ptr(), p);
    let value = v("[200 -2.25 @[1 -2 3]]");
    let out = ffi::write(&t, &value, Some(&buf), None).unwrap();
    assert!(out.same_as(&buf));
    assert_eq!(buf.len(), 24);
    assert_eq!(ffi::read(&t, &buf.to_vec(), 0).unwrap(), value);
    drop(buf);
    // SAFETY: the 24 bytes at `p` are allocated and were all written (padding zeroed);
    // the type holds no `:string`.
    let back = unsafe { ffi::read_ptr(&t, p, 0) }.unwrap();
    assert_eq!(back, value);
    // SAFETY: `p + 8` is within the 24 bytes, and holds the double.
    let d = unsafe { ffi::read_ptr(&ty(":double"), p, 8) }.unwrap();
    assert_eq!(d, v("-2.25"));
    // SAFETY: `p` came from `ffi::malloc`, is freed once, and no buffer over it is alive.
    unsafe { ffi::free(p) };
}

#[test]
fn pointer_buffer_count_must_not_exceed_capacity() {
    let p = ffi::malloc(4).unwrap().expect("a non-empty allocation");
    // SAFETY: `p` holds 4 bytes until the `free` below; the call fails before making a
    // buffer.
    let err = unsafe { ffi::pointer_buffer(p, 4, 5, 0) }.unwrap_err();
    assert_eq!(err.to_string(), "capacity < count");
    // SAFETY: `p` came from `ffi::malloc` and is freed once.
    unsafe { ffi::free(p) };
}

#[test]
fn pointer_buffer_cannot_grow_and_does_not_free_its_memory() {
    let p = ffi::malloc(4).unwrap().expect("a non-empty allocation");
    // SAFETY: the 4 bytes at `p` stay allocated until the `free` at the end, after `buf`
    // and its clone are dropped.
    let buf = unsafe { ffi::pointer_buffer(p, 4, 0, 0) }.unwrap();
    ffi::write(&ty(":u16"), &v("0x0201"), Some(&buf), None).unwrap();
    ffi::write(&ty(":u16"), &v("0x0403"), Some(&buf), None).unwrap();
    assert_eq!(buf.to_vec(), [1, 2, 3, 4]);

    let err = ffi::write(&ty(":u8"), &v("5"), Some(&buf), None).unwrap_err();
    assert_eq!(err.to_string(), "buffer cannot reallocate foreign memory");
    let err = ffi::write(&ty(":u16"), &v("5"), Some(&buf), Some(3)).unwrap_err();
    assert_eq!(err.to_string(), "buffer cannot reallocate foreign memory");
    assert_eq!(buf.to_vec(), [1, 2, 3, 4], "a failed write changes nothing");
    // Overwriting inside the capacity still works.
    ffi::write(&ty(":u8"), &v("9"), Some(&buf), Some(3)).unwrap();

    let clone = buf.clone();
    drop(buf);
    drop(clone);
    // SAFETY: dropping a pointer-buffer frees nothing, so the 4 bytes are still allocated.
    let back = unsafe { ffi::read_ptr(&ty("@[:u8 4]"), p, 0) }.unwrap();
    assert_eq!(back, v("@[1 2 3 9]"));
    // SAFETY: `p` came from `ffi::malloc`, is freed once, and no buffer over it is alive.
    unsafe { ffi::free(p) };
}

#[test]
fn pointer_buffer_count_and_offset() {
    let p = ffi::malloc(8).unwrap().expect("a non-empty allocation");
    // SAFETY: the 8 bytes at `p` stay allocated until the `free` at the end, after every
    // buffer over them is dropped.
    let whole = unsafe { ffi::pointer_buffer(p, 8, 0, 0) }.unwrap();
    ffi::write(&ty("@[:u8 8]"), &v("[1 2 3 4 5 6 7 8]"), Some(&whole), None).unwrap();
    drop(whole);

    // Bytes 2..8 of the block, the first two of which are the contents.
    // SAFETY: `p + 2 .. p + 8` is inside the allocation.
    let window = unsafe { ffi::pointer_buffer(p, 6, 2, 2) }.unwrap();
    assert_eq!(window.to_vec(), [3, 4]);
    ffi::write(&ty(":u16"), &v("0xBBAA"), Some(&window), None).unwrap();
    assert_eq!(window.to_vec(), [3, 4, 0xAA, 0xBB]);
    drop(window);

    // A negative offset: `(p + 4) - 4` is `p` again.
    let end = Pointer::from_addr(p.addr() + 4);
    // SAFETY: `p .. p + 8` is the allocation.
    let back = unsafe { ffi::pointer_buffer(end, 8, 8, -4) }.unwrap();
    assert_eq!(back.to_vec(), [1, 2, 3, 4, 0xAA, 0xBB, 7, 8]);
    drop(back);
    // SAFETY: `p` came from `ffi::malloc`, is freed once, and no buffer over it is alive.
    unsafe { ffi::free(p) };
}

#[test]
fn read_ptr_of_string_follows_a_char_pointer_slot() {
    let text = Value::string("hello, world");
    let slot_size = ffi::size(&ty(":ptr"));
    let p = ffi::malloc(2 * slot_size).unwrap().expect("a non-empty allocation");
    // SAFETY: the two pointer slots at `p` stay allocated until the `free` at the end,
    // after `slots` is dropped.
    let slots = unsafe { ffi::pointer_buffer(p, 2 * slot_size, 0, 0) }.unwrap();
    ffi::write(&ty(":ptr"), &text, Some(&slots), None).unwrap();
    ffi::write(&ty(":ptr"), &v("nil"), Some(&slots), None).unwrap();
    drop(slots);

    // SAFETY: slot 0 points to the bytes of `text` (a NUL-terminated `Str`), which is alive.
    let s = unsafe { ffi::read_ptr(&ty(":string"), p, 0) }.unwrap();
    assert_eq!(s, Value::string("hello, world"));
    // SAFETY: slot 1 is NULL.
    let null =
        unsafe { ffi::read_ptr(&ty(":string"), p, isize::try_from(slot_size).unwrap()) }.unwrap();
    assert_eq!(null, Value::Nil);
    // SAFETY: as above: slot 0 points to `text`, slot 1 is NULL.
    let both = unsafe { ffi::read_ptr(&ty("@[:string 2]"), p, 0) }.unwrap();
    assert_eq!(both, v("@[\"hello, world\" nil]"));
    // SAFETY: slot 0 holds an address; reading it as `:ptr` follows nothing.
    let raw = unsafe { ffi::read_ptr(&ty(":ptr"), p, 0) }.unwrap();
    let Value::String(s) = &text else { unreachable!() };
    assert_eq!(raw, Value::Pointer(Pointer::from_ptr(s.as_ptr())));
    // SAFETY: `p` came from `ffi::malloc`, is freed once, and no buffer over it is alive.
    unsafe { ffi::free(p) };
}

#[test]
fn read_c_string_reads_the_string_itself() {
    let s = Str::from("a C string");
    // SAFETY: a `Str` is NUL-terminated and alive for the call.
    let back = unsafe { ffi::read_c_string(Pointer::from_ptr(s.as_ptr())) };
    assert_eq!(back, Value::string("a C string"));
    let bytes = b"stops\0here";
    // SAFETY: `bytes` holds a NUL within its length.
    let back = unsafe { ffi::read_c_string(Pointer::from_ptr(bytes.as_ptr())) };
    assert_eq!(back, Value::string("stops"));
    // SAFETY: NULL is allowed and reads as nil.
    assert_eq!(unsafe { ffi::read_c_string(Pointer::NULL) }, Value::Nil);
}

// ---------------------------------------------------------------------------------------
// type syntax through the reader

#[test]
fn type_syntax_variants_read_the_same_type() {
    assert_eq!(ty("(:int :char)"), ty("[:int :char]"));
    assert_eq!(ty("@(:int 4)"), ty("@[:int 4]"));
    assert_eq!(ty("[:int, :char] # a comment"), ty("[:int :char]"));
    assert_eq!(ty("  [ :int\n  :pack-all :char ]  "), ty("[:int :pack-all :char]"));
    assert_eq!(ty("@[:int 0x10]"), ty("@[:int 16]"));
    assert_eq!(ty("[:char :int8 :s8]"), ty("[:s8 :s8 :s8]"));
    // Display gives back Janet syntax that reads as the same type.
    for text in [
        "[:int :pack :char :double]",
        "[:int :pack-all :char]",
        "[:char :pack :int @[:char 21]]",
        "@[[:int :char] 3]",
        "[:char @[:int]]",
        ":void",
    ] {
        let t = ty(text);
        assert_eq!(ty(&t.to_string()), t, "{text} printed as {t}");
    }
}
