//! Values of the wide scalars and unions through `ffi::write` / `ffi::read`: their images
//! byte by byte (as gcc lays them out on x86-64 and AArch64 Linux) and every error path.

use jitcall::ffi;
use jitcall::Type;
use jitcall::{syntax, Value};

fn ty(text: &str) -> Type {
    ffi::native_type(&syntax::read(text).unwrap()).unwrap_or_else(|e| panic!("{text}: {e}"))
}
fn val(text: &str) -> Value {
    syntax::read(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}
fn image(t: &str, v: &str) -> Vec<u8> {
    ffi::write(&ty(t), &val(v), None, None).unwrap_or_else(|e| panic!("{t} {v}: {e}")).to_vec()
}
fn error(t: &str, v: &str) -> String {
    ffi::write(&ty(t), &val(v), None, None).expect_err(v).to_string()
}
fn round_trip(t: &str, v: &str) -> Value {
    ffi::read(&ty(t), &image(t, v), 0).unwrap()
}

#[test]
fn int128_images_and_values_are_exact() {
    let max = "170141183460469231731687303715884105727";
    let bytes = image(":int128", max);
    assert_eq!(bytes, i128::MAX.to_le_bytes());
    assert_eq!(round_trip(":int128", max), Value::Int128(i128::MAX));
    assert_eq!(round_trip(":s128", "-1"), Value::Int128(-1));
    assert_eq!(image(":u128", "0xffffffffffffffffffffffffffffffff"), u128::MAX.to_le_bytes());
    assert_eq!(round_trip(":uint128", "\"12\""), Value::UInt128(12));
}

#[test]
fn int128_out_of_range_is_an_error() {
    let err = error(":int128", "170141183460469231731687303715884105728");
    assert!(err.ends_with("can not convert uint128 170141183460469231731687303715884105728 to 128 bit signed integer"), "{err}");
    let err = error(":uint128", "-1");
    assert!(err.ends_with("can not convert number -1 to a 128 bit unsigned integer"), "{err}");
    let err = error(":int128", "1.5");
    assert!(err.contains("to 128 bit signed integer"), "{err}");
}

#[test]
fn long_double_is_a_number() {
    let bytes = image(":long-double", "1.5");
    assert_eq!(bytes.len(), 16);
    if cfg!(target_arch = "x86_64") {
        // x87: significand 0xC000... , exponent 0x3FFF, 6 bytes of zero padding.
        assert_eq!(bytes, [0, 0, 0, 0, 0, 0, 0, 0xC0, 0xFF, 0x3F, 0, 0, 0, 0, 0, 0]);
    }
    assert_eq!(round_trip(":ldouble", "-0.1"), Value::Number(-0.1));
    assert!(error(":long-double", "\"x\"").ends_with("expected number, got \"x\""));
}

#[test]
fn complex_numbers_are_pairs() {
    let bytes = image(":complex-float", "[1 -2]");
    assert_eq!(bytes[..4], 1f32.to_le_bytes());
    assert_eq!(bytes[4..], (-2f32).to_le_bytes());
    assert_eq!(round_trip(":complex-double", "(0.5 3)"), val("(0.5 3)"));
    assert_eq!(round_trip(":complex-long-double", "[0.25 -8]"), val("(0.25 -8)"));
    let err = error(":complex-double", "[1 2 3]");
    assert!(err.ends_with("expected a complex number (re im), got (1 2 3)"), "{err}");
    let err = error(":complex-double", "[1 :x]");
    assert!(err.contains("expected number, got :x"), "{err}");
}

#[test]
fn a_union_is_written_from_index_and_value_and_read_as_every_view() {
    let u = "[:union :int :float [:char :char]]";
    assert_eq!(ty(u).size(), 4);
    let bytes = image(u, "[1 1.0]");
    assert_eq!(bytes, 1f32.to_le_bytes());
    assert_eq!(round_trip(u, "[1 1.0]"), val("(1065353216 1 (0 0))"));
    // Every other byte zero: member 2 covers two of the four.
    assert_eq!(image(u, "[2 [1 2]]"), [1, 2, 0, 0]);
    // From its bytes, a string or a buffer of exactly its size.
    assert_eq!(image(u, "\"abcd\""), *b"abcd");
    assert_eq!(image(u, "@\"wxyz\""), *b"wxyz");
    // Inside a struct, and a struct inside it.
    let s = "[:char [:union :double [:int :int]] :char]";
    assert_eq!(ty(s).size(), 24);
    let d = Value::Number(f64::from_bits(7 | 8 << 32));
    let inner = Value::Tuple(vec![d, val("(7 8)")]);
    let expected = Value::Tuple(vec![Value::Number(1.0), inner, Value::Number(2.0)]);
    assert_eq!(round_trip(s, "[1 [1 [7 8]] 2]"), expected);
}

#[test]
fn union_errors_say_what_is_wrong() {
    let u = "[:union :int :float]";
    let err = error(u, "[2 1]");
    assert!(err.ends_with("bad union field index 2, expected an integer from 0 to 1"), "{err}");
    let err = error(u, "[-1 1]");
    assert!(err.contains("bad union field index -1"), "{err}");
    let err = error(u, "\"abc\"");
    assert!(
        err.ends_with("union [:union :int32 :float] is 4 bytes, got a string of 3 bytes"),
        "{err}"
    );
    let err = error(u, "[0]");
    assert!(err.contains("expected [index value], or a string or buffer of 4 bytes"), "{err}");
    let err = error(u, "[0 1.5]");
    assert!(err.contains("expected 32 bit signed integer, got 1.5"), "{err}");
    let err = ffi::native_type(&val("[:union]")).unwrap_err().to_string();
    assert_eq!(err, "invalid empty union");
    let err = ffi::native_type(&val("[:union :void]")).unwrap_err().to_string();
    assert_eq!(err, "bad field type void");
}

#[test]
fn union_layout_and_display() {
    let t = ty("[:union :char @[:int 3] :pack-all]");
    assert_eq!((t.size(), t.align()), (12, 1));
    let t = ty("[:union :char :pack :double :short]");
    assert_eq!((t.size(), t.align()), (8, 2));
    assert_eq!(ty("[:union :int [:ldouble]]").to_string(), "[:union :int32 [:long-double]]");
    assert_ne!(ty("[:union :int :float]"), ty("[:int :float]"));
}
