//! Values, as Janet's FFI suite and examples check them: the round trips of spec §9.2, the
//! `ffi/write` / `ffi/read` examples of §4, and every error path of the value conversions
//! (§2.2-§2.4).

mod common;

use common::janet::*;
use jitcall::{ffi, Error, Pointer, Value};

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
