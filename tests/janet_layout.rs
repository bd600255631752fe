//! Types, as Janet's FFI suite and examples check them: spec §9.1 items 2-11 (sizes,
//! alignments, `ffi/struct`), the layout rules of §1.3-§1.5, and every error path of the
//! type decoder (§1.1). Types are written in Janet syntax and read with `syntax::read`.

mod common;

use common::janet::*;
use jitcall::limits::MAX_SIZE;
use jitcall::{ffi, Type, Value};

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
