//! Integer literals are exact at any size, and a value outside its type's range is an
//! error, never a wrapped or truncated one: through the reader and `Value` conversions
//! here (the tool's side is in `cli.rs`).

use jitcall::{ffi, syntax, Type, Value};

fn ty(text: &str) -> Type {
    ffi::native_type(&syntax::read(text).unwrap()).unwrap()
}

fn read(text: &str) -> Value {
    syntax::read(text).unwrap_or_else(|e| panic!("{text:?} does not read: {e}"))
}

/// Every integer type with its smallest and largest value.
const BOUNDS: &[(&str, i128, i128)] = &[
    (":int8", i8::MIN as i128, i8::MAX as i128),
    (":int16", i16::MIN as i128, i16::MAX as i128),
    (":int32", i32::MIN as i128, i32::MAX as i128),
    (":int64", i64::MIN as i128, i64::MAX as i128),
    (":uint8", 0, u8::MAX as i128),
    (":uint16", 0, u16::MAX as i128),
    (":uint32", 0, u32::MAX as i128),
    (":uint64", 0, u64::MAX as i128),
];

/// Writing `value` as `t` and reading it back gives `value`.
fn round_trips(t: &str, value: &Value) -> Result<(), String> {
    let image = ffi::write(&ty(t), value, None, None).map_err(|e| e.to_string())?;
    let back = ffi::read(&ty(t), &image.to_vec(), 0).unwrap();
    assert_eq!(&back, value, "{value} as {t} reads back as {back}");
    Ok(())
}

#[test]
fn every_integer_type_takes_its_bounds_and_refuses_one_past() {
    for &(t, min, max) in BOUNDS {
        for inside in [min, max, 0] {
            round_trips(t, &read(&inside.to_string()))
                .unwrap_or_else(|e| panic!("{inside} as {t}: {e}"));
        }
        for outside in [min - 1, max + 1] {
            let err = round_trips(t, &read(&outside.to_string()))
                .expect_err(&format!("{outside} as {t} must be an error"));
            assert!(err.contains(&outside.to_string()), "{outside} as {t}: {err}");
        }
    }
}

#[test]
fn hex_literals_and_strings_are_range_checked_too() {
    round_trips(":uint64", &read("0xffff_ffff_ffff_ffff")).unwrap();
    round_trips(":int64", &read("-0x8000_0000_0000_0000")).unwrap();
    assert!(round_trips(":uint64", &read("0x1_0000_0000_0000_0000")).is_err());
    assert!(round_trips(":int64", &read("0x8000_0000_0000_0000")).is_err());
    assert!(round_trips(":uint8", &read("0x100")).is_err());
    let write = |t, v: &str| ffi::write(&ty(t), &Value::string(v), None, None);
    assert!(write(":uint64", "18446744073709551616").is_err());
    assert!(write(":int64", "9223372036854775808").is_err());
    assert!(write(":uint16", "65536").is_err());
    assert!(write(":uint16", "65535").is_ok());
}

/// The two literals of the reliability report: both wrapped before.
#[test]
fn the_reported_literals_are_errors() {
    let err = ffi::write(&ty(":u64"), &read("-9007199254740993"), None, None).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("can not convert core/s64 -9007199254740993 to a 64 bit unsigned integer"),
        "{err}"
    );
    let err = ffi::write(&ty(":int64"), &read("9223372036854775808"), None, None).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("can not convert core/u64 9223372036854775808 to 64 bit signed integer"),
        "{err}"
    );
}

/// Boxes built in Rust are integers like any other: converted when they fit, never
/// reinterpreted.
#[test]
fn integer_boxes_convert_only_when_they_fit() {
    round_trips(":uint64", &Value::Int(5)).unwrap();
    round_trips(":int64", &Value::UInt(i64::MAX as u64)).unwrap();
    round_trips(":uint8", &Value::UInt(255)).unwrap();
    round_trips(":uint32", &Value::Int128(7)).unwrap();
    round_trips(":int64", &Value::UInt128(9)).unwrap();
    for (t, v) in [
        (":uint64", Value::Int(-1)),
        (":int64", Value::UInt(u64::MAX)),
        (":uint8", Value::Int(256)),
        (":uint32", Value::UInt(1 << 32)),
        (":int64", Value::Int128(i128::from(i64::MAX) + 1)),
        (":uint64", Value::UInt128(u128::from(u64::MAX) + 1)),
    ] {
        assert!(round_trips(t, &v).is_err(), "{v} as {t}");
    }
}

#[test]
fn float_literals_follow_janets_rules_without_wrapping() {
    round_trips(":int8", &read("1e2")).unwrap();
    round_trips(":uint16", &read("6.5536e4")).expect_err("65536 is past :uint16");
    round_trips(":int8", &read("1e3")).expect_err("1000 is past :int8");
    round_trips(":int32", &read("1.5")).expect_err("not an integer");
    round_trips(":uint64", &read("1.5")).expect_err("not an integer");
    // Janet's 64-bit getters take numbers only up to 2^53, even integral ones.
    round_trips(":int64", &read("1e18")).expect_err("a number past 2^53");
    round_trips(":uint64", &read("9007199254740992.0")).unwrap();
    round_trips(":uint8", &read("-0")).unwrap();
}

#[test]
fn literals_past_64_bits_read_exactly() {
    for (text, value) in [
        ("9007199254740992", Value::Number(9007199254740992.0)),
        ("9007199254740993", Value::Int(9007199254740993)),
        ("-9007199254740993", Value::Int(-9007199254740993)),
        ("9223372036854775808", Value::UInt(1 << 63)),
        ("-9223372036854775808", Value::Int(i64::MIN)),
        ("-9223372036854775809", Value::Int128(i128::from(i64::MIN) - 1)),
        ("18446744073709551616", Value::Int128(1 << 64)),
        ("0x1_0000_0000_0000_0000", Value::Int128(1 << 64)),
        ("-170141183460469231731687303715884105728", Value::Int128(i128::MIN)),
        ("340282366920938463463374607431768211455", Value::UInt128(u128::MAX)),
    ] {
        let got = read(text);
        assert!(
            matches!(
                (&got, &value),
                (Value::Number(_), Value::Number(_))
                    | (Value::Int(_), Value::Int(_))
                    | (Value::UInt(_), Value::UInt(_))
                    | (Value::Int128(_), Value::Int128(_))
                    | (Value::UInt128(_), Value::UInt128(_))
            ),
            "{text} reads as {got:?}"
        );
        assert_eq!(got, value, "{text}");
        if !text.starts_with("0x") {
            assert_eq!(got.to_string(), text);
        }
    }
    for text in [
        "340282366920938463463374607431768211456",
        "-170141183460469231731687303715884105729",
        "0x1_0000_0000_0000_0000_0000_0000_0000_0000",
    ] {
        let err = syntax::read(text).expect_err(text).to_string();
        assert!(err.contains("too large"), "{text}: {err}");
    }
    // Inside a tuple too: the reader is exact everywhere.
    assert_eq!(read("[18446744073709551616]"), Value::Tuple(vec![Value::Int128(1 << 64)]));
}
